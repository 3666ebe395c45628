import CMOTestSupport
import Foundation
import XCTest

/// A foreground `cmo-plan run` killed with `kill -9` takes its stages along (issue 27): every process the
/// spawn layer starts gets SIGKILL when cmo-plan dies (PR_SET_PDEATHSIG), so no stage goes on writing on its
/// own until a `resume`. The last stage of a step writes its artifact file straight (no pipe back to cmo-plan
/// that would end it with EPIPE), so a writer killed with its run is the case that matters.
final class StageDeathTests: XCTestCase {
    static let now = "2026-11-20T00:00:00Z"
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    func testAKilledRunLeavesNoStageRunning() throws {
        // Instantly slowed down so send-instantly is still writing when cmo-plan is killed.
        let s = try SandboxLauncher(["--repos", "400", "--users", "600", "--now", Self.now, "--latency", "instantly=1500"])
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let runs = dir + "/runs", id = "job-stage-death"
        var env = s.environment
        env["PATH"] = "/usr/bin:/bin"
        env["HOME"] = dir
        env["LANG"] = "C.UTF-8"
        env["CMO_STATE_DIR"] = dir + "/state"
        env["CMO_RUNS_DIR"] = runs
        let plan = Process()
        plan.executableURL = URL(fileURLWithPath: Spawn.executable("cmo-plan"))
        plan.arguments = ["run", "--yes", "--config", Self.root + "/pipelines/demo-campaign.yaml", "--now", Self.now, "--job-id", id,
                          "Find 15 Python maintainers active in the last 90 days, queue them in Instantly campaign "
                              + (s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN"] ?? "")]
        plan.environment = env
        plan.standardInput = FileHandle.nullDevice
        plan.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        _ = FileManager.default.createFile(atPath: dir + "/plan.err", contents: nil)
        plan.standardError = FileHandle(forWritingAtPath: dir + "/plan.err")
        try plan.run()
        var stages: [pid_t] = []
        defer {
            // Whatever the outcome, nothing of this test is left running.
            if plan.isRunning { kill(plan.processIdentifier, SIGKILL) }
            for pid in stages + Self.processes(mentioning: runs) { kill(pid, SIGKILL) }
        }

        // Until the state says the writer runs, with its pid.
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, plan.isRunning {
            stages = Self.runningStages(runs + "/" + id + "/state.json", stage: "send-instantly")
            if !stages.isEmpty { break }
            usleep(50_000)
        }
        let err = { (try? String(contentsOfFile: dir + "/plan.err", encoding: .utf8)) ?? "" }
        XCTAssertFalse(stages.isEmpty, "send-instantly was not seen running: \(err())")
        guard !stages.isEmpty else { return }
        usleep(300_000)  // well into its first (slow) request
        stages = Array(Set(stages + Self.runningStages(runs + "/" + id + "/state.json") + Self.processes(mentioning: runs)))
        XCTAssertTrue(stages.allSatisfy(Self.isAlive), "every stage recorded runs before the kill: \(stages)")

        kill(plan.processIdentifier, SIGKILL)
        plan.waitUntilExit()
        XCTAssertEqual(plan.terminationReason, .uncaughtSignal)

        // Within about 2 s nothing of the run is left: not the stages it recorded, not any process started for it.
        let gone = Date().addingTimeInterval(2)
        var left: [pid_t] = []
        repeat {
            left = Array(Set(stages + Self.processes(mentioning: runs))).filter(Self.isAlive).sorted()
            if left.isEmpty { break }
            usleep(50_000)
        } while Date() < gone
        XCTAssertEqual(left, [], "stages still running after cmo-plan was killed: \(left.map { "\($0) \(Self.commandLine($0))" })")
    }

    /// The pids of the steps (of `stage`, or any) the run's state says are running.
    static func runningStages(_ statePath: String, stage: String? = nil) -> [pid_t] {
        guard let data = FileManager.default.contents(atPath: statePath),
            let state = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let steps = state["steps"] as? [[String: Any]]
        else { return [] }
        return steps.compactMap { step in
            guard step["status"] as? String == "running", stage == nil || step["stage"] as? String == stage else { return nil }
            return (step["pid"] as? Int).map { pid_t($0) }
        }
    }

    /// Live processes whose command line names `path` (the run's directory: every stage's dead-letter file is in it).
    static func processes(mentioning path: String) -> [pid_t] {
        let me = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.filter { $0 != me && isAlive($0) && commandLine($0).contains(path) }
    }

    static func commandLine(_ pid: pid_t) -> String {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return "" }
        return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
    }

    /// Running, or anything but a zombie (a zombie is dead, waiting for whoever adopted it to reap it).
    static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }
}
