// Which process images cannot be replayed on their own: those whose memory another
// recorded process could write. Replay re-executes one process image at a time and injects
// what its syscalls returned; a store by another process into shared memory is no syscall
// of this one, so the trace does not have it, and the replay would load stale bytes —
// a divergence that looks like an interpreter bug, or worse a silent wrong taint result.
// Until such processes are recorded and replayed as one group (one runs at a time, switch
// order recorded, DESIGN.md "Security model, in the recorder"), the plan finds them and
// replay stops each one at the event after which its memory was no longer its own alone,
// with a located "shared-memory group not replayable yet" report.
//
// A process image is in a shared-memory group from:
//   - a fork while it holds a shared mapping either can store through (anonymous, SysV, or
//     a writable file mapping): parent and child, the child from its start;
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

    struct FileKey: Hashable { var device: UInt64; var inode: UInt64 }
    struct Mapping { var range: Range<UInt64>; var file: FileKey?; var path: String; var writable: Bool }

    init(events: [TraceEvent], pidOf: (Int32) -> Int32) {
        var mappings: [Int32: [Mapping]] = [:]
        var marked = Set<Int32>()
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
                    mark(p, e.sequence, group("attached SysV shared memory segment \(Int64(bitPattern: arguments[0])) (shmat @\(e.sequence)): other processes may store into it, and its bytes at the attach are not in the trace"))
                    let start = UInt64(bitPattern: s.result)
                    mappings[p, default: []].append(Mapping(range: start..<(start &+ 1), file: nil, path: "SysV segment \(arguments[0])",
                                                            writable: true))
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
