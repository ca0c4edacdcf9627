// System-level instructions a user process executes: syscall, cpuid, xgetbv, the
// timestamp counter (handled as stops in Machine.execute), flag manipulation and
// FS/GS base access.

extension Machine {
    func execSyscall(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        // SYSCALL saves RIP in RCX and RFLAGS in R11 (SDM Vol. 2, SYSCALL); the kernel
        // returns with the same RCX/R11, so the caller only has to set RAX.
        // RAX will hold the kernel's result, which the replayer injects (and labels, if
        // the call returns data): the value it held goes.
        gprs[1] = cpu.pointee.rip
        gprs[11] = cpu.pointee.rflags
        tracker.clear(gprLocation(1))
        tracker.copy(to: gprLocation(11), from: flagsLocation)
        tracker.clear(gprLocation(0))
        return stop(.syscall, completed: true)
    }

    /// rdtsc / rdtscp: the caller sets EDX:EAX (and ECX) from the recording: constants.
    func execTimestamp(_ p: UnsafePointer<Instruction>, rdtscp: Bool) -> ExecStatus {
        tracker.clear(gprLocation(0))
        tracker.clear(gprLocation(2))
        if rdtscp { tracker.clear(gprLocation(1)) }
        return stop(.timestamp(rdtscp: rdtscp), completed: true)
    }

    func execCPUID(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let r = cpuid.lookup(leaf: UInt32(truncatingIfNeeded: gprs[0]), subleaf: UInt32(truncatingIfNeeded: gprs[1]))
        gprs[0] = UInt64(r.eax)
        gprs[3] = UInt64(r.ebx)
        gprs[1] = UInt64(r.ecx)
        gprs[2] = UInt64(r.edx)
        for n in [0, 1, 2, 3] { tracker.clear(gprLocation(n)) }
        return .next
    }

    /// xgetbv with ECX = 0 reports XCR0 (`Machine.xcr0`: the recording machine's value,
    /// since a recorded program saw the real one; x87 + SSE only by default).
    func execXgetbv(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        guard gprs[1] & 0xFFFF_FFFF == 0 else { return signalFault(p, GuestSignal.sigsegv, address: 0) }
        gprs[0] = xcr0 & 0xFFFF_FFFF
        gprs[2] = xcr0 >> 32
        tracker.clear(gprLocation(0))
        tracker.clear(gprLocation(2))
        return .next
    }

    func execFlagOp(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let c = cpu
        // One flag becomes a constant; the others keep their labels.
        tracker.combine(into: flagsLocation, from: .constant)
        switch p.pointee.op {
        case .cld: c.pointee.flagsStored &= ~RFlags.direction
        case .std: c.pointee.flagsStored |= RFlags.direction
        default:
            c.pointee.materializeFlags()
            switch p.pointee.op {
            case .clc: c.pointee.flagsStored &= ~RFlags.carry
            case .stc: c.pointee.flagsStored |= RFlags.carry
            default: c.pointee.flagsStored ^= RFlags.carry
            }
        }
        return .next
    }

    func execPushf(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        // RF and VM read as 0 in the pushed image (SDM Vol. 2, PUSHF).
        tracker.copy(to: .memory(gprs[4] &- UInt64(size), size: size), from: flagsLocation)
        guard push(cpu.pointee.rflags & Self.mask(size), size: size) else { return memoryFault(p) }
        return .next
    }

    func execPopf(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        tracker.copy(to: flagsLocation, from: .memory(gprs[4], size: size))
        tracker.addressDependency(of: flagsLocation, base: 4, index: -1)
        guard let v = pop(size: size) else { return memoryFault(p) }
        let old = cpu.pointee.rflags
        let keep = size == 8 ? 0 : old & ~Self.mask(size)
        cpu.pointee.rflags = keep | v
        return .next
    }

    func execLahf(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let f = cpu.pointee.rflags & 0xD5 | 0x2
        tracker.copy(to: Self.registerLocation(RegisterFile.gpr(0) + 1, size: 1), from: flagsLocation)
        gprs[0] = (gprs[0] & ~0xFF00) | (f << 8)
        return .next
    }

    func execSahf(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let c = cpu
        // SF ZF AF PF CF from AH; OF stays, so the flags combine.
        tracker.combine(into: flagsLocation, from: Self.registerLocation(RegisterFile.gpr(0) + 1, size: 1))
        c.pointee.materializeFlags()
        let ah = (gprs[0] >> 8) & 0xD5
        c.pointee.flagsStored = (c.pointee.flagsStored & ~UInt64(0xD5)) | ah
        return .next
    }

    /// rdfsbase/wrfsbase & co. (FSGSBASE; Linux enables it for user space on 5.9+).
    func execSegmentBase(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let o = p.pointee.o0
        let fs = Self.registerLocation(RegisterFile.fsBase, size: 8), gs = Self.registerLocation(RegisterFile.gsBase, size: 8)
        switch p.pointee.op {
        case .rdfsbase:
            tracker.copy(to: location(o, size: o.size), from: fs)
            writeRegister(o, cpu.pointee.fsBase)
        case .rdgsbase:
            tracker.copy(to: location(o, size: o.size), from: gs)
            writeRegister(o, cpu.pointee.gsBase)
        case .wrfsbase:
            tracker.copy(to: fs, from: location(o, size: o.size))
            cpu.pointee.fsBase = readRegister(o)
        default:
            tracker.copy(to: gs, from: location(o, size: o.size))
            cpu.pointee.gsBase = readRegister(o)
        }
        return .next
    }
}
