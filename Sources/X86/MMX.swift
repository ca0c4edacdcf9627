// MMX: 64-bit integer SIMD on MM0-7, which are the significands (bits 63:0) of the
// physical x87 registers R0-R7, not of ST(i) (SDM Vol. 1, 9.5). Every MMX instruction but
// emms sets TOP to 0 and tags all eight registers valid; a write to MMi also sets bits
// 79:64 of Ri to all ones; emms tags them all empty (SDM Vol. 1, Table 9-2). The
// arithmetic is the SSE lane formula (`packedLane`, `unaryLane`, `shiftLane` in
// SSEInteger.swift) applied to the low 64 bits, with the forms whose MMX element
// selection differs (punpckh*, pack*) rearranged first.

/// Opcode tables of the MMX executor (Machine is generic: no static stored properties).
enum MMXForms {
    /// The elements MMX punpckh*/pack* read, as the SSE forms would read them.
    static let mmxLowForm: [Opcode: Opcode] = [.punpckhbw: .punpcklbw, .punpckhwd: .punpcklwd, .punpckhdq: .punpckldq]

    /// MMX forms whose lanes are the SSE formula's low 64 bits.
    static let mmxLaneOpcodes: Set<Opcode> = [
        .paddb, .paddw, .paddd, .paddq, .psubb, .psubw, .psubd, .psubq,
        .paddsb, .paddsw, .paddusb, .paddusw, .psubsb, .psubsw, .psubusb, .psubusw,
        .pand, .pandn, .por, .pxor, .pcmpeqb, .pcmpeqw, .pcmpeqd, .pcmpgtb, .pcmpgtw, .pcmpgtd,
        .pmullw, .pmulhw, .pmulhuw, .pmuludq, .pmaddwd, .pavgb, .pavgw, .pminub, .pmaxub, .pminsw, .pmaxsw, .psadbw,
        .punpcklbw, .punpcklwd, .punpckldq, .punpckhbw, .punpckhwd, .punpckhdq, .packsswb, .packssdw, .packuswb,
    ]
}

extension Machine {
    /// MMX register `n`: the significand of physical x87 register n.
    @inline(__always)
    func mmx(_ n: UInt8) -> UInt64 { Self.float80Bits(x87Registers[Int(n & 7)]).0 }

    /// Writes MMX register `n`: the significand, with the sign and exponent all ones.
    @inline(__always)
    func setMMX(_ n: UInt8, _ v: UInt64) { x87Registers[Int(n & 7)] = Self.float80(significand: v, signExponent: 0xFFFF) }

    @inline(__always)
    func mmxLocation(_ n: UInt8, size: UInt8 = 8) -> DataLocation {
        DataLocation(kind: .register, size: size, offset: RegisterFile.x87(Int(n & 7)))
    }

    /// Data flow of a write to MMX register `n`: bits 79:64 become constant ones.
    @inline(__always)
    func mmxWriteDataFlow(_ n: UInt8) {
        tracker.clear(DataLocation(kind: .register, size: 2, offset: RegisterFile.x87(Int(n & 7)) &+ 8))
    }

    /// Runs an MMX instruction (`PrefixBits.mmx`, or emms).
    @inline(never)
    func executeMMX(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let op = p.pointee.op
        let o0 = p.pointee.o0, o1 = p.pointee.o1
        if op == .emms {
            cpu.pointee.x87.tagWord = 0xFFFF
            return .next
        }
        // A 64-bit source (mm, m64) or, for movd/movq, a GPR or m32.
        func source(_ o: Operand, size: UInt8) -> UInt64? {
            switch o.kind {
            case .mm: return mmx(o.reg)
            case .xmm: return xmms[Int(o.reg) &* 2]
            case .gpr: return gprs[Int(o.reg)] & Self.mask(size)
            case .memory: return memory.load(effectiveAddress(o), size: UInt64(size))
            default: return nil
            }
        }
        let result: UInt64
        switch op {
        case .movd, .movq, .movdq2q, .movq2dq:
            // movd/movq mm, r/m32|r/m64|mm; movd/movq r/m32|r/m64, mm; movq2dq xmm, mm;
            // movdq2q mm, xmm. Capstone calls the 64-bit GPR forms movd: the GPR's size decides.
            let other = o0.kind == .mm ? o1 : o0
            let size: UInt8 = other.kind == .gpr ? other.size : other.kind == .memory ? (op == .movd ? 4 : 8) : 8
            guard o0.kind != .mm || o1.kind != .none else { return unsupported(p) }
            if o0.kind == .mm {
                guard let v = source(o1, size: size) else { return o1.kind == .memory ? memoryFault(p) : unsupported(p) }
                tracker.copy(to: mmxLocation(o0.reg, size: size), from: o1.kind == .mm ? mmxLocation(o1.reg) : location(o1, size: size))
                if size < 8 { tracker.clear(DataLocation(kind: .register, size: 8 &- size, offset: RegisterFile.x87(Int(o0.reg)) &+ UInt64(size))) }
                loadDependency(mmxLocation(o0.reg), o1)
                result = v
            } else {
                let v = mmx(o1.reg) & Self.mask(size)
                if o0.kind == .memory {
                    guard memory.store(effectiveAddress(o0), size: UInt64(size), v) else { return memoryFault(p) }
                    tracker.copy(to: location(o0, size: size), from: mmxLocation(o1.reg, size: size))
                } else if o0.kind == .xmm {
                    // movq2dq: the upper quadword is zeroed.
                    tracker.copy(to: xmmLocation(o0.reg, offset: 0, size: 8), from: mmxLocation(o1.reg))
                    tracker.clear(xmmLocation(o0.reg, offset: 8, size: 8))
                    setVector(o0.reg, V128(v, 0))
                } else if o0.kind == .gpr {
                    tracker.copy(to: gprLocation(Int(o0.reg)), from: mmxLocation(o1.reg, size: size))
                    if size < 8 { tracker.clear(DataLocation(kind: .register, size: 8 &- size, offset: RegisterFile.gpr(Int(o0.reg)) &+ UInt64(size))) }
                    writeGPR(o0.reg, size: size, v)
                } else {
                    return unsupported(p)
                }
                enterMMXState()
                return .next
            }

        case .psllw, .pslld, .psllq, .psrlw, .psrld, .psrlq, .psraw, .psrad:
            // psllw mm, imm8 | mm/m64: one count for every element.
            guard o0.kind == .mm else { return unsupported(p) }
            let count: UInt64
            if o1.kind == .immediate {
                count = o1.value & 0xFF
            } else {
                guard let c = source(o1, size: 8) else { return memoryFault(p) }
                count = c
            }
            tracker.derive(to: mmxLocation(o0.reg), from: mmxLocation(o0.reg),
                           o1.kind == .mm ? mmxLocation(o1.reg) : location(o1, size: 8))
            loadDependency(mmxLocation(o0.reg), o1)
            result = Self.shiftLane(op, V128(mmx(o0.reg), 0), count: count)[0]

        case .pshufw:
            // pshufw mm1, mm2/m64, imm8: pshuflw's formula on the low quadword.
            guard o0.kind == .mm, let b = source(o1, size: 8) else { return o1.kind == .memory ? memoryFault(p) : unsupported(p) }
            tracker.derive(to: mmxLocation(o0.reg), from: o1.kind == .mm ? mmxLocation(o1.reg) : location(o1, size: 8), .constant)
            loadDependency(mmxLocation(o0.reg), o1)
            guard let v = Self.unaryLane(.pshuflw, V128(b, 0), imm: p.pointee.o2.value) else { return unsupported(p) }
            result = v[0]

        default:
            guard MMXForms.mmxLaneOpcodes.contains(op), o0.kind == .mm, p.pointee.operandCount == 2 else { return unsupported(p) }
            // punpckl* read an m32.
            guard let b = source(o1, size: o1.kind == .memory && o1.size == 4 ? 4 : 8) else {
                return o1.kind == .memory ? memoryFault(p) : unsupported(p)
            }
            let a = mmx(o0.reg)
            let lanes: V128?
            switch op {
            case .punpckhbw, .punpckhwd, .punpckhdq:
                lanes = Self.packedLane(MMXForms.mmxLowForm[op]!, V128(a >> 32, 0), V128(b >> 32, 0), imm: 0, selector: V128(0, 0))
            case .packsswb, .packssdw, .packuswb:
                // The destination's elements then the source's: one SSE source holds both.
                lanes = Self.packedLane(op, V128(a, b), V128(0, 0), imm: 0, selector: V128(0, 0))
            default:
                lanes = Self.packedLane(op, V128(a, 0), V128(b, 0), imm: 0, selector: V128(0, 0))
            }
            guard let v = lanes else { return unsupported(p) }
            let sourceLocation = o1.kind == .mm ? mmxLocation(o1.reg) : location(o1, size: o1.size == 4 ? 4 : 8)
            if o1.kind == .mm && o1.reg == o0.reg && (op == .pxor || op == .psubb || op == .psubw || op == .psubd || op == .psubq
                                                       || op == .pcmpeqb || op == .pcmpeqw || op == .pcmpeqd || op == .pandn) {
                // Zeroing and all-ones idioms: the result does not depend on the register.
                tracker.clear(mmxLocation(o0.reg))
            } else if Self.isBytewise(op) {
                tracker.combineBytewise(into: mmxLocation(o0.reg), from: sourceLocation)
            } else {
                tracker.derive(to: mmxLocation(o0.reg), from: mmxLocation(o0.reg), sourceLocation)
            }
            loadDependency(mmxLocation(o0.reg), o1)
            result = v[0]
        }
        mmxWriteDataFlow(o0.reg)
        setMMX(o0.reg, result)
        enterMMXState()
        return .next
    }

    /// TOP = 0 and all tags valid, as every MMX instruction but emms leaves them.
    @inline(__always)
    func enterMMXState() {
        tracker.combine(into: x87StatusLocation, from: .constant)
        cpu.pointee.x87.top = 0
        cpu.pointee.x87.tagWord = 0
    }
}
