// What users ask to see of a graph: without system files, with threads folded into their
// process, or reduced to "which outputs derive from which inputs". A view keeps the
// graph's node ids so exports can be compared with the store.

/// Choices for an export.
public struct ViewOptions: Sendable, Equatable {
    /// Keep shared libraries, locale data, /proc, /dev/null... (see `SystemFiles`).
    public var includeSystemFiles = false
    /// Fold each thread's nodes into the process node that created it.
    public var collapseThreads = false
    /// Only files: inputs (read, never written in the recording) and outputs (last
    /// versions of files the recording wrote), with an edge where an output derives from
    /// an input.
    public var inputsAndOutputsOnly = false
    /// Keep edges that carry no flow (close, dup, failed calls, associations).
    public var includeAnnotations = true
    /// Leave out the refinement's derivation edges: the graph as the syscalls showed it.
    /// (On a refined graph, derivations are kept by default and refuted ones always dropped;
    /// input/output derivations then follow the refined derivations only.)
    public var coarse = false

    public init(includeSystemFiles: Bool = false, collapseThreads: Bool = false, inputsAndOutputsOnly: Bool = false,
                includeAnnotations: Bool = true, coarse: Bool = false) {
        self.includeSystemFiles = includeSystemFiles; self.collapseThreads = collapseThreads
        self.inputsAndOutputsOnly = inputsAndOutputsOnly; self.includeAnnotations = includeAnnotations
        self.coarse = coarse
    }
}

/// A subset of a graph's nodes and edges, ready to export.
public struct GraphView: Sendable {
    public var origin: GraphOrigin
    public var nodes: [Node]
    public var edges: [Edge]
}

extension ProvenanceGraph {
    public func view(_ options: ViewOptions = ViewOptions()) -> GraphView {
        if options.inputsAndOutputsOnly { return inputsAndOutputs(options) }
        var keep = nodes.map { options.includeSystemFiles || !$0.isSystem }
        var representative = Array(nodes.indices)
        if options.collapseThreads { representative = threadRepresentatives() }
        for (i, r) in representative.enumerated() where r != i { keep[i] = false }
        struct Key: Hashable { var source: Int, target: Int, operation: String, failed: Bool, flow: Bool }
        var merged: [Key: Int] = [:]
        var result: [Edge] = []
        for e in edges where e.status != .refuted && (options.includeAnnotations || e.isActiveFlow)
            && (!options.coarse || e.precision == .coarse) {
            let s = representative[e.source], t = representative[e.target]
            guard s != t, keep[s], keep[t] else { continue }
            let key = Key(source: s, target: t, operation: e.operation, failed: e.failed, flow: e.carriesFlow)
            if let i = merged[key] {
                result[i].calls += e.calls
                result[i].bytes += e.bytes
                result[i].firstTime = min(result[i].firstTime, e.firstTime)
                result[i].lastTime = max(result[i].lastTime, e.lastTime)
                continue
            }
            var copy = e
            copy.source = s
            copy.target = t
            merged[key] = result.count
            result.append(copy)
        }
        // Nodes left without edges (a failed exec's path once annotations are hidden) go too.
        var connected = [Bool](repeating: false, count: nodes.count)
        for e in result { connected[e.source] = true; connected[e.target] = true }
        let kept = nodes.filter { keep[$0.id] && connected[$0.id] }
        return GraphView(origin: origin, nodes: kept, edges: result)
    }

    /// For each node, the node that stands for it once threads fold into their process:
    /// a thread's nodes map to the node its creating `clone` edge came from.
    func threadRepresentatives() -> [Int] {
        var representative = Array(nodes.indices)
        var firstNodeOfEntity: [String: Int] = [:]
        for n in nodes where firstNodeOfEntity[n.entity] == nil { firstNodeOfEntity[n.entity] = n.id }
        var creator: [Int: Int] = [:]
        for e in edges where e.operation == "clone" && e.carriesFlow && nodes[e.target].attributes["thread"] == .bool(true) {
            creator[e.target] = e.source
        }
        func resolve(_ id: Int, _ depth: Int) -> Int {
            guard depth < 64, nodes[id].attributes["thread"] == .bool(true),
                  let first = firstNodeOfEntity[nodes[id].entity], let parent = creator[first] else { return id }
            return resolve(parent, depth + 1)
        }
        for n in nodes where n.kind == .process { representative[n.id] = resolve(n.id, 0) }
        return representative
    }

    /// Inputs, outputs and "output derives from input" edges.
    func inputsAndOutputs(_ options: ViewOptions) -> GraphView {
        // On a refined graph, an output derives from an input along derivations (and versions).
        let refined = !options.coarse && edges.contains { $0.precision == .refined }
        var incoming = [[(node: Int, status: EdgeStatus)]](repeating: [], count: nodes.count)
        var hasFlowIn = [Bool](repeating: false, count: nodes.count)
        var hasFlowOut = [Bool](repeating: false, count: nodes.count)
        for e in edges where e.isActiveFlow {
            if e.precision == .coarse {
                hasFlowIn[e.target] = true
                hasFlowOut[e.source] = true
            }
            if !refined && e.precision == .coarse {
                incoming[e.target].append((e.source, .unverified))
            } else if refined && e.relation == .wasDerivedFrom {
                incoming[e.target].append((e.source, e.precision == .coarse ? .confirmed : e.status))
            }
        }
        var lastVersion: [String: Int] = [:]
        var writtenEntities = Set<String>()
        for n in nodes {
            lastVersion[n.entity] = n.id
            if hasFlowIn[n.id] && n.kind == .file { writtenEntities.insert(n.entity) }
        }
        let visible: (Node) -> Bool = { n in n.kind == .file && (options.includeSystemFiles || !n.isSystem) }
        let inputs = nodes.filter { visible($0) && !hasFlowIn[$0.id] && hasFlowOut[$0.id] && !writtenEntities.contains($0.entity) }
        let outputs = nodes.filter {
            visible($0) && writtenEntities.contains($0.entity) && lastVersion[$0.entity] == $0.id
                && $0.attributes["unlinked"] != .bool(true) && ($0.attributes["fileType"]?.stringValue ?? "regular") == "regular"
        }
        let inputIDs = Set(inputs.map(\.id))
        var derived: [Edge] = []
        // Strongest status first: an input reached through confirmed derivations only is
        // confirmed, else implicit, else unverified.
        let levels: [(EdgeStatus, Set<EdgeStatus>)] = refined
            ? [(.confirmed, [.confirmed]), (.implicit, [.confirmed, .implicit]), (.unverified, [.confirmed, .implicit, .unverified])]
            : [(.unverified, [.unverified])]
        for output in outputs {
            var found: [Int: EdgeStatus] = [:]
            for (status, allowed) in levels {
                var seen = Set([output.id])
                var stack = [output.id]
                while let n = stack.popLast() {
                    for (s, edgeStatus) in incoming[n] where allowed.contains(edgeStatus) && seen.insert(s).inserted {
                        if inputIDs.contains(s) && found[s] == nil { found[s] = status }
                        stack.append(s)
                    }
                }
            }
            for (s, status) in found.sorted(by: { $0.key < $1.key }) {
                derived.append(Edge(id: derived.count, source: s, target: output.id, relation: .wasDerivedFrom,
                                    operation: "derived", carriesFlow: true, precision: refined ? .refined : .coarse,
                                    status: status, firstTime: output.startTime, lastTime: output.startTime, sequence: 0, tid: 0))
            }
        }
        return GraphView(origin: origin, nodes: (inputs + outputs).sorted { $0.id < $1.id }, edges: derived)
    }
}
