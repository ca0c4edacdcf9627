// Differential tests of the integer ALU: every op at 8/16/32/64 bits over edge values.
import X86
import XCTest

final class ALUTests: XCTestCase {
    static let widths: [(String, String)] = [("al", "bl"), ("ax", "bx"), ("eax", "ebx"), ("rax", "rbx")]

    func testBinaryOpsMatchCPUOverEdgeValuesAtAllWidths() throws {
        let ops = ["add", "adc", "sub", "sbb", "cmp", "and", "or", "xor", "test"]
        var snippets: [String] = []
        for op in ops { for (a, b) in Self.widths { snippets.append("\(op) \(a), \(b)") } }
        let codes = try Assembler.assemble(snippets)
        let inputs = edgeStates()
        for (snippet, code) in zip(snippets, codes) {
            // AF is undefined after logic ops.
            let logic = snippet.hasPrefix("and") || snippet.hasPrefix("or") || snippet.hasPrefix("xor") || snippet.hasPrefix("test")
            try differential(snippet, code: code, inputs: inputs, compare: logic ? .flagsExcept(RFlags.adjust) : .all)
        }
    }

    func testImmediateAndHighByteForms() throws {
        let snippets = ["add eax, -1", "sub rax, 0x7fffffff", "and rax, -16", "or ah, bl", "xor bh, ah",
                        "cmp al, 0x80", "adc ax, 0x1234", "sbb rax, -2", "add r10d, r11d", "sub r9b, 1", "test bh, 0x81"]
        let codes = try Assembler.assemble(snippets)
        let inputs = edgeStates()
        for (snippet, code) in zip(snippets, codes) {
            let logic = ["and", "or", "xor", "test"].contains { snippet.hasPrefix($0) }
            try differential(snippet, code: code, inputs: inputs, compare: logic ? .flagsExcept(RFlags.adjust) : .all)
        }
    }

    /// xadd stores the old destination in the source, then the sum in the destination:
    /// with one register for both, the sum wins (SDM Vol. 2, XADD).
    func testXaddWithOneRegisterKeepsTheSum() throws {
        let snippets = ["xadd rax, rax", "xadd eax, eax", "xadd ax, ax", "xadd al, al", "xadd ah, ah",
                        "xadd al, ah", "xadd ah, al", "xadd rax, rbx", "xadd qword ptr [rsi], rax", "lock xadd dword ptr [rsi], esi"]
        let codes = try Assembler.assemble(snippets)
        var inputs = edgeStates()
        for i in inputs.indices { inputs[i].gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 0x40 }
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs, data: SSEIntegerTests.data)
        }
    }

    func testMemoryDestinationReadModifyWrite() throws {
        let snippets = ["add qword ptr [rsi], rax", "sub dword ptr [rsi+4], eax", "xor byte ptr [rsi+rbx*1+1], al",
                        "adc word ptr [rsi+2], 0x77", "neg qword ptr [rsi]", "not dword ptr [rsi]", "inc byte ptr [rsi]",
                        "dec word ptr [rsi]"]
        let codes = try Assembler.assemble(snippets)
        var inputs: [TestState] = []
        for v in edgeValues {
            var s = TestState.patterned()
            s.gpr[GPR.rax.rawValue] = v
            s.gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 0x100
            s.gpr[GPR.rbx.rawValue] = 3
            inputs.append(s)
            s.rflags = 0x203
            inputs.append(s)
        }
        let data = (0..<0x200).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        for (snippet, code) in zip(snippets, codes) {
            let logic = snippet.hasPrefix("xor")
            try differential(snippet, code: code, inputs: inputs, data: data, compare: logic ? .flagsExcept(RFlags.adjust) : .all)
        }
    }

    func testUnaryOpsIncDecNegNotKeepCarryRules() throws {
        var snippets: [String] = []
        for op in ["inc", "dec", "neg", "not"] { for (a, _) in Self.widths { snippets.append("\(op) \(a)") } }
        let codes = try Assembler.assemble(snippets)
        let inputs = edgeStates(registers: [.rax])
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs)
        }
    }

    func testExchangeAndCompareExchange() throws {
        let snippets = ["xadd rax, rbx", "xadd ecx, ebx", "xadd al, bl", "cmpxchg rcx, rbx", "cmpxchg ecx, ebx",
                        "cmpxchg cl, bl", "xchg rax, rbx", "xchg ecx, eax", "xchg ah, bl",
                        "lock cmpxchg qword ptr [rsi], rbx", "lock xadd dword ptr [rsi], eax", "xchg qword ptr [rsi], rcx",
                        "cmpxchg16b xmmword ptr [rsi]", "cmpxchg8b qword ptr [rsi]"]
        let codes = try Assembler.assemble(snippets)
        var inputs = edgeStates(registers: [.rax, .rbx], values: [0, 1, 0x80, 0xFFFF_FFFF, 0x8000_0000_0000_0000, 0x0706_0504_0302_0100])
        for i in inputs.indices {
            inputs[i].gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 0x100
            inputs[i].gpr[GPR.rcx.rawValue] = inputs[i].gpr[GPR.rax.rawValue] ^ 1
            if i % 3 == 0 { inputs[i].gpr[GPR.rcx.rawValue] = inputs[i].gpr[GPR.rax.rawValue] }
            if i % 4 == 0 { inputs[i].gpr[GPR.rdx.rawValue] = 0x0F0E_0D0C_0B0A_0908 }
        }
        let data = (0..<0x200).map { UInt8(truncatingIfNeeded: $0) }
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs, data: data)
        }
    }

    func testBMIOperations() throws {
        let snippets = ["andn rax, rbx, rcx", "andn eax, ebx, ecx", "bextr rax, rbx, rcx", "bextr eax, ebx, ecx",
                        "blsi rax, rbx", "blsi eax, ebx", "blsmsk rax, rbx", "blsr rax, rbx", "blsr eax, ebx",
                        "bzhi rax, rbx, rcx", "bzhi eax, ebx, ecx", "pdep rax, rbx, rcx", "pext rax, rbx, rcx",
                        "pdep eax, ebx, ecx", "pext eax, ebx, ecx", "mulx rax, rdx, rbx", "mulx r8, r9, rbx",
                        "shlx rax, rbx, rcx", "shrx eax, ebx, ecx", "sarx rax, rbx, rcx", "rorx rax, rbx, 13", "rorx eax, ebx, 31"]
        let codes = try Assembler.assemble(snippets)
        let inputs = edgeStates(registers: [.rbx, .rcx], values: [0, 1, 0x80, 0x0808, 0x2004, 0xFFFF_FFFF, 0x8000_0000_0000_0000, 0x1234_5678_9ABC_DEF0])
        for (snippet, code) in zip(snippets, codes) {
            // AF and PF are undefined for the flag-writing BMI1 ops.
            try differential(snippet, code: code, inputs: inputs, compare: .flagsExcept(RFlags.adjust | RFlags.parity))
        }
    }

    /// ADX: adcx adds with CF and writes only CF, adox with OF and only OF (two independent
    /// carry chains, as multi-precision multiplies interleave them).
    func testADXCarryChainsTouchOnlyTheirFlag() throws {
        var snippets = ["adcx rax, rbx", "adcx eax, ebx", "adox rax, rbx", "adox eax, ebx", "adcx rcx, qword ptr [rsi]", "adox ecx, dword ptr [rsi+4]"]
        for setup in ["stc", "clc", "mov eax, 0x7fffffff\nadd eax, 1", "xor eax, eax"] {
            snippets += ["\(setup)\nadcx rbx, rcx\nadox rcx, rbx\nadcx rbx, rbx", "\(setup)\nadox rbx, rcx\nadcx rcx, rbx"]
        }
        let codes = try Assembler.assemble(snippets)
        // CF and OF in all four combinations on entry.
        var inputs = edgeStates(registers: [.rbx, .rcx], values: [0, 1, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF],
                                flags: [0x202, 0x203, 0xA02, 0xA03])
        for i in inputs.indices { inputs[i].gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 0x40 }
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs, data: [UInt8](repeating: 0xFF, count: 0x100))
        }
    }
}

/// The defined-flags table differential checks use (lockstep): what the SDM leaves
/// undefined is not compared.
final class DefinedFlagsTests: XCTestCase {
    func testUndefinedFlagsFollowTheSDM() {
        let all = RFlags.arithmetic | RFlags.direction
        XCTAssertEqual(RFlags.defined(afterInstruction: "add rax, rbx"), all)
        XCTAssertEqual(RFlags.defined(afterInstruction: "48 0f af c3  imul rax, rbx"),
                       RFlags.carry | RFlags.overflow | RFlags.direction, "SF ZF AF PF undefined after imul")
        XCTAssertEqual(RFlags.defined(afterInstruction: "48 f7 f1  div rcx"), RFlags.direction)
        XCTAssertEqual(RFlags.defined(afterInstruction: "48 11 d8  adc rax, rbx"), all, "hex-looking mnemonics are mnemonics")
        XCTAssertEqual(RFlags.defined(afterInstruction: "xor eax, eax") & RFlags.adjust, 0, "AF undefined after logic ops")
        XCTAssertEqual(RFlags.defined(afterInstruction: "lock bts qword ptr [rdi], 3"), RFlags.carry | RFlags.direction)
    }
}
