// Splits a trace into replay units. A unit is one process image: it starts at an exec
// snapshot (or, for a child forked without exec, at its parent's fork) and ends at the
// process's exit or its next exec. Units that start at an exec are independent of each
// other and replay in parallel; forked children start from their parent's state at the
// fork and run in the parent's job.

import Syscalls
import Trace

/// Where a unit starts.
public enum UnitStart: Sendable {
    case exec(ExecSnapshot)
    /// Forked from `parent` at its syscall with this entry sequence number.
    case fork(parent: Int32, forkEntrySequence: UInt64)
}

/// One thing a thread does in user mode that replay must reproduce, in the order the
/// recording let it happen.
public enum UserStop: Sendable {
    case syscall(SyscallEvent, exitSequence: UInt64)
    case timestamp(TimestampEvent)
    case signal(SignalEvent)
    /// The watchdog stopped the thread here; for a member of a shared-memory group, the
    /// fingerprint of its shared pages there too (SharedMemoryScheduling.swift).
    case preempted(Trace.RegisterFile, SharedPagesFingerprint?)
    /// The supervisor saw the task end (its exit has fully happened in the kernel).
    case exited
}

public struct ScheduledStop: Sendable {
    public var tid: Int32
    public var order: UInt64
    public var stop: UserStop
}

public struct ReplayUnit: Sendable {
    /// The process id and the task that starts the unit (the exec'ing or forked task).
    public var pid: Int32
    public var tid: Int32
    public var start: UnitStart
    public var startSequence: UInt64
    /// Every user-mode stop of every thread of the image, in recorded order.
    public var stops: [ScheduledStop]
    /// Children forked without exec, replayed from this unit's state at the fork.
    public var forkedChildren: [Int32: ReplayUnit]
    public var executable: String
    /// For an exec unit: the trace sequence of the successful execve that started it (the
    /// old image's syscall event, stamped after this unit's snapshot). Its argument and
    /// environment strings are that event's bytes: a sink of the old image, a source of
    /// this one. Nil for the recorder's own first exec and for fork units.
    public var execveSequence: UInt64? = nil
    /// Set when another recorded process could write this unit's memory from some event on
    /// (SharedMemoryGroups.swift): replay stops there and says so.
    public var sharedMemory: SharedMemoryStop? = nil
    /// For a child forked while its parent held writable shared memory, recorded in the
    /// parent's shared-memory group (`TaskStart.sharedMemoryGroup`): the page-aligned
    /// ranges it shares with the parent; empty for a child that came to share memory with
    /// the group later (a mapping the recorder flagged `joinedSharedMemoryGroup`), and for
    /// the forked images between such a child and its exec image. Such a child replays
    /// together with its parent, in one schedule (SharedMemoryGroups.swift); nil for any
    /// other unit.
    public var sharedWithParent: [Range<UInt64>]? = nil
    /// The process's shared mappings during this image (SharedMemoryGroups.swift): a
    /// shared-memory group copies each object's pages between the members that map it.
    public var sharedMappings: [SharedMappingSpan] = []
    /// Set when the trace is damaged where this image's events are (its stream, or a
    /// thread's): the image is reported, not replayed.
    public var damage: TraceDamage? = nil
    /// The trace sequence where the image ends: its process's next exec snapshot, or
    /// `UInt64.max` when the image runs to the end of the recording. A damaged stream
    /// touches the image only if the intact part of that stream stops before this point.
    public var endSequence: UInt64 = .max
}

public struct ReplayPlan: Sendable {
    public var units: [ReplayUnit]
    /// Tasks whose events could not be placed in a unit (e.g. the recorder's own
    /// pre-exec PATH search in the root task).
    public var skippedEvents: Int
    /// Exec images that replay in one schedule because processes of them joined one
    /// shared-memory group at a mapping (SharedMemoryGroups.swift): each set lists the
    /// `startSequence` of two or more top-level units (`units`). A unit in no set replays
    /// on its own.
    public var imageGroups: [[UInt64]] = []

    public init(units: [ReplayUnit], skippedEvents: Int, imageGroups: [[UInt64]] = []) {
        self.units = units
        self.skippedEvents = skippedEvents
        self.imageGroups = imageGroups
    }

    /// The top-level units in jobs: each job is one unit, or the units of one image group
    /// (in `units` order). `selected` picks units; a group is taken whole when it picks any
    /// of its units (its members cannot replay apart).
    public func jobs(selecting selected: (ReplayUnit) -> Bool) -> [[ReplayUnit]] {
        var groupOf: [UInt64: Int] = [:]
        for (i, group) in imageGroups.enumerated() { for start in group { groupOf[start] = i } }
        var chosenGroups = Set<Int>()
        for unit in units where selected(unit) { if let g = groupOf[unit.startSequence] { chosenGroups.insert(g) } }
        var jobs: [[ReplayUnit]] = []
        var jobOfGroup: [Int: Int] = [:]
        for unit in units {
            if let g = groupOf[unit.startSequence] {
                guard chosenGroups.contains(g) else { continue }
                if let j = jobOfGroup[g] { jobs[j].append(unit) } else { jobOfGroup[g] = jobs.count; jobs.append([unit]) }
            } else if selected(unit) {
                jobs.append([unit])
            }
        }
        return jobs
    }
}

extension ReplayPlan {
    public init(events: [TraceEvent]) {
        var startOf: [Int32: TaskStart] = [:]
        var byTask: [Int32: [TraceEvent]] = [:]
        for e in events {
            if case .taskStart(let t) = e.body { startOf[t.tid] = t }
            byTask[e.tid, default: []].append(e)
        }
        func pid(_ tid: Int32) -> Int32 { startOf[tid]?.pid ?? tid }

        // Segment each process's timeline at its exec events.
        struct Segment { var tid: Int32; var start: UnitStart; var startSequence: UInt64; var endSequence: UInt64; var executable: String }
        var segmentsByPid: [Int32: [Segment]] = [:]
        var execSequences: [Int32: [UInt64]] = [:]
        for e in events {
            if case .exec = e.body { execSequences[pid(e.tid), default: []].append(e.sequence) }
        }
        for e in events {
            guard case .exec(let snapshot) = e.body else { continue }
            let p = pid(e.tid)
            let next = execSequences[p]?.first { $0 > e.sequence } ?? UInt64.max
            segmentsByPid[p, default: []].append(Segment(tid: e.tid, start: .exec(snapshot), startSequence: e.sequence,
                                                         endSequence: next, executable: snapshot.path))
        }
        for (tid, t) in startOf where t.kind == .fork || t.kind == .vfork {
            // The child's pre-exec life, starting from the parent's fork.
            let firstExec = execSequences[t.pid]?.first ?? UInt64.max
            let forkEntry = byTask[t.parent]?.compactMap { e -> UInt64? in
                if case .syscall(let s) = e.body, s.result == Int64(tid), isFork(s) { return s.entrySequence }
                return nil
            }.first ?? 0
            let startSequence = byTask[tid]?.first?.sequence ?? 0
            segmentsByPid[t.pid, default: []].append(Segment(tid: tid, start: .fork(parent: t.parent, forkEntrySequence: forkEntry),
                                                             startSequence: startSequence, endSequence: firstExec, executable: ""))
        }

        // A forked child runs its parent's program until it execs: name it after that.
        for (p, segments) in segmentsByPid {
            for i in segments.indices where segments[i].executable.isEmpty {
                guard case .fork(let parent, let entry) = segments[i].start else { continue }
                let program = segmentsByPid[pid(parent)]?.filter { $0.startSequence < entry && !$0.executable.isEmpty }
                    .max { $0.startSequence < $1.startSequence }?.executable
                segmentsByPid[p]?[i].executable = program ?? "(child of \(parent))"
            }
        }

        let groups = SharedMemoryGroups(events: events, pidOf: pid)
        var placed = 0
        func unit(for segment: Segment, pid p: Int32) -> ReplayUnit {
            var stops: [ScheduledStop] = []
            let tasks = startOf.values.filter { $0.pid == p }.map(\.tid)
            for tid in tasks {
                var sawFinalExecve = false
                for e in byTask[tid] ?? [] {
                    if sawFinalExecve { break }
                    switch e.body {
                    case .syscall(let s):
                        let inUnit = s.entrySequence >= segment.startSequence && s.entrySequence < segment.endSequence
                        // The successful execve that ends the image is stamped after the new
                        // image's snapshot; it still belongs to the old image.
                        let endingExecve = isExecve(s) && s.result == 0 && s.entrySequence < segment.endSequence
                            && e.sequence > segment.endSequence
                        if inUnit || endingExecve {
                            stops.append(ScheduledStop(tid: tid, order: s.entrySequence, stop: .syscall(s, exitSequence: e.sequence)))
                            placed += 1
                        }
                        if endingExecve { sawFinalExecve = true }
                    case .timestamp(let t) where e.sequence > segment.startSequence && e.sequence < segment.endSequence:
                        stops.append(ScheduledStop(tid: tid, order: e.sequence, stop: .timestamp(t)))
                    case .signal(let g) where e.sequence > segment.startSequence && e.sequence < segment.endSequence:
                        stops.append(ScheduledStop(tid: tid, order: e.sequence, stop: .signal(g)))
                    case .taskExit where e.sequence > segment.startSequence && e.sequence < segment.endSequence:
                        stops.append(ScheduledStop(tid: tid, order: e.sequence, stop: .exited))
                    case .schedule(let s) where e.sequence > segment.startSequence && e.sequence < segment.endSequence:
                        if let regs = s.preemptedAt {
                            stops.append(ScheduledStop(tid: tid, order: e.sequence, stop: .preempted(regs, s.sharedPages)))
                        }
                    default:
                        break
                    }
                }
            }
            stops.sort { $0.order < $1.order }
            var execve: UInt64?
            if case .exec = segment.start {
                // The exec'ing thread's stream holds it: the task that starts the image, or
                // (a thread other than the leader exec'd) a thread of the old image.
                for tid in [segment.tid] + tasks.filter({ $0 != segment.tid }).sorted() where execve == nil {
                    for e in byTask[tid] ?? [] where e.sequence > segment.startSequence {
                        if case .syscall(let s) = e.body, isExecve(s), s.result == 0, s.entrySequence < segment.startSequence {
                            execve = e.sequence
                            break
                        }
                    }
                }
            }
            var shared = groups.stops[p]?.first { $0.after >= segment.startSequence && $0.after < segment.endSequence }
            if case .fork = segment.start, let inherited = groups.children[segment.tid] { shared = inherited }
            var sharedWithParent: [Range<UInt64>]?
            if case .fork = segment.start { sharedWithParent = groups.members[segment.tid] }
            let spans = (groups.spans[p]?.filter { $0.until > segment.startSequence && $0.from < segment.endSequence } ?? [])
                .sorted { $0.from < $1.from }
            return ReplayUnit(pid: p, tid: segment.tid, start: segment.start, startSequence: segment.startSequence,
                              stops: stops, forkedChildren: [:], executable: segment.executable, execveSequence: execve,
                              sharedMemory: shared, sharedWithParent: sharedWithParent, sharedMappings: spans,
                              endSequence: segment.endSequence)
        }

        var execUnits: [ReplayUnit] = []
        var forkUnits: [Int32: ReplayUnit] = [:]
        for (p, segments) in segmentsByPid {
            for segment in segments {
                let u = unit(for: segment, pid: p)
                if case .fork = segment.start { forkUnits[segment.tid] = u } else { execUnits.append(u) }
            }
        }
        // Attach each forked child to the unit its parent was running at the fork;
        // children of forked children attach after their parents (ordered by fork time).
        var unattached = 0
        for child in forkUnits.values.sorted(by: { $0.startSequence < $1.startSequence }) {
            if !attachDeep(child, into: &execUnits) { unattached += child.stops.count }
        }
        // Exec images joined by a group: union-find over their start sequences.
        var linked: [UInt64: UInt64] = [:]
        func root(_ s: UInt64) -> UInt64 {
            var r = s
            while let up = linked[r], up != r { r = up }
            return r
        }
        for join in groups.joins {
            let tops = placeJoin(join, in: &execUnits)
            for top in tops.dropFirst() {
                let a = root(tops[0]), b = root(top)
                if a != b { linked[max(a, b)] = min(a, b) }
            }
        }
        var imageGroups: [UInt64: [UInt64]] = [:]
        for start in linked.keys.sorted() { imageGroups[root(start), default: [root(start)]].append(start) }
        let total = events.filter { if case .syscall = $0.body { return true } else { return false } }.count
        self.init(units: execUnits.sorted { $0.startSequence < $1.startSequence }, skippedEvents: max(0, total - placed) + unattached,
                  imageGroups: imageGroups.values.map { Array(Set($0)).sorted() }.sorted { $0[0] < $1[0] })
    }
}

/// The path to the unit matching `match`: the index of its exec image in `units`, then the
/// tids of the forked children down to it (empty for the exec image itself).
private func locate(_ match: (ReplayUnit) -> Bool, in units: [ReplayUnit]) -> (top: Int, tids: [Int32])? {
    func search(_ unit: ReplayUnit) -> [Int32]? {
        if match(unit) { return [] }
        for (tid, child) in unit.forkedChildren.sorted(by: { $0.key < $1.key }) {
            if let rest = search(child) { return [tid] + rest }
        }
        return nil
    }
    for (i, unit) in units.enumerated() { if let tids = search(unit) { return (i, tids) } }
    return nil
}

/// Applies `change` to every unit on `path` below its exec image, or (`onlyLast`) to the
/// last one, which may be the exec image itself.
private func modify(_ units: inout [ReplayUnit], path: (top: Int, tids: [Int32]), onlyLast: Bool = false,
                    _ change: (inout ReplayUnit) -> Void) {
    func walk(_ unit: inout ReplayUnit, _ tids: ArraySlice<Int32>) {
        guard let tid = tids.first, var child = unit.forkedChildren[tid] else { return }
        if !onlyLast || tids.count == 1 { change(&child) }
        walk(&child, tids.dropFirst())
        unit.forkedChildren[tid] = child
    }
    if onlyLast && path.tids.isEmpty { change(&units[path.top]) }
    walk(&units[path.top], path.tids[...])
}

/// A group the recorder formed at a mapping (SharedMemoryGroups.swift): the images on the
/// way from each process's exec image to the process (forked without exec) become members
/// of that exec image's group, replayed in one schedule with it. Returns the
/// `startSequence` of each exec image involved: when there are several (two programs a
/// shell started map one file), they replay together too (`ReplayPlan.imageGroups`).
private func placeJoin(_ join: SharedMemoryJoin, in units: inout [ReplayUnit]) -> [UInt64] {
    guard let joiner = locate({ u in u.pid == join.pid && u.stops.contains { $0.order == join.entry } }, in: units) else { return [] }
    var paths = [joiner]
    for other in join.with {
        // The other process's image alive at the join: the latest one started before it.
        var best: (path: (top: Int, tids: [Int32]), start: UInt64)?
        func consider(_ unit: ReplayUnit, _ path: (top: Int, tids: [Int32])) {
            if unit.pid == other, unit.startSequence <= join.sequence, best.map({ unit.startSequence > $0.start }) ?? true {
                best = (path, unit.startSequence)
            }
            for (tid, child) in unit.forkedChildren { consider(child, (path.top, path.tids + [tid])) }
        }
        for (i, unit) in units.enumerated() { consider(unit, (i, [])) }
        if let best { paths.append(best.path) }
    }
    for path in paths { modify(&units, path: path) { $0.sharedWithParent = $0.sharedWithParent ?? [] } }
    var tops: [UInt64] = []
    for top in paths.map(\.top) where !tops.contains(units[top].startSequence) { tops.append(units[top].startSequence) }
    return tops
}

/// Places a forked child under the unit (at any depth) whose stops include the fork.
private func attachDeep(_ child: ReplayUnit, into units: inout [ReplayUnit]) -> Bool {
    guard case .fork(let parent, let entry) = child.start else { return false }
    for i in units.indices {
        if units[i].stops.contains(where: { $0.tid == parent && $0.order == entry }) {
            units[i].forkedChildren[child.tid] = child
            return true
        }
        var nested = Array(units[i].forkedChildren.values)
        if attachDeep(child, into: &nested) {
            units[i].forkedChildren = Dictionary(uniqueKeysWithValues: nested.map { ($0.tid, $0) })
            return true
        }
    }
    return false
}

func isFork(_ s: SyscallEvent) -> Bool {
    let n = s.number
    if n == SyscallTable.Number.fork || n == SyscallTable.Number.vfork { return true }
    if n == SyscallTable.Number.clone { return s.arguments[0] & 0x10000 == 0 }  // not CLONE_THREAD
    if n == SyscallTable.Number.clone3 { return true }  // refined by the replayer from clone_args
    return false
}

func isExecve(_ s: SyscallEvent) -> Bool {
    s.number == SyscallTable.Number.execve || s.number == SyscallTable.Number.execveat
}
