import FixtureSupport
import Foundation
import Recorder
import Replayer
import Trace
import XCTest

/// Issue 9's "Done means" list: each command recorded natively once and replayed ten
/// times with the default jobs (every core), with zero divergence each time. The inputs
/// are small so each case takes a few seconds in a release build. Not here yet: the
/// coreutils and python3 cases recorded with `--no-feature-mask`, which stop at glibc's
/// AVX-512 (EVEX) string functions (`vpbroadcastb ymm17, esi`) until those forms exist.
extension ReplayTests {
    /// Records `command` (with or without the feature mask) and replays the trace `times`
    /// times with `ReplayOptions()`'s default jobs; fails with each divergence.
    func assertReplaysRepeatedly(_ command: [String], times: Int = 10, maskCPUFeatures: Bool = true,
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        let directory = "\(Self.work)/trace-\(UUID().uuidString.prefix(8))"
        var options = RecordOptions(command: command, outputDirectory: directory)
        options.maskCPUFeatures = maskCPUFeatures
        let recorder = Recorder(options: options)
        recorder.log = { _ in }
        _ = try recorder.run()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let session = ReplaySession(trace: try TraceReader(directory: directory))
        for round in 0..<times {
            let summary = session.run(options: ReplayOptions())
            XCTAssertFalse(summary.allResults.isEmpty, file: file, line: line)
            for (unit, divergence) in summary.divergences {
                XCTFail("\(command.joined(separator: " ")) round \(round): process \(unit.pid) \(unit.executable): \(divergence)",
                        file: file, line: line)
            }
            if !summary.divergences.isEmpty { return }
        }
    }

    func testDoneMeansListReplaysTenTimesWithDefaultJobs() throws {
        let dir = "\(Self.work)/done-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir + "/git", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = (0..<2000).map { "\(($0 * 7919) % 2001) word\($0 % 97) line \($0)" }.joined(separator: "\n") + "\n"
        try text.write(toFile: dir + "/F", atomically: true, encoding: .utf8)
        try assertReplaysRepeatedly(["sh", "-c", "cat \(dir)/F | wc -l > /dev/null"])
        try assertReplaysRepeatedly(["sh", "-c", "xz -c \(dir)/F | xz -dc > /dev/null"])
        try assertReplaysRepeatedly(["sh", "-c", "cd \(dir)/git && git init -q . && git -c user.name=magprov -c user.email=magprov@example.org "
                                         + "commit -q --allow-empty -m x && git log --oneline > /dev/null"])
        try assertReplaysRepeatedly(["env", "-i", "/bin/echo", "hi"])
        if Self.cpuHasRandomInstructions {
            let program = try FixtureCompiler.build("recorder/random_device.cpp", flags: ["-O1"], libraries: ["-lstdc++"])
            try assertReplaysRepeatedly(["sh", "-c", "\(program) > /dev/null"])
        }
    }
}
