// tar over a tree: every directory entry and stat result reaches later paths and header
// bytes by address dependency, so one label set gathers every small input event so far.
// The summary stays bounded in the number of events (spans of events past the bound, marked
// coarsened) and still confirms every file that went into the archive.
import Foundation
import Trace
import XCTest

final class BoundedTaintTests: XCTestCase {
    func testTarOverATreeKeepsSummariesBoundedAndConfirmsEveryFile() throws {
        let dir = GroundTruth.scratch("tar")
        let dirs = 40
        var files: [String] = []
        for d in 1 ... dirs {
            try FileManager.default.createDirectory(atPath: "\(dir)/tree/d\(d)", withIntermediateDirectories: true)
            for f in 1 ... 3 {
                try "file \(d) \(f)\n".write(toFile: "\(dir)/tree/d\(d)/f\(f)", atomically: false, encoding: .utf8)
                files.append("tree/d\(d)/f\(f)")
            }
        }
        let refined = try GroundTruth.refine(["tar", "-cf", "out.tar", "tree"], in: dir)

        let tar = refined.summaries.filter { $0.executable.hasSuffix("/tar") }
        XCTAssertFalse(tar.isEmpty, "tar's summary: \(refined.summaries.map(\.executable))")
        for s in tar {
            // Bounded per sink: distinct input entries per output event and per path.
            var inputsPerOutput: [UInt64: Set<UInt64>] = [:]
            for f in s.flows { inputsPerOutput[f.output, default: []].insert(f.input) }
            XCTAssertLessThanOrEqual(inputsPerOutput.values.map(\.count).max() ?? 0, 2 * 256 + 2 * 64)
            XCTAssertLessThanOrEqual(s.pathSinks.map(\.sources.count).max() ?? 0, 2 * 64)
            // A span is always marked: in the flow, and counted in the statistics.
            XCTAssertTrue(s.flows.filter { $0.throughInput != nil }.allSatisfy(\.coarsened))
            let spans = s.flows.count(where: { $0.throughInput != nil }) + s.pathSinks.reduce(0) { total, sink in total + sink.sources.count(where: { $0.throughEvent != nil }) }
            XCTAssertEqual(s.statistics.spans ?? 0, spans)
        }
        var unconfirmed: [String] = []
        for f in files where refined.status(of: "out.tar", from: f) != "confirmed" {
            unconfirmed.append("\(f): \(refined.status(of: "out.tar", from: f))")
        }
        XCTAssertEqual(unconfirmed, [], "every archived file is a confirmed input of the archive")
        let why = try refined.refinedWhy("out.tar")
        XCTAssertTrue(Set(files).isSubset(of: why), "why out.tar names every file; missing: \(Set(files).subtracting(why).sorted().prefix(5))")
    }
}
