import CMOBasics
import CMOHTTP
import CMOServices
import CMOTestSupport
import Foundation
import XCTest

/// The writers' `--check` against the sandbox: one JSON object on stdout, the run's exit statuses
/// (0, 77, 78, 69), targets found by id, name or key, refusals with candidates, the schedule from
/// the ledger, and no write anywhere (the sandbox's write counter, the ledger, stdin untouched).
final class WriterCheckTests: XCTestCase {
    func sandbox() throws -> SandboxLauncher { try SandboxLauncher(["--seed", "5", "--repos", "20", "--users", "20"]) }

    /// Runs `stage --check …` with the sandbox's environment; stdin holds lines a run would dead-letter.
    func check(_ stage: String, _ args: [String], _ s: SandboxLauncher, env: [String: String] = [:], state: String? = nil) throws
        -> (SpawnResult, [String: Any])
    {
        var environment = s.environment
        if let state { environment["CMO_STATE_DIR"] = state }
        for (k, v) in env { environment[k] = v }
        let r = try Spawn.run(stage, ["--check"] + args, stdin: Data("not json\n{\"id\":1}\n".utf8), environment: environment)
        XCTAssertEqual(r.lines.count, 1, "exactly one JSON object on stdout: \(r.out) \(r.err)")
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data((r.lines.first ?? "").utf8)) as? [String: Any], r.out + r.err)
        XCTAssertEqual(object["stage"] as? String, stage)
        XCTAssertEqual(object["check"] as? String, r.status == 0 ? "ok" : "failed", r.out)
        XCTAssertFalse(r.err.contains("bad_json"), "no input read: \(r.err)")
        return (r, object)
    }

    func writes(_ s: SandboxLauncher) throws -> Int { try s.stats()["writes_total"] as? Int ?? -1 }

    static func candidates(_ o: [String: Any]) -> [String] { (o["candidates"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String } }

    // MARK: - send-instantly

    func testSendInstantlyCheckFindsTheCampaignByIdOrNameAndWritesNothing() throws {
        let s = try sandbox()
        defer { s.stop() }
        let id = try XCTUnwrap(s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN"])
        let state = Spawn.tempDirectory() + "/state"
        let (r, o) = try check("send-instantly", ["--campaign", id], s, state: state)
        XCTAssertEqual(r.status, 0, r.err)
        let target = try XCTUnwrap(o["target"] as? [String: Any])
        XCTAssertEqual(target["id"] as? String, id)
        XCTAssertEqual(target["given"] as? String, id)
        let name = try XCTUnwrap(target["name"] as? String)
        XCTAssertEqual(o["daily_cap"] as? Int, 50, "2 active accounts × 50, at most daily_limit 50")
        XCTAssertEqual(o["sent_today"] as? Int, 0)
        XCTAssertEqual(o["deferred"] as? Int, 0)
        XCTAssertEqual(o["warnings"] as? [String], [])
        XCTAssertFalse(r.err.contains(s.environment["INSTANTLY_API_KEY"] ?? "-"), "the key is never printed")

        let (byName, n) = try check("send-instantly", ["--campaign", name, "--daily-new-leads", "7"], s, state: state)
        XCTAssertEqual(byName.status, 0, byName.err)
        XCTAssertEqual((n["target"] as? [String: Any])?["id"] as? String, id)
        XCTAssertEqual((n["target"] as? [String: Any])?["given"] as? String, name)
        XCTAssertEqual(n["daily_cap"] as? Int, 7)

        XCTAssertEqual(try writes(s), 0, "a check writes nothing")
        XCTAssertFalse(FileManager.default.fileExists(atPath: state + "/ledger.sqlite"), "the ledger is read, never created")
    }

    func testSendInstantlyCheckRefusesWhatARunWouldWithTheRunsStatus() throws {
        let s = try sandbox()
        defer { s.stop() }
        let id = try XCTUnwrap(s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN"])

        let (missing, m) = try check("send-instantly", ["--campaign", id], s, env: ["INSTANTLY_API_KEY": ""])
        XCTAssertEqual(missing.status, 78, missing.err)
        XCTAssertTrue((m["error"] as? String ?? "").contains("INSTANTLY_API_KEY"), "\(m)")

        let bad = Spawn.tempDirectory() + "/bad.yaml"
        try "campaign: [".write(toFile: bad, atomically: true, encoding: .utf8)
        let (badConfig, b) = try check("send-instantly", ["--config", bad, "--campaign", id], s)
        XCTAssertEqual(badConfig.status, 78, badConfig.err)
        XCTAssertTrue((b["error"] as? String ?? "").contains("bad.yaml"), "\(b)")

        let (wrong, _) = try check("send-instantly", ["--campaign", id], s, env: ["INSTANTLY_API_KEY": "not-the-key"])
        XCTAssertEqual(wrong.status, 77, wrong.err)

        let (unknown, u) = try check("send-instantly", ["--campaign", "11111111-2222-4333-8444-555555555555"], s)
        XCTAssertEqual(unknown.status, 78, unknown.err)
        XCTAssertEqual(Self.candidates(u).count, 5, "the workspace's campaigns to choose from: \(u)")
        XCTAssertEqual((u["target"] as? [String: Any])?["given"] as? String, "11111111-2222-4333-8444-555555555555")

        // A name that is part of every campaign's name, none's whole name: refused, the candidates named.
        let (partial, p) = try check("send-instantly", ["--campaign", "Developers"], s)
        XCTAssertEqual(partial.status, 78, partial.err)
        XCTAssertTrue(Self.candidates(p).allSatisfy { $0.hasPrefix("Developers") } && Self.candidates(p).count == 5, "\(p)")
        XCTAssertTrue(partial.err.contains("candidates: 'Developers"), partial.err)

        let (paused, _) = try check("send-instantly", ["--campaign", try XCTUnwrap(s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN_PAUSED"])], s)
        XCTAssertEqual(paused.status, 78, "a paused campaign will not send")
        let (allowed, a) = try check(
            "send-instantly", ["--campaign", try XCTUnwrap(s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN_PAUSED"]), "--allow-inactive"], s)
        XCTAssertEqual(allowed.status, 0, allowed.err)
        XCTAssertTrue((a["warnings"] as? [String] ?? []).contains { $0.contains("paused") }, "\(a)")

        let (noCopy, _) = try check("send-instantly", ["--campaign", try XCTUnwrap(s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN_FIXED"])], s)
        XCTAssertEqual(noCopy.status, 78, "a sequence without {{cmo_subject}}/{{cmo_body}} would drop the copy")

        let port = try closedPort()
        let (refused, c) = try check(
            "send-instantly", ["--campaign", id, "--retries", "1"], s, env: ["INSTANTLY_API_URL": "http://127.0.0.1:\(port)"])
        XCTAssertEqual(refused.status, 69, refused.err)
        XCTAssertTrue((c["error"] as? String ?? "").contains("connection refused"), "\(c)")

        let (json, _) = try check("send-instantly", ["--campaign", "Developers", "--log-format", "json"], s)
        let line = try XCTUnwrap(json.err.split(separator: "\n").first { $0.contains("\"level\":\"error\"") }, json.err)
        let logged = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual((logged["candidates"] as? [Any])?.count, 5, "the JSON log line carries the candidates too")

        XCTAssertEqual(try writes(s), 0)
    }

    func testSendInstantlyCheckReadsTodaysScheduleFromTheLedger() throws {
        let s = try sandbox()
        defer { s.stop() }
        let id = try XCTUnwrap(s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN"])
        let state = Spawn.tempDirectory() + "/state"
        var env = s.environment
        env["CMO_STATE_DIR"] = state
        let now = "2026-12-02T09:00:00Z"
        let sent = try Spawn.run(
            "send-instantly", ["--campaign", id, "--daily-new-leads", "3", "--now", now], stdin: NDJSON.data(SendInstantlyTests.leads(5)),
            environment: env)
        XCTAssertEqual(sent.status, 0, sent.err)
        let writesBefore = try writes(s)

        let (r, o) = try check("send-instantly", ["--campaign", id, "--daily-new-leads", "3", "--now", now], s, state: state)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(o["daily_cap"] as? Int, 3)
        XCTAssertEqual(o["sent_today"] as? Int, 3)
        XCTAssertEqual(o["deferred"] as? Int, 2)
        let warnings = o["warnings"] as? [String] ?? []
        XCTAssertTrue(warnings.contains { $0.contains("used up") } && warnings.contains { $0.contains("2 leads deferred") }, "\(warnings)")

        let (tomorrow, t) = try check("send-instantly", ["--campaign", id, "--daily-new-leads", "3", "--now", "2026-12-03T09:00:00Z"], s, state: state)
        XCTAssertEqual(tomorrow.status, 0, tomorrow.err)
        XCTAssertEqual(t["sent_today"] as? Int, 0, "a new UTC day")
        XCTAssertEqual(try writes(s), writesBefore, "the checks wrote nothing")
    }

    // MARK: - sync-attio

    func testSyncAttioCheckFindsTheListByIdSlugOrName() throws {
        let s = try sandbox()
        defer { s.stop() }
        let id = try XCTUnwrap(s.environment["CMO_SANDBOX_ATTIO_LIST"])
        let (r, o) = try check("sync-attio", ["--list", id, "--job", "j1"], s)
        XCTAssertEqual(r.status, 0, r.err)
        let target = try XCTUnwrap(o["target"] as? [String: Any])
        XCTAssertEqual(target["id"] as? String, id)
        let name = try XCTUnwrap(target["name"] as? String)

        let (byName, n) = try check("sync-attio", ["--list", name.uppercased(), "--job", "j1"], s)
        XCTAssertEqual(byName.status, 0, byName.err)
        XCTAssertEqual((n["target"] as? [String: Any])?["id"] as? String, id)

        let (unknown, u) = try check("sync-attio", ["--list", "no-such-list", "--job", "j1"], s)
        XCTAssertEqual(unknown.status, 78, unknown.err)
        XCTAssertTrue(Self.candidates(u).contains(name), "\(u)")

        let (badValue, _) = try check("sync-attio", ["--list", id, "--entry-value", "no_such_attribute=1", "--job", "j1"], s)
        XCTAssertEqual(badValue.status, 78, badValue.err)

        let (noJob, j) = try check("sync-attio", ["--list", id], s)
        XCTAssertEqual(noJob.status, 0, noJob.err)
        XCTAssertTrue((j["warnings"] as? [String] ?? []).contains { $0.contains("--job") }, "\(j)")

        let (wrong, _) = try check("sync-attio", ["--list", id], s, env: ["ATTIO_API_KEY": "wrong"])
        XCTAssertEqual(wrong.status, 77, wrong.err)
        let (missing, _) = try check("sync-attio", ["--list", id], s, env: ["ATTIO_API_KEY": ""])
        XCTAssertEqual(missing.status, 78, missing.err)
        XCTAssertEqual(try writes(s), 0)
    }

    // MARK: - sync-linear

    func testSyncLinearCheckFindsTheTeamByKeyIdOrName() throws {
        let s = try sandbox()
        defer { s.stop() }
        let id = try XCTUnwrap(s.environment["CMO_SANDBOX_LINEAR_TEAM"])
        for given in ["ENG", id, "engineering"] {
            let (r, o) = try check("sync-linear", ["--team", given, "--job", "j1"], s)
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual((o["target"] as? [String: Any])?["id"] as? String, id, given)
            XCTAssertEqual(o["team_key"] as? String, "ENG")
        }
        let (unknown, u) = try check("sync-linear", ["--team", "Enginering", "--job", "j1"], s)
        XCTAssertEqual(unknown.status, 78, unknown.err)
        XCTAssertEqual(Self.candidates(u).first, "Engineering", "the nearest name first: \(u)")
        let (wrong, _) = try check("sync-linear", ["--team", "ENG", "--job", "j1"], s, env: ["LINEAR_API_KEY": "lin_api_wrong"])
        XCTAssertEqual(wrong.status, 77, wrong.err)
        let (missing, _) = try check("sync-linear", ["--team", "ENG", "--job", "j1"], s, env: ["LINEAR_API_KEY": ""])
        XCTAssertEqual(missing.status, 78, missing.err)
        XCTAssertEqual(try writes(s), 0)
    }

    func testHelpDocumentsCheck() throws {
        for stage in ["send-instantly", "sync-attio", "sync-linear"] {
            let r = try Spawn.run(stage, ["--help"])
            XCTAssertTrue(r.out.contains("--check") && r.out.contains("CHECK"), stage)
        }
    }

    /// A client made read-only (as `--check` makes them) sends no write whatever asks it: refused before it leaves.
    func testReadOnlyClientsRefuseWritesBeforeSending() throws {
        var config = HTTPClientConfig()
        config.cachePath = nil
        config.maxRetries = 0
        let http = try HTTPClient(config)
        let base = "http://127.0.0.1:\(try closedPort())"
        let instantly = InstantlyAPI(endpoint: ServiceEndpoint(kind: .instantly, baseURL: base, key: "k"), http: http, readOnly: true)
        XCTAssertThrowsError(try instantly.addLeads(campaign: "c", items: [["email": "a@example.org"]])) { XCTAssertTrue($0 is ReadOnlyViolation, "\($0)") }
        XCTAssertThrowsError(try instantly.findLeads(campaign: "c", emails: ["a@example.org"])) { XCTAssertTrue($0 is ReadOnlyViolation, "\($0)") }
        let attio = AttioAPI(endpoint: ServiceEndpoint(kind: .attio, baseURL: base, key: "k"), http: http, readOnly: true)
        let outcomes = attio.assertRecords(object: "people", matching: "email_addresses", bodies: [["data": [:]]])
        guard case .rejected(_, let code, _)? = outcomes.first else { return XCTFail("\(outcomes)") }
        XCTAssertEqual(code, "read_only")
        let linear = LinearAPI(endpoint: ServiceEndpoint(kind: .linear, baseURL: base, key: "k"), http: http, readOnly: true)
        XCTAssertThrowsError(try linear.create([["teamId": "t"]])) { XCTAssertTrue($0 is ReadOnlyViolation, "\($0)") }
        XCTAssertEqual(http.stats.requestsSent, 0, "nothing left the machine")
        // A read goes out (and fails here: nothing listens).
        XCTAssertThrowsError(try instantly.campaignIfExists("0f6a7c2e-0000-4000-8000-000000000000")) { XCTAssertFalse($0 is ReadOnlyViolation) }
    }

    /// A loopback port nothing listens on.
    func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
