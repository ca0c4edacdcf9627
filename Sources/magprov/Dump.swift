import ArgumentParser
import Foundation
import Provenance
import Syscalls
import Trace

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List what a trace recorded, strace-style, in global order.",
        discussion: """
        One line per event: sequence number, task, then the syscall with decoded arguments \
        and its result, or the exec, signal, rdtsc, fork or exit. Paths and descriptors show \
        what they resolved to when the call ran, e.g. fd 3</etc/passwd>.

        With --json, one JSON object per event and line (JSON Lines): `sequence`, `tid`, \
        `kind` (taskStart, exec, syscall, signal, rdtsc, schedule, taskExit) and the event's \
        fields; a syscall has `name`, `number`, `arguments` (raw), `result`, `errno` and \
        `errnoName` when it failed, `objects` (what paths and descriptors resolved to), \
        `flags` and the strace-style `text`; with --data also `writes` (address, length, \
        first 64 bytes in hex).

        A damaged trace is listed up to the damage, which is reported on standard error; \
        the exit status is then 4. A --pid the trace does not have is an error (exit 3).
        """)

    @Argument(help: "Trace directory written by magprov record.")
    var trace: String

    @Option(help: "Only this task (thread) or process id.")
    var pid: Int32?

    @Flag(help: "Show the bytes the kernel wrote (first 64 of each range).")
    var data = false

    @Flag(help: "Print one JSON object per event (JSON Lines) instead of text.")
    var json = false

    func run() throws {
        let reader = try openTrace(trace)
        TraceDamageNotice.report(reader)
        let (events, errors) = reader.allEvents()
        if let pid {
            var known = Set(reader.taskIDs)
            for e in events { if case .taskStart(let t) = e.body { known.insert(t.pid) } }
            guard known.contains(pid) else { throw CLIError.noSuchProcess(pid: pid, known: known.sorted()) }
        }
        var pidOfTask: [Int32: Int32] = [:]
        for e in events {
            if case .taskStart(let t) = e.body { pidOfTask[t.tid] = t.pid }
            if let pid, e.tid != pid && pidOfTask[e.tid] != pid { continue }
            if json {
                print(try jsonLine(e))
                continue
            }
            print(describe(e))
            if data, case .syscall(let s) = e.body {
                for w in s.writes { print("      wrote \(w.bytes.count) bytes at 0x\(String(w.address, radix: 16)): \(quoted(w.bytes.prefix(64)))") }
            }
        }
        if !errors.isEmpty { throw CLIError.damagedTrace(errors.map(\.description)) }
    }

    func describe(_ e: TraceEvent) -> String {
        let prefix = "\(String(e.sequence).leftPad(7)) [\(e.tid)]"
        switch e.body {
        case .taskStart(let t):
            let group = t.sharedMemoryGroup.map { " in the shared-memory group of \($0)" } ?? ""
            return "\(prefix) +++ \(t.kind) of \(t.parent) (pid \(t.pid))\(group) +++"
        case .exec(let x):
            return "\(prefix) === exec \(x.path) \(x.argv.dropFirst().joined(separator: " ")) (\(x.mappings.count) mappings) ==="
        case .syscall(let s):
            return "\(prefix) \(format(s))"
        case .signal(let g):
            return "\(prefix) --- \(SignalName.of(g.signal)) \(g.kind) \(g.outcome) at rip 0x\(String(g.registers[.rip], radix: 16)) ---"
        case .timestamp(let t):
            if let instruction = t.instruction.flatMap(NondeterministicInstruction.init(bytes:)) {
                return "\(prefix) \(instruction.text) at 0x\(String(t.address, radix: 16)) = \(t.value)" + (t.aux == 0 ? " (no value, CF=0)" : "")
            }
            return "\(prefix) rdtsc\(t.aux == nil ? "" : "p") at 0x\(String(t.address, radix: 16)) = \(t.value)"
        case .schedule(let s):
            let pages = s.sharedPages.map { " shared pages \(String($0.hash, radix: 16))" } ?? ""
            return "\(prefix) ~~~ scheduled\(s.preemptedAt.map { " (preempted at 0x\(String($0[.rip], radix: 16))\(pages))" } ?? "") ~~~"
        case .taskExit(let x):
            return "\(prefix) +++ \(x.exitCode.map { "exited with \($0)" } ?? "killed by \(SignalName.of(x.signal ?? 0))") +++"
        }
    }

    /// One event as a JSON object on one line (`--json`).
    func jsonLine(_ e: TraceEvent) throws -> String {
        var o: [String: Any] = ["sequence": e.sequence, "tid": e.tid]
        switch e.body {
        case .taskStart(let t):
            o["kind"] = "taskStart"; o["taskKind"] = "\(t.kind)"; o["pid"] = t.pid; o["parent"] = t.parent
            if let group = t.sharedMemoryGroup { o["sharedMemoryGroup"] = group }
        case .exec(let x):
            o["kind"] = "exec"; o["path"] = x.path; o["argv"] = x.argv; o["mappings"] = x.mappings.count
        case .syscall(let s):
            o["kind"] = "syscall"; o["name"] = SyscallTable.name(s.number); o["number"] = s.number
            o["arguments"] = s.arguments; o["result"] = s.result
            if s.result < 0 && s.result > -4096 { o["errno"] = -s.result; o["errnoName"] = ErrnoName.of(Int32(-s.result)) }
            o["objects"] = s.objects.map { ["argument": $0.argument, "requested": $0.requested, "resolved": $0.resolved] as [String: Any] }
            var flags: [String] = []
            if s.flags.contains(.refused) { flags.append("refused") }
            if s.flags.contains(.unfinished) { flags.append("unfinished") }
            if s.flags.contains(.unmodeled) { flags.append("unmodeled") }
            if s.flags.contains(.foreignABI) { flags.append("foreignABI") }
            if s.flags.contains(.buffered) { flags.append("buffered") }
            if s.flags.contains(.pathRaced) { flags.append("pathRaced") }
            if s.flags.contains(.joinedSharedMemoryGroup) { flags.append("joinedSharedMemoryGroup") }
            if s.mapped != nil { flags.append("mapped") }
            o["flags"] = flags
            o["text"] = format(s)
            if data {
                o["writes"] = s.writes.map { w in
                    ["address": w.address, "length": w.bytes.count,
                     "bytes": w.bytes.prefix(64).map { String(format: "%02x", $0) }.joined()] as [String: Any]
                }
            }
        case .signal(let g):
            o["kind"] = "signal"; o["signal"] = g.signal; o["signalName"] = SignalName.of(g.signal)
            o["delivery"] = "\(g.kind)"; o["outcome"] = "\(g.outcome)"; o["rip"] = g.registers[.rip]
        case .timestamp(let t):
            if let instruction = t.instruction.flatMap(NondeterministicInstruction.init(bytes:)) {
                o["kind"] = instruction.kind.rawValue; o["address"] = t.address; o["value"] = t.value
                if instruction.kind != .rdpid { o["carry"] = t.aux != 0 }
            } else {
                o["kind"] = "rdtsc"; o["address"] = t.address; o["value"] = t.value; o["rdtscp"] = t.aux != nil
            }
        case .schedule(let s):
            o["kind"] = "schedule"
            if let r = s.preemptedAt { o["preemptedAt"] = r[.rip] }
            if let f = s.sharedPages { o["sharedPagesHash"] = String(f.hash, radix: 16) }
        case .taskExit(let x):
            o["kind"] = "taskExit"
            if let code = x.exitCode { o["exitCode"] = code }
            if let signal = x.signal { o["signal"] = signal; o["signalName"] = SignalName.of(signal) }
        }
        let data = try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    func format(_ s: SyscallEvent) -> String {
        let spec = SyscallTable.spec(s.number)
        var parts: [String] = []
        for (i, kind) in spec.arguments.enumerated() where i < s.arguments.count {
            let raw = s.arguments[i]
            let object = s.objects.first { $0.argument == i }
            switch kind {
            case .fd:
                parts.append("\(Int32(truncatingIfNeeded: raw))" + (object.map { "<\($0.resolved)>" } ?? ""))
            case .dirfd:
                parts.append(Int32(truncatingIfNeeded: raw) == -100 ? "AT_FDCWD" : "\(Int32(truncatingIfNeeded: raw))")
            case .path, .string:
                parts.append(object.map { "\"\($0.requested)\"" + ($0.resolved.isEmpty ? "" : "→\($0.resolved)") } ?? "0x\(String(raw, radix: 16))")
            case .inBuffer:
                if let input = s.inputs.first(where: { $0.address == raw }) {
                    parts.append(quoted(input.prefix[...]) + (input.length > input.prefix.count ? "..." : ""))
                } else { parts.append("0x\(String(raw, radix: 16))") }
            case .integer, .flags, .pid, .signal:
                parts.append(raw > 0xffff ? "0x\(String(raw, radix: 16))" : "\(Int64(bitPattern: raw))")
            default:
                parts.append("0x\(String(raw, radix: 16))")
            }
        }
        if spec.arguments.isEmpty && !spec.modeled {
            parts = s.arguments.map { "0x\(String($0, radix: 16))" }
        }
        var result = s.result < 0 && s.result > -4096 ? "-1 \(ErrnoName.of(Int32(-s.result)))" : (s.result > 0xffff ? "0x\(String(s.result, radix: 16))" : "\(s.result)")
        if let new = s.objects.first(where: { $0.argument < 0 }) { result += "<\(new.resolved)>" }
        var flags: [String] = []
        if s.flags.contains(.refused) { flags.append("refused by magprov") }
        if s.flags.contains(.unfinished) { flags.append("unfinished") }
        if s.flags.contains(.unmodeled) { flags.append("effects not modeled") }
        if s.flags.contains(.buffered) { flags.append("buffered: logged by the program") }
        if s.flags.contains(.pathRaced) { flags.append("path raced: a namespace change of another task overlapped; the named objects may not be the ones used") }
        if s.flags.contains(.joinedSharedMemoryGroup) { flags.append("joined a shared-memory group") }
        if s.mapped != nil { flags.append("mapped bytes recorded") }
        return "\(spec.name)(\(parts.joined(separator: ", "))) = \(result)" + (flags.isEmpty ? "" : "  [\(flags.joined(separator: "; "))]")
    }
}

func quoted<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    var s = "\""
    for b in bytes {
        switch b {
        case 0x0a: s += "\\n"
        case 0x09: s += "\\t"
        case 0x22: s += "\\\""
        case 0x5c: s += "\\\\"
        case 0x20..<0x7f: s += String(UnicodeScalar(b))
        default: s += String(format: "\\x%02x", b)
        }
    }
    return s + "\""
}


extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
