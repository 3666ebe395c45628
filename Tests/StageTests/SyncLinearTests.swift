import CMOTestSupport
import Foundation
import XCTest

/// sync-linear against the sandbox's Linear: one parent per job, one child per distinct error, counts
/// that survive re-runs and crashes, refusals, rate limits in both forms, both duplicate-id answers,
/// dry-run, a closed stdout, and every document it sends accepted by Linear's schema.
final class SyncLinearTests: XCTestCase {
    func sandbox(_ extra: [String] = []) throws -> SandboxLauncher {
        try SandboxLauncher(["--seed", "5", "--repos", "20", "--users", "20"] + extra)
    }

    // MARK: - Helpers

    /// `n` dead letters of `distinct` errors (stages × codes), each message with per-line details
    /// (an email, a number, a UUID) that normalise away.
    static func deadLetters(_ n: Int, distinct: Int = 4, from: Int = 0) -> [[String: Any]] {
        (from..<(from + n)).map { i in
            let e = i % distinct
            return [
                "stage": "stage\(e % 3)", "line": i + 1,
                "error": [
                    "code": "code\(e)", "retryable": false,
                    "message":
                        "lead dev\(i)@example.org failed (\(i % 9) tries, request \(String(format: "%08x", i * 2_654_435_761 % 4_294_967_296))-1c2d-4e5f-8a9b-\(String(format: "%012x", i * 97))) kind \(e)",
                ],
                "input": ["id": i, "bio": "{{unsubscribe}} ``` [x](javascript:alert(1)) \u{7}"],
            ]
        }
    }

    static func ndjson(_ records: [[String: Any]]) -> Data { NDJSON.data(records) }
    static func objects(_ r: SpawnResult) throws -> [[String: Any]] { try NDJSON.objects(r) }
    static func statuses(_ r: SpawnResult) throws -> [String: Int] { try NDJSON.statuses(r, field: "linear") }

    /// Every issue in the sandbox's Linear (one page of 250 is plenty here).
    static func issues(_ s: SandboxLauncher) throws -> [[String: Any]] {
        let body: [String: Any] = ["query": "{ issues(first: 250) { nodes { id identifier title description parent { id } } } }"]
        let r = try Spawn.run(
            "/usr/bin/curl",
            [
                "-s", "-X", "POST", "-H", "Authorization: \(s.environment["LINEAR_API_KEY"] ?? "")", "-H", "Content-Type: application/json",
                "--data-binary", String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self),
                s.environment["LINEAR_API_URL"] ?? "",
            ])
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: r.stdout) as? [String: Any], r.out)
        return ((json["data"] as? [String: Any])?["issues"] as? [String: Any])?["nodes"] as? [[String: Any]] ?? []
    }

    /// (parents, children, the sum of the children's counts as their descriptions say).
    static func tally(_ s: SandboxLauncher) throws -> (parents: Int, children: Int, total: Int) {
        let all = try issues(s)
        let children = all.filter { $0["parent"] is [String: Any] }
        let total = children.compactMap { c -> Int? in
            guard let d = c["description"] as? String, d.hasPrefix("**") else { return nil }
            return Int(d.dropFirst(2).prefix { $0.isNumber })
        }.reduce(0, +)
        return (all.count - children.count, children.count, total)
    }

    func sync(_ s: SandboxLauncher?, _ args: [String], input: [[String: Any]], state: String, env: [String: String] = [:]) throws
        -> SpawnResult
    {
        var environment = s?.environment ?? [:]
        environment["CMO_STATE_DIR"] = state
        environment.merge(env) { $1 }
        return try Spawn.run("sync-linear", args, stdin: Self.ndjson(input), environment: environment)
    }

    func linearWrites(_ s: SandboxLauncher) throws -> Int {
        let requests = try s.stats()["requests"] as? [String: Any] ?? [:]
        return requests.filter { $0.key.hasPrefix("linear POST /graphql mutation") }.values.compactMap { $0 as? Int }.reduce(0, +)
    }

    let base = ["--team", "ENG", "--job", "job-7", "--campaign-name", "Rust maintainers"]

    // MARK: - Tests

    func testOneParentOneChildPerErrorAndARerunChangesNothing() throws {
        let s = try sandbox()
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        var input = Self.deadLetters(40)
        input.append(["event": "summary", "level": "info", "stage": "gh-search", "msg": "done"])
        input.append([
            "event": "write_failed", "level": "error", "stage": "send-instantly", "count": 5, "id": "evt-1",
            "error": ["code": "unavailable", "message": "Instantly answered HTTP 503"],
        ])
        let r = try sync(s, base, input: input, state: state)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try Self.statuses(r), ["created": 5, "counted": 36, "ignored": 1], r.err)
        let t = try Self.tally(s)
        XCTAssertEqual(t.parents, 1)
        XCTAssertEqual(t.children, 5)
        XCTAssertEqual(t.total, 45, "40 dead letters + an event standing for 5")
        let all = try Self.issues(s)
        let parent = try XCTUnwrap(all.first { !($0["parent"] is [String: Any]) })
        XCTAssertTrue((parent["title"] as? String ?? "").hasPrefix("Campaign Rust maintainers — "), "\(parent)")
        XCTAssertTrue((parent["description"] as? String ?? "").contains("job-7"))
        let out = try Self.objects(r)
        let first = try XCTUnwrap(out.first?["linear"] as? [String: Any])
        XCTAssertEqual(first["parent_id"] as? String, parent["id"] as? String)
        let id = try XCTUnwrap(first["issue_id"] as? String)
        XCTAssertEqual(Array(id)[14], "4", "a v4-shaped id")
        XCTAssertTrue("89ab".contains(Array(id)[19]))
        // User text is neutralised in the description.
        let child = try XCTUnwrap(all.first { $0["id"] as? String == id })
        let description = child["description"] as? String ?? ""
        XCTAssertFalse(description.contains("{{unsubscribe}}"), description)
        XCTAssertFalse(description.contains("```"), description)
        XCTAssertFalse(description.contains("\u{7}"), description)
        XCTAssertEqual(try s.stats()["duplicates_total"] as? Int, 0)
        let writes = try linearWrites(s)
        let requests = try s.stats()["requests"] ?? ""
        XCTAssertLessThanOrEqual(writes, 4, "parent, children in one request, counts in one: \(requests)")

        let again = try sync(s, base, input: input, state: state)
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(try Self.statuses(again), ["already_counted": 41, "ignored": 1])
        XCTAssertEqual(try linearWrites(s), writes, "a re-run writes nothing")
        // New lines of a known error update its count; nothing new is created.
        let more = try sync(s, base, input: Self.deadLetters(8, from: 40), state: state)
        XCTAssertEqual(try Self.statuses(more), ["counted": 8], more.err)
        let t2 = try Self.tally(s)
        XCTAssertEqual([t2.parents, t2.children, t2.total], [1, 5, 53])
    }

    func testACrashBetweenRequestAndRecordLeavesNoDuplicateAndNoGap() throws {
        for point in ["before-send", "after-send", "after-record"] {
            for nth in [1, 2] {
                let s = try sandbox()
                defer { s.stop() }
                let state = Spawn.tempDirectory()
                let args = base + ["--batch-size", "10"]
                let crashed = try sync(
                    s, args, input: Self.deadLetters(60, distinct: 6), state: state, env: ["CMO_CRASH_AT": "\(point):\(nth)"])
                XCTAssertNotEqual(crashed.status, 0, "\(point):\(nth): the hook kills the process")
                let rerun = try sync(s, args, input: Self.deadLetters(60, distinct: 6), state: state)
                XCTAssertEqual(rerun.status, 0, rerun.err)
                let t = try Self.tally(s)
                XCTAssertEqual([t.parents, t.children, t.total], [1, 6, 60], "\(point):\(nth)")
                XCTAssertEqual(try s.stats()["duplicates_total"] as? Int, 0, "\(point):\(nth): recovered by lookup, not re-sent")
            }
        }
    }

    func testRefusals() throws {
        let s = try sandbox()
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        let input = Self.deadLetters(3)
        let unknown = try sync(s, ["--team", "NOPE", "--job", "j"], input: input, state: state)
        XCTAssertEqual(unknown.status, 78, unknown.err)
        XCTAssertTrue(unknown.err.contains("NOPE"), unknown.err)
        let unknownID = try sync(s, ["--team", "00000000-0000-4000-8000-000000000000", "--job", "j"], input: input, state: state)
        XCTAssertEqual(unknownID.status, 78, unknownID.err)
        let badKey = try sync(s, base, input: input, state: state, env: ["LINEAR_API_KEY": "lin_api_wrong"])
        XCTAssertEqual(badKey.status, 77, badKey.err)
        XCTAssertFalse(badKey.err.contains("lin_api_wrong"), "the key is never echoed")
        let noKey = try sync(s, base, input: input, state: state, env: ["LINEAR_API_KEY": ""])
        XCTAssertEqual(noKey.status, 78, noKey.err)
        XCTAssertTrue(noKey.err.contains("LINEAR_API_KEY"), noKey.err)
        XCTAssertEqual(try sync(s, ["--team", "ENG"], input: input, state: state).status, 64, "no job id")
        XCTAssertEqual(try sync(s, ["--job", "j"], input: input, state: state).status, 64, "no team")
        XCTAssertEqual(try linearWrites(s), 0)
        // The team by id works as by key; a line that is neither a dead letter nor an event is dead-lettered.
        let team = try XCTUnwrap(s.environment["CMO_SANDBOX_LINEAR_TEAM"])
        let dead = state + "-dead.ndjson"
        let byID = try sync(s, ["--team", team, "--job", "j2", "--dead-letter", dead], input: input + [["hello": 1]], state: state)
        XCTAssertEqual(byID.status, 0, byID.err)
        XCTAssertEqual(try Self.statuses(byID), ["created": 3])
        XCTAssertTrue(((try? String(contentsOfFile: dead, encoding: .utf8)) ?? "").contains("not_an_error"))
    }

    func testRateLimitsIn429AndRATELIMITEDFormsAreWaitedOut() throws {
        for (status, unit) in [("429", "s"), ("400", "ms")] {
            let s = try sandbox([
                "--linear-requests-per-hour", "3", "--linear-window-seconds", "2", "--linear-rate-limit-status", status,
                "--linear-reset-unit", unit,
            ])
            defer { s.stop() }
            let r = try sync(s, base + ["--batch-size", "5"], input: Self.deadLetters(20, distinct: 2), state: Spawn.tempDirectory())
            XCTAssertEqual(r.status, 0, "\(status) \(unit): \(r.err)")
            let t = try Self.tally(s)
            XCTAssertEqual([t.parents, t.children, t.total], [1, 2, 20], "\(status) \(unit)")
            XCTAssertEqual(try s.violations(), 0, "\(status) \(unit): never sent into an empty budget")
        }
        // A limit that is hit anyway (the budget is shared with another client) is waited out too.
        let s = try sandbox(["--linear-requests-per-hour", "2", "--linear-window-seconds", "1", "--linear-rate-limit-status", "400"])
        defer { s.stop() }
        let r = try sync(s, base, input: Self.deadLetters(4, distinct: 2), state: Spawn.tempDirectory(), env: ["CMO_HTTP_RETRIES": "8"])
        XCTAssertEqual(r.status, 0, r.err)
    }

    func testBothDuplicateIDAnswersWhenTheLedgerIsLost() throws {
        for mode in ["error", "return-existing"] {
            let s = try sandbox(["--linear-duplicate-id", mode])
            defer { s.stop() }
            let first = try sync(s, base, input: Self.deadLetters(30, distinct: 3), state: Spawn.tempDirectory())
            XCTAssertEqual(first.status, 0, first.err)
            // A fresh state directory: no ledger, so every create is sent again with the same ids.
            let lost = try sync(s, base, input: Self.deadLetters(30, distinct: 3), state: Spawn.tempDirectory())
            XCTAssertEqual(lost.status, 0, "\(mode): \(lost.err)")
            XCTAssertEqual(Set(try Self.objects(lost).compactMap { ($0["linear"] as? [String: Any])?["identifier"] as? String }).count, 3)
            let t = try Self.tally(s)
            XCTAssertEqual([t.parents, t.children, t.total], [1, 3, 30], mode)
        }
    }

    func testAFileStillBeingWrittenReachesLinearWithoutWaitingForAFullChunk() throws {
        let s = try sandbox()
        defer { s.stop() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Spawn.executable("sync-linear"))
        p.arguments = base + ["--idle-flush", "0.3"]  // --batch-size stays 1,000
        var env = s.environment
        env["CMO_STATE_DIR"] = Spawn.tempDirectory()
        env["PATH"] = "/usr/bin:/bin"
        p.environment = env
        let input = Pipe()
        let output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        defer { if p.isRunning { p.terminate() } }
        input.fileHandleForWriting.write(Self.ndjson(Self.deadLetters(3, distinct: 1)))
        // The pipe stays open, as with tail -F: the three lines come out after the quiet spell.
        let started = Date()
        var received = Data()
        while received.filter({ $0 == 0x0A }).count < 3, Date().timeIntervalSince(started) < 10 {
            received.append(output.fileHandleForReading.availableData)
        }
        XCTAssertEqual(received.filter { $0 == 0x0A }.count, 3, String(decoding: received, as: UTF8.self))
        XCTAssertLessThan(Date().timeIntervalSince(started), 8)
        XCTAssertEqual(try Self.tally(s).children, 1, "the child exists while the input is still open")
        try input.fileHandleForWriting.close()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
    }

    func testDryRunWritesNothing() throws {
        let s = try sandbox()
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        let r = try sync(s, base + ["--dry-run"], input: Self.deadLetters(12), state: state)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try Self.statuses(r), ["dry_run": 12])
        XCTAssertEqual((try Self.objects(r)[0]["linear"] as? [String: Any])?["would"] as? String, "create")
        XCTAssertEqual(try linearWrites(s), 0)
        XCTAssertEqual(try Self.issues(s).count, 0)
        // Without a key: no request at all.
        let offline = try Spawn.run(
            "sync-linear", base + ["--dry-run"], stdin: Self.ndjson(Self.deadLetters(2)), environment: ["CMO_STATE_DIR": state])
        XCTAssertEqual(offline.status, 0, offline.err)
        // Nothing was counted: a real run creates and counts all 12.
        let real = try sync(s, base, input: Self.deadLetters(12), state: state)
        XCTAssertEqual(try Self.statuses(real), ["created": 4, "counted": 8], real.err)
    }

    func testDownstreamClosingEarlyStopsAndAReRunFinishes() throws {
        let s = try sandbox()
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        let input = Spawn.tempDirectory() + "/in.ndjson"
        try Self.ndjson(Self.deadLetters(100, distinct: 5)).write(to: URL(fileURLWithPath: input))
        var env = s.environment
        env["CMO_STATE_DIR"] = state
        let head = try Spawn.shell("sync-linear --team ENG --job job-7 --batch-size 10 < \(input) | head -1", environment: env)
        XCTAssertEqual(head.lines.count, 1)
        let rest = try sync(s, base + ["--batch-size", "10"], input: Self.deadLetters(100, distinct: 5), state: state)
        XCTAssertEqual(rest.status, 0, rest.err)
        let t = try Self.tally(s)
        XCTAssertEqual([t.parents, t.children, t.total], [1, 5, 100])
    }

    /// Every document sync-linear sent on every path (team by key and by id, create, lookup after a
    /// crash, update, a lost ledger) was accepted by the sandbox's validation against Linear's schema.
    func testEveryDocumentItSendsValidatesAgainstTheSchema() throws {
        let s = try sandbox(["--linear-duplicate-id", "error"])
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        _ = try sync(s, base + ["--batch-size", "5"], input: Self.deadLetters(20), state: state, env: ["CMO_CRASH_AT": "after-send:2"])
        _ = try sync(s, base + ["--batch-size", "5"], input: Self.deadLetters(30), state: state)
        _ = try sync(
            s, ["--team", s.environment["CMO_SANDBOX_LINEAR_TEAM"] ?? "", "--job", "job-7"], input: Self.deadLetters(30),
            state: Spawn.tempDirectory())
        let requests = try s.stats()["requests"] as? [String: Any] ?? [:]
        let linear = requests.keys.filter { $0.hasPrefix("linear ") }
        XCTAssertFalse(linear.isEmpty)
        for k in linear {
            XCTAssertTrue(
                k.hasPrefix("linear POST /graphql query ") || k.hasPrefix("linear POST /graphql mutation "), "refused or odd: \(k)")
        }
        for kind in ["query team", "query teams", "query issues", "mutation issueCreate", "mutation issueUpdate"] {
            XCTAssertTrue(linear.contains { $0.contains(kind) }, "\(kind) was exercised: \(linear.sorted())")
        }
    }
}
