// Exports: W3C PROV-JSON (one line, loadable by the Python `prov` package) and Graphviz
// DOT, with SVG through Graphviz's `dot` when it is installed.
//
// PROV-JSON follows CamFlow's conventions: every element and relation carries a
// `prov:type` qualified name (`magprov:process`, `magprov:read`), identifiers are
// `magprov:nID` / `magprov:eID`, and each relation names its roles so the direction is
// the information flow: used(activity <- entity), wasGeneratedBy(entity <- activity),
// wasInformedBy(informed <- informant), wasDerivedFrom(generated <- used).
//
// Every qualified name magprov writes is a valid PROV-N QName (`localName` turns "run as"
// into "runAs"). PROV attributes are unordered sets of values, so an ordered list such as
// argv is one string holding a JSON array (`magprov:argv` = "[\"sh\",\"-c\",\"...\"]").

import Foundation

public enum ProvJSON {
    public static let namespace = "https://magprov.invalid/ns#"

    /// The view as one PROV-JSON document on a single line.
    public static func document(_ view: GraphView) throws -> String {
        var bundles: [String: [String: Any]] = [:]
        func put(_ section: String, _ id: String, _ record: [String: Any]) { bundles[section, default: [:]][id] = record }
        for n in view.nodes {
            var r: [String: Any] = ["prov:type": qualified("magprov:\(localName(n.kind.rawValue))"), "prov:label": n.label,
                                    "magprov:entity": n.entity, "magprov:version": n.version]
            if !n.path.isEmpty { r["magprov:path"] = n.path }
            if n.isSystem { r["magprov:system"] = true }
            for (k, v) in n.attributes { r["magprov:\(localName(k))"] = value(v) }
            switch n.kind {
            case .process:
                r["prov:startTime"] = timestamp(view.origin.startTime, n.startTime)
                if let end = n.endTime { r["prov:endTime"] = timestamp(view.origin.startTime, end) }
                put("activity", id(n), r)
            case .agent:
                put("agent", id(n), r)
            default:
                r["magprov:created"] = timestamp(view.origin.startTime, n.startTime)
                put("entity", id(n), r)
            }
        }
        let kinds = Dictionary(uniqueKeysWithValues: view.nodes.map { ($0.id, $0.kind) })
        for e in view.edges {
            guard let sk = kinds[e.source], let tk = kinds[e.target] else { continue }
            let source = "magprov:n\(e.source)", target = "magprov:n\(e.target)"
            var r: [String: Any] = ["prov:type": qualified("magprov:\(localName(e.operation))"),
                                    "magprov:operation": e.operation, "magprov:calls": e.calls,
                                    "magprov:precision": e.precision.rawValue, "magprov:status": e.status.rawValue,
                                    "magprov:flow": e.isActiveFlow]
            if e.bytes > 0 { r["magprov:bytes"] = e.bytes }
            if let low = e.offsetLow, let high = e.offsetHigh { r["magprov:offsetLow"] = low; r["magprov:offsetHigh"] = high }
            if e.failed {
                r["magprov:failed"] = true
                r["magprov:errno"] = Int(e.errno)
                r["magprov:errnoName"] = ErrnoName.of(e.errno)
            }
            if e.tid != 0 { r["magprov:tid"] = Int(e.tid) }
            for (k, v) in e.attributes { r["magprov:\(localName(k))"] = value(v) }
            let time = timestamp(view.origin.startTime, e.firstTime)
            let relation = e.isActiveFlow || e.relation == .wasAssociatedWith ? e.relation : .wasInfluencedBy
            switch (relation, sk.isActivity, tk.isActivity) {
            case (.used, false, true):
                r["prov:entity"] = source; r["prov:activity"] = target; r["prov:time"] = time
            case (.wasGeneratedBy, true, false):
                r["prov:activity"] = source; r["prov:entity"] = target; r["prov:time"] = time
            case (.wasInvalidatedBy, true, false):
                r["prov:activity"] = source; r["prov:entity"] = target; r["prov:time"] = time
            case (.wasInformedBy, true, true):
                r["prov:informant"] = source; r["prov:informed"] = target
            case (.wasDerivedFrom, false, false):
                r["prov:usedEntity"] = source; r["prov:generatedEntity"] = target
            case (.wasAssociatedWith, false, true) where sk == .agent:
                r["prov:agent"] = source; r["prov:activity"] = target
            default:
                r["prov:influencer"] = source; r["prov:influencee"] = target
                put("wasInfluencedBy", "magprov:e\(e.id)", r)
                continue
            }
            put(relation.rawValue, "magprov:e\(e.id)", r)
        }
        var document: [String: Any] = bundles
        document["prefix"] = ["magprov": namespace]
        let data: Data
        do { data = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes]) } catch {
            throw ProvenanceError.io(path: "PROV-JSON", reason: "cannot encode: \(error)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func id(_ n: Node) -> String { "magprov:n\(n.id)" }

    static func qualified(_ name: String) -> [String: String] { ["$": name, "type": "prov:QUALIFIED_NAME"] }

    /// `name` as the local part of a qualified name PROV-N can write: runs of characters
    /// other than ASCII letters, digits, `_`, `-` and `.` end a word, and the words are
    /// joined in lower camel case ("run as" -> "runAs"); a leading digit gets a `_`.
    static func localName(_ name: String) -> String {
        func allowed(_ c: Character) -> Bool {
            c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == "-" || c == ".")
        }
        let words = name.split(whereSeparator: { !allowed($0) })
        var result = words.enumerated().map { i, w in i == 0 ? String(w) : w.prefix(1).uppercased() + w.dropFirst() }.joined()
        if result.isEmpty || result.first!.isNumber || result.first == "-" || result.first == "." { result = "_" + result }
        return result
    }

    static func value(_ v: AttributeValue) -> Any {
        switch v {
        case .string(let s): return s
        case .int(let i): return i
        case .bool(let b): return b
        // PROV's multi-valued attributes are sets; argv's order and boundaries matter, so
        // the list is kept as one string holding a JSON array.
        case .strings(let a):
            let data = (try? JSONSerialization.data(withJSONObject: a, options: [.withoutEscapingSlashes])) ?? Data("[]".utf8)
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// xsd:dateTime in UTC with microseconds.
    static func timestamp(_ start: Double, _ offset: UInt64) -> String {
        let total = start + Double(offset) / 1e9
        var seconds = time_t(total.rounded(.down))
        let micros = Int(((total - Double(seconds)) * 1e6).rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ v: Int32, _ width: Int = 2) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        let microText = String(micros)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))T" +
            "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec))." +
            String(repeating: "0", count: max(0, 6 - microText.count)) + microText + "Z"
    }
}

public enum DotExporter {
    /// Graphviz source: processes as boxes, files as ellipses, pipes as diamonds, sockets
    /// as double octagons, users as houses; edges labeled by operation, edges without
    /// flow dashed, failed calls red; derivations green (data), orange dashed (implicit)
    /// or gray dotted (unverified).
    public static func dot(_ view: GraphView) -> String {
        var out = "digraph provenance {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n"
        for n in view.nodes {
            let shape: String
            switch n.kind {
            case .process: shape = "box"
            case .file: shape = "ellipse"
            case .pipe: shape = "diamond"
            case .socket: shape = "doubleoctagon"
            case .agent: shape = "house"
            case .other: shape = "note"
            }
            var label = n.label
            if n.kind == .process, case .strings(let argv)? = n.attributes["argv"], !argv.isEmpty {
                label += "\n" + String(argv.joined(separator: " ").prefix(60))
            }
            if n.version > 1 { label += "\n(v\(n.version))" }
            if n.attributes["unlinked"] == .bool(true) { label += "\n(deleted)" }
            let style = n.kind == .process ? ", style=filled, fillcolor=\"#dde8f7\"" : ""
            out += "  n\(n.id) [shape=\(shape), label=\(quote(label))\(style)];\n"
        }
        for e in view.edges {
            var label = e.operation
            if e.precision == .refined {
                // Derivations say what they rest on: data, implicit (control only), unverified.
                label = LineageReport.describe(e).via
            }
            if e.failed { label += " (\(ErrnoName.of(e.errno)))" }
            if e.calls > 1 { label += " x\(e.calls)" }
            var attributes = "label=\(quote(label))"
            if e.failed { attributes += ", color=red, fontcolor=red, style=dashed" }
            else if !e.isActiveFlow { attributes += ", color=gray50, fontcolor=gray50, style=dashed" }
            else if e.precision == .refined && e.status == .implicit { attributes += ", color=\"#bc4c00\", fontcolor=\"#bc4c00\", style=dashed" }
            else if e.precision == .refined && e.status == .unverified { attributes += ", color=gray40, fontcolor=gray40, style=dotted" }
            else if e.precision == .refined { attributes += ", color=\"#1a7f37\", penwidth=2" }
            out += "  n\(e.source) -> n\(e.target) [\(attributes)];\n"
        }
        return out + "}\n"
    }

    static func quote(_ s: String) -> String {
        var r = "\""
        for c in s {
            switch c {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case "\n": r += "\\n"
            default: r.append(c)
            }
        }
        return r + "\""
    }

    /// Renders DOT to SVG with Graphviz's `dot`.
    public static func svg(fromDot source: String) throws -> String {
        guard let dot = findExecutable("dot") else { throw ProvenanceError.graphvizMissing }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: dot)
        process.arguments = ["-Tsvg"]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch { throw ProvenanceError.graphvizFailed(status: -1, message: "\(error)") }
        // Write on another thread: dot can fill its output pipe before reading all input.
        let writer = Thread {
            input.fileHandleForWriting.write(Data(source.utf8))
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let svg = output.fileHandleForReading.readDataToEndOfFile()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ProvenanceError.graphvizFailed(status: process.terminationStatus,
                                                 message: String(decoding: message, as: UTF8.self))
        }
        return String(decoding: svg, as: UTF8.self)
    }

    /// The first `name` on PATH that is executable.
    static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
