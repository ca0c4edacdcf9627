import Foundation
import XCTest
@testable import Provenance

/// Whole recordings: a shell pipeline, an editor's save, a client/server pair, and the
/// store, queries and exports on them.
final class RecordedScenarioTests: XCTestCase {
    func recordPipeline() throws -> (dir: String, trace: String, graph: ProvenanceGraph) {
        let dir = ProvenanceFixtures.temporaryDirectory("pipeline")
        try "hello\nworld\n".write(toFile: dir + "/in.txt", atomically: false, encoding: .utf8)
        let trace = try ProvenanceFixtures.record(["/bin/sh", "-c", "cat in.txt | tr a-z A-Z > out.txt"], in: dir)
        return (dir, trace, try ProvenanceFixtures.graph(ofTrace: trace))
    }

    func flowLines(_ g: ProvenanceGraph, _ dir: String) -> [String] {
        StableNames.lines(g, directory: dir).filter { !$0.contains("~") }.sorted()
    }

    /// sh -c 'cat in.txt | tr a-z A-Z > out.txt': exact flow edges, and out.txt's lineage
    /// reaches in.txt through cat, the pipe and tr.
    func testShellPipelineGraphAndLineage() throws {
        let (dir, trace, graph) = try recordPipeline()
        XCTAssertTrue(graph.flowIsAcyclic)
        XCTAssertEqual(flowLines(graph, dir), [
            "file $D/in.txt -openat-> process cat#1 v2",
            "file $D/in.txt -read-> process cat#1 v2",
            "file /usr/bin/cat -execve-> process cat#1 v2",
            "file /usr/bin/dash -execve-> process dash#0",
            "file /usr/bin/sh -execve-> process dash#0",
            "file /usr/bin/tr -execve-> process tr#2 v2",
            "pipe pipe#0 -read-> process tr#2 v2",
            "process cat#1 v2 -wait4-> process dash#0 v2",
            "process cat#1 v2 -write-> pipe pipe#0",
            "process dash#0 -fork-> process dash#1",
            "process dash#0 -fork-> process dash#2",
            "process dash#0 -pipe2-> pipe pipe#0",
            "process dash#0 -version-> process dash#0 v2",
            "process dash#1 -execve-> process cat#1 v2",
            "process dash#2 -execve-> process tr#2 v2",
            "process dash#2 -openat-> file $D/out.txt",
            "process tr#2 v2 -wait4-> process dash#0 v2",
            "process tr#2 v2 -write-> file $D/out.txt",
        ])
        let store = try GraphStore.openOrBuild(traceDirectory: trace)
        let targets = try store.startNodes(for: dir + "/out.txt", direction: .backward)
        let lineage = try store.lineage(of: targets.map(\.id), direction: .backward)
        let names = Set(lineage.nodes.map(\.label))
        XCTAssertTrue(names.isSuperset(of: [dir + "/in.txt", "/usr/bin/cat", "/usr/bin/tr"]), "\(names)")
        XCTAssertTrue(lineage.nodes.contains { $0.kind == .pipe })
        let forward = try store.lineage(of: try store.startNodes(for: dir + "/in.txt", direction: .forward).map(\.id),
                                        direction: .forward)
        XCTAssertTrue(forward.nodes.contains { $0.path == dir + "/out.txt" })
        XCTAssertFalse(forward.nodes.contains { $0.label == "/usr/bin/cat" }, "impact runs forward only")
    }

    /// The PROV-JSON of a recorded pipeline is one line and loads with Python's `prov` with
    /// no warning at all (`-W error`: an invalid qualified name such as `magprov:run as`
    /// fails); argv is one attribute holding the ordered list as JSON, and a failed call's
    /// `magprov:errno` is a number beside its `magprov:errnoName`.
    func testPipelineProvJSONLoadsWithPythonProv() throws {
        let (dir, _, graph) = try recordPipeline()
        let json = try ProvJSON.document(graph.view())
        XCTAssertFalse(json.contains("\n"))
        let file = dir + "/graph.json"
        try json.write(toFile: file, atomically: false, encoding: .utf8)
        let check = """
            import json, prov, sys
            doc = prov.read(sys.argv[1], format='json')
            records = doc.get_records()
            argvs = [v for r in records for k, v in r.attributes if k.localpart == 'argv']
            assert argvs, 'no magprov:argv attribute'
            assert all(isinstance(json.loads(a), list) for a in argvs), argvs
            assert ['tr', 'a-z', 'A-Z'] in [json.loads(a) for a in argvs], argvs
            errnos = [v for r in records for k, v in r.attributes if k.localpart == 'errno']
            assert all(isinstance(e, int) for e in errnos), errnos
            print(len(records), len([r for r in records if r.get_type().localpart == 'Activity']))
            """
        XCTAssertEqual(ProvenanceFixtures.run("/usr/bin/env", ["python3", "-c", "import prov"]), 0,
                       "the Python package `prov` is missing: Scripts/setup installs it (pip install prov)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-W", "error", "-c", check, file]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, errors)
        let numbers = printed.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
        let view = graph.view()
        XCTAssertEqual(numbers.first, view.nodes.count + view.edges.count, printed)
        XCTAssertEqual(numbers.last, view.nodes.filter { $0.kind == .process }.count, printed)
    }

    /// An editor writes notes.txt.tmp and renames it over notes.txt: `why notes.txt`
    /// reaches the editor and the old content it read.
    func testEditorRenameChainReachesTheFileUsersSee() throws {
        let dir = ProvenanceFixtures.temporaryDirectory("editor")
        try "original\n".write(toFile: dir + "/notes.txt", atomically: false, encoding: .utf8)
        let trace = try ProvenanceFixtures.record([try ProvenanceFixtures.binary("editor"), "notes.txt"], in: dir)
        let graph = try ProvenanceFixtures.graph(ofTrace: trace)
        let editorExe = ProvenanceFixtures.built["editor"] ?? ""
        XCTAssertEqual(flowLines(graph, dir).map { $0.replacingOccurrences(of: editorExe, with: "EDITOR") }, [
            "file $D/notes.txt -openat-> process fx_editor#0",
            "file $D/notes.txt -read-> process fx_editor#0",
            "file $D/notes.txt.tmp -version-> file $D/notes.txt v2",
            "file EDITOR -execve-> process fx_editor#0",
            "process fx_editor#0 -openat-> file $D/notes.txt.tmp",
            "process fx_editor#0 -rename-> file $D/notes.txt v2",
            "process fx_editor#0 -write-> file $D/notes.txt.tmp",
        ])
        let store = try GraphStore.openOrBuild(traceDirectory: trace)
        let target = try store.startNodes(for: "notes.txt", direction: .backward, workingDirectory: dir)
        XCTAssertEqual(target.map(\.version), [2])
        let lineage = try store.lineage(of: target.map(\.id), direction: .backward)
        let report = LineageReport(direction: .backward, targets: target, nodes: lineage.nodes, edges: lineage.edges,
                                   includeSystemFiles: false)
        XCTAssertEqual(report.entries.map { "\($0.distance) \($0.via) \($0.node.kind.rawValue) \($0.node.label)" }
                        .filter { !$0.contains(editorExe) }, [
            "1 rename process fx_editor[\(graph.nodes.first { $0.kind == .process }?.attributes["pid"]?.intValue ?? 0)]",
            "1 version file \(dir)/notes.txt.tmp",
            "2 read file \(dir)/notes.txt",
        ])
    }

    /// A server and a forked client exchange ping/pong on loopback: each side's receive
    /// comes from the other side's socket end.
    func testClientServerPairOnLoopback() throws {
        let dir = ProvenanceFixtures.temporaryDirectory("net")
        let trace = try ProvenanceFixtures.record([try ProvenanceFixtures.binary("net"), "pair"], in: dir)
        let graph = try ProvenanceFixtures.graph(ofTrace: trace)
        XCTAssertTrue(graph.flowIsAcyclic)
        let exe = ProvenanceFixtures.built["net"] ?? ""
        XCTAssertEqual(flowLines(graph, dir).map { $0.replacingOccurrences(of: exe, with: "NET") }, [
            "file NET -execve-> process fx_net#0",
            "process fx_net#0 -bind-> socket 127.0.0.1:PORT",
            "process fx_net#0 -fork-> process fx_net#1",
            "process fx_net#0 -socket-> socket 127.0.0.1:PORT",
            "process fx_net#0 -version-> process fx_net#0 v2",
            "process fx_net#0 v2 -sendto-> socket 127.0.0.1:PORT",
            "process fx_net#0 v2 -version-> process fx_net#0 v3",
            "process fx_net#1 -connect-> socket -> 127.0.0.1:PORT",
            "process fx_net#1 -sendto-> socket -> 127.0.0.1:PORT",
            "process fx_net#1 -socket-> socket -> 127.0.0.1:PORT",
            "process fx_net#1 -version-> process fx_net#1 v2",
            "process fx_net#1 v2 -wait4-> process fx_net#0 v3",
            "socket -> 127.0.0.1:PORT -recvfrom-> process fx_net#0 v2",
            "socket 127.0.0.1:PORT -accept-> process fx_net#0 v2",
            "socket 127.0.0.1:PORT -recvfrom-> process fx_net#1 v2",
        ])
    }

    /// DOT draws kinds apart; SVG comes from Graphviz when installed, else a clear error.
    func testDotAndSvgExports() throws {
        let (_, _, graph) = try recordPipeline()
        let dot = DotExporter.dot(graph.view(ViewOptions(includeAnnotations: false)))
        XCTAssertTrue(dot.contains("shape=box"))
        XCTAssertTrue(dot.contains("shape=ellipse"))
        XCTAssertTrue(dot.contains("shape=diamond"))
        XCTAssertTrue(dot.contains("label=\"read"))
        do {
            let svg = try DotExporter.svg(fromDot: dot)
            XCTAssertTrue(svg.contains("<svg"))
        } catch ProvenanceError.graphvizMissing {
            XCTAssertTrue(ProvenanceError.graphvizMissing.description.contains("apt-get install graphviz"))
        }
        let io = graph.view(ViewOptions(inputsAndOutputsOnly: true))
        // Programs that ran are inputs too (the files exec read), and so is the symlink the
        // exec went through (/bin/sh -> dash).
        XCTAssertEqual(io.nodes.map(\.label).map { ($0 as NSString).lastPathComponent }.sorted(),
                       ["cat", "dash", "in.txt", "out.txt", "sh", "tr"])
        XCTAssertEqual(io.edges.count, 5)
    }
}
