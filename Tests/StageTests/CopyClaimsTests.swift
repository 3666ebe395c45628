import CMOTestSupport
import Foundation
import XCTest

/// Every fact in the copy is true for that person (issue 26): counts are for the window the copy
/// names and for the repository it names, a quoted commit is the person's own work in that
/// repository, and someone inactive for months is not told about their "recent" commits.
final class CopyClaimsTests: XCTestCase {
    static let world = ["--seed", "42", "--repos", "3000", "--users", "4000", "--now", "2026-11-20T00:00:00Z"]
    static let now = "2026-11-20T00:00:00Z"
    nonisolated(unsafe) static var shared: SandboxLauncher?
    nonisolated(unsafe) static var repos: String?

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

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .path

    private func stage(_ name: String, _ args: [String], stdin: String) throws -> SpawnResult {
        let env = try Self.sandbox().environment.merging(["CMO_STATE_DIR": Spawn.tempDirectory(), "CMO_LLM_MODEL": "cmo-writer"]) { $1 }
        let r = try Spawn.run(name, args, stdin: Data(stdin.utf8), environment: env)
        XCTAssertEqual(r.status, 0, "\(name): \(r.err)")
        return r
    }

    private func objects(_ r: SpawnResult) throws -> [[String: Any]] {
        try r.lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    /// Python repositories pushed to in the last year.
    private func pythonRepos() throws -> String {
        if let r = Self.repos { return r }
        let r = try stage(
            "gh-search", ["--query", "language:python", "--active-days", "365", "--max-repos", "300", "--now", Self.now], stdin: "")
        Self.repos = r.out
        return r.out
    }

    private func people(days: Int) throws -> [[String: Any]] {
        try objects(
            try stage("gh-people", ["--since-days", "\(days)", "--now", Self.now, "--min-commits", "1"], stdin: try pythonRepos()))
    }

    static func signals(_ o: [String: Any]) -> [String: Any] { o["signals"] as? [String: Any] ?? [:] }
    static func repoFacts(_ o: [String: Any]) -> [String: [String: Any]] {
        var out: [String: [String: Any]] = [:]
        for r in signals(o)["repos"] as? [[String: Any]] ?? [] { out[r["repo"] as? String ?? ""] = r }
        return out
    }

    /// A title nobody would quote as the person's work (the same idea as gh-people's, written apart).
    static func trivial(_ title: String) -> Bool {
        title.range(
            of: #"^(merge (pull request|branch|remote)|revert|bump |v?\d+(\.\d+)+|release \d|chore|wip\b|\.$|.*readme|.*typo|docs?:)"#,
            options: [.regularExpression, .caseInsensitive]) != nil
    }

    func testCountsAreForTheWindowAndTheRepositoryAndTitlesAreTheirOwnWork() throws {
        let narrow = try people(days: 30)
        let wide = try people(days: 365)
        XCTAssertGreaterThan(narrow.count, 10)
        XCTAssertGreaterThan(wide.count, narrow.count, "a wider window finds more people")
        let wideByID = Dictionary(uniqueKeysWithValues: wide.map { ($0["id"] as! Int, $0) })
        for (days, list) in [(30, narrow), (365, wide)] {
            for p in list {
                let s = Self.signals(p)
                let login = p["login"] as? String ?? ""
                XCTAssertEqual(s["window_days"] as? Int, days, login)
                let start = try XCTUnwrap(s["window_start"] as? String)
                XCTAssertGreaterThanOrEqual(s["last_commit_at"] as? String ?? "", start, "\(login): the last commit is in the window")
                let facts = Self.repoFacts(p)
                XCTAssertEqual(
                    facts.values.reduce(0) { $0 + ($1["commits_in_window"] as? Int ?? 0) }, s["commits_in_window"] as? Int,
                    "\(login): the total is the repositories' own counts added up")
                XCTAssertEqual(s["commits_90d"] == nil, days < 90, "\(login): a 90-day count only when the window holds 90 days")
                if let repo = s["repo"] as? String {
                    XCTAssertEqual(s["repo_commits_in_window"] as? Int, facts[repo]?["commits_in_window"] as? Int, login)
                    XCTAssertEqual(s["repo_stars"] as? Int, facts[repo]?["stars"] as? Int, "\(login): the named repository's stars")
                    XCTAssertEqual(s["repo_commit_title"] as? String, (facts[repo]?["commit_titles"] as? [String])?.first, login)
                }
                for (name, f) in facts {
                    XCTAssertGreaterThanOrEqual(f["last_commit_at"] as? String ?? "", start, "\(login) \(name)")
                    for t in f["commit_titles"] as? [String] ?? [] { XCTAssertFalse(Self.trivial(t), "\(login) \(name): \(t)") }
                }
                for t in s["recent_commit_titles"] as? [String] ?? [] { XCTAssertFalse(Self.trivial(t), "\(login): \(t)") }
                // The same person over a wider window: never fewer commits, in total or per repository.
                if days == 30, let w = wideByID[p["id"] as! Int] {
                    XCTAssertLessThanOrEqual(s["commits_in_window"] as! Int, Self.signals(w)["commits_in_window"] as! Int, login)
                    let wf = Self.repoFacts(w)
                    for (name, f) in facts {
                        XCTAssertLessThanOrEqual(
                            f["commits_in_window"] as! Int, wf[name]?["commits_in_window"] as? Int ?? -1, "\(login) \(name)")
                    }
                }
            }
        }
        // The world's histories hold merges, bumps and README fixes, and none of them came through.
        let titled = wide.filter { !(Self.signals($0)["recent_commit_titles"] as? [String] ?? []).isEmpty }
        XCTAssertGreaterThan(titled.count, wide.count / 2, "most people have a title fit to quote")
    }

    /// People whose commits lie outside the last 90 days, found through a 365-day window: their copy
    /// names the 365 days it covers or no time at all, never "recent", "lately" or "90 days".
    func testPeopleInactiveForMonthsGetNoRecentClaimsAndTheClaimCheckPasses() throws {
        let wide = try people(days: 365)
        let cutoff = "2026-08-22T00:00:00Z"  // 90 days before now
        let inactive = wide.filter { (Self.signals($0)["last_commit_at"] as? String ?? "") < cutoff && Self.signals($0)["repo"] != nil }
        XCTAssertGreaterThan(inactive.count, 5, "the world has people who stopped committing months ago")
        let input = inactive.map { String(data: try! JSONSerialization.data(withJSONObject: $0), encoding: .utf8)! }.joined(separator: "\n")
        let dir = Spawn.tempDirectory()
        let example = try String(contentsOfFile: Self.root + "/examples/campaign.yaml", encoding: .utf8)
        try example.replacingOccurrences(of: "  example: true\n", with: "")
            .replacingOccurrences(of: "template: [templates]", with: "template: [\(Self.root)/examples/templates]")
            .write(toFile: dir + "/campaign.yaml", atomically: true, encoding: .utf8)
        for llm in [false, true] {
            let r = try stage("render-copy", ["--config", dir + "/campaign.yaml"] + (llm ? ["--llm"] : []), stdin: input + "\n")
            let leads = try objects(r)
            XCTAssertEqual(leads.count, inactive.count)
            var counted = 0
            for lead in leads {
                let copy = try XCTUnwrap(lead["copy"] as? [String: Any])
                let text = "\(copy["subject"] ?? "")\n\(copy["body"] ?? "")"
                let login = lead["login"] as? String ?? ""
                for vague in ["recent", "lately", "few months", "this quarter", "90 days"] {
                    XCTAssertFalse(text.lowercased().contains(vague), "\(login) (llm \(llm)): '\(vague)' in\n\(text)")
                }
                for m in text.matches(of: #/last (\d+) days/#) { XCTAssertEqual(Int(m.1), 365, "\(login): \(text)") }
                let facts = Self.repoFacts(lead)
                for m in text.matches(of: #/(\d+) commits? to ([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)/#) {
                    XCTAssertEqual(Int(m.1), facts[String(m.2)]?["commits_in_window"] as? Int, "\(login): \(text)")
                    counted += 1
                }
                for m in text.matches(of: #/"([^"\n]+)"/#) {
                    let repo = Self.signals(lead)["repo"] as? String ?? ""
                    XCTAssertTrue((facts[repo]?["commit_titles"] as? [String] ?? []).contains(String(m.1)), "\(login): \(m.1) in \(repo)")
                }
                XCTAssertFalse(text.contains("Hi \(login),") || text.contains("Hello \(login),"), "\(login): greeted by login")
            }
            if llm { XCTAssertGreaterThan(counted, 0, "the model's lines quote counts, so the check saw some") }
            // bench/lead-quality.sh compares every claim with the record and finds none false.
            let out = dir + "/leads-\(llm).ndjson"
            try r.out.write(toFile: out, atomically: true, encoding: .utf8)
            let bench = try Spawn.run("/bin/bash", [Self.root + "/bench/lead-quality.sh", out, "python", "1"])
            XCTAssertEqual(bench.status, 0, bench.out + bench.err)
            XCTAssertTrue(bench.err.contains("false claims                           0"), bench.err)
        }
    }
}
