import CMOTestSupport
import Foundation
import XCTest

/// gh-people against the sandbox: recall against the ground truth, bots, noreply, provenance, merging,
/// REST fallback, incremental cursors, shrinking batches, GraphQL limits, errors.
final class GHPeopleTests: XCTestCase {
    static let world = ["--seed", "11", "--repos", "300", "--users", "400"]
    nonisolated(unsafe) static var shared: SandboxLauncher?
    nonisolated(unsafe) static var reposInput: String?

    static func sandbox() throws -> SandboxLauncher {
        if let s = shared { return s }
        let s = try SandboxLauncher(world + ["--search-limit", "1000"])
        shared = s
        return s
    }

    override class func tearDown() {
        shared?.stop()
        shared = nil
    }

    /// Every repository of the world (not forks), as gh-search writes them.
    func repos() throws -> String {
        if let r = Self.reposInput { return r }
        let r = try Spawn.run("gh-search", ["--query", "stars:>=0", "--max-repos", "0"], environment: try Self.sandbox().githubEnvironment)
        XCTAssertEqual(r.status, 0, r.err)
        Self.reposInput = r.out
        return r.out
    }

    func truthNow() throws -> String { try XCTUnwrap(try Self.sandbox().truth()["now"] as? String) }

    private func people(_ args: [String], stdin: String, env: [String: String] = [:], on sandbox: SandboxLauncher? = nil) throws
        -> SpawnResult
    {
        let s = try sandbox ?? Self.sandbox()
        return try Spawn.run(
            // Everyone who committed: these tests check recall against the truth (--min-commits: CampaignMatchTests).
            "gh-people", ["--now", try truthNow(), "--min-commits", "1"] + args, stdin: Data(stdin.utf8), environment: s.githubEnvironment.merging(env) { $1 })
    }

    private func objects(_ r: SpawnResult) throws -> [[String: Any]] {
        try r.lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    func testRecallAgainstTruthWithoutBotsOrNoreplyAndWithProvenance() throws {
        let s = try Self.sandbox()
        let input = try repos()
        let r = try people(["--top-authors-per-repo", "0"], stdin: input)
        XCTAssertEqual(r.status, 0, r.err)
        let out = try objects(r)
        let truth = try s.truth()
        let now = try XCTUnwrap(GitHubDates.parse(try truthNow()))
        let since = GitHubDates.format(now.addingTimeInterval(-90 * 86400))
        let searched = Set(
            input.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["full_name"] as? String
            }.map { $0.lowercased() })
        var expected = Set<String>()
        for c in try XCTUnwrap(truth["contributions"] as? [[String: Any]]) {
            guard let login = c["login"] as? String, !login.hasSuffix("[bot]"), login != "web-flow",
                let repo = c["repo"] as? String, searched.contains(repo.lowercased()), let last = c["last_commit_at"] as? String,
                last >= since
            else { continue }
            expected.insert(login.lowercased())
        }
        var stars: [String: Int] = [:]
        for line in input.split(separator: "\n") {
            guard let r = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let name = r["full_name"] as? String
            else { continue }
            stars[name] = r["stars"] as? Int
        }
        let found = Set(out.compactMap { ($0["login"] as? String)?.lowercased() })
        XCTAssertGreaterThan(expected.count, 50)
        XCTAssertEqual(expected.subtracting(found), [], "every linked committer active in the window")
        XCTAssertEqual(found.subtracting(expected), [], "nobody else")
        XCTAssertEqual(Set(out.compactMap { $0["id"] as? Int }).count, out.count, "one record per person")
        XCTAssertTrue(out.contains { ($0["from_repos"] as? [String])?.count ?? 0 > 1 }, "someone merged across repositories")
        for p in out {
            XCTAssertEqual(p["kind"] as? String, "person")
            XCTAssertFalse((p["login"] as? String ?? "").hasSuffix("[bot]"))
            let repos = p["from_repos"] as? [String] ?? []
            for e in p["emails"] as? [[String: Any]] ?? [] {
                let address = (e["address"] as? String ?? "").lowercased()
                XCTAssertFalse(address.hasSuffix("noreply.github.com") || address == "noreply@github.com", address)
                XCTAssertEqual(e["source"] as? String, "commit")
                let evidence = e["evidence"] as? String ?? ""
                XCTAssertTrue(repos.contains { evidence.hasPrefix($0 + "@") }, evidence)
                XCTAssertNotNil(e["last_seen"] as? String)
            }
            let signals = p["signals"] as? [String: Any]
            XCTAssertGreaterThan(signals?["commits_in_window"] as? Int ?? 0, 0)
            XCTAssertEqual(signals?["window_days"] as? Int, 90)
            XCTAssertEqual(signals?["commits_90d"] as? Int, signals?["commits_in_window"] as? Int, "a 90-day window: the same count")
            XCTAssertNotNil(signals?["maintainer_of"] as? [String])
            // Each repository's facts are its own: stars, and the person's commits to it, summing to the total.
            let facts = signals?["repos"] as? [[String: Any]] ?? []
            XCTAssertEqual(facts.compactMap { $0["repo"] as? String }, repos)
            XCTAssertEqual(facts.reduce(0) { $0 + ($1["commits_in_window"] as? Int ?? 0) }, signals?["commits_in_window"] as? Int)
            for f in facts { XCTAssertEqual(f["stars"] as? Int, stars[f["repo"] as? String ?? ""], "\(f)") }
            let repo = try XCTUnwrap(signals?["repo"] as? String)
            XCTAssertEqual(signals?["repo_stars"] as? Int, stars[repo], "the stars of the repository copy names")
            let named = try XCTUnwrap(facts.first { $0["repo"] as? String == repo })
            XCTAssertEqual(signals?["repo_commits_in_window"] as? Int, named["commits_in_window"] as? Int)
            XCTAssertEqual(signals?["repo_commit_title"] as? String, (named["commit_titles"] as? [String])?.first)
            XCTAssertGreaterThanOrEqual(signals?["last_commit_at"] as? String ?? "", since)
        }
        XCTAssertEqual(try s.violations(), 0)
        XCTAssertTrue(r.err.contains("graphql_queries="), r.err)
    }

    func testRESTModeFindsTheSamePeopleAsGraphQL() throws {
        let input = try repos().split(separator: "\n").prefix(40).joined(separator: "\n") + "\n"
        let state = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let g = try people(["--top-authors-per-repo", "0"], stdin: input)
        let r = try people(["--top-authors-per-repo", "0", "--api", "rest"], stdin: input, env: ["CMO_STATE_DIR": state])
        XCTAssertEqual(g.status, 0, g.err)
        XCTAssertEqual(r.status, 0, r.err)
        func key(_ o: [String: Any]) -> String { "\(o["id"] ?? "")/\((o["signals"] as? [String: Any])?["commits_in_window"] ?? "")" }
        XCTAssertEqual(Set(try objects(g).map(key)), Set(try objects(r).map(key)))
        XCTAssertTrue(r.err.contains("graphql_queries=0"), r.err)
    }

    func testWarmRerunIsFreeAndAChangedRepositoryIsReadFromItsCursor() throws {
        let s = try Self.sandbox()
        let input = try repos()
        let state = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let cold = try people([], stdin: input, env: ["CMO_STATE_DIR": state])
        XCTAssertEqual(cold.status, 0, cold.err)
        let queries = try s.requests("github POST /graphql")
        let warm = try people([], stdin: input, env: ["CMO_STATE_DIR": state])
        XCTAssertEqual(warm.status, 0, warm.err)
        XCTAssertEqual(warm.out, cold.out)
        XCTAssertEqual(try s.requests("github POST /graphql"), queries, "unchanged repositories cost nothing")
        // One repository with a new pushed_at: one small query for it alone.
        var lines = input.split(separator: "\n").map(String.init)
        lines[0] = lines[0].replacingOccurrences(of: "\"pushed_at\":\"", with: "\"pushed_at\":\"2099")
        let changed = try people([], stdin: lines.joined(separator: "\n") + "\n", env: ["CMO_STATE_DIR": state])
        XCTAssertEqual(changed.status, 0, changed.err)
        XCTAssertEqual(changed.out, cold.out)
        XCTAssertEqual(try s.requests("github POST /graphql") - queries, 1)
        XCTAssertTrue(changed.err.contains("repos_read=1;"), changed.err)
    }

    func testTopAuthorsPerRepoAndMaxPeople() throws {
        let input = try repos()
        let all = try objects(try people(["--top-authors-per-repo", "0"], stdin: input))
        let one = try objects(try people(["--top-authors-per-repo", "1"], stdin: input))
        XCTAssertLessThan(one.count, all.count)
        let repoCount = input.split(separator: "\n").count
        XCTAssertLessThanOrEqual(one.reduce(0) { $0 + (($1["from_repos"] as? [String])?.count ?? 0) }, repoCount)
        for p in one { XCTAssertEqual(p["from_repos"] as? [String], (p["signals"] as? [String: Any])?["maintainer_of"] as? [String]) }
        let capped = try people(["--max-people", "10"], stdin: input)
        XCTAssertEqual(capped.status, 0, capped.err)
        XCTAssertEqual(capped.lines.count, 10)
        // Stored histories come back before fetched ones; --max-people still picks the same people.
        let state = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let lines = input.split(separator: "\n")
        let tail = lines.suffix(lines.count / 2).joined(separator: "\n") + "\n"
        XCTAssertEqual(try people(["--top-authors-per-repo", "0"], stdin: tail, env: ["CMO_STATE_DIR": state]).status, 0)
        let warm = try people(["--max-people", "10"], stdin: input, env: ["CMO_STATE_DIR": state])
        XCTAssertEqual(warm.status, 0, warm.err)
        XCTAssertEqual(warm.out, capped.out, "the same people whatever is already stored")
    }

    func testMaxPeopleStopsReadingTheInputOnceEnoughPeopleAreFound() throws {
        let s = try Self.sandbox()
        let file = Spawn.tempDirectory() + "/repos.ndjson"
        try repos().write(toFile: file, atomically: true, encoding: .utf8)
        let env = s.githubEnvironment.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        // The input never ends (a line every 0.2 s after the repositories): only stopping early returns;
        // the writer then dies of SIGPIPE. `timeout` ends the test if the stage kept reading.
        let script = Spawn.tempDirectory() + "/run.sh"
        try """
            (cat \(file); while sleep 0.2; do echo '{"full_name":"x/y"}' || exit; done) \\
              | \(env) gh-people --now \(try truthNow()) --min-commits 1 --batch-size 5 --max-people 10 -v
            echo "status=${PIPESTATUS[1]}"
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let r = try Spawn.shell("timeout 60 bash \(script)")
        XCTAssertTrue(r.out.contains("status=0"), r.err)
        XCTAssertEqual(r.lines.filter { $0.hasPrefix("{") }.count, 10)
        XCTAssertTrue(r.err.contains("stopped_reading=true") && r.err.contains("not reading the rest"), r.err)
        // The same people as when the whole input is read (histories are added in input order).
        let whole = try people(["--batch-size", "5", "--max-people", "10"], stdin: try repos())
        XCTAssertEqual(r.lines.filter { $0.hasPrefix("{") }.joined(separator: "\n") + "\n", whole.out)
    }

    func testBadLinesMissingFullNameDuplicatesAndExtraFields() throws {
        let first = try XCTUnwrap(try repos().split(separator: "\n").first.map(String.init))
        let extra = first.dropLast() + #","campaign":{"x":[1,2]}}"#
        let input = "\(extra)\nnot json\n{\"kind\":\"repo\"}\n\(first)\n"
        let r = try people(["--top-authors-per-repo", "0"], stdin: input)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains(#""code":"bad_json""#), r.err)
        XCTAssertTrue(r.err.contains(#""code":"missing_full_name""#), r.err)
        XCTAssertTrue(r.err.contains("filtered: duplicate=1"), r.err)
        let solo = try people(["--top-authors-per-repo", "0"], stdin: first + "\n")
        XCTAssertEqual(r.out, solo.out, "extra fields on repo records change nothing")
        let empty = try people([], stdin: "")
        XCTAssertEqual(empty.status, 0, empty.err)
        XCTAssertEqual(empty.out, "")
    }

    func testServerErrorsShrinkGraphQLBatchesAndLoseNothing() throws {
        let input = try repos()
        let clean = try people(["--top-authors-per-repo", "0"], stdin: input)
        let s = try SandboxLauncher(Self.world + ["--fail-rate", "github=0.3"])
        defer { s.stop() }
        let r = try people(["--top-authors-per-repo", "0", "--batch-size", "100", "--retries", "8"], stdin: input, on: s)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, clean.out)
        XCTAssertTrue(r.err.contains("retrying in batches of"), r.err)
        XCTAssertEqual(try s.violations(), 0)
    }

    func testGraphQLPointsRunOutWaitThenExit75AndResume() throws {
        let input = try repos()
        let s = try SandboxLauncher(Self.world + ["--graphql-limit", "3", "--window-seconds", "3"])
        defer { s.stop() }
        let waited = try people(["--batch-size", "50"], stdin: input, on: s)
        XCTAssertEqual(waited.status, 0, waited.err)
        XCTAssertTrue(waited.err.contains("waiting"), waited.err)
        let state = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let stopped = try people(["--batch-size", "50", "--max-wait", "0.1"], stdin: input, env: ["CMO_STATE_DIR": state], on: s)
        XCTAssertEqual(stopped.status, 75, stopped.err)
        let resumed = try people(["--batch-size", "50"], stdin: input, env: ["CMO_STATE_DIR": state], on: s)
        XCTAssertEqual(resumed.status, 0, resumed.err)
        XCTAssertEqual(resumed.out, waited.out)
        XCTAssertEqual(try s.violations(), 0, "never a query the points left could not pay for")
    }

    func testBadTokenIs77AndMissingTokenIs78() throws {
        let input = try repos()
        let bad = try people([], stdin: input, env: ["GITHUB_TOKEN": "ghp_wrong"])
        XCTAssertEqual(bad.status, 77, bad.err)
        let missing = try Spawn.run("gh-people", [], stdin: Data(input.utf8))
        XCTAssertEqual(missing.status, 78, missing.err)
        XCTAssertTrue(missing.err.contains("GITHUB_TOKEN"), missing.err)
    }
}

/// ISO 8601 dates for the tests (no CMOCore dependency in assertions).
enum GitHubDates {
    static func parse(_ s: String) -> Date? { ISO8601DateFormatter().date(from: s) }
    static func format(_ d: Date) -> String { ISO8601DateFormatter().string(from: d) }
}
