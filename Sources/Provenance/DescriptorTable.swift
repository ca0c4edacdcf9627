// Per-process descriptor tables, as the builder replays them from the trace.
//
// An `OpenFile` is the kernel's open file description: dup and fork share it (and its
// offset); a `DescriptorTable` maps numbers to descriptions with a per-number close-on-exec
// flag. Threads created with CLONE_FILES share one table; fork copies it; exec drops the
// close-on-exec entries. The recorder's `objects` identities win over what this table
// says whenever a syscall carries them (they are what the kernel actually resolved).

/// The kernel's open file description: what a descriptor refers to and where it is.
final class OpenFile {
    /// Index of the builder's entity this description refers to.
    var entity: Int
    /// open(2) flags (access mode, O_APPEND...).
    var flags: Int32
    /// Current file offset; nil when unknown (O_APPEND, or never observed).
    var offset: Int64?

    init(entity: Int, flags: Int32, offset: Int64?) {
        self.entity = entity; self.flags = flags; self.offset = offset
    }

    var isWritable: Bool { flags & 3 != 0 }
}

final class DescriptorTable {
    struct Slot {
        var file: OpenFile
        var closeOnExec: Bool
    }
    private(set) var slots: [Int32: Slot] = [:]

    init() {}

    subscript(_ fd: Int32) -> Slot? {
        get { slots[fd] }
        set { slots[fd] = newValue }
    }

    /// fork: same descriptions, new table.
    func copy() -> DescriptorTable {
        let t = DescriptorTable()
        t.slots = slots
        return t
    }

    /// exec: O_CLOEXEC descriptors close.
    func closeOnExec() {
        slots = slots.filter { !$0.value.closeOnExec }
    }

    @discardableResult
    func close(_ fd: Int32) -> Slot? { slots.removeValue(forKey: fd) }

    /// Descriptors in [first, last], ascending (close_range).
    func numbers(in first: Int32, _ last: Int32) -> [Int32] {
        slots.keys.filter { $0 >= first && $0 <= last }.sorted()
    }
}

/// Linux open(2) flag and fcntl(2) command values (x86-64, include/uapi/asm-generic).
enum OpenFlags {
    static let accessMode: Int32 = 3
    static let readOnly: Int32 = 0
    static let create: Int32 = 0o100
    static let exclusive: Int32 = 0o200
    static let truncate: Int32 = 0o1000
    static let append: Int32 = 0o2000
    static let closeOnExec: Int32 = 0o2000000
    /// AT_FDCWD as a 32-bit int.
    static let atFDCWD: Int32 = -100
}

enum FcntlCommand {
    static let dupFD: Int32 = 0, getFD: Int32 = 1, setFD: Int32 = 2, getFL: Int32 = 3, setFL: Int32 = 4
    static let dupFDCloseOnExec: Int32 = 1030
}
