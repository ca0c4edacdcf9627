// What replay tells a data-flow tracker beyond single instructions: the kernel's side of
// every syscall (taint sources and sinks, from `SyscallSpec.flow`), address-space changes,
// signal frames, thread switches and forks. Plain replay uses `NoDataFlow`, whose
// conformance is empty, so it costs nothing; taint replay uses `ByteTaintTracker`
// (TaintReplay.swift).

import Trace
import X86

/// A data-flow tracker that replay can drive across syscalls, threads and forks.
///
/// Coordinates are event coordinates (`TaintSummary`): a source or sink byte is named by the
/// global sequence number of its event and its offset within the bytes the event moved.
public protocol ReplayDataFlow: DataFlowTracker {
    /// Runs `machine` as `Machine.run(maxInstructions:)` does, through the interpreter loop
    /// specialized for this tracker (`Machine.runSpecialized`): replay calls this, never the
    /// generic loop, which would pay a dynamic call per hook.
    static func run(_ machine: Machine<Self>, maxInstructions: UInt64) -> StopReason
    /// The shadow of one thread's registers while another thread runs.
    associatedtype ThreadShadow
    /// Sinks, control sources and alerts of one process (a vfork child logs apart from the
    /// parent whose memory it borrows).
    associatedtype Log

    /// The sequence number of the recorded stop the interpreter runs to next; control
    /// sources and alerts are stamped with it.
    func willRun(toSequence sequence: UInt64)
    /// The kernel wrote bytes that come from no object (times, ids, anonymous pages).
    func clearMemory(address: UInt64, length: Int)
    /// The kernel delivered bytes `[eventOffset, eventOffset + length)` of event `event`
    /// at `address`; `metadata` for facts about an object rather than its content.
    func labelSource(event: UInt64, address: UInt64, length: Int, eventOffset: Int64, metadata: Bool)
    /// The kernel read `length` bytes at `address` as bytes `[eventOffset, +length)` of the
    /// data sink event `event` sends to an object.
    func recordSink(event: UInt64, address: UInt64, length: Int, eventOffset: Int64)
    /// The kernel took register-file bytes `[registerOffset, +size)` as bytes
    /// `[eventOffset, +size)` of the sink event `event` (exit_group's status).
    func recordRegisterSink(event: UInt64, registerOffset: UInt64, size: Int, eventOffset: Int64)
    /// A path argument of event `event` (its bytes at `address`) reached the kernel.
    func recordPathSink(event: UInt64, argument: Int, address: UInt64, length: Int)
    /// mremap: the shadow of `length` bytes moves from `source` to `destination`.
    func moveMemory(from source: UInt64, to destination: UInt64, length: Int)
    /// Shared memory between two processes of one group: the shadow of `length` bytes at
    /// `destination` becomes what `other` (a tracker of the same job, sharing its label
    /// table) holds at `source` (the object's same bytes, mapped there in that process).
    func adoptMemoryLabels(from other: Self, source: UInt64, destination: UInt64, length: Int)
    /// Register-file bytes `[offset, offset + size)` were written by the kernel.
    func clearRegisters(offset: UInt64, size: Int)
    /// Signal delivery: the shadow of register-file bytes `[registerOffset, +size)` is
    /// saved at `address` (the frame); sigreturn runs the other way.
    func saveRegister(offset registerOffset: UInt64, size: Int, to address: UInt64)
    func restoreRegister(offset registerOffset: UInt64, size: Int, from address: UInt64)
    func saveThread() -> ThreadShadow
    func restoreThread(_ shadow: ThreadShadow)
    /// A copy for a child forked without exec: its own shadow memory from now on.
    func forked() -> Self
    /// Installs a fresh log and returns the one that was in place.
    func beginLog() -> Log
    /// Puts back a log returned by `beginLog`, returning the one that was in place.
    func endLog(restoring log: Log) -> Log
    /// From now on, each new alert (input bytes loaded into RIP) records `context()` (the
    /// running thread and instruction address) into `contexts`.
    func setAlertContext(_ contexts: AlertContexts, _ context: @escaping () -> (tid: Int32, rip: UInt64))
    /// The summary of one unit from the log in place, or nil for a tracker that tracks nothing.
    /// `programImages`: events that mapped program code (exec, mmap of an ELF file or with
    /// PROT_EXEC); their bytes are content sources, but a code pointer loaded from them
    /// (relocated GOT entries, vtables) is the program's own, not an alert.
    func summary(of unit: ReplayUnit, traceRootChain: String, completed: Bool, failure: String?,
                 instructions: UInt64, seconds: Double, alertContexts: AlertContexts, programImages: Set<UInt64>,
                 describe: (UInt64) -> (function: String?, text: String)) -> TaintSummary?
}

/// Where each alert happened (thread and instruction address), recorded while the
/// interpreter still stands at the instruction; keyed like the log's distinct alerts
/// (label and target). One per replayed process.
public final class AlertContexts {
    public struct Key: Hashable { public var label: UInt32; public var target: UInt64 }
    public var byKey: [Key: (tid: Int32, rip: UInt64)] = [:]
    public init() {}
}

extension NoDataFlow: ReplayDataFlow {
    public typealias ThreadShadow = Void
    public typealias Log = Void
    public static func run(_ machine: Machine<NoDataFlow>, maxInstructions: UInt64) -> StopReason {
        machine.runSpecialized(maxInstructions: maxInstructions)
    }
    @inline(__always) public func willRun(toSequence sequence: UInt64) {}
    @inline(__always) public func clearMemory(address: UInt64, length: Int) {}
    @inline(__always) public func labelSource(event: UInt64, address: UInt64, length: Int, eventOffset: Int64, metadata: Bool) {}
    @inline(__always) public func recordSink(event: UInt64, address: UInt64, length: Int, eventOffset: Int64) {}
    @inline(__always) public func recordRegisterSink(event: UInt64, registerOffset: UInt64, size: Int, eventOffset: Int64) {}
    @inline(__always) public func recordPathSink(event: UInt64, argument: Int, address: UInt64, length: Int) {}
    @inline(__always) public func moveMemory(from source: UInt64, to destination: UInt64, length: Int) {}
    @inline(__always) public func adoptMemoryLabels(from other: NoDataFlow, source: UInt64, destination: UInt64, length: Int) {}
    @inline(__always) public func clearRegisters(offset: UInt64, size: Int) {}
    @inline(__always) public func saveRegister(offset registerOffset: UInt64, size: Int, to address: UInt64) {}
    @inline(__always) public func restoreRegister(offset registerOffset: UInt64, size: Int, from address: UInt64) {}
    @inline(__always) public func saveThread() {}
    @inline(__always) public func restoreThread(_ shadow: Void) {}
    @inline(__always) public func forked() -> NoDataFlow { self }
    @inline(__always) public func beginLog() {}
    @inline(__always) public func endLog(restoring log: Void) {}
    public func setAlertContext(_ contexts: AlertContexts, _ context: @escaping () -> (tid: Int32, rip: UInt64)) {}
    public func summary(of unit: ReplayUnit, traceRootChain: String, completed: Bool, failure: String?,
                        instructions: UInt64, seconds: Double, alertContexts: AlertContexts, programImages: Set<UInt64>,
                        describe: (UInt64) -> (function: String?, text: String)) -> TaintSummary? { nil }
}
