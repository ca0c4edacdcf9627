import Trace

/// What can go wrong building, storing, querying or exporting a provenance graph, with
/// messages a user can act on.
public enum ProvenanceError: Error, CustomStringConvertible, Equatable {
    case trace(TraceError)
    case store(path: String, reason: String)
    case corruptStore(reason: String)
    case noSuchNode(Int)
    case noSuchEdge(Int)
    /// `why`/`impact` were given something the graph does not contain.
    case targetNotFound(String, suggestions: [String])
    case graphvizMissing
    case graphvizFailed(status: Int32, message: String)
    case io(path: String, reason: String)
    /// Taint summaries that cannot be used (damaged, or computed from another recording).
    case taintSummaries(String)
    /// A query needs the refined graph and the trace has none.
    case notRefined(trace: String)
    /// A byte range argument that is not `A-B` with A < B.
    case badByteRange(String)

    public var description: String {
        switch self {
        case .trace(let e): return e.description
        case .store(let path, let reason): return "graph store \(path): \(reason)"
        case .corruptStore(let reason):
            return "the graph store is damaged (\(reason)); rebuild it with `magprov graph --rebuild DIR`"
        case .noSuchNode(let id): return "the graph has no node \(id)"
        case .noSuchEdge(let id): return "the graph has no edge \(id)"
        case .targetNotFound(let target, let suggestions):
            var s = "nothing in this recording is known as \(target)"
            if !suggestions.isEmpty { s += "; similar names: " + suggestions.joined(separator: ", ") }
            return s
        case .graphvizMissing:
            return "SVG output needs Graphviz's `dot`, which is not installed (Debian: apt-get install graphviz); --format dot writes the graph without it"
        case .graphvizFailed(let status, let message): return "Graphviz `dot` failed (exit \(status)): \(message)"
        case .io(let path, let reason): return "\(path): \(reason)"
        case .taintSummaries(let reason): return "taint summaries: \(reason)"
        case .notRefined(let trace):
            return "\(trace) has no refined graph: run `magprov replay --taint \(trace)` first"
        case .badByteRange(let text): return "\(text) is not a byte range: give A-B with A < B (bytes A up to, not including, B)"
        }
    }
}
