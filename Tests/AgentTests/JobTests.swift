import CMOAgent
import Foundation
import XCTest

/// The rule parser on goals as people write them, the job's JSON, job files, and the rule planner.
final class JobTests: XCTestCase {
    func job(_ goal: String) -> Job { GoalParser.parse(goal, now: Date(timeIntervalSince1970: 1_780_000_000)).job }

    func testTheIssuesExample() {
        let j = job("Find ~2k Python maintainers active in the last 90 days, queue them in Instantly campaign 123, add them to Attio list abc, export a CSV")
        XCTAssertEqual(j.target, 2000)
        XCTAssertEqual(j.languages, ["python"])
        XCTAssertEqual(j.activeDays, 90)
        XCTAssertEqual(j.instantlyCampaign, "123")
        XCTAssertEqual(j.attioList, "abc")
        XCTAssertEqual(j.export, true)
        XCTAssertNil(j.dryRun)
        XCTAssertEqual(j.json(), #"{"target":2000,"languages":["python"],"active_days":90,"instantly_campaign":"123","attio_list":"abc","export":true}"#)
    }

    func testCountsLanguagesWindowsAndWriters() {
        XCTAssertEqual(job("2,000 Go devs").target, 2000)
        XCTAssertEqual(job("1.5k TS developers").target, 1500)
        XCTAssertEqual(job("1.5k TS developers").languages, ["typescript"])
        XCTAssertEqual(job("500 golang and JS maintainers").languages, ["go", "javascript"])
        XCTAssertEqual(job("Swift and Kotlin maintainers").languages, ["swift", "kotlin"])
        XCTAssertEqual(job("300 C++ maintainers").languages, ["c++"])
        XCTAssertNil(job("go find 300 Rust maintainers").languages?.first { $0 == "go" })
        XCTAssertEqual(job("Py devs active 90d").activeDays, 90)
        XCTAssertEqual(job("Py devs from the past 3 months").activeDays, 90)
        XCTAssertEqual(job("Py devs, last 6 months").activeDays, 180)
        XCTAssertEqual(job("Py devs with 500+ stars").minStars, 500)
        XCTAssertEqual(job("queue them seq=123 list=abc").instantlyCampaign, "123")
        XCTAssertEqual(job("queue them seq=123 list=abc").attioList, "abc")
        XCTAssertEqual(job("sequence 77").instantlyCampaign, "77")
        XCTAssertEqual(job("Linear team ENG").linearTeam, "ENG")
        XCTAssertEqual(job("dry run please").dryRun, true)
        XCTAssertEqual(job("do not send anything").dryRun, true)
        XCTAssertEqual(job("export only").dryRun, true)
        XCTAssertEqual(job("export only").export, true)
        let thisYear = job("Ruby maintainers active this year").activeDays ?? 0
        XCTAssertGreaterThan(thisYear, 0)
        XCTAssertLessThanOrEqual(thisYear, 366)
    }

    func testWordsNotUnderstoodAreReported() {
        XCTAssertEqual(GoalParser.parse("Find 2k Python maintainers in Berlin").unknown, ["Berlin"])
    }

    func testJobFile() throws {
        let j = try Job.load(yaml: "target: 2k\nlanguages: [Py, golang]\ninstantly_campaign: 123\ndry_run: true\n")
        XCTAssertEqual(j.target, 2000)
        XCTAssertEqual(j.languages, ["python", "go"])
        XCTAssertEqual(j.instantlyCampaign, "123")
        XCTAssertEqual(j.dryRun, true)
        XCTAssertThrowsError(try Job.load(yaml: "target: 5\nsequence: 1\n")) { XCTAssertTrue("\($0)".contains("sequence")) }
        XCTAssertThrowsError(try Job.load(yaml: "export: maybe\n"))
    }

    func testTheRulePlannerIsDeterministicAndHoldsWritesBehindTheGate() {
        let j = job("Find 2k Python maintainers, queue them in Instantly campaign 123, dry run")
        let options = RunOptions(config: nil, now: nil, jobID: "x", dryRun: false)
        let y = Plan.Yields(leadsPerRepo: 0.5, leadsPerPerson: 0.4, githubRequestsPerLead: 0.04, source: "test")
        let a = RulePlanner.plan(j, options: options, yields: y), b = RulePlanner.plan(j, options: options, yields: y)
        XCTAssertEqual(a.stages.map(\.arguments), b.stages.map(\.arguments))
        XCTAssertEqual(a.stages.last?.stage, "send-instantly")
        XCTAssertTrue(a.stages.last?.arguments.contains("--dry-run") ?? false)
        XCTAssertEqual(a.stages.last?.irreversible, false, "a dry run writes nothing")
        XCTAssertEqual(a.sideEffects.first?.dryRun, true)
        // 2,000 leads at 0.5 per repository, 1.5× over: 6,000 repositories.
        XCTAssertTrue(a.stages[0].arguments.contains("6000"), "\(a.stages[0].arguments)")
    }
}
