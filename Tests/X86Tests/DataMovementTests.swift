// Differential tests of moves, extensions, lea, stack operations, cmov/setcc, flags moves.
import X86
import XCTest

final class DataMovementTests: XCTestCase {
    func testMovesAndExtensions() throws {
        let snippets = ["mov eax, ebx", "mov ax, bx", "mov al, bl", "mov ah, bl", "mov bh, ah", "mov rax, -5", "mov eax, -5",
                        "movabs rax, 0x123456789abcdef0", "movzx eax, bl", "movzx rax, bx", "movzx ax, bh", "movsx eax, bl",
                        "movsx rax, bx", "movsxd rax, ebx", "movsx ax, bl", "mov qword ptr [rsi+8], rbx", "mov eax, dword ptr [rsi+rbx*4]",
                        "mov word ptr [rsi], 0x1234", "mov rax, qword ptr [rsi - 8]", "bswap eax", "bswap rbx", "movbe eax, dword ptr [rsi]",
                        "movbe qword ptr [rsi], rbx", "xlatb", "lea rax, [rbx + rcx*8 + 0x10]", "lea eax, [rbx + rcx*2 - 1]",
                        "lea ax, [rbx + 7]", "lea rax, [rip + 0x100]", "lea rax, [ebx + ecx]"]
        let codes = try Assembler.assemble(snippets)
        var inputs = edgeStates(registers: [.rax, .rbx], values: [0, 1, 0x80, 0xFFFF_FFFF, 0x8000_0000_0000_0000, 0x0123_4567_89AB_CDEF, 5])
        for i in inputs.indices {
            inputs[i].gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 0x100
            inputs[i].gpr[GPR.rcx.rawValue] = 3
        }
        let data = (0..<0x1000).map { UInt8(truncatingIfNeeded: $0 &* 11) }
        for (snippet, code) in zip(snippets, codes) {
            // Memory-indexed forms need small indices to stay in the test page.
            let filtered = snippet.contains("rbx*4") || snippet == "xlatb" ? inputs.filter { $0.gpr[GPR.rbx.rawValue] < 0x100 }.map { s -> TestState in
                var t = s
                if snippet == "xlatb" { t.gpr[GPR.rbx.rawValue] = TestLayout.dataAddress + 0x40 }
                return t
            } : inputs
            try differential(snippet, code: code, inputs: filtered, data: data)
        }
    }

    func testStackOperations() throws {
        let snippets = ["push rbx\npop rax", "push 0x12345678\npop rcx", "push -1\npop rdx", "push word ptr [rsi]\npop ax",
                        "push qword ptr [rsi]\npop qword ptr [rsi+8]", "pushfq\npop rax", "push rbx\npopfq",
                        "push rbp\nmov rbp, rsp\nsub rsp, 32\nmov qword ptr [rbp-8], rbx\nleave", "lahf", "sahf",
                        "enter 16, 0\nleave", "call 1f\n1: pop rax\nsub rax, rax"]
        let codes = try Assembler.assemble(snippets)
        var inputs = edgeStates(registers: [.rax, .rbx], values: [0, 0xD5, 0x8D5, 0xED5, 0xFE00, 0x0123_4567_89AB_CCEF])
        // popf must not set TF (bit 8: single-step trap) or AC (bit 18) in the native run.
        for i in inputs.indices { inputs[i].gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 0x100 }
        let data = (0..<0x200).map { UInt8(truncatingIfNeeded: $0 &* 5) }
        for (snippet, code) in zip(snippets, codes) {
            // popf from arbitrary values: only compare the arithmetic flags and DF.
            try differential(snippet, code: code, inputs: inputs, data: data)
        }
    }

    func testConditionalMovesAndSetsForEveryCondition() throws {
        let conditions = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]
        var snippets: [String] = []
        for cc in conditions {
            snippets.append("cmp rax, rbx\nset\(cc) cl\ncmov\(cc) rdx, rbx\ncmov\(cc) r8d, ebx\ncmov\(cc) r9w, bx")
            snippets.append("add eax, ebx\nset\(cc) cl\ncmov\(cc) edx, ebx")
            snippets.append("test al, bl\nset\(cc) byte ptr [rsi]\ncmov\(cc) rdx, qword ptr [rsi+8]")
            snippets.append("sub bx, ax\nset\(cc) ch\nj\(cc) 1f\nmov r10, 1\n1:")
        }
        let codes = try Assembler.assemble(snippets)
        var inputs = edgeStates(values: [0, 1, 0x7F, 0x80, 0xFFFF, 0x8000_0000, 0xFFFF_FFFF, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000])
        for i in inputs.indices { inputs[i].gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 0x100 }
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: inputs, compare: .flagsExcept(RFlags.adjust))
        }
    }

    func testFlagInstructions() throws {
        let snippets = ["clc", "stc", "cmc", "std\ncld", "std\nmov rax, 1\ncld", "add rax, rbx\ncmc\nadc rcx, 0", "stc\nsbb eax, ebx"]
        let codes = try Assembler.assemble(snippets)
        let inputs = edgeStates(values: [0, 1, 0xFFFF_FFFF_FFFF_FFFF])
        for (snippet, code) in zip(snippets, codes) { try differential(snippet, code: code, inputs: inputs) }
    }
}
