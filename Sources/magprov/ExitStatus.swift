// magprov's exit statuses: one table for every subcommand, printed by `magprov --help` and
// in the README. `record` is the exception that `env`, `nohup` and `timeout` make: its
// status is the recorded command's, so magprov's own failures there use 125-127.

import ArgumentParser
import Foundation
import Provenance
import Replayer
import Trace

/// The exit status of every magprov subcommand.
enum ExitStatus: Int32, CaseIterable {
    /// The command did what was asked.
    case success = 0
    /// The answer is "no": a replay diverged from the recording, lockstep found a
    /// difference between the interpreter and the CPU, verify found a check that fails.
    case divergence = 1
    /// Bad options or arguments (also a `why` byte range that is not A-B).
    case usage = 2
    /// The trace, a file or the node asked about does not exist.
    case notFound = 3
    /// The trace exists but is damaged or unreadable: not a trace, a format version this
    /// magprov cannot read, a truncated or corrupt stream or blob, a damaged graph store.
    case damagedTrace = 4
    /// Anything else magprov could not do: I/O errors, a missing tool (Graphviz), a query
    /// that needs `replay --taint` first.
    case failure = 5
    /// `record` only: magprov itself failed (bad options, ptrace refused, cannot write the
    /// trace), as `env` and `timeout` report their own failures.
    case recordFailed = 125
    /// `record` only: the command was found but could not be executed.
    case commandNotExecutable = 126
    /// `record` only: the command was not found.
    case commandNotFound = 127

    /// One line per status, for `--help` and the README.
    static var table: String {
        """
          0    success
          1    replay diverged, lockstep found a difference, or verify found a change
          2    usage error (bad option or argument)
          3    trace, file or node not found
          4    damaged or unreadable trace (its intact part is still reported)
          5    any other failure (I/O, Graphviz missing, trace not refined yet)
        magprov record exits with the recorded command's status (128+N when signal N \
        ended it); its own failures use 125 (magprov failed, bad options included), \
        126 (command not executable) and 127 (command not found), as env(1) does.
        """
    }

    /// The status for `error` thrown by a subcommand other than `record`.
    init(for error: Error) {
        switch error {
        case let e as CLIError: self = e.status
        case let e as TraceError:
            switch e {
            case .io(_, let code) where code == ENOENT: self = .notFound
            case .io: self = .failure
            case .unknownTask: self = .notFound
            case .notATrace, .unsupportedVersion, .truncated, .corruptFrame, .missingBlob, .corruptBlob:
                self = .damagedTrace
            case .eventTooLarge, .outputExists:
                self = .failure
            }
        case let e as ProvenanceError:
            switch e {
            case .trace(let t): self = ExitStatus(for: t)
            case .corruptStore, .store: self = .damagedTrace
            case .noSuchNode, .noSuchEdge, .targetNotFound: self = .notFound
            case .badByteRange: self = .usage
            case .taintSummaries: self = .damagedTrace
            case .graphvizMissing, .graphvizFailed, .io, .notRefined: self = .failure
            }
        case is Divergence: self = .divergence
        default:
            self = Magprov.exitCode(for: error) == .validationFailure ? .usage : .failure
        }
    }
}

/// Errors of the command line itself, each with its exit status.
enum CLIError: Error, CustomStringConvertible {
    /// A trace directory or file given on the command line does not exist.
    case notFound(path: String, what: String)
    /// An output file could not be written.
    case cannotWrite(path: String, reason: String)
    /// The trace's streams are damaged: what was read before the damage was used and
    /// reported; these are the stream errors.
    case damagedTrace([String])
    /// `--bytes A-B` starts at or past the end of the object version (as the recording saw it).
    case byteRangePastEnd(target: String, range: String, size: Int64)
    /// `--pid` names a process the trace does not have.
    case noSuchProcess(pid: Int32, known: [Int32])

    var status: ExitStatus {
        switch self {
        case .notFound, .noSuchProcess: return .notFound
        case .cannotWrite: return .failure
        case .damagedTrace: return .damagedTrace
        case .byteRangePastEnd: return .usage
        }
    }

    var description: String {
        switch self {
        case .notFound(let path, let what): return "\(path): no such \(what)"
        case .cannotWrite(let path, let reason): return "cannot write \(path): \(reason)"
        case .byteRangePastEnd(let target, let range, let size):
            return "--bytes \(range) is past the end of \(target): it has \(size) bytes in the recording (0-\(size))"
        case .noSuchProcess(let pid, let known):
            let list = known.count > 12 ? known.prefix(12).map(String.init).joined(separator: ", ") + ", …"
                                        : known.map(String.init).joined(separator: ", ")
            return "the trace has no process \(pid)" + (known.isEmpty ? "" : " (its processes: \(list))")
        case .damagedTrace(let errors):
            guard !errors.isEmpty else { return "the trace is damaged (the warnings above say where); the intact part was used" }
            return "the trace is damaged; the intact part was used: "
                + errors.joined(separator: "\n")
        }
    }
}

/// Throws `CLIError.notFound` (exit 3) when nothing exists at `path`; a directory that is
/// not a trace is left for the reader to report (exit 4).
func requireTrace(_ path: String) throws {
    guard FileManager.default.fileExists(atPath: path) else {
        throw CLIError.notFound(path: path, what: "trace directory")
    }
}

/// Opens the trace at `path`, telling a missing directory (exit 3) from one that is not a
/// trace (exit 4).
func openTrace(_ path: String) throws -> TraceReader {
    try requireTrace(path)
    return try TraceReader(directory: path)
}

/// Exit 4 after answering from a graph built from a damaged trace (the intact part).
func checkIntact(_ store: GraphStore) throws {
    let warnings = try store.origin().warnings
    if !warnings.isEmpty { throw CLIError.damagedTrace(warnings) }
}

/// Writes `text` and a newline to standard error as one `write`.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
