// LabelTable: base allocation, interned union sets, the memoized union, coarsening, the
// address-only channel and resolution to event coordinates.
@testable import Taint
import Trace
import XCTest

final class LabelTableTests: XCTestCase {
    func testUnionIsIdempotentCommutativeAssociativeWithZeroAsIdentity() {
        let table = LabelTable()
        let a = table.allocateSource(event: 1, eventOffset: 0, length: 10, metadata: false)
        let b = table.allocateSource(event: 2, eventOffset: 0, length: 10, metadata: false)
        let x = a + 3, y = b + 7, z = a + 9
        XCTAssertEqual(table.union(x, 0), x)
        XCTAssertEqual(table.union(0, x), x)
        XCTAssertEqual(table.union(x, x), x)
        let xy = table.union(x, y)
        XCTAssertTrue(LabelTable.isUnion(xy))
        XCTAssertEqual(table.union(y, x), xy, "commutative")
        XCTAssertEqual(table.union(xy, xy), xy, "idempotent on sets")
        XCTAssertEqual(table.union(xy, x), xy, "absorbs a member")
        XCTAssertEqual(table.union(table.union(x, y), z), table.union(x, table.union(y, z)), "associative by interning")
    }

    func testMemoHitsAreCounted() {
        let table = LabelTable()
        let a = table.allocateSource(event: 1, eventOffset: 0, length: 100, metadata: false)
        let lookups = table.unionLookups, hits = table.unionHits
        let u = table.union(a, a + 50)
        XCTAssertEqual(table.unionLookups, lookups + 1)
        XCTAssertEqual(table.unionHits, hits, "first union is a miss")
        XCTAssertEqual(table.union(a + 50, a), u)
        XCTAssertEqual(table.unionLookups, lookups + 2)
        XCTAssertEqual(table.unionHits, hits + 1, "second is a cache hit")
        _ = table.union(a, 0)
        _ = table.union(a, a)
        XCTAssertEqual(table.unionLookups, lookups + 2, "trivial unions are not lookups")
    }

    func testMemoAnswersLargeUnionsAfterCacheEviction() {
        let table = LabelTable()
        let a = table.allocateSource(event: 1, eventOffset: 0, length: 10_000, metadata: false)
        var x: Label = 0, y: Label = 0
        for k in 0 ..< 10 {
            x = table.union(x, a + Label(4 * k))
            y = table.union(y, a + Label(4 * k + 2))
        }
        let xy = table.union(x, y)
        XCTAssertEqual(table.intervals(of: xy).count, 20)
        // Push the pair out of the direct-mapped cache.
        for k in 0 ..< 20_000 { _ = table.union(a + 1000 + Label(k), a + 5000) }
        let hits = table.unionHits
        XCTAssertEqual(table.union(y, x), xy)
        XCTAssertEqual(table.unionHits, hits + 1, "answered by the memo")
    }

    func testPairMemoGrowsAndClearsAtItsLimit() {
        let memo = PairMemo(limit: 100_000)
        for k in 1 ... 50_000 { memo.insert(UInt64(k) << 32 | UInt64(k &* 7), Label(k)) }
        XCTAssertEqual(memo.count, 50_000)
        XCTAssertGreaterThanOrEqual(memo.capacity, 100_000)
        XCTAssertEqual(memo.find(UInt64(1234) << 32 | UInt64(1234 * 7)), 1234)
        XCTAssertEqual(memo.find(UInt64(1234) << 32 | 1), 0)
        let small = PairMemo(limit: 16)
        for k in 1 ... 17 { small.insert(UInt64(k), Label(k)) }
        XCTAssertEqual(small.count, 1, "cleared when full, then the new entry kept")
        XCTAssertEqual(small.find(17), 17)
        XCTAssertEqual(small.find(3), 0)
    }

    func testInterningGivesEqualSetsOneLabel() {
        let table = LabelTable()
        let a = table.allocateSource(event: 1, eventOffset: 0, length: 16, metadata: false)
        let stepwise = table.union(table.union(a, a + 1), a + 2)
        XCTAssertEqual(stepwise, table.rangeLabel(first: a, count: 3))
        XCTAssertEqual(table.intervals(of: stepwise), [LabelInterval(lower: a, upper: a + 3)], "neighbours coalesce")
        var bytes: [Label] = [a + 2, 0, a, a + 1, a]
        let fromBytes = bytes.withUnsafeMutableBufferPointer { table.union(of: $0.baseAddress!, count: $0.count) }
        XCTAssertEqual(fromBytes, stepwise)
        let sets = table.setCount
        _ = table.union(a + 2, table.union(a, a + 1))
        XCTAssertEqual(table.setCount, sets, "no new set for known content")
        XCTAssertEqual(table.rangeLabel(first: a + 5, count: 1), a + 5, "a one-byte value set is the base label")
    }

    func testCoarseningKeepsEverySourceAndCounts() {
        let table = LabelTable(intervalBound: 4)
        let a = table.allocateSource(event: 1, eventOffset: 0, length: 100, metadata: false)
        var u: Label = 0
        for k in stride(from: 0, to: 100, by: 10) { u = table.union(u, a + Label(k)) }
        let intervals = table.intervals(of: u)
        XCTAssertLessThanOrEqual(intervals.count, 4)
        XCTAssertGreaterThan(table.coarsenedSets, 0)
        XCTAssertTrue(table.isCoarsened(u))
        for k in stride(from: 0, to: 100, by: 10) {
            XCTAssertTrue(intervals.contains { $0.lower <= a + Label(k) && a + Label(k) < $0.upper }, "byte \(k) kept")
        }
        XCTAssertEqual(table.sourceEvents(u), [1], "widened within the one event")

        // Many events, one byte each: no gap lies within one source, so the set may exceed
        // the bound up to the hard bound, and past it still names every event.
        let many = LabelTable(intervalBound: 4)
        var labels: [Label] = []
        for e in 0 ..< 40 {
            labels.append(many.allocateSource(event: UInt64(100 + e), eventOffset: 0, length: 2, metadata: false))
        }
        var v: Label = 0
        for l in labels { v = many.union(v, l) }
        XCTAssertLessThanOrEqual(many.intervals(of: v).count, 16)
        XCTAssertEqual(Set(many.sourceEvents(v)), Set((0 ..< 40).map { UInt64(100 + $0) }), "no source dropped")
    }

    func testSetsPastTheExactLimitWidenWithinTheSameEvents() {
        // Two sets exact (the universal set and one more), then granules of 64 labels.
        let table = LabelTable(exactSetLimit: 2, setsPerGranule: 1000)
        let a = table.allocateSource(event: 1, eventOffset: 0, length: 4000, metadata: false)
        let b = table.allocateSource(event: 2, eventOffset: 0, length: 10, metadata: false)
        let exact = table.union(a + 100, a + 102)
        XCTAssertEqual(table.intervals(of: exact), [LabelInterval(lower: a + 100, upper: a + 101),
                                                    LabelInterval(lower: a + 102, upper: a + 103)])
        XCTAssertFalse(table.isCoarsened(exact))
        XCTAssertEqual(table.granuleShift, 6, "widening starts at the limit")

        // Bytes 300 and 302 of event 1 and byte 3 of event 2: event 1's part widened to a
        // granule within its bytes; event 2 is a small input and keeps byte precision.
        let widened = table.union(table.union(a + 300, a + 302), b + 3)
        XCTAssertTrue(table.isCoarsened(widened))
        XCTAssertGreaterThan(table.coarsenedSets, 0)
        XCTAssertEqual(table.sourceEvents(widened), [1, 2])
        for iv in table.intervals(of: widened) {
            XCTAssertTrue((a ..< a + 4000).contains(iv.lower) || (b ..< b + 10).contains(iv.lower))
            XCTAssertTrue((a + 1 ... a + 4000).contains(iv.upper) || (b + 1 ... b + 10).contains(iv.upper))
        }
        let ranges = table.byteRanges(widened)
        XCTAssertTrue(ranges.contains { $0.event == 1 && $0.start <= 300 && $0.end >= 303 && $0.end - $0.start <= 64 },
                      "the true bytes inside one granule")
        XCTAssertEqual(ranges.filter { $0.event == 2 }.map { [$0.start, $0.end] }, [[3, 4]], "a small input stays exact")

        // An accumulator meeting byte after byte of one granule: one label, known after the
        // first byte (the granule pair is cached, the byte pairs would be new each time).
        let first = table.union(exact, a + 700)
        let hits = table.unionHits
        for k in Label(701) ..< 703 { XCTAssertEqual(table.union(exact, a + k), first) }
        XCTAssertGreaterThanOrEqual(table.unionHits - hits, 2)
        XCTAssertEqual(table.sourceEvents(first), [1])

        // The granule grows with the set count, never past the event's bytes.
        let growing = LabelTable(exactSetLimit: 2, setsPerGranule: 2)
        let c = growing.allocateSource(event: 3, eventOffset: 0, length: 4000, metadata: false)
        for k in 0 ..< 40 { _ = growing.union(c + Label(97 * k), c + Label(97 * k + 50)) }
        XCTAssertGreaterThan(growing.granuleShift, 6)
        let wide = growing.union(c + 7, c + 3900)
        XCTAssertTrue(growing.isCoarsened(wide))
        XCTAssertEqual(growing.sourceEvents(wide), [3])
        for iv in growing.intervals(of: wide) {
            XCTAssertTrue(c <= iv.lower && iv.upper <= c + 4000, "within the event's bytes")
        }
    }

    func testAddressOnlyChannelAndValueDominance() {
        let table = LabelTable()
        let a = table.allocateSource(event: 1, eventOffset: 0, length: 10, metadata: false)
        let ao = table.addressOnly(a)
        XCTAssertNotEqual(ao, a)
        XCTAssertTrue(table.hasValueFlow(a))
        XCTAssertFalse(table.hasValueFlow(ao))
        XCTAssertEqual(table.addressOnly(a), ao, "memoized")
        XCTAssertEqual(table.addressOnly(ao), ao)
        XCTAssertEqual(table.union(ao, a), a, "value dominates address-only for the same byte")

        let range = table.addressOnly(table.rangeLabel(first: a, count: 10))
        let mixed = table.union(range, a + 5)
        XCTAssertTrue(table.hasValueFlow(mixed))
        XCTAssertEqual(table.intervals(of: mixed), [
            LabelInterval(lower: a, upper: a + 5, addressOnly: true),
            LabelInterval(lower: a + 5, upper: a + 6, addressOnly: false),
            LabelInterval(lower: a + 6, upper: a + 10, addressOnly: true),
        ])
        XCTAssertFalse(table.hasValueFlow(table.addressOnly(mixed)))
        XCTAssertEqual(table.addressOnly(mixed), range)
    }

    func testResolutionSplitsAtEventBoundaries() {
        let table = LabelTable()
        let a = table.allocateSource(event: 7, eventOffset: 100, length: 10, metadata: false)
        let b = table.allocateSource(event: 9, eventOffset: 0, length: 5, metadata: true)
        XCTAssertEqual(b, a + 10, "consecutive allocations are consecutive labels")
        let u = table.rangeLabel(first: a + 8, count: 4)
        let resolved = table.resolve(u)
        XCTAssertEqual(resolved.count, 2)
        XCTAssertEqual(resolved[0].range, TaintByteRange(event: 7, start: 108, end: 110))
        XCTAssertFalse(resolved[0].metadata)
        XCTAssertEqual(resolved[1].range, TaintByteRange(event: 9, start: 0, end: 2))
        XCTAssertTrue(resolved[1].metadata)
        XCTAssertEqual(table.sourceEvents(u), [7, 9])
        XCTAssertEqual(table.resolve(a + 3).map(\.range), [TaintByteRange(event: 7, start: 103, end: 104)])
        XCTAssertEqual(table.event(ofBase: b + 4), 9)
        XCTAssertTrue(table.resolve(0).isEmpty)

        // One event labelled in pieces (iovecs) resolves as one range.
        let c = table.allocateSource(event: 11, eventOffset: 0, length: 4, metadata: false)
        _ = table.allocateSource(event: 11, eventOffset: 4, length: 4, metadata: false)
        XCTAssertEqual(table.byteRanges(table.rangeLabel(first: c, count: 8)), [TaintByteRange(event: 11, start: 0, end: 8)])
    }

    func testExhaustedBaseSpaceDegradesToCoarsePerEventLabels() {
        let table = LabelTable(baseCapacity: 16)
        let a = table.allocateSource(event: 1, eventOffset: 0, length: 10, metadata: false)
        XCTAssertTrue(table.isBase(a))
        let c = table.allocateSource(event: 5, eventOffset: 0, length: 10, metadata: false)
        XCTAssertTrue(table.isCoarse(c))
        XCTAssertEqual(table.allocateSource(event: 5, eventOffset: 10, length: 10, metadata: false), c, "reused per event")
        XCTAssertTrue(table.isBase(table.allocateSource(event: 6, eventOffset: 0, length: 2, metadata: false)), "what still fits is exact")
        let d = table.allocateSource(event: 6, eventOffset: 3, length: 10, metadata: false)
        XCTAssertTrue(table.isCoarse(d))
        XCTAssertNotEqual(d, c)
        XCTAssertEqual(table.degradedAllocations, 3)
        XCTAssertEqual(table.resolve(c).map(\.range), [TaintByteRange(event: 5, start: 0, end: 20)], "hull of the event's ranges")
        XCTAssertTrue(table.isCoarsened(c))
        let u = table.union(a, c)
        XCTAssertTrue(table.isCoarsened(u))
        XCTAssertEqual(table.sourceEvents(table.union(u, d)), [1, 5, 6])
    }
}
