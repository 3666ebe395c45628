import CMOTestSupport
import Foundation
import XCTest

/// Leads match what was asked for: a Python campaign, over a world of polyglot people, names only
/// Python and repositories that matched; maintainers commit more than once; role addresses are
/// never a lead's best_email; the ICP follows the campaign; the example campaign is never sent.
final class CampaignMatchTests: XCTestCase {
    static let world = ["--seed", "42", "--repos", "3000", "--users", "4000", "--now", "2026-11-20T00:00:00Z"]
    static let now = "2026-11-20T00:00:00Z"
    nonisolated(unsafe) static var shared: SandboxLauncher?
    nonisolated(unsafe) static var stages: [String: String] = [:]

    static func sandbox() throws -> SandboxLauncher {
        if let s = shared { return s }
        let s = try SandboxLauncher(world)
        shared = s
        return s
    }

    override class func tearDown() {
        shared?.stop()
        shared = nil
    }

    private func objects(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    private func signals(_ o: [String: Any]) -> [String: Any] { o["signals"] as? [String: Any] ?? [:] }

    /// One stage over the sandbox, with a state directory shared by the run.
    private func stage(_ name: String, _ args: [String], stdin: String, state: String) throws -> SpawnResult {
        let env = try Self.sandbox().environment.merging(["CMO_STATE_DIR": state, "CMO_LLM_MODEL": "cmo-writer"]) { $1 }
        return try Spawn.run(name, args, stdin: Data(stdin.utf8), environment: env)
    }

    /// The read side of a Python campaign up to mx-check, once per test run (stage name → stdout, and "<name>.err").
    private func pythonRun() throws -> [String: String] {
        if !Self.stages.isEmpty { return Self.stages }
        let state = Spawn.tempDirectory()
        var out: [String: String] = [:]
        var input = ""
        for (name, args) in [
            ("gh-search", ["--query", "language:python", "--active-days", "90", "--max-repos", "400", "--now", Self.now]),
            ("gh-people", ["--since-days", "90", "--now", Self.now]),
            ("gh-enrich", []),
            ("mx-check", ["--min-verdict", "risky"]),
            ("score-icp", ["--language", "python", "--as-of", Self.now]),
        ] {
            let r = try stage(name, args, stdin: input, state: state)
            XCTAssertEqual(r.status, 0, "\(name): \(r.err)")
            out[name] = r.out
            out[name + ".err"] = r.err
            input = r.out
        }
        Self.stages = out
        return out
    }

    /// A campaign config that may be sent (not the example), with the example's templates.
    private func campaignConfig() throws -> String {
        let dir = Spawn.tempDirectory()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let example = try String(contentsOf: root.appendingPathComponent("examples/campaign.yaml"), encoding: .utf8)
        let own = example.replacingOccurrences(of: "  example: true\n", with: "")
            .replacingOccurrences(of: "template: [templates]", with: "template: [\(root.path)/examples/templates]")
        XCTAssertNotEqual(own, example)
        try own.write(toFile: dir + "/campaign.yaml", atomically: true, encoding: .utf8)
        return dir + "/campaign.yaml"
    }

    static let languages = [
        "Python", "Go", "Rust", "TypeScript", "JavaScript", "Java", "C", "C++", "C#", "Ruby", "Zig", "Kotlin", "Swift", "PHP", "Scala",
        "Elixir", "Haskell", "Shell", "Dart", "Lua",
    ]

    /// Language names a text mentions, outside repository names (`owner/go-queue` is a name, not a language).
    static func languagesNamed(in text: String) -> Set<String> {
        let words = text.replacingOccurrences(of: #"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+"#, with: " ", options: .regularExpression)
        var found = Set<String>()
        for l in languages {
            let escaped = NSRegularExpression.escapedPattern(for: l)
            if words.range(of: #"(^|[^A-Za-z0-9+#])"# + escaped + #"($|[^A-Za-z0-9+#])"#, options: .regularExpression) != nil {
                found.insert(l)
            }
        }
        return found
    }

    func testPythonCampaignCopyNamesOnlyPythonAndMatchingRepositories() throws {
        let run = try pythonRun()
        let people = try objects(try XCTUnwrap(run["gh-people"]))
        let scored = try objects(try XCTUnwrap(run["score-icp"]))
        XCTAssertGreaterThan(scored.count, 30)
        // The world is polyglot: a test that could not fail would prove nothing.
        let polyglot = scored.filter { (signals($0)["primary_language"] as? String).map { $0 != "Python" } ?? false }
        XCTAssertGreaterThan(polyglot.count, 5, "people whose profile's primary language is not Python")
        let repoLanguage = try objects(try XCTUnwrap(run["gh-search"])).reduce(into: [String: String]()) {
            $0[$1["full_name"] as! String] = $1["language"] as? String
        }
        for p in people {
            let s = signals(p)
            let repo = try XCTUnwrap(s["repo"] as? String, "\(p)")
            XCTAssertEqual(s["repo_language"] as? String, "Python")
            XCTAssertEqual(repoLanguage[repo], "Python", "signals.repo is one the search found")
            XCTAssertTrue((p["from_repos"] as? [String] ?? []).contains(repo))
            XCTAssertEqual((s["matched"] as? [String: Any])?["languages"] as? [String], ["Python"])
        }
        let config = try campaignConfig()
        let state = Spawn.tempDirectory()
        let r = try stage("render-copy", ["--config", config, "--llm"], stdin: try XCTUnwrap(run["score-icp"]), state: state)
        XCTAssertEqual(r.status, 0, r.err)
        let leads = try objects(r.out)
        XCTAssertEqual(leads.count, scored.count)
        var namingPython = 0
        for lead in leads {
            let copy = try XCTUnwrap(lead["copy"] as? [String: Any])
            let text = "\(copy["subject"] ?? "")\n\(copy["body"] ?? "")"
            let named = Self.languagesNamed(in: text)
            XCTAssertTrue(named.isSubset(of: ["Python"]), "\(lead["login"] ?? ""): names \(named.sorted()) in\n\(text)")
            if named.contains("Python") { namingPython += 1 }
            // A repository named is one that matched: the lead's signals.repo.
            // (Commit titles quoted from the lead's own history may name branches: "Merge … from ada/fix-1".)
            let repo = signals(lead)["repo"] as? String ?? ""
            var prose = text
            var titles = signals(lead)["recent_commit_titles"] as? [String] ?? []
            for r in signals(lead)["repos"] as? [[String: Any]] ?? [] { titles += r["commit_titles"] as? [String] ?? [] }
            for t in titles { prose = prose.replacingOccurrences(of: t, with: "") }
            for m in prose.matches(of: #/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/#) where !String(m.0).contains(".dev/") {
                let name = String(m.0).trimmingCharacters(in: CharacterSet(charactersIn: ".,"))
                XCTAssertEqual(name, repo, "\(lead["login"] ?? ""): copy names \(name)")
            }
        }
        XCTAssertGreaterThan(namingPython, leads.count / 3, "the copy does name the campaign's language")
    }

    func testMaintainersHaveMinCommitsAndTheDropIsCounted() throws {
        let run = try pythonRun()
        let people = try objects(try XCTUnwrap(run["gh-people"]))
        XCTAssertFalse(people.isEmpty)
        for p in people { XCTAssertGreaterThanOrEqual(signals(p)["commits_in_window"] as? Int ?? 0, 3, "\(p["login"] ?? "")") }
        let err = try XCTUnwrap(run["gh-people.err"])
        let dropped = try XCTUnwrap(
            err.firstMatch(of: #/below_min_commits=(\d+)/#).map { Int($0.1)! }, "the summary counts the people left out: \(err)")
        XCTAssertGreaterThan(dropped, 0)
        // Everyone, with --min-commits 1: the people left out come back, and no one else.
        let all = try stage(
            "gh-people", ["--since-days", "90", "--now", Self.now, "--min-commits", "1"], stdin: try XCTUnwrap(run["gh-search"]),
            state: Spawn.tempDirectory())
        XCTAssertEqual(all.status, 0, all.err)
        XCTAssertEqual(all.lines.count, people.count + dropped)
        XCTAssertTrue(all.err.contains("below_min_commits=0"), all.err)
        let bad = try stage("gh-people", ["--min-commits", "0"], stdin: "", state: Spawn.tempDirectory())
        XCTAssertEqual(bad.status, 64, bad.err)
    }

    func testRoleDisposableAndNoreplyAddressesAreNeverBestEmailUnlessAllowed() throws {
        let run = try pythonRun()
        let verified = try objects(try XCTUnwrap(run["mx-check"]))
        XCTAssertFalse(verified.isEmpty)
        for lead in verified {
            let best = try XCTUnwrap(lead["best_email"] as? String, "--min-verdict keeps only leads with a best_email")
            let check = try XCTUnwrap((lead["email_checks"] as? [[String: Any]])?.first { ($0["address"] as? String) == best })
            let flags = try XCTUnwrap(check["flags"] as? [String: Bool])
            XCTAssertEqual(flags["role"], false, best)
            XCTAssertEqual(flags["disposable"], false, best)
            XCTAssertEqual(flags["noreply"], false, best)
        }
        let err = try XCTUnwrap(run["mx-check.err"])
        let roleOnly = try XCTUnwrap(err.firstMatch(of: #/role_only=(\d+)/#).map { Int($0.1)! }, err)
        XCTAssertGreaterThan(roleOnly, 0, "the world has people with only a role address: \(err)")
        // With --allow-role they come back, with a role address as best_email.
        let allowed = try stage(
            "mx-check", ["--min-verdict", "risky", "--allow-role"], stdin: try XCTUnwrap(run["gh-enrich"]), state: Spawn.tempDirectory())
        XCTAssertEqual(allowed.status, 0, allowed.err)
        let leads = try objects(allowed.out)
        let withRole = leads.filter { lead in
            let best = lead["best_email"] as? String
            return (lead["email_checks"] as? [[String: Any]] ?? []).contains {
                guard ($0["address"] as? String) == best, let f = $0["flags"] as? [String: Bool] else { return false }
                return f["role"] == true || f["disposable"] == true
            }
        }
        XCTAssertGreaterThan(withRole.count, 0)
        XCTAssertEqual(leads.count, verified.count + withRole.count, "the only new leads are those with a role address")
    }

    func testExampleCampaignIsNotSentAndConfigPathsAreRelativeToTheConfig() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let lead = #"{"id":1,"login":"ada","name":"Ada L","signals":{"repo":"ada/engine","repo_language":"Python","commits_in_window":4,"window_days":90}}"#
        let elsewhere = Spawn.tempDirectory()
        // The example campaign: refused for sending, naming the settings to change.
        let refused = try Spawn.run(
            "render-copy", ["--config", root.appendingPathComponent("examples/campaign.yaml").path], stdin: Data((lead + "\n").utf8),
            currentDirectory: elsewhere)
        XCTAssertEqual(refused.status, 78, refused.err)
        XCTAssertTrue(refused.err.contains("example campaign"), refused.err)
        XCTAssertTrue(refused.err.contains("unsubscribe_url"), refused.err)
        XCTAssertTrue(refused.lines.isEmpty)
        // Previewing it (sending: false) is fine, and its `template: [templates]` is found next to it
        // although the working directory is elsewhere.
        let dir = Spawn.tempDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/templates", withIntermediateDirectories: true)
        try "name: t\nsubject: About {{ signals.repo }}\nbody: Hi {{ name }}\n".write(
            toFile: dir + "/templates/t.yaml", atomically: true, encoding: .utf8)
        try "campaign:\n  example: true\n  sending: false\nrender-copy:\n  template: [templates]\n".write(
            toFile: dir + "/preview.yaml", atomically: true, encoding: .utf8)
        let preview = try Spawn.run(
            "render-copy", ["--config", dir + "/preview.yaml"], stdin: Data((lead + "\n").utf8), currentDirectory: elsewhere)
        XCTAssertEqual(preview.status, 0, preview.err)
        XCTAssertTrue(preview.out.contains(#""subject":"About ada/engine""#), preview.out)
        // A flag is relative to the working directory, as always.
        let flag = try Spawn.run("render-copy", ["--template", "templates/t.yaml"], stdin: Data((lead + "\n").utf8), currentDirectory: dir)
        XCTAssertEqual(flag.status, 0, flag.err)
    }

    func testScoreFollowsTheCampaignsLanguagesAndTopics() throws {
        let go = #"{"id":1,"login":"g","signals":{"matched":{"languages":["Go"],"topics":["cli"]}}}"#
        let py = #"{"id":2,"login":"p","signals":{"matched":{"languages":["Python"],"topics":["django"]}}}"#
        func breakdown(_ args: [String], config: String? = nil) throws -> [[String: Any]] {
            var a = args + ["--as-of", Self.now]
            if let config {
                let path = Spawn.tempDirectory() + "/c.yaml"
                try config.write(toFile: path, atomically: true, encoding: .utf8)
                a += ["--config", path]
            }
            let r = try Spawn.run("score-icp", a, stdin: Data((go + "\n" + py + "\n").utf8))
            XCTAssertEqual(r.status, 0, r.err)
            return try objects(r.out).map { $0["score_breakdown"] as! [String: Any] }
        }
        func language(_ b: [String: Any]) -> Double { (b["language"] as? NSNumber)?.doubleValue ?? -1 }
        func topic(_ b: [String: Any]) -> Double { (b["topic"] as? NSNumber)?.doubleValue ?? -1 }
        // Built in: both languages are on its list; cli is a listed topic, django is not.
        let builtIn = try breakdown([])
        XCTAssertEqual(builtIn.map(language), [0.2, 0.2])
        XCTAssertEqual(builtIn.map(topic), [0.15, 0])
        // A Python campaign scores Python only, and a django campaign django.
        let python = try breakdown(["--language", "python", "--topic", "django"])
        XCTAssertEqual(python.map(language), [0, 0.2])
        XCTAssertEqual(python.map(topic), [0, 0.15])
        // The same from the config, and several languages in one flag.
        XCTAssertEqual(try breakdown([], config: "score-icp:\n  languages: [go]\n").map(language), [0.2, 0])
        XCTAssertEqual(try breakdown(["--language", "go,python"]).map(language), [0.2, 0.2])
        // An ICP without a language feature: said, not silently ignored.
        let path = Spawn.tempDirectory() + "/icp.yaml"
        try "features:\n  - {name: f, jq: .followers, weight: 1}\n".write(toFile: path, atomically: true, encoding: .utf8)
        let r = try Spawn.run("score-icp", ["--icp", path, "--language", "python"], stdin: Data((go + "\n").utf8))
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("no feature named 'language'"), r.err)
    }

    func testASearchThatFindsNothingIsSaid() throws {
        let r = try Spawn.run(
            "gh-search", ["--query", "language:cobol stars:>=900000"], environment: try Self.sandbox().githubEnvironment)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.lines.isEmpty)
        XCTAssertTrue(r.err.contains("warning: the search 'language:cobol stars:>=900000' found no repositories"), r.err)
    }
}
