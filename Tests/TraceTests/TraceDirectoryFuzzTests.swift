import Foundation
import XCTest
@testable import Trace

/// A bounded, deterministic fuzz test of everything else a trace directory feeds the reader
/// and `magprov verify` (issue 11): manifest.json, checkpoints.jsonl and blob files. Each
/// round damages one of them in a small signed trace and runs the verifier, the reader (all
/// streams, with their damage) and the checkpoint parser on it; each must end in an answer
/// or a `TraceError`, never a crash, a trap or a hang. JSON files are mutated value by
/// value (extreme numbers, wrong types, removed keys) as well as byte by byte, and half of
/// them are re-committed and re-signed with the trace's key, so the mutated counts get past
/// the commitment check and reach the stream and blob checks behind it. Blob files are
/// damaged byte by byte and re-framed (a valid LZ4 frame of other bytes, a huge declared
/// size). `Scripts/fuzz-trace-reader` runs the same parsers under libFuzzer.
final class TraceDirectoryFuzzTests: XCTestCase {
    typealias Generator = TraceReaderFuzzTests.Generator
    let key = TraceSigningKey.ephemeral()

    func header() -> TraceHeader {
        TraceHeader(magprovVersion: "test", kernel: "k", hostname: "h", cpuModel: "c", cpuid: [],
                    featureMask: [], command: "true", argv: ["true"], environment: [], cwd: "/",
                    startTime: 0, uid: 0, gid: 0)
    }

    /// Two tasks, a checkpoint between their events, two blobs, a manifest.
    func writeTrace(_ directory: String) throws {
        let writer = try TraceWriter(directory: directory, header: header(), signingKey: key)
        var sequence: UInt64 = 0
        func read(_ tid: Int32, _ bytes: [UInt8]) throws {
            try writer.append(TraceEvent(sequence: sequence, time: sequence, tid: tid, body: .syscall(SyscallEvent(
                number: 0, arguments: [3, 0x10000, UInt64(bytes.count), 0, 0, 0], result: Int64(bytes.count),
                writes: [MemoryWrite(address: 0x10000, bytes: bytes)]))))
            sequence += 1
        }
        for i in 0..<20 { try read(i % 2 == 0 ? 10 : 11, Array("line \(i)\n".utf8)) }
        try writer.flushAll()
        try writer.checkpoint()
        // Blobs the verifier checks (small: a blob is any length up to 1 MiB, and the
        // reader's handling of a bad blob in an event has its own test).
        _ = try writer.blobs.put((0..<30_000).map { UInt8(truncatingIfNeeded: $0 / 3) })
        _ = try writer.blobs.put(Array("a small blob".utf8))
        for i in 0..<10 { try read(11, Array("more \(i)\n".utf8)) }
        try writer.flushAll()
        try writer.checkpoint()
        _ = try writer.finish(exitCode: 0, exitSignal: nil, syscalls: sequence)
    }

    /// Values that break parsers and the arithmetic behind them.
    static let extremes: [Any] = [
        -1, 0, 1, Int(Int32.max), Int(Int32.max) + 1, Int(UInt32.max) + 1, Int.max, Int.min, 1e300, -1e300, 0.5,
        "", "x", "../../../etc/passwd", String(repeating: "f", count: 64), String(repeating: "a", count: 5000),
        NSNull(), [Any](), [String: Any](), true,
    ]

    func testDamagedManifestsCheckpointsAndBlobsNeverCrashTheVerifierOrTheReader() throws {
        let directory = NSTemporaryDirectory() + "magprov-dirfuzz-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try writeTrace(directory)
        XCTAssertTrue(try TraceVerifier.verify(directory: directory, trustedKey: key.publicKeyHex).verified)
        let manifestPath = directory + "/manifest.json", checkpointsPath = directory + "/" + TraceCheckpoints.fileName
        let manifest = try Data(contentsOf: URL(fileURLWithPath: manifestPath))
        let checkpoints = try Data(contentsOf: URL(fileURLWithPath: checkpointsPath))
        XCTAssertEqual(TraceCheckpoints.parse(checkpoints).checkpoints.count, 2)
        let reader = try TraceReader(directory: directory)
        let blobIDs = try XCTUnwrap(reader.manifest?.blobIDs)
        XCTAssertFalse(blobIDs.isEmpty)
        let blobPaths = blobIDs.map { reader.blobs.path(for: $0) }
        let blobs = try blobPaths.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }

        var random = Generator(state: 0x7472_6163_6566_757A)
        var outcomes: [String: Int] = [:]
        for round in 0..<400 {
            let target = round % 4
            switch target {
            case 0, 1:  // the manifest (a finished trace)
                try mutatedManifest(manifest, &random, resign: round % 8 < 4).write(to: URL(fileURLWithPath: manifestPath))
            case 2:  // the checkpoints of a trace without a manifest (a killed recorder)
                try FileManager.default.removeItem(atPath: manifestPath)
                try mutatedCheckpoints(checkpoints, &random, resign: round % 8 < 4).write(to: URL(fileURLWithPath: checkpointsPath))
            default:  // one blob
                let k = random.below(blobs.count)
                try mutatedBlob(blobs[k], &random).write(to: URL(fileURLWithPath: blobPaths[k]))
            }
            do {
                let result = try TraceVerifier.verify(directory: directory, trustedKey: key.publicKeyHex)
                outcomes[result.verified ? "verified" : "failed", default: 0] += 1
                let trace = try TraceReader(directory: directory)
                // Writes stored in blobs are read (and checked) while the streams decode.
                let (_, damage) = trace.allEventsWithDamage()
                if !damage.isEmpty { outcomes["damaged streams", default: 0] += 1 }
                _ = TraceCheckpoints.read(directory: directory)
            } catch is TraceError {
                outcomes["trace error", default: 0] += 1
            }
            // Put the pristine files back.
            try manifest.write(to: URL(fileURLWithPath: manifestPath))
            try checkpoints.write(to: URL(fileURLWithPath: checkpointsPath))
            for (path, bytes) in zip(blobPaths, blobs) { try bytes.write(to: URL(fileURLWithPath: path)) }
        }
        // The damage is seen, and re-signed mutations get past the signature to the checks
        // behind it (some of them even verify: a re-signed manifest is a valid one).
        XCTAssertGreaterThan(outcomes["failed", default: 0], 200, "\(outcomes)")
        XCTAssertGreaterThan(outcomes["damaged streams", default: 0], 0, "\(outcomes)")
        XCTAssertTrue(try TraceVerifier.verify(directory: directory, trustedKey: key.publicKeyHex).verified)
    }

    /// Found while writing this fuzz test (by reading the code the mutations aim at): a
    /// manifest or checkpoint time no Int64 count of microseconds can hold (1e300, NaN)
    /// trapped while the commitment text was built, so `magprov verify` crashed on it. It
    /// now commits to the value's bits, and the edited manifest fails its commitment.
    func testATimeOutOfRangeIsCommittedNotTrappedOn() throws {
        XCTAssertEqual(TraceCommitment.commitmentMicroseconds(1.5), "1500000")
        XCTAssertEqual(TraceCommitment.commitmentMicroseconds(1e300), "bits:" + String((1e300).bitPattern, radix: 16))
        XCTAssertNotEqual(TraceCommitment.commitmentMicroseconds(.nan), TraceCommitment.commitmentMicroseconds(.infinity))
        let directory = NSTemporaryDirectory() + "magprov-dirfuzz-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try writeTrace(directory)
        let path = directory + "/manifest.json"
        var manifest = try JSONDecoder().decode(TraceManifest.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        manifest.endTime = 1e300
        try JSONEncoder().encode(manifest).write(to: URL(fileURLWithPath: path))
        let result = try TraceVerifier.verify(directory: directory, trustedKey: key.publicKeyHex)
        XCTAssertEqual(result.failures.first?.subject, "commitment")
    }

    // MARK: - Mutations

    /// A JSON document with one value replaced, a key removed, or bytes damaged.
    func mutatedJSON(_ data: Data, _ random: inout Generator) -> Data {
        if random.below(4) == 0 {
            var bytes = [UInt8](data)
            guard !bytes.isEmpty else { return data }
            let at = random.below(bytes.count)
            switch random.below(3) {
            case 0: bytes[at] = [0x22, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A, 0x30, 0x2D, 0x65][random.below(10)]  // " { } [ ] , : 0 - e
            case 1: bytes.removeSubrange(at..<min(bytes.count, at + 1 + random.below(20)))
            default: bytes.insert(contentsOf: Array("9999999999999999999999".utf8), at: at)
            }
            return Data(bytes)
        }
        guard var object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else { return data }
        for _ in 0..<(1 + random.below(3)) { object = mutateValue(object, &random, depth: 0) }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.fragmentsAllowed])) ?? data
    }

    /// Walks to a random value and replaces or removes it.
    func mutateValue(_ value: Any, _ random: inout Generator, depth: Int) -> Any {
        let descend = depth < 6 && random.below(4) != 0
        if var dictionary = value as? [String: Any], !dictionary.isEmpty, descend {
            let key = dictionary.keys.sorted()[random.below(dictionary.count)]
            if random.below(8) == 0 { dictionary.removeValue(forKey: key) } else {
                dictionary[key] = mutateValue(dictionary[key]!, &random, depth: depth + 1)
            }
            return dictionary
        }
        if var array = value as? [Any], !array.isEmpty, descend {
            let at = random.below(array.count)
            switch random.below(8) {
            case 0: array.remove(at: at)
            case 1: array.append(array[at])
            default: array[at] = mutateValue(array[at], &random, depth: depth + 1)
            }
            return array
        }
        return Self.extremes[random.below(Self.extremes.count)]
    }

    func mutatedManifest(_ data: Data, _ random: inout Generator, resign: Bool) -> Data {
        let mutated = mutatedJSON(data, &random)
        guard resign, var manifest = try? JSONDecoder().decode(TraceManifest.self, from: mutated) else { return mutated }
        manifest.rootChain = TraceCommitment.root(headerDigest: manifest.headerDigest, manifest: manifest)
        manifest.signature = try? key.sign(root: manifest.rootChain)
        return (try? JSONEncoder().encode(manifest)) ?? mutated
    }

    func mutatedCheckpoints(_ data: Data, _ random: inout Generator, resign: Bool) -> Data {
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false).map { Data($0) }
        let k = random.below(max(lines.count - 1, 1))
        lines[k] = mutatedJSON(lines[k], &random)
        if resign, var checkpoint = try? JSONDecoder().decode(TraceCheckpoint.self, from: lines[k]) {
            checkpoint.root = checkpoint.computedRoot()
            checkpoint.signature = try? key.sign(message: TraceCheckpoint.signedBytes(root: checkpoint.root))
            lines[k] = (try? JSONEncoder().encode(checkpoint)) ?? lines[k]
        }
        if random.below(10) == 0 { lines[k].removeLast(lines[k].count / 2) }  // cut off mid-line
        return Data(lines.joined(separator: [0x0A]))
    }

    func mutatedBlob(_ data: Data, _ random: inout Generator) -> Data {
        var bytes = [UInt8](data)
        switch random.below(5) {
        case 0:  // a valid LZ4 frame of other bytes: the name no longer fits
            var raw = (try? LZ4Frame.decompress(bytes, maximumLength: BlobStore.chunkLength)) ?? [1, 2, 3]
            if !raw.isEmpty { raw[random.below(raw.count)] ^= 0x20 }
            return Data(raw.withUnsafeBytes { LZ4Frame.compress($0) })
        case 1:  // the frame header's content size (bytes 6..<14 when the flag is set)
            if bytes.count > 14 { for i in 6..<14 { bytes[i] = 0xFF } }
        case 2: bytes.removeLast(random.below(bytes.count))
        case 3: bytes += [UInt8](repeating: UInt8(random.below(256)), count: 1 + random.below(64))
        default: if !bytes.isEmpty { bytes[random.below(bytes.count)] ^= UInt8(1 << random.below(8)) }
        }
        return Data(bytes)
    }
}
