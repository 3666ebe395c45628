import CMOTestSupport
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `pipelines/discover.sh` end to end against the sandbox, with the built stages: the CSV, the
/// funnel, stage swapping, the lock, quiet mode and meaningful exit statuses.
final class PipelineTests: XCTestCase {
    nonisolated(unsafe) static var shared: SandboxLauncher?
    static let now = "2026-11-20T00:00:00Z"
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

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

    /// The sandbox's campaign: a demo sender, an example.com unsubscribe link, the example templates.
    static var campaign: String { root + "/pipelines/demo-campaign.yaml" }

    /// Runs discover.sh with the sandbox's environment, the built stages and the demo campaign
    /// (unless `args` name a `--config`).
    private func discover(_ args: [String], env: [String: String] = [:], state: String? = nil) throws -> SpawnResult {
        let s = try Self.sandbox()
        var environment = s.environment
        environment["CMO_BIN"] = Spawn.productsDirectory.path
        environment["PATH"] = "/usr/bin:/bin"
        if let state { environment["CMO_STATE_DIR"] = state }
        environment.merge(env) { $1 }
        let config = args.contains("--config") ? [] : ["--config", Self.campaign]
        return try Spawn.run(
            "/bin/bash", [Self.root + "/pipelines/discover.sh", "--now", Self.now] + config + args, environment: environment)
    }

    private func csvRows(_ path: String) throws -> [[String: String]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let rows = CSVTestParser.parse(text)
        guard let header = rows.first else { return [] }
        return rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
    }

    private func ndjson(_ path: String) throws -> [[String: Any]] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    func testDiscoverWritesTheBestVerifiedLeadsWithCopyAndPrintsTheFunnel() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try discover(
            ["--llm", "--min-commits", "1", "--keep", dir + "/run", "language:python", "40", dir + "/leads.csv"],
            env: ["CMO_LLM_MODEL": "cmo-writer"],
            state: dir + "/state")
        XCTAssertEqual(r.status, 0, r.err)
        for stage in ["repositories", "people", "with email", "verified", "scored", "rendered", "dead letters"] {
            XCTAssertTrue(r.err.contains(stage), "funnel line \(stage): \(r.err)")
        }
        let funnel = try XCTUnwrap(
            JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: dir + "/run/funnel.json"))) as? [String: Int])
        let order = ["people", "with_email", "verified", "scored", "rendered"]
        for (a, b) in zip(order, order.dropFirst()) {
            XCTAssertGreaterThanOrEqual(funnel[a] ?? -1, funnel[b] ?? .max, "\(a) ≥ \(b): \(funnel)")
        }
        XCTAssertGreaterThan(funnel["repositories"] ?? 0, 0)
        XCTAssertEqual(funnel["scored"], 40, "enough people for 40 leads: \(funnel)")

        let rows = try csvRows(dir + "/leads.csv")
        XCTAssertEqual(rows.count, funnel["rendered"])
        XCTAssertGreaterThanOrEqual(rows.count, 30, "most scored leads get copy: \(funnel)")
        // Every lead's email is one the sandbox's DNS says can receive mail.
        let truth = try Self.sandbox().truth()
        let domains = try XCTUnwrap(truth["domains"] as? [String: Any])
        let unsubscribe = try campaignUnsubscribeURL()
        for row in rows {
            let email = try XCTUnwrap(row["best_email"])
            let domain = String(email.split(separator: "@").last ?? "").lowercased()
            let behaviour = domains[domain] as? String ?? "not in the world"
            XCTAssertTrue(["mx", "a_only", "slow", "truncated"].contains(behaviour), "\(email): \(behaviour)")
            XCTAssertFalse(row["subject"]?.isEmpty ?? true)
            XCTAssertFalse(row["subject"]?.contains("\n") ?? true)
            XCTAssertTrue(row["body"]?.contains(unsubscribe) ?? false, "the unsubscribe link is in every body")
            for (column, cell) in row where ["=", "+", "@"].contains(cell.first.map(String.init) ?? "") {
                XCTFail("formula-like cell in \(column): \(cell)")
            }
        }
        // The kept artifacts are the pipeline's intermediate outputs, in order.
        let scored = try ndjson(dir + "/run/5-score-icp.ndjson")
        XCTAssertEqual(scored.count, 40)
        XCTAssertTrue(scored.allSatisfy { $0["score"] is Double || $0["score"] is Int })
        for (i, stage) in ["gh-search", "gh-people", "gh-enrich", "mx-check", "score-icp", "render-copy", "export-csv"].enumerated() {
            let log = (try? String(contentsOfFile: dir + "/run/\(i + 1)-\(stage).log", encoding: .utf8)) ?? ""
            XCTAssertTrue(log.contains("\(stage): ") && log.contains(" in, "), "each stage's log ends with its summary: \(log)")
        }
        // --llm: every rendered lead carries the model's line, and the line is in its body.
        for lead in try ndjson(dir + "/run/6-render-copy.ndjson") {
            let copy = try XCTUnwrap(lead["copy"] as? [String: Any])
            let line = try XCTUnwrap((copy["llm"] as? [String: Any])?["output"] as? String)
            XCTAssertTrue((copy["body"] as? String ?? "").contains(line))
        }
    }

    func testQuietRunPrintsNothingAndASecondRunIsServedFromTheState() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try discover(["-q", "language:go", "10", dir + "/a.csv"], state: dir + "/state")
        XCTAssertEqual(first.status, 0, first.err)
        XCTAssertEqual(first.err, "", "quiet under cron")
        XCTAssertEqual(first.out, "")
        let before = try githubRequests()
        let second = try discover(["-q", "language:go", "10", dir + "/b.csv"], state: dir + "/state")
        XCTAssertEqual(second.status, 0, second.err)
        XCTAssertEqual(
            try String(contentsOfFile: dir + "/a.csv", encoding: .utf8), try String(contentsOfFile: dir + "/b.csv", encoding: .utf8))
        let spent = try githubRequests() - before
        XCTAssertLessThanOrEqual(spent, 4, "a warm re-run costs a free 304 and rate-limit checks at most")
    }

    func testAnyStageCanBeSwappedForAFake() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try discover(
            ["--keep", dir + "/run", "language:python", "15", dir + "/leads.csv"],
            env: [
                "SCORE_ICP": Self.root + "/examples/fakes/score-by-followers.sh",
                "RENDER_COPY": Self.root + "/examples/fakes/copy-canned.sh",
            ], state: dir + "/state")
        XCTAssertEqual(r.status, 0, r.err)
        let rows = try csvRows(dir + "/leads.csv")
        XCTAssertGreaterThan(rows.count, 0)
        XCTAssertTrue(rows.allSatisfy { $0["variant"] == "canned" && $0["subject"] == "Quick question" }, "\(rows.prefix(2))")
        let followers = try ndjson(dir + "/run/4-mx-check.ndjson").map { ($0["login"] as? String ?? "", $0["followers"] as? Int ?? 0) }
        for row in rows {
            let f = try XCTUnwrap(followers.first { $0.0 == row["login"] }).1
            XCTAssertEqual(try XCTUnwrap(Double(row["score"] ?? "")), min(Double(f) / 1000, 1), accuracy: 1e-9)
        }
    }

    func testAFailingStageIsNamedWithItsExitStatusAndNoCSVIsLeft() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try discover(["language:python", "5", dir + "/leads.csv"], env: ["GITHUB_TOKEN": "ghp_wrong"], state: dir + "/state")
        XCTAssertEqual(r.status, 77, r.err)
        XCTAssertTrue(r.err.contains("gh-search exited 77 (credentials rejected)"), r.err)
        XCTAssertFalse(r.err.contains("ghp_wrong"), "the token is never echoed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/leads.csv"))
        // The failed run's folder is kept, and named.
        let folder = String(try XCTUnwrap(r.err.firstMatch(of: /dead letters are in (\S+)/)?.1, r.err))
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/1-gh-search.log"), folder)

        let fake = dir + "/broken.sh"
        try "#!/bin/sh\ncat >/dev/null; echo 'broken: cannot score' >&2; exit 78\n".write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let b = try discover(["language:python", "5", dir + "/leads.csv"], env: ["SCORE_ICP": fake], state: dir + "/state")
        XCTAssertEqual(b.status, 78, b.err)
        XCTAssertTrue(b.err.contains("score-icp exited 78 (bad configuration)") && b.err.contains("broken: cannot score"), b.err)
    }

    func testASecondRunWhileTheLockIsHeldStopsWith75() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lock = dir + "/discover.lock"
        let fd = open(lock, O_CREAT | O_RDWR, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        XCTAssertEqual(flock(fd, LOCK_EX | LOCK_NB), 0)
        let before = try requestsTotal()
        let r = try discover(["--lock", lock, "language:python", "5", dir + "/leads.csv"], state: dir + "/state")
        XCTAssertEqual(r.status, 75, r.err)
        XCTAssertTrue(r.err.contains("another run holds"), r.err)
        XCTAssertEqual(try requestsTotal(), before, "nothing was asked of any service")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/leads.csv"))
    }

    func testBadArgumentsAreUsageErrors() throws {
        let r = try discover(["language:python", "many", "/tmp/x.csv"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.err.contains("COUNT must be a positive number"), r.err)
        XCTAssertTrue(r.err.contains("usage: pipelines/discover.sh"), r.err)
        for flag in ["--help", "-h"] {
            let h = try discover([flag])
            XCTAssertEqual(h.status, 0, h.err)
            XCTAssertTrue(h.out.contains("QUERY") && h.out.contains("--keep DIR") && h.out.contains("--max-dead-share"), h.out)
            XCTAssertEqual(h.err, "", "help goes to stdout")
        }
        let unknown = try discover(["--frobnicate", "language:python", "5", "/tmp/x.csv"])
        XCTAssertEqual(unknown.status, 64)
        XCTAssertTrue(unknown.err.contains("unknown option '--frobnicate'"), unknown.err)
        let missing = try discover(["language:python", "5", "/tmp/x.csv", "--people"])
        XCTAssertEqual(missing.status, 64)
        XCTAssertTrue(missing.err.contains("option '--people' needs a value"), missing.err)
    }

    private func githubRequests() throws -> Int {
        let requests = try Self.sandbox().stats()["requests"] as? [String: Int] ?? [:]
        return requests.filter { $0.key.hasPrefix("github ") }.values.reduce(0, +)
    }

    private func requestsTotal() throws -> Int { try Self.sandbox().stats()["requests_total"] as? Int ?? -1 }

    private func campaignUnsubscribeURL() throws -> String {
        let text = try String(contentsOfFile: Self.campaign, encoding: .utf8)
        for line in text.split(separator: "\n") where line.contains("unsubscribe") && line.contains("http") {
            if let start = line.range(of: "http") {
                return String(line[start.lowerBound...]).trimmingCharacters(in: CharacterSet(charactersIn: "\"' "))
            }
        }
        throw XCTSkip("pipelines/demo-campaign.yaml has no unsubscribe URL")
    }
}

/// RFC 4180 reader for the tests (quoted cells, doubled quotes, newlines inside quotes).
enum CSVTestParser {
    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var cell = ""
        var quoted = false
        var chars = Array(text.replacingOccurrences(of: "\r\n", with: "\n"))
        chars.append("\n")
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < chars.count, chars[i + 1] == "\"" {
                        cell.append("\"")
                        i += 1
                    } else {
                        quoted = false
                    }
                } else {
                    cell.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                row.append(cell)
                cell = ""
            } else if c == "\n" {
                if !(row.isEmpty && cell.isEmpty) {
                    row.append(cell)
                    rows.append(row)
                }
                row = []
                cell = ""
            } else {
                cell.append(c)
            }
            i += 1
        }
        return rows
    }
}
