import ArgumentParser
import Foundation
import Provenance
import Recorder
import Trace

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a command under the recorder and write its trace.",
        discussion: """
        Every task of the command's process tree is traced with ptrace and a seccomp filter: \
        syscall results and the memory the kernel wrote, signals, rdtsc values, the address \
        space at each exec and every mapped file go into the trace directory. Options before \
        `--` are magprov's; everything after it is the command.

        Exit status: the command's own (128+N when signal N ended it). magprov's own \
        failures use 125 (magprov failed, bad options included), 126 (the command cannot be \
        executed) and 127 (the command was not found), as env(1) does.

        The summary (trace directory, tasks, syscalls, size, root chain, the command's \
        status) goes to standard error, or as JSON to the file given with --json (`-` for \
        standard error; it adds `hashedBytes` and `hashSeconds`, the SHA-256 work of \
        writing the trace); standard output belongs to the command.

          magprov record -- make -j2
          magprov record -o /tmp/gz.trace -- gzip -k big.log
          magprov record --json summary.json -o t -- sort data.txt
        """)

    @Option(name: .shortAndLong, help: "Trace directory to create (must not exist or be empty; an existing trace is never overwritten); magprov-<time>.trace when not given.")
    var output: String?

    @Flag(name: .customLong("no-feature-mask"),
          help: "Do not mask AVX/AVX-512/SHA selection in glibc and OpenSSL (replay may then meet instructions it does not model).")
    var noFeatureMask = false

    @Flag(help: ArgumentHelp("Experimental: log reads and writes on seekable descriptors, read-only opens, stats, closes, dups and clock reads in an in-process buffer instead of stopping on each; the trace header says recordingMode buffered and every answer from it says it trusts the program's own log (see docs/ARCHITECTURE.md, \"Syscall buffer\").", visibility: .default))
    var syscallBuffer = false

    @Option(help: "Preempt a thread that runs this many milliseconds without a syscall while its siblings wait.")
    var watchdogMs: Int = 50

    @Option(name: .customLong("json"), help: ArgumentHelp("Write the summary as JSON to this file (`-`: standard error) instead of the text line.", valueName: "file"))
    var jsonPath: String?

    @Argument(parsing: .postTerminator, help: "The command to record, after --.")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the command to record after --, e.g. magprov record -- ls -l") }
        guard watchdogMs > 0 else { throw ValidationError("--watchdog-ms must be positive") }
    }

    /// The machine-readable summary of one recording (`--json`).
    struct Summary: Codable {
        var trace: String
        var command: [String]
        /// The command's exit code, or nil when a signal ended it.
        var exitCode: Int32?
        var exitSignal: Int32?
        /// What `magprov record` exits with: the exit code or 128 + the signal.
        var status: Int32
        var tasks: Int
        var syscalls: UInt64
        var blobs: Int
        var traceBytes: UInt64
        var rootChain: String
        var seconds: Double
        /// SHA-256 work of writing the trace (every frame's chain value, every blob's name):
        /// bytes hashed and seconds spent, part of `seconds`.
        var hashedBytes: UInt64
        var hashSeconds: Double
    }

    func run() throws {
        let command = self.command
        let directory = output ?? "magprov-\(Int(Date().timeIntervalSince1970)).trace"
        // Every output is checked before the command starts: a run that cannot be kept is
        // not worth starting, and recorded data is never overwritten.
        if let problem = TraceWriter.outputProblem(directory) { throw problem }
        let summaryFile = try jsonPath.flatMap { $0 == "-" ? nil : try SummaryFile(path: $0) }
        var finished = false
        defer { if !finished { summaryFile?.discard() } }
        let existed = FileManager.default.fileExists(atPath: directory)
        var options = RecordOptions(command: command, outputDirectory: directory)
        options.maskCPUFeatures = !noFeatureMask
        options.watchdogMilliseconds = watchdogMs
        options.syscallBuffer = syscallBuffer
        let recorder = Recorder(options: options)
        let start = Date()
        let result: RecordResult
        do {
            result = try recorder.run()
        } catch RecorderError.commandNotFound(let name) {
            try commandFailed("\(name): command not found", .commandNotFound, directory: directory, existed: existed)
        } catch RecorderError.cannotExecute(let name, let err) {
            try commandFailed("\(name): cannot execute: \(String(cString: strerror(err)))", .commandNotExecutable,
                              directory: directory, existed: existed)
        }
        if let err = recorder.execFailure() {
            try commandFailed(err == ENOENT ? "\(command[0]): command not found" : "\(command[0]): \(String(cString: strerror(err)))",
                              err == ENOENT ? .commandNotFound : .commandNotExecutable, directory: directory, existed: existed)
        }
        if let traceError = result.traceError {
            FileHandle.standardError.write("magprov: error: the trace in \(directory) is incomplete: \(traceError)\n".data(using: .utf8)!)
            throw ExitCode(result.shellStatus != 0 ? result.shellStatus : 1)
        }
        let m = result.manifest
        let summary = Summary(trace: directory, command: command, exitCode: result.exitCode, exitSignal: result.signal,
                              status: result.shellStatus, tasks: m.tasks, syscalls: m.syscalls, blobs: m.blobs,
                              traceBytes: traceSize(directory), rootChain: m.rootChain,
                              seconds: Date().timeIntervalSince(start),
                              hashedBytes: result.hashing.bytes, hashSeconds: result.hashing.seconds)
        if jsonPath != nil {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(summary) + Data("\n".utf8)
            if let summaryFile {
                try summaryFile.replaceContents(with: data)
            } else {
                FileHandle.standardError.write(data)
            }
        } else {
            printError("magprov: recorded \(counted(m.tasks, "task")) (processes and threads), \(counted(Int(m.syscalls), "syscall")) into \(directory) " +
                       "(\(formatBytes(summary.traceBytes))); root chain \(m.rootChain.prefix(16))")
        }
        finished = true
        if result.shellStatus != 0 { throw ExitCode(result.shellStatus) }
    }

    /// The command never ran: say so, drop the trace directory this run created, exit 126/127.
    private func commandFailed(_ message: String, _ status: ExitStatus, directory: String, existed: Bool) throws -> Never {
        printError("magprov: " + message)
        if !existed { try? FileManager.default.removeItem(atPath: directory) }
        throw ExitCode(status)
    }
}

extension ExitCode {
    init(_ status: ExitStatus) { self.init(status.rawValue) }
}

/// Bytes of the recording in `directory`: header, manifest, checkpoints, event streams and
/// blobs. What later commands derive from it (the taint summaries under `taint/` and the
/// graph store `provenance.sqlite*`) is not the recording and is not counted.
func traceSize(_ directory: String, only include: (String) -> Bool = { _ in true }) -> UInt64 {
    var total: UInt64 = 0
    if let e = FileManager.default.enumerator(atPath: directory) {
        for case let file as String in e {
            if file == "taint" || file.hasPrefix("taint/") || file.hasPrefix("provenance.sqlite") || !include(file) { continue }
            if let attrs = try? FileManager.default.attributesOfItem(atPath: directory + "/" + file),
               let size = attrs[.size] as? NSNumber, (attrs[.type] as? FileAttributeType) == .typeRegular {
                total += size.uint64Value
            }
        }
    }
    return total
}

func formatBytes(_ n: UInt64) -> String {
    if n < 10_000 { return "\(n) B" }
    if n < 10_000_000 { return String(format: "%.1f KB", Double(n) / 1e3) }
    return String(format: "%.1f MB", Double(n) / 1e6)
}
