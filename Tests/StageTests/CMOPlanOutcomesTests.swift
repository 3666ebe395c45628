import CMOContract
import CMOStorage
import CMOTestSupport
import Foundation
import XCTest

/// cmo-plan and what Instantly sends back (issue 28), against the sandbox, with events stored as cmo-hooks
/// stores them: a campaign bouncing over the guard's limit pauses a job before its send step, with the
/// reason in its status; a plain resume pauses it again; `resume --accept-bounces` goes on and records who
/// did. Then the job's outcomes in report.json, the page and `status` are the stored events, by variant.
final class CMOPlanOutcomesTests: XCTestCase {
    static let now = "2026-11-20T00:00:00Z"
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static var campaign: String { root + "/pipelines/demo-campaign.yaml" }

    func plan(_ s: SandboxLauncher, _ args: [String], state: String, runs: String) throws -> SpawnResult {
        var env = s.environment
        env["CMO_STATE_DIR"] = state
        env["CMO_RUNS_DIR"] = runs
        return try Spawn.run("cmo-plan", args, environment: env)
    }

    func runState(_ runs: String, _ id: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(runs)/\(id)/state.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func instantlyLeads(_ s: SandboxLauncher) throws -> Int {
        let services = try XCTUnwrap(try s.stats()["services"] as? [String: Any])
        return (services["instantly"] as? [String: Any])?["leads"] as? Int ?? -1
    }

    /// An event as cmo-hooks stores it.
    func store(_ s: HookEventStore, _ type: String, _ lead: String, campaign: String, at: Date, hard: Bool? = nil) throws {
        let ts = Timestamp.string(at)
        var e = HookEvent(key: HookEvent.key(eventType: type, campaignID: campaign, leadEmail: lead, emailID: nil, step: 1, timestamp: ts),
                          eventType: type, outcome: HookEvent.outcome(of: type), timestamp: ts, campaignID: campaign, leadEmail: lead,
                          source: "webhook", receivedAt: ts)
        e.step = 1
        e.variant = 0
        e.hardBounce = hard
        XCTAssertTrue(try s.insertIfNew(e, payload: Array(#"{"event_type":"\#(type)"}"#.utf8)))
    }

    func testABouncingCampaignPausesTheSendsUntilAPersonGoesOnAndTheOutcomesAreTheStoredEvents() throws {
        let s = try SandboxLauncher(["--repos", "400", "--users", "600", "--now", Self.now])
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let runs = dir + "/runs", state = dir + "/state"
        let campaign = try XCTUnwrap(s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN"])
        let goal = "Find 12 Python maintainers active in the last 90 days, queue them in Instantly campaign \(campaign)"
        let held = try plan(s, ["run", "--config", Self.campaign, "--now", Self.now, "--job-id", "b1", goal], state: state, runs: runs)
        XCTAssertEqual(held.status, 0, held.err)
        XCTAssertEqual(try runState(runs, "b1")["status"] as? String, "awaiting_approval", held.err)
        let resolved = try XCTUnwrap((try runState(runs, "b1")["job"] as? [String: Any])?["instantly_campaign"] as? String)

        // Meanwhile the campaign's earlier sends bounce: 6 of 60 in the last hour (10%, over the 8% default).
        let hooks = try SQLiteHookEventStore.open(environment: ["CMO_STATE_DIR": state])
        let hourAgo = Date().addingTimeInterval(-3600)
        for i in 0..<60 { try store(hooks, "email_sent", "earlier\(i)@x.io", campaign: resolved, at: hourAgo) }
        for i in 0..<6 { try store(hooks, "email_bounced", "earlier\(i)@x.io", campaign: resolved, at: hourAgo.addingTimeInterval(60), hard: i < 4) }

        // Approved: the guard stops the job before its send step, through triage, and its status says why.
        let approved = try plan(s, ["approve", "b1"], state: state, runs: runs)
        XCTAssertEqual(approved.status, 75, approved.err)
        var st = try runState(runs, "b1")
        XCTAssertEqual(st["status"] as? String, "paused")
        let why = try XCTUnwrap(st["pause_reason"] as? String)
        XCTAssertTrue(why.contains("send-instantly: bounce guard: 6 of the 60 emails sent to campaign \(resolved) in the last 24 h bounced (10.0%; 4 hard, 2 soft); the limit is 8%"), why)
        XCTAssertEqual((st["steps"] as? [[String: Any]])?.last { $0["stage"] as? String == "send-instantly" }?["status"] as? String, "pending")
        XCTAssertEqual(try instantlyLeads(s), 0, "nothing was sent")
        XCTAssertTrue(approved.err.contains("cmo-plan resume --accept-bounces b1"), approved.err)
        let triage = try XCTUnwrap((st["triage"] as? [[String: Any]])?.last)
        let errors = try String(contentsOfFile: "\(runs)/b1/\(try XCTUnwrap(triage["errors"] as? String))", encoding: .utf8)
        XCTAssertEqual(errors.split(separator: "\n").count, 6, "one error record per bounce")
        let status = try plan(s, ["status", "b1"], state: state, runs: runs)
        XCTAssertTrue(status.out.contains("bounce guard: 6 of the 60") && status.out.contains("`cmo-plan resume --accept-bounces b1` goes on knowingly"), status.out)

        // A plain resume looks again: the same bounces, paused again, nothing sent.
        let plain = try plan(s, ["resume", "b1"], state: state, runs: runs)
        XCTAssertEqual(plain.status, 75, plain.err)
        XCTAssertEqual(try runState(runs, "b1")["status"] as? String, "paused")
        XCTAssertEqual(try instantlyLeads(s), 0)

        // Going on knowingly: recorded, and the job sends.
        let goOn = try plan(s, ["resume", "--accept-bounces", "b1"], state: state, runs: runs)
        XCTAssertEqual(goOn.status, 0, goOn.err)
        st = try runState(runs, "b1")
        XCTAssertEqual(st["status"] as? String, "done", goOn.err)
        let ack = try XCTUnwrap(st["bounce_ack"] as? [String: Any])
        XCTAssertTrue((ack["by"] as? String ?? "").hasPrefix("cmo-plan resume --accept-bounces"), "\(ack)")
        XCTAssertEqual(ack["bounced"] as? Int, 6)
        XCTAssertGreaterThan(try instantlyLeads(s), 0)
        let events = try String(contentsOfFile: "\(runs)/b1/events.ndjson", encoding: .utf8)
        XCTAssertTrue(events.contains("goes on knowing 6 bounces of 60 emails"), events)

        // Nothing of this job's leads has come back yet: said so, not zeros.
        let before = try plan(s, ["report", "b1", "--json"], state: state, runs: runs)
        XCTAssertEqual(before.status, 0, before.err)
        let none = try XCTUnwrap((try JSONSerialization.jsonObject(with: before.stdout) as? [String: Any])?["outcomes"] as? [String: Any])
        XCTAssertEqual(none["has_events"] as? Bool, false)
        XCTAssertEqual((none["by_variant"] as? [String: Any])?.count, 0)
        XCTAssertTrue((none["note"] as? String ?? "").contains("no outcomes have come back yet"), "\(none)")
        XCTAssertEqual(none["other_leads_events"] as? Int, 66)
        XCTAssertFalse(try plan(s, ["status", "b1"], state: state, runs: runs).out.contains("outcomes from Instantly"))

        // The job's leads as it queued them, and what comes back for them.
        let steps = try XCTUnwrap(st["steps"] as? [[String: Any]])
        let send = try XCTUnwrap(steps.last { $0["stage"] as? String == "send-instantly" })
        let artifact = try String(contentsOfFile: "\(runs)/b1/\(try XCTUnwrap(send["artifact"] as? String))", encoding: .utf8)
        var leads: [(email: String, variant: String)] = []
        for line in artifact.split(separator: "\n") {
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard (o["instantly"] as? [String: Any])?["status"] as? String == "queued" else { continue }
            leads.append((try XCTUnwrap(o["best_email"] as? String).lowercased(), try XCTUnwrap((o["copy"] as? [String: Any])?["variant"] as? String)))
        }
        XCTAssertGreaterThanOrEqual(leads.count, 6)
        var expected: [String: [String: Int]] = [:]
        let t = Date().addingTimeInterval(-600)
        for (i, lead) in leads.enumerated() {
            var e = expected[lead.variant] ?? ["sent": 0, "replied": 0, "interested": 0, "bounced": 0, "unsubscribed": 0]
            try store(hooks, "email_sent", lead.email, campaign: resolved, at: t)
            e["sent"]! += 1
            switch i % 4 {
            case 0:
                try store(hooks, "reply_received", lead.email, campaign: resolved, at: t.addingTimeInterval(60))
                try store(hooks, "lead_interested", lead.email, campaign: resolved, at: t.addingTimeInterval(61))
                e["replied"]! += 1
                e["interested"]! += 1
            case 1:
                try store(hooks, "email_bounced", lead.email, campaign: resolved, at: t.addingTimeInterval(30), hard: true)
                e["bounced"]! += 1
            case 2:
                try store(hooks, "lead_unsubscribed", lead.email, campaign: resolved, at: t.addingTimeInterval(90))
                e["unsubscribed"]! += 1
            default: break
            }
            expected[lead.variant] = e
        }
        let after = try plan(s, ["report", "b1", "--json"], state: state, runs: runs)
        XCTAssertEqual(after.status, 0, after.err)
        let outcomes = try XCTUnwrap((try JSONSerialization.jsonObject(with: after.stdout) as? [String: Any])?["outcomes"] as? [String: Any])
        XCTAssertEqual(outcomes["has_events"] as? Bool, true)
        let byVariant = try XCTUnwrap(outcomes["by_variant"] as? [String: [String: Any]])
        XCTAssertEqual(Set(byVariant.keys), Set(expected.keys))
        for (variant, e) in expected {
            for (key, n) in e { XCTAssertEqual(byVariant[variant]?[key] as? Int, n, "\(variant).\(key)") }
        }
        let page = try String(contentsOfFile: "\(runs)/b1/report.html", encoding: .utf8)
        XCTAssertTrue(page.contains("<section id=\"outcomes\">") && page.contains("id=\"outcomes-note\""), "the page shows them")
        for variant in expected.keys { XCTAssertTrue(page.contains("data-variant=\"\(variant)\"><td>\(variant)</td><td class=\"num\">\(expected[variant]!["sent"]!)</td>"), variant) }
        let shown = try plan(s, ["status", "b1"], state: state, runs: runs)
        XCTAssertTrue(shown.out.contains("outcomes from Instantly"), shown.out)
        for (variant, e) in expected {
            XCTAssertTrue(shown.out.contains("variant \(variant): \(e["sent"]!) sent, \(e["replied"]!) replied"), shown.out)
        }
        // The chat answers from the same numbers, with the same note.
        var env = s.environment
        env["CMO_STATE_DIR"] = state
        env["CMO_RUNS_DIR"] = runs
        env["NO_COLOR"] = "1"
        let asked = try Spawn.run("cmo-plan", ["chat", "--job-id", "b1"],
                                  stdin: Data("what's the reply rate?\nhow is variant B doing?\nany bounces?\nquit\n".utf8), environment: env)
        XCTAssertEqual(asked.status, 0, asked.err)
        XCTAssertTrue(asked.out.contains("reply rate for job b1: outcomes from Instantly"), asked.out)
        for (variant, e) in expected {
            XCTAssertTrue(asked.out.contains("variant \(variant): \(e["sent"]!) sent, \(e["replied"]!) replied"), asked.out)
        }
        let note = try XCTUnwrap(outcomes["note"] as? String)
        XCTAssertTrue(asked.out.contains(note), "the report's note: \(note)\n\(asked.out)")
        XCTAssertTrue(asked.out.contains("variant for job b1:"), asked.out)
        // The guard's window: the acknowledged bounces left out, the job's new ones counted.
        let newBounces = expected.values.reduce(0) { $0 + $1["bounced"]! }
        XCTAssertTrue(asked.out.contains("bounce guard: \(newBounces) of \(60 + leads.count) emails of the campaign in the last 24 h bounced"), asked.out)
    }
}
