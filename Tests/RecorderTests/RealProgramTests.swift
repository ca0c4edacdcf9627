import FixtureSupport
import Foundation
import Recorder
import Trace
import XCTest

/// Real Debian programs produce the same output and exit status under the recorder as
/// without it.
final class RealProgramTests: XCTestCase {
    /// Runs `script` (a shell command writing to $OUT) bare and recorded; compares.
    private func assertSameUnderRecorder(_ script: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = Fixtures.temporaryDirectory("real")
        let input = (0..<3000).map { "\(($0 * 7919) % 3001) entry-\($0) {\"k\": \($0)}" }.joined(separator: "\n") + "\n"
        try input.write(toFile: dir + "/in.txt", atomically: true, encoding: .utf8)
        let bare = Fixtures.run("/bin/sh", ["-c", "cd \(dir) && OUT=bare.out; \(script)"])
        let (recorded, trace) = try Fixtures.record(["/bin/sh", "-c", "cd \(dir) && OUT=rec.out; \(script)"])
        XCTAssertEqual(recorded.exitCode, bare, "exit status", file: file, line: line)
        let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/bare.out"))
        let b = try Data(contentsOf: URL(fileURLWithPath: dir + "/rec.out"))
        XCTAssertFalse(a.isEmpty, file: file, line: line)
        XCTAssertEqual(a, b, "output differs for: \(script)", file: file, line: line)
        XCTAssertTrue(trace.allEvents().errors.isEmpty, file: file, line: line)
    }

    func testGzipSameOutput() throws { try assertSameUnderRecorder("gzip -c -n in.txt > $OUT") }
    func testSortSameOutput() throws { try assertSameUnderRecorder("sort -n in.txt > $OUT") }
    func testTarSameOutput() throws {
        try assertSameUnderRecorder("mkdir -p t && cp in.txt t/a && cp in.txt t/b && tar --mtime=@0 --owner=0 --group=0 -cf - t | sha256sum > $OUT")
    }
    func testPythonJSONHashlibSameOutput() throws {
        try assertSameUnderRecorder("""
        python3 -c 'import json,hashlib,sys; d=[l.split()[1] for l in open("in.txt")]; s=json.dumps(d,sort_keys=True); print(hashlib.sha256(s.encode()).hexdigest(), len(d))' > $OUT
        """)
    }
    func testExitStatusOfFailingCommandIsKept() throws {
        try assertSameUnderRecorder("grep -c nothing-matches in.txt > $OUT; exit 7")
    }
    func testMakeBuildOfFixtureSameOutput() throws {
        try assertSameUnderRecorder("rm -rf mk && cp -r \(FixtureCompiler.fixturesDirectory)/make-project mk && make -s -C mk >/dev/null && ./mk/app > $OUT")
    }
}
