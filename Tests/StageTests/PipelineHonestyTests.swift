import CMOTestSupport
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// The demo and the sandbox behave like other Unix tools (help, usage, version). What discover.sh's
/// own orchestration used to check (the last good CSV, the dead-letter share, warnings under -q, a
/// refused campaign) is cmo-plan's now: CMOPlanHonestyTests.
final class PipelineHonestyTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    func testDemoHelpAndUsage() throws {
        let help = try Spawn.run("/bin/bash", [Self.root + "/pipelines/demo.sh", "--help"])
        XCTAssertEqual(help.status, 0, help.err)
        XCTAssertTrue(help.out.contains("OUT_DIR") && help.err.isEmpty, help.out)
        let bad = try Spawn.run("/bin/bash", [Self.root + "/pipelines/demo.sh", "--nope"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.err.contains("usage: pipelines/demo.sh"), bad.err)
    }

    func testSandboxVersion() throws {
        let r = try Spawn.run("cmo-sandbox", ["--version"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertFalse(r.out.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }
}
