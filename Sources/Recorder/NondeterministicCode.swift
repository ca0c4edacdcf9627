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
// any is then disassembled by linear sweep with Capstone from the mapping's start, and
// only candidates that begin an instruction of that sweep are rewritten (a byte pattern
// inside another instruction's immediate is left alone). Linear sweep is how objdump
// reads compiler output. A rewrite at mprotect is recorded as a memory write of that
// event (replay makes it at the exit, before the code can run). Code written into memory
// that is already executable (an RWX mapping) is not rewritten, and replay reports such
// an instruction as an unrecorded nondeterministic input at its address.

import CCapstone
import CSupport
import Trace
import X86

final class NondeterministicCodeScanner {
    /// Rewrite sites by the mapping's cache key (AddressSpaceCapture.cacheKey): offsets
    /// from the mapping start.
    private var cache: [String: [Int]] = [:]
    private var handle: csh?

    deinit { if var handle { cs_close(&handle) } }

    /// Offsets in `code` (mapped at `address`) where a rdrand, rdseed or rdpid starts.
    /// Cost: one pass over the bytes; a Capstone linear sweep (~100 ns an instruction)
    /// only when the pass finds a candidate.
    func sites(in code: [UInt8], address: UInt64, cacheKey: String?) -> [Int] {
        if let cacheKey, let cached = cache[cacheKey] { return cached }
        var candidates = false
        code.withUnsafeBufferPointer { bytes in
            var i = 0
            while i + 2 < bytes.count {
                if bytes[i] == 0x0F && bytes[i + 1] == 0xC7 && bytes[i + 2] >= 0xF0 { candidates = true; break }
                i += 1
            }
        }
        var found: [Int] = []
        if candidates, let handle = openHandle() {
            code.withUnsafeBufferPointer { bytes in
                guard let base = bytes.baseAddress, let insn = cs_malloc(handle) else { return }
                defer { cs_free(insn, 1) }
                var offset = 0
                while offset < bytes.count {
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
            }
        }
        if let cacheKey { cache[cacheKey] = found }
        return found
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
                sites = codeScanner.sites(in: code, address: start, cacheKey: key)
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
}

extension Trace.RegisterFile {
    /// `user_regs_struct` slots of rax ... r15, by x86 register number (ModRM/REX order).
    static let generalPurpose: [Index] = [.rax, .rcx, .rdx, .rbx, .rsp, .rbp, .rsi, .rdi,
                                          .r8, .r9, .r10, .r11, .r12, .r13, .r14, .r15]
}
