// Resolves the paths and descriptors a syscall names to the objects the kernel used
// (device, inode, canonical path), through the task's own /proc view: its root, cwd and
// fd table. Doing it in the supervisor while the task is stopped defeats symlink swaps
// done later (time-of-check/time-of-use), and the task cannot forge the answer.

import Glibc
import Syscalls
import Trace

enum ObjectResolver {
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
        if resolved.isEmpty, followFinalLink, let target = FileIdentity.readLink(viewed), target.hasSuffix(" (deleted)") {
            // A /proc/PID/fd/N magic link to an unlinked file (an O_TMPFILE): the kernel's
            // name for it, as the descriptor's own identity gives.
            resolved = target
        }
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
}

extension ObjectResolver {
    /// Inputs of an exec beyond the image the kernel maps: a symlink named by the exec path,
    /// and for a script (binfmt_script: a `#!` line) the script's interpreter chain — each
    /// interpreter, and the symlink naming it when it is one — up to the kernel's four
    /// levels of nesting (BINPRM_MAX_RECURSION). Resolved while the task is stopped at the
    /// exec entry; numbered as result-side objects from -100 down.
    static func execInputs(path: String, dirfd: Int64?, tid: Int32) -> [ObjectIdentity] {
        var inputs: [ObjectIdentity] = []
        var argument = -100
        var current = path
        var currentDirfd = dirfd
        for level in 0..<5 {
            let viewed = procPath(for: current, dirfd: currentDirfd, tid: tid)
            if let link = FileIdentity.ofLink(path: viewed), link.mode & 0o170000 == 0o120000 {
                inputs.append(identity(ofPath: current, dirfd: currentDirfd, tid: tid, argument: argument, followFinalLink: false))
                argument -= 1
            }
            if level > 0 {
                inputs.append(identity(ofPath: current, dirfd: currentDirfd, tid: tid, argument: argument, followFinalLink: true))
                argument -= 1
            }
            guard level < 4, let interpreter = scriptInterpreter(atViewedPath: viewed) else { break }
            current = interpreter
            currentDirfd = nil
        }
        return inputs
    }

    /// The interpreter path of a `#!` line (the first word after `#!`, at most 255 bytes as
    /// the kernel reads), or nil when the file is not a script.
    static func scriptInterpreter(atViewedPath viewed: String) -> String? {
        let fd = open(viewed, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 256) }
        guard n > 2, buffer[0] == 0x23, buffer[1] == 0x21 else { return nil }  // "#!"
        let line = buffer[2..<n].prefix { $0 != 0x0a }
        let word = line.drop { $0 == 0x20 || $0 == 0x09 }.prefix { $0 != 0x20 && $0 != 0x09 && $0 != 0 }
        return word.isEmpty ? nil : String(decoding: word, as: UTF8.self)
    }
}
