// Resolves the paths and descriptors a syscall names to the objects the kernel used
// (device, inode, canonical path), through the task's own /proc view: its root, cwd and
// fd table. Doing it in the supervisor while the task is stopped defeats symlink swaps
// done later (time-of-check/time-of-use), and the task cannot forge the answer.

import Glibc
import Syscalls
import Trace

enum ObjectResolver {
    /// Syscalls whose last path argument names an object the call creates or replaces:
    /// it is resolved after the call, when it exists.
    static let createsLastPath: Set<String> = [
        "mkdir", "mkdirat", "mknod", "mknodat", "link", "linkat", "symlink", "symlinkat",
        "rename", "renameat", "renameat2", "creat",
    ]

    static func identity(ofDescriptor fd: Int64, tid: Int32, argument: Int) -> ObjectIdentity? {
        guard fd >= 0, fd < 1 << 31 else { return nil }
        let link = "/proc/\(tid)/fd/\(fd)"
        guard let target = FileIdentity.readLink(link) else { return nil }
        let id = FileIdentity.of(path: link)
        return ObjectIdentity(argument: argument, requested: "", resolved: target,
                              device: id?.device ?? 0, inode: id?.inode ?? 0, mode: id?.mode ?? 0)
    }

    /// The /proc path through which the supervisor sees `path` as the task would.
    static func procPath(for path: String, dirfd: Int64?, tid: Int32) -> String {
        if path.hasPrefix("/proc/") { return "/proc/\(tid)/root\(selfResolved(path, tid: tid))" }
        if path.hasPrefix("/") { return "/proc/\(tid)/root\(path)" }
        if let dirfd, Int32(truncatingIfNeeded: dirfd) != -100 /* AT_FDCWD */ {
            return "/proc/\(tid)/fd/\(Int32(truncatingIfNeeded: dirfd))/\(path)"
        }
        return "/proc/\(tid)/cwd/\(path)"
    }

    /// `/proc/self` and `/proc/thread-self` name the task, not the supervisor that resolves
    /// the path: rewrite them to the task's own pid (proc(5)). Only the leading components
    /// are rewritten; a symlink elsewhere that points at /proc/self is still resolved as the
    /// supervisor sees it.
    static func selfResolved(_ path: String, tid: Int32) -> String {
        for (name, replacement) in [("self", { "\(threadGroupID(of: tid) ?? tid)" }),
                                    ("thread-self", { "\(threadGroupID(of: tid) ?? tid)/task/\(tid)" })] {
            let prefix = "/proc/" + name
            if path == prefix || path.hasPrefix(prefix + "/") {
                return "/proc/" + replacement() + path.dropFirst(prefix.count)
            }
        }
        return path
    }

    static func identity(ofPath path: String, dirfd: Int64?, tid: Int32, argument: Int, followFinalLink: Bool) -> ObjectIdentity {
        if path.isEmpty, let dirfd, var id = identity(ofDescriptor: dirfd, tid: tid, argument: argument) {
            // AT_EMPTY_PATH: the call operates on the descriptor itself.
            id.requested = path
            return id
        }
        let viewed = procPath(for: path, dirfd: dirfd, tid: tid)
        let id = followFinalLink ? FileIdentity.of(path: viewed) : FileIdentity.ofLink(path: viewed)
        var resolved = FileIdentity.realPath(viewed) ?? ""
        if resolved.isEmpty || !followFinalLink {
            // Canonicalize the directory and keep the final component as named (the
            // object may not exist, or may itself be a symlink).
            let slash = viewed.lastIndex(of: "/")!
            let parent = FileIdentity.realPath(String(viewed[..<slash])) ?? String(viewed[..<slash])
            resolved = parent + viewed[slash...]
        }
        return ObjectIdentity(argument: argument, requested: path, resolved: resolved,
                              device: id?.device ?? 0, inode: id?.inode ?? 0, mode: id?.mode ?? 0)
    }

    /// The dirfd argument that qualifies path argument `index` (the argument before it).
    static func dirfd(for index: Int, spec: SyscallSpec, arguments: [UInt64]) -> Int64? {
        guard index > 0, spec.arguments[index - 1] == .dirfd else { return nil }
        return Int64(Int32(truncatingIfNeeded: arguments[index - 1]))
    }

    /// Paths that do not follow a final symlink: the l* calls, namespace operations and
    /// AT_SYMLINK_NOFOLLOW (0x100) on the *at calls.
    static func followsFinalLink(spec: SyscallSpec, arguments: [UInt64]) -> Bool {
        if ["lstat", "lchown", "readlink", "readlinkat", "unlink", "unlinkat", "rmdir", "rename", "renameat",
            "renameat2", "link", "symlink", "symlinkat", "lgetxattr", "llistxattr", "lsetxattr"].contains(spec.name) {
            return false
        }
        if ["newfstatat", "fchownat", "utimensat", "statx"].contains(spec.name),
           let flagsIndex = spec.arguments.lastIndex(of: .flags) {
            return arguments[flagsIndex] & 0x100 == 0
        }
        if spec.name == "linkat" { return arguments[4] & 0x400 != 0 }  // AT_SYMLINK_FOLLOW
        return true
    }
}
