import Foundation
import XCTest
import Trace
@testable import Provenance

/// The refinement stage on synthetic traces with hand-written taint summaries: exact
/// statuses, byte ranges and evidence (DESIGN.md, "Taint and refinement").
final class TaintRefinementTests: XCTestCase {
    // MARK: Fixture

    /// A synthetic trace being scripted, with the sequence numbers tests need.
    struct Scenario {
        var s = EventScript()
        /// Sequence number of the last event appended.
        var last: UInt64 { s.sequence }

        /// Starts a root task and execs `path`; returns the unit's start (the exec event).
        mutating func program(_ tid: Int32, _ path: String, inode: UInt64, parent: Int32 = 0) -> UInt64 {
            s.start(tid, parent: parent, kind: parent == 0 ? .root : .fork)
            s.exec(tid, path, [path], inode: inode)
            return last - 1
        }

        mutating func read(_ tid: Int32, fd: UInt64, _ o: ObjectIdentity, _ bytes: Int64) -> UInt64 {
            s.read(tid, fd: fd, o, bytes: bytes)
            return last
        }

        mutating func write(_ tid: Int32, fd: UInt64, _ o: ObjectIdentity, _ bytes: Int64) -> UInt64 {
            s.write(tid, fd: fd, o, bytes: bytes)
            return last
        }

        /// Writes the events as a real trace directory; returns it and its root chain.
        func writeTrace() throws -> (directory: String, rootChain: String) {
            let directory = NSTemporaryDirectory() + "magprov-refine-\(UUID().uuidString.prefix(8))"
            let header = TraceHeader(magprovVersion: "test", kernel: "test", hostname: "test", cpuModel: "test", cpuid: [],
                                     featureMask: [], command: "test", argv: ["test"], environment: [], cwd: "/home/u",
                                     startTime: 0, uid: 1000, gid: 1000)
            let writer = try TraceWriter(directory: directory, header: header)
            for e in s.events { try writer.append(e) }
            let manifest = try writer.finish(exitCode: 0, exitSignal: nil, syscalls: UInt64(s.events.count))
            return (directory, manifest.rootChain)
        }
    }

    func summary(_ chain: String, pid: Int32, tid: Int32? = nil, start: UInt64, exe: String = "", completed: Bool = true,
                 failure: String? = nil, flows: [TaintFlow] = [], control: [ControlSource] = [],
                 alerts: [TaintAlert] = []) -> TaintSummary {
        TaintSummary(traceRootChain: chain, pid: pid, tid: tid ?? pid, startSequence: start, executable: exe,
                     completed: completed, failure: failure, flows: flows, controlSources: control, alerts: alerts)
    }

    /// Refines: writes the summaries into the trace, runs `TaintRefinement.refine`.
    func refine(_ trace: String, _ summaries: [TaintSummary]) throws -> (RefinementReport, GraphStore) {
        for s in summaries { try s.write(traceDirectory: trace) }
        let report = try TaintRefinement.refine(traceDirectory: trace)
        return (report, try GraphStore(path: GraphStore.path(forTrace: trace)))
    }

    /// Derivations by "input label -> output label", refuted ones included.
    func derivations(_ store: GraphStore) throws -> [String: Edge] {
        let nodes = try store.load().nodes
        var result: [String: Edge] = [:]
        for e in try store.derivations() {
            result["\(ProvenanceGraph.defaultName(nodes[e.source])) -> \(ProvenanceGraph.defaultName(nodes[e.target]))"] = e
        }
        return result
    }

    func statuses(_ store: GraphStore) throws -> [String: EdgeStatus] {
        try derivations(store).mapValues(\.status)
    }

    /// pick reads a, b and c (100 bytes each) and writes 50 bytes of out.
    func threeInputs() -> (Scenario, start: UInt64, reads: [UInt64], write: UInt64) {
        var t = Scenario()
        let start = t.program(10, "/bin/pick", inode: 1)
        t.s.openRead(10, "/a", inode: 20, fd: 3)
        t.s.openRead(10, "/b", inode: 21, fd: 4)
        t.s.openRead(10, "/c", inode: 22, fd: 5)
        t.s.openWrite(10, "/out", inode: 30, fd: 6)
        let ra = t.read(10, fd: 3, t.s.file(0, "/a", 20), 100)
        let rb = t.read(10, fd: 4, t.s.file(0, "/b", 21), 100)
        let rc = t.read(10, fd: 5, t.s.file(0, "/c", 22), 100)
        let w = t.write(10, fd: 6, t.s.file(0, "/out", 30), 50)
        t.s.exit(10)
        return (t, start, [ra, rb, rc], w)
    }

    // MARK: Statuses

    /// out = bytes 10-60 of b: b confirmed with its byte ranges, a and c refuted, the
    /// program's own image kept as `image` (unverified: its bytes are not a taint source).
    func testOutputFromOneOfThreeInputs() throws {
        let (t, start, reads, w) = threeInputs()
        let (trace, chain) = try t.writeTrace()
        let (report, store) = try refine(trace, [
            summary(chain, pid: 10, start: start, exe: "/bin/pick",
                    flows: [TaintFlow(output: w, outputStart: 0, outputEnd: 50, input: reads[1], inputStart: 10, inputEnd: 60, shifted: true)]),
        ])
        let d = try derivations(store)
        XCTAssertEqual(try statuses(store), [
            "file /a -> file /out": .refuted,
            "file /b -> file /out": .confirmed,
            "file /c -> file /out": .refuted,
            "file /bin/pick -> file /out": .unverified,
        ])
        let b = try XCTUnwrap(d["file /b -> file /out"])
        XCTAssertEqual(b.attributes["flow"], .string("value"))
        XCTAssertEqual(b.attributes["outputRanges"], .strings(["0-50"]))
        XCTAssertEqual(b.attributes["inputRanges"], .strings(["10-60"]))
        XCTAssertEqual(b.attributes["outputEvents"], .strings([String(w)]))
        XCTAssertEqual(b.attributes["inputEvents"], .strings([String(reads[1])]))
        XCTAssertEqual(b.attributes["evidence"], .strings(["write@\(w) [0,50) = bytes 0-50 <- read@\(reads[1]) [10,60) = bytes 10-60 (value, byte for byte)"]))
        XCTAssertEqual(b.relation, .wasDerivedFrom)
        XCTAssertEqual(b.precision, .refined)
        XCTAssertEqual(d["file /bin/pick -> file /out"]?.attributes["reason"],
                       .string("the program of pick[10], which made the output"))
        XCTAssertEqual(d["file /bin/pick -> file /out"]?.attributes["image"], .bool(true))
        XCTAssertEqual(report.coarseDerivationPairs, 4)
        XCTAssertEqual([report.confirmed, report.implicit, report.refuted, report.unverified], [1, 0, 2, 1])
        XCTAssertEqual(report.unrefinedProcesses, [])
        XCTAssertEqual(report.traceRootChain, chain)

        // Refined lineage names the true source; refuted inputs are gone; --coarse keeps all.
        let out = try store.startNodes(for: "/out", direction: .backward)
        let refined = try store.lineage(of: out.map(\.id), direction: .backward, mode: .refined)
        XCTAssertEqual(Set(refined.nodes.map(\.label)), ["/out", "/b", "/bin/pick"])
        let text = LineageReport(direction: .backward, targets: out, nodes: refined.nodes, edges: refined.edges,
                                 includeSystemFiles: false, mode: .refined).text
        XCTAssertTrue(text.contains("data   file /b  (bytes 0-50 <- 10-60; write@\(w)"), text)
        XCTAssertTrue(text.contains("image  file /bin/pick  (the program of pick[10], which made the output)"), text)
        let coarse = try store.lineage(of: out.map(\.id), direction: .backward, mode: .coarse)
        XCTAssertTrue(Set(coarse.nodes.map(\.label)).isSuperset(of: ["/a", "/b", "/c"]))
        let impact = try store.lineage(of: try store.startNodes(for: "/a", direction: .forward).map(\.id), direction: .forward,
                                       mode: .refined)
        XCTAssertEqual(impact.nodes.map(\.label), ["/a"])
    }

    /// out = a XOR b (every output byte from the same byte of both); c read and dropped.
    func testXorOfTwoInputsWithThirdDropped() throws {
        let (t, start, reads, w) = threeInputs()
        let (trace, chain) = try t.writeTrace()
        let (report, store) = try refine(trace, [
            summary(chain, pid: 10, start: start, flows: [
                TaintFlow(output: w, outputStart: 0, outputEnd: 50, input: reads[0], inputStart: 0, inputEnd: 50),
                TaintFlow(output: w, outputStart: 0, outputEnd: 50, input: reads[1], inputStart: 0, inputEnd: 50),
            ]),
        ])
        let d = try derivations(store)
        XCTAssertEqual(d["file /a -> file /out"]?.status, .confirmed)
        XCTAssertEqual(d["file /b -> file /out"]?.status, .confirmed)
        XCTAssertEqual(d["file /c -> file /out"]?.status, .refuted)
        XCTAssertEqual(d["file /a -> file /out"]?.attributes["inputRanges"], .strings(["0-50"]))
        XCTAssertEqual(d["file /b -> file /out"]?.attributes["outputRanges"], .strings(["0-50"]))
        XCTAssertEqual(d["file /c -> file /out"]?.attributes["reason"],
                       .string("no byte read from the input reached the output, and it steered no branch before it"))
        XCTAssertEqual([report.confirmed, report.refuted], [2, 1])
    }

    /// b only steered a branch before the write: implicit. c steered one only after the
    /// write: refuted. a flowed by address dependency only (a table lookup).
    func testImplicitOnlyThroughControlSources() throws {
        let (t, start, reads, w) = threeInputs()
        let (trace, chain) = try t.writeTrace()
        let (report, store) = try refine(trace, [
            summary(chain, pid: 10, start: start,
                    flows: [TaintFlow(output: w, outputStart: 0, outputEnd: 50, input: reads[0], inputStart: 0, inputEnd: 100, addressOnly: true)],
                    control: [ControlSource(input: reads[1], firstSequence: reads[2]),
                              ControlSource(input: reads[2], firstSequence: w + 1)]),
        ])
        let d = try derivations(store)
        XCTAssertEqual(d["file /a -> file /out"]?.status, .confirmed)
        XCTAssertEqual(d["file /a -> file /out"]?.attributes["flow"], .string("address"))
        XCTAssertEqual(d["file /b -> file /out"]?.status, .implicit)
        XCTAssertEqual(d["file /b -> file /out"]?.attributes["reason"],
                       .string("read@\(reads[1]) steered a branch at @\(reads[2]) before write@\(w)"))
        XCTAssertEqual(d["file /c -> file /out"]?.status, .refuted)
        XCTAssertEqual(report.confirmedByAddressOnly, 1)
        XCTAssertEqual(report.implicit, 1)
        // Implicit edges stay in lineage.
        let out = try store.startNodes(for: "/out", direction: .backward)
        let labels = Set(try store.lineage(of: out.map(\.id), direction: .backward, mode: .refined).nodes.map(\.label))
        XCTAssertTrue(labels.isSuperset(of: ["/a", "/b"]))
        XCTAssertFalse(labels.contains("/c"))
    }

    /// A replay that diverged refines nothing: every pair stays unverified, even with a
    /// flow in its summary, and the report names the process and the reason.
    func testIncompleteSummaryLeavesEverythingUnverified() throws {
        let (t, start, reads, w) = threeInputs()
        let (trace, chain) = try t.writeTrace()
        let (report, store) = try refine(trace, [
            summary(chain, pid: 10, start: start, exe: "/bin/pick", completed: false,
                    failure: "diverged at instruction 1234: expected write, got exit_group",
                    flows: [TaintFlow(output: w, outputStart: 0, outputEnd: 50, input: reads[1], inputStart: 0, inputEnd: 50)]),
        ])
        XCTAssertEqual(Set(try statuses(store).values), [.unverified])
        XCTAssertEqual(report.unverified, 4)
        XCTAssertEqual(report.unrefinedProcesses, [
            UnrefinedProcess(pid: 10, tid: 10, executable: "/bin/pick",
                             reason: "replay did not complete: diverged at instruction 1234: expected write, got exit_group"),
        ])
        XCTAssertTrue(report.text.contains("pid 10 /bin/pick: replay did not complete: diverged"), report.text)
        XCTAssertEqual(try derivations(store)["file /a -> file /out"]?.attributes["reason"],
                       .string("pid 10 /bin/pick not refined: replay did not complete: diverged at instruction 1234: expected write, got exit_group"))
    }

    /// No summary at all (not replayed): unverified, named as not replayed.
    func testMissingSummaryLeavesPairsUnverified() throws {
        let (t, _, _, _) = threeInputs()
        let (trace, _) = try t.writeTrace()
        let (report, store) = try refine(trace, [])
        XCTAssertEqual(Set(try statuses(store).values), [.unverified])
        XCTAssertEqual(report.unrefinedProcesses.map(\.reason), ["not replayed (no taint summary)"])
    }

    /// Summaries of another recording are refused.
    func testRootChainMismatchIsRefused() throws {
        let (t, start, _, _) = threeInputs()
        let (trace, chain) = try t.writeTrace()
        try summary(String(repeating: "0", count: chain.count), pid: 10, start: start).write(traceDirectory: trace)
        XCTAssertThrowsError(try TaintRefinement.refine(traceDirectory: trace)) { error in
            guard case ProvenanceError.taintSummaries(let reason)? = error as? ProvenanceError else {
                return XCTFail("\(error)")
            }
            XCTAssertTrue(reason.contains("computed from another recording"), reason)
        }
        // The store refuses to answer for another recording as well: it is rebuilt coarse.
        XCTAssertNil(try GraphStore.openOrBuild(traceDirectory: trace).refinement())
    }

    /// A refined store bound to a root chain is rebuilt when the trace's chain changes.
    func testRefinedStoreIsBoundToTheRootChain() throws {
        let (t, start, reads, w) = threeInputs()
        let (trace, chain) = try t.writeTrace()
        _ = try refine(trace, [summary(chain, pid: 10, start: start,
                                       flows: [TaintFlow(output: w, outputStart: 0, outputEnd: 50, input: reads[1], inputStart: 0, inputEnd: 50)])])
        XCTAssertEqual(try GraphStore.openOrBuild(traceDirectory: trace).boundRootChain(), chain)
        // Another recording's manifest in the same directory: the refinement does not carry over.
        let manifestPath = trace + "/manifest.json"
        let text = try String(contentsOfFile: manifestPath, encoding: .utf8).replacingOccurrences(of: chain, with: String(repeating: "1", count: chain.count))
        try text.write(toFile: manifestPath, atomically: false, encoding: .utf8)
        let store = try GraphStore.openOrBuild(traceDirectory: trace)
        XCTAssertNil(try store.refinement())
        XCTAssertThrowsError(try store.alerts(traceDirectory: trace)) { error in
            XCTAssertEqual(error as? ProvenanceError, .notRefined(trace: trace))
            XCTAssertTrue("\(error)".contains("run `magprov replay --taint"))
        }
    }

    /// A coarse store is bound to its trace's commitment too: a store copied in from another
    /// recording (newer than the trace, so no date check catches it) is rebuilt.
    func testCoarseStoreIsBoundToTheRootChain() throws {
        let (t, _, _, _) = threeInputs()
        let (trace, chain) = try t.writeTrace()
        XCTAssertEqual(try GraphStore.openOrBuild(traceDirectory: trace).boundRootChain(), chain)
        var other = Scenario()
        _ = other.program(1, "/bin/true", inode: 9)
        let (otherTrace, otherChain) = try other.writeTrace()
        let foreign = try GraphStore.openOrBuild(traceDirectory: otherTrace)
        let foreignCounts = try foreign.counts()
        let path = GraphStore.path(forTrace: trace)
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: GraphStore.path(forTrace: otherTrace), toPath: path)
        XCTAssertEqual(try GraphStore(path: path).boundRootChain(), otherChain)
        let store = try GraphStore.openOrBuild(traceDirectory: trace)
        XCTAssertEqual(try store.boundRootChain(), chain, "the other recording's store was answered from")
        XCTAssertNotEqual(try store.counts().nodes, foreignCounts.nodes)
    }

    // MARK: Composition across processes

    /// sh | cat in | tr > out: cat copies bytes 0-200 of in into the pipe, tr copies pipe
    /// bytes 100-200 into out. Output bytes 10-20 came from bytes 110-120 of in.
    func pipeline() -> (Scenario, cat: UInt64, tr: UInt64, catFlows: [TaintFlow], trFlows: [TaintFlow], trRead: UInt64) {
        var t = Scenario()
        _ = t.program(1, "/bin/sh", inode: 1)
        t.s.call(1, "pipe2", [0x5000, 0], result: 0, objects: [t.s.pipe(-1, 77), t.s.pipe(-2, 77)],
                 writes: [MemoryWrite(address: 0x5000, bytes: fdPair(3, 4))])
        let cat = t.program(2, "/bin/cat", inode: 2, parent: 1)
        let tr = t.program(3, "/bin/tr", inode: 3, parent: 1)
        t.s.openRead(2, "/in", inode: 40, fd: 5)
        let r0 = t.read(2, fd: 5, t.s.file(0, "/in", 40), 100)
        let r1 = t.read(2, fd: 5, t.s.file(0, "/in", 40), 100)
        let w0 = t.write(2, fd: 4, t.s.pipe(0, 77), 200)
        t.s.openWrite(3, "/out", inode: 41, fd: 6)
        _ = t.read(3, fd: 3, t.s.pipe(0, 77), 100)
        let p1 = t.read(3, fd: 3, t.s.pipe(0, 77), 100)
        let w1 = t.write(3, fd: 6, t.s.file(0, "/out", 41), 100)
        let catFlows = [TaintFlow(output: w0, outputStart: 0, outputEnd: 100, input: r0, inputStart: 0, inputEnd: 100, shifted: true),
                        TaintFlow(output: w0, outputStart: 100, outputEnd: 200, input: r1, inputStart: 0, inputEnd: 100, shifted: true)]
        let trFlows = [TaintFlow(output: w1, outputStart: 0, outputEnd: 100, input: p1, inputStart: 0, inputEnd: 100, shifted: true)]
        return (t, cat, tr, catFlows, trFlows, p1)
    }

    func testPipelineComposesByteRangesAcrossThePipe() throws {
        let (t, cat, tr, catFlows, trFlows, _) = pipeline()
        let (trace, chain) = try t.writeTrace()
        let (report, store) = try refine(trace, [
            summary(chain, pid: 2, start: cat, exe: "/bin/cat", flows: catFlows),
            summary(chain, pid: 3, start: tr, exe: "/bin/tr", flows: trFlows),
        ])
        let d = try derivations(store)
        XCTAssertEqual(d["file /in -> pipe pipe:[77]"]?.status, .confirmed)
        XCTAssertEqual(d["file /in -> pipe pipe:[77]"]?.attributes["outputRanges"], .strings(["0-200"]))
        XCTAssertEqual(d["file /in -> pipe pipe:[77]"]?.attributes["inputRanges"], .strings(["0-200"]))
        XCTAssertEqual(d["pipe pipe:[77] -> file /out"]?.status, .confirmed)
        XCTAssertEqual(d["pipe pipe:[77] -> file /out"]?.attributes["inputRanges"], .strings(["100-200"]))
        // The shell and the forked children before exec were not replayed.
        XCTAssertEqual(Set(report.unrefinedProcesses.map(\.pid)), [1, 2, 3])

        let index = try store.byteLineageIndex(traceDirectory: trace)
        let nodes = try store.load().nodes
        let out = try XCTUnwrap(nodes.first { $0.path == "/out" })
        let input = try XCTUnwrap(nodes.first { $0.path == "/in" })
        let pipe = try XCTUnwrap(nodes.first { $0.kind == .pipe })
        let why = index.backward(node: out.id, range: 10..<20)
        XCTAssertEqual(why.endpoints, [ByteEndpoint(node: input.id, kind: .content, start: 110, end: 120)])
        XCTAssertEqual(why.steps.map { "\($0.output):\($0.outputStart!)-\($0.outputEnd!) <- \($0.input):\($0.inputStart!)-\($0.inputEnd!)" }, [
            "\(pipe.id):110-120 <- \(input.id):110-120",
            "\(out.id):10-20 <- \(pipe.id):110-120",
        ])
        XCTAssertTrue(why.text(nodes: nodes).contains("  file /in bytes 110-120  (data)\n"), why.text(nodes: nodes))
        // Forward: those input bytes reached the pipe and out; bytes 0-100 never reached out.
        let impact = index.forward(node: input.id, range: 110..<120)
        XCTAssertEqual(impact.endpoints, [ByteEndpoint(node: pipe.id, kind: .content, start: 110, end: 120),
                                          ByteEndpoint(node: out.id, kind: .content, start: 10, end: 20)])
        let dropped = index.forward(node: input.id, range: 0..<100)
        XCTAssertEqual(dropped.endpoints, [ByteEndpoint(node: pipe.id, kind: .content, start: 0, end: 100)])
        // A whole-range why through non-shifted flows widens to the whole input range.
        let json = try why.json(nodes: nodes)
        XCTAssertTrue(json.contains("\"name\":\"file /in\""), json)
    }

    /// Without tr's summary the walk stops at tr and says so.
    func testByteLineageStopsAtAnUnrefinedProcess() throws {
        let (t, cat, _, catFlows, _, _) = pipeline()
        let (trace, chain) = try t.writeTrace()
        let (_, store) = try refine(trace, [summary(chain, pid: 2, start: cat, exe: "/bin/cat", flows: catFlows)])
        let index = try store.byteLineageIndex(traceDirectory: trace)
        let nodes = try store.load().nodes
        let out = try XCTUnwrap(nodes.first { $0.path == "/out" })
        let why = index.backward(node: out.id, range: 10..<20)
        XCTAssertEqual(why.endpoints.map(\.kind), [.unrefined])
        XCTAssertEqual(why.endpoints.first?.note, "pid 3 /bin/tr not refined: not replayed (no taint summary)")
    }

    /// An alert in tr, whose pointer came from pipe bytes, is mapped to the pipe bytes and
    /// traced back to the input file; an alert from a pread is mapped to its file offsets.
    func testAlertsAreMappedToObjects() throws {
        let (scenario, cat, tr, catFlows, trFlows, trRead) = pipeline()
        var t = scenario
        t.s.openRead(2, "/keys", inode: 42, fd: 7)
        t.s.call(2, "pread64", [7, 0x3000, 64, 1000], result: 64, objects: [t.s.file(0, "/keys", 42)])
        let pread = t.last
        let (trace, chain) = try t.writeTrace()
        let (report, store) = try refine(trace, [
            summary(chain, pid: 2, start: cat, exe: "/bin/cat", flows: catFlows,
                    alerts: [TaintAlert(tid: 2, address: 0x401000, target: 0x4141, function: "dispatch+0x10 in /bin/cat",
                                        instruction: "call rax", sequence: pread + 1,
                                        sources: [TaintByteRange(event: pread, start: 8, end: 16)])]),
            summary(chain, pid: 3, start: tr, exe: "/bin/tr", flows: trFlows,
                    alerts: [TaintAlert(tid: 3, address: 0x402000, target: 0x4242, function: nil, instruction: "jmp qword ptr [rbx]",
                                        sequence: trRead + 1, sources: [TaintByteRange(event: trRead, start: 0, end: 8)])]),
        ])
        XCTAssertEqual(report.alerts.count, 2)
        let first = report.alerts[0]
        XCTAssertEqual(first.pid, 3)
        XCTAssertEqual(first.executable, "/bin/tr")
        XCTAssertEqual(first.sources.first?.object?.name, "pipe pipe:[77]")
        XCTAssertEqual(first.sources.first?.object?.start, 100)
        XCTAssertEqual(first.sources.first?.object?.end, 108)
        XCTAssertEqual(first.sources.first?.origins.map(\.name), ["file /in"])
        XCTAssertEqual(first.sources.first?.origins.first?.start, 100)
        XCTAssertEqual(first.sources.first?.origins.first?.end, 108)
        let second = report.alerts[1]
        XCTAssertEqual(second.pid, 2)
        XCTAssertEqual(second.function, "dispatch+0x10 in /bin/cat")
        XCTAssertEqual(second.sources.first?.object?.name, "file /keys")
        XCTAssertEqual(second.sources.first?.object?.start, 1008)
        XCTAssertEqual(second.sources.first?.object?.end, 1016)
        XCTAssertTrue(second.text.contains("from file /keys bytes 1008-1016 (event \(pread))"), second.text)
        XCTAssertEqual(try store.alerts(traceDirectory: trace), report.alerts)
        // `magprov alerts` reads them from the store.
        XCTAssertEqual(try GraphStore.openOrBuild(traceDirectory: trace).alerts(traceDirectory: trace).count, 2)
    }

    /// A trace never refined: alerts and byte lineage say to run replay --taint first.
    func testUnrefinedTraceAsksForReplayWithTaint() throws {
        let (t, _, _, _) = threeInputs()
        let (trace, _) = try t.writeTrace()
        let store = try GraphStore.openOrBuild(traceDirectory: trace)
        XCTAssertNil(try store.refinement())
        XCTAssertThrowsError(try store.alerts(traceDirectory: trace)) { error in
            XCTAssertEqual(error as? ProvenanceError, .notRefined(trace: trace))
        }
        XCTAssertThrowsError(try store.byteLineageIndex(traceDirectory: trace))
    }

    // MARK: What may not be refuted

    /// Two processes write the same pipe version: the reader's pairs are never refuted.
    func testConcurrentWritersOfOnePipeAreNeverRefuted() throws {
        var t = Scenario()
        _ = t.program(1, "/bin/sh", inode: 1)
        t.s.call(1, "pipe2", [0x5000, 0], result: 0, objects: [t.s.pipe(-1, 88), t.s.pipe(-2, 88)],
                 writes: [MemoryWrite(address: 0x5000, bytes: fdPair(3, 4))])
        let a = t.program(2, "/bin/echo", inode: 2, parent: 1)
        let b = t.program(3, "/bin/echo", inode: 2, parent: 1)
        let reader = t.program(4, "/bin/wc", inode: 4, parent: 1)
        _ = t.write(2, fd: 4, t.s.pipe(0, 88), 5)
        _ = t.write(3, fd: 4, t.s.pipe(0, 88), 5)
        t.s.openWrite(4, "/count", inode: 50, fd: 6)
        _ = t.read(4, fd: 3, t.s.pipe(0, 88), 10)
        _ = t.write(4, fd: 6, t.s.file(0, "/count", 50), 3)
        let (trace, chain) = try t.writeTrace()
        let (_, store) = try refine(trace, [summary(chain, pid: 2, start: a), summary(chain, pid: 3, start: b),
                                            summary(chain, pid: 4, start: reader)])
        let edge = try XCTUnwrap(try derivations(store)["pipe pipe:[88] -> file /count"])
        XCTAssertEqual(edge.status, .unverified)
        XCTAssertEqual(edge.attributes["reason"], .string("pipe pipe:[88] has concurrent writers the trace cannot order"))
    }

    /// A parent reads a file, forks a child that execs and writes: the pair crosses an
    /// exec and stays unverified. A child forked without exec shares the memory: its
    /// flow from the parent's read confirms the pair.
    func testForkChildrenShareMemoryAndExecDoesNot() throws {
        var t = Scenario()
        let parent = t.program(1, "/bin/prog", inode: 1)
        t.s.openRead(1, "/secret", inode: 60, fd: 3)
        let read = t.read(1, fd: 3, t.s.file(0, "/secret", 60), 32)
        t.s.start(2, parent: 1, kind: .fork)
        let forked = t.last
        t.s.openWrite(2, "/copy", inode: 61, fd: 4)
        let copy = t.write(2, fd: 4, t.s.file(0, "/copy", 61), 32)
        let execed = t.program(3, "/bin/other", inode: 3, parent: 1)
        t.s.openWrite(3, "/other", inode: 62, fd: 4)
        _ = t.write(3, fd: 4, t.s.file(0, "/other", 62), 8)
        let (trace, chain) = try t.writeTrace()
        let (_, store) = try refine(trace, [
            summary(chain, pid: 1, start: parent),
            summary(chain, pid: 2, start: forked,
                    flows: [TaintFlow(output: copy, outputStart: 0, outputEnd: 32, input: read, inputStart: 0, inputEnd: 32, shifted: true)]),
            summary(chain, pid: 3, start: execed),
        ])
        let d = try derivations(store)
        XCTAssertEqual(d["file /secret -> file /copy"]?.status, .confirmed)
        XCTAssertEqual(d["file /secret -> file /copy"]?.attributes["inputRanges"], .strings(["0-32"]))
        // Across the exec only argv and the environment carry bytes; whether they did is
        // for the child's life before its exec to say, and it has no summary here.
        XCTAssertEqual(d["file /secret -> file /other"]?.status, .unverified)
        XCTAssertEqual(d["file /secret -> file /other"]?.attributes["reason"],
                       .string("pid 3 /bin/prog not refined: not replayed (no taint summary)"))
    }

    /// A child reads a secret and exits; its parent reaps it with wait4 and writes. The
    /// exit status is the only channel between them: the pair composes through it (the
    /// child's exit_group argument is a sink, wait4's status a source). Data on both sides
    /// confirms, a branch on either side makes it implicit, no use on one side refutes; a
    /// signal between the processes is not followed and stays unverified.
    func testPairsThroughTheExitStatusCompose() throws {
        enum Side { case none, data, control }
        func run(child: Side, parent: Side, signal: Bool = false) throws -> Edge {
            var t = Scenario()
            let sh = t.program(1, "/bin/sh", inode: 1)
            let grep = t.program(2, "/bin/grep", inode: 2, parent: 1)
            t.s.openRead(2, "/secret", inode: 70, fd: 3)
            let read = t.read(2, fd: 3, t.s.file(0, "/secret", 70), 32)
            if signal { t.s.call(2, "kill", [1, 10], result: 0) }
            t.s.call(2, "exit_group", [1], result: 0)
            let exit = t.last
            t.s.exit(2, 1)
            t.s.call(1, "wait4", [UInt64(bitPattern: -1), 0x7000, 0, 0], result: 2,
                     writes: [MemoryWrite(address: 0x7000, bytes: [0, 1, 0, 0])])
            let wait = t.last
            t.s.openWrite(1, "/out", inode: 71, fd: 4)
            let write = t.write(1, fd: 4, t.s.file(0, "/out", 71), 8)
            let (trace, chain) = try t.writeTrace()
            var childFlows: [TaintFlow] = [], childControl: [ControlSource] = []
            var shFlows: [TaintFlow] = [], shControl: [ControlSource] = []
            switch child {
            case .data: childFlows = [TaintFlow(output: exit, outputStart: 0, outputEnd: 1, input: read, inputStart: 4, inputEnd: 5, shifted: false)]
            case .control: childControl = [ControlSource(input: read, firstSequence: exit - 1)]
            case .none: break
            }
            switch parent {
            case .data: shFlows = [TaintFlow(output: write, outputStart: 0, outputEnd: 1, input: wait, inputStart: 1, inputEnd: 2, shifted: false)]
            case .control: shControl = [ControlSource(input: wait, firstSequence: write - 1)]
            case .none: break
            }
            let (_, store) = try refine(trace, [summary(chain, pid: 1, start: sh, flows: shFlows, control: shControl),
                                                summary(chain, pid: 2, start: grep, flows: childFlows, control: childControl)])
            return try XCTUnwrap(try derivations(store)["file /secret -> file /out"])
        }
        let confirmed = try run(child: .data, parent: .data)
        XCTAssertEqual(confirmed.status, .confirmed)
        XCTAssertEqual(confirmed.attributes["flow"], .string("exit status"))
        XCTAssertEqual(confirmed.attributes["inputRanges"], .strings(["4-5"]))
        XCTAssertEqual(try run(child: .control, parent: .data).status, .implicit)
        XCTAssertEqual(try run(child: .data, parent: .control).status, .implicit)
        let unused = try run(child: .none, parent: .control)
        XCTAssertEqual(unused.status, .refuted)
        XCTAssertTrue(unused.attributes["reason"]?.description.hasPrefix(
            "no byte read from the input reached pid 2's exit status, nor steered a branch before its exit@") ?? false)
        XCTAssertEqual(try run(child: .data, parent: .none).status, .refuted)
        // A signal is a second hop between the two; taint does not follow it.
        let signalled = try run(child: .none, parent: .none, signal: true)
        XCTAssertEqual(signalled.status, .unverified)
        XCTAssertTrue(signalled.attributes["reason"]?.description.hasPrefix("reached the writer from pid 2 only through kill@") ?? false)
    }

    /// Scripts/demo's shape: `dd if=/unused of=/dev/null; gzip < /in > /out` in a shell.
    /// dd's only link to /out is its exit status (wait4). When no byte of /unused reached
    /// that status, /unused -> /out is refuted, and so is dd's executable image: its
    /// program reaches /out only through that process. gzip's image is the program that
    /// wrote /out: kept, shown as `image`. When /unused did reach dd's status, dd's image
    /// is kept too, and says which of its inputs keeps it. Impact follows the same edges.
    func testImagesFollowTheirProcessPaths() throws {
        func run(statusFromData: Bool) throws -> (store: GraphStore, edges: [String: Edge]) {
            var t = Scenario()
            let sh = t.program(1, "/bin/sh", inode: 1)
            let dd = t.program(2, "/bin/dd", inode: 2, parent: 1)
            t.s.openRead(2, "/unused", inode: 70, fd: 3)
            let read = t.read(2, fd: 3, t.s.file(0, "/unused", 70), 32)
            t.s.call(2, "exit_group", [0], result: 0)
            let exit = t.last
            t.s.exit(2, 0)
            t.s.call(1, "wait4", [UInt64(bitPattern: -1), 0x7000, 0, 0], result: 2,
                     writes: [MemoryWrite(address: 0x7000, bytes: [0, 0, 0, 0])])
            let wait = t.last
            let gzip = t.program(3, "/bin/gzip", inode: 3, parent: 1)
            t.s.openRead(3, "/in", inode: 71, fd: 0)
            let input = t.read(3, fd: 0, t.s.file(0, "/in", 71), 64)
            t.s.openWrite(3, "/out", inode: 72, fd: 1)
            let write = t.write(3, fd: 1, t.s.file(0, "/out", 72), 40)
            let (trace, chain) = try t.writeTrace()
            let ddFlows = statusFromData
                ? [TaintFlow(output: exit, outputStart: 0, outputEnd: 1, input: read, inputStart: 0, inputEnd: 1, shifted: false)] : []
            let (_, store) = try refine(trace, [
                summary(chain, pid: 1, start: sh, control: [ControlSource(input: wait, firstSequence: wait + 1)]),
                summary(chain, pid: 2, start: dd - 1), summary(chain, pid: 2, start: dd, flows: ddFlows),
                summary(chain, pid: 3, start: gzip - 1), summary(chain, pid: 3, start: gzip,
                        flows: [TaintFlow(output: write, outputStart: 0, outputEnd: 40, input: input, inputStart: 0, inputEnd: 64, shifted: false)]),
            ])
            return (store, try derivations(store))
        }
        let (store, d) = try run(statusFromData: false)
        XCTAssertEqual(d["file /unused -> file /out"]?.status, .refuted)
        XCTAssertEqual(d["file /in -> file /out"]?.status, .confirmed)
        let dd = try XCTUnwrap(d["file /bin/dd -> file /out"])
        XCTAssertEqual(dd.status, .refuted)
        XCTAssertEqual(dd.attributes["reason"]?.stringValue,
                       "the program of dd[2], every input of which to the output was refuted (file /unused): its image reaches it no other way")
        let gzip = try XCTUnwrap(d["file /bin/gzip -> file /out"])
        XCTAssertEqual(gzip.status, .unverified)
        XCTAssertEqual(gzip.attributes["image"], .bool(true))
        XCTAssertEqual(gzip.attributes["reason"]?.stringValue, "the program of gzip[3], which made the output")
        XCTAssertEqual(d["file /bin/sh -> file /out"]?.attributes["reason"]?.stringValue,
                       "the program of sh[1], which read nothing else: what it passed on came from its code")

        let out = try store.startNodes(for: "/out", direction: .backward)
        let why = try store.lineage(of: out.map(\.id), direction: .backward, mode: .refined)
        XCTAssertEqual(Set(why.nodes.map(\.label)), ["/out", "/in", "/bin/gzip", "/bin/sh"])
        let text = LineageReport(direction: .backward, targets: out, nodes: why.nodes, edges: why.edges,
                                 includeSystemFiles: false, mode: .refined).text
        XCTAssertTrue(text.contains("image  file /bin/gzip  (the program of gzip[3], which made the output)"), text)
        let impact = try store.lineage(of: try store.startNodes(for: "/bin/dd", direction: .forward).map(\.id),
                                       direction: .forward, mode: .refined)
        XCTAssertEqual(impact.nodes.map(\.label), ["/bin/dd"], "dd's program reached nothing")

        let (_, kept) = try run(statusFromData: true)
        XCTAssertEqual(kept["file /unused -> file /out"]?.status, .implicit)
        XCTAssertEqual(kept["file /bin/dd -> file /out"]?.status, .unverified)
        XCTAssertEqual(kept["file /bin/dd -> file /out"]?.attributes["reason"]?.stringValue,
                       "the program of dd[2], whose input file /unused reached the output (implicit: it steered a branch)")
    }

    /// A child killed by a signal has no exit_group argument to sink: the status came from
    /// the signal, so the pair stays unverified; refined lineage still reaches the secret.
    func testPairsThroughAKilledChildStayUnverified() throws {
        var t = Scenario()
        let sh = t.program(1, "/bin/sh", inode: 1)
        let child = t.program(2, "/bin/parse", inode: 2, parent: 1)
        t.s.openRead(2, "/secret", inode: 70, fd: 3)
        _ = t.read(2, fd: 3, t.s.file(0, "/secret", 70), 32)
        t.s.append(2, .taskExit(TaskExit(exitCode: nil, signal: 11)))
        t.s.call(1, "wait4", [UInt64(bitPattern: -1), 0x7000, 0, 0], result: 2,
                 writes: [MemoryWrite(address: 0x7000, bytes: [11, 0, 0, 0])])
        let wait = t.last
        t.s.openWrite(1, "/out", inode: 71, fd: 4)
        _ = t.write(1, fd: 4, t.s.file(0, "/out", 71), 8)
        let (trace, chain) = try t.writeTrace()
        let (_, store) = try refine(trace, [summary(chain, pid: 1, start: sh), summary(chain, pid: 2, start: child)])
        let edge = try XCTUnwrap(try derivations(store)["file /secret -> file /out"])
        XCTAssertEqual(edge.status, .unverified)
        XCTAssertEqual(edge.attributes["reason"],
                       .string("reached the writer from pid 2 only through wait4@\(wait), which taint does not follow"))
        let out = try XCTUnwrap(try store.load().nodes.last { ProvenanceGraph.defaultName($0) == "file /out" })
        let lineage = try store.lineage(of: [out.id], direction: .backward, mode: .refined)
        XCTAssertTrue(lineage.nodes.contains { ProvenanceGraph.defaultName($0) == "file /secret" })
    }

    /// Bytes an exec carried (argv, environment) trace back through the exec'ing image's
    /// summary: bytes it copied from a file lead to that file; bytes no flow of it fed were
    /// literals of its program and drop out, rather than listing every string as "not an
    /// object read". Without the exec'ing image's summary the walk says where it stops.
    /// Per-byte copy hops of one process between two events read as one hop.
    func testExecStringsTraceThroughTheExecingImage() throws {
        var t = Scenario()
        let shell = t.program(1, "/bin/sh", inode: 1)
        t.s.openRead(1, "/secret", inode: 60, fd: 3)
        let read = t.read(1, fd: 3, t.s.file(0, "/secret", 60), 32)
        t.s.start(2, parent: 1, kind: .fork)
        let forked = t.last
        t.s.exec(2, "/bin/tool", ["/bin/tool"], inode: 3)
        let tool = t.last - 1, execve = t.last
        t.s.openWrite(2, "/out", inode: 62, fd: 4)
        let write = t.write(2, fd: 4, t.s.file(0, "/out", 62), 20)
        let (trace, chain) = try t.writeTrace()
        // The tool copies argv bytes 0-10 (from the secret) and 100-110 (a literal of the
        // shell) to /out, one byte per flow.
        var toolFlows: [TaintFlow] = []
        for i in Int64(0)..<10 {
            toolFlows.append(TaintFlow(output: write, outputStart: i, outputEnd: i + 1, input: execve,
                                       inputStart: i, inputEnd: i + 1, shifted: true))
        }
        toolFlows += [TaintFlow(output: write, outputStart: 10, outputEnd: 20, input: execve, inputStart: 100, inputEnd: 110, shifted: true)]
        let toolSummary = TaintSummary(traceRootChain: chain, pid: 2, tid: 2, startSequence: tool, executable: "/bin/tool",
                                       completed: true, flows: toolFlows, execveSequence: execve)
        let childFlows = [TaintFlow(output: execve, outputStart: 0, outputEnd: 10, input: read, inputStart: 0, inputEnd: 10, shifted: true)]
        let (_, store) = try refine(trace, [summary(chain, pid: 1, start: shell), toolSummary,
                                            summary(chain, pid: 2, start: forked, flows: childFlows)])
        let nodes = try store.load().nodes
        let out = try XCTUnwrap(nodes.first { $0.path == "/out" })
        let secret = try XCTUnwrap(nodes.first { $0.path == "/secret" })
        let why = try store.byteLineageIndex(traceDirectory: trace).backward(node: out.id, range: 0..<20)
        XCTAssertEqual(why.endpoints, [ByteEndpoint(node: secret.id, kind: .content, start: 0, end: 10)])
        XCTAssertEqual(why.steps.map { "\($0.output):\($0.outputStart!)-\($0.outputEnd!) <- \($0.input):\($0.inputStart!)-\($0.inputEnd!)" },
                       ["\(out.id):0-10 <- \(secret.id):0-10"])

        // The same trace without the exec'ing image's summary: the walk stops at the exec.
        try FileManager.default.removeItem(atPath: trace + "/taint")
        let (_, unrefined) = try refine(trace, [summary(chain, pid: 1, start: shell), toolSummary])
        let stopped = try unrefined.byteLineageIndex(traceDirectory: trace).backward(node: out.id, range: 0..<20)
        let note = "argv and envp strings of exec event \(execve); the exec'ing pid 2 /bin/sh not refined: not replayed (no taint summary)"
        let toolProcess = try XCTUnwrap(stopped.endpoints.first?.node)
        XCTAssertEqual(stopped.endpoints, [ByteEndpoint(node: toolProcess, kind: .notAnObject, start: 0, end: 10, note: note),
                                           ByteEndpoint(node: toolProcess, kind: .notAnObject, start: 100, end: 110, note: note)])
    }

    /// A file mapped with mmap reached the process whatever the replay labelled: without
    /// a summary naming the mapping, its pairs stay unverified; a read-only input of the
    /// same process is refuted. A mapping a flow names confirms its pair.
    func testMappedInputsAreNotRefutedUnlessLabelled() throws {
        var t = Scenario()
        let start = t.program(1, "/bin/x", inode: 1)
        t.s.openRead(1, "/table", inode: 100, fd: 3)
        t.s.call(1, "fstat", [3, 0x6000], result: 0, objects: [t.s.file(0, "/table", 100)])
        t.s.call(1, "mmap", [0, 8192, 1, 2, 3, 4096], result: 0x7f00_0000_0000, objects: [t.s.file(4, "/table", 100)])
        let map = t.last
        t.s.openRead(1, "/data", inode: 101, fd: 4)
        t.s.call(1, "mmap", [0, 4096, 1, 2, 4, 0], result: 0x7f00_0001_0000, objects: [t.s.file(4, "/data", 101)])
        let dataMap = t.last
        t.s.openRead(1, "/unused", inode: 102, fd: 5)
        _ = t.read(1, fd: 5, t.s.file(0, "/unused", 102), 10)
        t.s.openWrite(1, "/out", inode: 103, fd: 6)
        let w = t.write(1, fd: 6, t.s.file(0, "/out", 103), 16)
        let (trace, chain) = try t.writeTrace()
        let (_, store) = try refine(trace, [summary(chain, pid: 1, start: start, flows: [
            TaintFlow(output: w, outputStart: 0, outputEnd: 16, input: dataMap, inputStart: 100, inputEnd: 116, shifted: true),
        ])])
        let d = try derivations(store)
        XCTAssertEqual(d["file /table -> file /out"]?.status, .unverified)
        XCTAssertEqual(d["file /table -> file /out"]?.attributes["reason"],
                       .string("mapped with mmap, and no summary shows the mapping was labelled"))
        XCTAssertEqual(d["file /unused -> file /out"]?.status, .refuted)
        XCTAssertEqual(d["file /data -> file /out"]?.status, .confirmed)
        // Mapping coordinates: the mapped pages from the mapping's file offset.
        XCTAssertEqual(d["file /data -> file /out"]?.attributes["inputRanges"], .strings(["100-116"]))
        XCTAssertEqual(try store.placements().first { $0.sequence == map && $0.role == .mapIn }?.offset, 4096)
    }

    /// ls-like: directory entries (getdents) and a stat result reached the output. Both are
    /// metadata, not content; the stat has no coarse edge and becomes a metadata derivation.
    func testMetadataSourcesAreReportedAsMetadata() throws {
        var t = Scenario()
        let start = t.program(1, "/bin/ls", inode: 1)
        t.s.openRead(1, "/dir", inode: 110, fd: 3)
        t.s.call(1, "getdents64", [3, 0x7000, 4096], result: 48, objects: [t.s.file(0, "/dir", 110)])
        let dents = t.last
        t.s.openRead(1, "/dir/a", inode: 111, fd: 4)
        t.s.openWrite(1, "/listing", inode: 112, fd: 5)
        t.s.call(1, "fstat", [4, 0x6000], result: 0, objects: [t.s.file(0, "/dir/a", 111)])
        let stat = t.last
        t.s.call(1, "close", [4], result: 0, objects: [t.s.file(0, "/dir/a", 111)])
        let w = t.write(1, fd: 5, t.s.file(0, "/listing", 112), 20)
        let (trace, chain) = try t.writeTrace()
        let (report, store) = try refine(trace, [summary(chain, pid: 1, start: start, flows: [
            TaintFlow(output: w, outputStart: 0, outputEnd: 2, input: dents, inputStart: 19, inputEnd: 21),
            TaintFlow(output: w, outputStart: 2, outputEnd: 10, input: stat, inputStart: 48, inputEnd: 56),
        ])])
        let d = try derivations(store)
        XCTAssertEqual(d["file /dir -> file /listing"]?.status, .confirmed)
        XCTAssertEqual(d["file /dir -> file /listing"]?.attributes["flow"], .string("metadata"))
        XCTAssertEqual(report.confirmedByMetadataOnly, 2)
        XCTAssertEqual(report.metadataDerivations, 0, "the open of /dir/a is a coarse edge, so the stat confirms that pair")
        let out = try store.startNodes(for: "/listing", direction: .backward)
        let lineage = try store.lineage(of: out.map(\.id), direction: .backward, mode: .refined)
        let text = LineageReport(direction: .backward, targets: out, nodes: lineage.nodes, edges: lineage.edges,
                                 includeSystemFiles: false, mode: .refined).text
        XCTAssertTrue(text.contains("metadata  file /dir  "), text)
        XCTAssertTrue(text.contains("metadata  file /dir/a  "), text)
    }

    /// git-init-like: a file is created under a name taken from a directory listing
    /// (getdents) of a template directory, and another under a name read from a file's
    /// content. The directory entry that named the file is metadata and is reported as
    /// such (`metadata`, "named the file"); the content that named the other is data (`path`).
    func testMetadataThatNamedAFileIsReportedAsMetadata() throws {
        var t = Scenario()
        let start = t.program(1, "/bin/git", inode: 1)
        t.s.openRead(1, "/templates", inode: 120, fd: 3)
        t.s.call(1, "getdents64", [3, 0x7000, 4096], result: 48, objects: [t.s.file(0, "/templates", 120)])
        let dents = t.last
        t.s.openRead(1, "/names", inode: 121, fd: 4)
        let read = t.read(1, fd: 4, t.s.file(0, "/names", 121), 16)
        t.s.openWrite(1, "/repo/description", inode: 122, fd: 5)
        let created = t.last
        t.s.openWrite(1, "/repo/HEAD", inode: 123, fd: 6)
        let named = t.last
        let (trace, chain) = try t.writeTrace()
        let (report, store) = try refine(trace, [TaintSummary(
            traceRootChain: chain, pid: 1, tid: 1, startSequence: start, executable: "/bin/git", completed: true,
            pathSinks: [PathSink(event: created, argument: 1, sources: [TaintByteRange(event: dents, start: 19, end: 30)]),
                        PathSink(event: named, argument: 1, sources: [TaintByteRange(event: read, start: 0, end: 4)])])])
        let d = try derivations(store)
        let listing = try XCTUnwrap(d["file /templates -> file /repo/description"])
        XCTAssertEqual(listing.status, .confirmed)
        XCTAssertEqual(listing.attributes["flow"], .string("metadata"))
        XCTAssertEqual(listing.attributes["evidence"],
                       .strings(["openat@\(created) <- getdents64@\(dents) [19,30) (metadata, named the file)"]))
        XCTAssertEqual(d["file /names -> file /repo/HEAD"]?.attributes["flow"], .string("path"))
        XCTAssertEqual(report.confirmedByMetadataOnly, 1)
        for (file, via) in [("/repo/description", "metadata  file /templates  "), ("/repo/HEAD", "data   file /names  ")] {
            let out = try store.startNodes(for: file, direction: .backward)
            let lineage = try store.lineage(of: out.map(\.id), direction: .backward, mode: .refined)
            let text = LineageReport(direction: .backward, targets: out, nodes: lineage.nodes, edges: lineage.edges,
                                     includeSystemFiles: false, mode: .refined).text
            XCTAssertTrue(text.contains(via), text)
        }
    }

    /// `impact --bytes` through a table-driven encoder has a hop per output byte: the text
    /// keeps data apart from table lookups (address dependency), merges adjacent ranges,
    /// spans each process's ranges between two objects in one line, caps long listings
    /// with "… N more (use --all / --json)", and explains the words it used; `--all` lists
    /// the merged hops, and JSON keeps every hop.
    func testByteLineageTextMergesRangesAndKeepsTableLookupsApart() throws {
        let nodes = [Node(id: 0, kind: .file, entity: "f:in", version: 1, label: "/in", path: "/in", startTime: 0),
                     Node(id: 1, kind: .file, entity: "f:out", version: 1, label: "/out", path: "/out", startTime: 0),
                     Node(id: 2, kind: .process, entity: "p:1", version: 1, label: "enc[1]", startTime: 0)]
        // 1,000 one-byte table-lookup hops out[k] <- in[0, 16), bytes 2,000-2,016 by value
        // in two adjacent hops, and 60 other objects reached (each a separate endpoint).
        var steps = (Int64(0)..<1000).map {
            ByteStep(output: 1, outputStart: $0, outputEnd: $0 + 1, input: 0, inputStart: 0, inputEnd: 16, process: 2,
                     outputEvent: 9, inputEvent: 5, flow: "address")
        }
        steps += [ByteStep(output: 1, outputStart: 2000, outputEnd: 2008, input: 0, inputStart: 0, inputEnd: 8, process: 2,
                           outputEvent: 9, inputEvent: 5, flow: "value"),
                  ByteStep(output: 1, outputStart: 2008, outputEnd: 2016, input: 0, inputStart: 8, inputEnd: 16, process: 2,
                           outputEvent: 10, inputEvent: 5, flow: "value")]
        var endpoints = [ByteEndpoint(node: 1, kind: .content, start: 0, end: 1000, addressOnly: true),
                         ByteEndpoint(node: 1, kind: .content, start: 2000, end: 2016)]
        endpoints += (0..<60).map { ByteEndpoint(node: 3 + $0, kind: .content, start: 0, end: 1) }
        let answer = ByteLineage(direction: "impact", target: 0, start: 0, end: 16, endpoints: endpoints, steps: steps, truncated: nil)
        let text = answer.text(nodes: nodes, limit: 40)
        XCTAssertTrue(text.contains("  file /out bytes 0-1000  (table lookup only)\n"), text)
        XCTAssertTrue(text.contains("  file /out bytes 2000-2016  (data)\n"), text)
        XCTAssertTrue(text.contains("  … 22 more (use --all / --json)\n"), text)
        XCTAssertTrue(text.contains("through (1002 hops, shown as 2 lines with adjacent ranges merged"), text)
        XCTAssertTrue(text.contains("  table lookup  file /out bytes 0-1000 <- file /in bytes 0-16  by process enc[1], event 9 <- 5\n"), text)
        XCTAssertTrue(text.contains("  data          file /out bytes 2000-2016 <- file /in bytes 0-16  by process enc[1], events 9-10 <- 5\n"), text)
        XCTAssertTrue(text.contains("where:\n  data          computed from those bytes by value"), text)
        XCTAssertTrue(text.contains("  table lookup  loaded from an address computed from those bytes (an address dependency"), text)
        XCTAssertFalse(text.contains("metadata"), "only the words used are explained")
        XCTAssertLessThan(text.split(separator: "\n").count, 60)
        let all = answer.text(nodes: nodes)
        XCTAssertFalse(all.contains("more (use --all"), all)
        XCTAssertEqual(all.split(separator: "\n").filter { $0.hasPrefix("  node ") }.count, 60)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(answer.json(nodes: nodes).utf8)) as? [String: Any])
        XCTAssertEqual((json["steps"] as? [Any])?.count, 1002, "JSON keeps every hop")
        XCTAssertEqual(((json["endpoints"] as? [[String: Any]])?.first)?["addressOnly"] as? Bool, true)
    }

    /// sendfile from in to out is a derivation by itself, with its byte ranges, even
    /// without a summary of the process.
    func testKernelCopyIsConfirmedByItself() throws {
        var t = Scenario()
        _ = t.program(1, "/bin/cp", inode: 1)
        t.s.openRead(1, "/in", inode: 70, fd: 3)
        t.s.openWrite(1, "/out", inode: 71, fd: 4)
        t.s.call(1, "lseek", [3, 4096, 0], result: 4096, objects: [t.s.file(0, "/in", 70)])
        t.s.call(1, "sendfile", [4, 3, 0, 1000], result: 1000, objects: [t.s.file(0, "/out", 71), t.s.file(1, "/in", 70)])
        let (trace, _) = try t.writeTrace()
        let (report, store) = try refine(trace, [])
        let edge = try XCTUnwrap(try derivations(store)["file /in -> file /out"])
        XCTAssertEqual(edge.status, .confirmed)
        XCTAssertEqual(edge.attributes["flow"], .string("kernel copy"))
        XCTAssertEqual(edge.attributes["inputRanges"], .strings(["4096-5096"]))
        XCTAssertEqual(edge.attributes["outputRanges"], .strings(["0-1000"]))
        XCTAssertEqual(report.confirmedByKernelCopy, 1)
    }

    // MARK: Event coordinates

    /// File offsets follow read/write, pread/pwrite, lseek and O_APPEND (when the size is known).
    func testPlacementsTrackFileOffsets() {
        var t = Scenario()
        _ = t.program(1, "/bin/x", inode: 1)
        t.s.openRead(1, "/f", inode: 80, fd: 3)
        let r0 = t.read(1, fd: 3, t.s.file(0, "/f", 80), 10)
        t.s.call(1, "lseek", [3, 500, 0], result: 500, objects: [t.s.file(0, "/f", 80)])
        let r1 = t.read(1, fd: 3, t.s.file(0, "/f", 80), 20)
        t.s.call(1, "pread64", [3, 0x3000, 8, 7000], result: 8, objects: [t.s.file(0, "/f", 80)])
        let r2 = t.last
        let r3 = t.read(1, fd: 3, t.s.file(0, "/f", 80), 5)
        // O_WRONLY|O_CREAT|O_APPEND on a new file: size 0, then each write at the end.
        t.s.call(1, "openat", [UInt64(bitPattern: -100), 0x2000, 0o2101, 0o644], result: 4,
                 objects: [t.s.path(1, "/log", 0), t.s.file(-1, "/log", 81)])
        let w0 = t.write(1, fd: 4, t.s.file(0, "/log", 81), 10)
        let w1 = t.write(1, fd: 4, t.s.file(0, "/log", 81), 5)
        let build = CoarseGraphBuilder.buildWithPlacements(events: t.s.events, rootUID: 1000, rootDirectory: "/home/u")
        func offset(_ sequence: UInt64) -> Int64?? {
            build.placements.first { $0.sequence == sequence && $0.role != .generated }.map(\.offset)
        }
        XCTAssertEqual(offset(r0), 0)
        XCTAssertEqual(offset(r1), 500)
        XCTAssertEqual(offset(r2), 7000)
        XCTAssertEqual(offset(r3), 520)
        XCTAssertEqual(offset(w0), 0)
        XCTAssertEqual(offset(w1), 10)
        XCTAssertEqual(build.units.map(\.executable), ["/bin/x"])
        XCTAssertTrue(build.placements.allSatisfy { $0.unit == 0 })
    }

    /// A pipe's readers get stream positions in the order of what its writers wrote.
    func testPipePlacementsAreStreamPositions() {
        let (t, _, _, _, _, trRead) = pipeline()
        let build = CoarseGraphBuilder.buildWithPlacements(events: t.s.events, rootUID: 1000, rootDirectory: "/home/u")
        let read = build.placements.first { $0.sequence == trRead && $0.role == .contentIn }
        XCTAssertEqual(read?.offset, 100)
        XCTAssertEqual(read?.length, 100)
        let write = build.placements.first { $0.role == .contentOut && build.graph.nodes[$0.object].kind == .pipe }
        XCTAssertEqual(write?.offset, 0)
        XCTAssertEqual(write?.stream, read?.stream)
        // Units: the shell's exec, each child's fork and exec.
        XCTAssertEqual(build.units.map { "\($0.pid) \($0.executable)\($0.forked ? " (forked)" : "")" },
                       ["1 /bin/sh", "2 /bin/sh (forked)", "2 /bin/cat", "3 /bin/sh (forked)", "3 /bin/tr"])
    }

    /// The refined view drops refuted derivations and draws the rest by status; the
    /// inputs/outputs view follows derivations.
    func testRefinedViewAndExports() throws {
        let (t, start, reads, w) = threeInputs()
        let (trace, chain) = try t.writeTrace()
        let (_, store) = try refine(trace, [
            summary(chain, pid: 10, start: start,
                    flows: [TaintFlow(output: w, outputStart: 0, outputEnd: 50, input: reads[1], inputStart: 0, inputEnd: 50)],
                    control: [ControlSource(input: reads[0], firstSequence: reads[2])]),
        ])
        let graph = try store.load()
        let io = graph.view(ViewOptions(inputsAndOutputsOnly: true))
        let names = Dictionary(uniqueKeysWithValues: graph.nodes.map { ($0.id, $0.label) })
        XCTAssertEqual(Set(io.edges.map { "\(names[$0.source]!) -> \(names[$0.target]!) \($0.status.rawValue)" }),
                       ["/a -> /out implicit", "/b -> /out confirmed", "/bin/pick -> /out unverified"])
        let coarse = graph.view(ViewOptions(inputsAndOutputsOnly: true, coarse: true))
        XCTAssertEqual(coarse.edges.count, 4)
        let dot = DotExporter.dot(graph.view(ViewOptions(includeAnnotations: false)))
        XCTAssertTrue(dot.contains("label=\"implicit\", color=\"#bc4c00\""), dot)
        XCTAssertTrue(dot.contains("label=\"data\", color=\"#1a7f37\""), dot)
        XCTAssertFalse(graph.view().edges.contains { $0.status == .refuted })
        XCTAssertEqual(graph.view(ViewOptions(coarse: true)).edges.filter { $0.precision == .refined }.count, 0)
    }

    /// `FILE@N` selects a version; a socket is found by its endpoints as graph prints them.
    func testVersionAndSocketNames() throws {
        var t = Scenario()
        _ = t.program(1, "/bin/x", inode: 1)
        t.s.openWrite(1, "/f", inode: 90, fd: 3)
        _ = t.write(1, fd: 3, t.s.file(0, "/f", 90), 4)
        t.s.call(1, "ftruncate", [3, 0], result: 0, objects: [t.s.file(0, "/f", 90)])
        _ = t.write(1, fd: 3, t.s.file(0, "/f", 90), 4)
        let (trace, _) = try t.writeTrace()
        let store = try GraphStore.openOrBuild(traceDirectory: trace)
        XCTAssertEqual(try store.startNodes(for: "/f@1", direction: .backward).map(\.version), [1])
        XCTAssertEqual(try store.startNodes(for: "/f@2", direction: .forward).map(\.version), [2])
        XCTAssertThrowsError(try store.startNodes(for: "/f@9", direction: .backward))
        XCTAssertThrowsError(try parseByteRange("20-10"))
        XCTAssertEqual(try parseByteRange("10-20"), 10..<20)
    }
}
