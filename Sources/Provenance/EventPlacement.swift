// Event coordinates -> object coordinates.
//
// The taint replay names bytes in *event coordinates*: (global sequence number of the
// syscall event that moved them, offset within the bytes that event moved). The graph
// names objects by node version. An `EventPlacement` joins the two: for one event, which
// node version it read or wrote, and at which offset of the object's byte space the
// event's bytes start.
//
// Byte spaces ("streams") are what lets lineage compose across processes:
//   - a file is one byte space addressed by file offset (read/write advance the
//     descriptor's position, pread/pwrite name it, lseek moves it, O_APPEND writes go to
//     the end when the size is known, mmap maps pages from the mapping's offset);
//   - a pipe, or a socket end whose peer is in the recording, is one stream addressed by
//     how many bytes had been written into it before: a read of n bytes at stream position
//     p delivers bytes [p, p+n) of what the writers wrote, in global order;
//   - a socket whose peer is outside the recording has two streams, what was sent and
//     what was received, and nothing in the recording writes the second.
// Where an offset cannot be known (a descriptor inherited from outside, an O_APPEND write
// to a file of unknown size) it is nil and composition falls back to the whole event.

/// What an event did to the object it is placed on.
public enum PlacementRole: String, Sendable, Codable, CaseIterable {
    /// Delivered object bytes to user memory (read, pread64, readv, recvfrom, recvmsg...).
    case contentIn
    /// Sent user memory bytes to the object (write, pwrite64, writev, sendto, sendmsg...).
    case contentOut
    /// Delivered facts about the object rather than its bytes (getdents, fstat, stat).
    case metadataIn
    /// Mapped the object's pages into memory (mmap of a file, readable or executable).
    case mapIn
    /// Mapped the object shared and writable: stores into the mapping reach the object.
    case mapOut
    /// The reading side of a kernel copy (sendfile, splice, tee, copy_file_range).
    case copyIn
    /// The writing side of a kernel copy; its bytes are the `copyIn` bytes of the same event.
    case copyOut
    /// Cut the object at `offset` (O_TRUNC, creat, truncate, ftruncate): bytes at or past
    /// it are gone.
    case reset
    /// Made or changed the object without moving bytes into it (open with O_CREAT,
    /// rename, chmod, unlink, bind...): an output event whose inputs can only be control
    /// flow or the bytes of a path argument.
    case generated

    /// Roles whose bytes come out of the object into the process.
    public var isInput: Bool { self == .contentIn || self == .metadataIn || self == .mapIn || self == .copyIn }
    /// Roles by which the process changes the object.
    public var isOutput: Bool { !isInput }
}

/// Where one syscall event's bytes lie in an object version.
public struct EventPlacement: Equatable, Sendable, Codable {
    /// Global sequence number of the event (the taint summaries' event coordinate).
    public var sequence: UInt64
    /// The task that made the call.
    public var tid: Int32
    /// Index of the replay unit (process image) the event belongs to in the builder's
    /// `units`, or -1 when it belongs to none (the root task before its first exec).
    public var unit: Int
    /// The process node that made the call (the version current at the call).
    public var process: Int
    /// The object node version read or written.
    public var object: Int
    public var role: PlacementRole
    /// The byte space the offsets count in: equal for the writer and the reader of the
    /// same bytes (a pipe's writers and readers, a socket end and its peer's reads).
    public var stream: Int
    /// Object (or stream) offset of the event's byte 0; nil when unknown.
    public var offset: Int64?
    /// Bytes the event moved (for `reset`, 0).
    public var length: Int64
    /// The syscall (`read`, `pwrite64`, `mmap`, `sendfile`...).
    public var operation: String

    public init(sequence: UInt64, tid: Int32, unit: Int, process: Int, object: Int, role: PlacementRole,
                stream: Int, offset: Int64?, length: Int64, operation: String) {
        self.sequence = sequence; self.tid = tid; self.unit = unit; self.process = process; self.object = object
        self.role = role; self.stream = stream; self.offset = offset; self.length = length; self.operation = operation
    }

    /// The object byte range the event covered, when its offset is known.
    public var objectRange: Range<Int64>? { offset.map { $0..<($0 + max(length, 0)) } }
}

/// One replay unit as the trace shows it: a process image from its exec, or a child
/// forked without exec from its start (the same split `magprov replay` makes), so that
/// events can be matched with the taint summary of the unit that ran them.
public struct ReplayUnitInfo: Equatable, Sendable, Codable {
    public var pid: Int32
    /// The task that starts the unit (the exec'ing or the forked task).
    public var tid: Int32
    /// Global sequence number of the exec snapshot or the task start.
    public var startSequence: UInt64
    public var executable: String
    /// True for a child forked without exec (it runs its parent's program).
    public var forked: Bool

    public init(pid: Int32, tid: Int32, startSequence: UInt64, executable: String, forked: Bool) {
        self.pid = pid; self.tid = tid; self.startSequence = startSequence; self.executable = executable
        self.forked = forked
    }
}

/// A coarse graph with the coordinates the refinement needs.
public struct CoarseBuild: Sendable {
    public var graph: ProvenanceGraph
    /// Every content, metadata, mapping, copy, truncation and generating event, in the
    /// order the builder met them (sort by `sequence` for global order).
    public var placements: [EventPlacement]
    public var units: [ReplayUnitInfo]
    /// The replay unit (index into `units`) each process node belongs to; absent for
    /// process nodes outside any unit (the root task before its first exec).
    public var processUnits: [Int: Int]

    public init(graph: ProvenanceGraph, placements: [EventPlacement], units: [ReplayUnitInfo], processUnits: [Int: Int]) {
        self.graph = graph; self.placements = placements; self.units = units; self.processUnits = processUnits
    }
}
