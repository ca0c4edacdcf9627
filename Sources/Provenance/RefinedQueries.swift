// Queries that need the refined graph: byte-range lineage (`why --bytes`, `impact
// --bytes`) and alerts. They read the store's event placements and the trace's taint
// summaries, both bound to the root chain the store was refined with.

import Foundation
import Trace

extension GraphStore {
    /// The byte-range lineage index of a refined store.
    /// - Throws: `ProvenanceError.notRefined` when the store holds the coarse graph only;
    ///   `ProvenanceError.taintSummaries` when the summaries changed since (another recording).
    public func byteLineageIndex(traceDirectory: String) throws -> ByteLineageIndex {
        guard let report = try refinement() else { throw ProvenanceError.notRefined(trace: traceDirectory) }
        let summaries: [TaintSummary]
        do { summaries = try TaintSummary.readAll(traceDirectory: traceDirectory, rootChain: report.traceRootChain) } catch {
            throw ProvenanceError.taintSummaries("\(error)")
        }
        return ByteLineageIndex(nodes: try load().nodes, placements: try placements(), units: try units(),
                                summaries: summaries)
    }

    /// Why the trace's taint summaries could not refine this store, when it holds the
    /// coarse graph although `magprov replay --taint` left summaries; nil otherwise.
    public func refinementProblem(traceDirectory: String) -> String? {
        guard (try? refinement()) == nil, GraphStore.hasTaintSummaries(traceDirectory) else { return nil }
        do {
            _ = try TaintSummary.readAll(traceDirectory: traceDirectory, rootChain: GraphStore.currentRootChain(traceDirectory))
        } catch {
            return "\(error)"
        }
        return nil
    }

    /// The alerts of a refined store.
    /// - Throws: `ProvenanceError.notRefined` when the store holds the coarse graph only.
    public func alerts(traceDirectory: String) throws -> [RefinedAlert] {
        guard let report = try refinement() else { throw ProvenanceError.notRefined(trace: traceDirectory) }
        return report.alerts
    }
}

/// Parses `A-B` (bytes A up to, not including, B).
public func parseByteRange(_ text: String) throws -> Range<Int64> {
    let parts = text.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 2, let a = Int64(parts[0]), let b = Int64(parts[1]), a >= 0, a < b else {
        throw ProvenanceError.badByteRange(text)
    }
    return a..<b
}

extension ByteLineage {
    /// The words the text answer uses for how bytes moved, and what each means; the
    /// answer explains the ones it used below its lines.
    public static let legend: [(word: String, meaning: String)] = [
        ("data", "computed from those bytes by value (copied, added, xored ...)"),
        ("table lookup", "loaded from an address computed from those bytes (an address dependency: a lookup table, as in base64, tr or Huffman coding)"),
        ("metadata", "facts about the object (stat results, directory entries, an exit status), not its content"),
        ("kernel copy", "copied by the kernel (sendfile, splice, copy_file_range)"),
    ]

    /// Lines for a terminal: where the bytes came from (or went), then the hops.
    /// Hops of one process between the same two objects whose byte ranges touch are shown
    /// as one line (their events as a span); with `limit`, at most that many hop lines,
    /// then "… N more" (`json` keeps every hop, unmerged).
    public func text(nodes: [Node], limit: Int? = nil) -> String {
        func name(_ id: Int) -> String {
            nodes.indices.contains(id) ? ProvenanceGraph.defaultName(nodes[id]) : "node \(id)"
        }
        /// A hop's byte range; metadata (a stat result, directory entries) has none.
        func range(_ s: Int64?, _ e: Int64?, flow: String = "") -> String {
            guard let s, let e else { return flow == "metadata" ? "metadata" : "bytes at an unknown offset" }
            return "bytes \(s)-\(e)"
        }
        func word(_ flow: String) -> String {
            switch flow {
            case "value": return "data"
            case "address": return "table lookup"
            default: return flow
            }
        }
        let verb = direction == "why" ? "came from" : "went to"
        var out = "\(name(target)) bytes \(start)-\(end) \(verb):\n"
        if truncated == true {
            out += "  (partial answer: the walk stopped at its hop or result limit; ask for a smaller byte range)\n"
        }
        if endpoints.isEmpty { out += "  nothing (no recorded flow carried these bytes)\n" }
        var words = Set<String>()
        // One line per object and way: its byte ranges, the first few of them listed.
        var groups: [(first: ByteEndpoint, ranges: [String])] = []
        for e in endpoints {
            let r = e.start != nil ? "\(e.start!)-\(e.end!)" : nil
            if let i = groups.lastIndex(where: { $0.first.node == e.node && $0.first.kind == e.kind
                && $0.first.addressOnly == e.addressOnly && $0.first.note == e.note }), let r {
                groups[i].ranges.append(r)
            } else {
                groups.append((e, r.map { [$0] } ?? []))
            }
        }
        let rangesPerLine = limit == nil ? Int.max : 4
        let shownGroups = limit.map { Array(groups.prefix($0)) } ?? groups
        for (e, ranges) in shownGroups {
            var line = "  \(name(e.node))"
            if !ranges.isEmpty {
                line += " bytes " + ranges.prefix(rangesPerLine).joined(separator: ", ")
                if ranges.count > rangesPerLine { line += " and \(ranges.count - rangesPerLine) more ranges" }
            }
            switch e.kind {
            case .content:
                let how = e.addressOnly == true ? "table lookup" : "data"
                words.insert(how)
                line += "  (\(how)\(e.addressOnly == true ? " only" : ""))"
            case .metadata: line += "  (metadata, not content)"; words.insert("metadata")
            case .cut: line += "  (truncated away)"
            case .unknownOffset: line += "  (offset unknown: whole event)"
            case .unrefined: line += "  (not refined: the walk stops here)"
            case .notAnObject: line += "  (not an object read)"
            }
            if let note = e.note { line += "  [\(note)]" }
            out += line + "\n"
        }
        if shownGroups.count < groups.count {
            out += "  … \(groups.count - shownGroups.count) more (use --all / --json)\n"
        }
        let merged = Self.mergedForDisplay(steps)
        // Without --all: one line per process, objects and way, over all their ranges.
        var hops = merged
        var rangeCounts = Array(repeating: 1, count: merged.count)
        if limit != nil {
            hops = []; rangeCounts = []
            for h in merged {
                if let i = hops.firstIndex(where: { $0.step.output == h.step.output && $0.step.input == h.step.input
                    && $0.step.process == h.step.process && $0.step.flow == h.step.flow }),
                   let os = hops[i].step.outputStart, let oe = hops[i].step.outputEnd, let is_ = hops[i].step.inputStart,
                   let ie = hops[i].step.inputEnd, let hs = h.step.outputStart, let he = h.step.outputEnd,
                   let his = h.step.inputStart, let hie = h.step.inputEnd {
                    hops[i].step.outputStart = min(os, hs); hops[i].step.outputEnd = max(oe, he)
                    hops[i].step.inputStart = min(is_, his); hops[i].step.inputEnd = max(ie, hie)
                    hops[i].step.outputEvent = min(hops[i].step.outputEvent, h.step.outputEvent)
                    hops[i].lastOutputEvent = max(hops[i].lastOutputEvent, h.lastOutputEvent)
                    hops[i].step.inputEvent = min(hops[i].step.inputEvent, h.step.inputEvent)
                    hops[i].lastInputEvent = max(hops[i].lastInputEvent, h.lastInputEvent)
                    rangeCounts[i] += 1
                } else {
                    hops.append(h); rangeCounts.append(1)
                }
            }
        }
        if !hops.isEmpty {
            out += "through (\(steps.count) hop\(steps.count == 1 ? "" : "s")\(hops.count < steps.count ? ", shown as \(hops.count) line\(hops.count == 1 ? "" : "s") with adjacent ranges merged\(limit != nil && merged.count > hops.count ? " and ranges of one process and pair of objects spanned (--all lists them)" : "")" : "")):\n"
            let shown = limit.map { Array(hops.indices.prefix($0)) } ?? Array(hops.indices)
            for i in shown {
                let h = hops[i], s = h.step
                words.insert(word(s.flow))
                func span(_ a: UInt64, _ b: UInt64) -> String { a == b ? "\(a)" : "\(a)-\(b)" }
                let several = h.lastOutputEvent != s.outputEvent || h.lastInputEvent != s.inputEvent
                let events = "event\(several ? "s" : "") \(span(s.outputEvent, h.lastOutputEvent)) <- \(span(s.inputEvent, h.lastInputEvent))"
                let span = rangeCounts[i] > 1 ? " (\(rangeCounts[i]) ranges within)" : ""
                out += "  \(word(s.flow).padding(toLength: 12, withPad: " ", startingAt: 0))  \(name(s.output)) \(range(s.outputStart, s.outputEnd))\(span) <- \(name(s.input)) \(range(s.inputStart, s.inputEnd, flow: s.flow))"
                out += "  by \(name(s.process)), \(events)\n"
            }
            if shown.count < hops.count {
                out += "  … \(hops.count - shown.count) more (use --all / --json)\n"
            }
        }
        let explained = Self.legend.filter { words.contains($0.word) }
        if !explained.isEmpty {
            out += "where:\n" + explained.map { "  \($0.word.padding(toLength: 12, withPad: " ", startingAt: 0))  \($0.meaning)\n" }.joined()
        }
        return out
    }

    /// A hop line of the text answer: `step` widened over the steps merged into it.
    struct DisplayHop {
        var step: ByteStep
        var lastOutputEvent: UInt64
        var lastInputEvent: UInt64
    }

    /// Steps of one process between the same two objects with the same flow, whose output
    /// ranges touch or overlap and whose input ranges touch or overlap, become one line
    /// spanning both (in every direction the hull of the ranges; the events as a span).
    /// Steps with an unknown offset are kept as they are.
    static func mergedForDisplay(_ steps: [ByteStep]) -> [DisplayHop] {
        let sorted = steps.sorted {
            let a = ($0.output, $0.input, $0.process, $0.flow), b = ($1.output, $1.input, $1.process, $1.flow)
            return a != b ? a < b : ($0.outputStart ?? -1, $0.inputStart ?? -1, $0.outputEvent) < ($1.outputStart ?? -1, $1.inputStart ?? -1, $1.outputEvent)
        }
        var result: [DisplayHop] = []
        for s in sorted {
            if var last = result.last, last.step.output == s.output, last.step.input == s.input,
               last.step.process == s.process, last.step.flow == s.flow,
               let lo = last.step.outputEnd, let so = s.outputStart, let se = s.outputEnd, so <= lo,
               let li = last.step.inputStart, let lie = last.step.inputEnd, let si = s.inputStart, let sie = s.inputEnd,
               si <= lie, li <= sie {
                last.step.outputEnd = max(lo, se)
                last.step.inputStart = min(li, si)
                last.step.inputEnd = max(lie, sie)
                last.step.outputEvent = min(last.step.outputEvent, s.outputEvent)
                last.lastOutputEvent = max(last.lastOutputEvent, s.outputEvent)
                last.step.inputEvent = min(last.step.inputEvent, s.inputEvent)
                last.lastInputEvent = max(last.lastInputEvent, s.inputEvent)
                result[result.count - 1] = last
                continue
            }
            result.append(DisplayHop(step: s, lastOutputEvent: s.outputEvent, lastInputEvent: s.inputEvent))
        }
        return result.sorted { ByteLineageIndex.stepOrder($0.step, $1.step) }
    }

    /// One JSON document, with node names.
    public func json(nodes: [Node]) throws -> String {
        func name(_ id: Int) -> String {
            nodes.indices.contains(id) ? ProvenanceGraph.defaultName(nodes[id]) : "node \(id)"
        }
        func bytes(_ s: Int64?, _ e: Int64?) -> Any { s.map { [$0, e ?? $0] } ?? NSNull() }
        let document: [String: Any] = [
            "direction": direction,
            "truncated": truncated ?? false,
            "target": ["id": target, "name": name(target), "bytes": [start, end]],
            "endpoints": endpoints.map { e -> [String: Any] in
                var r: [String: Any] = ["id": e.node, "name": name(e.node), "kind": e.kind.rawValue, "bytes": bytes(e.start, e.end)]
                if let note = e.note { r["note"] = note }
                if e.addressOnly == true { r["addressOnly"] = true }
                return r
            },
            "steps": steps.map { s -> [String: Any] in
                ["output": ["id": s.output, "name": name(s.output), "bytes": bytes(s.outputStart, s.outputEnd)],
                 "input": ["id": s.input, "name": name(s.input), "bytes": bytes(s.inputStart, s.inputEnd)],
                 "process": ["id": s.process, "name": name(s.process)],
                 "outputEvent": s.outputEvent, "inputEvent": s.inputEvent, "flow": s.flow]
            },
        ]
        let data = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
