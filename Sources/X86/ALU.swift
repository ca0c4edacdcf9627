// Integer arithmetic and logic: add/adc/sub/sbb/cmp/and/or/xor/test, inc/dec/neg/not,
// xadd/cmpxchg, and the BMI1/BMI2 register operations (SDM Vol. 2).

enum ALUKind { case add, adc, sub, sbb, cmp, and, or, xor, test }

extension Machine {
    /// Computes `a op b`, records the lazy flags and says whether the result is stored.
    @inline(__always)
    func aluCompute(_ kind: ALUKind, _ a: UInt64, _ b: UInt64, size: UInt8) -> UInt64 {
        let m = Self.mask(size)
        let bits = size &* 8
        let c = cpu
        switch kind {
        case .add:
            let r = (a &+ b) & m
            c.pointee.setLazyFlags(.add, bits: bits, result: r, source1: a, source2: b)
            return r
        case .adc:
            let carry: UInt64 = c.carryFlag ? 1 : 0
            let r = (a &+ b &+ carry) & m
            c.pointee.setLazyFlags(.adc, bits: bits, result: r, source1: a, source2: b, aux: carry)
            return r
        case .sub, .cmp:
            let r = (a &- b) & m
            c.pointee.setLazyFlags(.sub, bits: bits, result: r, source1: a, source2: b)
            return r
        case .sbb:
            let borrow: UInt64 = c.carryFlag ? 1 : 0
            let r = (a &- b &- borrow) & m
            c.pointee.setLazyFlags(.sbb, bits: bits, result: r, source1: a, source2: b, aux: borrow)
            return r
        case .and, .test:
            let r = a & b
            c.pointee.setLazyFlags(.logic, bits: bits, result: r, source1: 0, source2: 0)
            return r
        case .or:
            let r = a | b
            c.pointee.setLazyFlags(.logic, bits: bits, result: r, source1: 0, source2: 0)
            return r
        case .xor:
            let r = a ^ b
            c.pointee.setLazyFlags(.logic, bits: bits, result: r, source1: 0, source2: 0)
            return r
        }
    }

    /// Bytes of `destination` that an `and` (immediate byte 0x00) or an `or` (0xFF) with
    /// the constant `immediate` forced to a constant, whatever they held: cleared, one
    /// run at a time (and eax, 0x3f leaves byte 0 alone and clears bytes 1-3).
    @inline(__always)
    func constantBytes(_ destination: DataLocation, _ kind: ALUKind, _ immediate: UInt64) {
        guard Tracker.tracksData else { return }
        let forced: UInt64 = kind == .and ? 0 : 0xFF
        var k = 0
        let n = Int(destination.size)
        while k < n {
            guard (immediate >> (8 * UInt64(k))) & 0xFF == forced else { k += 1; continue }
            var end = k + 1
            while end < n && (immediate >> (8 * UInt64(end))) & 0xFF == forced { end += 1 }
            tracker.clear(DataLocation(kind: destination.kind, size: UInt8(end - k), offset: destination.offset &+ UInt64(k)))
            k = end
        }
    }

    // One entry point per operation so that `execALU` is inlined with a constant kind
    // (the optimizer does not specialize a shared body on its enum argument).
    @inline(never) func execAdd(_ p: UnsafePointer<Instruction>) -> ExecStatus { execALU(p, .add) }
    @inline(never) func execSub(_ p: UnsafePointer<Instruction>) -> ExecStatus { execALU(p, .sub) }
    @inline(never) func execCmp(_ p: UnsafePointer<Instruction>) -> ExecStatus { execALU(p, .cmp) }
    @inline(never) func execAnd(_ p: UnsafePointer<Instruction>) -> ExecStatus { execALU(p, .and) }
    @inline(never) func execOr(_ p: UnsafePointer<Instruction>) -> ExecStatus { execALU(p, .or) }
    @inline(never) func execXor(_ p: UnsafePointer<Instruction>) -> ExecStatus { execALU(p, .xor) }
    @inline(never) func execTest(_ p: UnsafePointer<Instruction>) -> ExecStatus { execALU(p, .test) }
    @inline(never) func execAdc(_ p: UnsafePointer<Instruction>) -> ExecStatus { execALU(p, .adc) }
    @inline(never) func execSbb(_ p: UnsafePointer<Instruction>) -> ExecStatus { execALU(p, .sbb) }

    @inline(__always)
    func execALU(_ p: UnsafePointer<Instruction>, _ kind: ALUKind) -> ExecStatus {
        let size = p.pointee.size
        let dst = p.pointee.o0
        let src = p.pointee.o1
        let storesResult = kind != .cmp && kind != .test
        // Data flow: compares only reach the flags; xor/sub of a register with itself is
        // the zeroing idiom and clears the destination; adc/sbb also read CF. A memory
        // source (or a compared memory destination) is a load through its address.
        if kind == .cmp || kind == .test {
            tracker.derive(to: flagsLocation, from: location(dst, size: size), location(src, size: size))
            loadDependency(flagsLocation, dst)
            loadDependency(flagsLocation, src)
        } else if (kind == .xor || kind == .sub) && dst.kind == .gpr && src.kind == .gpr && dst.reg == src.reg {
            tracker.clear(location(dst, size: size))
            tracker.flags(from: .constant)
        } else {
            if kind == .and || kind == .or || kind == .xor {
                tracker.combineBytewise(into: location(dst, size: size), from: location(src, size: size))
                if src.kind == .immediate && kind != .xor { constantBytes(location(dst, size: size), kind, src.value) }
            } else {
                tracker.combine(into: location(dst, size: size), from: location(src, size: size))
            }
            if kind == .adc || kind == .sbb { tracker.combine(into: location(dst, size: size), from: flagsLocation) }
            loadDependency(location(dst, size: size), src)
            tracker.flags(from: location(dst, size: size))
            loadDependency(flagsLocation, dst)
        }
        if dst.kind == .gpr {
            guard let b = read(src, size: size) else { return memoryFault(p) }
            let a = gprs[Int(dst.reg)] & Self.mask(size)
            let r = aluCompute(kind, a, b, size: size)
            if storesResult { writeGPR(dst.reg, size: size, r) }
            return .next
        }
        if dst.kind == .memory {
            guard let b = read(src, size: size) else { return memoryFault(p) }
            let address = effectiveAddress(dst)
            guard let a = memory.load(address, size: UInt64(size)) else { return memoryFault(p) }
            let r = aluCompute(kind, a, b, size: size)
            if storesResult {
                guard memory.store(address, size: UInt64(size), r) else { return memoryFault(p) }
            }
            return .next
        }
        guard let b = read(src, size: size), let a = read(dst, size: size) else { return memoryFault(p) }
        let r = aluCompute(kind, a, b, size: size)
        if storesResult { _ = write(dst, size: size, r) }
        return .next
    }

    func execIncDec(_ p: UnsafePointer<Instruction>, increment: Bool) -> ExecStatus {
        let size = p.pointee.size
        let dst = p.pointee.o0
        // The value keeps its labels; CF survives, so the flags combine.
        tracker.combine(into: location(dst, size: size), from: .constant)
        tracker.combine(into: flagsLocation, from: location(dst, size: size))
        loadDependency(flagsLocation, dst)
        let address = dst.kind == .memory ? effectiveAddress(dst) : 0
        let a: UInt64
        if dst.kind == .memory {
            guard let v = memory.load(address, size: UInt64(size)) else { return memoryFault(p) }
            a = v
        } else {
            a = readRegister(dst)
        }
        // INC/DEC leave CF unchanged (SDM Vol. 2, INC).
        let carry: UInt64 = cpu.carryFlag ? 1 : 0
        let r = (increment ? a &+ 1 : a &- 1) & Self.mask(size)
        if dst.kind == .memory {
            guard memory.store(address, size: UInt64(size), r) else { return memoryFault(p) }
        } else {
            writeRegister(dst, r)
        }
        cpu.pointee.setLazyFlags(increment ? .inc : .dec, bits: size &* 8, result: r, source1: a, source2: 1, aux: carry)
        return .next
    }

    func execNot(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let dst = p.pointee.o0
        tracker.combine(into: location(dst, size: size), from: .constant)
        guard let a = read(dst, size: size) else { return memoryFault(p) }
        guard write(dst, size: size, ~a & Self.mask(size)) else { return memoryFault(p) }
        return .next
    }

    func execNeg(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let dst = p.pointee.o0
        tracker.combine(into: location(dst, size: size), from: .constant)
        tracker.flags(from: location(dst, size: size))
        loadDependency(flagsLocation, dst)
        guard let a = read(dst, size: size) else { return memoryFault(p) }
        let r = (0 &- a) & Self.mask(size)
        guard write(dst, size: size, r) else { return memoryFault(p) }
        // NEG sets flags as 0 - a: CF = (a != 0) (SDM Vol. 2, NEG).
        cpu.pointee.setLazyFlags(.sub, bits: size &* 8, result: r, source1: 0, source2: a)
        return .next
    }

    func execXadd(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let dst = p.pointee.o0, src = p.pointee.o1
        guard let a = read(dst, size: size) else { return memoryFault(p) }
        let b = readRegister(src)
        // src <- old dst, dst <- dst + src. The memory form stages the old value (which
        // depends on the address) in the scratch bytes, in case src is an address register.
        if dst.kind == .memory {
            let scratch = Self.registerLocation(RegisterFile.scratch, size: size)
            tracker.copy(to: scratch, from: location(dst, size: size))
            loadDependency(scratch, dst)
            tracker.combine(into: location(dst, size: size), from: location(src, size: size))
            tracker.flags(from: location(dst, size: size))
            loadDependency(flagsLocation, dst)
            tracker.copy(to: location(src, size: size), from: scratch)
            tracker.clear(scratch)
        } else {
            tracker.exchange(location(dst, size: size), location(src, size: size))
            tracker.combine(into: location(dst, size: size), from: location(src, size: size))
            tracker.flags(from: location(dst, size: size))
        }
        let r = (a &+ b) & Self.mask(size)
        // SDM order: SRC <- DEST, then DEST <- sum, so `xadd reg, reg` with one register
        // keeps the sum. The memory form stores first so a faulting store changes nothing.
        if dst.kind == .memory {
            guard write(dst, size: size, r) else { return memoryFault(p) }
            writeRegister(src, a)
        } else {
            writeRegister(src, a)
            _ = write(dst, size: size, r)
        }
        cpu.pointee.setLazyFlags(.add, bits: size &* 8, result: r, source1: a, source2: b)
        return .next
    }

    func execCmpxchg(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let dst = p.pointee.o0, src = p.pointee.o1
        guard let d = read(dst, size: size) else { return memoryFault(p) }
        let m = Self.mask(size)
        let accumulator = gprs[0] & m
        let r = (accumulator &- d) & m
        tracker.derive(to: flagsLocation, from: gprLocation(0, size: size), location(dst, size: size))
        loadDependency(flagsLocation, dst)
        if accumulator == d {
            tracker.copy(to: location(dst, size: size), from: location(src, size: size))
            guard write(dst, size: size, readRegister(src)) else { return memoryFault(p) }
        } else {
            // The processor writes the destination back even when the compare fails
            // (SDM Vol. 2, CMPXCHG), so a read-only page faults either way.
            if dst.kind == .memory { guard write(dst, size: size, d) else { return memoryFault(p) } }
            loadCopy(to: gprLocation(0, size: size), from: location(dst, size: size), address: dst)
            writeGPR(0, size: size, d)
        }
        cpu.pointee.setLazyFlags(.sub, bits: size &* 8, result: r, source1: accumulator, source2: d)
        return .next
    }

    /// cmpxchg8b / cmpxchg16b: EDX:EAX or RDX:RAX against memory; only ZF changes.
    func execCmpxchgDouble(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let dst = p.pointee.o0
        let address = effectiveAddress(dst)
        let wide = p.pointee.op == .cmpxchg16b
        let half: UInt64 = wide ? 8 : 4
        if wide && address & 15 != 0 {
            // cmpxchg16b requires 16-byte alignment (#GP -> SIGSEGV).
            return signalFault(p, GuestSignal.sigsegv, address: 0)
        }
        guard let lo = memory.load(address, size: half), let hi = memory.load(address &+ half, size: half) else {
            return memoryFault(p)
        }
        let m = wide ? UInt64.max : 0xFFFF_FFFF
        cpu.pointee.materializeFlags()
        // Only ZF changes: it depends on the memory and on rDX:rAX.
        tracker.combine(into: flagsLocation, from: .memory(address, size: UInt8(half * 2)))
        tracker.combine(into: flagsLocation, from: gprLocation(0, size: UInt8(half)))
        tracker.combine(into: flagsLocation, from: gprLocation(2, size: UInt8(half)))
        loadDependency(flagsLocation, dst)
        if lo == gprs[0] & m && hi == gprs[2] & m {
            tracker.copy(to: .memory(address, size: UInt8(half)), from: gprLocation(3, size: UInt8(half)))
            tracker.copy(to: .memory(address &+ half, size: UInt8(half)), from: gprLocation(1, size: UInt8(half)))
            guard memory.probeWrite(address, half * 2),
                  memory.store(address, size: half, gprs[3] & m),
                  memory.store(address &+ half, size: half, gprs[1] & m) else { return memoryFault(p) }
            cpu.pointee.flagsStored |= RFlags.zero
        } else {
            guard memory.probeWrite(address, half * 2) else { return memoryFault(p) }
            // Staged: RAX or RDX may be the address register.
            let scratch = Self.registerLocation(RegisterFile.scratch, size: UInt8(half * 2))
            tracker.copy(to: scratch, from: .memory(address, size: UInt8(half * 2)))
            loadDependency(scratch, dst)
            tracker.copy(to: gprLocation(0, size: UInt8(half)), from: Self.registerLocation(RegisterFile.scratch, size: UInt8(half)))
            tracker.copy(to: gprLocation(2, size: UInt8(half)), from: Self.registerLocation(RegisterFile.scratch + half, size: UInt8(half)))
            tracker.clear(scratch)
            gprs[0] = lo
            gprs[2] = hi
            cpu.pointee.flagsStored &= ~RFlags.zero
        }
        return .next
    }

    /// BMI1/BMI2 and ADX register operations.
    func execBMI(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let bits = UInt64(size) &* 8
        let m = Self.mask(size)
        let dst = p.pointee.o0
        let op = p.pointee.op
        switch op {
        case .andn, .bextr, .bzhi, .pdep, .pext:
            guard let a = read(p.pointee.o1, size: size), let b = read(p.pointee.o2, size: size) else { return memoryFault(p) }
            loadDerive(to: location(dst, size: size), from: location(p.pointee.o1, size: size), location(p.pointee.o2, size: size),
                       address: p.pointee.o1.kind == .memory ? p.pointee.o1 : p.pointee.o2)
            if op == .andn || op == .bextr || op == .bzhi { tracker.flags(from: location(dst, size: size)) }
            var r: UInt64 = 0
            switch op {
            case .andn:
                r = ~a & b & m
                cpu.pointee.setLazyFlags(.logic, bits: UInt8(bits), result: r, source1: 0, source2: 0)
            case .bextr:
                let start = b & 0xFF, length = (b >> 8) & 0xFF
                if start < bits {
                    r = a >> start
                    if length < 64 { r &= (UInt64(1) << length) &- 1 }
                }
                r &= m
                cpu.pointee.setLazyFlags(.logic, bits: UInt8(bits), result: r, source1: 0, source2: 0)
            case .bzhi:
                let n = b & 0xFF
                r = n < bits ? a & ((UInt64(1) << n) &- 1) : a
                cpu.pointee.setLazyFlags(.explicitCarryOverflow, bits: UInt8(bits), result: r, source1: 0, source2: 0,
                                         aux: n > bits &- 1 ? RFlags.carry : 0)
            case .pdep:
                var maskBits = b, k: UInt64 = 0
                while maskBits != 0 {
                    let low = maskBits & (0 &- maskBits)
                    if (a >> k) & 1 != 0 { r |= low }
                    k &+= 1
                    maskBits &= maskBits &- 1
                }
            default: // pext
                var maskBits = b, k: UInt64 = 0
                while maskBits != 0 {
                    let low = maskBits & (0 &- maskBits)
                    if a & low != 0 { r |= UInt64(1) << k }
                    k &+= 1
                    maskBits &= maskBits &- 1
                }
            }
            writeGPR(dst.reg, size: size, r)
        case .blsi, .blsmsk, .blsr:
            guard let a = read(p.pointee.o1, size: size) else { return memoryFault(p) }
            loadDerive(to: location(dst, size: size), from: location(p.pointee.o1, size: size), .constant, address: p.pointee.o1)
            tracker.flags(from: location(dst, size: size))
            let r: UInt64
            let carry: UInt64
            switch op {
            case .blsi: r = (0 &- a) & a & m; carry = a != 0 ? 1 : 0
            case .blsmsk: r = ((a &- 1) ^ a) & m; carry = a == 0 ? 1 : 0
            default: r = ((a &- 1) & a) & m; carry = a == 0 ? 1 : 0
            }
            writeGPR(dst.reg, size: size, r)
            cpu.pointee.setLazyFlags(.explicitCarryOverflow, bits: UInt8(bits), result: r, source1: 0, source2: 0, aux: carry)
        case .mulx:
            // mulx high, low, src: RDX * src, no flags (SDM Vol. 2, MULX).
            guard let b = read(p.pointee.o2, size: size) else { return memoryFault(p) }
            let a = gprs[2] & m
            // Both halves of RDX * src; the low half first, in case it overwrites a source
            // (its labels then already hold both).
            loadDerive(to: location(p.pointee.o1, size: size), from: gprLocation(2, size: size), location(p.pointee.o2, size: size),
                       address: p.pointee.o2)
            loadDerive(to: location(dst, size: size), from: gprLocation(2, size: size), location(p.pointee.o2, size: size),
                       address: p.pointee.o2)
            let high: UInt64, low: UInt64
            if size == 8 {
                (high, low) = a.multipliedFullWidth(by: b)
            } else {
                let product = a &* b
                high = product >> 32
                low = product & 0xFFFF_FFFF
            }
            writeGPR(p.pointee.o1.reg, size: size, low)
            writeGPR(dst.reg, size: size, high)
        case .adcx, .adox:
            guard let b = read(p.pointee.o1, size: size) else { return memoryFault(p) }
            // Reads CF (adcx) or OF (adox) and writes only that flag.
            tracker.combine(into: location(dst, size: size), from: location(p.pointee.o1, size: size))
            tracker.combine(into: location(dst, size: size), from: flagsLocation)
            loadDependency(location(dst, size: size), p.pointee.o1)
            tracker.combine(into: flagsLocation, from: location(dst, size: size))
            let a = gprs[Int(dst.reg)] & m
            cpu.pointee.materializeFlags()
            let flag = op == .adcx ? RFlags.carry : RFlags.overflow
            let carryIn: UInt64 = cpu.pointee.flagsStored & flag != 0 ? 1 : 0
            let r = (a &+ b &+ carryIn) & m
            let carryOut = carryIn != 0 ? r <= a : r < a
            writeGPR(dst.reg, size: size, r)
            if carryOut { cpu.pointee.flagsStored |= flag } else { cpu.pointee.flagsStored &= ~flag }
        default:
            return unsupported(p)
        }
        return .next
    }
}
