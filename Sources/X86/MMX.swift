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
        .psignb, .psignw, .psignd, .pmulhrsw, .pmaddubsw,
    ]

    /// MMX horizontal forms: the SSE formula with both sources in one SSE operand.
    static let mmxHorizontalOpcodes: Set<Opcode> = [.phaddw, .phaddd, .phaddsw, .phsubw, .phsubd, .phsubsw]

    /// The conversions between MMX integers and SSE floats (an `mm` operand on one side).
    static let mmxConversions: Set<Opcode> = [.cvtpi2ps, .cvtpi2pd, .cvtps2pi, .cvttps2pi, .cvtpd2pi, .cvttpd2pi]
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

        case .phaddw, .phaddd, .phaddsw, .phsubw, .phsubd, .phsubsw, .pshufb, .pabsb, .pabsw, .pabsd:
            // phaddw mm1, mm2/m64: the pairs of mm1 then of mm2, as the SSE form of (mm1:mm2).
            // pshufb mm1, mm2/m64: indices use bits 2:0 (and 7). pabsb mm1, mm2/m64: one source.
            guard o0.kind == .mm, p.pointee.operandCount == 2 else { return unsupported(p) }
            guard let b = source(o1, size: 8) else { return o1.kind == .memory ? memoryFault(p) : unsupported(p) }
            let a = mmx(o0.reg)
            let sourceLocation = o1.kind == .mm ? mmxLocation(o1.reg) : location(o1, size: 8)
            let lanes: V128?
            switch op {
            case .pshufb:
                lanes = Self.packedLane(.pshufb, V128(a, 0), V128(b & 0x8787_8787_8787_8787, 0), imm: 0, selector: V128(0, 0))
            case .pabsb, .pabsw, .pabsd:
                lanes = Self.unaryLane(op, V128(b, 0), imm: 0)
            default:
                lanes = Self.packedLane(op, V128(a, b), V128(0, 0), imm: 0, selector: V128(0, 0))
            }
            guard let v = lanes else { return unsupported(p) }
            if op == .pabsb || op == .pabsw || op == .pabsd {
                tracker.derive(to: mmxLocation(o0.reg), from: sourceLocation, .constant)
            } else {
                tracker.derive(to: mmxLocation(o0.reg), from: mmxLocation(o0.reg), sourceLocation)
            }
            loadDependency(mmxLocation(o0.reg), o1)
            result = v[0]

        case .palignr:
            // palignr mm1, mm2/m64, imm8: (mm1:mm2) shifted right by imm8 bytes, low 64 bits.
            guard o0.kind == .mm, let b = source(o1, size: 8) else { return o1.kind == .memory ? memoryFault(p) : unsupported(p) }
            let a = mmx(o0.reg)
            let shift = p.pointee.o2.value & 0xFF
            switch shift {
            case 0: result = b
            case 1..<8: result = (b >> (shift * 8)) | (a << (64 - shift * 8))
            case 8: result = a
            case 9..<16: result = a >> ((shift - 8) * 8)
            default: result = 0
            }
            tracker.derive(to: mmxLocation(o0.reg), from: mmxLocation(o0.reg), o1.kind == .mm ? mmxLocation(o1.reg) : location(o1, size: 8))
            loadDependency(mmxLocation(o0.reg), o1)

        case .pinsrw:
            // pinsrw mm, r32/m16, imm8: word imm8[1:0].
            guard o0.kind == .mm, let v = source(o1, size: 2) else { return o1.kind == .memory ? memoryFault(p) : unsupported(p) }
            let index = p.pointee.o2.value & 3
            let lane = DataLocation(kind: .register, size: 2, offset: RegisterFile.x87(Int(o0.reg & 7)) &+ index &* 2)
            tracker.copy(to: lane, from: location(o1, size: 2))
            loadDependency(lane, o1)
            result = (mmx(o0.reg) & ~(0xFFFF << (index * 16))) | ((v & 0xFFFF) << (index * 16))

        case .pextrw, .pmovmskb:
            // pextrw r32, mm, imm8 (zero-extended word imm8[1:0]); pmovmskb r32, mm (the
            // eight byte sign bits).
            guard o0.kind == .gpr, o1.kind == .mm else { return unsupported(p) }
            let v = mmx(o1.reg)
            if op == .pextrw {
                let index = p.pointee.o2.value & 3
                tracker.copy(to: gprLocation(Int(o0.reg), size: 2),
                             from: DataLocation(kind: .register, size: 2, offset: RegisterFile.x87(Int(o1.reg & 7)) &+ index &* 2))
                tracker.clear(DataLocation(kind: .register, size: 6, offset: RegisterFile.gpr(Int(o0.reg)) &+ 2))
                writeGPR(o0.reg, size: 8, (v >> (index * 16)) & 0xFFFF)
            } else {
                var bits: UInt64 = 0
                for i in 0..<8 as Range<UInt64> { bits |= ((v >> (i * 8 + 7)) & 1) << i }
                tracker.derive(to: gprLocation(Int(o0.reg)), from: mmxLocation(o1.reg), .constant)
                writeGPR(o0.reg, size: 8, bits)
            }
            enterMMXState()
            return .next

        case .movntq:
            // movntq m64, mm: a store (the non-temporal hint changes nothing visible).
            guard o0.kind == .memory, o1.kind == .mm else { return unsupported(p) }
            guard memory.store(effectiveAddress(o0), size: 8, mmx(o1.reg)) else { return memoryFault(p) }
            tracker.copy(to: location(o0, size: 8), from: mmxLocation(o1.reg))
            enterMMXState()
            return .next

        case .maskmovq:
            // maskmovq mm1, mm2: byte i of mm1 to [RDI + i] where byte i of mm2 has its top
            // bit set. Every selected byte is checked writable before any is stored.
            guard o0.kind == .mm, o1.kind == .mm else { return unsupported(p) }
            let data = mmx(o0.reg), selector = mmx(o1.reg)
            var base = gprs[7]
            if o0.address32 { base &= 0xFFFF_FFFF }
            for i in 0..<8 as Range<UInt64> where (selector >> (i * 8 + 7)) & 1 != 0 {
                guard memory.probeWrite(base &+ i, 1) else { return memoryFault(p) }
            }
            for i in 0..<8 as Range<UInt64> where (selector >> (i * 8 + 7)) & 1 != 0 {
                tracker.copy(to: .memory(base &+ i, size: 1),
                             from: DataLocation(kind: .register, size: 1, offset: RegisterFile.x87(Int(o0.reg & 7)) &+ i))
                _ = memory.store(base &+ i, size: 1, (data >> (i * 8)) & 0xFF)
            }
            enterMMXState()
            return .next

        case .cvtpi2ps, .cvtpi2pd, .cvtps2pi, .cvttps2pi, .cvtpd2pi, .cvttpd2pi:
            return executeMMXConversion(p)

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

    /// cvtpi2ps xmm, mm/m64 (two int32 to the low two singles, the rest kept); cvtpi2pd
    /// xmm, mm/m64 (two int32 to two doubles, exact); cvt[t]ps2pi mm, xmm/m64 and
    /// cvt[t]pd2pi mm, xmm/m128 (to int32, 0x80000000 and IE when out of range, PE when
    /// inexact). An `mm` operand enters the MMX state; cvtpi2p* from memory does not
    /// (SDM Vol. 2, CVTPI2PS, "the transition ... only if the source is an MMX register").
    func executeMMXConversion(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let op = p.pointee.op
        let o0 = p.pointee.o0, o1 = p.pointee.o1
        switch op {
        case .cvtpi2ps, .cvtpi2pd:
            guard o0.kind == .xmm else { return unsupported(p) }
            let v: UInt64
            if o1.kind == .mm { v = mmx(o1.reg) } else {
                guard o1.kind == .memory else { return unsupported(p) }
                guard let m = memory.load(effectiveAddress(o1), size: 8) else { return memoryFault(p) }
                v = m
            }
            let sourceLocation = o1.kind == .mm ? mmxLocation(o1.reg) : location(o1, size: 8)
            let lo = Int32(truncatingIfNeeded: v), hi = Int32(truncatingIfNeeded: v >> 32)
            if op == .cvtpi2ps {
                let destination = xmmLocation(o0.reg, offset: 0, size: 8)
                tracker.derive(to: destination, from: sourceLocation, .constant)
                loadDependency(destination, o1)
                floatStatus(from: destination)
                let q: UInt64 = sse { UInt64(Float(lo).bitPattern) | UInt64(Float(hi).bitPattern) << 32 }
                xmms[Int(o0.reg) &* 2] = q
            } else {
                tracker.derive(to: xmmLocation(o0.reg), from: sourceLocation, .constant)
                loadDependency(xmmLocation(o0.reg), o1)
                setVector(o0.reg, V128(Double(lo).bitPattern, Double(hi).bitPattern))
            }
            if o1.kind == .mm { enterMMXState() }
            return .next
        default:
            guard o0.kind == .mm else { return unsupported(p) }
            let fromDouble = op == .cvtpd2pi || op == .cvttpd2pi
            let truncate = op == .cvttps2pi || op == .cvttpd2pi
            let size: UInt8 = fromDouble ? 16 : 8
            let v: V128
            if o1.kind == .xmm { v = vector(o1.reg) } else {
                guard o1.kind == .memory else { return unsupported(p) }
                if fromDouble {
                    guard let (l, h) = memory.load128(effectiveAddress(o1)) else { return memoryFault(p) }
                    v = V128(l, h)
                } else {
                    guard let m = memory.load(effectiveAddress(o1), size: 8) else { return memoryFault(p) }
                    v = V128(m, 0)
                }
            }
            tracker.derive(to: mmxLocation(o0.reg), from: location(o1, size: size), .constant)
            loadDependency(mmxLocation(o0.reg), o1)
            floatStatus(from: mmxLocation(o0.reg))
            let values = fromDouble ? [Self.double(v[0]), Self.double(v[1])]
                                    : [Double(Self.float(v[0])), Double(Self.float(v[0] >> 32))]
            let a = convertToInteger(values[0], size: 4, truncate: truncate)
            let b = convertToInteger(values[1], size: 4, truncate: truncate)
            mmxWriteDataFlow(o0.reg)
            setMMX(o0.reg, a | b << 32)
            enterMMXState()
            return .next
        }
    }

    /// TOP = 0 and all tags valid, as every MMX instruction but emms leaves them.
    @inline(__always)
    func enterMMXState() {
        tracker.combine(into: x87StatusLocation, from: .constant)
        cpu.pointee.x87.top = 0
        cpu.pointee.x87.tagWord = 0
    }
}
