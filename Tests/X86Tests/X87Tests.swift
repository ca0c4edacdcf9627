// Differential tests of the x87 FPU at 80-bit precision. Results go to memory (fstp
// tbyte / qword, fistp, fnstsw) so the harness compares them as data.
import X86
import XCTest

final class X87Tests: XCTestCase {
    /// Inputs: three doubles at [rsi], [rsi+8], [rsi+16], one 80-bit value at [rsi+32],
    /// integers at [rsi+48]; results are written from [rsi+64] on.
    static func data(_ a: Double, _ b: Double, _ c: Double) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 0x200)
        func put<T>(_ v: T, _ offset: Int) { withUnsafeBytes(of: v) { bytes.replaceSubrange(0x100 + offset..<0x100 + offset + $0.count, with: $0) } }
        put(a.bitPattern, 0); put(b.bitPattern, 8); put(c.bitPattern, 16)
        let extended = Float80(a) / Float80(3)  // a value with a full 64-bit significand
        withUnsafeBytes(of: extended) { raw in bytes.replaceSubrange(0x100 + 32..<0x100 + 42, with: raw.prefix(10)) }
        put(Int64(-123_456_789_012), 48)
        put(Int32(77_777), 56)
        put(Int16(-300), 60)
        return bytes
    }

    static let values: [Double] = [1, -1, 3, 0.1, 2.5, -2.5, 1e300, -0.0, 7.75, 1e-300, .infinity]

    func check(_ snippets: [String], fcws: [UInt16] = [0x37F, 0x77F, 0xB7F, 0xF7F], values: [Double] = X87Tests.values,
               file: StaticString = #filePath, line: UInt = #line) throws {
        let codes = try Assembler.assemble(snippets)
        for (snippet, code) in zip(snippets, codes) {
            for (i, a) in values.enumerated() {
                let b = values[(i + 3) % values.count], c = values[(i + 5) % values.count]
                var inputs: [TestState] = []
                for fcw in fcws {
                    var s = TestState.patterned()
                    s.gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 0x100
                    s.fcw = fcw
                    inputs.append(s)
                }
                try differential(snippet, code: code, inputs: inputs, data: Self.data(a, b, c), file: file, line: line)
            }
        }
    }

    func testArithmeticKeepsExtendedPrecisionAndRoundsPerControlWord() throws {
        var snippets: [String] = []
        for op in ["fadd", "fsub", "fsubr", "fmul", "fdiv", "fdivr"] {
            snippets.append("fld qword ptr [rsi]\nfld qword ptr [rsi+8]\n\(op) st(0), st(1)\nfstp tbyte ptr [rsi+64]\nfstp qword ptr [rsi+80]\nfnstsw word ptr [rsi+96]")
            snippets.append("fld qword ptr [rsi]\nfld qword ptr [rsi+8]\n\(op)p st(1), st(0)\nfstp tbyte ptr [rsi+64]\nfnstsw word ptr [rsi+96]")
            snippets.append("fld qword ptr [rsi]\nfld qword ptr [rsi+8]\n\(op) st(1), st(0)\nfstp tbyte ptr [rsi+64]\nfstp tbyte ptr [rsi+80]")
            snippets.append("fld qword ptr [rsi]\n\(op) qword ptr [rsi+8]\nfstp tbyte ptr [rsi+64]")
            snippets.append("fld tbyte ptr [rsi+32]\nfi\(op.dropFirst()) dword ptr [rsi+56]\nfstp tbyte ptr [rsi+64]")
        }
        snippets.append("fld1\nfld qword ptr [rsi+16]\nfdivp st(1), st(0)\nfstp tbyte ptr [rsi+64]")  // 1/c in extended
        try check(snippets)
    }

    func testLoadsStoresAndIntegerConversions() throws {
        try check([
            "fld tbyte ptr [rsi+32]\nfstp tbyte ptr [rsi+64]",
            "fld tbyte ptr [rsi+32]\nfst qword ptr [rsi+64]\nfstp dword ptr [rsi+72]",
            "fild qword ptr [rsi+48]\nfild dword ptr [rsi+56]\nfild word ptr [rsi+60]\nfaddp st(1), st(0)\nfaddp st(1), st(0)\nfstp tbyte ptr [rsi+64]",
            "fld qword ptr [rsi]\nfistp qword ptr [rsi+64]\nfld qword ptr [rsi+8]\nfistp dword ptr [rsi+72]\nfld qword ptr [rsi]\nfistp word ptr [rsi+76]\nfnstsw word ptr [rsi+80]",
            "fld tbyte ptr [rsi+32]\nfisttp qword ptr [rsi+64]\nfld qword ptr [rsi+8]\nfist dword ptr [rsi+72]\nfstp st(0)",
            "fld qword ptr [rsi]\nfrndint\nfstp qword ptr [rsi+64]\nfld tbyte ptr [rsi+32]\nfrndint\nfstp tbyte ptr [rsi+72]",
            "fldz\nfld1\nfldpi\nfldl2e\nfldln2\nfldlg2\nfldl2t\nfstp tbyte ptr [rsi+64]\nfstp tbyte ptr [rsi+80]\nfstp tbyte ptr [rsi+96]\nfstp tbyte ptr [rsi+112]\nfstp tbyte ptr [rsi+128]\nfstp tbyte ptr [rsi+144]\nfstp tbyte ptr [rsi+160]",
            "fld qword ptr [rsi]\nfchs\nfabs\nfsqrt\nfstp tbyte ptr [rsi+64]",
        ])
    }

    /// fprem's partial results (C2 = 1 for exponent gaps above 63) and fscale's huge
    /// scales are not modelled: moderate operands only.
    func testPartialRemainderAndScaleForModerateValues() throws {
        try check([
            "fld qword ptr [rsi+8]\nfld qword ptr [rsi]\nfxch st(1)\nfscale\nfstp tbyte ptr [rsi+64]\nfstp tbyte ptr [rsi+80]",
            "fld qword ptr [rsi+8]\nfld qword ptr [rsi]\nfprem\nfnstsw word ptr [rsi+96]\nfstp tbyte ptr [rsi+64]\nfstp st(0)",
            "fld qword ptr [rsi+8]\nfld qword ptr [rsi]\nfprem1\nfstp tbyte ptr [rsi+64]\nfstp st(0)",
        ], values: [1, -1, 3, 0.1, 2.5, -2.5, 7.75, 1000.5, -33.25])
    }

    func testComparesSetConditionCodesAndEFLAGS() throws {
        try check([
            "fld qword ptr [rsi+8]\nfld qword ptr [rsi]\nfcom st(1)\nfnstsw ax\nfcomp qword ptr [rsi+16]\nfnstsw word ptr [rsi+64]\nfstp st(0)",
            "fld qword ptr [rsi+8]\nfld qword ptr [rsi]\nfucomi st(0), st(1)\nsetb cl\nsete dl\nsetp bl\nfucomip st(0), st(1)\nfstp st(0)",
            "fld qword ptr [rsi+8]\nfld qword ptr [rsi]\nfcomi st(0), st(1)\nfcompp\nfnstsw ax",
            "fld qword ptr [rsi]\nftst\nfxam\nfnstsw ax\nfstp st(0)",
            "fld qword ptr [rsi+8]\nfld qword ptr [rsi]\nfucomi st(0), st(1)\nfcmovb st(0), st(1)\nfcmovnbe st(0), st(1)\nfstp tbyte ptr [rsi+64]\nfstp st(0)",
            "fnstcw word ptr [rsi+64]\nmov word ptr [rsi+66], 0x0c7f\nfldcw word ptr [rsi+66]\nfld qword ptr [rsi]\nfistp dword ptr [rsi+68]\nfnstcw word ptr [rsi+72]",
            // FCS/FOP and the data selector (bytes 16-19, 24-27) are CPU-specific: cleared.
            "fld qword ptr [rsi]\nfnstenv [rsi+64]\nfldenv [rsi+64]\nfstp tbyte ptr [rsi+128]\nmov dword ptr [rsi+80], 0\nmov dword ptr [rsi+88], 0",
            // data16: the 14-byte layout (CW SW TW FIP FCS FDP FDS as words); FIP to FDS cleared.
            "fld qword ptr [rsi]\nfadd st(0), st(0)\n.byte 0x66\nfnstenv [rsi+64]\nfstp st(0)\n.byte 0x66\nfldenv [rsi+64]\nfnstsw word ptr [rsi+96]\nmov qword ptr [rsi+70], 0",
            "mov dword ptr [rsi+64], 0x45010e7f\nmov dword ptr [rsi+68], 0x0000fff0\n.byte 0x66\nfldenv [rsi+64]\nfnstcw word ptr [rsi+80]\nfnstsw word ptr [rsi+82]\nfninit",
        ])
    }

    /// Exception flags the CPU sets where the host conversion or the formula would not:
    /// IE for a signaling NaN loaded from a single or double, DE for a denormal one, stack
    /// overflow (IE, SF, C1, the real indefinite pushed), and fxtract of zero (ZE, -inf),
    /// infinity, NaN and denormals.
    func testLoadExceptionsStackOverflowAndFxtractSpecialValues() throws {
        // Singles at [rsi+0x40...], doubles at [rsi+0x60...]: sNaN, qNaN, denormal, zero,
        // -zero, inf, -inf, 3.
        var data = [UInt8](repeating: 0, count: 0x200)
        let singles: [UInt32] = [0x7FA0_0001, 0xFFC0_0002, 0x0000_0003, 0, 0x8000_0000, 0x7F80_0000, 0xFF80_0000, Float(3).bitPattern]
        let doubles: [UInt64] = [0x7FF4_0000_0000_0001, 0xFFF8_0000_0000_0002, 0x8000_0000_0000_0005, 0, 0x8000_0000_0000_0000,
                                 0x7FF0_0000_0000_0000, 0xFFF0_0000_0000_0000, Double(3).bitPattern]
        for (i, v) in singles.enumerated() { withUnsafeBytes(of: v) { data.replaceSubrange(0x140 + i * 4..<0x144 + i * 4, with: $0) } }
        for (i, v) in doubles.enumerated() { withUnsafeBytes(of: v) { data.replaceSubrange(0x160 + i * 8..<0x168 + i * 8, with: $0) } }
        var snippets: [String] = []
        for i in 0..<8 {
            snippets.append("fld dword ptr [rsi+\(0x40 + i * 4)]\nfnstsw word ptr [rsi]\nfstp tbyte ptr [rsi+16]")
            snippets.append("fld qword ptr [rsi+\(0x60 + i * 8)]\nfnstsw word ptr [rsi]\nfxtract\nfnstsw word ptr [rsi+2]\nfstp tbyte ptr [rsi+16]\nfstp tbyte ptr [rsi+32]")
            snippets.append("fldz\nfadd qword ptr [rsi+\(0x60 + i * 8)]\nfnstsw word ptr [rsi]\nfstp tbyte ptr [rsi+16]")
        }
        snippets.append(Array(repeating: "fld1", count: 9).joined(separator: "\n") + "\nfnstsw word ptr [rsi]\nfstp tbyte ptr [rsi+16]\nfninit")
        let codes = try Assembler.assemble(snippets)
        var s = TestState.patterned()
        s.gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 0x100
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: [s], data: data)
        }
    }

    /// fxam classes every 80-bit encoding as the CPU does, the ones no arithmetic
    /// produces too: unnormals, pseudo-infinities and pseudo-NaNs are "unsupported",
    /// pseudo-denormals are denormals.
    func testFxamClassesEveryExtendedEncoding() throws {
        let encodings: [(UInt64, UInt16)] = [
            (0x8000_0000_0000_0000, 0x3FFF), (0x0000_0000_0000_0001, 0x0000), (0x8000_0000_0000_0001, 0x0000),
            (0, 0), (0, 0x8000), (0x8000_0000_0000_0000, 0x7FFF), (0xC000_0000_0000_0000, 0xFFFF),
            (0xA000_0000_0000_0000, 0x7FFF), (0x0000_0000_0000_0000, 0x7FFF), (0x4000_0000_0000_0000, 0x7FFF),
            (0x4000_0000_0000_0000, 0x3FFF), (0x0000_0000_0000_0001, 0xC000),
        ]
        var data = [UInt8](repeating: 0, count: 0x200)
        for (i, (low, high)) in encodings.enumerated() {
            withUnsafeBytes(of: low) { data.replaceSubrange(0x140 + i * 16..<0x148 + i * 16, with: $0) }
            withUnsafeBytes(of: high) { data.replaceSubrange(0x148 + i * 16..<0x14A + i * 16, with: $0) }
        }
        var snippets: [String] = []
        for i in encodings.indices {
            snippets.append("fld tbyte ptr [rsi+\(0x40 + i * 16)]\nfxam\nfnstsw word ptr [rsi]\nfstp st(0)")
        }
        let codes = try Assembler.assemble(snippets)
        var s = TestState.patterned()
        s.gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 0x100
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: [s], data: data)
        }
    }

    /// fbstp rounds ST(0) by the control word to 18 packed BCD digits (the indefinite and
    /// IE beyond them, for NaN and infinity); fbld reads them back exactly.
    func testPackedBCDLoadsAndStores() throws {
        try check([
            "fld qword ptr [rsi]\nfbstp tbyte ptr [rsi+64]\nfnstsw word ptr [rsi+80]",
            "fld qword ptr [rsi+8]\nfmul qword ptr [rsi+16]\nfbstp tbyte ptr [rsi+64]\nfnstsw word ptr [rsi+80]",
            "fild qword ptr [rsi+48]\nfbstp tbyte ptr [rsi+64]\nfbld tbyte ptr [rsi+64]\nfstp tbyte ptr [rsi+80]\nfnstsw word ptr [rsi+96]",
            "fld tbyte ptr [rsi+32]\nfbstp tbyte ptr [rsi+64]\nfnstsw word ptr [rsi+80]",
            "mov rax, 0x1234567890123456\nmov qword ptr [rsi+64], rax\nmov word ptr [rsi+72], 0x8099\nfbld tbyte ptr [rsi+64]\nfstp tbyte ptr [rsi+80]",
            "mov qword ptr [rsi+64], 0\nmov word ptr [rsi+72], 0x8000\nfbld tbyte ptr [rsi+64]\nfxam\nfnstsw word ptr [rsi+80]\nfstp tbyte ptr [rsi+96]",
            "mov rax, 999999999999999999\nmov qword ptr [rsi+64], rax\nfild qword ptr [rsi+64]\nfbstp tbyte ptr [rsi+80]\nfild qword ptr [rsi+64]\nfld1\nfaddp st(1), st(0)\nfbstp tbyte ptr [rsi+96]\nfnstsw word ptr [rsi+112]",
        ])
    }

    /// fnsave stores the environment and ST(0)..ST(7) (108 bytes, or 94 with data16) and
    /// resets the FPU; frstor loads them back. FCS/FOP and the data selector are
    /// CPU-specific and cleared, as in the fnstenv case, and so are the slots of empty
    /// registers (whatever the CPU last held there).
    func testFnsaveAndFrstorInBothLayouts() throws {
        func clear(_ offset: Int, _ count: Int) -> String { "lea rdi, [rsi+\(offset)]\nxor eax, eax\nmov ecx, \(count)\nrep stosb" }
        try check([
            "fld qword ptr [rsi]\nfld tbyte ptr [rsi+32]\nfnsave [rsi+64]\nfnstsw word ptr [rsi+200]\nfnstcw word ptr [rsi+202]\nmov dword ptr [rsi+80], 0\nmov dword ptr [rsi+88], 0\n" + clear(112, 60),
            "fld qword ptr [rsi]\nfld tbyte ptr [rsi+32]\nfld qword ptr [rsi+8]\nfnsave [rsi+64]\nmov dword ptr [rsi+80], 0\nmov dword ptr [rsi+88], 0\n" + clear(122, 50) + "\nfrstor [rsi+64]\nfstp tbyte ptr [rsi+180]\nfstp tbyte ptr [rsi+192]\nfnstsw word ptr [rsi+204]\nfnstenv [rsi+208]\nmov dword ptr [rsi+224], 0\nmov dword ptr [rsi+232], 0\nmov dword ptr [rsi+220], 0",
            "fld qword ptr [rsi]\nfadd st(0), st(0)\nfld qword ptr [rsi+16]\n.byte 0x66\nfnsave [rsi+64]\nmov qword ptr [rsi+70], 0\n" + clear(98, 60) + "\n.byte 0x66\nfrstor [rsi+64]\nfstp tbyte ptr [rsi+160]\nfstp tbyte ptr [rsi+176]\nfnstsw word ptr [rsi+192]",
        ])
    }

    func testFxsaveRoundTripsRegisters() throws {
        // The save area is compared as data; the reserved/unused bytes differ by CPU and
        // are cleared first so both runs see the same template.
        try check([
            "fld qword ptr [rsi]\nfld tbyte ptr [rsi+32]\nlea rdi, [rsi+0x100]\nand rdi, -16\nfxsave [rdi]\nfninit\nfxrstor [rdi]\nfstp tbyte ptr [rsi+64]\nfstp tbyte ptr [rsi+80]\nmov qword ptr [rdi+8], 0\nmov qword ptr [rdi+16], 0\nxor eax, eax\nmov ecx, 12\nlea rdi, [rdi+64]\nrep stosq",
        ], fcws: [0x37F])
    }
}
