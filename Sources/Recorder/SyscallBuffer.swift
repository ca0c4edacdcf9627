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
///     record   u32 length (8-aligned, whole record), u32 dataLength, u64 number,
///              i64 result, 6 × u64 arguments, then dataLength bytes (read: the bytes the
///              kernel wrote; write: the bytes passed)
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
    static let recordHeaderSize = 72

    /// The syscalls the preload library makes through the trusted instruction, and the only
    /// ones the filter lets through there: data calls on open descriptors, and the lseek
    /// probe that keeps pipes, sockets and terminals (ESPIPE) on the stopping path.
    public static let bufferedSyscalls: [Int] = ["read", "write", "pread64", "pwrite64", "lseek"].compactMap {
        SyscallTable.number(named: $0)
    }

    /// Buffered calls whose record carries the bytes the kernel wrote at argument 1 (as many as
    /// the result), and those whose record carries the bytes passed at argument 1 (argument 2 of them).
    static let readsData: Set<Int> = Set(["read", "pread64"].compactMap { SyscallTable.number(named: $0) })
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

extension Supervisor {
    /// Turns the records the task's buffer gained since the last drain into syscall events,
    /// in the order the library logged them. Cost: one process_vm_readv of the new bytes,
    /// one descriptor resolution per distinct descriptor (the descriptor table cannot change
    /// between two stops of the thread group, since close, dup2 and friends always stop).
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
        var identities: [Int64: ObjectIdentity?] = [:]
        var offset = 0
        let recordHeader = SyscallBufferABI.recordHeaderSize
        while offset + recordHeader <= bytes.count {
            let length = Int(bytes.loadUInt32(at: offset)), dataLength = Int(bytes.loadUInt32(at: offset + 4))
            let number = Int(truncatingIfNeeded: bytes.loadUInt64(at: offset + 8))
            guard length >= recordHeader, length % 8 == 0, offset + length <= bytes.count,
                  recordHeader + dataLength <= length, SyscallBufferABI.bufferedSyscalls.contains(number) else {
                log("magprov: task \(task.tid): malformed syscall buffer record at offset \(buffer.consumed + offset); rest ignored")
                break
            }
            let result = Int64(bitPattern: bytes.loadUInt64(at: offset + 16))
            let arguments = (0..<6).map { bytes.loadUInt64(at: offset + 24 + 8 * $0) }
            let data = Array(bytes[(offset + recordHeader)..<(offset + recordHeader + dataLength)])
            emitBufferedSyscall(task, number: number, arguments: arguments, result: result, data: data, identities: &identities)
            offset += length
        }
        buffer.consumed += offset
    }

    /// The event a stopped call would have produced: the descriptor's identity, the digest
    /// of the bytes written, the bytes the kernel wrote (Supervisor.syscallEntry/Exit).
    private func emitBufferedSyscall(_ task: TracedTask, number: Int, arguments: [UInt64], result: Int64, data: [UInt8],
                                     identities: inout [Int64: ObjectIdentity?]) {
        var event = SyscallEvent(number: number, arguments: arguments, result: result, flags: .buffered, entrySequence: sequence)
        sequence += 1
        let fd = Int64(Int32(truncatingIfNeeded: arguments[0]))
        if identities[fd] == nil { identities[fd] = ObjectResolver.identity(ofDescriptor: fd, tid: task.tid, argument: 0) }
        if let identity = identities[fd] ?? nil { event.objects.append(identity) }
        if SyscallBufferABI.readsData.contains(number) {
            if result > 0, data.count == Int(result) { event.writes.append(MemoryWrite(address: arguments[1], bytes: data)) }
        } else if SyscallBufferABI.writesData.contains(number) {
            if arguments[1] != 0, arguments[2] > 0, data.count == Int(arguments[2]) {
                event.inputs.append(BufferDigest(address: arguments[1], bytes: data))
            }
        }
        syscallCount += 1
        emit(task.tid, .syscall(event))
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

    /// At an execve entry: when the new environment lacks the preload library (`env -i`, a
    /// program that builds its own), writes a copy of the envp array with `LD_PRELOAD` (ours
    /// first, then the program's own list) into the task's scratch area and points the
    /// envp argument there until the syscall exit. The trace keeps the program's own
    /// arguments; the exec snapshot shows the environment the new image received.
    /// - Returns: the redirected argument and its original value; nil when nothing changed
    ///   (library present, no scratch area, or an envp that cannot be read or does not fit).
    func preloadEnvironment(_ task: TracedTask, number: Int, arguments: [UInt64]) throws -> (index: Int, original: UInt64)? {
        guard let library = syscallBufferLibrary, let scratch = task.scratch else { return nil }
        let index = number == SyscallTable.Number.execveat ? 3 : 2
        let access = task.access
        var pointers: [UInt64] = []
        var preloadSlot: Int?
        var cursor = arguments[index]
        while cursor != 0, pointers.count < 4096, let pointer = access.readUInt64(at: cursor), pointer != 0 {
            if let entry = access.readCStringBytes(at: pointer, limit: 4096), entry.bytes.starts(with: Array("LD_PRELOAD=".utf8)) {
                if String(decoding: entry.bytes, as: UTF8.self).contains(library) { return nil }
                preloadSlot = pointers.count
            }
            pointers.append(pointer)
            cursor += 8
        }
        // The LD_PRELOAD string first, then the array, in the scratch area (free at execve:
        // exec paths are not copied there).
        var value = Array("LD_PRELOAD=\(library)".utf8)
        if let preloadSlot, let old = access.readCStringBytes(at: pointers[preloadSlot], limit: 4096) {
            value.append(UInt8(ascii: ":"))
            value += old.bytes.dropFirst("LD_PRELOAD=".count)
        }
        value.append(0)
        let stringAddress = scratch.address
        let arrayAddress = scratch.address + ((UInt64(value.count) + 15) & ~15)
        if let preloadSlot { pointers[preloadSlot] = stringAddress } else { pointers.append(stringAddress) }
        pointers.append(0)
        var array: [UInt8] = []
        for pointer in pointers { withUnsafeBytes(of: pointer.littleEndian) { array += $0 } }
        guard arrayAddress + UInt64(array.count) <= scratch.range.upperBound,
              writeScratch(task, value, at: stringAddress), writeScratch(task, array, at: arrayAddress) else { return nil }
        var regs = try access.registers()
        regs[argumentRegisters[index]] = arrayAddress
        try access.setRegisters(regs)
        return (index, arguments[index])
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
