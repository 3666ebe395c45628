import CMOTestSupport
import Foundation
import XCTest

@testable import CMOSandbox

/// The sandbox's Instantly plays what Instantly sends back: the clock sends queued leads, the world answers,
/// and every event is POSTed to the registered webhooks (through the launched binary, to a loopback receiver).
final class InstantlyWebhooksTests: XCTestCase {
    /// A lively world, so a few dozen leads give every kind of event.
    static let lively = [
        "--repos", "10", "--users", "20", "--instantly-sequence-steps", "3", "--instantly-bounce-rate", "0.1",
        "--instantly-reply-rate", "0.3", "--instantly-unsubscribe-rate", "0.1", "--instantly-ooo-rate", "0.1",
        "--instantly-auto-reply-rate", "0.05", "--instantly-webhook-backoff", "0.02",
    ]

    struct Sandbox {
        let process: SandboxProcess
        var base: String { process.base }
        var api: String { process.env["INSTANTLY_API_URL"]! }
        var campaign: String { process.env["CMO_SANDBOX_INSTANTLY_CAMPAIGN"]! }

        init(_ arguments: [String]) throws { process = try SandboxProcess(arguments) }

        /// An Instantly API call: status and the parsed JSON (nil when the body is not JSON).
        @discardableResult
        func call(_ method: String, _ path: String, _ body: Any? = nil, key: Bool = true) throws -> (Int, Any?) {
            var headers: [String: String] = [:]
            if key { headers["Authorization"] = "Bearer \(process.env["INSTANTLY_API_KEY"]!)" }
            var bytes: [UInt8] = []
            if let body {
                headers["Content-Type"] = "application/json"
                bytes = Array(try JSONSerialization.data(withJSONObject: body))
            }
            let r = try TestHTTP.request(method, api + path, headers: headers, body: bytes)
            return (r.status, try? JSONSerialization.jsonObject(with: Data(r.body)))
        }

        func object(_ method: String, _ path: String, _ body: Any? = nil) throws -> [String: Any] {
            let (status, json) = try call(method, path, body)
            XCTAssertEqual(status, 200, "\(method) \(path): \(String(describing: json))")
            return json as? [String: Any] ?? [:]
        }

        func advance(_ days: Int) throws -> [String: Any] {
            let body = Array(try JSONSerialization.data(withJSONObject: ["days": days]))
            let r = try TestHTTP.request(
                "POST", base + "/_sandbox/instantly/advance", headers: ["Content-Type": "application/json"], body: body)
            XCTAssertEqual(r.status, 200, r.text)
            return try r.object()
        }

        func truth() throws -> [[String: Any]] {
            try TestHTTP.request("GET", base + "/_sandbox/instantly/truth").object()["events"] as? [[String: Any]] ?? []
        }

        /// Waits until no delivery is queued or being tried.
        func settle(_ seconds: Double = 30) throws {
            let end = Date().addingTimeInterval(seconds)
            while Date() < end {
                if try TestHTTP.request("GET", base + "/_sandbox/instantly/deliveries").object()["pending"] as? Int == 0 { return }
                usleep(50_000)
            }
            XCTFail("deliveries still pending after \(seconds) s")
        }

        /// Every webhook event, page by page.
        func webhookEvents(_ query: String = "") throws -> [[String: Any]] {
            var all: [[String: Any]] = []
            var cursor: String?
            for _ in 0..<1000 {
                let page = try object("GET", "/api/v2/webhook-events?limit=100\(query)" + (cursor.map { "&starting_after=\($0)" } ?? ""))
                all += page["items"] as? [[String: Any]] ?? []
                guard let next = page["next_starting_after"] as? String else { break }
                cursor = next
            }
            return all
        }

        func queue(_ emails: [String], campaign: String? = nil) throws {
            let leads = emails.map {
                ["email": $0, "first_name": "F", "custom_variables": ["cmo_subject": "About \($0)", "cmo_body": "B"]]
            }
            let added = try object("POST", "/api/v2/leads/add", ["campaign_id": campaign ?? self.campaign, "leads": leads])
            XCTAssertEqual(added["leads_uploaded"] as? Int, emails.count)
        }
    }

    static func emails(_ n: Int, _ tag: String = "dev") -> [String] { (0..<n).map { "\(tag)\($0)@acme\($0 % 5).example" } }

    /// The same event as the receiver saw it and as the truth lists it.
    static func identity(_ e: [String: Any]) -> String {
        ["event_type", "campaign_id", "lead_email", "step", "timestamp"].map { e[$0].map { $0 is NSNull ? "-" : "\($0)" } ?? "-" }
            .joined(separator: "|")
    }

    func testDeliveriesCarryTheHeaderAndThePayloadAndAgreeWithTruthAndAnalytics() throws {
        let receiver = try ScriptedHTTPServer(handler: { _ in .status(200) })
        defer { receiver.stop() }
        let sbx = try Sandbox(Self.lively + ["--seed", "5"])
        defer { sbx.process.stop() }
        // Two mailboxes the world knows: one on a domain that does not exist, one whose DNS fails for now.
        let world = try TestHTTP.request("GET", sbx.base + "/_sandbox/truth").object()
        let table = world["emails"] as? [String: [String: Any]] ?? [:]
        let nxdomain = try XCTUnwrap(table.first { $0.value["dns"] as? String == "nxdomain" }?.key)
        let servfail = try XCTUnwrap(table.first { $0.value["dns"] as? String == "servfail" }?.key)

        let hook = try sbx.object(
            "POST", "/api/v2/webhooks",
            [
                "target_hook_url": receiver.url + "/hooks/instantly?x=1", "name": "cmo", "event_type": "all_events",
                "headers": ["X-CMO-Secret": "s3cr3t"],
            ])
        XCTAssertEqual(hook["status"] as? Int, 1)
        XCTAssertEqual(hook["event_type"] as? String, "all_events")
        // A second webhook for bounces of this campaign only.
        _ = try sbx.object(
            "POST", "/api/v2/webhooks",
            ["target_hook_url": receiver.url + "/bounces", "campaign": sbx.campaign, "event_type": "email_bounced"])
        try sbx.queue(Self.emails(40) + [nxdomain, servfail])
        // Leads in a campaign that is not active are never sent.
        try sbx.queue(["idle@acme.example"], campaign: sbx.process.env["CMO_SANDBOX_INSTANTLY_CAMPAIGN_PAUSED"])

        let answer = try sbx.advance(12)
        try sbx.settle()
        let truth = try sbx.truth()
        let counts = answer["events"] as? [String: Int] ?? [:]
        XCTAssertEqual(answer["events_total"] as? Int, truth.count)
        XCTAssertEqual(counts.values.reduce(0, +), truth.count)
        for type in [
            "email_sent", "email_bounced", "reply_received", "lead_unsubscribed", "auto_reply_received", "lead_out_of_office",
            "campaign_completed",
        ] {
            XCTAssertGreaterThan(counts[type] ?? 0, 0, "no \(type) in \(counts)")
        }
        XCTAssertFalse(truth.contains { $0["lead_email"] as? String == "idle@acme.example" })
        // The same events in /_sandbox/truth.
        let merged = try TestHTTP.request("GET", sbx.base + "/_sandbox/truth").object()["instantly_events"] as? [[String: Any]] ?? []
        XCTAssertEqual(merged.map(Self.identity), truth.map(Self.identity))

        let requests = receiver.requests
        let all = requests.filter { $0.target == "/hooks/instantly?x=1" }
        let bounces = requests.filter { $0.target == "/bounces" }
        XCTAssertEqual(all.count, truth.count)
        XCTAssertEqual(bounces.count, counts["email_bounced"])
        XCTAssertTrue(all.allSatisfy { $0.header("x-cmo-secret") == "s3cr3t" && $0.method == "POST" })
        XCTAssertTrue(bounces.allSatisfy { $0.header("x-cmo-secret") == nil })
        let payloads = all.compactMap { try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any] }
        XCTAssertEqual(Set(payloads.map(Self.identity)), Set(truth.map(Self.identity)))
        for p in payloads {
            for key in ["timestamp", "event_type", "workspace", "campaign_id", "campaign_name"] {
                XCTAssertNotNil(p[key], "\(key) in \(p)")
            }
        }
        let sent = try XCTUnwrap(payloads.first(where: { $0["event_type"] as? String == "email_sent" && $0["step"] as? Int == 1 }))
        for key in ["lead_email", "email_account", "unibox_url", "variant", "email_id", "email_subject"] { XCTAssertNotNil(sent[key], key) }
        XCTAssertEqual(sent["is_first"] as? Bool, true)
        XCTAssertEqual(sent["email_subject"] as? String, "About \(sent["lead_email"]!)")
        XCTAssertTrue(payloads.contains { $0["event_type"] as? String == "email_sent" && $0["step"] as? Int == 3 }, "follow-ups are sent")
        let reply = try XCTUnwrap(payloads.first(where: { $0["event_type"] as? String == "reply_received" }))
        for key in ["reply_text_snippet", "reply_subject", "reply_text", "email_id", "step"] { XCTAssertNotNil(reply[key], key) }
        let ooo = try XCTUnwrap(payloads.first(where: { $0["event_type"] as? String == "lead_out_of_office" }))
        XCTAssertNotNil(ooo["returns_on"] as? String)

        // The world's mailboxes: a hard bounce for the missing domain, a soft one for the failing DNS.
        func bounce(_ email: String) -> [String: Any]? {
            payloads.first { $0["event_type"] as? String == "email_bounced" && $0["lead_email"] as? String == email }
        }
        XCTAssertEqual(bounce(nxdomain)?["bounce_type"] as? String, "hard")
        XCTAssertEqual(bounce(nxdomain)?["bounce_code"] as? String, "5.1.2")
        XCTAssertEqual(bounce(servfail)?["bounce_type"] as? String, "soft")
        XCTAssertEqual((bounce(servfail)?["bounce_code"] as? String)?.first, "4")

        // A replied, bounced or unsubscribed lead gets no later step; lead statuses follow.
        for stop in ["reply_received", "email_bounced", "lead_unsubscribed"] {
            for e in truth where e["event_type"] as? String == stop {
                let later = truth.filter {
                    $0["lead_email"] as? String == e["lead_email"] as? String && $0["event_type"] as? String == "email_sent"
                        && ($0["step"] as? Int ?? 0) > (e["step"] as? Int ?? 0)
                }
                XCTAssertTrue(later.isEmpty, "\(stop) of \(e["lead_email"] ?? "")")
            }
        }
        let listed =
            try sbx.object("POST", "/api/v2/leads/list", ["campaign": sbx.campaign, "limit": 100])["items"] as? [[String: Any]] ?? []
        func status(_ email: String) -> Int? { listed.first { $0["email"] as? String == email }?["status"] as? Int }
        XCTAssertEqual(status(nxdomain), -1)
        let unsubscribed = try XCTUnwrap(truth.first { $0["event_type"] as? String == "lead_unsubscribed" }?["lead_email"] as? String)
        XCTAssertEqual(status(unsubscribed), -2)

        // webhook-events: every delivery, successful, with its payload; filters and pagination per the spec.
        let events = try sbx.webhookEvents()
        XCTAssertEqual(events.count, truth.count + (counts["email_bounced"] ?? 0))
        XCTAssertTrue(
            events.allSatisfy { $0["success"] as? Bool == true && $0["status_code"] as? Int == 200 && $0["will_retry"] as? Bool == false })
        XCTAssertEqual(Set(events.compactMap { $0["payload"] as? [String: Any] }.map(Self.identity)), Set(truth.map(Self.identity)))
        XCTAssertEqual(try sbx.webhookEvents("&success=false").count, 0)
        let day = try XCTUnwrap(events.first?["timestamp_created_date"] as? String)
        let thatDay = try sbx.webhookEvents("&from=\(day)&to=\(day)")
        XCTAssertEqual(thatDay.count, events.filter { $0["timestamp_created_date"] as? String == day }.count)
        XCTAssertEqual(try sbx.webhookEvents("&search=\(nxdomain)").count, events.filter { $0["lead_email"] as? String == nxdomain }.count)
        let one = try sbx.object("GET", "/api/v2/webhook-events/\(events[0]["id"]!)")
        XCTAssertEqual(one["id"] as? String, events[0]["id"] as? String)

        // Analytics count what the truth lists.
        let rows = try XCTUnwrap(try sbx.call("GET", "/api/v2/campaigns/analytics?id=\(sbx.campaign)").1 as? [[String: Any]])
        XCTAssertEqual(rows.count, 1)
        let mine = truth.filter { $0["campaign_id"] as? String == sbx.campaign }
        func n(_ type: String) -> Int { mine.filter { $0["event_type"] as? String == type }.count }
        func leads(_ type: String) -> Int {
            Set(mine.filter { $0["event_type"] as? String == type }.compactMap { $0["lead_email"] as? String }).count
        }
        XCTAssertEqual(rows[0]["emails_sent_count"] as? Int, n("email_sent"))
        XCTAssertEqual(rows[0]["contacted_count"] as? Int, leads("email_sent"))
        XCTAssertEqual(rows[0]["reply_count"] as? Int, n("reply_received"))
        XCTAssertEqual(rows[0]["reply_count_automatic"] as? Int, n("auto_reply_received"))
        XCTAssertEqual(rows[0]["bounced_count"] as? Int, leads("email_bounced"))
        XCTAssertEqual(rows[0]["unsubscribed_count"] as? Int, leads("lead_unsubscribed"))
        XCTAssertEqual(rows[0]["leads_count"] as? Int, 42)
        let everyCampaign = try XCTUnwrap(try sbx.call("GET", "/api/v2/campaigns/analytics").1 as? [[String: Any]])
        XCTAssertEqual(everyCampaign.count, 5)
        XCTAssertEqual(everyCampaign.reduce(0) { $0 + ($1["emails_sent_count"] as? Int ?? 0) }, n("email_sent"))
    }

    func testTheSameSeedGivesTheSameEvents() throws {
        func run(_ seed: String) throws -> [String] {
            let sbx = try Sandbox(Self.lively + ["--seed", seed])
            defer { sbx.process.stop() }
            try sbx.queue(Self.emails(30))
            _ = try sbx.advance(3)
            try sbx.queue(Self.emails(10, "late"))
            _ = try sbx.advance(6)
            return try sbx.truth().map { Self.identity($0) + "|\($0["email_id"] ?? "")" }
        }
        let a = try run("11")
        XCTAssertFalse(a.isEmpty)
        XCTAssertEqual(a, try run("11"))
        XCTAssertNotEqual(a, try run("12"))
    }

    func testAFailingReceiverGetsRetriesThenTheWebhookIsDisabledUntilResumed() throws {
        let healthy = LockedFlag()
        let receiver = try ScriptedHTTPServer(handler: { _ in healthy.value ? .status(200) : .status(500, body: "down") })
        defer { receiver.stop() }
        let sbx = try Sandbox(
            Self.lively + [
                "--seed", "8", "--instantly-webhook-attempts", "3", "--instantly-webhook-disable-after", "2", "--instantly-webhook-threads",
                "1",
            ])
        defer { sbx.process.stop() }
        let hook = try sbx.object("POST", "/api/v2/webhooks", ["target_hook_url": receiver.url + "/", "event_type": "email_sent"])
        let id = try XCTUnwrap(hook["id"] as? String)
        try sbx.queue(Self.emails(10))
        let first = try sbx.advance(1)
        let sentDay1 = (first["events"] as? [String: Int])?["email_sent"] ?? 0
        XCTAssertEqual(sentDay1, 10)
        try sbx.settle()
        // Two deliveries failed every attempt (3 each), then the webhook was disabled: the rest were not tried.
        XCTAssertEqual(receiver.requests.count, 6)
        let disabled = try sbx.object("GET", "/api/v2/webhooks/\(id)")
        XCTAssertEqual(disabled["status"] as? Int, -1)
        XCTAssertNotNil(disabled["timestamp_error"] as? String)
        var events = try sbx.webhookEvents()
        XCTAssertEqual(events.count, 10, "every event is recorded, delivered or not")
        let tried = events.filter { $0["status_code"] as? Int == 500 }
        XCTAssertEqual(tried.count, 2)
        XCTAssertTrue(
            tried.allSatisfy {
                $0["retry_count"] as? Int == 2 && $0["retry_successful"] as? Bool == false && $0["will_retry"] as? Bool == false
            })
        XCTAssertEqual(events.filter { ($0["error_message"] as? String)?.contains("disabled") == true }.count, 8)
        XCTAssertEqual(try sbx.webhookEvents("&success=false").count, 10)

        // While disabled, new events are recorded, not delivered.
        _ = try sbx.advance(2)
        try sbx.settle()
        XCTAssertEqual(receiver.requests.count, 6)
        events = try sbx.webhookEvents()
        let whileDisabled = events.count
        XCTAssertGreaterThan(whileDisabled, 10)

        // Resumed, and the receiver is back: later events arrive; the missed ones stay in webhook-events.
        healthy.value = true
        let resumed = try sbx.object("POST", "/api/v2/webhooks/\(id)/resume", [String: Any]())
        XCTAssertEqual(resumed["status"] as? Int, 1)
        XCTAssertTrue(resumed["timestamp_error"] is NSNull)
        let later = try sbx.advance(3)
        try sbx.settle()
        let sentLater = (later["events"] as? [String: Int])?["email_sent"] ?? 0
        XCTAssertGreaterThan(sentLater, 0)
        XCTAssertEqual(receiver.requests.count, 6 + sentLater)
        XCTAssertEqual(try sbx.webhookEvents("&success=true").count, sentLater)
        XCTAssertEqual(try sbx.webhookEvents().count, whileDisabled + sentLater)
    }

    func testWebhookAndBlockListBodiesAreCheckedAsTheSpecSays() throws {
        let sbx = try Sandbox(["--repos", "10", "--users", "20", "--seed", "3"])
        defer { sbx.process.stop() }
        XCTAssertEqual(try sbx.call("GET", "/api/v2/webhooks", key: false).0, 401)
        for bad: [String: Any] in [
            [:], ["target_hook_url": "ftp://x.example/"], ["target_hook_url": "http://h.example/", "secret": "x"],
            ["target_hook_url": "http://h.example/", "event_type": "email_deleted"],
            ["target_hook_url": "http://h.example/", "headers": ["A": 1]],
            ["target_hook_url": "http://h.example/", "headers": ["X-A": "a\r\nX-B: b"]], ["target_hook_url": 5],
        ] {
            let (status, json) = try sbx.call("POST", "/api/v2/webhooks", bad)
            XCTAssertEqual(status, 400, "\(bad)")
            XCTAssertEqual((json as? [String: Any])?["error"] as? String, "Bad Request")
        }
        XCTAssertEqual(
            try sbx.call(
                "POST", "/api/v2/webhooks", ["target_hook_url": "http://h.example/", "campaign": "5b36c6b8-dc75-436c-bfb8-7d90ab93e6f0"]
            ).0, 404)
        let made = try sbx.object("POST", "/api/v2/webhooks", ["target_hook_url": "https://h.example/x", "campaign": sbx.campaign])
        let id = try XCTUnwrap(made["id"] as? String)
        XCTAssertEqual(try sbx.call("GET", "/api/v2/webhooks/nope").0, 404)
        XCTAssertEqual(try sbx.call("POST", "/api/v2/webhooks/nope/resume", [String: Any]()).0, 404)
        XCTAssertEqual(try sbx.call("PATCH", "/api/v2/webhooks/\(id)", ["status": 1]).0, 400)
        let patched = try sbx.object("PATCH", "/api/v2/webhooks/\(id)", ["name": "renamed", "headers": ["X-Key": "v"]])
        XCTAssertEqual(patched["name"] as? String, "renamed")
        XCTAssertEqual((patched["headers"] as? [String: String])?["X-Key"], "v")
        XCTAssertEqual(try sbx.call("GET", "/api/v2/webhooks?limit=0").0, 400)
        XCTAssertEqual((try sbx.object("GET", "/api/v2/webhooks?campaign=\(sbx.campaign)")["items"] as? [Any])?.count, 1)
        let types = try sbx.object("GET", "/api/v2/webhooks/event-types")["event_types"] as? [[String: Any]] ?? []
        XCTAssertTrue(types.contains { $0["id"] as? String == "lead_interested" })
        XCTAssertEqual(try sbx.object("DELETE", "/api/v2/webhooks/\(id)")["id"] as? String, id)
        XCTAssertEqual(try sbx.call("GET", "/api/v2/webhooks/\(id)").0, 404)
        XCTAssertEqual(try sbx.call("GET", "/api/v2/webhook-events?success=maybe").0, 400)
        XCTAssertEqual(try sbx.call("GET", "/api/v2/webhook-events?from=yesterday").0, 400)
        XCTAssertEqual(try sbx.call("GET", "/api/v2/campaigns/analytics?id=not-a-uuid").0, 400)

        // The clock: days 1...365, nothing else in the body.
        for bad: [String: Any] in [["days": 0], ["days": 366], ["days": 1.5], ["days": 1, "hours": 2], [:]] {
            let r = try TestHTTP.request(
                "POST", sbx.base + "/_sandbox/instantly/advance", headers: ["Content-Type": "application/json"],
                body: Array(try JSONSerialization.data(withJSONObject: bad)))
            XCTAssertEqual(r.status, 400, "\(bad)")
        }

        // The block list: an email and a domain, `is_domain`, duplicates counted, bulk with invalid values.
        XCTAssertEqual(try sbx.call("POST", "/api/v2/block-lists-entries", ["bl_value": "not an email"]).0, 400)
        XCTAssertEqual(try sbx.call("POST", "/api/v2/block-lists-entries", ["bl_value": "a@b.example", "x": 1]).0, 400)
        XCTAssertEqual(try sbx.object("POST", "/api/v2/block-lists-entries", ["bl_value": "Ann@Corp.example"])["is_domain"] as? Bool, false)
        let domain = try sbx.object("POST", "/api/v2/block-lists-entries", ["bl_value": "blocked-later.example"])
        XCTAssertEqual(domain["is_domain"] as? Bool, true)
        var stats = (try sbx.process.stats()["services"] as? [String: Any])?["instantly"] as? [String: Any] ?? [:]
        XCTAssertEqual((stats["block_list"] as? [String: Any])?["duplicate_entries"] as? Int, 0)
        let bulk = try sbx.object(
            "POST", "/api/v2/block-lists-entries/bulk-create", ["bl_values": ["ann@corp.example", "nope", "other.example"]])
        XCTAssertEqual(bulk["valid_count"] as? Int, 2)
        XCTAssertEqual(bulk["invalid_count"] as? Int, 1)
        stats = (try sbx.process.stats()["services"] as? [String: Any])?["instantly"] as? [String: Any] ?? [:]
        XCTAssertEqual((stats["block_list"] as? [String: Any])?["duplicate_entries"] as? Int, 1)
        let domains = try sbx.object("GET", "/api/v2/block-lists-entries?domains_only=true")["items"] as? [[String: Any]] ?? []
        XCTAssertTrue(domains.allSatisfy { $0["is_domain"] as? Bool == true })
        XCTAssertTrue(domains.contains { $0["bl_value"] as? String == "blocked-later.example" })
        XCTAssertEqual((try sbx.object("GET", "/api/v2/block-lists-entries?search=corp")["items"] as? [Any])?.count, 2)
        // leads/add honours the new entry; a lead queued before its domain was blocked is not sent.
        let refused = try sbx.object("POST", "/api/v2/leads/add", ["campaign_id": sbx.campaign, "leads": [["email": "ann@corp.example"]]])
        XCTAssertEqual(refused["in_blocklist"] as? Int, 1)
        try sbx.queue(["kept@fine.example", "late@newly-blocked.example"])
        _ = try sbx.object("POST", "/api/v2/block-lists-entries", ["bl_value": "newly-blocked.example"])
        _ = try sbx.advance(1)
        let sent = try sbx.truth().filter { $0["event_type"] as? String == "email_sent" }.compactMap { $0["lead_email"] as? String }
        XCTAssertEqual(sent, ["kept@fine.example"])
    }
}

extension InstantlyWebhooksTests {
    func testBadEngagementAndDeliveryFlagsExit64() throws {
        for bad in [
            ["--instantly-reply-rate", "0.9", "--instantly-bounce-rate", "0.5"], ["--instantly-interested-share", "1.5"],
            ["--instantly-webhook-backoff", "0.1,x"], ["--instantly-webhook-attempts", "0"], ["--instantly-sequence-steps", "11"],
        ] {
            let r = try Spawn.run("cmo-sandbox", ["--port", "0"] + bad)
            XCTAssertEqual(r.status, 64, "\(bad)")
        }
    }

    func testEventTimesAreWrittenAsServiceKitWritesThem() {
        for t in [0, 1_795_000_000, 1_795_000_000.123, 1_795_086_399.999, 4_102_444_800.5] {
            let date = Date(timeIntervalSince1970: t)
            XCTAssertEqual(InstantlyService.stamp(date), ServiceKit.iso8601(date), "\(t)")
        }
    }

    func testNoDeliveryRecordsWithoutAMatchingWebhookAndCustomLabelsMatchOnTheirValue() throws {
        var o = InstantlyOptions()
        o.engagement.replyRate = 1
        o.engagement.interestedShare = 1
        o.engagement.bounceRate = 0
        o.engagement.unsubscribeRate = 0
        o.engagement.outOfOfficeRate = 0
        o.engagement.autoReplyRate = 0
        let s = InstantlyService(stats: SandboxStats(), seed: 1, token: "k", options: o)
        let auth = ["authorization": "Bearer k", "content-type": "application/json"]
        func call(_ method: String, _ path: String, _ body: [String: Any]) -> SandboxResponse {
            s.handle(
                SandboxRequest(method: method, path: path, headers: auth, body: Array(try! JSONSerialization.data(withJSONObject: body))))!
        }
        // A custom-label webhook (event_type null) for interest value 1 on another campaign, and one on this campaign.
        XCTAssertEqual(
            call(
                "POST", "/api/v2/webhooks",
                [
                    "target_hook_url": "http://127.0.0.1:9/", "event_type": NSNull(), "custom_interest_value": 1,
                    "campaign": s.campaignIDs[1],
                ]
            ).status, 200)
        XCTAssertEqual(
            call(
                "POST", "/api/v2/webhooks",
                [
                    "target_hook_url": "http://127.0.0.1:9/", "event_type": NSNull(), "custom_interest_value": 1,
                    "campaign": s.campaignIDs[0],
                ]
            ).status, 200)
        XCTAssertEqual(
            call("POST", "/api/v2/leads/add", ["campaign_id": s.campaignIDs[0], "leads": [["email": "a@b.example"]]]).status, 200)
        let r = s.inspect(SandboxRequest(method: "POST", path: "/advance", body: Array(#"{"days": 2}"#.utf8)))!
        let counts = (try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])?["events"] as? [String: Int]
        XCTAssertEqual(counts?["lead_interested"], 1)
        XCTAssertEqual(counts?["reply_received"], 1)
        // Only the interested label reached a webhook: one record, for the campaign's own webhook.
        let records = s.lock.withLock { s.engagement.deliveries }
        XCTAssertEqual(records.count, 1)
        XCTAssertEqual(s.lock.withLock { s.engagement.events[records[0].eventIndex].type }, "lead_interested")
    }
}

/// A Bool several threads read and one test sets.
final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    var value: Bool {
        get { lock.withLock { flag } }
        set { lock.withLock { flag = newValue } }
    }
}
