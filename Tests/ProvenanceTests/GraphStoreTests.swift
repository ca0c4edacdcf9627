import Foundation
import Trace
import XCTest
@testable import Provenance

/// The SQLite store: round trip, refinement, lineage in the database.
final class GraphStoreTests: XCTestCase {
    func temporaryStore() -> String {
        NSTemporaryDirectory() + "magprov-store-\(UUID().uuidString.prefix(8)).sqlite"
    }

    func pipelineGraph() -> ProvenanceGraph {
        var s = EventScript()
        s.start(1)
        s.exec(1, "/bin/cat", ["cat", "/in"], inode: 1)
        s.openRead(1, "/in", inode: 20, fd: 3)
        s.openWrite(1, "/out", inode: 21, fd: 4)
        s.read(1, fd: 3, s.file(0, "/in", 20), bytes: 10)
        s.write(1, fd: 4, s.file(0, "/out", 21), bytes: 10)
        return s.build()
    }

    func testStoreRoundTripsNodesAndEdges() throws {
        let graph = pipelineGraph()
        let path = temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try GraphStore.create(path: path, graph: graph)
        let loaded = try store.load()
        XCTAssertEqual(loaded.nodes, graph.nodes)
        XCTAssertEqual(loaded.edges, graph.edges)
    }

    /// A refuted edge (the taint stage found no byte flowed) drops out of lineage.
    func testRefutedEdgeLeavesLineage() throws {
        let path = temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let graph = pipelineGraph()
        let store = try GraphStore.create(path: path, graph: graph)
        let out = try store.startNodes(for: "/out", direction: .backward)
        XCTAssertTrue(try store.lineage(of: out.map(\.id), direction: .backward).nodes.contains { $0.path == "/in" })
        for e in graph.edges where graph.nodes[e.source].path == "/in" { try store.mark(edge: e.id, .refuted) }
        XCTAssertFalse(try store.lineage(of: out.map(\.id), direction: .backward).nodes.contains { $0.path == "/in" })
        XCTAssertThrowsError(try store.mark(edge: 10_000, .confirmed))
    }

    func testUnknownTargetSuggestsSimilarPaths() throws {
        let path = temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try GraphStore.create(path: path, graph: pipelineGraph())
        XCTAssertThrowsError(try store.startNodes(for: "/elsewhere/out", direction: .backward)) { error in
            XCTAssertEqual(error as? ProvenanceError, .targetNotFound("/elsewhere/out", suggestions: ["/out"]))
        }
    }

    /// Lineage on a million flow edges (set MAGPROV_PERF=1; it takes a while to build).
    func testLineageOnAMillionEdges() throws {
        guard ProcessInfo.processInfo.environment["MAGPROV_PERF"] != nil else {
            throw XCTSkip("set MAGPROV_PERF=1 to measure lineage on a million-edge store")
        }
        var graph = ProvenanceGraph()
        let nodes = 200_000
        for i in 0..<nodes {
            graph.addNode(kind: i % 4 == 0 ? .process : .file, entity: "e\(i)", version: 1, label: "/f/\(i)",
                          path: i % 4 == 0 ? "" : "/f/\(i)", startTime: UInt64(i))
        }
        // Each node feeds five later nodes within a window: a DAG with long, wide lineage.
        var rng = SystemRandomNumberGenerator()
        for i in 0..<nodes {
            for _ in 0..<5 {
                let t = i + 1 + Int(rng.next(upperBound: UInt64(64)))
                guard t < nodes else { continue }
                graph.addEdge(Edge(id: 0, source: i, target: t, relation: .used, operation: "read", carriesFlow: true,
                                   firstTime: 0, lastTime: 0, sequence: 0, tid: 0))
            }
        }
        let path = temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let buildStart = Date()
        let store = try GraphStore.create(path: path, graph: graph)
        let buildTime = Date().timeIntervalSince(buildStart)
        for target in ["/f/1001", "/f/1002", "/f/2001", "/f/20001", "/f/150001"] {
            let nodes = try store.startNodes(for: target, direction: .backward)
            let countStart = Date()
            let size = try store.lineageSize(of: nodes.map(\.id), direction: .backward)
            print("recursive query alone for \(target): \(size) nodes in \(Int(Date().timeIntervalSince(countStart) * 1000)) ms")
            let start = Date()
            let lineage = try store.lineage(of: nodes.map(\.id), direction: .backward)
            print("lineage of \(target) on \(graph.edges.count) edges: \(lineage.nodes.count) nodes, \(lineage.edges.count) edges in \(Int(Date().timeIntervalSince(start) * 1000)) ms (store built in \(Int(buildTime)) s)")
        }
    }
}

/// The store's seal (issue 11, part 4): a store edited after magprov wrote it is found out
/// and rebuilt, even when it still carries the trace's root commitment.
final class GraphStoreSealTests: XCTestCase {
    func recordedTrace(_ label: String, _ script: String) throws -> (directory: String, trace: String) {
        let dir = ProvenanceFixtures.temporaryDirectory(label)
        try "secret\n".write(toFile: dir + "/in.txt", atomically: false, encoding: .utf8)
        return (dir, try ProvenanceFixtures.record(["/bin/sh", "-c", script], in: dir))
    }

    func sources(of path: String, _ store: GraphStore) throws -> Set<String> {
        let start = try store.startNodes(for: path, direction: .backward)
        return Set(try store.lineage(of: start.map(\.id), direction: .backward).nodes.map(\.path))
    }

    func testAnEditedStoreWithTheRightCommitmentIsDetectedAndRebuilt() throws {
        let (dir, trace) = try recordedTrace("seal", "cat in.txt > out.txt")
        let path = GraphStore.path(forTrace: trace), root = GraphStore.currentRootChain(trace)
        var notices: [String] = []
        let store = try GraphStore.openOrBuild(traceDirectory: trace) { notices.append($0) }
        XCTAssertEqual(GraphStore.checkSeal(path: path, rootChain: root).status, .holds)
        XCTAssertTrue(try sources(of: dir + "/out.txt", store).contains(dir + "/in.txt"))

        // Refute every edge out of in.txt behind magprov's back: magprov's own update,
        // then the old seal put back, as an editor without the key would leave it.
        let oldSeal = try XCTUnwrap(FileManager.default.contents(atPath: DerivedFileSeal.sealPath(of: path)))
        let graph = try store.load()
        let inputs = Set(graph.nodes.filter { $0.path == dir + "/in.txt" }.map(\.id))
        for edge in graph.edges where inputs.contains(edge.source) { try store.mark(edge: edge.id, .refuted) }
        XCTAssertFalse(try sources(of: dir + "/out.txt", store).contains(dir + "/in.txt"), "the edit took effect")
        try oldSeal.write(to: URL(fileURLWithPath: DerivedFileSeal.sealPath(of: path)))
        XCTAssertEqual(try GraphStore(path: path).boundRootChain(), root, "the edited store still carries the commitment")
        let edited = GraphStore.checkSeal(path: path, rootChain: root)
        XCTAssertEqual(edited.status, .fails)
        XCTAssertTrue(edited.detail.contains("changed after magprov wrote it"), edited.detail)

        // The next query rebuilds, says why, and answers from the trace again.
        let rebuilt = try GraphStore.openOrBuild(traceDirectory: trace) { notices.append($0) }
        XCTAssertEqual(notices.count, 1)
        XCTAssertTrue(notices.first?.contains("rebuilding the graph store") ?? false, "\(notices)")
        XCTAssertTrue(try sources(of: dir + "/out.txt", rebuilt).contains(dir + "/in.txt"))
        XCTAssertEqual(GraphStore.checkSeal(path: path, rootChain: root).status, .holds)

        // Re-sealed by someone without this user's key: signed by another key, or unsigned.
        try DerivedFileSeal.seal(path: path, kind: GraphStore.sealKind, rootChain: root, key: .ephemeral())
        let foreign = GraphStore.checkSeal(path: path, rootChain: root)
        XCTAssertEqual(foreign.status, .fails)
        XCTAssertTrue(foreign.detail.contains("sealed by"), foreign.detail)
        try DerivedFileSeal.seal(path: path, kind: GraphStore.sealKind, rootChain: root, key: nil)
        XCTAssertEqual(GraphStore.checkSeal(path: path, rootChain: root).status, .fails)
        _ = try GraphStore.openOrBuild(traceDirectory: trace) { notices.append($0) }
        XCTAssertEqual(notices.count, 2)
        XCTAssertEqual(GraphStore.checkSeal(path: path, rootChain: root).status, .holds)
    }

    func testAStoreFromAnotherTraceIsNotAnsweredFrom() throws {
        let (_, trace) = try recordedTrace("seal-a", "cat in.txt > out.txt")
        let (_, other) = try recordedTrace("seal-b", "cat in.txt > other.txt")
        _ = try GraphStore.openOrBuild(traceDirectory: other)
        let path = GraphStore.path(forTrace: trace), otherPath = GraphStore.path(forTrace: other)
        try FileManager.default.copyItem(atPath: otherPath, toPath: path)
        try FileManager.default.copyItem(atPath: DerivedFileSeal.sealPath(of: otherPath), toPath: DerivedFileSeal.sealPath(of: path))
        let check = GraphStore.checkSeal(path: path, rootChain: GraphStore.currentRootChain(trace))
        XCTAssertEqual(check.status, .fails)
        XCTAssertTrue(check.detail.contains("another recording"), check.detail)
        var notices: [String] = []
        let store = try GraphStore.openOrBuild(traceDirectory: trace) { notices.append($0) }
        XCTAssertEqual(notices.count, 1)
        XCTAssertTrue(try store.nodes(named: "other.txt").isEmpty && store.load().nodes.contains { $0.path.hasSuffix("/out.txt") })
    }
}
