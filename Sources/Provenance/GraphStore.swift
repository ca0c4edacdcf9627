// The embedded graph store: one SQLite file (through GRDB) next to the trace.
//
// Lineage runs inside SQLite as a recursive query over partial indexes that hold only
// active flow edges (carries flow, not refuted), so `why` and `impact` touch the part of
// the graph they return and nothing else. Saving writes a new file and renames it over the
// old one: a reader never sees half a graph.
//
// A refined store (TaintRefinement.swift) holds the coarse edges, the derivation edges the
// refinement added (precision `refined`), the event placements and replay units byte-range
// lineage needs, and the refinement report, bound to the trace's root chain.
//
// Every store is sealed (`DerivedFileSeal`, provenance.sqlite.seal): the SHA-256 of the
// file's bytes and the root commitment it was built from, signed with the user's magprov
// key. `openOrBuild` and `magprov verify` check the seal, so a store edited after magprov
// wrote it (an edge status changed, an edge deleted, a store copied from another trace and
// re-bound) is rebuilt rather than answered from.

import Foundation
import GRDB
import Trace

public final class GraphStore {
    /// The store's file name inside a trace directory.
    public static let fileName = "provenance.sqlite"
    /// Bumped when the schema changes; older stores are rebuilt.
    public static let schemaVersion = 2

    public let path: String
    let queue: DatabaseQueue
    /// Where the key that seals the store lives (`TraceSigningKey`); nil: unsigned seals.
    let signingKeyDirectory: String?

    /// What the seal calls a graph store (part of the signed text).
    public static let sealKind = "graph store"

    /// The store of a trace directory.
    public static func path(forTrace directory: String) -> String { directory + "/" + fileName }

    /// Opens an existing store (read and update); its seal is not checked here
    /// (`checkSeal`, `openOrBuild`).
    /// - Parameter signingKeyDirectory: the key that re-seals the store after `mark`.
    public init(path: String, signingKeyDirectory: String? = TraceSigningKey.defaultDirectory()) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ProvenanceError.store(path: path, reason: "no graph store here; build it with `magprov graph DIR`")
        }
        self.path = path
        self.signingKeyDirectory = signingKeyDirectory
        do { queue = try DatabaseQueue(path: path) } catch {
            throw ProvenanceError.store(path: path, reason: "\(error)")
        }
        let version = try? queue.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'schemaVersion'")
        }
        guard version == String(Self.schemaVersion) else {
            throw ProvenanceError.corruptStore(reason: "schema version \(version.flatMap { $0 } ?? "missing"), expected \(Self.schemaVersion)")
        }
    }

    /// Writes `graph` as a new store at `path` (mode 0600), replacing any store there.
    /// - Parameters:
    ///   - placements, units: event coordinates of the graph's trace (byte-range lineage).
    ///   - refinement: the report of the refinement that made `graph`, if it is refined;
    ///     the store is then bound to the report's root chain.
    ///   - traceRoot: for a coarse store, the trace commitment it is bound to
    ///     (`openOrBuild` rebuilds a store bound to another).
    ///   - signingKeyDirectory: the user's magprov key (created on first use), which signs
    ///     the store's seal; nil, or a key that cannot be used: the seal is unsigned.
    /// Cost beyond the inserts: one SHA-256 pass over the new file and one signature.
    @discardableResult
    public static func create(path: String, graph: ProvenanceGraph, placements: [EventPlacement] = [],
                              units: [ReplayUnitInfo] = [], refinement: RefinementReport? = nil,
                              traceRoot: String? = nil,
                              signingKeyDirectory: String? = TraceSigningKey.defaultDirectory()) throws -> GraphStore {
        let temporary = path + ".tmp-\(getpid())"
        try? FileManager.default.removeItem(atPath: temporary)
        // Mode 0600 like every file of the trace (the store names what the program read);
        // SQLite keeps the mode of a file that exists, and gives it to its journals.
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ProvenanceError.store(path: path, reason: String(cString: strerror(errno))) }
        close(fd)
        do {
            var configuration = Configuration()
            configuration.prepareDatabase { db in
                // The file only becomes the store after a successful rename.
                try db.execute(sql: "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF")
            }
            let queue = try DatabaseQueue(path: temporary, configuration: configuration)
            try queue.write { db in
                try write(graph, to: db)
                try write(placements: placements, units: units, refinement: refinement, to: db)
                if refinement == nil, let traceRoot {
                    try db.execute(sql: "INSERT INTO meta VALUES ('rootChain', ?)", arguments: [traceRoot])
                }
            }
            try queue.close()
        } catch let e as ProvenanceError {
            try? FileManager.default.removeItem(atPath: temporary)
            throw e
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw ProvenanceError.store(path: path, reason: "\(error)")
        }
        // The old seal goes first: a crash between the rename and the new seal leaves a
        // store without one, which is rebuilt, never one that passes for another.
        DerivedFileSeal.removeSeal(of: path)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw ProvenanceError.store(path: path, reason: reason)
        }
        let store = try GraphStore(path: path, signingKeyDirectory: signingKeyDirectory)
        try store.seal(rootChain: refinement?.traceRootChain ?? traceRoot ?? "")
        return store
    }

    /// Writes the store's seal for its file as it is now.
    func seal(rootChain: String) throws {
        let key = signingKeyDirectory.flatMap { try? TraceSigningKey.loadOrCreate(directory: $0) }
        do { try DerivedFileSeal.seal(path: path, kind: Self.sealKind, rootChain: rootChain, key: key) } catch {
            throw ProvenanceError.store(path: path, reason: "cannot seal the store: \(error)")
        }
    }

    /// Checks the store file at `path` against its seal: unchanged since magprov wrote it,
    /// built from the trace whose commitment is `rootChain`, and signed by this user's key
    /// (the one in `signingKeyDirectory`, when there is one). Cost: one SHA-256 pass over
    /// the file (about 1 GB/s here), except when the file is unchanged since the last check
    /// by a user holding the key (`FILE.seal.verified`, `DerivedFileSeal.check`'s cache):
    /// then a stat and two small reads.
    public static func checkSeal(path: String, rootChain: String,
                                 signingKeyDirectory: String? = TraceSigningKey.defaultDirectory()) -> TraceCheck {
        let key = signingKeyDirectory.flatMap { try? TraceSigningKey.load(path: $0 + "/" + TraceSigningKey.privateKeyFile) }
        let trusted = key?.publicKeyHex ?? signingKeyDirectory.flatMap { TraceSigningKey.existingPublicKey(directory: $0) }
        return DerivedFileSeal.check(path: path, kind: sealKind, rootChain: rootChain, trustedKey: trusted, cacheKey: key)
    }

    private static let schema = """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE node(
            id INTEGER PRIMARY KEY, kind TEXT NOT NULL, entity TEXT NOT NULL, version INTEGER NOT NULL,
            label TEXT NOT NULL, path TEXT NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER,
            system INTEGER NOT NULL, unlinked INTEGER NOT NULL, attributes TEXT NOT NULL);
        CREATE TABLE edge(
            id INTEGER PRIMARY KEY, source INTEGER NOT NULL, target INTEGER NOT NULL, relation TEXT NOT NULL,
            operation TEXT NOT NULL, flow INTEGER NOT NULL, failed INTEGER NOT NULL, errno INTEGER NOT NULL,
            precision TEXT NOT NULL, status TEXT NOT NULL, first_ns INTEGER NOT NULL, last_ns INTEGER NOT NULL,
            sequence INTEGER NOT NULL, tid INTEGER NOT NULL, calls INTEGER NOT NULL, bytes INTEGER NOT NULL,
            offset_low INTEGER, offset_high INTEGER, attributes TEXT NOT NULL);
        CREATE TABLE node_path(path TEXT NOT NULL, node INTEGER NOT NULL);
        CREATE TABLE placement(
            sequence INTEGER NOT NULL, tid INTEGER NOT NULL, unit INTEGER NOT NULL, process INTEGER NOT NULL,
            object INTEGER NOT NULL, role TEXT NOT NULL, stream INTEGER NOT NULL, offset INTEGER,
            length INTEGER NOT NULL, operation TEXT NOT NULL);
        CREATE TABLE unit(
            id INTEGER PRIMARY KEY, pid INTEGER NOT NULL, tid INTEGER NOT NULL, start_sequence INTEGER NOT NULL,
            executable TEXT NOT NULL, forked INTEGER NOT NULL);
        """
    /// Created after the bulk insert (faster than maintaining them row by row).
    private static let indexes = """
        CREATE INDEX node_path_by_path ON node_path(path);
        CREATE INDEX node_by_entity ON node(entity, version);
        CREATE INDEX flow_by_target ON edge(target, source) WHERE flow = 1 AND status <> 'refuted' AND precision = 'coarse';
        CREATE INDEX flow_by_source ON edge(source, target) WHERE flow = 1 AND status <> 'refuted' AND precision = 'coarse';
        CREATE INDEX derivation_by_target ON edge(target, source)
            WHERE flow = 1 AND status <> 'refuted' AND relation = 'wasDerivedFrom';
        CREATE INDEX derivation_by_source ON edge(source, target)
            WHERE flow = 1 AND status <> 'refuted' AND relation = 'wasDerivedFrom';
        CREATE INDEX edge_by_endpoints ON edge(source, target);
        """

    private static func write(_ graph: ProvenanceGraph, to db: Database) throws {
        try db.execute(sql: schema)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func json<T: Encodable>(_ value: T) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
        let meta = try db.makeStatement(sql: "INSERT INTO meta VALUES (?, ?)")
        try meta.execute(arguments: ["schemaVersion", String(schemaVersion)])
        try meta.execute(arguments: ["origin", try json(graph.origin)])
        let nodeInsert = try db.makeStatement(sql: "INSERT INTO node VALUES (?,?,?,?,?,?,?,?,?,?,?)")
        let pathInsert = try db.makeStatement(sql: "INSERT INTO node_path VALUES (?, ?)")
        for n in graph.nodes {
            let unlinked = n.attributes["unlinked"] == .bool(true)
            nodeInsert.setUncheckedArguments([n.id, n.kind.rawValue, n.entity, n.version, n.label, n.path,
                                              Int64(bitPattern: n.startTime), n.endTime.map { Int64(bitPattern: $0) },
                                              n.isSystem, unlinked, try json(n.attributes)])
            try nodeInsert.execute()
            var paths = n.path.isEmpty ? [] : [n.path]
            if case .strings(let links)? = n.attributes["links"] { paths += links }
            for p in paths { try pathInsert.execute(arguments: [p, n.id]) }
        }
        let edgeInsert = try db.makeStatement(sql: "INSERT INTO edge VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
        for e in graph.edges {
            edgeInsert.setUncheckedArguments([e.id, e.source, e.target, e.relation.rawValue, e.operation, e.carriesFlow,
                                              e.failed, Int(e.errno), e.precision.rawValue, e.status.rawValue,
                                              Int64(bitPattern: e.firstTime), Int64(bitPattern: e.lastTime),
                                              Int64(bitPattern: e.sequence), Int(e.tid), e.calls, e.bytes,
                                              e.offsetLow, e.offsetHigh,
                                              e.attributes.isEmpty ? "{}" : try json(e.attributes)])
            try edgeInsert.execute()
        }
        // No ANALYZE: with statistics SQLite puts a Bloom filter on the edge table in the
        // recursive step, which scans the whole table once per query (170 ms at a million
        // edges, against 2 ms for a 1,000-node lineage through the index alone).
        try db.execute(sql: indexes)
    }

    private static func write(placements: [EventPlacement], units: [ReplayUnitInfo], refinement: RefinementReport?,
                              to db: Database) throws {
        let insert = try db.makeStatement(sql: "INSERT INTO placement VALUES (?,?,?,?,?,?,?,?,?,?)")
        for p in placements {
            insert.setUncheckedArguments([Int64(bitPattern: p.sequence), Int(p.tid), p.unit, p.process, p.object,
                                          p.role.rawValue, p.stream, p.offset, p.length, p.operation])
            try insert.execute()
        }
        let unitInsert = try db.makeStatement(sql: "INSERT INTO unit VALUES (?,?,?,?,?,?)")
        for (i, u) in units.enumerated() {
            try unitInsert.execute(arguments: [i, Int(u.pid), Int(u.tid), Int64(bitPattern: u.startSequence), u.executable, u.forked])
        }
        if let refinement {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try db.execute(sql: "INSERT INTO meta VALUES ('refinement', ?), ('rootChain', ?)",
                           arguments: [String(decoding: try encoder.encode(refinement), as: UTF8.self), refinement.traceRootChain])
        }
    }

    // MARK: Reading

    public func origin() throws -> GraphOrigin {
        try wrap {
            try queue.read { db in
                guard let text = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'origin'") else {
                    throw ProvenanceError.corruptStore(reason: "no origin record")
                }
                return try JSONDecoder().decode(GraphOrigin.self, from: Data(text.utf8))
            }
        }
    }

    public func counts() throws -> (nodes: Int, edges: Int) {
        try wrap {
            try queue.read { db in
                (try Int.fetchOne(db, sql: "SELECT count(*) FROM node") ?? 0,
                 try Int.fetchOne(db, sql: "SELECT count(*) FROM edge") ?? 0)
            }
        }
    }

    /// The whole graph, for export.
    public func load() throws -> ProvenanceGraph {
        let origin = try origin()
        return try wrap {
            try queue.read { db in
                let nodes = try Row.fetchAll(db, sql: "SELECT * FROM node ORDER BY id").map(Self.node)
                let edges = try Row.fetchAll(db, sql: "SELECT * FROM edge ORDER BY id").map(Self.edge)
                return try ProvenanceGraph(origin: origin, nodes: nodes, edges: edges)
            }
        }
    }

    public func node(_ id: Int) throws -> Node {
        try wrap {
            try queue.read { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM node WHERE id = ?", arguments: [id]) else {
                    throw ProvenanceError.noSuchNode(id)
                }
                return try Self.node(row)
            }
        }
    }

    /// Which way lineage runs.
    public enum Direction: Sendable {
        /// Where a node's content came from (`magprov why`).
        case backward
        /// What was derived from a node (`magprov impact`).
        case forward
    }

    /// Which edges lineage follows.
    public enum LineageMode: Sendable {
        /// Every active flow edge the syscalls showed (reads, writes, forks, execs...).
        case coarse
        /// Derivations between object versions: the refinement's confirmed, implicit and
        /// unverified edges (never refuted ones), and versions of one object.
        case refined
    }

    /// The lineage condition of a mode: the same as a pair of partial indexes' condition,
    /// so the recursive step reads the index alone.
    static func edgeFilter(_ mode: LineageMode) -> String {
        switch mode {
        case .coarse: return "e.flow = 1 AND e.status <> 'refuted' AND e.precision = 'coarse'"
        case .refined: return "e.flow = 1 AND e.status <> 'refuted' AND e.relation = 'wasDerivedFrom'"
        }
    }

    /// Every node reachable from `start` along active flow edges (including the start
    /// nodes), and the active flow edges among them. Runs as one recursive query.
    public func lineage(of start: [Int], direction: Direction, mode: LineageMode = .coarse) throws -> (nodes: [Node], edges: [Edge]) {
        guard !start.isEmpty else { return ([], []) }
        let (near, far) = direction == .backward ? ("target", "source") : ("source", "target")
        let seeds = start.map { "SELECT \($0)" }.joined(separator: " UNION ")
        let filter = Self.edgeFilter(mode)
        let reach = """
            WITH RECURSIVE reach(id) AS (
                \(seeds)
                UNION
                SELECT e.\(far) FROM edge e JOIN reach r ON e.\(near) = r.id
                WHERE \(filter)
            )
            """
        return try wrap {
            // inDatabase, not read: the temporary table is a write (to the temp schema only).
            try queue.inDatabase { db in
                try db.execute(sql: "CREATE TEMP TABLE IF NOT EXISTS reached(id INTEGER PRIMARY KEY)")
                try db.execute(sql: "DELETE FROM reached")
                try db.execute(sql: reach + " INSERT INTO reached SELECT id FROM reach")
                let nodes = try Row.fetchAll(db, sql: "SELECT n.* FROM node n JOIN reached r ON n.id = r.id ORDER BY n.id")
                    .map(Self.node)
                let edges = try Row.fetchAll(db, sql: """
                    SELECT e.* FROM reached r JOIN edge e ON e.\(near) = r.id
                    WHERE \(filter) AND e.\(far) IN (SELECT id FROM reached)
                    ORDER BY e.id
                    """).map(Self.edge)
                try db.execute(sql: "DELETE FROM reached")
                return (nodes, edges)
            }
        }
    }

    /// How many nodes `lineage` would return, counted inside SQLite without fetching rows
    /// (what the recursive query itself costs).
    public func lineageSize(of start: [Int], direction: Direction, mode: LineageMode = .coarse) throws -> Int {
        guard !start.isEmpty else { return 0 }
        let (near, far) = direction == .backward ? ("target", "source") : ("source", "target")
        let seeds = start.map { "SELECT \($0)" }.joined(separator: " UNION ")
        return try wrap {
            try queue.read { db in
                try Int.fetchOne(db, sql: """
                    WITH RECURSIVE reach(id) AS (
                        \(seeds)
                        UNION
                        SELECT e.\(far) FROM edge e JOIN reach r ON e.\(near) = r.id
                        WHERE \(Self.edgeFilter(mode))
                    )
                    SELECT count(*) FROM reach
                    """) ?? 0
            }
        }
    }

    /// Nodes a user's target names: a path (every version that had it, including links),
    /// an entity key (`pipe:123`, `socket:456`), `#ID`, or a socket address (`127.0.0.1:80`).
    public func nodes(named target: String) throws -> [Node] {
        try wrap {
            try queue.read { db in
                if target.hasPrefix("#"), let id = Int(target.dropFirst()) {
                    return try Row.fetchAll(db, sql: "SELECT * FROM node WHERE id = ?", arguments: [id]).map(Self.node)
                }
                var rows = try Row.fetchAll(db, sql: """
                    SELECT n.* FROM node n WHERE n.id IN (SELECT node FROM node_path WHERE path = ?) ORDER BY n.id
                    """, arguments: [target])
                if rows.isEmpty {
                    rows = try Row.fetchAll(db, sql: "SELECT * FROM node WHERE entity = ? ORDER BY id", arguments: [target])
                }
                if rows.isEmpty {
                    // A socket by its endpoints, as `graph` prints them (`127.0.0.1:80 -> 127.0.0.1:4242`).
                    rows = try Row.fetchAll(db, sql: "SELECT * FROM node WHERE kind IN ('socket', 'pipe', 'other') AND label = ? ORDER BY id",
                                            arguments: [target])
                }
                if rows.isEmpty {
                    rows = try Row.fetchAll(db, sql: """
                        SELECT * FROM node WHERE kind = 'socket' AND (
                            json_extract(attributes, '$.local') = ?1 OR json_extract(attributes, '$.remote') = ?1)
                        ORDER BY id
                        """, arguments: [target])
                }
                return try rows.map(Self.node)
            }
        }
    }

    /// Paths in the store that end like `target` (for "did you mean" hints).
    public func suggestions(for target: String, limit: Int = 5) throws -> [String] {
        let name = target.split(separator: "/").last.map(String.init) ?? target
        return try wrap {
            try queue.read { db in
                try String.fetchAll(db, sql: "SELECT DISTINCT path FROM node_path WHERE path LIKE ? ESCAPE '\\' LIMIT ?",
                                    arguments: ["%/" + escapeLike(name), limit])
            }
        }
    }

    private func escapeLike(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }

    // MARK: Refinement

    /// The report of the refinement this store holds, nil when it holds the coarse graph only.
    public func refinement() throws -> RefinementReport? {
        try wrap {
            try queue.read { db in
                guard let text = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'refinement'") else { return nil }
                return try JSONDecoder().decode(RefinementReport.self, from: Data(text.utf8))
            }
        }
    }

    /// The derivation edges the refinement added (every status, refuted ones included).
    public func derivations() throws -> [Edge] {
        try wrap {
            try queue.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM edge WHERE precision = 'refined' ORDER BY id").map(Self.edge)
            }
        }
    }

    /// Every event placement (event coordinates -> object coordinates), by sequence.
    public func placements() throws -> [EventPlacement] {
        try wrap {
            try queue.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM placement ORDER BY sequence").map { row -> EventPlacement in
                    guard let role = PlacementRole(rawValue: row["role"]) else {
                        throw ProvenanceError.corruptStore(reason: "unknown placement role \(row["role"] as String? ?? "")")
                    }
                    let sequence: Int64 = row["sequence"]
                    return EventPlacement(sequence: UInt64(bitPattern: sequence), tid: Int32(truncatingIfNeeded: row["tid"] as Int),
                                          unit: row["unit"], process: row["process"], object: row["object"], role: role,
                                          stream: row["stream"], offset: row["offset"], length: row["length"],
                                          operation: row["operation"])
                }
            }
        }
    }

    /// The trace's replay units (process images and forked children), by index.
    public func units() throws -> [ReplayUnitInfo] {
        try wrap {
            try queue.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM unit ORDER BY id").map { row in
                    let start: Int64 = row["start_sequence"]
                    return ReplayUnitInfo(pid: Int32(truncatingIfNeeded: row["pid"] as Int), tid: Int32(truncatingIfNeeded: row["tid"] as Int),
                                          startSequence: UInt64(bitPattern: start), executable: row["executable"], forked: row["forked"])
                }
            }
        }
    }

    /// Records the taint stage's verdict on an edge, and re-seals the store.
    public func mark(edge id: Int, _ status: EdgeStatus) throws {
        try wrap {
            try queue.write { db in
                try db.execute(sql: "UPDATE edge SET status = ? WHERE id = ?", arguments: [status.rawValue, id])
                guard db.changesCount == 1 else { throw ProvenanceError.noSuchEdge(id) }
            }
        }
        // magprov's own change: the seal follows it (one pass over the file per call).
        try seal(rootChain: (try boundRootChain()) ?? "")
    }

    // MARK: Rows

    private static func node(_ row: Row) throws -> Node {
        guard let kind = NodeKind(rawValue: row["kind"]) else {
            throw ProvenanceError.corruptStore(reason: "unknown node kind \(row["kind"] as String? ?? "")")
        }
        let start: Int64 = row["start_ns"], end: Int64? = row["end_ns"]
        return Node(id: row["id"], kind: kind, entity: row["entity"], version: row["version"], label: row["label"],
                    path: row["path"], startTime: UInt64(bitPattern: start), endTime: end.map { UInt64(bitPattern: $0) },
                    isSystem: row["system"], attributes: try attributes(row["attributes"]))
    }

    private static func edge(_ row: Row) throws -> Edge {
        guard let relation = Relation(rawValue: row["relation"]), let precision = EdgePrecision(rawValue: row["precision"]),
              let status = EdgeStatus(rawValue: row["status"]) else {
            throw ProvenanceError.corruptStore(reason: "edge \(row["id"] as Int? ?? -1) has an unknown relation, precision or status")
        }
        let first: Int64 = row["first_ns"], last: Int64 = row["last_ns"], sequence: Int64 = row["sequence"]
        return Edge(id: row["id"], source: row["source"], target: row["target"], relation: relation,
                    operation: row["operation"], carriesFlow: row["flow"], failed: row["failed"],
                    errno: Int32(truncatingIfNeeded: row["errno"] as Int), precision: precision, status: status,
                    firstTime: UInt64(bitPattern: first), lastTime: UInt64(bitPattern: last),
                    sequence: UInt64(bitPattern: sequence), tid: Int32(truncatingIfNeeded: row["tid"] as Int),
                    calls: row["calls"], bytes: row["bytes"], offsetLow: row["offset_low"], offsetHigh: row["offset_high"],
                    attributes: try attributes(row["attributes"]))
    }

    private static func attributes(_ text: String) throws -> [String: AttributeValue] {
        if text == "{}" { return [:] }
        do { return try JSONDecoder().decode([String: AttributeValue].self, from: Data(text.utf8)) } catch {
            throw ProvenanceError.corruptStore(reason: "unreadable attributes \(text.prefix(80))")
        }
    }

    func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as ProvenanceError { throw e } catch {
            throw ProvenanceError.store(path: path, reason: "\(error)")
        }
    }
}
