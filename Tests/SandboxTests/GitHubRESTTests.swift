import Foundation
import XCTest

/// Commits, contributors, users and events (apis.md §1.3–§1.6, §1.10).
final class GitHubRESTTests: XCTestCase {
    nonisolated(unsafe) static var sandbox: SandboxProcess?
    nonisolated(unsafe) static var truth: [String: Any] = [:]
    var sbx: SandboxProcess { Self.sandbox! }

    override class func setUp() {
        sandbox = try? SandboxProcess(["--seed", "5", "--repos", "120", "--users", "150"])
        if let s = sandbox { truth = (try? TestHTTP.request("GET", s.base + "/_sandbox/truth").object()) ?? [:] }
    }
    override class func tearDown() { sandbox?.stop() }
    override func setUpWithError() throws { if Self.sandbox == nil { throw SandboxTestError("sandbox failed to start") } }

    var contributions: [[String: Any]] { Self.truth["contributions"] as! [[String: Any]] }

    func testCommitsShapeWindowsAndNullAuthors() throws {
        let anon = try XCTUnwrap(contributions.first { $0["login"] is NSNull && ($0["commits"] as! Int) >= 1 })
        let repo = anon["repo"] as! String
        let all = try sbx.gh("/repos/\(repo)/commits?per_page=100")
        XCTAssertEqual(all.status, 200)
        let commits = try all.array()
        let c = commits[0]
        XCTAssertEqual((c["sha"] as! String).count, 40)
        XCTAssertTrue((c["html_url"] as! String).hasPrefix("https://github.com/\(repo)/commit/"))
        let author = (c["commit"] as! [String: Any])["author"] as! [String: Any]
        XCTAssertNotNil(author["name"] as? String)
        XCTAssertNotNil(author["email"] as? String)
        XCTAssertNotNil(author["date"] as? String)
        XCTAssertNotNil((c["commit"] as! [String: Any])["message"] as? String)
        let dates = commits.map { ((($0["commit"] as! [String: Any])["author"] as! [String: Any])["date"] as! String) }
        XCTAssertEqual(dates, dates.sorted(by: >), "newest first")
        let unlinked = commits.filter {
            ((($0["commit"] as! [String: Any])["author"] as! [String: Any])["email"] as! String).lowercased() == anon["email"] as! String
        }
        XCTAssertFalse(unlinked.isEmpty)
        XCTAssertTrue(unlinked.allSatisfy { $0["author"] is NSNull }, "an email no account owns gives author: null")

        // since/until bound the window (inclusive), as truth's first/last commit dates say.
        let first = anon["first_commit_at"] as! String
        let last = anon["last_commit_at"] as! String
        let enc = (anon["email"] as! String).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let window = try sbx.gh("/repos/\(repo)/commits?author=\(enc)&since=\(first)&until=\(last)&per_page=100").array()
        XCTAssertEqual(window.count, anon["commits"] as? Int)
        let after = try sbx.gh("/repos/\(repo)/commits?author=\(enc)&since=\(last)&per_page=100").array()
        XCTAssertEqual(after.count, 1)

        // author=login keeps the account's commits.
        let linked = try XCTUnwrap(contributions.first { $0["login"] is String && $0["repo"] as! String == repo })
        let login = linked["login"] as! String
        let mine = try sbx.gh("/repos/\(repo)/commits?author=\(login)&per_page=100").array()
        XCTAssertFalse(mine.isEmpty)
        XCTAssertTrue(mine.allSatisfy { (($0["author"] as? [String: Any])?["login"] as? String) == login })

        XCTAssertEqual(try sbx.gh("/repos/nobody/nothing/commits").status, 404)
    }

    func testCommitsPaginate() throws {
        let busiest = Dictionary(grouping: contributions, by: { $0["repo"] as! String })
            .mapValues { $0.reduce(0) { $0 + ($1["commits"] as! Int) } }.max { $0.value < $1.value }!
        XCTAssertGreaterThan(busiest.value, 10)
        let p1 = try sbx.gh("/repos/\(busiest.key)/commits?per_page=10")
        XCTAssertEqual(try p1.array().count, 10)
        XCTAssertTrue(p1.headers["link"]!.contains("per_page=10&page=2>; rel=\"next\""))
        var seen = 0
        var page = 1
        while true {
            let r = try sbx.gh("/repos/\(busiest.key)/commits?per_page=10&page=\(page)")
            seen += try r.array().count
            if !(r.headers["link"] ?? "").contains("rel=\"next\"") { break }
            page += 1
        }
        XCTAssertEqual(seen, busiest.value)
    }

    func testContributorsUsersAndEvents() throws {
        let repo = contributions[0]["repo"] as! String
        let list = try sbx.gh("/repos/\(repo)/contributors").array()
        let counts = list.map { $0["contributions"] as! Int }
        XCTAssertEqual(counts, counts.sorted(by: >))
        XCTAssertTrue(list.allSatisfy { $0["login"] is String })
        let withAnon = try sbx.gh("/repos/\(repo)/contributors?anon=1").array()
        XCTAssertTrue(withAnon.contains { $0["type"] as? String == "Anonymous" && $0["email"] is String })

        let login = try XCTUnwrap(list.first { $0["type"] as? String == "User" }?["login"] as? String)
        let user = try sbx.gh("/users/\(login)").object()
        for key in [
            "login", "id", "node_id", "type", "name", "company", "blog", "location", "email", "hireable", "bio",
            "twitter_username", "public_repos", "public_gists", "followers", "following", "created_at", "updated_at",
        ] {
            XCTAssertTrue(user.keys.contains(key), key)
        }
        let bot = try sbx.gh("/users/dependabot[bot]").object()
        XCTAssertEqual(bot["type"] as? String, "Bot")
        XCTAssertEqual(try sbx.gh("/users/no-such-user-here").status, 404)
        let renamed = try XCTUnwrap((Self.truth["renamed_users"] as? [[String: Any]])?.first)
        XCTAssertEqual(try sbx.gh("/users/\(renamed["previous_login"] as! String)").status, 404, "an old login no longer resolves")

        // Events: only the last 30 days, PushEvents without commits.
        let recent = try XCTUnwrap(contributions.first { $0["login"] is String && ($0["last_commit_at"] as! String) > "2026-11-01" })
        let events = try sbx.gh("/users/\(recent["login"] as! String)/events/public?per_page=100")
        XCTAssertEqual(events.headers["x-poll-interval"], "60")
        let list2 = try events.array()
        XCTAssertTrue(list2.contains { $0["type"] as? String == "PushEvent" })
        let times = list2.map { $0["created_at"] as! String }
        XCTAssertEqual(times, times.sorted(by: >))
        for e in list2 {
            XCTAssertGreaterThanOrEqual(e["created_at"] as! String, "2026-10-21")
            guard e["type"] as? String == "PushEvent" else { continue }
            let payload = e["payload"] as! [String: Any]
            XCTAssertEqual(Set(payload.keys), ["repository_id", "push_id", "ref", "head", "before"])
        }
    }

    func testEmptyRepositoryAndUserAgent() throws {
        let repos = Self.truth["repositories"] as! [[String: Any]]
        let empty = try XCTUnwrap(repos.first { $0["commits"] as? Int == 0 })["full_name"] as! String
        let commits = try sbx.gh("/repos/\(empty)/commits")
        XCTAssertEqual(commits.status, 409)
        XCTAssertEqual(try commits.object()["message"] as? String, "Git Repository is empty.")
        let contributors = try sbx.gh("/repos/\(empty)/contributors")
        XCTAssertEqual(contributors.status, 204)
        XCTAssertTrue(contributors.body.isEmpty)

        let noAgent = try TestHTTP.request(
            "GET", sbx.github + "/rate_limit", headers: ["Authorization": "Bearer \(sbx.token)", "User-Agent": ""])
        XCTAssertEqual(noAgent.status, 403)
        XCTAssertTrue(noAgent.text.contains("User-Agent"))

        let lenient = try SandboxProcess(["--repos", "10", "--users", "20", "--allow-missing-user-agent", "--empty-repo-lists"])
        defer { lenient.stop() }
        XCTAssertEqual(
            try TestHTTP.request(
                "GET", lenient.github + "/rate_limit", headers: ["Authorization": "Bearer \(lenient.token)", "User-Agent": ""]
            ).status, 200)
        let lenientTruth = try TestHTTP.request("GET", lenient.base + "/_sandbox/truth").object()
        let emptyHere = ((lenientTruth["repositories"] as! [[String: Any]]).first { $0["commits"] as? Int == 0 })!["full_name"] as! String
        let list = try lenient.gh("/repos/\(emptyHere)/commits")
        XCTAssertEqual(list.status, 200)
        XCTAssertEqual(list.text, "[]")
    }

    func testLastModifiedAndCommitterFilter() throws {
        let login = (contributions.first { $0["login"] is String })!["login"] as! String
        let user = try sbx.gh("/users/\(login)")
        let modified = try XCTUnwrap(user.headers["last-modified"])
        XCTAssertTrue(modified.hasSuffix(" GMT"))
        let used = user.headers["x-ratelimit-used"]!
        let again = try sbx.gh("/users/\(login)", headers: ["If-Modified-Since": modified])
        XCTAssertEqual(again.status, 304)
        XCTAssertEqual(again.headers["x-ratelimit-used"], used)
        XCTAssertEqual(try sbx.gh("/users/\(login)", headers: ["If-Modified-Since": "Thu, 01 Jan 2015 00:00:00 GMT"]).status, 200)

        let repo = (contributions.first { $0["login"] is String })!["repo"] as! String
        let byWebFlow = try sbx.gh("/repos/\(repo)/commits?committer=web-flow&per_page=100").array()
        XCTAssertTrue(
            byWebFlow.allSatisfy {
                ((($0["commit"] as! [String: Any])["committer"] as! [String: Any])["email"] as? String) == "noreply@github.com"
            })
    }

    func testIncompleteSearchResultsOnRequest() throws {
        let flaky = try SandboxProcess(["--repos", "60", "--users", "30", "--search-incomplete-rate", "1"])
        defer { flaky.stop() }
        let o = try flaky.gh("/search/repositories?q=stars:>=0&per_page=20").object()
        XCTAssertEqual(o["incomplete_results"] as? Bool, true)
        XCTAssertEqual((o["items"] as! [Any]).count, 10)
    }
}
