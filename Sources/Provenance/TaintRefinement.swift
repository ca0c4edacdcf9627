// Stage II: the coarse graph refined by the taint summaries of `magprov replay --taint`.
//
// Reads and writes are facts and stay as they are. What the refinement decides is
// derivations: for every (output version O, input version I) pair the coarse graph connects
// through a process — I was used by process P, and P, a later version of it, or a child it
// forked (the same memory) generated O — it adds an edge I -> O (`wasDerivedFrom`,
// precision `.refined`) whose status says what the replay saw:
//
//   confirmed   a summary flow has its output event among O's write events and its input
//               event among I's read events (value or address flow, or metadata such as
//               getdents); a kernel copy (sendfile, splice, copy_file_range) from I to O is
//               one by itself. The edge carries the events and byte ranges as evidence.
//   implicit    no data flowed, but I's read events reached a branch (controlSources)
//               before an output event of O.
//   refuted     neither — and only when every process image on the way has a completed
//               summary, I's bytes were labelled, and no pipe involved had concurrent
//               writers. Refuted edges drop out of lineage.
//   unverified  the replay cannot decide: a process diverged or was not replayed, I
//               reached the process only as a mapping not known to be labelled.
//
// An executable image (the file an execve named, its interpreter) is no taint source: its
// pair is kept (`unverified`, flagged `image`) for the program that made O, and for an
// upstream process only while one of that process's own inputs still reaches O; it is
// refuted with them when they all are (`judgeImage`). Metadata sources (stat results,
// directory entries, the exit status wait4 returns) confirm as `metadata`, also when
// they named the file O (a path built from getdents).
//
// Across an exec memory does not carry over, except the argument and environment strings:
// the old image sinks them as bytes of its execve event and the new image labels them as
// that event's bytes, so a flow composes through them (`relayedEvidence`), and a branch on
// them counts as control by the input they came from.
//
// Refuting a true edge is the one error a security tool may not make: every doubt above
// leaves the edge unverified or implicit (DESIGN.md, "Taint and refinement").

import Foundation
import Trace

/// A refined graph and what the refinement concluded.
public struct RefinedGraph: Sendable {
    /// The coarse graph plus one derivation edge per coarse pair.
    public var graph: ProvenanceGraph
    public var report: RefinementReport
    /// The event coordinates and replay units the graph was refined with (stored for
    /// byte-range lineage).
    public var placements: [EventPlacement]
    public var units: [ReplayUnitInfo]
}

/// Stage II: derivation statuses from taint summaries (see the top of this file).
public enum TaintRefinement {
    /// Refines the graph of a trace with the taint summaries `magprov replay --taint` wrote
    /// into it (`<trace>/taint/<pid>-<tid>.json`), and stores the refined graph in the
    /// trace's graph store, bound to the trace's root chain.
    ///
    /// - Throws: `ProvenanceError.trace` when the trace cannot be read;
    ///   `ProvenanceError.taintSummaries` when a summary is damaged or was computed from
    ///   another recording (its root chain differs: run `magprov replay --taint` again);
    ///   `ProvenanceError.store` when the store cannot be written.
    /// - Returns: the counts, the processes that could not be refined, and the alerts.
    @discardableResult
    public static func refine(traceDirectory: String) throws -> RefinementReport {
        let reader: TraceReader
        do { reader = try TraceReader(directory: traceDirectory) } catch let e as TraceError {
            throw ProvenanceError.trace(e)
        }
        let rootChain = reader.manifest?.rootChain ?? ""
        let summaries: [TaintSummary]
        do { summaries = try TaintSummary.readAll(traceDirectory: traceDirectory, rootChain: rootChain) } catch {
            throw ProvenanceError.taintSummaries("\(error)")
        }
        let refined = refine(build: CoarseGraphBuilder.buildWithPlacements(trace: reader), summaries: summaries,
                             rootChain: rootChain)
        try GraphStore.create(path: GraphStore.path(forTrace: traceDirectory), graph: refined.graph,
                              placements: refined.placements, units: refined.units, refinement: refined.report)
        return refined.report
    }

    /// The refinement itself, a pure function of the coarse build and the summaries
    /// (which must already have been checked against `rootChain`).
    public static func refine(build: CoarseBuild, summaries: [TaintSummary], rootChain: String) -> RefinedGraph {
        var state = RefinementState(build: build, summaries: summaries)
        var graph = build.graph
        var report = RefinementReport(traceRootChain: rootChain, summaries: summaries.count)
        let pairs = state.coarsePairs()
        report.coarseDerivationPairs = pairs.count
        var derived = Set<RefinementState.PairKey>()
        for (key, contributions) in pairs.sorted(by: { ($0.key.output, $0.key.input) < ($1.key.output, $1.key.input) }) {
            let verdict = state.judge(key, contributions)
            derived.insert(key)
            switch verdict.status {
            case .confirmed:
                report.confirmed += 1
                if verdict.kinds == ["metadata"] { report.confirmedByMetadataOnly += 1 }
                if verdict.kinds == ["kernel copy"] { report.confirmedByKernelCopy += 1 }
                if verdict.kinds == ["address"] { report.confirmedByAddressOnly += 1 }
            case .implicit: report.implicit += 1
            case .refuted: report.refuted += 1
            case .unverified: report.unverified += 1
            }
            graph.addEdge(state.edge(key, verdict))
        }
        // Metadata that reached an output without a coarse edge to show for it (stat).
        for (key, verdict) in state.metadataDerivations() where !derived.contains(key) {
            report.metadataDerivations += 1
            var edge = state.edge(key, verdict)
            edge.attributes["coarse"] = .bool(false)
            graph.addEdge(edge)
        }
        let match = state.match
        for (i, u) in build.units.enumerated() where match.completed[i] == nil {
            report.unrefinedProcesses.append(UnrefinedProcess(pid: u.pid, tid: u.tid, executable: u.executable,
                                                              reason: match.reasons[i] ?? "not refined"))
        }
        for s in match.unmatched {
            report.warnings.append("taint summary \(s.pid)-\(s.tid) (\(s.executable)) matches no process image of the trace")
        }
        report.alerts = state.alerts(graph: graph)
        return RefinedGraph(graph: graph, report: report, placements: build.placements, units: build.units)
    }
}

/// Indexes over one coarse build and its summaries, and the per-pair judgement.
struct RefinementState {
    let build: CoarseBuild
    let match: SummaryMatch
    let lineage: ByteLineageIndex
    var nodes: [Node] { build.graph.nodes }

    struct PairKey: Hashable { var input: Int; var output: Int }
    /// One way the coarse graph connects a pair: `reader` used I, `writer` generated O.
    /// `throughSharedMemory`: `reader` stored into shared memory that `writer` loaded
    /// (another process); only a group replay carries labels across, so no refutation.
    struct Contribution {
        var reader: Int; var writer: Int; var crossesExec: Bool; var units: [Int]
        /// The first hop between two processes on the way from reader to writer, if any.
        var relay: Relay?
        var throughSharedMemory = false
    }
    /// Information passed from one process to another with no object in between: `wait4`
    /// (the child's exit status), `kill` and `rt_sigqueueinfo` (a signal),
    /// `process_vm_writev`/`readv` (a memory copy).
    struct Relay {
        var from: Int; var operation: String; var sequence: UInt64
        /// For wait4/waitid: the child's exit or exit_group event (its status sink).
        var exitEvent: UInt64?
        /// Units on the receiving side of the hop (the writer's memory chain up to the receiver).
        var receiverUnits: [Int] = []
        /// More than one hop, or an exec between the sender's read and its exit: the hop
        /// cannot be composed and stays unverified.
        var composable = true
    }

    var placementsAt: [Int: [Int: [Int]]] = [:]   // object -> process -> placement indices
    var inputOperations: [Int: [Int: Set<String>]] = [:]  // process -> object -> coarse operations
    var flowsByOutput: [UInt64: [(unit: Int, flow: TaintFlow)]] = [:]
    var controlByUnit: [Int: [UInt64: UInt64]] = [:]  // unit -> input event -> first sequence
    var pathSinksByEvent: [UInt64: [PathSink]] = [:]
    /// mmap events the summaries show were labelled (some flow, branch or alert names them).
    var labelledEvents = Set<UInt64>()
    /// Windows of events that coarsened flows and path sinks name (`TaintFlow.throughInput`,
    /// `TaintByteRange.throughEvent`), sorted and disjoint.
    var labelledSpans: [ClosedRange<UInt64>] = []
    /// The events some flow feeds (`flowsByOutput`'s keys), sorted: the relay events inside
    /// a span are found by binary search.
    var outputEvents: [UInt64] = []
    /// Pipe and socket versions written by more than one process (their order is unknown).
    var concurrentlyWritten = Set<Int>()

    init(build: CoarseBuild, summaries: [TaintSummary]) {
        self.build = build
        match = SummaryMatch(units: build.units, summaries: summaries)
        lineage = ByteLineageIndex(nodes: build.graph.nodes, placements: build.placements, units: build.units,
                                   summaries: summaries)
        var writersOf: [Int: Set<Int64>] = [:]
        for (i, p) in build.placements.enumerated() {
            placementsAt[p.object, default: [:]][p.process, default: []].append(i)
            if p.role == .contentOut || p.role == .copyOut, build.graph.nodes[p.object].kind != .file {
                writersOf[p.object, default: []].insert(build.graph.nodes[p.process].attributes["pid"]?.intValue ?? Int64(p.tid))
            }
        }
        concurrentlyWritten = Set(writersOf.filter { $0.value.count > 1 }.keys)
        for (unit, s) in match.completed {
            for f in s.flows {
                flowsByOutput[f.output, default: []].append((unit, f))
                labelledEvents.insert(f.input)
                if f.lastInput != f.input { labelledSpans.append(f.input ... f.lastInput) }
            }
            for c in s.controlSources {
                controlByUnit[unit, default: [:]][c.input] = min(controlByUnit[unit]?[c.input] ?? .max, c.firstSequence)
                labelledEvents.insert(c.input)
            }
            for p in s.pathSinks {
                pathSinksByEvent[p.event, default: []].append(p)
                for r in p.sources {
                    labelledEvents.insert(r.event)
                    if let through = r.throughEvent, through > r.event { labelledSpans.append(r.event ... through) }
                }
            }
            for a in s.alerts { for r in a.sources { labelledEvents.insert(r.event) } }
        }
        labelledSpans.sort { $0.lowerBound < $1.lowerBound }
        var disjoint: [ClosedRange<UInt64>] = []
        for w in labelledSpans {
            if let last = disjoint.last, w.lowerBound <= last.upperBound {
                disjoint[disjoint.count - 1] = last.lowerBound ... max(last.upperBound, w.upperBound)
            } else {
                disjoint.append(w)
            }
        }
        labelledSpans = disjoint
        outputEvents = flowsByOutput.keys.sorted()
    }

    /// Whether some summary names event `sequence` (alone or inside a span).
    func isLabelled(_ sequence: UInt64) -> Bool {
        if labelledEvents.contains(sequence) { return true }
        var low = 0, high = labelledSpans.count
        while low < high {
            let mid = (low + high) >> 1
            if labelledSpans[mid].upperBound < sequence { low = mid + 1 } else { high = mid }
        }
        return low < labelledSpans.count && labelledSpans[low].contains(sequence)
    }

    /// The events `flow` names that some flow feeds (relay events): its input, or the exec
    /// events inside its span. Cost: O(log events) plus the events of the window fed.
    func fedEvents(named flow: TaintFlow) -> [UInt64] {
        guard flow.lastInput != flow.input else { return flowsByOutput[flow.input] == nil ? [] : [flow.input] }
        var low = 0, high = outputEvents.count
        while low < high {
            let mid = (low + high) >> 1
            if outputEvents[mid] < flow.input { low = mid + 1 } else { high = mid }
        }
        var result: [UInt64] = []
        while low < outputEvents.count && outputEvents[low] <= flow.lastInput {
            // Inside a window only the events a unit labelled as a source relay (an exec's
            // strings); other sinks in it (writes) are no input of the flow.
            if lineage.execSinker[outputEvents[low]] != nil { result.append(outputEvents[low]) }
            low += 1
        }
        return result
    }

    /// The placements of the events from `first` through `last` (sequence numbers,
    /// inclusive). Cost: O(log placements) plus the result.
    func placements(from first: UInt64, through last: UInt64) -> [EventPlacement] {
        if first == last { return (lineage.bySequence[first] ?? []).map { lineage.placements[$0] } }
        let all = lineage.placements
        var low = 0, high = all.count
        while low < high {
            let mid = (low + high) >> 1
            if all[mid].sequence < first { low = mid + 1 } else { high = mid }
        }
        var result: [EventPlacement] = []
        while low < all.count && all[low].sequence <= last {
            result.append(all[low])
            low += 1
        }
        return result
    }

    /// Whether `flow` names one of `reads` (its input, or one inside its span).
    static func names(_ flow: TaintFlow, anyOf readSequences: Set<UInt64>) -> Bool {
        if flow.lastInput == flow.input { return readSequences.contains(flow.input) }
        return readSequences.contains { flow.names(input: $0) }
    }

    /// The bytes `[start, end)` of a span entry that read `r` can hold (its first
    /// `length` bytes), or nil when it holds none of them.
    static func clip(_ start: Int64, _ end: Int64, to r: EventPlacement) -> Range<Int64>? {
        let lo = min(start, r.length), hi = min(end, r.length)
        return lo < hi ? lo..<hi : nil
    }

    static func isObject(_ n: Node) -> Bool { n.kind != .process && n.kind != .agent }

    /// A shared-memory object of SharedMemory.swift (anonymous, SysV): its loads and
    /// stores are followed one hop in `coarsePairs`.
    static func isSharedMemory(_ n: Node) -> Bool {
        n.kind == .other && (n.label.hasPrefix("shared memory of pid") || n.label.hasPrefix("SysV shared memory"))
    }

    /// Every (input, output) pair connected through a process image or its fork children,
    /// with the ways it is connected. Processes also pass information to each other
    /// without an object in between (an exit status `wait4` returns, a signal, a
    /// `process_vm_writev` copy): an input of the sending process reaches the outputs the
    /// receiver made afterwards through such a hop, and that pair is connected too (a
    /// `Contribution` with a `relay`), so no coarse path is lost to refinement.
    mutating func coarsePairs() -> [PairKey: [Contribution]] {
        let graph = build.graph
        var inputs: [Int: [Int]] = [:]     // process -> input objects
        var outputs: [Int: [Int]] = [:]    // process -> output objects
        var parent: [Int: (node: Int, exec: Bool)] = [:]
        var relays: [Int: [Relay]] = [:]   // receiving process -> hops from other processes
        // Shared memory between processes (SharedMemory.swift): who loaded and who stored
        // each version of a shared object.
        var sharedLoads: [Int: [Int]] = [:]    // process -> shared objects loaded
        var sharedStores: [Int: [Int]] = [:]   // shared object -> processes that stored into it
        var vforked: [Int: [Int]] = [:]        // process -> vfork children (first versions)
        for e in graph.edges where e.isActiveFlow && e.precision == .coarse {
            let s = graph.nodes[e.source], t = graph.nodes[e.target]
            if e.operation == "shared load" { sharedLoads[t.id, default: []].append(s.id) }
            // A writable shared mapping's own edge (`mmap`, `shmat`, `mprotect`) stores too:
            // what the process had read before the mapping reaches the object through it.
            if e.operation == "shared store" || e.attributes["sharedWritable"] == .bool(true) {
                sharedStores[t.id, default: []].append(s.id)
            }
            if e.operation == "vfork", s.kind == .process, t.kind == .process { vforked[s.id, default: []].append(t.id) }
            switch (s.kind == .process, t.kind == .process) {
            case (false, true) where Self.isObject(s):
                if inputOperations[t.id]?[s.id] == nil { inputs[t.id, default: []].append(s.id) }
                inputOperations[t.id, default: [:]][s.id, default: []].insert(e.operation)
            case (true, false) where Self.isObject(t):
                if !(outputs[s.id] ?? []).contains(t.id) { outputs[s.id, default: []].append(t.id) }
            case (true, true):
                // Memory carries over a fork, a clone and a new version of the same image;
                // an exec replaces it. Any other edge between processes is a relay hop.
                let sameEntity = s.entity == t.entity
                if e.operation == "fork" || e.operation == "vfork" || e.operation == "clone" || sameEntity {
                    if parent[t.id] == nil { parent[t.id] = (s.id, sameEntity && e.operation == "execve") }
                } else {
                    let exitEvent = e.attributes["exitEvent"]?.intValue.map { UInt64($0) }
                    relays[t.id, default: []].append(Relay(from: s.id, operation: e.operation, sequence: e.sequence,
                                                           exitEvent: exitEvent))
                }
            default:
                break
            }
        }
        /// `start` and the versions and parents its memory came from, with whether an exec
        /// lies on the way and the replay units of each.
        func chain(from start: Int) -> [(node: Int, crossed: Bool, units: [Int])] {
            var result: [(node: Int, crossed: Bool, units: [Int])] = []
            var node = start, crossed = false, units = [build.processUnits[start] ?? -1]
            var seen = Set([start])
            while true {
                result.append((node, crossed, units))
                guard let up = parent[node], seen.insert(up.node).inserted else { break }
                crossed = crossed || up.exec
                node = up.node
                let unit = build.processUnits[node] ?? -1
                if !units.contains(unit) { units.append(unit) }
            }
            return result
        }
        var pairs: [PairKey: [Contribution]] = [:]
        for (writer, outs) in outputs {
            // Upstream processes of the writer: its memory chain first (fork, clone, earlier
            // versions), then, through relay hops, the senders and their chains. A node
            // reached directly is judged on its own evidence and never again by relay; a
            // pair judged through several hops takes the best verdict, so one hop the
            // replay cannot follow keeps it from being refuted.
            struct Step { var node: Int; var crossed: Bool; var units: [Int]; var relay: Relay? }
            struct RelayedPair: Hashable { var key: PairKey; var hop: UInt64 }
            var relayed = Set<RelayedPair>()
            func contribute(_ step: Step) {
                for i in inputs[step.node] ?? [] {
                    for o in outs where o != i {
                        let key = PairKey(input: i, output: o)
                        // Through a relay the hop decides: one way per pair and hop is enough.
                        if let hop = step.relay, !relayed.insert(RelayedPair(key: key, hop: hop.sequence)).inserted { continue }
                        pairs[key, default: []].append(
                            Contribution(reader: step.node, writer: writer, crossesExec: step.crossed, units: step.units,
                                         relay: step.relay))
                    }
                }
            }
            func next(_ step: Step, _ node: Int, exec: Bool, relay hop: Relay?) -> Step {
                let unit = build.processUnits[node] ?? -1
                var relay = step.relay
                if var hop {
                    hop.receiverUnits = step.units
                    if relay == nil { relay = hop } else { relay?.composable = false }
                } else if exec {
                    relay?.composable = false
                }
                return Step(node: node, crossed: step.crossed || exec || hop != nil,
                            units: step.units.contains(unit) ? step.units : step.units + [unit], relay: relay)
            }
            var reached = Set([writer])
            var pending: [Step] = []
            var step: Step? = Step(node: writer, crossed: false, units: [build.processUnits[writer] ?? -1], relay: nil)
            while let s = step {
                contribute(s)
                for hop in relays[s.node] ?? [] { pending.append(next(s, hop.from, exec: false, relay: hop)) }
                step = nil
                if let up = parent[s.node], reached.insert(up.node).inserted { step = next(s, up.node, exec: up.exec, relay: nil) }
            }
            // Each hop is followed on its own (one may compose where another cannot).
            struct Visit: Hashable { var node: Int; var hop: UInt64 }
            var visited = Set<Visit>()
            while let s = pending.popLast() {
                guard !reached.contains(s.node), visited.insert(Visit(node: s.node, hop: s.relay?.sequence ?? 0)).inserted else { continue }
                contribute(s)
                if let up = parent[s.node] { pending.append(next(s, up.node, exec: up.exec, relay: nil)) }
                for hop in relays[s.node] ?? [] { pending.append(next(s, hop.from, exec: false, relay: hop)) }
            }
            let own = chain(from: writer)
            // A vfork child runs on its parent's memory until it execs or exits: what it
            // read before the exec may reach the parent's outputs (vfork(2)).
            for link in own {
                for child in vforked[link.node] ?? [] {
                    let entity = graph.nodes[child].entity
                    for n in graph.nodes where n.kind == .process && n.entity == entity {
                        var up = n.id, borrowed = true
                        while up != child {
                            guard let p = parent[up], !p.exec else { borrowed = false; break }
                            up = p.node
                        }
                        guard borrowed else { continue }
                        let unit = build.processUnits[n.id] ?? -1
                        let units = link.units.contains(unit) ? link.units : link.units + [unit]
                        for i in inputs[n.id] ?? [] {
                            for o in outs where o != i {
                                pairs[PairKey(input: i, output: o), default: []].append(
                                    Contribution(reader: n.id, writer: writer, crossesExec: link.crossed, units: units))
                            }
                        }
                    }
                }
            }
            // What another process stored into shared memory this one loaded: its inputs
            // reach this one's outputs too (a shared-memory group replays them together,
            // so its summaries show such flows; otherwise the pair stays unverified).
            let entity = graph.nodes[writer].entity
            for link in own {
                for object in sharedLoads[link.node] ?? [] {
                    for storer in sharedStores[object] ?? [] where graph.nodes[storer].entity != entity {
                        for other in chain(from: storer) {
                            let units = link.units + other.units.filter { !link.units.contains($0) }
                            for i in inputs[other.node] ?? [] where !Self.isSharedMemory(graph.nodes[i]) {
                                for o in outs where o != i {
                                    pairs[PairKey(input: i, output: o), default: []].append(
                                        Contribution(reader: other.node, writer: writer,
                                                     crossesExec: link.crossed || other.crossed, units: units,
                                                     throughSharedMemory: true))
                                }
                            }
                        }
                    }
                }
            }
        }
        return pairs
    }

    /// What the replay saw for one pair.
    struct Verdict {
        var status: EdgeStatus
        /// For confirmed: `value`, `address`, `metadata`, `kernel copy`, `path`.
        var kinds = Set<String>()
        var evidence: [Evidence] = []
        var reason: String?
        var writer: Int?
        /// An executable image kept for its process (`judgeImage`): shown as `image`.
        var image = false
    }

    struct Evidence: Hashable {
        var outputEvent: UInt64
        var outputRange: Range<Int64>
        var outputObject: Range<Int64>?
        var inputEvent: UInt64
        var inputRange: Range<Int64>
        var inputObject: Range<Int64>?
        var kind: String
        var shifted: Bool
        /// The input bytes reached a path argument of the output's call (they named O).
        var namedFile = false
    }

    func placements(_ object: Int, _ process: Int) -> [EventPlacement] {
        (placementsAt[object]?[process] ?? []).map { build.placements[$0] }
    }

    func judge(_ key: PairKey, _ contributions: [Contribution]) -> Verdict {
        var best: Verdict?
        func rank(_ s: EdgeStatus) -> Int {
            switch s { case .confirmed: return 3; case .implicit: return 2; case .unverified: return 1; case .refuted: return 0 }
        }
        // Direct ways first (the process that read I made O): among equal verdicts the
        // first one's reason is kept, so the answer does not depend on hash order.
        let ordered = contributions.sorted {
            ($0.relay == nil && !$0.crossesExec ? 0 : 1, $0.reader, $0.writer, $0.relay?.sequence ?? 0) <
                ($1.relay == nil && !$1.crossesExec ? 0 : 1, $1.reader, $1.writer, $1.relay?.sequence ?? 0)
        }
        for c in ordered {
            var v = judge(key, c)
            if let b = best {
                if rank(v.status) > rank(b.status) { best = v; continue }
                if v.status == b.status && v.status == .confirmed {
                    v.evidence = b.evidence + v.evidence
                    v.kinds.formUnion(b.kinds)
                    best = v
                }
            } else {
                best = v
            }
        }
        return best ?? Verdict(status: .unverified, reason: "no connection")
    }

    func judge(_ key: PairKey, _ c: Contribution) -> Verdict {
        if isImage(key.input, of: c.reader) { return judgeImage(key, c) }
        if let hop = c.relay { return judgeRelay(key, c, hop) }
        let reads = placements(key.input, c.reader).filter { $0.role.isInput }
        let writes = placements(key.output, c.writer).filter { $0.role.isOutput }
        let readSequences = Set(reads.map(\.sequence))
        var evidence: [Evidence] = []
        // A kernel copy from I to O is a derivation by itself.
        for w in writes where w.role == .copyOut {
            for r in (lineage.bySequence[w.sequence] ?? []).map({ lineage.placements[$0] })
            where r.role == .copyIn && r.object == key.input {
                evidence.append(Evidence(outputEvent: w.sequence, outputRange: 0..<w.length, outputObject: w.objectRange,
                                         inputEvent: r.sequence, inputRange: 0..<r.length, inputObject: r.objectRange,
                                         kind: "kernel copy", shifted: true))
            }
        }
        let readerByEvent = Dictionary(reads.map { ($0.sequence, $0) }, uniquingKeysWith: { a, _ in a })
        evidence += contentEvidence(writes: writes, reads: reads, readerByEvent: readerByEvent)
        // Input bytes that named the object (a path argument of the call that made O); span
        // evidence capped as in `contentEvidence`.
        var spanEvidence = 0
        for w in writes {
            for p in pathSinksByEvent[w.sequence] ?? [] {
                for span in p.sources where span.throughEvent != nil {
                    // A span of events: each read inside that holds bytes of it.
                    for r in reads where span.names(event: r.sequence) && spanEvidence < Self.spanEvidenceLimit {
                        guard let input = Self.clip(span.start, span.end, to: r) else { continue }
                        spanEvidence += 1
                        let metadata = r.role == .metadataIn
                        evidence.append(Evidence(outputEvent: w.sequence, outputRange: 0..<0, outputObject: nil,
                                                 inputEvent: r.sequence, inputRange: input,
                                                 inputObject: metadata ? nil : r.offset.map { ($0 + input.lowerBound)..<($0 + input.upperBound) },
                                                 kind: metadata ? "metadata" : "path", shifted: false, namedFile: true))
                    }
                }
                for s in p.sources where s.throughEvent == nil && readSequences.contains(s.event) {
                    let r = readerByEvent[s.event]
                    // A directory entry or a stat result that named the file is metadata
                    // (a path built from getdents names), not content of the input.
                    let metadata = r?.role == .metadataIn
                    evidence.append(Evidence(outputEvent: w.sequence, outputRange: 0..<0, outputObject: nil,
                                             inputEvent: s.event, inputRange: s.start..<s.end,
                                             inputObject: metadata ? nil : r?.offset.map { ($0 + s.start)..<($0 + s.end) },
                                             kind: metadata ? "metadata" : "path", shifted: false, namedFile: true))
                }
            }
        }
        if !evidence.isEmpty {
            return Verdict(status: .confirmed, kinds: Set(evidence.map(\.kind)), evidence: evidence, writer: c.writer)
        }
        // Control: I's bytes steered a branch before an output event of O (directly, or as
        // bytes an exec carried into the new image).
        let lastWrite = writes.map(\.sequence).max() ?? 0
        for unit in c.units where unit >= 0 && match.completed[unit] != nil {
            for (event, first) in controlByUnit[unit] ?? [:] where first < lastWrite && !readSequences.contains(event) {
                if let g = (flowsByOutput[event] ?? []).first(where: { Self.names($0.flow, anyOf: readSequences) }) {
                    let output = writes.map(\.sequence).filter { $0 > first }.min() ?? lastWrite
                    return Verdict(status: .implicit,
                                   reason: "bytes of @\(g.flow.input) carried by exec @\(event) steered a branch at @\(first) before @\(output)",
                                   writer: c.writer)
                }
            }
            for r in reads {
                if let first = controlByUnit[unit]?[r.sequence], first < lastWrite {
                    let output = writes.map(\.sequence).filter { $0 > first }.min() ?? lastWrite
                    return Verdict(status: .implicit,
                                   reason: "\(r.operation)@\(r.sequence) steered a branch at @\(first) before \(writes.first { $0.sequence == output }?.operation ?? "output")@\(output)",
                                   writer: c.writer)
                }
            }
        }
        if let doubt = doubt(key, c, reads: reads, writes: writes) {
            return Verdict(status: .unverified, reason: doubt, writer: c.writer)
        }
        if c.throughSharedMemory {
            return Verdict(status: .unverified, reason: "through memory shared with another process: no flow seen, and only processes replayed as one group carry labels across", writer: c.writer)
        }
        let reason = reads.isEmpty
            ? "no byte of the input reached the process (only \(inputOperations[c.reader]?[key.input]?.sorted().joined(separator: ", ") ?? "opened"))"
            : "no byte read from the input reached the output, and it steered no branch before it"
        return Verdict(status: .refuted, reason: reason, writer: c.writer)
    }

    /// Flows of the output events `writes` whose input is one of the read events in
    /// `readerByEvent` (directly, or through bytes an exec relayed): the data evidence of
    /// a pair. A read event is global, so this also finds flows whose labels crossed
    /// between processes replayed as one shared-memory group. Cost: one pass over the
    /// writes' flows.
    func contentEvidence(writes: [EventPlacement], reads: [EventPlacement],
                         readerByEvent: [UInt64: EventPlacement]) -> [Evidence] {
        var evidence: [Evidence] = []
        var spanEvidence = 0
        for w in writes where w.role == .contentOut || w.role == .mapOut {
            for (_, f) in flowsByOutput[w.sequence] ?? [] {
                if f.lastInput != f.input {
                    // A span of events (a coarsened set over many inputs): each read inside,
                    // a few times per pair (every later output names them all again).
                    for r in reads where f.names(input: r.sequence) && spanEvidence < Self.spanEvidenceLimit {
                        if r.role == .metadataIn && f.addressOnly { continue }
                        guard let input = Self.clip(f.inputStart, f.inputEnd, to: r) else { continue }
                        spanEvidence += 1
                        evidence.append(Evidence(write: w, f.outputStart..<f.outputEnd, read: r, input,
                                                 kind: r.role == .metadataIn ? "metadata" : f.addressOnly ? "address" : "value",
                                                 shifted: false))
                    }
                    evidence += relayedEvidence(output: w, flow: f, readerByEvent: readerByEvent)
                    continue
                }
                guard let r = readerByEvent[f.input] else {
                    evidence += relayedEvidence(output: w, flow: f, readerByEvent: readerByEvent)
                    continue
                }
                // A stat result that only sized a buffer (reached pointers, not values) is
                // no data flow: the input stays implicit at most.
                if r.role == .metadataIn && f.addressOnly { continue }
                let kind = r.role == .metadataIn ? "metadata" : f.addressOnly ? "address" : "value"
                evidence.append(Evidence(write: w, f.outputStart..<f.outputEnd, read: r, f.inputStart..<f.inputEnd,
                                         kind: kind, shifted: f.isCopy))
            }
        }
        return evidence
    }

    /// Whether `input` reached process `reader` only as an executable image: an execve
    /// named it (the program, its interpreter, symlinks on the way) and the process
    /// itself neither read nor mapped it.
    func isImage(_ input: Int, of reader: Int) -> Bool {
        (inputOperations[reader]?[input] ?? []).contains("execve") && !placements(input, reader).contains { $0.role.isInput }
    }

    /// An executable image's pair. Its mapped bytes are no taint source, so no flow
    /// confirms or refutes it by itself: the program reaches the output only through what
    /// its process did there.
    ///   - The writer's own program (same memory, no exec or hop on the way) made the
    ///     output: kept (`unverified`, shown as `image`).
    ///   - Any other process (upstream through an exec, an exit status, shared memory):
    ///     its program reaches the output through that process's own inputs. When one of
    ///     them still has a confirmed, implicit or unverified derivation to the output the
    ///     same way, the image is kept; when every one is refuted, so is the image. The
    ///     loader's cache, libraries and locale data every program reads (system files)
    ///     count only for a process that read nothing else: a process none of whose own
    ///     inputs reached the output passed on nothing but what its code computed, and
    ///     code constants are no source (as the literals of an exec's arguments are not).
    ///   - A process that read nothing besides its image, or that was not refined: kept.
    /// A partially replayed unit on the way keeps it unverified, never refuted.
    func judgeImage(_ key: PairKey, _ c: Contribution) -> Verdict {
        let process = nodes[c.reader]
        let who = process.label
        var v = Verdict(status: .unverified, writer: c.writer)
        v.image = true
        for unit in c.units where unit < 0 || match.completed[unit] == nil {
            v.reason = "the program of \(who); \(lineage.unitNote(unit))"
            return v
        }
        if c.relay == nil && !c.crossesExec && !c.throughSharedMemory {
            v.reason = "the program of \(who), which made the output"
            return v
        }
        // Every input counts, system files too: a library or locale file that steered the
        // process before its output to O keeps its program as well (refuting the program
        // while its inputs stay implicit would refute what the replay did not check).
        let considered = (inputOperations[c.reader] ?? [:]).keys.filter { $0 != key.output && !isImage($0, of: c.reader) }.sorted()
        guard !considered.isEmpty else {
            v.reason = "the program of \(who), which read nothing else: what it passed on came from its code"
            return v
        }
        var refuted: [String] = []
        for i in considered {
            let other = judge(PairKey(input: i, output: key.output), c)
            let name = ProvenanceGraph.defaultName(nodes[i])
            if other.status != .refuted {
                let how = other.status == .confirmed ? "data flowed from it"
                        : other.status == .implicit ? "it steered a branch"
                        : other.reason ?? "the replay could not decide"
                v.reason = "the program of \(who), whose input \(name) reached the output (\(other.status.rawValue): \(how))"
                return v
            }
            refuted.append(name)
        }
        let listed = refuted.prefix(3).joined(separator: ", ") + (refuted.count > 3 ? " and \(refuted.count - 3) more" : "")
        return Verdict(status: .refuted,
                       reason: "the program of \(who), every input of which to the output was refuted (\(listed)): its image reaches it no other way",
                       writer: c.writer)
    }

    /// A pair connected only through a hop between two processes. A wait4 hop composes
    /// through the exit status: the child's summary says whether I's bytes reached the
    /// exit_group argument (data) or steered a branch before it (control), the receiver's
    /// summaries whether the status wait4 delivered reached O (data) or steered a branch
    /// before O's last write (control). Data on both sides confirms; any other influence
    /// on both sides is implicit; no influence on either side, with every unit on the way
    /// complete and no other doubt, refutes. Signals, process_vm copies, a child ended by
    /// a signal, more than one hop or an exec between the read and the exit stay unverified.
    func judgeRelay(_ key: PairKey, _ c: Contribution, _ hop: Relay) -> Verdict {
        let sender = nodes[hop.from].attributes["pid"]?.intValue.map { "pid \($0)" } ?? ProvenanceGraph.defaultName(nodes[hop.from])
        let via = "\(hop.operation)@\(hop.sequence)"
        let reads = placements(key.input, c.reader).filter { $0.role.isInput }
        let writes = placements(key.output, c.writer).filter { $0.role.isOutput }
        guard hop.composable, let exitEvent = hop.exitEvent, hop.operation == "wait4" || hop.operation == "waitid" else {
            // A memory copy between processes replayed as one group (process_vm_writev, a
            // pwrite to /proc/PID/mem) carries the sender's labels into the receiver: a
            // flow from the sender's read in the receiver's summary is data evidence. No
            // flow found refutes nothing (a signal carries no labels, and a copy between
            // processes replayed apart drops them).
            let evidence = contentEvidence(writes: writes, reads: reads,
                                           readerByEvent: Dictionary(reads.map { ($0.sequence, $0) }, uniquingKeysWith: { a, _ in a }))
            if !evidence.isEmpty {
                return Verdict(status: .confirmed, kinds: Set(evidence.map(\.kind)), evidence: evidence,
                               reason: "\(sender)'s bytes crossed \(via) with their labels (replayed as one group)",
                               writer: c.writer)
            }
            return Verdict(status: .unverified,
                           reason: "reached the writer from \(sender) only through \(via), which taint does not follow",
                           writer: c.writer)
        }
        if let doubt = doubt(key, c, reads: reads, writes: writes) {
            return Verdict(status: .unverified, reason: doubt, writer: c.writer)
        }
        let readSequences = Set(reads.map(\.sequence))
        let senderUnits = c.units.filter { !hop.receiverUnits.contains($0) }
        // The child's side: I -> exit status.
        let statusData = (flowsByOutput[exitEvent] ?? []).first { Self.names($0.flow, anyOf: readSequences) }
        let statusControl = senderUnits.lazy.compactMap { unit in
            reads.lazy.compactMap { r in self.controlByUnit[unit]?[r.sequence].flatMap { $0 < exitEvent ? (r, $0) : nil } }.first
        }.first
        // The receiver's side: exit status -> O.
        let lastWrite = writes.map(\.sequence).max() ?? 0
        let deliveredData = writes.first { w in (flowsByOutput[w.sequence] ?? []).contains { reaches(hop.sequence, $0.flow) } }
        let deliveredControl = hop.receiverUnits.lazy.compactMap { self.controlByUnit[$0]?[hop.sequence] }.first { $0 < lastWrite }
        let childSide = statusData.map { "read@\($0.flow.input) reached the exit status @\(exitEvent)" }
            ?? statusControl.map { "read@\($0.0.sequence) steered a branch at @\($0.1) before exit@\(exitEvent)" }
        let parentSide = deliveredData.map { "the status \(via) returned reached \($0.operation)@\($0.sequence)" }
            ?? deliveredControl.map { "the status \(via) returned steered a branch at @\($0) before the output" }
        guard let childSide, let parentSide else {
            let reason = childSide == nil
                ? "no byte read from the input reached \(sender)'s exit status, nor steered a branch before its exit@\(exitEvent)"
                : "the exit status \(via) returned reached no output and steered no branch before it"
            return Verdict(status: .refuted, reason: reason, writer: c.writer)
        }
        if let statusData, let w = deliveredData, let r = reads.first(where: { statusData.flow.names(input: $0.sequence) }) {
            let evidence = Evidence(outputEvent: w.sequence, outputRange: 0..<w.length, outputObject: nil,
                                    inputEvent: r.sequence, inputRange: statusData.flow.inputStart..<statusData.flow.inputEnd,
                                    inputObject: r.offset.map { ($0 + statusData.flow.inputStart)..<($0 + statusData.flow.inputEnd) },
                                    kind: "exit status", shifted: false)
            return Verdict(status: .confirmed, kinds: ["exit status"], evidence: [evidence],
                           reason: "\(childSide); \(parentSide)", writer: c.writer)
        }
        return Verdict(status: .implicit, reason: "through \(sender)'s exit status: \(childSide); \(parentSide)", writer: c.writer)
    }

    /// Whether `flow` carries bytes of event `source`: directly, or through bytes an exec
    /// relayed (the exec'ing image's flows into its execve event), up to a small depth.
    func reaches(_ source: UInt64, _ flow: TaintFlow, depth: Int = 0) -> Bool {
        if flow.names(input: source) { return true }
        guard depth < 4 else { return false }
        return fedEvents(named: flow).contains { event in
            (flowsByOutput[event] ?? []).contains { reaches(source, $0.flow, depth: depth + 1) }
        }
    }

    /// Evidence through an event that one replay unit sank and another labelled as its
    /// source (an execve's argument and environment strings: the old image's sink, the new
    /// image's input): `flow` ties output `w` to bytes of such an event, and a flow of the
    /// old image ties those bytes to a read of the input. Byte ranges compose exactly when
    /// both flows are copies; otherwise each side keeps its whole range. Follows chains of
    /// execs up to a small depth.
    func relayedEvidence(output w: EventPlacement, flow f: TaintFlow, readerByEvent: [UInt64: EventPlacement],
                         depth: Int = 0) -> [Evidence] {
        guard depth < 4 else { return [] }
        var evidence: [Evidence] = []
        for (_, g) in fedEvents(named: f).flatMap({ flowsByOutput[$0] ?? [] })
        where g.outputStart < f.inputEnd && f.inputStart < g.outputEnd {
            // Narrow f to the bytes g covers.
            let overlap = max(f.inputStart, g.outputStart)..<min(f.inputEnd, g.outputEnd)
            var narrowed = f
            if f.isCopy {
                let output = f.outputBytes(forInput: overlap)
                narrowed.outputStart = output.lowerBound
                narrowed.outputEnd = output.upperBound
            }
            let exact = narrowed.shifted && g.isCopy
            let inputRange = exact ? g.inputBytes(forOutput: overlap) : g.inputStart..<g.inputEnd
            if g.lastInput != g.input {
                // The feeding flow is a span: each read inside it (no further relay).
                for r in readerByEvent.values where g.names(input: r.sequence) {
                    if r.role == .metadataIn && (f.addressOnly || g.addressOnly) { continue }
                    guard let input = Self.clip(inputRange.lowerBound, inputRange.upperBound, to: r) else { continue }
                    let outputRange = narrowed.outputStart..<narrowed.outputEnd
                    evidence.append(Evidence(write: w, outputRange, read: r, input,
                                             kind: r.role == .metadataIn ? "metadata" : f.addressOnly || g.addressOnly ? "address" : "value",
                                             shifted: false))
                }
                continue
            }
            guard let r = readerByEvent[g.input] else {
                var next = narrowed
                next.input = g.input
                next.inputStart = inputRange.lowerBound
                next.inputEnd = inputRange.upperBound
                next.shifted = exact
                evidence += relayedEvidence(output: w, flow: next, readerByEvent: readerByEvent, depth: depth + 1)
                continue
            }
            if r.role == .metadataIn && (f.addressOnly || g.addressOnly) { continue }
            let outputRange = narrowed.outputStart..<narrowed.outputEnd
            evidence.append(Evidence(write: w, outputRange, read: r, inputRange,
                                     kind: r.role == .metadataIn ? "metadata" : f.addressOnly || g.addressOnly ? "address" : "value",
                                     shifted: exact))
        }
        return evidence
    }

    /// Why a pair without evidence may not be refuted, if it may not.
    func doubt(_ key: PairKey, _ c: Contribution, reads: [EventPlacement], writes: [EventPlacement]) -> String? {
        for unit in c.units where unit < 0 || match.completed[unit] == nil {
            return lineage.unitNote(unit)
        }
        // Stores into a shared mapping happen without a syscall: the replay has no sink for
        // them (SharedMemory.swift), so it cannot tell whether the input reached the object.
        if writes.contains(where: { $0.role == .mapOut }) {
            return "written through a shared mapping, whose stores are no taint sink: the replay cannot tell"
        }
        // Pages mapped with mmap reach the process whether or not the replay labelled them.
        if reads.contains(where: { $0.role == .mapIn && !isLabelled($0.sequence) }) {
            return "mapped with mmap, and no summary shows the mapping was labelled"
        }
        for n in [key.input, key.output] where concurrentlyWritten.contains(n) {
            return "\(ProvenanceGraph.defaultName(nodes[n])) has concurrent writers the trace cannot order"
        }
        return nil
    }

    /// Evidence entries a pair collects from coarsened flows over spans of events.
    static let spanEvidenceLimit = 8

    /// Confirmed derivations from metadata sources with no coarse edge (stat results).
    func metadataDerivations() -> [(PairKey, Verdict)] {
        var result: [PairKey: Verdict] = [:]
        for (sequence, flows) in flowsByOutput {
            let writes = (lineage.bySequence[sequence] ?? []).map { lineage.placements[$0] }
                .filter { $0.role == .contentOut || $0.role == .mapOut }
            for w in writes {
                for (_, f) in flows {
                    let span = f.lastInput != f.input
                    // A span's window holds other processes' events too: only the writer's
                    // own stat results inside it are taken (no new edge to a stranger).
                    for r in placements(from: f.input, through: f.lastInput)
                    where r.role == .metadataIn && r.object != w.object && (!span || r.process == w.process) {
                        let key = PairKey(input: r.object, output: w.object)
                        // A span names many stat results for each output: a few of its
                        // events are evidence enough.
                        if span, let v = result[key], v.evidence.count >= Self.spanEvidenceLimit { continue }
                        var v = result[key] ?? Verdict(status: .confirmed, writer: w.process)
                        v.kinds.insert("metadata")
                        v.evidence.append(Evidence(outputEvent: w.sequence, outputRange: f.outputStart..<f.outputEnd,
                                                   outputObject: w.offset.map { ($0 + f.outputStart)..<($0 + f.outputEnd) },
                                                   inputEvent: r.sequence, inputRange: f.inputStart..<f.inputEnd,
                                                   inputObject: nil, kind: "metadata", shifted: false))
                        result[key] = v
                    }
                }
            }
        }
        return result.sorted { ($0.key.output, $0.key.input) < ($1.key.output, $1.key.input) }.map { ($0.key, $0.value) }
    }

    // MARK: Edges

    /// The derivation edge for a pair, with its evidence as attributes.
    func edge(_ key: PairKey, _ v: Verdict) -> Edge {
        let target = nodes[key.output]
        var attributes: [String: AttributeValue] = [:]
        if let reason = v.reason { attributes["reason"] = .string(reason) }
        if v.image { attributes["image"] = .bool(true) }
        var bytes: Int64 = 0
        var low: Int64?, high: Int64?
        // One event may place bytes in an object twice (an open names its path and its file).
        let evidence = Set(v.evidence).sorted {
            let a = ($0.outputEvent, $0.outputRange.lowerBound, $0.outputRange.upperBound, $0.inputEvent, $0.inputRange.lowerBound)
            let b = ($1.outputEvent, $1.outputRange.lowerBound, $1.outputRange.upperBound, $1.inputEvent, $1.inputRange.lowerBound)
            return a != b ? a < b : ($0.inputRange.upperBound, $0.kind, $0.shifted ? 1 : 0) < ($1.inputRange.upperBound, $1.kind, $1.shifted ? 1 : 0)
        }
        if v.status == .confirmed {
            let order = ["value", "kernel copy", "path", "address", "exit status", "metadata"]
            attributes["flow"] = .string(order.first { v.kinds.contains($0) } ?? "value")
            if v.kinds.count > 1 { attributes["flows"] = .strings(order.filter { v.kinds.contains($0) }) }
            let outputRanges = Self.merged(evidence.compactMap(\.outputObject))
            let inputRanges = Self.merged(evidence.compactMap(\.inputObject))
            if !outputRanges.isEmpty { attributes["outputRanges"] = .strings(outputRanges.map { "\($0.lowerBound)-\($0.upperBound)" }) }
            if !inputRanges.isEmpty { attributes["inputRanges"] = .strings(inputRanges.map { "\($0.lowerBound)-\($0.upperBound)" }) }
            bytes = outputRanges.reduce(0) { $0 + Int64($1.count) }
            low = outputRanges.first?.lowerBound
            high = outputRanges.last?.upperBound
            attributes["outputEvents"] = .strings(Array(Set(evidence.map(\.outputEvent))).sorted().prefix(64).map(String.init))
            attributes["inputEvents"] = .strings(Array(Set(evidence.map(\.inputEvent))).sorted().prefix(64).map(String.init))
            var lines = evidence.prefix(32).map(describe)
            if evidence.count > 32 { lines.append("... \(evidence.count - 32) more") }
            attributes["evidence"] = .strings(lines)
        }
        let writer = v.writer.map { nodes[$0] }
        return Edge(id: 0, source: key.input, target: key.output, relation: .wasDerivedFrom, operation: "derived",
                    carriesFlow: true, precision: .refined, status: v.status, firstTime: target.startTime,
                    lastTime: target.startTime, sequence: evidence.first?.outputEvent ?? 0,
                    tid: Int32(truncatingIfNeeded: writer?.attributes["tid"]?.intValue ?? 0), bytes: bytes,
                    offsetLow: low, offsetHigh: high, attributes: attributes)
    }

    /// `write@12 [0,10) = bytes 10-20 <- read@9 [5,15) = bytes 105-115 (value, byte for byte)`.
    func describe(_ e: Evidence) -> String {
        func side(_ event: UInt64, _ r: Range<Int64>, _ o: Range<Int64>?) -> String {
            let name = (lineage.bySequence[event] ?? []).first.map { lineage.placements[$0].operation } ?? "event"
            var s = "\(name)@\(event)"
            if !r.isEmpty { s += " [\(r.lowerBound),\(r.upperBound))" }
            if let o { s += " = bytes \(o.lowerBound)-\(o.upperBound)" }
            return s
        }
        let how = (e.kind == "address" ? "table lookup" : e.kind) + (e.shifted && e.kind != "kernel copy" ? ", byte for byte" : "")
            + (e.namedFile && e.kind != "path" ? ", named the file" : "")
        return "\(side(e.outputEvent, e.outputRange, e.outputObject)) <- \(side(e.inputEvent, e.inputRange, e.inputObject)) (\(how))"
    }

    static func merged(_ ranges: [Range<Int64>]) -> [Range<Int64>] {
        var result: [Range<Int64>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where !r.isEmpty {
            if let last = result.last, r.lowerBound <= last.upperBound {
                result[result.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                result.append(r)
            }
        }
        return result
    }

    // MARK: Alerts

    /// Every alert of every summary, its sources mapped to objects and traced to origins.
    func alerts(graph: ProvenanceGraph) -> [RefinedAlert] {
        var result: [RefinedAlert] = []
        for (unit, s) in match.all.sorted(by: { $0.key < $1.key }) {
            for a in s.alerts {
                let sources = a.sources.map { r -> AlertSource in
                    let (direct, origins) = lineage.origins(ofInput: r.event, range: r.start..<r.end)
                    return AlertSource(event: r.event, eventStart: r.start, eventEnd: r.end,
                                       object: direct.first.map { objectBytes($0, graph) },
                                       origins: origins.map { objectBytes($0, graph) })
                }
                result.append(RefinedAlert(pid: s.pid, tid: a.tid, executable: build.units[unit].executable.isEmpty ? s.executable : build.units[unit].executable,
                                           address: a.address, target: a.target, function: a.function,
                                           instruction: a.instruction, sequence: a.sequence, replayCompleted: s.completed,
                                           sources: sources))
            }
        }
        return result.sorted { ($0.sequence, $0.address) < ($1.sequence, $1.address) }
    }
}

/// A byte endpoint with its node's printable name.
func objectBytes(_ e: ByteEndpoint, _ graph: ProvenanceGraph) -> ObjectBytes {
    let name = graph.nodes.indices.contains(e.node) ? ProvenanceGraph.defaultName(graph.nodes[e.node]) : "node \(e.node)"
    return ObjectBytes(node: e.node, name: name, kind: e.kind.rawValue, start: e.start, end: e.end, note: e.note)
}

extension RefinementState.Evidence {
    /// Bytes `outputRange` of write event `w` came from bytes `inputRange` of read event
    /// `r`; each range is also placed in its object when the event's file offset is known.
    init(write w: EventPlacement, _ outputRange: Range<Int64>, read r: EventPlacement, _ inputRange: Range<Int64>,
         kind: String, shifted: Bool) {
        self.init(outputEvent: w.sequence, outputRange: outputRange,
                  outputObject: w.offset.map { ($0 + outputRange.lowerBound)..<($0 + outputRange.upperBound) },
                  inputEvent: r.sequence, inputRange: inputRange,
                  inputObject: r.offset.map { ($0 + inputRange.lowerBound)..<($0 + inputRange.upperBound) },
                  kind: kind, shifted: shifted)
    }
}
