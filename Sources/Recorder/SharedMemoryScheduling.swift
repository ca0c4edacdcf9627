// Processes that share writable memory are scheduled like threads of one process
// (DESIGN.md, "Security model, in the recorder"): a store by one is a load by another with
// no syscall between, so the only way to make the order of those accesses an input the
// trace holds is to let one member run user code at a time and record the switches.
//
// A forked child joins its parent's shared-memory group when the parent holds a writable
// `MAP_SHARED` mapping at the fork (anonymous shared memory, a memfd, a file, a SysV
// segment: `/proc/PID/maps` shows each as `rw?s`). The group takes over the parent's
// `ThreadGroup` (the token, the ready queue, the last task scheduled) under a key of its
// own, and every thread of every member queues there. The child's `TaskStart` names the
// group (`sharedMemoryGroup`), which tells replay to run the members together
// (Replayer/SharedMemoryGroups.swift). A member leaves at exec (a new address space).
//
// Preemption points: the watchdog stops a member anywhere in user code; replay finds the
// point by its registers. A loop that only increments shared memory repeats its registers,
// so a member's preemption also records a fingerprint of its writable shared pages
// (`SharedPagesFingerprint`), which replay checks too. Mappings over `fingerprintLimit`
// bytes in total are not fingerprinted (the registers alone then decide).
//
// Processes that come to share memory without a fork (each `shmat`s one segment, or maps
// one memfd or file `MAP_SHARED`) merge into one group at the exit of the mapping call that
// makes them share (or of the `mprotect` that makes a read-only shared mapping writable): the mapping's (device, inode) in `/proc/PID/maps` names the object (a
// SysV segment's inode is its shmid), and every other traced process mapping the same
// object shared, either side writable, joins. The call is flagged
// `joinedSharedMemoryGroup`; replay recomputes who joined from the trace's mappings. When
// both groups had a member in user code, one keeps running and the other is preempted
// (PTRACE_INTERRUPT, recorded like a watchdog preemption); until that stop arrives both
// run, a window in which their accesses to the object are not ordered.

import CSupport
import Glibc
import Trace

extension Supervisor {
    /// Bytes of shared mappings fingerprinted at most per preemption (64 MiB).
    static var fingerprintLimit: UInt64 { 64 << 20 }

    /// The key of the scheduling group a process's threads queue in: its shared-memory
    /// group's, or its own thread-group id.
    func schedulingKey(_ tgid: Int32) -> Int32 { sharedMemoryGroupOf[tgid] ?? tgid }

    /// One line of `/proc/TID/maps` (proc(5)): the range, the four permission characters
    /// (`rwxs`/`rwxp`), the device (`major:minor`, as text) and the inode (as text).
    struct MapsEntry {
        var range: Range<UInt64>
        var permissions: [UInt8]
        var device: Substring
        var inode: Substring
        var writable: Bool { permissions[1] == UInt8(ascii: "w") }
        var shared: Bool { permissions[3] == UInt8(ascii: "s") }
    }

    /// The mappings of task `tid`, ascending; empty when `/proc/TID/maps` cannot be read.
    /// Cost: one read of the file.
    static func mapsEntries(tid: Int32) -> [MapsEntry] {
        guard let bytes = try? readAll(path: "/proc/\(tid)/maps") else { return [] }
        var entries: [MapsEntry] = []
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5, fields[1].utf8.count == 4 else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt64(bounds[0], radix: 16), let end = UInt64(bounds[1], radix: 16),
                  start < end else { continue }
            entries.append(MapsEntry(range: start..<end, permissions: Array(fields[1].utf8), device: fields[3], inode: fields[4]))
        }
        return entries
    }

    /// The writable `MAP_SHARED` mappings of task `tid` (`/proc/TID/maps` lines whose
    /// permissions read `?w?s`), ascending. Empty when the file cannot be read.
    static func writableSharedMappings(tid: Int32) -> [Range<UInt64>] {
        mapsEntries(tid: tid).filter { $0.writable && $0.shared }.map(\.range)
    }

    /// At a fork: puts the child in its parent's shared-memory group when the parent holds
    /// writable shared memory, creating the group (from the parent's thread group) on the
    /// first such fork. Returns the group's key, nil when the child is scheduled alone.
    func joinSharedMemoryGroup(child: Int32, parent: TracedTask) -> Int32? {
        guard !Self.writableSharedMappings(tid: parent.tid).isEmpty else { return nil }
        let key: Int32
        if let existing = sharedMemoryGroupOf[parent.tgid] {
            key = existing
        } else {
            key = freshSharedMemoryGroupKey(preferring: parent.tgid)
            sharedMemoryGroupOf[parent.tgid] = key
            groups[key] = groups.removeValue(forKey: parent.tgid) ?? ThreadGroup()
        }
        sharedMemoryGroupOf[child] = key
        // A first stop seen before the fork event queued nowhere yet, but made a group.
        if let own = groups[child], own.holder == nil, own.ready.isEmpty { groups[child] = nil }
        return key
    }

    /// A key no thread-group id can be and no live group holds: the negated pid of the
    /// first member, or the next free negative number below it.
    func freshSharedMemoryGroupKey(preferring tgid: Int32) -> Int32 {
        var key = -tgid
        while groups[key] != nil || sharedMemoryGroupOf.values.contains(key) { key = key == Int32.min ? -1 : key - 1 }
        return key
    }

    /// At the exit of a successful shared mapping call (`mmap` `MAP_SHARED` of a
    /// descriptor, `shmat`) that mapped at `address`, or of an `mprotect` that made the
    /// mapping at `address` writable (a private mapping there joins nothing): merges the
    /// caller's scheduling group
    /// with those of the other traced processes mapping the same object shared, when either
    /// side's mapping is writable. Returns whether any process joined. Cost: one read of
    /// `/proc/PID/maps` per traced process outside the caller's group.
    func joinProcessesSharing(_ task: TracedTask, at address: UInt64) -> Bool {
        guard let object = Self.mapsEntries(tid: task.tid).first(where: { $0.range.lowerBound == address }),
              object.shared, object.inode != "0" else { return false }
        let ownKey = schedulingKey(task.tgid)
        var representative: [Int32: Int32] = [:]  // tgid -> a live tid of it
        for other in tasks.values where schedulingKey(other.tgid) != ownKey {
            if representative[other.tgid] == nil || other.tid == other.tgid { representative[other.tgid] = other.tid }
        }
        // The object (a SysV segment's inode is its shmid), mapped shared, either side writable.
        let sharing = representative.filter { _, tid in
            Self.mapsEntries(tid: tid).contains {
                $0.shared && $0.device == object.device && $0.inode == object.inode && (object.writable || $0.writable)
            }
        }.map(\.key)
        guard !sharing.isEmpty else { return false }
        mergeSchedulingGroups(of: [task.tgid] + sharing)
        return true
    }

    /// Puts the processes `tgids` (and every process already scheduled with one of them)
    /// in one shared-memory group. One token holder survives; any other is preempted.
    func mergeSchedulingGroups(of tgids: [Int32]) {
        let sourceKeys = Set(tgids.map(schedulingKey))
        let key = sourceKeys.filter { $0 < 0 }.min() ?? freshSharedMemoryGroupKey(preferring: tgids[0])
        let parts = sourceKeys.sorted().compactMap { groups.removeValue(forKey: $0) }
        let merged = ThreadGroup()
        let holders = parts.compactMap(\.holder)
        merged.holder = holders.first
        merged.lastScheduled = parts.first { $0.holder != nil && $0.holder == merged.holder }?.lastScheduled
            ?? parts.compactMap(\.lastScheduled).first
        merged.ready = parts.flatMap(\.ready)
        let members = Set(tasks.values.map(\.tgid)).filter { sourceKeys.contains(schedulingKey($0)) }
        for tgid in members.union(tgids) { sharedMemoryGroupOf[tgid] = key }
        groups[key] = merged
        for holder in holders.dropFirst() {
            // Preempted like the watchdog does: its stop records the point and queues it.
            guard let task = tasks[holder], task.mode == .user, interruptDue(task, now: monotonicNanoseconds()) else { continue }
            requestInterrupt(task)
        }
    }

    /// At exec: the process has a new address space and leaves its shared-memory group.
    /// Its threads other than the exec'ing one are gone, and that one is in the kernel, so
    /// it holds no token and waits in no queue.
    func leaveSharedMemoryGroup(_ task: TracedTask) {
        guard sharedMemoryGroupOf.removeValue(forKey: task.tgid) != nil else { return }
        if groups[task.tgid] == nil { groups[task.tgid] = ThreadGroup() }
    }

    /// shmat: the segment's bytes at the attach, as a kernel write over the whole attached
    /// range (its length from `/proc/TID/maps`), so replay can map and fill it. Nil when
    /// the mapping cannot be found or read.
    func attachedSegmentBytes(_ task: TracedTask, at address: UInt64) -> MemoryWrite? {
        guard let entry = Self.mapsEntries(tid: task.tid).first(where: { $0.range.lowerBound == address }) else { return nil }
        let length = Int(entry.range.upperBound - address)
        if length > inlineEventLimit { return readIntoBlobs(task.access, address: address, length: length) }
        return task.access.readBytes(at: address, count: length).map { MemoryWrite(address: address, bytes: $0) }
    }

    /// The fingerprint of `task`'s writable shared pages at a preemption, when its process
    /// is in a shared-memory group (nil otherwise, or when they exceed `fingerprintLimit`
    /// or cannot be read).
    func sharedPagesFingerprint(_ task: TracedTask) -> SharedPagesFingerprint? {
        guard sharedMemoryGroupOf[task.tgid] != nil else { return nil }
        let ranges = Self.writableSharedMappings(tid: task.tid)
        guard !ranges.isEmpty, ranges.reduce(0, { $0 + ($1.upperBound - $1.lowerBound) }) <= Self.fingerprintLimit else {
            return nil
        }
        var pieces: [[UInt8]] = []
        for range in ranges {
            guard let bytes = task.access.readBytes(at: range.lowerBound, count: Int(range.upperBound - range.lowerBound)) else {
                return nil
            }
            pieces.append(bytes)
        }
        return SharedPagesFingerprint(ranges: ranges, hash: SharedPagesFingerprint.hash(pieces))
    }
}
