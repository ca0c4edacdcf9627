// Which status flags an instruction defines (Intel SDM Vol. 2, each instruction's "Flags
// Affected"). The rest are "undefined": CPUs differ, so differential checks (lockstep, the
// X86 tests) must not compare them.

extension RFlags {
    /// The status flags (and DF) the SDM defines after the instruction whose disassembly is
    /// `text`: "imul rax, rbx", or as Replayer's InstructionText writes it, hex bytes, two
    /// spaces, then the instruction ("48 0f af c3  imul rax, rbx"); `rep`/`lock` prefixes are
    /// skipped. Every flag for mnemonics not listed. Cost: one split of `text`.
    public static func defined(afterInstruction text: String) -> UInt64 {
        let all = arithmetic | direction
        let instruction = text.firstRange(of: "  ").map { text[$0.upperBound...] } ?? text[...]
        let mnemonic = instruction.split(separator: " ", omittingEmptySubsequences: true)
            .first { $0 != "rep" && $0 != "lock" }.map(String.init) ?? ""
        switch mnemonic {
        case "mul", "imul": return carry | overflow | direction
        case "div", "idiv": return direction
        case "bsf", "bsr": return zero | direction
        case "bt", "bts", "btr", "btc": return carry | direction
        case "shl", "shr", "sar", "sal", "shld", "shrd": return all & ~(overflow | adjust)
        case "rol", "ror", "rcl", "rcr": return carry | direction
        case "and", "or", "xor", "test", "andn": return all & ~adjust
        case "lzcnt", "tzcnt": return carry | zero | direction
        case "bextr", "blsi", "blsmsk", "blsr", "bzhi": return carry | zero | overflow | direction
        default: return all
        }
    }
}
