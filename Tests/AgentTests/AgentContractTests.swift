@testable import CMOAgent
import CMOContract
import CMOBasics
import CMOStorage
import Foundation
import XCTest

/// The agent against its typed contract, in process: the stage registry, timestamps, stage summaries, the
/// writers' tallies, dead letters, the event log, the runner's rule decisions, the chat's answers and the
/// report, each from files written here (no stage is spawned, no sandbox, no network).
final class AgentContractTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("agent-contract-\(getpid())-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let tmp { try? FileManager.default.removeItem(at: tmp) }
    }

    // MARK: helpers

    /// Writes `lines`, each ended by a newline.
    func write(_ lines: [String], to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: url)
    }

    /// A stage's JSON summary line (docs/contracts.md §6).
    func summaryLine(_ stage: String, in input: Int = 0, out: Int, filtered: Int = 0, filteredBy: String = "{}", dead: Int = 0, http: Int = 0,
                     notModified: Int = 0, seconds: Double = 0.1, retries: Int = 0, extra: String = "") -> String {
        #"{"ts":"2024-12-07T11:45:38.817Z","level":"info","stage":"\#(stage)","event":"summary","msg":"done","in":\#(input),"out":\#(out),"#
            + #""filtered":\#(filtered),"filtered_by":\#(filteredBy),"dead_lettered":\#(dead),"http_requests":\#(http),"#
            + #""http_not_modified":\#(notModified),"seconds":\#(seconds),"output_closed":false,"quota_spent":{},"http_retries":\#(retries),"#
            + #""http_rate_limited":0,"http_wait_seconds":0\#(extra)}"#
    }

    func job(campaign: String? = nil) -> Job {
        var j = Job()
        j.target = 50
        j.languages = ["python"]
        j.activeDays = 60
        j.instantlyCampaign = campaign
        return j
    }

    func state(_ job: Job, jobID: String = "job-1") -> RunState {
        let plan = RulePlanner.plan(job, options: RunOptions(config: nil, now: "2024-12-07T00:00:00Z", jobID: jobID, dryRun: false),
                                    yields: RulePlanner.yields(stateDirectory: nil))
        return RunState(jobID: jobID, goal: "50 Python maintainers", job: job, plan: plan, createdAt: "2024-12-07T11:45:00.000Z",
                        updatedAt: "2024-12-07T11:45:00.000Z")
    }

    func step(_ n: Int, _ stage: String, pass: Int = 0, status: StepRecord.Status = .done, arguments: [String] = []) -> StepRecord {
        let name = String(format: "%02d-%@", n, stage)
        return StepRecord(n: n, stage: stage, arguments: arguments, artifact: "artifacts/\(name).ndjson", log: "logs/\(name).log",
                          status: status, widenStep: pass)
    }

    /// The word after `flag` in an argv.
    func arg(_ argv: [String], _ flag: String) -> String? {
        guard let i = argv.lastIndex(of: flag), i + 1 < argv.count else { return nil }
        return argv[i + 1]
    }

    func runDirectory(_ name: String = "job-1") throws -> RunDirectory {
        let dir = RunDirectory(runs: tmp, jobID: name)
        try dir.create()
        return dir
    }

    // MARK: 1. the stage registry

    func testRegistryOrdersTheStagesAndNamesTheWritersResults() {
        XCTAssertEqual(StageRegistry.read.map(\.name), ["gh-search", "gh-people", "gh-enrich", "mx-check", "score-icp", "render-copy"])
        XCTAssertEqual(StageRegistry.readNames, StageRegistry.read.map(\.name))
        XCTAssertTrue(StageRegistry.read.allSatisfy { $0.kind == .read && $0.resultField == nil && $0.doneStatus == nil })
        XCTAssertEqual(StageRegistry.writers.map(\.name), ["send-instantly", "sync-attio", "sync-linear"])
        XCTAssertEqual(StageRegistry.writers.map(\.resultField), ["instantly", "attio", "linear"])
        XCTAssertEqual(StageRegistry.writers.map(\.targetFlag), ["--campaign", "--list", "--team"])
        XCTAssertEqual(StageRegistry.writers.map(\.service), ["Instantly", "Attio", "Linear"])
        XCTAssertTrue(StageRegistry.writers.allSatisfy { $0.kind == .writer })
        XCTAssertEqual(StageRegistry.writerNames, ["send-instantly", "sync-attio", "sync-linear"])
        XCTAssertEqual(StageRegistry.sendInstantly.doneStatus, .queued)
        XCTAssertEqual(StageRegistry.syncAttio.doneStatus, .synced)
        XCTAssertNil(StageRegistry.syncLinear.doneStatus)
        for w in StageRegistry.writers {
            XCTAssertTrue(w.statuses.contains(.failed), w.name)
            if let done = w.doneStatus { XCTAssertTrue(w.statuses.contains(done), w.name) }
        }
        XCTAssertEqual(StageRegistry.all.map(\.name), StageRegistry.readNames + ["send-instantly", "sync-attio", "sync-linear", "export-csv"])
        XCTAssertEqual(StageRegistry.all.last?.kind, .export)

        XCTAssertNil(StageRegistry.readStage(before: "gh-search"))
        XCTAssertEqual(StageRegistry.readStage(before: "gh-people"), "gh-search")
        XCTAssertEqual(StageRegistry.readStage(before: "gh-enrich"), "gh-people")
        XCTAssertEqual(StageRegistry.readStage(before: "mx-check"), "gh-enrich")
        XCTAssertEqual(StageRegistry.readStage(before: "score-icp"), "mx-check")
        XCTAssertEqual(StageRegistry.readStage(before: "render-copy"), "score-icp")
        XCTAssertNil(StageRegistry.readStage(before: "send-instantly"))
        XCTAssertNil(StageRegistry.readStage(before: "export-csv"))
        XCTAssertNil(StageRegistry.readStage(before: "no-such-stage"))

        XCTAssertNil(StageRegistry["no-such-stage"])
        XCTAssertNil(StageRegistry[""])
        XCTAssertEqual(StageRegistry["mx-check"], StageRegistry.mxCheck)
        XCTAssertEqual(StageRegistry["mx-check"]?.service, "DNS")
        XCTAssertEqual(StageRegistry["send-instantly"]?.resultField, "instantly")
        XCTAssertEqual(StageRegistry["export-csv"]?.kind, .export)
        for s in StageRegistry.all { XCTAssertEqual(StageRegistry[s.name], s) }

        // The report's funnel bars follow the registry's order.
        XCTAssertEqual(RunReport.funnelStages.map { $0.key }, ["repositories", "people", "with_email", "verified", "scored", "rendered", "queued", "synced"])
        XCTAssertEqual(RunReport.funnelStages.last?.label, "synced to Attio")
    }

    // MARK: 2. timestamps

    func iso(_ t: Double) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: t))
    }

    func testTimestampStringOfKnownInstants() {
        XCTAssertEqual(Timestamp.string(seconds: 0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(Timestamp.string(seconds: 1_733_571_938), "2024-12-07T11:45:38.000Z")
        XCTAssertEqual(Timestamp.string(seconds: 1_733_571_938.5), "2024-12-07T11:45:38.500Z")
        XCTAssertEqual(Timestamp.string(seconds: 951_782_400.25), "2000-02-29T00:00:00.250Z")
        XCTAssertEqual(Timestamp.string(seconds: 4_102_444_799.875), "2099-12-31T23:59:59.875Z")
        XCTAssertEqual(Timestamp.string(seconds: -0.5), "1969-12-31T23:59:59.500Z")
        XCTAssertEqual(Timestamp.string(Date(timeIntervalSince1970: 86_400.125)), "1970-01-02T00:00:00.125Z")
        // Instants whose fraction is exact in binary agree with Foundation's formatter.
        for t in [0, 1_733_571_938, 1_733_571_938.5, 951_782_400.25, 1_234_567_890.625, 4_102_444_799.875] {
            XCTAssertEqual(Timestamp.string(seconds: t), iso(t), "\(t)")
        }
        XCTAssertEqual(Timestamp.string().count, 24)
    }

    /// A millisecond instant (as cmo writes them, and as `parse` reads them back) keeps its millisecond.
    /// Fails today: `string(seconds:)` floors `(t - whole) * 1000`, and a fraction such as .817 is stored
    /// just below it (1733571938.816999912…), so it prints .816; about half of all milliseconds lose one.
    func testTimestampKeepsTheMillisecondOfAMillisecondInstant() {
        XCTAssertEqual(Timestamp.string(seconds: 1_733_571_938.817), iso(1_733_571_938.817))
        XCTAssertEqual(Timestamp.string(seconds: 1_733_571_938.817), "2024-12-07T11:45:38.817Z")
        var lost: [String] = []
        for ms in 0..<1000 {
            let s = String(format: "2024-12-07T11:45:38.%03dZ", ms)
            guard let t = Timestamp.parse(s) else {
                lost.append(s + " (not parsed)")
                continue
            }
            if Timestamp.string(seconds: t) != s { lost.append("\(s) → \(Timestamp.string(seconds: t))") }
        }
        XCTAssertEqual(lost.count, 0, "parse → string changes \(lost.count) of 1000 milliseconds, e.g. \(lost.prefix(3))")
    }

    func testTimestampDaysNamesAndGitHubsForm() throws {
        let t = Date(timeIntervalSince1970: 1_733_571_938.817)
        XCTAssertEqual(Timestamp.string(t, milliseconds: false), "2024-12-07T11:45:38Z")
        XCTAssertEqual(Timestamp.day(t), "2024-12-07")
        XCTAssertEqual(Timestamp.compact(t), "20241207T114538Z")
        XCTAssertEqual(Timestamp.parseDay("2024-12-07"), 1_733_529_600)
        XCTAssertNil(Timestamp.parseDay("2024-12-07T00:00:00Z"))
        XCTAssertNil(Timestamp.parseDay("2024-13-07"))
        XCTAssertEqual(Timestamp.day(Date(timeIntervalSince1970: 1_733_529_599.999)), "2024-12-06", "the last millisecond of a day")
    }

    func testTimestampParse() throws {
        XCTAssertEqual(Timestamp.parse("1970-01-01T00:00:00.000Z"), 0)
        XCTAssertEqual(Timestamp.parse("2024-12-07T11:45:38Z"), 1_733_571_938)
        XCTAssertEqual(Timestamp.parse("2024-12-07T11:45:38.5Z"), 1_733_571_938.5)
        XCTAssertEqual(Timestamp.parse("2024-12-07T11:45:38.500Z"), 1_733_571_938.5)
        XCTAssertEqual(Timestamp.parse("2024-12-07t11:45:38z"), 1_733_571_938)
        XCTAssertEqual(Timestamp.parse("2024-12-07T13:45:38+02:00"), 1_733_571_938)
        XCTAssertEqual(Timestamp.parse("2024-12-07T13:45:38.250+02:00"), 1_733_571_938.25)
        XCTAssertEqual(Timestamp.parse("2024-12-07T06:15:38-05:30"), 1_733_571_938)
        XCTAssertEqual(Timestamp.parse("2000-02-29T00:00:00Z"), 951_782_400)
        XCTAssertEqual(Timestamp.parse("1969-12-31T23:59:59Z"), -1)
        XCTAssertEqual(try XCTUnwrap(Timestamp.parse("2024-12-07T11:45:38.817Z")), 1_733_571_938.817, accuracy: 1e-6)
        // Agrees with Foundation's reader.
        let f = ISO8601DateFormatter()
        for s in ["2024-12-07T11:45:38Z", "2031-07-01T23:00:01Z", "1999-12-31T23:59:59Z", "2024-12-07T13:45:38+02:00"] {
            XCTAssertEqual(Timestamp.parse(s), f.date(from: s)?.timeIntervalSince1970, s)
        }
        // Round trips of instants the string shows exactly.
        for t in [0, 1_733_571_938, 1_733_571_938.5, 951_782_400.25, -0.5] {
            XCTAssertEqual(Timestamp.parse(Timestamp.string(seconds: t)), t)
        }
        XCTAssertEqual(Timestamp.since("2024-12-07T11:45:40.000Z", 1_733_571_938), 2)
        XCTAssertNil(Timestamp.since(nil, 0))
        XCTAssertNil(Timestamp.since("2024-12-07T11:45:40.000Z", nil))
        XCTAssertNil(Timestamp.since("yesterday", 0))

        for bad in [
            "", "2026-13-01T00:00:00Z", "2026-12-01 00:00:00Z", "2026-00-01T00:00:00Z", "2026-12-32T00:00:00Z", "2026-12-01T24:00:00Z",
            "2026-12-01T00:60:00Z", "2026-12-01T00:00:00", "2026-12-01T00:00:00.Z", "2026-12-01T00:00:00ZZ", "2026-12-01T00:00:00+02",
            "2026-12-01T00:00:00+0200", "2026-12-01", "20261201T000000Z", "2026-12-01T00:00:0xZ", "not a time at all!!",
        ] {
            XCTAssertNil(Timestamp.parse(bad), bad)
        }
    }

    // MARK: 3. stage summaries

    func testStageSummaryReadsTheLastSummaryOfItsStage() throws {
        let log = tmp.appendingPathComponent("gh-search.log")
        try write([
            "gh-search: a text line, as a fake stage writes",
            #"{"ts":"2024-12-07T11:45:30.000Z","level":"info","stage":"gh-search","event":"page","msg":"page 1"}"#,
            summaryLine("gh-search", out: 1, http: 1),
            summaryLine("gh-people", in: 9, out: 9, http: 40),
            #"{"ts":"2024-12-07T11:45:31.000Z","level":"warning","stage":"gh-search","msg":"slow"}"#,
            summaryLine("gh-search", in: 0, out: 3, filtered: 4, filteredBy: #"{"archived":3,"fork":1}"#, dead: 2, http: 5, notModified: 1,
                        seconds: 1.5, retries: 2, extra: #","verdicts":{"safe":3},"model":"m1""#),
            #"{"ts":"2024-12-07T11:45:32.000Z","level":"info","stage":"gh-search","event":"exit","msg":"bye"}"#,
            "trailing text",
        ], to: log)

        let s = try XCTUnwrap(StageSummary.read(log: log, stage: "gh-search"))
        XCTAssertEqual(s.output, 3)
        XCTAssertEqual(s.input, 0)
        XCTAssertEqual(s.filtered, 4)
        XCTAssertEqual(s.filteredBy, ["archived": 3, "fork": 1])
        XCTAssertEqual(s.deadLettered, 2)
        XCTAssertEqual(s.requests, 5)
        XCTAssertEqual(s.notModified, 1)
        XCTAssertEqual(s.seconds, 1.5)
        XCTAssertEqual(s.quota, [:])
        XCTAssertEqual(s.counts, ["in": 0, "filtered": 4, "dead": 2, "http": 5, "http_304": 1])
        XCTAssertEqual(s.extra["http_retries"]?.number, 2)
        XCTAssertEqual(s.extra["verdicts"]?.object, ["safe": 3])
        XCTAssertEqual(s.extra["model"], .text("m1"))
        XCTAssertNil(s.extra["http_rate_limited"], "zero HTTP figures are not extras")
        XCTAssertNil(s.extra["output_closed"])
        XCTAssertNil(s.extra["ts"])

        let people = try XCTUnwrap(StageSummary.read(log: log, stage: "gh-people"))
        XCTAssertEqual(people.counts, ["in": 9, "filtered": 0, "dead": 0, "http": 40, "http_304": 0])
        XCTAssertNil(StageSummary.read(log: log, stage: "mx-check"))
        XCTAssertNil(StageSummary.read(log: tmp.appendingPathComponent("missing.log"), stage: "gh-search"))

        // A fake stage's log (text only, or JSON without a summary) has none.
        let fake = tmp.appendingPathComponent("fake.log")
        try write(["score-icp: scored 3", #"{"level":"info","stage":"score-icp","event":"progress","msg":"3"}"#], to: fake)
        XCTAssertNil(StageSummary.read(log: fake, stage: "score-icp"))

        // decode(line:stage:) on single lines.
        XCTAssertNil(StageSummary.decode(line: Data(#"{"event":"page","stage":"gh-search"}"#.utf8)))
        XCTAssertNil(StageSummary.decode(line: Data(summaryLine("gh-search", out: 1).utf8), stage: "gh-people"))
        XCTAssertNil(StageSummary.decode(line: Data("not json".utf8)))
        XCTAssertEqual(StageSummary.decode(line: Data(summaryLine("gh-search", out: 7).utf8))?.output, 7)

        // The log as a person reads it.
        let lines = StageLogLine.lines(log: log)
        XCTAssertEqual(lines.count, 8)
        XCTAssertNil(lines[0].line)
        XCTAssertEqual(lines[0].text, "gh-search: a text line, as a fake stage writes")
        XCTAssertEqual(lines[1].text, "gh-search: page 1")
        XCTAssertEqual(lines[4].text, "gh-search: warning: slow")
        XCTAssertEqual(lines[7].text, "trailing text")
    }

    // MARK: 4. writer tallies

    func testTallyOfAnInstantlyArtifact() throws {
        let url = tmp.appendingPathComponent("send-instantly.ndjson")
        try write([
            #"{"login":"ann","copy":{"variant":"A"},"instantly":{"status":"queued"}}"#,
            #"{"login":"bob","copy":{"variant":"B"},"instantly":{"status":"duplicate","reason":"already_in_campaign","message":"in campaign"}}"#,
            "",
            "not json {",
            #"{"login":"cy","copy":{"variant":"A"},"instantly":{"status":"failed","reason":"rejected","message":"bounced before"}}"#,
            #"{"login":"dee","copy":{"variant":"A"}}"#,
            #"{"login":"eve","best_email":"eve@x.io","copy":{"variant":"A"},"instantly":{"status":"failed","reason":"rejected","message":"second"}}"#,
            #"{"login":"fay","instantly":{"status":"suppressed","reason":"unsubscribed"}}"#,
            #"{"login":"gus","copy":{"variant":"B"},"instantly":{"status":"queued"}}"#,
            #"{"login":"hal","copy":{"variant":"A"},"instantly":{"status":"failed","reason":"unavailable","message":"503"}}"#,
            #"{"login":"ivy","instantly":"queued"}"#,
        ], to: url)
        let t = RunArtifacts.tally(url, stage: StageRegistry.sendInstantly)
        XCTAssertEqual(t.statuses, [.queued: 2, .duplicate: 1, .failed: 3, .suppressed: 1])
        XCTAssertEqual(t.statusNames, ["queued": 2, "duplicate": 1, "failed": 3, "suppressed": 1])
        XCTAssertEqual(t.total, 7)
        XCTAssertEqual(t.count(.queued), 2)
        XCTAssertEqual(t.count(.synced), 0)
        XCTAssertEqual(t.notDone.map(\.status), [.duplicate, .failed, .suppressed, .failed])
        XCTAssertEqual(t.notDone.map(\.reason), ["already_in_campaign", "rejected", "unsubscribed", "unavailable"])
        XCTAssertEqual(t.notDone.map(\.count), [1, 2, 1, 1])
        XCTAssertEqual(t.notDone.map(\.example), ["bob: in campaign", "cy: bounced before", "fay", "hal: 503"])
        // 1-based line numbers of the file, as NDJSONReader numbers them (and the stages number their dead
        // letters): the line that is not JSON and the empty one both count.
        XCTAssertEqual(t.failures.map(\.line), [5, 7, 10])
        XCTAssertEqual(t.failures.map(\.login), ["cy", "eve", "hal"])
        XCTAssertEqual(t.failures.map(\.email), [nil, "eve@x.io", nil])
        XCTAssertEqual(t.failures.map(\.result.reason), ["rejected", "rejected", "unavailable"])
        XCTAssertEqual(t.failedFlags, [false, false, true, true, false, false, true])
        XCTAssertEqual(t.variantSent, ["A": 4, "B": 2])
        XCTAssertEqual(t.variantQueued, ["A": 1, "B": 1])
        XCTAssertNil(t.parentID)
        XCTAssertEqual(t.created, [])
        XCTAssertEqual(t.identifiers, [])

        // The same file read as Attio's: no record has an `attio` result.
        XCTAssertEqual(RunArtifacts.tally(url, stage: StageRegistry.syncAttio).total, 0)
        // A stage without a result field, and a missing file, count nothing.
        XCTAssertEqual(RunArtifacts.tally(url, stage: StageRegistry.ghSearch).total, 0)
        XCTAssertEqual(RunArtifacts.tally(tmp.appendingPathComponent("missing.ndjson"), stage: StageRegistry.sendInstantly).total, 0)
        XCTAssertEqual(RunArtifacts.tally(nil, stage: StageRegistry.sendInstantly).failedFlags, [])
        // 11 newline-ended lines, the empty one included.
        XCTAssertEqual(RunArtifacts.lineCount(url), 11)
        XCTAssertEqual(RunArtifacts.lineCount(nil), 0)
    }

    func testTallyOfALinearArtifact() throws {
        let url = tmp.appendingPathComponent("sync-linear.ndjson")
        try write([
            #"{"stage":"render-copy","linear":{"status":"created","parent_id":"P-1","identifier":"ENG-1"}}"#,
            #"{"linear":{"status":"counted","parent_id":"P-2","identifier":"ENG-1"}}"#,
            #"{"linear":{"status":"created","identifier":"ENG-2"}}"#,
            #"{"linear":{"status":"already_counted","identifier":"ENG-2"}}"#,
            #"{"linear":{"status":"counted","identifier":"ENG-3"}}"#,
            #"{"linear":{"status":"ignored"}}"#,
            #"{"linear":{"status":"failed","reason":"unavailable","message":"502"}}"#,
        ], to: url)
        let t = RunArtifacts.tally(url, stage: StageRegistry.syncLinear)
        XCTAssertEqual(t.parentID, "P-1")
        XCTAssertEqual(t.created, ["ENG-1", "ENG-2"])
        XCTAssertEqual(t.identifiers, ["ENG-1", "ENG-2", "ENG-3"])
        XCTAssertEqual(t.statusNames, ["created": 2, "counted": 2, "already_counted": 1, "ignored": 1, "failed": 1])
        XCTAssertEqual(t.failures.map(\.line), [7])
        XCTAssertEqual(t.variantSent, [:], "variants are Instantly's only")
    }

    // MARK: 5. dead letters

    func testDeadLetterGroupsAndTheCommonOnes() throws {
        let url = tmp.appendingPathComponent("dead-letters.ndjson")
        try write([
            #"{"stage":"render-copy","line":3,"error":{"code":"missing_variable","message":"no company","retryable":false},"input":{"login":"ann"}}"#,
            #"{"stage":"render-copy","line":4,"error":{"code":"missing_variable","message":"no company","retryable":false},"input":{"login":"bob"}}"#,
            #"{"stage":"gh-enrich","line":1,"error":{"code":"http_404","message":"not found"},"input":{"full_name":"a/x"}}"#,
            #"{"stage":"render-copy","line":7,"error":{"code":"llm_timeout","message":"timed out\nafter 30 s","retryable":true},"input":"{\"login\":\"cy\",\"na"}"#,
            "garbage",
            #"{"stage":"mx-check","error":{"code":"bad_json","message":"unexpected end"}}"#,
        ], to: url)

        let groups = RunArtifacts.deadLetterGroups(url)
        XCTAssertEqual(Set(groups.keys), ["render-copy", "gh-enrich", "mx-check"])
        XCTAssertEqual(Set(groups["render-copy"].map { Array($0.keys) } ?? []), ["missing_variable", "llm_timeout"])
        XCTAssertEqual(groups["render-copy"]?["missing_variable"]?.count, 2)
        XCTAssertEqual(groups["render-copy"]?["missing_variable"]?.example, "ann: no company")
        XCTAssertEqual(groups["render-copy"]?["llm_timeout"]?.count, 1)
        // The input was cut (a string, not a record): the example names the line.
        XCTAssertEqual(groups["render-copy"]?["llm_timeout"]?.example, "line 7: timed out\nafter 30 s")
        XCTAssertEqual(groups["gh-enrich"]?["http_404"]?.count, 1)
        XCTAssertEqual(groups["gh-enrich"]?["http_404"]?.example, "a/x: not found")
        XCTAssertEqual(groups["mx-check"]?["bad_json"]?.example, "line ?: unexpected end")

        XCTAssertEqual(RunArtifacts.commonDeadLetters(url, top: 2), [
            "2 × render-copy: missing_variable: no company",
            "1 × gh-enrich: http_404: not found",
        ])
        XCTAssertEqual(RunArtifacts.commonDeadLetters(url, top: 10), [
            "2 × render-copy: missing_variable: no company",
            "1 × gh-enrich: http_404: not found",
            "1 × mx-check: bad_json: unexpected end",
            "1 × render-copy: llm_timeout: timed out after 30 s",
        ])
        XCTAssertEqual(RunArtifacts.commonDeadLetters(tmp.appendingPathComponent("none.ndjson"), top: 3), [])
        XCTAssertTrue(RunArtifacts.deadLetterGroups(tmp.appendingPathComponent("none.ndjson")).isEmpty)

        // The typed line itself.
        let d = try JSONDecoder().decode(DeadLetter.self, from: Data(
            #"{"stage":"render-copy","line":7,"error":{"code":"x","message":"m","retryable":true},"input":"{\"log"}"#.utf8))
        XCTAssertEqual(d.line, 7)
        XCTAssertNil(d.subject)
        XCTAssertEqual(d.error.retryable, true)
        XCTAssertEqual(d.example, "line 7: m")
    }

    // MARK: 6. the event log

    func testEventLogWritesSortedLinesAndReadsThemBack() throws {
        let url = tmp.appendingPathComponent("events.ndjson")
        let log = EventLog(url)
        let events = [
            RunEvent(time: "2024-12-07T11:45:38.817Z", jobID: "job-1", event: .stepDone, message: "step 1 gh-search: 3 out, \"quoted\"\nsecond line",
                     step: 1, stage: "gh-search", counts: ["out": 3, "in": 0, "http": 2, "dead": 0]),
            RunEvent(time: "2024-12-07T11:45:39.000Z", jobID: "job-1", event: .waiting, message: "rate limited",
                     retryAt: "2024-12-07T12:00:00.000Z"),
            RunEvent(time: "2024-12-07T11:45:40.000Z", jobID: "job-1", event: .widening, message: "widening 1", widenStep: 1, errors: 4),
        ]
        var written: [[UInt8]] = []
        for e in events { written.append(log.append(e)) }
        XCTAssertEqual(EventLog.read(url), events)

        let text = try String(contentsOf: url, encoding: .utf8)
        XCTAssertEqual(text, written.map { String(decoding: $0, as: UTF8.self) }.joined())
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 4)
        XCTAssertEqual(lines.last, "")
        XCTAssertEqual(String(lines[0]),
                       #"{"counts":{"dead":0,"http":2,"in":0,"out":3},"event":"step_done","job_id":"job-1","#
                           + #""message":"step 1 gh-search: 3 out, \"quoted\"\nsecond line","stage":"gh-search","step":1,"time":"2024-12-07T11:45:38.817Z"}"#)
        XCTAssertEqual(String(lines[1]),
                       #"{"event":"waiting","job_id":"job-1","message":"rate limited","retry_at":"2024-12-07T12:00:00.000Z","time":"2024-12-07T11:45:39.000Z"}"#)
        // Every line's keys in order.
        for line in lines.dropLast() {
            let keys = topLevelKeys(String(line))
            XCTAssertEqual(keys, keys.sorted(), String(line))
            XCTAssertFalse(keys.isEmpty)
        }
        XCTAssertEqual(topLevelKeys(String(lines[2])), ["errors", "event", "job_id", "message", "time", "widen_step"])
    }

    /// The keys of a flat-ish JSON object line, in the order written (values skipped with JSONSerialization's help).
    func topLevelKeys(_ line: String) -> [String] {
        guard let o = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else { return [] }
        return o.keys.compactMap { k -> (String, String.Index)? in
            line.range(of: "\"\(k)\":").map { (k, $0.lowerBound) }
        }.sorted { $0.1 < $1.1 }.map(\.0)
    }

    func testEventLogReaderFollowsFromTheEndAndWaitsForWholeLines() throws {
        let url = tmp.appendingPathComponent("events.ndjson")
        let log = EventLog(url)
        let e1 = RunEvent(time: "2024-12-07T11:45:38.000Z", jobID: "j", event: .planned, message: "planned")
        let e2 = RunEvent(time: "2024-12-07T11:45:39.000Z", jobID: "j", event: .stepStarted, message: "step 1", step: 1, stage: "gh-search")
        let e3 = RunEvent(time: "2024-12-07T11:45:40.000Z", jobID: "j", event: .paused, message: "paused by a person")
        log.append(e1)

        var fromStart = EventLog.Reader(url)
        var fromEnd = EventLog.Reader(url, fromEnd: true)
        XCTAssertEqual(fromEnd.offset, UInt64(EventLog.line(e1).count))
        XCTAssertTrue(fromEnd.atEnd)
        XCTAssertFalse(fromStart.atEnd)
        XCTAssertEqual(fromEnd.poll(), [])
        XCTAssertEqual(fromStart.poll(), [e1])
        XCTAssertTrue(fromStart.atEnd)

        log.append(e2)
        XCTAssertFalse(fromEnd.atEnd)
        XCTAssertEqual(fromEnd.poll(), [e2])
        XCTAssertEqual(fromStart.poll(), [e2])
        XCTAssertEqual(fromStart.poll(), [])

        // Half a line, written by hand without its newline: not returned until it is complete.
        let line = EventLog.line(e3)
        let cut = line.count / 2
        let h = try FileHandle(forWritingTo: url)
        try h.seekToEnd()
        h.write(Data(line[..<cut]))
        XCTAssertFalse(fromEnd.atEnd, "part of a line is something written")
        XCTAssertEqual(fromEnd.pollLines(), [])
        XCTAssertEqual(fromEnd.poll(), [])
        XCTAssertFalse(fromEnd.atEnd)
        let before = fromEnd.offset
        h.write(Data(line[cut...]))
        try h.close()
        XCTAssertEqual(fromEnd.pollLines(), [Data(line.dropLast())])
        XCTAssertEqual(fromEnd.offset, before + UInt64(line.count))
        XCTAssertTrue(fromEnd.atEnd)
        XCTAssertEqual(fromStart.poll(), [e3])
        XCTAssertEqual(EventLog.read(url), [e1, e2, e3])

        // A missing file reads as nothing.
        var none = EventLog.Reader(tmp.appendingPathComponent("none.ndjson"), fromEnd: true)
        XCTAssertEqual(none.offset, 0)
        XCTAssertEqual(none.poll(), [])
        XCTAssertTrue(none.atEnd)
        XCTAssertEqual(EventLog.read(tmp.appendingPathComponent("none.ndjson")), [])
    }

    // MARK: 7. the runner's rule decisions

    /// The pass a test ran: 3 repositories … 10 rendered leads.
    func ranFirstPass(_ runner: Runner, _ dir: RunDirectory) throws {
        let lines = ["gh-search": 3, "gh-people": 12, "gh-enrich": 12, "mx-check": 11, "score-icp": 10, "render-copy": 10]
        for i in 0..<6 {
            let s = runner.state.steps[i]
            try write((0..<lines[s.stage]!).map { #"{"login":"u\#($0)","full_name":"o/r\#($0)"}"# }, to: dir.path(s.artifact))
            runner.state.steps[i].status = .done
            runner.state.steps[i].counts = ["out": lines[s.stage]!]
        }
    }

    func testWithoutConsentTheRunnerAsksOrFinishesShortButNeverWidensPastTheGoal() throws {
        // Not on a terminal, no --yes: the job stops at the gate with the widening as a question.
        let dir = try runDirectory()
        var options = Runner.Options()
        options.quiet = true
        let asking = Runner(dir: dir, state: state(job()), options: options)
        XCTAssertTrue(try asking.ruleStep())
        try ranFirstPass(asking, dir)
        XCTAssertFalse(try asking.ruleStep())
        XCTAssertEqual(asking.stop, .ok)
        XCTAssertEqual(asking.state.status, .awaitingApproval)
        XCTAssertEqual(asking.state.proposal?.activeDays, 120)
        XCTAssertNil(asking.state.proposal?.by)
        XCTAssertTrue(asking.state.widenings.isEmpty)
        XCTAssertEqual(asking.state.steps.count, 6)
        let question = try XCTUnwrap(EventLog.read(dir.eventsURL).last { $0.event == .awaitingApproval })
        XCTAssertTrue(question.message.hasPrefix("10 of 50 leads active in the last 60 days; widen to 120 days for perhaps 10 more"), question.message)
        // The person agrees: the widening runs, and says who agreed.
        XCTAssertTrue(asking.consentToWiden(by: "a test"))
        XCTAssertTrue(try asking.ruleStep())
        XCTAssertEqual(asking.state.widenings.first?.by, "a test")
        XCTAssertEqual(asking.state.steps.count, 12)
        XCTAssertNil(asking.state.proposal)

        // Under --yes without --widen: no widening, the writers come next, the shortfall is said.
        let dir2 = try runDirectory("job-2")
        options.yes = true
        let cron = Runner(dir: dir2, state: state(job(), jobID: "job-2"), options: options)
        XCTAssertTrue(try cron.ruleStep())
        try ranFirstPass(cron, dir2)
        _ = try cron.ruleStep()
        XCTAssertTrue(cron.state.widenings.isEmpty)
        XCTAssertEqual(cron.state.widenDeclined, "--yes without --widen")
        XCTAssertFalse(cron.state.steps[6...].contains { StageRegistry.readNames.contains($0.stage) }, "no discovery pass past the goal")
        XCTAssertEqual(cron.shortfall(rendered: 10), "10 of 50 leads (40 short) within the goal (active in the last 60 days); not widened past the goal: --yes without --widen")
    }

    func testAValueThatLooksLikeAFlagIsNeverReadAsOne() {
        let call = StageInvocation("send-instantly", [.init("campaign", .text("--allow-inactive")), .init("min-stars", .int(-5))])
        XCTAssertEqual(call.arguments, ["--campaign=--allow-inactive", "--min-stars", "-5"])
        XCTAssertEqual(StageInvocation(stage: "send-instantly", argv: call.arguments).text("campaign"), "--allow-inactive")
    }

    func testRunnerPlansAPassThenWidensTheWindow() throws {
        let dir = try runDirectory()
        var options = Runner.Options()
        options.quiet = true
        var consenting = job()
        consenting.widen = true
        let runner = Runner(dir: dir, state: state(consenting), options: options)
        XCTAssertEqual(runner.state.plan.target, 50)
        XCTAssertEqual(runner.state.plan.activeDays, 60)
        XCTAssertEqual(runner.state.plan.maxRepos, 228, "50 leads at 0.33 a repository, 1.5 times over")

        // The first pass: the six discovery steps in order.
        XCTAssertTrue(try runner.ruleStep())
        let steps = runner.state.steps
        XCTAssertEqual(steps.map(\.stage), StageRegistry.readNames)
        XCTAssertEqual(steps.map(\.n), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(steps.map(\.widenStep), [0, 0, 0, 0, 0, 0])
        XCTAssertTrue(steps.allSatisfy { $0.status == .pending })
        XCTAssertEqual(steps[0].artifact, "artifacts/01-gh-search.ndjson")
        XCTAssertEqual(steps[5].log, "logs/06-render-copy.log")
        XCTAssertEqual(arg(steps[0].arguments, "--language"), "python")
        XCTAssertEqual(arg(steps[0].arguments, "--active-days"), "60")
        XCTAssertEqual(arg(steps[0].arguments, "--max-repos"), "228")
        XCTAssertEqual(arg(steps[0].arguments, "--now"), "2024-12-07T00:00:00Z")
        XCTAssertEqual(arg(steps[1].arguments, "--since-days"), "60")
        XCTAssertEqual(arg(steps[1].arguments, "--max-people"), "228")
        XCTAssertEqual(arg(steps[4].arguments, "--top"), "50")
        XCTAssertEqual(arg(steps[4].arguments, "--as-of"), "2024-12-07T00:00:00Z")
        XCTAssertTrue(runner.state.widenings.isEmpty)
        // All pending: one pipeline from the search to the copy.
        XCTAssertEqual(runner.group(from: 0), 0..<6)
        XCTAssertEqual(runner.group(from: 3), 3..<6)
        XCTAssertNil(runner.input(for: 0))

        // The pass ran: 3 repositories … 10 rendered leads of the 50 asked for.
        let lines = ["gh-search": 3, "gh-people": 12, "gh-enrich": 12, "mx-check": 11, "score-icp": 10, "render-copy": 10]
        for i in 0..<6 {
            let s = runner.state.steps[i]
            try write((0..<lines[s.stage]!).map { #"{"login":"u\#($0)","full_name":"o/r\#($0)"}"# }, to: dir.path(s.artifact))
            runner.state.steps[i].status = .done
            runner.state.steps[i].counts = ["out": lines[s.stage]!]
        }
        XCTAssertEqual(runner.lastRendered(), 10)
        XCTAssertEqual(runner.input(for: 1), dir.path(steps[0].artifact))
        XCTAssertEqual(runner.input(for: 5), dir.path(steps[4].artifact))
        XCTAssertNil(runner.input(for: 0))

        let w = try XCTUnwrap(runner.nextWidening(pass: 0, rendered: 10, pastGoal: true))
        XCTAssertEqual(w.step, 1)
        XCTAssertEqual(w.activeDays, 120)
        XCTAssertTrue(w.reason.contains("10 of 50 leads"), w.reason)
        XCTAssertEqual(w.reason, "10 of 50 leads: activity from the last 120 days instead of 60 (past the goal)")
        XCTAssertEqual(w.maxRepos, 456)
        XCTAssertEqual(w.maxPeople, 456)
        XCTAssertNil(w.minStars)
        XCTAssertEqual(w.topics, [])
        XCTAssertTrue(runner.state.widenings.isEmpty, "nextWidening only proposes")

        // The rules take it: a second pass, pass 1, with the wider window.
        XCTAssertTrue(try runner.ruleStep())
        XCTAssertEqual(runner.state.widenings.count, 1)
        XCTAssertEqual(runner.state.widenings.first?.activeDays, 120)
        XCTAssertEqual(runner.state.steps.count, 12)
        XCTAssertEqual(runner.state.steps[6...].map(\.stage), StageRegistry.readNames)
        XCTAssertEqual(runner.state.steps[6...].map(\.widenStep), [1, 1, 1, 1, 1, 1])
        XCTAssertEqual(arg(runner.state.steps[6].arguments, "--active-days"), "120")
        XCTAssertEqual(arg(runner.state.steps[6].arguments, "--max-repos"), "456")
        XCTAssertEqual(arg(runner.state.steps[6].arguments, "--language"), "python")
        XCTAssertEqual(arg(runner.state.steps[7].arguments, "--since-days"), "120")
        XCTAssertEqual(arg(runner.state.steps[7].arguments, "--max-people"), "456")
        XCTAssertEqual(runner.state.steps[6].arguments.filter { $0 == "--active-days" }.count, 1, "the window is set once, not added")
        XCTAssertEqual(runner.state.steps[6].artifact, "artifacts/07-gh-search.ndjson")
        // score-icp of a later pass reads every pass's verified people: it runs on its own.
        XCTAssertEqual(runner.group(from: 6), 6..<10)
        XCTAssertEqual(runner.group(from: 10), 10..<12)
        // gh-people of pass 1 reads the last search done before it: pass 1's once it ran.
        runner.state.steps[6].status = .done
        XCTAssertEqual(runner.input(for: 7), dir.path(runner.state.steps[6].artifact))
        XCTAssertEqual(EventLog.read(dir.eventsURL).map(\.event), [.widening])
    }

    func testRunnerWidensStarsThenTopicsOnceTheWindowIsAYear() throws {
        let dir = try runDirectory()
        var j = job()
        j.activeDays = 365
        j.minStars = 2
        j.topics = ["ml"]
        let runner = Runner(dir: dir, state: state(j), options: Runner.Options())
        let stars = try XCTUnwrap(runner.nextWidening(pass: 0, rendered: 4, pastGoal: true))
        XCTAssertEqual(stars.step, 1)
        XCTAssertEqual(stars.minStars, 1)
        XCTAssertEqual(stars.activeDays, 365)
        XCTAssertEqual(stars.topics, ["ml"])
        XCTAssertEqual(stars.maxRepos, 456)
        XCTAssertEqual(stars.reason, "4 of 50 leads: 1+ stars instead of 2+ (past the goal)")
        runner.state.widenings = [stars]
        let topics = try XCTUnwrap(runner.nextWidening(pass: 1, rendered: 4, pastGoal: true))
        XCTAssertEqual(topics.step, 2)
        XCTAssertEqual(topics.minStars, 1)
        XCTAssertEqual(topics.topics, [])
        XCTAssertEqual(topics.maxRepos, 912, "doubled up to the cap (4 times the first pass)")
        XCTAssertEqual(topics.reason, "4 of 50 leads: any topic (the job's topics still score) instead of ml (past the goal)")
        runner.state.widenings.append(topics)
        // Nothing is left to widen: the caps are reached.
        XCTAssertNil(runner.nextWidening(pass: 2, rendered: 4, pastGoal: true))
    }

    func testRunnerWidensAtMostThreeTimes() throws {
        let dir = try runDirectory()
        var j = job()
        j.activeDays = 30
        let runner = Runner(dir: dir, state: state(j), options: Runner.Options())
        var days: [Int] = []
        for pass in 0..<5 {
            guard let w = runner.nextWidening(pass: pass, rendered: 0, pastGoal: true) else { break }
            days.append(w.activeDays)
            runner.state.widenings.append(w)
        }
        XCTAssertEqual(days, [60, 120, 240], "caps.maxWidenings is 3")
        XCTAssertEqual(runner.state.plan.caps.maxWidenings, 3)
    }

    // MARK: 8. the chat's answers

    func testChatAnswersQueuedCountAndWhyFailed() throws {
        let dir = try runDirectory()
        var s = state(job(campaign: "C1"))
        s.steps = StageRegistry.readNames.enumerated().map { step($0.offset + 1, $0.element) }
            + [step(7, "send-instantly", arguments: ["--campaign", "C1"])]
        try write([
            #"{"login":"ann","copy":{"variant":"A"},"instantly":{"status":"queued"}}"#,
            #"{"login":"bob","copy":{"variant":"B"},"instantly":{"status":"queued"}}"#,
            #"{"login":"dee","copy":{"variant":"A"},"instantly":{"status":"failed","reason":"rejected","message":"bounced"}}"#,
        ], to: dir.path(s.steps[6].artifact))
        try write([
            #"{"stage":"render-copy","line":3,"error":{"code":"missing_variable","message":"no company","retryable":false},"input":{"login":"cy"}}"#,
        ], to: dir.deadLettersURL)

        let queued = ChatAnswers.queuedCount(dir: dir, state: s)
        XCTAssertTrue(queued.contains("2 queued in Instantly campaign C1 (1 failed)"), queued)
        XCTAssertEqual(queued, "2 queued in Instantly campaign C1 (1 failed)")

        let why = ChatAnswers.whyFailed(dir: dir, state: s)
        XCTAssertTrue(why.hasPrefix("2 failed, by reason:\n"), why)
        XCTAssertTrue(why.contains("send-instantly failed: rejected"), why)
        XCTAssertTrue(why.contains("render-copy dead-lettered: missing_variable"), why)
        XCTAssertEqual(why, """
            2 failed, by reason:
              1 × render-copy dead-lettered: missing_variable — e.g. cy: no company
              1 × send-instantly failed: rejected — e.g. dee: bounced
            (the dead letters: \(dir.deadLettersURL.path))
            """)

        // While the writer runs, the count comes from its partial output.
        s.steps[6].status = .running
        try FileManager.default.moveItem(at: dir.path(s.steps[6].artifact), to: URL(fileURLWithPath: dir.path(s.steps[6].artifact).path + ".partial"))
        XCTAssertEqual(ChatAnswers.queuedCount(dir: dir, state: s), "2 queued in Instantly campaign C1 (1 failed); send-instantly is running")

        // Before the writers.
        s.steps.removeLast()
        XCTAssertEqual(ChatAnswers.queuedCount(dir: dir, state: s), "nothing queued yet: the job is at step 7; sends come after the approval")
        // A job that sends nothing.
        var quiet = state(job())
        quiet.job.export = true
        XCTAssertEqual(ChatAnswers.queuedCount(dir: dir, state: quiet), "this job sends nothing to Instantly; it exports a CSV")
        // Nothing failed.
        let clean = try runDirectory("job-2")
        XCTAssertEqual(ChatAnswers.whyFailed(dir: clean, state: quiet), "nothing failed so far: no dead letters, no failed writes")
    }

    // MARK: 9. the report

    func testReportBuildsTheFunnelWritesAndUsageFromARunDirectory() throws {
        let dir = try runDirectory()
        var s = state(job(campaign: "C1"))
        s.status = .done
        s.steps = StageRegistry.readNames.enumerated().map { step($0.offset + 1, $0.element) }
            + [step(7, "gh-search", pass: 1), step(8, "send-instantly", arguments: ["--campaign", "C1"])]
        s.steps[0].startedAt = "2024-12-07T11:45:00.000Z"
        s.steps[7].finishedAt = "2024-12-07T11:46:00.000Z"
        let a = { (n: Int) in dir.path(s.steps[n - 1].artifact) }
        let l = { (n: Int) in dir.path(s.steps[n - 1].log) }
        // gh-search, two passes: a/x is found again.
        try write([#"{"full_name":"a/x"}"#, #"{"full_name":"a/y"}"#, #"{"full_name":"b/z"}"#], to: a(1))
        try write([#"{"full_name":"a/x"}"#, #"{"full_name":"c/w"}"#], to: a(7))
        // gh-people: ann twice.
        try write([#"{"login":"ann"}"#, #"{"login":"bob"}"#, #"{"login":"cy"}"#, #"{"login":"dee"}"#, #"{"login":"ann"}"#], to: a(2))
        try write([
            #"{"login":"ann","emails":[{"address":"ann@a.io"}]}"#, #"{"login":"bob","email":"bob@b.io"}"#, #"{"login":"cy","emails":[]}"#,
            #"{"login":"dee","emails":[{"address":"dee@d.io"}]}"#,
        ], to: a(3))
        try write([#"{"login":"ann"}"#, #"{"login":"bob"}"#, #"{"login":"dee"}"#], to: a(4))
        try write([#"{"login":"ann","score":0.9}"#, #"{"login":"bob","score":0.8}"#, #"{"login":"dee","score":0.7}"#], to: a(5))
        try write([
            #"{"login":"ann","name":"Ann Lee","best_email":"ann@a.io","copy":{"subject":"Hi Ann","body":"Hello","variant":"A"}}"#,
            #"{"login":"bob","best_email":"bob@b.io","copy":{"subject":"Hi Bob","body":"Hello","variant":"B"}}"#,
            #"{"login":"dee","best_email":"dee@d.io","copy":{"subject":"Hi Dee","body":"Hello","variant":"A"}}"#,
        ], to: a(6))
        try write([
            #"{"login":"ann","copy":{"variant":"A"},"instantly":{"status":"queued"}}"#,
            #"{"login":"bob","copy":{"variant":"B"},"instantly":{"status":"queued"}}"#,
            #"{"login":"dee","copy":{"variant":"A"},"instantly":{"status":"failed","reason":"rejected","message":"bounced"}}"#,
        ], to: a(8))
        try write(["gh-search: text first", summaryLine("gh-search", out: 3, http: 2, notModified: 1)], to: l(1))
        try write([summaryLine("gh-people", in: 3, out: 5, filtered: 2, filteredBy: #"{"bot":2}"#, http: 5)], to: l(2))
        try write([summaryLine("gh-enrich", in: 5, out: 4, http: 7)], to: l(3))
        try write([summaryLine("mx-check", in: 4, out: 3, filtered: 1, filteredBy: #"{"no_email":1}"#, extra: #","dns_queries":4,"verdicts":{"safe":2,"risky":1,"invalid":1}"#)], to: l(4))
        try write([summaryLine("score-icp", in: 3, out: 3)], to: l(5))
        try write([summaryLine("render-copy", in: 4, out: 3, dead: 1)], to: l(6))
        try write([summaryLine("gh-search", out: 2, http: 3)], to: l(7))
        try write([summaryLine("send-instantly", in: 3, out: 3, http: 2)], to: l(8))
        try write([
            #"{"stage":"render-copy","line":4,"error":{"code":"missing_variable","message":"no company"},"input":{"login":"cy"}}"#,
        ], to: dir.deadLettersURL)
        try dir.save(s)

        let r = try RunReport.build(dir.url)
        XCTAssertEqual(r.jobID, "job-1")
        XCTAssertEqual(r.source, "run")
        XCTAssertEqual(r.status, "done")
        XCTAssertEqual(r.target, 50)
        XCTAssertEqual(r.planner, "rule")
        XCTAssertEqual(r.steps.map(\.n), Array(1...8))
        XCTAssertEqual(r.steps.map { $0.summary?.output }, [3, 5, 4, 3, 3, 3, 2, 3])
        XCTAssertEqual(r.wallSeconds, 60)

        let funnel = Dictionary(uniqueKeysWithValues: r.funnel.map { ($0.key, $0.count) })
        XCTAssertEqual(r.funnel.map(\.key), ["repositories", "people", "with_email", "verified", "scored", "rendered", "queued"])
        XCTAssertEqual(funnel, ["repositories": 4, "people": 4, "with_email": 3, "verified": 3, "scored": 3, "rendered": 3, "queued": 2])
        let drops = Dictionary(uniqueKeysWithValues: r.funnel.map { ($0.key, $0.drops) })
        XCTAssertEqual(drops["repositories"]?.map(\.kind), ["found again"])
        XCTAssertEqual(drops["repositories"]?.first?.count, 1)
        XCTAssertEqual(Set(drops["people"]?.map { "\($0.kind) \($0.reason) \($0.count)" } ?? []),
                       ["filtered bot 2", "found again by a later pass (counted once) 1"])
        XCTAssertEqual(drops["with_email"]?.first?.kind, "no address")
        XCTAssertEqual(drops["with_email"]?.first?.example, "cy")
        XCTAssertEqual(drops["verified"]?.count, 0, "no address is the bar before's drop")
        XCTAssertEqual(drops["rendered"]?.map(\.reason), ["missing_variable"])
        XCTAssertEqual(drops["queued"]?.map { "\($0.kind) \($0.reason) \($0.count) \($0.example ?? "-")" }, ["failed rejected 1 dee: bounced"])

        XCTAssertEqual(r.writes.count, 1)
        XCTAssertEqual(r.writes.first?.service, "Instantly")
        XCTAssertEqual(r.writes.first?.target, "C1")
        XCTAssertEqual(r.writes.first?.statuses, ["queued": 2, "failed": 1])

        let usage = Dictionary(uniqueKeysWithValues: r.services.map { ($0.service, $0) })
        XCTAssertEqual(r.services.map(\.service), ["GitHub", "DNS", "Instantly"])
        XCTAssertEqual(usage["GitHub"]?.requests, 2 + 5 + 7 + 3)
        XCTAssertEqual(usage["GitHub"]?.notModified, 1)
        XCTAssertEqual(usage["GitHub"]?.stages, ["gh-search", "gh-people", "gh-enrich"])
        XCTAssertEqual(usage["DNS"]?.requests, 4)
        XCTAssertEqual(usage["Instantly"]?.requests, 2)

        XCTAssertEqual(r.deadLetters, 1)
        XCTAssertEqual(r.deliverability?.addressesChecked, 4)
        XCTAssertEqual(r.deliverability?.mxPassRate, 0.75)
        XCTAssertEqual(r.variants.map { "\($0.name) \($0.rendered) \($0.sent) \($0.queued)" }, ["A 2 2 1", "B 1 1 1"])
        XCTAssertEqual(r.samples.map(\.login), ["ann", "bob", "dee"])
        XCTAssertEqual(r.metrics.leads, 3)
        XCTAssertEqual(r.metrics.prospectsPerMinute, 3)
        XCTAssertEqual(try XCTUnwrap(r.metrics.instantlyAcceptance), 2.0 / 3.0, accuracy: 1e-9)
        XCTAssertTrue(r.notes.contains { $0.hasPrefix("2 discovery passes") }, "\(r.notes)")

        // A directory with no run in it is refused.
        let empty = tmp.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try RunReport.build(empty))
    }
}
