// The byte-precise hooks: bitwise operations keep bytes apart, and shifts by a known count
// move labels to the bytes the bits went to. Without them a base64 encoder's output byte
// would depend on its whole 3-byte input group (every `or` and `shr` mixing the register),
// and four output characters packed into one register would share all their sources.

import X86

extension ByteTaintTracker {
    /// Byte i of `destination` gains the labels of byte i of `source` (and, or, xor).
    /// Cost when `source` is clean: the quick check (and the zero extension of a 32-bit
    /// register destination).
    @inline(__always)
    public func combineBytewise(into destination: DataLocation, from source: DataLocation) {
        let h = hot
        h.pointee.flagsAccumulate = false
        guard h.pointee.active else { return }
        if quickLabels(source) == 0 {
            zeroExtend(destination)
            return
        }
        combineBytewiseSlow(into: destination, from: source)
    }

    @inline(never)
    func combineBytewiseSlow(into destination: DataLocation, from source: DataLocation) {
        let n = Int(min(destination.size, source.size))
        let s = scratch, d = scratch + Self.scratchSize
        let anySource = gather(source, into: s)
        if anySource == 0 { zeroExtend(destination); return }
        let anyDestination = gather(destination, into: d)
        if anyDestination == 0 {
            // Only the source's labels: a copy of its bytes.
            for k in n ..< Int(destination.size) { s[k] = 0 }
            scatter(destination, from: s, any: anySource)
            return
        }
        var any: Label = 0
        for k in 0 ..< n {
            let u = labels.union(d[k], s[k])
            d[k] = u
            any |= u
        }
        for k in n ..< Int(destination.size) { any |= d[k] }
        scatter(destination, from: d, any: any)
    }

    /// The bits of `location` moved by `bits` (see `DataFlowTracker.shift`): result byte i
    /// takes the union of the (at most two) source bytes its eight bits came from; a byte
    /// holding only zero fill is clean, and sign fill takes the top byte's labels. Cost
    /// when clean: the quick check.
    @inline(__always)
    public func shift(_ location: DataLocation, bits: Int, fill: ShiftFill) {
        let h = hot
        h.pointee.flagsAccumulate = false
        guard h.pointee.active else { return }
        if quickLabels(location) == 0 {
            zeroExtend(location)
            return
        }
        shiftSlow(location, bits: bits, fill: fill)
    }

    @inline(never)
    func shiftSlow(_ location: DataLocation, bits: Int, fill: ShiftFill) {
        let n = Int(location.size)
        let width = 8 * n
        let old = scratch, new = scratch + Self.scratchSize
        guard gather(location, into: old) != 0, n > 0 else { zeroExtend(location); return }
        /// The label of the source byte holding source bit `t` (nil: zero fill).
        func sourceByte(_ t: Int) -> Label {
            switch fill {
            case .rotate: return old[((t % width) + width) % width / 8]
            case .zero: return t < 0 || t >= width ? 0 : old[t / 8]
            case .sign: return t >= width ? old[n - 1] : (t < 0 ? 0 : old[t / 8])
            }
        }
        var any: Label = 0
        for i in 0 ..< n {
            // Result bits 8i ..< 8i+8 came from source bits 8i-bits ..< 8i+8-bits.
            let low = 8 * i - bits
            let u = labels.union(sourceByte(low), sourceByte(low + 7))
            new[i] = u
            any |= u
        }
        scatter(location, from: new, any: any)
    }
}
