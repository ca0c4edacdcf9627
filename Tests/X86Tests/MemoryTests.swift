// GuestMemory: mapping, permissions, faults, page-crossing accesses, privileged access.
import X86
import XCTest

final class MemoryTests: XCTestCase {
    func testMapReadWriteAndPermissions() throws {
        let m = GuestMemory()
        try m.map(address: 0x1000, length: 0x2000, prot: [.read, .write])
        XCTAssertEqual(m.mappedPageCount, 2)
        XCTAssertTrue(m.store(0x1008, size: 8, 0x1122_3344_5566_7788))
        XCTAssertEqual(m.load(0x1008, size: 8), 0x1122_3344_5566_7788)
        XCTAssertEqual(m.load(0x100C, size: 2), 0x3344)
        XCTAssertNil(m.load(0x3000, size: 1), "unmapped")
        XCTAssertEqual(m.lastFault, MemoryFault(address: 0x3000, access: .read, protectionViolation: false))
        try m.protect(address: 0x1000, length: 0x1000, prot: [.read])
        XCTAssertFalse(m.store(0x1000, size: 4, 1))
        XCTAssertEqual(m.lastFault, MemoryFault(address: 0x1000, access: .write, protectionViolation: true))
        XCTAssertEqual(m.load(0x100C, size: 2), 0x3344, "still readable")
        try m.protect(address: 0x1000, length: 0x1000, prot: [])
        XCTAssertNil(m.load(0x1000, size: 1))
        // Privileged access ignores permissions.
        try m.writeBytes([1, 2, 3], at: 0x1000)
        XCTAssertEqual(try m.readBytes(at: 0x1000, count: 3), [1, 2, 3])
        try m.unmap(address: 0x1000, length: 0x1000)
        XCTAssertThrowsError(try m.readBytes(at: 0x1000, count: 1))
        XCTAssertThrowsError(try m.map(address: 0x1001, length: 1, prot: .all))
    }

    /// Write watching (shared-memory groups copy only pages that changed): a store into a
    /// watched page is noted even after the page was in the write TLB, a page only read
    /// is not, `writeBytes` counts, and taking the pages forgets them.
    func testWatchedPagesReportTheirFirstWrite() throws {
        let m = GuestMemory()
        try m.map(address: 0x1000, length: 0x3000, prot: [.read, .write])
        XCTAssertTrue(m.store(0x1000, size: 8, 1), "fills the write TLB before the watch")
        m.watchWrites(address: 0x1000, length: 0x3000)
        XCTAssertFalse(m.mayHaveBeenWritten(pageNumber: 1))
        XCTAssertTrue(m.store(0x1008, size: 8, 2))
        XCTAssertTrue(m.store(0x1010, size: 8, 3), "a second store takes the fast path again")
        XCTAssertEqual(m.load(0x2000, size: 8), 0, "a load is no write")
        try m.writeBytes([1, 2, 3], at: 0x3000)
        XCTAssertEqual(m.takeWrittenPages(address: 0x1000, length: 0x3000), [1, 3])
        XCTAssertEqual(m.takeWrittenPages(address: 0x1000, length: 0x3000), [], "taken pages are forgotten")
        XCTAssertTrue(m.mayHaveBeenWritten(pageNumber: 1), "no longer watched")
        XCTAssertFalse(m.mayHaveBeenWritten(pageNumber: 2), "still watched, never written")
        XCTAssertEqual(m.load(0x1010, size: 8), 3)
    }

    func testAccessesCrossingPagesWorkAndFaultAtomically() throws {
        let m = GuestMemory()
        try m.map(address: 0x10000, length: 0x2000, prot: [.read, .write])
        XCTAssertTrue(m.store(0x10FFD, size: 8, 0xA1A2_A3A4_A5A6_A7A8))
        XCTAssertEqual(m.load(0x10FFD, size: 8), 0xA1A2_A3A4_A5A6_A7A8)
        XCTAssertEqual(try m.readBytes(at: 0x10FFD, count: 8), [0xA8, 0xA7, 0xA6, 0xA5, 0xA4, 0xA3, 0xA2, 0xA1])
        // The second page read-only: a crossing store faults at the first bad byte and
        // writes nothing.
        try m.protect(address: 0x11000, length: 0x1000, prot: [.read])
        XCTAssertFalse(m.store(0x10FFE, size: 4, 0))
        XCTAssertEqual(m.lastFault.address, 0x11000)
        XCTAssertEqual(m.load(0x10FFD, size: 8), 0xA1A2_A3A4_A5A6_A7A8)
    }

    func testRemapZeroesAndTLBSeesProtectionChanges() throws {
        let m = GuestMemory()
        try m.map(address: 0x5000, length: 0x1000, prot: [.read, .write])
        XCTAssertTrue(m.store(0x5000, size: 8, 42))
        XCTAssertEqual(m.load(0x5000, size: 8), 42)  // TLB filled
        try m.map(address: 0x5000, length: 0x1000, prot: [.read])
        XCTAssertEqual(m.load(0x5000, size: 8), 0, "MAP_FIXED replaces with zero pages")
        XCTAssertFalse(m.store(0x5000, size: 8, 1), "write TLB entry was flushed")
    }
}
