import CMOAgent
import CMOTestSupport
import Foundation
import XCTest

/// The rule parser reads every count, language, window and constraint of a goal, or refuses the goal with the
/// words it could not place; nothing it is given makes it crash; and cmo-plan exits 64 on a refused goal.
final class GoalParserTests: XCTestCase {
    /// 2026-05-28T20:26:40Z.
    let now = Date(timeIntervalSince1970: 1_780_000_000)

    func parse(_ goal: String) -> GoalParse { GoalParser.parse(goal, now: now) }

    func job(_ goal: String, file: StaticString = #filePath, line: UInt = #line) -> Job {
        let p = parse(goal)
        XCTAssertNil(p.refusal, goal, file: file, line: line)
        return p.job
    }

    func testWindows() {
        XCTAssertEqual(job("Find 500 Rust developers active in the past two weeks").activeDays, 14)
        XCTAssertEqual(job("300 Ruby maintainers, active last quarter").activeDays, 90)
        XCTAssertEqual(job("300 Ruby maintainers active this quarter").activeDays, 58, "April 1 to May 28, 20:26")
        XCTAssertEqual(job("Find 100 PHP devs active in the last 3 months").activeDays, 90)
        XCTAssertEqual(job("five hundred Kotlin devs active in the past six months").activeDays, 180)
        XCTAssertEqual(job("Go devs active since March").activeDays, 89)
        XCTAssertEqual(job("Go devs active since September").activeDays, 270, "September this year is still to come: last year's")
        XCTAssertEqual(job("Go devs active since 2024").activeDays, 879)
        XCTAssertEqual(job("50 Elixir maintainers who committed last week").activeDays, 7)
        XCTAssertEqual(job("Py devs active 12w").activeDays, 84)
        XCTAssertEqual(job("1000 Java developers active in the last year").activeDays, 365)
    }

    func testCountsInWordsAndDigits() {
        XCTAssertEqual(job("Find two hundred Python devs").target, 200)
        XCTAssertEqual(job("Find a thousand Go developers").target, 1000)
        XCTAssertEqual(job("five hundred Kotlin devs").target, 500)
        XCTAssertEqual(job("Get me two hundred and fifty Haskell developers").target, 250)
        XCTAssertEqual(job("twenty-five Zig devs").target, 25)
        XCTAssertEqual(job("Find 2.5k JS developers").target, 2500)
        XCTAssertEqual(job("Find 1,200 C# developers").target, 1200)
        XCTAssertEqual(job("Find 1.5 thousand Rust devs").target, 1500)
        XCTAssertEqual(job("Find Python maintainers, 300 of them").target, 300)
        XCTAssertEqual(job("target=700 language=go").target, 700)
    }

    func testLanguageLists() {
        XCTAssertEqual(job("Find 200 JavaScript/TypeScript maintainers").languages, ["javascript", "typescript"])
        XCTAssertEqual(job("400 Rust or Go maintainers").languages, ["rust", "go"])
        XCTAssertEqual(job("Find 400 C + C++ maintainers").languages, ["c", "c++"])
        XCTAssertEqual(job("Find 300 Python, Go and Rust maintainers").languages, ["python", "go", "rust"])
        XCTAssertEqual(job("Find 300 rust, go and zig maintainers").languages, ["rust", "go", "zig"])
        XCTAssertEqual(job("go find 300 Rust maintainers").languages, ["rust"], "a verb")
        XCTAssertEqual(job("Go find 300 Rust maintainers").languages, ["rust"], "a verb at a sentence's start")
    }

    func testStarFloorsAndFlags() {
        XCTAssertEqual(job("Find 100 Python maintainers with at least 500 stars").minStars, 500)
        XCTAssertEqual(job("100 Python maintainers, 1k+ stars").minStars, 1000)
        XCTAssertEqual(job("Find 100 Swift devs with more than 50 stars").minStars, 51)
        XCTAssertEqual(job("100 Python maintainers with 10 or more stars").minStars, 10)
        XCTAssertEqual(job("100 Python maintainers, stars>=20").minStars, 20)
        XCTAssertEqual(job("Find two hundred Python devs, skip sending").dryRun, true)
        XCTAssertEqual(job("Find 200 Python devs, send nothing").dryRun, true)
        let exportOnly = job("Get me 250 Haskell developers, just a CSV")
        XCTAssertEqual(exportOnly.export, true)
        XCTAssertEqual(exportOnly.dryRun, true)
        XCTAssertNil(job("Find 200 Python devs, don't export a CSV").export)
        XCTAssertNil(job("Find 200 Python devs and export them to Attio list abc").export, "a writer, not a CSV")
        XCTAssertEqual(job("Python maintainers of #machine-learning projects").topics, ["machine-learning"])
        XCTAssertEqual(job("Find 500 Python devs, widen if needed").widen, true)
        XCTAssertEqual(job("200 Go devs, export a CSV, ok to widen").widen, true)
        XCTAssertNil(job("Find 500 Python devs").widen)
    }

    func testWhatWasReadBeforeStillIs() {
        let j = job("Find ~2k Python maintainers active in the last 90 days, queue them in Instantly campaign 123, add them to Attio list abc, export a CSV")
        XCTAssertEqual(j.json(), #"{"target":2000,"languages":["python"],"active_days":90,"instantly_campaign":"123","attio_list":"abc","export":true}"#)
        XCTAssertEqual(job("Find 20 Python maintainers, file the errors in Linear team ENG, dry run").linearTeam, "ENG")
        XCTAssertEqual(job("Find 15 Python maintainers, queue them in Instantly campaign 0192-abc , add them to Attio list outbound_developers").attioList, "outbound_developers")
    }

    func testAGoalWithoutACountGetsTheDefaultAndSaysSo() {
        let p = parse("Find Python devs")
        XCTAssertNil(p.refusal)
        XCTAssertNil(p.job.target)
        XCTAssertEqual(p.notes, ["no count stated: 200 leads, the default"])
        XCTAssertEqual(parse("Find 300 Python devs").notes, [])
    }

    func testHarmlessWordsAreLeftOutAndConstraintsRefuse() {
        let p = parse("Find 200 Python devs for my newsletter, cheers")
        XCTAssertNil(p.refusal)
        XCTAssertEqual(p.unknown, ["cheers"])
        XCTAssertEqual(parse("Find 2k Python maintainers in Berlin").unknown, ["Berlin"])
        let cases: [(String, String)] = [
            ("Find 200 Klingonscript maintainers", #""Klingonscript" is not a language I know"#),
            ("Find -5 Python maintainers", #""-5" is below zero"#),
            ("Find 0 Python maintainers", #""0" is not a count from 1 to 1000000"#),
            ("Find 1e12 Python maintainers", #""1e12" is a number I cannot place"#),
            ("Find 99999999999999999999999 Go devs", "is not a count from 1 to 1000000"),
            ("Find 200 Python maintainers active in the last 99999999 days", "is not a window from 1 to 3650 days"),
            ("Find 200 Python devs with 99999999999 stars", "is not a star floor from 0 to 10000000"),
            ("Find 200 Python maintainers, queue them in campaign --allow-inactive", #""--allow-inactive" is not a campaign id: it starts with '-'"#),
            ("Find 2k Python maintainers in Berlin", #""Berlin" is a name I cannot place"#),
            ("find 2k python maintainers in berlin", #""berlin" (after "in") is a constraint I cannot apply"#),
            ("Find 200 Python devs für Acme", #""für" is not English"#),
            ("find some people", "it does not say who"),
            ("export a CSV", "it does not say who"),
            ("Find 200 Python devs except Go", #""except" leaves something out"#),
            ("Find 200 senior Python developers with 5 years of experience", #""5 years" (after "with") is not a window I can read"#),
            ("Find 200 Python devs and 300 Go devs", "two counts: 200 and 300"),
            ("Find 100 Python maintainers with at most 10 stars", "is a ceiling on stars"),
            ("Find 200 Python maintainers, queue them in Instantly", #""Instantly" is named without its campaign"#),
            ("Find 200 Python devs in the last 30 days, last 90 days", "two windows: 30 and 90 days"),
            ("region=EMEA 200 Python devs", #""region=EMEA" is not a field I know"#),
        ]
        for (goal, why) in cases {
            let r = parse(goal).refusal ?? ""
            XCTAssertTrue(r.contains(why), "\(goal): \(r)")
        }
        let german = parse("Finde 200 Python-Entwickler, die in den letzten 90 Tagen aktiv waren")
        XCTAssertNotNil(german.refusal)
        XCTAssertTrue(german.refusal?.contains("Tagen") ?? false, german.refusal ?? "")
    }

    func testNothingCrashes() {
        var rng = SystemRandomNumberGenerator()
        let pieces = [
            "9", "99999999999999999999999999", "1e308", "-", "−5", "1.5k", "2,000", "~", "+", "stars", "stars>=", "stars>999999999999999999999",
            "last", "past", "this", "since", "March", "2024", "0000", "days", "weeks", "quarter", "year", "campaign", "list", "team", "=",
            "seq=", "topic:", "#", "c#", "c++", "Go", "go", "c", "a", "thousand", "hundred", "and", "twenty-", "-five", "million", "billion",
            "/", ",", ".", "!", "\"", "'", "(", ")", "ü", "日本語", "\u{0}", "\u{7}", "\n", "\t", "  ", "🙂", "Python", "devs", "of", "them",
            "no", "not", "send", "export", "only", "csv", "widen", "if", "needed", "ok", "to", "at", "least", "more", "than", "or", "over",
            "1k+", "12w", "90d", "9999999999999999d", "6mo", "ytd", "target=", "target=1e400", "days=-1", "language=", "topics=,",
        ]
        for _ in 0..<4000 {
            let n = Int.random(in: 0...12, using: &rng)
            let goal = (0..<n).map { _ in pieces.randomElement(using: &rng)! }.joined(separator: Bool.random(using: &rng) ? " " : "")
            let p = GoalParser.parse(goal, now: now)
            XCTAssertTrue(p.refusal != nil || GoalParserTests.inRange(p.job), goal)
            _ = GoalParser.count(goal)
        }
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let goal = String(decoding: bytes, as: UTF8.self)
            let p = GoalParser.parse(goal, now: now)
            XCTAssertTrue(p.refusal != nil || GoalParserTests.inRange(p.job), goal)
            _ = GoalParser.count(goal)
        }
        XCTAssertNil(GoalParser.count("99999999999999999999999k"))
        XCTAssertNil(GoalParser.count("1e308"))
    }

    static func inRange(_ j: Job) -> Bool {
        (j.target.map { (1...Job.maxTarget).contains($0) } ?? true) && (j.activeDays.map { (1...Job.maxDays).contains($0) } ?? true)
            && (j.minStars.map { (0...Job.maxStars).contains($0) } ?? true)
            && [j.instantlyCampaign, j.attioList, j.linearTeam].allSatisfy { $0.map { !$0.hasPrefix("-") && !$0.isEmpty } ?? true }
    }

    func testAJobFileOutOfRangeIsRefused() {
        for (yaml, why) in [("target: 0\n", "target of 0"), ("active_days: 99999999\n", "window of 99999999"), ("min_stars: -1\n", "floor of -1"),
                            ("instantly_campaign: --allow-inactive\n", "starts with '-'")] {
            XCTAssertThrowsError(try Job.load(yaml: yaml), yaml) { XCTAssertTrue("\($0)".contains(why), "\(yaml): \($0)") }
        }
    }

    func testCmoPlanExits64OnAGoalItCannotRead() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = ["CMO_RUNS_DIR": dir + "/runs", "CMO_STATE_DIR": dir + "/state"]
        for command in ["parse", "plan", "run", "submit"] {
            let r = try Spawn.run("cmo-plan", [command, "Find 200 Klingonscript maintainers"], environment: env)
            XCTAssertEqual(r.status, 64, "\(command): \(r.err)")
            XCTAssertTrue(r.err.contains(#"cannot read the goal: "Klingonscript" is not a language I know"#), "\(command): \(r.err)")
            XCTAssertTrue(r.err.contains("--job FILE"), r.err)
            XCTAssertEqual(r.out, "", command)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/runs"), "no run directory for a goal that was not read")
        let minus = try Spawn.run("cmo-plan", ["parse", "--", "Find -5 Python maintainers"], environment: env)
        XCTAssertEqual(minus.status, 64, minus.err)
        let readable = try Spawn.run("cmo-plan", ["parse", "Find Python devs active this quarter"], environment: env)
        XCTAssertEqual(readable.status, 0, readable.err)
        XCTAssertTrue(readable.err.contains("no count stated: 200 leads, the default"), readable.err)
    }
}
