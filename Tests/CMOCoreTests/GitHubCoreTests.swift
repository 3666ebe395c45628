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
        XCTAssertEqual(ada["signals"]?["commits_90d"], 3)
        XCTAssertEqual(ada["signals"]?["maintainer_of"], ["o/a", "ada/b"])
        XCTAssertEqual(ada["emails"]?.arrayValue?.compactMap { $0["address"]?.stringValue }, ["ada@home.io", "ada@x.io"])
        XCTAssertEqual(ada["emails"]?.arrayValue?.first?["evidence"], "ada/b@7")
        XCTAssertEqual(people.botsDropped, 1)
    }
}
