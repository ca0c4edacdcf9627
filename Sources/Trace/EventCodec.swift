// Binary encoding of TraceEvent. Each event starts with a tag byte; unknown tags are a
// format error (the format version in the header guards incompatible changes).
//
// Bytes the kernel wrote (MemoryWrite) are stored inline while the event's inline writes
// stay within `inlineEventLimit`; larger ones go to the blob store in chunks and the event
// keeps their blob ids. So one event, and therefore one frame, stays bounded however much
// a single read delivered (docs/ARCHITECTURE.md, "Trace format").

/// Inline bytes of memory writes one event may carry; writes beyond it go to blobs.
public let inlineEventLimit = 1 << 20

enum EventTag: UInt8 {
    case taskStart = 1, exec = 2, syscall = 3, signal = 4, timestamp = 5, schedule = 6, taskExit = 7
}

extension ByteWriter {
    mutating func registers(_ r: RegisterFile) { for w in r.words { varint(w) } }

    mutating func mapping(_ m: MappingSnapshot) {
        varint(m.start); varint(m.end); varint(UInt64(m.protection)); bool(m.shared); varint(m.offset)
        varint(m.device); varint(m.inode); string(m.path); array(m.blobs) { $0.string($1) }
    }

    /// Encodes a memory write: inline (storage byte 0) while the event's budget allows,
    /// else as blob chunks (storage byte 1) in `blobSink`.
    mutating func memoryWrite(_ w: MemoryWrite) throws {
        varint(w.address)
        if let chunks = w.storedChunks {
            u8(1)
            varint(UInt64(w.storedLength))
            varint(UInt64(chunks.count))
            for id in chunks { bytes += [UInt8](hexString: id) ?? [] }
        } else if let store = blobSink, w.bytes.count > inlineBudget {
            u8(1)
            varint(UInt64(w.bytes.count))
            let ids = try store.putChunked(w.bytes)
            varint(UInt64(ids.count))
            for id in ids { bytes += [UInt8](hexString: id) ?? [] }
        } else {
            u8(0)
            data(w.bytes)
            inlineBudget -= min(inlineBudget, w.bytes.count)
        }
    }

    /// Appends one event. Throws `TraceError.io` when a large write cannot be stored as blobs.
    public mutating func event(_ e: TraceEvent) throws {
        inlineBudget = inlineEventLimit
        switch e.body {
        case .taskStart: u8(EventTag.taskStart.rawValue)
        case .exec: u8(EventTag.exec.rawValue)
        case .syscall: u8(EventTag.syscall.rawValue)
        case .signal: u8(EventTag.signal.rawValue)
        case .timestamp: u8(EventTag.timestamp.rawValue)
        case .schedule: u8(EventTag.schedule.rawValue)
        case .taskExit: u8(EventTag.taskExit.rawValue)
        }
        varint(e.sequence); varint(e.time); signed(Int64(e.tid))
        switch e.body {
        case .taskStart(let t):
            signed(Int64(t.tid)); signed(Int64(t.pid)); signed(Int64(t.parent)); u8(t.kind.rawValue); varint(t.cloneFlags)
            optional(t.sharedMemoryGroup) { $0.signed(Int64($1)) }
        case .exec(let x):
            string(x.path); array(x.argv) { $0.string($1) }; array(x.environment) { $0.string($1) }
            registers(x.registers); data(x.fpRegisters); array(x.mappings) { $0.mapping($1) }; data(x.auxv)
        case .syscall(let s):
            varint(s.number); u8(UInt8(s.arguments.count)); for a in s.arguments { varint(a) }
            signed(s.result); varint(UInt64(s.flags.rawValue)); varint(s.duration); varint(s.entrySequence)
            varint(UInt64(s.writes.count))
            for w in s.writes { try memoryWrite(w) }
            array(s.inputs) { $0.varint($1.address); $0.varint($1.length); $0.fixed64($1.hash); $0.data($1.prefix) }
            array(s.objects) {
                $0.signed(Int64($1.argument)); $0.string($1.requested); $0.string($1.resolved)
                $0.varint($1.device); $0.varint($1.inode); $0.varint(UInt64($1.mode))
            }
            optional(s.mapped) { $0.mapping($1) }
            optional(s.registersAfter) { $0.registers($1) }
        case .signal(let g):
            signed(Int64(g.signal)); u8(g.kind.rawValue); u8(g.outcome.rawValue); data(g.siginfo)
            registers(g.registers); optional(g.handlerRegisters) { $0.registers($1) }
            if let frame = g.frame { u8(1); try memoryWrite(frame) } else { u8(0) }
        case .timestamp(let t):
            varint(t.address); varint(t.value); optional(t.aux) { $0.varint(UInt64($1)) }
            optional(t.instruction) { $0.data($1) }
        case .schedule(let s):
            optional(s.preemptedAt) { $0.registers($1) }
            optional(s.sharedPages) { w, f in
                w.array(f.ranges) { $0.varint($1.lowerBound); $0.varint($1.upperBound) }
                w.fixed64(f.hash)
            }
        case .taskExit(let x):
            optional(x.exitCode) { $0.signed(Int64($1)) }; optional(x.signal) { $0.signed(Int64($1)) }
        }
    }
}

extension ByteReader {
    mutating func registers() throws -> RegisterFile {
        var words: [UInt64] = []
        words.reserveCapacity(RegisterFile.count)
        for _ in 0..<RegisterFile.count { words.append(try varint()) }
        return RegisterFile(words: words)
    }

    mutating func int32() throws -> Int32 { Int32(truncatingIfNeeded: try signed()) }

    /// Decodes a memory write (see `ByteWriter.memoryWrite`), reading blob chunks from
    /// `blobSource`. Throws `Malformed` on bad encoding and `TraceError` for a missing or
    /// corrupt blob.
    mutating func memoryWrite() throws -> MemoryWrite {
        let address = try varint()
        let storage = try u8()
        switch storage {
        case 0:
            return MemoryWrite(address: address, bytes: try data())
        case 1:
            let length = try varint()
            let chunks = try count(elementSize: 32)
            guard length <= UInt64(chunks) * UInt64(BlobStore.chunkLength) else {
                throw Malformed(offset: offset, what: "write of \(length) bytes in \(chunks) blobs")
            }
            var ids: [BlobID] = []
            for _ in 0..<chunks { ids.append(try raw(count: 32).hexString) }
            guard let store = blobSource else {
                throw Malformed(offset: offset, what: "write stored in blobs (no blob store to read it from)")
            }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(Int(length))
            for id in ids { bytes += try store.get(id) }
            guard bytes.count == Int(length) else {
                throw Malformed(offset: offset, what: "write of \(length) bytes whose blobs hold \(bytes.count)")
            }
            return MemoryWrite(address: address, bytes: bytes)
        default:
            throw Malformed(offset: offset - 1, what: "write storage \(storage)")
        }
    }

    mutating func mapping() throws -> MappingSnapshot {
        MappingSnapshot(start: try varint(), end: try varint(), protection: UInt32(truncatingIfNeeded: try varint()),
                        shared: try bool(), offset: try varint(), device: try varint(), inode: try varint(),
                        path: try string(), blobs: try array { try $0.string() })
    }

    public mutating func event() throws -> TraceEvent {
        let tagOffset = offset
        guard let tag = EventTag(rawValue: try u8()) else {
            throw Malformed(offset: tagOffset, what: "event tag \(bytes[tagOffset])")
        }
        let sequence = try varint(), time = try varint(), tid = try int32()
        let body: EventBody
        switch tag {
        case .taskStart:
            let t = try int32(), p = try int32(), parent = try int32()
            guard let kind = TaskStart.Kind(rawValue: try u8()) else { throw Malformed(offset: offset, what: "task kind") }
            let flags = try varint()
            body = .taskStart(TaskStart(tid: t, pid: p, parent: parent, kind: kind, cloneFlags: flags,
                                        sharedMemoryGroup: try optional { try $0.int32() }))
        case .exec:
            body = .exec(ExecSnapshot(path: try string(), argv: try array { try $0.string() },
                                      environment: try array { try $0.string() }, registers: try registers(),
                                      fpRegisters: try data(), mappings: try array { try $0.mapping() },
                                      auxv: try data()))
        case .syscall:
            let number = try int()
            let argc = Int(try u8())
            guard argc <= 6 else { throw Malformed(offset: offset, what: "argument count \(argc)") }
            var arguments: [UInt64] = []
            for _ in 0..<argc { arguments.append(try varint()) }
            let result = try signed()
            let flags = SyscallFlags(rawValue: UInt32(truncatingIfNeeded: try varint()))
            let duration = try varint()
            let entrySequence = try varint()
            let writes = try array { try $0.memoryWrite() }
            let inputs = try array {
                BufferDigest(address: try $0.varint(), length: try $0.int(), hash: try $0.fixed64(), prefix: try $0.data())
            }
            let objects = try array {
                ObjectIdentity(argument: Int(try $0.signed()), requested: try $0.string(), resolved: try $0.string(),
                               device: try $0.varint(), inode: try $0.varint(),
                               mode: UInt32(truncatingIfNeeded: try $0.varint()))
            }
            let mapped = try optional { try $0.mapping() }
            let after = try optional { try $0.registers() }
            body = .syscall(SyscallEvent(number: number, arguments: arguments, result: result, flags: flags,
                                         writes: writes, inputs: inputs, objects: objects, mapped: mapped,
                                         registersAfter: after, duration: duration, entrySequence: entrySequence))
        case .signal:
            let signal = try int32()
            guard let kind = SignalEvent.Kind(rawValue: try u8()),
                  let outcome = SignalEvent.Outcome(rawValue: try u8()) else {
                throw Malformed(offset: offset, what: "signal kind")
            }
            body = .signal(SignalEvent(signal: signal, kind: kind, outcome: outcome, siginfo: try data(),
                                       registers: try registers(), handlerRegisters: try optional { try $0.registers() },
                                       frame: try optional { try $0.memoryWrite() }))
        case .timestamp:
            body = .timestamp(TimestampEvent(address: try varint(), value: try varint(),
                                             aux: try optional { UInt32(truncatingIfNeeded: try $0.varint()) },
                                             instruction: try optional { try $0.data() }))
        case .schedule:
            let preempted = try optional { try $0.registers() }
            let pages = try optional { r -> SharedPagesFingerprint in
                let ranges = try r.array { r -> Range<UInt64> in
                    let start = try r.varint(), end = try r.varint()
                    guard start <= end else { throw Malformed(offset: r.offset, what: "shared page range") }
                    return start..<end
                }
                return SharedPagesFingerprint(ranges: ranges, hash: try r.fixed64())
            }
            body = .schedule(ScheduleEvent(preemptedAt: preempted, sharedPages: pages))
        case .taskExit:
            body = .taskExit(TaskExit(exitCode: try optional { try $0.int32() }, signal: try optional { try $0.int32() }))
        }
        return TraceEvent(sequence: sequence, time: time, tid: tid, body: body)
    }
}
