// What a taint replay observes at the edges of one process: sink bytes and their labels
// (as runs), input events that reached a branch, control transfers to input-derived
// pointers, and path arguments built from input. Labels stay labels until `flows(of:)`
// summarises them at the end, so the log stays small.

import Trace

/// The observations of one summary unit (a process image, or a child forked without exec).
/// A class so the replayer can swap logs (`ByteTaintTracker.log`) without copying.
public final class TaintLog {
    /// Output bytes `[outputStart, outputStart + length)` of sink event `event` carry
    /// `label` (`stride` 0: every byte) or `label + k` at byte k (`stride` 1: consecutive
    /// base labels, a copy). Clean bytes form no run.
    public struct SinkRun: Equatable, Sendable {
        public var event: UInt64
        public var outputStart: Int64
        public var length: Int64
        public var label: Label
        public var stride: UInt8
        /// Neighbouring runs were merged to bound the log (`ByteTaintTracker.maxRunsPerSink`).
        public var coarsened: Bool
    }

    /// A control transfer to a pointer with value-flow labels, before the replayer adds
    /// context (thread, instruction address, text).
    public struct PendingAlert: Equatable, Sendable {
        public var label: Label
        public var target: UInt64
        /// The address of the jmp, call or ret that loaded the pointer.
        public var address: UInt64
        /// `ByteTaintTracker.currentSequence` when it happened.
        public var sequence: UInt64
    }

    struct AlertKey: Hashable {
        var label: Label
        var target: UInt64
    }

    /// Alerts kept per log; further distinct ones are counted in `droppedAlerts`.
    public static let alertLimit = 1024

    /// Labelled sink bytes, in the order sinks were recorded, of the sink events not yet
    /// settled.
    public internal(set) var sinkRuns: [SinkRun] = []
    /// Flows of earlier sink events, summarised from their runs once the log held more than
    /// `ByteTaintTracker.maxPendingRuns` runs (bounded memory on long runs), in sink order.
    public internal(set) var settledFlows: [TaintFlow] = []
    /// Input events whose labels reached a branch, cmov or setcc, with the first sequence.
    public internal(set) var controlSources: [ControlSource] = []
    var seenControlEvents: Set<UInt64> = []
    /// Distinct (label, target) alerts in order; the replayer may drain this list.
    public var alerts: [PendingAlert] = []
    var alertKeys: Set<AlertKey> = []
    /// Distinct alerts past `alertLimit`, counted but not kept.
    public internal(set) var droppedAlerts = 0
    /// Path arguments whose bytes carried labels.
    public internal(set) var pathSinks: [PathSink] = []
    /// Bytes passed to `recordSink`, clean or not.
    public internal(set) var sinkBytes: UInt64 = 0

    /// An empty log.
    public init() {}
}
