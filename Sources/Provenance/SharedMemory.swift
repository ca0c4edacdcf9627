// Memory shared without a syscall per byte: shared mappings of files and memfds,
// MAP_SHARED|MAP_ANONYMOUS memory inherited across fork, SysV segments, and writes through
// /proc/PID/mem.
//
// A store into a shared mapping reaches its object with no syscall to see, and a load from
// one sees what other address spaces stored with none either. The coarse graph therefore
// treats each shared mapping as open for its whole life:
//
//   - writable: the address space is a sink of the object from the mapping (or the
//     mprotect that made it writable) until munmap, exec or exit. Every version of the
//     address space in that time may have stored: the object gets an edge from the current
//     version of the process (operation `shared store`, placement `mapOut`) whenever
//     anything else is about to read the object (a read, a mapping, a load by another
//     address space), at msync, munmap, shmdt, exec and exit, and at the end of the trace.
//   - readable: the object is a source of the address space. Before the address space
//     passes anything on (any flow out of it), the current version of each object it maps
//     (after the stores of every other address space that maps it writable) flows into it
//     (operation `shared load`, placement `mapIn`).
//
// Both edges are made lazily, only when a version changed since the last one, so an
// address space that only ever writes through its mapping gets one edge per version.
// Objects: a regular file or memfd (by inode), a SysV segment (`sysv-shm:ID`), anonymous
// shared memory (one entity per mmap, inherited by fork). Versions keep the time order: a
// store edge comes from the process version current when the object is read, never from a
// later one. The replay side of the story is in Replayer/SharedMemoryGroups.swift (the
// processes sharing memory replay together in one schedule, or are reported where the
// trace cannot order them) and in TaintRefinement (a store through shared memory is no
// taint sink: such pairs stay unverified, never refuted).

import Trace

/// One shared mapping of an address space.
struct SharedMapping {
    var start: UInt64
    var end: UInt64
    /// The object mapped: file, memfd, SysV segment or anonymous shared memory entity.
    var object: Int
    /// Object offset of `start`.
    var offset: Int64
    /// PROT_READ / PROT_WRITE / PROT_EXEC bits.
    var prot: Int32

    var writable: Bool { prot & 0x2 != 0 }
    var readable: Bool { prot & 0x5 != 0 }
}

enum Protection {
    static let read: Int32 = 0x1, write: Int32 = 0x2
}

extension BuilderState {
    // MARK: Mapping bookkeeping

    /// Registers a shared mapping of `object` at [start, end) in `space` (replacing what was
    /// mapped there, as MAP_FIXED does).
    func addSharedMapping(_ space: Int, _ mapping: SharedMapping, _ context: EventContext) {
        removeSharedMappings(space, mapping.start..<mapping.end, context)
        sharedMappings[space, default: []].append(mapping)
        mappersOf[mapping.object, default: []].insert(space)
    }

    /// Ends the shared mappings of `space` in `range` (munmap, shmdt, exec, exit): pending
    /// stores of the writable ones reach their objects first. Mappings that straddle the
    /// range keep their outside parts.
    func removeSharedMappings(_ space: Int, _ range: Range<UInt64>, _ context: EventContext) {
        guard let mappings = sharedMappings[space], mappings.contains(where: { overlaps($0, range) }) else { return }
        var kept: [SharedMapping] = []
        for m in mappings {
            guard overlaps(m, range) else { kept.append(m); continue }
            if m.writable { storeShared(from: space, into: m.object, context) }
            if m.start < range.lowerBound {
                var left = m
                left.end = range.lowerBound
                kept.append(left)
            }
            if m.end > range.upperBound {
                var right = m
                right.offset += Int64(range.upperBound - m.start)
                right.start = range.upperBound
                kept.append(right)
            }
        }
        setSharedMappings(space, kept)
    }

    /// mprotect: the part of each shared mapping in `range` gets `prot`.
    func protectSharedMappings(_ space: Int, _ range: Range<UInt64>, prot: Int32) {
        guard let mappings = sharedMappings[space], mappings.contains(where: { overlaps($0, range) }) else { return }
        var result: [SharedMapping] = []
        for m in mappings {
            guard overlaps(m, range) else { result.append(m); continue }
            let low = max(m.start, range.lowerBound), high = min(m.end, range.upperBound)
            if m.start < low { var left = m; left.end = low; result.append(left) }
            var middle = m
            middle.start = low; middle.end = high; middle.offset += Int64(low - m.start); middle.prot = prot
            result.append(middle)
            if high < m.end { var right = m; right.offset += Int64(high - m.start); right.start = high; result.append(right) }
        }
        setSharedMappings(space, result)
    }

    /// mremap: the shared mapping at `old` now lies at `newStart` with `newLength` bytes.
    func remapSharedMapping(_ space: Int, old: Range<UInt64>, newStart: UInt64, newLength: UInt64, _ context: EventContext) {
        guard let m = sharedMappings[space]?.first(where: { $0.start <= old.lowerBound && old.lowerBound < $0.end }) else { return }
        var moved = m
        moved.offset += Int64(old.lowerBound - m.start)
        moved.start = newStart
        moved.end = newStart &+ newLength
        // The old range is gone without a store being lost: the moved mapping still holds it.
        let stores = m.writable
        if stores { storeShared(from: space, into: m.object, context) }
        removeSharedMappings(space, old, context)
        addSharedMapping(space, moved, context)
    }

    /// A forked (or vforked) child shares its parent's shared mappings.
    func inheritSharedMappings(from parent: Int, to child: Int) {
        guard let mappings = sharedMappings[parent], !mappings.isEmpty else { return }
        sharedMappings[child] = mappings
        for m in mappings { mappersOf[m.object, default: []].insert(child) }
    }

    /// exec or the exit of an address space's last task: its shared mappings end.
    func addressSpaceEnded(_ space: Int, _ context: EventContext) {
        guard sharedMappings[space] != nil else { return }
        removeSharedMappings(space, 0..<UInt64.max, context)
        sharedMappings[space] = nil
    }

    /// msync: the writable shared mappings in `range` reach their objects now.
    func syncSharedMappings(_ space: Int, _ range: Range<UInt64>, _ context: EventContext) {
        for m in sharedMappings[space] ?? [] where m.writable && overlaps(m, range) {
            storeShared(from: space, into: m.object, context)
        }
    }

    /// At the end of the trace: stores of mappings still open (tasks the trace never saw exit).
    func flushSharedMappings() {
        for space in sharedMappings.keys.sorted() {
            for object in Set((sharedMappings[space] ?? []).filter(\.writable).map(\.object)).sorted() {
                let context = EventContext(sequence: lastSequence, time: lastTime, tid: leaderTID(space))
                storeShared(from: space, into: object, context)
            }
        }
    }

    func overlaps(_ m: SharedMapping, _ range: Range<UInt64>) -> Bool { m.start < range.upperBound && range.lowerBound < m.end }

    func setSharedMappings(_ space: Int, _ mappings: [SharedMapping]) {
        let before = Set((sharedMappings[space] ?? []).map(\.object))
        let after = Set(mappings.map(\.object))
        for gone in before.subtracting(after) {
            mappersOf[gone]?.remove(space)
            if mappersOf[gone]?.isEmpty == true { mappersOf[gone] = nil }
        }
        sharedMappings[space] = mappings.isEmpty ? nil : mappings
    }

    func leaderTID(_ space: Int) -> Int32 {
        Int32(truncatingIfNeeded: entities[space].attributes["tid"]?.intValue ?? 0)
    }

    // MARK: Flows

    /// Called before every flow out of `source`: a process passes on what it loaded from
    /// its shared mappings (after the other address spaces' stores); an object read by
    /// anyone holds what the address spaces mapping it writable stored.
    func syncSharedMemory(before source: Int, _ context: EventContext) {
        guard !syncingSharedMemory else { return }
        syncingSharedMemory = true
        defer { syncingSharedMemory = false }
        if entities[source].kind == .process {
            guard let mappings = sharedMappings[source] else { return }
            var objects: [Int] = []
            for m in mappings where m.readable && !objects.contains(m.object) { objects.append(m.object) }
            for object in objects {
                storeAll(into: object, except: source, context)
                loadShared(from: object, into: source, context)
            }
        } else if mappersOf[source] != nil {
            storeAll(into: source, except: nil, context)
        }
    }

    func storeAll(into object: Int, except: Int?, _ context: EventContext) {
        for space in (mappersOf[object] ?? []).sorted() where space != except {
            if sharedMappings[space]?.contains(where: { $0.object == object && $0.writable }) == true {
                storeShared(from: space, into: object, context)
            }
        }
    }

    /// What `space` may have stored into `object` so far: an edge from its current version,
    /// unless that version already has one.
    func storeShared(from space: Int, into object: Int, _ context: EventContext) {
        guard let node = entities[space].current else { return }
        let key = Pair(source: space, target: object)
        if sharedStores[key] == node { return }
        sharedStores[key] = node
        let knewObject = entities[object].current.map { sharedLoads[Pair(source: object, target: space)] == $0 } ?? false
        let ranges = (sharedMappings[space] ?? []).filter { $0.object == object }
        let at = EventContext(sequence: context.sequence, time: context.time, tid: leaderTID(space))
        let wasSyncing = syncingSharedMemory
        syncingSharedMemory = true
        let edge = flow(from: space, to: object, "shared store", at, attributes: ["sharedMemory": .bool(true)])
        syncingSharedMemory = wasSyncing
        for m in ranges {
            place(edge, .mapOut, stream: object, offset: m.offset, length: Int64(m.end - m.start), at, operation: "shared store")
        }
        // The space's own store tells it nothing new about the object.
        if knewObject, let current = entities[object].current { sharedLoads[Pair(source: object, target: space)] = current }
    }

    /// What `space` may have loaded from `object`: an edge from the object's current
    /// version, unless the space already has it.
    func loadShared(from object: Int, into space: Int, _ context: EventContext) {
        let node = self.node(of: object, context)
        let key = Pair(source: object, target: space)
        if sharedLoads[key] == node { return }
        sharedLoads[key] = node
        let ranges = (sharedMappings[space] ?? []).filter { $0.object == object && $0.readable }
        let at = EventContext(sequence: context.sequence, time: context.time, tid: leaderTID(space))
        let wasSyncing = syncingSharedMemory
        syncingSharedMemory = true
        let edge = flow(from: object, to: space, "shared load", at, attributes: ["sharedMemory": .bool(true)])
        syncingSharedMemory = wasSyncing
        for m in ranges {
            place(edge, .mapIn, stream: object, offset: m.offset, length: Int64(m.end - m.start), at, operation: "shared load")
        }
    }

    // MARK: Syscalls

    /// munmap, mprotect, mremap, msync.
    func mappingChange(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        guard call.succeeded, sharedMappings[task.entity] != nil else { return }
        let start = call.argument(0), length = call.argument(1)
        let range = start..<(start &+ max(length, 1))
        switch SyscallFamily.of(call.number) {
        case .unmap: removeSharedMappings(task.entity, range, context)
        case .protect: protectSharedMappings(task.entity, range, prot: call.int32(2))
        case .syncMapping: syncSharedMappings(task.entity, range, context)
        default:  // mremap: the result is the new address, argument 2 the new length
            remapSharedMapping(task.entity, old: range, newStart: UInt64(bitPattern: call.result), newLength: call.argument(2),
                               context)
        }
    }

    /// shmget, shmat, shmdt.
    func sysVSharedMemory(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        guard call.succeeded else { return failureWithoutObject(task, name, call.errno, context) }
        switch SyscallFamily.of(call.number) {
        case .sharedMemoryGet:
            let segment = sysVSegment(Int64(call.result))
            if sharedSegmentSize[segment] == nil || call.argument(1) > 0 {
                sharedSegmentSize[segment] = (call.argument(1) + 4095) & ~4095
            }
            annotate(from: task.entity, to: segment, name, context)
        case .sharedMemoryAttach:
            let segment = sysVSegment(call.int64(0))
            let start = UInt64(bitPattern: call.result)
            // An attach of a segment whose shmget the trace did not show: its size is unknown.
            let length = sharedSegmentSize[segment] ?? (1 << 30)
            let prot = call.int32(2) & 0o10000 != 0 ? Protection.read : Protection.read | Protection.write  // SHM_RDONLY
            annotate(from: task.entity, to: segment, name, context)
            addSharedMapping(task.entity, SharedMapping(start: start, end: start &+ length, object: segment, offset: 0,
                                                        prot: prot), context)
        default:  // shmdt: the segment attached at the address
            let start = call.argument(0)
            if let m = sharedMappings[task.entity]?.first(where: { $0.start == start }) {
                removeSharedMappings(task.entity, m.start..<m.end, context)
            }
        }
    }

    func sysVSegment(_ id: Int64) -> Int {
        lookupOrCreate(key: "sysv-shm:\(id)", kind: .other, label: "SysV shared memory \(id)")
    }

    /// Anonymous shared memory (MAP_SHARED|MAP_ANONYMOUS): an object of its own, shared with
    /// the children forked while it is mapped.
    func anonymousSharedMapping(_ call: SyscallEvent, _ task: TaskState, _ context: EventContext) {
        let start = UInt64(bitPattern: call.result), length = call.argument(1)
        let pid = entities[task.entity].attributes["pid"]?.intValue ?? Int64(task.pid)
        let object = newEntity(key: syntheticKey("shared-memory:\(pid)", context), kind: .other,
                               label: "shared memory of pid \(pid) at 0x\(String(start, radix: 16))")
        annotate(from: task.entity, to: object, "mmap", context)
        addSharedMapping(task.entity, SharedMapping(start: start, end: start &+ length, object: object, offset: 0,
                                                    prot: call.int32(2)), context)
    }

    // MARK: /proc/PID/mem

    /// The process a `/proc/PID/mem` (or `/proc/PID/task/TID/mem`, `/proc/self/mem`) path
    /// names, if it is one.
    func memoryFileTarget(_ path: String, _ task: TaskState, _ context: EventContext) -> Int? {
        guard path.hasPrefix("/proc/"), path.hasSuffix("/mem") else { return nil }
        let parts = path.split(separator: "/")
        guard parts.count == 3 || (parts.count == 5 && parts[2] == "task") else { return nil }
        if parts[1] == "self" || parts[1] == "thread-self" { return task.entity }
        guard let pid = Int32(parts[1]) else { return nil }
        if parts.count == 5, let tid = Int32(parts[3]), let e = taskEntityByTID[tid] { return e }
        return processEntity(pid: pid, context)
    }

    /// A write of `length` bytes at address `address` through /proc/PID/mem: the target
    /// process's memory changes (an edge when it is another process), and the bytes that
    /// land in one of its shared mappings reach that mapping's object.
    func memoryFileWrite(into target: Int, address: Int64?, length: Int64, _ name: String, _ task: TaskState,
                         _ context: EventContext) {
        if target != task.entity {
            flow(from: task.entity, to: target, name, context, bytes: length, attributes: ["via": .string("/proc/PID/mem")])
        }
        guard let address, length > 0 else {
            // Where it went is unknown: every shared mapping of the target may have changed.
            for m in sharedMappings[target] ?? [] { flow(from: task.entity, to: m.object, name, context, bytes: length) }
            return
        }
        let range = UInt64(bitPattern: address)..<(UInt64(bitPattern: address) &+ UInt64(length))
        for m in sharedMappings[target] ?? [] where overlaps(m, range) {
            let low = max(m.start, range.lowerBound), high = min(m.end, range.upperBound)
            let objectOffset = m.offset + Int64(low - m.start)
            let edge = flow(from: task.entity, to: m.object, name, context, bytes: Int64(high - low), offset: objectOffset,
                            attributes: ["via": .string("/proc/PID/mem")])
            // Event byte 0 is at the write's address; when the write starts before the
            // mapping that offset is outside the object, and the placement says unknown.
            let eventStart = range.lowerBound >= m.start ? objectOffset : nil
            place(edge, .contentOut, stream: m.object, offset: eventStart, length: length, context, operation: name)
        }
    }
}
