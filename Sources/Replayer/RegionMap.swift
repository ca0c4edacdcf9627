// The replayer's own record of the guest's mappings (start, end, protection, file): used
// to copy an address space at fork and to name the file behind an address.

import X86

struct Region: Sendable {
    var start: UInt64
    var end: UInt64
    var protection: MemoryProtection
    var path: String
    var offset: UInt64
}

struct RegionMap: Sendable {
    /// Non-overlapping, sorted by start.
    private(set) var regions: [Region] = []

    mutating func insert(start: UInt64, end: UInt64, protection: MemoryProtection, path: String, offset: UInt64) {
        remove(start: start, end: end)
        let index = regions.firstIndex { $0.start > start } ?? regions.count
        regions.insert(Region(start: start, end: end, protection: protection, path: path, offset: offset), at: index)
    }

    /// Cuts [start, end) out of every region it overlaps.
    mutating func remove(start: UInt64, end: UInt64) {
        var result: [Region] = []
        for r in regions {
            if r.end <= start || r.start >= end { result.append(r); continue }
            if r.start < start { var left = r; left.end = start; result.append(left) }
            if r.end > end { var right = r; right.offset += end - r.start; right.start = end; result.append(right) }
        }
        regions = result
    }

    mutating func protect(start: UInt64, end: UInt64, protection: MemoryProtection) {
        let affected = regions.filter { $0.start < end && $0.end > start }
        for r in affected {
            let s = max(r.start, start), e = min(r.end, end)
            insert(start: s, end: e, protection: protection, path: r.path, offset: r.offset + (s - r.start))
        }
    }

    func region(containing address: UInt64) -> Region? {
        regions.first { $0.start <= address && address < $0.end }
    }
}

extension GuestMemory {
    /// A private copy of every region listed (fork): same protections, same bytes.
    func copy(regions: RegionMap) throws -> GuestMemory {
        let copy = GuestMemory()
        for r in regions.regions {
            try copy.map(address: r.start, length: r.end - r.start, prot: r.protection)
            var address = r.start
            while address < r.end {
                let length = Int(min(1 << 20, r.end - address))
                if let bytes = try? readBytes(at: address, count: length) { try copy.writeBytes(bytes, at: address) }
                address += UInt64(length)
            }
        }
        return copy
    }
}
