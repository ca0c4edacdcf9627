import FixtureSupport
import Foundation
import Recorder
import Trace
import XCTest

/// Builds `Fixtures/recorder/*.c` (through the shared FixtureCompiler) and records commands.
enum Fixtures {
    /// Path of the compiled fixture `name` (from Fixtures/recorder/<source>.c).
    static func binary(_ name: String, source: String? = nil, flags: [String] = []) throws -> String {
        try FixtureCompiler.build("recorder/\(source ?? name).c", flags: ["-O1"] + flags, libraries: ["-lpthread"], name: name)
    }

    @discardableResult
    static func run(_ path: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        do { try process.run() } catch { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    static func temporaryDirectory(_ label: String) -> String {
        let dir = NSTemporaryDirectory() + "magprov-\(label)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Records `command` into a fresh trace directory and opens it.
    static func record(_ command: [String], label: String = "trace", syscallBuffer: Bool = false) throws -> (RecordResult, TraceReader) {
        let directory = temporaryDirectory(label) + "/trace"
        var options = RecordOptions(command: command, outputDirectory: directory)
        options.syscallBuffer = syscallBuffer
        let recorder = Recorder(options: options)
        recorder.log = { _ in }
        let result = try recorder.run()
        return (result, try TraceReader(directory: directory))
    }
}

extension TraceReader {
    var allSyscalls: [(tid: Int32, event: SyscallEvent)] {
        allEvents().events.compactMap { if case .syscall(let s) = $0.body { return ($0.tid, s) } else { return nil } }
    }
    var taskStarts: [TaskStart] {
        allEvents().events.compactMap { if case .taskStart(let t) = $0.body { return t } else { return nil } }
    }
    var execs: [(tid: Int32, snapshot: ExecSnapshot)] {
        allEvents().events.compactMap { if case .exec(let x) = $0.body { return ($0.tid, x) } else { return nil } }
    }
}
