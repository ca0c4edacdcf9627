// `magprov graph`, `magprov why`, `magprov impact`: the provenance graph of a recording,
// its exports, and lineage queries. The graph store (provenance.sqlite) is built inside the
// trace directory on first use and reused while the trace is unchanged. Once `magprov
// replay --taint` has refined it, answers come from the refined graph (derivations that
// say `data`, `implicit` or `unverified`) unless `--coarse` asks for the syscall-level one.

import ArgumentParser
import Foundation
import Provenance
import Trace

/// Options every graph command shares.
struct GraphStoreOptions: ParsableArguments {
    @Argument(help: "Trace directory written by magprov record.")
    var trace: String

    @Flag(help: "Rebuild the graph store from the trace even if it is up to date.")
    var rebuild = false

    @Flag(help: "Keep system files (shared libraries, locale data, /proc, /dev/null) in the output.")
    var includeSystemFiles = false

    /// Opens the graph store, rebuilt when the trace is damaged: a store built before the
    /// damage would still pass its seal (it binds the manifest's commitment, not the
    /// streams on disk) and answer for events the trace no longer holds; the rebuilt one
    /// answers from the intact part and names the damage, so the command exits 4.
    func openStore() throws -> GraphStore { try openStoreNotingDamage().store }

    /// `openStore`, with the quick checks that failed (empty for an intact trace).
    func openStoreNotingDamage() throws -> (store: GraphStore, damage: [TraceCheck]) {
        try requireTrace(trace)
        let damage = TraceDamageNotice.report(trace: trace)
        RecordingTrustNotice.report(trace: trace)
        let store = try GraphStore.openOrBuild(traceDirectory: trace, rebuild: rebuild || !damage.isEmpty,
                                               notice: TraceDamageNotice.storeNotice)
        return (store, damage)
    }
}

enum GraphFormat: String, ExpressibleByArgument, CaseIterable {
    case provJSON = "prov-json", dot, svg
}

struct Graph: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the provenance graph of a recording and export it.",
        discussion: """
        Processes, files, pipes and sockets become nodes; what the recorded syscalls did \
        between them (read, write, fork, exec, rename, connect...) becomes edges that point \
        the way information flowed. A file gets a new version node each time it changes, so \
        the graph has no cycles.

        The graph is stored in DIR/provenance.sqlite (used by `why` and `impact`) and \
        exported as W3C PROV-JSON (one line, loadable by Python's `prov` package), Graphviz \
        DOT, or SVG (needs Graphviz's `dot`).

          magprov graph trace -o graph.json
          magprov graph trace --format svg --collapse-threads -o graph.svg
          magprov graph trace --format dot --inputs-outputs
        """)

    @OptionGroup var store: GraphStoreOptions

    @Option(help: "Output format: prov-json, dot or svg.")
    var format: GraphFormat = .provJSON

    @Option(name: .shortAndLong, help: "Write the export to this file instead of standard output.")
    var output: String?

    @Flag(help: "Draw each thread as part of the process that created it.")
    var collapseThreads = false

    @Flag(help: "Show only files: inputs (read, never written) and outputs (written), linked where an output derives from an input.")
    var inputsOutputs = false

    @Flag(help: "Leave out edges that carry no information (close, dup, failed calls).")
    var flowOnly = false

    @Flag(help: "Export the graph as the syscalls showed it, without the taint refinement's derivations.")
    var coarse = false

    func run() throws {
        let graphStore = try store.openStore()
        let graph = try graphStore.load()
        let view = graph.view(ViewOptions(includeSystemFiles: store.includeSystemFiles, collapseThreads: collapseThreads,
                                          inputsAndOutputsOnly: inputsOutputs, includeAnnotations: !flowOnly,
                                          coarse: coarse))
        let text: String
        switch format {
        case .provJSON: text = try ProvJSON.document(view) + "\n"
        case .dot: text = DotExporter.dot(view)
        case .svg: text = try DotExporter.svg(fromDot: DotExporter.dot(view))
        }
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: Data(text.utf8)) else {
                throw CLIError.cannotWrite(path: output, reason: String(cString: strerror(errno)))
            }
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        let counts = graph.counts
        let refined = try graphStore.refinement() != nil
        let kind = coarse || !refined ? "coarse graph" : "refined graph"
        printError("magprov: \(kind) of \(counts.nodes) nodes and \(counts.edges) edges in \(graphStore.path); " +
                   "exported \(view.nodes.count) nodes, \(view.edges.count) edges")
        if !graph.origin.warnings.isEmpty { throw CLIError.damagedTrace(graph.origin.warnings) }
    }
}

/// The shared body of `why` and `impact`.
struct LineageArguments: ParsableArguments {
    @OptionGroup var store: GraphStoreOptions

    @Argument(help: "A file path as the recording saw it (relative paths are tried against the current and the recorded directory), NAME@N for version N of it, a socket by its endpoints as `graph` prints them (127.0.0.1:8080 -> 127.0.0.1:4242) or one address, an entity such as pipe:1234, or #ID for a node id.")
    var target: String

    @Option(help: "Byte-range lineage on the refined graph, for bytes A up to B of the target: `why` lists the input byte ranges they came from, `impact` the output byte ranges they reached.")
    var bytes: String?

    @Flag(help: "Answer from the coarse graph (every read and write) even when the trace is refined.")
    var coarse = false

    @Flag(help: "Print JSON instead of text (complete: every hop, unmerged).")
    var json = false

    @Flag(help: "With --bytes: list every source or destination and every hop; by default the text lists the first \(LineageArguments.listingLimit) of each and says how many more there are.")
    var all = false

    @Flag(help: "Also print how long the query took (to standard error).")
    var stats = false

    /// How many endpoint and hop lines a `--bytes` text answer shows without `--all`.
    static let listingLimit = 40

    func run(_ direction: GraphStore.Direction) throws {
        let (graphStore, damage) = try store.openStoreNotingDamage()
        let clock = ContinuousClock()
        let start = clock.now
        let refinement = try graphStore.refinement()
        let targets: [Node]
        do {
            targets = try graphStore.startNodes(for: target, direction: direction)
        } catch ProvenanceError.targetNotFound(let name, _) where !damage.isEmpty {
            // Not absent: perhaps in the part of the recording that is lost.
            throw CLIError.damagedTrace(["nothing in the intact part of this recording is known as \(name); "
                                         + "it may be in the damaged part"] + damage.map { "\($0.subject): \($0.detail)" })
        }
        if let bytes {
            let range = try parseByteRange(bytes)
            guard refinement != nil else { throw ProvenanceError.notRefined(trace: store.trace) }
            let index = try graphStore.byteLineageIndex(traceDirectory: store.trace)
            let nodes = try graphStore.load().nodes
            var documents: [String] = []
            for t in targets {
                var range = range
                if let size = index.knownSize(of: t.id), range.upperBound > size {
                    let name = ProvenanceGraph.defaultName(nodes[t.id])
                    guard range.lowerBound < size else {
                        throw CLIError.byteRangePastEnd(target: name, range: bytes, size: size)
                    }
                    note("\(name) has \(size) bytes in the recording: answering for bytes \(range.lowerBound)-\(size)")
                    range = range.lowerBound..<size
                }
                var answer = direction == .backward ? index.backward(node: t.id, range: range) : index.forward(node: t.id, range: range)
                // System files (locale data, shared libraries) are left out as in the object
                // answers: a pointer loaded from mapped locale data puts its address-only
                // labels on everything read through it.
                var hidden = 0
                if !store.includeSystemFiles {
                    func system(_ id: Int) -> Bool { nodes.indices.contains(id) && nodes[id].isSystem }
                    let before = answer.endpoints.count
                    answer.endpoints.removeAll { system($0.node) }
                    hidden = before - answer.endpoints.count
                    answer.steps.removeAll { system($0.input) || system($0.output) }
                }
                var text = json ? try answer.json(nodes: nodes) : answer.text(nodes: nodes, limit: all ? nil : Self.listingLimit)
                if hidden > 0 && !json {
                    text += "(\(hidden) byte range\(hidden == 1 ? "" : "s") of system files left out; --include-system-files shows them)\n"
                }
                documents.append(text)
            }
            print(json ? (documents.count == 1 ? documents[0] : "[" + documents.joined(separator: ",") + "]")
                       : documents.joined(separator: "\n"), terminator: json ? "\n" : "")
        } else {
            var mode: GraphStore.LineageMode = coarse || refinement == nil ? .coarse : .refined
            if mode == .refined && targets.contains(where: { $0.kind == .process }) {
                // Derivations join objects; a process's lineage is the coarse one.
                mode = .coarse
                note("a process target: answering from the coarse graph")
            } else if refinement == nil && !coarse {
                if let problem = graphStore.refinementProblem(traceDirectory: store.trace) {
                    note("answering from the coarse graph: \(problem)")
                } else {
                    note("answering from the coarse graph (run `magprov replay --taint \(store.trace)` to refine it)")
                }
            }
            let (nodes, edges) = try graphStore.lineage(of: targets.map(\.id), direction: direction, mode: mode)
            let report = LineageReport(direction: direction, targets: targets, nodes: nodes, edges: edges,
                                       includeSystemFiles: store.includeSystemFiles, mode: mode)
            print(json ? try report.json() : report.text, terminator: json ? "\n" : "")
        }
        let elapsed = clock.now - start
        let ms = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3
        if stats { note("query took \(String(format: "%.1f", ms)) ms") }
        try checkIntact(graphStore)
    }

    func note(_ text: String) {
        FileHandle.standardError.write(Data("magprov: \(text)\n".utf8))
    }
}

struct Why: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Backward lineage: what a file's content came from.",
        discussion: """
        Lists every process, file, pipe and socket whose information could have reached \
        TARGET in the recording, nearest first, with the operation that links each one a step \
        closer (read, write, execve, fork...). For a path, the newest version of the file \
        now at that path is explained: after an editor saved by writing a temporary file and \
        renaming it, that is the renamed file.

        On a trace refined by `magprov replay --taint`, the answer follows derivations \
        between objects instead; each line says how the input reached the output:

          data          bytes flowed; the byte ranges and events are the evidence
                        ("table lookup" there: only through an address dependency,
                        a load at an address computed from the input, as base64,
                        tr or Huffman coding do)
          metadata      facts about the input flowed, not its content: a stat
                        result, directory entries (also when they named the
                        output), an exit status that wait4 returned
          implicit      no byte flowed, but the input steered a branch before the
                        output
          image         the executable image of a process on the way (its bytes
                        are no taint source), kept only while that process still
                        reaches the output
          unverified    the replay could not decide; the reason follows (a
                        process that diverged or was not replayed, a file mapped
                        with mmap, concurrent writers of a pipe, a signal)

        Refuted inputs (no byte flowed, no branch steered) are left out; --coarse shows \
        every read and write.

        With --bytes A-B it lists which byte ranges of which inputs bytes A-B came from, \
        across processes, each marked `data`, `table lookup` or `metadata`, then the hops \
        (adjacent ranges merged; the first 40 unless --all; --json has every hop).

          magprov why trace build/app
          magprov why trace out.txt --bytes 0-64
          magprov why trace out.txt@2 --coarse
          magprov why trace /etc/hosts --include-system-files
        """)

    @OptionGroup var arguments: LineageArguments

    func run() throws { try arguments.run(.backward) }
}

struct Impact: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Forward lineage: what was derived from a file or socket.",
        discussion: """
        Lists every process, file, pipe and socket that information from TARGET could have \
        reached in the recording, nearest first. Every version of a path is followed, so the \
        answer covers what was read before and after the file changed. On a refined trace \
        the answer follows derivations, each line saying `data`, `metadata`, `implicit`, \
        `image` or `unverified` (see `magprov why --help` for what each means); refuted \
        ones are left out. --bytes A-B lists the output byte ranges those input bytes \
        reached, each marked `data` or `table lookup` (reached only through an address \
        dependency somewhere on the way), then the hops (adjacent ranges merged; the first \
        40 unless --all; --json has every hop).

          magprov impact trace secrets.txt
          magprov impact trace secrets.txt --bytes 0-32
          magprov impact trace 127.0.0.1:8080
        """)

    @OptionGroup var arguments: LineageArguments

    func run() throws { try arguments.run(.forward) }
}
