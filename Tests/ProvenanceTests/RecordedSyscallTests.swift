import Foundation
import XCTest
@testable import Provenance

/// Each syscall family recorded for real: a fixture run with the syscall and a control run
/// without it; the graphs must differ by exactly the expected edges.
final class RecordedSyscallTests: XCTestCase {
    struct Difference: Equatable, CustomStringConvertible {
        var added: [String]
        var removed: [String]
        var description: String { "added: \(added)\nremoved: \(removed)" }
    }

    /// Records `fixture mode [dir]` and `fixture control [dir]` in one fresh directory each
    /// (holding `in` with some bytes) and returns how their edge sets differ.
    func difference(_ fixture: String, _ mode: String, control: String = "control", passDirectory: Bool = true) throws -> Difference {
        let binary = try ProvenanceFixtures.binary(fixture)
        func lines(_ m: String) throws -> Set<String> {
            let dir = ProvenanceFixtures.temporaryDirectory("\(fixture)-\(m)")
            try "0123456789abcdef\n".write(toFile: dir + "/in", atomically: false, encoding: .utf8)
            try "other\n".write(toFile: dir + "/other", atomically: false, encoding: .utf8)
            let trace = try ProvenanceFixtures.record([binary, m] + (passDirectory ? [dir] : []), in: dir)
            let graph = try ProvenanceFixtures.graph(ofTrace: trace)
            XCTAssertTrue(graph.flowIsAcyclic, "\(fixture) \(m): flow edges form a cycle")
            return StableNames.lines(graph, directory: dir)
        }
        let with = try lines(mode), without = try lines(control)
        return Difference(added: with.subtracting(without).sorted(), removed: without.subtracting(with).sorted())
    }

    func check(_ fixture: String, _ mode: String, control: String = "control", passDirectory: Bool = true,
               added: [String], removed: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws {
        let diff = try difference(fixture, mode, control: control, passDirectory: passDirectory)
        XCTAssertEqual(diff, Difference(added: added.sorted(), removed: removed.sorted()), "\(fixture) \(mode)", file: file, line: line)
    }

    func testReadFamilyIsUsedByTheProcess() throws {
        try check("io", "read", added: ["file $D/in -read-> process fx_io#0"])
        try check("io", "pread", added: ["file $D/in -pread64-> process fx_io#0"])
        try check("io", "readv", added: ["file $D/in -readv-> process fx_io#0"])
    }

    func testWriteFamilyGeneratesTheFile() throws {
        try check("io", "write", added: ["process fx_io#0 -write-> file $D/out"])
        try check("io", "pwrite", added: ["process fx_io#0 -pwrite64-> file $D/out"])
        try check("io", "writev", added: ["process fx_io#0 -writev-> file $D/out"])
    }

    /// A private read-only mapping reads; a shared writable one writes (its read side brings
    /// the process nothing new here: it created the file, so that edge carries no flow).
    func testMmapReadsAndSharedWritableMappingWrites() throws {
        try check("io", "mmap_read", added: ["file $D/in -mmap-> process fx_io#0"])
        try check("io", "mmap_write", added: ["file $D/out ~mmap~> process fx_io#0", "process fx_io#0 -mmap-> file $D/out"])
    }

    func testFailedCallsAreKeptAsFailedEdges() throws {
        try check("io", "read_bad_fd", added: ["other fd 99 from outside ~read EBADF~> process fx_io#0"])
        try check("fd", "open_missing", added: ["file $D/missing ~openat ENOENT~> process fx_fd#0"])
        try check("names", "rename_missing", added: ["process fx_names#0 ~rename ENOENT~> file $D/missing"])
    }

    func testOpenCreatAndDescriptorCalls() throws {
        try check("fd", "open", added: ["file $D/other -openat-> process fx_fd#0"])
        try check("fd", "creat", added: ["process fx_fd#0 -creat-> file $D/new"])
        try check("fd", "close", added: ["process fx_fd#0 ~close~> file $D/in"])
        try check("fd", "dup", added: ["process fx_fd#0 ~dup~> file $D/in"])
        try check("fd", "dup2", added: ["process fx_fd#0 ~dup2~> file $D/in"])
        try check("fd", "dup3", added: ["process fx_fd#0 ~dup3~> file $D/in"])
        try check("fd", "fcntl_dupfd", added: ["process fx_fd#0 ~fcntl~> file $D/in"])
    }

    /// glibc's pipe() is the pipe2 syscall. tee moves bytes the process itself wrote into
    /// the first pipe: the read side carries no new information.
    func testPipeAndTee() throws {
        try check("fd", "pipe", added: ["process fx_fd#0 -pipe2-> pipe pipe#0"])
        try check("fd", "pipe2", added: ["process fx_fd#0 -pipe2-> pipe pipe#0"])
        try check("fd", "tee", control: "tee_control", added: [
            "pipe pipe#0 ~tee~> process fx_fd#0", "process fx_fd#0 -tee-> pipe pipe#1",
        ])
    }

    func testRenameLinkSymlinkUnlinkMknod() throws {
        try check("names", "rename", added: ["file $D/a -version-> file $D/b v2", "process fx_names#0 -rename-> file $D/b v2"])
        try check("names", "renameat", added: ["file $D/a -version-> file $D/b v2", "process fx_names#0 -renameat-> file $D/b v2"])
        try check("names", "link", added: ["file $D/a -version-> file $D/a v2", "process fx_names#0 -link-> file $D/a v2"])
        try check("names", "linkat", added: ["file $D/a -version-> file $D/a v2", "process fx_names#0 -linkat-> file $D/a v2"])
        try check("names", "symlink", added: ["process fx_names#0 -symlink-> file $D/s"])
        try check("names", "symlinkat", added: ["process fx_names#0 -symlinkat-> file $D/s"])
        try check("names", "unlink", added: ["file $D/a -version-> file $D/a v2", "process fx_names#0 -unlink-> file $D/a v2"])
        try check("names", "unlinkat", added: ["file $D/a -version-> file $D/a v2", "process fx_names#0 -unlinkat-> file $D/a v2"])
        // glibc's mknod() is the mknodat syscall.
        try check("names", "mknod", added: ["process fx_names#0 -mknodat-> pipe $D/fifo"])
        try check("names", "mknodat", added: ["process fx_names#0 -mknodat-> pipe $D/fifo"])
    }

    func testMetadataChangesMakeNewVersions() throws {
        for call in ["chmod", "fchmod", "fchmodat", "chown", "fchown", "fchownat", "truncate", "ftruncate"] {
            try check("names", call, added: ["file $D/a -version-> file $D/a v2", "process fx_names#0 -\(call)-> file $D/a v2"])
        }
    }

    func testProcessLineage() throws {
        try check("proc", "fork", passDirectory: false, added: [
            "process fx_proc#0 -fork-> process fx_proc#1", "process fx_proc#0 -version-> process fx_proc#0 v2",
            "process fx_proc#1 -wait4-> process fx_proc#0 v2",
        ])
        try check("proc", "vfork", passDirectory: false, added: [
            "process fx_proc#0 -vfork-> process fx_proc#1", "process fx_proc#0 -version-> process fx_proc#0 v2",
            "process fx_proc#1 -wait4-> process fx_proc#0 v2",
        ])
        // Threads share their process entity: the creation is an annotation on it.
        try check("proc", "thread", passDirectory: false, added: ["process fx_proc#0 ~clone~> process fx_proc#0"])
        try check("proc", "exec", passDirectory: false, added: [
            "file /usr/bin/true -execve-> process true#0 v2", "process fx_proc#0 -execve-> process true#0 v2",
        ])
    }

    func testSignalsMemoryWritesAndIdentity() throws {
        try check("proc", "kill", control: "kill_control", passDirectory: false,
                  added: ["process fx_proc#0 -kill-> process fx_proc#1"])
        try check("proc", "vm_write", control: "vm_control", passDirectory: false,
                  added: ["process fx_proc#0 -process_vm_writev-> process fx_proc#1"])
        try check("proc", "setuid", passDirectory: false, added: [
            "agent uid 65534 ~setuid~> process fx_proc#0 v2", "process fx_proc#0 -setuid-> process fx_proc#0 v2",
        ])
        try check("proc", "setgid", passDirectory: false, added: ["process fx_proc#0 -setgid-> process fx_proc#0 v2"])
    }

    /// Each step of a TCP exchange on loopback, against the step before it.
    func testSocketCalls() throws {
        try check("net", "bind", control: "socket", passDirectory: false, added: [
            "process fx_net#0 -bind-> socket 127.0.0.1:PORT", "process fx_net#0 -socket-> socket 127.0.0.1:PORT",
        ])
        try check("net", "connect", control: "bind", passDirectory: false, added: [
            "process fx_net#0 -connect-> socket -> 127.0.0.1:PORT", "process fx_net#0 -socket-> socket -> 127.0.0.1:PORT",
        ], removed: ["process fx_net#0 -socket-> socket socket"])
        // The connection arrives through the listening socket.
        try check("net", "accept", control: "connect", passDirectory: false, added: [
            "process fx_net#0 -version-> process fx_net#0 v2", "socket 127.0.0.1:PORT -accept-> process fx_net#0 v2",
        ])
        try check("net", "send", control: "accept", passDirectory: false, added: [
            "process fx_net#0 v2 -sendto-> socket -> 127.0.0.1:PORT",
        ])
        // What the server receives is what the client's end sent.
        try check("net", "recv", control: "send", passDirectory: false, added: [
            "process fx_net#0 v2 -version-> process fx_net#0 v3",
            "socket -> 127.0.0.1:PORT -recvfrom-> process fx_net#0 v3",
        ])
    }
}
