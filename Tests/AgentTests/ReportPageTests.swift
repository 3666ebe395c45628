@testable import CMOAgent
import CMOContract
import Foundation
import XCTest

/// The report's reading of a stage's JSON summary and its escaping of what came from outside.
final class ReportPageTests: XCTestCase {
    func testASummaryLineIsReadBack() throws {
        let s = try XCTUnwrap(StageSummary.decode(line: Data(
            #"{"ts":"2026-11-24T20:53:35.084Z","level":"info","stage":"mx-check","event":"summary","msg":"28 in, 17 out","in":28,"out":17,"filtered":11,"filtered_by":{"below_risky":1,"no_email":9,"role_only":1},"dead_lettered":2,"http_requests":46,"http_not_modified":3,"seconds":12.04,"output_closed":false,"quota_spent":{"core":1,"graphql":2},"http_retries":4,"http_rate_limited":0,"http_wait_seconds":0,"dns_cache":"on","verdicts":{"safe":20,"risky":2},"failed_domain_reasons":{"a.example":"nxdomain"}}"#.utf8)))
        XCTAssertEqual([s.input, s.output, s.filtered, s.deadLettered, s.requests, s.notModified], [28, 17, 11, 2, 46, 3])
        XCTAssertEqual(s.seconds, 12.04)
        XCTAssertEqual(s.filteredBy, ["below_risky": 1, "no_email": 9, "role_only": 1])
        XCTAssertEqual(s.quota, ["core": 1, "graphql": 2])
        XCTAssertEqual(s.extra["http_retries"]?.number, 4)
        XCTAssertEqual(s.extra["verdicts"]?.object, ["safe": 20, "risky": 2])
        XCTAssertEqual(s.extra["failed_domain_reasons"]?.texts, ["a.example": "nxdomain"])
        XCTAssertNil(s.extra["http_rate_limited"], "a zero retry, limit or wait figure is not an extra, as in the text summary")
        XCTAssertNil(StageSummary.decode(line: Data(#"{"level":"info","stage":"mx-check","event":"log","msg":"28 in, 17 out"}"#.utf8)), "a log line is no summary")
    }

    func testOutsideTextIsEscapedAndCut() {
        XCTAssertEqual(ReportPage.esc(#"<script>alert("x")</script> & 'y'"#, 100), "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;")
        XCTAssertEqual(ReportPage.esc("a\r\nb\u{1B}[31m\u{202E}c", 100), "a\nb[31mc", "control and bidi characters dropped, new lines kept")
        XCTAssertEqual(ReportPage.esc(String(repeating: "x", count: 50), 10), String(repeating: "x", count: 10) + "…")
    }

    func testThePageEscapesALeadAndHighlightsItsOwnWords() throws {
        let sample = RunReport.Sample(
            login: "evil", name: "<img src=x onerror=alert(1)>", email: "a@b.example", score: 0.5, variant: "A",
            subject: "About {{ 7*7 }} & <b>you</b>", body: "Hi <Bob>,\nI saw =HYPERLINK(\"http://x\") in acme/<repo>", personal: ["<Bob>", "acme/<repo>"])
        let report = RunReport(
            jobID: "j\"1", goal: "<h1>goal</h1>", status: "done", source: "run", createdAt: nil, finishedAt: nil, wallSeconds: 60, target: 1,
            planner: "rule", steps: [], funnel: [RunReport.FunnelStage(key: "rendered", label: "rendered", count: 1234, drops: [])], waits: [],
            services: [], deliverability: nil, variants: [], writes: [], metrics: RunReport.Metrics(leads: 1, prospectsPerMinute: nil, mxPassRate: nil, instantlyAcceptance: nil), samples: [sample], deadLetters: 0, notes: ["<i>n</i>"])
        let html = ReportPage.html(report)
        XCTAssertFalse(html.contains("<img"), "no markup from a lead")
        XCTAssertFalse(html.contains("<h1>goal"))
        XCTAssertTrue(html.contains("&lt;img src=x onerror=alert(1)&gt;"))
        XCTAssertTrue(html.contains("<mark>&lt;Bob&gt;</mark>"), html)
        XCTAssertTrue(html.contains("<mark>acme/&lt;repo&gt;</mark>"))
        XCTAssertTrue(html.contains(#"data-count="1234""#) && html.contains("1,234"))
        XCTAssertFalse(html.contains("<script"))
        XCTAssertTrue(html.contains("&lt;i&gt;n&lt;/i&gt;"))
    }

    /// The heading is the short title; the goal, ids and all, is shown in full under it.
    func testThePageIsTitledShortWithTheGoalBelow() throws {
        let goal = "Find 200 Python maintainers active in the last 90 days, queue them in Instantly campaign 0f6a7c2e-1111-4a4a-8b8b-123456789abc, "
            + "add them to Attio list 036f69d4-d6f0-4cb8-b5a8-8f012e388140, file errors in Linear team e35c98aa-6c2f-4dba-a11b-70fe953bdabb"
        var report = RunReport(
            jobID: "j1", goal: goal, title: "200 Python leads, last 90 days", status: "done", source: "run", createdAt: nil, finishedAt: nil,
            wallSeconds: 60, target: 200, planner: "rule", steps: [], funnel: [], waits: [], services: [], deliverability: nil, variants: [],
            writes: [], metrics: RunReport.Metrics(leads: 0, prospectsPerMinute: nil, mxPassRate: nil, instantlyAcceptance: nil), samples: [],
            deadLetters: 0, notes: [])
        let html = ReportPage.html(report)
        XCTAssertTrue(html.contains("<title>cmo — 200 Python leads, last 90 days</title>"), html)
        XCTAssertTrue(html.contains("<h1>200 Python leads, last 90 days</h1>"), html)
        XCTAssertTrue(html.contains("<p class=\"goal\" id=\"goal\">\(goal)</p>"), "the goal in full")
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any]
        XCTAssertEqual(json?["title"] as? String, "200 Python leads, last 90 days")
        // A report without a title (a discover.sh folder, an older report.json) is headed as before.
        report.title = nil
        XCTAssertTrue(ReportPage.html(report).contains("<h1>\(goal)</h1>"))
        XCTAssertNil(try JSONDecoder().decode(RunReport.self, from: JSONEncoder().encode(report)).title)
    }
}
