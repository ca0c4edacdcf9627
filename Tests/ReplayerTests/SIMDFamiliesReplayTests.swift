import FixtureSupport
import Foundation
import XCTest

/// The MMX and AVX2 families of issue 9 in a real program: a C program using the MMX forms
/// (on mm registers), the SSSE3/SSE3/SSE4.1 additions, AVX2 permutes, variable shifts,
/// masked moves, tests, gathers and FMA is run natively, recorded, and replays with zero
/// divergence, plainly and under taint (`ReplayTests.assertReplays`).
extension ReplayTests {
    func testMMXAndAVX2FamiliesReplay() throws {
        let program = try FixtureCompiler.build("recorder/simd_families.c", flags: ["-O1", "-mavx2", "-mfma", "-mmmx", "-mssse3"])
        let native = try runNatively([program])
        XCTAssertEqual(native.split(separator: "\n").count, 6, native)
        XCTAssertTrue(native.hasPrefix("mmx "), native)
        try assertReplays(["sh", "-c", "\(program) > /dev/null"])
    }
}
