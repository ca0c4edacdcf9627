// What a trace recorded with `--syscall-buffer` says about itself through the CLI: its mode
// in `info`, and the trust notice on every answer built from it (graph, why, replay --taint).

import Foundation
import XCTest

final class SyscallBufferCLITests: XCTestCase {
    static let notice = "recorded with --syscall-buffer"

    /// `sh -c 'head -c 5 in.txt > out.txt'` recorded in `mode` ("buffered" or "stopping").
    func record(buffered: Bool) throws -> (directory: String, trace: String) {
        let dir = CLI.temporaryDirectory(buffered ? "sbuf" : "stop")
        try "hello world\n".write(toFile: dir + "/in.txt", atomically: false, encoding: .utf8)
        let r = try CLI.run(["record"] + (buffered ? ["--syscall-buffer"] : []) +
                            ["-o", "trace", "--", "/bin/sh", "-c", "head -c 5 in.txt > out.txt"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        return (dir, dir + "/trace")
    }

    func testBufferedTraceSaysItsModeAndEveryAnswerSaysWhatItTrusts() throws {
        let (dir, trace) = try record(buffered: true)
        let info = try CLI.run(["info", trace, "--json"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["recordingMode"] as? String, "buffered")
        XCTAssertGreaterThan(object["bufferedSyscalls"] as? Int ?? 0, 0, "head's read of in.txt was not buffered")
        let why = try CLI.run(["why", trace, "out.txt"], in: dir)
        XCTAssertEqual(why.status, 0, why.stderr)
        XCTAssertTrue(why.stderr.contains(Self.notice), why.stderr)
        let graph = try CLI.run(["graph", trace, "--format", "dot", "-o", dir + "/g.dot"])
        XCTAssertTrue(graph.stderr.contains(Self.notice), graph.stderr)
        let replay = try CLI.run(["replay", "--taint", "--json", trace])
        XCTAssertEqual(replay.status, 0, replay.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(replay.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(report["recordingMode"] as? String, "buffered")
        XCTAssertTrue((report["trust"] as? String)?.contains("in-process buffer") ?? false)
    }

    func testStoppingTraceSaysItsModeAndAddsNoNotice() throws {
        let (dir, trace) = try record(buffered: false)
        let info = try CLI.run(["info", trace, "--json"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["recordingMode"] as? String, "stopping")
        XCTAssertEqual(object["bufferedSyscalls"] as? Int, 0)
        let why = try CLI.run(["why", trace, "out.txt"], in: dir)
        XCTAssertEqual(why.status, 0, why.stderr)
        XCTAssertFalse(why.stderr.contains(Self.notice), why.stderr)
    }

    /// glibc's own calls take the fast path through the library's patched call sites (sed's
    /// stdio reads and writes, ls's opendir/readdir), and replay reproduces the patch: the
    /// library's constructor writes libc's code in the recorded process and again, interpreted,
    /// in the replayed one. Zero divergence, with and without the patching.
    func testPatchedGlibcCallSitesReplayWithoutDivergence() throws {
        let dir = CLI.temporaryDirectory("sbuf-patch")
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        for i in 0..<20 { try "file \(i)\n".write(toFile: dir + "/sub/f\(i)", atomically: false, encoding: .utf8) }
        try String(repeating: "a line for sed\n", count: 500).write(toFile: dir + "/in.txt", atomically: false, encoding: .utf8)
        let script = "ls sub > list.txt; sed -n p in.txt > out.txt"
        var buffered: [Int] = []
        for (name, prefix) in [("patched", [String]()), ("unpatched", ["env", "MAGPROV_SYSCALL_BUFFER_NO_PATCH=1"])] {
            let r = try CLI.run(["record", "--syscall-buffer", "-o", name, "--"] + prefix + ["/bin/sh", "-c", script], in: dir)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(try String(contentsOfFile: dir + "/out.txt", encoding: .utf8).count, 500 * 15)
            let info = try CLI.run(["info", dir + "/" + name, "--json"])
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])
            buffered.append(object["bufferedSyscalls"] as? Int ?? 0)
            let replay = try CLI.run(["replay", "--json", dir + "/" + name])
            XCTAssertEqual(replay.status, 0, name + ": " + replay.stdout + replay.stderr)
            let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(replay.stdout.utf8)) as? [String: Any])
            XCTAssertEqual(report["diverged"] as? Int, 0, name)
            XCTAssertEqual(report["completed"] as? Int, report["processImages"] as? Int, name)
        }
        // sed's stdio reads and writes and ls's getdents64 are buffered only when patched.
        XCTAssertGreaterThan(buffered[0], buffered[1], "the patched sites buffered nothing more")
    }
}
