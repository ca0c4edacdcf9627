import ArgumentParser
import Foundation
import Recorder

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a command under the recorder and write its trace.",
        discussion: """
        Every task of the command's process tree is traced with ptrace and a seccomp filter:
        syscall results and the memory the kernel wrote, signals, rdtsc values, the address
        space at each exec and every mapped file go into the trace directory. The exit
        status is the command's own (128+N when signal N ended it).

        Examples:
          magprov record -- make -j2
          magprov record -o /tmp/gz.trace -- gzip -k big.log
        """)

    @Option(name: .shortAndLong, help: "Trace directory to create (must not exist or be empty). Default: magprov-<time>.trace")
    var output: String?

    @Flag(name: .customLong("no-feature-mask"),
          help: "Do not mask AVX/AVX-512/SHA selection in glibc and OpenSSL (replay may then meet instructions it does not model).")
    var noFeatureMask = false

    @Option(help: "Preempt a thread that runs this many milliseconds without a syscall while its siblings wait.")
    var watchdogMs: Int = 50

    @Argument(parsing: .postTerminator, help: "The command to record, after --.")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the command to record after --, e.g. magprov record -- ls -l") }
    }

    func run() throws {
        let command = self.command
        let directory = output ?? "magprov-\(Int(Date().timeIntervalSince1970)).trace"
        var options = RecordOptions(command: command, outputDirectory: directory)
        options.maskCPUFeatures = !noFeatureMask
        options.watchdogMilliseconds = watchdogMs
        let recorder = Recorder(options: options)
        let result = try recorder.run()
        if let err = recorder.execFailure() {
            let message = err == ENOENT ? "\(command[0]): command not found" : "\(command[0]): \(String(cString: strerror(err)))"
            FileHandle.standardError.write("magprov: \(message)\n".data(using: .utf8)!)
            throw ExitCode(err == ENOENT ? 127 : 126)
        }
        if let traceError = result.traceError {
            FileHandle.standardError.write("magprov: error: the trace in \(directory) is incomplete: \(traceError)\n".data(using: .utf8)!)
            throw ExitCode(result.shellStatus != 0 ? result.shellStatus : 1)
        }
        let m = result.manifest
        FileHandle.standardError.write("""
            magprov: recorded \(m.tasks) tasks, \(m.syscalls) syscalls into \(directory) \
            (\(formatBytes(traceSize(directory)))); root chain \(m.rootChain.prefix(16))

            """.data(using: .utf8)!)
        if result.shellStatus != 0 { throw ExitCode(result.shellStatus) }
    }
}

func traceSize(_ directory: String) -> UInt64 {
    var total: UInt64 = 0
    if let e = FileManager.default.enumerator(atPath: directory) {
        for case let file as String in e {
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
