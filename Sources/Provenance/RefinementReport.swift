// What the refinement concluded, for `magprov replay --taint` to print and for the store
// to keep (the graph store holds it as JSON next to the refined graph).

import Foundation

/// The outcome of refining a trace's coarse graph with its taint summaries.
public struct RefinementReport: Codable, Equatable, Sendable {
    /// The trace's root chain the summaries and the refined graph are bound to.
    public var traceRootChain: String
    /// Taint summaries read (one per replayed process image or forked child).
    public var summaries: Int
    /// (output version, input version) pairs the coarse graph connects through a process:
    /// each one got a derivation edge with one of the four statuses below.
    public var coarseDerivationPairs: Int
    /// Pairs with a data flow (or a kernel copy) as evidence.
    public var confirmed: Int
    /// Pairs whose input only steered branches before the output.
    public var implicit: Int
    /// Pairs with neither, in fully replayed processes: dropped from queries.
    public var refuted: Int
    /// Pairs the replay could not decide (unrefined processes, across an exec...).
    public var unverified: Int
    /// Confirmed pairs whose evidence is only metadata (getdents, stat), only a kernel
    /// copy, or only address dependency (a table lookup indexed by input bytes).
    public var confirmedByMetadataOnly: Int
    public var confirmedByKernelCopy: Int
    public var confirmedByAddressOnly: Int
    /// Derivations from metadata sources that no coarse edge shows (a stat result that
    /// reached an output): added as confirmed `metadata` derivations.
    public var metadataDerivations: Int
    /// Process images whose pairs could not be refined, and why.
    public var unrefinedProcesses: [UnrefinedProcess]
    /// Every place input bytes became an instruction pointer.
    public var alerts: [RefinedAlert]
    /// Summaries that match no process image of the trace, and similar oddities.
    public var warnings: [String]

    public init(traceRootChain: String, summaries: Int = 0, coarseDerivationPairs: Int = 0, confirmed: Int = 0,
                implicit: Int = 0, refuted: Int = 0, unverified: Int = 0, confirmedByMetadataOnly: Int = 0,
                confirmedByKernelCopy: Int = 0, confirmedByAddressOnly: Int = 0, metadataDerivations: Int = 0,
                unrefinedProcesses: [UnrefinedProcess] = [], alerts: [RefinedAlert] = [], warnings: [String] = []) {
        self.traceRootChain = traceRootChain; self.summaries = summaries
        self.coarseDerivationPairs = coarseDerivationPairs; self.confirmed = confirmed; self.implicit = implicit
        self.refuted = refuted; self.unverified = unverified; self.confirmedByMetadataOnly = confirmedByMetadataOnly
        self.confirmedByKernelCopy = confirmedByKernelCopy; self.confirmedByAddressOnly = confirmedByAddressOnly
        self.metadataDerivations = metadataDerivations; self.unrefinedProcesses = unrefinedProcesses
        self.alerts = alerts; self.warnings = warnings
    }

    /// A summary for a terminal.
    public var text: String {
        func share(_ n: Int) -> String {
            coarseDerivationPairs == 0 ? "" : String(format: " (%.0f%%)", Double(n) * 100 / Double(coarseDerivationPairs))
        }
        var out = "refined \(coarseDerivationPairs) coarse derivations (output <- input through a process) with \(summaries) taint summaries:\n"
        var notes: [String] = []
        if confirmedByKernelCopy > 0 { notes.append("\(confirmedByKernelCopy) kernel copies") }
        if confirmedByAddressOnly > 0 { notes.append("\(confirmedByAddressOnly) through table lookups only") }
        if confirmedByMetadataOnly > 0 { notes.append("\(confirmedByMetadataOnly) metadata only") }
        out += "  confirmed   \(confirmed)\(share(confirmed))" + (notes.isEmpty ? "" : "  [" + notes.joined(separator: ", ") + "]") + "\n"
        out += "  implicit    \(implicit)\(share(implicit))  (input steered a branch before the output; no data flowed)\n"
        out += "  refuted     \(refuted)\(share(refuted))  (no byte flowed and no branch was steered: dropped from queries)\n"
        out += "  unverified  \(unverified)\(share(unverified))  (kept: the replay cannot decide them)\n"
        if metadataDerivations > 0 {
            out += "  + \(counted(metadataDerivations, "metadata derivation")) the coarse graph did not show (stat results that reached an output)\n"
        }
        if !unrefinedProcesses.isEmpty {
            out += "\(counted(unrefinedProcesses.count, "process image")) not refined (their derivations stay unverified):\n"
            for p in unrefinedProcesses.prefix(20) {
                out += "  pid \(p.pid) \(p.executable.isEmpty ? "(unknown program)" : p.executable): \(p.reason)\n"
            }
            if unrefinedProcesses.count > 20 { out += "  ... and \(unrefinedProcesses.count - 20) more (--json lists them all)\n" }
        }
        if alerts.isEmpty {
            out += "no alerts: no input bytes became an instruction pointer\n"
        } else {
            out += "\(counted(alerts.count, "alert")): input bytes became an instruction pointer (`magprov alerts` shows them)\n"
        }
        for w in warnings.prefix(5) { out += "warning: \(w)\n" }
        return out
    }

    /// The report as one JSON document.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

/// A process image whose derivations stay `unverified`.
public struct UnrefinedProcess: Codable, Equatable, Sendable {
    public var pid: Int32
    /// The task that starts the process image (the exec'ing or forked task).
    public var tid: Int32
    /// The program the image ran (a forked child runs its parent's).
    public var executable: String
    /// Not replayed, diverged, or stopped on an unsupported instruction.
    public var reason: String

    public init(pid: Int32, tid: Int32, executable: String, reason: String) {
        self.pid = pid; self.tid = tid; self.executable = executable; self.reason = reason
    }
}

/// Input bytes became an instruction pointer: where, and which bytes of which objects.
public struct RefinedAlert: Codable, Equatable, Sendable {
    public var pid: Int32
    /// The thread that made the jump.
    public var tid: Int32
    public var executable: String
    /// The control-transfer instruction and where it went.
    public var address: UInt64
    public var target: UInt64
    /// `function+0xoff in /path`, when the symbolizer knew.
    public var function: String?
    /// The instruction's text (`call rax`, `jmp qword ptr [rbx + 8]`).
    public var instruction: String
    /// Global sequence number of the next recorded event when it happened.
    public var sequence: UInt64
    /// False when the process's replay stopped early (the alert is still real).
    public var replayCompleted: Bool
    public var sources: [AlertSource]

    public init(pid: Int32, tid: Int32, executable: String, address: UInt64, target: UInt64, function: String?,
                instruction: String, sequence: UInt64, replayCompleted: Bool, sources: [AlertSource]) {
        self.pid = pid; self.tid = tid; self.executable = executable; self.address = address; self.target = target
        self.function = function; self.instruction = instruction; self.sequence = sequence
        self.replayCompleted = replayCompleted; self.sources = sources
    }

    /// One paragraph for a terminal.
    public var text: String {
        var out = "pid \(pid)/\(tid) \(executable): \(instruction) at 0x\(String(address, radix: 16))"
        if let function { out += " (\(function))" }
        out += " jumped to 0x\(String(target, radix: 16)), a value built from input bytes"
        if !replayCompleted { out += " [replay did not complete]" }
        out += "\n"
        for s in sources {
            out += "    from \(s.describe())\n"
            for o in s.origins where o != s.object { out += "      originally \(o.describe())\n" }
        }
        return out
    }
}

/// Some bytes of an object version, named for a report.
public struct ObjectBytes: Codable, Equatable, Sendable {
    /// Graph node id of the version.
    public var node: Int
    /// `file /etc/passwd`, `pipe pipe:[123] v2`, `socket 127.0.0.1:80 -> 127.0.0.1:4242`.
    public var name: String
    /// `content`, `metadata`, `unknownOffset`, `unrefined`, ... (`ByteEndpoint.Kind`).
    public var kind: String
    /// Object byte range, when known.
    public var start: Int64?
    public var end: Int64?
    /// Why a walk stopped here, when it needs saying.
    public var note: String?

    public init(node: Int, name: String, kind: String, start: Int64?, end: Int64?, note: String? = nil) {
        self.node = node; self.name = name; self.kind = kind; self.start = start; self.end = end; self.note = note
    }

    /// `file /in bytes 110-120`.
    public func describe() -> String {
        var s = name
        if let start, let end { s += " bytes \(start)-\(end)" }
        switch kind {
        case "content": break
        case "metadata": s += " (metadata)"
        case "unknownOffset": s += " (offset unknown)"
        default: s += " (\(kind))"
        }
        if let note { s += " [\(note)]" }
        return s
    }
}

/// The input bytes behind an alert: the event that read them, the object it read, and
/// where those bytes came from before (through pipes and files written in the recording).
public struct AlertSource: Codable, Equatable, Sendable {
    /// The input event and its bytes, in event coordinates (as the summary gave them).
    public var event: UInt64
    public var eventStart: Int64
    public var eventEnd: Int64
    /// What the event read (nil when the event is not an object read, e.g. argv).
    public var object: ObjectBytes?
    /// The inputs those bytes came from, across processes.
    public var origins: [ObjectBytes]

    public init(event: UInt64, eventStart: Int64, eventEnd: Int64, object: ObjectBytes?, origins: [ObjectBytes]) {
        self.event = event; self.eventStart = eventStart; self.eventEnd = eventEnd; self.object = object
        self.origins = origins
    }

    func describe() -> String {
        guard let object else { return "event \(event) bytes \(eventStart)-\(eventEnd) (not an object read)" }
        return object.describe() + " (event \(event))"
    }
}
