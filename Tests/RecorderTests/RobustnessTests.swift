import Foundation
import Recorder
import Syscalls
import Trace
import XCTest

/// Signals, scheduling and hostile tracees.
final class RobustnessTests: XCTestCase {
    func testAsynchronousSignalIsHeldUntilASyscallBoundary() throws {
        let (result, trace) = try Fixtures.record([try Fixtures.binary("async_signal")])
        XCTAssertEqual(result.exitCode, 0)
        let events = trace.allEvents().events
        guard let index = events.firstIndex(where: { if case .signal(let g) = $0.body { return g.signal == SIGALRM } else { return false } }),
              case .signal(let alarm) = events[index].body else { return XCTFail("SIGALRM not recorded") }
        XCTAssertEqual(alarm.kind, .asynchronous)
        XCTAssertEqual(alarm.outcome, .handled)
        // Delivered right after a syscall of the same task: its rip is where that syscall returned.
        let previous = events[..<index].last { $0.tid == events[index].tid && { if case .syscall = $0.body { return true }; return false }($0) }
        XCTAssertNotNil(previous)
        let rip = alarm.registers[.rip]
        let code = try XCTUnwrap(trace.execs.first?.snapshot.mappings.first { $0.path.hasSuffix("/async_signal") && $0.protection & 4 != 0 })
        XCTAssertFalse(code.start <= rip && rip < code.end, "the handler must not interrupt the program's own loop")
    }

    func testWatchdogPreemptsASpinningThreadAndRecordsWhere() throws {
        let (result, trace) = try Fixtures.record([try Fixtures.binary("spin_threads")])
        XCTAssertEqual(result.exitCode, 0)
        let preemptions = trace.allEvents().events.compactMap { e -> Trace.RegisterFile? in
            if case .schedule(let s) = e.body { return s.preemptedAt } else { return nil }
        }
        XCTAssertFalse(preemptions.isEmpty, "the spinner can only finish if the watchdog preempted it")
        let code = try XCTUnwrap(trace.execs.first?.snapshot.mappings.first { $0.path.hasSuffix("/spin_threads") && $0.protection & 4 != 0 })
        XCTAssertTrue(preemptions.contains { code.start <= $0[.rip] && $0[.rip] < code.end }, "preempted inside the spin loop")
    }

    func testTraceeThatExhaustsDescriptorsIsStillFullyRecorded() throws {
        let dir = Fixtures.temporaryDirectory("fds")
        try "fd-exhaustion-survivor\n".write(toFile: dir + "/data", atomically: true, encoding: .utf8)
        let (result, trace) = try Fixtures.record(["sh", "-c", "ulimit -n 4096; exec \(try Fixtures.binary("exhaust_fds")) \(dir)/data"])
        XCTAssertEqual(result.exitCode, 0)
        let syscalls = trace.allSyscalls.map(\.event)
        let failedOpens = syscalls.filter { $0.number == SyscallTable.Number.openat && $0.result == -Int64(EMFILE) }
        XCTAssertFalse(failedOpens.isEmpty)
        let finalRead = syscalls.last { $0.number == SyscallTable.Number.read && $0.objects.contains { $0.resolved == "\(dir)/data" } }
        XCTAssertEqual(finalRead?.writes.first?.bytes, Array("fd-exhaustion-survivor\n".utf8))
        XCTAssertNotNil(trace.manifest)
    }

    func testPathsResolveToTheObjectUsedDespiteLaterSymlinkSwap() throws {
        let dir = Fixtures.temporaryDirectory("toctou")
        try "real contents\n".write(toFile: dir + "/real", atomically: true, encoding: .utf8)
        try "decoy contents\n".write(toFile: dir + "/decoy", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: dir + "/real")
        // Read through the link, then point it elsewhere: the trace must name the real file.
        let (result, trace) = try Fixtures.record(["sh", "-c", "cat \(dir)/link > /dev/null; ln -sfn \(dir)/decoy \(dir)/link"])
        XCTAssertEqual(result.exitCode, 0)
        let open = trace.allSyscalls.map(\.event).first { $0.number == SyscallTable.Number.openat && $0.objects.contains { $0.requested == "\(dir)/link" } }
        let opened = try XCTUnwrap(open?.objects.first { $0.argument == -1 })
        XCTAssertEqual(opened.resolved, "\(dir)/real")
        var st = stat()
        XCTAssertEqual(stat(dir + "/real", &st), 0)
        XCTAssertEqual(opened.inode, UInt64(st.st_ino))
    }
}
