import Foundation
import Recorder
import Trace
import XCTest

/// What a real recording leaves on disk: standard LZ4 blobs, bounded frames however large
/// one read is, private permissions, and a signed commitment that verifies.
final class TraceFileTests: XCTestCase {
    /// Records `command` signing with a key created in a fresh folder.
    func record(_ command: [String], label: String) throws -> (directory: String, key: String) {
        let base = Fixtures.temporaryDirectory(label)
        var options = RecordOptions(command: command, outputDirectory: base + "/trace")
        options.signingKeyDirectory = base + "/config/magprov"
        let recorder = Recorder(options: options)
        recorder.log = { _ in }
        let result = try recorder.run()
        XCTAssertEqual(result.exitCode, 0)
        let key = try XCTUnwrap(TraceSigningKey.existingPublicKey(directory: base + "/config/magprov"))
        return (base + "/trace", key)
    }

    func testEveryBlobOfARecordingPassesLZ4Test() throws {
        let (directory, key) = try record(["sh", "-c", "cat /etc/passwd | wc -l > /dev/null"], label: "lz4")
        let reader = try TraceReader(directory: directory)
        let blobs = try XCTUnwrap(reader.manifest?.blobIDs)
        XCTAssertGreaterThan(blobs.count, 5, "the loader's mappings are blobs")
        let paths = blobs.map { reader.blobs.path(for: $0) }
        let lz4 = Process()
        lz4.executableURL = URL(fileURLWithPath: "/usr/bin/lz4")
        lz4.arguments = ["-t", "-m", "-q"] + paths
        lz4.standardError = FileHandle.nullDevice
        XCTAssertNoThrow(try lz4.run(), "the lz4 tool is missing (Scripts/setup installs it)")
        lz4.waitUntilExit()
        XCTAssertEqual(lz4.terminationStatus, 0, "lz4 -t rejects a blob of \(directory)")
        var info = stat()
        XCTAssertEqual(stat(directory, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o700)
        XCTAssertEqual(stat(paths[0], &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
        let verification = try TraceVerifier.verify(directory: directory, trustedKey: key)
        XCTAssertTrue(verification.verified, "\(verification.failures)")
    }

    /// One read of 40 MB: every frame stays within the 1 MiB inline limit plus a frame's
    /// target, and the event reads back with all 40 MB (issue: a 100 MB read made a 104 MB
    /// frame that made the task's later events unreadable).
    func testLargeReadIsRecordedInBoundedFramesAndReadsBack() throws {
        let work = Fixtures.temporaryDirectory("bigread")
        let input = work + "/input.bin"
        let size = 40 << 20
        var bytes = [UInt8](repeating: 0, count: size)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in stride(from: 0, to: size, by: 8) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            withUnsafeBytes(of: state) { for k in 0..<8 { bytes[i + k] = $0[k] } }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: input))
        defer { try? FileManager.default.removeItem(atPath: work) }
        let (directory, key) = try record(["dd", "if=\(input)", "of=/dev/null", "bs=\(size)", "count=1", "status=none"],
                                          label: "bigread")
        let reader = try TraceReader(directory: directory)
        let (events, errors) = reader.allEvents()
        XCTAssertTrue(errors.isEmpty, "\(errors)")
        let reads = events.compactMap { e -> SyscallEvent? in
            if case .syscall(let s) = e.body, s.number == 0, s.result == Int64(size) { return s } else { return nil }
        }
        let read = try XCTUnwrap(reads.first, "the 40 MB read is in the trace")
        XCTAssertEqual(read.writes.count, 1)
        XCTAssertTrue(read.writes[0].bytes == bytes, "the read's bytes come back whole")
        XCTAssertTrue(events.contains { if case .taskExit = $0.body { return true } else { return false } },
                      "events after the read are readable")
        for tid in reader.taskIDs {
            var stream = try reader.stream(tid: tid)
            while try stream.nextFrame() != nil {}
            XCTAssertLessThanOrEqual(stream.largestRawFrame, inlineEventLimit + (256 << 10) + (64 << 10))
        }
        XCTAssertTrue(try TraceVerifier.verify(directory: directory, trustedKey: key).verified)
        try? FileManager.default.removeItem(atPath: directory)
    }
}
