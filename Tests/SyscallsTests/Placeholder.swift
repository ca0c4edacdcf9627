import XCTest
final class SyscallsTestsPlaceholder: XCTestCase { func testBuilds() {} }
