import CMOTestSupport
import Foundation
import XCTest

/// A job whose leads the daily cap spreads over days: the foreground run does the first day's part and
/// leaves the job waiting in the queue; `cmo-plan worker`, on a clock moved a day at a time
/// (`CMO_CLOCK_OFFSET`), sends the next days' leads, each once, and Attio's notes say what happened.
final class CMOPlanScheduleTests: XCTestCase {
    static let now = CMOPlanTests.now

    struct Env {
        var env: [String: String]
        var dir: String
        var runs: String { env["CMO_RUNS_DIR"]! }
    }

    func setUp(_ s: SandboxLauncher, cap: Int) throws -> Env {
        let dir = Spawn.tempDirectory()
        var env = s.environment
        env["CMO_STATE_DIR"] = dir + "/state"
        env["CMO_RUNS_DIR"] = dir + "/runs"
        // The demo campaign with a daily cap of `cap` new leads.
        let demo = try String(contentsOfFile: CMOPlanTests.campaign, encoding: .utf8)
        let templates = CMOPlanTests.root + "/examples/templates"
        let config = demo.replacingOccurrences(of: "[../examples/templates]", with: "[\(templates)]")
            + "\nsend-instantly:\n  daily-new-leads: \(cap)\n"
        try config.write(toFile: dir + "/campaign.yaml", atomically: true, encoding: .utf8)
        return Env(env: env, dir: dir)
    }

    func goal(_ s: SandboxLauncher, target: Int) -> String {
        "Find \(target) Python maintainers active in the last 90 days, queue them in Instantly campaign \(s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN"] ?? ""), "
            + "add them to Attio list \(s.environment["CMO_SANDBOX_ATTIO_LIST"] ?? ""), export a CSV"
    }

    func plan(_ e: Env, _ args: [String], extra: [String: String] = [:]) throws -> SpawnResult {
        try Spawn.run("cmo-plan", args, environment: e.env.merging(extra) { _, n in n })
    }

    func state(_ e: Env, _ id: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(e.runs)/\(id)/state.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func service(_ s: SandboxLauncher, _ name: String) throws -> [String: Any] {
        try XCTUnwrap((try s.stats()["services"] as? [String: Any])?[name] as? [String: Any])
    }

    /// The `instantly` results of the job's last send-instantly step.
    func sent(_ e: Env, _ id: String) throws -> [[String: Any]] {
        let steps = try XCTUnwrap(try state(e, id)["steps"] as? [[String: Any]])
        let step = try XCTUnwrap(steps.last { $0["stage"] as? String == "send-instantly" && $0["status"] as? String == "done" })
        let text = try String(contentsOfFile: "\(e.runs)/\(id)/\(step["artifact"] as? String ?? "")", encoding: .utf8)
        return try text.split(separator: "\n").map {
            try XCTUnwrap((try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["instantly"] as? [String: Any])
        }
    }

    func count(_ results: [[String: Any]], _ status: String, already: Bool? = nil) -> Int {
        results.filter { $0["status"] as? String == status && (already == nil || ($0["already"] as? Bool ?? false) == already) }.count
    }

    /// A worker in the background whose clock is `offset` ahead, stopped (SIGTERM) by the caller or at the end.
    func startWorker(_ e: Env, offset: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Spawn.executable("cmo-plan"))
        p.arguments = ["worker", "--concurrency", "1"]
        var env = ["PATH": "/usr/bin:/bin", "HOME": e.dir, "LANG": "C.UTF-8"]
        env.merge(e.env) { _, n in n }
        env["CMO_CLOCK_OFFSET"] = offset
        p.environment = env
        let log = e.dir + "/worker-\(offset).log"
        FileManager.default.createFile(atPath: log, contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: log)
        p.standardError = FileHandle(forWritingAtPath: log)
        p.standardInput = FileHandle.nullDevice
        try p.run()
        addTeardownBlock { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        return p
    }

    func stop(_ p: Process) {
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
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

    func testDeferredLeadsGoOutOnTheirDaysUnderTheWorker() throws {
        let s = try SandboxLauncher(["--repos", "400", "--users", "600", "--now", Self.now])
        defer { s.stop() }
        let cap = 4
        let e = try setUp(s, cap: cap)
        let days = ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25"]

        // Day 1, in the foreground: `cap` queued, the rest deferred `cap` a day; the job waits in the queue.
        let run = try plan(e, ["run", "--yes", "--config", e.dir + "/campaign.yaml", "--now", Self.now, "--job-id", "d1", goal(s, target: 15)])
        XCTAssertEqual(run.status, 0, "the day's part succeeded; the rest is the worker's: \(run.err)")
        let day1 = try sent(e, "d1")
        let leads = day1.count
        XCTAssertGreaterThan(leads, 2 * cap, "the test needs three days of leads: \(run.err)")
        XCTAssertEqual(count(day1, "queued"), cap)
        XCTAssertEqual(count(day1, "deferred"), leads - cap)
        let dayCount = (leads + cap - 1) / cap
        let eligible1 = Dictionary(grouping: day1.compactMap { $0["eligible_on"] as? String }, by: { $0 }).mapValues(\.count)
        var expected: [String: Int] = [:]
        for d in 1..<dayCount { expected[days[d]] = min(cap, leads - d * cap) }
        XCTAssertEqual(eligible1, expected)
        let said = "\(leads - cap) leads are deferred to Nov 21–Nov \(20 + dayCount - 1) by the daily cap of \(cap); "
            + "`cmo-plan worker` sends them on their days (job d1 waits until 2026-11-21)"
        XCTAssertTrue(run.err.contains(said), run.err)
        var st = try state(e, "d1")
        XCTAssertEqual(st["status"] as? String, "waiting")
        let created = try XCTUnwrap((st["created_at"] as? String).flatMap(Self.parse))
        let retry = try XCTUnwrap((st["retry_at"] as? String).flatMap(Self.parse))
        XCTAssertEqual(retry - created, 86_400, accuracy: 5, "the start of the job's next day (--now is midnight)")
        XCTAssertTrue(try plan(e, ["list"]).out.contains("d1  sleeping"))
        XCTAssertEqual(try service(s, "instantly")["leads"] as? Int, cap)
        XCTAssertEqual(try service(s, "attio")["notes"] as? Int, cap, "only the leads queued today are noted")

        // Each later day on the worker's clock: that day's leads go out; the later ones keep their day.
        for day in 1..<dayCount {
            let w = try startWorker(e, offset: "\(day)d")
            try waitUntil(120, "day \(day + 1)'s part") {
                let st = try state(e, "d1")
                if st["status"] as? String == "done" { return true }
                return st["status"] as? String == "waiting"
                    && (st["retry_at"] as? String).flatMap(Self.parse).map { $0 - created > Double(day + 1) * 86_400 - 10 } == true
            }
            stop(w)
            let today = try sent(e, "d1")
            let queuedSoFar = min(leads, (day + 1) * cap)
            XCTAssertEqual(count(today, "queued", already: true), day * cap, "day \(day + 1): the earlier days' leads, queued by this job before")
            XCTAssertEqual(count(today, "queued", already: false), queuedSoFar - day * cap, "day \(day + 1)")
            let later = today.filter { $0["status"] as? String == "deferred" }.compactMap { $0["eligible_on"] as? String }
            XCTAssertEqual(later.count, leads - queuedSoFar)
            XCTAssertTrue(later.allSatisfy { $0 > days[day] && eligible1[$0] != nil }, "\(later): the days given on day 1 are kept")
            XCTAssertEqual(try service(s, "instantly")["leads"] as? Int, queuedSoFar)
            XCTAssertEqual(try service(s, "attio")["notes"] as? Int, queuedSoFar)
        }
        st = try state(e, "d1")
        XCTAssertEqual(st["status"] as? String, "done")
        let instantly = try service(s, "instantly")
        XCTAssertEqual(instantly["leads"] as? Int, leads)
        XCTAssertEqual(instantly["duplicate_leads_total"] as? Int, 0)
        let attio = try service(s, "attio")
        XCTAssertEqual(attio["notes"] as? Int, leads)
        XCTAssertEqual(attio["records_with_several_notes"] as? Int, 0)
        let summary = st["summary"] as? String ?? ""
        // "Nov 20 4, Nov 21 4, Nov 22 1" (three days or more of the same count: "Nov 20–Nov 22 4 a day, Nov 23 3").
        let full = dayCount - (leads % cap == 0 ? 0 : 1)
        var byDay = full >= 3 ? ["Nov 20–Nov \(20 + full - 1) \(cap) a day"] : (0..<full).map { "Nov \(20 + $0) \(cap)" }
        if leads % cap != 0 { byDay.append("Nov \(20 + dayCount - 1) \(leads % cap)") }
        XCTAssertTrue(summary.contains("send-instantly queued, by day: " + byDay.joined(separator: ", ")), summary)
        XCTAssertTrue(summary.contains("send-instantly → \(s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN"] ?? ""): \(leads) queued"), summary)

        // A day-2 lead's note says when it was queued.
        let steps = try XCTUnwrap(st["steps"] as? [[String: Any]])
        let attioSteps = steps.filter { $0["stage"] as? String == "sync-attio" }
        XCTAssertEqual(attioSteps.count, dayCount, "sync-attio once a day for what was queued")
        let text = try String(contentsOfFile: "\(e.runs)/d1/\(attioSteps[1]["artifact"] as? String ?? "")", encoding: .utf8)
        let fresh = try XCTUnwrap(text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .first { (($0["attio"] as? [String: Any])?["already"] as? Bool) != true })
        let record = try XCTUnwrap((fresh["attio"] as? [String: Any])?["record_id"] as? String)
        let notes = try Spawn.run("/usr/bin/curl", ["-s", "-H", "Authorization: Bearer \(s.environment["ATTIO_API_KEY"] ?? "")",
                                                    (s.environment["ATTIO_API_URL"] ?? "") + "/v2/notes?parent_object=people&parent_record_id=\(record)"])
        XCTAssertTrue(notes.out.contains("Cold email queued in campaign") && notes.out.contains("on 2026-11-21"), notes.out)
    }

    static func parse(_ s: String) -> Double? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return (f.date(from: s) ?? ISO8601DateFormatter().date(from: s))?.timeIntervalSince1970
    }
}
