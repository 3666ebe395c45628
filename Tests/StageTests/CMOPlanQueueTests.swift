import CMOTestSupport
import Foundation
import XCTest

/// cmo-plan as a service: jobs queued for a worker, paused, resumed and cancelled from other processes, a
/// worker killed and started again, a job waiting out a 75, the chat (piped and on a terminal), triage
/// pausing the writers, and the cron lock.
final class CMOPlanQueueTests: XCTestCase {
    static let now = CMOPlanTests.now
    static var campaign: String { CMOPlanTests.campaign }

    struct Env {
        var env: [String: String]
        var runs: String { env["CMO_RUNS_DIR"]! }
    }

    func setUp(_ s: SandboxLauncher) -> Env {
        let dir = Spawn.tempDirectory()
        var env = s.environment
        env["CMO_STATE_DIR"] = dir + "/state"
        env["CMO_RUNS_DIR"] = dir + "/runs"
        return Env(env: env)
    }

    func plan(_ e: Env, _ args: [String], stdin: Data = Data(), extra: [String: String] = [:]) throws -> SpawnResult {
        try Spawn.run("cmo-plan", args, stdin: stdin, environment: e.env.merging(extra) { _, n in n })
    }

    func goal(_ s: SandboxLauncher, target: Int = 15, attio: Bool = false, linear: Bool = false) -> String {
        "Find \(target) Python maintainers active in the last 90 days, queue them in Instantly campaign \(s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN"] ?? "")"
            + (attio ? ", add them to Attio list \(s.environment["CMO_SANDBOX_ATTIO_LIST"] ?? "")" : "")
            + (linear ? ", file the errors in Linear team \(s.environment["CMO_SANDBOX_LINEAR_TEAM"] ?? "")" : "") + ", export a CSV"
    }

    func submit(_ e: Env, _ goal: String, extra: [String] = []) throws -> String {
        // --widen: 15 leads of this world need an older window than the goal's 90 days.
        let r = try plan(e, ["submit", "--yes", "--widen", "--config", Self.campaign, "--now", Self.now] + extra + [goal])
        XCTAssertEqual(r.status, 0, r.err)
        return r.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The job ids in the run directory.
    func jobIDs(_ e: Env) throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: e.runs).sorted() }

    func state(_ e: Env, _ id: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(e.runs)/\(id)/state.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func events(_ e: Env, _ id: String) -> [String] {
        ((try? String(contentsOfFile: "\(e.runs)/\(id)/events.ndjson", encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["event"] as? String
        }
    }

    /// A worker in the background (its output in a file), killed at the end of the test if still running.
    func startWorker(_ e: Env, _ args: [String] = [], extra: [String: String] = [:]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Spawn.executable("cmo-plan"))
        p.arguments = ["worker"] + args
        var env = ["PATH": "/usr/bin:/bin", "HOME": e.env["CMO_STATE_DIR"]!, "LANG": "C.UTF-8"]
        env.merge(e.env) { _, n in n }
        env.merge(extra) { _, n in n }
        p.environment = env
        let log = e.env["CMO_STATE_DIR"]! + "-worker-\(UUID().uuidString).log"
        FileManager.default.createFile(atPath: log, contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: log)
        p.standardError = FileHandle(forWritingAtPath: log)
        p.standardInput = FileHandle.nullDevice
        try p.run()
        addTeardownBlock { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        return p
    }

    func waitUntil(_ seconds: Double, _ what: String, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? condition()) == true { return }
            usleep(50_000)
        }
        XCTFail("timed out waiting for \(what)")
        throw XCTSkip("timed out: \(what)")
    }

    func instantlyLeads(_ s: SandboxLauncher) throws -> (leads: Int, duplicates: Int) {
        let i = try XCTUnwrap((try s.stats()["services"] as? [String: Any])?["instantly"] as? [String: Any])
        return (i["leads"] as? Int ?? -1, i["duplicate_leads_total"] as? Int ?? -1)
    }

    // MARK: tests

    /// Two jobs on one GitHub token with a tiny search quota and --max-wait 1: a stage exits 75, the job
    /// sleeps until the reset it reported and resumes at that step; the jobs take turns with the token; both
    /// finish with no rate-limit violation.
    func testTheWorkerRunsJobsWaitsOutA75AndSharesTheToken() throws {
        let s = try SandboxLauncher(["--repos", "400", "--users", "600", "--now", Self.now, "--search-limit", "2", "--search-window-seconds", "6"])
        defer { s.stop() }
        let e = setUp(s)
        let a = try submit(e, goal(s))
        let b = try submit(e, "Find 10 Go maintainers active in the last 90 days, export a CSV")
        let list = try plan(e, ["list"])
        XCTAssertTrue(list.out.contains("\(a)  queued"), list.out)
        XCTAssertTrue(list.err.contains("no worker is running"), list.err)
        let w = try Spawn.run("cmo-plan", ["worker", "--until-idle", "--concurrency", "2"], environment: e.env.merging(["CMO_MAX_WAIT": "1"]) { _, n in n })
        XCTAssertEqual(w.status, 0, w.err)
        for id in [a, b] { XCTAssertEqual(try state(e, id)["status"] as? String, "done", w.err) }
        let all = events(e, a) + events(e, b)
        XCTAssertTrue(all.contains("waiting"), "a 75 or the busy token made a job wait: \(w.err)")
        XCTAssertTrue(w.err.contains("sleeping (exit 75)"), w.err)
        XCTAssertEqual(try s.violations(), 0, "never sent into a spent quota")
        let json = try plan(e, ["list", "--json"])
        XCTAssertEqual(json.out.split(separator: "\n").count, 2, json.out)
        XCTAssertTrue(json.out.contains("\"status\":\"done\""), json.out)
    }

    /// pause, resume and cancel from other processes while a worker runs the job.
    func testPauseResumeAndCancelFromAnotherProcess() throws {
        let s = try SandboxLauncher(["--repos", "400", "--users", "600", "--now", Self.now, "--latency", "*=40"])
        defer { s.stop() }
        let e = setUp(s)
        let id = try submit(e, goal(s, attio: true))
        let other = try submit(e, "Find 10 Go maintainers active in the last 90 days, export a CSV")
        // Cancelled while queued: it never runs.
        XCTAssertEqual(try plan(e, ["cancel", other]).status, 0)
        let worker = try startWorker(e, ["--concurrency", "1"])
        try waitUntil(60, "the job to run a step") { (try state(e, id)["steps"] as? [[String: Any]])?.contains { $0["status"] as? String == "running" } == true }
        let p = try plan(e, ["pause", id])
        XCTAssertEqual(p.status, 0, p.err)
        try waitUntil(20, "paused") { try state(e, id)["status"] as? String == "paused" }
        try waitUntil(10, "the queue to say paused") { try plan(e, ["list"]).out.contains("\(id)  paused") }
        let st = try plan(e, ["status", id])
        XCTAssertTrue(st.out.contains("paused by cmo-plan pause"), st.out)
        XCTAssertTrue(events(e, id).contains("paused"))
        // Nothing moves while paused.
        let before = try String(contentsOfFile: "\(e.runs)/\(id)/state.json", encoding: .utf8)
        usleep(700_000)
        XCTAssertEqual(try String(contentsOfFile: "\(e.runs)/\(id)/state.json", encoding: .utf8), before)
        XCTAssertEqual(try plan(e, ["resume", id]).status, 0)
        try waitUntil(120, "done after resume") { try state(e, id)["status"] as? String == "done" }
        XCTAssertEqual(try state(e, other)["status"] as? String, "cancelled")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(e.runs)/\(other)/artifacts/01-gh-search.ndjson"), "a cancelled job never ran")
        let leads = try instantlyLeads(s)
        XCTAssertEqual(leads.leads, 15)
        XCTAssertEqual(leads.duplicates, 0)
        let logs = try plan(e, ["logs", id, "--follow"])
        XCTAssertEqual(logs.status, 0, logs.err)
        XCTAssertTrue(logs.out.contains("paused: paused by"), logs.out)
        XCTAssertTrue(logs.out.contains("done: done: funnel"), logs.out)
        kill(worker.processIdentifier, SIGTERM)
        worker.waitUntilExit()
        XCTAssertEqual(worker.terminationStatus, 0)
    }

    /// The worker killed with SIGKILL twice while its job runs; a new worker resumes it where its state says:
    /// the same leads in Instantly and Attio, no duplicate.
    func testAWorkerKilledTwiceIsPickedUpByTheNextWithNoDuplicateWrite() throws {
        let s = try SandboxLauncher(["--repos", "400", "--users", "600", "--now", Self.now, "--latency", "*=30"])
        defer { s.stop() }
        let e = setUp(s)
        let id = try submit(e, goal(s, attio: true))
        for kill9 in 1...2 {
            let w = try startWorker(e)
            // This worker has started the job (its kill9-th start) and the job has run a while.
            try waitUntil(90, "start \(kill9)") { try plan(e, ["list", "--json"]).out.contains("\"starts\":\(kill9)") && (try state(e, id)["runner_pid"] as? Int) != nil }
            usleep(useconds_t(kill9 == 1 ? 400_000 : 1_200_000))
            let runner = try state(e, id)["runner_pid"] as? Int32
            kill(w.processIdentifier, SIGKILL)
            w.waitUntilExit()
            // The job's cmo-plan dies with its worker.
            if let runner { try waitUntil(5, "the job's process to die with its worker") { kill(runner, 0) != 0 } }
        }
        XCTAssertNotEqual(try state(e, id)["status"] as? String, "done", "killed before the end")
        let w = try Spawn.run("cmo-plan", ["worker", "--until-idle"], environment: e.env)
        XCTAssertEqual(w.status, 0, w.err)
        XCTAssertTrue(w.err.contains("start 3"), "the third worker started it a third time: \(w.err)")
        XCTAssertEqual(try state(e, id)["status"] as? String, "done", w.err)
        let leads = try instantlyLeads(s)
        XCTAssertEqual(leads.leads, 15)
        XCTAssertEqual(leads.duplicates, 0)
        let attio = try XCTUnwrap((try s.stats()["services"] as? [String: Any])?["attio"] as? [String: Any])
        XCTAssertEqual(attio["list_entries"] as? Int, 15)
    }

    /// The chat with its input piped: a goal, yes, follow-ups while it runs, wait, the answers from the run's files.
    func testTheChatWithAPipedScript() throws {
        let s = try SandboxLauncher(["--repos", "400", "--users", "600", "--now", Self.now])
        defer { s.stop() }
        let e = setUp(s)
        let script = [goal(s, target: 8), "yes", "status", "how many have we queued?", "wait", "what's the reply rate?", "yes", "wait", "how many have we queued?",
                      "why did 30 fail?", "raise the target to 3k", "what is the weather", "quit"].joined(separator: "\n") + "\n"
        let r = try plan(e, ["chat", "--config", Self.campaign, "--now", Self.now], stdin: Data(script.utf8), extra: ["NO_COLOR": "1"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertFalse(r.out.contains("\u{1B}"), "no colour with NO_COLOR and no terminal")
        XCTAssertTrue(r.out.contains("side effects:\n  Instantly: add leads to campaign"), r.out)
        XCTAssertTrue(r.out.contains("discovery first; I will show what it found and ask before anything is written"), r.out)
        // Informed approval: the real counts, the schedule and one email before the yes that approves them.
        let gate = try XCTUnwrap(r.out.range(of: "before anything is written"), r.out)
        let approved = try XCTUnwrap(r.out.range(of: "approved; writing as shown"), r.out)
        XCTAssertLessThan(gate.lowerBound, approved.lowerBound)
        let shown = String(r.out[gate.lowerBound..<approved.lowerBound])
        XCTAssertTrue(shown.contains("Instantly: add leads to campaign") && shown.contains("8 leads"), shown)
        XCTAssertTrue(shown.contains("one of the 8 emails") && shown.contains("Subject: "), shown)
        XCTAssertTrue(shown.contains("approve? (yes / no)"), shown)
        XCTAssertTrue(r.out.contains("reply rate: not tracked yet"), r.out)
        let events = try String(contentsOfFile: "\(e.runs)/\(try XCTUnwrap(try jobIDs(e).first))/events.ndjson", encoding: .utf8)
        XCTAssertTrue(events.contains("approved by the chat"), "the events name who approved")
        XCTAssertTrue(r.out.contains("step 1 gh-search"), "milestones are printed: \(r.out)")
        XCTAssertTrue(r.out.contains("8 queued in Instantly campaign"), r.out)
        XCTAssertTrue(r.out.contains("nothing failed so far"), r.out)
        XCTAssertTrue(r.out.contains("I did not understand 'what is the weather'"), r.out)
        XCTAssertEqual(try instantlyLeads(s).leads, 8)
    }

    /// The chat on a terminal (a pty from script(1)): the prompt, bold unless NO_COLOR, a follow-up on a job
    /// started elsewhere (skip sending: the job exports only).
    func testTheChatOnATerminal() throws {
        let s = try SandboxLauncher(["--repos", "400", "--users", "600", "--now", Self.now])
        defer { s.stop() }
        let e = setUp(s)
        let id = try submit(e, goal(s))
        func onTerminal(_ lines: String, noColor: Bool) throws -> SpawnResult {
            let quoted = [Spawn.executable("cmo-plan"), "chat", "--job-id", id].map { "'" + $0 + "'" }.joined(separator: " ")
            var env = e.env
            if noColor { env["NO_COLOR"] = "1" }
            return try Spawn.run("/usr/bin/script", ["-qec", quoted + "; echo \"exit=$?\"", "/dev/null"], stdin: Data(lines.utf8), environment: env)
        }
        let a = try onTerminal("skip sending, export only\nstatus\nquit\n", noColor: false)
        XCTAssertTrue(a.out.contains("cmo> "), a.out)
        XCTAssertTrue(a.out.contains("\u{1B}[1m"), "bold on a terminal")
        XCTAssertTrue(a.out.contains("no more writes"), a.out)
        XCTAssertTrue(a.out.contains("exit=0"), a.out)
        let b = try onTerminal("help\nquit\n", noColor: true)
        XCTAssertFalse(b.out.contains("\u{1B}[1m"), b.out)
        let w = try Spawn.run("cmo-plan", ["worker", "--until-idle"], environment: e.env)
        XCTAssertEqual(w.status, 0, w.err)
        let st = try state(e, id)
        XCTAssertEqual(st["status"] as? String, "done")
        XCTAssertFalse((st["steps"] as? [[String: Any]] ?? []).contains { $0["stage"] as? String == "send-instantly" }, "sending was skipped")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(e.runs)/\(id)/exports/leads.csv"))
        XCTAssertEqual(try instantlyLeads(s).leads, 0)
    }

    /// `--interpreter model`: a model reads what the rules would not ("bump it to 3k leads"), its made-up
    /// readings are refused and retried; a model that cannot be asked is dropped once, the rules read on.
    func testTheChatReadByAModel() throws {
        let s = try SandboxLauncher(["--repos", "400", "--users", "600", "--now", Self.now])
        defer { s.stop() }
        let e = setUp(s)
        let id = try submit(e, goal(s))
        func chat(_ model: String, _ lines: [String]) throws -> SpawnResult {
            let r = try plan(e, ["chat", "--job-id", id, "--interpreter", "model", "--interpreter-model", model],
                             stdin: Data((lines.joined(separator: "\n") + "\n").utf8), extra: ["NO_COLOR": "1"])
            XCTAssertEqual(r.status, 0, r.err)
            return r
        }
        let a = try chat("cmo-chat-invented", ["bump it to 3k leads", "hold off on the emails", "quit"])
        XCTAssertTrue(a.out.contains("target → 3000"), "3 is refused (not a figure in the line), the retry reads 3000: \(a.out)")
        XCTAssertTrue(a.out.contains("no more writes"), a.out)
        XCTAssertFalse(a.out.contains("rules read"), "each refusal was retried, no fallback: \(a.out)")
        let amendments = try String(contentsOfFile: "\(e.runs)/\(id)/amendments.ndjson", encoding: .utf8)
        XCTAssertTrue(amendments.contains("\"target\":3000"), amendments)

        let b = try chat("cmo-planner-quota", ["how's it going?", "pause", "quit"])
        XCTAssertEqual(b.out.components(separatedBy: "could not be asked").count - 1, 1, "asked once, then not again: \(b.out)")
        XCTAssertTrue(b.out.contains("the rules read the line instead; from now on too"), b.out)
        XCTAssertTrue(b.out.contains("job \(id)"), "the rules answered status: \(b.out)")
        try waitUntil(5, "the pause") { (try state(e, id))["status"] as? String == "paused" }
    }

    /// Instantly answering 5xx to everything: triage files the errors in Linear (a parent for the job, a child
    /// per error), pauses the writers; a resume once Instantly is back sends them, once.
    func testTriagePausesTheWritersAndAResumeSendsThem() throws {
        let args = ["--repos", "400", "--users", "600", "--now", Self.now]
        // Instantly's reads answer (the job's checks pass), its writes fail.
        let failing = try SandboxLauncher(args + ["--fail-rate", "instantly=1", "--faults-on-writes-only"])
        let e = setUp(failing)
        let id = "triage1"
        let r = try plan(e, ["run", "--yes", "--widen", "-q", "--config", Self.campaign, "--now", Self.now, "--job-id", id, goal(failing, linear: true)])
        XCTAssertEqual(r.status, 75, r.err)
        XCTAssertTrue(r.err.contains("triage: step"), r.err)
        let st = try state(e, id)
        XCTAssertEqual(st["status"] as? String, "paused")
        XCTAssertTrue((st["pause_reason"] as? String ?? "").hasPrefix("triage:"), "\(st)")
        let triage = try XCTUnwrap((st["triage"] as? [[String: Any]])?.first)
        XCTAssertNotNil(triage["linear"] as? String, "\(triage)")
        let linear = try XCTUnwrap((try failing.stats()["services"] as? [String: Any])?["linear"] as? [String: Any])
        XCTAssertGreaterThanOrEqual(linear["issues"] as? Int ?? 0, 2, "a parent and a child: \(linear)")
        XCTAssertTrue(try plan(e, ["status", id]).out.contains("triage"))
        failing.stop()
        // Instantly is back (a new sandbox of the same world; the ledger is in the state directory).
        let ok = try SandboxLauncher(args)
        defer { ok.stop() }
        var env = ok.environment
        env["CMO_STATE_DIR"] = e.env["CMO_STATE_DIR"]
        env["CMO_RUNS_DIR"] = e.env["CMO_RUNS_DIR"]
        let again = try Spawn.run("cmo-plan", ["resume", id, "-q"], environment: env)
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(try state(e, id)["status"] as? String, "done")
        XCTAssertEqual(try instantlyLeads(ok).leads, 15)
    }

    /// cron: `run --name N --yes -q` prints nothing on success; a second run of the name while one runs exits
    /// 75 and touches nothing.
    func testTheCronLockAndSilenceOnSuccess() throws {
        let s = try SandboxLauncher(["--repos", "400", "--users", "600", "--now", Self.now, "--latency", "*=30"])
        defer { s.stop() }
        let e = setUp(s)
        let g = "Find 5 Python maintainers active in the last 365 days, export a CSV"
        let first = Process()
        first.executableURL = URL(fileURLWithPath: Spawn.executable("cmo-plan"))
        first.arguments = ["run", "--yes", "-q", "--name", "nightly", "--config", Self.campaign, "--now", Self.now, g]
        first.environment = ["PATH": "/usr/bin:/bin", "HOME": e.env["CMO_STATE_DIR"]!].merging(e.env) { _, n in n }
        let out = Pipe(), err = Pipe()
        first.standardOutput = out
        first.standardError = err
        try first.run()
        try waitUntil(30, "the first run's directory") { ((try? FileManager.default.contentsOfDirectory(atPath: e.runs)) ?? []).count == 1 }
        let second = try plan(e, ["run", "--yes", "-q", "--name", "nightly", "--config", Self.campaign, "--now", Self.now, g])
        XCTAssertEqual(second.status, 75, second.err)
        XCTAssertTrue(second.err.contains("a run of nightly is still running"), second.err)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: e.runs).count, 1, "the second touched nothing")
        let o = out.fileHandleForReading.readDataToEndOfFile(), r = err.fileHandleForReading.readDataToEndOfFile()
        first.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0, String(decoding: r, as: UTF8.self))
        XCTAssertEqual(o.count, 0, String(decoding: o, as: UTF8.self))
        XCTAssertEqual(String(decoding: r, as: UTF8.self), "", "silent on success")
        let names = try FileManager.default.contentsOfDirectory(atPath: e.runs)
        XCTAssertTrue(names[0].hasPrefix("nightly-"), "\(names)")
    }
}
