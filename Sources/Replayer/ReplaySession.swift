// `magprov replay`: plans the units of a trace and replays them on a pool of threads.
// Units that start at an exec share nothing, so they run in parallel; each job is one
// unit plus the children it forked without exec, or the exec images whose processes share
// memory (`ReplayPlan.imageGroups`), replayed in one schedule.

import Dispatch
import Foundation
import Syscalls
import Trace
import X86

public struct ReplayOptions: Sendable {
    /// Replay only units of these process ids (nil: all).
    public var pids: Set<Int32>?
    public var jobs: Int
    public init(pids: Set<Int32>? = nil, jobs: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.pids = pids
        self.jobs = max(1, jobs)
    }
}

public struct ReplaySummary: Sendable {
    public var results: [UnitResult]
    public var plan: ReplayPlan
    public var seconds: Double

    /// Every unit and forked child, depth first.
    public var allResults: [UnitResult] {
        func flatten(_ r: UnitResult) -> [UnitResult] { [r] + r.children.flatMap(flatten) }
        return results.flatMap(flatten)
    }
    public var divergences: [(UnitResult, Divergence)] {
        allResults.compactMap { r in if case .diverged(let d) = r.outcome { return (r, d) } else { return nil } }
    }
    /// Units whose replay stopped where it could not be checked (shared-memory groups).
    public var notReplayable: [(UnitResult, NotReplayable)] {
        allResults.compactMap { r in if case .notReplayable(let n) = r.outcome { return (r, n) } else { return nil } }
    }
    /// Images that met damage in the trace (not run, or stopped where a blob was unreadable).
    public var damaged: [(UnitResult, TraceDamage)] {
        allResults.compactMap { r in if case .damaged(let d) = r.outcome { return (r, d) } else { return nil } }
    }
    public var instructions: UInt64 { allResults.reduce(0) { $0 + $1.instructions } }
    /// The recording CPU (vendor, family, model, stepping from the trace's CPUID).
    public var recordingCPU = ""
    /// Whether the replay runs on the recording CPU's model (`CPUIDTable.sameModel`).
    public var hostIsRecordingModel = true

    /// Model-specific instruction families that ran on this host's FPU while the trace
    /// comes from another CPU model: their results are this CPU's, approximately the
    /// recording CPU's (within the SDM's error bounds), and may differ in the last bits.
    public var approximateInstructions: HostComputedInstructions {
        hostIsRecordingModel ? [] : allResults.reduce([]) { $0.union($1.hostComputed) }
    }

    /// One line for reports when `approximateInstructions` is not empty.
    public var approximationNotice: String? {
        let families = approximateInstructions
        if families.isEmpty { return nil }
        return "approximate: the trace was recorded on \(recordingCPU), this replay runs on \(CPUIDTable.hostModel.modelDescription); "
            + "\(families.names.joined(separator: " and ")) were computed by this CPU and may differ from the recording CPU's in the last bits"
    }
}

public final class ReplaySession {
    public let trace: TraceReader
    public let plan: ReplayPlan
    /// Called from worker threads as units finish.
    public var progress: (UnitResult) -> Void = { _ in }

    /// Every stream error of the trace, with its task. Images whose events lie in a damaged
    /// stream are planned but not run; `run` reports them as `.damaged`.
    public let streamDamage: [TraceReader.StreamDamage]
    /// Damaged tasks that belong to no planned image (a process whose whole stream, exec
    /// snapshot included, is lost): pid and the damage. `run` reports each as a process
    /// image that was not checked.
    public let unplannedDamage: [(pid: Int32, damage: TraceDamage)]

    /// Reads every stream and plans the replay units from the intact events. A damaged
    /// stream does not stop the session: the images it touches are marked (`ReplayUnit.damage`)
    /// and the others replay as usual. Cost: `TraceReader.allEventsWithDamage()`.
    public init(trace: TraceReader) {
        self.trace = trace
        let (events, damage) = trace.allEventsWithDamage()
        streamDamage = damage
        var plan = ReplayPlan(events: events)
        var unplanned: [(pid: Int32, damage: TraceDamage)] = []
        if !damage.isEmpty {
            // A damaged task belongs to the process its task start names, or (lost entirely)
            // to the process that cloned it as a thread, or is a process of its own.
            var pidOf: [Int32: Int32] = [:]
            var threadParent: [Int32: Int32] = [:]
            for e in events {
                if case .taskStart(let t) = e.body { pidOf[t.tid] = t.pid }
            }
            for e in events {
                if case .syscall(let s) = e.body, s.number == SyscallTable.Number.clone, s.arguments[0] & 0x10000 != 0 /* CLONE_THREAD */, s.result > 0 {
                    threadParent[Int32(truncatingIfNeeded: s.result)] = pidOf[e.tid] ?? e.tid
                }
            }
            // A stream's intact part is a prefix: it reaches as far as its last event read.
            var lastIntact: [Int32: UInt64] = [:]
            for e in events { lastIntact[e.tid] = max(lastIntact[e.tid] ?? 0, e.sequence) }
            var damageByPid: [Int32: TraceDamage] = [:]
            for d in damage {
                let pid = pidOf[d.tid] ?? threadParent[d.tid] ?? d.tid
                if damageByPid[pid] == nil {
                    let stream = d.tid == pid ? "its event stream" : "the event stream of its thread \(d.tid)"
                    let intact = lastIntact[d.tid].map { "\(stream) after event \($0)" } ?? "\(stream), all of it"
                    damageByPid[pid] = TraceDamage(error: d.error, tid: d.tid, sequence: nil, location: intact)
                }
            }
            // An image is touched only if it runs past the intact part of the damaged stream:
            // a fork child's life before its exec, or an image that ended at an exec read
            // intact, replays as usual.
            func touches(_ unit: ReplayUnit, _ d: TraceDamage) -> Bool {
                (lastIntact[d.tid] ?? 0) < unit.endSequence
            }
            func mark(_ unit: inout ReplayUnit, found: inout Set<Int32>) {
                if let d = damageByPid[unit.pid] {
                    found.insert(unit.pid)
                    if touches(unit, d) { unit.damage = d }
                }
                for tid in Array(unit.forkedChildren.keys) { mark(&unit.forkedChildren[tid]!, found: &found) }
            }
            var found = Set<Int32>()
            for i in plan.units.indices { mark(&plan.units[i], found: &found) }
            unplanned = damageByPid.filter { !found.contains($0.key) }.sorted { $0.key < $1.key }.map { (pid: $0.key, damage: $0.value) }
        }
        self.plan = plan
        unplannedDamage = unplanned
    }

    /// Plain replay of the planned units (`options.pids` selects top-level units by pid) on
    /// `options.jobs` threads. Never throws: a divergence, a unit that could not be loaded,
    /// and damage met in the trace are outcomes in the summary (`divergences`, `damaged`).
    /// Cost: each unit runs once in the interpreter (tens of guest MIPS per core); a unit
    /// that diverges runs a second time to list its last instructions. Memory: one guest
    /// address space and decode cache per running job, plus the session's decoded events.
    ///
    /// Calls the generic engine with a concrete tracker inside this module, so the
    /// optimizer specializes it and the interpreter's prespecialized loop runs with no
    /// data-flow calls at all (a generic call from another module would not be).
    public func run(options: ReplayOptions) -> ReplaySummary {
        replay(options: options) { NoDataFlow() }
    }

    /// Replay with a data-flow tracker (taint). Callers in other modules get generic code
    /// unless they call with a concrete type the Replayer module specializes.
    public func run<Tracker: ReplayDataFlow>(options: ReplayOptions, tracker: @escaping @Sendable () -> Tracker) -> ReplaySummary {
        replay(options: options, tracker: tracker)
    }

    func replay<Tracker: ReplayDataFlow>(options: ReplayOptions, tracker: @escaping @Sendable () -> Tracker) -> ReplaySummary {
        // One job per unit, or per group of exec images that share memory (replayed in
        // one schedule, ReplayPlan.imageGroups).
        let jobs = plan.jobs { options.pids?.contains($0.pid) ?? true }
        let start = Date()
        let results = ResultBox(count: jobs.count)
        let next = ResultBox.Counter()
        let group = DispatchGroup()
        for _ in 0..<min(options.jobs, max(jobs.count, 1)) {
            group.enter()
            let thread = Thread { [self] in
                while let index = next.take(limit: jobs.count) {
                    let done = jobs[index].count == 1 ? [replayUnit(jobs[index][0], tracker: tracker)]
                        : replayImageGroup(jobs[index], tracker: tracker)
                    results.set(index, done)
                    for result in done { progress(result) }
                }
                group.leave()
            }
            // Deep guest call chains recurse nowhere in Swift, but fork trees do (children
            // run inside their parent's job): give workers room.
            thread.stackSize = 64 << 20
            thread.start()
        }
        group.wait()
        var all = results.all
        for (pid, damage) in unplannedDamage where options.pids?.contains(pid) ?? true {
            all.append(UnitResult(pid: pid, tid: damage.tid, executable: "unknown executable", outcome: .damaged(damage),
                                  instructions: 0, syscalls: 0, seconds: 0, decodedInstructions: 0, guestPages: 0, children: []))
        }
        var summary = ReplaySummary(results: all, plan: plan, seconds: Date().timeIntervalSince(start))
        let recorded = trace.header.cpuid.isEmpty ? CPUIDTable.baseline : CPUIDTable(recorded: trace.header.cpuid)
        summary.recordingCPU = recorded.modelDescription
        summary.hostIsRecordingModel = recorded.sameModel(as: .hostModel)
        return summary
    }
}

extension ReplaySession {
    /// One unit and its forked children: run, retraced after a divergence to list the last
    /// instructions, or reported as damaged without running when its events are damaged.
    func replayUnit<Tracker: ReplayDataFlow>(_ unit: ReplayUnit, tracker: @Sendable () -> Tracker) -> UnitResult {
        if let damage = unit.damage { return .notRun(unit, outcome: .damaged(damage)) }
        do {
            let replay = try ProcessReplay(unit: unit, trace: trace, tracker: tracker(), inherited: nil)
            var first = replay.run()
            if case .diverged(var divergence) = first.outcome, divergence.instructionCount > 0 {
                // Retrace deterministically to list the last instructions executed.
                let again = try ProcessReplay(unit: unit, trace: trace, tracker: tracker(), inherited: nil)
                again.historyFrom = divergence.instructionCount > UInt64(ProcessReplay<Tracker>.historyLength)
                    ? divergence.instructionCount - UInt64(ProcessReplay<Tracker>.historyLength) : 0
                _ = again.run()
                divergence.recentInstructions = again.history
                divergence.recentDisassembly = again.history.map { again.describeInstruction(at: $0) }
                first.outcome = .diverged(divergence)
            }
            return first
        } catch let damage as TraceDamage {
            return .notRun(unit, outcome: .damaged(damage))
        } catch {
            return .notRun(unit, outcome: .diverged(Divergence(tid: unit.tid, instructionCount: 0, address: 0, function: nil,
                                                                reason: "cannot load the exec snapshot: \(error)",
                                                                expected: "", actual: "", recentInstructions: [])))
        }
    }
    /// Exec images whose processes share memory (`ReplayPlan.imageGroups`), replayed in one
    /// schedule (`SharedMemoryGroupReplay`, each image in its own interpreter, their
    /// trackers sharing one label table so labels cross with the shared pages). Returns
    /// one result per unit, in `units` order. An image whose events are damaged is not run,
    /// and neither are its partners (they cannot replay without its stores); they are
    /// reported as not replayable, naming it. A divergence is reported without the
    /// retrace that lists the last instructions (the group would run again whole).
    func replayImageGroup<Tracker: ReplayDataFlow>(_ units: [ReplayUnit], tracker: @Sendable () -> Tracker) -> [UnitResult] {
        if let damaged = units.first(where: { $0.damage != nil }) {
            return units.map { unit in
                if let damage = unit.damage { return .notRun(unit, outcome: .damaged(damage)) }
                return .notRun(unit, outcome: .notReplayable(NotReplayable(
                    tid: unit.tid, instructionCount: 0, sequence: unit.startSequence,
                    reason: "shared-memory group not replayable: process \(damaged.pid) (\(damaged.executable)), whose memory it shares, has damaged events")))
            }
        }
        let started = ContinuousClock().now
        let labels = tracker()
        var replays: [ProcessReplay<Tracker>] = []
        for unit in units {
            do {
                replays.append(try ProcessReplay(unit: unit, trace: trace, tracker: labels.forked(), inherited: nil))
            } catch {
                let outcome: ReplayOutcome
                if let damage = error as? TraceDamage {
                    outcome = .damaged(damage)
                } else {
                    outcome = .diverged(Divergence(tid: unit.tid, instructionCount: 0, address: 0, function: nil,
                                                   reason: "cannot load the exec snapshot: \(error)",
                                                   expected: "", actual: "", recentInstructions: []))
                }
                return units.map { other in
                    if other.startSequence == unit.startSequence { return .notRun(other, outcome: outcome) }
                    return .notRun(other, outcome: .notReplayable(NotReplayable(
                        tid: other.tid, instructionCount: 0, sequence: other.startSequence,
                        reason: "shared-memory group not replayable: the exec image of process \(unit.pid), whose memory it shares, could not be loaded")))
                }
            }
        }
        return SharedMemoryGroupReplay(leaders: replays).runAll(started: started)
    }
}


/// Results written by worker threads, one slot per job (a unit, or an image group's units).
final class ResultBox: @unchecked Sendable {
    private var slots: [[UnitResult]?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: [UnitResult]) { lock.lock(); slots[i] = r; lock.unlock() }
    var all: [UnitResult] { lock.lock(); defer { lock.unlock() }; return slots.compactMap { $0 }.flatMap { $0 } }

    final class Counter: @unchecked Sendable {
        private var value = 0
        private let lock = NSLock()
        func take(limit: Int) -> Int? {
            lock.lock(); defer { lock.unlock() }
            guard value < limit else { return nil }
            value += 1
            return value - 1
        }
    }
}
