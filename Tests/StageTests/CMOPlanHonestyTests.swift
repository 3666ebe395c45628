import CMOTestSupport
import Foundation
import XCTest

/// cmo-plan says what happened and writes nothing from a run that is not healthy: settings a stage
/// refuses stop the job before any search; a run whose leads became dead letters stops before the
/// writers with 65, names the most common reason and keeps the last good CSV at --output; a
/// stage's warning is said under -q too.
final class CMOPlanHonestyTests: XCTestCase {
    static let now = CMOPlanTests.now
    static let root = CMOPlanTests.root

    func sandbox() throws -> SandboxLauncher { try SandboxLauncher(["--repos", "800", "--users", "1000", "--now", Self.now]) }

    func plan(_ s: SandboxLauncher, _ dir: String, _ args: [String], env extra: [String: String] = [:]) throws -> SpawnResult {
        var env = s.environment
        env["CMO_STATE_DIR"] = dir + "/state"
        env["CMO_RUNS_DIR"] = dir + "/runs"
        for (k, v) in extra { env[k] = v }
        return try Spawn.run("cmo-plan", args, environment: env)
    }

    /// The demo campaign with the example templates, the greeting's variable replaced by `with` in the
    /// first template (or both): a misspelt name, or a field many records lack.
    func typoCampaign(in dir: String, both: Bool, with replacement: String = "{{ nmae|first_name }}") throws -> String {
        var paths: [String] = []
        for (i, name) in ["a-maintainer.yaml", "b-activity.yaml"].enumerated() {
            var text = try String(contentsOfFile: Self.root + "/examples/templates/" + name, encoding: .utf8)
            let greeting = try XCTUnwrap(text.range(of: #"\{\{ name\|first_name:login\|default:"there" \}\}"#, options: .regularExpression), name)
            if both || i == 0 { text.replaceSubrange(greeting, with: replacement) }
            try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
            paths.append(dir + "/" + name)
        }
        let campaign = try String(contentsOfFile: CMOPlanTests.campaign, encoding: .utf8)
            .replacingOccurrences(of: "[../examples/templates]", with: "[" + paths.joined(separator: ", ") + "]")
        let path = dir + "/campaign-typo.yaml"
        try campaign.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func goal(_ s: SandboxLauncher, _ n: Int) -> String {
        "Find \(n) Python maintainers active in the last 90 days, queue them in Instantly campaign \(s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN"] ?? "")"
    }

    func leads(_ s: SandboxLauncher) throws -> Int {
        ((try s.stats()["services"] as? [String: Any])?["instantly"] as? [String: Any])?["leads"] as? Int ?? -1
    }

    func testATemplateTypoStopsBeforeTheWritersAndKeepsTheLastGoodCSV() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let csv = dir + "/leads.csv"
        let good = try plan(s, dir, ["run", "--widen", "--config", CMOPlanTests.campaign, "--now", Self.now, "--job-id", "g1", "-o", csv, "--dry-run", goal(s, 12)])
        XCTAssertEqual(good.status, 0, good.err)
        let kept = try String(contentsOfFile: csv, encoding: .utf8)
        XCTAssertGreaterThan(kept.split(separator: "\n").count, 1)
        XCTAssertTrue(good.err.contains("CSV copied to \(csv)"), good.err)

        // A misspelt variable is caught before any request (78, with the name it meant), not after discovery.
        let before = try s.stats()["requests_total"] as? Int ?? -1
        let typo = try plan(s, dir, ["run", "--yes", "--config", try typoCampaign(in: dir, both: true), "--now", Self.now, "--job-id", "t1", "-o", csv, goal(s, 12)])
        XCTAssertEqual(typo.status, 78, typo.err)
        XCTAssertTrue(typo.err.contains("render-copy refuses these settings (exit 78") && typo.err.contains("nothing was searched or written"), typo.err)
        XCTAssertTrue(typo.err.contains("nmae") && typo.err.contains("did you mean name"), typo.err)
        XCTAssertEqual(try s.stats()["requests_total"] as? Int ?? -2, before, "nothing was asked of any service")
        XCTAssertEqual(try leads(s), 0)
        XCTAssertEqual(try String(contentsOfFile: csv, encoding: .utf8), kept, "the last good CSV is kept")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".partial.") }, [])
    }

    func testMoreThanTheDeadShareStopsAndAHigherThresholdLetsTheRunThrough() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        // Variant A greets by a field most people lack (no default), B does not: many leads are dead letters.
        let config = try typoCampaign(in: dir, both: false, with: "{{ twitter }}")
        let strict = try plan(s, dir, ["run", "--yes", "-q", "--config", config, "--now", Self.now, "--job-id", "d1", "-o", dir + "/leads.csv", goal(s, 30)])
        XCTAssertEqual(strict.status, 65, strict.err)
        XCTAssertTrue(strict.err.contains("render-copy dead-lettered") && strict.err.contains("over --max-dead-share 20%"), "said under -q too: \(strict.err)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/leads.csv"))
        XCTAssertEqual(try leads(s), 0)
        // The same job, resumed with a higher threshold, goes through to the writers.
        let loose = try plan(s, dir, ["resume", "--yes", "--max-dead-share", "90", "d1"])
        XCTAssertEqual(loose.status, 0, loose.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/leads.csv"))
        XCTAssertGreaterThan(try leads(s), 0)
        XCTAssertEqual(try plan(s, dir, ["resume", "--max-dead-share", "101", "d1"]).status, 64)
    }

    func testSettingsAStageRefusesStopTheJobBeforeAnySearch() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let before = try s.stats()["requests_total"] as? Int ?? -1
        let example = try plan(s, dir, ["run", "--yes", "--config", Self.root + "/examples/campaign.yaml", "--now", Self.now, "--job-id", "e1", goal(s, 5)])
        XCTAssertEqual(example.status, 78, example.err)
        XCTAssertTrue(example.err.contains("render-copy refuses these settings (exit 78") && example.err.contains("nothing was searched"), example.err)
        XCTAssertTrue(example.err.contains("example"), "render-copy's own words: \(example.err)")
        XCTAssertEqual(try s.stats()["requests_total"] as? Int ?? -2, before, "nothing was asked of any service")
        let dirOutput = try plan(s, dir, ["run", "--config", CMOPlanTests.campaign, "-o", dir, "--job-id", "e2", goal(s, 5)])
        XCTAssertEqual(dirOutput.status, 64, dirOutput.err)
    }

    func testAStagesWarningIsSaidEvenUnderQuiet() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        // A DNS server that never answers: no lead is verified, and mx-check's warning says why.
        let dns = try plan(s, dir, ["run", "--yes", "-q", "--config", CMOPlanTests.campaign, "--now", Self.now, "--job-id", "w1", goal(s, 5)],
                           env: ["CMO_DNS_SERVER": "127.0.0.1:9"])
        XCTAssertEqual(dns.status, 65, dns.err)
        XCTAssertTrue(dns.err.contains("mx-check: warning: DNS server 127.0.0.1:9 never answered"), dns.err)
        XCTAssertTrue(dns.err.contains("no lead rendered"), dns.err)
        // A search that finds nothing: its warning, and the reason.
        let job = dir + "/cobol.yaml"
        try "target: 5\nlanguages: [cobol]\nexport: true\n".write(toFile: job, atomically: true, encoding: .utf8)
        let none = try plan(s, dir, ["run", "--yes", "-q", "--config", CMOPlanTests.campaign, "--now", Self.now, "--job-id", "w2", "--job", job])
        XCTAssertEqual(none.status, 65, none.err)
        XCTAssertTrue(none.err.contains("gh-search: warning:") && none.err.contains("found no repositories"), none.err)
        XCTAssertTrue(none.err.contains("the search found no repository"), none.err)
    }
}
