// `record --json FILE`: the file is opened before the command starts, so a path that
// cannot be written fails at once instead of after a recording that would then be lost.

import Glibc
import SystemPackage

/// An output file opened up front and written once at the end.
struct SummaryFile {
    let path: String
    private let descriptor: FileDescriptor
    /// Whether this run created the file (so `discard` removes it again).
    private let created: Bool

    /// Opens `path` for writing (creating it, mode 0666 less the umask, as a shell
    /// redirection does) without truncating an existing file yet.
    /// - Throws: `CLIError.cannotWrite` naming the path and the errno text.
    init(path: String) throws {
        self.path = path
        let permissions: FilePermissions = [.ownerReadWrite, .groupReadWrite, .otherReadWrite]
        do {
            do {
                descriptor = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec],
                                                     permissions: permissions)
                created = true
            } catch Errno.fileExists {
                descriptor = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.closeOnExec])
                created = false
            }
        } catch let error as Errno {
            throw CLIError.cannotWrite(path: path, reason: error.description)
        }
    }

    /// Replaces the file's contents with `bytes` and closes it.
    /// - Throws: `CLIError.cannotWrite`.
    func replaceContents(with bytes: some Sequence<UInt8>) throws {
        do {
            try descriptor.closeAfter {
                try descriptor.resize(to: 0)
                _ = try descriptor.writeAll(toAbsoluteOffset: 0, bytes)
            }
        } catch let error as Errno {
            throw CLIError.cannotWrite(path: path, reason: error.description)
        }
    }

    /// Closes the file and removes it if this run created it (the run failed).
    func discard() {
        try? descriptor.close()
        if created { _ = unlink(path) }
    }
}
