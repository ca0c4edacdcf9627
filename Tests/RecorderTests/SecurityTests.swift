import CSupport
import Foundation
@testable import Recorder
import Syscalls
import Trace
import XCTest

/// The recorded program attacks the recorder (issue 11): README, "Threat model".
/// The tests run as whatever user CI is (root there); each refusal they check is the
/// supervisor's own (the `refused` flag), which the kernel's permission checks cannot fake.
final class SecurityTests: XCTestCase {
    private func number(_ name: String) throws -> Int { try XCTUnwrap(SyscallTable.number(named: name)) }

    func testAttacksOnTheRecorderAndItsTraceAreRefusedAndRecorded() throws {
        try recordAttacks(prefix: [])
    }

    /// The issue asks for the attacker to be unprivileged: as root, the kernel's own
    /// permission checks are off (CAP_SYS_PTRACE, CAP_KILL), so run it as nobody too.
    func testAttacksOfAnUnprivilegedProgramAreRefusedAndRecorded() throws {
        guard getuid() == 0 else { return try recordAttacks(prefix: []) }
        let setpriv = "/usr/bin/setpriv"
        guard FileManager.default.isExecutableFile(atPath: setpriv) else {
            throw XCTSkip("setpriv (util-linux) is needed to drop to nobody")
        }
        try recordAttacks(prefix: [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--"])
    }

    private func recordAttacks(prefix: [String]) throws {
        let directory = Fixtures.temporaryDirectory("attack") + "/trace"
        // A pidfd of the recorder, inherited as if a process outside the recording had
        // passed it, and the tid of another of the recorder's threads.
        let pidfd = mp_pidfd_open(getpid())
        XCTAssertGreaterThanOrEqual(pidfd, 0)
        defer { close(pidfd) }
        _ = fcntl(pidfd, F_SETFD, 0)
        let parked = DispatchSemaphore(value: 0), started = DispatchSemaphore(value: 0)
        let thread = Thread { started.signal(); parked.wait() }
        thread.start()
        started.wait()
        defer { parked.signal() }
        let tids = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { Int32($0) }
        let otherThread = try XCTUnwrap(tids.filter { $0 != getpid() }.max())
        let recorder = Recorder(options: RecordOptions(
            command: prefix + [try Fixtures.binary("attack_recorder"), directory, "\(pidfd)", "\(otherThread)"],
            outputDirectory: directory))
        var log: [String] = []
        recorder.log = { log.append($0) }
        let result = try recorder.run()
        XCTAssertEqual(result.exitCode, 0, "an attack got through: \(log.joined(separator: "\n"))")
        XCTAssertNil(result.traceError)
        let trace = try TraceReader(directory: directory)
        let syscalls = trace.allSyscalls.map(\.event)
        func refused(_ name: String, errno: Int32 = EPERM, where condition: (SyscallEvent) -> Bool = { _ in true }) throws {
            let n = try number(name)
            let calls = syscalls.filter { $0.number == n && condition($0) }
            XCTAssertFalse(calls.isEmpty, "\(name) not recorded")
            XCTAssertTrue(calls.allSatisfy { $0.flags.contains(.refused) && $0.result == -Int64(errno) },
                          "\(name) not refused by magprov: \(calls.map { ($0.flags, $0.result) })")
        }
        try refused("kill")
        try refused("pidfd_send_signal")
        try refused("pidfd_getfd")
        try refused("tkill")
        try refused("rt_sigqueueinfo")
        try refused("rt_tgsigqueueinfo")
        try refused("ioctl") { $0.arguments[1] == 0x5412 /* TIOCSTI */ }
        try refused("tgkill")
        try refused("pidfd_open")
        try refused("prlimit64") { $0.arguments[0] != 0 }
        try refused("ptrace", errno: ENOSYS)  // the table refuses every ptrace
        try refused("process_vm_readv")
        try refused("fcntl") { $0.arguments[1] == 8 }
        try refused("setpgid")
        try refused("prctl") { $0.arguments[0] == 4 }
        try refused("unlink")
        try refused("rename")
        try refused("openat") { $0.objects.contains { $0.resolved.hasPrefix("/proc/\(getpid())/") } }
        try refused("openat") { $0.objects.contains { $0.resolved.hasSuffix("/header.json") } }
        // /proc/self is the program's own entry, not the recorder's.
        let openat = try number("openat")
        let selfOpen = try XCTUnwrap(syscalls.first { $0.number == openat && $0.objects.contains { $0.requested == "/proc/self/status" } })
        XCTAssertFalse(selfOpen.flags.contains(.refused))
        XCTAssertGreaterThanOrEqual(selfOpen.result, 0)
        let root = try XCTUnwrap(trace.taskStarts.first)
        XCTAssertEqual(selfOpen.objects.first { $0.argument >= 0 }?.resolved, "/proc/\(root.pid)/status")
        // The trace is intact: header readable, the run finished with a manifest.
        XCTAssertNotNil(trace.manifest)
        XCTAssertEqual(trace.header.argv.dropLast(2).last, directory)
    }

    /// The `magprov` executable built beside the test bundle.
    private static func magprovBinary() throws -> String {
        let magprov = (Bundle.main.executableURL?.deletingLastPathComponent()
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()).appendingPathComponent("magprov").path
        guard FileManager.default.isExecutableFile(atPath: magprov) else {
            throw XCTSkip("\(magprov) is not built (swift build --product magprov)")
        }
        return magprov
    }

    /// The flipped path's argument index, by `toctou_flip` operation and syscall name.
    private static let flipOperations: [(op: String, syscall: String, argument: Int)] = [
        ("truncate", "truncate", 0), ("chmod", "chmod", 0), ("fchmodat", "fchmodat", 1), ("unlink", "unlink", 0),
        ("unlinkat", "unlinkat", 1), ("rename", "rename", 0), ("renameat2", "renameat2", 1), ("link", "link", 0),
        ("mkdir", "mkdir", 0), ("rmdir", "rmdir", 0), ("symlink", "symlink", 1), ("execve", "execve", 0),
    ]

    /// Records `toctou_flip DIR OP COUNT` and compares, call by call, the file the trace
    /// names for the flipped argument with the one the kernel acted on.
    /// - Returns: how many calls the trace names another file for, and a description.
    private func flipRun(op: String, syscall: String, argument: Int, count: Int = 40,
                         copiesPaths: Bool = true) throws -> (wrong: Int, undecided: Int, text: String) {
        let directory = Fixtures.temporaryDirectory("flip-\(op)")
        let traceDirectory = directory + "/trace"
        var options = RecordOptions(command: [try Fixtures.binary("toctou_flip"), directory, op, "\(count)"],
                                    outputDirectory: traceDirectory)
        options.copiesPathArguments = copiesPaths
        // The flipper shares memory with the caller, so the two are scheduled as one
        // shared-memory group and the flipper, which spins without syscalls, hands the
        // token back only when the watchdog preempts it: a short period keeps each call's
        // wait short (the race itself needs the caller to be in the kernel, not the token).
        options.watchdogMilliseconds = 1
        let recorder = Recorder(options: options)
        recorder.log = { _ in }
        let result = try recorder.run()
        XCTAssertEqual(result.exitCode, 0, "\(op): the fixture failed (4: an argument register was not restored)")
        let trace = try TraceReader(directory: traceDirectory)
        let truth = Array(try String(contentsOfFile: directory + "/truth", encoding: .utf8))
        let names: Set<String> = [directory + "/a", directory + "/b"]
        let n = try number(syscall)
        let recorded: [Character] = trace.allSyscalls.map(\.event).compactMap { event in
            guard event.number == n,
                  let object = event.objects.first(where: { $0.argument == argument && names.contains($0.requested) }) else { return nil }
            let last = object.resolved.split(separator: "/").last.map(String.init) ?? "?"
            return last == "a" ? "a" : last == "b" ? "b" : "?"
        }
        XCTAssertEqual(recorded.count, count, "\(op): calls recorded")
        let wrong = zip(recorded, truth).filter { $0.0 != $0.1 && $0.1 != "?" }.count
        return (wrong, truth.filter { $0 == "?" }.count, "\(op): recorded \(String(recorded)), kernel acted on \(String(truth))")
    }

    /// rr's answer to time of check / time of use: the kernel reads the supervisor's copy of
    /// each path (ScratchArguments.swift), so a sibling flipping the string in shared memory
    /// cannot make the trace name another file than the one the kernel changed. Every path
    /// syscall kind the issue names, *at variants and execve included.
    func testAPathFlippedBySiblingProcessIsRecordedAsTheFileTheKernelChanged() throws {
        for (op, syscall, argument) in Self.flipOperations {
            let run = try flipRun(op: op, syscall: syscall, argument: argument, count: op == "execve" ? 20 : 40)
            XCTAssertEqual(run.wrong, 0, run.text)
            XCTAssertEqual(run.undecided, 0, run.text)
        }
    }

    /// The same attack with the copy turned off: the trace then names the other file for
    /// some calls (the issue saw 15, 24, 6 and 20 of 40; on a loaded machine the flipper is
    /// off the CPU more often and fewer calls race, hence 200 of each here), which is what
    /// the test above catches if the copy stops working.
    func testWithoutTheCopyTheFlippedPathIsRecordedAgainstTheWrongFile() throws {
        var total = 0, texts: [String] = []
        for (op, syscall, argument) in Self.flipOperations where ["truncate", "chmod", "unlink", "rename"].contains(op) {
            let run = try flipRun(op: op, syscall: syscall, argument: argument, count: 200, copiesPaths: false)
            total += run.wrong
            texts.append("\(run.wrong) wrong; \(run.text)")
        }
        print(texts.joined(separator: "\n"))
        XCTAssertGreaterThan(total, 0, "the race never hit without the copy: \(texts.joined(separator: "; "))")
    }

    /// Records `toctou_sockaddr DIR OP COUNT` and compares, call by call, the socket address
    /// the trace holds for the call with the one the kernel used.
    private func socketAddressFlipRun(op: String, count: Int, copies: Bool = true) throws -> (wrong: Int, text: String) {
        let directory = Fixtures.temporaryDirectory("flip-\(op)")
        var options = RecordOptions(command: [try Fixtures.binary("toctou_sockaddr"), directory, op, "\(count)"],
                                    outputDirectory: directory + "/trace")
        options.copiesPathArguments = copies
        options.watchdogMilliseconds = 1  // as in flipRun: the flipper spins without syscalls
        let recorder = Recorder(options: options)
        recorder.log = { _ in }
        let result = try recorder.run()
        XCTAssertEqual(result.exitCode, 0, "\(op): the fixture failed (4: an argument register was not restored)")
        let trace = try TraceReader(directory: directory + "/trace")
        let truth = Array(try String(contentsOfFile: directory + "/truth", encoding: .utf8))
        let spec = SyscallTable.spec(try number(op))
        let argument = try XCTUnwrap(spec.socketAddressArgument)
        let recorded: [Character] = trace.allSyscalls.map(\.event).compactMap { event in
            guard event.number == spec.number, event.arguments[argument.length] < 64,
                  let input = event.inputs.first(where: { $0.address == event.arguments[argument.address] }),
                  input.prefix.count == Int(event.arguments[argument.length]),
                  let last = input.prefix.last, last == 0x61 || last == 0x62 else { return nil }
            return Character(UnicodeScalar(last))
        }
        XCTAssertEqual(recorded.count, count, "\(op): calls recorded")
        let wrong = zip(recorded, truth).filter { $0.0 != $0.1 }.count
        return (wrong, "\(op): recorded \(String(recorded)), kernel used \(String(truth))")
    }

    /// Socket addresses go to the kernel from the supervisor's copy too: a sibling flipping
    /// the name in shared memory cannot make `bind` or `sendto` use another address than the
    /// one recorded.
    func testASocketAddressFlippedBySiblingIsRecordedAsTheAddressTheKernelUsed() throws {
        for op in ["bind", "sendto"] {
            let run = try socketAddressFlipRun(op: op, count: 60)
            XCTAssertEqual(run.wrong, 0, run.text)
        }
    }

    /// The same flips with the copy turned off: some calls are then recorded with the other
    /// address, which the test above catches if the copy stops working.
    ///
    /// Whether the sibling's flip lands between the recorder's read and the kernel's is up
    /// to the scheduler (one CI run saw 0 of 400): the control retries up to five rounds
    /// and, if the race never hits, says so as a skip rather than a failure, since the
    /// assertion that matters is the one above.
    func testWithoutTheCopyAFlippedSocketAddressIsRecordedWrong() throws {
        var texts: [String] = []
        for round in 1...5 {
            var total = 0
            for op in ["bind", "sendto"] {
                let run = try socketAddressFlipRun(op: op, count: 200, copies: false)
                total += run.wrong
                texts.append("round \(round): \(run.wrong) wrong (\(op))")
            }
            if total > 0 {
                print(texts.joined(separator: "\n"))
                return
            }
        }
        throw XCTSkip("the race did not hit in 5 rounds of 400 calls on this machine, so the control could not be shown: \(texts.joined(separator: "; "))")
    }

    /// Records `toctou_write DIR COUNT` and compares, call by call, the digest the trace
    /// holds for the written buffer with the bytes the kernel wrote (the file's pieces).
    private func writeFlipRun(count: Int, vectored: Bool = false, copies: Bool = true) throws -> (wrong: Int, text: String) {
        let directory = Fixtures.temporaryDirectory("flip-write")
        var options = RecordOptions(command: [try Fixtures.binary("toctou_write"), directory, "\(count)"] + (vectored ? ["writev"] : []),
                                    outputDirectory: directory + "/trace")
        options.copiesPathArguments = copies
        options.watchdogMilliseconds = 1  // as in flipRun: the flipper spins without syscalls
        let recorder = Recorder(options: options)
        recorder.log = { _ in }
        let result = try recorder.run()
        XCTAssertEqual(result.exitCode, 0, "the fixture failed (4: an argument register was not restored)")
        let trace = try TraceReader(directory: directory + "/trace")
        let written = [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: directory + "/out")))
        let n = try number(vectored ? "writev" : "write")
        let writes = trace.allSyscalls.map(\.event).filter { $0.number == n && $0.result == 256 }
        XCTAssertEqual(writes.count, count, "writes recorded")
        XCTAssertEqual(written.count, 256 * count)
        var wrong = 0, mixed = 0
        for (k, call) in writes.enumerated() where 256 * (k + 1) <= written.count {
            let piece = written[(256 * k)..<(256 * (k + 1))]
            if Set(piece).count > 1 { mixed += 1 }
            let pieces = vectored ? [piece.prefix(100), piece.dropFirst(100)] : [piece]
            if call.inputs.map(\.hash) != pieces.map({ fnv1a64($0) }) { wrong += 1 }
        }
        return (wrong, "\(wrong) of \(writes.count) writes recorded with other bytes than the kernel wrote (\(mixed) written half changed)")
    }

    /// A write's buffer goes to the kernel from the supervisor's copy (the scratch area's
    /// data region): a sibling rewriting the buffer in shared memory cannot make the trace
    /// hold other bytes than the file received.
    func testAWriteBufferChangedBySiblingIsRecordedAsTheBytesTheKernelWrote() throws {
        let run = try writeFlipRun(count: 200)
        XCTAssertEqual(run.wrong, 0, run.text)
    }

    /// The same for a vectored write: the iovec array and its buffers are copied together.
    func testAWritevBufferChangedBySiblingIsRecordedAsTheBytesTheKernelWrote() throws {
        let run = try writeFlipRun(count: 200, vectored: true)
        XCTAssertEqual(run.wrong, 0, run.text)
    }

    /// The same with the copy off: some writes are then recorded with other bytes than
    /// were written. A race the scheduler decides, hence retried, and a skip with the counts
    /// when it never hits (the assertion that matters is the one above).
    func testWithoutTheCopyAChangedWriteBufferIsRecordedWrong() throws {
        var texts: [String] = []
        for round in 1...5 {
            let single = try writeFlipRun(count: 400, copies: false)
            let vectored = try writeFlipRun(count: 400, vectored: true, copies: false)
            texts.append("round \(round): write \(single.text); writev \(vectored.text)")
            if single.wrong > 0 && vectored.wrong > 0 { return print(texts.joined(separator: "\n")) }
        }
        throw XCTSkip("the race did not hit in 5 rounds of 400 writes on this machine: \(texts.joined(separator: "; "))")
    }

    /// TIOCSIG on a pty master signals the slave's foreground process group; aimed at the
    /// recorder's group it is refused, also when a thread that is not its group's leader
    /// asks (a plain pidfd_open of that thread failed, and the guard let the call through).
    /// The terminal is real: a session leader (`setsid -c`) makes the pty its controlling
    /// terminal, and the guard is given that session's group as the recorder's.
    func testTIOCSIGAtTheRecordersGroupIsRefusedFromAnyThread() throws {
        var master: Int32 = -1, slave: Int32 = -1
        XCTAssertEqual(mp_open_pty(&master, &slave), 0)
        defer { close(master); close(slave) }
        let leader = Process()
        leader.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        leader.arguments = ["-c", "sleep", "30"]
        leader.standardInput = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        try leader.run()
        // setsid forks when it leads a group already: the session is its child's.
        var group: Int32 = 0
        for _ in 0..<500 where group <= 0 {
            group = mp_terminal_foreground_group(master)
            if group <= 0 { usleep(10_000) }
        }
        defer { if group > 0 { kill(-group, SIGKILL) }; leader.waitUntilExit() }
        XCTAssertGreaterThan(group, 0, "setsid -c did not make the pty its terminal")
        XCTAssertNotEqual(group, getpgrp())

        let parked = DispatchSemaphore(value: 0), started = DispatchSemaphore(value: 0)
        let thread = Thread { started.signal(); parked.wait() }
        thread.start()
        started.wait()
        defer { parked.signal() }
        let tids = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { Int32($0) }
        let otherThread = try XCTUnwrap(tids.filter { $0 != getpid() }.max())

        let ioctl = SyscallTable.spec(try number("ioctl"))
        let arguments: [UInt64] = [UInt64(master), 0x4004_5436 /* TIOCSIG */, UInt64(SIGTERM), 0, 0, 0]
        func refused(_ recorderGroup: Int32, tid: Int32) -> Bool {
            TraceeGuard(protected: ProtectedRecorder(pid: getpid(), processGroup: recorderGroup, traceDirectory: "/nonexistent"))
                .check(tid: tid, spec: ioctl, arguments: arguments, objects: [], memory: TaskAccess(tid: tid)) != nil
        }
        XCTAssertTrue(refused(group, tid: getpid()))
        XCTAssertTrue(refused(group, tid: otherThread), "asked from a thread that does not lead its group")
        XCTAssertFalse(refused(getpgrp() == group ? group + 1 : getpgrp(), tid: otherThread), "another group's terminal is the program's business")
    }

    /// The same attack made by a recorded program: `magprov record` runs in the foreground
    /// group of a pty (`setsid -w -c sh -c …`: the shell's session, the recorder in the
    /// shell's group, its standard input elsewhere so that it keeps the terminal), and the
    /// program, given the pty's master, asks for SIGTERM to that group. Refused (EPERM) and
    /// recorded as refused; the recorder finishes its trace. The program runs as nobody
    /// when the tests run as root.
    func testATIOCSIGByTheRecordedProgramAtTheRecordersGroupIsRefusedAndRecorded() throws {
        let magprov = try Self.magprovBinary()
        var master: Int32 = -1, slave: Int32 = -1
        XCTAssertEqual(mp_open_pty(&master, &slave), 0)
        defer { close(master); close(slave) }
        let directory = Fixtures.temporaryDirectory("tiocsig") + "/trace"
        // Process passes on descriptors 0-2 only: the master goes as standard output, and
        // the shell moves it to 3 for the program.
        var command = [try Fixtures.binary("tiocsig_recorder"), "3"]
        if getuid() == 0 { command = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] + command }
        let quoted = ([magprov, "record", "-o", directory, "--"] + command).map { "'\($0)'" }.joined(separator: " ")
        let session = Process()
        session.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        session.arguments = ["-w", "-c", "/bin/sh", "-c", "exec \(quoted) 3>&1 >/dev/null </dev/null"]
        session.standardInput = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        session.standardOutput = FileHandle(fileDescriptor: master, closeOnDealloc: false)
        try session.run()
        session.waitUntilExit()
        XCTAssertEqual(session.terminationReason, .exit, "the recorder was signalled")
        XCTAssertEqual(session.terminationStatus, 0, "the program's ioctl was not refused (1) or failed otherwise (2)")
        let trace = try TraceReader(directory: directory)
        let ioctl = try number("ioctl")
        let call = try XCTUnwrap(trace.allSyscalls.map(\.event).first { $0.number == ioctl && $0.arguments[1] == 0x4004_5436 })
        XCTAssertTrue(call.flags.contains(.refused))
        XCTAssertEqual(call.result, -Int64(EPERM))
        XCTAssertNotNil(trace.manifest, "the recording finished")
    }

    /// One writev of 1,024 iovecs over the same buffer (the issue measured 33 s recorded
    /// against 2.3 s native with 16 MB; 4 MB here keeps a debug run short): the kernel takes
    /// at most MAX_RW_COUNT bytes of the array, so only the first 512 iovecs are digested,
    /// and the 511 identical ones share one pass over the buffer.
    func testAWritevOfOneBufferRepeatedIsDigestedOnceUpToWhatTheKernelTakes() throws {
        let (result, trace) = try Fixtures.record([try Fixtures.binary("writev_repeated"), "/dev/null", "4"])
        XCTAssertEqual(result.exitCode, 0)
        let writev = try number("writev")
        let call = try XCTUnwrap(trace.allSyscalls.map(\.event).first { $0.number == writev })
        XCTAssertEqual(call.result, Int64(maximumCaptureLength), "the kernel's MAX_RW_COUNT")
        XCTAssertEqual(call.inputs.count, 512)
        XCTAssertEqual(call.inputs.map(\.length).reduce(0, +), maximumCaptureLength)
        XCTAssertEqual(Set(call.inputs.dropLast().map(\.hash)).count, 1)
        XCTAssertEqual(call.inputs.last?.length, maximumCaptureLength - 511 * (4 << 20))
    }

    /// The filesystem half: a symlink swapped between the supervisor's look at the path and
    /// the kernel's. Without the exit-time correction (the path argument takes the identity
    /// of the descriptor the kernel returned) a run here recorded 7 of 200 opens against
    /// the other file, and this test failed.
    func testASymlinkSwappedUnderTheRecorderIsRecordedAsTheFileTheKernelOpened() throws {
        let directory = Fixtures.temporaryDirectory("symlink")
        let (result, trace) = try Fixtures.record([try Fixtures.binary("toctou_symlink"), directory])
        XCTAssertEqual(result.exitCode, 0)
        let truth = Array(try String(contentsOfFile: directory + "/truth", encoding: .utf8))
        var a = stat(), b = stat()
        XCTAssertEqual(stat(directory + "/a", &a), 0)
        XCTAssertEqual(stat(directory + "/b", &b), 0)
        func name(_ object: ObjectIdentity?) -> Character {
            object?.inode == UInt64(a.st_ino) ? "a" : object?.inode == UInt64(b.st_ino) ? "b" : "?"
        }
        let openat = try number("openat")
        let opens = trace.allSyscalls.map(\.event).filter {
            $0.number == openat && $0.objects.contains { $0.argument == 1 && $0.requested == directory + "/link" }
        }
        XCTAssertEqual(opens.count, 200)
        XCTAssertTrue(Set(truth).isSuperset(of: ["a", "b"]), "the swap never raced: \(String(truth))")
        let recorded = opens.map { call in name(call.objects.first { $0.argument == 1 }) }
        let opened = opens.map { call in name(call.objects.first { $0.argument == -1 }) }
        XCTAssertEqual(String(recorded), String(truth), "the path argument names another file than the kernel opened")
        XCTAssertEqual(String(opened), String(truth), "the returned descriptor names another file than the kernel opened")
    }

    /// The filesystem half for calls that return no descriptor: a sibling swaps the
    /// directory symlink on the path between the supervisor's resolution and the kernel's.
    /// No descriptor says afterwards which file the kernel used (and a created name is
    /// resolved at the exit, after the kernel's walk), so the supervisor flags (`pathRaced`)
    /// every call during which another task changed the namespace: every call whose
    /// recorded file is not the one the kernel changed must carry the flag, and calls no
    /// change overlapped must not. `ops`: (operation and syscall, the argument the fixture's
    /// truth is about, the path it names: f, g or h in the swapped directory).
    /// - Returns: how many calls were recorded against another file (all flagged).
    @discardableResult
    private func symlinkSwapRun(_ ops: [(op: String, argument: Int, name: String)], calls: Int = 40,
                                requireFlag: Bool = true) throws -> Int {
        var mismatches = 0
        for (op, argument, name) in ops {
            let directory = Fixtures.temporaryDirectory("symlink-\(op)")
            let (result, trace) = try Fixtures.record([try Fixtures.binary("toctou_symlink_calls"), directory, op, "\(calls)"])
            XCTAssertEqual(result.exitCode, 0, "\(op): the fixture failed")
            let truth = Array(try String(contentsOfFile: directory + "/truth", encoding: .utf8))
            let events = trace.allSyscalls.map(\.event)
            func named(_ syscall: String, argument: Int, path: String) throws -> [(file: Character, raced: Bool)] {
                let n = try number(syscall)
                return events.compactMap { event in
                    guard event.number == n,
                          let object = event.objects.first(where: { $0.argument == argument && $0.requested == path }) else { return nil }
                    let parent = object.resolved.split(separator: "/").dropLast().last
                    return (parent == "da" ? "a" : parent == "db" ? "b" : "?", event.flags.contains(.pathRaced))
                }
            }
            var recorded = try named(op, argument: argument, path: directory + "/d/" + name)
            let quiet = try named("chmod", argument: 0, path: directory + "/d/f").suffix(10)
            if op == "chmod" { recorded.removeLast(10) }
            XCTAssertEqual(recorded.count, calls, "\(op): calls recorded")
            XCTAssertTrue(Set(truth).isSuperset(of: ["a", "b"]), "\(op): the swap never raced: \(String(truth))")
            var wrong = 0
            for (k, (call, acted)) in zip(recorded, truth).enumerated() where call.file != acted {
                wrong += 1
                if requireFlag {
                    XCTAssertTrue(call.raced, "\(op) call \(k): recorded against \(call.file), the kernel changed \(acted), not flagged")
                }
            }
            mismatches += wrong
            XCTAssertEqual(quiet.count, 10)
            XCTAssertTrue(quiet.allSatisfy { !$0.raced }, "\(op): calls no namespace change overlapped are flagged: \(quiet)")
            print("symlink swaps under \(op): \(wrong) of \(calls) calls recorded against another file than the kernel changed; \(recorded.filter(\.raced).count) of \(calls) flagged")
            if op == "chmod" {
                // `magprov info` says how many calls are flagged.
                let info = Process(), output = Pipe()
                info.executableURL = URL(fileURLWithPath: try Self.magprovBinary())
                info.arguments = ["info", "--json", trace.directory]
                info.standardOutput = output
                try info.run()
                let data = output.fileHandleForReading.readDataToEndOfFile()
                info.waitUntilExit()
                let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
                XCTAssertEqual(object["pathRacedSyscalls"] as? Int, events.filter { $0.flags.contains(.pathRaced) }.count)
                XCTAssertGreaterThan(object["pathRacedSyscalls"] as? Int ?? 0, 0)
            }
        }
        return mismatches
    }

    /// Calls that change a file's attributes or size through a path.
    func testASymlinkSwappedUnderAnAttributeChangeIsFlaggedWheneverItCouldMislead() throws {
        try symlinkSwapRun([("chmod", 0, "f"), ("fchmodat", 1, "f"), ("truncate", 0, "f"), ("utimensat", 1, "f")])
    }

    /// Calls that only look (stat): the inode the kernel reported says which file it was.
    func testASymlinkSwappedUnderAStatIsFlaggedWheneverItCouldMislead() throws {
        try symlinkSwapRun([("newfstatat", 1, "f")])
    }

    /// Calls that remove a name.
    func testASymlinkSwappedUnderARemovalIsFlaggedWheneverItCouldMislead() throws {
        try symlinkSwapRun([("unlink", 0, "f"), ("unlinkat", 1, "f"), ("rmdir", 0, "h")])
    }

    /// Renames, as the name they take away (the new name is resolved at the exit).
    func testASymlinkSwappedUnderARenameIsFlaggedWheneverItCouldMislead() throws {
        try symlinkSwapRun([("rename", 0, "f"), ("renameat2", 1, "f")])
    }

    /// Calls that create a name (resolved at the exit, after the kernel's walk): hard
    /// links, directories, nodes, symlinks, a creating open (whose descriptor says where
    /// the file is: its path argument must name that directory, flagged or not). Without
    /// these checks, two runs here each left mkdir or symlink calls recorded in the other
    /// directory unflagged, and one creating open of 40 named the other directory.
    func testASymlinkSwappedUnderACreationIsFlaggedWheneverItCouldMislead() throws {
        try symlinkSwapRun([("link", 1, "g"), ("linkat", 3, "g"), ("mkdir", 0, "g"), ("mkdirat", 1, "g"),
                            ("mknod", 0, "g"), ("symlink", 1, "g")])
        XCTAssertEqual(try symlinkSwapRun([("openat", 1, "g")], requireFlag: false), 0,
                       "a creating open recorded in another directory than the kernel created its file in")
    }

    /// The path copy's edge cases, answered as the kernel answers them
    /// (`path_copy_edges.c`): an overlong path fails with ENAMETOOLONG and an unreadable one
    /// with EFAULT (both run by the kernel on the supervisor's copy), a thread whose scratch
    /// area cannot be mapped gets ENOMEM (refused, recorded) and the mapping on its next
    /// call, and a CLONE_VM child cannot unprotect, unmap or write a sibling's area.
    func testThePathCopysEdgeCasesAreAnsweredAsTheKernelWould() throws {
        let directory = Fixtures.temporaryDirectory("path-edges")
        let (result, trace) = try Fixtures.record([try Fixtures.binary("path_copy_edges"), directory])
        XCTAssertEqual(result.exitCode, 0, "check \(result.exitCode ?? -1) of path_copy_edges.c failed")
        let events = trace.allSyscalls.map(\.event)
        let chmods = events.filter { (try? number("chmod")) == $0.number }
        XCTAssertTrue(chmods.contains { $0.result == -Int64(ENAMETOOLONG) && !$0.flags.contains(.refused) })
        XCTAssertEqual(chmods.filter { $0.result == -Int64(EFAULT) && !$0.flags.contains(.refused) }.count, 2)
        let nomem = try XCTUnwrap(chmods.firstIndex { $0.result == -Int64(ENOMEM) }, "no chmod failed for want of a scratch area")
        XCTAssertTrue(chmods[nomem].flags.contains(.refused))
        XCTAssertEqual(chmods[nomem + 1].result, 0, "the next call maps the area and runs")
        let mprotect = try number("mprotect"), munmap = try number("munmap")
        let attacks = events.filter { ($0.number == mprotect || $0.number == munmap) && $0.arguments[1] == ScratchArea.length }
        XCTAssertGreaterThanOrEqual(attacks.count, 4, "the child's and the parent's areas")
        XCTAssertTrue(attacks.allSatisfy { $0.flags.contains(.refused) && $0.result == -Int64(EPERM) })
        // The open of /proc/self/mem for writing runs; a pwrite over an area is refused.
        let pwrite = try number("pwrite64")
        XCTAssertTrue(events.contains {
            $0.number == pwrite && $0.flags.contains(.refused) && $0.result == -Int64(EPERM)
                && $0.objects.contains { $0.resolved.hasSuffix("/mem") }
        })
    }

    /// Job control inside the recorded tree (SIGSTOP, SIGTSTP, SIGCONT between processes
    /// of the recording) stops and continues those processes only; the recording goes on.
    func testStoppingSignalsInsideTheRecordingStopOnlyTheirTargets() throws {
        let (result, trace) = try Fixtures.record([try Fixtures.binary("job_control")])
        XCTAssertEqual(result.exitCode, 0, "the fixture's check \(result.exitCode ?? -1) failed")
        XCTAssertNotNil(trace.manifest)
        let stops = trace.allEvents().events.compactMap { e -> Int32? in
            if case .signal(let s) = e.body, [SIGSTOP, SIGTSTP, SIGCONT].contains(s.signal) { return s.signal } else { return nil }
        }
        XCTAssertEqual(stops.filter { $0 == SIGSTOP }.count, 2, "one SIGSTOP sent, one raised")
        XCTAssertEqual(stops.filter { $0 == SIGTSTP }.count, 1)
    }

    /// A recorder killed from outside the recording (SIGKILL, as by another process of the
    /// user) leaves no manifest; every syscall the program completed and went on from is
    /// still in the trace, the checkpoints sign it up to the last one, and `verify` says how
    /// far that reaches. (Without the flush at each such syscall's exit, the rename below
    /// sat in the recorder's memory when it died.)
    func testAKilledRecorderLeavesATraceVerifiableUpToItsLastCheckpoint() throws {
        let base = Fixtures.temporaryDirectory("killed")
        let directory = base + "/trace"
        let (moved, ready) = (base + "/moved", base + "/ready")
        let fixture = try Fixtures.binary("rename_then_wait")
        // `magprov record` (built beside this test bundle) records; it is killed while the
        // program waits, right after the program has renamed a file and said so.
        let binary = try XCTUnwrap(Bundle.main.executableURL?.deletingLastPathComponent().appendingPathComponent("magprov").path)
        guard FileManager.default.isExecutableFile(atPath: binary) else { return XCTFail("magprov is not built at \(binary)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["record", "-o", directory, "--", "sh", "-c",
                             "head -c 100000 /dev/urandom > \(moved).tmp; exec \(fixture) \(moved).tmp \(moved) \(ready)"]
        process.environment = ProcessInfo.processInfo.environment.merging(["XDG_CONFIG_HOME": base + "/config"]) { $1 }
        process.standardError = FileHandle.nullDevice
        try process.run()
        var waited = 0
        while !FileManager.default.fileExists(atPath: ready) && waited < 30_000 { usleep(2_000); waited += 2 }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertTrue(FileManager.default.fileExists(atPath: ready), "the recorded program never got past its rename")
        let trace = try TraceReader(directory: directory)
        XCTAssertNil(trace.manifest)
        let rename = try number("rename")
        let renames = trace.allSyscalls.map(\.event).filter { $0.number == rename && $0.result == 0 }
        XCTAssertEqual(renames.count, 1, "the completed rename's event was lost with the recorder")
        let verification = try TraceVerifier.verify(directory: directory, trustedKey: nil)
        XCTAssertFalse(verification.verified, "an incomplete trace is never 'verified'")
        let checkpoints = try XCTUnwrap(verification.checks.first { $0.subject == "checkpoints" })
        XCTAssertEqual(checkpoints.status, .holds, checkpoints.detail)
        let prefixes = verification.checks.filter { $0.subject.hasSuffix("(checkpointed prefix)") }
        XCTAssertFalse(prefixes.isEmpty)
        XCTAssertTrue(prefixes.allSatisfy { $0.status == .holds }, "\(prefixes)")
        XCTAssertEqual(verification.checks.first { $0.subject == "checkpointed blobs" }?.status, .holds)
        // Altering a checkpointed frame is caught.
        let rootStream = try XCTUnwrap(trace.taskIDs.first)
        let path = "\(directory)/tasks/\(rootStream).events"
        var bytes = try XCTUnwrap(FileManager.default.contents(atPath: path))
        bytes[60] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        let altered = try TraceVerifier.verify(directory: directory, trustedKey: nil)
        XCTAssertEqual(altered.checks.first { $0.subject == "stream tasks/\(rootStream).events (checkpointed prefix)" }?.status, .fails)
    }

    func testASignalReachesAThreadSpinningInUserCode() throws {
        let directory = Fixtures.temporaryDirectory("spin") + "/trace"
        var options = RecordOptions(command: [try Fixtures.binary("spin_signal")], outputDirectory: directory)
        options.watchdogMilliseconds = 5
        let recorder = Recorder(options: options)
        recorder.log = { _ in }
        XCTAssertEqual(try recorder.run().exitCode, 0)
        let events = try TraceReader(directory: directory).allEvents().events
        let index = try XCTUnwrap(events.firstIndex { if case .signal(let g) = $0.body { return g.signal == SIGALRM } else { return false } })
        guard case .signal(let alarm) = events[index].body else { return XCTFail() }
        XCTAssertEqual(alarm.kind, .asynchronous)
        XCTAssertEqual(alarm.outcome, .handled)
        // Delivered at a recorded preemption point, registers and all (replay runs to it).
        let previous = events[..<index].last { $0.tid == events[index].tid }
        guard case .schedule(let preemption)? = previous?.body, let point = preemption.preemptedAt else {
            return XCTFail("the signal is not preceded by the preemption that placed it: \(String(describing: previous?.body))")
        }
        XCTAssertEqual(point, alarm.registers)
        // And the shell case from the issue: `timeout` ends a spinning shell loop.
        let (result, _) = try Fixtures.record(["timeout", "1", "sh", "-c", "while :; do :; done"])
        XCTAssertEqual(result.exitCode, 124)
    }

    /// A shared-memory group member spinning without a syscall holds the group's token
    /// until the watchdog preempts it. Its interrupt can be lost (a stop for another reason
    /// clears a pending PTRACE_INTERRUPT); sent once and never again, the member then held
    /// the token for good and its sibling, which needs the token to tell it to stop, waited
    /// forever. Here the supervisor leaves each task's first two requests unsent, as if
    /// lost: the third, sent a watchdog period after the second, must preempt the spinner.
    /// Bounded: past the deadline the recorded processes are killed, and the test fails
    /// instead of hanging.
    func testASpinningSharedMemoryMemberCannotStallItsSiblingWhenAnInterruptIsLost() throws {
        let directory = Fixtures.temporaryDirectory("spin-member")
        var options = RecordOptions(command: [try Fixtures.binary("spin_member"), directory + "/pid"],
                                    outputDirectory: directory + "/trace")
        options.watchdogMilliseconds = 10
        options.dropsInterrupts = 2
        let recorder = Recorder(options: options)
        recorder.log = { _ in }
        // The recorder runs on this thread (SIGALRM, the watchdog's tick, goes to the main
        // thread); the deadline is another's. The command is its own process group.
        let state = DeadlineState()
        DispatchQueue.global().asyncAfter(deadline: .now() + 90) {
            guard !state.finished else { return }
            state.killed = true
            if let text = try? String(contentsOfFile: directory + "/pid", encoding: .utf8),
               let group = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), group > 1 {
                kill(-group, SIGKILL)
            }
        }
        let result = try recorder.run()
        state.finished = true
        XCTAssertFalse(state.killed, "the spinning member stalled the recording: killed after 90 s")
        XCTAssertEqual(result.exitCode, 0, "spin_member failed (see its exit codes)")
        let events = try TraceReader(directory: directory + "/trace").allEvents().events
        let preemptions = events.filter { if case .schedule(let s) = $0.body { return s.preemptedAt != nil } else { return false } }
        XCTAssertFalse(preemptions.isEmpty, "the spinner was never preempted")
    }

    func testTheCommandRunsInItsOwnProcessGroup() throws {
        let directory = Fixtures.temporaryDirectory("pgrp")
        let (result, _) = try Fixtures.record(["sh", "-c", "set -- $(cat /proc/$$/stat); echo $5 > \(directory)/pgid"])
        XCTAssertEqual(result.exitCode, 0)
        let pgid = try String(contentsOfFile: directory + "/pgid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertNotEqual(Int32(pgid), getpgrp(), "kill(0) from the command would reach the recorder")
    }

    func testTheProgramsOwnSeccompFilterIsAppliedByTheSupervisor() throws {
        let (result, trace) = try Fixtures.record([try Fixtures.binary("seccomp_filter")])
        XCTAssertEqual(result.exitCode, 0, "the filter's answers differ from the kernel's (see the fixture's exit codes)")
        let syscalls = trace.allSyscalls.map(\.event)
        let install = try XCTUnwrap(syscalls.first { $0.number == (try? number("seccomp")) && $0.arguments[0] == 1 })
        XCTAssertTrue(install.flags.contains(.refused), "the filter must not reach the kernel")
        XCTAssertEqual(install.result, 0)
        let getppid = syscalls.filter { $0.number == SyscallTable.Number.getppid }
        XCTAssertEqual(getppid.count, 2, "parent and forked child")
        XCTAssertTrue(getppid.allSatisfy { $0.result == -77 && $0.flags.contains(.refused) })
        let notified = try XCTUnwrap(syscalls.first { $0.number == SyscallTable.Number.write && $0.arguments[0] == 99 })
        XCTAssertEqual(notified.result, -Int64(ENOSYS))
        // The calls the filter allowed are still recorded.
        XCTAssertTrue(syscalls.contains { $0.number == SyscallTable.Number.write && $0.arguments[0] == 1 && $0.result == 20 })
        let traps = trace.allEvents().events.compactMap { e -> SignalEvent? in
            if case .signal(let s) = e.body, s.signal == SIGSYS { return s } else { return nil }
        }
        XCTAssertEqual(traps.count, 1)
        XCTAssertEqual(traps.first?.outcome, .handled)
    }

    func testASeccompKillActionEndsTheProcessWithSIGSYS() throws {
        let (result, trace) = try Fixtures.record([try Fixtures.binary("seccomp_filter"), "kill"])
        XCTAssertEqual(result.signal, SIGSYS)
        let install = trace.allSyscalls.map(\.event).first { $0.number == (try? number("prctl")) && $0.arguments[0] == 22 }
        XCTAssertEqual(install?.flags.contains(.refused), true)
    }

    func testALowInheritedFileSizeOrDescriptorLimitDoesNotCostTheRecorderItsTrace() throws {
        var saved = [rlimit(), rlimit()]
        let resources = [RLIMIT_NOFILE, RLIMIT_FSIZE].map { __rlimit_resource_t($0.rawValue) }
        for i in 0..<2 { getrlimit(resources[i], &saved[i]) }
        defer { for i in 0..<2 { setrlimit(resources[i], &saved[i]) } }
        var files = rlimit(rlim_cur: 32, rlim_max: saved[0].rlim_max)
        var size = rlimit(rlim_cur: 64 << 10, rlim_max: saved[1].rlim_max)
        setrlimit(resources[0], &files)
        setrlimit(resources[1], &size)
        let directory = Fixtures.temporaryDirectory("limits")
        // 40 processes alive at once (each an open stream) and > 64 KiB of trace; the
        // command keeps the limits it was started with.
        let (result, trace) = try Fixtures.record(["sh", "-c",
            "for i in $(seq 40); do sleep 0.3 & done; wait; " +
            "head -c 300000 /dev/zero | wc -c > /dev/null; ulimit -n > \(directory)/nofile"])
        for i in 0..<2 { setrlimit(resources[i], &saved[i]) }
        XCTAssertEqual(result.exitCode, 0)
        XCTAssertNil(result.traceError)
        XCTAssertGreaterThanOrEqual(trace.taskStarts.count, 43)
        XCTAssertEqual(trace.taskIDs.count, trace.taskStarts.count, "every task has its stream")
        XCTAssertEqual(try String(contentsOfFile: directory + "/nofile", encoding: .utf8), "32\n")
    }
}

/// The classic-BPF interpreter against the kernel's rules (SeccompFilter.swift).
final class SeccompFilterTests: XCTestCase {
    private let data = SeccompData(number: 39, arch: 0xC000_003E, instructionPointer: 0x1234_5678_9abc, arguments: [7, 1 << 33])

    func testRejectsWhatTheKernelRejects() {
        XCTAssertThrowsError(try SeccompFilter([]))
        XCTAssertThrowsError(try SeccompFilter([BPFInstruction(code: 0x20, k: 64), BPFInstruction(code: 0x06, k: 0)]))  // load past seccomp_data
        XCTAssertThrowsError(try SeccompFilter([BPFInstruction(code: 0x20, k: 2), BPFInstruction(code: 0x06, k: 0)]))  // unaligned
        XCTAssertThrowsError(try SeccompFilter([BPFInstruction(code: 0x15, jt: 5, k: 0), BPFInstruction(code: 0x06, k: 0)]))  // jump out
        XCTAssertThrowsError(try SeccompFilter([BPFInstruction(code: 0x20, k: 0)]))  // no return at the end
        XCTAssertThrowsError(try SeccompFilter([BPFInstruction(code: 0x34, k: 0), BPFInstruction(code: 0x06, k: 0)]))  // div by 0
        XCTAssertThrowsError(try SeccompFilter([BPFInstruction(code: 0x30, k: 0), BPFInstruction(code: 0x06, k: 0)]))  // LD|B|ABS
    }

    func testLoadsComparesAndComputesLikeTheKernel() throws {
        // A = nr; if A == 39 goto +0 else ret KILL; A = args[1] high word; A = A * 3 + 1; ret A
        let filter = try SeccompFilter([
            BPFInstruction(code: 0x20, k: 0),
            BPFInstruction(code: 0x15, jt: 1, jf: 0, k: 39),
            BPFInstruction(code: 0x06, k: 0),
            BPFInstruction(code: 0x20, k: 28),
            BPFInstruction(code: 0x24, k: 3),
            BPFInstruction(code: 0x04, k: 1),
            BPFInstruction(code: 0x16, k: 0),
        ])
        XCTAssertEqual(filter.evaluate(data), 2 * 3 + 1)
        var other = data
        other.number = 40
        XCTAssertEqual(filter.evaluate(other), 0)
        // Scratch memory, X register, JSET, division by X = 0 returning 0.
        let scratch = try SeccompFilter([
            BPFInstruction(code: 0x20, k: 16), BPFInstruction(code: 0x02, k: 3), BPFInstruction(code: 0x01, k: 0),
            BPFInstruction(code: 0x61, k: 3), BPFInstruction(code: 0x87, k: 0), BPFInstruction(code: 0x45, jt: 1, jf: 0, k: 4),
            BPFInstruction(code: 0x06, k: 0x7fff_0000), BPFInstruction(code: 0x01, k: 0), BPFInstruction(code: 0x3c, k: 0),
            BPFInstruction(code: 0x06, k: 1),
        ])
        XCTAssertEqual(scratch.evaluate(data), 0, "7 & 4 != 0 falls through to A / 0, which ends the filter with 0")
    }

    func testTheHighestPrecedenceActionWins() throws {
        let allow = try SeccompFilter([BPFInstruction(code: 0x06, k: 0x7fff_0000)])
        let errno = try SeccompFilter([BPFInstruction(code: 0x06, k: 0x0005_0000 | 13)])
        let trace = try SeccompFilter([BPFInstruction(code: 0x06, k: 0x7ff0_0000)])
        let kill = try SeccompFilter([BPFInstruction(code: 0x06, k: 0x8000_0000)])
        var state = TraceeSeccomp(strict: false, filters: [allow, trace, errno])
        XCTAssertEqual(state.action(for: data, strictAllowed: []).action, .errno(13))
        state.filters.append(kill)
        XCTAssertEqual(state.action(for: data, strictAllowed: []).action, .killProcess)
        XCTAssertEqual(SeccompAction(returnValue: 0x1234_0000), .killProcess, "unknown actions kill")
    }
}

/// Shared by a test and its deadline's thread (plain flags: a late or early read only
/// changes the failure message).
private final class DeadlineState: @unchecked Sendable {
    var finished = false
    var killed = false
}
