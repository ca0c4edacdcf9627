import ArgumentParser
import Foundation
import Provenance
import Syscalls
import Trace

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarize a trace: command, processes, syscalls, bytes, size and compression.",
        discussion: """
        A damaged trace is summarized up to the damage; the damage is reported on standard \
        error (and in the JSON's `errors`) and the exit status is 4.
        """)

    @Argument(help: "Trace directory written by magprov record.")
    var trace: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let reader = try openTrace(trace)
        let damage = TraceDamageNotice.report(reader)
        let (events, errors) = reader.allEvents()
        var processes = Set<Int32>(), syscalls = 0, bytesRead = 0, bytesCaptured = 0, signals = 0, timestamps = 0, execs = 0, buffered = 0, raced = 0
        var perSyscall: [String: Int] = [:]
        for e in events {
            switch e.body {
            case .taskStart(let t): processes.insert(t.pid)
            case .syscall(let s):
                syscalls += 1
                if s.flags.contains(.buffered) { buffered += 1 }
                if s.flags.contains(.pathRaced) { raced += 1 }
                perSyscall[SyscallTable.name(s.number), default: 0] += 1
                for w in s.writes { bytesCaptured += w.bytes.count }
                // Object bytes delivered: the result of every content source the table names.
                if SyscallTable.spec(s.number).flow == .contentSource, s.result > 0 { bytesRead += Int(s.result) }
            case .signal: signals += 1
            case .timestamp: timestamps += 1
            case .exec: execs += 1
            default: break
            }
        }
        let size = traceSize(trace)
        let blobRaw = reader.manifest?.blobRawBytes ?? 0
        // The manifest's committed sizes, and what is on disk now (they differ on a damaged
        // or incomplete trace, which has no manifest).
        let committedEventBytes = reader.manifest?.streams.reduce(0) { $0 + $1.bytes }
        let eventBytes = traceSize(trace) { $0.hasPrefix("tasks/") && $0.hasSuffix(".events") }
        let partial = !errors.isEmpty || !damage.isEmpty
        let top = perSyscall.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(10)
        if json {
            let object: [String: Any] = [
                "command": reader.header.command, "complete": reader.manifest != nil,
                "exitCode": reader.manifest?.exitCode as Any, "processes": processes.count, "tasks": reader.taskIDs.count,
                "execs": execs, "syscalls": syscalls, "bufferedSyscalls": buffered, "pathRacedSyscalls": raced, "signals": signals, "rdtsc": timestamps,
                "bytesReadBySyscalls": bytesRead, "bytesCaptured": bytesCaptured, "traceBytes": size,
                "eventStreamBytes": eventBytes, "eventStreamBytesCommitted": committedEventBytes as Any, "partial": partial, "blobRawBytes": blobRaw, "rootChain": reader.manifest?.rootChain ?? "",
                "recordingMode": reader.header.mode.rawValue, "errors": errors.map { "\($0)" }, "damage": damage.map { "\($0.subject): \($0.detail)" },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            if partial {
                print("damaged:     the counts below cover the intact part of the trace only (what is wrong: standard error, `magprov verify`)")
            }
            print("command:     \(reader.header.command)")
            print("recorded:    \(Date(timeIntervalSince1970: reader.header.startTime)) on \(reader.header.cpuModel), \(reader.header.kernel.split(separator: " ").prefix(2).joined(separator: " "))")
            print("status:      \(reader.manifest.map { m in m.exitCode.map { "exited \($0)" } ?? "killed by signal \(m.exitSignal ?? 0)" } ?? "incomplete (recorder did not finish)")")
            print("mode:        \(reader.header.mode == .buffered ? "buffered (--syscall-buffer; \(buffered) syscalls logged by the program itself)" : "stopping (every syscall observed by the recorder)")")
            print("processes:   \(processes.count) (\(counted(reader.taskIDs.count, "task")), \(counted(execs, "exec")); replay checks one image per exec, and a fork child's life before its exec as one more)")
            print("syscalls:    \(syscalls)   signals: \(signals)   rdtsc: \(timestamps)")
            if raced > 0 {
                print("path races:  \(raced) path calls ran while another task changed the namespace; the files named for them may not be the ones used (flag pathRaced)")
            }
            print("top:         " + top.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            print("data:        \(formatBytes(UInt64(bytesRead))) read by syscalls, \(formatBytes(UInt64(bytesCaptured))) of kernel writes captured")
            let ratio = size > 0 ? Double(UInt64(bytesCaptured) + blobRaw) / Double(size) : 0
            let committed = committedEventBytes.map { UInt64($0) != eventBytes ? " on disk, \(formatBytes(UInt64($0))) committed" : "" } ?? ""
            print("trace:       \(formatBytes(size)) on disk (events \(formatBytes(eventBytes))\(committed), blobs \(formatBytes(reader.manifest?.blobBytes ?? 0)) for \(formatBytes(blobRaw)) mapped); ratio \(String(format: "%.1f", ratio)):1")
            if let chain = reader.manifest?.rootChain { print("root chain:  \(chain)") }
        }
        // The damage checks were printed as warnings already: the error adds what reading
        // the events found.
        if partial { throw CLIError.damagedTrace(errors.map(\.description)) }
    }
}
