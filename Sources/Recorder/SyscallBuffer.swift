// The in-process syscall buffer (`magprov record --syscall-buffer`), after rr's syscallbuf:
// a preload library (SyscallBufferPreload.swift) runs frequent data calls through one
// trusted `syscall` instruction that magprov's seccomp filter lets through without a ptrace
// stop, and logs each call (number, arguments, result, the bytes read or written) in a
// per-thread buffer in the tracee's memory. The supervisor reads that buffer at every stop
// of the thread, before it handles the stop, and turns each record into the very
// `SyscallEvent` a stopped call produces, so the coarse graph and replay read them unchanged.
// The supervisor never writes the buffer: when it is full, the library makes the traced
// buffer call, the supervisor drains it at that stop, and the library starts over.
//
// Trust: the records are written by code in the tracee's memory, so a hostile program can
// forge them (what it read, what it wrote). Only calls on already-open, seekable
// descriptors are buffered; everything that names or creates objects still stops. The
// default recorder (no --syscall-buffer) stops on every call. docs/ARCHITECTURE.md,
// "Syscall buffer".

import Foundation
import Glibc
import Syscalls
import Trace

/// Constants shared by the supervisor, the seccomp filter and the preload library (which
/// receives them as `-D` flags when it is compiled). The buffer layout, little-endian:
///
///     header   u32 magic "MPSB", u32 size, u32 used (end of committed records), u32 locked,
///              u32 generation (resets so far), u32 reserved
///     record   u32 length (8-aligned, whole record), u32 dataLength, u32 pathLength,
///              u32 reserved, u64 number, i64 result, 6 × u64 arguments, then dataLength
///              bytes (read, stat, readlink: the bytes the kernel wrote; write: the bytes
///              passed), then pathLength bytes (open, stat, readlink: the path, no NUL;
///              readv, writev: the iovec array)
public enum SyscallBufferABI {
    /// The page holding the trusted `syscall; ret`; fixed, so that the filter installed
    /// before the first exec knows it in every process of the recording.
    public static let trustedPage: UInt64 = 0x6d70_0000
    /// What the filter compares `seccomp_data.instruction_pointer` with: the address after
    /// the 2-byte `syscall` at the start of the page.
    public static let trustedInstructionEnd: UInt64 = trustedPage + 2
    /// The traced call (not a kernel syscall number) by which a thread announces its buffer,
    /// `(address, size)`, and later says it is full and about to start over.
    public static let bufferCall = 0x6d70
    /// Bytes per thread buffer: the supervisor holds at most this per drain.
    public static let bufferSize = 512 * 1024
    /// Calls that move more bytes than this take the stopping path.
    public static let maximumData = 128 * 1024
    static let magic: UInt32 = 0x4253_504d
    static let headerSize = 24
    static let recordHeaderSize = 80

    /// The syscalls the preload library makes through the trusted instruction, and the only
    /// ones the filter lets through there: data calls on open descriptors, lseek (also the
    /// probe that keeps pipes, sockets and terminals, ESPIPE, on the stopping path), read-only
    /// opens of existing files (`stopBits`), the stat family, close, dup, clock_gettime, the
    /// lookups that change nothing (readlink, readlinkat, access, faccessat, faccessat2,
    /// getcwd, getdents64), the process's and user's ids (getpid, getuid, geteuid, getgid,
    /// getegid; not getppid), fcntl's F_GETFD and F_GETFL only (`stopBits`), and the fstat
    /// and readlink of /proc/self/fd/N by which the library
    /// names a descriptor it opens or closes.
    public static let bufferedSyscalls: [Int] = ["read", "write", "pread64", "pwrite64", "readv", "writev", "lseek", "openat",
                                                 "newfstatat", "fstat", "readlinkat", "close", "dup", "clock_gettime",
                                                 "readlink", "access", "faccessat", "faccessat2", "getcwd", "getdents64",
                                                 "getpid", "getuid", "geteuid", "getgid", "getegid", "fcntl"].compactMap {
        SyscallTable.number(named: $0)
    }
    /// `bufferedSyscalls` for the drain's check of each record.
    static let bufferedSyscallSet = Set(bufferedSyscalls)

    /// Per trusted number, the bits of argument 2 that make the filter stop the call even at
    /// the trusted instruction: openat's O_ACCMODE (3), O_CREAT (0o100), O_TRUNC (0o1000) and
    /// __O_TMPFILE (0o20000000). A buffered open only reads an existing object; every open
    /// that creates, truncates or may write passes the supervisor's guard.
    ///
    /// An entry with bit 31 set (`argumentOneAllowList`) is instead the set of values argument 1
    /// may have (bit v allows v, 0-30; the kernel reads fcntl's command as 32 bits): fcntl
    /// passes only as F_GETFD (1) and F_GETFL (3), which read a descriptor's flags; F_DUPFD,
    /// F_SETFD, F_SETFL, the locks and the rest stop (CSupport's filter, `install_filter`).
    public static let stopBits: [Int: UInt32] = [
        SyscallTable.Number.openat: 0o3 | 0o100 | 0o1000 | 0o2000_0000,
        SyscallTable.number(named: "fcntl") ?? 72: argumentOneAllowList | 1 << 1 | 1 << 3,
    ]
    /// Bit 31 of a `stopBits` entry: the entry lists argument 1's allowed values.
    public static let argumentOneAllowList: UInt32 = 0x8000_0000

    /// Buffered calls whose record carries the bytes the kernel wrote at argument 1 (as many as
    /// the result), and those whose record carries the bytes passed at argument 1 (argument 2 of them).
    static let readsData: Set<Int> = Set(["read", "pread64", "getdents64"].compactMap { SyscallTable.number(named: $0) })
    static let writesData: Set<Int> = Set(["write", "pwrite64"].compactMap { SyscallTable.number(named: $0) })

    /// The `-D` flags that give the C source these constants.
    static var compilerDefinitions: [String] {
        ["-DMP_TRUSTED_PAGE=\(trustedPage)UL", "-DMP_BUFFER_CALL=\(bufferCall)", "-DMP_BUFFER_SIZE=\(bufferSize)",
         "-DMP_MAX_DATA=\(maximumData)", "-DMP_MAGIC=\(magic)U"]
    }
}

/// One thread's buffer as the supervisor follows it. A vfork child shares its parent's
/// object (same memory, and the parent is suspended); a forked child gets a copy.
final class SyscallBufferState {
    let address: UInt64
    /// Offset of the first record not yet turned into an event.
    var consumed: Int
    /// The header's generation when `consumed` was last set: another value means the
    /// library has reset the buffer since (after a buffer call), so reading starts over.
    var generation: UInt32

    init(address: UInt64, consumed: Int, generation: UInt32) {
        self.address = address; self.consumed = consumed; self.generation = generation
    }
}

/// One record of a thread's buffer, decoded.
struct BufferedRecord {
    var number: Int
    var result: Int64
    var arguments: [UInt64]
    /// Read, stat, readlink: the bytes the kernel wrote; write: the bytes passed.
    var data: [UInt8]
    /// Open, stat, readlink: the path argument's bytes as the library saw them; readv,
    /// writev: the iovec array.
    var path: [UInt8]

    var descriptor: Int64 { Int64(Int32(truncatingIfNeeded: arguments[0])) }
    var pathString: String { String(decoding: path, as: UTF8.self) }

    /// `(fd, device, inode, mode)` when this record is a successful fstat of a descriptor
    /// (`fstat`, or `newfstatat` with AT_EMPTY_PATH and an empty path).
    var descriptorStat: (fd: Int64, device: UInt64, inode: UInt64, mode: UInt32)? {
        guard result == 0, data.count >= 32 else { return nil }
        let isFstat = number == Numbers.fstat
        let isEmptyPathStat = number == Numbers.newfstatat && path.isEmpty && arguments[3] & 0x1000 /* AT_EMPTY_PATH */ != 0
        guard isFstat || isEmptyPathStat else { return nil }
        return (descriptor, data.loadUInt64(at: 0), data.loadUInt64(at: 8), data.loadUInt32(at: 24))
    }

    /// `(fd, name)` when this record is a successful readlink of `/proc/self/fd/N`.
    var descriptorName: (fd: Int64, name: String)? {
        guard number == Numbers.readlinkat, result > 0, path.starts(with: Array("/proc/self/fd/".utf8)),
              let fd = Int64(String(decoding: path.dropFirst(14), as: UTF8.self)) else { return nil }
        return (fd, String(decoding: data, as: UTF8.self))
    }

    /// The descriptor numbers this call changes: the one close releases, the one open or
    /// dup returns.
    var changedDescriptors: [Int64] {
        switch number {
        case Numbers.close: return [descriptor]
        case Numbers.openat, Numbers.dup: return result >= 0 ? [result] : []
        default: return []
        }
    }

    enum Numbers {
        static let fstat = SyscallTable.number(named: "fstat") ?? 5
        static let newfstatat = SyscallTable.number(named: "newfstatat") ?? 262
        static let readlinkat = SyscallTable.number(named: "readlinkat") ?? 267
        static let lseek = SyscallTable.number(named: "lseek") ?? 8
        static let clockGettime = SyscallTable.number(named: "clock_gettime") ?? 228
        static let readv = SyscallTable.number(named: "readv") ?? 19
        static let writev = SyscallTable.number(named: "writev") ?? 20
        static let readlink = SyscallTable.number(named: "readlink") ?? 89
        static let access = SyscallTable.number(named: "access") ?? 21
        static let faccessat = SyscallTable.number(named: "faccessat") ?? 269
        static let faccessat2 = SyscallTable.number(named: "faccessat2") ?? 439
        static let getcwd = SyscallTable.number(named: "getcwd") ?? 79
        static let getpid = SyscallTable.number(named: "getpid") ?? 39
        static let getuid = SyscallTable.number(named: "getuid") ?? 102
        static let geteuid = SyscallTable.number(named: "geteuid") ?? 107
        static let getgid = SyscallTable.number(named: "getgid") ?? 104
        static let getegid = SyscallTable.number(named: "getegid") ?? 108
        static let close = SyscallTable.Number.close, dup = SyscallTable.Number.dup, openat = SyscallTable.Number.openat
    }

    /// `(address, length)` of each iovec of a readv/writev record, cut to `total` bytes
    /// in all (as the kernel fills them: in order, the last one partly).
    func iovecs(total: Int) -> [(address: UInt64, length: Int)] {
        var remaining = total
        var pieces: [(address: UInt64, length: Int)] = []
        for i in 0..<(path.count / 16) where remaining > 0 {
            let length = Int(min(path.loadUInt64(at: i * 16 + 8), UInt64(remaining)))
            pieces.append((path.loadUInt64(at: i * 16), length))
            remaining -= length
        }
        return pieces
    }
}

/// What the descriptors named by one drain's records are, at each record. Buffered opens,
/// closes and dups change the descriptor table between two stops of the thread, so the
/// supervisor cannot ask /proc/TID/fd for a descriptor a later record closed: a descriptor
/// the batch changes is named by what the library logged (fstat and readlink of
/// /proc/self/fd/N before a close, after an open); one the batch leaves alone by /proc now.
struct BufferedDescriptorTable {
    let tid: Int32
    /// Descriptors opened, duplicated or closed by an earlier record of the batch.
    private var current: [Int64: ObjectIdentity?] = [:]
    /// What the library logged about a descriptor before the batch first changed it.
    private var initialStat: [Int64: (device: UInt64, inode: UInt64, mode: UInt32)] = [:]
    private var initialName: [Int64: String] = [:]
    private var changedInBatch: Set<Int64> = []
    private var resolvedNow: [Int64: ObjectIdentity?] = [:]

    init(tid: Int32, records: [BufferedRecord]) {
        self.tid = tid
        var changed = Set<Int64>()
        for record in records {
            if let s = record.descriptorStat, !changed.contains(s.fd), initialStat[s.fd] == nil {
                initialStat[s.fd] = (s.device, s.inode, s.mode)
            }
            if let n = record.descriptorName, !changed.contains(n.fd), initialName[n.fd] == nil { initialName[n.fd] = n.name }
            changed.formUnion(record.changedDescriptors)
        }
        changedInBatch = changed
    }

    /// The object descriptor `fd` names at this point of the batch, as argument `argument`.
    mutating func identity(of fd: Int64, argument: Int) -> ObjectIdentity? {
        var found: ObjectIdentity?
        if let entry = current[fd] {
            found = entry
        } else if let stat = initialStat[fd], let name = initialName[fd] {
            found = ObjectIdentity(argument: argument, requested: "", resolved: name, device: stat.device, inode: stat.inode,
                                   mode: stat.mode)
        } else if !changedInBatch.contains(fd) {
            if resolvedNow[fd] == nil { resolvedNow[fd] = ObjectResolver.identity(ofDescriptor: fd, tid: tid, argument: argument) }
            found = resolvedNow[fd] ?? nil
        }
        found?.argument = argument
        return found
    }

    mutating func set(_ fd: Int64, to identity: ObjectIdentity?) { current[fd] = .some(identity) }

    /// Canonical directories already resolved in this batch, by their /proc view (tar stats
    /// and opens thousands of names in a few directories: one realpath each, not one per name).
    var canonicalDirectories: [String: String?] = [:]

    mutating func canonicalDirectory(_ viewed: String) -> String? {
        if let known = canonicalDirectories[viewed] { return known }
        let resolved = FileIdentity.realPath(viewed)
        canonicalDirectories[viewed] = .some(resolved)
        return resolved
    }
}

extension Supervisor {
    /// Turns the records the task's buffer gained since the last drain into syscall events,
    /// in the order the library logged them. Cost: one process_vm_readv of the new bytes;
    /// per stat or open one path resolution; per descriptor the batch did not open, close
    /// or dup one /proc resolution.
    func drainSyscallBuffer(_ task: TracedTask) {
        guard let buffer = task.syscallBuffer else { return }
        let access = task.access
        guard let header = access.readBytes(at: buffer.address, count: SyscallBufferABI.headerSize),
              header.loadUInt32(at: 0) == SyscallBufferABI.magic else { return }
        let used = Int(header.loadUInt32(at: 8)), generation = header.loadUInt32(at: 16)
        if generation != buffer.generation {
            buffer.generation = generation
            buffer.consumed = SyscallBufferABI.headerSize
        }
        guard used > buffer.consumed else { return }
        guard used <= SyscallBufferABI.bufferSize,
              let bytes = access.readBytes(at: buffer.address + UInt64(buffer.consumed), count: used - buffer.consumed) else {
            log("magprov: task \(task.tid): syscall buffer header is damaged (used \(used)); records ignored")
            buffer.consumed = max(buffer.consumed, min(used, SyscallBufferABI.bufferSize))
            return
        }
        var records: [BufferedRecord] = []
        var offset = 0
        let recordHeader = SyscallBufferABI.recordHeaderSize
        while offset + recordHeader <= bytes.count {
            let length = Int(bytes.loadUInt32(at: offset)), dataLength = Int(bytes.loadUInt32(at: offset + 4))
            let pathLength = Int(bytes.loadUInt32(at: offset + 8))
            let number = Int(truncatingIfNeeded: bytes.loadUInt64(at: offset + 16))
            guard length >= recordHeader, length % 8 == 0, offset + length <= bytes.count,
                  recordHeader + dataLength + pathLength <= length, SyscallBufferABI.bufferedSyscallSet.contains(number) else {
                log("magprov: task \(task.tid): malformed syscall buffer record at offset \(buffer.consumed + offset); rest ignored")
                break
            }
            let result = Int64(bitPattern: bytes.loadUInt64(at: offset + 24))
            let arguments = (0..<6).map { bytes.loadUInt64(at: offset + 32 + 8 * $0) }
            let dataStart = offset + recordHeader
            records.append(BufferedRecord(number: number, result: result, arguments: arguments,
                                          data: Array(bytes[dataStart..<(dataStart + dataLength)]),
                                          path: Array(bytes[(dataStart + dataLength)..<(dataStart + dataLength + pathLength)])))
            offset += length
        }
        buffer.consumed += offset
        var descriptors = BufferedDescriptorTable(tid: task.tid, records: records)
        for index in records.indices {
            emitBufferedSyscall(task, records: records, index: index, descriptors: &descriptors)
        }
    }

    /// The event a stopped call would have produced (Supervisor.syscallEntry/Exit): the
    /// objects its descriptors and paths name, the digest of the bytes written, the bytes
    /// the kernel wrote. For a buffered open the new descriptor's identity is the one the
    /// library logged right after it (fstat, readlink of /proc/self/fd/N).
    private func emitBufferedSyscall(_ task: TracedTask, records: [BufferedRecord], index: Int,
                                     descriptors: inout BufferedDescriptorTable) {
        let record = records[index]
        let number = record.number, arguments = record.arguments, result = record.result, data = record.data
        var event = SyscallEvent(number: number, arguments: arguments, result: result, flags: .buffered, entrySequence: sequence)
        sequence += 1
        let fd = record.descriptor
        typealias N = BufferedRecord.Numbers
        switch number {
        case N.newfstatat:
            event.objects.append(pathIdentity(task, record: record, descriptors: &descriptors))
            if result == 0, data.count == 144 { event.writes.append(MemoryWrite(address: arguments[2], bytes: data)) }
        case N.fstat:
            if let identity = descriptors.identity(of: fd, argument: 0) { event.objects.append(identity) }
            if result == 0, data.count == 144 { event.writes.append(MemoryWrite(address: arguments[1], bytes: data)) }
        case N.readlinkat where record.descriptorName != nil && Int32(truncatingIfNeeded: fd) == -100 /* AT_FDCWD */:
            // /proc/self/fd/N, the library's own naming call: named without a look at /proc
            // (ObjectResolver.selfResolved's answer, with the task's known thread group instead
            // of a read of /proc/TID/status per record: that read was half the drain's CPU on tar).
            event.objects.append(ObjectIdentity(argument: 1, requested: record.pathString,
                                                resolved: "/proc/\(task.tgid)" + record.pathString.dropFirst("/proc/self".count),
                                                device: 0, inode: 0, mode: 0))
            if result > 0, data.count == Int(result) { event.writes.append(MemoryWrite(address: arguments[2], bytes: data)) }
        case N.readlink, N.readlinkat, N.access, N.faccessat, N.faccessat2:
            // The path object a stopped call resolves at its entry; readlink's target is the
            // kernel's write into the buffer argument.
            let index = SyscallTable.spec(number).pathArguments.first ?? 1
            event.objects.append(pathIdentity(task, record: record, pathArgument: index, descriptors: &descriptors))
            if number == N.readlink || number == N.readlinkat, result > 0, data.count == Int(result) {
                event.writes.append(MemoryWrite(address: arguments[index + 1], bytes: data))
            }
        case N.getpid, N.getuid, N.geteuid, N.getgid, N.getegid:
            break  // no argument, no object, nothing written: the result is the event
        case N.getcwd:
            if result > 0, data.count == Int(result) { event.writes.append(MemoryWrite(address: arguments[0], bytes: data)) }
        case N.openat:
            let opened = result >= 0 ? openedIdentity(records: records, after: index, fd: result) : nil
            // A successful open names what the kernel opened, as a stopped one does after its
            // check (Supervisor.addExitObjects): the logged name and identity, no resolution.
            var path = opened.map {
                ObjectIdentity(argument: 1, requested: record.pathString, resolved: $0.resolved, device: $0.device,
                               inode: $0.inode, mode: $0.mode)
            } ?? pathIdentity(task, record: record, descriptors: &descriptors)
            if result >= 0 {
                if let opened {
                    // As a stopped open: the descriptor is what the kernel opened, so the path
                    // argument names that (Supervisor.addExitObjects).
                    if path.inode != 0, path.device != opened.device || path.inode != opened.inode {
                        path = ObjectIdentity(argument: path.argument, requested: path.requested, resolved: opened.resolved,
                                              device: opened.device, inode: opened.inode, mode: opened.mode)
                    }
                    checkBufferedOpen(task, opened)
                } else {
                    log("magprov: task \(task.tid): buffered openat = \(result) without the descriptor's identity after it")
                }
                event.objects.append(path)
                if let opened { event.objects.append(opened) }
                descriptors.set(result, to: opened)
            } else {
                event.objects.append(path)
            }
        case N.close:
            if let identity = descriptors.identity(of: fd, argument: 0) { event.objects.append(identity) }
            descriptors.set(fd, to: nil)
        case N.dup:
            let identity = descriptors.identity(of: fd, argument: 0)
            if let identity { event.objects.append(identity) }
            if result >= 0 {
                var copy = identity
                copy?.argument = -1
                if let copy { event.objects.append(copy) }
                descriptors.set(result, to: copy)
            }
        case N.clockGettime:
            if result == 0, data.count == 16 { event.writes.append(MemoryWrite(address: arguments[1], bytes: data)) }
        case N.readv, N.writev:
            if let identity = descriptors.identity(of: fd, argument: 0) { event.objects.append(identity) }
            // The kernel's writes and the digests a stopped call records: one per iovec
            // (Syscalls' iovec rule, Supervisor.readIovecInputs).
            let total = number == N.readv ? Int(max(result, 0)) : data.count
            guard data.count == total else { break }
            var offset = 0
            for piece in record.iovecs(total: total) {
                let bytes = Array(data[offset..<(offset + piece.length)])
                offset += piece.length
                guard piece.address != 0, piece.length > 0 else { continue }
                if number == N.readv {
                    event.writes.append(MemoryWrite(address: piece.address, bytes: bytes))
                } else {
                    event.inputs.append(BufferDigest(address: piece.address, bytes: bytes))
                }
            }
        default:
            if let identity = descriptors.identity(of: fd, argument: 0) { event.objects.append(identity) }
            if SyscallBufferABI.readsData.contains(number) {
                if result > 0, data.count == Int(result) { event.writes.append(MemoryWrite(address: arguments[1], bytes: data)) }
            } else if SyscallBufferABI.writesData.contains(number) {
                if arguments[1] != 0, arguments[2] > 0, data.count == Int(arguments[2]) {
                    event.inputs.append(BufferDigest(address: arguments[1], bytes: data))
                }
            }
        }
        syscallCount += 1
        emit(task.tid, .syscall(event))
    }

    /// The object a stat's or open's path argument (argument 1, qualified by the dirfd in
    /// argument 0) names, as a stopped call resolves it, with the (device, inode, mode) the
    /// kernel reported to the library when the stat succeeded. A relative path under a
    /// descriptor the batch has since closed is resolved under that descriptor's logged name.
    private func pathIdentity(_ task: TracedTask, record: BufferedRecord, pathArgument: Int = 1,
                              descriptors: inout BufferedDescriptorTable) -> ObjectIdentity {
        let spec = SyscallTable.spec(record.number)
        let path = record.pathString
        // A call without a directory descriptor (access, readlink) resolves as under AT_FDCWD.
        let dirfd = ObjectResolver.dirfd(for: pathArgument, spec: spec, arguments: record.arguments) ?? -100
        let follow = spec.followsFinalLink(arguments: record.arguments)
        if record.number == BufferedRecord.Numbers.newfstatat, record.result == 0, record.data.count == 144,
           let fast = statedPathIdentity(task, record: record, follow: follow, descriptors: &descriptors) {
            return fast
        }
        var identity: ObjectIdentity
        if path.isEmpty, dirfd >= 0, let descriptor = descriptors.identity(of: dirfd, argument: pathArgument) {
            // As ObjectResolver.identity(ofPath:): an empty path names the descriptor.
            identity = descriptor
        } else if path.hasPrefix("/") || Int32(truncatingIfNeeded: dirfd) == -100 /* AT_FDCWD */ {
            identity = ObjectResolver.identity(ofPath: path, dirfd: dirfd, tid: task.tid, argument: pathArgument, followFinalLink: follow)
        } else if let base = descriptors.identity(of: dirfd, argument: 0), base.resolved.hasPrefix("/") {
            identity = ObjectResolver.identity(ofPath: base.resolved + "/" + path, dirfd: nil, tid: task.tid, argument: pathArgument,
                                               followFinalLink: follow)
            identity.requested = path
        } else {
            identity = ObjectResolver.identity(ofPath: path, dirfd: dirfd, tid: task.tid, argument: pathArgument, followFinalLink: follow)
        }
        identity.requested = path
        if record.number == BufferedRecord.Numbers.newfstatat, record.result == 0, record.data.count == 144 {
            identity.device = record.data.loadUInt64(at: 0)
            identity.inode = record.data.loadUInt64(at: 8)
            identity.mode = record.data.loadUInt32(at: 24)
        }
        return identity
    }

    /// A successful stat's path object without a realpath per name: the directory part is
    /// resolved once per batch, the final name appended when it is a plain name that is not a
    /// symlink the call followed — what ObjectResolver.identity(ofPath:) gives then. Nil
    /// when that does not hold (the caller resolves the whole path).
    private func statedPathIdentity(_ task: TracedTask, record: BufferedRecord, follow: Bool,
                                    descriptors: inout BufferedDescriptorTable) -> ObjectIdentity? {
        let path = record.pathString
        let slash = path.lastIndex(of: "/")
        let last = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !last.isEmpty, last != ".", last != ".." else { return nil }
        let parent = slash.map { String(path[..<$0]) } ?? ""
        let dirfd = record.descriptor
        let viewedParent: String
        if path.hasPrefix("/") {
            viewedParent = ObjectResolver.procPath(for: parent.isEmpty ? "/" : parent, dirfd: nil, tid: task.tid)
        } else if Int32(truncatingIfNeeded: dirfd) == -100 /* AT_FDCWD */ {
            viewedParent = ObjectResolver.procPath(for: parent.isEmpty ? "." : parent, dirfd: nil, tid: task.tid)
        } else if let base = descriptors.identity(of: dirfd, argument: 0), base.resolved.hasPrefix("/") {
            viewedParent = ObjectResolver.procPath(for: parent.isEmpty ? base.resolved : base.resolved + "/" + parent, dirfd: nil,
                                                   tid: task.tid)
        } else {
            return nil
        }
        guard let directory = descriptors.canonicalDirectory(viewedParent) else { return nil }
        if follow {
            // A followed symlink resolves elsewhere: only a name that is no symlink now is cheap.
            guard let link = FileIdentity.ofLink(path: viewedParent + "/" + last), link.mode & 0o170000 != 0o120000 else { return nil }
        }
        let data = record.data
        return ObjectIdentity(argument: 1, requested: path, resolved: (directory == "/" ? "" : directory) + "/" + last,
                              device: data.loadUInt64(at: 0), inode: data.loadUInt64(at: 8), mode: data.loadUInt32(at: 24))
    }

    /// The identity the library logged for descriptor `fd` right after the open at `index`:
    /// its fstat and its readlink of /proc/self/fd/N.
    private func openedIdentity(records: [BufferedRecord], after index: Int, fd: Int64) -> ObjectIdentity? {
        var stat: (device: UInt64, inode: UInt64, mode: UInt32)?
        var name: String?
        for record in records[(index + 1)...].prefix(2) {
            if let s = record.descriptorStat, s.fd == fd { stat = (s.device, s.inode, s.mode) }
            if let n = record.descriptorName, n.fd == fd { name = n.name }
        }
        guard let stat, let name else { return nil }
        return ObjectIdentity(argument: -1, requested: "", resolved: name, device: stat.device, inode: stat.inode, mode: stat.mode)
    }

    /// A buffered open passed no guard (the filter lets only read-only opens of existing
    /// objects through the trusted instruction): say so when one named the trace or the
    /// recorder's /proc entries, which a stopped open would have been refused.
    private func checkBufferedOpen(_ task: TracedTask, _ opened: ObjectIdentity) {
        guard let traceeGuard, traceeGuard.protected.isInsideTrace(opened.resolved)
                || traceeGuard.protected.isRecorderProc(opened.resolved) else { return }
        log("magprov: task \(task.tid): warning: a buffered read-only openat reached \(opened.resolved), which the " +
            "stopping path refuses (--syscall-buffer trusts the program: see docs/ARCHITECTURE.md, \"Syscall buffer\")")
    }

    /// Whether the task stopped inside the library's critical section (`locked` set): between
    /// a buffered call and its record's commit. A preemption or a held signal delivered there
    /// would come before the call's event in the trace but after the call in the program.
    func isInsideBufferedCall(_ task: TracedTask) -> Bool {
        guard let buffer = task.syscallBuffer,
              let header = task.access.readBytes(at: buffer.address, count: SyscallBufferABI.headerSize) else { return false }
        return header.loadUInt32(at: 12) != 0
    }

    /// The traced buffer call `(address, size)`: announces a thread's buffer, or, for the
    /// buffer already known, is the stop at which a full buffer is drained before the
    /// library resets it. Returns the result the supervisor gives the call.
    func syscallBufferCall(_ task: TracedTask, arguments: [UInt64]) -> Int64 {
        let address = arguments[0]
        guard arguments[1] == UInt64(SyscallBufferABI.bufferSize), address % 4096 == 0, address != 0 else { return Int64(-EINVAL) }
        if task.syscallBuffer?.address != address {
            let generation = task.access.readBytes(at: address + 16, count: 4).map { $0.loadUInt32(at: 0) } ?? 0
            task.syscallBuffer = SyscallBufferState(address: address, consumed: SyscallBufferABI.headerSize, generation: generation)
        }
        // The library made its trusted page before any buffer: from now on it stays as it is.
        sealedTrustedPages.insert(task.tgid)
        return 0
    }

    /// The trusted page, when it is sealed in the task's address space: the guard refuses
    /// munmap, mprotect, mremap, MAP_FIXED, madvise and shmat over it (as over scratch areas).
    func trustedPageRanges(_ task: TracedTask) -> [Range<UInt64>] {
        sealedTrustedPages.contains(task.tgid) ? [SyscallBufferABI.trustedPage..<(SyscallBufferABI.trustedPage + 4096)] : []
    }

    /// A new task's buffer: a thread makes its own; a vfork child (or another CLONE_VM child)
    /// writes into its parent's while the parent waits; a forked child has a copy.
    func inheritSyscallBuffer(_ child: TracedTask, from parent: TracedTask, kind: TaskStart.Kind, sharesMemory: Bool) {
        if sealedTrustedPages.contains(parent.tgid) { sealedTrustedPages.insert(child.tgid) }
        guard let buffer = parent.syscallBuffer, kind != .thread else { child.syscallBuffer = nil; return }
        child.syscallBuffer = sharesMemory || kind == .vfork ? buffer : SyscallBufferState(address: buffer.address, consumed: buffer.consumed,
                                                                                               generation: buffer.generation)
    }

    /// A new program image: no buffer, no trusted page until its library makes them.
    func forgetSyscallBuffer(_ task: TracedTask) {
        task.syscallBuffer = nil
        sealedTrustedPages.remove(task.tgid)
    }
}

/// Compiles the preload library (cached by source and constants).
public enum SyscallBufferLibrary {
    public enum BuildError: Error, CustomStringConvertible {
        case compilerFailed(status: Int32, output: String)
        case noCacheDirectory

        public var description: String {
            switch self {
            case .compilerFailed(let status, let output):
                return "--syscall-buffer: cc could not build the preload library (status \(status)): \(output)"
            case .noCacheDirectory:
                return "--syscall-buffer: no cache directory for the preload library (set XDG_CACHE_HOME or HOME)"
            }
        }
    }

    /// The path of the compiled library: `$XDG_CACHE_HOME/magprov/syscall-buffer-HASH.so`
    /// (else `~/.cache/magprov`), built with `cc` on first use (~0.1 s), reused after.
    /// - Throws: `BuildError` when there is no cache directory or the compiler fails.
    public static func path() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        guard let cacheRoot = environment["XDG_CACHE_HOME"].flatMap({ $0.isEmpty ? nil : $0 })
                ?? environment["HOME"].map({ $0 + "/.cache" }) else { throw BuildError.noCacheDirectory }
        let flags = ["-shared", "-fPIC", "-O2", "-mno-red-zone", "-fno-stack-protector"] + SyscallBufferABI.compilerDefinitions
        let key = fnv1a64(Array((SyscallBufferPreload.source + flags.joined(separator: " ")).utf8))
        let directory = cacheRoot + "/magprov"
        let library = directory + "/syscall-buffer-\(String(key, radix: 16)).so"
        if access(library, R_OK) == 0 { return library }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Build beside the final name and rename: concurrent recorders never see half a file.
        let unique = "\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let sourcePath = directory + "/syscall-buffer-\(unique).c", temporary = directory + "/syscall-buffer-\(unique).so"
        defer { unlink(sourcePath); unlink(temporary) }
        try SyscallBufferPreload.source.write(toFile: sourcePath, atomically: false, encoding: .utf8)
        let compiler = Process()
        compiler.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        compiler.arguments = ["cc"] + flags + ["-o", temporary, sourcePath, "-ldl"]
        let output = Pipe()
        compiler.standardOutput = output
        compiler.standardError = output
        try compiler.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        compiler.waitUntilExit()
        guard compiler.terminationStatus == 0 else { throw BuildError.compilerFailed(status: compiler.terminationStatus, output: text) }
        guard rename(temporary, library) == 0 else { throw BuildError.compilerFailed(status: -1, output: String(cString: strerror(errno))) }
        return library
    }
}
