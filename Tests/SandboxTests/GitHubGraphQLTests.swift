import Foundation
import XCTest

/// GitHub GraphQL (apis.md §1.11): aliases, `nodes(ids:)`, commit history, costs, `RATE_LIMITED`.
final class GitHubGraphQLTests: XCTestCase {
    nonisolated(unsafe) static var sandbox: SandboxProcess?
    var sbx: SandboxProcess { Self.sandbox! }

    override class func setUp() { sandbox = try? SandboxProcess(["--seed", "11", "--repos", "60", "--users", "120"]) }
    override class func tearDown() { sandbox?.stop() }
    override func setUpWithError() throws { if Self.sandbox == nil { throw SandboxTestError("sandbox failed to start") } }

    func logins(_ n: Int) throws -> [String] {
        let repos = try sbx.gh("/search/repositories?q=stars:>=0&per_page=50").object()["items"] as! [[String: Any]]
        var out: [String] = []
        for r in repos {
            for c in try sbx.gh("/repos/\(r["full_name"] as! String)/contributors").array() where c["type"] as? String == "User" {
                let l = c["login"] as! String
                if !out.contains(l) { out.append(l) }
                if out.count == n { return out }
            }
        }
        return out
    }

    func testAliasesVariablesFragmentsAndNotFound() throws {
        let ls = try logins(3)
        let query = """
            fragment F on User { login name email company location bio websiteUrl twitterUsername isHireable
              followers { totalCount } repositories(privacy: PUBLIC) { totalCount } createdAt databaseId }
            query Batch($a: String!) {
              u0: user(login: $a) { ...F }
              u1: user(login: "\(ls[1])") { ...F }
              u2: user(login: "no-such-login-anywhere") { ...F }
              rateLimit { cost limit remaining used resetAt nodeCount }
            }
            """
        let r = try sbx.graphQL(query, variables: ["a": ls[0]])
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.headers["x-ratelimit-resource"], "graphql")
        let o = try r.object()
        let data = o["data"] as! [String: Any]
        let u0 = data["u0"] as! [String: Any]
        XCTAssertEqual(u0["login"] as? String, ls[0])
        XCTAssertNotNil(u0["email"] as? String, "email is String!, \"\" when hidden")
        XCTAssertNotNil((u0["followers"] as? [String: Any])?["totalCount"] as? Int)
        XCTAssertEqual((data["u1"] as? [String: Any])?["login"] as? String, ls[1])
        let rest = try sbx.gh("/users/\(ls[0])").object()
        XCTAssertEqual((u0["repositories"] as? [String: Any])?["totalCount"] as? Int, rest["public_repos"] as? Int)
        XCTAssertEqual((u0["followers"] as? [String: Any])?["totalCount"] as? Int, rest["followers"] as? Int)
        XCTAssertEqual(u0["databaseId"] as? Int, rest["id"] as? Int)
        XCTAssertEqual(u0["email"] as? String, (rest["email"] as? String) ?? "")
        XCTAssertTrue(data["u2"] is NSNull)
        let errors = o["errors"] as! [[String: Any]]
        XCTAssertEqual(errors.count, 1)
        XCTAssertEqual(errors[0]["type"] as? String, "NOT_FOUND")
        XCTAssertEqual(errors[0]["path"] as? [String], ["u2"])
        let rl = data["rateLimit"] as! [String: Any]
        XCTAssertEqual(rl["cost"] as? Int, 1, "an aliased batch of small lookups costs 1 point")
        XCTAssertEqual(rl["limit"] as? Int, 5000)
        XCTAssertEqual(rl["remaining"] as? Int, Int(r.headers["x-ratelimit-remaining"]!))
        XCTAssertNotNil(rl["resetAt"] as? String)
    }

    func testNodesByIDAndArgumentLimit() throws {
        let ls = try logins(2)
        let ids = try ls.map { try sbx.gh("/users/\($0)").object()["node_id"] as! String }
        let ok = try sbx.graphQL(
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename ... on User { login } } }", variables: ["ids": ids + ["bm9wZQ=="]])
        let nodes = (try ok.object()["data"] as! [String: Any])["nodes"] as! [Any]
        XCTAssertEqual(nodes.count, 3)
        XCTAssertEqual((nodes[0] as? [String: Any])?["login"] as? String, ls[0])
        XCTAssertEqual((nodes[1] as? [String: Any])?["__typename"] as? String, "User")
        XCTAssertTrue(nodes[2] is NSNull)

        let many = Array(repeating: ids[0], count: 101)
        let over = try sbx.graphQL("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", variables: ["ids": many])
        XCTAssertEqual(over.status, 200)
        let errors = try over.object()["errors"] as! [[String: Any]]
        XCTAssertEqual(errors.first?["type"] as? String, "ARGUMENT_LIMIT")
    }

    func testCommitHistoryWithEmailsAndLinkedUsers() throws {
        let repo = (try sbx.gh("/search/repositories?q=stars:>=0&sort=stars&per_page=1").object()["items"] as! [[String: Any]])[0]
        let owner = (repo["owner"] as! [String: Any])["login"] as! String
        let name = repo["name"] as! String
        let rest = try sbx.gh("/repos/\(owner)/\(name)/commits?per_page=100&since=2000-01-01T00:00:00Z").array()
        let query = """
            query($o: String!, $n: String!, $after: String) {
              r0: repository(owner: $o, name: $n) { defaultBranchRef { target { ... on Commit {
                history(first: 5, since: "2000-01-01T00:00:00Z", after: $after) {
                  pageInfo { hasNextPage endCursor } totalCount
                  nodes { oid messageHeadline committedDate author { name email date user { login databaseId } } } } } } } }
              rateLimit { cost }
            }
            """
        var seen: [[String: Any]] = []
        var after: Any = NSNull()
        var total = 0
        repeat {
            let o = try sbx.graphQL(query, variables: ["o": owner, "n": name, "after": after]).object()
            let history =
                ((((o["data"] as! [String: Any])["r0"] as! [String: Any])["defaultBranchRef"] as! [String: Any])["target"] as! [String: Any])[
                    "history"] as! [String: Any]
            total = history["totalCount"] as! Int
            seen += history["nodes"] as! [[String: Any]]
            let page = history["pageInfo"] as! [String: Any]
            guard page["hasNextPage"] as? Bool == true, seen.count < 25 else { break }
            after = page["endCursor"]!
        } while true
        if rest.count < 100 { XCTAssertEqual(total, rest.count) }
        for (g, r) in zip(seen, rest) {
            XCTAssertEqual(g["oid"] as? String, r["sha"] as? String)
            let ga = g["author"] as! [String: Any]
            let ra = (r["commit"] as! [String: Any])["author"] as! [String: Any]
            XCTAssertEqual(ga["email"] as? String, ra["email"] as? String)
            // GitActor.user is a User: a bot's commits (REST `author.type: "Bot"`) have `user: null`.
            let restAuthor = r["author"] as? [String: Any]
            let restLogin = restAuthor?["type"] as? String == "Bot" ? nil : restAuthor?["login"] as? String
            XCTAssertEqual((ga["user"] as? [String: Any])?["login"] as? String, restLogin)
        }
    }

    func testCostsPaginationChecksAndUnknownFields() throws {
        let heavy = try sbx.graphQL(
            """
            { viewer { repositories(first: 100) { nodes { defaultBranchRef { target { ... on Commit { history(first: 100) { totalCount } } } } } } }
              rateLimit(dryRun: true) { cost nodeCount } }
            """)
        let rl = ((try heavy.object()["data"] as! [String: Any])["rateLimit"] as! [String: Any])
        XCTAssertEqual(rl["cost"] as? Int, 1, "(1 + 100) requests / 100, rounded")
        XCTAssertEqual(rl["nodeCount"] as? Int, 100 + 100 * 100)
        let excessive = try sbx.graphQL("{ viewer { repositories(first: 101) { nodes { name } } } }").object()
        XCTAssertEqual((excessive["errors"] as? [[String: Any]])?.first?["type"] as? String, "EXCESSIVE_PAGINATION")
        XCTAssertNil(excessive["data"])
        let unknown = try sbx.graphQL("{ viewer { login favouriteColour } }").object()
        XCTAssertNil(unknown["data"])
        XCTAssertEqual(
            (unknown["errors"] as? [[String: Any]])?.first?["message"] as? String, "Field 'favouriteColour' doesn't exist on type 'User'")
        let unknownOnMissing = try sbx.graphQL("{ u: user(login: \"nobody-here\") { login favouriteColour } }").object()
        XCTAssertNil(unknownOnMissing["data"], "the query is validated before it runs")
        XCTAssertEqual(
            ((unknownOnMissing["errors"] as? [[String: Any]])?.first?["extensions"] as? [String: Any])?["code"] as? String, "undefinedField"
        )
        let syntax = try sbx.graphQL("{ viewer { login }").object()
        XCTAssertNotNil(syntax["errors"])
    }

    func testPrimaryExhaustionIsHTTP200WithRateLimitedError() throws {
        let small = try SandboxProcess(["--repos", "10", "--users", "20", "--graphql-limit", "2"])
        defer { small.stop() }
        for _ in 0..<2 { XCTAssertNotNil(try small.graphQL("{ viewer { login } }").object()["data"]) }
        let over = try small.graphQL("{ viewer { login } }")
        XCTAssertEqual(over.status, 200)
        XCTAssertEqual(over.headers["x-ratelimit-remaining"], "0")
        let o = try over.object()
        XCTAssertEqual((o["errors"] as? [[String: Any]])?.first?["type"] as? String, "RATE_LIMITED")
        XCTAssertEqual(try small.stats()["violations_total"] as? Int, 1)
        XCTAssertEqual((try small.stats()["quota_spent"] as? [String: Int])?["github/graphql"], 2)
        let anonymous = try TestHTTP.request("POST", small.github + "/graphql", body: Array(#"{"query":"{ viewer { login } }"}"#.utf8))
        XCTAssertEqual(anonymous.status, 401)
    }
}
