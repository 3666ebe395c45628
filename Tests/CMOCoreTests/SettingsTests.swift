import Foundation
import XCTest

@testable import CMOBasics
@testable import CMOScoring
@testable import CMOWriters

final class SettingsTests: XCTestCase {
    private func config(_ yaml: String) throws -> String {
        let path = NSTemporaryDirectory() + "cmo-settings-\(UUID().uuidString).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testPrecedenceFlagConfigEnvDefault() throws {
        let path = try config("max-errors: 5\nexport-csv:\n  columns: [a, b.c]\nnewline: lf\n")
        let s = try Settings(stage: "export-csv", configPath: path, environment: ["CMO_MAX_ERRORS": "9", "CMO_X": "7"])
        XCTAssertEqual(try s.resolve("max-errors", flag: 1, env: "CMO_MAX_ERRORS", default: 0), 1)
        XCTAssertEqual(try s.resolve("max-errors", flag: nil as Int?, env: "CMO_MAX_ERRORS", default: 0), 5)
        XCTAssertEqual(try s.resolve("x", flag: nil as Int?, env: "CMO_X", default: 0), 7)
        XCTAssertEqual(try s.resolve("y", flag: nil as Int?, env: "CMO_Y", default: 3), 3)
        XCTAssertEqual(try s.resolve("columns", flag: nil as [String]?), ["a", "b.c"])
        let listing = s.describe()
        XCTAssertTrue(listing.contains("columns    = a,b.c  (config)"), listing)
        XCTAssertTrue(listing.contains("(default)"), listing)
    }

    func testSecretsAreMasked() throws {
        let s = try Settings(stage: "x", configPath: nil, environment: ["GITHUB_TOKEN": "ghp_supersecret"])
        XCTAssertEqual(s.secret("GITHUB_TOKEN"), "ghp_supersecret")
        XCTAssertFalse(s.describe().contains("supersecret"))
        XCTAssertTrue(s.describe().contains("masked"))
    }

    func testBadYAMLAndBadTypesAreConfigErrors() throws {
        let bad = try config("a: [unclosed\n")
        XCTAssertThrowsError(try Settings(stage: "x", configPath: bad)) { XCTAssertEqual(($0 as? StageFailure)?.exitStatus, .config) }
        XCTAssertThrowsError(try Settings(stage: "x", configPath: "/nonexistent/cfg.yaml")) {
            XCTAssertEqual(($0 as? StageFailure)?.exitStatus, .config)
        }
        let list = try config("- a\n- b\n")
        XCTAssertThrowsError(try Settings(stage: "x", configPath: list))
        let typed = try Settings(stage: "x", configPath: try config("max-errors: lots\n"))
        XCTAssertThrowsError(try typed.resolve("max-errors", flag: nil as Int?, default: 0)) {
            XCTAssertEqual(($0 as? StageFailure)?.exitStatus, .config)
        }
    }
}
