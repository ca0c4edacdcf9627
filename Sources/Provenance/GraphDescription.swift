// A plain-text rendering of a graph, one line per edge, for tests, debugging and diffs:
//
//   file /tmp/in -read-> process cat[12]          a flow edge
//   process cat[12] ~close~> file /tmp/in         an edge that carries no flow
//   process mv[13] ~rename ENOENT~> file /tmp/x   a failed call

/// "1 file", "2 files": a count with its noun in the right number, for every count an
/// answer prints. `plural` defaults to the noun + "s".
public func counted(_ count: Int, _ noun: String, plural: String? = nil) -> String {
    "\(count) " + (count == 1 ? noun : plural ?? noun + "s")
}

extension ProvenanceGraph {
    /// "kind label", with " v2" for versions after the first.
    public static func defaultName(_ n: Node) -> String {
        "\(n.kind.rawValue) \(n.label)" + (n.version > 1 ? " v\(n.version)" : "")
    }

    /// One line per edge (refuted edges left out), sorted.
    public func edgeLines(includeAnnotations: Bool = true, includeSystem: Bool = true,
                          name: (Node) -> String = ProvenanceGraph.defaultName) -> [String] {
        var lines: [String] = []
        for e in edges where e.status != .refuted {
            let s = nodes[e.source], t = nodes[e.target]
            if !includeSystem && (s.isSystem || t.isSystem) { continue }
            if e.failed {
                guard includeAnnotations else { continue }
                lines.append("\(name(s)) ~\(e.operation) \(ErrnoName.of(e.errno))~> \(name(t))")
            } else if e.carriesFlow {
                lines.append("\(name(s)) -\(e.operation)-> \(name(t))")
            } else if includeAnnotations {
                lines.append("\(name(s)) ~\(e.operation)~> \(name(t))")
            }
        }
        return lines.sorted()
    }

    /// True when the active flow edges form no cycle (Kahn's algorithm).
    public var flowIsAcyclic: Bool {
        var indegree = [Int](repeating: 0, count: nodes.count)
        var outgoing = [[Int]](repeating: [], count: nodes.count)
        for e in edges where e.isActiveFlow {
            indegree[e.target] += 1
            outgoing[e.source].append(e.target)
        }
        var ready = indegree.indices.filter { indegree[$0] == 0 }
        var visited = 0
        while let n = ready.popLast() {
            visited += 1
            for t in outgoing[n] {
                indegree[t] -= 1
                if indegree[t] == 0 { ready.append(t) }
            }
        }
        return visited == nodes.count
    }
}
