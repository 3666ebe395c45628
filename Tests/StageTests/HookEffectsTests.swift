import CMOContract
import CMOLedger
import CMOStorage
import CMOTestSupport
import Foundation
import XCTest

/// `cmo-hooks apply` against the sandbox: a person queued in two campaigns by two jobs (send-instantly), events
/// stored as serve stores them, and what each one does, once: suppression, the block list, the stop in the
/// other campaign (no later step when the clock advances), a hot-reply sub-issue, Attio notes; re-runs, a
/// duplicate and a kill -9 between the request and its record do nothing twice.
final class HookEffectsTests: XCTestCase {
    /// Every lead silent (no fate of its own), three steps two days apart, two active copy-variable campaigns, and
    /// `skip_if_in_campaign` read as "in this campaign", so one person can be queued in both.
    func sandbox() throws -> SandboxLauncher {
        try SandboxLauncher([
            "--seed", "5", "--repos", "20", "--users", "20", "--instantly-campaigns", "6", "--instantly-skip-scope", "target", "--instantly-sequence-steps", "3",
            "--instantly-bounce-rate", "0", "--instantly-unsubscribe-rate", "0", "--instantly-reply-rate", "0", "--instantly-ooo-rate", "0",
            "--instantly-auto-reply-rate", "0",
        ])
    }

    static func call(_ s: SandboxLauncher, _ service: String, _ method: String, _ path: String, body: Any? = nil) throws -> [String: Any] {
        let key = s.environment["\(service.uppercased())_API_KEY"] ?? ""
        var args = ["-s", "-X", method, "-H", "User-Agent: cmo-tests", "-H", "Authorization: " + (service == "linear" ? key : "Bearer \(key)")]
        if let body {
            args += ["-H", "Content-Type: application/json", "--data-binary", String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)]
        }
        let r = try Spawn.run("/usr/bin/curl", args + [(s.environment["\(service.uppercased())_API_URL"] ?? "") + path])
        return try XCTUnwrap(JSONSerialization.jsonObject(with: r.stdout) as? [String: Any], r.out)
    }

    static func activeCampaigns(_ s: SandboxLauncher) throws -> [String] {
        let items = try call(s, "instantly", "GET", "/api/v2/campaigns?limit=100")["items"] as? [[String: Any]] ?? []
        return items.filter { c in
            let text = String(decoding: (try? JSONSerialization.data(withJSONObject: c["sequences"] ?? [])) ?? Data(), as: UTF8.self)
            return (c["status"] as? Int) == 1 && text.contains("cmo_subject")
        }.compactMap { $0["id"] as? String }.sorted()
    }

    static func leads(_ n: Int) -> [[String: Any]] {
        (0..<n).map { i in
            let email = "dev\(i)@example.org"
            return [
                "kind": "person", "id": 1000 + i, "login": "dev\(i)", "name": "Dev Number\(i)", "best_email": email,
                "email_checks": [["address": email, "verdict": "safe", "reasons": [], "flags": [:]]],
                "copy": ["subject": "tool\(i)", "body": "Hi Dev,\n\nA note.\n\nUnsubscribe: https://example.org/u?e=\(i)\n"],
            ]
        }
    }

    func queue(_ s: SandboxLauncher, campaign: String, job: String, state: String, n: Int = 4) throws {
        var env = s.environment
        env["CMO_STATE_DIR"] = state
        env["CMO_JOB_ID"] = job
        let r = try Spawn.run(
            "send-instantly", ["--campaign", campaign, "--daily-new-leads", "100"], stdin: NDJSON.data(Self.leads(n)), environment: env)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try NDJSON.statuses(r, field: "instantly"), ["queued": n], r.out)
    }

    static func event(
        _ type: String, email: String, campaign: String, at: String, snippet: String? = nil, hard: Bool? = nil, returnsOn: String? = nil
    ) -> HookEvent {
        let t = HookEvent.normalisedType(type)
        var e = HookEvent(
            key: HookEvent.key(eventType: t, campaignID: campaign, leadEmail: email, emailID: nil, step: 1, timestamp: at), eventType: t,
            outcome: HookEvent.outcome(of: t), timestamp: at, campaignID: campaign, leadEmail: email, source: "webhook", receivedAt: at)
        e.step = 1
        e.campaignName = "Developers — open source maintainers"
        e.snippet = snippet
        e.hardBounce = hard
        e.returnsOn = returnsOn
        e.uniboxURL = "https://app.instantly.ai/app/unibox?thread_search=\(email.replacingOccurrences(of: "@", with: "%40"))"
        return e
    }

    func store(_ state: String, _ events: [HookEvent]) throws -> SQLiteHookEventStore {
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let store = try SQLiteHookEventStore.open(path: state + "/hooks.sqlite")
        for e in events { XCTAssertTrue(try store.insertIfNew(e, payload: Array(try HookEventJSON.encode(e)))) }
        return store
    }

    func apply(_ s: SandboxLauncher, state: String, _ args: [String] = [], env extra: [String: String] = [:]) throws -> SpawnResult {
        var env = s.environment
        env["CMO_STATE_DIR"] = state
        env.merge(extra) { $1 }
        return try Spawn.run("cmo-hooks", ["apply", "--team", "ENG"] + args, environment: env)
    }

    /// (event key → effect → [status, target]).
    static func effects(_ r: SpawnResult) throws -> [(event: String, effect: String, status: String, target: String?)] {
        try NDJSON.objects(r).map {
            XCTAssertEqual($0["kind"] as? String, "effect")
            return ($0["event"] as? String ?? "", $0["effect"] as? String ?? "", $0["status"] as? String ?? "", $0["target"] as? String)
        }
    }

    func blockEntries(_ s: SandboxLauncher, _ value: String) throws -> Int {
        let items = try Self.call(s, "instantly", "GET", "/api/v2/block-lists-entries?limit=100&search=\(value)")["items"] as? [[String: Any]] ?? []
        return items.filter { ($0["bl_value"] as? String) == value }.count
    }

    func sent(_ s: SandboxLauncher, campaign: String, email: String) throws -> [Int] {
        let events = try s.json("/_sandbox/instantly/truth")["events"] as? [[String: Any]] ?? []
        return events.filter {
            $0["event_type"] as? String == "email_sent" && $0["campaign_id"] as? String == campaign && $0["lead_email"] as? String == email
        }.compactMap { $0["step"] as? Int }.sorted()
    }

    /// Moves the sandbox's Instantly clock (the campaigns send their due steps).
    func advance(_ s: SandboxLauncher, _ days: Int) throws {
        let r = try Spawn.run(
            "/usr/bin/curl", ["-s", "-f", "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "{\"days\":\(days)}", s.baseURL + "/_sandbox/instantly/advance"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
    }

    // MARK: - Tests

    func testEachEventHasItsEffectsOnceAndTheStoppedLeadGetsNoLaterStep() throws {
        let s = try sandbox()
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        let campaigns = try Self.activeCampaigns(s)
        XCTAssertGreaterThanOrEqual(campaigns.count, 2, "two active campaigns")
        let (a, b) = (campaigns[0], campaigns[1])
        try queue(s, campaign: a, job: "job-a", state: state)
        try queue(s, campaign: b, job: "job-b", state: state)
        try advance(s, 1)
        XCTAssertEqual(try sent(s, campaign: b, email: "dev0@example.org"), [1], "step 1 went out in both campaigns")

        let at = "2026-12-07T10:00:00.000Z"
        let unsubscribe = Self.event("lead_unsubscribed", email: "dev0@example.org", campaign: a, at: at)
        let interested = Self.event(
            "lead_interested", email: "dev1@example.org", campaign: a, at: "2026-12-07T10:01:00.000Z",
            snippet: "Sounds great\r\n# heading [x](javascript:alert(1)) ~~~ ``` {{unsubscribe}}")
        let away = Self.event("lead_out_of_office", email: "dev2@example.org", campaign: a, at: "2026-12-07T10:02:00.000Z", returnsOn: "2026-12-20")
        let soft = Self.event("email_bounced", email: "dev3@example.org", campaign: a, at: "2026-12-07T10:03:00.000Z", hard: false)
        let store = try store(state, [unsubscribe, interested, away, soft])

        let r = try apply(s, state: state)
        XCTAssertEqual(r.status, 0, r.err)
        let effects = try Self.effects(r)
        func of(_ e: HookEvent) -> [String: String] {
            Dictionary(effects.filter { $0.event == e.key }.map { ($0.effect, $0.status) }, uniquingKeysWith: { x, y in x + "," + y })
        }
        XCTAssertEqual(of(unsubscribe), ["suppress": "done", "block": "done", "stop": "done", "attio_note": "done"], r.out)
        XCTAssertEqual(of(interested), ["stop": "done", "hot_reply": "done", "attio_note": "done"], r.out)
        XCTAssertEqual(of(away), [:], "an out-of-office is recorded only")
        XCTAssertEqual(of(soft), [:], "a soft bounce is recorded only")
        XCTAssertEqual(effects.filter { $0.effect == "stop" }.map(\.target), [b, b], "stopped in the other campaign only")
        XCTAssertTrue(r.err.contains("effects"), r.err)

        // The suppression list and the block list hold the unsubscribe once; the soft bounce is on neither.
        let list = try SuppressionList.open(path: state + "/suppression.sqlite")
        XCTAssertNotNil(try list.match(email: "dev0@example.org", login: nil))
        XCTAssertNil(try list.match(email: "dev3@example.org", login: nil))
        XCTAssertEqual(try blockEntries(s, "dev0@example.org"), 1)
        XCTAssertEqual(try blockEntries(s, "dev3@example.org"), 0)
        // The out-of-office stays recorded, with its return date.
        XCTAssertEqual(try store.events(since: nil, limit: nil).first { $0.key == away.key }?.returnsOn, "2026-12-20")

        // The stopped leads get no later step in B; the others get all three.
        try advance(s, 10)
        XCTAssertEqual(try sent(s, campaign: b, email: "dev0@example.org"), [1])
        XCTAssertEqual(try sent(s, campaign: b, email: "dev1@example.org"), [1])
        XCTAssertEqual(try sent(s, campaign: b, email: "dev2@example.org"), [1, 2, 3])
        XCTAssertEqual(try sent(s, campaign: a, email: "dev1@example.org"), [1, 2, 3], "the campaign the event came from is Instantly's own")

        // One hot-reply sub-issue, under job-a's parent (the run that queued dev1 in A), user text neutralised.
        let issues = try XCTUnwrap(
            ((try Self.call(s, "linear", "POST", "", body: ["query": "{ issues(first: 250) { nodes { id title description parent { id description } } } }"])[
                "data"] as? [String: Any])?["issues"] as? [String: Any])?["nodes"] as? [[String: Any]])
        let hot = issues.filter { ($0["title"] as? String ?? "").hasPrefix("Hot reply: dev1@example.org") }
        XCTAssertEqual(hot.count, 1, "\(issues)")
        let description = hot.first?["description"] as? String ?? ""
        XCTAssertTrue(description.contains("Sounds great"), description)
        XCTAssertTrue(description.contains("<https://app.instantly.ai/app/unibox?thread_search=dev1%40example.org>"), description)
        XCTAssertFalse(description.contains("\r"), description)
        XCTAssertFalse(description.contains("```"), description)
        XCTAssertFalse(description.contains("\n~~~ "), description)
        XCTAssertTrue(((hot.first?["parent"] as? [String: Any])?["description"] as? String ?? "").contains("job-a"))

        // Attio: one note per event worth one (2), each with its cmo-key line.
        func notes() throws -> [[String: Any]] {
            (try Self.call(s, "attio", "GET", "/v2/notes?limit=50")["data"] as? [[String: Any]] ?? []).filter {
                ($0["content_plaintext"] as? String ?? "").contains("cmo-key: attio:event-note:")
            }
        }
        XCTAssertEqual(try notes().count, 2)

        // A second run reads nothing new and writes nothing.
        let writesBefore = try s.stats()["writes_total"] as? Int
        let again = try apply(s, state: state)
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(again.out, "", "nothing after the cursor")
        // Every event again (and a duplicate delivery of the unsubscribe, which the store refuses): all already.
        XCTAssertFalse(try store.insertIfNew(unsubscribe, payload: Array(try HookEventJSON.encode(unsubscribe))))
        let replay = try apply(s, state: state, ["--from-start"])
        XCTAssertEqual(replay.status, 0, replay.err)
        XCTAssertEqual(Set(try Self.effects(replay).map(\.status)), ["already"], replay.out)
        XCTAssertEqual(try Self.effects(replay).count, effects.count)
        XCTAssertEqual(try s.stats()["writes_total"] as? Int, writesBefore, "no write the second and third time")
        XCTAssertEqual(try blockEntries(s, "dev0@example.org"), 1)
        XCTAssertEqual(try notes().count, 2)
        XCTAssertEqual(try s.stats()["duplicates_total"] as? Int, 0)
    }

    func testAKillBetweenTheBlockRequestAndItsRecordDoesNotBlockTwice() throws {
        let s = try sandbox()
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        let campaigns = try Self.activeCampaigns(s)
        try queue(s, campaign: campaigns[0], job: "job-a", state: state, n: 1)
        try queue(s, campaign: campaigns[1], job: "job-b", state: state, n: 1)
        let e = Self.event("email_bounced", email: "dev0@example.org", campaign: campaigns[0], at: "2026-12-07T10:00:00.000Z", hard: true)
        _ = try store(state, [e])
        let killed = try apply(s, state: state, env: ["CMO_CRASH_AT": "after-send"])
        XCTAssertNotEqual(killed.status, 0, "killed after the block request")
        XCTAssertEqual(try blockEntries(s, "dev0@example.org"), 1)
        let r = try apply(s, state: state)
        XCTAssertEqual(r.status, 0, r.err)
        let statuses = Dictionary(try Self.effects(r).map { ($0.effect, $0.status) }, uniquingKeysWith: { x, _ in x })
        XCTAssertEqual(statuses["suppress"], "already")
        XCTAssertEqual(statuses["block"], "done", "found in the block list, not sent again")
        XCTAssertEqual(statuses["stop"], "done")
        XCTAssertEqual(try blockEntries(s, "dev0@example.org"), 1, "one entry after the kill and the re-run")
    }

    func testDryRunWritesNothingAndMovesNoCursor() throws {
        let s = try sandbox()
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        let campaigns = try Self.activeCampaigns(s)
        try queue(s, campaign: campaigns[0], job: "job-a", state: state, n: 1)
        try queue(s, campaign: campaigns[1], job: "job-b", state: state, n: 1)
        let store = try store(state, [Self.event("lead_unsubscribed", email: "dev0@example.org", campaign: campaigns[0], at: "2026-12-07T10:00:00.000Z")])
        let r = try apply(s, state: state, ["--dry-run"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(Set(try Self.effects(r).map(\.status)), ["dry_run"], r.out)
        XCTAssertEqual(try blockEntries(s, "dev0@example.org"), 0)
        XCTAssertNil(try SuppressionList.open(path: state + "/suppression.sqlite").match(email: "dev0@example.org", login: nil))
        XCTAssertNil(try store.cursor("effects"))
        let real = try apply(s, state: state)
        XCTAssertEqual(Set(try Self.effects(real).map(\.status)), ["done"], real.out)
    }
}
