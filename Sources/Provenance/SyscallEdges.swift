// One handler per syscall family: what each call does to the graph and to the replayed
// process state (descriptor tables, working directory, user id, socket pairing).

import Trace
import Syscalls

/// The builder's per-syscall dispatch reads the graph role from the syscall table.
typealias SyscallFamily = GraphRole

extension GraphRole {
    static func of(_ number: Int) -> GraphRole { SyscallTable.graphRole(number) }
}

extension BuilderState {
    func syscall(_ call: SyscallEvent, task: TaskState, _ context: EventContext) {
        let name = SyscallTable.name(call.number)
        switch SyscallFamily.of(call.number) {
        case .read: read(call, name, task, context)
        case .write: write(call, name, task, context)
        case .transfer: transfer(call, name, task, context)
        case .open: open(call, name, task, context)
        case .close:
            let fd = call.int32(0)
            guard task.descriptors[fd] != nil || call.object(0) != nil else {
                if !call.succeeded { failureWithoutObject(task, name, call.errno, context) }
                return
            }
            let e = entity(call, fd: 0, task: task, context)
            if call.succeeded {
                annotate(from: task.entity, to: e, name, context)
                task.descriptors.close(fd)
            } else {
                failure(from: task.entity, to: e, name, call.errno, context)
            }
        case .closeRange: closeRange(call, task, context)
        case .dup, .fcntl: duplicate(call, name, task, context)
        case .pipe, .socketpair: pipe(call, name, task, context)
        case .socket:
            guard call.succeeded else { return failureWithoutObject(task, name, call.errno, context) }
            let e = entityForNewDescriptor(call, kind: .socket, label: "socket", context)
            entities[e].attributes["domain"] = .string(socketDomain(call.int32(0)))
            flow(from: task.entity, to: e, name, context)
            let closeOnExec = call.int32(1) & OpenFlags.closeOnExec != 0
            install(Int32(truncatingIfNeeded: call.result), entity: e, flags: 2, closeOnExec: closeOnExec, task: task)
        case .bind, .connect: bindOrConnect(call, name, task, context)
        case .accept: accept(call, name, task, context)
        case .sockname, .peername:
            guard call.succeeded, let bytes = call.written(at: 1), let address = SocketAddress.describe(bytes) else { return }
            let e = entity(call, fd: 0, task: task, context)
            let isLocal = SyscallFamily.of(call.number) == .sockname
            setSocketAddress(e, local: isLocal ? address : nil, remote: isLocal ? nil : address)
            if isLocal && listeners[e] != nil { listeners[e] = address }
        case .mmap: mmap(call, name, task, context)
        case .execve: execveExit(call, name, task, context)
        case .wait:
            guard call.result > 0 else { return }
            let child = Int32(truncatingIfNeeded: call.result)
            if let e = processByPID[child] {
                flow(from: e, to: task.entity, name, context,
                     attributes: exitStatusEvent[e].map { ["exitEvent": .int(Int64($0))] } ?? [:])
            }
        case .kill: kill(call, name, task, context)
        case .processVMWrite, .processVMRead:
            let target = processEntity(pid: call.int32(0), context)
            guard call.succeeded else { return failure(from: task.entity, to: target, name, call.errno, context) }
            if SyscallFamily.of(call.number) == .processVMWrite {
                flow(from: task.entity, to: target, name, context, bytes: call.result)
            } else {
                flow(from: target, to: task.entity, name, context, bytes: call.result)
            }
        case .truncate, .chmod, .chown: changeAttributes(call, name, task, context)
        case .rename: rename(call, name, task, context)
        case .link: link(call, name, task, context)
        case .symlink, .mkdir, .mknod: create(call, name, task, context)
        case .unlink: unlink(call, name, task, context)
        case .chdir:
            guard call.succeeded else { return }
            let path = absolutePath(call, path: 0, dirfd: nil, task: task)
            if !path.isEmpty { setDirectory(task, path) }
        case .fchdir:
            guard call.succeeded else { return }
            let e = entity(call, fd: 0, task: task, context)
            if !entities[e].path.isEmpty { setDirectory(task, entities[e].path) }
        case .getdents:
            let e = entity(call, fd: 0, task: task, context)
            if call.succeeded {
                let edge = flow(from: e, to: task.entity, name, context, bytes: call.result)
                if call.result > 0 {
                    place(edge, .metadataIn, stream: e, offset: nil, length: call.result, context, operation: name)
                }
            } else {
                failure(from: e, to: task.entity, name, call.errno, context)
            }
        case .setuid, .setgid: identity(call, name, task, context)
        case .seek: seek(call, task)
        case .stat: stat(call, name, task, context)
        case .newDescriptor:
            guard call.succeeded else { return }
            let e = entityForNewDescriptor(call, kind: .other, label: name, context)
            let flagsArgument = name == "memfd_create" || name == "signalfd4" || name == "eventfd2" ? 1 : 0
            let flags = call.int32(flagsArgument)
            let closeOnExec = name == "memfd_create" ? flags & 1 != 0 : flags & OpenFlags.closeOnExec != 0
            install(Int32(truncatingIfNeeded: call.result), entity: e, flags: 2, closeOnExec: closeOnExec, task: task)
        case .xattrSet, .xattrGet: extendedAttribute(call, name, task, context)
        case .messageQueue, .messageSend, .messageReceive: message(call, name, task, context)
        case .unmap, .protect, .remap, .syncMapping: mappingChange(call, name, task, context)
        case .sharedMemoryGet, .sharedMemoryAttach, .sharedMemoryDetach: sysVSharedMemory(call, name, task, context)
        case .ignored:
            break
        }
    }

    /// Extended attributes carry bytes like file content does: set*xattr* is a flow from the
    /// process into the file, get*xattr* from the file into the process.
    func extendedAttribute(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        let arguments = SyscallTable.spec(call.number).arguments
        let e: Int
        switch arguments.first {
        case .fd?: e = entity(call, fd: 0, task: task, context)
        case .dirfd?: e = entity(call, path: 1, dirfd: 0, task: task)
        default: e = entity(call, path: 0, dirfd: nil, task: task)
        }
        let setting = SyscallFamily.of(call.number) == .xattrSet
        guard call.succeeded else {
            return setting ? failure(from: task.entity, to: e, name, call.errno, context)
                           : failure(from: e, to: task.entity, name, call.errno, context)
        }
        // Placed with no offset (an attribute value is no range of the file's content), so
        // refinement can match the replay's sink and source bytes to these events.
        if setting {
            let size = arguments.count > 3 && arguments[2] == .inBuffer(size: .argument(3)) ? call.int64(3) : 0
            let edge = flow(from: task.entity, to: e, name, context, bytes: size, newVersion: true)
            place(edge, .contentOut, stream: e, offset: nil, length: size, context, operation: name)
        } else {
            let edge = flow(from: e, to: task.entity, name, context, bytes: call.result)
            if call.result > 0 { place(edge, .contentIn, stream: e, offset: nil, length: call.result, context, operation: name) }
        }
    }

    /// Message queues: a SysV queue is named by the id msgget returned (system-wide), a POSIX
    /// queue by its descriptor. A sent message flows into the queue; a received one out of it.
    func message(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        let role = SyscallFamily.of(call.number)
        let sysV = name.hasPrefix("msg")
        if role == .messageQueue {
            guard call.succeeded else { return failureWithoutObject(task, name, call.errno, context) }
            let q = sysVQueue(Int64(call.result))
            annotate(from: task.entity, to: q, name, context)
            return
        }
        let q = sysV ? sysVQueue(call.int64(0)) : entity(call, fd: 0, task: task, context)
        let sending = role == .messageSend
        guard call.succeeded else {
            return sending ? failure(from: task.entity, to: q, name, call.errno, context)
                           : failure(from: q, to: task.entity, name, call.errno, context)
        }
        // A queue is a channel like a pipe: a receive recorded before the send that filled it
        // (the receiver woke first) waits until the send is in the graph.
        // A queue is one byte stream, like a pipe, while it delivers in the order it was
        // filled: a POSIX queue whose messages all have one priority, a SysV queue read with
        // msgtyp 0 and no MSG_NOERROR (which would cut a message short) or MSG_EXCEPT.
        // Otherwise the stream's positions are lost and only whole events compose.
        if sending {
            let bytes = call.int64(2)
            if !sysV {
                let priority = call.int64(3)
                if let first = queuePriority[q], first != priority { lostStreams.insert(q) }
                queuePriority[q] = priority
            }
            let (stream, offset) = advance(stream: q, in: &streamWritten, by: bytes)
            let edge = flow(from: task.entity, to: q, name, context, bytes: bytes)
            place(edge, .contentOut, stream: stream, offset: offset, length: bytes, context, operation: name)
            channelWritten[q, default: 0] += bytes
            flushPendingReads(from: q)
            return
        }
        if sysV && (call.int64(3) != 0 || call.int64(4) & 0o30000 != 0) { lostStreams.insert(q) }
        let (stream, offset) = advance(stream: q, in: &streamRead, by: call.result)
        let read = channelRead[q, default: 0] + call.result
        channelRead[q] = read
        if read > channelWritten[q, default: 0] {
            pendingReads[task.entity, default: []].append(PendingRead(
                source: q, reader: task.entity, operation: name, bytes: call.result, context: context,
                stream: stream, streamOffset: offset, unit: unit(of: task.tid)))
            return
        }
        let edge = flow(from: q, to: task.entity, name, context, bytes: call.result)
        if call.result > 0 { place(edge, .contentIn, stream: stream, offset: offset, length: call.result, context, operation: name) }
    }

    func sysVQueue(_ id: Int64) -> Int {
        lookupOrCreate(key: "sysv-msg:\(id)", kind: .other, label: "SysV message queue \(id)")
    }

    // MARK: Data

    /// What a read on this entity receives: the peer's data on a connected socket.
    func readSource(_ e: Int) -> Int { entities[e].peer ?? e }

    func read(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        let fd = call.int32(0)
        let e = entity(call, fd: 0, task: task, context)
        let source = readSource(e)
        guard call.succeeded else { return failure(from: source, to: task.entity, name, call.errno, context) }
        let positional = name == "pread64" || name == "preadv" || name == "preadv2" && call.int64(3) != -1
        let file = task.descriptors[fd]?.file
        let offset: Int64? = positional ? call.int64(3) : file?.offset
        if !positional, let file, let o = file.offset { file.offset = o + call.result }
        // recvmmsg returns a message count, not bytes: the stream position is lost.
        let countsMessages = name == "recvmmsg"
        let (stream, streamOffset) = inputCoordinates(e, fileOffset: offset, bytes: countsMessages ? nil : call.result)
        let unit = unit(of: task.tid)
        if isChannel(source) && call.result > 0 {
            let read = channelRead[source, default: 0] + call.result
            channelRead[source] = read
            if read > channelWritten[source, default: 0] {
                pendingReads[task.entity, default: []].append(PendingRead(source: source, reader: task.entity, operation: name,
                                                                       bytes: call.result, context: context, stream: stream,
                                                                       streamOffset: streamOffset, unit: unit))
                return
            }
        }
        if call.result > 0, let target = memoryFileTarget(entities[e].path, task, context), target != task.entity {
            // Another process's memory, read through /proc/PID/mem.
            flow(from: target, to: task.entity, name, context, bytes: call.result, attributes: ["via": .string("/proc/PID/mem")])
        }
        let edge = flow(from: source, to: task.entity, name, context, bytes: call.result,
                        offset: entities[e].kind == .file ? offset : nil)
        if call.result > 0 {
            place(edge, .contentIn, stream: stream, offset: streamOffset, length: countsMessages ? 0 : call.result, context,
                  operation: name, unit: unit)
        }
        if name == "recvfrom", let bytes = call.written(at: 4), let from = SocketAddress.describe(bytes),
           entities[e].attributes["remote"] == nil {
            setSocketAddress(e, local: nil, remote: from)
        }
    }

    func write(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        // vmsplice on a pipe's read end takes bytes out of the pipe (the recorder saw the
        // kernel write the iovecs).
        if SyscallTable.spec(call.number).sinkActedAsSource(writes: call.writes.count) { return read(call, name, task, context) }
        let fd = call.int32(0)
        let e = entity(call, fd: 0, task: task, context)
        guard call.succeeded else { return failure(from: task.entity, to: e, name, call.errno, context) }
        let positional = name == "pwrite64" || name == "pwritev" || name == "pwritev2" && call.int64(3) != -1
        let file = task.descriptors[fd]?.file
        let appending = !positional && (file?.flags ?? 0) & OpenFlags.append != 0
        // O_APPEND writes land at the end: known when the file's size is.
        let offset: Int64? = positional ? call.int64(3) : appending ? fileSize[e] : file?.offset
        if appending, let file { file.offset = offset.map { $0 + call.result } }
        else if !positional, let file, let o = file.offset { file.offset = o + call.result }
        if name == "sendto", let bytes = call.input(at: 4), let to = SocketAddress.describe(bytes),
           entities[e].attributes["remote"] == nil {
            setSocketAddress(e, local: nil, remote: to)
        }
        let countsMessages = name == "sendmmsg"
        let (stream, streamOffset) = outputCoordinates(e, fileOffset: offset, bytes: countsMessages ? nil : call.result)
        let edge = flow(from: task.entity, to: e, name, context, bytes: call.result,
                        offset: entities[e].kind == .file ? offset : nil)
        if call.result > 0 {
            place(edge, .contentOut, stream: stream, offset: streamOffset, length: countsMessages ? 0 : call.result, context,
                  operation: name)
        }
        if isChannel(e) {
            channelWritten[e, default: 0] += call.result
            flushPendingReads(from: e)
        }
        if call.result > 0, let target = memoryFileTarget(entities[e].path, task, context) {
            memoryFileWrite(into: target, address: countsMessages ? nil : offset, length: call.result, name, task, context)
        }
    }

    // MARK: Event coordinates

    /// The stream of what an outside peer sent to entity `e` (see EventPlacement.swift).
    func receivedStream(_ e: Int) -> Int { -1 - e }

    /// Where the bytes a read of entity `e` delivered lie: a file offset, or a position
    /// in the stream its writers filled. Advances the stream. `bytes` nil: unknown count.
    func inputCoordinates(_ e: Int, fileOffset: Int64?, bytes: Int64?) -> (stream: Int, offset: Int64?) {
        switch entities[e].kind {
        case .file:
            return (e, fileOffset)
        case .pipe:
            return advance(stream: e, in: &streamRead, by: bytes)
        case .socket where entities[e].peer != nil:
            return advance(stream: entities[e].peer ?? e, in: &streamRead, by: bytes)
        default:
            return advance(stream: receivedStream(e), in: &streamRead, by: bytes)
        }
    }

    /// Where the bytes a write into entity `e` landed. Advances the stream.
    func outputCoordinates(_ e: Int, fileOffset: Int64?, bytes: Int64?) -> (stream: Int, offset: Int64?) {
        guard entities[e].kind == .file else { return advance(stream: e, in: &streamWritten, by: bytes) }
        if let offset = fileOffset, let n = bytes {
            if let size = fileSize[e] { fileSize[e] = max(size, offset + n) }
        } else {
            fileSize[e] = nil
        }
        return (e, fileOffset)
    }

    func advance(stream: Int, in positions: inout [Int: Int64], by bytes: Int64?) -> (stream: Int, offset: Int64?) {
        guard let bytes, !lostStreams.contains(stream) else {
            lostStreams.insert(stream)
            return (stream, nil)
        }
        let at = positions[stream, default: 0]
        positions[stream] = at + max(bytes, 0)
        return (stream, at)
    }

    /// The offset a kernel copy used for one side: the value it wrote back through the
    /// offset pointer (minus the bytes copied), else the descriptor's position, which it
    /// advances.
    func copyOffset(_ call: SyscallEvent, pointer: Int?, fd: Int32, task: TaskState, advance: Bool = true) -> Int64? {
        if let pointer, call.argument(pointer) != 0 {
            guard let bytes = call.written(at: pointer), bytes.count >= 8 else { return nil }
            let end = bytes.prefix(8).enumerated().reduce(Int64(0)) { $0 | Int64($1.element) << (8 * Int64($1.offset)) }
            return end - call.result
        }
        guard let file = task.descriptors[fd]?.file, let o = file.offset else { return nil }
        if advance { file.offset = o + call.result }
        return o
    }

    /// lseek: the descriptor's new position is the result; SEEK_END also tells the size.
    func seek(_ call: SyscallEvent, _ task: TaskState) {
        guard call.succeeded, let file = task.descriptors[call.int32(0)]?.file else { return }
        file.offset = call.result
        if call.int32(2) == 2 && entities[file.entity].kind == .file { fileSize[file.entity] = call.result - call.int64(1) }
    }

    /// stat family: a metadata source on the object (when it is already in the graph),
    /// and the size of a regular file.
    func stat(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        guard call.succeeded else { return }
        let e: Int?
        let buffer: Int, sizeOffset: Int, modeOffset: Int, modeBytes: Int
        switch name {
        case "fstat":
            e = task.descriptors[call.int32(0)]?.file.entity; buffer = 1
        case "stat", "lstat":
            e = call.object(0).flatMap { knownEntity($0) }; buffer = 1
        case "statx":
            e = call.object(1).flatMap { knownEntity($0) } ?? task.descriptors[call.int32(0)]?.file.entity; buffer = 4
        default: // newfstatat; AT_EMPTY_PATH names the descriptor itself
            e = call.object(1).flatMap { knownEntity($0) } ?? task.descriptors[call.int32(0)]?.file.entity; buffer = 2
        }
        if name == "statx" { (sizeOffset, modeOffset, modeBytes) = (40, 28, 2) } else { (sizeOffset, modeOffset, modeBytes) = (48, 24, 4) }
        guard let e else { return }
        if let bytes = call.written(at: buffer), bytes.count >= sizeOffset + 8 {
            func little(_ at: Int, _ count: Int) -> Int64 {
                (0..<count).reduce(Int64(0)) { $0 | Int64(bytes[at + $1]) << (8 * Int64($1)) }
            }
            if entities[e].kind == .file && UInt32(little(modeOffset, modeBytes)) & FileType.mask == FileType.regular {
                fileSize[e] = little(sizeOffset, 8)
            }
        }
        guard let object = entities[e].current, let process = entities[task.entity].current else { return }
        placements.append(EventPlacement(sequence: context.sequence, tid: context.tid, unit: unit(of: task.tid),
                                         process: process, object: object, role: .metadataIn, stream: e, offset: nil,
                                         length: name == "statx" ? 256 : 144, operation: name))
    }

    /// The entity an identity names, if the builder has one (never creates one).
    func knownEntity(_ o: ObjectIdentity) -> Int? {
        guard o.inode != 0 else { return nil }
        if let e = entityByKey[realKey(o)] { return e }
        return o.resolved.hasPrefix("/") ? entityAtPath[normalize(o.resolved)] : nil
    }

    /// Pipes made in the recording and socket ends whose peer is in it: their writers are
    /// recorded, so a read can wait for the write it returned.
    func isChannel(_ e: Int) -> Bool {
        switch entities[e].kind {
        case .pipe: return !entities[e].key.hasPrefix("inherited")
        case .socket: return entities[e].peer != nil
        default: return false
        }
    }

    /// sendfile(out, in), splice(in, _, out), tee(in, out), copy_file_range(in, _, out).
    func transfer(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        let (inArgument, outArgument): (Int, Int)
        let (inPointer, outPointer): (Int?, Int?)
        switch name {
        case "sendfile": (inArgument, outArgument, inPointer, outPointer) = (1, 0, 2, nil)
        case "tee": (inArgument, outArgument, inPointer, outPointer) = (0, 1, nil, nil)
        default: (inArgument, outArgument, inPointer, outPointer) = (0, 2, 1, 3)
        }
        let inEntity = entity(call, fd: inArgument, task: task, context)
        let input = readSource(inEntity)
        let output = entity(call, fd: outArgument, task: task, context)
        guard call.succeeded else {
            failure(from: input, to: task.entity, name, call.errno, context)
            return failure(from: task.entity, to: output, name, call.errno, context)
        }
        let inOffset = entities[inEntity].kind == .file
            ? copyOffset(call, pointer: inPointer, fd: call.int32(inArgument), task: task) : nil
        let outOffset = entities[output].kind == .file
            ? copyOffset(call, pointer: outPointer, fd: call.int32(outArgument), task: task) : nil
        let inCoordinates: (stream: Int, offset: Int64?)
        if name == "tee" {
            // tee duplicates pipe data without consuming it.
            let stream = entities[inEntity].kind == .pipe ? inEntity : receivedStream(inEntity)
            inCoordinates = (stream, lostStreams.contains(stream) ? nil : streamRead[stream, default: 0])
        } else {
            inCoordinates = inputCoordinates(inEntity, fileOffset: inOffset, bytes: call.result)
        }
        let outCoordinates = outputCoordinates(output, fileOffset: outOffset, bytes: call.result)
        let inEdge = flow(from: input, to: task.entity, name, context, bytes: call.result)
        let outEdge = flow(from: task.entity, to: output, name, context, bytes: call.result)
        if call.result > 0 {
            place(inEdge, .copyIn, stream: inCoordinates.stream, offset: inCoordinates.offset, length: call.result, context,
                  operation: name)
            place(outEdge, .copyOut, stream: outCoordinates.stream, offset: outCoordinates.offset, length: call.result,
                  context, operation: name)
        }
    }

    func mmap(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        let flags = call.int32(3), prot = call.int32(2), fd = call.int32(4)
        let anonymous = flags & 0x20 != 0
        let shared = flags & 0x3 == 0x1 || flags & 0x3 == 0x3
        if anonymous {
            if shared && call.succeeded { anonymousSharedMapping(call, task, context) }
            return
        }
        guard fd >= 0 else { return }
        let e: Int
        if let m = call.mapped, m.inode != 0 {
            let o = ObjectIdentity(argument: 4, requested: "", resolved: m.path, device: m.device, inode: m.inode,
                                   mode: FileType.regular)
            e = entity(for: o, fallbackPath: "") ?? entity(call, fd: 4, task: task, context)
        } else {
            e = entity(call, fd: 4, task: task, context)
        }
        let length = call.int64(1), offset = call.int64(5)
        guard call.succeeded else { return failure(from: e, to: task.entity, name, call.errno, context) }
        if prot & 0x5 != 0 || prot == 0 {
            let edge = flow(from: e, to: task.entity, name, context, bytes: length, offset: offset,
                            attributes: ["prot": .int(Int64(prot))])
            // Event coordinates of a mapping: its pages from the mapping's file offset.
            place(edge, .mapIn, stream: e, offset: offset, length: length, context, operation: name)
        }
        guard shared else { return }
        if prot & 0x2 != 0 {
            let edge = flow(from: task.entity, to: e, name, context, bytes: length, offset: offset,
                            attributes: ["sharedWritable": .bool(true)])
            place(edge, .mapOut, stream: e, offset: offset, length: length, context, operation: name)
        }
        // Open until munmap, exec or exit (SharedMemory.swift); what the call's own edges
        // carried counts as stored and loaded.
        let start = UInt64(bitPattern: call.result)
        addSharedMapping(task.entity, SharedMapping(start: start, end: start &+ UInt64(max(length, 0)), object: e,
                                                    offset: offset, prot: prot), context)
        if prot & 0x2 != 0, let n = entities[task.entity].current { sharedStores[Pair(source: task.entity, target: e)] = n }
        if prot & 0x5 != 0 || prot == 0, let n = entities[e].current { sharedLoads[Pair(source: e, target: task.entity)] = n }
    }

    // MARK: Descriptors

    func open(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        let (pathArgument, dirfd): (Int, Int?) = name == "openat" || name == "openat2" ? (1, 0) : (0, nil)
        var flags: Int32
        switch name {
        case "creat": flags = OpenFlags.create | OpenFlags.truncate | 1
        case "open": flags = call.int32(1)
        case "openat": flags = call.int32(2)
        default: // openat2: struct open_how { u64 flags; u64 mode; u64 resolve }
            flags = call.input(at: 2).map { $0.count >= 4 ? Int32($0[0]) | Int32($0[1]) << 8 | Int32($0[2]) << 16 | Int32($0[3]) << 24 : 0 } ?? 0
        }
        let absolute = absolutePath(call, path: pathArgument, dirfd: dirfd, task: task)
        let pathObject = call.object(pathArgument)
        guard call.succeeded else {
            let e = entity(call, path: pathArgument, dirfd: dirfd, task: task)
            return failure(from: e, to: task.entity, name, call.errno, context,
                           attributes: ["flags": .string(openFlagsText(flags))])
        }
        let wasKnown: Bool
        let e: Int
        if let result = call.object(-1), let real = entity(for: result, fallbackPath: absolute) {
            wasKnown = !entities[real].nodes.isEmpty
            e = real
        } else {
            let before = entities.count
            e = entity(call, path: pathArgument, dirfd: dirfd, task: task)
            wasKnown = e < before && !entities[e].nodes.isEmpty
        }
        if entities[e].path.isEmpty && !absolute.isEmpty { setPath(e, absolute) }
        let writes = flags & OpenFlags.accessMode != OpenFlags.readOnly
        let created = flags & OpenFlags.create != 0
            && (flags & OpenFlags.exclusive != 0 || (pathObject.map { $0.inode == 0 } ?? !wasKnown))
        let truncated = writes && flags & OpenFlags.truncate != 0
        let attributes: [String: AttributeValue] = ["flags": .string(openFlagsText(flags))]
        if created || truncated {
            var a = attributes
            if created { a["created"] = .bool(true) }
            if truncated { a["truncated"] = .bool(true) }
            let edge = flow(from: task.entity, to: e, name, context, newVersion: wasKnown, fresh: true, attributes: a)
            if entities[e].kind == .file {
                fileSize[e] = 0
                place(edge, .reset, stream: e, offset: 0, length: 0, context, operation: name)
            }
        } else {
            flow(from: e, to: task.entity, name, context, attributes: attributes)
        }
        install(Int32(truncatingIfNeeded: call.result), entity: e, flags: flags,
                closeOnExec: flags & OpenFlags.closeOnExec != 0, task: task)
    }

    func openFlagsText(_ flags: Int32) -> String {
        var parts = [["O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"][Int(flags & 3)]]
        let named: [(Int32, String)] = [(OpenFlags.create, "O_CREAT"), (OpenFlags.exclusive, "O_EXCL"),
                                        (OpenFlags.truncate, "O_TRUNC"), (OpenFlags.append, "O_APPEND"),
                                        (OpenFlags.closeOnExec, "O_CLOEXEC"), (0o200000, "O_DIRECTORY")]
        for (bit, text) in named where flags & bit != 0 { parts.append(text) }
        return parts.joined(separator: "|")
    }

    func closeRange(_ call: SyscallEvent, _ task: TaskState, _ context: EventContext) {
        guard call.succeeded else { return }
        let first = Int32(truncatingIfNeeded: min(call.argument(0), UInt64(Int32.max)))
        let last = Int32(truncatingIfNeeded: min(call.argument(1), UInt64(Int32.max)))
        let setCloseOnExec = call.int32(2) & 4 != 0
        for fd in task.descriptors.numbers(in: first, last) {
            guard var slot = task.descriptors[fd] else { continue }
            if setCloseOnExec {
                slot.closeOnExec = true
                task.descriptors[fd] = slot
            } else {
                annotate(from: task.entity, to: slot.file.entity, "close_range", context)
                task.descriptors.close(fd)
            }
        }
    }

    /// dup, dup2, dup3 and the fcntl commands that change the table.
    func duplicate(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        let old = call.int32(0)
        if name == "fcntl" {
            let command = call.int32(1)
            switch command {
            case FcntlCommand.setFD:
                if call.succeeded, var slot = task.descriptors[old] {
                    slot.closeOnExec = call.int32(2) & 1 != 0
                    task.descriptors[old] = slot
                }
                return
            case FcntlCommand.setFL:
                if call.succeeded, let slot = task.descriptors[old] {
                    let append = call.int32(2) & OpenFlags.append
                    slot.file.flags = slot.file.flags & ~OpenFlags.append | append
                    if append != 0 { slot.file.offset = nil }
                }
                return
            case FcntlCommand.dupFD, FcntlCommand.dupFDCloseOnExec:
                break
            default:
                return
            }
        }
        guard task.descriptors[old] != nil || call.object(0) != nil else {
            if !call.succeeded { failureWithoutObject(task, name, call.errno, context) }
            return
        }
        let e = entity(call, fd: 0, task: task, context)
        guard call.succeeded, let slot = task.descriptors[old] else {
            return failure(from: task.entity, to: e, name, call.errno, context)
        }
        let new = Int32(truncatingIfNeeded: call.result)
        if new == old { return }
        let closeOnExec: Bool
        switch name {
        case "dup3": closeOnExec = call.int32(2) & OpenFlags.closeOnExec != 0
        case "fcntl": closeOnExec = call.int32(1) == FcntlCommand.dupFDCloseOnExec
        default: closeOnExec = false
        }
        task.descriptors[new] = .init(file: slot.file, closeOnExec: closeOnExec)
        annotate(from: task.entity, to: e, name, context)
    }

    func pipe(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        let isPair = name == "socketpair"
        guard call.succeeded else { return failureWithoutObject(task, name, call.errno, context) }
        guard let bytes = call.written(at: isPair ? 3 : 0), bytes.count >= 8 else { return }
        let fds = [0, 4].map { i in Int32(bytes[i]) | Int32(bytes[i + 1]) << 8 | Int32(bytes[i + 2]) << 16 | Int32(bytes[i + 3]) << 24 }
        let flags = call.int32(isPair ? 1 : 1)
        let closeOnExec = name != "pipe" && flags & OpenFlags.closeOnExec != 0
        if isPair {
            let a = entityForNewDescriptor(call, kind: .socket, label: "socketpair", context, objectIndex: 0)
            let b = entityForNewDescriptor(call, kind: .socket, label: "socketpair", context, objectIndex: 1)
            entities[a].peer = b
            entities[b].peer = a
            flow(from: task.entity, to: a, name, context, fresh: true)
            flow(from: task.entity, to: b, name, context, fresh: true)
            install(fds[0], entity: a, flags: 2, closeOnExec: closeOnExec, task: task)
            install(fds[1], entity: b, flags: 2, closeOnExec: closeOnExec, task: task)
        } else {
            let p = entityForNewDescriptor(call, kind: .pipe, label: "pipe", context, objectIndex: 0)
            flow(from: task.entity, to: p, name, context, fresh: true)
            install(fds[0], entity: p, flags: 0, closeOnExec: closeOnExec, task: task)
            install(fds[1], entity: p, flags: 1, closeOnExec: closeOnExec, task: task)
        }
    }

    // MARK: Sockets

    func socketDomain(_ domain: Int32) -> String {
        switch domain {
        case 1: return "unix"
        case 2: return "inet"
        case 10: return "inet6"
        case 16: return "netlink"
        default: return "domain \(domain)"
        }
    }

    func setSocketAddress(_ e: Int, local: String?, remote: String?) {
        if let local { entities[e].attributes["local"] = .string(local) }
        if let remote { entities[e].attributes["remote"] = .string(remote) }
        let a = entities[e].attributes
        let l = a["local"]?.stringValue, r = a["remote"]?.stringValue
        switch (l, r) {
        case let (l?, r?): entities[e].label = "\(l) -> \(r)"
        case let (l?, nil): entities[e].label = l
        case let (nil, r?): entities[e].label = "-> \(r)"
        default: break
        }
        refreshNode(e)
    }

    func bindOrConnect(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        let e = entity(call, fd: 0, task: task, context)
        let address = call.input(at: 1).flatMap(SocketAddress.describe)
        let attributes: [String: AttributeValue] = address.map { ["address": .string($0)] } ?? [:]
        let inProgress = call.errno == 115  // EINPROGRESS: a non-blocking connect under way
        guard call.succeeded || (name == "connect" && inProgress) else {
            return failure(from: task.entity, to: e, name, call.errno, context, attributes: attributes)
        }
        if name == "bind" {
            flow(from: task.entity, to: e, name, context, attributes: attributes)
            if let address { setSocketAddress(e, local: address, remote: nil); listeners[e] = address }
        } else {
            flow(from: task.entity, to: e, name, context, attributes: attributes)
            if let address {
                setSocketAddress(e, local: nil, remote: address)
                if let i = pendingAccepts.firstIndex(where: { SocketAddress.reaches(address, bound: $0.address) }) {
                    // The accept that took this connect was recorded first.
                    let server = pendingAccepts.remove(at: i).socket
                    entities[e].peer = server
                    entities[server].peer = e
                } else {
                    pendingConnects.append((e, address))
                }
            }
        }
    }

    func accept(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        let listener = entity(call, fd: 0, task: task, context)
        guard call.succeeded else { return failure(from: listener, to: task.entity, name, call.errno, context) }
        let e = entityForNewDescriptor(call, kind: .socket, label: "accepted socket", context)
        let peerAddress = call.written(at: 1).flatMap(SocketAddress.describe)
        let local = listeners[listener] ?? entities[listener].attributes["local"]?.stringValue
        // The connect this accept took: the oldest pending one aimed at the listener's address.
        var client: Int?
        if let local, let i = pendingConnects.firstIndex(where: { SocketAddress.reaches($0.address, bound: local) }) {
            client = pendingConnects[i].socket
            pendingConnects.remove(at: i)
        } else if let local {
            pendingAccepts.append((e, local))
        }
        setSocketAddress(e, local: local, remote: peerAddress)
        if let client {
            entities[e].peer = client
            entities[client].peer = e
            if let peerAddress, entities[client].attributes["local"] == nil {
                setSocketAddress(client, local: peerAddress, remote: nil)
            }
        }
        var attributes: [String: AttributeValue] = [:]
        if let peerAddress { attributes["peer"] = .string(peerAddress) }
        // From the listener: the connect may be recorded only after this accept, and the
        // data that crosses later comes from the client's end (see `readSource`).
        flow(from: listener, to: task.entity, name, context, attributes: attributes)
        let flags = name == "accept4" ? call.int32(3) : 0
        install(Int32(truncatingIfNeeded: call.result), entity: e, flags: 2,
                closeOnExec: flags & OpenFlags.closeOnExec != 0, task: task)
    }

    // MARK: Processes

    func processEntity(pid: Int32, _ context: EventContext) -> Int {
        if let e = processByPID[pid] { return e }
        return lookupOrCreate(key: "process:external:\(pid)", kind: .process,
                              label: "pid \(pid) (outside the recording)", attributes: ["pid": .int(Int64(pid))])
    }

    func kill(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        let target: Int
        let signal: Int32
        switch name {
        case "tgkill", "rt_tgsigqueueinfo":
            signal = call.int32(2)
            target = taskEntityByTID[call.int32(1)] ?? processEntity(pid: call.int32(1), context)
        case "tkill":
            signal = call.int32(1)
            target = taskEntityByTID[call.int32(0)] ?? processEntity(pid: call.int32(0), context)
        default:
            signal = call.int32(1)
            let pid = call.int32(0)
            guard pid > 0 else {
                // Process groups and "everyone": the members are not known from the trace.
                if !call.succeeded { failureWithoutObject(task, name, call.errno, context) }
                return
            }
            target = processEntity(pid: pid, context)
        }
        let attributes: [String: AttributeValue] = ["signal": .int(Int64(signal))]
        guard call.succeeded else { return failure(from: task.entity, to: target, name, call.errno, context, attributes: attributes) }
        if signal == 0 {
            // Signal 0 only probes that the target exists: nothing reaches it.
            annotate(from: task.entity, to: target, name, context, attributes: attributes)
        } else {
            flow(from: task.entity, to: target, name, context, attributes: attributes)
        }
    }

    func setDirectory(_ task: TaskState, _ path: String) {
        task.directory = path
        entities[task.entity].attributes["cwd"] = .string(path)
        refreshNodeIfUntouched(task.entity)
    }

    /// Attribute changes that are not an event of their own (cwd) show on the current
    /// node only while nothing has happened to it; later ones show on the next version.
    func refreshNodeIfUntouched(_ entity: Int) {
        guard let n = entities[entity].current, incidentEdges[n] == 0 || !hasFlowOutput[n] else { return }
        refreshNode(entity)
    }

    /// setuid/setgid family: a new version of the process acting for the new user.
    func identity(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        let isUser = SyscallFamily.of(call.number) == .setuid
        // The id that now governs access: effective (fs for setfs*), -1 meaning unchanged.
        let argumentIndex: Int
        switch name {
        case "setreuid", "setregid", "setresuid", "setresgid": argumentIndex = 1
        default: argumentIndex = 0
        }
        let requested = call.int32(argumentIndex)
        let value = requested == -1 ? (isUser ? task.uid : task.gid) : UInt32(bitPattern: requested)
        let succeeded = name.hasPrefix("setfs") ? true : call.succeeded
        if isUser {
            let agent = agentEntity(uid: value)
            guard succeeded else {
                return failure(from: agent, to: task.entity, name, call.errno, context)
            }
            task.uid = value
            entities[task.entity].attributes["uid"] = .int(Int64(value))
            newVersion(of: task.entity, name, context)
            annotate(from: agent, to: task.entity, name, context, relation: .wasAssociatedWith)
        } else {
            guard succeeded else { return failureWithoutObject(task, name, call.errno, context) }
            if name != "setgroups" {
                task.gid = value
                entities[task.entity].attributes["gid"] = .int(Int64(value))
            }
            newVersion(of: task.entity, name, context)
        }
    }

    // MARK: Names and metadata

    func changeAttributes(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        let e: Int
        let valueArgument: Int
        switch name {
        case "ftruncate", "fchmod", "fchown":
            e = entity(call, fd: 0, task: task, context); valueArgument = 1
        case "fchmodat", "fchmodat2", "fchownat":
            e = entity(call, path: 1, dirfd: 0, task: task); valueArgument = 2
        default:
            e = entity(call, path: 0, dirfd: nil, task: task); valueArgument = 1
        }
        var attributes: [String: AttributeValue] = [:]
        switch SyscallFamily.of(call.number) {
        case .truncate: attributes["length"] = .int(call.int64(valueArgument))
        case .chmod: attributes["mode"] = .string("0" + String(call.argument(valueArgument) & 0o7777, radix: 8))
        default:
            attributes["owner"] = .int(Int64(call.int32(valueArgument)))
            attributes["group"] = .int(Int64(call.int32(valueArgument + 1)))
        }
        guard call.succeeded else { return failure(from: task.entity, to: e, name, call.errno, context, attributes: attributes) }
        let edge = flow(from: task.entity, to: e, name, context, newVersion: true, attributes: attributes) { s in
            for (k, v) in attributes { s.attributes[k] = v }
        }
        if SyscallFamily.of(call.number) == .truncate {
            let length = call.int64(valueArgument)
            fileSize[e] = length
            place(edge, .reset, stream: e, offset: length, length: 0, context, operation: name)
        }
    }

    func rename(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        let (oldPath, oldDir, newPath, newDir): (Int, Int?, Int, Int?) = name == "rename" ? (0, nil, 1, nil) : (1, 0, 3, 2)
        let from = absolutePath(call, path: oldPath, dirfd: oldDir, task: task)
        let to = absolutePath(call, path: newPath, dirfd: newDir, task: task)
        let moved = entity(call, path: oldPath, dirfd: oldDir, task: task)
        let attributes: [String: AttributeValue] = ["from": .string(from), "to": .string(to)]
        guard call.succeeded else { return failure(from: task.entity, to: moved, name, call.errno, context, attributes: attributes) }
        // What was at the new name before: replaced (or, with RENAME_EXCHANGE, swapped).
        var replaced: Int?
        if let o = call.object(newPath), o.inode != 0, let r = entity(for: o, fallbackPath: to), r != moved {
            replaced = r
        } else if let r = entityAtPath[to], r != moved {
            replaced = r
        }
        let exchange = name == "renameat2" && call.int32(4) & 2 != 0
        if let replaced, !exchange {
            flow(from: task.entity, to: replaced, name, context, relation: .wasInvalidatedBy, newVersion: true,
                 attributes: ["replacedBy": .string(from)]) { s in s.unlinked = true }
            if entityAtPath[to] == replaced { entityAtPath[to] = nil }
        }
        // The new name goes on the entity first, so the version the rename makes carries it.
        setPath(moved, to)
        flow(from: task.entity, to: moved, name, context, newVersion: true, attributes: attributes)
        if exchange, let replaced {
            setPath(replaced, from)
            flow(from: task.entity, to: replaced, name, context, newVersion: true, attributes: attributes)
        }
        refreshNode(moved)
    }

    func link(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        let (oldPath, oldDir, newPath, newDir): (Int, Int?, Int, Int?) = name == "link" ? (0, nil, 1, nil) : (1, 0, 3, 2)
        let target = entity(call, path: oldPath, dirfd: oldDir, task: task)
        let newName = absolutePath(call, path: newPath, dirfd: newDir, task: task)
        let attributes: [String: AttributeValue] = ["link": .string(newName)]
        guard call.succeeded else { return failure(from: task.entity, to: target, name, call.errno, context, attributes: attributes) }
        // An object with no live name (an O_TMPFILE, or a file unlinked while open) is
        // published by the link: the new name becomes its name.
        let path = entities[target].path
        if path.isEmpty || path.hasSuffix(" (deleted)") || entities[target].unlinked {
            entities[target].unlinked = false
            setPath(target, newName)
        }
        flow(from: task.entity, to: target, name, context, newVersion: true, attributes: attributes) { s in
            var links: [String] = []
            if case .strings(let l)? = s.attributes["links"] { links = l }
            if !links.contains(newName) { links.append(newName) }
            s.attributes["links"] = .strings(links)
        }
        entityAtPath[newName] = target
    }

    /// symlink, mkdir, mknod: a new name with a new object behind it.
    func create(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        let (pathArgument, dirfd): (Int, Int?)
        switch name {
        case "symlink": (pathArgument, dirfd) = (1, nil)
        case "symlinkat": (pathArgument, dirfd) = (2, 1)
        case "mkdirat", "mknodat": (pathArgument, dirfd) = (1, 0)
        default: (pathArgument, dirfd) = (0, nil)
        }
        let path = absolutePath(call, path: pathArgument, dirfd: dirfd, task: task)
        var attributes: [String: AttributeValue] = [:]
        if name.hasPrefix("symlink"), let target = call.object(0)?.requested, !target.isEmpty {
            attributes["target"] = .string(target)
        }
        if name.hasPrefix("mknod") || name.hasPrefix("mkdir") {
            let mode = UInt32(truncatingIfNeeded: call.argument(pathArgument + 1))
            attributes["mode"] = .string("0" + String(mode & 0o7777, radix: 8))
            if name.hasPrefix("mknod"), let type = FileType.name(mode) { attributes["fileType"] = .string(type) }
        }
        guard call.succeeded else {
            let e = entity(call, path: pathArgument, dirfd: dirfd, task: task)
            return failure(from: task.entity, to: e, name, call.errno, context, attributes: attributes)
        }
        // The name did not exist before the call: a fresh entity, whatever was there once.
        if let old = entityAtPath[path], !entities[old].unlinked, !entities[old].nodes.isEmpty, entities[old].provisional == false {
            entityAtPath[path] = nil
        }
        let kind: NodeKind = name.hasPrefix("mknod") && UInt32(truncatingIfNeeded: call.argument(pathArgument + 1)) & FileType.mask == FileType.fifo ? .pipe : .file
        let e: Int
        if let existing = entityAtPath[path], entities[existing].nodes.isEmpty {
            e = existing
        } else {
            e = newEntity(key: syntheticKey("path:\(path)", context), kind: kind, label: path, path: path, provisional: true)
        }
        for (k, v) in attributes { entities[e].attributes[k] = v }
        if name.hasPrefix("symlink") { entities[e].attributes["fileType"] = .string("symlink") }
        if name.hasPrefix("mkdir") { entities[e].attributes["fileType"] = .string("directory") }
        flow(from: task.entity, to: e, name, context, fresh: true, attributes: attributes)
    }

    func unlink(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        let (pathArgument, dirfd): (Int, Int?) = name == "unlinkat" ? (1, 0) : (0, nil)
        let path = absolutePath(call, path: pathArgument, dirfd: dirfd, task: task)
        let e = entity(call, path: pathArgument, dirfd: dirfd, task: task)
        guard call.succeeded else { return failure(from: task.entity, to: e, name, call.errno, context) }
        flow(from: task.entity, to: e, name, context, relation: .wasInvalidatedBy, newVersion: true,
             attributes: ["path": .string(path)]) { s in s.unlinked = true }
        if entityAtPath[path] == e { entityAtPath[path] = nil }
    }
}
