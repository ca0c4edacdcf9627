// One task's event stream: a file of LZ4-compressed frames, each carrying a SHA-256 chain
// value over the previous frame's chain value, its own header fields and its stored bytes.
// Changing, dropping or reordering any frame breaks every chain value after it, and the
// manifest records the last one (see TraceDirectory). The byte-level layout is in
// docs/ARCHITECTURE.md ("Trace format"):
//
//   "MPSTRM01"  u32 tid  u32 reserved                       (16 bytes)
//   frames:  "MPFR"  u32 index  u32 rawLength  u32 stored   (stored: bit 31 = uncompressed)
//            chain[32]  payload[stored & 0x7fffffff]         (payload: an LZ4 block)
//   chain[0]   = SHA-256("magprov stream " + decimal tid)
//   chain[i+1] = SHA-256(chain[i] || index || rawLength || stored || payload)
// All integers little-endian. Frames stay LZ4 blocks rather than LZ4 frames: the chain
// already checks every byte, and a block saves the frame header and content checksum
// per frame (measured in docs/ARCHITECTURE.md).

import Crypto
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

let streamMagic: [UInt8] = Array("MPSTRM01".utf8)
let frameMagic: [UInt8] = Array("MPFR".utf8)
let frameHeaderLength = 48
/// Frames hold at most this many raw bytes; readers reject larger claims as corruption.
public let maximumFrameLength = 64 << 20

/// The chain value a stream starts from, so frames cannot be moved between streams.
func initialChain(tid: Int32) -> [UInt8] { sha256(Array("magprov stream \(tid)".utf8)) }

/// The chain value after a frame: SHA-256 over the previous value, the frame's 12 bytes of
/// index and lengths, and its stored payload.
func nextChain<F: Collection, P: Collection>(_ previous: [UInt8], fields: F, payload: P) -> [UInt8]
    where F.Element == UInt8, P.Element == UInt8 {
    var hasher = Crypto.SHA256()
    hasher.update(previous); hasher.update(fields); hasher.update(payload)
    return Array(hasher.finalize())
}

func littleEndian32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) } }
func readLittleEndian32(_ b: ArraySlice<UInt8>) -> UInt32 {
    var v: UInt32 = 0
    for (i, byte) in b.prefix(4).enumerated() { v |= UInt32(byte) << (i * 8) }
    return v
}

/// Writes events into frames. Memory stays bounded: a frame is flushed once its raw
/// size reaches `frameTarget`.
public final class EventStreamWriter {
    public let tid: Int32
    public let path: String
    public private(set) var frameCount: UInt32 = 0
    public private(set) var eventCount: UInt64 = 0
    public private(set) var chain: [UInt8]
    public private(set) var bytesWritten: UInt64 = 0
    /// SHA-256 of the frame chain, bytes and time.
    public private(set) var hashing = HashingCost()
    /// Nil once closed.
    private var file: FileDescriptor?
    private var pending: ByteWriter
    private let frameTarget: Int

    /// Creates (mode 0600) the stream file at `path`.
    /// - Parameters:
    ///   - blobs: where memory writes beyond `inlineEventLimit` go; nil keeps them inline
    ///     (then one event may exceed `maximumFrameLength` and `append` throws).
    ///   - frameTarget: raw bytes after which a frame is flushed.
    public init(path: String, tid: Int32, blobs: BlobStore? = nil, frameTarget: Int = 256 << 10) throws {
        self.tid = tid
        self.path = path
        self.frameTarget = frameTarget
        self.chain = initialChain(tid: tid)
        self.pending = ByteWriter(blobSink: blobs)
        do {
            file = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.create, .truncate, .closeOnExec],
                                           permissions: .ownerReadWrite)
        } catch let error as Errno {
            throw TraceError.io(path: path, errno: error.rawValue)
        }
        try writeAll(streamMagic + littleEndian32(UInt32(bitPattern: tid)) + [0, 0, 0, 0])
    }

    deinit { try? file?.close() }

    /// Adds one event; flushes a frame once `frameTarget` raw bytes are pending.
    /// - Throws: `TraceError.io` on a failed write; `TraceError.eventTooLarge` when the
    ///   event alone would exceed `maximumFrameLength` (nothing is written then).
    public func append(_ event: TraceEvent) throws {
        let before = pending.bytes.count
        try pending.event(event)
        if pending.bytes.count - before > maximumFrameLength / 2 {
            let size = pending.bytes.count - before
            pending.bytes.removeSubrange(before...)
            throw TraceError.eventTooLarge(stream: "tasks/\(tid).events", sequence: event.sequence, bytes: size)
        }
        eventCount += 1
        if pending.bytes.count >= frameTarget { try flush() }
    }

    /// Writes the pending events as one frame (no-op when nothing is pending).
    public func flush() throws {
        guard !pending.bytes.isEmpty else { return }
        let raw = pending.bytes
        pending.reset()
        let compressed = LZ4Block.compress(raw)
        let stored = compressed ?? raw
        let storedField = UInt32(stored.count) | (compressed == nil ? 0x8000_0000 : 0)
        let fields = littleEndian32(frameCount) + littleEndian32(UInt32(raw.count)) + littleEndian32(storedField)
        chain = hashing.measure(chain.count + fields.count + stored.count) { nextChain(chain, fields: fields, payload: stored) }
        try writeAll(frameMagic + fields + chain + stored)
        frameCount += 1
    }

    public func close() throws {
        try flush()
        try? file?.close()
        file = nil
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        guard let file else { throw TraceError.io(path: path, errno: EBADF) }
        do { _ = try file.writeAll(bytes) } catch let error as Errno {
            throw TraceError.io(path: path, errno: error.rawValue)
        }
        bytesWritten += UInt64(bytes.count)
    }
}

/// Reads a stream frame by frame, verifying magic, order, lengths, chain and
/// decompression. On damage it throws a `TraceError` naming the stream and frame; every
/// frame before it has already been returned intact.
public struct EventStreamReader {
    public let path: String
    public let streamName: String
    public let tid: Int32
    public private(set) var frameIndex: UInt32 = 0
    public private(set) var chain: [UInt8]
    /// The largest raw (decompressed) length of the frames read so far, in bytes.
    public private(set) var largestRawFrame = 0
    private let data: [UInt8]
    private var offset = 16
    private let blobs: BlobStore?

    /// Reads the whole stream file into memory.
    /// - Parameter blobs: where writes stored as blobs are read from; without it such an
    ///   event is reported as a corrupt frame.
    /// - Throws: `TraceError.io`, or `.corruptFrame` for a file that is not a stream.
    public init(path: String, streamName: String, blobs: BlobStore? = nil) throws {
        try self.init(bytes: readWholeFile(path), path: path, streamName: streamName, blobs: blobs)
    }

    /// A reader of a stream already in memory (`TraceFuzzing`).
    init(bytes: [UInt8], path: String, streamName: String, blobs: BlobStore?) throws {
        self.path = path
        self.streamName = streamName
        self.blobs = blobs
        data = bytes
        guard data.count >= 16, Array(data[0..<8]) == streamMagic else {
            throw TraceError.corruptFrame(stream: streamName, frame: 0, reason: "not a magprov event stream (bad file header)")
        }
        tid = Int32(bitPattern: readLittleEndian32(data[8..<12]))
        chain = initialChain(tid: tid)
    }

    /// The next frame's events, or nil at a clean end of stream.
    public mutating func nextFrame() throws -> [TraceEvent]? {
        if offset == data.count { return nil }
        let frame = Int(frameIndex)
        guard offset + frameHeaderLength <= data.count else {
            throw TraceError.truncated(stream: streamName, frame: frame,
                                       reason: "frame header cut off after \(data.count - offset) of \(frameHeaderLength) bytes")
        }
        let header = data[offset..<offset + frameHeaderLength]
        guard Array(header.prefix(4)) == frameMagic else {
            throw TraceError.corruptFrame(stream: streamName, frame: frame, reason: "bad frame magic at byte \(offset)")
        }
        let index = readLittleEndian32(header.dropFirst(4))
        let rawLength = Int(readLittleEndian32(header.dropFirst(8)))
        let storedField = readLittleEndian32(header.dropFirst(12))
        let storedLength = Int(storedField & 0x7fff_ffff), isRaw = storedField & 0x8000_0000 != 0
        let recordedChain = Array(header.dropFirst(16).prefix(32))
        guard index == frameIndex else {
            throw TraceError.corruptFrame(stream: streamName, frame: frame, reason: "frame numbered \(index), expected \(frameIndex)")
        }
        guard rawLength <= maximumFrameLength, storedLength <= maximumFrameLength else {
            throw TraceError.corruptFrame(stream: streamName, frame: frame, reason: "implausible frame length \(rawLength)/\(storedLength)")
        }
        let payloadStart = offset + frameHeaderLength
        guard payloadStart + storedLength <= data.count else {
            throw TraceError.truncated(stream: streamName, frame: frame,
                                       reason: "payload cut off after \(data.count - payloadStart) of \(storedLength) bytes")
        }
        let stored = data[payloadStart..<payloadStart + storedLength]
        let expected = nextChain(chain, fields: header.dropFirst(4).prefix(12), payload: stored)
        guard expected == recordedChain else {
            throw TraceError.corruptFrame(stream: streamName, frame: frame, reason: "checksum chain mismatch (frame altered or damaged)")
        }
        let raw: [UInt8]
        if isRaw {
            guard storedLength == rawLength else {
                throw TraceError.corruptFrame(stream: streamName, frame: frame, reason: "raw frame length mismatch")
            }
            raw = Array(stored)
        } else {
            guard let decompressed = LZ4Block.decompress(stored, rawLength: rawLength) else {
                throw TraceError.corruptFrame(stream: streamName, frame: frame,
                                              reason: "LZ4 payload does not decompress to \(rawLength) bytes")
            }
            raw = decompressed
        }
        var reader = ByteReader(raw)
        reader.blobSource = blobs
        var events: [TraceEvent] = []
        while !reader.isAtEnd {
            do { events.append(try reader.event()) } catch let error as TraceError {
                throw TraceError.corruptFrame(stream: streamName, frame: frame, reason: "\(error)")
            } catch {
                throw TraceError.corruptFrame(stream: streamName, frame: frame, reason: "undecodable event: \(error)")
            }
        }
        chain = expected
        largestRawFrame = max(largestRawFrame, rawLength)
        offset = payloadStart + storedLength
        frameIndex += 1
        return events
    }

}

func readWholeFile(_ path: String) throws -> [UInt8] {
    do {
        let file = try FileDescriptor.open(FilePath(path), .readOnly, options: .closeOnExec)
        return try file.closeAfter {
            var result: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let n = try chunk.withUnsafeMutableBytes { try file.read(into: $0) }
                if n == 0 { break }
                result += chunk[0..<n]
            }
            return result
        }
    } catch let error as Errno {
        throw TraceError.io(path: path, errno: error.rawValue)
    }
}

/// The entry point fuzzers drive (Tests/TraceTests/TraceReaderFuzzTests.swift and the
/// libFuzzer target in `Scripts/fuzz-trace-reader`).
public enum TraceFuzzing {
    /// Decodes a whole stream file given as bytes, with no blob store.
    /// - Throws: the `TraceError` that stopped reading; any other outcome is a bug.
    public static func readStream(_ bytes: [UInt8]) throws -> [TraceEvent] {
        var reader = try EventStreamReader(bytes: bytes, path: "(memory)", streamName: "fuzzed", blobs: nil)
        var events: [TraceEvent] = []
        while let frame = try reader.nextFrame() { events += frame }
        return events
    }

    /// Decodes the raw (decompressed, unchained) bytes of one frame's events: what a
    /// frame's chain would otherwise keep a byte-level fuzzer away from.
    /// - Throws: the `TraceError` or decoding error that stopped it.
    public static func decodeEvents(_ raw: [UInt8]) throws -> [TraceEvent] {
        var reader = ByteReader(raw)
        var events: [TraceEvent] = []
        while !reader.isAtEnd { events.append(try reader.event()) }
        return events
    }
}
