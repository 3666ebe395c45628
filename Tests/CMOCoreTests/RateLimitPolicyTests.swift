import CMOTestSupport
import Foundation
import XCTest

@testable import CMOBasics
@testable import CMOHTTP
@testable import CMOGitHub
@testable import CMOScoring
@testable import CMOWriters

/// Each vendor's dialect classifies its own responses, the client acts on the verdicts, and the
/// client-side pacing never sends over Instantly's or Attio's documented limits.
final class RateLimitPolicyTests: XCTestCase {
    private let now = 1_800_000_000.0

    private func response(_ status: Int, _ headers: [(String, String)] = [], body: String = "") -> RateLimitResponse {
        RateLimitResponse(status: status, headers: headers.map { (name: $0.0, value: $0.1) }, body: Array(body.utf8), now: now)
    }

    private static let graphQLLimited = #"{"data":null,"errors":[{"type":"RATE_LIMITED","message":"API rate limit exceeded"}]}"#
    private static let secondary = #"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes."}"#
    private static let quota =
        #"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#
    private static let linearLimited =
        #"{"errors":[{"message":"Rate limit exceeded","extensions":{"code":"RATELIMITED","type":"ratelimited"}}]}"#

    // MARK: - Classification

    func testGitHub() {
        let p = GitHubRateLimits()
        XCTAssertEqual(p.bucketHeaders, .github)
        XCTAssertEqual(
            p.classify(response(403, [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "\(Int(now) + 90)")])),
            .bucketExhausted(wait: 90))
        XCTAssertEqual(
            p.classify(response(429, [("x-ratelimit-remaining", "0"), ("Retry-After", "7"), ("x-ratelimit-reset", "\(Int(now) + 90)")])),
            .bucketExhausted(wait: 7), "Retry-After wins over the reset")
        XCTAssertEqual(
            p.classify(
                response(200, [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "\(Int(now) + 30)")], body: Self.graphQLLimited)),
            .bucketExhausted(wait: 30), "GraphQL's 200 with RATE_LIMITED is not success")
        XCTAssertEqual(
            p.classify(response(200, [("x-ratelimit-remaining", "12")], body: Self.graphQLLimited)), .notLimited,
            "points left: GitHubAPI reads the error")
        XCTAssertEqual(
            p.classify(response(403, body: Self.secondary)), .hostPenalty(wait: nil, reason: "secondary rate limit (HTTP 403)"))
        XCTAssertEqual(p.classify(response(429, [("Retry-After", "30")])), .hostPenalty(wait: 30, reason: "HTTP 429 with retry-after"))
        XCTAssertEqual(p.classify(response(403, body: #"{"message":"Resource not accessible"}"#)), .notLimited, "a 403 that is not a limit")
        XCTAssertEqual(p.classify(response(429)), .throttled(wait: nil, reason: "HTTP 429 rate limited"))
        XCTAssertEqual(p.classify(response(429, body: Self.quota)), .throttled(wait: nil, reason: "HTTP 429 rate limited"))
        XCTAssertEqual(p.classify(response(200, [("x-ratelimit-remaining", "0")])), .notLimited, "the last point spent is a success")
    }

    func testOpenAI() {
        let p = OpenAIRateLimits()
        XCTAssertEqual(p.classify(response(429, body: Self.quota)), .noQuota)
        XCTAssertEqual(p.classify(response(429, [("retry-after-ms", "1500"), ("retry-after", "9")])).wait, 1.5)
        XCTAssertEqual(p.classify(response(429, [("retry-after", "2")])), .hostPenalty(wait: 2, reason: "HTTP 429 with retry-after"))
        XCTAssertEqual(
            p.classify(
                response(
                    429,
                    [
                        ("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", "6m0s"),
                        ("x-ratelimit-remaining-tokens", "100"), ("x-ratelimit-reset-tokens", "12ms"),
                    ])), .throttled(wait: 360, reason: "HTTP 429 rate limited"))
        XCTAssertEqual(p.classify(response(429)), .throttled(wait: nil, reason: "HTTP 429 rate limited"))
        XCTAssertEqual(p.classify(response(403, [("retry-after", "5")])), .notLimited, "a 403 is the key's, not a limit")
        XCTAssertEqual(p.classify(response(200)), .notLimited)
        XCTAssertEqual(p.bucketHeaders, .openAIRequests, "the request budget is a bucket")
        XCTAssertTrue(p.sharesBuckets, "per organisation: the workspace's")
        // Its reset is a duration from the answer.
        var limits = RateLimits()
        let headers = ["x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2.5s"]
        let seen = limits.observe(host: "api.openai.com:443", hint: "openai", status: 200, names: .openAIRequests, now: 1000) { headers[$0] }
        XCTAssertEqual(seen.name, "openai")
        XCTAssertTrue(seen.emptied)
        XCTAssertEqual(limits.buckets[RateLimits.bucketKey("api.openai.com:443", "openai")]?.reset, 1002.5)
        XCTAssertEqual(RateLimitDialect.duration("1h2m3.5s"), 3723.5)
        XCTAssertEqual(RateLimitDialect.duration("250ms"), 0.25)
        XCTAssertEqual(RateLimitDialect.duration("20"), 20)
        XCTAssertNil(RateLimitDialect.duration("soon"))
    }

    func testInstantly() {
        let p = InstantlyRateLimits()
        XCTAssertEqual(
            p.classify(response(429, body: #"{"statusCode":429,"error":"Too Many Requests","message":"Rate limit exceeded"}"#)),
            .throttled(wait: nil, reason: "HTTP 429 rate limited (Instantly names no wait)"), "a bare 429 backs off with jitter")
        XCTAssertEqual(p.classify(response(429, [("Retry-After", "3")])).wait, 3, "a wait, should one come, is kept")
        XCTAssertEqual(p.classify(response(402)), .notLimited)
        XCTAssertEqual(p.classify(response(500)), .notLimited)
        XCTAssertEqual(
            p.pacing(for: HTTPRequest(url: "https://api.instantly.ai/api/v2/leads")),
            [PaceLimit("requests", requests: 100, per: 1), PaceLimit("requests", requests: 6000, per: 60)])
    }

    func testAttioRetryAfterAsHTTPDateOrSeconds() {
        let p = AttioRateLimits()
        let date = HTTPTestClock.httpDate(now + 3)  // `Tue, 23 May 2023 14:42:01 GMT`
        let verdict = p.classify(
            response(
                429, [("Retry-After", date)],
                body: #"{"status_code":429,"type":"rate_limit_error","code":"rate_limit_exceeded","message":"Rate limit exceeded"}"#))
        XCTAssertEqual(verdict, .hostPenalty(wait: 3, reason: "HTTP 429 with retry-after"))
        XCTAssertEqual(p.classify(response(429, [("Retry-After", "1")])).wait, 1)
        XCTAssertEqual(p.classify(response(429, [("Retry-After", HTTPTestClock.httpDate(now - 5))])).wait, 0, "a date past is now")
        // A reset within this second, written to the second: wait for the second's end, not 0.
        let late = RateLimitResponse(status: 429, headers: [(name: "Retry-After", value: HTTPTestClock.httpDate(now))], body: [], now: now + 0.7)
        XCTAssertEqual(p.classify(late).wait ?? -1, 0.3, accuracy: 0.001)
        XCTAssertEqual(p.classify(response(429)), .throttled(wait: nil, reason: "HTTP 429 rate limited (Attio names no wait)"))
        XCTAssertEqual(p.classify(response(403)), .notLimited)

        let read = HTTPRequest(url: "https://api.attio.com/v2/objects/people/records/rec")
        let query = HTTPRequest(method: "POST", url: "https://api.attio.com/v2/objects/people/records/query?x=1", body: [1])
        let write = HTTPRequest(method: "PUT", url: "https://api.attio.com/v2/objects/people/records?matching_attribute=email_addresses")
        let note = HTTPRequest(method: "POST", url: "https://api.attio.com/v2/notes", body: [1])
        XCTAssertEqual(p.pacing(for: read), [PaceLimit("reads", requests: 100, per: 1)])
        XCTAssertEqual(p.pacing(for: query), [PaceLimit("reads", requests: 100, per: 1)], "query-style POSTs are reads")
        XCTAssertEqual(p.pacing(for: write), [PaceLimit("writes", requests: 25, per: 1)])
        XCTAssertEqual(p.pacing(for: note), [PaceLimit("writes", requests: 25, per: 1)])
    }

    func testLinear() {
        let p = LinearRateLimits()
        XCTAssertEqual(p.bucketHeaders, .linearRequests)
        let ms = String(Int((now + 20) * 1000))
        XCTAssertEqual(
            p.classify(
                response(400, [("x-ratelimit-requests-remaining", "0"), ("x-ratelimit-requests-reset", ms)], body: Self.linearLimited)),
            .throttled(wait: 20, reason: "Linear RATELIMITED (HTTP 400)"), "reset in milliseconds")
        XCTAssertEqual(
            p.classify(response(400, [("x-ratelimit-requests-reset", "\(Int(now) + 8)")], body: Self.linearLimited)).wait, 8,
            "reset in seconds")
        XCTAssertEqual(
            p.classify(
                response(
                    400,
                    [
                        ("x-ratelimit-requests-remaining", "40"), ("x-ratelimit-requests-reset", "\(Int(now) + 3000)"),
                        ("x-ratelimit-complexity-remaining", "0"), ("x-ratelimit-complexity-reset", "\(Int(now) + 60)"),
                    ], body: Self.linearLimited)
            ).wait, 60, "the budget that is out names the wait")
        let typeOnly = #"{"errors":[{"message":"slow down","extensions":{"type":"ratelimited"}}]}"#
        XCTAssertEqual(p.classify(response(400, body: typeOnly)), .throttled(wait: nil, reason: "Linear RATELIMITED (HTTP 400)"))
        XCTAssertEqual(p.classify(response(429, [("Retry-After", "4")])).wait, 4)
        let invalid = #"{"errors":[{"message":"bad","extensions":{"type":"invalid input","code":"INVALID_INPUT"}}]}"#
        XCTAssertEqual(p.classify(response(400, body: invalid)), .notLimited)
        XCTAssertEqual(p.classify(response(200, body: #"{"data":{"issueCreate":{"success":true}}}"#)), .notLimited)
    }

    func testGenericReadsEveryDialectAsBefore() {
        let p = GenericRateLimits()
        XCTAssertEqual(p.classify(response(429, body: Self.quota)), .noQuota)
        XCTAssertEqual(p.classify(response(429, [("retry-after-ms", "250")])).wait, 0.25)
        XCTAssertEqual(
            p.classify(response(403, [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "\(Int(now) + 5)")])), .bucketExhausted(wait: 5)
        )
        XCTAssertEqual(p.classify(response(403, body: Self.secondary)), .hostPenalty(wait: nil, reason: "secondary rate limit (HTTP 403)"))
        XCTAssertEqual(
            p.classify(response(400, [("x-ratelimit-requests-reset", "\(Int(now) + 9)")], body: Self.linearLimited)),
            .throttled(wait: 9, reason: "HTTP 400 rate limited"))
        XCTAssertEqual(p.classify(response(429)), .throttled(wait: nil, reason: "HTTP 429 rate limited"))
        XCTAssertEqual(p.classify(response(401)), .notLimited)
        XCTAssertNil(HTTPRequest(url: "http://x").rateLimits, "a request without a policy is judged by the generic one")
    }

    // MARK: - Through the client

    private func server(clock: HTTPTestClock, handler: @escaping @Sendable (RecordedRequest) -> ScriptedReply) throws -> ScriptedHTTPServer
    {
        let server = try ScriptedHTTPServer(clock: { clock.now() }, handler: handler)
        addTeardownBlock { server.stop() }
        return server
    }

    private func server(clock: HTTPTestClock, _ script: [ScriptedReply]) throws -> ScriptedHTTPServer {
        let server = try ScriptedHTTPServer(script: script, clock: { clock.now() })
        addTeardownBlock { server.stop() }
        return server
    }

    private func client(
        _ clock: HTTPTestClock, maxWait: Double = 120, maxConcurrency: Int = 8, margin: Double = 0.05
    ) throws -> HTTPClient {
        try HTTPClient(
            HTTPClientConfig(
                maxConcurrency: maxConcurrency, connectTimeout: 2, totalTimeout: 5, maxRetries: 5, backoffBase: 0.5, backoffCap: 30,
                maxWait: maxWait, cachePath: nil, pacingMargin: margin, clock: clock.httpClock))
    }

    func testInstantlyBare429BacksOffWithJitterThenSucceeds() throws {
        let clock = HTTPTestClock()
        let s = try server(clock: clock, [.status(429), .status(429), .status(200, body: "ok")])
        let endpoint = ServiceEndpoint(kind: .instantly, baseURL: s.url, key: "k")
        let http = try client(clock)
        let r = try http.perform(endpoint.request("GET", "/api/v2/campaigns/c"))
        XCTAssertEqual(r.text, "ok")
        XCTAssertEqual(r.attempts, 3)
        let waits = clock.sleeps
        XCTAssertFalse(waits.isEmpty)
        XCTAssertLessThanOrEqual(waits.reduce(0, +), 0.5 + 1.0 + 0.01, "full jitter: at most base·2^(n-1) before retry n")
        XCTAssertEqual(s.requests[0].header("authorization"), "Bearer k")
    }

    func testAttioHTTPDateRetryAfterIsWaitedOut() throws {
        let clock = HTTPTestClock()
        let s = try server(clock: clock, [])
        let retryAt = clock.now() + 4
        s.enqueue(.status(429, [("Retry-After", HTTPTestClock.httpDate(retryAt))]), .status(200, body: "{}"))
        let endpoint = ServiceEndpoint(kind: .attio, baseURL: s.url, key: "k")
        let http = try client(clock)
        let r = try http.perform(endpoint.request("PUT", "/v2/objects/people/records", body: Array("{}".utf8)))
        XCTAssertEqual(r.status, 200, "a 429'd write was not processed: it is sent again")
        XCTAssertEqual(s.requests.count, 2)
        XCTAssertGreaterThanOrEqual(s.requests[1].receivedAt, retryAt.rounded(.down))
    }

    func testLinearRateLimitedWaitsForTheResetAndAnEmptyBudgetIsNotSentInto() throws {
        let clock = HTTPTestClock()
        let s = try server(clock: clock, [])
        let reset = clock.now() + 6
        s.enqueue(
            .status(
                400, [("x-ratelimit-requests-remaining", "0"), ("x-ratelimit-requests-reset", String(Int(reset * 1000)))],
                body: Self.linearLimited),
            .status(
                200, [("x-ratelimit-requests-remaining", "0"), ("x-ratelimit-requests-reset", String(Int(clock.now() + 3600)))], body: "{}")
        )
        let endpoint = ServiceEndpoint(kind: .linear, baseURL: s.url, key: "lin_api_k")
        let http = try client(clock, maxWait: 60)
        let r = try http.perform(endpoint.request("POST", "/graphql", body: Array("{}".utf8), retryable: true))
        XCTAssertEqual(r.status, 200)
        XCTAssertGreaterThanOrEqual(s.requests[1].receivedAt, reset - 0.01)
        XCTAssertEqual(s.requests[0].header("authorization"), "lin_api_k")
        XCTAssertThrowsError(try http.perform(endpoint.request("POST", "/graphql", body: Array("{}".utf8)))) { error in
            guard case .rateLimitWaitTooLong(_, _, let bucket)? = error as? HTTPError else { return XCTFail("\(error)") }
            XCTAssertEqual(bucket, "linear")
        }
        XCTAssertEqual(s.requests.count, 2, "nothing is sent while the request budget is 0")
    }

    func testOpenAIQuotaIsBillingButGitHubsIsNot() throws {
        let clock = HTTPTestClock()
        let s = try server(clock: clock, [.status(429, body: Self.quota), .status(429, body: Self.quota), .status(200, body: "ok")])
        let openai = ServiceEndpoint(kind: .openai, baseURL: s.url + "/v1", key: "sk")
        let http = try client(clock)
        XCTAssertThrowsError(try http.perform(openai.request("POST", "/chat/completions", body: [1], retryable: true))) { error in
            guard case .noQuota? = error as? HTTPError else { return XCTFail("\(error)") }
        }
        let github = ServiceEndpoint(kind: .github, baseURL: s.url, key: "t")
        XCTAssertEqual(try http.perform(github.request("GET", "/x")).text, "ok", "another vendor's 429 backs off")
    }

    // MARK: - Pacing

    /// Most sends within any closed window of `seconds` (a sweep over sorted times).
    private func busiest(_ times: [Double], _ seconds: Double) -> Int {
        let t = times.sorted()
        var most = 0
        var lo = 0
        for hi in t.indices {
            while t[hi] - t[lo] > seconds { lo += 1 }
            most = max(most, hi - lo + 1)
        }
        return most
    }

    func testPacerHoldsBothInstantlyLimitsOverTwoSimulatedMinutes() {
        // A greedy sender on a simulated clock: every send goes the moment the pacer allows it.
        for margin in [0.0, 0.05] {
            var pacer = RequestPacer(margin: margin)
            let limits = InstantlyRateLimits().pacing(for: HTTPRequest(url: "https://api.instantly.ai/api/v2/leads"))
            var clock = now
            var sent: [Double] = []
            while clock < now + 120 {
                if let held = pacer.wait(host: "api.instantly.ai", limits: limits, now: clock) {
                    clock = held.at
                    continue
                }
                pacer.record(host: "api.instantly.ai", limits: limits, at: clock)
                sent.append(clock)
                clock += 0.0005  // a send takes a little time
            }
            XCTAssertLessThanOrEqual(busiest(sent, 1), 100, "margin \(margin)")
            XCTAssertLessThanOrEqual(busiest(sent, 60), 6000, "margin \(margin)")
            XCTAssertGreaterThan(sent.count, margin == 0 ? 11_900 : 11_300, "the limits are used, not starved")
        }
        // With a lower minute limit, that one binds: 1,000 in the first seconds, then nothing till the minute is over.
        var pacer = RequestPacer()
        let limits = InstantlyRateLimits(requestsPerSecond: 100, requestsPerMinute: 1000).pacing(for: HTTPRequest(url: "http://h"))
        var clock = now
        var sent: [Double] = []
        while clock < now + 120 {
            if let held = pacer.wait(host: "h", limits: limits, now: clock) {
                clock = held.at
                continue
            }
            pacer.record(host: "h", limits: limits, at: clock)
            sent.append(clock)
        }
        XCTAssertLessThanOrEqual(busiest(sent, 1), 100)
        XCTAssertLessThanOrEqual(busiest(sent, 60), 1000)
        XCTAssertEqual(sent.filter { $0 < now + 60 }.count, 1000)
        XCTAssertEqual(sent.filter { $0 > now + 10 && $0 < now + 60 }.count, 0)
    }

    func testClientPacesInstantlyUnderBothLimitsForTwoMinutes() throws {
        let clock = HTTPTestClock()
        let s = try server(clock: clock) { _ in .status(200, body: "{}") }
        let endpoint = ServiceEndpoint(kind: .instantly, baseURL: s.url, key: "k")
        let http = try client(clock)
        let start = clock.now()
        var answered = 0
        while clock.now() - start < 120 {
            let results = http.perform((0..<400).map { _ in endpoint.request("GET", "/api/v2/accounts") })
            answered += results.filter { (try? $0.get().status) == 200 }.count
        }
        let times = s.requests.map(\.receivedAt)
        XCTAssertEqual(answered, times.count)
        XCTAssertGreaterThan(times.count, 11_000, "two minutes near the limits")
        XCTAssertLessThanOrEqual(busiest(times, 1), 100, "never more than 100 in a second")
        XCTAssertLessThanOrEqual(busiest(times, 60), 6000, "never more than 6,000 in a minute")
        XCTAssertGreaterThan(http.stats.waitSeconds, 100, "the client waited rather than sent")
    }

    func testClientPacesAttioWritesAndReadsApart() throws {
        let clock = HTTPTestClock()
        let s = try server(clock: clock) { _ in .status(200, body: "{}") }
        let endpoint = ServiceEndpoint(kind: .attio, baseURL: s.url, key: "k")
        let http = try client(clock)
        let start = clock.now()
        let writes = (0..<100).map { _ in endpoint.request("PUT", "/v2/objects/people/records", body: Array("{}".utf8)) }
        let reads = (0..<200).map { _ in endpoint.request("GET", "/v2/objects/people/records/r") }
        let results = http.perform(writes + reads)
        XCTAssertEqual(results.filter { (try? $0.get().status) == 200 }.count, 300)
        let writeTimes = s.requests.filter { $0.method == "PUT" }.map(\.receivedAt)
        let readTimes = s.requests.filter { $0.method == "GET" }.map(\.receivedAt)
        XCTAssertLessThanOrEqual(busiest(writeTimes, 1), 25)
        XCTAssertLessThanOrEqual(busiest(readTimes, 1), 100)
        XCTAssertGreaterThanOrEqual(clock.now() - start, 3, "100 writes at 25 a second take over three seconds")
        XCTAssertLessThan(clock.now() - start, 6, "reads went alongside the writes, on their own budget")
    }

    func testPacingRatesComeFromSettings() throws {
        let clock = HTTPTestClock()
        let s = try server(clock: clock) { _ in .status(200, body: "{}") }
        let settings = try Settings(
            stage: "t", configPath: nil,
            environment: [
                "INSTANTLY_API_KEY": "k", "INSTANTLY_API_URL": s.url, "CMO_INSTANTLY_REQUESTS_PER_SECOND": "5",
                "CMO_INSTANTLY_REQUESTS_PER_MINUTE": "12",
            ])
        let endpoint = try ServiceEndpoint.resolve(.instantly, settings: settings)
        let http = try client(clock)
        let start = clock.now()
        _ = http.perform((0..<24).map { _ in endpoint.request("GET", "/api/v2/accounts") })
        let times = s.requests.map(\.receivedAt)
        XCTAssertEqual(times.count, 24)
        XCTAssertLessThanOrEqual(busiest(times, 1), 5)
        XCTAssertLessThanOrEqual(busiest(times, 60), 12)
        XCTAssertGreaterThanOrEqual(clock.now() - start, 60)
    }
}

extension RateLimitVerdict {
    /// The wait a verdict names, for terse assertions.
    fileprivate var wait: Double? {
        switch self {
        case .bucketExhausted(let w), .hostPenalty(let w, _), .throttled(let w, _): w.map { ($0 * 1000).rounded() / 1000 }
        default: nil
        }
    }
}
