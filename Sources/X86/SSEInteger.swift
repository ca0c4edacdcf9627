// SSE/SSE2/SSSE3/SSE4.1 data movement and packed-integer operations (SDM Vol. 2), the
// subset glibc's string and memory functions use. Lanes are handled with Swift SIMD
// types over the two quadwords of a register.

typealias V128 = SIMD2<UInt64>

// One register's lanes as bytes, words, doublewords and quadwords, unsigned and signed
// (the views `lanes(_:as:)` takes), shared by every lane formula in this file.
private typealias B16 = SIMD16<UInt8>
private typealias S16 = SIMD16<Int8>
private typealias W8 = SIMD8<UInt16>
private typealias SW8 = SIMD8<Int16>
private typealias D4 = SIMD4<UInt32>
private typealias SD4 = SIMD4<Int32>
private typealias Q2 = SIMD2<UInt64>
private typealias SQ2 = SIMD2<Int64>

extension Machine {
    // MARK: Vector operand access

    @inline(__always)
    func vector(_ n: UInt8) -> V128 {
        let p = xmms + Int(n) &* 2
        return V128(p[0], p[1])
    }

    @inline(__always)
    func setVector(_ n: UInt8, _ v: V128) {
        let p = xmms + Int(n) &* 2
        p[0] = v[0]
        p[1] = v[1]
    }

    /// A 128-bit source: XMM register or 16 bytes of memory. Nil on fault.
    @inline(__always)
    func readVector(_ o: Operand) -> V128? {
        if o.kind == .xmm { return vector(o.reg) }
        guard o.kind == .memory, let (lo, hi) = memory.load128(effectiveAddress(o)) else { return nil }
        return V128(lo, hi)
    }

    /// A 64-bit or 32-bit scalar source from the low lane of an XMM register or memory.
    @inline(__always)
    func readScalar(_ o: Operand, size: UInt8) -> UInt64? {
        switch o.kind {
        case .xmm: return xmms[Int(o.reg) &* 2] & Self.mask(size)
        case .gpr: return gprs[Int(o.reg)] & Self.mask(size)
        case .memory: return memory.load(effectiveAddress(o), size: UInt64(size))
        case .immediate: return o.value & Self.mask(size)
        default: return nil
        }
    }

    @inline(__always)
    func xmmLocation(_ n: UInt8) -> DataLocation {
        DataLocation(kind: .register, size: 16, offset: RegisterFile.xmm(Int(n)))
    }

    /// Bytes `[offset, offset + size)` of XMM register `n` (one lane or half).
    @inline(__always)
    func xmmLocation(_ n: UInt8, offset: Int, size: UInt8) -> DataLocation {
        DataLocation(kind: .register, size: size, offset: RegisterFile.xmm(Int(n)) + UInt64(offset))
    }

    /// An XMM register's bytes from `size` up were zeroed (scalar loads, movd/movq).
    @inline(__always)
    func clearUpperXMM(_ n: UInt8, from size: UInt8) {
        tracker.clear(xmmLocation(n, offset: Int(size), size: 16 &- size))
    }

    /// dst = f(src) for an XMM destination and XMM/m128 source, lane by lane with bytes
    /// mixed inside lanes (shuffles, abs, conversions): the destination derives.
    @inline(__always)
    func deriveVector(_ p: UnsafePointer<Instruction>, sourceSize: UInt8 = 16) {
        tracker.derive(to: xmmLocation(p.pointee.o0.reg), from: location(p.pointee.o1, size: sourceSize), .constant)
        loadDependency(xmmLocation(p.pointee.o0.reg), p.pointee.o1)
    }

    @inline(__always)
    static func lanes<T: SIMD>(_ v: V128, as _: T.Type) -> T { unsafeBitCast(v, to: T.self) }
    @inline(__always)
    static func quad<T: SIMD>(_ v: T) -> V128 { unsafeBitCast(v, to: V128.self) }

    /// Operations whose result byte k comes from byte k of each operand alone; the others
    /// move or mix bytes (shuffles, unpacks, packs, wider lanes, floating point).
    @inline(__always)
    static func isBytewise(_ op: Opcode) -> Bool {
        switch op {
        case .pxor, .por, .pand, .pandn, .pcmpeqb, .pcmpgtb, .pminub, .pmaxub, .pminsb, .pmaxsb, .psignb,
             .paddb, .psubb, .paddusb, .psubusb, .paddsb, .psubsb, .pavgb, .pblendvb, .pblendw,
             .blendps, .blendpd, .blendvps, .blendvpd:
            return true
        default:
            return false
        }
    }

    /// dst = f(dst, src) for an XMM destination and XMM/m128 source. Bytewise operations
    /// combine (each destination byte keeps its own labels); the rest derive from both.
    @inline(__always)
    func packedBinary(_ p: UnsafePointer<Instruction>, _ f: (V128, V128) -> V128) -> ExecStatus {
        let dst = p.pointee.o0
        guard let b = readVector(p.pointee.o1) else { return memoryFault(p) }
        if Self.isBytewise(p.pointee.op) {
            tracker.combine(into: xmmLocation(dst.reg), from: location(p.pointee.o1, size: 16))
        } else {
            tracker.derive(to: xmmLocation(dst.reg), from: xmmLocation(dst.reg), location(p.pointee.o1, size: 16))
        }
        loadDependency(xmmLocation(dst.reg), p.pointee.o1)
        setVector(dst.reg, f(vector(dst.reg), b))
        return .next
    }

    func executeSSEInteger(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let op = p.pointee.op
        switch op {
        // MARK: Moves
        case .movdqu:
            let dst = p.pointee.o0, src = p.pointee.o1
            tracker.copy(to: location(dst, size: 16), from: location(src, size: 16))
            loadDependency(location(dst, size: 16), src)
            guard let v = readVector(src) else { return memoryFault(p) }
            if dst.kind == .xmm {
                setVector(dst.reg, v)
            } else {
                guard memory.store128(effectiveAddress(dst), v[0], v[1]) else { return memoryFault(p) }
            }
            return .next
        case .movd, .movq:
            return execMovdMovq(p)
        case .movss, .movsd:
            let size: UInt8 = op == .movss ? 4 : 8
            let dst = p.pointee.o0, src = p.pointee.o1
            tracker.copy(to: location(dst, size: size), from: location(src, size: size))
            if src.kind == .memory {
                loadDependency(location(dst, size: size), src)
                clearUpperXMM(dst.reg, from: size)
            }
            if dst.kind == .memory {
                guard memory.store(effectiveAddress(dst), size: UInt64(size), xmms[Int(src.reg) &* 2] & Self.mask(size)) else { return memoryFault(p) }
            } else if src.kind == .memory {
                // Load form zeroes the rest of the register.
                guard let v = memory.load(effectiveAddress(src), size: UInt64(size)) else { return memoryFault(p) }
                setVector(dst.reg, V128(v, 0))
            } else {
                let m = Self.mask(size)
                let d = xmms + Int(dst.reg) &* 2
                d[0] = (d[0] & ~m) | (xmms[Int(src.reg) &* 2] & m)
            }
            return .next
        case .movhps, .movhpd, .movlps, .movlpd:
            let high = op == .movhps || op == .movhpd
            let dst = p.pointee.o0, src = p.pointee.o1
            let half = high ? 8 : 0
            if dst.kind == .memory {
                tracker.copy(to: location(dst, size: 8), from: xmmLocation(src.reg, offset: half, size: 8))
            } else {
                tracker.copy(to: xmmLocation(dst.reg, offset: half, size: 8), from: location(src, size: 8))
                loadDependency(xmmLocation(dst.reg, offset: half, size: 8), src)
            }
            if dst.kind == .memory {
                let v = xmms[Int(src.reg) &* 2 &+ (high ? 1 : 0)]
                guard memory.store(effectiveAddress(dst), size: 8, v) else { return memoryFault(p) }
            } else {
                // movlps xmm, xmm is movhlps in Capstone's naming; memory forms only here.
                guard let v = readScalar(src, size: 8) else { return memoryFault(p) }
                xmms[Int(dst.reg) &* 2 &+ (high ? 1 : 0)] = v
            }
            return .next
        case .movlhps:
            tracker.copy(to: xmmLocation(p.pointee.o0.reg, offset: 8, size: 8), from: xmmLocation(p.pointee.o1.reg, offset: 0, size: 8))
            xmms[Int(p.pointee.o0.reg) &* 2 &+ 1] = xmms[Int(p.pointee.o1.reg) &* 2]
            return .next
        case .movhlps:
            tracker.copy(to: xmmLocation(p.pointee.o0.reg, offset: 0, size: 8), from: xmmLocation(p.pointee.o1.reg, offset: 8, size: 8))
            xmms[Int(p.pointee.o0.reg) &* 2] = xmms[Int(p.pointee.o1.reg) &* 2 &+ 1]
            return .next
        case .pmovmskb:
            let v = Self.lanes(vector(p.pointee.o1.reg), as: B16.self)
            var bits: UInt64 = 0
            for i in 0..<16 { bits |= UInt64(v[i] >> 7) << UInt64(i) }
            tracker.derive(to: location(p.pointee.o0, size: 8), from: xmmLocation(p.pointee.o1.reg), .constant)
            writeGPR(p.pointee.o0.reg, size: 8, bits)
            return .next
        case .movmskps, .movmskpd:
            tracker.derive(to: location(p.pointee.o0, size: 8), from: xmmLocation(p.pointee.o1.reg), .constant)
            let v = vector(p.pointee.o1.reg)
            var bits: UInt64
            if op == .movmskpd {
                bits = (v[0] >> 63) | ((v[1] >> 63) << 1)
            } else {
                bits = ((v[0] >> 31) & 1) | ((v[0] >> 62) & 2) | (((v[1] >> 31) & 1) << 2) | (((v[1] >> 63) & 1) << 3)
            }
            writeGPR(p.pointee.o0.reg, size: 8, bits)
            return .next

        // MARK: Bitwise
        case .pxor:
            let dst = p.pointee.o0, src = p.pointee.o1
            if src.kind == .xmm && src.reg == dst.reg {
                // Zeroing idiom.
                tracker.clear(xmmLocation(dst.reg))
                setVector(dst.reg, V128(0, 0))
                return .next
            }
            return packedBinary(p) { $0 ^ $1 }

        // MARK: Two-source lane operations (formulas in `packedLane`)
        case .por, .pand, .pandn, .pcmpeqb, .pcmpeqw, .pcmpeqd, .pcmpeqq, .pcmpgtb, .pcmpgtw, .pcmpgtd, .pcmpgtq,
             .pminub, .pmaxub, .pminsb, .pmaxsb, .pminuw, .pmaxuw, .pminsw, .pmaxsw, .pminud, .pmaxud, .pminsd, .pmaxsd,
             .paddb, .paddw, .paddd, .paddq, .psubb, .psubw, .psubd, .psubq,
             .paddusb, .paddusw, .psubusb, .psubusw, .paddsb, .paddsw, .psubsb, .psubsw,
             .punpcklbw, .punpckhbw, .punpcklwd, .punpckhwd, .punpckldq, .punpckhdq, .unpcklps, .unpckhps,
             .punpcklqdq, .unpcklpd, .punpckhqdq, .unpckhpd, .shufps, .shufpd, .pshufb, .palignr,
             .pmullw, .pmulld, .pmulhw, .pmulhuw, .pmuludq, .pmaddwd, .psadbw, .pavgb, .pavgw,
             .packuswb, .packsswb, .packssdw, .packusdw, .pblendw, .pblendvb, .blendps, .blendpd, .blendvps, .blendvpd,
             .phaddw, .phaddd, .phaddsw, .phsubw, .phsubd, .phsubsw, .psignb, .psignw, .psignd, .pmulhrsw, .pmaddubsw:
            let imm = p.pointee.o2.value
            let selector = op == .pblendvb || op == .blendvps || op == .blendvpd ? vector(0) : V128(0, 0)
            return packedBinary(p) { a, b in Self.packedLane(op, a, b, imm: imm, selector: selector) ?? a }

        // MARK: Shifts
        case .psllw, .pslld, .psllq, .psrlw, .psrld, .psrlq, .psraw, .psrad:
            tracker.derive(to: xmmLocation(p.pointee.o0.reg), from: xmmLocation(p.pointee.o0.reg), location(p.pointee.o1, size: 16))
            loadDependency(xmmLocation(p.pointee.o0.reg), p.pointee.o1)
            let src = p.pointee.o1
            let count: UInt64
            if src.kind == .immediate {
                count = src.value & 0xFF
            } else {
                guard let v = readVector(src) else { return memoryFault(p) }
                count = v[0]
            }
            let dst = p.pointee.o0.reg
            setVector(dst, Self.shiftLane(op, vector(dst), count: count))
            return .next
        case .pslldq, .psrldq:
            tracker.derive(to: xmmLocation(p.pointee.o0.reg), from: xmmLocation(p.pointee.o0.reg), .constant)
            setVector(p.pointee.o0.reg, Self.unaryLane(op, vector(p.pointee.o0.reg), imm: p.pointee.o1.value) ?? V128(0, 0))
            return .next

        // MARK: One-source lane operations with an imm8 (formulas in `unaryLane`)
        case .pshufd, .pshuflw, .pshufhw, .pabsb, .pabsw, .pabsd:
            guard let v = readVector(p.pointee.o1) else { return memoryFault(p) }
            deriveVector(p)
            setVector(p.pointee.o0.reg, Self.unaryLane(op, v, imm: p.pointee.o2.value) ?? v)
            return .next
        case .ptest:
            guard let b = readVector(p.pointee.o1) else { return memoryFault(p) }
            let a = vector(p.pointee.o0.reg)
            let c = cpu
            c.pointee.materializeFlags()
            var f = c.pointee.flagsStored & ~RFlags.arithmetic
            if (a & b) == V128(0, 0) { f |= RFlags.zero }
            if (~a & b) == V128(0, 0) { f |= RFlags.carry }
            c.pointee.flagsStored = f
            tracker.derive(to: flagsLocation, from: xmmLocation(p.pointee.o0.reg), location(p.pointee.o1, size: 16))
            loadDependency(flagsLocation, p.pointee.o1)
            return .next

        // MARK: Insert / extract / extend
        case .pinsrw, .pinsrb, .pinsrd, .pinsrq:
            let laneSize: UInt8 = op == .pinsrb ? 1 : op == .pinsrw ? 2 : op == .pinsrd ? 4 : 8
            guard let v = readScalar(p.pointee.o1, size: laneSize) else { return memoryFault(p) }
            let lanes = 16 / Int(laneSize)
            let index = Int(truncatingIfNeeded: p.pointee.o2.value & 0xFF) & (lanes - 1)
            let lane = xmmLocation(p.pointee.o0.reg, offset: index &* Int(laneSize), size: laneSize)
            tracker.copy(to: lane, from: location(p.pointee.o1, size: laneSize))
            loadDependency(lane, p.pointee.o1)
            var bytes = Self.lanes(vector(p.pointee.o0.reg), as: B16.self)
            for k in 0..<Int(laneSize) { bytes[index * Int(laneSize) + k] = UInt8(truncatingIfNeeded: v >> UInt64(8 * k)) }
            setVector(p.pointee.o0.reg, Self.quad(bytes))
            return .next
        case .pextrw, .pextrb, .pextrd, .pextrq:
            let laneSize: UInt8 = op == .pextrb ? 1 : op == .pextrw ? 2 : op == .pextrd ? 4 : 8
            let lanes = 16 / Int(laneSize)
            let index = Int(truncatingIfNeeded: p.pointee.o2.value & 0xFF) & (lanes - 1)
            // Register destinations are zero-extended to 32 (or 64) bits.
            let extracted = p.pointee.o0.kind == .memory ? laneSize : p.pointee.o0.size == 8 ? 8 : 4
            tracker.copy(to: location(p.pointee.o0, size: extracted),
                         from: xmmLocation(p.pointee.o1.reg, offset: index &* Int(laneSize), size: laneSize))
            let bytes = Self.lanes(vector(p.pointee.o1.reg), as: B16.self)
            var v: UInt64 = 0
            for k in 0..<Int(laneSize) { v |= UInt64(bytes[index * Int(laneSize) + k]) << UInt64(8 * k) }
            let dst = p.pointee.o0
            if dst.kind == .memory {
                guard memory.store(effectiveAddress(dst), size: UInt64(laneSize), v) else { return memoryFault(p) }
            } else {
                // Register destinations are zero-extended to 32 (or 64) bits.
                writeGPR(dst.reg, size: dst.size == 8 ? 8 : 4, v)
            }
            return .next
        case .pmovzxbw, .pmovzxbd, .pmovzxbq, .pmovzxwd, .pmovzxwq, .pmovzxdq,
             .pmovsxbw, .pmovsxbd, .pmovsxbq, .pmovsxwd, .pmovsxwq, .pmovsxdq:
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
            let count = 16 / to
            deriveVector(p, sourceSize: UInt8(count * from))
            let src = p.pointee.o1
            let raw: UInt64
            if src.kind == .xmm {
                raw = xmms[Int(src.reg) &* 2]
            } else {
                guard let v = memory.load(effectiveAddress(src), size: UInt64(count * from)) else { return memoryFault(p) }
                raw = v
            }
            var bytes = B16()
            for i in 0..<count {
                var lane = (raw >> UInt64(8 * from * i)) & Self.mask(UInt8(from))
                if signed { lane = Self.signExtend(lane, UInt8(from)) }
                for k in 0..<to { bytes[i * to + k] = UInt8(truncatingIfNeeded: lane >> UInt64(8 * k)) }
            }
            setVector(p.pointee.o0.reg, Self.quad(bytes))
            return .next
        case .pcmpistri:
            // ECX and the flags (CF ZF SF OF) come from both strings.
            loadDerive(to: gprLocation(1), from: xmmLocation(p.pointee.o0.reg), location(p.pointee.o1, size: 16), address: p.pointee.o1)
            tracker.flags(from: gprLocation(1))
            return execPcmpistri(p, explicitLengths: false)
        case .pcmpestri:
            // The lengths in RAX/RDX select which bytes count, so they feed the result too.
            loadDerive(to: gprLocation(1), from: xmmLocation(p.pointee.o0.reg), location(p.pointee.o1, size: 16), address: p.pointee.o1)
            tracker.combine(into: gprLocation(1), from: gprLocation(0))
            tracker.combine(into: gprLocation(1), from: gprLocation(2))
            tracker.flags(from: gprLocation(1))
            return execPcmpistri(p, explicitLengths: true)
        case .pcmpistrm, .pcmpestrm:
            // XMM0 and the flags come from both strings (and the lengths in RAX/RDX).
            loadDerive(to: xmmLocation(0), from: xmmLocation(p.pointee.o0.reg), location(p.pointee.o1, size: 16), address: p.pointee.o1)
            if op == .pcmpestrm {
                tracker.combine(into: xmmLocation(0), from: gprLocation(0))
                tracker.combine(into: xmmLocation(0), from: gprLocation(2))
            }
            tracker.flags(from: xmmLocation(0))
            return execPcmpistri(p, explicitLengths: op == .pcmpestrm)
        case .movddup, .movshdup, .movsldup:
            // movddup xmm1, xmm2/m64 reads 8 bytes from memory; the others 16.
            let src = p.pointee.o1
            let size: UInt8 = op == .movddup ? 8 : 16
            let v: V128
            if op == .movddup && src.kind == .memory {
                guard let q = memory.load(effectiveAddress(src), size: 8) else { return memoryFault(p) }
                v = V128(q, 0)
            } else {
                guard let w = readVector(src) else { return memoryFault(p) }
                v = w
            }
            deriveVector(p, sourceSize: size)
            setVector(p.pointee.o0.reg, Self.duplicateLane(op, v))
            return .next
        case .haddps, .haddpd, .hsubps, .hsubpd, .dpps:
            return executeHorizontalFloat(p)
        case .maskmovdqu:
            let data = Self.lanes(vector(p.pointee.o0.reg), as: B16.self)
            let selector = Self.lanes(vector(p.pointee.o1.reg), as: B16.self)
            for i in 0..<16 where selector[i] & 0x80 != 0 {
                tracker.copy(to: .memory(gprs[7] &+ UInt64(i), size: 1), from: xmmLocation(p.pointee.o0.reg, offset: i, size: 1))
                guard memory.store(gprs[7] &+ UInt64(i), size: 1, UInt64(data[i])) else { return memoryFault(p) }
            }
            return .next
        default:
            return unsupported(p)
        }
    }

    // MARK: Lane formulas (one 128-bit lane; AVX applies them to each lane of a YMM)

    /// Result of a two-source packed operation on one 128-bit lane: `a` is the first source
    /// (the legacy destination), `b` the second; `imm` is the instruction's imm8 where it
    /// has one, `selector` the blend mask of pblendvb (XMM0, or the VEX is4 register).
    /// Nil for an opcode that is not a two-source lane operation.
    @inline(__always)
    static func packedLane(_ op: Opcode, _ a: V128, _ b: V128, imm: UInt64, selector: V128) -> V128? {
        switch op {
        case .pxor: return a ^ b
        case .por: return a | b
        case .pand: return a & b
        case .pandn: return ~a & b
        case .pcmpeqb: return quad(B16(repeating: 0).replacing(with: 0xFF, where: lanes(a, as: B16.self) .== lanes(b, as: B16.self)))
        case .pcmpeqw: return quad(W8(repeating: 0).replacing(with: 0xFFFF, where: lanes(a, as: W8.self) .== lanes(b, as: W8.self)))
        case .pcmpeqd: return quad(D4(repeating: 0).replacing(with: .max, where: lanes(a, as: D4.self) .== lanes(b, as: D4.self)))
        case .pcmpeqq: return Q2(repeating: 0).replacing(with: .max, where: a .== b)
        case .pcmpgtb: return quad(B16(repeating: 0).replacing(with: 0xFF, where: lanes(a, as: S16.self) .> lanes(b, as: S16.self)))
        case .pcmpgtw: return quad(W8(repeating: 0).replacing(with: 0xFFFF, where: lanes(a, as: SW8.self) .> lanes(b, as: SW8.self)))
        case .pcmpgtd: return quad(D4(repeating: 0).replacing(with: .max, where: lanes(a, as: SD4.self) .> lanes(b, as: SD4.self)))
        case .pcmpgtq: return Q2(repeating: 0).replacing(with: .max, where: lanes(a, as: SQ2.self) .> lanes(b, as: SQ2.self))
        case .pminub: return quad(pointwiseMin(lanes(a, as: B16.self), lanes(b, as: B16.self)))
        case .pmaxub: return quad(pointwiseMax(lanes(a, as: B16.self), lanes(b, as: B16.self)))
        case .pminsb: return quad(pointwiseMin(lanes(a, as: S16.self), lanes(b, as: S16.self)))
        case .pmaxsb: return quad(pointwiseMax(lanes(a, as: S16.self), lanes(b, as: S16.self)))
        case .pminuw: return quad(pointwiseMin(lanes(a, as: W8.self), lanes(b, as: W8.self)))
        case .pmaxuw: return quad(pointwiseMax(lanes(a, as: W8.self), lanes(b, as: W8.self)))
        case .pminsw: return quad(pointwiseMin(lanes(a, as: SW8.self), lanes(b, as: SW8.self)))
        case .pmaxsw: return quad(pointwiseMax(lanes(a, as: SW8.self), lanes(b, as: SW8.self)))
        case .pminud: return quad(pointwiseMin(lanes(a, as: D4.self), lanes(b, as: D4.self)))
        case .pmaxud: return quad(pointwiseMax(lanes(a, as: D4.self), lanes(b, as: D4.self)))
        case .pminsd: return quad(pointwiseMin(lanes(a, as: SD4.self), lanes(b, as: SD4.self)))
        case .pmaxsd: return quad(pointwiseMax(lanes(a, as: SD4.self), lanes(b, as: SD4.self)))
        case .paddb: return quad(lanes(a, as: B16.self) &+ lanes(b, as: B16.self))
        case .paddw: return quad(lanes(a, as: W8.self) &+ lanes(b, as: W8.self))
        case .paddd: return quad(lanes(a, as: D4.self) &+ lanes(b, as: D4.self))
        case .paddq: return a &+ b
        case .psubb: return quad(lanes(a, as: B16.self) &- lanes(b, as: B16.self))
        case .psubw: return quad(lanes(a, as: W8.self) &- lanes(b, as: W8.self))
        case .psubd: return quad(lanes(a, as: D4.self) &- lanes(b, as: D4.self))
        case .psubq: return a &- b
        case .paddusb, .paddusw, .psubusb, .psubusw, .paddsb, .paddsw, .psubsb, .psubsw:
            return saturatingArithmetic(op, a, b)
        case .punpcklbw, .punpckhbw:
            let x = lanes(a, as: B16.self), y = lanes(b, as: B16.self)
            let base = op == .punpckhbw ? 8 : 0
            var r = B16()
            for i in 0..<8 { r[2 * i] = x[base + i]; r[2 * i + 1] = y[base + i] }
            return quad(r)
        case .punpcklwd, .punpckhwd:
            let x = lanes(a, as: W8.self), y = lanes(b, as: W8.self)
            let base = op == .punpckhwd ? 4 : 0
            var r = W8()
            for i in 0..<4 { r[2 * i] = x[base + i]; r[2 * i + 1] = y[base + i] }
            return quad(r)
        case .punpckldq, .punpckhdq, .unpcklps, .unpckhps:
            let x = lanes(a, as: D4.self), y = lanes(b, as: D4.self)
            let base = op == .punpckhdq || op == .unpckhps ? 2 : 0
            return quad(D4(x[base], y[base], x[base + 1], y[base + 1]))
        case .punpcklqdq, .unpcklpd: return V128(a[0], b[0])
        case .punpckhqdq, .unpckhpd: return V128(a[1], b[1])
        case .shufps:
            let x = lanes(a, as: D4.self), y = lanes(b, as: D4.self)
            let i = Int(truncatingIfNeeded: imm & 0xFF)
            return quad(D4(x[i & 3], x[(i >> 2) & 3], y[(i >> 4) & 3], y[(i >> 6) & 3]))
        case .shufpd:
            return V128(a[Int(imm & 1)], b[Int((imm >> 1) & 1)])
        case .pshufb:
            let x = lanes(a, as: B16.self), sel = lanes(b, as: B16.self)
            var r = B16()
            for i in 0..<16 { r[i] = sel[i] & 0x80 != 0 ? 0 : x[Int(sel[i] & 15)] }
            return quad(r)
        case .palignr:
            // (a:b) as 32 bytes, shifted right by imm bytes.
            let hi = lanes(a, as: B16.self), lo = lanes(b, as: B16.self)
            let shift = Int(imm & 0xFF)
            var r = B16()
            for i in 0..<16 {
                let k = i + shift
                r[i] = k < 16 ? lo[k] : k < 32 ? hi[k - 16] : 0
            }
            return quad(r)
        case .pmullw: return quad(lanes(a, as: W8.self) &* lanes(b, as: W8.self))
        case .pmulld: return quad(lanes(a, as: D4.self) &* lanes(b, as: D4.self))
        case .pmulhw, .pmulhuw:
            var r = W8()
            let x = lanes(a, as: W8.self), y = lanes(b, as: W8.self)
            for i in 0..<8 {
                if op == .pmulhw {
                    r[i] = UInt16(truncatingIfNeeded: (Int32(Int16(bitPattern: x[i])) * Int32(Int16(bitPattern: y[i]))) >> 16)
                } else {
                    r[i] = UInt16(truncatingIfNeeded: (UInt32(x[i]) * UInt32(y[i])) >> 16)
                }
            }
            return quad(r)
        case .pmuludq: return (a & 0xFFFF_FFFF) &* (b & 0xFFFF_FFFF)
        case .pmaddwd:
            let x = lanes(a, as: SW8.self), y = lanes(b, as: SW8.self)
            var r = D4()
            for i in 0..<4 {
                let s = Int32(x[2 * i]) &* Int32(y[2 * i]) &+ Int32(x[2 * i + 1]) &* Int32(y[2 * i + 1])
                r[i] = UInt32(bitPattern: s)
            }
            return quad(r)
        case .psadbw:
            let x = lanes(a, as: B16.self), y = lanes(b, as: B16.self)
            var sums = V128(0, 0)
            for i in 0..<16 {
                let d = x[i] > y[i] ? x[i] - y[i] : y[i] - x[i]
                sums[i / 8] &+= UInt64(d)
            }
            return sums
        case .pavgb:
            let x = lanes(a, as: B16.self), y = lanes(b, as: B16.self)
            var r = B16()
            for i in 0..<16 { r[i] = UInt8((UInt16(x[i]) + UInt16(y[i]) + 1) >> 1) }
            return quad(r)
        case .pavgw:
            let x = lanes(a, as: W8.self), y = lanes(b, as: W8.self)
            var r = W8()
            for i in 0..<8 { r[i] = UInt16((UInt32(x[i]) + UInt32(y[i]) + 1) >> 1) }
            return quad(r)
        case .packuswb, .packsswb:
            let x = lanes(a, as: SW8.self), y = lanes(b, as: SW8.self)
            var r = B16()
            for i in 0..<16 {
                let v = Int32(i < 8 ? x[i] : y[i - 8])
                if op == .packuswb { r[i] = UInt8(clamping: v) } else { r[i] = UInt8(bitPattern: Int8(clamping: v)) }
            }
            return quad(r)
        case .packssdw, .packusdw:
            let x = lanes(a, as: SD4.self), y = lanes(b, as: SD4.self)
            var r = W8()
            for i in 0..<8 {
                let v = i < 4 ? x[i] : y[i - 4]
                if op == .packusdw { r[i] = UInt16(clamping: v) } else { r[i] = UInt16(bitPattern: Int16(clamping: v)) }
            }
            return quad(r)
        case .pblendw:
            var x = lanes(a, as: W8.self)
            let y = lanes(b, as: W8.self)
            for i in 0..<8 where (imm >> UInt64(i)) & 1 != 0 { x[i] = y[i] }
            return quad(x)
        case .pblendvb:
            var x = lanes(a, as: B16.self)
            let y = lanes(b, as: B16.self)
            let s = lanes(selector, as: B16.self)
            for i in 0..<16 where s[i] & 0x80 != 0 { x[i] = y[i] }
            return quad(x)
        case .blendps, .blendvps:
            // Dword i from the second source if imm8 bit i (blendps) or the selector's
            // dword i sign bit (blendvps).
            var x = lanes(a, as: SIMD4<UInt32>.self)
            let y = lanes(b, as: SIMD4<UInt32>.self), s = lanes(selector, as: SIMD4<UInt32>.self)
            for i in 0..<4 where op == .blendps ? (imm >> UInt64(i)) & 1 != 0 : s[i] & 0x8000_0000 != 0 { x[i] = y[i] }
            return quad(x)
        case .blendpd, .blendvpd:
            var x = a
            for i in 0..<2 where op == .blendpd ? (imm >> UInt64(i)) & 1 != 0 : selector[i] & (1 << 63) != 0 { x[i] = b[i] }
            return x
        case .phaddw, .phsubw, .phaddsw, .phsubsw:
            // Adjacent pairs of a, then of b: r[i] = x[2i] ± x[2i+1] (wrapping or saturating).
            let x = lanes(a, as: SW8.self), y = lanes(b, as: SW8.self)
            var r = W8()
            for i in 0..<8 {
                let v = i < 4 ? x : y, k = 2 * (i % 4)
                let s = op == .phaddw || op == .phaddsw ? Int32(v[k]) + Int32(v[k + 1]) : Int32(v[k]) - Int32(v[k + 1])
                r[i] = op == .phaddsw || op == .phsubsw ? UInt16(bitPattern: Int16(clamping: s)) : UInt16(truncatingIfNeeded: s)
            }
            return quad(r)
        case .phaddd, .phsubd:
            let x = lanes(a, as: D4.self), y = lanes(b, as: D4.self)
            return op == .phaddd ? quad(D4(x[0] &+ x[1], x[2] &+ x[3], y[0] &+ y[1], y[2] &+ y[3]))
                                 : quad(D4(x[0] &- x[1], x[2] &- x[3], y[0] &- y[1], y[2] &- y[3]))
        case .psignb:
            let x = lanes(a, as: S16.self), y = lanes(b, as: S16.self)
            return quad(B16(truncatingIfNeeded: x.replacing(with: 0 &- x, where: y .< 0).replacing(with: 0, where: y .== 0)))
        case .psignw:
            let x = lanes(a, as: SW8.self), y = lanes(b, as: SW8.self)
            return quad(W8(truncatingIfNeeded: x.replacing(with: 0 &- x, where: y .< 0).replacing(with: 0, where: y .== 0)))
        case .psignd:
            let x = lanes(a, as: SD4.self), y = lanes(b, as: SD4.self)
            return quad(D4(truncatingIfNeeded: x.replacing(with: 0 &- x, where: y .< 0).replacing(with: 0, where: y .== 0)))
        case .pmulhrsw:
            // Signed 16x16 products, scaled to bits 30:15 and rounded: ((x·y >> 14) + 1) >> 1.
            let x = lanes(a, as: SW8.self), y = lanes(b, as: SW8.self)
            var r = W8()
            for i in 0..<8 { r[i] = UInt16(truncatingIfNeeded: (((Int32(x[i]) * Int32(y[i])) >> 14) + 1) >> 1) }
            return quad(r)
        case .pmaddubsw:
            // Unsigned bytes of a times signed bytes of b, adjacent products summed with signed saturation.
            let x = lanes(a, as: B16.self), y = lanes(b, as: S16.self)
            var r = W8()
            for i in 0..<8 {
                let s = Int32(x[2 * i]) * Int32(y[2 * i]) + Int32(x[2 * i + 1]) * Int32(y[2 * i + 1])
                r[i] = UInt16(bitPattern: Int16(clamping: s))
            }
            return quad(r)
        default:
            return nil
        }
    }

    /// movddup (quadword 0 twice), movshdup (odd dwords twice), movsldup (even dwords
    /// twice) of one 128-bit lane.
    @inline(__always)
    static func duplicateLane(_ op: Opcode, _ v: V128) -> V128 {
        switch op {
        case .movddup: return V128(v[0], v[0])
        case .movshdup:
            let d = lanes(v, as: D4.self)
            return quad(D4(d[1], d[1], d[3], d[3]))
        default:
            let d = lanes(v, as: D4.self)
            return quad(D4(d[0], d[0], d[2], d[2]))
        }
    }

    /// Result of a one-source packed operation with an imm8 on one 128-bit lane (shuffles
    /// within the lane, absolute values, byte shifts, element shifts by an immediate).
    /// Nil for an opcode that is not one.
    @inline(__always)
    static func unaryLane(_ op: Opcode, _ v: V128, imm: UInt64) -> V128? {
        let i = Int(truncatingIfNeeded: imm & 0xFF)
        switch op {
        case .pshufd:
            let d = lanes(v, as: D4.self)
            return quad(D4(d[i & 3], d[(i >> 2) & 3], d[(i >> 4) & 3], d[(i >> 6) & 3]))
        case .pshuflw, .pshufhw:
            var w = lanes(v, as: W8.self)
            let base = op == .pshufhw ? 4 : 0
            let original = w
            for k in 0..<4 { w[base + k] = original[base + ((i >> (2 * k)) & 3)] }
            return quad(w)
        case .pabsb:
            let x = lanes(v, as: S16.self)
            return quad(B16(truncatingIfNeeded: x.replacing(with: 0 &- x, where: x .< 0)))
        case .pabsw:
            let x = lanes(v, as: SW8.self)
            return quad(W8(truncatingIfNeeded: x.replacing(with: 0 &- x, where: x .< 0)))
        case .pabsd:
            let x = lanes(v, as: SD4.self)
            return quad(D4(truncatingIfNeeded: x.replacing(with: 0 &- x, where: x .< 0)))
        case .pslldq, .psrldq:
            let count = min(i, 16)
            let a = lanes(v, as: B16.self)
            var r = B16(repeating: 0)
            for k in 0..<16 {
                let source = op == .pslldq ? k - count : k + count
                if source >= 0 && source < 16 { r[k] = a[source] }
            }
            return quad(r)
        case .psllw, .pslld, .psllq, .psrlw, .psrld, .psrlq, .psraw, .psrad:
            return shiftLane(op, v, count: imm & 0xFF)
        default:
            return nil
        }
    }

    /// Element shifts of one lane by `count` (all elements by the same count; counts past
    /// the element width give zeros, or sign copies for psraw/psrad).
    @inline(__always)
    static func shiftLane(_ op: Opcode, _ a: V128, count: UInt64) -> V128 {
        switch op {
        case .psllw: return count > 15 ? V128(0, 0) : quad(lanes(a, as: W8.self) &<< W8(repeating: UInt16(count)))
        case .pslld: return count > 31 ? V128(0, 0) : quad(lanes(a, as: D4.self) &<< D4(repeating: UInt32(count)))
        case .psllq: return count > 63 ? V128(0, 0) : a &<< V128(repeating: count)
        case .psrlw: return count > 15 ? V128(0, 0) : quad(lanes(a, as: W8.self) &>> W8(repeating: UInt16(count)))
        case .psrld: return count > 31 ? V128(0, 0) : quad(lanes(a, as: D4.self) &>> D4(repeating: UInt32(count)))
        case .psrlq: return count > 63 ? V128(0, 0) : a &>> V128(repeating: count)
        case .psraw: return quad(lanes(a, as: SW8.self) &>> SW8(repeating: Int16(min(count, 15))))
        default: return quad(lanes(a, as: SD4.self) &>> SD4(repeating: Int32(min(count, 31))))
        }
    }

    static func saturatingArithmetic(_ op: Opcode, _ a: V128, _ b: V128) -> V128 {
        switch op {
        case .paddusb, .psubusb, .paddsb, .psubsb:
            let x = lanes(a, as: SIMD16<UInt8>.self), y = lanes(b, as: SIMD16<UInt8>.self)
            var r = SIMD16<UInt8>()
            for i in 0..<16 {
                switch op {
                case .paddusb: r[i] = UInt8(clamping: Int(x[i]) + Int(y[i]))
                case .psubusb: r[i] = UInt8(clamping: Int(x[i]) - Int(y[i]))
                case .paddsb: r[i] = UInt8(bitPattern: Int8(clamping: Int(Int8(bitPattern: x[i])) + Int(Int8(bitPattern: y[i]))))
                default: r[i] = UInt8(bitPattern: Int8(clamping: Int(Int8(bitPattern: x[i])) - Int(Int8(bitPattern: y[i]))))
                }
            }
            return quad(r)
        default:
            let x = lanes(a, as: SIMD8<UInt16>.self), y = lanes(b, as: SIMD8<UInt16>.self)
            var r = SIMD8<UInt16>()
            for i in 0..<8 {
                switch op {
                case .paddusw: r[i] = UInt16(clamping: Int(x[i]) + Int(y[i]))
                case .psubusw: r[i] = UInt16(clamping: Int(x[i]) - Int(y[i]))
                case .paddsw: r[i] = UInt16(bitPattern: Int16(clamping: Int(Int16(bitPattern: x[i])) + Int(Int16(bitPattern: y[i]))))
                default: r[i] = UInt16(bitPattern: Int16(clamping: Int(Int16(bitPattern: x[i])) - Int(Int16(bitPattern: y[i]))))
                }
            }
            return quad(r)
        }
    }

    /// movd/movq between GPRs, memory and XMM registers. Loads into XMM zero the rest.
    func execMovdMovq(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size: UInt8 = p.pointee.op == .movd ? 4 : 8
        let dst = p.pointee.o0, src = p.pointee.o1
        tracker.copy(to: location(dst, size: size), from: location(src, size: size))
        if dst.kind == .xmm {
            loadDependency(location(dst, size: size), src)
            clearUpperXMM(dst.reg, from: size)
            guard let v = readScalar(src, size: size) else { return memoryFault(p) }
            setVector(dst.reg, V128(v, 0))
            return .next
        }
        let v = xmms[Int(src.reg) &* 2] & Self.mask(size)
        if dst.kind == .memory {
            guard memory.store(effectiveAddress(dst), size: UInt64(size), v) else { return memoryFault(p) }
        } else {
            writeGPR(dst.reg, size: size, v)
        }
        return .next
    }

    /// pcmpistri / pcmpestri (SSE4.2, index result in ECX) and pcmpistrm / pcmpestrm (mask
    /// result in XMM0: the bits zero-extended, or with imm8 bit 6 one all-ones element per
    /// set bit): the aggregation modes — equal any, ranges, equal each, equal ordered (SDM
    /// Vol. 2, 4.1). Implicit lengths end at the first zero element; explicit ones are |EAX|
    /// and |EDX| saturated to the element count (SDM Vol. 2, 4.1.6).
    func execPcmpistri(_ p: UnsafePointer<Instruction>, explicitLengths: Bool) -> ExecStatus {
        guard let bv = readVector(p.pointee.o1) else { return memoryFault(p) }
        let av = vector(p.pointee.o0.reg)
        let imm = p.pointee.o2.value
        let words = imm & 1 != 0
        let signed = imm & 2 != 0
        let aggregation = (imm >> 2) & 3
        let polarity = (imm >> 4) & 3
        let mostSignificant = imm & 0x40 != 0
        let count = words ? 8 : 16
        func element(_ v: V128, _ i: Int) -> Int {
            if words {
                let w = UInt16(truncatingIfNeeded: v[i / 4] >> UInt64(16 * (i % 4)))
                return signed ? Int(Int16(bitPattern: w)) : Int(w)
            }
            let b = UInt8(truncatingIfNeeded: v[i / 8] >> UInt64(8 * (i % 8)))
            return signed ? Int(Int8(bitPattern: b)) : Int(b)
        }
        func length(_ v: V128) -> Int {
            for i in 0..<count where element(v, i) == 0 { return i }
            return count
        }
        func explicitLength(_ raw: UInt64) -> Int {
            // EAX/EDX; the REX.W form reads RAX/RDX, which differs only for lengths
            // beyond 32 bits (all saturate to the element count anyway unless their low
            // half is small): not modelled.
            Int(min(Int64(Int32(truncatingIfNeeded: raw)).magnitude, UInt64(count)))
        }
        let la = explicitLengths ? explicitLength(gprs[0]) : length(av)
        let lb = explicitLengths ? explicitLength(gprs[2]) : length(bv)
        var result = 0
        for j in 0..<count {
            var bit = false
            switch aggregation {
            case 0: // equal any: b[j] in set a
                if j < lb { for i in 0..<la where element(av, i) == element(bv, j) { bit = true; break } }
            case 1: // ranges: pairs in a
                if j < lb {
                    var i = 0
                    while i + 1 < la {
                        if element(av, i) <= element(bv, j) && element(bv, j) <= element(av, i + 1) { bit = true; break }
                        i += 2
                    }
                }
            case 2: // equal each
                if j >= la && j >= lb { bit = true } else if j < la && j < lb { bit = element(av, j) == element(bv, j) }
            default: // equal ordered: substring a at position j of b
                bit = true
                for i in 0..<(count - j) {
                    if i >= la { break }
                    if j + i >= lb { bit = false; break }
                    if element(av, i) != element(bv, j + i) { bit = false; break }
                }
            }
            if bit { result |= 1 << j }
        }
        switch polarity {
        case 1: result ^= (1 << count) - 1
        case 3: result ^= (1 << lb) - 1
        default: break
        }
        if p.pointee.op == .pcmpistrm || p.pointee.op == .pcmpestrm {
            var mask = V128(UInt64(result), 0)
            if mostSignificant {
                // Expanded: element j all ones when bit j is set.
                mask = V128(0, 0)
                let elementBits = words ? 16 : 8
                for j in 0..<count where (result >> j) & 1 != 0 {
                    let bit = j * elementBits
                    mask[bit / 64] |= Self.mask(UInt8(elementBits / 8)) << UInt64(bit % 64)
                }
            }
            setVector(0, mask)
        } else {
            let index: Int
            if result == 0 { index = count } else if mostSignificant { index = Int.bitWidth - 1 - result.leadingZeroBitCount } else { index = result.trailingZeroBitCount }
            gprs[1] = UInt64(index)
        }
        let c = cpu
        c.pointee.materializeFlags()
        var f = c.pointee.flagsStored & ~RFlags.arithmetic
        if result != 0 { f |= RFlags.carry }
        if lb < count { f |= RFlags.zero }
        if la < count { f |= RFlags.sign }
        if result & 1 != 0 { f |= RFlags.overflow }
        c.pointee.flagsStored = f
        return .next
    }
}
