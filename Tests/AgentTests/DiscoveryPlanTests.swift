@testable import CMOAgent
import Foundation
import XCTest

/// The discovery pass the rule planner makes for several languages, what the model planner is told about
/// gh-search's languages, and the report's short title from the job.
final class DiscoveryPlanTests: XCTestCase {
    func plan(_ job: Job) -> Plan {
        RulePlanner.plan(job, options: RunOptions(config: nil, now: "2026-11-20T00:00:00Z", jobID: "j", dryRun: false),
                         yields: RulePlanner.yields(stateDirectory: nil))
    }

    /// One --language per language, never `--query "language:rust language:go"` (which GitHub and the sandbox read as AND).
    func testSeveralLanguagesAreOneLanguageFlagEach() throws {
        var job = Job()
        job.target = 100
        job.languages = ["rust", "go"]
        job.topics = ["cli"]
        let search = try XCTUnwrap(plan(job).planned("gh-search"))
        XCTAssertEqual(search.texts("language"), ["rust", "go"])
        XCTAssertFalse(search.has("query"), "\(search.arguments)")
        XCTAssertEqual(Array(search.arguments.prefix(6)), ["--language", "rust", "--language", "go", "--topic", "cli"])
        // score-icp is told the same languages.
        XCTAssertEqual(try XCTUnwrap(plan(job).planned("score-icp")).texts("language"), ["rust", "go"])

        job.languages = ["python"]
        XCTAssertEqual(try XCTUnwrap(plan(job).planned("gh-search")).texts("language"), ["python"])
        job.languages = nil
        let none = try XCTUnwrap(plan(job).planned("gh-search"))
        XCTAssertFalse(none.has("language") || none.has("query"), "\(none.arguments)")
    }

    /// gh-search's --language is repeatable (as its --experimental-dump-help says): the model is offered a list,
    /// a list becomes one flag per language, and the tool's description says not to put languages in the query.
    func testTheModelIsOfferedALanguageList() throws {
        let help = """
            {"command":{"commandName":"gh-search","abstract":"Find GitHub repositories.","arguments":[
            {"kind":"option","names":[{"kind":"long","name":"query"}],"valueName":"q","isRepeating":false,"abstract":"Search."},
            {"kind":"option","names":[{"kind":"long","name":"language"}],"valueName":"name","isRepeating":true,"abstract":"Primary language (repeatable: one search per language, merged; adds language:NAME)."}]}}
            """
        let tool = try StageTool.parse(stage: "gh-search", dumpHelp: Data(help.utf8))
        let f = try XCTUnwrap(tool.schema["function"] as? [String: Any])
        let props = try XCTUnwrap((f["parameters"] as? [String: Any])?["properties"] as? [String: Any])
        XCTAssertEqual((props["language"] as? [String: Any])?["type"] as? String, "array")
        XCTAssertEqual(try tool.arguments(["language": ["rust", "go"]]), ["--language", "rust", "--language", "go"])
        XCTAssertTrue((f["description"] as? String ?? "").contains("never as language: words in query"), "\(f)")
        // The model's list replaces the plan's languages as a whole.
        var base = StageInvocation("gh-search")
        base.set("language", texts: ["rust", "go"])
        XCTAssertEqual(base.overlaid(with: try tool.options(["language": ["python"]])).texts("language"), ["python"])
    }

    func testTheReportTitleIsShortAndFromTheJob() {
        var job = Job()
        job.target = 200
        job.languages = ["python"]
        job.activeDays = 90
        XCTAssertEqual(RunReport.title(job: job, plan: plan(job)), "200 Python leads, last 90 days")
        job.target = 1500
        job.languages = ["go", "rust", "javascript"]
        job.topics = ["cli"]
        job.minStars = 100
        job.activeDays = 30
        job.dryRun = true
        XCTAssertEqual(RunReport.title(job: job, plan: plan(job)), "1,500 Go, Rust and JavaScript leads on cli, 100+ stars, last 30 days (dry run)")
        XCTAssertEqual(RunReport.title(job: Job(), plan: plan(Job())), "200 leads, last 90 days")
    }
}
