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
    /// XMM n occupies 16 bytes from 128 + 16n.
    @inline(__always) public static func xmm(_ n: Int) -> UInt64 { 128 + UInt64(n) * 16 }
    /// Physical x87 register n occupies 10 bytes from 384 + 16n.
    @inline(__always) public static func x87(_ n: Int) -> UInt64 { 384 + UInt64(n) * 16 }
    /// The six arithmetic flags, tracked as one byte.
    public static let flags: UInt64 = 512
    /// Total size of the register file in bytes.
    public static let size = 513
}

/// Hooks the interpreter calls for every data movement. Each hook names destination and
/// source locations; the tracker decides what labels mean. All hooks are called after
/// the instruction's operands are known and before it completes; a faulting
/// instruction may have called some of its hooks.
public protocol DataFlowTracker {
    /// `destination` now holds exactly the bytes of `source` (mov, push, pop, movdqu,
    /// zero/sign extension: extension bytes take the labels of the source's top byte
    /// in spirit; a simple tracker may union all source bytes into every destination byte).
    func copy(to destination: DataLocation, from source: DataLocation)
    /// `destination` now depends on its old value and on `source` (add, and, pxor ...).
    func combine(into destination: DataLocation, from source: DataLocation)
    /// `destination` was overwritten with a value computed from `source1` and `source2`
    /// (three-operand forms, lea, imul r, r/m, imm, shifts by a register).
    func derive(to destination: DataLocation, from source1: DataLocation, _ source2: DataLocation)
    /// `destination` now holds a constant (mov imm, xor r, r, setcc from untracked flags).
    func clear(_ destination: DataLocation)
    /// The arithmetic flags now depend on `source` (cmp, test, add ...).
    func flags(from source: DataLocation)
    /// A load at an address computed from these registers (GPR numbers, or -1): a tracker
    /// may add the address registers' labels to `destination` (table lookups).
    func addressDependency(of destination: DataLocation, base: Int, index: Int)
    /// `source` was loaded into RIP (indirect jmp/call, ret): "data steered control".
    func controlTransfer(from source: DataLocation, target: UInt64)
    /// A conditional branch, cmov or setc read the flags.
    func flagsReachControl(at rip: UInt64)
}

/// No tracking: every hook is empty and inlines to nothing.
public struct NoDataFlow: DataFlowTracker {
    public init() {}
    @inline(__always) public func copy(to destination: DataLocation, from source: DataLocation) {}
    @inline(__always) public func combine(into destination: DataLocation, from source: DataLocation) {}
    @inline(__always) public func derive(to destination: DataLocation, from source1: DataLocation, _ source2: DataLocation) {}
    @inline(__always) public func clear(_ destination: DataLocation) {}
    @inline(__always) public func flags(from source: DataLocation) {}
    @inline(__always) public func addressDependency(of destination: DataLocation, base: Int, index: Int) {}
    @inline(__always) public func controlTransfer(from source: DataLocation, target: UInt64) {}
    @inline(__always) public func flagsReachControl(at rip: UInt64) {}
}
