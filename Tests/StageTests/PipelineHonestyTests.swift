import CMOTestSupport
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `pipelines/discover.sh` says what happened: a run whose leads all became dead letters keeps the
/// last good CSV and fails naming where the dead letters are; a shortfall is named; the campaign
/// must be given; help and usage behave like other Unix tools; its files are private; a killed
/// run's leftovers are cleaned; a person on a terminal sees one progress line.
final class PipelineHonestyTests: XCTestCase {
    nonisolated(unsafe) static var shared: SandboxLauncher?
    static let now = "2026-11-20T00:00:00Z"
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static var campaign: String { root + "/pipelines/demo-campaign.yaml" }

    static func sandbox() throws -> SandboxLauncher {
        if let s = shared { return s }
        let s = try SandboxLauncher(["--repos", "800", "--users", "1000", "--now", now])
        shared = s
        return s
    }

    override class func tearDown() {
        shared?.stop()
        shared = nil
    }

    private func environment(state: String, _ extra: [String: String] = [:]) throws -> [String: String] {
        var environment = try Self.sandbox().environment
        environment["CMO_BIN"] = Spawn.productsDirectory.path
        environment["PATH"] = "/usr/bin:/bin"
        environment["CMO_STATE_DIR"] = state
        environment.merge(extra) { $1 }
        return environment
    }

    /// discover.sh with the demo campaign unless `config` is nil.
    private func discover(
        _ args: [String], state: String, config: String? = campaign, env: [String: String] = [:]
    ) throws -> SpawnResult {
        let configArgs = config.map { ["--config", $0] } ?? []
        return try Spawn.run(
            "/bin/bash", [Self.root + "/pipelines/discover.sh", "--now", Self.now] + configArgs + args,
            environment: try environment(state: state, env))
    }

    /// The two example templates with a typo in the variable of their greeting: every record dead-letters.
    private func typoTemplates(in dir: String, both: Bool = true) throws -> [String] {
        var paths: [String] = []
        for (i, name) in ["a-maintainer.yaml", "b-activity.yaml"].enumerated() {
            var text = try String(contentsOfFile: Self.root + "/examples/templates/" + name, encoding: .utf8)
            if both || i == 0 { text = text.replacingOccurrences(of: "{{ name|first_name|default:login }}", with: "{{ nmae|first_name }}") }
            let path = dir + "/" + name
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            paths += ["--template", path]
        }
        return paths
    }

    private func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func testATemplateTypoKeepsTheLastGoodCSVAndSaysWhereTheDeadLettersAre() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = try discover(["--min-commits", "1", "language:python", "12", dir + "/leads.csv"], state: dir + "/state")
        XCTAssertEqual(good.status, 0, good.err)
        let before = try String(contentsOfFile: dir + "/leads.csv", encoding: .utf8)
        XCTAssertGreaterThan(before.split(separator: "\n").count, 1)
        // A clean run leaves no run folder behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/state/runs"), [])

        let typo = try discover(
            ["--min-commits", "1"] + typoTemplates(in: dir) + ["language:python", "12", dir + "/leads.csv"], state: dir + "/state")
        XCTAssertEqual(typo.status, 65, typo.err)
        XCTAssertEqual(try String(contentsOfFile: dir + "/leads.csv", encoding: .utf8), before, "the last good CSV is kept")
        XCTAssertTrue(typo.err.contains("no lead rendered"), typo.err)
        XCTAssertTrue(typo.err.contains("missing_variable") && typo.err.contains("nmae"), "the most common reason: \(typo.err)")
        let path = String(try XCTUnwrap(typo.err.firstMatch(of: /the dead letters are in (\S+)/)?.1, typo.err))
        XCTAssertTrue(path.hasPrefix(dir + "/state/runs/discover-"), path)
        let dead = lines(path)
        XCTAssertEqual(dead.count, 12, "every scored lead is a dead letter")
        XCTAssertTrue(dead.allSatisfy { $0.contains("\"stage\":\"render-copy\"") && $0.contains("missing_variable") })
        let funnel = try XCTUnwrap(
            JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: (path as NSString).deletingLastPathComponent + "/funnel.json")))
                as? [String: Any])
        XCTAssertEqual(funnel["rendered"] as? Int, 0)
        XCTAssertNotNil(funnel["failed"])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".partial.") }
        XCTAssertEqual(leftovers, [], "no partial CSV is left")
    }

    func testMoreThanTheDeadShareFailsAndAHigherThresholdLetsTheRunThrough() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Variant A has the typo, B does not: about half of the leads are dead letters.
        let templates = try typoTemplates(in: dir, both: false)
        let args = ["--min-commits", "1"] + templates + ["language:python", "30", dir + "/leads.csv"]
        // Under cron (-q) too, a run that is not healthy says so.
        let strict = try discover(["-q"] + args, state: dir + "/state")
        XCTAssertEqual(strict.status, 65, strict.err)
        XCTAssertTrue(strict.err.contains("discover: failed: render-copy dead-lettered"), strict.err)
        XCTAssertTrue(strict.err.contains("over --max-dead-share 20%"), strict.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/leads.csv"))

        let loose = try discover(["--max-dead-share", "90"] + args, state: dir + "/state")
        XCTAssertEqual(loose.status, 0, loose.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/leads.csv"))
        // A healthy run with dead letters keeps its folder and says where they are.
        let path = String(try XCTUnwrap(loose.err.firstMatch(of: /dead letters +\d+ +in (\S+)/)?.1, loose.err))
        XCTAssertGreaterThan(lines(path).count, 0)
    }

    func testAShortfallIsNamedWithWhatToWiden() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try discover(["language:python", "500", dir + "/leads.csv"], state: dir + "/state")
        XCTAssertEqual(r.status, 0, "fewer leads than asked for is not an error: \(r.err)")
        let last = r.err.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertTrue(last.contains("of 500 asked for") && last.contains("widen with"), last)
        XCTAssertTrue(last.contains("the search found only"), last)
        XCTAssertTrue(r.err.contains("dropped by --min-commits"), r.err)
        XCTAssertTrue(r.err.contains("of 500 asked for)"), "the funnel's rendered line too: \(r.err)")
        // Under cron (-q) the shortfall is the one line printed.
        let quiet = try discover(["-q", "language:python", "500", dir + "/quiet.csv"], state: dir + "/state")
        XCTAssertEqual(quiet.status, 0, quiet.err)
        XCTAssertEqual(quiet.err.split(separator: "\n").count, 1, quiet.err)
        XCTAssertTrue(quiet.err.hasPrefix("discover: ") && quiet.err.contains("of 500 asked for"), quiet.err)
    }

    func testAStagesWarningIsSaidEvenUnderQuiet() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A DNS server that never answers: every verdict is unknown, no lead is kept, and mx-check's
        // warning, not only a row of zeros, says why.
        let r = try discover(
            ["-q", "language:python", "5", dir + "/leads.csv"], state: dir + "/state", env: ["CMO_DNS_SERVER": "127.0.0.1:9"])
        XCTAssertEqual(r.status, 65, r.err)
        XCTAssertTrue(r.err.contains("discover: mx-check: warning: DNS server 127.0.0.1:9 never answered"), r.err)
        let nothing = try discover(["-q", "language:cobol", "5", dir + "/leads.csv"], state: dir + "/state")
        XCTAssertEqual(nothing.status, 65, nothing.err)
        XCTAssertTrue(nothing.err.contains("gh-search: warning:") && nothing.err.contains("found no repositories"), nothing.err)
        XCTAssertTrue(nothing.err.contains("the search found no repository"), nothing.err)
    }

    func testTheCampaignIsRequiredAndAnExampleOrUnreadableOneIs78() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let requests = { try Self.sandbox().stats()["requests_total"] as? Int ?? -1 }
        let before = try requests()
        let none = try discover(["language:python", "5", dir + "/leads.csv"], state: dir + "/state", config: nil)
        XCTAssertEqual(none.status, 78, none.err)
        XCTAssertTrue(none.err.contains("--config") && none.err.contains("unsubscribe"), none.err)
        let missing = try discover(["language:python", "5", dir + "/leads.csv"], state: dir + "/state", config: dir + "/nope.yaml")
        XCTAssertEqual(missing.status, 78, missing.err)
        XCTAssertTrue(missing.err.contains("cannot read '\(dir)/nope.yaml'"), missing.err)
        let example = try discover(
            ["language:python", "5", dir + "/leads.csv"], state: dir + "/state", config: Self.root + "/examples/campaign.yaml")
        XCTAssertEqual(example.status, 78, example.err)
        XCTAssertTrue(example.err.contains("render-copy") && example.err.contains("example"), example.err)
        XCTAssertEqual(try requests(), before, "refused before anything was asked of any service")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/leads.csv"))
    }

    func testTheStateDirectoryIsPrivateAndTheCampaignsFlagsReachTheStages() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Each stage wrapped by a script that notes its arguments, then runs the real one.
        var env: [String: String] = [:]
        for (variable, name) in [("GH_PEOPLE", "gh-people"), ("MX_CHECK", "mx-check"), ("SCORE_ICP", "score-icp")] {
            let wrapper = dir + "/\(name).sh"
            try "#!/bin/sh\necho \"$*\" > '\(dir)/\(name).args'\nexec '\(Spawn.executable(name))' \"$@\"\n"
                .write(toFile: wrapper, atomically: true, encoding: .utf8)
            chmod(wrapper, 0o755)
            env[variable] = wrapper
        }
        let r = try discover(
            ["--min-commits", "2", "--allow-role", "language:python topic:cli -language:go", "10", dir + "/leads.csv"],
            state: dir + "/state/cmo", env: env)
        XCTAssertTrue([0, 65].contains(r.status), r.err)
        var info = stat()
        XCTAssertEqual(stat(dir + "/state/cmo", &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o700, "CMO_STATE_DIR is created private")
        let args = { (name: String) in (try? String(contentsOfFile: dir + "/\(name).args", encoding: .utf8)) ?? "" }
        XCTAssertTrue(args("gh-people").contains("--min-commits 2"), args("gh-people"))
        XCTAssertTrue(args("mx-check").contains("--allow-role"), args("mx-check"))
        XCTAssertTrue(args("score-icp").contains("--language python --topic cli"), args("score-icp"))
        XCTAssertFalse(args("score-icp").contains("go"), "a negated qualifier is not the campaign's: \(args("score-icp"))")
    }

    func testTheCSVNamesTheRepositoryTheCopyTalksAbout() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try discover(["--min-commits", "1", "language:python", "10", dir + "/leads.csv"], state: dir + "/state")
        XCTAssertEqual(r.status, 0, r.err)
        let header = try String(contentsOfFile: dir + "/leads.csv", encoding: .utf8).split(separator: "\r\n").first ?? ""
        XCTAssertTrue(header.contains("signals.repo,signals.repo_language"), String(header))
        XCTAssertFalse(header.contains("primary_language"), String(header))
    }

    func testStalePartialFilesOfAKilledRunAreRemovedAndALiveRunsAreKept() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A pid that is surely not running.
        var dead: pid_t = 4_000_000
        while kill(dead, 0) == 0 || FileManager.default.fileExists(atPath: "/proc/\(dead)") { dead -= 1 }
        let live = getpid()
        let stale = ["leads.csv.partial.\(dead)", ".leads.csv.partial.\(dead).tmp-\(dead)"]
        let kept = ["leads.csv.partial.\(live)", ".leads.csv.partial.\(live).tmp-\(dead)", "other.csv.partial.\(dead)"]
        for name in stale + kept { _ = FileManager.default.createFile(atPath: dir + "/" + name, contents: Data()) }
        let r = try discover(["-q", "--min-commits", "1", "language:python", "3", dir + "/leads.csv"], state: dir + "/state")
        XCTAssertEqual(r.status, 0, r.err)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
        for name in stale { XCTAssertFalse(left.contains(name), "\(name) removed: \(left)") }
        for name in kept { XCTAssertTrue(left.contains(name), "\(name) kept: \(left)") }
        XCTAssertTrue(left.contains("leads.csv"))
    }

    func testOnATerminalOneProgressLineIsDrawnAndNothingAnimatedOtherwise() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { throw XCTSkip("no script(1) for a pty") }
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let command = [
            Self.root + "/pipelines/discover.sh", "--now", Self.now, "--config", Self.campaign, "language:python", "5", dir + "/a.csv",
        ]
        .map { "'\($0)'" }.joined(separator: " ")
        let tty = try Spawn.run(
            "/usr/bin/script", ["-qec", "bash " + command, "/dev/null"],
            environment: try environment(state: dir + "/state", ["TERM": "xterm"]))
        XCTAssertEqual(tty.status, 0, tty.out)
        XCTAssertTrue(tty.out.contains("\r\u{1b}[Kdiscover: "), "a progress line redrawn with \\r: \(tty.out.prefix(400))")
        XCTAssertTrue(tty.out.contains("search ") && tty.out.contains(" → people "), tty.out)
        XCTAssertTrue(tty.out.contains("\r\u{1b}[K"), "cleared at the end")

        let plain = try discover(["language:python", "5", dir + "/b.csv"], state: dir + "/state", env: ["TERM": "xterm"])
        XCTAssertEqual(plain.status, 0, plain.err)
        XCTAssertFalse(plain.err.contains("\r"), "nothing animated when stderr is not a terminal")
        XCTAssertTrue(plain.err.contains("funnel"))
    }

    func testDemoHelpAndUsage() throws {
        let help = try Spawn.run("/bin/bash", [Self.root + "/pipelines/demo.sh", "--help"])
        XCTAssertEqual(help.status, 0, help.err)
        XCTAssertTrue(help.out.contains("OUT_DIR") && help.err.isEmpty, help.out)
        let bad = try Spawn.run("/bin/bash", [Self.root + "/pipelines/demo.sh", "--nope"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.err.contains("usage: pipelines/demo.sh"), bad.err)
    }

    func testSandboxVersion() throws {
        let r = try Spawn.run("cmo-sandbox", ["--version"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertFalse(r.out.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }
}
