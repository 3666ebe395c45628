import CMOTestSupport
import Foundation
import XCTest

/// Lost state is noticed and recoverable (issue 27): a ledger truncated mid-campaign is refused (78) before
/// any request; `cmo-plan rebuild-ledger` reads Instantly back and the re-run writes nothing; a copy of
/// another state directory's ledger is refused too; a run directory whose state.json is gone resumes.
final class LostStateTests: XCTestCase {
    /// The sandbox's clock and the writer's day agree (`--now`): Instantly's `timestamp_created` is the day a rebuilt lead counts on.
    static let now = "2026-11-20T09:00:00Z"
    func sandbox() throws -> SandboxLauncher { try SandboxLauncher(["--seed", "5", "--repos", "20", "--users", "20", "--now", Self.now]) }

    func send(_ s: SandboxLauncher, _ args: [String], input: [[String: Any]], state: String, now: String = LostStateTests.now) throws -> SpawnResult {
        var env = s.environment
        env["CMO_STATE_DIR"] = state
        return try Spawn.run("send-instantly", args + ["--now", now], stdin: NDJSON.data(input), environment: env)
    }

    func requestsTotal(_ s: SandboxLauncher) throws -> Int { try s.stats()["requests_total"] as? Int ?? -1 }
    func duplicates(_ s: SandboxLauncher) throws -> Int { try s.stats()["duplicates_total"] as? Int ?? -1 }
    func leadsAdd(_ s: SandboxLauncher) throws -> Int {
        let requests = try s.stats()["requests"] as? [String: Any] ?? [:]
        return requests.filter { $0.key.contains("leads/add") }.values.compactMap { $0 as? Int }.reduce(0, +)
    }

    /// Truncates a state file to 0 bytes, as a full disk, a bad restore or `: > file` would.
    func truncate(_ path: String) {
        XCTAssertEqual(Darwin_or_Glibc_truncate(path), 0, "truncate \(path)")
        for side in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + side) }
    }

    func testATruncatedLedgerIsRefusedBeforeAnyRequestAndARebuildMakesTheRerunWriteNothing() throws {
        let s = try sandbox()
        defer { s.stop() }
        let campaign = try SendInstantlyTests.campaign(s, status: 1)
        let state = Spawn.tempDirectory()
        let leads = SendInstantlyTests.leads(30)
        let first = try send(s, ["--campaign", campaign, "--daily-new-leads", "1000"], input: leads, state: state)
        XCTAssertEqual(first.status, 0, first.err)
        XCTAssertEqual(try NDJSON.statuses(first, field: "instantly")["queued"], 30)
        XCTAssertTrue(FileManager.default.fileExists(atPath: state + "/state-anchor.json"))

        truncate(state + "/ledger.sqlite")
        let before = try requestsTotal(s)
        let refused = try send(s, ["--campaign", campaign, "--daily-new-leads", "1000"], input: leads, state: state)
        XCTAssertEqual(refused.status, 78, refused.err)
        XCTAssertTrue(refused.err.contains("the write ledger '\(state)/ledger.sqlite' lost its history"), refused.err)
        XCTAssertTrue(refused.err.contains("30 rows written") && refused.err.contains("cmo-plan rebuild-ledger"), refused.err)
        XCTAssertEqual(try requestsTotal(s), before, "refused before any request")
        XCTAssertEqual(refused.out, "", "no record written")
        // The check says the same, before any request.
        let check = try send(s, ["--check", "--campaign", campaign, "--daily-new-leads", "1000"], input: [], state: state)
        XCTAssertEqual(check.status, 78, check.err)
        XCTAssertTrue(check.out.contains("\"check\":\"failed\"") && check.out.contains("lost its history"), check.out)
        XCTAssertEqual(try requestsTotal(s), before)

        // One command reads the campaign back; the re-run then writes nothing.
        var env = s.environment
        env["CMO_STATE_DIR"] = state
        let rebuild = try Spawn.run("cmo-plan", ["rebuild-ledger", "--campaign", campaign], environment: env)
        XCTAssertEqual(rebuild.status, 0, rebuild.err)
        let facts = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(rebuild.out.utf8)) as? [String: Any], rebuild.out)
        XCTAssertEqual(facts["rebuild"] as? String, "ok")
        XCTAssertEqual(facts["found"] as? Int, 30)
        XCTAssertEqual(facts["recorded"] as? Int, 30)
        let adds = try leadsAdd(s)
        let again = try send(s, ["--campaign", campaign, "--daily-new-leads", "1000"], input: leads, state: state)
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(try NDJSON.statuses(again, field: "instantly")["already_queued"], 30, again.out)
        XCTAssertEqual(try leadsAdd(s), adds, "nothing written twice")
        XCTAssertEqual(try duplicates(s), 0)
        // The cap counts the rebuilt leads again, on the day Instantly made them: 30 of 40 that day leaves 10.
        let day = try XCTUnwrap((facts["by_day"] as? [String: Int])?.first { $0.value == 30 }?.key, rebuild.out)
        let more = try send(
            s, ["--campaign", campaign, "--daily-new-leads", "40"], input: SendInstantlyTests.leads(20, from: 100), state: state, now: day + "T23:00:00Z")
        XCTAssertEqual(more.status, 0, more.err)
        XCTAssertEqual(try NDJSON.statuses(more, field: "instantly")["queued"], 10, more.out)
    }

    func testALedgerCopiedFromAnotherStateDirectoryIsRefusedAndAcceptStateTakesItKnowingly() throws {
        let s = try sandbox()
        defer { s.stop() }
        let campaign = try SendInstantlyTests.campaign(s, status: 1)
        let (a, b) = (Spawn.tempDirectory(), Spawn.tempDirectory())
        XCTAssertEqual(try send(s, ["--campaign", campaign], input: SendInstantlyTests.leads(3), state: a).status, 0)
        XCTAssertEqual(try send(s, ["--campaign", campaign], input: SendInstantlyTests.leads(2, from: 50), state: b).status, 0)
        // A copy of the database (with its WAL) replaces the one this directory used.
        for side in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: a + "/ledger.sqlite" + side)
            try? FileManager.default.copyItem(atPath: b + "/ledger.sqlite" + side, toPath: a + "/ledger.sqlite" + side)
        }
        let before = try requestsTotal(s)
        let refused = try send(s, ["--campaign", campaign], input: SendInstantlyTests.leads(3), state: a)
        XCTAssertEqual(refused.status, 78, refused.err)
        XCTAssertTrue(refused.err.contains("it is another database"), refused.err)
        XCTAssertEqual(try requestsTotal(s), before)
        // A deleted suppression list is noticed too.
        try FileManager.default.removeItem(atPath: b + "/suppression.sqlite")
        let gone = try send(s, ["--campaign", campaign], input: SendInstantlyTests.leads(2, from: 50), state: b)
        XCTAssertEqual(gone.status, 78, gone.err)
        XCTAssertTrue(gone.err.contains("the suppression list") && gone.err.contains("the file is gone"), gone.err)
        var env = s.environment
        env["CMO_STATE_DIR"] = a
        let accepted = try Spawn.run("cmo-plan", ["accept-state", "ledger"], environment: env)
        XCTAssertEqual(accepted.status, 0, accepted.err)
        XCTAssertEqual(try send(s, ["--campaign", campaign], input: SendInstantlyTests.leads(3), state: a).status, 0)
    }
}

#if canImport(Glibc)
import Glibc
func Darwin_or_Glibc_truncate(_ path: String) -> Int32 { Glibc.truncate(path, 0) }
#else
import Darwin
func Darwin_or_Glibc_truncate(_ path: String) -> Int32 { Darwin.truncate(path, 0) }
#endif
