import CMOTestSupport
import Foundation
import XCTest

/// `cmo-plan list` shows every job: the queue's and those started with `run` (their run directories),
/// newest first, each with the status its state.json says.
final class CMOPlanListTests: XCTestCase {
    func testListShowsRunsAndQueuedJobsNewestFirst() throws {
        let s = try SandboxLauncher(["--repos", "400", "--users", "600", "--now", CMOPlanTests.now])
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var env = s.environment
        env["CMO_STATE_DIR"] = dir + "/state"
        env["CMO_RUNS_DIR"] = dir + "/runs"
        func plan(_ args: [String]) throws -> SpawnResult { try Spawn.run("cmo-plan", args, environment: env) }

        let goal = "Find 5 Python maintainers active in the last 90 days, export a CSV"
        let first = try plan(["run", "--yes", "--config", CMOPlanTests.campaign, "--now", CMOPlanTests.now, goal])
        XCTAssertEqual(first.status, 0, first.err)
        let ran = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: dir + "/runs").first)
        // A second run, stopped by a kill -9 while it ran: its state says running, and its process is gone.
        let killed = ran + "-killed"
        try FileManager.default.copyItem(atPath: "\(dir)/runs/\(ran)", toPath: "\(dir)/runs/\(killed)")
        let statePath = "\(dir)/runs/\(killed)/state.json"
        var state = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: statePath))) as? [String: Any])
        state["job_id"] = killed
        state["status"] = "running"
        state["runner_pid"] = 999_999_999
        state["created_at"] = "2030-01-01T00:00:00.000Z"
        try JSONSerialization.data(withJSONObject: state).write(to: URL(fileURLWithPath: statePath))
        // And a job in the queue that no worker ran, submitted last.
        let submitted = try plan(["submit", "--yes", "--config", CMOPlanTests.campaign, "--now", CMOPlanTests.now, goal])
        XCTAssertEqual(submitted.status, 0, submitted.err)
        let queued = submitted.out.trimmingCharacters(in: .whitespacesAndNewlines)

        let list = try plan(["list"])
        XCTAssertEqual(list.status, 0, list.err)
        XCTAssertEqual(list.lines.count, 3, list.out)
        XCTAssertTrue(list.lines[0].hasPrefix("\(killed)  stopped  5/5 leads  (run)"), list.out)
        XCTAssertTrue(list.lines[0].contains("cmo-plan resume \(killed)"), list.out)
        XCTAssertTrue(list.lines[1].hasPrefix("\(queued)  queued  0/5 leads"), list.out)
        XCTAssertTrue(list.lines[2].hasPrefix("\(ran)  done  5/5 leads  (run)"), list.out)

        let json = try plan(["list", "--json", "--limit", "2"])
        let objects = try json.lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual(objects.map { $0["id"] as? String }, [killed, queued])
        XCTAssertEqual(objects.map { $0["source"] as? String }, ["run", "queue"])
        XCTAssertEqual(objects.map { $0["status"] as? String }, ["stopped", "queued"])
    }
}
