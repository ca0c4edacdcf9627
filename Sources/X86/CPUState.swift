// Architectural state of one x86-64 thread, with QEMU-style lazy arithmetic flags.

/// RFLAGS bit positions (Intel SDM Vol. 1, 3.4.3).
public enum RFlags {
    public static let carry: UInt64 = 1 << 0
    public static let reserved1: UInt64 = 1 << 1
    public static let parity: UInt64 = 1 << 2
    public static let adjust: UInt64 = 1 << 4
    public static let zero: UInt64 = 1 << 6
    public static let sign: UInt64 = 1 << 7
    public static let trap: UInt64 = 1 << 8
    public static let interrupt: UInt64 = 1 << 9
    public static let direction: UInt64 = 1 << 10
    public static let overflow: UInt64 = 1 << 11
    public static let alignmentCheck: UInt64 = 1 << 18
    public static let id: UInt64 = 1 << 21
    /// The six status flags the lazy evaluator computes.
    public static let arithmetic: UInt64 = carry | parity | adjust | zero | sign | overflow
    /// Bits user code can change with popf (SDM Vol. 2, POPF; IOPL/IF are kept at 0/1).
    static let userWritable: UInt64 = arithmetic | trap | direction | alignmentCheck | id
}

/// The general-purpose registers in encoding order (REX.B/R/X extend them to 16).
public enum GPR: Int, CaseIterable, Sendable {
    case rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15
}

/// Which operation last set the arithmetic flags; the flags themselves are derived from
/// the saved operands only when something reads them (most results are never tested).
enum LazyFlagsOp: UInt8 {
    /// `flagsMaterialized` holds the arithmetic flags.
    case materialized
    case add, adc, sub, sbb
    /// and/or/xor/test: CF = OF = 0; AF is undefined and reads as 0.
    case logic
    /// inc/dec: like add/sub of 1, but CF comes from `lazyAux`.
    case inc, dec
    /// SF/ZF/PF from the result, CF from bit 0 of `lazyAux`, OF from bit 11, AF from bit 4
    /// (shifts, multiplies).
    case explicitCarryOverflow
}

/// A 128-bit SSE register as two little-endian quadwords.
public struct XMMRegister: Equatable, Sendable {
    public var low: UInt64
    public var high: UInt64
    public init(low: UInt64 = 0, high: UInt64 = 0) { self.low = low; self.high = high }
}

/// The x87 FPU (SDM Vol. 1, ch. 8). Registers are kept as physical registers R0-R7;
/// ST(i) is R((top + i) mod 8).
public struct X87State: Equatable, Sendable {
    public var registers: (Float80, Float80, Float80, Float80, Float80, Float80, Float80, Float80)
    /// TOP field of the status word.
    public var top: UInt8
    /// Full tag word, two bits per physical register (00 valid, 01 zero, 10 special, 11 empty).
    public var tagWord: UInt16
    public var controlWord: UInt16
    /// Status word without the TOP field (which lives in `top`).
    public var statusWord: UInt16
    public var lastInstructionPointer: UInt64
    public var lastDataPointer: UInt64
    public var lastOpcode: UInt16

    public init() {
        registers = (0, 0, 0, 0, 0, 0, 0, 0)
        top = 0
        tagWord = 0xFFFF
        controlWord = 0x037F  // FNINIT default: all exceptions masked, 64-bit precision, nearest
        statusWord = 0
        lastInstructionPointer = 0
        lastDataPointer = 0
        lastOpcode = 0
    }

    public static func == (a: X87State, b: X87State) -> Bool {
        withUnsafeBytes(of: a.registers) { ra in
            withUnsafeBytes(of: b.registers) { rb in
                (0..<8).allSatisfy { i in
                    // Compare the 10 significant bytes of each 16-byte slot bit for bit.
                    (0..<10).allSatisfy { ra[i * 16 + $0] == rb[i * 16 + $0] }
                }
            }
        } && a.top == b.top && a.tagWord == b.tagWord && a.controlWord == b.controlWord
            && a.statusWord == b.statusWord
    }

    /// Status word as fnstsw stores it (TOP merged in bits 11-13).
    public var fullStatusWord: UInt16 {
        (statusWord & ~0x3800) | (UInt16(top & 7) << 11)
    }
}

/// Registers of one guest thread. Readable and writable between `Machine.run` calls.
public struct CPUState: Sendable {
    public var gpr: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                     UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    public var rip: UInt64
    public var fsBase: UInt64
    public var gsBase: UInt64
    public var xmm: (XMMRegister, XMMRegister, XMMRegister, XMMRegister,
                     XMMRegister, XMMRegister, XMMRegister, XMMRegister,
                     XMMRegister, XMMRegister, XMMRegister, XMMRegister,
                     XMMRegister, XMMRegister, XMMRegister, XMMRegister)
    /// Bits 255:128 of YMM0-15 (AVX). Legacy SSE writes keep them; VEX.128 writes zero
    /// them (SDM Vol. 1, 14.1.2).
    public var ymmHigh: (XMMRegister, XMMRegister, XMMRegister, XMMRegister,
                         XMMRegister, XMMRegister, XMMRegister, XMMRegister,
                         XMMRegister, XMMRegister, XMMRegister, XMMRegister,
                         XMMRegister, XMMRegister, XMMRegister, XMMRegister)
    public var mxcsr: UInt32
    public var x87: X87State

    // Lazy flags (see LazyFlagsOp). Values are masked to `lazyWidthBits`.
    var lazyOp: LazyFlagsOp
    var lazyWidthBits: UInt8
    var lazyResult: UInt64
    var lazySource1: UInt64
    var lazySource2: UInt64
    var lazyAux: UInt64
    /// Non-arithmetic RFLAGS bits always; arithmetic bits when lazyOp == .materialized.
    var flagsStored: UInt64

    public init() {
        gpr = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        rip = 0
        fsBase = 0
        gsBase = 0
        let z = XMMRegister()
        xmm = (z, z, z, z, z, z, z, z, z, z, z, z, z, z, z, z)
        ymmHigh = xmm
        mxcsr = 0x1F80
        x87 = X87State()
        lazyOp = .materialized
        lazyWidthBits = 64
        lazyResult = 0
        lazySource1 = 0
        lazySource2 = 0
        lazyAux = 0
        flagsStored = RFlags.reserved1 | RFlags.interrupt
    }

    public subscript(_ r: GPR) -> UInt64 {
        get { withUnsafeBytes(of: gpr) { $0.load(fromByteOffset: r.rawValue * 8, as: UInt64.self) } }
        set { withUnsafeMutableBytes(of: &gpr) { $0.storeBytes(of: newValue, toByteOffset: r.rawValue * 8, as: UInt64.self) } }
    }

    public subscript(xmm index: Int) -> XMMRegister {
        get {
            precondition((0..<16).contains(index), "XMM index out of range")
            return withUnsafeBytes(of: xmm) { $0.load(fromByteOffset: index * 16, as: XMMRegister.self) }
        }
        set {
            precondition((0..<16).contains(index), "XMM index out of range")
            withUnsafeMutableBytes(of: &xmm) { $0.storeBytes(of: newValue, toByteOffset: index * 16, as: XMMRegister.self) }
        }
    }

    /// Bits 255:128 of YMM register `index`.
    public subscript(ymmHigh index: Int) -> XMMRegister {
        get {
            precondition((0..<16).contains(index), "YMM index out of range")
            return withUnsafeBytes(of: ymmHigh) { $0.load(fromByteOffset: index * 16, as: XMMRegister.self) }
        }
        set {
            precondition((0..<16).contains(index), "YMM index out of range")
            withUnsafeMutableBytes(of: &ymmHigh) { $0.storeBytes(of: newValue, toByteOffset: index * 16, as: XMMRegister.self) }
        }
    }

    public var rax: UInt64 { get { self[.rax] } set { self[.rax] = newValue } }
    public var rcx: UInt64 { get { self[.rcx] } set { self[.rcx] = newValue } }
    public var rdx: UInt64 { get { self[.rdx] } set { self[.rdx] = newValue } }
    public var rbx: UInt64 { get { self[.rbx] } set { self[.rbx] = newValue } }
    public var rsp: UInt64 { get { self[.rsp] } set { self[.rsp] = newValue } }
    public var rbp: UInt64 { get { self[.rbp] } set { self[.rbp] = newValue } }
    public var rsi: UInt64 { get { self[.rsi] } set { self[.rsi] = newValue } }
    public var rdi: UInt64 { get { self[.rdi] } set { self[.rdi] = newValue } }

    /// RFLAGS with the lazy status flags materialized. Setting it replaces the status flags
    /// and the user-writable control bits.
    public var rflags: UInt64 {
        get { (flagsStored & ~RFlags.arithmetic) | arithmeticFlags() }
        set {
            flagsStored = (newValue & RFlags.userWritable) | RFlags.reserved1 | RFlags.interrupt
            lazyOp = .materialized
        }
    }

    // MARK: Lazy flag evaluation

    @inline(__always)
    static func parity(_ value: UInt64) -> UInt64 {
        // PF is set when the low byte has an even number of ones (SDM Vol. 1, 3.4.3.1).
        (UInt64(UInt8(truncatingIfNeeded: value).nonzeroBitCount) & 1) == 0 ? RFlags.parity : 0
    }

    /// Records an operation whose flags will be derived later. Values must be masked.
    @inline(__always)
    mutating func setLazyFlags(_ op: LazyFlagsOp, bits: UInt8, result: UInt64, source1: UInt64, source2: UInt64, aux: UInt64 = 0) {
        lazyOp = op
        lazyWidthBits = bits
        lazyResult = result
        lazySource1 = source1
        lazySource2 = source2
        lazyAux = aux
    }

    /// The six status flags, computed from the last flag-setting operation.
    func arithmeticFlags() -> UInt64 {
        Self.arithmeticFlags(op: lazyOp, widthBits: lazyWidthBits, result: lazyResult, source1: lazySource1,
                             source2: lazySource2, aux: lazyAux, stored: flagsStored)
    }

    /// Flag evaluation from the lazy record's fields (scalars, so that callers holding a
    /// pointer to the state never copy the whole struct).
    static func arithmeticFlags(op lazyOp: LazyFlagsOp, widthBits: UInt8, result r: UInt64, source1 a: UInt64,
                                source2 b: UInt64, aux lazyAux: UInt64, stored flagsStored: UInt64) -> UInt64 {
        let bits = UInt64(widthBits)
        let sign: UInt64 = 1 << (bits - 1)
        var f: UInt64
        switch lazyOp {
        case .materialized:
            return flagsStored & RFlags.arithmetic
        case .add, .adc, .inc:
            f = ((a ^ b ^ r) & 0x10)  // AF: carry out of bit 3
            if (a ^ r) & (b ^ r) & sign != 0 { f |= RFlags.overflow }
            switch lazyOp {
            case .add: if r < a { f |= RFlags.carry }
            case .adc: if lazyAux & 1 != 0 ? r <= a : r < a { f |= RFlags.carry }
            default: f |= lazyAux & 1
            }
        case .sub, .sbb, .dec:
            f = ((a ^ b ^ r) & 0x10)
            if (a ^ b) & (a ^ r) & sign != 0 { f |= RFlags.overflow }
            switch lazyOp {
            case .sub: if a < b { f |= RFlags.carry }
            case .sbb: if lazyAux & 1 != 0 ? a <= b : a < b { f |= RFlags.carry }
            default: f |= lazyAux & 1
            }
        case .logic:
            f = 0
        case .explicitCarryOverflow:
            f = lazyAux & (RFlags.carry | RFlags.overflow | RFlags.adjust)
        }
        if r == 0 { f |= RFlags.zero }
        if r & sign != 0 { f |= RFlags.sign }
        f |= Self.parity(r)
        return f
    }

    /// Replaces the lazy record with concrete flags (before a partial flag update).
    @inline(__always)
    mutating func materializeFlags() {
        if lazyOp != .materialized {
            flagsStored = (flagsStored & ~RFlags.arithmetic) | arithmeticFlags()
            lazyOp = .materialized
        }
    }

    @inline(__always)
    static func conditionFromFlags(_ cc: UInt8, _ f: UInt64) -> Bool {
        let cf = f & RFlags.carry != 0, zf = f & RFlags.zero != 0
        let sf = f & RFlags.sign != 0, of = f & RFlags.overflow != 0
        let result: Bool
        switch cc >> 1 {
        case 0: result = of
        case 1: result = cf
        case 2: result = zf
        case 3: result = cf || zf
        case 4: result = sf
        case 5: result = f & RFlags.parity != 0
        case 6: result = sf != of
        default: result = zf || sf != of
        }
        return result != (cc & 1 != 0)
    }
}

/// Hot-path flag queries through the interpreter's state pointer. They read single fields
/// (`pointer.pointee.field` is a direct load), where a method on `pointee` would copy the
/// whole ~600-byte CPUState first (measured: memmove was 20% of run time).
extension UnsafeMutablePointer where Pointee == CPUState {
    @inline(__always)
    func arithmeticFlags() -> UInt64 {
        CPUState.arithmeticFlags(op: pointee.lazyOp, widthBits: pointee.lazyWidthBits, result: pointee.lazyResult,
                                 source1: pointee.lazySource1, source2: pointee.lazySource2, aux: pointee.lazyAux,
                                 stored: pointee.flagsStored)
    }

    @inline(__always)
    var carryFlag: Bool {
        switch pointee.lazyOp {
        case .add: return pointee.lazyResult < pointee.lazySource1
        case .sub: return pointee.lazySource1 < pointee.lazySource2
        case .logic: return false
        default: return arithmeticFlags() & RFlags.carry != 0
        }
    }

    @inline(__always)
    var directionFlag: Bool { pointee.flagsStored & RFlags.direction != 0 }

    /// Evaluates condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc, SDM Vol. 1 B.1).
    /// Compares and tests, the common producers, are answered without building RFLAGS.
    @inline(__always)
    func condition(_ cc: UInt8) -> Bool {
        let op = pointee.lazyOp
        let result: Bool
        if op == .sub {
            let a = pointee.lazySource1, b = pointee.lazySource2
            // Shifting both operands so their sign bits sit in bit 63 keeps signed order.
            let shift = 64 &- UInt64(pointee.lazyWidthBits)
            switch cc >> 1 {
            case 1: result = a < b                 // B
            case 2: result = a == b                // E
            case 3: result = a <= b                // BE
            case 6: result = Int64(bitPattern: a << shift) < Int64(bitPattern: b << shift)   // L
            case 7: result = Int64(bitPattern: a << shift) <= Int64(bitPattern: b << shift)  // LE
            default: return CPUState.conditionFromFlags(cc, arithmeticFlags())
            }
        } else if op == .logic {
            let r = pointee.lazyResult
            let negative = r & (UInt64(1) << (UInt64(pointee.lazyWidthBits) - 1)) != 0
            switch cc >> 1 {
            case 0: result = false          // O
            case 1: result = false          // B
            case 2: result = r == 0         // E
            case 3: result = r == 0         // BE
            case 4: result = negative       // S
            case 6: result = negative       // L: SF != OF with OF = 0
            case 7: result = r == 0 || negative
            default: return CPUState.conditionFromFlags(cc, arithmeticFlags())
            }
        } else {
            return CPUState.conditionFromFlags(cc, arithmeticFlags())
        }
        return result != (cc & 1 != 0)
    }
}
