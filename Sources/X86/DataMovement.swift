// Integer data movement: mov and its extensions, lea, push/pop, xchg, bswap, cmov/setcc,
// accumulator sign extension, leave/enter, xlat (SDM Vol. 2).

extension Machine {
    @inline(__always)
    func execMov(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let dst = p.pointee.o0, src = p.pointee.o1
        tracker.copy(to: location(dst, size: size), from: location(src, size: size))
        if src.kind == .memory && dst.kind == .gpr {
            tracker.addressDependency(of: location(dst, size: size), base: Int(src.reg == Operand.noRegister ? -1 : Int(src.reg)),
                                      index: src.index == Operand.noRegister ? -1 : Int(src.index))
            guard let v = memory.load(effectiveAddress(src), size: UInt64(size)) else { return memoryFault(p) }
            writeGPR(dst.reg, size: size, v)
            return .next
        }
        if dst.kind == .gpr {
            guard let v = read(src, size: size) else { return memoryFault(p) }
            writeGPR(dst.reg, size: size, v)
            return .next
        }
        guard let v = read(src, size: size) else { return memoryFault(p) }
        guard write(dst, size: size, v) else { return memoryFault(p) }
        return .next
    }

    @inline(__always)
    func execMovzx(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let src = p.pointee.o1
        tracker.copy(to: location(p.pointee.o0, size: p.pointee.size), from: location(src, size: src.size))
        guard let v = read(src, size: src.size) else { return memoryFault(p) }
        writeGPR(p.pointee.o0.reg, size: p.pointee.size, v)
        return .next
    }

    func execMovsx(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let src = p.pointee.o1
        tracker.copy(to: location(p.pointee.o0, size: p.pointee.size), from: location(src, size: src.size))
        guard let v = read(src, size: src.size) else { return memoryFault(p) }
        writeGPR(p.pointee.o0.reg, size: p.pointee.size, Self.signExtend(v, src.size))
        return .next
    }

    @inline(__always)
    func execLea(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        var src = p.pointee.o1
        // lea computes the offset only: no segment base (SDM Vol. 2, LEA).
        src.segment = .none
        let dst = p.pointee.o0
        tracker.derive(to: location(dst, size: dst.size),
                       from: src.reg == Operand.noRegister ? .constant : gprLocation(Int(src.reg)),
                       src.index == Operand.noRegister ? .constant : gprLocation(Int(src.index)))
        writeGPR(dst.reg, size: dst.size, effectiveAddress(src))
        return .next
    }

    @inline(__always)
    func execPush(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let o = p.pointee.o0
        let size: UInt8 = o.kind == .immediate ? p.pointee.size : o.size
        guard let v = read(o, size: size) else { return memoryFault(p) }
        tracker.copy(to: .memory(gprs[4] &- UInt64(size), size: size), from: location(o, size: size))
        guard push(v, size: size) else { return memoryFault(p) }
        return .next
    }

    @inline(__always)
    func execPop(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let o = p.pointee.o0
        let size = o.size
        let rsp = gprs[4]
        guard let v = memory.load(rsp, size: UInt64(size)) else { return memoryFault(p) }
        // pop into memory addressed with RSP uses the incremented RSP (SDM Vol. 2, POP).
        gprs[4] = rsp &+ UInt64(size)
        tracker.copy(to: location(o, size: size), from: .memory(rsp, size: size))
        guard write(o, size: size, v) else {
            gprs[4] = rsp
            return memoryFault(p)
        }
        return .next
    }

    func execXchg(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let a = p.pointee.o0, b = p.pointee.o1
        guard let va = read(a, size: size), let vb = read(b, size: size) else { return memoryFault(p) }
        if a.kind == .memory {
            guard write(a, size: size, vb) else { return memoryFault(p) }
            _ = write(b, size: size, va)
        } else {
            guard write(b, size: size, va) else { return memoryFault(p) }
            _ = write(a, size: size, vb)
        }
        // Labels swap; a tracker sees two copies through its own temporary.
        tracker.copy(to: location(a, size: size), from: location(b, size: size))
        return .next
    }

    func execBswap(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let o = p.pointee.o0
        let v = readRegister(o)
        if o.size == 8 { writeRegister(o, v.byteSwapped) }
        else if o.size == 4 { writeRegister(o, UInt64(UInt32(truncatingIfNeeded: v).byteSwapped)) }
        else { writeRegister(o, 0) }  // 16-bit bswap is undefined; CPUs produce 0.
        tracker.combine(into: location(o, size: o.size), from: location(o, size: o.size))
        return .next
    }

    func execMovbe(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        guard let v = read(p.pointee.o1, size: size) else { return memoryFault(p) }
        let swapped: UInt64
        switch size {
        case 8: swapped = v.byteSwapped
        case 4: swapped = UInt64(UInt32(truncatingIfNeeded: v).byteSwapped)
        default: swapped = UInt64(UInt16(truncatingIfNeeded: v).byteSwapped)
        }
        tracker.copy(to: location(p.pointee.o0, size: size), from: location(p.pointee.o1, size: size))
        guard write(p.pointee.o0, size: size, swapped) else { return memoryFault(p) }
        return .next
    }

    @inline(__always)
    func execCmov(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let dst = p.pointee.o0, src = p.pointee.o1
        // The source is read (and may fault) whether or not the condition holds.
        guard let v = read(src, size: size) else { return memoryFault(p) }
        tracker.flagsReachControl(at: cpu.pointee.rip)
        if cpu.pointee.condition(p.pointee.condition) {
            tracker.copy(to: location(dst, size: size), from: location(src, size: size))
            writeGPR(dst.reg, size: size, v)
        } else if size == 4 {
            // A 32-bit cmov zero-extends the destination even when it does not move.
            gprs[Int(dst.reg)] &= 0xFFFF_FFFF
        }
        return .next
    }

    @inline(__always)
    func execSetcc(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let v: UInt64 = cpu.pointee.condition(p.pointee.condition) ? 1 : 0
        tracker.clear(location(p.pointee.o0, size: 1))
        tracker.flagsReachControl(at: cpu.pointee.rip)
        guard write(p.pointee.o0, size: 1, v) else { return memoryFault(p) }
        return .next
    }

    /// cbw / cwde / cdqe: sign-extend the lower half of the accumulator into its size.
    func execSignExtendAccumulator(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let half = size / 2
        writeGPR(0, size: size, Self.signExtend(gprs[0] & Self.mask(half), half) & Self.mask(size))
        tracker.combine(into: gprLocation(0, size: size), from: gprLocation(0, size: half))
        return .next
    }

    /// cwd / cdq / cqo: fill rDX with the sign of rAX.
    func execSignExtendIntoRDX(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let negative = (gprs[0] >> (UInt64(size) * 8 - 1)) & 1 != 0
        writeGPR(2, size: size, negative ? Self.mask(size) : 0)
        tracker.copy(to: gprLocation(2, size: size), from: gprLocation(0, size: size))
        return .next
    }

    func execLeave(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let frame = gprs[5]
        guard let saved = memory.load(frame, size: UInt64(size)) else { return memoryFault(p) }
        tracker.copy(to: gprLocation(4), from: gprLocation(5))
        tracker.copy(to: gprLocation(5, size: size), from: .memory(frame, size: size))
        gprs[4] = frame &+ UInt64(size)
        writeGPR(5, size: size, saved)
        return .next
    }

    /// enter imm16, imm8 (nesting level 0 and 1 only; deeper levels are unsupported).
    func execEnter(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let frameSize = p.pointee.o0.value & 0xFFFF
        let level = p.pointee.o1.value & 0x1F
        guard level <= 1 else { return unsupported(p) }
        guard push(gprs[5]) else { return memoryFault(p) }
        let frame = gprs[4]
        if level == 1 { guard push(frame) else { return memoryFault(p) } }
        gprs[5] = frame
        gprs[4] = gprs[4] &- frameSize
        return .next
    }

    func execXlat(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        var o = p.pointee.o0
        if o.kind != .memory {
            o = Operand()
            o.kind = .memory
            o.reg = 3
        }
        let address = gprs[3] &+ (gprs[0] & 0xFF)
        var segmentBase: UInt64 = 0
        if o.segment == .fs { segmentBase = cpu.pointee.fsBase } else if o.segment == .gs { segmentBase = cpu.pointee.gsBase }
        guard let v = memory.load(address &+ segmentBase, size: 1) else { return memoryFault(p) }
        writeGPR(0, size: 1, v)
        return .next
    }
}
