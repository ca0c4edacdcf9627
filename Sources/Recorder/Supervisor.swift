// The ptrace supervisor: one loop over waitpid that turns every stop of every task into
// trace events and decides how the task resumes.
//
// Stops and what they mean (ptrace(2), "Stopped states"):
//   PTRACE_EVENT_SECCOMP   syscall entry (the filter said SECCOMP_RET_TRACE)
//   SIGTRAP|0x80           syscall exit (we resumed the entry with PTRACE_SYSCALL)
//   PTRACE_EVENT_FORK/...  a new task; PTRACE_EVENT_EXEC: a new program image
//   PTRACE_EVENT_STOP      a new task's first stop, a group stop, or our PTRACE_INTERRUPT
//   anything else          signal-delivery-stop
//
// Threads of one process run user code one at a time: a task holds its thread group's
// token from the moment it returns to user mode until its next syscall entry (or until the
// watchdog preempts it). Tasks inside the kernel hold no token, so blocking syscalls never
// stall their siblings. Processes that share writable memory queue in one such group too
// (SharedMemoryScheduling.swift).

import CSupport
import Glibc
import Syscalls
import Trace

final class TracedTask {
    enum Mode { case starting, user, kernel, ready, groupStopped }

    struct PendingSyscall {
        var number: Int
        var arguments: [UInt64]
        var entry: EntryState
        var inputs: [BufferDigest]
        var objects: [ObjectIdentity]
        var flags: SyscallFlags
        var startTime: UInt64
        var entrySequence: UInt64
        /// Path arguments as read at entry (without the NUL), by argument index.
        var pathCopies: [Int: [UInt8]] = [:]
        /// Argument registers pointed at the scratch area, with the program's own values.
        var redirected: [(index: Int, original: UInt64)] = []
        /// The thread that entered this syscall, when it is no longer this task: an execve
        /// made by a thread other than the group leader completes under the leader's tid
        /// (execve(2)), but it is that thread's call, and its event goes to its stream.
        var enteredBy: Int32? = nil
        /// This call may change how paths resolve (`SyscallSpec.changesNamespace`); it is
        /// counted in `namespaceChangesInFlight` until its exit.
        var changesNamespace = false
        /// For a call whose path arguments the supervisor resolved at the entry and which
        /// returns no descriptor: `namespaceChangesStarted` then, excluding this call; nil
        /// when already known to race (a namespace change of another task was under way),
        /// or when there is nothing to check.
        var namespaceMark: UInt64? = nil
        var racedAtEntry = false
    }

    let tid: Int32
    var tgid: Int32
    var mode: Mode = .starting
    var access: TaskAccess { TaskAccess(tid: tid) }
    var pending: PendingSyscall?
    /// The previous stop was a syscall exit: a signal delivered now may arrive at a syscall
    /// boundary, which replay can reproduce. `boundaryRegisters` tells whether the task
    /// has run user code since (a signal can stop it later, after it resumed).
    var atSyscallBoundary = false
    var boundaryRegisters: RegisterFile?
    /// Asynchronous signals held until the next syscall boundary, or until the watchdog
    /// interrupts the task if it runs user code for longer (`heldSince`, monotonic ns).
    var heldSignals: [Int32] = []
    var heldSince: UInt64 = 0
    /// Signals the supervisor re-raised itself, to be delivered (not held again).
    var releasing: [Int32] = []
    /// How to resume when the task gets its thread group's token.
    var resumeSignal: Int32 = 0
    var announced = false
    var execSeen = false
    var initialStopSeen = false
    /// A PTRACE_INTERRUPT was sent (at `interruptSentAt`, monotonic ns) and its stop has not
    /// been seen yet (`requestInterrupt`).
    var interruptRequested = false
    var interruptSentAt: UInt64 = 0
    /// Interrupts the supervisor left unsent for this task (`Supervisor.dropsInterrupts`).
    var interruptsDropped = 0
    var tokenSince: UInt64 = 0
    /// The program's own seccomp filters, run by the supervisor (SeccompEmulation.swift).
    var seccomp = TraceeSeccomp()
    /// The siginfo of a SIGSYS that an emulated SECCOMP_RET_TRAP is delivering.
    var pendingTrap: [UInt8]?
    /// Where path arguments are copied for the kernel (ScratchArguments.swift); nil until
    /// the thread's first path syscall.
    var scratch: ScratchArea?
    var scratchUnavailable = false
    /// The address space's key: the tid of the task whose fork (or start) made it, or a
    /// negative number for one an exec made (`newAddressSpaceID`); equal for threads,
    /// vfork children and other CLONE_VM children, whose scratch areas the guard protects
    /// from each other.
    var addressSpace: Int32
    /// /proc/TID/mem, open for scratch writes (-1: not open); tied to one address space.
    var memoryFD: Int32 = -1
    /// The thread's syscall buffer (SyscallBuffer.swift); nil until it announces one.
    var syscallBuffer: SyscallBufferState?

    func closeMemory() {
        if memoryFD >= 0 { close(memoryFD) }
        memoryFD = -1
    }

    init(tid: Int32, tgid: Int32) { self.tid = tid; self.tgid = tgid; self.addressSpace = tid }
}

final class ThreadGroup {
    var holder: Int32?
    var ready: [Int32] = []
    var lastScheduled: Int32?
}

/// Signals raised by the CPU for the instruction the task just executed.
let synchronousSignals: Set<Int32> = [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP]
let stopSignals: Set<Int32> = [SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU]

final class Supervisor {
    let writer: TraceWriter
    let capture: AddressSpaceCapture
    let watchdogNanoseconds: UInt64
    let startTime: UInt64
    let log: (String) -> Void
    /// Refuses syscalls aimed at the recorder or its trace (TraceeGuard.swift); nil: none.
    let traceeGuard: TraceeGuard?

    var tasks: [Int32: TracedTask] = [:]
    /// Scheduling groups by key: a thread-group id, or a shared-memory group's key
    /// (`schedulingKey`, SharedMemoryScheduling.swift).
    var groups: [Int32: ThreadGroup] = [:]
    /// Processes (by thread-group id) scheduled in a shared-memory group, and its key.
    var sharedMemoryGroupOf: [Int32: Int32] = [:]
    /// New tasks whose creator's fork/clone event has not been seen yet.
    var orphanStops: Set<Int32> = []
    var sequence: UInt64 = 0
    var syscallCount: UInt64 = 0
    var rootTid: Int32 = 0
    var rootExit: TaskExit?
    var lastFlush: UInt64 = 0
    var warnedRefused = Set<Int>()
    var failure: Error?
    /// `--syscall-buffer`: the preload library; nil: no buffering.
    var syscallBufferLibrary: String?
    /// Entries put back into every execve's environment that lost them (ExecEnvironment.swift).
    var requiredEnvironment: [RequiredEnvironmentEntry] = []
    var syscallBuffering: Bool { syscallBufferLibrary != nil }
    /// rdrand/rdseed/rdpid rewritten into ud2, by process: address -> original bytes
    /// (NondeterministicCode.swift).
    var rewrittenInstructions: [Int32: [UInt64: [UInt8]]] = [:]
    let codeScanner = NondeterministicCodeScanner()
    /// Thread groups whose trusted syscall page is made and may no longer change.
    var sealedTrustedPages: Set<Int32> = []
    /// Path arguments go to the kernel from the scratch area (ScratchArguments.swift).
    /// Off only in tests that show the time-of-check/time-of-use race it closes.
    var copiesPathArguments = true
    /// Scratch areas of exited threads, by address space, still mapped
    /// (`orphanScratch`, ScratchArguments.swift).
    var orphanedScratch: [Int32: [ScratchArea]] = [:]
    var lastExecAddressSpace: Int32 = 0
    /// Namespace changes (`SyscallSpec.changesNamespace`) that entered the kernel since the
    /// recording began, and those not yet out of it: a call whose paths were resolved while
    /// one was under way, or that saw one start before its exit, is flagged `pathRaced`.
    var namespaceChangesStarted: UInt64 = 0
    var namespaceChangesInFlight = 0
    /// How many of each task's interrupt requests are not sent, as if the kernel had lost
    /// them: a test of the watchdog's re-sending. 0 outside tests.
    var dropsInterrupts = 0

    init(writer: TraceWriter, watchdogMilliseconds: Int, traceeGuard: TraceeGuard? = nil, log: @escaping (String) -> Void) {
        self.writer = writer
        self.traceeGuard = traceeGuard
        self.capture = AddressSpaceCapture(blobs: writer.blobs)
        self.watchdogNanoseconds = UInt64(watchdogMilliseconds) * 1_000_000
        self.startTime = monotonicNanoseconds()
        self.log = log
    }

    // MARK: - Events

    func emit(_ tid: Int32, _ body: EventBody) {
        let event = TraceEvent(sequence: sequence, time: monotonicNanoseconds() &- startTime, tid: tid, body: body)
        sequence += 1
        do { try writer.append(event) } catch { failure = failure ?? error }
    }

    // MARK: - Main loop

    func run(root: Int32) -> TaskExit? {
        rootTid = root
        let task = TracedTask(tid: root, tgid: root)
        tasks[root] = task
        groups[root] = ThreadGroup()
        task.announced = true
        emit(root, .taskStart(TaskStart(tid: root, pid: root, parent: 0, kind: .root, cloneFlags: 0)))
        armTimer(nanoseconds: 1_000_000_000)
        var stopping = false
        while !tasks.isEmpty {
            var status: Int32 = 0
            let tid = mp_wait_any(&status, 0)
            if tid == -EINTR {
                // The timer: preempt spinning threads, flush so a killed recorder loses at
                // most a second of events; or a termination request for the recorder.
                if recorderTerminationRequested != 0 && !stopping {
                    stopping = true
                    log("magprov: terminating the recorded command; the trace is kept")
                    for tid in tasks.keys { kill(tid, SIGKILL) }
                }
                if !checkWatchdog() { armTimer(nanoseconds: 1_000_000_000) }
                flushIfDue()
                continue
            }
            if tid < 0 { break }  // ECHILD: nothing left to wait for
            handle(tid: tid, status: status)
            flushIfDue()
        }
        armTimer(nanoseconds: 0)
        return rootExit
    }

    func handle(tid: Int32, status: Int32) {
        if mp_wifexited(status) != 0 || mp_wifsignaled(status) != 0 {
            let exit = mp_wifexited(status) != 0 ? TaskExit(exitCode: mp_wexitstatus(status), signal: nil)
                                                 : TaskExit(exitCode: nil, signal: mp_wtermsig(status))
            taskExited(tid: tid, exit: exit)
            return
        }
        guard mp_wifstopped(status) != 0 else { return }
        let task = tasks[tid] ?? adoptUnknownTask(tid)
        let signal = mp_wstopsig(status)
        let event = Int32(mp_ptrace_event(status))
        let wasAtBoundary = task.atSyscallBoundary
        task.atSyscallBoundary = false
        // Buffered calls happened before this stop: their events come first. (At the exec
        // event the old address space, and its buffer, is gone; its entry stop drained it.)
        if syscallBuffering && event != PtraceEvent.exec { drainSyscallBuffer(task) }
        do {
            switch event {
            case PtraceEvent.seccomp: try syscallEntry(task)
            case PtraceEvent.fork, PtraceEvent.vfork, PtraceEvent.clone: try newTask(from: task, event: event)
            case PtraceEvent.exec: try exec(task)
            case PtraceEvent.stop: try eventStop(task, signal: signal)
            case 0 where signal == (SIGTRAP | 0x80): try syscallExit(task)
            case 0: try signalStop(task, signal: signal, atBoundary: wasAtBoundary)
            default: try task.access.resume(PtraceRequest.cont)
            }
        } catch {
            // The task died between its stop and our request (SIGKILL, group exit): its
            // exit status arrives through waitpid. Anything else is worth saying.
            if let failure = error as? PtraceFailure, failure.errno == ESRCH { return }
            log("magprov: task \(tid): \(error)")
        }
    }

    private func adoptUnknownTask(_ tid: Int32) -> TracedTask {
        // A new task can report its first stop before its creator reports the fork event.
        let task = TracedTask(tid: tid, tgid: threadGroupID(of: tid) ?? tid)
        tasks[tid] = task
        if groups[schedulingKey(task.tgid)] == nil { groups[schedulingKey(task.tgid)] = ThreadGroup() }
        return task
    }

    // MARK: - Scheduling

    /// The task is stopped and will next run user code: give it the token or queue it.
    func wantsUserMode(_ task: TracedTask, signal: Int32 = 0) throws {
        guard let group = groups[schedulingKey(task.tgid)] else { return try task.access.resume(PtraceRequest.cont, signal: signal) }
        task.resumeSignal = signal
        if group.holder == nil || group.holder == task.tid {
            try grant(task, group)
        } else {
            task.mode = .ready
            if !group.ready.contains(task.tid) { group.ready.append(task.tid) }
            armWatchdog()
        }
    }

    private func grant(_ task: TracedTask, _ group: ThreadGroup) throws {
        group.holder = task.tid
        if group.lastScheduled != task.tid {
            // Only a switch between threads is an event worth recording.
            if group.lastScheduled != nil { emit(task.tid, .schedule(ScheduleEvent(preemptedAt: nil))) }
            group.lastScheduled = task.tid
        }
        task.mode = .user
        task.tokenSince = monotonicNanoseconds()
        let signal = task.resumeSignal
        task.resumeSignal = 0
        try resumeDelivering(task, signal: signal)
    }

    /// The token holder entered the kernel or went away: pass the token on.
    func releaseToken(_ task: TracedTask) {
        guard let group = groups[schedulingKey(task.tgid)], group.holder == task.tid else { return }
        group.holder = nil
        while !group.ready.isEmpty {
            let next = group.ready.removeFirst()
            guard let nextTask = tasks[next], nextTask.mode == .ready else { continue }
            do { try grant(nextTask, group); return } catch { group.holder = nil }
        }
    }

    /// About once a second: every stream's pending events go to disk and a signed
    /// checkpoint covers them (TraceCheckpoints.swift), so a recorder killed from outside
    /// leaves a trace verifiable up to its last checkpoint.
    private func flushIfDue() {
        let now = monotonicNanoseconds()
        guard now &- lastFlush > 1_000_000_000 else { return }
        lastFlush = now
        do { try writer.checkpoint() } catch { failure = failure ?? error }
    }

    /// Whether a completed syscall's event must reach the disk before the task runs on:
    /// it moved object bytes (read, write, sendfile ...) or changed or named objects the
    /// graph records (open, rename, unlink, exec, kill ...). Losing such an event would
    /// lose an effect the program went on to act upon.
    static func flushesAtExit(_ spec: SyscallSpec) -> Bool {
        switch spec.flow {
        case .contentSource, .contentSink, .kernelCopy: return true
        default: break
        }
        switch spec.graph {
        case .ignored, .stat, .seek, .sockname, .peername, .getdents: return false
        default: return true
        }
    }

    private func armWatchdog() { armTimer(nanoseconds: watchdogNanoseconds) }

    /// A periodic SIGALRM that interrupts waitpid (0 disarms). Periodic, because a signal
    /// that lands while the supervisor is between waits interrupts nothing.
    private func armTimer(nanoseconds: UInt64) {
        let period = timeval(tv_sec: Int(nanoseconds / 1_000_000_000), tv_usec: Int(nanoseconds % 1_000_000_000 / 1000))
        var timer = itimerval(it_interval: period, it_value: period)
        setitimer(__itimer_which_t(ITIMER_REAL.rawValue), &timer, nil)
    }

    /// Preempts threads that have held their group's token too long while siblings wait.
    /// Returns whether it re-armed the (short) watchdog timer.
    @discardableResult
    func checkWatchdog() -> Bool {
        let now = monotonicNanoseconds()
        var waiting = false
        // A task that spins in user code with a signal held would never receive it: stop
        // it where it is and deliver there (recorded as a preemption, then the signal).
        for task in tasks.values where !task.heldSignals.isEmpty {
            waiting = true
            guard task.mode == .user, interruptDue(task, now: now), now &- task.heldSince >= watchdogNanoseconds else { continue }
            requestInterrupt(task, now: now)
        }
        for group in groups.values where !group.ready.isEmpty {
            waiting = true
            guard let holder = group.holder, let task = tasks[holder], task.mode == .user,
                  interruptDue(task, now: now), now &- task.tokenSince >= watchdogNanoseconds else { continue }
            requestInterrupt(task, now: now)
        }
        // Any other request still unanswered (a preemption at a merge of groups, a holder
        // that lost the token meanwhile): sent again until its stop arrives.
        for task in tasks.values where task.interruptRequested && task.mode == .user {
            waiting = true
            if interruptDue(task, now: now) { requestInterrupt(task, now: now) }
        }
        if waiting { armWatchdog() }
        return waiting
    }

    /// Whether `task` may be sent an interrupt now: none is outstanding, or the last one has
    /// gone a watchdog period (at least 10 ms, so that a stop merely not reaped yet is
    /// rarely asked for twice) without its stop. An interrupt can be lost: one that reaches a
    /// task about to stop for another reason (a syscall entry, a signal) is cleared by that
    /// stop (kernel/signal.c, `ptrace_stop`: "any trap clears pending STOP trap"), and no
    /// PTRACE_EVENT_STOP follows. Sent once and never again, a spinning member of a
    /// shared-memory group would then hold the token for good and stall its siblings.
    /// A second stop for one request is harmless: a PTRACE_EVENT_STOP nobody waits for
    /// resumes the task (`eventStop`).
    func interruptDue(_ task: TracedTask, now: UInt64) -> Bool {
        !task.interruptRequested || now &- task.interruptSentAt >= max(watchdogNanoseconds, 10_000_000)
    }

    /// Stops `task` where it runs (PTRACE_INTERRUPT, ptrace(2)); its PTRACE_EVENT_STOP
    /// records the point (`eventStop`). Cost: one ptrace call.
    func requestInterrupt(_ task: TracedTask, now: UInt64 = monotonicNanoseconds()) {
        task.interruptRequested = true
        task.interruptSentAt = now
        if task.interruptsDropped < dropsInterrupts {
            task.interruptsDropped += 1
            return
        }
        _ = mp_ptrace(Int(PtraceRequest.interrupt), task.tid, 0, 0)
    }

    // MARK: - Syscalls

    static let execSyscalls: Set<Int> = [SyscallTable.Number.execve, SyscallTable.Number.execveat]

    func syscallEntry(_ task: TracedTask) throws {
        // This stop cleared any interrupt still pending (`interruptDue`): none will come.
        task.interruptRequested = false
        var info = mp_syscall_info()
        let r = mp_get_syscall_info(task.tid, &info)
        guard r >= 0 else { throw PtraceFailure(operation: "GET_SYSCALL_INFO", tid: task.tid, errno: Int32(-r)) }
        let arguments = withUnsafeBytes(of: info.args) { Array($0.bindMemory(to: UInt64.self)) }
        let number = Int(info.nr)
        var flags: SyscallFlags = []
        let foreign = info.arch != 0xC000_003E || number & 0x4000_0000 != 0  // AUDIT_ARCH_X86_64, x32 bit
        if foreign { flags.insert(.foreignABI) }
        // A call into the vsyscall page has no exit stop: answered here (VsyscallEmulation.swift).
        if !foreign, try emulateVsyscall(task, info: info, arguments: arguments) { return }
        let spec = SyscallTable.spec(number)
        let socketAddress = spec.socketAddressArgument.flatMap { a in
            arguments[a.address] != 0 && (1...UInt64(SyscallSpec.socketAddressLimit)).contains(arguments[a.length]) ? a : nil }
        let copiesArguments = copiesPathArguments && !foreign
            && (spec.pathArguments.contains { arguments[$0] != 0 } || socketAddress != nil)
        let rewritesEnvironment = !foreign && !requiredEnvironment.isEmpty && Supervisor.execSyscalls.contains(number)
        // A stopped write's buffer goes to the kernel from the scratch area too (when the
        // area cannot be had, from the program's memory, as before: no refusal).
        let writeBuffer = copiesPathArguments && !foreign ? Self.copiedWriteBuffer(spec, arguments: arguments) : nil
        let writeIovec = copiesPathArguments && !foreign ? Self.copiedWriteIovec(spec, arguments: arguments) : nil
        if copiesArguments || rewritesEnvironment || writeBuffer != nil || writeIovec != nil,
           task.scratch == nil && !task.scratchUnavailable,
           try injectScratchMapping(task) {
            return  // the task re-enters this syscall, with a scratch area
        }
        // The program's own seccomp filters first: the kernel would run them before ours.
        var skipResult: Int64? = task.seccomp.isEmpty ? nil : try applyTraceeFilters(task, info: info, arguments: arguments)
        if skipResult == nil && !foreign && syscallBuffering && number == SyscallBufferABI.bufferCall {
            skipResult = syscallBufferCall(task, arguments: arguments)
        }
        // The table says what is refused: numbers it does not declare, calls whose kernel
        // writes arrive later (AIO, perf rings, rseq, io_uring), unknown legacy ioctls.
        let refusal = skipResult != nil ? nil : foreign ? "made through another ABI" : spec.refusalReason(arguments: arguments)
        if let refusal {
            skipResult = Int64(-ENOSYS)
            // rseq is refused at every glibc start: expected, so not worth a line.
            if number != SyscallTable.Number.rseq, warnedRefused.insert(foreign ? -1 : number).inserted {
                log("magprov: task \(task.tid): \(foreign ? "syscall \(number)" : spec.name) refused with ENOSYS: \(refusal)")
            }
        }
        if !spec.modeled && !foreign { flags.insert(.unmodeled) }
        let memory = task.access
        var inputs: [BufferDigest] = []
        var objects: [ObjectIdentity] = []
        var pathCopies: [Int: [UInt8]] = [:]
        var scratchCopies: [Int: PathArgument] = [:]
        var writeCopy: [UInt8]?
        // The filesystem half of time of check / time of use for calls that return no
        // descriptor (whose identity the exit corrects, addExitObjects): what was under way
        // or started while the paths below are resolved, before the call's exit.
        let namespaceMark = namespaceChangesStarted, racedAtEntry = namespaceChangesInFlight > 0
        if !foreign {
            for (index, kind) in spec.arguments.enumerated() {
                switch kind {
                case .inBuffer(let size):
                    let length: Int
                    switch size {
                    case .fixed(let n): length = n
                    case .argument(let n): length = Int(truncatingIfNeeded: min(arguments[n], UInt64(maximumCaptureLength)))
                    case .argumentTimes(let n, let k): length = Int(truncatingIfNeeded: min(arguments[n], 1 << 20)) * k
                    default: length = 0
                    }
                    if let socketAddress, index == socketAddress.address {
                        // Read once, as the kernel's copy would (honouring protection), and
                        // handed to the kernel from the scratch area below.
                        if let bytes = memory.readUserBytes(at: arguments[index], count: length) {
                            inputs.append(BufferDigest(address: arguments[index], bytes: bytes))
                            scratchCopies[index] = .buffer(bytes)
                        } else {
                            scratchCopies[index] = .unreadable
                        }
                    } else if let writeBuffer, index == writeBuffer.index, task.scratch != nil,
                              let bytes = memory.readUserBytes(at: arguments[index], count: writeBuffer.length) {
                        // Read once, honouring protection as the kernel's copy does; these
                        // bytes are digested and written (redirectWriteBuffer below).
                        inputs.append(BufferDigest(address: arguments[index], bytes: bytes))
                        writeCopy = bytes
                    } else if arguments[index] != 0, length > 0, let digest = digestInput(memory, address: arguments[index], length: length) {
                        inputs.append(digest)
                    }
                case .inIovec(let countArgument):
                    if let writeIovec, index == writeIovec.index, let area = task.scratch,
                       let copy = copyWriteIovec(memory, area: area, at: arguments[index], count: writeIovec.count) {
                        // Read once; the kernel is given these bytes (redirectWriteBuffer below).
                        inputs += copy.inputs
                        writeCopy = copy.region
                    } else {
                        inputs += readIovecInputs(memory, at: arguments[index], count: arguments[countArgument])
                    }
                case .inXattrArgs(let sizeArgument):
                    // struct xattr_args { u64 value; u32 size; u32 flags; }: the value bytes.
                    guard arguments[index] != 0, arguments[sizeArgument] >= 16,
                          let args = memory.readBytes(at: arguments[index], count: 16) else { break }
                    inputs.append(BufferDigest(address: arguments[index], bytes: args))
                    let value = args.loadUInt64(at: 0), size = Int(min(args.loadUInt32(at: 8), 1 << 16))
                    if value != 0, size > 0, let bytes = memory.readBytes(at: value, count: size) {
                        inputs.append(BufferDigest(address: value, bytes: bytes))
                    }
                case .fd:
                    if let id = ObjectResolver.identity(ofDescriptor: Int64(Int32(truncatingIfNeeded: arguments[index])),
                                                        tid: task.tid, argument: index) {
                        objects.append(id)
                    }
                case .path:
                    // Read once: these very bytes are what the kernel will be given.
                    guard arguments[index] != 0 else { break }
                    let read = memory.readCStringBytes(at: arguments[index])
                    scratchCopies[index] = PathArgument(read)
                    guard let (bytes, terminated) = read else { break }
                    if terminated { pathCopies[index] = bytes }
                    let path = String(decoding: bytes, as: UTF8.self)
                    let isCreated = spec.createsLastPath(arguments: arguments) && index == spec.pathArguments.last
                    if !isCreated {
                        let dirfd = ObjectResolver.dirfd(for: index, spec: spec, arguments: arguments)
                        objects.append(ObjectResolver.identity(
                            ofPath: path, dirfd: dirfd, tid: task.tid, argument: index,
                            followFinalLink: spec.followsFinalLink(arguments: arguments)))
                        if spec.graph == .execve { objects += ObjectResolver.execInputs(path: path, dirfd: dirfd, tid: task.tid) }
                    }
                default:
                    break
                }
            }
        }
        if skipResult == nil && !foreign {
            skipResult = try interceptSeccompInstall(task, number: number, arguments: arguments)
        }
        if skipResult == nil && !foreign, let traceeGuard,
           let refusal = traceeGuard.check(tid: task.tid, spec: spec, arguments: arguments, objects: objects, memory: memory,
                                           paths: pathCopies,
                                           scratchRanges: scratchRanges(sharingWith: task) + trustedPageRanges(task),
                                           processMemory: syscallBuffering ? nil : { [unowned self] in supervisorPages(inProcess: $0) }) {
            log("magprov: task \(task.tid): refused \(refusal.reason)")
            skipResult = Int64(-refusal.errno)
        }
        if let skipResult {
            // Skip the syscall: orig_rax = -1 makes the kernel bypass it; rax is the result.
            flags.insert(.refused)
            var regs = try task.access.registers()
            regs[.origRax] = UInt64(bitPattern: -1)
            regs[.rax] = UInt64(bitPattern: skipResult)
            try task.access.setRegisters(regs)
        }
        var redirected: [(index: Int, original: UInt64)] = []
        if skipResult == nil && copiesArguments && task.scratch == nil {
            // No scratch area: the injected mmap failed (an address-space limit the program
            // set, RLIMIT_AS, or a full map count). Reading the path in place would reopen
            // the race, so the call fails as the kernel fails an allocation; the next path
            // call tries the mapping again.
            task.scratchUnavailable = false
            flags.insert(.refused)
            skipResult = Int64(-ENOMEM)
            var regs = try task.access.registers()
            regs[.origRax] = UInt64(bitPattern: -1)
            regs[.rax] = UInt64(bitPattern: Int64(-ENOMEM))
            try task.access.setRegisters(regs)
        }
        if skipResult == nil && copiesArguments && task.scratch != nil && !scratchCopies.isEmpty {
            var regs = try task.access.registers()
            let isExec = Supervisor.execSyscalls.contains(number)
            var copied = true
            for (position, index) in scratchCopies.keys.sorted().enumerated() {
                if redirectPathArgument(task, index: index, slot: isExec ? ScratchArea.execPathSlot : position,
                                        scratchCopies[index]!, registers: &regs) {
                    redirected.append((index, arguments[index]))
                } else {
                    copied = false
                }
            }
            if !copied {
                // The copy could not be written (the area is gone): the kernel would read the
                // program's memory, which may no longer say what was recorded. Fail the call
                // as a failed allocation, recorded, never run it on unchecked bytes.
                log("magprov: task \(task.tid): \(spec.name) refused with ENOMEM: its path could not be copied for the kernel")
                redirected.removeAll()
                flags.insert(.refused)
                skipResult = Int64(-ENOMEM)
                regs = try task.access.registers()
                regs[.origRax] = UInt64(bitPattern: -1)
                regs[.rax] = UInt64(bitPattern: Int64(-ENOMEM))
                try task.access.setRegisters(regs)
            } else if !redirected.isEmpty {
                try task.access.setRegisters(regs)
            }
        }
        if skipResult == nil, let index = writeBuffer?.index ?? writeIovec?.index, let writeCopy,
           try redirectWriteBuffer(task, index: index, writeCopy) {
            redirected.append((index, arguments[index]))
        }
        if skipResult == nil && rewritesEnvironment,
           let redirect = try requireExecEnvironment(task, number: number, arguments: arguments) {
            redirected.append(redirect)
        }
        // A created path (mkdir, mknod, symlink, link's new name ...) is resolved at the exit
        // (addExitObjects), after the kernel's walk: raced the same way, so checked the same way.
        let checksRace = skipResult == nil && !foreign && !spec.returnsDescriptor(arguments: arguments)
            && (objects.contains { $0.argument >= 0 && spec.arguments.indices.contains($0.argument) && spec.arguments[$0.argument] == .path }
                || (spec.createsLastPath(arguments: arguments) && spec.pathArguments.last.map { arguments[$0] != 0 } == true))
        let changesNamespace = skipResult == nil && !foreign && spec.changesNamespace(arguments: arguments)
        if changesNamespace {
            namespaceChangesStarted += 1
            namespaceChangesInFlight += 1
        }
        task.pending = TracedTask.PendingSyscall(
            number: number, arguments: arguments,
            entry: foreign ? EntryState() : spec.entryState(arguments: arguments, memory: memory,
                                                            isReadOnly: { [tid = task.tid] in Self.isReadOnly(tid: tid, fd: $0) }),
            inputs: inputs, objects: objects, flags: flags, startTime: monotonicNanoseconds(), entrySequence: sequence,
            pathCopies: pathCopies, redirected: redirected, changesNamespace: changesNamespace,
            namespaceMark: checksRace ? namespaceMark : nil, racedAtEntry: checksRace && racedAtEntry)
        sequence += 1
        task.mode = .kernel
        // A thread's exit clears its CLONE_CHILD_CLEARTID word in the kernel at a moment no
        // stop shows; keeping its siblings out of user mode until the exit is reported
        // makes that write happen before any of them runs again (replay relies on it).
        // Not for a group leader: its exit is reported only after all its threads end.
        let exitingThread = number == SyscallTable.Number.exit && task.tid != task.tgid
        if !exitingThread { releaseToken(task) }
        try task.access.resume(PtraceRequest.syscall)
    }

    /// Whether descriptor `fd` of task `tid` is open O_RDONLY: the octal `flags:` line of
    /// /proc/TID/fdinfo/FD (proc(5)). False when it cannot be read.
    static func isReadOnly(tid: Int32, fd: Int32) -> Bool {
        guard fd >= 0 else { return false }
        let descriptor = open("/proc/\(tid)/fdinfo/\(fd)", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard n > 0 else { return false }
        let text = String(decoding: buffer[0..<n], as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags:") }),
              let flags = Int(line.dropFirst(6).filter { $0 != " " && $0 != "\t" }, radix: 8) else { return false }
        return flags & 3 == 0
    }

    func syscallExit(_ task: TracedTask) throws {
        guard let pending = task.pending else {
            // An exit without a recorded entry (the first stop after exec by another thread).
            task.atSyscallBoundary = true
            return try wantsUserMode(task)
        }
        task.pending = nil
        var info = mp_syscall_info()
        _ = mp_get_syscall_info(task.tid, &info)
        let result = info.op == 2 ? info.rval : Int64(bitPattern: (try? task.access.registers()[.rax]) ?? 0)
        // A successful execve leaves the new image's registers, which are not the program's
        // arguments (a static binary's _start takes rdx as an atexit function).
        let replacedImage = result == 0 && Supervisor.execSyscalls.contains(pending.number)
        if !pending.redirected.isEmpty && !replacedImage {
            // The syscall ABI preserves argument registers: give the program its own back
            // (one PTRACE_POKEUSER each).
            for (index, original) in pending.redirected { try task.access.setRegister(argumentRegisters[index], original) }
        }
        let spec = SyscallTable.spec(pending.number)
        let memory = task.access
        var flags = pending.flags
        if let mark = pending.namespaceMark,
           pending.racedAtEntry || namespaceChangesStarted != mark + (pending.changesNamespace ? 1 : 0) {
            flags.insert(.pathRaced)
        }
        if pending.changesNamespace { namespaceChangesInFlight -= 1 }
        var event = SyscallEvent(number: pending.number, arguments: pending.arguments, result: result,
                                 flags: flags, inputs: pending.inputs, objects: pending.objects,
                                 duration: monotonicNanoseconds() &- pending.startTime, entrySequence: pending.entrySequence)
        if !pending.flags.contains(.refused) {
            for region in spec.outputRegions(arguments: pending.arguments, result: result, entry: pending.entry, memory: memory) {
                if region.length > inlineEventLimit {
                    if let write = readIntoBlobs(memory, address: region.address, length: region.length) { event.writes.append(write) }
                } else if let bytes = memory.readBytes(at: region.address, count: region.length) {
                    event.writes.append(MemoryWrite(address: region.address, bytes: bytes))
                }
            }
            if result >= 0 { addExitObjects(&event, spec: spec, task: task, pathCopies: pending.pathCopies) }
            if pending.number == SyscallTable.Number.mmap, result >= 0, pending.arguments[3] & 0x20 == 0 /* MAP_ANONYMOUS */ {
                if pending.arguments[2] & 4 != 0 /* PROT_EXEC */ {
                    let start = UInt64(bitPattern: result)
                    rewriteNondeterministicInstructions(task, in: start..<(start &+ pending.arguments[1]))
                }
                event.mapped = try capture.captureMapping(tid: task.tid, address: UInt64(bitPattern: result),
                                                          length: pending.arguments[1])
            }
            if pending.number == SyscallTable.Number.mprotect, result == 0, pending.arguments[2] & 4 != 0 /* PROT_EXEC */ {
                let start = pending.arguments[0]
                event.writes += rewriteNondeterministicInstructions(task, in: start..<(start &+ pending.arguments[1]), anonymous: true)
            }
            if SyscallTable.graphRole(pending.number) == .sharedMemoryAttach, result >= 0,
               let segment = attachedSegmentBytes(task, at: UInt64(bitPattern: result)) {
                event.writes.append(segment)
            }
            let sharedMapping = SyscallTable.graphRole(pending.number) == .sharedMemoryAttach
                || (pending.number == SyscallTable.Number.mmap && pending.arguments[3] & 0x20 == 0 /* MAP_ANONYMOUS */
                    && (pending.arguments[3] & 0x3 == 0x1 || pending.arguments[3] & 0x3 == 0x3) /* MAP_SHARED(_VALIDATE) */)
            if sharedMapping, result >= 0, joinProcessesSharing(task, at: UInt64(bitPattern: result)) {
                event.flags.insert(.joinedSharedMemoryGroup)
            }
            // Another process's memory file opened for writing (ProcessMemoryWrites.swift).
            if spec.graph == .open, result >= 0, joinProcessMemoryWriter(task, fd: result, objects: event.objects) {
                event.flags.insert(.joinedSharedMemoryGroup)
            }
            // A shared mapping made writable joins like a new writable mapping of its object.
            if pending.number == SyscallTable.Number.mprotect, result == 0, pending.arguments[2] & 2 != 0 /* PROT_WRITE */,
               joinProcessesSharing(task, at: pending.arguments[0]) {
                event.flags.insert(.joinedSharedMemoryGroup)
            }
            if pending.number == SyscallTable.Number.rtSigreturn {
                event.registersAfter = try task.access.registers()
            }
        }
        syscallCount += 1
        let stream = pending.enteredBy ?? task.tid
        emit(stream, .syscall(event))
        if Supervisor.flushesAtExit(spec) {
            do { try writer.flush(tid: stream) } catch { failure = failure ?? error }
        }
        if stream != task.tid { do { try writer.closeStream(tid: stream) } catch { failure = failure ?? error } }
        task.atSyscallBoundary = true
        task.boundaryRegisters = try? task.access.registers()
        // Signals held while the task ran user code are delivered now, at this boundary.
        for signal in task.heldSignals {
            task.releasing.append(signal)
            _ = mp_tgkill(task.tgid, task.tid, signal)
        }
        task.heldSignals.removeAll()
        if task.pendingTrap != nil { _ = mp_tgkill(task.tgid, task.tid, SIGSYS) }  // emulated SECCOMP_RET_TRAP
        try wantsUserMode(task)
    }

    private func addExitObjects(_ event: inout SyscallEvent, spec: SyscallSpec, task: TracedTask, pathCopies: [Int: [UInt8]]) {
        var opened: ObjectIdentity?
        if spec.returnsDescriptor(arguments: event.arguments) {
            if let id = ObjectResolver.identity(ofDescriptor: event.result, tid: task.tid, argument: -1) {
                opened = id
                event.objects.append(id)
                // The filesystem half of time-of-check/time-of-use: a symlink on the path
                // may have been swapped between our resolution at entry and the kernel's.
                // The descriptor is what the kernel opened, so the path argument names that.
                // A path that did not exist at entry (inode 0) was created by the call: it
                // keeps inode 0, but names the file the kernel created, where it did.
                if let index = spec.pathArguments.last,
                   let k = event.objects.firstIndex(where: { $0.argument == index }) {
                    let entry = event.objects[k]
                    if entry.inode != 0, entry.device != id.device || entry.inode != id.inode {
                        event.objects[k] = ObjectIdentity(argument: index, requested: entry.requested,
                                                          resolved: id.resolved, device: id.device, inode: id.inode, mode: id.mode)
                    } else if entry.inode == 0, entry.resolved != id.resolved, id.inode != 0 {
                        event.objects[k] = ObjectIdentity(argument: index, requested: entry.requested,
                                                          resolved: id.resolved, device: entry.device, inode: 0, mode: entry.mode)
                    }
                }
            }
        }
        if spec.graph == .pipe || spec.graph == .socketpair, let pair = event.writes.first, pair.bytes.count == 8 {
            for k in 0..<2 {
                let fd = Int64(Int32(bitPattern: pair.bytes.loadUInt32(at: k * 4)))
                if let id = ObjectResolver.identity(ofDescriptor: fd, tid: task.tid, argument: -1 - k) { event.objects.append(id) }
            }
        }
        if spec.createsLastPath(arguments: event.arguments), let index = spec.pathArguments.last,
           let path = pathCopies[index].map({ String(decoding: $0, as: UTF8.self) }) ?? task.access.readCString(at: event.arguments[index]) {
            var created = ObjectResolver.identity(
                ofPath: path, dirfd: ObjectResolver.dirfd(for: index, spec: spec, arguments: event.arguments),
                tid: task.tid, argument: index, followFinalLink: false)
            // Resolved after the kernel's walk, so possibly elsewhere: a descriptor the call
            // returned (a creating open) says where the file is.
            if let opened, opened.inode != 0, opened.device != created.device || opened.inode != created.inode {
                created = ObjectIdentity(argument: index, requested: created.requested, resolved: opened.resolved,
                                         device: opened.device, inode: opened.inode, mode: opened.mode)
            }
            event.objects.append(created)
        }
    }

    /// A large kernel write (a read(2) of 1 GiB) read from the task one blob chunk at a
    /// time and stored as it goes, so the recorder holds one chunk, never the whole write.
    /// Nil when a part cannot be read (as `readBytes` would be).
    func readIntoBlobs(_ memory: TaskAccess, address: UInt64, length: Int) -> MemoryWrite? {
        var chunks: [BlobID] = []
        var offset = 0
        while offset < length {
            let count = min(BlobStore.chunkLength, length - offset)
            guard let bytes = memory.readBytes(at: address + UInt64(offset), count: count) else { return nil }
            do { chunks.append(try writer.blobs.put(bytes)) } catch { failure = failure ?? error; return nil }
            offset += count
        }
        return MemoryWrite(address: address, storedChunks: chunks, length: length)
    }

    /// The digest of a buffer the kernel reads (write(2) and friends), computed one chunk at
    /// a time for large buffers so the recorder never copies a 1 GiB write whole.
    private func digestInput(_ memory: TaskAccess, address: UInt64, length: Int) -> BufferDigest? {
        guard length > BlobStore.chunkLength else {
            return memory.readBytes(at: address, count: length).map { BufferDigest(address: address, bytes: $0) }
        }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a 64, as fnv1a64
        var prefix: [UInt8] = []
        var offset = 0
        while offset < length {
            let count = min(BlobStore.chunkLength, length - offset)
            guard let bytes = memory.readBytes(at: address + UInt64(offset), count: count) else { return nil }
            if prefix.isEmpty { prefix = Array(bytes.prefix(BufferDigest.prefixLength)) }
            for b in bytes { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
            offset += count
        }
        return BufferDigest(address: address, length: length, hash: hash, prefix: prefix)
    }

    /// Digests of the buffers an iovec array hands the kernel. The kernel takes at most
    /// MAX_RW_COUNT bytes from the whole array (import_iovec(9) shortens the total), so no
    /// more are digested; an iovec that repeats an earlier one's address and length reuses
    /// its digest (1,024 iovecs over one 16 MB buffer: one pass over it, not 1,024).
    private func readIovecInputs(_ memory: TaskAccess, at address: UInt64, count: UInt64) -> [BufferDigest] {
        guard address != 0, count > 0, count <= 1024,
              let raw = memory.readBytes(at: address, count: Int(count) * 16) else { return [] }
        struct Span: Hashable { let base: UInt64, length: Int }
        var digests: [BufferDigest] = []
        var seen: [Span: BufferDigest] = [:]
        var remaining = maximumCaptureLength
        for i in 0..<Int(count) where remaining > 0 {
            let base = raw.loadUInt64(at: i * 16), length = Int(min(raw.loadUInt64(at: i * 16 + 8), UInt64(remaining)))
            remaining -= length
            guard base != 0, length > 0 else { continue }
            let span = Span(base: base, length: length)
            if let digest = seen[span] ?? digestInput(memory, address: base, length: length) {
                seen[span] = digest
                digests.append(digest)
            }
        }
        return digests
    }

    // MARK: - Tasks

    /// Whether the parent's pending clone or clone3 asked for CLONE_VM (clone3: the flags
    /// word that starts `struct clone_args`, read while the parent is stopped at the event).
    /// Without a pending call to read, the event says it: PTRACE_EVENT_CLONE.
    func clonesAddressSpace(_ parent: TracedTask, event: Int32) -> Bool {
        let cloneVM: UInt64 = 0x100
        guard let pending = parent.pending else { return event == PtraceEvent.clone }
        switch pending.number {
        case SyscallTable.Number.clone: return pending.arguments[0] & cloneVM != 0
        case SyscallTable.Number.clone3:
            guard let flags = parent.access.readBytes(at: pending.arguments[0], count: 8) else { return event == PtraceEvent.clone }
            return flags.loadUInt64(at: 0) & cloneVM != 0
        case SyscallTable.Number.fork, SyscallTable.Number.vfork: return false
        default: return event == PtraceEvent.clone
        }
    }

    func newTask(from parent: TracedTask, event: Int32) throws {
        let child = Int32(truncatingIfNeeded: parent.access.eventMessage())
        let kind: TaskStart.Kind
        let tgid = threadGroupID(of: child) ?? child
        if event == PtraceEvent.vfork { kind = .vfork } else if tgid == parent.tgid && event == PtraceEvent.clone { kind = .thread } else { kind = .fork }
        let task = tasks[child] ?? TracedTask(tid: child, tgid: tgid)
        task.tgid = kind == .thread ? parent.tgid : child
        // seccomp(2): filters are inherited by children and threads (CLONE_* does not matter).
        task.seccomp = parent.seccomp
        // A forked child has its own copy of the parent's scratch area; a vfork child
        // borrows it while the parent waits; threads (and other CLONE_VM children) get theirs.
        // The flags decide, not the event: a CLONE_VM child whose exit signal is SIGCHLD is
        // reported as PTRACE_EVENT_FORK (ptrace(2)), yet shares the parent's memory.
        let sharesMemory = kind == .thread || (kind != .vfork && clonesAddressSpace(parent, event: event))
        task.scratch = sharesMemory ? nil : parent.scratch
        // A forked child's code is a copy of its parent's, rewritten instructions included.
        if kind != .thread { rewrittenInstructions[task.tgid] = rewrittenInstructions[parent.tgid] }
        task.addressSpace = sharesMemory || kind == .vfork ? parent.addressSpace : child
        if syscallBuffering { inheritSyscallBuffer(task, from: parent, kind: kind, sharesMemory: sharesMemory) }
        tasks[child] = task
        let sharedGroup = kind == .fork ? joinSharedMemoryGroup(child: child, parent: parent) : nil
        if groups[schedulingKey(task.tgid)] == nil { groups[schedulingKey(task.tgid)] = ThreadGroup() }
        task.announced = true
        emit(child, .taskStart(TaskStart(tid: child, pid: task.tgid, parent: parent.tid, kind: kind,
                                         cloneFlags: parent.pending?.arguments.first ?? 0,
                                         sharedMemoryGroup: sharedGroup.map { _ in parent.tgid })))
        if orphanStops.remove(child) != nil { try wantsUserMode(task) }
        try parent.access.resume(PtraceRequest.syscall)
    }

    func eventStop(_ task: TracedTask, signal: Int32) throws {
        if !task.initialStopSeen && task.mode == .starting {
            task.initialStopSeen = true
            if task.tid == rootTid { return try task.access.resume(PtraceRequest.cont) }
            // A new task's first stop: it runs once its creation has been recorded.
            if task.announced { return try wantsUserMode(task) }
            orphanStops.insert(task.tid)
            return
        }
        if task.interruptRequested {
            task.interruptRequested = false
            if task.mode == .user && isInsideBufferedCall(task) {
                // Not a point replay can stop at (a buffered call ran, its record is not
                // written yet): the watchdog interrupts again at its next tick.
                return try task.access.resume(PtraceRequest.cont)
            }
            if task.mode == .user && !task.heldSignals.isEmpty {
                // Deliver held signals here: the preemption records the point (replay runs
                // to these registers), then each signal is raised again and delivered
                // before the task runs another instruction.
                emit(task.tid, .schedule(ScheduleEvent(preemptedAt: try task.access.registers(),
                                                       sharedPages: sharedPagesFingerprint(task))))
                for signal in task.heldSignals {
                    task.releasing.append(signal)
                    _ = mp_tgkill(task.tgid, task.tid, signal)
                }
                task.heldSignals.removeAll()
                return try task.access.resume(PtraceRequest.cont)
            }
            if task.mode == .user {
                emit(task.tid, .schedule(ScheduleEvent(preemptedAt: try task.access.registers(),
                                                       sharedPages: sharedPagesFingerprint(task))))
                releaseToken(task)
                if groups[schedulingKey(task.tgid)]?.holder == nil { return try wantsUserMode(task) }
                task.mode = .ready
                groups[schedulingKey(task.tgid)]?.ready.append(task.tid)
                return
            }
            return try task.access.resume(task.mode == .kernel ? PtraceRequest.syscall : PtraceRequest.cont)
        }
        if stopSignals.contains(signal) {
            // Group stop (job control): keep it stopped without holding it in ptrace.
            return try task.access.resume(PtraceRequest.listen)
        }
        try task.access.resume(task.mode == .kernel ? PtraceRequest.syscall : PtraceRequest.cont)
    }

    func exec(_ task: TracedTask) throws {
        let formerTid = Int32(truncatingIfNeeded: task.access.eventMessage())
        if formerTid != task.tid, let former = tasks.removeValue(forKey: formerTid) {
            // A non-leader thread exec'd: it now has the leader's tid (execve(2), "All threads
            // other than the calling thread are destroyed"; ptrace(2), "execve(2) under
            // ptrace": the leader reports no death, the event message is the former tid).
            // The leader's own unfinished call never completes. The execve is the former
            // thread's: its exit event goes to that thread's stream, which then ends.
            var execve = former.pending
            if execve?.enteredBy == nil { execve?.enteredBy = formerTid }
            if task.pending?.changesNamespace == true { namespaceChangesInFlight -= 1 }
            task.pending = execve
            task.seccomp = former.seccomp
            former.closeMemory()
            if let group = groups[schedulingKey(task.tgid)] {
                group.ready.removeAll { $0 == formerTid }
                if group.holder == formerTid { group.holder = nil }
                if group.lastScheduled == formerTid { group.lastScheduled = task.tid }
            }
        }
        task.execSeen = true
        leaveSharedMemoryGroup(task)
        task.scratch = nil  // a new address space
        let formerSpace = task.addressSpace
        task.addressSpace = newAddressSpaceID()
        forgetOrphanedScratchIfUnused(formerSpace)
        if syscallBuffering { forgetSyscallBuffer(task) }
        task.scratchUnavailable = false
        task.closeMemory()
        let access = task.access
        var registers = try access.registers()
        let (argv, environment, auxvRange) = StartupStack.read(access, stackPointer: registers[.rsp])
        if let auxvRange { StartupStack.removeVDSO(access, auxv: auxvRange) }
        let auxv = auxvRange.flatMap { access.readBytes(at: $0.lowerBound, count: Int($0.upperBound - $0.lowerBound)) } ?? []
        registers = try access.registers()
        let path = FileIdentity.readLink("/proc/\(task.tid)/exe") ?? argv.first ?? ""
        rewrittenInstructions[task.tgid] = nil
        rewriteNondeterministicInstructions(task)
        let mappings = try capture.snapshot(tid: task.tid)
        emit(task.tid, .exec(ExecSnapshot(path: path, argv: argv, environment: environment, registers: registers,
                                          fpRegisters: access.fpRegisters(), mappings: mappings, auxv: auxv)))
        try access.resume(PtraceRequest.syscall)
    }

    func taskExited(tid: Int32, exit: TaskExit) {
        guard let task = tasks.removeValue(forKey: tid) else { return }
        task.closeMemory()
        orphanScratch(of: task)
        if let pending = task.pending {
            // Died inside a syscall (exit, exit_group, a fatal signal while blocked).
            if pending.changesNamespace { namespaceChangesInFlight -= 1 }
            syscallCount += 1
            emit(pending.enteredBy ?? tid, .syscall(SyscallEvent(number: pending.number, arguments: pending.arguments, result: 0,
                                            flags: pending.flags.union(.unfinished), inputs: pending.inputs,
                                            objects: pending.objects, entrySequence: pending.entrySequence)))
            if let former = pending.enteredBy { do { try writer.closeStream(tid: former) } catch { failure = failure ?? error } }
        }
        emit(tid, .taskExit(exit))
        releaseToken(task)
        let key = schedulingKey(task.tgid)
        if let group = groups[key] {
            group.ready.removeAll { $0 == tid }
            if !tasks.values.contains(where: { schedulingKey($0.tgid) == key }) { groups[key] = nil }
        }
        if !tasks.values.contains(where: { $0.tgid == task.tgid }) { sharedMemoryGroupOf[task.tgid] = nil }
        do { try writer.closeStream(tid: tid) } catch { failure = failure ?? error }
        if tid == rootTid { rootExit = exit }
    }

    // MARK: - Signals

    func signalStop(_ task: TracedTask, signal: Int32, atBoundary: Bool) throws {
        let access = task.access
        let siginfo = access.siginfo()
        let code = siginfo.count >= 12 ? Int32(bitPattern: siginfo.loadUInt32(at: 8)) : 0
        let registers = try access.registers()
        if signal == SIGSEGV && code == 0x80 /* SI_KERNEL */, try emulateTimestamp(task, registers: registers) {
            return
        }
        if signal == SIGILL, try emulateRewrittenInstruction(task, registers: registers) {
            return
        }
        if task.tid == rootTid && !task.execSeen && signal == SIGCONT {
            // Our own SIGCONT that released the seized child before its exec: not the program's.
            return try access.resume(PtraceRequest.cont, signal: signal)
        }
        if signal == SIGSYS, let trap = task.pendingTrap {
            // The SIGSYS of an emulated SECCOMP_RET_TRAP: give it the kernel's siginfo.
            task.pendingTrap = nil
            setSiginfo(task, trap)
            return try deliver(task, signal: signal, kind: .synchronous, siginfo: trap, registers: registers)
        }
        if let index = task.releasing.firstIndex(of: signal) {
            task.releasing.remove(at: index)
            return try deliver(task, signal: signal, kind: .asynchronous, siginfo: siginfo, registers: registers)
        }
        if (signal == SIGCONT || stopSignals.contains(signal)) && !hasHandler(tid: task.tid, signal: signal) {
            // Job control without a handler changes nothing the program can see, so it needs
            // no replayable point: deliver it now, in the order it was sent. Held and raised
            // again later, a SIGCONT would discard a stop signal sent after it (signal(7)).
            return try deliver(task, signal: signal, kind: .asynchronous, siginfo: siginfo, registers: registers)
        }
        let kernelGenerated = code > 0
        if synchronousSignals.contains(signal) && kernelGenerated {
            return try deliver(task, signal: signal, kind: .synchronous, siginfo: siginfo, registers: registers)
        }
        let stillAtBoundary = atBoundary && task.boundaryRegisters.map {
            $0[.rip] == registers[.rip] && $0[.rsp] == registers[.rsp] && $0[.rax] == registers[.rax]
        } == true
        if stillAtBoundary || signal == SIGKILL {
            // Arrived right after a syscall (including the task signalling itself).
            return try deliver(task, signal: signal, kind: .asynchronous, siginfo: siginfo, registers: registers)
        }
        // Arrived while the task ran user code: hold it until the next syscall exit.
        if task.heldSignals.isEmpty { task.heldSince = monotonicNanoseconds() }
        task.heldSignals.append(signal)
        armWatchdog()
        try access.resume(PtraceRequest.cont)
    }

    private func deliver(_ task: TracedTask, signal: Int32, kind: SignalEvent.Kind, siginfo: [UInt8],
                         registers: RegisterFile) throws {
        let access = task.access
        guard hasHandler(tid: task.tid, signal: signal) else {
            let ignored = isIgnored(tid: task.tid, signal: signal)
            emit(task.tid, .signal(SignalEvent(signal: signal, kind: kind, outcome: ignored ? .ignored : .defaultAction,
                                               siginfo: siginfo, registers: registers)))
            return try access.resume(PtraceRequest.cont, signal: signal)
        }
        // Step into the handler: the kernel builds the signal frame and stops the task
        // before the handler's first instruction, so the frame and registers are recorded.
        try access.resume(PtraceRequest.singleStep, signal: signal)
        var status: Int32 = 0
        var r: Int32
        repeat { r = waitpid(task.tid, &status, __WALL) } while r < 0 && errno == EINTR  // the periodic timer
        guard r == task.tid, mp_wifstopped(status) != 0 else {
            emit(task.tid, .signal(SignalEvent(signal: signal, kind: kind, outcome: .defaultAction,
                                               siginfo: siginfo, registers: registers)))
            if r == task.tid { handle(tid: r, status: status) }
            return
        }
        let handlerRegisters = try access.registers()
        let frameStart = handlerRegisters[.rsp]
        let oldStack = registers[.rsp]
        var frame: MemoryWrite?
        if oldStack > frameStart, oldStack - frameStart < 1 << 16,
           let bytes = access.readBytes(at: frameStart, count: Int(oldStack - frameStart)) {
            frame = MemoryWrite(address: frameStart, bytes: bytes)
        } else if let bytes = access.readBytes(at: frameStart, count: 4096) {
            // Alternate signal stack: record a page of frame.
            frame = MemoryWrite(address: frameStart, bytes: bytes)
        }
        emit(task.tid, .signal(SignalEvent(signal: signal, kind: kind, outcome: .handled, siginfo: siginfo,
                                           registers: registers, handlerRegisters: handlerRegisters, frame: frame)))
        let stopSignal = mp_wstopsig(status)
        if stopSignal == SIGTRAP {
            try access.resume(PtraceRequest.cont)
        } else {
            // Another signal arrived on the way: treat it as a fresh stop.
            try signalStop(task, signal: stopSignal, atBoundary: false)
        }
    }

    /// rdtsc/rdtscp fault under PR_TSC_SIGSEGV: run it here, record the value, skip it.
    private func emulateTimestamp(_ task: TracedTask, registers: RegisterFile) throws -> Bool {
        let rip = registers[.rip]
        guard let bytes = task.access.readBytes(at: rip, count: 3) else { return false }
        var regs = registers
        let event: TimestampEvent
        if bytes[0] == 0x0f && bytes[1] == 0x31 {
            let value = mp_rdtsc()
            event = TimestampEvent(address: rip, value: value, aux: nil)
            regs[.rip] = rip + 2
        } else if bytes == [0x0f, 0x01, 0xf9] {
            var aux: UInt32 = 0
            let value = mp_rdtscp(&aux)
            event = TimestampEvent(address: rip, value: value, aux: aux)
            regs[.rcx] = UInt64(aux)
            regs[.rip] = rip + 3
        } else {
            return false
        }
        regs[.rax] = event.value & 0xffff_ffff
        regs[.rdx] = event.value >> 32
        try task.access.setRegisters(regs)
        emit(task.tid, .timestamp(event))
        try task.access.resume(PtraceRequest.cont)
        return true
    }

    private func resumeDelivering(_ task: TracedTask, signal: Int32) throws {
        try task.access.resume(PtraceRequest.cont, signal: signal)
    }

    // MARK: - /proc helpers

    private func statusMask(tid: Int32, field: String) -> UInt64 {
        guard let bytes = try? readAll(path: "/proc/\(tid)/status") else { return 0 }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix(field + ":") {
            return UInt64(line.dropFirst(field.count + 1).trimmingCharacters(), radix: 16) ?? 0
        }
        return 0
    }

    private func hasHandler(tid: Int32, signal: Int32) -> Bool {
        signal != SIGKILL && signal != SIGSTOP && statusMask(tid: tid, field: "SigCgt") & (1 << UInt64(signal - 1)) != 0
    }

    private func isIgnored(tid: Int32, signal: Int32) -> Bool {
        statusMask(tid: tid, field: "SigIgn") & (1 << UInt64(signal - 1)) != 0
    }
}

/// The process's initial stack at exec, and the vDSO removal done there.
public enum StartupStack {
    /// Reads argc/argv/envp/auxv from the initial stack (System V x86-64 ABI, 3.4.1).
    public static func read(_ access: TaskAccess, stackPointer: UInt64) -> (argv: [String], environment: [String], auxv: Range<UInt64>?) {
        guard let argc = access.readUInt64(at: stackPointer), argc < 1 << 20 else { return ([], [], nil) }
        var cursor = stackPointer + 8
        var argv: [String] = []
        for _ in 0..<argc {
            if let p = access.readUInt64(at: cursor) { argv.append(access.readCString(at: p, limit: 1 << 17) ?? "") }
            cursor += 8
        }
        cursor += 8  // argv's NULL
        var environment: [String] = []
        while let p = access.readUInt64(at: cursor), p != 0, environment.count < 1 << 16 {
            environment.append(access.readCString(at: p, limit: 1 << 17) ?? "")
            cursor += 8
        }
        cursor += 8
        let auxvStart = cursor
        while let type = access.readUInt64(at: cursor), cursor - auxvStart < 4096 {
            cursor += 16
            if type == 0 { break }  // AT_NULL
        }
        return (argv, environment, auxvStart..<cursor)
    }

    /// Turns AT_SYSINFO_EHDR (33) into AT_IGNORE (1) so libc never finds the vDSO and
    /// makes real, recorded syscalls for the time.
    public static func removeVDSO(_ access: TaskAccess, auxv: Range<UInt64>) {
        var cursor = auxv.lowerBound
        while cursor < auxv.upperBound {
            if access.readUInt64(at: cursor) == 33 {
                _ = access.writeBytes([1, 0, 0, 0, 0, 0, 0, 0], at: cursor)
            }
            cursor += 16
        }
    }

}

/// Set by the recorder's SIGTERM/SIGHUP handler (async-signal-safe: a plain store).
nonisolated(unsafe) var recorderTerminationRequested: sig_atomic_t = 0

func threadGroupID(of tid: Int32) -> Int32? {
    guard let bytes = try? readAll(path: "/proc/\(tid)/status") else { return nil }
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("Tgid:") {
        return Int32(line.dropFirst(5).trimmingCharacters())
    }
    return nil
}

extension Substring {
    func trimmingCharacters() -> String { String(self.drop(while: { $0 == " " || $0 == "\t" })) }
}

func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
