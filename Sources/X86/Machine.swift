// The interpreter: block lookup, the dispatch loop, and operand access shared by the
// instruction families (one file each, as in jart/blink).

/// Why `Machine.run` returned.
public enum StopReason: Equatable, Sendable {
    /// Stopped right after `syscall`: RIP points after it, the number is in RAX. The caller
    /// performs or injects the call (RCX/R11 are set as the CPU does) and resumes.
    case syscall
    /// rdtsc / rdtscp executed: the caller sets RAX/RDX (and RCX for rdtscp) and resumes;
    /// RIP is already past the instruction.
    case timestamp(rdtscp: Bool)
    /// A fault the kernel would deliver as a signal: SIGSEGV (bad access), SIGFPE (divide
    /// error), SIGILL (ud2), SIGTRAP (int3). RIP is the faulting instruction (after int3).
    case fault(signal: Int32, address: UInt64, rip: UInt64)
    /// An instruction the interpreter does not implement; RIP points at it.
    case unsupported(UnsupportedInstruction)
    case instructionLimit
    /// hlt (privileged: the kernel would send SIGSEGV; reported separately for tests).
    case halt
}

/// Signal numbers used in `StopReason.fault` (Linux x86-64).
public enum GuestSignal {
    public static let sigill: Int32 = 4
    public static let sigtrap: Int32 = 5
    public static let sigbus: Int32 = 7
    public static let sigfpe: Int32 = 8
    public static let sigsegv: Int32 = 11
}

/// CPUID results by (leaf, subleaf), normally the ones recorded on the recording CPU.
public struct CPUIDTable: Sendable {
    public struct Key: Hashable, Sendable {
        public var leaf: UInt32
        public var subleaf: UInt32
        public init(leaf: UInt32, subleaf: UInt32) { self.leaf = leaf; self.subleaf = subleaf }
    }
    public struct Result: Equatable, Sendable {
        public var eax, ebx, ecx, edx: UInt32
        public init(eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) {
            self.eax = eax; self.ebx = ebx; self.ecx = ecx; self.edx = edx
        }
    }
    public var entries: [Key: Result]
    /// Leaves whose results do not depend on ECX: looked up with subleaf 0.
    public var leavesIgnoringSubleaf: Set<UInt32>

    public init(entries: [Key: Result] = [:], leavesIgnoringSubleaf: Set<UInt32> = [0, 1, 2, 0x8000_0000, 0x8000_0001, 0x8000_0002, 0x8000_0003, 0x8000_0004, 0x8000_0006, 0x8000_0007, 0x8000_0008]) {
        self.entries = entries
        self.leavesIgnoringSubleaf = leavesIgnoringSubleaf
    }

    /// The result for a leaf; unknown leaves return zeros (as CPUs do for leaves above
    /// the maximum, approximately).
    public func lookup(leaf: UInt32, subleaf: UInt32) -> Result {
        let sub = leavesIgnoringSubleaf.contains(leaf) ? 0 : subleaf
        return entries[Key(leaf: leaf, subleaf: sub)] ?? Result(eax: 0, ebx: 0, ecx: 0, edx: 0)
    }

    /// Whether leaf 0 names an AMD part ("AuthenticAMD"): where the SDM leaves a result
    /// undefined and the vendors differ, the interpreter follows the recording CPU.
    public var isAMD: Bool { lookup(leaf: 0, subleaf: 0).ebx == 0x6874_7541 }

    /// A small generic table: SSE2..SSE4.2, SSSE3, POPCNT, BMI1/BMI2, LZCNT; no AVX, no
    /// XSAVE (so glibc uses fxsave), as a recording with AVX masked would show.
    public static let baseline: CPUIDTable = {
        var t = CPUIDTable()
        // "GenuineIntel" in ebx, edx, ecx.
        t.entries[Key(leaf: 0, subleaf: 0)] = Result(eax: 0xD, ebx: 0x756E_6547, ecx: 0x6C65_746E, edx: 0x4965_6E69)
        // Family 6; SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CX16; edx: FPU, TSC, CMOV, MMX, FXSR, SSE, SSE2.
        t.entries[Key(leaf: 1, subleaf: 0)] = Result(eax: 0x000A_0652, ebx: 0x0001_0800,
                                                     ecx: (1 << 0) | (1 << 9) | (1 << 13) | (1 << 19) | (1 << 20) | (1 << 23),
                                                     edx: (1 << 0) | (1 << 4) | (1 << 8) | (1 << 15) | (1 << 23) | (1 << 24) | (1 << 25) | (1 << 26))
        // BMI1, BMI2, ERMS.
        t.entries[Key(leaf: 7, subleaf: 0)] = Result(eax: 0, ebx: (1 << 3) | (1 << 8) | (1 << 9), ecx: 0, edx: 0)
        t.entries[Key(leaf: 0x8000_0000, subleaf: 0)] = Result(eax: 0x8000_0008, ebx: 0, ecx: 0, edx: 0)
        // LAHF/SAHF in 64-bit mode, LZCNT (ABM); SYSCALL, NX, LM.
        t.entries[Key(leaf: 0x8000_0001, subleaf: 0)] = Result(eax: 0, ebx: 0, ecx: (1 << 0) | (1 << 5),
                                                              edx: (1 << 11) | (1 << 20) | (1 << 29))
        return t
    }()
}

/// Codes the instruction handlers return to the dispatch loop.
@usableFromInline
enum ExecStatus: UInt8 {
    case next
    /// Stop after this instruction (it completed): `pendingStop` says why.
    case stopAfter
    /// Stop before this instruction (it did not complete, RIP restored): `pendingStop`.
    case stopBefore
}

/// An x86-64 user-mode interpreter over a `GuestMemory`.
///
/// Typical replay loop:
/// ```swift
/// let machine = try Machine(memory: memory, cpuid: recordedCPUID, tracker: NoDataFlow())
/// machine.state = snapshotRegisters            // rip, rsp, fsBase, ... from the exec snapshot
/// while true {
///     switch machine.run(maxInstructions: budget) {
///     case .syscall: /* read nr/args from machine.state, inject the recorded result into
///                       rax (and memory via memory.writeBytes), then loop */
///     case .timestamp(let rdtscp): /* set rax/rdx (and rcx) from the recording */
///     case .fault(let signal, let address, let rip): /* deliver or compare with the trace */
///     case .unsupported(let what): /* stop the replay and report `what` */
///     case .instructionLimit, .halt: /* ... */
///     }
/// }
/// ```
/// Cost: decoding happens once per guest instruction address (Capstone, ~1 µs); the run
/// loop then executes pre-decoded blocks with no allocation or reference counting.
/// `run` is generic: hot callers use `runSpecialized`, compiled for one tracker in the
/// module that knows it (here for `NoDataFlow`, whose hooks compile away; `Taint` for
/// its byte tracker, from the bodies this module publishes with cross-module optimization).
public final class Machine<Tracker: DataFlowTracker> {
    /// Registers and lazy flags live behind a stable pointer so that the hot loop reads
    /// and writes them with plain loads and stores (no exclusivity checks, no copies).
    /// Allocated in init, freed in deinit.
    let cpu: UnsafeMutablePointer<CPUState>
    /// Points into `cpu.pointee.gpr`: 16 UInt64 in encoding order.
    let gprs: UnsafeMutablePointer<UInt64>
    /// Points into `cpu.pointee.xmm`: 16 × (low, high).
    let xmms: UnsafeMutablePointer<UInt64>
    /// Points into `cpu.pointee.ymmHigh`: bits 255:128 of YMM0-15, 16 × (low, high).
    let ymmHighs: UnsafeMutablePointer<UInt64>
    public let memory: GuestMemory
    let blocks: BlockCache
    public var cpuid: CPUIDTable
    /// What xgetbv(0) answers.
    public var xcr0: UInt64 = 3
    public private(set) var instructionCount: UInt64 = 0
    /// Model-specific instruction families this machine has run on the host's FPU
    /// (`HostComputedInstructions`): exact only when the trace's CPU is the host's model.
    public internal(set) var hostComputed: HostComputedInstructions = []
    var pendingStop: StopReason = .instructionLimit
    public let tracker: Tracker

    public init(memory: GuestMemory, cpuid: CPUIDTable = .baseline, tracker: Tracker) throws {
        self.memory = memory
        self.cpuid = cpuid
        self.tracker = tracker
        blocks = try BlockCache()
        cpu = .allocate(capacity: 1)
        cpu.initialize(to: CPUState())
        let raw = UnsafeMutableRawPointer(cpu)
        // offset(of:) is non-nil for stored properties of a struct.
        gprs = (raw + (MemoryLayout<CPUState>.offset(of: \CPUState.gpr) ?? 0)).assumingMemoryBound(to: UInt64.self)
        xmms = (raw + (MemoryLayout<CPUState>.offset(of: \CPUState.xmm) ?? 0)).assumingMemoryBound(to: UInt64.self)
        ymmHighs = (raw + (MemoryLayout<CPUState>.offset(of: \CPUState.ymmHigh) ?? 0)).assumingMemoryBound(to: UInt64.self)
    }

    deinit {
        cpu.deinitialize(count: 1)
        cpu.deallocate()
    }

    /// The architectural registers. Read and write between runs only.
    public var state: CPUState {
        get { cpu.pointee }
        set { cpu.pointee = newValue }
    }

    /// Drops decoded code for a guest range: call after the replayer changes guest memory
    /// behind the interpreter's back in ways GuestMemory cannot see (it already handles
    /// its own writes, unmap and protect).
    public func invalidate(range: Range<UInt64>) {
        blocks.invalidate(range: range)
    }

    /// Number of guest instructions decoded so far (cache statistics).
    public var decodedInstructionCount: Int { blocks.decodedInstructionCount }

    @inline(never)
    func processInvalidations() {
        blocks.invalidate(pages: memory.takeInvalidatedCodePages())
    }

    /// Runs until a stop condition or until `maxInstructions` guest instructions have
    /// completed. A store into decoded code takes effect at the next instruction, as on the
    /// CPU (SDM Vol. 3, 11.6): the run leaves the block and decodes afresh. Instructions
    /// that stop the run (syscall, rdtsc) count as completed; faulting and unsupported
    /// instructions do not. A call into the legacy vsyscall page stops as its syscall
    /// (`enterVsyscall`).
    public func run(maxInstructions: UInt64) -> StopReason {
        if memory.codeInvalidationPending.pointee { processInvalidations() }
        let cpu = self.cpu
        let blocks = self.blocks
        let invalidationPending = memory.codeInvalidationPending
        let blockLimit = memory.blockLimit
        var executed: UInt64 = 0
        defer { instructionCount &+= executed }
        while executed < maxInstructions {
            let rip = cpu.pointee.rip
            let instructions: UnsafeMutablePointer<Instruction>
            let count: Int
            switch blocks.lookup(rip, memory: memory) {
            case .block(let p, let n):
                instructions = p
                count = n
            case .fetchFault(let address):
                if address == rip, let stop = enterVsyscall(at: rip) {
                    if stop == .syscall { executed &+= 1 }
                    return stop
                }
                return .fault(signal: GuestSignal.sigsegv, address: address, rip: rip)
            }
            let remaining = maxInstructions &- executed
            blockLimit.pointee = UInt64(count) < remaining ? count : Int(remaining)
            var i = 0
            // A store into decoded code zeroes the bound (`GuestMemory.blockLimit`): the
            // rest of this block (maybe freed next) is stale, so the loop ends after the
            // storing instruction and the next one is looked up afresh.
            while i < blockLimit.pointee {
                let ins = instructions + i
                cpu.pointee.rip &+= UInt64(ins.pointee.length)
                i &+= 1
                let status = execute(ins)
                if _slowPath(status != .next) {
                    if status == .stopAfter {
                        executed &+= UInt64(i)
                    } else {
                        executed &+= UInt64(i &- 1)
                        cpu.pointee.rip &-= UInt64(ins.pointee.length)
                    }
                    if invalidationPending.pointee { processInvalidations() }
                    return pendingStop
                }
            }
            executed &+= UInt64(i)
            if _slowPath(invalidationPending.pointee) { processInvalidations() }
        }
        return .instructionLimit
    }

    /// The legacy vsyscall page (0xffffffffff600000): Linux maps it execute-only or not at
    /// all and emulates a call to its three entry points as the gettimeofday, time and
    /// getcpu syscalls, then returns to the caller (arch/x86/entry/vsyscall/vsyscall_64.c).
    /// Here the call stops as that syscall (RAX = its number, arguments in place, RIP and
    /// RSP already past the return) so the recorded result is injected like any syscall's.
    /// Nil when `rip` is no entry point: a fault, as the kernel raises.
    @inline(never)
    func enterVsyscall(at rip: UInt64) -> StopReason? {
        let number: UInt64
        switch rip {
        case 0xFFFF_FFFF_FF60_0000: number = 96   // gettimeofday
        case 0xFFFF_FFFF_FF60_0400: number = 201  // time
        case 0xFFFF_FFFF_FF60_0800: number = 309  // getcpu
        default: return nil
        }
        let rsp = gprs[4]
        // A bad return address is the kernel's SIGSEGV at the caller's stack.
        guard let returnAddress = memory.load(rsp, size: 8) else {
            return .fault(signal: GuestSignal.sigsegv, address: rsp, rip: rip)
        }
        tracker.controlTransfer(from: .memory(rsp, size: 8), target: returnAddress, instruction: rip)
        tracker.clear(gprLocation(0))
        gprs[0] = number
        gprs[4] = rsp &+ 8
        cpu.pointee.rip = returnAddress
        return .syscall
    }

    // MARK: Stops

    @inline(never)
    func stop(_ reason: StopReason, completed: Bool) -> ExecStatus {
        pendingStop = reason
        return completed ? .stopAfter : .stopBefore
    }

    /// A guest memory fault at the current instruction (SIGSEGV).
    @inline(never)
    func memoryFault(_ ins: UnsafePointer<Instruction>) -> ExecStatus {
        let rip = cpu.pointee.rip &- UInt64(ins.pointee.length)
        return stop(.fault(signal: GuestSignal.sigsegv, address: memory.lastFault.address, rip: rip), completed: false)
    }

    @inline(never)
    func signalFault(_ ins: UnsafePointer<Instruction>, _ signal: Int32, address: UInt64? = nil) -> ExecStatus {
        let rip = cpu.pointee.rip &- UInt64(ins.pointee.length)
        return stop(.fault(signal: signal, address: address ?? rip, rip: rip), completed: false)
    }

    @inline(never)
    func unsupported(_ ins: UnsafePointer<Instruction>) -> ExecStatus {
        let address = cpu.pointee.rip &- UInt64(ins.pointee.length)
        let info = blocks.unsupported[address]
            ?? UnsupportedInstruction(address: address,
                                      bytes: (try? memory.readBytes(at: address, count: Int(ins.pointee.length))) ?? [],
                                      text: blocks.decoder.describe(at: address, memory: memory) + " (form not implemented)")
        return stop(.unsupported(info), completed: false)
    }

    // MARK: Operand access

    @inline(__always)
    static func mask(_ size: UInt8) -> UInt64 { UInt64.max &>> (64 &- UInt64(size) &* 8) }

    @inline(__always)
    static func signExtend(_ value: UInt64, _ size: UInt8) -> UInt64 {
        let shift = 64 &- UInt64(size) &* 8
        return UInt64(bitPattern: Int64(bitPattern: value &<< shift) &>> shift)
    }

    @inline(__always)
    func gpr(_ n: UInt8) -> UInt64 { gprs[Int(n)] }

    @inline(__always)
    func setGPR(_ n: UInt8, _ value: UInt64) { gprs[Int(n)] = value }

    /// Reads a register operand (GPR or high byte), masked to its size.
    @inline(__always)
    func readRegister(_ o: Operand) -> UInt64 {
        if o.kind == .gprHigh8 { return (gprs[Int(o.reg)] &>> 8) & 0xFF }
        return gprs[Int(o.reg)] & Self.mask(o.size)
    }

    /// Writes a register operand with x86-64 merge rules: 32-bit writes zero-extend,
    /// 8- and 16-bit writes keep the other bits (SDM Vol. 1, 3.4.1.1).
    @inline(__always)
    func writeRegister(_ o: Operand, _ value: UInt64) {
        let p = gprs + Int(o.reg)
        switch o.size {
        case 8: p.pointee = value
        case 4: p.pointee = value & 0xFFFF_FFFF
        case 2: p.pointee = (p.pointee & ~0xFFFF) | (value & 0xFFFF)
        default:
            if o.kind == .gprHigh8 {
                p.pointee = (p.pointee & ~0xFF00) | ((value & 0xFF) &<< 8)
            } else {
                p.pointee = (p.pointee & ~0xFF) | (value & 0xFF)
            }
        }
    }

    /// Writes `value` to GPR `n` with operation size `size` (merge rules as above).
    @inline(__always)
    func writeGPR(_ n: UInt8, size: UInt8, _ value: UInt64) {
        let p = gprs + Int(n)
        switch size {
        case 8: p.pointee = value
        case 4: p.pointee = value & 0xFFFF_FFFF
        case 2: p.pointee = (p.pointee & ~0xFFFF) | (value & 0xFFFF)
        default: p.pointee = (p.pointee & ~0xFF) | (value & 0xFF)
        }
    }

    /// Effective address of a memory operand, including the FS/GS base.
    @inline(__always)
    func effectiveAddress(_ o: Operand) -> UInt64 {
        var address = o.value
        if o.reg != Operand.noRegister { address &+= gprs[Int(o.reg)] }
        if o.index != Operand.noRegister { address &+= gprs[Int(o.index)] &<< UInt64(o.scaleShift) }
        if _slowPath(o.address32) { address &= 0xFFFF_FFFF }
        switch o.segment {
        case .none: return address
        case .fs: return address &+ cpu.pointee.fsBase
        case .gs: return address &+ cpu.pointee.gsBase
        }
    }

    /// Reads an integer operand of `size` bytes. Nil on a memory fault.
    @inline(__always)
    func read(_ o: Operand, size: UInt8) -> UInt64? {
        switch o.kind {
        case .gpr: return gprs[Int(o.reg)] & Self.mask(size)
        case .immediate: return o.value & Self.mask(size)
        case .memory: return memory.load(effectiveAddress(o), size: UInt64(size))
        case .gprHigh8: return (gprs[Int(o.reg)] &>> 8) & 0xFF
        default: return nil
        }
    }

    /// Writes an integer operand. False on a memory fault.
    @inline(__always)
    func write(_ o: Operand, size: UInt8, _ value: UInt64) -> Bool {
        switch o.kind {
        case .gpr:
            writeGPR(o.reg, size: size, value)
            return true
        case .memory:
            return memory.store(effectiveAddress(o), size: UInt64(size), value)
        case .gprHigh8:
            let p = gprs + Int(o.reg)
            p.pointee = (p.pointee & ~0xFF00) | ((value & 0xFF) &<< 8)
            return true
        default:
            return false
        }
    }

    /// The data-flow location of an operand (register bytes, memory, or constant).
    @inline(__always)
    func location(_ o: Operand, size: UInt8) -> DataLocation {
        switch o.kind {
        case .gpr: return DataLocation(kind: .register, size: size, offset: RegisterFile.gpr(Int(o.reg)))
        case .gprHigh8: return DataLocation(kind: .register, size: 1, offset: RegisterFile.gpr(Int(o.reg)) + 1)
        case .xmm: return DataLocation(kind: .register, size: size, offset: RegisterFile.xmm(Int(o.reg)))
        case .memory: return DataLocation.memory(effectiveAddress(o), size: size)
        default: return .constant
        }
    }

    @inline(__always)
    func gprLocation(_ n: Int, size: UInt8 = 8) -> DataLocation {
        DataLocation(kind: .register, size: size, offset: RegisterFile.gpr(n))
    }

    /// Register-file bytes that are not a GPR/XMM/x87 register (flags, status words, bases).
    @inline(__always)
    static func registerLocation(_ offset: UInt64, size: UInt8) -> DataLocation {
        DataLocation(kind: .register, size: size, offset: offset)
    }

    /// The flags byte (see `DataFlowTracker`).
    @inline(__always)
    var flagsLocation: DataLocation { Self.registerLocation(RegisterFile.flags, size: 1) }

    /// Reports that the value of memory operand `o` reaches `destination` (a load through
    /// an address built from registers); nothing for other operand kinds. Pure arguments
    /// only, so it vanishes with `NoDataFlow`. Call it after hooks that only add to
    /// `destination`; a hook that replaces a GPR goes through `loadCopy`/`loadDerive`.
    @inline(__always)
    func loadDependency(_ destination: DataLocation, _ o: Operand) {
        if o.kind == .memory {
            tracker.addressDependency(of: destination, base: o.reg == Operand.noRegister ? -1 : Int(o.reg),
                                      index: o.index == Operand.noRegister ? -1 : Int(o.index))
        }
    }

    /// Whether `destination` is (part of) a base or index register of memory operand `o`.
    @inline(__always)
    func addressOverlaps(_ destination: DataLocation, _ o: Operand) -> Bool {
        guard o.kind == .memory, destination.kind == .register, destination.offset < RegisterFile.xmm(0) else { return false }
        let r = UInt8(truncatingIfNeeded: destination.offset / 8)
        return r == o.reg || r == o.index
    }

    /// `destination` <- `source` (copy) plus the address dependency of operand `o`; when
    /// the destination is an address register, staged through `RegisterFile.scratch`.
    @inline(__always)
    func loadCopy(to destination: DataLocation, from source: DataLocation, address o: Operand) {
        guard Tracker.tracksData else { return }
        if addressOverlaps(destination, o) {
            let scratch = Self.registerLocation(RegisterFile.scratch, size: destination.size)
            tracker.copy(to: scratch, from: source)
            loadDependency(scratch, o)
            tracker.copy(to: destination, from: scratch)
            tracker.clear(scratch)
        } else {
            tracker.copy(to: destination, from: source)
            loadDependency(destination, o)
        }
    }

    /// `destination` <- f(`source1`, `source2`) (derive) plus the address dependency of
    /// operand `o`, staged like `loadCopy`.
    @inline(__always)
    func loadDerive(to destination: DataLocation, from source1: DataLocation, _ source2: DataLocation, address o: Operand) {
        guard Tracker.tracksData else { return }
        if addressOverlaps(destination, o) {
            let scratch = Self.registerLocation(RegisterFile.scratch, size: destination.size)
            tracker.derive(to: scratch, from: source1, source2)
            loadDependency(scratch, o)
            tracker.copy(to: destination, from: scratch)
            tracker.clear(scratch)
        } else {
            tracker.derive(to: destination, from: source1, source2)
            loadDependency(destination, o)
        }
    }

    // Stack helpers (RSP-relative, 8-byte slots unless a 66h prefix made them 2).
    @inline(__always)
    func push(_ value: UInt64, size: UInt8 = 8) -> Bool {
        let rsp = gprs[4] &- UInt64(size)
        guard memory.store(rsp, size: UInt64(size), value) else { return false }
        gprs[4] = rsp
        return true
    }

    @inline(__always)
    func pop(size: UInt8 = 8) -> UInt64? {
        let rsp = gprs[4]
        guard let v = memory.load(rsp, size: UInt64(size)) else { return nil }
        gprs[4] = rsp &+ UInt64(size)
        return v
    }

    // MARK: Dispatch

    @inline(__always)
    func execute(_ ins: UnsafeMutablePointer<Instruction>) -> ExecStatus {
        let p = UnsafePointer(ins)
        switch ins.pointee.op {
        case .mov: return execMov(p)
        case .add: return execAdd(p)
        case .sub: return execSub(p)
        case .cmp: return execCmp(p)
        case .and: return execAnd(p)
        case .or: return execOr(p)
        case .xor: return execXor(p)
        case .test: return execTest(p)
        case .adc: return execAdc(p)
        case .sbb: return execSbb(p)
        case .jcc: return execJcc(p)
        case .lea: return execLea(p)
        case .movzx: return execMovzx(p)
        case .movsx, .movsxd: return execMovsx(p)
        case .push: return execPush(p)
        case .pop: return execPop(p)
        case .call: return execCall(p)
        case .ret: return execRet(p)
        case .jmp: return execJmp(p)
        case .inc: return execIncDec(p, increment: true)
        case .dec: return execIncDec(p, increment: false)
        case .not: return execNot(p)
        case .neg: return execNeg(p)
        case .nop, .pause, .fwait, .mfence, .lfence, .sfence, .clflush, .prefetch: return .next
        case .cmovcc: return execCmov(p)
        case .setcc: return execSetcc(p)
        case .xchg: return execXchg(p)
        case .cmpxchg: return execCmpxchg(p)
        case .cmpxchg8b, .cmpxchg16b: return execCmpxchgDouble(p)
        case .xadd: return execXadd(p)
        case .bswap: return execBswap(p)
        case .movbe: return execMovbe(p)
        case .cbw, .cwde, .cdqe: return execSignExtendAccumulator(p)
        case .cwd, .cdq, .cqo: return execSignExtendIntoRDX(p)
        case .leave: return execLeave(p)
        case .enter: return execEnter(p)
        case .xlatb: return execXlat(p)
        case .pushfq: return execPushf(p)
        case .popfq: return execPopf(p)
        case .lahf: return execLahf(p)
        case .sahf: return execSahf(p)
        case .cld, .std, .clc, .stc, .cmc: return execFlagOp(p)
        case .andn, .bextr, .blsi, .blsmsk, .blsr, .bzhi, .pdep, .pext, .mulx, .adcx, .adox: return execBMI(p)
        case .bt, .bts, .btr, .btc: return execBitTest(p)
        case .bsf, .bsr, .tzcnt, .lzcnt, .popcnt: return execBitScan(p)
        case .shl, .shr, .sar: return execShift(p)
        case .rol, .ror, .rcl, .rcr: return execRotate(p)
        case .shld, .shrd: return execDoubleShift(p)
        case .shlx, .shrx, .sarx, .rorx: return execShiftBMI2(p)
        case .mul, .imul: return execMultiply(p)
        case .div, .idiv: return execDivide(p)
        case .jrcxz, .jecxz, .loop, .loope, .loopne: return execLoopFamily(p)
        case .movs, .stos, .lods, .scas, .cmps: return execString(p)
        case .ud2: return signalFault(p, GuestSignal.sigill)
        case .int3:
            // Linux reports int3 with RIP after the instruction.
            let rip = cpu.pointee.rip
            return stop(.fault(signal: GuestSignal.sigtrap, address: rip &- 1, rip: rip), completed: true)
        case .hlt: return stop(.halt, completed: true)
        case .syscall: return execSyscall(p)
        case .cpuid: return execCPUID(p)
        case .rdtsc: return execTimestamp(p, rdtscp: false)
        case .rdtscp: return execTimestamp(p, rdtscp: true)
        case .xgetbv: return execXgetbv(p)
        case .rdfsbase, .rdgsbase, .wrfsbase, .wrgsbase: return execSegmentBase(p)
        case .unsupported: return unsupported(p)
        default:
            return executeVector(p)
        }
    }

    /// SSE and x87 dispatch, kept out of the integer switch so the common path stays small.
    @inline(never)
    func executeVector(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        if p.pointee.prefixes & PrefixBits.vex != 0 { return executeAVX(p) }
        if p.pointee.prefixes & PrefixBits.mmx != 0 { return executeMMX(p) }
        return executeLegacyVector(p)
    }

    /// The legacy (non-VEX) encodings of the vector, x87 and state-save families.
    func executeLegacyVector(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        switch p.pointee.op {
        case .fld, .fst, .fstp, .fild, .fist, .fistp, .fisttp, .fbld, .fbstp,
             .fadd, .faddp, .fiadd, .fsub, .fsubp, .fisub, .fsubr, .fsubrp, .fisubr,
             .fmul, .fmulp, .fimul, .fdiv, .fdivp, .fidiv, .fdivr, .fdivrp, .fidivr,
             .fxch, .fcom, .fcomp, .fcompp, .fucom, .fucomp, .fucompp, .fcomi, .fcomip, .fucomi, .fucomip,
             .ficom, .ficomp, .ftst, .fxam, .fchs, .fabs, .fldz, .fld1, .fldpi, .fldl2e, .fldl2t, .fldlg2, .fldln2,
             .fnstcw, .fldcw, .fnstsw, .fnstenv, .fldenv, .fnsave, .frstor, .fninit, .fnclex, .ffree, .fincstp, .fdecstp,
             .frndint, .fscale, .fprem, .fprem1, .fsqrt, .fxtract, .fcmovcc,
             .f2xm1, .fyl2x, .fyl2xp1, .fptan, .fpatan, .fsin, .fcos, .fsincos:
            return executeX87(p)
        case .stmxcsr, .ldmxcsr, .fxsave, .fxrstor, .xsave, .xsavec, .xrstor:
            return executeStateSave(p)
        case .emms, .cvtpi2ps, .cvtpi2pd:
            // emms; cvtpi2ps/cvtpi2pd xmm, m64 (no mm operand, so no PrefixBits.mmx).
            return executeMMX(p)
        case .crc32, .pclmulqdq, .aesenc, .aesenclast, .aesdec, .aesdeclast, .aesimc, .aeskeygenassist,
             .sha256rnds2, .sha256msg1, .sha256msg2, .sha1rnds4, .sha1nexte, .sha1msg1, .sha1msg2:
            return executeCrypto(p)
        case .addss, .addsd, .addps, .addpd, .subss, .subsd, .subps, .subpd,
             .mulss, .mulsd, .mulps, .mulpd, .divss, .divsd, .divps, .divpd,
             .sqrtss, .sqrtsd, .sqrtps, .sqrtpd, .minss, .minsd, .minps, .minpd, .maxss, .maxsd, .maxps, .maxpd,
             .ucomiss, .ucomisd, .comiss, .comisd, .cmpss, .cmpsd_sse, .cmpps, .cmppd,
             .cvtsi2ss, .cvtsi2sd, .cvttss2si, .cvttsd2si, .cvtss2si, .cvtsd2si,
             .cvtss2sd, .cvtsd2ss, .cvtdq2ps, .cvtdq2pd, .cvttps2dq, .cvttpd2dq, .cvtps2dq, .cvtpd2dq,
             .cvtps2pd, .cvtpd2ps, .roundss, .roundsd, .roundps, .roundpd, .rcpps, .rsqrtps, .rcpss, .rsqrtss:
            return executeSSEFloat(p)
        default:
            return executeSSEInteger(p)
        }
    }
}

extension Machine where Tracker == NoDataFlow {
    /// `run(maxInstructions:)` specialized for plain execution and compiled in this module
    /// (`-Ounchecked`): no hook costs anything. Same contract as `run`.
    @inline(never)
    public func runSpecialized(maxInstructions: UInt64) -> StopReason {
        run(maxInstructions: maxInstructions)
    }
}
