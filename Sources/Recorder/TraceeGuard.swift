// What the recorded program may not do to the recorder (docs/ARCHITECTURE.md, "Security").
//
// The recorded program runs as the same user as the recorder, so the kernel would let it
// signal, ptrace, prlimit or read the memory of the recorder, and open or rewrite the trace
// files. The supervisor sees every syscall before the kernel runs it; the guard looks at
// each one and names those that target the recorder's process or its trace directory. The
// supervisor then refuses them with EPERM, recorded with the `refused` flag, so a trace
// shows the attempt. The recorder also runs in a process group of its own (the command gets
// a new one at spawn) and is not dumpable (`PR_SET_DUMPABLE` 0).

import CSupport
import Glibc
import Syscalls
import Trace

/// The recorder's process and trace, as the guard protects them.
struct ProtectedRecorder {
    /// The recorder's pid (its thread group).
    let pid: Int32
    /// The recorder's process group: the command runs in another one.
    let processGroup: Int32
    /// The trace directory, canonical (symlinks resolved), without a trailing slash.
    let traceDirectory: String

    init(traceDirectory: String) {
        self.init(pid: getpid(), processGroup: getpgrp(), traceDirectory: traceDirectory)
    }

    /// A recorder given by its pid and process group (tests protect another group).
    init(pid: Int32, processGroup: Int32, traceDirectory: String) {
        self.pid = pid
        self.processGroup = processGroup
        self.traceDirectory = FileIdentity.realPath(traceDirectory) ?? traceDirectory
    }

    /// Whether `pid` names the recorder's process or one of its threads.
    func isRecorder(_ pid: Int64) -> Bool {
        guard pid > 0, pid < 1 << 31 else { return false }
        let p = Int32(pid)
        return p == self.pid || threadGroupID(of: p) == self.pid
    }

    /// The process a pidfd names (the "Pid:" line of /proc/TID/fdinfo/FD), or nil when the
    /// descriptor is not a pidfd.
    static func pidfdTarget(tid: Int32, fd: UInt64) -> Int64? {
        let fd = Int32(truncatingIfNeeded: fd)
        guard fd >= 0, let bytes = try? readAll(path: "/proc/\(tid)/fdinfo/\(fd)") else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("Pid:") {
            return Int64(line.dropFirst(4).trimmingCharacters())
        }
        return nil
    }

    /// Whether a canonical path lies inside the trace directory (or is it).
    func isInsideTrace(_ path: String) -> Bool {
        path == traceDirectory || path.hasPrefix(traceDirectory + "/")
    }

    /// Whether a canonical path is the recorder's /proc directory or inside it.
    func isRecorderProc(_ path: String) -> Bool {
        guard path.hasPrefix("/proc/") else { return false }
        let component = path.dropFirst(6).prefix { $0 != "/" }
        guard let pid = Int64(component) else { return false }
        return isRecorder(pid)
    }
}

/// A syscall the supervisor will not let the kernel run.
struct Refusal: Equatable {
    /// Returned to the program as -errno.
    let errno: Int32
    /// Why, for the recorder's log.
    let reason: String
}

/// Decides, at a syscall entry, whether the syscall targets the recorder or its trace.
struct TraceeGuard {
    let protected: ProtectedRecorder

    /// Syscalls the guard looks at beyond their path and descriptor objects.
    static let targeted: Set<Int> = Set([
        "kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_open", "prlimit64", "ptrace",
        "process_vm_readv", "process_vm_writev", "kcmp", "setpriority", "sched_setaffinity", "sched_setscheduler",
        "sched_setparam", "sched_setattr", "ioprio_set", "migrate_pages", "move_pages", "get_robust_list",
        "fcntl", "ioctl", "setpgid", "prctl", "pidfd_send_signal", "pidfd_getfd", "process_madvise", "process_mrelease",
        "setns", "unshare", "clone", "clone3",
    ].compactMap { SyscallTable.number(named: $0) })

    /// Path syscalls that only read metadata: allowed on the trace directory (a `find` or
    /// `ls` of a parent must not fail); everything else there is refused.
    static let metadataOnly: Set<Int> = Set([
        "stat", "lstat", "newfstatat", "statx", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
        "getxattr", "lgetxattr", "listxattr", "llistxattr", "statfs",
    ].compactMap { SyscallTable.number(named: $0) })

    /// Renames whose source may not be an ancestor of the trace directory (moving the
    /// directory away under the recorder).
    static let renames: Set<Int> = Set(["rename", "renameat", "renameat2"].compactMap { SyscallTable.number(named: $0) })


    /// The refusal for this syscall, or nil to let it run.
    /// - Parameters:
    ///   - objects: the paths and descriptors resolved at entry (`ObjectResolver`).
    ///   - memory: the stopped task, for arguments passed by pointer.
    ///   - paths: path arguments as the supervisor read them (and gives them to the
    ///     kernel), by argument index; a path missing here is read from `memory`.
    ///   - scratchRanges: the supervisor's scratch areas in the task's address space
    ///     (ScratchArguments.swift), which the program may not unmap, remap or unprotect.
    ///   - processMemory: the supervisor's pages (scratch areas, trusted pages) in the
    ///     recorded process a pid names, nil when the pid is no recorded process; nil
    ///     altogether when no process's memory file may be written (ProcessMemoryWrites.swift).
    func check(tid: Int32, spec: SyscallSpec, arguments a: [UInt64], objects: [ObjectIdentity],
               memory: TaskAccess, paths: [Int: [UInt8]] = [:], scratchRanges: [Range<UInt64>] = [],
               processMemory: ((Int32) -> [Range<UInt64>]?)? = nil) -> Refusal? {
        if TraceeGuard.targeted.contains(spec.number), let refusal = checkTarget(tid: tid, name: spec.name, a, memory: memory) {
            return refusal
        }
        if !scratchRanges.isEmpty, TraceeGuard.memoryChanging.contains(spec.number),
           let refusal = checkScratch(name: spec.name, a, scratchRanges) {
            return refusal
        }
        for object in objects {
            if object.argument >= 0, TraceeGuard.isProcessMemory(object.resolved),
               let refusal = checkProcessMemory(spec: spec, a, object.resolved, writing: openAccessMode(name: spec.name, a, memory: memory).map { $0 != 0 /* O_RDONLY */ },
                                                processMemory: processMemory) {
                return refusal
            }
            if protected.isRecorderProc(object.resolved) {
                return Refusal(errno: EPERM, reason: "\(spec.name) of \(object.resolved) (the recorder's /proc entry)")
            }
            if protected.isInsideTrace(object.resolved) && !TraceeGuard.metadataOnly.contains(spec.number) {
                return Refusal(errno: EPERM, reason: "\(spec.name) of \(object.resolved) (inside the trace directory)")
            }
            if object.argument >= 0, TraceeGuard.renames.contains(spec.number),
               protected.traceDirectory.hasPrefix(object.resolved + "/") {
                return Refusal(errno: EPERM, reason: "\(spec.name) of \(object.resolved) (an ancestor of the trace directory)")
            }
        }
        // The path a call creates is resolved after the call; check where it would go now.
        // The copy the kernel will read, not a second read of the program's memory, which
        // a sibling may have changed since.
        if spec.createsLastPath(arguments: a), let index = spec.pathArguments.last,
           let path = paths[index].map({ String(decoding: $0, as: UTF8.self) }) ?? memory.readCString(at: a[index]) {
            let target = ObjectResolver.identity(ofPath: path, dirfd: ObjectResolver.dirfd(for: index, spec: spec, arguments: a),
                                                 tid: tid, argument: index, followFinalLink: false)
            if protected.isInsideTrace(target.resolved) || protected.isRecorderProc(target.resolved) {
                return Refusal(errno: EPERM, reason: "\(spec.name) to \(target.resolved) (inside the trace directory)")
            }
        }
        return nil
    }

    private func signed(_ value: UInt64) -> Int64 { Int64(Int32(truncatingIfNeeded: value)) }

    /// Syscalls that can unmap, remap, unprotect or zero a range of the address space.
    static let memoryChanging: Set<Int> = Set(["mmap", "munmap", "mprotect", "pkey_mprotect", "mremap", "madvise",
                                               "remap_file_pages", "shmat"].compactMap { SyscallTable.number(named: $0) })

    private func checkScratch(name: String, _ a: [UInt64], _ scratch: [Range<UInt64>]) -> Refusal? {
        func touches(_ start: UInt64, _ length: UInt64) -> Bool {
            let end = start &+ max((length &+ 4095) & ~4095, 4096)
            guard end > start else { return true }
            return scratch.contains { $0.overlaps(start..<end) }
        }
        let hit: Bool
        switch name {
        case "mmap": hit = a[3] & 0x10 /* MAP_FIXED */ != 0 && touches(a[0], a[1])
        case "mremap": hit = touches(a[0], a[1]) || (a[3] & 2 /* MREMAP_FIXED */ != 0 && touches(a[4], a[2]))
        case "shmat": hit = a[1] != 0 && touches(a[1], 1)
        default: hit = touches(a[0], a[1])
        }
        return hit ? Refusal(errno: EPERM, reason: "\(name) over the supervisor's scratch area") : nil
    }

    /// /proc/PID/mem or /proc/PID/task/TID/mem: writing it ignores page protection.
    static func isProcessMemory(_ path: String) -> Bool {
        let parts = path.split(separator: "/")
        guard parts.first == "proc", parts.last == "mem", parts.count == 3 || parts.count == 5 else { return false }
        return parts.dropFirst().dropLast().allSatisfy { Int($0) != nil || $0 == "task" }
    }

    /// O_ACCMODE of an open call (0 read-only, 1 write-only, 2 read-write); nil for others.
    private func openAccessMode(name: String, _ a: [UInt64], memory: TaskAccess) -> UInt64? {
        switch name {
        case "open": return a[1] & 3
        case "openat": return a[2] & 3
        case "openat2": return memory.readUInt64(at: a[2]).map { $0 & 3 } ?? 2  // struct open_how.flags
        case "creat", "truncate": return 1
        default: return nil
        }
    }

    private func refuse(_ name: String, _ what: String) -> Refusal {
        Refusal(errno: EPERM, reason: "\(name) \(what)")
    }

    /// A process-or-group target as kill(2), F_SETOWN and FIOSETOWN encode it: > 0 a
    /// process, < 0 a process group; 0 is the caller's own group (kill) or nobody.
    private func targetsRecorder(processOrGroup value: Int64, callerGroupForZero tid: Int32?) -> Bool {
        if value > 0 { return protected.isRecorder(value) }
        if value == -1 { return true }  // kill(-1): every process the caller may signal
        if value < 0 { return -value == Int64(protected.processGroup) }
        if let tid { return getpgid(tid) == protected.processGroup }
        return false
    }

    private func checkTarget(tid: Int32, name: String, _ a: [UInt64], memory: TaskAccess) -> Refusal? {
        switch name {
        case "kill":
            if targetsRecorder(processOrGroup: signed(a[0]), callerGroupForZero: tid) {
                return refuse(name, "of \(signed(a[0])), which reaches the recorder")
            }
        case "tkill", "rt_sigqueueinfo", "pidfd_open", "prlimit64", "process_vm_readv", "process_vm_writev",
             "sched_setaffinity", "sched_setscheduler", "sched_setparam", "sched_setattr", "migrate_pages",
             "move_pages", "get_robust_list":
            if protected.isRecorder(signed(a[0])) { return refuse(name, "of the recorder (pid \(signed(a[0])))") }
        case "tgkill", "rt_tgsigqueueinfo", "kcmp":
            if protected.isRecorder(signed(a[0])) || protected.isRecorder(signed(a[1])) {
                return refuse(name, "of the recorder")
            }
        case "ptrace":
            if a[0] != 0 /* PTRACE_TRACEME */ && protected.isRecorder(signed(a[1])) {
                return refuse(name, "of the recorder (pid \(signed(a[1])))")
            }
        case "setpriority", "ioprio_set":
            // setpriority: PRIO_PROCESS 0, PRIO_PGRP 1, PRIO_USER 2; ioprio_set: 1, 2, 3.
            let base: UInt64 = name == "setpriority" ? 0 : 1
            let who = signed(a[1])
            if a[0] == base && protected.isRecorder(who) { return refuse(name, "of the recorder") }
            if a[0] == base + 1 && who == Int64(protected.processGroup) { return refuse(name, "of the recorder's group") }
            if a[0] == base + 2 && (who == 0 || who == Int64(getuid())) { return refuse(name, "of every process of the recorder's user") }
        case "fcntl":
            if a[1] == 8 /* F_SETOWN */, targetsRecorder(processOrGroup: signed(a[2]), callerGroupForZero: nil) {
                return refuse(name, "F_SETOWN routes signals to the recorder")
            }
            if a[1] == 15 /* F_SETOWN_EX */, let type = memory.readUInt32(at: a[2]), let pid = memory.readUInt32(at: a[2] + 4) {
                let target = Int64(Int32(bitPattern: pid))
                // F_OWNER_TID 0, F_OWNER_PID 1, F_OWNER_PGRP 2
                if (type <= 1 && protected.isRecorder(target)) || (type == 2 && target == Int64(protected.processGroup)) {
                    return refuse(name, "F_SETOWN_EX routes signals to the recorder")
                }
            }
        case "ioctl" where a[1] == 0x5412 /* TIOCSTI */:
            // Typing into the terminal: the shell that started the recorder would run it
            // after the recording, outside it (tty_ioctl(4); what legacy_tiocsti=0 closes).
            return refuse(name, "TIOCSTI would type into the terminal, outside the recording")
        case "ioctl" where a[1] == 0x4004_5436 /* TIOCSIG */:
            // On a pty master: signals the slave's foreground group. Ask the terminal itself,
            // through a copy of the program's descriptor.
            // A copy that cannot be made (no pidfd_getfd) leaves the target unknown: refused,
            // not let through. The descriptor of a thread is looked up in its own table.
            let copy = mp_copy_task_descriptor(tid, Int32(truncatingIfNeeded: a[0]))
            if copy == -EBADF { break }  // no such descriptor: the kernel fails it the same way
            guard copy >= 0 else {
                return refuse(name, "TIOCSIG on a terminal the recorder cannot ask (\(String(cString: strerror(-copy))))")
            }
            let group = mp_terminal_foreground_group(copy)
            close(copy)
            if group > 0 && group == protected.processGroup {
                return refuse(name, "TIOCSIG signals the recorder's process group")
            }
        case "ioctl":
            guard let word = [0x8901, 0x8902, 0x5410].contains(a[1]) ? memory.readUInt32(at: a[2]) : nil else { break }
            let value = Int64(Int32(bitPattern: word))
            if a[1] == 0x5410 /* TIOCSPGRP */, value == Int64(protected.processGroup) {
                return refuse(name, "TIOCSPGRP hands the terminal to the recorder's group")
            }
            if a[1] != 0x5410 /* FIOSETOWN, SIOCSPGRP */, targetsRecorder(processOrGroup: value, callerGroupForZero: nil) {
                return refuse(name, "FIOSETOWN/SIOCSPGRP routes signals to the recorder")
            }
        case "setns":
            // Any other namespace: paths, pids and mounts would mean something else to the
            // program than to the recorder, which resolves them in its own (see below).
            return refuse(name, "enters another namespace, which magprov does not record")
        case "unshare", "clone", "clone3":
            // New namespaces are refused, not recorded: in a new mount namespace a path names
            // what the program mounted there, in a new pid namespace a pid names another
            // process than the recorder sees. CLONE_NEWTIME's bit is clone's exit signal.
            var flags = a[0]
            if name == "clone3" { flags = a[1] >= 8 ? memory.readUInt64(at: a[0]) ?? 0 : 0 }
            let namespaces: UInt64 = 0x7E02_0000 | (name == "clone" ? 0 : 0x80)
            if flags & namespaces != 0 {
                return refuse(name, "with CLONE_NEW* flags 0x\(String(flags & namespaces, radix: 16)): new namespaces are not recorded")
            }
        case "pidfd_send_signal", "pidfd_getfd", "process_madvise", "process_mrelease":
            // A pidfd names its process in fdinfo ("Pid:"); the program may have received one
            // of the recorder from outside (SCM_RIGHTS). A /proc/PID directory descriptor
            // (pidfd_send_signal takes one too) is refused as a /proc entry of the recorder.
            if let target = ProtectedRecorder.pidfdTarget(tid: tid, fd: a[0]), protected.isRecorder(target) {
                return refuse(name, "through a pidfd of the recorder (pid \(target))")
            }
        case "setpgid":
            if signed(a[1]) == Int64(protected.processGroup) { return refuse(name, "into the recorder's process group") }
        case "prctl":
            if a[0] == 4 /* PR_SET_DUMPABLE */ && a[1] == 0 {
                return refuse(name, "PR_SET_DUMPABLE 0 would hide the program's memory from the recorder")
            }
        default:
            break
        }
        return nil
    }
}
