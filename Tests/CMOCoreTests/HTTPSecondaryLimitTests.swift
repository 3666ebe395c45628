import CMOTestSupport
import Foundation
import XCTest

@testable import CMOHTTP

/// Secondary limits and other host penalties: nothing starts during one, one request (the probe)
/// goes first after it, serial requests never overlap, a penalty outlives the process that learned
/// it, and rejections of requests already in flight are one penalty, not several. Also OpenAI's
/// `insufficient_quota`, which is billing, not a rate limit.
final class HTTPSecondaryLimitTests: XCTestCase {
    private static let secondary =
        #"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#

    private func server(clock: HTTPTestClock, handler: @escaping @Sendable (RecordedRequest) -> ScriptedReply) throws -> ScriptedHTTPServer
    {
        let server = try ScriptedHTTPServer(clock: { clock.now() }, handler: handler)
        addTeardownBlock { server.stop() }
        return server
    }

    private func client(
        clock: HTTPTestClock, maxConcurrency: Int = 4, maxWait: Double = 120, limitsPath: String? = nil
    ) throws -> HTTPClient {
        try HTTPClient(
            HTTPClientConfig(
                maxConcurrency: maxConcurrency, connectTimeout: 2, totalTimeout: 5, maxRetries: 5, backoffBase: 0.001, backoffCap: 0.005,
                maxWait: maxWait, cachePath: nil, limitsPath: limitsPath, clock: clock.httpClock))
    }

    private func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "cmo-penalty-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// A fake GitHub whose secondary limit trips on the `trip`-th request and lasts `penalty`
    /// seconds of the shared clock; every other request during it is counted as a violation.
    final class FakeSecondaryLimit: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        private var until = 0.0
        private(set) var violations = 0
        let trip: Int
        let penalty: Double
        let retryAfter: Bool
        let clock: HTTPTestClock

        init(trip: Int, penalty: Double, retryAfter: Bool = true, clock: HTTPTestClock) {
            self.trip = trip
            self.penalty = penalty
            self.retryAfter = retryAfter
            self.clock = clock
        }

        var violationCount: Int { lock.withLock { violations } }

        func answer(_ request: RecordedRequest) -> ScriptedReply {
            lock.withLock {
                count += 1
                let now = clock.now()
                let headers = { (left: Double) in self.retryAfter ? [("Retry-After", "\(Int(left.rounded(.up)))")] : [] }
                if count == trip {
                    until = now + penalty
                    return .status(403, headers(penalty), body: HTTPSecondaryLimitTests.secondary)
                }
                if now < until {
                    violations += 1
                    return .status(403, headers(until - now), body: HTTPSecondaryLimitTests.secondary)
                }
                return .status(200, body: "ok", delay: 0.1)
            }
        }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func next() -> Int {
            lock.withLock {
                n += 1
                return n
            }
        }
    }

    func testNothingStartsDuringAPenaltyThenOneProbeGoesFirst() throws {
        let clock = HTTPTestClock()
        let github = FakeSecondaryLimit(trip: 1, penalty: 10, clock: clock)
        let s = try server(clock: clock, handler: github.answer)
        let http = try client(clock: clock, maxConcurrency: 4)
        let results = http.perform((0..<10).map { HTTPRequest(url: s.url + "/r\($0)") })
        XCTAssertEqual(results.filter { (try? $0.get().status) == 200 }.count, 10)
        let times = s.requests.map(\.receivedAt).sorted()
        let tripAt = times[0]
        let after = times.filter { $0 >= tripAt + 10 }
        XCTAssertEqual(times.filter { $0 > tripAt + 0.5 && $0 < tripAt + 10 }, [], "nothing is sent during the penalty")
        XCTAssertGreaterThanOrEqual(after.count, 2)
        XCTAssertGreaterThanOrEqual(after[1] - after[0], 0.09, "the probe's answer comes back before anything else is sent")
        XCTAssertLessThanOrEqual(github.violationCount, 3, "only what was already in flight when the limit tripped")
    }

    func testSerialRequestsNeverOverlapAndStillAllArrive() throws {
        let clock = HTTPTestClock()
        let s = try server(clock: clock) { _ in .status(200, body: "ok", delay: 0.05) }
        let http = try client(clock: clock, maxConcurrency: 8)
        let results = http.perform((0..<6).map { HTTPRequest(url: s.url + "/r\($0)", serial: true) })
        XCTAssertEqual(results.compactMap { try? $0.get().text }, Array(repeating: "ok", count: 6))
        XCTAssertEqual(s.maxInFlight, 1, "one at a time")
        XCTAssertEqual(s.connectionCount, 1, "over one kept-alive connection")
    }

    func testSerialRequestsMeetNoViolationWhenTheLimitTrips() throws {
        let clock = HTTPTestClock()
        let github = FakeSecondaryLimit(trip: 4, penalty: 30, clock: clock)
        let s = try server(clock: clock, handler: github.answer)
        let http = try client(clock: clock, maxConcurrency: 8)
        let results = http.perform((0..<12).map { HTTPRequest(url: s.url + "/r\($0)", serial: true) })
        XCTAssertEqual(results.filter { (try? $0.get().status) == 200 }.count, 12)
        XCTAssertEqual(github.violationCount, 0)
        XCTAssertEqual(s.requests.count, 13, "twelve answers and the one that tripped the limit")
    }

    func testRejectionsOfRequestsAlreadyInFlightAreOnePenalty() throws {
        // No retry-after: 60 s, doubling only when a request sent after the penalty is rejected again.
        // Four requests in flight at the trip must not make it 60·2³ s (past --max-wait).
        let clock = HTTPTestClock()
        let counter = Counter()
        let s = try server(clock: clock) { _ in
            counter.next() <= 4 ? .status(403, body: Self.secondary, delay: 0.05) : .status(200, body: "ok")
        }
        let http = try client(clock: clock, maxConcurrency: 4, maxWait: 100)
        let start = clock.now()
        let results = http.perform((0..<4).map { HTTPRequest(url: s.url + "/r\($0)") })
        XCTAssertEqual(results.compactMap { try? $0.get().text }, ["ok", "ok", "ok", "ok"], "\(results)")
        XCTAssertLessThan(clock.now() - start, 70, "one 60 s penalty")
        XCTAssertGreaterThanOrEqual(clock.now() - start, 60)
    }

    func testAPenaltyOutlivesTheProcessThatLearnedIt() throws {
        let clock = HTTPTestClock()
        let github = FakeSecondaryLimit(trip: 1, penalty: 40, clock: clock)
        let s = try server(clock: clock, handler: github.answer)
        let path = try tempDir() + "/http-limits.sqlite"

        // The first run meets the limit and stops: the wait is longer than it may wait (exit 75).
        let first = try client(clock: clock, maxWait: 5, limitsPath: path)
        XCTAssertThrowsError(try first.perform(HTTPRequest(url: s.url + "/a"))) { error in
            XCTAssertEqual((error as? HTTPError)?.exitStatus, .tempFail, "\(error)")
        }
        // Another run that may not wait that long sends nothing at all.
        let impatient = try client(clock: clock, maxWait: 5, limitsPath: path)
        XCTAssertThrowsError(try impatient.perform(HTTPRequest(url: s.url + "/b")))
        XCTAssertEqual(s.requests.count, 1)
        // A run that may wait waits the penalty out, then sends.
        let patient = try client(clock: clock, maxWait: 120, limitsPath: path)
        XCTAssertEqual(try patient.perform(HTTPRequest(url: s.url + "/c")).text, "ok")
        XCTAssertEqual(s.requests.count, 2)
        XCTAssertGreaterThanOrEqual(s.requests[1].receivedAt - s.requests[0].receivedAt, 40)
        XCTAssertEqual(github.violationCount, 0)
        // Once a request got through, the penalty is forgotten: the next run sends at once.
        let later = try client(clock: clock, limitsPath: path)
        let before = clock.now()
        XCTAssertEqual(try later.perform(HTTPRequest(url: s.url + "/d")).text, "ok")
        XCTAssertLessThan(clock.now() - before, 1)
    }

    func testInsufficientQuotaIsNotRetriedButOther429sAre() throws {
        let clock = HTTPTestClock()
        let quota =
            #"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#
        let billing = try ScriptedHTTPServer(
            script: [.status(429, [("Content-Type", "application/json")], body: quota)], clock: { clock.now() })
        addTeardownBlock { billing.stop() }
        let http = try client(clock: clock)
        XCTAssertThrowsError(try http.perform(HTTPRequest(method: "POST", url: billing.url + "/v1/chat/completions", body: [1]))) { error in
            guard let e = error as? HTTPError, case .noQuota = e else { return XCTFail("\(error)") }
            XCTAssertEqual(e.exitStatus, .unavailable)
            XCTAssertFalse(e.retryable)
            XCTAssertTrue(e.description.contains("no quota (billing): insufficient_quota"), e.description)
        }
        XCTAssertEqual(billing.requests.count, 1)
        XCTAssertEqual(http.stats.retries, 0)

        let limited =
            #"{"error":{"message":"Rate limit reached for m on requests per min.","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#
        let throttled = try ScriptedHTTPServer(
            script: [.status(429, [("retry-after", "1")], body: limited), .status(200, body: "ok")], clock: { clock.now() })
        addTeardownBlock { throttled.stop() }
        XCTAssertEqual(try http.perform(HTTPRequest(method: "POST", url: throttled.url + "/v1/chat/completions", body: [1])).text, "ok")
        XCTAssertEqual(throttled.requests.count, 2)
    }
}
