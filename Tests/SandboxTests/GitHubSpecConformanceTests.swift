import Foundation
import XCTest

/// Checks REST bodies against the response schemas in GitHub's own docs data
/// (`../shared/reference/specs/github-rest-subset.json`): every required key is present, recursively.
final class GitHubSpecConformanceTests: XCTestCase {
    static func spec() throws -> [String: Any] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let url = root.deletingLastPathComponent().appendingPathComponent("shared/reference/specs/github-rest-subset.json")
        guard let data = try? Data(contentsOf: url) else { throw XCTSkip("no \(url.path)") }
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// Missing required keys in `value` per JSON-schema `schema` (oneOf/anyOf: the closest alternative).
    static func missing(_ value: Any, _ schema: [String: Any], path: String = "$") -> [String] {
        if value is NSNull { return [] }
        for key in ["oneOf", "anyOf"] {
            if let alternatives = schema[key] as? [[String: Any]] {
                let results = alternatives.map { missing(value, $0, path: path) }
                return results.min { $0.count < $1.count } ?? []
            }
        }
        if let all = schema["allOf"] as? [[String: Any]] { return all.flatMap { missing(value, $0, path: path) } }
        if let array = value as? [Any], let items = schema["items"] as? [String: Any] {
            return array.prefix(20).enumerated().flatMap { missing($1, items, path: "\(path)[\($0)]") }
        }
        guard let object = value as? [String: Any] else { return [] }
        var out = (schema["required"] as? [String] ?? []).filter { object[$0] == nil }.map { "\(path).\($0)" }
        for (key, sub) in schema["properties"] as? [String: [String: Any]] ?? [:] {
            if let v = object[key] { out += missing(v, sub, path: "\(path).\(key)") }
        }
        return out
    }

    func testBodiesCarryEveryRequiredField() throws {
        let spec = try Self.spec()
        let sbx = try SandboxProcess(["--seed", "8", "--repos", "80", "--users", "100"])
        defer { sbx.stop() }
        let truth = try TestHTTP.request("GET", sbx.base + "/_sandbox/truth").object()
        let contribution = (truth["contributions"] as! [[String: Any]]).first {
            ($0["last_commit_at"] as! String) > "2026-10-25" && $0["login"] is String
        }!
        let repo = contribution["repo"] as! String
        let login = contribution["login"] as! String
        let cases: [(String, String)] = [
            ("GET /search/repositories", "/search/repositories?q=stars:>=0&per_page=20"),
            ("GET /repos/{owner}/{repo}/commits", "/repos/\(repo)/commits?per_page=50"),
            ("GET /repos/{owner}/{repo}/contributors", "/repos/\(repo)/contributors?anon=1"),
            ("GET /users/{username}", "/users/\(login)"),
            ("GET /users/{username}/events/public", "/users/\(login)/events/public"),
            ("GET /rate_limit", "/rate_limit"),
        ]
        for (operation, path) in cases {
            let entry = try XCTUnwrap(spec[operation] as? [String: Any], operation)
            let example = (entry["codeExamples"] as! [[String: Any]])[0]
            let schema = (example["response"] as! [String: Any])["schema"] as! [String: Any]
            let r = try sbx.gh(path)
            XCTAssertEqual(r.status, 200, path)
            let body = try JSONSerialization.jsonObject(with: Data(r.body))
            if let array = body as? [Any] { XCTAssertFalse(array.isEmpty, "\(path) should not be empty for this check") }
            XCTAssertEqual(Self.missing(body, schema), [], operation)
            let hollow: Any = body is [Any] ? [[String: Any]()] : [String: Any]()
            XCTAssertFalse(Self.missing(hollow, schema).isEmpty, "the check itself sees missing fields (\(operation))")
        }
    }
}
