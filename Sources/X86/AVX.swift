// VEX-encoded (AVX, AVX2) vector instructions: the three-operand 128- and 256-bit forms of
// the SSE integer operations, and the AVX-only moves (broadcasts, lane inserts/extracts,
// vzeroupper). A 256-bit operation is its SSE formula applied to each 128-bit lane
// (`packedLane`, `unaryLane`, `shiftLane` in SSEInteger.swift) unless it crosses lanes.
// Every VEX write to a vector register zeroes the bits above its vector length
// (SDM Vol. 1, 14.1.2); legacy SSE writes keep them.

extension Machine {
    // MARK: YMM access

    /// Bits 255:128 of YMM register `n`.
    @inline(__always)
    func vectorHigh(_ n: UInt8) -> V128 {
        let p = ymmHighs + Int(n) &* 2
        return V128(p[0], p[1])
    }

    @inline(__always)
    func setVectorHigh(_ n: UInt8, _ v: V128) {
        let p = ymmHighs + Int(n) &* 2
        p[0] = v[0]
        p[1] = v[1]
    }

    /// A VEX source of `width` (16 or 32) bytes as (bits 127:0, bits 255:128); the high
    /// lane is zero for 16. Nil on a memory fault (nothing partial is returned).
    @inline(__always)
    func readWide(_ o: Operand, width: UInt8) -> (V128, V128)? {
        if o.kind == .xmm { return (vector(o.reg), width == 32 ? vectorHigh(o.reg) : V128(0, 0)) }
        guard o.kind == .memory else { return nil }
        let a = effectiveAddress(o)
        guard let (l0, l1) = memory.load128(a) else { return nil }
        if width != 32 { return (V128(l0, l1), V128(0, 0)) }
        guard let (h0, h1) = memory.load128(a &+ 16) else { return nil }
        return (V128(l0, l1), V128(h0, h1))
    }

    /// Writes YMM `n` from a VEX operation of `width` bytes: bits above it become zero.
    @inline(__always)
    func writeWide(_ n: UInt8, _ low: V128, _ high: V128, width: UInt8) {
        setVector(n, low)
        setVectorHigh(n, width == 32 ? high : V128(0, 0))
    }

    /// All 32 bytes of YMM `n` in the register file, or its first `size` bytes.
    @inline(__always)
    func ymmLocation(_ n: UInt8, size: UInt8 = 32) -> DataLocation {
        DataLocation(kind: .register, size: size, offset: RegisterFile.xmm(Int(n)))
    }

    /// Data flow of the zeroing above a VEX destination of `width` bytes.
    @inline(__always)
    func clearAboveVectorLength(_ n: UInt8, width: UInt8) {
        if width < 32 { tracker.clear(DataLocation(kind: .register, size: 32 &- width, offset: RegisterFile.xmm(Int(n)) &+ UInt64(width))) }
    }

    /// dst = f(src1, src2) for a VEX destination of `width` bytes: bytewise operations keep
    /// byte i's labels to byte i of each source (staged so that a destination that is also
    /// the second source is read before it is replaced); the others derive from both.
    @inline(__always)
    func vexBinaryDataFlow(_ p: UnsafePointer<Instruction>, width: UInt8) {
        guard Tracker.tracksData else { return }
        let d = p.pointee.o0, s1 = p.pointee.o1, s2 = p.pointee.o2
        let destination = ymmLocation(d.reg, size: width)
        let first = location(s1, size: width), second = location(s2, size: width)
        let op = p.pointee.op
        if s2.kind == .xmm && s2.reg == s1.reg
            && (op == .pxor || op == .pandn || op == .psubb || op == .psubw || op == .psubd || op == .psubq
                || op == .pcmpeqb || op == .pcmpeqw || op == .pcmpeqd || op == .pcmpeqq || op == .pcmpgtb) {
            // Idioms whose result does not depend on the (equal) sources: zeros or all ones.
            tracker.clear(destination)
        } else if Self.isBytewise(op) {
            if s2.kind == .xmm && s2.reg == d.reg {
                if s1.reg != d.reg {
                    tracker.combineBytewise(into: destination, from: first)
                } else {
                    tracker.combine(into: destination, from: .constant)  // changed in place
                }
            } else {
                if s1.reg != d.reg { tracker.copy(to: destination, from: first) }
                tracker.combineBytewise(into: destination, from: second)
            }
        } else {
            tracker.derive(to: destination, from: first, second)
        }
        loadDependency(destination, s2)
        clearAboveVectorLength(d.reg, width: width)
    }

    // MARK: Execution

    /// Runs a VEX-encoded instruction (`PrefixBits.vex`).
    @inline(never)
    func executeAVX(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let op = p.pointee.op
        let width = p.pointee.size
        let o0 = p.pointee.o0, o1 = p.pointee.o1, o2 = p.pointee.o2
        switch op {
        case .vzeroupper, .vzeroall:
            for n in 0..<16 as Range<UInt8> {
                if op == .vzeroall {
                    tracker.clear(ymmLocation(n))
                    setVector(n, V128(0, 0))
                } else {
                    tracker.clear(DataLocation(kind: .register, size: 16, offset: RegisterFile.ymmHigh(Int(n))))
                }
                setVectorHigh(n, V128(0, 0))
            }
            return .next

        case .movdqu:
            // vmovdqu/vmovdqa/vmovaps/vmovups/vmovntdq/vlddqu/vmovntdqa.
            tracker.copy(to: location(o0, size: width), from: location(o1, size: width))
            if o0.kind == .memory {
                let a = effectiveAddress(o0)
                guard memory.probeWrite(a, UInt64(width)) else { return memoryFault(p) }
                let low = vector(o1.reg)
                _ = memory.store128(a, low[0], low[1])
                if width == 32 {
                    let high = vectorHigh(o1.reg)
                    _ = memory.store128(a &+ 16, high[0], high[1])
                }
                return .next
            }
            loadDependency(location(o0, size: width), o1)
            clearAboveVectorLength(o0.reg, width: width)
            guard let (low, high) = readWide(o1, width: width) else { return memoryFault(p) }
            writeWide(o0.reg, low, high, width: width)
            return .next

        case .movd, .movq:
            guard o0.kind == .xmm else { return executeSSEInteger(p) }  // stores: as SSE
            let size: UInt8 = op == .movd ? 4 : 8
            tracker.copy(to: location(o0, size: size), from: location(o1, size: size))
            loadDependency(location(o0, size: size), o1)
            tracker.clear(DataLocation(kind: .register, size: 32 &- size, offset: RegisterFile.xmm(Int(o0.reg)) &+ UInt64(size)))
            guard let v = readScalar(o1, size: size) else { return memoryFault(p) }
            writeWide(o0.reg, V128(v, 0), V128(0, 0), width: 16)
            return .next

        case .movlhps, .movhlps, .movhps, .movhpd, .movlps, .movlpd:
            // vmovlhps xmm1, xmm2, xmm3 (xmm2.lo, xmm3.lo); vmovhlps xmm1, xmm2, xmm3 (xmm3.hi,
            // xmm2.hi); vmovhps xmm1, xmm2, m64 (xmm2.lo, m64); vmovlps xmm1, xmm2, m64 (m64,
            // xmm2.hi); the store forms (vmovhps m64, xmm1) as SSE. Zeroed above bit 127.
            if o0.kind == .memory { return executeSSEInteger(p) }
            guard o0.kind == .xmm, o1.kind == .xmm, p.pointee.operandCount == 3 else { return unsupported(p) }
            let high = op == .movhps || op == .movhpd || op == .movlhps
            let keep = vector(o1.reg)
            let v: UInt64
            let sourceLocation: DataLocation
            switch op {
            case .movlhps:
                v = vector(o2.reg)[0]
                sourceLocation = xmmLocation(o2.reg, offset: 0, size: 8)
            case .movhlps:
                v = vector(o2.reg)[1]
                sourceLocation = xmmLocation(o2.reg, offset: 8, size: 8)
            default:
                guard o2.kind == .memory else { return unsupported(p) }
                guard let m = memory.load(effectiveAddress(o2), size: 8) else { return memoryFault(p) }
                v = m
                sourceLocation = location(o2, size: 8)
            }
            // The kept half first, so a destination that is also the source is read before it changes.
            let keptHalf = high ? 0 : 8
            let newHalf = high ? 8 : 0
            let scratch = Self.registerLocation(RegisterFile.scratch, size: 8)
            tracker.copy(to: scratch, from: sourceLocation)
            tracker.copy(to: xmmLocation(o0.reg, offset: keptHalf, size: 8), from: xmmLocation(o1.reg, offset: keptHalf, size: 8))
            tracker.copy(to: xmmLocation(o0.reg, offset: newHalf, size: 8), from: scratch)
            tracker.clear(scratch)
            loadDependency(xmmLocation(o0.reg, offset: newHalf, size: 8), o2)
            clearAboveVectorLength(o0.reg, width: 16)
            writeWide(o0.reg, high ? V128(keep[0], v) : V128(v, keep[1]), V128(0, 0), width: 16)
            return .next

        case .pmovmskb, .movmskps, .movmskpd:
            tracker.derive(to: location(o0, size: 8), from: ymmLocation(o1.reg, size: width), .constant)
            let quads = [vector(o1.reg)[0], vector(o1.reg)[1], vectorHigh(o1.reg)[0], vectorHigh(o1.reg)[1]]
            let elementBits = op == .pmovmskb ? 8 : op == .movmskps ? 32 : 64
            var bits: UInt64 = 0
            var k: UInt64 = 0
            for q in 0..<Int(width / 8) {
                for e in stride(from: elementBits - 1, to: 64, by: elementBits) {
                    bits |= ((quads[q] >> UInt64(e)) & 1) << k
                    k &+= 1
                }
            }
            writeGPR(o0.reg, size: 8, bits)
            return .next

        case .ptest:
            guard let (b0, b1) = readWide(o1, width: width) else { return memoryFault(p) }
            let a0 = vector(o0.reg), a1 = width == 32 ? vectorHigh(o0.reg) : V128(0, 0)
            let c = cpu
            c.pointee.materializeFlags()
            var f = c.pointee.flagsStored & ~RFlags.arithmetic
            if (a0 & b0) == V128(0, 0) && (a1 & b1) == V128(0, 0) { f |= RFlags.zero }
            if (~a0 & b0) == V128(0, 0) && (~a1 & b1) == V128(0, 0) { f |= RFlags.carry }
            c.pointee.flagsStored = f
            tracker.derive(to: flagsLocation, from: ymmLocation(o0.reg, size: width), location(o1, size: width))
            loadDependency(flagsLocation, o1)
            return .next

        case .psllw, .pslld, .psllq, .psrlw, .psrld, .psrlq, .psraw, .psrad:
            // vpsllw ymm1, ymm2, imm8 | xmm3/m128 (one count for every element).
            guard let (a0, a1) = readWide(o1, width: width) else { return memoryFault(p) }
            let count: UInt64
            if o2.kind == .immediate {
                count = o2.value & 0xFF
            } else {
                guard let (c, _) = readWide(o2, width: 16) else { return memoryFault(p) }
                count = c[0]
            }
            tracker.derive(to: ymmLocation(o0.reg, size: width), from: location(o1, size: width), location(o2, size: 16))
            loadDependency(ymmLocation(o0.reg, size: width), o2)
            clearAboveVectorLength(o0.reg, width: width)
            writeWide(o0.reg, Self.shiftLane(op, a0, count: count), Self.shiftLane(op, a1, count: count), width: width)
            return .next

        case .pslldq, .psrldq, .pshufd, .pshuflw, .pshufhw, .pabsb, .pabsw, .pabsd:
            // One source, the imm8 (if any) last: per-lane formulas.
            guard let (a0, a1) = readWide(o1, width: width) else { return memoryFault(p) }
            let imm = p.pointee.operandCount == 3 ? o2.value : 0
            tracker.derive(to: ymmLocation(o0.reg, size: width), from: location(o1, size: width), .constant)
            loadDependency(ymmLocation(o0.reg, size: width), o1)
            clearAboveVectorLength(o0.reg, width: width)
            writeWide(o0.reg, Self.unaryLane(op, a0, imm: imm) ?? a0, Self.unaryLane(op, a1, imm: imm) ?? a1, width: width)
            return .next

        case .pinsrb, .pinsrw, .pinsrd, .pinsrq:
            // vpinsrb xmm1, xmm2, r32/m8, imm8 (imm in `condition`).
            let laneSize: UInt8 = op == .pinsrb ? 1 : op == .pinsrw ? 2 : op == .pinsrd ? 4 : 8
            guard let v = readScalar(o2, size: laneSize) else { return memoryFault(p) }
            let index = Int(p.pointee.condition) & (16 / Int(laneSize) - 1)
            let lane = xmmLocation(o0.reg, offset: index &* Int(laneSize), size: laneSize)
            if o1.reg != o0.reg { tracker.copy(to: xmmLocation(o0.reg), from: xmmLocation(o1.reg)) }
            tracker.copy(to: lane, from: location(o2, size: laneSize))
            loadDependency(lane, o2)
            clearAboveVectorLength(o0.reg, width: 16)
            var bytes = Self.lanes(vector(o1.reg), as: SIMD16<UInt8>.self)
            for k in 0..<Int(laneSize) { bytes[index * Int(laneSize) + k] = UInt8(truncatingIfNeeded: v >> UInt64(8 * k)) }
            writeWide(o0.reg, Self.quad(bytes), V128(0, 0), width: 16)
            return .next

        case .pextrb, .pextrw, .pextrd, .pextrq, .pcmpistri, .pcmpestri:
            // No vector register written: the legacy semantics exactly.
            return executeSSEInteger(p)

        case .pcmpistrm, .pcmpestrm:
            // The legacy semantics, then XMM0 is zeroed above bit 127 as every VEX write.
            let status = executeSSEInteger(p)
            if status == .next {
                clearAboveVectorLength(0, width: 16)
                setVectorHigh(0, V128(0, 0))
            }
            return status

        case .pmovzxbw, .pmovzxbd, .pmovzxbq, .pmovzxwd, .pmovzxwq, .pmovzxdq,
             .pmovsxbw, .pmovsxbd, .pmovsxbq, .pmovsxwd, .pmovsxwq, .pmovsxdq:
            // Elements cross lanes: the source's low width/to elements fill the destination.
            let (from, to): (Int, Int)
            switch op {
            case .pmovzxbw, .pmovsxbw: (from, to) = (1, 2)
            case .pmovzxbd, .pmovsxbd: (from, to) = (1, 4)
            case .pmovzxbq, .pmovsxbq: (from, to) = (1, 8)
            case .pmovzxwd, .pmovsxwd: (from, to) = (2, 4)
            case .pmovzxwq, .pmovsxwq: (from, to) = (2, 8)
            default: (from, to) = (4, 8)
            }
            let signed = "\(op)".hasPrefix("pmovsx")
            let count = Int(width) / to
            let sourceSize = UInt8(count * from)
            var source: [UInt64] = [0, 0]
            if o1.kind == .xmm {
                source = [vector(o1.reg)[0], vector(o1.reg)[1]]
            } else if sourceSize == 16 {
                guard let (l, h) = memory.load128(effectiveAddress(o1)) else { return memoryFault(p) }
                source = [l, h]
            } else {
                guard let v = memory.load(effectiveAddress(o1), size: UInt64(sourceSize)) else { return memoryFault(p) }
                source[0] = v
            }
            tracker.derive(to: ymmLocation(o0.reg, size: width), from: location(o1, size: sourceSize), .constant)
            loadDependency(ymmLocation(o0.reg, size: width), o1)
            clearAboveVectorLength(o0.reg, width: width)
            var out = [UInt64](repeating: 0, count: 4)
            for i in 0..<count {
                let bitOffset = 8 * from * i
                var lane = (source[bitOffset / 64] >> UInt64(bitOffset % 64)) & Self.mask(UInt8(from))
                if signed { lane = Self.signExtend(lane, UInt8(from)) & Self.mask(UInt8(to)) }
                let outBit = 8 * to * i
                out[outBit / 64] |= lane << UInt64(outBit % 64)
            }
            writeWide(o0.reg, V128(out[0], out[1]), V128(out[2], out[3]), width: width)
            return .next

        case .vpbroadcastb, .vpbroadcastw, .vpbroadcastd, .vpbroadcastq, .vbroadcastss, .vbroadcastsd:
            let element: UInt8 = op == .vpbroadcastb ? 1 : op == .vpbroadcastw ? 2 : op == .vpbroadcastq || op == .vbroadcastsd ? 8 : 4
            guard let v = readScalar(o1, size: element) else { return memoryFault(p) }
            tracker.derive(to: ymmLocation(o0.reg, size: width), from: location(o1, size: element), .constant)
            loadDependency(ymmLocation(o0.reg, size: width), o1)
            clearAboveVectorLength(o0.reg, width: width)
            var q = v
            var filled = element
            while filled < 8 { q |= q << UInt64(filled * 8); filled &*= 2 }
            writeWide(o0.reg, V128(q, q), V128(q, q), width: width)
            return .next

        case .vextracti128, .vextractf128:
            // vextracti128 xmm1/m128, ymm2, imm8.
            let high = o2.value & 1 != 0
            let v = high ? vectorHigh(o1.reg) : vector(o1.reg)
            let source = DataLocation(kind: .register, size: 16, offset: RegisterFile.xmm(Int(o1.reg)) &+ (high ? 16 : 0))
            tracker.copy(to: location(o0, size: 16), from: source)
            if o0.kind == .memory {
                guard memory.store128(effectiveAddress(o0), v[0], v[1]) else { return memoryFault(p) }
            } else {
                clearAboveVectorLength(o0.reg, width: 16)
                writeWide(o0.reg, v, V128(0, 0), width: 16)
            }
            return .next

        case .vinserti128, .vinsertf128:
            // vinserti128 ymm1, ymm2, xmm3/m128, imm8 (imm in `condition`).
            guard let (v, _) = readWide(o2, width: 16) else { return memoryFault(p) }
            let high = p.pointee.condition & 1 != 0
            var low = vector(o1.reg), top = vectorHigh(o1.reg)
            if high { top = v } else { low = v }
            if o1.reg != o0.reg { tracker.copy(to: ymmLocation(o0.reg), from: ymmLocation(o1.reg)) }
            let lane = DataLocation(kind: .register, size: 16, offset: RegisterFile.xmm(Int(o0.reg)) &+ (high ? 16 : 0))
            tracker.copy(to: lane, from: location(o2, size: 16))
            loadDependency(lane, o2)
            writeWide(o0.reg, low, top, width: 32)
            return .next

        case .vperm2i128, .vperm2f128:
            // Each destination lane: one of the four source lanes, or zero (imm bits 3, 7).
            guard let (b0, b1) = readWide(o2, width: 32) else { return memoryFault(p) }
            let choices = [vector(o1.reg), vectorHigh(o1.reg), b0, b1]
            let imm = p.pointee.condition
            let low = imm & 0x08 != 0 ? V128(0, 0) : choices[Int(imm & 3)]
            let high = imm & 0x80 != 0 ? V128(0, 0) : choices[Int((imm >> 4) & 3)]
            tracker.derive(to: ymmLocation(o0.reg), from: ymmLocation(o1.reg), location(o2, size: 32))
            loadDependency(ymmLocation(o0.reg), o2)
            writeWide(o0.reg, low, high, width: 32)
            return .next

        case .vpermq, .vpermpd:
            // vpermq ymm1, ymm2/m256, imm8: any quadword to any position.
            guard let (a0, a1) = readWide(o1, width: 32) else { return memoryFault(p) }
            let q = [a0[0], a0[1], a1[0], a1[1]]
            let imm = Int(o2.value & 0xFF)
            tracker.derive(to: ymmLocation(o0.reg), from: location(o1, size: 32), .constant)
            loadDependency(ymmLocation(o0.reg), o1)
            writeWide(o0.reg, V128(q[imm & 3], q[(imm >> 2) & 3]), V128(q[(imm >> 4) & 3], q[(imm >> 6) & 3]), width: 32)
            return .next

        case .vpblendd:
            // vpblendd ymm1, ymm2, ymm3/m256, imm8: dword i from the second source if bit i.
            guard let (b0, b1) = readWide(o2, width: width) else { return memoryFault(p) }
            let imm = UInt64(p.pointee.condition)
            func blend(_ a: V128, _ b: V128, _ bits: UInt64) -> V128 {
                var r = a
                for i in 0..<4 where (bits >> UInt64(i)) & 1 != 0 {
                    let m: UInt64 = i & 1 == 0 ? 0xFFFF_FFFF : 0xFFFF_FFFF_0000_0000
                    r[i / 2] = (r[i / 2] & ~m) | (b[i / 2] & m)
                }
                return r
            }
            let low = blend(vector(o1.reg), b0, imm & 0xF)
            let high = blend(vectorHigh(o1.reg), b1, imm >> 4)
            tracker.derive(to: ymmLocation(o0.reg, size: width), from: location(o1, size: width), location(o2, size: width))
            loadDependency(ymmLocation(o0.reg, size: width), o2)
            clearAboveVectorLength(o0.reg, width: width)
            writeWide(o0.reg, low, high, width: width)
            return .next

        case .vfma:
            return executeFMA(p)

        case .movddup, .movshdup, .movsldup:
            // vmovddup xmm1, xmm2/m64 | ymm1, ymm2/m256; vmovshdup/vmovsldup: per lane.
            let sourceSize: UInt8 = op == .movddup && width == 16 ? 8 : width
            let low: V128, high: V128
            if sourceSize == 8 && o1.kind == .memory {
                guard let q = memory.load(effectiveAddress(o1), size: 8) else { return memoryFault(p) }
                (low, high) = (V128(q, 0), V128(0, 0))
            } else {
                guard let v = readWide(o1, width: width) else { return memoryFault(p) }
                (low, high) = v
            }
            tracker.derive(to: ymmLocation(o0.reg, size: width), from: location(o1, size: sourceSize), .constant)
            loadDependency(ymmLocation(o0.reg, size: width), o1)
            clearAboveVectorLength(o0.reg, width: width)
            writeWide(o0.reg, Self.duplicateLane(op, low), Self.duplicateLane(op, high), width: width)
            return .next

        case .vpermilps, .vpermilpd, .vtestps, .vtestpd, .vmaskmovps, .vmaskmovpd, .vpmaskmovd, .vpmaskmovq,
             .vpermd, .vpermps, .vpsllvd, .vpsllvq, .vpsrlvd, .vpsrlvq, .vpsravd, .vbroadcasti128, .vbroadcastf128,
             .vpgatherdd, .vpgatherdq, .vpgatherqd, .vpgatherqq, .vgatherdps, .vgatherdpd, .vgatherqps, .vgatherqpd:
            return executeAVXExtra(p)

        case .vcvtph2ps, .vcvtps2ph:
            return executeF16C(p)

        case .addss, .addsd, .addps, .addpd, .subss, .subsd, .subps, .subpd, .mulss, .mulsd, .mulps, .mulpd,
             .divss, .divsd, .divps, .divpd, .sqrtss, .sqrtsd, .sqrtps, .sqrtpd, .minss, .minsd, .minps, .minpd,
             .maxss, .maxsd, .maxps, .maxpd, .ucomiss, .ucomisd, .comiss, .comisd,
             .cvtsi2ss, .cvtsi2sd, .cvttss2si, .cvttsd2si, .cvtss2si, .cvtsd2si, .cvtss2sd, .cvtsd2ss,
             .cvtdq2ps, .cvtdq2pd, .cvttps2dq, .cvttpd2dq, .cvtps2dq, .cvtpd2dq, .cvtps2pd, .cvtpd2ps,
             .roundss, .roundsd, .roundps, .roundpd, .movss, .movsd, .stmxcsr, .ldmxcsr,
             .cmpss, .cmpsd_sse, .cmpps, .cmppd, .haddps, .haddpd, .hsubps, .hsubpd, .dpps,
             .rcpps, .rsqrtps, .rcpss, .rsqrtss:
            return executeAVXFloat(p)

        default:
            // Two sources, per-lane formula (imm8 or the is4 selector register in `condition`).
            guard p.pointee.operandCount == 3, o1.kind == .xmm,
                  let (b0, b1) = readWide(o2, width: width) else {
                if p.pointee.operandCount == 3 && o2.kind == .memory { return memoryFault(p) }
                return unsupported(p)
            }
            let imm = UInt64(p.pointee.condition)
            let variable = op == .pblendvb || op == .blendvps || op == .blendvpd
            let selector = variable ? (vector(p.pointee.condition), vectorHigh(p.pointee.condition)) : (V128(0, 0), V128(0, 0))
            let a0 = vector(o1.reg), a1 = vectorHigh(o1.reg)
            guard let low = Self.packedLane(op, a0, b0, imm: imm, selector: selector.0) else { return unsupported(p) }
            // vblendps/vblendpd take one imm8 bit per element across both lanes.
            let highImm = op == .blendps ? imm >> 4 : op == .blendpd ? imm >> 2 : imm
            let high = width == 32 ? Self.packedLane(op, a1, b1, imm: highImm, selector: selector.1) ?? a1 : V128(0, 0)
            vexBinaryDataFlow(p, width: width)
            if variable {
                tracker.combineBytewise(into: ymmLocation(o0.reg, size: width), from: ymmLocation(p.pointee.condition, size: width))
            }
            writeWide(o0.reg, low, high, width: width)
            return .next
        }
    }
}

// MARK: VEX floating point

extension Machine {
    /// The 128-bit VEX forms of SSE floating-point instructions, run by the SSE code: a
    /// two-operand form (moves, conversions, compares into RFLAGS) as is; a three-operand
    /// form `dst = f(src1, src2)` by first giving the destination src1's low 128 bits
    /// (the bits the SSE form keeps come from src1 in the VEX form), then running the SSE
    /// form on (dst, src2). Writes to the destination zero it above bit 127. 256-bit forms:
    /// `executePackedFloat256`.
    func executeAVXFloat(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let op = p.pointee.op
        let o0 = p.pointee.o0, o1 = p.pointee.o1, o2 = p.pointee.o2
        guard p.pointee.size == 16 else { return executePackedFloat256(p) }
        let writesVector = o0.kind == .xmm && op != .ucomiss && op != .ucomisd && op != .comiss && op != .comisd
        var legacy = p.pointee
        legacy.prefixes &= ~PrefixBits.vex
        let threeOperand = p.pointee.operandCount == 3 && o1.kind == .xmm && o2.kind != .immediate && o0.kind == .xmm
        if !threeOperand {
            let status = withUnsafePointer(to: &legacy) { executeLegacyVector($0) }
            if status == .next && writesVector {
                clearAboveVectorLength(o0.reg, width: 16)
                setVectorHigh(o0.reg, V128(0, 0))
            }
            return status
        }
        legacy.o1 = o2
        legacy.o2 = Operand()
        legacy.operandCount = 2
        if op == .roundss || op == .roundsd || op == .dpps {
            // vroundsd xmm1, xmm2, xmm3/m64, imm8 (vdpps too): the imm8 came in `condition`.
            legacy.o2.kind = .immediate
            legacy.o2.value = UInt64(p.pointee.condition)
            legacy.operandCount = 3
        }
        // The second source is the destination itself: stage it in another register whose
        // value and labels are put back afterwards (its labels wait in RegisterFile.scratch).
        var stage: UInt8 = 0xFF
        var saved = V128(0, 0)
        if o2.kind == .xmm && o2.reg == o0.reg && o1.reg != o0.reg {
            stage = 0
            while stage == o0.reg || stage == o1.reg { stage &+= 1 }
            saved = vector(stage)
            tracker.copy(to: Self.registerLocation(RegisterFile.scratch, size: 16), from: xmmLocation(stage))
            tracker.copy(to: xmmLocation(stage), from: xmmLocation(o2.reg))
            setVector(stage, vector(o2.reg))
            legacy.o1.reg = stage
        }
        let destinationBefore = vector(o0.reg)
        if o1.reg != o0.reg {
            tracker.copy(to: xmmLocation(o0.reg), from: xmmLocation(o1.reg))
            setVector(o0.reg, vector(o1.reg))
        }
        let status = withUnsafePointer(to: &legacy) { executeLegacyVector($0) }
        if stage != 0xFF {
            tracker.copy(to: xmmLocation(stage), from: Self.registerLocation(RegisterFile.scratch, size: 16))
            tracker.clear(Self.registerLocation(RegisterFile.scratch, size: 16))
            setVector(stage, saved)
        }
        if status != .next {
            // Faulted or stopped: the destination keeps its old value (the instruction
            // did not complete).
            setVector(o0.reg, destinationBefore)
            return status
        }
        clearAboveVectorLength(o0.reg, width: 16)
        setVectorHigh(o0.reg, V128(0, 0))
        return .next
    }

    /// The 256-bit VEX forms of packed floating-point arithmetic and compares
    /// (`vaddps ymm1, ymm2, ymm3/m256` ..., `vcmpps ymm1, ymm2, ymm3/m256, imm8` with all 32
    /// predicates, `vsqrtps ymm1, ymm2/m256`) and same-shape conversions and rounding
    /// (vcvtdq2ps, vcvt[t]ps2dq, vroundps/pd ymm): the SSE formula (`packedFloatLane`,
    /// `unaryFloatLane`) on each 128-bit lane, MXCSR flags from both; the widening
    /// (vcvtps2pd, vcvtdq2pd ymm ← xmm/m128) and narrowing (vcvtpd2ps, vcvt[t]pd2dq
    /// xmm ← ymm/m256) conversions element by element. Other forms stop as unsupported.
    func executePackedFloat256(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let op = p.pointee.op
        let o0 = p.pointee.o0, o1 = p.pointee.o1, o2 = p.pointee.o2
        let destination = ymmLocation(o0.reg)
        let low: V128, high: V128
        switch op {
        case .addps, .addpd, .subps, .subpd, .mulps, .mulpd, .divps, .divpd,
             .minps, .minpd, .maxps, .maxpd, .cmpps, .cmppd:
            guard o1.kind == .xmm else { return unsupported(p) }
            guard let (b0, b1) = readWide(o2, width: 32) else { return memoryFault(p) }
            let a0 = vector(o1.reg), a1 = vectorHigh(o1.reg)
            tracker.derive(to: destination, from: ymmLocation(o1.reg), location(o2, size: 32))
            loadDependency(destination, o2)
            low = packedFloatLane(op, a0, b0, predicate: p.pointee.condition)
            high = packedFloatLane(op, a1, b1, predicate: p.pointee.condition)
        case .sqrtps, .sqrtpd:
            guard let (b0, b1) = readWide(o1, width: 32) else { return memoryFault(p) }
            tracker.derive(to: destination, from: location(o1, size: 32), .constant)
            loadDependency(destination, o1)
            low = packedFloatLane(op, b0, b0, predicate: 0)
            high = packedFloatLane(op, b1, b1, predicate: 0)
        case .rcpps, .rsqrtps:
            // vrcpps ymm1, ymm2/m256: this CPU's estimates (HostFPU.swift), lane by lane.
            guard let (b0, b1) = readWide(o1, width: 32) else { return memoryFault(p) }
            tracker.derive(to: destination, from: location(o1, size: 32), .constant)
            loadDependency(destination, o1)
            low = hostReciprocalEstimate(squareRoot: op == .rsqrtps, b0)
            high = hostReciprocalEstimate(squareRoot: op == .rsqrtps, b1)
        case .haddps, .haddpd, .hsubps, .hsubpd, .dpps:
            // vhaddps ymm1, ymm2, ymm3/m256; vdpps ymm1, ymm2, ymm3/m256, imm8: per lane.
            guard o1.kind == .xmm else { return unsupported(p) }
            guard let (b0, b1) = readWide(o2, width: 32) else { return memoryFault(p) }
            let a0 = vector(o1.reg), a1 = vectorHigh(o1.reg)
            tracker.derive(to: destination, from: ymmLocation(o1.reg), location(o2, size: 32))
            loadDependency(destination, o2)
            let imm = UInt64(p.pointee.condition)
            low = op == .dpps ? dotProductLane(a0, b0, imm: imm) : horizontalFloatLane(op, a0, b0)
            high = op == .dpps ? dotProductLane(a1, b1, imm: imm) : horizontalFloatLane(op, a1, b1)
        case .cvtdq2ps, .cvttps2dq, .cvtps2dq, .roundps, .roundpd:
            // vroundps ymm1, ymm2/m256, imm8; the conversions take no imm8.
            guard let (b0, b1) = readWide(o1, width: 32) else { return memoryFault(p) }
            tracker.derive(to: destination, from: location(o1, size: 32), .constant)
            loadDependency(destination, o1)
            let imm = o2.kind == .immediate ? o2.value : 0
            low = unaryFloatLane(op, b0, imm: imm)
            high = unaryFloatLane(op, b1, imm: imm)
        case .cvtps2pd, .cvtdq2pd:
            // vcvtps2pd ymm1, xmm2/m128: four elements widen, two per lane.
            guard let (s, _) = readWide(o1, width: 16) else { return memoryFault(p) }
            tracker.derive(to: destination, from: location(o1, size: 16), .constant)
            loadDependency(destination, o1)
            func widen(_ q: UInt64) -> V128 {
                let lo = q & 0xFFFF_FFFF, hi = q >> 32
                if op == .cvtps2pd { noteDenormalOperands(Self.float(lo)); noteDenormalOperands(Self.float(hi)) }
                return sse {
                    op == .cvtdq2pd
                        ? V128(Double(Int32(bitPattern: UInt32(lo))).bitPattern, Double(Int32(bitPattern: UInt32(hi))).bitPattern)
                        : V128(Double(Self.float(lo)).bitPattern, Double(Self.float(hi)).bitPattern)
                }
            }
            low = widen(s[0])
            high = widen(s[1])
        case .cvtpd2ps, .cvtpd2dq, .cvttpd2dq:
            // vcvtpd2ps xmm1, ymm2/m256: four doubles narrow into the low 128 bits.
            guard let (b0, b1) = readWide(o1, width: 32) else { return memoryFault(p) }
            let narrowed = ymmLocation(o0.reg, size: 16)
            tracker.derive(to: narrowed, from: location(o1, size: 32), .constant)
            loadDependency(narrowed, o1)
            floatStatus(from: narrowed)
            clearAboveVectorLength(o0.reg, width: 16)
            func narrow(_ v: V128) -> UInt64 {
                if op == .cvtpd2ps {
                    noteDenormalOperands(Self.double(v[0]))
                    noteDenormalOperands(Self.double(v[1]))
                    return sse { UInt64(Float(Self.double(v[0])).bitPattern) | (UInt64(Float(Self.double(v[1])).bitPattern) << 32) }
                }
                let a = convertToInteger(Self.double(v[0]), size: 4, truncate: op == .cvttpd2dq)
                let b = convertToInteger(Self.double(v[1]), size: 4, truncate: op == .cvttpd2dq)
                return a | (b << 32)
            }
            writeWide(o0.reg, V128(narrow(b0), narrow(b1)), V128(0, 0), width: 16)
            return .next
        default:
            return unsupported(p)
        }
        floatStatus(from: destination)
        writeWide(o0.reg, low, high, width: 32)
        return .next
    }

    /// The result of a fused multiply-add a·b + c (element bits) when an operand is a NaN:
    /// the first NaN of a, b, c (first factor, second factor, addend, whatever the
    /// 132/213/231 order made of the operands), quieted, with IE when any of them is
    /// signaling; negations never touch it. Nil when no operand is a NaN. Checked against
    /// this CPU (AVXTests.testFMAWithSignalingAndQuietNaNs).
    func fmaNaN(_ a: UInt64, _ b: UInt64, _ c: UInt64, double: Bool) -> UInt64? {
        let quietBit: UInt64 = double ? 1 << 51 : 1 << 22
        let exponent: UInt64 = double ? 0x7FF0_0000_0000_0000 : 0x7F80_0000
        let fraction: UInt64 = double ? (1 << 52) - 1 : (1 << 23) - 1
        func isNaN(_ v: UInt64) -> Bool { v & exponent == exponent && v & fraction != 0 }
        guard isNaN(a) || isNaN(b) || isNaN(c) else { return nil }
        for v in [a, b, c] where isNaN(v) && v & quietBit == 0 { cpu.pointee.mxcsr |= 1 }
        let first = isNaN(a) ? a : isNaN(b) ? b : c
        return first | quietBit
    }

    /// Whether ±a·b ± c (no NaN operand) is an invalid operation: 0·∞, or an infinite
    /// product and an infinite addend of opposite signs in the sum.
    static func fmaInvalid<F: BinaryFloatingPoint>(_ a: F, _ b: F, _ c: F, subtract: Bool, negate: Bool) -> Bool {
        if (a.isInfinite && b == 0) || (a == 0 && b.isInfinite) { return true }
        guard (a.isInfinite || b.isInfinite) && c.isInfinite else { return false }
        let productNegative = ((a.sign == .minus) != (b.sign == .minus)) != negate
        let addendNegative = (c.sign == .minus) != subtract
        return productNegative != addendNegative
    }

    /// FMA3 (`Opcode.vfma`, form bits in `condition`, see `Decoder.fmaForm`): with the
    /// operands (dst, src1, src2), 132 computes dst·src2 + src1, 213 src1·dst + src2,
    /// 231 src1·src2 + dst, each with one rounding; n negates the product, msub subtracts
    /// the addend. Scalar forms keep the destination's other low-128 bits.
    func executeFMA(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let form = p.pointee.condition
        let width = p.pointee.size
        let o0 = p.pointee.o0, o1 = p.pointee.o1, o2 = p.pointee.o2
        let type = (form >> 4) & 3
        let scalar = type < 2
        let double = type == 0 || type == 2
        let elementSize: UInt8 = double ? 8 : 4
        let sourceSize = scalar ? elementSize : width
        let third: (V128, V128)
        if o2.kind == .memory && scalar {
            guard let v = memory.load(effectiveAddress(o2), size: UInt64(elementSize)) else { return memoryFault(p) }
            third = (V128(v, 0), V128(0, 0))
        } else {
            guard let v = readWide(o2, width: width) else { return memoryFault(p) }
            third = v
        }
        let d = [vector(o0.reg), vectorHigh(o0.reg)], s1 = [vector(o1.reg), vectorHigh(o1.reg)], s2 = [third.0, third.1]
        var out = [d[0], width == 32 ? d[1] : V128(0, 0)]
        let count = scalar ? 1 : Int(width / elementSize)
        for e in 0..<count {
            let lane = e * Int(elementSize) / 16, offset = e * Int(elementSize) % 16
            func element(_ v: [V128]) -> UInt64 {
                let q = v[lane][offset / 8]
                return double ? q : (q >> UInt64((offset % 8) * 8)) & 0xFFFF_FFFF
            }
            let (a, b, c): (UInt64, UInt64, UInt64)
            switch form & 3 {
            case 0: (a, b, c) = (element(d), element(s2), element(s1))
            case 1: (a, b, c) = (element(s1), element(d), element(s2))
            default: (a, b, c) = (element(s1), element(s2), element(d))
            }
            let bits: UInt64
            if let nan = fmaNaN(a, b, c, double: double) {
                if double {
                    out[lane][offset / 8] = nan
                } else {
                    let shift = UInt64((offset % 8) * 8)
                    out[lane][offset / 8] = (out[lane][offset / 8] & ~(0xFFFF_FFFF << shift)) | (nan << shift)
                }
            } else if double {
                var x = Self.double(a), y = Self.double(b), z = Self.double(c)
                // An invalid operation (0·∞, ∞ - ∞) reports IE and not DE, as on this CPU.
                if !Self.fmaInvalid(x, y, z, subtract: form & 8 != 0, negate: form & 4 != 0) { noteDenormalOperands(x, y, z) }
                // Negation is part of the operation: a NaN operand comes through unchanged.
                if form & 4 != 0 && !x.isNaN { x = -x }
                if form & 8 != 0 && !z.isNaN { z = -z }
                bits = sse { z.addingProduct(x, y) }.bitPattern
                out[lane][offset / 8] = bits
            } else {
                var x = Self.float(a), y = Self.float(b), z = Self.float(c)
                // An invalid operation (0·∞, ∞ - ∞) reports IE and not DE, as on this CPU.
                if !Self.fmaInvalid(x, y, z, subtract: form & 8 != 0, negate: form & 4 != 0) { noteDenormalOperands(x, y, z) }
                // Negation is part of the operation: a NaN operand comes through unchanged.
                if form & 4 != 0 && !x.isNaN { x = -x }
                if form & 8 != 0 && !z.isNaN { z = -z }
                bits = UInt64(sse { z.addingProduct(x, y) }.bitPattern)
                let shift = UInt64((offset % 8) * 8)
                out[lane][offset / 8] = (out[lane][offset / 8] & ~(0xFFFF_FFFF << shift)) | (bits << shift)
            }
        }
        let destination = scalar ? xmmLocation(o0.reg, offset: 0, size: elementSize) : ymmLocation(o0.reg, size: width)
        tracker.derive(to: destination, from: destination, location(o1, size: sourceSize))
        tracker.combine(into: destination, from: location(o2, size: sourceSize))
        loadDependency(destination, o2)
        floatStatus(from: destination)
        clearAboveVectorLength(o0.reg, width: scalar ? 16 : width)
        writeWide(o0.reg, out[0], out[1], width: scalar ? 16 : width)
        return .next
    }
}

// MARK: F16C

extension Machine {
    /// F16C (SDM Vol. 2, VCVTPH2PS, VCVTPS2PH): `vcvtph2ps xmm1/ymm1, xmm2/m64/m128` widens
    /// 4 or 8 half-precision values (exactly; IE for a signaling NaN, which comes out
    /// quiet); `vcvtps2ph xmm1/m64/m128, xmm2/ymm2, imm8` narrows 4 or 8 floats with the
    /// rounding of imm8[1:0], or MXCSR.RC when imm8[2] is set, raising IE, DE, OE, UE, PE as
    /// the CPU does (tininess after rounding; MXCSR.FTZ does not apply, DAZ does). A register
    /// destination is zeroed above the result.
    func executeF16C(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let o0 = p.pointee.o0, o1 = p.pointee.o1
        let count = Int(p.pointee.size) / 4  // 4 or 8 elements
        if p.pointee.op == .vcvtph2ps {
            let sourceSize = UInt8(count * 2)
            var halves: [UInt64] = [0, 0]
            if o1.kind == .xmm {
                halves = [vector(o1.reg)[0], vector(o1.reg)[1]]
            } else if sourceSize == 16 {
                guard let (l, h) = memory.load128(effectiveAddress(o1)) else { return memoryFault(p) }
                halves = [l, h]
            } else {
                guard let v = memory.load(effectiveAddress(o1), size: 8) else { return memoryFault(p) }
                halves[0] = v
            }
            let width = p.pointee.size
            tracker.derive(to: ymmLocation(o0.reg, size: width), from: location(o1, size: sourceSize), .constant)
            loadDependency(ymmLocation(o0.reg, size: width), o1)
            floatStatus(from: ymmLocation(o0.reg, size: width))
            clearAboveVectorLength(o0.reg, width: width)
            var out = [UInt64](repeating: 0, count: 4)
            for i in 0..<count {
                let half = UInt16(truncatingIfNeeded: halves[i / 4] >> UInt64(16 * (i % 4)))
                let (bits, invalid) = Self.halfToFloat(half)
                if invalid { cpu.pointee.mxcsr |= 1 }
                out[i / 2] |= UInt64(bits) << UInt64(32 * (i % 2))
            }
            writeWide(o0.reg, V128(out[0], out[1]), V128(out[2], out[3]), width: width)
            return .next
        }
        // vcvtps2ph: the source register's width decides the count.
        let imm = UInt32(truncatingIfNeeded: p.pointee.o2.value)
        let rc = imm & 4 != 0 ? mxcsrRounding : imm & 3
        let daz = cpu.pointee.mxcsr & MXCSRBits.denormalsAreZero != 0
        let source = [vector(o1.reg), vectorHigh(o1.reg)]
        var result: [UInt64] = [0, 0]
        var flags: UInt32 = 0
        for i in 0..<count {
            let q = source[i / 4][(i % 4) / 2]
            let single = UInt32(truncatingIfNeeded: q >> UInt64(32 * (i % 2)))
            let (half, raised) = Self.floatToHalf(single, rc: rc, daz: daz)
            flags |= raised
            result[i / 4] |= UInt64(half) << UInt64(16 * (i % 4))
        }
        let resultSize = UInt8(count * 2)
        if o0.kind == .memory {
            let a = effectiveAddress(o0)
            guard memory.probeWrite(a, UInt64(resultSize)) else { return memoryFault(p) }
            tracker.derive(to: location(o0, size: resultSize), from: ymmLocation(o1.reg, size: p.pointee.size), .constant)
            floatStatus(from: ymmLocation(o1.reg, size: p.pointee.size))
            cpu.pointee.mxcsr |= flags
            if resultSize == 16 { _ = memory.store128(a, result[0], result[1]) } else { _ = memory.store(a, size: 8, result[0]) }
            return .next
        }
        tracker.derive(to: ymmLocation(o0.reg, size: resultSize), from: ymmLocation(o1.reg, size: p.pointee.size), .constant)
        floatStatus(from: ymmLocation(o1.reg, size: p.pointee.size))
        clearAboveVectorLength(o0.reg, width: resultSize)
        cpu.pointee.mxcsr |= flags
        writeWide(o0.reg, V128(result[0], resultSize == 16 ? result[1] : 0), V128(0, 0), width: 16)
        return .next
    }

    /// IEEE binary16 to binary32, exact; a signaling NaN is quieted and reports invalid.
    static func halfToFloat(_ h: UInt16) -> (bits: UInt32, invalid: Bool) {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int(h >> 10) & 0x1F
        var mantissa = UInt32(h & 0x3FF)
        switch exponent {
        case 0x1F:
            if mantissa == 0 { return (sign | 0x7F80_0000, false) }
            return (sign | 0x7FC0_0000 | mantissa << 13, mantissa & 0x200 == 0)
        case 0:
            if mantissa == 0 { return (sign, false) }
            // Subnormal: normalise (value = mantissa · 2^-24).
            var e = -14
            while mantissa & 0x400 == 0 { mantissa <<= 1; e -= 1 }
            return (sign | UInt32(e + 127) << 23 | (mantissa & 0x3FF) << 13, false)
        default:
            return (sign | UInt32(exponent - 15 + 127) << 23 | mantissa << 13, false)
        }
    }

    /// IEEE binary32 to binary16 with rounding control `rc` (0 nearest-even, 1 down, 2 up,
    /// 3 toward zero) and the MXCSR flags raised: IE 1, DE 2, OE 8, UE 0x10, PE 0x20
    /// (masked responses: overflow gives infinity or the largest finite value by rounding
    /// direction; UE only when the tiny result is also inexact).
    static func floatToHalf(_ f: UInt32, rc: UInt32, daz: Bool) -> (bits: UInt16, flags: UInt32) {
        let sign = UInt16(truncatingIfNeeded: (f >> 16) & 0x8000)
        let negative = sign != 0
        let exponent = Int(f >> 23) & 0xFF
        let mantissa = f & 0x7F_FFFF
        if exponent == 0xFF {
            if mantissa == 0 { return (sign | 0x7C00, 0) }
            return (sign | 0x7E00 | UInt16(truncatingIfNeeded: mantissa >> 13), mantissa & 0x40_0000 == 0 ? 1 : 0)
        }
        var flags: UInt32 = 0
        if exponent == 0 {
            if mantissa == 0 || daz { return (sign, 0) }
            flags |= 2
        }
        // |x| = significand · 2^(e - 23) with the implicit bit in the significand.
        let significand = UInt64(exponent == 0 ? mantissa : mantissa | 0x80_0000)
        let e = exponent == 0 ? -126 : exponent - 127
        // `value` · 2^`shift` (shift < 0) rounded to an integer, and whether that was inexact.
        func roundShifted(_ value: UInt64, _ shift: Int) -> (UInt64, Bool) {
            let s = -shift
            if s >= 64 { return (Self.roundUpMagnitude(rc, negative: negative, remainderNonZero: value != 0, half: false, aboveHalf: false, odd: false) ? 1 : 0, value != 0) }
            let q = value >> UInt64(s)
            let remainder = value & ((1 << UInt64(s)) - 1)
            let halfway: UInt64 = 1 << UInt64(s - 1)
            let up = Self.roundUpMagnitude(rc, negative: negative, remainderNonZero: remainder != 0,
                                           half: remainder == halfway, aboveHalf: remainder > halfway, odd: q & 1 != 0)
            return (q + (up ? 1 : 0), remainder != 0)
        }
        // The exponent of the 2^-24 quantum (subnormal halves) or of the 11-bit precision.
        let normal = e >= -14
        let quantumExponent = normal ? e - 10 : -24
        // The quantum is always above the float's last bit (e - 23 < e - 10, and -24 > e - 23
        // for the exponents below -14): a right shift.
        let (scaled, inexact) = roundShifted(significand, (e - 23) - quantumExponent)
        var bits: UInt64
        if normal {
            bits = UInt64(e + 15) << 10 + (scaled - 1024)
        } else {
            bits = scaled
            // Tiny after rounding with an unbounded exponent: round at 11 bits of precision.
            let (unbounded, _) = roundShifted(significand, (e - 23) - (e - 10))
            let stillTiny = !(e == -15 && unbounded >= 2048)
            if stillTiny && inexact { flags |= 0x10 }
        }
        if inexact { flags |= 0x20 }
        if bits >= 0x7C00 {
            // Overflow: infinity, or the largest finite value when rounding toward zero or away from this sign's infinity.
            flags |= 0x8 | 0x20
            let toInfinity = rc == 0 || (rc == 1 && negative) || (rc == 2 && !negative)
            bits = toInfinity ? 0x7C00 : 0x7BFF
        }
        return (sign | UInt16(bits), flags)
    }

    /// Whether a magnitude rounds up (away from zero) under rounding control `rc`.
    @inline(__always)
    static func roundUpMagnitude(_ rc: UInt32, negative: Bool, remainderNonZero: Bool, half: Bool, aboveHalf: Bool, odd: Bool) -> Bool {
        guard remainderNonZero else { return false }
        switch rc {
        case 0: return aboveHalf || (half && odd)
        case 1: return negative
        case 2: return !negative
        default: return false
        }
    }
}
