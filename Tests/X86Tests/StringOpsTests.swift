// Differential tests of string instructions with rep prefixes and both directions.
import X86
import XCTest

final class StringOpsTests: XCTestCase {
    func inputs(direction: Bool, counts: [UInt64] = [0, 1, 5, 16, 33]) -> [TestState] {
        var out: [TestState] = []
        for count in counts {
            var s = TestState.patterned()
            s.gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 0x200
            s.gpr[GPR.rdi.rawValue] = TestLayout.dataAddress + 0x800
            s.gpr[GPR.rcx.rawValue] = count
            s.gpr[GPR.rax.rawValue] = 0x1122_3344_5566_7788
            s.rflags = direction ? 0x602 : 0x202
            out.append(s)
        }
        return out
    }

    func testRepMovsAndStosForwardAndBackward() throws {
        var snippets: [String] = []
        for sz in ["b", "w", "d", "q"] {
            snippets += ["rep movs\(sz)", "rep stos\(sz)", "movs\(sz)", "stos\(sz)", "lods\(sz)", "rep lods\(sz)"]
        }
        let codes = try Assembler.assemble(snippets.map { $0.replacingOccurrences(of: "movsd", with: "movsd") })
        let data = (0..<0x1000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        for (snippet, code) in zip(snippets, codes) {
            for direction in [false, true] {
                try differential(snippet, code: code, inputs: inputs(direction: direction), data: data)
            }
        }
    }

    func testRepeCmpsAndRepneScasStopOnCondition() throws {
        var snippets: [String] = []
        for sz in ["b", "w", "d", "q"] { snippets += ["repe cmps\(sz)", "repne cmps\(sz)", "repne scas\(sz)", "repe scas\(sz)", "cmps\(sz)", "scas\(sz)"] }
        let codes = try Assembler.assemble(snippets)
        // Source and destination equal for a while, then differ; one 0x88 byte to find.
        var data = (0..<0x1000).map { UInt8(truncatingIfNeeded: $0 &* 3) }
        for i in 0..<0x40 { data[0x800 + i] = data[0x200 + i] }
        data[0x800 + 21] = 0x88
        for (snippet, code) in zip(snippets, codes) {
            for direction in [false, true] {
                try differential(snippet, code: code, inputs: inputs(direction: direction), data: data)
            }
        }
    }
}
