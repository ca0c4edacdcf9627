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
        Each process image starts from its exec snapshot; recorded syscall results, memory \
        the kernel wrote, signals and rdtsc values are injected, and at every syscall the \
        emulated program must ask for exactly what the real one asked for (number, \
        arguments, bytes of every buffer passed in). Processes replay in parallel; on a \
        terminal, a progress line on standard error shows how far the replay is.

        On divergence the report names the task, the instruction count, the address and \
        function, and the expected and actual syscall. A damaged trace still replays every \
        process image it holds intact; an image whose stream is damaged, or that needs an \
        unreadable blob, is named with the damage (which stream or blob, which event) and \
        counted as not checked. A process whose memory another recorded process could write \
        (shared memory) is replayed up to that point and reported as a shared-memory group \
        not replayable yet, with the event where its memory stopped being its own. Exit \
        status: 0 when everything replayed, 1 when anything diverged, 4 when the trace is \
        damaged where the replayed images are, 5 when some process could not be replayed to \
        its end (and none diverged), 3 for a --pid the trace does not have.

        With --taint, every process also carries byte-level shadow state: bytes the kernel \
        delivered from files, pipes and sockets are labelled with where they came from, and \
        labels follow every instruction to the bytes written out and to the instruction \
        pointer. One flow summary per process image goes to TRACE/taint/, the summaries are \
        composed across processes, and the graph store is refined: each coarse derivation \
        (output version <- input version through a process) becomes confirmed, implicit or \
        refuted, and why/impact/graph answer from the refined graph from then on. A process \
        that diverged is never refined: its derivations stay unverified.

        With --json, one JSON document on standard output: `processImages`, `completed`, \
        `diverged`, `syscalls`, `instructions`, `seconds`, `peakRSSKilobytes`, `processes` \
        (pid, tid, executable, forkedFrom, outcome, instructions, syscalls, seconds and the \
        `divergence` when there was one, `damage` when the trace was damaged there, \
        `stopped` when it could not be replayed to its end), `damaged`, `damage` (every damage met, as text) and, with --taint, `flowSummaries` and \
        `refinement` (the refinement report: confirmed, implicit, refuted, unverified, \
        alerts, unrefined processes).
        """)

    @Argument(help: "Trace directory written by magprov record.")
    var trace: String

    @Option(help: "Replay only this process id (repeatable).")
    var pid: [Int32] = []

    @Option(help: "Parallel replay jobs; all cores when not given.")
    var jobs: Int?

    @Flag(help: "Print guest instructions, time, MIPS, decode-cache size and peak memory.")
    var stats = false

    @Flag(help: "Track byte-level taint, write flow summaries and refine the provenance graph.")
    var taint = false

    @Option(help: "With --taint: whether a load through an input-derived address takes the address's labels (on|off).")
    var addressDependency: Toggle = .on

    @Flag(help: "Print one JSON document instead of text.")
    var json = false

    enum Toggle: String, ExpressibleByArgument { case on, off }

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let reader = try openTrace(trace)
        TraceDamageNotice.report(reader)
        let mode = RecordingTrustNotice.report(reader.header)
        let session = ReplaySession(trace: reader)
        let options = ReplayOptions(pids: pid.isEmpty ? nil : try selectedUnits(session),
                                    jobs: jobs ?? ProcessInfo.processInfo.activeProcessorCount)
        let units = session.plan.units.filter { options.pids?.contains($0.pid) ?? true }.count
        let progress = ProgressLine(units: units)
        session.progress = { progress.finished($0) }
        progress.start()
        let summary = taint ? session.runTaint(options: options, addressDependency: addressDependency == .on)
                            : session.run(options: options)
        progress.stop()
        let all = summary.allResults
        var refinement: (written: Int, report: RefinementReport)?
        if taint { refinement = try refine(summary) }
        // Damage that touches what was asked for: images that met it or were skipped for it
        // (damaged processes with no image at all among them).
        let damaged = summary.damaged.map { (process: "process \($0.0.pid) (\($0.0.executable))", damage: $0.1) }
        let damage = damaged.map { "\($0.process): \($0.damage)" }
        if json {
            print(try ReplayReport(summary, refinement: refinement, damage: damage, recordingMode: mode).json())
        } else {
            for (unit, divergence) in summary.divergences {
                print("process \(unit.pid) (\(unit.executable)): \(divergence)")
            }
            for (unit, stop) in summary.notReplayable {
                print("process \(unit.pid) (\(unit.executable)): \(stop)")
            }
            for d in damaged { print("\(d.process): not checked, the trace is damaged: \(d.damage)") }
            let ok = all.count - summary.divergences.count - summary.notReplayable.count - summary.damaged.count
            let syscalls = all.reduce(0) { $0 + $1.syscalls }
            // "replayed 7 process images with no divergence" when all matched; otherwise
            // each outcome counted, so that the parts add up to the total.
            var outcomes = ["\(ok) with no divergence"]
            if !summary.divergences.isEmpty { outcomes.append("\(summary.divergences.count) diverged") }
            if !summary.notReplayable.isEmpty { outcomes.append("\(summary.notReplayable.count) not replayable (reasons above)") }
            if !summary.damaged.isEmpty { outcomes.append("\(summary.damaged.count) not checked (damaged trace)") }
            let images = counted(all.count, "process image")
            let outcome = outcomes.count == 1 ? "\(images) with no divergence" : "\(images): " + outcomes.joined(separator: ", ")
            print("replayed \(outcome) (\(counted(syscalls, "syscall")), \(counted(Int(summary.instructions), "instruction")))")
            if let notice = summary.approximationNotice { print(notice) }
            if stats {
                let cpuSeconds = all.reduce(0) { $0 + $1.seconds }
                let mips = cpuSeconds > 0 ? Double(summary.instructions) / cpuSeconds / 1e6 : 0
                print(String(format: "stats: %.3f s wall, %.3f s in interpreters, %.1f guest MIPS per core", summary.seconds, cpuSeconds, mips))
                print("stats: decoded instructions cached \(all.reduce(0) { $0 + $1.decodedInstructions }), guest pages \(all.reduce(0) { $0 + $1.guestPages }), peak RSS \(peakRSSKilobytes()) KB")
                if summary.plan.skippedEvents > 0 {
                    print("stats: \(counted(summary.plan.skippedEvents, "recorded syscall")) made before the first exec "
                          + "(the recorded command's launch: PATH search, setup) are in no image and not replayed")
                }
            }
            if let refinement {
                print("taint: \(counted(refinement.written, "flow summary", plural: "flow summaries")) in \(trace)/taint")
                print(refinement.report.text)
            }
        }
        if !damage.isEmpty { throw CLIError.damagedTrace(damage) }
        if !summary.divergences.isEmpty { throw ExitCode(ExitStatus.divergence) }
        if !summary.notReplayable.isEmpty { throw ExitCode(ExitStatus.failure) }
    }

    /// The top-level images to replay for `--pid`: a process that started at an exec is its
    /// own image; one forked without exec replays inside the image it was forked from.
    /// - Throws: `CLIError.noSuchProcess` (exit 3) for a pid the trace does not have.
    func selectedUnits(_ session: ReplaySession) throws -> Set<Int32> {
        var topLevel: [Int32: Int32] = [:]
        func note(_ unit: ReplayUnit, top: Int32) {
            if topLevel[unit.pid] == nil { topLevel[unit.pid] = top }
            for child in unit.forkedChildren.values { note(child, top: top) }
        }
        for unit in session.plan.units { note(unit, top: unit.pid) }
        for d in session.unplannedDamage where topLevel[d.pid] == nil { topLevel[d.pid] = d.pid }
        var selected = Set<Int32>()
        for p in pid {
            guard let top = topLevel[p] else { throw CLIError.noSuchProcess(pid: p, known: topLevel.keys.sorted()) }
            selected.insert(top)
        }
        return selected
    }
}

func peakRSSKilobytes() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss
}

extension Replay {
    /// Writes one flow summary per replayed unit (replacing any earlier ones), composes them
    /// and refines the graph store.
    /// - Returns: how many summaries were written, and the refinement report.
    func refine(_ summary: ReplaySummary) throws -> (written: Int, report: RefinementReport) {
        try? FileManager.default.removeItem(atPath: "\(trace)/taint")
        var written = 0
        for result in summary.allResults {
            guard let taint = result.taint else { continue }
            try taint.write(traceDirectory: trace)
            written += 1
        }
        return (written, try TaintRefinement.refine(traceDirectory: trace))
    }
}

/// What `magprov replay --json` prints.
struct ReplayReport: Encodable {
    struct Process: Encodable {
        var pid: Int32
        var tid: Int32
        var executable: String
        /// The pid of the process image this one was forked from without exec (replayed
        /// from its parent's state), nil for a process image that starts at an exec.
        var forkedFrom: Int32?
        /// "completed", "diverged", "not replayable" (see `stopped`) or "damaged" (not
        /// checked: the trace is damaged there).
        var outcome: String
        /// For "not replayable": why and where the replay stopped.
        var stopped: String?
        var instructions: UInt64
        var syscalls: Int
        /// Seconds in this image's interpreter.
        var seconds: Double
        var divergence: DivergenceReport?
        var damage: DamageReport?
    }
    struct DamageReport: Encodable {
        /// The stream or blob error.
        var error: String
        var tid: Int32
        /// The event whose recorded bytes were needed; nil when the whole stream is damaged.
        var sequence: UInt64?
        /// What needed them (the exec snapshot's mapping of a file, an mmap, the event stream).
        var location: String
    }
    struct DivergenceReport: Encodable {
        var tid: Int32
        var instructionCount: UInt64
        var address: UInt64
        var function: String?
        var reason: String
        var expected: String
        var actual: String
        /// The last instructions executed before the divergence (address, bytes, mnemonic).
        var recentInstructions: [String]
    }

    var processImages: Int
    var completed: Int
    var diverged: Int
    /// Process images not checked because the trace is damaged where they are.
    var damaged: Int
    /// Every damage met, one line each (also on standard error).
    var damage: [String]
    var syscalls: Int
    var instructions: UInt64
    /// Wall-clock seconds of the whole replay.
    var seconds: Double
    var peakRSSKilobytes: Int
    /// Recorded syscalls outside every replayable image (before the first exec).
    var skippedEvents: Int
    var processes: [Process]
    /// With --taint: flow summaries written to TRACE/taint/.
    var flowSummaries: Int?
    /// With --taint: the refinement report (also kept in the graph store).
    var refinement: RefinementReport?
    /// How the trace was recorded (`stopping`, `buffered`); `trust` says what a buffered
    /// trace's answers rest on.
    var recordingMode: RecordingMode
    var trust: String?
    /// Model-specific instructions (x87 transcendental, SSE reciprocal estimates) computed
    /// by a CPU model other than the recording one: which, and why (nil when exact).
    var approximate: String?

    init(_ summary: ReplaySummary, refinement: (written: Int, report: RefinementReport)?, damage: [String],
         recordingMode: RecordingMode) {
        self.recordingMode = recordingMode
        trust = recordingMode.trustNotice
        approximate = summary.approximationNotice
        var processes: [Process] = []
        func add(_ r: UnitResult, parent: Int32?) {
            var divergence: DivergenceReport?
            var damage: DamageReport?
            var outcome = "completed"
            if case .damaged(let d) = r.outcome {
                outcome = "damaged"
                damage = DamageReport(error: d.error.description, tid: d.tid, sequence: d.sequence, location: d.location)
            }
            if case .diverged(let d) = r.outcome {
                outcome = "diverged"
                divergence = DivergenceReport(tid: d.tid, instructionCount: d.instructionCount, address: d.address,
                                              function: d.function, reason: d.reason, expected: d.expected, actual: d.actual,
                                              recentInstructions: d.recentDisassembly.isEmpty
                                                ? d.recentInstructions.map { "0x" + String($0, radix: 16) } : d.recentDisassembly)
            }
            var stopped: String?
            if case .notReplayable(let n) = r.outcome { outcome = "not replayable"; stopped = n.description }
            processes.append(Process(pid: r.pid, tid: r.tid, executable: r.executable, forkedFrom: parent, outcome: outcome,
                                     stopped: stopped, instructions: r.instructions, syscalls: r.syscalls, seconds: r.seconds,
                                     divergence: divergence, damage: damage))
            for child in r.children { add(child, parent: r.pid) }
        }
        for r in summary.results { add(r, parent: nil) }
        self.processes = processes
        processImages = processes.count
        diverged = processes.filter { $0.divergence != nil }.count
        damaged = processes.filter { $0.damage != nil }.count
        completed = processes.filter { $0.outcome == "completed" }.count
        self.damage = damage
        syscalls = processes.reduce(0) { $0 + $1.syscalls }
        instructions = summary.instructions
        seconds = summary.seconds
        peakRSSKilobytes = magprov.peakRSSKilobytes()
        skippedEvents = summary.plan.skippedEvents
        flowSummaries = refinement?.written
        self.refinement = refinement?.report
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}


/// The replay's progress on a terminal: one line on standard error, rewritten in place
/// each second and as process images finish, erased at the end. Silent when standard
/// error is not a terminal (isatty(3)), so logs and pipes get no control characters.
final class ProgressLine: @unchecked Sendable {
    private let enabled = isatty(STDERR_FILENO) != 0
    private let units: Int
    private let lock = NSLock()
    private var done = 0
    private var instructions: UInt64 = 0
    private var diverged = 0
    private let started = Date()
    private var timer: DispatchSourceTimer?

    init(units: Int) { self.units = units }

    func start() {
        guard enabled else { return }
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + 1, repeating: 1)
        timer.setEventHandler { [weak self] in self?.draw(finishedLine: nil) }
        timer.resume()
        self.timer = timer
    }

    /// Called from worker threads as each unit (with its forked children) finishes.
    func finished(_ result: UnitResult) {
        guard enabled else { return }
        func flatten(_ r: UnitResult) -> [UnitResult] { [r] + r.children.flatMap(flatten) }
        let images = flatten(result)
        lock.lock()
        done += 1
        instructions += images.reduce(0) { $0 + $1.instructions }
        diverged += images.filter { if case .diverged = $0.outcome { return true } else { return false } }.count
        lock.unlock()
        let name = URL(fileURLWithPath: result.executable).lastPathComponent
        let outcome: String
        switch result.outcome {
        case .completed: outcome = "replayed"
        case .diverged: outcome = "diverged"
        case .notReplayable: outcome = "stopped (shared memory)"
        case .damaged: outcome = "not checked (damaged trace)"
        }
        draw(finishedLine: "  \(outcome) \(result.pid) \(name): \(result.syscalls) syscalls, \(result.instructions) instructions")
    }

    func stop() {
        guard enabled else { return }
        timer?.cancel()
        lock.lock(); defer { lock.unlock() }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    private func draw(finishedLine: String?) {
        lock.lock(); defer { lock.unlock() }
        let seconds = Int(Date().timeIntervalSince(started))
        var text = "\r\u{1B}[K"
        if let finishedLine { text += finishedLine + "\n" }
        text += "magprov: replay \(done)/\(units) process groups done, \(instructions) instructions"
            + (diverged > 0 ? ", \(diverged) diverged" : "") + ", \(seconds / 60):" + String(format: "%02d", seconds % 60)
        FileHandle.standardError.write(Data(text.utf8))
    }
}
