import XCTest
@testable import Trace

/// A bounded, deterministic fuzz test of the trace reader (issue 11): mutated event bytes are
/// compressed and re-chained into valid frames, so the mutations get past the chain check and
/// reach the event decoders; others damage the frame headers and the LZ4 payload. The reader
/// must answer every one with events or a `TraceError`, never a crash, a trap or a hang.
/// For longer runs, `Scripts/fuzz-trace-reader` builds the libFuzzer target on the same
/// entry point (`TraceFuzzing.readStream`).
final class TraceReaderFuzzTests: XCTestCase {
    /// SplitMix64: the same mutations on every run.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    /// One event of every kind, with the fields the decoders check (lengths, counts, enums).
    func corpus() -> [TraceEvent] {
        var registers = RegisterFile()
        registers[.rip] = 0x401000
        let mapping = MappingSnapshot(start: 0x400000, end: 0x401000, protection: 5, shared: false, offset: 0,
                                      device: 1, inode: 2, path: "/bin/true", blobs: [String(repeating: "ab", count: 32)])
        let bodies: [EventBody] = [
            .taskStart(TaskStart(tid: 7, pid: 7, parent: 1, kind: .fork, cloneFlags: 0x11)),
            .taskStart(TaskStart(tid: 8, pid: 8, parent: 7, kind: .fork, cloneFlags: 0x11, sharedMemoryGroup: 7)),
            .exec(ExecSnapshot(path: "/bin/true", argv: ["true", "x"], environment: ["A=b"], registers: registers,
                               fpRegisters: [UInt8](repeating: 1, count: 64), mappings: [mapping], auxv: [6, 0, 0, 0])),
            .syscall(SyscallEvent(number: 0, arguments: [3, 0x1000, 64, 0, 0, 0], result: 5,
                                  writes: [MemoryWrite(address: 0x1000, bytes: Array("hello".utf8))],
                                  inputs: [BufferDigest(address: 0x2000, bytes: [1, 2, 3])],
                                  objects: [ObjectIdentity(argument: 0, requested: "a", resolved: "/tmp/a", device: 1, inode: 2, mode: 0o100000)])),
            .signal(SignalEvent(signal: 10, kind: .asynchronous, outcome: .handled, siginfo: [UInt8](repeating: 2, count: 128),
                                registers: registers, handlerRegisters: registers, frame: MemoryWrite(address: 0x7ff0, bytes: [9, 9]))),
            .timestamp(TimestampEvent(address: 0x401000, value: 12345, aux: 3)),
            .schedule(ScheduleEvent(preemptedAt: registers)),
            .schedule(ScheduleEvent(preemptedAt: registers,
                                    sharedPages: SharedPagesFingerprint(ranges: [0x7000..<0x8000, 0x9000..<0xb000], hash: 0xfeed))),
            .taskExit(TaskExit(exitCode: 0, signal: nil)),
        ]
        return bodies.enumerated().map { TraceEvent(sequence: UInt64($0.offset), time: UInt64($0.offset), tid: 7, body: $0.element) }
    }

    /// A stream file whose frames hold `frames` (raw event bytes each), correctly chained.
    func stream(tid: Int32, frames: [[UInt8]], compress: Bool = true) -> [UInt8] {
        var file = streamMagic + littleEndian32(UInt32(bitPattern: tid)) + [0, 0, 0, 0]
        var chain = initialChain(tid: tid)
        for (index, raw) in frames.enumerated() {
            let compressed = compress ? LZ4Block.compress(raw) : nil
            let stored = compressed ?? raw
            let fields = littleEndian32(UInt32(index)) + littleEndian32(UInt32(raw.count))
                + littleEndian32(UInt32(stored.count) | (compressed == nil ? 0x8000_0000 : 0))
            chain = nextChain(chain, fields: fields, payload: stored)
            file += frameMagic + fields + chain + stored
        }
        return file
    }

    func testMutatedEventsReChainedIntoValidFramesNeverCrashTheReader() throws {
        let events = corpus()
        let encoded: [[UInt8]] = try events.map { e in
            var writer = ByteWriter()
            try writer.event(e)
            return writer.bytes
        }
        // The unmutated stream reads back exactly.
        XCTAssertEqual(try TraceFuzzing.readStream(stream(tid: 7, frames: [encoded.flatMap { $0 }])), events)
        var random = Generator(state: 0x6D61_6770_726F_76)
        var failures = 0, decoded = 0
        for round in 0..<3_000 {
            var raw = encoded.flatMap { $0 }
            for _ in 0..<(1 + random.below(4)) { mutate(&raw, &random) }
            let file = round % 10 == 9 ? mutateFile(stream(tid: 7, frames: [raw]), &random) : stream(tid: 7, frames: [raw], compress: round % 2 == 0)
            do { _ = try TraceFuzzing.readStream(file); decoded += 1 } catch is TraceError { failures += 1 }
        }
        // Both outcomes occur: the mutations reach the decoders and not only the chain check.
        XCTAssertGreaterThan(failures, 100)
        XCTAssertGreaterThan(decoded, 10)
    }

    private func mutate(_ bytes: inout [UInt8], _ random: inout Generator) {
        guard !bytes.isEmpty else { bytes = [UInt8(random.below(256))]; return }
        let at = random.below(bytes.count)
        switch random.below(7) {
        case 0: bytes[at] ^= UInt8(1 << random.below(8))
        case 1: bytes[at] = [0x00, 0xFF, 0x7F, 0x80][random.below(4)]
        case 2: bytes.insert(contentsOf: [UInt8](repeating: 0xFF, count: 1 + random.below(10)), at: at)  // huge varints
        case 3: bytes.removeSubrange(at..<min(bytes.count, at + 1 + random.below(16)))
        case 4: bytes.removeLast(random.below(bytes.count))  // truncated event
        case 5:
            let end = min(bytes.count, at + 1 + random.below(32))
            bytes.insert(contentsOf: Array(bytes[at..<end]), at: random.below(bytes.count))
        default: bytes[at] = UInt8(random.below(8))  // a small tag or length
        }
    }

    /// Damage below the chain: frame header fields and stored bytes.
    private func mutateFile(_ file: [UInt8], _ random: inout Generator) -> [UInt8] {
        var file = file
        let at = 16 + random.below(max(file.count - 16, 1))
        switch random.below(3) {
        case 0: if at < file.count { file[at] ^= 0xFF }
        case 1: file.removeLast(random.below(file.count - 16))
        default: if file.count >= 28 { file[24..<28] = [0xFF, 0xFF, 0xFF, 0x7F][...] }  // raw length
        }
        return file
    }
}
