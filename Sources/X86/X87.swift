// The x87 FPU with real 80-bit extended precision (Swift's Float80 on x86-64 is the
// hardware format), plus the FPU/SSE state save instructions: fxsave/fxrstor,
// xsave/xsavec/xrstor (x87 + SSE components), stmxcsr/ldmxcsr (SDM Vol. 1 ch. 8, Vol. 2).
import Glibc

/// x87 status word bits (SDM Vol. 1, 8.1.3).
enum X87Status {
    static let invalid: UInt16 = 1 << 0
    static let stackFault: UInt16 = 1 << 6
    static let c0: UInt16 = 1 << 8
    static let c1: UInt16 = 1 << 9
    static let c2: UInt16 = 1 << 10
    static let c3: UInt16 = 1 << 14
    static let conditionCodes: UInt16 = c0 | c1 | c2 | c3
}

extension Machine {
    // MARK: Register stack

    /// Physical register storage: 8 Float80 values, 16 bytes apart.
    @inline(__always)
    var x87Registers: UnsafeMutablePointer<Float80> {
        let offset = MemoryLayout<CPUState>.offset(of: \CPUState.x87.registers) ?? 0
        return (UnsafeMutableRawPointer(cpu) + offset).assumingMemoryBound(to: Float80.self)
    }

    @inline(__always)
    func physical(_ i: Int) -> Int { (Int(cpu.pointee.x87.top) + i) & 7 }

    func st(_ i: Int) -> Float80 { x87Registers[physical(i)] }

    func setST(_ i: Int, _ v: Float80) {
        let r = physical(i)
        x87Registers[r] = v
        setTag(r, Self.tag(for: v))
    }

    static func tag(for v: Float80) -> UInt16 {
        if v == 0 { return 1 }
        if v.isNaN || v.isInfinite || v.isSubnormal { return 2 }
        return 0
    }

    func setTag(_ physicalRegister: Int, _ tag: UInt16) {
        let shift = UInt16(physicalRegister * 2)
        cpu.pointee.x87.tagWord = (cpu.pointee.x87.tagWord & ~(3 << shift)) | (tag << shift)
    }

    func isEmpty(_ i: Int) -> Bool {
        (cpu.pointee.x87.tagWord >> UInt16(physical(i) * 2)) & 3 == 3
    }

    func x87Push(_ v: Float80) {
        let top = (cpu.pointee.x87.top &- 1) & 7
        if (cpu.pointee.x87.tagWord >> UInt16(top * 2)) & 3 != 3 {
            // Stack overflow: invalid + stack fault, C1 = 1 (masked response: store anyway).
            cpu.pointee.x87.statusWord |= X87Status.invalid | X87Status.stackFault | X87Status.c1
        }
        cpu.pointee.x87.top = top
        setST(0, v)
    }

    func x87Pop() {
        setTag(physical(0), 3)
        cpu.pointee.x87.top = (cpu.pointee.x87.top &+ 1) & 7
    }

    @inline(__always)
    var x87Rounding: UInt32 { UInt32(cpu.pointee.x87.controlWord >> 10) & 3 }

    /// Runs x87 arithmetic under the guest rounding control, recording exception flags.
    func x87<T>(_ body: () -> T) -> T {
        let (r, flags) = HostFloatEnvironment.compute(rc: x87Rounding, body)
        cpu.pointee.x87.statusWord |= UInt16(flags)
        return r
    }

    // MARK: Memory formats

    func loadFloat(_ address: UInt64, size: UInt8) -> Float80? {
        switch size {
        case 4:
            guard let v = memory.load(address, size: 4) else { return nil }
            return Float80(Float(bitPattern: UInt32(truncatingIfNeeded: v)))
        case 8:
            guard let v = memory.load(address, size: 8) else { return nil }
            return Float80(Double(bitPattern: v))
        default:
            guard let low = memory.load(address, size: 8), let high = memory.load(address &+ 8, size: 2) else { return nil }
            return Self.float80(significand: low, signExponent: UInt16(truncatingIfNeeded: high))
        }
    }

    static func float80(significand: UInt64, signExponent: UInt16) -> Float80 {
        var v: Float80 = 0
        withUnsafeMutableBytes(of: &v) { raw in
            raw.storeBytes(of: significand, as: UInt64.self)
            raw.storeBytes(of: signExponent, toByteOffset: 8, as: UInt16.self)
        }
        return v
    }

    static func float80Bits(_ v: Float80) -> (UInt64, UInt16) {
        withUnsafeBytes(of: v) { ($0.load(as: UInt64.self), $0.load(fromByteOffset: 8, as: UInt16.self)) }
    }

    func storeFloat(_ v: Float80, _ address: UInt64, size: UInt8) -> Bool {
        switch size {
        case 4:
            let f: Float = x87 { Float(v) }
            return memory.store(address, size: 4, UInt64(f.bitPattern))
        case 8:
            let d: Double = x87 { Double(v) }
            return memory.store(address, size: 8, d.bitPattern)
        default:
            let (low, high) = Self.float80Bits(v)
            guard memory.probeWrite(address, 10) else { return false }
            return memory.store(address, size: 8, low) && memory.store(address &+ 8, size: 2, UInt64(high))
        }
    }

    /// Float80 to integer of `size` bytes with the x87's rounding; out of range gives the
    /// integer indefinite value and sets IE (masked response).
    func x87ToInteger(_ v: Float80, size: UInt8, truncate: Bool) -> UInt64 {
        let rounded: Float80 = truncate ? v.rounded(.towardZero) : Self.roundPerControl(v, rc: x87Rounding)
        let limit = Float80(sign: .plus, exponent: Int(size) * 8 - 1, significand: 1)
        if rounded.isNaN || rounded >= limit || rounded < -limit {
            cpu.pointee.x87.statusWord |= X87Status.invalid
            return UInt64(1) << (UInt64(size) * 8 - 1)
        }
        if rounded != v { cpu.pointee.x87.statusWord |= 0x20 }
        return UInt64(bitPattern: Int64(rounded)) & Self.mask(size)
    }

    /// Sets C3/C2/C0 from a comparison (SDM Vol. 2, FCOM).
    func setCompareCodes(_ a: Float80, _ b: Float80) {
        var sw = cpu.pointee.x87.statusWord & ~X87Status.conditionCodes
        if a.isNaN || b.isNaN { sw |= X87Status.c3 | X87Status.c2 | X87Status.c0 }
        else if a < b { sw |= X87Status.c0 }
        else if a == b { sw |= X87Status.c3 }
        cpu.pointee.x87.statusWord = sw
    }

    /// Sets ZF/PF/CF from a comparison (fcomi/fucomi), clearing OF/SF/AF.
    func setCompareFlags(_ a: Float80, _ b: Float80) {
        var f = cpu.pointee.flagsStored & ~RFlags.arithmetic
        if a.isNaN || b.isNaN { f |= RFlags.zero | RFlags.parity | RFlags.carry }
        else if a < b { f |= RFlags.carry }
        else if a == b { f |= RFlags.zero }
        cpu.pointee.flagsStored = f
        cpu.pointee.lazyOp = .materialized
    }

    // MARK: Execution

    func executeX87(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let op = p.pointee.op
        let o0 = p.pointee.o0, o1 = p.pointee.o1
        let count = p.pointee.operandCount
        // Clear C1 for most instructions (it reports stack over/underflow direction).
        switch op {
        case .fld:
            if o0.kind == .st {
                x87Push(st(Int(o0.reg)))
            } else {
                guard let v = loadFloat(effectiveAddress(o0), size: o0.size) else { return memoryFault(p) }
                // Float/double loads convert on the host FPU, which quiets a signaling NaN
                // exactly as fld does (SDM Vol. 1, 8.5.1.2).
                x87Push(v)
            }
        case .fild:
            guard let raw = memory.load(effectiveAddress(o0), size: UInt64(o0.size)) else { return memoryFault(p) }
            x87Push(Float80(Int64(bitPattern: Self.signExtend(raw, o0.size))))
        case .fst, .fstp:
            if o0.kind == .st {
                setST(Int(o0.reg), st(0))
            } else {
                guard storeFloat(st(0), effectiveAddress(o0), size: o0.size) else { return memoryFault(p) }
            }
            if op == .fstp { x87Pop() }
        case .fist, .fistp, .fisttp:
            let v = x87ToInteger(st(0), size: o0.size, truncate: op == .fisttp)
            guard memory.store(effectiveAddress(o0), size: UInt64(o0.size), v) else { return memoryFault(p) }
            if op != .fist { x87Pop() }
        case .fadd, .faddp, .fiadd, .fsub, .fsubp, .fisub, .fsubr, .fsubrp, .fisubr,
             .fmul, .fmulp, .fimul, .fdiv, .fdivp, .fidiv, .fdivr, .fdivrp, .fidivr:
            return x87Arithmetic(p)
        case .fxch:
            let i = count > 0 ? Int(o0.kind == .st && o0.reg == 0 && count > 1 ? o1.reg : o0.reg) : 1
            let a = st(0), b = st(i)
            let ta = (cpu.pointee.x87.tagWord >> UInt16(physical(0) * 2)) & 3
            let tb = (cpu.pointee.x87.tagWord >> UInt16(physical(i) * 2)) & 3
            x87Registers[physical(0)] = b
            x87Registers[physical(i)] = a
            setTag(physical(0), tb)
            setTag(physical(i), ta)
        case .fcom, .fcomp, .fucom, .fucomp, .ficom, .ficomp:
            let b: Float80
            if count == 0 { b = st(1) }
            else if o0.kind == .st { b = st(Int(count > 1 ? o1.reg : o0.reg)) }
            else if op == .ficom || op == .ficomp {
                guard let raw = memory.load(effectiveAddress(o0), size: UInt64(o0.size)) else { return memoryFault(p) }
                b = Float80(Int64(bitPattern: Self.signExtend(raw, o0.size)))
            } else {
                guard let v = loadFloat(effectiveAddress(o0), size: o0.size) else { return memoryFault(p) }
                b = v
            }
            let a = st(0)
            if (a.isNaN || b.isNaN) && (op == .fcom || op == .fcomp || op == .ficom || op == .ficomp || a.isSignalingNaN || b.isSignalingNaN) {
                cpu.pointee.x87.statusWord |= X87Status.invalid
            }
            setCompareCodes(a, b)
            if op == .fcomp || op == .fucomp || op == .ficomp { x87Pop() }
        case .fcompp, .fucompp:
            let a = st(0), b = st(1)
            if (a.isNaN || b.isNaN) && (op == .fcompp || a.isSignalingNaN || b.isSignalingNaN) {
                cpu.pointee.x87.statusWord |= X87Status.invalid
            }
            setCompareCodes(a, b)
            x87Pop()
            x87Pop()
        case .fcomi, .fcomip, .fucomi, .fucomip:
            let i = Int(count > 1 ? o1.reg : count == 1 ? o0.reg : 1)
            let a = st(0), b = st(i)
            if (a.isNaN || b.isNaN) && (op == .fcomi || op == .fcomip || a.isSignalingNaN || b.isSignalingNaN) {
                cpu.pointee.x87.statusWord |= X87Status.invalid
            }
            setCompareFlags(a, b)
            cpu.pointee.x87.statusWord &= ~X87Status.c1
            if op == .fcomip || op == .fucomip { x87Pop() }
        case .ftst:
            setCompareCodes(st(0), 0)
        case .fxam:
            let v = st(0)
            var sw = cpu.pointee.x87.statusWord & ~X87Status.conditionCodes
            if v.sign == .minus { sw |= X87Status.c1 }
            if isEmpty(0) { sw |= X87Status.c3 | X87Status.c0 }
            else if v.isNaN { sw |= X87Status.c0 }
            else if v.isInfinite { sw |= X87Status.c2 | X87Status.c0 }
            else if v == 0 { sw |= X87Status.c3 }
            else if v.isSubnormal { sw |= X87Status.c3 | X87Status.c2 }
            else { sw |= X87Status.c2 }
            cpu.pointee.x87.statusWord = sw
        case .fchs: setST(0, -st(0))
        case .fabs: setST(0, abs(st(0)))
        case .fldz: x87Push(0)
        case .fld1: x87Push(1)
        case .fldpi: x87Push(Self.float80(significand: 0xC90F_DAA2_2168_C235, signExponent: 0x4000))
        case .fldl2e: x87Push(Self.float80(significand: 0xB8AA_3B29_5C17_F0BC, signExponent: 0x3FFF))
        case .fldl2t: x87Push(Self.float80(significand: 0xD49A_784B_CD1B_8AFE, signExponent: 0x4000))
        case .fldlg2: x87Push(Self.float80(significand: 0x9A20_9A84_FBCF_F799, signExponent: 0x3FFD))
        case .fldln2: x87Push(Self.float80(significand: 0xB172_17F7_D1CF_79AC, signExponent: 0x3FFE))
        case .fnstcw:
            guard memory.store(effectiveAddress(o0), size: 2, UInt64(cpu.pointee.x87.controlWord)) else { return memoryFault(p) }
        case .fldcw:
            guard let v = memory.load(effectiveAddress(o0), size: 2) else { return memoryFault(p) }
            cpu.pointee.x87.controlWord = UInt16(truncatingIfNeeded: v) | 0x40
        case .fnstsw:
            let sw = UInt64(cpu.pointee.x87.fullStatusWord)
            if o0.kind == .memory {
                guard memory.store(effectiveAddress(o0), size: 2, sw) else { return memoryFault(p) }
            } else {
                writeGPR(0, size: 2, sw)
            }
        case .fnstenv:
            let a = effectiveAddress(o0)
            guard storeX87Environment(a) else { return memoryFault(p) }
            // fnstenv masks all exceptions after saving (SDM Vol. 2, FSTENV).
            cpu.pointee.x87.controlWord |= 0x3F
        case .fldenv:
            guard loadX87Environment(effectiveAddress(o0)) else { return memoryFault(p) }
        case .fninit:
            cpu.pointee.x87 = X87State()
        case .fnclex:
            cpu.pointee.x87.statusWord &= ~0x80FF
        case .ffree:
            setTag(physical(Int(o0.reg)), 3)
        case .fincstp:
            cpu.pointee.x87.top = (cpu.pointee.x87.top &+ 1) & 7
        case .fdecstp:
            cpu.pointee.x87.top = (cpu.pointee.x87.top &- 1) & 7
        case .frndint:
            let v = st(0)
            let r = Self.roundPerControl(v, rc: x87Rounding)
            if r != v { cpu.pointee.x87.statusWord |= 0x20 }
            setST(0, r)
        case .fscale:
            let scale = st(1).rounded(.towardZero)
            let v = st(0)
            let r: Float80 = x87 {
                if scale.isNaN { return scale }
                let n = scale > 40000 ? 40000 : scale < -40000 ? -40000 : Int(scale)
                return Float80(sign: .plus, exponent: n, significand: v)
            }
            setST(0, r)
        case .fprem, .fprem1:
            let a = st(0), b = st(1)
            let r: Float80 = x87 { op == .fprem ? fmodl(a, b) : remainderl(a, b) }
            // Full reduction in one step: C2 = 0; C0/C3/C1 hold quotient bits 2/1/0.
            var sw = cpu.pointee.x87.statusWord & ~X87Status.conditionCodes
            if !r.isNaN && b != 0 && !a.isInfinite {
                let q = ((a - r) / b).rounded(.towardZero)
                let bits = UInt64(abs(q).truncatingRemainder(dividingBy: 8))
                if bits & 4 != 0 { sw |= X87Status.c0 }
                if bits & 2 != 0 { sw |= X87Status.c3 }
                if bits & 1 != 0 { sw |= X87Status.c1 }
            }
            cpu.pointee.x87.statusWord = sw
            setST(0, r)
        case .fsqrt:
            let v = st(0)
            setST(0, x87 { v.squareRoot() })
        case .fxtract:
            let v = st(0)
            let exponent = Float80(v.exponent)
            let significand = Float80(sign: v.sign, exponent: 0, significand: abs(v).significand)
            setST(0, exponent)
            x87Push(significand)
        case .fcmovcc:
            tracker.flagsReachControl(at: cpu.pointee.rip)
            if cpu.pointee.condition(p.pointee.condition) {
                let i = Int(count > 1 ? o1.reg : o0.reg)
                setST(0, st(i))
            }
        case .f2xm1:
            let v = st(0)
            setST(0, x87 { exp2l(v) - 1 })
        case .fyl2x, .fyl2xp1:
            let x = st(0), y = st(1)
            let r: Float80 = x87 { op == .fyl2x ? y * log2l(x) : y * log1pl(x) / logl(2) }
            x87Pop()
            setST(0, r)
        case .fpatan:
            let x = st(0), y = st(1)
            let r: Float80 = x87 { atan2l(y, x) }
            x87Pop()
            setST(0, r)
        case .fptan:
            let v = st(0)
            setST(0, x87 { tanl(v) })
            x87Push(1)
        case .fsin:
            let v = st(0)
            setST(0, x87 { sinl(v) })
        case .fcos:
            let v = st(0)
            setST(0, x87 { cosl(v) })
        case .fsincos:
            let v = st(0)
            let (s, c): (Float80, Float80) = x87 { (sinl(v), cosl(v)) }
            setST(0, s)
            x87Push(c)
        default:
            return unsupported(p)
        }
        return .next
    }

    /// fadd/fsub/fsubr/fmul/fdiv/fdivr and their pop and integer-memory forms.
    func x87Arithmetic(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let op = p.pointee.op
        let o0 = p.pointee.o0, o1 = p.pointee.o1
        let count = p.pointee.operandCount
        let pops = op == .faddp || op == .fsubp || op == .fsubrp || op == .fmulp || op == .fdivp || op == .fdivrp
        var destination = 0
        let source: Float80
        if count == 0 {
            destination = 1
            source = st(0)
        } else if o0.kind == .memory {
            let integer = op == .fiadd || op == .fisub || op == .fisubr || op == .fimul || op == .fidiv || op == .fidivr
            if integer {
                guard let raw = memory.load(effectiveAddress(o0), size: UInt64(o0.size)) else { return memoryFault(p) }
                source = Float80(Int64(bitPattern: Self.signExtend(raw, o0.size)))
            } else {
                guard let v = loadFloat(effectiveAddress(o0), size: o0.size) else { return memoryFault(p) }
                source = v
            }
        } else if count == 2 {
            destination = Int(o0.reg)
            source = st(Int(o1.reg))
        } else if pops {
            destination = Int(o0.reg)
            source = st(0)
        } else {
            source = st(Int(o0.reg))
        }
        let d = st(destination)
        let r: Float80 = x87 {
            switch op {
            case .fadd, .faddp, .fiadd: return d + source
            case .fsub, .fsubp, .fisub: return d - source
            case .fsubr, .fsubrp, .fisubr: return source - d
            case .fmul, .fmulp, .fimul: return d * source
            case .fdiv, .fdivp, .fidiv: return d / source
            default: return source / d
            }
        }
        setST(destination, r)
        cpu.pointee.x87.statusWord &= ~X87Status.c1
        if pops { x87Pop() }
        return .next
    }

    // MARK: Environment and state save

    /// 28-byte protected-mode environment (SDM Vol. 1, Figure 8-9).
    func storeX87Environment(_ a: UInt64) -> Bool {
        let x = cpu.pointee.x87
        guard memory.probeWrite(a, 28) else { return false }
        return memory.store(a, size: 4, UInt64(x.controlWord) | 0xFFFF_0000)
            && memory.store(a &+ 4, size: 4, UInt64(x.fullStatusWord) | 0xFFFF_0000)
            && memory.store(a &+ 8, size: 4, UInt64(x.tagWord) | 0xFFFF_0000)
            && memory.store(a &+ 12, size: 4, x.lastInstructionPointer & 0xFFFF_FFFF)
            && memory.store(a &+ 16, size: 4, UInt64(x.lastOpcode) << 16)
            && memory.store(a &+ 20, size: 4, x.lastDataPointer & 0xFFFF_FFFF)
            && memory.store(a &+ 24, size: 4, 0xFFFF_0000)
    }

    func loadX87Environment(_ a: UInt64) -> Bool {
        guard let cw = memory.load(a, size: 2), let sw = memory.load(a &+ 4, size: 2), let tw = memory.load(a &+ 8, size: 2) else { return false }
        cpu.pointee.x87.controlWord = UInt16(truncatingIfNeeded: cw)
        cpu.pointee.x87.statusWord = UInt16(truncatingIfNeeded: sw) & ~0x3800
        cpu.pointee.x87.top = UInt8((sw >> 11) & 7)
        cpu.pointee.x87.tagWord = UInt16(truncatingIfNeeded: tw)
        return true
    }

    /// The 512-byte legacy region shared by fxsave and xsave (SDM Vol. 1, Table 10-2).
    func storeLegacyRegion(_ a: UInt64, x87: Bool, sse: Bool) -> Bool {
        let x = cpu.pointee.x87
        if x87 {
            var abridged: UInt64 = 0
            for r in 0..<8 where (x.tagWord >> UInt16(r * 2)) & 3 != 3 { abridged |= 1 << UInt64(r) }
            guard memory.store(a, size: 2, UInt64(x.controlWord)),
                  memory.store(a &+ 2, size: 2, UInt64(x.fullStatusWord)),
                  memory.store(a &+ 4, size: 2, abridged),
                  memory.store(a &+ 6, size: 2, UInt64(x.lastOpcode)),
                  memory.store(a &+ 8, size: 8, x.lastInstructionPointer),
                  memory.store(a &+ 16, size: 8, x.lastDataPointer) else { return false }
            for i in 0..<8 {
                let (low, high) = Self.float80Bits(st(i))
                let slot = a &+ 32 &+ UInt64(i * 16)
                guard memory.store(slot, size: 8, low), memory.store(slot &+ 8, size: 8, UInt64(high)) else { return false }
            }
        }
        if sse || x87 {
            // MXCSR and its mask are saved with either component by fxsave; xsave writes
            // them for SSE (or AVX) only, which the caller ensures by passing sse.
            if sse {
                guard memory.store(a &+ 24, size: 4, UInt64(cpu.pointee.mxcsr)),
                      memory.store(a &+ 28, size: 4, 0x0002_FFFF) else { return false }
            }
        }
        if sse {
            for i in 0..<16 {
                let v = vector(UInt8(i))
                guard memory.store128(a &+ 160 &+ UInt64(i * 16), v[0], v[1]) else { return false }
            }
        }
        return true
    }

    func loadLegacyRegion(_ a: UInt64, x87: Bool, sse: Bool) -> Bool {
        if x87 {
            guard let cw = memory.load(a, size: 2), let sw = memory.load(a &+ 2, size: 2),
                  let abridged = memory.load(a &+ 4, size: 1), let fop = memory.load(a &+ 6, size: 2),
                  let fip = memory.load(a &+ 8, size: 8), let fdp = memory.load(a &+ 16, size: 8) else { return false }
            var x = X87State()
            x.controlWord = UInt16(truncatingIfNeeded: cw)
            x.statusWord = UInt16(truncatingIfNeeded: sw) & ~0x3800
            x.top = UInt8((sw >> 11) & 7)
            x.lastOpcode = UInt16(truncatingIfNeeded: fop)
            x.lastInstructionPointer = fip
            x.lastDataPointer = fdp
            cpu.pointee.x87 = x
            for i in 0..<8 {
                let slot = a &+ 32 &+ UInt64(i * 16)
                guard let low = memory.load(slot, size: 8), let high = memory.load(slot &+ 8, size: 2) else { return false }
                x87Registers[physical(i)] = Self.float80(significand: low, signExponent: UInt16(truncatingIfNeeded: high))
            }
            var tags: UInt16 = 0
            for r in 0..<8 {
                let tag: UInt16 = (abridged >> UInt64(r)) & 1 == 0 ? 3 : Self.tag(for: x87Registers[r])
                tags |= tag << UInt16(r * 2)
            }
            cpu.pointee.x87.tagWord = tags
        }
        if sse {
            guard let mx = memory.load(a &+ 24, size: 4) else { return false }
            if mx & ~0xFFFF != 0 { return false }
            cpu.pointee.mxcsr = UInt32(truncatingIfNeeded: mx)
            for i in 0..<16 {
                guard let (lo, hi) = memory.load128(a &+ 160 &+ UInt64(i * 16)) else { return false }
                setVector(UInt8(i), V128(lo, hi))
            }
        }
        return true
    }

    func executeStateSave(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let o0 = p.pointee.o0
        let a = effectiveAddress(o0)
        switch p.pointee.op {
        case .stmxcsr:
            guard memory.store(a, size: 4, UInt64(cpu.pointee.mxcsr)) else { return memoryFault(p) }
        case .ldmxcsr:
            guard let v = memory.load(a, size: 4) else { return memoryFault(p) }
            // Reserved bits set -> #GP (SIGSEGV).
            if v & ~0xFFFF != 0 { return signalFault(p, GuestSignal.sigsegv, address: 0) }
            cpu.pointee.mxcsr = UInt32(v)
        case .fxsave:
            guard a & 15 == 0 else { return signalFault(p, GuestSignal.sigsegv, address: 0) }
            guard memory.probeWrite(a, 512), storeLegacyRegion(a, x87: true, sse: true) else { return memoryFault(p) }
        case .fxrstor:
            guard a & 15 == 0 else { return signalFault(p, GuestSignal.sigsegv, address: 0) }
            guard memory.probeRead(a, 512) else { return memoryFault(p) }
            guard loadLegacyRegion(a, x87: true, sse: true) else { return signalFault(p, GuestSignal.sigsegv, address: 0) }
        case .xsave, .xsavec:
            guard a & 63 == 0 else { return signalFault(p, GuestSignal.sigsegv, address: 0) }
            // Requested-feature bitmap: EDX:EAX & XCR0, and XCR0 = x87 | SSE here.
            let rfbm = ((gprs[2] << 32) | (gprs[0] & 0xFFFF_FFFF)) & 3
            guard memory.probeWrite(a, 576) else { return memoryFault(p) }
            guard storeLegacyRegion(a, x87: rfbm & 1 != 0, sse: rfbm & 2 != 0) else { return memoryFault(p) }
            let header = a &+ 512
            let oldBV = memory.load(header, size: 8) ?? 0
            let bv = p.pointee.op == .xsave ? (oldBV & ~rfbm) | rfbm : rfbm
            guard memory.store(header, size: 8, bv) else { return memoryFault(p) }
            if p.pointee.op == .xsavec {
                // Compacted format: XCOMP_BV bit 63 set, rest of the header zero.
                guard memory.store(header &+ 8, size: 8, (UInt64(1) << 63) | rfbm) else { return memoryFault(p) }
                for k in stride(from: 16, to: 64, by: 8) { _ = memory.store(header &+ UInt64(k), size: 8, 0) }
            }
        case .xrstor:
            guard a & 63 == 0 else { return signalFault(p, GuestSignal.sigsegv, address: 0) }
            let rfbm = ((gprs[2] << 32) | (gprs[0] & 0xFFFF_FFFF)) & 3
            guard let bv = memory.load(a &+ 512, size: 8) else { return memoryFault(p) }
            if rfbm & 1 != 0 {
                if bv & 1 != 0 {
                    guard loadLegacyRegion(a, x87: true, sse: false) else { return memoryFault(p) }
                } else {
                    cpu.pointee.x87 = X87State()
                }
            }
            if rfbm & 2 != 0 {
                if bv & 2 != 0 {
                    guard loadLegacyRegion(a, x87: false, sse: true) else { return signalFault(p, GuestSignal.sigsegv, address: 0) }
                } else {
                    for i in 0..<16 { setVector(UInt8(i), V128(0, 0)) }
                    // MXCSR is restored from memory whenever SSE or AVX is requested.
                    if let mx = memory.load(a &+ 24, size: 4) { cpu.pointee.mxcsr = UInt32(truncatingIfNeeded: mx) }
                }
            }
        default:
            return unsupported(p)
        }
        return .next
    }
}
