// Differential tests of SSE moves and packed-integer operations used by glibc's string code.
import X86
import XCTest

final class SSEIntegerTests: XCTestCase {
    /// XMM registers full of byte patterns with zeros, 0x80s and repeats (string-like data).
    static func vectorStates() -> [TestState] {
        let patterns: [(UInt64, UInt64)] = [
            (0, 0), (0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF), (0x8080_8080_8080_8080, 0x7F7F_7F7F_7F7F_7F7F),
            (0x6F6C_6C65_6800_2F61, 0x0000_7473_6574_0A20), (0x0102_0304_0506_0708, 0xF1F2_F3F4_F5F6_F7F8),
            (0x8000_0000_7FFF_FFFF, 0x0000_8000_FFFF_0001), (0x0F0E_0D0C_0B0A_0908, 0x0706_0504_0302_0100),
        ]
        var states: [TestState] = []
        for (i, a) in patterns.enumerated() {
            for (j, b) in patterns.enumerated() where (i + j) % 2 == 0 || i == j {
                var s = TestState.patterned(seed: UInt64(i * 7 + j))
                s.xmm[0] = a.0; s.xmm[1] = a.1
                s.xmm[2] = b.0; s.xmm[3] = b.1
                s.xmm[4] = b.1; s.xmm[5] = a.0
                s.gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 0x100
                s.gpr[GPR.rax.rawValue] = a.0 ^ b.1
                s.gpr[GPR.rcx.rawValue] = UInt64(i * 9 + j)
                states.append(s)
            }
        }
        return states
    }

    static let data: [UInt8] = (0..<0x400).map { UInt8(truncatingIfNeeded: ($0 * 73) ^ ($0 >> 3)) }

    func check(_ snippets: [String], compare: Comparison = .all, file: StaticString = #filePath, line: UInt = #line) throws {
        let codes = try Assembler.assemble(snippets)
        let inputs = Self.vectorStates()
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs, data: Self.data, compare: compare, file: file, line: line)
        }
    }

    func testMovesBetweenRegistersAndMemory() throws {
        try check(["movdqa xmm1, xmm0", "movdqu xmm1, xmmword ptr [rsi+3]", "movdqa xmmword ptr [rsi+16], xmm2",
                   "movaps xmm3, xmmword ptr [rsi]", "movups xmmword ptr [rsi+1], xmm0", "movapd xmm5, xmm2", "movupd xmm5, xmmword ptr [rsi+5]",
                   "movd xmm1, eax", "movd eax, xmm2", "movq xmm1, rax", "movq rax, xmm2", "movq xmm1, xmm2",
                   "movq xmm1, qword ptr [rsi+7]", "movq qword ptr [rsi], xmm0", "movd dword ptr [rsi], xmm2",
                   "movss xmm1, xmm2", "movss xmm1, dword ptr [rsi]", "movss dword ptr [rsi+4], xmm0",
                   "movsd xmm1, xmm2", "movsd xmm1, qword ptr [rsi]", "movsd qword ptr [rsi+8], xmm2",
                   "movhps xmm1, qword ptr [rsi]", "movlps xmm1, qword ptr [rsi+8]", "movhpd qword ptr [rsi], xmm2",
                   "movlpd qword ptr [rsi], xmm2", "movlhps xmm1, xmm2", "movhlps xmm1, xmm2",
                   "pmovmskb eax, xmm0", "pmovmskb ecx, xmm2", "movmskps eax, xmm2", "movmskpd eax, xmm0",
                   "lddqu xmm3, xmmword ptr [rsi+9]", "movntdq xmmword ptr [rsi+32], xmm2"])
    }

    func testLogicCompareMinMaxAddSub() throws {
        var snippets: [String] = []
        for op in ["pxor", "por", "pand", "pandn", "xorps", "orps", "andps", "andnps", "xorpd", "andpd",
                   "pcmpeqb", "pcmpeqw", "pcmpeqd", "pcmpeqq", "pcmpgtb", "pcmpgtw", "pcmpgtd", "pcmpgtq",
                   "pminub", "pmaxub", "pminsw", "pmaxsw", "pminsb", "pmaxsb", "pminuw", "pmaxuw", "pminud", "pmaxud", "pminsd", "pmaxsd",
                   "paddb", "paddw", "paddd", "paddq", "psubb", "psubw", "psubd", "psubq",
                   "paddusb", "paddusw", "psubusb", "psubusw", "paddsb", "paddsw", "psubsb", "psubsw",
                   "pmullw", "pmulhw", "pmulhuw", "pmuludq", "pmulld", "pmaddwd", "psadbw", "pavgb", "pavgw",
                   "packuswb", "packsswb", "packssdw", "packusdw",
                   "punpcklbw", "punpcklwd", "punpckldq", "punpcklqdq", "punpckhbw", "punpckhwd", "punpckhdq", "punpckhqdq",
                   "unpcklps", "unpckhps", "unpcklpd", "unpckhpd", "pshufb"] {
            snippets.append("\(op) xmm0, xmm2")
            snippets.append("\(op) xmm2, xmmword ptr [rsi]")
        }
        snippets.append("pxor xmm3, xmm3")
        try check(snippets)
    }

    func testShiftsShufflesInsertsExtracts() throws {
        var snippets: [String] = []
        for op in ["psllw", "pslld", "psllq", "psrlw", "psrld", "psrlq", "psraw", "psrad"] {
            for n in [0, 1, 7, 15, 16, 31, 32, 63, 64, 200] { snippets.append("\(op) xmm0, \(n)") }
            snippets.append("\(op) xmm2, xmm4")
        }
        for n in [0, 1, 5, 15, 16, 200] { snippets.append("pslldq xmm0, \(n)"); snippets.append("psrldq xmm2, \(n)") }
        for imm in [0, 0x1B, 0xE4, 0x4E, 0xFF] {
            snippets += ["pshufd xmm1, xmm0, \(imm)", "pshuflw xmm1, xmm2, \(imm)", "pshufhw xmm1, xmm0, \(imm)",
                         "shufps xmm0, xmm2, \(imm)", "shufpd xmm2, xmm0, \(imm & 3)", "pshufd xmm1, xmmword ptr [rsi], \(imm)"]
        }
        for n in [0, 1, 7, 15, 16, 17, 31, 32] { snippets.append("palignr xmm0, xmm2, \(n)") }
        snippets += ["pinsrw xmm0, eax, 3", "pinsrb xmm0, eax, 15", "pinsrd xmm2, eax, 1", "pinsrq xmm2, rax, 1",
                     "pinsrw xmm1, word ptr [rsi], 7", "pextrw eax, xmm2, 5", "pextrb ecx, xmm0, 9", "pextrd eax, xmm2, 3",
                     "pextrq rax, xmm0, 1", "pextrb byte ptr [rsi], xmm2, 1",
                     "pmovzxbw xmm1, xmm0", "pmovzxbd xmm1, xmm2", "pmovzxbq xmm1, xmm0", "pmovzxwd xmm1, xmm2", "pmovzxwq xmm1, xmm0",
                     "pmovzxdq xmm1, xmm2", "pmovsxbw xmm1, xmm0", "pmovsxwd xmm1, qword ptr [rsi]", "pmovsxdq xmm1, xmm2",
                     "pabsb xmm1, xmm0", "pabsw xmm1, xmm2", "pabsd xmm1, xmm0", "pblendw xmm0, xmm2, 0xA5"]
        try check(snippets)
    }

    func testPtestAndStringCompares() throws {
        var snippets = ["ptest xmm0, xmm2", "ptest xmm2, xmm2", "ptest xmm4, xmmword ptr [rsi]"]
        for imm in [0x00, 0x02, 0x08, 0x0C, 0x10, 0x12, 0x1A, 0x3A, 0x44, 0x04, 0x14, 0x01, 0x0D] {
            snippets.append("pcmpistri xmm0, xmm2, \(imm)")
            snippets.append("pcmpistri xmm2, xmm0, \(imm)")
        }
        try check(snippets)
    }

    /// pcmpestri takes the string lengths from EAX and EDX (absolute value, saturated);
    /// GCC's libcpp scans source lines with it.
    func testExplicitLengthStringCompare() throws {
        var snippets: [String] = []
        for (la, lb) in [(5, 11), (16, 16), (0, 7), (-3, 20), (9, -100), (3, 0)] {
            for imm in [0x00, 0x04, 0x08, 0x0C, 0x10, 0x30, 0x40, 0x01] {
                snippets.append("mov eax, \(la)\nmov edx, \(lb)\npcmpestri xmm0, xmm2, \(imm)")
            }
        }
        snippets.append("mov eax, 4\nmov edx, 16\npcmpestri xmm0, xmmword ptr [rsi], 0")
        try check(snippets)
    }

    /// pcmpistrm/pcmpestrm share the string-compare core with the index forms and write
    /// the mask to XMM0: bits (imm8 bit 6 clear) or expanded elements (set).
    func testStringCompareMasks() throws {
        var snippets: [String] = []
        for imm in [0x00, 0x40, 0x01, 0x41, 0x08, 0x48, 0x0C, 0x4C, 0x14, 0x54, 0x3A, 0x7A, 0x04, 0x45] {
            snippets += ["pcmpistrm xmm1, xmm2, \(imm)", "pcmpistrm xmm0, xmm3, \(imm)", "pcmpistrm xmm2, xmmword ptr [rsi], \(imm)",
                         "mov eax, 5\nmov edx, 11\npcmpestrm xmm1, xmm2, \(imm)", "mov eax, -3\nmov edx, 20\npcmpestrm xmm0, xmm4, \(imm)"]
        }
        try check(snippets)
    }

    /// MMX against this CPU: moves between MM registers, GPRs, XMM and memory, the lane
    /// arithmetic, unpacks, packs, shifts and pshufw, with the x87 state the CPU leaves
    /// (TOP 0, tags valid, exponent bits all ones) and after emms.
    func testMMXFormsOnTheX87Registers() throws {
        var snippets = ["movq mm0, rax", "movd mm1, eax", "movq mm2, qword ptr [rsi]", "movd mm3, dword ptr [rsi+4]",
                        "movq mm0, rax\nmovq mm4, mm0\nmovq rcx, mm4", "movq mm1, rbx\nmovd edx, mm1", "movq mm1, rbx\nmovq qword ptr [rsi+8], mm1",
                        "movq mm1, rbx\nmovd dword ptr [rsi+8], mm1", "movq mm5, rax\nmovq2dq xmm1, mm5", "movdq2q mm6, xmm2\nmovq rdx, mm6",
                        "movq mm0, rax\nemms", "fld1\nmovq mm0, rax\nemms\nfldz\nfstp tbyte ptr [rsi+16]"]
        for op in ["paddb", "paddw", "paddd", "paddq", "psubb", "psubw", "psubd", "psubq", "paddsb", "paddsw", "paddusb", "paddusw",
                   "psubsb", "psubsw", "psubusb", "psubusw", "pand", "pandn", "por", "pxor", "pcmpeqb", "pcmpeqw", "pcmpeqd",
                   "pcmpgtb", "pcmpgtw", "pcmpgtd", "pmullw", "pmulhw", "pmulhuw", "pmuludq", "pmaddwd", "pavgb", "pavgw",
                   "pminub", "pmaxub", "pminsw", "pmaxsw", "psadbw", "punpcklbw", "punpcklwd", "punpckldq",
                   "punpckhbw", "punpckhwd", "punpckhdq", "packsswb", "packssdw", "packuswb"] {
            snippets += ["movq mm0, rax\nmovq mm1, rbx\n\(op) mm0, mm1\nmovq rcx, mm0",
                         "movq mm2, rbx\n\(op) mm2, \(op.hasPrefix("punpckl") ? "dword" : "qword") ptr [rsi]\nmovq qword ptr [rsi+8], mm2\nemms"]
        }
        for op in ["psllw", "pslld", "psllq", "psrlw", "psrld", "psrlq", "psraw", "psrad"] {
            for n in [0, 3, 17, 40, 64] { snippets.append("movq mm3, rax\n\(op) mm3, \(n)\nmovq rcx, mm3") }
            snippets.append("movq mm3, rax\nmovq mm4, rdx\n\(op) mm3, mm4\nmovq rcx, mm3")
        }
        for imm in [0, 0x1B, 0x4E, 0xFF] { snippets.append("movq mm1, rbx\npshufw mm0, mm1, \(imm)\npshufw mm2, qword ptr [rsi], \(imm)\nmovq rcx, mm0\nmovq rdx, mm2") }
        snippets.append("pxor mm7, mm7\nmovq rcx, mm7")
        var inputs = Self.vectorStates()
        for i in inputs.indices {
            inputs[i].gpr[GPR.rbx.rawValue] = 0x8001_7FFF_0080_FF7F &* UInt64(i + 1)
            inputs[i].gpr[GPR.rdx.rawValue] = UInt64(i * 5)
        }
        let codes = try Assembler.assemble(snippets)
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs, data: Self.data)
        }
    }
}
