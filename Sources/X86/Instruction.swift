// magprov's own compact decoded-instruction form. Capstone's output is translated into
// this once per guest address; the interpreter loop reads only these plain structs.

/// The operations the interpreter implements. Raw values are Capstone mnemonics where the
/// two agree, so the decoder maps most instructions by name; aliases (movaps -> movdqu,
/// sal -> shl ...) are listed in `Decoder.mnemonicAliases`.
enum Opcode: String, CaseIterable {
    case unsupported
    // Data movement
    case mov, movzx, movsx, movsxd, lea, xchg, bswap, movbe, cmovcc, setcc, push, pop
    case cbw, cwde, cdqe, cwd, cdq, cqo, xlatb, leave, enter
    case pushfq, popfq, lahf, sahf
    // ALU
    case add, adc, sub, sbb, cmp, and, or, xor, test, not, neg, inc, dec
    case cmpxchg, cmpxchg8b, cmpxchg16b, xadd
    case andn, bextr, blsi, blsmsk, blsr, bzhi, pdep, pext, mulx
    case adcx, adox
    // Bits
    case bt, bts, btr, btc, bsf, bsr, tzcnt, lzcnt, popcnt
    // Shifts
    case shl, shr, sar, rol, ror, rcl, rcr, shld, shrd, shlx, shrx, sarx, rorx
    // Multiply / divide
    case mul, imul, div, idiv
    // Control flow
    case jmp, jcc, jrcxz, jecxz, call, ret, loop, loope, loopne
    // Strings (element size in Instruction.size)
    case movs, stos, lods, scas, cmps
    // Flags and misc
    case cld, std, clc, stc, cmc, nop, pause, ud2, int3, hlt, cpuid, rdtsc, rdtscp, syscall
    case xgetbv, rdrand, rdseed, mfence, lfence, sfence, clflush, prefetch
    case rdfsbase, rdgsbase, wrfsbase, wrgsbase
    // SSE data movement
    case movdqu    // any full 128-bit move (movdqa/movaps/movups/movapd/movupd/lddqu)
    case movd, movq, movss, movsd, movhps, movlps, movlhps, movhlps, movhpd, movlpd
    case movntdq, movnti, movntps, movntpd
    case movmskps, movmskpd, pmovmskb, maskmovdqu
    // SSE integer
    case pxor, por, pand, pandn
    case pcmpeqb, pcmpeqw, pcmpeqd, pcmpeqq, pcmpgtb, pcmpgtw, pcmpgtd, pcmpgtq
    case pminub, pmaxub, pminsw, pmaxsw, pminsb, pmaxsb, pminuw, pmaxuw, pminud, pmaxud, pminsd, pmaxsd
    case paddb, paddw, paddd, paddq, psubb, psubw, psubd, psubq
    case paddusb, paddusw, psubusb, psubusw, paddsb, paddsw, psubsb, psubsw
    case psllw, pslld, psllq, psrlw, psrld, psrlq, psraw, psrad, pslldq, psrldq
    case punpcklbw, punpcklwd, punpckldq, punpcklqdq, punpckhbw, punpckhwd, punpckhdq, punpckhqdq
    case pshufd, pshuflw, pshufhw, pshufb, palignr, ptest, pcmpistri, pcmpestri, pcmpistrm, pcmpestrm
    case pmullw, pmulhw, pmulhuw, pmuludq, pmulld, pmaddwd, psadbw, pavgb, pavgw
    case packuswb, packsswb, packssdw, packusdw
    case pinsrw, pextrw, pinsrb, pinsrd, pinsrq, pextrb, pextrd, pextrq
    case pmovzxbw, pmovzxbd, pmovzxbq, pmovzxwd, pmovzxwq, pmovzxdq
    case pmovsxbw, pmovsxbd, pmovsxbq, pmovsxwd, pmovsxwq, pmovsxdq
    case pabsb, pabsw, pabsd, pblendw, pblendvb, pshufw, blendps, blendpd, blendvps, blendvpd
    /// SSSE3 horizontal, sign and multiply forms (xmm, mm and VEX; `packedLane`).
    case phaddw, phaddd, phaddsw, phsubw, phsubd, phsubsw, psignb, psignw, psignd, pmulhrsw, pmaddubsw
    /// SSE3 duplicating moves (xmm and VEX).
    case movddup, movshdup, movsldup
    // SSE float
    case shufps, shufpd, unpcklps, unpckhps, unpcklpd, unpckhpd
    case xorps, andps, orps, andnps
    case addss, addsd, addps, addpd, subss, subsd, subps, subpd
    case mulss, mulsd, mulps, mulpd, divss, divsd, divps, divpd
    case sqrtss, sqrtsd, sqrtps, sqrtpd, minss, minsd, minps, minpd, maxss, maxsd, maxps, maxpd
    case ucomiss, ucomisd, comiss, comisd
    case cmpss, cmpsd_sse, cmpps, cmppd
    case cvtsi2ss, cvtsi2sd, cvttss2si, cvttsd2si, cvtss2si, cvtsd2si
    case cvtss2sd, cvtsd2ss, cvtdq2ps, cvtdq2pd, cvttps2dq, cvttpd2dq, cvtps2dq, cvtpd2dq
    case cvtps2pd, cvtpd2ps
    case roundss, roundsd, roundps, roundpd
    case rcpps, rsqrtps, rcpss, rsqrtss
    /// SSE3 horizontal arithmetic and SSE4.1 dpps (xmm and VEX; `horizontalFloatLane`, `dotProductLane`).
    case haddps, haddpd, hsubps, hsubpd, dpps
    case stmxcsr, ldmxcsr, fxsave, fxrstor, xsave, xsavec, xrstor
    // Checksums and ciphers (Crypto.swift)
    case crc32, pclmulqdq, aesenc, aesenclast, aesdec, aesdeclast, aesimc, aeskeygenassist
    case sha256rnds2, sha256msg1, sha256msg2, sha1rnds4, sha1nexte, sha1msg1, sha1msg2
    // AVX / AVX2 only (the VEX forms of SSE opcodes reuse those, with PrefixBits.vex)
    case vzeroupper, vzeroall, vpbroadcastb, vpbroadcastw, vpbroadcastd, vpbroadcastq, vbroadcastss, vbroadcastsd
    case vextracti128, vextractf128, vinserti128, vinsertf128, vperm2i128, vperm2f128, vpermq, vpblendd
    /// F16C: half-precision conversions (AVX.swift, `executeF16C`).
    case vcvtph2ps, vcvtps2ph
    /// AVX/AVX2 permutes, variable shifts, masked moves, tests, 128-bit broadcasts and
    /// gathers (AVX2Extra.swift, `executeAVXExtra`). Gathers address memory through a VSIB
    /// operand: `Operand.index` is a vector register whose width is in `Instruction.condition`.
    case vpermilps, vpermilpd, vtestps, vtestpd, vmaskmovps, vmaskmovpd, vpmaskmovd, vpmaskmovq
    case vpermd, vpermps, vpermpd, vpsllvd, vpsllvq, vpsrlvd, vpsrlvq, vpsravd, vbroadcasti128, vbroadcastf128
    case vpgatherdd, vpgatherdq, vpgatherqd, vpgatherqq, vgatherdps, vgatherdpd, vgatherqps, vgatherqpd
    // MMX only (the MMX forms of SSE opcodes reuse those, with PrefixBits.mmx)
    case emms, movq2dq, movdq2q
    /// MMX stores and the conversions between MMX integers and SSE floats (`executeMMX`).
    case maskmovq, movntq, cvtpi2ps, cvtps2pi, cvttps2pi, cvtpi2pd, cvtpd2pi, cvttpd2pi
    /// FMA3: vf[n]madd/vf[n]msub 132/213/231 sd/ss/pd/ps; the form is in `Instruction.condition`
    /// (`Decoder.fmaForm`).
    case vfma
    // x87
    case fld, fst, fstp, fild, fist, fistp, fisttp, fbld, fbstp
    case fadd, faddp, fiadd, fsub, fsubp, fisub, fsubr, fsubrp, fisubr
    case fmul, fmulp, fimul, fdiv, fdivp, fidiv, fdivr, fdivrp, fidivr
    case fxch, fcom, fcomp, fcompp, fucom, fucomp, fucompp, fcomi, fcomip, fucomi, fucomip
    case ficom, ficomp, ftst, fxam
    case fchs, fabs, fldz, fld1, fldpi, fldl2e, fldl2t, fldlg2, fldln2
    case fnstcw, fldcw, fnstsw, fnstenv, fldenv, fnsave, frstor, fninit, fnclex, fwait, ffree, fincstp, fdecstp
    case frndint, fscale, fprem, fprem1, fsqrt, fxtract, fcmovcc
    case f2xm1, fyl2x, fyl2xp1, fptan, fpatan, fsin, fcos, fsincos
}

/// Kinds of operand. Immediate and memory operands carry their numbers in `Operand.value`.
enum OperandKind: UInt8 {
    case none
    case gpr          // reg = 0...15
    case gprHigh8     // ah/ch/dh/bh: reg = 0...3, the second byte of rax/rcx/rdx/rbx
    case xmm          // reg = 0...15
    case st           // reg = i of ST(i)
    case mm           // reg = 0...7: MMX register i, the significand of physical x87 register i
    case immediate
    case memory
}

/// Segment override of a memory operand; only FS and GS have non-zero bases in 64-bit mode.
enum SegmentOverride: UInt8 { case none, fs, gs }

/// One decoded operand: 16 bytes, no references.
struct Operand {
    /// Immediate (masked to `size`, sign-extended where the ISA sign-extends), memory
    /// displacement, or for RIP-relative memory the absolute address.
    var value: UInt64 = 0
    var kind: OperandKind = .none
    var size: UInt8 = 0
    /// GPR/XMM/ST number, or memory base register (`Operand.noRegister` if none).
    var reg: UInt8 = Operand.noRegister
    var index: UInt8 = Operand.noRegister
    var scaleShift: UInt8 = 0
    var segment: SegmentOverride = .none
    /// 0x67 prefix: the effective address wraps at 32 bits.
    var address32: Bool = false

    static let noRegister: UInt8 = 0xFF
}

/// Prefix flags kept from decoding.
enum PrefixBits {
    static let lock: UInt8 = 1
    static let rep: UInt8 = 2      // F3: rep / repe
    static let repne: UInt8 = 4    // F2: repne
    /// VEX-encoded (AVX): three operands (destination, first source, second source),
    /// `Instruction.size` is the vector length (16 or 32), a 4th operand's imm8 or
    /// register number is in `Instruction.condition`, and writes to a vector register
    /// zero its bits above the vector length.
    static let vex: UInt8 = 8
    /// An MMX form (an `mm` operand): run by `executeMMX` on the x87 registers' significands.
    static let mmx: UInt8 = 16
}

/// One decoded instruction: plain data (~64 bytes) stored contiguously per block.
struct Instruction {
    var op: Opcode = .unsupported
    var length: UInt8 = 0
    var operandCount: UInt8 = 0
    var prefixes: UInt8 = 0
    /// Condition code (Jcc/SETcc/CMOVcc/FCMOVcc), or a small per-opcode detail.
    var condition: UInt8 = 0
    /// Operation size in bytes (the destination size for most instructions; the element
    /// size for string instructions).
    var size: UInt8 = 0
    var o0 = Operand()
    var o1 = Operand()
    var o2 = Operand()
}

/// Description of an instruction the interpreter cannot run, for `StopReason.unsupported`.
public struct UnsupportedInstruction: Equatable, Sendable, CustomStringConvertible {
    public var address: UInt64
    public var bytes: [UInt8]
    /// Capstone's mnemonic and operands, or "(bad)" when the bytes do not decode.
    public var text: String

    public var description: String {
        let hex = bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        return "0x\(String(address, radix: 16)): \(hex.joined(separator: " "))  \(text)"
    }
}
