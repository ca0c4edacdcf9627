// Differential tests against this CPU of the MMX forms of the SSSE3 and SSE instructions,
// the MMX/SSE conversions, the SSE3 horizontal and duplicating forms, and the AVX/AVX2
// permutes, variable shifts, masked moves, tests and gathers (issue 9).
@testable import X86
import X86TestSupport
import XCTest

final class MMXAndAVX2Tests: XCTestCase {
    func check(_ snippets: [String], inputs: [TestState] = AVXTests.states(), data: [UInt8] = SSEIntegerTests.data,
               file: StaticString = #filePath, line: UInt = #line) throws {
        let codes = try Assembler.assemble(snippets)
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs, data: data, file: file, line: line)
        }
    }

    /// States with byte patterns in rax, rbx and the XMM registers (MMX values come from rax/rbx).
    static func mmxStates() -> [TestState] {
        var inputs = AVXTests.states()
        for i in inputs.indices {
            inputs[i].gpr[GPR.rbx.rawValue] = 0x8001_7FFF_0080_FF7F &* UInt64(i + 1)
            inputs[i].gpr[GPR.rdx.rawValue] = UInt64(i * 5)
            inputs[i].gpr[GPR.rdi.rawValue] = TestLayout.dataAddress + 0x200
        }
        return inputs
    }

    func testMMXFormsOfSSSE3AndSSEInstructions() throws {
        var snippets: [String] = []
        for op in ["phaddw", "phaddd", "phaddsw", "phsubw", "phsubd", "phsubsw", "psignb", "psignw", "psignd",
                   "pmulhrsw", "pmaddubsw", "pshufb", "pabsb", "pabsw", "pabsd"] {
            snippets += ["movq mm0, rax\nmovq mm1, rbx\n\(op) mm0, mm1\nmovq rcx, mm0",
                         "movq mm2, rbx\n\(op) mm2, qword ptr [rsi]\nmovq qword ptr [rsi+8], mm2\nemms",
                         "movq mm3, rax\n\(op) mm3, mm3\nmovq rcx, mm3"]
        }
        for n in [0, 1, 3, 7, 8, 9, 15, 16, 200] {
            snippets.append("movq mm0, rax\nmovq mm1, rbx\npalignr mm0, mm1, \(n)\nmovq rcx, mm0\npalignr mm1, qword ptr [rsi], \(n)\nmovq rdx, mm1")
        }
        for k in 0..<4 {
            snippets += ["movq mm1, rbx\npextrw ecx, mm1, \(k)\npinsrw mm1, eax, \(k)\nmovq rdx, mm1",
                         "movq mm2, rax\npinsrw mm2, word ptr [rsi+\(k)], \(k)\nmovq rcx, mm2\npextrw r9d, mm2, \(k + 4)"]
        }
        snippets += ["movq mm3, rbx\npmovmskb ecx, mm3", "movq mm3, rax\npmovmskb r10d, mm3\nemms",
                     "movq mm4, rbx\nmovntq qword ptr [rsi+16], mm4",
                     "movq mm0, rbx\nmovq mm1, rax\nmaskmovq mm0, mm1", "movq mm5, rax\nmovq mm6, rbx\nmaskmovq mm5, mm6\nemms"]
        try check(snippets, inputs: Self.mmxStates())
    }

    /// cvtpi2ps/cvtpi2pd/cvt[t]ps2pi/cvt[t]pd2pi on integers and floats that round, overflow
    /// and are NaN, with MXCSR's flags, in every rounding mode.
    func testMMXConversions() throws {
        var snippets: [String] = []
        for source in ["mm1", "qword ptr [rsi]"] {
            snippets += ["movq mm1, rax\ncvtpi2ps xmm0, \(source)", "movq mm1, rbx\ncvtpi2pd xmm3, \(source)\nemms"]
        }
        for op in ["cvtps2pi", "cvttps2pi"] {
            snippets += ["\(op) mm0, xmm1\nmovq rcx, mm0", "\(op) mm2, qword ptr [rsi+8]\nmovq rdx, mm2\nemms"]
        }
        for op in ["cvtpd2pi", "cvttpd2pi"] {
            snippets += ["\(op) mm0, xmm3\nmovq rcx, mm0", "\(op) mm2, xmmword ptr [rsi+16]\nmovq rdx, mm2"]
        }
        var (inputs, data) = AVXTests.floatStates()
        var more: [TestState] = []
        for (i, s) in inputs.enumerated() {
            for mxcsr: UInt32 in [0x1F80, 0x3F80, 0x5F80, 0x7F80] {
                var t = s
                t.mxcsr = mxcsr
                t.gpr[GPR.rbx.rawValue] = 0x8000_0000_7FFF_FFFF &+ UInt64(i) &* 0x0123_4567_0000_0001
                more.append(t)
            }
        }
        inputs = more
        try check(snippets, inputs: inputs, data: data)
    }

    /// SSSE3 in xmm and VEX (128 and 256) forms.
    func testSSSE3XMMAndVEXForms() throws {
        var snippets: [String] = []
        for op in ["phaddw", "phaddd", "phaddsw", "phsubw", "phsubd", "phsubsw", "psignb", "psignw", "psignd", "pmulhrsw", "pmaddubsw"] {
            snippets += ["\(op) xmm0, xmm2", "\(op) xmm1, xmmword ptr [rsi]", "v\(op) ymm0, ymm1, ymm2",
                         "v\(op) xmm3, xmm4, xmmword ptr [rsi]", "v\(op) ymm5, ymm2, ymmword ptr [rsi+32]", "v\(op) ymm2, ymm0, ymm2"]
        }
        try check(snippets)
    }

    /// SSE3 horizontal arithmetic, dpps, the duplicating moves and the 256-bit reciprocal
    /// estimates, with NaNs (quiet and signaling), infinities, subnormals and MXCSR's flags.
    func testHorizontalFloatDotProductsAndDuplicates() throws {
        var snippets: [String] = []
        for op in ["haddps", "haddpd", "hsubps", "hsubpd"] {
            snippets += ["\(op) xmm0, xmm1", "\(op) xmm2, xmmword ptr [rsi]", "\(op) xmm3, xmm3", "v\(op) xmm0, xmm1, xmm2",
                         "v\(op) ymm0, ymm1, ymm2", "v\(op) ymm3, ymm4, ymmword ptr [rsi]", "v\(op) ymm5, ymm6, ymm5"]
        }
        for imm in [0xFF, 0x31, 0xF1, 0x7E, 0x0F, 0xA5] {
            snippets += ["dpps xmm0, xmm1, \(imm)", "dpps xmm2, xmmword ptr [rsi], \(imm)", "vdpps xmm0, xmm1, xmm2, \(imm)",
                         "vdpps ymm0, ymm1, ymm2, \(imm)", "vdpps ymm3, ymm4, ymmword ptr [rsi], \(imm)"]
        }
        for op in ["movddup", "movshdup", "movsldup"] {
            // Legacy SSE memory operands must be 16-byte aligned (movddup's m64 need not be).
            snippets += ["\(op) xmm0, xmm1", "\(op) xmm2, \(op == "movddup" ? "qword ptr [rsi+8]" : "xmmword ptr [rsi+16]")",
                         "v\(op) xmm3, xmm4", "v\(op) ymm0, ymm1", "v\(op) ymm2, ymmword ptr [rsi]",
                         "v\(op) xmm5, \(op == "movddup" ? "qword" : "xmmword") ptr [rsi+8]"]
        }
        snippets += ["vrcpps ymm0, ymm1", "vrsqrtps ymm2, ymmword ptr [rsi]", "vrcpps xmm3, xmm4", "vrsqrtps xmm5, xmmword ptr [rsi]",
                     "vrcpss xmm0, xmm1, xmm2", "vrsqrtss xmm3, xmm4, dword ptr [rsi]"]
        let (inputs, data) = AVXTests.floatStates()
        var withModes = inputs
        for (i, s) in inputs.enumerated() where i % 3 == 0 {
            for mxcsr: UInt32 in [0x3F80, 0x5F80, 0x9FC0] {
                var t = s
                t.mxcsr = mxcsr
                withModes.append(t)
            }
        }
        try check(snippets, inputs: withModes, data: data)
    }

    /// vfmadd* with signaling and quiet NaNs, infinities and zeros in every operand: the
    /// quieted NaN the CPU picks and IE.
    func testFMAWithSignalingAndQuietNaNs() throws {
        var snippets: [String] = []
        for order in ["132", "213", "231"] {
            for kind in ["fmadd", "fnmadd", "fmsub", "fnmsub"] {
                snippets += ["v\(kind)\(order)sd xmm0, xmm1, xmm2", "v\(kind)\(order)ss xmm3, xmm4, dword ptr [rsi+4]",
                             "v\(kind)\(order)pd ymm1, ymm2, ymm3", "v\(kind)\(order)ps ymm2, ymm0, ymmword ptr [rsi]",
                             "v\(kind)\(order)ps xmm5, xmm6, xmm7", "v\(kind)\(order)pd xmm7, xmm5, xmmword ptr [rsi+16]"]
            }
        }
        let (inputs, data) = AVXTests.floatStates(doubles: [.signalingNaN, 1.5, .nan, -.infinity, 0.0, -2.75,
                                                            -.signalingNaN, 3e-310, .infinity, -0.0])
        try check(snippets, inputs: inputs, data: data)
    }

    /// The VEX half moves (gcc's _mm_set_ps at -mavx2): three-operand loads and merges, stores as SSE.
    func testVEXHalfMoves() throws {
        try check(["vmovlhps xmm1, xmm2, xmm3", "vmovlhps xmm1, xmm1, xmm1", "vmovhlps xmm0, xmm4, xmm5", "vmovhlps xmm2, xmm3, xmm2",
                   "vmovhps xmm0, xmm1, qword ptr [rsi+8]", "vmovhpd xmm2, xmm2, qword ptr [rsi]", "vmovlps xmm3, xmm4, qword ptr [rsi+3]",
                   "vmovlpd xmm5, xmm0, qword ptr [rsi+16]", "vmovhps qword ptr [rsi], xmm1", "vmovlps qword ptr [rsi+8], xmm2",
                   "vmovhpd qword ptr [rsi+24], xmm3", "vmovlpd qword ptr [rsi], xmm4"])
    }

    func testAVX2PermutesVariableShiftsAndTests() throws {
        var snippets: [String] = []
        for imm in [0, 0x1B, 0x4E, 0xE4, 0xFF, 0x5A] {
            snippets += ["vpermilps ymm0, ymm1, \(imm)", "vpermilps xmm2, xmmword ptr [rsi], \(imm)", "vpermilpd ymm3, ymm4, \(imm & 15)",
                         "vpermilpd xmm5, xmm6, \(imm & 3)", "vpermpd ymm0, ymm1, \(imm)", "vpermpd ymm2, ymmword ptr [rsi], \(imm)"]
        }
        snippets += ["vpermilps ymm0, ymm1, ymm2", "vpermilps xmm3, xmm4, xmmword ptr [rsi]", "vpermilpd ymm5, ymm6, ymm7",
                     "vpermilpd xmm0, xmm1, xmmword ptr [rsi+16]", "vpermilps ymm2, ymm2, ymm2",
                     "vpermd ymm0, ymm1, ymm2", "vpermd ymm3, ymm4, ymmword ptr [rsi]", "vpermps ymm5, ymm6, ymm7",
                     "vpermps ymm0, ymm0, ymm0", "vpermq ymm1, ymmword ptr [rsi], 0x93"]
        for op in ["vpsllvd", "vpsllvq", "vpsrlvd", "vpsrlvq", "vpsravd"] {
            // Counts 0-255 from the data bytes (most past the element width), and the state's.
            snippets += ["vpmovzxbd ymm7, qword ptr [rsi]\nvpand ymm7, ymm7, ymmword ptr [rsi+64]\n\(op) ymm0, ymm1, ymm7",
                         "\(op) ymm2, ymm3, ymm4", "\(op) xmm5, xmm6, xmmword ptr [rsi]",
                         "vpmovzxbq ymm7, dword ptr [rsi+5]\n\(op) ymm1, ymm2, ymm7", "vpmovzxbd xmm7, dword ptr [rsi+9]\n\(op) xmm1, xmm2, xmm7"]
        }
        for op in ["vtestps", "vtestpd"] {
            snippets += ["\(op) ymm0, ymm1", "\(op) xmm2, xmm3", "\(op) ymm4, ymmword ptr [rsi]", "\(op) ymm5, ymm5", "\(op) xmm0, xmmword ptr [rsi]"]
        }
        snippets += ["vbroadcastf128 ymm0, xmmword ptr [rsi]", "vbroadcastf128 ymm3, xmmword ptr [rsi+8]",
                     "vbroadcasti128 ymm1, xmmword ptr [rsi+4]", "vbroadcasti128 ymm9, xmmword ptr [rsi+16]"]
        var data = SSEIntegerTests.data
        // Count masks at rsi+64: 0x1F in each dword keeps every count below 32 for half the lanes.
        for k in 0..<32 { data[0x140 + k] = k % 8 < 4 ? 0x3F : 0x1F }
        try check(snippets, data: data)
    }

    /// Masked loads and stores: masks from the state's sign bits; the operand ends where
    /// the mapped data does, so touching a masked-off element past it would fault.
    func testMaskedMovesLeaveMaskedOffElementsAlone() throws {
        var snippets: [String] = []
        for (op, size) in [("vmaskmovps", 4), ("vmaskmovpd", 8), ("vpmaskmovd", 4), ("vpmaskmovq", 8)] {
            snippets += ["\(op) ymm0, ymm1, ymmword ptr [rsi]", "\(op) xmm2, xmm3, xmmword ptr [rsi+4]",
                         "\(op) ymmword ptr [rsi+32], ymm4, ymm5", "\(op) xmmword ptr [rsi+8], xmm1, xmm2",
                         "\(op) ymm1, ymm1, ymmword ptr [rsi]"]
            // Only the first element selected, the rest past the end of the mapped data.
            let last = 0x10000 - size - 0x100
            let select = size == 4 ? "mov eax, 0x80000000\nvmovd xmm7, eax" : "mov rax, 0x8000000000000000\nvmovq xmm7, rax"
            let (word, register) = size == 4 ? ("dword", "ecx") : ("qword", "rcx")
            snippets += ["\(select)\n\(op) ymm0, ymm7, ymmword ptr [rsi+\(last)]",
                         "\(select)\nmov \(word) ptr [rsi+\(last)], 0\n\(op) ymmword ptr [rsi+\(last)], ymm7, ymm2\nmov \(register), \(word) ptr [rsi+\(last)]"]
        }
        try check(snippets)
    }

    /// Gathers with dword and qword indices (small non-negative ones from the data, and
    /// -1s), scales 1-8, masks from the state; the mask register ends zero.
    func testGathers() throws {
        var snippets: [String] = []
        let loadDwordIndices = "vpmovzxbd ymm1, qword ptr [rsi]"
        let loadQwordIndices = "vpmovzxbq ymm1, dword ptr [rsi+3]"
        for (op, index) in [("vpgatherdd", "d"), ("vgatherdps", "d"), ("vpgatherdq", "d"), ("vgatherdpd", "d"),
                            ("vpgatherqd", "q"), ("vgatherqps", "q"), ("vpgatherqq", "q"), ("vgatherqpd", "q")] {
            let load = index == "d" ? loadDwordIndices : loadQwordIndices
            let wideData = op.hasSuffix("dq") || op.hasSuffix("qq") || op.hasSuffix("pd")
            let narrowDestinationOfWideIndex = index == "q" && !wideData
            let ymmDestination = narrowDestinationOfWideIndex ? "xmm0" : "ymm0"
            let ymmIndex = index == "d" && wideData ? "xmm1" : "ymm1"
            let ymmMask = narrowDestinationOfWideIndex ? "xmm2" : "ymm2"
            for scale in [1, 4, 8] {
                snippets.append("\(load)\n\(op) \(ymmDestination), [rsi + \(ymmIndex)*\(scale) + 8], \(ymmMask)")
            }
            snippets += ["\(load)\n\(op) xmm3, [rsi + xmm1*2], xmm4",
                         "vpcmpeqd ymm1, ymm1, ymm1\n\(op) \(ymmDestination), [rsi + \(ymmIndex)*4 + 64], \(ymmMask)",
                         "\(load)\nvpcmpeqd ymm2, ymm2, ymm2\n\(op) \(ymmDestination), [rsi + \(ymmIndex)*8], \(ymmMask)"]
        }
        try check(snippets)
    }
}
