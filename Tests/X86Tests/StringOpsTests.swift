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

    func testLongRepMovsAndStosCrossPagesAndOverlap() throws {
        let snippets = ["rep movsb", "rep movsq", "rep stosb", "rep stosq", "rep movsd", "rep stosw"]
        let codes = try Assembler.assemble(snippets)
        let data = (0..<0x2000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 >> 8) }
        var inputs: [TestState] = []
        for (source, destination, count) in [(0x100, 0xF00, 0x1000), (0x100, 0x101, 3000), (0x105, 0x100, 3000), (0xFF8, 0x1FF0, 7), (0x10, 0x1003, 0x300)] {
            var s = TestState.patterned()
            s.gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + UInt64(source)
            s.gpr[GPR.rdi.rawValue] = TestLayout.dataAddress + UInt64(destination)
            s.gpr[GPR.rcx.rawValue] = UInt64(count)
            s.gpr[GPR.rax.rawValue] = 0x0102_0304_0506_0708
            inputs.append(s)
        }
        for (snippet, code) in zip(snippets, codes) {
            // Keep every byte written inside the compared window.
            let size = snippet.hasSuffix("q") ? 8 : snippet.hasSuffix("d") ? 4 : snippet.hasSuffix("w") ? 2 : 1
            let fitting = inputs.filter { $0.gpr[GPR.rdi.rawValue] - TestLayout.dataAddress + $0.gpr[GPR.rcx.rawValue] * UInt64(size) <= 0x2000 }
            try differential(snippet, code: code, inputs: fitting, data: data)
        }
    }

    func testRepStosFaultLeavesRegistersAtTheFaultingElement() throws {
        let code = try Assembler.assemble("rep stosb")
        let runner = try EmulatedRunner(code)
        try runner.memory.protect(address: TestLayout.dataAddress + 0x1000, length: 0x1000, prot: [.read])
        var s = TestState.patterned()
        s.gpr[GPR.rdi.rawValue] = TestLayout.dataAddress + 0xF00
        s.gpr[GPR.rcx.rawValue] = 0x200
        let (out, _, reason) = try runner.run(s, data: [])
        XCTAssertEqual(reason, .fault(signal: GuestSignal.sigsegv, address: TestLayout.dataAddress + 0x1000, rip: TestLayout.codeAddress))
        XCTAssertEqual(out.gpr[GPR.rdi.rawValue], TestLayout.dataAddress + 0x1000)
        XCTAssertEqual(out.gpr[GPR.rcx.rawValue], 0x100, "256 bytes were stored before the fault")
    }
}
