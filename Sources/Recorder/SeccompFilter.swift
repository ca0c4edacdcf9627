// A tracee's own seccomp filters, run by the supervisor instead of the kernel.
//
// A filter the tracee installs would run in the kernel before magprov's own and could
// answer a syscall with ERRNO, TRAP, KILL or USER_NOTIF (all of which outrank TRACE), so
// the recorder would never see it. rr's answer, followed here: the supervisor keeps the
// filter, does not install it, and evaluates it at every syscall stop of the task (every
// syscall stops: magprov's filter returns TRACE for all of them). This file is the
// classic-BPF interpreter and the kernel's checks on a filter (seccomp(2);
// Documentation/userspace-api/seccomp_filter.rst; kernel/seccomp.c, net/core/filter.c).

/// One classic BPF instruction (`struct sock_filter`, 8 bytes).
public struct BPFInstruction: Equatable, Sendable {
    public var code: UInt16
    public var jt: UInt8
    public var jf: UInt8
    public var k: UInt32

    public init(code: UInt16, jt: UInt8 = 0, jf: UInt8 = 0, k: UInt32) {
        self.code = code; self.jt = jt; self.jf = jf; self.k = k
    }

    /// Decodes `count` instructions from the little-endian bytes of a `sock_filter` array.
    public static func decode(_ bytes: [UInt8]) -> [BPFInstruction] {
        stride(from: 0, to: bytes.count - 7, by: 8).map { (i: Int) -> BPFInstruction in
            let code: UInt16 = UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8
            var k: UInt32 = 0
            for j in 0..<4 { k |= UInt32(bytes[i + 4 + j]) << UInt32(8 * j) }
            return BPFInstruction(code: code, jt: bytes[i + 2], jf: bytes[i + 3], k: k)
        }
    }
}

/// `struct seccomp_data`: what a filter sees of one syscall (64 bytes).
public struct SeccompData: Sendable {
    public var number: Int32
    public var arch: UInt32
    public var instructionPointer: UInt64
    public var arguments: [UInt64]

    public init(number: Int32, arch: UInt32, instructionPointer: UInt64, arguments: [UInt64]) {
        self.number = number; self.arch = arch; self.instructionPointer = instructionPointer
        self.arguments = arguments + Array(repeating: 0, count: max(0, 6 - arguments.count))
    }

    /// The 32-bit word at byte `offset` (4-aligned, < 64), as BPF_LD|BPF_W|BPF_ABS loads it.
    func word(at offset: UInt32) -> UInt32 {
        switch offset {
        case 0: return UInt32(bitPattern: number)
        case 4: return arch
        case 8: return UInt32(truncatingIfNeeded: instructionPointer)
        case 12: return UInt32(truncatingIfNeeded: instructionPointer >> 32)
        default:
            let value = arguments[Int(offset - 16) / 8]
            return offset % 8 == 0 ? UInt32(truncatingIfNeeded: value) : UInt32(truncatingIfNeeded: value >> 32)
        }
    }

    static let size: UInt32 = 64
}

/// What a filter returns for a syscall (`SECCOMP_RET_*`), in the kernel's precedence.
public enum SeccompAction: Equatable, Sendable {
    case killProcess, killThread, trap(data: UInt16), errno(UInt16), userNotify, trace(data: UInt16), log, allow

    /// Decodes a filter's 32-bit return value; unknown actions act as KILL_PROCESS (kernel/seccomp.c).
    public init(returnValue r: UInt32) {
        let data = UInt16(truncatingIfNeeded: r)
        switch r & 0xffff_0000 {
        case 0x8000_0000: self = .killProcess
        case 0x0000_0000: self = .killThread
        case 0x0003_0000: self = .trap(data: data)
        case 0x0005_0000: self = .errno(data)
        case 0x7fc0_0000: self = .userNotify
        case 0x7ff0_0000: self = .trace(data: data)
        case 0x7ffc_0000: self = .log
        case 0x7fff_0000: self = .allow
        default: self = .killProcess
        }
    }

    /// The action value as a signed 32-bit number: of several filters' answers the lowest
    /// wins (`ACTION_ONLY` in kernel/seccomp.c; KILL_PROCESS is negative).
    var precedence: Int32 {
        switch self {
        case .killProcess: return Int32(bitPattern: 0x8000_0000)
        case .killThread: return 0
        case .trap: return 0x0003_0000
        case .errno: return 0x0005_0000
        case .userNotify: return 0x7fc0_0000
        case .trace: return 0x7ff0_0000
        case .log: return 0x7ffc_0000
        case .allow: return 0x7fff_0000
        }
    }
}

/// Why the kernel would reject a filter (`seccomp(2)`, ERRORS).
public enum SeccompFilterError: Error, Equatable, CustomStringConvertible {
    /// EINVAL: empty or longer than BPF_MAXINSNS (4096).
    case badLength(Int)
    /// EINVAL: an instruction seccomp does not allow, or an invalid operand.
    case invalidInstruction(index: Int, code: UInt16)
    /// EINVAL: a jump leaves the program, or the last instruction is not a return.
    case badControlFlow(index: Int)
    /// ENOMEM: all filters of the task together exceed MAX_INSNS_PER_PATH.
    case tooLong

    public var errno: Int32 {
        if case .tooLong = self { return 12 /* ENOMEM */ }
        return 22 /* EINVAL */
    }

    public var description: String {
        switch self {
        case .badLength(let n): return "filter of \(n) instructions (1...4096 allowed)"
        case .invalidInstruction(let i, let code): return "instruction \(i) (code 0x\(String(code, radix: 16))) is not allowed in a seccomp filter"
        case .badControlFlow(let i): return "instruction \(i) jumps out of the filter or the filter does not end in a return"
        case .tooLong: return "the task's filters together exceed 32768 instructions"
        }
    }
}

/// A validated classic-BPF seccomp filter.
public struct SeccompFilter: Equatable, Sendable {
    public let instructions: [BPFInstruction]

    /// Checks the program as the kernel does before installing it (bpf_check_classic and
    /// seccomp_check_filter): allowed opcodes only, loads within `seccomp_data`, forward
    /// jumps inside the program, scratch memory indices below 16, no division by constant 0,
    /// a return as the last instruction.
    /// - Throws: `SeccompFilterError`.
    public init(_ instructions: [BPFInstruction]) throws {
        guard (1...4096).contains(instructions.count) else { throw SeccompFilterError.badLength(instructions.count) }
        let n = instructions.count
        for (i, insn) in instructions.enumerated() {
            let code = insn.code
            let bad = SeccompFilterError.invalidInstruction(index: i, code: code)
            switch code & 0x07 {
            case 0x00, 0x01:  // LD, LDX
                switch code {
                case 0x20:  // LD|W|ABS
                    guard insn.k & 3 == 0, insn.k < SeccompData.size else { throw bad }
                case 0x80, 0x81, 0x00, 0x01: break  // LD|W|LEN, LDX|W|LEN, LD|IMM, LDX|IMM
                case 0x60, 0x61: guard insn.k < 16 else { throw bad }  // LD|MEM, LDX|MEM
                default: throw bad
                }
            case 0x02, 0x03:  // ST, STX
                guard code & 0xfff8 == 0, insn.k < 16 else { throw bad }
            case 0x04:  // ALU
                let op = code & 0xf0
                guard op <= 0xa0, code & ~0xf8 == 0x04 else { throw bad }
                if op == 0x80 { guard code & 0x08 == 0 else { throw bad } }
                if (op == 0x30 || op == 0x90) && code & 0x08 == 0 && insn.k == 0 { throw bad }
            case 0x05:  // JMP
                let op = code & 0xf0
                if op == 0x00 {
                    guard code == 0x05, UInt64(i) + 1 + UInt64(insn.k) < UInt64(n) else { throw SeccompFilterError.badControlFlow(index: i) }
                } else {
                    guard [0x10, 0x20, 0x30, 0x40].contains(op), code & ~0xf8 == 0x05 else { throw bad }
                    guard i + 1 + Int(insn.jt) < n, i + 1 + Int(insn.jf) < n else { throw SeccompFilterError.badControlFlow(index: i) }
                }
            case 0x06:  // RET K / RET A
                guard code == 0x06 || code == 0x16 else { throw bad }
            default:  // MISC: TAX, TXA
                guard code == 0x07 || code == 0x87 else { throw bad }
            }
        }
        guard instructions[n - 1].code & 0x07 == 0x06 else { throw SeccompFilterError.badControlFlow(index: n - 1) }
        self.instructions = instructions
    }

    /// Runs the filter on one syscall. Cost: at most one pass over the instructions
    /// (jumps only go forward).
    /// - Returns: the filter's 32-bit return value (`SECCOMP_RET_*` | data).
    public func evaluate(_ data: SeccompData) -> UInt32 {
        var a: UInt32 = 0, x: UInt32 = 0
        var scratch = [UInt32](repeating: 0, count: 16)
        var pc = 0
        while pc < instructions.count {
            let insn = instructions[pc]
            pc += 1
            let code = insn.code
            switch code & 0x07 {
            case 0x00:
                switch code {
                case 0x20: a = data.word(at: insn.k)
                case 0x80: a = SeccompData.size
                case 0x60: a = scratch[Int(insn.k)]
                default: a = insn.k
                }
            case 0x01:
                switch code {
                case 0x81: x = SeccompData.size
                case 0x61: x = scratch[Int(insn.k)]
                default: x = insn.k
                }
            case 0x02: scratch[Int(insn.k)] = a
            case 0x03: scratch[Int(insn.k)] = x
            case 0x04:
                let operand = code & 0x08 != 0 ? x : insn.k
                switch code & 0xf0 {
                case 0x00: a = a &+ operand
                case 0x10: a = a &- operand
                case 0x20: a = a &* operand
                case 0x30: if operand == 0 { return 0 }; a = a / operand  // division by X = 0 ends the program with 0
                case 0x40: a |= operand
                case 0x50: a &= operand
                case 0x60: a = operand >= 32 ? 0 : a << operand
                case 0x70: a = operand >= 32 ? 0 : a >> operand
                case 0x80: a = 0 &- a
                case 0x90: if operand == 0 { return 0 }; a = a % operand
                default: a ^= operand
                }
            case 0x05:
                let operand = code & 0x08 != 0 ? x : insn.k
                let taken: Bool
                switch code & 0xf0 {
                case 0x00: pc += Int(insn.k); continue
                case 0x10: taken = a == operand
                case 0x20: taken = a > operand
                case 0x30: taken = a >= operand
                default: taken = a & operand != 0
                }
                pc += Int(taken ? insn.jt : insn.jf)
            case 0x06:
                return code == 0x16 ? a : insn.k
            default:
                if code == 0x07 { x = a } else { a = x }
            }
        }
        return 0  // unreachable for a validated filter (it ends in a return)
    }
}

/// The seccomp state of one task as the supervisor keeps it: strict mode or a stack of
/// filters, newest last. Copied to children at fork/clone (seccomp(2): "inherited by
/// children created by fork(2) ... preserved across execve(2)").
struct TraceeSeccomp: Equatable {
    var strict = false
    var filters: [SeccompFilter] = []

    var isEmpty: Bool { !strict && filters.isEmpty }

    /// MAX_INSNS_PER_PATH in kernel/seccomp.c: 32768, counting 4 extra per filter.
    static let maximumPathInstructions = 32768

    func canAdd(_ filter: SeccompFilter) -> Bool {
        (filters + [filter]).reduce(0) { $0 + $1.instructions.count + 4 } <= TraceeSeccomp.maximumPathInstructions
    }

    /// The action for one syscall: every filter runs; the answer of highest precedence wins.
    /// Strict mode allows read, write, exit and rt_sigreturn and kills for anything else
    /// (SIGKILL, which `strictKill` tells apart).
    func action(for data: SeccompData, strictAllowed: Set<Int32>) -> (action: SeccompAction, strictKill: Bool) {
        if strict && !strictAllowed.contains(data.number) { return (.killThread, true) }
        var best = SeccompAction.allow
        for filter in filters {
            let action = SeccompAction(returnValue: filter.evaluate(data))
            if action.precedence < best.precedence { best = action }
        }
        return (best, false)
    }
}
