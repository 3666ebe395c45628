import CMOTestSupport
import Foundation
import XCTest

/// send-instantly against the sandbox's Instantly: queued once, re-runs write nothing, suppression,
/// the daily cap over two days, crashes between request and record, refusals, faults, dry-run.
final class SendInstantlyTests: XCTestCase {
    /// A sandbox of its own for each test that writes: leads stay in a campaign for the sandbox's life.
    func sandbox(_ extra: [String] = []) throws -> SandboxLauncher {
        try SandboxLauncher(["--seed", "5", "--repos", "20", "--users", "20"] + extra)
    }

    // MARK: - Helpers

    /// Leads as render-copy writes them. `unsubscribe: false` leaves the link out.
    static func leads(_ n: Int, from: Int = 0, domain: String = "example.org", verdict: String = "safe", unsubscribe: Bool = true)
        -> [[String: Any]]
    {
        (from..<(from + n)).map { i in
            let email = "dev\(i)@\(domain)"
            let body = "Hi Dev,\n\nYour work on tool\(i) caught my eye.\n\n" + (unsubscribe ? "Unsubscribe: https://example.org/u?e=\(i)\n" : "")
            return [
                "kind": "person", "id": 1000 + i, "login": "dev\(i)", "name": "Dev Number\(i)", "company": "@acme",
                "best_email": email,
                "email_checks": [["address": email, "verdict": verdict, "reasons": [], "flags": [:]]],
                "emails": [["address": email, "source": "commit", "evidence": "acme/tool\(i)@abc123", "last_seen": "2026-11-01"]],
                "copy": ["subject": "tool\(i) and flaky CI", "body": body, "template": "intro", "variant": "A"],
            ]
        }
    }

    static func ndjson(_ records: [[String: Any]]) -> Data { NDJSON.data(records) }
    static func objects(_ r: SpawnResult) throws -> [[String: Any]] { try NDJSON.objects(r) }
    static func statuses(_ r: SpawnResult) throws -> [String: Int] { try NDJSON.statuses(r, field: "instantly") }

    /// Calls the sandbox's Instantly API as a client would (curl), returning the JSON object.
    static func instantly(_ s: SandboxLauncher, _ method: String, _ path: String, body: Any? = nil) throws -> [String: Any] {
        var args = [
            "-s", "-X", method, "-H", "User-Agent: cmo-tests", "-H", "Authorization: Bearer \(s.environment["INSTANTLY_API_KEY"] ?? "")",
        ]
        if let body {
            args += ["-H", "Content-Type: application/json", "--data-binary", String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)]
        }
        let r = try Spawn.run("/usr/bin/curl", args + [(s.environment["INSTANTLY_API_URL"] ?? "") + path])
        return try XCTUnwrap(JSONSerialization.jsonObject(with: r.stdout) as? [String: Any], r.out)
    }

    /// Seeded campaigns, by what a test needs.
    static func campaigns(_ s: SandboxLauncher) throws -> [[String: Any]] {
        try instantly(s, "GET", "/api/v2/campaigns?limit=100")["items"] as? [[String: Any]] ?? []
    }

    static func usesCopyVariables(_ c: [String: Any]) -> Bool {
        let text = String(decoding: try! JSONSerialization.data(withJSONObject: c["sequences"] ?? []), as: UTF8.self)
        return text.contains("cmo_subject") && text.contains("cmo_body")
    }

    static func campaign(_ s: SandboxLauncher, status: Int, copyVariables: Bool = true) throws -> String {
        let found = try campaigns(s).first { ($0["status"] as? Int) == status && usesCopyVariables($0) == copyVariables }
        return try XCTUnwrap(found?["id"] as? String, "no seeded campaign with status \(status), copy variables \(copyVariables)")
    }

    /// Every lead of a campaign (leads/list, paged).
    static func campaignLeads(_ s: SandboxLauncher, _ campaign: String) throws -> [[String: Any]] {
        var all: [[String: Any]] = []
        var cursor: String?
        repeat {
            var body: [String: Any] = ["campaign": campaign, "limit": 100]
            if let cursor { body["starting_after"] = cursor }
            let page = try instantly(s, "POST", "/api/v2/leads/list", body: body)
            let items = page["items"] as? [[String: Any]] ?? []
            all += items
            cursor = items.count == 100 ? page["next_starting_after"] as? String : nil
        } while cursor != nil
        return all
    }

    func send(_ s: SandboxLauncher, _ args: [String], input: [[String: Any]], state: String, env: [String: String] = [:]) throws -> SpawnResult {
        var environment = s.environment
        environment["CMO_STATE_DIR"] = state
        environment.merge(env) { $1 }
        return try Spawn.run("send-instantly", args, stdin: Self.ndjson(input), environment: environment)
    }

    func leadsAddRequests(_ s: SandboxLauncher) throws -> Int {
        let requests = try s.stats()["requests"] as? [String: Any] ?? [:]
        return requests.filter { $0.key.contains("POST") && $0.key.contains("leads/add") }.values.compactMap { $0 as? Int }.reduce(0, +)
    }

    func writeRequests(_ s: SandboxLauncher) throws -> Int {
        let requests = try s.stats()["requests"] as? [String: Any] ?? [:]
        return requests.filter { $0.key.hasPrefix("instantly POST") && !$0.key.contains("leads/list") }.values.compactMap { $0 as? Int }.reduce(0, +)
    }

    // MARK: - Tests

    func testQueuesEachLeadOnceWithCopyAndProvenanceAndARerunWritesNothing() throws {
        let s = try sandbox()
        defer { s.stop() }
        let campaign = try Self.campaign(s, status: 1)
        let state = Spawn.tempDirectory()
        var input = Self.leads(30)
        input[0]["name"] = "Eve\r\nBcc: x@evil {{unsubscribe}}"
        var twin = input[5]
        twin["id"] = 99_999  // another record with the same address: written once
        input.append(twin)
        let r = try send(s, ["--campaign", campaign, "--daily-new-leads", "1000"], input: input, state: state)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try Self.statuses(r), ["queued": 30, "duplicate": 1], r.err)
        XCTAssertEqual(try leadsAddRequests(s), 1, "30 leads in one leads/add")
        let stored = try Self.campaignLeads(s, campaign)
        XCTAssertEqual(stored.count, 30)
        XCTAssertEqual(Set(stored.compactMap { $0["email"] as? String }).count, 30)
        let first = try XCTUnwrap(stored.first { $0["email"] as? String == "dev0@example.org" })
        let payload = try XCTUnwrap(first["payload"] as? [String: Any], "\(first)")
        XCTAssertEqual(payload["cmo_subject"] as? String, "tool0 and flaky CI")
        XCTAssertEqual(payload["cmo_email_evidence"] as? String, "acme/tool0@abc123")
        XCTAssertEqual(payload["cmo_email_source"] as? String, "commit")
        let firstName = try XCTUnwrap(first["first_name"] as? String)
        XCTAssertFalse(firstName.contains("\n") || firstName.contains("\r") || firstName.contains("{{"), firstName)
        XCTAssertEqual(first["company_name"] as? String, "acme")
        // Output ids match the sandbox's.
        let out = try Self.objects(r)
        let id0 = (out[0]["instantly"] as? [String: Any])?["lead_id"] as? String
        XCTAssertEqual(id0, first["id"] as? String)

        // Another run (another job): every lead is already in the campaign, said so, not "queued".
        let again = try send(s, ["--campaign", campaign, "--daily-new-leads", "1000"], input: input, state: state)
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(try Self.statuses(again), ["already_queued": 30, "duplicate": 1])
        XCTAssertTrue(try Self.objects(again).dropLast().allSatisfy { ($0["instantly"] as? [String: Any])?["reason"] as? String == "queued_earlier" })
        XCTAssertEqual(try leadsAddRequests(s), 1, "a re-run sends nothing")
        XCTAssertEqual(try Self.campaignLeads(s, campaign).count, 30)
    }

    func testSuppressedEmailDomainAndLoginAreNeverSent() throws {
        let s = try sandbox()
        defer { s.stop() }
        let campaign = try Self.campaign(s, status: 1)
        let state = Spawn.tempDirectory()
        let env = ["CMO_STATE_DIR": state]
        XCTAssertEqual(try Spawn.run("cmo-suppress", ["add", "dev1@example.org", "--reason", "opt-out"], environment: env).status, 0)
        XCTAssertEqual(try Spawn.run("cmo-suppress", ["add", "domain:blocked.example"], environment: env).status, 0)
        XCTAssertEqual(try Spawn.run("cmo-suppress", ["add", "@dev3"], environment: env).status, 0)
        XCTAssertEqual(try Spawn.run("cmo-suppress", ["add", "old-dev4@example.net"], environment: env).status, 0)
        var input = Self.leads(6)
        // dev4 opted out under another address of theirs: not contacted at this one either.
        input[4]["emails"] = [["address": "dev4@example.org", "source": "commit"], ["address": "old-dev4@example.net", "source": "profile"]]
        input[2]["best_email"] = "dev2@eu.blocked.example"
        input[2]["email_checks"] = [["address": "dev2@eu.blocked.example", "verdict": "safe"]]
        let r = try send(s, ["--campaign", campaign, "--daily-new-leads", "100"], input: input, state: state)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try Self.statuses(r), ["queued": 2, "suppressed": 4], r.out)
        let emails = Set(try Self.campaignLeads(s, campaign).compactMap { $0["email"] as? String })
        XCTAssertEqual(emails, ["dev0@example.org", "dev5@example.org"])
    }

    func testDailyCapDefersAndTheNextDayTakesTheDeferredFirst() throws {
        let s = try sandbox()
        defer { s.stop() }
        let campaign = try Self.campaign(s, status: 1)
        let state = Spawn.tempDirectory()
        let day1 = ["--campaign", campaign, "--daily-new-leads", "3", "--now", "2026-12-01T10:00:00Z"]
        let first = try send(s, day1, input: Self.leads(5), state: state)
        XCTAssertEqual(first.status, 0, first.err)
        XCTAssertEqual(try Self.statuses(first), ["queued": 3, "deferred": 2])
        let deferred = try Self.objects(first).compactMap { $0["instantly"] as? [String: Any] }.filter { $0["status"] as? String == "deferred" }
        XCTAssertEqual(Set(deferred.compactMap { $0["eligible_on"] as? String }), ["2026-12-02"])
        XCTAssertTrue(first.err.contains("deferred"), first.err)

        // Same day, another run: the cap is spent (counted in the ledger across runs); the queue of
        // deferred leads grows, three a day: dev10 gets tomorrow's last slot, dev11 the day after.
        let again = try send(s, day1, input: Self.leads(2, from: 10), state: state)
        XCTAssertEqual(try Self.statuses(again), ["deferred": 2], again.err)
        let eligible = try Self.objects(again).map { ($0["instantly"] as! [String: Any])["eligible_on"] as? String }
        XCTAssertEqual(eligible, ["2026-12-02", "2026-12-03"])

        // Next day: two new leads come first in the input, but the leads deferred for today go first.
        let day2 = ["--campaign", campaign, "--daily-new-leads", "3", "--now", "2026-12-02T10:00:00Z"]
        let next = try send(s, day2, input: Self.leads(2, from: 20) + Self.leads(2, from: 3) + Self.leads(1, from: 10), state: state)
        XCTAssertEqual(next.status, 0, next.err)
        let byEmail = Dictionary(
            uniqueKeysWithValues: try Self.objects(next).map { ($0["best_email"] as! String, ($0["instantly"] as! [String: Any])["status"] as! String) })
        XCTAssertEqual(
            byEmail,
            ["dev20@example.org": "deferred", "dev21@example.org": "deferred", "dev3@example.org": "queued", "dev4@example.org": "queued",
             "dev10@example.org": "queued"])
        XCTAssertEqual(try Self.campaignLeads(s, campaign).count, 6)
    }

    /// The JSON summary line of a run (`--log-format json`).
    static func summary(_ r: SpawnResult) throws -> [String: Any] {
        let line = try XCTUnwrap(r.err.split(separator: "\n").last { $0.contains(#""event":"summary""#) }, r.err)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    func testARerunKeepsTheDeferredDaysAndSaysWhatIsAlreadyThere() throws {
        let s = try sandbox()
        defer { s.stop() }
        let campaign = try Self.campaign(s, status: 1)
        let state = Spawn.tempDirectory()
        let day1 = ["--campaign", campaign, "--daily-new-leads", "3", "--now", "2026-12-01T10:00:00Z", "--log-format", "json"]
        let first = try send(s, day1, input: Self.leads(5), state: state, env: ["CMO_JOB_ID": "job-1"])
        XCTAssertEqual(try Self.statuses(first), ["queued": 3, "deferred": 2], first.err)
        let sum1 = try Self.summary(first)
        XCTAssertEqual(sum1["written"] as? Int, 3)
        XCTAssertEqual(sum1["already"] as? Int, 0)
        XCTAssertEqual(sum1["deferred"] as? Int, 2)
        XCTAssertEqual((try Self.objects(first)[0]["instantly"] as? [String: Any])?["queued_on"] as? String, "2026-12-01")

        // The same job again, the same day (a resume): nothing written, the deferred keep their day.
        let same = try send(s, day1, input: Self.leads(5), state: state, env: ["CMO_JOB_ID": "job-1"])
        XCTAssertEqual(try Self.statuses(same), ["queued": 3, "deferred": 2], same.err)
        let sameResults = try Self.objects(same).compactMap { $0["instantly"] as? [String: Any] }
        XCTAssertTrue(sameResults.allSatisfy { $0["already"] as? Bool == true }, "\(sameResults)")
        XCTAssertEqual(sameResults.filter { $0["status"] as? String == "deferred" }.compactMap { $0["eligible_on"] as? String }, ["2026-12-02", "2026-12-02"])
        let sum2 = try Self.summary(same)
        XCTAssertEqual(sum2["written"] as? Int, 0)
        XCTAssertEqual(sum2["already"] as? Int, 3)
        XCTAssertEqual(sum2["leads"] as? [String: Int], ["queued": 0, "queued_before": 3, "already_in_campaign": 0, "deferred": 0, "deferred_kept": 2])

        // Another job, the same goal and three more: the first three are already in the campaign (by job-1,
        // on its day), the two deferred keep Dec 2, the new ones fill Dec 2 then Dec 3.
        let other = try send(s, day1, input: Self.leads(5) + Self.leads(3, from: 10), state: state, env: ["CMO_JOB_ID": "job-2"])
        XCTAssertEqual(try Self.statuses(other), ["already_queued": 3, "deferred": 5], other.err)
        let results = try Self.objects(other).compactMap { $0["instantly"] as? [String: Any] }
        XCTAssertEqual(results[0]["reason"] as? String, "queued_earlier")
        XCTAssertEqual(results[0]["queued_by"] as? String, "job-1")
        XCTAssertEqual(results[0]["queued_on"] as? String, "2026-12-01")
        XCTAssertEqual(results.compactMap { $0["eligible_on"] as? String }, ["2026-12-02", "2026-12-02", "2026-12-02", "2026-12-03", "2026-12-03"])
        let sum3 = try Self.summary(other)
        XCTAssertEqual(sum3["written"] as? Int, 0)
        XCTAssertEqual(sum3["already"] as? Int, 3)
        XCTAssertEqual(sum3["deferred"] as? Int, 5)
        XCTAssertTrue(other.err.contains("3 already in the campaign before this job"), other.err)
        XCTAssertEqual(try Self.campaignLeads(s, campaign).count, 3)

        // A lead Instantly holds that no run of cmo wrote: already there, not queued, not a duplicate.
        let outside = Self.leads(1, from: 30)[0]
        _ = try Self.instantly(s, "POST", "/api/v2/leads/add", body: ["campaign_id": campaign, "leads": [["email": outside["best_email"]!]]])
        let found = try send(s, ["--campaign", campaign, "--daily-new-leads", "100"], input: [outside], state: state)
        let r = try XCTUnwrap(try Self.objects(found).first?["instantly"] as? [String: Any], found.err)
        XCTAssertEqual(r["status"] as? String, "already_queued", "\(r)")
        XCTAssertEqual(r["reason"] as? String, "in_campaign")
        XCTAssertEqual(try Self.campaignLeads(s, campaign).count, 4)
        // And a re-run says the same of it (the ledger remembers it was not cmo's).
        let foundAgain = try send(s, ["--campaign", campaign, "--daily-new-leads", "100"], input: [outside], state: state)
        XCTAssertEqual((try Self.objects(foundAgain).first?["instantly"] as? [String: Any])?["reason"] as? String, "in_campaign")
    }

    func testACrashBetweenRequestAndRecordLeavesNoDuplicateAndNoGap() throws {
        for point in ["before-send", "after-send", "after-record"] {
            let s = try sandbox()
            defer { s.stop() }
            let campaign = try Self.campaign(s, status: 1)
            let state = Spawn.tempDirectory()
            let args = ["--campaign", campaign, "--daily-new-leads", "1000", "--batch-size", "10"]
            // The same job (as cmo-plan resumes it): what the killed run queued is this job's.
            let crashed = try send(s, args, input: Self.leads(35), state: state, env: ["CMO_CRASH_AT": "\(point):2", "CMO_JOB_ID": "job-c"])
            XCTAssertNotEqual(crashed.status, 0, "\(point): the hook kills the process")
            let rerun = try send(s, args, input: Self.leads(35), state: state, env: ["CMO_JOB_ID": "job-c"])
            XCTAssertEqual(rerun.status, 0, rerun.err)
            XCTAssertEqual(try Self.statuses(rerun), ["queued": 35], "\(point): \(rerun.out)")
            let stored = try Self.campaignLeads(s, campaign).compactMap { $0["email"] as? String }
            XCTAssertEqual(stored.count, 35, "\(point): no duplicate")
            XCTAssertEqual(Set(stored).count, 35, "\(point): no gap")
            if point == "after-send" {
                let recovered = try Self.objects(rerun).filter { ($0["instantly"] as? [String: Any])?["recovered"] as? Bool == true }
                XCTAssertEqual(recovered.count, 10, "the batch whose answer was lost is found by lookup, not re-sent")
            }
        }
    }

    func testRefusalsBeforeAnyWrite() throws {
        let s = try sandbox()
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        let input = Self.leads(2)
        let unknown = try send(s, ["--campaign", "00000000-0000-4000-8000-000000000000"], input: input, state: state)
        XCTAssertEqual(unknown.status, 78, unknown.err)
        XCTAssertTrue(unknown.err.contains("00000000-0000-4000-8000-000000000000"), unknown.err)

        let paused = try Self.campaign(s, status: 2)
        let p = try send(s, ["--campaign", paused, "--daily-new-leads", "10"], input: input, state: state)
        XCTAssertEqual(p.status, 78, p.err)
        XCTAssertTrue(p.err.contains("paused"), p.err)

        if let completed = try? Self.campaign(s, status: 3) {
            XCTAssertEqual(try send(s, ["--campaign", completed, "--daily-new-leads", "10"], input: input, state: state).status, 78)
        }

        let noVariables = try Self.campaign(s, status: 1, copyVariables: false)
        let v = try send(s, ["--campaign", noVariables, "--daily-new-leads", "10"], input: input, state: state)
        XCTAssertEqual(v.status, 78, v.err)
        XCTAssertTrue(v.err.contains("cmo_subject") && v.err.contains("dropped"), v.err)

        let badKey = try send(s, ["--campaign", try Self.campaign(s, status: 1)], input: input, state: state, env: ["INSTANTLY_API_KEY": "wrong-key-123456"])
        XCTAssertEqual(badKey.status, 77, badKey.err)
        XCTAssertFalse(badKey.err.contains("wrong-key-123456"), "the key is never echoed")

        let noKey = try send(s, ["--campaign", try Self.campaign(s, status: 1)], input: input, state: state, env: ["INSTANTLY_API_KEY": ""])
        XCTAssertEqual(noKey.status, 78, noKey.err)
        XCTAssertTrue(noKey.err.contains("INSTANTLY_API_KEY"), noKey.err)

        XCTAssertEqual(try send(s, [], input: input, state: state).status, 64, "--campaign is required without --dry-run")
        XCTAssertEqual(try send(s, ["--campaign", "123"], input: input, state: state).status, 64)
        XCTAssertEqual(try writeRequests(s), 0, "nothing was written")

        // The paused campaign takes leads with --allow-inactive.
        let allowed = try send(s, ["--campaign", paused, "--daily-new-leads", "10", "--allow-inactive"], input: input, state: state)
        XCTAssertEqual(allowed.status, 0, allowed.err)
        XCTAssertEqual(try Self.statuses(allowed), ["queued": 2])
    }

    func testNoPlanIs78WithInstantlysMessage() throws {
        let s = try sandbox(["--instantly-no-plan"])
        defer { s.stop() }
        let r = try send(s, ["--campaign", "00000000-0000-4000-8000-000000000001"], input: Self.leads(1), state: Spawn.tempDirectory())
        XCTAssertEqual(r.status, 78, r.err)
        XCTAssertTrue(r.err.contains("402"), r.err)
    }

    func testVerdictUnsubscribeLinkAndMissingCopy() throws {
        let s = try sandbox()
        defer { s.stop() }
        let campaign = try Self.campaign(s, status: 1)
        let state = Spawn.tempDirectory()
        var input = Self.leads(1) + Self.leads(1, from: 1, verdict: "risky") + Self.leads(1, from: 2, unsubscribe: false)
        var noCopy = Self.leads(1, from: 3)[0]
        noCopy["copy"] = nil
        input.append(noCopy)
        let dead = state + "-dead.ndjson"
        let r = try send(s, ["--campaign", campaign, "--daily-new-leads", "10", "--dead-letter", dead], input: input, state: state)
        XCTAssertEqual(r.status, 0, r.err)
        let out = try Self.objects(r).map { ($0["instantly"] as! [String: Any]) }
        XCTAssertEqual(out.map { $0["status"] as? String }, ["queued", "skipped", "skipped"])
        XCTAssertEqual(out[1]["reason"] as? String, "verdict_below_min")
        XCTAssertEqual(out[2]["reason"] as? String, "no_unsubscribe_link")
        XCTAssertTrue(((try? String(contentsOfFile: dead, encoding: .utf8)) ?? "").contains("missing_field"))

        let risky = try send(s, ["--campaign", campaign, "--daily-new-leads", "10", "--min-verdict", "risky"], input: Self.leads(1, from: 1, verdict: "risky"), state: state)
        XCTAssertEqual(try Self.statuses(risky), ["queued": 1], risky.err)
    }

    func testDryRunSendsNothingAndLeavesTheLedgerAlone() throws {
        let s = try sandbox()
        defer { s.stop() }
        let campaign = try Self.campaign(s, status: 1)
        let state = Spawn.tempDirectory()
        let r = try send(s, ["--campaign", campaign, "--dry-run", "--daily-new-leads", "100"], input: Self.leads(20), state: state)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try Self.statuses(r), ["dry_run": 20])
        let wouldSend = try XCTUnwrap((try Self.objects(r)[0]["instantly"] as? [String: Any])?["would_send"] as? [String: Any])
        XCTAssertEqual(wouldSend["email"] as? String, "dev0@example.org")
        XCTAssertEqual(try writeRequests(s), 0)
        let requests = try s.stats()["requests"] as? [String: Any] ?? [:]
        XCTAssertTrue(requests.keys.filter { $0.hasPrefix("instantly") }.allSatisfy { $0.hasPrefix("instantly GET") }, "\(requests)")
        // Without a campaign: no request at all.
        let offline = try Spawn.run("send-instantly", ["--dry-run"], stdin: Self.ndjson(Self.leads(2)), environment: ["CMO_STATE_DIR": state])
        XCTAssertEqual(offline.status, 0, offline.err)
        // The ledger holds nothing: a real run sends all 20.
        let real = try send(s, ["--campaign", campaign, "--daily-new-leads", "100"], input: Self.leads(20), state: state)
        XCTAssertEqual(try Self.statuses(real), ["queued": 20], real.err)
    }

    func testRateLimitsAndServerErrorsAreRetriedWithoutDuplicates() throws {
        let s = try sandbox(["--429-rate", "instantly=0.3", "--fail-rate", "instantly=0.2", "--reset-rate", "instantly=0.05"])
        defer { s.stop() }
        let campaign = try Self.campaign(s, status: 1)
        let state = Spawn.tempDirectory()
        let args = ["--campaign", campaign, "--daily-new-leads", "1000", "--batch-size", "7", "--retries", "10"]
        var r = try send(s, args, input: Self.leads(60), state: state)
        var runs = 1
        while r.status != 0, runs < 5 {  // a chunk may still fail after every retry: a re-run finishes it
            r = try send(s, args, input: Self.leads(60), state: state)
            runs += 1
        }
        XCTAssertEqual(r.status, 0, r.err)
        let stored = try Self.campaignLeads(s, campaign).compactMap { $0["email"] as? String }
        XCTAssertEqual(stored.count, 60)
        XCTAssertEqual(Set(stored).count, 60)
        XCTAssertEqual(try s.violations(), 0)
    }

    func testTwoRunsAtOnceWriteEachLeadOnce() throws {
        let s = try sandbox(["--latency", "instantly=20"])
        defer { s.stop() }
        let campaign = try Self.campaign(s, status: 1)
        let state = Spawn.tempDirectory()
        let dir = Spawn.tempDirectory()
        try Self.ndjson(Self.leads(120)).write(to: URL(fileURLWithPath: dir + "/in.ndjson"))
        var env = s.environment
        env["CMO_STATE_DIR"] = state
        let cmd = "send-instantly --campaign \(campaign) --daily-new-leads 1000 --batch-size 5 -q < \(dir)/in.ndjson"
        let r = try Spawn.shell("(\(cmd) > \(dir)/a.ndjson & \(cmd) > \(dir)/b.ndjson & wait)", environment: env)
        XCTAssertEqual(r.status, 0, r.err)
        let stored = try Self.campaignLeads(s, campaign).compactMap { $0["email"] as? String }
        XCTAssertEqual(stored.count, 120)
        XCTAssertEqual(Set(stored).count, 120)
        // A lead the other run was writing comes out deferred (in_progress); a re-run settles it: all are
        // in the campaign already, by the two runs before it.
        let rerun = try send(s, ["--campaign", campaign, "--daily-new-leads", "1000"], input: Self.leads(120), state: state)
        XCTAssertEqual(try Self.statuses(rerun), ["already_queued": 120], rerun.err)
        XCTAssertEqual(try Self.campaignLeads(s, campaign).count, 120)
    }

    func testDownstreamClosingEarlyStopsAndAReRunFinishes() throws {
        let s = try sandbox()
        defer { s.stop() }
        let campaign = try Self.campaign(s, status: 1)
        let state = Spawn.tempDirectory()
        let input = Spawn.tempDirectory() + "/in.ndjson"
        try Self.ndjson(Self.leads(50)).write(to: URL(fileURLWithPath: input))
        var env = s.environment
        env["CMO_STATE_DIR"] = state
        env["CMO_JOB_ID"] = "job-h"
        let head = try Spawn.shell("send-instantly --campaign \(campaign) --daily-new-leads 1000 --batch-size 10 < \(input) | head -1", environment: env)
        XCTAssertEqual(head.lines.count, 1)
        let rest = try send(
            s, ["--campaign", campaign, "--daily-new-leads", "1000", "--batch-size", "10"], input: Self.leads(50), state: state, env: ["CMO_JOB_ID": "job-h"])
        XCTAssertEqual(rest.status, 0, rest.err)
        XCTAssertEqual(try Self.statuses(rest), ["queued": 50])
        let stored = try Self.campaignLeads(s, campaign).compactMap { $0["email"] as? String }
        XCTAssertEqual(stored.count, 50)
        XCTAssertEqual(Set(stored).count, 50)
    }
}
