// Path arguments the kernel reads from memory only the supervisor writes (time of check /
// time of use, issue 11 part 2).
//
// The supervisor reads a path at the syscall entry; the kernel reads it again when the
// syscall runs. A sibling thread, or another process sharing the page, can change the
// bytes in between, and the trace would name a file the kernel never touched. rr's answer,
// followed here: copy the bytes the supervisor read into a scratch area of the task and
// point the argument register at the copy; restore the register at the syscall exit (the
// x86-64 syscall ABI preserves it, and compiled code relies on that).
//
// The scratch area is one read-only private anonymous mapping per thread (3 pages: one
// slot per path argument), created by an injected mmap at the thread's first path syscall:
// the entry stop is turned into mmap, and on its exit the original registers are put back
// with rip on the `syscall` instruction again, so the original call re-enters (and stops)
// as if nothing had happened. The supervisor writes it through /proc/PID/mem, which
// ignores the page protection; the tracee cannot write it, and the guard refuses the calls
// that would change it (mprotect, munmap, mremap, MAP_FIXED, madvise over it; opening any
// /proc/PID/mem for writing). The mapping is not in the trace: replay never needs it, the
// program never reads it, and every later mmap result is recorded as the kernel gave it.

import CSupport
import Glibc
import Syscalls
import SystemPackage
import Trace

/// The registers that carry syscall arguments 0...5 (x86-64 syscall ABI).
let argumentRegisters: [RegisterFile.Index] = [.rdi, .rsi, .rdx, .r10, .r8, .r9]

/// A thread's scratch mapping.
struct ScratchArea: Equatable {
    let address: UInt64
    static let slotSize: UInt64 = 4096  // PATH_MAX, terminating NUL included
    static let slots = 3
    static var length: UInt64 { slotSize * UInt64(slots) }
    var range: Range<UInt64> { address..<(address + ScratchArea.length) }
}

extension Supervisor {
    /// Maps the task's scratch area with an injected mmap, at a syscall-entry stop of a
    /// 2-byte `syscall` instruction. The task is then resumed to re-enter the same syscall,
    /// whose next entry stop the supervisor handles as usual. Cost: one mmap and two stops,
    /// once per thread.
    /// - Returns: whether the injection ran (the caller must then not handle this entry);
    ///   false when it could not, and the entry goes on without a scratch area.
    func injectScratchMapping(_ task: TracedTask) throws -> Bool {
        let access = task.access
        let saved = try access.registers()
        guard let instruction = access.readBytes(at: saved[.rip] &- 2, count: 2), instruction == [0x0f, 0x05] else {
            task.scratchUnavailable = true
            return false
        }
        var regs = saved
        regs[.origRax] = UInt64(SyscallTable.Number.mmap)
        regs[.rdi] = 0
        regs[.rsi] = ScratchArea.length
        regs[.rdx] = UInt64(PROT_READ)
        regs[.r10] = UInt64(MAP_PRIVATE | MAP_ANONYMOUS)
        regs[.r8] = UInt64.max
        regs[.r9] = 0
        try access.setRegisters(regs)
        try access.resume(PtraceRequest.syscall)
        var status: Int32 = 0
        var r: Int32
        repeat { r = waitpid(task.tid, &status, __WALL) } while r < 0 && errno == EINTR  // the periodic timer
        guard r == task.tid, mp_wifstopped(status) != 0, mp_wstopsig(status) == SIGTRAP | 0x80 else {
            // Died on the way (SIGKILL): let the main loop see it.
            task.scratchUnavailable = true
            if r == task.tid { handle(tid: r, status: status) }
            return true
        }
        let result = Int64(bitPattern: try access.registers()[.rax])
        if result > 0 && result < 1 << 47 {
            task.scratch = ScratchArea(address: UInt64(result))
        } else {
            task.scratchUnavailable = true
            log("magprov: task \(task.tid): no scratch area for path arguments (mmap: \(result)); paths are read in place")
        }
        var restored = saved
        restored[.rip] = saved[.rip] &- 2
        restored[.rax] = saved[.origRax]
        try access.setRegisters(restored)
        try access.resume(PtraceRequest.cont)
        return true
    }

    /// Copies path `bytes` (read at entry, without the NUL) into scratch slot `slot` and
    /// points argument `index` at the copy.
    /// - Returns: whether the register now points at the copy.
    func redirectPathArgument(_ task: TracedTask, index: Int, slot: Int, bytes: [UInt8],
                              registers regs: inout RegisterFile) -> Bool {
        guard let scratch = task.scratch, slot < ScratchArea.slots, UInt64(bytes.count) < ScratchArea.slotSize else { return false }
        let address = scratch.address + UInt64(slot) * ScratchArea.slotSize
        guard writeScratch(task, bytes + [0], at: address) else { return false }
        regs[argumentRegisters[index]] = address
        return true
    }

    /// Writes through the task's /proc/PID/mem, kept open per task (one pwrite per path
    /// instead of open, pwrite, close); reopened once if the descriptor went stale.
    func writeScratch(_ task: TracedTask, _ bytes: [UInt8], at address: UInt64) -> Bool {
        for attempt in 0..<2 {
            if task.memoryFD < 0 { task.memoryFD = open("/proc/\(task.tid)/mem", O_RDWR | O_CLOEXEC) }
            guard task.memoryFD >= 0 else { return false }
            let memory = FileDescriptor(rawValue: task.memoryFD)
            let n = try? bytes.withUnsafeBytes { try memory.write(toAbsoluteOffset: Int64(bitPattern: address), $0) }
            if n == bytes.count { return true }
            task.closeMemory()
            if attempt == 1 { break }
        }
        return false
    }

    /// The scratch areas of every thread sharing the task's address space.
    func scratchRanges(sharingWith task: TracedTask) -> [Range<UInt64>] {
        tasks.values.compactMap { $0.tgid == task.tgid ? $0.scratch?.range : nil }
    }
}

extension TaskAccess {
    /// The bytes of a NUL-terminated string (without the NUL), exactly as in memory, and
    /// whether the NUL was found within `limit` bytes.
    func readCStringBytes(at address: UInt64, limit: Int = 4096) -> (bytes: [UInt8], terminated: Bool)? {
        guard address != 0 else { return nil }
        var bytes: [UInt8] = []
        var cursor = address
        var chunkLength = 256
        while bytes.count < limit {
            let toPageEnd = Int(4096 - (cursor & 4095))
            guard let chunk = readBytes(at: cursor, count: min(toPageEnd, chunkLength, limit - bytes.count)) else {
                if chunkLength == 1 { break }
                chunkLength = chunkLength > 16 ? 16 : 1
                continue
            }
            if let nul = chunk.firstIndex(of: 0) { return (bytes + chunk[..<nul], true) }
            bytes += chunk
            cursor += UInt64(chunk.count)
        }
        return bytes.isEmpty ? nil : (bytes, false)
    }
}
