import CMOTestSupport
import Foundation
import XCTest

/// A run directory whose state.json is gone resumes from what it holds (job.json, events.ndjson, the
/// artifacts) under the same job id: nothing is written twice (issue 27).
final class StateRecoveryTests: XCTestCase {
    static let now = CMOPlanTests.now

    func plan(_ s: SandboxLauncher, _ args: [String], state: String, runs: String) throws -> SpawnResult {
        var env = s.environment
        env["CMO_STATE_DIR"] = state
        env["CMO_RUNS_DIR"] = runs
        return try Spawn.run("cmo-plan", args, environment: env)
    }

    func service(_ s: SandboxLauncher, _ name: String) throws -> [String: Any] {
        try XCTUnwrap((try s.stats()["services"] as? [String: Any])?[name] as? [String: Any])
    }

    func instantlyWrites(_ s: SandboxLauncher) throws -> Int {
        ((try s.stats()["writes"] as? [[String: Any]]) ?? []).filter { ($0["service"] as? String) == "instantly" }.count
    }

    func testAJobWhoseStateJsonIsDeletedResumesFromItsRunDirectoryWithoutWritingTwice() throws {
        let s = try SandboxLauncher(["--repos", "400", "--users", "600", "--now", Self.now])
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let runs = dir + "/runs", state = dir + "/state"
        let goal = "Find 15 Python maintainers active in the last 90 days, queue them in Instantly campaign "
            + "\(s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN"] ?? "") , add them to Attio list \(s.environment["CMO_SANDBOX_ATTIO_LIST"] ?? ""), export a CSV"
        // The job is killed (cmo-plan itself, kill -9) at its CSV export, after its writers ran.
        let killed = try plan(
            s, ["run", "--yes", "--config", CMOPlanTests.campaign, "--now", Self.now, "--job-id", "r1", "--stage", "export-csv=sleep 0.3; kill -9 $PPID; sleep 1", goal],
            state: state, runs: runs)
        XCTAssertNotEqual(killed.status, 0)
        let sent = try instantlyWrites(s)
        XCTAssertGreaterThan(sent, 0, killed.err)
        let notes = try service(s, "attio")["notes"] as? Int
        XCTAssertGreaterThan(notes ?? 0, 0)
        try FileManager.default.removeItem(atPath: "\(runs)/r1/state.json")

        let resumed = try plan(s, ["resume", "r1"], state: state, runs: runs)
        XCTAssertEqual(resumed.status, 0, resumed.err)
        XCTAssertTrue(resumed.err.contains("state.json was missing; rebuilt it from job.json and events.ndjson"), resumed.err)
        let st = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(runs)/r1/state.json"))) as? [String: Any])
        XCTAssertEqual(st["status"] as? String, "done", resumed.err)
        XCTAssertEqual(st["job_id"] as? String, "r1")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(runs)/r1/exports/leads.csv"))
        XCTAssertEqual(try service(s, "attio")["notes"] as? Int, notes, "no second note for anyone")
        XCTAssertEqual(try s.stats()["duplicates_total"] as? Int, 0)
        XCTAssertEqual(try instantlyWrites(s), sent, "no lead sent again")
        let events = try String(contentsOfFile: "\(runs)/r1/events.ndjson", encoding: .utf8)
        XCTAssertTrue(events.contains("state.json was missing"), events)
    }
}
