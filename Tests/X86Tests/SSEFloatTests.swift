// Differential tests of SSE/SSE2 floating point, including MXCSR rounding and flags.
import X86
import XCTest

final class SSEFloatTests: XCTestCase {
    static let doubles: [Double] = [0, -0.0, 1, -1, 1.0 / 3, 2.5, -2.5, 3.5, 1e308, -1e-310, .infinity, -.infinity, .nan,
                                    9.223372036854775807e18, -9.223372036854775808e18, 4294967295.5, 0.1, 123456789.75]
    static let floats: [Float] = [0, -0.0, 1, -1.5, 1.0 / 3, 2.5, 3.4e38, 1e-40, .infinity, .nan, 2147483648, -2147483904, 0.1]

    static func states() -> [TestState] {
        var out: [TestState] = []
        for (i, a) in doubles.enumerated() {
            for (j, b) in doubles.enumerated() where (i * 5 + j) % 3 == 0 {
                for mxcsr: UInt32 in [0x1F80, 0x3F80, 0x5F80, 0x7F80] where (i + j) % 4 == 0 || mxcsr == 0x1F80 {
                    var s = TestState.patterned(seed: UInt64(i + j))
                    let fa = floats[i % floats.count], fb = floats[j % floats.count]
                    s.xmm[0] = a.bitPattern; s.xmm[1] = b.bitPattern
                    s.xmm[2] = b.bitPattern; s.xmm[3] = a.bitPattern
                    s.xmm[4] = UInt64(fa.bitPattern) | UInt64(fb.bitPattern) << 32; s.xmm[5] = UInt64(fb.bitPattern)
                    s.xmm[6] = UInt64(fb.bitPattern) | UInt64(fa.bitPattern) << 32; s.xmm[7] = UInt64(fa.bitPattern) << 32
                    s.mxcsr = mxcsr
                    s.gpr[GPR.rax.rawValue] = UInt64(bitPattern: Int64(i * 1_000_000_007) - 5_000_000_000) &* UInt64(j + 1)
                    s.gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 0x100
                    out.append(s)
                }
            }
        }
        return out
    }

    func check(_ snippets: [String], compare: Comparison = .all, file: StaticString = #filePath, line: UInt = #line) throws {
        let codes = try Assembler.assemble(snippets)
        let inputs = Self.states()
        var data = [UInt8](repeating: 0, count: 0x200)
        withUnsafeBytes(of: (1.0 / 7.0).bitPattern) { data.replaceSubrange(0x100..<0x108, with: $0) }
        withUnsafeBytes(of: Float(-2.75).bitPattern) { data.replaceSubrange(0x108..<0x10C, with: $0) }
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs, data: data, compare: compare, file: file, line: line)
        }
    }

    func testScalarDoubleArithmeticRoundsPerMXCSR() throws {
        var snippets: [String] = []
        for op in ["addsd", "subsd", "mulsd", "divsd", "sqrtsd", "minsd", "maxsd"] {
            snippets += ["\(op) xmm0, xmm1", "\(op) xmm1, qword ptr [rsi]"]
        }
        try check(snippets)
    }

    func testScalarAndPackedSingleAndPackedDouble() throws {
        var snippets: [String] = []
        for op in ["addss", "subss", "mulss", "divss", "sqrtss", "minss", "maxss"] { snippets.append("\(op) xmm2, xmm3") }
        for op in ["addps", "subps", "mulps", "divps", "sqrtps", "minps", "maxps", "addpd", "subpd", "mulpd", "divpd", "sqrtpd", "minpd", "maxpd"] {
            snippets.append("\(op) xmm2, xmm3")
        }
        try check(snippets)
    }

    func testComparesSetFlagsAndMasks() throws {
        var snippets = ["ucomisd xmm0, xmm1", "comisd xmm0, xmm1", "ucomiss xmm2, xmm3", "comiss xmm3, xmm2", "ucomisd xmm0, qword ptr [rsi]"]
        for predicate in ["eq", "lt", "le", "unord", "neq", "nlt", "nle", "ord"] {
            snippets += ["cmp\(predicate)sd xmm0, xmm1", "cmp\(predicate)ss xmm2, xmm3", "cmp\(predicate)pd xmm0, xmm1", "cmp\(predicate)ps xmm2, xmm3"]
        }
        try check(snippets)
    }

    func testConversions() throws {
        try check(["cvtsi2sd xmm0, rax", "cvtsi2sd xmm0, eax", "cvtsi2ss xmm2, rax", "cvtsi2ss xmm2, eax",
                   "cvttsd2si rax, xmm0", "cvttsd2si eax, xmm1", "cvtsd2si rax, xmm0", "cvtsd2si eax, xmm1",
                   "cvttss2si eax, xmm2", "cvtss2si rax, xmm3", "cvtsd2ss xmm2, xmm0", "cvtss2sd xmm0, xmm2",
                   "cvtdq2pd xmm0, xmm2", "cvtdq2ps xmm0, xmm2", "cvttps2dq xmm0, xmm2", "cvtps2dq xmm1, xmm3",
                   "cvttpd2dq xmm2, xmm0", "cvtpd2dq xmm2, xmm0", "cvtps2pd xmm0, xmm2", "cvtpd2ps xmm2, xmm0",
                   "cvtsi2sd xmm1, qword ptr [rsi]", "cvttsd2si rcx, qword ptr [rsi]"])
    }

    func testRoundingInstructionsAndMXCSRAccess() throws {
        var snippets: [String] = []
        for imm in [0, 1, 2, 3, 4, 8, 9, 12] {
            snippets += ["roundsd xmm0, xmm1, \(imm)", "roundss xmm2, xmm3, \(imm)", "roundpd xmm0, xmm1, \(imm)", "roundps xmm2, xmm3, \(imm)"]
        }
        snippets += ["stmxcsr dword ptr [rsi]", "mov dword ptr [rsi], 0x7f80\nldmxcsr dword ptr [rsi]\naddsd xmm0, xmm1"]
        try check(snippets)
    }
}
