// The data-flow hook interface. The interpreter is generic over a tracker so that plain
// replay (`NoDataFlow`) compiles every hook away, and taint replay calls a concrete type
// with no dynamic dispatch (DESIGN.md "Taint is a generic parameter, not a branch").

/// A place data lives, at byte granularity.
///
/// Registers are numbered as bytes of one flat register file (`RegisterFile`), so a
/// byte-level tracker can keep one shadow array for all registers.
public struct DataLocation: Equatable, Sendable {
    public enum Kind: UInt8, Sendable {
        /// `offset` is a byte offset in the register file.
        case register
        /// `offset` is a guest virtual address.
        case memory
        /// The value is a constant of the instruction stream (immediate): it carries no
        /// label, and writing it clears the destination's labels.
        case constant
    }
    public var kind: Kind
    /// Number of bytes.
    public var size: UInt8
    public var offset: UInt64

    @inline(__always)
    public init(kind: Kind, size: UInt8, offset: UInt64) {
        self.kind = kind
        self.size = size
        self.offset = offset
    }

    @inline(__always)
    public static func memory(_ address: UInt64, size: UInt8) -> DataLocation {
        DataLocation(kind: .memory, size: size, offset: address)
    }

    public static let constant = DataLocation(kind: .constant, size: 0, offset: 0)
}

/// Byte offsets of each register in the flat register file used by `DataLocation`.
public enum RegisterFile {
    /// GPR n occupies bytes 8n ..< 8n+8 (little endian; AH is byte 8n+1 of RAX).
    @inline(__always) public static func gpr(_ n: Int) -> UInt64 { UInt64(n) * 8 }
    /// Vector register n occupies 32 bytes from 128 + 32n: XMM n is the first 16, the
    /// upper half of YMM n (AVX) the next 16, so a YMM operand is one location.
    @inline(__always) public static func xmm(_ n: Int) -> UInt64 { 128 + UInt64(n) * 32 }
    /// Bits 255:128 of YMM n, 16 bytes.
    @inline(__always) public static func ymmHigh(_ n: Int) -> UInt64 { xmm(n) + 16 }
    /// Physical x87 register n occupies 10 bytes from 640 + 16n.
    @inline(__always) public static func x87(_ n: Int) -> UInt64 { 640 + UInt64(n) * 16 }
    /// The six arithmetic flags (and DF), tracked as one byte.
    public static let flags: UInt64 = 768
    /// The x87 status word, 2 bytes (SDM Vol. 1, 8.1.3): exception flags in the first
    /// byte, the condition codes C0-C3 (and TOP) in the second, which `fnstsw ax` puts in AH.
    public static let x87Status: UInt64 = 770
    /// The x87 control word, 2 bytes (fldcw/fnstcw).
    public static let x87Control: UInt64 = 772
    /// MXCSR, 4 bytes (ldmxcsr/stmxcsr; SSE exception flags).
    public static let mxcsr: UInt64 = 776
    /// FS and GS base, 8 bytes each (wrfsbase/rdfsbase and friends).
    public static let fsBase: UInt64 = 784
    public static let gsBase: UInt64 = 792
    /// 16 bytes no instruction names: a load whose destination is one of its own address
    /// registers (mov rax, [rax + 8]) is staged here (copy, addressDependency, copy to the
    /// destination, clear), so the address registers' labels are read before the
    /// destination replaces them. A tracker treats it like any register.
    public static let scratch: UInt64 = 800
    /// Total size of the register file in bytes.
    public static let size = 816
}

/// What enters the bits a shift vacates (`DataFlowTracker.shift`).
public enum ShiftFill: UInt8, Sendable {
    /// Zeros (shl, shr).
    case zero
    /// Copies of the sign bit, the top bit of the location (sar).
    case sign
    /// The bits shifted out at the other end (rol, ror).
    case rotate
}

/// Defaults: a tracker tracks data, and treats the byte-precise hooks as their coarse
/// counterparts.
extension DataFlowTracker {
    @inline(__always) public static var tracksData: Bool { true }
    @inline(__always)
    public func combineBytewise(into destination: DataLocation, from source: DataLocation) {
        combine(into: destination, from: source)
    }
    @inline(__always)
    public func shift(_ location: DataLocation, bits: Int, fill: ShiftFill) {
        derive(to: location, from: location, .constant)
    }
}

/// Hooks the interpreter calls for every data movement. Each hook names destination and
/// source locations; the tracker decides what labels mean. All hooks are called after
/// the instruction's operands are known and before it completes; a faulting
/// instruction may have called some of its hooks. Every instruction the interpreter
/// implements reports each location it writes (`DataFlowCoverageTests` enforces it, opcode
/// by opcode); the few that move no data are listed there.
///
/// Conventions the calls follow:
/// - The flags are the register-file byte `RegisterFile.flags`, named like any register:
///   compares `derive` into it, partial flag writes (inc/dec, bt, sahf, clc, rotates)
///   `combine` into it, flag readers copy or combine from it (setcc, lahf, pushf, adc/sbb,
///   rcl/rcr, syscall's R11). The x87 condition codes are the second byte of
///   `RegisterFile.x87Status` in the same way (fcom derives into it, fnstsw copies it out).
/// - A 4-byte destination at the start of a GPR zero-extends the register (SDM Vol. 1,
///   3.4.1.1): a tracker treats bytes 4-7 as cleared. Other partial writes (8/16-bit GPRs,
///   XMM lanes) leave the other bytes alone; where the CPU zeroes them (movd/movq/movss
///   loads into XMM) the interpreter clears them explicitly.
/// - Pointer and counter updates that keep labels (RSP by push/pop/call/ret, RSI/RDI/RCX by
///   string instructions) are not reported.
/// - A location whose bytes change in place (not, neg, inc, fchs, cld) is reported as
///   `combine(into: it, from: .constant)`: its labels stay. One whose bits move across
///   bytes (shifts, rotates, bswap, multiply, shuffles, float arithmetic) derives from
///   itself, so its labels mix.
public protocol DataFlowTracker {
    /// False only for trackers that ignore every hook: the interpreter may then move
    /// data in bulk (rep movs/stos by page) without per-element hook calls.
    static var tracksData: Bool { get }

    /// `destination` now holds exactly the bytes of `source`, in order (mov, push, pop,
    /// movdqu); a larger destination is a zero/sign extension (movzx, cdq): extension bytes
    /// take the labels of the source's top byte in spirit; a simple tracker may union all
    /// source bytes into every destination byte. Byte permutations (bswap, pshufd) and
    /// conversions are not copies: they `derive`.
    func copy(to destination: DataLocation, from source: DataLocation)
    /// `destination` now depends on its old value and on `source` (add, and, pxor ...):
    /// each destination byte keeps its own labels and gains those of every source byte
    /// (carries between the destination's own bytes are the tracker's call, as in libdft).
    func combine(into destination: DataLocation, from source: DataLocation)
    /// `destination` was overwritten with a value computed from `source1` and `source2`
    /// (three-operand forms, lea, imul r, r/m, imm, shifts by a register, byte
    /// permutations and conversions with `.constant` as the second source; compares into
    /// the flags byte).
    func derive(to destination: DataLocation, from source1: DataLocation, _ source2: DataLocation)
    /// Byte i of `destination` now depends on its old value and on byte i of `source`
    /// alone (and, or, xor: no bit crosses a byte boundary). Same sizes. A tracker that
    /// does not keep bytes apart may treat it as `combine(into:from:)` (the default).
    func combineBytewise(into destination: DataLocation, from source: DataLocation)
    /// The bits of `location` moved by `bits` (positive toward the most significant byte,
    /// as shl; negative as shr and sar) within its `size` bytes, with the count known
    /// (an immediate, or CL's value, whose labels the interpreter combines in after).
    /// `fill` says what enters the vacated bits: zeros, copies of the sign bit (sar), or
    /// the bits shifted out (rol, ror). A byte-precise tracker gives result byte i the
    /// labels of the one or two bytes its bits came from (the top byte's for sign copies)
    /// and clears a byte that holds zeros only; the default derives every byte from the
    /// whole location, as for any shift.
    func shift(_ location: DataLocation, bits: Int, fill: ShiftFill)
    /// The contents of `first` and `second` were swapped (xchg, fxch).
    func exchange(_ first: DataLocation, _ second: DataLocation)
    /// `destination` now holds a constant (mov imm, xor r, r, cpuid and rdtsc results,
    /// the syscall result registers).
    func clear(_ destination: DataLocation)
    /// The arithmetic flags were all rewritten from `source` alone: the same as
    /// `copy(to:from:)` into the flags byte, replacing its labels (add and sub call it with
    /// their destination after combining the source into it).
    func flags(from source: DataLocation)
    /// A load at an address computed from these registers (GPR numbers, or -1): a tracker
    /// may add the address registers' labels to `destination` (table lookups). Called for
    /// every load whose value reaches a destination other than the loaded memory itself:
    /// explicit memory sources (integer, SSE and x87; the flags of compares and of ALU
    /// operations on memory), pops (base RSP), string sources (RSI; RDI for scas/cmps),
    /// xlat (RBX + AL); never for stores, for the memory operand of a read-modify-write,
    /// or for control-transfer targets (address dependency is off for control alerts: a
    /// jump table indexed by input is a parser). It follows the hook that moved the value,
    /// while the address registers still hold their labels (a load into one of its own
    /// address registers is staged through `RegisterFile.scratch`).
    func addressDependency(of destination: DataLocation, base: Int, index: Int)
    /// `source` was loaded into RIP by the indirect jmp, call or ret at `instruction` (its
    /// own address): "data steered control". Direct (relative) jumps and calls report no
    /// transfer.
    func controlTransfer(from source: DataLocation, target: UInt64, instruction: UInt64)
    /// A conditional branch, cmov, setcc, fcmov or the end test of a rep scas/cmps read
    /// the flags byte; `rip` is the address after the instruction. Branches on RCX
    /// (jrcxz, loop) first combine RCX into the flags byte so that its labels reach
    /// control (over-approximate: the flags keep them until the next flag write).
    func flagsReachControl(at rip: UInt64)
}

/// No tracking: every hook is empty and inlines to nothing.
public struct NoDataFlow: DataFlowTracker {
    public init() {}
    @inline(__always) public static var tracksData: Bool { false }
    @inline(__always) public func copy(to destination: DataLocation, from source: DataLocation) {}
    @inline(__always) public func combine(into destination: DataLocation, from source: DataLocation) {}
    @inline(__always) public func derive(to destination: DataLocation, from source1: DataLocation, _ source2: DataLocation) {}
    @inline(__always) public func exchange(_ first: DataLocation, _ second: DataLocation) {}
    @inline(__always) public func clear(_ destination: DataLocation) {}
    @inline(__always) public func flags(from source: DataLocation) {}
    @inline(__always) public func addressDependency(of destination: DataLocation, base: Int, index: Int) {}
    @inline(__always) public func controlTransfer(from source: DataLocation, target: UInt64, instruction: UInt64) {}
    @inline(__always) public func flagsReachControl(at rip: UInt64) {}
}
