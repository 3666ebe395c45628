import CMOTestSupport
import Foundation
import XCTest

/// cmo-plan's model planner against the sandbox's scripted models: a competent one plans the whole job
/// through tool calls; the misbehaving ones (broken arguments, an unknown tool, prose, a loop, no quota)
/// are refused with a reason, and the rule planner takes over when they keep at it, and the run says so.
final class CMOPlanModelTests: XCTestCase {
    static let now = CMOPlanTests.now
    /// A world big enough that the scripted planner's first search (50+ stars, 20 repositories) finds the target.
    static let world = ["--seed", "42", "--repos", "3000", "--users", "4000", "--now", now]

    func run(_ s: SandboxLauncher, _ dir: String, _ args: [String]) throws -> SpawnResult {
        var env = s.environment
        env["CMO_STATE_DIR"] = dir + "/state"
        env["CMO_RUNS_DIR"] = dir + "/runs"
        return try Spawn.run("cmo-plan", args, environment: env)
    }

    func goal(_ s: SandboxLauncher) -> String {
        "Find 15 Python maintainers active in the last 90 days, queue them in Instantly campaign "
            + "\(s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN"] ?? ""), add them to Attio list \(s.environment["CMO_SANDBOX_ATTIO_LIST"] ?? ""), export a CSV"
    }

    func model(_ s: SandboxLauncher, _ dir: String, _ model: String, id: String, yes: Bool = true) throws -> SpawnResult {
        try run(s, dir, ["run"] + (yes ? ["--yes"] : []) + ["--planner", "model", "--planner-model", model, "--config", CMOPlanTests.campaign,
                                                           "--now", Self.now, "--job-id", id, goal(s)])
    }

    func state(_ dir: String, _ id: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/runs/\(id)/state.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func stages(_ st: [String: Any]) -> [String] { ((st["steps"] as? [[String: Any]]) ?? []).compactMap { $0["stage"] as? String } }

    func leads(_ s: SandboxLauncher) throws -> Int {
        ((try s.stats()["services"] as? [String: Any])?["instantly"] as? [String: Any])?["leads"] as? Int ?? 0
    }

    func testACompetentModelPlansTheWholeJobThroughToolCalls() throws {
        let s = try SandboxLauncher(Self.world)
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let r = try model(s, dir, "cmo-planner", id: "m1")
        XCTAssertEqual(r.status, 0, r.err)
        let st = try state(dir, "m1")
        XCTAssertEqual(st["status"] as? String, "done", r.err)
        XCTAssertNil(st["planner_fallback"], r.err)
        let turns = try XCTUnwrap(st["turns"] as? [[String: Any]])
        XCTAssertEqual(turns.last?["tool"] as? String, "done", "\(turns)")
        XCTAssertTrue(turns.allSatisfy { $0["refused"] == nil }, "\(turns)")
        let ran = stages(st)
        XCTAssertEqual(Array(ran.prefix(5)), ["gh-search", "gh-people", "gh-enrich", "mx-check", "score-icp"])
        XCTAssertTrue(ran.contains("render-copy"), "\(ran)")
        // Each search after the first is a widening in the state, visible in status.
        XCTAssertEqual((st["widenings"] as? [Any])?.count, ran.filter { $0 == "gh-search" }.count - 1)
        XCTAssertEqual(Array(ran.suffix(3)), ["send-instantly", "sync-attio", "export-csv"], "\(ran)")
        // The rails: score-icp got the job's target, whatever the model asked.
        let score = try XCTUnwrap((st["steps"] as? [[String: Any]])?.first { $0["stage"] as? String == "score-icp" })
        XCTAssertTrue((score["arguments"] as? [String] ?? []).joined(separator: " ").contains("--top 15"), "\(score)")
        XCTAssertGreaterThan(try leads(s), 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/runs/m1/exports/leads.csv"))
    }

    func testTheGateHoldsTheModelsWritesAndApproveContinuesTheConversationFromTheState() throws {
        let s = try SandboxLauncher(Self.world)
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let held = try model(s, dir, "cmo-planner", id: "g1", yes: false)
        XCTAssertEqual(held.status, 0, held.err)
        XCTAssertEqual(try state(dir, "g1")["status"] as? String, "awaiting_approval", held.err)
        XCTAssertEqual(try leads(s), 0, "nothing is written before the approval")
        let approved = try run(s, dir, ["approve", "g1"])
        XCTAssertEqual(approved.status, 0, approved.err)
        let st = try state(dir, "g1")
        XCTAssertEqual(st["status"] as? String, "done", approved.err)
        XCTAssertNil(st["planner_fallback"], approved.err)
        XCTAssertGreaterThan(try leads(s), 0)
    }

    func testMisbehavingModelsAreRefusedWithAReasonAndTheRulePlannerTakesOverWhenTheyKeepAtIt() throws {
        let s = try SandboxLauncher(Self.world)
        defer { s.stop() }
        // Each answer that breaks a rule is refused and told why; a model that then corrects itself keeps planning.
        for (i, m) in ["cmo-planner-malformed", "cmo-planner-unknown-tool", "cmo-planner-chatty"].enumerated() {
            let dir = Spawn.tempDirectory()
            let r = try model(s, dir, m, id: "b\(i)")
            XCTAssertEqual(r.status, 0, "\(m): \(r.err)")
            let st = try state(dir, "b\(i)")
            XCTAssertEqual(st["status"] as? String, "done", "\(m): \(r.err)")
            XCTAssertTrue(r.err.contains("the model's answer was refused"), "\(m): \(r.err)")
            let turns = try XCTUnwrap(st["turns"] as? [[String: Any]])
            XCTAssertTrue(turns.contains { $0["refused"] != nil || $0["text"] != nil }, "\(m): \(turns)")
            XCTAssertTrue(stages(st).contains("send-instantly"), "\(m): \(stages(st))")
        }
        // A model rate-limited at first (429 with Retry-After) is waited for, not replaced.
        let dir = Spawn.tempDirectory()
        let fresh = try SandboxLauncher(Self.world)  // its own per-minute windows, not the runs' above
        defer { fresh.stop() }
        let throttled = try model(fresh, dir, "cmo-planner-429", id: "r1")
        XCTAssertEqual(throttled.status, 0, throttled.err)
        XCTAssertNil(try state(dir, "r1")["planner_fallback"], throttled.err)
        XCTAssertEqual(try state(dir, "r1")["status"] as? String, "done", throttled.err)
        // A loop, or a model with no quota, is not given the run: the rule planner finishes it, and says so.
        for (i, m) in ["cmo-planner-loop", "cmo-planner-quota"].enumerated() {
            let dir = Spawn.tempDirectory()
            let r = try model(s, dir, m, id: "f\(i)")
            XCTAssertEqual(r.status, 0, "\(m): \(r.err)")
            XCTAssertTrue(r.err.contains("the rule planner takes over"), "\(m): \(r.err)")
            let st = try state(dir, "f\(i)")
            XCTAssertEqual(st["status"] as? String, "done", "\(m): \(r.err)")
            XCTAssertNotNil(st["planner_fallback"], m)
            XCTAssertLessThanOrEqual(stages(st).filter { $0 == "gh-search" }.count, 4, "\(m): the per-tool cap holds")
            XCTAssertTrue(stages(st).contains("sync-attio"), "\(m): \(stages(st))")
        }
    }
}
