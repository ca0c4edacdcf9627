// Translates Capstone's detailed decoding into magprov's `Instruction`. Runs once per
// guest instruction address (DESIGN.md "Decode once"); never on the hot path.
import CCapstone

/// Errors opening the disassembler.
public enum DecoderError: Error, Equatable {
    case capstoneOpenFailed(code: UInt32)
}

/// The result of decoding one instruction.
enum DecodeOutcome {
    case decoded(Instruction)
    /// Decoded (or not) but not implemented: the block ends here and running it stops.
    case unsupported(Instruction, UnsupportedInstruction)
    /// The first byte is not executable / not mapped.
    case fetchFault(address: UInt64)
}

/// Where a Capstone register lands in magprov's register file.
private struct RegisterMapping {
    var kind: OperandKind
    var number: UInt8
    var size: UInt8
    static let invalid = RegisterMapping(kind: .none, number: 0, size: 0)
}

final class Decoder {
    private var handle: csh = 0
    private let scratch: UnsafeMutablePointer<cs_insn>
    /// Capstone instruction id -> (opcode, condition code).
    private let opcodeByID: [(Opcode, UInt8)]
    /// Capstone instruction ids of VEX forms (`v` + an SSE mnemonic, and the AVX-only
    /// opcodes): decoded with `PrefixBits.vex` and run by `executeAVX`.
    private let isVEXByID: [Bool]
    /// Capstone register id -> magprov register.
    private let registerByID: [RegisterMapping]
    private let segmentFS: UInt32
    private let segmentGS: UInt32
    private let registerRIP: UInt32
    private let registerEIP: UInt32

    static let conditionNames = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]
    static let x87ConditionNames: [String: UInt8] = ["b": 2, "e": 4, "be": 6, "u": 10, "nb": 3, "ne": 5, "nbe": 7, "nu": 11]

    /// Capstone mnemonics that map onto one magprov opcode.
    static let mnemonicAliases: [String: Opcode] = [
        "movabs": .mov, "sal": .shl, "movsx": .movsx, "movsxd": .movsxd,
        "movdqa": .movdqu, "movaps": .movdqu, "movups": .movdqu, "movapd": .movdqu,
        "movupd": .movdqu, "lddqu": .movdqu, "movntdqa": .movdqu,
        "movntdq": .movdqu, "movntps": .movdqu, "movntpd": .movdqu, "movnti": .mov,
        "xorps": .pxor, "xorpd": .pxor, "orps": .por, "orpd": .por,
        "andps": .pand, "andpd": .pand, "andnps": .pandn, "andnpd": .pandn,
        "endbr64": .nop, "endbr32": .nop, "prefetcht0": .nop, "prefetcht1": .nop,
        "prefetcht2": .nop, "prefetchnta": .nop, "prefetchw": .nop, "prefetch": .nop,
        "fxsave64": .fxsave, "fxrstor64": .fxrstor, "xsave64": .xsave, "xsavec64": .xsavec,
        "xrstor64": .xrstor, "fstsw": .fnstsw, "fstcw": .fnstcw, "fstenv": .fnstenv, "fsave": .fnsave,
        "fucompi": .fucomip, "fcompi": .fcomip, "finit": .fninit, "fclex": .fnclex, "wait": .fwait,
        "pushf": .pushfq, "popf": .popfq, "ret": .ret, "xlat": .xlatb,
        "cvtsi2ssl": .cvtsi2ss, "cvtsi2sdl": .cvtsi2sd, "cvtsi2ssq": .cvtsi2ss, "cvtsi2sdq": .cvtsi2sd,
        "clflushopt": .clflush,
        // Capstone's names for the VEX narrowing conversions with a memory source (x: m128, y: m256).
        "cvtpd2psx": .cvtpd2ps, "cvtpd2psy": .cvtpd2ps, "cvtpd2dqx": .cvtpd2dq, "cvtpd2dqy": .cvtpd2dq,
        "cvttpd2dqx": .cvttpd2dq, "cvttpd2dqy": .cvttpd2dq,
    ]

    init() throws {
        let h = try CapstoneHandle.open(detail: true)
        handle = h
        scratch = cs_malloc(h)
        let t = Self.sharedTables ?? Self.buildTables(handle: h)
        opcodeByID = t.opcodeByID
        isVEXByID = t.isVEXByID
        registerByID = t.registerByID
        segmentFS = t.segmentFS
        segmentGS = t.segmentGS
        registerRIP = t.registerRIP
        registerEIP = t.registerEIP
    }

    deinit {
        cs_free(scratch, 1)
        cs_close(&handle)
    }

    /// What `init` takes from Capstone's names: the same for every handle, so built once
    /// per process. Building costs ~100 M host instructions (string matching over every
    /// mnemonic), which replay used to pay again for each process image.
    private struct Tables {
        var opcodeByID: [(Opcode, UInt8)] = []
        var isVEXByID: [Bool] = []
        var registerByID: [RegisterMapping] = []
        var segmentFS: UInt32 = 0
        var segmentGS: UInt32 = 0
        var registerRIP: UInt32 = 0
        var registerEIP: UInt32 = 0
    }

    /// The tables, built under Swift's thread-safe global initialisation (parallel replay
    /// workers wait for the first); nil when no handle could be opened.
    private static let sharedTables: Tables? = {
        guard var handle = try? CapstoneHandle.open(detail: false) else { return nil }
        defer { cs_close(&handle) }
        return buildTables(handle: handle)
    }()

    private static func buildTables(handle: csh) -> Tables {
        var t = Tables()
        let conditionIndex = Dictionary(uniqueKeysWithValues: Self.conditionNames.enumerated().map { ($1, UInt8($0)) })
        let ccAliases: [String: UInt8] = ["c": 2, "nae": 2, "nb": 3, "nc": 3, "z": 4, "nz": 5, "na": 6, "nbe": 7,
                                          "pe": 10, "po": 11, "nge": 12, "nl": 13, "ng": 14, "nle": 15]
        func cc(_ s: Substring) -> UInt8? { conditionIndex[String(s)] ?? ccAliases[String(s)] }
        let insEnd = Int(X86_INS_ENDING.rawValue)
        t.opcodeByID = Array(repeating: (.unsupported, 0), count: insEnd)
        t.isVEXByID = Array(repeating: false, count: insEnd)
        for id in 1..<insEnd {
            guard let cName = cs_insn_name(handle, UInt32(id)) else { continue }
            let name = String(cString: cName)
            if let form = Self.fmaForm(name) {
                t.opcodeByID[id] = (.vfma, form)
                t.isVEXByID[id] = true
            } else if name.hasPrefix("vcmp"), name.count > 6,
                      let kind = ["ss": Opcode.cmpss, "sd": .cmpsd_sse, "ps": .cmpps, "pd": .cmppd][String(name.suffix(2))] {
                // vcmpps and its predicate-named forms (vcmpeq_uqps ...): imm8 predicate 0-31.
                t.opcodeByID[id] = (kind, 0xFF)
                t.isVEXByID[id] = true
            } else if name.hasPrefix("v"), let op = Opcode(rawValue: name) ?? Self.vexForm(of: String(name.dropFirst())) {
                t.opcodeByID[id] = (op, 0)
                t.isVEXByID[id] = true
            } else if let op = Self.mnemonicAliases[name] ?? Opcode(rawValue: name) {
                t.opcodeByID[id] = (op, 0)
            } else if name.hasPrefix("cmov"), let c = cc(name.dropFirst(4)) {
                t.opcodeByID[id] = (.cmovcc, c)
            } else if name.hasPrefix("set"), let c = cc(name.dropFirst(3)) {
                t.opcodeByID[id] = (.setcc, c)
            } else if name.hasPrefix("fcmov"), let c = Self.x87ConditionNames[String(name.dropFirst(5))] {
                t.opcodeByID[id] = (.fcmovcc, c)
            } else if name.hasPrefix("j"), let c = cc(name.dropFirst(1)) {
                t.opcodeByID[id] = (.jcc, c)
            } else if name.hasPrefix("cmp") && name.count > 5,
                      let kind = ["ss": Opcode.cmpss, "sd": .cmpsd_sse, "ps": .cmpps, "pd": .cmppd][String(name.suffix(2))] {
                // cmpltsd & co: the predicate is also the instruction's trailing imm8.
                t.opcodeByID[id] = (kind, 0xFF)
            } else if let (op, size) = Self.stringOp(name) {
                t.opcodeByID[id] = (op, size)
            }
        }
        let regEnd = Int(X86_REG_ENDING.rawValue)
        t.registerByID = Array(repeating: .invalid, count: regEnd)
        let gpr64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"]
        let gpr32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"]
        let gpr16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"]
        let gpr8 = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil"]
        let high8 = ["ah", "ch", "dh", "bh"]
        for id in 1..<regEnd {
            guard let cName = cs_reg_name(handle, UInt32(id)) else { continue }
            let name = String(cString: cName)
            var m = RegisterMapping.invalid
            if let i = gpr64.firstIndex(of: name) { m = .init(kind: .gpr, number: UInt8(i), size: 8) }
            else if let i = gpr32.firstIndex(of: name) { m = .init(kind: .gpr, number: UInt8(i), size: 4) }
            else if let i = gpr16.firstIndex(of: name) { m = .init(kind: .gpr, number: UInt8(i), size: 2) }
            else if let i = gpr8.firstIndex(of: name) { m = .init(kind: .gpr, number: UInt8(i), size: 1) }
            else if let i = high8.firstIndex(of: name) { m = .init(kind: .gprHigh8, number: UInt8(i), size: 1) }
            else if name.hasPrefix("r"), let n = Int(name.dropFirst().prefix { $0.isNumber }), (8...15).contains(n) {
                let suffix = name.drop { $0 != "d" && $0 != "w" && $0 != "b" }
                let size: UInt8 = suffix == "d" ? 4 : suffix == "w" ? 2 : suffix == "b" ? 1 : 8
                m = .init(kind: .gpr, number: UInt8(n), size: size)
            } else if name.hasPrefix("xmm"), let n = Int(name.dropFirst(3)), n < 16 {
                m = .init(kind: .xmm, number: UInt8(n), size: 16)
            } else if name.hasPrefix("ymm"), let n = Int(name.dropFirst(3)), n < 16 {
                // YMM n: the same register number, 32 bytes (ymm16-31 are AVX-512 only).
                m = .init(kind: .xmm, number: UInt8(n), size: 32)
            } else if name.hasPrefix("mm"), let n = Int(name.dropFirst(2)), n < 8 {
                m = .init(kind: .mm, number: UInt8(n), size: 8)
            } else if name.hasPrefix("st("), let n = Int(name.dropFirst(3).prefix(1)) {
                m = .init(kind: .st, number: UInt8(n), size: 10)
            } else if name == "st" {
                m = .init(kind: .st, number: 0, size: 10)
            }
            t.registerByID[id] = m
            switch name {
            case "fs": t.segmentFS = UInt32(id)
            case "gs": t.segmentGS = UInt32(id)
            case "rip": t.registerRIP = UInt32(id)
            case "eip": t.registerEIP = UInt32(id)
            default: break
            }
        }
        return t
    }

    /// Every opcode some instruction decodes to (the data-flow coverage test needs an
    /// encoding for each): the table's entries plus the per-opcode fixups' results.
    var decodableOpcodes: Set<Opcode> {
        Set(opcodeByID.map { $0.0 }).union([.cmpsd_sse, .movs]).subtracting([.unsupported])
    }

    /// The SSE opcode whose VEX form `v<name>` the AVX executor runs (SDM Vol. 1, 14.1):
    /// three-operand, 128- or 256-bit. Nil for forms not implemented.
    static func vexForm(of name: String) -> Opcode? {
        guard let op = mnemonicAliases[name] ?? Opcode(rawValue: name),
              vexOpcodes.contains(op) || vexFloatOpcodes.contains(op) else { return nil }
        return op
    }

    /// The FMA3 form of `name` (vfmadd132sd, vfnmsub231ps ...) as `Instruction.condition`
    /// bits: 0-1 operand order (0 = 132, 1 = 213, 2 = 231), 2 negated product, 3 subtracted
    /// addend, 4-5 element type (0 sd, 1 ss, 2 pd, 3 ps). Nil for other names (FMA4's
    /// vfmaddsd has no order digits).
    static func fmaForm(_ name: String) -> UInt8? {
        var rest = Substring(name)
        guard rest.hasPrefix("vf") else { return nil }
        rest = rest.dropFirst(2)
        var form: UInt8 = 0
        if rest.hasPrefix("n") { form |= 4; rest = rest.dropFirst() }
        if rest.hasPrefix("madd") { rest = rest.dropFirst(4) } else if rest.hasPrefix("msub") { form |= 8; rest = rest.dropFirst(4) } else { return nil }
        guard let order = ["132": UInt8(0), "213": 1, "231": 2][String(rest.prefix(3))] else { return nil }
        form |= order
        guard let type = ["sd": UInt8(0), "ss": 1, "pd": 2, "ps": 3][String(rest.dropFirst(3))] else { return nil }
        return form | type << 4
    }

    /// SSE floating-point opcodes whose 128-bit VEX form `executeAVX` runs through the SSE
    /// code: `dst = f(src1, src2)` with the destination's other low-128 bits from src1.
    static let vexFloatOpcodes: Set<Opcode> = [
        .addss, .addsd, .addps, .addpd, .subss, .subsd, .subps, .subpd, .mulss, .mulsd, .mulps, .mulpd,
        .divss, .divsd, .divps, .divpd, .sqrtss, .sqrtsd, .sqrtps, .sqrtpd, .minss, .minsd, .minps, .minpd,
        .maxss, .maxsd, .maxps, .maxpd, .ucomiss, .ucomisd, .comiss, .comisd,
        .cvtsi2ss, .cvtsi2sd, .cvttss2si, .cvttsd2si, .cvtss2si, .cvtsd2si, .cvtss2sd, .cvtsd2ss,
        .cvtdq2ps, .cvtdq2pd, .cvttps2dq, .cvttpd2dq, .cvtps2dq, .cvtpd2dq, .cvtps2pd, .cvtpd2ps,
        .roundss, .roundsd, .roundps, .roundpd, .movss, .movsd, .stmxcsr, .ldmxcsr,
        .haddps, .haddpd, .hsubps, .hsubpd, .dpps, .rcpps, .rsqrtps, .rcpss, .rsqrtss,
    ]

    /// SSE opcodes with a VEX form in `executeAVX`.
    static let vexOpcodes: Set<Opcode> = [
        .movdqu, .movd, .movq, .pmovmskb, .movmskps, .movmskpd, .ptest,
        .pxor, .por, .pand, .pandn, .pcmpeqb, .pcmpeqw, .pcmpeqd, .pcmpeqq, .pcmpgtb, .pcmpgtw, .pcmpgtd, .pcmpgtq,
        .pminub, .pmaxub, .pminsb, .pmaxsb, .pminuw, .pmaxuw, .pminsw, .pmaxsw, .pminud, .pmaxud, .pminsd, .pmaxsd,
        .paddb, .paddw, .paddd, .paddq, .psubb, .psubw, .psubd, .psubq,
        .paddusb, .paddusw, .psubusb, .psubusw, .paddsb, .paddsw, .psubsb, .psubsw,
        .punpcklbw, .punpckhbw, .punpcklwd, .punpckhwd, .punpckldq, .punpckhdq, .unpcklps, .unpckhps,
        .punpcklqdq, .unpcklpd, .punpckhqdq, .unpckhpd, .shufps, .shufpd, .pshufb, .palignr,
        .pmullw, .pmulld, .pmulhw, .pmulhuw, .pmuludq, .pmaddwd, .psadbw, .pavgb, .pavgw,
        .packuswb, .packsswb, .packssdw, .packusdw, .pblendw, .pblendvb, .blendps, .blendpd, .blendvps, .blendvpd,
        .psllw, .pslld, .psllq, .psrlw, .psrld, .psrlq, .psraw, .psrad, .pslldq, .psrldq,
        .pshufd, .pshuflw, .pshufhw, .pabsb, .pabsw, .pabsd,
        .pinsrb, .pinsrw, .pinsrd, .pinsrq, .pextrb, .pextrw, .pextrd, .pextrq,
        .pmovzxbw, .pmovzxbd, .pmovzxbq, .pmovzxwd, .pmovzxwq, .pmovzxdq,
        .pmovsxbw, .pmovsxbd, .pmovsxbq, .pmovsxwd, .pmovsxwq, .pmovsxdq,
        .pcmpistri, .pcmpestri, .pcmpistrm, .pcmpestrm,
        .phaddw, .phaddd, .phaddsw, .phsubw, .phsubd, .phsubsw, .psignb, .psignw, .psignd, .pmulhrsw, .pmaddubsw,
        .movddup, .movshdup, .movsldup, .movlhps, .movhlps, .movhps, .movhpd, .movlps, .movlpd,
    ]

    /// AVX2 gathers: their memory operand is VSIB (a vector index register).
    static let gatherOpcodes: Set<Opcode> = [.vpgatherdd, .vpgatherdq, .vpgatherqd, .vpgatherqq,
                                             .vgatherdps, .vgatherdpd, .vgatherqps, .vgatherqpd]

    /// Whether the encoding is EVEX (AVX-512): after any legacy prefixes, 62h starts an
    /// EVEX prefix in 64-bit mode (SDM Vol. 2, 2.7).
    static func isEVEX(_ bytes: [UInt8]) -> Bool {
        for b in bytes {
            switch b {
            case 0x66, 0x67, 0xF2, 0xF3, 0xF0, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65: continue
            default: return b == 0x62
            }
        }
        return false
    }

    /// `bytes` with vbroadcasti128 ymm, m128 (VEX.256.66.0F38.W0 5A /r, memory only) turned
    /// into vbroadcastf128 (opcode 1A), which loads the same 16 bytes into both lanes and
    /// which Capstone 4 decodes; nil for any other encoding.
    static func vbroadcasti128AsF128(_ bytes: [UInt8]) -> [UInt8]? {
        var i = 0
        while i < bytes.count, [0x66, 0x67, 0xF2, 0xF3, 0xF0, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65].contains(bytes[i]) { i += 1 }
        guard i + 4 < bytes.count, bytes[i] == 0xC4, bytes[i + 1] & 0x1F == 2, bytes[i + 2] & 0x87 == 0x05,
              bytes[i + 3] == 0x5A, bytes[i + 4] >> 6 != 3 else { return nil }
        var twin = bytes
        twin[i + 3] = 0x1A
        return twin
    }

    private static func stringOp(_ name: String) -> (Opcode, UInt8)? {
        let sizes: [Character: UInt8] = ["b": 1, "w": 2, "d": 4, "q": 8]
        for (prefix, op) in [("movs", Opcode.movs), ("stos", .stos), ("lods", .lods), ("scas", .scas), ("cmps", .cmps)] {
            if name.count == prefix.count + 1, name.hasPrefix(prefix), let last = name.last, let s = sizes[last] {
                return (op, s)
            }
        }
        return nil
    }

    /// Decodes the instruction at `address`, fetching bytes with execute permission.
    func decode(at address: UInt64, memory: GuestMemory) -> DecodeOutcome {
        var bytes = [UInt8]()
        bytes.reserveCapacity(15)
        for i in 0..<15 as Range<UInt64> {
            guard let b = memory.fetchByte(address &+ i) else { break }
            bytes.append(b)
        }
        if bytes.isEmpty { return .fetchFault(address: address) }
        var ok = false
        func disassemble(_ bytes: [UInt8]) {
            bytes.withUnsafeBufferPointer { buf in
                var code: UnsafePointer<UInt8>? = buf.baseAddress
                var size = buf.count
                var addr = address
                ok = cs_disasm_iter(handle, &code, &size, &addr, scratch)
            }
        }
        disassemble(bytes)
        if !ok, let twin = Self.vbroadcasti128AsF128(bytes) {
            // Capstone 4 does not decode vbroadcasti128; its float twin does the same.
            disassemble(twin)
        }
        guard ok else {
            var ins = Instruction()
            ins.length = 1
            // A truncated fetch (next page not executable) also lands here: report the
            // fault at the first missing byte rather than calling the bytes bad.
            if bytes.count < 15 { return .fetchFault(address: address &+ UInt64(bytes.count)) }
            let text = Self.isEVEX(bytes) ? "(bad) (AVX-512 EVEX encoding Capstone 4 does not decode)" : "(bad)"
            return .unsupported(ins, UnsupportedInstruction(address: address, bytes: Array(bytes.prefix(15)), text: text))
        }
        return translate(scratch.pointee, address: address)
    }

    private func unsupported(_ insn: cs_insn, _ address: UInt64, _ why: String = "") -> DecodeOutcome {
        var ins = Instruction()
        ins.length = UInt8(insn.size)
        let bytes = withUnsafeBytes(of: insn.bytes) { Array($0.prefix(Int(insn.size))) }
        let mnemonic = withUnsafeBytes(of: insn.mnemonic) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let operands = withUnsafeBytes(of: insn.op_str) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let evex = Self.isEVEX(bytes) ? " (AVX-512 EVEX encoding)" : ""
        let text = (operands.isEmpty ? mnemonic : mnemonic + " " + operands) + why + evex
        return .unsupported(ins, UnsupportedInstruction(address: address, bytes: bytes, text: text))
    }

    private func translate(_ insn: cs_insn, address: UInt64) -> DecodeOutcome {
        let id = Int(insn.id)
        guard id > 0, id < opcodeByID.count, let detailPointer = insn.detail else { return unsupported(insn, address) }
        var (op, condition) = opcodeByID[id]
        if op == .unsupported { return unsupported(insn, address) }
        let isVEX = isVEXByID[id]
        if isVEX, withUnsafeBytes(of: insn.bytes, { Self.isEVEX(Array($0.prefix(Int(insn.size)))) }) {
            // An AVX-512 form of a mnemonic that also has a VEX form (opmasks, ZMM, EVEX-only
            // registers): not implemented, and never run as its VEX twin.
            return unsupported(insn, address)
        }
        let x86 = detailPointer.pointee.x86
        let length = UInt8(insn.size)
        var ins = Instruction()
        ins.length = length
        ins.condition = condition

        switch x86.prefix.0 {
        case UInt8(X86_PREFIX_LOCK.rawValue): ins.prefixes |= PrefixBits.lock
        case UInt8(X86_PREFIX_REP.rawValue): ins.prefixes |= PrefixBits.rep
        case UInt8(X86_PREFIX_REPNE.rawValue): ins.prefixes |= PrefixBits.repne
        default: break
        }
        let count = Int(x86.op_count)
        guard count <= 3 || (isVEX && count == 4) else { return unsupported(insn, address, " (too many operands)") }
        if isVEX { ins.prefixes |= PrefixBits.vex }
        let address32 = x86.addr_size == 4
        var operands = [Operand](repeating: Operand(), count: 3)
        let nextRIP = address &+ UInt64(length)
        var hasXMM = false
        var vectorLength: UInt8 = 16
        let ok: Bool = withUnsafeBytes(of: x86.operands) { raw in
            let ops = raw.bindMemory(to: cs_x86_op.self)
            if count == 4 {
                // VEX 4-operand forms: the imm8 (vpalignr, vinserti128 ...) or the is4
                // register (vpblendvb) goes to `condition`.
                let c = ops[3]
                if c.type == X86_OP_IMM {
                    ins.condition = UInt8(truncatingIfNeeded: c.imm)
                } else if c.type == X86_OP_REG, Int(c.reg.rawValue) < registerByID.count,
                          registerByID[Int(c.reg.rawValue)].kind == .xmm {
                    ins.condition = registerByID[Int(c.reg.rawValue)].number
                } else {
                    return false
                }
            }
            for i in 0..<min(count, 3) {
                let c = ops[i]
                var o = Operand()
                o.size = c.size
                switch c.type {
                case X86_OP_REG:
                    let rid = Int(c.reg.rawValue)
                    guard rid < registerByID.count else { return false }
                    let m = registerByID[rid]
                    guard m.kind != .none else { return false }
                    o.kind = m.kind
                    o.reg = m.number
                    o.size = m.size
                    if m.kind == .xmm { hasXMM = true; vectorLength = max(vectorLength, m.size) }
                    if m.kind == .mm { ins.prefixes |= PrefixBits.mmx }
                case X86_OP_IMM:
                    o.kind = .immediate
                    o.value = UInt64(bitPattern: c.imm)
                case X86_OP_MEM:
                    o.kind = .memory
                    // vcvtpd2ps xmm1, ymmword ptr [...]: the memory operand sets the length.
                    if isVEX && c.size == 32 { vectorLength = 32 }
                    o.address32 = address32
                    let mem = c.mem
                    let seg = mem.segment.rawValue
                    if seg == segmentFS { o.segment = .fs } else if seg == segmentGS { o.segment = .gs }
                    else if seg != 0 {
                        // Capstone names the last segment prefix; in 64-bit mode ES/CS/SS/DS
                        // are ignored, so an earlier FS/GS prefix still decides (`gs es`
                        // addresses through GS on this CPU; AMD APM Vol. 3, 1.2.4).
                        o.segment = withUnsafeBytes(of: insn.bytes) { Self.lastFSGSPrefix($0.prefix(Int(insn.size))) }
                    }
                    let base = mem.base.rawValue
                    if base == registerRIP || base == registerEIP {
                        // RIP-relative: resolve to an absolute address now (SDM Vol. 2, 2.2.1.6).
                        o.value = nextRIP &+ UInt64(bitPattern: mem.disp)
                        if base == registerEIP { o.value &= 0xFFFF_FFFF }
                        o.reg = Operand.noRegister
                    } else {
                        o.value = UInt64(bitPattern: mem.disp)
                        if base != 0 {
                            let m = registerByID[Int(base)]
                            guard m.kind == .gpr else { return false }
                            o.reg = m.number
                        }
                    }
                    let index = mem.index.rawValue
                    if index != 0 {
                        let m = registerByID[Int(index)]
                        if m.kind == .xmm && Self.gatherOpcodes.contains(op) {
                            // VSIB: the index register's width (16 or 32) goes to `condition`.
                            ins.condition = m.size
                        } else {
                            guard m.kind == .gpr else { return false }
                        }
                        o.index = m.number
                        o.scaleShift = UInt8(truncatingIfNeeded: mem.scale.trailingZeroBitCount)
                    }
                default:
                    return false
                }
                operands[i] = o
            }
            return true
        }
        guard ok else { return unsupported(insn, address, " (operand kind)") }
        ins.operandCount = UInt8(min(count, 3))
        ins.o0 = operands[0]
        ins.o1 = operands[1]
        ins.o2 = operands[2]
        ins.size = count > 0 ? operands[0].size : 0
        // VEX forms: the vector length (16 or 32 bytes) from the widest vector register.
        if isVEX { ins.size = vectorLength }

        // Per-opcode fixups where Capstone's form differs from what the executor expects.
        switch op {
        case .cmps where hasXMM:
            // "cmpsd" names both the string compare and the SSE2 scalar compare.
            op = .cmpsd_sse
            ins.size = 8
            ins.condition = withUnsafeBytes(of: insn.bytes) { $0[Int(insn.size) - 1] } & 7
        case .movs, .stos, .lods, .scas, .cmps:
            ins.size = withUnsafeBytes(of: insn.bytes) { Self.stringElementSize(Array($0.prefix(Int(insn.size)))) } ?? condition
            ins.condition = 0
        case .movsd where hasXMM: break
        case .movsd:
            op = .movs
            ins.size = withUnsafeBytes(of: insn.bytes) { Self.stringElementSize(Array($0.prefix(Int(insn.size)))) } ?? 4
        case .cmpss, .cmpsd_sse, .cmpps, .cmppd:
            // Predicate: trailing imm8 of the encoding (0F C2 /r ib); 0-7 in the legacy
            // encodings, 0-31 in VEX ones.
            ins.condition = withUnsafeBytes(of: insn.bytes) { $0[Int(insn.size) - 1] } & (isVEX ? 31 : 7)
        case .cbw, .cwd: ins.size = 2
        case .cwde, .cdq: ins.size = 4
        case .cdqe, .cqo: ins.size = 8
        case .pushfq, .popfq: ins.size = x86.prefix.2 == 0x66 ? 2 : 8
        case .push, .pop:
            if operands[0].kind == .immediate { ins.size = x86.prefix.2 == 0x66 ? 2 : 8 }
        case .ret:
            ins.size = 8
        case .leave, .enter:
            ins.size = x86.prefix.2 == 0x66 ? 2 : 8
        case .fnstenv, .fldenv, .fnsave, .frstor:
            // A 66h prefix selects the 14-byte (16-bit) environment layout (fnsave/frstor:
            // that environment, then the eight 10-byte registers).
            ins.size = x86.prefix.2 == 0x66 ? 14 : 28
        case .movzx, .movsx, .movsxd:
            break
        case .jcc, .jmp, .call, .jrcxz, .jecxz, .loop, .loope, .loopne:
            if op == .jrcxz { ins.size = 8 } else if op == .jecxz { ins.size = 4 }
            // A 67h prefix makes loop/loope/loopne count in ECX (SDM Vol. 2, LOOP).
            if op == .loop || op == .loope || op == .loopne { ins.o0.address32 = address32 }
        case .rdseed where withUnsafeBytes(of: insn.bytes, { $0.prefix(Int(insn.size)).prefix { $0 != 0x0F }.contains(0xF3) }):
            // Capstone 4 reads F3 0F C7 /7 (rdpid: the CPU number from IA32_TSC_AUX) as
            // rdseed. Either way a nondeterministic value nothing recorded.
            let operands = withUnsafeBytes(of: insn.op_str) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            var u = Instruction()
            u.length = length
            let bytes = withUnsafeBytes(of: insn.bytes) { Array($0.prefix(Int(insn.size))) }
            return .unsupported(u, UnsupportedInstruction(address: address, bytes: bytes,
                                                          text: "rdpid \(operands) (the CPU number: nondeterministic, not recorded)"))
        case .nop, .pause, .fwait, .mfence, .lfence, .sfence, .clflush, .prefetch:
            ins.operandCount = 0
        default:
            break
        }
        // Operand kinds outside the register file (MMX, AVX ymm, control registers...)
        // were refused above; MMX forms of shared mnemonics show up as missing sizes.
        ins.op = op
        return .decoded(ins)
    }

    /// The FS or GS override among the legacy prefixes of `bytes` (the last one wins),
    /// or `.none` when only ES/CS/SS/DS overrides, which 64-bit mode ignores, are present.
    static func lastFSGSPrefix<C: Collection>(_ bytes: C) -> SegmentOverride where C.Element == UInt8 {
        var segment = SegmentOverride.none
        for b in bytes {
            switch b {
            case 0x64: segment = .fs
            case 0x65: segment = .gs
            case 0x66, 0x67, 0xF2, 0xF3, 0xF0, 0x2E, 0x36, 0x3E, 0x26: continue
            default: return segment
            }
        }
        return segment
    }

    /// Element size of a string instruction from its raw bytes. Capstone 4 ignores a 66h
    /// prefix that precedes F3/F2 (`66 f3 a5` is `rep movsw`, Capstone says movsd), so
    /// the size is recomputed here from the prefixes, REX.W and the opcode's low bit.
    static func stringElementSize(_ bytes: [UInt8]) -> UInt8? {
        var operandSizePrefix = false
        var rexW = false
        for b in bytes {
            switch b {
            case 0x66: operandSizePrefix = true
            case 0xF2, 0xF3, 0xF0, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65, 0x67: continue
            case 0x40...0x4F: rexW = b & 8 != 0
            case 0xA4...0xA7, 0xAA...0xAF:
                if b & 1 == 0 { return 1 }
                return rexW ? 8 : operandSizePrefix ? 2 : 4
            default: return nil
            }
        }
        return nil
    }

    /// Capstone's text for an address (diagnostics, unsupported reports).
    func describe(at address: UInt64, memory: GuestMemory) -> String {
        switch decode(at: address, memory: memory) {
        case .unsupported(_, let u): return u.text
        case .fetchFault: return "(not executable)"
        case .decoded:
            // Decoded into magprov's form, so `scratch` still holds Capstone's text.
            let insn = scratch.pointee
            let mnemonic = withUnsafeBytes(of: insn.mnemonic) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let operands = withUnsafeBytes(of: insn.op_str) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            return operands.isEmpty ? mnemonic : mnemonic + " " + operands
        }
    }
}
