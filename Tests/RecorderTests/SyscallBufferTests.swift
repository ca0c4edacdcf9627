import Foundation
import Syscalls
import Trace
import XCTest
@testable import Recorder

/// `record --syscall-buffer` (Recorder/SyscallBuffer.swift): buffered calls become the same
/// events a stopped call makes, the trusted page cannot be changed, and everything the
/// buffer does not cover still stops.
final class SyscallBufferTests: XCTestCase {
    static let lseek = SyscallTable.number(named: "lseek")!

    /// A directory with `in` (1,000 bytes) for `syscall_buffer io DIR`.
    func inputDirectory() throws -> (dir: String, input: [UInt8]) {
        let dir = Fixtures.temporaryDirectory("sbuf")
        let input = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        try Data(input).write(to: URL(fileURLWithPath: dir + "/in"))
        return (dir, input)
    }

    /// The lseek probes (fd, 0, SEEK_CUR) only the preload library makes.
    func probes(_ trace: TraceReader) -> [SyscallEvent] {
        trace.allSyscalls.map(\.event).filter { $0.number == Self.lseek && $0.arguments[1] == 0 && $0.arguments[2] == 1 }
    }

    func testBufferedReadsWritesAndPreadsAreRecordedAsStoppedOnesWould() throws {
        let (dir, input) = try inputDirectory()
        let (result, trace) = try Fixtures.record([try Fixtures.binary("syscall_buffer"), "io", dir], label: "sbuf-io",
                                                  syscallBuffer: true)
        XCTAssertEqual(result.exitCode, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/out")).count, 1000)
        XCTAssertFalse(probes(trace).isEmpty, "no call took the buffered path")
        let events = trace.allSyscalls.map(\.event)
        let reads = events.filter { $0.number == SyscallTable.Number.read && $0.objects.first?.resolved == dir + "/in" }
        XCTAssertEqual(reads.count, 1000 / 7 + 2, "every 7-byte read, the short last one and the one at end of file")
        // The bytes the kernel wrote, in order, are the input.
        XCTAssertEqual(reads.flatMap { $0.writes.flatMap(\.bytes) }, input)
        let writes = events.filter { $0.number == SyscallTable.Number.write && $0.objects.first?.resolved == dir + "/out" }
        XCTAssertEqual(writes.count, 1000 / 7 + 1)
        XCTAssertEqual(writes.first?.inputs, [BufferDigest(address: writes[0].arguments[1], bytes: Array(input[0..<7]))])
        let pread = try XCTUnwrap(events.first { $0.number == SyscallTable.number(named: "pread64") && $0.objects.first?.resolved == dir + "/in" })
        XCTAssertEqual(pread.result, 4)
        XCTAssertEqual(pread.writes.first?.bytes, Array(input[2..<6]))
        let pwrite = try XCTUnwrap(events.first { $0.number == SyscallTable.number(named: "pwrite64") && $0.objects.first?.resolved == dir + "/out" })
        XCTAssertEqual(pwrite.inputs.first?.length, 4)
        // The stat after them stops as before and comes after them in the trace.
        XCTAssertTrue(events.contains { $0.number == SyscallTable.number(named: "fstat") || $0.number == SyscallTable.number(named: "newfstatat") })
    }

    func testTrustedPageCannotBeUnmappedReprotectedReplacedOrWritten() throws {
        let (result, _) = try Fixtures.record([try Fixtures.binary("syscall_buffer"), "page"], label: "sbuf-page",
                                              syscallBuffer: true)
        XCTAssertEqual(result.exitCode, 0, "an attempt on the trusted page was not refused (run the fixture by hand to see which)")
    }

    func testOtherNumbersThroughTheTrustedInstructionStillStop() throws {
        let (result, trace) = try Fixtures.record([try Fixtures.binary("syscall_buffer"), "untrusted"], label: "sbuf-untrusted",
                                                  syscallBuffer: true)
        XCTAssertEqual(result.exitCode, 0)
        // Three getppid: one through the trusted instruction, two from libc.
        XCTAssertEqual(trace.allSyscalls.filter { $0.event.number == SyscallTable.Number.getppid }.count, 3)
    }

    func testStaticBinaryFallsBackAndAClearedEnvironmentGetsThePreloadBack() throws {
        let (dir, input) = try inputDirectory()
        let binary = try Fixtures.binary("syscall_buffer_static", source: "syscall_buffer", flags: ["-static"])
        let (result, trace) = try Fixtures.record([binary, "io", dir], label: "sbuf-static", syscallBuffer: true)
        XCTAssertEqual(result.exitCode, 0)
        XCTAssertTrue(probes(trace).isEmpty, "a static binary cannot load the preload library")
        let reads = trace.allSyscalls.map(\.event).filter { $0.number == SyscallTable.Number.read && $0.objects.first?.resolved == dir + "/in" }
        XCTAssertEqual(reads.flatMap { $0.writes.flatMap(\.bytes) }, input)

        let dynamic = try Fixtures.binary("syscall_buffer")
        let (cleared, clearedTrace) = try Fixtures.record(["/usr/bin/env", "-i", dynamic, "io", dir], label: "sbuf-env",
                                                          syscallBuffer: true)
        XCTAssertEqual(cleared.exitCode, 0)
        // env -i dropped LD_PRELOAD; the supervisor put it back at the execve.
        XCTAssertFalse(probes(clearedTrace).isEmpty, "the program after env -i did not get the preload library back")
        let image = try XCTUnwrap(clearedTrace.execs.last?.snapshot)
        // The preload library and the feature mask, which the supervisor keeps too.
        XCTAssertEqual(image.environment.filter { $0.hasPrefix("LD_PRELOAD=") }.count, 1)
        XCTAssertEqual(Set(image.environment.filter { !$0.hasPrefix("LD_PRELOAD=") }), Set(Recorder.featureMaskEnvironment))
        let clearedReads = clearedTrace.allSyscalls.map(\.event).filter {
            $0.number == SyscallTable.Number.read && $0.objects.first?.resolved == dir + "/in"
        }
        XCTAssertEqual(clearedReads.flatMap { $0.writes.flatMap(\.bytes) }, input)
    }

    func testBufferedOpensStatsClosesAndDupsNameTheirFilesAndWriteOpensStop() throws {
        let dir = Fixtures.temporaryDirectory("sbuf-files")
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        try Data("hello world".utf8).write(to: URL(fileURLWithPath: dir + "/sub/data"))
        try Data().write(to: URL(fileURLWithPath: dir + "/written"))
        let (result, trace) = try Fixtures.record([try Fixtures.binary("syscall_buffer"), "files", dir], label: "sbuf-files",
                                                  syscallBuffer: true)
        XCTAssertEqual(result.exitCode, 0)
        XCTAssertEqual(trace.header.recordingMode, .buffered)
        let events = trace.allSyscalls.map(\.event)
        let data = dir + "/sub/data"
        func buffered(_ name: String, _ resolved: String) -> [SyscallEvent] {
            events.filter { $0.number == SyscallTable.number(named: name) && $0.flags.contains(.buffered)
                && $0.objects.contains { $0.resolved == resolved } }
        }
        // The open under the directory descriptor names the file by path and by descriptor,
        // with the (device, inode) the kernel gave the library.
        var info = stat()
        XCTAssertEqual(stat(data, &info), 0)
        let open = try XCTUnwrap(buffered("openat", data).first)
        XCTAssertEqual(open.objects.map(\.argument), [1, -1])
        XCTAssertEqual(open.objects.map(\.inode), [UInt64(info.st_ino), UInt64(info.st_ino)])
        XCTAssertEqual(open.objects.first?.requested, "data")
        // The stat's result (the struct the kernel wrote) is in the trace, and names the file.
        let fileStat = try XCTUnwrap(buffered("newfstatat", data).first { $0.objects.first?.requested == "data" })
        let written = try XCTUnwrap(fileStat.writes.first?.bytes)
        XCTAssertEqual(written.count, 144)
        XCTAssertEqual(written.loadUInt64(at: 8), UInt64(info.st_ino))
        XCTAssertEqual(written.loadUInt64(at: 48), 11, "st_size")
        let missing = try XCTUnwrap(events.first { $0.flags.contains(.buffered) && $0.objects.first?.requested.hasSuffix("/missing") == true })
        XCTAssertEqual(missing.result, -Int64(ENOENT))
        XCTAssertTrue(missing.writes.isEmpty)
        // An open of a path that does not exist fails on the fast path too, named as a stopped
        // one is (inode 0); the clock's answer is the timespec the kernel wrote.
        let missingOpen = try XCTUnwrap(buffered("openat", dir + "/missing").first)
        XCTAssertEqual(missingOpen.result, -Int64(ENOENT))
        XCTAssertEqual(missingOpen.objects.map(\.inode), [0])
        let clock = try XCTUnwrap(events.first { $0.number == SyscallTable.number(named: "clock_gettime") && $0.flags.contains(.buffered) })
        XCTAssertEqual(clock.writes.first?.bytes.count, 16)
        XCTAssertGreaterThan(clock.writes.first?.bytes.loadUInt64(at: 0) ?? 0, 1_700_000_000)
        // dup, the read through the copy and both closes name the file, although every
        // descriptor was closed before the supervisor drained the buffer.
        XCTAssertEqual(buffered("dup", data).first?.objects.map(\.argument), [0, -1])
        let read = try XCTUnwrap(buffered("read", data).first)
        XCTAssertEqual(read.writes.first?.bytes, Array("hello".utf8))
        XCTAssertEqual(buffered("close", data).count, 2)
        XCTAssertEqual(buffered("close", dir + "/sub").count, 1)
        // A write open and a creating open through the trusted instruction stopped.
        let stopped = events.filter { $0.number == SyscallTable.Number.openat && !$0.flags.contains(.buffered) }
        XCTAssertTrue(stopped.contains { $0.objects.contains { $0.resolved == dir + "/written" } })
        XCTAssertTrue(stopped.contains { $0.objects.contains { $0.resolved == dir + "/made" } && $0.result >= 0 },
                      "an O_CREAT openat made through the trusted instruction did not stop")
        XCTAssertFalse(events.contains { $0.flags.contains(.buffered) && $0.number == SyscallTable.Number.openat
            && $0.arguments[2] & 0o1103 != 0 })
    }

    func testStoppingRecordingsSayTheirModeAndHaveNoBufferedEvents() throws {
        let (dir, _) = try inputDirectory()
        let (result, trace) = try Fixtures.record([try Fixtures.binary("syscall_buffer"), "io", dir], label: "sbuf-stop")
        XCTAssertEqual(result.exitCode, 0)
        XCTAssertEqual(trace.header.recordingMode, .stopping)
        XCTAssertNil(RecordingMode.stopping.trustNotice)
        XCTAssertFalse(trace.allSyscalls.contains { $0.event.flags.contains(.buffered) })
    }

    func testBufferedReadvAndWritevRecordEachVector() throws {
        let (dir, input) = try inputDirectory()
        let (result, trace) = try Fixtures.record([try Fixtures.binary("syscall_buffer"), "vectors", dir], label: "sbuf-vectors",
                                                  syscallBuffer: true)
        XCTAssertEqual(result.exitCode, 0)
        let events = trace.allSyscalls.map(\.event).filter { $0.flags.contains(.buffered) }
        let readv = try XCTUnwrap(events.first { $0.number == SyscallTable.number(named: "readv") })
        XCTAssertEqual(readv.result, 8)
        XCTAssertEqual(readv.objects.first?.resolved, dir + "/in")
        // The empty middle vector gets no write; the others get their own bytes.
        XCTAssertEqual(readv.writes.map(\.bytes), [Array(input[0..<3]), Array(input[3..<8])])
        let writev = try XCTUnwrap(events.first { $0.number == SyscallTable.number(named: "writev") })
        XCTAssertEqual(writev.objects.first?.resolved, dir + "/out")
        XCTAssertEqual(writev.inputs.map(\.length), [5, 3])
        XCTAssertEqual(writev.inputs.first, BufferDigest(address: writev.inputs[0].address, bytes: Array(input[0..<5])))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/out")), Data(input[0..<8]))
    }

    /// readlink, readlinkat, access, faccessat, getcwd, getdents64, lseek and the id calls run
    /// on the fast path and become the events a stopped recording of the same program has: the
    /// same objects (path, device, inode) and the same bytes the kernel wrote.
    func testBufferedLookupsAreTheEventsAStoppedRecordingHas() throws {
        let (dir, _) = try inputDirectory()
        XCTAssertEqual(symlink("in", dir + "/link"), 0)
        let binary = try Fixtures.binary("syscall_buffer")
        let names = ["readlink", "readlinkat", "access", "faccessat2", "getcwd", "getdents64", "lseek",
                     "getpid", "getuid", "geteuid", "getgid", "getegid"]
        let numbers = Set(names.compactMap { SyscallTable.number(named: $0) })
        /// The program's own lookups (not the library's naming readlinks or lseek probes).
        var bufferedPid: Int32 = 0
        func lookups(buffered: Bool) throws -> [SyscallEvent] {
            let (result, trace) = try Fixtures.record([binary, "lookups", dir], label: "sbuf-lookups", syscallBuffer: buffered)
            XCTAssertEqual(result.exitCode, 0)
            if buffered { bufferedPid = trace.allSyscalls.first?.tid ?? 0 }
            return trace.allSyscalls.map(\.event).filter {
                numbers.contains($0.number) && !$0.objects.contains { $0.requested.hasPrefix("/proc/self/fd/") }
                    && !($0.number == Self.lseek && $0.arguments[1] == 0 && $0.arguments[2] == 1)
                    && ($0.number != SyscallTable.number(named: "access") || $0.objects.first?.resolved.hasPrefix(dir) == true)
            }
        }
        let stopped = try lookups(buffered: false), buffered = try lookups(buffered: true)
        XCTAssertEqual(buffered.map(\.number), stopped.map(\.number))
        XCTAssertEqual(Set(buffered.map { SyscallTable.spec($0.number).name }), Set(names))
        for (b, s) in zip(buffered, stopped) {
            let name = SyscallTable.spec(b.number).name
            XCTAssertTrue(b.flags.contains(.buffered), "\(name) stopped")
            // Another recording, another process id: the buffered one is its own.
            XCTAssertEqual(b.result, name == "getpid" ? Int64(bufferedPid) : s.result, name)
            XCTAssertEqual(b.objects.map(\.resolved), s.objects.map(\.resolved), name)
            XCTAssertEqual(b.objects.map(\.inode), s.objects.map(\.inode), name)
            XCTAssertEqual(b.objects.map(\.argument), s.objects.map(\.argument), name)
            XCTAssertEqual(b.writes.map(\.bytes), s.writes.map(\.bytes), name)
        }
        let readlink = try XCTUnwrap(buffered.first { $0.number == SyscallTable.number(named: "readlink") })
        XCTAssertEqual(readlink.objects.first?.resolved, dir + "/link")
        XCTAssertEqual(readlink.writes.first?.bytes, Array("in".utf8))
        let missing = try XCTUnwrap(buffered.first { $0.objects.first?.resolved == dir + "/missing" })
        XCTAssertEqual(missing.result, -Int64(ENOENT))
    }

    /// Buffer resets fall between an open (or a close) and the fstat and readlink that name
    /// its descriptor unless the library keeps room for them: every buffered open and close
    /// of 300 files still names its file.
    func testOpensAndClosesAcrossBufferResetsNameTheirFiles() throws {
        let dir = Fixtures.temporaryDirectory("sbuf-many")
        for i in 0..<300 { try Data(repeating: UInt8(i % 251), count: 2000).write(to: URL(fileURLWithPath: dir + "/f\(i)")) }
        let (result, trace) = try Fixtures.record([try Fixtures.binary("syscall_buffer"), "many", dir, "300"], label: "sbuf-many",
                                                  syscallBuffer: true)
        XCTAssertEqual(result.exitCode, 0)
        let events = trace.allSyscalls.map(\.event).filter { $0.flags.contains(.buffered) }
        let reads = events.filter { $0.number == SyscallTable.Number.read && $0.objects.first?.resolved.hasPrefix(dir + "/f") == true }
        XCTAssertEqual(reads.count, 300)
        // The announcing buffer call, then one per reset.
        XCTAssertGreaterThanOrEqual(trace.allSyscalls.filter { $0.event.number == SyscallBufferABI.bufferCall }.count, 2,
                                    "the buffer was never full")
        for i in 0..<300 {
            let file = dir + "/f\(i)"
            let opens = events.filter { $0.number == SyscallTable.Number.openat && $0.objects.contains { $0.resolved == file } }
            XCTAssertEqual(opens.first?.objects.map(\.argument), [1, -1], "the open of f\(i) lost its descriptor's identity")
            XCTAssertEqual(events.filter { $0.number == SyscallTable.Number.close && $0.objects.first?.resolved == file }.count, 1,
                           "the close of f\(i) does not name it")
        }
    }

    /// A read that could block (a pipe's) never runs on the fast path, where a thread would
    /// sleep in the kernel without a stop and so never hand the run token to its siblings:
    /// here the sibling makes its buffered reads while the reader sleeps, then wakes it.
    func testAThreadBlockedInAReadDoesNotStallItsSiblings() throws {
        let (dir, _) = try inputDirectory()
        let binary = try Fixtures.binary("syscall_buffer")
        let finished = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<(RecordResult, TraceReader), Error>?
        let thread = Thread {
            outcome = Result { try Fixtures.record([binary, "blocked", dir], label: "sbuf-blocked", syscallBuffer: true) }
            finished.signal()
        }
        thread.start()
        // Generous: the recording takes well under a second; a stall never ends.
        guard finished.wait(timeout: .now() + 120) == .success, let outcome else {
            return XCTFail("the recording stalled: a thread blocked in read kept its siblings from running")
        }
        let (result, trace) = try outcome.get()
        XCTAssertEqual(result.exitCode, 0)
        let buffered = trace.allSyscalls.map(\.event).filter {
            $0.flags.contains(.buffered) && $0.number == SyscallTable.Number.read && $0.objects.first?.resolved == dir + "/in"
        }
        XCTAssertEqual(buffered.count, 100)
        // The pipe read stopped (it may block), so it is not a buffered event.
        XCTAssertTrue(trace.allSyscalls.contains {
            $0.event.number == SyscallTable.Number.read && !$0.event.flags.contains(.buffered)
                && $0.event.objects.first?.resolved.hasPrefix("pipe:") == true && $0.event.result == 1
        })
    }

    /// glibc's own calls (fread's read, fwrite's write, stdio's fstat, opendir's openat, fstat,
    /// getdents64 and close) reach the kernel from libc's wrapper functions, never through the
    /// PLT: they take the fast path only because the library patched those call sites. Their
    /// events carry the bytes read, the digest of the bytes written and the stat the kernel
    /// wrote, as a stopped call's do; with the patching turned off they stop.
    func testGlibcInternalCallsTakeTheFastPathThroughPatchedSites() throws {
        let dir = Fixtures.temporaryDirectory("sbuf-stdio")
        let input = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        try Data(input).write(to: URL(fileURLWithPath: dir + "/in"))
        let binary = try Fixtures.binary("syscall_buffer_stdio")
        let (result, trace) = try Fixtures.record([binary, dir], label: "sbuf-stdio", syscallBuffer: true)
        XCTAssertEqual(result.exitCode, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/out")), Data(input))
        let events = trace.allSyscalls.map(\.event)
        func buffered(_ name: String, _ resolved: String) -> [SyscallEvent] {
            events.filter { $0.number == SyscallTable.number(named: name) && $0.flags.contains(.buffered)
                && $0.objects.contains { $0.resolved == resolved } }
        }
        let reads = buffered("read", dir + "/in")
        XCTAssertEqual(reads.flatMap { $0.writes.flatMap(\.bytes) }, input, "fread's read was not buffered with its bytes")
        let write = try XCTUnwrap(buffered("write", dir + "/out").first, "fwrite's write was not buffered")
        XCTAssertEqual(write.inputs, [BufferDigest(address: write.arguments[1], bytes: input)])
        // stdio's fstat of the stream's descriptor: the struct the kernel wrote.
        let stat = try XCTUnwrap(buffered("newfstatat", dir + "/in").first { $0.arguments[3] & 0x1000 /* AT_EMPTY_PATH */ != 0 })
        XCTAssertEqual(stat.writes.first?.bytes.loadUInt64(at: 48), 3000, "st_size")
        XCTAssertFalse(buffered("openat", dir + "/in").isEmpty, "fopen's open was not buffered")
        // opendir/readdir/closedir: the directory's open, entries and close.
        XCTAssertFalse(buffered("openat", dir).isEmpty, "opendir's open was not buffered")
        let entries = buffered("getdents64", dir)
        XCTAssertGreaterThan(entries.first?.result ?? 0, 0, "readdir's getdents64 was not buffered")
        XCTAssertEqual(entries.first?.writes.first?.bytes.count, Int(entries.first?.result ?? 0))
        XCTAssertEqual(buffered("close", dir).count, 1, "closedir's close was not buffered")

        // The same program with the patching off: the same calls stop.
        let (plain, plainTrace) = try Fixtures.record(["/usr/bin/env", "MAGPROV_SYSCALL_BUFFER_NO_PATCH=1", binary, dir],
                                                      label: "sbuf-stdio-off", syscallBuffer: true)
        XCTAssertEqual(plain.exitCode, 0)
        let plainReads = plainTrace.allSyscalls.map(\.event).filter {
            $0.number == SyscallTable.Number.read && $0.objects.first?.resolved == dir + "/in"
        }
        XCTAssertEqual(plainReads.flatMap { $0.writes.flatMap(\.bytes) }, input)
        XCTAssertFalse(plainReads.contains { $0.flags.contains(.buffered) }, "fread's read was buffered without the patch")
    }

    /// The patched sites reach mp_patched_syscall with any number libc's wrapper makes; a
    /// number the filter does not allow at the trusted instruction still stops there, and
    /// so does a call the library cannot buffer (a pipe's read through stdio).
    func testPatchedSitesStillStopForPipesAndOtherNumbers() throws {
        let (result, trace) = try Fixtures.record(["/bin/sh", "-c", "echo piped | sed -n p"], label: "sbuf-stdio-pipe",
                                                  syscallBuffer: true)
        XCTAssertEqual(result.exitCode, 0)
        let pipeReads = trace.allSyscalls.map(\.event).filter {
            $0.number == SyscallTable.Number.read && $0.objects.first?.resolved.hasPrefix("pipe:") == true
        }
        XCTAssertFalse(pipeReads.isEmpty)
        XCTAssertFalse(pipeReads.contains { $0.flags.contains(.buffered) }, "a pipe's read took the fast path")
        XCTAssertTrue(pipeReads.contains { $0.writes.first?.bytes == Array("piped\n".utf8) })
    }

    /// fcntl's two flag reads (F_GETFD, F_GETFL) take the fast path through libc's patched
    /// fcntl; F_SETFD stops; and at the trusted instruction itself the filter lets fcntl
    /// through only with those two commands: F_SETFD and F_DUPFD made there stop.
    func testFcntlFlagReadsAreBufferedAndOtherCommandsStop() throws {
        let dir = Fixtures.temporaryDirectory("sbuf-fcntl")
        try Data(repeating: 7, count: 100).write(to: URL(fileURLWithPath: dir + "/in"))
        let (result, trace) = try Fixtures.record([try Fixtures.binary("syscall_buffer_stdio"), dir, "fcntl"],
                                                  label: "sbuf-fcntl", syscallBuffer: true)
        XCTAssertEqual(result.exitCode, 0, "a fcntl answered wrongly (the fixture's exit status says which)")
        let fcntl = trace.allSyscalls.map(\.event).filter {
            $0.number == SyscallTable.number(named: "fcntl") && $0.objects.first?.resolved == dir
        }
        let buffered = fcntl.filter { $0.flags.contains(.buffered) }
        let stopped = fcntl.filter { !$0.flags.contains(.buffered) }
        // F_GETFL, F_GETFD, and F_GETFD twice more after the changes.
        XCTAssertEqual(buffered.map(\.arguments[1]), [3, 1, 1, 1])
        XCTAssertNotEqual((buffered.first?.result ?? 0) & Int64(O_DIRECTORY), 0, "F_GETFL's result")
        XCTAssertEqual(buffered.map(\.result).dropFirst(), [1, 0, 1])
        // F_SETFD from libc, F_SETFD and F_DUPFD from the trusted instruction: all stopped.
        XCTAssertEqual(stopped.map(\.arguments[1]), [2, 2, 0])
        XCTAssertGreaterThanOrEqual(stopped.last?.result ?? -1, 100)
    }
}
