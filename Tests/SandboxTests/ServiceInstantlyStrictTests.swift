import Foundation
import XCTest

@testable import CMOSandbox

/// The places where a client built against the sandbox's Instantly would have been wrong: cursors,
/// distinct contacts, sliding rate windows, custom blocklists, `lt_interest_status`, seeded campaigns, stats.
final class ServiceInstantlyStrictTests: XCTestCase {
    let auth = ["authorization": "Bearer inst-key"]

    func make(_ configure: (inout InstantlyOptions) -> Void = { _ in }) -> (InstantlyService, SandboxStats, TestClock) {
        let stats = SandboxStats()
        let clock = TestClock()
        var o = InstantlyOptions()
        o.clock = clock.clock
        configure(&o)
        return (InstantlyService(stats: stats, seed: 7, token: "inst-key", options: o), stats, clock)
    }

    func post(_ s: InstantlyService, _ path: String, _ body: [String: Any]) -> (Int, [String: Any]) {
        let r = s.handle(sandboxRequest("POST", path, json: body, headers: auth))!
        return (r.status, jsonObject(r))
    }

    func list(_ s: InstantlyService, _ body: [String: Any]) -> (Int, [String], Any?) {
        let (status, o) = post(s, "/api/v2/leads/list", body)
        let items = (o["items"] as? [[String: Any]] ?? []).map { ($0["email"] as? String) ?? "" }
        return (status, items, o["next_starting_after"])
    }

    func addEmails(_ s: InstantlyService, _ campaign: String, _ emails: [String]) -> [String] {
        let (_, o) = post(s, "/api/v2/leads/add", ["campaign_id": campaign, "leads": emails.map { ["email": $0] }])
        return (o["created_leads"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
    }

    // MARK: leads/list cursors

    func testUnknownCursorContinuesAfterItByDefault() {
        let (s, _, _) = make()
        let c = s.campaignIDs[0]
        let ids = addEmails(s, c, ["a@x.io", "b@x.io", "c@x.io", "d@x.io"])
        XCTAssertEqual(ids, ids.sorted(), "lead ids sort in creation order")
        // A cursor between the second and third lead's ids (as if the second had been deleted).
        let between = ids[1] + "0"
        let (status, page, _) = list(s, ["campaign": c, "starting_after": between])
        XCTAssertEqual(status, 200)
        XCTAssertEqual(page, ["c@x.io", "d@x.io"])
        // A cursor before every id gives everything; one after every id gives nothing.
        XCTAssertEqual(list(s, ["campaign": c, "starting_after": "00000000-0000-7000-8000-000000000000"]).1.count, 4)
        XCTAssertEqual(list(s, ["campaign": c, "starting_after": "ffffffff-ffff-7fff-bfff-ffffffffffff"]).1, [])
        // A known cursor, as before.
        XCTAssertEqual(list(s, ["campaign": c, "starting_after": ids[0], "limit": 2]).1, ["b@x.io", "c@x.io"])
    }

    func testUnknownCursorRejectedWhenAsked() {
        let (s, _, _) = make { $0.unknownCursor = .reject }
        let c = s.campaignIDs[0]
        let ids = addEmails(s, c, ["a@x.io", "b@x.io"])
        let (status, body) = post(s, "/api/v2/leads/list", ["campaign": c, "starting_after": ids[0] + "0"])
        XCTAssertEqual(status, 400)
        XCTAssertEqual(body["error"] as? String, "Bad Request")
        XCTAssertEqual(list(s, ["campaign": c, "starting_after": ids[0]]).1, ["b@x.io"])
        let campaigns = s.handle(sandboxRequest("GET", "/api/v2/campaigns", query: [("starting_after", "nope")], headers: auth))!
        XCTAssertEqual(campaigns.status, 400)
    }

    func testDistinctContactsAreOrderedByEmailWithTheEmailAsCursor() {
        let (s, _, _) = make()
        let (c0, c1) = (s.campaignIDs[0], s.campaignIDs[1])
        _ = addEmails(s, c0, ["zoe@x.io", "adam@x.io", "mia@x.io"])
        _ = addEmails(s, c1, ["adam@x.io", "bea@x.io"])
        // Without distinct_contacts: every lead, in id (creation) order.
        XCTAssertEqual(list(s, [:]).1, ["zoe@x.io", "adam@x.io", "mia@x.io", "adam@x.io", "bea@x.io"])
        // With it: one lead per email, ordered by email, the cursor is the last email.
        let (_, first, cursor) = list(s, ["distinct_contacts": true, "limit": 2])
        XCTAssertEqual(first, ["adam@x.io", "bea@x.io"])
        XCTAssertEqual(cursor as? String, "bea@x.io")
        let (_, second, end) = list(s, ["distinct_contacts": true, "limit": 2, "starting_after": "bea@x.io"])
        XCTAssertEqual(second, ["mia@x.io", "zoe@x.io"])
        XCTAssertNil(end)
        // An email that is no lead's continues after it in email order.
        XCTAssertEqual(list(s, ["distinct_contacts": true, "starting_after": "b@x.io"]).1, ["bea@x.io", "mia@x.io", "zoe@x.io"])
        // The lead kept for a contact is the first stored one.
        let (_, o) = post(s, "/api/v2/leads/list", ["distinct_contacts": true, "contacts": ["adam@x.io"]])
        XCTAssertEqual((o["items"] as? [[String: Any]])?.first?["campaign"] as? String, c0)
    }

    func testListBodyIsValidated() {
        let (s, _, _) = make()
        let cases: [([String: Any], String)] = [
            (["limit": 0], "body/limit must be >= 1"), (["limit": 101], "body/limit must be <= 100"),
            (["limit": 2.5], "body/limit must be integer"), (["contacts": ["not-an-email"]], "body/contacts/0 must match format \"email\""),
            (["contacts": "a@b.io"], "body/contacts must be array"), (["campaign": 5], "body/campaign must be string"),
            (["distinct_contacts": "yes"], "body/distinct_contacts must be boolean"),
        ]
        for (body, message) in cases {
            let (status, error) = post(s, "/api/v2/leads/list", body)
            XCTAssertEqual(status, 400, message)
            XCTAssertEqual(error["message"] as? String, message)
        }
    }

    // MARK: sliding rate windows

    func get(_ s: InstantlyService) -> Int {
        s.handle(sandboxRequest("GET", "/api/v2/leads/00000000-0000-7000-8000-000000000000", headers: auth))!.status
    }

    /// 100 requests just before a second boundary and one just after: a clock-aligned window would serve it.
    func testPerSecondWindowSlidesAcrossTheSecondBoundary() {
        let (s, stats, clock) = make()
        clock.advance(0.9)
        for _ in 0..<100 { XCTAssertEqual(get(s), 404) }
        clock.advance(0.2)  // a new clock second, but only 0.2 s after the 100
        let limited = s.handle(sandboxRequest("GET", "/api/v2/accounts", headers: auth))!
        XCTAssertEqual(limited.status, 429)
        XCTAssertEqual(limited.headers.map(\.name), ["content-type"], "no rate-limit headers, no Retry-After")
        XCTAssertEqual(
            jsonObject(limited) as NSDictionary,
            ["statusCode": 429, "error": "Too Many Requests", "message": "Rate limit exceeded"] as NSDictionary)
        clock.advance(0.85)  // 1.05 s after the 100
        XCTAssertEqual(get(s), 404)
        let extras = s.statsExtras()["rate_limit_violations"] as? [String: Int]
        XCTAssertEqual(extras?["per_second"], 1)
        XCTAssertEqual((stats.snapshot()["rate_limit_violations"] as? [[String: Any]])?.first?["bucket"] as? String, "workspace_per_second")
    }

    /// The minute window slides too: 10 at the end of one clock minute and 10 at the start of the next are 20 in 60 s.
    func testPerMinuteWindowSlidesAcrossTheMinuteBoundary() {
        let (s, _, clock) = make { $0.requestsPerMinute = 10 }
        clock.advance(59.5)
        for _ in 0..<10 { XCTAssertEqual(get(s), 404) }
        clock.advance(1)
        XCTAssertEqual(get(s), 429)
        XCTAssertEqual((s.statsExtras()["rate_limit_violations"] as? [String: Int])?["per_minute"], 1)
        clock.advance(59)  // 60.0 s after the 10, counting the refused one: it counted too
        XCTAssertEqual(get(s), 404)
    }

    /// A client that paces itself at 100 per clock second (never more than 100 in any aligned second, so
    /// never more than 6,000 in any aligned minute) for 65 s, with a few milliseconds of jitter: sliding
    /// windows see 101 in some one-second span, and the refusals keep counting towards the minute.
    func testSteadyHundredPerSecondForOverAMinuteGets429s() {
        let (s, stats, clock) = make()
        var random = SeededRandom(seed: 1, stream: "jitter")
        var elapsed = 0.0
        var statuses: [Int: Int] = [:]
        for second in 0..<65 {
            for i in 0..<100 {
                let jitter = (Double(random.next() % 1000) / 1000 - 0.5) * 0.008
                let t = Double(second) + (Double(i) + 0.5) / 100 + jitter  // inside its own clock second
                clock.advance(t - elapsed)
                elapsed = t
                statuses[get(s), default: 0] += 1
            }
        }
        XCTAssertGreaterThan(statuses[429] ?? 0, 0, "\(statuses)")
        let v = s.statsExtras()["rate_limit_violations"] as? [String: Int]
        XCTAssertGreaterThan(v?["per_second"] ?? 0, 0)
        XCTAssertGreaterThan(v?["per_minute"] ?? 0, 0, "the minute limit is real too: \(v ?? [:])")
        XCTAssertEqual(stats.snapshot()["violations_total"] as? Int, statuses[429])
    }

    func testServedOnlyCountingLetsAClientRecover() {
        // 3 at once (one refused), 2 more half a second later (both refused), then one 1.01 s after the start.
        func run(_ countRefused: Bool) -> [Int] {
            let (s, _, clock) = make {
                $0.requestsPerSecond = 2
                $0.rateCountsRefused = countRefused
            }
            var out = [get(s), get(s), get(s)]
            clock.advance(0.5)
            out += [get(s), get(s)]
            clock.advance(0.51)
            return out + [get(s)]
        }
        XCTAssertEqual(run(false), [404, 404, 429, 429, 429, 404])
        // Counting refusals (the default), the two sent into the 429 at 0.5 s still count.
        XCTAssertEqual(run(true), [404, 404, 429, 429, 429, 429])
    }

    // MARK: blocklists and lead fields

    func testCustomBlocklistIsHonoured() {
        let (s, _, _) = make()
        let c = s.campaignIDs[0]
        let leads = [["email": "x@competitor.example"], ["email": "vip@customer.example"], ["email": "blocked@example.com"]]
        // The default blocklist: only blocked@example.com.
        let (_, d) = post(s, "/api/v2/leads/add", ["campaign_id": c, "leads": leads])
        XCTAssertEqual(d["in_blocklist"] as? Int, 1)
        XCTAssertEqual(d["blocklist_used"] as? String, s.defaultBlocklistID)
        // The custom one: its two entries (a domain and an email), not the default's.
        let (_, custom) = post(
            s, "/api/v2/leads/add", ["campaign_id": s.campaignIDs[1], "leads": leads, "blocklist_id": s.customBlocklistID])
        XCTAssertEqual(custom["in_blocklist"] as? Int, 2)
        XCTAssertEqual(custom["leads_uploaded"] as? Int, 1)
        XCTAssertEqual(custom["blocklist_used"] as? String, s.customBlocklistID)
        // An unknown id.
        let (status, missing) = post(
            s, "/api/v2/leads/add", ["campaign_id": c, "leads": leads, "blocklist_id": "f9cc070d-8dba-4341-b847-f083c358e460"])
        XCTAssertEqual(status, 404)
        XCTAssertEqual(missing["error"] as? String, "Not Found")
        XCTAssertEqual(missing["statusCode"] as? Int, 404)
        XCTAssertEqual(post(s, "/api/v2/leads/add", ["campaign_id": c, "leads": leads, "blocklist_id": 7]).0, 400)
        // The single endpoint checks the list it names too.
        let (one, _) = post(s, "/api/v2/leads", ["campaign": c, "email": "a@b.io", "blocklist_id": "f9cc070d-8dba-4341-b847-f083c358e460"])
        XCTAssertEqual(one, 404)
        let (blocked, body) = post(
            s, "/api/v2/leads", ["campaign": c, "email": "ceo@competitor.example", "blocklist_id": s.customBlocklistID])
        XCTAssertEqual(blocked, 200)
        XCTAssertNil(body["id"], "a blocked lead is not created")
        XCTAssertEqual(post(s, "/api/v2/leads", ["campaign": c, "email": "a@b.io", "blocklist_id": NSNull()]).0, 400)
    }

    func testInterestStatusEnumAndFreshLead() {
        let (s, _, _) = make()
        let c = s.campaignIDs[0]
        for bad: Any in [5, -5, 1.5, "1", true] {
            let (status, error) = post(
                s, "/api/v2/leads/add", ["campaign_id": c, "leads": [["email": "a@b.io", "lt_interest_status": bad]]])
            XCTAssertEqual(status, 400, "\(bad)")
            XCTAssertTrue((error["message"] as? String ?? "").hasPrefix("body/leads/0/lt_interest_status must"), "\(error)")
            XCTAssertEqual(post(s, "/api/v2/leads", ["campaign": c, "email": "a@b.io", "lt_interest_status": bad]).0, 400)
        }
        XCTAssertEqual(
            post(s, "/api/v2/leads/add", ["campaign_id": c, "leads": [["email": "w@b.io", "lt_interest_status": -4]]]).1["leads_uploaded"]
                as? Int, 1)
        // A fresh lead has no interest status (0 would mean "Out of Office"), and is neither verified nor enriched.
        let (_, lead) = post(s, "/api/v2/leads", ["campaign": c, "email": "fresh@b.io"])
        XCTAssertNotNil(lead["id"])
        XCTAssertNil(lead["lt_interest_status"])
        XCTAssertNil(lead["verification_status"])
        XCTAssertNil(lead["enrichment_status"])
        XCTAssertEqual(lead["status"] as? Int, 1)
        let (_, set) = post(s, "/api/v2/leads", ["campaign": c, "email": "won@b.io", "lt_interest_status": 4])
        XCTAssertEqual(set["lt_interest_status"] as? Int, 4)
    }

    func testBulkBodyRefusesUnknownKeysUnlessAsked() {
        let (s, _, _) = make()
        let body: [String: Any] = ["campaign_id": s.campaignIDs[0], "skip_if_in_campaigns": true, "leads": [["email": "a@b.io"]]]
        let (status, error) = post(s, "/api/v2/leads/add", body)
        XCTAssertEqual(status, 400)
        XCTAssertEqual(error["message"] as? String, "body must NOT have additional properties ('skip_if_in_campaigns')")
        let (t, _, _) = make { $0.acceptUnknownBulkKeys = true }
        XCTAssertEqual(post(t, "/api/v2/leads/add", body.merging(["campaign_id": t.campaignIDs[0]]) { $1 }).0, 200)
    }

    func testPostBodiesMustBeJSON() {
        let (s, _, _) = make()
        let body = Array(#"{"campaign_id":"x","leads":[{"email":"a@b.io"}]}"#.utf8)
        func send(_ type: String?, _ bytes: [UInt8]) -> (Int, [String: Any]) {
            var h = auth
            if let type { h["content-type"] = type }
            let r = s.handle(SandboxRequest(method: "POST", path: "/api/v2/leads/add", headers: h, body: bytes))!
            return (r.status, jsonObject(r))
        }
        let (status, error) = send("text/plain", body)
        XCTAssertEqual(status, 415)
        XCTAssertEqual(error["error"] as? String, "Unsupported Media Type")
        XCTAssertEqual(send(nil, body).0, 415)
        XCTAssertEqual(send("application/json", []).1["code"] as? String, "FST_ERR_CTP_EMPTY_JSON_BODY")
        XCTAssertEqual(send("application/json; charset=utf-8", Array("{\"leads\":".utf8)).0, 400)
        XCTAssertEqual(send("application/json; charset=utf-8", body).0, 404, "a JSON body gets as far as the campaign check")
        // The switch for a lenient server.
        let (t, _, _) = make { $0.requireJSONContentType = false }
        XCTAssertEqual(t.handle(SandboxRequest(method: "POST", path: "/api/v2/leads/add", headers: auth, body: body))?.status, 404)
    }

    func testListQueriesFollowTheSpec() {
        let (s, _, _) = make()
        func items(_ path: String, _ query: [(String, String)]) -> (Int, [[String: Any]], String?) {
            let r = s.handle(sandboxRequest("GET", path, query: query, headers: auth))!
            let o = jsonObject(r)
            return (r.status, o["items"] as? [[String: Any]] ?? [], o["next_starting_after"] as? String)
        }
        // Accounts: the cursor is `timestamp_created&email`; a bare timestamp is the legacy form.
        let (_, first, cursor) = items("/api/v2/accounts", [("limit", "1")])
        let a = first.first ?? [:]
        XCTAssertEqual(cursor, "\(a["timestamp_created"] as? String ?? "")&\(a["email"] as? String ?? "")")
        let (_, rest, _) = items("/api/v2/accounts", [("starting_after", cursor ?? "")])
        XCTAssertEqual(rest.count, 2)
        XCTAssertFalse(rest.contains { ($0["email"] as? String) == (a["email"] as? String) })
        XCTAssertEqual(items("/api/v2/accounts", [("starting_after", a["timestamp_created"] as? String ?? "")]).1.count, 2)
        // Campaign status filters take the enum only; exclude_status leaves a status out.
        XCTAssertEqual(items("/api/v2/campaigns", [("status", "7")]).0, 400)
        XCTAssertEqual(items("/api/v2/campaigns", [("status", "active")]).0, 400)
        XCTAssertEqual(items("/api/v2/campaigns", [("exclude_status", "1")]).1.count, 3)
        XCTAssertEqual(items("/api/v2/accounts", [("status", "4")]).0, 400)
    }

    // MARK: seeded campaigns

    func testSeededCampaignsCoverWhatAWriterChecks() {
        let (s, _, _) = make()
        XCTAssertEqual(s.campaignIDs.count, 5)
        XCTAssertEqual(s.campaignIDs, (0..<5).map { ServiceKit.uuid(seed: 7, "instantly-campaign-\($0)") })
        let campaigns = s.campaignIDs.map { jsonObject(s.handle(sandboxRequest("GET", "/api/v2/campaigns/\($0)", headers: auth))) }
        XCTAssertEqual(campaigns.map { $0["status"] as? Int }, [1, 1, 0, 2, 3])
        XCTAssertEqual(campaigns.map { $0["insert_unsubscribe_header"] as? Bool }, [true, false, true, true, true])
        func variant(_ c: [String: Any]) -> [String: Any] {
            let steps = ((c["sequences"] as? [[String: Any]])?.first?["steps"] as? [[String: Any]]) ?? []
            return (steps.first?["variants"] as? [[String: Any]])?.first ?? [:]
        }
        XCTAssertEqual(variant(campaigns[0])["subject"] as? String, "{{cmo_subject}}")
        XCTAssertEqual(variant(campaigns[0])["body"] as? String, "{{cmo_body}}")
        XCTAssertFalse((variant(campaigns[1])["subject"] as? String ?? "{{").contains("{{cmo_"))
        XCTAssertFalse((variant(campaigns[1])["body"] as? String ?? "{{cmo_").contains("{{cmo_"))
        let accounts = Set(
            (jsonObject(s.handle(sandboxRequest("GET", "/api/v2/accounts", headers: auth)))["items"] as? [[String: Any]] ?? [])
                .compactMap { $0["email"] as? String })
        for c in campaigns {
            for key in [
                "id", "name", "status", "campaign_schedule", "sequences", "daily_limit", "daily_max_leads", "email_list",
                "timestamp_created", "timestamp_updated", "insert_unsubscribe_header", "stop_on_reply", "email_gap",
            ] {
                XCTAssertNotNil(c[key], key)
            }
            let senders = c["email_list"] as? [String] ?? []
            XCTAssertFalse(senders.isEmpty)
            XCTAssertTrue(Set(senders).isSubset(of: accounts), "\(senders)")
        }
        // Filtering by status finds them too.
        let paused = jsonObject(s.handle(sandboxRequest("GET", "/api/v2/campaigns", query: [("status", "2")], headers: auth)))
        XCTAssertEqual((paused["items"] as? [[String: Any]])?.map { $0["id"] as? String }, [s.campaignIDs[3]])
        // The sandbox-only table.
        let table = jsonObject(s.inspect(sandboxRequest("GET", "/campaigns")))["items"] as? [[String: Any]] ?? []
        XCTAssertEqual(table.map { $0["id"] as? String }, s.campaignIDs)
        XCTAssertEqual(table[0]["custom_variables"] as? [String], ["cmo_subject", "cmo_body"])
        XCTAssertEqual(table[1]["custom_variables"] as? [String], [])
    }

    // MARK: stats and the leads a bench inspects

    func testStatsCountStoredDuplicatesAndResubmissions() {
        let (s, stats, _) = make { $0.singleDedupe = false }
        let (c0, c1) = (s.campaignIDs[0], s.campaignIDs[1])
        _ = post(
            s, "/api/v2/leads/add",
            [
                "campaign_id": c0,
                "leads": [["email": "a@x.io", "custom_variables": ["cmo_subject": "Hi"]], ["email": "b@x.io"], ["email": "A@x.io"]],
            ])
        // Re-sending a and b (skip flag and automatic dedupe) are resubmissions, not stored duplicates.
        _ = post(s, "/api/v2/leads/add", ["campaign_id": c0, "skip_if_in_campaign": true, "leads": [["email": "a@x.io"]]])
        _ = post(s, "/api/v2/leads/add", ["campaign_id": c0, "leads": [["email": "b@x.io"], ["email": "c@x.io"]]])
        // In another campaign a is new there.
        _ = post(s, "/api/v2/leads/add", ["campaign_id": c1, "leads": [["email": "a@x.io"]]])
        var extras = s.statsExtras()
        var c = (extras["campaigns"] as? [String: [String: Any]])?[c0] ?? [:]
        XCTAssertEqual(c["leads"] as? Int, 3)
        XCTAssertEqual(c["duplicate_leads"] as? Int, 0)
        XCTAssertEqual(c["resubmissions"] as? Int, 2)
        XCTAssertEqual(c["duplicates_in_request"] as? Int, 1)
        XCTAssertEqual(c["index"] as? Int, 0)
        XCTAssertEqual((extras["campaigns"] as? [String: [String: Any]])?[c1]?["resubmissions"] as? Int, 0)
        // The single endpoint without dedupe stores a real duplicate, and the stats say so.
        XCTAssertEqual(post(s, "/api/v2/leads", ["campaign": c0, "email": "a@x.io"]).0, 200)
        extras = s.statsExtras()
        c = (extras["campaigns"] as? [String: [String: Any]])?[c0] ?? [:]
        XCTAssertEqual(c["duplicate_leads"] as? Int, 1)
        XCTAssertEqual(c["resubmissions"] as? Int, 3)
        XCTAssertEqual(extras["duplicate_leads_total"] as? Int, 1)
        XCTAssertEqual(extras["resubmissions_total"] as? Int, 3)
        // Every stored lead of a campaign, with its custom variables and the endpoint that stored it.
        let rows = jsonObject(s.inspect(sandboxRequest("GET", "/leads", query: [("campaign", c0)])))["items"] as? [[String: Any]] ?? []
        XCTAssertEqual(rows.map { $0["email"] as? String }, ["a@x.io", "b@x.io", "c@x.io", "a@x.io"])
        XCTAssertEqual((rows[0]["payload"] as? [String: Any])?["cmo_subject"] as? String, "Hi")
        XCTAssertEqual(rows.map { $0["via"] as? String }, ["leads/add", "leads/add", "leads/add", "leads"])
        XCTAssertNotNil(rows[0]["timestamp_created"] as? String)
        let ndjson = s.inspect(sandboxRequest("GET", "/leads", query: [("campaign", c1), ("format", "ndjson")]))!
        XCTAssertEqual(String(decoding: ndjson.body, as: UTF8.self).split(separator: "\n").count, 1)
        // A reset forgets the counters.
        s.reset()
        stats.reset()
        XCTAssertEqual(s.statsExtras()["resubmissions_total"] as? Int, 0)
    }

    func testSingleEndpointDedupesByDefault() {
        let (s, _, _) = make()
        let c = s.campaignIDs[0]
        let first = post(s, "/api/v2/leads", ["campaign": c, "email": "a@x.io"]).1
        let second = post(s, "/api/v2/leads", ["campaign": c, "email": "a@x.io"]).1
        XCTAssertEqual(first["id"] as? String, second["id"] as? String)
        let c0 = (s.statsExtras()["campaigns"] as? [String: [String: Any]])?[c] ?? [:]
        XCTAssertEqual(c0["duplicate_leads"] as? Int, 0)
        XCTAssertEqual(c0["resubmissions"] as? Int, 1)
    }

    func testInjectedFaultsLookLikeInstantly() {
        let (s, _, _) = make()
        let r = s.injectedFault(status: 429)
        XCTAssertEqual(r.status, 429)
        XCTAssertNil(r.header("retry-after"))
        XCTAssertEqual(r.headers.map(\.name), ["content-type"])
        XCTAssertEqual(jsonObject(r)["message"] as? String, "Rate limit exceeded")
        XCTAssertEqual(jsonObject(s.injectedFault(status: 503))["statusCode"] as? Int, 503)
    }
}
