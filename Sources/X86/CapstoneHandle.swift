// Opening Capstone safely from many threads at once.
//
// Capstone 4.0.2 (Debian's libcapstone4) sorts one of its X86 tables lazily, on the first
// decode of an instruction whose text embeds an accumulator register (`add eax, imm32`,
// `test al, imm8`, `mov al, moffs`...): X86_insn_reg_intel copies `insn_regs_intel` into a
// static array, qsorts it and only then sets a static flag. A second thread that decodes
// meanwhile either binary-searches a half-copied array or copies the unsorted table over
// the sorted one under another thread's search, and gets an instruction without its
// accumulator operand. That was the parallel-replay flake: every replay worker decodes
// its first ld.so instructions at the same moment, so a whole run diverged early in ld.so
// (82 of 200 runs of an 8-thread C probe decoded `add eax, 1` with one operand; 0 of 300
// after one warm-up decode on one thread). The fix is to run that decode once, under
// Swift's thread-safe global initialisation, before any handle is handed out.

import CCapstone

public enum CapstoneHandle {
    /// Opens a 64-bit x86 Capstone handle, after the process-wide warm-up that makes
    /// concurrent decoding safe. Close it with `cs_close`.
    /// - Parameter detail: turn on `CS_OPT_DETAIL` (operands, groups).
    /// - Throws: `DecoderError.capstoneOpenFailed` with Capstone's `cs_err` code.
    /// - Cost: one `cs_open` (microseconds); the first call in the process also decodes a
    ///   few instructions.
    public static func open(detail: Bool) throws -> csh {
        _ = warmedUp
        var handle: csh = 0
        let err = cs_open(CS_ARCH_X86, CS_MODE_64, &handle)
        guard err == CS_ERR_OK else { throw DecoderError.capstoneOpenFailed(code: err.rawValue) }
        if detail { cs_option(handle, CS_OPT_DETAIL, Int(CS_OPT_ON.rawValue)) }
        return handle
    }

    /// Decodes, with details, instructions that reach every lazily initialised table of
    /// Capstone 4's X86 module. Swift runs this initialiser exactly once (swift_once), and
    /// every other thread that asks waits until it has finished.
    private static let warmedUp: Bool = {
        var handle: csh = 0
        guard cs_open(CS_ARCH_X86, CS_MODE_64, &handle) == CS_ERR_OK else { return false }
        defer { cs_close(&handle) }
        cs_option(handle, CS_OPT_DETAIL, Int(CS_OPT_ON.rawValue))
        // add eax, 1; cmp eax, 2; test al, 3; sub rax, 4; mov al, [0x10]; in al, dx
        let code: [UInt8] = [0x05, 1, 0, 0, 0, 0x3d, 2, 0, 0, 0, 0xa8, 3, 0x48, 0x2d, 4, 0, 0, 0,
                             0xa0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0xec]
        var insn: UnsafeMutablePointer<cs_insn>?
        let count = code.withUnsafeBufferPointer { cs_disasm(handle, $0.baseAddress, $0.count, 0x1000, 0, &insn) }
        if count > 0 { cs_free(insn, count) }
        return true
    }()
}
