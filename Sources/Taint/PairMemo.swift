// The memo behind the union cache: (smaller label, larger label) -> union, an
// open-addressing hash table in plain memory (no SipHash, no ARC), as DFSan's union table.

/// A hash map from non-zero `UInt64` keys to labels, cleared (not evicted) when full.
///
/// Invariant: `entries` points at `capacity` entries (a power of two) of two words each,
/// the key at `2 * slot` and the value at `2 * slot + 1` (one cache line per probe: the
/// table outgrows the caches on long runs), owned by this object; key 0 marks an empty
/// slot; at most half the slots are used.
final class PairMemo {
    private(set) var capacity: Int
    private(set) var count = 0
    /// Entries kept before the table is cleared (interning keeps labels identical anyway).
    let limit: Int
    private var entries: UnsafeMutablePointer<UInt64>

    init(limit: Int) {
        self.limit = max(16, limit)
        capacity = 1 << 12
        entries = .allocate(capacity: 2 * capacity)
        entries.initialize(repeating: 0, count: 2 * capacity)
    }

    deinit {
        entries.deallocate()
    }

    @inline(__always)
    static func slot(_ key: UInt64, mask: Int) -> Int {
        Int(truncatingIfNeeded: mix(key)) & mask
    }

    /// MurmurHash3's 64-bit finalizer: every input bit reaches every output bit. (A plain
    /// multiplicative hash maps the union keys, which advance in steps of 2^32 + 1, onto
    /// half the slots.)
    @inline(__always)
    static func mix(_ key: UInt64) -> UInt64 {
        var z = key
        z = (z ^ (z &>> 33)) &* 0xFF51_AFD7_ED55_8CCD
        z = (z ^ (z &>> 33)) &* 0xC4CE_B9FE_1A85_EC53
        return z ^ (z &>> 33)
    }

    /// The value for `key` (non-zero), or 0 when absent.
    func find(_ key: UInt64) -> Label {
        let mask = capacity - 1
        var i = Self.slot(key, mask: mask)
        while true {
            // i <= mask < capacity.
            let k = entries[2 &* i]
            if k == key { return Label(truncatingIfNeeded: entries[2 &* i &+ 1]) }
            if k == 0 { return 0 }
            i = (i + 1) & mask
        }
    }

    /// Sets the value for `key` (non-zero); `value` is non-zero.
    func insert(_ key: UInt64, _ value: Label) {
        if count >= limit { removeAll() }
        if (count + 1) * 2 > capacity { grow() }
        let mask = capacity - 1
        var i = Self.slot(key, mask: mask)
        while entries[2 &* i] != 0 && entries[2 &* i] != key { i = (i + 1) & mask }
        if entries[2 &* i] == 0 { count += 1 }
        entries[2 &* i] = key
        entries[2 &* i &+ 1] = UInt64(value)
    }

    func removeAll() {
        entries.update(repeating: 0, count: 2 * capacity)
        count = 0
    }

    private func grow() {
        let old = entries, oldCapacity = capacity
        capacity *= 2
        entries = .allocate(capacity: 2 * capacity)
        entries.initialize(repeating: 0, count: 2 * capacity)
        let mask = capacity - 1
        for j in 0 ..< oldCapacity where old[2 &* j] != 0 {
            var i = Self.slot(old[2 &* j], mask: mask)
            while entries[2 &* i] != 0 { i = (i + 1) & mask }
            entries[2 &* i] = old[2 &* j]
            entries[2 &* i &+ 1] = old[2 &* j &+ 1]
        }
        old.deallocate()
    }
}
