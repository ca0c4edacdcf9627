// What holds of a trace: the checks behind `magprov verify` and the damage notice every
// reading command prints. Two depths:
//   quick — no stream is decoded: manifest present, header digest, commitment, signature,
//           stream files present with the committed sizes, no unlisted streams, blob files
//           match the committed list. Milliseconds; every reading command runs it.
//   full  — also decodes every frame of every stream (chain, counts, final value) and
//           every blob (LZ4 frame, checksum, content hash), and checks the signer's key.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One statement about a trace and whether it holds.
public struct TraceCheck: Codable, Equatable, Sendable {
    public enum Status: String, Codable, Sendable {
        /// Checked, and true.
        case holds
        /// Checked, and false: the trace is damaged, incomplete or altered.
        case fails
        /// Could not be checked (say why in `detail`); not a failure by itself.
        case unchecked
    }
    /// What is checked: "manifest", "header", "commitment", "signature", "signer",
    /// "stream tasks/TID.events", "streams", "blobs".
    public var subject: String
    public var status: Status
    /// What was found, in words a user can act on.
    public var detail: String

    public init(_ subject: String, _ status: Status, _ detail: String) {
        self.subject = subject; self.status = status; self.detail = detail
    }
}

/// The result of checking a trace.
public struct TraceVerification: Codable, Equatable, Sendable {
    public var trace: String
    public var formatVersion: Int
    /// The root commitment the manifest states ("" without one).
    public var rootCommitment: String
    /// The public key (hex) that signed the trace, if it is signed.
    public var signer: String?
    public var checks: [TraceCheck]
    /// True when no check fails.
    public var verified: Bool { !checks.contains { $0.status == .fails } }
    public var failures: [TraceCheck] { checks.filter { $0.status == .fails } }
}

public enum TraceVerifier {
    /// The checks that need no stream decoding (see the file comment). Cost: one directory
    /// listing of tasks/ and blobs/, one stat per stream, one SHA-256 of a short text and
    /// one Ed25519 verification.
    public static func quickChecks(_ reader: TraceReader) -> [TraceCheck] {
        guard let manifest = reader.manifest else {
            return [TraceCheck("manifest", .fails, reader.manifestProblem ?? "no manifest.json")]
        }
        var checks = [TraceCheck("manifest", .holds, "manifest.json present")]
        checks.append(reader.headerDigest == manifest.headerDigest
            ? TraceCheck("header", .holds, "header.json is the one committed")
            : TraceCheck("header", .fails, "header.json was changed after recording (SHA-256 \(reader.headerDigest.prefix(16))…, committed \(manifest.headerDigest.prefix(16))…)"))
        let root = TraceCommitment.root(headerDigest: manifest.headerDigest, manifest: manifest)
        checks.append(root == manifest.rootChain
            ? TraceCheck("commitment", .holds, "the root commitment \(root.prefix(16))… covers the manifest as it is")
            : TraceCheck("commitment", .fails, "the manifest was changed after recording: it hashes to \(root.prefix(16))…, its root commitment says \(manifest.rootChain.prefix(16))…"))
        if let signature = manifest.signature {
            checks.append(signature.isValid(root: manifest.rootChain)
                ? TraceCheck("signature", .holds, "Ed25519 signature by \(signature.publicKey.prefix(16))… is valid for the root commitment")
                : TraceCheck("signature", .fails, "the Ed25519 signature does not match the root commitment (altered manifest or signature)"))
        } else {
            checks.append(TraceCheck("signature", .fails, "the trace is not signed (the recorder had no signing key)"))
        }
        let listed = Set(manifest.streams.map(\.tid))
        for s in manifest.streams.sorted(by: { $0.tid < $1.tid }) {
            let subject = "stream \(s.file)"
            var info = stat()
            if stat("\(reader.directory)/\(s.file)", &info) != 0 {
                checks.append(TraceCheck(subject, .fails, "missing: the manifest lists \(s.frames) frames, \(s.events) events"))
            } else if UInt64(info.st_size) != s.bytes {
                checks.append(TraceCheck(subject, .fails, "\(info.st_size) bytes on disk, \(s.bytes) committed (truncated or extended)"))
            }
        }
        let unlisted = reader.taskIDs.filter { !listed.contains($0) }
        checks.append(unlisted.isEmpty
            ? TraceCheck("streams", .holds, "\(manifest.streams.count) streams committed, none added")
            : TraceCheck("streams", .fails, "streams not in the manifest: " + unlisted.map { "tasks/\($0).events" }.joined(separator: ", ")))
        let onDisk = reader.blobs.idsOnDisk()
        let committed = Set(manifest.blobIDs), present = Set(onDisk)
        let missing = manifest.blobIDs.filter { !present.contains($0) }
        let extra = onDisk.filter { !committed.contains($0) }
        if missing.isEmpty && extra.isEmpty {
            checks.append(TraceCheck("blobs", .holds, "the \(committed.count) committed blobs are present, none added"))
        } else {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("\(missing.count) missing (\(missing.prefix(3).map { String($0.prefix(16)) + "…" }.joined(separator: ", ")))") }
            if !extra.isEmpty { parts.append("\(extra.count) not committed (\(extra.prefix(3).map { String($0.prefix(24)) }.joined(separator: ", ")))") }
            checks.append(TraceCheck("blobs", .fails, parts.joined(separator: "; ")))
        }
        return checks
    }

    /// Every check: the quick ones, then each stream decoded frame by frame against its
    /// committed counts and final chain value, each blob decoded and hashed, and the
    /// signer's key compared with `trustedKey` (hex).
    /// Cost: reads and hashes the whole trace once; memory holds one stream at a time.
    /// - Throws: `TraceError.notATrace` / `.unsupportedVersion` when the trace cannot be opened.
    public static func verify(directory: String, trustedKey: String?) throws -> TraceVerification {
        let reader = try TraceReader(directory: directory)
        var checks = quickChecks(reader)
        let manifest = reader.manifest
        if let signature = manifest?.signature {
            if let trustedKey {
                checks.append(signature.publicKey.lowercased() == trustedKey.lowercased()
                    ? TraceCheck("signer", .holds, "signed by the trusted key \(trustedKey.prefix(16))…")
                    : TraceCheck("signer", .fails, "signed by \(signature.publicKey.prefix(16))…, not by the trusted key \(trustedKey.prefix(16))…"))
            } else {
                checks.append(TraceCheck("signer", .unchecked, "no trusted key to compare with (pass --key PUB); signed by \(signature.publicKey)"))
            }
        }
        // Streams: decode every frame. A stream the quick checks found missing is not repeated.
        // Without a manifest the checkpoints say how far each stream is signed (below).
        let failedStreams = Set(checks.filter { $0.status == .fails }.map(\.subject))
        for tid in reader.taskIDs {
            let name = "tasks/\(tid).events", subject = "stream \(name)"
            var events: UInt64 = 0
            var frames: UInt32 = 0
            var chain = ""
            var failure: String?
            do {
                var stream = try reader.stream(tid: tid)
                while let frame = try stream.nextFrame() { events += UInt64(frame.count) }
                frames = stream.frameIndex
                chain = stream.chain.hexString
            } catch {
                failure = "\(error)"
            }
            guard let summary = manifest?.streams.first(where: { $0.tid == tid }) else {
                if manifest != nil { continue }  // reported as unlisted
                checks.append(failure.map { TraceCheck(subject, .fails, $0) }
                    ?? TraceCheck(subject, .unchecked, "\(frames) frames, \(events) events chain intact; nothing committed to compare with"))
                continue
            }
            if let failure {
                checks.append(TraceCheck(subject, .fails, failure))
            } else if frames != summary.frames || events != summary.events {
                checks.append(TraceCheck(subject, .fails, "\(frames) frames, \(events) events; \(summary.frames) frames, \(summary.events) events committed (cut at a frame boundary?)"))
            } else if chain != summary.finalChain {
                checks.append(TraceCheck(subject, .fails, "every frame chains, but the final chain value is not the committed one (stream replaced or re-chained)"))
            } else if !failedStreams.contains(subject) {
                checks.append(TraceCheck(subject, .holds, "\(frames) frames, \(events) events, final chain value as committed"))
            }
        }
        // Blobs: decode and hash each committed one that is present.
        if let manifest {
            let present = Set(reader.blobs.idsOnDisk())
            var bad: [String] = []
            for id in manifest.blobIDs where present.contains(id) {
                do { _ = try reader.blobs.get(id) } catch { bad.append("\(error)") }
            }
            checks.append(bad.isEmpty
                ? TraceCheck("blob contents", .holds, "every present blob is a valid LZ4 frame whose bytes hash to its name")
                : TraceCheck("blob contents", .fails, "\(bad.count) corrupt: " + bad.prefix(3).joined(separator: "; ")))
        }
        if manifest == nil { checks += checkpointChecks(reader, trustedKey: trustedKey) }
        return TraceVerification(trace: directory, formatVersion: reader.header.formatVersion,
                                 rootCommitment: manifest?.rootChain ?? "", signer: manifest?.signature?.publicKey,
                                 checks: checks)
    }

    /// For a trace without a manifest (the recorder was killed): which prefix the last
    /// valid signed checkpoint covers. Checks the checkpoint chain (index, previous root,
    /// recomputed root, signature, one signer), then each checkpointed stream's first
    /// frames against the chain value and event count signed for them, and every
    /// checkpointed blob (present, valid, hashing to its name).
    /// Cost: reads every checkpointed stream once and every checkpointed blob.
    /// - Parameter trustedKey: the signer the checkpoints must carry (hex), if known.
    public static func checkpointChecks(_ reader: TraceReader, trustedKey: String? = nil) -> [TraceCheck] {
        let (all, problem) = TraceCheckpoints.read(directory: reader.directory)
        var checks: [TraceCheck] = []
        guard !all.isEmpty else {
            return [TraceCheck("checkpoints", .fails, problem ?? "no checkpoints.jsonl: nothing of this incomplete trace is signed")]
        }
        var valid: [TraceCheckpoint] = []
        var stop: String? = problem
        for checkpoint in all {
            let expectedPrevious = valid.last?.root ?? ""
            if checkpoint.index != valid.count || checkpoint.previous != expectedPrevious {
                stop = "checkpoint \(valid.count) is out of order or does not chain to the one before"; break
            }
            if checkpoint.computedRoot() != checkpoint.root {
                stop = "checkpoint \(checkpoint.index) was altered (its fields do not hash to its root)"; break
            }
            if let signature = checkpoint.signature {
                if !checkpoint.hasValidSignature { stop = "checkpoint \(checkpoint.index): the signature does not match its root"; break }
                if let first = valid.first?.signature?.publicKey, first != signature.publicKey {
                    stop = "checkpoint \(checkpoint.index) is signed by another key"; break
                }
            } else if valid.first?.signature != nil {
                stop = "checkpoint \(checkpoint.index) is not signed, the ones before are"; break
            }
            if checkpoint.headerDigest != reader.headerDigest {
                stop = "checkpoint \(checkpoint.index) commits another header.json"; break
            }
            valid.append(checkpoint)
        }
        guard let last = valid.last else {
            return [TraceCheck("checkpoints", .fails, stop ?? "no valid checkpoint")]
        }
        let time = Date(timeIntervalSince1970: last.time)
        let signer = last.signature.map { "signed by \($0.publicKey.prefix(16))…" } ?? "NOT signed (the recorder had no key)"
        checks.append(TraceCheck("checkpoints", last.signature == nil ? .fails : .holds,
            "\(valid.count) checkpoint\(valid.count == 1 ? "" : "s") chain, \(signer); the last, at \(time), covers what follows" +
            (stop.map { "; after it: \($0)" } ?? "")))
        if let trustedKey, let signer = last.signature?.publicKey {
            checks.append(signer.lowercased() == trustedKey.lowercased()
                ? TraceCheck("checkpoint signer", .holds, "signed by the trusted key \(trustedKey.prefix(16))…")
                : TraceCheck("checkpoint signer", .fails, "signed by \(signer.prefix(16))…, not by the trusted key \(trustedKey.prefix(16))…"))
        }
        // Streams: the checkpointed prefix, then what lies beyond it.
        var covered: Set<Int32> = []
        for s in last.streams {
            covered.insert(s.tid)
            let subject = "stream \(s.file) (checkpointed prefix)"
            guard reader.taskIDs.contains(s.tid) else {
                checks.append(TraceCheck(subject, .fails, "missing: checkpoint \(last.index) lists \(s.frames) frames")); continue
            }
            var events: UInt64 = 0
            var prefixChain: String?
            var beyond: UInt32 = 0
            var damage: String?
            do {
                var stream = try reader.stream(tid: s.tid)
                if s.frames == 0 { prefixChain = stream.chain.hexString }
                while let frame = try stream.nextFrame() {
                    if stream.frameIndex <= s.frames { events += UInt64(frame.count) } else { beyond += 1 }
                    if stream.frameIndex == s.frames { prefixChain = stream.chain.hexString }
                }
            } catch {
                damage = "\(error)"
            }
            if let chain = prefixChain {
                if chain != s.finalChain || events != s.events {
                    checks.append(TraceCheck(subject, .fails, "the first \(s.frames) frames are not the ones checkpoint \(last.index) signed"))
                } else {
                    let tail = beyond == 0 ? "nothing after it" : "\(beyond) later frame\(beyond == 1 ? "" : "s") chain on but are not signed"
                    checks.append(TraceCheck(subject, damage == nil ? .holds : .fails,
                                             "\(s.frames) frames, \(s.events) events as signed; \(tail)" + (damage.map { "; then: \($0)" } ?? "")))
                }
            } else {
                checks.append(TraceCheck(subject, .fails, "ends before the \(s.frames) frames checkpoint \(last.index) signed: \(damage ?? "stream too short")"))
            }
        }
        let later = reader.taskIDs.filter { !covered.contains($0) }
        if !later.isEmpty {
            checks.append(TraceCheck("streams after the last checkpoint", .unchecked,
                                     later.map { "tasks/\($0).events" }.joined(separator: ", ") + ": not signed"))
        }
        // Blobs: every one a checkpoint committed.
        let committed = valid.flatMap(\.newBlobs)
        let present = Set(reader.blobs.idsOnDisk())
        var bad: [String] = []
        for id in committed {
            if !present.contains(id) { bad.append("\(id.prefix(16))… missing"); continue }
            do { _ = try reader.blobs.get(id) } catch { bad.append("\(error)") }
        }
        checks.append(bad.isEmpty
            ? TraceCheck("checkpointed blobs", .holds, "the \(committed.count) blobs the checkpoints commit are present and hash to their names")
            : TraceCheck("checkpointed blobs", .fails, "\(bad.count) bad: " + bad.prefix(3).joined(separator: "; ")))
        return checks
    }
}
