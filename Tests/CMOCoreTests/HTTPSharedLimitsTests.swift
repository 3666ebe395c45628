import CMOTestSupport
import Foundation
import XCTest

@testable import CMOHTTP
@testable import CMOStorage

/// HTTP clients that open the workspace's limits from the environment, as stages do, on each storage
/// backend: two clients (two processes, or two machines on a team database) pace one workspace's budget
/// together, and with a team database one GitHub token's quota spent by one is not overrun by the other.
final class HTTPSharedLimitsTests: XCTestCase {
    private func client(_ env: [String: String], clock: HTTPClock = .system, maxWait: Double = 30, margin: Double = 0.05) throws
        -> HTTPClient
    {
        try HTTPClient(
            HTTPClientConfig(
                maxConcurrency: 4, connectTimeout: 2, totalTimeout: 5, maxRetries: 0, backoffBase: 0.001, backoffCap: 0.005,
                maxWait: maxWait, cachePath: nil, limitsEnvironment: env, pacingMargin: margin, clock: clock))
    }

    /// Most requests in any window of `seconds` among sorted `times`.
    private func busiest(_ times: [Double], seconds: Double) -> Int {
        var most = 0
        var start = 0
        for end in times.indices {
            while times[end] - times[start] >= seconds { start += 1 }
            most = max(most, end - start + 1)
        }
        return most
    }

    /// Results of concurrent clients.
    final class Outcomes: @unchecked Sendable {
        private let lock = NSLock()
        private var failures: [String] = []
        func fail(_ e: String) { lock.withLock { failures.append(e) } }
        var errors: [String] { lock.withLock { failures } }
    }

    func testTwoClientsWriteToAttioInsideItsWindowTogether() throws {
        try StorageBackends.each { backend, env in
            let s = try ScriptedHTTPServer(handler: { _ in .status(200, body: "{}") })
            defer { s.stop() }
            let clients = try (0..<2).map { _ in try client(env, margin: 0.2) }
            nonisolated(unsafe) let both = clients  // each client is used by its own thread only
            let outcomes = Outcomes()
            DispatchQueue.concurrentPerform(iterations: 2) { n in
                let requests = (0..<20).map { i in
                    HTTPRequest(
                        method: "POST", url: s.url + "/v2/objects/people/records?c=\(n)-\(i)", body: Array("{}".utf8),
                        retryable: true, rateLimits: AttioRateLimits(writesPerSecond: 10))
                }
                for case .failure(let e) in both[n].perform(requests) { outcomes.fail("\(e)") }
            }
            XCTAssertEqual(outcomes.errors, [], backend)
            let times = s.requests.map(\.receivedAt).sorted()
            XCTAssertEqual(times.count, 40, backend)
            XCTAssertLessThanOrEqual(busiest(times, seconds: 1), 10, "\(backend): 10 writes a second from both clients together")
        }
    }

    func testATeamDatabaseSharesOneGitHubTokensQuotaAcrossMachines() throws {
        try StorageBackends.each { backend, env in
            let clock = HTTPTestClock()
            let reset = Int(clock.now()) + 100
            // A fake GitHub with 5 requests left on the token this hour.
            let s = try ScriptedHTTPServer(clock: { clock.now() }) { request in
                let left = max(0, 5 - Int(request.target.split(separator: "=").last.flatMap { Int($0) } ?? 0))
                return .status(
                    left == 0 && request.target.hasSuffix("=6") ? 403 : 200,
                    [("x-ratelimit-resource", "core"), ("x-ratelimit-remaining", "\(left)"), ("x-ratelimit-reset", "\(reset)")],
                    body: "{}")
            }
            defer { s.stop() }
            let auth = [("Authorization", "Bearer ghp_TokenSharedByTwoMachines0000")]
            func request(_ n: Int) -> HTTPRequest {
                HTTPRequest(url: s.url + "/repos/o/r?n=\(n)", headers: auth, bucket: "core", rateLimits: GitHubRateLimits())
            }
            let first = try client(env, clock: clock.httpClock, maxWait: 10)
            for n in 1...5 { XCTAssertEqual(try first.perform(request(n)).status, 200, backend) }
            let second = try client(env, clock: clock.httpClock, maxWait: 10)
            if backend == "postgres" {
                XCTAssertThrowsError(try second.perform(request(6)), "\(backend): the token's quota is spent, on every machine") { error in
                    XCTAssertEqual((error as? HTTPError)?.exitStatus, .tempFail, "\(error)")
                }
                XCTAssertEqual(s.requests.count, 5, "\(backend): nothing is sent into the spent quota")
            } else {
                // One machine: each process holds its token's budget apart (the token's turns keep it so).
                _ = try? second.perform(request(6))
                XCTAssertEqual(s.requests.count, 6, backend)
            }
        }
    }
}
