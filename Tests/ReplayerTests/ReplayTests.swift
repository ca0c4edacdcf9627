import Foundation
import Recorder
import Replayer
import Trace
import X86
import XCTest

/// Programs recorded natively replay in the interpreter with zero divergence.
final class ReplayTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures").path
    static let work: String = {
        let dir = NSTemporaryDirectory() + "magprov-replay-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    func compile(_ name: String, flags: [String] = []) throws -> String {
        let output = "\(Self.work)/\(name)\(flags.joined())"
        if FileManager.default.fileExists(atPath: output) { return output }
        let gcc = Process()
        gcc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        gcc.arguments = ["-O1", "-o", output, "\(Self.fixtures)/recorder/\(name).c", "-lpthread"] + flags
        try gcc.run()
        gcc.waitUntilExit()
        guard gcc.terminationStatus == 0 else { throw XCTSkip("gcc failed for \(name)") }
        return output
    }

    /// Records `command`, replays every process, and fails with the divergence report.
    @discardableResult
    func assertReplays(_ command: [String], file: StaticString = #filePath, line: UInt = #line) throws -> ReplaySummary {
        let directory = "\(Self.work)/trace-\(UUID().uuidString.prefix(8))"
        let recorder = Recorder(options: RecordOptions(command: command, outputDirectory: directory))
        recorder.log = { _ in }
        _ = try recorder.run()
        let session = try ReplaySession(trace: try TraceReader(directory: directory))
        let summary = session.run(options: ReplayOptions(jobs: 2)) { NoDataFlow() }
        for (unit, divergence) in summary.divergences {
            XCTFail("\(command.joined(separator: " ")): process \(unit.pid) \(unit.executable): \(divergence)", file: file, line: line)
        }
        XCTAssertFalse(summary.allResults.isEmpty, file: file, line: line)
        XCTAssertGreaterThan(summary.instructions, 1000, file: file, line: line)
        try? FileManager.default.removeItem(atPath: directory)
        return summary
    }

    func testStaticBinaryReplays() throws { try assertReplays([try compile("direct_syscall", flags: ["-static"])]) }
    func testDynamicFileReaderReplays() throws {
        let input = "\(Self.work)/input.txt"
        try (0..<500).map { "line \($0)" }.joined(separator: "\n").write(toFile: input, atomically: true, encoding: .utf8)
        try assertReplays(["sh", "-c", "\(try compile("read_file")) \(input) > /dev/null"])
    }
    func testTimeAndRdtscReplay() throws { try assertReplays(["sh", "-c", "\(try compile("timing")) > /dev/null"]) }
    func testSignalHandlerReplays() throws { try assertReplays(["sh", "-c", "\(try compile("signals")) > /dev/null"]) }
    func testAsynchronousSignalReplays() throws { try assertReplays(["sh", "-c", "\(try compile("async_signal")) > /dev/null"]) }
    func testForkExecTreeReplaysEveryProcess() throws {
        let summary = try assertReplays([try compile("fork_exec")])
        XCTAssertEqual(summary.allResults.count, 4 + 3)  // fork_exec, 3 forked children before exec, 3 x true
    }
    func testThreadsWithMutexAndConditionVariableReplay() throws {
        try assertReplays(["sh", "-c", "\(try compile("threads")) > /dev/null"])
    }
    func testPreemptedSpinningThreadReplays() throws {
        try assertReplays(["sh", "-c", "\(try compile("spin_threads")) > /dev/null"])
    }
}
