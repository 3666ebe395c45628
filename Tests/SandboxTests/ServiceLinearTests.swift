import Foundation
import XCTest

@testable import CMOSandbox

final class ServiceLinearTests: XCTestCase {
    let key = "lin_api_sandbox"

    func make(_ configure: (inout LinearOptions) -> Void = { _ in }) -> (LinearService, SandboxStats, TestClock) {
        let stats = SandboxStats()
        let clock = TestClock()
        var o = LinearOptions()
        o.clock = clock.clock
        configure(&o)
        return (LinearService(stats: stats, seed: 7, token: key, options: o), stats, clock)
    }

    func gql(_ s: LinearService, _ query: String, _ variables: [String: Any] = [:], auth: String? = nil) -> SandboxResponse {
        s.handle(
            sandboxRequest("POST", "/graphql", json: ["query": query, "variables": variables], headers: ["authorization": auth ?? key]))!
    }

    let create = """
        mutation Create($input: IssueCreateInput!) {
          issueCreate(input: $input) { success lastSyncId issue { id identifier title url parent { identifier } labels { nodes { name } } } }
        }
        """

    func testAPIKeyWithoutBearerAndOAuthWithBearer() {
        let (s, _, _) = make()
        XCTAssertEqual(gql(s, "{ viewer { id } }").status, 200)
        let bearerKey = gql(s, "{ viewer { id } }", auth: "Bearer \(key)")
        XCTAssertEqual(bearerKey.status, 401)
        let error = (jsonObject(bearerKey)["errors"] as? [[String: Any]])?.first?["extensions"] as? [String: Any]
        XCTAssertEqual(error?["type"] as? String, "authentication error")
        XCTAssertEqual(gql(s, "{ viewer { id } }", auth: "Bearer lin_oauth_sandbox").status, 200)
        XCTAssertEqual(s.handle(sandboxRequest("POST", "/graphql", json: ["query": "{ viewer { id } }"]))?.status, 401)
    }

    func testAliasesFragmentsAndTypename() {
        let (s, _, _) = make()
        let r = jsonObject(
            gql(
                s,
                """
                query { me: viewer { ...U } all: teams(first: 2) { nodes { __typename id key } pageInfo { hasNextPage endCursor } } }
                fragment U on User { id name __typename }
                """))
        let data = r["data"] as? [String: Any] ?? [:]
        XCTAssertEqual((data["me"] as? [String: Any])?["__typename"] as? String, "User")
        let teams = data["all"] as? [String: Any] ?? [:]
        XCTAssertEqual((teams["nodes"] as? [[String: Any]])?.map { $0["key"] as? String }, ["ENG", "GRO"])
        XCTAssertEqual((teams["pageInfo"] as? [String: Any])?["hasNextPage"] as? Bool, true)
    }

    func testIssueCreateWithClientIDAndDuplicate() {
        let (s, stats, _) = make()
        let team = s.teams[0].id
        let id = "8f1c2a3b-4d5e-4f60-9a7b-8c9d0e1f2a3b"
        let input: [String: Any] = ["teamId": team, "title": "Dead letters: gh-people", "description": "3 records", "id": id]
        let first = gql(s, create, ["input": input])
        XCTAssertEqual(first.status, 200)
        let payload = ((jsonObject(first)["data"] as? [String: Any])?["issueCreate"] as? [String: Any]) ?? [:]
        XCTAssertEqual(payload["success"] as? Bool, true)
        let issue = payload["issue"] as? [String: Any] ?? [:]
        XCTAssertEqual(issue["id"] as? String, id)
        XCTAssertEqual(issue["identifier"] as? String, "ENG-1")
        XCTAssertNotNil(first.header("x-ratelimit-requests-remaining"))
        XCTAssertNotNil(first.header("x-complexity"))

        let second = gql(s, create, ["input": input])
        XCTAssertEqual(second.status, 200)
        let body = jsonObject(second)
        XCTAssertTrue(body["data"] is NSNull, "issueCreate's IssuePayload! cannot be null: data is nulled")
        let ext = (body["errors"] as? [[String: Any]])?.first?["extensions"] as? [String: Any]
        XCTAssertEqual(ext?["code"] as? String, "INVALID_INPUT")
        XCTAssertEqual(ext?["type"] as? String, "invalid input")
        // Both the client id and the title+team key show as duplicates.
        XCTAssertEqual(stats.snapshot()["duplicates_total"] as? Int, 2)

        // Find it by title within the team.
        let found = jsonObject(
            gql(
                s,
                """
                query($team: ID!, $title: String!) { issues(filter: {team: {id: {eq: $team}}, title: {eq: $title}}, first: 1) { nodes { id identifier } } }
                """, ["team": team, "title": "Dead letters: gh-people"]))
        let nodes = ((found["data"] as? [String: Any])?["issues"] as? [String: Any])?["nodes"] as? [[String: Any]]
        XCTAssertEqual(nodes?.map { $0["id"] as? String }, [id])
        let none = jsonObject(gql(s, "{ issues(filter: {title: {eq: \"nope\"}}) { nodes { id } } }"))
        XCTAssertEqual((((none["data"] as? [String: Any])?["issues"] as? [String: Any])?["nodes"] as? [Any])?.count, 0)
    }

    func testDuplicateIDReturnExistingOptionAndUUIDVersion() {
        let (s, _, _) = make { $0.duplicateID = .returnExisting }
        let team = s.teams[1].id
        let input: [String: Any] = ["teamId": team, "title": "x", "id": "8f1c2a3b-4d5e-4f60-9a7b-8c9d0e1f2a3b"]
        _ = gql(s, create, ["input": input])
        let again = jsonObject(gql(s, create, ["input": input]))
        XCTAssertEqual(
            (((again["data"] as? [String: Any])?["issueCreate"] as? [String: Any])?["issue"] as? [String: Any])?["identifier"] as? String,
            "GRO-1")
        // A version-5 UUID is refused by default…
        let v5: [String: Any] = ["teamId": team, "title": "y", "id": "8f1c2a3b-4d5e-5f60-9a7b-8c9d0e1f2a3b"]
        XCTAssertNotNil(jsonObject(gql(s, create, ["input": v5]))["errors"])
        // …and taken when the check is off.
        let (relaxed, _, _) = make { $0.requireUUIDv4 = false }
        XCTAssertNil(jsonObject(gql(relaxed, create, ["input": ["teamId": relaxed.teams[0].id, "title": "y", "id": v5["id"]!]]))["errors"])
    }

    func testParentByIdentifierLabelsAndChildren() {
        let (s, _, _) = make()
        let team = s.teams[0].id
        _ = gql(s, create, ["input": ["teamId": team, "title": "Run 42"]])
        let labels = jsonObject(
            gql(s, "{ issueLabels(filter: {name: {eq: \"dead-letter\"}, team: {key: {eq: \"ENG\"}}}) { nodes { id } } }"))
        let labelID =
            ((((labels["data"] as? [String: Any])?["issueLabels"] as? [String: Any])?["nodes"] as? [[String: Any]])?.first?["id"] as? String)
            ?? ""
        let child = jsonObject(
            gql(s, create, ["input": ["teamId": team, "title": "Bad line", "parentId": "ENG-1", "labelIds": [labelID]]]))
        let issue = (((child["data"] as? [String: Any])?["issueCreate"] as? [String: Any])?["issue"] as? [String: Any]) ?? [:]
        XCTAssertEqual((issue["parent"] as? [String: Any])?["identifier"] as? String, "ENG-1")
        XCTAssertEqual(((issue["labels"] as? [String: Any])?["nodes"] as? [[String: Any]])?.first?["name"] as? String, "dead-letter")
        let parent = jsonObject(gql(s, "{ issue(id: \"ENG-1\") { children { nodes { title } } } }"))
        let kids =
            (((parent["data"] as? [String: Any])?["issue"] as? [String: Any])?["children"] as? [String: Any])?["nodes"] as? [[String: Any]]
        XCTAssertEqual(kids?.map { $0["title"] as? String }, ["Bad line"])
        let missingTeam = jsonObject(gql(s, create, ["input": ["teamId": "nope", "title": "x"]]))
        XCTAssertNotNil(missingTeam["errors"])
    }

    func testRateLimitedIs400WithHeadersOr429ByOption() {
        let (s, stats, clock) = make {
            $0.requestsPerHour = 2
            $0.windowSeconds = 60
        }
        XCTAssertEqual(gql(s, "{ viewer { id } }").header("x-ratelimit-requests-remaining"), "1")
        XCTAssertEqual(gql(s, "{ viewer { id } }").status, 200)
        let limited = gql(s, "{ viewer { id } }")
        XCTAssertEqual(limited.status, 400)
        let ext = (jsonObject(limited)["errors"] as? [[String: Any]])?.first?["extensions"] as? [String: Any]
        XCTAssertEqual(ext?["code"] as? String, "RATELIMITED")
        XCTAssertEqual(ext?["type"] as? String, "ratelimited")
        XCTAssertEqual(limited.header("x-ratelimit-requests-remaining"), "0")
        let reset = Double(limited.header("x-ratelimit-requests-reset") ?? "") ?? 0
        XCTAssertGreaterThan(reset, 1e12)  // milliseconds
        XCTAssertEqual(stats.snapshot()["violations_total"] as? Int, 1)
        clock.advance(60)
        XCTAssertEqual(gql(s, "{ viewer { id } }").status, 200)

        let (t, _, _) = make {
            $0.requestsPerHour = 0
            $0.rateLimitStatus = 429
            $0.rateLimitRetryAfter = true
        }
        let r = gql(t, "{ viewer { id } }")
        XCTAssertEqual(r.status, 429)
        XCTAssertNotNil(r.header("retry-after"))
    }

    func testSyntaxAndValidationErrors() {
        let (s, _, _) = make()
        let syntax = gql(s, "{ viewer { id ")
        XCTAssertEqual(syntax.status, 400)
        XCTAssertEqual(
            ((jsonObject(syntax)["errors"] as? [[String: Any]])?.first?["extensions"] as? [String: Any])?["code"] as? String,
            "GRAPHQL_PARSE_FAILED")
        XCTAssertEqual(gql(s, "{ viewer { shoeSize } }").status, 400)
        XCTAssertEqual(gql(s, create, ["input": ["title": "no team"]]).status, 400)
        XCTAssertEqual(gql(s, create, ["input": ["teamId": s.teams[0].id, "colour": "red"]]).status, 400)
    }
}
