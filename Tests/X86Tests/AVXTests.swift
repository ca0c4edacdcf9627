// Differential tests of the VEX (AVX/AVX2) forms against this CPU: every snippet runs
// natively with all 256 bits of YMM0-15 loaded and saved, and in the interpreter from the
// same state; registers (upper YMM halves included), flags and memory must agree.
@testable import X86
import X86TestSupport
import XCTest

final class AVXTests: XCTestCase {
    /// SSEIntegerTests' string-like vector states, with distinct upper YMM halves.
    static func states() -> [TestState] {
        SSEIntegerTests.vectorStates().enumerated().map { i, state in
            var s = state
            s.avx = true
            for k in 0..<32 { s.ymmHigh[k] = s.xmm[(k + 5 * i) % 32] ^ (UInt64(k) << 56) }
            return s
        }
    }

    func check(_ snippets: [String], compare: Comparison = .all, file: StaticString = #filePath, line: UInt = #line) throws {
        let codes = try Assembler.assemble(snippets)
        let inputs = Self.states()
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs, data: SSEIntegerTests.data, compare: compare, file: file, line: line)
        }
    }

    func testMovesZeroTheUpperLanesOfVEX128ButNotOfLegacySSE() throws {
        try check(["vmovdqu ymm1, ymmword ptr [rsi+3]", "vmovdqa ymm2, ymm0", "vmovdqu ymmword ptr [rsi+1], ymm3",
                   "vmovdqa xmm1, xmm0", "vmovdqu xmm1, xmmword ptr [rsi+5]", "vmovdqu xmmword ptr [rsi], xmm2",
                   "vmovaps ymm4, ymm5", "vmovups xmm4, xmm5", "vmovntdq ymmword ptr [rsi+64], ymm2", "vlddqu ymm3, ymmword ptr [rsi+7]",
                   "movdqa xmm1, xmm0", "pxor xmm1, xmm2", "movq xmm1, rax",
                   "vmovd xmm1, eax", "vmovd eax, xmm2", "vmovq xmm1, rax", "vmovq rax, xmm2", "vmovq xmm1, xmm2",
                   "vmovq xmm3, qword ptr [rsi+7]", "vmovq qword ptr [rsi], xmm0", "vmovd dword ptr [rsi], xmm2",
                   "vpmovmskb eax, ymm0", "vpmovmskb ecx, xmm2", "vpmovmskb r9d, ymm3", "vmovmskps eax, ymm2", "vmovmskpd eax, ymm0",
                   "vzeroupper", "vzeroall"])
    }

    func testPacked256BitLaneOperations() throws {
        var snippets: [String] = []
        for op in ["pxor", "por", "pand", "pandn", "xorps", "andps", "andnps", "orps",
                   "pcmpeqb", "pcmpeqw", "pcmpeqd", "pcmpeqq", "pcmpgtb", "pcmpgtw", "pcmpgtd", "pcmpgtq",
                   "pminub", "pmaxub", "pminsw", "pmaxsw", "pminsb", "pmaxsb", "pminuw", "pmaxuw", "pminud", "pmaxud", "pminsd", "pmaxsd",
                   "paddb", "paddw", "paddd", "paddq", "psubb", "psubw", "psubd", "psubq",
                   "paddusb", "paddusw", "psubusb", "psubusw", "paddsb", "paddsw", "psubsb", "psubsw",
                   "pmullw", "pmulhw", "pmulhuw", "pmuludq", "pmulld", "pmaddwd", "psadbw", "pavgb", "pavgw",
                   "packuswb", "packsswb", "packssdw", "packusdw",
                   "punpcklbw", "punpcklwd", "punpckldq", "punpcklqdq", "punpckhbw", "punpckhwd", "punpckhdq", "punpckhqdq",
                   "unpcklps", "unpckhps", "unpcklpd", "unpckhpd", "pshufb"] {
            snippets += ["v\(op) ymm0, ymm1, ymm2", "v\(op) xmm3, xmm4, xmmword ptr [rsi]",
                         "v\(op) ymm5, ymm2, ymmword ptr [rsi+32]", "v\(op) ymm2, ymm0, ymm2"]
        }
        snippets += ["vpxor xmm5, xmm5, xmm5", "vpxor ymm3, ymm3, ymm3", "vpcmpeqb ymm1, ymm4, ymmword ptr [rsi]"]
        try check(snippets)
    }

    func testShiftsShufflesBlendsInsertsAndExtracts() throws {
        var snippets: [String] = []
        for op in ["psllw", "pslld", "psllq", "psrlw", "psrld", "psrlq", "psraw", "psrad"] {
            for n in [0, 1, 7, 16, 33, 64, 200] { snippets.append("v\(op) ymm0, ymm2, \(n)") }
            snippets += ["v\(op) ymm1, ymm2, xmm4", "v\(op) xmm1, xmm2, 3"]
        }
        for n in [0, 1, 5, 16] { snippets += ["vpslldq ymm0, ymm2, \(n)", "vpsrldq xmm1, xmm2, \(n)"] }
        for imm in [0, 0x1B, 0x4E, 0xFF] {
            snippets += ["vpshufd ymm1, ymm0, \(imm)", "vpshuflw ymm1, ymm2, \(imm)", "vpshufhw xmm1, xmm0, \(imm)",
                         "vpshufd ymm1, ymmword ptr [rsi], \(imm)", "vshufps ymm0, ymm1, ymm2, \(imm)",
                         "vpblendw ymm0, ymm1, ymm2, \(imm)", "vpblendd ymm0, ymm1, ymmword ptr [rsi], \(imm)",
                         "vpermq ymm3, ymm2, \(imm)", "vperm2i128 ymm0, ymm1, ymm2, \(imm)", "vperm2f128 ymm3, ymm4, ymmword ptr [rsi], \(imm)",
                         "vblendps ymm0, ymm1, ymm2, \(imm)", "vblendpd ymm3, ymm4, ymmword ptr [rsi], \(imm & 15)", "vblendps xmm1, xmm2, xmm3, \(imm & 15)",
                         "blendps xmm1, xmm2, \(imm & 15)", "blendpd xmm3, xmmword ptr [rsi], \(imm & 3)"]
        }
        for n in [0, 3, 15, 17, 31] { snippets.append("vpalignr ymm0, ymm1, ymm2, \(n)") }
        snippets += ["vpabsb ymm0, ymm2", "vpabsw ymm1, ymmword ptr [rsi]", "vpabsd xmm1, xmm0",
                     "vpblendvb ymm0, ymm1, ymm2, ymm3", "vpblendvb xmm0, xmm1, xmmword ptr [rsi], xmm4",
                     "vptest ymm0, ymm2", "vptest ymm1, ymm1", "vptest xmm0, xmmword ptr [rsi]",
                     "vpbroadcastb ymm0, xmm2", "vpbroadcastb xmm1, byte ptr [rsi+3]", "vpbroadcastw ymm0, word ptr [rsi]",
                     "vpbroadcastd ymm1, xmm3", "vpbroadcastq ymm2, qword ptr [rsi+8]", "vbroadcastss ymm3, dword ptr [rsi]",
                     "vbroadcastsd ymm4, qword ptr [rsi+8]", "vbroadcastsd ymm5, xmm2",
                     "vblendvps ymm0, ymm1, ymm2, ymm3", "vblendvpd ymm0, ymm1, ymmword ptr [rsi], ymm4", "vblendvps xmm1, xmm2, xmm3, xmm0",
                     "blendvps xmm1, xmm2, xmm0", "blendvpd xmm3, xmmword ptr [rsi], xmm0",
                     "vextracti128 xmm1, ymm0, 1", "vextracti128 xmm1, ymm0, 0", "vextracti128 xmmword ptr [rsi], ymm2, 1",
                     "vextractf128 xmm3, ymm4, 1", "vinserti128 ymm0, ymm1, xmm2, 1", "vinserti128 ymm0, ymm0, xmmword ptr [rsi], 0",
                     "vinsertf128 ymm3, ymm2, xmm1, 1",
                     "vpinsrb xmm0, xmm1, eax, 5", "vpinsrw xmm0, xmm0, word ptr [rsi], 3", "vpinsrd xmm2, xmm1, eax, 1",
                     "vpinsrq xmm2, xmm1, rax, 1", "vpextrw eax, xmm1, 3", "vpextrw r11d, xmm1, 0", "vpextrb eax, xmm1, 9",
                     "vpextrd dword ptr [rsi], xmm1, 1", "vpextrq rax, xmm1, 1",
                     "vpmovzxbw ymm0, xmm2", "vpmovzxbd ymm0, qword ptr [rsi]", "vpmovsxwd ymm1, xmm0", "vpmovsxbq xmm1, word ptr [rsi]",
                     "vpmovzxdq ymm2, xmmword ptr [rsi]", "vpmovsxbw xmm3, xmm0",
                     "vpcmpistrm xmm1, xmm2, 0x40", "vpcmpistrm xmm3, xmmword ptr [rsi], 0x0c",
                     "mov eax, 7\nmov edx, 9\nvpcmpestrm xmm1, xmm0, 0x08"]
        try check(snippets)
    }

    /// libm's FMA variants (python3's math): VEX scalar arithmetic, moves, conversions,
    /// compares and fused multiply-adds, with MXCSR's flags.
    func testScalarFloatAndFMAForms() throws {
        var snippets: [String] = []
        for op in ["add", "sub", "mul", "div", "min", "max", "sqrt"] {
            snippets += ["v\(op)sd xmm0, xmm1, xmm2", "v\(op)sd xmm3, xmm4, qword ptr [rsi+8]", "v\(op)ss xmm2, xmm0, xmm2"]
            snippets += op == "sqrt" ? ["vsqrtpd xmm5, xmm3", "vsqrtps xmm1, xmmword ptr [rsi]"]
                                     : ["v\(op)pd xmm5, xmm4, xmm3", "v\(op)ps xmm1, xmm2, xmmword ptr [rsi]"]
        }
        for order in ["132", "213", "231"] {
            for kind in ["fmadd", "fnmadd", "fmsub", "fnmsub"] {
                snippets += ["v\(kind)\(order)sd xmm0, xmm1, xmm2", "v\(kind)\(order)ss xmm3, xmm4, dword ptr [rsi+4]",
                             "v\(kind)\(order)pd ymm1, ymm2, ymm3", "v\(kind)\(order)ps xmm2, xmm0, xmm2"]
            }
        }
        snippets += ["vmovsd xmm7, qword ptr [rsi+16]", "vmovsd qword ptr [rsi], xmm1", "vmovsd xmm0, xmm1, xmm2",
                     "vmovss xmm3, dword ptr [rsi]", "vmovss xmm3, xmm4, xmm3", "vmovapd xmm1, xmm2", "vandpd xmm0, xmm1, xmm2",
                     "vandnpd xmm0, xmm1, xmm2", "vxorpd xmm3, xmm3, xmm3", "vorpd xmm1, xmm1, xmmword ptr [rsi]",
                     "vcvtsi2sd xmm0, xmm1, rax", "vcvtsi2sd xmm0, xmm0, dword ptr [rsi]", "vcvtsi2ss xmm2, xmm3, eax",
                     "vcvttsd2si rax, xmm1", "vcvtsd2si eax, qword ptr [rsi]", "vcvtsd2ss xmm0, xmm1, xmm2", "vcvtss2sd xmm1, xmm2, xmm1",
                     "vucomisd xmm0, xmm1", "vcomisd xmm2, qword ptr [rsi]", "vcomiss xmm0, xmm1",
                     "vroundsd xmm0, xmm1, xmm2, 1", "vroundsd xmm0, xmm1, qword ptr [rsi], 10", "vroundpd xmm1, xmm2, 3",
                     "vcvtdq2pd xmm0, xmm1", "vcvtpd2ps xmm0, xmm1", "vunpcklpd xmm0, xmm1, xmm2",
                     "vstmxcsr dword ptr [rsi]", "vmulsd xmm2, xmm2, xmm2"]
        let codes = try Assembler.assemble(snippets)
        let (inputs, data) = Self.floatStates(doubles: [1.5, -2.75, 1e308, 3e-310, .nan, 0.1, -0.0, 7.0])
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs, data: data)
        }
    }

    /// Doubles and floats that round, overflow, go subnormal and are NaN (quiet and
    /// signaling), in every lane of XMM0-15 and their upper YMM halves, and at rsi.
    static func floatStates(doubles: [Double] = [1.5, -2.75, 1e308, 3e-310, .nan, 0.1, -0.0, 7.0, .signalingNaN, -.infinity])
        -> (inputs: [TestState], data: [UInt8]) {
        var inputs: [TestState] = []
        for (i, x) in doubles.enumerated() {
            var s = TestState.patterned(seed: UInt64(i))
            s.avx = true
            for r in 0..<16 {
                let a = doubles[(i + r) % doubles.count], b = doubles[(i + 2 * r + 1) % doubles.count]
                s.xmm[2 * r] = r % 3 == 2 ? UInt64(Float(a).bitPattern) | UInt64(Float(b).bitPattern) << 32 : a.bitPattern
                s.xmm[2 * r + 1] = b.bitPattern
                let c = doubles[(i + 3 * r + 2) % doubles.count], d = doubles[(i + r + 5) % doubles.count]
                s.ymmHigh[2 * r] = r % 2 == 1 ? UInt64(Float(c).bitPattern) | UInt64(Float(d).bitPattern) << 32 : c.bitPattern
                s.ymmHigh[2 * r + 1] = r % 4 == 1 ? UInt64(Float(d).bitPattern) | UInt64(Float(a).bitPattern) << 32 : d.bitPattern
            }
            s.gpr[GPR.rax.rawValue] = x.bitPattern >> 20
            s.gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 0x100
            inputs.append(s)
        }
        var data = [UInt8](repeating: 0, count: 0x200)
        for (k, v) in doubles.enumerated() { withUnsafeBytes(of: v) { data.replaceSubrange(0x100 + 8 * k..<0x108 + 8 * k, with: $0) } }
        for k in 0..<8 { withUnsafeBytes(of: Float(doubles[(k * 3) % doubles.count])) { data.replaceSubrange(0x160 + 4 * k..<0x164 + 4 * k, with: $0) } }
        return (inputs, data)
    }

    /// 256-bit VEX packed arithmetic, same-shape conversions and rounding (each 128-bit lane
    /// as its SSE form) and the compares with all 32 predicates in every width, with MXCSR's flags.
    func testPacked256BitFloatArithmeticAndAll32ComparePredicates() throws {
        var snippets: [String] = []
        for op in ["add", "sub", "mul", "div", "min", "max"] {
            for t in ["ps", "pd"] {
                snippets += ["v\(op)\(t) ymm0, ymm1, ymm2", "v\(op)\(t) ymm3, ymm4, ymmword ptr [rsi]", "v\(op)\(t) ymm5, ymm6, ymm5"]
            }
        }
        snippets += ["vsqrtps ymm0, ymm1", "vsqrtpd ymm2, ymmword ptr [rsi]", "vsqrtpd ymm3, ymm3", "vandps ymm0, ymm1, ymm2",
                     "vandnpd ymm3, ymm4, ymmword ptr [rsi]", "vorps ymm5, ymm6, ymm7", "vxorpd ymm1, ymm1, ymm1"]
        for predicate in 0..<32 {
            snippets += ["vcmpps ymm0, ymm1, ymm2, \(predicate)", "vcmppd ymm3, ymm4, ymmword ptr [rsi], \(predicate)",
                         "vcmpps xmm5, xmm6, xmm7, \(predicate)", "vcmppd xmm1, xmm2, xmmword ptr [rsi], \(predicate)",
                         "vcmpss xmm0, xmm1, xmm2, \(predicate)", "vcmpsd xmm3, xmm4, qword ptr [rsi], \(predicate)"]
        }
        snippets += ["cmpps xmm0, xmm1, 6", "cmpsd xmm2, xmm3, 1", "vcmpeq_uqps ymm1, ymm2, ymm3", "vcmpngepd ymm0, ymm0, ymm4",
                     "vcvtdq2ps ymm0, ymm1", "vcvtdq2ps ymm2, ymmword ptr [rsi]", "vcvttps2dq ymm3, ymm4", "vcvtps2dq ymm5, ymm5",
                     "cvtdq2ps xmm0, xmm1", "cvttps2dq xmm2, xmm3", "cvtps2dq xmm4, xmmword ptr [rsi]",
                     "vcvtps2pd ymm0, xmm1", "vcvtps2pd ymm2, xmmword ptr [rsi]", "vcvtdq2pd ymm3, xmm4", "vcvtpd2ps xmm5, ymm6",
                     "vcvtpd2ps xmm7, ymmword ptr [rsi]", "vcvtpd2dq xmm1, ymm2", "vcvttpd2dq xmm3, ymmword ptr [rsi]", "vcvttpd2dq xmm4, ymm4",
                     "vcvtpd2ps xmm0, xmm1", "vcvtpd2ps xmm2, xmmword ptr [rsi]"]
        for imm in [0, 1, 2, 3, 4, 8, 9, 12] {
            snippets += ["vroundps ymm0, ymm1, \(imm)", "vroundpd ymm2, ymmword ptr [rsi], \(imm)", "roundps xmm3, xmm4, \(imm)",
                         "roundpd xmm5, xmm6, \(imm)"]
        }
        let codes = try Assembler.assemble(snippets)
        let (inputs, data) = Self.floatStates()
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs, data: data)
        }
    }

    /// F16C against this CPU: halves that are normal, subnormal, infinite and NaN (quiet
    /// and signaling) widen exactly; floats that round in each mode, overflow, go subnormal
    /// or vanish narrow with imm8 rounding and with MXCSR.RC (imm8 bit 2), and MXCSR's flags.
    func testF16CConversionsWithEveryRounding() throws {
        var snippets = ["vcvtph2ps xmm0, xmm1", "vcvtph2ps ymm2, xmm3", "vcvtph2ps xmm4, qword ptr [rsi]",
                        "vcvtph2ps ymm5, xmmword ptr [rsi+16]", "vcvtph2ps ymm6, xmm6"]
        for imm in [0, 1, 2, 3, 4, 8] {
            snippets += ["vcvtps2ph xmm0, xmm1, \(imm)", "vcvtps2ph xmm2, ymm3, \(imm)", "vcvtps2ph qword ptr [rsi], xmm4, \(imm)",
                         "vcvtps2ph xmmword ptr [rsi+8], ymm5, \(imm)"]
        }
        let halves: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x83FF, 0x0400, 0x7C00, 0xFC00, 0x7E01, 0x7C01, 0xFD55, 0x3555, 0x0000, 0x8000, 0x1234, 0xABCD]
        let floats: [Float] = [1.0, -2.5, 65504, 65520, -65519.9, 70000, 1e-5, -6e-8, 3e-8, 2.98e-8, 1e-40, 6.1e-5, 6.1032e-5,
                               1.0009766, 1.00048828125, -1.00146484375, .infinity, -.nan, .signalingNaN, 0.1, -0.0, 1e20, 2049.5, 0.33333334]
        var inputs: [TestState] = []
        for seed in 0..<6 {
            for mxcsr: UInt32 in [0x1F80, 0x3F80, 0x5F80, 0x7F80, 0x1FC0] {
                var s = TestState.patterned(seed: UInt64(seed))
                s.avx = true
                s.mxcsr = mxcsr
                for k in 0..<32 {
                    if k % 4 < 2 {
                        var q: UInt64 = 0
                        for j in 0..<4 { q |= UInt64(halves[(seed * 5 + k * 4 + j) % halves.count]) << UInt64(16 * j) }
                        s.xmm[k] = q
                        s.ymmHigh[k] = q.byteSwapped
                    } else {
                        let a = floats[(seed * 7 + k * 2) % floats.count], b = floats[(seed * 7 + k * 2 + 1) % floats.count]
                        s.xmm[k] = UInt64(a.bitPattern) | UInt64(b.bitPattern) << 32
                        s.ymmHigh[k] = UInt64(b.bitPattern) | UInt64(a.bitPattern) << 32
                    }
                }
                s.gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 0x100
                inputs.append(s)
            }
        }
        var data = [UInt8](repeating: 0, count: 0x200)
        for (k, h) in halves.enumerated() { withUnsafeBytes(of: h) { data.replaceSubrange(0x100 + 2 * k..<0x102 + 2 * k, with: $0) } }
        let codes = try Assembler.assemble(snippets)
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs, data: data)
        }
    }

    /// coreutils wc's AVX2 line-counting loop, unrolled once (wc.c, wc_lines_avx2).
    func testCoreutilsWcLoop() throws {
        let loop = """
            vpbroadcastb ymm4, byte ptr [rsi+0x20]
            vpxor xmm2, xmm2, xmm2
            vpxor xmm3, xmm3, xmm3
            mov rdx, rsi
            vpcmpeqb ymm1, ymm4, ymmword ptr [rdx]
            vpcmpeqb ymm0, ymm4, ymmword ptr [rdx+0x20]
            add rdx, 0x40
            vpsubb ymm1, ymm2, ymm1
            vpsubb ymm0, ymm3, ymm0
            vmovdqa ymm2, ymm1
            vmovdqa ymm3, ymm0
            vpxor xmm5, xmm5, xmm5
            vpsadbw ymm1, ymm1, ymm5
            vpsadbw ymm0, ymm0, ymm5
            vpextrw r11d, xmm1, 0
            vpextrw edx, xmm1, 4
            vextracti128 xmm1, ymm1, 1
            vpextrw r8d, xmm1, 4
            add edx, r11d
            vzeroupper
            """
        try check([loop])
    }

    /// ld.so's lazy binding saves and restores every enabled state component with
    /// xsavec/xrstor; glibc's own code uses xsave. The AVX component (upper YMM halves)
    /// must survive the round trip, and its XSTATE_BV bit must say whether it was in use.
    func testXsaveAndXrstorCarryTheAVXComponent() throws {
        let roundTrips = ["xsave", "xsavec"].map { save in
            """
            mov eax, 7
            xor edx, edx
            lea rdi, [rsi+0x3c0]
            and rdi, -64
            \(save) [rdi]
            vpcmpeqb ymm0, ymm0, ymm0
            vpxor ymm5, ymm5, ymm5
            vpaddb ymm9, ymm9, ymm0
            xrstor [rdi]
            mov r8, qword ptr [rdi+512]
            and r8, 4
            vzeroupper
            \(save) [rdi+0x400]
            mov r9, qword ptr [rdi+0x400+512]
            and r9, 4
            mov qword ptr [rdi], 0
            """
        }
        // Memory is compared only through the registers above: the x87/SSE XSTATE_BV bits
        // (XINUSE) are not modelled.
        try check(roundTrips, compare: Comparison(compareMemory: false))
    }

    func testEVEXFormsStopAsUnsupportedNamingTheMnemonic() throws {
        // Capstone 4 decodes most AVX-512 forms (the report names the mnemonic) but not all
        // (compares into opmask registers): those are still named as EVEX.
        for (source, mnemonic) in [("vpbroadcastb ymm17, esi", "vpbroadcastb"), ("vpcmpeqb k1, ymm16, ymm17", "(bad)"),
                                   ("vmovdqu64 ymm16, ymmword ptr [rdi]", "vmovdqu64"), ("vpminub ymm1{k1}, ymm2, ymm3", "vpminub"),
                                   ("vpminub ymm1, ymm2, ymm3", "")] {
            let code = try Assembler.assemble(source == "vpminub ymm1, ymm2, ymm3" ? "{evex} " + source : source)
            let runner = try EmulatedRunner(code)
            let (_, _, reason) = try runner.run(TestState.patterned(), data: [])
            guard case .unsupported(let what) = reason else {
                XCTFail("`\(source)` stopped with \(reason)")
                continue
            }
            XCTAssertTrue(what.text.hasPrefix(mnemonic), "`\(source)`: \(what.text)")
            XCTAssertTrue(what.text.contains("AVX-512 EVEX"), "`\(source)`: \(what.text)")
        }
    }
}

/// Legacy-encoded checksum and cipher instructions against this CPU.
final class CryptoInstructionTests: XCTestCase {
    func testCRC32CLMULAESAndSHARoundsMatchTheCPU() throws {
        var snippets = ["crc32 eax, bl", "crc32 eax, bx", "crc32 eax, ebx", "crc32 rax, rbx", "crc32 rax, byte ptr [rsi+3]",
                        "crc32 ecx, dword ptr [rsi]", "crc32 r9d, word ptr [rsi+1]", "crc32 r8, qword ptr [rsi+8]"]
        for imm in [0x00, 0x01, 0x10, 0x11] {
            snippets += ["pclmulqdq xmm0, xmm2, \(imm)", "pclmulqdq xmm1, xmmword ptr [rsi], \(imm)"]
        }
        for op in ["aesenc", "aesenclast", "aesdec", "aesdeclast"] {
            snippets += ["\(op) xmm0, xmm2", "\(op) xmm3, xmmword ptr [rsi+16]"]
        }
        snippets += ["aesimc xmm1, xmm0", "aesimc xmm1, xmmword ptr [rsi]"]
        for rcon in [0, 1, 0x1b, 0x80] { snippets.append("aeskeygenassist xmm1, xmm2, \(rcon)") }
        snippets += ["sha256rnds2 xmm2, xmm1", "sha256rnds2 xmm3, xmmword ptr [rsi], xmm0", "sha256msg1 xmm1, xmm2",
                     "sha256msg1 xmm4, xmmword ptr [rsi+16]", "sha256msg2 xmm1, xmm2", "sha256msg2 xmm0, xmmword ptr [rsi]",
                     "sha1nexte xmm1, xmm2", "sha1nexte xmm3, xmmword ptr [rsi]", "sha1msg1 xmm1, xmm2", "sha1msg1 xmm4, xmmword ptr [rsi+16]",
                     "sha1msg2 xmm1, xmm2", "sha1msg2 xmm0, xmmword ptr [rsi]", "sha1msg2 xmm3, xmm3"]
        for selector in 0..<4 { snippets += ["sha1rnds4 xmm1, xmm2, \(selector)", "sha1rnds4 xmm0, xmmword ptr [rsi+32], \(selector)"] }
        let codes = try Assembler.assemble(snippets)
        var inputs = SSEIntegerTests.vectorStates()
        for i in inputs.indices { inputs[i].gpr[GPR.rbx.rawValue] = 0x0123_4567_89AB_CDEF &* UInt64(i + 1) }
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs, data: SSEIntegerTests.data)
        }
    }
}

/// Instructions whose less common forms used to stop replay or compute something else.
final class LegacyFormTests: XCTestCase {
    func testEnterWithNestingLevelsCopiesTheEnclosingFramePointers() throws {
        var snippets: [String] = []
        for (size, level) in [(16, 2), (8, 3), (0, 5), (32, 1), (24, 31)] {
            // RBP points into the data area so the copied frame pointers are data bytes.
            snippets.append("""
                lea rbp, [rsi+0x200]
                enter \(size), \(level)
                mov rax, qword ptr [rsp+\(size)]
                mov rbx, qword ptr [rsp+\(size + 8)]
                mov rcx, qword ptr [rsp+\(size + 16)]
                mov rdx, qword ptr [rbp]
                """)
        }
        let codes = try Assembler.assemble(snippets)
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: SSEIntegerTests.vectorStates(), data: SSEIntegerTests.data)
        }
    }

    /// 66h enter pushes word frames and sets only BP (SDM Vol. 2, ENTER, OperandSize 16).
    func testEnterWithOperandSizePrefixPushesWordFrames() throws {
        var snippets: [String] = []
        for (size, level) in [(16, 0), (8, 1), (0, 2), (32, 3), (24, 7)] {
            snippets.append("""
                lea rbp, [rsi+0x200]
                .byte 0x66, 0xC8, \(size), 0, \(level)
                mov rax, qword ptr [rsp+\(size)]
                mov rbx, qword ptr [rsp+\(size + 8)]
                """)
        }
        // leave with 66h pops BP back, a word.
        snippets.append("lea rbp, [rsi+0x200]\n.byte 0x66, 0xC8, 8, 0, 2\n.byte 0x66\nleave")
        let codes = try Assembler.assemble(snippets)
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: SSEIntegerTests.vectorStates(), data: SSEIntegerTests.data)
        }
    }

    /// In 64-bit mode ES/CS/SS/DS overrides are ignored: an earlier FS (or GS) prefix still
    /// decides, and of FS and GS the last one does (checked on this CPU; AMD APM Vol. 3, 1.2.4).
    func testNullSegmentPrefixesDoNotCancelFSOrGS() throws {
        let fsBase = NativeRunner.fsBase
        // 48 8B 03: mov rax, [rbx]; 48 89 0B: mov [rbx], rcx; 8A 04 13: mov al, [rbx+rdx].
        let prefixed: [[UInt8]] = [[0x64, 0x26], [0x26, 0x64], [0x64, 0x3E], [0x64, 0x2E, 0x36],
                                   [0x65, 0x64], [0x65, 0x26, 0x64, 0x3E]]
        var snippets: [String] = []
        for prefixes in prefixed {
            let bytes = prefixes.map { "0x" + String($0, radix: 16) }.joined(separator: ", ")
            snippets.append(".byte \(bytes), 0x48, 0x8B, 0x03")
            snippets.append(".byte \(bytes), 0x48, 0x89, 0x0B")
            snippets.append("xor edx, edx\n.byte \(bytes), 0x8A, 0x04, 0x13")
        }
        var s = TestState.patterned()
        s.fsBase = fsBase
        s.gpr[GPR.rbx.rawValue] = TestLayout.dataAddress &+ 0x80 &- fsBase
        let codes = try Assembler.assemble(snippets)
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: [s], data: SSEIntegerTests.data)
        }
        // FS then GS: GS decides (its base is 0 here, and FS + rbx is not mapped).
        var g = TestState.patterned()
        g.fsBase = fsBase
        g.gpr[GPR.rbx.rawValue] = TestLayout.dataAddress + 0x80
        for source in [".byte 0x64, 0x65, 0x48, 0x8B, 0x03", ".byte 0x64, 0x65, 0x26, 0x48, 0x89, 0x0B"] {
            try differential(source, inputs: [g], data: SSEIntegerTests.data)
        }
    }

    func testLoopWithAddressSizePrefixCountsInECX() throws {
        let snippets = ["mov rcx, 0x100000001\naddr32 loop 2f\nmov eax, 1\n2:",
                        "mov rcx, 0x100000003\nxor eax, eax\n2: inc eax\naddr32 loop 2b",
                        "mov rcx, 0x100000002\ncmp eax, eax\naddr32 loope 2f\nmov ebx, 7\n2:",
                        "mov rcx, 0x100000001\naddr32 loopne 2f\nmov ebx, 7\n2:",
                        "mov rcx, 0x100000001\nloop 2f\nmov eax, 1\n2:"]
        let codes = try Assembler.assemble(snippets)
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: [TestState.patterned(seed: 3), TestState.patterned(seed: 4)])
        }
    }

    /// 16-bit shld/shrd with counts 17-31 are undefined by the SDM and differ by vendor:
    /// the interpreter follows the CPUID vendor it is given, here this CPU's.
    func testSixteenBitDoubleShiftsPastSixteenFollowTheCPUVendor() throws {
        var snippets: [String] = []
        for count in 16...31 { snippets += ["shld ax, bx, \(count)", "shrd ax, bx, \(count)"] }
        snippets += ["shld ax, bx, cl", "shrd ax, bx, cl", "shld word ptr [rsi], bx, cl"]
        let codes = try Assembler.assemble(snippets)
        var inputs: [TestState] = []
        for v: UInt64 in [0, 1, 0x8000, 0x1234_5678_9ABC_DEF0, 0xFFFF_FFFF_FFFF_FFFF, 0x8001] {
            for count: UInt64 in [17, 20, 24, 31] {
                var s = TestState.patterned()
                s.gpr[GPR.rax.rawValue] = v
                s.gpr[GPR.rbx.rawValue] = ~v &* 3
                s.gpr[GPR.rcx.rawValue] = count
                s.gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 8
                inputs.append(s)
            }
        }
        var vendor = [UInt32](repeating: 0, count: 4)
        x86ts_cpuid(0, 0, &vendor)
        var host = CPUIDTable.baseline
        host.entries[CPUIDTable.Key(leaf: 0, subleaf: 0)] = CPUIDTable.Result(eax: vendor[0], ebx: vendor[1], ecx: vendor[2], edx: vendor[3])
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs, data: SSEIntegerTests.data,
                             compare: .flagsExcept(RFlags.overflow | RFlags.adjust), cpuid: host)
        }
    }

    func testRdpidIsReportedAsRdpid() throws {
        let runner = try EmulatedRunner(try Assembler.assemble("rdpid rax"))
        let (_, _, reason) = try runner.run(TestState.patterned(), data: [])
        guard case .unsupported(let what) = reason else { return XCTFail("rdpid stopped with \(reason)") }
        XCTAssertTrue(what.text.hasPrefix("rdpid"), what.text)
    }
}
