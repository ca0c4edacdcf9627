// The shadow of the register file: one label per byte of the flat register file that
// `DataLocation` addresses (`RegisterFile` in X86/DataFlow.swift: GPRs, XMM, x87, the
// flags byte and the rest), so register hooks index one array.

import X86

/// The register labels of one thread, saved while another thread runs (or across a fork).
public struct RegisterLabels: Equatable, Sendable {
    /// One label per register-file byte (`RegisterFile.size`).
    public internal(set) var labels: [Label]
}

/// Labels of the register-file bytes of the running thread.
///
/// Invariant: `labels` points at `RegisterFile.size` labels owned by this object
/// (allocated in init, freed in deinit), so offsets checked against `count` are in bounds.
public final class ShadowRegisters {
    /// Number of register-file bytes shadowed.
    public let count: Int
    let labels: UnsafeMutablePointer<Label>

    /// All registers clean.
    public init() {
        count = RegisterFile.size
        labels = .allocate(capacity: count)
        labels.initialize(repeating: 0, count: count)
    }

    deinit { labels.deallocate() }

    /// The label of register-file byte `offset` (0 outside the file).
    public subscript(offset: Int) -> Label {
        get { offset >= 0 && offset < count ? labels[offset] : 0 }
        set { if offset >= 0 && offset < count { labels[offset] = newValue } }
    }

    /// Clears register-file bytes `[offset, offset + size)` (clipped to the file).
    public func clear(offset: Int, size: Int) {
        let lo = max(0, offset), hi = min(count, offset + max(0, size))
        if lo < hi { (labels + lo).update(repeating: 0, count: hi - lo) }
    }

    /// True when no register byte carries a label. Cost: O(register-file size).
    public var isClear: Bool {
        var any: Label = 0
        for i in 0 ..< count { any |= labels[i] }
        return any == 0
    }

    /// A copy of every register label (thread switch, fork).
    public func save() -> RegisterLabels {
        RegisterLabels(labels: Array(UnsafeBufferPointer(start: labels, count: count)))
    }

    /// Puts back labels from `save()`; a snapshot of another size restores what fits and
    /// clears the rest.
    public func restore(_ saved: RegisterLabels) {
        let n = min(count, saved.labels.count)
        saved.labels.withUnsafeBufferPointer { buffer in
            if n > 0 { labels.update(from: buffer.baseAddress!, count: n) }
        }
        if n < count { (labels + n).update(repeating: 0, count: count - n) }
    }
}
