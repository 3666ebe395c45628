import Foundation
import XCTest

@testable import CMOSandbox

// Helpers for the service tests: building requests and reading JSON answers.

/// A request with a JSON body (when given) and headers.
func sandboxRequest(
    _ method: String, _ path: String, json: Any? = nil, query: [(String, String)] = [], headers: [String: String] = [:]
) -> SandboxRequest {
    let body = json.map { Array(try! JSONSerialization.data(withJSONObject: $0, options: [.fragmentsAllowed])) } ?? []
    var h = headers
    if json != nil { h["content-type"] = "application/json" }
    return SandboxRequest(method: method, path: path, query: query.map { (name: $0.0, value: $0.1) }, headers: h, body: body)
}

/// The response body as a JSON object (empty when it is not one).
func jsonObject(_ r: SandboxResponse?) -> [String: Any] {
    guard let r, let o = try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] else { return [:] }
    return o
}

/// A clock tests can move.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = start }
    var now: Date { lock.withLock { current } }
    func advance(_ seconds: TimeInterval) { lock.withLock { current += seconds } }
    var clock: ServiceKit.Clock { { [self] in now } }
}

final class ServiceHelpersTests: XCTestCase {
    func testDeterministicUUIDsAreWellFormed() {
        let a = ServiceKit.uuid(seed: 42, "x")
        XCTAssertEqual(a, ServiceKit.uuid(seed: 42, "x"))
        XCTAssertNotEqual(a, ServiceKit.uuid(seed: 43, "x"))
        XCTAssertTrue(ServiceKit.isUUID(a))
        XCTAssertEqual(Array(a)[14], "4")
        let o1 = ServiceKit.orderedUUID(seed: 1, sequence: 1, epochMS: 1_000)
        let o2 = ServiceKit.orderedUUID(seed: 1, sequence: 2, epochMS: 1_000)
        XCTAssertLessThan(o1, o2)
    }

    func testHTTPDateIsIMFFixdate() {
        XCTAssertEqual(ServiceKit.httpDate(Date(timeIntervalSince1970: 1_684_852_921)), "Tue, 23 May 2023 14:42:01 GMT")
    }

    func testRateWindowResetsEachWindow() {
        var w = ServiceKit.RateWindow(limit: 2, window: 1)
        let t = Date(timeIntervalSince1970: 100)
        XCTAssertTrue(w.take(now: t).allowed)
        XCTAssertTrue(w.take(now: t).allowed)
        XCTAssertFalse(w.take(now: t).allowed)
        XCTAssertTrue(w.take(now: t + 1).allowed)
    }
}
