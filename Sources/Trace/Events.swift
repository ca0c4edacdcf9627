// The events of a trace. An event is an immutable value: what one task did or received at
// one point of the recording, stamped with a global sequence number that orders events
// across all tasks (replay follows it to reproduce the recorded thread interleaving).
// How an event was captured (ptrace stop or, later, an in-process buffer) is not part of it.

/// The general registers as ptrace's `struct user_regs_struct` lays them out (27 words).
public struct RegisterFile: Equatable, Sendable {
    public var words: [UInt64]

    public static let count = 27
    public init(words: [UInt64] = Array(repeating: 0, count: RegisterFile.count)) {
        self.words = words.count == RegisterFile.count ? words : Array(repeating: 0, count: RegisterFile.count)
    }

    // Indices into `user_regs_struct` (asm/ptrace.h order).
    public enum Index: Int, CaseIterable, Sendable {
        case r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi, origRax
        case rip, cs, eflags, rsp, ss, fsBase, gsBase, ds, es, fs, gs
    }

    public subscript(_ index: Index) -> UInt64 {
        get { words[index.rawValue] }
        set { words[index.rawValue] = newValue }
    }
}

/// Bytes the kernel wrote into the task's memory.
public struct MemoryWrite: Equatable, Sendable {
    public var address: UInt64
    public var bytes: [UInt8]
    /// Set when the writer of the event already stored the bytes as blob chunks of
    /// `BlobStore.chunkLength` (the recorder does so for writes over `inlineEventLimit`, so
    /// that it never holds a large read whole); `bytes` is then empty. Readers always
    /// return the bytes themselves, with this nil.
    public var storedChunks: [BlobID]?
    /// The length of the write when `storedChunks` holds it.
    public var storedLength: Int = 0

    public init(address: UInt64, bytes: [UInt8]) { self.address = address; self.bytes = bytes }

    /// A write whose bytes are already in the blob store, `length` bytes in `chunks`.
    public init(address: UInt64, storedChunks chunks: [BlobID], length: Int) {
        self.address = address; self.bytes = []; self.storedChunks = chunks; self.storedLength = length
    }

    /// The write's length in bytes, wherever the bytes are.
    public var length: Int { storedChunks == nil ? bytes.count : storedLength }
}

/// A buffer the task passed in (write, sendto, ...): enough to check a replay's buffer
/// byte for byte (by hash) and to show the start of it in a divergence report.
public struct BufferDigest: Equatable, Sendable {
    public var address: UInt64
    public var length: Int
    public var hash: UInt64
    public var prefix: [UInt8]

    public static let prefixLength = 64
    public init(address: UInt64, bytes: [UInt8]) {
        self.address = address
        self.length = bytes.count
        self.hash = fnv1a64(bytes)
        self.prefix = Array(bytes.prefix(Self.prefixLength))
    }
    public init(address: UInt64, length: Int, hash: UInt64, prefix: [UInt8]) {
        self.address = address; self.length = length; self.hash = hash; self.prefix = prefix
    }
}

/// FNV-1a, 64-bit: a fast, stable digest for comparing buffers (not a security hash;
/// the frame chain is what makes the trace tamper-evident).
public func fnv1a64<C: Sequence>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}

/// What a path argument or a descriptor resolved to when the syscall ran: the identity the
/// kernel used, so a symlink swapped later cannot mislead (time-of-check/time-of-use).
public struct ObjectIdentity: Equatable, Sendable {
    /// The argument index this describes, or -1 for the syscall's result (a new fd).
    public var argument: Int
    /// The path as the task passed it (for path arguments), empty for descriptors.
    public var requested: String
    /// What `/proc/PID/fd/N` or the resolved path reads as (e.g. `/etc/passwd`,
    /// `pipe:[1234]`, `socket:[5678]`).
    public var resolved: String
    public var device: UInt64
    public var inode: UInt64
    /// `st_mode` file type bits (S_IFREG, S_IFIFO, ...), 0 if unknown.
    public var mode: UInt32

    public init(argument: Int, requested: String, resolved: String, device: UInt64, inode: UInt64, mode: UInt32) {
        self.argument = argument; self.requested = requested; self.resolved = resolved
        self.device = device; self.inode = inode; self.mode = mode
    }
}

/// A content-addressed blob: lowercase hex SHA-256 of the raw bytes.
public typealias BlobID = String

/// One mapping of an address space, with its bytes as blobs (chunks of at most 1 MiB).
public struct MappingSnapshot: Equatable, Sendable {
    public var start: UInt64
    public var end: UInt64
    /// `r`, `w`, `x` bits as PROT_READ/WRITE/EXEC.
    public var protection: UInt32
    public var shared: Bool
    public var offset: UInt64
    public var device: UInt64
    public var inode: UInt64
    /// The pathname column of /proc/PID/maps (`[stack]`, a file path, or empty).
    public var path: String
    /// Contents in order; empty when the range could not be read (e.g. PROT_NONE guard).
    public var blobs: [BlobID]

    public init(start: UInt64, end: UInt64, protection: UInt32, shared: Bool, offset: UInt64,
                device: UInt64, inode: UInt64, path: String, blobs: [BlobID]) {
        self.start = start; self.end = end; self.protection = protection; self.shared = shared
        self.offset = offset; self.device = device; self.inode = inode; self.path = path; self.blobs = blobs
    }
}

public struct SyscallFlags: OptionSet, Sendable, Equatable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The supervisor did not let the kernel run it and returned `result` itself
    /// (rseq, io_uring, other-ABI syscalls).
    public static let refused = SyscallFlags(rawValue: 1)
    /// The syscall table does not model this syscall's memory effects.
    public static let unmodeled = SyscallFlags(rawValue: 2)
    /// The task was still inside the syscall when the recording ended.
    public static let unfinished = SyscallFlags(rawValue: 4)
    /// The syscall came from another ABI (int 0x80 / x32).
    public static let foreignABI = SyscallFlags(rawValue: 8)
    /// The call ran without a stop and was logged by the syscall buffer's preload library in
    /// the tracee's own memory (`record --syscall-buffer`): the program's word, not the
    /// supervisor's observation (`RecordingMode.buffered`).
    public static let buffered = SyscallFlags(rawValue: 16)
    /// The objects named for this call's path arguments may not be the ones the kernel
    /// used: another task of the recording changed the filesystem namespace (rename,
    /// unlink, symlink, mount, chdir …) between the supervisor's resolution of the paths at
    /// the entry and the call's exit, so a swapped symlink or directory could have sent the
    /// kernel elsewhere (issue 11, the filesystem half of time of check / time of use). Set
    /// on calls that return no descriptor; a returned descriptor names what the kernel used.
    public static let pathRaced = SyscallFlags(rawValue: 32)
    /// A shared mapping (`mmap` with `MAP_SHARED` of a file or memfd, `shmat`) of an object
    /// another recorded process mapped already, one of them writable: from this call's exit
    /// on, the recorder scheduled the caller in one shared-memory group with those
    /// processes (one member in user code at a time, switches recorded;
    /// Recorder/SharedMemoryScheduling.swift), so replay runs them in one schedule.
    public static let joinedSharedMemoryGroup = SyscallFlags(rawValue: 64)
}

public struct SyscallEvent: Equatable, Sendable {
    public var number: Int
    public var arguments: [UInt64]
    public var result: Int64
    public var flags: SyscallFlags
    /// What the kernel wrote to memory, in the order it is to be applied.
    public var writes: [MemoryWrite]
    /// Digests of the buffers the task passed in.
    public var inputs: [BufferDigest]
    /// Paths and descriptors named by the arguments (and a new fd in the result).
    public var objects: [ObjectIdentity]
    /// For file mmaps: the bytes now mapped.
    public var mapped: MappingSnapshot?
    /// Registers after the syscall when it changes more than rax (rt_sigreturn).
    public var registersAfter: RegisterFile?
    /// Nanoseconds between the entry and exit stops.
    public var duration: UInt64
    /// Global sequence number taken when the task entered the syscall (left user mode).
    /// The event itself is stamped at the exit; replay orders the user-mode work of
    /// threads by this number, because a thread's code before a syscall ran before
    /// everything sequenced after its entry.
    public var entrySequence: UInt64

    public init(number: Int, arguments: [UInt64], result: Int64 = 0, flags: SyscallFlags = [],
                writes: [MemoryWrite] = [], inputs: [BufferDigest] = [], objects: [ObjectIdentity] = [],
                mapped: MappingSnapshot? = nil, registersAfter: RegisterFile? = nil, duration: UInt64 = 0,
                entrySequence: UInt64 = 0) {
        self.number = number; self.arguments = arguments; self.result = result; self.flags = flags
        self.writes = writes; self.inputs = inputs; self.objects = objects; self.mapped = mapped
        self.registersAfter = registersAfter; self.duration = duration; self.entrySequence = entrySequence
    }
}

/// The state the kernel left after a successful exec: where replay of a process starts.
public struct ExecSnapshot: Equatable, Sendable {
    public var path: String
    public var argv: [String]
    public var environment: [String]
    public var registers: RegisterFile
    /// 512-byte FXSAVE image (x87, MXCSR, XMM).
    public var fpRegisters: [UInt8]
    public var mappings: [MappingSnapshot]
    /// The auxiliary vector as the process sees it (after AT_SYSINFO_EHDR was removed).
    public var auxv: [UInt8]

    public init(path: String, argv: [String], environment: [String], registers: RegisterFile,
                fpRegisters: [UInt8], mappings: [MappingSnapshot], auxv: [UInt8]) {
        self.path = path; self.argv = argv; self.environment = environment; self.registers = registers
        self.fpRegisters = fpRegisters; self.mappings = mappings; self.auxv = auxv
    }
}

public struct SignalEvent: Equatable, Sendable {
    public enum Kind: UInt8, Sendable {
        /// Raised by the task's own instruction (fault, trap): delivered where it happened.
        case synchronous = 0
        /// Sent from outside; held by the supervisor and delivered at a syscall stop.
        case asynchronous = 1
    }
    public enum Outcome: UInt8, Sendable {
        /// A handler ran: `handlerRegisters` and `frame` describe its entry.
        case handled = 0
        /// Ignored or blocked-and-discarded by disposition.
        case ignored = 1
        /// The default action ended or stopped the task.
        case defaultAction = 2
    }
    public var signal: Int32
    public var kind: Kind
    public var outcome: Outcome
    /// 128-byte siginfo_t as the kernel reported it.
    public var siginfo: [UInt8]
    /// Registers at the point of delivery.
    public var registers: RegisterFile
    /// Registers at the handler's first instruction, and the signal frame the kernel
    /// pushed, when a handler ran.
    public var handlerRegisters: RegisterFile?
    public var frame: MemoryWrite?

    public init(signal: Int32, kind: Kind, outcome: Outcome, siginfo: [UInt8], registers: RegisterFile,
                handlerRegisters: RegisterFile? = nil, frame: MemoryWrite? = nil) {
        self.signal = signal; self.kind = kind; self.outcome = outcome; self.siginfo = siginfo
        self.registers = registers; self.handlerRegisters = handlerRegisters; self.frame = frame
    }
}

/// A nondeterministic instruction the supervisor ran for the program, and the value it
/// gave: a trapped rdtsc/rdtscp (`instruction` nil), or an rdrand/rdseed/rdpid the
/// recorder rewrote into a trap where the code became executable (`instruction` holds its
/// original bytes; NondeterministicInstruction.swift).
public struct TimestampEvent: Equatable, Sendable {
    public var address: UInt64
    public var value: UInt64
    /// TSC_AUX (rcx) for rdtscp; nil for rdtsc. For rdrand/rdseed: the carry flag (1: a
    /// value was returned); nil for rdpid.
    public var aux: UInt32?
    /// The rewritten instruction's own bytes (format version 4); nil for rdtsc/rdtscp.
    public var instruction: [UInt8]?
    public init(address: UInt64, value: UInt64, aux: UInt32?, instruction: [UInt8]? = nil) {
        self.address = address; self.value = value; self.aux = aux; self.instruction = instruction
    }
}

public struct TaskStart: Equatable, Sendable {
    public enum Kind: UInt8, Sendable { case root = 0, fork = 1, vfork = 2, thread = 3 }
    public var tid: Int32
    /// Thread-group id (the process id).
    public var pid: Int32
    /// The task that created this one (0 for the root).
    public var parent: Int32
    public var kind: Kind
    public var cloneFlags: UInt64
    /// Set (format 4) when the new process shares writable memory with the process of this
    /// id (a fork while holding a `MAP_SHARED` mapping) and the recorder scheduled them as
    /// one shared-memory group: one member runs user code at a time, like threads, so
    /// replay can run them together. Nil for threads and for processes scheduled alone.
    public var sharedMemoryGroup: Int32?
    public init(tid: Int32, pid: Int32, parent: Int32, kind: Kind, cloneFlags: UInt64, sharedMemoryGroup: Int32? = nil) {
        self.tid = tid; self.pid = pid; self.parent = parent; self.kind = kind; self.cloneFlags = cloneFlags
        self.sharedMemoryGroup = sharedMemoryGroup
    }
}

public struct TaskExit: Equatable, Sendable {
    /// Exit code when the task exited, nil when a signal ended it.
    public var exitCode: Int32?
    public var signal: Int32?
    public init(exitCode: Int32?, signal: Int32?) { self.exitCode = exitCode; self.signal = signal }
}

/// The supervisor let this task run user code (threads of a process run one at a time);
/// `preempted` is set when the watchdog stopped a task that ran too long without a syscall,
/// with the registers where it stopped.
public struct ScheduleEvent: Equatable, Sendable {
    public var preemptedAt: RegisterFile?
    /// Format 4: at a preemption of a member of a shared-memory group, the content of its
    /// writable shared mappings, so replay can tell apart two points with the same
    /// registers (a loop that only increments shared memory). Nil otherwise.
    public var sharedPages: SharedPagesFingerprint?
    public init(preemptedAt: RegisterFile?, sharedPages: SharedPagesFingerprint? = nil) {
        self.preemptedAt = preemptedAt; self.sharedPages = sharedPages
    }
}

/// The FNV-1a 64 hash (`fnv1a64`) of the bytes of `ranges`, concatenated in order.
public struct SharedPagesFingerprint: Equatable, Sendable {
    /// Page-aligned address ranges `[start, end)`, ascending.
    public var ranges: [Range<UInt64>]
    public var hash: UInt64
    public init(ranges: [Range<UInt64>], hash: UInt64) { self.ranges = ranges; self.hash = hash }

    /// FNV-1a 64 over `pieces` concatenated (the bytes of each range in order), as recorder
    /// and replayer compute it.
    public static func hash<S: Sequence>(_ pieces: S) -> UInt64 where S.Element == [UInt8] {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for piece in pieces { for b in piece { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 } }
        return h
    }
}

public enum EventBody: Equatable, Sendable {
    case taskStart(TaskStart)
    case exec(ExecSnapshot)
    case syscall(SyscallEvent)
    case signal(SignalEvent)
    case timestamp(TimestampEvent)
    case schedule(ScheduleEvent)
    case taskExit(TaskExit)
}

public struct TraceEvent: Equatable, Sendable {
    /// Global order across every task of the recording.
    public var sequence: UInt64
    /// Nanoseconds since the recording started.
    public var time: UInt64
    public var tid: Int32
    public var body: EventBody

    public init(sequence: UInt64, time: UInt64, tid: Int32, body: EventBody) {
        self.sequence = sequence; self.time = time; self.tid = tid; self.body = body
    }
}
