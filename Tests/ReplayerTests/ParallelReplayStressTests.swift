import Foundation
import Recorder
import Replayer
import Trace
import XCTest

/// Parallel replay is deterministic: the same trace replays with zero divergence however
/// the worker threads interleave.
///
/// The flake this guards against lived in Capstone 4's lazily sorted register table
/// (see `CapstoneHandle`): it could only strike while a process decoded its first
/// instructions on several threads at once, so each replay here is a fresh `magprov`
/// process using every core, as a user runs it.
final class ParallelReplayStressTests: XCTestCase {
    /// The `magprov` executable next to the test bundle (swift test builds every product).
    /// On Linux the test bundle is an executable, so its own folder comes first.
    static var magprov: String? {
        var directory = Bundle.main.executableURL?.deletingLastPathComponent()
            ?? Bundle(for: ParallelReplayStressTests.self).bundleURL.deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("magprov").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }

    func testTwoHundredParallelReplaysOfAPipelineNeverDiverge() throws {
        guard let magprov = Self.magprov else { throw XCTSkip("the magprov product is not built next to the tests") }
        let work = ReplayTests.work
        let input = "\(work)/stress-input.txt"
        try (1...500).map { "line \($0)" }.joined(separator: "\n").write(toFile: input, atomically: true, encoding: .utf8)
        let directory = "\(work)/stress-trace-\(UUID().uuidString.prefix(8))"
        let recorder = Recorder(options: RecordOptions(command: ["sh", "-c", "sort -r \(input) | gzip | cat > /dev/null"],
                                                       outputDirectory: directory))
        recorder.log = { _ in }
        _ = try recorder.run()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let cores = ProcessInfo.processInfo.activeProcessorCount
        var failures: [String] = []
        for round in 0..<200 {
            let replay = Process()
            replay.executableURL = URL(fileURLWithPath: magprov)
            replay.arguments = ["replay", directory, "--jobs", String(max(cores, 4))]
            let output = Pipe()
            replay.standardOutput = output
            replay.standardError = output
            try replay.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            replay.waitUntilExit()
            if replay.terminationStatus != 0 {
                failures.append("round \(round): exit \(replay.terminationStatus): \(text.prefix(400))")
            }
        }
        XCTAssertEqual(failures, [], "\(failures.count) of 200 parallel replays diverged")
    }
}
