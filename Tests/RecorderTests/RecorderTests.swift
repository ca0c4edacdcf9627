import Foundation
import Recorder
import Syscalls
import Trace
import XCTest

final class RecorderTests: XCTestCase {
    func testFileReadRecordsTheBytesTheKernelWrote() throws {
        let dir = Fixtures.temporaryDirectory("read")
        let secret = "magprov-secret-\(UUID().uuidString)\n"
        try secret.write(toFile: dir + "/input.txt", atomically: true, encoding: .utf8)
        let (result, trace) = try Fixtures.record([try Fixtures.binary("read_file"), dir + "/input.txt"])
        XCTAssertEqual(result.exitCode, 0)
        let reads = trace.allSyscalls.map(\.event).filter { $0.number == SyscallTable.Number.read && $0.result > 0 }
        let fromInput = reads.filter { $0.objects.contains { $0.resolved.hasSuffix("/input.txt") } }
        XCTAssertEqual(fromInput.count, 1)
        XCTAssertEqual(fromInput.first?.writes.first?.bytes, Array(secret.utf8))
        XCTAssertEqual(fromInput.first?.writes.first?.address, fromInput.first?.arguments[1])
    }

    func testForkExecTreeHasEveryProcessWithItsParent() throws {
        let (result, trace) = try Fixtures.record([try Fixtures.binary("fork_exec")])
        XCTAssertEqual(result.exitCode, 0)
        let starts = trace.taskStarts
        let root = try XCTUnwrap(starts.first { $0.kind == .root })
        let children = starts.filter { $0.kind == .fork }
        XCTAssertEqual(children.count, 3)
        XCTAssertTrue(children.allSatisfy { $0.parent == root.tid && $0.pid == $0.tid })
        let childExecs = trace.execs.filter { exec in children.contains { $0.tid == exec.tid } }
        XCTAssertEqual(childExecs.count, 3)
        XCTAssertTrue(childExecs.allSatisfy { $0.snapshot.path.hasSuffix("/true") })
        let exits = trace.allEvents().events.filter { if case .taskExit(let x) = $0.body { return x.exitCode == 0 } else { return false } }
        XCTAssertEqual(exits.count, 4)
    }

    func testShellPipelineIsRecordedCompletely() throws {
        let dir = Fixtures.temporaryDirectory("pipeline")
        let text = (0..<2000).map { "line \($0) of the pipeline input" }.joined(separator: "\n")
        try text.write(toFile: dir + "/F", atomically: true, encoding: .utf8)
        let (result, trace) = try Fixtures.record(["sh", "-c", "cat \(dir)/F | gzip > \(dir)/G"])
        XCTAssertEqual(result.exitCode, 0)
        let programs = Set(trace.execs.map { URL(fileURLWithPath: $0.snapshot.path).lastPathComponent })
        XCTAssertTrue(programs.isSuperset(of: ["dash", "cat", "gzip"]) || programs.isSuperset(of: ["bash", "cat", "gzip"]), "\(programs)")
        XCTAssertEqual(trace.taskStarts.filter { $0.kind == .fork }.count, 2)
        let syscalls = trace.allSyscalls.map(\.event)
        XCTAssertTrue(syscalls.contains { $0.number == SyscallTable.Number.pipe2 || $0.number == SyscallTable.Number.pipe })
        let writesToG = syscalls.filter { $0.number == SyscallTable.Number.write && $0.objects.contains { $0.resolved == "\(dir)/G" } }
        XCTAssertFalse(writesToG.isEmpty)
        let gzipped = try Data(contentsOf: URL(fileURLWithPath: dir + "/G"))
        XCTAssertEqual(writesToG.reduce(0) { $0 + Int($1.result) }, gzipped.count)
        XCTAssertNotNil(trace.manifest)
        XCTAssertTrue(trace.allEvents().errors.isEmpty)
    }

    func testDirectSyscallInstructionIsCaptured() throws {
        try checkDirectSyscalls(binary: try Fixtures.binary("direct_syscall"))
    }

    func testStaticBinaryIsCaptured() throws {
        let binary = try Fixtures.binary("direct_syscall_static", source: "direct_syscall", flags: ["-static"])
        try checkDirectSyscalls(binary: binary)
    }

    private func checkDirectSyscalls(binary: String) throws {
        let (result, trace) = try Fixtures.record([binary])
        XCTAssertEqual(result.exitCode, 0)
        let syscalls = trace.allSyscalls.map(\.event)
        XCTAssertTrue(syscalls.contains { $0.number == SyscallTable.Number.getppid && $0.result > 0 })
        let marker = syscalls.first { $0.number == SyscallTable.Number.write && $0.inputs.first?.prefix == Array("direct-syscall-marker\n".utf8) }
        XCTAssertNotNil(marker)
        XCTAssertEqual(trace.execs.count, 1)
    }

    func testEveryThreadOfAThreadedProgramIsRecorded() throws {
        let (result, trace) = try Fixtures.record([try Fixtures.binary("threads")])
        XCTAssertEqual(result.exitCode, 0)
        let threads = trace.taskStarts.filter { $0.kind == .thread }
        XCTAssertEqual(threads.count, 4)
        let root = try XCTUnwrap(trace.taskStarts.first { $0.kind == .root })
        XCTAssertTrue(threads.allSatisfy { $0.pid == root.pid })
        let tidsWithSyscalls = Set(trace.allSyscalls.map(\.tid))
        XCTAssertTrue(threads.allSatisfy { tidsWithSyscalls.contains($0.tid) })
        XCTAssertEqual(Set(trace.taskIDs), Set(threads.map(\.tid) + [root.tid]))
    }

    func testTimeCallsBecomeSyscallsBecauseTheVDSOIsGone() throws {
        let (result, trace) = try Fixtures.record([try Fixtures.binary("timing")])
        XCTAssertEqual(result.exitCode, 0)
        let numbers = Set(trace.allSyscalls.map(\.event.number))
        for name in ["clock_gettime", "gettimeofday", "time"] {
            XCTAssertTrue(numbers.contains(SyscallTable.number(named: name)!), "\(name) should be a recorded syscall")
        }
        let auxv = try XCTUnwrap(trace.execs.first?.snapshot.auxv)
        let types = stride(from: 0, to: auxv.count, by: 16).map { auxv.loadUInt64(at: $0) }
        XCTAssertFalse(types.contains(33), "AT_SYSINFO_EHDR must be rewritten")
        XCTAssertTrue(types.contains(1), "AT_IGNORE marks the rewritten entry")
    }

    func testRdtscValuesAreInTheTrace() throws {
        let dir = Fixtures.temporaryDirectory("tsc")
        let (result, trace) = try Fixtures.record(["sh", "-c", "\(try Fixtures.binary("timing")) > \(dir)/out"])
        XCTAssertEqual(result.exitCode, 0)
        let printed = try String(contentsOfFile: dir + "/out", encoding: .utf8)
        let value = try XCTUnwrap(UInt64(printed.dropFirst(4).trimmingCharacters(in: .whitespacesAndNewlines)))
        let stamps = trace.allEvents().events.compactMap { if case .timestamp(let t) = $0.body { return t.value } else { return nil } }
        XCTAssertTrue(stamps.contains(value), "the program's rdtsc value \(value) must be recorded")
    }

    func testSignalHandlerDeliveryIsRecordedWithItsFrame() throws {
        let (result, trace) = try Fixtures.record([try Fixtures.binary("signals")])
        XCTAssertEqual(result.exitCode, 0)
        let signals = trace.allEvents().events.compactMap { if case .signal(let g) = $0.body { return g } else { return nil } }
        let usr1 = try XCTUnwrap(signals.first { $0.signal == SIGUSR1 })
        XCTAssertEqual(usr1.outcome, .handled)
        XCTAssertNotNil(usr1.handlerRegisters)
        XCTAssertFalse(usr1.frame?.bytes.isEmpty ?? true)
        XCTAssertTrue(trace.allSyscalls.contains { $0.event.number == SyscallTable.Number.rtSigreturn && $0.event.registersAfter != nil })
    }

    func testExitStatusAndSignalAreTheCommands() throws {
        let (exited, _) = try Fixtures.record(["sh", "-c", "exit 3"])
        XCTAssertEqual(exited.exitCode, 3)
        let (killed, _) = try Fixtures.record(["sh", "-c", "kill -TERM $$"])
        XCTAssertEqual(killed.signal, SIGTERM)
        XCTAssertEqual(killed.shellStatus, 128 + SIGTERM)
    }

    func testMissingCommandIsReportedNotCrashed() throws {
        let directory = Fixtures.temporaryDirectory("missing") + "/trace"
        let recorder = Recorder(options: RecordOptions(command: ["/nonexistent/magprov-no-such-program"], outputDirectory: directory))
        recorder.log = { _ in }
        let result = try recorder.run()
        XCTAssertEqual(result.exitCode, 127)
        XCTAssertEqual(recorder.execFailure(), ENOENT)
    }

    func testRseqIsRefusedAndCPUIDIsInTheHeader() throws {
        let (_, trace) = try Fixtures.record(["/bin/true"])
        let rseq = trace.allSyscalls.map(\.event).filter { $0.number == SyscallTable.Number.rseq }
        XCTAssertFalse(rseq.isEmpty)
        XCTAssertTrue(rseq.allSatisfy { $0.flags.contains(.refused) && $0.result == -Int64(ENOSYS) })
        XCTAssertTrue(trace.header.cpuid.contains { $0.leaf == 0 && $0.ebx != 0 })
        XCTAssertTrue(trace.header.environment.contains { $0.hasPrefix("GLIBC_TUNABLES=") })
    }

    /// A number outside the syscall table, AIO, perf_event_open and an unknown legacy ioctl
    /// are skipped with ENOSYS and recorded as refused (the fixture checks what it saw).
    func testCallsTheTableRefusesAreRecordedAsRefused() throws {
        let (result, trace) = try Fixtures.record([try Fixtures.binary("refused_calls")])
        XCTAssertEqual(result.exitCode, 0, "every refused call failed with ENOSYS in the tracee")
        let calls = trace.allSyscalls.map(\.event)
        for number in [400, SyscallTable.number(named: "io_setup")!, SyscallTable.number(named: "perf_event_open")!] {
            let seen = calls.filter { $0.number == number }
            XCTAssertEqual(seen.count, 1, "syscall \(number)")
            XCTAssertTrue(seen.allSatisfy { $0.flags.contains(.refused) && $0.result == -Int64(ENOSYS) }, "syscall \(number)")
        }
        let ioctl = calls.filter { $0.number == SyscallTable.Number.ioctl && $0.arguments[1] == 0x4B33 }
        XCTAssertEqual(ioctl.count, 1)
        XCTAssertTrue(ioctl.allSatisfy { $0.flags.contains(.refused) && $0.result == -Int64(ENOSYS) })
    }

    func testExecSnapshotHoldsTheAddressSpace() throws {
        let (_, trace) = try Fixtures.record(["/bin/true"])
        let snapshot = try XCTUnwrap(trace.execs.first?.snapshot)
        let stack = try XCTUnwrap(snapshot.mappings.first { $0.path == "[stack]" })
        let bytes = try trace.contents(of: stack.blobs)
        XCTAssertEqual(UInt64(bytes.count), stack.end - stack.start)
        let rsp = snapshot.registers[.rsp]
        XCTAssertTrue(stack.start <= rsp && rsp < stack.end)
        XCTAssertEqual(bytes.loadUInt64(at: Int(rsp - stack.start)), UInt64(snapshot.argv.count), "argc sits at rsp")
        let text = try XCTUnwrap(snapshot.mappings.first { $0.protection & 4 != 0 && $0.path.hasSuffix("/true") })
        XCTAssertFalse(text.blobs.isEmpty)
    }
}

/// Damage to a real recording is reported with its stream and frame, never a crash.
final class DamagedTraceTests: XCTestCase {
    private func recordedStreamPath() throws -> (String, Int32) {
        let directory = Fixtures.temporaryDirectory("damaged") + "/trace"
        let recorder = Recorder(options: RecordOptions(command: ["sh", "-c", "seq 1 20000 | sort -r > /dev/null"], outputDirectory: directory))
        recorder.log = { _ in }
        _ = try recorder.run()
        let reader = try TraceReader(directory: directory)
        // The largest stream has several frames to damage.
        let largest = try XCTUnwrap(reader.manifest?.streams.max { $0.bytes < $1.bytes })
        let tid = largest.tid
        return (directory, tid)
    }

    func testTruncatedRecordingNamesStreamAndFrame() throws {
        let (directory, tid) = try recordedStreamPath()
        let path = "\(directory)/tasks/\(tid).events"
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber).intValue
        XCTAssertEqual(truncate(path, off_t(size - 10)), 0)
        let (events, error) = try TraceReader(directory: directory).readTask(tid: tid)
        XCTAssertTrue(error?.description.contains("stream tasks/\(tid).events, frame") ?? false, "\(String(describing: error))")
        XCTAssertTrue(error?.description.contains("truncated") ?? false)
        _ = events
    }

    func testBitFlippedRecordingNamesStreamAndFrame() throws {
        let (directory, tid) = try recordedStreamPath()
        let path = "\(directory)/tasks/\(tid).events"
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[data.count / 2] ^= 0x10
        try data.write(to: URL(fileURLWithPath: path))
        let (_, error) = try TraceReader(directory: directory).readTask(tid: tid)
        guard case .corruptFrame(let stream, _, _)? = error else { return XCTFail("expected a corrupt frame, got \(String(describing: error))") }
        XCTAssertEqual(stream, "tasks/\(tid).events")
    }
}
