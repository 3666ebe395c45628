import Foundation
import XCTest

/// Query parameters outside the enums and formats of GitHub's REST docs (github-rest-subset.json)
/// get GitHub's 422 "Validation Failed", naming the parameter, and spend the request like any other.
final class GitHubRESTValidationTests: XCTestCase {
    nonisolated(unsafe) static var sandbox: SandboxProcess?
    var sbx: SandboxProcess { Self.sandbox! }

    override class func setUp() { sandbox = try? SandboxProcess(["--seed", "9", "--repos", "30", "--users", "60"]) }
    override class func tearDown() { sandbox?.stop() }
    override func setUpWithError() throws { if Self.sandbox == nil { throw SandboxTestError("sandbox failed to start") } }

    func invalid(_ path: String, field: String, resource: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try sbx.gh(path)
        XCTAssertEqual(r.status, 422, "\(path): \(r.text)", file: file, line: line)
        let o = try r.object()
        XCTAssertEqual(o["message"] as? String, "Validation Failed", file: file, line: line)
        XCTAssertEqual(o["status"] as? String, "422", file: file, line: line)
        XCTAssertNotNil(o["documentation_url"] as? String, file: file, line: line)
        let errors = o["errors"] as? [[String: String]]
        XCTAssertEqual(errors?.first, ["resource": resource, "field": field, "code": "invalid"], file: file, line: line)
    }

    func repo() throws -> String {
        let truth = try TestHTTP.request("GET", sbx.base + "/_sandbox/truth").object()
        return ((truth["repositories"] as! [[String: Any]]).first { ($0["commits"] as! Int) > 0 })!["full_name"] as! String
    }

    func testSearchSortAndOrderMustBeDocumentedValues() throws {
        try invalid("/search/repositories?q=stars:>=0&sort=bogus", field: "sort", resource: "Search")
        try invalid("/search/repositories?q=stars:>=0&sort=stars&order=sideways", field: "order", resource: "Search")
        try invalid("/search/repositories?q=stars:>=0&per_page=abc", field: "per_page", resource: "Search")
        try invalid("/search/repositories?q=stars:>=0&page=0", field: "page", resource: "Search")
        XCTAssertEqual(try sbx.gh("/search/repositories?q=stars:>=0&sort=help-wanted-issues&order=asc").status, 200)
    }

    func testCommitTimesMustBeISO8601() throws {
        let r = try repo()
        try invalid("/repos/\(r)/commits?since=yesterday", field: "since", resource: "Commit")
        try invalid("/repos/\(r)/commits?until=2026-13-45T00:00:00Z", field: "until", resource: "Commit")
        try invalid("/repos/\(r)/commits?per_page=0", field: "per_page", resource: "Commit")
        XCTAssertEqual(try sbx.gh("/repos/\(r)/commits?since=2020-01-01T00:00:00Z&until=2030-01-01").status, 200)
        let capped = try sbx.gh("/repos/\(r)/commits?per_page=500&since=2000-01-01T00:00:00Z").array()
        XCTAssertLessThanOrEqual(capped.count, 100, "a per_page above 100 is served as 100")
    }

    func testContributorsAndEventsPaging() throws {
        let r = try repo()
        try invalid("/repos/\(r)/contributors?per_page=-1", field: "per_page", resource: "Repository")
        let login = try sbx.gh("/repos/\(r)").object()["owner"].flatMap { ($0 as? [String: Any])?["login"] as? String } ?? "x"
        try invalid("/users/\(login)/events/public?page=first", field: "page", resource: "Event")
        let before = try sbx.stats()["quota_spent"] as? [String: Int]
        _ = try sbx.gh("/repos/\(r)/contributors?per_page=nope")
        let after = try sbx.stats()["quota_spent"] as? [String: Int]
        XCTAssertEqual((after?["github/core"] ?? 0) - (before?["github/core"] ?? 0), 1, "a 422 spends its request")
    }
}
