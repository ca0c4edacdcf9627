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

/// A thread's scratch mapping: `slots` path slots, then the data region a stopped write's
/// buffer is copied to (`copiedWriteBuffer`).
struct ScratchArea: Equatable {
    let address: UInt64
    static let slotSize: UInt64 = 4096  // PATH_MAX, terminating NUL included
    static let slots = 3
    /// Bytes of a write's buffer given to the kernel from the copy at most (64 KiB, what
    /// stdio and most programs hand one write); larger buffers are read in place.
    static let dataSize: UInt64 = 64 << 10
    static var length: UInt64 { slotSize * UInt64(slots) + dataSize }
    /// The start of the data region.
    var dataAddress: UInt64 { address + ScratchArea.slotSize * UInt64(ScratchArea.slots) }
    /// An exec's path goes to the last slot: the copy of the environment with the entries
    /// every exec keeps (`requireExecEnvironment`, ExecEnvironment.swift) fills the area
    /// from its start, below `environmentLimit`.
    static let execPathSlot = slots - 1
    var range: Range<UInt64> { address..<(address + ScratchArea.length) }
    /// Where the copy of an execve's environment must end.
    var environmentLimit: UInt64 { address + UInt64(ScratchArea.execPathSlot) * ScratchArea.slotSize }
}

/// A path argument as the supervisor read it at the syscall entry, and so what the kernel
/// must be given instead of the program's memory.
enum PathArgument: Equatable {
    /// A NUL-terminated path (without the NUL).
    case path([UInt8])
    /// PATH_MAX bytes without a NUL: the kernel answers ENAMETOOLONG when it reads the
    /// same bytes, so the copy is exactly those bytes, unterminated.
    case overlong([UInt8])
    /// Memory that could not be read (in part or whole) before any NUL: the kernel answers
    /// EFAULT when the argument points where no user memory can be (a sibling sharing the
    /// address space must not map the page in between).
    case unreadable
    /// Not a path: a socket address (`SyscallSpec.socketAddressArgument`), bytes the kernel
    /// copies by length, given as they were read.
    case buffer([UInt8])

    /// From `TaskAccess.readCStringBytes` (its limit must be `ScratchArea.slotSize`).
    init(_ read: (bytes: [UInt8], terminated: Bool)?) {
        guard let read else { self = .unreadable; return }
        if read.terminated { self = .path(read.bytes) }
        else if UInt64(read.bytes.count) >= ScratchArea.slotSize { self = .overlong(Array(read.bytes.prefix(Int(ScratchArea.slotSize)))) }
        else { self = .unreadable }
    }

    /// The lowest address of the kernel half on x86-64 (4-level paging's canonical upper
    /// half): `access_ok` refuses it, so the kernel's copy of the string fails with EFAULT.
    static let faultingAddress: UInt64 = 0xffff_8000_0000_0000
}

extension Supervisor {
    /// Maps the task's scratch area with an injected mmap, at a syscall-entry stop of a
    /// 2-byte `syscall` instruction. The task is then resumed to re-enter the same syscall,
    /// whose next entry stop the supervisor handles as usual. Cost: one mmap and two stops,
    /// once per thread.
    /// - Returns: whether the injection ran (the caller must then not handle this entry);
    ///   false when it could not, and the entry goes on without a scratch area.
    func injectScratchMapping(_ task: TracedTask) throws -> Bool {
        if let area = orphanedScratch[task.addressSpace]?.popLast() {
            task.scratch = area  // an exited thread's, still mapped and protected
            return false
        }
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

    /// Points argument `index` at what the kernel must read for `path`: a copy in scratch
    /// slot `slot` (with its NUL when it had one), or for an unreadable path an address no
    /// user memory can occupy.
    /// - Returns: whether the register was changed.
    func redirectPathArgument(_ task: TracedTask, index: Int, slot: Int, _ path: PathArgument,
                              registers regs: inout RegisterFile) -> Bool {
        guard let scratch = task.scratch, slot < ScratchArea.slots else { return false }
        let bytes: [UInt8]
        switch path {
        case .path(let p): bytes = p + [0]
        case .overlong(let p), .buffer(let p): bytes = p
        case .unreadable:
            regs[argumentRegisters[index]] = PathArgument.faultingAddress
            return true
        }
        guard UInt64(bytes.count) <= ScratchArea.slotSize else { return false }
        let address = scratch.address + UInt64(slot) * ScratchArea.slotSize
        guard writeScratch(task, bytes, at: address) else { return false }
        regs[argumentRegisters[index]] = address
        return true
    }

    /// The argument index and length of the buffer a data-writing call (flow `contentSink`,
    /// its length an argument: `write`, `pwrite64`, `sendto`, the `setxattr` family,
    /// `mq_timedsend`) hands the kernel, when it fits
    /// the scratch area's data region; nil otherwise (no such buffer, empty, too large).
    /// Its bytes are read once at the entry, digested, and given to the kernel from the
    /// copy (`redirectWriteBuffer`): a sibling that changes the buffer between the
    /// supervisor's read and the kernel's cannot make the recorded bytes differ from the
    /// written ones.
    static func copiedWriteBuffer(_ spec: SyscallSpec, arguments: [UInt64]) -> (index: Int, length: Int)? {
        guard spec.flow == .contentSink, spec.writes.isEmpty else { return nil }
        for (index, kind) in spec.arguments.enumerated() where spec.socketAddressArgument?.address != index {
            guard case .inBuffer(.argument(let n)) = kind else { continue }
            guard arguments[index] != 0, arguments[n] > 0, arguments[n] <= ScratchArea.dataSize else { return nil }
            return (index, Int(arguments[n]))
        }
        return nil
    }

    /// The argument index of the iovec array, and its count, of a vectored write (`writev`,
    /// `pwritev`, `pwritev2`) whose array and buffers may fit the data region (at most 64
    /// iovecs; whether the bytes fit is known once the array is read, `copyWriteIovec`).
    static func copiedWriteIovec(_ spec: SyscallSpec, arguments: [UInt64]) -> (index: Int, count: Int)? {
        // Not when the kernel may write through the iovecs (vmsplice on a pipe's read end
        // fills them: pointed at the read-only copy, it would fail with EFAULT).
        guard spec.flow == .contentSink, spec.graph == .write, spec.writes.isEmpty else { return nil }
        for (index, kind) in spec.arguments.enumerated() {
            guard case .inIovec(let countArgument) = kind else { continue }
            guard arguments[index] != 0, (1...64).contains(arguments[countArgument]) else { return nil }
            return (index, Int(arguments[countArgument]))
        }
        return nil
    }

    /// Reads a vectored write's iovec array and buffers once, as the kernel's copies would
    /// (`readUserBytes`), and lays them out for the data region: the array first, each
    /// entry pointing at its bytes after it (lengths unchanged). Nil when anything cannot be
    /// read or the whole exceeds the region: the call then reads the program's memory.
    /// - Returns: the region's bytes, and the digest of each non-empty buffer, under the
    ///   program's own address (as `readIovecInputs` records them).
    func copyWriteIovec(_ memory: TaskAccess, area: ScratchArea, at address: UInt64, count: Int)
        -> (region: [UInt8], inputs: [BufferDigest])? {
        let arrayLength = count * 16
        guard let raw = memory.readUserBytes(at: address, count: arrayLength) else { return nil }
        var array = [UInt8](), data = [UInt8](), inputs: [BufferDigest] = []
        array.reserveCapacity(arrayLength)
        for i in 0..<count {
            let base = raw.loadUInt64(at: i * 16), length = raw.loadUInt64(at: i * 16 + 8)
            guard length <= ScratchArea.dataSize, UInt64(arrayLength + data.count) + length <= ScratchArea.dataSize else { return nil }
            let copy = area.dataAddress + UInt64(arrayLength + data.count)
            if length > 0 {
                guard let bytes = memory.readUserBytes(at: base, count: Int(length)) else { return nil }
                inputs.append(BufferDigest(address: base, bytes: bytes))
                data += bytes
            }
            withUnsafeBytes(of: copy.littleEndian) { array += $0 }
            withUnsafeBytes(of: length.littleEndian) { array += $0 }
        }
        return (array + data, inputs)
    }

    /// Writes `bytes` to the task's data region and points argument `index` at them (one
    /// pwrite and one PTRACE_POKEUSER).
    /// - Returns: whether the register was changed (false: no area, or the write failed,
    ///   and the kernel reads the program's buffer).
    func redirectWriteBuffer(_ task: TracedTask, index: Int, _ bytes: [UInt8]) throws -> Bool {
        guard let scratch = task.scratch, UInt64(bytes.count) <= ScratchArea.dataSize,
              writeScratch(task, bytes, at: scratch.dataAddress) else { return false }
        try task.access.setRegister(argumentRegisters[index], scratch.dataAddress)
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

    /// The scratch areas of every task sharing the task's address space (its threads, and
    /// CLONE_VM children of another thread group, which could otherwise unprotect a
    /// sibling's area and write the copy the kernel is about to read).
    func scratchRanges(sharingWith task: TracedTask) -> [Range<UInt64>] {
        tasks.values.compactMap { $0.addressSpace == task.addressSpace ? $0.scratch?.range : nil }
            + (orphanedScratch[task.addressSpace] ?? []).map(\.range)
    }

    /// Keeps the scratch area of an exited task whose address space lives on (a thread's):
    /// still mapped, so the guard goes on protecting it, and the next thread of that space
    /// to need one takes it instead of mapping another (a program that starts and ends
    /// threads without end would otherwise leak 12 KiB per thread). Not a vfork child's,
    /// which is its parent's own.
    func orphanScratch(of task: TracedTask) {
        let space = task.addressSpace
        let live = tasks.values.filter { $0.addressSpace == space }
        guard !live.isEmpty else {
            orphanedScratch[space] = nil
            return
        }
        if let area = task.scratch, !live.contains(where: { $0.scratch == area }) {
            orphanedScratch[space, default: []].append(area)
        }
    }

    /// Drops the orphaned areas of an address space no task uses any more (after an exec).
    func forgetOrphanedScratchIfUnused(_ space: Int32) {
        if !tasks.values.contains(where: { $0.addressSpace == space }) { orphanedScratch[space] = nil }
    }

    /// A key for an address space made by an exec: negative, so it never equals a tid
    /// (the key of an address space made by fork or at the start).
    func newAddressSpaceID() -> Int32 {
        lastExecAddressSpace -= 1
        return lastExecAddressSpace
    }
}

extension TaskAccess {
    /// The bytes of a NUL-terminated string (without the NUL), exactly as in memory, and
    /// whether the NUL was found within `limit` bytes. Read as the kernel's
    /// strncpy_from_user reads (`readUserBytes`): a string running into a page the task
    /// cannot read (PROT_NONE) stops there, unterminated, as the kernel's copy fails.
    func readCStringBytes(at address: UInt64, limit: Int = 4096) -> (bytes: [UInt8], terminated: Bool)? {
        guard address != 0 else { return nil }
        var bytes: [UInt8] = []
        var cursor = address
        var chunkLength = 256
        while bytes.count < limit {
            let toPageEnd = Int(4096 - (cursor & 4095))
            guard let chunk = readUserBytes(at: cursor, count: min(toPageEnd, chunkLength, limit - bytes.count)) else {
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
