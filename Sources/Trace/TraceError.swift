#if canImport(Glibc)
import Glibc
#endif

/// Everything that can go wrong reading or writing a trace, with messages a user can act on.
public enum TraceError: Error, CustomStringConvertible, Equatable {
    case io(path: String, errno: Int32)
    case notATrace(directory: String, reason: String)
    /// A writer was asked to create a trace where something already is (a recorded trace,
    /// other files, or a file); recorded data is never overwritten.
    case outputExists(path: String, what: String)
    case unsupportedVersion(found: Int, supported: Int)
    case truncated(stream: String, frame: Int, reason: String)
    case corruptFrame(stream: String, frame: Int, reason: String)
    case missingBlob(id: String)
    case corruptBlob(id: String, reason: String)
    case unknownTask(tid: Int32)
    /// One event would not fit a frame (the writer refuses it rather than write an unreadable frame).
    case eventTooLarge(stream: String, sequence: UInt64, bytes: Int)

    public var description: String {
        switch self {
        case .io(let path, let e): return "\(path): \(String(cString: strerror(e)))"
        case .notATrace(let dir, let reason): return "\(dir) is not a magprov trace: \(reason)"
        case .outputExists(let path, let what):
            return "\(path) already exists and \(what); magprov never overwrites it: choose another directory with -o, or remove it first"
        case .unsupportedVersion(let found, let supported):
            return "trace format version \(found); this magprov reads \(supported)"
        case .truncated(let stream, let frame, let reason):
            return "stream \(stream), frame \(frame): truncated: \(reason); events before this frame are intact"
        case .corruptFrame(let stream, let frame, let reason):
            return "stream \(stream), frame \(frame): corrupt: \(reason); events before this frame are intact"
        case .missingBlob(let id): return "blob \(id) is missing from the trace's blob store"
        case .corruptBlob(let id, let reason): return "blob \(id) is corrupt: \(reason)"
        case .unknownTask(let tid): return "the trace has no task \(tid)"
        case .eventTooLarge(let stream, let sequence, let bytes):
            return "stream \(stream): event \(sequence) encodes to \(bytes) bytes, more than a frame may hold; it was not written"
        }
    }
}
