import ArgumentParser
import Foundation
import Lockstep

struct LockstepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lockstep",
        abstract: "Developer check: single-step a real process beside the interpreter and compare every instruction.",
        discussion: """
        After every instruction, RIP, the 16 general registers, RFLAGS (CF PF ZF SF OF DF) \
        and XMM0-15 of the real process and of the interpreter must agree; the first \
        difference is printed with the instruction and both values. Syscalls run for real \
        and the interpreter takes their results. Slow (two ptrace stops per instruction): \
        meant for small inputs. Single-threaded programs only. Options before `--` are \
        magprov's.

        Exit status: 0 when they agreed, 1 at the first difference (or where the \
        interpreter stopped), 5 when the command could not be run.

          magprov lockstep -- gzip -c small.txt
        """)

    @Option(help: "Stop after this many instructions.")
    var maxInstructions: UInt64?

    @Flag(help: "Do not compare XMM registers.")
    var noXmm = false

    @Flag(help: "Print one JSON document (outcome, instructions, exitCode, report, seconds) instead of text.")
    var json = false

    @Argument(parsing: .postTerminator, help: "The command, after --.")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give a command after --, e.g. magprov lockstep -- /bin/true") }
    }

    func run() throws {
        let command = self.command
        var options = LockstepOptions(command: command)
        if let maxInstructions { options.maxInstructions = maxInstructions }
        options.compareXMM = !noXmm
        let start = Date()
        let outcome = try Lockstep(options: options).run()
        let seconds = Date().timeIntervalSince(start)
        let result: (outcome: String, instructions: UInt64, exitCode: Int32?, report: String)
        switch outcome {
        case .agreed(let n, let code): result = ("agreed", n, code, "")
        case .differed(let report, let n): result = ("differed", n, nil, report)
        case .interpreterStopped(let report, let n): result = ("interpreterStopped", n, nil, report)
        }
        if json {
            var object: [String: Any] = ["outcome": result.outcome, "instructions": result.instructions,
                                         "report": result.report, "seconds": seconds]
            if let code = result.exitCode { object["exitCode"] = code }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else {
            // On standard error: the stepped program's own output goes to standard output.
            switch result.outcome {
            case "agreed":
                printError("lockstep: interpreter and CPU agree over \(result.instructions) instructions (\(String(format: "%.1f", seconds)) s)\(result.exitCode.map { "; exit \($0)" } ?? "")")
            case "differed":
                printError("lockstep: difference after \(result.instructions) agreeing instructions \(result.report)")
            default:
                printError("lockstep: after \(result.instructions) agreeing instructions, \(result.report)")
            }
        }
        if result.outcome != "agreed" { throw ExitCode(ExitStatus.divergence) }
    }
}
