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
        let step = cpu.directionFlag ? 0 &- size : size
        let m = Self.mask(p.pointee.size)
        var count = repeated ? gprs[1] & addressMask : 1
        if count == 0 { return .next }
        if repeated && !Tracker.tracksData && !address32 && step == size && (op == .movs || op == .stos) {
            count = bulkForward(op, size: size, count: count)
            if count == 0 { return .next }
        }
        // Fast path: forward rep stos/movs of whole pages' worth goes element by element
        // but without re-reading prefixes; compares stop on the repe/repne condition.
        while count > 0 {
            let rsi = gprs[6] & addressMask, rdi = gprs[7] & addressMask
            switch op {
            case .movs:
                guard let v = memory.load(rsi, size: size) else { return memoryFault(p) }
                tracker.copy(to: .memory(rdi, size: UInt8(size)), from: .memory(rsi, size: UInt8(size)))
                tracker.addressDependency(of: .memory(rdi, size: UInt8(size)), base: 6, index: -1)
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
                tracker.addressDependency(of: gprLocation(0, size: UInt8(size)), base: 6, index: -1)
                writeGPR(0, size: UInt8(size), v)
                gprs[6] = (rsi &+ step) & addressMask
            case .scas:
                guard let v = memory.load(rdi, size: size) else { return memoryFault(p) }
                tracker.derive(to: flagsLocation, from: gprLocation(0, size: UInt8(size)), .memory(rdi, size: UInt8(size)))
                tracker.addressDependency(of: flagsLocation, base: 7, index: -1)
                _ = aluCompute(.cmp, gprs[0] & m, v, size: UInt8(size))
                gprs[7] = (rdi &+ step) & addressMask
            default: // cmps: [rsi] - [rdi]
                guard let a = memory.load(rsi, size: size), let b = memory.load(rdi, size: size) else { return memoryFault(p) }
                tracker.derive(to: flagsLocation, from: .memory(rsi, size: UInt8(size)), .memory(rdi, size: UInt8(size)))
                tracker.addressDependency(of: flagsLocation, base: 6, index: 7)
                _ = aluCompute(.cmp, a, b, size: UInt8(size))
                gprs[6] = (rsi &+ step) & addressMask
                gprs[7] = (rdi &+ step) & addressMask
            }
            count &-= 1
            if repeated {
                gprs[1] = address32 ? count : count
                if op == .scas || op == .cmps {
                    // repe/repne stop on ZF: the compared bytes decide how far it runs.
                    tracker.flagsReachControl(at: cpu.pointee.rip)
                    let equal = cpu.condition(4)
                    if prefixes & PrefixBits.rep != 0 && !equal { break }
                    if prefixes & PrefixBits.repne != 0 && equal { break }
                }
            }
        }
        return .next
    }

    /// Forward rep movs/stos a page-bounded chunk at a time through host pointers.
    /// Returns the elements left for the element loop (a chunk that would cross a page,
    /// overlap its source, or fault is left to it, so faults and overlapping copies keep
    /// exact semantics). Updates RSI/RDI/RCX as the CPU would.
    func bulkForward(_ op: Opcode, size: UInt64, count initialCount: UInt64) -> UInt64 {
        var count = initialCount
        let pageSize = GuestMemory.pageSize
        while count > 0 {
            let rdi = gprs[7]
            var chunkBytes = min(count &* size, pageSize - (rdi & (pageSize - 1)))
            if op == .movs {
                let rsi = gprs[6]
                chunkBytes = min(chunkBytes, pageSize - (rsi & (pageSize - 1)))
                chunkBytes -= chunkBytes % size
                // Overlap with the destination ahead of the source replicates bytes: slow path.
                if chunkBytes == 0 || (rdi > rsi && rdi &- rsi < chunkBytes) { return count }
                guard let source = memory.readHost(rsi, chunkBytes), let destination = memory.writeHost(rdi, chunkBytes) else { return count }
                destination.copyMemory(from: source, byteCount: Int(chunkBytes))
                gprs[6] = rsi &+ chunkBytes
            } else {
                chunkBytes -= chunkBytes % size
                if chunkBytes == 0 { return count }
                guard let destination = memory.writeHost(rdi, chunkBytes) else { return count }
                let value = gprs[0]
                switch size {
                case 1: destination.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: value), count: Int(chunkBytes))
                case 2: for i in 0..<Int(chunkBytes / 2) { destination.storeBytes(of: UInt16(truncatingIfNeeded: value), toByteOffset: i * 2, as: UInt16.self) }
                case 4: for i in 0..<Int(chunkBytes / 4) { destination.storeBytes(of: UInt32(truncatingIfNeeded: value), toByteOffset: i * 4, as: UInt32.self) }
                default: for i in 0..<Int(chunkBytes / 8) { destination.storeBytes(of: value, toByteOffset: i * 8, as: UInt64.self) }
                }
            }
            gprs[7] = rdi &+ chunkBytes
            count &-= chunkBytes / size
            gprs[1] = count
        }
        return 0
    }
}
