// Content-addressed store for file and memory contents: blobs/<first 2 hex>/<sha256>.
// Each blob file: "MPBL" u32 rawLength u32 stored (bit 31 = uncompressed) payload.
// The same library mapped by a hundred processes is stored once.

#if canImport(Glibc)
import Glibc
#endif

public final class BlobStore {
    public let directory: String
    public private(set) var blobsWritten = 0
    public private(set) var bytesStored: UInt64 = 0
    public private(set) var rawBytesSeen: UInt64 = 0
    private var known = Set<BlobID>()

    /// Blobs larger than this are split by writers; readers reject larger claims.
    public static let chunkLength = 1 << 20

    public init(directory: String) throws {
        self.directory = directory
        if mkdir(directory, 0o755) != 0 && errno != EEXIST { throw TraceError.io(path: directory, errno: errno) }
    }

    public func path(for id: BlobID) -> String { "\(directory)/\(id.prefix(2))/\(id)" }

    /// Stores `bytes` (at most `chunkLength`) and returns its id; a no-op if already stored.
    @discardableResult
    public func put(_ bytes: [UInt8]) throws -> BlobID {
        let id = SHA256.hash(bytes).hexString
        rawBytesSeen += UInt64(bytes.count)
        if known.contains(id) { return id }
        let dir = "\(directory)/\(id.prefix(2))"
        if mkdir(dir, 0o755) != 0 && errno != EEXIST { throw TraceError.io(path: dir, errno: errno) }
        let target = path(for: id)
        if access(target, F_OK) == 0 { known.insert(id); return id }
        let compressed = LZ4Block.compress(bytes)
        let stored = compressed ?? bytes
        let field = UInt32(stored.count) | (compressed == nil ? 0x8000_0000 : 0)
        let file = Array("MPBL".utf8) + littleEndian32(UInt32(bytes.count)) + littleEndian32(field) + stored
        let temporary = target + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TraceError.io(path: temporary, errno: errno) }
        var offset = 0
        while offset < file.count {
            let n = file.withUnsafeBytes { write(fd, $0.baseAddress! + offset, file.count - offset) }
            if n < 0 { if errno == EINTR { continue }; let e = errno; close(fd); throw TraceError.io(path: temporary, errno: e) }
            offset += n
        }
        close(fd)
        guard rename(temporary, target) == 0 else { throw TraceError.io(path: target, errno: errno) }
        known.insert(id)
        blobsWritten += 1
        bytesStored += UInt64(file.count)
        return id
    }

    /// Splits `bytes` into chunks and stores each.
    public func putChunked(_ bytes: [UInt8]) throws -> [BlobID] {
        var ids: [BlobID] = []
        var start = 0
        while start < bytes.count {
            let end = min(start + BlobStore.chunkLength, bytes.count)
            ids.append(try put(Array(bytes[start..<end])))
            start = end
        }
        return ids
    }

    /// Reads and verifies a blob.
    public func get(_ id: BlobID) throws -> [UInt8] {
        let file: [UInt8]
        do { file = try readWholeFile(path(for: id)) } catch { throw TraceError.missingBlob(id: id) }
        guard file.count >= 12, Array(file[0..<4]) == Array("MPBL".utf8) else {
            throw TraceError.corruptBlob(id: id, reason: "bad header")
        }
        let rawLength = Int(readLittleEndian32(file[4..<8])), field = readLittleEndian32(file[8..<12])
        let storedLength = Int(field & 0x7fff_ffff)
        guard rawLength <= BlobStore.chunkLength, 12 + storedLength == file.count else {
            throw TraceError.corruptBlob(id: id, reason: "length fields do not match the file")
        }
        let payload = file[12...]
        guard let raw = field & 0x8000_0000 != 0 ? Array(payload) : LZ4Block.decompress(payload, rawLength: rawLength) else {
            throw TraceError.corruptBlob(id: id, reason: "LZ4 payload does not decompress")
        }
        guard SHA256.hash(raw).hexString == id else { throw TraceError.corruptBlob(id: id, reason: "content hash mismatch") }
        return raw
    }
}
