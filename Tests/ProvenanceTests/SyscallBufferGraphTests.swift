import FixtureSupport
import Foundation
import XCTest
@testable import Provenance

/// `record --syscall-buffer` turns buffered calls into the events a stopped call makes, so
/// the coarse graph of a recording is the same with and without the buffer.
final class SyscallBufferGraphTests: XCTestCase {
    /// Flow edges without system files (the preload library, which the loader maps into
    /// every dynamically linked process of a buffered recording, is one, like libc).
    /// With `annotations`, the edges that carry no flow too (open, stat, close, failed calls).
    func flowLines(_ command: [String], in dir: String, syscallBuffer: Bool, annotations: Bool = false) throws -> [String] {
        let trace = try ProvenanceFixtures.record(command, in: dir, syscallBuffer: syscallBuffer)
        let graph = try ProvenanceFixtures.graph(ofTrace: trace)
        return StableNames.lines(graph, directory: dir).filter { annotations || !$0.contains("~") }.sorted()
    }

    func assertSameGraph(_ command: [String], in dir: String, annotations: Bool = false,
                         file: StaticString = #filePath, line: UInt = #line) throws {
        let plain = try flowLines(command, in: dir, syscallBuffer: false, annotations: annotations)
        let buffered = try flowLines(command, in: dir, syscallBuffer: true, annotations: annotations)
        XCTAssertFalse(plain.isEmpty, file: file, line: line)
        XCTAssertEqual(plain, buffered, file: file, line: line)
    }

    func testSmallCProgramHasTheSameGraphWithTheBuffer() throws {
        let dir = ProvenanceFixtures.temporaryDirectory("sbuf-io")
        try String(repeating: "some input bytes\n", count: 100).write(toFile: dir + "/in", atomically: false, encoding: .utf8)
        let binary = try FixtureCompiler.build("recorder/syscall_buffer.c", flags: ["-O1"], name: "syscall_buffer")
        try assertSameGraph([binary, "io", dir], in: dir, annotations: true)
    }

    /// readlink, readlinkat, access, faccessat, getcwd, getdents64 and lseek through the
    /// buffer: the same edges and annotations (the directory listed; readlink and access make
    /// no edge either way).
    func testLookupsHaveTheSameGraphWithTheBuffer() throws {
        let dir = ProvenanceFixtures.temporaryDirectory("sbuf-lookups")
        try "input".write(toFile: dir + "/in", atomically: false, encoding: .utf8)
        XCTAssertEqual(symlink("in", dir + "/link"), 0)
        let binary = try FixtureCompiler.build("recorder/syscall_buffer.c", flags: ["-O1"], name: "syscall_buffer")
        let plain = try flowLines([binary, "lookups", dir], in: dir, syscallBuffer: false, annotations: true)
        XCTAssertTrue(plain.contains { $0.contains("-getdents64->") }, "\(plain)")
        try assertSameGraph([binary, "lookups", dir], in: dir, annotations: true)
    }

    func testShellPipelineWithGzipHasTheSameGraphWithTheBuffer() throws {
        let dir = ProvenanceFixtures.temporaryDirectory("sbuf-gzip")
        try String(repeating: "a line of text to compress\n", count: 20_000).write(toFile: dir + "/f", atomically: false, encoding: .utf8)
        try assertSameGraph(["/bin/sh", "-c", "cat f | gzip > o.gz"], in: dir)
    }

    /// tar opens, stats and closes every file through the buffer (openat under a directory
    /// descriptor, fstatat, close): the graph, annotations included, must still name each
    /// file read, stat'ed, opened and closed.
    func testTarOfADirectoryHasTheSameGraphWithTheBuffer() throws {
        let dir = ProvenanceFixtures.temporaryDirectory("sbuf-tar")
        try FileManager.default.createDirectory(atPath: dir + "/src/deeper", withIntermediateDirectories: true)
        for i in 0..<12 {
            try "file \(i)\n".write(toFile: dir + (i % 3 == 0 ? "/src/deeper/f\(i)" : "/src/f\(i)"), atomically: false, encoding: .utf8)
        }
        let plain = try flowLines(["tar", "cf", "out.tar", "src"], in: dir, syscallBuffer: false)
        XCTAssertTrue(plain.contains { $0.contains("src/deeper/f9") }, "\(plain)")
        try assertSameGraph(["tar", "cf", "out.tar", "src"], in: dir, annotations: true)
    }
}
