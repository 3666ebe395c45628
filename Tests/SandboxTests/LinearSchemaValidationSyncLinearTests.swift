import CMOServices
import Foundation
import GraphQL
import XCTest

@testable import CMOSandbox

/// Every GraphQL document sync-linear sends validates against Linear's published schema, and the
/// sandbox refuses the mistakes a client could make in them (unknown arguments, mistyped literals
/// and variables, undeclared variables, impossible fragments) before running anything.
final class LinearSchemaValidationSyncLinearTests: XCTestCase {
    let key = "lin_api_sandbox"

    func testEveryDocumentSyncLinearSendsValidates() throws {
        let schema = try GraphQLSDL.linear.schema()
        var documents = LinearAPI.documents
        documents += [LinearAPI.createDocument(LinearAPI.maxBatch), LinearAPI.updateDocument(LinearAPI.maxBatch)]
        for doc in documents {
            let errors = validate(schema: schema, ast: try parse(source: doc))
            XCTAssertEqual(errors.map(\.message), [], doc)
        }
    }

    func testClientMistakesAreRefusedBeforeRunning() {
        let stats = SandboxStats()
        let s = LinearService(stats: stats, seed: 3, token: key)
        func status(_ q: String, _ v: [String: Any] = [:]) -> Int {
            s.handle(sandboxRequest("POST", "/graphql", json: ["query": q, "variables": v], headers: ["authorization": key]))!.status
        }
        let team = s.teams[0].id
        XCTAssertEqual(status("{ issues(first: 1, colour: 2) { nodes { id } } }"), 400, "unknown argument")
        XCTAssertEqual(status("{ issues(first: \"ten\") { nodes { id } } }"), 400, "mistyped literal")
        XCTAssertEqual(status("mutation { issueCreate(input: {teamId: \"\(team)\", priority: \"high\"}) { success } }"), 400)
        XCTAssertEqual(status("query Q($n: Int) { issues(first: $n) { nodes { id } } }", ["n": "ten"]), 400, "mistyped variable")
        XCTAssertEqual(status("query { issues(first: $n) { nodes { id } } }"), 400, "undeclared variable")
        XCTAssertEqual(status("{ viewer { ... on Team { id } } }"), 400, "impossible fragment")
        XCTAssertEqual(status("mutation U($id: String!) { issueUpdate(id: $id, input: {colour: 1}) { success } }", ["id": team]), 400)
        XCTAssertEqual(stats.snapshot()["writes_total"] as? Int, 0, "nothing ran")
    }
}
