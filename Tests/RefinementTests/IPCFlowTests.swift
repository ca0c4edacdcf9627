// IPC carriers the syscall table models (issue 10, "IPC the syscall table does not know"):
// each fixture mode moves secret.txt's bytes through one kernel channel from a sender to a
// sibling receiver that no fork or wait4 edge connects to it (or, for a timer, through the
// kernel back into the same process). Each test records it, checks the coarse graph (`why
// out.txt` names secret.txt, `impact secret.txt` reaches out.txt), and replays every process
// with zero divergence. With the channel's graph role taken out, the five two-process
// tests fail their lineage checks (checked by hand when they were written).

import Foundation
import Provenance
import Replayer
import Trace
import XCTest

final class IPCFlowTests: XCTestCase {
    let secret = "TOPSECRET-payload-bytes\n"

    /// Records `ipc_flows MODE`, then checks lineage both ways and a divergence-free replay.
    func checkCarrier(_ mode: String, expectedOutput: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let binary = try GroundTruth.compile("ipc_flows")
        let dir = GroundTruth.scratch("ipc-\(mode)")
        try secret.write(toFile: dir + "/secret.txt", atomically: false, encoding: .utf8)
        let trace = try GroundTruth.record([binary, mode], in: dir, file: file, line: line)
        let output = try String(contentsOfFile: dir + "/out.txt", encoding: .utf8)
        XCTAssertEqual(output, expectedOutput ?? secret, "\(mode): out.txt holds the secret's bytes", file: file, line: line)

        let store = try GraphStore.openOrBuild(traceDirectory: trace)
        let why = try store.lineage(of: try store.startNodes(for: dir + "/out.txt", direction: .backward).map(\.id),
                                    direction: .backward)
        XCTAssertTrue(why.nodes.contains { $0.path == dir + "/secret.txt" },
                      "\(mode): why out.txt names secret.txt; it names \(why.nodes.map(\.label).sorted())", file: file, line: line)
        let impact = try store.lineage(of: try store.startNodes(for: dir + "/secret.txt", direction: .forward).map(\.id),
                                       direction: .forward)
        XCTAssertTrue(impact.nodes.contains { $0.path == dir + "/out.txt" },
                      "\(mode): impact secret.txt reaches out.txt; it reaches \(impact.nodes.map(\.label).sorted())",
                      file: file, line: line)

        let replay = try ReplaySession(trace: try TraceReader(directory: trace)).run(options: ReplayOptions(jobs: 2))
        for (unit, divergence) in replay.divergences {
            XCTFail("\(mode): process \(unit.pid) \(unit.executable) diverged: \(divergence)", file: file, line: line)
        }
        XCTAssertGreaterThanOrEqual(replay.allResults.count, mode == "timer" ? 1 : 2, file: file, line: line)
    }

    func testVmspliceIntoAPipeReadByAnotherProcess() throws { try checkCarrier("vmsplice") }

    /// vmsplice on the read end takes the bytes out of the pipe into the receiver's memory:
    /// the recorder keeps them (an iovec write), the graph reads, the replay labels them.
    func testVmspliceFromAPipeReadEnd() throws { try checkCarrier("vmsplice-read") }

    func testSysVMessageQueue() throws { try checkCarrier("msg") }

    func testPOSIXMessageQueue() throws { try checkCarrier("mq") }

    /// After `replay --taint`, the refined graph still leads from out.txt to secret.txt
    /// through each carrier (nothing on the way is refuted), and byte lineage names the
    /// secret's bytes (a queue is a byte stream while it is FIFO): the carriers' sinks (msgsnd, mq_timedsend, setxattr and vmsplice
    /// into a pipe) and sources (msgrcv after its mtype, mq_timedreceive, getxattrat's
    /// value, vmsplice out of a read end) are labelled where their data lies.
    func testCarriersSurviveRefinement() throws {
        let binary = try GroundTruth.compile("ipc_flows")
        for mode in ["vmsplice", "vmsplice-read", "msg", "mq", "xattr"] {
            let dir = GroundTruth.scratch("ipc-refined-\(mode)")
            try secret.write(toFile: dir + "/secret.txt", atomically: false, encoding: .utf8)
            let refined = try GroundTruth.refine([binary, mode], in: dir)
            let why = try refined.refinedWhy("out.txt")
            XCTAssertTrue(why.contains("secret.txt"), "\(mode): refined why out.txt: \(why)")
            // An attribute value is no byte range of its file: byte lineage stops there.
            let expected = mode == "xattr" ? ["carrier.txt [unknownOffset]"] : ["secret.txt 0-\(secret.utf8.count)"]
            XCTAssertEqual(refined.why("out.txt", bytes: 0..<Int64(secret.utf8.count)), expected, "\(mode): why out.txt --bytes")
        }
    }

    /// sigqueue's `union sigval` carries 8 bytes to the receiver's sigwaitinfo.
    func testSigqueuePayload() throws { try checkCarrier("sigqueue", expectedOutput: String(secret.prefix(8))) }

    /// setxattr by one process, getxattrat (a syscall above 450) by another.
    func testExtendedAttributeAsACarrier() throws { try checkCarrier("xattr") }

    /// The timer's sigev_value comes back in the timer signal's siginfo.
    func testPOSIXTimerSignalValue() throws { try checkCarrier("timer", expectedOutput: String(secret.prefix(8))) }
}
