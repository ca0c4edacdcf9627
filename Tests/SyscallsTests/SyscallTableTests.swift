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

    /// Every number of the pinned kernel table (syscall_64.tbl, Linux 6.18) has a
    /// declaration, and every declaration names a syscall of that table.
    func testEveryNumberOfThePinnedKernelTableIsDeclared() {
        let numbers = SyscallTable.kernelNumbers
        XCTAssertGreaterThanOrEqual(numbers.last ?? 0, 469, "the pinned table covers Linux 6.18 (file_setattr is 469)")
        let undeclared = numbers.filter { !SyscallTable.spec($0).modeled }.map { "\($0) \(SyscallTable.name($0))" }
        XCTAssertEqual(undeclared, [], "numbers of syscall_64.tbl without a declaration in SyscallTable.swift")
        XCTAssertEqual(SyscallTable.declarationsWithoutKernelNumber, [], "declarations naming no syscall of syscall_64.tbl")
        XCTAssertEqual(SyscallTable.number(named: "uprobe"), 336)
        XCTAssertEqual(SyscallTable.number(named: "file_setattr"), 469)
    }

    /// Numbers the kernel table does not assign (the 337-423 hole, beyond its end) are
    /// refused; so are calls whose kernel writes arrive after the call returns.
    func testUnknownNumbersAndLateWritersAreRefused() {
        let args: [UInt64] = [0, 0, 0, 0, 0, 0]
        XCTAssertNotNil(SyscallTable.spec(400).refusalReason(arguments: args))
        XCTAssertNotNil(SyscallTable.spec(470).refusalReason(arguments: args))
        for name in ["io_setup", "io_submit", "io_getevents", "perf_event_open", "rseq", "io_uring_setup", "userfaultfd"] {
            XCTAssertNotNil(SyscallTable.spec(SyscallTable.number(named: name)!).refusalReason(arguments: args), name)
        }
        for name in ["read", "fchmodat2", "getxattrat", "msgsnd", "mq_timedreceive", "vmsplice", "timer_create", "mseal"] {
            XCTAssertNil(SyscallTable.spec(SyscallTable.number(named: name)!).refusalReason(arguments: args), name)
        }
    }

    /// ioctl requests: `_IOC`-encoded ones run (their size is decoded), known legacy terminal
    /// requests run, an unknown unencoded request is refused.
    func testLegacyIoctlsAreRefusedUnlessKnown() {
        let ioctl = SyscallTable.spec(SyscallTable.Number.ioctl)
        XCTAssertNil(ioctl.refusalReason(arguments: [1, 0x5401, 0x1000, 0, 0, 0]))      // TCGETS
        XCTAssertNil(ioctl.refusalReason(arguments: [1, 0x8008_5410, 0x1000, 0, 0, 0])) // _IOR
        XCTAssertNil(ioctl.refusalReason(arguments: [1, 0x4004_9409, 3, 0, 0, 0]))      // FICLONE (_IOW)
        XCTAssertNotNil(ioctl.refusalReason(arguments: [1, 0x4B33, 0x1000, 0, 0, 0]))   // KDGKBTYPE: legacy, unknown
        XCTAssertEqual(ioctlWriteLength(request: 0xC010_6601), 16)                      // _IOWR writes back
    }

    /// The syscalls above 450 carry their path, descriptor and flag roles.
    func testSyscallsAbove450AreModeled() {
        func spec(_ name: String) -> SyscallSpec { SyscallTable.spec(SyscallTable.number(named: name)!) }
        XCTAssertEqual(spec("fchmodat2").pathArguments, [1])
        XCTAssertFalse(spec("fchmodat2").followsFinalLink(arguments: [0, 0, 0o644, 0x100, 0, 0]))
        XCTAssertEqual(spec("getxattrat").flow, .contentSource)
        XCTAssertEqual(spec("setxattrat").flow, .contentSink)
        XCTAssertEqual(spec("getxattrat").graph, .xattrGet)
        XCTAssertEqual(spec("setxattr").graph, .xattrSet)
        XCTAssertEqual(spec("msgrcv").graph, .messageReceive)
        XCTAssertEqual(spec("mq_timedsend").graph, .messageSend)
        XCTAssertEqual(spec("vmsplice").flow, .contentSink)
        XCTAssertEqual(spec("open_tree_attr").result, .descriptor)
        XCTAssertEqual(spec("listmount").writes, [.buffer(pointer: 1, size: .resultTimes(8))])
        // getxattrat writes `result` bytes to the value buffer its struct xattr_args names.
        var memory = FakeMemory()
        memory.store64(0x9000, at: 0x800); memory.store64(64, at: 0x808)
        let regions = spec("getxattrat").outputRegions(arguments: [0xffff_ff9c, 0x100, 0, 0x200, 0x800, 16], result: 6,
                                                       entry: EntryState(), memory: memory)
        XCTAssertEqual(regions, [OutputRegion(address: 0x9000, length: 6)])
    }

    /// msgrcv writes the `long mtype` and the received text; msgctl(IPC_STAT | IPC_64) the
    /// queue's msqid64_ds.
    func testSysVMessageEffects() {
        func spec(_ name: String) -> SyscallSpec { SyscallTable.spec(SyscallTable.number(named: name)!) }
        XCTAssertEqual(spec("msgrcv").outputRegions(arguments: [3, 0x1000, 100, 0, 0, 0], result: 5, entry: EntryState(),
                                                    memory: FakeMemory()), [OutputRegion(address: 0x1000, length: 13)])
        XCTAssertEqual(spec("msgctl").outputRegions(arguments: [3, 0x102, 0x2000, 0, 0, 0], result: 0, entry: EntryState(),
                                                    memory: FakeMemory()), [OutputRegion(address: 0x2000, length: 120)])
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
