// Flows through memory shared without a syscall per byte (issue 10, "Memory shared without
// syscalls"; Fixtures/taint/shared_memory_flows.c): threads of one process, stores into a
// shared file mapping, and memory shared between processes. Each test records one mode
// and checks the coarse graph: `why out.txt` names secret.txt and `impact secret.txt`
// reaches out.txt. Modes in one process replay with zero divergence; where another
// process writes a process's memory, replay must say so ("shared-memory group not
// replayable yet", located) instead of diverging, and refinement must not refute the
// edges of such a process. Processes that come to share memory by mapping one object
// (SysV segment, memfd, file; or a read-only shared mapping made writable by mprotect) are
// merged into one group by the recorder at that call and replayed together, forked images
// of one program and programs exec'd apart alike. Writes through /proc/PID/mem flow when
// made with pwrite64 (into the caller, or into a process the open merged it with); other
// writes to a memory file are refused while recording.

import Foundation
import Provenance
import Replayer
import Trace
import XCTest

final class SharedMemoryFlowTests: XCTestCase {
    let secret = "TOPSECRET-payload-bytes\n"  // SECRET_LENGTH (24) bytes, as the fixture expects

    struct Recorded {
        let directory: String
        let trace: String
        let store: GraphStore
        let graph: ProvenanceGraph
    }

    /// Records `shared_memory_flows MODE`, checks out.txt and the lineage both ways.
    func record(_ mode: String, file: StaticString = #filePath, line: UInt = #line) throws -> Recorded {
        let binary = try GroundTruth.compile("shared_memory_flows")
        let dir = GroundTruth.scratch("shm-\(mode)")
        try secret.write(toFile: dir + "/secret.txt", atomically: false, encoding: .utf8)
        let trace = try GroundTruth.record([binary, mode], in: dir, file: file, line: line)
        XCTAssertEqual(try String(contentsOfFile: dir + "/out.txt", encoding: .utf8), secret,
                       "\(mode): out.txt holds the secret's bytes", file: file, line: line)
        let store = try GraphStore.openOrBuild(traceDirectory: trace)
        let why = try store.lineage(of: try store.startNodes(for: dir + "/out.txt", direction: .backward).map(\.id),
                                    direction: .backward)
        XCTAssertTrue(why.nodes.contains { $0.path == dir + "/secret.txt" },
                      "\(mode): why out.txt names secret.txt; it names \(why.nodes.map(\.label).sorted())", file: file, line: line)
        let impact = try store.lineage(of: try store.startNodes(for: dir + "/secret.txt", direction: .forward).map(\.id),
                                       direction: .forward)
        XCTAssertTrue(impact.nodes.contains { $0.path == dir + "/out.txt" },
                      "\(mode): impact secret.txt reaches out.txt; it reaches \(impact.nodes.map(\.label).sorted())",
                      file: file, line: line)
        return Recorded(directory: dir, trace: trace, store: store, graph: try store.load())
    }

    /// Replays every process and expects no divergence.
    func replayCleanly(_ r: Recorded, file: StaticString = #filePath, line: UInt = #line) throws {
        let replay = try ReplaySession(trace: try TraceReader(directory: r.trace)).run(options: ReplayOptions(jobs: 2))
        for (unit, divergence) in replay.divergences {
            XCTFail("process \(unit.pid) \(unit.executable) diverged: \(divergence)", file: file, line: line)
        }
        XCTAssertTrue(replay.notReplayable.isEmpty, "\(replay.notReplayable.map(\.1.description))", file: file, line: line)
    }

    /// Replays with taint and refines: no divergence; the processes whose memory another
    /// process wrote are reported as a shared-memory group (at least `groupMembers` of
    /// them), and no edge into out.txt from secret.txt is refuted.
    func replaySharedGroup(_ r: Recorded, groupMembers: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let session = try ReplaySession(trace: try TraceReader(directory: r.trace))
        let replay = session.runTaint(options: ReplayOptions(jobs: 2), addressDependency: true)
        for (unit, divergence) in replay.divergences {
            XCTFail("process \(unit.pid) \(unit.executable) diverged instead of being reported: \(divergence)", file: file, line: line)
        }
        XCTAssertGreaterThanOrEqual(replay.notReplayable.count, groupMembers, "processes reported as a shared-memory group",
                                    file: file, line: line)
        for (_, stop) in replay.notReplayable {
            XCTAssertTrue(stop.description.contains("shared-memory group not replayable yet"), stop.description,
                          file: file, line: line)
            XCTAssertTrue(stop.description.contains("@"), "the report names the event: \(stop.description)", file: file, line: line)
        }
        for result in replay.allResults { try result.taint?.write(traceDirectory: r.trace) }
        _ = try TaintRefinement.refine(traceDirectory: r.trace)
        let refined = try GraphStore.openOrBuild(traceDirectory: r.trace).load()
        let outs = Set(refined.nodes.filter { $0.path == r.directory + "/out.txt" }.map(\.id))
        let secrets = Set(refined.nodes.filter { $0.path == r.directory + "/secret.txt" }.map(\.id))
        let refuted = refined.edges.filter {
            $0.precision == .refined && $0.status == .refuted && outs.contains($0.target) && secrets.contains($0.source)
        }
        XCTAssertEqual(refuted.count, 0, "out.txt <- secret.txt refuted: \(refuted.map { $0.attributes["reason"]?.stringValue ?? "" })",
                       file: file, line: line)
    }

    // MARK: Threads

    /// The worker thread reads, the main thread writes: one address space, one process
    /// entity. early.txt, written before the read, does not derive from the secret.
    func testThreadsShareTheirProcessAddressSpace() throws {
        let r = try record("threads")
        let early = try r.store.lineage(of: try r.store.startNodes(for: r.directory + "/early.txt", direction: .backward).map(\.id),
                                        direction: .backward)
        XCTAssertFalse(early.nodes.contains { $0.path == r.directory + "/secret.txt" },
                       "early.txt was written before the read: \(early.nodes.map(\.label).sorted())")
        XCTAssertTrue(r.graph.edges.contains { $0.operation == "clone" && $0.source == $0.target && !$0.carriesFlow },
                      "thread creation is an annotation on the process")
        try replayCleanly(r)
    }

    // MARK: Shared file mappings

    func testStoresIntoAFileMappedBeforeTheRead() throws { try replayCleanly(try record("map-before")) }

    /// What the mapping held before the read reaches a reader then (cp, spawned after the
    /// msync) without the secret: a store edge comes from the process version current when
    /// the object is read, never from a later one.
    func testAReaderBeforeTheSecretReadGetsTheVersionWithoutIt() throws {
        let r = try record("map-msync")
        XCTAssertEqual(try String(contentsOfFile: r.directory + "/early.txt", encoding: .utf8), "public-bytes-before-read")
        let early = try r.store.lineage(of: try r.store.startNodes(for: r.directory + "/early.txt", direction: .backward).map(\.id),
                                        direction: .backward)
        XCTAssertFalse(early.nodes.contains { $0.path == r.directory + "/secret.txt" },
                       "early.txt was copied before the read: \(early.nodes.map(\.label).sorted())")
        XCTAssertTrue(early.nodes.contains { $0.path == r.directory + "/out.txt" }, "early.txt comes from out.txt")
        try replayCleanly(r)
    }

    func testStoresIntoAFileMappedAfterTheRead() throws { try replayCleanly(try record("map-after")) }

    /// out.txt mapped read-only, the secret read, the mapping mprotect()ed writable and
    /// written: the process's stores reach out.txt as a `shared store` edge (made writable
    /// by the mprotect, after the read), and replay has no divergence.
    func testStoresAfterMprotectMadeTheMappingWritable() throws {
        let r = try record("mprotect")
        let outs = Set(r.graph.nodes.filter { $0.path == r.directory + "/out.txt" }.map(\.id))
        let stores = r.graph.edges.filter { $0.operation == "shared store" && outs.contains($0.target) }
        XCTAssertFalse(stores.isEmpty, "a store edge from the process into out.txt: \(r.graph.edges.filter { outs.contains($0.target) }.map(\.operation))")
        try replayCleanly(r)
    }

    /// pwrite(2) through /proc/self/mem into the process's own shared mapping of out.txt:
    /// the recorder lets it through (its range misses the supervisor's pages), the graph
    /// has the store into out.txt after the secret's read, and replay applies the copy
    /// with no divergence.
    func testPwriteThroughProcSelfMemFlowsAndReplays() throws {
        let r = try record("proc-pwrite")
        XCTAssertFalse(FileManager.default.fileExists(atPath: r.directory + "/refused.txt"), "nothing was refused")
        let pwrites = try TraceReader(directory: r.trace).allEvents().events.compactMap { e -> SyscallEvent? in
            guard case .syscall(let s) = e.body, s.number == 18 /* pwrite64 */,
                  s.objects.contains(where: { $0.resolved.hasSuffix("/mem") }) else { return nil }
            return s
        }
        XCTAssertEqual(pwrites.count, 1)
        XCTAssertEqual(pwrites.first?.result, Int64(secret.utf8.count), "the pwrite through /proc/self/mem ran")
        XCTAssertFalse(pwrites.first?.flags.contains(.refused) ?? true)
        try replayCleanly(r)
    }

    /// lseek(2) and write(2) on /proc/self/mem: the file position is no register the guard
    /// can check, so only pwrite64 may write a memory file; the write is refused (EPERM),
    /// recorded as refused, and replay injects the same failure.
    func testWriteAtTheFilePositionOfProcSelfMemIsRefused() throws {
        let binary = try GroundTruth.compile("shared_memory_flows")
        let dir = GroundTruth.scratch("shm-proc-write")
        try secret.write(toFile: dir + "/secret.txt", atomically: false, encoding: .utf8)
        let trace = try GroundTruth.record([binary, "proc-write"], in: dir)
        XCTAssertEqual(try String(contentsOfFile: dir + "/refused.txt", encoding: .utf8), "EPERM\n")
        let out = (try? String(contentsOfFile: dir + "/out.txt", encoding: .utf8)) ?? ""
        XCTAssertFalse(out.contains("TOPSECRET"), "the secret never reached out.txt")
        let refused = try TraceReader(directory: trace).allEvents().events.contains { e in
            guard case .syscall(let s) = e.body else { return false }
            return s.number == 1 /* write */ && s.flags.contains(.refused) && s.objects.contains { $0.resolved.hasSuffix("/mem") }
        }
        XCTAssertTrue(refused, "the write on the memory file is recorded as refused")
        let replay = try ReplaySession(trace: try TraceReader(directory: trace)).run(options: ReplayOptions(jobs: 2))
        XCTAssertTrue(replay.divergences.isEmpty, "\(replay.divergences.map(\.1.description))")
        XCTAssertTrue(replay.notReplayable.isEmpty, "\(replay.notReplayable.map(\.1.description))")
    }

    /// The parent pwrite()s the secret into its child's buffer through /proc/<child>/mem:
    /// the open merges the two into one shared-memory group (flagged), the graph has the
    /// edge from the parent into the child, and replay runs them together, applying the
    /// copy (with its labels): no divergence, plain or with taint. The child's summary
    /// shows out.txt's bytes flowing from the parent's read of secret.txt, whose labels
    /// crossed the pwrite: out.txt <- secret.txt is confirmed.
    func testPwriteThroughAnotherProcessesMemFlowsAndReplays() throws {
        let r = try record("proc-mem")
        XCTAssertFalse(FileManager.default.fileExists(atPath: r.directory + "/refused.txt"), "nothing was refused")
        let joins = try TraceReader(directory: r.trace).allEvents().events.compactMap { e -> SyscallEvent? in
            guard case .syscall(let s) = e.body, s.flags.contains(.joinedSharedMemoryGroup) else { return nil }
            return s
        }
        XCTAssertEqual(joins.count, 1, "the open of the child's memory file merged the two")
        XCTAssertTrue(joins.first?.objects.contains { $0.resolved.hasSuffix("/mem") } ?? false)
        XCTAssertTrue(r.graph.edges.contains { $0.operation == "pwrite64" && $0.attributes["via"]?.stringValue == "/proc/PID/mem" },
                      "the pwrite is an edge into the child")
        try replayCleanly(r)
        try replayGroupWithTaint(r)
    }

    // MARK: Memory shared between processes

    /// A child maps carrier.txt shared and read-only; a sibling pwrite()s the secret into
    /// the file while it is mapped; the child's loads see it.
    func testReaderOfASharedFileMappingSeesOtherProcessesWrites() throws {
        try replaySharedGroup(try record("map-reader"), groupMembers: 1)
    }

    /// MAP_SHARED|MAP_ANONYMOUS memory inherited by two sibling forks: the recorder
    /// schedules parent and children as one shared-memory group, replay runs them together
    /// in one schedule (plain and taint) with no divergence, and the secret the writer
    /// read reaches the file the reader wrote as a confirmed derivation.
    func testAnonymousSharedMemoryAcrossForkReplaysAsOneGroup() throws {
        let r = try record("anon-fork")
        XCTAssertTrue(r.graph.nodes.contains { $0.label.hasPrefix("shared memory of pid") })
        let events = try TraceReader(directory: r.trace).allEvents().events
        let grouped = events.compactMap { e -> TaskStart? in
            if case .taskStart(let t) = e.body, t.sharedMemoryGroup != nil { return t } else { return nil }
        }
        XCTAssertEqual(grouped.count, 2, "both children were recorded in their parent's shared-memory group")
        try replayCleanly(r)
        try replayGroupWithTaint(r)
    }

    /// Taint replay with no divergence and nothing reported not replayable, then
    /// refinement: out.txt <- secret.txt is a confirmed derivation.
    func replayGroupWithTaint(_ r: Recorded, file: StaticString = #filePath, line: UInt = #line) throws {
        let replay = try ReplaySession(trace: try TraceReader(directory: r.trace))
            .runTaint(options: ReplayOptions(jobs: 2), addressDependency: true)
        for (unit, divergence) in replay.divergences {
            XCTFail("process \(unit.pid) \(unit.executable) diverged: \(divergence)", file: file, line: line)
        }
        XCTAssertTrue(replay.notReplayable.isEmpty, "\(replay.notReplayable.map(\.1.description))", file: file, line: line)
        for result in replay.allResults { try result.taint?.write(traceDirectory: r.trace) }
        _ = try TaintRefinement.refine(traceDirectory: r.trace)
        let refined = try GraphStore.openOrBuild(traceDirectory: r.trace).load()
        let outs = Set(refined.nodes.filter { $0.path == r.directory + "/out.txt" }.map(\.id))
        let secrets = Set(refined.nodes.filter { $0.path == r.directory + "/secret.txt" }.map(\.id))
        let derivations = refined.edges.filter {
            $0.precision == .refined && outs.contains($0.target) && secrets.contains($0.source)
        }
        XCTAssertTrue(derivations.contains { $0.status == .confirmed },
                      "out.txt <- secret.txt: \(derivations.map { "\($0.status) \($0.attributes["reason"]?.stringValue ?? "")" })",
                      file: file, line: line)
    }

    /// A member that only increments shared memory, with no syscall, repeats its registers:
    /// its preemption point is found by the fingerprint of its shared pages. Replay of the
    /// parent, which waits for the count and writes it, diverges if the child stopped at
    /// another iteration.
    func testAPreemptedMemberIsFoundByItsSharedPages() throws {
        let binary = try GroundTruth.compile("shared_memory_flows")
        let dir = GroundTruth.scratch("shm-anon-spin")
        let trace = try GroundTruth.record([binary, "anon-spin"], in: dir, watchdogMilliseconds: 1)
        let count = Int(try String(contentsOfFile: dir + "/count.txt", encoding: .utf8).dropLast()) ?? 0
        XCTAssertGreaterThanOrEqual(count, 1000)
        let fingerprints = try TraceReader(directory: trace).allEvents().events.compactMap { e -> SharedPagesFingerprint? in
            if case .schedule(let s) = e.body, s.preemptedAt != nil { return s.sharedPages } else { return nil }
        }
        XCTAssertFalse(fingerprints.isEmpty, "the child's preemption recorded its shared pages")
        let replay = try ReplaySession(trace: try TraceReader(directory: trace)).run(options: ReplayOptions(jobs: 2))
        XCTAssertTrue(replay.divergences.isEmpty, "\(replay.divergences.map(\.1.description))")
        XCTAssertTrue(replay.notReplayable.isEmpty, "\(replay.notReplayable.map(\.1.description))")
        XCTAssertEqual(replay.allResults.count, 2)
    }

    /// The child's read(2) fills shared memory while the parent runs user code: the trace
    /// cannot order the kernel's writes against the parent's loads, and replay says so,
    /// located, instead of diverging; refinement then refutes nothing into out.txt.
    func testAKernelWriteIntoSharedMemoryDuringAnotherMembersRunIsReported() throws {
        let r = try record("anon-pipe")
        let replay = try ReplaySession(trace: try TraceReader(directory: r.trace))
            .runTaint(options: ReplayOptions(jobs: 2), addressDependency: true)
        XCTAssertTrue(replay.divergences.isEmpty, "\(replay.divergences.map(\.1.description))")
        let reasons = replay.notReplayable.map(\.1.description)
        XCTAssertTrue(reasons.contains { $0.contains("the trace cannot order read @") && $0.contains("while process") }, "\(reasons)")
        for result in replay.allResults { try result.taint?.write(traceDirectory: r.trace) }
        _ = try TaintRefinement.refine(traceDirectory: r.trace)
        let refined = try GraphStore.openOrBuild(traceDirectory: r.trace).load()
        let outs = Set(refined.nodes.filter { $0.path == r.directory + "/out.txt" }.map(\.id))
        XCTAssertFalse(refined.edges.contains { $0.precision == .refined && $0.status == .refuted && outs.contains($0.target) })
    }

    /// A SysV segment the parent attached before both forks: the recorder keeps the
    /// segment's bytes at the attach, the children are one group with the parent, and the
    /// group replays with the secret's flow confirmed.
    func testSysVSegmentAttachedBeforeForkReplaysAsOneGroup() throws {
        let r = try record("sysv-fork")
        XCTAssertTrue(r.graph.nodes.contains { $0.label.hasPrefix("SysV shared memory") })
        try replayCleanly(r)
        try replayGroupWithTaint(r)
    }

    /// Each sibling attaches the segment after the forks: the recorder merges them into one
    /// group at the second attach (flagged in the trace), and replay joins them in one
    /// schedule from there, plain and with taint, the secret's flow confirmed.
    func testSysVSharedMemory() throws { try replayJoinedGroup(try record("sysv-shm")) }

    /// The same with a segment each sibling finds by its key (shmget with a key, then
    /// shmat): nothing about the segment is shared before the mappings.
    func testSysVSegmentFoundByKeyJoinsAGroup() throws {
        let r = try record("sysv-key")
        XCTAssertTrue(r.graph.nodes.contains { $0.label.hasPrefix("SysV shared memory") })
        try replayJoinedGroup(r)
    }

    /// A regular file mapped MAP_SHARED by two processes, one writable (SQLite's -shm file).
    func testFileMappedSharedByTwoProcessesJoinsAGroup() throws { try replayJoinedGroup(try record("file-shared")) }

    /// A memfd passed over a unix socket (SCM_RIGHTS) and mapped by both.
    func testMemfdPassedOverASocketJoinsAGroup() throws { try replayJoinedGroup(try record("memfd-scm")) }

    /// SQLite in WAL mode from two programs a shell started (a file mapped shared, the -shm
    /// index): the reader keeps its connection open across the writer's insert (of the
    /// secret, by `readfile`) and sees it; the recorder merges the two into one group at
    /// the second mapping of the -shm file, and replay runs the two exec images in one
    /// schedule, each in its own interpreter, with no divergence and nothing reported not
    /// replayable. The graph: `why counts.txt` names secret.txt and the -shm file, and
    /// `impact secret.txt` reaches counts.txt.
    func testSQLiteWALFromTwoProgramsReplaysAsOneGroup() throws {
        let dir = GroundTruth.scratch("shm-sqlite")
        try secret.write(toFile: dir + "/secret.txt", atomically: false, encoding: .utf8)
        let script = """
            sqlite3 db.sqlite "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES('a');" > /dev/null
            ( printf 'SELECT count(*) FROM t;\\n.shell touch started\\n'
              while [ ! -f inserted ]; do sleep 0.05; done
              printf 'SELECT count(*) FROM t;\\nSELECT x FROM t WHERE rowid = 2;\\n' ) | sqlite3 db.sqlite > counts.txt &
            while [ ! -f started ]; do sleep 0.05; done
            sqlite3 db.sqlite "INSERT INTO t VALUES(CAST(readfile('secret.txt') AS TEXT));"
            touch inserted
            wait

            """
        try script.write(toFile: dir + "/run.sh", atomically: false, encoding: .utf8)
        let trace = try GroundTruth.record(["/bin/sh", dir + "/run.sh"], in: dir)
        XCTAssertEqual(try String(contentsOfFile: dir + "/counts.txt", encoding: .utf8), "1\n2\n" + secret + "\n",
                       "the reader's open connection saw the writer's insert")
        let joins = try TraceReader(directory: trace).allEvents().events.compactMap { e -> SyscallEvent? in
            guard case .syscall(let s) = e.body, s.flags.contains(.joinedSharedMemoryGroup) else { return nil }
            return s
        }
        XCTAssertFalse(joins.isEmpty, "the second mapping of db.sqlite-shm merged the two programs")
        XCTAssertTrue(joins.allSatisfy { $0.mapped?.path.hasSuffix("db.sqlite-shm") == true }, "\(joins.map { $0.mapped?.path ?? "" })")

        let store = try GraphStore.openOrBuild(traceDirectory: trace)
        let why = try store.lineage(of: try store.startNodes(for: dir + "/counts.txt", direction: .backward).map(\.id), direction: .backward)
        XCTAssertTrue(why.nodes.contains { $0.path == dir + "/secret.txt" }, "why counts.txt names secret.txt: \(why.nodes.map(\.label).sorted())")
        XCTAssertTrue(why.nodes.contains { $0.path == dir + "/db.sqlite-shm" }, "why counts.txt names the -shm file")
        let impact = try store.lineage(of: try store.startNodes(for: dir + "/secret.txt", direction: .forward).map(\.id), direction: .forward)
        XCTAssertTrue(impact.nodes.contains { $0.path == dir + "/counts.txt" }, "impact secret.txt reaches counts.txt: \(impact.nodes.map(\.label).sorted())")

        let session = try ReplaySession(trace: try TraceReader(directory: trace))
        let grouped = session.plan.imageGroups.filter { group in
            group.compactMap { start in session.plan.units.first { $0.startSequence == start } }.filter { $0.executable.hasSuffix("sqlite3") }.count == 2
        }
        XCTAssertEqual(grouped.count, 1, "the two sqlite3 images replay in one schedule: \(session.plan.imageGroups)")
        let replay = session.run(options: ReplayOptions(jobs: 2))
        XCTAssertTrue(replay.divergences.isEmpty, "\(replay.divergences.map(\.1.description))")
        XCTAssertTrue(replay.notReplayable.isEmpty, "\(replay.notReplayable.map(\.1.description))")
        XCTAssertEqual(replay.allResults.count, session.plan.units.count + session.plan.units.reduce(0) { $0 + descendants($1) },
                       "every process image has a result")
    }

    /// The forked images below `unit`, at any depth.
    func descendants(_ unit: ReplayUnit) -> Int {
        unit.forkedChildren.values.reduce(unit.forkedChildren.count) { $0 + descendants($1) }
    }

    /// Two programs exec'd apart (each sibling exec()s the fixture anew) map carrier.txt
    /// shared, the writer writable: the recorder merges them at the writer's mapping, the
    /// plan puts the two exec images in one group, and replay (plain and taint) runs them
    /// in one schedule, each in its own address space, with no divergence; the secret's
    /// flow is confirmed.
    func testTwoProgramsExecdApartSharingAFileReplayAsOneGroup() throws {
        let r = try record("exec-file")
        try expectImageGroup(r, programs: 2)
        try replayJoinedGroup(r)
    }

    /// The same through a SysV segment two programs exec'd apart find by its key.
    func testTwoProgramsExecdApartSharingASysVSegmentReplayAsOneGroup() throws {
        let r = try record("exec-sysv")
        XCTAssertTrue(r.graph.nodes.contains { $0.label.hasPrefix("SysV shared memory") })
        try expectImageGroup(r, programs: 2)
        try replayJoinedGroup(r)
    }

    /// The plan of `r` has one image group with `programs` exec images of the fixture.
    func expectImageGroup(_ r: Recorded, programs: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let plan = try ReplaySession(trace: try TraceReader(directory: r.trace)).plan
        XCTAssertEqual(plan.imageGroups.count, 1, "one group of exec images: \(plan.imageGroups)", file: file, line: line)
        let images = plan.imageGroups.first.map { group in plan.units.filter { group.contains($0.startSequence) } } ?? []
        XCTAssertEqual(images.count, programs, "\(images.map(\.executable))", file: file, line: line)
        XCTAssertEqual(Set(images.map(\.pid)).count, programs, "each image is a process of its own", file: file, line: line)
    }

    /// Both siblings map carrier.txt shared and read-only (no group: neither can store);
    /// the writer then mprotect()s its mapping writable and stores the secret. The
    /// recorder merges the two at that mprotect (flagged), the graph has the store edge
    /// into carrier.txt and the reader's load from it, and replay runs them together.
    func testAMappingMadeWritableByMprotectJoinsAGroup() throws {
        let r = try record("mprotect-shared")
        let joins = try TraceReader(directory: r.trace).allEvents().events.compactMap { e -> SyscallEvent? in
            guard case .syscall(let s) = e.body, s.flags.contains(.joinedSharedMemoryGroup) else { return nil }
            return s
        }
        XCTAssertEqual(joins.map(\.number), [10 /* mprotect */], "the mprotect merged the two processes")
        let carrier = Set(r.graph.nodes.filter { $0.path == r.directory + "/carrier.txt" }.map(\.id))
        XCTAssertTrue(r.graph.edges.contains { $0.operation == "shared store" && carrier.contains($0.target) },
                      "the writer's stores reach carrier.txt")
        XCTAssertTrue(r.graph.edges.contains { $0.operation == "shared load" && carrier.contains($0.source) },
                      "the reader loads carrier.txt's new version")
        try replayJoinedGroup(r)
    }

    /// A group formed at a mapping: the trace flags the call that merged the processes,
    /// replay (plain and taint) runs them in one schedule with no divergence and nothing
    /// reported not replayable, and refinement confirms out.txt <- secret.txt.
    func replayJoinedGroup(_ r: Recorded, file: StaticString = #filePath, line: UInt = #line) throws {
        let joins = try TraceReader(directory: r.trace).allEvents().events.filter { e in
            if case .syscall(let s) = e.body { return s.flags.contains(.joinedSharedMemoryGroup) } else { return false }
        }
        XCTAssertEqual(joins.count, 1, "the second mapping merged the two processes into one group", file: file, line: line)
        try replayCleanly(r, file: file, line: line)
        try replayGroupWithTaint(r, file: file, line: line)
    }

    /// A memfd the parent maps shared and writable before both forks: one group, replayed
    /// together, the secret's flow confirmed.
    func testMemfdMappedBeforeForkReplaysAsOneGroup() throws {
        let r = try record("memfd-fork")
        try replayCleanly(r)
        try replayGroupWithTaint(r)
    }

    /// process_vm_writev(2) into a group member's view of a shared page: the graph has the
    /// edge from the caller, and replay copies the bytes (with their labels) from the caller's
    /// memory into the target's, with no divergence and the flow confirmed.
    func testProcessVMWritevIntoAGroupMembersSharedMemory() throws {
        let r = try record("vm-shared")
        XCTAssertTrue(r.graph.edges.contains { $0.operation == "process_vm_writev" })
        try replayCleanly(r)
        try replayGroupWithTaint(r)
    }

    /// A vfork child reads the secret into the memory it borrows from its parent, which
    /// writes it: replayed on one memory, and the derivation out.txt <- secret.txt is
    /// confirmed (refinement follows a vfork child's inputs into its parent).
    func testVforkChildStoresIntoItsParentsMemory() throws {
        let r = try record("vfork")
        try replayCleanly(r)
        try replayGroupWithTaint(r)
    }

    /// Each sibling maps the inherited memfd after the forks: one group from the second
    /// mapping on.
    func testMemfdMappedByTwoProcesses() throws { try replayJoinedGroup(try record("memfd")) }

}
