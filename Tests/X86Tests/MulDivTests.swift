// Differential tests of mul/imul/div/idiv, plus the divide-error fault.
import X86
import XCTest

final class MulDivTests: XCTestCase {
    func testMultiplyFormsMatchCPU() throws {
        let snippets = ["mul bl", "mul bx", "mul ebx", "mul rbx", "imul bl", "imul bx", "imul ebx", "imul rbx",
                        "imul rax, rbx", "imul eax, ebx", "imul ax, bx", "imul rax, rbx, -3", "imul eax, ebx, 0x12345",
                        "imul ax, bx, 300", "imul rcx, qword ptr [rsi], 7"]
        let codes = try Assembler.assemble(snippets)
        var inputs = edgeStates()
        for i in inputs.indices { inputs[i].gpr[GPR.rsi.rawValue] = TestLayout.dataAddress }
        let data = (0..<16).map { UInt8($0 * 29 & 0xFF) }
        for (snippet, code) in zip(snippets, codes) {
            // SF/ZF/AF/PF are undefined after multiplication.
            try differential(snippet, code: code, inputs: inputs, data: data,
                             compare: .flagsExcept(RFlags.sign | RFlags.zero | RFlags.adjust | RFlags.parity))
        }
    }

    func testDivideFormsMatchCPUWhenNoFault() throws {
        let snippets = ["div bl", "div bx", "div ebx", "div rbx", "idiv bl", "idiv bx", "idiv ebx", "idiv rbx"]
        let codes = try Assembler.assemble(snippets)
        let values: [UInt64] = [1, 2, 3, 7, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF_FFFF_FFFF,
                                0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF, 0x1234_5678_9ABC_DEF0]
        let emulatorInputs = edgeStates(registers: [.rax, .rbx, .rdx], values: values, flags: [0x202])
        for (snippet, code) in zip(snippets, codes) {
            // Keep only inputs where the real CPU would not fault (checked by the emulator
            // first: a fault here would kill the test process natively).
            let emulator = try EmulatedRunner(code)
            var safe: [TestState] = []
            for s in emulatorInputs {
                let (_, _, reason) = try emulator.run(s, data: [])
                if reason == .halt { safe.append(s) }
            }
            XCTAssertFalse(safe.isEmpty, snippet)
            try differential(snippet, code: code, inputs: safe, compare: Comparison(flags: RFlags.direction))
        }
    }

    func testDivideErrorStopsWithSIGFPE() throws {
        let cases: [(String, UInt64, UInt64, UInt64)] = [
            ("div rbx", 5, 0, 0),                  // divide by zero
            ("div ebx", 0, 2, 1),                  // quotient too large: edx=2 >= ebx=1
            ("idiv rbx", 0, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF),  // INT64_MIN / -1
            ("idiv ebx", 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFF),            // INT32_MIN / -1
            ("div bl", 0xFFFF, 0, 2),              // AX / 2 does not fit in AL
        ]
        for (snippet, rax, rdx, rbx) in cases {
            let code = try Assembler.assemble(snippet)
            let emulator = try EmulatedRunner(code)
            var s = TestState.patterned()
            s.gpr[GPR.rax.rawValue] = rax
            if snippet.contains("idiv rbx") { s.gpr[GPR.rax.rawValue] = 0; s.gpr[GPR.rdx.rawValue] = 0x8000_0000_0000_0000 } else { s.gpr[GPR.rdx.rawValue] = rdx }
            if snippet == "idiv rbx" { s.gpr[GPR.rdx.rawValue] = 0xFFFF_FFFF_FFFF_FFFF; s.gpr[GPR.rax.rawValue] = 0x8000_0000_0000_0000 }
            s.gpr[GPR.rbx.rawValue] = rbx
            let (out, _, reason) = try emulator.run(s, data: [])
            XCTAssertEqual(reason, .fault(signal: GuestSignal.sigfpe, address: TestLayout.codeAddress, rip: TestLayout.codeAddress), snippet)
            XCTAssertEqual(emulator.machine.state.rip, TestLayout.codeAddress, "RIP stays at the faulting div")
            XCTAssertEqual(out.gpr[GPR.rax.rawValue], s.gpr[GPR.rax.rawValue], "registers untouched by a faulting \(snippet)")
        }
    }

    func testSignExtensionOfAccumulator() throws {
        let snippets = ["cbw", "cwde", "cdqe", "cwd", "cdq", "cqo"]
        let codes = try Assembler.assemble(snippets)
        let inputs = edgeStates(registers: [.rax])
        for (snippet, code) in zip(snippets, codes) { try differential(snippet, code: code, inputs: inputs) }
    }
}
