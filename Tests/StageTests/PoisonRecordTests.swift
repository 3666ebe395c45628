import CMOTestSupport
import Foundation
import XCTest

/// Issue 27, "a poison record costs only itself": a lead, person or issue that the service refuses
/// for its own content (or that is not a mailbox at all) comes out `failed` with the reason, its
/// batch-mates are written, a re-run neither sends it again unchanged nor stops, and 69 stays for a
/// service that is down. A run in which every record was refused ends 65.
final class PoisonRecordTests: XCTestCase {
    func sandbox() throws -> SandboxLauncher { try SandboxLauncher(["--seed", "5", "--repos", "20", "--users", "20"]) }

    /// Leads as render-copy writes them, with the given addresses (verdict `safe` from upstream).
    static func leads(_ emails: [String], extra: [Int: [String: Any]] = [:]) -> [[String: Any]] {
        emails.enumerated().map { i, email in
            var lead: [String: Any] = [
                "kind": "person", "id": 5000 + i, "login": "dev\(i)", "name": "Dev Number\(i)", "company": "@acme",
                "best_email": email, "email_checks": [["address": email, "verdict": "safe", "reasons": [], "flags": [:]]],
                "emails": [["address": email, "source": "commit", "evidence": "acme/tool@abc", "last_seen": "2026-11-01"]],
                "copy": [
                    "subject": "tool\(i) and flaky CI", "body": "Hi,\n\ntool\(i).\n\nUnsubscribe: https://example.org/u?e=\(i)\n",
                    "template": "intro", "variant": "A",
                ],
                "instantly": ["status": "queued", "campaign_id": "camp-1", "lead_id": "lead-\(i)"],
            ]
            lead.merge(extra[i] ?? [:]) { $1 }
            return lead
        }
    }

    func run(_ tool: String, _ env: [String: String], _ args: [String], _ input: [[String: Any]], state: String) throws -> SpawnResult {
        var environment = env
        environment["CMO_STATE_DIR"] = state
        environment["CMO_JOB_ID"] = environment["CMO_JOB_ID"] ?? "job-poison"
        return try Spawn.run(tool, args, stdin: NDJSON.data(input), environment: environment)
    }

    static func results(_ r: SpawnResult, _ field: String) throws -> [[String: Any]] {
        try NDJSON.objects(r).map { try XCTUnwrap($0[field] as? [String: Any], "\($0)") }
    }

    func requests(_ s: SandboxLauncher, _ prefix: String) throws -> Int {
        let all = try s.stats()["requests"] as? [String: Any] ?? [:]
        return all.filter { $0.key.hasPrefix(prefix) }.values.compactMap { $0 as? Int }.reduce(0, +)
    }

    func campaign(_ s: SandboxLauncher) throws -> String { try SendInstantlyTests.campaign(s, status: 1) }

    /// The ledger's (state, reason) of each key, read with sqlite3.
    func ledger(_ state: String) throws -> [String: (state: String, reason: String)] {
        let r = try Spawn.run(
            "/usr/bin/python3",
            [
                "-c",
                "import sqlite3,json,sys; print(json.dumps({k:[s,r or ''] for k,s,r in sqlite3.connect(sys.argv[1]).execute('select key,state,reason from writes')}))",
                state + "/ledger.sqlite",
            ])
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: r.stdout) as? [String: [String]], r.out)
        return json.mapValues { ($0[0], $0[1]) }
    }

    // MARK: - send-instantly

    func testALeadThatIsNotAMailboxFailsAloneAndARerunWritesNothingAndDoesNotStop() throws {
        let s = try sandbox()
        defer { s.stop() }
        let campaign = try campaign(s)
        let state = Spawn.tempDirectory()
        let input = Self.leads(["dev0@example.org", "foo bar@example.org", "dev2@example.org"])
        let args = ["--campaign", campaign, "--daily-new-leads", "100", "--log-format", "json"]
        let r = try run("send-instantly", s.environment, args, input, state: state)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try NDJSON.statuses(r, field: "instantly"), ["queued": 2, "failed": 1], r.err)
        let failed = try XCTUnwrap(try Self.results(r, "instantly").first { $0["status"] as? String == "failed" })
        XCTAssertEqual(failed["reason"] as? String, "invalid_email")
        XCTAssertTrue((failed["message"] as? String ?? "").contains("syntax_bad_local_part"), "\(failed)")
        XCTAssertEqual(try requests(s, "instantly POST /api/v2/leads/add"), 1, "the batch-mates in one request")
        XCTAssertEqual(try requests(s, "instantly POST /api/v2/leads/list"), 0, "nothing to look up")
        let stored = try SendInstantlyTests.campaignLeads(s, campaign).compactMap { $0["email"] as? String }
        XCTAssertEqual(Set(stored), ["dev0@example.org", "dev2@example.org"])
        let rows = try ledger(state)
        let poison = try XCTUnwrap(rows["instantly:lead:\(campaign):foo bar@example.org"])
        XCTAssertEqual(poison.state, "failed")
        XCTAssertTrue(poison.reason.contains("invalid_email"), poison.reason)
        XCTAssertEqual(rows.values.filter { $0.state == "confirmed" }.count, 2)

        // A re-run: nothing written, the poison lead fails again without a request, and the run goes on.
        let again = try run("send-instantly", s.environment, args, input, state: state)
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertNotEqual(again.status, 69)
        XCTAssertEqual(try NDJSON.statuses(again, field: "instantly"), ["queued": 2, "failed": 1], again.err)
        XCTAssertTrue(again.err.contains(#""written":0"#), again.err)
        XCTAssertEqual(try requests(s, "instantly POST /api/v2/leads/add"), 1, "nothing sent again")
    }

    func testARunWhereEveryLeadIsRefusedEnds65AndSendsNothing() throws {
        let s = try sandbox()
        defer { s.stop() }
        let campaign = try campaign(s)
        let input = Self.leads(["foo bar@example.org", "\"john\"@example.org", "a..b@example.org", "jösé@example.org"])
        let r = try run(
            "send-instantly", s.environment, ["--campaign", campaign, "--daily-new-leads", "100"], input, state: Spawn.tempDirectory())
        XCTAssertEqual(r.status, 65, "nothing useful came out: \(r.err)")
        XCTAssertEqual(try NDJSON.statuses(r, field: "instantly"), ["failed": 4], r.err)
        XCTAssertTrue(r.err.contains("refused for its content"), r.err)
        XCTAssertEqual(try requests(s, "instantly POST /api/v2/leads"), 0)
    }

    /// Instantly's 400 names the lead (`body/leads/1/lt_interest_status …`): that lead fails with
    /// Instantly's words, the others go in the next request; a re-run does not send it again unchanged,
    /// and sends it once it changed.
    func testA400NamingOneLeadFailsItAndTheRestAreWrittenAndOnlyAChangedLeadIsSentAgain() throws {
        let s = try sandbox()
        defer { s.stop() }
        let campaign = try campaign(s)
        let state = Spawn.tempDirectory()
        var input = Self.leads(["dev0@example.org", "dev1@example.org", "dev2@example.org"], extra: [1: ["interest": 7]])
        let args = ["--campaign", campaign, "--daily-new-leads", "100", "--field", "lt_interest_status=.interest", "--log-format", "json"]
        let r = try run("send-instantly", s.environment, args, input, state: state)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try NDJSON.statuses(r, field: "instantly"), ["queued": 2, "failed": 1], r.err)
        let results = try Self.results(r, "instantly")
        XCTAssertEqual(results[1]["reason"] as? String, "rejected")
        XCTAssertTrue((results[1]["message"] as? String ?? "").contains("lt_interest_status"), "\(results[1])")
        XCTAssertEqual(try requests(s, "instantly POST /api/v2/leads/add"), 2, "the refused request, then the rest")
        let row = try XCTUnwrap(try ledger(state)["instantly:lead:\(campaign):dev1@example.org"])
        XCTAssertEqual(row.state, "failed")
        XCTAssertTrue(row.reason.contains("lt_interest_status"), row.reason)

        let again = try run("send-instantly", s.environment, args, input, state: state)
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(try NDJSON.statuses(again, field: "instantly"), ["queued": 2, "failed": 1], again.err)
        XCTAssertEqual(try Self.results(again, "instantly")[1]["already"] as? Bool, true)
        XCTAssertEqual(try requests(s, "instantly POST /api/v2/leads/add"), 2, "not sent again unchanged")

        input[1]["interest"] = 1
        let fixed = try run("send-instantly", s.environment, args, input, state: state)
        XCTAssertEqual(fixed.status, 0, fixed.err)
        XCTAssertEqual(try NDJSON.statuses(fixed, field: "instantly"), ["queued": 3], fixed.err)
        XCTAssertEqual(try requests(s, "instantly POST /api/v2/leads/add"), 3, "the changed lead is sent")
    }

    /// An address the check passes but Instantly counts as invalid (its TLD is not letters): not
    /// created, and the lookup that follows is refused for that contact; it fails alone.
    func testAnAddressInstantlyCallsInvalidFailsAloneWithoutStoppingTheRun() throws {
        let s = try sandbox()
        defer { s.stop() }
        let campaign = try campaign(s)
        let state = Spawn.tempDirectory()
        let input = Self.leads(["dev0@example.org", "dev1@example.c0m", "dev2@example.org"])
        let args = ["--campaign", campaign, "--daily-new-leads", "100"]
        let r = try run("send-instantly", s.environment, args, input, state: state)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try NDJSON.statuses(r, field: "instantly"), ["queued": 2, "failed": 1], r.err)
        XCTAssertEqual(try Self.results(r, "instantly")[1]["reason"] as? String, "invalid_email")
        let again = try run("send-instantly", s.environment, args, input, state: state)
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(try NDJSON.statuses(again, field: "instantly"), ["queued": 2, "failed": 1], again.err)
        XCTAssertEqual(try requests(s, "instantly POST /api/v2/leads/add"), 1, "not sent again")
    }

    static let fakeCampaign = "0f6a7c2e-1111-4222-8333-444455556666"

    /// A stand-in for Instantly that answers 400 "Bad Request" (naming no lead) to any `leads/add`
    /// whose body `refuses`, creates every lead otherwise, and finds none by `leads/list`.
    static func fakeInstantly(refuses: @escaping @Sendable (String) -> Bool) throws -> ScriptedHTTPServer {
        try ScriptedHTTPServer(handler: { request in
            let json = [("Content-Type", "application/json")]
            let body = String(decoding: request.body, as: UTF8.self)
            if request.method == "GET", request.target.hasPrefix("/api/v2/campaigns/") {
                return .status(
                    200, json,
                    body: """
                        {"id":"\(fakeCampaign)","name":"Poison","status":1,"insert_unsubscribe_header":true,"email_list":["a@acme.example"],
                        "sequences":[{"steps":[{"variants":[{"subject":"{{cmo_subject}}","body":"{{cmo_body}}"}]}]}]}
                        """)
            }
            if request.target.hasPrefix("/api/v2/leads/list") {
                return .status(200, json, body: #"{"items":[],"next_starting_after":null}"#)
            }
            if request.target.hasPrefix("/api/v2/leads/add") {
                if refuses(body) { return .status(400, json, body: #"{"statusCode":400,"error":"Bad Request","message":"Bad Request"}"#) }
                let leads =
                    ((try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any])?["leads"] as? [[String: Any]] ?? []
                let created = leads.enumerated().map { i, l in ["index": i, "id": "lead-\(l["email"] ?? i)", "email": l["email"] ?? ""] }
                let answer: [String: Any] = [
                    "status": "success", "total_sent": leads.count, "leads_uploaded": leads.count, "created_leads": created,
                    "in_blocklist": 0, "duplicated_leads": 0, "skipped_count": 0, "invalid_email_count": 0,
                ]
                return .status(200, json, body: String(decoding: try! JSONSerialization.data(withJSONObject: answer), as: UTF8.self))
            }
            return .status(404, body: #"{"statusCode":404,"error":"Not Found","message":"Not Found"}"#)
        })
    }

    /// A 400 that names no lead whenever a batch holds the poison address: the batch is halved until
    /// the poison lead is alone, in a bounded number of requests, and every other lead is written.
    func testA400ThatNamesNoLeadIsBisected() throws {
        let server = try Self.fakeInstantly(refuses: { $0.contains("dev5@example.org") })
        defer { server.stop() }
        let env = ["INSTANTLY_API_KEY": "k", "INSTANTLY_API_URL": server.url]
        let emails = (0..<16).map { "dev\($0)@example.org" }
        let r = try run(
            "send-instantly", env, ["--campaign", Self.fakeCampaign, "--daily-new-leads", "100"], Self.leads(emails),
            state: Spawn.tempDirectory())
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try NDJSON.statuses(r, field: "instantly"), ["queued": 15, "failed": 1], r.err)
        let failed = try Self.results(r, "instantly")[5]
        XCTAssertEqual(failed["reason"] as? String, "rejected")
        XCTAssertTrue((failed["message"] as? String ?? "").contains("Bad Request"), "\(failed)")
        let adds = server.requests.filter { $0.target.hasPrefix("/api/v2/leads/add") }.count
        // 16 leads: the whole batch, then two halves at each of 4 levels: 1 + 2·log2(16) = 9.
        XCTAssertLessThanOrEqual(adds, 9)
        XCTAssertGreaterThan(adds, 2)
    }

    /// Every lead of a batch refused without one being named: the request is at fault, not the leads.
    /// The stage stops (1, not 69), no lead is recorded as refused, and a re-run against a service that
    /// takes the request writes them all.
    func testA400RefusingEveryLeadUnnamedStopsWithoutMarkingTheLeads() throws {
        let state = Spawn.tempDirectory()
        let input = Self.leads((0..<4).map { "dev\($0)@example.org" })
        let args = ["--campaign", Self.fakeCampaign, "--daily-new-leads", "100"]
        let broken = try Self.fakeInstantly(refuses: { _ in true })
        let r = try run("send-instantly", ["INSTANTLY_API_KEY": "k", "INSTANTLY_API_URL": broken.url], args, input, state: state)
        broken.stop()
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(r.err.contains("the request is at fault"), r.err)
        XCTAssertFalse(try ledger(state).values.contains { $0.reason.hasPrefix("refused") }, "no lead marked as refused")
        let fixed = try Self.fakeInstantly(refuses: { _ in false })
        defer { fixed.stop() }
        let again = try run("send-instantly", ["INSTANTLY_API_KEY": "k", "INSTANTLY_API_URL": fixed.url], args, input, state: state)
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(try NDJSON.statuses(again, field: "instantly"), ["queued": 4], again.err)
    }

    /// 69 is for a service that is down, not for a record: a closed port is 69.
    func testAServiceThatIsDownIsStill69() throws {
        let port = try ScriptedHTTPServer.unusedPort()
        let env = ["INSTANTLY_API_KEY": "k", "INSTANTLY_API_URL": "http://127.0.0.1:\(port)", "CMO_HTTP_RETRIES": "1"]
        let r = try run(
            "send-instantly", env, ["--campaign", "0f6a7c2e-1111-4222-8333-444455556666", "--daily-new-leads", "10"],
            Self.leads(["dev0@example.org"]), state: Spawn.tempDirectory())
        XCTAssertEqual(r.status, 69, r.err)
    }

    // MARK: - mx-check

    func testMXCheckCallsWhatIsNotAMailboxInvalid() throws {
        let s = try sandbox()
        defer { s.stop() }
        let input = [
            [
                "emails": [
                    "foo bar@example.org", "\"john\"@example.org", "jösé@example.org", "a..b@example.org", "x@example.org\r\nBcc: y@z.org",
                ]
            ]
        ]
        let r = try Spawn.run(
            "mx-check", ["--dns-timeout", "0.5", "--dns-attempts", "1"], stdin: NDJSON.data(input),
            environment: ["CMO_DNS_SERVER": s.environment["CMO_DNS_SERVER"] ?? ""])
        XCTAssertEqual(r.status, 0, r.err)
        let record = try XCTUnwrap(try NDJSON.objects(r).first)
        let checks = try XCTUnwrap(record["email_checks"] as? [[String: Any]])
        XCTAssertEqual(checks.map { $0["verdict"] as? String }, Array(repeating: "invalid", count: 5))
        XCTAssertEqual(
            checks.map { ($0["reasons"] as? [String])?.first },
            [
                "syntax_bad_local_part", "syntax_quoted_local_part", "syntax_non_ascii_local_part", "syntax_bad_local_part",
                "syntax_control_character",
            ])
        XCTAssertTrue(record["best_email"] is NSNull, "\(record)")
    }

    // MARK: - sync-attio

    /// One lead that is not a mailbox (never sent) and one Attio refuses (400 on its email attribute):
    /// both fail with the reason, the others are synced; a re-run does not send the refused one again.
    func testAttioOneBadPersonFailsAloneAndIsNotResentUnchanged() throws {
        let s = try sandbox()
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        let input = Self.leads(["dev0@acme.co.uk", "foo bar@acme.co.uk", "dev2@acme.c0m", "dev3@acme.co.uk"])
        let args = ["--list", "outbound_developers", "--job", "job-p"]
        let r = try run("sync-attio", s.environment, args, input, state: state)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try NDJSON.statuses(r, field: "attio"), ["synced": 2, "failed": 2], r.err)
        let results = try Self.results(r, "attio")
        XCTAssertEqual(results[1]["reason"] as? String, "invalid_email")
        XCTAssertEqual(results[2]["reason"] as? String, "rejected")
        XCTAssertTrue((results[2]["message"] as? String ?? "").contains("HTTP 400 validation_type"), "\(results[2])")
        let asserts = try requests(s, "attio PUT /v2/objects/{object}/records")
        XCTAssertEqual(asserts, 3, "the not-a-mailbox lead is never sent")

        let again = try run("sync-attio", s.environment, args, input, state: state)
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(try NDJSON.statuses(again, field: "attio"), ["synced": 2, "failed": 2], again.err)
        XCTAssertEqual(try requests(s, "attio PUT /v2/objects/{object}/records"), asserts, "the refused person is not sent again")

        let allBad = try run("sync-attio", s.environment, args, [input[1], input[2]], state: Spawn.tempDirectory())
        XCTAssertEqual(allBad.status, 65, allBad.err)
    }

    // MARK: - sync-linear

    /// A stand-in for Linear's GraphQL that refuses (an `INVALID_INPUT` error on the alias, `data`
    /// nulled, the later aliases not run, as graphql-js does) any issue whose title says poison.
    final class FakeLinear: @unchecked Sendable {
        let lock = NSLock()
        var issues: [String: [String: Any]] = [:]
        var poisonCreates = 0
        var creates = 0

        func answer(_ request: RecordedRequest) -> ScriptedReply {
            lock.lock()
            defer { lock.unlock() }
            let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
            let query = body["query"] as? String ?? ""
            let vars = body["variables"] as? [String: Any] ?? [:]
            var data: [String: Any] = [:]
            var errors: [[String: Any]] = []
            if query.contains("TeamByKey") || query.contains("TeamByID") {
                let team: [String: Any] = ["id": "7d1f0a4e-0000-4000-8000-000000000001", "key": "ENG", "name": "Engineering"]
                data = query.contains("TeamByKey") ? ["teams": ["nodes": [team]]] : ["team": team]
            } else if query.contains("IssuesByID") {
                let ids = (vars["ids"] as? [String] ?? []).map { $0.lowercased() }
                data = ["issues": ["nodes": ids.compactMap { issues[$0] }]]
            } else if query.contains("CreateIssues") {
                creates += 1
                var k = 0
                while let input = vars["i\(k)"] as? [String: Any] {
                    let title = input["title"] as? String ?? ""
                    if title.lowercased().contains("poison") {
                        poisonCreates += 1
                        errors.append([
                            "message": "Argument Validation Error: title", "path": ["c\(k)"],
                            "extensions": [
                                "code": "INVALID_INPUT", "type": "invalid input", "userPresentableMessage": "The title is not allowed.",
                            ],
                        ])
                        data = [:]
                        break
                    }
                    let id = (input["id"] as? String ?? UUID().uuidString).lowercased()
                    let issue: [String: Any] = [
                        "id": id, "identifier": "ENG-\(issues.count + 1)", "team": ["id": input["teamId"] ?? ""],
                        "parent": (input["parentId"] as? String).map { ["id": $0] as Any } ?? NSNull(),
                    ]
                    issues[id] = issue
                    data["c\(k)"] = ["success": true, "issue": issue]
                    k += 1
                }
            } else if query.contains("UpdateIssues") {
                var k = 0
                while let id = vars["id\(k)"] as? String {
                    data["u\(k)"] = [
                        "success": true, "issue": ["id": id, "identifier": issues[id.lowercased()]?["identifier"] ?? "ENG-0"],
                    ]
                    k += 1
                }
            }
            var out: [String: Any] = ["data": errors.isEmpty ? data : NSNull()]
            if !errors.isEmpty { out["errors"] = errors }
            return .status(
                200, [("Content-Type", "application/json")],
                body: String(decoding: try! JSONSerialization.data(withJSONObject: out), as: UTF8.self))
        }
    }

    func testLinearOneRefusedIssueFailsAloneAndTheRestAreCreatedAndARerunDoesNotResendIt() throws {
        let fake = FakeLinear()
        let server = try ScriptedHTTPServer(handler: { fake.answer($0) })
        defer { server.stop() }
        let env = ["LINEAR_API_KEY": "lin_api_test", "LINEAR_API_URL": server.url + "/graphql"]
        let letters: [[String: Any]] = (0..<5).map { i in
            [
                "stage": "send-instantly", "line": i + 1,
                "error": [
                    "code": "code\(i)", "retryable": false, "message": i == 1 || i == 3 ? "POISON record \(i)" : "plain failure \(i)",
                ],
                "input": ["id": i],
            ]
        }
        let state = Spawn.tempDirectory()
        let args = ["--team", "ENG", "--job", "job-p", "--campaign-name", "Rust maintainers"]
        let r = try run("sync-linear", env, args, letters, state: state)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try NDJSON.statuses(r, field: "linear"), ["created": 3, "failed": 2], r.err)
        let results = try Self.results(r, "linear")
        guard results.count == 5 else { return XCTFail("\(results)") }
        XCTAssertEqual(results[1]["reason"] as? String, "rejected")
        XCTAssertTrue((results[1]["message"] as? String ?? "").contains("Argument Validation Error"), "\(results[1])")
        XCTAssertEqual(fake.poisonCreates, 2)

        let again = try run("sync-linear", env, args, letters, state: state)
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(try NDJSON.statuses(again, field: "linear"), ["already_counted": 3, "failed": 2], again.err)
        XCTAssertEqual(fake.poisonCreates, 2, "the refused issues are not sent again unchanged")

        // A parent issue Linear refuses for its input (here: the campaign name) is a configuration
        // problem, 78, not "Linear is down".
        let parent = try run("sync-linear", env, ["--team", "ENG", "--job", "job-q", "--campaign-name", "Poison"], letters, state: state)
        XCTAssertEqual(parent.status, 78, parent.err)
    }
}
