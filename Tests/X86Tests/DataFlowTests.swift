// The DataFlowTracker hooks: a recording tracker from outside the module sees the data
// movements of a small program (the shape a byte-level taint tracker will use).
import X86
import XCTest

/// Records hook calls. A class, because hooks are non-mutating (the interpreter holds the
/// tracker in a `let`; real trackers keep shadow state behind a reference or pointer).
final class RecordingTracker: DataFlowTracker {
    var copies: [(DataLocation, DataLocation)] = []
    var combines: [(DataLocation, DataLocation)] = []
    var clears: [DataLocation] = []
    var controlSources: [(DataLocation, UInt64)] = []
    var flagReads = 0

    func copy(to destination: DataLocation, from source: DataLocation) { copies.append((destination, source)) }
    func combine(into destination: DataLocation, from source: DataLocation) { combines.append((destination, source)) }
    func derive(to destination: DataLocation, from source1: DataLocation, _ source2: DataLocation) {}
    func clear(_ destination: DataLocation) { clears.append(destination) }
    func exchange(_ first: DataLocation, _ second: DataLocation) {}
    func flags(from source: DataLocation) {}
    func addressDependency(of destination: DataLocation, base: Int, index: Int) {}
    func controlTransfer(from source: DataLocation, target: UInt64, instruction: UInt64) { controlSources.append((source, target)) }
    func flagsReachControl(at rip: UInt64) { flagReads += 1 }
}

final class DataFlowTests: XCTestCase {
    func testTrackerSeesLoadsALUOpsStoresAndIndirectControl() throws {
        let code = try Assembler.assemble("""
            mov rax, qword ptr [rsi]
            add rax, rbx
            mov qword ptr [rsi+8], rax
            xor ecx, ecx
            cmp rax, rcx
            jne 1f
            1:
            lea rdx, [rip + 2f]
            push rdx
            ret
            2:
            hlt
            """)
        let memory = GuestMemory()
        try memory.map(address: 0x10000, length: 0x1000, prot: [.read, .execute])
        try memory.writeBytes(code, at: 0x10000)
        try memory.map(address: 0x20000, length: 0x2000, prot: [.read, .write])
        let tracker = RecordingTracker()
        let machine = try Machine(memory: memory, cpuid: .baseline, tracker: tracker)
        var s = CPUState()
        s.rip = 0x10000
        s.rsi = 0x20000
        s.rsp = 0x21000
        machine.state = s
        XCTAssertEqual(machine.run(maxInstructions: 100), .halt)
        let rax = DataLocation(kind: .register, size: 8, offset: RegisterFile.gpr(0))
        XCTAssertTrue(tracker.copies.contains { $0.0 == rax && $0.1 == .memory(0x20000, size: 8) }, "load: rax <- [rsi]")
        XCTAssertTrue(tracker.combines.contains { $0.0 == rax && $0.1 == DataLocation(kind: .register, size: 8, offset: RegisterFile.gpr(3)) }, "add: rax <- rax | rbx")
        XCTAssertTrue(tracker.copies.contains { $0.0 == .memory(0x20008, size: 8) && $0.1 == rax }, "store: [rsi+8] <- rax")
        XCTAssertTrue(tracker.clears.contains(DataLocation(kind: .register, size: 4, offset: RegisterFile.gpr(1))), "xor ecx, ecx clears")
        XCTAssertEqual(tracker.flagReads, 1, "jne reads the flags")
        XCTAssertEqual(tracker.controlSources.count, 1)
        XCTAssertEqual(tracker.controlSources.first?.0, .memory(0x21000 - 8, size: 8), "ret's target came from the stack slot")
    }
}

/// Label chains through the hooks, followed by `LabelTracker` (the documented meaning of
/// each hook): a labelled input must reach the branch, the register or the memory that
/// the instruction sequence moves it to.
final class DataFlowChainTests: XCTestCase {
    static let code: UInt64 = 0x10000
    static let data: UInt64 = 0x20000

    /// Runs `source` to its final hlt (or the `until` stop) from a state with RSI = data,
    /// RSP on the data page, after `prepare` labels locations and sets registers.
    func run(_ source: String, data bytes: [UInt8] = [], until stop: StopReason = .halt,
             prepare: (LabelTracker, inout CPUState) -> Void = { _, _ in }) throws -> (LabelTracker, Machine<LabelTracker>) {
        let code = try Assembler.assemble(source + "\nhlt")
        let memory = GuestMemory()
        try memory.map(address: Self.code, length: 0x1000, prot: [.read, .execute])
        try memory.writeBytes(code, at: Self.code)
        try memory.map(address: Self.data, length: 0x2000, prot: [.read, .write])
        if !bytes.isEmpty { try memory.writeBytes(bytes, at: Self.data) }
        let tracker = LabelTracker()
        let machine = try Machine(memory: memory, cpuid: .baseline, tracker: tracker)
        var s = CPUState()
        s.rip = Self.code
        s.rsi = Self.data
        s.rsp = Self.data + 0x1F00
        prepare(tracker, &s)
        machine.state = s
        XCTAssertEqual(machine.run(maxInstructions: 1000), stop)
        return (tracker, machine)
    }

    static func gpr(_ r: GPR, size: UInt8 = 8) -> DataLocation {
        DataLocation(kind: .register, size: size, offset: RegisterFile.gpr(r.rawValue))
    }
    static let ah = DataLocation(kind: .register, size: 1, offset: RegisterFile.gpr(0) + 1)
    static let flags = DataLocation(kind: .register, size: 1, offset: RegisterFile.flags)

    static func bytes(of value: Double) -> [UInt8] { withUnsafeBytes(of: value.bitPattern) { Array($0) } }

    func testX87CompareReachesTheBranchThroughStatusWordAHAndSahf() throws {
        let (t, _) = try run("""
            fld1
            fld qword ptr [rsi]
            fcom st(1)
            fnstsw ax
            sahf
            ja 1f
            1:
            """, data: Self.bytes(of: 2.5)) { t, _ in t.label(.memory(Self.data, size: 8), "x") }
        XCTAssertTrue(t.labels(Self.ah).contains("x"), "fnstsw ax puts the condition codes' labels in AH")
        XCTAssertEqual(t.controlLabels.count, 1)
        XCTAssertTrue(t.controlLabels.first?.contains("x") ?? false, "fcom -> fnstsw -> sahf -> ja: the compared value steers the branch")
    }

    func testFtstFxamAndFcomiReachBranches() throws {
        for (compare, read) in [("ftst", "fnstsw ax\ntest ah, 0x45\njz 1f"), ("fxam", "fnstsw ax\ntest ah, 0x45\njz 1f"),
                                ("fldz\nfcomi st(0), st(1)", "jb 1f"), ("fldz\nfucomip st(0), st(1)", "jp 1f"),
                                ("fcom qword ptr [rsi]", "fstsw ax\nsahf\njb 1f")] {
            let (t, _) = try run("fld qword ptr [rsi]\n\(compare)\n\(read)\n1:", data: Self.bytes(of: -3.0)) { t, _ in
                t.label(.memory(Self.data, size: 8), "x")
            }
            XCTAssertTrue(t.controlLabels.last?.contains("x") ?? false, "`\(compare)` then `\(read)`")
        }
    }

    func testCmovAndSetccReadTheFlagsAndMoveData() throws {
        for taken in [true, false] {
            // [rsi] = 3: rax = 0 is below it (cmovb moves), rax = 5 is not.
            let (t, m) = try run("cmp rax, qword ptr [rsi]\ncmovb rbx, rcx\nsetb dl", data: [3]) { t, s in
                t.label(.memory(Self.data, size: 8), "x")
                t.label(Self.gpr(.rcx), "c")
                t.label(Self.gpr(.rbx), "b")
                s.rax = taken ? 0 : 5
                s.rbx = 9
                s.rcx = 7
            }
            XCTAssertEqual(t.controlLabels.count, 2, "cmov and setcc each read the flags")
            XCTAssertTrue(t.controlLabels.allSatisfy { $0.contains("x") })
            XCTAssertTrue(t.labels(Self.gpr(.rdx, size: 1)).contains("x"), "setcc's byte is the condition")
            XCTAssertEqual(m.state.rbx, taken ? 7 : 9)
            XCTAssertEqual(t.labels(Self.gpr(.rbx)), taken ? ["c"] : ["b"])
        }
    }

    func testCounterBranchesReportRCX() throws {
        let (t, _) = try run("jrcxz 1f\n1:\nloop 2f\n2:\nmov ecx, 1\njecxz 3f\n3:") { t, s in
            s.rcx = 5
            t.label(Self.gpr(.rcx), "n")
        }
        XCTAssertEqual(t.controlLabels.count, 3)
        XCTAssertTrue(t.controlLabels[0].contains("n") && t.controlLabels[1].contains("n"), "rcx's labels reach control")
        XCTAssertTrue(t.labels(Self.gpr(.rcx)).isEmpty, "mov ecx, 1 clears")
    }

    func testAdcSbbAndRotateThroughCarryReadCF() throws {
        let (t, _) = try run("cmp rax, qword ptr [rsi]\nadc rbx, 0\nsbb rdx, rdx\nclc\nrcl rdi, 1") { t, _ in
            t.label(.memory(Self.data, size: 8), "x")
        }
        XCTAssertTrue(t.labels(Self.gpr(.rbx)).contains("x"))
        XCTAssertTrue(t.labels(Self.gpr(.rdx)).contains("x"))
        XCTAssertTrue(t.labels(Self.gpr(.rdi)).contains("x"), "clc keeps the other flags' labels (sound, not precise)")
    }

    func testTableLookupsCarryTheIndexLabels() throws {
        let (t, _) = try run("xlatb\nmov rcx, qword ptr [rsi + rdx*8]\nlea rdi, [rsi + rdx*4 + 8]") { t, s in
            s.rbx = Self.data
            s.rax = 3
            s.rdx = 1
            t.label(Self.gpr(.rax, size: 1), "i")
            t.label(Self.gpr(.rdx), "j")
            t.label(.memory(Self.data + 3, size: 1), "t")
        }
        XCTAssertEqual(t.labels(Self.gpr(.rax, size: 1)), ["i", "t"], "xlatb: AL <- [RBX + AL]")
        XCTAssertEqual(t.labels(Self.gpr(.rcx)), ["j"], "mov from [rsi + rdx*8]")
        XCTAssertEqual(t.labels(Self.gpr(.rdi)), ["j"], "lea derives from base and index")
    }

    func testLoadsIntoTheirOwnAddressRegisterKeepThePointerLabels() throws {
        let (t, _) = try run("""
            mov rax, qword ptr [rax + 8]
            movzx ecx, byte ptr [rsi + rcx]
            xchg rdx, qword ptr [rdx]
            mov rbp, rsp
            leave
            """) { t, s in
            s.rax = Self.data
            s.rcx = 1
            s.rdx = Self.data + 0x20
            t.label(Self.gpr(.rax), "p")
            t.label(Self.gpr(.rcx), "i")
            t.label(Self.gpr(.rdx), "q")
            t.label(.memory(Self.data + 8, size: 8), "m")
            t.label(.memory(Self.data + 1, size: 1), "b")
            t.label(.memory(Self.data + 0x20, size: 8), "n")
            t.label(Self.gpr(.rsp), "s")
        }
        XCTAssertEqual(t.labels(Self.gpr(.rax)), ["m", "p"], "pointer chasing: mov rax, [rax + 8]")
        XCTAssertEqual(t.labels(Self.gpr(.rcx)), ["b", "i"], "movzx ecx, [rsi + rcx]")
        XCTAssertEqual(t.labels(Self.gpr(.rdx)), ["n", "q"], "xchg rdx, [rdx]")
        XCTAssertEqual(t.labels(.memory(Self.data + 0x20, size: 8)), ["q"])
        XCTAssertTrue(t.labels(Self.gpr(.rbp)).contains("s"), "leave: rbp <- [rbp], through the frame pointer")
        XCTAssertTrue(t.labels(DataLocation(kind: .register, size: 16, offset: RegisterFile.scratch)).isEmpty, "scratch cleared")
    }

    func testFlagsTravelThroughPushfPopfLahfAndSyscallR11() throws {
        let (t, _) = try run("""
            cmp rax, qword ptr [rsi]
            pushfq
            lahf
            mov byte ptr [rsi + 16], ah
            push qword ptr [rsi + 8]
            popfq
            syscall
            """, until: .syscall) { t, _ in
            t.label(.memory(Self.data, size: 8), "x")
            t.label(.memory(Self.data + 8, size: 8), "s")
            t.label(Self.gpr(.rax), "a")
            t.label(Self.gpr(.rcx), "c")
        }
        XCTAssertTrue(t.labels(.memory(Self.data + 0x1F00 - 8, size: 8)).contains("x"), "pushf stores the flags' labels")
        XCTAssertTrue(t.labels(.memory(Self.data + 16, size: 1)).contains("x"), "lahf")
        XCTAssertEqual(t.registers[Int(RegisterFile.flags)], ["s"], "popf loads them from the stack slot")
        XCTAssertEqual(t.labels(DataLocation(kind: .register, size: 8, offset: RegisterFile.gpr(11))), ["s"], "syscall: R11 = RFLAGS")
        XCTAssertTrue(t.labels(Self.gpr(.rax)).isEmpty && t.labels(Self.gpr(.rcx)).isEmpty, "syscall result and RCX are constants")
    }

    func testCpuidAndTimestampResultsAreConstants() throws {
        let (t, _) = try run("cpuid") { t, _ in
            for r in [GPR.rax, .rbx, .rcx, .rdx] { t.label(Self.gpr(r), "r") }
        }
        XCTAssertTrue([GPR.rax, .rbx, .rcx, .rdx].allSatisfy { t.labels(Self.gpr($0)).isEmpty })
    }

    func testBytesThatMoveTakeTheirLabelsAlong() throws {
        let (t, _) = try run("""
            mov rax, qword ptr [rsi]
            shl rax, 8
            mov rbx, qword ptr [rsi]
            bswap rbx
            movq xmm0, qword ptr [rsi]
            pshufd xmm0, xmm0, 0x1b
            movq xmm1, qword ptr [rsi]
            pslldq xmm1, 8
            movq xmm2, qword ptr [rsi]
            punpcklbw xmm2, xmm2
            """) { t, _ in t.label(.memory(Self.data, size: 1), "b0") }
        XCTAssertTrue(t.labels(DataLocation(kind: .register, size: 1, offset: RegisterFile.gpr(0) + 1)).contains("b0"), "shl by 8")
        XCTAssertTrue(t.labels(DataLocation(kind: .register, size: 1, offset: RegisterFile.gpr(3) + 7)).contains("b0"), "bswap")
        XCTAssertTrue(t.labels(DataLocation(kind: .register, size: 4, offset: RegisterFile.xmm(0) + 12)).contains("b0"), "pshufd")
        XCTAssertTrue(t.labels(DataLocation(kind: .register, size: 1, offset: RegisterFile.xmm(1) + 8)).contains("b0"), "pslldq")
        XCTAssertTrue(t.labels(DataLocation(kind: .register, size: 1, offset: RegisterFile.xmm(2) + 1)).contains("b0"), "punpcklbw")
    }

    func testRepMovsCopiesByteLabelsInPlace() throws {
        let (t, _) = try run("mov ecx, 4\nlea rdi, [rsi + 0x100]\nrep movsb") { t, _ in
            for i in 0..<4 { t.label(.memory(Self.data + UInt64(i), size: 1), "b\(i)") }
        }
        for i in 0..<4 { XCTAssertEqual(t.labels(.memory(Self.data + 0x100 + UInt64(i), size: 1)), ["b\(i)"]) }
    }

    func testXMMScalarLoadsClearTheRestOfTheRegister() throws {
        let (t, _) = try run("movd xmm0, dword ptr [rsi]\nmovq xmm1, qword ptr [rsi]\nmovss xmm2, dword ptr [rsi]") { t, _ in
            for i in 0..<3 { t.label(DataLocation(kind: .register, size: 16, offset: RegisterFile.xmm(i)), "old") }
            t.label(.memory(Self.data, size: 8), "x")
        }
        for (i, size) in [(0, 4), (1, 8), (2, 4)] {
            XCTAssertEqual(t.labels(DataLocation(kind: .register, size: UInt8(size), offset: RegisterFile.xmm(i))), ["x"])
            XCTAssertTrue(t.labels(DataLocation(kind: .register, size: UInt8(16 - size), offset: RegisterFile.xmm(i) + UInt64(size))).isEmpty)
        }
    }
}
