import Foundation
import XCTest

/// Primary and secondary limits, their headers, ETag/304 (apis.md §1.8, §1.9, §1.14).
final class GitHubRateLimitTests: XCTestCase {
    func testHeadersOnEveryResponseAndFreeConditionalRequests() throws {
        let sbx = try SandboxProcess(["--repos", "30", "--users", "40"])
        defer { sbx.stop() }
        for (path, resource) in [
            ("/users/dependabot[bot]", "core"), ("/users/nobody-at-all", "core"),
            ("/search/repositories?q=stars:>1", "search"), ("/search/repositories", "search"),
        ] {
            let r = try sbx.gh(path)
            for h in ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-used", "x-ratelimit-reset"] {
                XCTAssertNotNil(r.headers[h], "\(h) on \(path)")
            }
            XCTAssertEqual(r.headers["x-ratelimit-resource"], resource, path)
        }
        let first = try sbx.gh("/users/dependabot[bot]")
        let etag = try XCTUnwrap(first.headers["etag"])
        let used = Int(first.headers["x-ratelimit-used"]!)!
        let again = try sbx.gh("/users/dependabot[bot]", headers: ["If-None-Match": etag])
        XCTAssertEqual(again.status, 304)
        XCTAssertTrue(again.body.isEmpty)
        XCTAssertEqual(again.headers["etag"], etag)
        XCTAssertEqual(Int(again.headers["x-ratelimit-used"]!), used, "a 304 spends no quota")
        let stale = try sbx.gh("/users/dependabot[bot]", headers: ["If-None-Match": "W/\"other\""])
        XCTAssertEqual(stale.status, 200)
        XCTAssertEqual(Int(stale.headers["x-ratelimit-used"]!), used + 1)
        let stats = try sbx.stats()
        XCTAssertEqual((stats["not_modified"] as? [String: Int])?["github"], 1)
    }

    func testPrimaryExhaustionAndWindowReset() throws {
        let sbx = try SandboxProcess([
            "--repos", "20", "--users", "30", "--core-limit", "3", "--window-seconds", "2", "--search-limit", "1",
        ])
        defer { sbx.stop() }
        for expected in [2, 1, 0] {
            let r = try sbx.gh("/users/dependabot[bot]")
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(r.headers["x-ratelimit-remaining"], "\(expected)")
            XCTAssertEqual(r.headers["x-ratelimit-limit"], "3")
        }
        let over = try sbx.gh("/users/dependabot[bot]")
        XCTAssertEqual(over.status, 403)
        XCTAssertEqual(over.headers["x-ratelimit-remaining"], "0")
        XCTAssertTrue((try over.object()["message"] as! String).hasPrefix("API rate limit exceeded"))
        let reset = Int(over.headers["x-ratelimit-reset"]!)!
        XCTAssertGreaterThan(reset, Int(Date().timeIntervalSince1970) - 1)
        // The search bucket is separate.
        XCTAssertEqual(try sbx.gh("/search/repositories?q=stars:>1").status, 200)
        let searchOver = try sbx.gh("/search/repositories?q=stars:>1")
        XCTAssertEqual(searchOver.status, 403)
        XCTAssertEqual(searchOver.headers["x-ratelimit-resource"], "search")
        // rate_limit stays free and readable.
        let rl = try sbx.gh("/rate_limit")
        XCTAssertEqual(rl.status, 200)
        let core = ((try rl.object()["resources"] as! [String: Any])["core"] as! [String: Any])
        XCTAssertEqual(core["remaining"] as? Int, 0)
        let stats = try sbx.stats()
        XCTAssertEqual(stats["violations_total"] as? Int, 2)
        XCTAssertEqual((stats["quota_spent"] as? [String: Int])?["github/core"], 3)
        Thread.sleep(forTimeInterval: Double(reset) - Date().timeIntervalSince1970 + 0.1)
        XCTAssertEqual(try sbx.gh("/users/dependabot[bot]").status, 200, "a new window")
    }

    func testPrimaryStatusIsSelectable() throws {
        let sbx = try SandboxProcess(["--repos", "20", "--users", "30", "--core-limit", "1", "--primary-status", "429"])
        defer { sbx.stop() }
        XCTAssertEqual(try sbx.gh("/users/dependabot[bot]").status, 200)
        let over = try sbx.gh("/users/dependabot[bot]")
        XCTAssertEqual(over.status, 429)
        XCTAssertEqual(over.headers["x-ratelimit-remaining"], "0")
    }

    func concurrent(_ sbx: SandboxProcess, _ n: Int) -> [TestHTTP.Response] {
        let results = ResultBox(n)
        inParallel(n) { i in results.set(i, try? sbx.gh("/users/dependabot[bot]")) }
        return results.values.compactMap { $0 }
    }

    func testSecondaryLimitOnConcurrency() throws {
        let sbx = try SandboxProcess([
            "--repos", "20", "--users", "30", "--latency", "github=300", "--secondary-concurrency", "2",
            "--secondary-penalty-seconds", "1",
        ])
        defer { sbx.stop() }
        let responses = concurrent(sbx, 6)
        XCTAssertEqual(responses.count, 6)
        let rejected = responses.filter { $0.status == 403 }
        XCTAssertFalse(rejected.isEmpty, "more than 2 in flight trips the secondary limit")
        for r in rejected {
            XCTAssertTrue((try r.object()["message"] as! String).contains("secondary rate limit"))
            XCTAssertNotNil(r.headers["retry-after"])
            XCTAssertNotEqual(r.headers["x-ratelimit-remaining"], "0", "not a primary limit")
        }
        let during = try sbx.gh("/users/dependabot[bot]")
        XCTAssertEqual(during.status, 403, "still inside the penalty")
        Thread.sleep(forTimeInterval: 1.1)
        XCTAssertEqual(try sbx.gh("/users/dependabot[bot]").status, 200)
        let stats = try sbx.stats()
        // The request that tripped the limit is no violation; every other rejected one, and the one sent
        // during the penalty, is.
        XCTAssertEqual(stats["violations_total"] as? Int, rejected.count)
    }

    func testSecondaryWithoutRetryAfterAnd429() throws {
        let sbx = try SandboxProcess([
            "--repos", "20", "--users", "30", "--latency", "github=200", "--secondary-concurrency", "1",
            "--no-retry-after", "--secondary-status", "429",
        ])
        defer { sbx.stop() }
        let rejected = concurrent(sbx, 4).filter { $0.status == 429 }
        XCTAssertFalse(rejected.isEmpty)
        XCTAssertTrue(rejected.allSatisfy { $0.headers["retry-after"] == nil })
    }
}

extension GitHubRateLimitTests {
    func testSecondaryLimitOnPointsPerMinute() throws {
        let sbx = try SandboxProcess(["--repos", "10", "--users", "20", "--secondary-points-per-minute", "3"])
        defer { sbx.stop() }
        for _ in 0..<3 { XCTAssertEqual(try sbx.gh("/users/dependabot[bot]").status, 200) }
        XCTAssertEqual(try sbx.gh("/rate_limit").status, 200, "another endpoint has its own points")
        let over = try sbx.gh("/users/dependabot[bot]")
        XCTAssertEqual(over.status, 403)
        XCTAssertEqual(over.headers["retry-after"], "60")
    }

    func testConditionalRequestsWithoutAuthCanBeMadeToCount() throws {
        let sbx = try SandboxProcess(["--repos", "10", "--users", "20", "--conditional-requires-auth"])
        defer { sbx.stop() }
        let first = try TestHTTP.request("GET", sbx.github + "/users/dependabot[bot]")
        XCTAssertEqual(first.headers["x-ratelimit-limit"], "60", "unauthenticated core limit")
        let again = try TestHTTP.request("GET", sbx.github + "/users/dependabot[bot]", headers: ["If-None-Match": first.headers["etag"]!])
        XCTAssertEqual(again.status, 200)
        XCTAssertEqual(again.headers["x-ratelimit-used"], "2")
        XCTAssertEqual(try sbx.gh("/users/dependabot[bot]", headers: ["If-None-Match": first.headers["etag"]!]).status, 304)
    }
}

/// Runs `body` on `n` threads at once (not limited to the core count like concurrentPerform) and waits.
func inParallel(_ n: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<n {
        group.enter()
        Thread.detachNewThread {
            body(i)
            group.leave()
        }
    }
    group.wait()
}

/// Collects results written from concurrent closures.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [TestHTTP.Response?]
    init(_ n: Int) { storage = Array(repeating: nil, count: n) }
    func set(_ i: Int, _ v: TestHTTP.Response?) { lock.withLock { storage[i] = v } }
    var values: [TestHTTP.Response?] { lock.withLock { storage } }
}
