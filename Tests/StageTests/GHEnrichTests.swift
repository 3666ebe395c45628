import CMOTestSupport
import Foundation
import XCTest

/// gh-enrich against the sandbox: GraphQL batches, the REST fallback, profile emails with provenance,
/// --find-emails within its budget, reuse on a re-run, pass-through, errors.
final class GHEnrichTests: XCTestCase {
    nonisolated(unsafe) static var shared: SandboxLauncher?
    nonisolated(unsafe) static var peopleInput: String?

    static func sandbox() throws -> SandboxLauncher {
        if let s = shared { return s }
        let s = try SandboxLauncher(["--seed", "11", "--repos", "300", "--users", "400", "--search-limit", "1000"])
        shared = s
        return s
    }

    override class func tearDown() {
        shared?.stop()
        shared = nil
    }

    /// The world's people as gh-people writes them, each with an extra field gh-enrich must keep.
    func people() throws -> String {
        if let p = Self.peopleInput { return p }
        let s = try Self.sandbox()
        let now = try XCTUnwrap(try s.truth()["now"] as? String)
        let r = try Spawn.shell(
            "gh-search --query 'stars:>=0' --max-repos 0 -q | gh-people -q --now \(now) --top-authors-per-repo 0 --min-commits 1",
            environment: s.githubEnvironment.merging(["CMO_STATE_DIR": Spawn.tempDirectory()]) { $1 })
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.lines.map { $0.dropLast() + #","crm":{"owner":"ana","tags":["a",1]}}"# }
        Self.peopleInput = lines.joined(separator: "\n") + "\n"
        return Self.peopleInput!
    }

    private func enrich(_ args: [String], stdin: String, env: [String: String] = [:], on sandbox: SandboxLauncher? = nil) throws
        -> SpawnResult
    {
        let s = try sandbox ?? Self.sandbox()
        return try Spawn.run("gh-enrich", args, stdin: Data(stdin.utf8), environment: s.githubEnvironment.merging(env) { $1 })
    }

    private func objects(_ r: SpawnResult) throws -> [[String: Any]] {
        try r.lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    func testProfilesComeInBatchesOfAHundredAndOtherFieldsPassByteForByte() throws {
        let s = try Self.sandbox()
        let input = try people()
        let inLines = input.split(separator: "\n").map(String.init)
        XCTAssertGreaterThan(inLines.count, 150)
        let before = try s.requests("github POST /graphql")
        let r = try enrich([], stdin: input)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try s.requests("github POST /graphql") - before, (inLines.count + 99) / 100)
        XCTAssertEqual(r.lines.count, inLines.count)
        for (a, b) in zip(inLines, r.lines) {
            // Input fields untouched and in place; gh-enrich's own appended (emails/signals replaced in place).
            XCTAssertTrue(b.hasPrefix(String(a.prefix(while: { $0 != "[" }))), b)
            XCTAssertTrue(b.contains(#""crm":{"owner":"ana","tags":["a",1]}"#), b)
        }
        let out = try objects(r)
        for key in ["name", "company", "location", "bio", "blog", "twitter", "followers", "public_repos", "hireable"] {
            XCTAssertTrue(out.allSatisfy { $0.keys.contains(key) }, key)
        }
        XCTAssertTrue(out.contains { ($0["signals"] as? [String: Any])?["primary_language"] is String })
        XCTAssertTrue(out.allSatisfy { ($0["signals"] as? [String: Any])?["commits_in_window"] is Int }, "gh-people's signals kept")
        let profileEmails = out.flatMap { ($0["emails"] as? [[String: Any]] ?? []).filter { $0["source"] as? String == "profile" } }
        XCTAssertFalse(profileEmails.isEmpty)
        for e in profileEmails { XCTAssertEqual(e["evidence"] as? String, "profile") }
        for p in out {
            let addresses = (p["emails"] as? [[String: Any]] ?? []).compactMap { ($0["address"] as? String)?.lowercased() }
            XCTAssertEqual(Set(addresses).count, addresses.count, "one entry per address")
        }
        XCTAssertTrue(r.err.contains("graphql_points="), r.err)
        XCTAssertEqual(try s.violations(), 0)
    }

    func testRESTFallbackGivesTheSameProfiles() throws {
        let input = try people().split(separator: "\n").prefix(20).joined(separator: "\n") + "\n"
        let g = try objects(try enrich(["--max-age-days", "0"], stdin: input))
        let s = try Self.sandbox()
        let before = try s.requests("github GET /users/{username}")
        let r = try enrich(["--api", "rest", "--max-age-days", "0"], stdin: input)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try s.requests("github GET /users/{username}") - before, 20)
        let rest = try objects(r)
        for (a, b) in zip(g, rest) {
            for key in ["name", "company", "location", "bio", "blog", "twitter", "followers", "hireable"] {
                XCTAssertEqual("\(a[key] ?? "nil")", "\(b[key] ?? "nil")", "\(key) of \(a["login"] ?? "")")
            }
            XCTAssertEqual(
                Set(((a["emails"] as? [[String: Any]]) ?? []).compactMap { $0["address"] as? String }),
                Set(((b["emails"] as? [[String: Any]]) ?? []).compactMap { $0["address"] as? String }))
        }
    }

    func testFindEmailsStaysWithinItsBudgetAndGivesProvenance() throws {
        let s = try Self.sandbox()
        let all = try objects(try enrich([], stdin: try people()))
        let without = all.filter { p in
            !((p["emails"] as? [[String: Any]]) ?? []).contains { !(($0["address"] as? String) ?? "").hasSuffix("noreply.github.com") }
        }
        XCTAssertFalse(without.isEmpty)
        let input =
            try people().split(separator: "\n").filter { line in
                without.contains { line.contains("\"login\":\"\($0["login"] as! String)\"") }
            }.joined(separator: "\n") + "\n"
        let events = try s.requests("github GET /users/{username}/events/public")
        let commits = try s.requests("github GET /repos/{owner}/{repo}/commits")
        let r = try enrich(["--find-emails", "--max-requests-per-person", "2"], stdin: input)
        XCTAssertEqual(r.status, 0, r.err)
        let spent =
            try s.requests("github GET /users/{username}/events/public") - events + s.requests("github GET /repos/{owner}/{repo}/commits")
            - commits
        XCTAssertGreaterThan(spent, 0)
        XCTAssertLessThanOrEqual(spent, 2 * without.count)
        for p in try objects(r) {
            for e in (p["emails"] as? [[String: Any]]) ?? [] where e["source"] as? String == "commit" {
                XCTAssertTrue((e["evidence"] as? String ?? "").contains("@"), "\(e)")
                XCTAssertFalse((e["address"] as? String ?? "").hasSuffix("noreply.github.com"))
            }
        }
        XCTAssertTrue(r.err.contains("emails_found="), r.err)
        XCTAssertEqual(try s.violations(), 0)
    }

    func testWarmRerunReusesStoredProfiles() throws {
        let s = try Self.sandbox()
        let state = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let input = try people()
        let cold = try enrich([], stdin: input, env: ["CMO_STATE_DIR": state])
        let before = try s.requests("github POST /graphql")
        let warm = try enrich([], stdin: input, env: ["CMO_STATE_DIR": state])
        XCTAssertEqual(warm.status, 0, warm.err)
        XCTAssertEqual(try s.requests("github POST /graphql"), before)
        XCTAssertEqual(cold.out, warm.out)
        XCTAssertTrue(warm.err.contains("profiles_fetched=0"), warm.err)
    }

    func testUnknownLoginPassesMissingLoginAndBadLinesAreDeadLettered() throws {
        let input = "{\"login\":\"no-such-user-zz\",\"k\":[1]}\nnot json\n{\"id\":5}\n\n"
        let r = try enrich([], stdin: input)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "{\"login\":\"no-such-user-zz\",\"k\":[1]}\n")
        XCTAssertTrue(r.err.contains(#""code":"bad_json""#), r.err)
        XCTAssertTrue(r.err.contains(#""code":"missing_login""#), r.err)
        XCTAssertTrue(r.err.contains("not_found=1"), r.err)
        let empty = try enrich([], stdin: "")
        XCTAssertEqual(empty.status, 0, empty.err)
        XCTAssertEqual(empty.out, "")
    }

    func testDownstreamClosingEarlyStopsQuerying() throws {
        let s = try Self.sandbox()
        let input = try people()
        let file = Spawn.tempDirectory() + "/people.ndjson"
        try input.write(toFile: file, atomically: true, encoding: .utf8)
        let before = try s.requests("github POST /graphql")
        let env = s.githubEnvironment.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let r = try Spawn.shell(
            "env \(env) CMO_STATE_DIR=\(Spawn.tempDirectory()) gh-enrich --batch-size 10 -q < \(file) | head -n 1; echo \"status=${PIPESTATUS[0]}\""
        )
        XCTAssertTrue(r.out.contains("status=0"), r.out + r.err)
        let used = try s.requests("github POST /graphql") - before
        let whole = (input.split(separator: "\n").count + 9) / 10
        XCTAssertLessThanOrEqual(used, 8, "the whole input needs \(whole) queries")
        XCTAssertLessThan(used, whole)
    }

    func testBadTokenIs77AndMissingTokenIs78() throws {
        let bad = try enrich([], stdin: "{\"login\":\"x\"}\n", env: ["GITHUB_TOKEN": "ghp_wrong"])
        XCTAssertEqual(bad.status, 77, bad.err)
        let missing = try Spawn.run("gh-enrich", [], stdin: Data("{\"login\":\"x\"}\n".utf8))
        XCTAssertEqual(missing.status, 78, missing.err)
        XCTAssertTrue(missing.err.contains("GITHUB_TOKEN"), missing.err)
    }
}
