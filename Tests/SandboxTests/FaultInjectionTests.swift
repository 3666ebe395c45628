import Foundation
import XCTest

/// The server's fault flags, keep-alive and concurrency.
final class FaultInjectionTests: XCTestCase {
    func testResetTruncate5xxAnd429() throws {
        let sbx = try SandboxProcess([
            "--repos", "20", "--users", "30", "--reset-rate", "github=1", "--truncate-rate", "instantly=1",
            "--fail-rate", "attio=1",
        ])
        defer { sbx.stop() }
        XCTAssertThrowsError(try sbx.gh("/rate_limit")) { error in
            guard case TestHTTP.Failure.reset = error else { return XCTFail("expected a reset, got \(error)") }
        }
        XCTAssertThrowsError(try TestHTTP.request("GET", sbx.base + "/instantly/api/v2/campaigns")) { error in
            guard case TestHTTP.Failure.truncated = error else { return XCTFail("expected a short body, got \(error)") }
        }
        XCTAssertTrue((500...599).contains(try TestHTTP.request("GET", sbx.base + "/attio/v2/self").status))
        let faults = try sbx.stats()["faults_injected"] as? [String: [String: Int]]
        XCTAssertEqual(faults?["github"]?["reset"], 1)
        XCTAssertEqual(faults?["instantly"]?["truncate"], 1)
    }

    func testExpectContinueIsAnsweredAtOnce() throws {
        let sbx = try SandboxProcess(["--repos", "10", "--users", "20"])
        defer { sbx.stop() }
        let body = Array(#"{"query":"{ viewer { login } }"}"#.utf8)
        _ = try sbx.graphQL("{ viewer { login } }")  // the first query builds GitHub's schema (once per process)
        let conn = try TestHTTP.Connection(url: sbx.base)
        defer { conn.close() }
        let start = Date()
        let r = try conn.send(
            "POST", sbx.github + "/graphql", headers: ["Authorization": "Bearer \(sbx.token)", "Expect": "100-continue"], body: body)
        XCTAssertEqual(r.status, 200)
        XCTAssertNotNil(try r.object()["data"])
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.5)
    }

    func testInjected429() throws {
        let sbx = try SandboxProcess(["--repos", "10", "--users", "20", "--429-rate", "*=1"])
        defer { sbx.stop() }
        let limited = try sbx.gh("/rate_limit")
        XCTAssertEqual(limited.status, 429)
        XCTAssertEqual(limited.headers["retry-after"], "1")
    }

    func testFaultSequenceFollowsTheSeed() throws {
        func statuses(_ seed: String) throws -> [Int] {
            let sbx = try SandboxProcess(["--seed", seed, "--repos", "10", "--users", "20", "--fail-rate", "github=0.5"])
            defer { sbx.stop() }
            return try (0..<30).map { _ in try sbx.gh("/rate_limit").status }
        }
        let a = try statuses("3")
        let b = try statuses("3")
        XCTAssertEqual(a, b)
        XCTAssertTrue(a.contains(200) && a.contains { $0 >= 500 })
    }

    func testLatencyDoesNotSerialiseClientsAndKeepAliveWorks() throws {
        let sbx = try SandboxProcess(["--repos", "10", "--users", "20", "--latency", "github=300±20"])
        defer { sbx.stop() }
        let start = Date()
        let box = ResultBox(8)
        inParallel(8) { i in box.set(i, try? sbx.gh("/rate_limit")) }
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(box.values.compactMap { $0?.status }, Array(repeating: 200, count: 8))
        XCTAssertGreaterThan(elapsed, 0.28)
        XCTAssertLessThan(elapsed, 1.2, "8 requests of 300 ms in parallel, not in series")

        let conn = try TestHTTP.Connection(url: sbx.base)
        defer { conn.close() }
        for _ in 0..<3 {
            let r = try conn.send("GET", sbx.github + "/rate_limit", headers: ["Authorization": "Bearer \(sbx.token)"])
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(r.headers["connection"], "keep-alive")
        }
    }
}
