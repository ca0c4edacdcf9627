import Syscalls
import XCTest

/// Guest memory for the effect rules: a dictionary of bytes.
struct FakeMemory: TaskMemoryReader {
    var bytes: [UInt64: UInt8] = [:]
    mutating func store(_ values: [UInt8], at address: UInt64) {
        for (i, b) in values.enumerated() { bytes[address + UInt64(i)] = b }
    }
    mutating func store64(_ value: UInt64, at address: UInt64) {
        store((0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }, at: address)
    }
    func readBytes(at address: UInt64, count: Int) -> [UInt8]? {
        var out: [UInt8] = []
        for i in 0..<count { guard let b = bytes[address + UInt64(i)] else { return nil }; out.append(b) }
        return out
    }
}

final class SyscallTableTests: XCTestCase {
    func testNumbersAndNamesAgreeWithTheKernelABI() {
        XCTAssertEqual(SyscallTable.name(0), "read")
        XCTAssertEqual(SyscallTable.name(59), "execve")
        XCTAssertEqual(SyscallTable.number(named: "openat"), 257)
        XCTAssertEqual(SyscallTable.number(named: "clone3"), 435)
        XCTAssertEqual(SyscallTable.spec(99_999).name, "syscall_99999")
        XCTAssertFalse(SyscallTable.spec(99_999).modeled)
    }

    func testPathAndDescriptorArgumentsAreDeclared() {
        XCTAssertEqual(SyscallTable.spec(SyscallTable.number(named: "renameat2")!).pathArguments, [1, 3])
        XCTAssertEqual(SyscallTable.spec(SyscallTable.Number.read).fdArguments, [0])
        XCTAssertEqual(SyscallTable.spec(SyscallTable.Number.openat).arguments.first, .dirfd)
    }

    func testReadWritesExactlyTheResultBytes() {
        let spec = SyscallTable.spec(SyscallTable.Number.read)
        let regions = spec.outputRegions(arguments: [3, 0x1000, 4096, 0, 0, 0], result: 17, entry: EntryState(), memory: FakeMemory())
        XCTAssertEqual(regions, [OutputRegion(address: 0x1000, length: 17)])
        XCTAssertTrue(spec.outputRegions(arguments: [3, 0x1000, 4096, 0, 0, 0], result: -11, entry: EntryState(), memory: FakeMemory()).isEmpty,
                      "a failed read writes nothing")
    }

    func testReadvDistributesTheResultOverTheIovecs() {
        var memory = FakeMemory()
        memory.store64(0x5000, at: 0x100); memory.store64(10, at: 0x108)
        memory.store64(0x6000, at: 0x110); memory.store64(100, at: 0x118)
        let spec = SyscallTable.spec(SyscallTable.number(named: "readv")!)
        let regions = spec.outputRegions(arguments: [3, 0x100, 2, 0, 0, 0], result: 25, entry: EntryState(), memory: memory)
        XCTAssertEqual(regions, [OutputRegion(address: 0x5000, length: 10), OutputRegion(address: 0x6000, length: 15)])
    }

    func testAcceptAddressIsClampedToTheBufferLengthGivenAtEntry() {
        var memory = FakeMemory()
        memory.store([8, 0, 0, 0], at: 0x200)   // socklen_t at entry: 8 bytes of room
        let spec = SyscallTable.spec(SyscallTable.number(named: "accept")!)
        let entry = spec.entryState(arguments: [3, 0x300, 0x200, 0, 0, 0], memory: memory)
        memory.store([16, 0, 0, 0], at: 0x200)  // the kernel reports the full 16-byte address
        let regions = spec.outputRegions(arguments: [3, 0x300, 0x200, 0, 0, 0], result: 4, entry: entry, memory: memory)
        XCTAssertEqual(regions, [OutputRegion(address: 0x300, length: 8), OutputRegion(address: 0x200, length: 4)])
    }

    func testIoctlSizesComeFromTheRequestEncoding() {
        XCTAssertEqual(ioctlWriteLength(request: 0x5401), 36)        // TCGETS
        XCTAssertEqual(ioctlWriteLength(request: 0x8008_5410), 8)    // _IOR(..., 8 bytes)
        XCTAssertEqual(ioctlWriteLength(request: 0x4008_5410), 0)    // _IOW: the kernel only reads
    }

    func testSelectWritesWholeFdSetWords() {
        let spec = SyscallTable.spec(SyscallTable.number(named: "select")!)
        let regions = spec.outputRegions(arguments: [65, 0x10, 0, 0, 0, 0], result: 1, entry: EntryState(), memory: FakeMemory())
        XCTAssertEqual(regions, [OutputRegion(address: 0x10, length: 16)])
    }

    func testHostileLengthsAreBounded() {
        let spec = SyscallTable.spec(SyscallTable.Number.read)
        let regions = spec.outputRegions(arguments: [3, 0x1000, UInt64.max, 0, 0, 0], result: Int64.max, entry: EntryState(), memory: FakeMemory())
        XCTAssertEqual(regions.first?.length, maximumCaptureLength)
    }

    func testCStringsStopAtNulAndAtUnreadableMemory() {
        var memory = FakeMemory()
        memory.store(Array("/etc/passwd".utf8) + [0], at: 0x7000)
        XCTAssertEqual(memory.readCString(at: 0x7000), "/etc/passwd")
        XCTAssertNil(memory.readCString(at: 0x9000))
    }
}
