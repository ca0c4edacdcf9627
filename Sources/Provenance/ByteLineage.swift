// Byte-range lineage: per-process taint summaries composed across pipes, files and
// sockets at byte offsets.
//
// A summary says "output bytes [a, b) of write event W came from input bytes [c, d) of read
// event R" in event coordinates. `EventPlacement` puts each event's bytes in an object's
// byte space, and the byte spaces join the processes:
//   - in a pipe or socket stream every position is written once, so the bytes a read got
//     at stream positions [p, q) are the bytes the writes at those positions put there;
//   - in a file, the bytes a read got at offsets [p, q) are the ones the latest earlier
//     write to each offset put there (truncation cuts), or were there before the recording.
// Walking those two links alternately (read bytes <- write bytes <- read bytes of the
// writing process, by its summary) answers "which bytes of which inputs did these output
// bytes come from", and the same links walked forward answer "where did these bytes go".

import Trace

/// Where some of the bytes in a byte-range lineage came from (backward) or went (forward):
/// an object version and a range of its bytes.
public struct ByteEndpoint: Codable, Equatable, Hashable, Sendable {
    /// What kind of end this is.
    public enum Kind: String, Codable, Sendable {
        /// Object content: bytes that were there before the recording or came from outside
        /// it (backward), or bytes an output received (forward).
        case content
        /// Facts about the object (getdents, stat) rather than its bytes.
        case metadata
        /// Truncated away: these offsets hold no earlier bytes.
        case cut
        /// The event's object offset is unknown: any bytes of the object may be meant.
        case unknownOffset
        /// The process that wrote these bytes has no completed taint summary: lineage
        /// stops here (the coarse graph still answers).
        case unrefined
        /// The bytes came from an input event that is not an object read (e.g. argv).
        case notAnObject
    }
    public var node: Int
    public var kind: Kind
    /// Object byte range, when known; for `notAnObject`, the byte range within the event
    /// (`note` names it).
    public var start: Int64?
    public var end: Int64?
    /// Why the walk stopped here, for the kinds that need a word.
    public var note: String?
    /// True when every way the walk found between the target's bytes and these went through
    /// an address dependency somewhere (a load at an input-derived address: a table
    /// lookup), never by value alone; nil otherwise. Bytes also reached by value are not
    /// repeated here.
    public var addressOnly: Bool?

    public init(node: Int, kind: Kind, start: Int64? = nil, end: Int64? = nil, note: String? = nil, addressOnly: Bool? = nil) {
        self.node = node; self.kind = kind; self.start = start; self.end = end; self.note = note; self.addressOnly = addressOnly
    }
}

/// One hop of a byte-range lineage: output bytes of one object version that a process
/// (or the kernel) made from input bytes of another.
public struct ByteStep: Codable, Equatable, Hashable, Sendable {
    /// The output object version and its byte range (nil bounds: offset unknown).
    public var output: Int
    public var outputStart: Int64?
    public var outputEnd: Int64?
    /// The input object version and its byte range.
    public var input: Int
    public var inputStart: Int64?
    public var inputEnd: Int64?
    /// The process node that moved the bytes.
    public var process: Int
    /// The write (or copy) event and the read event of the hop.
    public var outputEvent: UInt64
    public var inputEvent: UInt64
    /// `value`, `address` (only through a table lookup), `metadata` or `kernel copy`.
    public var flow: String
}

/// The answer to `why --bytes` / `impact --bytes`.
public struct ByteLineage: Codable, Equatable, Sendable {
    /// `why` (backward) or `impact` (forward).
    public var direction: String
    /// The node asked about and its byte range.
    public var target: Int
    public var start: Int64
    public var end: Int64
    /// Backward: the inputs the bytes came from. Forward: the outputs they reached.
    public var endpoints: [ByteEndpoint]
    /// Every hop on the way, across processes.
    public var steps: [ByteStep]
    /// True when the walk stopped at `ByteLineageIndex.depthLimit` or `resultLimit`: the
    /// answer is a part of the lineage, not all of it (nil: complete).
    public var truncated: Bool?
}

/// The placements, units and summaries of one refined trace, indexed for byte-range
/// lineage. Built once per query or refinement; queries are cheap after that.
public final class ByteLineageIndex {
    let nodes: [Node]
    /// Sorted by sequence.
    let placements: [EventPlacement]
    let units: [ReplayUnitInfo]
    /// Completed summaries by unit index.
    let refinedUnits: [Int: TaintSummary]
    /// Why a unit is not refined, for the ones that are not.
    let unrefinedReason: [Int: String]

    var bySequence: [UInt64: [Int]] = [:]
    var flowsByOutput: [UInt64: [TaintFlow]] = [:]
    var flowsByInput: [UInt64: [TaintFlow]] = [:]
    /// Coarsened flows over a span of input events (`TaintFlow.throughInput`), by first input.
    var spanFlows: [TaintFlow] = []
    /// File streams: writes and resets in sequence order.
    var fileOps: [Int: [Int]] = [:]
    /// Pipe and socket streams: writes with a known position, by position.
    var streamWrites: [Int: [Int]] = [:]
    /// Writes whose position is unknown, per stream.
    var unplacedWrites: [Int: [Int]] = [:]
    /// Reads per stream, in sequence order.
    var readsByStream: [Int: [Int]] = [:]
    var fileStreams = Set<Int>()
    var streamOfNode: [Int: Int] = [:]
    var firstSequenceOfNode: [Int: UInt64] = [:]
    /// Nodes of each entity by version.
    var versionsOfEntity: [String: [Int]] = [:]
    /// For each execve event whose strings a refined image labelled: the unit that sank
    /// them (the exec'ing image: the previous unit of the same process), -1 for the
    /// recorded command's own exec.
    var execSinker: [UInt64: Int] = [:]

    /// Most hops a walk follows before it stops (lineage through a long pipeline).
    public var depthLimit = 256
    /// Most endpoints or steps one answer collects (a byte-precise encoder of 10^5 bytes
    /// has a hop per byte).
    public var resultLimit = 400_000

    /// - Parameters:
    ///   - summaries: the units' taint summaries; only completed ones are used, matched to
    ///     units by pid, tid and start sequence.
    public init(nodes: [Node], placements: [EventPlacement], units: [ReplayUnitInfo], summaries: [TaintSummary]) {
        self.nodes = nodes
        self.placements = placements.sorted { ($0.sequence, $0.role.rawValue) < ($1.sequence, $1.role.rawValue) }
        self.units = units
        let matched = SummaryMatch(units: units, summaries: summaries)
        refinedUnits = matched.completed
        unrefinedReason = matched.reasons
        for summary in refinedUnits.values {
            for f in summary.flows {
                flowsByOutput[f.output, default: []].append(f)
                if f.lastInput != f.input { spanFlows.append(f) } else { flowsByInput[f.input, default: []].append(f) }
            }
        }
        for n in nodes where n.kind != .process && n.kind != .agent { versionsOfEntity[n.entity, default: []].append(n.id) }
        for (u, summary) in refinedUnits {
            guard let execve = summary.execveSequence else { continue }
            let earlier = units.indices.filter { units[$0].pid == units[u].pid && units[$0].startSequence < units[u].startSequence }
            // -1: the recorded command's own exec; its strings came from outside the recording.
            execSinker[execve] = earlier.max(by: { units[$0].startSequence < units[$1].startSequence }) ?? -1
        }
        for (i, p) in self.placements.enumerated() {
            bySequence[p.sequence, default: []].append(i)
            if streamOfNode[p.object] == nil { streamOfNode[p.object] = p.stream }
            if firstSequenceOfNode[p.object] == nil { firstSequenceOfNode[p.object] = p.sequence }
            let isFile = nodes.indices.contains(p.object) && nodes[p.object].kind == .file && p.stream >= 0
            if isFile { fileStreams.insert(p.stream) }
            switch p.role {
            case .contentOut, .copyOut, .mapOut, .reset:
                if isFile || p.role == .reset {
                    fileOps[p.stream, default: []].append(i)
                } else if p.offset != nil {
                    streamWrites[p.stream, default: []].append(i)
                } else {
                    unplacedWrites[p.stream, default: []].append(i)
                }
            case .contentIn, .mapIn, .copyIn, .metadataIn:
                readsByStream[p.stream, default: []].append(i)
            case .generated:
                break
            }
        }
        for (s, list) in streamWrites {
            streamWrites[s] = list.sorted { (self.placements[$0].offset ?? 0) < (self.placements[$1].offset ?? 0) }
        }
    }

    // MARK: Origins of stored bytes

    /// Where the bytes at `range` of a byte space were, just before event `before`.
    enum Piece: Hashable {
        /// Written by the output placement `placement`: its event bytes `eventRange`, at
        /// object bytes `objectRange` (nil: the write's offset is unknown, it may have
        /// written them).
        case written(placement: Int, eventRange: Range<Int64>, objectRange: Range<Int64>?)
        /// There before the recording, or put there from outside it.
        case external(Range<Int64>)
        /// Truncated away.
        case cut(Range<Int64>)
    }

    func isFile(_ stream: Int) -> Bool { fileStreams.contains(stream) }

    func origin(stream: Int, range: Range<Int64>, before: UInt64) -> [Piece] {
        guard !range.isEmpty else { return [] }
        var pieces: [Piece] = []
        var remaining = [range]
        if isFile(stream) {
            let ops = fileOps[stream] ?? []
            // The last op before `before`: ops are in sequence order.
            var low = 0, high = ops.count
            while low < high {
                let mid = (low + high) / 2
                if placements[ops[mid]].sequence < before { low = mid + 1 } else { high = mid }
            }
            var i = low - 1
            var possible = 0
            while i >= 0 && !remaining.isEmpty {
                let p = placements[ops[i]]
                i -= 1
                if p.role == .reset {
                    guard let cut = p.offset else { continue }
                    let gone = cut..<Int64.max
                    for r in remaining { if let o = r.clamped(to: gone).nonEmpty { pieces.append(.cut(o)) } }
                    remaining = subtract(remaining, gone)
                    continue
                }
                guard let w = p.objectRange else {
                    // Offset unknown: it may have written any of these bytes; keep looking.
                    if possible < 16 { pieces.append(.written(placement: ops[i + 1], eventRange: 0..<p.length, objectRange: nil)) }
                    possible += 1
                    continue
                }
                for r in remaining {
                    guard let o = r.clamped(to: w).nonEmpty else { continue }
                    pieces.append(.written(placement: ops[i + 1], eventRange: (o.lowerBound - w.lowerBound)..<(o.upperBound - w.lowerBound),
                                           objectRange: o))
                }
                // Stores into a shared mapping may or may not have changed each byte.
                if p.role != .mapOut { remaining = subtract(remaining, w) }
            }
        } else {
            let writes = streamWrites[stream] ?? []
            var low = 0, high = writes.count
            while low < high {
                let mid = (low + high) / 2
                let p = placements[writes[mid]]
                if (p.offset ?? 0) + p.length <= range.lowerBound { low = mid + 1 } else { high = mid }
            }
            var i = low
            while i < writes.count, let o = placements[writes[i]].objectRange, o.lowerBound < range.upperBound {
                if let overlap = range.clamped(to: o).nonEmpty {
                    pieces.append(.written(placement: writes[i],
                                           eventRange: (overlap.lowerBound - o.lowerBound)..<(overlap.upperBound - o.lowerBound),
                                           objectRange: overlap))
                    remaining = subtract(remaining, overlap)
                }
                i += 1
            }
            for w in (unplacedWrites[stream] ?? []).prefix(16) {
                pieces.append(.written(placement: w, eventRange: 0..<placements[w].length, objectRange: nil))
            }
        }
        for r in remaining { pieces.append(.external(r)) }
        return pieces
    }

    // MARK: Backward

    /// Which input bytes the bytes `range` of object version `node` came from, across
    /// every process in between.
    public func backward(node: Int, range: Range<Int64>) -> ByteLineage {
        var walk = Walk()
        if let stream = streamOfNode[node] {
            let before = isFile(stream) ? endOfVersion(node) : UInt64.max
            trace(stream: stream, range: range, before: before, node: node, depth: 0, &walk)
        } else {
            walk.endpoints.insert(ByteEndpoint(node: node, kind: .content, start: range.lowerBound, end: range.upperBound,
                                               note: "never written or read in the recording"))
        }
        return ByteLineage(direction: "why", target: node, start: range.lowerBound, end: range.upperBound,
                           endpoints: Self.merge(walk.endpoints), steps: Self.merge(walk.steps),
                           truncated: walk.truncated ? true : nil)
    }

    /// The input bytes of event `event` (`range` in event coordinates), traced back to
    /// their origins: what alerts report as the source of a code pointer.
    public func origins(ofInput event: UInt64, range: Range<Int64>) -> (direct: [ByteEndpoint], origins: [ByteEndpoint]) {
        var walk = Walk()
        var direct: [ByteEndpoint] = []
        for i in bySequence[event] ?? [] where placements[i].role.isInput {
            let r = placements[i]
            if let offset = r.offset {
                direct.append(ByteEndpoint(node: r.object, kind: r.role == .metadataIn ? .metadata : .content,
                                           start: offset + range.lowerBound, end: offset + range.upperBound))
            } else {
                direct.append(ByteEndpoint(node: r.object, kind: r.role == .metadataIn ? .metadata : .unknownOffset,
                                           note: "event \(event) bytes \(range.lowerBound)-\(range.upperBound)"))
            }
            follow(read: i, eventRange: range, depth: 0, &walk)
        }
        return (direct, Self.merge(walk.endpoints))
    }

    struct Walk {
        var endpoints = Set<ByteEndpoint>()
        var steps = Set<ByteStep>()
        var seen = Set<String>()
        var truncated = false
    }

    /// Follows the bytes at `range` of a byte space back to their origins.
    /// `addressOnly`: the way from the target to these bytes went through an address
    /// dependency (`ByteEndpoint.addressOnly`).
    func trace(stream: Int, range: Range<Int64>, before: UInt64, node: Int, depth: Int, addressOnly: Bool = false,
               _ walk: inout Walk) {
        guard depth < depthLimit, walk.steps.count + walk.endpoints.count < resultLimit else { walk.truncated = true; return }
        guard walk.seen.insert("t\(stream):\(range.lowerBound)-\(range.upperBound)@\(before)\(addressOnly ? "a" : "")").inserted else { return }
        for piece in origin(stream: stream, range: range, before: before) {
            switch piece {
            case .external(let r):
                walk.endpoints.insert(ByteEndpoint(node: node, kind: .content, start: r.lowerBound, end: r.upperBound,
                                                   addressOnly: addressOnly ? true : nil))
            case .cut(let r):
                walk.endpoints.insert(ByteEndpoint(node: node, kind: .cut, start: r.lowerBound, end: r.upperBound))
            case .written(let p, let eventRange, _):
                feed(write: p, eventRange: eventRange, depth: depth, addressOnly: addressOnly, &walk)
            }
        }
    }

    /// What fed bytes `eventRange` of output placement `p`: its process's summary, or the
    /// kernel copy it was.
    func feed(write p: Int, eventRange: Range<Int64>, depth: Int, addressOnly: Bool = false, _ walk: inout Walk) {
        let w = placements[p]
        for (input, inRange, outRange, flow) in feeders(of: p, eventRange: eventRange, &walk) {
            let r = placements[input]
            walk.steps.insert(ByteStep(output: w.object, outputStart: w.offset.map { $0 + outRange.lowerBound },
                                       outputEnd: w.offset.map { $0 + outRange.upperBound }, input: r.object,
                                       inputStart: r.offset.map { $0 + inRange.lowerBound },
                                       inputEnd: r.offset.map { $0 + inRange.upperBound }, process: w.process,
                                       outputEvent: w.sequence, inputEvent: r.sequence, flow: flow))
            follow(read: input, eventRange: inRange, depth: depth + 1, addressOnly: addressOnly || flow == "address", &walk)
        }
    }

    /// Follows input placement `i`'s bytes `eventRange` to where they were stored.
    func follow(read i: Int, eventRange: Range<Int64>, depth: Int, addressOnly: Bool = false, _ walk: inout Walk) {
        let r = placements[i]
        if r.role == .metadataIn {
            walk.endpoints.insert(ByteEndpoint(node: r.object, kind: .metadata, note: "\(r.operation) at event \(r.sequence)"))
            return
        }
        guard let offset = r.offset else {
            walk.endpoints.insert(ByteEndpoint(node: r.object, kind: .unknownOffset,
                                               note: "\(r.operation) at event \(r.sequence), bytes \(eventRange.lowerBound)-\(eventRange.upperBound) of it"))
            return
        }
        let range = (offset + eventRange.lowerBound)..<(offset + eventRange.upperBound)
        trace(stream: r.stream, range: range, before: isFile(r.stream) ? r.sequence : UInt64.max, node: r.object,
              depth: depth, addressOnly: addressOnly, &walk)
    }

    /// The input placements (and ranges) that output placement `p`'s bytes `eventRange`
    /// were computed from, with the output sub-range each one explains.
    func feeders(of p: Int, eventRange: Range<Int64>, _ walk: inout Walk)
        -> [(input: Int, inRange: Range<Int64>, outRange: Range<Int64>, flow: String)] {
        let w = placements[p]
        switch w.role {
        case .copyOut:
            return (bySequence[w.sequence] ?? []).filter { placements[$0].role == .copyIn }
                .map { ($0, eventRange, eventRange, "kernel copy") }
        case .contentOut, .mapOut:
            guard w.unit >= 0, refinedUnits[w.unit] != nil else {
                walk.endpoints.insert(ByteEndpoint(node: w.process, kind: .unrefined, note: unitNote(w.unit)))
                return []
            }
            var result: [(Int, Range<Int64>, Range<Int64>, String)] = []
            for f in flowsByOutput[w.sequence] ?? [] {
                let out = f.outputStart..<f.outputEnd
                guard let overlap = out.clamped(to: eventRange).nonEmpty else { continue }
                let input = f.inputBytes(forOutput: overlap)
                if f.lastInput != f.input {
                    // A span of events: every read inside holding bytes of its range.
                    for r in inputPlacements(from: f.input, through: f.lastInput) {
                        let lo = min(input.lowerBound, placements[r].length), hi = min(input.upperBound, placements[r].length)
                        guard lo < hi else { continue }
                        let kind = placements[r].role == .metadataIn ? "metadata" : f.addressOnly ? "address" : "value"
                        result.append((r, lo..<hi, overlap, kind))
                    }
                    continue
                }
                for (event, range, addressOnly) in relayed(input: f.input, range: input, addressOnly: f.addressOnly) {
                    let readers = (bySequence[event] ?? []).filter { placements[$0].role.isInput }
                    if readers.isEmpty {
                        var note = "bytes of event \(event)"
                        if let sinker = execSinker[event] {
                            note = sinker < 0
                                ? "argv and envp strings of exec event \(event): the recorded command's own, given from outside the recording"
                                : "argv and envp strings of exec event \(event); the exec'ing \(unitNote(sinker))"
                        }
                        walk.endpoints.insert(ByteEndpoint(node: w.process, kind: .notAnObject, start: range.lowerBound,
                                                           end: range.upperBound, note: note))
                    }
                    for r in readers {
                        let kind = placements[r].role == .metadataIn ? "metadata" : addressOnly ? "address" : "value"
                        result.append((r, range, overlap, kind))
                    }
                }
            }
            return result
        default:
            return []
        }
    }

    /// The input placements of events `first ... last` (indices, sequence order).
    /// Cost: O(log placements) plus the placements of the window.
    func inputPlacements(from first: UInt64, through last: UInt64) -> [Int] {
        var low = 0, high = placements.count
        while low < high {
            let mid = (low + high) >> 1
            if placements[mid].sequence < first { low = mid + 1 } else { high = mid }
        }
        var result: [Int] = []
        while low < placements.count && placements[low].sequence <= last {
            if placements[low].role.isInput { result.append(low) }
            low += 1
        }
        return result
    }

    /// Input bytes `range` of event `input`, followed back through events that one unit
    /// sank and another labelled as a source (an execve's argument and environment
    /// strings: no object holds them), to the events that are object reads. Ranges map
    /// exactly through copies, else widen to the feeding flow's input range. When the
    /// exec'ing image has a complete summary, bytes that no flow of it fed were constants
    /// there (a literal in its program) and have no origin: they drop out.
    func relayed(input: UInt64, range: Range<Int64>, addressOnly: Bool, depth: Int = 0)
        -> [(event: UInt64, range: Range<Int64>, addressOnly: Bool)] {
        let hasObject = (bySequence[input] ?? []).contains { placements[$0].role.isInput }
        guard !hasObject, depth < 4 else { return [(input, range, addressOnly)] }
        let feeding = flowsByOutput[input] ?? []
        let sunkByRefinedImage = execSinker[input].map { $0 >= 0 && refinedUnits[$0] != nil } ?? false
        guard sunkByRefinedImage || !feeding.isEmpty else { return [(input, range, addressOnly)] }
        var result: [(UInt64, Range<Int64>, Bool)] = []
        for g in feeding {
            guard let overlap = (g.outputStart..<g.outputEnd).clamped(to: range).nonEmpty else { continue }
            result += relayed(input: g.input, range: g.inputBytes(forOutput: overlap), addressOnly: addressOnly || g.addressOnly, depth: depth + 1)
        }
        if sunkByRefinedImage { return result }
        return result.isEmpty ? [(input, range, addressOnly)] : result
    }

    /// Output bytes `range` of event `output`, followed forward through relay events (see
    /// `relayed(input:range:addressOnly:depth:)`) to the events that are object writes.
    func relayedOutputs(output: UInt64, range: Range<Int64>, addressOnly: Bool, depth: Int = 0)
        -> [(event: UInt64, range: Range<Int64>, addressOnly: Bool)] {
        let hasObject = (bySequence[output] ?? []).contains { placements[$0].role.isOutput }
        guard !hasObject, depth < 4, let fed = flowsByInput[output], !fed.isEmpty else {
            return [(output, range, addressOnly)]
        }
        var result: [(UInt64, Range<Int64>, Bool)] = []
        for g in fed {
            guard let overlap = (g.inputStart..<g.inputEnd).clamped(to: range).nonEmpty else { continue }
            result += relayedOutputs(output: g.output, range: g.outputBytes(forInput: overlap), addressOnly: addressOnly || g.addressOnly, depth: depth + 1)
        }
        return result
    }

    func unitNote(_ unit: Int) -> String {
        guard unit >= 0 && unit < units.count else { return "outside any replayed process image" }
        let u = units[unit]
        return "pid \(u.pid) \(u.executable) not refined: \(unrefinedReason[unit] ?? "no completed taint summary")"
    }

    /// How many bytes object version `node` had as far as the recording saw them: the end
    /// of the furthest byte read from or written to it (truncations applied), nil when no
    /// event placed bytes in it. Bytes of a file the recording never touched do not count.
    /// Cost: one pass over the placements.
    public func knownSize(of node: Int) -> Int64? {
        guard let stream = streamOfNode[node] else { return nil }
        let before = isFile(stream) ? endOfVersion(node) : UInt64.max
        var size: Int64?
        for p in placements where p.stream == stream && p.sequence < before {
            switch p.role {
            case .reset: size = p.offset ?? 0
            case .metadataIn, .generated: continue
            default: if let r = p.objectRange { size = max(size ?? 0, r.upperBound) }
            }
        }
        return size
    }

    /// The sequence before which a file version's bytes are its own: the first event on a
    /// later version of the same file.
    func endOfVersion(_ node: Int) -> UInt64 {
        let n = nodes[node]
        var end = UInt64.max
        for other in versionsOfEntity[n.entity] ?? [] where nodes[other].version > n.version {
            if let s = firstSequenceOfNode[other] { end = min(end, s) }
        }
        return end
    }

    // MARK: Forward

    /// Where the bytes `range` of object version `node` went, across every process after.
    public func forward(node: Int, range: Range<Int64>) -> ByteLineage {
        var walk = Walk()
        if let stream = streamOfNode[node] {
            if isFile(stream) {
                let mine = origin(stream: stream, range: range, before: endOfVersion(node))
                let from = firstSequenceOfNode[node] ?? 0
                for piece in mine { spread(stream: stream, piece: piece, after: from, depth: 0, &walk) }
            } else {
                spread(stream: stream, piece: .external(range), after: 0, depth: 0, &walk)
            }
        }
        return ByteLineage(direction: "impact", target: node, start: range.lowerBound, end: range.upperBound,
                           endpoints: Self.merge(walk.endpoints), steps: Self.merge(walk.steps),
                           truncated: walk.truncated ? true : nil)
    }

    /// Every read (after `after`) that got the bytes `piece` describes, followed onward.
    func spread(stream: Int, piece: Piece, after: UInt64, depth: Int, addressOnly: Bool = false, _ walk: inout Walk) {
        guard depth < depthLimit, walk.steps.count + walk.endpoints.count < resultLimit else { walk.truncated = true; return }
        let range: Range<Int64>
        switch piece {
        case .external(let r): range = r
        case .written(_, _, let o?): range = o
        case .written(let p, _, nil):
            // Unknown offset: every later read of the stream may have got these bytes.
            walk.endpoints.insert(ByteEndpoint(node: placements[p].object, kind: .unknownOffset,
                                               note: "\(placements[p].operation) at event \(placements[p].sequence)"))
            return
        case .cut: return
        }
        guard walk.seen.insert("s\(stream):\(range.lowerBound)-\(range.upperBound)>\(after)/\(piece)\(addressOnly ? "a" : "")").inserted else { return }
        for i in readsByStream[stream] ?? [] {
            let r = placements[i]
            guard r.sequence >= after || !isFile(stream), r.role != .metadataIn else { continue }
            guard let o = r.objectRange else {
                walk.endpoints.insert(ByteEndpoint(node: r.object, kind: .unknownOffset,
                                                   note: "\(r.operation) at event \(r.sequence) may have read these bytes"))
                continue
            }
            guard let overlap = o.clamped(to: range).nonEmpty else { continue }
            var got: [Range<Int64>] = []
            if isFile(stream) {
                // The read got these very bytes only where nothing rewrote them in between.
                for p in origin(stream: stream, range: overlap, before: r.sequence) {
                    switch (p, piece) {
                    case (.external(let a), .external): got.append(a)
                    case (.written(let a, _, let ar?), .written(let b, _, _)) where a == b: got.append(ar)
                    default: break
                    }
                }
            } else {
                got = [overlap]
            }
            for g in got {
                consume(read: i, eventRange: (g.lowerBound - o.lowerBound)..<(g.upperBound - o.lowerBound), depth: depth,
                        addressOnly: addressOnly, &walk)
            }
        }
    }

    /// What a process (or the kernel) made of input bytes `eventRange` of read placement `i`.
    func consume(read i: Int, eventRange: Range<Int64>, depth: Int, addressOnly: Bool = false, _ walk: inout Walk) {
        let r = placements[i]
        var outputs: [(Int, Range<Int64>, String)] = []
        if r.role == .copyIn {
            outputs = (bySequence[r.sequence] ?? []).filter { placements[$0].role == .copyOut }.map { ($0, eventRange, "kernel copy") }
        } else {
            for f in (flowsByInput[r.sequence] ?? []) + spanFlows.filter({ $0.names(input: r.sequence) }) {
                let input = f.inputStart..<f.inputEnd
                guard let overlap = input.clamped(to: eventRange).nonEmpty else { continue }
                let out = f.outputBytes(forInput: overlap)
                for (event, range, addressOnly) in relayedOutputs(output: f.output, range: out, addressOnly: f.addressOnly) {
                    for w in (bySequence[event] ?? []) where placements[w].role == .contentOut || placements[w].role == .mapOut {
                        outputs.append((w, range, addressOnly ? "address" : "value"))
                    }
                }
            }
            // Readers without a completed summary: the bytes may have gone anywhere.
            if r.unit < 0 || refinedUnits[r.unit] == nil {
                walk.endpoints.insert(ByteEndpoint(node: r.process, kind: .unrefined, note: unitNote(r.unit)))
            }
        }
        for (w, out, flow) in outputs {
            let p = placements[w]
            let clamped = out.clamped(to: 0..<max(p.length, out.upperBound))
            walk.steps.insert(ByteStep(output: p.object, outputStart: p.offset.map { $0 + clamped.lowerBound },
                                       outputEnd: p.offset.map { $0 + clamped.upperBound }, input: r.object,
                                       inputStart: r.offset.map { $0 + eventRange.lowerBound },
                                       inputEnd: r.offset.map { $0 + eventRange.upperBound }, process: p.process,
                                       outputEvent: p.sequence, inputEvent: r.sequence, flow: flow))
            let objectRange = p.offset.map { ($0 + clamped.lowerBound)..<($0 + clamped.upperBound) }
            let viaAddress = addressOnly || flow == "address"
            walk.endpoints.insert(ByteEndpoint(node: p.object, kind: objectRange == nil ? .unknownOffset : .content,
                                               start: objectRange?.lowerBound, end: objectRange?.upperBound,
                                               addressOnly: viaAddress ? true : nil))
            spread(stream: p.stream, piece: .written(placement: w, eventRange: clamped, objectRange: objectRange),
                   after: p.sequence, depth: depth + 1, addressOnly: viaAddress, &walk)
        }
    }

    // MARK: Results

    /// Endpoints of one node, kind and note with touching or overlapping ranges become one.
    /// Bytes reached by value are not listed again as reached through an address
    /// dependency.
    static func merge(_ endpoints: Set<ByteEndpoint>) -> [ByteEndpoint] {
        var byValue: [String: [Range<Int64>]] = [:]
        for e in endpoints where e.addressOnly == nil {
            if let s = e.start, let end = e.end { byValue["\(e.node)/\(e.kind)/\(e.note ?? "")", default: []].append(s..<end) }
        }
        var pieces: [ByteEndpoint] = []
        for e in endpoints {
            guard e.addressOnly == true, let s = e.start, let end = e.end, let covered = byValue["\(e.node)/\(e.kind)/\(e.note ?? "")"] else {
                pieces.append(e); continue
            }
            var left = [s..<end]
            for c in covered { left = subtract(left, c) }
            for r in left { var piece = e; piece.start = r.lowerBound; piece.end = r.upperBound; pieces.append(piece) }
        }
        let sorted = pieces.sorted {
            ($0.node, $0.kind.rawValue, $0.addressOnly == true ? 1 : 0, $0.start ?? -1, $0.end ?? -1, $0.note ?? "") <
                ($1.node, $1.kind.rawValue, $1.addressOnly == true ? 1 : 0, $1.start ?? -1, $1.end ?? -1, $1.note ?? "")
        }
        var result: [ByteEndpoint] = []
        for e in sorted {
            if var last = result.last, last.node == e.node, last.kind == e.kind, last.note == e.note,
               last.addressOnly == e.addressOnly, let ls = last.start, let le = last.end,
               let s = e.start, let end = e.end, s <= le {
                last.start = ls
                last.end = max(le, end)
                result[result.count - 1] = last
                continue
            }
            if let last = result.last, last == e { continue }
            result.append(e)
        }
        return result
    }

    /// Hops of one process between the same two events become one when their output
    /// ranges touch or overlap and their input ranges either continue the same way (a
    /// copy: both ends advance together) or are the same range (one hull feeding several
    /// outputs). A lineage through a 10^5-byte copy is then one hop, not one per byte.
    static func merge(_ steps: Set<ByteStep>) -> [ByteStep] {
        let sorted = steps.sorted {
            let a = ($0.output, $0.input, $0.process, $0.outputEvent, $0.inputEvent, $0.flow)
            let b = ($1.output, $1.input, $1.process, $1.outputEvent, $1.inputEvent, $1.flow)
            return a != b ? a < b : ($0.outputStart ?? -1, $0.inputStart ?? -1) < ($1.outputStart ?? -1, $1.inputStart ?? -1)
        }
        func isCopy(_ s: ByteStep) -> Bool {
            guard let os = s.outputStart, let oe = s.outputEnd, let i = s.inputStart, let ie = s.inputEnd else { return false }
            return oe - os == ie - i
        }
        var result: [ByteStep] = []
        for s in sorted {
            if var last = result.last, last.output == s.output, last.input == s.input, last.process == s.process,
               last.outputEvent == s.outputEvent, last.inputEvent == s.inputEvent, last.flow == s.flow,
               let ls = last.outputStart, let le = last.outputEnd, let so = s.outputStart, let se = s.outputEnd, so <= le {
                if last.inputStart == s.inputStart && last.inputEnd == s.inputEnd {
                    last.outputEnd = max(le, se)
                    result[result.count - 1] = last
                    continue
                }
                if isCopy(last), isCopy(s), let li = last.inputStart, let lie = last.inputEnd, let si = s.inputStart,
                   let sie = s.inputEnd, so - ls == si - li {
                    last.outputEnd = max(le, se)
                    last.inputEnd = max(lie, sie)
                    result[result.count - 1] = last
                    continue
                }
            }
            result.append(s)
        }
        return result.sorted(by: stepOrder)
    }

    static func stepOrder(_ a: ByteStep, _ b: ByteStep) -> Bool {
        (a.outputEvent, a.outputStart ?? -1, a.inputEvent, a.inputStart ?? -1) < (b.outputEvent, b.outputStart ?? -1, b.inputEvent, b.inputStart ?? -1)
    }
}

/// Matches taint summaries with the trace's replay units.
struct SummaryMatch {
    /// Completed summaries by unit index.
    var completed: [Int: TaintSummary] = [:]
    /// Every summary by unit index, completed or not.
    var all: [Int: TaintSummary] = [:]
    /// Why each unit without a completed summary has none.
    var reasons: [Int: String] = [:]
    /// Summaries that match no unit of the trace.
    var unmatched: [TaintSummary] = []

    init(units: [ReplayUnitInfo], summaries: [TaintSummary]) {
        var byKey: [String: Int] = [:]
        var byTask: [String: [Int]] = [:]
        for (i, u) in units.enumerated() {
            byKey["\(u.pid)-\(u.tid)@\(u.startSequence)"] = i
            byTask["\(u.pid)-\(u.tid)", default: []].append(i)
        }
        for s in summaries {
            // The exact unit, else the only unit of that task (a summary file is per pid-tid).
            let unit = byKey["\(s.pid)-\(s.tid)@\(s.startSequence)"]
                ?? (byTask["\(s.pid)-\(s.tid)"].flatMap { $0.count == 1 ? $0[0] : nil })
            guard let unit else { unmatched.append(s); continue }
            all[unit] = s
            if s.completed { completed[unit] = s }
        }
        for i in units.indices where completed[i] == nil {
            if let s = all[i] {
                reasons[i] = s.failure.map { "replay did not complete: \($0)" } ?? "replay did not complete"
            } else {
                reasons[i] = "not replayed (no taint summary)"
            }
        }
    }
}

/// Sorted, disjoint ranges minus one range.
func subtract(_ ranges: [Range<Int64>], _ cut: Range<Int64>) -> [Range<Int64>] {
    var result: [Range<Int64>] = []
    for r in ranges {
        if r.upperBound <= cut.lowerBound || r.lowerBound >= cut.upperBound { result.append(r); continue }
        if r.lowerBound < cut.lowerBound { result.append(r.lowerBound..<cut.lowerBound) }
        if r.upperBound > cut.upperBound { result.append(cut.upperBound..<r.upperBound) }
    }
    return result
}

extension Range where Bound == Int64 {
    /// Nil for an empty range.
    var nonEmpty: Range<Int64>? { isEmpty ? nil : self }
}
