// A trace is a directory:
//   header.json        TraceHeader: format version, machine, CPUID leaves, command, env
//   tasks/<tid>.events one EventStream per task (thread)
//   blobs/             BlobStore: mapped files and address-space snapshots
//   manifest.json      TraceManifest, written when recording ends: streams, frame counts,
//                      final chain values, exit status. Missing after a killed recorder;
//                      the streams are still readable up to their last whole frame.

import Foundation

public let traceFormatVersion = 2

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

    public init(formatVersion: Int = traceFormatVersion, magprovVersion: String, kernel: String, hostname: String,
                cpuModel: String, cpuid: [CPUIDLeaf], xcr0: UInt64? = nil, featureMask: [String], command: String, argv: [String],
                environment: [String], cwd: String, startTime: Double, uid: UInt32, gid: UInt32) {
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
    /// Hex SHA-256 over every stream's final chain value in tid order: one value that
    /// commits to the whole event record; publish it elsewhere to make tampering evident.
    public var rootChain: String
}

/// Writes a trace directory. Only the supervisor writes; memory stays bounded because
/// streams flush frame by frame and blobs go straight to disk.
public final class TraceWriter {
    public let directory: String
    public let header: TraceHeader
    public let blobs: BlobStore
    private var streams: [Int32: EventStreamWriter] = [:]
    private var closedStreams: [StreamSummary] = []

    public init(directory: String, header: TraceHeader) throws {
        self.directory = directory
        self.header = header
        let fm = FileManager.default
        if let existing = try? fm.contentsOfDirectory(atPath: directory), !existing.isEmpty {
            throw TraceError.notATrace(directory: directory, reason: "the directory exists and is not empty; choose another with -o")
        }
        do {
            try fm.createDirectory(atPath: directory + "/tasks", withIntermediateDirectories: true)
        } catch { throw TraceError.io(path: directory, errno: EACCES) }
        blobs = try BlobStore(directory: directory + "/blobs")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try write(encoder.encode(header), to: directory + "/header.json")
    }

    public func append(_ event: TraceEvent) throws {
        let stream: EventStreamWriter
        if let s = streams[event.tid] {
            stream = s
        } else {
            stream = try EventStreamWriter(path: "\(directory)/tasks/\(event.tid).events", tid: event.tid)
            streams[event.tid] = stream
        }
        try stream.append(event)
    }

    /// Flushes every stream's pending frame (called periodically so a killed recorder
    /// loses little).
    public func flushAll() throws { for s in streams.values { try s.flush() } }

    /// Closes one task's stream (its task exited) so open descriptors stay few.
    public func closeStream(tid: Int32) throws {
        guard let s = streams.removeValue(forKey: tid) else { return }
        try s.close()
        closedStreams.append(summary(of: s))
    }

    public func finish(exitCode: Int32?, exitSignal: Int32?, syscalls: UInt64) throws -> TraceManifest {
        for tid in Array(streams.keys) { try closeStream(tid: tid) }
        let ordered = closedStreams.sorted { $0.tid < $1.tid }
        var root = SHA256()
        for s in ordered { root.update(Array(s.finalChain.utf8)) }
        let manifest = TraceManifest(streams: ordered, endTime: Date().timeIntervalSince1970, exitCode: exitCode,
                                     exitSignal: exitSignal, syscalls: syscalls, tasks: ordered.count,
                                     blobs: blobs.blobsWritten, blobBytes: blobs.bytesStored,
                                     blobRawBytes: blobs.rawBytesSeen, rootChain: root.finalize().hexString)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try write(encoder.encode(manifest), to: directory + "/manifest.json")
        return manifest
    }

    private func summary(of s: EventStreamWriter) -> StreamSummary {
        StreamSummary(tid: s.tid, file: "tasks/\(s.tid).events", frames: s.frameCount, events: s.eventCount,
                      bytes: s.bytesWritten, finalChain: s.chain.hexString)
    }

    private func write(_ data: Data, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: data) else {
            throw TraceError.io(path: path, errno: errno)
        }
    }
}

/// Opens a trace directory for reading.
public final class TraceReader {
    public let directory: String
    public let header: TraceHeader
    /// Nil when the recording did not finish (recorder killed).
    public let manifest: TraceManifest?
    public let blobs: BlobStore
    /// Task ids with an event stream, ascending.
    public let taskIDs: [Int32]

    public init(directory: String) throws {
        self.directory = directory
        let fm = FileManager.default
        guard let headerData = fm.contents(atPath: directory + "/header.json") else {
            throw TraceError.notATrace(directory: directory, reason: "no header.json")
        }
        do { header = try JSONDecoder().decode(TraceHeader.self, from: headerData) } catch {
            throw TraceError.notATrace(directory: directory, reason: "header.json is unreadable: \(error)")
        }
        guard header.formatVersion == traceFormatVersion else {
            throw TraceError.unsupportedVersion(found: header.formatVersion, supported: traceFormatVersion)
        }
        manifest = fm.contents(atPath: directory + "/manifest.json").flatMap { try? JSONDecoder().decode(TraceManifest.self, from: $0) }
        blobs = try BlobStore(directory: directory + "/blobs")
        let files = (try? fm.contentsOfDirectory(atPath: directory + "/tasks")) ?? []
        taskIDs = files.compactMap { $0.hasSuffix(".events") ? Int32($0.dropLast(7)) : nil }.sorted()
    }

    public func stream(tid: Int32) throws -> EventStreamReader {
        guard taskIDs.contains(tid) else { throw TraceError.unknownTask(tid: tid) }
        return try EventStreamReader(path: "\(directory)/tasks/\(tid).events", streamName: "tasks/\(tid).events")
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

    /// All tasks' events merged in global sequence order, with every stream error met.
    public func allEvents() -> (events: [TraceEvent], errors: [TraceError]) {
        var all: [TraceEvent] = []
        var errors: [TraceError] = []
        for tid in taskIDs {
            let (events, error) = readTask(tid: tid)
            all += events
            if let error { errors.append(error) }
        }
        all.sort { $0.sequence < $1.sequence }
        return (all, errors)
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
