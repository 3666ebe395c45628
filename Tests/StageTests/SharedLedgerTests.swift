import CMOTestSupport
import Foundation
import XCTest

/// One ledger for the team (issue 29): two people with their own state directories and one database
/// (`CMO_DATABASE_URL`) never write to the same person twice.
final class SharedLedgerTests: XCTestCase {
    func testTwoStateDirectoriesSharingOneDatabaseWriteEachLeadOnce() throws {
        let database = try StorageBackends.postgresEnvironment()["CMO_DATABASE_URL"]!  // skips without a server
        let s = try SandboxLauncher(["--seed", "5", "--repos", "20", "--users", "20"])
        defer { s.stop() }
        let campaign = try SendInstantlyTests.campaign(s, status: 1)
        let leads = SendInstantlyTests.leads(300)
        func send(_ state: String) throws -> SpawnResult {
            var env = s.environment
            env["CMO_STATE_DIR"] = state
            env["CMO_DATABASE_URL"] = database
            return try Spawn.run(
                "send-instantly", ["--campaign", campaign, "--daily-new-leads", "1000"], stdin: NDJSON.data(leads), environment: env)
        }
        let first = try send(Spawn.tempDirectory())
        XCTAssertEqual(first.status, 0, first.err)
        XCTAssertEqual(try NDJSON.statuses(first, field: "instantly")["queued"], 300, first.out)
        let secondState = Spawn.tempDirectory()
        let second = try send(secondState)
        XCTAssertEqual(second.status, 0, second.err)
        XCTAssertEqual(try NDJSON.statuses(second, field: "instantly")["already_queued"], 300, second.out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: secondState + "/ledger.sqlite"), "the ledger is the database's")
        XCTAssertEqual(try SendInstantlyTests.campaignLeads(s, campaign).count, 300, "300 lead writes, not 600")
        XCTAssertEqual(try s.stats()["duplicates_total"] as? Int, 0, "0 resubmissions")
    }
}
