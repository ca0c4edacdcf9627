// AVX and AVX2 instructions with no SSE twin: in-lane and cross-lane permutes (vpermilps,
// vpermilpd, vpermd, vpermps), per-element variable shifts (vpsllvd/q, vpsrlvd/q,
// vpsravd), masked loads and stores (vmaskmovps/pd, vpmaskmovd/q), vtestps/pd, the 128-bit
// broadcasts and the gathers (SDM Vol. 2, each instruction's page). Each reports its data
// movement to the tracker as the other VEX forms do (AVX.swift).

extension Machine {
    /// Element `i` (of `size` 4 or 8 bytes) of a 256-bit value held as (bits 127:0, bits 255:128).
    @inline(__always)
    static func element(_ v: (V128, V128), _ i: Int, size: Int) -> UInt64 {
        let byte = i &* size
        let q = (byte < 16 ? v.0 : v.1)[(byte % 16) / 8]
        return size == 8 ? q : (q >> UInt64((byte % 8) * 8)) & 0xFFFF_FFFF
    }

    /// `v` with element `i` (of `size` 4 or 8 bytes) replaced by `x`.
    @inline(__always)
    static func setElement(_ v: inout (V128, V128), _ i: Int, size: Int, _ x: UInt64) {
        let byte = i &* size
        let shift = UInt64((byte % 8) * 8)
        let mask: UInt64 = size == 8 ? .max : 0xFFFF_FFFF << shift
        let value = size == 8 ? x : (x & 0xFFFF_FFFF) << shift
        if byte < 16 {
            v.0[(byte % 16) / 8] = (v.0[(byte % 16) / 8] & ~mask) | value
        } else {
            v.1[(byte % 16) / 8] = (v.1[(byte % 16) / 8] & ~mask) | value
        }
    }

    /// Runs the AVX/AVX2 instructions of this file (`PrefixBits.vex`).
    @inline(never)
    func executeAVXExtra(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let op = p.pointee.op
        let width = p.pointee.size
        let o0 = p.pointee.o0, o1 = p.pointee.o1, o2 = p.pointee.o2
        let destination = ymmLocation(o0.reg, size: width)
        switch op {
        case .vpermilps, .vpermilpd:
            // Immediate form: vpermilps ymm1, ymm2/m256, imm8 (the same selectors in each
            // lane for ps; two bits per lane for pd). Vector form: vpermilps ymm1, ymm2,
            // ymm3/m256 (control bits 1:0 of each dword, bit 1 of each quadword).
            let data: (V128, V128), control: (V128, V128)
            if o2.kind == .immediate {
                guard let d = readWide(o1, width: width) else { return memoryFault(p) }
                data = d
                var c = (V128(0, 0), V128(0, 0))
                let imm = o2.value & 0xFF
                for i in 0..<(op == .vpermilps ? 8 : 4) {
                    let selector = op == .vpermilps ? (imm >> UInt64(2 * (i % 4))) & 3 : ((imm >> UInt64(i)) & 1) << 1
                    Self.setElement(&c, i, size: op == .vpermilps ? 4 : 8, selector)
                }
                control = c
                tracker.derive(to: destination, from: location(o1, size: width), .constant)
                loadDependency(destination, o1)
            } else {
                guard o1.kind == .xmm, let c = readWide(o2, width: width) else { return o2.kind == .memory ? memoryFault(p) : unsupported(p) }
                data = (vector(o1.reg), vectorHigh(o1.reg))
                control = c
                tracker.derive(to: destination, from: ymmLocation(o1.reg, size: width), location(o2, size: width))
                loadDependency(destination, o2)
            }
            let size = op == .vpermilps ? 4 : 8
            let perLane = 16 / size
            var out = (V128(0, 0), V128(0, 0))
            for i in 0..<(Int(width) / size) {
                let selector = Int(Self.element(control, i, size: size) >> (size == 8 ? 1 : 0)) & (perLane - 1)
                Self.setElement(&out, i, size: size, Self.element(data, (i / perLane) * perLane + selector, size: size))
            }
            clearAboveVectorLength(o0.reg, width: width)
            writeWide(o0.reg, out.0, out.1, width: width)
            return .next

        case .vpermd, .vpermps:
            // vpermd ymm1, ymm2, ymm3/m256: dword i = ymm3's dword (ymm2's dword i & 7).
            guard o1.kind == .xmm, let data = readWide(o2, width: 32) else { return o2.kind == .memory ? memoryFault(p) : unsupported(p) }
            let indices = (vector(o1.reg), vectorHigh(o1.reg))
            var out = (V128(0, 0), V128(0, 0))
            for i in 0..<8 { Self.setElement(&out, i, size: 4, Self.element(data, Int(Self.element(indices, i, size: 4) & 7), size: 4)) }
            tracker.derive(to: ymmLocation(o0.reg), from: ymmLocation(o1.reg), location(o2, size: 32))
            loadDependency(ymmLocation(o0.reg), o2)
            writeWide(o0.reg, out.0, out.1, width: 32)
            return .next

        case .vpsllvd, .vpsllvq, .vpsrlvd, .vpsrlvq, .vpsravd:
            // vpsllvd ymm1, ymm2, ymm3/m256: element i of ymm2 shifted by element i of ymm3;
            // counts past the element width give 0 (vpsravd: copies of the sign bit).
            guard o1.kind == .xmm, let counts = readWide(o2, width: width) else { return o2.kind == .memory ? memoryFault(p) : unsupported(p) }
            let values = (vector(o1.reg), vectorHigh(o1.reg))
            let size = op == .vpsllvq || op == .vpsrlvq ? 8 : 4
            let bits = UInt64(size * 8)
            var out = (V128(0, 0), V128(0, 0))
            for i in 0..<(Int(width) / size) {
                let v = Self.element(values, i, size: size), c = Self.element(counts, i, size: size)
                let r: UInt64
                switch op {
                case .vpsllvd, .vpsllvq: r = c >= bits ? 0 : v << c
                case .vpsrlvd, .vpsrlvq: r = c >= bits ? 0 : v >> c
                default: r = UInt64(UInt32(bitPattern: Int32(truncatingIfNeeded: v) >> Int32(min(c, 31))))
                }
                Self.setElement(&out, i, size: size, r)
            }
            tracker.derive(to: destination, from: ymmLocation(o1.reg, size: width), location(o2, size: width))
            loadDependency(destination, o2)
            clearAboveVectorLength(o0.reg, width: width)
            writeWide(o0.reg, out.0, out.1, width: width)
            return .next

        case .vtestps, .vtestpd:
            // ZF: no sign bit of (src1 AND src2); CF: no sign bit of (NOT src1 AND src2);
            // AF, OF, PF, SF cleared.
            guard let (b0, b1) = readWide(o1, width: width) else { return memoryFault(p) }
            let a0 = vector(o0.reg), a1 = width == 32 ? vectorHigh(o0.reg) : V128(0, 0)
            let signs: UInt64 = op == .vtestps ? 0x8000_0000_8000_0000 : 0x8000_0000_0000_0000
            let s = V128(repeating: signs)
            let c = cpu
            c.pointee.materializeFlags()
            var f = c.pointee.flagsStored & ~RFlags.arithmetic
            if (a0 & b0 & s) == V128(0, 0) && (a1 & b1 & s) == V128(0, 0) { f |= RFlags.zero }
            if (~a0 & b0 & s) == V128(0, 0) && (~a1 & b1 & s) == V128(0, 0) { f |= RFlags.carry }
            c.pointee.flagsStored = f
            tracker.derive(to: flagsLocation, from: ymmLocation(o0.reg, size: width), location(o1, size: width))
            loadDependency(flagsLocation, o1)
            return .next

        case .vmaskmovps, .vmaskmovpd, .vpmaskmovd, .vpmaskmovq:
            return executeMaskedMove(p)

        case .vbroadcasti128, .vbroadcastf128:
            // vbroadcastf128 ymm1, m128: the 16 bytes in both lanes.
            guard o1.kind == .memory, let (v, _) = readWide(o1, width: 16) else { return o1.kind == .memory ? memoryFault(p) : unsupported(p) }
            let source = location(o1, size: 16)
            tracker.copy(to: ymmLocation(o0.reg, size: 16), from: source)
            tracker.copy(to: DataLocation(kind: .register, size: 16, offset: RegisterFile.ymmHigh(Int(o0.reg))), from: source)
            loadDependency(ymmLocation(o0.reg), o1)
            writeWide(o0.reg, v, v, width: 32)
            return .next

        case .vpgatherdd, .vpgatherdq, .vpgatherqd, .vpgatherqq, .vgatherdps, .vgatherdpd, .vgatherqps, .vgatherqpd:
            return executeGather(p)

        default:
            return unsupported(p)
        }
    }

    /// vmaskmovps/vmaskmovpd/vpmaskmovd/vpmaskmovq: the load form (`ymm1, ymm2, m256`)
    /// reads the elements whose mask (ymm2) element has its sign bit set and zeroes the
    /// others; the store form (`m256, ymm2, ymm3`) writes only the selected elements of
    /// ymm3. Masked-off elements are never accessed, so they cannot fault (SDM Vol. 2,
    /// VMASKMOV); a selected element that faults stops the instruction before anything
    /// is written.
    func executeMaskedMove(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let op = p.pointee.op
        let width = p.pointee.size
        let o0 = p.pointee.o0, o1 = p.pointee.o1, o2 = p.pointee.o2
        let size = op == .vmaskmovpd || op == .vpmaskmovq ? 8 : 4
        let count = Int(width) / size
        guard o1.kind == .xmm else { return unsupported(p) }
        let mask = (vector(o1.reg), vectorHigh(o1.reg))
        func selected(_ i: Int) -> Bool { Self.element(mask, i, size: size) >> UInt64(size * 8 - 1) != 0 }
        if o0.kind == .xmm {
            guard o2.kind == .memory else { return unsupported(p) }
            let base = effectiveAddress(o2)
            var out = (V128(0, 0), V128(0, 0))
            for i in 0..<count where selected(i) {
                guard let v = memory.load(base &+ UInt64(i * size), size: UInt64(size)) else { return memoryFault(p) }
                Self.setElement(&out, i, size: size, v)
            }
            let destination = ymmLocation(o0.reg, size: width)
            tracker.clear(destination)
            for i in 0..<count where selected(i) {
                let element = DataLocation(kind: .register, size: UInt8(size), offset: RegisterFile.xmm(Int(o0.reg)) &+ UInt64(i * size))
                tracker.copy(to: element, from: .memory(base &+ UInt64(i * size), size: UInt8(size)))
            }
            loadDependency(destination, o2)
            clearAboveVectorLength(o0.reg, width: width)
            writeWide(o0.reg, out.0, out.1, width: width)
            return .next
        }
        guard o0.kind == .memory, o2.kind == .xmm else { return unsupported(p) }
        let base = effectiveAddress(o0)
        for i in 0..<count where selected(i) {
            guard memory.probeWrite(base &+ UInt64(i * size), UInt64(size)) else { return memoryFault(p) }
        }
        let data = (vector(o2.reg), vectorHigh(o2.reg))
        for i in 0..<count where selected(i) {
            let address = base &+ UInt64(i * size)
            tracker.copy(to: .memory(address, size: UInt8(size)),
                         from: DataLocation(kind: .register, size: UInt8(size), offset: RegisterFile.xmm(Int(o2.reg)) &+ UInt64(i * size)))
            _ = memory.store(address, size: UInt64(size), Self.element(data, i, size: size))
        }
        return .next
    }

    /// AVX2 gathers (`vpgatherdd ymm1, [base + ymm2*scale + disp], ymm3` ...): element j
    /// is loaded from base + sign-extended index j · scale + disp when mask element j has
    /// its sign bit set, and kept otherwise; then the whole mask register is zeroed and
    /// the destination is zeroed above the elements gathered (SDM Vol. 2, VPGATHERDD).
    /// The element count is the smaller of what the destination and the index register
    /// (width in `Instruction.condition`) hold. Every selected element is read before
    /// anything is written: a fault leaves the registers as they were (the CPU would have
    /// completed and unmasked the elements before the faulting one).
    func executeGather(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let op = p.pointee.op
        let width = Int(p.pointee.size)
        let o0 = p.pointee.o0, o1 = p.pointee.o1, o2 = p.pointee.o2
        guard o0.kind == .xmm, o1.kind == .memory, o2.kind == .xmm, o1.index != Operand.noRegister else { return unsupported(p) }
        let dataSize: Int, indexSize: Int
        switch op {
        case .vpgatherdd, .vgatherdps: (dataSize, indexSize) = (4, 4)
        case .vpgatherdq, .vgatherdpd: (dataSize, indexSize) = (8, 4)
        case .vpgatherqd, .vgatherqps: (dataSize, indexSize) = (4, 8)
        default: (dataSize, indexSize) = (8, 8)
        }
        let indexWidth = Int(p.pointee.condition == 32 ? 32 : 16)
        let count = min(width / dataSize, indexWidth / indexSize)
        let indices = (vector(o1.index), vectorHigh(o1.index))
        let mask = (vector(o2.reg), vectorHigh(o2.reg))
        var baseOperand = o1
        baseOperand.index = Operand.noRegister
        let base = effectiveAddress(baseOperand)
        var out = (vector(o0.reg), vectorHigh(o0.reg))
        var addresses = [UInt64](repeating: 0, count: count)
        var loaded = [Bool](repeating: false, count: count)
        for j in 0..<count where Self.element(mask, j, size: dataSize) >> UInt64(dataSize * 8 - 1) != 0 {
            let raw = Self.element(indices, j, size: indexSize)
            let index = indexSize == 4 ? UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: raw))) : raw
            var address = base &+ (index &<< UInt64(o1.scaleShift))
            if o1.address32 { address &= 0xFFFF_FFFF }
            guard let v = memory.load(address, size: UInt64(dataSize)) else { return memoryFault(p) }
            Self.setElement(&out, j, size: dataSize, v)
            addresses[j] = address
            loaded[j] = true
        }
        // Zero above the gathered elements.
        let kept = count * dataSize
        for j in (kept / dataSize)..<(32 / dataSize) { Self.setElement(&out, j, size: dataSize, 0) }
        for j in 0..<count where loaded[j] {
            let element = DataLocation(kind: .register, size: UInt8(dataSize), offset: RegisterFile.xmm(Int(o0.reg)) &+ UInt64(j * dataSize))
            tracker.copy(to: element, from: .memory(addresses[j], size: UInt8(dataSize)))
            tracker.combine(into: element, from: DataLocation(kind: .register, size: UInt8(indexSize),
                                                              offset: RegisterFile.xmm(Int(o1.index)) &+ UInt64(j * indexSize)))
            tracker.addressDependency(of: element, base: o1.reg == Operand.noRegister ? -1 : Int(o1.reg), index: -1)
        }
        if kept < 32 { tracker.clear(DataLocation(kind: .register, size: UInt8(32 - kept), offset: RegisterFile.xmm(Int(o0.reg)) &+ UInt64(kept))) }
        tracker.clear(ymmLocation(o2.reg))
        writeWide(o0.reg, out.0, out.1, width: 32)
        writeWide(o2.reg, V128(0, 0), V128(0, 0), width: 32)
        return .next
    }
}
