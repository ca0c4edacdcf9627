// `magprov verify`: what holds of a trace and what does not, and the one-line damage notice
// every other reading command prints before it answers from a damaged trace.

import ArgumentParser
import Foundation
import Provenance
import Trace

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that a trace is complete and unchanged since it was recorded.",
        discussion: """
        Checks header.json against the manifest's digest, the manifest against its root \
        commitment, the Ed25519 signature over the commitment, every stream (frames, events \
        and final chain value as committed; no stream missing or added) and every blob (a \
        valid LZ4 frame whose bytes hash to its name; none missing or added), then says \
        what holds and what does not. A trace without a manifest (the recorder was killed) \
        is never verified, but its signed checkpoints are checked and the prefix of each \
        stream the last one covers is named. When the trace has a graph store \
        (provenance.sqlite), its seal is checked too: every byte of the file unchanged \
        since magprov built it from this trace, signed by this user's key (why, impact, \
        graph and alerts rebuild a store that fails this).

        A valid signature proves that the trace is unchanged since a recorder holding that \
        key wrote it. The key is created on first use in $XDG_CONFIG_HOME/magprov \
        (~/.config/magprov), readable by its owner only; a recorded program that runs as \
        the same user can read it too, so against a hostile program a signature is worth \
        what the key's separation is worth (recorder as root or a service account).

        Without --key, the signer is compared with this user's own recorder key when there \
        is one. Exit status (the table of `magprov --help`): 0 when every check holds, 1 \
        when one fails, 2 for a bad --key, 3 when the directory does not exist, 4 when it \
        is not a readable trace.
        """)

    @Argument(help: "Trace directory written by magprov record.")
    var trace: String

    @Option(help: "The trusted signer's public key: 64 hex digits, or a file holding them (e.g. ~/.config/magprov/signing.pub).")
    var key: String?

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        try requireTrace(trace)
        let trusted: String?
        do { trusted = try trustedKey() } catch {
            FileHandle.standardError.write("magprov: \(error)\n".data(using: .utf8)!)
            throw ExitCode(ExitStatus.usage.rawValue)
        }
        var result: TraceVerification
        do { result = try TraceVerifier.verify(directory: trace, trustedKey: trusted) } catch {
            if json {
                print(#"{"trace":\#(jsonString(trace)),"verified":false,"error":\#(jsonString("\(error)"))}"#)
            } else {
                FileHandle.standardError.write("magprov: \(error)\n".data(using: .utf8)!)
            }
            throw ExitCode(ExitStatus.damagedTrace.rawValue)
        }
        // The graph store, when there is one: unchanged since magprov built it from this
        // trace (its seal). Queries rebuild a store that fails this; verify says so.
        let store = GraphStore.path(forTrace: trace)
        if FileManager.default.fileExists(atPath: store) {
            result.checks.append(GraphStore.checkSeal(path: store, rootChain: GraphStore.currentRootChain(trace)))
        }
        if json {
            struct Output: Encodable {
                var trace: String, formatVersion: Int, verified: Bool, rootCommitment: String, signer: String?
                var checks: [TraceCheck]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let output = Output(trace: result.trace, formatVersion: result.formatVersion, verified: result.verified,
                                rootCommitment: result.rootCommitment, signer: result.signer, checks: result.checks)
            print(String(decoding: try encoder.encode(output), as: UTF8.self))
        } else {
            for check in result.checks {
                let mark = check.status == .holds ? "ok  " : check.status == .fails ? "FAIL" : "--  "
                print("\(mark) \(check.subject): \(check.detail)")
            }
            print(result.verified ? "verified: the trace is complete and unchanged" + (trusted == nil ? " (signer not checked against a trusted key)" : "")
                                  : "NOT verified: \(result.failures.count) check\(result.failures.count == 1 ? "" : "s") failed")
        }
        if !result.verified { throw ExitCode(ExitStatus.divergence.rawValue) }
    }

    /// `--key` as hex, read from a file when it names one; else this user's recorder key.
    private func trustedKey() throws -> String? {
        guard let key else {
            return TraceSigningKey.defaultDirectory().flatMap { TraceSigningKey.existingPublicKey(directory: $0) }
        }
        var text = key
        if FileManager.default.fileExists(atPath: key) {
            guard let contents = try? String(contentsOfFile: key, encoding: .utf8) else {
                throw ValidationError("cannot read the key file \(key)")
            }
            text = contents
        }
        text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = [UInt8](hexString: text), bytes.count == 32 else {
            throw ValidationError("--key takes an Ed25519 public key: 64 hex digits, or a file holding them")
        }
        return bytes.hexString
    }

    private func jsonString(_ s: String) -> String {
        String(decoding: (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
}

/// The notice a reading command prints (on stderr) before it answers from a damaged,
/// incomplete or altered trace; `magprov verify` says more.
enum TraceDamageNotice {
    /// Runs the quick checks on `reader` and prints what fails. Returns the failures.
    @discardableResult
    static func report(_ reader: TraceReader) -> [TraceCheck] {
        let failures = TraceVerifier.quickChecks(reader).filter { $0.status == .fails }
        guard !failures.isEmpty else { return [] }
        var text = "magprov: warning: answering from a damaged trace (\(reader.directory)); `magprov verify` says more\n"
        for f in failures { text += "magprov: warning: \(f.subject): \(f.detail)\n" }
        FileHandle.standardError.write(text.data(using: .utf8)!)
        return failures
    }

    /// Why the graph store was not answered from (`GraphStore.openOrBuild`), on stderr.
    static func storeNotice(_ text: String) {
        FileHandle.standardError.write("magprov: warning: \(text)\n".data(using: .utf8)!)
    }

    /// The same for a trace named by its directory; silent when it cannot be opened (the
    /// command itself then reports that).
    @discardableResult
    static func report(trace: String) -> [TraceCheck] {
        guard let reader = try? TraceReader(directory: trace) else { return [] }
        return report(reader)
    }
}

/// The recording mode's trust, said by every answer built from a trace: graph, why, impact
/// and replay (its refinement). Silent for a trace recorded in the stopping mode.
enum RecordingTrustNotice {
    /// Prints `magprov: note: ...` on standard error when the trace was recorded with
    /// `--syscall-buffer`. Returns the mode.
    @discardableResult
    static func report(_ header: TraceHeader) -> RecordingMode {
        if let notice = header.mode.trustNotice { printError("magprov: note: \(notice)") }
        return header.mode
    }

    /// The same for a trace named by its directory; silent when it cannot be opened (the
    /// command itself then reports that).
    @discardableResult
    static func report(trace: String) -> RecordingMode? {
        guard let reader = try? TraceReader(directory: trace) else { return nil }
        return report(reader.header)
    }
}
