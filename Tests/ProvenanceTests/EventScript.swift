// Writes synthetic trace events the way the recorder lays them out, so the builder can be
// tested without recording: task starts, exec snapshots, syscalls with resolved objects.

import Trace
import Syscalls
@testable import Provenance

struct EventScript {
    var events: [TraceEvent] = []
    var sequence: UInt64 = 0
    var device: UInt64 = 2049

    mutating func append(_ tid: Int32, _ body: EventBody) {
        sequence += 1
        events.append(TraceEvent(sequence: sequence, time: sequence * 1_000, tid: tid, body: body))
    }

    mutating func start(_ tid: Int32, pid: Int32? = nil, parent: Int32 = 0, kind: TaskStart.Kind = .root, flags: UInt64 = 0) {
        append(tid, .taskStart(TaskStart(tid: tid, pid: pid ?? tid, parent: parent, kind: kind, cloneFlags: flags)))
    }

    mutating func exec(_ tid: Int32, _ path: String, _ argv: [String], inode: UInt64) {
        let mapping = MappingSnapshot(start: 0x400000, end: 0x401000, protection: 5, shared: false, offset: 0,
                                      device: device, inode: inode, path: path, blobs: [])
        append(tid, .exec(ExecSnapshot(path: path, argv: argv, environment: [], registers: RegisterFile(),
                                       fpRegisters: [], mappings: [mapping], auxv: [])))
        call(tid, "execve", [0x1000, 0, 0], result: 0, objects: [self.path(0, path, inode)])
    }

    mutating func exit(_ tid: Int32, _ code: Int32 = 0) {
        append(tid, .taskExit(TaskExit(exitCode: code, signal: nil)))
    }

    mutating func call(_ tid: Int32, _ name: String, _ arguments: [UInt64], result: Int64 = 0,
                       objects: [ObjectIdentity] = [], writes: [MemoryWrite] = [], inputs: [BufferDigest] = []) {
        let number = SyscallTable.number(named: name) ?? -1
        precondition(number >= 0, "test names unknown syscall \(name)")
        append(tid, .syscall(SyscallEvent(number: number, arguments: arguments, result: result, writes: writes,
                                          inputs: inputs, objects: objects)))
    }

    // Object identities as the recorder gives them.
    func path(_ argument: Int, _ path: String, _ inode: UInt64, mode: UInt32 = 0o100644) -> ObjectIdentity {
        ObjectIdentity(argument: argument, requested: path, resolved: inode == 0 ? "" : path, device: device,
                       inode: inode, mode: inode == 0 ? 0 : mode)
    }
    func file(_ argument: Int, _ path: String, _ inode: UInt64) -> ObjectIdentity {
        ObjectIdentity(argument: argument, requested: "", resolved: path, device: device, inode: inode, mode: 0o100644)
    }
    func pipe(_ argument: Int, _ inode: UInt64) -> ObjectIdentity {
        ObjectIdentity(argument: argument, requested: "", resolved: "pipe:[\(inode)]", device: 12, inode: inode, mode: 0o010600)
    }
    func socket(_ argument: Int, _ inode: UInt64) -> ObjectIdentity {
        ObjectIdentity(argument: argument, requested: "", resolved: "socket:[\(inode)]", device: 8, inode: inode, mode: 0o140777)
    }

    // Common calls.
    mutating func openRead(_ tid: Int32, _ p: String, inode: UInt64, fd: Int64) {
        call(tid, "openat", [UInt64(bitPattern: -100), 0x2000, 0, 0], result: fd,
             objects: [path(1, p, inode), file(-1, p, inode)])
    }
    mutating func openWrite(_ tid: Int32, _ p: String, inode: UInt64, fd: Int64, existed: Bool = false) {
        call(tid, "openat", [UInt64(bitPattern: -100), 0x2000, 0o1101, 0o644], result: fd,
             objects: [path(1, p, existed ? inode : 0), file(-1, p, inode)])
    }
    mutating func read(_ tid: Int32, fd: UInt64, _ object: ObjectIdentity, bytes: Int64) {
        call(tid, "read", [fd, 0x3000, 4096], result: bytes, objects: [object])
    }
    mutating func write(_ tid: Int32, fd: UInt64, _ object: ObjectIdentity, bytes: Int64) {
        call(tid, "write", [fd, 0x3000, UInt64(bytes)], result: bytes, objects: [object])
    }
    mutating func close(_ tid: Int32, fd: UInt64, _ object: ObjectIdentity) {
        call(tid, "close", [fd], result: 0, objects: [object])
    }

    func build(cwd: String = "/home/u") -> ProvenanceGraph {
        CoarseGraphBuilder.build(events: events, rootUID: 1000, rootDirectory: cwd)
    }
}

/// `struct sockaddr_in` bytes.
func sockaddrIn(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, port: UInt16) -> [UInt8] {
    [2, 0, UInt8(port >> 8), UInt8(port & 0xff), a, b, c, d, 0, 0, 0, 0, 0, 0, 0, 0]
}

/// The descriptor pair pipe(2) writes.
func fdPair(_ a: Int32, _ b: Int32) -> [UInt8] {
    [a, b].flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) } }
}
