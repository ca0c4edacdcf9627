// Control flow: loops, calls, returns, indirect jumps, and the stop reasons of system
// instructions (syscall, rdtsc, int3, ud2, hlt, unsupported).
import X86
import XCTest

final class ControlFlowTests: XCTestCase {
    func testLoopsCallsAndReturnsMatchCPU() throws {
        let snippets = [
            "mov ecx, 10\nxor eax, eax\n1: add eax, ecx\nloop 1b",
            "mov ecx, 5\n1: dec ecx\njnz 1b",
            "call 2f\njmp 3f\n2: mov rax, 42\nret\n3:",
            "call 2f\njmp 3f\n2: ret 0\n3:",
            "lea rax, [rip + 1f]\njmp rax\nud2\n1: nop",
            "lea rax, [rip + 1f]\npush rax\nret\nud2\n1:",
            "lea rax, [rip + 1f]\ncall rax\njmp 2f\n1: pop rbx\npush rbx\nret\n2:",
            "xor ecx, ecx\njrcxz 1f\nmov eax, 1\n1:",
            "mov ecx, 3\n1: cmp ecx, 2\nloopne 1b",
            "lea rax, [rip + 1f]\nmov qword ptr [rsi], rax\njmp qword ptr [rsi]\nud2\n1:",
            "endbr64\nnop\nnop dword ptr [rax + rax]\npause\nnop word ptr cs:[rax + rax]",
            "call 1f\n1: add qword ptr [rsp], 8\nret\nud2\nnop\nnop\nnop\nnop",
        ]
        let codes = try Assembler.assemble(snippets)
        var s = TestState.patterned()
        s.gpr[GPR.rsi.rawValue] = TestLayout.dataAddress + 0x100
        for (snippet, code) in zip(snippets, codes) {
            try differential(snippet, code: code, inputs: [s], compare: .flagsExcept(RFlags.adjust))
        }
    }

    func run(_ source: String, setup: (inout CPUState) -> Void = { _ in }) throws -> (Machine<NoDataFlow>, StopReason) {
        let code = try Assembler.assemble(source)
        let runner = try EmulatedRunner(code)
        var s = CPUState()
        s.rip = TestLayout.codeAddress
        s.rsp = TestLayout.stackTop
        setup(&s)
        runner.machine.state = s
        return (runner.machine, runner.machine.run(maxInstructions: 1000))
    }

    func testSyscallStopsAfterInstructionWithRCXAndR11Set() throws {
        let (m, reason) = try run("mov eax, 60\nsyscall\nmov ebx, eax") { $0.rflags = 0x203 }
        XCTAssertEqual(reason, .syscall)
        let s = m.state
        XCTAssertEqual(s.rax, 60)
        XCTAssertEqual(s.rip, TestLayout.codeAddress + 7)
        XCTAssertEqual(s.rcx, s.rip, "syscall saves the return address in RCX")
        XCTAssertEqual(s[.r11] & 0xFFF, 0x203, "syscall saves RFLAGS in R11")
        XCTAssertEqual(m.instructionCount, 2)
        // Resume after injecting a result.
        var t = s
        t.rax = 7
        m.state = t
        XCTAssertEqual(m.run(maxInstructions: 10), .halt)
        XCTAssertEqual(m.state.rbx, 7)
    }

    func testTimestampStopsLetTheCallerInjectValues() throws {
        let (m, reason) = try run("rdtsc\nshl rdx, 32\nor rax, rdx\nrdtscp")
        XCTAssertEqual(reason, .timestamp(rdtscp: false))
        var s = m.state
        s.rax = 0x1111
        s.rdx = 0x2
        m.state = s
        XCTAssertEqual(m.run(maxInstructions: 10), .timestamp(rdtscp: true))
        XCTAssertEqual(m.state.rax, 0x2_0000_1111)
    }

    func testTrapsReportSignalsAndAddresses() throws {
        let (_, ud) = try run("nop\nud2")
        XCTAssertEqual(ud, .fault(signal: GuestSignal.sigill, address: TestLayout.codeAddress + 1, rip: TestLayout.codeAddress + 1))
        let (m, bp) = try run("int3\nnop")
        XCTAssertEqual(bp, .fault(signal: GuestSignal.sigtrap, address: TestLayout.codeAddress, rip: TestLayout.codeAddress + 1))
        XCTAssertEqual(m.state.rip, TestLayout.codeAddress + 1)
        let (_, segv) = try run("mov rax, qword ptr [0x10]")
        XCTAssertEqual(segv, .fault(signal: GuestSignal.sigsegv, address: 0x10, rip: TestLayout.codeAddress))
        let (_, write) = try run("lea rax, [rip]\nmov byte ptr [rax], 1")
        if case .fault(let signal, let address, _) = write {
            XCTAssertEqual(signal, GuestSignal.sigsegv)
            XCTAssertEqual(address, TestLayout.codeAddress + 7, "store to a read-only code page faults")
        } else { XCTFail("expected a fault, got \(write)") }
        let (_, jumpAway) = try run("mov rax, 0x1000\njmp rax")
        XCTAssertEqual(jumpAway, .fault(signal: GuestSignal.sigsegv, address: 0x1000, rip: 0x1000))
    }

    func testUnsupportedInstructionStopsWithBytesAndText() throws {
        // SSE3 addsubps: decodable, not implemented.
        let (m, reason) = try run("nop\naddsubps xmm0, xmm1")
        guard case .unsupported(let info) = reason else { return XCTFail("expected unsupported, got \(reason)") }
        XCTAssertEqual(info.address, TestLayout.codeAddress + 1)
        XCTAssertEqual(info.bytes, [0xF2, 0x0F, 0xD0, 0xC1])
        XCTAssertTrue(info.text.contains("addsubps"), info.text)
        XCTAssertEqual(m.state.rip, TestLayout.codeAddress + 1)
        XCTAssertEqual(m.instructionCount, 1)
    }

    func testInstructionLimitStopsExactly() throws {
        let (m, reason) = try run("1: inc rax\njmp 1b")
        XCTAssertEqual(reason, .instructionLimit)
        XCTAssertEqual(m.instructionCount, 1000)
        XCTAssertEqual(m.state.rax, 500)
    }

    func testCPUIDAndXgetbvComeFromTheTable() throws {
        let (m, reason) = try run("mov eax, 1\ncpuid\nmov r8, rcx\nxor ecx, ecx\nxgetbv")
        XCTAssertEqual(reason, .halt)
        XCTAssertEqual(UInt32(m.state[.r8]), CPUIDTable.baseline.lookup(leaf: 1, subleaf: 0).ecx)
        XCTAssertEqual(m.state.rax, 3, "XCR0 reports x87 and SSE only")
    }

    /// A call into the legacy vsyscall page stops as the syscall the kernel emulates there
    /// (gettimeofday, time, getcpu: arch/x86/entry/vsyscall/vsyscall_64.c) with the
    /// arguments in place, and returns to the caller: the replayer then injects the
    /// recorded result like any syscall's.
    func testVsyscallPageCallsStopAsTheirSyscalls() throws {
        for (entry, number) in [(0xFFFF_FFFF_FF60_0000 as UInt64, 96 as UInt64), (0xFFFF_FFFF_FF60_0400, 201), (0xFFFF_FFFF_FF60_0800, 309)] {
            let (m, reason) = try run("mov rdi, rsi\nmov rax, \(entry)\ncall rax\nmov rbx, 1", setup: { $0.rsi = 0x1234 })
            XCTAssertEqual(reason, .syscall, "entry \(hex(entry))")
            XCTAssertEqual(m.state.rax, number)
            XCTAssertEqual(m.state.rdi, 0x1234)
            XCTAssertEqual(m.state.rsp, TestLayout.stackTop, "the return address was popped")
            let callEnd = TestLayout.codeAddress + UInt64(try Assembler.assemble("mov rdi, rsi\nmov rax, \(entry)\ncall rax").count)
            XCTAssertEqual(m.state.rip, callEnd, "resumes after the call")
            m.state.rax = 0
            XCTAssertEqual(m.run(maxInstructions: 10), .halt)
            XCTAssertEqual(m.state.rbx, 1)
        }
        // A snapshot may map the page (execute-only, contents unreadable): still the syscall.
        let (mapped, mappedReason) = try run("mov rax, 0xffffffffff600400\ncall rax")
        try mapped.memory.map(address: 0xFFFF_FFFF_FF60_0000, length: 0x1000, prot: [.execute])
        var s = mapped.state
        s.rip = TestLayout.codeAddress
        s.rsp = TestLayout.stackTop
        mapped.state = s
        XCTAssertEqual(mappedReason, .syscall)
        XCTAssertEqual(mapped.run(maxInstructions: 10), .syscall)
        XCTAssertEqual(mapped.state.rax, 201)
        // Anything else in the page is not an entry point: a fault, as in the kernel.
        let (_, reason) = try run("mov rax, 0xffffffffff600010\ncall rax")
        guard case .fault(let signal, _, _) = reason else { return XCTFail("stopped with \(reason)") }
        XCTAssertEqual(signal, GuestSignal.sigsegv)
    }

    /// A store into the block being executed takes effect at the next instruction, as on
    /// the CPU (SDM Vol. 3, 11.6): the patched immediate is the one that executes.
    func testSelfModifyingCodeTakesEffectAtTheNextInstruction() throws {
        let snippets = [
            // The next instruction's immediate.
            "mov byte ptr [rip + 1f + 1], 7\n1: mov eax, 1",
            // Three instructions ahead, in the same block.
            "mov byte ptr [rip + 1f + 1], 9\nmov ebx, 2\nadd ebx, ebx\n1: mov ecx, 1",
            // A loop that bumps the immediate of its own next instruction: 2 + 3 + 4 + 5 + 6.
            "mov ecx, 5\nxor ebx, ebx\n2: add byte ptr [rip + 3f + 2], 1\n3: add ebx, 1\ndec ecx\njnz 2b",
            // Overwrite the next instruction (`mov al, 5`, two bytes) with two nops.
            "mov word ptr [rip + 1f], 0x9090\n1: mov al, 5",
        ]
        let codes = try Assembler.assemble(snippets)
        for (snippet, code) in zip(snippets, codes) {
            // Fresh code bytes each case: the snippet patches itself.
            for input in [TestState.patterned(seed: 1), TestState.patterned(seed: 2)] {
                try differential(snippet, code: code, inputs: [input], writableCode: true)
            }
        }
    }

    func testSelfModifyingCodeInvalidatesDecodedBlocks() throws {
        let code = try Assembler.assemble("1: mov eax, 1\nhlt")
        let memory = GuestMemory()
        try memory.map(address: 0x10000, length: 0x1000, prot: [.read, .write, .execute])
        try memory.writeBytes(code, at: 0x10000)
        let m = try Machine(memory: memory, cpuid: .baseline, tracker: NoDataFlow())
        var s = CPUState()
        s.rip = 0x10000
        m.state = s
        XCTAssertEqual(m.run(maxInstructions: 10), .halt)
        XCTAssertEqual(m.state.rax, 1)
        // Patch the immediate through a guest store and through the privileged interface.
        let patch = try Assembler.assemble("mov byte ptr [0x10001], 2\nhlt")
        try memory.map(address: 0x20000, length: 0x1000, prot: [.read, .execute])
        try memory.writeBytes(patch, at: 0x20000)
        s.rip = 0x20000
        m.state = s
        XCTAssertEqual(m.run(maxInstructions: 10), .halt)
        s.rip = 0x10000
        m.state = s
        XCTAssertEqual(m.run(maxInstructions: 10), .halt)
        XCTAssertEqual(m.state.rax, 2, "the store into decoded code took effect")
        try memory.writeBytes([3], at: 0x10001)
        m.state = s
        XCTAssertEqual(m.run(maxInstructions: 10), .halt)
        XCTAssertEqual(m.state.rax, 3)
    }
}
