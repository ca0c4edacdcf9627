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

    /// FTZ flushes a tiny result to a signed zero and sets UE and PE; DAZ reads denormal
    /// operands as zeros (no DE). Operand pairs: tiny products, an exact subnormal
    /// difference, denormal inputs, a double to float underflow.
    func testFlushToZeroAndDenormalsAreZeroFollowMXCSR() throws {
        let minNormalF = Float.leastNormalMagnitude, minNormalD = Double.leastNormalMagnitude
        let pairs: [(Double, Double, Float, Float)] = [
            (1e-200, 1e-200, 1e-20, 1e-20), (-1e-200, 1e-120, -1e-20, 3e-19),
            (minNormalD * 1.5, minNormalD, minNormalF * 1.5, minNormalF),
            (1e-310, 3, 1e-40, 3), (-4e-320, 1e-310, -2e-41, 1e-40), (1, 2, 1, 2),
            (minNormalD, 0.5, minNormalF, 0.5), (minNormalD * 1.0000001, 0.9999999, minNormalF * 1.0000001, 0.9999999),
        ]
        var inputs: [TestState] = []
        for (a, b, fa, fb) in pairs {
            for mxcsr: UInt32 in [0x1F80, 0x9F80, 0x1FC0, 0x9FC0, 0xBF80, 0xDF80] {
                var s = TestState.patterned()
                s.xmm[0] = a.bitPattern; s.xmm[1] = b.bitPattern
                s.xmm[2] = b.bitPattern; s.xmm[3] = a.bitPattern
                s.xmm[4] = UInt64(fa.bitPattern) | UInt64(fb.bitPattern) << 32; s.xmm[5] = UInt64(fb.bitPattern) | UInt64(fa.bitPattern) << 32
                s.xmm[6] = UInt64(fb.bitPattern) | UInt64(fa.bitPattern) << 32; s.xmm[7] = UInt64(fa.bitPattern) | UInt64(fb.bitPattern) << 32
                s.mxcsr = mxcsr
                inputs.append(s)
            }
        }
        let snippets = ["mulsd xmm0, xmm1", "subsd xmm0, xmm1", "divsd xmm0, xmm1", "addsd xmm0, xmm1", "sqrtsd xmm0, xmm1",
                        "mulss xmm2, xmm3", "subss xmm2, xmm3", "divss xmm2, xmm3", "addss xmm2, xmm3",
                        "mulps xmm2, xmm3", "subps xmm2, xmm3", "mulpd xmm0, xmm1", "subpd xmm0, xmm1",
                        "cvtsd2ss xmm2, xmm0", "cvtpd2ps xmm2, xmm0", "cvtss2sd xmm0, xmm2", "minsd xmm0, xmm1", "maxss xmm2, xmm3"]
        let codes = try Assembler.assemble(snippets)
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs)
        }
    }

    /// rcpss/rsqrtss/rcpps/rsqrtps give this CPU's own 12-bit estimates, bit for bit, and
    /// raise no exception flag (not for a signaling NaN, zero, a negative or a denormal
    /// operand either), under plain MXCSR and with DAZ and FTZ: specials, then 4,000
    /// random singles of every exponent (16,000 lanes per instruction).
    func testReciprocalEstimatesMatchThisCPUBitForBit() throws {
        let specials: [UInt32] = [0x7FA0_0000 /* sNaN */, 0xFFC0_0001, 0, 0x8000_0000, 0x7F80_0000, 0xFF80_0000,
                                  0x0000_0001, 0x8040_0000 /* denormals */, 0x7F00_0000, 0xFF00_0000, 0xBF80_0000,
                                  0xC040_0000, 0x7E80_0000, Float(1).bitPattern, Float(3).bitPattern, Float(0.1).bitPattern,
                                  0x0080_0000, 0x7F7F_FFFF, 0x0040_0000, 0x8000_0001]
        var generator = SplitMix64(seed: 0x5EED)
        let random = (0..<4000).map { _ in UInt32(truncatingIfNeeded: generator.next()) }
        for snippet in ["rcpss xmm6, xmm7", "rsqrtss xmm6, xmm7", "rcpps xmm6, xmm7", "rsqrtps xmm6, xmm7"] {
            try differential(snippet, inputs: Self.reciprocalStates(specials + random))
        }
    }

    /// With MXCSR.DAZ a denormal operand compares as a zero of its sign (equal to zero,
    /// not below or above it) in comis*, ucomis* and cmp*; without DAZ it is ordered.
    func testDenormalsAreZeroAppliesToCompares() throws {
        let floats: [UInt32] = [0x0000_0001, 0x8000_0001, 0, 0x8000_0000, 0x007F_FFFF, 0x0080_0000, 0x3F80_0000]
        let doubles: [UInt64] = [1, 0x8000_0000_0000_0001, 0, 0x8000_0000_0000_0000, 0x000F_FFFF_FFFF_FFFF, 0x0010_0000_0000_0000,
                                 0x3FF0_0000_0000_0000]
        var inputs: [TestState] = []
        for i in floats.indices {
            for j in floats.indices {
                for mxcsr: UInt32 in [0x1F80, 0x1FC0, 0x9FC0] {
                    var s = TestState.patterned(seed: UInt64(i * 7 + j))
                    s.xmm[0] = doubles[i]; s.xmm[1] = doubles[j]
                    s.xmm[2] = doubles[j]; s.xmm[3] = doubles[i]
                    s.xmm[4] = UInt64(floats[i]) | UInt64(floats[j]) << 32; s.xmm[5] = UInt64(floats[j])
                    s.xmm[6] = UInt64(floats[j]) | UInt64(floats[i]) << 32; s.xmm[7] = UInt64(floats[i]) << 32
                    s.mxcsr = mxcsr
                    inputs.append(s)
                }
            }
        }
        var snippets = ["ucomisd xmm0, xmm1", "comisd xmm0, xmm1", "ucomiss xmm2, xmm3", "comiss xmm2, xmm3"]
        for predicate in 0..<8 {
            snippets += ["cmpsd xmm0, xmm1, \(predicate)", "cmpss xmm2, xmm3, \(predicate)",
                         "cmppd xmm0, xmm1, \(predicate)", "cmpps xmm2, xmm3, \(predicate)"]
        }
        let codes = try Assembler.assemble(snippets)
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs)
        }
    }

    static func reciprocalStates(_ values: [UInt32]) -> [TestState] {
        var inputs: [TestState] = []
        for (i, v) in values.enumerated() {
            for mxcsr: UInt32 in [0x1F80, 0x9FC0] {
                var s = TestState.patterned(seed: UInt64(i))
                s.xmm[6] = UInt64(v) | UInt64(values[(i + 1) % values.count]) << 32
                s.xmm[7] = UInt64(values[(i + 2) % values.count]) | UInt64(values[(i + 3) % values.count]) << 32
                s.mxcsr = mxcsr
                inputs.append(s)
            }
        }
        return inputs
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
