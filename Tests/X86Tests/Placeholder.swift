import XCTest
final class X86TestsPlaceholder: XCTestCase { func testBuilds() {} }
