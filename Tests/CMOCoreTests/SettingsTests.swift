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

    /// The campaign file every stage reads has a `campaign:` section (render-copy's data): send-instantly's
    /// `campaign` option does not read it as its value. A wrong type in the stage's own section names the key
    /// and what it must be, never a Swift dictionary.
    func testATopLevelSectionIsNotAnOptionsValue() throws {
        let path = try config("campaign:\n  sender_name: Maya\n  unsubscribe_url: https://x.example/u\nmax-errors: 3\nsend-instantly:\n  batch-size: 10\n")
        let s = try Settings(stage: "send-instantly", configPath: path, environment: ["CMO_INSTANTLY_CAMPAIGN": "c-1"])
        XCTAssertEqual(try s.resolve("campaign", flag: nil as String?, env: "CMO_INSTANTLY_CAMPAIGN"), "c-1", "the environment, not the section")
        XCTAssertNil(try Settings(stage: "send-instantly", configPath: path, environment: [:]).resolve("campaign", flag: nil as String?))
        XCTAssertEqual(try s.resolve("max-errors", flag: nil as Int?), 3)
        XCTAssertEqual(try s.resolve("batch-size", flag: nil as Int?), 10)
        XCTAssertNotNil(s.configValue("campaign") as? [String: Any], "the section is still there for who reads it as data")
        XCTAssertEqual(try s.resolvePath("campaign", flag: nil), nil)

        for (yaml, expected) in [
            ("send-instantly:\n  campaign: {id: x, name: y}\n", "'send-instantly' section, 'campaign' must be a string, not a mapping (id, name)"),
            ("send-instantly:\n  batch-size: [1, 2]\n", "'batch-size' must be a whole number, not a list of 2"),
            ("batch-size: many\n", "'batch-size' must be a whole number, not 'many'"),
        ] {
            let bad = try Settings(stage: "send-instantly", configPath: try config(yaml))
            let resolve: () throws -> Void = yaml.contains("campaign")
                ? { _ = try bad.resolve("campaign", flag: nil as String?) } : { _ = try bad.resolve("batch-size", flag: nil as Int?) }
            XCTAssertThrowsError(try resolve()) { error in
                let message = "\(error)"
                XCTAssertEqual((error as? StageFailure)?.exitStatus, .config)
                XCTAssertTrue(message.contains(expected), message)
                XCTAssertFalse(message.contains("AnyHashable"), message)
            }
        }
        let kinds = try Settings(stage: "x", configPath: try config("log-format: {a: 1}\nx:\n  log-format: xml\n"))
        XCTAssertThrowsError(try kinds.resolve("log-format", flag: nil as LogFormat?)) { XCTAssertTrue("\($0)".contains("must be one of text, json, not 'xml'"), "\($0)") }
    }

    /// The team database may be named in the config (without its password), and the environment wins.
    func testTheConfigsDatabaseURLReachesTheStoresButNeverWithAPassword() throws {
        let path = try config("database-url: postgres://cmo@db.team:5432/outbound\n")
        let s = try Settings(stage: "send-instantly", configPath: path, environment: ["HOME": "/tmp"])
        XCTAssertEqual(s.environment["CMO_DATABASE_URL"], "postgres://cmo@db.team:5432/outbound")
        XCTAssertEqual(s.entries.first { $0.key == "database-url" }?.source, .config)
        let env = try Settings(stage: "send-instantly", configPath: path, environment: ["CMO_DATABASE_URL": "postgres://me@other/db"])
        XCTAssertEqual(env.environment["CMO_DATABASE_URL"], "postgres://me@other/db", "the environment wins")
        XCTAssertThrowsError(try Settings(stage: "x", configPath: try config("database_url: postgres://cmo:hunter2@db/x\n"))) { error in
            XCTAssertEqual((error as? StageFailure)?.exitStatus, .config)
            XCTAssertFalse("\(error)".contains("hunter2"))
            XCTAssertTrue("\(error)".contains("CMO_DATABASE_PASSWORD"))
        }
    }
}
