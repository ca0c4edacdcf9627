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
    func controlTransfer(from source: DataLocation, target: UInt64) { controlSources.append((source, target)) }
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
