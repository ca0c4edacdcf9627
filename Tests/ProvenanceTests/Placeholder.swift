import XCTest
final class ProvenanceTestsPlaceholder: XCTestCase { func testBuilds() {} }
