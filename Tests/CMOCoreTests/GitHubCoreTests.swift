@testable import CMOBasics
@testable import CMOGitHub
@testable import CMOEmail
import Foundation
import XCTest

final class GitHubCoreTests: XCTestCase {
    func testSliceKeepsTheRestOfTheQueryAndReadsStarAndDateRanges() {
        let s = GitHubSearchSlice(query: "language:python topic:\"machine learning\" stars:>100 created:2020-01-01..2020-12-31")
        XCTAssertEqual(s.rest, ["language:python", "topic:\"machine learning\""])
        XCTAssertEqual(s.starsLo, 101)
        XCTAssertNil(s.starsHi)
        XCTAssertEqual(s.query, "language:python topic:\"machine learning\" stars:>=101 created:2020-01-01..2020-12-31")
        XCTAssertEqual(GitHubSearchSlice(query: "stars:10..50").query, "stars:10..50")
        XCTAssertEqual(GitHubSearchSlice(query: "stars:<=5 go").query, "go stars:0..5")
        XCTAssertEqual(GitHubSearchSlice(query: "rust").query, "rust")
    }

    /// Splitting never loses or repeats a star count or a day, however deep it goes.
    func testSplitsCoverTheirParentWithoutOverlap() throws {
        var slices = [GitHubSearchSlice(query: "go stars:>=3")]
        let today = GitHubSearchSlice.dayNumber(year: 2026, month: 11, day: 20)
        for _ in 0..<6 {
            slices = slices.flatMap { $0.split(maxStarsSeen: 5000, today: today) ?? [$0] }
        }
        // Single star counts go on by creation day; those days must tile the whole span too.
        var byStars: [String: [(Int, Int)]] = [:]
        for s in slices where s.createdLo != nil { byStars["\(s.starsLo)", default: []].append((s.createdLo!, s.createdHi!)) }
        for (_, days) in byStars {
            let sorted = days.sorted { $0.0 < $1.0 }
            for (a, b) in zip(sorted, sorted.dropFirst()) { XCTAssertEqual(a.1 + 1, b.0) }
        }
        var seen = Set<String>()
        var ranges = slices.map { ($0.starsLo, $0.starsHi ?? Int.max) }.filter { seen.insert("\($0)").inserted }.sorted { $0.0 < $1.0 }
        XCTAssertEqual(ranges.first?.0, 3)
        XCTAssertEqual(ranges.last?.1, Int.max)
        for (a, b) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(a.1 + 1, b.0, "\(a) then \(b)") }
        // A single star count splits by creation day instead.
        let one = GitHubSearchSlice(query: "stars:7")
        let parts = try XCTUnwrap(one.split(maxStarsSeen: nil, today: today))
        XCTAssertEqual(parts.count, 2)
        XCTAssertEqual(parts[1].createdLo, GitHubSearchSlice.dayNumber(year: 2007, month: 10, day: 1))
        XCTAssertEqual(parts[1].createdHi! + 1, parts[0].createdLo)
        XCTAssertEqual(parts[0].createdHi, today + 1)
        XCTAssertTrue(parts[0].query.hasPrefix("stars:7 created:"), parts[0].query)
        ranges = []
        // A day that still has too many results cannot be split.
        var day = one
        day.createdLo = today
        day.createdHi = today
        XCTAssertNil(day.split(maxStarsSeen: nil, today: today))
    }

    func testNoreplyAndUsableEmails() {
        XCTAssertEqual(GitHubIdentity.noreply("123+Ada@users.noreply.github.com")?.id, 123)
        XCTAssertEqual(GitHubIdentity.noreply("123+Ada@users.noreply.github.com")?.login, "ada")
        XCTAssertEqual(GitHubIdentity.noreply("ada@users.noreply.github.com")?.login, "ada")
        XCTAssertNil(GitHubIdentity.noreply("ada@example.com"))
        XCTAssertTrue(GitHubIdentity.isUsableEmail("ada@example.com"))
        for bad in [
            "1+ada@users.noreply.github.com", "noreply@github.com", "49699333+dependabot[bot]@users.noreply.github.com", "ada",
            "ada@localhost", "@example.com", "ada@example",
        ] {
            XCTAssertFalse(GitHubIdentity.isUsableEmail(bad), bad)
        }
        XCTAssertTrue(GitHubIdentity.isBot(login: "dependabot[bot]"))
        XCTAssertTrue(GitHubIdentity.isBot(login: "anyone", type: "Bot"))
        XCTAssertTrue(GitHubIdentity.isBot(login: "web-flow"))
        XCTAssertFalse(GitHubIdentity.isBot(login: "ada", type: "User"))
    }

    func testLinkHeaderNext() {
        let h =
            #"<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=3>; rel="next", <https://api.github.com/x?page=9>; rel="last""#
        XCTAssertEqual(GitHubAPI.nextLink(h), "https://api.github.com/x?page=3")
        XCTAssertNil(GitHubAPI.nextLink(#"<https://api.github.com/x?page=1>; rel="first""#))
        XCTAssertNil(GitHubAPI.nextLink(nil))
    }

    func testAdaptiveBatchSizeHalvesAndGrowsBack() {
        var b = AdaptiveBatchSize(100)
        b.failed(batch: 100)
        XCTAssertEqual(b.current, 50)
        b.failed(batch: 50)
        XCTAssertEqual(b.current, 25)
        for _ in 0..<4 { b.succeeded() }
        XCTAssertEqual(b.current, 50)
        for _ in 0..<20 { b.succeeded() }
        XCTAssertEqual(b.current, 100, "never above the maximum")
        var one = AdaptiveBatchSize(1)
        one.failed(batch: 1)
        XCTAssertEqual(one.current, 1)
    }

    func testPeopleMergeAcrossRepositoriesAndDropBotsAndNoreply() {
        let people = GitHubPeople(since: Date(timeIntervalSince1970: 0), topPerRepo: 1)
        func c(_ sha: String, _ login: String?, _ id: Int?, _ email: String, _ date: String) -> CommitFact {
            CommitFact(sha: sha, date: date, title: "t\(sha)", email: email, login: login, userID: id, bot: false)
        }
        people.add(
            RepoHistory(
                fullName: "o/a", pushedAt: nil, coveredSince: "1970-01-01T00:00:00Z",
                commits: [
                    c("1", "ada", 1, "ada@x.io", "2026-01-02T00:00:00Z"),
                    c("2", "ada", 1, "1+ada@users.noreply.github.com", "2026-01-03T00:00:00Z"),
                    c("3", "bob", 2, "bob@x.io", "2026-01-01T00:00:00Z"),
                    c("4", "dependabot[bot]", 3, "3+dependabot[bot]@users.noreply.github.com", "2026-01-01T00:00:00Z"),
                    c("5", "dependabot[bot]", 3, "x@y.io", "2026-01-01T00:00:00Z"), c("6", nil, nil, "anon@x.io", "2026-01-01T00:00:00Z"),
                ]))
        people.add(
            RepoHistory(
                fullName: "ada/b", pushedAt: nil, coveredSince: "1970-01-01T00:00:00Z",
                commits: [c("7", "ada", 1, "ada@home.io", "2026-02-01T00:00:00Z")]))
        let records = people.records(limit: nil)
        XCTAssertEqual(records.count, 1, "bob is not in o/a's top 1; the bot and the unlinked author never count")
        let ada = JSONValue.object(records[0].map { JSONMember($0.0, $0.1) })
        XCTAssertEqual(ada["from_repos"], ["o/a", "ada/b"])
        XCTAssertEqual(ada["signals"]?["commits_in_window"], 3)
        XCTAssertNil(ada["signals"]?["commits_90d"], "no window given: no 90-day count claimed")
        XCTAssertNil(ada["signals"]?["window_days"])
        XCTAssertEqual(ada["signals"]?["repos"]?.arrayValue?.compactMap { $0["commits_in_window"]?.intValue }, [2, 1])
        XCTAssertEqual(ada["signals"]?["maintainer_of"], ["o/a", "ada/b"])
        XCTAssertEqual(ada["emails"]?.arrayValue?.compactMap { $0["address"]?.stringValue }, ["ada@home.io", "ada@x.io"])
        XCTAssertEqual(ada["emails"]?.arrayValue?.first?["evidence"], "ada/b@7")
        XCTAssertEqual(people.botsDropped, 1)
    }

    /// Counts are for the window the record names, per repository for the repository; titles are the
    /// person's own quotable work in that repository (issue 26).
    func testCountsTitlesAndStarsArePerRepositoryAndForTheWindow() throws {
        let now = try XCTUnwrap(GitHubTime.parse("2026-11-20T00:00:00Z"))
        func c(_ sha: String, _ title: String, _ date: String, login: String = "ada", id: Int = 1) -> CommitFact {
            CommitFact(sha: sha, date: date, title: title, email: "\(login)@x.io", login: login, userID: id, bot: false)
        }
        func people(days: Int) -> JSONValue {
            let p = GitHubPeople(since: now.addingTimeInterval(-Double(days) * 86400), windowDays: days, topPerRepo: nil)
            p.repos = [
                "ada/flow": .init(stars: 12, language: "Python", topics: [], query: GitHubQueryTerms(query: "language:python")),
                "big/other": .init(stars: 9000, language: "Go", topics: [], query: GitHubQueryTerms(query: "language:python")),
            ]
            p.add(
                RepoHistory(
                    fullName: "ada/flow", pushedAt: nil, coveredSince: "2025-01-01T00:00:00Z",
                    commits: [
                        c("1", "Merge pull request #1912 from ada/fix-1", "2026-11-19T00:00:00Z"),
                        c("2", "Update README.md", "2026-11-18T00:00:00Z"), c("3", "Add async API", "2026-11-10T00:00:00Z"),
                        c("4", "Bump version to 1.2.0", "2026-11-09T00:00:00Z"), c("5", "Speed up parser", "2026-03-01T00:00:00Z"),
                    ]))
            p.add(
                RepoHistory(
                    fullName: "big/other", pushedAt: nil, coveredSince: "2025-01-01T00:00:00Z",
                    commits: (10..<20).map { c("\($0)", "Fix retry logic \($0)", "2026-11-1\($0 % 10)T00:00:00Z") }))
            return .object(p.records(limit: nil)[0].map { JSONMember($0.0, $0.1) })
        }
        let wide = people(days: 365)
        let s = try XCTUnwrap(wide["signals"])
        XCTAssertEqual(s["window_days"], 365)
        XCTAssertEqual(s["window_start"], "2025-11-20T00:00:00Z")
        XCTAssertEqual(s["commits_in_window"], 15)
        XCTAssertEqual(s["commits_90d"], 14, "the 90-day count is the last 90 days' only")
        XCTAssertEqual(s["repo"], "ada/flow", "the repository that matched the search")
        XCTAssertEqual(s["repo_commits_in_window"], 5, "that repository's own count, not the total")
        XCTAssertEqual(s["repo_stars"], 12, "that repository's own stars, not the most among the person's")
        XCTAssertEqual(s["repo_commit_title"], "Add async API", "the newest title that is the person's own work")
        let flow = try XCTUnwrap(s["repos"]?.arrayValue?.first { $0["repo"] == "ada/flow" })
        XCTAssertEqual(flow["commit_titles"], ["Add async API", "Speed up parser"])
        XCTAssertEqual(flow["stars"], 12)
        XCTAssertEqual(flow["last_commit_at"], "2026-11-19T00:00:00Z")
        for t in s["recent_commit_titles"]?.arrayValue ?? [] { XCTAssertTrue(CommitTitle.isQuotable(t.stringValue ?? ""), "\(t)") }
        // A 60-day window: the March commit is not counted anywhere, and no 90-day count is claimed.
        let narrow = try XCTUnwrap(people(days: 60)["signals"])
        XCTAssertEqual(narrow["window_days"], 60)
        XCTAssertEqual(narrow["commits_in_window"], 14)
        XCTAssertEqual(narrow["repo_commits_in_window"], 4)
        XCTAssertNil(narrow["commits_90d"])
        XCTAssertEqual(narrow["repos"]?.arrayValue?.first { $0["repo"] == "ada/flow" }?["commit_titles"], ["Add async API"])
    }

    func testCommitTitlesThatAreNotThePersonsWorkAreNotQuoted() {
        let unquotable: [(String, CommitTitle.Unquotable)] = [
            ("Merge pull request #1912 from ssilva4712/fix-12", .merge), ("Merge branch 'main' into feature-2", .merge),
            ("Merge branch 'main' of github.com:o/r", .merge), ("Merge remote-tracking branch 'origin/main'", .merge),
            ("Revert \"Add async API\"", .revert), ("Revert: parser change", .revert),
            ("Bump requests from 2.31.0 to 2.32.0", .dependency), ("build(deps): bump actions/checkout from 3 to 4", .dependency),
            ("chore(deps): update dependency pytest to v8", .dependency), ("Update tokio from 1.2.0 to 1.3.0", .dependency),
            ("[pre-commit.ci] pre-commit autoupdate", .dependency), ("Update poetry.lock", .dependency),
            ("v1.2.3", .release), ("Release 1.2", .release), ("release 1.2", .release), ("Bump version to 2.0.1", .release),
            ("chore(release): 1.4.0", .release), ("1.4.0", .release), ("Prepare release v2.0.0", .release),
            ("Update README.md", .docs), ("Update README", .docs), ("fix typo", .docs), ("Fix typos in docs", .docs),
            ("docs: explain retries", .docs), ("Document config loading", .docs), ("Update CHANGELOG", .docs),
            ("wip", .trivial), ("WIP: parser", .trivial), (".", .trivial), ("Fix", .trivial), ("Update", .trivial),
            ("minor fixes", .trivial), ("Update main.py", .trivial), ("Create ci.yml", .trivial), ("Initial commit", .trivial),
            ("chore: update generated files", .trivial), ("Add files via upload", .trivial), ("cleanup", .trivial),
        ]
        for (title, why) in unquotable { XCTAssertEqual(CommitTitle.unquotable(title), why, title) }
        for title in [
            "Add async API", "Fix retry logic", "Speed up parser edge case", "Update CI workflow", "Refactor config loading",
            "Add support for Python 3.13", "Fix memory leak in pool", "Merge duplicate cache entries", "Improve error messages",
            "Release the lock before retrying", "Add --dry-run to the CLI",
        ] {
            XCTAssertNil(CommitTitle.unquotable(title), title)
        }
    }
}
