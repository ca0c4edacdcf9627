import XCTest
@testable import Trace

final class TraceFormatTests: XCTestCase {
    var directory = ""

    override func setUp() {
        directory = NSTemporaryDirectory() + "magprov-trace-\(UUID().uuidString)"
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func header() -> TraceHeader {
        TraceHeader(magprovVersion: "test", kernel: "k", hostname: "h", cpuModel: "c", cpuid: [],
                    featureMask: [], command: "true", argv: ["true"], environment: [], cwd: "/",
                    startTime: 0, uid: 0, gid: 0)
    }

    func sampleEvents(tid: Int32, count: Int) -> [TraceEvent] {
        (0..<count).map { i in
            TraceEvent(sequence: UInt64(i), time: UInt64(i * 10), tid: tid, body: .syscall(SyscallEvent(
                number: 0, arguments: [3, 0x1000, 64, 0, 0, 0], result: 5,
                writes: [MemoryWrite(address: 0x1000, bytes: Array("hello".utf8))],
                inputs: [BufferDigest(address: 0x2000, bytes: [1, 2, 3])],
                objects: [ObjectIdentity(argument: 0, requested: "", resolved: "/tmp/x", device: 1, inode: 2, mode: 0o100000)])))
        }
    }

    /// Blob names and chain values are plain SHA-256 (FIPS 180-4 test vectors).
    func testSHA256MatchesKnownVectors() {
        XCTAssertEqual(sha256(Array("abc".utf8)).hexString,
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(sha256([UInt8](repeating: 0x61, count: 1_000)).hexString,
                       "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
        XCTAssertEqual(sha256(ArraySlice(Array("xabcx".utf8)).dropFirst().dropLast()).hexString,
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    func testEventsRoundTripThroughFramesAndManifest() throws {
        let writer = try TraceWriter(directory: directory, header: header())
        let events = sampleEvents(tid: 42, count: 5_000)
        for e in events { try writer.append(e) }
        let manifest = try writer.finish(exitCode: 0, exitSignal: nil, syscalls: 5_000)
        XCTAssertGreaterThan(manifest.streams[0].frames, 1, "5000 events should span several frames")
        let reader = try TraceReader(directory: directory)
        XCTAssertEqual(reader.taskIDs, [42])
        XCTAssertEqual(try reader.events(tid: 42), events)
    }

    func testBlobStoreDeduplicatesAndVerifies() throws {
        let writer = try TraceWriter(directory: directory, header: header())
        let bytes = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 / 7) }
        let ids = try writer.blobs.putChunked(bytes)
        XCTAssertEqual(ids.count, 3)
        XCTAssertEqual(try writer.blobs.putChunked(bytes), ids)
        XCTAssertEqual(writer.blobs.blobsWritten, 3)
        let reader = try TraceReader(directory: directory)
        XCTAssertEqual(try reader.contents(of: ids), bytes)
    }

    /// A recording cut short (the file ends mid-frame) reports the stream and frame and
    /// keeps every earlier frame.
    func testTruncatedStreamNamesStreamAndFrameAndKeepsPrefix() throws {
        let writer = try TraceWriter(directory: directory, header: header())
        for e in sampleEvents(tid: 7, count: 5_000) { try writer.append(e) }
        _ = try writer.finish(exitCode: 0, exitSignal: nil, syscalls: 0)
        let path = directory + "/tasks/7.events"
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count - 100).write(to: URL(fileURLWithPath: path))
        let reader = try TraceReader(directory: directory)
        let (events, error) = reader.readTask(tid: 7)
        guard case .truncated(let stream, let frame, _)? = error else { return XCTFail("expected truncation, got \(String(describing: error))") }
        XCTAssertEqual(stream, "tasks/7.events")
        XCTAssertGreaterThan(frame, 0)
        XCTAssertFalse(events.isEmpty)
        XCTAssertTrue(error!.description.contains("frame \(frame)"))
    }

    func testBitFlipIsDetectedByTheChain() throws {
        let writer = try TraceWriter(directory: directory, header: header())
        for e in sampleEvents(tid: 9, count: 5_000) { try writer.append(e) }
        _ = try writer.finish(exitCode: 0, exitSignal: nil, syscalls: 0)
        let path = directory + "/tasks/9.events"
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[data.count - 50] ^= 0x04
        try data.write(to: URL(fileURLWithPath: path))
        let (events, error) = try TraceReader(directory: directory).readTask(tid: 9)
        guard case .corruptFrame(let stream, let frame, let reason)? = error else { return XCTFail("expected corruption, got \(String(describing: error))") }
        XCTAssertEqual(stream, "tasks/9.events")
        XCTAssertTrue(reason.contains("checksum"))
        XCTAssertEqual(events.count > 0, frame > 0)
    }

    /// The writer counts every byte it hashes: each blob put (a repeated put hashes again to
    /// find its name) and each frame's chain input (chain value, fields, stored payload).
    func testWriterCountsTheBytesItHashes() throws {
        let writer = try TraceWriter(directory: directory, header: header())
        let bytes = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 / 7) }
        _ = try writer.blobs.putChunked(bytes)
        _ = try writer.blobs.putChunked(bytes)
        for e in sampleEvents(tid: 7, count: 5_000) { try writer.append(e) }
        let manifest = try writer.finish(exitCode: 0, exitSignal: nil, syscalls: 5_000)
        let stream = try XCTUnwrap(manifest.streams.first)
        let frameHashInput = stream.bytes - UInt64(streamMagic.count + 8) - UInt64(stream.frames) * UInt64(frameMagic.count)
        XCTAssertEqual(writer.hashing.bytes, 6_000_000 + frameHashInput)
        XCTAssertGreaterThan(writer.hashing.nanoseconds, 0)
    }

    /// A writer never writes into an existing trace or a non-empty directory, and says which.
    func testWriterRefusesAnExistingTrace() throws {
        _ = try TraceWriter(directory: directory, header: header()).finish(exitCode: 0, exitSignal: nil, syscalls: 0)
        XCTAssertThrowsError(try TraceWriter(directory: directory, header: header())) { error in
            XCTAssertEqual(error as? TraceError, .outputExists(path: directory, what: "holds a recorded magprov trace"))
        }
        let other = directory + "/tasks/note.txt"
        FileManager.default.createFile(atPath: other, contents: Data("x".utf8))
        XCTAssertThrowsError(try TraceWriter(directory: other, header: header())) { error in
            XCTAssertEqual(error as? TraceError, .outputExists(path: other, what: "is not a directory"))
        }
    }

    func testNonTraceDirectoryIsAClearError() {
        XCTAssertThrowsError(try TraceReader(directory: "/")) { error in
            XCTAssertTrue("\(error)".contains("not a magprov trace"))
        }
    }
}
