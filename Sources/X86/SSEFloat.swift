// SSE/SSE2 floating point: scalar and packed arithmetic, compares, conversions and
// rounding (SDM Vol. 2; Vol. 1 ch. 11). Arithmetic runs on the host's SSE unit, which has
// the same IEEE semantics, under the guest's rounding mode; the exception flags the host
// raises are ORed into the guest MXCSR.
import Glibc

/// Host floating-point environment helpers. The bodies are `@_optimize(none)` so that the
/// arithmetic stays between clearing and testing the exception flags (Swift has no
/// FENV_ACCESS; an optimizer may otherwise move pure float operations across the calls).
enum HostFloatEnvironment {
    // glibc's x86-64 <fenv.h> values: the rounding modes are the x87 RC field in place
    // (RC << 10), the exception bits share the x86 status layout (the Swift overlay
    // does not import these macros unambiguously).
    static let toNearest: Int32 = 0
    static let allExceptions: Int32 = 0x3F

    /// fesetround value for a 2-bit x86 rounding-control field (MXCSR.RC / FCW.RC).
    @inline(__always)
    static func roundingMode(_ rc: UInt32) -> Int32 { Int32(rc & 3) << 10 }

    /// Runs `body` under rounding control `rc`, returning its result and the exception
    /// flags raised (x86 bit layout: IE=1, DE=2, ZE=4, OE=8, UE=16, PE=32).
    @_optimize(none) @inline(never)
    static func compute<T>(rc: UInt32, _ body: () -> T) -> (T, UInt32) {
        let nearest = rc & 3 == 0
        if !nearest { fesetround(roundingMode(rc)) }
        feclearexcept(allExceptions)
        let result = body()
        let raised = UInt32(fetestexcept(allExceptions))
        if !nearest { fesetround(toNearest) }
        return (result, raised & 0x3F)
    }

    /// Runs `body` under the guest's MXCSR rounding, flush-to-zero and denormals-are-zero
    /// bits (all exceptions masked), returning its result and the exception flags raised.
    /// The host unit then flushes tiny results and sets UE and PE exactly as the CPU does
    /// (SDM Vol. 1, 10.2.3.3 and 11.5.2.4). Costs an fegetenv/fesetenv pair: only used
    /// while the guest has FTZ or DAZ set.
    @_optimize(none) @inline(never)
    static func compute<T>(mxcsr: UInt32, _ body: () -> T) -> (T, UInt32) {
        var saved = fenv_t()
        fegetenv(&saved)
        var guest = saved
        guest.__mxcsr = (mxcsr & 0xFFC0) | 0x1F80
        fesetenv(&guest)
        feclearexcept(allExceptions)
        let result = body()
        let raised = UInt32(fetestexcept(allExceptions))
        fesetenv(&saved)
        return (result, raised & 0x3F)
    }
}

/// MXCSR control bits (SDM Vol. 1, 10.2.3).
enum MXCSRBits {
    static let denormalsAreZero: UInt32 = 0x40
    static let flushToZero: UInt32 = 0x8000
    static let flushModes: UInt32 = flushToZero | denormalsAreZero
}

extension Machine {
    @inline(__always)
    var mxcsrRounding: UInt32 { (cpu.pointee.mxcsr >> 13) & 3 }

    @inline(__always)
    var mxcsrLocation: DataLocation { Self.registerLocation(RegisterFile.mxcsr, size: 4) }

    /// The operation may raise exception flags in MXCSR that depend on its operands: the
    /// sticky flags accumulate their labels (rounding control is read, too, but a
    /// rounding mode derived from input is not worth a hook per operation).
    @inline(__always)
    func floatStatus(from source: DataLocation) {
        tracker.combine(into: mxcsrLocation, from: source)
    }

    @inline(__always)
    func sse<T>(_ body: () -> T) -> T {
        let mxcsr = cpu.pointee.mxcsr
        let (r, flags) = mxcsr & MXCSRBits.flushModes == 0
            ? HostFloatEnvironment.compute(rc: mxcsrRounding, body)
            : HostFloatEnvironment.compute(mxcsr: mxcsr, body)
        cpu.pointee.mxcsr |= flags
        return r
    }

    /// Records DE (denormal operand) for subnormal inputs. glibc's fetestexcept drops the
    /// x86-only denormal bit, so it is derived from the operands: set when an input is
    /// subnormal and no input is a NaN (observed on this CPU; SDM Vol. 1, 11.5.2.2).
    @inline(__always)
    func noteDenormalOperands<F: BinaryFloatingPoint>(_ values: F...) {
        // DAZ reads denormal operands as zeros: no DE.
        if cpu.pointee.mxcsr & MXCSRBits.denormalsAreZero != 0 { return }
        var subnormal = false
        for v in values {
            if v.isNaN { return }
            if v.isSubnormal { subnormal = true }
        }
        if subnormal { cpu.pointee.mxcsr |= 2 }
    }

    /// IE for compares: signaling NaNs always; quiet NaNs for the ordered-signaling
    /// predicates lt/le/nlt/nle (CMPSD) or for comis*.
    @inline(__always)
    func noteCompareInvalid<F: BinaryFloatingPoint>(_ x: F, _ y: F, signalOnQuiet: Bool) {
        if x.isSignalingNaN || y.isSignalingNaN || (signalOnQuiet && (x.isNaN || y.isNaN)) { cpu.pointee.mxcsr |= 1 }
        noteDenormalOperands(x, y)
    }

    /// Whether compare predicate 0-31 raises IE on a quiet NaN: the _S forms (1, 2, 5, 6,
    /// 9, 10, 13, 14 and, with bit 4 flipping the choice, 16, 19, 20 ... 31).
    @inline(__always)
    static func signalsOnQuietNaN(_ predicate: UInt8) -> Bool {
        let orderedSignaling = predicate & 3 == 1 || predicate & 3 == 2
        return orderedSignaling != (predicate & 16 != 0)
    }

    @inline(__always)
    static func double(_ bits: UInt64) -> Double { Double(bitPattern: bits) }
    @inline(__always)
    static func float(_ bits: UInt64) -> Float { Float(bitPattern: UInt32(truncatingIfNeeded: bits)) }

    /// Scalar operation on the low lane; `double` selects sd vs ss.
    func scalarArithmetic(_ p: UnsafePointer<Instruction>, double: Bool, _ op: Opcode) -> ExecStatus {
        let dst = p.pointee.o0.reg
        let size: UInt8 = double ? 8 : 4
        guard let b = readScalar(p.pointee.o1, size: size) else { return memoryFault(p) }
        // The low lane only; unary forms (sqrt, rcp, rsqrt) ignore its old value.
        let lane = xmmLocation(dst, offset: 0, size: size)
        if op == .sqrtss || op == .sqrtsd || op == .rcpss || op == .rsqrtss {
            tracker.derive(to: lane, from: location(p.pointee.o1, size: size), .constant)
        } else {
            tracker.derive(to: lane, from: lane, location(p.pointee.o1, size: size))
        }
        loadDependency(lane, p.pointee.o1)
        floatStatus(from: lane)
        let low = xmms + Int(dst) &* 2
        if double {
            let x = minMaxOperand(op, Self.double(low.pointee)), y = minMaxOperand(op, Self.double(b))
            if op == .sqrtsd { if !(y < 0) { noteDenormalOperands(y) } } else if !(op == .divsd && y == 0) { noteDenormalOperands(x, y) }
            noteMinMaxInvalid(op, x, y)
            let r: Double = sse { Self.arithmetic(op, x, y) }
            low.pointee = r.bitPattern
        } else {
            let x = minMaxOperand(op, Self.float(low.pointee)), y = minMaxOperand(op, Self.float(b))
            if op == .rcpss || op == .rsqrtss {
                let estimate = hostReciprocalEstimate(squareRoot: op == .rsqrtss, V128(b & 0xFFFF_FFFF, 0))
                low.pointee = (low.pointee & ~0xFFFF_FFFF) | (estimate[0] & 0xFFFF_FFFF)
                return .next
            }
            if op == .sqrtss { if !(y < 0) { noteDenormalOperands(y) } } else if !(op == .divss && y == 0) { noteDenormalOperands(x, y) }
            noteMinMaxInvalid(op, x, y)
            let r: Float = sse { Self.arithmetic(op, x, y) }
            low.pointee = (low.pointee & ~0xFFFF_FFFF) | UInt64(r.bitPattern)
        }
        return .next
    }

    /// The operand as an instruction reads it: with MXCSR.DAZ a denormal reads as a signed
    /// zero. The host applies DAZ itself to arithmetic; min/max (compares in Swift, the
    /// chosen operand's bits returned) need it here.
    @inline(__always)
    func minMaxOperand<F: BinaryFloatingPoint>(_ op: Opcode, _ v: F) -> F {
        switch op {
        case .minss, .minsd, .minps, .minpd, .maxss, .maxsd, .maxps, .maxpd: return compareOperand(v)
        default: return v
        }
    }

    /// An operand compared in Swift (min/max, comis*, ucomis*, cmp*): with MXCSR.DAZ a
    /// denormal reads as a zero of its sign, so it compares equal to zero (SDM Vol. 1,
    /// 10.2.3.4).
    @inline(__always)
    func compareOperand<F: BinaryFloatingPoint>(_ v: F) -> F {
        if v.isSubnormal && cpu.pointee.mxcsr & MXCSRBits.denormalsAreZero != 0 { return F(signOf: v, magnitudeOf: 0) }
        return v
    }

    /// min/max raise invalid for any NaN operand, quiet or not (SDM Vol. 2, MINSD).
    @inline(__always)
    func noteMinMaxInvalid<F: BinaryFloatingPoint>(_ op: Opcode, _ x: F, _ y: F) {
        switch op {
        case .minss, .minsd, .minps, .minpd, .maxss, .maxsd, .maxps, .maxpd:
            if x.isNaN || y.isNaN { cpu.pointee.mxcsr |= 1 }
        default: break
        }
    }

    /// Shared semantics of add/sub/mul/div/min/max/sqrt (SSE min/max return the second
    /// operand when either is NaN or both are zero: SDM Vol. 2, MINSD).
    @inline(__always)
    static func arithmetic<F: BinaryFloatingPoint>(_ op: Opcode, _ x: F, _ y: F) -> F {
        switch op {
        case .addss, .addsd, .addps, .addpd: return x + y
        case .subss, .subsd, .subps, .subpd: return x - y
        case .mulss, .mulsd, .mulps, .mulpd: return x * y
        case .divss, .divsd, .divps, .divpd: return x / y
        case .minss, .minsd, .minps, .minpd: return x < y ? x : y
        case .maxss, .maxsd, .maxps, .maxpd: return x > y ? x : y
        default: return y.squareRoot()  // sqrt; rcp/rsqrt run on the host (hostReciprocalEstimate)
        }
    }

    /// CMPSS/CMPSD/CMPPS/CMPPD predicates 0-31 (the legacy encodings reach 0-7; VEX all 32,
    /// SDM Vol. 2, CMPPS, Table 3-1): bits 0-2 and 3 pick the relation, bit 4 only whether a
    /// quiet NaN signals (`signalsOnQuietNaN`).
    @inline(__always)
    static func comparePredicate<F: BinaryFloatingPoint>(_ predicate: UInt8, _ x: F, _ y: F) -> Bool {
        let unordered = x.isNaN || y.isNaN
        switch predicate & 15 {
        case 0: return x == y                      // EQ_OQ
        case 1: return x < y                       // LT_OS
        case 2: return x <= y                      // LE_OS
        case 3: return unordered                   // UNORD_Q
        case 4: return !(x == y)                   // NEQ_UQ
        case 5: return !(x < y)                    // NLT_US
        case 6: return !(x <= y)                   // NLE_US
        case 7: return !unordered                  // ORD_Q
        case 8: return x == y || unordered         // EQ_UQ
        case 9: return !(x >= y)                   // NGE_US
        case 10: return !(x > y)                   // NGT_US
        case 11: return false                      // FALSE_OQ
        case 12: return !unordered && x != y       // NEQ_OQ
        case 13: return x >= y                     // GE_OS
        case 14: return x > y                      // GT_OS
        default: return true                       // TRUE_UQ
        }
    }

    /// Float to integer with x86 overflow behaviour: NaN and out-of-range give the
    /// "integer indefinite" value (most negative) and raise invalid.
    @inline(__always)
    func convertToInteger(_ value: Double, size: UInt8, truncate: Bool) -> UInt64 {
        let bits = Double(Int(size) * 8)
        let limit = Double(sign: .plus, exponent: Int(bits) - 1, significand: 1)
        let rounded = truncate ? value.rounded(.towardZero) : Self.roundPerControl(value, rc: mxcsrRounding)
        if rounded.isNaN || rounded >= limit || rounded < -limit {
            cpu.pointee.mxcsr |= 1
            return size == 8 ? 0x8000_0000_0000_0000 : 0x8000_0000
        }
        if rounded != value { cpu.pointee.mxcsr |= 0x20 }
        return UInt64(bitPattern: Int64(rounded)) & Self.mask(size)
    }

    @inline(__always)
    static func roundPerControl<F: BinaryFloatingPoint>(_ value: F, rc: UInt32) -> F {
        switch rc & 3 {
        case 0: return value.rounded(.toNearestOrEven)
        case 1: return value.rounded(.down)
        case 2: return value.rounded(.up)
        default: return value.rounded(.towardZero)
        }
    }

    /// One 128-bit lane of a packed floating-point operation, with the MXCSR flags it
    /// raises: add, sub, mul, div, min, max, sqrt (of `b`) in ps and pd, and cmpps/cmppd
    /// with `predicate` (0-31; the legacy encodings give 0-7). `a` is the first source
    /// (the destination of the SSE form), `b` the second. Shared by the SSE forms and both
    /// lanes of the 256-bit VEX forms.
    func packedFloatLane(_ op: Opcode, _ a: V128, _ b: V128, predicate: UInt8) -> V128 {
        switch op {
        case .addpd, .subpd, .mulpd, .divpd, .minpd, .maxpd, .sqrtpd:
            let unary = op == .sqrtpd
            for i in 0..<2 {
                noteMinMaxInvalid(op, Self.double(a[i]), Self.double(b[i]))
                if unary { if !(Self.double(b[i]) < 0) { noteDenormalOperands(Self.double(b[i])) } } else if !(op == .divpd && Self.double(b[i]) == 0) { noteDenormalOperands(Self.double(a[i]), Self.double(b[i])) }
            }
            let x0 = minMaxOperand(op, Self.double(a[0])), x1 = minMaxOperand(op, Self.double(a[1]))
            let y0 = minMaxOperand(op, Self.double(b[0])), y1 = minMaxOperand(op, Self.double(b[1]))
            return sse {
                V128(Self.arithmetic(op, x0, y0).bitPattern, Self.arithmetic(op, x1, y1).bitPattern)
            }
        case .cmppd:
            for i in 0..<2 { noteCompareInvalid(Self.double(a[i]), Self.double(b[i]), signalOnQuiet: Self.signalsOnQuietNaN(predicate)) }
            return V128(Self.comparePredicate(predicate, compareOperand(Self.double(a[0])), compareOperand(Self.double(b[0]))) ? .max : 0,
                        Self.comparePredicate(predicate, compareOperand(Self.double(a[1])), compareOperand(Self.double(b[1]))) ? .max : 0)
        case .cmpps:
            let x = Self.lanes(a, as: SIMD4<UInt32>.self), y = Self.lanes(b, as: SIMD4<UInt32>.self)
            var r = SIMD4<UInt32>()
            for i in 0..<4 {
                noteCompareInvalid(Float(bitPattern: x[i]), Float(bitPattern: y[i]), signalOnQuiet: Self.signalsOnQuietNaN(predicate))
                r[i] = Self.comparePredicate(predicate, compareOperand(Float(bitPattern: x[i])), compareOperand(Float(bitPattern: y[i]))) ? .max : 0
            }
            return Self.quad(r)
        default:
            let x = Self.lanes(a, as: SIMD4<UInt32>.self), y = Self.lanes(b, as: SIMD4<UInt32>.self)
            let unary = op == .sqrtps || op == .rcpps || op == .rsqrtps
            for i in 0..<4 {
                noteMinMaxInvalid(op, Float(bitPattern: x[i]), Float(bitPattern: y[i]))
                if unary { if !(Float(bitPattern: y[i]) < 0) { noteDenormalOperands(Float(bitPattern: y[i])) } } else if !(op == .divps && Float(bitPattern: y[i]) == 0) { noteDenormalOperands(Float(bitPattern: x[i]), Float(bitPattern: y[i])) }
            }
            return sse {
                var r = SIMD4<UInt32>()
                for i in 0..<4 {
                    r[i] = Self.arithmetic(op, minMaxOperand(op, Float(bitPattern: x[i])), minMaxOperand(op, Float(bitPattern: y[i]))).bitPattern
                }
                return Self.quad(r)
            }
        }
    }

    /// roundss/sd/ps/pd of one element: imm8[1:0] rounding, or MXCSR.RC with imm8[2];
    /// PE unless imm8[3]; a signaling NaN raises IE and comes out quiet (x + 0 on the
    /// host quiets it, payload kept), as on the CPU.
    @inline(__always)
    func roundFloat<F: BinaryFloatingPoint>(_ x: F, imm: UInt32) -> F {
        let rc = imm & 4 != 0 ? mxcsrRounding : imm & 3
        let r = Self.roundPerControl(x, rc: rc)
        if x.isSignalingNaN { cpu.pointee.mxcsr |= 1 }
        if imm & 8 == 0 && r != x && !x.isNaN { cpu.pointee.mxcsr |= 0x20 }
        return x.isNaN ? x + 0 : r
    }

    /// One 128-bit lane of a same-shape packed conversion or rounding, with its MXCSR
    /// flags: cvtdq2ps, cvttps2dq, cvtps2dq, roundps, roundpd (`imm` its imm8). Shared by
    /// the SSE forms and both lanes of the 256-bit VEX forms.
    func unaryFloatLane(_ op: Opcode, _ v: V128, imm: UInt64) -> V128 {
        switch op {
        case .cvtdq2ps:
            let x = Self.lanes(v, as: SIMD4<Int32>.self)
            return sse {
                Self.quad(SIMD4<UInt32>(Float(x[0]).bitPattern, Float(x[1]).bitPattern, Float(x[2]).bitPattern, Float(x[3]).bitPattern))
            }
        case .cvttps2dq, .cvtps2dq:
            let x = Self.lanes(v, as: SIMD4<UInt32>.self)
            var r = SIMD4<UInt32>()
            for i in 0..<4 {
                r[i] = UInt32(truncatingIfNeeded: convertToInteger(Double(Float(bitPattern: x[i])), size: 4, truncate: op == .cvttps2dq))
            }
            return Self.quad(r)
        case .roundpd:
            let i = UInt32(truncatingIfNeeded: imm)
            return V128(roundFloat(Self.double(v[0]), imm: i).bitPattern, roundFloat(Self.double(v[1]), imm: i).bitPattern)
        default:  // roundps
            var x = Self.lanes(v, as: SIMD4<UInt32>.self)
            for k in 0..<4 { x[k] = roundFloat(Float(bitPattern: x[k]), imm: UInt32(truncatingIfNeeded: imm)).bitPattern }
            return Self.quad(x)
        }
    }

    func executeSSEFloat(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let op = p.pointee.op
        switch op {
        case .addss, .subss, .mulss, .divss, .minss, .maxss, .sqrtss, .rcpss, .rsqrtss:
            return scalarArithmetic(p, double: false, op)
        case .addsd, .subsd, .mulsd, .divsd, .minsd, .maxsd, .sqrtsd:
            return scalarArithmetic(p, double: true, op)
        case .addpd, .subpd, .mulpd, .divpd, .minpd, .maxpd, .sqrtpd:
            floatStatus(from: location(p.pointee.o1, size: 16))
            if op == .sqrtpd { deriveVector(p) }
            return packedBinary(p) { a, b in packedFloatLane(op, a, b, predicate: 0) }
        case .rcpps, .rsqrtps:
            deriveVector(p)
            return packedBinary(p) { _, b in hostReciprocalEstimate(squareRoot: op == .rsqrtps, b) }
        case .addps, .subps, .mulps, .divps, .minps, .maxps, .sqrtps:
            floatStatus(from: location(p.pointee.o1, size: 16))
            if op == .sqrtps { deriveVector(p) }
            return packedBinary(p) { a, b in packedFloatLane(op, a, b, predicate: 0) }
        case .ucomiss, .ucomisd, .comiss, .comisd:
            let isDouble = op == .ucomisd || op == .comisd
            guard let b = readScalar(p.pointee.o1, size: isDouble ? 8 : 4) else { return memoryFault(p) }
            let a = xmms[Int(p.pointee.o0.reg) &* 2]
            let x = isDouble ? compareOperand(Self.double(a)) : Double(compareOperand(Self.float(a)))
            let y = isDouble ? compareOperand(Self.double(b)) : Double(compareOperand(Self.float(b)))
            var f = cpu.pointee.flagsStored & ~RFlags.arithmetic
            // comis* signal invalid on any NaN; ucomis* only on signaling NaNs.
            if isDouble {
                noteCompareInvalid(Self.double(a), Self.double(b), signalOnQuiet: op == .comisd)
            } else {
                noteCompareInvalid(Self.float(a), Self.float(b), signalOnQuiet: op == .comiss)
            }
            if x.isNaN || y.isNaN {
                f |= RFlags.zero | RFlags.parity | RFlags.carry
            } else if x < y {
                f |= RFlags.carry
            } else if x == y {
                f |= RFlags.zero
            }
            cpu.pointee.flagsStored = f
            cpu.pointee.lazyOp = .materialized
            let size: UInt8 = isDouble ? 8 : 4
            tracker.derive(to: flagsLocation, from: xmmLocation(p.pointee.o0.reg, offset: 0, size: size), location(p.pointee.o1, size: size))
            loadDependency(flagsLocation, p.pointee.o1)
            floatStatus(from: flagsLocation)
            return .next
        case .cmpss, .cmpsd_sse:
            let isDouble = op == .cmpsd_sse
            let lane = xmmLocation(p.pointee.o0.reg, offset: 0, size: isDouble ? 8 : 4)
            tracker.derive(to: lane, from: lane, location(p.pointee.o1, size: isDouble ? 8 : 4))
            loadDependency(lane, p.pointee.o1)
            floatStatus(from: lane)
            guard let b = readScalar(p.pointee.o1, size: isDouble ? 8 : 4) else { return memoryFault(p) }
            let d = xmms + Int(p.pointee.o0.reg) &* 2
            let predicate = p.pointee.condition
            let quiet = Self.signalsOnQuietNaN(predicate)
            if isDouble {
                noteCompareInvalid(Self.double(d.pointee), Self.double(b), signalOnQuiet: quiet)
                d.pointee = Self.comparePredicate(predicate, compareOperand(Self.double(d.pointee)), compareOperand(Self.double(b))) ? .max : 0
            } else {
                noteCompareInvalid(Self.float(d.pointee), Self.float(b), signalOnQuiet: quiet)
                let r: UInt64 = Self.comparePredicate(predicate, compareOperand(Self.float(d.pointee)), compareOperand(Self.float(b))) ? 0xFFFF_FFFF : 0
                d.pointee = (d.pointee & ~0xFFFF_FFFF) | r
            }
            return .next
        case .cmppd:
            floatStatus(from: location(p.pointee.o1, size: 16))
            return packedBinary(p) { a, b in packedFloatLane(op, a, b, predicate: p.pointee.condition) }
        case .cmpps:
            floatStatus(from: location(p.pointee.o1, size: 16))
            return packedBinary(p) { a, b in packedFloatLane(op, a, b, predicate: p.pointee.condition) }
        case .cvtsi2sd, .cvtsi2ss:
            let src = p.pointee.o1
            let size: UInt8 = src.size == 8 ? 8 : 4
            guard let raw = readScalar(src, size: size) else { return memoryFault(p) }
            let value = Int64(bitPattern: Self.signExtend(raw, size))
            let d = xmms + Int(p.pointee.o0.reg) &* 2
            let lane = xmmLocation(p.pointee.o0.reg, offset: 0, size: op == .cvtsi2sd ? 8 : 4)
            tracker.derive(to: lane, from: location(src, size: size), .constant)
            loadDependency(lane, src)
            floatStatus(from: lane)
            if op == .cvtsi2sd {
                d.pointee = sse { Double(value) }.bitPattern
            } else {
                d.pointee = (d.pointee & ~0xFFFF_FFFF) | UInt64(sse { Float(value) }.bitPattern)
            }
            return .next
        case .cvttsd2si, .cvtsd2si, .cvttss2si, .cvtss2si:
            let fromDouble = op == .cvttsd2si || op == .cvtsd2si
            guard let raw = readScalar(p.pointee.o1, size: fromDouble ? 8 : 4) else { return memoryFault(p) }
            let value = fromDouble ? Self.double(raw) : Double(Self.float(raw))
            let size = p.pointee.o0.size
            let r = convertToInteger(value, size: size, truncate: op == .cvttsd2si || op == .cvttss2si)
            loadDerive(to: location(p.pointee.o0, size: size), from: location(p.pointee.o1, size: fromDouble ? 8 : 4), .constant,
                       address: p.pointee.o1)
            floatStatus(from: location(p.pointee.o0, size: size))
            writeGPR(p.pointee.o0.reg, size: size, r)
            return .next
        case .cvtss2sd:
            tracker.derive(to: xmmLocation(p.pointee.o0.reg, offset: 0, size: 8), from: location(p.pointee.o1, size: 4), .constant)
            loadDependency(xmmLocation(p.pointee.o0.reg, offset: 0, size: 8), p.pointee.o1)
            floatStatus(from: location(p.pointee.o1, size: 4))
            guard let raw = readScalar(p.pointee.o1, size: 4) else { return memoryFault(p) }
            noteDenormalOperands(Self.float(raw))
            let r: Double = sse { Double(Self.float(raw)) }
            xmms[Int(p.pointee.o0.reg) &* 2] = r.bitPattern
            return .next
        case .cvtsd2ss:
            tracker.derive(to: xmmLocation(p.pointee.o0.reg, offset: 0, size: 4), from: location(p.pointee.o1, size: 8), .constant)
            loadDependency(xmmLocation(p.pointee.o0.reg, offset: 0, size: 4), p.pointee.o1)
            floatStatus(from: location(p.pointee.o1, size: 8))
            guard let raw = readScalar(p.pointee.o1, size: 8) else { return memoryFault(p) }
            noteDenormalOperands(Self.double(raw))
            let r: Float = sse { Float(Self.double(raw)) }
            let d = xmms + Int(p.pointee.o0.reg) &* 2
            d.pointee = (d.pointee & ~0xFFFF_FFFF) | UInt64(r.bitPattern)
            return .next
        case .cvtdq2pd, .cvtps2pd:
            deriveVector(p, sourceSize: 8)
            floatStatus(from: location(p.pointee.o1, size: 8))
            let src = p.pointee.o1
            let raw: UInt64
            if src.kind == .xmm { raw = xmms[Int(src.reg) &* 2] } else {
                guard let v = memory.load(effectiveAddress(src), size: 8) else { return memoryFault(p) }
                raw = v
            }
            let lo = raw & 0xFFFF_FFFF, hi = raw >> 32
            if op == .cvtps2pd { noteDenormalOperands(Self.float(lo)); noteDenormalOperands(Self.float(hi)) }
            let r: V128 = sse {
                op == .cvtdq2pd
                    ? V128(Double(Int32(bitPattern: UInt32(lo))).bitPattern, Double(Int32(bitPattern: UInt32(hi))).bitPattern)
                    : V128(Double(Self.float(lo)).bitPattern, Double(Self.float(hi)).bitPattern)
            }
            setVector(p.pointee.o0.reg, r)
            return .next
        case .cvtdq2ps, .cvttps2dq, .cvtps2dq:
            deriveVector(p)
            floatStatus(from: location(p.pointee.o1, size: 16))
            guard let v = readVector(p.pointee.o1) else { return memoryFault(p) }
            setVector(p.pointee.o0.reg, unaryFloatLane(op, v, imm: 0))
            return .next
        case .cvttpd2dq, .cvtpd2dq, .cvtpd2ps:
            // Two results in the low half; the high half is zeroed.
            tracker.derive(to: xmmLocation(p.pointee.o0.reg, offset: 0, size: 8), from: location(p.pointee.o1, size: 16), .constant)
            loadDependency(xmmLocation(p.pointee.o0.reg, offset: 0, size: 8), p.pointee.o1)
            clearUpperXMM(p.pointee.o0.reg, from: 8)
            floatStatus(from: location(p.pointee.o1, size: 16))
            guard let v = readVector(p.pointee.o1) else { return memoryFault(p) }
            if op == .cvtpd2ps {
                noteDenormalOperands(Self.double(v[0]))
                noteDenormalOperands(Self.double(v[1]))
                let r: V128 = sse {
                    V128(UInt64(Float(Self.double(v[0])).bitPattern) | (UInt64(Float(Self.double(v[1])).bitPattern) << 32), 0)
                }
                setVector(p.pointee.o0.reg, r)
            } else {
                let a = convertToInteger(Self.double(v[0]), size: 4, truncate: op == .cvttpd2dq)
                let b = convertToInteger(Self.double(v[1]), size: 4, truncate: op == .cvttpd2dq)
                setVector(p.pointee.o0.reg, V128(a | (b << 32), 0))
            }
            return .next
        case .roundsd, .roundss, .roundpd, .roundps:
            let resultSize: UInt8 = op == .roundsd ? 8 : op == .roundss ? 4 : 16
            tracker.derive(to: xmmLocation(p.pointee.o0.reg, offset: 0, size: resultSize), from: location(p.pointee.o1, size: resultSize), .constant)
            loadDependency(xmmLocation(p.pointee.o0.reg, offset: 0, size: resultSize), p.pointee.o1)
            floatStatus(from: location(p.pointee.o1, size: resultSize))
            let imm = UInt32(truncatingIfNeeded: p.pointee.o2.value)
            func round<F: BinaryFloatingPoint>(_ x: F) -> F { roundFloat(x, imm: imm) }
            switch op {
            case .roundsd:
                guard let raw = readScalar(p.pointee.o1, size: 8) else { return memoryFault(p) }
                xmms[Int(p.pointee.o0.reg) &* 2] = round(Self.double(raw)).bitPattern
            case .roundss:
                guard let raw = readScalar(p.pointee.o1, size: 4) else { return memoryFault(p) }
                let d = xmms + Int(p.pointee.o0.reg) &* 2
                d.pointee = (d.pointee & ~0xFFFF_FFFF) | UInt64(round(Self.float(raw)).bitPattern)
            default:
                guard let v = readVector(p.pointee.o1) else { return memoryFault(p) }
                setVector(p.pointee.o0.reg, unaryFloatLane(op, v, imm: UInt64(imm)))
            }
            return .next
        default:
            return unsupported(p)
        }
    }
}

// MARK: Horizontal arithmetic and dot products (SSE3 haddps/hsubps/haddpd/hsubpd, SSE4.1 dpps)

extension Machine {
    /// `a ∘ b` under the NaN rule this CPU follows for SSE arithmetic (SDM Vol. 1, 4.8.3.5,
    /// Table 4-7): a NaN operand comes through quieted, `a` when both are NaNs, and a
    /// signalling one raises IE; otherwise the host computes it (inside `sse`). The rule is
    /// applied here because LLVM promises nothing about which NaN a host `+` returns: a
    /// release build may commute or rewrite the operation (a differential test caught
    /// hsubps returning another NaN than the CPU in release only). Cost: two NaN tests.
    @inline(__always)
    func applyingNaNRule(_ a: Float, _ b: Float, _ op: (Float, Float) -> Float) -> Float {
        guard a.isNaN || b.isNaN else { return op(a, b) }
        if a.isSignalingNaN || b.isSignalingNaN { cpu.pointee.mxcsr |= 1 }
        return Float(bitPattern: (a.isNaN ? a : b).bitPattern | 0x0040_0000)
    }

    /// The same for doubles.
    @inline(__always)
    func applyingNaNRule(_ a: Double, _ b: Double, _ op: (Double, Double) -> Double) -> Double {
        guard a.isNaN || b.isNaN else { return op(a, b) }
        if a.isSignalingNaN || b.isSignalingNaN { cpu.pointee.mxcsr |= 1 }
        return Double(bitPattern: (a.isNaN ? a : b).bitPattern | 0x0008_0000_0000_0000)
    }

    /// One 128-bit lane of haddps/hsubps/haddpd/hsubpd with the MXCSR flags it raises: the
    /// adjacent pairs of `a` then of `b`, each the lower element first (`a0 + a1`, `a0 - a1`:
    /// with two NaNs the lower one comes through, as on the CPU). SDM Vol. 2, HADDPS.
    func horizontalFloatLane(_ op: Opcode, _ a: V128, _ b: V128) -> V128 {
        let subtract = op == .hsubps || op == .hsubpd
        if op == .haddpd || op == .hsubpd {
            let pairs = [(Self.double(a[0]), Self.double(a[1])), (Self.double(b[0]), Self.double(b[1]))]
            for (x, y) in pairs { noteDenormalOperands(x, y) }
            let op: (Double, Double) -> Double = subtract ? { $0 - $1 } : { $0 + $1 }
            return sse {
                V128(applyingNaNRule(pairs[0].0, pairs[0].1, op).bitPattern,
                     applyingNaNRule(pairs[1].0, pairs[1].1, op).bitPattern)
            }
        }
        let x = Self.lanes(a, as: SIMD4<UInt32>.self), y = Self.lanes(b, as: SIMD4<UInt32>.self)
        let inputs = [x[0], x[1], x[2], x[3], y[0], y[1], y[2], y[3]].map { Float(bitPattern: $0) }
        for k in 0..<4 { noteDenormalOperands(inputs[2 * k], inputs[2 * k + 1]) }
        let op: (Float, Float) -> Float = subtract ? { $0 - $1 } : { $0 + $1 }
        return sse {
            var r = SIMD4<UInt32>()
            for k in 0..<4 {
                r[k] = applyingNaNRule(inputs[2 * k], inputs[2 * k + 1], op).bitPattern
            }
            return Self.quad(r)
        }
    }

    /// One 128-bit lane of dpps (SDM Vol. 2, DPPS): the products selected by imm8[7:4]
    /// (+0.0 for the others), summed as (p0 + p1) + (p2 + p3) with a rounding at each step,
    /// stored in the elements imm8[3:0] selects (+0.0 elsewhere); MXCSR flags from every step.
    func dotProductLane(_ a: V128, _ b: V128, imm: UInt64) -> V128 {
        let x = Self.lanes(a, as: SIMD4<UInt32>.self), y = Self.lanes(b, as: SIMD4<UInt32>.self)
        for k in 0..<4 where (imm >> UInt64(4 + k)) & 1 != 0 {
            noteDenormalOperands(Float(bitPattern: x[k]), Float(bitPattern: y[k]))
        }
        // Each step is an operation of its own: a subnormal product or partial sum entering
        // the next addition raises DE there (as on the CPU), which host flags do not report.
        let products: [Float] = sse {
            var products = [Float](repeating: 0, count: 4)
            for k in 0..<4 where (imm >> UInt64(4 + k)) & 1 != 0 {
                products[k] = applyingNaNRule(Float(bitPattern: x[k]), Float(bitPattern: y[k])) { $0 * $1 }
            }
            return products
        }
        noteDenormalOperands(products[0], products[1])
        noteDenormalOperands(products[2], products[3])
        let halves: (Float, Float) = sse {
            (applyingNaNRule(products[0], products[1]) { $0 + $1 }, applyingNaNRule(products[2], products[3]) { $0 + $1 })
        }
        noteDenormalOperands(halves.0, halves.1)
        let sum: Float = sse { applyingNaNRule(halves.0, halves.1) { $0 + $1 } }
        var r = SIMD4<UInt32>()
        for k in 0..<4 where (imm >> UInt64(k)) & 1 != 0 { r[k] = sum.bitPattern }
        return Self.quad(r)
    }

    /// The legacy forms: haddps xmm1, xmm2/m128 ...; dpps xmm1, xmm2/m128, imm8.
    func executeHorizontalFloat(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let op = p.pointee.op
        floatStatus(from: location(p.pointee.o1, size: 16))
        let imm = p.pointee.o2.value
        return packedBinary(p) { a, b in
            op == .dpps ? dotProductLane(a, b, imm: imm) : horizontalFloatLane(op, a, b)
        }
    }
}
