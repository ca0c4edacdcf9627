// The built `magprov` binary run as a user runs it: every subcommand's --help, the exit
// status table (ExitStatus) for each situation, one error style, and the --json documents.

import Foundation
import Trace
import XCTest

/// Runs the `magprov` executable SwiftPM built beside this test bundle.
enum CLI {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static var binary: String {
        let directory = Bundle.main.executableURL?.deletingLastPathComponent()
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return directory.appendingPathComponent("magprov").path
    }

    static func temporaryDirectory(_ label: String) -> String {
        let dir = NSTemporaryDirectory() + "magprov-cli-\(label)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// `magprov ARGUMENTS` in `directory`, standard output and error captured through files
    /// (no pipe can fill up and stall the child).
    @discardableResult
    static func run(_ arguments: [String], in directory: String? = nil) throws -> Outcome {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw XCTSkip("magprov is not built at \(binary)")
        }
        let scratch = temporaryDirectory("out")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let outPath = scratch + "/stdout", errPath = scratch + "/stderr"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try out.close(); try err.close()
        return Outcome(status: process.terminationStatus,
                       stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }
}

final class CommandLineTests: XCTestCase {
    static let subcommands = ["record", "info", "dump", "graph", "why", "impact", "alerts", "replay", "verify", "lockstep"]

    /// One small recording shared by the tests: sh, cat and tr through a pipe, and a
    /// failed open (ls of a missing file) for errno.
    nonisolated(unsafe) static var scenario: (directory: String, trace: String)?

    func recordedScenario() throws -> (directory: String, trace: String) {
        if let scenario = Self.scenario { return scenario }
        let dir = CLI.temporaryDirectory("scenario")
        try "hello\nworld\n".write(toFile: dir + "/in.txt", atomically: false, encoding: .utf8)
        let r = try CLI.run(["record", "-o", "trace", "--", "/bin/sh", "-c",
                             "cat in.txt | tr a-z A-Z > out.txt; ls missing.txt 2>/dev/null; true"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        Self.scenario = (dir, dir + "/trace")
        return (dir, dir + "/trace")
    }

    /// A relative file name is tried against the recorded working directory too, wherever
    /// `why` runs from, also when the graph store was built from another directory with a
    /// relative trace path (`why --help` promises it).
    func testRelativeNamesResolveAgainstTheRecordedDirectory() throws {
        let (dir, _) = try recordedScenario()
        let built = try CLI.run(["why", "trace", "out.txt"], in: dir)
        XCTAssertEqual(built.status, 0, built.stderr)
        let elsewhere = try CLI.run(["why", dir + "/trace", "out.txt"], in: "/")
        XCTAssertEqual(elsewhere.status, 0, elsewhere.stderr)
        XCTAssertTrue(elsewhere.stdout.contains("in.txt"), elsewhere.stdout)
    }

    func assertOneErrorStyle(_ r: CLI.Outcome, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(r.stderr.hasPrefix("magprov: "), "stderr: \(r.stderr)", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Error:"), "stderr: \(r.stderr)", file: file, line: line)
    }

    // MARK: help

    /// `magprov --help` and every subcommand's --help exit 0, print the help, run nothing
    /// (no trace directory appears), and no option states its default twice.
    func testEveryHelpExitsZeroAndStatesDefaultsOnce() throws {
        let dir = CLI.temporaryDirectory("help")
        for arguments in [["--help"]] + Self.subcommands.map({ [$0, "--help"] }) {
            let r = try CLI.run(arguments, in: dir)
            XCTAssertEqual(r.status, 0, "\(arguments): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("USAGE: magprov"), "\(arguments): \(r.stdout)")
            XCTAssertFalse(r.stdout.split(separator: "\n").contains { $0.hasSuffix("\\") },
                           "\(arguments): a line continuation leaked into the help:\n\(r.stdout)")
            // Options are blocks that start with "  -"; continuation lines are indented further.
            var blocks: [String] = []
            for line in r.stdout.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("  -") || line.hasPrefix("  <") { blocks.append(String(line)) }
                else if line.hasPrefix("      "), !blocks.isEmpty { blocks[blocks.count - 1] += " " + line.trimmingCharacters(in: .whitespaces) }
                else if !line.hasPrefix("  ") { blocks.append("") }
            }
            for block in blocks {
                XCTAssertLessThanOrEqual(block.components(separatedBy: "(default:").count - 1, 1, "\(arguments): \(block)")
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [], "--help must not record anything")
    }

    /// The exit-status table is in the top-level help.
    func testTopLevelHelpListsTheExitStatusTable() throws {
        let r = try CLI.run(["--help"])
        for line in ["0    success", "1    replay diverged", "2    usage error", "3    trace, file or node not found",
                     "4    damaged or unreadable trace", "125", "126", "127"] {
            XCTAssertTrue(r.stdout.contains(line), "missing \(line) in:\n\(r.stdout)")
        }
    }

    // MARK: exit statuses

    /// A trace directory that does not exist: 3, for every command that reads one.
    func testMissingTraceExitsThree() throws {
        let missing = CLI.temporaryDirectory("missing") + "/no-such.trace"
        for arguments in [["info", missing], ["dump", missing], ["replay", missing], ["graph", missing],
                          ["why", missing, "x"], ["impact", missing, "x"], ["alerts", missing]] {
            let r = try CLI.run(arguments)
            XCTAssertEqual(r.status, 3, "\(arguments): \(r.stderr)")
            assertOneErrorStyle(r)
            XCTAssertTrue(r.stderr.contains("no-such.trace"), r.stderr)
        }
    }

    /// A truncated event stream: info, dump and replay report the damage and exit 4; a
    /// directory that is not a trace is 4 as well.
    func testDamagedTraceExitsFour() throws {
        let (_, trace) = try recordedScenario()
        let damaged = CLI.temporaryDirectory("damaged") + "/trace"
        try FileManager.default.copyItem(atPath: trace, toPath: damaged)
        try? FileManager.default.removeItem(atPath: damaged + "/provenance.sqlite")
        let streams = try FileManager.default.contentsOfDirectory(atPath: damaged + "/tasks").map { damaged + "/tasks/" + $0 }
        let largest = try XCTUnwrap(streams.max { (try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int ?? 0) ?? 0
                                                 < (try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int ?? 0) ?? 0 })
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: largest))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: largest))
        for arguments in [["info", damaged], ["dump", damaged], ["replay", damaged], ["graph", damaged, "-o", "/dev/null"]] {
            let r = try CLI.run(arguments)
            XCTAssertEqual(r.status, 4, "\(arguments): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("truncated"), "\(arguments): \(r.stderr)")
            XCTAssertTrue(r.stderr.split(separator: "\n").allSatisfy { $0.hasPrefix("magprov: ") }, r.stderr)
        }
        let notATrace = CLI.temporaryDirectory("empty")
        let r = try CLI.run(["info", notATrace])
        XCTAssertEqual(r.status, 4, r.stderr)
        assertOneErrorStyle(r)
    }

    /// A replay that leaves the recorded path exits 1 and says where, in text and JSON. The
    /// divergence is made by rewriting a recorded `echo hi` with the trace library: the
    /// digest of the bytes its write(2) passed in no longer matches what the program writes.
    func testDivergenceExitsOne() throws {
        let dir = CLI.temporaryDirectory("divergence")
        XCTAssertEqual(try CLI.run(["record", "-o", "original", "--", "/bin/echo", "hi"], in: dir).status, 0)
        let reader = try TraceReader(directory: dir + "/original")
        let writer = try TraceWriter(directory: dir + "/altered", header: reader.header)
        try FileManager.default.removeItem(atPath: dir + "/altered/blobs")
        try FileManager.default.copyItem(atPath: dir + "/original/blobs", toPath: dir + "/altered/blobs")
        var altered = false, syscalls: UInt64 = 0
        for var event in reader.allEvents().events {
            if case .syscall(var s) = event.body {
                syscalls += 1
                if !altered, s.number == 1 /* write */, !s.inputs.isEmpty {
                    s.inputs[0].hash ^= 1
                    event.body = .syscall(s)
                    altered = true
                }
            }
            try writer.append(event)
        }
        XCTAssertTrue(altered, "echo's write was recorded with its input digest")
        _ = try writer.finish(exitCode: 0, exitSignal: nil, syscalls: syscalls)

        let text = try CLI.run(["replay", dir + "/altered"])
        XCTAssertEqual(text.status, 1, text.stdout + text.stderr)
        XCTAssertTrue(text.stdout.contains("passes different bytes than the recording"), text.stdout)
        let json = try CLI.run(["replay", "--json", dir + "/altered"])
        XCTAssertEqual(json.status, 1, json.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(report["diverged"] as? Int, 1)
        let processes = try XCTUnwrap(report["processes"] as? [[String: Any]])
        let divergence = try XCTUnwrap(processes.compactMap { $0["divergence"] as? [String: Any] }.first)
        XCTAssertTrue((divergence["reason"] as? String ?? "").contains("different bytes"), "\(divergence)")
        XCTAssertGreaterThan(divergence["instructionCount"] as? Int ?? 0, 0)
    }

    /// Bad options and arguments: 2, as two lines: "magprov: " and the message, then where
    /// the usage is explained (not argument-parser's help block and whole usage).
    func testUsageErrorsExitTwoWithOneLineAndAUsageHint() throws {
        let (_, trace) = try recordedScenario()
        for (arguments, command) in [(["replay"], "replay"), (["info", "--no-such-option", trace], "info"),
                                     (["replay", "--jobs", "0", trace], "replay"), (["graph", trace, "--format", "png"], "graph"),
                                     (["why", trace, "out.txt", "--bytes", "9-2"], "why"), (["frobnicate"], nil)] {
            let r = try CLI.run(arguments)
            XCTAssertEqual(r.status, 2, "\(arguments): \(r.stderr)")
            assertOneErrorStyle(r)
            let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false)
            XCTAssertEqual(lines.count, 3, "two lines and the final newline: \(arguments): \(r.stderr)")
            XCTAssertEqual(lines.dropFirst().first.map(String.init),
                           "magprov: usage: see `magprov\(command.map { " " + $0 } ?? "") --help`", "\(arguments)")
        }
        let record = try CLI.run(["record", "--watchdog-ms", "0", "--", "/bin/true"])
        XCTAssertEqual(record.status, 125, record.stderr)
        XCTAssertEqual(record.stderr, "magprov: --watchdog-ms must be positive\nmagprov: usage: see `magprov record --help`\n")
    }

    /// `replay --pid` and `dump --pid` with a process the trace does not have: 3, naming the
    /// pid and the processes it has, and nothing on standard output.
    func testUnknownPidExitsThree() throws {
        let (_, trace) = try recordedScenario()
        for arguments in [["replay", "--pid", "999999", trace], ["dump", "--pid", "999999", trace]] {
            let r = try CLI.run(arguments)
            XCTAssertEqual(r.status, 3, "\(arguments): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("magprov: the trace has no process 999999 (its processes: "), r.stderr)
            XCTAssertEqual(r.stdout, "", "\(arguments)")
        }
    }

    /// `record -o` of an existing trace refuses before running anything and leaves the
    /// recorded trace as it was; so does `record --json` of a path that cannot be written.
    func testRecordChecksItsOutputsBeforeStartingTheCommand() throws {
        let dir = CLI.temporaryDirectory("record-outputs")
        XCTAssertEqual(try CLI.run(["record", "-o", "t", "--", "/bin/true"], in: dir).status, 0)
        let before = try FileManager.default.subpathsOfDirectory(atPath: dir + "/t").sorted()
        let header = try XCTUnwrap(FileManager.default.contents(atPath: dir + "/t/header.json"))

        let again = try CLI.run(["record", "-o", "t", "--", "/bin/sh", "-c", "touch ran"], in: dir)
        XCTAssertEqual(again.status, 125, again.stderr)
        XCTAssertEqual(again.stderr, "magprov: t already exists and holds a recorded magprov trace; magprov never overwrites it: "
                                     + "choose another directory with -o, or remove it first\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/ran"), "the command must not run")
        XCTAssertEqual(try FileManager.default.subpathsOfDirectory(atPath: dir + "/t").sorted(), before)
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/t/header.json"), header)

        let badJSON = try CLI.run(["record", "--json", dir + "/no-such-dir/summary.json", "-o", "t2", "--",
                                   "/bin/sh", "-c", "touch ran"], in: dir)
        XCTAssertEqual(badJSON.status, 125, badJSON.stderr)
        XCTAssertEqual(badJSON.stderr, "magprov: cannot write \(dir)/no-such-dir/summary.json: No such file or directory\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/ran"), "the command must not run")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/t2"), "no trace is left")
    }

    /// The graph store is private like every other file of the trace (0600).
    func testGraphStoreIsCreatedPrivate() throws {
        let (dir, trace) = try recordedScenario()
        XCTAssertEqual(try CLI.run(["graph", trace, "-o", dir + "/private-check.json"]).status, 0)
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: trace + "/provenance.sqlite")[.posixPermissions] as? Int)
        XCTAssertEqual(mode, 0o600, String(mode, radix: 8))
    }

    /// An edited graph store (one byte changed) fails `verify`'s "graph store" check, and
    /// `why` says so on stderr and answers from a store rebuilt from the trace.
    func testAnEditedGraphStoreFailsVerifyAndIsRebuilt() throws {
        let dir = CLI.temporaryDirectory("edited-store")
        try "hello\n".write(toFile: dir + "/in.txt", atomically: false, encoding: .utf8)
        XCTAssertEqual(try CLI.run(["record", "-o", "t", "--", "/bin/sh", "-c", "cat in.txt > out.txt"], in: dir).status, 0)
        XCTAssertEqual(try CLI.run(["why", "t", "out.txt"], in: dir).status, 0)
        let clean = try CLI.run(["verify", "t"], in: dir)
        XCTAssertTrue(clean.stdout.contains("ok   graph store:"), clean.stdout)
        let store = dir + "/t/provenance.sqlite"
        var bytes = try XCTUnwrap(FileManager.default.contents(atPath: store))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: store))
        let verify = try CLI.run(["verify", "t"], in: dir)
        XCTAssertEqual(verify.status, 1, verify.stdout)
        XCTAssertTrue(verify.stdout.contains("FAIL graph store:") && verify.stdout.contains("changed after magprov wrote it"), verify.stdout)
        let why = try CLI.run(["why", "t", "out.txt"], in: dir)
        XCTAssertEqual(why.status, 0, why.stderr)
        XCTAssertTrue(why.stderr.contains("magprov: warning:") && why.stderr.contains("rebuilding the graph store"), why.stderr)
        XCTAssertTrue(why.stdout.contains("in.txt"), why.stdout)
        XCTAssertEqual(try CLI.run(["verify", "t"], in: dir).status, 0)
    }

    /// A query that needs the refined graph on a trace not replayed with --taint: 5 (any
    /// other failure), saying what to run.
    func testAlertsBeforeRefinementExitsFive() throws {
        let dir = CLI.temporaryDirectory("unrefined")
        XCTAssertEqual(try CLI.run(["record", "-o", "t", "--", "/bin/true"], in: dir).status, 0)
        let r = try CLI.run(["alerts", "t"], in: dir)
        XCTAssertEqual(r.status, 5, r.stderr)
        assertOneErrorStyle(r)
        XCTAssertTrue(r.stderr.contains("replay --taint"), r.stderr)
    }

    /// `why` of something the recording never saw: 3.
    func testUnknownTargetExitsThree() throws {
        let (_, trace) = try recordedScenario()
        let r = try CLI.run(["why", trace, "never-seen.txt"])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("magprov: nothing in this recording is known as never-seen.txt"), r.stderr)
    }

    /// `record` passes the command's status through; magprov's own failures are 125-127
    /// (as env and timeout report theirs), and a command that never ran leaves no trace.
    func testRecordPassesTheCommandStatusThrough() throws {
        let dir = CLI.temporaryDirectory("record")
        XCTAssertEqual(try CLI.run(["record", "-o", "t1", "--", "/bin/false"], in: dir).status, 1)
        XCTAssertEqual(try CLI.run(["record", "-o", "t2", "--", "/bin/sh", "-c", "exit 7"], in: dir).status, 7)
        let notFound = try CLI.run(["record", "-o", "t3", "--", "/nonexistent"], in: dir)
        XCTAssertEqual(notFound.status, 127, notFound.stderr)
        XCTAssertEqual(notFound.stderr, "magprov: /nonexistent: command not found\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/t3"), "no trace of a command that never ran")
        let notExecutable = try CLI.run(["record", "-o", "t4", "--", dir], in: dir)
        XCTAssertEqual(notExecutable.status, 126, notExecutable.stderr)
        let noCommand = try CLI.run(["record"], in: dir)
        XCTAssertEqual(noCommand.status, 125, noCommand.stderr)
        assertOneErrorStyle(noCommand)
        let badOption = try CLI.run(["record", "--no-such-option", "--", "/bin/true"], in: dir)
        XCTAssertEqual(badOption.status, 125, badOption.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["t1", "t2"])
    }

    // MARK: --json

    /// `record --json FILE`: the summary goes to the file, the program's output alone to
    /// standard output; `--json -` puts it on standard error.
    func testRecordJSONSummaryNeverMixesIntoTheProgramsOutput() throws {
        let dir = CLI.temporaryDirectory("record-json")
        let r = try CLI.run(["record", "--json", "summary.json", "-o", "t", "--", "/bin/sh", "-c", "echo hi; exit 3"], in: dir)
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertEqual(r.stdout, "hi\n")
        XCTAssertEqual(r.stderr, "", "the JSON replaces the text summary")
        struct Summary: Decodable {
            var trace: String, command: [String], exitCode: Int32?, status: Int32, tasks: Int, syscalls: UInt64
            var traceBytes: UInt64, rootChain: String, hashedBytes: UInt64, hashSeconds: Double
        }
        let summary = try JSONDecoder().decode(Summary.self, from: try XCTUnwrap(FileManager.default.contents(atPath: dir + "/summary.json")))
        XCTAssertEqual(summary.trace, "t")
        XCTAssertEqual(summary.command, ["/bin/sh", "-c", "echo hi; exit 3"])
        XCTAssertEqual(summary.exitCode, 3)
        XCTAssertEqual(summary.status, 3)
        XCTAssertGreaterThanOrEqual(summary.tasks, 1)
        XCTAssertGreaterThan(summary.syscalls, 10)
        XCTAssertGreaterThan(summary.traceBytes, 0)
        XCTAssertEqual(summary.rootChain.count, 64)
        XCTAssertGreaterThan(summary.hashedBytes, 0, "every frame and blob is hashed")
        XCTAssertGreaterThanOrEqual(summary.hashSeconds, 0)

        let toStderr = try CLI.run(["record", "--json", "-", "-o", "t2", "--", "/bin/echo", "hi"], in: dir)
        XCTAssertEqual(toStderr.stdout, "hi\n")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(toStderr.stderr.utf8)) as? [String: Any])
        XCTAssertEqual(object["status"] as? Int, 0)
    }

    /// `dump --json`: one object per line; the failed lookup of missing.txt carries errno
    /// as a number and its glibc name; exec carries argv as a list.
    func testDumpJSONLinesParse() throws {
        let (_, trace) = try recordedScenario()
        let r = try CLI.run(["dump", trace, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let events = try r.stdout.split(separator: "\n").map {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertGreaterThan(events.count, 50)
        XCTAssertTrue(events.allSatisfy { $0["sequence"] is Int && $0["tid"] is Int && $0["kind"] is String })
        let execs = events.filter { $0["kind"] as? String == "exec" }
        XCTAssertTrue(execs.contains { ($0["argv"] as? [String]) == ["tr", "a-z", "A-Z"] }, "\(execs)")
        let failed = events.filter { ($0["objects"] as? [[String: Any]])?.contains { ($0["requested"] as? String) == "missing.txt" } == true
                                     && $0["errno"] != nil }
        XCTAssertFalse(failed.isEmpty, "no failed syscall on missing.txt")
        XCTAssertTrue(failed.allSatisfy { $0["errno"] as? Int == 2 && $0["errnoName"] as? String == "ENOENT" }, "\(failed)")
        XCTAssertTrue(events.contains { $0["kind"] as? String == "taskExit" && $0["exitCode"] as? Int == 0 })
    }

    /// `info --json`: counts of the recording.
    func testInfoJSONParses() throws {
        let (_, trace) = try recordedScenario()
        let r = try CLI.run(["info", trace, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let info = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(info["complete"] as? Bool, true)
        XCTAssertEqual(info["processes"] as? Int, 4, "sh, cat, tr and ls")
        XCTAssertEqual(info["errors"] as? [String], [])
    }

    /// `replay --json` and `replay --taint --json`: per-process results with instruction
    /// counts, no divergence, and the refinement counts with --taint.
    func testReplayJSONReportsEveryProcessAndTheRefinement() throws {
        let (_, trace) = try recordedScenario()
        struct Report: Decodable {
            struct Process: Decodable { var pid: Int32; var executable: String; var outcome: String; var instructions: UInt64; var syscalls: Int }
            struct Refinement: Decodable { var confirmed: Int; var implicit: Int; var refuted: Int; var unverified: Int; var summaries: Int }
            var processImages: Int, completed: Int, diverged: Int, instructions: UInt64, syscalls: Int
            var processes: [Process]
            var flowSummaries: Int?
            var refinement: Refinement?
        }
        let plain = try CLI.run(["replay", trace, "--json"])
        XCTAssertEqual(plain.status, 0, plain.stdout + plain.stderr)
        XCTAssertEqual(plain.stderr, "", "no progress line when standard error is not a terminal")
        let report = try JSONDecoder().decode(Report.self, from: Data(plain.stdout.utf8))
        XCTAssertEqual(report.diverged, 0)
        XCTAssertEqual(report.completed, report.processImages)
        XCTAssertEqual(report.processes.count, report.processImages)
        XCTAssertEqual(Set(report.processes.map { URL(fileURLWithPath: $0.executable).lastPathComponent }).isSuperset(of: ["cat", "tr"]), true,
                       "\(report.processes.map(\.executable))")
        XCTAssertTrue(report.processes.allSatisfy { $0.outcome == "completed" && $0.instructions > 0 })
        XCTAssertEqual(report.instructions, report.processes.reduce(0) { $0 + $1.instructions })
        XCTAssertNil(report.refinement)

        let tainted = try CLI.run(["replay", "--taint", trace, "--json"])
        XCTAssertEqual(tainted.status, 0, tainted.stdout + tainted.stderr)
        let taintReport = try JSONDecoder().decode(Report.self, from: Data(tainted.stdout.utf8))
        let refinement = try XCTUnwrap(taintReport.refinement)
        XCTAssertEqual(taintReport.flowSummaries, taintReport.processImages)
        XCTAssertEqual(refinement.summaries, taintReport.flowSummaries)
        XCTAssertGreaterThan(refinement.confirmed, 0, "out.txt derives from in.txt by data")

        // Byte lineage from the command line: out.txt's first bytes come from in.txt's, through
        // the pipe, and system files are left out unless asked for.
        let bytes = try CLI.run(["why", trace, "out.txt", "--bytes", "0-5"])
        XCTAssertEqual(bytes.status, 0, bytes.stderr)
        XCTAssertTrue(bytes.stdout.contains("in.txt bytes 0-5"), bytes.stdout)
        XCTAssertFalse(bytes.stdout.contains("/usr/lib/"), bytes.stdout)

        // Every answer of the refined graph parses as JSON with --json.
        for arguments in [["why", trace, "out.txt", "--json"], ["impact", trace, "in.txt", "--json"],
                          ["why", trace, "out.txt", "--bytes", "0-5", "--json"], ["alerts", trace, "--json"]] {
            let r = try CLI.run(arguments)
            XCTAssertEqual(r.status, 0, "\(arguments): \(r.stderr)")
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)), "\(arguments): \(r.stdout)")
        }

        // A range past the end of the file is an error naming its size (out.txt has the 12
        // bytes "HELLO\nWORLD\n"); one that runs past the end is answered up to the end.
        let past = try CLI.run(["why", trace, "out.txt", "--bytes", "100-200"])
        XCTAssertEqual(past.status, 2, past.stderr)
        XCTAssertTrue(past.stderr.hasPrefix("magprov: --bytes 100-200 is past the end of "), past.stderr)
        XCTAssertTrue(past.stderr.contains("it has 12 bytes in the recording (0-12)"), past.stderr)
        XCTAssertEqual(past.stdout, "")
        let overlapping = try CLI.run(["why", trace, "out.txt", "--bytes", "6-100"])
        XCTAssertEqual(overlapping.status, 0, overlapping.stderr)
        XCTAssertTrue(overlapping.stdout.contains("bytes 6-12 came from"), overlapping.stdout)
        XCTAssertTrue(overlapping.stderr.contains("has 12 bytes in the recording: answering for bytes 6-12"), overlapping.stderr)
    }

    /// `verify --json`, `graph` (PROV-JSON on standard output) and the coarse `why --json`
    /// parse as JSON; verify's status follows its verdict (0 verified, 1 a check fails).
    func testVerifyGraphAndCoarseLineageJSONParse() throws {
        let (_, trace) = try recordedScenario()
        let verify = try CLI.run(["verify", "--json", trace])
        let verdict = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(verify.stdout.utf8)) as? [String: Any])
        let verified = try XCTUnwrap(verdict["verified"] as? Bool)
        XCTAssertEqual(verify.status, verified ? 0 : 1, verify.stdout + verify.stderr)
        XCTAssertFalse((verdict["checks"] as? [Any] ?? []).isEmpty)
        let graph = try CLI.run(["graph", trace])
        XCTAssertEqual(graph.status, 0, graph.stderr)
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(graph.stdout.utf8)) as? [String: Any])
        XCTAssertNotNil(document["entity"], "PROV-JSON has entities")
        let why = try CLI.run(["why", trace, "out.txt", "--coarse", "--json"])
        XCTAssertEqual(why.status, 0, why.stderr)
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(why.stdout.utf8)), why.stdout)
    }

    /// `lockstep --json`: the outcome of a short single-stepped run of /bin/true.
    func testLockstepJSON() throws {
        let r = try CLI.run(["lockstep", "--json", "--max-instructions", "300", "--", "/bin/true"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["outcome"] as? String, "agreed")
        XCTAssertEqual(object["instructions"] as? Int, 300)
    }

    /// The PROV-JSON export of the recorded scenario loads with Python's `prov` without a
    /// single warning (qualified names valid), through the command line.
    func testGraphProvJSONLoadsWithoutWarnings() throws {
        let (dir, trace) = try recordedScenario()
        let r = try CLI.run(["graph", trace, "-o", dir + "/graph.json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", "-W", "error", "-c",
                           "import prov, sys; doc = prov.read(sys.argv[1], format='json'); print(len(doc.get_records()))",
                           dir + "/graph.json"]
        let err = Pipe()
        check.standardError = err
        check.standardOutput = FileHandle.nullDevice
        try check.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        check.waitUntilExit()
        XCTAssertEqual(check.terminationStatus, 0, "python3 -W error with prov (Scripts/setup installs it): \(message)")
    }
}
