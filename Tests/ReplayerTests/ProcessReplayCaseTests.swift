import FixtureSupport
import Foundation
import Recorder
import Replayer
import Syscalls
import Trace
import X86
import XCTest

/// Process and signal cases of the replay issue (issue 9, section 4): each runs natively,
/// is recorded, and replays with zero divergence (`ReplayTests.assertReplays`, plain and
/// under taint).
extension ReplayTests {
    /// Runs `command` natively; returns its standard output, failing on a nonzero status.
    func runNatively(_ command: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "\(command.joined(separator: " ")) natively", file: file, line: line)
        return text
    }

    /// A thread other than the leader calls execve. The kernel gives it the leader's tid;
    /// the trace keeps the call on the thread that made it, and the old image replays up
    /// to that thread's execve.
    func testExecveFromANonLeaderThreadReplays() throws {
        let program = try ReplayTests.compile("thread_exec")
        XCTAssertTrue(try runNatively([program]).contains("new image"))
        let directory = "\(Self.work)/trace-\(UUID().uuidString.prefix(8))"
        let recorder = Recorder(options: RecordOptions(command: [program], outputDirectory: directory))
        recorder.log = { _ in }
        _ = try recorder.run()
        let events = try TraceReader(directory: directory).allEvents().events
        var threads = Set<Int32>()
        var snapshotTid: Int32?
        var execveTids: [Int32] = []
        for e in events {
            switch e.body {
            case .taskStart(let t) where t.kind == .thread: threads.insert(t.tid)
            case .exec: snapshotTid = e.tid
            case .syscall(let s) where s.number == SyscallTable.Number.execve && s.result == 0: execveTids.append(e.tid)
            default: break
            }
        }
        XCTAssertEqual(threads.count, 1)
        XCTAssertEqual(execveTids.count, 2, "the recorder's own exec and the thread's")
        XCTAssertEqual(execveTids.last, threads.first, "the execve is the exec'ing thread's")
        XCTAssertNotEqual(snapshotTid, threads.first, "the new image runs under the leader's tid")
        try? FileManager.default.removeItem(atPath: directory)
        let summary = try assertReplays([program])
        XCTAssertEqual(summary.allResults.count, 2, "the old image and the new one")
    }

    /// An ignored SIGCHLD wakes a traced nanosleep with ERESTART_RESTARTBLOCK; the kernel
    /// resumes it with restart_syscall, which replay must reproduce before the wait4.
    func testNanosleepRestartedAfterSIGCHLDReplays() throws {
        let program = try ReplayTests.compile("sleep_sigchld")
        XCTAssertEqual(try runNatively([program]), "nanosleep 0, child status 3\n")
        try assertReplays(["sh", "-c", "\(program) > /dev/null"])
    }

    /// A file mapped, rewritten (in place, and by renames over it that may reuse an inode)
    /// and mapped again: every mapping's bytes are its own, not an earlier mapping's with
    /// the same inode.
    func testRemappedRewrittenFileReplays() throws {
        let program = try ReplayTests.compile("remap_rewritten_file")
        let native = "\(Self.work)/remap-native-\(UUID().uuidString.prefix(8))"
        let recorded = "\(Self.work)/remap-\(UUID().uuidString.prefix(8))"
        for dir in [native, recorded] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        XCTAssertTrue(try runNatively([program, native]).hasSuffix("logallrefupdates = true\n"))
        try assertReplays(["sh", "-c", "\(program) \(recorded) > /dev/null"])
    }

    /// git writes its config through config.lock renamed over config and reads it back
    /// through mmap (the case the issue reports: zeros after the first 40 bytes).
    func testGitInitCommitAndLogReplay() throws {
        let base = "\(Self.work)/git-\(UUID().uuidString.prefix(8))"
        let script = "git init -q . && git -c user.name=magprov -c user.email=magprov@example.org commit -q --allow-empty -m x && git log --oneline"
        for dir in [base + "/native", base + "/recorded"] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        XCTAssertTrue(try runNatively(["sh", "-c", "cd \(base)/native && \(script)"]).hasSuffix(" x\n"))
        try assertReplays(["sh", "-c", "cd \(base)/recorded && \(script) > /dev/null"])
        try? FileManager.default.removeItem(atPath: base)
    }
}

extension ReplayTests {
    /// `env -i` clears the environment, and with it the feature mask; the recorder puts the
    /// mask back at the execve, so glibc in the new image picks the same string functions
    /// as everywhere else in the recording, and the image replays.
    func testClearedEnvironmentKeepsTheFeatureMaskAndReplays() throws {
        XCTAssertEqual(try runNatively(["env", "-i", "/bin/echo", "hi"]), "hi\n")
        let directory = "\(Self.work)/trace-\(UUID().uuidString.prefix(8))"
        let recorder = Recorder(options: RecordOptions(command: ["env", "-i", "/bin/echo", "hi"], outputDirectory: directory))
        recorder.log = { _ in }
        _ = try recorder.run()
        let reader = try TraceReader(directory: directory)
        let echo = reader.allEvents().events.compactMap { e -> ExecSnapshot? in
            if case .exec(let snapshot) = e.body, snapshot.argv.first == "/bin/echo" { return snapshot }
            return nil
        }.first
        let mask = reader.header.featureMask
        XCTAssertFalse(mask.isEmpty)
        XCTAssertEqual(Set(try XCTUnwrap(echo).environment), Set(mask), "env -i left only what the recorder requires")
        try? FileManager.default.removeItem(atPath: directory)
        try assertReplays(["env", "-i", "/bin/echo", "hi"])
    }
}

extension ReplayTests {
    static var cpuHasRandomInstructions: Bool {
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ") ?? []
        return flags.contains("rdrand") && flags.contains("rdseed") && flags.contains("rdpid")
    }

    /// The recorded rewritten instructions (timestamp events with their original bytes).
    func rewrittenInstructions(_ command: [String]) throws -> [NondeterministicInstruction.Kind] {
        let directory = "\(Self.work)/trace-\(UUID().uuidString.prefix(8))"
        let recorder = Recorder(options: RecordOptions(command: command, outputDirectory: directory))
        recorder.log = { _ in }
        _ = try recorder.run()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try TraceReader(directory: directory).allEvents().events.compactMap { e in
            if case .timestamp(let t) = e.body { return t.instruction.flatMap(NondeterministicInstruction.init(bytes:))?.kind }
            return nil
        }
    }

    /// rdrand, rdseed and rdpid in the program's own code are rewritten at exec into traps
    /// whose results the recorder records; replay gives the program the same values (its
    /// output, which prints them, matches the recording).
    func testRdrandRdseedAndRdpidAreRecordedAndReplay() throws {
        guard Self.cpuHasRandomInstructions else {
            throw XCTSkip("this CPU has no rdrand/rdseed/rdpid: the fixture would raise SIGILL natively")
        }
        let program = try ReplayTests.compile("random_instructions")
        XCTAssertTrue(try runNatively([program]).hasPrefix("rdrand16 "))
        XCTAssertEqual(try rewrittenInstructions([program]), [.rdrand, .rdrand, .rdrand, .rdseed, .rdpid])
        try assertReplays(["sh", "-c", "\(program) > /dev/null"])
        // Generated code made executable by mprotect: rewritten there, the rewrite replayed
        // as a memory write of the mprotect.
        XCTAssertTrue(try runNatively([program, "jit"]).contains("generated "))
        XCTAssertEqual(try rewrittenInstructions([program, "jit"]).count, 6)
        try assertReplays(["sh", "-c", "\(program) jit > /dev/null"])
    }

    /// C++ std::random_device: libstdc++ reads rdseed (or rdrand) in a function of its own,
    /// found when ld.so maps libstdc++ executable.
    func testCxxRandomDeviceReplays() throws {
        guard Self.cpuHasRandomInstructions else {
            throw XCTSkip("this CPU has no rdrand/rdseed: std::random_device reads /dev/urandom, a syscall")
        }
        let program = try FixtureCompiler.build("recorder/random_device.cpp", flags: ["-O1"], libraries: ["-lstdc++"])
        XCTAssertTrue(try runNatively([program]).hasPrefix("random "))
        let kinds = try rewrittenInstructions([program])
        XCTAssertEqual(kinds.count, 4, "four values drawn")
        XCTAssertTrue(kinds.allSatisfy { $0 == .rdseed || $0 == .rdrand })
        try assertReplays(["sh", "-c", "\(program) > /dev/null"])
    }

    /// Code written into memory that is already executable never becomes executable where
    /// the recorder looks, so it is not rewritten: replay stops at the rdrand with a
    /// located report, never a silently different value.
    func testGeneratedRdrandIsReportedAsAnUnrecordedInput() throws {
        guard Self.cpuHasRandomInstructions else { throw XCTSkip("this CPU has no rdrand") }
        let program = try ReplayTests.compile("random_instructions")
        let directory = "\(Self.work)/trace-\(UUID().uuidString.prefix(8))"
        let recorder = Recorder(options: RecordOptions(command: [program, "rwx"], outputDirectory: directory))
        recorder.log = { _ in }
        _ = try recorder.run()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let summary = ReplaySession(trace: try TraceReader(directory: directory)).run(options: ReplayOptions(jobs: 1))
        XCTAssertEqual(summary.divergences.count, 1)
        let divergence = try XCTUnwrap(summary.divergences.first?.1)
        XCTAssertTrue(divergence.reason.hasPrefix("rdrand eax at 0x\(String(divergence.address, radix: 16)) is an unrecorded nondeterministic input"),
                      divergence.reason)
    }
}

extension ReplayTests {
    /// The x87 transcendental instructions and the SSE reciprocal estimates compute what
    /// this CPU computes (issue 9, section 3): glibc's `log10l(1e5L)` is exactly 5 natively
    /// and in replay, and every other printed result replays byte for byte. A trace from
    /// this CPU model reports nothing approximate.
    func testLongDoubleMathAndReciprocalEstimatesReplayBitForBit() throws {
        let program = try FixtureCompiler.build("recorder/long_double_math.c", flags: ["-O1"], libraries: ["-lm"])
        let native = try runNatively([program])
        XCTAssertTrue(native.hasPrefix("log10l(1e5L) = 5\n"), native)
        let summary = try assertReplays(["sh", "-c", "\(program) > /dev/null"])
        XCTAssertTrue(summary.allResults.contains { $0.hostComputed.contains(.x87Transcendental) })
        XCTAssertTrue(summary.allResults.contains { $0.hostComputed.contains(.sseReciprocalEstimate) })
        XCTAssertTrue(summary.hostIsRecordingModel)
        XCTAssertNil(summary.approximationNotice)
        // Replayed on another model, the same run says which families are approximate.
        var elsewhere = summary
        elsewhere.hostIsRecordingModel = false
        let notice = try XCTUnwrap(elsewhere.approximationNotice)
        XCTAssertTrue(notice.contains("x87 transcendental") && notice.contains("SSE reciprocal estimates"), notice)
        XCTAssertFalse(CPUIDTable.baseline.sameModel(as: .hostModel) && CPUIDTable.hostModel.vendor == "AuthenticAMD")
    }
}
