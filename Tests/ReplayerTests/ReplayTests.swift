import FixtureSupport
import Foundation
import Recorder
import Replayer
import Trace
import X86
import XCTest

/// Programs recorded natively replay in the interpreter with zero divergence.
final class ReplayTests: XCTestCase {
    static let work: String = {
        let dir = NSTemporaryDirectory() + "magprov-replay-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    /// `Fixtures/recorder/NAME.c`, built by the shared FixtureCompiler.
    static func compile(_ name: String, flags: [String] = []) throws -> String {
        try FixtureCompiler.build("recorder/\(name).c", flags: ["-O1"] + flags, libraries: ["-lpthread"],
                                  name: "\(name)\(flags.joined())")
    }

    /// Records `command`, replays every process plainly and then with byte-level taint, and
    /// fails with the divergence report of either: taint replay must follow the same path.
    @discardableResult
    func assertReplays(_ command: [String], watchdogMilliseconds: Int = 50, syscallBuffer: Bool = false,
                       maskCPUFeatures: Bool = true, environment: [String] = [],
                       inspect: (TraceReader) throws -> Void = { _ in },
                       file: StaticString = #filePath, line: UInt = #line) throws -> ReplaySummary {
        let directory = "\(Self.work)/trace-\(UUID().uuidString.prefix(8))"
        var options = RecordOptions(command: command, outputDirectory: directory)
        options.environment += environment
        options.watchdogMilliseconds = watchdogMilliseconds
        options.syscallBuffer = syscallBuffer
        options.maskCPUFeatures = maskCPUFeatures
        let recorder = Recorder(options: options)
        recorder.log = { _ in }
        _ = try recorder.run()
        let trace = try TraceReader(directory: directory)
        try inspect(trace)
        let session = try ReplaySession(trace: trace)
        let summary = session.run(options: ReplayOptions(jobs: 2))
        for (unit, divergence) in summary.divergences {
            XCTFail("\(command.joined(separator: " ")): process \(unit.pid) \(unit.executable): \(divergence)", file: file, line: line)
        }
        XCTAssertFalse(summary.allResults.isEmpty, file: file, line: line)
        XCTAssertGreaterThan(summary.instructions, 1000, file: file, line: line)
        let taint = session.runTaint(options: ReplayOptions(jobs: 2))
        for (unit, divergence) in taint.divergences {
            XCTFail("\(command.joined(separator: " ")): process \(unit.pid) \(unit.executable) under taint: \(divergence)",
                    file: file, line: line)
        }
        for result in taint.allResults where result.taint?.completed != true {
            XCTFail("\(command.joined(separator: " ")): no complete taint summary for \(result.pid) \(result.executable): \(result.taint?.failure ?? "none")",
                    file: file, line: line)
        }
        XCTAssertEqual(taint.instructions, summary.instructions, "taint replay executes the same instructions", file: file, line: line)
        try? FileManager.default.removeItem(atPath: directory)
        return summary
    }

    func testStaticBinaryReplays() throws { try assertReplays([try ReplayTests.compile("direct_syscall", flags: ["-static"])]) }
    func testDynamicFileReaderReplays() throws {
        let input = "\(Self.work)/input.txt"
        try (0..<500).map { "line \($0)" }.joined(separator: "\n").write(toFile: input, atomically: true, encoding: .utf8)
        try assertReplays(["sh", "-c", "\(try ReplayTests.compile("read_file")) \(input) > /dev/null"])
    }
    /// One 16 MiB read: its bytes live in trace blobs (bounded frames), and replay injects
    /// them whole (RecorderTests.TraceFileTests reads back a 40 MB one).
    func testLargeReadReplays() throws {
        let input = "\(Self.work)/large-input.bin"
        let size = 16 << 20
        var bytes = [UInt8](repeating: 0, count: size)
        for i in stride(from: 0, to: size, by: 4096) {
            bytes[i] = UInt8(truncatingIfNeeded: i >> 12)
            bytes[i + 1] = UInt8(truncatingIfNeeded: i >> 20)  // no two 1 MiB chunks alike
        }
        try Data(bytes).write(to: URL(fileURLWithPath: input))
        defer { try? FileManager.default.removeItem(atPath: input) }
        try assertReplays(["dd", "if=\(input)", "of=/dev/null", "bs=\(size)", "count=1", "status=none"])
    }
    func testTimeAndRdtscReplay() throws { try assertReplays(["sh", "-c", "\(try ReplayTests.compile("timing")) > /dev/null"]) }
    /// Calls into the vsyscall page, which the kernel emulates without a syscall-exit stop:
    /// the recorder answers them, the trace holds exactly what the program printed, and
    /// replay injects it.
    func testVsyscallPageCallsAreRecordedAndReplay() throws {
        let output = "\(Self.work)/vsyscall-\(UUID().uuidString.prefix(8)).txt"
        defer { try? FileManager.default.removeItem(atPath: output) }
        try assertReplays(["sh", "-c", "\(try ReplayTests.compile("vsyscall")) > \(output)"], inspect: { trace in
            let printed = try String(contentsOfFile: output, encoding: .utf8).split(whereSeparator: \.isWhitespace).map { Int64($0)! }
            XCTAssertEqual(printed.count, 9)
            let (r, sec, usec, t, t2, g, cpu, node, t3) = (printed[0], printed[1], printed[2], printed[3], printed[4], printed[5], printed[6], printed[7], printed[8])
            let calls = trace.allEvents().events.compactMap { event -> SyscallEvent? in
                guard case .syscall(let s) = event.body, [96, 201, 309].contains(s.number) else { return nil }
                return s
            }
            XCTAssertEqual(calls.map(\.number), [96, 201, 309, 201], "gettimeofday, time, getcpu, time, in program order")
            guard calls.count == 4 else { return }
            // The little-endian word of `size` bytes at `offset` in write `index`.
            func word(_ call: SyscallEvent, _ index: Int, offset: Int = 0, size: Int = 8) -> Int64? {
                guard call.writes.count > index, call.writes[index].bytes.count >= offset + size else { return nil }
                let value = call.writes[index].bytes[offset..<(offset + size)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                return Int64(bitPattern: value)
            }
            XCTAssertEqual(calls[0].result, r)
            XCTAssertEqual(calls[0].writes.count, 1, "the timeval only: the timezone pointer is null")
            XCTAssertEqual(word(calls[0], 0, size: 8), sec)
            XCTAssertEqual(word(calls[0], 0, offset: 8), usec)
            XCTAssertEqual(calls[1].result, t)
            XCTAssertEqual(word(calls[1], 0), t2)
            XCTAssertEqual(calls[2].result, g)
            XCTAssertEqual(word(calls[2], 0, size: 4), cpu)
            XCTAssertEqual(word(calls[2], 1, size: 4), node)
            XCTAssertEqual(calls[3].result, t3)
            XCTAssertTrue(calls[3].writes.isEmpty)
        })
    }
    func testSignalHandlerReplays() throws { try assertReplays(["sh", "-c", "\(try ReplayTests.compile("signals")) > /dev/null"]) }
    /// The handler clobbers XMM0 and MXCSR; rt_sigreturn must bring back the program's
    /// values from the frame's fpstate, or its output differs and replay diverges.
    func testSignalHandlerFPUStateIsRestoredAtSigreturn() throws {
        try assertReplays(["sh", "-c", "\(try ReplayTests.compile("signal_fpstate")) > /dev/null"])
    }
    func testAsynchronousSignalReplays() throws { try assertReplays(["sh", "-c", "\(try ReplayTests.compile("async_signal")) > /dev/null"]) }
    /// Job control inside the recording (issue 11): a child stopped and continued by its
    /// parent, another stopped by itself and continued by a sibling. The parent's wait4
    /// calls are interrupted by SIGCHLD and restarted by the kernel (ERESTARTSYS).
    func testJobControlReplays() throws {
        try assertReplays(["sh", "-c", "\(try ReplayTests.compile("job_control")) > /dev/null"])
    }
    func testForkExecTreeReplaysEveryProcess() throws {
        let summary = try assertReplays([try ReplayTests.compile("fork_exec")])
        XCTAssertEqual(summary.allResults.count, 4 + 3)  // fork_exec, 3 forked children before exec, 3 x true
    }
    func testThreadsWithMutexAndConditionVariableReplay() throws {
        try assertReplays(["sh", "-c", "\(try ReplayTests.compile("threads")) > /dev/null"])
    }
    /// The Debian tools the replay issue lists, each recorded and replayed.
    func testCoreutilsAndFriendsReplay() throws {
        let dir = "\(Self.work)/tools-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir + "/tree", withIntermediateDirectories: true)
        let text = (0..<4000).map { "\(($0 * 7919) % 4001) word\($0 % 97) line \($0)" }.joined(separator: "\n") + "\n"
        try text.write(toFile: dir + "/in.txt", atomically: true, encoding: .utf8)
        for i in 0..<20 { try "file \(i)\n".write(toFile: "\(dir)/tree/f\(i)", atomically: true, encoding: .utf8) }
        let commands = [
            "cat in.txt", "head -n 100 in.txt", "wc in.txt", "sort in.txt", "sort -n in.txt | uniq -c", "tr a-z A-Z < in.txt",
            "cut -d' ' -f2 in.txt", "base64 in.txt", "sha256sum in.txt", "md5sum in.txt", "gzip -c in.txt > in.gz && gunzip -c in.gz",
            "tar cf - tree | tar tf -", "grep -c word1 in.txt", "sed 's/line/LINE/' in.txt", "ls -la tree", "cp in.txt copy.txt",
            "cat in.txt | sort -k2 | uniq | sort -n | tail -n 3",
        ]
        for command in commands {
            try assertReplays(["sh", "-c", "cd \(dir) && \(command) > /dev/null"])
        }
    }

    /// The coreutils cases of the tests below, over a 3,000-line file.
    func avx2Workload() throws -> (dir: String, commands: [String]) {
        let dir = "\(Self.work)/avx2-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let text = (0..<3000).map { "\(($0 * 7919) % 3001) word\($0 % 97) line \($0)" }.joined(separator: "\n") + "\n"
        try text.write(toFile: dir + "/in.txt", atomically: true, encoding: .utf8)
        return (dir, ["cat in.txt | wc -l", "sort in.txt | head -n 5", "wc in.txt"])
    }

    /// Whether this CPU has AVX-512 (F, BW and VL: what glibc's EVEX functions need).
    static let hostHasAVX512: Bool = {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        let set = Set(flags.split(separator: " ").map(String.init))
        return set.isSuperset(of: ["avx512f", "avx512bw", "avx512vl"])
    }()

    /// Recorded without the feature mask, glibc picks its AVX2 string functions, ld.so
    /// saves the AVX state with xsavec, and wc counts lines with its own AVX2 loop (chosen
    /// by its CPUID check, which no mask reaches). On a CPU with AVX-512 the recorded
    /// environment's own tunables (not magprov's mask) keep glibc off its EVEX functions,
    /// so that this test covers the AVX2 paths on every CPU; the EVEX case is the next test.
    func testCoreutilsWithoutTheFeatureMaskReplay() throws {
        let (dir, commands) = try avx2Workload()
        let hideAVX512 = Self.hostHasAVX512
            ? ["GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F,-AVX512BW,-AVX512CD,-AVX512DQ,-AVX512VL"] : []
        for command in commands {
            try assertReplays(["sh", "-c", "cd \(dir) && \(command) > /dev/null"], maskCPUFeatures: false,
                              environment: hideAVX512)
        }
    }

    /// On a CPU with AVX-512, recorded with no mask at all: glibc runs its EVEX string
    /// functions. Replay either reproduces them exactly, or stops every affected image with
    /// an unsupported-instruction error that names the EVEX instruction and where it is
    /// (library and offset); never a crash, never a silently different result.
    func testEVEXStringFunctionsReplayOrStopWithALocatedError() throws {
        guard Self.hostHasAVX512 else { throw XCTSkip("this CPU has no AVX-512: glibc never picks its EVEX functions here") }
        let (dir, commands) = try avx2Workload()
        for command in commands {
            let directory = "\(Self.work)/trace-\(UUID().uuidString.prefix(8))"
            var options = RecordOptions(command: ["sh", "-c", "cd \(dir) && \(command) > /dev/null"], outputDirectory: directory)
            options.maskCPUFeatures = false
            let recorder = Recorder(options: options)
            recorder.log = { _ in }
            XCTAssertEqual(try recorder.run().exitCode, 0, command)
            let summary = try ReplaySession(trace: try TraceReader(directory: directory)).run(options: ReplayOptions(jobs: 2))
            XCTAssertTrue(summary.notReplayable.isEmpty, "\(command): \(summary.notReplayable)")
            for (unit, divergence) in summary.divergences {
                let text = "\(divergence)"
                XCTAssertTrue(text.contains("unsupported instruction") && text.contains("(AVX-512 EVEX encoding)")
                              && text.contains("libc.so.6+0x"), "\(command): process \(unit.pid) \(unit.executable): \(text)")
            }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    func testPythonWithJsonReHashlibZlibReplays() throws {
        try assertReplays(["python3", "-c", """
        import json, re, hashlib, zlib
        rows = [{"n": i, "s": re.sub("[aeiou]", "_", "record %d of the test" % i)} for i in range(2000)]
        blob = zlib.compress(json.dumps(rows, sort_keys=True).encode())
        print(hashlib.sha256(blob).hexdigest(), len(blob))
        """])
    }

    /// make, sh, gcc's driver, cc1 (SSE4.2 string scans), as, collect2 and ld (with its
    /// LLVM plugin) all replay.
    func testMakeBuildOfAFixtureReplays() throws {
        let project = "\(Self.work)/make-\(UUID().uuidString.prefix(8))"
        try FileManager.default.copyItem(atPath: "\(FixtureCompiler.fixturesDirectory)/make-project", toPath: project)
        let summary = try assertReplays(["make", "-s", "-C", project])
        XCTAssertTrue(summary.allResults.contains { $0.executable.hasSuffix("/cc1") })
    }

    func testPreemptedSpinningThreadReplays() throws {
        try assertReplays(["sh", "-c", "\(try ReplayTests.compile("spin_threads")) > /dev/null"])
    }

    /// SIGALRM reaches a loop without syscalls at a watchdog preemption; replay runs to the
    /// recorded registers and delivers it there (a 5 ms watchdog keeps the loop short).
    func testSignalDeliveredToASpinningLoopReplays() throws {
        try assertReplays([try ReplayTests.compile("spin_signal")], watchdogMilliseconds: 5)
    }

    // MARK: - record --syscall-buffer: the preload library's code runs in the interpreter,
    // and its trusted syscall instruction receives the buffered calls' recorded results.

    func testBufferedFileCopyReplays() throws {
        let dir = "\(Self.work)/sbuf-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try String(repeating: "buffered bytes\n", count: 300).write(toFile: dir + "/in", atomically: true, encoding: .utf8)
        try assertReplays([try ReplayTests.compile("syscall_buffer"), "io", dir], syscallBuffer: true)
    }

    func testBufferedShellPipelineWithGzipReplays() throws {
        let dir = "\(Self.work)/sbuf-gzip-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try String(repeating: "a line of text to compress\n", count: 4000).write(toFile: dir + "/f", atomically: true, encoding: .utf8)
        let summary = try assertReplays(["sh", "-c", "cd \(dir) && cat f | gzip > o.gz"], syscallBuffer: true)
        XCTAssertGreaterThanOrEqual(summary.allResults.count, 3)
    }

    /// Buffered opens, stats, closes and dups (and the library's fstat and readlink of each
    /// descriptor), readv and writev, and the buffered lookups replay from their records; so
    /// does tar, which makes them for every file.
    func testBufferedOpensStatsClosesAndTarReplay() throws {
        let dir = "\(Self.work)/sbuf-files-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        try "hello world".write(toFile: dir + "/sub/data", atomically: true, encoding: .utf8)
        try "".write(toFile: dir + "/written", atomically: true, encoding: .utf8)
        try assertReplays([try ReplayTests.compile("syscall_buffer"), "files", dir], syscallBuffer: true)
        try "vectored input".write(toFile: dir + "/in", atomically: true, encoding: .utf8)
        try assertReplays([try ReplayTests.compile("syscall_buffer"), "vectors", dir], syscallBuffer: true)
        // readlink, readlinkat, access, faccessat, getcwd, getdents64 and lseek from their records.
        XCTAssertEqual(symlink("in", dir + "/link"), 0)
        try assertReplays([try ReplayTests.compile("syscall_buffer"), "lookups", dir], syscallBuffer: true)
        try assertReplays(["tar", "cf", dir + "/out.tar", "-C", dir, "sub"], syscallBuffer: true)
    }

    func testBufferedThreadsReplay() throws {
        try assertReplays(["sh", "-c", "\(try ReplayTests.compile("threads")) > /dev/null"], syscallBuffer: true)
    }

    /// A read made through the trusted instruction without logging it is missing from the
    /// trace: replay meets a syscall the recording does not have and says where.
    func testUnloggedCallThroughTheTrustedInstructionIsCaughtAtReplay() throws {
        let dir = "\(Self.work)/sbuf-forge-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "x".write(toFile: dir + "/in", atomically: true, encoding: .utf8)
        var options = RecordOptions(command: [try ReplayTests.compile("syscall_buffer"), "forge", dir], outputDirectory: dir + "/trace")
        options.syscallBuffer = true
        let recorder = Recorder(options: options)
        recorder.log = { _ in }
        XCTAssertEqual(try recorder.run().exitCode, 0)
        let summary = try ReplaySession(trace: try TraceReader(directory: dir + "/trace")).run(options: ReplayOptions(jobs: 1))
        let (_, divergence) = try XCTUnwrap(summary.divergences.first)
        XCTAssertTrue(divergence.actual.hasPrefix("read("), divergence.description)
    }
}

/// A replay that departs from the recording is caught and reported where it happened.
final class DivergenceTests: XCTestCase {
    /// Copies a trace, changing the bytes one `read` delivered: the program then writes
    /// other bytes than the recording shows, which replay must catch at that write.
    func testAlteredInputIsCaughtAtTheWriteWithALocatedReport() throws {
        let input = "\(ReplayTests.work)/divergence-input.txt"
        try "AAAAAAAAAAAAAAAA\n".write(toFile: input, atomically: true, encoding: .utf8)
        let original = "\(ReplayTests.work)/divergence-\(UUID().uuidString.prefix(8))"
        let recorder = Recorder(options: RecordOptions(command: [try ReplayTests.compile("read_file"), input], outputDirectory: original))
        recorder.log = { _ in }
        _ = try recorder.run()

        let reader = try TraceReader(directory: original)
        let altered = original + "-altered"
        let writer = try TraceWriter(directory: altered, header: reader.header)
        for tid in reader.taskIDs {
            for var event in try reader.events(tid: tid) {
                if case .syscall(var s) = event.body, s.number == 0, s.writes.first?.bytes.first == UInt8(ascii: "A") {
                    s.writes[0].bytes = Array("BBBBBBBBBBBBBBBB\n".utf8)
                    event.body = .syscall(s)
                }
                try writer.append(event)
            }
        }
        _ = try writer.finish(exitCode: 0, exitSignal: nil, syscalls: 0)
        try FileManager.default.removeItem(atPath: altered + "/blobs")
        try FileManager.default.copyItem(atPath: original + "/blobs", toPath: altered + "/blobs")

        let summary = try ReplaySession(trace: try TraceReader(directory: altered)).run(options: ReplayOptions(jobs: 1))
        let (_, divergence) = try XCTUnwrap(summary.divergences.first)
        XCTAssertTrue(divergence.reason.contains("write passes different bytes"), divergence.description)
        XCTAssertTrue(divergence.expected.contains("AAAA"))
        XCTAssertTrue(divergence.actual.contains("BBBB"))
        XCTAssertNotNil(divergence.function, "the address is symbolized")
        XCTAssertFalse(divergence.recentDisassembly.isEmpty, "the report lists the last instructions")
        XCTAssertTrue(divergence.recentDisassembly.last?.contains("syscall") ?? false, divergence.description)
    }
}
