// ShadowMemory: lazy pages, the shared zero page and its TLB, ranges across pages, fork copies.
@testable import Taint
import X86
import XCTest

final class ShadowMemoryTests: XCTestCase {
    func testPagesAreAllocatedOnlyByNonZeroWrites() {
        let shadow = ShadowMemory()
        XCTAssertEqual(shadow.label(at: 0x7FFF_0000_1234), 0)
        shadow.setLabel(0, at: 0x1000)
        shadow.set(0, address: 0x5000, length: 100_000)
        XCTAssertEqual(shadow.pageCount, 0, "writing 0 allocates nothing")
        shadow.setLabel(42, at: 0x1234)
        XCTAssertEqual(shadow.pageCount, 1)
        XCTAssertEqual(shadow.label(at: 0x1234), 42)
        XCTAssertEqual(shadow.label(at: 0x1235), 0)
        shadow.clear(address: 0x1000, length: 0x1000)
        XCTAssertEqual(shadow.pageCount, 0, "a wholly cleared page is freed")
        XCTAssertEqual(shadow.label(at: 0x1234), 0, "the TLB forgets the freed page")
        XCTAssertEqual(shadow.peakPageCount, 1)
    }

    func testRangesCrossPages() {
        let shadow = ShadowMemory()
        shadow.setSequential(first: 100, address: 0x1FFE, length: 4)
        XCTAssertEqual((0 ..< 4).map { shadow.label(at: 0x1FFE + UInt64($0)) }, [100, 101, 102, 103])
        XCTAssertEqual(shadow.pageCount, 2)
        shadow.set(7, address: 0x2FFF, length: 2)
        XCTAssertEqual(shadow.label(at: 0x2FFF), 7)
        XCTAssertEqual(shadow.label(at: 0x3000), 7)
        shadow.clear(address: 0x1FFF, length: 2)
        XCTAssertEqual(shadow.label(at: 0x1FFE), 100)
        XCTAssertEqual(shadow.label(at: 0x1FFF), 0)
        XCTAssertEqual(shadow.label(at: 0x2000), 0)
        XCTAssertEqual(shadow.label(at: 0x2001), 103)
        XCTAssertFalse(shadow.isClear(address: 0x1000, length: 0x3000))
        XCTAssertTrue(shadow.isClear(address: 0x1FFF, length: 2))
    }

    func testCopyOverlappingAndForkIndependence() {
        let shadow = ShadowMemory()
        shadow.setSequential(first: 1, address: 0x1000, length: 8)
        shadow.copy(from: 0x1000, to: 0x1004, length: 8)
        XCTAssertEqual((0 ..< 12).map { shadow.label(at: 0x1000 + UInt64($0)) }, [1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8])
        shadow.copy(from: 0x1000, to: 0x7FF8, length: 12)
        XCTAssertEqual(shadow.label(at: 0x8003), 8)

        let child = shadow.copy()
        child.setLabel(99, at: 0x1000)
        child.clear(address: 0x7000, length: 0x2000)
        XCTAssertEqual(shadow.label(at: 0x1000), 1, "parent unchanged by the child")
        XCTAssertEqual(shadow.label(at: 0x8003), 8)
        XCTAssertEqual(child.label(at: 0x1000), 99)
        XCTAssertEqual(child.label(at: 0x1001), 2)
        XCTAssertEqual(child.label(at: 0x8003), 0)
    }

    func testHugeClearIteratesAllocatedPagesOnly() {
        let shadow = ShadowMemory()
        shadow.setLabel(5, at: 0x7F00_0000_0010)
        shadow.clear(address: 0, length: 1 << 47)
        XCTAssertEqual(shadow.pageCount, 0)
    }
}
