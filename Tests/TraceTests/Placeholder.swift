import XCTest
final class TraceTestsPlaceholder: XCTestCase { func testBuilds() {} }
