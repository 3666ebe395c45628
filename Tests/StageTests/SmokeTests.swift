import XCTest
@testable import CMOCore
final class StageSmokeTests: XCTestCase { func testVersion() { XCTAssertFalse(CMOVersion.string.isEmpty) } }
