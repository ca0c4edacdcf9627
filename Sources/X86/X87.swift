// The x87 FPU with real 80-bit extended precision (Swift's Float80 on x86-64 is the
// hardware format), plus the FPU/SSE state save instructions: fxsave/fxrstor,
// xsave/xsavec/xrstor (x87 + SSE components), stmxcsr/ldmxcsr (SDM Vol. 1 ch. 8, Vol. 2).
import CSupport
import Glibc

/// x87 status word bits (SDM Vol. 1, 8.1.3).
enum X87Status {
    static let invalid: UInt16 = 1 << 0
    static let denormal: UInt16 = 1 << 1
    static let zeroDivide: UInt16 = 1 << 2
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

    /// The tag the CPU gives a value (SDM Vol. 1, 8.1.7), from its encoding: zero, valid
    /// (normal), or special (NaN, infinity, denormal, pseudo-denormal and the unsupported
    /// encodings whose integer bit disagrees with the exponent).
    static func tag(for v: Float80) -> UInt16 {
        let (significand, signExponent) = float80Bits(v)
        let exponent = signExponent & 0x7FFF
        if exponent == 0 { return significand == 0 ? 1 : 2 }
        if exponent == 0x7FFF || significand >> 63 == 0 { return 2 }
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
        var value = v
        if (cpu.pointee.x87.tagWord >> UInt16(top * 2)) & 3 != 3 {
            // Stack overflow: invalid + stack fault, C1 = 1; the masked response pushes the
            // real indefinite (SDM Vol. 1, 8.5.1.1).
            cpu.pointee.x87.statusWord |= X87Status.invalid | X87Status.stackFault | X87Status.c1
            value = Self.realIndefinite
        } else {
            cpu.pointee.x87.statusWord &= ~X87Status.c1  // fld, fild, constants: C1 = 0
        }
        cpu.pointee.x87.top = top
        setST(0, value)
    }

    /// The QNaN floating-point indefinite: sign set, quiet bit set, rest zero.
    static var realIndefinite: Float80 { float80(significand: 0xC000_0000_0000_0000, signExponent: 0xFFFF) }

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

    /// Loads a single, double or extended value. Converting a single or double raises IE
    /// for a signaling NaN (the result is quieted) and DE for a denormal (SDM Vol. 1,
    /// 8.5.1.2 and 8.5.2); an extended load raises nothing.
    func loadFloat(_ address: UInt64, size: UInt8) -> Float80? {
        switch size {
        case 4:
            guard let v = memory.load(address, size: 4) else { return nil }
            let f = Float(bitPattern: UInt32(truncatingIfNeeded: v))
            if f.isSignalingNaN { cpu.pointee.x87.statusWord |= X87Status.invalid }
            else if f.isSubnormal { cpu.pointee.x87.statusWord |= X87Status.denormal }
            return Float80(f)
        case 8:
            guard let v = memory.load(address, size: 8) else { return nil }
            let d = Double(bitPattern: v)
            if d.isSignalingNaN { cpu.pointee.x87.statusWord |= X87Status.invalid }
            else if d.isSubnormal { cpu.pointee.x87.statusWord |= X87Status.denormal }
            return Float80(d)
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

    /// Stores ST(0)'s value `v` as fst does; C1 = 1 when the narrowing rounded up in
    /// magnitude, else 0 (an 80-bit store is exact: C1 = 0).
    func storeFloat(_ v: Float80, _ address: UInt64, size: UInt8) -> Bool {
        cpu.pointee.x87.statusWord &= ~X87Status.c1
        switch size {
        case 4:
            let f: Float = x87 { Float(v) }
            if abs(Float80(f)) > abs(v) { cpu.pointee.x87.statusWord |= X87Status.c1 }
            return memory.store(address, size: 4, UInt64(f.bitPattern))
        case 8:
            let d: Double = x87 { Double(v) }
            if abs(Float80(d)) > abs(v) { cpu.pointee.x87.statusWord |= X87Status.c1 }
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
            cpu.pointee.x87.statusWord &= ~X87Status.c1
            return UInt64(1) << (UInt64(size) * 8 - 1)
        }
        if rounded != v { cpu.pointee.x87.statusWord |= 0x20 }
        setRoundUpIndicator(rounded: rounded, original: v)
        return UInt64(bitPattern: Int64(rounded)) & Self.mask(size)
    }

    /// Compares ST(0) with `b` as fcom (or, `quiet`, fucom) does, on the host FPU: sets the
    /// exception flags (IE for NaNs and unsupported encodings, DE for denormals) and returns
    /// the new condition codes (C0, C2, C3; C1 = 0). An empty operand register is a stack
    /// underflow: IE and SF, unordered (SDM Vol. 1, 8.5.1.1).
    func x87Compare(_ a: Float80, _ b: Float80, quiet: Bool, empty: Bool) -> UInt16 {
        if empty {
            cpu.pointee.x87.statusWord |= X87Status.invalid | X87Status.stackFault
            return X87Status.c0 | X87Status.c2 | X87Status.c3
        }
        var ignored: Float80 = 0
        let sw = mp_x87_binary(quiet ? 7 : 6, cpu.pointee.x87.controlWord, a, b, &ignored)
        cpu.pointee.x87.statusWord |= sw & 0x3F
        return sw & (X87Status.c0 | X87Status.c2 | X87Status.c3)
    }

    // MARK: Execution

    func executeX87(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let op = p.pointee.op
        let o0 = p.pointee.o0, o1 = p.pointee.o1
        let count = p.pointee.operandCount
        // Last instruction/data pointers, as fnstenv/fxsave report them (control
        // instructions such as fnstcw/fldcw/fnstenv do not update them).
        x87DataFlow(p)
        switch op {
        case .fnstcw, .fldcw, .fnstsw, .fnstenv, .fldenv, .fnsave, .frstor, .fninit, .fnclex: break
        default:
            cpu.pointee.x87.lastInstructionPointer = cpu.pointee.rip &- UInt64(p.pointee.length)
            if o0.kind == .memory { cpu.pointee.x87.lastDataPointer = effectiveAddress(o0) }
        }
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
            var v = st(0)
            if isEmpty(0) {
                // Stack underflow: IE and SF, C1 = 0; the indefinite is stored.
                cpu.pointee.x87.statusWord = (cpu.pointee.x87.statusWord | X87Status.invalid | X87Status.stackFault) & ~X87Status.c1
                v = Self.realIndefinite
            }
            if o0.kind == .st {
                setST(Int(o0.reg), v)
                if !isEmpty(0) { cpu.pointee.x87.statusWord &= ~X87Status.c1 }
            } else {
                guard storeFloat(v, effectiveAddress(o0), size: o0.size) else { return memoryFault(p) }
            }
            if op == .fstp { x87Pop() }
        case .fist, .fistp, .fisttp:
            // An empty ST(0) converts as the indefinite (a NaN): IE and the integer indefinite.
            if isEmpty(0) { cpu.pointee.x87.statusWord |= X87Status.stackFault }
            let v = x87ToInteger(isEmpty(0) ? Self.realIndefinite : st(0), size: o0.size, truncate: op == .fisttp)
            guard memory.store(effectiveAddress(o0), size: UInt64(o0.size), v) else { return memoryFault(p) }
            if op != .fist { x87Pop() }
        case .fadd, .faddp, .fiadd, .fsub, .fsubp, .fisub, .fsubr, .fsubrp, .fisubr,
             .fmul, .fmulp, .fimul, .fdiv, .fdivp, .fidiv, .fdivr, .fdivrp, .fidivr:
            return x87Arithmetic(p)
        case .fxch:
            let i = count > 0 ? Int(o0.kind == .st && o0.reg == 0 && count > 1 ? o1.reg : o0.reg) : 1
            // C1 = 0; an empty register is a stack underflow: IE and SF, and it takes the
            // indefinite before the exchange (SDM Vol. 2, FXCH).
            cpu.pointee.x87.statusWord &= ~X87Status.c1
            if isEmpty(0) || isEmpty(i) {
                cpu.pointee.x87.statusWord |= X87Status.invalid | X87Status.stackFault
                if isEmpty(0) { tracker.clear(stLocation(0)); setST(0, Self.realIndefinite) }
                if isEmpty(i) { tracker.clear(stLocation(i)); setST(i, Self.realIndefinite) }
            }
            let a = st(0), b = st(i)
            tracker.exchange(stLocation(0), stLocation(i))
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
            let i: Int = count == 0 ? 1 : o0.kind == .st ? Int(count > 1 ? o1.reg : o0.reg) : 0
            let codes = x87Compare(st(0), b, quiet: op == .fucom || op == .fucomp,
                                   empty: isEmpty(0) || ((count == 0 || o0.kind == .st) && isEmpty(i)))
            cpu.pointee.x87.statusWord = (cpu.pointee.x87.statusWord & ~X87Status.conditionCodes) | codes
            if op == .fcomp || op == .fucomp || op == .ficomp { x87Pop() }
        case .fcompp, .fucompp:
            let codes = x87Compare(st(0), st(1), quiet: op == .fucompp, empty: isEmpty(0) || isEmpty(1))
            cpu.pointee.x87.statusWord = (cpu.pointee.x87.statusWord & ~X87Status.conditionCodes) | codes
            x87Pop()
            x87Pop()
        case .fcomi, .fcomip, .fucomi, .fucomip:
            // EFLAGS take the codes fcom would set (ZF = C3, PF = C2, CF = C0); C1 = 0,
            // C0/C2/C3 unchanged (SDM Vol. 2, FCOMI).
            let i = Int(count > 1 ? o1.reg : count == 1 ? o0.reg : 1)
            let codes = x87Compare(st(0), st(i), quiet: op == .fucomi || op == .fucomip, empty: isEmpty(0) || isEmpty(i))
            var f = cpu.pointee.flagsStored & ~RFlags.arithmetic
            if codes & X87Status.c3 != 0 { f |= RFlags.zero }
            if codes & X87Status.c2 != 0 { f |= RFlags.parity }
            if codes & X87Status.c0 != 0 { f |= RFlags.carry }
            cpu.pointee.flagsStored = f
            cpu.pointee.lazyOp = .materialized
            cpu.pointee.x87.statusWord &= ~X87Status.c1
            if op == .fcomip || op == .fucomip { x87Pop() }
        case .ftst:
            let codes = x87Compare(st(0), 0, quiet: false, empty: isEmpty(0))
            cpu.pointee.x87.statusWord = (cpu.pointee.x87.statusWord & ~X87Status.conditionCodes) | codes
        case .fxam:
            // Classified from the encoding (SDM Vol. 2, FXAM): an integer bit that
            // disagrees with the exponent is "unsupported" (unnormals, pseudo-infinities,
            // pseudo-NaNs: C3 = C2 = C0 = 0); pseudo-denormals class as denormals.
            let (significand, signExponent) = Self.float80Bits(st(0))
            let exponent = signExponent & 0x7FFF
            let integerBit = significand >> 63 != 0
            var sw = cpu.pointee.x87.statusWord & ~X87Status.conditionCodes
            if signExponent & 0x8000 != 0 { sw |= X87Status.c1 }
            if isEmpty(0) { sw |= X87Status.c3 | X87Status.c0 }
            else if exponent == 0 { sw |= significand == 0 ? X87Status.c3 : X87Status.c3 | X87Status.c2 }
            else if !integerBit { }  // unsupported
            else if exponent == 0x7FFF { sw |= significand << 1 == 0 ? X87Status.c2 | X87Status.c0 : X87Status.c0 }
            else { sw |= X87Status.c2 }
            cpu.pointee.x87.statusWord = sw
        case .fchs, .fabs:
            if isEmpty(0) {
                cpu.pointee.x87.statusWord = (cpu.pointee.x87.statusWord | X87Status.invalid | X87Status.stackFault) & ~X87Status.c1
                setST(0, Self.realIndefinite)
            } else {
                setST(0, op == .fchs ? -st(0) : abs(st(0)))
                cpu.pointee.x87.statusWord &= ~X87Status.c1
            }
        case .fldz: x87Push(0)
        case .fld1: x87Push(1)
        // Constants are rounded per RC from a longer internal value: the nearest value and
        // whether nearest rounded it up (SDM Vol. 1, 8.3.8) give the other modes.
        case .fldpi: x87Push(roundedConstant(0xC90F_DAA2_2168_C235, 0x4000, nearestRoundedUp: true))
        case .fldl2e: x87Push(roundedConstant(0xB8AA_3B29_5C17_F0BC, 0x3FFF, nearestRoundedUp: true))
        case .fldl2t: x87Push(roundedConstant(0xD49A_784B_CD1B_8AFE, 0x4000, nearestRoundedUp: false))
        case .fldlg2: x87Push(roundedConstant(0x9A20_9A84_FBCF_F799, 0x3FFD, nearestRoundedUp: true))
        case .fldln2: x87Push(roundedConstant(0xB172_17F7_D1CF_79AC, 0x3FFE, nearestRoundedUp: true))
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
            guard storeX87Environment(a, size: p.pointee.size) else { return memoryFault(p) }
            // fnstenv masks all exceptions after saving (SDM Vol. 2, FSTENV).
            cpu.pointee.x87.controlWord |= 0x3F
        case .fldenv:
            guard loadX87Environment(effectiveAddress(o0), size: p.pointee.size) else { return memoryFault(p) }
        case .fnsave:
            // The environment, ST(0)..ST(7) as 10-byte values, then fninit (SDM Vol. 2,
            // FSAVE): 108 bytes, or 94 with the 14-byte environment.
            let a = effectiveAddress(o0)
            let envSize = UInt64(p.pointee.size)
            guard memory.probeWrite(a, envSize &+ 80), storeX87Environment(a, size: p.pointee.size) else { return memoryFault(p) }
            for i in 0..<8 {
                let (low, high) = Self.float80Bits(st(i))
                let slot = a &+ envSize &+ UInt64(i * 10)
                _ = memory.store(slot, size: 8, low)
                _ = memory.store(slot &+ 8, size: 2, UInt64(high))
            }
            cpu.pointee.x87 = X87State()
        case .frstor:
            let a = effectiveAddress(o0)
            let envSize = UInt64(p.pointee.size)
            var values: [Float80] = []
            for i in 0..<8 {
                let slot = a &+ envSize &+ UInt64(i * 10)
                guard let low = memory.load(slot, size: 8), let high = memory.load(slot &+ 8, size: 2) else { return memoryFault(p) }
                values.append(Self.float80(significand: low, signExponent: UInt16(truncatingIfNeeded: high)))
            }
            guard loadX87Environment(a, size: p.pointee.size) else { return memoryFault(p) }
            // ST(i) in stack order from the restored TOP; the tags come from the image.
            for (i, v) in values.enumerated() { x87Registers[physical(i)] = v }
        case .fbld:
            // 18 packed BCD digits, two a byte from the least significant, then the sign
            // byte (bit 7): an exact integer (SDM Vol. 2, FBLD).
            let a = effectiveAddress(o0)
            guard let low = memory.load(a, size: 8), let high = memory.load(a &+ 8, size: 2) else { return memoryFault(p) }
            var magnitude: UInt64 = 0
            for k in stride(from: 8, through: 0, by: -1) {
                let byte = k == 8 ? high & 0xFF : (low >> UInt64(8 * k)) & 0xFF
                magnitude = magnitude &* 100 &+ (byte >> 4) &* 10 &+ (byte & 0xF)
            }
            let value = Float80(magnitude)
            x87Push(high & 0x8000 != 0 ? -value : value)
        case .fbstp:
            // ST(0) rounded by the control word's RC to 18 packed BCD digits and a sign
            // byte, then popped; NaN, infinity or 10^18 and beyond store the packed BCD
            // indefinite with IE (masked response, SDM Vol. 2, FBSTP).
            let a = effectiveAddress(o0)
            guard memory.probeWrite(a, 10) else { return memoryFault(p) }
            let v = st(0)
            let rounded = Self.roundPerControl(v, rc: x87Rounding)
            var low: UInt64 = 0xC000_0000_0000_0000, high: UInt64 = 0xFFFF
            if v.isNaN || v.isInfinite || abs(rounded) >= 1e18 {
                cpu.pointee.x87.statusWord |= X87Status.invalid
                cpu.pointee.x87.statusWord &= ~X87Status.c1
            } else {
                if rounded != v { cpu.pointee.x87.statusWord |= 0x20 }
                setRoundUpIndicator(rounded: rounded, original: v)
                var magnitude = UInt64(abs(rounded))
                var digits: [UInt64] = []
                for _ in 0..<18 { digits.append(magnitude % 10); magnitude /= 10 }
                low = 0
                for k in 0..<8 { low |= (digits[2 * k] | digits[2 * k + 1] << 4) << UInt64(8 * k) }
                high = digits[16] | digits[17] << 4 | (v.sign == .minus ? 0x8000 : 0)
            }
            _ = memory.store(a, size: 8, low)
            _ = memory.store(a &+ 8, size: 2, high)
            x87Pop()
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
        case .frndint, .fscale, .fprem, .fprem1, .fsqrt, .fxtract:
            // Exact by definition, but with flag and stack rules (partial remainders,
            // unsupported encodings, stack faults, C1) simplest taken from the CPU itself.
            hostX87(Self.x87SecondByte(op))
        case .fcmovcc:
            tracker.flagsReachControl(at: cpu.pointee.rip)
            if cpu.condition(p.pointee.condition) {
                let i = Int(count > 1 ? o1.reg : o0.reg)
                tracker.copy(to: stLocation(0), from: stLocation(i))
                setST(0, st(i))
            }
        case .f2xm1, .fyl2x, .fyl2xp1, .fpatan, .fptan, .fsin, .fcos, .fsincos:
            // Model-specific results (HostFPU.swift): this CPU's own unit computes them.
            hostX87(Self.x87SecondByte(op))
        default:
            return unsupported(p)
        }
        return .next
    }

    /// The second opcode byte (after D9) of the no-operand instructions `hostX87` runs.
    static func x87SecondByte(_ op: Opcode) -> UInt8 {
        switch op {
        case .f2xm1: return 0xF0
        case .fyl2x: return 0xF1
        case .fptan: return 0xF2
        case .fpatan: return 0xF3
        case .fxtract: return 0xF4
        case .fprem1: return 0xF5
        case .fprem: return 0xF8
        case .fyl2xp1: return 0xF9
        case .fsqrt: return 0xFA
        case .fsincos: return 0xFB
        case .frndint: return 0xFC
        case .fscale: return 0xFD
        case .fsin: return 0xFE
        default: return 0xFF  // fcos
        }
    }

    func roundedConstant(_ nearest: UInt64, _ exponent: UInt16, nearestRoundedUp: Bool) -> Float80 {
        var significand = nearest
        switch x87Rounding {
        case 1, 3: if nearestRoundedUp { significand &-= 1 }  // down / toward zero (positive constants)
        case 2: if !nearestRoundedUp { significand &+= 1 }    // up
        default: break
        }
        return Self.float80(significand: significand, signExponent: exponent)
    }

    /// C1 after a rounding store or frndint: 1 when the result was rounded up in magnitude.
    func setRoundUpIndicator(rounded: Float80, original: Float80) {
        if abs(rounded) > abs(original) { cpu.pointee.x87.statusWord |= X87Status.c1 }
        else { cpu.pointee.x87.statusWord &= ~X87Status.c1 }
    }

    // MARK: Data flow

    /// Physical x87 register `r` (mod 8) in the register file.
    @inline(__always)
    static func x87Location(_ r: Int) -> DataLocation {
        DataLocation(kind: .register, size: 10, offset: RegisterFile.x87(r & 7))
    }

    /// ST(i) before the instruction runs; ST(-1) is where a push lands.
    @inline(__always)
    func stLocation(_ i: Int) -> DataLocation { Self.x87Location(Int(cpu.pointee.x87.top) &+ i) }

    /// The status word: exception flags (first byte), condition codes C0-C3 (second byte).
    var x87StatusLocation: DataLocation { Self.registerLocation(RegisterFile.x87Status, size: 2) }
    var x87ExceptionsLocation: DataLocation { Self.registerLocation(RegisterFile.x87Status, size: 1) }
    var x87ConditionLocation: DataLocation { Self.registerLocation(RegisterFile.x87Status &+ 1, size: 1) }
    var x87ControlLocation: DataLocation { Self.registerLocation(RegisterFile.x87Control, size: 2) }

    /// Data-flow hooks for x87 instructions, before they execute. ST registers are named
    /// by physical register (`RegisterFile.x87`): a push lands in physical (top - 1).
    /// Arithmetic (`x87Arithmetic`), fxch and fcmov report where they run. Conversions
    /// (float and integer memory formats) derive; 80-bit moves copy. Exception flags that
    /// depend on the operands accumulate their labels in the status word's first byte;
    /// compares replace the condition codes' labels (the second byte, AH after fnstsw ax).
    func x87DataFlow(_ p: UnsafePointer<Instruction>) {
        if Tracker.tracksData == false { return }
        let op = p.pointee.op, o0 = p.pointee.o0, o1 = p.pointee.o1
        let count = p.pointee.operandCount
        let st0 = stLocation(0), pushed = stLocation(-1)
        let exceptions = x87ExceptionsLocation, conditionCodes = x87ConditionLocation
        let memoryOperand = o0.kind == .memory ? location(o0, size: o0.size) : DataLocation.constant
        switch op {
        case .fld:
            if o0.kind == .st {
                tracker.copy(to: pushed, from: stLocation(Int(o0.reg)))
            } else {
                if o0.size == 10 {
                    tracker.copy(to: pushed, from: memoryOperand)
                } else {
                    tracker.derive(to: pushed, from: memoryOperand, .constant)
                    tracker.combine(into: exceptions, from: memoryOperand)
                }
                loadDependency(pushed, o0)
            }
        case .fild:
            tracker.derive(to: pushed, from: memoryOperand, .constant)
            loadDependency(pushed, o0)
        case .fldz, .fld1, .fldpi, .fldl2e, .fldl2t, .fldlg2, .fldln2:
            tracker.clear(pushed)
        case .fst, .fstp:
            if o0.kind == .st {
                tracker.copy(to: stLocation(Int(o0.reg)), from: st0)
            } else if o0.size == 10 {
                tracker.copy(to: memoryOperand, from: st0)
            } else {
                tracker.derive(to: memoryOperand, from: st0, .constant)
                tracker.combine(into: exceptions, from: st0)
                tracker.combine(into: conditionCodes, from: st0)  // C1: rounded up
            }
        case .fist, .fistp, .fisttp:
            tracker.derive(to: memoryOperand, from: st0, .constant)
            tracker.combine(into: exceptions, from: st0)
        case .fcom, .fcomp, .fucom, .fucomp, .ficom, .ficomp, .fcompp, .fucompp:
            let other = count == 0 || op == .fcompp || op == .fucompp ? stLocation(1)
                : o0.kind == .st ? stLocation(Int(count > 1 ? o1.reg : o0.reg)) : memoryOperand
            tracker.derive(to: conditionCodes, from: st0, other)
            loadDependency(conditionCodes, o0)
            tracker.combine(into: exceptions, from: conditionCodes)
        case .fcomi, .fcomip, .fucomi, .fucomip:
            let other = stLocation(Int(count > 1 ? o1.reg : count == 1 ? o0.reg : 1))
            tracker.derive(to: flagsLocation, from: st0, other)
            tracker.combine(into: exceptions, from: flagsLocation)
        case .ftst:
            tracker.derive(to: conditionCodes, from: st0, .constant)
            tracker.combine(into: exceptions, from: st0)
        case .fxam:
            tracker.derive(to: conditionCodes, from: st0, .constant)
        case .fchs, .fabs:
            tracker.combine(into: st0, from: .constant)
        case .frndint, .fsqrt, .f2xm1, .fsin, .fcos:
            // C1 (rounded up) and, for fsin/fcos, C2 (out of range) depend on the operand.
            tracker.derive(to: st0, from: st0, .constant)
            tracker.combine(into: exceptions, from: st0)
            tracker.combine(into: conditionCodes, from: st0)
        case .fscale:
            tracker.derive(to: st0, from: st0, stLocation(1))
            tracker.combine(into: exceptions, from: st0)
            tracker.combine(into: conditionCodes, from: st0)
        case .fprem, .fprem1:
            // The remainder and the quotient bits in C0/C3/C1 come from both operands.
            tracker.derive(to: st0, from: st0, stLocation(1))
            tracker.derive(to: conditionCodes, from: st0, .constant)
            tracker.combine(into: exceptions, from: st0)
        case .fxtract:
            // Exponent stays in this register, the significand is pushed.
            tracker.derive(to: pushed, from: st0, .constant)
            tracker.derive(to: st0, from: st0, .constant)
            tracker.combine(into: exceptions, from: st0)
            tracker.combine(into: conditionCodes, from: st0)
        case .fyl2x, .fyl2xp1, .fpatan:
            // ST(1) = f(ST(0), ST(1)), then pop; C1 (rounded up) from both.
            tracker.derive(to: stLocation(1), from: stLocation(1), st0)
            tracker.combine(into: exceptions, from: stLocation(1))
            tracker.combine(into: conditionCodes, from: stLocation(1))
        case .fptan:
            tracker.derive(to: st0, from: st0, .constant)
            tracker.combine(into: exceptions, from: st0)
            tracker.combine(into: conditionCodes, from: st0)  // C1, C2 (out of range)
            tracker.clear(pushed)  // 1.0
        case .fsincos:
            tracker.derive(to: pushed, from: st0, .constant)  // cos
            tracker.derive(to: st0, from: st0, .constant)      // sin
            tracker.combine(into: exceptions, from: st0)
            tracker.combine(into: conditionCodes, from: st0)  // C1, C2 (out of range)
        case .fnstcw:
            tracker.copy(to: location(o0, size: 2), from: x87ControlLocation)
        case .fldcw:
            tracker.copy(to: x87ControlLocation, from: location(o0, size: 2))
            loadDependency(x87ControlLocation, o0)
        case .fnstsw:
            // fnstsw ax puts C0-C3 in AH: the compare-then-sahf idiom's first step.
            tracker.copy(to: o0.kind == .memory ? location(o0, size: 2) : gprLocation(0, size: 2), from: x87StatusLocation)
        case .fnstenv:
            let a = effectiveAddress(o0)
            let stride: UInt64 = p.pointee.size == 14 ? 2 : 4
            tracker.clear(.memory(a, size: p.pointee.size == 14 ? 14 : 28))
            tracker.copy(to: .memory(a, size: 2), from: x87ControlLocation)
            tracker.copy(to: .memory(a &+ stride, size: 2), from: x87StatusLocation)
            tracker.combine(into: x87ControlLocation, from: .constant)  // exceptions masked
        case .fldenv:
            let a = effectiveAddress(o0)
            tracker.copy(to: x87ControlLocation, from: .memory(a, size: 2))
            tracker.copy(to: x87StatusLocation, from: .memory(a &+ (p.pointee.size == 14 ? 2 : 4), size: 2))
            loadDependency(x87ControlLocation, o0)
            loadDependency(x87StatusLocation, o0)
        case .fbld:
            tracker.derive(to: pushed, from: memoryOperand, .constant)
            loadDependency(pushed, o0)
        case .fbstp:
            tracker.derive(to: location(o0, size: 10), from: st0, .constant)
            tracker.combine(into: exceptions, from: st0)
        case .fnsave:
            // The environment image as fnstenv's, the registers copied in stack order, then
            // everything is reset (fninit).
            let a = effectiveAddress(o0)
            let envSize = p.pointee.size == 14 ? 14 : 28
            let stride: UInt64 = p.pointee.size == 14 ? 2 : 4
            tracker.clear(.memory(a, size: UInt8(envSize)))
            tracker.copy(to: .memory(a, size: 2), from: x87ControlLocation)
            tracker.copy(to: .memory(a &+ stride, size: 2), from: x87StatusLocation)
            for i in 0..<8 { tracker.copy(to: .memory(a &+ UInt64(envSize + i * 10), size: 10), from: stLocation(i)) }
            tracker.clear(x87ControlLocation)
            tracker.clear(x87StatusLocation)
            for r in 0..<8 { tracker.clear(Self.x87Location(r)) }
        case .frstor:
            let a = effectiveAddress(o0)
            let envSize = p.pointee.size == 14 ? 14 : 28
            tracker.copy(to: x87ControlLocation, from: .memory(a, size: 2))
            tracker.copy(to: x87StatusLocation, from: .memory(a &+ (p.pointee.size == 14 ? 2 : 4), size: 2))
            loadDependency(x87ControlLocation, o0)
            loadDependency(x87StatusLocation, o0)
            // ST(i) lands in the physical register of the restored TOP (read here, before
            // the instruction runs, from the image's status word).
            let top = (try? memory.readBytes(at: a &+ (p.pointee.size == 14 ? 2 : 4), count: 2)).map { Int($0[1] >> 3) & 7 } ?? 0
            for i in 0..<8 {
                let r = Self.x87Location(top + i)
                tracker.copy(to: r, from: .memory(a &+ UInt64(envSize + i * 10), size: 10))
                loadDependency(r, o0)
            }
        case .fninit:
            // The interpreter also zeroes the registers (X87State()); hardware only tags them empty.
            tracker.clear(x87ControlLocation)
            tracker.clear(x87StatusLocation)
            for r in 0..<8 { tracker.clear(Self.x87Location(r)) }
        case .fnclex, .fincstp, .fdecstp:
            // Exception bits cleared, or TOP moved: the rest keeps its labels.
            tracker.combine(into: x87StatusLocation, from: .constant)
        case .ffree:
            // Only the tag changes: the value stays (and fxsave still stores it).
            tracker.combine(into: stLocation(Int(o0.reg)), from: .constant)
        default:
            break  // arithmetic, fxch, fcmov: reported where they execute
        }
    }

    /// fadd/fsub/fsubr/fmul/fdiv/fdivr and their pop and integer-memory forms.
    func x87Arithmetic(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let op = p.pointee.op
        let o0 = p.pointee.o0, o1 = p.pointee.o1
        let count = p.pointee.operandCount
        let pops = op == .faddp || op == .fsubp || op == .fsubrp || op == .fmulp || op == .fdivp || op == .fdivrp
        var destination = 0
        let source: Float80
        var sourceLocation = stLocation(0)
        var sourceRegister: Int? = 0
        if count == 0 {
            destination = 1
            source = st(0)
        } else if o0.kind == .memory {
            sourceLocation = location(o0, size: o0.size)
            sourceRegister = nil
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
            sourceLocation = stLocation(Int(o1.reg))
            sourceRegister = Int(o1.reg)
        } else if pops {
            destination = Int(o0.reg)
            source = st(0)
        } else {
            source = st(Int(o0.reg))
            sourceLocation = stLocation(Int(o0.reg))
            sourceRegister = Int(o0.reg)
        }
        let destinationLocation = stLocation(destination)
        tracker.derive(to: destinationLocation, from: destinationLocation, sourceLocation)
        loadDependency(destinationLocation, o0)
        tracker.combine(into: x87ExceptionsLocation, from: destinationLocation)
        tracker.combine(into: x87ConditionLocation, from: destinationLocation)  // C1: rounded up
        // An empty operand register is a stack underflow: IE and SF, C1 = 0, and the
        // masked response writes the real indefinite (SDM Vol. 1, 8.5.1.1).
        if isEmpty(destination) || (sourceRegister.map { isEmpty($0) } ?? false) {
            cpu.pointee.x87.statusWord = (cpu.pointee.x87.statusWord | X87Status.invalid | X87Status.stackFault) & ~X87Status.c1
            setST(destination, Self.realIndefinite)
            if pops { x87Pop() }
            return .next
        }
        let code: UInt8
        switch op {
        case .fadd, .faddp, .fiadd: code = 0
        case .fsub, .fsubp, .fisub: code = 1
        case .fsubr, .fsubrp, .fisubr: code = 2
        case .fmul, .fmulp, .fimul: code = 3
        case .fdiv, .fdivp, .fidiv: code = 4
        default: code = 5  // fdivr
        }
        // On the host FPU: exception flags (DE for denormal operands, IE for unsupported
        // encodings) and C1 (rounded up) exactly as the CPU sets them.
        var r: Float80 = 0
        let sw = mp_x87_binary(code, cpu.pointee.x87.controlWord, st(destination), source, &r)
        setST(destination, r)
        cpu.pointee.x87.statusWord = (cpu.pointee.x87.statusWord & ~X87Status.c1) | (sw & (0x3F | X87Status.c1))
        if pops { x87Pop() }
        return .next
    }

    // MARK: Environment and state save

    /// The protected-mode environment: 28 bytes (32-bit format, SDM Vol. 1, Figure 8-9) or,
    /// with a 66h prefix, 14 bytes (16-bit format, Figure 8-10: CW, SW, TW, FIP, FCS, FDP,
    /// FDS as words). The code and data selectors are stored as 0.
    func storeX87Environment(_ a: UInt64, size: UInt8) -> Bool {
        let x = cpu.pointee.x87
        if size == 14 {
            guard memory.probeWrite(a, 14) else { return false }
            return memory.store(a, size: 2, UInt64(x.controlWord))
                && memory.store(a &+ 2, size: 2, UInt64(x.fullStatusWord))
                && memory.store(a &+ 4, size: 2, UInt64(x.tagWord))
                && memory.store(a &+ 6, size: 2, x.lastInstructionPointer & 0xFFFF)
                && memory.store(a &+ 8, size: 2, 0)
                && memory.store(a &+ 10, size: 2, x.lastDataPointer & 0xFFFF)
                && memory.store(a &+ 12, size: 2, 0)
        }
        guard memory.probeWrite(a, 28) else { return false }
        return memory.store(a, size: 4, UInt64(x.controlWord) | 0xFFFF_0000)
            && memory.store(a &+ 4, size: 4, UInt64(x.fullStatusWord) | 0xFFFF_0000)
            && memory.store(a &+ 8, size: 4, UInt64(x.tagWord) | 0xFFFF_0000)
            && memory.store(a &+ 12, size: 4, x.lastInstructionPointer & 0xFFFF_FFFF)
            && memory.store(a &+ 16, size: 4, UInt64(x.lastOpcode) << 16)
            && memory.store(a &+ 20, size: 4, x.lastDataPointer & 0xFFFF_FFFF)
            && memory.store(a &+ 24, size: 4, 0xFFFF_0000)
    }

    /// Loads control, status and tag words from an environment image of `size` 14 or 28.
    func loadX87Environment(_ a: UInt64, size: UInt8) -> Bool {
        let stride: UInt64 = size == 14 ? 2 : 4
        guard let cw = memory.load(a, size: 2), let sw = memory.load(a &+ stride, size: 2),
              let tw = memory.load(a &+ 2 &* stride, size: 2) else { return false }
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

    /// Data flow of `storeLegacyRegion`: each saved register's bytes to its slot, the
    /// bookkeeping fields (tags, last pointers, MXCSR mask, padding) cleared.
    func saveStateDataFlow(_ a: UInt64, x87: Bool, sse: Bool) {
        if Tracker.tracksData == false { return }
        if x87 {
            tracker.copy(to: .memory(a, size: 2), from: x87ControlLocation)
            tracker.copy(to: .memory(a &+ 2, size: 2), from: x87StatusLocation)
            tracker.clear(.memory(a &+ 4, size: 20))  // tags, opcode, FIP, FDP
            for i in 0..<8 {
                let slot = a &+ 32 &+ UInt64(i * 16)
                tracker.copy(to: .memory(slot, size: 10), from: stLocation(i))
                tracker.clear(.memory(slot &+ 10, size: 6))
            }
        }
        if sse {
            tracker.copy(to: .memory(a &+ 24, size: 4), from: Self.registerLocation(RegisterFile.mxcsr, size: 4))
            tracker.clear(.memory(a &+ 28, size: 4))
            for i in 0..<16 { tracker.copy(to: .memory(a &+ 160 &+ UInt64(i * 16), size: 16), from: xmmLocation(UInt8(i))) }
        }
    }

    /// Data flow of `loadLegacyRegion` (before it runs: the ST order follows the TOP
    /// field being loaded). Every register loaded depends on the operand's address too.
    func restoreStateDataFlow(_ o: Operand, _ a: UInt64, x87: Bool, sse: Bool) {
        if Tracker.tracksData == false { return }
        if x87 {
            tracker.copy(to: x87ControlLocation, from: .memory(a, size: 2))
            tracker.copy(to: x87StatusLocation, from: .memory(a &+ 2, size: 2))
            loadDependency(x87ControlLocation, o)
            loadDependency(x87StatusLocation, o)
            let top = Int(((memory.load(a &+ 2, size: 2) ?? 0) >> 11) & 7)
            for i in 0..<8 {
                let register = Self.x87Location(top &+ i)
                tracker.copy(to: register, from: .memory(a &+ 32 &+ UInt64(i * 16), size: 10))
                loadDependency(register, o)
            }
        }
        if sse {
            let mxcsr = Self.registerLocation(RegisterFile.mxcsr, size: 4)
            tracker.copy(to: mxcsr, from: .memory(a &+ 24, size: 4))
            loadDependency(mxcsr, o)
            for i in 0..<16 {
                tracker.copy(to: xmmLocation(UInt8(i)), from: .memory(a &+ 160 &+ UInt64(i * 16), size: 16))
                loadDependency(xmmLocation(UInt8(i)), o)
            }
        }
    }

    func executeStateSave(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let o0 = p.pointee.o0
        let a = effectiveAddress(o0)
        let mxcsr = Self.registerLocation(RegisterFile.mxcsr, size: 4)
        switch p.pointee.op {
        case .stmxcsr:
            tracker.copy(to: .memory(a, size: 4), from: mxcsr)
            guard memory.store(a, size: 4, UInt64(cpu.pointee.mxcsr)) else { return memoryFault(p) }
        case .ldmxcsr:
            tracker.copy(to: mxcsr, from: .memory(a, size: 4))
            loadDependency(mxcsr, o0)
            guard let v = memory.load(a, size: 4) else { return memoryFault(p) }
            // Reserved bits set -> #GP (SIGSEGV).
            if v & ~0xFFFF != 0 { return signalFault(p, GuestSignal.sigsegv, address: 0) }
            cpu.pointee.mxcsr = UInt32(v)
        case .fxsave:
            guard a & 15 == 0 else { return signalFault(p, GuestSignal.sigsegv, address: 0) }
            saveStateDataFlow(a, x87: true, sse: true)
            guard memory.probeWrite(a, 512), storeLegacyRegion(a, x87: true, sse: true) else { return memoryFault(p) }
        case .fxrstor:
            guard a & 15 == 0 else { return signalFault(p, GuestSignal.sigsegv, address: 0) }
            guard memory.probeRead(a, 512) else { return memoryFault(p) }
            restoreStateDataFlow(o0, a, x87: true, sse: true)
            guard loadLegacyRegion(a, x87: true, sse: true) else { return signalFault(p, GuestSignal.sigsegv, address: 0) }
        case .xsave, .xsavec:
            guard a & 63 == 0 else { return signalFault(p, GuestSignal.sigsegv, address: 0) }
            // Requested-feature bitmap: EDX:EAX & XCR0; the components modelled are x87,
            // SSE and AVX (bits 0-2).
            let requested = ((gprs[2] << 32) | (gprs[0] & 0xFFFF_FFFF)) & xcr0
            let rfbm = requested & 7
            guard memory.probeWrite(a, rfbm & 4 != 0 ? 832 : 576) else { return memoryFault(p) }
            saveStateDataFlow(a, x87: rfbm & 1 != 0, sse: rfbm & 2 != 0)
            // The header: XSTATE_BV (and XCOMP_BV, zeros) from EDX:EAX, a mask of constants.
            tracker.clear(.memory(a &+ 512, size: p.pointee.op == .xsavec ? 64 : 8))
            guard storeLegacyRegion(a, x87: rfbm & 1 != 0, sse: rfbm & 2 != 0) else { return memoryFault(p) }
            // AVX (component 2, the upper YMM halves) is in its initial state, and left out
            // of XSTATE_BV, while every upper half is zero (XINUSE[2], SDM Vol. 1, 13.6).
            var inUse = rfbm & 3
            if rfbm & 4 != 0 {
                var upperInUse = false
                for i in 0..<32 where ymmHighs[i] != 0 { upperInUse = true }
                if upperInUse { inUse |= 4 }
                // Standard and compacted formats alike put component 2 at 576: it is the
                // first extended component (SDM Vol. 1, 13.4.3).
                if upperInUse || p.pointee.op == .xsave {
                    for i in 0..<16 {
                        let slot = a &+ 576 &+ UInt64(i * 16)
                        tracker.copy(to: .memory(slot, size: 16), from: DataLocation(kind: .register, size: 16, offset: RegisterFile.ymmHigh(i)))
                        let v = vectorHigh(UInt8(i))
                        _ = memory.store128(slot, v[0], v[1])
                    }
                }
            }
            let header = a &+ 512
            let oldBV = memory.load(header, size: 8) ?? 0
            let bv = p.pointee.op == .xsave ? (oldBV & ~rfbm) | inUse : inUse
            guard memory.store(header, size: 8, bv) else { return memoryFault(p) }
            if p.pointee.op == .xsavec {
                // Compacted format: XCOMP_BV bit 63 set, rest of the header zero.
                guard memory.store(header &+ 8, size: 8, (UInt64(1) << 63) | requested) else { return memoryFault(p) }
                for k in stride(from: 16, to: 64, by: 8) { _ = memory.store(header &+ UInt64(k), size: 8, 0) }
            }
        case .xrstor:
            guard a & 63 == 0 else { return signalFault(p, GuestSignal.sigsegv, address: 0) }
            let rfbm = ((gprs[2] << 32) | (gprs[0] & 0xFFFF_FFFF)) & xcr0 & 7
            guard let bv = memory.load(a &+ 512, size: 8) else { return memoryFault(p) }
            if rfbm & 1 != 0 {
                if bv & 1 != 0 {
                    restoreStateDataFlow(o0, a, x87: true, sse: false)
                    guard loadLegacyRegion(a, x87: true, sse: false) else { return memoryFault(p) }
                } else {
                    // Initial state: constants everywhere.
                    tracker.clear(x87ControlLocation)
                    tracker.clear(x87StatusLocation)
                    for r in 0..<8 { tracker.clear(Self.x87Location(r)) }
                    cpu.pointee.x87 = X87State()
                }
            }
            if rfbm & 2 != 0 {
                if bv & 2 != 0 {
                    restoreStateDataFlow(o0, a, x87: false, sse: true)
                    guard loadLegacyRegion(a, x87: false, sse: true) else { return signalFault(p, GuestSignal.sigsegv, address: 0) }
                } else {
                    for i in 0..<16 { tracker.clear(xmmLocation(UInt8(i))) }
                    tracker.copy(to: mxcsr, from: .memory(a &+ 24, size: 4))
                    loadDependency(mxcsr, o0)
                    for i in 0..<16 { setVector(UInt8(i), V128(0, 0)) }
                    // MXCSR is restored from memory whenever SSE or AVX is requested.
                    if let mx = memory.load(a &+ 24, size: 4) { cpu.pointee.mxcsr = UInt32(truncatingIfNeeded: mx) }
                }
            }
            if rfbm & 4 != 0 {
                for i in 0..<16 {
                    let upper = DataLocation(kind: .register, size: 16, offset: RegisterFile.ymmHigh(i))
                    if bv & 4 != 0 {
                        let slot = a &+ 576 &+ UInt64(i * 16)
                        guard let (lo, hi) = memory.load128(slot) else { return memoryFault(p) }
                        tracker.copy(to: upper, from: .memory(slot, size: 16))
                        loadDependency(upper, o0)
                        setVectorHigh(UInt8(i), V128(lo, hi))
                    } else {
                        tracker.clear(upper)
                        setVectorHigh(UInt8(i), V128(0, 0))
                    }
                }
            }
        default:
            return unsupported(p)
        }
        return .next
    }
}
