// The shadow of guest memory: one label per guest byte, in lazily allocated 4 KiB pages
// (16 KiB of labels each). Most of memory never holds a labelled byte: one shared
// all-clear page stands for every unallocated page on reads, and writing 0 where nothing
// is allocated allocates nothing (DESIGN.md, "Speed").

/// Labels of guest memory by guest page, allocated on the first non-zero write.
///
/// Invariants that make the unsafe hot path sound:
/// - every allocated page is a `pageSize`-label host allocation owned by `pages`, freed
///   only by `clear` (whole pages) or `deinit`;
/// - a TLB entry names either the page `pages` holds for its tag at that moment or, when
///   the tag has no page, the shared zero page; allocating or freeing a page updates the
///   entry with that tag;
/// - the shared zero page is never written: writers go through `writablePage`.
public final class ShadowMemory {
    /// log2 of the guest page size the shadow is organised by.
    public static let pageShift: UInt64 = 12
    /// Guest bytes (and labels) per shadow page.
    public static let pageSize = 1 << 12
    static let pageMask: UInt64 = UInt64(pageSize) - 1
    static let tlbSize = 256

    /// The all-clear page every unallocated page reads as; allocated once, never freed.
    nonisolated(unsafe) static let sharedZeroPage: UnsafeMutablePointer<Label> = {
        let p = UnsafeMutablePointer<Label>.allocate(capacity: pageSize)
        p.initialize(repeating: 0, count: pageSize)
        return p
    }()

    /// `sharedZeroPage`, kept in an instance constant so the hot path avoids a global's
    /// once-check.
    @usableFromInline let zeroPage: UnsafeMutablePointer<Label>
    var pages: [UInt64: UnsafeMutablePointer<Label>] = [:]
    /// One TLB entry: tag and page side by side, so a probe touches one cache line.
    struct TLBEntry {
        /// The page number; `UInt64.max` tags an empty entry (page numbers are < 2^52).
        var tag: UInt64
        var page: UnsafeMutablePointer<Label>
    }
    /// Direct-mapped by page number, `tlbSize` entries.
    let tlb: UnsafeMutablePointer<TLBEntry>
    /// Most pages allocated at once (statistics).
    public private(set) var peakPageCount = 0

    /// Creates an empty (all-clear) shadow.
    public init() {
        zeroPage = Self.sharedZeroPage
        tlb = .allocate(capacity: Self.tlbSize)
        tlb.initialize(repeating: TLBEntry(tag: .max, page: Self.sharedZeroPage), count: Self.tlbSize)
    }

    deinit {
        for page in pages.values { page.deallocate() }
        tlb.deallocate()
    }

    /// Pages allocated now (16 KiB of labels each).
    public var pageCount: Int { pages.count }

    /// A deep copy (fork): same labels, independent pages. Cost: one copy per allocated page.
    public func copy() -> ShadowMemory {
        let other = ShadowMemory()
        for (vpn, page) in pages {
            let p = UnsafeMutablePointer<Label>.allocate(capacity: Self.pageSize)
            p.initialize(from: page, count: Self.pageSize)
            other.pages[vpn] = p
        }
        other.peakPageCount = other.pages.count
        return other
    }

    // MARK: Page access (hot path)

    /// The labels of guest page `vpn` for reading: the shared zero page when none is
    /// allocated. Do not write through the result. Cost: a TLB compare on a hit.
    @inline(__always)
    func readPage(_ vpn: UInt64) -> UnsafeMutablePointer<Label> {
        let slot = Int(truncatingIfNeeded: vpn) & (Self.tlbSize - 1)
        let entry = tlb + slot
        if entry.pointee.tag == vpn { return entry.pointee.page }
        return fillTLB(vpn, slot: slot)
    }

    @inline(never)
    func fillTLB(_ vpn: UInt64, slot: Int) -> UnsafeMutablePointer<Label> {
        let page = pages[vpn] ?? zeroPage
        tlb[slot] = TLBEntry(tag: vpn, page: page)
        return page
    }

    /// The labels of guest page `vpn` for writing, allocated (all clear) if needed.
    @inline(__always)
    func writablePage(_ vpn: UInt64) -> UnsafeMutablePointer<Label> {
        let page = readPage(vpn)
        if page != zeroPage { return page }
        return allocatePage(vpn)
    }

    @inline(never)
    func allocatePage(_ vpn: UInt64) -> UnsafeMutablePointer<Label> {
        let p = UnsafeMutablePointer<Label>.allocate(capacity: Self.pageSize)
        p.initialize(repeating: 0, count: Self.pageSize)
        pages[vpn] = p
        peakPageCount = max(peakPageCount, pages.count)
        let slot = Int(truncatingIfNeeded: vpn) & (Self.tlbSize - 1)
        tlb[slot] = TLBEntry(tag: vpn, page: p)
        return p
    }

    func freePage(_ vpn: UInt64) {
        guard let p = pages.removeValue(forKey: vpn) else { return }
        p.deallocate()
        let slot = Int(truncatingIfNeeded: vpn) & (Self.tlbSize - 1)
        if tlb[slot].tag == vpn { tlb[slot].page = zeroPage }
    }

    /// Pages overlapping `[address, address + length)` that are allocated, ascending.
    /// Iterates the range or the allocated pages, whichever is smaller.
    func allocatedPages(address: UInt64, length: Int) -> [UInt64] {
        guard length > 0 else { return [] }
        let first = address >> Self.pageShift
        let last = (address &+ UInt64(length) &- 1) >> Self.pageShift
        guard last >= first else {
            // The range wraps past 2^64: treat as two ranges.
            return allocatedPages(address: address, length: Int(0 &- address))
                + allocatedPages(address: 0, length: length - Int(0 &- address))
        }
        if last - first < UInt64(pages.count) {
            return (first ... last).filter { pages[$0] != nil }
        }
        return pages.keys.filter { $0 >= first && $0 <= last }.sorted()
    }

    // MARK: Bytes and ranges

    /// The label of one guest byte. Cost: a TLB probe.
    @inline(__always)
    public func label(at address: UInt64) -> Label {
        readPage(address >> Self.pageShift)[Int(address & Self.pageMask)]
    }

    /// Sets the label of one guest byte (writing 0 where no page exists allocates nothing).
    @inline(__always)
    public func setLabel(_ label: Label, at address: UInt64) {
        let vpn = address >> Self.pageShift
        if label == 0 && readPage(vpn) == zeroPage { return }
        writablePage(vpn)[Int(address & Self.pageMask)] = label
    }

    /// Gives every byte of `[address, address + length)` the label `label`.
    /// Cost: O(length), plus page allocation when `label` is not 0.
    public func set(_ label: Label, address: UInt64, length: Int) {
        if label == 0 { clear(address: address, length: length); return }
        forEachSegment(address: address, length: length) { vpn, offset, count, _ in
            (writablePage(vpn) + offset).update(repeating: label, count: count)
        }
    }

    /// Gives byte `address + k` the label `first + k` (a freshly allocated source range).
    public func setSequential(first: Label, address: UInt64, length: Int) {
        guard first != 0 else { clear(address: address, length: length); return }
        forEachSegment(address: address, length: length) { vpn, offset, count, done in
            let p = writablePage(vpn) + offset
            let base = first &+ UInt32(truncatingIfNeeded: done)
            for k in 0 ..< count { p[k] = base &+ UInt32(k) }
        }
    }

    /// Clears `[address, address + length)`; pages wholly inside are freed.
    /// Cost: O(allocated pages in the range).
    public func clear(address: UInt64, length: Int) {
        guard length > 0 else { return }
        for vpn in allocatedPages(address: address, length: length) {
            let (from, to) = Self.piece(of: vpn, address: address, length: length)
            if from == 0 && to == Self.pageSize {
                freePage(vpn)
            } else if let p = pages[vpn] {
                (p + from).update(repeating: 0, count: to - from)
            }
        }
    }

    /// The part `[from, to)` of page `vpn` that lies in `[address, address + length)`
    /// (the page must overlap the range).
    @inline(__always)
    static func piece(of vpn: UInt64, address: UInt64, length: Int) -> (from: Int, to: Int) {
        let last = address &+ UInt64(length) &- 1
        let from = vpn == address >> pageShift ? Int(address & pageMask) : 0
        let to = vpn == last >> pageShift ? Int(last & pageMask) + 1 : pageSize
        return (from, to)
    }

    /// Copies the labels of `[source, source + length)` to `destination` as memmove would
    /// (overlap allowed). Cost: O(allocated pages of both ranges).
    public func copy(from source: UInt64, to destination: UInt64, length: Int) {
        guard length > 0, source != destination else { return }
        // Snapshot the allocated source pieces first, so overlap cannot corrupt them.
        var pieces: [(offset: Int, labels: [Label])] = []
        for vpn in allocatedPages(address: source, length: length) {
            guard let p = pages[vpn] else { continue }
            let (from, to) = Self.piece(of: vpn, address: source, length: length)
            let labels = Array(UnsafeBufferPointer(start: p + from, count: to - from))
            let offset = Int(truncatingIfNeeded: ((vpn << Self.pageShift) &+ UInt64(from)) &- source)
            if labels.contains(where: { $0 != 0 }) { pieces.append((offset, labels)) }
        }
        clear(address: destination, length: length)
        for piece in pieces {
            piece.labels.withUnsafeBufferPointer { buffer in
                write(buffer.baseAddress!, count: buffer.count, at: destination &+ UInt64(piece.offset))
            }
        }
    }

    /// Writes `count` labels from `labels` at `address` (allocating only for non-zero labels).
    func write(_ labels: UnsafePointer<Label>, count: Int, at address: UInt64) {
        forEachSegment(address: address, length: count) { vpn, offset, n, done in
            let source = labels + done
            var any: Label = 0
            for k in 0 ..< n { any |= source[k] }
            if any == 0 && readPage(vpn) == zeroPage { return }
            (writablePage(vpn) + offset).update(from: source, count: n)
        }
    }

    /// Reads `count` labels at `address` into `labels`; returns their bitwise OR (0: all clear).
    func read(_ labels: UnsafeMutablePointer<Label>, count: Int, at address: UInt64) -> Label {
        var any: Label = 0
        forEachSegment(address: address, length: count) { vpn, offset, n, done in
            let page = readPage(vpn)
            if page == zeroPage {
                (labels + done).update(repeating: 0, count: n)
                return
            }
            let p = page + offset
            for k in 0 ..< n {
                let l = p[k]
                labels[done + k] = l
                any |= l
            }
        }
        return any
    }

    /// True when no byte of `[address, address + length)` carries a label.
    public func isClear(address: UInt64, length: Int) -> Bool {
        for vpn in allocatedPages(address: address, length: length) {
            guard let p = pages[vpn] else { continue }
            let (from, to) = Self.piece(of: vpn, address: address, length: length)
            if UnsafeBufferPointer(start: p + from, count: to - from).contains(where: { $0 != 0 }) { return false }
        }
        return true
    }

    /// Calls `body(vpn, offsetInPage, count, bytesDoneBefore)` for each page piece of the range.
    @inline(__always)
    func forEachSegment(address: UInt64, length: Int, _ body: (UInt64, Int, Int, Int) -> Void) {
        var done = 0
        var a = address
        while done < length {
            let offset = Int(a & Self.pageMask)
            let n = min(Self.pageSize - offset, length - done)
            body(a >> Self.pageShift, offset, n, done)
            done += n
            a = a &+ UInt64(n)
        }
    }
}
