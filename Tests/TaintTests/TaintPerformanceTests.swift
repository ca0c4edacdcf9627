// Cost of taint tracking on a byte-checksum loop (the shape of gzip's inner loops), next to
// plain replay: no labels anywhere, labels elsewhere in memory, and every input byte
// labelled. Prints guest instructions per CPU second; run with
// `swift test -c release --filter TaintPerformanceTests` for meaningful figures.
import Foundation
@testable import Taint
import Trace
import X86
import XCTest

final class TaintPerformanceTests: XCTestCase {
    /// ```
    ///     xor eax, eax
    ///     mov rcx, rdi
    /// 1:  movzx edx, byte ptr [rsi + rcx]
    ///     imul eax, eax, 31
    ///     add eax, edx
    ///     sub rcx, 1
    ///     jnz 1b
    ///     mov byte ptr [r8], al
    ///     hlt
    /// ```
    static let checksum: [UInt8] = [
        0x31, 0xC0, 0x48, 0x89, 0xF9, 0x0F, 0xB6, 0x14, 0x0E, 0x6B, 0xC0, 0x1F,
        0x01, 0xD0, 0x48, 0x83, 0xE9, 0x01, 0x75, 0xF1, 0x41, 0x88, 0x00, 0xF4,
    ]
    static let code: UInt64 = 0x40_0000, data: UInt64 = 0x100_0000, output: UInt64 = 0x200_0000

    static func threadCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    func makeMemory(dataSize: UInt64) throws -> GuestMemory {
        let memory = GuestMemory()
        try memory.map(address: Self.code, length: 0x1000, prot: [.read, .execute])
        try memory.writeBytes(Self.checksum, at: Self.code)
        try memory.map(address: Self.data, length: dataSize, prot: [.read, .write])
        try memory.map(address: Self.output, length: 0x1000, prot: [.read, .write])
        try memory.writeBytes((0 ..< Int(dataSize)).map { UInt8(truncatingIfNeeded: $0 &* 7) }, at: Self.data)
        return memory
    }

    /// Runs the loop `passes` times over `count` bytes through `runLoop` (the machine's
    /// specialized loop, as replay runs it); returns (instructions, CPU seconds).
    func run<T: DataFlowTracker>(_ machine: Machine<T>, count: UInt64, passes: Int,
                                 _ runLoop: (UInt64) -> StopReason) -> (UInt64, Double) {
        let start = Self.threadCPUSeconds()
        var total: UInt64 = 0
        for _ in 0 ..< passes {
            var s = machine.state
            s.rip = Self.code
            s.rdi = count
            s.rsi = Self.data
            s[.r8] = Self.output
            machine.state = s
            let before = machine.instructionCount
            XCTAssertEqual(runLoop(.max), .halt)
            total += machine.instructionCount - before
        }
        return (total, Self.threadCPUSeconds() - start)
    }

    func report(_ name: String, _ result: (UInt64, Double), baseline: Double? = nil) -> Double {
        let mips = Double(result.0) / result.1 / 1e6
        var line = "\(name): \(result.0) instructions, \(String(format: "%.1f", mips)) M/CPU-s"
        if let b = baseline { line += String(format: " (%.2fx plain)", b / mips) }
        print(line)
        return mips
    }

    func testChecksumLoopCleanAndTainted() throws {
        #if DEBUG
        let count: UInt64 = 10_000, passes = 2
        #else
        let count: UInt64 = (1 << 20) - 1, passes = 8
        #endif
        let plain = try Machine(memory: try makeMemory(dataSize: 1 << 20), tracker: NoDataFlow())
        let base = report("plain", run(plain, count: count, passes: passes, plain.runSpecialized))

        let idle = ByteTaintTracker()
        let idleMachine = try Machine(memory: try makeMemory(dataSize: 1 << 20), tracker: idle)
        _ = report("taint, no labels", run(idleMachine, count: count, passes: passes, idleMachine.runSpecialized), baseline: base)

        let elsewhere = ByteTaintTracker()
        elsewhere.labelSource(event: 1, address: 0x300_0000, length: 4096, eventOffset: 0, metadata: false)
        let elsewhereMachine = try Machine(memory: try makeMemory(dataSize: 1 << 20), tracker: elsewhere)
        _ = report("taint, labels elsewhere", run(elsewhereMachine, count: count, passes: passes, elsewhereMachine.runSpecialized), baseline: base)
        XCTAssertEqual(elsewhere.shadowMemory.label(at: Self.output), 0)

        // Every input byte labelled: the checksum's label grows by one byte per iteration
        // (a new set each time: the worst case for the union table, until the sets are
        // widened to granules and repeat).
        let taintedCount = min(count, 1 << 18)
        let tainted = ByteTaintTracker()
        tainted.labelSource(event: 1, address: Self.data, length: Int(taintedCount) + 1, eventOffset: 0, metadata: false)
        let taintedMachine = try Machine(memory: try makeMemory(dataSize: 1 << 20), tracker: tainted)
        _ = report("taint, all input labelled", run(taintedMachine, count: taintedCount, passes: 1, taintedMachine.runSpecialized), baseline: base)
        tainted.recordSink(event: 2, address: Self.output, length: 1, eventOffset: 0)
        let flows = tainted.flows(of: tainted.log)
        XCTAssertEqual(flows.count, 1)
        XCTAssertEqual(flows.first?.input, 1, "the one input event, never another")
        XCTAssertEqual(flows.first?.inputEnd, Int64(taintedCount) + 1)
        if taintedCount < LabelTable.defaultExactSetLimit {
            XCTAssertEqual(flows.first?.inputStart, 1)
            XCTAssertEqual(flows.first?.coarsened, false)
        } else {
            // Bytes 1 ... count were read; past the exact set limit the set is widened
            // within the event's bytes (which start at byte 0), and the flow says so.
            XCTAssertLessThanOrEqual(flows.first?.inputStart ?? 99, 1)
            XCTAssertEqual(flows.first?.coarsened, true)
        }
        let s = tainted.statistics()
        print("  union lookups \(s.unionLookups), hits \(s.unionHits), sets \(s.labelSets), widened \(s.coarsenedSets), "
              + "granule 2^\(tainted.labels.granuleShift)")
    }

    /// The hooks alone, called directly: the clean fast path and a labelled copy.
    func testHookCostDirect() {
        #if DEBUG
        let n = 100_000
        #else
        let n = 20_000_000
        #endif
        let t = ByteTaintTracker()
        t.labelSource(event: 1, address: 0x1000, length: 64, eventOffset: 0, metadata: false)
        let rax = DataLocation(kind: .register, size: 8, offset: RegisterFile.gpr(0))
        let rcx = DataLocation(kind: .register, size: 8, offset: RegisterFile.gpr(1))
        var start = Self.threadCPUSeconds()
        for i in 0 ..< n {
            t.copy(to: rax, from: .memory(0x10_0000 + UInt64(i & 0xFFF8), size: 8))
            t.combine(into: rcx, from: rax)
        }
        var seconds = Self.threadCPUSeconds() - start
        print(String(format: "clean copy+combine: %.1f ns per hook", seconds / Double(2 * n) * 1e9))
        start = Self.threadCPUSeconds()
        for i in 0 ..< n {
            t.copy(to: rax, from: .memory(0x1000 + UInt64(i & 0x38), size: 8))
            t.copy(to: .memory(0x2000 + UInt64(i & 0xFF8), size: 8), from: rax)
        }
        seconds = Self.threadCPUSeconds() - start
        print(String(format: "labelled load+store: %.1f ns per hook", seconds / Double(2 * n) * 1e9))
        XCTAssertEqual(t.shadowMemory.label(at: 0x2008), t.shadowMemory.label(at: 0x1008))
    }
}
