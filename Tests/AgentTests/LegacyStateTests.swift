@testable import CMOAgent
import CMOContract
import Foundation
import XCTest

/// A state.json written before the plan was typed (steps and planned stages as argv only, by the
/// demo at 83644f3, cut after step 3) still loads, and the run goes on with the same argv.
final class LegacyStateTests: XCTestCase {
    static let legacy = #"""
{"config":"/tmp/cmo-demo.Ybuj2d/campaign.yaml","created_at":"2026-12-07T13:37:31.352Z","errors":[],"goal":"Find 200 Python maintainers active in the last 90 days, queue them in Instantly campaign 47bae496-3f9f-433e-81a5-b89ccba1eeac, add them to Attio list 036f69d4-d6f0-4cb8-b5a8-8f012e388140, file the errors in Linear team e35c98aa-6c2f-4dba-a11b-70fe953bdabb, export a CSV","job":{"active_days":90,"attio_list":"036f69d4-d6f0-4cb8-b5a8-8f012e388140","export":true,"instantly_campaign":"47bae496-3f9f-433e-81a5-b89ccba1eeac","languages":["python"],"linear_team":"e35c98aa-6c2f-4dba-a11b-70fe953bdabb","target":200},"job_id":"demo-20261207T133731","parser":"rule","plan":{"active_days":90,"caps":{"max_people":3640,"max_repos":3640,"max_steps":40,"max_widenings":3,"per_tool":{"export-csv":1,"gh-enrich":4,"gh-people":4,"gh-search":4,"mx-check":4,"render-copy":4,"score-icp":4,"send-instantly":1,"sync-attio":1,"sync-linear":1}},"expected":[{"quota":"search 30/min (10 pages), GraphQL 5,000 points/h","requests":28,"service":"GitHub"},{"quota":"100/s, 6,000/min","requests":4,"service":"Instantly"},{"quota":"25 writes/s, 100 reads/s","requests":604,"service":"Attio"},{"quota":"1,500 requests/h per key (complexity aside)","requests":3,"service":"Linear"}],"max_people":910,"max_repos":910,"now":"2026-11-20T00:00:00Z","planner":"rule","side_effects":[{"action":"add leads to campaign","count":200,"dry_run":false,"service":"Instantly","target":"47bae496-3f9f-433e-81a5-b89ccba1eeac"},{"action":"assert people, add them to list, one note each, in","count":200,"dry_run":false,"service":"Attio","target":"036f69d4-d6f0-4cb8-b5a8-8f012e388140"},{"action":"file the run's dead letters (one parent, a child per error) in team","count":1,"dry_run":false,"service":"Linear","target":"e35c98aa-6c2f-4dba-a11b-70fe953bdabb"},{"action":"write the CSV","count":200,"dry_run":false,"service":"file","target":"runs/demo-20261207T133731/exports/leads.csv"}],"stages":[{"arguments":["--language","python","--active-days","90","--max-repos","910","--now","2026-11-20T00:00:00Z"],"irreversible":false,"stage":"gh-search"},{"arguments":["--since-days","90","--max-people","910","--now","2026-11-20T00:00:00Z"],"irreversible":false,"stage":"gh-people"},{"arguments":[],"irreversible":false,"stage":"gh-enrich"},{"arguments":["--min-verdict","risky"],"irreversible":false,"stage":"mx-check"},{"arguments":["--top","200","--language","python","--as-of","2026-11-20T00:00:00Z"],"irreversible":false,"stage":"score-icp"},{"arguments":["--require-unsubscribe"],"irreversible":false,"stage":"render-copy"},{"arguments":["--campaign","47bae496-3f9f-433e-81a5-b89ccba1eeac","--now","2026-11-20T00:00:00Z"],"irreversible":true,"stage":"send-instantly"},{"arguments":["--list","036f69d4-d6f0-4cb8-b5a8-8f012e388140","--job","demo-20261207T133731","--only-status","queued"],"irreversible":true,"stage":"sync-attio"},{"arguments":["--team","e35c98aa-6c2f-4dba-a11b-70fe953bdabb","--job","demo-20261207T133731"],"irreversible":true,"stage":"sync-linear"},{"arguments":["-o","exports/leads.csv","--columns","login,name,best_email,score,company,location,signals.repo,signals.repo_language,signals.repo_stars,instantly.status","--column","subject=.copy.subject","--column","body=.copy.body","--column","variant=.copy.variant"],"irreversible":false,"stage":"export-csv"}],"target":200,"yields":{"github_requests_per_lead":0.04,"leads_per_person":0.33,"leads_per_repo":0.33,"source":"built-in (the demo's yield)"}},"status":"running","steps":[{"arguments":["--language","python","--active-days","90","--max-repos","910","--now","2026-11-20T00:00:00Z"],"artifact":"artifacts/01-gh-search.ndjson","counts":{"dead":0,"filtered":0,"http":7,"http_304":0,"in":0,"out":533},"exitStatus":0,"finishedAt":"2026-12-07T13:37:31.772Z","log":"logs/01-gh-search.log","n":1,"seconds":0.342,"stage":"gh-search","startedAt":"2026-12-07T13:37:31.430Z","status":"done","widenStep":0},{"arguments":["--since-days","90","--max-people","910","--now","2026-11-20T00:00:00Z"],"artifact":"artifacts/02-gh-people.ndjson","counts":{"dead":0,"filtered":0,"http":8,"http_304":0,"in":533,"out":369},"exitStatus":0,"finishedAt":"2026-12-07T13:37:32.787Z","log":"logs/02-gh-people.log","n":2,"seconds":1.358,"stage":"gh-people","startedAt":"2026-12-07T13:37:31.430Z","status":"done","widenStep":0},{"arguments":[],"artifact":"artifacts/03-gh-enrich.ndjson","counts":{"dead":0,"filtered":0,"http":5,"http_304":0,"in":369,"out":369},"exitStatus":0,"finishedAt":"2026-12-07T13:37:33.591Z","log":"logs/03-gh-enrich.log","n":3,"seconds":2.162,"stage":"gh-enrich","startedAt":"2026-12-07T13:37:31.430Z","status":"done","widenStep":0}],"strikes":0,"turns":[],"updated_at":"2026-12-07T13:37:44.002Z","widenings":[]}
"""#

    func testAnOldStateResumesWithTheSameArguments() throws {
        let state = try JSONDecoder().decode(RunState.self, from: Data(Self.legacy.utf8))
        XCTAssertEqual(state.steps.count, 3)
        XCTAssertNil(state.steps[0].invocation, "the old state has argv only")
        XCTAssertEqual(state.steps[0].call.int("max-repos"), 910, "read back as typed options")
        XCTAssertEqual(state.steps[0].call.arguments, state.steps[0].arguments)
        let old = try JSONSerialization.jsonObject(with: Data(Self.legacy.utf8)) as? [String: Any]
        let oldStages = try XCTUnwrap((old?["plan"] as? [String: Any])?["stages"] as? [[String: Any]])
        XCTAssertEqual(state.plan.stages.count, oldStages.count)
        for (planned, o) in zip(state.plan.stages, oldStages) {
            XCTAssertEqual(planned.arguments, o["arguments"] as? [String], planned.stage)
        }
        XCTAssertEqual(state.plan.planned("score-icp")?.int("top"), 200)
        XCTAssertTrue(state.plan.planned("export-csv")?.has("-o") == true, "a short option keeps its dash")

        let runs = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("legacy-\(getpid())-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: runs) }
        let dir = RunDirectory(runs: runs, jobID: state.jobID)
        try dir.create()
        let runner = Runner(dir: dir, state: state, options: .init())
        XCTAssertTrue(try runner.ruleStep())
        let added = runner.currentState.steps.dropFirst(3)
        XCTAssertEqual(added.map(\.stage), ["mx-check", "score-icp", "render-copy"], "the rest of the first pass")
        for step in added {
            XCTAssertEqual(step.arguments, oldStages.first { $0["stage"] as? String == step.stage }?["arguments"] as? [String], step.stage)
            XCTAssertEqual(step.invocation?.arguments, step.arguments)
        }
        // Saved again, the state keeps both the typed invocation and the argv.
        try dir.save(runner.currentState)
        let saved = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: dir.stateURL)) as? [String: Any])
        let lastStep = try XCTUnwrap((saved["steps"] as? [[String: Any]])?.last)
        XCTAssertNotNil(lastStep["invocation"])
        XCTAssertEqual(lastStep["arguments"] as? [String], ["--require-unsubscribe"])
        XCTAssertEqual(try dir.load().steps.count, 6)
    }
}
