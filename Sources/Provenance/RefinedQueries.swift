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
    /// Lines for a terminal: where the bytes came from (or went), then the hops.
    public func text(nodes: [Node]) -> String {
        func name(_ id: Int) -> String {
            nodes.indices.contains(id) ? ProvenanceGraph.defaultName(nodes[id]) : "node \(id)"
        }
        func range(_ s: Int64?, _ e: Int64?) -> String {
            guard let s, let e else { return "bytes ?" }
            return "bytes \(s)-\(e)"
        }
        let verb = direction == "why" ? "came from" : "went to"
        var out = "\(name(target)) bytes \(start)-\(end) \(verb):\n"
        if truncated == true {
            out += "  (partial answer: the walk stopped at its hop or result limit; ask for a smaller byte range)\n"
        }
        if endpoints.isEmpty { out += "  nothing (no recorded flow carried these bytes)\n" }
        for e in endpoints {
            var line = "  \(name(e.node))"
            if e.start != nil { line += " \(range(e.start, e.end))" }
            switch e.kind {
            case .content: break
            case .metadata: line += "  (metadata, not content)"
            case .cut: line += "  (truncated away)"
            case .unknownOffset: line += "  (offset unknown: whole event)"
            case .unrefined: line += "  (not refined: the walk stops here)"
            case .notAnObject: line += "  (not an object read)"
            }
            if let note = e.note { line += "  [\(note)]" }
            out += line + "\n"
        }
        if !steps.isEmpty {
            out += "through:\n"
            for s in steps {
                out += "  \(name(s.output)) \(range(s.outputStart, s.outputEnd)) <- \(name(s.input)) \(range(s.inputStart, s.inputEnd))"
                out += "  by \(name(s.process)), event \(s.outputEvent) <- \(s.inputEvent)"
                if s.flow != "value" { out += " (\(s.flow))" }
                out += "\n"
            }
        }
        return out
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
