// Decoded basic blocks, keyed by start address, with a direct-mapped jump cache in front
// so that finding the next block is one compare in the common case.

/// A decoded block: `count` instructions stored contiguously. The storage belongs to the
/// cache and is freed only at a block boundary (see `BlockCache.dropInvalidatedBlocks`).
struct DecodedBlock {
    var start: UInt64
    var end: UInt64
    var instructions: UnsafeMutablePointer<Instruction>
    var count: Int
}

/// Jump cache slot: start address and where its instructions are.
struct JumpCacheEntry {
    var start: UInt64
    var instructions: UnsafeMutablePointer<Instruction>?
    var count: Int
    static let empty = JumpCacheEntry(start: .max, instructions: nil, count: 0)
}

enum BlockLookup {
    case block(UnsafeMutablePointer<Instruction>, Int)
    case fetchFault(address: UInt64)
}

final class BlockCache {
    static let maxBlockInstructions = 64
    static let jumpCacheSize = 4096

    let decoder: Decoder
    private var blocks: [UInt64: DecodedBlock] = [:]
    private var blockStartsByPage: [UInt64: [UInt64]] = [:]
    private(set) var unsupported: [UInt64: UnsupportedInstruction] = [:]
    let jumpCache: UnsafeMutablePointer<JumpCacheEntry>
    /// Instructions decoded so far (statistics).
    private(set) var decodedInstructionCount = 0

    init() throws {
        decoder = try Decoder()
        jumpCache = .allocate(capacity: Self.jumpCacheSize)
        jumpCache.initialize(repeating: .empty, count: Self.jumpCacheSize)
    }

    deinit {
        for block in blocks.values { block.instructions.deallocate() }
        jumpCache.deallocate()
    }

    var blockCount: Int { blocks.count }

    @inline(__always)
    static func jumpSlot(_ address: UInt64) -> Int {
        Int(truncatingIfNeeded: (address ^ (address >> 12))) & (jumpCacheSize - 1)
    }

    /// The block starting at `address`, decoding it on first use.
    @inline(__always)
    func lookup(_ address: UInt64, memory: GuestMemory) -> BlockLookup {
        let entry = jumpCache[Self.jumpSlot(address)]
        if entry.start == address, let instructions = entry.instructions {
            return .block(instructions, entry.count)
        }
        return lookupSlow(address, memory: memory)
    }

    @inline(never)
    func lookupSlow(_ address: UInt64, memory: GuestMemory) -> BlockLookup {
        let block: DecodedBlock
        if let existing = blocks[address] {
            block = existing
        } else {
            switch decodeBlock(at: address, memory: memory) {
            case .success(let b): block = b
            case .failure(let fault): return .fetchFault(address: fault.address)
            }
        }
        jumpCache[Self.jumpSlot(address)] = JumpCacheEntry(start: address, instructions: block.instructions, count: block.count)
        return .block(block.instructions, block.count)
    }

    /// The legacy vsyscall page: the CPU never runs its bytes in a process (Linux maps it
    /// execute-only and emulates each call on the fault), so it decodes as a fetch fault
    /// and `Machine.enterVsyscall` takes over, even when a snapshot mapped the page.
    static let vsyscallPage: UInt64 = 0xFFFF_FFFF_FF60_0000

    private func decodeBlock(at start: UInt64, memory: GuestMemory) -> Result<DecodedBlock, MemoryFault> {
        if start & ~(GuestMemory.pageSize - 1) == Self.vsyscallPage {
            return .failure(MemoryFault(address: start, access: .execute, protectionViolation: memory.isMapped(start)))
        }
        var decoded: [Instruction] = []
        var address = start
        decodeLoop: while decoded.count < Self.maxBlockInstructions {
            switch decoder.decode(at: address, memory: memory) {
            case .fetchFault(let faultAddress):
                if decoded.isEmpty {
                    return .failure(MemoryFault(address: faultAddress, access: .execute,
                                                protectionViolation: memory.isMapped(faultAddress)))
                }
                // Let the instruction that cannot be fetched fault when it is reached.
                break decodeLoop
            case .unsupported(let ins, let info):
                unsupported[address] = info
                decoded.append(ins)
                address &+= UInt64(ins.length)
                break decodeLoop
            case .decoded(let ins):
                decoded.append(ins)
                address &+= UInt64(ins.length)
                if Self.endsBlock(ins.op) { break decodeLoop }
            }
        }
        let storage = UnsafeMutablePointer<Instruction>.allocate(capacity: decoded.count)
        storage.initialize(from: decoded, count: decoded.count)
        let block = DecodedBlock(start: start, end: address, instructions: storage, count: decoded.count)
        blocks[start] = block
        decodedInstructionCount += decoded.count
        var page = start >> GuestMemory.pageShift
        let lastPage = (address &- 1) >> GuestMemory.pageShift
        while true {
            blockStartsByPage[page, default: []].append(start)
            memory.markHoldsCode(pageNumber: page)
            if page == lastPage { break }
            page &+= 1
        }
        return .success(block)
    }

    /// Instructions after which execution may continue somewhere other than the next
    /// instruction, or the run loop must regain control.
    static func endsBlock(_ op: Opcode) -> Bool {
        switch op {
        case .jmp, .jcc, .jrcxz, .jecxz, .call, .ret, .loop, .loope, .loopne,
             .syscall, .hlt, .ud2, .int3, .unsupported, .rdtsc, .rdtscp:
            return true
        default:
            return false
        }
    }

    /// Drops every block overlapping the given pages. Must be called at a block boundary:
    /// the dropped instruction storage is freed at once.
    func invalidate(pages: [UInt64]) {
        for page in pages {
            guard let starts = blockStartsByPage.removeValue(forKey: page) else { continue }
            for start in starts {
                guard let block = blocks.removeValue(forKey: start) else { continue }
                let slot = Self.jumpSlot(start)
                if jumpCache[slot].start == start { jumpCache[slot] = .empty }
                var a = block.start
                while a < block.end {
                    unsupported.removeValue(forKey: a)
                    a &+= 1
                    if unsupported.isEmpty { break }
                }
                block.instructions.deallocate()
            }
        }
    }

    func invalidate(range: Range<UInt64>) {
        guard !range.isEmpty else { return }
        let first = range.lowerBound >> GuestMemory.pageShift
        let last = (range.upperBound &- 1) >> GuestMemory.pageShift
        invalidate(pages: Array(first...last))
    }

    func invalidateAll() {
        for block in blocks.values { block.instructions.deallocate() }
        blocks.removeAll()
        blockStartsByPage.removeAll()
        unsupported.removeAll()
        jumpCache.update(repeating: .empty, count: Self.jumpCacheSize)
    }
}
