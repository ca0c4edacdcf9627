// The flow summary of one replayed process image: what `magprov replay --taint` learns about
// one replay unit, written as `taint/<pid>-<tid>-<startSequence>.json` in the trace directory and read by
// the provenance stage, which composes the summaries of every process into the refined
// graph (docs/ARCHITECTURE.md, "Taint").
//
// Coordinates are *event coordinates*: a byte is named by the global sequence number of the
// syscall event that moved it and its offset within the bytes that event moved (the
// buffer of a write, the data a read delivered, the pages an mmap mapped, iovecs
// concatenated). The provenance stage maps event coordinates to object versions and
// object offsets; the replayer never needs to know what object a descriptor names.

import Foundation

/// The flow summary of one replay unit (one process image, or one child forked without exec).
public struct TaintSummary: Codable, Equatable, Sendable {
    /// Bumped whenever the meaning of a field changes; readers refuse other versions.
    public static let currentFormatVersion = 1

    public var formatVersion: Int
    /// The trace's root commitment (`TraceManifest.rootChain`, over header, streams and
    /// blobs): a summary of another trace, or of a trace changed since, is refused.
    public var traceRootChain: String
    public var pid: Int32
    /// The task that starts the unit (the exec'ing or forked task).
    public var tid: Int32
    /// Global sequence number of the event that starts the unit (exec or task start).
    public var startSequence: UInt64
    public var executable: String
    /// True when the replay reproduced every recorded stop. A summary that is not complete
    /// refines nothing: its pairs stay `unverified`.
    public var completed: Bool
    /// Why the replay stopped early (a divergence or an unsupported instruction), if it did.
    public var failure: String?
    /// Whether loads through input-derived addresses propagated labels (on by default).
    public var addressDependency: Bool
    /// Explicit flows: output byte ranges and the input byte ranges they were computed from.
    public var flows: [TaintFlow]
    /// Input events whose labels reached a conditional branch, cmov or setcc (implicit
    /// flow), each with the first global sequence number at which that happened. An input
    /// that steered control before an output may have influenced it.
    public var controlSources: [ControlSource]
    /// Places where input bytes became an instruction pointer by value flow.
    public var alerts: [TaintAlert]
    /// Syscall path arguments whose bytes came from input ("input named a file").
    public var pathSinks: [PathSink]
    /// For an image started by execve: the execve event whose argument and environment
    /// strings this image labelled as input on its initial stack. The exec'ing image sank
    /// the same strings as that event's bytes, so a byte of them that no flow of that image
    /// fed was a constant there. Nil for forked units and summaries written before it.
    public var execveSequence: UInt64?
    /// What the replay cost and saw; `spans` is filled by `init` from `flows` and
    /// `pathSinks` (entries standing for spans of events).
    public var statistics: TaintStatistics

    public init(traceRootChain: String, pid: Int32, tid: Int32, startSequence: UInt64, executable: String,
                completed: Bool, failure: String? = nil, addressDependency: Bool = true,
                flows: [TaintFlow] = [], controlSources: [ControlSource] = [], alerts: [TaintAlert] = [],
                pathSinks: [PathSink] = [], execveSequence: UInt64? = nil, statistics: TaintStatistics = TaintStatistics()) {
        self.formatVersion = Self.currentFormatVersion
        self.traceRootChain = traceRootChain; self.pid = pid; self.tid = tid
        self.startSequence = startSequence; self.executable = executable
        self.completed = completed; self.failure = failure; self.addressDependency = addressDependency
        self.flows = flows; self.controlSources = controlSources; self.alerts = alerts
        self.pathSinks = pathSinks; self.execveSequence = execveSequence; self.statistics = statistics
        // Entries standing for spans of events, counted here so every writer reports them.
        let spans = flows.count(where: { $0.throughInput != nil }) + pathSinks.reduce(0) { total, sink in total + sink.sources.count(where: { $0.throughEvent != nil }) }
        if spans > 0 { self.statistics.spans = spans }
    }
}

/// Output bytes `[outputStart, outputEnd)` of sink event `output` were computed from input
/// bytes `[inputStart, inputEnd)` of source event `input`. When both ranges have the same
/// length and `shifted` is true, output byte `outputStart + k` came from input byte
/// `inputStart + k` (a copy); otherwise every output byte of the range may depend on every
/// input byte of the range.
public struct TaintFlow: Codable, Equatable, Sendable {
    public var output: UInt64
    public var outputStart: Int64
    public var outputEnd: Int64
    public var input: UInt64
    public var inputStart: Int64
    public var inputEnd: Int64
    /// Byte-to-byte correspondence (a copy), see the type's comment.
    public var shifted: Bool
    /// True when the dependency came only through address dependency (a table lookup
    /// indexed by input bytes), not by value.
    public var addressOnly: Bool
    /// True when the input ranges were widened to keep a label set bounded
    /// (`TaintStatistics.coarsenedSets`): the true ranges lie within.
    public var coarsened: Bool
    /// Set on a coarsened flow that stands for many input events: the inputs are bytes
    /// `[inputStart, inputEnd)` of every source event of the unit from `input` through
    /// `throughInput` (global sequence numbers, inclusive), those the output's label set
    /// named and any between them (a sink whose set named more events than a flow summary
    /// keeps, `TaintStatistics.spans`). Nil (absent from the JSON): the one event `input`.
    /// Optional, so summaries written before it read unchanged.
    public var throughInput: UInt64?

    public init(output: UInt64, outputStart: Int64, outputEnd: Int64, input: UInt64, inputStart: Int64,
                inputEnd: Int64, shifted: Bool = false, addressOnly: Bool = false, coarsened: Bool = false,
                throughInput: UInt64? = nil) {
        self.output = output; self.outputStart = outputStart; self.outputEnd = outputEnd
        self.input = input; self.inputStart = inputStart; self.inputEnd = inputEnd
        self.shifted = shifted; self.addressOnly = addressOnly; self.coarsened = coarsened
        self.throughInput = throughInput
    }
}

extension TaintFlow {
    /// Output byte k came from input byte k: `shifted`, over ranges of equal length (never
    /// a span of events).
    public var isCopy: Bool { shifted && throughInput == nil && outputEnd - outputStart == inputEnd - inputStart }

    /// The last input event this flow stands for (`input` unless it is a span).
    public var lastInput: UInt64 { max(input, throughInput ?? input) }

    /// True when input event `event` is one this flow names: `input`, or inside its span.
    public func names(input event: UInt64) -> Bool { event == input || (input <= event && event <= lastInput) }

    /// The input bytes that output bytes `output` (inside this flow's output range) came
    /// from: the matching bytes of a copy, else the flow's whole input range.
    public func inputBytes(forOutput output: Range<Int64>) -> Range<Int64> {
        guard isCopy else { return inputStart..<inputEnd }
        return (inputStart + output.lowerBound - outputStart)..<(inputStart + output.upperBound - outputStart)
    }

    /// The output bytes that input bytes `input` (inside this flow's input range) reached:
    /// the matching bytes of a copy, else the flow's whole output range.
    public func outputBytes(forInput input: Range<Int64>) -> Range<Int64> {
        guard isCopy else { return outputStart..<outputEnd }
        return (outputStart + input.lowerBound - inputStart)..<(outputStart + input.upperBound - inputStart)
    }
}

/// Input event `input` reached a branch's flags for the first time at global sequence
/// `firstSequence` (the sequence number of the next recorded event of the unit at that point).
public struct ControlSource: Codable, Equatable, Sendable {
    public var input: UInt64
    public var firstSequence: UInt64
    public init(input: UInt64, firstSequence: UInt64) { self.input = input; self.firstSequence = firstSequence }
}

/// Input bytes became the instruction pointer (indirect jmp/call, ret) by value flow.
public struct TaintAlert: Codable, Equatable, Sendable {
    public var tid: Int32
    /// Address of the control-transfer instruction, and where it went.
    public var address: UInt64
    public var target: UInt64
    /// "function+0xoff in /path", when the symbolizer knows.
    public var function: String?
    public var instruction: String
    /// Global sequence number of the next recorded event when it happened.
    public var sequence: UInt64
    /// The input bytes the pointer's value came from (event coordinates).
    public var sources: [TaintByteRange]
    public init(tid: Int32, address: UInt64, target: UInt64, function: String?, instruction: String,
                sequence: UInt64, sources: [TaintByteRange]) {
        self.tid = tid; self.address = address; self.target = target; self.function = function
        self.instruction = instruction; self.sequence = sequence; self.sources = sources
    }
}

/// Bytes `[start, end)` of the data moved by event `event`; with `throughEvent`, of every
/// source event of the unit from `event` through `throughEvent`.
public struct TaintByteRange: Codable, Equatable, Hashable, Sendable {
    public var event: UInt64
    public var start: Int64
    public var end: Int64
    /// Set on a coarsened range standing for many events: bytes `[start, end)` of every
    /// source event of the unit with a global sequence number in `event ... throughEvent`,
    /// those the label set named and any between them (a path whose set named more events
    /// than a summary keeps, `TaintStatistics.spans`). Nil (absent from the JSON): the one
    /// event `event`. Optional, so summaries written before it read unchanged.
    public var throughEvent: UInt64?
    public init(event: UInt64, start: Int64, end: Int64, throughEvent: UInt64? = nil) {
        self.event = event; self.start = start; self.end = end; self.throughEvent = throughEvent
    }

    /// True when input event `other` is one this range names: `event`, or inside its span.
    public func names(event other: UInt64) -> Bool {
        other == event || (event <= other && other <= (throughEvent ?? event))
    }
}

/// A path argument of syscall event `event` whose bytes came from input.
public struct PathSink: Codable, Equatable, Sendable {
    public var event: UInt64
    public var argument: Int
    public var sources: [TaintByteRange]
    public init(event: UInt64, argument: Int, sources: [TaintByteRange]) {
        self.event = event; self.argument = argument; self.sources = sources
    }
}

/// What the taint replay of one unit cost and how much it saw.
public struct TaintStatistics: Codable, Equatable, Sendable {
    public var instructions: UInt64 = 0
    /// Input bytes labelled (content sources) and metadata bytes labelled.
    public var sourceBytes: UInt64 = 0
    public var sinkBytes: UInt64 = 0
    /// Distinct label sets interned, and union-table lookups that hit the memo.
    public var labelSets: Int = 0
    public var unionLookups: UInt64 = 0
    public var unionHits: UInt64 = 0
    /// Label sets widened to stay within the interval bound (precision lost, never a flow).
    public var coarsenedSets: Int = 0
    /// Flows and path-sink ranges that stand for a span of input events (`throughInput`,
    /// `throughEvent`): label sets naming more events than a summary entry keeps were
    /// summarised as windows of events. Nil in summaries written before it (or none).
    public var spans: Int?
    /// Shadow pages allocated (4 KiB of guest memory each).
    public var shadowPages: Int = 0
    public var seconds: Double = 0
    public init() {}
}

extension TaintSummary {
    /// `taint/<pid>-<tid>-<startSequence>.json` under the trace directory: a process that
    /// forks and then execs is two units with the same pid and tid.
    public static func path(traceDirectory: String, pid: Int32, tid: Int32, startSequence: UInt64) -> String {
        "\(traceDirectory)/taint/\(pid)-\(tid)-\(startSequence).json"
    }

    /// Reads every summary of a trace. Throws `TraceError.io` when the folder cannot be
    /// listed and `TaintSummaryError` when a summary is damaged, of another format, or
    /// computed from another trace (its root chain differs from `rootChain`).
    public static func readAll(traceDirectory: String, rootChain: String) throws -> [TaintSummary] {
        let folder = "\(traceDirectory)/taint"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        var summaries: [TaintSummary] = []
        for name in names.sorted() where name.hasSuffix(".json") {
            let path = "\(folder)/\(name)"
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw TaintSummaryError.unreadable(path: path, reason: "\(error)")
            }
            let summary: TaintSummary
            do { summary = try JSONDecoder().decode(TaintSummary.self, from: data) } catch {
                throw TaintSummaryError.unreadable(path: path, reason: "not a taint summary: \(error)")
            }
            guard summary.formatVersion == currentFormatVersion else {
                throw TaintSummaryError.unreadable(path: path, reason: "format version \(summary.formatVersion), this magprov reads \(currentFormatVersion)")
            }
            guard summary.traceRootChain == rootChain else { throw TaintSummaryError.otherTrace(path: path) }
            summaries.append(summary)
        }
        return summaries
    }

    /// Writes this summary atomically (temporary file, then rename), mode 0600 in a 0700
    /// `taint/` folder like the rest of the trace.
    public func write(traceDirectory: String) throws {
        let folder = "\(traceDirectory)/taint"
        if mkdir(folder, 0o700) != 0 && errno != EEXIST { throw TraceError.io(path: folder, errno: errno) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(self)
        let path = Self.path(traceDirectory: traceDirectory, pid: pid, tid: tid, startSequence: startSequence)
        try writePrivateFile(data, to: path)
    }
}

/// Why stored taint summaries cannot be used.
public enum TaintSummaryError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    /// The summary names another trace's root chain: the trace changed since `replay --taint`.
    case otherTrace(path: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "\(path): \(reason)"
        case .otherTrace(let path): return "\(path) was computed from another recording (root chain differs); run `magprov replay --taint` again"
        }
    }
}
