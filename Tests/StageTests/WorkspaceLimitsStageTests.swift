import CMOTestSupport
import Foundation
import XCTest

/// Several writers at once on one state directory hold the workspace's limits together: Attio's 25
/// writes a second and Instantly's daily cap are the workspace's, not each process's.
final class WorkspaceLimitsStageTests: XCTestCase {
    /// Runs `count` copies of `stage` at once, the i-th with `arguments(i)` and `input(i)`.
    func together(
        _ count: Int, _ stage: String, environment: [String: String], arguments: @escaping @Sendable (Int) -> [String],
        input: @escaping @Sendable (Int) -> Data
    ) -> [SpawnResult] {
        let results = Results(count)
        DispatchQueue.concurrentPerform(iterations: count) { i in
            let r = try? Spawn.run(stage, arguments(i), stdin: input(i), environment: environment)
            results.set(i, r)
        }
        return results.all
    }

    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [SpawnResult?]
        init(_ n: Int) { items = Array(repeating: nil, count: n) }
        func set(_ i: Int, _ r: SpawnResult?) { lock.withLock { items[i] = r } }
        var all: [SpawnResult] { lock.withLock { items.compactMap { $0 } } }
    }

    func testFourSyncAttioAtOnceStayInsideAttiosWriteLimit() throws {
        let s = try SandboxLauncher(["--seed", "5", "--repos", "20", "--users", "20"])
        defer { s.stop() }
        var env = s.environment
        env["CMO_STATE_DIR"] = Spawn.tempDirectory() + "/state"
        let started = Date()
        let runs = together(4, "sync-attio", environment: env, arguments: { ["--list", "outbound_developers", "--job", "job-\($0)"] }) { i in
            NDJSON.data(SyncAttioTests.leads(25, from: i * 100))
        }
        let seconds = Date().timeIntervalSince(started)
        XCTAssertEqual(runs.count, 4)
        for r in runs { XCTAssertEqual(r.status, 0, r.err) }
        XCTAssertEqual(try s.violations(), 0, "four writers together never pass 25 writes a second")
        let attio = try XCTUnwrap((try s.stats()["services"] as? [String: Any])?["attio"] as? [String: Any])
        XCTAssertEqual(attio["records"] as? Int, 100)
        XCTAssertEqual(attio["notes"] as? Int, 100)
        XCTAssertEqual(attio["rejected_429"] as? Int, 0, "nothing sent over the limit, so nothing refused")
        // 300 writes at 25 a second take 12 s whoever sends them; shared fairly, none waits for the others to finish.
        XCTAssertGreaterThan(seconds, 10, "the writes were paced")
    }

    func testThreeSendInstantlyAtOnceHoldTheDailyCapExactly() throws {
        let s = try SandboxLauncher(["--seed", "5", "--repos", "20", "--users", "20"])
        defer { s.stop() }
        let campaign = try SendInstantlyTests.campaign(s, status: 1)
        var env = s.environment
        env["CMO_STATE_DIR"] = Spawn.tempDirectory() + "/state"
        let runs = together(3, "send-instantly", environment: env, arguments: { _ in ["--campaign", campaign, "--daily-new-leads", "20"] }) { i in
            NDJSON.data(SendInstantlyTests.leads(60, from: i * 100))
        }
        XCTAssertEqual(runs.count, 3)
        var statuses: [String: Int] = [:]
        for r in runs {
            XCTAssertEqual(r.status, 0, r.err)
            statuses.merge(try NDJSON.statuses(r, field: "instantly")) { $0 + $1 }
        }
        XCTAssertEqual(statuses["queued"], 20, "the cap of 20 holds for the three writers together: \(statuses)")
        XCTAssertEqual(statuses["deferred"], 160)
        XCTAssertEqual(try SendInstantlyTests.campaignLeads(s, campaign).count, 20)
        XCTAssertEqual(try s.violations(), 0)
    }
}
