import CMOSandbox
import CMOTestSupport
import Foundation
import XCTest

@testable import CMOBasics
@testable import CMOGitHub

/// The world's large repository (thousands of commits, more than 100 contributors) pages through
/// REST `Link` headers and GraphQL history cursors to every commit; its `author: {}` commits (GitHub's
/// "Empty Object") and unlinked authors do not break the clients and are nobody's person record.
final class GitHubLargeRepositoryTests: XCTestCase {
    nonisolated(unsafe) static var sandbox: SandboxProcess?
    nonisolated(unsafe) static var restCommits: [[String: Any]]?
    var sbx: SandboxProcess { Self.sandbox! }

    override class func setUp() { sandbox = try? SandboxProcess(["--seed", "21", "--repos", "30", "--users", "200"]) }
    override class func tearDown() { sandbox?.stop() }
    override func setUpWithError() throws { if Self.sandbox == nil { throw SandboxTestError("sandbox failed to start") } }

    func large() throws -> [String: Any] {
        let truth = try TestHTTP.request("GET", sbx.base + "/_sandbox/truth").object()
        let repos = truth["repositories"] as! [[String: Any]]
        XCTAssertEqual(repos.filter { $0["large"] as? Bool == true }.count, 1, "one large repository in a world of 30")
        return try XCTUnwrap(repos.first { $0["large"] as? Bool == true })
    }

    /// Every commit through REST `Link: rel="next"`, 100 a page.
    func allRESTCommits(_ fullName: String) throws -> (commits: [[String: Any]], pages: Int) {
        var url: String? = sbx.github + "/repos/\(fullName)/commits?per_page=100"
        var commits: [[String: Any]] = []
        var pages = 0
        while let next = url {
            let r = try TestHTTP.request("GET", next, headers: ["Authorization": "Bearer \(sbx.token)"])
            XCTAssertEqual(r.status, 200)
            commits += try r.array()
            pages += 1
            url = r.headers["link"].flatMap { link in
                link.components(separatedBy: ", ").first { $0.hasSuffix("rel=\"next\"") }.map {
                    String($0.dropFirst().prefix { $0 != ">" })
                }
            }
        }
        return (commits, pages)
    }

    func testRESTLinkPagesReachEveryCommit() throws {
        let repo = try large()
        let total = repo["commits"] as! Int
        XCTAssertGreaterThanOrEqual(total, 2000)
        let (commits, pages) = try allRESTCommits(repo["full_name"] as! String)
        XCTAssertEqual(commits.count, total)
        XCTAssertEqual(pages, (total + 99) / 100)
        XCTAssertEqual(Set(commits.map { $0["sha"] as! String }).count, total)
        let now = try XCTUnwrap(WorldTime.parse("2026-11-20T00:00:00Z"))
        let inWindow = commits.filter {
            let date = (($0["commit"] as! [String: Any])["committer"] as! [String: Any])["date"] as! String
            return WorldTime.parse(date)! >= now - 90 * 86400
        }
        XCTAssertGreaterThanOrEqual(inWindow.count, 1000, "thousands of commits in the 90-day window")
        Self.restCommits = commits
    }

    func testContributorsSpanSeveralPages() throws {
        let repo = try large()
        let first = try sbx.gh("/repos/\(repo["full_name"] as! String)/contributors?per_page=100")
        XCTAssertEqual(try first.array().count, 100)
        XCTAssertTrue(first.headers["link"]?.contains("rel=\"next\"") == true)
        let second = try sbx.gh("/repos/\(repo["full_name"] as! String)/contributors?per_page=100&page=2").array()
        XCTAssertGreaterThan(second.count, 0, "more than 100 contributors")
    }

    func testGraphQLHistoryCursorsReachEveryCommit() throws {
        let repo = try large()
        let parts = (repo["full_name"] as! String).split(separator: "/").map(String.init)
        let query = """
            query($o: String!, $n: String!, $after: String) { repository(owner: $o, name: $n) { defaultBranchRef { target {
              ... on Commit { history(first: 100, after: $after) { totalCount pageInfo { hasNextPage endCursor }
                nodes { oid author { name email user { login } } } } } } } } }
            """
        var after: Any = NSNull()
        var oids: [String] = []
        var nodes: [[String: Any]] = []
        var total = 0
        var pages = 0
        repeat {
            let o = try sbx.graphQL(query, variables: ["o": parts[0], "n": parts[1], "after": after]).object()
            XCTAssertNil(o["errors"])
            let repository = (o["data"] as! [String: Any])["repository"] as! [String: Any]
            let history = ((repository["defaultBranchRef"] as! [String: Any])["target"] as! [String: Any])["history"] as! [String: Any]
            total = history["totalCount"] as! Int
            let page = history["nodes"] as! [[String: Any]]
            nodes += page
            oids += page.map { $0["oid"] as! String }
            pages += 1
            let info = history["pageInfo"] as! [String: Any]
            guard info["hasNextPage"] as? Bool == true, pages < 100 else { break }
            after = info["endCursor"]!
        } while true
        XCTAssertEqual(total, repo["commits"] as! Int)
        XCTAssertEqual(oids.count, total)
        XCTAssertEqual(Set(oids).count, total)
        // Commits without an account: name and email are there, the user is null.
        let empty = Set(repo["empty_author_commits"] as! [String])
        XCTAssertFalse(empty.isEmpty)
        for n in nodes where empty.contains(n["oid"] as! String) {
            let author = n["author"] as! [String: Any]
            XCTAssertTrue(author["user"] is NSNull)
            XCTAssertFalse((author["name"] as? String ?? "").isEmpty)
            XCTAssertTrue((author["email"] as? String ?? "").contains("@"))
        }
    }

    func testEmptyAuthorObjectsAsGitHubSendsThem() throws {
        let repo = try large()
        let commits = try Self.restCommits ?? allRESTCommits(repo["full_name"] as! String).commits
        let empty = Set(repo["empty_author_commits"] as! [String])
        let found = commits.filter { empty.contains($0["sha"] as! String) }
        XCTAssertEqual(found.count, empty.count)
        for c in found {
            XCTAssertEqual((c["author"] as? [String: Any])?.count, 0, "`author: {}`, not null")
            let git = (c["commit"] as! [String: Any])["author"] as! [String: Any]
            XCTAssertTrue((git["email"] as? String ?? "").contains("@"))
            let text = String(decoding: try JSONSerialization.data(withJSONObject: c), as: UTF8.self)
            let fact = try XCTUnwrap(GitHubHistoryFetcher.fact(rest: try JSONScanner.parse(text)))
            XCTAssertNil(fact.login)
            XCTAssertNil(fact.userID)
        }
        XCTAssertTrue(commits.contains { $0["author"] is NSNull }, "unlinked commits still say `author: null`")
    }

    /// gh-people over the large repository, through GraphQL and REST: it finishes, and every person
    /// is an account (commits with `author: {}` or `null` are nobody's record).
    func testGHPeopleCopesWithManyPagesAndEmptyAuthors() throws {
        guard FileManager.default.isExecutableFile(atPath: Spawn.executable("gh-people")) else {
            throw XCTSkip("gh-people is not built next to the tests")
        }
        let repo = try large()
        let record = try JSONSerialization.data(withJSONObject: [
            "kind": "repo", "id": repo["id"]!, "full_name": repo["full_name"]!, "pushed_at": repo["pushed_at"]!,
        ])
        let env = sbx.launcher.githubEnvironment
        var found: [String: Set<String>] = [:]
        for api in ["graphql", "rest"] {
            let r = try Spawn.run(
                "gh-people", ["--now", "2026-11-20T00:00:00Z", "--api", api, "--top-authors-per-repo", "0", "-q"],
                stdin: record + Data("\n".utf8), environment: env)
            XCTAssertEqual(r.status, 0, "\(api): \(r.err)")
            let people = try r.lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
            XCTAssertGreaterThan(people.count, 20, api)
            for p in people {
                XCTAssertNotNil(p["login"] as? String, api)
                XCTAssertNotNil(p["id"] as? Int, api)
            }
            found[api] = Set(people.compactMap { $0["login"] as? String })
        }
        // GraphQL reads the busy history in time slices, REST page after page: the same people.
        XCTAssertEqual(found["graphql"], found["rest"])
        XCTAssertEqual(try sbx.stats()["violations_total"] as? Int, 0)
    }
}
