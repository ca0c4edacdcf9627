// Label sets that gather many small input events (tar walking a tree: every name and stat
// result reaches the next path by address dependency) are summarised in bounded space:
// past a bound in the number of source entries, neighbouring events merge into spans of
// events, a superset of the same sources, and the summary says so.
@testable import Taint
import Foundation
import Trace
import X86
import XCTest

final class BoundedSetTests: XCTestCase {
    /// `count` events of `length` bytes each, events `first, first + 2, ...` (odd events
    /// are someone else's), and the union of all their bytes.
    func manyEvents(_ table: LabelTable, count: Int, first: UInt64 = 100, length: Int = 3) -> (Label, [UInt64]) {
        var events: [UInt64] = []
        var set: Label = 0
        for k in 0 ..< count {
            let event = first + UInt64(2 * k)
            let base = table.allocateSource(event: event, eventOffset: 0, length: length, metadata: k % 2 == 0)
            set = table.union(set, table.rangeLabel(first: base, count: length))
            events.append(event)
        }
        return (set, events)
    }

    /// Whether some entry names every byte of `range` (its event inside, its bytes within).
    func covered(_ range: TaintByteRange, by entries: [SourceSpan]) -> Bool {
        entries.contains { $0.event <= range.event && range.event <= $0.throughEvent && $0.start <= range.start && range.end <= $0.end }
    }

    func testSetOverManyEventsIsBoundedToSpansOfTheSameSources() {
        let table = LabelTable()
        let (set, events) = manyEvents(table, count: 1000)
        let exact = table.resolve(set).map(\.range)
        XCTAssertEqual(Set(exact.map(\.event)), Set(events), "the set itself names every event")

        let (entries, coarsened) = table.boundedSources(set, maxEntries: 16)
        XCTAssertTrue(coarsened, "past the bound the resolution says it is coarser")
        XCTAssertLessThanOrEqual(entries.count, 2 * 16)
        XCTAssertTrue(entries.contains(where: \.isSpan))
        for r in exact { XCTAssertTrue(covered(r, by: entries), "\(r) kept") }
        XCTAssertTrue(entries.allSatisfy { $0.event >= events.first! && $0.throughEvent <= events.last! },
                      "no event outside the set's window")

        // Within the bound: the exact pieces, one per event.
        let small = LabelTable()
        let (few, fewEvents) = manyEvents(small, count: 10)
        let (exactEntries, exactCoarsened) = small.boundedSources(few, maxEntries: 16)
        XCTAssertFalse(exactCoarsened)
        XCTAssertEqual(exactEntries.map(\.event), fewEvents)
        XCTAssertFalse(exactEntries.contains(where: \.isSpan))
        XCTAssertFalse(small.mayExceed(few, maxEntries: 16))
        XCTAssertTrue(table.mayExceed(set, maxEntries: 16))
    }

    func testBoundedByteRangesKeepEveryEventAndMarkSpans() {
        let table = LabelTable()
        let (set, events) = manyEvents(table, count: 500)
        let (ranges, coarsened) = table.boundedByteRanges(set, maxEntries: 8)
        XCTAssertTrue(coarsened)
        XCTAssertLessThanOrEqual(ranges.count, 16)
        for e in events {
            XCTAssertTrue(ranges.contains { $0.names(event: e) && $0.start <= 0 && $0.end >= 3 }, "event \(e) named")
        }
        XCTAssertTrue(ranges.contains { $0.throughEvent != nil })
        // Below the bound the ranges are byteRanges' exact ones.
        let small = LabelTable()
        let (few, _) = manyEvents(small, count: 5)
        XCTAssertEqual(small.boundedByteRanges(few).ranges, small.byteRanges(few))
    }

    func testUniversalSetResolvesToOneSpanPerFlag() {
        let table = LabelTable()
        let (_, events) = manyEvents(table, count: 300)
        let (entries, coarsened) = table.boundedSources(table.universalLabel, maxEntries: 4)
        XCTAssertTrue(coarsened)
        XCTAssertEqual(entries.count, 1)
        XCTAssertEqual(entries.first?.event, events.first)
        XCTAssertEqual(entries.first?.throughEvent, events.last)
    }

    func testSetsPastTheIntervalBudgetAreCompactSupersets() {
        // Budget 0: every new set of more than a few intervals per flag is compact.
        let table = LabelTable(intervalBudget: 0)
        var bases: [Label] = []
        for k in 0 ..< 40 { bases.append(table.allocateSource(event: UInt64(1 + 2 * k), eventOffset: 0, length: 5, metadata: false)) }
        var set: Label = 0
        for b in bases { set = table.union(set, b + 2) }
        let intervals = table.intervals(of: set)
        XCTAssertLessThanOrEqual(intervals.count, LabelTable.compactIntervalBound)
        XCTAssertTrue(table.isCoarsened(set))
        for (k, b) in bases.enumerated() {
            XCTAssertTrue(intervals.contains { $0.lower <= b + 2 && b + 2 < $0.upper }, "byte of event \(1 + 2 * k) kept")
        }
        // An address-only part stays address-only where no value byte covers it.
        let lookup = table.addressOnly(table.union(bases[0], bases[39] + 4))
        XCTAssertFalse(table.hasValueFlow(lookup))

        // Within the budget nothing changes.
        let roomy = LabelTable()
        var exact: Label = 0
        for k in 0 ..< 40 { exact = roomy.union(exact, roomy.allocateSource(event: UInt64(1 + 2 * k), eventOffset: 0, length: 5, metadata: false) + 2) }
        XCTAssertEqual(roomy.intervals(of: exact).count, 40)
        XCTAssertFalse(roomy.isCoarsened(exact))
    }

    func testSinkOfManyEventsGivesBoundedSpanFlowsAndTheSummarySaysSo() throws {
        let t = ByteTaintTracker()
        let rax = DataLocation(kind: .register, size: 8, offset: RegisterFile.gpr(0))
        // 2,000 small reads, each folded into rax (an accumulator: a checksum, a pointer
        // derived from every name so far); the result is written out.
        let count = 2000
        for k in 0 ..< count {
            let address = 0x10000 + UInt64(16 * k)
            t.labelSource(event: UInt64(10 + 2 * k), address: address, length: 4, eventOffset: 0, metadata: false)
            t.combine(into: rax, from: .memory(address, size: 4))
        }
        t.copy(to: .memory(0x90000, size: 8), from: rax)
        t.recordSink(event: 100_000, address: 0x90000, length: 8, eventOffset: 0)
        let flows = t.flows(of: t.log)
        XCTAssertLessThanOrEqual(flows.count, 2 * ByteTaintTracker.maxInputsPerSink)
        XCTAssertTrue(flows.contains { $0.throughInput != nil })
        XCTAssertTrue(flows.filter { $0.throughInput != nil }.allSatisfy(\.coarsened))
        for k in 0 ..< count {
            let event = UInt64(10 + 2 * k)
            XCTAssertTrue(flows.contains { $0.names(input: event) && $0.inputStart <= 0 && $0.inputEnd >= 4 }, "event \(event) kept")
        }
        // The summary counts the spans and reads back as written; older summaries (no
        // throughInput / throughEvent / spans) still decode.
        let path = TaintByteRange(event: 10, start: 0, end: 4, throughEvent: 4008)
        let summary = TaintSummary(traceRootChain: "x", pid: 1, tid: 1, startSequence: 1, executable: "/bin/tar",
                                   completed: true, flows: flows, pathSinks: [PathSink(event: 7, argument: 1, sources: [path])])
        XCTAssertEqual(summary.statistics.spans, flows.count(where: { $0.throughInput != nil }) + 1)
        let data = try JSONEncoder().encode(summary)
        XCTAssertEqual(try JSONDecoder().decode(TaintSummary.self, from: data), summary)
        let plain = TaintSummary(traceRootChain: "x", pid: 1, tid: 1, startSequence: 1, executable: "/bin/cat", completed: true,
                                 flows: [TaintFlow(output: 3, outputStart: 0, outputEnd: 1, input: 2, inputStart: 0, inputEnd: 1)])
        let json = String(decoding: try JSONEncoder().encode(plain), as: UTF8.self)
        XCTAssertFalse(json.contains("throughInput") || json.contains("spans"), "no new keys when nothing was spanned")
        XCTAssertNil(plain.statistics.spans)
    }
}
