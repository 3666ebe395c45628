import CMOTestSupport
import Foundation
import XCTest

/// cmo-plan end to end against the sandbox: a goal becomes a run of the built stages; the gate holds
/// every write without --yes; a kill in the middle of a step is resumed with no duplicate write; a
/// second run of the same goal writes nothing twice.
final class CMOPlanTests: XCTestCase {
    static let now = "2026-11-20T00:00:00Z"
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static var campaign: String { root + "/pipelines/demo-campaign.yaml" }

    func sandbox() throws -> SandboxLauncher { try SandboxLauncher(["--repos", "400", "--users", "600", "--now", Self.now]) }

    func plan(_ s: SandboxLauncher, _ args: [String], state: String, runs: String) throws -> SpawnResult {
        var env = s.environment
        env["CMO_STATE_DIR"] = state
        env["CMO_RUNS_DIR"] = runs
        return try Spawn.run("cmo-plan", args, environment: env)
    }

    func goal(_ s: SandboxLauncher, target: Int = 15) -> String {
        "Find \(target) Python maintainers active in the last 90 days, queue them in Instantly campaign "
            + "\(s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN"] ?? "") , add them to Attio list \(s.environment["CMO_SANDBOX_ATTIO_LIST"] ?? ""), export a CSV"
    }

    func runState(_ runs: String, _ id: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(runs)/\(id)/state.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func instantly(_ s: SandboxLauncher) throws -> [String: Any] { try service(s, "instantly") }

    /// `cmo-plan run --yes` of the goal as job `id`, with one stage replaced by `command`.
    func runReplacing(_ s: SandboxLauncher, _ stage: String, by command: String, id: String, state: String, runs: String) throws -> SpawnResult {
        try plan(s, ["run", "--yes", "--config", Self.campaign, "--now", Self.now, "--job-id", id, "--stage", "\(stage)=\(command)", goal(s)],
                 state: state, runs: runs)
    }

    func queued(_ runs: String, _ id: String) throws -> [String: Int] {
        let st = try runState(runs, id)
        let steps = try XCTUnwrap(st["steps"] as? [[String: Any]])
        let send = try XCTUnwrap(steps.last { $0["stage"] as? String == "send-instantly" })
        let text = try String(contentsOfFile: "\(runs)/\(id)/\(send["artifact"] as? String ?? "")", encoding: .utf8)
        var out: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let i = try XCTUnwrap(o["instantly"] as? [String: Any])
            out[(i["status"] as? String ?? "?") + ((i["already"] as? Bool) == true ? "_already" : ""), default: 0] += 1
        }
        return out
    }

    func testParseAndPlan() throws {
        let p = try Spawn.run("cmo-plan", ["parse", "Find ~2k Python maintainers active in the last 90 days, queue them in Instantly seq=123, add them to Attio list=abc, export a CSV"])
        XCTAssertEqual(p.status, 0, p.err)
        let job = try XCTUnwrap(JSONSerialization.jsonObject(with: p.stdout) as? [String: Any])
        XCTAssertEqual(job["target"] as? Int, 2000)
        XCTAssertEqual(job["languages"] as? [String], ["python"])
        XCTAssertEqual(job["instantly_campaign"] as? String, "123")
        XCTAssertEqual(job["attio_list"] as? String, "abc")
        let plan = try Spawn.run("cmo-plan", ["plan", "--json", "Find 2k Go maintainers, queue them in Instantly campaign 123"])
        XCTAssertEqual(plan.status, 0, plan.err)
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: plan.stdout) as? [String: Any])
        let stages = try XCTUnwrap(o["stages"] as? [[String: Any]]).compactMap { $0["stage"] as? String }
        XCTAssertEqual(stages, ["gh-search", "gh-people", "gh-enrich", "mx-check", "score-icp", "render-copy", "send-instantly"])
        let effects = try XCTUnwrap(o["side_effects"] as? [[String: Any]])
        XCTAssertEqual(effects.first?["target"] as? String, "123")
        XCTAssertEqual(effects.first?["count"] as? Int, 2000)
        XCTAssertNotNil((o["caps"] as? [String: Any])?["max_repos"])
        XCTAssertEqual(try Spawn.run("cmo-plan", ["run"]).status, 64)
    }

    func testRunHoldsAtTheGateThenApproveThenARerunWritesNothingTwice() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let runs = dir + "/runs", state = dir + "/state"
        // No terminal, no --yes: discovery runs, nothing is written, the job waits for approval.
        let held = try plan(s, ["run", "--config", Self.campaign, "--now", Self.now, "--job-id", "j1", goal(s)], state: state, runs: runs)
        XCTAssertEqual(held.status, 0, held.err)
        XCTAssertEqual(try runState(runs, "j1")["status"] as? String, "awaiting_approval", held.err)
        XCTAssertTrue(held.err.contains("cmo-plan approve j1"), held.err)
        XCTAssertEqual(try instantly(s)["leads"] as? Int ?? 0, 0)
        let approved = try plan(s, ["approve", "j1"], state: state, runs: runs)
        XCTAssertEqual(approved.status, 0, approved.err)
        let st = try runState(runs, "j1")
        XCTAssertEqual(st["status"] as? String, "done", approved.err)
        let q = try queued(runs, "j1")
        XCTAssertGreaterThan(q["queued", default: 0], 0, "\(q)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(runs)/j1/exports/leads.csv"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(runs)/j1/events.ndjson"))
        let leads = try instantly(s)["leads"] as? Int
        let notes = try service(s, "attio")["notes"] as? Int
        // The same goal again, a new job: every lead is already in the campaign and said to be (not "queued");
        // nothing is written twice, and Attio gets no second note for them.
        let again = try plan(s, ["run", "--yes", "-q", "--config", Self.campaign, "--now", Self.now, "--job-id", "j2", goal(s)], state: state, runs: runs)
        XCTAssertEqual(again.status, 0, again.err)
        let q2 = try queued(runs, "j2")
        XCTAssertEqual(q2["queued", default: 0], 0, "\(q2)")
        XCTAssertEqual(q2["already_queued", default: 0], q["queued", default: 0], "\(q2)")
        XCTAssertEqual(try instantly(s)["leads"] as? Int, leads)
        XCTAssertEqual(try service(s, "attio")["notes"] as? Int, notes)
        let summary2 = try runState(runs, "j2")["summary"] as? String ?? ""
        XCTAssertTrue(summary2.contains("already_queued"), summary2)
        // Resuming a finished job does nothing.
        XCTAssertEqual(try plan(s, ["resume", "j2"], state: state, runs: runs).status, 0)
    }

    func testKillNineInAStepThenResumeFinishesWithoutDuplicates() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let runs = dir + "/runs", state = dir + "/state"
        // gh-enrich kills cmo-plan itself (its parent) with SIGKILL in the middle of the step.
        let killed = try runReplacing(s, "gh-enrich", by: "sleep 0.5; kill -9 $PPID; sleep 1", id: "k1", state: state, runs: runs)
        XCTAssertNotEqual(killed.status, 0)
        let mid = try runState(runs, "k1")
        XCTAssertEqual(mid["status"] as? String, "running")
        let resumed = try plan(s, ["resume", "--yes", "k1"], state: state, runs: runs)
        XCTAssertEqual(resumed.status, 0, resumed.err)
        XCTAssertTrue(resumed.err.contains("interrupted"), resumed.err)
        let st = try runState(runs, "k1")
        XCTAssertEqual(st["status"] as? String, "done")
        let steps = try XCTUnwrap(st["steps"] as? [[String: Any]])
        XCTAssertEqual(steps.filter { $0["stage"] as? String == "gh-search" && $0["widenStep"] as? Int == 0 }.count, 1, "gh-search ran once: the finished step was not redone")
        let i = try instantly(s)
        let campaigns = (i["campaigns"] as? [[String: Any]]) ?? []
        XCTAssertEqual(campaigns.reduce(0) { $0 + ($1["duplicate_leads"] as? Int ?? 0) }, 0, "\(i)")
        XCTAssertGreaterThan(i["leads"] as? Int ?? 0, 0)
        // A second process on the same job while the lock is held exits 75 (and touches nothing).
        let lockHolder = try Spawn.run("/bin/sh", ["-c", "exec 9>\(runs)/k1/lock; flock -n 9 && \(Spawn.executable("cmo-plan")) approve k1 --runs-dir \(runs); echo $?"])
        XCTAssertTrue(lockHolder.out.hasSuffix("75\n"), lockHolder.out + lockHolder.err)
    }

    func testAStageThatFailsStopsTheRunWithItsStatusAndResumeRetriesIt() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let runs = dir + "/runs", state = dir + "/state"
        let failed = try runReplacing(s, "mx-check", by: "sh -c 'exit 69'", id: "f1", state: state, runs: runs)
        XCTAssertEqual(failed.status, 69, failed.err)
        XCTAssertTrue(failed.err.contains("mx-check exited 69"), failed.err)
        XCTAssertEqual(try runState(runs, "f1")["status"] as? String, "failed")
        XCTAssertEqual(try instantly(s)["leads"] as? Int ?? 0, 0, "nothing written after a failure before the writers")
        let resumed = try plan(s, ["resume", "--yes", "f1"], state: state, runs: runs)
        XCTAssertEqual(resumed.status, 0, resumed.err)
        XCTAssertEqual(try runState(runs, "f1")["status"] as? String, "done")
    }

    /// A stage swapped for a fake that prints no summary (`cat`) still runs: the runner counts what it read
    /// and wrote from the pipe and the artifacts, and says what it could not know.
    func testAStageSwappedForAFakeThatPrintsNoSummaryStillRuns() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let runs = dir + "/runs", state = dir + "/state"
        let r = try runReplacing(s, "gh-enrich", by: "cat", id: "fake1", state: state, runs: runs)
        XCTAssertEqual(r.status, 0, r.err)
        let steps = try XCTUnwrap(try runState(runs, "fake1")["steps"] as? [[String: Any]])
        let people = try XCTUnwrap(steps.first { $0["stage"] as? String == "gh-people" })
        let fake = try XCTUnwrap(steps.first { $0["stage"] as? String == "gh-enrich" })
        let counts = try XCTUnwrap(fake["counts"] as? [String: Int])
        let peopleOut = try XCTUnwrap((people["counts"] as? [String: Int])?["out"])
        XCTAssertGreaterThan(peopleOut, 0)
        XCTAssertEqual(counts, ["in": peopleOut, "out": peopleOut], "what the fake read is what gh-people wrote; nothing else is known")
        XCTAssertEqual(fake["summaryMissing"] as? Bool, true)
        XCTAssertNil((people["summaryMissing"] as? Bool), "a real stage's summary is read")
        XCTAssertNotNil((people["counts"] as? [String: Int])?["http"], "from the stage's JSON summary")
        XCTAssertTrue(r.err.contains("gh-enrich: \(peopleOut) in, \(peopleOut) out, ") && r.err.contains("it printed no summary"), r.err)
    }

    func service(_ s: SandboxLauncher, _ name: String) throws -> [String: Any] {
        try XCTUnwrap((try s.stats()["services"] as? [String: Any])?[name] as? [String: Any])
    }

    /// Nothing any writer put into the sandbox: Instantly leads, Attio records/entries/notes, Linear issues.
    func writes(_ s: SandboxLauncher) throws -> [String: Int] {
        let a = try service(s, "attio"), l = try service(s, "linear")
        return ["instantly leads": try instantly(s)["leads"] as? Int ?? -1, "attio records": a["records"] as? Int ?? -1,
                "attio entries": a["list_entries"] as? Int ?? -1, "attio notes": a["notes"] as? Int ?? -1, "linear issues": l["issues"] as? Int ?? -1]
    }

    func testAStageRateLimitedStopsTheRunResumablyWith75() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let runs = dir + "/runs", state = dir + "/state"
        let limited = try runReplacing(
            s, "gh-enrich", by: "sh -c 'cat >/dev/null; echo \"gh-enrich: GitHub rate limit: resets in 3600 s\" >&2; exit 75'", id: "r1", state: state, runs: runs)
        XCTAssertEqual(limited.status, 75, limited.err)
        XCTAssertTrue(limited.err.contains("rate-limited"), limited.err)
        XCTAssertTrue(limited.err.contains("resets in 3600 s"), "the stage's own words are shown: \(limited.err)")
        XCTAssertTrue(limited.err.contains("cmo-plan resume r1"), limited.err)
        let st = try runState(runs, "r1")
        let steps = try XCTUnwrap(st["steps"] as? [[String: Any]])
        XCTAssertEqual(steps.first { $0["stage"] as? String == "gh-search" }?["status"] as? String, "done", "finished work is kept")
        XCTAssertEqual(try writes(s).values.reduce(0, +), 0)
        let status = try plan(s, ["status", "--json", "r1"], state: state, runs: runs)
        XCTAssertEqual(status.status, 0, status.err)
        let resumed = try plan(s, ["resume", "--yes", "r1"], state: state, runs: runs)
        XCTAssertEqual(resumed.status, 0, resumed.err)
        let done = try runState(runs, "r1")
        XCTAssertEqual(done["status"] as? String, "done")
        let after = try XCTUnwrap(done["steps"] as? [[String: Any]])
        XCTAssertEqual(after.filter { $0["stage"] as? String == "gh-search" && $0["widenStep"] as? Int == 0 }.count, 1, "gh-search was not run again")
        XCTAssertEqual(after.first { $0["stage"] as? String == "gh-search" }?["finishedAt"] as? String,
                       steps.first { $0["stage"] as? String == "gh-search" }?["finishedAt"] as? String, "the finished step is the same one")
        XCTAssertGreaterThan(try instantly(s)["leads"] as? Int ?? 0, 0)
    }

    func testDryRunWritesNothingAnywhereAndNeedsNoApproval() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let runs = dir + "/runs", state = dir + "/state"
        let team = s.environment["CMO_SANDBOX_LINEAR_TEAM"] ?? ""
        // The flag, and a goal that says so: no terminal and no --yes, yet no gate (nothing to approve).
        // (--widen: the goal's window is too small for its target here, and a widening question is not the gate.)
        for (id, extra, words) in [("d1", ["--dry-run", "--widen"], ""), ("d2", ["--widen"], ", file the errors in Linear team \(team), dry run")] {
            let r = try plan(s, ["run"] + extra + ["--config", Self.campaign, "--now", Self.now, "--job-id", id, goal(s) + words], state: state, runs: runs)
            XCTAssertEqual(r.status, 0, r.err)
            let st = try runState(runs, id)
            XCTAssertEqual(st["status"] as? String, "done", r.err)
            let steps = try XCTUnwrap(st["steps"] as? [[String: Any]])
            for w in steps where ["send-instantly", "sync-attio", "sync-linear"].contains(w["stage"] as? String ?? "") {
                XCTAssertTrue((w["arguments"] as? [String] ?? []).contains("--dry-run"), "\(w)")
            }
            XCTAssertTrue(steps.contains { $0["stage"] as? String == "sync-attio" && $0["status"] as? String == "done" }, r.err)
            let q = try queued(runs, id)
            XCTAssertEqual(q["queued", default: 0], 0, "\(q)")
            XCTAssertGreaterThan(q.values.reduce(0, +), 0, "the dry run still says what it would send: \(q)")
            XCTAssertEqual(try writes(s), ["instantly leads": 0, "attio records": 0, "attio entries": 0, "attio notes": 0, "linear issues": 0], r.err)
        }
    }

    /// The gate on a terminal (a pty from script(1)): "y" goes ahead, anything else writes nothing and waits.
    func testTheGateAsksOnATerminal() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        var env = s.environment
        env["CMO_STATE_DIR"] = dir + "/state"
        env["CMO_RUNS_DIR"] = dir + "/runs"
        func onTerminal(_ id: String, _ answer: String) throws -> SpawnResult {
            let quoted = ([Spawn.executable("cmo-plan"), "run", "--config", Self.campaign, "--now", Self.now, "--job-id", id, goal(s)])
                .map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
            return try Spawn.run("/usr/bin/script", ["-qec", quoted + "; echo \"exit=$?\"", "/dev/null"], stdin: Data(answer.utf8), environment: env)
        }
        // First the widening past the goal's window (declined), then the gate.
        let no = try onTerminal("t1", "n\n")
        XCTAssertTrue(no.out.contains("widen to 180 days for perhaps"), no.out)
        XCTAssertTrue(no.out.contains("Go ahead? [y/N]"), no.out)
        XCTAssertTrue(no.out.contains("Instantly: add leads to campaign"), "the side effects with real counts: \(no.out)")
        XCTAssertTrue(no.out.contains("exit=0"), no.out)
        XCTAssertEqual(try runState(dir + "/runs", "t1")["status"] as? String, "awaiting_approval", no.out)
        XCTAssertEqual(try writes(s).values.reduce(0, +), 0, no.out)
        let yes = try onTerminal("t2", "n\ny\n")
        XCTAssertTrue(yes.out.contains("exit=0"), yes.out)
        let st = try runState(dir + "/runs", "t2")
        XCTAssertEqual(st["status"] as? String, "done", yes.out)
        XCTAssertTrue(((st["approval"] as? [String: Any])?["by"] as? String ?? "").hasPrefix("the terminal"), "\(st["approval"] ?? "")")
        XCTAssertTrue(st["widen_declined"] as? String == "the terminal")
        XCTAssertGreaterThan(try instantly(s)["leads"] as? Int ?? 0, 0)
    }

    /// cmo-plan killed with SIGKILL as each stage starts (the step before it finished, the stages piped
    /// with it running), then resumed: every time the same leads in Instantly and Attio, no duplicate, the
    /// same CSV as a run nobody killed.
    func testKillNineAtEachStepBoundaryThenResumeGivesTheSameResult() throws {
        func once(kill stage: String?) throws -> (csv: String, writes: [String: Int], duplicates: Int) {
            let s = try sandbox()
            defer { s.stop() }
            let dir = Spawn.tempDirectory()
            let runs = dir + "/runs", state = dir + "/state"
            let base = ["--config", Self.campaign, "--now", Self.now, "--job-id", "b1"]
            if let stage {
                let killed = try plan(s, ["run", "--yes"] + base + ["--stage", "\(stage)=kill -9 $PPID; sleep 5", goal(s)], state: state, runs: runs)
                XCTAssertNotEqual(killed.status, 0, "\(stage): \(killed.err)")
                XCTAssertEqual(try runState(runs, "b1")["status"] as? String, "running", stage)
                let resumed = try plan(s, ["resume", "--yes", "b1"], state: state, runs: runs)
                XCTAssertEqual(resumed.status, 0, "\(stage): \(resumed.err)")
            } else {
                let r = try plan(s, ["run", "--yes"] + base + [goal(s)], state: state, runs: runs)
                XCTAssertEqual(r.status, 0, r.err)
            }
            XCTAssertEqual(try runState(runs, "b1")["status"] as? String, "done", stage ?? "uninterrupted")
            let campaigns = (try instantly(s)["campaigns"] as? [[String: Any]]) ?? []
            let csv = (try? String(contentsOfFile: runs + "/b1/exports/leads.csv", encoding: .utf8)) ?? ""
            return (csv, try writes(s), campaigns.reduce(0) { $0 + ($1["duplicate_leads"] as? Int ?? 0) })
        }
        let reference = try once(kill: nil)
        XCTAssertGreaterThan(reference.writes["instantly leads"] ?? 0, 0)
        XCTAssertFalse(reference.csv.isEmpty)
        for stage in ["gh-search", "gh-people", "gh-enrich", "mx-check", "score-icp", "render-copy", "send-instantly", "sync-attio", "export-csv"] {
            let r = try once(kill: stage)
            XCTAssertEqual(r.duplicates, 0, stage)
            XCTAssertEqual(r.writes, reference.writes, stage)
            XCTAssertEqual(r.csv, reference.csv, stage)
        }
    }
}
