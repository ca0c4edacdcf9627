// The root commitment of a trace and its Ed25519 signature.
//
// The commitment is the SHA-256 of a short canonical text (`TraceCommitment.message`) that
// names the SHA-256 of header.json, every stream (file, frames, events, bytes, final chain
// value), every blob id and the manifest's other fields. The recorder signs it with its
// Ed25519 key (swift-crypto's Curve25519.Signing), created on first use in
// $XDG_CONFIG_HOME/magprov (default ~/.config/magprov), mode 0600 in a 0700 folder.
//
// What a valid signature proves: the trace is unchanged since a recorder holding that key
// wrote it. Against a hostile recorded program it is worth what the key's separation is
// worth: a program running as the same user as the recorder can read the key.

import Crypto
import Foundation

/// The canonical form of the root commitment (docs/ARCHITECTURE.md, "Trace format").
public enum TraceCommitment {
    /// The text the commitment hashes: UTF-8, one record per line, LF-terminated.
    public static func message(headerDigest: String, manifest m: TraceManifest) -> [UInt8] {
        var lines = ["magprov trace commitment \(traceFormatVersion)", "header \(headerDigest)"]
        for s in m.streams.sorted(by: { $0.tid < $1.tid }) {
            lines.append("stream \(s.tid) \(s.file) \(s.frames) \(s.events) \(s.bytes) \(s.finalChain)")
        }
        for id in m.blobIDs.sorted() { lines.append("blob \(id)") }
        lines.append("blobs \(m.blobs) \(m.blobBytes) \(m.blobRawBytes)")
        lines.append("exit \(m.exitCode.map(String.init) ?? "-") \(m.exitSignal.map(String.init) ?? "-")")
        lines.append("syscalls \(m.syscalls)")
        lines.append("tasks \(m.tasks)")
        // Microseconds: a JSON round trip of the Double cannot move it by that much.
        lines.append("end \(commitmentMicroseconds(m.endTime))")
        return Array(lines.joined(separator: "\n").utf8) + [0x0a]
    }

    /// Seconds as the commitment texts write them: whole microseconds. A value no Int64
    /// can hold (NaN, infinite, past year 292,000 — only an edited file has one) is written
    /// as its bit pattern, so it still commits to exactly that value and never traps.
    static func commitmentMicroseconds(_ seconds: Double) -> String {
        let micros = (seconds * 1e6).rounded()
        if let exact = Int64(exactly: micros) { return String(exact) }
        return "bits:" + String(seconds.bitPattern, radix: 16)
    }

    /// The root commitment: lowercase hex SHA-256 of `message`.
    public static func root(headerDigest: String, manifest: TraceManifest) -> String {
        sha256(message(headerDigest: headerDigest, manifest: manifest)).hexString
    }

    /// The bytes an Ed25519 signature covers: a domain prefix and the commitment in hex.
    static func signedBytes(root: String) -> [UInt8] { Array("magprov trace root \(root)".utf8) }
}

/// An Ed25519 signature over a trace's root commitment, as `manifest.json` stores it.
public struct TraceSignature: Codable, Equatable, Sendable {
    /// Always "ed25519".
    public var algorithm: String
    /// The signer's public key: 32 bytes, hex.
    public var publicKey: String
    /// 64 bytes, hex.
    public var signature: String

    /// True when `signature` is a valid Ed25519 signature by `publicKey` over `root`.
    /// Cost: one Ed25519 verification (~50 µs).
    public func isValid(root: String) -> Bool { isValid(message: TraceCommitment.signedBytes(root: root)) }

    /// True when `signature` is a valid Ed25519 signature by `publicKey` over `message`.
    public func isValid(message: [UInt8]) -> Bool {
        guard algorithm == "ed25519", let key = [UInt8](hexString: publicKey), let sig = [UInt8](hexString: signature),
              let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: key) else { return false }
        return publicKey.isValidSignature(sig, for: message)
    }
}

/// Why the recorder's signing key cannot be used.
public enum TraceSigningError: Error, CustomStringConvertible, Equatable {
    case cannotCreate(path: String, errno: Int32)
    case unreadable(path: String, reason: String)
    /// The key file can be read by others: refuse it, as ssh does.
    case tooOpen(path: String, mode: UInt32)

    public var description: String {
        switch self {
        case .cannotCreate(let path, let e): return "cannot create the trace signing key \(path): \(String(cString: strerror(e)))"
        case .unreadable(let path, let reason): return "the trace signing key \(path) is unreadable: \(reason)"
        case .tooOpen(let path, let mode):
            return "the trace signing key \(path) has mode \(String(mode, radix: 8)); it must be readable by its owner only (chmod 600)"
        }
    }
}

/// The recorder's Ed25519 key: `signing.key` (32-byte seed, hex, mode 0600) and
/// `signing.pub` (public key, hex) in a 0700 folder.
public struct TraceSigningKey {
    private let key: Curve25519.Signing.PrivateKey
    /// The public key, 32 bytes in hex: what `magprov verify --key` takes.
    public var publicKeyHex: String { Array(key.publicKey.rawRepresentation).hexString }

    public static let privateKeyFile = "signing.key"
    public static let publicKeyFile = "signing.pub"

    /// `$XDG_CONFIG_HOME/magprov`, else `$HOME/.config/magprov`; nil without either.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") { return xdg + "/magprov" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.config/magprov" }
        return nil
    }

    /// Loads the key in `directory`, creating the folder (0700) and a new key (0600) on
    /// first use. Creation is atomic (O_EXCL), so two recorders starting at once agree.
    /// - Throws: `TraceSigningError`.
    public static func loadOrCreate(directory: String) throws -> TraceSigningKey {
        try makeDirectory(directory)
        let path = directory + "/" + privateKeyFile
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            let key = Curve25519.Signing.PrivateKey()
            let text = Array((Array(key.rawRepresentation).hexString + "\n").utf8)
            let written = text.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            close(fd)
            guard written == text.count else { throw TraceSigningError.cannotCreate(path: path, errno: errno) }
            let signing = TraceSigningKey(key: key)
            try? (signing.publicKeyHex + "\n").write(toFile: directory + "/" + publicKeyFile, atomically: true, encoding: .utf8)
            return signing
        }
        guard errno == EEXIST else { throw TraceSigningError.cannotCreate(path: path, errno: errno) }
        return try load(path: path)
    }

    /// Loads an existing private key file.
    /// - Throws: `TraceSigningError.tooOpen` when group or others may read it.
    public static func load(path: String) throws -> TraceSigningKey {
        var info = stat()
        guard stat(path, &info) == 0 else { throw TraceSigningError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        guard info.st_mode & 0o077 == 0 else { throw TraceSigningError.tooOpen(path: path, mode: info.st_mode & 0o777) }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let seed = [UInt8](hexString: text.trimmingCharacters(in: .whitespacesAndNewlines)),
              let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else {
            throw TraceSigningError.unreadable(path: path, reason: "not 32 bytes of hex")
        }
        return TraceSigningKey(key: key)
    }

    /// The public key (hex) of the key in `directory`, if there is one; never creates one.
    public static func existingPublicKey(directory: String) -> String? {
        if let key = try? load(path: directory + "/" + privateKeyFile) { return key.publicKeyHex }
        let text = try? String(contentsOfFile: directory + "/" + publicKeyFile, encoding: .utf8)
        return text.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// Signs a root commitment. Cost: one Ed25519 signature (~30 µs).
    public func sign(root: String) throws -> TraceSignature { try sign(message: TraceCommitment.signedBytes(root: root)) }

    /// Signs arbitrary bytes (a checkpoint's domain-prefixed root, a derived file's seal).
    /// Cost: ~30 µs.
    public func sign(message: [UInt8]) throws -> TraceSignature {
        let signature = try key.signature(for: message)
        return TraceSignature(algorithm: "ed25519", publicKey: publicKeyHex, signature: Array(signature).hexString)
    }

    /// An HMAC-SHA256 of `message` (hex) under a key derived from this private key (SHA-256
    /// of a domain prefix and the seed): authenticates what only this key's holder should
    /// have written, such as `DerivedFileSeal`'s verification cache. Cost: ~1 µs.
    public func authenticationCode(for message: [UInt8]) -> String {
        let derived = SymmetricKey(data: Crypto.SHA256.hash(data: Array("magprov authentication key\n".utf8) + Array(key.rawRepresentation)))
        return Array(HMAC<Crypto.SHA256>.authenticationCode(for: message, using: derived)).hexString
    }

    /// A key that exists only in memory (tests, and signing with a key of one's own).
    public static func ephemeral() -> TraceSigningKey { TraceSigningKey(key: Curve25519.Signing.PrivateKey()) }

    private static func makeDirectory(_ directory: String) throws {
        var prefix = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST { throw TraceSigningError.cannotCreate(path: prefix, errno: errno) }
        }
    }
}

/// A seal over a file derived from a trace (the graph store, `provenance.sqlite`): the
/// SHA-256 of the file's bytes, the root commitment of the trace it was derived from, and
/// an Ed25519 signature over both by the key of the user who derived it (the same key file
/// as the recorder's). Stored as JSON beside the file (`FILE.seal`, mode 0600).
///
/// What it covers: every byte of the file, so for SQLite every table, index and the schema;
/// an edit made with any tool (`sqlite3`, a hex editor) changes the digest. What it proves:
/// the file is unchanged since someone holding that key wrote it from that trace. Someone
/// who can read the key (the same user) can re-seal an edited file; without the key, the
/// digest alone only catches edits that did not also rewrite the seal.
public struct DerivedFileSeal: Codable, Equatable, Sendable {
    /// What the file is ("graph store"): part of the signed text, so a seal of one kind of
    /// file cannot stand for another.
    public var kind: String
    /// The root commitment of the trace the file was derived from ("" for none).
    public var rootChain: String
    /// Hex SHA-256 of the file's bytes, and their count.
    public var digest: String
    public var bytes: UInt64
    /// Nil when the deriving user had no signing key.
    public var signature: TraceSignature?

    /// The seal file of `path`.
    public static func sealPath(of path: String) -> String { path + ".seal" }

    static func signedBytes(kind: String, rootChain: String, digest: String, bytes: UInt64) -> [UInt8] {
        Array("magprov derived \(kind)\nroot \(rootChain)\nsha256 \(digest)\nbytes \(bytes)\n".utf8)
    }

    /// SHA-256 of a file's bytes, read 1 MiB at a time. Cost: one pass (~1 GB/s here).
    /// - Throws: `TraceError.io` when it cannot be opened or read.
    public static func fileDigest(path: String) throws -> (digest: String, bytes: UInt64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TraceError.io(path: path, errno: errno) }
        defer { close(fd) }
        var hasher = Crypto.SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total: UInt64 = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw TraceError.io(path: path, errno: errno) }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            total += UInt64(n)
        }
        return (Array(hasher.finalize()).hexString, total)
    }

    /// Seals the file at `path` as it is now and writes the seal beside it (temporary file
    /// and rename, mode 0600). Cost: one pass over the file and one signature.
    @discardableResult
    public static func seal(path: String, kind: String, rootChain: String, key: TraceSigningKey?) throws -> DerivedFileSeal {
        let (digest, bytes) = try fileDigest(path: path)
        var seal = DerivedFileSeal(kind: kind, rootChain: rootChain, digest: digest, bytes: bytes, signature: nil)
        seal.signature = try key?.sign(message: signedBytes(kind: kind, rootChain: rootChain, digest: digest, bytes: bytes))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = Array(try encoder.encode(seal)) + [0x0A]
        let target = sealPath(of: path), temporary = target + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw TraceError.io(path: temporary, errno: errno) }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let writeErrno = errno
        close(fd)
        guard written == data.count else { unlink(temporary); throw TraceError.io(path: temporary, errno: writeErrno) }
        guard rename(temporary, target) == 0 else {
            let e = errno
            unlink(temporary)
            throw TraceError.io(path: target, errno: e)
        }
        return seal
    }

    /// Removes the seal of `path` (before the file is replaced), and its verification cache.
    public static func removeSeal(of path: String) {
        unlink(sealPath(of: path))
        unlink(VerifiedDigest.cachePath(of: path))
    }

    /// The digest of `path`, from its verification cache when the cache describes the file
    /// as it is now and `cacheKey` authenticates it, else read (one pass) and, with a key,
    /// cached for the next check.
    /// - Parameter settling: how old (ns) a file's ctime must be for its state to be cached.
    static func currentDigest(path: String, cacheKey: TraceSigningKey?,
                              settling: Int64 = VerifiedDigest.settling) throws -> (digest: String, bytes: UInt64, cached: Bool) {
        guard let cacheKey else {
            let (digest, bytes) = try fileDigest(path: path)
            return (digest, bytes, false)
        }
        let before = VerifiedDigest.FileState(path: path)
        if let before, let cached = VerifiedDigest.load(of: path), cached.state == before, cached.isAuthentic(cacheKey) {
            return (cached.digest, cached.bytes, true)
        }
        let (digest, bytes) = try fileDigest(path: path)
        if let before, VerifiedDigest.FileState(path: path) == before, before.isSettled(bytes: bytes, settling: settling) {
            VerifiedDigest(state: before, digest: digest, bytes: bytes, key: cacheKey).save(of: path)
        }
        return (digest, bytes, false)
    }

    /// Checks the file at `path` against its seal.
    /// - Parameters:
    ///   - rootChain: the root commitment of the trace the file must have been derived from.
    ///   - trustedKey: the public key (hex) that must have signed the seal; nil: any valid
    ///     signature, or none.
    /// - Returns: `.holds`, `.fails` with what does not hold, or `.unchecked` when there is
    ///   no seal (a file written before seals existed, or the seal was removed).
    ///   - cacheKey: the checking user's private key, which authenticates the verification
    ///     cache beside the file (`VerifiedDigest`); nil: no cache, the file is read.
    ///   Cost: one pass over the file, or with a valid cache a stat and two small reads.
    public static func check(path: String, kind: String, rootChain: String, trustedKey: String?,
                             cacheKey: TraceSigningKey? = nil) -> TraceCheck {
        let subject = kind
        guard let data = FileManager.default.contents(atPath: sealPath(of: path)) else {
            return TraceCheck(subject, .unchecked, "no seal beside \(path)")
        }
        guard let seal = try? JSONDecoder().decode(DerivedFileSeal.self, from: data), seal.kind == kind else {
            return TraceCheck(subject, .fails, "the seal \(sealPath(of: path)) is unreadable")
        }
        guard let (digest, bytes, _) = try? currentDigest(path: path, cacheKey: cacheKey) else {
            return TraceCheck(subject, .fails, "\(path) cannot be read")
        }
        if digest != seal.digest || bytes != seal.bytes {
            return TraceCheck(subject, .fails, "\(path) was changed after magprov wrote it (SHA-256 \(digest.prefix(16))…, \(bytes) bytes; sealed \(seal.digest.prefix(16))…, \(seal.bytes) bytes)")
        }
        if seal.rootChain != rootChain {
            return TraceCheck(subject, .fails, "\(path) was derived from another recording (root \(seal.rootChain.prefix(16))…, this trace's \(rootChain.prefix(16))…)")
        }
        let message = signedBytes(kind: kind, rootChain: seal.rootChain, digest: seal.digest, bytes: seal.bytes)
        if let signature = seal.signature {
            guard signature.isValid(message: message) else {
                return TraceCheck(subject, .fails, "the seal's signature does not match (the seal was altered)")
            }
            if let trustedKey, signature.publicKey.lowercased() != trustedKey.lowercased() {
                return TraceCheck(subject, .fails, "sealed by \(signature.publicKey.prefix(16))…, not by \(trustedKey.prefix(16))…")
            }
            return TraceCheck(subject, .holds, "\(path) is the one sealed by \(signature.publicKey.prefix(16))… for this trace (SHA-256 \(digest.prefix(16))…)")
        }
        if let trustedKey {
            return TraceCheck(subject, .fails, "the seal is not signed, and \(trustedKey.prefix(16))… should have signed it")
        }
        return TraceCheck(subject, .holds, "\(path) matches its (unsigned) seal for this trace (SHA-256 \(digest.prefix(16))…)")
    }
}

/// The verification cache of a sealed file (`FILE.seal.verified`, mode 0600): the file's
/// SHA-256 as last read, and the file's state then (device, inode, size, mtime and ctime in
/// nanoseconds), authenticated by an HMAC under the checking user's key. A check whose file
/// state is the same takes the digest from the cache instead of reading the file.
///
/// Why that is safe: any write, truncation, rename over or re-creation of the file changes
/// its ctime, inode or size, and the ctime cannot be set back without privilege (utimensat
/// sets atime and mtime only; the kernel sets ctime to the current time). A change within
/// one timestamp tick of the caching read would keep the same ctime, so a state is cached
/// only once its ctime is over two seconds old (`isSettled`, git's "racily clean"
/// rule). A forged cache entry needs the key, and whoever holds the key can re-seal the file
/// anyway. Not covered: root, who can change the clock or the disk under the filesystem.
struct VerifiedDigest: Codable, Equatable {
    struct FileState: Codable, Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var mtime: Int64
        var ctime: Int64

        /// Nil when the file cannot be stat'ed.
        init?(path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            mtime = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
            ctime = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
        }

        /// The state describes `bytes` bytes, and its ctime is far enough in the past that a
        /// later change must show in it.
        func isSettled(bytes: UInt64, settling: Int64) -> Bool {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            let nanoseconds = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
            return size >= 0 && UInt64(size) == bytes && ctime < nanoseconds - settling
        }
    }

    /// Two seconds: far above the coarsest timestamp tick a Linux filesystem keeps (ext4
    /// and tmpfs: one jiffy; FAT's 2 s mtime does not apply, its ctime is not kept).
    static let settling: Int64 = 2_000_000_000

    var state: FileState
    var digest: String
    var bytes: UInt64
    /// HMAC-SHA256 (hex) of `message` under the checking user's key.
    var authentication: String

    init(state: FileState, digest: String, bytes: UInt64, key: TraceSigningKey) {
        self.state = state
        self.digest = digest
        self.bytes = bytes
        authentication = ""
        authentication = key.authenticationCode(for: message)
    }

    var message: [UInt8] {
        Array("magprov verified digest\n\(state.device) \(state.inode) \(state.size) \(state.mtime) \(state.ctime)\n\(digest) \(bytes)\n".utf8)
    }

    func isAuthentic(_ key: TraceSigningKey) -> Bool { key.authenticationCode(for: message) == authentication }

    static func cachePath(of path: String) -> String { DerivedFileSeal.sealPath(of: path) + ".verified" }

    static func load(of path: String) -> VerifiedDigest? {
        FileManager.default.contents(atPath: cachePath(of: path)).flatMap { try? JSONDecoder().decode(VerifiedDigest.self, from: $0) }
    }

    /// Best effort (temporary file and rename, mode 0600): a cache that cannot be written
    /// costs the next check a read, nothing else.
    func save(of path: String) {
        guard let data = try? JSONEncoder().encode(self) else { return }
        let target = VerifiedDigest.cachePath(of: path), temporary = target + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        if written != data.count || rename(temporary, target) != 0 { unlink(temporary) }
    }
}
