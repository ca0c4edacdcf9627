// Integer data movement: mov and its extensions, lea, push/pop, xchg, bswap, cmov/setcc,
// accumulator sign extension, leave/enter, xlat (SDM Vol. 2).

extension Machine {
    @inline(__always)
    func execMov(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let dst = p.pointee.o0, src = p.pointee.o1
        if src.kind == .memory && dst.kind == .gpr {
            loadCopy(to: location(dst, size: size), from: location(src, size: size), address: src)
            guard let v = memory.load(effectiveAddress(src), size: UInt64(size)) else { return memoryFault(p) }
            writeGPR(dst.reg, size: size, v)
            return .next
        }
        loadCopy(to: location(dst, size: size), from: location(src, size: size), address: src)  // mov ah, [m] too
        if dst.kind == .gpr {
            guard let v = read(src, size: size) else { return memoryFault(p) }
            writeGPR(dst.reg, size: size, v)
            return .next
        }
        guard let v = read(src, size: size) else { return memoryFault(p) }
        guard write(dst, size: size, v) else { return memoryFault(p) }
        return .next
    }

    /// Data flow of movzx/movsx/movsxd into a GPR: the low bytes copy the source (plus
    /// the load's address dependency); the extension bytes are zeros (movzx, clean) or
    /// copies of the sign bit (movsx: the labels of the source's top byte); a 32-bit
    /// destination zero-extends the rest of the register.
    @inline(__always)
    func extendLabels(_ p: UnsafePointer<Instruction>, signed: Bool) {
        guard Tracker.tracksData else { return }
        let src = p.pointee.o1
        let destination = location(p.pointee.o0, size: p.pointee.size)
        let n = src.size, m = p.pointee.size
        guard destination.kind == .register, n < m else {
            loadCopy(to: destination, from: location(src, size: n), address: src)
            return
        }
        let low = DataLocation(kind: .register, size: n, offset: destination.offset)
        loadCopy(to: low, from: location(src, size: n), address: src)
        let extended = DataLocation(kind: .register, size: m - n, offset: destination.offset &+ UInt64(n))
        if signed {
            tracker.derive(to: extended, from: DataLocation(kind: .register, size: 1, offset: destination.offset &+ UInt64(n - 1)), .constant)
        } else {
            tracker.clear(extended)
        }
        if m == 4 { tracker.clear(DataLocation(kind: .register, size: 4, offset: destination.offset &+ 4)) }
    }

    @inline(__always)
    func execMovzx(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let src = p.pointee.o1
        extendLabels(p, signed: false)
        guard let v = read(src, size: src.size) else { return memoryFault(p) }
        writeGPR(p.pointee.o0.reg, size: p.pointee.size, v)
        return .next
    }

    func execMovsx(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let src = p.pointee.o1
        extendLabels(p, signed: true)
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
        let slot = DataLocation.memory(gprs[4] &- UInt64(size), size: size)
        tracker.copy(to: slot, from: location(o, size: size))
        loadDependency(slot, o)
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
        tracker.addressDependency(of: location(o, size: size), base: 4, index: -1)
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
        // Hooks first: the memory operand's address may use the register being swapped.
        // The register then holds what the address selected.
        let (m, r) = a.kind == .memory ? (a, b) : (b, a)
        if m.kind == .memory && addressOverlaps(location(r, size: size), m) {
            let scratch = Self.registerLocation(RegisterFile.scratch, size: size)
            tracker.copy(to: scratch, from: location(m, size: size))
            loadDependency(scratch, m)
            tracker.copy(to: location(m, size: size), from: location(r, size: size))
            tracker.copy(to: location(r, size: size), from: scratch)
            tracker.clear(scratch)
        } else {
            tracker.exchange(location(a, size: size), location(b, size: size))
            loadDependency(location(r, size: size), m)
        }
        if a.kind == .memory {
            guard write(a, size: size, vb) else { return memoryFault(p) }
            _ = write(b, size: size, va)
        } else {
            guard write(b, size: size, va) else { return memoryFault(p) }
            _ = write(a, size: size, vb)
        }
        return .next
    }

    @inline(__always)
    func execBswap(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let o = p.pointee.o0
        let v = readRegister(o)
        // A permutation of the register's own bytes: it keeps its labels, mixed.
        if o.size == 8 {
            tracker.derive(to: location(o, size: 8), from: location(o, size: 8), .constant)
            writeRegister(o, v.byteSwapped)
        } else if o.size == 4 {
            tracker.derive(to: location(o, size: 4), from: location(o, size: 4), .constant)
            writeRegister(o, UInt64(UInt32(truncatingIfNeeded: v).byteSwapped))
        } else {
            tracker.clear(location(o, size: o.size))
            writeRegister(o, 0)  // 16-bit bswap is undefined; CPUs produce 0.
        }
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
        // Byte-reversed: the bytes move, so the destination derives from the whole source.
        loadDerive(to: location(p.pointee.o0, size: size), from: location(p.pointee.o1, size: size), .constant, address: p.pointee.o1)
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
        if cpu.condition(p.pointee.condition) {
            loadCopy(to: location(dst, size: size), from: location(src, size: size), address: src)
            writeGPR(dst.reg, size: size, v)
        } else if size == 4 {
            // A 32-bit cmov zero-extends the destination even when it does not move.
            tracker.combine(into: location(dst, size: 4), from: .constant)
            gprs[Int(dst.reg)] &= 0xFFFF_FFFF
        }
        return .next
    }

    @inline(__always)
    func execSetcc(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let v: UInt64 = cpu.condition(p.pointee.condition) ? 1 : 0
        // The byte is the condition: data from the flags (sete al; movzx eax, al; ret).
        tracker.copy(to: location(p.pointee.o0, size: 1), from: flagsLocation)
        tracker.flagsReachControl(at: cpu.pointee.rip)
        guard write(p.pointee.o0, size: 1, v) else { return memoryFault(p) }
        return .next
    }

    /// cbw / cwde / cdqe: sign-extend the lower half of the accumulator into its size.
    func execSignExtendAccumulator(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let half = size / 2
        writeGPR(0, size: size, Self.signExtend(gprs[0] & Self.mask(half), half) & Self.mask(size))
        tracker.copy(to: gprLocation(0, size: size), from: gprLocation(0, size: half))
        return .next
    }

    /// cwd / cdq / cqo: fill rDX with the sign of rAX.
    @inline(__always)
    func execSignExtendIntoRDX(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let negative = (gprs[0] >> (UInt64(size) * 8 - 1)) & 1 != 0
        writeGPR(2, size: size, negative ? Self.mask(size) : 0)
        // Every byte of rDX is the sign of rAX: derived, not a byte-for-byte copy.
        tracker.derive(to: gprLocation(2, size: size), from: gprLocation(0, size: size), .constant)
        return .next
    }

    func execLeave(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let frame = gprs[5]
        guard let saved = memory.load(frame, size: UInt64(size)) else { return memoryFault(p) }
        // RSP takes RBP's labels first, so the load's address register is RSP by then.
        tracker.copy(to: gprLocation(4), from: gprLocation(5))
        tracker.copy(to: gprLocation(5, size: size), from: .memory(frame, size: size))
        tracker.addressDependency(of: gprLocation(5, size: size), base: 4, index: -1)
        gprs[4] = frame &+ UInt64(size)
        writeGPR(5, size: size, saved)
        return .next
    }

    /// enter imm16, imm8 (SDM Vol. 2, ENTER; the stack address size is 64 bits): push rBP;
    /// for nesting level L > 0, copy L - 1 frame pointers from the enclosing frame
    /// (rBP - size, - 2 * size ...) and push the new frame pointer; then rBP = the new
    /// frame, RSP -= imm16. With a 66h prefix (`size` 2) every push is a word and only BP
    /// (bits 15:0 of RBP) takes the new frame pointer.
    func execEnter(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size: UInt8 = p.pointee.size == 2 ? 2 : 8
        let width = UInt64(size)
        let frameSize = p.pointee.o0.value & 0xFFFF
        let level = p.pointee.o1.value & 0x1F
        let oldRBP = gprs[5]
        var rsp = gprs[4] &- width
        tracker.copy(to: .memory(rsp, size: size), from: gprLocation(5, size: size))
        guard memory.store(rsp, size: width, oldRBP & Self.mask(size)) else { return memoryFault(p) }
        let frame = rsp
        if level > 0 {
            var enclosing = oldRBP
            for _ in 1..<level {
                enclosing &-= width
                guard let v = memory.load(enclosing, size: width) else { return memoryFault(p) }
                rsp &-= width
                tracker.copy(to: .memory(rsp, size: size), from: .memory(enclosing, size: size))
                // Loaded at rBP - k * size: the copy depends on RBP.
                tracker.addressDependency(of: .memory(rsp, size: size), base: 5, index: -1)
                guard memory.store(rsp, size: width, v) else { return memoryFault(p) }
            }
            rsp &-= width
            tracker.copy(to: .memory(rsp, size: size), from: gprLocation(4, size: size))
            guard memory.store(rsp, size: width, frame & Self.mask(size)) else { return memoryFault(p) }
        }
        // rBP = the new frame pointer, RSP below it: both RSP's value moved.
        tracker.copy(to: gprLocation(5, size: size), from: gprLocation(4, size: size))
        writeGPR(5, size: size, frame & Self.mask(size))
        gprs[4] = rsp &- frameSize
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
        // A table lookup: AL <- [RBX + AL], and AL's labels select the byte.
        var table = Operand()
        table.kind = .memory
        table.reg = 3
        table.index = 0
        loadCopy(to: gprLocation(0, size: 1), from: .memory(address &+ segmentBase, size: 1), address: table)
        writeGPR(0, size: 1, v)
        return .next
    }
}
