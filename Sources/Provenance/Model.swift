// The provenance graph: nodes are versions of things (a process image, a file's content at
// one time, the data written into a pipe), edges are what a syscall did between them.
//
// Edges point the way information flows: file -> process for a read, process -> file for a
// write, parent -> child for a fork. Every node receives all its incoming flow edges before
// it emits any (a node that gets new input after it has had output becomes a new version),
// so the flow edges form a DAG and lineage is plain reachability. Edges that carry no
// information (close, dup, a failed call, the user's association with a process) are kept
// for the record with `carriesFlow == false` and stay out of lineage.
//
// The taint stage refines this same model (TaintRefinement.swift): reads and writes stay
// facts, and it adds one `.refined` derivation edge (input version -> output version,
// `wasDerivedFrom`) per pair the coarse graph connects through a process, with a status
// (confirmed, implicit, refuted, unverified) and its evidence; refuted edges drop out of
// queries and exports.

/// What a node stands for.
public enum NodeKind: String, Sendable, CaseIterable, Codable {
    /// A task (thread or process image): a PROV activity.
    case process
    /// A file system object (regular file, directory, device, symlink): a PROV entity.
    case file
    case pipe
    case socket
    /// The user a process acts for: a PROV agent.
    case agent
    /// Other descriptor-backed objects (eventfd, timerfd, epoll, inotify).
    case other
}

/// A typed attribute value, as PROV-JSON and the store keep it.
public enum AttributeValue: Equatable, Hashable, Sendable, Codable, CustomStringConvertible {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case strings([String])

    /// Plain JSON: a string, a number, a boolean or an array of strings.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else { self = .strings(try c.decode([String].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .int(let i): try c.encode(i)
        case .bool(let b): try c.encode(b)
        case .strings(let a): try c.encode(a)
        }
    }

    public var description: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .strings(let a): return a.joined(separator: " ")
        }
    }

    public var intValue: Int64? { if case .int(let i) = self { return i }; return nil }
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
}

/// One version of a process, file, pipe, socket, agent or other object.
public struct Node: Equatable, Sendable {
    /// Dense index: `graph.nodes[id].id == id`; also the row id in the store.
    public var id: Int
    public var kind: NodeKind
    /// Identity of the thing this node is a version of: `file:DEV:INO`, `task:TID@SEQ`,
    /// `pipe:INO`, `socket:INO`, `agent:UID`, or `path:/abs/path` when no inode is known.
    public var entity: String
    /// 1 for the first version of the entity, then 2, 3, ...
    public var version: Int
    /// Short human name: a path, `make[1234]`, `127.0.0.1:80`, `pipe:[5678]`, `uid 1000`.
    public var label: String
    /// For files: the path this version was last known by (empty when unknown).
    public var path: String
    /// Nanoseconds since the recording started: when this version began and ended.
    public var startTime: UInt64
    public var endTime: UInt64?
    /// Shared libraries, locale data, /proc, /dev/null...: hidden by default in exports.
    public var isSystem: Bool
    public var attributes: [String: AttributeValue]

    public init(id: Int, kind: NodeKind, entity: String, version: Int, label: String, path: String = "",
                startTime: UInt64, endTime: UInt64? = nil, isSystem: Bool = false,
                attributes: [String: AttributeValue] = [:]) {
        self.id = id; self.kind = kind; self.entity = entity; self.version = version; self.label = label
        self.path = path; self.startTime = startTime; self.endTime = endTime; self.isSystem = isSystem
        self.attributes = attributes
    }
}

/// The W3C PROV relation an edge is exported as.
public enum Relation: String, Sendable, CaseIterable, Codable {
    /// entity -> activity (read, recv, mmap, exec of a binary)
    case used
    /// activity -> entity (write, send, creat, chmod, rename)
    case wasGeneratedBy
    /// activity -> activity (fork, exec, version, signal, process_vm_writev)
    case wasInformedBy
    /// entity -> entity (a file's next version, data crossing a connected socket pair)
    case wasDerivedFrom
    /// activity -> entity: the entity ended (unlink, rename over it)
    case wasInvalidatedBy
    /// agent -> activity: the user a process runs as
    case wasAssociatedWith
    /// Anything else, and every edge that carries no flow (close, dup, failed calls).
    case wasInfluencedBy
}

/// How an edge was established.
public enum EdgePrecision: String, Sendable, Codable {
    /// From the syscall layer alone: "this process read that file".
    case coarse
    /// From byte-level taint: "these bytes of the output came from those of the input".
    case refined
}

/// What the taint stage concluded about an edge.
public enum EdgeStatus: String, Sendable, Codable, CaseIterable {
    /// Not decided: a coarse fact, or a derivation the replay could not decide.
    case unverified
    /// Bytes flowed (the edge's attributes hold the events and byte ranges).
    case confirmed
    /// No byte flowed, but the input steered a branch before the output: control
    /// influence only. Kept in queries.
    case implicit
    /// No byte flowed and no branch was steered: the edge is dropped from queries and exports.
    case refuted
}

/// Something a syscall did from one node to another, aggregated over repeated calls of the
/// same operation between the same two nodes (a `cat` of a large file is one read edge
/// with a call count, a byte count and the offset range it covered).
public struct Edge: Equatable, Sendable {
    public var id: Int
    /// Where the information came from.
    public var source: Int
    /// Where it went.
    public var target: Int
    public var relation: Relation
    /// The syscall (`read`, `renameat2`, `execve`) or a builder operation (`version`, `fork`).
    public var operation: String
    /// True when the edge moves information and counts for lineage.
    public var carriesFlow: Bool
    /// The call failed; `errno` says why. Failed edges carry no flow.
    public var failed: Bool
    public var errno: Int32
    public var precision: EdgePrecision
    public var status: EdgeStatus
    /// Nanoseconds since the recording started, of the first and the last call.
    public var firstTime: UInt64
    public var lastTime: UInt64
    /// Global event sequence number of the first call.
    public var sequence: UInt64
    /// The task that made the first call.
    public var tid: Int32
    public var calls: Int
    /// Bytes moved (read, write, send, mmap length), summed over calls.
    public var bytes: Int64
    /// The file offsets covered, when known: [offsetLow, offsetHigh).
    public var offsetLow: Int64?
    public var offsetHigh: Int64?
    public var attributes: [String: AttributeValue]

    public init(id: Int, source: Int, target: Int, relation: Relation, operation: String, carriesFlow: Bool,
                failed: Bool = false, errno: Int32 = 0, precision: EdgePrecision = .coarse,
                status: EdgeStatus = .unverified, firstTime: UInt64, lastTime: UInt64, sequence: UInt64,
                tid: Int32, calls: Int = 1, bytes: Int64 = 0, offsetLow: Int64? = nil, offsetHigh: Int64? = nil,
                attributes: [String: AttributeValue] = [:]) {
        self.id = id; self.source = source; self.target = target; self.relation = relation
        self.operation = operation; self.carriesFlow = carriesFlow; self.failed = failed; self.errno = errno
        self.precision = precision; self.status = status; self.firstTime = firstTime; self.lastTime = lastTime
        self.sequence = sequence; self.tid = tid; self.calls = calls; self.bytes = bytes
        self.offsetLow = offsetLow; self.offsetHigh = offsetHigh; self.attributes = attributes
    }

    /// Counts for lineage: carries flow and has not been refuted.
    public var isActiveFlow: Bool { carriesFlow && !failed && status != .refuted }
}

/// Facts about the recording the graph came from.
public struct GraphOrigin: Equatable, Sendable, Codable {
    /// Seconds since the Unix epoch when recording started (edge times are offsets from it).
    public var startTime: Double
    public var command: String
    public var traceDirectory: String
    /// Trace read errors met while building (a killed recorder leaves a truncated tail).
    public var warnings: [String]

    public init(startTime: Double = 0, command: String = "", traceDirectory: String = "", warnings: [String] = []) {
        self.startTime = startTime; self.command = command; self.traceDirectory = traceDirectory
        self.warnings = warnings
    }
}

/// A provenance graph in memory: what the builder produces, the store saves and the
/// exporters read.
public struct ProvenanceGraph: Equatable, Sendable {
    public var origin: GraphOrigin
    public private(set) var nodes: [Node] = []
    public private(set) var edges: [Edge] = []

    public init(origin: GraphOrigin = GraphOrigin()) { self.origin = origin }

    /// Rebuilds a graph from stored rows; ids must be dense and in order.
    public init(origin: GraphOrigin, nodes: [Node], edges: [Edge]) throws {
        for (i, n) in nodes.enumerated() where n.id != i { throw ProvenanceError.corruptStore(reason: "node ids are not dense at \(i)") }
        for (i, e) in edges.enumerated() {
            guard e.id == i else { throw ProvenanceError.corruptStore(reason: "edge ids are not dense at \(i)") }
            guard nodes.indices.contains(e.source), nodes.indices.contains(e.target) else {
                throw ProvenanceError.corruptStore(reason: "edge \(i) names a node that does not exist")
            }
        }
        self.origin = origin; self.nodes = nodes; self.edges = edges
    }

    @discardableResult
    public mutating func addNode(kind: NodeKind, entity: String, version: Int, label: String, path: String = "",
                                 startTime: UInt64, isSystem: Bool = false,
                                 attributes: [String: AttributeValue] = [:]) -> Int {
        let id = nodes.count
        nodes.append(Node(id: id, kind: kind, entity: entity, version: version, label: label, path: path,
                          startTime: startTime, isSystem: isSystem, attributes: attributes))
        return id
    }

    /// Appends an edge; `edge.id` is replaced by its index.
    @discardableResult
    public mutating func addEdge(_ edge: Edge) -> Int {
        var e = edge
        e.id = edges.count
        edges.append(e)
        return e.id
    }

    public mutating func updateNode(_ id: Int, _ change: (inout Node) -> Void) { change(&nodes[id]) }
    public mutating func updateEdge(_ id: Int, _ change: (inout Edge) -> Void) { change(&edges[id]) }

    /// The taint stage's verdict on a coarse edge.
    public mutating func mark(edge id: Int, _ status: EdgeStatus) throws {
        guard edges.indices.contains(id) else { throw ProvenanceError.noSuchEdge(id) }
        edges[id].status = status
    }

    /// Drops an edge from lineage and exports (kept in the record as refuted).
    public mutating func drop(edge id: Int) throws { try mark(edge: id, .refuted) }

    /// Adds a precise flow edge found by taint, e.g. bytes [0, 64) of a file version to a
    /// process, or an input version directly to an output version (`wasDerivedFrom`).
    @discardableResult
    public mutating func addRefinedEdge(from source: Int, to target: Int, operation: String,
                                        sourceRange: Range<Int64>? = nil, targetRange: Range<Int64>? = nil,
                                        time: UInt64 = 0) throws -> Int {
        guard nodes.indices.contains(source) else { throw ProvenanceError.noSuchNode(source) }
        guard nodes.indices.contains(target) else { throw ProvenanceError.noSuchNode(target) }
        var attributes: [String: AttributeValue] = [:]
        if let r = sourceRange { attributes["sourceRange"] = .string("\(r.lowerBound)-\(r.upperBound)") }
        if let r = targetRange { attributes["targetRange"] = .string("\(r.lowerBound)-\(r.upperBound)") }
        let relation = Relation.between(nodes[source].kind, nodes[target].kind)
        return addEdge(Edge(id: 0, source: source, target: target, relation: relation, operation: operation,
                            carriesFlow: true, precision: .refined, status: .confirmed, firstTime: time,
                            lastTime: time, sequence: 0, tid: 0, bytes: Int64(sourceRange?.count ?? 0),
                            offsetLow: targetRange?.lowerBound, offsetHigh: targetRange?.upperBound,
                            attributes: attributes))
    }

    /// Summary counts, by node kind and in total.
    public var counts: (nodes: Int, edges: Int, flowEdges: Int, byKind: [NodeKind: Int]) {
        var byKind: [NodeKind: Int] = [:]
        for n in nodes { byKind[n.kind, default: 0] += 1 }
        return (nodes.count, edges.count, edges.filter(\.isActiveFlow).count, byKind)
    }
}

extension Relation {
    /// The PROV relation for a flow edge between nodes of these kinds.
    public static func between(_ source: NodeKind, _ target: NodeKind) -> Relation {
        switch (source.isActivity, target.isActivity) {
        case (false, true): return source == .agent ? .wasAssociatedWith : .used
        case (true, false): return target == .agent ? .wasInfluencedBy : .wasGeneratedBy
        case (true, true): return .wasInformedBy
        case (false, false): return .wasDerivedFrom
        }
    }
}

extension NodeKind {
    public var isActivity: Bool { self == .process }
}
