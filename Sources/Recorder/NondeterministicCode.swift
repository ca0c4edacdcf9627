// rdrand, rdseed and rdpid in the recorded programs' code. No CPU feature makes them trap
// here (rdtsc has PR_SET_TSC; these have nothing, and CPUID faulting is unavailable), so
// the recorder finds them where code becomes executable — the executable file mappings at
// exec, every later file mmap with PROT_EXEC, and every mprotect that adds PROT_EXEC
// (generated code made executable) — and rewrites each into ud2. The
// SIGILL it raises stops the task: the supervisor runs the instruction itself, gives the
// program the result, and records it as a timestamp event carrying the original bytes
// (replay meets the same ud2 in the recorded code and injects the value).
//
// Finding them: a byte scan for 0F C7 with a register ModRM of /6 or /7 picks candidates
// (none in libc, git or python; a handful in libstdc++ and libcrypto); a file that has
// any is then disassembled by linear sweep with Capstone, and only candidates that begin an
// instruction of that sweep are rewritten (a byte pattern inside another instruction's
// immediate is left alone). Linear sweep is how objdump reads compiler output. The sweep
// starts where the function holding the candidate starts, when the file says so: every
// function a compiler emits has an unwind entry (FDE), and `.eh_frame_hdr` (PT_GNU_EH_FRAME)
// lists their start addresses sorted, stripped binaries included (`UnwindFunctionStarts`).
// Without that table (or for a candidate before the mapping's first function) the sweep
// starts at the mapping. Measured: recording `cc1 --version` (33 MB, 17 candidates) spent
// 2.4 s of CPU in the sweep from the mapping start. A rewrite at mprotect is recorded as a memory write of that
// event (replay makes it at the exit, before the code can run). Code written into memory
// that is already executable (an RWX mapping) is not rewritten, and replay reports such
// an instruction as an unrecorded nondeterministic input at its address.

import CCapstone
import CElf
import CSupport
import Glibc
import Trace
import X86

final class NondeterministicCodeScanner {
    /// Rewrite sites by the mapping's cache key (AddressSpaceCapture.cacheKey): offsets
    /// from the mapping start.
    private var cache: [String: [Int]] = [:]
    /// Function-start tables by "device:inode" (nil entries: the file has none).
    private var unwindTables: [String: UnwindFunctionStarts?] = [:]
    private var handle: csh?

    deinit { if var handle { cs_close(&handle) } }

    /// Offsets in `code` (mapped at `address`) where a rdrand, rdseed or rdpid starts.
    /// - Parameter functionStarts: offsets in `code` where functions start, sorted
    ///   (`UnwindFunctionStarts.offsets(in:)`); nil or empty: sweep from the start of `code`.
    /// Cost: one pass over the bytes; a Capstone linear sweep (~100 ns an instruction) only
    /// when the pass finds a candidate, from the start of each candidate's function.
    func sites(in code: [UInt8], address: UInt64, cacheKey: String?, functionStarts: [Int]? = nil) -> [Int] {
        if let cacheKey, let cached = cache[cacheKey] { return cached }
        var candidates: [Int] = []
        code.withUnsafeBufferPointer { bytes in
            var i = 0
            while i + 2 < bytes.count {
                if bytes[i] == 0x0F && bytes[i + 1] == 0xC7 && bytes[i + 2] >= 0xF0 { candidates.append(i) }
                i += 1
            }
        }
        var found: [Int] = []
        if !candidates.isEmpty, let handle = openHandle() {
            let starts = functionStarts ?? []
            var swept = 0  // the sweep has decoded code[..<swept]
            for candidate in candidates where candidate >= swept {
                // The last function start at or before the candidate (a prefix can put up to
                // 14 bytes before its 0F C7); the sweep never goes back over decoded bytes.
                var low = 0, high = starts.count
                while low < high {
                    let mid = (low + high) / 2
                    if starts[mid] <= candidate { low = mid + 1 } else { high = mid }
                }
                let from = max(swept, low > 0 ? starts[low - 1] : 0)
                swept = sweep(code, from: from, to: candidate + 3, address: address, handle: handle, into: &found)
            }
        }
        if let cacheKey { cache[cacheKey] = found }
        return found
    }

    /// Decodes `code[from...]` by linear sweep until an instruction ends at or past `limit`,
    /// appending the offsets of rdrand/rdseed/rdpid instructions to `found`.
    /// - Returns: the offset where the sweep stopped.
    private func sweep(_ code: [UInt8], from: Int, to limit: Int, address: UInt64, handle: csh, into found: inout [Int]) -> Int {
        code.withUnsafeBufferPointer { bytes in
            guard let base = bytes.baseAddress, let insn = cs_malloc(handle) else { return bytes.count }
            defer { cs_free(insn, 1) }
            var offset = from
            while offset < bytes.count && offset < limit {
                var cursor: UnsafePointer<UInt8>? = base + offset
                var size = bytes.count - offset
                var pc = address + UInt64(offset)
                if cs_disasm_iter(handle, &cursor, &size, &pc, insn) {
                    let length = Int(insn.pointee.size)
                    if length >= 3, bytes[offset + length - 3] == 0x0F, bytes[offset + length - 2] == 0xC7,
                       NondeterministicInstruction(bytes: Array(bytes[offset..<offset + length])) != nil {
                        found.append(offset)
                    }
                    offset += length
                } else {
                    offset += 1  // not an instruction (padding, data): resynchronise
                }
            }
            return offset
        }
    }

    private func openHandle() -> csh? {
        if handle == nil { handle = try? CapstoneHandle.open(detail: false) }
        return handle
    }
}

extension Supervisor {
    /// Rewrites every rdrand/rdseed/rdpid in the task's executable mappings that overlap
    /// `range` (all of them when nil) into ud2, remembering the original bytes for the
    /// task's process. File mappings only, unless `anonymous`. Called before a mapping is
    /// captured, the trace holds the rewritten code; otherwise (mprotect) the caller records
    /// the returned writes in the event, and replay makes them at its exit.
    /// - Returns: the ud2 writes made.
    @discardableResult
    func rewriteNondeterministicInstructions(_ task: TracedTask, in range: Range<UInt64>? = nil,
                                             anonymous: Bool = false) -> [MemoryWrite] {
        let access = task.access
        var writes: [MemoryWrite] = []
        // Private mappings only: a write through /proc/PID/mem into a shared one would reach
        // the file itself.
        for line in capture.readMaps(tid: task.tid)
        where line.protection & 4 != 0 && (line.inode != 0 || anonymous) && !line.shared && !line.path.hasPrefix("[") {
            var start = line.start, end = line.end
            if let range {
                start = max(start, range.lowerBound); end = min(end, range.upperBound)
                guard start < end else { continue }
            }
            var clipped = line
            clipped.offset += start - line.start
            clipped.start = start; clipped.end = end
            let key = capture.cacheKey(clipped)
            let sites: [Int]
            if let key, let known = codeScanner.knownSites(key) {
                sites = known
            } else {
                guard let code = access.readBytes(at: start, count: Int(end - start)) else { continue }
                // Function starts only from a file unchanged since recording began (it has a
                // cache key), which is then the file the mapping shows.
                let starts = key == nil ? nil : codeScanner.functionStarts(path: line.path, device: line.device, inode: line.inode)?
                    .offsets(fileOffset: clipped.offset, length: Int(end - start))
                sites = codeScanner.sites(in: code, address: start, cacheKey: key, functionStarts: starts)
            }
            for offset in sites {
                let address = start + UInt64(offset)
                guard let original = access.readBytes(at: address, count: NondeterministicInstruction.maximumLength)
                        ?? access.readBytes(at: address, count: 4),
                      let instruction = NondeterministicInstruction(bytes: original) else { continue }
                let bytes = Array(original.prefix(instruction.length))
                // ud2 over the first two bytes; the rest is never executed.
                if writeScratch(task, [0x0F, 0x0B], at: address) {
                    rewrittenInstructions[task.tgid, default: [:]][address] = bytes
                    writes.append(MemoryWrite(address: address, bytes: [0x0F, 0x0B]))
                }
            }
        }
        return writes
    }

    /// The SIGILL of a rewritten instruction: runs it here, gives the program the result,
    /// records it. False when `rip` is not a rewritten instruction of the task's process.
    func emulateRewrittenInstruction(_ task: TracedTask, registers: Trace.RegisterFile) throws -> Bool {
        let rip = registers[.rip]
        guard let original = rewrittenInstructions[task.tgid]?[rip],
              let instruction = NondeterministicInstruction(bytes: original),
              task.access.readBytes(at: rip, count: 2) == [0x0F, 0x0B] else { return false }
        var value: UInt64 = 0
        var carry = true
        switch instruction.kind {
        case .rdrand: carry = mp_rdrand64(&value) != 0
        case .rdseed: carry = mp_rdseed64(&value) != 0
        case .rdpid:
            // IA32_TSC_AUX, which Linux sets to the CPU (and node) number: this CPU's.
            var aux: UInt32 = 0
            _ = mp_rdtscp(&aux)
            value = UInt64(aux)
        }
        if instruction.size < 8 { value &= (1 << UInt64(instruction.size * 8)) - 1 }
        var regs = registers
        let slot = Trace.RegisterFile.generalPurpose[instruction.register]
        regs[slot] = instruction.registerValue(old: regs[slot], result: value)
        regs[.eflags] = instruction.flags(old: regs[.eflags], carry: carry)
        regs[.rip] = rip + UInt64(instruction.length)
        try task.access.setRegisters(regs)
        emit(task.tid, .timestamp(TimestampEvent(address: rip, value: value, aux: instruction.kind == .rdpid ? nil : (carry ? 1 : 0),
                                                 instruction: original)))
        try task.access.resume(PtraceRequest.cont)
        return true
    }
}

extension NondeterministicCodeScanner {
    /// The sites found earlier for this cache key, without reading the code again.
    func knownSites(_ key: String) -> [Int]? { cache[key] }

    /// The function starts of the ELF file at `path`, read once per file (nil: not an ELF
    /// file, no `.eh_frame_hdr` table, or not the file with this device and inode).
    func functionStarts(path: String, device: UInt64, inode: UInt64) -> UnwindFunctionStarts? {
        let key = "\(device):\(inode)"
        if let known = unwindTables[key] { return known }
        let table = UnwindFunctionStarts(path: path, device: device, inode: inode)
        unwindTables[key] = table
        return table
    }
}

/// Where the functions of an ELF file start, as file offsets, from its `.eh_frame_hdr`
/// binary-search table (the PT_GNU_EH_FRAME segment; Linux Standard Base Core, "Exception
/// Frames"): one entry per FDE, `initial_location` as a 4-byte offset from the table's own
/// address (encoding `DW_EH_PE_datarel | DW_EH_PE_sdata4`, what GNU ld and lld write).
/// Virtual addresses become file offsets through the PT_LOAD segment that holds them.
/// Other encodings are not read (nil: the caller sweeps from the mapping start).
struct UnwindFunctionStarts {
    /// File offsets of function starts, sorted.
    let fileOffsets: [UInt64]

    /// Reads the table with libelf. Cost: one read of the program headers and of the
    /// table (8 bytes per function), ~1 ms for a 33 MB compiler.
    init?(path: String, device: UInt64, inode: UInt64) {
        guard elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE) else { return nil }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, UInt64(info.st_dev) == device, UInt64(info.st_ino) == inode,
              let elf = elf_begin(fd, ELF_C_READ_MMAP, nil) else { return nil }
        defer { elf_end(elf) }
        var count = 0
        guard elf_getphdrnum(elf, &count) == 0 else { return nil }
        var loads: [(vaddr: UInt64, offset: UInt64, size: UInt64)] = []
        var header: (vaddr: UInt64, offset: UInt64, size: UInt64)?
        for i in 0..<count {
            var ph = GElf_Phdr()
            guard gelf_getphdr(elf, Int32(i), &ph) != nil else { continue }
            if ph.p_type == UInt32(PT_LOAD) { loads.append((ph.p_vaddr, ph.p_offset, ph.p_filesz)) }
            if ph.p_type == UInt32(PT_GNU_EH_FRAME) { header = (ph.p_vaddr, ph.p_offset, ph.p_filesz) }
        }
        guard let header, header.size >= 12,
              let data = elf_getdata_rawchunk(elf, Int64(header.offset), Int(header.size), ELF_T_BYTE),
              let raw = data.pointee.d_buf else { return nil }
        let bytes = UnsafeRawBufferPointer(start: raw, count: Int(header.size))
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) } }
        // version 1; eh_frame_ptr as any 4-byte form; fde_count udata4; table datarel|sdata4.
        guard bytes[0] == 1, [0x03, 0x0B, 0x13, 0x1B].contains(bytes[1]), bytes[2] == 0x03, bytes[3] == 0x3B else { return nil }
        let entries = Int(u32(8))
        guard 12 + entries * 8 <= bytes.count else { return nil }
        var offsets: [UInt64] = []
        offsets.reserveCapacity(entries)
        for i in 0..<entries {
            let delta = Int64(Int32(bitPattern: u32(12 + i * 8)))
            let vaddr = UInt64(bitPattern: Int64(bitPattern: header.vaddr) &+ delta)
            guard let load = loads.first(where: { vaddr >= $0.vaddr && vaddr - $0.vaddr < $0.size }) else { continue }
            offsets.append(load.offset + (vaddr - load.vaddr))
        }
        offsets.sort()
        fileOffsets = offsets
    }

    /// The function starts inside the file range `[fileOffset, fileOffset + length)`, as
    /// offsets from `fileOffset` (what a mapping of that range holds), sorted.
    func offsets(fileOffset: UInt64, length: Int) -> [Int] {
        var low = 0, high = fileOffsets.count
        while low < high {
            let mid = (low + high) / 2
            if fileOffsets[mid] < fileOffset { low = mid + 1 } else { high = mid }
        }
        var result: [Int] = []
        var i = low
        while i < fileOffsets.count, fileOffsets[i] < fileOffset + UInt64(length) {
            result.append(Int(fileOffsets[i] - fileOffset))
            i += 1
        }
        return result
    }
}

extension Trace.RegisterFile {
    /// `user_regs_struct` slots of rax ... r15, by x86 register number (ModRM/REX order).
    static let generalPurpose: [Index] = [.rax, .rcx, .rdx, .rbx, .rsp, .rbp, .rsi, .rdi,
                                          .r8, .r9, .r10, .r11, .r12, .r13, .r14, .r15]
}
