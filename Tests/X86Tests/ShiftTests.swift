// Differential tests of shifts and rotates at counts 0, 1, width-1, width and over-width.
import X86
import XCTest

final class ShiftTests: XCTestCase {
    static let counts: [UInt64] = [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255]
    static let values: [UInt64] = [0, 1, 0x80, 0xFF, 0x8000, 0x8000_0001, 0xFFFF_FFFF, 0x8000_0000_0000_0000,
                                   0xFFFF_FFFF_FFFF_FFFF, 0x1234_5678_9ABC_DEF0, 0x7FFF_FFFF_FFFF_FFFF]
    static let registers = ["al", "ax", "eax", "rax"]

    func states() -> [TestState] {
        var out: [TestState] = []
        for v in Self.values {
            for c in Self.counts {
                for f: UInt64 in [0x202, 0x203 | 0x800] {
                    var s = TestState.patterned()
                    s.gpr[GPR.rax.rawValue] = v
                    s.gpr[GPR.rcx.rawValue] = c
                    s.gpr[GPR.rbx.rawValue] = ~v &* 3
                    s.rflags = f
                    out.append(s)
                }
            }
        }
        return out
    }

    /// OF is defined only for 1-bit shifts and AF never; compare OF separately below.
    func testShiftsByCLMatchCPU() throws {
        var snippets: [String] = []
        for op in ["shl", "shr", "sar"] { for r in Self.registers { snippets.append("\(op) \(r), cl") } }
        let codes = try Assembler.assemble(snippets)
        let inputs = states()
        for (snippet, code) in zip(snippets, codes) {
            let byteOrWord = snippet.contains("al,") || snippet.contains("ax,") && !snippet.contains("eax")
            // For 8/16-bit operands a masked count above the width leaves CF undefined.
            let flags = byteOrWord ? RFlags.adjust | RFlags.overflow | RFlags.carry : RFlags.adjust | RFlags.overflow
            try differential(snippet, code: code, inputs: inputs.filter { !byteOrWord || ($0.gpr[1] & 31) <= 8 || !snippet.contains("al,") }, compare: .flagsExcept(flags))
        }
    }

    func testShiftByOneDefinesOverflow() throws {
        var snippets: [String] = []
        for op in ["shl", "shr", "sar", "rol", "ror", "rcl", "rcr"] { for r in Self.registers { snippets.append("\(op) \(r), 1") } }
        let codes = try Assembler.assemble(snippets)
        let inputs = states().filter { $0.gpr[1] == 0 }
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs, compare: .flagsExcept(RFlags.adjust))
        }
    }

    func testRotatesByCLMatchCPU() throws {
        var snippets: [String] = []
        for op in ["rol", "ror", "rcl", "rcr"] { for r in Self.registers { snippets.append("\(op) \(r), cl") } }
        let codes = try Assembler.assemble(snippets)
        let inputs = states()
        for (snippet, code) in zip(snippets, codes) {
            // OF is undefined for counts other than 1.
            try differential(snippet, code: code, inputs: inputs.filter { $0.gpr[1] & 63 != 1 }, compare: .flagsExcept(RFlags.overflow | RFlags.adjust))
            try differential(snippet, code: code, inputs: inputs.filter { $0.gpr[1] & 63 == 1 }, compare: .flagsExcept(RFlags.adjust))
        }
    }

    func testDoubleShiftsMatchCPU() throws {
        let snippets = ["shld rax, rbx, cl", "shrd rax, rbx, cl", "shld eax, ebx, cl", "shrd eax, ebx, cl",
                        "shld ax, bx, cl", "shrd ax, bx, cl", "shld rax, rbx, 1", "shrd eax, ebx, 31", "shld qword ptr [rsi], rbx, 7"]
        let codes = try Assembler.assemble(snippets)
        var inputs = states()
        for i in inputs.indices { inputs[i].gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 8 }
        let data = (0..<64).map { UInt8($0 * 13 & 0xFF) }
        for (snippet, code) in zip(snippets, codes) {
            // 16-bit with count > 16 is undefined; OF defined only for count 1.
            let filtered = snippet.contains("ax,") ? inputs.filter { $0.gpr[1] & 31 <= 16 } : inputs
            try differential(snippet, code: code, inputs: filtered, data: data, compare: .flagsExcept(RFlags.overflow | RFlags.adjust))
        }
    }

    func testMemoryShiftAndImmediateCounts() throws {
        let snippets = ["shl dword ptr [rsi], 3", "sar qword ptr [rsi], 63", "shr word ptr [rsi], cl", "rol byte ptr [rsi], 4",
                        "shl rax, 63", "sar eax, 31", "shr r9, 32", "sal r8d, 5"]
        let codes = try Assembler.assemble(snippets)
        var inputs = states()
        for i in inputs.indices { inputs[i].gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 0x10 }
        let data = (0..<64).map { UInt8(255 - $0) }
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs.filter { $0.gpr[1] < 9 }, data: data, compare: .flagsExcept(RFlags.overflow | RFlags.adjust))
        }
    }
}
