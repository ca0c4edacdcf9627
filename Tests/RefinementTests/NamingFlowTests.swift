// Calls that change what a name refers to (issue 10, "Naming what changed"): after each,
// `why NAME` must follow the object now under that name. Each test records a fixture
// (Fixtures/taint/naming_flows.c, or a script run by exec), checks the coarse lineage of the
// newest version of the name, and replays every process with zero divergence.

import Foundation
import Provenance
import Replayer
import Trace
import XCTest

final class NamingFlowTests: XCTestCase {
    struct Recorded {
        let directory: String
        let store: GraphStore
        let graph: ProvenanceGraph

        /// Files of the scratch directory the newest node named `name` derives from (coarse).
        func why(_ name: String) throws -> Set<String> {
            let path = directory + "/" + name
            guard let node = graph.nodes.filter({ $0.path == path }).max(by: { $0.id < $1.id }) else { return ["no node \(name)"] }
            let lineage = try store.lineage(of: [node.id], direction: .backward)
            return Set(lineage.nodes.filter { $0.id != node.id && $0.path.hasPrefix(directory + "/") }
                .map { String($0.path.dropFirst(directory.count + 1)) })
        }
    }

    func record(_ command: [String], in dir: String, file: StaticString = #filePath, line: UInt = #line) throws -> Recorded {
        let trace = try GroundTruth.record(command, in: dir, file: file, line: line)
        let replay = try ReplaySession(trace: try TraceReader(directory: trace)).run(options: ReplayOptions(jobs: 2))
        for (unit, divergence) in replay.divergences {
            XCTFail("process \(unit.pid) \(unit.executable) diverged: \(divergence)", file: file, line: line)
        }
        let store = try GraphStore.openOrBuild(traceDirectory: trace)
        return Recorded(directory: dir, store: store, graph: try store.load())
    }

    func scratchWithInputs(_ label: String) throws -> String {
        let dir = GroundTruth.scratch(label)
        try "TOPSECRET\n".write(toFile: dir + "/secret.txt", atomically: false, encoding: .utf8)
        try "public\n".write(toFile: dir + "/public.txt", atomically: false, encoding: .utf8)
        return dir
    }

    /// renameat2(RENAME_EXCHANGE) swaps two names: each name's newest version continues the
    /// object that is under it now (out.txt the staged secret, staged.txt the old out.txt),
    /// so `why out.txt` names secret.txt. (The process that swapped them descends from a
    /// parent that waited for both writers, so coarse lineage reaches public.txt through
    /// it too; the swap itself is checked on the version edges.)
    func testRenameExchangeSwapsBothNames() throws {
        let dir = try scratchWithInputs("exchange")
        let recorded = try record([try GroundTruth.compile("naming_flows"), "exchange"], in: dir)
        XCTAssertEqual(try String(contentsOfFile: dir + "/out.txt", encoding: .utf8), "TOPSECRET\n")
        XCTAssertEqual(try String(contentsOfFile: dir + "/staged.txt", encoding: .utf8), "public\n")
        func newest(_ name: String) -> Node? {
            recorded.graph.nodes.filter { $0.path == dir + "/" + name }.max { $0.id < $1.id }
        }
        func previousNames(_ name: String) -> Set<String> {
            guard let node = newest(name) else { return [] }
            let sources = recorded.graph.edges.filter { $0.target == node.id && $0.operation == "version" }.map(\.source)
            return Set(recorded.graph.nodes.filter { sources.contains($0.id) }.map { String($0.path.dropFirst(dir.count + 1)) })
        }
        XCTAssertEqual(previousNames("out.txt"), ["staged.txt"], "out.txt now continues the object staged.txt was")
        XCTAssertEqual(previousNames("staged.txt"), ["out.txt"], "staged.txt now continues the object out.txt was")
        let whyOut = try recorded.why("out.txt")
        XCTAssertTrue(whyOut.contains("secret.txt"), "why out.txt: \(whyOut)")
    }

    /// An O_TMPFILE written by a child and linked into the directory by the parent: the new
    /// name is in the graph and derives from what the child wrote.
    func testTmpfilePublishedByLinkatGetsItsName() throws {
        let dir = try scratchWithInputs("tmpfile")
        let recorded = try record([try GroundTruth.compile("naming_flows"), "tmpfile"], in: dir)
        XCTAssertEqual(try String(contentsOfFile: dir + "/out.txt", encoding: .utf8), "TOPSECRET\n")
        let why = try recorded.why("out.txt")
        XCTAssertTrue(why.contains("secret.txt"), "why out.txt: \(why)")
    }

    /// A `#!` script run through a symlink, whose interpreter is named through another
    /// symlink and never reads the script (`#!/bin/echo`): the script, both links and the
    /// interpreter are inputs of the process that wrote out.txt.
    func testScriptAndInterpreterChainAreExecInputs() throws {
        let dir = GroundTruth.scratch("script")
        try FileManager.default.createSymbolicLink(atPath: dir + "/echo-link", withDestinationPath: "/bin/echo")
        try "#!\(dir)/echo-link\n".write(toFile: dir + "/run.sh", atomically: false, encoding: .utf8)
        chmod(dir + "/run.sh", 0o755)
        try FileManager.default.createSymbolicLink(atPath: dir + "/run-link", withDestinationPath: "run.sh")
        let recorded = try record(["/bin/sh", "-c", "./run-link > out.txt"], in: dir)
        XCTAssertEqual(try String(contentsOfFile: dir + "/out.txt", encoding: .utf8), "./run-link\n")
        let why = try recorded.why("out.txt")
        XCTAssertTrue(why.isSuperset(of: ["run.sh", "run-link", "echo-link"]), "why out.txt: \(why)")
    }
}
