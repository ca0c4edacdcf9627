import ArgumentParser
import Foundation
import Provenance
import Replayer
import Trace
import X86

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-execute every recorded process in magprov's x86-64 interpreter and check it against the trace.",
        discussion: """
        Each process image starts from its exec snapshot; recorded syscall results, memory
        the kernel wrote, signals and rdtsc values are injected, and at every syscall the
        emulated program must ask for exactly what the real one asked for (number,
        arguments, bytes of every buffer passed in). Processes replay in parallel.

        On divergence the report names the task, the instruction count, the address and
        function, and the expected and actual syscall. Exit status: 0 when everything
        replayed, 1 when anything diverged.

        With --taint, every process also carries byte-level shadow state: bytes the kernel
        delivered from files, pipes and sockets are labelled with where they came from, and
        labels follow every instruction to the bytes written out and to the instruction
        pointer. One flow summary per process image goes to TRACE/taint/, the summaries are
        composed across processes, and the graph store is refined: each coarse derivation
        (output version <- input version through a process) becomes confirmed, implicit or
        refuted, and why/impact/graph answer from the refined graph from then on. A process
        that diverged is never refined: its derivations stay unverified.
        """)

    @Argument(help: "Trace directory written by magprov record.")
    var trace: String

    @Option(help: "Replay only this process id (repeatable).")
    var pid: [Int32] = []

    @Option(help: "Parallel replay jobs (default: all cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Print guest instructions, time, MIPS, decode-cache size and peak memory.")
    var stats = false

    @Flag(help: "Track byte-level taint, write flow summaries and refine the provenance graph.")
    var taint = false

    @Option(help: "With --taint: whether a load through an input-derived address takes the address's labels (on|off).")
    var addressDependency: Toggle = .on

    enum Toggle: String, ExpressibleByArgument { case on, off }

    func run() throws {
        let reader = try TraceReader(directory: trace)
        TraceDamageNotice.report(reader)
        let session = try ReplaySession(trace: reader)
        session.progress = { r in
            if case .diverged = r.outcome { return }
            FileHandle.standardError.write("  replayed \(r.pid) \(URL(fileURLWithPath: r.executable).lastPathComponent): \(r.syscalls) syscalls, \(r.instructions) instructions\n".data(using: .utf8)!)
        }
        let options = ReplayOptions(pids: pid.isEmpty ? nil : Set(pid), jobs: jobs)
        let summary = taint ? session.runTaint(options: options, addressDependency: addressDependency == .on)
                            : session.run(options: options)
        let all = summary.allResults
        for (unit, divergence) in summary.divergences {
            print("process \(unit.pid) (\(unit.executable)): \(divergence)")
        }
        let ok = all.count - summary.divergences.count
        let syscalls = all.reduce(0) { $0 + $1.syscalls }
        print("replayed \(ok) of \(all.count) process images with no divergence (\(syscalls) syscalls, \(summary.instructions) instructions)")
        if stats {
            let cpuSeconds = all.reduce(0) { $0 + $1.seconds }
            let mips = cpuSeconds > 0 ? Double(summary.instructions) / cpuSeconds / 1e6 : 0
            print(String(format: "stats: %.3f s wall, %.3f s in interpreters, %.1f guest MIPS per core", summary.seconds, cpuSeconds, mips))
            print("stats: decoded instructions cached \(all.reduce(0) { $0 + $1.decodedInstructions }), guest pages \(all.reduce(0) { $0 + $1.guestPages }), peak RSS \(peakRSSKilobytes()) KB")
            if summary.plan.skippedEvents > 0 { print("stats: \(summary.plan.skippedEvents) recorded syscalls belong to no replayable image (pre-exec)") }
        }
        if taint { try refine(summary, reader: reader) }
        if !summary.divergences.isEmpty { throw ExitCode(1) }
    }
}

func peakRSSKilobytes() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss
}

extension Replay {
    /// Writes one flow summary per replayed unit (replacing any earlier ones), composes them
    /// and refines the graph store; prints the refinement report.
    func refine(_ summary: ReplaySummary, reader: TraceReader) throws {
        let folder = "\(trace)/taint"
        try? FileManager.default.removeItem(atPath: folder)
        var written = 0
        for result in summary.allResults {
            guard let taint = result.taint else { continue }
            try taint.write(traceDirectory: trace)
            written += 1
        }
        let report = try TaintRefinement.refine(traceDirectory: trace)
        print("taint: \(written) flow summaries in \(folder)")
        print(report.text)
    }
}
