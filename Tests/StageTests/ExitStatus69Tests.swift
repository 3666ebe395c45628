import CMOBasics
import CMOGitHub
import CMOHTTP
import CMOServices
import CMOTestSupport
import Foundation
import XCTest

/// Issue 27, "exit 69 means only 'the service is down'": every client maps an answer through one table
/// (`ServiceAnswer`): a request refused as a whole (400, 422) is 1, a URL or object that does not exist
/// (404, 410) is 78, credentials 77; a 503 after the retries, a refused connection, and a 2xx that is not
/// the service's API stay 69. Each service is a scripted server answering the status under test.
final class ExitStatus69Tests: XCTestCase {
    // MARK: - Helpers

    static let json = [("Content-Type", "application/json")]

    /// A server answering `status` (with `body`) to the requests `matches` picks, and `other` to the rest.
    static func server(
        _ status: Int, body: String = #"{"message":"scripted"}"#, headers: [(String, String)] = json,
        matches: @escaping @Sendable (RecordedRequest) -> Bool = { _ in true },
        other: @escaping @Sendable (RecordedRequest) -> ScriptedReply = { _ in .status(200, json, body: "{}") }
    ) throws -> ScriptedHTTPServer {
        try ScriptedHTTPServer(handler: { request in
            matches(request) ? .status(status, headers, body: body) : other(request)
        })
    }

    /// What each run gets besides the service: one retry, so that a 503 gives up quickly.
    static let quick = ["CMO_HTTP_RETRIES": "1", "CMO_JOB_ID": "job-69"]

    static func leads(_ n: Int) -> Data {
        NDJSON.data(PoisonRecordTests.leads((0..<n).map { "dev\($0)@example.org" }))
    }

    static let campaign = "0f6a7c2e-1111-4222-8333-444455556666"

    func assertStatus(_ r: SpawnResult, _ status: Int32, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, status, "\(what): \(r.err)", file: file, line: line)
        if status != 69 {
            XCTAssertFalse(r.err.contains("re-run later"), "\(what) is not 'the service is down': \(r.err)", file: file, line: line)
        }
    }

    // MARK: - GitHub: gh-search (REST search)

    func ghSearch(_ url: String) throws -> SpawnResult {
        try Spawn.run(
            "gh-search", ["--max-repos", "5", "--min-stars", "0", "--now", "2026-11-20T00:00:00Z"],
            environment: Self.quick.merging(["GITHUB_API_URL": url, "GITHUB_TOKEN": "ghp_test"]) { $1 })
    }

    func testGHSearch4xxIsNot69() throws {
        for (status, expected) in [(400, Int32(1)), (404, 78), (410, 78)] {
            let s = try Self.server(status, body: #"{"message":"scripted \#(status)"}"#, matches: { $0.target.hasPrefix("/search/") })
            defer { s.stop() }
            let r = try ghSearch(s.url)
            assertStatus(r, expected, "gh-search, search answered \(status)")
            XCTAssertTrue(r.err.contains("HTTP \(status)") && r.err.contains("scripted \(status)"), r.err)
        }
    }

    func testGHSearchDownIsStill69() throws {
        let s = try Self.server(503, matches: { $0.target.hasPrefix("/search/") })
        defer { s.stop() }
        assertStatus(try ghSearch(s.url), 69, "gh-search, search answered 503 every time")
        XCTAssertGreaterThanOrEqual(s.requests.filter { $0.target.hasPrefix("/search/") }.count, 2, "retried")
        let refused = try ghSearch("http://127.0.0.1:\(try ScriptedHTTPServer.unusedPort())")
        assertStatus(refused, 69, "gh-search, connection refused")
        XCTAssertTrue(refused.err.contains("connection refused"), refused.err)
    }

    func testGHSearchA200ThatIsNotJSONIs69() throws {
        let s = try Self.server(200, body: "<html>maintenance</html>", headers: [("Content-Type", "text/html")], matches: { $0.target.hasPrefix("/search/") })
        defer { s.stop() }
        let r = try ghSearch(s.url)
        assertStatus(r, 69, "gh-search, a 200 that is not JSON")
        XCTAssertTrue(r.err.contains("not what its API returns"), r.err)
    }

    // MARK: - GitHub: gh-people --api rest (commits), gh-enrich --api rest (users)

    static var repo: [String: Any] { [
        "kind": "repo", "id": 1, "full_name": "acme/tool", "stars": 10, "language": "Go", "pushed_at": "2026-11-10T00:00:00Z",
    ] }

    func testGHPeopleCommits4xxIsNot69() throws {
        for (status, expected) in [(400, Int32(1)), (422, 1), (503, 69)] {
            let s = try Self.server(status, matches: { $0.target.contains("/commits") })
            defer { s.stop() }
            let r = try Spawn.run(
                "gh-people", ["--api", "rest", "--now", "2026-11-20T00:00:00Z"], stdin: NDJSON.data([Self.repo]),
                environment: Self.quick.merging(["GITHUB_API_URL": s.url, "GITHUB_TOKEN": "ghp_test"]) { $1 })
            assertStatus(r, expected, "gh-people, commits answered \(status)")
            XCTAssertTrue(r.err.contains("acme/tool"), r.err)
        }
    }

    func testGHEnrichUsers4xxIsNot69() throws {
        for (status, expected) in [(400, Int32(1)), (422, 1), (503, 69)] {
            let s = try Self.server(status, matches: { $0.target.hasPrefix("/users/") })
            defer { s.stop() }
            let r = try Spawn.run(
                "gh-enrich", ["--api", "rest"], stdin: NDJSON.data([["kind": "person", "id": 7, "login": "dev7"]]),
                environment: Self.quick.merging(["GITHUB_API_URL": s.url, "GITHUB_TOKEN": "ghp_test"]) { $1 })
            assertStatus(r, expected, "gh-enrich, users answered \(status)")
        }
    }

    // MARK: - GitHub GraphQL (in process)

    func github(_ url: String) throws -> GitHubAPI {
        var config = HTTPClientConfig(cachePath: nil)
        config.maxRetries = 1
        config.backoffBase = 0.01
        return GitHubAPI(GitHubEndpoint(ServiceEndpoint(kind: .github, baseURL: url, key: "ghp_test")), http: try HTTPClient(config))
    }

    func graphQLStatus(_ status: Int, _ body: String, headers: [(String, String)] = json) throws -> ExitStatus? {
        let s = try Self.server(status, body: body, headers: headers)
        defer { s.stop() }
        do {
            _ = try github(s.url).graphQL(["query { viewer { login } }"])
            return nil
        } catch let e as CMOError {
            return e.exitStatus
        }
    }

    func testGitHubGraphQLRefusalsAreNot69() throws {
        // A query GitHub will not run: cmo's bug, 1.
        XCTAssertEqual(
            try graphQLStatus(200, #"{"errors":[{"message":"Field 'nope' doesn't exist on type 'Query'","extensions":{"code":"undefinedField"}}]}"#),
            .failure)
        XCTAssertEqual(try graphQLStatus(400, #"{"errors":[{"message":"Problems parsing JSON"}]}"#), .failure)
        XCTAssertEqual(try graphQLStatus(200, #"{"data":null,"errors":[{"type":"FORBIDDEN","message":"Resource not accessible by integration"}]}"#), .noPermission)
        XCTAssertEqual(try graphQLStatus(200, #"{"data":null,"errors":[{"type":"NOT_FOUND","message":"Could not resolve"}]}"#), .config)
        // A body that is not JSON: the status decides; 404 is the URL (78), a 200 is a broken service (69).
        XCTAssertEqual(try graphQLStatus(404, "<html>Not Found</html>", headers: [("Content-Type", "text/html")]), .config)
        XCTAssertEqual(try graphQLStatus(422, "nope", headers: [("Content-Type", "text/plain")]), .failure)
        XCTAssertEqual(try graphQLStatus(200, "<html>login</html>", headers: [("Content-Type", "text/html")]), .unavailable)
    }

    // MARK: - Instantly: send-instantly

    func sendInstantly(_ url: String) throws -> SpawnResult {
        try Spawn.run(
            "send-instantly", ["--campaign", Self.campaign, "--daily-new-leads", "10"], stdin: Self.leads(1),
            environment: Self.quick.merging(["INSTANTLY_API_KEY": "k", "INSTANTLY_API_URL": url]) { $1 })
    }

    func testInstantly4xxIsNot69() throws {
        for (status, expected) in [(400, Int32(1)), (409, 1), (422, 1), (404, 78)] {
            let s = try Self.server(
                status, body: #"{"statusCode":\#(status),"error":"Bad Request","message":"scripted \#(status)"}"#,
                matches: { $0.target.hasPrefix("/api/v2/campaigns/") })
            defer { s.stop() }
            let r = try sendInstantly(s.url)
            assertStatus(r, expected, "send-instantly, the campaign answered \(status)")
            XCTAssertTrue(r.err.contains(status == 404 ? "check --campaign" : "scripted \(status)"), r.err)
        }
    }

    func testInstantlyDownIsStill69() throws {
        let s = try Self.server(503, matches: { $0.target.hasPrefix("/api/v2/campaigns/") })
        defer { s.stop() }
        assertStatus(try sendInstantly(s.url), 69, "send-instantly, 503 every time")
        assertStatus(try sendInstantly("http://127.0.0.1:\(try ScriptedHTTPServer.unusedPort())"), 69, "send-instantly, connection refused")
        let garbled = try Self.server(200, body: "<html>captive portal</html>", headers: [("Content-Type", "text/html")])
        defer { garbled.stop() }
        let r = try sendInstantly(garbled.url)
        assertStatus(r, 69, "send-instantly, a 200 that is not JSON")
        XCTAssertTrue(r.err.contains("not what its API returns"), r.err)
    }

    // MARK: - Attio: sync-attio

    func syncAttio(_ url: String) throws -> SpawnResult {
        try Spawn.run(
            "sync-attio", ["--list", "outbound_developers", "--job", "job-69"], stdin: Self.leads(1),
            environment: Self.quick.merging(["ATTIO_API_KEY": "k", "ATTIO_API_URL": url]) { $1 })
    }

    func testAttio4xxIsNot69() throws {
        for (status, expected) in [(400, Int32(1)), (422, 1), (404, 78)] {
            let s = try Self.server(status, body: #"{"status_code":\#(status),"type":"invalid_request_error","code":"validation_type","message":"scripted \#(status)"}"#)
            defer { s.stop() }
            let r = try syncAttio(s.url)
            assertStatus(r, expected, "sync-attio, Attio answered \(status)")
        }
    }

    func testAttioDownIsStill69() throws {
        let s = try Self.server(503)
        defer { s.stop() }
        assertStatus(try syncAttio(s.url), 69, "sync-attio, 503 every time")
        assertStatus(try syncAttio("http://127.0.0.1:\(try ScriptedHTTPServer.unusedPort())"), 69, "sync-attio, connection refused")
    }

    // MARK: - Linear: sync-linear

    static var deadLetter: [String: Any] { [
        "stage": "gh-people", "line": 1, "error": ["code": "boom", "message": "it broke", "retryable": false], "input": ["id": 1],
    ] }

    func syncLinear(_ url: String) throws -> SpawnResult {
        try Spawn.run(
            "sync-linear", ["--team", "ENG", "--job", "job-69"], stdin: NDJSON.data([Self.deadLetter]),
            environment: Self.quick.merging(["LINEAR_API_KEY": "lin_api_k", "LINEAR_API_URL": url]) { $1 })
    }

    func testLinear4xxAndGraphQLErrorsAreNot69() throws {
        let cases: [(Int, String, Int32)] = [
            (400, #"{"errors":[{"message":"Cannot query field \"nope\" on type \"Query\".","extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}"#, 1),
            (422, #"{"errors":[{"message":"scripted 422"}]}"#, 1),
            (404, #"{"errors":[{"message":"Not found","extensions":{"code":"NOT_FOUND"}}]}"#, 78),
            (404, "<html>Not Found</html>", 78),
            (200, #"{"data":null,"errors":[{"message":"Forbidden","extensions":{"code":"FORBIDDEN"}}]}"#, 77),
            (200, #"{"data":null,"errors":[{"message":"Entity not found","extensions":{"code":"ENTITY_NOT_FOUND"}}]}"#, 78),
            (200, #"{"data":null,"errors":[{"message":"Argument Validation Error","extensions":{"code":"INVALID_INPUT"}}]}"#, 1),
        ]
        for (status, body, expected) in cases {
            let s = try Self.server(status, body: body)
            defer { s.stop() }
            let r = try syncLinear(s.url)
            assertStatus(r, expected, "sync-linear, Linear answered \(status) \(body)")
        }
    }

    /// The same through `LinearAPI` in process: GraphQL errors that left no data, by their code.
    func testLinearGraphQLErrorsInProcess() throws {
        let cases: [(String, ExitStatus)] = [("FORBIDDEN", .noPermission), ("ENTITY_NOT_FOUND", .config), ("INVALID_INPUT", .failure)]
        for (code, expected) in cases {
            let s = try Self.server(200, body: #"{"data":null,"errors":[{"message":"scripted","extensions":{"code":"\#(code)"}}]}"#)
            defer { s.stop() }
            var config = HTTPClientConfig(cachePath: nil)
            config.maxRetries = 1
            let linear = LinearAPI(endpoint: ServiceEndpoint(kind: .linear, baseURL: s.url, key: "k"), http: try HTTPClient(config))
            XCTAssertThrowsError(try linear.team("ENG"), code) { XCTAssertEqual(($0 as? CMOError)?.exitStatus, expected, "\(code): \($0)") }
        }
    }

    func testLinearDownIsStill69() throws {
        let s = try Self.server(503)
        defer { s.stop() }
        assertStatus(try syncLinear(s.url), 69, "sync-linear, 503 every time")
        assertStatus(try syncLinear("http://127.0.0.1:\(try ScriptedHTTPServer.unusedPort())"), 69, "sync-linear, connection refused")
    }

    // MARK: - The planner's model (ChatClient, in process)

    func chatStatus(_ url: String) -> (ExitStatus?, String) {
        do {
            let chat = try ChatClient(model: "gpt-test", endpoint: ServiceEndpoint(kind: .openai, baseURL: url, key: "k"), retries: 1)
            _ = try chat.ask(messages: [["role": "user", "content": "hi"]], tools: [])
            return (nil, "")
        } catch let e as CMOError {
            return (e.exitStatus, e.description)
        } catch {
            return (nil, "\(error)")
        }
    }

    func testChatModel4xxIsNot69() throws {
        for (status, expected) in [(400, ExitStatus.failure), (422, .failure), (404, .config)] {
            let s = try Self.server(status, body: #"{"error":{"message":"scripted \#(status)","code":"model_not_found"}}"#)
            defer { s.stop() }
            let (exit, message) = chatStatus(s.url)
            XCTAssertEqual(exit, expected, "the model answered \(status): \(message)")
            XCTAssertTrue(message.contains("scripted \(status)"), message)
            if status == 404 { XCTAssertTrue(message.contains("gpt-test") && message.contains("CMO_PLANNER_MODEL"), message) }
        }
    }

    func testChatModelDownIsStill69() throws {
        let s = try Self.server(503)
        defer { s.stop() }
        XCTAssertEqual(chatStatus(s.url).0, .unavailable)
        XCTAssertEqual(chatStatus("http://127.0.0.1:\(try ScriptedHTTPServer.unusedPort())").0, .unavailable)
        let garbled = try Self.server(200, body: "<html>proxy</html>", headers: [("Content-Type", "text/html")])
        defer { garbled.stop() }
        XCTAssertEqual(chatStatus(garbled.url).0, .unavailable)
    }

    // MARK: - The table itself

    func testOneTable() {
        let table: [(Int, ExitStatus)] = [
            (200, .unavailable), (301, .config), (400, .failure), (401, .noPermission), (402, .config), (403, .noPermission),
            (404, .config), (405, .config), (409, .failure), (410, .config), (413, .failure), (422, .failure), (429, .tempFail),
            (500, .unavailable), (503, .unavailable),
        ]
        for (status, exit) in table { XCTAssertEqual(ServiceAnswer.exitStatus(httpStatus: status), exit, "HTTP \(status)") }
        XCTAssertEqual(ServiceAnswer.exitStatus(graphQLCodes: ["GRAPHQL_VALIDATION_FAILED"], httpStatus: 400), .failure)
        XCTAssertEqual(ServiceAnswer.exitStatus(graphQLCodes: ["AUTHENTICATION_ERROR"], httpStatus: 400), .noPermission)
        XCTAssertEqual(ServiceAnswer.exitStatus(graphQLCodes: ["RATELIMITED"], httpStatus: 400), .tempFail)
        XCTAssertEqual(ServiceAnswer.exitStatus(graphQLCodes: ["NOT_FOUND"], httpStatus: 200), .config)
        XCTAssertEqual(ServiceAnswer.exitStatus(graphQLCodes: ["INTERNAL"], httpStatus: 200), .unavailable)
        XCTAssertEqual(ServiceAnswer.exitStatus(graphQLCodes: [], httpStatus: 404), .config)
    }

    // MARK: - cmo-plan: a stage that cannot be started is not a service that is down

    /// A stage missing from the installation (`--stage` naming a path that does not exist, or a name on no
    /// PATH) ends the run 78 (configuration, installation), not 69; the message says what to do.
    func testAStageThatCannotBeStartedIs78() throws {
        let s = try SandboxLauncher(["--repos", "40", "--users", "60", "--now", CMOPlanTests.now])
        defer { s.stop() }
        let goal = "Find 5 Python maintainers active in the last 90 days, export a CSV"
        for (k, command) in ["/nonexistent/mx-check", "no-such-stage-69"].enumerated() {
            let dir = Spawn.tempDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            var env = s.environment
            env["CMO_STATE_DIR"] = dir + "/state"
            env["CMO_RUNS_DIR"] = dir + "/runs"
            let r = try Spawn.run(
                "cmo-plan",
                ["run", "--yes", "--config", CMOPlanTests.campaign, "--now", CMOPlanTests.now, "--job-id", "s\(k)", "--stage", "mx-check=\(command)", goal],
                environment: env)
            assertStatus(r, 78, "cmo-plan with mx-check=\(command)")
            XCTAssertTrue(r.err.contains("bin/setup"), r.err)
        }
    }
}
