// Branches, calls and returns (SDM Vol. 2, Jcc/JMP/CALL/RET/LOOP). Relative targets were
// resolved to absolute addresses by the decoder.

extension Machine {
    @inline(__always)
    func execJcc(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        tracker.flagsReachControl(at: cpu.pointee.rip)
        if cpu.condition(p.pointee.condition) {
            cpu.pointee.rip = p.pointee.o0.value
        }
        return .next
    }

    @inline(__always)
    func execJmp(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let o = p.pointee.o0
        if o.kind == .immediate {
            cpu.pointee.rip = o.value
            return .next
        }
        guard let target = read(o, size: 8) else { return memoryFault(p) }
        tracker.controlTransfer(from: location(o, size: 8), target: target, instruction: cpu.pointee.rip &- UInt64(p.pointee.length))
        cpu.pointee.rip = target
        return .next
    }

    @inline(__always)
    func execCall(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let o = p.pointee.o0
        let target: UInt64
        if o.kind == .immediate {
            target = o.value
        } else {
            guard let t = read(o, size: 8) else { return memoryFault(p) }
            tracker.controlTransfer(from: location(o, size: 8), target: t, instruction: cpu.pointee.rip &- UInt64(p.pointee.length))
            target = t
        }
        tracker.clear(.memory(gprs[4] &- 8, size: 8))
        guard push(cpu.pointee.rip) else { return memoryFault(p) }
        cpu.pointee.rip = target
        return .next
    }

    @inline(__always)
    func execRet(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let rsp = gprs[4]
        guard let target = memory.load(rsp, size: 8) else { return memoryFault(p) }
        tracker.controlTransfer(from: .memory(rsp, size: 8), target: target, instruction: cpu.pointee.rip &- UInt64(p.pointee.length))
        var release: UInt64 = 8
        if p.pointee.operandCount > 0 { release &+= p.pointee.o0.value & 0xFFFF }
        gprs[4] = rsp &+ release
        cpu.pointee.rip = target
        return .next
    }

    /// jrcxz/jecxz and loop/loope/loopne (counter in RCX, or ECX with a 67h prefix).
    func execLoopFamily(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let target = p.pointee.o0.value
        let counterMask: UInt64 = p.pointee.o0.address32 || p.pointee.op == .jecxz ? 0xFFFF_FFFF : .max
        // The branch tests the counter: its labels reach control through the flags byte
        // (see `DataFlowTracker.flagsReachControl`); loope/loopne also test ZF.
        let counter = gprLocation(1, size: counterMask == .max ? 8 : 4)
        if p.pointee.op != .jrcxz && p.pointee.op != .jecxz {
            // The decrement keeps the counter's labels (a 32-bit counter zero-extends).
            tracker.combine(into: counter, from: .constant)
        }
        tracker.combine(into: flagsLocation, from: counter)
        tracker.flagsReachControl(at: cpu.pointee.rip)
        switch p.pointee.op {
        case .jrcxz, .jecxz:
            if gprs[1] & counterMask == 0 { cpu.pointee.rip = target }
        default:
            let count = (gprs[1] &- 1) & counterMask
            if counterMask == .max { gprs[1] = count } else { gprs[1] = count }
            var taken = count != 0
            if p.pointee.op == .loope { taken = taken && cpu.condition(4) }
            if p.pointee.op == .loopne { taken = taken && cpu.condition(5) }
            if taken { cpu.pointee.rip = target }
        }
        return .next
    }
}
