@testable import CMOAgent
import Foundation
import XCTest

/// A stage's tool schema comes from its own `--experimental-dump-help`, hides what the runner controls, and
/// turns a model's arguments into the stage's flags or a reason to refuse them; the runner's rails hold.
final class StageToolTests: XCTestCase {
    static let dumpHelp = """
        {"command":{"commandName":"gh-search","abstract":"Find GitHub repositories.","arguments":[
        {"kind":"option","names":[{"kind":"long","name":"config"}],"valueName":"file","isRepeating":false,"abstract":"Settings."},
        {"kind":"option","names":[{"kind":"long","name":"dead-letter"}],"valueName":"file","isRepeating":false,"abstract":"x"},
        {"kind":"flag","names":[{"kind":"long","name":"quiet"},{"kind":"short","name":"q"}],"valueName":"quiet","isRepeating":false,"abstract":"x"},
        {"kind":"option","names":[{"kind":"long","name":"language"}],"valueName":"name","isRepeating":false,"abstract":"Primary language."},
        {"kind":"option","names":[{"kind":"long","name":"topic"}],"valueName":"name","isRepeating":true,"abstract":"A topic."},
        {"kind":"option","names":[{"kind":"long","name":"min-stars"}],"valueName":"n","isRepeating":false,"abstract":"Stars."},
        {"kind":"option","names":[{"kind":"long","name":"sort"}],"valueName":"order","isRepeating":false,"allValues":["stars","updated"],"abstract":"Order."},
        {"kind":"option","names":[{"kind":"long","name":"now"}],"valueName":"time","isRepeating":false,"abstract":"Clock."},
        {"kind":"positional","names":[],"valueName":"x","isRepeating":false,"abstract":"x"}]}}
        """

    func tool() throws -> StageTool { try StageTool.parse(stage: "gh-search", dumpHelp: Data(Self.dumpHelp.utf8)) }

    func testTheSchemaHasTheStagesOwnOptionsAndNotTheRunnersOnes() throws {
        let t = try tool()
        XCTAssertEqual(t.name, "gh_search")
        XCTAssertEqual(t.options.map(\.name), ["language", "topic", "min-stars", "sort"])
        let f = try XCTUnwrap(t.schema["function"] as? [String: Any])
        let props = try XCTUnwrap((f["parameters"] as? [String: Any])?["properties"] as? [String: Any])
        XCTAssertEqual((props["min_stars"] as? [String: Any])?["type"] as? String, "integer")
        XCTAssertEqual((props["topic"] as? [String: Any])?["type"] as? String, "array")
        XCTAssertEqual((props["sort"] as? [String: Any])?["enum"] as? [String], ["stars", "updated"])
        XCTAssertNil(props["config"])
        XCTAssertNil(props["now"])
    }

    func testArgumentsBecomeFlagsOrARefusalWithTheReason() throws {
        let t = try tool()
        XCTAssertEqual(try t.arguments(["language": "python", "min_stars": 5, "topic": ["cli", "web"]]),
                       ["--language", "python", "--min-stars", "5", "--topic", "cli", "--topic", "web"])
        XCTAssertEqual(try t.arguments(["min_stars": 5.0, "topic": "cli"]), ["--min-stars", "5", "--topic", "cli"])
        for bad: [String: Any] in [["config": "/etc/passwd"], ["min_stars": "many"], ["min_stars": true], ["sort": "random"], ["language": "a\nb" + String(repeating: "x", count: 300)]] {
            XCTAssertThrowsError(try t.arguments(bad), "\(bad)")
        }
        XCTAssertThrowsError(try t.arguments(["where": "true"])) { XCTAssertTrue("\($0)".contains("has no argument 'where'")) }
    }

    func testTheModelsOptionsReplaceTheRulesOptionByOptionAndCapsClamp() {
        // Typed invocations, compared as the argv they are spawned with.
        func overlay(base: [String], given: [String]) -> [String] {
            StageInvocation(stage: "s", argv: base).overlaid(with: StageInvocation(stage: "s", argv: given).options).arguments
        }
        func clamp(_ args: [String], _ flag: String, floor: Int, cap: Int) -> [String] {
            var s = StageInvocation(stage: "s", argv: args)
            s.clamp(String(flag.dropFirst(2)), floor: floor, cap: cap)
            return s.arguments
        }
        let base = ["--language", "python", "--active-days", "90", "--max-repos", "900", "--now", "T"]
        XCTAssertEqual(overlay(base: base, given: ["--active-days", "180", "--max-repos", "99999"]),
                       ["--language", "python", "--now", "T", "--active-days", "180", "--max-repos", "99999"])
        XCTAssertEqual(clamp(["--max-repos", "99999"], "--max-repos", floor: 900, cap: 3600), ["--max-repos", "3600"])
        XCTAssertEqual(clamp(["--max-repos", "20"], "--max-repos", floor: 900, cap: 3600), ["--max-repos", "900"])
        XCTAssertEqual(overlay(base: ["--require-unsubscribe"], given: ["--llm"]), ["--require-unsubscribe", "--llm"])
    }

    func testAWriterMayWriteOnlyToTheJobsTarget() throws {
        let runs = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("stagetool-\(getpid())")
        let dir = RunDirectory(runs: runs, jobID: "t")
        try dir.create()
        defer { try? FileManager.default.removeItem(at: runs) }
        var job = Job()
        job.target = 10
        job.instantlyCampaign = "C1"
        let plan = RulePlanner.plan(job, options: RunOptions(config: nil, now: nil, jobID: "t", dryRun: false),
                                    yields: RulePlanner.yields(stateDirectory: nil))
        let runner = Runner(dir: dir, state: RunState(jobID: "t", goal: nil, job: job, plan: plan, createdAt: "", updatedAt: ""), options: .init())
        XCTAssertNoThrow(try runner.checkTargets("send-instantly", ["campaign": "C1"]))
        XCTAssertThrowsError(try runner.checkTargets("send-instantly", ["campaign": "C2"]))
        XCTAssertThrowsError(try runner.checkTargets("sync-attio", ["list": "L"]), "the job names no list")
        XCTAssertThrowsError(try runner.checkOrder("send-instantly"), "nothing rendered yet")
        XCTAssertThrowsError(try runner.checkOrder("gh-people"), "no search yet")
        XCTAssertNoThrow(try runner.checkOrder("gh-search"))
    }
}
