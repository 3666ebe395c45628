import Foundation
import XCTest

@testable import CMOBasics
@testable import CMOScoring
@testable import CMOWriters

final class ScoringICPTests: XCTestCase {
    private func parse(_ yaml: String) throws -> ICP { try ICP.parse(yaml: yaml, source: "ICP 't.yaml'") }

    /// The problem message of a YAML that must be refused with 78.
    private func refusal(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try parse(yaml)
            XCTFail("accepted: \(yaml)", file: file, line: line)
            return ""
        } catch let e as StageFailure {
            XCTAssertEqual(e.exitStatus, .config, e.message, file: file, line: line)
            XCTAssertTrue(e.message.hasPrefix("ICP 't.yaml'"), e.message, file: file, line: line)
            return e.message
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
            return ""
        }
    }

    func testParsesFeaturesInOrderWithEveryTransform() throws {
        let icp = try parse(
            """
            decimals: 3
            as_of: 2026-12-01T00:00:00Z
            features:
              - {name: z, jq: .a, weight: 1}
              - {name: c, jq: .b, weight: 0.5, transform: {cap: 50}}
              - {name: l, jq: .c, weight: 2, transform: {log: 1000}}
              - {name: r, jq: .d, weight: -0.25, transform: {half_life_days: 7.5}}
              - {name: m, jq: '.e | .f', weight: 0, transform: {in: [Go, "yes", "1.0"]}}
            """)
        XCTAssertEqual(icp.decimals, 3)
        XCTAssertEqual(icp.asOf, 1_796_083_200)
        XCTAssertEqual(
            icp.features,
            [
                ICPFeature(name: "z", expression: ".a", weight: 1),
                ICPFeature(name: "c", expression: ".b", weight: 0.5, transform: .cap(50)),
                ICPFeature(name: "l", expression: ".c", weight: 2, transform: .log(1000)),
                ICPFeature(name: "r", expression: ".d", weight: -0.25, transform: .recency(halfLifeDays: 7.5)),
                ICPFeature(name: "m", expression: ".e | .f", weight: 0, transform: .membership(["Go", "yes", "1.0"])),
            ])
        XCTAssertEqual(try parse("as_of: '2026-12-01'\nfeatures: [{name: a, jq: .a, weight: 1}]").asOf, 1_796_083_200)
        XCTAssertNil(try parse("features: [{name: a, jq: .a, weight: 1}]").asOf)
        XCTAssertEqual(try parse("features: [{name: a, jq: .a, weight: 1}]").decimals, 4)
    }

    func testShippedExampleIsTheBuiltInProfileWithTheDesignWeights() throws {
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/icp.yaml").path
        let shipped = try ICP.load(path: examples)
        XCTAssertEqual(shipped, try ICP.builtIn())
        XCTAssertEqual(shipped.features.map(\.name), ["stars", "recency", "language", "topic", "followers"])
        XCTAssertEqual(shipped.features.map(\.weight), [0.3, 0.25, 0.2, 0.15, 0.1])
        XCTAssertEqual(
            shipped.features.map(\.expression),
            [".signals.repo_stars", ".signals.last_commit_at", ".signals.matched.languages", ".signals.matched.topics", ".followers"])
    }

    func testBadICPsAreRefusedWith78NamingTheProblem() {
        let cases: [(String, String)] = [
            ("features: [", "not valid YAML"),
            ("", "is empty"),
            ("- a\n- b", "must be a YAML mapping"),
            ("decimals: 2", "'features' is missing"),
            ("features: []", "non-empty list"),
            ("features: {stars: {jq: .a}}", "non-empty list"),
            ("featurs: []\nfeatures: [{name: a, jq: .a, weight: 1}]", "unknown key 'featurs'"),
            ("features: [{name: a, jq: .a, weight: 1, wieght: 2}]", "features[0] ('a'): unknown key 'wieght'"),
            ("features: [{jq: .a, weight: 1}]", "features[0]: 'name' must be a non-empty string"),
            ("features: [{name: a, weight: 1}]", "features[0] ('a'): 'jq' must be a jq expression"),
            ("features: [{name: a, jq: .a}]", "'weight' must be a number"),
            ("features: [{name: a, jq: .a, weight: heavy}]", "'weight' must be a number"),
            ("features: [{name: a, jq: .a, weight: .inf}]", "'weight' must be a number"),
            ("features: [{name: a, jq: .a, weight: 1}, {name: a, jq: .b, weight: 1}]", "'a' is used twice"),
            ("features: [{name: errors, jq: .a, weight: 1}]", "reserved"),
            ("features: [{name: a, jq: .a, weight: 1, transform: {sqrt: 2}}]", "unknown transform 'sqrt'"),
            ("features: [{name: a, jq: .a, weight: 1, transform: {cap: 0}}]", "'cap' needs a number more than 0"),
            ("features: [{name: a, jq: .a, weight: 1, transform: {log: -1}}]", "'log' needs a number more than 0"),
            ("features: [{name: a, jq: .a, weight: 1, transform: {half_life_days: x}}]", "'half_life_days' needs a number"),
            ("features: [{name: a, jq: .a, weight: 1, transform: {in: Go}}]", "'in' needs a list of strings"),
            ("features: [{name: a, jq: .a, weight: 1, transform: {in: [Go, 1]}}]", "'in' needs a list of strings"),
            ("features: [{name: a, jq: .a, weight: 1, transform: {cap: 1, log: 2}}]", "'transform' must be one of"),
            ("features: [{name: a, jq: .a, weight: 1, transform: log}]", "'transform' must be one of"),
            ("decimals: 12\nfeatures: [{name: a, jq: .a, weight: 1}]", "'decimals' must be a whole number from 0 to 9"),
            ("as_of: yesterday\nfeatures: [{name: a, jq: .a, weight: 1}]", "'as_of' must be an RFC 3339 time"),
        ]
        for (yaml, expected) in cases {
            let message = refusal(yaml)
            XCTAssertTrue(message.contains(expected), "\(yaml) → \(message)")
        }
    }

    func testMissingFileNamesIt() {
        XCTAssertThrowsError(try ICP.load(path: "/nonexistent/icp.yaml")) { error in
            let e = error as? StageFailure
            XCTAssertEqual(e?.exitStatus, .config)
            XCTAssertTrue(e?.message.contains("cannot read ICP '/nonexistent/icp.yaml'") ?? false, "\(error)")
        }
    }

    func testBadJQInAFeatureIsAUsageErrorNamingTheFeature() throws {
        let icp = ICP(features: [ICPFeature(name: "broken", expression: ".a |", weight: 1)])
        XCTAssertThrowsError(try Scorer(icp: icp, asOf: 0)) { error in
            let e = error as? StageFailure
            XCTAssertEqual(e?.exitStatus, .usage)
            XCTAssertTrue(e?.message.hasPrefix("feature 'broken': bad jq expression") ?? false, "\(error)")
        }
    }

    func testICPAndAsOfResolution() throws {
        let dir = NSTemporaryDirectory() + "cmo-scoring-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/one.yaml"
        try "features: [{name: one, jq: .a, weight: 1}]".write(toFile: file, atomically: true, encoding: .utf8)
        let config = dir + "/c.yaml"
        try "score-icp:\n  as_of: 2026-01-02\n  icp:\n    features: [{name: inline, jq: .b, weight: 1}]\n".write(
            toFile: config, atomically: true, encoding: .utf8)

        let bare = try Settings(stage: "score-icp", configPath: nil, environment: [:])
        XCTAssertEqual(try ICP.resolve(bare, flag: nil).0, try ICP.builtIn())
        XCTAssertEqual(try ICP.resolve(bare, flag: file).0.features.map(\.name), ["one"])
        let env = try Settings(stage: "score-icp", configPath: nil, environment: ["CMO_ICP": file, "CMO_AS_OF": "2026-03-04"])
        XCTAssertEqual(try ICP.resolve(env, flag: nil).0.features.map(\.name), ["one"])
        XCTAssertEqual(try ICP.builtIn().resolveAsOf(env, flag: nil).0, ScoreTime.parse("2026-03-04T00:00:00Z"))
        let configured = try Settings(stage: "score-icp", configPath: config, environment: ["CMO_ICP": file])
        let (inline, _) = try ICP.resolve(configured, flag: nil)
        XCTAssertEqual(inline.features.map(\.name), ["inline"])
        XCTAssertEqual(try inline.resolveAsOf(configured, flag: nil).0, ScoreTime.parse("2026-01-02"))
        XCTAssertEqual(try inline.resolveAsOf(configured, flag: "2026-02-01").0, ScoreTime.parse("2026-02-01"))
        XCTAssertEqual(try ICP.resolve(configured, flag: file).0.features.map(\.name), ["one"], "the flag wins")

        let pinned = ICP(features: [], asOf: 42)
        XCTAssertEqual(try pinned.resolveAsOf(bare, flag: nil).0, 42)
        let now = Date(timeIntervalSince1970: 1_796_083_200 + 3_700)
        XCTAssertEqual(try ICP(features: []).resolveAsOf(bare, flag: nil, now: now).0, 1_796_083_200, "default: start of today, UTC")
        let badEnv = try Settings(stage: "score-icp", configPath: nil, environment: ["CMO_AS_OF": "soon"])
        XCTAssertThrowsError(try pinned.resolveAsOf(badEnv, flag: nil)) { XCTAssertEqual(($0 as? StageFailure)?.exitStatus, .config) }
    }

    func testScoreTimeParsesRFC3339AndDates() {
        XCTAssertEqual(ScoreTime.parse("1970-01-01"), 0)
        XCTAssertEqual(ScoreTime.parse("2026-12-01T00:00:00Z"), 1_796_083_200)
        XCTAssertEqual(ScoreTime.parse("2026-11-08T17:27:43Z"), 1_794_158_863)
        XCTAssertEqual(ScoreTime.parse("2026-11-08T19:27:43+02:00"), 1_794_158_863)
        XCTAssertEqual(ScoreTime.parse("2026-11-08t17:27:43.5z"), 1_794_158_863.5)
        XCTAssertEqual(ScoreTime.parse("2024-02-29"), 1_709_164_800)
        for bad in [
            "", "2026", "2026-13-01", "2026-02-30", "2025-02-29", "2026-11-08T17:27Z", "2026-11-08T17:27:43", "2026-11-08T25:00:00Z",
            "2026-11-08T17:27:43+0200", "2026-11-08T17:27:43Zjunk", "2026-11-08T17:27:43.Z", " 2026-11-08",
        ] {
            XCTAssertNil(ScoreTime.parse(bad), bad)
        }
        XCTAssertEqual(ScoreTime.format(1_794_158_863.9), "2026-11-08T17:27:43Z")
        XCTAssertEqual(ScoreTime.format(-1), "1969-12-31T23:59:59Z")
        // Agrees with Foundation on a spread of days.
        let iso = ISO8601DateFormatter()
        for t in stride(from: -2_000_000_000.0, to: 4_000_000_000, by: 86_400 * 97 + 3_601) {
            let text = iso.string(from: Date(timeIntervalSince1970: t))
            XCTAssertEqual(ScoreTime.parse(text), t, text)
            XCTAssertEqual(ScoreTime.format(t), text)
        }
    }
}
