// A trace is a directory (mode 0700; every file 0600):
//   header.json        TraceHeader: format version, machine, CPUID leaves, command, env
//   tasks/<tid>.events one EventStream per task (thread)
//   blobs/             BlobStore: mapped files, address-space snapshots, large reads
//   manifest.json      TraceManifest, written when recording ends: streams, frame counts,
//                      final chain values, blob list, exit status, the root commitment
//                      over all of it and header.json, and its Ed25519 signature. Missing
//                      after a killed recorder; the streams are still readable up to their
//                      last whole frame, but nothing is committed.
// docs/ARCHITECTURE.md ("Trace format") gives the byte-level layout.

import Foundation
import SystemPackage

/// The trace format this magprov writes and reads. Version 3: blobs are standard LZ4
/// frames, large memory writes live in blobs, the manifest commits to header, streams and
/// blobs and is signed. Version 4: a timestamp event may carry the bytes of a rewritten
/// rdrand/rdseed/rdpid, a forked child's `TaskStart` may name the shared-memory group it
/// was scheduled with, a preemption's `ScheduleEvent` may carry a fingerprint of the
/// shared pages, the header names the recording mode (`TraceHeader.recordingMode`) and
/// buffered syscall events carry `SyscallFlags.buffered`. Readers refuse other versions
/// and name both.
public let traceFormatVersion = 5

/// How the recorder captured syscalls, and so what a trace's events rest on
/// (docs/ARCHITECTURE.md, "Syscall buffer"; README, what each recording mode trusts).
public enum RecordingMode: String, Codable, Equatable, Sendable {
    /// Every syscall stopped in the supervisor (`magprov record`, the default): every event
    /// is the supervisor's own observation.
    case stopping
    /// `magprov record --syscall-buffer`: calls on descriptors the program already holds were
    /// logged by a preload library inside the program and drained from its memory. Those
    /// events (flagged `SyscallFlags.buffered`) rest on the program's own log.
    case buffered

    /// The sentence every answer built from a trace of this mode carries; nil for `stopping`.
    public var trustNotice: String? {
        switch self {
        case .stopping: return nil
        case .buffered:
            return "recorded with --syscall-buffer: the bytes read and written on open descriptors " +
                "(events flagged buffered) are the program's own log from its in-process buffer, not " +
                "the recorder's observation; `magprov record` without it stops on every syscall"
        }
    }
}

public struct CPUIDLeaf: Codable, Equatable, Sendable {
    public var leaf: UInt32, subleaf: UInt32, eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32
    public init(leaf: UInt32, subleaf: UInt32, eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) {
        self.leaf = leaf; self.subleaf = subleaf; self.eax = eax; self.ebx = ebx; self.ecx = ecx; self.edx = edx
    }
}

public struct TraceHeader: Codable, Equatable, Sendable {
    public var formatVersion: Int
    public var magprovVersion: String
    public var kernel: String
    public var hostname: String
    public var cpuModel: String
    /// The recording CPU's real CPUID leaves; replay's cpuid answers from these.
    public var cpuid: [CPUIDLeaf]
    /// XCR0 as `xgetbv` reported it (not trappable either: replay must answer the same).
    public var xcr0: UInt64?
    /// Environment entries magprov added to mask CPU feature selection in the recorded run.
    public var featureMask: [String]
    public var command: String
    public var argv: [String]
    public var environment: [String]
    public var cwd: String
    public var startTime: Double
    public var uid: UInt32
    public var gid: UInt32
    /// Which recorder mode wrote the events; optional in the JSON, and a header without it
    /// reads as `.stopping` (`mode`).
    public var recordingMode: RecordingMode?

    /// The recording mode, `.stopping` when the header does not name one.
    public var mode: RecordingMode { recordingMode ?? .stopping }

    public init(formatVersion: Int = traceFormatVersion, magprovVersion: String, kernel: String, hostname: String,
                cpuModel: String, cpuid: [CPUIDLeaf], xcr0: UInt64? = nil, featureMask: [String], command: String, argv: [String],
                environment: [String], cwd: String, startTime: Double, uid: UInt32, gid: UInt32,
                recordingMode: RecordingMode? = .stopping) {
        self.recordingMode = recordingMode
        self.formatVersion = formatVersion; self.magprovVersion = magprovVersion; self.kernel = kernel
        self.hostname = hostname; self.cpuModel = cpuModel; self.cpuid = cpuid; self.xcr0 = xcr0; self.featureMask = featureMask
        self.command = command; self.argv = argv; self.environment = environment; self.cwd = cwd
        self.startTime = startTime; self.uid = uid; self.gid = gid
    }
}

public struct StreamSummary: Codable, Equatable, Sendable {
    public var tid: Int32
    public var file: String
    public var frames: UInt32
    public var events: UInt64
    public var bytes: UInt64
    /// Hex SHA-256 chain value after the last frame.
    public var finalChain: String
}

public struct TraceManifest: Codable, Equatable, Sendable {
    public var streams: [StreamSummary]
    public var endTime: Double
    public var exitCode: Int32?
    public var exitSignal: Int32?
    public var syscalls: UInt64
    public var tasks: Int
    public var blobs: Int
    public var blobBytes: UInt64
    public var blobRawBytes: UInt64
    /// Hex SHA-256 of header.json's bytes.
    public var headerDigest: String
    /// Every blob of the trace, ascending.
    public var blobIDs: [BlobID]
    /// The root commitment (`TraceCommitment.root`): hex SHA-256 of a canonical text naming
    /// `headerDigest`, every stream's counts and final chain value, every blob and the other
    /// fields above. Taint summaries and the graph store name the trace by it.
    public var rootChain: String
    /// The recorder's Ed25519 signature over `rootChain`; nil when the recorder had no key.
    public var signature: TraceSignature?
}

/// Writes a trace directory. Only the supervisor writes; memory stays bounded because
/// streams flush frame by frame and blobs go straight to disk.
public final class TraceWriter {
    public let directory: String
    public let header: TraceHeader
    public let blobs: BlobStore
    private var streams: [Int32: EventStreamWriter] = [:]
    private var closedStreams: [StreamSummary] = []
    private var closedStreamHashing = HashingCost()
    private let headerDigest: String
    private let signingKey: TraceSigningKey?
    private let checkpoints: CheckpointWriter

    /// Creates the trace directory (mode 0700; it must not exist or be empty) and writes
    /// header.json (0600).
    /// - Parameter signingKey: signs the root commitment in `finish`; nil leaves it unsigned.
    /// - Throws: `TraceError.outputExists` when `directory` is a file or a non-empty
    ///   directory (a recorded trace above all), `TraceError.io`.
    public init(directory: String, header: TraceHeader, signingKey: TraceSigningKey? = nil) throws {
        self.directory = directory
        self.header = header
        self.signingKey = signingKey
        let fm = FileManager.default
        if let problem = TraceWriter.outputProblem(directory) { throw problem }
        // The parent folder ("" for a name without a slash). NSString's
        // deletingLastPathComponent traps on some relative names in swift-corelibs.
        let parent = directory.lastIndex(of: "/").map { String(directory[..<$0]) } ?? ""
        if !parent.isEmpty { try? fm.createDirectory(atPath: parent, withIntermediateDirectories: true) }
        if mkdir(directory, 0o700) != 0 {
            guard errno == EEXIST else { throw TraceError.io(path: directory, errno: errno) }
            guard chmod(directory, 0o700) == 0 else { throw TraceError.io(path: directory, errno: errno) }
        }
        if mkdir(directory + "/tasks", 0o700) != 0 { throw TraceError.io(path: directory + "/tasks", errno: errno) }
        blobs = try BlobStore(directory: directory + "/blobs")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let headerBytes = try encoder.encode(header)
        headerDigest = sha256(Array(headerBytes)).hexString
        try writePrivateFile(headerBytes, to: directory + "/header.json")
        checkpoints = CheckpointWriter(directory: directory, headerDigest: headerDigest, signingKey: signingKey)
    }

    /// Why a trace cannot be created at `directory` without overwriting something, nil when
    /// it can (nothing there, or an empty directory). Callers check before starting work
    /// that would be lost (`magprov record` checks before it starts the command).
    public static func outputProblem(_ directory: String) -> TraceError? {
        var info = stat()
        guard lstat(directory, &info) == 0 else { return nil }
        guard info.st_mode & S_IFMT == S_IFDIR else { return .outputExists(path: directory, what: "is not a directory") }
        guard let existing = try? FileManager.default.contentsOfDirectory(atPath: directory), !existing.isEmpty else { return nil }
        if existing.contains("header.json") || existing.contains("tasks") {
            return .outputExists(path: directory, what: "holds a recorded magprov trace")
        }
        return .outputExists(path: directory, what: "is a directory that is not empty")
    }

    public func append(_ event: TraceEvent) throws {
        let stream: EventStreamWriter
        if let s = streams[event.tid] {
            stream = s
        } else {
            stream = try EventStreamWriter(path: "\(directory)/tasks/\(event.tid).events", tid: event.tid, blobs: blobs)
            streams[event.tid] = stream
        }
        try stream.append(event)
    }

    /// SHA-256 work so far: every frame's chain value and every blob's name (the root
    /// commitment's one hash is not counted). Cost: a sum over the open streams.
    public var hashing: HashingCost {
        streams.values.reduce(closedStreamHashing + blobs.hashing) { $0 + $1.hashing }
    }

    /// Flushes every stream's pending frame (called periodically so a killed recorder
    /// loses little).
    public func flushAll() throws { for s in streams.values { try s.flush() } }

    /// Flushes one task's pending events as a frame (write(2), no fsync): the supervisor
    /// calls it after each syscall with effects outside the task, so a recorder killed from
    /// outside loses no completed one (docs/ARCHITECTURE.md, "Checkpoints").
    public func flush(tid: Int32) throws { try streams[tid]?.flush() }

    /// Flushes every stream and appends a signed checkpoint of the trace so far
    /// (TraceCheckpoints.swift) when anything changed since the last one.
    public func checkpoint() throws {
        try flushAll()
        try checkpoints.append(streams: closedStreams + streams.values.map(summary(of:)), newBlobs: blobs.takeRecentIDs())
    }

    /// Closes one task's stream (its task exited) so open descriptors stay few.
    public func closeStream(tid: Int32) throws {
        guard let s = streams.removeValue(forKey: tid) else { return }
        try s.close()
        closedStreamHashing = closedStreamHashing + s.hashing
        closedStreams.append(summary(of: s))
    }

    /// Closes every stream and writes manifest.json (0600) with the root commitment, signed
    /// when the writer has a key. Cost: one pass over the blob list; no stream is reread.
    public func finish(exitCode: Int32?, exitSignal: Int32?, syscalls: UInt64) throws -> TraceManifest {
        for tid in Array(streams.keys) { try closeStream(tid: tid) }
        let ordered = closedStreams.sorted { $0.tid < $1.tid }
        var manifest = TraceManifest(streams: ordered, endTime: Date().timeIntervalSince1970, exitCode: exitCode,
                                     exitSignal: exitSignal, syscalls: syscalls, tasks: ordered.count,
                                     blobs: blobs.blobsWritten, blobBytes: blobs.bytesStored,
                                     blobRawBytes: blobs.rawBytesSeen, headerDigest: headerDigest,
                                     blobIDs: blobs.storedIDs, rootChain: "", signature: nil)
        manifest.rootChain = TraceCommitment.root(headerDigest: headerDigest, manifest: manifest)
        manifest.signature = try signingKey?.sign(root: manifest.rootChain)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writePrivateFile(encoder.encode(manifest), to: directory + "/manifest.json")
        return manifest
    }

    private func summary(of s: EventStreamWriter) -> StreamSummary {
        StreamSummary(tid: s.tid, file: "tasks/\(s.tid).events", frames: s.frameCount, events: s.eventCount,
                      bytes: s.bytesWritten, finalChain: s.chain.hexString)
    }

}

/// Writes `data` to `path` (mode 0600) through a temporary file and a rename, so a reader
/// never sees half a file.
func writePrivateFile(_ data: Data, to path: String) throws {
    try data.withUnsafeBytes { try writePrivateFile($0, to: path) }
}

/// The same for raw bytes (blob files, `BlobStore.put`).
func writePrivateFile(_ bytes: UnsafeRawBufferPointer, to path: String) throws {
    let temporary = path + ".tmp"
    do {
        let file = try FileDescriptor.open(FilePath(temporary), .writeOnly, options: [.create, .truncate, .closeOnExec],
                                           permissions: .ownerReadWrite)
        _ = try file.closeAfter { try file.writeAll(bytes) }
    } catch let error as Errno {
        throw TraceError.io(path: temporary, errno: error.rawValue)
    }
    guard rename(temporary, path) == 0 else { throw TraceError.io(path: path, errno: errno) }
}

/// Opens a trace directory for reading.
public final class TraceReader {
    public let directory: String
    public let header: TraceHeader
    /// Hex SHA-256 of header.json as it is on disk (the manifest commits to it).
    public let headerDigest: String
    /// Nil when the recording did not finish (recorder killed), or manifest.json was
    /// removed or does not decode (`manifestProblem` says which).
    public let manifest: TraceManifest?
    /// Why `manifest` is nil; nil when there is a manifest.
    public let manifestProblem: String?
    public let blobs: BlobStore
    /// Task ids with an event stream, ascending.
    public let taskIDs: [Int32]

    /// Opens a trace: reads header.json and manifest.json and lists the streams. Cheap;
    /// no stream is read. Integrity is checked by `TraceVerifier` and while streams are read.
    /// - Throws: `TraceError.notATrace` without a readable header.json,
    ///   `TraceError.unsupportedVersion` for another format version.
    public init(directory: String) throws {
        self.directory = directory
        let fm = FileManager.default
        guard let headerData = fm.contents(atPath: directory + "/header.json") else {
            throw TraceError.notATrace(directory: directory, reason: "no header.json")
        }
        struct VersionProbe: Decodable { var formatVersion: Int }
        if let probe = try? JSONDecoder().decode(VersionProbe.self, from: headerData), probe.formatVersion != traceFormatVersion {
            throw TraceError.unsupportedVersion(found: probe.formatVersion, supported: traceFormatVersion)
        }
        do { header = try JSONDecoder().decode(TraceHeader.self, from: headerData) } catch {
            throw TraceError.notATrace(directory: directory, reason: "header.json is unreadable: \(error)")
        }
        headerDigest = sha256(Array(headerData)).hexString
        if let data = fm.contents(atPath: directory + "/manifest.json") {
            do {
                manifest = try JSONDecoder().decode(TraceManifest.self, from: data)
                manifestProblem = nil
            } catch {
                manifest = nil
                manifestProblem = "manifest.json does not decode (\(error))"
            }
        } else {
            manifest = nil
            manifestProblem = "no manifest.json: the recording did not finish (recorder killed) or the manifest was removed; nothing is committed"
        }
        blobs = try BlobStore(directory: directory + "/blobs")
        let files = (try? fm.contentsOfDirectory(atPath: directory + "/tasks")) ?? []
        taskIDs = files.compactMap { $0.hasSuffix(".events") ? Int32($0.dropLast(7)) : nil }.sorted()
    }

    /// A reader of one task's stream (the file is read whole).
    /// - Throws: `TraceError.unknownTask`, `TraceError.io`, `TraceError.corruptFrame`.
    public func stream(tid: Int32) throws -> EventStreamReader {
        guard taskIDs.contains(tid) else { throw TraceError.unknownTask(tid: tid) }
        return try EventStreamReader(path: "\(directory)/tasks/\(tid).events", streamName: "tasks/\(tid).events", blobs: blobs)
    }

    /// Every event of one task, in order. Damage after some frames throws; use
    /// `readTask(tid:)` to keep the intact prefix.
    public func events(tid: Int32) throws -> [TraceEvent] {
        let (events, error) = readTask(tid: tid)
        if let error { throw error }
        return events
    }

    /// The intact prefix of a task's events and the error that ended reading, if any.
    public func readTask(tid: Int32) -> (events: [TraceEvent], error: TraceError?) {
        var events: [TraceEvent] = []
        do {
            var reader = try stream(tid: tid)
            while let frame = try reader.nextFrame() { events += frame }
            if let summary = manifest?.streams.first(where: { $0.tid == tid }) {
                if reader.frameIndex < summary.frames {
                    return (events, .truncated(stream: reader.streamName, frame: Int(reader.frameIndex),
                                               reason: "manifest lists \(summary.frames) frames, stream ends after \(reader.frameIndex)"))
                }
                if reader.chain.hexString != summary.finalChain {
                    return (events, .corruptFrame(stream: reader.streamName, frame: Int(reader.frameIndex) - 1,
                                                  reason: "final chain value differs from the manifest"))
                }
            }
        } catch let e as TraceError {
            return (events, e)
        } catch {
            return (events, .io(path: directory, errno: EIO))
        }
        return (events, nil)
    }

    /// All tasks' events merged in global sequence order, with every stream error met
    /// (a stream the manifest lists whose file is gone is one). Cost: reads and decodes
    /// every stream and every blob that holds a large write; memory holds all events.
    public func allEvents() -> (events: [TraceEvent], errors: [TraceError]) {
        let (events, damage) = allEventsWithDamage()
        return (events, damage.map(\.error))
    }

    /// The damage one task's stream has: the task, and the error that ended its reading.
    public struct StreamDamage: Sendable {
        public var tid: Int32
        public var error: TraceError
    }

    /// `allEvents()` with each stream error attributed to its task, so a reader can use the
    /// intact tasks and name the damaged ones (`replay` does). Same cost as `allEvents()`.
    public func allEventsWithDamage() -> (events: [TraceEvent], damage: [StreamDamage]) {
        var all: [TraceEvent] = []
        var damage: [StreamDamage] = []
        for s in manifest?.streams ?? [] where !taskIDs.contains(s.tid) {
            damage.append(StreamDamage(tid: s.tid, error: .truncated(stream: s.file, frame: 0,
                reason: "the stream file is missing; the manifest lists \(s.frames) frames, \(s.events) events")))
        }
        for tid in taskIDs {
            let (events, error) = readTask(tid: tid)
            all += events
            if let error { damage.append(StreamDamage(tid: tid, error: error)) }
        }
        all.sort { $0.sequence < $1.sequence }
        return (all, damage)
    }

    /// Reassembles chunked blob contents. Verified chunks are cached (up to
    /// `blobCacheLimit` bytes): replay loads the same libraries into every process.
    public func contents(of blobIDs: [BlobID]) throws -> [UInt8] {
        var bytes: [UInt8] = []
        for id in blobIDs { bytes += try cachedBlob(id) }
        return bytes
    }

    public var blobCacheLimit = 512 << 20
    private var blobCache: [BlobID: [UInt8]] = [:]
    private var blobCacheBytes = 0
    private let blobCacheLock = NSLock()

    private func cachedBlob(_ id: BlobID) throws -> [UInt8] {
        blobCacheLock.lock()
        if let hit = blobCache[id] { blobCacheLock.unlock(); return hit }
        blobCacheLock.unlock()
        let bytes = try blobs.get(id)
        blobCacheLock.lock()
        if blobCacheBytes + bytes.count <= blobCacheLimit {
            blobCache[id] = bytes
            blobCacheBytes += bytes.count
        }
        blobCacheLock.unlock()
        return bytes
    }
}
