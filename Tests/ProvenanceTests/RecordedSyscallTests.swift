import Foundation
import XCTest
@testable import Provenance

/// Each syscall family recorded for real: a fixture run with the syscall and a control run
/// without it; the graphs must differ by exactly the expected edges.
final class RecordedSyscallTests: XCTestCase {
    struct Difference: Equatable, CustomStringConvertible {
        var added: [String]
        var removed: [String]
        var description: String { "added: \(added)\nremoved: \(removed)" }
    }

    /// Records `fixture mode [dir]` and `fixture control [dir]` in one fresh directory each
    /// (holding `in` with some bytes) and returns how their edge sets differ.
    func difference(_ fixture: String, _ mode: String, control: String = "control", passDirectory: Bool = true) throws -> Difference {
        let binary = try ProvenanceFixtures.binary(fixture)
        func lines(_ m: String) throws -> Set<String> {
            let dir = ProvenanceFixtures.temporaryDirectory("\(fixture)-\(m)")
            try "0123456789abcdef\n".write(toFile: dir + "/in", atomically: false, encoding: .utf8)
            try "other\n".write(toFile: dir + "/other", atomically: false, encoding: .utf8)
            let trace = try ProvenanceFixtures.record([binary, m] + (passDirectory ? [dir] : []), in: dir)
            let graph = try ProvenanceFixtures.graph(ofTrace: trace)
            XCTAssertTrue(graph.flowIsAcyclic, "\(fixture) \(m): flow edges form a cycle")
            return StableNames.lines(graph, directory: dir)
        }
        let with = try lines(mode), without = try lines(control)
        return Difference(added: with.subtracting(without).sorted(), removed: without.subtracting(with).sorted())
    }

    func testExplore() throws {
        let cases: [(String, String, String, Bool)] = ProcessInfo.processInfo.environment["EXPLORE"].map { spec in
            spec.split(separator: ",").map { item in
                let p = item.split(separator: ":").map(String.init)
                return (p[0], p[1], p.count > 2 ? p[2] : "control", p[0] != "proc" && p[0] != "net")
            }
        } ?? []
        for (f, m, c, d) in cases {
            let diff = try difference(f, m, control: c, passDirectory: d)
            print("=== \(f) \(m) vs \(c)\n\(diff.added.map { "+ " + $0 }.joined(separator: "\n"))\n\(diff.removed.map { "- " + $0 }.joined(separator: "\n"))")
        }
    }
}
