// rdrand, rdseed and rdpid: instructions whose results are not a function of the program's
// state, and which nothing traps on these CPUs (rdtsc traps through PR_SET_TSC; these have
// no such switch, and no CPUID faulting here). The recorder finds them where code becomes
// executable and rewrites each into a trap (ud2); this is the one description of their
// encodings and effects that the recorder (running them for the program) and the replayer
// (injecting the recorded result) share. Intel SDM Vol. 2B: RDRAND, RDSEED, RDPID.

/// A register-form rdrand (0F C7 /6), rdseed (0F C7 /7) or rdpid (F3 0F C7 /7), decoded.
public struct NondeterministicInstruction: Equatable, Sendable {
    public enum Kind: String, Sendable { case rdrand, rdseed, rdpid }

    public var kind: Kind
    /// The destination general register: 0 = rax ... 15 = r15 (ModRM.rm with REX.B).
    public var register: Int
    /// Operand size in bytes: 2 (66h prefix), 4, or 8 (REX.W; rdpid always).
    public var size: Int
    /// Encoded length in bytes, prefixes included.
    public var length: Int

    /// The longest encoding this decodes: four legacy prefixes, REX, 0F C7, ModRM.
    public static let maximumLength = 8

    /// Decodes the instruction at the start of `bytes`; nil when it is none of the three
    /// (memory forms of 0F C7 are cmpxchg8b/16b and VMX instructions).
    public init?(bytes: [UInt8]) {
        var i = 0
        var operandSize16 = false, repeatPrefix = false
        prefixes: while i < min(bytes.count, 4) {
            switch bytes[i] {
            case 0x66: operandSize16 = true
            case 0xF3: repeatPrefix = true
            case 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65: break  // segment overrides: no effect here
            default: break prefixes
            }
            i += 1
        }
        var rex: UInt8 = 0
        if i < bytes.count, bytes[i] & 0xF0 == 0x40 { rex = bytes[i]; i += 1 }
        guard i + 3 <= bytes.count, bytes[i] == 0x0F, bytes[i + 1] == 0xC7 else { return nil }
        let modrm = bytes[i + 2]
        guard modrm >> 6 == 3 else { return nil }
        let reg = (modrm >> 3) & 7
        switch (reg, repeatPrefix) {
        case (6, false): kind = .rdrand
        case (7, false): kind = .rdseed
        case (7, true): kind = .rdpid
        default: return nil
        }
        register = Int(modrm & 7) | (rex & 1 != 0 ? 8 : 0)
        size = kind == .rdpid || rex & 8 != 0 ? 8 : operandSize16 ? 2 : 4
        length = i + 3
    }

    /// The destination's new contents: a 32-bit result zero-extends, a 16-bit one keeps
    /// bits 16-63 (SDM Vol. 1, 3.4.1.1).
    public func registerValue(old: UInt64, result: UInt64) -> UInt64 {
        switch size {
        case 2: return old & ~0xFFFF | result & 0xFFFF
        case 4: return result & 0xFFFF_FFFF
        default: return result
        }
    }

    /// RFLAGS after the instruction: rdrand and rdseed set CF when a value was returned and
    /// clear OF, SF, ZF, AF and PF; rdpid changes no flag.
    public func flags(old: UInt64, carry: Bool) -> UInt64 {
        guard kind != .rdpid else { return old }
        let cleared: UInt64 = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x800  // CF PF AF ZF SF OF
        return old & ~cleared | (carry ? 1 : 0)
    }

    /// "rdrand eax"-style text for reports.
    public var text: String {
        let names64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"]
        let name: String
        switch (size, register) {
        case (8, 0..<8): name = names64[register]
        case (8, _): name = "r\(register)"
        case (4, 0..<8): name = "e" + names64[register].dropFirst()
        case (4, _): name = "r\(register)d"
        case (_, 0..<8): name = String(names64[register].dropFirst())
        default: name = "r\(register)w"
        }
        return "\(kind.rawValue) \(name)"
    }
}
