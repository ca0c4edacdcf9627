// Signed checkpoints: what a killed recorder's trace still proves.
//
// manifest.json and its signed root commitment are written when recording ends; a recorder
// killed from outside the recording (SIGKILL by another process of the user, the OOM killer)
// leaves none. While it records, the writer therefore appends a checkpoint about once a
// second to `checkpoints.jsonl` (one JSON object per line, mode 0600): every stream's
// frames, events, bytes and chain value so far, the blobs stored since the previous
// checkpoint, and the SHA-256 root of all that chained to the previous checkpoint's root,
// signed with the recorder's key. `magprov verify` on a trace without a manifest checks the
// checkpoints and says how much of the trace the last valid one covers (docs/ARCHITECTURE.md,
// "Checkpoints").

import Foundation

/// One checkpoint line of `checkpoints.jsonl`.
public struct TraceCheckpoint: Codable, Equatable, Sendable {
    /// 0 for the first checkpoint, then consecutive.
    public var index: Int
    /// The previous checkpoint's `root` ("" for the first): checkpoints form a chain.
    public var previous: String
    /// SHA-256 (hex) of header.json.
    public var headerDigest: String
    /// Every stream written so far, as far as it is on disk.
    public var streams: [StreamSummary]
    /// Blob ids stored since the previous checkpoint.
    public var newBlobs: [BlobID]
    /// Seconds since 1970.
    public var time: Double
    /// Hex SHA-256 of `message`.
    public var root: String
    /// Ed25519 over "magprov trace checkpoint <root>"; nil when the recorder had no key.
    public var signature: TraceSignature?

    /// The canonical text `root` hashes (UTF-8, LF-terminated lines):
    /// `magprov trace checkpoint 3 INDEX PREVIOUS|-`, `header DIGEST`, one
    /// `stream TID FILE FRAMES EVENTS BYTES CHAIN` per stream by tid, one `blob ID` per new
    /// blob in storing order, `time MICROSECONDS`.
    public func message() -> [UInt8] {
        var lines = ["magprov trace checkpoint \(traceFormatVersion) \(index) \(previous.isEmpty ? "-" : previous)",
                     "header \(headerDigest)"]
        for s in streams.sorted(by: { $0.tid < $1.tid }) {
            lines.append("stream \(s.tid) \(s.file) \(s.frames) \(s.events) \(s.bytes) \(s.finalChain)")
        }
        for id in newBlobs { lines.append("blob \(id)") }
        lines.append("time \(TraceCommitment.commitmentMicroseconds(time))")
        return Array(lines.joined(separator: "\n").utf8) + [0x0a]
    }

    /// The root `message` hashes to.
    public func computedRoot() -> String { sha256(message()).hexString }

    /// The bytes a checkpoint's signature covers (a domain apart from the final root's).
    static func signedBytes(root: String) -> [UInt8] { Array("magprov trace checkpoint \(root)".utf8) }

    /// True when the signature is a valid Ed25519 signature over this checkpoint's root.
    public var hasValidSignature: Bool {
        signature?.isValid(message: TraceCheckpoint.signedBytes(root: root)) ?? false
    }
}

/// Reading `checkpoints.jsonl`.
public enum TraceCheckpoints {
    public static let fileName = "checkpoints.jsonl"

    /// The checkpoints of a trace directory, in file order, up to the first line that does
    /// not decode (a recorder killed while appending leaves half a line); `problem` names
    /// that line. No file: no checkpoints, no problem.
    public static func read(directory: String) -> (checkpoints: [TraceCheckpoint], problem: String?) {
        guard let data = FileManager.default.contents(atPath: directory + "/" + fileName) else { return ([], nil) }
        return parse(data)
    }

    /// The checkpoints in the bytes of a `checkpoints.jsonl`, as `read` returns them.
    public static func parse(_ data: Data) -> (checkpoints: [TraceCheckpoint], problem: String?) {
        var result: [TraceCheckpoint] = []
        let lines = data.split(separator: 0x0a, omittingEmptySubsequences: false)
        for (number, line) in lines.enumerated() {
            if line.isEmpty && number == lines.count - 1 { break }
            guard let checkpoint = try? JSONDecoder().decode(TraceCheckpoint.self, from: Data(line)) else {
                return (result, "line \(number + 1) of \(fileName) does not decode (cut off when the recorder died?)")
            }
            result.append(checkpoint)
        }
        return (result, nil)
    }
}

/// Appends checkpoints for a `TraceWriter`.
final class CheckpointWriter {
    private let path: String
    private let headerDigest: String
    private let signingKey: TraceSigningKey?
    private var fd: Int32 = -1
    private var index = 0
    private var previous = ""
    private var lastState: [StreamSummary] = []

    init(directory: String, headerDigest: String, signingKey: TraceSigningKey?) {
        path = directory + "/" + TraceCheckpoints.fileName
        self.headerDigest = headerDigest
        self.signingKey = signingKey
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Appends a checkpoint of `streams` (as flushed to disk) and `newBlobs`, unless
    /// nothing changed since the previous one. Cost: one SHA-256 of a short text, one
    /// Ed25519 signature (~30 µs) and one write(2).
    func append(streams: [StreamSummary], newBlobs: [BlobID]) throws {
        let sorted = streams.sorted { $0.tid < $1.tid }
        if sorted == lastState && newBlobs.isEmpty { return }
        var checkpoint = TraceCheckpoint(index: index, previous: previous, headerDigest: headerDigest, streams: sorted,
                                         newBlobs: newBlobs, time: Date().timeIntervalSince1970, root: "", signature: nil)
        checkpoint.root = checkpoint.computedRoot()
        checkpoint.signature = try signingKey?.sign(message: TraceCheckpoint.signedBytes(root: checkpoint.root))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let line = Array(try encoder.encode(checkpoint)) + [0x0a]
        if fd < 0 {
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw TraceError.io(path: path, errno: errno) }
        }
        // One write(2) per line: O_APPEND keeps lines whole unless the recorder dies inside it.
        var offset = 0
        while offset < line.count {
            let n = line.withUnsafeBytes { write(fd, $0.baseAddress! + offset, line.count - offset) }
            if n < 0 { if errno == EINTR { continue }; throw TraceError.io(path: path, errno: errno) }
            offset += n
        }
        index += 1
        previous = checkpoint.root
        lastState = sorted
    }
}
