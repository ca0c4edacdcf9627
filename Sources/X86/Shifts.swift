// Shifts and rotates: shl/shr/sar, rol/ror/rcl/rcr, shld/shrd, and BMI2 shlx/shrx/sarx/rorx
// (SDM Vol. 2, SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR, SHLD, SHRD). Flags the SDM leaves
// undefined (OF for counts other than 1, AF) are computed from a fixed formula.

extension Machine {
    /// The count operand: an immediate, CL, or the implicit 1 of the D0/D1 forms.
    @inline(__always)
    func shiftCount(_ p: UnsafePointer<Instruction>, countOperand: Operand) -> UInt64 {
        switch countOperand.kind {
        case .immediate: return countOperand.value & 0xFF
        case .gpr: return gprs[Int(countOperand.reg)] & 0xFF
        default: return 1
        }
    }

    /// The data-flow location of the count: CL, or a constant (immediate, implicit 1).
    @inline(__always)
    func shiftCountLocation(_ countOperand: Operand) -> DataLocation {
        countOperand.kind == .gpr ? gprLocation(Int(countOperand.reg), size: 1) : .constant
    }

    func execShift(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let dst = p.pointee.o0
        let bits = UInt64(size) &* 8
        let m = Self.mask(size)
        let countOperand = p.pointee.operandCount > 1 ? p.pointee.o1 : Operand()
        let count = shiftCount(p, countOperand: countOperand) & (size == 8 ? 63 : 31)
        // Bits move by a known count: each result byte takes the bytes its bits came from
        // (a tracker may mix them all), then the count's labels when it is CL (even a
        // zero count rewrites a 32-bit register); all flags follow the result when the
        // count is not zero.
        let op = p.pointee.op
        tracker.shift(location(dst, size: size), bits: op == .shl ? Int(count) : -Int(count),
                      fill: op == .sar ? .sign : .zero)
        if countOperand.kind == .gpr { tracker.combine(into: location(dst, size: size), from: shiftCountLocation(countOperand)) }
        let address = dst.kind == .memory ? effectiveAddress(dst) : 0
        let a: UInt64
        if dst.kind == .memory {
            guard let v = memory.load(address, size: UInt64(size)) else { return memoryFault(p) }
            a = v
        } else {
            a = readRegister(dst)
        }
        if count == 0 {
            // No flags change; a 32-bit register destination is still written (zero-extended).
            if dst.kind != .memory { writeRegister(dst, a) }
            return .next
        }
        tracker.flags(from: location(dst, size: size))
        loadDependency(flagsLocation, dst)
        let sign = UInt64(1) << (bits - 1)
        let r: UInt64
        var carry: UInt64
        var overflow: Bool
        switch p.pointee.op {
        case .shl:
            r = count < 64 ? (a << count) & m : 0
            carry = count <= bits ? (a >> (bits - count)) & 1 : 0
            overflow = ((r & sign) != 0) != (carry != 0)
        case .shr:
            r = count < 64 ? a >> count : 0
            carry = (a >> (count - 1)) & 1
            overflow = a & sign != 0
        default: // sar
            let signed = Int64(bitPattern: Self.signExtend(a, size))
            r = UInt64(bitPattern: signed >> Int64(min(count, 63))) & m
            carry = UInt64(bitPattern: signed >> Int64(min(count - 1, 63))) & 1
            overflow = false
        }
        if dst.kind == .memory {
            guard memory.store(address, size: UInt64(size), r) else { return memoryFault(p) }
        } else {
            writeRegister(dst, r)
        }
        if count > 1 && p.pointee.op == .shl {
            // Undefined for count > 1; this CPU family computes it from the last step.
            overflow = ((r & sign) != 0) != (carry != 0)
        }
        cpu.pointee.setLazyFlags(.explicitCarryOverflow, bits: UInt8(bits), result: r, source1: 0, source2: 0,
                                 aux: carry | (overflow ? RFlags.overflow : 0))
        return .next
    }

    func execRotate(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let dst = p.pointee.o0
        let bits = UInt64(size) &* 8
        let m = Self.mask(size)
        let sign = UInt64(1) << (bits - 1)
        let countOperand = p.pointee.operandCount > 1 ? p.pointee.o1 : Operand()
        let rawCount = shiftCount(p, countOperand: countOperand) & (size == 8 ? 63 : 31)
        switch p.pointee.op {
        case .rol, .ror:
            let n = Int(rawCount % bits)
            tracker.shift(location(dst, size: size), bits: p.pointee.op == .rol ? n : -n, fill: .rotate)
            if countOperand.kind == .gpr { tracker.combine(into: location(dst, size: size), from: shiftCountLocation(countOperand)) }
        default:
            tracker.derive(to: location(dst, size: size), from: location(dst, size: size), shiftCountLocation(countOperand))
        }
        let address = dst.kind == .memory ? effectiveAddress(dst) : 0
        let a: UInt64
        if dst.kind == .memory {
            guard let v = memory.load(address, size: UInt64(size)) else { return memoryFault(p) }
            a = v
        } else {
            a = readRegister(dst)
        }
        if rawCount == 0 {
            if dst.kind != .memory { writeRegister(dst, a) }
            return .next
        }
        let op = p.pointee.op
        // Rotates write CF and OF only; rcl/rcr also rotate CF into the value.
        if op == .rcl || op == .rcr { tracker.combine(into: location(dst, size: size), from: flagsLocation) }
        tracker.combine(into: flagsLocation, from: location(dst, size: size))
        loadDependency(flagsLocation, dst)
        let c = cpu
        c.pointee.materializeFlags()
        var flags = c.pointee.flagsStored
        var r: UInt64
        switch op {
        case .rol, .ror:
            let n = rawCount % bits
            if op == .rol {
                r = n == 0 ? a : ((a << n) | (a >> (bits - n))) & m
                let cf = r & 1
                flags = (flags & ~RFlags.carry) | cf
                let of = ((r & sign) != 0) != (cf != 0)
                flags = of ? flags | RFlags.overflow : flags & ~RFlags.overflow
            } else {
                r = n == 0 ? a : ((a >> n) | (a << (bits - n))) & m
                let cf: UInt64 = r & sign != 0 ? 1 : 0
                flags = (flags & ~RFlags.carry) | cf
                let of = ((r & sign) != 0) != ((r & (sign >> 1)) != 0)
                flags = of ? flags | RFlags.overflow : flags & ~RFlags.overflow
            }
        default:
            // Rotate through carry: a (bits+1)-bit rotation, done bit by bit (rare).
            let n = size >= 4 ? rawCount : rawCount % (bits + 1)
            var cf = flags & RFlags.carry
            r = a
            if op == .rcl {
                for _ in 0..<n {
                    let out: UInt64 = r & sign != 0 ? 1 : 0
                    r = ((r << 1) | cf) & m
                    cf = out
                }
                let of = ((r & sign) != 0) != (cf != 0)
                flags = of ? flags | RFlags.overflow : flags & ~RFlags.overflow
            } else {
                let of = ((a & sign) != 0) != (cf != 0)
                for _ in 0..<n {
                    let out = r & 1
                    r = (r >> 1) | (cf != 0 ? sign : 0)
                    cf = out
                }
                flags = of ? flags | RFlags.overflow : flags & ~RFlags.overflow
            }
            flags = (flags & ~RFlags.carry) | cf
        }
        if dst.kind == .memory {
            guard memory.store(address, size: UInt64(size), r) else { return memoryFault(p) }
        } else {
            writeRegister(dst, r)
        }
        c.pointee.flagsStored = flags
        return .next
    }

    func execDoubleShift(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let dst = p.pointee.o0
        let src = p.pointee.o1
        let bits = UInt64(size) &* 8
        let m = Self.mask(size)
        let sign = UInt64(1) << (bits - 1)
        let count = shiftCount(p, countOperand: p.pointee.o2) & (size == 8 ? 63 : 31)
        let address = dst.kind == .memory ? effectiveAddress(dst) : 0
        let a: UInt64
        if dst.kind == .memory {
            guard let v = memory.load(address, size: UInt64(size)) else { return memoryFault(p) }
            a = v
        } else {
            a = readRegister(dst)
        }
        let b = readRegister(src)
        tracker.derive(to: location(dst, size: size), from: location(dst, size: size), location(src, size: size))
        tracker.combine(into: location(dst, size: size), from: shiftCountLocation(p.pointee.o2))
        if count == 0 {
            if dst.kind != .memory { writeRegister(dst, a) }
            return .next
        }
        tracker.flags(from: location(dst, size: size))
        loadDependency(flagsLocation, dst)
        let r: UInt64
        let carry: UInt64
        if p.pointee.op == .shld {
            if count <= bits {
                r = ((a << count) | (count == bits ? b : b >> (bits - count))) & m
                carry = (a >> (bits - count)) & 1
            } else if cpuid.isAMD {
                // 16-bit operand with count 17..31: undefined by the SDM. AMD parts (measured
                // on an EPYC) rotate the source left by count - 16 and clear CF.
                r = ((b << (count - 16)) | (b >> (32 - count))) & m
                carry = 0
            } else {
                // Intel parts shift the 32-bit concatenation.
                let wide = (a << 16) | b
                r = (wide << (count - 16)) >> 16 & m
                carry = (wide >> (32 - (count - 16))) & 1
            }
        } else {
            if count <= bits {
                r = ((a >> count) | (count == bits ? b : b << (bits - count))) & m
                carry = (a >> (count - 1)) & 1
            } else if cpuid.isAMD {
                // AMD: the source rotated right by count - 16, CF clear (see shld).
                r = ((b >> (count - 16)) | (b << (32 - count))) & m
                carry = 0
            } else {
                let wide = (b << 16) | a
                r = (wide >> (count - 16)) & m
                carry = (wide >> (count - 17)) & 1
            }
        }
        let overflow = ((r ^ a) & sign) != 0
        if dst.kind == .memory {
            guard memory.store(address, size: UInt64(size), r) else { return memoryFault(p) }
        } else {
            writeRegister(dst, r)
        }
        cpu.pointee.setLazyFlags(.explicitCarryOverflow, bits: UInt8(bits), result: r, source1: 0, source2: 0,
                                 aux: carry | (overflow ? RFlags.overflow : 0))
        return .next
    }

    /// BMI2 flagless shifts: shlx/shrx/sarx dst, src, count-register; rorx dst, src, imm8.
    func execShiftBMI2(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let bits = UInt64(size) &* 8
        let m = Self.mask(size)
        guard let a = read(p.pointee.o1, size: size) else { return memoryFault(p) }
        let countSource = p.pointee.o2
        let count = (countSource.kind == .immediate ? countSource.value : gprs[Int(countSource.reg)]) & (bits - 1)
        loadDerive(to: location(p.pointee.o0, size: size), from: location(p.pointee.o1, size: size), location(countSource, size: size),
                   address: p.pointee.o1)
        let r: UInt64
        switch p.pointee.op {
        case .shlx: r = (a << count) & m
        case .shrx: r = a >> count
        case .sarx: r = UInt64(bitPattern: Int64(bitPattern: Self.signExtend(a, size)) >> Int64(count)) & m
        default: r = count == 0 ? a : ((a >> count) | (a << (bits - count))) & m
        }
        writeGPR(p.pointee.o0.reg, size: size, r)
        return .next
    }
}
