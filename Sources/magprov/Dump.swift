import ArgumentParser
import Foundation
import Syscalls
import Trace

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List what a trace recorded, strace-style, in global order.",
        discussion: """
        One line per event: sequence number, task, then the syscall with decoded arguments
        and its result, or the exec, signal, rdtsc, fork or exit. Paths and descriptors show
        what they resolved to when the call ran, e.g. fd 3</etc/passwd>.
        """)

    @Argument(help: "Trace directory written by magprov record.")
    var trace: String

    @Option(help: "Only this task (thread) or process id.")
    var pid: Int32?

    @Flag(help: "Show the bytes the kernel wrote (first 64 of each range).")
    var data = false

    func run() throws {
        let reader = try TraceReader(directory: trace)
        TraceDamageNotice.report(reader)
        let (events, errors) = reader.allEvents()
        var pidOfTask: [Int32: Int32] = [:]
        for e in events {
            if case .taskStart(let t) = e.body { pidOfTask[t.tid] = t.pid }
            if let pid, e.tid != pid && pidOfTask[e.tid] != pid { continue }
            print(describe(e))
            if data, case .syscall(let s) = e.body {
                for w in s.writes { print("      wrote \(w.bytes.count) bytes at 0x\(String(w.address, radix: 16)): \(quoted(w.bytes.prefix(64)))") }
            }
        }
        for error in errors { FileHandle.standardError.write("magprov: \(error)\n".data(using: .utf8)!) }
        if !errors.isEmpty { throw ExitCode(2) }
    }

    func describe(_ e: TraceEvent) -> String {
        let prefix = "\(String(e.sequence).leftPad(7)) [\(e.tid)]"
        switch e.body {
        case .taskStart(let t):
            return "\(prefix) +++ \(t.kind) of \(t.parent) (pid \(t.pid)) +++"
        case .exec(let x):
            return "\(prefix) === exec \(x.path) \(x.argv.dropFirst().joined(separator: " ")) (\(x.mappings.count) mappings) ==="
        case .syscall(let s):
            return "\(prefix) \(format(s))"
        case .signal(let g):
            return "\(prefix) --- signal \(g.signal) \(g.kind) \(g.outcome) at rip 0x\(String(g.registers[.rip], radix: 16)) ---"
        case .timestamp(let t):
            return "\(prefix) rdtsc\(t.aux == nil ? "" : "p") at 0x\(String(t.address, radix: 16)) = \(t.value)"
        case .schedule(let s):
            return "\(prefix) ~~~ scheduled\(s.preemptedAt.map { " (preempted at 0x\(String($0[.rip], radix: 16)))" } ?? "") ~~~"
        case .taskExit(let x):
            return "\(prefix) +++ \(x.exitCode.map { "exited with \($0)" } ?? "killed by signal \(x.signal ?? 0)") +++"
        }
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
        var result = s.result < 0 && s.result > -4096 ? "-1 \(errnoName(Int32(-s.result)))" : (s.result > 0xffff ? "0x\(String(s.result, radix: 16))" : "\(s.result)")
        if let new = s.objects.first(where: { $0.argument < 0 }) { result += "<\(new.resolved)>" }
        var flags: [String] = []
        if s.flags.contains(.refused) { flags.append("refused by magprov") }
        if s.flags.contains(.unfinished) { flags.append("unfinished") }
        if s.flags.contains(.unmodeled) { flags.append("effects not modeled") }
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

func errnoName(_ e: Int32) -> String {
    let names: [Int32: String] = [1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 9: "EBADF", 10: "ECHILD",
                                  11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 17: "EEXIST", 20: "ENOTDIR",
                                  21: "EISDIR", 22: "EINVAL", 25: "ENOTTY", 28: "ENOSPC", 29: "ESPIPE", 32: "EPIPE",
                                  38: "ENOSYS", 39: "ENOTEMPTY", 95: "EOPNOTSUPP", 110: "ETIMEDOUT", 111: "ECONNREFUSED",
                                  512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND", 516: "ERESTART_RESTARTBLOCK"]
    return names[e] ?? "errno \(e)"
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
