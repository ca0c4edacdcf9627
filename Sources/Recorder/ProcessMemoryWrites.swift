// Writes through /proc/PID/mem (proc(5)): the kernel lets a process write its own memory,
// or that of a process it may ptrace, through this file, ignoring page protection. The
// supervisor keeps pages of its own in every tracee (the scratch area the kernel reads
// copied arguments from, ScratchArguments.swift; the syscall buffer's trusted page), so a
// write there could forge what the kernel is given. The guard therefore lets a recorded
// process open a recorded process's memory file for writing, and write it only with
// pwrite64, whose count and offset are registers the kernel uses as the guard saw them:
// the range [offset, offset + count) must miss the target's supervisor pages. Every other
// write-family call on such a descriptor (write and writev at the file position another
// process sharing the description could move, pwritev's iovecs, sendfile, splice,
// copy_file_range) is refused with EPERM and recorded as refused. With the syscall buffer
// on, buffered writes never stop at the guard, so opening a memory file for writing stays
// refused there.
//
// A write into another process is a store with no syscall of the target, like a store
// into shared memory: at the open the writer and the target merge into one shared-memory
// group (SharedMemoryScheduling.swift), flagged `joinedSharedMemoryGroup`, and replay
// applies each pwrite64 when its result is (Replayer/SharedMemoryGroups.swift).

import CSupport
import Glibc
import Syscalls
import Trace

extension TraceeGuard {
    /// Calls that write through a descriptor (or could, for splice-like calls whose input
    /// is the memory file): on a memory file only pwrite64 is let through.
    static let descriptorWrites: Set<Int> = Set([
        "write", "writev", "pwrite64", "pwritev", "pwritev2", "sendfile", "splice", "copy_file_range", "tee",
        "fallocate", "ftruncate",
    ].compactMap { SyscallTable.number(named: $0) })

    static let pwrite64 = SyscallTable.number(named: "pwrite64") ?? 18

    /// The process a canonical `/proc/PID/mem` or `/proc/PID/task/TID/mem` path names.
    static func processMemoryTarget(_ path: String) -> Int32? {
        guard isProcessMemory(path) else { return nil }
        return path.split(separator: "/").dropFirst().first.flatMap { Int32($0) }
    }

    /// The refusal, if any, for `spec` on the memory file `path`: an open (`writing` says
    /// whether for writing; nil for any other call) or a call on a descriptor naming it.
    func checkProcessMemory(spec: SyscallSpec, _ a: [UInt64], _ path: String, writing: Bool?,
                            processMemory: ((Int32) -> [Range<UInt64>]?)?) -> Refusal? {
        let target = Self.processMemoryTarget(path)
        let reserved = processMemory.flatMap { lookup in target.flatMap(lookup) }
        if let writing {
            guard writing else { return nil }
            if reserved != nil { return nil }
            return Refusal(errno: EPERM, reason: "\(spec.name) of \(path) for writing (the supervisor's scratch pages; "
                           + (processMemory == nil ? "not while the syscall buffer is on)" : "not a recorded process)"))
        }
        guard Self.descriptorWrites.contains(spec.number) else { return nil }
        if spec.number == Self.pwrite64, a.count >= 4, let reserved {
            let start = a[3], end = a[3] &+ a[2]
            if end < start { return Refusal(errno: EPERM, reason: "pwrite64 into \(path) past the end of the address space") }
            if let hit = reserved.first(where: { $0.overlaps(start..<max(end, start &+ 1)) }) {
                return Refusal(errno: EPERM, reason: "pwrite64 into \(path) at 0x\(String(start, radix: 16)), over the supervisor's pages at 0x\(String(hit.lowerBound, radix: 16))")
            }
            return nil
        }
        return Refusal(errno: EPERM, reason: "\(spec.name) on \(path): a process's memory is written only with pwrite64 at an explicit offset, which the recorder checks against its own pages")
    }
}

extension Supervisor {
    /// The supervisor's pages in the recorded process `pid` (its scratch areas and trusted
    /// page), nil when `pid` is no recorded process. Cost: a pass over the tasks.
    func supervisorPages(inProcess pid: Int32) -> [Range<UInt64>]? {
        guard let task = tasks[pid] ?? tasks.values.first(where: { $0.tgid == pid }) else { return nil }
        return scratchRanges(sharingWith: task) + trustedPageRanges(task)
    }

    /// At the exit of a successful open (descriptor `fd`) of another recorded process's
    /// memory file for writing: merges the caller's scheduling group with the target's, so
    /// that its pwrite64 stores are ordered against the target's user code as a shared
    /// mapping's are. Returns whether it merged. The access mode comes from
    /// `/proc/TID/fdinfo/FD` (its `flags:` line, octal), as the kernel opened the file.
    func joinProcessMemoryWriter(_ task: TracedTask, fd: Int64, objects: [ObjectIdentity]) -> Bool {
        guard let path = objects.first(where: { TraceeGuard.isProcessMemory($0.resolved) })?.resolved,
              let target = TraceeGuard.processMemoryTarget(path), target != task.tgid,
              tasks.values.contains(where: { $0.tgid == target }),
              let bytes = try? readAll(path: "/proc/\(task.tid)/fdinfo/\(fd)") else { return false }
        let flags = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("flags:") }
            .flatMap { Int($0.dropFirst(6).trimmingCharacters(), radix: 8) } ?? 0
        guard flags & 3 != 0 /* O_WRONLY or O_RDWR */ else { return false }
        mergeSchedulingGroups(of: [task.tgid, target])
        return true
    }
}
