import ArgumentParser

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
          magprov replay trace        re-execute every process in the interpreter
          magprov verify trace        is the trace complete, unchanged and signed?
        """,
        version: "0.1.0",
        subcommands: [Record.self, Info.self, Dump.self, Graph.self, Why.self, Impact.self, Alerts.self, Replay.self, Verify.self, LockstepCommand.self]
    )
}
