import Foundation
import XCTest

@testable import CMOSandbox

/// Linear's GraphQL validates documents and variables against its published schema before any
/// budget is spent: HTTP 400, graphql-js's wording, `GRAPHQL_VALIDATION_FAILED` (or `BAD_USER_INPUT`
/// for variable values), with `locations`.
final class LinearSchemaValidationTests: XCTestCase {
    let key = "lin_api_sandbox"

    func make() -> (LinearService, SandboxStats) {
        let stats = SandboxStats()
        return (LinearService(stats: stats, seed: 3, token: key), stats)
    }

    func gql(_ s: LinearService, _ query: String, _ variables: [String: Any] = [:]) -> SandboxResponse {
        s.handle(sandboxRequest("POST", "/graphql", json: ["query": query, "variables": variables], headers: ["authorization": key]))!
    }

    func errors(_ r: SandboxResponse) -> [[String: Any]] { jsonObject(r)["errors"] as? [[String: Any]] ?? [] }
    func code(_ e: [String: Any]?) -> String? { (e?["extensions"] as? [String: Any])?["code"] as? String }

    let create = "mutation C($input: IssueCreateInput!) { issueCreate(input: $input) { success issue { id identifier } } }"

    func testUnknownFieldsWrongTypesAndMissingArgumentsAreRefused() {
        let (s, stats) = make()
        let unknown = gql(s, "{ viewer { id shoeSize } }")
        XCTAssertEqual(unknown.status, 400)
        XCTAssertNil(jsonObject(unknown)["data"])
        XCTAssertEqual(errors(unknown).first?["message"] as? String, "Cannot query field \"shoeSize\" on type \"User\".")
        XCTAssertEqual(code(errors(unknown).first), "GRAPHQL_VALIDATION_FAILED")
        XCTAssertEqual(errors(unknown).first?["locations"] as? [[String: Int]], [["line": 1, "column": 15]])
        let wrongType = gql(s, "{ issue(id: 5) { id } }")
        XCTAssertEqual(wrongType.status, 400)
        XCTAssertEqual(code(errors(wrongType).first), "GRAPHQL_VALIDATION_FAILED")
        XCTAssertTrue((errors(wrongType).first?["message"] as? String ?? "").contains("String cannot represent"))
        let missing = gql(s, "mutation { issueCreate { success } }")
        XCTAssertEqual(missing.status, 400)
        XCTAssertTrue((errors(missing).first?["message"] as? String ?? "").contains("argument \"input\""))
        let badEnum = gql(s, "{ issues(first: 1, orderBy: sideways) { nodes { id } } }")
        XCTAssertEqual(badEnum.status, 400)
        XCTAssertTrue((errors(badEnum).first?["message"] as? String ?? "").contains("PaginationOrderBy"))
        let undefined = gql(s, "query { issue(id: $id) { id } }")
        XCTAssertEqual(undefined.status, 400)
        XCTAssertTrue((errors(undefined).first?["message"] as? String ?? "").contains("$id"))
        XCTAssertEqual(stats.snapshot()["writes_total"] as? Int, 0, "nothing ran")
    }

    func testVariableValuesAreCheckedAgainstTheirTypes() {
        let (s, _) = make()
        let noTeam = gql(s, create, ["input": ["title": "x"]])
        XCTAssertEqual(noTeam.status, 400)
        XCTAssertEqual(
            errors(noTeam).first?["message"] as? String,
            "Variable \"$input\" got invalid value {\"title\":\"x\"}; Field \"teamId\" of required type \"String!\" was not provided.")
        XCTAssertEqual(code(errors(noTeam).first), "BAD_USER_INPUT")
        let unknownField = gql(s, create, ["input": ["teamId": s.teams[0].id, "colour": "red"]])
        XCTAssertEqual(unknownField.status, 400)
        XCTAssertTrue(
            (errors(unknownField).first?["message"] as? String ?? "").contains(
                "Field \"colour\" is not defined by type \"IssueCreateInput\""))
        let wrongScalar = gql(s, create, ["input": ["teamId": s.teams[0].id, "priority": "high"]])
        XCTAssertEqual(wrongScalar.status, 400)
        XCTAssertTrue((errors(wrongScalar).first?["message"] as? String ?? "").contains("Int cannot represent non-integer value"))
        let absent = gql(s, create)
        XCTAssertEqual(
            errors(absent).first?["message"] as? String, "Variable \"$input\" of required type \"IssueCreateInput!\" was not provided.")
    }

    func testValidDocumentsStillRun() {
        let (s, _) = make()
        let ok = gql(s, create, ["input": ["teamId": s.teams[0].id, "title": "Dead letters", "labelIds": [String]()]])
        XCTAssertEqual(ok.status, 200)
        XCTAssertEqual(((jsonObject(ok)["data"] as? [String: Any])?["issueCreate"] as? [String: Any])?["success"] as? Bool, true)
        let query = gql(
            s, "query Q($first: Int = 2) { teams(first: $first) { nodes { id key } pageInfo { hasNextPage } } viewer { id name } }")
        XCTAssertEqual(query.status, 200)
        XCTAssertNil(jsonObject(query)["errors"])
    }
}
