// The supervisor's side of a program's own seccomp filters (SeccompFilter.swift has the
// interpreter): installing one is recorded and emulated instead of reaching the kernel, and
// each later syscall of the task is answered as the kernel would have answered it.
//
// What each action becomes (seccomp(2), "Return values"):
//   ALLOW, LOG, TRACE   the syscall runs and is recorded as usual (magprov is the tracer)
//   ERRNO               skipped, -data returned (recorded `refused`, result -data)
//   TRAP                skipped (rax = the syscall number, as the kernel's rollback leaves
//                       it), then SIGSYS with si_code SYS_SECCOMP, si_call_addr, si_syscall,
//                       si_arch and si_errno = data
//   KILL_PROCESS        skipped; the process dies of SIGSYS (SIGKILL when SIGSYS is caught
//                       or blocked: the kernel's forced SIGSYS cannot be sent from outside)
//   KILL_THREAD         as KILL_PROCESS (exact for a single-threaded process; the kernel
//                       would end only the calling thread of a bigger group)
//   USER_NOTIF          skipped with ENOSYS (no listener: magprov does not hand out the
//                       notification fd; a filter asking for one is refused with ENOSYS)
// Strict mode (SECCOMP_SET_MODE_STRICT) is emulated too: anything but read, write, _exit
// and rt_sigreturn gets SIGKILL.

import CSupport
import Glibc
import Syscalls
import Trace

extension Supervisor {
    /// Syscalls strict mode allows.
    static let strictModeAllowed: Set<Int32> = Set(["read", "write", "exit", "rt_sigreturn"].compactMap {
        SyscallTable.number(named: $0).map(Int32.init)
    })

    /// Runs the task's filters on the syscall it is entering and applies a verdict that
    /// keeps the kernel from running it.
    /// - Returns: the result to return without running the syscall, or nil to go on.
    func applyTraceeFilters(_ task: TracedTask, info: mp_syscall_info, arguments: [UInt64]) throws -> Int64? {
        let data = SeccompData(number: Int32(truncatingIfNeeded: info.nr), arch: info.arch,
                               instructionPointer: info.instruction_pointer, arguments: arguments)
        let (action, strictKill) = task.seccomp.action(for: data, strictAllowed: Supervisor.strictModeAllowed)
        switch action {
        case .allow, .log, .trace:
            return nil
        case .errno(let value):
            return -Int64(min(value, 4095))
        case .userNotify:
            log("magprov: task \(task.tid): the program's seccomp filter asked for a user notification; refused with ENOSYS")
            return Int64(-ENOSYS)
        case .trap(let value):
            task.pendingTrap = trapSiginfo(data: data, errno: Int32(value))
            return Int64(data.number)
        case .killThread, .killProcess:
            let catchable = strictKill || sigsysIsCaughtOrBlocked(task.tid)
            if catchable {
                kill(task.tgid, SIGKILL)
            } else {
                task.releasing.append(SIGSYS)
                _ = mp_tgkill(task.tgid, task.tid, SIGSYS)
            }
            log("magprov: task \(task.tid): the program's seccomp \(strictKill ? "strict mode" : "filter") killed the process")
            return Int64(-ENOSYS)
        }
    }

    /// seccomp(SECCOMP_SET_MODE_FILTER / _STRICT) and prctl(PR_SET_SECCOMP): the filter is
    /// validated as the kernel would, kept by the supervisor and not installed.
    /// - Returns: the result to return without running the syscall, or nil when the call
    ///   installs nothing (other seccomp operations run in the kernel).
    func interceptSeccompInstall(_ task: TracedTask, number: Int, arguments a: [UInt64]) throws -> Int64? {
        let mode: UInt64, flags: UInt64, program: UInt64
        if number == SyscallTable.number(named: "seccomp") {
            guard a[0] <= 1 else { return nil }  // GET_ACTION_AVAIL, GET_NOTIF_SIZES: harmless
            (mode, flags, program) = (a[0] == 0 ? 1 : 2, a[1], a[2])
        } else if number == SyscallTable.number(named: "prctl"), a[0] == 22 /* PR_SET_SECCOMP */ {
            (mode, flags, program) = (a[1], 0, a[2])
        } else {
            return nil
        }
        if mode == 1 {
            task.seccomp.strict = true
            return 0
        }
        guard mode == 2 else { return Int64(-EINVAL) }
        // TSYNC 1, LOG 2, SPEC_ALLOW 4, NEW_LISTENER 8, TSYNC_ESRCH 16, WAIT_KILLABLE_RECV 32
        guard flags & ~0x3f == 0 else { return Int64(-EINVAL) }
        if flags & 8 != 0 {
            log("magprov: task \(task.tid): a seccomp filter with a user-notification listener is not supported; refused with ENOSYS")
            return Int64(-ENOSYS)
        }
        // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
        guard let length = task.access.readUInt32(at: program).map({ Int($0 & 0xffff) }),
              let address = task.access.readUInt64(at: program + 8) else { return Int64(-EFAULT) }
        guard (1...4096).contains(length) else { return Int64(-EINVAL) }
        guard let bytes = task.access.readBytes(at: address, count: length * 8) else { return Int64(-EFAULT) }
        let filter: SeccompFilter
        do { filter = try SeccompFilter(BPFInstruction.decode(bytes)) } catch let error as SeccompFilterError {
            return Int64(-error.errno)
        }
        guard task.seccomp.canAdd(filter) else { return Int64(-ENOMEM) }
        let synchronized = flags & 1 != 0
        for other in tasks.values where other === task || (synchronized && other.tgid == task.tgid) {
            other.seccomp.filters.append(filter)
        }
        log("magprov: task \(task.tid): the program installed a seccomp filter of \(filter.instructions.count) instructions; magprov applies it itself")
        return 0
    }

    /// The siginfo the kernel's force_sig_seccomp builds (x86-64 layout: si_signo, si_errno,
    /// si_code at 0/4/8; _sigsys: si_call_addr at 16, si_syscall at 24, si_arch at 28).
    func trapSiginfo(data: SeccompData, errno: Int32) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 128)
        func put32(_ value: UInt32, _ offset: Int) { for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) } }
        put32(UInt32(SIGSYS), 0)
        put32(UInt32(bitPattern: errno), 4)
        put32(1 /* SYS_SECCOMP */, 8)
        for i in 0..<8 { bytes[16 + i] = UInt8(truncatingIfNeeded: data.instructionPointer >> (8 * i)) }
        put32(UInt32(bitPattern: data.number), 24)
        put32(data.arch, 28)
        return bytes
    }

    /// PTRACE_SETSIGINFO at a signal-delivery stop.
    func setSiginfo(_ task: TracedTask, _ siginfo: [UInt8]) {
        var info = siginfo
        _ = info.withUnsafeMutableBytes { mp_ptrace(0x4203 /* PTRACE_SETSIGINFO */, task.tid, 0, UInt64(UInt(bitPattern: $0.baseAddress))) }
    }

    private func sigsysIsCaughtOrBlocked(_ tid: Int32) -> Bool {
        guard let bytes = try? readAll(path: "/proc/\(tid)/status") else { return true }
        let bit: UInt64 = 1 << UInt64(SIGSYS - 1)
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        where line.hasPrefix("SigBlk:") || line.hasPrefix("SigCgt:") || line.hasPrefix("SigIgn:") {
            if (UInt64(line.dropFirst(7).trimmingCharacters(), radix: 16) ?? 0) & bit != 0 { return true }
        }
        return false
    }
}
