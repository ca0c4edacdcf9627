// Labels: what a shadow byte says about where a guest byte came from (DESIGN.md, "Taint and
// refinement"). A label is a 32-bit number:
//
//   0                        clean: the byte came from no input;
//   1 ..< baseCapacity       a *base label*: exactly one input byte, a job-wide virtual
//                            coordinate handed out in consecutive ranges by `allocateSource`;
//   baseCapacity ..< 2^31    a *coarse label*, used only once the base space is exhausted:
//                            it stands for whole events (a hull of their bytes);
//   2^31 | n                 a *union label*: set n of the interned table, a sorted list of
//                            intervals of base (or coarse) labels, each flagged address-only
//                            or not.
//
// Unions are memoized as in DFSan's union table: a direct-mapped cache in front of a
// dictionary keyed by the ordered pair, so propagation is a table hit in the common case.
// Sets are interned (equal content, equal label), so a label compares by identity.
//
// Memory stays bounded by trading precision, never sources: sets are byte-exact until
// `exactSetLimit` sets exist; from then on every new set's intervals are widened to a
// *granule* of base labels (64, then 4x coarser each time another `setsPerGranule` sets
// were created, up to whole allocations), clamped to the allocation (one event's bytes)
// that holds each end; allocations under `minWidenedAllocation` bytes stay exact. A widened set names exactly the events of the exact one, over
// coarser byte ranges; it is marked coarsened and counted in `coarsenedSets`, and its flows
// say so. Programs that mix their input (compressors, hashes) then converge on few
// distinct sets; copies keep single-byte base labels, which are never widened.
//
// That bounds a set per source event, not in the number of events: a set gathering small
// inputs one event after another (tar's paths, by address dependency) grows with them. Two
// more bounds hold for those: past `intervalBudget` stored intervals every new set is
// compact (a few intervals per flag, hulls across consecutive events), and resolution for
// a summary (`boundedSources`) gives at most a fixed number of entries per flag, merging
// consecutive events into spans (`SourceSpan`) past it. Both only widen: a source is never
// dropped.

import Trace

/// A taint label: 0 is clean; see `LabelTable` for the encoding.
public typealias Label = UInt32

/// A run of base labels `[lower, upper)` in a label set. `addressOnly` says the bytes
/// reached the labelled value only through an address computation (a table lookup); a
/// value dependency on the same bytes dominates it.
public struct LabelInterval: Equatable, Hashable, Sendable {
    /// First base label of the run.
    public var lower: UInt32
    /// One past the last base label.
    public var upper: UInt32
    public var addressOnly: Bool

    /// An interval of base labels `[lower, upper)`.
    public init(lower: UInt32, upper: UInt32, addressOnly: Bool = false) {
        self.lower = lower; self.upper = upper; self.addressOnly = addressOnly
    }
}

/// One resolved piece of a label: input bytes in event coordinates.
public typealias ResolvedSource = (range: TaintByteRange, addressOnly: Bool, metadata: Bool)

/// Base-label allocation, interned label sets and the memoized union table of one replay job.
///
/// One table serves a process and every child it forks (labels flow through inherited
/// memory); it is not thread-safe: a job replays its processes one at a time.
/// Memory: 24 bytes per allocation range, about 50 bytes per interned set plus 12 per
/// interval, and the union memos (bounded, see `memoLimit`). The set count is bounded in
/// practice by the granule schedule: about `exactSetLimit + 13 * setsPerGranule` sets
/// (~270 K, a few tens of MB) before every widened interval is a whole allocation, after
/// which only new combinations of events add sets.
public final class LabelTable {
    /// The bit that marks a union label.
    public static let unionBit: Label = 0x8000_0000
    /// Default size of the base space: 2^30 input bytes per job get byte-exact labels.
    public static let defaultBaseCapacity: UInt32 = 1 << 30
    /// Default interval bound of a label set before it is coarsened.
    public static let defaultIntervalBound = 64
    /// Default number of sets interned byte-exactly before widening starts.
    public static let defaultExactSetLimit = 1 << 16
    /// Default number of sets created at one granule before it grows.
    public static let defaultSetsPerGranule = 1 << 14
    /// Default `intervalBudget`: 2^23 intervals (96 MB of interval storage).
    public static let defaultIntervalBudget = 1 << 23
    /// Intervals per flag (value, address-only) of a set created past the budget.
    public static let compactIntervalBound = 4
    /// log2 of the first granule (64 base labels), of its growth per step (4x), and of
    /// the last one, which spans the label space (intervals become whole allocations).
    static let firstGranuleShift = 6
    static let granuleStep = 2
    static let maxGranuleShift = 31
    /// Allocations (one event's bytes) smaller than this are never widened: small inputs
    /// (a config or JSON file) keep byte precision; bulk reads absorb the widening.
    public static let minWidenedAllocation: UInt32 = 1024

    /// Base labels are `1 ..< baseCapacity`; coarse labels `baseCapacity ..< unionBit`.
    public let baseCapacity: UInt32
    /// A set with more intervals than this is coarsened (closest same-source gaps merged).
    public let intervalBound: Int
    /// Sets may exceed `intervalBound` when no gap lies within one source; past this hard
    /// bound, gaps between sources are merged too (over-approximation, never a lost source).
    let hardIntervalBound: Int
    /// Sets interned byte-exactly before new sets are widened to the granule.
    public let exactSetLimit: Int
    /// Intervals stored (over all sets) past which new sets are *compact*: at most
    /// `compactIntervalBound` intervals, neighbouring ones merged across sources (the
    /// hull of consecutive events). Sets are never freed (labels in shadow memory name
    /// them), so this bounds what each further set costs: a set gathering one more small
    /// input after another (tar's paths) otherwise stores up to `hardIntervalBound`
    /// intervals, 3 KB, per new set.
    public let intervalBudget: Int
    /// Sets created at one granule before it grows.
    public let setsPerGranule: Int
    /// log2 of the granule new sets are widened to (0: exact).
    public private(set) var granuleShift = 0
    /// The set count at which the granule next grows (or starts).
    var nextGranuleAt: Int

    // MARK: Base ranges

    /// Base labels `first ..< first + count` name bytes `eventOffset ..< eventOffset + count`
    /// of event `event`. Sorted by `first` (allocation is monotonic) and contiguous.
    struct SourceRange {
        var first: Label
        var count: UInt32
        var event: UInt64
        var eventOffset: Int64
        var metadata: Bool
        var end: Label { first &+ count }
    }
    var ranges: [SourceRange] = []
    var nextBase: Label = 1

    /// What one coarse label stands for: per event, the hull of the bytes it replaced.
    struct CoarseSource {
        var event: UInt64
        var start: Int64
        var end: Int64
        var metadata: Bool
    }
    /// Indexed by `label - baseCapacity`.
    var coarse: [[CoarseSource]] = []
    var coarseByEvent: [UInt64: Label] = [:]

    /// Source allocations that found the base space exhausted and got a coarse label.
    public private(set) var degradedAllocations = 0

    // MARK: Union sets

    /// 16 bytes per set (a long run interns millions): the slice of `intervalStore` as
    /// 32-bit numbers (`intern` refuses sets past 2^32 stored intervals), the low half of
    /// the hash (the intern slot holds the high half) and two flags.
    struct SetInfo {
        private var start32: UInt32
        private var count32: UInt32
        /// The low 32 bits of the set's hash.
        let hashLow: UInt32
        let hasValue: Bool
        var coarsened: Bool

        init(start: Int, count: Int, hash: UInt64, hasValue: Bool, coarsened: Bool) {
            start32 = UInt32(truncatingIfNeeded: start)
            count32 = UInt32(truncatingIfNeeded: count)
            hashLow = UInt32(truncatingIfNeeded: hash)
            self.hasValue = hasValue
            self.coarsened = coarsened
        }

        var start: Int { Int(start32) }
        var count: Int { Int(count32) }
    }
    /// Intervals of every set, concatenated; `SetInfo` names a slice.
    var intervalStore: [LabelInterval] = []
    var sets: [SetInfo] = []
    /// Open addressing, linear probing, load <= 1/2. A slot holds the set index + 1 in its
    /// low 32 bits (0: empty) and the high 32 bits of the set's hash, so a probe that does
    /// not match rarely touches the set itself (each touch is a likely cache miss).
    var internSlots: [UInt64] = Array(repeating: 0, count: 1024)
    /// Set indices are 31 bits; past that, unions degrade to the universal set (index 0).
    static let maxSets = Int(Label.max >> 1)

    /// Sets created marked coarsened: wider than their exact content (coarsened to stay
    /// within the interval bound, widened to the granule) or holding coarse labels.
    public private(set) var coarsenedSets = 0
    /// Hot counters behind a pointer: the union fast path bumps them with plain stores (no
    /// exclusivity check on a class property). Allocated in init, freed in deinit.
    struct Counters {
        var unionLookups: UInt64 = 0
        var unionHits: UInt64 = 0
        /// `granuleShift != 0`, where `union` reads it without an access check.
        var widening = false
    }
    let counters: UnsafeMutablePointer<Counters>
    /// Non-trivial union requests (neither side 0, sides differ), and those the memo answered.
    public var unionLookups: UInt64 { counters.pointee.unionLookups }
    public var unionHits: UInt64 { counters.pointee.unionHits }
    /// Sets that could not be created because the set table was full (answered with the
    /// universal set: every input).
    public private(set) var exhaustedSets = 0

    // Direct-mapped union cache: key = (min << 32 | max), 0 = empty (min >= 1).
    static let cacheBits: UInt64 = 14
    /// Allocated in init, freed in deinit; `1 << cacheBits` entries of two words, the key
    /// at `2 * slot` and the union at `2 * slot + 1`, so a lookup touches one cache line
    /// (the table is larger than the L2 cache on input-heavy runs: every hit was two misses).
    let cache: UnsafeMutablePointer<UInt64>
    /// Behind the cache: unions of large sets (`memoThreshold`), until `memoLimit` entries
    /// (then cleared: interning keeps labels identical, the memo only saves recomputation).
    let memo: PairMemo
    var addressOnlyMemo: [Label: Label] = [:]
    /// Direct-mapped cache in front of `addressOnlyMemo` (key 0: empty): every table
    /// lookup at an input-derived index asks for the index's address-only twin.
    static let addressOnlyCacheBits: UInt32 = 10
    /// Direct-mapped cache of `canonical` by granule: base labels `[lower, upper)` stand
    /// for `label` (empty: upper 0). Cleared when the granule grows.
    static let granuleCacheBits: UInt64 = 10
    /// Allocated in init, freed in deinit; `1 << granuleCacheBits` entries each.
    let granuleCacheLower: UnsafeMutablePointer<Label>
    let granuleCacheUpper: UnsafeMutablePointer<Label>
    let granuleCacheLabels: UnsafeMutablePointer<Label>
    /// Direct-mapped cache of `runLabel` (key: first << 8 | count; 0: empty).
    static let runCacheBits: UInt64 = 10
    /// Allocated in init, freed in deinit; `1 << runCacheBits` entries each.
    let runCacheKeys: UnsafeMutablePointer<UInt64>
    let runCacheValues: UnsafeMutablePointer<Label>
    /// Allocated in init, freed in deinit; `1 << addressOnlyCacheBits` entries each.
    let addressOnlyKeys: UnsafeMutablePointer<Label>
    let addressOnlyValues: UnsafeMutablePointer<Label>
    /// Entries each memo keeps before it is cleared.
    public let memoLimit: Int

    // Scratch for the union miss path (kept to avoid allocation per miss).
    var scratchA: [LabelInterval] = []
    var scratchB: [LabelInterval] = []
    var scratchValue: [LabelInterval] = []
    var scratchAddress: [LabelInterval] = []
    var scratchAddressOnly: [LabelInterval] = []
    var scratchOut: [LabelInterval] = []
    var scratchLabels: [Label] = []

    /// The label of the universal set (every base and coarse label, by value).
    public var universalLabel: Label { Self.unionBit }

    /// Creates an empty table.
    /// - Parameters:
    ///   - baseCapacity: size of the base space (labels `1 ..< baseCapacity`), at most 2^30;
    ///     small values are for tests of the exhaustion path.
    ///   - intervalBound: intervals a set may hold before it is coarsened (at least 2).
    ///   - memoLimit: union results memoized before the memo is cleared (24 bytes each at
    ///     most, with the table's load factor).
    ///   - exactSetLimit: sets interned byte-exactly before widening to granules starts.
    ///   - setsPerGranule: sets created at one granule before it grows.
    ///   - intervalBudget: intervals stored before new sets are compact (`intervalBudget`).
    public init(baseCapacity: UInt32 = LabelTable.defaultBaseCapacity, intervalBound: Int = LabelTable.defaultIntervalBound,
                memoLimit: Int = 1 << 18, exactSetLimit: Int = LabelTable.defaultExactSetLimit,
                setsPerGranule: Int = LabelTable.defaultSetsPerGranule, intervalBudget: Int = LabelTable.defaultIntervalBudget) {
        self.intervalBudget = max(0, intervalBudget)
        self.memoLimit = memoLimit
        self.exactSetLimit = max(1, exactSetLimit)
        self.setsPerGranule = max(1, setsPerGranule)
        nextGranuleAt = self.exactSetLimit
        memo = PairMemo(limit: memoLimit)
        self.baseCapacity = max(2, min(baseCapacity, Self.defaultBaseCapacity))
        self.intervalBound = max(2, intervalBound)
        self.hardIntervalBound = self.intervalBound * 4
        counters = .allocate(capacity: 1)
        counters.initialize(to: Counters())
        let n = 1 << Int(Self.cacheBits)
        cache = .allocate(capacity: 2 * n)
        cache.initialize(repeating: 0, count: 2 * n)
        let m = 1 << Int(Self.addressOnlyCacheBits)
        addressOnlyKeys = .allocate(capacity: m)
        addressOnlyKeys.initialize(repeating: 0, count: m)
        addressOnlyValues = .allocate(capacity: m)
        addressOnlyValues.initialize(repeating: 0, count: m)
        let g = 1 << Int(Self.granuleCacheBits)
        granuleCacheLower = .allocate(capacity: g)
        granuleCacheLower.initialize(repeating: 0, count: g)
        granuleCacheUpper = .allocate(capacity: g)
        granuleCacheUpper.initialize(repeating: 0, count: g)
        granuleCacheLabels = .allocate(capacity: g)
        granuleCacheLabels.initialize(repeating: 0, count: g)
        runCacheKeys = .allocate(capacity: 1 << Int(Self.runCacheBits))
        runCacheKeys.initialize(repeating: 0, count: 1 << Int(Self.runCacheBits))
        runCacheValues = .allocate(capacity: 1 << Int(Self.runCacheBits))
        runCacheValues.initialize(repeating: 0, count: 1 << Int(Self.runCacheBits))
        // Set 0 is the universal set, the fallback when the set table is full.
        let universe = [LabelInterval(lower: 1, upper: Self.unionBit, addressOnly: false)]
        _ = insertSet(universe, hash: Self.hash(universe[...]), coarsened: true)
    }

    deinit {
        cache.deallocate()
        addressOnlyKeys.deallocate()
        addressOnlyValues.deallocate()
        runCacheKeys.deallocate()
        granuleCacheLower.deallocate()
        granuleCacheUpper.deallocate()
        granuleCacheLabels.deallocate()
        runCacheValues.deallocate()
        counters.deallocate()
    }

    // MARK: Classification

    /// True for a union label (an interned set).
    @inline(__always) public static func isUnion(_ label: Label) -> Bool { label & unionBit != 0 }

    /// True for a byte-exact base label (one input byte).
    @inline(__always) public func isBase(_ label: Label) -> Bool { label != 0 && label < baseCapacity }

    /// True for a coarse label (whole events, handed out after the base space ran out).
    @inline(__always) public func isCoarse(_ label: Label) -> Bool { label >= baseCapacity && label & Self.unionBit == 0 }

    /// Number of interned sets (including the universal set).
    public var setCount: Int { sets.count }

    /// Base labels handed out so far.
    public var allocatedBaseLabels: Int { Int(nextBase) - 1 }

    // MARK: Allocation

    /// Allocates `length` consecutive base labels for bytes `[eventOffset, eventOffset +
    /// length)` of event `event`: the result L names byte `eventOffset`, L + k byte
    /// `eventOffset + k`. Returns 0 for an empty range.
    ///
    /// When the base space is exhausted the allocation degrades: the result is one coarse
    /// label (`isCoarse`) per event, standing for the hull of every range of that event
    /// allocated after exhaustion; every byte should then carry that same label.
    /// Cost: amortized O(1).
    public func allocateSource(event: UInt64, eventOffset: Int64, length: Int, metadata: Bool) -> Label {
        guard length > 0 else { return 0 }
        if UInt64(nextBase) + UInt64(length) <= UInt64(baseCapacity) {
            let first = nextBase
            let count = UInt32(length)
            if var last = ranges.last, last.event == event, last.metadata == metadata, last.end == first,
               last.eventOffset + Int64(last.count) == eventOffset {
                // One event labelled in pieces (iovecs): keep one range.
                last.count &+= count
                ranges[ranges.count - 1] = last
            } else {
                ranges.append(SourceRange(first: first, count: count, event: event, eventOffset: eventOffset, metadata: metadata))
            }
            nextBase = first &+ count
            return first
        }
        degradedAllocations += 1
        let end = eventOffset + Int64(length)
        if let label = coarseByEvent[event] {
            let index = Int(label - baseCapacity)
            if let k = coarse[index].firstIndex(where: { $0.event == event }) {
                coarse[index][k].start = min(coarse[index][k].start, eventOffset)
                coarse[index][k].end = max(coarse[index][k].end, end)
                coarse[index][k].metadata = coarse[index][k].metadata || metadata
            }
            return label
        }
        let entry = CoarseSource(event: event, start: eventOffset, end: end, metadata: metadata)
        if UInt64(baseCapacity) + UInt64(coarse.count) < UInt64(Self.unionBit) {
            let label = baseCapacity + UInt32(coarse.count)
            coarse.append([entry])
            coarseByEvent[event] = label
            return label
        }
        // Coarse space full too (2^30 events): share the last coarse label; it stands for
        // several events, so no source is lost.
        let label = Self.unionBit - 1
        coarse[coarse.count - 1].append(entry)
        coarseByEvent[event] = label
        return label
    }

    /// Index of the range holding base label `label`, or nil.
    @inline(__always)
    func rangeIndex(_ label: Label) -> Int? {
        guard label != 0, label < nextBase else { return nil }
        var low = 0, high = ranges.count
        // Last range with first <= label.
        while high - low > 1 {
            let mid = (low + high) >> 1
            if ranges[mid].first <= label { low = mid } else { high = mid }
        }
        return low < ranges.count && ranges[low].first <= label && label < ranges[low].end ? low : nil
    }

    /// The event of a base label, or nil for other labels. Cost: O(log ranges).
    public func event(ofBase label: Label) -> UInt64? {
        guard isBase(label), let i = rangeIndex(label) else { return nil }
        return ranges[i].event
    }

    // MARK: Sets

    /// The intervals of a label: empty for 0, one value interval for a base or coarse label.
    public func intervals(of label: Label) -> [LabelInterval] {
        var out: [LabelInterval] = []
        appendIntervals(of: label, to: &out)
        return out
    }

    @inline(__always)
    func appendIntervals(of label: Label, to out: inout [LabelInterval]) {
        if label == 0 { return }
        if Self.isUnion(label) {
            let info = sets[Int(label & ~Self.unionBit)]
            out.append(contentsOf: intervalStore[info.start ..< info.start + info.count])
        } else {
            out.append(LabelInterval(lower: label, upper: label + 1))
        }
    }

    /// True when some byte of the label reached it by value (not only through addresses).
    /// Cost: O(1).
    @inline(__always)
    public func hasValueFlow(_ label: Label) -> Bool {
        if label == 0 { return false }
        if !Self.isUnion(label) { return true }
        return sets[Int(label & ~Self.unionBit)].hasValue
    }

    /// True when the label's set was widened to stay within the interval bound, or holds
    /// coarse labels: its ranges over-approximate the true ones.
    public func isCoarsened(_ label: Label) -> Bool {
        if label == 0 { return false }
        if Self.isUnion(label) { return sets[Int(label & ~Self.unionBit)].coarsened }
        return isCoarse(label)
    }

    static func hash(_ list: ArraySlice<LabelInterval>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for iv in list {
            var x = UInt64(iv.lower) | UInt64(iv.upper) << 32
            if iv.addressOnly { x ^= 1 << 63 }
            h = (h ^ x) &* 0x0000_0100_0000_01B3
            h ^= h >> 29
        }
        return PairMemo.mix(h)
    }

    /// Appends a new set (not checking for duplicates) and indexes it. Returns its index.
    @discardableResult
    func insertSet(_ list: [LabelInterval], hash: UInt64, coarsened: Bool) -> Int {
        let index = sets.count
        let coarse = coarsened || list.contains { isCoarse($0.lower) || isCoarse($0.upper &- 1) }
        sets.append(SetInfo(start: intervalStore.count, count: list.count, hash: hash,
                            hasValue: list.contains { !$0.addressOnly }, coarsened: coarse))
        intervalStore.append(contentsOf: list)
        if sets.count * 2 > internSlots.count { growInternTable() }
        var slot = Int(truncatingIfNeeded: hash) & (internSlots.count - 1)
        while internSlots[slot] != 0 { slot = (slot + 1) & (internSlots.count - 1) }
        internSlots[slot] = Self.slotValue(index: index, hash: hash)
        return index
    }

    @inline(__always)
    static func slotValue(index: Int, hash: UInt64) -> UInt64 {
        (hash & 0xFFFF_FFFF_0000_0000) | UInt64(index + 1)
    }

    func growInternTable() {
        var slots = [UInt64](repeating: 0, count: internSlots.count * 2)
        let mask = slots.count - 1
        // A slot holds the hash's high half, the set its low half.
        for value in internSlots where value != 0 {
            let index = Int(value & 0xFFFF_FFFF) - 1
            let hash = (value & 0xFFFF_FFFF_0000_0000) | UInt64(sets[index].hashLow)
            var slot = Int(truncatingIfNeeded: hash) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = value
        }
        internSlots = slots
    }

    /// The label of a normalized interval list (sorted, disjoint, same-flag neighbours
    /// coalesced): a base label for one value byte, else the interned set's union label.
    func intern(_ given: [LabelInterval], coarsened givenCoarsened: Bool) -> Label {
        if given.isEmpty { return 0 }
        if given.count == 1, !given[0].addressOnly, given[0].upper == given[0].lower &+ 1 { return given[0].lower }
        var list = given
        var coarsened = givenCoarsened
        if granuleShift != 0 && widen(&list) {
            coarsened = true
            if list.count == 1, !list[0].addressOnly, list[0].upper == list[0].lower &+ 1 { return list[0].lower }
        }
        if intervalStore.count > intervalBudget && list.count > Self.compactIntervalBound && compact(&list) {
            coarsened = true
        }
        let h = Self.hash(list[...])
        let mask = internSlots.count - 1
        var slot = Int(truncatingIfNeeded: h) & mask
        let fingerprint = h & 0xFFFF_FFFF_0000_0000
        while internSlots[slot] != 0 {
            let value = internSlots[slot]
            if value & 0xFFFF_FFFF_0000_0000 != fingerprint {
                slot = (slot + 1) & mask
                continue
            }
            let index = Int(value & 0xFFFF_FFFF) - 1
            let info = sets[index]
            if info.hashLow == UInt32(truncatingIfNeeded: h), info.count == list.count,
               intervalStore[info.start ..< info.start + info.count].elementsEqual(list) {
                if coarsened && !info.coarsened { sets[index].coarsened = true }
                return Self.unionBit | Label(index)
            }
            slot = (slot + 1) & mask
        }
        guard sets.count < Self.maxSets, intervalStore.count + list.count <= Int(UInt32.max) else {
            exhaustedSets += 1
            return universalLabel
        }
        if coarsened { coarsenedSets += 1 }
        let index = insertSet(list, hash: h, coarsened: coarsened)
        if sets.count >= nextGranuleAt { advanceGranule() }
        return Self.unionBit | Label(index)
    }

    /// Starts widening, or makes the granule coarser (up to the whole label space).
    func advanceGranule() {
        granuleShift = granuleShift == 0 ? Self.firstGranuleShift : min(Self.maxGranuleShift, granuleShift + Self.granuleStep)
        counters.pointee.widening = true
        nextGranuleAt = sets.count + setsPerGranule
        granuleCacheLower.update(repeating: 0, count: 1 << Int(Self.granuleCacheBits))
        granuleCacheUpper.update(repeating: 0, count: 1 << Int(Self.granuleCacheBits))
    }

    /// The value set of the granule that holds base label `x`, clamped to `x`'s allocation
    /// (what widening turns `x` into); `x` itself when that is one byte. Cost: a cache
    /// compare per granule, a binary search and an intern on a cache miss.
    @inline(__always)
    func canonical(_ x: Label) -> Label {
        let slot = Int(truncatingIfNeeded: (UInt64(x) >> UInt64(granuleShift)) & ((1 << Self.granuleCacheBits) - 1))
        // slot < 1 << granuleCacheBits by the mask.
        if granuleCacheLower[slot] <= x && x < granuleCacheUpper[slot] { return granuleCacheLabels[slot] }
        return canonicalMiss(x, slot: slot)
    }

    @inline(never)
    func canonicalMiss(_ x: Label, slot: Int) -> Label {
        guard let r = rangeIndex(x) else { return x }
        let mask = (UInt64(1) << UInt64(granuleShift)) &- 1
        var lower = x, upper = x &+ 1
        if ranges[r].count >= Self.minWidenedAllocation {
            lower = max(UInt32(truncatingIfNeeded: UInt64(x) & ~mask), ranges[r].first)
            upper = UInt32(truncatingIfNeeded: min((UInt64(x) &+ 1 &+ mask) & ~mask, UInt64(ranges[r].end)))
        }
        // Wider than `x`: marked coarsened (its flows say so).
        let label = upper - lower == 1 ? x : intern([LabelInterval(lower: lower, upper: upper)], coarsened: true)
        granuleCacheLower[slot] = lower
        granuleCacheUpper[slot] = upper
        granuleCacheLabels[slot] = label
        return label
    }

    /// Widens each interval of `list` to the granule, clamped to the allocation range that
    /// holds each of its ends (so no event is added), and renormalizes the list (overlaps
    /// merged, value dominating address-only). Coarse labels are left as they are.
    /// Returns false, with `list` untouched, when nothing changed.
    /// Cost: O(intervals × log ranges).
    func widen(_ list: inout [LabelInterval]) -> Bool {
        let mask = (UInt64(1) << UInt64(granuleShift)) &- 1
        var changed = false
        var widened = list
        for k in widened.indices {
            let iv = widened[k]
            var lower = iv.lower, upper = iv.upper
            if let r = rangeIndex(lower), ranges[r].count >= Self.minWidenedAllocation {
                lower = max(UInt32(truncatingIfNeeded: UInt64(lower) & ~mask), ranges[r].first)
            }
            if let r = rangeIndex(upper &- 1), ranges[r].count >= Self.minWidenedAllocation {
                upper = UInt32(truncatingIfNeeded: min((UInt64(upper) &+ mask) & ~mask, UInt64(ranges[r].end)))
            }
            if lower != iv.lower || upper != iv.upper {
                widened[k] = LabelInterval(lower: lower, upper: upper, addressOnly: iv.addressOnly)
                changed = true
            }
        }
        guard changed else { return false }
        // Flooring and ceiling are monotone, so each flag's intervals stay sorted by lower.
        Self.merge(widened, [], value: &scratchValue, address: &scratchAddress,
                   addressOnly: &scratchAddressOnly, into: &list)
        return true
    }

    /// The label of the value set `[first, first + count)` of base labels (a run of input
    /// bytes). Cost: one intern lookup.
    public func rangeLabel(first: Label, count: Int) -> Label {
        guard count > 0, first != 0 else { return 0 }
        let upper = UInt64(first) + UInt64(count)
        return intern([LabelInterval(lower: first, upper: UInt32(min(upper, UInt64(Self.unionBit))))], coarsened: false)
    }

    // MARK: Union

    /// The union of two labels. union(x, 0) = x, union(x, x) = x, commutative.
    /// Cost: a compare in the trivial cases, a cache probe on a hit; a miss merges the two
    /// interval lists (O(intervals)) and interns the result.
    @inline(__always)
    public func union(_ a: Label, _ b: Label) -> Label {
        if a == b || b == 0 { return a }
        if a == 0 { return b }
        let (x, y) = a < b ? (a, b) : (b, a)
        // Once sets are widened, a base label meets the cache as its granule (what the
        // miss path would turn it into): a fresh input byte then finds the pair of its
        // granule instead of missing, and does not evict a pair that repeats.
        if counters.pointee.widening && (isBase(x) || isBase(y)) { return unionWidened(x, y) }
        return cachedUnion(x, y)
    }

    /// The union of `x` < `y` through the direct-mapped cache (key and union side by side,
    /// one cache line per probe); a miss computes and fills it (`unionMiss`).
    @inline(__always)
    func cachedUnion(_ x: Label, _ y: Label) -> Label {
        let key = UInt64(x) << 32 | UInt64(y)
        counters.pointee.unionLookups &+= 1
        let slot = Int(truncatingIfNeeded: PairMemo.mix(key) >> (64 - Self.cacheBits))
        // slot < 1 << cacheBits by the shift.
        let entry = cache + 2 &* slot
        if entry[0] == key {
            counters.pointee.unionHits &+= 1
            return Label(truncatingIfNeeded: entry[1])
        }
        return unionMiss(x, y, key: key, slot: slot)
    }

    /// `union` once widening started, with a base label among `x` < `y`: the union of
    /// their granules (`canonical`), through the cache.
    @inline(never)
    func unionWidened(_ x: Label, _ y: Label) -> Label {
        let cx = isBase(x) ? canonical(x) : x
        let cy = isBase(y) ? canonical(y) : y
        if cx == cy { return cx }
        return cx < cy ? cachedUnion(cx, cy) : cachedUnion(cy, cx)
    }

    @inline(never)
    func unionMiss(_ x: Label, _ y: Label, key: UInt64, slot: Int) -> Label {
        // Once sets are widened, a base label stands for its granule: the pair of granules
        // repeats for many bytes (an accumulator meeting input byte after byte), so it is
        // found in the cache where the pair of bytes would be new every time.
        if granuleShift != 0 && (isBase(x) || isBase(y)) {
            let cx = isBase(x) ? canonical(x) : x
            let cy = isBase(y) ? canonical(y) : y
            if cx != x || cy != y {
                let result = union(cx, cy)
                cache[2 &* slot] = key
                cache[2 &* slot &+ 1] = UInt64(result)
                return result
            }
        }
        // The memo pays off when recomputing costs more than its (likely) cache miss:
        // for sets of many intervals. Small unions are recomputed and found by interning.
        let worthMemo = intervalCount(x) + intervalCount(y) >= Self.memoThreshold
        var result: Label = worthMemo ? memo.find(key) : 0
        if result != 0 {
            counters.pointee.unionHits &+= 1
        } else {
            result = computeUnion(x, y)
            if worthMemo { memo.insert(key, result) }
        }
        cache[2 &* slot] = key
        cache[2 &* slot &+ 1] = UInt64(result)
        return result
    }

    /// Unions whose operands have this many intervals together go through the memo.
    static let memoThreshold = 16

    @inline(__always)
    func intervalCount(_ label: Label) -> Int {
        Self.isUnion(label) ? sets[Int(label & ~Self.unionBit)].count : 1
    }

    func computeUnion(_ x: Label, _ y: Label) -> Label {
        // x < y: a base (or coarse) label with a set is the common case (an accumulator
        // meeting one more input byte).
        if !Self.isUnion(x) {
            if !Self.isUnion(y) {
                scratchOut.removeAll(keepingCapacity: true)
                if y == x &+ 1 {
                    scratchOut.append(LabelInterval(lower: x, upper: y &+ 1))
                } else {
                    scratchOut.append(LabelInterval(lower: x, upper: x &+ 1))
                    scratchOut.append(LabelInterval(lower: y, upper: y &+ 1))
                }
                return intern(scratchOut, coarsened: isCoarse(x) || isCoarse(y))
            }
            if let r = insertBase(x, into: y) { return r }
        }
        scratchA.removeAll(keepingCapacity: true)
        scratchB.removeAll(keepingCapacity: true)
        appendIntervals(of: x, to: &scratchA)
        appendIntervals(of: y, to: &scratchB)
        Self.merge(scratchA, scratchB, value: &scratchValue, address: &scratchAddress,
                   addressOnly: &scratchAddressOnly, into: &scratchOut)
        var coarsened = isCoarsened(x) || isCoarsened(y)
        if scratchOut.count > intervalBound, coarsen(&scratchOut) { coarsened = true }
        return intern(scratchOut, coarsened: coarsened)
    }

    /// The union of base label `b` with set label `set` when `b` is outside the set or
    /// inside one of its value intervals; nil when `b` falls in an address-only interval
    /// (the general merge splits it). Cost: O(log intervals) to find the place, O(intervals)
    /// to build the new list.
    func insertBase(_ b: Label, into set: Label) -> Label? {
        let info = sets[Int(set & ~Self.unionBit)]
        let start = info.start, end = info.start + info.count
        // First interval with upper > b.
        var low = start, high = end
        while low < high {
            let mid = (low + high) >> 1
            if intervalStore[mid].upper <= b { low = mid + 1 } else { high = mid }
        }
        let i = low
        if i < end && intervalStore[i].lower <= b {
            return intervalStore[i].addressOnly ? nil : set
        }
        let joinsPrevious = i > start && intervalStore[i - 1].upper == b && !intervalStore[i - 1].addressOnly
        let joinsNext = i < end && intervalStore[i].lower == b &+ 1 && !intervalStore[i].addressOnly
        scratchOut.removeAll(keepingCapacity: true)
        scratchOut.append(contentsOf: intervalStore[start ..< (joinsPrevious ? i - 1 : i)])
        var lower = b, upper = b &+ 1
        if joinsPrevious { lower = intervalStore[i - 1].lower }
        if joinsNext { upper = intervalStore[i].upper }
        scratchOut.append(LabelInterval(lower: lower, upper: upper))
        scratchOut.append(contentsOf: intervalStore[(joinsNext ? i + 1 : i) ..< end])
        var coarsened = info.coarsened || isCoarse(b)
        if scratchOut.count > intervalBound, coarsen(&scratchOut) { coarsened = true }
        return intern(scratchOut, coarsened: coarsened)
    }

    /// The union of `count` labels at `labels` (the bytes of one operand). Consecutive
    /// base labels become one interval directly, so an 8-byte input word costs one intern
    /// rather than seven pairwise unions. Cost: O(count log count) on the slow path.
    public func union(of labels: UnsafePointer<Label>, count: Int) -> Label {
        var first: Label = 0
        var same = true
        for i in 0 ..< count {
            let l = labels[i]
            if l == 0 || l == first { continue }
            if first == 0 { first = l } else { same = false; break }
        }
        if same { return first }
        // An input word loaded in order: consecutive base labels, one interval.
        let l0 = labels[0]
        if isBase(l0) && count < 256 {
            var k = 1
            while k < count && labels[k] == l0 &+ UInt32(k) { k += 1 }
            if k == count { return runLabel(first: l0, count: count) }
        }
        scratchLabels.removeAll(keepingCapacity: true)
        var unions: Label = 0
        for i in 0 ..< count {
            let l = labels[i]
            if l == 0 { continue }
            if Self.isUnion(l) { unions = union(unions, l) } else { scratchLabels.append(l) }
        }
        var base: Label = 0
        if !scratchLabels.isEmpty {
            scratchLabels.sort()
            scratchOut.removeAll(keepingCapacity: true)
            for l in scratchLabels {
                if let last = scratchOut.last, l <= last.upper {
                    if l == last.upper { scratchOut[scratchOut.count - 1].upper = l &+ 1 }
                } else {
                    scratchOut.append(LabelInterval(lower: l, upper: l &+ 1))
                }
            }
            var coarsened = false
            if scratchOut.count > intervalBound, coarsen(&scratchOut) { coarsened = true }
            base = intern(scratchOut, coarsened: coarsened)
        }
        return union(base, unions)
    }

    /// `rangeLabel(first:count:)` behind a direct-mapped cache (the bytes of an input word
    /// meet in a register again and again).
    @inline(__always)
    func runLabel(first: Label, count: Int) -> Label {
        let key = UInt64(first) << 8 | UInt64(count)
        let slot = Int(truncatingIfNeeded: PairMemo.mix(key) >> (64 - Self.runCacheBits))
        // slot < 1 << runCacheBits by the shift.
        if runCacheKeys[slot] == key { return runCacheValues[slot] }
        let label = rangeLabel(first: first, count: count)
        runCacheKeys[slot] = key
        runCacheValues[slot] = label
        return label
    }

    /// Union of two sorted, disjoint interval lists, value dominating address-only for the
    /// same bytes; the result is sorted, disjoint, and same-flag neighbours are coalesced.
    static func merge(_ a: [LabelInterval], _ b: [LabelInterval], value: inout [LabelInterval],
                      address: inout [LabelInterval], addressOnly: inout [LabelInterval],
                      into out: inout [LabelInterval]) {
        unionOfFlag(a, b, addressOnly: false, into: &value)
        unionOfFlag(a, b, addressOnly: true, into: &address)
        // address-only bytes not covered by value intervals.
        addressOnly.removeAll(keepingCapacity: true)
        var k = 0
        for iv in address {
            var lower = iv.lower
            while k < value.count && value[k].upper <= lower { k += 1 }
            var j = k
            while lower < iv.upper {
                if j < value.count && value[j].lower < iv.upper {
                    if value[j].lower > lower {
                        addressOnly.append(LabelInterval(lower: lower, upper: value[j].lower, addressOnly: true))
                    }
                    lower = max(lower, value[j].upper)
                    j += 1
                } else {
                    addressOnly.append(LabelInterval(lower: lower, upper: iv.upper, addressOnly: true))
                    lower = iv.upper
                }
            }
        }
        out.removeAll(keepingCapacity: true)
        var i = 0, j = 0
        while i < value.count || j < addressOnly.count {
            if j >= addressOnly.count || (i < value.count && value[i].lower < addressOnly[j].lower) {
                out.append(value[i]); i += 1
            } else {
                out.append(addressOnly[j]); j += 1
            }
        }
    }

    /// Coalesced union of the intervals of `a` and `b` whose flag is `addressOnly`.
    static func unionOfFlag(_ a: [LabelInterval], _ b: [LabelInterval], addressOnly flag: Bool,
                            into out: inout [LabelInterval]) {
        out.removeAll(keepingCapacity: true)
        var i = 0, j = 0
        while true {
            while i < a.count && a[i].addressOnly != flag { i += 1 }
            while j < b.count && b[j].addressOnly != flag { j += 1 }
            let next: LabelInterval
            if i < a.count && (j >= b.count || a[i].lower <= b[j].lower) {
                next = a[i]; i += 1
            } else if j < b.count {
                next = b[j]; j += 1
            } else {
                break
            }
            if let last = out.last, next.lower <= last.upper {
                out[out.count - 1].upper = max(last.upper, next.upper)
            } else {
                out.append(LabelInterval(lower: next.lower, upper: next.upper, addressOnly: flag))
            }
        }
    }

    /// Whether the gap between base labels `left` and `right` (left < right) lies within
    /// the allocations of one event, so that widening across it adds no source.
    func sameSource(_ left: Label, _ right: Label) -> Bool {
        guard isBase(left), isBase(right), let i = rangeIndex(left), let j = rangeIndex(right) else { return false }
        if i == j { return true }
        guard j > i, j - i <= 16 else { return false }
        let event = ranges[i].event
        for k in i + 1 ... j where ranges[k].event != event { return false }
        return true
    }

    /// Merges the closest gaps of `list` until it holds at most `intervalBound` intervals,
    /// using only gaps within one source; if that is not enough and the list is above the
    /// hard bound, merges across sources too. Returns true if anything was merged.
    func coarsen(_ list: inout [LabelInterval]) -> Bool {
        let n = list.count
        guard n > intervalBound else { return false }
        var merge = [Bool](repeating: false, count: n - 1)
        var sameSourceGaps: [(cost: UInt64, index: Int)] = []
        var otherGaps: [(cost: UInt64, index: Int)] = []
        for i in 0 ..< n - 1 {
            var cost = UInt64(list[i + 1].lower - list[i].upper)
            if list[i].addressOnly != list[i + 1].addressOnly { cost |= 1 << 40 }
            if sameSource(list[i].upper - 1, list[i + 1].lower) {
                sameSourceGaps.append((cost, i))
            } else {
                otherGaps.append((cost, i))
            }
        }
        sameSourceGaps.sort { $0.cost < $1.cost || ($0.cost == $1.cost && $0.index < $1.index) }
        var remaining = n
        for g in sameSourceGaps where remaining > intervalBound {
            merge[g.index] = true
            remaining -= 1
        }
        if remaining > hardIntervalBound {
            otherGaps.sort { $0.cost < $1.cost || ($0.cost == $1.cost && $0.index < $1.index) }
            for g in otherGaps where remaining > intervalBound {
                merge[g.index] = true
                remaining -= 1
            }
        }
        guard remaining < n else { return false }
        var out: [LabelInterval] = []
        out.reserveCapacity(remaining)
        var current = list[0]
        for i in 1 ..< n {
            if merge[i - 1] {
                current.upper = list[i].upper
                // Value dominates: the widened interval is address-only only if both were.
                current.addressOnly = current.addressOnly && list[i].addressOnly
            } else {
                out.append(current)
                current = list[i]
            }
        }
        out.append(current)
        list = out
        return true
    }

    /// Past the interval budget: merges the closest gaps of each flag's intervals (any
    /// sources: the hull of the events between) until each flag keeps at most
    /// `compactIntervalBound`, then renormalizes (value dominating address-only). Returns
    /// false, with `list` untouched, when no flag exceeded the bound.
    func compact(_ list: inout [LabelInterval]) -> Bool {
        var value = list.filter { !$0.addressOnly }
        var address = list.filter(\.addressOnly)
        let bound = Self.compactIntervalBound
        guard value.count > bound || address.count > bound else { return false }
        func mergeClosest(_ l: inout [LabelInterval]) {
            guard l.count > bound else { return }
            var gaps = (0 ..< l.count - 1).map { (cost: l[$0 + 1].lower - l[$0].upper, index: $0) }
            gaps.sort { $0.cost < $1.cost || ($0.cost == $1.cost && $0.index < $1.index) }
            var merge = [Bool](repeating: false, count: l.count - 1)
            for g in gaps.prefix(l.count - bound) { merge[g.index] = true }
            var out: [LabelInterval] = []
            var current = l[0]
            for i in 1 ..< l.count {
                if merge[i - 1] { current.upper = l[i].upper } else { out.append(current); current = l[i] }
            }
            out.append(current)
            l = out
        }
        mergeClosest(&value)
        mergeClosest(&address)
        Self.merge(value, address, value: &scratchValue, address: &scratchAddress,
                   addressOnly: &scratchAddressOnly, into: &list)
        return true
    }

    // MARK: Address-only

    /// The same bytes as `label`, every interval marked address-only (the label of an
    /// address register, added to a loaded value). Memoized. Cost: a direct-mapped cache
    /// probe, a dictionary probe on a cache miss.
    @inline(__always)
    public func addressOnly(_ label: Label) -> Label {
        if label == 0 { return 0 }
        let slot = Int(truncatingIfNeeded: (label &* 0x9E37_79B9) >> (32 - Self.addressOnlyCacheBits))
        // slot < 1 << addressOnlyCacheBits by the shift.
        if addressOnlyKeys[slot] == label { return addressOnlyValues[slot] }
        let r = addressOnlyMiss(label)
        addressOnlyKeys[slot] = label
        addressOnlyValues[slot] = r
        return r
    }

    @inline(never)
    func addressOnlyMiss(_ label: Label) -> Label {
        if let r = addressOnlyMemo[label] { return r }
        var list = intervals(of: label)
        for i in list.indices { list[i].addressOnly = true }
        // Coalesce neighbours that differed only in their flag.
        var out: [LabelInterval] = []
        for iv in list {
            if let last = out.last, last.upper == iv.lower { out[out.count - 1].upper = iv.upper } else { out.append(iv) }
        }
        let r = intern(out, coarsened: isCoarsened(label))
        if addressOnlyMemo.count >= memoLimit { addressOnlyMemo.removeAll(keepingCapacity: true) }
        addressOnlyMemo[label] = r
        return r
    }

    // MARK: Resolution

    /// Calls `body(event, start, end, addressOnly, metadata)` for each piece of `label` in
    /// event coordinates, in base-label order, pieces of one event that touch merged.
    func forEachSource(_ label: Label, _ body: (UInt64, Int64, Int64, Bool, Bool) -> Void) {
        var pending: (event: UInt64, start: Int64, end: Int64, addressOnly: Bool, metadata: Bool)?
        func emit(_ event: UInt64, _ start: Int64, _ end: Int64, _ addressOnly: Bool, _ metadata: Bool) {
            if let p = pending, p.event == event, p.addressOnly == addressOnly, p.metadata == metadata,
               start <= p.end, end >= p.start {
                pending = (event, min(p.start, start), max(p.end, end), addressOnly, metadata)
                return
            }
            if let p = pending { body(p.event, p.start, p.end, p.addressOnly, p.metadata) }
            pending = (event, start, end, addressOnly, metadata)
        }
        for iv in intervals(of: label) {
            // Base part.
            let baseUpper = min(iv.upper, nextBase)
            if iv.lower < baseUpper, var i = rangeIndex(max(iv.lower, 1)) {
                while i < ranges.count && ranges[i].first < baseUpper {
                    let r = ranges[i]
                    let lo = max(iv.lower, r.first), hi = min(baseUpper, r.end)
                    if lo < hi {
                        let start = r.eventOffset + Int64(lo - r.first)
                        emit(r.event, start, start + Int64(hi - lo), iv.addressOnly, r.metadata)
                    }
                    i += 1
                }
            }
            // Coarse part.
            let coarseEnd = UInt64(baseCapacity) + UInt64(coarse.count)
            var c = UInt64(max(iv.lower, baseCapacity))
            while c < UInt64(iv.upper) && c < coarseEnd {
                for s in coarse[Int(c - UInt64(baseCapacity))] { emit(s.event, s.start, s.end, iv.addressOnly, s.metadata) }
                c += 1
            }
        }
        if let p = pending { body(p.event, p.start, p.end, p.addressOnly, p.metadata) }
    }

    /// The input bytes a label stands for, in event coordinates, split at event boundaries,
    /// in base-label order. Cost: O(intervals × log ranges) plus the pieces.
    public func resolve(_ label: Label) -> [ResolvedSource] {
        var out: [ResolvedSource] = []
        forEachSource(label) { event, start, end, addressOnly, metadata in
            out.append((TaintByteRange(event: event, start: start, end: end), addressOnly, metadata))
        }
        return out
    }

    /// The byte ranges of `label` (address-only pieces included), merged per event.
    public func byteRanges(_ label: Label) -> [TaintByteRange] {
        var out: [TaintByteRange] = []
        forEachSource(label) { event, start, end, _, _ in
            if let last = out.last, last.event == event, start <= last.end, end >= last.start {
                out[out.count - 1] = TaintByteRange(event: event, start: min(last.start, start), end: max(last.end, end))
            } else {
                out.append(TaintByteRange(event: event, start: start, end: end))
            }
        }
        return out
    }

    /// The distinct source events of a label, ascending.
    public func sourceEvents(_ label: Label) -> [UInt64] {
        var events: [UInt64] = []
        forEachSource(label) { event, _, _, _, _ in
            if events.last != event { events.append(event) }
        }
        events.sort()
        var unique: [UInt64] = []
        for e in events where unique.last != e { unique.append(e) }
        return unique
    }
}

extension LabelTable {
    /// Calls `body(event, eventStart, runOffset, count, metadata)` for each piece of the base
    /// labels `[first, first + count)` that lies in one allocation range: run byte
    /// `runOffset + k` is byte `eventStart + k` of `event`. Labels outside every range
    /// (not base labels) are skipped.
    func forEachBasePiece(first: Label, count: Int, _ body: (UInt64, Int64, Int, Int, Bool) -> Void) {
        guard count > 0, var i = rangeIndex(first) else { return }
        let end = UInt64(first) + UInt64(count)
        var label = UInt64(first)
        while label < end && i < ranges.count {
            let r = ranges[i]
            let hi = min(end, UInt64(r.end))
            if hi > label {
                body(r.event, r.eventOffset + Int64(label - UInt64(r.first)), Int(label - UInt64(first)), Int(hi - label), r.metadata)
                label = hi
            }
            i += 1
        }
    }
}

// MARK: Bounded resolution

/// One entry of a bounded resolution (`LabelTable.boundedSources`): bytes `[start, end)` of
/// each source event from `event` through `throughEvent` (global sequence numbers,
/// inclusive; equal for a single event). A span of several events is a coarsening: it
/// names every source event in the window, those of the set and any between them.
public struct SourceSpan: Equatable, Sendable {
    public var event: UInt64
    public var throughEvent: UInt64
    public var start: Int64
    public var end: Int64
    /// Every byte of the entry reached the value only through addresses.
    public var addressOnly: Bool
    /// Some byte of the entry came from a metadata source.
    public var metadata: Bool

    /// An entry for bytes `[start, end)` of events `event ... throughEvent`.
    public init(event: UInt64, throughEvent: UInt64, start: Int64, end: Int64, addressOnly: Bool, metadata: Bool) {
        self.event = event; self.throughEvent = throughEvent; self.start = start; self.end = end
        self.addressOnly = addressOnly; self.metadata = metadata
    }

    /// True when the entry stands for more than one event.
    public var isSpan: Bool { throughEvent != event }

    /// The hull of two entries: every event and byte of either (flags: address-only if
    /// both are, metadata if either is).
    func hull(_ other: SourceSpan) -> SourceSpan {
        SourceSpan(event: min(event, other.event), throughEvent: max(throughEvent, other.throughEvent),
                   start: min(start, other.start), end: max(end, other.end),
                   addressOnly: addressOnly && other.addressOnly, metadata: metadata || other.metadata)
    }
}

extension LabelTable {
    /// Default most entries `boundedSources` returns per address-only flag.
    public static let defaultMaxSourceEntries = 64

    /// The sources of `label` in at most `maxEntries` entries per flag (value, address-only),
    /// over-approximating, never dropping a source: pieces of one event are merged; an
    /// interval that covers more than `maxEntries` allocations (a hull across events, left by
    /// `coarsen`) becomes one span of events; past the bound, neighbouring entries in event
    /// order are merged into spans (the hull of their events and bytes), evenly.
    /// `coarsened` is true when some entry is a span or wider than the set's own pieces.
    /// Entries are sorted by flag (value first), then event.
    /// Cost: O(intervals × log ranges + allocations the set's intervals cover + entries log
    /// entries); memory O(entries), never O(allocations covered).
    public func boundedSources(_ label: Label, maxEntries: Int = LabelTable.defaultMaxSourceEntries)
        -> (entries: [SourceSpan], coarsened: Bool) {
        let bound = max(1, maxEntries)
        var raw: [SourceSpan] = []
        var coarsened = false
        for iv in intervals(of: label) {
            let baseUpper = min(iv.upper, nextBase)
            if iv.lower < baseUpper, let i = rangeIndex(max(iv.lower, 1)) {
                let j = rangeIndex(baseUpper - 1) ?? ranges.count - 1
                if j - i + 1 > bound {
                    // A hull across many allocations: one span, its window and byte hull found
                    // by a scan (no list of the allocations).
                    var span = SourceSpan(event: .max, throughEvent: 0, start: .max, end: .min, addressOnly: iv.addressOnly, metadata: false)
                    for k in i ... j {
                        let r = ranges[k]
                        let lo = max(iv.lower, r.first), hi = min(baseUpper, r.end)
                        guard lo < hi else { continue }
                        let start = r.eventOffset + Int64(lo - r.first)
                        span.event = min(span.event, r.event)
                        span.throughEvent = max(span.throughEvent, r.event)
                        span.start = min(span.start, start)
                        span.end = max(span.end, start + Int64(hi - lo))
                        span.metadata = span.metadata || r.metadata
                    }
                    if span.event <= span.throughEvent {
                        raw.append(span)
                        coarsened = coarsened || span.isSpan
                    }
                } else {
                    for k in i ... j {
                        let r = ranges[k]
                        let lo = max(iv.lower, r.first), hi = min(baseUpper, r.end)
                        guard lo < hi else { continue }
                        let start = r.eventOffset + Int64(lo - r.first)
                        raw.append(SourceSpan(event: r.event, throughEvent: r.event, start: start, end: start + Int64(hi - lo),
                                              addressOnly: iv.addressOnly, metadata: r.metadata))
                    }
                }
            }
            let coarseEnd = UInt64(baseCapacity) + UInt64(coarse.count)
            var c = UInt64(max(iv.lower, baseCapacity))
            while c < UInt64(iv.upper) && c < coarseEnd {
                for s in coarse[Int(c - UInt64(baseCapacity))] {
                    raw.append(SourceSpan(event: s.event, throughEvent: s.event, start: s.start, end: s.end,
                                          addressOnly: iv.addressOnly, metadata: s.metadata))
                }
                c += 1
            }
        }
        var out: [SourceSpan] = []
        for flag in [false, true] {
            var list = raw.filter { $0.addressOnly == flag }
            list.sort { ($0.event, $0.throughEvent, $0.start) < ($1.event, $1.throughEvent, $1.start) }
            // Pieces of one event that overlap or touch, and spans whose windows overlap, merge.
            var merged: [SourceSpan] = []
            for e in list {
                if var last = merged.last, e.event <= last.throughEvent,
                   last.isSpan || e.isSpan || (e.start <= last.end && e.end >= last.start) {
                    if e.metadata != last.metadata && !(last.isSpan || e.isSpan) {
                        merged.append(e)
                        continue
                    }
                    last = last.hull(e)
                    merged[merged.count - 1] = last
                } else {
                    merged.append(e)
                }
            }
            if merged.count > bound {
                // Past the bound: consecutive entries in event order, merged evenly into spans.
                coarsened = true
                let chunk = (merged.count + bound - 1) / bound
                var k = 0
                while k < merged.count {
                    var hull = merged[k]
                    for e in merged[k + 1 ..< min(merged.count, k + chunk)] { hull = hull.hull(e) }
                    out.append(hull)
                    k += chunk
                }
            } else {
                out.append(contentsOf: merged)
            }
        }
        return (out, coarsened)
    }
}

extension LabelTable {
    /// The byte ranges of `label` (address-only pieces included) as `byteRanges` gives
    /// them, bounded: at most about `2 × maxEntries` ranges, a range standing for a span of
    /// events (`TaintByteRange.throughEvent`) where the set named more (see
    /// `boundedSources`). Sorted by event. Cost: that of `boundedSources`.
    public func boundedByteRanges(_ label: Label, maxEntries: Int = LabelTable.defaultMaxSourceEntries)
        -> (ranges: [TaintByteRange], coarsened: Bool) {
        let (entries, coarsened) = boundedSources(label, maxEntries: maxEntries)
        let sorted = entries.sorted { ($0.event, $0.throughEvent, $0.start) < ($1.event, $1.throughEvent, $1.start) }
        var out: [TaintByteRange] = []
        var lastThrough: UInt64 = 0
        for e in sorted {
            if var last = out.last, e.event <= lastThrough,
               last.throughEvent != nil || e.isSpan || (e.start <= last.end && e.end >= last.start) {
                lastThrough = max(lastThrough, e.throughEvent)
                last.start = min(last.start, e.start)
                last.end = max(last.end, e.end)
                last.throughEvent = lastThrough == last.event ? nil : lastThrough
                out[out.count - 1] = last
            } else {
                out.append(TaintByteRange(event: e.event, start: e.start, end: e.end, throughEvent: e.isSpan ? e.throughEvent : nil))
                lastThrough = e.throughEvent
            }
        }
        return (out, coarsened)
    }

    /// Whether the label's intervals cover more than `maxEntries` allocations (source
    /// pieces) in all: then `boundedSources` may coarsen it; else its exact pieces number
    /// at most `maxEntries` (plus coarse labels' events). Cost: O(log ranges).
    public func mayExceed(_ label: Label, maxEntries: Int = LabelTable.defaultMaxSourceEntries) -> Bool {
        guard Self.isUnion(label) else { return false }
        let info = sets[Int(label & ~Self.unionBit)]
        guard info.count > 0 else { return false }
        let lower = intervalStore[info.start].lower, upper = min(intervalStore[info.start + info.count - 1].upper, nextBase)
        guard lower < upper, let i = rangeIndex(max(lower, 1)) else { return false }
        let j = rangeIndex(upper - 1) ?? ranges.count - 1
        return j - i + 1 > maxEntries
    }
}
