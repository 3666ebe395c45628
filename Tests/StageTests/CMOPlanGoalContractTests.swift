import CMOTestSupport
import Foundation
import XCTest

/// The goal is a contract: its window and star floor are never widened without someone's consent (the
/// job's `--widen`, the person's answer to the gate's question), a shortfall is said; a planner model
/// adds no constraint the goal did not state; everything knowable is checked before the first GitHub
/// request, on every path, and `resume` takes corrected settings.
final class CMOPlanGoalContractTests: XCTestCase {
    static let now = CMOPlanTests.now

    /// A world too small for 300 Go leads active in the last 60 days.
    func sandbox() throws -> SandboxLauncher { try SandboxLauncher(["--repos", "400", "--users", "600", "--now", Self.now]) }

    func plan(_ s: SandboxLauncher, _ dir: String, _ args: [String], drop: [String] = [], stdin: Data = Data()) throws -> SpawnResult {
        var env = s.environment
        env["CMO_STATE_DIR"] = dir + "/state"
        env["CMO_RUNS_DIR"] = dir + "/runs"
        for k in drop { env.removeValue(forKey: k) }
        return try Spawn.run("cmo-plan", args, stdin: stdin, environment: env)
    }

    func state(_ dir: String, _ id: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/runs/\(id)/state.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func steps(_ st: [String: Any]) -> [[String: Any]] { st["steps"] as? [[String: Any]] ?? [] }

    func arguments(_ st: [String: Any], _ stage: String) -> [[String]] {
        steps(st).filter { $0["stage"] as? String == stage }.compactMap { $0["arguments"] as? [String] }
    }

    func value(_ args: [String], _ flag: String) -> String? { args.firstIndex(of: flag).map { args[$0 + 1] } }

    func githubRequests(_ s: SandboxLauncher) throws -> Int {
        let requests = try s.stats()["requests"] as? [String: Int] ?? [:]
        return requests.filter { $0.key.hasPrefix("github ") }.values.reduce(0, +)
    }

    func instantlyLeads(_ s: SandboxLauncher) throws -> Int {
        ((try s.stats()["services"] as? [String: Any])?["instantly"] as? [String: Any])?["leads"] as? Int ?? -1
    }

    func campaign(_ s: SandboxLauncher) -> String { s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN"] ?? "" }

    /// Every rendered lead of the job's best pass.
    func rendered(_ dir: String, _ id: String) throws -> [[String: Any]] {
        let st = try state(dir, id)
        let best = steps(st).filter { $0["stage"] as? String == "render-copy" && $0["status"] as? String == "done" }
            .max { (($0["counts"] as? [String: Int])?["out"] ?? 0) < (($1["counts"] as? [String: Int])?["out"] ?? 0) }
        guard let artifact = best?["artifact"] as? String else { return [] }
        let text = try String(contentsOfFile: "\(dir)/runs/\(id)/\(artifact)", encoding: .utf8)
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func testUnderYesAJobKeepsItsWindowAndSaysItsShortfall() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let r = try plan(s, dir, ["run", "--yes", "--config", CMOPlanTests.campaign, "--now", Self.now, "--job-id", "y1",
                                   "Find 300 Go maintainers active in the last 60 days, export a CSV"])
        XCTAssertEqual(r.status, 0, r.err)
        let st = try state(dir, "y1")
        XCTAssertEqual((st["widenings"] as? [Any])?.count, 0, "no widening past the goal without consent: \(r.err)")
        XCTAssertEqual(st["widen_declined"] as? String, "--yes without --widen")
        for a in arguments(st, "gh-search") { XCTAssertEqual(value(a, "--active-days"), "60", "\(a)") }
        for a in arguments(st, "gh-people") { XCTAssertEqual(value(a, "--since-days"), "60", "\(a)") }
        let leads = try rendered(dir, "y1")
        XCTAssertGreaterThan(leads.count, 0)
        XCTAssertLessThan(leads.count, 300)
        // The job's people committed within its 60 days.
        let cutoff = "2026-09-21T00:00:00Z"
        for lead in leads {
            let last = ((lead["signals"] as? [String: Any])?["last_commit_at"] as? String) ?? ""
            XCTAssertGreaterThanOrEqual(last, cutoff, "\(lead["login"] ?? "?") last committed \(last), outside the goal's 60 days")
        }
        XCTAssertTrue(r.err.contains("short: \(leads.count) of 300 leads (\(300 - leads.count) short) within the goal (active in the last 60 days)"), r.err)
        let summary = st["summary"] as? String ?? ""
        XCTAssertTrue(summary.contains("short: "), summary)
        let report = try String(contentsOfFile: "\(dir)/runs/y1/report.json", encoding: .utf8)
        XCTAssertTrue(report.contains("short: \(leads.count) of 300"), "the report says the shortfall")

        // -q: the shortfall is still said.
        let q = try plan(s, dir, ["run", "--yes", "-q", "--config", CMOPlanTests.campaign, "--now", Self.now, "--job-id", "y2",
                                   "Find 300 Go maintainers active in the last 60 days, export a CSV"])
        XCTAssertEqual(q.status, 0, q.err)
        XCTAssertTrue(q.err.contains("short: "), q.err)
    }

    func testWidenLetsTheJobWidenAndSaysWhoAgreed() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let r = try plan(s, dir, ["run", "--yes", "--widen", "--config", CMOPlanTests.campaign, "--now", Self.now, "--job-id", "w1",
                                   "Find 300 Go maintainers active in the last 60 days, export a CSV"])
        XCTAssertEqual(r.status, 0, r.err)
        let st = try state(dir, "w1")
        let widenings = st["widenings"] as? [[String: Any]] ?? []
        XCTAssertGreaterThan(widenings.count, 0, r.err)
        XCTAssertEqual(widenings.first?["by"] as? String, "the job (widen)")
        XCTAssertEqual(widenings.first?["activeDays"] as? Int, 120)
        XCTAssertTrue(r.err.contains("(agreed by the job (widen))"), r.err)
        XCTAssertTrue(r.err.contains("after widening past the goal"), r.err)
    }

    func testAJobAsksBeforeWideningThenBeforeWriting() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let goal = "Find 300 Go maintainers active in the last 60 days, queue them in Instantly campaign \(campaign(s))"
        let r = try plan(s, dir, ["run", "--config", CMOPlanTests.campaign, "--now", Self.now, "--job-id", "a1", goal])
        XCTAssertEqual(r.status, 0, r.err)
        var st = try state(dir, "a1")
        XCTAssertEqual(st["status"] as? String, "awaiting_approval")
        XCTAssertNotNil(st["proposal"], "the widening is put to the person")
        XCTAssertTrue(r.err.contains("widen to 120 days"), r.err)
        XCTAssertTrue(r.err.contains("cmo-plan widen a1"), r.err)
        XCTAssertTrue(r.err.contains("Instantly: add leads to campaign"), "the gate's counts come with the question: \(r.err)")
        XCTAssertEqual(try instantlyLeads(s), 0)

        let w = try plan(s, dir, ["widen", "a1"])
        XCTAssertEqual(w.status, 0, w.err)
        st = try state(dir, "a1")
        let widenings = st["widenings"] as? [[String: Any]] ?? []
        XCTAssertEqual(widenings.count, 1)
        XCTAssertTrue((widenings.first?["by"] as? String ?? "").hasPrefix("cmo-plan widen"), "\(widenings)")
        XCTAssertEqual(st["status"] as? String, "awaiting_approval", "asked again before anything is written")
        XCTAssertEqual(try instantlyLeads(s), 0)

        let a = try plan(s, dir, ["approve", "a1"])
        XCTAssertEqual(a.status, 0, a.err)
        st = try state(dir, "a1")
        XCTAssertEqual(st["status"] as? String, "done", a.err)
        XCTAssertEqual((st["widenings"] as? [Any])?.count, 1, "approving goes on with what was found, not widened further")
        XCTAssertTrue((st["widen_declined"] as? String ?? "").contains("approved without widening"))
        XCTAssertEqual(try instantlyLeads(s), try rendered(dir, "a1").count)
        let events = try String(contentsOfFile: "\(dir)/runs/a1/events.ndjson", encoding: .utf8)
        XCTAssertTrue(events.contains("approved by cmo-plan approve"), "the events name who approved")
    }

    func testTheModelPlannerMayNotLowerTheGoalsStarFloor() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let r = try plan(s, dir, ["run", "--yes", "--planner", "model", "--planner-model", "cmo-planner", "--config", CMOPlanTests.campaign,
                                   "--now", Self.now, "--job-id", "m1", "Find 300 Python maintainers with 20+ stars active in the last 90 days, export a CSV"])
        XCTAssertEqual(r.status, 0, r.err)
        let st = try state(dir, "m1")
        for a in arguments(st, "gh-search") { XCTAssertEqual(value(a, "--min-stars"), "20", "the floor the goal states, every pass: \(a)") }
        let events = try String(contentsOfFile: "\(dir)/runs/m1/events.ndjson", encoding: .utf8)
        XCTAssertTrue(events.contains("min_stars 10 instead of 20"), "the model's halved floor is refused: \(events)")
    }

    func testMistakesAreCaughtBeforeTheFirstGitHubRequestAndResumeTakesCorrections() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let goal = "Find 12 Python maintainers active in the last 90 days, queue them in Instantly campaign \(campaign(s))"

        // No key.
        let noKey = try plan(s, dir, ["run", "--yes", "--config", CMOPlanTests.campaign, "--now", Self.now, "--job-id", "k1", goal], drop: ["INSTANTLY_API_KEY"])
        XCTAssertEqual(noKey.status, 78, noKey.err)
        XCTAssertTrue(noKey.err.contains("INSTANTLY_API_KEY"), noKey.err)
        XCTAssertTrue(noKey.err.contains("nothing was searched or written"), noKey.err)
        XCTAssertEqual(try githubRequests(s), 0, "no GitHub request before the preflight failed")

        // A campaign that does not exist, then corrected on resume.
        let wrong = try plan(s, dir, ["run", "--yes", "--config", CMOPlanTests.campaign, "--now", Self.now, "--job-id", "c1",
                                       "Find 12 Python maintainers active in the last 90 days, queue them in Instantly campaign 00000000-0000-4000-8000-000000000000"])
        XCTAssertEqual(wrong.status, 78, wrong.err)
        XCTAssertEqual(try githubRequests(s), 0)
        // Corrected by its name: resolved to its id before anything is written.
        let fixed = try plan(s, dir, ["resume", "c1", "--yes", "--campaign", "Developers — open source maintainers"])
        XCTAssertEqual(fixed.status, 0, fixed.err)
        let st = try state(dir, "c1")
        XCTAssertEqual(st["status"] as? String, "done", fixed.err)
        XCTAssertEqual((st["job"] as? [String: Any])?["instantly_campaign"] as? String, campaign(s))
        XCTAssertTrue(fixed.err.contains("'Developers — open source maintainers' is"), fixed.err)
        XCTAssertGreaterThan(try instantlyLeads(s), 0)

        // The same checks on the worker's path: a submitted job with no key fails before any search.
        let before = try githubRequests(s)
        let sub = try plan(s, dir, ["submit", "--yes", "--config", CMOPlanTests.campaign, "--now", Self.now, "--job-id", "q1", goal])
        XCTAssertEqual(sub.status, 0, sub.err)
        let worker = try plan(s, dir, ["worker", "--until-idle"], drop: ["INSTANTLY_API_KEY"])
        XCTAssertEqual(worker.status, 0, worker.err)
        XCTAssertEqual(try state(dir, "q1")["status"] as? String, "failed")
        XCTAssertEqual(try githubRequests(s), before, "the worker's job was checked before its first GitHub request")
        _ = goal
    }

    func testNoConfigIsSaidInCmoPlansOwnWords() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let r = try plan(s, dir, ["run", "--yes", "--now", Self.now, "--job-id", "n1", "Find 12 Python maintainers active in the last 90 days, export a CSV"],
                         drop: ["CMO_CONFIG"])
        XCTAssertEqual(r.status, 78, r.err)
        XCTAssertTrue(r.err.contains("--config FILE"), r.err)
        XCTAssertFalse(r.err.contains("--template"), "no advice about a flag cmo-plan does not have: \(r.err)")
        XCTAssertEqual(try githubRequests(s), 0)
    }

    func testTheChatAsksWithTheCopyThenTakesAFilterAndTheYes() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let goal = "Find 8 Python maintainers active in the last 90 days, queue them in Instantly campaign \(campaign(s))"
        let script = [goal, "yes", "wait", "only people with more than 10 followers", "what's the reply rate?", "yes", "wait", "quit"]
        let r = try plan(s, dir, ["chat", "--config", CMOPlanTests.campaign, "--now", Self.now], stdin: Data((script.joined(separator: "\n") + "\n").utf8))
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("approve? (yes / no)"), r.out)
        XCTAssertTrue(r.out.contains("only people with more than 10 followers: applied to what has not been written yet"), r.out)
        XCTAssertTrue(r.out.contains("reply rate: not tracked yet"), r.out)
        let id = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: dir + "/runs").first)
        let st = try state(dir, id)
        XCTAssertEqual(st["status"] as? String, "done", r.out)
        let send = try XCTUnwrap(arguments(st, "send-instantly").first)
        XCTAssertEqual(value(send, "--where"), "(.followers // 0) > 10")
        // What was sent kept the filter: every lead queued has more than 10 followers.
        let leads = try rendered(dir, id)
        let many = leads.filter { ($0["followers"] as? Int ?? 0) > 10 }.count
        XCTAssertEqual(try instantlyLeads(s), many, "\(leads.count) rendered, \(many) with more than 10 followers")
        XCTAssertLessThan(many, leads.count, "the filter left some out")
    }

    func testPeopleContactedLatelyInAnotherCampaignAreLeftOutWhenAsked() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let goal = "Find 8 Python maintainers active in the last 90 days, queue them in Instantly campaign \(campaign(s))"
        let first = try plan(s, dir, ["run", "--yes", "--config", CMOPlanTests.campaign, "--now", Self.now, "--job-id", "c1", goal])
        XCTAssertEqual(first.status, 0, first.err)
        let st = try state(dir, "c1")
        let artifact = try XCTUnwrap(steps(st).last { $0["stage"] as? String == "render-copy" }?["artifact"] as? String)
        let input = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/runs/c1/\(artifact)"))
        var env = s.environment
        env["CMO_STATE_DIR"] = dir + "/state"
        env["CMO_JOB_ID"] = "c2"
        let other = try XCTUnwrap(s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN_DRAFT"])
        let args = ["--config", CMOPlanTests.campaign, "--campaign", other, "--now", "2026-11-25T00:00:00Z", "--min-verdict", "risky"]
        let skipped = try Spawn.run("send-instantly", args + ["--skip-contacted-days", "90"], stdin: input, environment: env)
        XCTAssertEqual(skipped.status, 0, skipped.err)
        let statuses = try NDJSON.statuses(skipped, field: "instantly")
        XCTAssertEqual(statuses["skipped"], try rendered(dir, "c1").count, "\(statuses) \(skipped.err)")
        XCTAssertTrue(skipped.out.contains("contacted_recently"), skipped.out)
        // Outside the window they go out.
        let later = try Spawn.run("send-instantly", args + ["--skip-contacted-days", "3"], stdin: input, environment: env)
        XCTAssertEqual(later.status, 0, later.err)
        XCTAssertEqual(try NDJSON.statuses(later, field: "instantly")["skipped"] ?? 0, 0, later.out)
    }
}
