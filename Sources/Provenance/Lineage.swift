// `why` and `impact`: resolve what the user named, run the lineage query in the store,
// and lay the answer out as a list by distance from the target.

import Foundation
import Trace

extension GraphStore {
    /// The store of a trace directory, built from the trace when it is missing, older
    /// than the trace, unreadable, or `rebuild` is set.
    public static func openOrBuild(traceDirectory: String, rebuild: Bool = false) throws -> GraphStore {
        let path = GraphStore.path(forTrace: traceDirectory)
        if !rebuild, isFresh(store: path, trace: traceDirectory), let store = try? GraphStore(path: path) {
            return store
        }
        let reader: TraceReader
        do { reader = try TraceReader(directory: traceDirectory) } catch let e as TraceError {
            throw ProvenanceError.trace(e)
        }
        return try GraphStore.create(path: path, graph: CoarseGraphBuilder.build(trace: reader))
    }

    static func isFresh(store: String, trace: String) -> Bool {
        let fm = FileManager.default
        guard let storeDate = (try? fm.attributesOfItem(atPath: store))?[.modificationDate] as? Date else { return false }
        for name in ["header.json", "manifest.json"] {
            if let d = (try? fm.attributesOfItem(atPath: trace + "/" + name))?[.modificationDate] as? Date, d > storeDate {
                return false
            }
        }
        return true
    }

    /// The nodes a `why` or `impact` starts from. `why` starts at the newest version of
    /// what now has the name (what a user sees there); `impact` at every version that had it.
    public func startNodes(for target: String, direction: Direction, workingDirectory: String? = nil) throws -> [Node] {
        var candidates = [target]
        if !target.hasPrefix("/") && !target.hasPrefix("#") && !target.contains(":") {
            let origin = try origin()
            var bases = [FileManager.default.currentDirectoryPath]
            if let workingDirectory { bases.insert(workingDirectory, at: 0) }
            if let root = try? TraceReader(directory: origin.traceDirectory).header.cwd { bases.append(root) }
            candidates = bases.map { normalize($0 + "/" + target) } + [target]
        } else if target.hasPrefix("/") {
            candidates = [normalize(target)]
        }
        for name in candidates {
            let found = try nodes(named: name)
            if found.isEmpty { continue }
            switch direction {
            case .forward:
                return found
            case .backward:
                let live = found.filter { $0.attributes["unlinked"] != .bool(true) }
                if let newest = (live.isEmpty ? found : live).max(by: { $0.id < $1.id }) { return [newest] }
            }
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
        /// The operation of the edge that links it one step closer to the target.
        public var via: String
    }
    public var direction: GraphStore.Direction
    public var targets: [Node]
    public var entries: [Entry]
    /// System files in the lineage left out of `entries`.
    public var hiddenSystemFiles: Int
    public var edgeCount: Int

    public init(direction: GraphStore.Direction, targets: [Node], nodes: [Node], edges: [Edge], includeSystemFiles: Bool) {
        self.direction = direction
        self.targets = targets
        self.edgeCount = edges.count
        var next: [Int: [(Int, String)]] = [:]
        for e in edges {
            if direction == .backward { next[e.target, default: []].append((e.source, e.operation)) }
            else { next[e.source, default: []].append((e.target, e.operation)) }
        }
        var distance: [Int: (Int, String)] = [:]
        var frontier = targets.map(\.id)
        for t in frontier { distance[t] = (0, "") }
        var d = 0
        while !frontier.isEmpty {
            d += 1
            var following: [Int] = []
            for n in frontier {
                for (m, op) in next[n] ?? [] {
                    if let (known, knownOp) = distance[m] {
                        // Several edges between the same two nodes: name the data operation.
                        if known == d && Self.rank(op) < Self.rank(knownOp) { distance[m] = (d, op) }
                        continue
                    }
                    distance[m] = (d, op)
                    following.append(m)
                }
            }
            frontier = following.sorted()
        }
        let targetIDs = Set(targets.map(\.id))
        var hidden = 0
        var entries: [Entry] = []
        for n in nodes where !targetIDs.contains(n.id) {
            guard let (dist, via) = distance[n.id] else { continue }
            if n.isSystem && !includeSystemFiles { hidden += 1; continue }
            entries.append(Entry(node: n, distance: dist, via: via))
        }
        self.entries = entries.sorted { ($0.distance, $0.node.id) < ($1.distance, $1.node.id) }
        self.hiddenSystemFiles = hidden
    }

    /// Data operations explain a link better than opening or versioning.
    static func rank(_ operation: String) -> Int {
        switch operation {
        case "open", "openat", "openat2", "creat": return 2
        case "version": return 3
        default: return 1
        }
    }

    /// Files that entered the recording from outside (read, never written in it).
    public var externalInputs: [Node] {
        entries.map(\.node).filter { $0.kind == .file && $0.version == 1 && $0.attributes["created"] == nil }
    }

    public var text: String {
        let verb = direction == .backward ? "came from" : "flowed into"
        var out = ""
        for t in targets {
            out += "\(describe(t)) \(verb):\n"
        }
        if entries.isEmpty { out += "  nothing recorded\n" }
        let width = max(4, entries.map(\.via.count).max() ?? 0)
        for e in entries {
            let via = e.via.padding(toLength: width, withPad: " ", startingAt: 0)
            out += "  \(String(e.distance).leftPadded(3))  \(via)  \(describe(e.node))\n"
        }
        let processes = entries.filter { $0.node.kind == .process }.count
        let files = entries.filter { $0.node.kind == .file }.count
        out += "\(entries.count) nodes (\(processes) process versions, \(files) file versions)"
        if hiddenSystemFiles > 0 { out += "; \(hiddenSystemFiles) system files hidden (--include-system-files shows them)" }
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
            "targets": targets.map(node),
            "lineage": entries.map { e -> [String: Any] in
                var r = node(e.node); r["distance"] = e.distance; r["via"] = e.via; return r
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
