// Guest memory: a sparse, paged 64-bit address space with per-page permissions and a
// software TLB, so that the interpreter's hot path is one compare and one pointer add.

/// Page protection bits, as in mmap(2)'s PROT_* values.
public struct MemoryProtection: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let read = MemoryProtection(rawValue: 1)
    public static let write = MemoryProtection(rawValue: 2)
    public static let execute = MemoryProtection(rawValue: 4)
    public static let none: MemoryProtection = []
    public static let all: MemoryProtection = [.read, .write, .execute]
}

/// How the guest touched memory when it faulted.
public enum MemoryAccessKind: UInt8, Sendable {
    case read, write, execute
}

/// A guest access that the page permissions refuse (or that hits an unmapped page).
public struct MemoryFault: Error, Equatable, Sendable {
    public var address: UInt64
    public var access: MemoryAccessKind
    /// True when the page is mapped but its protection refuses the access (SEGV_ACCERR);
    /// false for an unmapped address (SEGV_MAPERR).
    public var protectionViolation: Bool

    public init(address: UInt64, access: MemoryAccessKind, protectionViolation: Bool) {
        self.address = address
        self.access = access
        self.protectionViolation = protectionViolation
    }
}

/// Errors of the privileged (loader / replayer) interface.
public enum GuestMemoryError: Error, Equatable, Sendable {
    case misalignedAddress(UInt64)
    case invalidLength(UInt64)
    case unmapped(address: UInt64)
    case addressOverflow(address: UInt64, length: UInt64)
}

/// One direct-mapped software TLB entry: a guest page number and the distance from the
/// guest address to the host address of that page.
@usableFromInline
struct TLBEntry {
    @usableFromInline var pageNumber: UInt64
    @usableFromInline var hostDelta: UInt

    @inlinable init(pageNumber: UInt64, hostDelta: UInt) {
        self.pageNumber = pageNumber
        self.hostDelta = hostDelta
    }

    @usableFromInline static let empty = TLBEntry(pageNumber: .max, hostDelta: 0)
}

/// The guest's address space.
///
/// Invariants that make the unsafe hot path sound:
/// - every mapped page owns one `pageSize`-byte host allocation, freed only by `unmap` or
///   `deinit`; a TLB entry always names a page that is mapped at that moment, because every
///   operation that frees or re-protects a page flushes the TLBs first;
/// - the read TLB holds only readable pages, the write TLB only writable pages that hold
///   no decoded code, so a store to code always takes the slow path, which reports the
///   page to the block cache (`takeInvalidatedCodePages`);
/// - a fast-path access never crosses a page: the range check `offset + size <= pageSize`
///   is part of the hit test, and crossing accesses go byte by byte through the slow path.
public final class GuestMemory {
    public static let pageShift: UInt64 = 12
    public static let pageSize: UInt64 = 1 << pageShift
    static let pageMask: UInt64 = pageSize - 1
    static let tlbSize = 256

    struct Page {
        var host: UnsafeMutableRawPointer
        var protection: MemoryProtection
        /// The block cache decoded instructions from this page.
        var holdsCode: Bool
        /// Its next write is to be noted in `writtenPages` (`watchWrites`); kept out of the
        /// write TLB until then.
        var watched = false
    }

    private var pages: [UInt64: Page] = [:]
    @usableFromInline let readTLB: UnsafeMutablePointer<TLBEntry>
    @usableFromInline let writeTLB: UnsafeMutablePointer<TLBEntry>

    /// Pages that held decoded code and were written, unmapped or re-protected since the
    /// block cache last asked. Slow path only.
    private var invalidatedCodePages: [UInt64] = []
    /// Watched pages written since `watchWrites` armed them. Slow path only.
    private var writtenPages: Set<UInt64> = []
    /// Cheap flag the interpreter polls at block boundaries. Kept in a pointer so the
    /// poll is a plain load (no exclusivity check on a class property).
    @usableFromInline let codeInvalidationPending: UnsafeMutablePointer<Bool>
    /// The interpreter's bound on the instruction index within the block it runs. A store
    /// into decoded code sets it to 0, so the block ends after the storing instruction and
    /// the store takes effect at the next one; the loop compares against it in place of a
    /// register bound, which costs no extra instruction per guest instruction.
    @usableFromInline let blockLimit: UnsafeMutablePointer<Int>

    /// The most recent guest fault, filled by the slow path when an access fails.
    public internal(set) var lastFault = MemoryFault(address: 0, access: .read, protectionViolation: false)

    public init() {
        readTLB = .allocate(capacity: Self.tlbSize)
        readTLB.initialize(repeating: .empty, count: Self.tlbSize)
        writeTLB = .allocate(capacity: Self.tlbSize)
        writeTLB.initialize(repeating: .empty, count: Self.tlbSize)
        codeInvalidationPending = .allocate(capacity: 1)
        codeInvalidationPending.initialize(to: false)
        blockLimit = .allocate(capacity: 1)
        blockLimit.initialize(to: 0)
    }

    deinit {
        for page in pages.values { page.host.deallocate() }
        readTLB.deallocate()
        writeTLB.deallocate()
        codeInvalidationPending.deallocate()
        blockLimit.deallocate()
    }

    // MARK: Mapping

    private static func pageRange(address: UInt64, length: UInt64) throws -> Range<UInt64> {
        guard address & pageMask == 0 else { throw GuestMemoryError.misalignedAddress(address) }
        guard length > 0 else { throw GuestMemoryError.invalidLength(length) }
        let (end, overflow) = address.addingReportingOverflow(length)
        guard !overflow else { throw GuestMemoryError.addressOverflow(address: address, length: length) }
        let lastPage = (end &- 1) >> pageShift
        return (address >> pageShift)..<(lastPage + 1)
    }

    /// Maps zero-filled pages, like mmap(MAP_FIXED|MAP_ANONYMOUS): pages already mapped in
    /// the range are replaced by fresh zero pages. `length` is rounded up to whole pages.
    public func map(address: UInt64, length: UInt64, prot: MemoryProtection) throws {
        let range = try Self.pageRange(address: address, length: length)
        flushTLB()
        for pageNumber in range {
            if let old = pages[pageNumber] {
                if old.holdsCode { noteCodeInvalidated(pageNumber) }
                if old.watched { writtenPages.insert(pageNumber) }
                old.host.initializeMemory(as: UInt8.self, repeating: 0, count: Int(Self.pageSize))
                pages[pageNumber] = Page(host: old.host, protection: prot, holdsCode: false)
            } else {
                let host = UnsafeMutableRawPointer.allocate(byteCount: Int(Self.pageSize), alignment: 4096)
                host.initializeMemory(as: UInt8.self, repeating: 0, count: Int(Self.pageSize))
                pages[pageNumber] = Page(host: host, protection: prot, holdsCode: false)
            }
        }
    }

    /// Unmaps the pages in the range; pages not mapped are ignored, as munmap(2) does.
    public func unmap(address: UInt64, length: UInt64) throws {
        let range = try Self.pageRange(address: address, length: length)
        flushTLB()
        for pageNumber in range {
            guard let page = pages.removeValue(forKey: pageNumber) else { continue }
            if page.holdsCode { noteCodeInvalidated(pageNumber) }
            page.host.deallocate()
        }
    }

    /// Changes the protection of mapped pages, like mprotect(2). Throws if any page in the
    /// range is unmapped (mprotect fails with ENOMEM then), leaving earlier pages changed.
    public func protect(address: UInt64, length: UInt64, prot: MemoryProtection) throws {
        let range = try Self.pageRange(address: address, length: length)
        flushTLB()
        for pageNumber in range {
            guard var page = pages[pageNumber] else {
                throw GuestMemoryError.unmapped(address: pageNumber << Self.pageShift)
            }
            if page.holdsCode && !prot.contains(.execute) {
                noteCodeInvalidated(pageNumber)
                page.holdsCode = false
            }
            page.protection = prot
            pages[pageNumber] = page
        }
    }

    /// The protection of the page holding `address`, or nil if it is unmapped.
    public func protection(at address: UInt64) -> MemoryProtection? {
        pages[address >> Self.pageShift]?.protection
    }

    public func isMapped(_ address: UInt64) -> Bool { pages[address >> Self.pageShift] != nil }

    /// Number of mapped pages (for diagnostics and tests).
    public var mappedPageCount: Int { pages.count }

    public func flushTLB() {
        readTLB.update(repeating: .empty, count: Self.tlbSize)
        writeTLB.update(repeating: .empty, count: Self.tlbSize)
    }

    // MARK: Privileged access (loader, syscall results): ignores permissions.

    /// Writes bytes regardless of page permissions. Throws if any byte is unmapped; bytes
    /// before the first unmapped page are written.
    public func writeBytes<Bytes: Collection>(_ bytes: Bytes, at address: UInt64) throws where Bytes.Element == UInt8 {
        if let done = try bytes.withContiguousStorageIfAvailable({ buffer -> Bool in
            try writeBytes(from: UnsafeRawBufferPointer(buffer), at: address)
            return true
        }), done { return }
        var a = address
        for b in bytes {
            guard let page = pages[a >> Self.pageShift] else { throw GuestMemoryError.unmapped(address: a) }
            noteWrite(a >> Self.pageShift, page)
            if page.holdsCode { invalidateCodePage(a >> Self.pageShift) }
            page.host.storeBytes(of: b, toByteOffset: Int(a & Self.pageMask), as: UInt8.self)
            a &+= 1
        }
    }

    /// Copies `count` bytes from a host buffer, page by page (faster than `writeBytes` for
    /// large blobs such as file mappings).
    public func writeBytes(from source: UnsafeRawBufferPointer, at address: UInt64) throws {
        var done = 0
        while done < source.count {
            let a = address &+ UInt64(done)
            let pageNumber = a >> Self.pageShift
            guard let page = pages[pageNumber] else { throw GuestMemoryError.unmapped(address: a) }
            noteWrite(pageNumber, page)
            if page.holdsCode { invalidateCodePage(pageNumber) }
            let offset = Int(a & Self.pageMask)
            let chunk = min(Int(Self.pageSize) - offset, source.count - done)
            (page.host + offset).copyMemory(from: source.baseAddress! + done, byteCount: chunk)
            done += chunk
        }
    }

    /// Reads bytes regardless of page permissions.
    public func readBytes(at address: UInt64, count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try readBytes(into: $0, at: address) }
        return out
    }

    /// Copies guest bytes into a host buffer, page by page, regardless of permissions.
    public func readBytes(into destination: UnsafeMutableRawBufferPointer, at address: UInt64) throws {
        var done = 0
        while done < destination.count {
            let a = address &+ UInt64(done)
            guard let page = pages[a >> Self.pageShift] else { throw GuestMemoryError.unmapped(address: a) }
            let offset = Int(a & Self.pageMask)
            let chunk = min(Int(Self.pageSize) - offset, destination.count - done)
            (destination.baseAddress! + done).copyMemory(from: page.host + offset, byteCount: chunk)
            done += chunk
        }
    }

    // MARK: Code tracking (block cache)

    /// Reads one byte for the decoder; requires execute permission.
    func fetchByte(_ address: UInt64) -> UInt8? {
        guard let page = pages[address >> Self.pageShift], page.protection.contains(.execute) else { return nil }
        return page.host.load(fromByteOffset: Int(address & Self.pageMask), as: UInt8.self)
    }

    /// Records that decoded instructions now come from this page, so stores to it must
    /// take the slow path.
    func markHoldsCode(pageNumber: UInt64) {
        guard var page = pages[pageNumber], !page.holdsCode else { return }
        page.holdsCode = true
        pages[pageNumber] = page
        let slot = writeTLB + Int(pageNumber & UInt64(Self.tlbSize - 1))
        if slot.pointee.pageNumber == pageNumber { slot.pointee = .empty }
    }

    // MARK: Write watching

    /// Watches the pages of `[address, +length)` for their next write (an instruction's
    /// store, `writeBytes`, a re-map): `takeWrittenPages` then names them. A watched page
    /// stays out of the write TLB until written, so the first store takes the slow path
    /// once and later ones are as fast as before. Unmapped pages are ignored. Cost: one
    /// dictionary update per page.
    public func watchWrites(address: UInt64, length: UInt64) {
        guard length > 0 else { return }
        let first = address >> Self.pageShift, last = (address &+ length &- 1) >> Self.pageShift
        for pageNumber in first...last {
            guard var page = pages[pageNumber] else { continue }
            writtenPages.remove(pageNumber)
            guard !page.watched else { continue }
            page.watched = true
            pages[pageNumber] = page
            let slot = writeTLB + Int(pageNumber & UInt64(Self.tlbSize - 1))
            if slot.pointee.pageNumber == pageNumber { slot.pointee = .empty }
        }
    }

    /// The page numbers in `[address, +length)` written since `watchWrites` armed them;
    /// they are forgotten (and stay unwatched until armed again).
    public func takeWrittenPages(address: UInt64, length: UInt64) -> [UInt64] {
        guard length > 0, !writtenPages.isEmpty else { return [] }
        let first = address >> Self.pageShift, last = (address &+ length &- 1) >> Self.pageShift
        var taken: [UInt64] = []
        for pageNumber in writtenPages where pageNumber >= first && pageNumber <= last { taken.append(pageNumber) }
        for pageNumber in taken { writtenPages.remove(pageNumber) }
        return taken.sorted()
    }

    /// Whether page `pageNumber` is watched or was written since it was: a page never
    /// armed reads as written (its content is unknown to the watcher).
    public func mayHaveBeenWritten(pageNumber: UInt64) -> Bool {
        guard let page = pages[pageNumber] else { return true }
        return !page.watched || writtenPages.contains(pageNumber)
    }

    /// A write into a watched page: note it and stop watching.
    @inline(__always)
    private func noteWrite(_ pageNumber: UInt64, _ page: Page) {
        guard page.watched else { return }
        var written = page
        written.watched = false
        pages[pageNumber] = written
        writtenPages.insert(pageNumber)
    }

    private func noteCodeInvalidated(_ pageNumber: UInt64) {
        invalidatedCodePages.append(pageNumber)
        codeInvalidationPending.pointee = true
        blockLimit.pointee = 0
    }

    private func invalidateCodePage(_ pageNumber: UInt64) {
        guard var page = pages[pageNumber] else { return }
        page.holdsCode = false
        pages[pageNumber] = page
        noteCodeInvalidated(pageNumber)
    }

    /// Returns and clears the list of code pages invalidated since the last call.
    func takeInvalidatedCodePages() -> [UInt64] {
        let list = invalidatedCodePages
        invalidatedCodePages.removeAll(keepingCapacity: true)
        codeInvalidationPending.pointee = false
        return list
    }

    // MARK: Guest access (permission-checked)

    /// Fast-path host address for a read of `size` bytes, or nil on TLB miss / page cross.
    @inline(__always)
    func readHost(_ address: UInt64, _ size: UInt64) -> UnsafeMutableRawPointer? {
        let pageNumber = address >> Self.pageShift
        let entry = readTLB[Int(truncatingIfNeeded: pageNumber) & (Self.tlbSize - 1)]
        if entry.pageNumber == pageNumber && (address & Self.pageMask) &+ size <= Self.pageSize {
            return UnsafeMutableRawPointer(bitPattern: UInt(truncatingIfNeeded: address) &+ entry.hostDelta)
        }
        return readHostSlow(address, size)
    }

    @inline(__always)
    func writeHost(_ address: UInt64, _ size: UInt64) -> UnsafeMutableRawPointer? {
        let pageNumber = address >> Self.pageShift
        let entry = writeTLB[Int(truncatingIfNeeded: pageNumber) & (Self.tlbSize - 1)]
        if entry.pageNumber == pageNumber && (address & Self.pageMask) &+ size <= Self.pageSize {
            return UnsafeMutableRawPointer(bitPattern: UInt(truncatingIfNeeded: address) &+ entry.hostDelta)
        }
        return writeHostSlow(address, size)
    }

    /// TLB miss: fill the entry if the page allows the access and the access stays inside
    /// the page. Returns nil for a page-crossing access (caller goes byte by byte) and
    /// for a fault (caller checks `lastFault` via the byte path).
    @inline(never)
    func readHostSlow(_ address: UInt64, _ size: UInt64) -> UnsafeMutableRawPointer? {
        let pageNumber = address >> Self.pageShift
        guard let page = pages[pageNumber], page.protection.contains(.read) else { return nil }
        let delta = UInt(bitPattern: page.host) &- UInt(truncatingIfNeeded: pageNumber << Self.pageShift)
        readTLB[Int(truncatingIfNeeded: pageNumber) & (Self.tlbSize - 1)] = TLBEntry(pageNumber: pageNumber, hostDelta: delta)
        guard (address & Self.pageMask) + size <= Self.pageSize else { return nil }
        return page.host + Int(address & Self.pageMask)
    }

    @inline(never)
    func writeHostSlow(_ address: UInt64, _ size: UInt64) -> UnsafeMutableRawPointer? {
        let pageNumber = address >> Self.pageShift
        guard let page = pages[pageNumber], page.protection.contains(.write) else { return nil }
        noteWrite(pageNumber, page)
        if page.holdsCode {
            // A store into decoded code: drop the blocks, then let the store proceed.
            invalidateCodePage(pageNumber)
        }
        let delta = UInt(bitPattern: page.host) &- UInt(truncatingIfNeeded: pageNumber << Self.pageShift)
        writeTLB[Int(truncatingIfNeeded: pageNumber) & (Self.tlbSize - 1)] = TLBEntry(pageNumber: pageNumber, hostDelta: delta)
        guard (address & Self.pageMask) + size <= Self.pageSize else { return nil }
        return page.host + Int(address & Self.pageMask)
    }

    /// Byte-wise checked access for page-crossing or faulting accesses.
    @inline(never)
    func loadSlow(_ address: UInt64, _ size: UInt64) -> UInt64? {
        // Check every page first so a fault leaves nothing half-done.
        var value: UInt64 = 0
        for i in 0..<size {
            let a = address &+ i
            guard let page = pages[a >> Self.pageShift], page.protection.contains(.read) else {
                lastFault = MemoryFault(address: a, access: .read, protectionViolation: pages[a >> Self.pageShift] != nil)
                return nil
            }
            let byte = page.host.load(fromByteOffset: Int(a & Self.pageMask), as: UInt8.self)
            value |= UInt64(byte) << (8 * i)
        }
        return value
    }

    @inline(never)
    func storeSlow(_ address: UInt64, _ size: UInt64, _ value: UInt64) -> Bool {
        for i in 0..<size {
            let a = address &+ i
            guard let page = pages[a >> Self.pageShift], page.protection.contains(.write) else {
                lastFault = MemoryFault(address: a, access: .write, protectionViolation: pages[a >> Self.pageShift] != nil)
                return false
            }
        }
        for i in 0..<size {
            let a = address &+ i
            let pageNumber = a >> Self.pageShift
            guard let page = pages[pageNumber] else { return false }
            noteWrite(pageNumber, page)
            if page.holdsCode { invalidateCodePage(pageNumber) }
            page.host.storeBytes(of: UInt8(truncatingIfNeeded: value >> (8 * i)), toByteOffset: Int(a & Self.pageMask), as: UInt8.self)
        }
        return true
    }

    /// Checked guest load of 1, 2, 4 or 8 bytes (little endian). Nil on fault.
    @inline(__always)
    public func load(_ address: UInt64, size: UInt64) -> UInt64? {
        if let p = readHost(address, size) {
            switch size {
            case 1: return UInt64(p.load(as: UInt8.self))
            case 2: return UInt64(p.loadUnaligned(as: UInt16.self))
            case 4: return UInt64(p.loadUnaligned(as: UInt32.self))
            default: return p.loadUnaligned(as: UInt64.self)
            }
        }
        return loadSlow(address, size)
    }

    /// Checked guest store of the low `size` bytes of `value`. False on fault.
    @inline(__always)
    public func store(_ address: UInt64, size: UInt64, _ value: UInt64) -> Bool {
        if let p = writeHost(address, size) {
            switch size {
            case 1: p.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
            case 2: p.storeBytes(of: UInt16(truncatingIfNeeded: value), as: UInt16.self)
            case 4: p.storeBytes(of: UInt32(truncatingIfNeeded: value), as: UInt32.self)
            default: p.storeBytes(of: value, as: UInt64.self)
            }
            return true
        }
        return storeSlow(address, size, value)
    }

    /// Checked 16-byte load (SSE). Nil on fault.
    @inline(__always)
    func load128(_ address: UInt64) -> (UInt64, UInt64)? {
        if let p = readHost(address, 16) {
            return (p.loadUnaligned(as: UInt64.self), p.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
        guard let lo = loadSlow(address, 8), let hi = loadSlow(address &+ 8, 8) else { return nil }
        return (lo, hi)
    }

    @inline(__always)
    func store128(_ address: UInt64, _ lo: UInt64, _ hi: UInt64) -> Bool {
        if let p = writeHost(address, 16) {
            p.storeBytes(of: lo, as: UInt64.self)
            p.storeBytes(of: hi, toByteOffset: 8, as: UInt64.self)
            return true
        }
        // Probe both halves before writing so a fault leaves memory untouched.
        guard probeWrite(address, 16) else { return false }
        return storeSlow(address, 8, lo) && storeSlow(address &+ 8, 8, hi)
    }

    /// True if every byte of the range is writable; records the fault otherwise.
    func probeWrite(_ address: UInt64, _ size: UInt64) -> Bool {
        for i in 0..<size {
            let a = address &+ i
            guard let page = pages[a >> Self.pageShift], page.protection.contains(.write) else {
                lastFault = MemoryFault(address: a, access: .write, protectionViolation: pages[a >> Self.pageShift] != nil)
                return false
            }
        }
        return true
    }

    func probeRead(_ address: UInt64, _ size: UInt64) -> Bool {
        for i in 0..<size {
            let a = address &+ i
            guard let page = pages[a >> Self.pageShift], page.protection.contains(.read) else {
                lastFault = MemoryFault(address: a, access: .read, protectionViolation: pages[a >> Self.pageShift] != nil)
                return false
            }
        }
        return true
    }
}
