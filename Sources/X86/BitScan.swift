// Bit tests and scans: bt/bts/btr/btc, bsf/bsr, tzcnt/lzcnt, popcnt (SDM Vol. 2).

extension Machine {
    func execBitTest(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let bits = UInt64(size) &* 8
        let dst = p.pointee.o0, src = p.pointee.o1
        let offset: UInt64 = src.kind == .immediate ? src.value : readRegister(src)
        let value: UInt64
        var address: UInt64 = 0
        let bit: UInt64
        if dst.kind == .memory {
            // A register bit offset is signed and may address bytes outside the operand
            // (SDM Vol. 2, BT: "bit string"); an immediate offset is taken modulo the size.
            address = effectiveAddress(dst)
            if src.kind != .immediate {
                let signed = Int64(bitPattern: Self.signExtend(offset, src.size))
                let shift = Int64(bits.trailingZeroBitCount)
                address = address &+ UInt64(bitPattern: (signed >> shift) &* Int64(size))
            }
            bit = offset & (bits - 1)
            guard let v = memory.load(address, size: UInt64(size)) else { return memoryFault(p) }
            value = v
        } else {
            bit = offset & (bits - 1)
            value = readRegister(dst)
        }
        // CF (the only flag written) is the selected bit: it depends on the bit string and
        // on the offset; bts/btr/btc change the string at an offset-dependent bit.
        let string = dst.kind == .memory ? DataLocation.memory(address, size: size) : location(dst, size: size)
        tracker.combine(into: flagsLocation, from: string)
        tracker.combine(into: flagsLocation, from: location(src, size: src.size))
        loadDependency(flagsLocation, dst)
        if p.pointee.op != .bt { tracker.combine(into: string, from: location(src, size: src.size)) }
        let c = cpu
        c.pointee.materializeFlags()
        let mask = UInt64(1) << bit
        c.pointee.flagsStored = (c.pointee.flagsStored & ~RFlags.carry) | ((value >> bit) & 1)
        let result: UInt64
        switch p.pointee.op {
        case .bts: result = value | mask
        case .btr: result = value & ~mask
        case .btc: result = value ^ mask
        default: return .next
        }
        if dst.kind == .memory {
            guard memory.store(address, size: UInt64(size), result) else { return memoryFault(p) }
        } else {
            writeRegister(dst, result)
        }
        return .next
    }

    func execBitScan(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let bits = UInt64(size) &* 8
        let dst = p.pointee.o0
        guard let v = read(p.pointee.o1, size: size) else { return memoryFault(p) }
        let op = p.pointee.op
        if (op == .bsf || op == .bsr) && v == 0 {
            // The destination keeps its value (all 8 bytes, not zero-extended), now by
            // decision of the source.
            tracker.combine(into: location(dst, size: 8), from: location(p.pointee.o1, size: size))
            loadDependency(location(dst, size: 8), p.pointee.o1)
        } else {
            loadDerive(to: location(dst, size: size), from: location(p.pointee.o1, size: size), .constant, address: p.pointee.o1)
        }
        tracker.flags(from: location(p.pointee.o1, size: size))
        loadDependency(flagsLocation, p.pointee.o1)
        let c = cpu
        c.pointee.materializeFlags()
        var flags = c.pointee.flagsStored & ~RFlags.arithmetic
        switch p.pointee.op {
        case .bsf, .bsr:
            if v == 0 {
                // Destination unchanged (as AMD documents and Intel implements), ZF = 1.
                flags |= RFlags.zero
            } else {
                let r = p.pointee.op == .bsf ? UInt64(v.trailingZeroBitCount) : 63 - UInt64(v.leadingZeroBitCount)
                writeGPR(dst.reg, size: size, r)
            }
            // PF/SF/AF/OF/CF are undefined: left clear.
        case .tzcnt, .lzcnt:
            let r: UInt64
            if p.pointee.op == .tzcnt {
                r = v == 0 ? bits : UInt64(v.trailingZeroBitCount)
            } else {
                r = v == 0 ? bits : UInt64(v.leadingZeroBitCount) - (64 - bits)
            }
            writeGPR(dst.reg, size: size, r)
            if v == 0 { flags |= RFlags.carry }
            if r == 0 { flags |= RFlags.zero }
        default: // popcnt
            writeGPR(dst.reg, size: size, UInt64(v.nonzeroBitCount))
            if v == 0 { flags |= RFlags.zero }
        }
        c.pointee.flagsStored = flags
        return .next
    }
}
