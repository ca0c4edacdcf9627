// Replays one unit (a process image) in the interpreter: loads the exec snapshot, runs
// each thread to its next recorded user-mode stop in recorded order, checks that the
// emulated program asks for exactly what the real one asked for, and injects what the
// kernel answered. Memory-management syscalls are mirrored in guest memory; everything
// else the kernel did is in the recorded memory writes.

import Syscalls
import Trace
import X86

/// How a unit's replay ended.
public enum ReplayOutcome: Sendable {
    /// Every recorded stop was reproduced.
    case completed
    case diverged(Divergence)
    /// The replay stopped where it could no longer be checked: another recorded process
    /// could write this process's memory from then on (a shared-memory group), or the
    /// process wrote its own memory in a way replay does not mirror. Everything before the
    /// stop was replayed and checked; nothing after it was (its taint summary is marked
    /// incomplete, so refinement never refutes its edges).
    case notReplayable(NotReplayable)
    /// The trace could not supply what this image needed (a damaged stream or blob): not a
    /// divergence, since the recording cannot be checked past that point.
    case damaged(TraceDamage)
}

/// Where and why a unit's replay stopped before its end (see `ReplayOutcome.notReplayable`).
public struct NotReplayable: Error, Sendable, CustomStringConvertible {
    public var tid: Int32
    public var instructionCount: UInt64
    /// The trace event after which the unit's memory was no longer its own alone.
    public var sequence: UInt64
    /// What happened there, with the event (`shmat @57 ...`).
    public var reason: String

    public var description: String {
        "process image replayed for \(instructionCount) instructions, stopped in task \(tid) after @\(sequence): \(reason)"
    }
}

/// Where replay met damage in the trace: the error reading a blob or stream, and which
/// event of which task needed those bytes. Reported as damage (`magprov replay` exits 4),
/// never as a divergence.
public struct TraceDamage: Error, Sendable, CustomStringConvertible {
    public var error: TraceError
    public var tid: Int32
    /// The trace sequence number of the event whose bytes were needed; nil when the task's
    /// whole stream is the damage.
    public var sequence: UInt64?
    /// What needed the bytes, e.g. "the exec snapshot's mapping of /usr/bin/cat at 0x…-0x…";
    /// empty when the damage is the task's own stream.
    public var location: String

    public init(error: TraceError, tid: Int32, sequence: UInt64?, location: String) {
        self.error = error; self.tid = tid; self.sequence = sequence; self.location = location
    }

    public var description: String {
        if let sequence { return "\(error); needed by \(location) (event \(sequence) of task \(tid))" }
        return location.isEmpty ? "\(error)" : "\(location): \(error)"
    }
}

public struct UnitResult: Sendable {
    public var pid: Int32
    public var tid: Int32
    public var executable: String
    public var outcome: ReplayOutcome
    public var instructions: UInt64
    public var syscalls: Int
    public var seconds: Double
    public var decodedInstructions: Int
    public var guestPages: Int
    /// Results of the children forked without exec, replayed from this unit's state.
    public var children: [UnitResult]
    /// The unit's flow summary, for taint replay (nil for plain replay).
    public var taint: TaintSummary? = nil
    /// Model-specific instruction families this image ran on the host's FPU.
    public var hostComputed: HostComputedInstructions = []

    /// The result of a unit that was not run. When damage stopped it, its forked children
    /// (which start from its state) are listed as not checked too, so every process image
    /// of the trace is counted.
    static func notRun(_ unit: ReplayUnit, executable: String? = nil, outcome: ReplayOutcome) -> UnitResult {
        var children: [UnitResult] = []
        if case .damaged(var damage) = outcome {
            if !damage.location.hasPrefix("the image it was forked from") {
                damage.location = "the image it was forked from" + (damage.location.isEmpty ? "" : " (\(damage.location))")
            }
            children = unit.forkedChildren.values.sorted { $0.tid < $1.tid }
                .map { notRun($0, executable: executable ?? unit.executable, outcome: $0.damage.map { .damaged($0) } ?? .damaged(damage)) }
        }
        return UnitResult(pid: unit.pid, tid: unit.tid, executable: executable ?? unit.executable, outcome: outcome,
                          instructions: 0, syscalls: 0, seconds: 0, decodedInstructions: 0, guestPages: 0, children: children)
    }
}

/// Where and how the replay left the recorded path.
public struct Divergence: Error, Sendable, CustomStringConvertible {
    public var tid: Int32
    public var instructionCount: UInt64
    public var address: UInt64
    public var function: String?
    public var reason: String
    public var expected: String
    public var actual: String
    public var recentInstructions: [UInt64]
    /// Text of those instructions (address, bytes, mnemonic), when known.
    public var recentDisassembly: [String] = []

    public var description: String {
        var lines = ["divergence in task \(tid) after \(instructionCount) instructions at 0x\(String(address, radix: 16))"
                     + (function.map { " (\($0))" } ?? "") + ": \(reason)"]
        if !expected.isEmpty { lines.append("  expected: \(expected)") }
        if !actual.isEmpty { lines.append("  actual:   \(actual)") }
        if !recentDisassembly.isEmpty {
            lines.append("  last instructions executed:")
            lines += recentDisassembly.map { "    " + $0 }
        } else if !recentInstructions.isEmpty {
            lines.append("  last instructions: " + recentInstructions.map { "0x\(String($0, radix: 16))" }.joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }
}

/// Guest state handed from a parent unit to a forked child.
final class ForkState<Tracker: ReplayDataFlow> {
    let memory: GuestMemory
    let cpu: CPUState
    let regions: RegionMap
    let brk: BrkState
    /// The child's tracker: a copy of the parent's shadow state at the fork (or the parent's
    /// own, for a vfork child that borrows its memory).
    let tracker: Tracker
    let registerShadow: Tracker.ThreadShadow
    init(memory: GuestMemory, cpu: CPUState, regions: RegionMap, brk: BrkState, tracker: Tracker, registerShadow: Tracker.ThreadShadow) {
        self.memory = memory; self.cpu = cpu; self.regions = regions; self.brk = brk
        self.tracker = tracker; self.registerShadow = registerShadow
    }
}

struct BrkState { var start: UInt64 = 0; var current: UInt64 = 0 }

final class ProcessReplay<Tracker: ReplayDataFlow> {
    let unit: ReplayUnit
    let trace: TraceReader
    let machine: Machine<Tracker>
    var regions: RegionMap
    var brk: BrkState
    let symbolizer: Symbolizer
    /// Saved registers of threads that are not running.
    var threads: [Int32: CPUState] = [:]
    /// Register shadows of threads that are not running (taint replay).
    var threadShadows: [Int32: Tracker.ThreadShadow] = [:]
    var running: Int32
    /// Syscall results not yet applied: (exit sequence, tid, event).
    var pendingResults: [(exitSequence: UInt64, tid: Int32, event: SyscallEvent)] = []
    var forkStates: [Int32: ForkState<Tracker>] = [:]
    /// Children that ran on this unit's own memory (vfork), replayed at their creation, and
    /// members of its shared-memory group that it forked, replayed with it.
    var sharedMemoryChildren: [UnitResult] = []
    /// The shared-memory group this image replays in (SharedMemoryGroups.swift), if any.
    var group: SharedMemoryGroupReplay<Tracker>?
    /// CLONE_CHILD_CLEARTID / set_tid_address: the word the kernel zeroes (and wakes) when
    /// the thread exits; the trace has no event for that write, so replay makes it.
    /// The recorder keeps other threads of the process out of user mode until an exiting
    /// thread is gone, so the clear is visible to every later stop: replay makes it at the
    /// exit itself.
    var clearChildTid: [Int32: UInt64] = [:]
    var syscalls = 0
    var finishedThreads = Set<Int32>()
    /// Where this process's alerts happened (taint replay).
    let alertContexts = AlertContexts()
    /// Events that mapped program code: the exec, and mmaps of ELF files or with PROT_EXEC.
    var programImageEvents = Set<UInt64>()
    /// Files mapped or read as program code so far (a library's data segment is mapped
    /// apart; ld.so reads its ELF and program headers before mapping it).
    var programImagePaths = Set<String>()

    /// The dynamic loader's own inputs besides ELF files: its cache of library paths.
    static func isLoaderInput(_ path: String) -> Bool { path == "/etc/ld.so.cache" }


    static var defaultStepBudget: UInt64 { 50_000_000_000 }

    /// Set on a second, diagnostic run after a divergence: from this instruction count on,
    /// the interpreter steps one instruction at a time and remembers where it was.
    /// Replay is deterministic, so the second run retraces the first exactly.
    var historyFrom: UInt64?
    var history: [UInt64] = []
    static var historyLength: Int { 16 }

    private func runRecordingHistory(from start: UInt64) -> StopReason {
        if machine.instructionCount < start {
            let stop = Tracker.run(machine, maxInstructions: start - machine.instructionCount)
            if case .instructionLimit = stop {} else { return stop }
        }
        while true {
            let rip = machine.state.rip
            let stop = Tracker.run(machine, maxInstructions: 1)
            if case .instructionLimit = stop {
                history.append(rip)
                if history.count > Self.historyLength { history.removeFirst() }
                continue
            }
            if case .syscall = stop { history.append(rip) } else if case .timestamp = stop { history.append(rip) }
            if history.count > Self.historyLength { history.removeFirst() }
            return stop
        }
    }

    init(unit: ReplayUnit, trace: TraceReader, tracker: Tracker, inherited: ForkState<Tracker>?) throws {
        self.unit = unit
        self.trace = trace
        self.running = unit.tid
        let cpuid = trace.header.cpuid.isEmpty ? CPUIDTable.baseline : CPUIDTable(recorded: trace.header.cpuid)
        if let inherited {
            machine = try Machine(memory: inherited.memory, cpuid: cpuid, tracker: inherited.tracker)
            machine.state = inherited.cpu
            inherited.tracker.restoreThread(inherited.registerShadow)
            regions = inherited.regions
            brk = inherited.brk
        } else {
            machine = try Machine(memory: GuestMemory(), cpuid: cpuid, tracker: tracker)
            regions = RegionMap()
            brk = BrkState()
        }
        if let xcr0 = trace.header.xcr0 { machine.xcr0 = xcr0 }
        symbolizer = Symbolizer(trace: trace)
        if case .exec(let snapshot) = unit.start {
            programImageEvents.insert(unit.startSequence)
            try load(snapshot)
            if let execve = unit.execveSequence { labelExecStrings(stackPointer: machine.state.rsp, sequence: execve) }
        }
        machine.tracker.setAlertContext(alertContexts) { [unowned self] in (self.running, self.machine.state.rip) }
    }

    // MARK: - Start state

    private func load(_ snapshot: ExecSnapshot) throws {
        for m in snapshot.mappings {
            let prot = MemoryProtection(rawValue: UInt8(m.protection & 7))
            try machine.memory.map(address: m.start, length: m.end - m.start, prot: prot)
            regions.insert(start: m.start, end: m.end, protection: prot, path: m.path, offset: m.offset)
            if !m.blobs.isEmpty {
                let bytes = try recordedBytes(m.blobs, tid: unit.tid, sequence: unit.startSequence,
                                              location: "the exec snapshot's mapping of \(m.path.isEmpty ? "anonymous memory" : m.path) at \(hexRange(m.start, m.end))")
                try machine.memory.writeBytes(bytes, at: m.start)
                // Program images are not taint sources: the loader computes every relocated
                // code and data pointer from them, so labelling them would put labels on
                // every pointer (flooding sinks with address-only flows and alerts). Their
                // derivations stay unverified (docs/ARCHITECTURE.md, "Taint").
                if m.path.hasPrefix("/") { programImagePaths.insert(m.path) }
            }
            if m.path == "[heap]" { brk = BrkState(start: m.start, current: m.end) }
            symbolizer.noteMapping(m)
        }
        var cpu = CPUState()
        cpu.load(snapshot.registers)
        cpu.loadFXSAVE(snapshot.fpRegisters)
        machine.state = cpu
    }

    // MARK: - The loop

    func run() -> UnitResult {
        let clock = ContinuousClock()
        let started = clock.now
        if SharedMemoryGroupReplay<Tracker>.hasMembers(unit) {
            // Processes sharing memory with this one replay with it, in one schedule.
            return SharedMemoryGroupReplay(leaders: [self]).run(started: started)
        }
        let outcome = replayCatching { for stop in unit.stops { try replayStop(stop) } }
        return finish(outcome: outcome, seconds: secondsSince(started))
    }

    func secondsSince(_ started: ContinuousClock.Instant) -> Double {
        let elapsed = started.duration(to: ContinuousClock().now)
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Runs `body`, turning what it throws into the unit's outcome.
    func replayCatching(_ body: () throws -> Void) -> ReplayOutcome {
        do {
            try body()
            return .completed
        } catch let divergence as Divergence {
            return .diverged(divergence)
        } catch let stop as NotReplayable {
            return .notReplayable(stop)
        } catch let damage as TraceDamage {
            return .damaged(damage)
        } catch {
            return .diverged(divergenceHere(tid: running, reason: "\(error)"))
        }
    }

    /// Reproduces one recorded user-mode stop of one of this image's threads.
    func replayStop(_ stop: ScheduledStop) throws {
        if let shared = unit.sharedMemory, stop.order > shared.after {
            throw NotReplayable(tid: stop.tid, instructionCount: machine.instructionCount, sequence: shared.after,
                                reason: shared.reason)
        }
        if case .exited = stop.stop { return }
        if finishedThreads.contains(stop.tid) { return }
        try applyPendingResults(before: stop.order)
        try switchTo(stop.tid)
        try applyPendingResult(of: stop.tid)
        machine.tracker.willRun(toSequence: stop.order)
        switch stop.stop {
        case .syscall(let event, let exitSequence): try replaySyscall(event, exitSequence: exitSequence, tid: stop.tid)
        case .timestamp(let t): try replayTimestamp(t, tid: stop.tid)
        case .signal(let g): try replaySignal(g, tid: stop.tid)
        case .preempted(let regs, let pages): try runUntil(regs, sharedPages: pages, tid: stop.tid)
        case .exited: break
        }
    }

    /// The unit's result once its stops are replayed (or replay stopped with `outcome`):
    /// its forked children replay now, from their state at the fork.
    func finish(outcome: ReplayOutcome, seconds: Double) -> UnitResult {
        var children = sharedMemoryChildren
        let replayedAlready = Set(sharedMemoryChildren.map(\.tid))
        if case .notReplayable(let stop) = outcome {
            // Children forked after the stop were never reached; the replay says why.
            for (tid, child) in unit.forkedChildren.sorted(by: { $0.key < $1.key }) where !replayedAlready.contains(tid) {
                guard forkStates[tid] == nil else { continue }
                children.append(UnitResult(pid: child.pid, tid: tid, executable: unit.executable,
                                           outcome: .notReplayable(NotReplayable(tid: tid, instructionCount: 0, sequence: stop.sequence,
                                                                                 reason: "forked after its parent's replay stopped: \(stop.reason)")),
                                           instructions: 0, syscalls: 0, seconds: 0, decodedInstructions: 0, guestPages: 0, children: []))
            }
        }
        var childrenReached = true
        switch outcome {
        case .diverged, .damaged: childrenReached = false
        case .completed, .notReplayable: break
        }
        if childrenReached {
            for (tid, child) in unit.forkedChildren.sorted(by: { $0.key < $1.key }) where !replayedAlready.contains(tid) {
                if let damage = child.damage {
                    children.append(.notRun(child, executable: unit.executable, outcome: .damaged(damage)))
                    continue
                }
                guard let state = forkStates[tid] else {
                    if case .notReplayable = outcome { continue }
                    children.append(UnitResult(pid: child.pid, tid: tid, executable: unit.executable,
                                               outcome: .diverged(divergenceHere(tid: tid, reason: "the fork that creates this child was not replayed")),
                                               instructions: 0, syscalls: 0, seconds: 0, decodedInstructions: 0, guestPages: 0, children: []))
                    continue
                }
                do {
                    let replay = try ProcessReplay(unit: child, trace: trace, tracker: state.tracker, inherited: state)
                    children.append(replay.run())
                } catch let damage as TraceDamage {
                    children.append(.notRun(child, executable: unit.executable, outcome: .damaged(damage)))
                } catch {
                    children.append(UnitResult(pid: child.pid, tid: tid, executable: unit.executable,
                                               outcome: .diverged(divergenceHere(tid: tid, reason: "\(error)")),
                                               instructions: 0, syscalls: 0, seconds: 0, decodedInstructions: 0, guestPages: 0, children: []))
                }
            }
        }
        forkStates.removeAll()
        var failure: String? = nil
        if case .diverged(let d) = outcome { failure = d.description.split(separator: "\n").first.map(String.init) }
        if case .notReplayable(let stop) = outcome { failure = stop.description }
        if case .damaged(let d) = outcome { failure = "the trace is damaged: \(d)" }
        let taint = machine.tracker.summary(of: unit, traceRootChain: trace.manifest?.rootChain ?? "",
                                            completed: failure == nil, failure: failure,
                                            instructions: machine.instructionCount, seconds: seconds,
                                            alertContexts: alertContexts, programImages: programImageEvents, describe: { [self] address in
                                                (symbolizer.symbolize(address), describeInstruction(at: address)) })
        return UnitResult(pid: unit.pid, tid: unit.tid, executable: unit.executable, outcome: outcome,
                          instructions: machine.instructionCount, syscalls: syscalls, seconds: seconds,
                          decodedInstructions: machine.decodedInstructionCount, guestPages: machine.memory.mappedPageCount,
                          children: children, taint: taint, hostComputed: machine.hostComputed)
    }

    private func switchTo(_ tid: Int32) throws {
        guard tid != running else { return }
        guard let next = threads.removeValue(forKey: tid) else {
            throw divergenceHere(tid: tid, reason: "task \(tid) runs in the recording but was never created in replay")
        }
        threads[running] = machine.state
        threadShadows[running] = machine.tracker.saveThread()
        machine.state = next
        if let shadow = threadShadows.removeValue(forKey: tid) { machine.tracker.restoreThread(shadow) }
        running = tid
    }

    /// Runs the current thread until it stops; reports anything but `expected` as divergence.
    private func runToStop(tid: Int32) throws -> StopReason {
        var stop = historyFrom.map { runRecordingHistory(from: $0) } ?? Tracker.run(machine, maxInstructions: Self.defaultStepBudget)
        // The kernel grows the main stack downwards on a fault just below it; so does replay.
        while case .fault(let signal, let address, _) = stop, signal == GuestSignal.sigsegv,
              (try? regions.growStack(to: address, memory: machine.memory)) == true {
            stop = historyFrom.map { runRecordingHistory(from: $0) } ?? Tracker.run(machine, maxInstructions: Self.defaultStepBudget)
        }
        switch stop {
        case .unsupported(let u):
            if let instruction = NondeterministicInstruction(bytes: u.bytes) {
                // Code the recorder did not rewrite (made executable after mapping, or
                // generated): the CPU gave it a value nothing recorded.
                throw divergenceHere(tid: tid, reason: "\(instruction.text) at 0x\(String(u.address, radix: 16)) is an unrecorded nondeterministic input (the recorder rewrites rdrand, rdseed and rdpid where code becomes executable: exec, mmap, mprotect; this one was written into memory already executable); replay cannot know the value the CPU returned", at: u.address)
            }
            throw divergenceHere(tid: tid, reason: "unsupported instruction \(u)", at: u.address)
        case .instructionLimit:
            throw divergenceHere(tid: tid, reason: "ran \(Self.defaultStepBudget) instructions without reaching the next recorded event")
        default:
            return stop
        }
    }

    // MARK: - Syscalls

    private func replaySyscall(_ event: SyscallEvent, exitSequence: UInt64, tid: Int32) throws {
        let stop = try runToStop(tid: tid)
        let spec = SyscallTable.spec(event.number)
        guard case .syscall = stop else {
            throw divergenceHere(tid: tid, reason: "expected syscall \(spec.name), the program stopped with \(stop)",
                                 expected: describe(event), actual: "\(stop)")
        }
        var cpu = machine.state
        let number = Int(cpu.rax)
        let arguments = [cpu.rdi, cpu.rsi, cpu.rdx, cpu[.r10], cpu[.r8], cpu[.r9]]
        let checked = spec.modeled ? spec.arguments.count : 6
        if number != event.number || Array(arguments.prefix(checked)) != Array(event.arguments.prefix(checked)) {
            throw divergenceHere(tid: tid, reason: "the program made a different syscall",
                                 expected: describe(event), actual: describe(number: number, arguments: arguments))
        }
        for input in event.inputs {
            guard let bytes = try? machine.memory.readBytes(at: input.address, count: input.length) else {
                throw divergenceHere(tid: tid, reason: "\(spec.name) passes a buffer at 0x\(String(input.address, radix: 16)) that is not mapped in replay")
            }
            if fnv1a64(bytes) != input.hash {
                throw divergenceHere(tid: tid, reason: "\(spec.name) passes different bytes than the recording",
                                     expected: quotedPrefix(input.prefix), actual: quotedPrefix(Array(bytes.prefix(BufferDigest.prefixLength))))
            }
        }
        syscalls += 1
        noteSinks(event, sequence: exitSequence)
        if event.number == SyscallTable.Number.exit, let address = clearChildTid[tid], address != 0 {
            try? machine.memory.writeBytes([0, 0, 0, 0], at: address)
        }
        if event.flags.contains(.unfinished) || event.number == SyscallTable.Number.exit
            || event.number == SyscallTable.Number.exitGroup {
            finishedThreads.insert(tid)
            if event.number == SyscallTable.Number.exitGroup { finishedThreads.formUnion(threads.keys) }
            return
        }
        if isExecve(event) && event.result == 0 {
            finishedThreads.insert(tid)
            finishedThreads.formUnion(threads.keys)
            return
        }
        // Effects that change the address space or registers happen now, in program order;
        // the kernel's data writes and the result become visible at the recorded exit.
        try mirrorAddressSpace(event, cpu: &cpu, tid: tid, sequence: exitSequence)
        machine.state = cpu
        pendingResults.append((exitSequence, tid, event))
    }

    /// Whether a syscall result of this image waits to be applied before stop `order`.
    func hasPendingResults(before order: UInt64) -> Bool { pendingResults.contains { $0.exitSequence < order } }

    /// Applies every result whose recorded exit came before stop `order`. A result that
    /// cannot be applied (the kernel wrote where replay has no memory) is a divergence.
    func applyPendingResults(before order: UInt64) throws {
        let due = pendingResults.filter { $0.exitSequence < order }
        guard !due.isEmpty else { return }
        pendingResults.removeAll { $0.exitSequence < order }
        for item in due {
            try apply(item.event, tid: item.tid, sequence: item.exitSequence)
        }
    }

    private func applyPendingResult(of tid: Int32) throws {
        guard let index = pendingResults.firstIndex(where: { $0.tid == tid }) else { return }
        let item = pendingResults.remove(at: index)
        try apply(item.event, tid: tid, sequence: item.exitSequence)
    }

    /// The kernel's answer: memory writes, then the result register (or whole registers).
    private func apply(_ event: SyscallEvent, tid: Int32, sequence: UInt64) throws {
        try group?.checkKernelWrites(event, by: self, tid: tid, exitSequence: sequence)
        try group?.applyRemoteWrite(event, by: self, tid: tid, exitSequence: sequence)
        try applyOwnMemoryWrite(event, tid: tid)
        for w in event.writes {
            do { try machine.memory.writeBytes(w.bytes, at: w.address) } catch {
                throw divergenceHere(tid: tid, reason: "the kernel wrote \(w.bytes.count) bytes at 0x\(String(w.address, radix: 16)), which is not mapped in replay")
            }
        }
        labelResults(event, sequence: sequence)
        // The result register, and rcx/r11 that the syscall instruction overwrote, carry no
        // labels; another thread's registers are updated when it next runs.
        if tid == running {
            if event.registersAfter != nil {
                restoreRegisterShadows(fromFrameAt: machine.state.rsp)
            } else {
                for gpr in [0, 1, 11] { machine.tracker.clearRegisters(offset: X86.RegisterFile.gpr(gpr), size: 8) }
            }
        }
        var cpu = tid == running ? machine.state : (threads[tid] ?? machine.state)
        if let after = event.registersAfter {
            // rt_sigreturn: registers and the FPU state come back from the signal frame.
            // At rt_sigreturn rsp points at the frame's ucontext: uc_mcontext sits at +40
            // and its fpstate pointer at +184 within it (asm/sigcontext.h, 64-bit layout).
            let fpstate = (try? machine.memory.readBytes(at: cpu.rsp &+ 40 &+ 184, count: 8)).map { $0.loadUInt64(at: 0) } ?? 0
            cpu.load(after)
            if fpstate != 0, let fx = try? machine.memory.readBytes(at: fpstate, count: 512) { cpu.loadFXSAVE(fx) }
            // The AVX component (upper YMM halves) follows in the kernel's XSAVE-format frame
            // when its software bytes carry FP_XSTATE_MAGIC1 (asm/sigcontext.h): at 576,
            // valid when XSTATE_BV bit 2 is set, in its initial state (zeros) otherwise.
            if fpstate != 0, let x = try? machine.memory.readBytes(at: fpstate, count: 576 + 256),
               x.loadUInt32(at: 464) == 0x4650_5853 {
                let inUse = x.loadUInt64(at: 512) & 4 != 0
                for i in 0..<16 {
                    cpu[ymmHigh: i] = inUse ? XMMRegister(low: x.loadUInt64(at: 576 + i * 16), high: x.loadUInt64(at: 584 + i * 16))
                                            : XMMRegister()
                }
            }
        } else if [-512, -513, -514, -516].contains(event.result) {
            // ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK never reach
            // the program: a signal interrupted the call, and with no handler to run (an
            // ignored SIGCHLD, a stop and continue) the kernel restarts it, back at the
            // syscall instruction with rax the number again, or restart_syscall (219) for
            // ERESTART_RESTARTBLOCK (arch/x86/kernel/signal.c). The restarted call is the
            // next recorded event. A handled signal loads its recorded frame instead.
            cpu.rip &-= 2
            cpu.rax = event.result == -516 ? 219 : UInt64(event.number)
        } else {
            cpu.rax = UInt64(bitPattern: event.result)
        }
        if tid == running { machine.state = cpu } else { threads[tid] = cpu }
    }

    private func mirrorAddressSpace(_ event: SyscallEvent, cpu: inout CPUState, tid: Int32, sequence: UInt64) throws {
        let r = event.result
        let a = event.arguments
        let memory = machine.memory
        func pageUp(_ v: UInt64) -> UInt64 { (v &+ 4095) & ~4095 }
        guard r >= 0 || r < -4095 else { return }
        switch event.number {
        case SyscallTable.Number.mmap:
            let address = UInt64(bitPattern: r), length = pageUp(a[1])
            let prot = MemoryProtection(rawValue: UInt8(a[2] & 7))
            try? memory.unmap(address: address, length: length)
            try memory.map(address: address, length: length, prot: prot)
            machine.tracker.clearMemory(address: address, length: Int(length))
            regions.remove(start: address, end: address + length)
            regions.insert(start: address, end: address + length, protection: prot,
                           path: event.mapped?.path ?? "", offset: event.mapped?.offset ?? 0)
            if let mapped = event.mapped, !mapped.blobs.isEmpty {
                let bytes = try recordedBytes(mapped.blobs, tid: tid, sequence: sequence,
                                              location: "the mmap of \(mapped.path) at \(hexRange(mapped.start, mapped.end))")
                try memory.writeBytes(bytes, at: mapped.start)
                if prot.contains(.execute) || (mapped.offset == 0 && bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46]))
                    || programImagePaths.contains(mapped.path) || Self.isLoaderInput(mapped.path) {
                    programImageEvents.insert(sequence)
                    programImagePaths.insert(mapped.path)
                }
                symbolizer.noteMapping(mapped)
                // Mapped data-file pages are a content source; event offset 0 is file offset
                // `mapped.offset`. Program images are not (see `load`).
                if !programImageEvents.contains(sequence) {
                    machine.tracker.labelSource(event: sequence, address: mapped.start, length: bytes.count,
                                                eventOffset: 0, metadata: false)
                }
            }
            machine.invalidate(range: address..<(address + length))
        case SyscallTable.Number.munmap:
            try? memory.unmap(address: a[0], length: pageUp(a[1]))
            machine.tracker.clearMemory(address: a[0], length: Int(pageUp(a[1])))
            regions.remove(start: a[0], end: a[0] + pageUp(a[1]))
            machine.invalidate(range: a[0]..<(a[0] + pageUp(a[1])))
        case SyscallTable.Number.mprotect:
            let prot = MemoryProtection(rawValue: UInt8(a[2] & 7))
            try? memory.protect(address: a[0], length: pageUp(a[1]), prot: prot)
            regions.protect(start: a[0], end: a[0] + pageUp(a[1]), protection: prot)
            machine.invalidate(range: a[0]..<(a[0] + pageUp(a[1])))
        case SyscallTable.Number.brk:
            let new = UInt64(bitPattern: r)
            if brk.start == 0 { brk = BrkState(start: new, current: new) }
            if pageUp(new) > pageUp(brk.current) {
                try memory.map(address: pageUp(brk.current), length: pageUp(new) - pageUp(brk.current), prot: [.read, .write])
                machine.tracker.clearMemory(address: pageUp(brk.current), length: Int(pageUp(new) - pageUp(brk.current)))
                regions.insert(start: pageUp(brk.current), end: pageUp(new), protection: [.read, .write], path: "[heap]", offset: 0)
            } else if pageUp(new) < pageUp(brk.current) {
                try? memory.unmap(address: pageUp(new), length: pageUp(brk.current) - pageUp(new))
                regions.remove(start: pageUp(new), end: pageUp(brk.current))
            }
            brk.current = new
        case SyscallTable.Number.mremap:
            let old = a[0], oldLength = pageUp(a[1]), newLength = pageUp(a[2]), address = UInt64(bitPattern: r)
            let keep = min(oldLength, newLength)
            let bytes = try memory.readBytes(at: old, count: Int(keep))
            let prot = memory.protection(at: old) ?? [.read, .write]
            try? memory.unmap(address: old, length: oldLength)
            regions.remove(start: old, end: old + oldLength)
            try? memory.unmap(address: address, length: newLength)
            try memory.map(address: address, length: newLength, prot: prot)
            try memory.writeBytes(bytes, at: address)
            machine.tracker.moveMemory(from: old, to: address, length: Int(keep))
            if newLength > keep { machine.tracker.clearMemory(address: address + keep, length: Int(newLength - keep)) }
            regions.insert(start: address, end: address + newLength, protection: prot, path: "", offset: 0)
            machine.invalidate(range: old..<(old + oldLength))
        case SyscallTable.number(named: "madvise"):
            // MADV_DONTNEED on private anonymous memory reads back as zeros afterwards.
            if a[2] == 4 && r == 0 {
                let length = pageUp(a[1])
                var offset: UInt64 = 0
                let zeros = [UInt8](repeating: 0, count: 4096)
                while offset < length {
                    if memory.protection(at: a[0] + offset) != nil {
                        try? memory.writeBytes(zeros, at: a[0] + offset)
                        machine.tracker.clearMemory(address: a[0] + offset, length: 4096)
                    }
                    offset += 4096
                }
            }
        case _ where SyscallTable.graphRole(event.number) == .sharedMemoryAttach:
            // The recorder stores the segment's bytes at the attach as a kernel write over
            // the whole attached range (applied at the exit).
            guard let segment = event.writes.first, segment.address == UInt64(bitPattern: r) else { break }
            let address = segment.address, length = pageUp(UInt64(segment.bytes.count))
            let prot: MemoryProtection = a[2] & 0o10000 != 0 ? [.read] : [.read, .write]  // SHM_RDONLY
            try? memory.unmap(address: address, length: length)
            try memory.map(address: address, length: length, prot: prot)
            regions.remove(start: address, end: address + length)
            regions.insert(start: address, end: address + length, protection: prot, path: "SysV segment \(a[0])", offset: 0)
            machine.invalidate(range: address..<(address + length))
        case _ where SyscallTable.graphRole(event.number) == .sharedMemoryDetach:
            if let region = regions.region(containing: a[0]), region.start == a[0], region.path.hasPrefix("SysV segment ") {
                try? memory.unmap(address: region.start, length: region.end - region.start)
                machine.tracker.clearMemory(address: region.start, length: Int(region.end - region.start))
                regions.remove(start: region.start, end: region.end)
                machine.invalidate(range: region.start..<region.end)
            }
        case SyscallTable.Number.archPrctl:
            if a[0] == 0x1002 { cpu.fsBase = a[1] }  // ARCH_SET_FS
            if a[0] == 0x1001 { cpu.gsBase = a[1] }  // ARCH_SET_GS
        case SyscallTable.Number.clone, SyscallTable.Number.clone3, SyscallTable.Number.fork, SyscallTable.Number.vfork:
            try replayClone(event, cpu: cpu, tid: tid)
        case SyscallTable.number(named: "set_tid_address"):
            clearChildTid[tid] = a[0]
        default:
            break
        }
    }

    /// A new thread shares this machine; a new process gets a copy of it.
    private func replayClone(_ event: SyscallEvent, cpu: CPUState, tid: Int32) throws {
        guard event.result > 0 else { return }
        let child = Int32(truncatingIfNeeded: event.result)
        var flags: UInt64 = 0, stack: UInt64 = 0, tls: UInt64 = 0, childTid: UInt64 = 0
        switch event.number {
        case SyscallTable.Number.clone:
            flags = event.arguments[0]; stack = event.arguments[1]; tls = event.arguments[4]; childTid = event.arguments[3]
        case SyscallTable.Number.clone3:
            let args = try machine.memory.readBytes(at: event.arguments[0], count: 64)
            flags = args.loadUInt64(at: 0)
            childTid = args.loadUInt64(at: 16)
            let base = args.loadUInt64(at: 40), size = args.loadUInt64(at: 48)
            stack = base == 0 ? 0 : base &+ size
            tls = args.loadUInt64(at: 56)
        case SyscallTable.Number.vfork:
            flags = 0x4000 | 0x100  // CLONE_VFORK | CLONE_VM
        default:
            break
        }
        var childCPU = cpu
        childCPU.rax = 0
        if stack != 0 { childCPU.rsp = stack }
        if flags & 0x80000 != 0 { childCPU.fsBase = tls }  // CLONE_SETTLS
        if flags & 0x0020_0000 != 0 { clearChildTid[child] = childTid }  // CLONE_CHILD_CLEARTID
        if flags & 0x10000 != 0 {  // CLONE_THREAD
            threads[child] = childCPU
            threadShadows[child] = machine.tracker.saveThread()
        } else if let group, let childUnit = unit.forkedChildren[child], childUnit.sharedWithParent != nil {
            // A member of this image's shared-memory group: it replays from now on, with it.
            let copy = try machine.memory.copy(regions: regions)
            let state = ForkState(memory: copy, cpu: childCPU, regions: regions, brk: brk,
                                  tracker: machine.tracker.forked(), registerShadow: machine.tracker.saveThread())
            let member = try ProcessReplay(unit: childUnit, trace: trace, tracker: state.tracker, inherited: state)
            member.group = group
            group.add(member, forkedBy: self)
        } else if flags & 0x100 != 0, let childUnit = unit.forkedChildren[child] {
            // CLONE_VM without CLONE_THREAD (vfork, posix_spawn): the child borrows this
            // address space and the parent waits until it execs or exits (vfork(2)). Replay
            // it now on the same memory, so what it writes there is the parent's as well.
            let tracker = machine.tracker
            let parentShadow = tracker.saveThread()
            let parentLog = tracker.beginLog()
            let shared = ForkState(memory: machine.memory, cpu: childCPU, regions: regions, brk: brk,
                                   tracker: tracker, registerShadow: parentShadow)
            let replay = try ProcessReplay(unit: childUnit, trace: trace, tracker: tracker, inherited: shared)
            sharedMemoryChildren.append(replay.run())
            _ = tracker.endLog(restoring: parentLog)
            tracker.restoreThread(parentShadow)
            tracker.setAlertContext(alertContexts) { [unowned self] in (self.running, self.machine.state.rip) }
        } else {
            // A separate process: it starts from a copy of this one.
            let copy = try machine.memory.copy(regions: regions)
            let tracker = machine.tracker.forked()
            forkStates[child] = ForkState(memory: copy, cpu: childCPU, regions: regions, brk: brk,
                                          tracker: tracker, registerShadow: machine.tracker.saveThread())
        }
    }

    // MARK: - Timestamps, signals, preemption

    private func replayTimestamp(_ t: TimestampEvent, tid: Int32) throws {
        if let original = t.instruction { return try replayRewrittenInstruction(t, original: original, tid: tid) }
        let stop = try runToStop(tid: tid)
        guard case .timestamp(let isRDTSCP) = stop, isRDTSCP == (t.aux != nil) else {
            throw divergenceHere(tid: tid, reason: "expected rdtsc\(t.aux == nil ? "" : "p") at 0x\(String(t.address, radix: 16)), the program stopped with \(stop)")
        }
        var cpu = machine.state
        cpu.rax = t.value & 0xffff_ffff
        cpu.rdx = t.value >> 32
        if let aux = t.aux { cpu.rcx = UInt64(aux) }
        machine.state = cpu
    }

    /// An rdrand/rdseed/rdpid the recorder rewrote into ud2 (the recorded code holds the
    /// ud2): the program stops there, and gets the recorded result, as it did from the
    /// supervisor.
    private func replayRewrittenInstruction(_ t: TimestampEvent, original: [UInt8], tid: Int32) throws {
        guard let instruction = NondeterministicInstruction(bytes: original) else {
            throw divergenceHere(tid: tid, reason: "the trace records a rewritten instruction at 0x\(String(t.address, radix: 16)) that is no rdrand, rdseed or rdpid")
        }
        let stop = try runToStop(tid: tid)
        guard case .fault(let signal, _, let rip) = stop, signal == GuestSignal.sigill, rip == t.address else {
            throw divergenceHere(tid: tid, reason: "expected \(instruction.text) at 0x\(String(t.address, radix: 16)) (rewritten to trap), the program stopped with \(stop)")
        }
        var cpu = machine.state
        let register = GPR(rawValue: instruction.register) ?? .rax  // 0-15 by construction
        cpu[register] = instruction.registerValue(old: cpu[register], result: t.value)
        cpu.rflags = instruction.flags(old: cpu.rflags, carry: t.aux != 0)
        cpu.rip = t.address + UInt64(instruction.length)
        machine.state = cpu
        // The value is an input of this process, not derived from any labelled byte.
        machine.tracker.clearRegisters(offset: X86.RegisterFile.gpr(instruction.register), size: 8)
    }

    private func replaySignal(_ g: SignalEvent, tid: Int32) throws {
        if g.kind == .synchronous {
            let stop = try runToStop(tid: tid)
            guard case .fault(let signal, _, _) = stop, signal == g.signal else {
                throw divergenceHere(tid: tid, reason: "expected signal \(g.signal) from the program's own instruction, it stopped with \(stop)")
            }
        }
        guard g.outcome == .handled, let handler = g.handlerRegisters else {
            if g.outcome == .defaultAction && g.kind == .synchronous { finishedThreads.insert(tid) }
            return
        }
        if let frame = g.frame {
            try machine.memory.writeBytes(frame.bytes, at: frame.address)
            machine.tracker.clearMemory(address: frame.address, length: frame.bytes.count)
        }
        var cpu = machine.state
        cpu.load(handler)
        machine.state = cpu
        // The handler starts with rsp at the frame's return address; the ucontext follows.
        if g.frame != nil { saveRegisterShadows(toFrameAt: handler[.rsp] &+ 8) }
    }

    /// The watchdog stopped this thread at `regs` (and, in a shared-memory group, with its
    /// shared pages as `sharedPages` says): step until the state matches.
    private func runUntil(_ regs: Trace.RegisterFile, sharedPages: SharedPagesFingerprint?, tid: Int32) throws {
        var steps: UInt64 = 0
        while steps < Self.defaultStepBudget {
            let cpu = machine.state
            if cpu.rip == regs[.rip] && cpu.matchesGeneralRegisters(regs)
                && (sharedPages.map { sharedPagesHash($0.ranges) == $0.hash } ?? true) { return }
            let stop = Tracker.run(machine, maxInstructions: 1)
            if case .instructionLimit = stop { steps += 1; continue }
            throw divergenceHere(tid: tid, reason: "the program stopped with \(stop) before reaching the recorded preemption point")
        }
        throw divergenceHere(tid: tid, reason: "never reached the recorded preemption point 0x\(String(regs[.rip], radix: 16))")
    }

    /// `SharedPagesFingerprint.hash` of guest memory over `ranges` (0 when a page is not
    /// mapped, which matches no recorded fingerprint in practice).
    func sharedPagesHash(_ ranges: [Range<UInt64>]) -> UInt64 {
        var pieces: [[UInt8]] = []
        for range in ranges {
            guard let bytes = try? machine.memory.readBytes(at: range.lowerBound, count: Int(range.upperBound - range.lowerBound)) else {
                return 0
            }
            pieces.append(bytes)
        }
        return SharedPagesFingerprint.hash(pieces)
    }

    // MARK: - Reporting

    /// The recorded bytes of `blobs`, or `TraceDamage` naming the event that needed them.
    func recordedBytes(_ blobs: [BlobID], tid: Int32, sequence: UInt64, location: @autoclosure () -> String) throws -> [UInt8] {
        do {
            return try trace.contents(of: blobs)
        } catch let error as TraceError {
            throw TraceDamage(error: error, tid: tid, sequence: sequence, location: location())
        }
    }

    func divergenceHere(tid: Int32, reason: String, expected: String = "", actual: String = "", at address: UInt64? = nil) -> Divergence {
        let rip = address ?? machine.state.rip
        return Divergence(tid: tid, instructionCount: machine.instructionCount, address: rip,
                          function: symbolizer.symbolize(rip), reason: reason, expected: expected, actual: actual,
                          recentInstructions: [])
    }

    /// "0xADDR  bytes  mnemonic operands  (function)" for reports.
    func describeInstruction(at address: UInt64) -> String {
        let bytes = (try? machine.memory.readBytes(at: address, count: 15)) ?? []
        let text = InstructionText.describe(bytes, at: address)
        return "0x\(String(address, radix: 16))  \(text)" + (symbolizer.symbolize(address).map { "  (\($0))" } ?? "")
    }

    private func describe(_ event: SyscallEvent) -> String {
        describe(number: event.number, arguments: event.arguments)
    }

    private func describe(number: Int, arguments: [UInt64]) -> String {
        let spec = SyscallTable.spec(number)
        let count = spec.modeled ? spec.arguments.count : 6
        return "\(spec.name)(" + arguments.prefix(count).map { "0x\(String($0, radix: 16))" }.joined(separator: ", ") + ")"
    }
}

func quotedPrefix(_ bytes: [UInt8]) -> String {
    "\"" + bytes.map { (0x20..<0x7f).contains($0) ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined() + "\""
}

extension CPUIDTable {
    /// The recording machine's leaves. Leaves recorded with one subleaf ignore ECX, as the
    /// CPU does for them (Intel SDM vol. 2A, CPUID: "ECX is ignored" for most leaves).
    public init(recorded leaves: [CPUIDLeaf]) {
        var subleafCount: [UInt32: Int] = [:]
        for leaf in leaves { subleafCount[leaf.leaf, default: 0] += 1 }
        self.init(entries: [:], leavesIgnoringSubleaf: Set(subleafCount.filter { $0.value == 1 }.keys))
        for leaf in leaves {
            entries[Key(leaf: leaf.leaf, subleaf: leaf.subleaf)] = Result(eax: leaf.eax, ebx: leaf.ebx, ecx: leaf.ecx, edx: leaf.edx)
        }
    }
}

extension CPUState {
    /// Loads a ptrace register file (general registers, rip, rflags, FS/GS base).
    public mutating func load(_ r: Trace.RegisterFile) {
        self[.rax] = r[.rax]; self[.rbx] = r[.rbx]; self[.rcx] = r[.rcx]; self[.rdx] = r[.rdx]
        self[.rsi] = r[.rsi]; self[.rdi] = r[.rdi]; self[.rbp] = r[.rbp]; self[.rsp] = r[.rsp]
        self[.r8] = r[.r8]; self[.r9] = r[.r9]; self[.r10] = r[.r10]; self[.r11] = r[.r11]
        self[.r12] = r[.r12]; self[.r13] = r[.r13]; self[.r14] = r[.r14]; self[.r15] = r[.r15]
        rip = r[.rip]
        rflags = r[.eflags]
        fsBase = r[.fsBase]
        gsBase = r[.gsBase]
    }

    public func matchesGeneralRegisters(_ r: Trace.RegisterFile) -> Bool {
        self[.rax] == r[.rax] && self[.rbx] == r[.rbx] && self[.rcx] == r[.rcx] && self[.rdx] == r[.rdx]
            && self[.rsi] == r[.rsi] && self[.rdi] == r[.rdi] && self[.rbp] == r[.rbp] && self[.rsp] == r[.rsp]
            && self[.r8] == r[.r8] && self[.r9] == r[.r9] && self[.r10] == r[.r10] && self[.r11] == r[.r11]
            && self[.r12] == r[.r12] && self[.r13] == r[.r13] && self[.r14] == r[.r14] && self[.r15] == r[.r15]
    }

    /// Loads the 512-byte FXSAVE image (SDM Vol. 1, 10.5.1): x87, MXCSR, XMM0-15.
    public mutating func loadFXSAVE(_ image: [UInt8]) {
        guard image.count >= 416 else { return }
        func u16(_ o: Int) -> UInt16 { UInt16(image[o]) | UInt16(image[o + 1]) << 8 }
        x87.controlWord = u16(0)
        let status = u16(2)
        x87.top = UInt8((status >> 11) & 7)
        x87.statusWord = status & ~0x3800
        let abridged = image[4]
        x87.lastOpcode = u16(6)
        x87.lastInstructionPointer = image.loadUInt64(at: 8)
        x87.lastDataPointer = image.loadUInt64(at: 16)
        mxcsr = image.loadUInt32(at: 24)
        var tags: UInt16 = 0
        withUnsafeMutableBytes(of: &x87.registers) { regs in
            for i in 0..<8 {
                // FXSAVE stores ST(i); the state keeps physical registers R((top + i) mod 8).
                let physical = (Int(x87.top) + i) & 7
                for b in 0..<10 { regs[physical * 16 + b] = image[32 + i * 16 + b] }
            }
        }
        for physical in 0..<8 {
            let valid = abridged & (1 << physical) != 0
            tags |= UInt16(valid ? 0 : 3) << (physical * 2)
        }
        x87.tagWord = tags
        for i in 0..<16 {
            self[xmm: i] = XMMRegister(low: image.loadUInt64(at: 160 + i * 16), high: image.loadUInt64(at: 168 + i * 16))
        }
    }
}

/// "0xSTART-0xEND" for reports.
func hexRange(_ start: UInt64, _ end: UInt64) -> String { "0x\(String(start, radix: 16))-0x\(String(end, radix: 16))" }
