// String instructions movs/stos/lods/scas/cmps with rep/repe/repne and the direction
// flag (SDM Vol. 2, "REP/REPE/REPZ/REPNE/REPNZ"). A fault in the middle of a rep leaves
// RSI/RDI/RCX at the faulting element, as the CPU does, so the instruction restarts.

extension Machine {
    func execString(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = UInt64(p.pointee.size)
        let op = p.pointee.op
        let prefixes = p.pointee.prefixes
        let repeated = prefixes & (PrefixBits.rep | PrefixBits.repne) != 0
        let address32 = p.pointee.o0.address32 || p.pointee.o1.address32
        let addressMask: UInt64 = address32 ? 0xFFFF_FFFF : .max
        let step = cpu.pointee.directionFlag ? 0 &- size : size
        let m = Self.mask(p.pointee.size)
        var count = repeated ? gprs[1] & addressMask : 1
        if count == 0 { return .next }
        // Fast path: forward rep stos/movs of whole pages' worth goes element by element
        // but without re-reading prefixes; compares stop on the repe/repne condition.
        while count > 0 {
            let rsi = gprs[6] & addressMask, rdi = gprs[7] & addressMask
            switch op {
            case .movs:
                guard let v = memory.load(rsi, size: size) else { return memoryFault(p) }
                tracker.copy(to: .memory(rdi, size: UInt8(size)), from: .memory(rsi, size: UInt8(size)))
                guard memory.store(rdi, size: size, v) else { return memoryFault(p) }
                gprs[6] = (rsi &+ step) & addressMask
                gprs[7] = (rdi &+ step) & addressMask
            case .stos:
                tracker.copy(to: .memory(rdi, size: UInt8(size)), from: gprLocation(0, size: UInt8(size)))
                guard memory.store(rdi, size: size, gprs[0] & m) else { return memoryFault(p) }
                gprs[7] = (rdi &+ step) & addressMask
            case .lods:
                guard let v = memory.load(rsi, size: size) else { return memoryFault(p) }
                tracker.copy(to: gprLocation(0, size: UInt8(size)), from: .memory(rsi, size: UInt8(size)))
                writeGPR(0, size: UInt8(size), v)
                gprs[6] = (rsi &+ step) & addressMask
            case .scas:
                guard let v = memory.load(rdi, size: size) else { return memoryFault(p) }
                tracker.flags(from: .memory(rdi, size: UInt8(size)))
                _ = aluCompute(.cmp, gprs[0] & m, v, size: UInt8(size))
                gprs[7] = (rdi &+ step) & addressMask
            default: // cmps: [rsi] - [rdi]
                guard let a = memory.load(rsi, size: size), let b = memory.load(rdi, size: size) else { return memoryFault(p) }
                tracker.flags(from: .memory(rsi, size: UInt8(size)))
                tracker.flags(from: .memory(rdi, size: UInt8(size)))
                _ = aluCompute(.cmp, a, b, size: UInt8(size))
                gprs[6] = (rsi &+ step) & addressMask
                gprs[7] = (rdi &+ step) & addressMask
            }
            count &-= 1
            if repeated {
                gprs[1] = address32 ? count : count
                if op == .scas || op == .cmps {
                    let equal = cpu.pointee.condition(4)
                    if prefixes & PrefixBits.rep != 0 && !equal { break }
                    if prefixes & PrefixBits.repne != 0 && equal { break }
                }
            }
        }
        return .next
    }
}
