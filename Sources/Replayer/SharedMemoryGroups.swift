// Which process images cannot be replayed on their own: those whose memory another
// recorded process could write. Replay re-executes one process image at a time and injects
// what its syscalls returned; a store by another process into shared memory is no syscall
// of this one, so the trace does not have it, and the replay would load stale bytes —
// a divergence that looks like an interpreter bug, or worse a silent wrong taint result.
// Children the recorder scheduled in their parent's shared-memory group (one member in
// user code at a time, switch order recorded, DESIGN.md "Security model, in the
// recorder"; Recorder/SharedMemoryScheduling.swift) replay together with it
// (`SharedMemoryGroupReplay` below). For every other kind of sharing the plan finds the
// processes and replay stops each one at the event after which its memory was no longer
// its own alone, with a located "shared-memory group not replayable yet" report.
//
// A process image is in a shared-memory group from:
//   - a fork while it holds a shared mapping either can store through (anonymous, SysV, or
//     a writable file mapping): parent and child, the child from its start — unless the
//     child's TaskStart names the group (then they replay together);
//   - a SysV shmat (the segment's bytes at the attach are not in the trace);
//   - another process mapping shared and writable (or mprotect()ing writable) a file or
//     memfd it maps shared, or writing one with write(2), pwrite(2), truncate(2) and
//     friends while it is mapped;
//   - a write into its memory by another process through /proc/PID/mem or
//     process_vm_writev;
// and, not a group but not replayable either, a write into its own memory through
// /proc/self/mem (replay does not apply those yet).

import Syscalls
import Trace
import X86

/// Where a unit's memory stops being its own alone (see SharedMemoryGroups.swift).
public struct SharedMemoryStop: Sendable, Equatable {
    /// Global sequence number of the event after which replay cannot check the unit.
    public var after: UInt64
    public var reason: String
}

struct SharedMemoryGroups {
    /// By process id, in sequence order.
    var stops: [Int32: [SharedMemoryStop]] = [:]
    /// Forked children that inherited shared memory, by tid: not replayable from their start.
    var children: [Int32: SharedMemoryStop] = [:]
    /// Forked children recorded in their parent's shared-memory group, by tid: the ranges
    /// they share with the parent (replayed together with it).
    var members: [Int32: [Range<UInt64>]] = [:]

    struct FileKey: Hashable { var device: UInt64; var inode: UInt64 }
    struct Mapping { var range: Range<UInt64>; var file: FileKey?; var path: String; var writable: Bool }

    init(events: [TraceEvent], pidOf: (Int32) -> Int32) {
        var mappings: [Int32: [Mapping]] = [:]
        var marked = Set<Int32>()
        /// Processes replayed in one group, by the pid of the group's first process.
        var groupOf: [Int32: Int32] = [:]
        func mark(_ pid: Int32, _ sequence: UInt64, _ reason: String) {
            guard marked.insert(pid).inserted else { return }
            stops[pid, default: []].append(SharedMemoryStop(after: sequence, reason: reason))
        }
        func group(_ what: String) -> String { "shared-memory group not replayable yet: " + what }
        func mappers(of file: FileKey, except pid: Int32) -> [(pid: Int32, mapping: Mapping)] {
            mappings.flatMap { p, list in p == pid ? [] : list.filter { $0.file == file }.map { (p, $0) } }
        }
        for e in events {
            switch e.body {
            case .exec:
                // A new image: the old mappings are gone, and a later stop is the new image's.
                let p = pidOf(e.tid)
                mappings[p] = nil
                marked.remove(p)
            case .taskStart(let t) where t.kind == .fork:
                let parent = pidOf(t.parent)
                guard let inherited = mappings[parent], !inherited.isEmpty else { continue }
                mappings[t.pid] = inherited
                // A read-only file mapping is shared with the child too, but neither can
                // store through it (until an mprotect, checked below).
                guard let shared = inherited.first(where: { $0.file == nil || $0.writable }) else { continue }
                if t.sharedMemoryGroup != nil {
                    // Recorded as one group (one member in user code at a time, switches in
                    // the trace): replayed together, not stopped.
                    members[t.tid] = inherited.filter { $0.file == nil || $0.writable }.map { pageAligned($0.range) }
                    groupOf[t.pid] = groupOf[parent] ?? parent
                    continue
                }
                let what = shared.path.isEmpty ? "shared memory" : shared.path
                mark(parent, e.sequence, group("process \(parent) forked \(t.pid) @\(e.sequence) while mapping \(what) shared: either may store what the other loads"))
                children[t.tid] = SharedMemoryStop(after: e.sequence,
                                                   reason: group("forked @\(e.sequence) by \(parent), whose shared mapping of \(what) it inherits"))
                marked.insert(t.pid)
            case .syscall(let s) where !s.flags.contains(.unfinished) && !(s.result < 0 && s.result >= -4095):
                let p = pidOf(e.tid)
                let name = SyscallTable.name(s.number)
                let arguments = s.arguments + Array(repeating: 0, count: max(0, 6 - s.arguments.count))
                switch SyscallTable.graphRole(s.number) {
                case .mmap:
                    let flags = arguments[3], prot = arguments[2]
                    guard flags & 0x3 == 0x1 || flags & 0x3 == 0x3 else { continue }
                    let start = UInt64(bitPattern: s.result)
                    let range = start..<(start &+ arguments[1])
                    if flags & 0x20 != 0 {
                        mappings[p, default: []].append(Mapping(range: range, file: nil, path: "", writable: prot & 2 != 0))
                        continue
                    }
                    let object = s.mapped.map { (FileKey(device: $0.device, inode: $0.inode), $0.path) }
                        ?? s.objects.first { $0.argument == 4 }.map { (FileKey(device: $0.device, inode: $0.inode), $0.resolved) }
                    guard let (file, path) = object else { continue }
                    let writable = prot & 2 != 0
                    for other in mappers(of: file, except: p) {
                        if writable { mark(other.pid, e.sequence, group("process \(p) mapped \(path) shared and writable (\(name) @\(e.sequence)) while process \(other.pid) maps it")) }
                        if other.mapping.writable { mark(p, e.sequence, group("mapped \(path) shared (\(name) @\(e.sequence)) while process \(other.pid) maps it writable")) }
                    }
                    mappings[p, default: []].append(Mapping(range: range, file: file, path: path, writable: writable))
                case .protect where arguments[2] & 2 != 0:
                    // A shared file mapping made writable: like a new writable mapping of it.
                    let range = arguments[0]..<(arguments[0] &+ arguments[1])
                    for i in (mappings[p] ?? []).indices {
                        guard let m = mappings[p]?[i], let file = m.file, !m.writable, m.range.overlaps(range) else { continue }
                        mappings[p]?[i].writable = true
                        for other in mappers(of: file, except: p) {
                            mark(other.pid, e.sequence, group("process \(p) made its shared mapping of \(m.path) writable (\(name) @\(e.sequence)) while process \(other.pid) maps it"))
                        }
                    }
                case .unmap:
                    let range = arguments[0]..<(arguments[0] &+ arguments[1])
                    mappings[p]?.removeAll { range.lowerBound <= $0.range.lowerBound && $0.range.upperBound <= range.upperBound }
                case .sharedMemoryAttach:
                    // The recorder stores the segment's bytes at the attach (the write at the
                    // result address). Shared with a process outside this one's group, it
                    // is a group nobody recorded: both stop.
                    let start = UInt64(bitPattern: s.result)
                    let path = "SysV segment \(arguments[0])"
                    guard let segment = s.writes.first, segment.address == start else {
                        mark(p, e.sequence, group("attached SysV shared memory segment \(Int64(bitPattern: arguments[0])) (shmat @\(e.sequence)): its bytes at the attach are not in the trace"))
                        mappings[p, default: []].append(Mapping(range: start..<(start &+ 1), file: nil, path: path, writable: true))
                        continue
                    }
                    for (other, list) in mappings where other != p && list.contains(where: { $0.file == nil && $0.path == path }) {
                        guard (groupOf[other] ?? other) != (groupOf[p] ?? p) else { continue }  // one group
                        mark(p, e.sequence, group("attached SysV shared memory segment \(Int64(bitPattern: arguments[0])) (shmat @\(e.sequence)) that process \(other) attaches too, and was not recorded in its group"))
                        mark(other, e.sequence, group("process \(p) attached SysV shared memory segment \(Int64(bitPattern: arguments[0])) (shmat @\(e.sequence)) that it attaches, and was not recorded in its group"))
                    }
                    mappings[p, default: []].append(Mapping(range: start..<(start &+ UInt64(segment.bytes.count)), file: nil, path: path,
                                                            writable: arguments[2] & 0o10000 == 0))
                case .sharedMemoryDetach:
                    mappings[p]?.removeAll { $0.range.lowerBound == arguments[0] && $0.file == nil }
                case .write, .truncate, .processVMWrite:
                    if SyscallTable.graphRole(s.number) == .processVMWrite {
                        let target = Int32(truncatingIfNeeded: arguments[0])
                        if target != p {
                            mark(target, e.sequence, group("process \(p) wrote into its memory (\(name) @\(e.sequence))"))
                        }
                        continue
                    }
                    guard let o = s.objects.first(where: { $0.argument == 0 }) else { continue }
                    if let target = Self.memoryFileProcess(o.resolved, caller: p) {
                        if target == p {
                            mark(p, e.sequence, "not replayable yet: wrote its own memory through \(o.resolved) (\(name) @\(e.sequence)), which replay does not apply")
                        } else {
                            mark(target, e.sequence, group("process \(p) wrote into its memory through \(o.resolved) (\(name) @\(e.sequence))"))
                        }
                        continue
                    }
                    guard o.inode != 0 else { continue }
                    for other in mappers(of: FileKey(device: o.device, inode: o.inode), except: p) {
                        mark(other.pid, e.sequence, group("process \(p) wrote \(o.resolved) (\(name) @\(e.sequence)) while it maps it shared"))
                    }
                default:
                    continue
                }
            default:
                continue
            }
        }
    }

    /// `range` widened to whole pages, as the kernel maps it.
    func pageAligned(_ range: Range<UInt64>) -> Range<UInt64> {
        (range.lowerBound & ~4095)..<((range.upperBound &+ 4095) & ~4095)
    }

    /// The process a `/proc/PID/mem` or `/proc/PID/task/TID/mem` path names (`self` and
    /// `thread-self` name the caller).
    static func memoryFileProcess(_ path: String, caller: Int32) -> Int32? {
        guard path.hasPrefix("/proc/"), path.hasSuffix("/mem") else { return nil }
        let parts = path.split(separator: "/")
        guard parts.count == 3 || (parts.count == 5 && parts[2] == "task") else { return nil }
        if parts[1] == "self" || parts[1] == "thread-self" { return caller }
        return Int32(parts[1])
    }
}

/// Replays the members of one shared-memory group together: each member keeps its own
/// interpreter (its private memory differs after the fork), and the group runs every
/// member's recorded stops in one schedule, the global order the recorder let them run
/// in (one member in user code at a time, SharedMemoryScheduling.swift). Before a member
/// runs, or has a syscall result applied, the shared pages (bytes and taint labels) are
/// copied from the member that touched them last, so what one stored the next one loads.
///
/// A syscall of one member whose kernel writes land in shared pages while another member
/// ran user code between its entry and exit (a blocking read into shared memory) cannot be
/// ordered against that member's loads: replay stops there with `notReplayable`.
///
/// Cost: each switch between members copies the shared ranges (4 KiB per page, and the
/// page's labels in taint replay).
final class SharedMemoryGroupReplay<Tracker: ReplayDataFlow> {
    let leader: ProcessReplay<Tracker>
    /// Members in creation order, the leader first.
    private(set) var members: [ProcessReplay<Tracker>]
    private var forkedBy: [ObjectIdentifier: ProcessReplay<Tracker>] = [:]
    private var memberByPid: [Int32: ProcessReplay<Tracker>] = [:]
    /// Every member's stops, in recorded order, with the process each belongs to.
    let stops: [(pid: Int32, stop: ScheduledStop)]
    /// Page-aligned ranges any two members share.
    let sharedRanges: [Range<UInt64>]
    /// The member whose memory holds the shared pages' current content.
    private var owner: ProcessReplay<Tracker>
    /// Stops run so far: (order, pid).
    private var executed: [(order: UInt64, pid: Int32)] = []

    /// Whether `unit` forked children recorded in its shared-memory group.
    static func hasMembers(_ unit: ReplayUnit) -> Bool {
        unit.forkedChildren.values.contains { $0.sharedWithParent != nil }
    }

    init(leader: ProcessReplay<Tracker>) {
        self.leader = leader
        members = [leader]
        owner = leader
        memberByPid[leader.unit.pid] = leader
        var all: [(pid: Int32, stop: ScheduledStop)] = []
        var ranges: [Range<UInt64>] = []
        func collect(_ unit: ReplayUnit) {
            all += unit.stops.map { (unit.pid, $0) }
            for child in unit.forkedChildren.values where child.sharedWithParent != nil {
                ranges += child.sharedWithParent ?? []
                collect(child)
            }
        }
        collect(leader.unit)
        stops = all.sorted { $0.stop.order < $1.stop.order }
        var merged: [Range<UInt64>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, r.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        sharedRanges = merged
    }

    /// A member created by `parent`'s replay of the fork that made it.
    func add(_ member: ProcessReplay<Tracker>, forkedBy parent: ProcessReplay<Tracker>) {
        members.append(member)
        forkedBy[ObjectIdentifier(member)] = parent
        memberByPid[member.unit.pid] = member
    }

    /// Runs the group and returns the leader's result; each other member's result is among
    /// the children of the member that forked it.
    func run(started: ContinuousClock.Instant) -> UnitResult {
        var current = leader
        var outcome: ReplayOutcome = .completed
        var lastOrder: UInt64 = 0
        do {
            for (pid, stop) in stops {
                lastOrder = stop.order
                guard let member = memberByPid[pid] else {
                    throw leader.divergenceHere(tid: stop.tid, reason: "process \(pid) of the shared-memory group runs in the recording, but its fork was not replayed")
                }
                // Kernel writes of other members that completed before this stop.
                for m in members where m !== member && m.hasPendingResults(before: stop.order) {
                    current = m
                    synchronize(to: m)
                    try m.applyPendingResults(before: stop.order)
                }
                current = member
                synchronize(to: member)
                try member.replayStop(stop)
                executed.append((stop.order, pid))
            }
        } catch {
            outcome = current.replayCatching { throw error }
        }
        let seconds = leader.secondsSince(started)
        func outcomeOf(_ m: ProcessReplay<Tracker>) -> ReplayOutcome {
            if case .completed = outcome { return .completed }
            if m === current { return outcome }
            return .notReplayable(NotReplayable(
                tid: m.unit.tid, instructionCount: m.machine.instructionCount, sequence: lastOrder,
                reason: "its shared-memory group stopped at @\(lastOrder) in process \(current.unit.pid)"))
        }
        // Deepest members first: a member's result is a child of the member that forked it.
        for m in members.dropFirst().reversed() {
            let result = m.finish(outcome: outcomeOf(m), seconds: seconds)
            forkedBy[ObjectIdentifier(m)]?.sharedMemoryChildren.append(result)
        }
        return leader.finish(outcome: outcomeOf(leader), seconds: seconds)
    }

    /// Makes `member`'s shared pages (bytes and labels) those of the member that touched
    /// them last. Pages either side has unmapped are left alone.
    private func synchronize(to member: ProcessReplay<Tracker>) {
        guard owner !== member else { return }
        let from = owner.machine, to = member.machine
        for range in sharedRanges {
            var page = range.lowerBound
            while page < range.upperBound {
                if from.memory.isMapped(page), to.memory.isMapped(page),
                   let bytes = try? from.memory.readBytes(at: page, count: Int(GuestMemory.pageSize)) {
                    try? to.memory.writeBytes(bytes, at: page)
                    to.tracker.adoptMemoryLabels(from: from.tracker, address: page, length: Int(GuestMemory.pageSize))
                }
                page += GuestMemory.pageSize
            }
        }
        owner = member
    }

    /// Stops replay when `event` of `member` (its exit at `exitSequence`) wrote shared
    /// pages while another member ran user code between the call's entry and exit: the
    /// trace cannot say whether that member's loads saw the bytes.
    func checkKernelWrites(_ event: SyscallEvent, by member: ProcessReplay<Tracker>, tid: Int32, exitSequence: UInt64) throws {
        let written = event.writes.filter { w in
            let range = w.address..<(w.address &+ UInt64(w.bytes.count))
            return sharedRanges.contains { $0.overlaps(range) }
        }
        guard let first = written.first else { return }
        for (order, pid) in executed.reversed() {
            if order <= event.entrySequence { break }
            guard order < exitSequence, pid != member.unit.pid else { continue }
            throw NotReplayable(
                tid: tid, instructionCount: member.machine.instructionCount, sequence: event.entrySequence,
                reason: "shared-memory group: the trace cannot order \(SyscallTable.name(event.number)) @\(event.entrySequence)-@\(exitSequence) of process \(member.unit.pid), whose kernel writes filled shared memory at 0x\(String(first.address, radix: 16)) while process \(pid) ran user code (@\(order))")
        }
    }
}
