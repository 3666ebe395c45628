import CMOTestSupport
import Foundation
import XCTest

/// gh-search against the sandbox: pagination, the 1000-results split, 304 reuse, limits, errors.
final class GHSearchTests: XCTestCase {
    /// One world of 1,200 repositories (about 1,100 not forks: past the 1000 cap) for the class.
    nonisolated(unsafe) static var shared: SandboxLauncher?

    static func sandbox() throws -> SandboxLauncher {
        if let s = shared { return s }
        let s = try SandboxLauncher(["--seed", "7", "--repos", "1200", "--users", "300", "--search-limit", "1000"])
        shared = s
        return s
    }

    override class func tearDown() {
        shared?.stop()
        shared = nil
    }

    private func search(_ args: [String], stdin: String = "", env: [String: String] = [:], on sandbox: SandboxLauncher? = nil)
        throws -> SpawnResult
    {
        let s = try sandbox ?? Self.sandbox()
        return try Spawn.run("gh-search", args, stdin: Data(stdin.utf8), environment: s.githubEnvironment.merging(env) { $1 })
    }

    private func records(_ r: SpawnResult) throws -> [[String: Any]] {
        try r.lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    private func totalCount(_ q: String, _ s: SandboxLauncher) throws -> Int {
        let url =
            s.environment["GITHUB_API_URL"]! + "/search/repositories?per_page=1&q=" + q.addingPercentEncoding(
                withAllowedCharacters: .alphanumerics)!
        let body = try s.fetch(url, headers: ["Authorization": "Bearer " + s.environment["GITHUB_TOKEN"]!])
        return try XCTUnwrap((JSONSerialization.jsonObject(with: body) as? [String: Any])?["total_count"] as? Int)
    }

    func testSplitsPastTheCapWithNoDuplicatesAndNoGaps() throws {
        let s = try Self.sandbox()
        let total = try totalCount("stars:>=0", s)
        XCTAssertGreaterThan(total, 1000, "the world must be past the cap for this test")
        let r = try search(["--query", "stars:>=0", "--max-repos", "0"])
        XCTAssertEqual(r.status, 0, r.err)
        let recs = try records(r)
        let ids = recs.compactMap { $0["id"] as? Int }
        XCTAssertEqual(ids.count, total, "every repository, none twice")
        XCTAssertEqual(Set(ids).count, ids.count)
        let stars = recs.compactMap { $0["stars"] as? Int }
        XCTAssertEqual(stars, stars.sorted(by: >), "stars descending across slices")
        XCTAssertTrue(r.err.contains("splits="), r.err)
        XCTAssertFalse(r.err.contains("splits=0"), r.err)
        let first = recs[0]
        for key in ["kind", "id", "full_name", "stars", "language", "topics", "pushed_at", "description", "html_url", "query"] {
            XCTAssertTrue(first.keys.contains(key), key)
        }
        XCTAssertEqual(first["query"] as? String, "stars:>=0")
        XCTAssertEqual(try s.violations(), 0)
    }

    func testStructuredFlagsPaginateThroughLinkAndWarmRunIsFree() throws {
        let s = try Self.sandbox()
        let state = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let args = ["--min-stars", "20", "--active-days", "3650", "--max-repos", "0", "--now", "2026-11-20T00:00:00Z"]
        let expected = try totalCount("stars:>=20 pushed:>=2016-11-22", s)
        XCTAssertTrue((101...1000).contains(expected), "needs several pages and no split: \(expected)")
        let before = try s.requests("github GET /search/repositories")
        let cold = try search(args, env: ["CMO_STATE_DIR": state])
        XCTAssertEqual(cold.status, 0, cold.err)
        XCTAssertEqual(cold.lines.count, expected)
        let pages = try s.requests("github GET /search/repositories") - before
        XCTAssertEqual(pages, (expected + 99) / 100, "one request per page of 100")
        let quota = try s.quota("github/search")
        let warm = try search(args, env: ["CMO_STATE_DIR": state])
        XCTAssertEqual(warm.status, 0, warm.err)
        XCTAssertEqual(warm.out, cold.out, "same records")
        XCTAssertTrue(warm.err.contains("(\(pages) free 304s)"), warm.err)
        XCTAssertEqual(try s.quota("github/search"), quota, "304s spend no quota")
    }

    func testQueryRecordsOnStdinKeepTheirFieldsAndBadLinesAreDeadLettered() throws {
        let input = """
            {"query":"language:Rust","max_repos":3,"campaign":{"name":"q4","tags":[1,2]}}
            this is not json
            {"nothing":"here"}
            {"language":"Go","topics":["cli"],"max_repos":2}

            """
        let r = try search([], stdin: input)
        XCTAssertEqual(r.status, 0, r.err)
        let recs = try records(r)
        XCTAssertTrue((4...5).contains(recs.count), "3 Rust repositories and 1 or 2 Go CLI ones: \(recs.count)")
        XCTAssertTrue(r.lines[0].hasPrefix(#"{"query":"language:Rust","max_repos":3,"campaign":{"name":"q4","tags":[1,2]}"#), r.lines[0])
        XCTAssertEqual(recs.prefix(3).map { $0["language"] as? String }, ["Rust", "Rust", "Rust"])
        XCTAssertEqual(recs[3]["query"] as? String, "language:Go topic:cli")
        XCTAssertTrue(r.err.contains(#""code":"bad_json""#), r.err)
        XCTAssertTrue(r.err.contains(#""code":"missing_query""#), r.err)
        XCTAssertTrue(r.err.contains("4 in, \(recs.count) out"), r.err)
    }

    /// GitHub ANDs `language:a language:b` (no repository has two primary languages): each --language is a
    /// search of its own, merged, the cap shared equally, what one language cannot fill going to the others.
    func testSeveralLanguagesAreSearchedOneByOneAndMerged() throws {
        let s = try Self.sandbox()
        let python = try totalCount("language:python", s), go = try totalCount("language:go", s)
        XCTAssertGreaterThanOrEqual(min(python, go), 10, "the world needs 10 of each: python \(python), go \(go)")
        XCTAssertEqual(try totalCount("language:python language:go", s), 0, "the sandbox reads the two qualifiers as AND")

        let r = try search(["--language", "python", "--language", "go", "--max-repos", "20"])
        XCTAssertEqual(r.status, 0, r.err)
        let recs = try records(r)
        let ids = recs.compactMap { $0["id"] as? Int }
        XCTAssertEqual(ids.count, 20)
        XCTAssertEqual(Set(ids).count, 20, "each repository once")
        let byLanguage = Dictionary(grouping: recs, by: { $0["language"] as? String ?? "" }).mapValues(\.count)
        XCTAssertEqual(byLanguage, ["Python": 10, "Go": 10], "the cap shared equally")
        XCTAssertEqual(Set(recs.compactMap { $0["query"] as? String }), ["language:python", "language:go"], "each record names its search")
        for q in ["language:python", "language:go"] {
            let stars = recs.filter { $0["query"] as? String == q }.compactMap { $0["stars"] as? Int }
            XCTAssertEqual(stars, stars.sorted(by: >), "most stars first within \(q)")
        }

        // The same from a query in GitHub's syntax (a plan written before, a model's query).
        let q = try search(["--query", "language:python language:go", "--max-repos", "20"])
        XCTAssertEqual(q.status, 0, q.err)
        XCTAssertEqual(Dictionary(grouping: try records(q), by: { $0["language"] as? String ?? "" }).mapValues(\.count), ["Python": 10, "Go": 10], q.err)

        // A language with nothing leaves its share to the other, and is named in a warning.
        let lone = try search(["--language", "python", "--language", "no-such-language", "--max-repos", "10"])
        XCTAssertEqual(lone.status, 0, lone.err)
        XCTAssertEqual(try records(lone).compactMap { $0["language"] as? String }, Array(repeating: "Python", count: 10))
        XCTAssertTrue(lone.err.contains("'language:no-such-language' found no repositories"), lone.err)

        // No cap: every repository of both; a query record's languages the same way.
        let all = try search(["--language", "python", "--language", "go", "--max-repos", "0"])
        XCTAssertEqual(try records(all).count, python + go, all.err)
        let rec = try search([], stdin: #"{"language":["python","go"],"max_repos":4}"# + "\n")
        XCTAssertEqual(Dictionary(grouping: try records(rec), by: { $0["language"] as? String ?? "" }).mapValues(\.count), ["Python": 2, "Go": 2], rec.err)

        // The flag is repeatable in the schema the model planner is given (StageTool reads it from here).
        let help = try Spawn.run("gh-search", ["--experimental-dump-help"])
        let args = try XCTUnwrap(((JSONSerialization.jsonObject(with: help.stdout) as? [String: Any])?["command"] as? [String: Any])?["arguments"] as? [[String: Any]])
        let language = try XCTUnwrap(args.first { (($0["names"] as? [[String: Any]]) ?? []).contains { $0["name"] as? String == "language" } })
        XCTAssertEqual(language["isRepeating"] as? Bool, true)
    }

    func testRejectedQueryIsDeadLetteredOrUsageError() throws {
        let r = try search([], stdin: "{\"query\":\"stars:>>x\"}\n")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("query_rejected"), r.err)
        let flag = try search(["--query", "stars:>>x"])
        XCTAssertEqual(flag.status, 64, flag.err)
    }

    func testBadTokenIs77AndMissingTokenIs78() throws {
        let bad = try search(["--query", "language:Go"], env: ["GITHUB_TOKEN": "ghp_wrong"])
        XCTAssertEqual(bad.status, 77, bad.err)
        XCTAssertTrue(bad.err.contains("401"), bad.err)
        let s = try Self.sandbox()
        let missing = try Spawn.run(
            "gh-search", ["--query", "language:Go"], environment: ["GITHUB_API_URL": s.environment["GITHUB_API_URL"]!])
        XCTAssertEqual(missing.status, 78, missing.err)
        XCTAssertTrue(missing.err.contains("GITHUB_TOKEN"), missing.err)
    }

    func testDownstreamClosingEarlyFetchesFewerPages() throws {
        let s = try Self.sandbox()
        let before = try s.requests("github GET /search/repositories")
        let env = s.githubEnvironment.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let r = try Spawn.shell("env \(env) gh-search --query 'stars:>=0' --max-repos 0 -q | head -n 1; echo \"status=${PIPESTATUS[0]}\"")
        XCTAssertTrue(r.out.contains("status=0"), r.out + r.err)
        XCTAssertEqual(r.lines.count, 2)
        let used = try s.requests("github GET /search/repositories") - before
        XCTAssertLessThanOrEqual(used, 6, "a full run takes over a dozen pages")
    }

    func testAReaderThatLeavesDuringARateLimitWaitEndsTheWait() throws {
        // One search a minute: the second page waits ~60 s; the reader leaves after the first line.
        let s = try SandboxLauncher(["--seed", "7", "--repos", "600", "--users", "100", "--search-limit", "1"])
        defer { s.stop() }
        let env = s.githubEnvironment.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let started = Date()
        let r = try Spawn.shell(
            "env \(env) gh-search --query 'stars:>=0' --max-repos 0 --max-wait 300 | head -n 1; echo \"status=${PIPESTATUS[0]}\"")
        XCTAssertTrue(r.out.contains("status=0"), r.out + r.err)
        XCTAssertLessThan(Date().timeIntervalSince(started), 30, "stopped waiting once nobody would read the results")
        XCTAssertEqual(try s.requests("github GET /search/repositories"), 1)
        XCTAssertEqual(try s.violations(), 0)
    }

    func testEmptySearchBucketIsWaitedForOrExits75ThenResumes() throws {
        let s = try SandboxLauncher([
            "--seed", "7", "--repos", "300", "--users", "100", "--search-limit", "2", "--search-window-seconds", "3",
        ])
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let args = ["--query", "stars:>=0", "--max-repos", "0"]
        let stopped = try search(args + ["--max-wait", "0.2"], env: ["CMO_STATE_DIR": state], on: s)
        XCTAssertEqual(stopped.status, 75, stopped.err)
        XCTAssertTrue(stopped.err.contains("re-run later"), stopped.err)
        let done = try search(args, env: ["CMO_STATE_DIR": state], on: s)
        XCTAssertEqual(done.status, 0, done.err)
        XCTAssertEqual(Set(done.lines).count, done.lines.count)
        XCTAssertGreaterThan(done.lines.count, 200)
        XCTAssertTrue(done.err.contains("free 304s"), done.err)
        XCTAssertEqual(try s.violations(), 0, "never sent into an empty bucket")
    }

    func testSecondaryLimitPausesTheHostAndExits75WhenThePenaltyIsTooLong() throws {
        let s = try SandboxLauncher([
            "--seed", "7", "--repos", "300", "--users", "100", "--secondary-points-per-minute", "1", "--secondary-penalty-seconds", "30",
        ])
        defer { s.stop() }
        let r = try search(["--query", "stars:>=0", "--max-repos", "0", "--max-wait", "2"], on: s)
        XCTAssertEqual(r.status, 75, r.err)
        XCTAssertEqual(r.lines.count, 100, "the first page got through")
        XCTAssertTrue(r.err.contains("s wait, longer than --max-wait; re-run later"), r.err)
        let github = (try s.stats()["services"] as? [String: Any])?["github"] as? [String: Any]
        XCTAssertEqual(github?["secondary_triggers"] as? Int, 1)
        // The request that tripped the limit is no violation, and nothing was sent during the penalty.
        XCTAssertEqual(try s.violations(), 0)
        XCTAssertEqual(try s.requests("github GET /search/repositories"), 2)
    }
}
