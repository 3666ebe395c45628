import XCTest

@testable import CMOSandbox

final class SandboxStatsTests: XCTestCase {
    func testDuplicateWriteIsCounted() {
        let s = SandboxStats()
        XCTAssertFalse(s.recordWrite(service: "attio", kind: "note", key: "r1 hello", payload: [:]))
        XCTAssertTrue(s.recordWrite(service: "attio", kind: "note", key: "r1 hello", payload: [:]))
        XCTAssertEqual(s.snapshot()["duplicates_total"] as? Int, 1)
    }
}
