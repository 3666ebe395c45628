import CMOTestSupport
import Foundation
import XCTest

/// `--parser model` against the sandbox's scripted parsers: a competent one reads the goal into the same
/// job as the rule parser; broken arguments get one retry; a made-up id, an unknown field, prose and an
/// endpoint that never answers end with the rule parser's job and a line on stderr that says why.
final class CMOPlanParserModelTests: XCTestCase {
    static let goal = "Find ~2k Python maintainers active in the last 90 days with 500+ stars, queue them in Instantly campaign 123, add them to Attio list abc, export a CSV"

    func parse(_ s: SandboxLauncher?, _ model: String, _ goal: String = goal, env extra: [String: String] = [:]) throws -> SpawnResult {
        var env = s?.environment ?? [:]
        for (k, v) in extra { env[k] = v }
        return try Spawn.run("cmo-plan", ["parse", "--parser", "model", "--parser-model", model, goal], environment: env)
    }

    func job(_ r: SpawnResult) throws -> [String: Any] { try XCTUnwrap(JSONSerialization.jsonObject(with: r.stdout) as? [String: Any], r.err) }

    func ruleJob(_ goal: String = goal) throws -> NSDictionary {
        let r = try Spawn.run("cmo-plan", ["parse", goal])
        XCTAssertEqual(r.status, 0, r.err)
        return try job(r) as NSDictionary
    }

    func testAModelReadsTheGoalIntoTheRuleParsersJobAndMisbehavingOnesFallBack() throws {
        let s = try SandboxLauncher(["--repos", "20", "--users", "20"])
        defer { s.stop() }
        let rule = try ruleJob()
        XCTAssertEqual(rule["target"] as? Int, 2000)
        XCTAssertEqual(rule["min_stars"] as? Int, 500)

        let good = try parse(s, "cmo-parser")
        XCTAssertEqual(good.status, 0, good.err)
        XCTAssertEqual(try job(good) as NSDictionary, rule, good.out)
        XCTAssertFalse(good.err.contains("rule parser"), good.err)

        // Broken JSON, then (told what was wrong) a good call: the model's job, no fallback.
        let malformed = try parse(s, "cmo-parser-malformed")
        XCTAssertEqual(malformed.status, 0, malformed.err)
        XCTAssertEqual(try job(malformed) as NSDictionary, rule)
        XCTAssertFalse(malformed.err.contains("rule parser"), malformed.err)

        for (model, why) in [("cmo-parser-invented", "cmo-parser-invented's answer was refused: instantly_campaign 'cmp_8f3a2c' is not in the goal"), ("cmo-parser-chatty", "answered in prose"),
                             ("cmo-planner-quota", "could not be asked")] {
            let r = try parse(s, model)
            XCTAssertEqual(r.status, 0, "\(model): \(r.err)")
            XCTAssertEqual(try job(r) as NSDictionary, rule, model)
            XCTAssertTrue(r.err.contains(why), "\(model): \(r.err)")
            XCTAssertTrue(r.err.contains("the rule parser read the goal instead"), "\(model): \(r.err)")
        }
    }

    func testNoEndpointFallsBackAndNoModelIsAConfigError() throws {
        let r = try parse(nil, "cmo-parser", env: ["OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "k", "CMO_HTTP_MAX_WAIT": "1"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try job(r) as NSDictionary, try ruleJob())
        XCTAssertTrue(r.err.contains("could not be asked"), r.err)
        let none = try Spawn.run("cmo-plan", ["parse", "--parser", "model", Self.goal])
        XCTAssertEqual(none.status, 78, none.err)
        XCTAssertTrue(none.err.contains("--parser-model"), none.err)
        XCTAssertEqual(try Spawn.run("cmo-plan", ["parse", "--parser", "magic", Self.goal]).status, 64)
    }

    func testARunRecordsWhoReadTheGoal() throws {
        let s = try SandboxLauncher(["--repos", "20", "--users", "20"])
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        var env = s.environment
        env["CMO_STATE_DIR"] = dir + "/state"
        env["CMO_PARSER"] = "model"
        env["CMO_PARSER_MODEL"] = "cmo-parser-invented"
        let r = try Spawn.run("cmo-plan", ["plan", "--json", "Find 20 Go maintainers, export a CSV"], environment: env)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("the rule parser read the goal instead"), r.err)
        env["CMO_PARSER_MODEL"] = "cmo-parser"
        let run = try Spawn.run(
            "cmo-plan", ["run", "--dry-run", "--runs-dir", dir + "/runs", "--job-id", "p1", "--stage", "gh-search=cat /dev/null", "Find 20 Go maintainers, export a CSV"],
            environment: env)
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/runs/p1/state.json"))
        let st = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], run.err)
        XCTAssertEqual(st["parser"] as? String, "model cmo-parser", run.err)
        XCTAssertNil(st["parser_fallback"])
        XCTAssertEqual((st["job"] as? [String: Any])?["languages"] as? [String], ["go"])
    }
}
