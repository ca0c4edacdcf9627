// Turning syscall arguments into the builder's entities: the recorder's `objects`
// (what the kernel resolved: device, inode, path) first, the replayed descriptor table and
// path bookkeeping second, a provisional identity last.

import Trace

extension SyscallEvent {
    func object(_ argument: Int) -> ObjectIdentity? { objects.first { $0.argument == argument } }
    func argument(_ i: Int) -> UInt64 { i < arguments.count ? arguments[i] : 0 }
    func int32(_ i: Int) -> Int32 { Int32(truncatingIfNeeded: argument(i)) }
    func int64(_ i: Int) -> Int64 { Int64(bitPattern: argument(i)) }
    /// errno of a failed call, 0 on success (results in [-4095, -1] are errors).
    var errno: Int32 { result < 0 && result >= -4095 ? Int32(-result) : 0 }
    var succeeded: Bool { errno == 0 }

    /// Bytes the kernel wrote at the address in argument `i` (accept's peer address,
    /// pipe's descriptor pair).
    func written(at i: Int) -> [UInt8]? {
        let address = argument(i)
        guard address != 0 else { return nil }
        return writes.first { $0.address == address }?.bytes
    }

    /// The start of the buffer the task passed in argument `i` (connect's address).
    func input(at i: Int) -> [UInt8]? {
        let address = argument(i)
        guard address != 0 else { return nil }
        return inputs.first { $0.address == address }?.prefix
    }
}

enum FileType {
    static let mask: UInt32 = 0o170000
    static let fifo: UInt32 = 0o010000, character: UInt32 = 0o020000, directory: UInt32 = 0o040000
    static let block: UInt32 = 0o060000, regular: UInt32 = 0o100000, symlink: UInt32 = 0o120000
    static let socket: UInt32 = 0o140000

    static func name(_ mode: UInt32) -> String? {
        switch mode & mask {
        case fifo: return "fifo"
        case character: return "chardev"
        case directory: return "directory"
        case block: return "blockdev"
        case regular: return "regular"
        case symlink: return "symlink"
        case socket: return "socket"
        default: return nil
        }
    }
}

/// Lexically normalizes an absolute path (`.` and `..`, repeated slashes).
func normalize(_ path: String) -> String {
    var parts: [Substring] = []
    for component in path.split(separator: "/", omittingEmptySubsequences: true) {
        if component == "." { continue }
        if component == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
        parts.append(component)
    }
    return "/" + parts.joined(separator: "/")
}

/// "pipe:[123]" -> 123
func bracketedInode(_ resolved: String, prefix: String) -> UInt64? {
    guard resolved.hasPrefix(prefix + ":["), resolved.hasSuffix("]") else { return nil }
    return UInt64(resolved.dropFirst(prefix.count + 2).dropLast())
}

extension BuilderState {
    /// An absolute path for a path argument: the recorder's resolved path when it gave
    /// one, else the requested path against the directory descriptor or working directory.
    func absolutePath(_ call: SyscallEvent, path pathArgument: Int, dirfd: Int?, task: TaskState) -> String {
        if let o = call.object(pathArgument), o.resolved.hasPrefix("/") { return o.resolved }
        let requested = call.object(pathArgument)?.requested ?? ""
        if requested.hasPrefix("/") { return normalize(requested) }
        var base = task.directory
        if let dirfd, call.int32(dirfd) != OpenFlags.atFDCWD,
           let slot = task.descriptors[call.int32(dirfd)], !entities[slot.file.entity].path.isEmpty {
            base = entities[slot.file.entity].path
        }
        if requested.isEmpty { return "" }
        return normalize(base + "/" + requested)
    }

    /// The entity an object identity names; nil for anonymous inodes (eventfd, epoll...),
    /// which share one inode and must be told apart by descriptor.
    func entity(for o: ObjectIdentity, fallbackPath: String) -> Int? {
        if o.resolved.hasPrefix("anon_inode:") { return nil }
        if let inode = bracketedInode(o.resolved, prefix: "pipe") {
            return lookupOrCreate(key: "pipe:\(inode)", kind: .pipe, label: o.resolved)
        }
        if let inode = bracketedInode(o.resolved, prefix: "socket") {
            return lookupOrCreate(key: "socket:\(inode)", kind: .socket, label: o.resolved)
        }
        let path = o.resolved.hasPrefix("/") ? normalize(o.resolved) : fallbackPath
        let kind: NodeKind
        switch o.mode & FileType.mask {
        case FileType.fifo: kind = .pipe
        case FileType.socket: kind = .socket
        default: kind = .file
        }
        guard o.inode != 0 else { return entity(atPath: path) }
        let key = "file:\(o.device):\(o.inode)"
        if let e = entityByKey[key] {
            if !path.isEmpty && entities[e].path != path && !o.resolved.hasSuffix(" (deleted)") {
                // The kernel knows it by another name now (renamed outside the recording,
                // or a hard link): follow it.
                setPath(e, path)
            }
            return e
        }
        // A path known only by name (a failed open, mknod) gets its inode now.
        if !path.isEmpty, let e = entityAtPath[path], entities[e].provisional, entities[e].kind == kind || kind == .file {
            rekey(e, to: key)
            addFileAttributes(e, o)
            return e
        }
        let e = newEntity(key: key, kind: kind, label: path.isEmpty ? "inode \(o.device):\(o.inode)" : path, path: path)
        addFileAttributes(e, o)
        return e
    }

    func addFileAttributes(_ e: Int, _ o: ObjectIdentity) {
        entities[e].attributes["device"] = .int(Int64(bitPattern: o.device))
        entities[e].attributes["inode"] = .int(Int64(bitPattern: o.inode))
        if let type = FileType.name(o.mode) { entities[e].attributes["fileType"] = .string(type) }
    }

    /// The entity at an absolute path, by the builder's bookkeeping, or a provisional one.
    func entity(atPath path: String) -> Int {
        if let e = entityAtPath[path] { return e }
        if let e = entityByKey["path:\(path)"] { return e }
        return newEntity(key: "path:\(path)", kind: .file, label: path.isEmpty ? "(unknown path)" : path,
                         path: path, provisional: true)
    }

    func setPath(_ e: Int, _ path: String) {
        let old = entities[e].path
        if !old.isEmpty && entityAtPath[old] == e { entityAtPath[old] = nil }
        entities[e].path = path
        if entities[e].kind != .socket && entities[e].kind != .process { entities[e].label = path }
        if !path.isEmpty { entityAtPath[path] = e }
    }

    /// The entity a path argument names.
    func entity(_ call: SyscallEvent, path: Int, dirfd: Int?, task: TaskState) -> Int {
        let absolute = absolutePath(call, path: path, dirfd: dirfd, task: task)
        if let o = call.object(path), let e = entity(for: o, fallbackPath: absolute) { return e }
        return entity(atPath: absolute)
    }

    /// The entity a descriptor argument refers to, installing descriptors the trace never
    /// showed being opened (inherited from outside the recording).
    func entity(_ call: SyscallEvent, fd argument: Int, task: TaskState, _ context: EventContext) -> Int {
        let fd = call.int32(argument)
        let slot = task.descriptors[fd]
        if let o = call.object(argument), let real = entity(for: o, fallbackPath: "") {
            if let slot, slot.file.entity != real {
                let known = slot.file.entity
                if entities[known].provisional && entityByKey[realKey(o)] == real && entities[real].nodes.isEmpty {
                    // The placeholder (pipe@SEQ) and the real identity are one object.
                    entityByKey[entities[real].key] = nil
                    rekey(known, to: entities[real].key)
                    if entities[known].kind == .file { addFileAttributes(known, o) }
                    return known
                }
                slot.file.entity = real
            } else if slot == nil {
                task.descriptors[fd] = .init(file: OpenFile(entity: real, flags: 2, offset: nil), closeOnExec: false)
            }
            return real
        }
        if let slot { return slot.file.entity }
        let label = call.object(argument)?.resolved ?? ""
        let e: Int
        if label.hasPrefix("anon_inode:") {
            e = newEntity(key: syntheticKey("anon:\(fd)", context), kind: .other, label: label, provisional: true)
        } else {
            let names = [0: "stdin", 1: "stdout", 2: "stderr"]
            e = lookupOrCreate(key: "inherited-fd:\(fd)", kind: .other,
                               label: "fd \(fd)" + (names[Int(fd)].map { " (\($0))" } ?? "") + " from outside")
        }
        task.descriptors[fd] = .init(file: OpenFile(entity: e, flags: 2, offset: nil), closeOnExec: false)
        return e
    }

    func realKey(_ o: ObjectIdentity) -> String {
        if let i = bracketedInode(o.resolved, prefix: "pipe") { return "pipe:\(i)" }
        if let i = bracketedInode(o.resolved, prefix: "socket") { return "socket:\(i)" }
        return "file:\(o.device):\(o.inode)"
    }

    /// The entity a new descriptor (a syscall's result) refers to.
    func entityForNewDescriptor(_ call: SyscallEvent, kind: NodeKind, label: String, _ context: EventContext,
                                objectIndex: Int = 0) -> Int {
        // The recorder numbers result descriptors -1, -2 (pipe and socketpair give two).
        let results = call.objects.filter { $0.argument < 0 }.sorted { $0.argument > $1.argument }
        if objectIndex < results.count, let e = entity(for: results[objectIndex], fallbackPath: "") { return e }
        let prefix: String
        switch kind {
        case .pipe: prefix = "pipe"
        case .socket: prefix = "socket"
        default: prefix = "anon"
        }
        let shown = objectIndex < results.count ? results[objectIndex].resolved : label
        return newEntity(key: syntheticKey(prefix, context), kind: kind, label: shown, provisional: true)
    }

    func install(_ fd: Int32, entity: Int, flags: Int32, closeOnExec: Bool, task: TaskState) {
        let offset: Int64? = flags & OpenFlags.append != 0 ? nil : 0
        task.descriptors[fd] = .init(file: OpenFile(entity: entity, flags: flags, offset: offset), closeOnExec: closeOnExec)
    }
}
