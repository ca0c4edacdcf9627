// Captures address spaces (at exec) and file mappings (at mmap) into the blob store.
// Contents are read from the task's memory rather than from the file, so what the trace
// holds is exactly what the process saw (partial pages zeroed, .bss, the kernel's stack
// set-up). Read-only mappings of the same file range are hashed once per recording, as
// long as the file cannot have changed since the recording began.

import Glibc
import SystemPackage
import Trace

struct MapsLine {
    var start: UInt64, end: UInt64, protection: UInt32, shared: Bool, offset: UInt64
    var device: UInt64, inode: UInt64, path: String

    /// Parses one line of /proc/PID/maps:
    /// `start-end perms offset major:minor inode   path`.
    init?(_ line: Substring) {
        let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        guard fields.count >= 5 else { return nil }
        let range = fields[0].split(separator: "-")
        guard range.count == 2, let s = UInt64(range[0], radix: 16), let e = UInt64(range[1], radix: 16) else { return nil }
        let perms = Array(fields[1].utf8)
        guard perms.count >= 4 else { return nil }
        start = s; end = e
        protection = (perms[0] == UInt8(ascii: "r") ? 1 : 0) | (perms[1] == UInt8(ascii: "w") ? 2 : 0) | (perms[2] == UInt8(ascii: "x") ? 4 : 0)
        shared = perms[3] == UInt8(ascii: "s")
        offset = UInt64(fields[2], radix: 16) ?? 0
        let dev = fields[3].split(separator: ":")
        let major = dev.count == 2 ? UInt64(dev[0], radix: 16) ?? 0 : 0
        let minor = dev.count == 2 ? UInt64(dev[1], radix: 16) ?? 0 : 0
        // Same encoding as glibc's makedev, so it matches st_dev.
        device = ((major & 0xfffff000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffffff00) << 12) | (minor & 0xff)
        inode = UInt64(fields[4]) ?? 0
        path = fields.count > 5 ? String(fields[5]).trimmingLeadingSpaces() : ""
    }
}

extension String {
    func trimmingLeadingSpaces() -> String { String(drop(while: { $0 == " " })) }
}

final class AddressSpaceCapture {
    let blobs: BlobStore
    /// (device, inode, ctime, size, offset, length, protection) of read-only mappings of
    /// files unchanged since the recording began -> blobs.
    private var fileRangeCache: [String: [BlobID]] = [:]
    private(set) var bytesCaptured: UInt64 = 0
    /// Files whose status changed after this instant (CLOCK_REALTIME ns, a second before the
    /// recording began) are never served from the cache. An inode number alone does not
    /// name contents: a file deleted or renamed over frees its inode, and the next file
    /// created gets it (git's `config.lock`, renamed over `config`, the next `config.lock`
    /// the same inode), and a file written in place keeps its own. Any write, truncation or
    /// rename sets ctime to the current time (inode(7)), so a file written during the
    /// recording has a ctime after this and is read again at every mapping.
    private let unchangedBefore: Int64

    init(blobs: BlobStore) {
        self.blobs = blobs
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        unchangedBefore = (Int64(now.tv_sec) - 1) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    /// The cache key of a read-only private file mapping, or nil when its contents may
    /// differ from an earlier mapping with the same inode: the path no longer names the
    /// mapped file (replaced, deleted), or the file changed since the recording began.
    func cacheKey(_ line: MapsLine) -> String? {
        guard line.inode != 0, line.protection & 2 == 0, !line.shared, line.path.hasPrefix("/") else { return nil }
        var status = stat()
        guard stat(line.path, &status) == 0, UInt64(status.st_ino) == line.inode, UInt64(status.st_dev) == line.device else {
            return nil
        }
        let changed = Int64(status.st_ctim.tv_sec) * 1_000_000_000 + Int64(status.st_ctim.tv_nsec)
        guard changed < unchangedBefore else { return nil }
        return "\(line.device):\(line.inode):\(changed):\(status.st_size):\(line.offset):\(line.end - line.start):\(line.protection)"
    }

    func readMaps(tid: Int32) -> [MapsLine] {
        guard let text = try? String(decoding: readAll(path: "/proc/\(tid)/maps"), as: UTF8.self) else { return [] }
        return text.split(separator: "\n").compactMap(MapsLine.init)
    }

    /// Every mapping of the task with its contents.
    func snapshot(tid: Int32) throws -> [MappingSnapshot] {
        let memory = try? FileDescriptor.open(FilePath("/proc/\(tid)/mem"), .readOnly, options: .closeOnExec)
        defer { try? memory?.close() }
        var result: [MappingSnapshot] = []
        for line in readMaps(tid: tid) {
            // [vvar] cannot be read and is unused once the vDSO is gone; [vsyscall] is the
            // legacy fixed page that every process shares.
            let skip = line.path == "[vvar]" || line.path == "[vsyscall]" || line.path == "[vvar_vclock]"
            let blobs = try memory.map { skip ? [] : try capture(line, memory: $0) } ?? []
            result.append(MappingSnapshot(start: line.start, end: line.end, protection: line.protection, shared: line.shared,
                                          offset: line.offset, device: line.device, inode: line.inode,
                                          path: line.path, blobs: blobs))
        }
        return result
    }

    /// The mapping that now starts at `address` (after a successful file mmap).
    func captureMapping(tid: Int32, address: UInt64, length: UInt64) throws -> MappingSnapshot? {
        guard let line = readMaps(tid: tid).first(where: { $0.start <= address && address < $0.end }) else { return nil }
        guard let memory = try? FileDescriptor.open(FilePath("/proc/\(tid)/mem"), .readOnly, options: .closeOnExec) else { return nil }
        defer { try? memory.close() }
        var clipped = line
        clipped.offset += address - line.start
        clipped.start = address
        clipped.end = min(line.end, address + ((length + 4095) & ~4095))
        let blobs = try capture(clipped, memory: memory)
        return MappingSnapshot(start: clipped.start, end: clipped.end, protection: clipped.protection, shared: clipped.shared,
                               offset: clipped.offset, device: clipped.device, inode: clipped.inode,
                               path: clipped.path, blobs: blobs)
    }

    /// Reads a range chunk by chunk (bounded memory). Pages past the end of a mapped
    /// file cannot be read (they would SIGBUS); reading stops there, and replay treats the
    /// rest of the range as not present.
    private func capture(_ line: MapsLine, memory: FileDescriptor) throws -> [BlobID] {
        let key = cacheKey(line)
        if let key, let cached = fileRangeCache[key] { return cached }
        var ids: [BlobID] = []
        var address = line.start
        var chunk = [UInt8](repeating: 0, count: BlobStore.chunkLength)
        while address < line.end {
            let length = Int(min(UInt64(BlobStore.chunkLength), line.end - address))
            // Retried on EINTR (the supervisor's periodic timer); an error ends the range.
            let n = (try? chunk.withUnsafeMutableBytes {
                try memory.read(fromAbsoluteOffset: Int64(bitPattern: address), into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<length]))
            }) ?? -1
            if n <= 0 { break }
            ids.append(try chunk.withUnsafeBytes { try blobs.put(UnsafeRawBufferPointer(rebasing: $0[0..<n])) })
            bytesCaptured += UInt64(n)
            if n < length { break }
            address += UInt64(n)
        }
        if let key { fileRangeCache[key] = ids }
        return ids
    }
}

/// Reads a whole file with read(2) until EOF. /proc files report size 0, and Foundation's
/// readers stop early on them (a long /proc/PID/maps comes back cut at 4 KiB).
public func readProcFile(_ path: String) -> String? {
    (try? readAll(path: path)).map { String(decoding: $0, as: UTF8.self) }
}

func readAll(path: String) throws -> [UInt8] {
    let file: FileDescriptor
    do { file = try FileDescriptor.open(FilePath(path), .readOnly, options: .closeOnExec) } catch let error as Errno {
        throw PtraceFailure(operation: "open \(path)", tid: 0, errno: error.rawValue)
    }
    defer { try? file.close() }
    var result: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        // EINTR is retried; another error ends the file like end-of-file did before.
        guard let n = try? buffer.withUnsafeMutableBytes({ try file.read(into: $0) }), n > 0 else { break }
        result += buffer[0..<n]
    }
    return result
}
