// `magprov replay` of a damaged trace: what is intact is replayed and reported, what is
// damaged is named (which stream or blob, which event), and the exit status is 4, the
// damaged-trace status, never 1 (divergence).

import Foundation
import Trace
import XCTest

extension CommandLineTests {
    /// A copy of the shared scenario trace, without its graph store.
    func copyOfScenario(_ label: String) throws -> String {
        let (_, trace) = try recordedScenario()
        let copy = CLI.temporaryDirectory(label) + "/trace"
        try FileManager.default.copyItem(atPath: trace, toPath: copy)
        try? FileManager.default.removeItem(atPath: copy + "/provenance.sqlite")
        try? FileManager.default.removeItem(atPath: copy + "/taint")
        return copy
    }

    /// The process that ran `program` (its exec's argv[0]) in `trace`.
    func pid(of program: String, in trace: String) throws -> Int32 {
        let reader = try TraceReader(directory: trace)
        var pidOfTask: [Int32: Int32] = [:]
        for event in reader.allEvents().events {
            if case .taskStart(let t) = event.body { pidOfTask[t.tid] = t.pid }
            if case .exec(let x) = event.body, x.argv.first == program { return pidOfTask[event.tid] ?? event.tid }
        }
        throw XCTSkip("no exec of \(program) in \(trace)")
    }

    /// One truncated stream (tr's): every other process image replays and is reported, tr
    /// is named as not checked with the damaged stream, the summary counts both, exit 4.
    func testReplayOfATruncatedStreamReplaysTheIntactProcesses() throws {
        let trace = try copyOfScenario("truncated-stream")
        let tr = try pid(of: "tr", in: trace)
        let stream = trace + "/tasks/\(tr).events"
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: stream))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: stream))

        let text = try CLI.run(["replay", trace])
        XCTAssertEqual(text.status, 4, text.stdout + text.stderr)
        let lines = text.stdout.split(separator: "\n").map(String.init)
        let damaged = try XCTUnwrap(lines.first { $0.hasPrefix("process \(tr) (") }, text.stdout)
        XCTAssertTrue(damaged.contains("not checked, the trace is damaged: its event stream after event "), damaged)
        XCTAssertTrue(damaged.contains("stream tasks/\(tr).events, frame "), damaged)
        XCTAssertTrue(damaged.contains("truncated"), damaged)
        let summary = try XCTUnwrap(lines.last)
        let pattern = try Regex(#"replayed (\d+) process images: (\d+) with no divergence, (\d+) not checked \(damaged trace\)"#)
        let match = try XCTUnwrap(summary.firstMatch(of: pattern), summary)
        let counts = (1...3).map { Int(match.output[$0].substring ?? "") ?? -1 }
        XCTAssertGreaterThanOrEqual(counts[1], 2, "sh and cat replay: \(summary)")
        XCTAssertGreaterThanOrEqual(counts[2], 1, summary)
        XCTAssertEqual(counts[1] + counts[2], counts[0], summary)
        XCTAssertTrue(text.stderr.contains("truncated"), text.stderr)
        XCTAssertTrue(text.stderr.split(separator: "\n").allSatisfy { $0.hasPrefix("magprov: ") }, text.stderr)

        let json = try CLI.run(["replay", "--json", trace])
        XCTAssertEqual(json.status, 4, json.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(report["diverged"] as? Int, 0)
        XCTAssertGreaterThanOrEqual(report["completed"] as? Int ?? 0, 2)
        let processes = try XCTUnwrap(report["processes"] as? [[String: Any]])
        let notChecked = processes.filter { $0["outcome"] as? String == "damaged" }
        XCTAssertEqual(report["damaged"] as? Int, notChecked.count)
        XCTAssertTrue(notChecked.contains { $0["pid"] as? Int == Int(tr) && $0["forkedFrom"] == nil }, "\(notChecked)")
        // tr's life before its exec (sh's forked child) ends at an exec read intact: it is
        // not touched by the damage after it, so it replays.
        let preExec = try XCTUnwrap(processes.first { $0["pid"] as? Int == Int(tr) && $0["forkedFrom"] != nil }, "\(processes)")
        XCTAssertEqual(preExec["outcome"] as? String, "completed", "\(preExec)")
        for process in notChecked {
            let damage = try XCTUnwrap(process["damage"] as? [String: Any])
            XCTAssertFalse((damage["location"] as? String ?? "").isEmpty, "\(damage)")
        }
        XCTAssertTrue(processes.contains { $0["outcome"] as? String == "completed" && ($0["executable"] as? String ?? "").hasSuffix("/cat") },
                      "\(processes)")
    }

    /// A graph store built while the trace was intact, then a stream truncated: `why` does
    /// not answer from the old store (its seal binds the manifest, not the streams) but
    /// rebuilds from the intact part, and exits 4 with the damage named.
    func testQueriesOnATraceDamagedAfterItsStoreWasBuiltRebuildAndExit4() throws {
        let trace = try copyOfScenario("damaged-after-store")
        let before = try CLI.run(["why", trace, "out.txt"])
        XCTAssertEqual(before.status, 0, before.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: trace + "/provenance.sqlite"))
        let tr = try pid(of: "tr", in: trace)
        let stream = trace + "/tasks/\(tr).events"
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: stream))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: stream))
        // Whether out.txt is still known (tr's write may be in the lost half) or not, the
        // answer is from the intact part and the exit status says so.
        let after = try CLI.run(["why", trace, "out.txt"])
        XCTAssertEqual(after.status, 4, after.stdout + after.stderr)
        XCTAssertTrue(after.stderr.contains("tasks/\(tr).events"), after.stderr)
        XCTAssertFalse(after.stderr.contains("nothing in this recording is known"), after.stderr)
    }

    /// `info`'s trace size is the recording's: taint summaries and the graph store, which
    /// later commands derive from it, are not counted.
    func testInfoSizeCountsTheRecordingOnly() throws {
        let trace = try copyOfScenario("info-size")
        func size() throws -> Int {
            let r = try CLI.run(["info", "--json", trace])
            XCTAssertEqual(r.status, 0, r.stderr)
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            return try XCTUnwrap(object["traceBytes"] as? Int)
        }
        let recorded = try size()
        XCTAssertGreaterThan(recorded, 0)
        try FileManager.default.createDirectory(atPath: trace + "/taint", withIntermediateDirectories: true)
        try Data(count: 1 << 20).write(to: URL(fileURLWithPath: trace + "/taint/1-1.json"))
        XCTAssertEqual(try CLI.run(["why", trace, "out.txt"]).status, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: trace + "/provenance.sqlite"))
        XCTAssertEqual(try size(), recorded)
    }

    /// `info` on a truncated stream: stdout says its counts are partial and gives the event
    /// bytes on disk beside the committed ones; each problem is printed once; exit 4.
    func testInfoOnATruncatedStreamSaysItsCountsArePartialAndReportsEachProblemOnce() throws {
        let trace = try copyOfScenario("info-damaged")
        let stream = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: trace + "/tasks")
            .filter { $0.hasSuffix(".events") }.sorted().first)
        let path = trace + "/tasks/" + stream
        let size = try XCTUnwrap((try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue)
        XCTAssertEqual(truncate(path, off_t(size / 2)), 0)
        let r = try CLI.run(["info", trace])
        XCTAssertEqual(r.status, 4, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("damaged:     the counts below cover the intact part"), r.stdout)
        XCTAssertTrue(r.stdout.contains(" committed, blobs "), r.stdout)
        let mismatch = "stream tasks/\(stream): \(size / 2) bytes on disk"
        XCTAssertEqual(r.stderr.components(separatedBy: mismatch).count - 1, 1, r.stderr)
        let json = try CLI.run(["info", "--json", trace])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["partial"] as? Bool, true)
        XCTAssertEqual(object["eventStreamBytesCommitted"] as? Int ?? 0, (object["eventStreamBytes"] as? Int ?? 0) + size - size / 2)
    }

    /// A corrupt blob (the exec snapshot of echo): reported as damage with the blob and the
    /// event that needed it, never as a divergence, with a summary that adds up; exit 4.
    func testReplayReportsACorruptBlobAsDamageWithItsEvent() throws {
        let dir = CLI.temporaryDirectory("corrupt-blob")
        XCTAssertEqual(try CLI.run(["record", "-o", "trace", "--", "/bin/echo", "hi"], in: dir).status, 0)
        let trace = dir + "/trace"
        let reader = try TraceReader(directory: trace)
        let (sequence, mapping) = try XCTUnwrap(reader.allEvents().events.lazy.compactMap { event -> (UInt64, MappingSnapshot)? in
            guard case .exec(let x) = event.body, let m = x.mappings.first(where: { $0.path.hasSuffix("/echo") && !$0.blobs.isEmpty })
            else { return nil }
            return (event.sequence, m)
        }.first, "echo's exec snapshot holds its mapped bytes")
        let blob = mapping.blobs[0]
        let path = reader.blobs.path(for: blob)
        var bytes = try XCTUnwrap(FileManager.default.contents(atPath: path))
        for i in (bytes.count / 2)..<min(bytes.count / 2 + 64, bytes.count) { bytes[i] ^= 0x5a }
        try bytes.write(to: URL(fileURLWithPath: path))

        let text = try CLI.run(["replay", trace])
        XCTAssertEqual(text.status, 4, text.stdout + text.stderr)
        XCTAssertFalse(text.stdout.contains("divergence in"), text.stdout)
        XCTAssertTrue(text.stdout.contains("not checked, the trace is damaged: blob \(blob) is corrupt"), text.stdout)
        XCTAssertTrue(text.stdout.contains("the exec snapshot's mapping of \(mapping.path)"), text.stdout)
        XCTAssertTrue(text.stdout.contains("(event \(sequence) of task "), text.stdout)
        XCTAssertTrue(text.stdout.contains("replayed 1 process image: 0 with no divergence, 1 not checked (damaged trace)"), text.stdout)
        XCTAssertTrue(text.stderr.hasPrefix("magprov: "), text.stderr)

        let json = try CLI.run(["replay", "--json", trace])
        XCTAssertEqual(json.status, 4, json.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(report["diverged"] as? Int, 0)
        XCTAssertEqual(report["damaged"] as? Int, 1)
        XCTAssertEqual(report["completed"] as? Int, 0)
        let process = try XCTUnwrap((report["processes"] as? [[String: Any]])?.first)
        let damage = try XCTUnwrap(process["damage"] as? [String: Any])
        XCTAssertEqual(damage["sequence"] as? Int, Int(sequence))
        XCTAssertTrue((damage["error"] as? String ?? "").contains(blob), "\(damage)")
    }
}
