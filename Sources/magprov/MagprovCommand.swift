import ArgumentParser
import Foundation

@main
struct Magprov: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "magprov",
        abstract: "Precise system provenance from a cheap recording.",
        discussion: """
        Record a command's whole process tree into a trace, then read provenance from it:

          magprov record -o trace -- sh -c 'sort data.txt | gzip > data.gz'
          magprov info trace          what was recorded, and how big the trace is
          magprov dump trace          every recorded syscall, strace-style
          magprov graph trace         the provenance graph (PROV-JSON, DOT, SVG)
          magprov why trace data.gz   where this file's content came from
          magprov impact trace data.txt
                                      what was derived from this file
          magprov replay trace        re-execute every process in the interpreter
          magprov replay --taint trace
                                      the same with byte-level taint: refines the
                                      graph to the data flows that really happened
          magprov why trace data.gz --bytes 0-64
                                      which input bytes these output bytes came from
          magprov alerts trace        where input bytes became an instruction pointer
          magprov verify trace        is the trace complete, unchanged and signed?

        Commands that report take --json for machine-readable output. Errors go to \
        standard error as "magprov: ...".

        Exit status, for every command:
        \(ExitStatus.table)
        """,
        version: "0.1.0",
        subcommands: [Record.self, Info.self, Dump.self, Graph.self, Why.self, Impact.self, Alerts.self, Replay.self, Verify.self, LockstepCommand.self]
    )

    /// Parses, runs, and maps every error to the one exit-status table (`ExitStatus`),
    /// printing it as "magprov: ..." on standard error.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let recording = arguments.first == "record"
        var command: ParsableCommand
        let subcommand = configuration.subcommands.first { $0._commandName == arguments.first }
        do {
            command = try parseAsRoot(arguments)
        } catch {
            exitAfterParse(error, recording: recording, subcommand: subcommand)
        }
        do {
            try command.run()
        } catch {
            exitAfterRun(error, recording: command is Record, subcommand: subcommand)
        }
        Foundation.exit(ExitStatus.success.rawValue)
    }

    /// Help and version requests print and exit 0; parse and validation errors are usage
    /// errors (125 for `record`).
    private static func exitAfterParse(_ error: Error, recording: Bool, subcommand: ParsableCommand.Type?) -> Never {
        if exitCode(for: error) == .success { exit(withError: error) }
        reportUsageError(error, subcommand: subcommand)
        Foundation.exit(recording ? ExitStatus.recordFailed.rawValue : ExitStatus(for: error).rawValue)
    }

    private static func exitAfterRun(_ error: Error, recording: Bool, subcommand: ParsableCommand.Type?) -> Never {
        if let code = error as? ExitCode { Foundation.exit(code.rawValue) }   // already reported
        if exitCode(for: error) == .success { exit(withError: error) }
        let status = recording ? ExitStatus.recordFailed : ExitStatus(for: error)
        if status == .usage || exitCode(for: error) == .validationFailure {
            reportUsageError(error, subcommand: subcommand)
        } else {
            report("\(error)")
        }
        Foundation.exit(status.rawValue)
    }

    /// A usage error as two lines: "magprov: " and the message, then where the usage is
    /// explained (argument-parser's own report spans a help block and the whole usage).
    private static func reportUsageError(_ error: Error, subcommand: ParsableCommand.Type?) {
        var text = message(for: error)
        if let first = text.first, text.dropFirst().first?.isLowercase == true { text = first.lowercased() + text.dropFirst() }
        let name = subcommand.map { "magprov " + $0._commandName } ?? "magprov"
        report(text + "\n" + "usage: see `\(name) --help`")
    }

    /// One style for every error: each line "magprov: " and the message, on standard error.
    private static func report(_ message: String) {
        var text = message
        if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
        while text.hasSuffix("\n") { text.removeLast() }
        printError(text.split(separator: "\n", omittingEmptySubsequences: false).map { "magprov: " + $0 }.joined(separator: "\n"))
    }
}
