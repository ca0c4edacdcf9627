// Content-addressed store for file and memory contents: blobs/<first 2 hex>/<sha256>.lz4,
// each file one standard LZ4 frame (LZ4Frame.swift) of at most `chunkLength` bytes, named
// by the SHA-256 of those bytes. The same library mapped by a hundred processes is stored
// once. Directories are created 0700 and files 0600: a blob holds bytes the program read.

#if canImport(Glibc)
import Glibc
#endif

/// The blobs of one trace. Writing is single-threaded (the supervisor); reading is safe
/// from several threads (each `get` reads and verifies one file).
public final class BlobStore {
    public let directory: String
    public private(set) var blobsWritten = 0
    public private(set) var bytesStored: UInt64 = 0
    public private(set) var rawBytesSeen: UInt64 = 0
    /// SHA-256 over every blob put (its name), bytes and time.
    public private(set) var hashing = HashingCost()
    private var known = Set<BlobID>()
    /// Ids stored since the last `takeRecentIDs()`, in the order they were stored.
    private var recentIDs: [BlobID] = []

    /// Blobs larger than this are split by writers; readers reject larger claims.
    public static let chunkLength = 1 << 20
    /// The largest blob file a reader accepts: an LZ4 frame of `chunkLength` bytes whose
    /// blocks did not compress (stored raw), its header, block marks and checksum.
    static let maximumFileLength = chunkLength + chunkLength / 255 + 1024

    /// Opens (creating if needed, mode 0700) the store at `directory`.
    /// - Throws: `TraceError.io` when the directory cannot be created.
    public init(directory: String) throws {
        self.directory = directory
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw TraceError.io(path: directory, errno: errno) }
    }

    /// Where blob `id` lives (whether or not it exists).
    public func path(for id: BlobID) -> String { "\(directory)/\(id.prefix(2))/\(id).lz4" }

    /// Every blob this store wrote or found already present while writing, ascending: the
    /// blob list of the root commitment.
    public var storedIDs: [BlobID] { known.sorted() }

    /// The ids stored since the previous call (a checkpoint commits them), in storing order.
    public func takeRecentIDs() -> [BlobID] {
        defer { recentIDs.removeAll() }
        return recentIDs
    }

    /// Stores `bytes` (at most `chunkLength`) and returns its id; a no-op if already stored.
    /// - Throws: `TraceError.io` when the file cannot be written.
    @discardableResult
    public func put(_ bytes: [UInt8]) throws -> BlobID {
        try bytes.withUnsafeBytes { try put($0) }
    }

    /// Stores the bytes of `raw` (at most `chunkLength`); see `put(_:)`.
    @discardableResult
    public func put(_ raw: UnsafeRawBufferPointer) throws -> BlobID {
        precondition(raw.count <= BlobStore.chunkLength, "blob of \(raw.count) bytes; split with putChunked")
        let id = hashing.measure(raw.count) { sha256(raw).hexString }
        rawBytesSeen += UInt64(raw.count)
        if known.contains(id) { return id }
        let dir = "\(directory)/\(id.prefix(2))"
        if mkdir(dir, 0o700) != 0 && errno != EEXIST { throw TraceError.io(path: dir, errno: errno) }
        let target = path(for: id)
        if access(target, F_OK) == 0 { known.insert(id); recentIDs.append(id); return id }
        let file = LZ4Frame.compress(raw)
        try file.withUnsafeBytes { try writePrivateFile($0, to: target) }
        known.insert(id)
        recentIDs.append(id)
        blobsWritten += 1
        bytesStored += UInt64(file.count)
        return id
    }

    /// Splits `bytes` into chunks of `chunkLength` and stores each; the ids in order.
    public func putChunked<C: Collection>(_ bytes: C) throws -> [BlobID] where C.Element == UInt8 {
        if let ids = try bytes.withContiguousStorageIfAvailable({ try putChunked(UnsafeRawBufferPointer($0)) }) { return ids }
        return try Array(bytes).withUnsafeBytes { try putChunked($0) }
    }

    private func putChunked(_ raw: UnsafeRawBufferPointer) throws -> [BlobID] {
        var ids: [BlobID] = []
        var start = 0
        while start < raw.count {
            let end = min(start + BlobStore.chunkLength, raw.count)
            ids.append(try put(UnsafeRawBufferPointer(rebasing: raw[start..<end])))
            start = end
        }
        return ids
    }

    /// Reads and verifies a blob: the LZ4 frame must decode (its checksum included) and
    /// the bytes must hash to `id`. Cost: one file read, one LZ4 decode, one SHA-256.
    /// - Throws: `TraceError.missingBlob` or `TraceError.corruptBlob`.
    public func get(_ id: BlobID) throws -> [UInt8] {
        // A blob file is at most an LZ4 frame of `chunkLength` bytes: never read a file
        // planted in its place whole (a trace directory is input like any other).
        var info = stat()
        guard stat(path(for: id), &info) == 0 else { throw TraceError.missingBlob(id: id) }
        guard info.st_size <= BlobStore.maximumFileLength else {
            throw TraceError.corruptBlob(id: id, reason: "\(info.st_size) bytes, more than an LZ4 frame of \(BlobStore.chunkLength) bytes can take")
        }
        let file: [UInt8]
        do { file = try readWholeFile(path(for: id)) } catch { throw TraceError.missingBlob(id: id) }
        return try BlobStore.decode(file, id: id)
    }

    /// A blob file's bytes decoded and checked as `get` does (LZ4 frame of at most
    /// `chunkLength` bytes, content hashing to `id`).
    /// - Throws: `TraceError.corruptBlob`.
    public static func decode(_ file: [UInt8], id: BlobID) throws -> [UInt8] {
        let raw: [UInt8]
        do { raw = try LZ4Frame.decompress(file, maximumLength: BlobStore.chunkLength) } catch {
            throw TraceError.corruptBlob(id: id, reason: "\(error)")
        }
        guard sha256(raw).hexString == id else { throw TraceError.corruptBlob(id: id, reason: "content hash mismatch") }
        return raw
    }

    /// The ids of the blob files present on disk, ascending (what `verify` compares with
    /// the committed blob list). Files that are not blobs are returned by name too, so an
    /// unexpected file is reported, not ignored.
    public func idsOnDisk() -> [String] {
        var ids: [String] = []
        guard let top = opendir(directory) else { return [] }
        defer { closedir(top) }
        while let entry = readdir(top) {
            let name = direntName(entry)
            if name == "." || name == ".." { continue }
            guard let sub = opendir("\(directory)/\(name)") else { ids.append(name); continue }
            while let inner = readdir(sub) {
                let file = direntName(inner)
                if file == "." || file == ".." { continue }
                ids.append(file.hasSuffix(".lz4") && file.hasPrefix(name) ? String(file.dropLast(4)) : "\(name)/\(file)")
            }
            closedir(sub)
        }
        return ids.sorted()
    }
}

func direntName(_ entry: UnsafeMutablePointer<dirent>) -> String {
    withUnsafePointer(to: entry.pointee.d_name) { p in
        p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
    }
}
