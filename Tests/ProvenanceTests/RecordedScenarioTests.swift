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

    func dumpLines(_ g: ProvenanceGraph, _ dir: String) -> String {
        StableNames.lines(g, directory: dir).sorted().joined(separator: "\n")
    }

    func testExploreScenarios() throws {
        guard ProcessInfo.processInfo.environment["EXPLORE_SCENARIOS"] != nil else { return }
        let p = try recordPipeline()
        print("=== pipeline\n" + dumpLines(p.graph, p.dir))
        let dir = ProvenanceFixtures.temporaryDirectory("editor")
        try "original\n".write(toFile: dir + "/notes.txt", atomically: false, encoding: .utf8)
        let t = try ProvenanceFixtures.record([try ProvenanceFixtures.binary("editor"), "notes.txt"], in: dir)
        print("=== editor\n" + dumpLines(try ProvenanceFixtures.graph(ofTrace: t), dir))
        let nd = ProvenanceFixtures.temporaryDirectory("net")
        let nt = try ProvenanceFixtures.record([try ProvenanceFixtures.binary("net"), "pair"], in: nd)
        print("=== pair\n" + dumpLines(try ProvenanceFixtures.graph(ofTrace: nt), nd))
    }
}
