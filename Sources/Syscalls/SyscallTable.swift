// The one table of x86-64 syscall knowledge, in the style of rr's syscalls.py: one
// declaration per syscall of the pinned kernel table (syscall_64.tbl, Linux 6.18) with its
// argument kinds (paths, descriptors, in-buffers), the memory the kernel writes at exit,
// how it moves object bytes (taint), what it does to the provenance graph, what its result
// names, and whether magprov refuses it. The recorder, the replayer, dump, info and the
// graph builder all read it; a syscall number without a declaration is refused.

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
    /// `struct xattr_args` (setxattrat(2)): the kernel reads `size` bytes at its `value`
    /// pointer; the struct's own size is in argument `sizeArgument`.
    case inXattrArgs(sizeArgument: Int)
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
    /// The value of argument `n` plus a header of `k` bytes (msgsnd's `long mtype`).
    case argumentPlus(Int, Int)
    /// The syscall's (non-negative) result.
    case result
    /// The result plus a header of `k` bytes (msgrcv's `long mtype`).
    case resultPlus(Int)
    /// The result times an element size.
    case resultTimes(Int)
    /// Argument `n` times an element size.
    case argumentTimes(Int, Int)
    /// The 32-bit length stored at the pointer in argument `n` (a `socklen_t *`), clamped to
    /// the length that was there at entry.
    case lengthAt(Int)
    /// A bitmask of as many bits as argument `n` says, in whole 64-bit words
    /// (get_mempolicy's `maxnode`).
    case bitmask(Int)
    /// `8 +` the 32-bit length the structure itself starts with, clamped to its value at
    /// entry (`struct file_handle` of name_to_handle_at(2)).
    case selfSized(header: Int)
}

/// A range of guest memory the kernel writes during a syscall.
public enum WriteRule: Equatable, Sendable {
    /// Argument `pointer` is a buffer of `size` bytes (skipped when the pointer is NULL).
    case buffer(pointer: Int, size: SizeRule)
    /// Argument `pointer` is an array of `count` iovecs; the kernel filled `result` bytes.
    case iovec(pointer: Int, count: Int)
    /// `struct msghdr` at argument `pointer` (recvmsg): name, iov data, control and flags.
    case msghdr(pointer: Int)
    /// recvmmsg: `result` `struct mmsghdr`s at argument `pointer`, each a msghdr plus the
    /// received length.
    case mmsghdrs(pointer: Int)
    /// `fd_set` at argument `pointer`, sized by `nfds` in argument 0 (select family).
    case fdSet(pointer: Int)
    /// ioctl: size and direction encoded in the request (`_IOC_READ`), plus known legacy
    /// requests (`ioctlWriteLength`).
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
    /// SysV `*ctl` (msgctl, semctl, shmctl): the command in argument 1 decides whether
    /// `statSize` bytes (`IPC_STAT`, `*_STAT`, `*_STAT_ANY`) or `infoSize` bytes
    /// (`IPC_INFO`, `*_INFO`) are written through argument `pointer`.
    case sysvControl(pointer: Int, statCommands: [UInt64], statSize: Int, infoCommands: [UInt64], infoSize: Int)
    /// keyctl(2): `KEYCTL_DESCRIBE`, `KEYCTL_READ` and `KEYCTL_GET_SECURITY` copy at most
    /// argument 3 bytes to argument 2; the result is the full length.
    case keyctl
    /// getxattrat(2): the value buffer named by the `struct xattr_args` at argument
    /// `pointer` receives `result` bytes.
    case xattrArgs(pointer: Int)
    /// vmsplice(2) on a pipe's read end copies `result` bytes from the pipe into the iovecs
    /// at argument `pointer` (count in argument `count`); on a write end it writes nothing.
    /// The recorder tells the two apart by descriptor `fd`'s access mode at entry.
    case iovecIfReadEnd(pointer: Int, count: Int, fd: Int)
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
    /// getxattr, msgrcv, mq_timedreceive...): the data is the first write rule (a buffer of
    /// `result` bytes, an iovec array or a msghdr's iovecs); anything else it writes (a peer
    /// address) is metadata.
    case contentSource
    /// Writes facts about an object rather than its bytes (stat, getdents, readlink, wait4's
    /// status): labelled as metadata sources and reported as such.
    case metadataSource
    /// Sends the bytes of its in-buffer or in-iovec arguments (or a msghdr's iovecs) to an
    /// object (write, pwrite64, writev, sendto, sendmsg, process_vm_writev, vmsplice,
    /// msgsnd, mq_timedsend, setxattr).
    case contentSink
    /// Copies bytes between two objects inside the kernel (sendfile, splice, tee,
    /// copy_file_range): a derivation by itself, with no user memory in between.
    case kernelCopy
    /// Hands the kernel a value in its first argument register that another process reads
    /// back (exit and exit_group: the low byte of the status, which the parent's wait4
    /// returns, wait(2)): one byte of the event, composed through the `wait4` edge.
    case statusSink
}

/// What a syscall does to the provenance graph; the builder has one handler per role
/// (Provenance/SyscallEdges.swift).
public enum GraphRole: Sendable {
    case read, write, transfer, open, close, closeRange, dup, fcntl, pipe, socketpair, socket, bind, connect
    case accept, sockname, peername, mmap, execve, wait, kill, processVMWrite, processVMRead
    case truncate, chmod, chown, rename, link, symlink, unlink, mkdir, mknod, chdir, fchdir, getdents
    case setuid, setgid, newDescriptor, seek, stat
    /// Stores an extended attribute's value in the file a path or descriptor names.
    case xattrSet
    /// Reads an extended attribute's value from the file a path or descriptor names.
    case xattrGet
    /// Queues a message (msgsnd on a SysV queue id, mq_timedsend on a descriptor).
    case messageSend
    /// Takes a queued message (msgrcv, mq_timedreceive).
    case messageReceive
    /// Creates or looks up a SysV message queue (msgget): the result is its id.
    case messageQueue
    /// Unmaps a range (munmap): stores through a shared writable mapping there end.
    case unmap
    /// Changes a range's protection (mprotect, pkey_mprotect): a shared mapping made
    /// writable becomes a sink of the address space.
    case protect
    /// Moves or resizes a mapping (mremap).
    case remap
    /// Writes a shared file mapping back (msync): its object gets a new version.
    case syncMapping
    /// Creates or looks up a SysV shared memory segment (shmget): the result is its id.
    case sharedMemoryGet
    /// Attaches a SysV segment (shmat): the result is the address it was mapped at.
    case sharedMemoryAttach
    /// Detaches the SysV segment mapped at an address (shmdt).
    case sharedMemoryDetach
    case ignored
}

/// What a syscall's non-negative result names, for the recorder's object resolution.
public enum ResultRole: Sendable {
    case none
    /// A new descriptor (open, socket, dup, mq_open...).
    case descriptor
    /// fcntl: a new descriptor for `F_DUPFD` and `F_DUPFD_CLOEXEC` only.
    case descriptorForDupCommands
}

/// Whether a syscall's last path argument names an object the call creates or replaces (so
/// the recorder resolves it after the call, when it exists) or one that exists before it.
public enum CreatedPath: Equatable, Sendable {
    case none
    case last
    /// Created unless argument `argument` has `mask` set (renameat2's `RENAME_EXCHANGE`: both
    /// names exist before the call and are resolved at entry).
    case lastUnlessFlag(argument: Int, mask: UInt64)
}

/// Whether the path arguments of a syscall follow a final symbolic link.
public enum FinalLinkRule: Equatable, Sendable {
    case follow
    case noFollow
    /// Follows unless argument `argument` has `mask` set (`AT_SYMLINK_NOFOLLOW`).
    case noFollowWithFlag(argument: Int, mask: UInt64)
    /// Follows only when argument `argument` has `mask` set (linkat's `AT_SYMLINK_FOLLOW`).
    case followOnlyWithFlag(argument: Int, mask: UInt64)
}

/// When magprov refuses a syscall: the recorder skips it, the tracee sees `-ENOSYS`, and
/// the event is recorded with the `refused` flag, so that replay injects the same failure.
public enum Refusal: Equatable, Sendable {
    case never
    /// Always refused, for the reason given (the kernel writes memory later than the call,
    /// or the call would undermine recording).
    case always(String)
    /// Refused when argument `argument` is one of `values`.
    case forValues(argument: Int, values: [UInt64], reason: String)
    /// ioctl: refused when the request predates the `_IOC` encoding (direction and size both
    /// zero) and is not one of the legacy requests whose effects magprov knows.
    case unknownLegacyIoctl
}

/// Everything magprov knows about one syscall.
public struct SyscallSpec: Sendable {
    public let number: Int
    public let name: String
    public let arguments: [ArgumentKind]
    public let writes: [WriteRule]
    public let category: SyscallCategory
    /// True when the table declares this number. An undeclared number (outside the pinned
    /// kernel table) is refused by the recorder.
    public let modeled: Bool
    /// How the syscall moves object bytes through user memory (taint sources and sinks).
    public let flow: DataFlowRole
    /// What the syscall does to the provenance graph.
    public let graph: GraphRole
    /// What a successful result names.
    public let result: ResultRole
    /// Whether the last path argument names an object the call creates or replaces.
    public let createdPath: CreatedPath
    /// Whether the path arguments follow a final symlink.
    public let finalLink: FinalLinkRule
    /// When the recorder refuses the call.
    public let refusal: Refusal

    /// Whether a content sink's non-negative result is the number of bytes it sent (write,
    /// sendmsg, vmsplice). msgsnd, mq_timedsend and the set*xattr* calls return 0: their
    /// sink bytes are the whole in-buffer their size rule names.
    public var resultCountsSinkBytes: Bool { graph != .messageSend && graph != .xattrSet }

    /// Whether this event, a content sink by its declaration, delivered bytes to user memory
    /// instead (vmsplice on a pipe's read end: the recorder saw the kernel write the iovecs).
    public func sinkActedAsSource(writes: Int) -> Bool {
        writes > 0 && self.writes.contains { if case .iovecIfReadEnd = $0 { return true } else { return false } }
    }

    /// Indices of arguments that are paths the kernel resolves.
    public var pathArguments: [Int] { arguments.indices.filter { arguments[$0] == .path } }
    /// Indices of arguments that are descriptors (not directory descriptors).
    public var fdArguments: [Int] { arguments.indices.filter { arguments[$0] == .fd } }

    /// Whether a call with these arguments can change how a path resolves for another task:
    /// it creates, removes or replaces a directory entry (rename, link, symlink, unlink,
    /// rmdir, mkdir, mknod, an open that creates), changes the mounts, or changes the
    /// working directory or root that threads sharing their filesystem context (CLONE_FS)
    /// resolve relative paths against. The recorder flags calls whose paths it resolved
    /// while such a call of another task was under way (`SyscallFlags.pathRaced`).
    public func changesNamespace(arguments values: [UInt64]) -> Bool {
        switch graph {
        case .rename, .link, .symlink, .unlink, .mkdir, .mknod, .chdir, .fchdir: return true
        default: break
        }
        return createsLastPath(arguments: values) || SyscallSpec.namespaceCalls.contains(name)
    }

    /// The argument that points at a socket address the kernel copies in
    /// (move_addr_to_kernel: at most `socketAddressLimit` bytes, else EINVAL unread), and
    /// the argument holding its length: connect, bind, sendto. The recorder hands the
    /// kernel its own copy of those bytes, as it does for paths.
    public var socketAddressArgument: (address: Int, length: Int)? {
        switch name {
        case "connect", "bind": return (1, 2)
        case "sendto": return (4, 5)
        default: return nil
        }
    }

    /// sizeof(struct sockaddr_storage).
    public static let socketAddressLimit = 128

    /// Calls that change mounts, the root or the namespaces a task resolves paths in.
    static let namespaceCalls: Set<String> = [
        "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "move_mount", "open_tree",
        "fsmount", "mount_setattr",
    ]

    /// Whether the path arguments of this call, with these argument values, follow a final
    /// symlink.
    public func followsFinalLink(arguments values: [UInt64]) -> Bool {
        switch finalLink {
        case .follow: return true
        case .noFollow: return false
        case .noFollowWithFlag(let n, let mask): return values[n] & mask == 0
        case .followOnlyWithFlag(let n, let mask): return values[n] & mask != 0
        }
    }

    /// Whether the last path argument of this call, with these argument values, names an
    /// object the call creates or replaces: it is resolved after the call, when it exists.
    public func createsLastPath(arguments values: [UInt64]) -> Bool {
        switch createdPath {
        case .none: return false
        case .last: return true
        case .lastUnlessFlag(let n, let mask): return values[n] & mask == 0
        }
    }

    /// Whether a successful call with these arguments returns a new descriptor.
    public func returnsDescriptor(arguments values: [UInt64]) -> Bool {
        switch result {
        case .none: return false
        case .descriptor: return true
        case .descriptorForDupCommands: return values[1] == 0 || values[1] == 1030  // F_DUPFD, F_DUPFD_CLOEXEC
        }
    }

    /// Why the recorder refuses this call with these arguments, or nil when it runs.
    public func refusalReason(arguments values: [UInt64]) -> String? {
        switch refusal {
        case .never: return nil
        case .always(let reason): return reason
        case .forValues(let n, let refused, let reason): return refused.contains(values[n]) ? reason : nil
        case .unknownLegacyIoctl:
            return isUnknownLegacyIoctl(request: values[1])
                ? "legacy ioctl request 0x\(String(values[1] & 0xffff_ffff, radix: 16)) has no _IOC encoding and is not in the table" : nil
        }
    }
}

/// Lookup by number or name.
public enum SyscallTable {
    /// The declaration of `number`; an undeclared number gets a spec with `modeled` false
    /// that the recorder refuses.
    public static func spec(_ number: Int) -> SyscallSpec {
        if number >= 0 && number < specs.count { return specs[number] }
        return undeclared(number)
    }

    public static func name(_ number: Int) -> String { spec(number).name }

    public static func number(named name: String) -> Int? { numbersByName[name] }

    /// The graph role of `number` without copying its spec (the graph builder's hot path).
    public static func graphRole(_ number: Int) -> GraphRole {
        number >= 0 && number < graphRoles.count ? graphRoles[number] : .ignored
    }

    /// Numbers of the pinned kernel table (`syscall_64.tbl`), in order.
    public static var kernelNumbers: [Int] { kernelSyscalls.map(\.number) }

    /// Names declared in the table that the pinned kernel table does not have (a typo in a
    /// declaration); empty when the table is consistent.
    public static var declarationsWithoutKernelNumber: [String] {
        declarations.map(\.name).filter { numbersByName[$0] == nil }
    }

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

    static func undeclared(_ number: Int) -> SyscallSpec {
        SyscallSpec(number: number, name: "syscall_\(number)", arguments: [], writes: [], category: .other,
                    modeled: false, flow: .none, graph: .ignored, result: .none, createdPath: .none,
                    finalLink: .follow, refusal: .always("syscall \(number) is not in magprov's syscall table"))
    }

    static let numbersByName: [String: Int] = {
        var map: [String: Int] = [:]
        for (number, name) in kernelSyscalls { map[name] = number }
        return map
    }()

    static let specs: [SyscallSpec] = {
        var table = (0...(kernelSyscalls.last?.number ?? 0)).map(undeclared)
        for entry in declarations {
            guard let number = numbersByName[entry.name] else { continue }
            table[number] = SyscallSpec(
                number: number, name: entry.name, arguments: entry.arguments, writes: entry.writes,
                category: entry.category, modeled: true,
                flow: entry.flow ?? (entry.category == .fileMeta && !entry.writes.isEmpty ? .metadataSource : .none),
                graph: entry.graph, result: entry.result, createdPath: entry.createdPath,
                finalLink: entry.finalLink, refusal: entry.refusal)
        }
        return table
    }()

    static let graphRoles: [GraphRole] = specs.map(\.graph)
}

struct Declaration {
    let name: String
    let arguments: [ArgumentKind]
    let writes: [WriteRule]
    let category: SyscallCategory
    let flow: DataFlowRole?
    let graph: GraphRole
    let result: ResultRole
    let createdPath: CreatedPath
    let finalLink: FinalLinkRule
    let refusal: Refusal
}

/// One declaration. `flow` nil: a metadata source for `fileMeta` calls that write memory,
/// none otherwise.
private func d(_ name: String, _ category: SyscallCategory, _ arguments: [ArgumentKind],
               writes: [WriteRule] = [], flow: DataFlowRole? = nil, graph: GraphRole = .ignored,
               result: ResultRole = .none, createdPath: CreatedPath = .none, finalLink: FinalLinkRule = .follow,
               refusal: Refusal = .never) -> Declaration {
    Declaration(name: name, arguments: arguments, writes: writes, category: category, flow: flow, graph: graph,
                result: result, createdPath: createdPath, finalLink: finalLink, refusal: refusal)
}

/// A syscall the x86-64 kernel lists but does not implement (`sys_ni_syscall` or no entry
/// point): it returns ENOSYS anyway, so refusing it records exactly what the kernel does.
private func notImplemented(_ name: String) -> Declaration {
    d(name, .other, [], refusal: .always("not implemented by the x86-64 kernel"))
}

private let I = ArgumentKind.integer, F = ArgumentKind.fd, D = ArgumentKind.dirfd
private let P = ArgumentKind.path, X = ArgumentKind.pointer, L = ArgumentKind.flags
private let S = ArgumentKind.string
private func out(_ pointer: Int, _ size: SizeRule) -> WriteRule { .buffer(pointer: pointer, size: size) }
private func inBuf(_ sizeArgument: Int) -> ArgumentKind { .inBuffer(size: .argument(sizeArgument)) }
private func inFixed(_ size: Int) -> ArgumentKind { .inBuffer(size: .fixed(size)) }

// Kernel struct sizes on x86-64 (include/uapi): stat 144, statx 256, statfs 120,
// timespec/timeval 16, rusage 144, utsname 390, sysinfo 112, rlimit 16, tms 32,
// siginfo 128, kernel sigaction 32 (8-byte mask), stack_t 24, itimerval 32, flock 32,
// epoll_event 12 (packed), pollfd 8, linux_dirent64 variable (result bytes), sigevent 64,
// itimerspec 32, mq_attr 64, timex 208, msqid64_ds 120, semid64_ds 104, shmid64_ds 112,
// msginfo 32, seminfo 40, shminfo64 80 (shm_info 48), mmsghdr 64, cachestat 40.

private let declarations: [Declaration] = [
    d("read", .fileData, [F, X, I], writes: [out(1, .result)], flow: .contentSource, graph: .read),
    d("write", .fileData, [F, inBuf(2), I], flow: .contentSink, graph: .write),
    d("open", .namespace, [P, L, I], graph: .open, result: .descriptor),
    d("close", .fileData, [F], graph: .close),
    d("stat", .fileMeta, [P, X], writes: [out(1, .fixed(144))], graph: .stat),
    d("fstat", .fileMeta, [F, X], writes: [out(1, .fixed(144))], graph: .stat),
    d("lstat", .fileMeta, [P, X], writes: [out(1, .fixed(144))], graph: .stat, finalLink: .noFollow),
    d("poll", .fileData, [X, I, I], writes: [out(0, .argumentTimes(1, 8))]),
    d("lseek", .fileData, [F, I, I], graph: .seek),
    d("mmap", .memory, [X, I, I, L, F, I], graph: .mmap),
    d("mprotect", .memory, [X, I, I], graph: .protect),
    d("munmap", .memory, [X, I], graph: .unmap),
    d("brk", .memory, [X]),
    d("rt_sigaction", .signal, [.signal, .inBuffer(size: .fixed(32)), X, I], writes: [out(2, .fixed(32))]),
    d("rt_sigprocmask", .signal, [I, .inBuffer(size: .argument(3)), X, I], writes: [out(2, .argument(3))]),
    d("rt_sigreturn", .signal, []),
    d("ioctl", .fileData, [F, I, X], writes: [.ioctl], refusal: .unknownLegacyIoctl),
    d("pread64", .fileData, [F, X, I, I], writes: [out(1, .result)], flow: .contentSource, graph: .read),
    d("pwrite64", .fileData, [F, inBuf(2), I, I], flow: .contentSink, graph: .write),
    d("readv", .fileData, [F, X, I], writes: [.iovec(pointer: 1, count: 2)], flow: .contentSource, graph: .read),
    d("writev", .fileData, [F, .inIovec(count: 2), I], flow: .contentSink, graph: .write),
    d("access", .fileMeta, [P, I]),
    d("pipe", .ipc, [X], writes: [out(0, .fixed(8))], graph: .pipe),
    d("select", .fileData, [I, X, X, X, X],
      writes: [.fdSet(pointer: 1), .fdSet(pointer: 2), .fdSet(pointer: 3), out(4, .fixed(16))]),
    d("sched_yield", .process, []),
    d("mremap", .memory, [X, I, I, L, X], graph: .remap),
    d("msync", .memory, [X, I, L], graph: .syncMapping),
    d("mincore", .memory, [X, I, X]),
    d("madvise", .memory, [X, I, I]),
    d("dup", .fileData, [F], graph: .dup, result: .descriptor),
    d("dup2", .fileData, [F, I], graph: .dup, result: .descriptor),
    d("pause", .signal, []),
    d("nanosleep", .time, [.inBuffer(size: .fixed(16)), X], writes: [out(1, .fixed(16))]),
    d("getitimer", .time, [I, X], writes: [out(1, .fixed(32))]),
    d("alarm", .time, [I]),
    d("setitimer", .time, [I, .inBuffer(size: .fixed(32)), X], writes: [out(2, .fixed(32))]),
    d("getpid", .identity, []),
    d("sendfile", .fileData, [F, F, X, I], writes: [out(2, .fixed(8))], flow: .kernelCopy, graph: .transfer),
    d("socket", .network, [I, I, I], graph: .socket, result: .descriptor),
    d("connect", .network, [F, inBuf(2), I], graph: .connect),
    d("accept", .network, [F, X, X], writes: [out(1, .lengthAt(2)), out(2, .fixed(4))], graph: .accept, result: .descriptor),
    d("sendto", .network, [F, inBuf(2), I, L, inBuf(5), I], flow: .contentSink, graph: .write),
    d("recvfrom", .network, [F, X, I, L, X, X],
      writes: [out(1, .result), out(4, .lengthAt(5)), out(5, .fixed(4))], flow: .contentSource, graph: .read),
    d("sendmsg", .network, [F, X, L], flow: .contentSink, graph: .write),
    d("recvmsg", .network, [F, X, L], writes: [.msghdr(pointer: 1)], flow: .contentSource, graph: .read),
    d("shutdown", .network, [F, I]),
    d("bind", .network, [F, inBuf(2), I], graph: .bind),
    d("listen", .network, [F, I]),
    d("getsockname", .network, [F, X, X], writes: [out(1, .lengthAt(2)), out(2, .fixed(4))], graph: .sockname),
    d("getpeername", .network, [F, X, X], writes: [out(1, .lengthAt(2)), out(2, .fixed(4))], graph: .peername),
    d("socketpair", .ipc, [I, I, I, X], writes: [out(3, .fixed(8))], graph: .socketpair),
    d("setsockopt", .network, [F, I, I, inBuf(4), I]),
    d("getsockopt", .network, [F, I, I, X, X], writes: [out(3, .lengthAt(4)), out(4, .fixed(4))]),
    // clone(flags, stack, parent_tid, child_tid, tls): CLONE_PARENT_SETTID / CLONE_PIDFD
    // write through parent_tid (the flags are checked by the recorder's capture only
    // through the result: a 4-byte read of an untouched int is harmless).
    d("clone", .process, [L, X, X, X, X], writes: [out(2, .fixed(4))]),
    d("fork", .process, []),
    d("vfork", .process, []),
    d("execve", .process, [P, .stringArray, .stringArray], graph: .execve),
    d("exit", .process, [I], flow: .statusSink),
    d("wait4", .process, [.pid, X, L, X], writes: [out(1, .fixed(4)), out(3, .fixed(144))], flow: .metadataSource, graph: .wait),
    d("kill", .signal, [.pid, .signal], graph: .kill),
    d("uname", .identity, [X], writes: [out(0, .fixed(390))]),
    d("fcntl", .fileData, [F, I, I], writes: [.fcntl], graph: .fcntl, result: .descriptorForDupCommands),
    d("flock", .fileData, [F, I]),
    d("fsync", .fileData, [F]),
    d("fdatasync", .fileData, [F]),
    d("truncate", .fileMeta, [P, I], graph: .truncate),
    d("ftruncate", .fileMeta, [F, I], graph: .truncate),
    d("getdents", .fileMeta, [F, X, I], writes: [out(1, .result)], graph: .getdents),
    d("getcwd", .identity, [X, I], writes: [out(0, .result)]),
    d("chdir", .namespace, [P], graph: .chdir),
    d("fchdir", .namespace, [F], graph: .fchdir),
    d("rename", .namespace, [P, P], graph: .rename, createdPath: .last, finalLink: .noFollow),
    d("mkdir", .namespace, [P, I], graph: .mkdir, createdPath: .last),
    d("rmdir", .namespace, [P], graph: .unlink, finalLink: .noFollow),
    d("creat", .namespace, [P, I], graph: .open, result: .descriptor, createdPath: .last),
    d("link", .namespace, [P, P], graph: .link, createdPath: .last, finalLink: .noFollow),
    d("unlink", .namespace, [P], graph: .unlink, finalLink: .noFollow),
    d("symlink", .namespace, [S, P], graph: .symlink, createdPath: .last, finalLink: .noFollow),
    d("readlink", .fileMeta, [P, X, I], writes: [out(1, .result)], finalLink: .noFollow),
    d("chmod", .fileMeta, [P, I], graph: .chmod),
    d("fchmod", .fileMeta, [F, I], graph: .chmod),
    d("chown", .fileMeta, [P, I, I], graph: .chown),
    d("fchown", .fileMeta, [F, I, I], graph: .chown),
    d("lchown", .fileMeta, [P, I, I], graph: .chown, finalLink: .noFollow),
    d("umask", .identity, [I]),
    d("gettimeofday", .time, [X, X], writes: [out(0, .fixed(16)), out(1, .fixed(8))]),
    d("getrlimit", .identity, [I, X], writes: [out(1, .fixed(16))]),
    d("getrusage", .identity, [I, X], writes: [out(1, .fixed(144))]),
    d("sysinfo", .identity, [X], writes: [out(0, .fixed(112))]),
    d("times", .time, [X], writes: [out(0, .fixed(32))]),
    d("getuid", .identity, []),
    d("getgid", .identity, []),
    d("setuid", .identity, [I], graph: .setuid),
    d("setgid", .identity, [I], graph: .setgid),
    d("geteuid", .identity, []),
    d("getegid", .identity, []),
    d("setpgid", .process, [.pid, .pid]),
    d("getppid", .identity, []),
    d("getpgrp", .identity, []),
    d("setsid", .process, []),
    d("setreuid", .identity, [I, I], graph: .setuid),
    d("setregid", .identity, [I, I], graph: .setgid),
    d("getgroups", .identity, [I, X], writes: [out(1, .resultTimes(4))]),
    d("setgroups", .identity, [I, .inBuffer(size: .argumentTimes(0, 4))], graph: .setgid),
    d("setresuid", .identity, [I, I, I], graph: .setuid),
    d("getresuid", .identity, [X, X, X], writes: [out(0, .fixed(4)), out(1, .fixed(4)), out(2, .fixed(4))]),
    d("setresgid", .identity, [I, I, I], graph: .setgid),
    d("getresgid", .identity, [X, X, X], writes: [out(0, .fixed(4)), out(1, .fixed(4)), out(2, .fixed(4))]),
    d("getpgid", .identity, [.pid]),
    d("setfsuid", .identity, [I], graph: .setuid),
    d("setfsgid", .identity, [I], graph: .setgid),
    d("getsid", .identity, [.pid]),
    d("capget", .identity, [X, X], writes: [out(1, .fixed(24))]),
    d("rt_sigpending", .signal, [X, I], writes: [out(0, .argument(1))]),
    d("rt_sigtimedwait", .signal, [X, X, X, I], writes: [out(1, .fixed(128))]),
    d("rt_sigsuspend", .signal, [.inBuffer(size: .argument(1)), I]),
    d("sigaltstack", .signal, [.inBuffer(size: .fixed(24)), X], writes: [out(1, .fixed(24))]),
    d("mknod", .namespace, [P, I, I], graph: .mknod, createdPath: .last),
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
    d("getxattr", .fileMeta, [P, S, X, I], writes: [out(2, .result)], flow: .contentSource, graph: .xattrGet),
    d("lgetxattr", .fileMeta, [P, S, X, I], writes: [out(2, .result)], flow: .contentSource, graph: .xattrGet, finalLink: .noFollow),
    d("fgetxattr", .fileMeta, [F, S, X, I], writes: [out(2, .result)], flow: .contentSource, graph: .xattrGet),
    d("listxattr", .fileMeta, [P, X, I], writes: [out(1, .result)]),
    d("llistxattr", .fileMeta, [P, X, I], writes: [out(1, .result)], finalLink: .noFollow),
    d("flistxattr", .fileMeta, [F, X, I], writes: [out(1, .result)]),
    d("setxattr", .fileMeta, [P, S, inBuf(3), I, L], flow: .contentSink, graph: .xattrSet),
    d("lsetxattr", .fileMeta, [P, S, inBuf(3), I, L], flow: .contentSink, graph: .xattrSet, finalLink: .noFollow),
    d("fsetxattr", .fileMeta, [F, S, inBuf(3), I, L], flow: .contentSink, graph: .xattrSet),
    d("tkill", .signal, [.pid, .signal], graph: .kill),
    d("time", .time, [X], writes: [out(0, .fixed(8))]),
    d("futex", .ipc, [X, I, I, X, X, I]),
    d("sched_setaffinity", .process, [.pid, I, inBuf(1)]),
    d("sched_getaffinity", .process, [.pid, I, X], writes: [out(2, .result)]),
    d("getdents64", .fileMeta, [F, X, I], writes: [out(1, .result)], graph: .getdents),
    d("set_tid_address", .process, [X]),
    d("fadvise64", .fileData, [F, I, I, I]),
    d("clock_gettime", .time, [I, X], writes: [out(1, .fixed(16))]),
    d("clock_getres", .time, [I, X], writes: [out(1, .fixed(16))]),
    d("clock_nanosleep", .time, [I, L, .inBuffer(size: .fixed(16)), X], writes: [out(3, .fixed(16))]),
    d("exit_group", .process, [I], flow: .statusSink),
    d("epoll_wait", .fileData, [F, X, I, I], writes: [out(1, .resultTimes(12))]),
    d("epoll_ctl", .fileData, [F, I, F, .inBuffer(size: .fixed(12))]),
    d("tgkill", .signal, [.pid, .pid, .signal], graph: .kill),
    d("utimes", .fileMeta, [P, .inBuffer(size: .fixed(32))]),
    d("waitid", .process, [I, .pid, X, L, X], writes: [out(2, .fixed(128)), out(4, .fixed(144))], flow: .metadataSource),
    d("openat", .namespace, [D, P, L, I], graph: .open, result: .descriptor),
    d("mkdirat", .namespace, [D, P, I], graph: .mkdir, createdPath: .last),
    d("mknodat", .namespace, [D, P, I, I], graph: .mknod, createdPath: .last),
    d("fchownat", .fileMeta, [D, P, I, I, L], graph: .chown, finalLink: .noFollowWithFlag(argument: 4, mask: 0x100)),
    d("futimesat", .fileMeta, [D, P, .inBuffer(size: .fixed(32))]),
    d("newfstatat", .fileMeta, [D, P, X, L], writes: [out(2, .fixed(144))], graph: .stat, finalLink: .noFollowWithFlag(argument: 3, mask: 0x100)),
    d("unlinkat", .namespace, [D, P, L], graph: .unlink, finalLink: .noFollow),
    d("renameat", .namespace, [D, P, D, P], graph: .rename, createdPath: .last, finalLink: .noFollow),
    d("linkat", .namespace, [D, P, D, P, L], graph: .link, createdPath: .last, finalLink: .followOnlyWithFlag(argument: 4, mask: 0x400)),
    d("symlinkat", .namespace, [S, D, P], graph: .symlink, createdPath: .last, finalLink: .noFollow),
    d("readlinkat", .fileMeta, [D, P, X, I], writes: [out(2, .result)], finalLink: .noFollow),
    d("fchmodat", .fileMeta, [D, P, I, L], graph: .chmod),
    d("faccessat", .fileMeta, [D, P, I, L]),
    d("pselect6", .fileData, [I, X, X, X, X, X],
      writes: [.fdSet(pointer: 1), .fdSet(pointer: 2), .fdSet(pointer: 3), out(4, .fixed(16))]),
    d("ppoll", .fileData, [X, I, X, X, I], writes: [out(0, .argumentTimes(1, 8)), out(2, .fixed(16))]),
    d("set_robust_list", .process, [X, I]),
    d("get_robust_list", .process, [.pid, X, X], writes: [out(1, .fixed(8)), out(2, .fixed(8))]),
    d("splice", .fileData, [F, X, F, X, I, L], writes: [out(1, .fixed(8)), out(3, .fixed(8))], flow: .kernelCopy, graph: .transfer),
    d("tee", .fileData, [F, F, I, L], flow: .kernelCopy, graph: .transfer),
    d("sync_file_range", .fileData, [F, I, I, L]),
    d("utimensat", .fileMeta, [D, P, .inBuffer(size: .fixed(32)), L], finalLink: .noFollowWithFlag(argument: 3, mask: 0x100)),
    d("epoll_pwait", .fileData, [F, X, I, I, X, I], writes: [out(1, .resultTimes(12))]),
    d("timerfd_create", .time, [I, L], graph: .newDescriptor, result: .descriptor),
    d("eventfd", .ipc, [I], graph: .newDescriptor, result: .descriptor),
    d("fallocate", .fileData, [F, I, I, I]),
    d("timerfd_settime", .time, [F, L, .inBuffer(size: .fixed(32)), X], writes: [out(3, .fixed(32))]),
    d("timerfd_gettime", .time, [F, X], writes: [out(1, .fixed(32))]),
    d("accept4", .network, [F, X, X, L], writes: [out(1, .lengthAt(2)), out(2, .fixed(4))], graph: .accept, result: .descriptor),
    d("eventfd2", .ipc, [I, L], graph: .newDescriptor, result: .descriptor),
    d("epoll_create", .fileData, [I], graph: .newDescriptor, result: .descriptor),
    d("epoll_create1", .fileData, [L], graph: .newDescriptor, result: .descriptor),
    d("dup3", .fileData, [F, I, L], graph: .dup, result: .descriptor),
    d("pipe2", .ipc, [X, L], writes: [out(0, .fixed(8))], graph: .pipe),
    d("inotify_init1", .fileMeta, [L], graph: .newDescriptor, result: .descriptor),
    d("preadv", .fileData, [F, X, I, I, I], writes: [.iovec(pointer: 1, count: 2)], flow: .contentSource, graph: .read),
    d("pwritev", .fileData, [F, .inIovec(count: 2), I, I, I], flow: .contentSink, graph: .write),
    d("prlimit64", .identity, [.pid, I, .inBuffer(size: .fixed(16)), X], writes: [out(3, .fixed(16))]),
    d("getcpu", .identity, [X, X, X], writes: [out(0, .fixed(4)), out(1, .fixed(4))]),
    d("process_vm_readv", .ipc, [.pid, X, I, X, I, L], writes: [.iovec(pointer: 1, count: 2)], flow: .contentSource, graph: .processVMRead),
    d("process_vm_writev", .ipc, [.pid, .inIovec(count: 2), I, X, I, L], flow: .contentSink, graph: .processVMWrite),
    d("renameat2", .namespace, [D, P, D, P, L], graph: .rename, createdPath: .lastUnlessFlag(argument: 4, mask: 2), finalLink: .noFollow),
    d("getrandom", .other, [X, I, L], writes: [out(0, .result)]),
    d("memfd_create", .namespace, [S, L], graph: .newDescriptor, result: .descriptor),
    d("statx", .fileMeta, [D, P, L, I, X], writes: [out(4, .fixed(256))], graph: .stat, finalLink: .noFollowWithFlag(argument: 2, mask: 0x100)),
    d("preadv2", .fileData, [F, X, I, I, I, L], writes: [.iovec(pointer: 1, count: 2)], flow: .contentSource, graph: .read),
    d("pwritev2", .fileData, [F, .inIovec(count: 2), I, I, I, L], flow: .contentSink, graph: .write),
    d("copy_file_range", .fileData, [F, X, F, X, I, L], writes: [out(1, .fixed(8)), out(3, .fixed(8))], flow: .kernelCopy, graph: .transfer),
    d("rseq", .process, [X, I, L, I], refusal: .always("the kernel writes the rseq area at preemption, outside any syscall")),
    d("clone3", .process, [.inBuffer(size: .argument(1)), I], writes: [.cloneArgs]),
    d("close_range", .fileData, [I, I, L], graph: .closeRange),
    d("openat2", .namespace, [D, P, X, I], graph: .open, result: .descriptor),
    d("faccessat2", .fileMeta, [D, P, I, L]),
    d("execveat", .process, [D, P, .stringArray, .stringArray, L], graph: .execve),
    d("io_uring_setup", .fileData, [I, X], refusal: .always("io_uring: the kernel reads and writes the shared rings asynchronously")),
    d("io_uring_enter", .fileData, [F, I, I, L, X, I], refusal: .always("io_uring: the kernel reads and writes the shared rings asynchronously")),
    d("io_uring_register", .fileData, [F, I, X, I], refusal: .always("io_uring: the kernel reads and writes the shared rings asynchronously")),
    d("membarrier", .memory, [I, L, I]),
    d("mlock2", .memory, [X, I, L]),
    d("munlockall", .memory, []),
    d("mlockall", .memory, [L]),
    d("setns", .process, [F, I]),
    d("unshare", .process, [L]),
    d("pidfd_open", .process, [.pid, L], graph: .newDescriptor, result: .descriptor),
    d("pidfd_send_signal", .signal, [F, .signal, X, L]),
    d("inotify_add_watch", .fileMeta, [F, P, I]),
    d("inotify_rm_watch", .fileMeta, [F, I]),
    d("sched_setscheduler", .process, [.pid, I, X]),
    d("sched_setparam", .process, [.pid, X]),
    d("personality", .process, [I]),
    d("fchmodat2", .fileMeta, [D, P, I, L], graph: .chmod, finalLink: .noFollowWithFlag(argument: 3, mask: 0x100)),

    // SysV IPC (svipc(7)). glibc ORs IPC_64 (0x100) into the *ctl commands; the rules mask it.
    d("shmget", .ipc, [I, I, L], graph: .sharedMemoryGet),
    d("shmat", .memory, [I, X, L], graph: .sharedMemoryAttach),
    d("shmdt", .memory, [X], graph: .sharedMemoryDetach),
    d("shmctl", .ipc, [I, I, X],
      writes: [.sysvControl(pointer: 2, statCommands: [2, 13, 15], statSize: 112, infoCommands: [3, 14], infoSize: 72)]),
    d("semget", .ipc, [I, I, L]),
    d("semop", .ipc, [I, .inBuffer(size: .argumentTimes(2, 6)), I]),
    d("semtimedop", .ipc, [I, .inBuffer(size: .argumentTimes(2, 6)), I, inFixed(16)]),
    d("semctl", .ipc, [I, I, I, X],
      writes: [.sysvControl(pointer: 3, statCommands: [2, 18, 20], statSize: 104, infoCommands: [3, 19], infoSize: 40)],
      refusal: .forValues(argument: 2, values: [13, 0x10d],
                          reason: "semctl(GETALL) writes one value per semaphore, a count the call does not carry")),
    d("msgget", .ipc, [I, L], graph: .messageQueue),
    // struct msgbuf: a `long mtype` before `msgsz` bytes of text.
    d("msgsnd", .ipc, [I, .inBuffer(size: .argumentPlus(2, 8)), I, L], flow: .contentSink, graph: .messageSend),
    d("msgrcv", .ipc, [I, X, I, I, L], writes: [out(1, .resultPlus(8))], flow: .contentSource, graph: .messageReceive),
    d("msgctl", .ipc, [I, I, X],
      writes: [.sysvControl(pointer: 2, statCommands: [2, 11, 13], statSize: 120, infoCommands: [3, 12], infoSize: 32)]),

    // POSIX message queues (mq_overview(7)): descriptors on the mqueue filesystem.
    d("mq_open", .ipc, [S, L, I, inFixed(64)], graph: .newDescriptor, result: .descriptor),
    d("mq_unlink", .ipc, [S]),
    d("mq_timedsend", .ipc, [F, inBuf(2), I, I, inFixed(16)], flow: .contentSink, graph: .messageSend),
    d("mq_timedreceive", .ipc, [F, X, I, X, inFixed(16)], writes: [out(1, .result), out(3, .fixed(4))],
      flow: .contentSource, graph: .messageReceive),
    d("mq_notify", .ipc, [F, inFixed(64)]),
    d("mq_getsetattr", .ipc, [F, inFixed(64), X], writes: [out(2, .fixed(64))]),

    // Signals carrying a payload (siginfo's si_value) to another process.
    d("rt_sigqueueinfo", .signal, [.pid, .signal, inFixed(128)], graph: .kill),
    d("rt_tgsigqueueinfo", .signal, [.pid, .pid, .signal, inFixed(128)], graph: .kill),
    d("signalfd", .signal, [I, inBuf(2), I], graph: .newDescriptor, result: .descriptor),
    d("signalfd4", .signal, [I, inBuf(2), I, L], graph: .newDescriptor, result: .descriptor),

    // POSIX timers: the sigevent's value comes back in the timer signal's siginfo.
    d("timer_create", .time, [I, inFixed(64), X], writes: [out(2, .fixed(4))]),
    d("timer_settime", .time, [I, L, inFixed(32), X], writes: [out(3, .fixed(32))]),
    d("timer_gettime", .time, [I, X], writes: [out(1, .fixed(32))]),
    d("timer_getoverrun", .time, [I]),
    d("timer_delete", .time, [I]),
    d("clock_settime", .time, [I, inFixed(16)]),
    d("clock_adjtime", .time, [I, X], writes: [out(1, .fixed(208))]),
    d("adjtimex", .time, [X], writes: [out(0, .fixed(208))]),
    d("settimeofday", .time, [inFixed(16), inFixed(8)]),

    // Data moved through a pipe from user pages: the bytes of the iovecs enter the pipe.
    // A sink on a write end; on a read end a source (the replay and the graph see it by its
    // recorded writes).
    d("vmsplice", .fileData, [F, .inIovec(count: 2), I, L], writes: [.iovecIfReadEnd(pointer: 1, count: 2, fd: 0)],
      flow: .contentSink, graph: .write),
    d("recvmmsg", .network, [F, X, I, L, X], writes: [.mmsghdrs(pointer: 1), out(4, .fixed(16))], graph: .read),
    // The kernel stores each message's sent length in its mmsghdr.
    d("sendmmsg", .network, [F, X, I, L], writes: [out(1, .argumentTimes(2, 64))], graph: .write),
    d("readahead", .fileData, [F, I, I]),
    d("syncfs", .fileData, [F]),
    d("cachestat", .fileData, [F, inFixed(16), X, L], writes: [out(2, .fixed(40))]),

    // Extended attributes: a value stored with one call can be read back by another process.
    d("removexattr", .fileMeta, [P, S]),
    d("lremovexattr", .fileMeta, [P, S], finalLink: .noFollow),
    d("fremovexattr", .fileMeta, [F, S]),
    d("setxattrat", .fileMeta, [D, P, L, S, .inXattrArgs(sizeArgument: 5), I], flow: .contentSink, graph: .xattrSet,
      finalLink: .noFollowWithFlag(argument: 2, mask: 0x100)),
    d("getxattrat", .fileMeta, [D, P, L, S, X, I], writes: [.xattrArgs(pointer: 4)], flow: .contentSource,
      graph: .xattrGet, finalLink: .noFollowWithFlag(argument: 2, mask: 0x100)),
    d("listxattrat", .fileMeta, [D, P, L, X, I], writes: [out(3, .result)],
      finalLink: .noFollowWithFlag(argument: 2, mask: 0x100)),
    d("removexattrat", .fileMeta, [D, P, L, S], finalLink: .noFollowWithFlag(argument: 2, mask: 0x100)),
    d("file_getattr", .fileMeta, [D, P, X, I, L], writes: [out(2, .argument(3))],
      finalLink: .noFollowWithFlag(argument: 4, mask: 0x100)),
    d("file_setattr", .fileMeta, [D, P, inBuf(3), I, L],
      finalLink: .noFollowWithFlag(argument: 4, mask: 0x100)),
    d("utime", .fileMeta, [P, inFixed(16)]),
    d("ustat", .fileMeta, [I, X], writes: [out(1, .fixed(32))]),
    d("name_to_handle_at", .fileMeta, [D, P, X, X, L], writes: [out(2, .selfSized(header: 8)), out(3, .fixed(4))],
      finalLink: .followOnlyWithFlag(argument: 4, mask: 0x400)),
    d("open_by_handle_at", .namespace, [F, X, L], graph: .newDescriptor, result: .descriptor),
    d("inotify_init", .fileMeta, [], graph: .newDescriptor, result: .descriptor),
    d("fanotify_init", .fileMeta, [L, L], graph: .newDescriptor, result: .descriptor),
    d("fanotify_mark", .fileMeta, [F, L, I, D, P]),
    d("statmount", .fileMeta, [inFixed(24), X, I, L], writes: [out(1, .argument(2))]),
    d("listmount", .fileMeta, [inFixed(32), X, I, L], writes: [out(1, .resultTimes(8))]),

    // Mounts and the new mount API: no user memory written; descriptors returned.
    d("mount", .namespace, [S, P, S, L, X]),
    d("umount2", .namespace, [P, L]),
    d("pivot_root", .namespace, [P, P]),
    d("open_tree", .namespace, [D, P, L], graph: .newDescriptor, result: .descriptor),
    d("open_tree_attr", .namespace, [D, P, L, X, I], graph: .newDescriptor, result: .descriptor),
    d("move_mount", .namespace, [D, P, D, P, L]),
    d("fsopen", .namespace, [S, L], graph: .newDescriptor, result: .descriptor),
    d("fsconfig", .namespace, [F, I, S, X, I]),
    d("fsmount", .namespace, [F, L, L], graph: .newDescriptor, result: .descriptor),
    d("fspick", .namespace, [D, P, L], graph: .newDescriptor, result: .descriptor),
    d("mount_setattr", .namespace, [D, P, L, inBuf(4), I]),
    d("swapon", .other, [P, L]),
    d("swapoff", .other, [P]),
    d("acct", .other, [P]),

    // Process, scheduling and identity.
    d("capset", .identity, [inFixed(8), inFixed(24)]),
    d("sched_rr_get_interval", .process, [.pid, X], writes: [out(1, .fixed(16))]),
    d("sched_setattr", .process, [.pid, X, L]),
    d("sched_getattr", .process, [.pid, X, I, L], writes: [out(1, .argument(2))]),
    d("kcmp", .process, [.pid, .pid, I, I, I]),
    d("pidfd_getfd", .process, [F, I, L], graph: .newDescriptor, result: .descriptor),
    d("process_madvise", .memory, [F, .inIovec(count: 2), I, I, L]),
    d("process_mrelease", .process, [F, L]),
    d("vhangup", .other, []),
    d("ioprio_set", .process, [I, I, I]),
    d("ioprio_get", .process, [I, I]),
    d("sethostname", .identity, [inBuf(1), I]),
    d("setdomainname", .identity, [inBuf(1), I]),
    d("reboot", .other, [I, I, I, X]),
    d("iopl", .other, [I]),
    d("ioperm", .other, [I, I, I]),
    d("init_module", .other, [inBuf(1), I, S]),
    d("finit_module", .other, [F, S, L]),
    d("delete_module", .other, [S, L]),
    d("seccomp", .process, [I, L, X]),
    d("landlock_create_ruleset", .process, [inBuf(1), I, L], graph: .newDescriptor, result: .descriptor),
    d("landlock_add_rule", .process, [F, I, X, L]),
    d("landlock_restrict_self", .process, [F, L]),
    d("lsm_get_self_attr", .identity, [I, X, X, L], writes: [out(1, .lengthAt(2)), out(2, .fixed(4))]),
    d("lsm_set_self_attr", .identity, [I, inBuf(2), I, L]),
    d("lsm_list_modules", .identity, [X, X, L], writes: [out(0, .lengthAt(1)), out(1, .fixed(4))]),
    d("add_key", .identity, [S, S, inBuf(3), I, I]),
    d("request_key", .identity, [S, S, S, I]),
    d("keyctl", .identity, [I, I, I, I, I], writes: [.keyctl]),
    // restart_syscall continues an interrupted nanosleep/poll/futex wait; what it writes is
    // that call's (the remaining time), which the original call's capture already covers.
    d("restart_syscall", .process, []),
    // uprobe/uretprobe are entered from the kernel's uprobe trampolines only.
    d("uretprobe", .other, []),
    d("uprobe", .other, []),

    // Memory.
    d("modify_ldt", .memory, [I, X, I], writes: [out(1, .result)]),
    d("remap_file_pages", .memory, [X, I, I, I, L]),
    d("mbind", .memory, [X, I, I, X, I, L]),
    d("set_mempolicy", .memory, [I, X, I]),
    d("get_mempolicy", .memory, [X, X, I, X, L], writes: [out(0, .fixed(4)), out(1, .bitmask(2))]),
    d("set_mempolicy_home_node", .memory, [X, I, I, L]),
    d("migrate_pages", .memory, [.pid, I, X, X]),
    d("move_pages", .memory, [.pid, I, X, X, X, L], writes: [out(4, .argumentTimes(1, 4))]),
    d("pkey_mprotect", .memory, [X, I, I, I], graph: .protect),
    d("pkey_alloc", .memory, [L, I]),
    d("pkey_free", .memory, [I]),
    d("mseal", .memory, [X, I, L]),
    d("futex_waitv", .ipc, [X, I, L, inFixed(16), I]),
    d("epoll_pwait2", .fileData, [F, X, I, inFixed(16), X, I], writes: [out(1, .resultTimes(12))]),
    d("futex_wake", .ipc, [X, I, I, L]),
    d("futex_wait", .ipc, [X, I, I, L, inFixed(16), I]),
    d("futex_requeue", .ipc, [inFixed(64), L, I, I]),

    // Refused: the kernel writes user memory later than the call, or magprov cannot see it.
    d("io_setup", .fileData, [I, X], refusal: .always("AIO: the kernel writes the completion ring mapped at io_setup asynchronously")),
    d("io_destroy", .fileData, [I], refusal: .always("AIO is refused (io_setup)")),
    d("io_getevents", .fileData, [I, I, I, X, X], refusal: .always("AIO is refused (io_setup)")),
    d("io_pgetevents", .fileData, [I, I, I, X, X, X], refusal: .always("AIO is refused (io_setup)")),
    d("io_submit", .fileData, [I, I, X], refusal: .always("AIO is refused (io_setup)")),
    d("io_cancel", .fileData, [I, X, X], refusal: .always("AIO is refused (io_setup)")),
    d("perf_event_open", .other, [X, .pid, I, F, L],
      refusal: .always("perf_event_open: the kernel writes its mmap ring pages asynchronously")),
    d("bpf", .other, [I, X, I], refusal: .always("bpf: maps can be mapped into memory and changed by the kernel at any time")),
    d("userfaultfd", .memory, [L],
      refusal: .always("userfaultfd: another thread fills the faulting pages, outside any syscall of the reader")),
    d("memfd_secret", .memory, [L], refusal: .always("memfd_secret: the pages are unreadable to the recorder")),
    d("map_shadow_stack", .memory, [X, I, L], refusal: .always("shadow stacks are not emulated by the replayer")),
    d("ptrace", .process, [I, .pid, X, X], refusal: .always("the recorder is the tracer of every recorded task")),
    d("kexec_load", .other, [X, I, X, L], refusal: .always("kexec replaces the running kernel")),
    d("kexec_file_load", .other, [F, F, I, S, L], refusal: .always("kexec replaces the running kernel")),
    d("quotactl", .fileMeta, [I, S, I, X], refusal: .always("quotactl: what it writes depends on the command and filesystem")),
    d("quotactl_fd", .fileMeta, [F, I, I, X], refusal: .always("quotactl: what it writes depends on the command and filesystem")),
    d("syslog", .other, [I, X, I], refusal: .always("syslog: the kernel log buffer is not recorded")),
    d("sysfs", .other, [I, X, X], refusal: .always("sysfs(2) is obsolete and writes a name of unbounded length")),
    notImplemented("uselib"), notImplemented("_sysctl"), notImplemented("create_module"),
    notImplemented("get_kernel_syms"), notImplemented("query_module"), notImplemented("nfsservctl"),
    notImplemented("getpmsg"), notImplemented("putpmsg"), notImplemented("afs_syscall"), notImplemented("tuxcall"),
    notImplemented("security"), notImplemented("set_thread_area"), notImplemented("get_thread_area"),
    notImplemented("lookup_dcookie"), notImplemented("epoll_ctl_old"), notImplemented("epoll_wait_old"),
    notImplemented("vserver"),
]
