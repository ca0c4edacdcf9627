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
        """,
        version: "0.1.0",
        subcommands: [Record.self, Info.self, Dump.self, Replay.self, LockstepCommand.self]
    )
}
