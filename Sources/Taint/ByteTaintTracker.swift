// Byte-level taint propagation: the `DataFlowTracker` hooks the interpreter calls for every
// data movement, at byte precision over `ShadowMemory` and `ShadowRegisters`.
//
// The hooks run once or twice per guest instruction from the interpreter's -Ounchecked
// loop (specialized in this module, TaintedMachine.swift, so their clean paths inline into
// it; the work on labels stays in @inline(never) slow paths), so they are written like C: state behind unsafe pointers, no allocation, closure,
// existential or reference counting on the common paths, and the clean case first (most
// instructions touch no labelled byte: a register's labels OR to 0, a memory operand lies
// in the shared zero page). Union work happens only when a label is actually present.

import Trace
import X86

/// Propagates byte labels through guest instructions and records sources, sinks and
/// control-flow observations of one process (see DESIGN.md, "Taint and refinement").
///
/// Hook semantics:
/// - `copy`: destination byte k takes source byte k's label; extra destination bytes
///   (zero/sign extension) take the union of all source bytes; a constant source clears;
/// - `combine`: each destination byte takes the union of its own label and of all source
///   bytes (arithmetic mixes bytes);
/// - `derive`: every destination byte takes the union of all bytes of both sources;
/// - a 4-byte write to a general-purpose register also clears its upper 4 bytes (the CPU
///   zero-extends, SDM Vol. 1, 3.4.1.1);
/// - `flags(from:)`: the flags byte takes the union of the source's bytes. An instruction
///   that reads several operands into the flags (cmp, test, cmps) calls it once per
///   operand, so consecutive `flags` calls accumulate; any other hook in between starts
///   the next instruction's flags afresh (ALU.swift calls `flags` after the destination
///   was updated, so "the flags now depend on source" reads the updated labels).
///
/// Not thread-safe: one tracker per replayed process, threads switch by saving and
/// restoring the register shadow.
public final class ByteTaintTracker: DataFlowTracker {
    /// Mutable state the hooks touch, behind a pointer so reads and writes are plain
    /// loads and stores (no exclusivity checks on class properties). Allocated in init,
    /// freed in deinit.
    struct HotState {
        /// False while no label exists anywhere in this process's shadow: every hook is a
        /// no-op then (all labels are 0). Set by sources, cleared when the shadow empties.
        var active = false
        /// The previous hook call was `flags`: the next `flags` call accumulates.
        var flagsAccumulate = false
        var addressDependency = true
        /// The flags label `flagsReachControl` saw last (its events are already recorded).
        var lastControlLabel: Label = 0
    }

    /// Label allocation and the union table, shared with forked children.
    public let labels: LabelTable
    /// Labels of guest memory.
    public let shadowMemory: ShadowMemory
    /// Labels of the running thread's register file.
    public let shadowRegisters: ShadowRegisters

    let hot: UnsafeMutablePointer<HotState>
    /// `shadowRegisters.labels` (owned by it; this object keeps it alive).
    let regs: UnsafeMutablePointer<Label>
    let registerCount: UInt64
    let flagsOffset: Int
    /// Three buffers of `scratchSize` labels for the hooks (a location is at most 255
    /// bytes). Allocated in init, freed in deinit.
    let scratch: UnsafeMutablePointer<Label>
    static let scratchSize = 256

    /// Where sink runs, control sources, alerts and path sinks go. Swapping it starts a
    /// fresh record of control sources.
    public var log: TaintLog {
        didSet { resetControlMemo() }
    }
    /// Stamp for control sources and alerts: the sequence number of the next recorded
    /// event of the unit (set by the replayer before each run).
    public var currentSequence: UInt64 = 0
    /// Called for each new alert with its label and target, while the interpreter still
    /// stands at the instruction (so the replayer can read the thread and RIP).
    public var onAlert: ((Label, UInt64) -> Void)?
    /// Input bytes labelled by this tracker (content and metadata).
    public private(set) var sourceBytes: UInt64 = 0
    /// Sink runs kept per `recordSink` call before neighbours are merged (coarsened).
    public var maxRunsPerSink = 16_384
    /// Flows per sink event before `flows(of:)` merges neighbours per input event.
    public var maxFlowsPerSink = 65_536
    /// Sink runs a log holds before the runs of its earlier sink events are summarised
    /// into flows (`TaintLog.settledFlows`), so that its memory stays bounded.
    public var maxPendingRuns = 1 << 16
    /// Union labels whose events are all recorded as control sources in this log.
    var controlCovered: [Label] = Array(repeating: 0, count: 256)

    /// Whether loads through input-derived addresses add the address registers' labels
    /// (marked address-only) to the loaded value. On by default (DESIGN.md).
    public var addressDependencyEnabled: Bool {
        get { hot.pointee.addressDependency }
        set { hot.pointee.addressDependency = newValue }
    }

    /// A tracker with clean shadow state.
    /// - Parameter labels: the job's label table (a fresh one by default).
    public init(labels: LabelTable = LabelTable()) {
        self.labels = labels
        shadowMemory = ShadowMemory()
        shadowRegisters = ShadowRegisters()
        regs = shadowRegisters.labels
        registerCount = UInt64(shadowRegisters.count)
        flagsOffset = Int(RegisterFile.flags)
        hot = .allocate(capacity: 1)
        hot.initialize(to: HotState())
        scratch = .allocate(capacity: Self.scratchSize * 3)
        scratch.initialize(repeating: 0, count: Self.scratchSize * 3)
        log = TaintLog()
    }

    private init(copying other: ByteTaintTracker) {
        labels = other.labels
        shadowMemory = other.shadowMemory.copy()
        shadowRegisters = ShadowRegisters()
        shadowRegisters.restore(other.shadowRegisters.save())
        regs = shadowRegisters.labels
        registerCount = UInt64(shadowRegisters.count)
        flagsOffset = other.flagsOffset
        hot = .allocate(capacity: 1)
        hot.initialize(to: other.hot.pointee)
        hot.pointee.lastControlLabel = 0
        scratch = .allocate(capacity: Self.scratchSize * 3)
        scratch.initialize(repeating: 0, count: Self.scratchSize * 3)
        log = TaintLog()
        currentSequence = other.currentSequence
        maxRunsPerSink = other.maxRunsPerSink
        maxFlowsPerSink = other.maxFlowsPerSink
        maxPendingRuns = other.maxPendingRuns
    }

    deinit {
        hot.deallocate()
        scratch.deallocate()
    }

    /// The label of the flags byte.
    public var flagsLabel: Label { regs[flagsOffset] }

    /// True while some shadow byte may carry a label (hooks do work only then).
    public var isActive: Bool { hot.pointee.active }

    func resetControlMemo() {
        hot.pointee.lastControlLabel = 0
        for i in controlCovered.indices { controlCovered[i] = 0 }
    }

    // MARK: Location access (hot path)

    /// Reads the labels of `location` into `buffer` and returns their bitwise OR. When the
    /// result is 0 the buffer may be left unwritten. Register bytes past the file read 0.
    func gather(_ location: DataLocation, into buffer: UnsafeMutablePointer<Label>) -> Label {
        let n = Int(location.size)
        switch location.kind {
        case .register:
            guard location.offset &+ UInt64(n) <= registerCount else { return gatherClipped(location, into: buffer) }
            // In bounds by the guard.
            let p = regs + Int(location.offset)
            var any: Label = 0
            for k in 0 ..< n {
                let l = p[k]
                buffer[k] = l
                any |= l
            }
            return any
        case .memory:
            let address = location.offset
            let offset = Int(address & ShadowMemory.pageMask)
            guard offset + n <= ShadowMemory.pageSize else { return shadowMemory.read(buffer, count: n, at: address) }
            let page = shadowMemory.readPage(address >> ShadowMemory.pageShift)
            if page == shadowMemory.zeroPage { return 0 }
            // offset + n <= pageSize by the guard.
            let p = page + offset
            var any: Label = 0
            for k in 0 ..< n {
                let l = p[k]
                buffer[k] = l
                any |= l
            }
            return any
        case .constant:
            return 0
        }
    }

    @inline(never)
    func gatherClipped(_ location: DataLocation, into buffer: UnsafeMutablePointer<Label>) -> Label {
        var any: Label = 0
        for k in 0 ..< Int(location.size) {
            let offset = location.offset &+ UInt64(k)
            let l = offset < registerCount ? regs[Int(offset)] : 0
            buffer[k] = l
            any |= l
        }
        return any
    }

    /// Writes `location.size` labels from `buffer`; `any` is their OR (0 clears).
    func scatter(_ location: DataLocation, from buffer: UnsafeMutablePointer<Label>, any: Label) {
        if any == 0 { clearLocation(location); return }
        let n = Int(location.size)
        switch location.kind {
        case .register:
            guard location.offset &+ UInt64(n) <= registerCount else { scatterClipped(location, from: buffer); return }
            // In bounds by the guard.
            Self.copyLabels(to: regs + Int(location.offset), from: buffer, n)
            zeroExtend(location)
        case .memory:
            let address = location.offset
            let offset = Int(address & ShadowMemory.pageMask)
            guard offset + n <= ShadowMemory.pageSize else { shadowMemory.write(buffer, count: n, at: address); return }
            Self.copyLabels(to: shadowMemory.writablePage(address >> ShadowMemory.pageShift) + offset, from: buffer, n)
        case .constant:
            return
        }
    }

    @inline(never)
    func scatterClipped(_ location: DataLocation, from buffer: UnsafeMutablePointer<Label>) {
        for k in 0 ..< Int(location.size) {
            let offset = location.offset &+ UInt64(k)
            if offset < registerCount { regs[Int(offset)] = buffer[k] }
        }
    }

    /// Gives every byte of `location` the label `label`.
    func fill(_ location: DataLocation, with label: Label) {
        if label == 0 { clearLocation(location); return }
        let n = Int(location.size)
        if let p = labelPointer(location, writable: true) {
            Self.fillLabels(p, n, label)
            zeroExtend(location)
            return
        }
        scratch.update(repeating: label, count: n)
        scatter(location, from: scratch, any: label)
    }

    /// Clears the labels of `location` (nothing is allocated for memory).
    func clearLocation(_ location: DataLocation) {
        let n = Int(location.size)
        switch location.kind {
        case .register:
            guard location.offset &+ UInt64(n) <= registerCount else {
                shadowRegisters.clear(offset: Int(clamping: location.offset), size: n)
                return
            }
            // In bounds by the guard.
            (regs + Int(location.offset)).update(repeating: 0, count: n)
            zeroExtend(location)
        case .memory:
            let address = location.offset
            let offset = Int(address & ShadowMemory.pageMask)
            guard offset + n <= ShadowMemory.pageSize else { shadowMemory.clear(address: address, length: n); return }
            let page = shadowMemory.readPage(address >> ShadowMemory.pageShift)
            if page == shadowMemory.zeroPage { return }
            (page + offset).update(repeating: 0, count: n)
        case .constant:
            return
        }
    }

    /// A 4-byte write to a general-purpose register zero-extends into the upper 4 bytes
    /// (SDM Vol. 1, 3.4.1.1), which are then clean.
    @inline(__always)
    func zeroExtend(_ location: DataLocation) {
        if location.kind == .register && location.size == 4 && location.offset < RegisterFile.xmm(0) && location.offset & 7 == 0 {
            // offset + 8 <= xmm(0) <= registerCount.
            (regs + Int(location.offset) + 4).update(repeating: 0, count: 4)
        }
    }

    /// The union of the labels of `location` (0 when clean), using `buffer` as scratch
    /// when the labels do not lie in one place (a memory operand crossing a page).
    @inline(__always)
    func unionOfLocation(_ location: DataLocation, buffer: UnsafeMutablePointer<Label>) -> Label {
        if let p = labelPointer(location, writable: false) { return unionOfLabels(p, Int(location.size)) }
        let any = gather(location, into: buffer)
        if any == 0 { return 0 }
        return labels.union(of: buffer, count: Int(location.size))
    }

    /// Adds `label` to every byte of `location` (each byte: union of its label and `label`).
    func addToLocation(_ location: DataLocation, _ label: Label) {
        if label != 0, let p = labelPointer(location, writable: true) {
            // Neighbouring bytes mostly share a label: one union per change.
            var previousOld: Label = 0
            var previousNew: Label = label
            for k in 0 ..< Int(location.size) {
                let old = p[k]
                if old != previousOld {
                    previousOld = old
                    previousNew = labels.union(old, label)
                }
                p[k] = previousNew
            }
            zeroExtend(location)
            return
        }
        let buffer = scratch + Self.scratchSize
        let n = Int(location.size)
        let any = gather(location, into: buffer)
        if any == 0 {
            fill(location, with: label)
            return
        }
        var previousOld: Label = 0
        var previousNew: Label = label
        for k in 0 ..< n {
            let old = buffer[k]
            if old != previousOld {
                previousOld = old
                previousNew = labels.union(old, label)
            }
            buffer[k] = previousNew
        }
        scatter(location, from: buffer, any: label)
    }

    /// Copy semantics from labels already gathered into `source` (`count` of them, OR `any`).
    func transfer(to destination: DataLocation, from source: UnsafeMutablePointer<Label>, count: Int, any: Label) {
        if any == 0 { clearLocation(destination); return }
        let m = Int(destination.size)
        if m > count {
            let extended = labels.union(of: source, count: count)
            (source + count).update(repeating: extended, count: m - count)
        }
        scatter(destination, from: source, any: any)
    }

    // MARK: Direct label access (slow paths without gather and scatter)

    /// The labels of `location` in place, when they lie in one place (a register range
    /// inside the file, memory within one page); nil otherwise (the caller gathers).
    /// - For reading (`writable` false) a memory range may be on the shared zero page,
    ///   never to be written through, and a constant reads as that page (no bytes to label;
    ///   its size is below a page).
    /// - For writing, a memory page is allocated if needed, and a constant gives nil.
    /// `writable` is a constant at every call site, so each use inlines to one branch.
    @inline(__always)
    func labelPointer(_ location: DataLocation, writable: Bool) -> UnsafeMutablePointer<Label>? {
        let n = Int(location.size)
        switch location.kind {
        case .register:
            guard location.offset &+ UInt64(n) <= registerCount else { return nil }
            // In bounds by the guard.
            return regs + Int(location.offset)
        case .memory:
            let address = location.offset
            let offset = Int(address & ShadowMemory.pageMask)
            guard offset + n <= ShadowMemory.pageSize else { return nil }
            let vpn = address >> ShadowMemory.pageShift
            // offset + n <= pageSize by the guard.
            return (writable ? shadowMemory.writablePage(vpn) : shadowMemory.readPage(vpn)) + offset
        case .constant:
            return writable ? nil : shadowMemory.zeroPage
        }
    }

    /// The union of `count` labels at `p`. Cost: a few compares when at most one distinct
    /// non-zero label is present (the common case: a byte, or a value whose bytes came
    /// from one set); otherwise `LabelTable.union(of:count:)`. Scalar code on purpose:
    /// Swift's generic SIMD operations measured several times slower here.
    @inline(__always)
    func unionOfLabels(_ p: UnsafeMutablePointer<Label>, _ count: Int) -> Label {
        switch count {
        case 1:
            return p[0]
        case 2:
            let a = p[0], b = p[1]
            if a == b || b == 0 { return a }
            if a == 0 { return b }
            return labels.union(a, b)
        case 4:
            let a = p[0], b = p[1], c = p[2], d = p[3]
            let any = a | b | c | d
            // Every label 0 or equal to the OR: at most one distinct non-zero label.
            if any == 0 { return 0 }
            if Self.zeroOr(a, any) && Self.zeroOr(b, any) && Self.zeroOr(c, any) && Self.zeroOr(d, any) { return any }
        case 8:
            var any: Label = 0
            for k in 0 ..< 8 { any |= p[k] }
            if any == 0 { return 0 }
            var same = true
            for k in 0 ..< 8 where !Self.zeroOr(p[k], any) { same = false }
            if same { return any }
        default:
            break
        }
        return labels.union(of: p, count: count)
    }

    @inline(__always)
    static func zeroOr(_ label: Label, _ any: Label) -> Bool { label == 0 || label == any }

    /// Copies `count` labels from `source` to `destination` (overlap allowed), with fixed
    /// size moves for the common operand sizes instead of a memmove call.
    @inline(__always)
    static func copyLabels(to destination: UnsafeMutablePointer<Label>, from source: UnsafeMutablePointer<Label>, _ count: Int) {
        let s = UnsafeRawPointer(source), d = UnsafeMutableRawPointer(destination)
        switch count {
        case 1: destination[0] = source[0]
        case 2: d.storeBytes(of: s.loadUnaligned(as: UInt64.self), as: UInt64.self)
        case 4:
            // Both loads before the stores: overlapping ranges copy as memmove would.
            let x = s.loadUnaligned(as: UInt64.self), y = s.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            d.storeBytes(of: x, as: UInt64.self)
            d.storeBytes(of: y, toByteOffset: 8, as: UInt64.self)
        case 8:
            let x = s.loadUnaligned(as: UInt64.self), y = s.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            let z = s.loadUnaligned(fromByteOffset: 16, as: UInt64.self), w = s.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
            d.storeBytes(of: x, as: UInt64.self)
            d.storeBytes(of: y, toByteOffset: 8, as: UInt64.self)
            d.storeBytes(of: z, toByteOffset: 16, as: UInt64.self)
            d.storeBytes(of: w, toByteOffset: 24, as: UInt64.self)
        default: destination.update(from: source, count: count)
        }
    }

    /// Gives every one of `count` labels at `p` the label `label`.
    @inline(__always)
    static func fillLabels(_ p: UnsafeMutablePointer<Label>, _ count: Int, _ label: Label) {
        let d = UnsafeMutableRawPointer(p)
        let pair = UInt64(label) | UInt64(label) &<< 32
        switch count {
        case 1: p[0] = label
        case 2: d.storeBytes(of: pair, as: UInt64.self)
        case 4:
            d.storeBytes(of: pair, as: UInt64.self)
            d.storeBytes(of: pair, toByteOffset: 8, as: UInt64.self)
        case 8:
            d.storeBytes(of: pair, as: UInt64.self)
            d.storeBytes(of: pair, toByteOffset: 8, as: UInt64.self)
            d.storeBytes(of: pair, toByteOffset: 16, as: UInt64.self)
            d.storeBytes(of: pair, toByteOffset: 24, as: UInt64.self)
        default: p.update(repeating: label, count: count)
        }
    }

    // MARK: Quick checks (inlined into every hook)

    /// Bitwise OR of `count` labels at `p` (0: all clear), with fixed-size loads for the
    /// common operand sizes instead of a loop.
    @inline(__always)
    static func orOfLabels(_ p: UnsafeMutablePointer<Label>, _ count: Int) -> Label {
        let raw = UnsafeRawPointer(p)
        var v: UInt64
        switch count {
        case 1: return p[0]
        case 2: v = raw.loadUnaligned(as: UInt64.self)
        case 4: v = raw.loadUnaligned(as: UInt64.self) | raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        case 8:
            v = raw.loadUnaligned(as: UInt64.self) | raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                | raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self) | raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
        case 16:
            let lo = raw.loadUnaligned(as: UInt64.self) | raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                | raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self) | raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
            let hi = raw.loadUnaligned(fromByteOffset: 32, as: UInt64.self) | raw.loadUnaligned(fromByteOffset: 40, as: UInt64.self)
                | raw.loadUnaligned(fromByteOffset: 48, as: UInt64.self) | raw.loadUnaligned(fromByteOffset: 56, as: UInt64.self)
            v = lo | hi
        default:
            var any: Label = 0
            for k in 0 ..< count { any |= p[k] }
            return any
        }
        return Label(truncatingIfNeeded: v | v &>> 32)
    }

    /// Clears `count` labels at `p` with fixed-size stores for the common sizes.
    @inline(__always)
    static func zeroLabels(_ p: UnsafeMutablePointer<Label>, _ count: Int) {
        let raw = UnsafeMutableRawPointer(p)
        switch count {
        case 1: p[0] = 0
        case 2: raw.storeBytes(of: UInt64(0), as: UInt64.self)
        case 4:
            raw.storeBytes(of: UInt64(0), as: UInt64.self)
            raw.storeBytes(of: UInt64(0), toByteOffset: 8, as: UInt64.self)
        case 8:
            raw.storeBytes(of: UInt64(0), as: UInt64.self)
            raw.storeBytes(of: UInt64(0), toByteOffset: 8, as: UInt64.self)
            raw.storeBytes(of: UInt64(0), toByteOffset: 16, as: UInt64.self)
            raw.storeBytes(of: UInt64(0), toByteOffset: 24, as: UInt64.self)
        default:
            for k in 0 ..< count { p[k] = 0 }
        }
    }

    /// The OR of the labels of `location` when that is cheap to know, else 1 (a memory
    /// operand crossing a page, a register range past the file): any non-zero result sends
    /// the hook to its slow path, which handles every case.
    @inline(__always)
    func quickLabels(_ location: DataLocation) -> Label {
        let n = Int(location.size)
        switch location.kind {
        case .register:
            guard location.offset &+ UInt64(n) <= registerCount else { return 1 }
            // In bounds by the guard.
            return Self.orOfLabels(regs + Int(location.offset), n)
        case .memory:
            let address = location.offset
            let offset = Int(address & ShadowMemory.pageMask)
            guard offset + n <= ShadowMemory.pageSize else { return 1 }
            let page = shadowMemory.readPage(address >> ShadowMemory.pageShift)
            if page == shadowMemory.zeroPage { return 0 }
            // offset + n <= pageSize by the guard.
            return Self.orOfLabels(page + offset, n)
        case .constant:
            return 0
        }
    }

    /// Clears `location` on the common paths (a register, memory within one page);
    /// nothing is written for memory on the shared zero page.
    @inline(__always)
    func clearQuick(_ location: DataLocation) {
        let n = Int(location.size)
        switch location.kind {
        case .register:
            guard location.offset &+ UInt64(n) <= registerCount else { clearLocation(location); return }
            // In bounds by the guard.
            Self.zeroLabels(regs + Int(location.offset), n)
            zeroExtend(location)
        case .memory:
            let address = location.offset
            let offset = Int(address & ShadowMemory.pageMask)
            guard offset + n <= ShadowMemory.pageSize else { clearLocation(location); return }
            let page = shadowMemory.readPage(address >> ShadowMemory.pageShift)
            if page == shadowMemory.zeroPage { return }
            // offset + n <= pageSize by the guard; the page is not the zero page.
            Self.zeroLabels(page + offset, n)
        case .constant:
            return
        }
    }

    // MARK: DataFlowTracker

    /// `destination` now holds the bytes of `source`. Cost when clean: a check of the
    /// source's labels and a clear of the destination's (nothing for a zero page).
    @inline(__always)
    public func copy(to destination: DataLocation, from source: DataLocation) {
        let h = hot
        h.pointee.flagsAccumulate = false
        guard h.pointee.active else { return }
        if quickLabels(source) == 0 {
            clearQuick(destination)
            return
        }
        copySlow(to: destination, from: source)
    }

    @inline(never)
    func copySlow(to destination: DataLocation, from source: DataLocation) {
        let n = Int(source.size), m = Int(destination.size)
        if source.kind != .constant, let s = labelPointer(source, writable: false), let d = labelPointer(destination, writable: true) {
            // Extension bytes (movzx/movsx-like) take the union of the source, computed
            // before the copy in case the locations overlap.
            let extended = m > n ? unionOfLabels(s, n) : 0
            Self.copyLabels(to: d, from: s, min(m, n))
            if m > n { Self.fillLabels(d + n, m - n, extended) }
            zeroExtend(destination)
            return
        }
        let any = gather(source, into: scratch)
        transfer(to: destination, from: scratch, count: Int(source.size), any: any)
    }

    /// `destination` now depends on its old value and on every byte of `source`.
    @inline(__always)
    public func combine(into destination: DataLocation, from source: DataLocation) {
        let h = hot
        h.pointee.flagsAccumulate = false
        guard h.pointee.active else { return }
        if quickLabels(source) == 0 {
            zeroExtend(destination)
            return
        }
        combineSlow(into: destination, from: source)
    }

    @inline(never)
    func combineSlow(into destination: DataLocation, from source: DataLocation) {
        let s = unionOfLocation(source, buffer: scratch)
        if s == 0 {
            zeroExtend(destination)
            return
        }
        addToLocation(destination, s)
    }

    /// `destination` was computed from every byte of both sources.
    @inline(__always)
    public func derive(to destination: DataLocation, from source1: DataLocation, _ source2: DataLocation) {
        let h = hot
        h.pointee.flagsAccumulate = false
        guard h.pointee.active else { return }
        // One pass: the unions are the check (no quick test, then the same reads again).
        guard let p1 = labelPointer(source1, writable: false), let p2 = labelPointer(source2, writable: false) else {
            deriveSlow(to: destination, from: source1, source2)
            return
        }
        let a = unionOfLabels(p1, Int(source1.size)), b = unionOfLabels(p2, Int(source2.size))
        if a | b == 0 {
            clearQuick(destination)
            return
        }
        fill(destination, with: labels.union(a, b))
    }

    @inline(never)
    func deriveSlow(to destination: DataLocation, from source1: DataLocation, _ source2: DataLocation) {
        let a = unionOfLocation(source1, buffer: scratch)
        let b = unionOfLocation(source2, buffer: scratch)
        fill(destination, with: labels.union(a, b))
    }

    /// The contents of two locations were swapped.
    @inline(__always)
    public func exchange(_ first: DataLocation, _ second: DataLocation) {
        let h = hot
        h.pointee.flagsAccumulate = false
        guard h.pointee.active else { return }
        if quickLabels(first) | quickLabels(second) == 0 {
            zeroExtend(first)
            zeroExtend(second)
            return
        }
        exchangeSlow(first, second)
    }

    @inline(never)
    func exchangeSlow(_ first: DataLocation, _ second: DataLocation) {
        let a = scratch + Self.scratchSize, b = scratch + 2 * Self.scratchSize
        let anyA = gather(first, into: a)
        let anyB = gather(second, into: b)
        transfer(to: first, from: b, count: Int(second.size), any: anyB)
        transfer(to: second, from: a, count: Int(first.size), any: anyA)
    }

    /// `destination` now holds a constant.
    @inline(__always)
    public func clear(_ destination: DataLocation) {
        let h = hot
        h.pointee.flagsAccumulate = false
        guard h.pointee.active else { return }
        clearQuick(destination)
    }

    /// The flags now depend on `source` (accumulating over consecutive calls, see the type).
    @inline(__always)
    public func flags(from source: DataLocation) {
        let h = hot
        let accumulate = h.pointee.flagsAccumulate
        h.pointee.flagsAccumulate = true
        guard h.pointee.active else { return }
        guard let p = labelPointer(source, writable: false) else {
            flagsSlow(from: source, accumulate: accumulate)
            return
        }
        let s = unionOfLabels(p, Int(source.size))
        // flagsOffset < registerCount (RegisterFile.flags is inside the file).
        let f = regs + flagsOffset
        if s == 0 {
            if !accumulate { f.pointee = 0 }
            return
        }
        f.pointee = accumulate ? labels.union(f.pointee, s) : s
    }

    @inline(never)
    func flagsSlow(from source: DataLocation, accumulate: Bool) {
        let s = unionOfLocation(source, buffer: scratch)
        let f = regs + flagsOffset
        f.pointee = accumulate ? labels.union(f.pointee, s) : s
    }

    /// A load whose address used GPRs `base` and `index` (or -1): when enabled, their labels,
    /// marked address-only, are added to every byte of `destination`.
    @inline(__always)
    public func addressDependency(of destination: DataLocation, base: Int, index: Int) {
        let h = hot
        h.pointee.flagsAccumulate = false
        guard h.pointee.active && h.pointee.addressDependency else { return }
        // GPR n is bytes 8n ..< 8n+8, inside the file for n < 16.
        var any: Label = 0
        if base >= 0 && base < 16 { any |= Self.orOfLabels(regs + base &* 8, 8) }
        if index >= 0 && index < 16 { any |= Self.orOfLabels(regs + index &* 8, 8) }
        if any == 0 { return }
        addressDependencySlow(of: destination, base: base, index: index)
    }

    @inline(never)
    func addressDependencySlow(of destination: DataLocation, base: Int, index: Int) {
        var address: Label = 0
        if base >= 0 && base < 16 {
            address = unionOfLocation(DataLocation(kind: .register, size: 8, offset: RegisterFile.gpr(base)), buffer: scratch)
        }
        if index >= 0 && index < 16 {
            let i = unionOfLocation(DataLocation(kind: .register, size: 8, offset: RegisterFile.gpr(index)), buffer: scratch)
            address = labels.union(address, i)
        }
        if address == 0 { return }
        addToLocation(destination, labels.addressOnly(address))
    }

    /// `source` was loaded into RIP: an alert when its labels carry value flow (an
    /// address-only label is a jump table indexed by input: a parser, not a hijack).
    @inline(__always)
    public func controlTransfer(from source: DataLocation, target: UInt64, instruction: UInt64) {
        let h = hot
        h.pointee.flagsAccumulate = false
        guard h.pointee.active else { return }
        if quickLabels(source) == 0 { return }
        controlTransferSlow(from: source, target: target, instruction: instruction)
    }

    @inline(never)
    func controlTransferSlow(from source: DataLocation, target: UInt64, instruction: UInt64) {
        let l = unionOfLocation(source, buffer: scratch)
        guard l != 0 && labels.hasValueFlow(l) else { return }
        // A target computed in a register whose input-derived bytes are only its low 16
        // bits is base + a scaled input-derived index (glibc's memmove size dispatch:
        // `shl $6, %ecx; add %r9, %rcx; jmp *%rcx`): a dispatch within 64 KiB of a clean
        // base, like a jump table. A pointer loaded from memory (ret, jmp/call [mem]) or
        // a register target with input in its higher bytes is an alert.
        if source.kind == .register && source.size == 8 {
            // unionOfLocation reads in place: gather the bytes to look at the high six.
            _ = gather(source, into: scratch)
            let high = labels.union(of: scratch + 2, count: 6)
            if high == 0 || !labels.hasValueFlow(high) { return }
        }
        noteAlert(l, target: target, instruction: instruction)
    }

    /// A branch, cmov or setcc read the flags: their source events become control sources.
    /// Cost when the flags label is clean or unchanged since the last branch: one compare.
    @inline(__always)
    public func flagsReachControl(at rip: UInt64) {
        let h = hot
        h.pointee.flagsAccumulate = false
        guard h.pointee.active else { return }
        // flagsOffset < registerCount.
        let f = regs[flagsOffset]
        if f == 0 || f == h.pointee.lastControlLabel { return }
        noteControl(f)
    }

    @inline(never)
    func noteControl(_ label: Label) {
        hot.pointee.lastControlLabel = label
        let slot = Int((label &* 0x9E37_79B9) >> 24)
        if controlCovered[slot] == label { return }
        let events: [UInt64]
        if let event = labels.event(ofBase: label) { events = [event] } else { events = labels.sourceEvents(label) }
        for event in events where !log.seenControlEvents.contains(event) {
            log.seenControlEvents.insert(event)
            log.controlSources.append(ControlSource(input: event, firstSequence: currentSequence))
        }
        controlCovered[slot] = label
    }

    @inline(never)
    func noteAlert(_ label: Label, target: UInt64, instruction: UInt64) {
        let key = TaintLog.AlertKey(label: label, target: target)
        if log.alertKeys.contains(key) { return }
        guard log.alertKeys.count < TaintLog.alertLimit else {
            log.droppedAlerts += 1
            return
        }
        log.alertKeys.insert(key)
        log.alerts.append(TaintLog.PendingAlert(label: label, target: target, address: instruction, sequence: currentSequence))
        onAlert?(label, target)
    }

    // MARK: Syscall-level API (called by the replayer between runs)

    /// Re-derives `isActive` after the shadow was cleared: off once no shadow page is
    /// allocated and no register byte carries a label. Cost: O(register file) when no
    /// page is allocated, else a compare.
    func refreshActivity() {
        if hot.pointee.active && shadowMemory.pageCount == 0 && shadowRegisters.isClear {
            hot.pointee.active = false
        }
    }

    /// Sets the sequence number control sources and alerts are stamped with.
    public func willRun(toSequence sequence: UInt64) { currentSequence = sequence }

    /// The kernel wrote `[address, address + length)` with bytes from no object.
    /// Cost: O(allocated pages in the range); whole pages are freed.
    public func clearMemory(address: UInt64, length: Int) {
        guard length > 0 else { return }
        shadowMemory.clear(address: address, length: length)
        refreshActivity()
    }

    /// The kernel delivered bytes `[eventOffset, eventOffset + length)` of event `event` at
    /// `address`: they get fresh base labels (one per byte; a coarse per-event label once
    /// the base space is exhausted). `metadata` marks facts about an object (stat, getdents)
    /// rather than its content. Cost: O(length).
    public func labelSource(event: UInt64, address: UInt64, length: Int, eventOffset: Int64, metadata: Bool) {
        guard length > 0 else { return }
        let first = labels.allocateSource(event: event, eventOffset: eventOffset, length: length, metadata: metadata)
        if labels.isCoarse(first) {
            shadowMemory.set(first, address: address, length: length)
        } else {
            shadowMemory.setSequential(first: first, address: address, length: length)
        }
        sourceBytes &+= UInt64(length)
        hot.pointee.active = true
    }

    /// The kernel read `length` bytes at `address` as bytes `[eventOffset, +length)` of sink
    /// event `event`: their labels are appended to the log as runs. More than
    /// `maxRunsPerSink` runs are merged pairwise (coarsened). Cost: O(length).
    public func recordSink(event: UInt64, address: UInt64, length: Int, eventOffset: Int64) {
        guard length > 0 else { return }
        log.sinkBytes &+= UInt64(length)
        guard hot.pointee.active else { return }
        var runs: [TaintLog.SinkRun] = []
        var current: TaintLog.SinkRun?
        let table = labels
        shadowMemory.forEachSegment(address: address, length: length) { vpn, offset, n, done in
            let page = shadowMemory.readPage(vpn)
            if page == shadowMemory.zeroPage {
                if let c = current { runs.append(c); current = nil }
                return
            }
            for k in 0 ..< n {
                let l = page[offset + k]
                if l == 0 {
                    if let c = current { runs.append(c); current = nil }
                    continue
                }
                if var c = current {
                    let extends: Bool
                    if c.length == 1 {
                        if l == c.label {
                            extends = true
                        } else if table.isBase(c.label) && table.isBase(l) && l == c.label &+ 1 {
                            c.stride = 1
                            extends = true
                        } else {
                            extends = false
                        }
                    } else if c.stride == 0 {
                        extends = l == c.label
                    } else {
                        extends = table.isBase(l) && l == c.label &+ UInt32(truncatingIfNeeded: c.length)
                    }
                    if extends {
                        c.length += 1
                        current = c
                        continue
                    }
                    runs.append(c)
                }
                current = TaintLog.SinkRun(event: event, outputStart: eventOffset + Int64(done + k), length: 1,
                                           label: l, stride: 0, coarsened: false)
            }
        }
        if let c = current { runs.append(c) }
        if runs.count > maxRunsPerSink { coarsen(&runs) }
        log.sinkRuns.append(contentsOf: runs)
        if log.sinkRuns.count > maxPendingRuns { settle(log) }
    }

    /// The label set a run stands for (one set for all its bytes).
    func setLabel(of run: TaintLog.SinkRun) -> Label {
        run.stride == 1 && run.length > 1 ? labels.rangeLabel(first: run.label, count: Int(run.length)) : run.label
    }

    /// Merges neighbouring runs pairwise until at most `maxRunsPerSink` remain; a merged
    /// run covers the hull of its outputs with the union of their labels.
    func coarsen(_ runs: inout [TaintLog.SinkRun]) {
        let bound = max(1, maxRunsPerSink)
        while runs.count > bound {
            var merged: [TaintLog.SinkRun] = []
            merged.reserveCapacity((runs.count + 1) / 2)
            var i = 0
            while i < runs.count {
                if i + 1 < runs.count {
                    let a = runs[i], b = runs[i + 1]
                    merged.append(TaintLog.SinkRun(event: a.event, outputStart: a.outputStart,
                                                   length: b.outputStart + b.length - a.outputStart,
                                                   label: labels.union(setLabel(of: a), setLabel(of: b)),
                                                   stride: 0, coarsened: true))
                } else {
                    merged.append(runs[i])
                }
                i += 2
            }
            runs = merged
        }
    }

    /// The input bytes (event coordinates) that the `length` bytes at `address` carry
    /// labels of, address-only ones included; empty when clean. A set naming many events
    /// gives a bounded list, spans of events past the bound (`LabelTable.boundedByteRanges`).
    /// Cost: O(length).
    public func pathSinkSources(address: UInt64, length: Int) -> [TaintByteRange] {
        guard length > 0, hot.pointee.active else { return [] }
        var buffer = [Label](repeating: 0, count: length)
        let any = buffer.withUnsafeMutableBufferPointer { shadowMemory.read($0.baseAddress!, count: length, at: address) }
        guard any != 0 else { return [] }
        let label = buffer.withUnsafeBufferPointer { labels.union(of: $0.baseAddress!, count: length) }
        return labels.boundedByteRanges(label).ranges
    }

    /// A path argument (`argument` of event `event`, `length` bytes at `address`) reached the
    /// kernel: logged as a path sink when its bytes carry labels.
    public func recordPathSink(event: UInt64, argument: Int, address: UInt64, length: Int) {
        let sources = pathSinkSources(address: address, length: length)
        if !sources.isEmpty { log.pathSinks.append(PathSink(event: event, argument: argument, sources: sources)) }
    }

    /// Register-file bytes `[offset, offset + size)` were written by the kernel (syscall
    /// result, rcx/r11).
    public func clearRegisters(offset: UInt64, size: Int) {
        shadowRegisters.clear(offset: Int(clamping: offset), size: size)
        refreshActivity()
    }

    /// The running thread's register labels (thread switch).
    public func saveRegisters() -> RegisterLabels { shadowRegisters.save() }

    /// Makes `saved` the running thread's register labels.
    public func restoreRegisters(_ saved: RegisterLabels) {
        shadowRegisters.restore(saved)
        if saved.labels.contains(where: { $0 != 0 }) { hot.pointee.active = true }
    }

    /// Signal delivery: the labels of register-file bytes `[registerOffset, +size)` are
    /// stored with the saved context at `address` in the signal frame.
    public func saveRegister(offset registerOffset: UInt64, size: Int, to address: UInt64) {
        guard size > 0 else { return }
        var buffer = [Label](repeating: 0, count: size)
        for k in 0 ..< size { buffer[k] = shadowRegisters[Int(clamping: registerOffset) &+ k] }
        buffer.withUnsafeBufferPointer { shadowMemory.write($0.baseAddress!, count: size, at: address) }
    }

    /// sigreturn: register-file bytes `[registerOffset, +size)` take the labels of the
    /// saved context at `address`.
    public func restoreRegister(offset registerOffset: UInt64, size: Int, from address: UInt64) {
        guard size > 0 else { return }
        var buffer = [Label](repeating: 0, count: size)
        let any = buffer.withUnsafeMutableBufferPointer { shadowMemory.read($0.baseAddress!, count: size, at: address) }
        if any == 0 { for k in 0 ..< size { buffer[k] = 0 } }
        for k in 0 ..< size { shadowRegisters[Int(clamping: registerOffset) &+ k] = buffer[k] }
    }

    /// A child forked without exec: a deep copy of shadow memory and registers sharing this
    /// tracker's label table, with a fresh log. Cost: one copy per allocated shadow page.
    public func forked() -> ByteTaintTracker {
        ByteTaintTracker(copying: self)
    }

    /// Copies the labels of `length` bytes from `source` to `destination` (memmove).
    public func copyMemory(from source: UInt64, to destination: UInt64, length: Int) {
        shadowMemory.copy(from: source, to: destination, length: length)
    }

    /// Shared memory of two processes (one replay group): the labels of
    /// `[destination, +length)` become those `other` holds at `[source, +length)` (where the
    /// object is mapped in that process). Both trackers must share one label table
    /// (`forked`). Cost: O(length) when `other` has labels there, else O(allocated pages in
    /// the range).
    public func adoptMemoryLabels(from other: ByteTaintTracker, source: UInt64, destination: UInt64, length: Int) {
        guard length > 0 else { return }
        if other.shadowMemory.isClear(address: source, length: length) {
            shadowMemory.clear(address: destination, length: length)
            refreshActivity()
            return
        }
        for k in 0 ..< UInt64(length) {
            shadowMemory.setLabel(other.shadowMemory.label(at: source &+ k), at: destination &+ k)
        }
        hot.pointee.active = true
    }

    /// mremap: the labels move; source bytes not overwritten by the destination are cleared.
    public func moveMemory(from source: UInt64, to destination: UInt64, length: Int) {
        guard length > 0, source != destination else { return }
        shadowMemory.copy(from: source, to: destination, length: length)
        let l = UInt64(length)
        if destination >= source &+ l || source >= destination &+ l {
            shadowMemory.clear(address: source, length: length)
        } else if destination > source {
            shadowMemory.clear(address: source, length: Int(destination - source))
        } else {
            shadowMemory.clear(address: destination &+ l, length: Int(source - destination))
        }
        refreshActivity()
    }

    /// What this tracker and the job's label table saw: label sets, union lookups and hits,
    /// coarsened sets (job-wide), peak shadow pages, source and sink bytes (this tracker and
    /// its current log). `instructions` and `seconds` are left for the replayer.
    public func statistics() -> TaintStatistics {
        var s = TaintStatistics()
        s.sourceBytes = sourceBytes
        s.sinkBytes = log.sinkBytes
        s.labelSets = labels.setCount
        s.unionLookups = labels.unionLookups
        s.unionHits = labels.unionHits
        s.coarsenedSets = labels.coarsenedSets
        s.shadowPages = shadowMemory.peakPageCount
        return s
    }
}
