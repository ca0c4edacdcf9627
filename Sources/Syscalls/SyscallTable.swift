// The one table of x86-64 syscall knowledge. The recorder asks it which memory a syscall
// wrote (to capture those bytes), the replayer which buffers a syscall read (to compare
// them), and dump and the provenance graph which arguments are paths and descriptors.
// Declared once per syscall, in the style of rr's syscalls.py: argument kinds at entry,
// memory effects at exit.

/// What one argument register of a syscall means.
public enum ArgumentKind: Equatable, Sendable {
    case integer
    case fd
    /// A directory descriptor for a following path argument (`AT_FDCWD` allowed).
    case dirfd
    /// A NUL-terminated path the kernel resolves.
    case path
    /// A NUL-terminated string that is not a path (e.g. xattr names).
    case string
    /// A buffer the kernel reads: its length comes from `size`.
    case inBuffer(size: SizeRule)
    /// An array of `struct iovec` the kernel reads from; count in argument `count`.
    case inIovec(count: Int)
    /// `char *const argv[]`-style NULL-terminated string array.
    case stringArray
    case pointer
    case flags
    case pid
    case signal
}

/// How many bytes a buffer argument covers.
public enum SizeRule: Equatable, Sendable {
    case fixed(Int)
    /// The value of argument `n`.
    case argument(Int)
    /// The syscall's (non-negative) result.
    case result
    /// The result times an element size.
    case resultTimes(Int)
    /// Argument `n` times an element size.
    case argumentTimes(Int, Int)
    /// The 32-bit length stored at the pointer in argument `n` (a `socklen_t *`), clamped to
    /// the length that was there at entry.
    case lengthAt(Int)
}

/// A range of guest memory the kernel writes during a syscall.
public enum WriteRule: Equatable, Sendable {
    /// Argument `pointer` is a buffer of `size` bytes (skipped when the pointer is NULL).
    case buffer(pointer: Int, size: SizeRule)
    /// Argument `pointer` is an array of `count` iovecs; the kernel filled `result` bytes.
    case iovec(pointer: Int, count: Int)
    /// `struct msghdr` at argument `pointer` (recvmsg): name, iov data, control and flags.
    case msghdr(pointer: Int)
    /// `fd_set` at argument `pointer`, sized by `nfds` in argument 0 (select family).
    case fdSet(pointer: Int)
    /// ioctl: size and direction encoded in the request (`_IOC_READ`), plus known legacy
    /// terminal requests.
    case ioctl
    /// fcntl: `F_GETLK`-style commands write a `struct flock` through argument 2.
    case fcntl
    /// arch_prctl(ARCH_GET_FS/GS) writes 8 bytes through argument 1.
    case archPrctl
    /// prctl(PR_GET_NAME) writes 16 bytes through argument 1.
    case prctl
    /// clone3: the kernel stores the new tid through `parent_tid` and a pidfd through
    /// `pidfd` of the `struct clone_args` at argument 0, when the flags ask for them.
    case cloneArgs
}

/// What a syscall does to the world, for provenance and for the recorder's policy.
public enum SyscallCategory: Sendable {
    case fileData, fileMeta, namespace, process, memory, network, ipc, signal, time, identity, other
}

/// How a syscall moves bytes between user memory and an object, for byte-level taint
/// (DESIGN.md, "Taint and refinement"): sources label what the kernel wrote, sinks read the
/// labels of what the kernel read.
public enum DataFlowRole: Equatable, Sendable {
    /// Moves no object bytes through user memory: what the kernel writes is not from an object
    /// (times, ids, signal masks) and the replay clears its labels.
    case none
    /// Delivers an object's bytes (read, pread64, readv, preadv2, recvfrom, recvmsg,
    /// getxattr...): the data is the first write rule (a buffer of `result` bytes, an iovec
    /// array or a msghdr's iovecs); anything else it writes (a peer address) is metadata.
    case contentSource
    /// Writes facts about an object rather than its bytes (stat, getdents, readlink, wait4's
    /// status): labelled as metadata sources and reported as such.
    case metadataSource
    /// Sends the bytes of its in-buffer or in-iovec arguments (or a msghdr's iovecs) to an
    /// object (write, pwrite64, writev, sendto, sendmsg, process_vm_writev).
    case contentSink
    /// Copies bytes between two objects inside the kernel (sendfile, splice, tee,
    /// copy_file_range): a derivation by itself, with no user memory in between.
    case kernelCopy
}

/// Everything magprov knows about one syscall.
public struct SyscallSpec: Sendable {
    public let number: Int
    public let name: String
    public let arguments: [ArgumentKind]
    public let writes: [WriteRule]
    public let category: SyscallCategory
    /// True when the writes above describe every byte the kernel may write. False for
    /// syscalls the table does not model; the recorder flags those events.
    public let modeled: Bool
    /// How the syscall moves object bytes through user memory (taint sources and sinks).
    public var flow: DataFlowRole { dataFlowRoles[name] ?? (category == .fileMeta && !writes.isEmpty ? .metadataSource : .none) }

    /// Indices of arguments that are paths the kernel resolves.
    public var pathArguments: [Int] { arguments.indices.filter { arguments[$0] == .path } }
    /// Indices of arguments that are descriptors (not directory descriptors).
    public var fdArguments: [Int] { arguments.indices.filter { arguments[$0] == .fd } }
}

/// Lookup by number or name.
public enum SyscallTable {
    public static func spec(_ number: Int) -> SyscallSpec {
        if number >= 0 && number < specs.count { return specs[number] }
        return SyscallSpec(number: number, name: "syscall_\(number)", arguments: [], writes: [],
                           category: .other, modeled: false)
    }

    public static func name(_ number: Int) -> String { spec(number).name }

    public static func number(named name: String) -> Int? { numbersByName[name] }

    /// Well-known numbers the recorder and replayer act on directly.
    public enum Number {
        public static let read = 0, write = 1, open = 2, close = 3, mmap = 9, mprotect = 10
        public static let munmap = 11, brk = 12, rtSigaction = 13, rtSigprocmask = 14
        public static let rtSigreturn = 15, ioctl = 16, mremap = 25, dup = 32, dup2 = 33
        public static let clone = 56, fork = 57, vfork = 58, execve = 59, exit = 60
        public static let wait4 = 61, kill = 62, archPrctl = 158, gettid = 186, tkill = 200
        public static let exitGroup = 231, tgkill = 234, openat = 257, execveat = 322
        public static let rseq = 334, ioUringSetup = 425, ioUringEnter = 426
        public static let ioUringRegister = 427, clone3 = 435, getppid = 110, getpid = 39
        public static let processVmWritev = 311, processVmReadv = 310, pipe = 22, pipe2 = 293
        public static let socketpair = 53, memfdCreate = 319, dup3 = 292, fcntl = 72
    }

    static let numbersByName: [String: Int] = {
        var map: [String: Int] = [:]
        for (number, name) in syscallNames.enumerated() where !name.isEmpty { map[name] = number }
        return map
    }()

    static let specs: [SyscallSpec] = {
        var table = syscallNames.enumerated().map { number, name in
            SyscallSpec(number: number, name: name.isEmpty ? "syscall_\(number)" : name,
                        arguments: [], writes: [], category: .other, modeled: false)
        }
        for entry in declarations {
            guard let number = numbersByName[entry.name] else { continue }
            table[number] = SyscallSpec(number: number, name: entry.name, arguments: entry.arguments,
                                        writes: entry.writes, category: entry.category, modeled: true)
        }
        return table
    }()
}

struct Declaration {
    let name: String
    let arguments: [ArgumentKind]
    let writes: [WriteRule]
    let category: SyscallCategory
}

private func d(_ name: String, _ category: SyscallCategory, _ arguments: [ArgumentKind],
               writes: [WriteRule] = []) -> Declaration {
    Declaration(name: name, arguments: arguments, writes: writes, category: category)
}

private let I = ArgumentKind.integer, F = ArgumentKind.fd, D = ArgumentKind.dirfd
private let P = ArgumentKind.path, X = ArgumentKind.pointer, L = ArgumentKind.flags
private let S = ArgumentKind.string
private func out(_ pointer: Int, _ size: SizeRule) -> WriteRule { .buffer(pointer: pointer, size: size) }
private func inBuf(_ sizeArgument: Int) -> ArgumentKind { .inBuffer(size: .argument(sizeArgument)) }

// Kernel struct sizes on x86-64 (include/uapi): stat 144, statx 256, statfs 120,
// timespec/timeval 16, rusage 144, utsname 390, sysinfo 112, rlimit 16, tms 32,
// siginfo 128, kernel sigaction 32 (8-byte mask), stack_t 24, itimerval 32, flock 32,
// epoll_event 12 (packed), pollfd 8, linux_dirent64 variable (result bytes).
/// Taint roles of the syscalls that move object bytes (`SyscallSpec.flow`). Syscalls of the
/// `fileMeta` category that write memory are metadata sources without an entry here.
private let dataFlowRoles: [String: DataFlowRole] = [
    "read": .contentSource, "pread64": .contentSource, "readv": .contentSource,
    "preadv": .contentSource, "preadv2": .contentSource, "recvfrom": .contentSource,
    "recvmsg": .contentSource, "getxattr": .contentSource, "lgetxattr": .contentSource,
    "fgetxattr": .contentSource, "msgrcv": .contentSource, "mq_timedreceive": .contentSource,
    "process_vm_readv": .contentSource,
    "write": .contentSink, "pwrite64": .contentSink, "writev": .contentSink, "pwritev": .contentSink,
    "pwritev2": .contentSink, "sendto": .contentSink, "sendmsg": .contentSink,
    "process_vm_writev": .contentSink, "msgsnd": .contentSink, "mq_timedsend": .contentSink,
    "setxattr": .contentSink, "lsetxattr": .contentSink, "fsetxattr": .contentSink,
    "sendfile": .kernelCopy, "splice": .kernelCopy, "tee": .kernelCopy, "copy_file_range": .kernelCopy,
    "wait4": .metadataSource, "waitid": .metadataSource,
]

private let declarations: [Declaration] = [
    d("read", .fileData, [F, X, I], writes: [out(1, .result)]),
    d("write", .fileData, [F, inBuf(2), I]),
    d("open", .namespace, [P, L, I]),
    d("close", .fileData, [F]),
    d("stat", .fileMeta, [P, X], writes: [out(1, .fixed(144))]),
    d("fstat", .fileMeta, [F, X], writes: [out(1, .fixed(144))]),
    d("lstat", .fileMeta, [P, X], writes: [out(1, .fixed(144))]),
    d("poll", .fileData, [X, I, I], writes: [out(0, .argumentTimes(1, 8))]),
    d("lseek", .fileData, [F, I, I]),
    d("mmap", .memory, [X, I, I, L, F, I]),
    d("mprotect", .memory, [X, I, I]),
    d("munmap", .memory, [X, I]),
    d("brk", .memory, [X]),
    d("rt_sigaction", .signal, [.signal, .inBuffer(size: .fixed(32)), X, I], writes: [out(2, .fixed(32))]),
    d("rt_sigprocmask", .signal, [I, .inBuffer(size: .argument(3)), X, I], writes: [out(2, .argument(3))]),
    d("rt_sigreturn", .signal, []),
    d("ioctl", .fileData, [F, I, X], writes: [.ioctl]),
    d("pread64", .fileData, [F, X, I, I], writes: [out(1, .result)]),
    d("pwrite64", .fileData, [F, inBuf(2), I, I]),
    d("readv", .fileData, [F, X, I], writes: [.iovec(pointer: 1, count: 2)]),
    d("writev", .fileData, [F, .inIovec(count: 2), I]),
    d("access", .fileMeta, [P, I]),
    d("pipe", .ipc, [X], writes: [out(0, .fixed(8))]),
    d("select", .fileData, [I, X, X, X, X],
      writes: [.fdSet(pointer: 1), .fdSet(pointer: 2), .fdSet(pointer: 3), out(4, .fixed(16))]),
    d("sched_yield", .process, []),
    d("mremap", .memory, [X, I, I, L, X]),
    d("msync", .memory, [X, I, L]),
    d("mincore", .memory, [X, I, X]),
    d("madvise", .memory, [X, I, I]),
    d("dup", .fileData, [F]),
    d("dup2", .fileData, [F, I]),
    d("pause", .signal, []),
    d("nanosleep", .time, [.inBuffer(size: .fixed(16)), X], writes: [out(1, .fixed(16))]),
    d("getitimer", .time, [I, X], writes: [out(1, .fixed(32))]),
    d("alarm", .time, [I]),
    d("setitimer", .time, [I, .inBuffer(size: .fixed(32)), X], writes: [out(2, .fixed(32))]),
    d("getpid", .identity, []),
    d("sendfile", .fileData, [F, F, X, I], writes: [out(2, .fixed(8))]),
    d("socket", .network, [I, I, I]),
    d("connect", .network, [F, inBuf(2), I]),
    d("accept", .network, [F, X, X], writes: [out(1, .lengthAt(2)), out(2, .fixed(4))]),
    d("sendto", .network, [F, inBuf(2), I, L, inBuf(5), I]),
    d("recvfrom", .network, [F, X, I, L, X, X],
      writes: [out(1, .result), out(4, .lengthAt(5)), out(5, .fixed(4))]),
    d("sendmsg", .network, [F, X, L]),
    d("recvmsg", .network, [F, X, L], writes: [.msghdr(pointer: 1)]),
    d("shutdown", .network, [F, I]),
    d("bind", .network, [F, inBuf(2), I]),
    d("listen", .network, [F, I]),
    d("getsockname", .network, [F, X, X], writes: [out(1, .lengthAt(2)), out(2, .fixed(4))]),
    d("getpeername", .network, [F, X, X], writes: [out(1, .lengthAt(2)), out(2, .fixed(4))]),
    d("socketpair", .ipc, [I, I, I, X], writes: [out(3, .fixed(8))]),
    d("setsockopt", .network, [F, I, I, inBuf(4), I]),
    d("getsockopt", .network, [F, I, I, X, X], writes: [out(3, .lengthAt(4)), out(4, .fixed(4))]),
    // clone(flags, stack, parent_tid, child_tid, tls): CLONE_PARENT_SETTID / CLONE_PIDFD
    // write through parent_tid (the flags are checked by the recorder's capture only
    // through the result: a 4-byte read of an untouched int is harmless).
    d("clone", .process, [L, X, X, X, X], writes: [out(2, .fixed(4))]),
    d("fork", .process, []),
    d("vfork", .process, []),
    d("execve", .process, [P, .stringArray, .stringArray]),
    d("exit", .process, [I]),
    d("wait4", .process, [.pid, X, L, X], writes: [out(1, .fixed(4)), out(3, .fixed(144))]),
    d("kill", .signal, [.pid, .signal]),
    d("uname", .identity, [X], writes: [out(0, .fixed(390))]),
    d("fcntl", .fileData, [F, I, I], writes: [.fcntl]),
    d("flock", .fileData, [F, I]),
    d("fsync", .fileData, [F]),
    d("fdatasync", .fileData, [F]),
    d("truncate", .fileMeta, [P, I]),
    d("ftruncate", .fileMeta, [F, I]),
    d("getdents", .fileMeta, [F, X, I], writes: [out(1, .result)]),
    d("getcwd", .identity, [X, I], writes: [out(0, .result)]),
    d("chdir", .namespace, [P]),
    d("fchdir", .namespace, [F]),
    d("rename", .namespace, [P, P]),
    d("mkdir", .namespace, [P, I]),
    d("rmdir", .namespace, [P]),
    d("creat", .namespace, [P, I]),
    d("link", .namespace, [P, P]),
    d("unlink", .namespace, [P]),
    d("symlink", .namespace, [S, P]),
    d("readlink", .fileMeta, [P, X, I], writes: [out(1, .result)]),
    d("chmod", .fileMeta, [P, I]),
    d("fchmod", .fileMeta, [F, I]),
    d("chown", .fileMeta, [P, I, I]),
    d("fchown", .fileMeta, [F, I, I]),
    d("lchown", .fileMeta, [P, I, I]),
    d("umask", .identity, [I]),
    d("gettimeofday", .time, [X, X], writes: [out(0, .fixed(16)), out(1, .fixed(8))]),
    d("getrlimit", .identity, [I, X], writes: [out(1, .fixed(16))]),
    d("getrusage", .identity, [I, X], writes: [out(1, .fixed(144))]),
    d("sysinfo", .identity, [X], writes: [out(0, .fixed(112))]),
    d("times", .time, [X], writes: [out(0, .fixed(32))]),
    d("getuid", .identity, []),
    d("getgid", .identity, []),
    d("setuid", .identity, [I]),
    d("setgid", .identity, [I]),
    d("geteuid", .identity, []),
    d("getegid", .identity, []),
    d("setpgid", .process, [.pid, .pid]),
    d("getppid", .identity, []),
    d("getpgrp", .identity, []),
    d("setsid", .process, []),
    d("setreuid", .identity, [I, I]),
    d("setregid", .identity, [I, I]),
    d("getgroups", .identity, [I, X], writes: [out(1, .resultTimes(4))]),
    d("setgroups", .identity, [I, .inBuffer(size: .argumentTimes(0, 4))]),
    d("setresuid", .identity, [I, I, I]),
    d("getresuid", .identity, [X, X, X], writes: [out(0, .fixed(4)), out(1, .fixed(4)), out(2, .fixed(4))]),
    d("setresgid", .identity, [I, I, I]),
    d("getresgid", .identity, [X, X, X], writes: [out(0, .fixed(4)), out(1, .fixed(4)), out(2, .fixed(4))]),
    d("getpgid", .identity, [.pid]),
    d("setfsuid", .identity, [I]),
    d("setfsgid", .identity, [I]),
    d("getsid", .identity, [.pid]),
    d("capget", .identity, [X, X], writes: [out(1, .fixed(24))]),
    d("rt_sigpending", .signal, [X, I], writes: [out(0, .argument(1))]),
    d("rt_sigtimedwait", .signal, [X, X, X, I], writes: [out(1, .fixed(128))]),
    d("rt_sigsuspend", .signal, [.inBuffer(size: .argument(1)), I]),
    d("sigaltstack", .signal, [.inBuffer(size: .fixed(24)), X], writes: [out(1, .fixed(24))]),
    d("mknod", .namespace, [P, I, I]),
    d("statfs", .fileMeta, [P, X], writes: [out(1, .fixed(120))]),
    d("fstatfs", .fileMeta, [F, X], writes: [out(1, .fixed(120))]),
    d("getpriority", .process, [I, I]),
    d("setpriority", .process, [I, I, I]),
    d("sched_getparam", .process, [.pid, X], writes: [out(1, .fixed(4))]),
    d("sched_getscheduler", .process, [.pid]),
    d("sched_get_priority_max", .process, [I]),
    d("sched_get_priority_min", .process, [I]),
    d("mlock", .memory, [X, I]),
    d("munlock", .memory, [X, I]),
    d("prctl", .process, [I, I, I, I, I], writes: [.prctl]),
    d("arch_prctl", .process, [I, X], writes: [.archPrctl]),
    d("setrlimit", .identity, [I, .inBuffer(size: .fixed(16))]),
    d("chroot", .namespace, [P]),
    d("sync", .fileData, []),
    d("gettid", .identity, []),
    d("getxattr", .fileMeta, [P, S, X, I], writes: [out(2, .result)]),
    d("lgetxattr", .fileMeta, [P, S, X, I], writes: [out(2, .result)]),
    d("fgetxattr", .fileMeta, [F, S, X, I], writes: [out(2, .result)]),
    d("listxattr", .fileMeta, [P, X, I], writes: [out(1, .result)]),
    d("llistxattr", .fileMeta, [P, X, I], writes: [out(1, .result)]),
    d("flistxattr", .fileMeta, [F, X, I], writes: [out(1, .result)]),
    d("setxattr", .fileMeta, [P, S, inBuf(3), I, L]),
    d("lsetxattr", .fileMeta, [P, S, inBuf(3), I, L]),
    d("fsetxattr", .fileMeta, [F, S, inBuf(3), I, L]),
    d("tkill", .signal, [.pid, .signal]),
    d("time", .time, [X], writes: [out(0, .fixed(8))]),
    d("futex", .ipc, [X, I, I, X, X, I]),
    d("sched_setaffinity", .process, [.pid, I, inBuf(1)]),
    d("sched_getaffinity", .process, [.pid, I, X], writes: [out(2, .result)]),
    d("getdents64", .fileMeta, [F, X, I], writes: [out(1, .result)]),
    d("set_tid_address", .process, [X]),
    d("fadvise64", .fileData, [F, I, I, I]),
    d("clock_gettime", .time, [I, X], writes: [out(1, .fixed(16))]),
    d("clock_getres", .time, [I, X], writes: [out(1, .fixed(16))]),
    d("clock_nanosleep", .time, [I, L, .inBuffer(size: .fixed(16)), X], writes: [out(3, .fixed(16))]),
    d("exit_group", .process, [I]),
    d("epoll_wait", .fileData, [F, X, I, I], writes: [out(1, .resultTimes(12))]),
    d("epoll_ctl", .fileData, [F, I, F, .inBuffer(size: .fixed(12))]),
    d("tgkill", .signal, [.pid, .pid, .signal]),
    d("utimes", .fileMeta, [P, .inBuffer(size: .fixed(32))]),
    d("waitid", .process, [I, .pid, X, L, X], writes: [out(2, .fixed(128)), out(4, .fixed(144))]),
    d("openat", .namespace, [D, P, L, I]),
    d("mkdirat", .namespace, [D, P, I]),
    d("mknodat", .namespace, [D, P, I, I]),
    d("fchownat", .fileMeta, [D, P, I, I, L]),
    d("futimesat", .fileMeta, [D, P, .inBuffer(size: .fixed(32))]),
    d("newfstatat", .fileMeta, [D, P, X, L], writes: [out(2, .fixed(144))]),
    d("unlinkat", .namespace, [D, P, L]),
    d("renameat", .namespace, [D, P, D, P]),
    d("linkat", .namespace, [D, P, D, P, L]),
    d("symlinkat", .namespace, [S, D, P]),
    d("readlinkat", .fileMeta, [D, P, X, I], writes: [out(2, .result)]),
    d("fchmodat", .fileMeta, [D, P, I, L]),
    d("faccessat", .fileMeta, [D, P, I, L]),
    d("pselect6", .fileData, [I, X, X, X, X, X],
      writes: [.fdSet(pointer: 1), .fdSet(pointer: 2), .fdSet(pointer: 3), out(4, .fixed(16))]),
    d("ppoll", .fileData, [X, I, X, X, I], writes: [out(0, .argumentTimes(1, 8)), out(2, .fixed(16))]),
    d("set_robust_list", .process, [X, I]),
    d("get_robust_list", .process, [.pid, X, X], writes: [out(1, .fixed(8)), out(2, .fixed(8))]),
    d("splice", .fileData, [F, X, F, X, I, L], writes: [out(1, .fixed(8)), out(3, .fixed(8))]),
    d("tee", .fileData, [F, F, I, L]),
    d("sync_file_range", .fileData, [F, I, I, L]),
    d("utimensat", .fileMeta, [D, P, .inBuffer(size: .fixed(32)), L]),
    d("epoll_pwait", .fileData, [F, X, I, I, X, I], writes: [out(1, .resultTimes(12))]),
    d("timerfd_create", .time, [I, L]),
    d("eventfd", .ipc, [I]),
    d("fallocate", .fileData, [F, I, I, I]),
    d("timerfd_settime", .time, [F, L, .inBuffer(size: .fixed(32)), X], writes: [out(3, .fixed(32))]),
    d("timerfd_gettime", .time, [F, X], writes: [out(1, .fixed(32))]),
    d("accept4", .network, [F, X, X, L], writes: [out(1, .lengthAt(2)), out(2, .fixed(4))]),
    d("eventfd2", .ipc, [I, L]),
    d("epoll_create", .fileData, [I]),
    d("epoll_create1", .fileData, [L]),
    d("dup3", .fileData, [F, I, L]),
    d("pipe2", .ipc, [X, L], writes: [out(0, .fixed(8))]),
    d("inotify_init1", .fileMeta, [L]),
    d("preadv", .fileData, [F, X, I, I, I], writes: [.iovec(pointer: 1, count: 2)]),
    d("pwritev", .fileData, [F, .inIovec(count: 2), I, I, I]),
    d("prlimit64", .identity, [.pid, I, .inBuffer(size: .fixed(16)), X], writes: [out(3, .fixed(16))]),
    d("getcpu", .identity, [X, X, X], writes: [out(0, .fixed(4)), out(1, .fixed(4))]),
    d("process_vm_readv", .ipc, [.pid, X, I, X, I, L], writes: [.iovec(pointer: 1, count: 2)]),
    d("process_vm_writev", .ipc, [.pid, .inIovec(count: 2), I, X, I, L]),
    d("renameat2", .namespace, [D, P, D, P, L]),
    d("getrandom", .other, [X, I, L], writes: [out(0, .result)]),
    d("memfd_create", .namespace, [S, L]),
    d("statx", .fileMeta, [D, P, L, I, X], writes: [out(4, .fixed(256))]),
    d("preadv2", .fileData, [F, X, I, I, I, L], writes: [.iovec(pointer: 1, count: 2)]),
    d("pwritev2", .fileData, [F, .inIovec(count: 2), I, I, I, L]),
    d("copy_file_range", .fileData, [F, X, F, X, I, L], writes: [out(1, .fixed(8)), out(3, .fixed(8))]),
    d("rseq", .process, [X, I, L, I]),
    d("clone3", .process, [.inBuffer(size: .argument(1)), I], writes: [.cloneArgs]),
    d("close_range", .fileData, [I, I, L]),
    d("openat2", .namespace, [D, P, X, I]),
    d("faccessat2", .fileMeta, [D, P, I, L]),
    d("execveat", .process, [D, P, .stringArray, .stringArray, L]),
    d("io_uring_setup", .fileData, [I, X]),
    d("io_uring_enter", .fileData, [F, I, I, L, X, I]),
    d("io_uring_register", .fileData, [F, I, X, I]),
    d("membarrier", .memory, [I, L, I]),
    d("mlock2", .memory, [X, I, L]),
    d("munlockall", .memory, []),
    d("mlockall", .memory, [L]),
    d("setns", .process, [F, I]),
    d("unshare", .process, [L]),
    d("pidfd_open", .process, [.pid, L]),
    d("pidfd_send_signal", .signal, [F, .signal, X, L]),
    d("inotify_add_watch", .fileMeta, [F, P, I]),
    d("inotify_rm_watch", .fileMeta, [F, I]),
    d("sched_setscheduler", .process, [.pid, I, X]),
    d("sched_setparam", .process, [.pid, X]),
    d("personality", .process, [I]),
    d("fchmodat2", .fileMeta, [D, P, I, L]),
]
