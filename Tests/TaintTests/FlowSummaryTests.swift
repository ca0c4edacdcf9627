// flows(of:): sink runs become output <- input byte-range flows; copies stay shifted and
// exact across events, mixed bytes name every input, and the count per sink is bounded.
@testable import Taint
import Trace
import X86
import XCTest

final class FlowSummaryTests: XCTestCase {
    let rax = DataLocation(kind: .register, size: 8, offset: RegisterFile.gpr(0))

    func testShiftedCopyAcrossTwoReadEventsYieldsTwoExactShiftedFlows() {
        let t = ByteTaintTracker()
        t.labelSource(event: 10, address: 0x10000, length: 600, eventOffset: 0, metadata: false)
        t.labelSource(event: 11, address: 0x10000 + 600, length: 400, eventOffset: 0, metadata: false)
        // cat: 8 bytes at a time through a register.
        for k in stride(from: UInt64(0), to: 1000, by: 8) {
            t.copy(to: rax, from: .memory(0x10000 + k, size: 8))
            t.copy(to: .memory(0x20000 + k, size: 8), from: rax)
        }
        t.recordSink(event: 12, address: 0x20000, length: 1000, eventOffset: 0)
        XCTAssertEqual(t.flows(of: t.log), [
            TaintFlow(output: 12, outputStart: 0, outputEnd: 600, input: 10, inputStart: 0, inputEnd: 600, shifted: true),
            TaintFlow(output: 12, outputStart: 600, outputEnd: 1000, input: 11, inputStart: 0, inputEnd: 400, shifted: true),
        ])
    }

    func testShiftedCopyWithOffsetsInBothEvents() {
        let t = ByteTaintTracker()
        // The second iovec of a readv: bytes 4096.. of event 20.
        t.labelSource(event: 20, address: 0x30000, length: 100, eventOffset: 4096, metadata: false)
        t.copy(to: .memory(0x40010, size: 8), from: .memory(0x30020, size: 8))
        // A writev whose second iovec starts at byte 50 of event 21.
        t.recordSink(event: 21, address: 0x40000, length: 32, eventOffset: 50)
        XCTAssertEqual(t.flows(of: t.log), [
            TaintFlow(output: 21, outputStart: 66, outputEnd: 74, input: 20, inputStart: 4128, inputEnd: 4136, shifted: true),
        ])
    }

    func testXorOfTwoInputsNamesBoth() {
        let t = ByteTaintTracker()
        t.labelSource(event: 1, address: 0x1000, length: 8, eventOffset: 0, metadata: false)
        t.labelSource(event: 2, address: 0x2000, length: 8, eventOffset: 0, metadata: false)
        t.copy(to: rax, from: .memory(0x1000, size: 8))
        t.combine(into: rax, from: .memory(0x2000, size: 8))
        t.copy(to: .memory(0x3000, size: 8), from: rax)
        t.recordSink(event: 3, address: 0x3000, length: 8, eventOffset: 0)
        XCTAssertEqual(t.flows(of: t.log), [
            TaintFlow(output: 3, outputStart: 0, outputEnd: 8, input: 1, inputStart: 0, inputEnd: 8, shifted: true),
            TaintFlow(output: 3, outputStart: 0, outputEnd: 8, input: 2, inputStart: 0, inputEnd: 8, shifted: false),
        ])
    }

    func testTableLookupFlowIsAddressOnly() {
        let t = ByteTaintTracker()
        t.labelSource(event: 1, address: 0x1000, length: 4, eventOffset: 0, metadata: false)
        let rcx = DataLocation(kind: .register, size: 4, offset: RegisterFile.gpr(1))
        let dl = DataLocation(kind: .register, size: 1, offset: RegisterFile.gpr(2))
        for k in UInt64(0) ..< 4 {
            t.copy(to: rcx, from: .memory(0x1000 + k, size: 1))
            t.copy(to: dl, from: .memory(0x9000, size: 1))
            t.addressDependency(of: dl, base: -1, index: 1)
            t.copy(to: .memory(0x2000 + k, size: 1), from: dl)
        }
        t.recordSink(event: 2, address: 0x2000, length: 4, eventOffset: 0)
        XCTAssertEqual(t.flows(of: t.log), [
            TaintFlow(output: 2, outputStart: 0, outputEnd: 4, input: 1, inputStart: 0, inputEnd: 4, shifted: true, addressOnly: true),
        ])
    }

    func testSetOfSeveralRangesSharedByManyBytesGivesOneFlowPerRange() {
        // dd's shape: each output byte is a different input byte (a new union label per
        // byte), plus the same table lookup indexed by two separate ranges of input 2.
        let t = ByteTaintTracker()
        t.labelSource(event: 1, address: 0x1000, length: 50, eventOffset: 0, metadata: false)
        t.labelSource(event: 2, address: 0x2000, length: 20, eventOffset: 0, metadata: false)
        let a = t.shadowMemory.label(at: 0x1000), b = t.shadowMemory.label(at: 0x2000)
        var index: Label = 0
        for k: Label in [0, 1, 2, 3, 10, 11, 12, 13] { index = t.labels.union(index, b + k) }
        let table = t.labels.addressOnly(index)
        for k in 0 ..< 50 { t.shadowMemory.setLabel(t.labels.union(a + Label(k), table), at: 0x3000 + UInt64(k)) }
        t.recordSink(event: 3, address: 0x3000, length: 50, eventOffset: 0)
        XCTAssertEqual(t.flows(of: t.log), [
            TaintFlow(output: 3, outputStart: 0, outputEnd: 50, input: 1, inputStart: 0, inputEnd: 50, shifted: true),
            TaintFlow(output: 3, outputStart: 0, outputEnd: 50, input: 2, inputStart: 0, inputEnd: 4, shifted: false, addressOnly: true),
            TaintFlow(output: 3, outputStart: 0, outputEnd: 50, input: 2, inputStart: 10, inputEnd: 14, shifted: false, addressOnly: true),
        ], "one flow per input range over the whole output, not one per output byte and range")
    }

    func testCoarsenedAddressOnlyFlowsJoinAsTheirHullOnlyWhenInputsOverlap() {
        // sort's shape: table lookups at widened granules, one input hull per output line.
        var builder = FlowBuilder()
        func flow(_ o: Range<Int64>, _ input: UInt64, _ i: Range<Int64>, coarsened: Bool = true) -> TaintFlow {
            TaintFlow(output: 3, outputStart: o.lowerBound, outputEnd: o.upperBound, input: input,
                      inputStart: i.lowerBound, inputEnd: i.upperBound, addressOnly: true, coarsened: coarsened)
        }
        builder.add(flow(0 ..< 22, 1, 0 ..< 3000))
        builder.add(flow(22 ..< 23, 1, 0 ..< 952))
        builder.add(flow(23 ..< 39, 1, 2000 ..< 3500))
        builder.add(flow(39 ..< 40, 1, 5000 ..< 6000))
        builder.add(flow(0 ..< 22, 2, 0 ..< 64, coarsened: false))
        builder.add(flow(22 ..< 23, 2, 0 ..< 32, coarsened: false))
        XCTAssertEqual(builder.flows, [
            flow(0 ..< 39, 1, 0 ..< 3500),
            flow(39 ..< 40, 1, 5000 ..< 6000),
            flow(0 ..< 22, 2, 0 ..< 64, coarsened: false),
            flow(22 ..< 23, 2, 0 ..< 32, coarsened: false),
        ], "disjoint inputs and exact flows keep their own ranges")
    }

    func testFlowCountPerSinkIsBoundedWithoutDroppingInputs() {
        let t = ByteTaintTracker()
        t.maxFlowsPerSink = 4096
        t.labelSource(event: 1, address: 0x100000, length: 20_000, eventOffset: 0, metadata: false)
        t.labelSource(event: 2, address: 0x200000, length: 16, eventOffset: 0, metadata: false)
        let a = t.shadowMemory.label(at: 0x100000)
        // Output byte k comes from input byte 2k: no two runs are contiguous in the input.
        for k in 0 ..< 10_000 { t.shadowMemory.setLabel(a + Label(2 * k), at: 0x300000 + UInt64(k)) }
        t.shadowMemory.setLabel(t.shadowMemory.label(at: 0x200005), at: 0x300000 + 5000)
        t.recordSink(event: 3, address: 0x300000, length: 10_000, eventOffset: 0)
        let flows = t.flows(of: t.log)
        XCTAssertLessThanOrEqual(flows.count, t.maxFlowsPerSink + 2)
        XCTAssertGreaterThan(flows.count, 100, "merged in neighbourhoods, not into one hull")
        let fromOne = flows.filter { $0.input == 1 }
        XCTAssertTrue(fromOne.allSatisfy { $0.coarsened && !$0.shifted })
        XCTAssertEqual(fromOne.map(\.inputStart).min(), 0)
        XCTAssertEqual(fromOne.map(\.inputEnd).max(), 19_999)
        XCTAssertEqual(fromOne.map(\.outputStart).min(), 0)
        XCTAssertEqual(fromOne.map(\.outputEnd).max(), 10_000)
        // Every output byte of input 1 is covered by some flow.
        var covered = [Bool](repeating: false, count: 10_000)
        for f in fromOne { for k in Int(f.outputStart) ..< Int(f.outputEnd) { covered[k] = true } }
        XCTAssertTrue(covered.indices.allSatisfy { covered[$0] || $0 == 5000 }, "byte 5000 came from input 2")
        XCTAssertEqual(flows.filter { $0.input == 2 }.map { [$0.outputStart, $0.inputStart] }, [[5000, 5]], "the small input survives")
    }

    func testSinkRunBoundCoarsensNeighbours() {
        let t = ByteTaintTracker()
        t.maxRunsPerSink = 4
        t.labelSource(event: 1, address: 0x1000, length: 100, eventOffset: 0, metadata: false)
        let a = t.shadowMemory.label(at: 0x1000)
        for k in 0 ..< 10 { t.shadowMemory.setLabel(a + Label(10 * k), at: 0x2000 + UInt64(k)) }
        t.recordSink(event: 2, address: 0x2000, length: 10, eventOffset: 0)
        XCTAssertLessThanOrEqual(t.log.sinkRuns.count, 4)
        XCTAssertTrue(t.log.sinkRuns.allSatisfy(\.coarsened))
        let flows = t.flows(of: t.log)
        XCTAssertTrue(flows.allSatisfy { $0.coarsened && $0.input == 1 })
        for k in 0 ..< 10 {
            XCTAssertTrue(flows.contains { $0.outputStart <= k && k < $0.outputEnd && $0.inputStart <= 10 * k && 10 * k < $0.inputEnd },
                          "output byte \(k) keeps input byte \(10 * k)")
        }
    }

    func testLongLogsSettleEarlierSinkEventsIntoTheSameFlows() {
        // Three writes of mixed bytes (one run per byte), then a writev in two pieces.
        func record(_ t: ByteTaintTracker) {
            t.labelSource(event: 1, address: 0x1000, length: 100, eventOffset: 0, metadata: false)
            let a = t.shadowMemory.label(at: 0x1000)
            for k in 0 ..< 10 { t.shadowMemory.setLabel(a + Label(10 * k), at: 0x2000 + UInt64(k)) }
            for event in UInt64(2) ... 4 { t.recordSink(event: event, address: 0x2000, length: 10, eventOffset: 0) }
            t.recordSink(event: 5, address: 0x2000, length: 5, eventOffset: 0)
            t.recordSink(event: 5, address: 0x2005, length: 5, eventOffset: 5)
        }
        let whole = ByteTaintTracker()
        record(whole)
        let settling = ByteTaintTracker()
        settling.maxPendingRuns = 12
        record(settling)
        XCTAssertFalse(settling.log.settledFlows.isEmpty)
        XCTAssertLessThanOrEqual(settling.log.sinkRuns.count, 12 + 10, "at most the bound plus one event's runs")
        XCTAssertEqual(Set(settling.log.sinkRuns.map(\.event)), [5], "the last event's runs stay pending")
        XCTAssertEqual(settling.flows(of: settling.log), whole.flows(of: whole.log))
    }

    func testCleanSinkHasNoFlows() {
        let t = ByteTaintTracker()
        t.labelSource(event: 1, address: 0x1000, length: 8, eventOffset: 0, metadata: false)
        t.recordSink(event: 2, address: 0x5000, length: 100, eventOffset: 0)
        XCTAssertTrue(t.log.sinkRuns.isEmpty)
        XCTAssertTrue(t.flows(of: t.log).isEmpty)
    }
}
