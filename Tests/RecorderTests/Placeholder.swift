import XCTest
final class RecorderTestsPlaceholder: XCTestCase { func testBuilds() {} }
