import Foundation
import XCTest

@testable import CMOSandbox

final class ServiceInstantlyTests: XCTestCase {
    let auth = ["authorization": "Bearer inst-key"]

    func make(_ configure: (inout InstantlyOptions) -> Void = { _ in }) -> (InstantlyService, SandboxStats, TestClock) {
        let stats = SandboxStats()
        let clock = TestClock()
        var o = InstantlyOptions()
        o.clock = clock.clock
        configure(&o)
        return (InstantlyService(stats: stats, seed: 7, token: "inst-key", options: o), stats, clock)
    }

    func add(_ s: InstantlyService, _ body: [String: Any]) -> (Int, [String: Any]) {
        let r = s.handle(sandboxRequest("POST", "/api/v2/leads/add", json: body, headers: auth))!
        return (r.status, jsonObject(r))
    }

    func testUnauthorizedShapes() {
        let (s, _, _) = make()
        let missing = s.handle(sandboxRequest("GET", "/api/v2/campaigns"))!
        XCTAssertEqual(missing.status, 401)
        XCTAssertEqual(jsonObject(missing)["error"] as? String, "Unauthorized")
        XCTAssertEqual(jsonObject(missing)["message"] as? String, "Missing Authorization header")
        let wrong = s.handle(sandboxRequest("GET", "/api/v2/campaigns", headers: ["authorization": "Bearer nope"]))!
        XCTAssertEqual(wrong.status, 401)
        XCTAssertEqual(jsonObject(wrong)["statusCode"] as? Int, 401)
    }

    func testBulkCountsAndIndexMapping() {
        let (s, stats, _) = make()
        let campaign = s.campaignIDs[0]
        let (status, body) = add(
            s,
            [
                "campaign_id": campaign,
                "leads": [
                    ["email": "ada@acme.io", "first_name": "Ada"], ["email": "not-an-email"], ["email": "ADA@acme.io"],
                    ["email": "x@donotcontact.example"], ["email": "bob@acme.io", "custom_variables": ["why_now": "v2 shipped"]],
                    ["first_name": "NoEmail"],
                ],
            ])
        XCTAssertEqual(status, 200)
        XCTAssertEqual(body["status"] as? String, "success")
        XCTAssertEqual(body["total_sent"] as? Int, 6)
        XCTAssertEqual(body["leads_uploaded"] as? Int, 2)
        XCTAssertEqual(body["invalid_email_count"] as? Int, 2)
        XCTAssertEqual(body["duplicate_email_count"] as? Int, 1)
        XCTAssertEqual(body["in_blocklist"] as? Int, 1)
        XCTAssertEqual(body["duplicated_leads"] as? Int, 0)
        XCTAssertEqual(body["skipped_count"] as? Int, 0)
        XCTAssertEqual(body["incomplete_count"] as? Int, 0)
        XCTAssertNotNil(body["remaining_in_plan"] as? Int)
        let created = body["created_leads"] as? [[String: Any]] ?? []
        XCTAssertEqual(created.map { $0["index"] as? Int }, [0, 4])
        XCTAssertEqual(created.map { $0["email"] as? String }, ["ada@acme.io", "bob@acme.io"])
        XCTAssertEqual(created[0]["first_name"] as? String, "Ada")
        // The in-request duplicate shows in the stats.
        XCTAssertEqual(stats.snapshot()["duplicates_total"] as? Int, 1)

        // Sending the same lead again: automatic per-campaign dedupe.
        let (_, again) = add(s, ["campaign_id": campaign, "leads": [["email": "ada@acme.io"]]])
        XCTAssertEqual(again["duplicated_leads"] as? Int, 1)
        XCTAssertEqual(again["leads_uploaded"] as? Int, 0)
        XCTAssertEqual((again["created_leads"] as? [Any])?.count, 0)
        XCTAssertEqual(stats.snapshot()["duplicates_total"] as? Int, 2)
    }

    func testSkipFlagPrecedence() {
        let (s, _, _) = make()
        let (c0, c1, list) = (s.campaignIDs[0], s.campaignIDs[1], s.listIDs[0])
        _ = add(s, ["campaign_id": c0, "leads": [["email": "ada@acme.io"]]])
        // skip_if_in_campaign: in ANY campaign (bulk wording).
        let (_, a) = add(s, ["campaign_id": c1, "skip_if_in_campaign": true, "leads": [["email": "ada@acme.io"]]])
        XCTAssertEqual(a["skipped_count"] as? Int, 1)
        // skip_if_in_list does not fire for a lead that is only in a campaign…
        let (_, b) = add(s, ["list_id": list, "skip_if_in_list": true, "leads": [["email": "ada@acme.io"]]])
        XCTAssertEqual(b["leads_uploaded"] as? Int, 1)
        // …but skip_if_in_workspace overrides the others (false ones included).
        let (_, c) = add(
            s,
            [
                "campaign_id": s.campaignIDs[2], "skip_if_in_workspace": true, "skip_if_in_campaign": false,
                "leads": [["email": "ada@acme.io"]],
            ])
        XCTAssertEqual(c["skipped_count"] as? Int, 1)
        // Without flags the same email goes into another campaign.
        let (_, d) = add(s, ["campaign_id": c1, "leads": [["email": "ada@acme.io"]]])
        XCTAssertEqual(d["leads_uploaded"] as? Int, 1)
        // A skip flag wins over the automatic dedupe count.
        let (_, e) = add(s, ["campaign_id": c1, "skip_if_in_campaign": true, "leads": [["email": "ada@acme.io"]]])
        XCTAssertEqual(e["skipped_count"] as? Int, 1)
        XCTAssertEqual(e["duplicated_leads"] as? Int, 0)
    }

    func testSkipScopeTargetOnlyOption() {
        let (s, _, _) = make { $0.skipScope = .targetOnly }
        _ = add(s, ["campaign_id": s.campaignIDs[0], "leads": [["email": "ada@acme.io"]]])
        let (_, a) = add(s, ["campaign_id": s.campaignIDs[1], "skip_if_in_campaign": true, "leads": [["email": "ada@acme.io"]]])
        XCTAssertEqual(a["leads_uploaded"] as? Int, 1)
    }

    func testValidationErrors() {
        let (s, _, _) = make()
        let c = s.campaignIDs[0]
        let cases: [([String: Any], String)] = [
            (["campaign_id": c, "leads": [["email": "a@b.io", "extra": 1]]], "body/leads/0 must NOT have additional properties"),
            (["campaign_id": c, "list_id": s.listIDs[0], "leads": [["email": "a@b.io"]]], "not both"),
            (["campaign_id": c, "leads": [Any]()], "must NOT have fewer than 1 items"),
            (["campaign_id": c, "leads": Array(repeating: ["email": "a@b.io"], count: 1001)], "must NOT have more than 1000 items"),
            (["campaign_id": c, "leads": [["email": "a@b.io", "custom_variables": ["o": ["x": 1]]]]], "custom_variables/o must be"),
            (["campaign_id": c], "required property 'leads'"),
        ]
        for (body, message) in cases {
            let (status, error) = add(s, body)
            XCTAssertEqual(status, 400, message)
            XCTAssertEqual(error["error"] as? String, "Bad Request")
            XCTAssertTrue((error["message"] as? String ?? "").contains(message), "\(error)")
        }
        let (status, notFound) = add(s, ["campaign_id": "f9cc070d-8dba-4341-b847-f083c358e460", "leads": [["email": "a@b.io"]]])
        XCTAssertEqual(status, 404)
        XCTAssertEqual(notFound["error"] as? String, "Not Found")
    }

    func testCampaignsAndAccounts() {
        let (s, _, _) = make()
        let list = jsonObject(s.handle(sandboxRequest("GET", "/api/v2/campaigns", query: [("limit", "2")], headers: auth)))
        XCTAssertEqual((list["items"] as? [Any])?.count, 2)
        XCTAssertNotNil(list["next_starting_after"] as? String)
        let one = s.handle(sandboxRequest("GET", "/api/v2/campaigns/\(s.campaignIDs[1])", headers: auth))!
        XCTAssertEqual(jsonObject(one)["id"] as? String, s.campaignIDs[1])
        XCTAssertNotNil(jsonObject(one)["campaign_schedule"])
        let missing = s.handle(sandboxRequest("GET", "/api/v2/campaigns/f9cc070d-8dba-4341-b847-f083c358e460", headers: auth))!
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(jsonObject(missing)["statusCode"] as? Int, 404)
        let accounts = jsonObject(s.handle(sandboxRequest("GET", "/api/v2/accounts", headers: auth)))["items"] as? [[String: Any]] ?? []
        XCTAssertFalse(accounts.isEmpty)
        XCTAssertNotNil(accounts[0]["daily_limit"] as? Int)
        // Same seed, same ids.
        XCTAssertEqual(make().0.campaignIDs, s.campaignIDs)
    }

    func testRateLimitHasNoRetryAfter() {
        let (s, stats, clock) = make { $0.requestsPerSecond = 3 }
        for _ in 0..<3 { XCTAssertEqual(s.handle(sandboxRequest("GET", "/api/v2/accounts", headers: auth))?.status, 200) }
        let limited = s.handle(sandboxRequest("GET", "/api/v2/accounts", headers: auth))!
        XCTAssertEqual(limited.status, 429)
        XCTAssertNil(limited.header("retry-after"))
        XCTAssertEqual(jsonObject(limited)["message"] as? String, "Rate limit exceeded")
        XCTAssertEqual(jsonObject(limited)["error"] as? String, "Too Many Requests")
        XCTAssertEqual(stats.snapshot()["violations_total"] as? Int, 1)
        clock.advance(1)
        XCTAssertEqual(s.handle(sandboxRequest("GET", "/api/v2/accounts", headers: auth))?.status, 200)
    }

    func testNoPlanGives402() {
        let (s, _, _) = make { $0.noPlan = true }
        let r = s.handle(sandboxRequest("GET", "/api/v2/campaigns", headers: auth))!
        XCTAssertEqual(r.status, 402)
        XCTAssertEqual(jsonObject(r)["error"] as? String, "Payment Required")
    }

    func testSingleLeadAndLookup() {
        let (s, stats, _) = make()
        let c = s.campaignIDs[0]
        let first = s.handle(
            sandboxRequest("POST", "/api/v2/leads", json: ["campaign": c, "email": "Ada@Acme.io", "first_name": "Ada"], headers: auth))!
        XCTAssertEqual(first.status, 200)
        let lead = jsonObject(first)
        for key in [
            "id", "timestamp_created", "timestamp_updated", "organization", "status", "email_open_count", "company_domain",
            "status_summary",
        ] {
            XCTAssertNotNil(lead[key], key)
        }
        XCTAssertEqual(lead["campaign"] as? String, c)
        let second = jsonObject(
            s.handle(
                sandboxRequest(
                    "POST", "/api/v2/leads", json: ["campaign": c, "email": "ada@acme.io", "skip_if_in_campaign": true], headers: auth)))
        XCTAssertEqual(second["id"] as? String, lead["id"] as? String)
        XCTAssertEqual(stats.snapshot()["duplicates_total"] as? Int, 1)
        let bad = s.handle(sandboxRequest("POST", "/api/v2/leads", json: ["campaign_id": c, "email": "a@b.io"], headers: auth))!
        XCTAssertEqual(bad.status, 400)
        let found = jsonObject(
            s.handle(sandboxRequest("POST", "/api/v2/leads/list", json: ["contacts": ["ada@acme.io"], "campaign": c], headers: auth)))
        XCTAssertEqual((found["items"] as? [[String: Any]])?.map { $0["id"] as? String }, [lead["id"] as? String])
        let none = jsonObject(
            s.handle(sandboxRequest("POST", "/api/v2/leads/list", json: ["contacts": ["zed@acme.io"], "campaign": c], headers: auth)))
        XCTAssertEqual((none["items"] as? [Any])?.count, 0)
    }

    func testUnknownRouteIs404() {
        let (s, _, _) = make()
        let r = s.handle(sandboxRequest("DELETE", "/api/v2/campaigns", headers: auth))!
        XCTAssertEqual(r.status, 404)
    }
}

extension ServiceInstantlyTests {
    /// Many threads adding leads at once: every lead lands once, nothing is lost.
    func testConcurrentWritesAreSerialised() {
        let (s, stats, _) = make()
        let campaign = s.campaignIDs[0]
        DispatchQueue.concurrentPerform(iterations: 40) { i in
            _ = s.handle(
                sandboxRequest(
                    "POST", "/api/v2/leads/add", json: ["campaign_id": campaign, "leads": [["email": "user\(i % 20)@acme.io"]]],
                    headers: ["authorization": "Bearer inst-key"]))
        }
        let found = jsonObject(
            s.handle(
                sandboxRequest(
                    "POST", "/api/v2/leads/list", json: ["campaign": campaign, "limit": 100], headers: auth)))
        XCTAssertEqual((found["items"] as? [Any])?.count, 20)
        XCTAssertEqual(stats.snapshot()["duplicates_total"] as? Int, 20)
    }
}

extension ServiceInstantlyTests {
    func testUnverifiedBehaviourOptions() {
        // End of list: omitted by default, explicit null, or the last cursor on every page.
        let (a, _, _) = make()
        XCTAssertNil(jsonObject(a.handle(sandboxRequest("GET", "/api/v2/accounts", headers: auth)))["next_starting_after"])
        let (b, _, _) = make { $0.endOfList = .null }
        XCTAssertTrue(jsonObject(b.handle(sandboxRequest("GET", "/api/v2/accounts", headers: auth)))["next_starting_after"] is NSNull)
        let (c, _, _) = make { $0.endOfList = .lastItem }
        XCTAssertNotNil(jsonObject(c.handle(sandboxRequest("GET", "/api/v2/accounts", headers: auth)))["next_starting_after"] as? String)
        // Validation status.
        let (d, _, _) = make { $0.validationStatus = 422 }
        XCTAssertEqual(add(d, ["campaign_id": d.campaignIDs[0], "leads": [Any]()]).0, 422)
        // Evaluation order: automatic dedupe before the skip flags.
        let (e, _, _) = make { $0.dedupeBeforeSkip = true }
        _ = add(e, ["campaign_id": e.campaignIDs[0], "leads": [["email": "ada@acme.io"]]])
        let (_, again) = add(e, ["campaign_id": e.campaignIDs[0], "skip_if_in_campaign": true, "leads": [["email": "ada@acme.io"]]])
        XCTAssertEqual(again["duplicated_leads"] as? Int, 1)
        XCTAssertEqual(again["skipped_count"] as? Int, 0)
        // Cloudflare's browser check.
        let (f, _, _) = make { $0.requireUserAgent = true }
        XCTAssertEqual(f.handle(sandboxRequest("GET", "/api/v2/accounts", headers: auth))?.status, 403)
        XCTAssertEqual(
            f.handle(sandboxRequest("GET", "/api/v2/accounts", headers: auth.merging(["user-agent": "cmo/1"]) { $1 }))?.status, 200)
    }
}
