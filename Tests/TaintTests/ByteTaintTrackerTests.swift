// ByteTaintTracker: each DataFlowTracker hook's effect on byte labels, the flags and control
// channel, alerts, and the syscall-level API (sources, sinks, paths, forks, signal frames).
@testable import Taint
import Trace
import X86
import XCTest

final class ByteTaintTrackerTests: XCTestCase {
    static func gpr(_ n: Int, size: UInt8 = 8) -> DataLocation {
        DataLocation(kind: .register, size: size, offset: RegisterFile.gpr(n))
    }
    let rax = gpr(0), rcx = gpr(1), rdx = gpr(2), rbx = gpr(3)
    let flagsByte = Int(RegisterFile.flags)

    /// A tracker with 16 input bytes of event 1 at 0x1000 (labels `first ..< first + 16`).
    func makeTracker() -> (ByteTaintTracker, Label) {
        let tracker = ByteTaintTracker()
        tracker.labelSource(event: 1, address: 0x1000, length: 16, eventOffset: 0, metadata: false)
        return (tracker, tracker.shadowMemory.label(at: 0x1000))
    }

    func registerLabels(_ t: ByteTaintTracker, _ location: DataLocation) -> [Label] {
        (0 ..< Int(location.size)).map { t.shadowRegisters[Int(location.offset) + $0] }
    }

    func memoryLabels(_ t: ByteTaintTracker, _ address: UInt64, _ count: Int) -> [Label] {
        (0 ..< count).map { t.shadowMemory.label(at: address + UInt64($0)) }
    }

    func testHooksDoNothingBeforeAnySource() {
        let tracker = ByteTaintTracker()
        XCTAssertFalse(tracker.isActive)
        tracker.copy(to: rax, from: .memory(0x1000, size: 8))
        tracker.flags(from: rax)
        tracker.flagsReachControl(at: 0)
        XCTAssertEqual(tracker.shadowMemory.pageCount, 0)
        XCTAssertTrue(tracker.log.controlSources.isEmpty)
    }

    func testCopyKeepsPerByteLabelsAndConstantsClear() {
        let (t, a) = makeTracker()
        t.copy(to: rax, from: .memory(0x1000, size: 8))
        XCTAssertEqual(registerLabels(t, rax), (0 ..< 8).map { a + Label($0) })
        t.copy(to: .memory(0x2003, size: 8), from: rax)
        XCTAssertEqual(memoryLabels(t, 0x2003, 8), (0 ..< 8).map { a + Label($0) })
        XCTAssertEqual(t.shadowMemory.label(at: 0x2002), 0)
        // Across a page boundary.
        t.copy(to: .memory(0x2FFC, size: 8), from: rax)
        XCTAssertEqual(memoryLabels(t, 0x2FFC, 8), (0 ..< 8).map { a + Label($0) })
        t.copy(to: rax, from: .constant)
        XCTAssertEqual(registerLabels(t, rax), Array(repeating: 0, count: 8))
        t.copy(to: .memory(0x2003, size: 8), from: rcx)
        XCTAssertEqual(memoryLabels(t, 0x2003, 8), Array(repeating: 0, count: 8), "clean source clears memory")
    }

    func testExtensionBytesTakeTheSourceUnionAndThirtyTwoBitWritesZeroExtend() {
        let (t, a) = makeTracker()
        t.copy(to: rax, from: .memory(0x1000, size: 8))
        // movzx ecx, word [0x1004]: bytes 0-1 per byte, 2-3 the union, 4-7 cleared.
        t.copy(to: rax, from: .memory(0x1000, size: 8))
        t.copy(to: rcx, from: .memory(0x1008, size: 8))
        t.copy(to: Self.gpr(1, size: 4), from: .memory(0x1004, size: 2))
        let pair = t.labels.rangeLabel(first: a + 4, count: 2)
        XCTAssertEqual(registerLabels(t, rcx), [a + 4, a + 5, pair, pair, 0, 0, 0, 0])
        // xor eax, eax clears all of rax.
        t.clear(Self.gpr(0, size: 4))
        XCTAssertEqual(registerLabels(t, rax), Array(repeating: 0, count: 8))
        // AH is byte 1 of rax; a 1-byte write keeps the rest.
        t.copy(to: rax, from: .memory(0x1000, size: 8))
        t.copy(to: DataLocation(kind: .register, size: 1, offset: 1), from: .constant)
        XCTAssertEqual(registerLabels(t, rax), [a, 0] + (2 ..< 8).map { a + Label($0) })
    }

    func testCombineUnionsEveryDestinationByteWithAllSourceBytes() {
        let (t, a) = makeTracker()
        t.labelSource(event: 2, address: 0x1100, length: 8, eventOffset: 0, metadata: false)
        let b = t.shadowMemory.label(at: 0x1100)
        t.copy(to: rax, from: .memory(0x1000, size: 8))
        t.combine(into: rax, from: .memory(0x1100, size: 8))
        let source = t.labels.rangeLabel(first: b, count: 8)
        XCTAssertEqual(registerLabels(t, rax), (0 ..< 8).map { t.labels.union(a + Label($0), source) })
        // A constant or clean source leaves labels as they are.
        let before = registerLabels(t, rax)
        t.combine(into: rax, from: .constant)
        t.combine(into: rax, from: rdx)
        XCTAssertEqual(registerLabels(t, rax), before)
        // Into clean memory: every byte gets the source union.
        t.combine(into: .memory(0x3000, size: 4), from: Self.gpr(0, size: 2))
        let low = t.labels.union(t.labels.union(a, a + 1), source)
        XCTAssertEqual(memoryLabels(t, 0x3000, 4), Array(repeating: low, count: 4))
    }

    func testDeriveAndExchange() {
        let (t, a) = makeTracker()
        t.copy(to: rbx, from: .memory(0x1000, size: 8))
        t.copy(to: rcx, from: .memory(0x1008, size: 8))
        // lea rdx, [rbx + rcx]: every byte depends on both registers.
        t.derive(to: rdx, from: rbx, rcx)
        let all = t.labels.rangeLabel(first: a, count: 16)
        XCTAssertEqual(registerLabels(t, rdx), Array(repeating: all, count: 8))
        t.derive(to: rdx, from: .constant, .constant)
        XCTAssertEqual(registerLabels(t, rdx), Array(repeating: 0, count: 8))
        // xchg rbx, [0x4000]
        t.exchange(rbx, .memory(0x4000, size: 8))
        XCTAssertEqual(registerLabels(t, rbx), Array(repeating: 0, count: 8))
        XCTAssertEqual(memoryLabels(t, 0x4000, 8), (0 ..< 8).map { a + Label($0) })
        t.exchange(rcx, rbx)
        XCTAssertEqual(registerLabels(t, rbx), (8 ..< 16).map { a + Label($0) })
        XCTAssertEqual(registerLabels(t, rcx), Array(repeating: 0, count: 8))
    }

    func testFlagsAccumulateWithinAnInstructionAndReachControlRecordsSources() {
        let (t, a) = makeTracker()
        t.labelSource(event: 2, address: 0x1100, length: 8, eventOffset: 0, metadata: false)
        let b = t.shadowMemory.label(at: 0x1100)
        t.copy(to: Self.gpr(0, size: 1), from: .memory(0x1000, size: 1))
        t.copy(to: Self.gpr(3, size: 1), from: .memory(0x1100, size: 1))
        // cmp al, bl: two flags calls, the flags depend on both.
        t.flags(from: Self.gpr(0, size: 1))
        t.flags(from: Self.gpr(3, size: 1))
        XCTAssertEqual(t.flagsLabel, t.labels.union(a, b))
        t.currentSequence = 40
        t.flagsReachControl(at: 0x400000)
        XCTAssertEqual(t.log.controlSources, [ControlSource(input: 1, firstSequence: 40), ControlSource(input: 2, firstSequence: 40)])
        t.currentSequence = 41
        t.flagsReachControl(at: 0x400010)
        XCTAssertEqual(t.log.controlSources.count, 2, "events are recorded once, at their first sequence")
        // add rcx, 1 after the compare: the flags now come from rcx only (clean).
        t.combine(into: rcx, from: .constant)
        t.flags(from: rcx)
        XCTAssertEqual(t.flagsLabel, 0)
        // xor eax, eax idiom: flags from a constant.
        t.flags(from: .constant)
        XCTAssertEqual(t.flagsLabel, 0)
        // A third input reaching a branch later gets the later sequence.
        t.labelSource(event: 3, address: 0x1200, length: 1, eventOffset: 0, metadata: false)
        t.copy(to: rdx, from: .memory(0x1200, size: 1))
        t.flags(from: Self.gpr(2, size: 1))
        t.currentSequence = 50
        t.flagsReachControl(at: 0x400020)
        XCTAssertEqual(t.log.controlSources.last, ControlSource(input: 3, firstSequence: 50))
        // A fresh log records again.
        t.log = TaintLog()
        t.flagsReachControl(at: 0x400020)
        XCTAssertEqual(t.log.controlSources, [ControlSource(input: 3, firstSequence: 50)])
    }

    func testAddressDependencyMarksAddressOnlyAndRespectsTheSwitch() {
        let (t, a) = makeTracker()
        // movzx ecx, byte [input]; mov dl, [table + rcx]
        t.copy(to: Self.gpr(1, size: 4), from: .memory(0x1000, size: 1))
        let dl = Self.gpr(2, size: 1)
        t.copy(to: dl, from: .memory(0x9000, size: 1))
        t.addressDependency(of: dl, base: -1, index: 1)
        let index = t.shadowRegisters[Int(RegisterFile.gpr(2))]
        XCTAssertEqual(index, t.labels.addressOnly(a))
        XCTAssertFalse(t.labels.hasValueFlow(index))
        t.addressDependencyEnabled = false
        t.copy(to: dl, from: .memory(0x9000, size: 1))
        t.addressDependency(of: dl, base: -1, index: 1)
        XCTAssertEqual(t.shadowRegisters[Int(RegisterFile.gpr(2))], 0)
    }

    func testControlTransferAlertsOnValueFlowOnly() {
        let (t, a) = makeTracker()
        var seen: [(Label, UInt64)] = []
        t.onAlert = { seen.append(($0, $1)) }
        t.currentSequence = 7
        // jmp [rax] with an address-only label (jump table indexed by input): no alert.
        t.copy(to: rcx, from: .memory(0x1000, size: 1))
        t.copy(to: rax, from: .memory(0x9000, size: 8))
        t.addressDependency(of: rax, base: 1, index: -1)
        t.controlTransfer(from: rax, target: 0x401000, instruction: 0x1000)
        XCTAssertTrue(t.log.alerts.isEmpty)
        // ret to a pointer read from input: alert.
        t.copy(to: .memory(0x7FF0, size: 8), from: .memory(0x1008, size: 8))
        t.controlTransfer(from: .memory(0x7FF0, size: 8), target: 0x402000, instruction: 0x1000)
        XCTAssertEqual(t.log.alerts.count, 1)
        XCTAssertEqual(t.log.alerts.first?.target, 0x402000)
        XCTAssertEqual(t.log.alerts.first?.sequence, 7)
        XCTAssertEqual(t.labels.byteRanges(t.log.alerts[0].label), [TaintByteRange(event: 1, start: 8, end: 16)])
        XCTAssertEqual(seen.count, 1)
        // The same alert again is not repeated.
        t.controlTransfer(from: .memory(0x7FF0, size: 8), target: 0x402000, instruction: 0x1000)
        XCTAssertEqual(t.log.alerts.count, 1)
        // A clean return address (call cleared the slot): nothing.
        t.clear(.memory(0x7FF0, size: 8))
        t.controlTransfer(from: .memory(0x7FF0, size: 8), target: 0x403000, instruction: 0x1000)
        XCTAssertEqual(t.log.alerts.count, 1)
        XCTAssertEqual(t.log.alerts[0].address, 0x1000, "the alert names the transferring instruction")
        _ = a
    }

    /// `shl $6, %ecx; add %r9, %rcx; jmp *%rcx` with an input-derived ecx (glibc's memmove
    /// size dispatch): only the target's low 16 bits carry input, so it is a dispatch near
    /// a clean base, no alert; input in a higher byte of the register, or any input byte of
    /// a pointer loaded from memory (a partial overwrite of a return address), is one.
    func testRegisterTargetWithInputOnlyInItsLowSixteenBitsIsADispatch() {
        let (t, _) = makeTracker()
        t.copy(to: DataLocation(kind: .register, size: 1, offset: RegisterFile.gpr(1)), from: .memory(0x1000, size: 1))
        t.shift(DataLocation(kind: .register, size: 4, offset: RegisterFile.gpr(1)), bits: 6, fill: .zero)
        t.controlTransfer(from: rcx, target: 0x7000_0040, instruction: 0x2000)
        XCTAssertTrue(t.log.alerts.isEmpty, "a dispatch within 64 KiB of a clean base")
        t.copy(to: DataLocation(kind: .register, size: 1, offset: RegisterFile.gpr(1) + 3), from: .memory(0x1001, size: 1))
        t.controlTransfer(from: rcx, target: 0x7000_0040, instruction: 0x2000)
        XCTAssertEqual(t.log.alerts.count, 1, "input in byte 3 of the target")
        t.clear(.memory(0x7FF0, size: 8))
        t.copy(to: .memory(0x7FF0, size: 2), from: .memory(0x1002, size: 2))
        t.controlTransfer(from: .memory(0x7FF0, size: 8), target: 0x7000_1234, instruction: 0x2004)
        XCTAssertEqual(t.log.alerts.count, 2, "a return address whose low bytes came from input")
    }

    /// Byte-precise hooks: bitwise operations keep bytes apart, shifts move labels to the
    /// bytes the bits went to, zero fill is clean and sign fill takes the top byte's labels.
    func testBytewiseCombineAndShiftsKeepBytesApart() {
        let (t, a) = makeTracker()
        let eax = DataLocation(kind: .register, size: 4, offset: RegisterFile.gpr(0))
        let edx = DataLocation(kind: .register, size: 4, offset: RegisterFile.gpr(2))
        func byte(_ r: Int, _ k: Int) -> Label { t.shadowRegisters[Int(RegisterFile.gpr(r)) + k] }
        t.copy(to: DataLocation(kind: .register, size: 1, offset: RegisterFile.gpr(0)), from: .memory(0x1000, size: 1))
        t.copy(to: DataLocation(kind: .register, size: 1, offset: RegisterFile.gpr(2) + 1), from: .memory(0x1001, size: 1))
        t.combineBytewise(into: eax, from: edx)
        XCTAssertEqual([byte(0, 0), byte(0, 1), byte(0, 2), byte(0, 3)], [a, a + 1, 0, 0])
        t.shift(eax, bits: 16, fill: .zero)          // shl eax, 16
        XCTAssertEqual([byte(0, 0), byte(0, 1), byte(0, 2), byte(0, 3)], [0, 0, a, a + 1])
        t.shift(eax, bits: -12, fill: .zero)         // shr eax, 12: byte 1 <- bits 20..27
        XCTAssertEqual(byte(0, 0), a, "bits 12..19: byte 2 alone (byte 1 is clean)")
        XCTAssertEqual(byte(0, 1), t.labels.union(a, a + 1))
        XCTAssertEqual([byte(0, 2), byte(0, 3)], [a + 1, 0])
        t.shift(eax, bits: -24, fill: .sign)         // sar eax, 24: byte 0 <- byte 3, the rest sign
        XCTAssertEqual([byte(0, 0), byte(0, 1), byte(0, 2), byte(0, 3)], [0, 0, 0, 0], "byte 3 was clean")
        t.copy(to: DataLocation(kind: .register, size: 1, offset: RegisterFile.gpr(0) + 1), from: .memory(0x1002, size: 1))
        t.shift(DataLocation(kind: .register, size: 2, offset: RegisterFile.gpr(0)), bits: 8, fill: .rotate)   // rol ax, 8
        XCTAssertEqual([byte(0, 0), byte(0, 1)], [a + 2, 0])
    }

    func testSinkRunsAndPathSinks() {
        let (t, a) = makeTracker()
        t.copy(to: .memory(0x5000, size: 8), from: .memory(0x1000, size: 8))   // a .. a+7
        t.copy(to: .memory(0x5010, size: 2), from: .memory(0x1004, size: 2))  // a+4, a+5
        t.recordSink(event: 9, address: 0x5000, length: 0x20, eventOffset: 100)
        XCTAssertEqual(t.log.sinkBytes, 0x20)
        XCTAssertEqual(t.log.sinkRuns, [
            TaintLog.SinkRun(event: 9, outputStart: 100, length: 8, label: a, stride: 1, coarsened: false),
            TaintLog.SinkRun(event: 9, outputStart: 116, length: 2, label: a + 4, stride: 1, coarsened: false),
        ])
        // A path built from input bytes 2..5.
        t.copy(to: .memory(0x6000, size: 4), from: .memory(0x1002, size: 4))
        XCTAssertEqual(t.pathSinkSources(address: 0x6000, length: 5), [TaintByteRange(event: 1, start: 2, end: 6)])
        t.recordPathSink(event: 12, argument: 0, address: 0x6000, length: 5)
        t.recordPathSink(event: 13, argument: 0, address: 0x6100, length: 5)
        XCTAssertEqual(t.log.pathSinks, [PathSink(event: 12, argument: 0, sources: [TaintByteRange(event: 1, start: 2, end: 6)])])
    }

    func testForkCopiesShadowSharesTableAndStartsAFreshLog() {
        let (t, a) = makeTracker()
        t.copy(to: rax, from: .memory(0x1000, size: 8))
        t.recordSink(event: 3, address: 0x1000, length: 4, eventOffset: 0)
        let child = t.forked()
        XCTAssertTrue(child.labels === t.labels)
        XCTAssertTrue(child.log.sinkRuns.isEmpty)
        XCTAssertEqual(child.shadowMemory.label(at: 0x1003), a + 3)
        XCTAssertEqual(child.shadowRegisters[0], a)
        child.clearMemory(address: 0x1000, length: 0x1000)
        child.clearRegisters(offset: 0, size: 8)
        XCTAssertEqual(t.shadowMemory.label(at: 0x1003), a + 3, "parent keeps its shadow")
        XCTAssertEqual(t.shadowRegisters[0], a)
        XCTAssertFalse(child.isActive, "an empty shadow turns the hooks off")
        XCTAssertTrue(t.isActive)
    }

    func testThreadSwitchSignalFramesAndMremap() {
        let (t, a) = makeTracker()
        t.copy(to: rax, from: .memory(0x1000, size: 8))
        let first = t.saveRegisters()
        t.clearRegisters(offset: 0, size: RegisterFile.size)
        XCTAssertEqual(t.shadowRegisters[0], 0)
        t.restoreRegisters(first)
        XCTAssertEqual(t.shadowRegisters[7], a + 7)
        // Signal frame: rax saved to the frame, clobbered, restored at sigreturn.
        t.saveRegister(offset: RegisterFile.gpr(0), size: 8, to: 0x7000)
        XCTAssertEqual(t.shadowMemory.label(at: 0x7002), a + 2)
        t.clearRegisters(offset: 0, size: 8)
        t.restoreRegister(offset: RegisterFile.gpr(0), size: 8, from: 0x7000)
        XCTAssertEqual(t.shadowRegisters[2], a + 2)
        // mremap moves labels.
        t.moveMemory(from: 0x1000, to: 0x10_0000, length: 0x1000)
        XCTAssertEqual(t.shadowMemory.label(at: 0x10_0005), a + 5)
        XCTAssertEqual(t.shadowMemory.label(at: 0x1005), 0)
    }

    func testStatistics() {
        let (t, _) = makeTracker()
        t.combine(into: rax, from: .memory(0x1000, size: 8))
        t.recordSink(event: 2, address: 0x1000, length: 32, eventOffset: 0)
        let s = t.statistics()
        XCTAssertEqual(s.sourceBytes, 16)
        XCTAssertEqual(s.sinkBytes, 32)
        XCTAssertEqual(s.shadowPages, 1)
        XCTAssertGreaterThan(s.labelSets, 1)
    }
}
