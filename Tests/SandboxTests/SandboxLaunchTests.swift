import Foundation
import XCTest

/// The executable itself: env file, port line, clean exit, the `/_sandbox` endpoints, determinism.
final class SandboxLaunchTests: XCTestCase {
    func testEnvFilePortLineAndCleanExit() throws {
        let sbx = try SandboxProcess(["--seed", "7", "--repos", "40", "--users", "60"])
        let port = URL(string: sbx.base)!.port!
        XCTAssertEqual(sbx.stdoutText, "listening on http://127.0.0.1:\(port)\n")
        XCTAssertEqual(sbx.env["GITHUB_API_URL"], "http://127.0.0.1:\(port)/github")
        XCTAssertEqual(sbx.env["INSTANTLY_API_URL"], "http://127.0.0.1:\(port)/instantly")
        XCTAssertEqual(sbx.env["ATTIO_API_URL"], "http://127.0.0.1:\(port)/attio")
        XCTAssertEqual(sbx.env["LINEAR_API_URL"], "http://127.0.0.1:\(port)/linear/graphql")
        XCTAssertEqual(sbx.env["OPENAI_BASE_URL"], "http://127.0.0.1:\(port)/openai/v1")
        XCTAssertTrue(sbx.env["CMO_DNS_SERVER", default: ""].hasPrefix("127.0.0.1:"))
        for key in ["GITHUB_TOKEN", "INSTANTLY_API_KEY", "ATTIO_API_KEY", "LINEAR_API_KEY", "OPENAI_API_KEY"] {
            XCTAssertFalse(sbx.env[key, default: ""].isEmpty, key)
        }
        XCTAssertTrue(sbx.token.hasPrefix("ghp_"))
        XCTAssertEqual(sbx.stop(), 0)
    }

    func testVendorFlagsReachTheirServices() throws {
        let sbx = try SandboxProcess(["--repos", "10", "--users", "20", "--instantly-no-plan"])
        defer { sbx.stop() }
        let key = sbx.env["INSTANTLY_API_KEY"]!
        let r = try TestHTTP.request(
            "GET", sbx.env["INSTANTLY_API_URL"]! + "/api/v2/campaigns", headers: ["Authorization": "Bearer \(key)"])
        XCTAssertEqual(r.status, 402)
    }

    func testWrongTokenGetsGitHubs401() throws {
        let sbx = try SandboxProcess(["--repos", "20", "--users", "30"])
        defer { sbx.stop() }
        let r = try TestHTTP.request("GET", sbx.github + "/users/octocat", headers: ["Authorization": "Bearer nope"])
        XCTAssertEqual(r.status, 401)
        let o = try r.object()
        XCTAssertEqual(o["message"] as? String, "Bad credentials")
        XCTAssertEqual(o["documentation_url"] as? String, "https://docs.github.com/rest")
        // The legacy `token` scheme is accepted by default.
        let legacy = try TestHTTP.request("GET", sbx.github + "/rate_limit", headers: ["Authorization": "token \(sbx.token)"])
        XCTAssertEqual(legacy.status, 200)
    }

    func testStatsTruthAndReset() throws {
        let sbx = try SandboxProcess(["--repos", "30", "--users", "40"])
        defer { sbx.stop() }
        _ = try sbx.gh("/search/repositories?q=stars:>1")
        _ = try sbx.gh("/rate_limit")
        var stats = try sbx.stats()
        let requests = stats["requests"] as? [String: Int] ?? [:]
        XCTAssertEqual(requests["github GET /search/repositories"], 1)
        XCTAssertEqual(requests["github GET /rate_limit"], 1)
        XCTAssertEqual((stats["quota_spent"] as? [String: Int])?["github/search"], 1)
        XCTAssertNil((stats["quota_spent"] as? [String: Int])?["github/core"], "rate_limit is free")
        XCTAssertNotNil((stats["services"] as? [String: Any])?["github"])

        let truth = try TestHTTP.request("GET", sbx.base + "/_sandbox/truth").object()
        let emails = try XCTUnwrap(truth["emails"] as? [String: [String: Any]])
        let dnsKinds = Set(emails.values.compactMap { $0["dns"] as? String })
        for kind in ["mx", "a_only", "null_mx", "nxdomain", "servfail", "timeout", "truncated", "slow", "none"] {
            XCTAssertTrue(dnsKinds.contains(kind), "an email whose domain answers \(kind)")
        }
        XCTAssertTrue(emails.values.contains { $0["role"] as? Bool == true })
        XCTAssertTrue(emails.values.contains { $0["disposable"] as? Bool == true })
        XCTAssertTrue(emails.values.contains { $0["free"] as? Bool == true })
        XCTAssertTrue(emails.keys.contains { $0.contains("+") && $0.hasSuffix("@users.noreply.github.com") })
        let contributions = try XCTUnwrap(truth["contributions"] as? [[String: Any]])
        XCTAssertTrue(contributions.contains { $0["login"] is NSNull }, "some commits link to no account")

        let reset = try TestHTTP.request("POST", sbx.base + "/_sandbox/reset")
        XCTAssertEqual(reset.status, 200)
        stats = try sbx.stats()
        XCTAssertEqual(stats["requests_total"] as? Int, 0)
        XCTAssertEqual(try sbx.gh("/rate_limit").headers["x-ratelimit-used"], "0")
    }

    func testSameSeedServesIdenticalBodies() throws {
        let paths = [
            "/search/repositories?q=stars:>3&sort=stars&per_page=50",
            "/search/repositories?q=language:go&per_page=10&page=2",
        ]
        func collect(_ sbx: SandboxProcess) throws -> [[UInt8]] {
            var bodies = try paths.map { try sbx.gh($0).body }
            let items = try sbx.gh(paths[0]).object()["items"] as! [[String: Any]]
            for item in items.prefix(5) {
                let full = item["full_name"] as! String
                bodies.append(try sbx.gh("/repos/\(full)/commits?per_page=100").body)
                bodies.append(try sbx.gh("/repos/\(full)/contributors?anon=1").body)
                let owner = (item["owner"] as! [String: Any])["login"] as! String
                bodies.append(try sbx.gh("/users/\(owner)").body)
                bodies.append(try sbx.gh("/users/\(owner)/events/public").body)
            }
            let truth = try TestHTTP.request("GET", sbx.base + "/_sandbox/truth").body
            bodies.append(truth)
            return bodies
        }
        let a = try SandboxProcess(["--seed", "99", "--repos", "80", "--users", "90"])
        let first = try collect(a)
        a.stop()
        let b = try SandboxProcess(["--seed", "99", "--repos", "80", "--users", "90"])
        let second = try collect(b)
        b.stop()
        XCTAssertEqual(first.count, second.count)
        for (i, (x, y)) in zip(first, second).enumerated() { XCTAssertEqual(x, y, "body \(i) differs between runs") }
        let c = try SandboxProcess(["--seed", "100", "--repos", "80", "--users", "90"])
        defer { c.stop() }
        XCTAssertNotEqual(try c.gh(paths[0]).body, first[0], "another seed, another world")
    }
}
