// Differential tests of bt/bts/btr/btc, bsf/bsr, tzcnt/lzcnt/popcnt.
import X86
import XCTest

final class BitScanTests: XCTestCase {
    func testBitTestRegisterForms() throws {
        var snippets: [String] = []
        for op in ["bt", "bts", "btr", "btc"] {
            for (a, b) in [("ax", "bx"), ("eax", "ebx"), ("rax", "rbx")] { snippets.append("\(op) \(a), \(b)") }
            snippets.append("\(op) rax, 45")
            snippets.append("\(op) eax, 3")
        }
        let codes = try Assembler.assemble(snippets)
        let inputs = edgeStates(registers: [.rax, .rbx], values: [0, 1, 3, 15, 16, 31, 32, 63, 64, 0x8000_0000_0000_0001, 0xFFFF_FFFF_FFFF_FFFF])
        for (snippet, code) in zip(snippets, codes) {
            // Only CF is defined; ZF is documented unaffected but AMD and Intel differ.
            try differential(snippet, code: code, inputs: inputs, compare: Comparison(flags: RFlags.carry | RFlags.direction))
        }
    }

    func testBitTestMemoryFormsReachBeyondTheOperand() throws {
        var snippets: [String] = []
        for op in ["bt", "bts", "btr", "btc"] {
            snippets.append("\(op) qword ptr [rsi], rbx")
            snippets.append("\(op) dword ptr [rsi], ebx")
            snippets.append("\(op) word ptr [rsi], bx")
            snippets.append("\(op) dword ptr [rsi], 37")
        }
        let codes = try Assembler.assemble(snippets)
        var inputs: [TestState] = []
        for offset: Int64 in [0, 1, 7, 8, 31, 32, 63, 64, 100, 511, -1, -8, -9, -64, -65, -300] {
            var s = TestState.patterned()
            s.gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 0x400
            s.gpr[GPR.rbx.rawValue] = UInt64(bitPattern: offset)
            inputs.append(s)
        }
        let data = (0..<0x800).map { UInt8(truncatingIfNeeded: $0 &* 101) }
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs, data: data, compare: Comparison(flags: RFlags.carry | RFlags.direction))
        }
    }

    func testScansAndCounts() throws {
        var snippets: [String] = []
        for op in ["bsf", "bsr"] { for (a, b) in [("ax", "bx"), ("eax", "ebx"), ("rax", "rbx")] { snippets.append("\(op) \(a), \(b)") } }
        let codes = try Assembler.assemble(snippets)
        let inputs = edgeStates(registers: [.rbx], values: edgeValues + [0x10, 0x8000_0000_0000_0000])
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs, compare: Comparison(flags: RFlags.zero | RFlags.direction))
        }
        var counts: [String] = []
        for op in ["tzcnt", "lzcnt", "popcnt"] { for (a, b) in [("ax", "bx"), ("eax", "ebx"), ("rax", "rbx")] { counts.append("\(op) \(a), \(b)") } }
        // rep bsf is tzcnt on BMI1 parts (DESIGN.md).
        counts.append(".byte 0xf3, 0x48, 0x0f, 0xbc, 0xc3")
        let countCodes = try Assembler.assemble(counts)
        for (snippet, code) in zip(counts, countCodes) {
            let flags = snippet.hasPrefix("popcnt") ? RFlags.arithmetic : RFlags.zero | RFlags.carry
            try differential(snippet, code: code, inputs: inputs, compare: Comparison(flags: flags | RFlags.direction))
        }
    }
}
