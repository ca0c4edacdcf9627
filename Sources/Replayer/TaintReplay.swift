// Taint replay: `ByteTaintTracker` driven by `ProcessReplay` (sources and sinks at syscalls,
// forks, threads, signal frames), and the session entry point; the interpreter loop runs
// specialized for it (`Machine.runSpecialized`, compiled in the Taint module).

import Taint
import Trace
import X86

extension ByteTaintTracker: ReplayDataFlow {
    public typealias ThreadShadow = RegisterLabels
    public typealias Log = TaintLog

    public static func run(_ machine: Machine<ByteTaintTracker>, maxInstructions: UInt64) -> StopReason {
        machine.runSpecialized(maxInstructions: maxInstructions)
    }

    public func saveThread() -> RegisterLabels { saveRegisters() }
    public func restoreThread(_ shadow: RegisterLabels) { restoreRegisters(shadow) }

    public func beginLog() -> TaintLog {
        let old = log
        log = TaintLog()
        return old
    }

    public func endLog(restoring old: TaintLog) -> TaintLog {
        let current = log
        log = old
        return current
    }

    public func setAlertContext(_ contexts: AlertContexts, _ context: @escaping () -> (tid: Int32, rip: UInt64)) {
        onAlert = { label, target in
            let key = AlertContexts.Key(label: label, target: target)
            if contexts.byKey[key] == nil { contexts.byKey[key] = context() }
        }
    }

    public func summary(of unit: ReplayUnit, traceRootChain: String, completed: Bool, failure: String?,
                        instructions: UInt64, seconds: Double, alertContexts contexts: AlertContexts, programImages: Set<UInt64>,
                        describe: (UInt64) -> (function: String?, text: String)) -> TaintSummary? {
        let alerts: [TaintAlert] = log.alerts.compactMap { pending in
            let sources = labels.resolve(pending.label).filter { !$0.addressOnly }.map(\.range)
            guard sources.contains(where: { !programImages.contains($0.event) }) else { return nil }
            let where_ = contexts.byKey[AlertContexts.Key(label: pending.label, target: pending.target)] ?? (unit.tid, 0)
            let text = describe(pending.address)
            return TaintAlert(tid: where_.tid, address: pending.address, target: pending.target, function: text.function,
                              instruction: text.text, sequence: pending.sequence, sources: sources)
        }
        var statistics = statistics()
        statistics.instructions = instructions
        statistics.seconds = seconds
        return TaintSummary(traceRootChain: traceRootChain, pid: unit.pid, tid: unit.tid,
                            startSequence: unit.startSequence, executable: unit.executable,
                            completed: completed, failure: failure, addressDependency: addressDependencyEnabled,
                            flows: flows(of: log), controlSources: log.controlSources, alerts: alerts,
                            pathSinks: log.pathSinks, execveSequence: unit.execveSequence, statistics: statistics)
    }
}

extension ReplaySession {
    /// Replay with byte-level taint: every unit gets a fresh `ByteTaintTracker` (its own
    /// label table, shared with the children it forks), and `UnitResult.taint` holds each
    /// unit's flow summary. Cost on input-heavy code: 4.5x plain replay's CPU time on
    /// gzip -c of 10 MB (37.6 M guest instructions per CPU-second; bound by the latency of
    /// shadow-label loads, ARCHITECTURE.md "Taint", Cost); memory grows by the shadow pages of labelled memory (4 bytes per guest byte
    /// of a labelled page), the label table and the sink log: for gzip -c of 10 MB, peak
    /// RSS 26 MB above plain replay, of which 2 MB are shadow pages (125 at the peak).
    /// - Parameter addressDependency: whether a load through an input-derived address
    ///   takes the address's labels (marked address-only).
    public func runTaint(options: ReplayOptions, addressDependency: Bool = true) -> ReplaySummary {
        replay(options: options) {
            let tracker = ByteTaintTracker()
            tracker.addressDependencyEnabled = addressDependency
            return tracker
        }
    }
}
