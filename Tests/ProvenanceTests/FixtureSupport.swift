// Compiling Fixtures/provenance/*.c, recording them with the real recorder, and naming
// graph nodes in a way that does not depend on pids, inodes, ports or temporary paths,
// so a test can assert exact edges.

import FixtureSupport
import Foundation
import Recorder
import Trace
import XCTest
@testable import Provenance

enum ProvenanceFixtures {
    nonisolated(unsafe) static var built: [String: String] = [:]

    /// The compiled fixture `Fixtures/provenance/NAME.c`, as `fx_NAME` (static when the C
    /// library allows it: fewer loader events).
    static func binary(_ name: String) throws -> String {
        let source = "provenance/\(name).c"
        let output: String
        do {
            output = try FixtureCompiler.build(source, flags: ["-O1", "-static"], libraries: ["-lpthread"], name: "fx_\(name)")
        } catch {
            output = try FixtureCompiler.build(source, flags: ["-O1"], libraries: ["-lpthread"], name: "fx_\(name)")
        }
        built[name] = output
        return output
    }

    @discardableResult
    static func run(_ path: String, _ arguments: [String], directory: String? = nil) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    static func temporaryDirectory(_ label: String) -> String {
        let dir = NSTemporaryDirectory() + "magprov-prov-\(label)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Records `command` (run in `directory`) and returns the trace directory.
    static func record(_ command: [String], in directory: String, expectExit: Int32 = 0, syscallBuffer: Bool = false,
                       file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let trace = directory + "/trace-\(UUID().uuidString.prefix(6))"
        var options = RecordOptions(command: command, outputDirectory: trace)
        options.workingDirectory = directory
        options.syscallBuffer = syscallBuffer
        let recorder = Recorder(options: options)
        recorder.log = { _ in }
        let result = try recorder.run()
        XCTAssertEqual(result.exitCode, expectExit, "\(command.joined(separator: " ")) exit status", file: file, line: line)
        return trace
    }

    static func graph(ofTrace trace: String) throws -> ProvenanceGraph {
        CoarseGraphBuilder.build(trace: try TraceReader(directory: trace))
    }
}

/// Names nodes without run-specific numbers: `$D` for the test directory, processes as
/// `NAME#k` (k: order of first appearance), pipes as `pipe#k`, loopback ports as PORT.
struct StableNames {
    var directory: String
    var processIndex: [String: Int] = [:]
    var pipeIndex: [String: Int] = [:]

    init(_ graph: ProvenanceGraph, directory: String) {
        self.directory = directory
        for n in graph.nodes {
            if n.kind == .process, processIndex[n.entity] == nil { processIndex[n.entity] = processIndex.count }
            if n.kind == .pipe, pipeIndex[n.entity] == nil { pipeIndex[n.entity] = pipeIndex.count }
        }
    }

    func name(_ n: Node) -> String {
        var label: String
        switch n.kind {
        case .process:
            let exe = n.attributes["exe"]?.stringValue ?? ""
            let base = exe.isEmpty ? "process" : String(exe.split(separator: "/").last ?? "")
            label = "\(base)#\(processIndex[n.entity] ?? -1)"
        case .pipe where n.path.isEmpty:
            label = "pipe#\(pipeIndex[n.entity] ?? -1)"
        default:
            label = n.label
        }
        label = label.replacingOccurrences(of: directory, with: "$D")
        label = label.replacingOccurrences(of: #"127\.0\.0\.1:\d+"#, with: "127.0.0.1:PORT", options: .regularExpression)
        label = label.replacingOccurrences(of: #"socket:\[\d+\]"#, with: "socket", options: .regularExpression)
        return "\(n.kind.rawValue) \(label)" + (n.version > 1 ? " v\(n.version)" : "")
    }

    static func lines(_ graph: ProvenanceGraph, directory: String) -> Set<String> {
        let names = StableNames(graph, directory: directory)
        return Set(graph.edgeLines(includeSystem: false, name: names.name))
    }
}
