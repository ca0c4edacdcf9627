// `magprov replay`: plans the units of a trace and replays them on a pool of threads.
// Units that start at an exec share nothing, so they run in parallel; each job is one
// unit plus the children it forked without exec.

import Dispatch
import Foundation
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
    public var instructions: UInt64 { allResults.reduce(0) { $0 + $1.instructions } }
}

public final class ReplaySession {
    public let trace: TraceReader
    public let plan: ReplayPlan
    /// Called from worker threads as units finish.
    public var progress: (UnitResult) -> Void = { _ in }

    public init(trace: TraceReader) throws {
        self.trace = trace
        let (events, errors) = trace.allEvents()
        if let first = errors.first { throw first }
        plan = ReplayPlan(events: events)
    }

    /// Plain replay. Calls the generic engine with a concrete tracker inside this module,
    /// so the optimizer specializes it and the interpreter's prespecialized loop runs
    /// with no data-flow calls at all (a generic call from another module would not be).
    public func run(options: ReplayOptions) -> ReplaySummary {
        replay(options: options) { NoDataFlow() }
    }

    /// Replay with a data-flow tracker (taint). Callers in other modules get generic code
    /// unless they call with a concrete type the Replayer module specializes.
    public func run<Tracker: ReplayDataFlow>(options: ReplayOptions, tracker: @escaping @Sendable () -> Tracker) -> ReplaySummary {
        replay(options: options, tracker: tracker)
    }

    func replay<Tracker: ReplayDataFlow>(options: ReplayOptions, tracker: @escaping @Sendable () -> Tracker) -> ReplaySummary {
        let units = plan.units.filter { options.pids?.contains($0.pid) ?? true }
        let start = Date()
        let results = ResultBox(count: units.count)
        let next = ResultBox.Counter()
        let group = DispatchGroup()
        for _ in 0..<min(options.jobs, max(units.count, 1)) {
            group.enter()
            let thread = Thread { [self] in
                while let index = next.take(limit: units.count) {
                    let result: UnitResult
                    do {
                        let replay = try ProcessReplay(unit: units[index], trace: trace, tracker: tracker(), inherited: nil)
                        var first = replay.run()
                        if case .diverged(var divergence) = first.outcome, divergence.instructionCount > 0 {
                            // Retrace deterministically to list the last instructions executed.
                            let again = try ProcessReplay(unit: units[index], trace: trace, tracker: tracker(), inherited: nil)
                            again.historyFrom = divergence.instructionCount > UInt64(ProcessReplay<Tracker>.historyLength)
                                ? divergence.instructionCount - UInt64(ProcessReplay<Tracker>.historyLength) : 0
                            _ = again.run()
                            divergence.recentInstructions = again.history
                            divergence.recentDisassembly = again.history.map { again.describeInstruction(at: $0) }
                            first.outcome = .diverged(divergence)
                        }
                        result = first
                    } catch {
                        result = UnitResult(pid: units[index].pid, tid: units[index].tid, executable: units[index].executable,
                                            outcome: .diverged(Divergence(tid: units[index].tid, instructionCount: 0, address: 0,
                                                                          function: nil, reason: "cannot load the exec snapshot: \(error)",
                                                                          expected: "", actual: "", recentInstructions: [])),
                                            instructions: 0, syscalls: 0, seconds: 0, decodedInstructions: 0, guestPages: 0, children: [])
                    }
                    results.set(index, result)
                    progress(result)
                }
                group.leave()
            }
            // Deep guest call chains recurse nowhere in Swift, but fork trees do (children
            // run inside their parent's job): give workers room.
            thread.stackSize = 64 << 20
            thread.start()
        }
        group.wait()
        return ReplaySummary(results: results.all, plan: plan, seconds: Date().timeIntervalSince(start))
    }
}

/// Results written by worker threads, one slot per unit.
final class ResultBox: @unchecked Sendable {
    private var slots: [UnitResult?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: UnitResult) { lock.lock(); slots[i] = r; lock.unlock() }
    var all: [UnitResult] { lock.lock(); defer { lock.unlock() }; return slots.compactMap { $0 } }

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
