import Foundation
import XCTest
@testable import Trace

/// Trace format version 3: standard LZ4 frames for blobs, bounded frames for large writes,
/// private permissions, and a signed root commitment that `TraceVerifier` checks.
final class TraceIntegrityTests: XCTestCase {
    var directory = ""
    let key = TraceSigningKey.ephemeral()

    override func setUp() {
        directory = NSTemporaryDirectory() + "magprov-integrity-\(UUID().uuidString)"
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func header() -> TraceHeader {
        TraceHeader(magprovVersion: "test", kernel: "k", hostname: "h", cpuModel: "c", cpuid: [],
                    featureMask: [], command: "true", argv: ["true"], environment: [], cwd: "/",
                    startTime: 0, uid: 0, gid: 0)
    }

    func read(tid: Int32, sequence: UInt64, bytes: [UInt8]) -> TraceEvent {
        TraceEvent(sequence: sequence, time: sequence, tid: tid, body: .syscall(SyscallEvent(
            number: 0, arguments: [3, 0x10000, UInt64(bytes.count), 0, 0, 0], result: Int64(bytes.count),
            writes: [MemoryWrite(address: 0x10000, bytes: bytes)])))
    }

    /// A signed trace of two tasks, several frames each, and a few blobs.
    @discardableResult
    func writeTrace(signingKey: TraceSigningKey? = nil) throws -> TraceManifest {
        let writer = try TraceWriter(directory: directory, header: header(), signingKey: signingKey ?? key)
        var sequence: UInt64 = 0
        for i in 0..<4_000 {
            let tid: Int32 = i % 2 == 0 ? 10 : 11
            let line = String(repeating: "line \(i) of the input; ", count: 40) + "\n"
            try writer.append(read(tid: tid, sequence: sequence, bytes: Array(line.utf8)))
            sequence += 1
        }
        _ = try writer.blobs.putChunked((0..<1_500_000).map { UInt8(truncatingIfNeeded: $0 / 5) })
        return try writer.finish(exitCode: 0, exitSignal: nil, syscalls: sequence)
    }

    func verify(trustedKey: String? = nil) throws -> TraceVerification {
        try TraceVerifier.verify(directory: directory, trustedKey: trustedKey ?? key.publicKeyHex)
    }

    func failing(_ result: TraceVerification) -> [String: String] {
        Dictionary(result.failures.map { ($0.subject, $0.detail) }, uniquingKeysWith: { a, _ in a })
    }

    /// Offsets where each frame of a stream file starts, and the file's end.
    func frameBoundaries(_ data: [UInt8]) -> [Int] {
        var offsets: [Int] = []
        var offset = 16
        while offset + 48 <= data.count {
            offsets.append(offset)
            let stored = Int(readLittleEndian32(data[(offset + 12)...]) & 0x7fff_ffff)
            offset += 48 + stored
        }
        return offsets + [offset]
    }

    // MARK: - Format

    func testReaderNamesTheVersionItCannotRead() throws {
        try writeTrace()
        let path = directory + "/header.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "\"formatVersion\" : \(traceFormatVersion)", with: "\"formatVersion\" : 2")
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try TraceReader(directory: directory)) { error in
            XCTAssertEqual("\(error)", "trace format version 2; this magprov reads \(traceFormatVersion)")
        }
    }

    /// `lz4 -t` (the stock LZ4 tool) accepts every blob file, and `lz4 -dc` gives its bytes.
    func testBlobFilesAreStandardLZ4Frames() throws {
        let writer = try TraceWriter(directory: directory, header: header(), signingKey: key)
        let compressible = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 / 3) }
        var generator = SystemRandomNumberGenerator()
        let random = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let ids = try writer.blobs.putChunked(compressible) + writer.blobs.putChunked(random) + writer.blobs.putChunked([7])
        _ = try writer.finish(exitCode: 0, exitSignal: nil, syscalls: 0)
        for (id, bytes) in zip(ids, [compressible, random, [7]]) {
            let path = writer.blobs.path(for: id)
            XCTAssertEqual(try runTool("lz4", ["-t", path]).status, 0, "lz4 -t rejects \(path)")
            XCTAssertEqual(try runTool("lz4", ["-dc", path]).output, bytes)
            XCTAssertEqual(try TraceReader(directory: directory).blobs.get(id), bytes)
        }
    }

    func testCorruptBlobIsReportedNotReturned() throws {
        let writer = try TraceWriter(directory: directory, header: header())
        let id = try writer.blobs.put((0..<100_000).map { UInt8(truncatingIfNeeded: $0 % 251) })
        var file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: writer.blobs.path(for: id))))
        file[file.count / 2] ^= 0x20
        try Data(file).write(to: URL(fileURLWithPath: writer.blobs.path(for: id)))
        XCTAssertThrowsError(try writer.blobs.get(id)) { error in
            guard case .corruptBlob(let bad, _)? = error as? TraceError else { return XCTFail("\(error)") }
            XCTAssertEqual(bad, id)
        }
    }

    /// One read of 6 MiB: the bytes go to blobs, every frame stays small, and the event
    /// reads back whole.
    func testLargeWriteIsSplitIntoBlobsAndFramesStayBounded() throws {
        let writer = try TraceWriter(directory: directory, header: header(), signingKey: key)
        var state: UInt64 = 1
        let big = (0..<(6 << 20)).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 59)  // 32 symbols: compressible, never repeating by chunk
        }
        let events = [read(tid: 5, sequence: 0, bytes: Array("small".utf8)), read(tid: 5, sequence: 1, bytes: big),
                      read(tid: 5, sequence: 2, bytes: Array(big.prefix(900_000))), read(tid: 5, sequence: 3, bytes: [1, 2, 3])]
        for e in events { try writer.append(e) }
        let manifest = try writer.finish(exitCode: 0, exitSignal: nil, syscalls: 4)
        XCTAssertGreaterThanOrEqual(manifest.blobIDs.count, 6, "6 MiB in 1 MiB chunks")
        let data = try readWholeFile(directory + "/tasks/5.events")
        XCTAssertLessThan(data.count, 2 << 20, "the 6 MiB write is not inline")
        let boundaries = frameBoundaries(data)
        for start in boundaries.dropLast() {
            XCTAssertLessThanOrEqual(Int(readLittleEndian32(data[(start + 8)...])), inlineEventLimit + (256 << 10) + 4096)
        }
        XCTAssertEqual(try TraceReader(directory: directory).events(tid: 5), events)
        XCTAssertTrue(try verify().verified)
    }

    func testTraceIsPrivateToItsOwner() throws {
        try writeTrace()
        func mode(_ path: String) -> mode_t {
            var info = stat()
            XCTAssertEqual(stat(path, &info), 0, path)
            return info.st_mode & 0o777
        }
        XCTAssertEqual(mode(directory), 0o700)
        for name in ["header.json", "manifest.json", "tasks/10.events", "tasks"] {
            XCTAssertEqual(mode("\(directory)/\(name)") & 0o077, 0, name)
        }
        let blob = try XCTUnwrap(try TraceReader(directory: directory).manifest?.blobIDs.first)
        XCTAssertEqual(mode(try TraceReader(directory: directory).blobs.path(for: blob)), 0o600)
    }

    func testSigningKeyIsCreatedOnceAndPrivate() throws {
        let keys = directory + "/config/magprov"
        let first = try TraceSigningKey.loadOrCreate(directory: keys)
        let again = try TraceSigningKey.loadOrCreate(directory: keys)
        XCTAssertEqual(first.publicKeyHex, again.publicKeyHex)
        XCTAssertEqual(TraceSigningKey.existingPublicKey(directory: keys), first.publicKeyHex)
        var info = stat()
        XCTAssertEqual(stat(keys + "/signing.key", &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
        XCTAssertEqual(stat(keys, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o700)
        XCTAssertEqual(chmod(keys + "/signing.key", 0o644), 0)
        XCTAssertThrowsError(try TraceSigningKey.loadOrCreate(directory: keys)) { error in
            XCTAssertEqual(error as? TraceSigningError, .tooOpen(path: keys + "/signing.key", mode: 0o644))
        }
        XCTAssertEqual(TraceSigningKey.defaultDirectory(environment: ["XDG_CONFIG_HOME": "/x", "HOME": "/h"]), "/x/magprov")
        XCTAssertEqual(TraceSigningKey.defaultDirectory(environment: ["HOME": "/h"]), "/h/.config/magprov")
    }

    // MARK: - Verification: what holds, and each kind of tampering

    func testIntactTraceVerifies() throws {
        let manifest = try writeTrace()
        let result = try verify()
        XCTAssertTrue(result.verified, "\(result.failures)")
        XCTAssertEqual(result.rootCommitment, manifest.rootChain)
        XCTAssertEqual(result.signer, key.publicKeyHex)
        XCTAssertTrue(result.checks.contains { $0.subject == "signer" && $0.status == .holds })
        XCTAssertTrue(result.checks.contains { $0.subject == "stream tasks/10.events" && $0.status == .holds })
        XCTAssertTrue(TraceVerifier.quickChecks(try TraceReader(directory: directory)).allSatisfy { $0.status == .holds })
    }

    func testMissingStreamIsNamed() throws {
        try writeTrace()
        try FileManager.default.removeItem(atPath: directory + "/tasks/11.events")
        let failures = failing(try verify())
        XCTAssertEqual(failures.keys.sorted(), ["stream tasks/11.events"])
        XCTAssertTrue(failures["stream tasks/11.events"]!.hasPrefix("missing"))
        // Reading says so too: the events of task 11 are not silently absent.
        let errors = try TraceReader(directory: directory).allEvents().errors
        XCTAssertTrue(errors.contains { $0.description.contains("tasks/11.events") && $0.description.contains("missing") }, "\(errors)")
    }

    func testEditedHeaderIsDetected() throws {
        try writeTrace()
        let path = directory + "/header.json"
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "\"command\" : \"true\"", with: "\"command\" : \"ls\"")
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        XCTAssertEqual(try TraceReader(directory: directory).header.command, "ls")
        XCTAssertEqual(failing(try verify()).keys.sorted(), ["header"])
    }

    func testRemovedManifestAndTruncationAtAFrameBoundaryIsIncomplete() throws {
        try writeTrace()
        try FileManager.default.removeItem(atPath: directory + "/manifest.json")
        let path = directory + "/tasks/10.events"
        let data = try readWholeFile(path)
        let boundaries = frameBoundaries(data)
        XCTAssertGreaterThan(boundaries.count, 3)
        XCTAssertEqual(truncate(path, off_t(boundaries[1])), 0)
        // The stream alone reads cleanly (one whole frame); nothing but the commitment could tell.
        XCTAssertNil(try TraceReader(directory: directory).readTask(tid: 10).error)
        let result = try verify()
        XCTAssertFalse(result.verified)
        XCTAssertTrue(failing(result)["manifest"]?.contains("no manifest.json") ?? false, "\(result.failures)")
    }

    func testTruncationAtAFrameBoundaryIsDetected() throws {
        try writeTrace()
        let path = directory + "/tasks/10.events"
        let boundaries = frameBoundaries(try readWholeFile(path))
        XCTAssertEqual(truncate(path, off_t(boundaries[boundaries.count - 2])), 0)
        let failures = failing(try verify())
        XCTAssertEqual(failures.keys.sorted(), ["stream tasks/10.events"])
        XCTAssertTrue(failures["stream tasks/10.events"]!.contains("committed"))
        XCTAssertNotNil(try TraceReader(directory: directory).readTask(tid: 10).error, "reading reports the missing frames")
    }

    /// The attacker rewrites a stream with events of their choosing, chains it correctly,
    /// and rewrites the manifest (counts, final chain value, commitment): only the
    /// signature can tell, and with a key of their own, only the trusted key.
    func testReChainedForgedStreamFailsTheSignatureAndTheSigner() throws {
        try writeTrace()
        let path = directory + "/tasks/11.events"
        let forged = try EventStreamWriter(path: path, tid: 11)
        for i in 0..<10 { try forged.append(read(tid: 11, sequence: UInt64(i * 2 + 1), bytes: Array("forged".utf8))) }
        try forged.close()
        var stream = try EventStreamReader(path: path, streamName: "tasks/11.events")
        while try stream.nextFrame() != nil {}
        XCTAssertEqual(stream.chain, forged.chain, "the forged stream chains by itself")
        var manifest = try XCTUnwrap(try TraceReader(directory: directory).manifest)
        let index = try XCTUnwrap(manifest.streams.firstIndex { $0.tid == 11 })
        manifest.streams[index].frames = forged.frameCount
        manifest.streams[index].events = forged.eventCount
        manifest.streams[index].bytes = forged.bytesWritten
        XCTAssertFalse(try verify().verified, "the old manifest's final chain no longer matches")
        manifest.streams[index].finalChain = forged.chain.hexString
        try writeManifest(manifest)
        XCTAssertEqual(failing(try verify()).keys.sorted(), ["commitment"])
        manifest.rootChain = TraceCommitment.root(headerDigest: manifest.headerDigest, manifest: manifest)
        try writeManifest(manifest)
        XCTAssertEqual(failing(try verify()).keys.sorted(), ["signature"])
        let attacker = TraceSigningKey.ephemeral()
        manifest.signature = try attacker.sign(root: manifest.rootChain)
        try writeManifest(manifest)
        let result = try verify()
        XCTAssertEqual(failing(result).keys.sorted(), ["signer"])
        XCTAssertEqual(result.signer, attacker.publicKeyHex)
    }

    func testBadSignatureIsDetected() throws {
        var manifest = try writeTrace()
        var signature = try XCTUnwrap(manifest.signature)
        signature.signature = String(signature.signature.reversed())
        manifest.signature = signature
        try writeManifest(manifest)
        XCTAssertEqual(failing(try verify()).keys.sorted(), ["signature"])
    }

    func testEditedExitStatusBreaksTheCommitment() throws {
        var manifest = try writeTrace()
        manifest.exitCode = 1
        try writeManifest(manifest)
        XCTAssertEqual(Set(failing(try verify()).keys), ["commitment"])
    }

    func testAddedAndRemovedBlobsAreNamed() throws {
        let manifest = try writeTrace()
        let reader = try TraceReader(directory: directory)
        try FileManager.default.removeItem(atPath: reader.blobs.path(for: manifest.blobIDs[0]))
        let failures = failing(try verify())
        XCTAssertEqual(failures.keys.sorted(), ["blobs"])
        XCTAssertTrue(failures["blobs"]!.contains("1 missing"))
        let writer = try BlobStore(directory: directory + "/blobs")
        try writer.put(Array("planted".utf8))
        XCTAssertTrue(failing(try verify())["blobs"]!.contains("not committed"))
    }

    func testUnsignedTraceSaysSo() throws {
        let writer = try TraceWriter(directory: directory, header: header())
        try writer.append(read(tid: 1, sequence: 0, bytes: [1]))
        _ = try writer.finish(exitCode: 0, exitSignal: nil, syscalls: 1)
        XCTAssertEqual(failing(try verify()).keys.sorted(), ["signature"])
        XCTAssertTrue(failing(try verify())["signature"]!.contains("not signed"))
    }

    // MARK: - Helpers

    func writeManifest(_ manifest: TraceManifest) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(manifest).write(to: URL(fileURLWithPath: directory + "/manifest.json"))
    }

    func runTool(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: [UInt8]) {
        guard let tool = ["/usr/bin/\(name)", "/bin/\(name)"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            XCTFail("\(name) is not installed (Scripts/setup installs it)")
            return (-1, [])
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, [UInt8](output))
    }
}
