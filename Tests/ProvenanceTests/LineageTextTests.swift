// The text of a `why`/`impact` answer: a column header, node counts that add up, byte
// ranges that name their object past the first hop, and a reason shared by several lines
// printed once.

import XCTest
@testable import Provenance

final class LineageTextTests: XCTestCase {
    /// /out <- pipe <- /c (data, two hops); /a and /b unverified for the same long reason.
    func graph() -> (nodes: [Node], edges: [Edge]) {
        let nodes = [
            Node(id: 0, kind: .file, entity: "file:/out", version: 1, label: "/out", path: "/out", startTime: 0),
            Node(id: 1, kind: .file, entity: "file:/a", version: 1, label: "/a", path: "/a", startTime: 0),
            Node(id: 2, kind: .file, entity: "file:/b", version: 1, label: "/b", path: "/b", startTime: 0),
            Node(id: 3, kind: .pipe, entity: "pipe:7", version: 1, label: "pipe:[7]", startTime: 0),
            Node(id: 4, kind: .file, entity: "file:/c", version: 1, label: "/c", path: "/c", startTime: 0),
        ]
        let reason = "pid 12 /bin/tool not refined: stopped on an unsupported instruction at 0x401000"
        func derivation(_ source: Int, _ target: Int, _ status: EdgeStatus, _ attributes: [String: AttributeValue]) -> Edge {
            Edge(id: source * 10 + target, source: source, target: target, relation: .wasDerivedFrom, operation: "derivation",
                 carriesFlow: true, precision: .refined, status: status, firstTime: 0, lastTime: 0, sequence: 1, tid: 12,
                 attributes: attributes)
        }
        let edges = [
            derivation(1, 0, .unverified, ["reason": .string(reason)]),
            derivation(2, 0, .unverified, ["reason": .string(reason)]),
            derivation(3, 0, .confirmed, ["outputRanges": .strings(["0-10"]), "inputRanges": .strings(["0-10"])]),
            derivation(4, 3, .confirmed, ["outputRanges": .strings(["0-10"]), "inputRanges": .strings(["5-15"])]),
        ]
        return (nodes, edges)
    }

    func testRefinedTextHasHeaderCountsByKindAndSharedReasonsOnce() {
        let (nodes, edges) = graph()
        let text = LineageReport(direction: .backward, targets: [nodes[0]], nodes: nodes, edges: edges,
                                 includeSystemFiles: false, mode: .refined).text
        XCTAssertTrue(text.contains("  hops  via         node\n"), text)
        XCTAssertTrue(text.contains("4 nodes (3 file versions, 1 pipe version)"), text)
        // The shared reason: once as note [1], referred to from both lines.
        XCTAssertEqual(text.components(separatedBy: "stopped on an unsupported instruction").count - 1, 1, text)
        XCTAssertTrue(text.contains("unverified  file /a  [1]\n"), text)
        XCTAssertTrue(text.contains("unverified  file /b  [1]\n"), text)
        XCTAssertTrue(text.contains("  [1] pid 12 /bin/tool not refined"), text)
        // First hop: ranges are the target's; second hop: they name the pipe.
        XCTAssertTrue(text.contains("data        pipe pipe:[7]  (bytes 0-10 <- 0-10)"), text)
        XCTAssertTrue(text.contains("data        file /c  (into pipe pipe:[7]: bytes 0-10 <- 5-15)"), text)
    }

    func testForwardTextNamesTheObjectTheRangesComeFrom() {
        let (nodes, edges) = graph()
        let text = LineageReport(direction: .forward, targets: [nodes[4]], nodes: nodes, edges: edges,
                                 includeSystemFiles: false, mode: .refined).text
        XCTAssertTrue(text.contains("data  pipe pipe:[7]  (bytes 0-10 <- 5-15)"), text)
        XCTAssertTrue(text.contains("data  file /out  (from pipe pipe:[7]: bytes 0-10 <- 0-10)"), text)
    }
}
