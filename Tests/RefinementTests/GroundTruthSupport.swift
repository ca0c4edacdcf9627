// Ground truth for refinement: build a fixture (Fixtures/taint), record it, replay it with
// taint, refine the graph, and look at the answer the way a user's queries do — statuses of
// (output, input) derivations, byte-range lineage, alerts — named by file names relative
// to the test's scratch directory, so that a failure message reads like the fixture's
// header comment.

import FixtureSupport
import Foundation
import Provenance
import Recorder
import Replayer
import Trace
import XCTest

enum GroundTruth {
    static let buildDirectory: String = {
        let dir = NSTemporaryDirectory() + "magprov-refinement-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    /// The attack scenario's fixtures (Fixtures/apt).
    static let aptFixtures = FixtureCompiler.fixturesDirectory + "/apt"

    /// The fixture `Fixtures/FOLDER/NAME.c` (FOLDER `taint` unless given) built with gcc and
    /// `flags` by the shared FixtureCompiler (never committed: built once per test run;
    /// names are unique across the fixture folders).
    static func compile(_ name: String, flags: [String] = ["-O2"], in folder: String = "taint") throws -> String {
        try FixtureCompiler.build("\(folder)/\(name).c", flags: flags, name: "\(name)\(flags.joined())")
    }

    /// A fresh, empty directory for one test's inputs, outputs and trace.
    static func scratch(_ label: String) -> String {
        let dir = "\(buildDirectory)/\(label)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Bytes `(k * multiplier + offset) mod 256` for k in 0..<count: every position has a
    /// known, reproducible value.
    static func pattern(count: Int, multiplier: Int, offset: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 * multiplier + offset) }
    }

    /// Reproducible pseudo-random bytes (xorshift), drawn from `alphabet` when given.
    static func noise(count: Int, seed: UInt64, alphabet: [UInt8]? = nil) -> [UInt8] {
        var state = seed | 1
        return (0..<count).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            if let alphabet { return alphabet[Int(state % UInt64(alphabet.count))] }
            return UInt8(truncatingIfNeeded: state >> 24)
        }
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Records `command` in `directory` (with LC_ALL=C) and checks it exits with 0.
    /// `watchdogMilliseconds`: the recorder's preemption period (default: the recorder's).
    static func record(_ command: [String], in directory: String, watchdogMilliseconds: Int? = nil,
                       file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let trace = directory + "/trace"
        let environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LC_") && $0.key != "LANG" }
            .map { "\($0.key)=\($0.value)" }.sorted() + ["LC_ALL=C"]
        var options = RecordOptions(command: command, outputDirectory: trace, environment: environment)
        options.workingDirectory = directory
        if let watchdogMilliseconds { options.watchdogMilliseconds = watchdogMilliseconds }
        let recorder = Recorder(options: options)
        recorder.log = { _ in }
        let result = try recorder.run()
        XCTAssertEqual(result.exitCode, 0, "\(command.joined(separator: " ")) exit status", file: file, line: line)
        return trace
    }

    /// Records `command`, replays every process with taint, writes the summaries into the
    /// trace and refines its graph: what `magprov record` then `magprov replay --taint` do.
    /// Fails the test for any divergence, incomplete summary or unrefined process: every
    /// fixture here replays completely.
    static func refine(_ command: [String], in directory: String, addressDependency: Bool = true,
                       file: StaticString = #filePath, line: UInt = #line) throws -> RefinedTrace {
        let trace = try record(command, in: directory, file: file, line: line)
        let session = try ReplaySession(trace: try TraceReader(directory: trace))
        let replay = session.runTaint(options: ReplayOptions(jobs: 4), addressDependency: addressDependency)
        let what = command.joined(separator: " ")
        for (unit, divergence) in replay.divergences {
            XCTFail("\(what): process \(unit.pid) \(unit.executable) diverged under taint: \(divergence)", file: file, line: line)
        }
        for result in replay.allResults {
            guard let summary = result.taint else {
                XCTFail("\(what): no taint summary for process \(result.pid) \(result.executable)", file: file, line: line)
                continue
            }
            XCTAssertTrue(summary.completed, "\(what): summary of \(result.pid) \(result.executable) is not complete: \(summary.failure ?? "")",
                          file: file, line: line)
            XCTAssertEqual(summary.addressDependency, addressDependency, file: file, line: line)
            try summary.write(traceDirectory: trace)
        }
        let report = try TaintRefinement.refine(traceDirectory: trace)
        XCTAssertEqual(report.unrefinedProcesses, [], "\(what): every process image replayed, so every one is refined",
                       file: file, line: line)
        XCTAssertEqual(report.warnings, [], "\(what)", file: file, line: line)
        let reader = try TraceReader(directory: trace)
        let store = try GraphStore.openOrBuild(traceDirectory: trace)
        XCTAssertEqual(try store.boundRootChain(), reader.manifest?.rootChain, "the refined store names its recording",
                       file: file, line: line)
        let summaries = try TaintSummary.readAll(traceDirectory: trace, rootChain: reader.manifest?.rootChain ?? "")
        return try RefinedTrace(directory: directory, trace: trace, replay: replay, report: report, store: store,
                                summaries: summaries)
    }
}

/// One fixture's recording after `replay --taint`, with queries named by file names.
struct RefinedTrace {
    /// The scratch directory the command ran in; files are named relative to it.
    let directory: String
    let trace: String
    let replay: ReplaySummary
    let report: RefinementReport
    let store: GraphStore
    let graph: ProvenanceGraph
    let summaries: [TaintSummary]
    let lineage: ByteLineageIndex

    init(directory: String, trace: String, replay: ReplaySummary, report: RefinementReport, store: GraphStore,
         summaries: [TaintSummary]) throws {
        self.directory = directory; self.trace = trace; self.replay = replay; self.report = report
        self.store = store; self.summaries = summaries
        graph = try store.load()
        lineage = ByteLineageIndex(nodes: graph.nodes, placements: try store.placements(), units: try store.units(),
                                   summaries: summaries)
    }

    func path(_ name: String) -> String { name.hasPrefix("/") ? name : "\(directory)/\(name)" }

    /// A node's name in messages: a file relative to the scratch directory, else its label.
    func name(_ node: Node) -> String {
        var label = node.kind == .file && !node.path.isEmpty ? node.path : node.label
        if label.hasPrefix(directory + "/") { label = String(label.dropFirst(directory.count + 1)) }
        return node.kind == .file ? label : "\(node.kind.rawValue) \(label)"
    }

    /// Every version of the file at `name`.
    func versions(of name: String) -> [Node] {
        let full = path(name)
        return graph.nodes.filter { $0.kind == .file && ($0.path == full || $0.label == full) }
    }

    /// The refined derivation edges from any version of `input` to any version of `output`.
    func derivations(of output: String, from input: String) -> [Edge] {
        let outputs = Set(versions(of: output).map(\.id)), inputs = Set(versions(of: input).map(\.id))
        return graph.edges.filter {
            $0.precision == .refined && $0.relation == .wasDerivedFrom && outputs.contains($0.target) && inputs.contains($0.source)
        }
    }

    /// The status refinement gave the pair (output <- input), or a description of what went
    /// wrong: "no derivation" or several different statuses.
    func status(of output: String, from input: String) -> String {
        let edges = derivations(of: output, from: input)
        let statuses = Set(edges.map(\.status.rawValue)).sorted()
        if statuses.isEmpty { return versions(of: output).isEmpty || versions(of: input).isEmpty ? "no such file" : "no derivation" }
        return statuses.joined(separator: "+")
    }

    /// The status and the edge's reason or evidence, for failure messages.
    func explain(_ output: String, from input: String) -> String {
        derivations(of: output, from: input).map { e -> String in
            var s = "\(name(graph.nodes[e.target])) <- \(name(graph.nodes[e.source])): \(e.status.rawValue)"
            if let reason = e.attributes["reason"]?.stringValue { s += " (\(reason))" }
            if case .strings(let lines)? = e.attributes["evidence"] { s += " [" + lines.prefix(4).joined(separator: "; ") + "]" }
            return s
        }.joined(separator: "\n")
    }

    /// Asserts the exact status of each (output <- input) pair.
    func assertStatuses(_ expected: [(output: String, input: String, status: String)],
                        file: StaticString = #filePath, line: UInt = #line) {
        for e in expected {
            XCTAssertEqual(status(of: e.output, from: e.input), e.status,
                           "\(e.output) <- \(e.input)\n\(explain(e.output, from: e.input))", file: file, line: line)
        }
    }

    /// The kinds of flow behind the confirmed (output <- input) derivation: `value`,
    /// `address` (table lookups only), `metadata`, `kernel copy`, `path`.
    func flowKinds(of output: String, from input: String) -> Set<String> {
        var kinds = Set<String>()
        for e in derivations(of: output, from: input) {
            if case .strings(let all)? = e.attributes["flows"] { kinds.formUnion(all) }
            else if let flow = e.attributes["flow"]?.stringValue { kinds.insert(flow) }
        }
        return kinds
    }

    /// `why FILE --bytes A-B`: the object bytes the bytes came from, as "NAME A-B" strings
    /// (kind in brackets when it is not plain content), merged and sorted. Left out: system
    /// files (shared libraries, locale data, the loader cache), metadata endpoints (stat
    /// results; `metadataSources` lists them) and bytes of events that are no object read
    /// (the exec snapshot, argv).
    func why(_ name: String, bytes range: Range<Int64>) -> [String] {
        guard let node = versions(of: name).max(by: { $0.id < $1.id }) else { return ["no such file \(name)"] }
        return describe(lineage.backward(node: node.id, range: range).endpoints)
    }

    /// `impact FILE --bytes A-B` on the first version of the file: where the bytes went.
    func impact(_ name: String, bytes range: Range<Int64>) -> [String] {
        guard let node = versions(of: name).min(by: { $0.id < $1.id }) else { return ["no such file \(name)"] }
        return describe(lineage.forward(node: node.id, range: range).endpoints)
    }

    /// The objects whose metadata (stat results, directory entries) the bytes came from.
    func metadataSources(_ name: String, bytes range: Range<Int64>) -> Set<String> {
        guard let node = versions(of: name).max(by: { $0.id < $1.id }) else { return ["no such file \(name)"] }
        return Set(lineage.backward(node: node.id, range: range).endpoints
            .filter { $0.kind == .metadata && !graph.nodes[$0.node].isSystem }.map { self.name(graph.nodes[$0.node]) })
    }

    /// One hop, value flow only: the input byte ranges the process that wrote `name` copied
    /// or computed these bytes from (table lookups and other address-only flows left out).
    func valueSources(_ name: String, bytes range: Range<Int64>) -> [String] {
        guard let node = versions(of: name).max(by: { $0.id < $1.id }) else { return ["no such file \(name)"] }
        let steps = lineage.backward(node: node.id, range: range).steps
            .filter { $0.output == node.id && $0.flow == "value" && !graph.nodes[$0.input].isSystem }
        var byInput: [Int: [Range<Int64>]] = [:]
        for s in steps {
            guard let start = s.inputStart, let end = s.inputEnd else { continue }
            byInput[s.input, default: []].append(start..<end)
        }
        return byInput.flatMap { input, ranges in
            Self.merged(ranges).map { "\(self.name(graph.nodes[input])) \($0.lowerBound)-\($0.upperBound)" }
        }.sorted()
    }

    static func merged(_ ranges: [Range<Int64>]) -> [Range<Int64>] {
        var result: [Range<Int64>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = result.last, r.lowerBound <= last.upperBound {
                result[result.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                result.append(r)
            }
        }
        return result
    }

    /// Bytes reached by value and bytes reached only through a table lookup count alike
    /// here (the lineage's byte ranges): touching ranges of one object are joined.
    func describe(_ endpoints: [ByteEndpoint]) -> [String] {
        var joined: [ByteEndpoint] = []
        for var e in endpoints.sorted(by: { ($0.node, $0.kind.rawValue, $0.start ?? -1) < ($1.node, $1.kind.rawValue, $1.start ?? -1) }) {
            e.addressOnly = nil
            if let last = joined.last, last.node == e.node, last.kind == e.kind, last.note == e.note,
               let le = last.end, let s = e.start, let end = e.end, s <= le {
                joined[joined.count - 1].end = max(le, end)
                continue
            }
            joined.append(e)
        }
        return joined.filter { !graph.nodes[$0.node].isSystem && $0.kind != .metadata && $0.kind != .notAnObject }.map { e -> String in
            var s = name(graph.nodes[e.node])
            if let start = e.start, let end = e.end { s += " \(start)-\(end)" }
            if e.kind != .content { s += " [\(e.kind.rawValue)]" }
            return s
        }.sorted()
    }

    /// The alerts with a source byte (directly, or at its origin through pipes and files)
    /// in the file `name`.
    func alerts(from name: String) -> [RefinedAlert] {
        report.alerts.filter { sources(of: $0).contains { $0.hasPrefix(name + " ") } }
    }

    /// An alert's source bytes as "NAME A-B" strings, at their origins.
    func sources(of alert: RefinedAlert) -> [String] {
        alert.sources.flatMap { s -> [ObjectBytes] in s.origins.isEmpty ? (s.object.map { [$0] } ?? []) : s.origins }
            .map { o -> String in
                var name = graph.nodes.indices.contains(o.node) ? self.name(graph.nodes[o.node]) : o.name
                if let start = o.start, let end = o.end { name += " \(start)-\(end)" }
                return name
            }.sorted()
    }

    /// Alerts counted by function and source objects, for failure messages.
    func alertOverview() -> String {
        var counts: [String: Int] = [:]
        for a in report.alerts {
            let objects = Set(sources(of: a).map { String($0.split(separator: " ").first ?? "") }).sorted()
            counts["\(a.function ?? "?") <- \(objects.joined(separator: ", "))", default: 0] += 1
        }
        return counts.sorted { $0.key < $1.key }.map { "\($0.value) x \($0.key)" }.joined(separator: "; ")
    }

    /// `why FILE` on the refined graph: the files of the scratch directory (the test's own
    /// inputs and outputs) the newest version of `name` derives from, at any distance.
    /// Program binaries and system files are left out: the refinement keeps their
    /// derivations `unverified` by design (an executable image is no taint source).
    func refinedWhy(_ name: String) throws -> Set<String> {
        try lineageFiles(name, mode: .refined)
    }

    /// The same on the coarse graph (`why --coarse`).
    func coarseWhy(_ name: String) throws -> Set<String> {
        try lineageFiles(name, mode: .coarse)
    }

    func lineageFiles(_ name: String, mode: GraphStore.LineageMode) throws -> Set<String> {
        guard let node = versions(of: name).max(by: { $0.id < $1.id }) else { return ["no such file \(name)"] }
        let (nodes, _) = try store.lineage(of: [node.id], direction: .backward, mode: mode)
        return Set(nodes.filter { $0.id != node.id && $0.kind == .file && $0.path.hasPrefix(directory + "/") }.map(self.name))
    }
}
