import Foundation
@testable import Trace
import XCTest

/// The verification cache of a sealed file (`VerifiedDigest`): a check of an unchanged
/// file takes the digest from the cache; any change of the file, or a cache entry not
/// authenticated by the checking user's key, sends it back to reading the file.
final class VerifiedDigestTests: XCTestCase {
    private func sealedFile(_ key: TraceSigningKey) throws -> String {
        let directory = NSTemporaryDirectory() + "magprov-verified-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/store"
        try Data(repeating: 0x5a, count: 1 << 16).write(to: URL(fileURLWithPath: path))
        try DerivedFileSeal.seal(path: path, kind: "graph store", rootChain: "root", key: key)
        return path
    }

    func testAnUnchangedFileIsCheckedFromTheCacheAndAChangedOneIsRead() throws {
        let key = TraceSigningKey.ephemeral()
        let path = try sealedFile(key)
        let first = try DerivedFileSeal.currentDigest(path: path, cacheKey: key, settling: 0)
        XCTAssertFalse(first.cached)
        XCTAssertTrue(FileManager.default.fileExists(atPath: VerifiedDigest.cachePath(of: path)))
        let second = try DerivedFileSeal.currentDigest(path: path, cacheKey: key, settling: 0)
        XCTAssertTrue(second.cached)
        XCTAssertEqual(second.digest, first.digest)
        XCTAssertEqual(DerivedFileSeal.check(path: path, kind: "graph store", rootChain: "root", trustedKey: key.publicKeyHex,
                                             cacheKey: key).status, .holds)

        // An edit (here one byte more) changes the file's state: read again, and caught.
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data([0x5a]))
        handle.closeFile()
        let edited = try DerivedFileSeal.currentDigest(path: path, cacheKey: key, settling: 0)
        XCTAssertFalse(edited.cached)
        XCTAssertEqual(DerivedFileSeal.check(path: path, kind: "graph store", rootChain: "root", trustedKey: key.publicKeyHex,
                                             cacheKey: key).status, .fails)
    }

    func testACacheEntryWrittenWithoutTheKeyIsIgnored() throws {
        let key = TraceSigningKey.ephemeral()
        let path = try sealedFile(key)
        let sealed = try DerivedFileSeal.fileDigest(path: path)
        // Edit the file, then forge an entry that gives the edited state the sealed digest.
        try Data(repeating: 0x00, count: 1 << 16).write(to: URL(fileURLWithPath: path))
        let state = try XCTUnwrap(VerifiedDigest.FileState(path: path))
        VerifiedDigest(state: state, digest: sealed.digest, bytes: sealed.bytes, key: .ephemeral()).save(of: path)
        XCTAssertFalse(try DerivedFileSeal.currentDigest(path: path, cacheKey: key, settling: 0).cached)
        XCTAssertEqual(DerivedFileSeal.check(path: path, kind: "graph store", rootChain: "root", trustedKey: key.publicKeyHex,
                                             cacheKey: key).status, .fails)
    }

    func testAFileChangedMomentsAgoIsNotCached() throws {
        // Within a timestamp tick an edit could keep the ctime: such a state is not cached.
        let key = TraceSigningKey.ephemeral()
        let path = try sealedFile(key)
        XCTAssertFalse(try DerivedFileSeal.currentDigest(path: path, cacheKey: key).cached)
        XCTAssertFalse(FileManager.default.fileExists(atPath: VerifiedDigest.cachePath(of: path)))
        DerivedFileSeal.removeSeal(of: path)
        XCTAssertFalse(FileManager.default.fileExists(atPath: DerivedFileSeal.sealPath(of: path)))
    }
}
