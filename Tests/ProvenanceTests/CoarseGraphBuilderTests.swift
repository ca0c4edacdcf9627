import XCTest
import Trace
import Syscalls
@testable import Provenance

/// The builder on synthetic event sequences shaped like the recorder's output.
final class CoarseGraphBuilderTests: XCTestCase {
    /// cat /in > /out: the input is used, the output generated, close is kept without flow.
    func testReadAndWriteBecomeUsedAndGeneratedEdges() {
        var s = EventScript()
        s.start(10)
        s.exec(10, "/bin/cat", ["cat", "/in"], inode: 1)
        s.openRead(10, "/in", inode: 20, fd: 3)
        s.openWrite(10, "/out", inode: 21, fd: 4)
        s.read(10, fd: 3, s.file(0, "/in", 20), bytes: 100)
        s.write(10, fd: 4, s.file(0, "/out", 21), bytes: 100)
        s.read(10, fd: 3, s.file(0, "/in", 20), bytes: 0)
        s.close(10, fd: 3, s.file(0, "/in", 20))
        s.close(10, fd: 4, s.file(0, "/out", 21))
        s.exit(10)
        let g = s.build()
        XCTAssertEqual(g.edgeLines(), [
            "agent uid 1000 ~run as~> process cat[10]",
            "file /bin/cat -execve-> process cat[10]",
            "file /in -openat-> process cat[10]",
            "file /in -read-> process cat[10]",
            "process cat[10] -openat-> file /out",
            "process cat[10] -write-> file /out",
            "process cat[10] ~close~> file /in",
            "process cat[10] ~close~> file /out",
        ])
        let read = g.edges.first { $0.operation == "read" }
        XCTAssertEqual(read?.calls, 2)
        XCTAssertEqual(read?.bytes, 100)
        XCTAssertEqual(read?.offsetLow, 0)
        XCTAssertEqual(read?.offsetHigh, 100)
        XCTAssertEqual(read?.relation, .used)
        XCTAssertEqual(g.edges.first { $0.operation == "write" }?.relation, .wasGeneratedBy)
        let cat = g.nodes.first { $0.kind == .process }
        XCTAssertEqual(cat?.attributes["argv"], .strings(["cat", "/in"]))
        XCTAssertEqual(cat?.attributes["exitCode"], .int(0))
        XCTAssertTrue(g.flowIsAcyclic)
    }

    /// A pipe reader returns the writer's bytes, and is stamped, before the writer's exit is
    /// (the kernel copies them between the write's entry and exit). The write takes its
    /// entry stamp, so the read lands on the version the write made: writer -> pipe ->
    /// reader, with no version of the pipe that only the writer knows.
    func testPipeReadStampedBeforeTheWritersExitFollowsTheWrite() {
        var s = EventScript()
        s.start(1)
        s.exec(1, "/bin/w", ["w"], inode: 1)
        s.start(2, parent: 1, kind: .fork)
        s.exec(2, "/bin/r", ["r"], inode: 2)
        s.openRead(1, "/in", inode: 20, fd: 3)
        s.read(1, fd: 3, s.file(0, "/in", 20), bytes: 10)
        s.sequence += 1
        let entry = s.sequence
        s.read(2, fd: 0, s.pipe(0, 50), bytes: 10)
        let write = SyscallTable.number(named: "write")!
        s.append(1, .syscall(SyscallEvent(number: write, arguments: [4, 0x3000, 10], result: 10, objects: [s.pipe(0, 50)],
                                          entrySequence: entry)))
        let g = s.build()
        let wrote = g.edges.first { $0.operation == "write" }
        let read = g.edges.first { $0.operation == "read" && g.nodes[$0.source].kind == .pipe }
        XCTAssertNotNil(wrote)
        XCTAssertEqual(wrote?.target, read?.source, g.edgeLines(includeAnnotations: false).joined(separator: "\n"))
        XCTAssertTrue(g.flowIsAcyclic)
    }

    /// P writes f, Q reads f and writes g, P reads g and writes f again: versions of P and
    /// f keep the flow edges acyclic.
    func testVersionsKeepFlowAcyclic() {
        var s = EventScript()
        s.start(1)
        s.exec(1, "/bin/p", ["p"], inode: 1)
        s.start(2, parent: 1, kind: .fork)
        s.exec(2, "/bin/q", ["q"], inode: 2)
        s.openWrite(1, "/f", inode: 30, fd: 3)
        s.write(1, fd: 3, s.file(0, "/f", 30), bytes: 5)
        s.openRead(2, "/f", inode: 30, fd: 3)
        s.read(2, fd: 3, s.file(0, "/f", 30), bytes: 5)
        s.openWrite(2, "/g", inode: 31, fd: 4)
        s.write(2, fd: 4, s.file(0, "/g", 31), bytes: 5)
        s.openRead(1, "/g", inode: 31, fd: 4)
        s.read(1, fd: 4, s.file(0, "/g", 31), bytes: 5)
        s.write(1, fd: 3, s.file(0, "/f", 30), bytes: 5)
        let g = s.build()
        XCTAssertTrue(g.flowIsAcyclic)
        XCTAssertEqual(g.edgeLines(includeAnnotations: false), [
            "file /bin/p -execve-> process p[1]",
            "file /bin/q -execve-> process q[2] v2",
            "file /f -openat-> process q[2] v2",
            "file /f -read-> process q[2] v2",
            "file /f -version-> file /f v2",
            "file /g -openat-> process p[1] v2",
            "file /g -read-> process p[1] v2",
            "process p[1] -fork-> process p[2]",
            "process p[1] -openat-> file /f",
            "process p[1] -version-> process p[1] v2",
            "process p[1] -write-> file /f",
            "process p[1] v2 -write-> file /f v2",
            "process p[2] -execve-> process q[2] v2",
            "process q[2] v2 -openat-> file /g",
            "process q[2] v2 -write-> file /g",
        ])
    }
}
