import CMOStorage
import CMOTestSupport
import Foundation
import XCTest

/// The job queue shared by a team: workers with their own state directories and one database run the
/// jobs of one shared runs directory; a worker killed mid-job loses it to another, which resumes it with
/// no duplicate write. And the claim throughput of each backend (`bench/queue-claims.sh`).
final class TeamQueueTests: XCTestCase {
    static let now = "2026-11-20T00:00:00Z"
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// A worker in the background (its output in a file), killed at the end of the test if still running.
    func startWorker(_ env: [String: String], _ args: [String]) throws -> (Process, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Spawn.executable("cmo-plan"))
        p.arguments = ["worker"] + args
        var all = ["PATH": "/usr/bin:/bin", "HOME": env["CMO_STATE_DIR"]!, "LANG": "C.UTF-8"]
        all.merge(env) { _, n in n }
        p.environment = all
        let log = env["CMO_STATE_DIR"]! + "-worker-\(UUID().uuidString).log"
        FileManager.default.createFile(atPath: log, contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: log)
        p.standardError = FileHandle(forWritingAtPath: log)
        p.standardInput = FileHandle.nullDevice
        try p.run()
        addTeardownBlock { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        return (p, log)
    }

    func waitUntil(_ seconds: Double, _ what: String, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? condition()) == true { return }
            usleep(100_000)
        }
        XCTFail("timed out waiting for \(what)")
        throw XCTSkip("timed out: \(what)")
    }

    func state(_ runs: String, _ id: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(runs)/\(id)/state.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Two workers (their own CMO_STATE_DIR, one CMO_DATABASE_URL) share a runs directory; the one running
    /// the Instantly job is killed with SIGKILL mid-job; the other takes the job over and every job ends
    /// done, each lead written to Instantly once.
    func testTwoWorkersShareTheQueueAndOneTakesOverAKilledWorkersJob() throws {
        let pg = try StorageBackends.postgresEnvironment()
        let s = try SandboxLauncher(["--repos", "400", "--users", "600", "--now", Self.now, "--latency", "*=30"])
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        var base = s.environment
        base["CMO_DATABASE_URL"] = pg["CMO_DATABASE_URL"]
        base["CMO_RUNS_DIR"] = dir + "/runs"
        var envA = base, envB = base
        envA["CMO_STATE_DIR"] = dir + "/state-a"
        envB["CMO_STATE_DIR"] = dir + "/state-b"
        let campaign = s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN"] ?? ""
        var ids: [String] = []
        for goal in ["Find 15 Python maintainers active in the last 90 days, queue them in Instantly campaign \(campaign), export a CSV",
                     "Find 10 Go maintainers active in the last 90 days, export a CSV"]
        {
            let r = try Spawn.run("cmo-plan", ["submit", "--yes", "--widen", "--config", Self.root + "/pipelines/demo-campaign.yaml", "--now", Self.now, goal],
                                  environment: envA)
            XCTAssertEqual(r.status, 0, r.err)
            ids.append(r.out.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let queue = try JobQueues.open(environment: envA)
        let (a, logA) = try startWorker(envA, ["--concurrency", "1"])
        let (b, logB) = try startWorker(envB, ["--concurrency", "1"])
        let writer = ids[0]
        try waitUntil(90, "a worker to run the Instantly job") {
            try queue.job(writer)?.status == .running && (try state(base["CMO_RUNS_DIR"]!, writer)["runner_pid"] as? Int) != nil
        }
        usleep(800_000)
        let running = try XCTUnwrap(try queue.job(writer))
        let (victim, survivor) = running.workerPID == a.processIdentifier ? (a, b) : (b, a)
        XCTAssertEqual(running.workerPID, victim.processIdentifier, "one of the two workers runs it")
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        try waitUntil(240, "every job done, in its state and in the queue") {
            try ids.allSatisfy { try state(base["CMO_RUNS_DIR"]!, $0)["status"] as? String == "done" && queue.job($0)?.status == .done }
        }
        let logs = ((try? String(contentsOfFile: logA, encoding: .utf8)) ?? "") + ((try? String(contentsOfFile: logB, encoding: .utf8)) ?? "")
        XCTAssertGreaterThanOrEqual(try queue.job(writer)?.starts ?? 0, 2, "started again after the kill: \(logs)")
        let instantly = try XCTUnwrap((try s.stats()["services"] as? [String: Any])?["instantly"] as? [String: Any])
        XCTAssertEqual(instantly["leads"] as? Int, 15, logs)
        XCTAssertEqual(instantly["duplicate_leads_total"] as? Int, 0, "each lead written once: \(logs)")
        kill(survivor.processIdentifier, SIGTERM)
        survivor.waitUntilExit()
        XCTAssertEqual(survivor.terminationStatus, 0)
    }

    /// Claims per second, 4 threads claiming N jobs (2,000 with CMO_BENCH=1, else 200) on each backend:
    /// prints `claims/s sqlite=… postgres=…`, asserts only that every job was claimed once.
    func testClaimThroughputFigures() throws {
        let n = ProcessInfo.processInfo.environment["CMO_BENCH"] == "1" ? 2_000 : 200
        var figures: [String] = []
        defer { print("claims/s " + figures.joined(separator: " ") + " (\(n) jobs, 4 threads)") }
        try StorageBackends.each { backend, env in
            let setup = try JobQueues.open(environment: env)
            for i in 0..<n { try setup.add(QueuedJob(id: String(format: "j%05d", i), runsDir: "/r", createdAt: Double(i))) }
            let claimed = AtomicCount()
            let t0 = Date()
            DispatchQueue.concurrentPerform(iterations: 4) { t in
                guard let q = try? JobQueues.open(environment: env) else { return }
                while let _ = try? q.claim(worker: Int32(100 + t), started: nil, now: 1_000, isAlive: { _, _ in true }) { claimed.add() }
            }
            let rate = Double(claimed.value) / Date().timeIntervalSince(t0)
            figures.append("\(backend)=\(Int(rate))")
            XCTAssertEqual(claimed.value, n, backend)
            XCTAssertEqual(Set(try setup.jobs(limit: nil).filter { $0.status == .running && $0.starts == 1 }.map(\.id)).count, n, backend)
        }
    }
}

/// A counter several threads add to.
final class AtomicCount: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0

    func add() { lock.withLock { n += 1 } }
    var value: Int { lock.withLock { n } }
}
