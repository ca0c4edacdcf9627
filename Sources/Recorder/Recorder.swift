// `magprov record`: start a command under the supervisor and write its trace.

import CSupport
import Foundation
import Syscalls
import Trace

public struct RecordOptions: Sendable {
    /// The command and its arguments; argv[0] is searched in PATH.
    public var command: [String]
    public var outputDirectory: String
    /// The recorded program's environment (defaults to magprov's own).
    public var environment: [String]
    /// Add the glibc/OpenSSL feature mask (see MachineInfo.featureMask).
    public var maskCPUFeatures: Bool = true
    /// Preempt a thread that runs this long without a syscall while siblings wait.
    public var watchdogMilliseconds: Int = 50
    public var workingDirectory: String?
    /// Where the recorder's Ed25519 signing key lives (created on first use, 0600 in a 0700
    /// folder): `$XDG_CONFIG_HOME/magprov` or `~/.config/magprov`. Nil: leave the trace unsigned.
    public var signingKeyDirectory: String? = TraceSigningKey.defaultDirectory()
    /// Run frequent data calls on seekable descriptors through the in-process syscall
    /// buffer instead of a ptrace stop each (SyscallBuffer.swift). Off: every syscall stops.
    public var syscallBuffer: Bool = false
    /// Give the kernel the supervisor's copy of every path argument, socket address and stopped
    /// write's buffer of at most 64 KiB (ScratchArguments.swift).
    /// Internal: turned off only by tests that show the race the copy closes.
    var copiesPathArguments = true
    /// Internal, for a test of the watchdog: the first this many interrupt requests to each
    /// task are not sent, as if the kernel had lost them (`Supervisor.dropsInterrupts`).
    var dropsInterrupts = 0

    public init(command: [String], outputDirectory: String,
                environment: [String] = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }.sorted()) {
        self.command = command
        self.outputDirectory = outputDirectory
        self.environment = environment
    }
}

public struct RecordResult: Sendable {
    public var exitCode: Int32?
    public var signal: Int32?
    public var manifest: TraceManifest
    /// The first error writing the trace (a stream or blob that could not be written), or
    /// nil. A trace with an error is incomplete even though it has a manifest.
    public var traceError: String?
    /// The SHA-256 work of writing the trace (frame chain and blob names): bytes and time.
    public var hashing = HashingCost()
    /// The shell convention: the exit code, or 128 + the signal that ended the command.
    public var shellStatus: Int32 { exitCode ?? (128 + (signal ?? 0)) }
}

public enum RecorderError: Error, CustomStringConvertible {
    case emptyCommand
    case commandNotFound(String)
    case cannotExecute(String, errno: Int32)
    case spawnFailed(errno: Int32)
    case ptraceRefused(errno: Int32)

    public var description: String {
        switch self {
        case .emptyCommand: return "no command given: magprov record [-o DIR] -- COMMAND [ARGS...]"
        case .commandNotFound(let c): return "\(c): command not found"
        case .cannotExecute(let c, let e): return "\(c): cannot execute: \(String(cString: strerror(e)))"
        case .spawnFailed(let e): return "cannot start the command: \(String(cString: strerror(e)))"
        case .ptraceRefused(let e):
            return "the kernel refused ptrace (\(String(cString: strerror(e)))); check kernel.yama.ptrace_scope and seccomp support"
        }
    }
}

/// Starts a command stopped, seizes it with ptrace and lets it go on to its exec.
public enum ProcessLauncher {
    /// - Parameters:
    ///   - seccomp: install magprov's seccomp filter and the rdtsc trap (recording);
    ///     false for a plain traced process (lockstep).
    ///   - ptraceOptions: PTRACE_O_* flags for PTRACE_SEIZE.
    ///   - trustedSyscalls: numbers the filter lets run without a stop from the syscall
    ///     buffer's trusted instruction (`SyscallBufferABI`); empty: every syscall stops.
    ///   - beforeStart: called with the pid while the child is still stopped and seized.
    /// - Returns: the pid and the status pipe (4 bytes of errno if exec failed, EOF otherwise).
    /// - Throws: `RecorderError.emptyCommand`, `.spawnFailed` (fork or seccomp setup failed,
    ///   with errno), `.ptraceRefused` (PTRACE_SEIZE failed: ptrace_scope, see ptrace(2)).
    public static func launch(command: [String], environment: [String], cwd: String, seccomp: Bool,
                              ptraceOptions: UInt64, trustedSyscalls: [Int] = [],
                              beforeStart: (Int32) -> Void = { _ in }) throws -> (pid: Int32, statusFD: Int32) {
        guard let program = command.first else { throw RecorderError.emptyCommand }
        let argv = command.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var statusFD: Int32 = -1
        let trusted = trustedSyscalls.map { Int32($0) }
        let stopBits = trustedSyscalls.map { SyscallBufferABI.stopBits[$0] ?? 0 }
        let pid = mp_spawn_traced(program, argv, envp, cwd, nil, 0, trusted.isEmpty ? 0 : SyscallBufferABI.trustedInstructionEnd,
                                  trusted, stopBits, Int32(trusted.count), seccomp ? 1 : 0, &statusFD)
        guard pid > 0 else { throw RecorderError.spawnFailed(errno: -pid) }
        var status: Int32 = 0
        _ = waitpid(pid, &status, WUNTRACED)
        let r = mp_ptrace(Int(PtraceRequest.seize), pid, 0, ptraceOptions)
        guard r >= 0 else { kill(pid, SIGKILL); throw RecorderError.ptraceRefused(errno: Int32(-r)) }
        beforeStart(pid)
        kill(pid, SIGCONT)
        return (pid, statusFD)
    }
}

public final class Recorder {
    public let options: RecordOptions
    public var log: (String) -> Void = { FileHandle.standardError.write(($0 + "\n").data(using: .utf8)!) }

    public init(options: RecordOptions) { self.options = options }

    deinit { if pendingStatusFD >= 0 { close(pendingStatusFD) } }

    public static let version = "0.1.0"

    /// The environment entries that mask AVX/AVX-512/SHA selection (see MachineInfo).
    public static var featureMaskEnvironment: [String] { MachineInfo.featureMask }
    /// This machine's CPUID leaves, as a trace header stores them.
    public static func cpuidLeaves() -> [CPUIDLeaf] { MachineInfo.cpuidLeaves() }

    /// Records `options.command` and its whole process tree into `options.outputDirectory`
    /// (trace format in docs/ARCHITECTURE.md) and returns when the last task has exited.
    ///
    /// Every syscall of every task stops at a seccomp/ptrace stop (ptrace(2), seccomp(2)
    /// SECCOMP_RET_TRACE) unless `options.syscallBuffer` lets reads and writes of regular
    /// files through the in-process buffer; each stop costs two context switches plus a path
    /// resolution (tens of microseconds). Memory: the recorder holds at most one 1 MiB chunk
    /// of a large transfer and the unflushed frame of each task.
    /// - Returns: the command's exit code or signal and the counts `record --json` prints.
    /// - Throws: `RecorderError` when the command cannot be found, executed, started or
    ///   traced; the trace writer's `TraceError` when the trace directory cannot be created
    ///   or written. Recorded data already flushed stays on disk, covered by the signed
    ///   checkpoints.
    public func run() throws -> RecordResult {
        guard !options.command.isEmpty else { throw RecorderError.emptyCommand }
        // The feature mask and the preload library are in the command's environment and,
        // put back by the supervisor, in that of every later execve (ExecEnvironment.swift).
        var required: [RequiredEnvironmentEntry] = options.maskCPUFeatures ? RequiredEnvironmentEntry.featureMask : []
        var bufferLibrary: String?
        if options.syscallBuffer {
            // Dynamically linked programs load it first; static ones ignore LD_PRELOAD and stop
            // on every call.
            let library = try SyscallBufferLibrary.path()
            bufferLibrary = library
            required.append(.preload(library))
        }
        let environment = RequiredEnvironmentEntry.apply(required, to: options.environment)
        let cwd = options.workingDirectory ?? FileManager.default.currentDirectoryPath
        let header = TraceHeader(
            magprovVersion: Recorder.version, kernel: MachineInfo.kernel(), hostname: MachineInfo.hostname(),
            cpuModel: MachineInfo.cpuModel(), cpuid: MachineInfo.cpuidLeaves(), xcr0: mp_xcr0(),
            featureMask: options.maskCPUFeatures ? MachineInfo.featureMask : [], command: options.command.joined(separator: " "),
            argv: options.command, environment: environment, cwd: cwd, startTime: Date().timeIntervalSince1970,
            uid: getuid(), gid: getgid(), recordingMode: options.syscallBuffer ? .buffered : .stopping)
        raiseResourceLimits()
        var signingKey: TraceSigningKey?
        if let keyDirectory = options.signingKeyDirectory {
            do { signingKey = try TraceSigningKey.loadOrCreate(directory: keyDirectory) } catch {
                log("magprov: warning: \(error); the trace will not be signed")
            }
        }
        let writer = try TraceWriter(directory: options.outputDirectory, header: header, signingKey: signingKey)
        protectRecorder()
        installWatchdogSignal()
        let traceeGuard = TraceeGuard(protected: ProtectedRecorder(traceDirectory: options.outputDirectory))

        let foreground = isatty(STDIN_FILENO) != 0 && tcgetpgrp(STDIN_FILENO) == getpgrp()
        let pid = try spawn(environment: environment, cwd: cwd)
        var interrupts = ignoreInterrupts()
        defer { for i in interrupts.indices { sigaction(interrupts[i].0, &interrupts[i].1, nil) } }
        let supervisor = Supervisor(writer: writer, watchdogMilliseconds: options.watchdogMilliseconds,
                                    traceeGuard: traceeGuard, log: log)
        supervisor.syscallBufferLibrary = bufferLibrary
        supervisor.requiredEnvironment = required
        supervisor.copiesPathArguments = options.copiesPathArguments
        supervisor.dropsInterrupts = options.dropsInterrupts
        let exit = supervisor.run(root: pid)
        if foreground { reclaimTerminal() }
        if let failure = supervisor.failure { log("magprov: error: the trace is incomplete: \(failure)") }
        let manifest = try writer.finish(exitCode: exit?.exitCode, exitSignal: exit?.signal, syscalls: supervisor.syscallCount)
        return RecordResult(exitCode: exit?.exitCode, signal: exit?.signal, manifest: manifest,
                            traceError: supervisor.failure.map { "\($0)" }, hashing: writer.hashing)
    }

    private func spawn(environment: [String], cwd: String) throws -> Int32 {
        let options = PtraceOption.traceSysGood | PtraceOption.traceFork | PtraceOption.traceVFork |
            PtraceOption.traceClone | PtraceOption.traceExec | PtraceOption.traceSeccomp | PtraceOption.exitKill
        let inherited = inheritedLimits
        let launched = try ProcessLauncher.launch(command: self.options.command, environment: environment, cwd: cwd,
                                                  seccomp: true, ptraceOptions: options,
                                                  trustedSyscalls: self.options.syscallBuffer ? SyscallBufferABI.bufferedSyscalls : []) { pid in
            // The command keeps the limits magprov was started with.
            for (resource, limit) in inherited {
                _ = mp_set_rlimit(pid, Int32(resource), UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
            }
        }
        // Read after the run: the errno the child wrote if its exec failed.
        pendingStatusFD = launched.statusFD
        return launched.pid
    }

    private var pendingStatusFD: Int32 = -1
    /// The limits magprov inherited, restored for the command (see `raiseResourceLimits`).
    private var inheritedLimits: [(UInt32, rlimit)] = []

    /// A low inherited RLIMIT_NOFILE or RLIMIT_FSIZE must not make the recorder drop
    /// streams: soft limits go up to the hard ones, and SIGXFSZ is ignored so that a write
    /// past RLIMIT_FSIZE fails with EFBIG and is reported instead of killing the recorder.
    private func raiseResourceLimits() {
        for resource in [RLIMIT_NOFILE.rawValue, RLIMIT_FSIZE.rawValue] {
            var limit = rlimit()
            if getrlimit(__rlimit_resource_t(resource), &limit) == 0, limit.rlim_cur < limit.rlim_max {
                inheritedLimits.append((resource, limit))
                limit.rlim_cur = limit.rlim_max
                setrlimit(__rlimit_resource_t(resource), &limit)
            }
        }
        signal(SIGXFSZ, SIG_IGN)
    }

    /// The recorded program runs as the same user: a non-dumpable recorder keeps its /proc
    /// entries (mem, environ, fd) and ptrace closed to it (proc(5), PR_SET_DUMPABLE). The
    /// supervisor refuses such calls anyway (TraceeGuard); this closes what it cannot see,
    /// such as a process outside the recording started by the same user earlier.
    private func protectRecorder() {
        _ = mp_prctl(4 /* PR_SET_DUMPABLE */, 0, 0, 0, 0)
    }

    /// Takes the terminal back from the command's process group (the child took it at
    /// spawn, see `mp_spawn_traced`). SIGTTOU is ignored meanwhile: the recorder is in a
    /// background group until the call returns.
    private func reclaimTerminal() {
        var ignore = sigaction(), previous = sigaction()
        ignore.__sigaction_handler.sa_handler = SIG_IGN
        sigemptyset(&ignore.sa_mask)
        sigaction(SIGTTOU, &ignore, &previous)
        _ = tcsetpgrp(STDIN_FILENO, getpgrp())
        sigaction(SIGTTOU, &previous, nil)
    }

    /// SIGALRM interrupts the supervisor's waitpid so the watchdog and the periodic flush
    /// can run (no SA_RESTART). SIGTERM and SIGHUP ask the recorder to end the command and
    /// still write a complete trace; SIGINT (Ctrl-C) reaches the recorded command through
    /// the terminal, and the recorder outlives it to finish the trace.
    private func installWatchdogSignal() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGALRM, &action, nil)
        var terminate = sigaction()
        terminate.__sigaction_handler.sa_handler = { _ in recorderTerminationRequested = 1 }
        sigemptyset(&terminate.sa_mask)
        terminate.sa_flags = 0
        sigaction(SIGTERM, &terminate, nil)
        sigaction(SIGHUP, &terminate, nil)
    }

    /// Called once the command is started (an ignored disposition would survive its exec).
    /// The job-control signals are ignored too: the command owns the terminal, and one
    /// that sets TOSTOP (or sends SIGTTOU/SIGTSTP through the terminal) would otherwise stop
    /// the recorder at its next line on stderr, freezing the whole recording.
    /// Returns the previous dispositions, restored when the run ends.
    private func ignoreInterrupts() -> [(Int32, sigaction)] {
        var ignore = sigaction()
        ignore.__sigaction_handler.sa_handler = SIG_IGN
        return [SIGINT, SIGQUIT, SIGTTOU, SIGTTIN, SIGTSTP].map { signal in
            var previous = sigaction()
            sigaction(signal, &ignore, &previous)
            return (signal, previous)
        }
    }

    /// After the run: the errno the child wrote if its exec failed (nil if exec succeeded).
    public func execFailure() -> Int32? {
        guard pendingStatusFD >= 0 else { return nil }
        defer { close(pendingStatusFD); pendingStatusFD = -1 }
        var err: Int32 = 0
        let n = read(pendingStatusFD, &err, 4)
        return n == 4 ? err : nil
    }
}
