import Trace
import XCTest

/// Decoding of the register forms of rdrand, rdseed and rdpid (Intel SDM Vol. 2B) and
/// their effects, shared by the recorder and the replayer.
final class NondeterministicInstructionTests: XCTestCase {
    func testEncodingsDecode() throws {
        let rdrand = try XCTUnwrap(NondeterministicInstruction(bytes: [0x0F, 0xC7, 0xF0, 0xC3]))
        XCTAssertEqual([rdrand.kind == .rdrand ? 1 : 0, rdrand.register, rdrand.size, rdrand.length], [1, 0, 4, 3])
        XCTAssertEqual(rdrand.text, "rdrand eax")
        let rdseed = try XCTUnwrap(NondeterministicInstruction(bytes: [0x48, 0x0F, 0xC7, 0xF8]))
        XCTAssertEqual(rdseed.text, "rdseed rax")
        XCTAssertEqual(rdseed.length, 4)
        let narrow = try XCTUnwrap(NondeterministicInstruction(bytes: [0x66, 0x41, 0x0F, 0xC7, 0xF1]))
        XCTAssertEqual(narrow.text, "rdrand r9w")
        XCTAssertEqual(narrow.length, 5)
        let rdpid = try XCTUnwrap(NondeterministicInstruction(bytes: [0xF3, 0x41, 0x0F, 0xC7, 0xFB]))
        XCTAssertEqual(rdpid.text, "rdpid r11")
        XCTAssertEqual(rdpid.size, 8)
    }

    func testOtherFormsOf0FC7AreNotTaken() {
        XCTAssertNil(NondeterministicInstruction(bytes: [0x0F, 0xC7, 0x08]))        // cmpxchg8b [rax]
        XCTAssertNil(NondeterministicInstruction(bytes: [0x48, 0x0F, 0xC7, 0x0F]))  // cmpxchg16b [rdi]
        XCTAssertNil(NondeterministicInstruction(bytes: [0xF3, 0x0F, 0xC7, 0xF0]))  // F3 /6: not rdpid
        XCTAssertNil(NondeterministicInstruction(bytes: [0x0F, 0xC7]))
    }

    func testResultsAndFlags() throws {
        let narrow = try XCTUnwrap(NondeterministicInstruction(bytes: [0x66, 0x0F, 0xC7, 0xF0]))
        XCTAssertEqual(narrow.registerValue(old: 0x1111_2222_3333_4444, result: 0xBEEF), 0x1111_2222_3333_BEEF)
        let wide = try XCTUnwrap(NondeterministicInstruction(bytes: [0x0F, 0xC7, 0xF0]))
        XCTAssertEqual(wide.registerValue(old: 0x1111_2222_3333_4444, result: 0xDEAD_BEEF), 0xDEAD_BEEF)
        // CF from the carry; OF SF ZF AF PF cleared; other bits kept.
        XCTAssertEqual(wide.flags(old: 0x202 | 0x8D4, carry: true), 0x203)
        XCTAssertEqual(wide.flags(old: 0x203, carry: false), 0x202)
        let rdpid = try XCTUnwrap(NondeterministicInstruction(bytes: [0xF3, 0x0F, 0xC7, 0xF8]))
        XCTAssertEqual(rdpid.flags(old: 0x2C3, carry: false), 0x2C3)
    }
}
