import Foundation
import XCTest

@testable import CMOSandbox

/// What sync-linear needs of the sandbox's Linear: issueUpdate, commentCreate and Issue.comments,
/// GraphQL's null propagation for a failed non-null mutation, and cursors that must name a node.
final class ServiceLinearUpdatesTests: XCTestCase {
    let key = "lin_api_sandbox"

    func make(_ configure: (inout LinearOptions) -> Void = { _ in }) -> (LinearService, SandboxStats) {
        let stats = SandboxStats()
        var o = LinearOptions()
        configure(&o)
        return (LinearService(stats: stats, seed: 11, token: key, options: o), stats)
    }

    func gql(_ s: LinearService, _ query: String, _ variables: [String: Any] = [:]) -> (status: Int, body: [String: Any]) {
        let r = s.handle(
            sandboxRequest("POST", "/graphql", json: ["query": query, "variables": variables], headers: ["authorization": key]))!
        return (r.status, jsonObject(r))
    }

    func data(_ r: (status: Int, body: [String: Any])) -> [String: Any] { r.body["data"] as? [String: Any] ?? [:] }

    let create = "mutation C($input: IssueCreateInput!) { issueCreate(input: $input) { success issue { id identifier } } }"
    let id1 = "1b0c2a3b-4d5e-4f60-9a7b-8c9d0e1f2a3b"
    let id2 = "2b0c2a3b-4d5e-4f60-8a7b-8c9d0e1f2a3b"

    func testIssueUpdateSetsTheDescriptionAndAnUnknownIssueIsAnError() {
        let (s, stats) = make()
        XCTAssertEqual(gql(s, create, ["input": ["teamId": s.teams[0].id, "title": "t", "id": id1, "description": "1"]]).status, 200)
        let update =
            "mutation U($id: String!, $input: IssueUpdateInput!) { issueUpdate(id: $id, input: $input) { success issue { id description updatedAt } } }"
        for n in 2...3 {
            let r = gql(s, update, ["id": id1, "input": ["description": "\(n) occurrences"]])
            XCTAssertEqual(r.status, 200)
            let issue = (data(r)["issueUpdate"] as? [String: Any])?["issue"] as? [String: Any]
            XCTAssertEqual(issue?["description"] as? String, "\(n) occurrences")
        }
        XCTAssertEqual(stats.snapshot()["duplicates_total"] as? Int, 0, "each update is its own write")
        let missing = gql(s, update, ["id": id2, "input": ["description": "x"]])
        XCTAssertTrue(missing.body["data"] is NSNull, "IssuePayload! cannot be null")
        XCTAssertEqual(((missing.body["errors"] as? [[String: Any]])?.first?["path"] as? [String]), ["issueUpdate"])
        let bad = gql(s, update, ["id": id1, "input": ["priority": "high"]])
        XCTAssertEqual(bad.status, 400, "a mistyped variable is refused before anything runs")
    }

    func testCommentCreateAndIssueComments() {
        let (s, _) = make()
        _ = gql(s, create, ["input": ["teamId": s.teams[0].id, "title": "t", "id": id1]])
        let comment =
            "mutation M($input: CommentCreateInput!) { commentCreate(input: $input) { success comment { id body issue { identifier } } } }"
        let r = gql(s, comment, ["input": ["issueId": id1, "body": "12 more", "id": id2]])
        XCTAssertEqual(r.status, 200)
        let c = (data(r)["commentCreate"] as? [String: Any])?["comment"] as? [String: Any]
        XCTAssertEqual(c?["id"] as? String, id2)
        XCTAssertEqual((c?["issue"] as? [String: Any])?["identifier"] as? String, "ENG-1")
        let again = gql(s, comment, ["input": ["issueId": id1, "body": "12 more", "id": id2]])
        XCTAssertTrue(again.body["data"] is NSNull, "a repeated comment id is refused (duplicateID: .error)")
        let read = gql(s, "query Q($id: String!) { issue(id: $id) { comments(first: 10) { nodes { id body } } } }", ["id": id1])
        let nodes = ((data(read)["issue"] as? [String: Any])?["comments"] as? [String: Any])?["nodes"] as? [[String: Any]]
        XCTAssertEqual(nodes?.map { $0["body"] as? String }, ["12 more"])
        XCTAssertEqual(gql(s, comment, ["input": ["body": "no issue"]]).body["data"] is NSNull, true)
    }

    func testAFailedAliasedMutationNullsDataAndStopsTheOnesAfterIt() {
        let (s, _) = make()
        _ = gql(s, create, ["input": ["teamId": s.teams[0].id, "title": "first", "id": id1]])
        let doc = """
            mutation B($a: IssueCreateInput!, $b: IssueCreateInput!) {
              a: issueCreate(input: $a) { success issue { id } } b: issueCreate(input: $b) { success issue { id } }
            }
            """
        let r = gql(
            s, doc,
            ["a": ["teamId": s.teams[0].id, "title": "dup", "id": id1], "b": ["teamId": s.teams[0].id, "title": "next", "id": id2]])
        XCTAssertEqual(r.status, 200)
        XCTAssertTrue(r.body["data"] is NSNull)
        XCTAssertEqual(((r.body["errors"] as? [[String: Any]])?.first?["path"] as? [String]), ["a"])
        let after = gql(s, "query Q($id: String!) { issue(id: $id) { id } }", ["id": id2])
        XCTAssertTrue(after.body["data"] is NSNull, "b did not run after a failed")
        // return-existing: both succeed, nothing new for a.
        let (t, _) = make { $0.duplicateID = .returnExisting }
        _ = gql(t, create, ["input": ["teamId": t.teams[0].id, "title": "first", "id": id1]])
        let ok = gql(
            t, doc,
            ["a": ["teamId": t.teams[0].id, "title": "dup", "id": id1], "b": ["teamId": t.teams[0].id, "title": "next", "id": id2]])
        XCTAssertEqual(((data(ok)["a"] as? [String: Any])?["issue"] as? [String: Any])?["id"] as? String, id1)
        XCTAssertEqual(((data(ok)["b"] as? [String: Any])?["issue"] as? [String: Any])?["id"] as? String, id2)
    }

    func testAnUnknownCursorIsRefusedNotPageOne() {
        let (s, _) = make()
        for n in 0..<3 { _ = gql(s, create, ["input": ["teamId": s.teams[0].id, "title": "i\(n)"]]) }
        let page = gql(s, "{ issues(first: 2) { nodes { id } pageInfo { endCursor hasNextPage } } }")
        let cursor = ((data(page)["issues"] as? [String: Any])?["pageInfo"] as? [String: Any])?["endCursor"] as? String
        let next = gql(s, "query Q($c: String) { issues(first: 2, after: $c) { nodes { id } } }", ["c": cursor ?? ""])
        XCTAssertEqual(((data(next)["issues"] as? [String: Any])?["nodes"] as? [Any])?.count, 1)
        let unknown = gql(s, "{ issues(first: 2, after: \"no-such-cursor\") { nodes { id } } }")
        XCTAssertTrue(unknown.body["data"] is NSNull, "issues: IssueConnection! is nulled: data is null")
        let ext = (unknown.body["errors"] as? [[String: Any]])?.first?["extensions"] as? [String: Any]
        XCTAssertEqual(ext?["code"] as? String, "INVALID_INPUT")
    }
}
