import CMOTestSupport
import Foundation
import XCTest

@testable import CMOBasics
@testable import CMOHTTP

final class HTTPClientTests: XCTestCase {
    private let token = "ghp_SuperSecretToken1234567890"

    // MARK: - Helpers

    private func server(_ script: [ScriptedReply] = [], clock: HTTPTestClock? = nil) throws -> ScriptedHTTPServer {
        let now: @Sendable () -> Double
        if let clock { now = { clock.now() } } else { now = { Date().timeIntervalSince1970 } }
        let server = try ScriptedHTTPServer(script: script, clock: now)
        addTeardownBlock { server.stop() }
        return server
    }

    private func client(
        clock: HTTPTestClock = HTTPTestClock(), maxRetries: Int = 3, maxWait: Double = 30, maxConcurrency: Int = 8,
        totalTimeout: Double = 5, cachePath: String? = nil
    ) throws -> HTTPClient {
        try HTTPClient(
            HTTPClientConfig(
                maxConcurrency: maxConcurrency, connectTimeout: 2, totalTimeout: totalTimeout, maxRetries: maxRetries,
                backoffBase: 0.001, backoffCap: 0.005, maxWait: maxWait, cachePath: cachePath, clock: clock.httpClock))
    }

    private func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "cmo-http-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    private func failure(_ result: Result<HTTPResponse, HTTPError>) -> HTTPError? {
        if case .failure(let e) = result { return e }
        return nil
    }

    // MARK: - Happy path

    func testHappyPathReusesOneConnection() throws {
        let s = try server((1...5).map { .status(200, [("Content-Type", "text/plain")], body: "hello \($0)") })
        let http = try client(maxConcurrency: 1)
        for i in 1...3 {
            let r = try http.perform(HTTPRequest(url: s.url + "/r\(i)"))
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(r.text, "hello \(i)")
            XCTAssertEqual(r.header("Content-Type"), "text/plain")
            XCTAssertEqual(r.attempts, 1)
            XCTAssertFalse(r.fromCache)
        }
        let batch = http.perform([HTTPRequest(url: s.url + "/r4"), HTTPRequest(url: s.url + "/r5")])
        XCTAssertEqual(try batch.map { try $0.get().text }, ["hello 4", "hello 5"])
        XCTAssertEqual(s.connectionCount, 1, "keep-alive: every request on one connection")
        let first = try XCTUnwrap(s.requests.first)
        XCTAssertEqual(first.header("user-agent"), "cmo/\(CMOVersion.string)")
        XCTAssertNotNil(first.header("accept-encoding"), "gzip is offered")
        XCTAssertEqual(s.requests.map(\.target), ["/r1", "/r2", "/r3", "/r4", "/r5"])
        XCTAssertEqual(http.stats.requestsSent, 5)
        XCTAssertEqual(http.stats.retries, 0)
    }

    func testPostSendsBodyAndHeaders() throws {
        let s = try server([.status(201, body: "{}")])
        let http = try client()
        let r = try http.perform(
            HTTPRequest(
                method: "POST", url: s.url + "/leads", headers: [("Content-Type", "application/json")],
                body: Array("{\"a\":1}".utf8)))
        XCTAssertEqual(r.status, 201)
        let got = try XCTUnwrap(s.requests.first)
        XCTAssertEqual(got.method, "POST")
        XCTAssertEqual(String(decoding: got.body, as: UTF8.self), "{\"a\":1}")
        XCTAssertEqual(got.header("content-type"), "application/json")
    }

    func testGzipBodyIsDecoded() throws {
        let gzipped: [UInt8] = [
            31, 139, 8, 0, 0, 0, 0, 0, 2, 255, 203, 72, 205, 201, 201, 87, 72, 175, 202, 44, 0, 0, 25, 106, 210, 223, 10, 0, 0, 0,
        ]
        let head = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: \(gzipped.count)\r\n\r\n"
        let s = try server([ScriptedReply(raw: Array(head.utf8) + gzipped)])
        let r = try client().perform(HTTPRequest(url: s.url + "/z"))
        XCTAssertEqual(r.text, "hello gzip")
        XCTAssertTrue(s.requests[0].header("accept-encoding")?.contains("gzip") ?? false)
    }

    // MARK: - Retries

    func test429ThenSuccessHonoursRetryAfterSeconds() throws {
        let clock = HTTPTestClock()
        let s = try server([.status(429, [("Retry-After", "2")]), .status(200, body: "ok")], clock: clock)
        let http = try client(clock: clock)
        var events: [HTTPEvent] = []
        http.onEvent = { events.append($0) }
        let r = try http.perform(HTTPRequest(url: s.url + "/x"))
        XCTAssertEqual(r.text, "ok")
        XCTAssertEqual(r.attempts, 2)
        let gap = s.requests[1].receivedAt - s.requests[0].receivedAt
        XCTAssertGreaterThanOrEqual(gap, 2, "the retry waited for Retry-After")
        XCTAssertGreaterThanOrEqual(http.stats.waitSeconds, 1.9)
        XCTAssertTrue(events.contains { if case .retrying = $0 { true } else { false } })
    }

    func test503WithRetryAfterHTTPDateThen200() throws {
        let clock = HTTPTestClock()
        let s = try server([], clock: clock)
        let retryAt = clock.now() + 3
        s.enqueue(.status(503, [("Retry-After", HTTPTestClock.httpDate(retryAt))]), .status(200, body: "back"))
        let http = try client(clock: clock)
        let r = try http.perform(HTTPRequest(url: s.url + "/x"))
        XCTAssertEqual(r.text, "back")
        XCTAssertEqual(r.attempts, 2)
        XCTAssertGreaterThanOrEqual(s.requests[1].receivedAt, retryAt.rounded(.down))
        XCTAssertGreaterThan(http.stats.waitSeconds, 2)
    }

    func testServerErrorsUntilGiveUpExit69() throws {
        let s = try server(Array(repeating: .status(500, body: "boom"), count: 4))
        let http = try client(maxRetries: 3)
        XCTAssertThrowsError(try http.perform(HTTPRequest(url: s.url + "/x"))) { error in
            XCTAssertEqual(error as? HTTPError, .serverError(request: "GET \(s.url)/x", status: 500, attempts: 4))
            XCTAssertEqual((error as? HTTPError)?.exitStatus, .unavailable)
        }
        XCTAssertEqual(s.requests.count, 4)
        XCTAssertEqual(http.stats.retries, 3)
    }

    func testTruncatedBodyIsRetried() throws {
        let s = try server([
            .raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part"),
            .status(200, body: "complete"),
        ])
        let http = try client()
        let r = try http.perform(HTTPRequest(url: s.url + "/x"))
        XCTAssertEqual(r.text, "complete")
        XCTAssertEqual(r.attempts, 2)
    }

    func testSlowResponseTimesOut() throws {
        let s = try server([.status(200, body: "late", delay: 3), .status(200, body: "late", delay: 3)])
        let http = try client(maxRetries: 1, totalTimeout: 0.3)
        let started = Date()
        XCTAssertThrowsError(try http.perform(HTTPRequest(url: s.url + "/slow"))) { error in
            guard case .transport(_, _, let attempts)? = error as? HTTPError else { return XCTFail("\(error)") }
            XCTAssertEqual(attempts, 2)
            XCTAssertEqual((error as? HTTPError)?.exitStatus, .unavailable)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
    }

    func testConnectionRefusedIsRetriedThenExit69EvenForWrites() throws {
        let url = "http://127.0.0.1:\(try ScriptedHTTPServer.unusedPort())/x"
        let http = try client(maxRetries: 2)
        let results = http.perform([HTTPRequest(url: url), HTTPRequest(method: "POST", url: url, body: [1], retryable: false)])
        for result in results {
            guard case .transport(_, _, let attempts)? = failure(result) else { return XCTFail("\(result)") }
            XCTAssertEqual(attempts, 3, "a refused connection never landed, so even a write is retried")
            XCTAssertEqual(failure(result)?.exitStatus, .unavailable)
        }
    }

    func testNonRetryablePostIsNotRetriedOn500ButIsOn429() throws {
        let s = try server([.status(500), .status(429), .status(201, body: "made")])
        let http = try client()
        let post = HTTPRequest(method: "POST", url: s.url + "/write", body: Array("{}".utf8))
        XCTAssertFalse(post.retryable)
        XCTAssertThrowsError(try http.perform(post)) { error in
            XCTAssertEqual(error as? HTTPError, .serverError(request: "POST \(s.url)/write", status: 500, attempts: 1))
        }
        XCTAssertEqual(s.requests.count, 1)
        let r = try http.perform(post)
        XCTAssertEqual(r.status, 201)
        XCTAssertEqual(r.attempts, 2, "a 429 was not processed, so the write is sent again")
    }

    // MARK: - Credentials

    func testUnauthorizedExit77AndNotRetried() throws {
        let s = try server([
            .status(401, body: #"{"message":"Bad credentials"}"#),
            .status(403, body: #"{"message":"Resource not accessible by integration"}"#),
        ])
        let http = try client()
        for _ in 0..<2 {
            XCTAssertThrowsError(try http.perform(HTTPRequest(url: s.url + "/user"))) { error in
                guard case .unauthorized? = error as? HTTPError else { return XCTFail("\(error)") }
                XCTAssertEqual((error as? HTTPError)?.exitStatus, .noPermission)
            }
        }
        XCTAssertEqual(s.requests.count, 2)
    }

    func testSecretsNeverInEventsErrorsOrCache() throws {
        let dir = try tempDir()
        let s = try server([
            .status(503),
            .status(200, [("ETag", "\"e1\"")], body: "data"),
            .status(401, body: #"{"message":"token Bearer \#(token) is revoked"}"#),
        ])
        let http = try client(cachePath: dir + "/http-cache.sqlite")
        var log: [String] = []
        http.onEvent = { log.append($0.description) }
        let auth = [("Authorization", "Bearer \(token)")]
        _ = try http.perform(HTTPRequest(url: s.url + "/a?api_key=querysecret&page=2", headers: auth, conditional: true))
        XCTAssertThrowsError(try http.perform(HTTPRequest(url: s.url + "/b", headers: auth))) { error in
            log.append("\(error)")
        }
        XCTAssertFalse(log.isEmpty)
        XCTAssertTrue(log.contains { $0.contains("api_key=***&page=2") }, "\(log)")
        for line in log {
            XCTAssertFalse(line.contains(token), line)
            XCTAssertFalse(line.contains("querysecret"), line)
        }
        var stored = Data()
        for file in try FileManager.default.contentsOfDirectory(atPath: dir) {
            stored += try Data(contentsOf: URL(fileURLWithPath: dir + "/" + file))
        }
        XCTAssertNil(stored.range(of: Data(token.utf8)), "the token is never stored")
        XCTAssertNil(stored.range(of: Data("querysecret".utf8)), "nor the URL")
    }

    // MARK: - ETag cache

    func testNotModifiedServedFromCacheAcrossClients() throws {
        let dir = try tempDir()
        let etag = "W/\"abc123\""
        let s = try server([
            .status(
                200,
                [
                    ("ETag", etag), ("Link", "<x?page=2>; rel=\"next\""), ("x-ratelimit-resource", "core"),
                    ("x-ratelimit-remaining", "4999"), ("x-ratelimit-used", "1"),
                ], body: "payload"),
            .status(
                304,
                [
                    ("ETag", etag), ("x-ratelimit-resource", "core"), ("x-ratelimit-remaining", "4999"),
                    ("x-ratelimit-used", "1"),
                ]),
            .status(200, [("ETag", "\"other\"")], body: "theirs"),
        ])
        let request = HTTPRequest(url: s.url + "/repos/o/r", headers: [("Authorization", "Bearer \(token)")], conditional: true)
        let first = try client(cachePath: dir + "/http-cache.sqlite")
        XCTAssertEqual(try first.perform(request).text, "payload")
        XCTAssertNil(s.requests[0].header("if-none-match"))

        let second = try client(cachePath: dir + "/http-cache.sqlite")
        let cached = try second.perform(request)
        XCTAssertEqual(s.requests[1].header("if-none-match"), etag, "sent back exactly as received")
        XCTAssertEqual(cached.status, 200)
        XCTAssertTrue(cached.fromCache)
        XCTAssertEqual(cached.text, "payload")
        XCTAssertEqual(cached.header("link"), "<x?page=2>; rel=\"next\"")
        XCTAssertEqual(second.stats.notModified, 1)
        XCTAssertEqual(second.stats.quotaSpent["core", default: 0], 0, "a 304 is free")

        var other = request
        other.headers = [("Authorization", "Bearer another-token-xyz")]
        XCTAssertEqual(try second.perform(other).text, "theirs")
        XCTAssertNil(s.requests[2].header("if-none-match"), "another token does not share the entry")
    }

    // MARK: - GitHub rate limits

    func testPrimaryLimitWaitsForResetBeforeSending() throws {
        let clock = HTTPTestClock()
        let s = try server([], clock: clock)
        let reset = (clock.now() + 2).rounded(.up)
        s.enqueue(
            .status(
                200, [("x-ratelimit-resource", "core"), ("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "\(Int(reset))")]),
            .status(200, [("x-ratelimit-resource", "core"), ("x-ratelimit-remaining", "4999")], body: "fresh"))
        let http = try client(clock: clock)
        _ = try http.perform(HTTPRequest(url: s.url + "/a", bucket: "core"))
        XCTAssertEqual(try http.perform(HTTPRequest(url: s.url + "/b", bucket: "core")).text, "fresh")
        XCTAssertGreaterThanOrEqual(s.requests[1].receivedAt, reset, "nothing sent before the reset")
        XCTAssertGreaterThanOrEqual(http.stats.waitSeconds, 1)
    }

    func testPrimaryLimitBeyondMaxWaitFailsWithoutSending() throws {
        let clock = HTTPTestClock()
        let s = try server([], clock: clock)
        s.enqueue(
            .status(
                200,
                [
                    ("x-ratelimit-resource", "search"), ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", "\(Int(clock.now()) + 100)"),
                ]))
        let http = try client(clock: clock, maxWait: 10)
        _ = try http.perform(HTTPRequest(url: s.url + "/search/repositories?q=a"))  // learns the bucket from the header
        XCTAssertThrowsError(try http.perform(HTTPRequest(url: s.url + "/search/repositories?q=b", bucket: "search"))) { error in
            guard case .rateLimitWaitTooLong(_, let seconds, let bucket)? = error as? HTTPError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(bucket, "search")
            XCTAssertGreaterThan(seconds, 10)
            XCTAssertEqual((error as? HTTPError)?.exitStatus, .tempFail)
        }
        XCTAssertEqual(s.requests.count, 1, "no request is sent into an empty bucket")
    }

    func test403PrimaryLimitWaitsThenRetries() throws {
        let clock = HTTPTestClock()
        let s = try server([], clock: clock)
        let reset = Int(clock.now()) + 2
        s.enqueue(
            .status(
                403, [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "\(reset)")],
                body: #"{"message":"API rate limit exceeded"}"#),
            .status(200, body: "ok"))
        let http = try client(clock: clock)
        let r = try http.perform(HTTPRequest(url: s.url + "/users/x", bucket: "core"))
        XCTAssertEqual(r.text, "ok")
        XCTAssertEqual(r.attempts, 2)
        XCTAssertGreaterThanOrEqual(s.requests[1].receivedAt, Double(reset))
    }

    func testSecondaryLimitPausesTheHost() throws {
        let clock = HTTPTestClock()
        let s = try server(
            [
                .status(403, [("Retry-After", "3")], body: #"{"message":"You have exceeded a secondary rate limit."}"#),
                .status(200, body: "a"), .status(200, body: "b"),
            ], clock: clock)
        let http = try client(clock: clock, maxConcurrency: 1)
        var events: [HTTPEvent] = []
        http.onEvent = { events.append($0) }
        let results = http.perform([HTTPRequest(url: s.url + "/a"), HTTPRequest(url: s.url + "/b")])
        XCTAssertEqual(try results.map { try $0.get().text }, ["a", "b"])
        XCTAssertGreaterThanOrEqual(s.requests[1].receivedAt - s.requests[0].receivedAt, 3, "nothing sent during the penalty")
        XCTAssertTrue(events.contains { if case .rateLimited = $0 { true } else { false } })
    }

    func testSecondaryLimitWithoutRetryAfterNeedsAMinuteSoExit75() throws {
        let s = try server([.status(429, body: #"{"message":"You have exceeded a secondary rate limit"}"#)])
        let http = try client(maxWait: 30)
        XCTAssertThrowsError(try http.perform(HTTPRequest(url: s.url + "/a"))) { error in
            guard case .rateLimitWaitTooLong(_, let seconds, _)? = error as? HTTPError else { return XCTFail("\(error)") }
            XCTAssertGreaterThanOrEqual(seconds, 60)
        }
    }

    func testGraphQLRateLimitedIsNotSuccess() throws {
        let clock = HTTPTestClock()
        let s = try server([], clock: clock)
        let reset = Int(clock.now()) + 2
        let limited = #"{"data":null,"errors":[{"type":"RATE_LIMITED","message":"API rate limit exceeded"}]}"#
        let headers = [("x-ratelimit-resource", "graphql"), ("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "\(reset)")]
        s.enqueue(.status(200, headers, body: limited), .status(200, body: #"{"data":{"u0":{"login":"a"}}}"#))
        let http = try client(clock: clock)
        let query = HTTPRequest(
            method: "POST", url: s.url + "/graphql", body: Array("{}".utf8), bucket: "graphql", retryable: true)
        let r = try http.perform(query)
        XCTAssertTrue(r.text.contains("login"))
        XCTAssertEqual(r.attempts, 2)
        XCTAssertGreaterThanOrEqual(s.requests[1].receivedAt, Double(reset))

        let far = [
            ("x-ratelimit-resource", "graphql"), ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "\(Int(clock.now()) + 3600)"),
        ]
        s.enqueue(.status(200, far, body: limited))
        XCTAssertThrowsError(try http.perform(query)) { error in
            XCTAssertEqual((error as? HTTPError)?.exitStatus, .tempFail)
        }
    }

    // MARK: - Concurrency

    func testConcurrencyIsBoundedAndResultsKeepInputOrder() throws {
        let s = try ScriptedHTTPServer(handler: { request in .status(200, body: request.target, delay: 0.05) })
        addTeardownBlock { s.stop() }
        let http = try client(maxConcurrency: 3)
        let requests = (0..<12).map { HTTPRequest(url: s.url + "/item/\($0)") }
        let results = http.perform(requests)
        XCTAssertEqual(try results.map { try $0.get().text }, (0..<12).map { "/item/\($0)" })
        XCTAssertLessThanOrEqual(s.maxInFlight, 3)
        XCTAssertGreaterThanOrEqual(s.maxInFlight, 2, "requests did overlap")
    }

    func testInFlightNeverExceedsBucketRemaining() throws {
        let clock = HTTPTestClock()
        let reset = Int(clock.now()) + 3600
        let s = try ScriptedHTTPServer(
            clock: { clock.now() },
            handler: { _ in
                .status(
                    200, [("x-ratelimit-resource", "core"), ("x-ratelimit-remaining", "2"), ("x-ratelimit-reset", "\(reset)")],
                    delay: 0.05)
            })
        addTeardownBlock { s.stop() }
        let http = try client(clock: clock, maxConcurrency: 8)
        _ = try http.perform(HTTPRequest(url: s.url + "/prime", bucket: "core"))
        let results = http.perform((0..<6).map { HTTPRequest(url: s.url + "/u/\($0)", bucket: "core") })
        XCTAssertTrue(results.allSatisfy { (try? $0.get().status) == 200 })
        XCTAssertLessThanOrEqual(s.maxInFlight, 2)
        XCTAssertEqual(http.stats.quotaSpent["core"], 7)
    }
}

final class HTTPHelpersTests: XCTestCase {
    func testRetryAfterForms() {
        let now = 1_700_000_000.0
        func parse(_ headers: [String: String]) -> Double? { HTTPClient.retryAfter({ headers[$0] }, now: now) }
        XCTAssertEqual(parse(["retry-after": "7"]), 7)
        XCTAssertEqual(parse(["retry-after": HTTPTestClock.httpDate(now + 42)]), 42)
        XCTAssertEqual(parse(["retry-after-ms": "1500", "retry-after": "9"]), 1.5)
        XCTAssertEqual(parse(["retry-after": HTTPTestClock.httpDate(now - 10)]), 0)
        XCTAssertNil(parse(["retry-after": "soon"]))
        XCTAssertNil(parse([:]))
    }

    func testRedactionAndHost() {
        XCTAssertEqual(
            HTTPClient.redact("https://user:pw@api.example.com/v1?api_key=s3cret&q=go&access_token=t"),
            "https://***@api.example.com/v1?api_key=***&q=go&access_token=***")
        XCTAssertEqual(HTTPClient.host(of: "https://user@API.github.com:8443/x?y"), "api.github.com:8443")
        XCTAssertTrue(HTTPRequest.isSecretHeader("Authorization"))
        XCTAssertTrue(HTTPRequest.isSecretHeader("X-Api-Key"))
        XCTAssertFalse(HTTPRequest.isSecretHeader("Accept"))
    }

    func testSHA256() {
        XCTAssertEqual(HTTPCache.sha256Hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(HTTPCache.sha256Hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    func testCacheIsSharedAcrossHandlesAndPrunedOldestFirst() throws {
        let dir = NSTemporaryDirectory() + "cmo-http-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try HTTPCache(path: dir + "/c.sqlite", maxBytes: 2500)
        let b = try HTTPCache(path: dir + "/c.sqlite", maxBytes: 2500)  // as another process would
        let body = [UInt8](repeating: 65, count: 1000)
        for (i, cache) in [a, b, a].enumerated() {
            try cache.store(
                "k\(i)", .init(etag: "\"\(i)\"", headers: [("etag", "\"\(i)\""), ("x-secret", "no")], body: body), now: Double(i))
        }
        XCTAssertEqual(try b.lookup("k0")?.etag, "\"0\"")
        XCTAssertEqual(try b.lookup("k0")?.headers.map(\.name), ["etag"], "only replayable headers are kept")
        try a.prune()
        XCTAssertNil(try a.lookup("k0"), "least recently used goes first")
        XCTAssertNotNil(try a.lookup("k1"))
        XCTAssertNotNil(try b.lookup("k2"))
    }

    func testErrorExitStatuses() {
        XCTAssertEqual(HTTPError.transport(request: "GET u", message: "m", attempts: 1).exitStatus, .unavailable)
        XCTAssertEqual(HTTPError.rateLimitWaitTooLong(request: "GET u", seconds: 90, bucket: "core").exitStatus, .tempFail)
        XCTAssertEqual(HTTPError.unauthorized(request: "GET u", status: 401, message: "").exitStatus, .noPermission)
        XCTAssertTrue(
            HTTPError.rateLimitWaitTooLong(request: "GET u", seconds: 89.2, bucket: "core").description.contains("90s"))
    }
}

extension HTTPClientTests {
    /// A GraphQL query costing 7 points is counted as 7, not 1, once the bucket's prior `used` is known;
    /// replies arriving out of order are not counted twice.
    func testQuotaSpentFromUsedDeltasWithAKnownBaseline() throws {
        let reset = Int(Date().timeIntervalSince1970) + 3600
        let headers: (Int) -> [(String, String)] = {
            [
                ("x-ratelimit-resource", "graphql"), ("x-ratelimit-used", "\($0)"), ("x-ratelimit-remaining", "\(5000 - $0)"),
                ("x-ratelimit-reset", "\(reset)"),
            ]
        }
        let s = try server([
            .status(200, headers(17), body: "{}"), .status(200, headers(24), body: "{}"), .status(200, headers(20), body: "{}"),
        ])
        let http = try client()
        http.noteQuotaUsed(url: s.url + "/rate_limit", bucket: "graphql", used: 10, reset: Double(reset))
        for _ in 0..<3 { _ = try http.perform(HTTPRequest(method: "POST", url: s.url + "/graphql", body: Array("{}".utf8))) }
        XCTAssertEqual(http.stats.quotaSpent["graphql"], 14, "10 → 24: 14 points, the straggler reporting 20 adds nothing")
    }
}
