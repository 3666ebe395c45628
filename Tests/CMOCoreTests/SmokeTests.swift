import XCTest
@testable import CMOCore
final class SmokeTests: XCTestCase { func testVersion() { XCTAssertFalse(CMOVersion.string.isEmpty) } }
