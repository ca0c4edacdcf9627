// The memo behind the union cache: (smaller label, larger label) -> union, an
// open-addressing hash table in plain memory (no SipHash, no ARC), as DFSan's union table.

/// A hash map from non-zero `UInt64` keys to labels, cleared (not evicted) when full.
///
/// Invariant: `keys` and `values` point at `capacity` entries (a power of two) owned by
/// this object; key 0 marks an empty slot; at most half the slots are used.
final class PairMemo {
    private(set) var capacity: Int
    private(set) var count = 0
    /// Entries kept before the table is cleared (interning keeps labels identical anyway).
    let limit: Int
    private var keys: UnsafeMutablePointer<UInt64>
    private var values: UnsafeMutablePointer<Label>

    init(limit: Int) {
        self.limit = max(16, limit)
        capacity = 1 << 12
        keys = .allocate(capacity: capacity)
        keys.initialize(repeating: 0, count: capacity)
        values = .allocate(capacity: capacity)
        values.initialize(repeating: 0, count: capacity)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
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
            let k = keys[i]
            if k == key { return values[i] }
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
        while keys[i] != 0 && keys[i] != key { i = (i + 1) & mask }
        if keys[i] == 0 { count += 1 }
        keys[i] = key
        values[i] = value
    }

    func removeAll() {
        keys.update(repeating: 0, count: capacity)
        count = 0
    }

    private func grow() {
        let oldKeys = keys, oldValues = values, oldCapacity = capacity
        capacity *= 2
        keys = .allocate(capacity: capacity)
        keys.initialize(repeating: 0, count: capacity)
        values = .allocate(capacity: capacity)
        values.initialize(repeating: 0, count: capacity)
        let mask = capacity - 1
        for j in 0 ..< oldCapacity where oldKeys[j] != 0 {
            var i = Self.slot(oldKeys[j], mask: mask)
            while keys[i] != 0 { i = (i + 1) & mask }
            keys[i] = oldKeys[j]
            values[i] = oldValues[j]
        }
        oldKeys.deallocate()
        oldValues.deallocate()
    }
}
