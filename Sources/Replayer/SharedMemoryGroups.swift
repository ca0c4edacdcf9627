// Which process images cannot be replayed on their own: those whose memory another
// recorded process could write. Replay re-executes one process image at a time and injects
// what its syscalls returned; a store by another process into shared memory is no syscall
// of this one, so the trace does not have it, and the replay would load stale bytes —
// a divergence that looks like an interpreter bug, or worse a silent wrong taint result.
// Children the recorder scheduled in their parent's shared-memory group (one member in
// user code at a time, switch order recorded, DESIGN.md "Security model, in the
// recorder"; Recorder/SharedMemoryScheduling.swift) replay together with it
// (`SharedMemoryGroupReplay` below), and so do processes the recorder merged into one group
// at a mapping (`SyscallFlags.joinedSharedMemoryGroup`, `joins`), forked images of one exec
// image or images exec'd apart (ReplayPlan.swift places them; `ReplayPlan.imageGroups`
// names the exec images replayed in one schedule). For every other kind of sharing the
// plan finds the
// processes and replay stops each one at the event after which its memory was no longer
// its own alone, with a located "shared-memory group not replayable yet" report.
//
// A process image is in a shared-memory group from:
//   - a fork while it holds a shared mapping either can store through (anonymous, SysV, or
//     a writable file mapping): parent and child, the child from its start — unless the
//     child's TaskStart names the group (then they replay together);
//   - a SysV shmat whose bytes at the attach are not in the trace, or of a segment a
//     process outside its group attaches;
//   - a process outside its group mapping shared and writable (or mprotect()ing
//     writable, unless the recorder merged the two there: `joinedSharedMemoryGroup` on
//     the mprotect) a file or memfd it maps shared, or any other process writing one with
//     write(2), pwrite(2), truncate(2) and friends while it is mapped;
//   - a write into its memory by another process through /proc/PID/mem, or through
//     process_vm_writev by a process outside its group;
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

/// A shared-memory object as replay names it in every process that maps it.
public enum SharedObject: Hashable, Sendable {
    /// A file or memfd, by (device, inode).
    case file(device: UInt64, inode: UInt64)
    /// A SysV segment, by shmid.
    case segment(UInt64)
    /// `MAP_SHARED|MAP_ANONYMOUS` memory, by the process that mapped it and the mmap's
    /// exit sequence (forked children inherit it).
    case anonymous(pid: Int32, sequence: UInt64)
}

/// One shared mapping of a process, alive from the event with sequence `from` (exclusive)
/// until the one with sequence `until` (inclusive; `UInt64.max` when never unmapped).
public struct SharedMappingSpan: Sendable, Equatable {
    public var object: SharedObject
    /// Guest addresses, page-aligned.
    public var range: Range<UInt64>
    /// Byte offset of `range.lowerBound` in the object.
    public var offset: UInt64
    public var from: UInt64
    public var until: UInt64

    /// Whether the mapping exists at stop `order`.
    func isLive(at order: UInt64) -> Bool { from < order && order <= until }
}

/// Processes the recorder merged into one shared-memory group at a mapping
/// (`SyscallFlags.joinedSharedMemoryGroup`): `pid`'s call with entry sequence `entry`
/// mapped an object the processes `with` mapped already.
struct SharedMemoryJoin {
    var pid: Int32
    var entry: UInt64
    var sequence: UInt64
    var with: [Int32]
    var what: String
}

struct SharedMemoryGroups {
    /// By process id, in sequence order.
    var stops: [Int32: [SharedMemoryStop]] = [:]
    /// Forked children that inherited shared memory, by tid: not replayable from their start.
    var children: [Int32: SharedMemoryStop] = [:]
    /// Forked children recorded in their parent's shared-memory group, by tid: the ranges
    /// they share with the parent (replayed together with it).
    var members: [Int32: [Range<UInt64>]] = [:]
    /// Every shared mapping of every process, by process id (across its images).
    var spans: [Int32: [SharedMappingSpan]] = [:]
    /// Groups the recorder formed at a mapping rather than a fork, in trace order.
    var joins: [SharedMemoryJoin] = []

    struct FileKey: Hashable { var device: UInt64; var inode: UInt64 }
    struct Mapping {
        var range: Range<UInt64>; var file: FileKey?; var path: String; var writable: Bool
        var object: SharedObject; var offset: UInt64; var from: UInt64
    }

    init(events: [TraceEvent], pidOf: (Int32) -> Int32) {
        var mappings: [Int32: [Mapping]] = [:]
        var marked = Set<Int32>()
        /// Processes replayed in one group: union-find over pids.
        var groupOf: [Int32: Int32] = [:]
        func root(_ p: Int32) -> Int32 {
            var r = p
            while let up = groupOf[r], up != r { r = up }
            return r
        }
        func unite(_ a: Int32, _ b: Int32) {
            let ra = root(a), rb = root(b)
            if ra != rb { groupOf[rb] = ra }
        }
        func sameGroup(_ a: Int32, _ b: Int32) -> Bool { a == b || root(a) == root(b) }
        func mark(_ pid: Int32, _ sequence: UInt64, _ reason: String) {
            guard marked.insert(pid).inserted else { return }
            stops[pid, default: []].append(SharedMemoryStop(after: sequence, reason: reason))
        }
        /// Ends the mappings of `pid` that `drop` selects at event `sequence`.
        func close(_ pid: Int32, at sequence: UInt64, where drop: (Mapping) -> Bool) {
            guard let list = mappings[pid] else { return }
            for m in list where drop(m) {
                spans[pid, default: []].append(SharedMappingSpan(object: m.object, range: pageAligned(m.range), offset: m.offset,
                                                                 from: m.from, until: sequence))
            }
            mappings[pid] = list.filter { !drop($0) }
        }
        func add(_ pid: Int32, _ m: Mapping) { mappings[pid, default: []].append(m) }
        func group(_ what: String) -> String { "shared-memory group not replayable yet: " + what }
        func mappers(of file: FileKey, except pid: Int32) -> [(pid: Int32, mapping: Mapping)] {
            mappings.flatMap { p, list in p == pid ? [] : list.filter { $0.file == file }.map { (p, $0) } }
        }
        for e in events {
            switch e.body {
            case .exec:
                // A new image: the old mappings are gone, and a later stop is the new image's.
                let p = pidOf(e.tid)
                close(p, at: e.sequence) { _ in true }
                marked.remove(p)
            case .taskExit where pidOf(e.tid) == e.tid:
                // The thread-group leader's exit is reported last (ptrace(2)): the process
                // and its mappings are gone.
                close(e.tid, at: e.sequence) { _ in true }
            case .taskStart(let t) where t.kind == .fork:
                let parent = pidOf(t.parent)
                guard let inherited = mappings[parent], !inherited.isEmpty else { continue }
                mappings[t.pid] = inherited.map { var m = $0; m.from = e.sequence; return m }
                // A read-only file mapping is shared with the child too, but neither can
                // store through it (until an mprotect, checked below).
                guard let shared = inherited.first(where: { $0.file == nil || $0.writable }) else { continue }
                if t.sharedMemoryGroup != nil {
                    // Recorded as one group (one member in user code at a time, switches in
                    // the trace): replayed together, not stopped.
                    members[t.tid] = inherited.filter { $0.file == nil || $0.writable }.map { pageAligned($0.range) }
                    unite(parent, t.pid)
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
                let joined = s.flags.contains(.joinedSharedMemoryGroup)
                if joined, let target = s.objects.lazy.compactMap({ Self.memoryFileProcess($0.resolved, caller: p) }).first {
                    // An open of another process's /proc/PID/mem for writing: the recorder
                    // merged the two there, and replay applies the pwrite64 calls through it.
                    if target != p && !sameGroup(target, p) {
                        unite(target, p)
                        joins.append(SharedMemoryJoin(pid: p, entry: s.entrySequence, sequence: e.sequence, with: [target],
                                                      what: "/proc/\(target)/mem"))
                    }
                    continue
                }
                switch SyscallTable.graphRole(s.number) {
                case .mmap:
                    let flags = arguments[3], prot = arguments[2]
                    guard flags & 0x3 == 0x1 || flags & 0x3 == 0x3 else { continue }
                    let start = UInt64(bitPattern: s.result)
                    let range = start..<(start &+ arguments[1])
                    if flags & 0x20 != 0 {
                        add(p, Mapping(range: range, file: nil, path: "", writable: prot & 2 != 0,
                                       object: .anonymous(pid: p, sequence: e.sequence), offset: 0, from: e.sequence))
                        continue
                    }
                    let object = s.mapped.map { (FileKey(device: $0.device, inode: $0.inode), $0.path) }
                        ?? s.objects.first { $0.argument == 4 }.map { (FileKey(device: $0.device, inode: $0.inode), $0.resolved) }
                    guard let (file, path) = object else { continue }
                    let writable = prot & 2 != 0
                    let others = mappers(of: file, except: p)
                    if joined {
                        let with = Array(Set(others.map(\.pid).filter { !sameGroup($0, p) })).sorted()
                        for other in with { unite(other, p) }
                        if !with.isEmpty { joins.append(SharedMemoryJoin(pid: p, entry: s.entrySequence, sequence: e.sequence, with: with, what: path)) }
                    }
                    for other in others where !sameGroup(other.pid, p) {
                        if writable { mark(other.pid, e.sequence, group("process \(p) mapped \(path) shared and writable (\(name) @\(e.sequence)) while process \(other.pid) maps it")) }
                        if other.mapping.writable { mark(p, e.sequence, group("mapped \(path) shared (\(name) @\(e.sequence)) while process \(other.pid) maps it writable")) }
                    }
                    add(p, Mapping(range: range, file: file, path: path, writable: writable,
                                   object: .file(device: file.device, inode: file.inode), offset: arguments[5], from: e.sequence))
                case .protect where arguments[2] & 2 != 0:
                    // A shared file mapping made writable: like a new writable mapping of it.
                    let range = arguments[0]..<(arguments[0] &+ arguments[1])
                    for i in (mappings[p] ?? []).indices {
                        guard let m = mappings[p]?[i], let file = m.file, !m.writable, m.range.overlaps(range) else { continue }
                        mappings[p]?[i].writable = true
                        if joined {
                            // The recorder merged the processes mapping the file at this call.
                            let with = Array(Set(mappers(of: file, except: p).map(\.pid).filter { !sameGroup($0, p) })).sorted()
                            for other in with { unite(other, p) }
                            if !with.isEmpty { joins.append(SharedMemoryJoin(pid: p, entry: s.entrySequence, sequence: e.sequence, with: with, what: m.path)) }
                        }
                        for other in mappers(of: file, except: p) where !sameGroup(other.pid, p) {
                            mark(other.pid, e.sequence, group("process \(p) made its shared mapping of \(m.path) writable (\(name) @\(e.sequence)) while process \(other.pid) maps it"))
                        }
                    }
                case .unmap:
                    let range = arguments[0]..<(arguments[0] &+ arguments[1])
                    close(p, at: e.sequence) { range.lowerBound <= $0.range.lowerBound && $0.range.upperBound <= range.upperBound }
                case .sharedMemoryAttach:
                    // The recorder stores the segment's bytes at the attach (the write at the
                    // result address). Shared with a process outside this one's group, it
                    // is a group nobody recorded: both stop.
                    let start = UInt64(bitPattern: s.result)
                    let path = "SysV segment \(arguments[0])"
                    let object = SharedObject.segment(arguments[0])
                    guard let segment = s.writes.first, segment.address == start else {
                        mark(p, e.sequence, group("attached SysV shared memory segment \(Int64(bitPattern: arguments[0])) (shmat @\(e.sequence)): its bytes at the attach are not in the trace"))
                        add(p, Mapping(range: start..<(start &+ 1), file: nil, path: path, writable: true, object: object, offset: 0, from: e.sequence))
                        continue
                    }
                    let others = mappings.filter { other, list in other != p && list.contains { $0.file == nil && $0.path == path } }.map(\.key)
                    if joined {
                        let with = Array(Set(others.filter { !sameGroup($0, p) })).sorted()
                        for other in with { unite(other, p) }
                        if !with.isEmpty { joins.append(SharedMemoryJoin(pid: p, entry: s.entrySequence, sequence: e.sequence, with: with, what: path)) }
                    }
                    for other in others where !sameGroup(other, p) {
                        mark(p, e.sequence, group("attached SysV shared memory segment \(Int64(bitPattern: arguments[0])) (shmat @\(e.sequence)) that process \(other) attaches too, and was not recorded in its group"))
                        mark(other, e.sequence, group("process \(p) attached SysV shared memory segment \(Int64(bitPattern: arguments[0])) (shmat @\(e.sequence)) that it attaches, and was not recorded in its group"))
                    }
                    add(p, Mapping(range: start..<(start &+ UInt64(segment.bytes.count)), file: nil, path: path,
                                   writable: arguments[2] & 0o10000 == 0, object: object, offset: 0, from: e.sequence))
                case .sharedMemoryDetach:
                    close(p, at: e.sequence) { $0.range.lowerBound == arguments[0] && $0.file == nil }
                case .write, .truncate, .processVMWrite:
                    if SyscallTable.graphRole(s.number) == .processVMWrite {
                        // Into a process recorded in the caller's group: replay copies the
                        // bytes (SharedMemoryGroupReplay.applyRemoteWrite).
                        let target = Int32(truncatingIfNeeded: arguments[0])
                        if target != p && !sameGroup(target, p) {
                            mark(target, e.sequence, group("process \(p) wrote into its memory (\(name) @\(e.sequence))"))
                        }
                        continue
                    }
                    guard let o = s.objects.first(where: { $0.argument == 0 }) else { continue }
                    if let target = Self.memoryFileProcess(o.resolved, caller: p) {
                        // pwrite64 replay applies (`applyMemoryFileWrite`): into the caller
                        // itself, or into a process recorded in its group.
                        let applied = s.number == Self.pwrite64
                        if target == p {
                            if !applied { mark(p, e.sequence, "not replayable yet: wrote its own memory through \(o.resolved) (\(name) @\(e.sequence)), which replay applies only for pwrite64") }
                        } else if !(applied && sameGroup(target, p)) {
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
        for (p, list) in mappings {
            spans[p, default: []] += list.map {
                SharedMappingSpan(object: $0.object, range: pageAligned($0.range), offset: $0.offset, from: $0.from, until: .max)
            }
        }
    }

    /// `range` widened to whole pages, as the kernel maps it.
    func pageAligned(_ range: Range<UInt64>) -> Range<UInt64> {
        (range.lowerBound & ~4095)..<((range.upperBound &+ 4095) & ~4095)
    }

    static let pwrite64 = SyscallTable.number(named: "pwrite64") ?? 18

    /// A write through a process's memory file that replay applies: `pwrite64(fd, buf,
    /// count, offset)` on a descriptor naming `/proc/PID/mem` (the recorder lets no other
    /// call write one, TraceeGuard.swift), with its result. Nil for anything else.
    /// - Returns: the target process, the caller's source address, the target address
    ///   (the file offset) and the byte count the kernel copied.
    static func memoryFileWrite(_ event: SyscallEvent, caller: Int32) -> (target: Int32, source: UInt64, address: UInt64, length: Int)? {
        guard event.number == pwrite64, event.result > 0, event.arguments.count >= 4,
              let o = event.objects.first(where: { $0.argument == 0 }),
              let target = memoryFileProcess(o.resolved, caller: caller) else { return nil }
        return (target, event.arguments[1], event.arguments[3], Int(event.result))
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
/// interpreter (its private memory differs after the fork; a separately exec'd program has
/// an address space of its own), and the group runs every member's recorded stops in one
/// schedule, the global order the recorder let them run in (one member in user code at a
/// time, SharedMemoryScheduling.swift). Before a member runs, or has a syscall result
/// applied, the pages of each shared object it maps (bytes and taint labels) are copied
/// from the member that ran last while mapping that object, at that member's address for
/// it, so what one stored the next one loads. Members may map one object at different
/// addresses (each `shmat`s a segment, or maps one memfd or file).
///
/// The group's leaders are exec images: one (its forked children joined at a fork or a
/// mapping), or several when processes of different exec images joined at a mapping
/// (`ReplayPlan.imageGroups`: two programs a shell started map one file). Each leader
/// loads its own exec snapshot; their trackers must share one label table.
///
/// A syscall of one member whose kernel writes land in shared pages while another member
/// ran user code between its entry and exit (a blocking read into shared memory) cannot be
/// ordered against that member's loads: replay stops there with `notReplayable`.
///
/// Cost: each switch between members copies the pages of the objects both map that
/// changed since the member last held them (4 KiB per page, and the page's labels in taint
/// replay).
final class SharedMemoryGroupReplay<Tracker: ReplayDataFlow> {
    /// The exec images the group starts from, in trace order.
    let leaders: [ProcessReplay<Tracker>]
    var leader: ProcessReplay<Tracker> { leaders[0] }
    /// Members in creation order, the leaders first.
    private(set) var members: [ProcessReplay<Tracker>]
    private var forkedBy: [ObjectIdentifier: ProcessReplay<Tracker>] = [:]
    /// A member by its image (`ReplayUnit.pid`, `ReplayUnit.startSequence`): a process may
    /// run two images of the group one after the other (it exec'd in between).
    private var memberByImage: [ImageKey: ProcessReplay<Tracker>] = [:]
    /// The image of each process that ran last (a process_vm_writev names a pid).
    private var memberByPid: [Int32: ProcessReplay<Tracker>] = [:]
    struct ImageKey: Hashable { var pid: Int32; var start: UInt64 }
    /// Every member's stops, in recorded order, with the image each belongs to.
    let stops: [(image: ImageKey, stop: ScheduledStop)]
    /// For each shared object, the member whose memory holds its current content.
    private var owner: [SharedObject: ProcessReplay<Tracker>] = [:]
    /// Stops run so far: (order, pid).
    private var executed: [(order: UInt64, pid: Int32)] = []
    /// Dirty tracking, per page of each object (its offset / page size): the version the
    /// object's content is at (bumped when a member that owned it hands over a page it
    /// wrote), and the version each member's memory holds. A switch copies only the pages
    /// whose version the member does not hold.
    private var pageVersion: [SharedObject: [UInt64: UInt64]] = [:]
    private var heldVersion: [ObjectIdentifier: [SharedObject: [UInt64: UInt64]]] = [:]
    private var versions: UInt64 = 0
    /// Pages `synchronize` copied so far.
    private(set) var pagesCopied = 0

    /// Whether `unit` forked children recorded in its shared-memory group.
    static func hasMembers(_ unit: ReplayUnit) -> Bool {
        unit.forkedChildren.values.contains { $0.sharedWithParent != nil }
    }

    static func key(_ unit: ReplayUnit) -> ImageKey { ImageKey(pid: unit.pid, start: unit.startSequence) }

    /// A group led by `leaders` (one exec image, or several joined at a mapping); each
    /// leader's `group` is set to it.
    init(leaders: [ProcessReplay<Tracker>]) {
        self.leaders = leaders
        members = leaders
        var all: [(image: ImageKey, stop: ScheduledStop)] = []
        func collect(_ unit: ReplayUnit) {
            all += unit.stops.map { (Self.key(unit), $0) }
            for child in unit.forkedChildren.values where child.sharedWithParent != nil { collect(child) }
        }
        for l in leaders { collect(l.unit) }
        stops = all.sorted { $0.stop.order < $1.stop.order }
        for l in leaders {
            memberByImage[Self.key(l.unit)] = l
            if memberByPid[l.unit.pid] == nil { memberByPid[l.unit.pid] = l }
            l.group = self
        }
    }

    /// A member created by `parent`'s replay of the fork that made it.
    func add(_ member: ProcessReplay<Tracker>, forkedBy parent: ProcessReplay<Tracker>) {
        members.append(member)
        forkedBy[ObjectIdentifier(member)] = parent
        memberByImage[Self.key(member.unit)] = member
        memberByPid[member.unit.pid] = member
    }

    /// Runs the group and returns the first leader's result (each other member's result is
    /// among the children of the member that forked it).
    func run(started: ContinuousClock.Instant) -> UnitResult {
        runAll(started: started)[0]
    }

    /// Runs the group and returns each leader's result, in `leaders` order; each other
    /// member's result is among the children of the member that forked it.
    func runAll(started: ContinuousClock.Instant) -> [UnitResult] {
        var current = leader
        var outcome: ReplayOutcome = .completed
        var lastOrder: UInt64 = 0
        do {
            for (image, stop) in stops {
                lastOrder = stop.order
                guard let member = memberByImage[image] else {
                    throw current.divergenceHere(tid: stop.tid, reason: "process \(image.pid) of the shared-memory group runs in the recording, but its fork was not replayed")
                }
                memberByPid[image.pid] = member
                // Kernel writes that completed before this stop, this member's included (a
                // mapping's recorded bytes come first, the other members' stores after).
                for m in members where m.hasPendingResults(before: stop.order) {
                    current = m
                    // A mapping made by one of these calls holds the bytes recorded at its
                    // exit; the object's content (the same bytes, with the labels that say
                    // where they came from) is that of the member that ran last while
                    // mapping it, copied again after the recorded bytes land.
                    let exits = Set(m.pendingResults.lazy.filter { $0.exitSequence < stop.order }.map(\.exitSequence))
                    let mapped = m.unit.sharedMappings.filter { exits.contains($0.from) }
                    let previous = mapped.map { owner[$0.object] }
                    synchronize(to: m, at: stop.order)
                    try m.applyPendingResults(before: stop.order)
                    for (span, before) in zip(mapped, previous) where before != nil {
                        owner[span.object] = before
                        heldVersion[ObjectIdentifier(m)]?[span.object] = nil  // the recorded bytes replaced them
                    }
                    if !mapped.isEmpty { synchronize(to: m, at: stop.order) }
                }
                current = member
                try checkRemoteWritesInFlight(before: stop, of: member)
                synchronize(to: member, at: stop.order)
                handOverUnmapped(by: member, before: stop)
                try member.replayStop(stop)
                executed.append((stop.order, image.pid))
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
        for m in members.dropFirst(leaders.count).reversed() {
            let result = m.finish(outcome: outcomeOf(m), seconds: seconds)
            forkedBy[ObjectIdentifier(m)]?.sharedMemoryChildren.append(result)
        }
        return leaders.map { $0.finish(outcome: outcomeOf($0), seconds: seconds) }
    }

    /// Makes the pages of every shared object `member` maps at stop `order` (bytes and
    /// labels) those of the member that ran last while mapping it. Only pages whose
    /// version `member` does not hold are copied (the owner's writes are found by
    /// `GuestMemory.watchWrites`, armed when it took the object over). Pages either side
    /// has not mapped (yet) are left alone; the member owns an object once its pages are
    /// up to date.
    private func synchronize(to member: ProcessReplay<Tracker>, at order: UInt64) {
        // A program may map one object in pieces (SQLite maps its -shm file 32 KiB at a
        // time), each at its own address: the object's spans are handled together.
        var objects: [SharedObject] = []
        var spansOf: [SharedObject: [SharedMappingSpan]] = [:]
        for span in member.unit.sharedMappings where span.isLive(at: order) {
            if spansOf[span.object] == nil { objects.append(span.object) }
            spansOf[span.object, default: []].append(span)
        }
        for object in objects {
            let spans = spansOf[object] ?? []
            guard let from = owner[object], from !== member else {
                if owner[object] == nil { take(object, spans, by: member) }
                continue
            }
            // The owner's mappings of the object now, or its last one (it exited or
            // unmapped since: its replay memory keeps the pages it exited with; unmapped
            // pages are skipped).
            let ownerSpans = from.unit.sharedMappings.filter { $0.object == object && $0.from < order }
            let live = ownerSpans.filter { $0.isLive(at: order) }
            let sources = live.isEmpty ? Array(ownerSpans.suffix(1)) : live
            guard !sources.isEmpty else {
                take(object, spans, by: member)
                continue
            }
            let versions = pageVersionsAfterWrites(of: from, in: sources)
            var held = heldVersion[ObjectIdentifier(member)]?[object] ?? [:]
            var complete = true
            for span in spans {
                for source in sources {
                    // The object's bytes both map: [start, end) in object offsets
                    // (page-aligned: mmap offsets are, shmat's is 0).
                    let start = max(span.offset, source.offset)
                    let end = min(span.offset &+ UInt64(span.range.count), source.offset &+ UInt64(source.range.count))
                    guard start < end else { continue }
                    var offset = start
                    while offset < end {
                        let index = offset / GuestMemory.pageSize
                        let at = span.range.lowerBound &+ (offset &- span.offset)
                        let sourceAt = source.range.lowerBound &+ (offset &- source.offset)
                        let length = Int(min(GuestMemory.pageSize, end &- offset))
                        let current = versions[index] ?? 0
                        if held[index] != current {
                            if from.machine.memory.isMapped(sourceAt), member.machine.memory.isMapped(at),
                               let bytes = try? from.machine.memory.readBytes(at: sourceAt, count: length) {
                                try? member.machine.memory.writeBytes(bytes, at: at)
                                member.machine.tracker.adoptMemoryLabels(from: from.machine.tracker, source: sourceAt,
                                                                         destination: at, length: length)
                                held[index] = current
                                pagesCopied += 1
                            } else {
                                complete = false
                            }
                        }
                        offset &+= UInt64(length)
                    }
                }
            }
            heldVersion[ObjectIdentifier(member), default: [:]][object] = held
            if complete { take(object, spans, by: member) }
        }
    }

    /// Before `stop` of `member` unmaps (munmap, shmdt) a mapping of an object it owns:
    /// another member mapping the object then takes its content over, since replay drops
    /// the unmapped pages with the mapping (an exit or exec keeps them). A writer that
    /// stores into SQLite's -shm file and closes its connection before the reader looks
    /// is the case. Cost: `synchronize` for that member.
    private func handOverUnmapped(by member: ProcessReplay<Tracker>, before stop: ScheduledStop) {
        guard case .syscall(_, let exit) = stop.stop else { return }
        for span in member.unit.sharedMappings where span.until == exit && owner[span.object] === member {
            let heir = members.first { m in
                m !== member && m.unit.sharedMappings.contains { $0.object == span.object && $0.isLive(at: stop.order) && $0.isLive(at: exit &+ 1) }
            }
            if let heir { synchronize(to: heir, at: stop.order) }
        }
    }

    /// `member` owns `object` from now on: its writes to the object's pages are watched.
    private func take(_ object: SharedObject, _ spans: [SharedMappingSpan], by member: ProcessReplay<Tracker>) {
        owner[object] = member
        for span in spans { member.machine.memory.watchWrites(address: span.range.lowerBound, length: UInt64(span.range.count)) }
    }

    /// The object's page versions once the pages `owner` wrote in `spans` (all of one
    /// object) are noted (`noteWrites`).
    private func pageVersionsAfterWrites(of owner: ProcessReplay<Tracker>, in spans: [SharedMappingSpan]) -> [UInt64: UInt64] {
        for span in spans { noteWrites(of: owner, in: span) }
        return spans.first.map { pageVersion[$0.object] ?? [:] } ?? [:]
    }

    /// The pages of `span` that `owner` (about to hand its object over) wrote since it took
    /// the object, or that were never watched: a new version of each, which it holds.
    private func noteWrites(of owner: ProcessReplay<Tracker>, in span: SharedMappingSpan) {
        let memory = owner.machine.memory
        var versions = pageVersion[span.object] ?? [:]
        var held = heldVersion[ObjectIdentifier(owner)]?[span.object] ?? [:]
        var page = span.range.lowerBound
        while page < span.range.upperBound {
            if memory.isMapped(page), memory.mayHaveBeenWritten(pageNumber: page >> GuestMemory.pageShift) {
                let index = (span.offset &+ (page &- span.range.lowerBound)) / GuestMemory.pageSize
                self.versions += 1
                versions[index] = self.versions
                held[index] = self.versions
            }
            page &+= GuestMemory.pageSize
        }
        _ = memory.takeWrittenPages(address: span.range.lowerBound, length: UInt64(span.range.count))
        pageVersion[span.object] = versions
        heldVersion[ObjectIdentifier(owner), default: [:]][span.object] = held
    }

    /// The process another process's syscall writes into: process_vm_writev(2), or
    /// pwrite64 through `/proc/PID/mem` (`SharedMemoryGroups.memoryFileWrite`); nil for
    /// anything else, or a write into the caller itself.
    static func remoteWriteTarget(_ event: SyscallEvent, caller: Int32) -> Int32? {
        if SyscallTable.graphRole(event.number) == .processVMWrite, event.result > 0, let target = event.arguments.first {
            let pid = Int32(truncatingIfNeeded: target)
            return pid == caller ? nil : pid
        }
        if let write = SharedMemoryGroups.memoryFileWrite(event, caller: caller), write.target != caller { return write.target }
        return nil
    }

    /// process_vm_writev(2) or a pwrite64 through `/proc/PID/mem` by `member` into another
    /// member of the group: the `result` bytes the kernel copied go from the caller's local
    /// iovecs (or buffer) into the target's remote ones (or the file offset, an address),
    /// with their labels, when the call's result is applied (the target's shared pages are
    /// brought up to date first, so the target then holds the objects' newest bytes). When a
    /// third member ran user code between the call's entry and exit, the trace cannot order
    /// its loads against the copy: replay stops there. Cost: the bytes copied.
    func applyRemoteWrite(_ event: SyscallEvent, by member: ProcessReplay<Tracker>, tid: Int32, exitSequence: UInt64) throws {
        guard let targetPid = Self.remoteWriteTarget(event, caller: member.unit.pid),
              let target = memberByPid[targetPid], target !== member else { return }
        let name = SyscallTable.name(event.number)
        for (order, pid) in executed.reversed() {
            if order <= event.entrySequence { break }
            guard order < exitSequence, pid != member.unit.pid else { continue }
            throw NotReplayable(
                tid: tid, instructionCount: member.machine.instructionCount, sequence: event.entrySequence,
                reason: "shared-memory group: the trace cannot order \(name) @\(event.entrySequence)-@\(exitSequence) of process \(member.unit.pid) into process \(target.unit.pid) while process \(pid) ran user code (@\(order))")
        }
        let local: [(base: UInt64, length: UInt64)], remote: [(base: UInt64, length: UInt64)]
        if let write = SharedMemoryGroups.memoryFileWrite(event, caller: member.unit.pid) {
            local = [(write.source, UInt64(write.length))]
            remote = [(write.address, UInt64(write.length))]
        } else {
            guard event.arguments.count >= 5 else { return }
            func iovecs(_ address: UInt64, _ count: UInt64) throws -> [(base: UInt64, length: UInt64)] {
                guard count <= 1024 else { throw member.divergenceHere(tid: tid, reason: "process_vm_writev with \(count) iovecs (IOV_MAX is 1024)") }
                guard count > 0 else { return [] }
                let bytes = try member.machine.memory.readBytes(at: address, count: Int(count) * 16)
                return (0..<Int(count)).map { (bytes.loadUInt64(at: $0 * 16), bytes.loadUInt64(at: $0 * 16 + 8)) }
            }
            local = try iovecs(event.arguments[1], event.arguments[2]).filter { $0.length > 0 }
            remote = try iovecs(event.arguments[3], event.arguments[4]).filter { $0.length > 0 }
        }
        synchronize(to: target, at: exitSequence)
        var remaining = UInt64(event.result)
        var l = 0, r = 0, lOffset: UInt64 = 0, rOffset: UInt64 = 0
        while remaining > 0, l < local.count, r < remote.count {
            let n = min(remaining, local[l].length - lOffset, remote[r].length - rOffset, 1 << 20)
            let from = local[l].base &+ lOffset, to = remote[r].base &+ rOffset
            do {
                let bytes = try member.machine.memory.readBytes(at: from, count: Int(n))
                try target.machine.memory.writeBytes(bytes, at: to)
            } catch {
                throw member.divergenceHere(tid: tid, reason: "\(name) copied \(n) bytes from 0x\(String(from, radix: 16)) to 0x\(String(to, radix: 16)) in process \(target.unit.pid), which replay cannot: \(error)")
            }
            target.machine.tracker.adoptMemoryLabels(from: member.machine.tracker, source: from, destination: to, length: Int(n))
            remaining -= n
            lOffset += n; rOffset += n
            if lOffset == local[l].length { l += 1; lOffset = 0 }
            if rOffset == remote[r].length { r += 1; rOffset = 0 }
        }
    }

    /// Stops replay before `stop` of `member` when another member's write into a group
    /// member's memory (process_vm_writev, pwrite64 through /proc/PID/mem) was in the kernel
    /// then (entered before the stop, exits after it): the trace cannot say whether
    /// `member`'s user code saw the bytes.
    private func checkRemoteWritesInFlight(before stop: ScheduledStop, of member: ProcessReplay<Tracker>) throws {
        for m in members where m !== member {
            for pending in m.pendingResults where pending.exitSequence > stop.order && pending.event.entrySequence < stop.order {
                let event = pending.event
                guard let target = Self.remoteWriteTarget(event, caller: m.unit.pid), memberByPid[target] != nil else { continue }
                throw NotReplayable(
                    tid: stop.tid, instructionCount: member.machine.instructionCount, sequence: event.entrySequence,
                    reason: "shared-memory group: the trace cannot order \(SyscallTable.name(event.number)) @\(event.entrySequence)-@\(pending.exitSequence) of process \(m.unit.pid) into process \(target) while process \(member.unit.pid) ran user code (@\(stop.order))")
            }
        }
    }

    /// Stops replay when `event` of `member` (its exit at `exitSequence`) wrote shared
    /// pages while another member ran user code between the call's entry and exit: the
    /// trace cannot say whether that member's loads saw the bytes.
    func checkKernelWrites(_ event: SyscallEvent, by member: ProcessReplay<Tracker>, tid: Int32, exitSequence: UInt64) throws {
        let shared = member.unit.sharedMappings.filter { $0.isLive(at: exitSequence) }.map(\.range)
        let written = event.writes.filter { w in
            let range = w.address..<(w.address &+ UInt64(w.bytes.count))
            return shared.contains { $0.overlaps(range) }
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

extension ProcessReplay {
    /// pwrite64 through the process's own memory file (`/proc/self/mem`): the kernel copied
    /// `result` bytes from the buffer to the address the offset names, ignoring page
    /// protection; replay makes the same copy, labels included, when the result is applied.
    /// Cost: the bytes copied.
    func applyOwnMemoryWrite(_ event: SyscallEvent, tid: Int32) throws {
        guard let write = SharedMemoryGroups.memoryFileWrite(event, caller: unit.pid), write.target == unit.pid else { return }
        do {
            let bytes = try machine.memory.readBytes(at: write.source, count: write.length)
            try machine.memory.writeBytes(bytes, at: write.address)
        } catch {
            throw divergenceHere(tid: tid, reason: "pwrite64 through /proc/\(unit.pid)/mem copied \(write.length) bytes from 0x\(String(write.source, radix: 16)) to 0x\(String(write.address, radix: 16)), which replay cannot: \(error)")
        }
        machine.tracker.adoptMemoryLabels(from: machine.tracker, source: write.source, destination: write.address, length: write.length)
    }
}
