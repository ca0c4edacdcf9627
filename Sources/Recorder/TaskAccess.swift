// Reading and writing a stopped tracee: registers through ptrace, memory through
// process_vm_readv (one syscall per range, no per-word PEEKDATA) and /proc/PID/mem for
// pages the task itself cannot read (ptrace access overrides protection).

import CSupport
import Glibc
import Syscalls
import SystemPackage
import Trace

/// ptrace request numbers (sys/ptrace.h); Swift cannot see the enum's C macros reliably.
public enum PtraceRequest {
    public static let peekData = 2, cont = 7, singleStep = 9, getSigInfo = 0x4202, setOptions = 0x4200
    public static let getEventMsg = 0x4201, syscall = 24, seize = 0x4206, interrupt = 0x4207, listen = 0x4208
}

public enum PtraceOption {
    public static let traceSysGood: UInt64 = 1, traceFork: UInt64 = 2, traceVFork: UInt64 = 4
    public static let traceClone: UInt64 = 8, traceExec: UInt64 = 0x10, traceSeccomp: UInt64 = 0x80
    public static let exitKill: UInt64 = 0x100000
}

public enum PtraceEvent {
    public static let fork: Int32 = 1, vfork: Int32 = 2, clone: Int32 = 3, exec: Int32 = 4
    public static let vforkDone: Int32 = 5, exit: Int32 = 6, seccomp: Int32 = 7, stop: Int32 = 128
}

/// Failure of a ptrace operation on one task; usually the task died under us.
public struct PtraceFailure: Error, CustomStringConvertible {
    let operation: String
    let tid: Int32
    let errno: Int32
    public var description: String { "\(operation) on task \(tid): \(String(cString: strerror(errno)))" }
}

/// A stopped tracee: registers through ptrace, memory through process_vm_readv and
/// /proc/PID/mem. Valid only while the caller is its tracer and it is stopped.
public struct TaskAccess: TaskMemoryReader {
    public let tid: Int32
    public init(tid: Int32) { self.tid = tid }

    public func registers() throws -> RegisterFile {
        var regs = user_regs_struct()
        let r = mp_get_regs(tid, &regs)
        guard r >= 0 else { throw PtraceFailure(operation: "GETREGS", tid: tid, errno: Int32(-r)) }
        return withUnsafeBytes(of: regs) { raw in
            RegisterFile(words: (0..<RegisterFile.count).map { raw.load(fromByteOffset: $0 * 8, as: UInt64.self) })
        }
    }

    public func setRegisters(_ file: RegisterFile) throws {
        var regs = user_regs_struct()
        withUnsafeMutableBytes(of: &regs) { raw in
            for (i, w) in file.words.enumerated() { raw.storeBytes(of: w, toByteOffset: i * 8, as: UInt64.self) }
        }
        let r = mp_set_regs(tid, &regs)
        guard r >= 0 else { throw PtraceFailure(operation: "SETREGS", tid: tid, errno: Int32(-r)) }
    }

    /// Sets one general-purpose register (PTRACE_POKEUSER at its offset in
    /// `user_regs_struct`, ptrace(2)): one call where `registers` and `setRegisters` take
    /// two. Throws `PtraceFailure` when the task is not stopped or gone.
    public func setRegister(_ index: RegisterFile.Index, _ value: UInt64) throws {
        let r = mp_ptrace(6 /* PTRACE_POKEUSER */, tid, UInt64(index.rawValue * 8), value)
        guard r >= 0 else { throw PtraceFailure(operation: "POKEUSER", tid: tid, errno: Int32(-r)) }
    }

    public func fpRegisters() -> [UInt8] {
        var fp = user_fpregs_struct()
        guard mp_get_fpregs(tid, &fp) >= 0 else { return [] }
        return withUnsafeBytes(of: fp) { Array($0) }
    }

    public func siginfo() -> [UInt8] {
        var info = [UInt8](repeating: 0, count: 128)
        let r = info.withUnsafeMutableBytes { mp_ptrace(Int(PtraceRequest.getSigInfo), tid, 0, UInt64(UInt(bitPattern: $0.baseAddress))) }
        return r >= 0 ? info : []
    }

    public func eventMessage() -> UInt64 {
        var message: UInt64 = 0
        _ = withUnsafeMutablePointer(to: &message) { mp_ptrace(Int(PtraceRequest.getEventMsg), tid, 0, UInt64(UInt(bitPattern: $0))) }
        return message
    }

    public func readBytes(at address: UInt64, count: Int) -> [UInt8]? {
        guard count > 0 else { return [] }
        guard count <= maximumCaptureLength else { return nil }
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { mp_read_task_memory(tid, $0.baseAddress, address, UInt64(count)) }
        if n == count { return buffer }
        // A range spanning an unreadable page: fall back to /proc/PID/mem, which ptrace
        // access lets us read whatever the protection.
        return readViaProcMem(at: address, count: count)
    }

    /// Reads the range only if the task itself could: process_vm_readv, which honours the
    /// page protection as the kernel's copy_from_user does (a PROT_NONE page fails), where
    /// `readBytes` falls back to /proc/PID/mem, which ignores it. For arguments the kernel
    /// reads from user memory (path strings), whose copy must fail where the kernel's would.
    /// Falls back to /proc/PID/mem only when process_vm_readv itself is unavailable (ENOSYS,
    /// EPERM), not when the memory is unreadable (EFAULT).
    public func readUserBytes(at address: UInt64, count: Int) -> [UInt8]? {
        guard count > 0 else { return [] }
        guard count <= maximumCaptureLength else { return nil }
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { mp_read_task_memory(tid, $0.baseAddress, address, UInt64(count)) }
        if n == count { return buffer }
        if n == -Int(ENOSYS) || n == -Int(EPERM) { return readViaProcMem(at: address, count: count) }
        return nil
    }

    /// Reads as much of the range as /proc/PID/mem yields; nil if nothing.
    public func readViaProcMem(at address: UInt64, count: Int) -> [UInt8]? {
        guard let memory = try? FileDescriptor.open(FilePath("/proc/\(tid)/mem"), .readOnly, options: .closeOnExec) else { return nil }
        defer { try? memory.close() }
        var buffer = [UInt8](repeating: 0, count: count)
        let n = try? buffer.withUnsafeMutableBytes { try memory.read(fromAbsoluteOffset: Int64(bitPattern: address), into: $0) }
        return n == count ? buffer : nil
    }

    public func writeBytes(_ bytes: [UInt8], at address: UInt64) -> Bool {
        guard let memory = try? FileDescriptor.open(FilePath("/proc/\(tid)/mem"), .writeOnly, options: .closeOnExec) else { return false }
        defer { try? memory.close() }
        let n = try? bytes.withUnsafeBytes { try memory.write(toAbsoluteOffset: Int64(bitPattern: address), $0) }
        return n == bytes.count
    }

    /// Resumes the task with a restart request and an optional signal to deliver.
    public func resume(_ request: Int, signal: Int32 = 0) throws {
        let r = mp_ptrace(request, tid, 0, UInt64(signal))
        guard r >= 0 else { throw PtraceFailure(operation: "resume(\(request))", tid: tid, errno: Int32(-r)) }
    }
}

/// Reads the bytes of an open file object (through /proc/PID/fd/N) or path: stat identity.
struct FileIdentity {
    static func of(path: String) -> (device: UInt64, inode: UInt64, mode: UInt32)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (UInt64(st.st_dev), UInt64(st.st_ino), UInt32(st.st_mode))
    }

    static func ofLink(path: String) -> (device: UInt64, inode: UInt64, mode: UInt32)? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return (UInt64(st.st_dev), UInt64(st.st_ino), UInt32(st.st_mode))
    }

    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink(path, &buffer, 4096)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
