// ShadowRegisters: one label per register-file byte, save and restore for thread switches.
@testable import Taint
import X86
import XCTest

final class ShadowRegistersTests: XCTestCase {
    func testSaveRestoreAndClear() {
        let registers = ShadowRegisters()
        XCTAssertEqual(registers.count, RegisterFile.size)
        XCTAssertTrue(registers.isClear)
        registers[8] = 3
        registers[Int(RegisterFile.flags)] = 4
        let saved = registers.save()
        registers.clear(offset: 0, size: registers.count)
        XCTAssertTrue(registers.isClear)
        registers.restore(saved)
        XCTAssertEqual(registers[8], 3)
        XCTAssertEqual(registers[Int(RegisterFile.flags)], 4)
        registers[100_000] = 9  // outside the file: ignored
        XCTAssertEqual(registers[100_000], 0)
        registers.clear(offset: 4, size: 8)
        XCTAssertEqual(registers[8], 0)
    }
}
