// `why` and `impact`: resolve what the user named, run the lineage query in the store,
// and lay the answer out as a list by distance from the target.

import Foundation
import GRDB
import Trace

extension GraphStore {
    /// The store of a trace directory, built from the trace when it is missing, older
    /// than the trace or its taint summaries, unreadable, bound to another recording, or
    /// `rebuild` is set, or when it does not match its seal (edited since magprov wrote
    /// it, sealed for another recording or by another user's key: `checkSeal`). A rebuilt
    /// store is refined when `magprov replay --taint` left summaries of this recording;
    /// otherwise it holds the coarse graph.
    /// - Parameter notice: told why an existing store was not used (an edited one), in
    ///   words for the user.
    /// Cost of reuse: one SHA-256 pass over the store file.
    public static func openOrBuild(traceDirectory: String, rebuild: Bool = false,
                                   notice: (String) -> Void = { _ in }) throws -> GraphStore {
        let path = GraphStore.path(forTrace: traceDirectory)
        let root = currentRootChain(traceDirectory)
        if !rebuild, isFresh(store: path, trace: traceDirectory) {
            // A refined store answers for the recording it was refined from, and no other.
            // So does a coarse one: a store copied from another trace, or one whose trace was
            // re-recorded in place, is rebuilt (a store without the binding or the seal is
            // from an older magprov and is rebuilt too). The seal first: SQLite never opens a
            // file magprov did not write.
            let seal = checkSeal(path: path, rootChain: root)
            if seal.status == .holds, let store = try? GraphStore(path: path) {
                let bound = (try? store.boundRootChain()) ?? nil
                if bound == root { return store }
            } else if seal.status == .fails {
                notice("\(seal.detail); rebuilding the graph store from the trace")
            }
        }
        let reader: TraceReader
        do { reader = try TraceReader(directory: traceDirectory) } catch let e as TraceError {
            throw ProvenanceError.trace(e)
        }
        if hasTaintSummaries(traceDirectory), (try? TaintRefinement.refine(traceDirectory: traceDirectory)) != nil,
           let store = try? GraphStore(path: path) {
            return store
        }
        let build = CoarseGraphBuilder.buildWithPlacements(trace: reader)
        return try GraphStore.create(path: path, graph: build.graph, placements: build.placements, units: build.units,
                                     traceRoot: currentRootChain(traceDirectory))
    }

    /// The trace commitment the store was built from (a refined store's refinement names
    /// it; a coarse store keeps it in its meta table); nil for a store without one.
    public func boundRootChain() throws -> String? {
        if let refined = try refinement()?.traceRootChain { return refined }
        return try wrap { try queue.read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'rootChain'") } }
    }

    /// What identifies the trace's contents: its manifest's root commitment; for a trace
    /// without a manifest, the last checkpoint's root ("checkpoint ROOT"); "" with neither.
    public static func currentRootChain(_ trace: String) -> String {
        guard let reader = try? TraceReader(directory: trace) else { return "" }
        if let manifest = reader.manifest { return manifest.rootChain }
        return TraceCheckpoints.read(directory: trace).checkpoints.last.map { "checkpoint \($0.root)" } ?? ""
    }

    static func hasTaintSummaries(_ trace: String) -> Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: trace + "/taint")) ?? []).contains { $0.hasSuffix(".json") }
    }

    static func isFresh(store: String, trace: String) -> Bool {
        let fm = FileManager.default
        guard let storeDate = (try? fm.attributesOfItem(atPath: store))?[.modificationDate] as? Date else { return false }
        for name in ["header.json", "manifest.json", "taint"] {
            if let d = (try? fm.attributesOfItem(atPath: trace + "/" + name))?[.modificationDate] as? Date, d > storeDate {
                return false
            }
        }
        return true
    }

    /// The nodes a `why` or `impact` starts from. `why` starts at the newest version of
    /// what now has the name (what a user sees there); `impact` at every version that had it.
    /// `NAME@N` selects version N of what NAME names.
    public func startNodes(for target: String, direction: Direction, workingDirectory: String? = nil) throws -> [Node] {
        if let at = target.lastIndex(of: "@"), let version = Int(target[target.index(after: at)...]), version > 0,
           (try? nodes(named: target))?.isEmpty ?? true {
            let base = String(target[..<at])
            let all = try candidateNodes(for: base, workingDirectory: workingDirectory)
            guard let chosen = all.first(where: { $0.version == version }) else {
                let known = Set(all.map(\.version)).sorted().map(String.init).joined(separator: ", ")
                throw ProvenanceError.targetNotFound(target, suggestions: all.isEmpty ? [] : ["\(base) has versions \(known)"])
            }
            return [chosen]
        }
        let found = try candidateNodes(for: target, workingDirectory: workingDirectory)
        switch direction {
        case .forward:
            return found
        case .backward:
            let live = found.filter { $0.attributes["unlinked"] != .bool(true) }
            return [(live.isEmpty ? found : live).max(by: { $0.id < $1.id })!]
        }
    }

    /// Every node the name names, by the first spelling of it that names any.
    func candidateNodes(for target: String, workingDirectory: String?) throws -> [Node] {
        var candidates = [target]
        if !target.hasPrefix("/") && !target.hasPrefix("#") && !target.contains(":") {
            let origin = try origin()
            var bases = [FileManager.default.currentDirectoryPath]
            if let workingDirectory { bases.insert(workingDirectory, at: 0) }
            // The recorded working directory, from the trace this store sits in (the origin's
            // directory may be relative to wherever the store was built).
            let traceDirectory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "." 
            for directory in [traceDirectory, origin.traceDirectory] where !directory.isEmpty {
                if let root = try? TraceReader(directory: directory).header.cwd {
                    bases.append(root)
                    break
                }
            }
            candidates = bases.map { normalize($0 + "/" + target) } + [target]
        } else if target.hasPrefix("/") {
            candidates = [normalize(target)]
        }
        for name in candidates {
            let found = try nodes(named: name)
            if !found.isEmpty { return found }
        }
        throw ProvenanceError.targetNotFound(target, suggestions: (try? suggestions(for: target)) ?? [])
    }
}

/// The answer to `why` or `impact`, ordered by distance from the target.
public struct LineageReport: Sendable {
    public struct Entry: Sendable {
        public var node: Node
        /// Flow edges between this node and the target.
        public var distance: Int
        /// The operation of the edge that links it one step closer to the target; on a
        /// refined graph, what the derivation rests on: `data`, `metadata`, `implicit`,
        /// `unverified`, `image` (an executable image kept for its process; unverified in the
        /// store), or `version` between versions of one object.
        public var via: String
        /// The evidence of a refined edge: byte ranges and events, or why it is implicit
        /// or unverified. Empty on the coarse graph.
        public var evidence: String
    }
    public var direction: GraphStore.Direction
    public var mode: GraphStore.LineageMode
    public var targets: [Node]
    public var entries: [Entry]
    /// System files in the lineage left out of `entries`.
    public var hiddenSystemFiles: Int
    public var edgeCount: Int

    public init(direction: GraphStore.Direction, targets: [Node], nodes: [Node], edges: [Edge], includeSystemFiles: Bool,
                mode: GraphStore.LineageMode = .coarse) {
        self.direction = direction
        self.mode = mode
        self.targets = targets
        self.edgeCount = edges.count
        var next: [Int: [(Int, String, String)]] = [:]
        for e in edges {
            let (via, evidence) = Self.describe(e)
            if direction == .backward { next[e.target, default: []].append((e.source, via, evidence)) }
            else { next[e.source, default: []].append((e.target, via, evidence)) }
        }
        // Per node: distance, operation, evidence, and the node one hop nearer the target.
        var distance: [Int: (Int, String, String)] = [:]
        var nearer: [Int: Int] = [:]
        var frontier = targets.map(\.id)
        for t in frontier { distance[t] = (0, "", "") }
        var d = 0
        while !frontier.isEmpty {
            d += 1
            var following: [Int] = []
            for n in frontier {
                for (m, op, evidence) in next[n] ?? [] {
                    if let (known, knownOp, _) = distance[m] {
                        // Several edges between the same two nodes: name the data operation.
                        if known == d && Self.rank(op) < Self.rank(knownOp) { distance[m] = (d, op, evidence); nearer[m] = n }
                        continue
                    }
                    distance[m] = (d, op, evidence)
                    nearer[m] = n
                    following.append(m)
                }
            }
            frontier = following.sorted()
        }
        let targetIDs = Set(targets.map(\.id))
        let byID = Dictionary(nodes.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var hidden = 0
        var entries: [Entry] = []
        for n in nodes where !targetIDs.contains(n.id) {
            guard let (dist, via, found) = distance[n.id] else { continue }
            var evidence = found
            if n.isSystem && !includeSystemFiles { hidden += 1; continue }
            // Byte ranges "A <- B" are of the edge's two ends: past the first hop the other
            // end is not the target, so name it (its bytes are the A of `why`, the B of `impact`).
            if evidence.hasPrefix("bytes "), let m = nearer[n.id], !targetIDs.contains(m), let other = byID[m] {
                evidence = (direction == .backward ? "into " : "from ") + ProvenanceGraph.defaultName(other) + ": " + evidence
            }
            entries.append(Entry(node: n, distance: dist, via: via, evidence: evidence))
        }
        self.entries = entries.sorted { ($0.distance, $0.node.id) < ($1.distance, $1.node.id) }
        self.hiddenSystemFiles = hidden
    }

    /// What an edge says in a lineage line: its operation, or for a derivation its kind and
    /// evidence.
    static func describe(_ e: Edge) -> (via: String, evidence: String) {
        guard e.precision == .refined else { return (e.operation, "") }
        switch e.status {
        case .confirmed:
            let flow = e.attributes["flow"]?.stringValue ?? "value"
            var parts: [String] = []
            if case .strings(let output)? = e.attributes["outputRanges"], case .strings(let input)? = e.attributes["inputRanges"] {
                parts.append("bytes \(output.joined(separator: ",")) <- \(input.joined(separator: ","))")
            }
            if flow != "value" { parts.append(flow == "address" ? "table lookup" : flow) }
            if case .strings(let lines)? = e.attributes["evidence"], let first = lines.first {
                parts.append(first + (lines.count > 1 ? " (+\(lines.count - 1) more)" : ""))
            }
            // Metadata sources (stat results, directory entries, the exit status wait4
            // returns) are reported as metadata, whatever they reached.
            return (flow == "metadata" || flow == "exit status" ? "metadata" : "data", parts.joined(separator: "; "))
        case .implicit:
            return ("implicit", e.attributes["reason"]?.stringValue ?? "")
        case .unverified:
            return (e.attributes["image"] == .bool(true) ? "image" : "unverified", e.attributes["reason"]?.stringValue ?? "")
        case .refuted:
            return ("refuted", e.attributes["reason"]?.stringValue ?? "")
        }
    }

    /// Data operations explain a link better than opening or versioning.
    static func rank(_ operation: String) -> Int {
        switch operation {
        case "data": return 0
        case "metadata": return 1
        case "implicit": return 2
        case "unverified", "image": return 3
        case "open", "openat", "openat2", "creat": return 5
        case "version": return 6
        default: return 1
        }
    }

    /// The words a refined answer's lines start with, and what each means; the text
    /// explains the ones it used below its lines.
    public static let legend: [(word: String, meaning: String)] = [
        ("data", "bytes of it flowed into the output (evidence: byte ranges and events; \"table lookup\": only through an address dependency, a load at an address computed from its bytes)"),
        ("metadata", "facts about it flowed, not its content: a stat result, directory entries (also when they named the output), an exit status wait4 returned"),
        ("implicit", "no byte of it flowed, but it steered a branch before the output"),
        ("image", "the executable image of a process on the way (its bytes are no taint source), kept while that process still reaches the output"),
        ("unverified", "the replay could not decide; the reason is in parentheses"),
        ("version", "an earlier version of the same object"),
    ]

    /// Files that entered the recording from outside (read, never written in it).
    public var externalInputs: [Node] {
        entries.map(\.node).filter { $0.kind == .file && $0.version == 1 && $0.attributes["created"] == nil }
    }

    public var text: String {
        let verb = direction == .backward ? "came from" : "flowed into"
        var out = ""
        for t in targets {
            out += "\(describe(t)) \(verb)\(mode == .refined ? " (refined by taint)" : ""):\n"
        }
        if entries.isEmpty {
            switch (mode, direction) {
            case (.refined, _):
                out += "  nothing the refinement kept (links taint refuted are dropped; --coarse shows every recorded link)\n"
            case (.coarse, .backward): out += "  nothing: no recorded process wrote it (an input from outside the recording)\n"
            case (.coarse, .forward): out += "  nothing: no recorded process read it\n"
            }
        }
        let width = max(4, entries.map(\.via.count).max() ?? 0)
        // hops: edges between the node and the target; via: the edge's operation (coarse)
        // or derivation status (refined) at the node's end.
        if !entries.isEmpty { out += "  hops  \("via".padding(toLength: width, withPad: " ", startingAt: 0))  node\n" }
        // A long explanation shared by several lines (every pair of a process that was not
        // replayed gives the same reason) is printed once, below, and referred to as [n].
        var uses: [String: Int] = [:]
        for e in entries where e.evidence.count > 40 { uses[e.evidence, default: 0] += 1 }
        var notes: [String] = []
        var noteNumber: [String: Int] = [:]
        for e in entries {
            let via = e.via.padding(toLength: width, withPad: " ", startingAt: 0)
            out += "  \(String(e.distance).leftPadded(4))  \(via)  \(describe(e.node))"
            if (uses[e.evidence] ?? 0) > 1 {
                let n = noteNumber[e.evidence] ?? { notes.append(e.evidence); noteNumber[e.evidence] = notes.count; return notes.count }()
                out += "  [\(n)]"
            } else if !e.evidence.isEmpty {
                out += "  (\(e.evidence))"
            }
            out += "\n"
        }
        for (i, note) in notes.enumerated() { out += "  [\(i + 1)] \(note)\n" }
        if mode == .coarse && !entries.isEmpty {
            out += "where:\n  hops  edges between the node and the target\n"
                + "  via   the syscall that links the node to the one a hop nearer the target\n"
                + "  (vN)  the Nth version of an object or process (each change makes one)\n"
        }
        if mode == .refined {
            let used = Set(entries.map(\.via))
            let explained = Self.legend.filter { used.contains($0.word) }
            if !explained.isEmpty {
                out += "where:\n" + explained.map { "  \($0.word.padding(toLength: width, withPad: " ", startingAt: 0))  \($0.meaning)\n" }.joined()
            }
        }
        // Every kind present, in the order of NodeKind's cases, so the parts add up to the total.
        let byKind = NodeKind.allCases.compactMap { kind -> String? in
            let n = entries.filter { $0.node.kind == kind }.count
            return n == 0 ? nil : counted(n, "\(kind.rawValue) version")
        }
        out += "\(counted(entries.count, "node"))" + (byKind.isEmpty ? "" : " (\(byKind.joined(separator: ", ")))")
        if hiddenSystemFiles > 0 { out += "; \(counted(hiddenSystemFiles, "system file")) hidden (--include-system-files shows them)" }
        return out + "\n"
    }

    func describe(_ n: Node) -> String {
        var s = "\(n.kind.rawValue) \(n.label)"
        if n.version > 1 { s += " (v\(n.version))" }
        if n.kind == .process, case .strings(let argv)? = n.attributes["argv"], !argv.isEmpty {
            s += "  " + String(argv.joined(separator: " ").prefix(80))
        }
        if n.attributes["unlinked"] == .bool(true) { s += "  (deleted)" }
        return s
    }

    public func json() throws -> String {
        func node(_ n: Node) -> [String: Any] {
            var r: [String: Any] = ["id": n.id, "kind": n.kind.rawValue, "label": n.label, "version": n.version,
                                    "entity": n.entity]
            if !n.path.isEmpty { r["path"] = n.path }
            return r
        }
        let document: [String: Any] = [
            "direction": direction == .backward ? "why" : "impact",
            "graph": mode == .refined ? "refined" : "coarse",
            "targets": targets.map(node),
            "lineage": entries.map { e -> [String: Any] in
                var r = node(e.node); r["distance"] = e.distance; r["via"] = e.via
                if !e.evidence.isEmpty { r["evidence"] = e.evidence }
                return r
            },
            "hiddenSystemFiles": hiddenSystemFiles,
        ]
        let data = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
