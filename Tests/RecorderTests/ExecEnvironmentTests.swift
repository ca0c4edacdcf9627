@testable import Recorder
import XCTest

/// How the entries every program image must have (the feature mask, the preload library)
/// join an environment that already has a value for them.
final class ExecEnvironmentTests: XCTestCase {
    func testMissingEntriesAreAdded() {
        let required = RequiredEnvironmentEntry.featureMask + [.preload("/lib/buffer.so")]
        let result = RequiredEnvironmentEntry.apply(required, to: ["PATH=/bin"])
        XCTAssertEqual(result.first, "PATH=/bin")
        XCTAssertEqual(Set(result.dropFirst()), Set(MachineInfo.featureMask + ["LD_PRELOAD=/lib/buffer.so"]))
    }

    func testPreloadGoesFirstAndIsNotRepeated() {
        let preload = RequiredEnvironmentEntry.preload("/lib/buffer.so")
        XCTAssertEqual(RequiredEnvironmentEntry.apply([preload], to: ["LD_PRELOAD=/lib/other.so"]),
                       ["LD_PRELOAD=/lib/buffer.so:/lib/other.so"])
        XCTAssertNil(preload.merged(with: Array("LD_PRELOAD=/lib/other.so:/lib/buffer.so".utf8)))
    }

    /// glibc applies tunables left to right: the program's own settings stay, the mask's
    /// hwcaps come last so that they win.
    func testTunablesKeepTheProgramsOwnSettingsAndEndWithTheMask() throws {
        let tunables = try XCTUnwrap(RequiredEnvironmentEntry.featureMask.first { $0.name == "GLIBC_TUNABLES" })
        let merged = RequiredEnvironmentEntry.apply([tunables], to: ["GLIBC_TUNABLES=glibc.malloc.check=0"])
        XCTAssertEqual(merged, ["GLIBC_TUNABLES=glibc.malloc.check=0:" + tunables.value])
        XCTAssertNil(tunables.merged(with: Array(merged[0].utf8)), "already masked: left alone")
    }

    func testReplacedEntryIsReplaced() throws {
        let openssl = try XCTUnwrap(RequiredEnvironmentEntry.featureMask.first { $0.name == "OPENSSL_ia32cap" })
        XCTAssertEqual(RequiredEnvironmentEntry.apply([openssl], to: ["OPENSSL_ia32cap=0"]), ["OPENSSL_ia32cap=" + openssl.value])
    }
}
