import CMOTestSupport
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `pipelines/discover.sh`, the read side composed by hand, against the sandbox with the built stages:
/// the CSV, each stage's summary, a stage swapped for a fake, and a failing stage's status.
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
    /// (unless `config` is given).
    private func discover(_ args: [String], env: [String: String] = [:], state: String? = nil, config: String = campaign) throws -> SpawnResult {
        let s = try Self.sandbox()
        var environment = s.environment
        environment["CMO_BIN"] = Spawn.productsDirectory.path
        environment["PATH"] = "/usr/bin:/bin"
        if let state { environment["CMO_STATE_DIR"] = state }
        environment.merge(env) { $1 }
        return try Spawn.run(
            "/bin/bash", [Self.root + "/pipelines/discover.sh", "--now", Self.now, "--config", config] + args, environment: environment)
    }

    private func csvRows(_ path: String) throws -> [[String: String]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let rows = CSVTestParser.parse(text)
        guard let header = rows.first else { return [] }
        return rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
    }

    /// A stage's summary line on the pipeline's stderr: its counts.
    private func summary(_ err: String, _ stage: String) -> (in: Int, out: Int)? {
        guard let m = err.firstMatch(of: try! Regex("(?m)^\(stage): (\\d+) in, (\\d+) out, ")),
              let i = Int(m.output[1].substring ?? ""), let o = Int(m.output[2].substring ?? "") else { return nil }
        return (i, o)
    }

    func testTheReadSideByHandWritesTheBestVerifiedLeadsWithCopy() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The model writes each lead's "why now" line (render-copy's llm, from the campaign).
        let campaign = try String(contentsOfFile: Self.campaign, encoding: .utf8)
            .replacingOccurrences(of: "[../examples/templates]", with: "[\(Self.root)/examples/templates]")
            .replacingOccurrences(of: "render-copy:\n", with: "render-copy:\n  llm: true\n")
            .replacingOccurrences(of: "campaign:\n", with: "gh-people:\n  min-commits: 1\ncampaign:\n")
        try campaign.write(toFile: dir + "/campaign.yaml", atomically: true, encoding: .utf8)
        let r = try discover(["language:python", "40", dir + "/leads.csv"], env: ["CMO_LLM_MODEL": "cmo-writer"], state: dir + "/state",
                             config: dir + "/campaign.yaml")
        XCTAssertEqual(r.status, 0, r.err)
        // Every stage said what it did, in pipeline order, each reading what the one before wrote.
        let order = ["gh-search", "gh-people", "gh-enrich", "mx-check", "score-icp", "render-copy", "export-csv"]
        let counts = try order.map { try XCTUnwrap(summary(r.err, $0), "\($0)'s summary: \(r.err)") }
        XCTAssertGreaterThan(counts[0].out, 0, r.err)
        for (a, b) in zip(counts.dropFirst(), counts.dropFirst(2)) { XCTAssertGreaterThanOrEqual(a.out, b.out, r.err) }  // people may outnumber repositories
        XCTAssertEqual(counts[4].out, 40, "enough people for 40 leads: \(r.err)")

        let rows = try csvRows(dir + "/leads.csv")
        XCTAssertEqual(rows.count, counts[5].out)
        XCTAssertGreaterThanOrEqual(rows.count, 30, "most scored leads get copy: \(r.err)")
        let header = try String(contentsOfFile: dir + "/leads.csv", encoding: .utf8).split(separator: "\r\n").first ?? ""
        XCTAssertTrue(header.contains("signals.repo,signals.repo_language"), "the CSV names the repository the copy talks about: \(header)")
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
            XCTAssertTrue(row["body"]?.contains("I saw your") ?? false, "the model's line is in the body: \(row["body"] ?? "")")
            for (column, cell) in row where ["=", "+", "@"].contains(cell.first.map(String.init) ?? "") {
                XCTFail("formula-like cell in \(column): \(cell)")
            }
        }
        // A warm re-run is served from the state: a free 304 and rate-limit checks at most.
        let before = try githubRequests()
        let again = try discover(["language:python", "40", dir + "/again.csv"], env: ["CMO_LLM_MODEL": "cmo-writer"], state: dir + "/state",
                                 config: dir + "/campaign.yaml")
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertLessThanOrEqual(try githubRequests() - before, 4)
        XCTAssertEqual(try String(contentsOfFile: dir + "/leads.csv", encoding: .utf8), try String(contentsOfFile: dir + "/again.csv", encoding: .utf8))
    }

    func testAShortfallIsSaidByTheStageThatSeesIt() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try discover(["language:python", "500", dir + "/leads.csv"], state: dir + "/state")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("score-icp: warning: ") && r.err.contains("of --top 500"), r.err)
    }

    func testAnyStageCanBeSwappedForAFake() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The real mx-check behind a script that keeps what it wrote, to check the fake's scores against.
        let tap = dir + "/mx-check-tap.sh"
        try "#!/bin/sh\n'\(Spawn.executable("mx-check"))' \"$@\" | tee '\(dir)/verified.ndjson'\n"
            .write(toFile: tap, atomically: true, encoding: .utf8)
        chmod(tap, 0o755)
        let r = try discover(
            ["language:python", "15", dir + "/leads.csv"],
            env: [
                "MX_CHECK": tap,
                "SCORE_ICP": Self.root + "/examples/fakes/score-by-followers.sh",
                "RENDER_COPY": Self.root + "/examples/fakes/copy-canned.sh",
            ], state: dir + "/state")
        XCTAssertEqual(r.status, 0, r.err)
        let rows = try csvRows(dir + "/leads.csv")
        XCTAssertGreaterThan(rows.count, 0)
        XCTAssertTrue(rows.allSatisfy { $0["variant"] == "canned" && $0["subject"] == "Quick question" }, "\(rows.prefix(2))")
        let verified = ((try? String(contentsOfFile: dir + "/verified.ndjson", encoding: .utf8)) ?? "").split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        for row in rows {
            let f = try XCTUnwrap(verified.first { $0["login"] as? String == row["login"] }?["followers"] as? Int, "\(row)")
            XCTAssertEqual(try XCTUnwrap(Double(row["score"] ?? "")), min(Double(f) / 1000, 1), accuracy: 1e-9)
        }
    }

    func testAFailingStageStopsThePipelineWithItsStatusAndNoCSVIsLeft() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "old\n".write(toFile: dir + "/leads.csv", atomically: true, encoding: .utf8)
        let r = try discover(["language:python", "5", dir + "/leads.csv"], env: ["GITHUB_TOKEN": "ghp_wrong"], state: dir + "/state")
        XCTAssertEqual(r.status, 77, r.err)
        XCTAssertTrue(r.err.contains("gh-search: error:"), r.err)
        XCTAssertFalse(r.err.contains("ghp_wrong"), "the token is never echoed")
        XCTAssertEqual(try String(contentsOfFile: dir + "/leads.csv", encoding: .utf8), "old\n", "left as it was")

        let fake = dir + "/broken.sh"
        try "#!/bin/sh\ncat >/dev/null; echo 'broken: cannot score' >&2; exit 78\n".write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let b = try discover(["language:python", "5", dir + "/leads.csv"], env: ["SCORE_ICP": fake], state: dir + "/state")
        XCTAssertEqual(b.status, 78, b.err)
        XCTAssertTrue(b.err.contains("broken: cannot score"), b.err)
        XCTAssertEqual(try String(contentsOfFile: dir + "/leads.csv", encoding: .utf8), "old\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".partial.") }, [])
    }

    func testBadArgumentsAreUsageErrors() throws {
        let r = try discover(["language:python", "many", "/tmp/x.csv"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.err.contains("COUNT must be a positive number"), r.err)
        XCTAssertTrue(r.err.contains("usage: pipelines/discover.sh"), r.err)
        for flag in ["--help", "-h"] {
            let h = try discover([flag])
            XCTAssertEqual(h.status, 0, h.err)
            XCTAssertTrue(h.out.contains("QUERY") && h.out.contains("cmo-plan run"), h.out)
            XCTAssertEqual(h.err, "", "help goes to stdout")
        }
        let unknown = try discover(["--frobnicate", "language:python", "5", "/tmp/x.csv"])
        XCTAssertEqual(unknown.status, 64)
        XCTAssertTrue(unknown.err.contains("unknown option '--frobnicate'"), unknown.err)
        XCTAssertEqual(try discover(["language:python", "5"]).status, 64)
    }

    private func githubRequests() throws -> Int {
        let requests = try Self.sandbox().stats()["requests"] as? [String: Int] ?? [:]
        return requests.filter { $0.key.hasPrefix("github ") }.values.reduce(0, +)
    }

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
