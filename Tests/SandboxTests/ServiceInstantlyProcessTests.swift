import CMOTestSupport
import Foundation
import XCTest

@testable import CMOSandbox

/// Instantly through the launched binary: its flags, its sandbox-only endpoints, and faults shaped as Instantly's.
final class ServiceInstantlyProcessTests: XCTestCase {
    func testLeadsOfACampaignAndStatsThroughTheBinary() throws {
        let sbx = try SandboxProcess(["--repos", "10", "--users", "20", "--seed", "9", "--instantly-single-no-dedupe"])
        defer { sbx.stop() }
        let env = sbx.env
        let base = try XCTUnwrap(env["INSTANTLY_API_URL"])
        let headers = ["Authorization": "Bearer \(env["INSTANTLY_API_KEY"]!)", "Content-Type": "application/json"]
        // The campaign the env file names is index 0: active, with the cmo variables.
        let campaign = try XCTUnwrap(env["CMO_SANDBOX_INSTANTLY_CAMPAIGN"])
        XCTAssertEqual(campaign, ServiceKit.uuid(seed: 9, "instantly-campaign-0"))
        let table = try TestHTTP.request("GET", sbx.base + "/_sandbox/instantly/campaigns").object()["items"] as? [[String: Any]] ?? []
        XCTAssertEqual(table.map { $0["status"] as? Int }, [1, 1, 0, 2, 3])
        XCTAssertEqual(table.first?["id"] as? String, campaign)
        XCTAssertEqual(
            ["FIXED", "DRAFT", "PAUSED", "COMPLETED"].map { env["CMO_SANDBOX_INSTANTLY_CAMPAIGN_\($0)"] },
            (1...4).map { ServiceKit.uuid(seed: 9, "instantly-campaign-\($0)") })
        XCTAssertEqual(env["CMO_SANDBOX_INSTANTLY_BLOCKLIST"], ServiceKit.uuid(seed: 9, "instantly-blocklist-custom-0"))

        let add = try JSONSerialization.data(withJSONObject: [
            "campaign_id": campaign, "skip_if_in_campaign": true,
            "leads": [["email": "ada@engines.example", "custom_variables": ["cmo_subject": "S", "cmo_body": "B"]]],
        ])
        for _ in 0..<2 { _ = try TestHTTP.request("POST", base + "/api/v2/leads/add", headers: headers, body: Array(add)) }
        let single = try JSONSerialization.data(withJSONObject: ["campaign": campaign, "email": "ada@engines.example"])
        XCTAssertEqual(try TestHTTP.request("POST", base + "/api/v2/leads", headers: headers, body: Array(single)).status, 200)

        let leads = try TestHTTP.request("GET", sbx.base + "/_sandbox/instantly/leads?campaign=\(campaign)").object()
        XCTAssertEqual(leads["count"] as? Int, 2)
        let rows = leads["items"] as? [[String: Any]] ?? []
        XCTAssertEqual((rows.first?["payload"] as? [String: Any])?["cmo_body"] as? String, "B")
        let ndjson = try TestHTTP.request("GET", sbx.base + "/_sandbox/instantly/leads?campaign=\(campaign)&format=ndjson")
        XCTAssertEqual(ndjson.text.split(separator: "\n").count, 2)

        let instantly = (try sbx.stats()["services"] as? [String: Any])?["instantly"] as? [String: Any] ?? [:]
        let c = (instantly["campaigns"] as? [String: Any])?[campaign] as? [String: Any] ?? [:]
        XCTAssertEqual(c["duplicate_leads"] as? Int, 1)
        XCTAssertEqual(c["resubmissions"] as? Int, 2)
        XCTAssertEqual((instantly["rate_limit_violations"] as? [String: Any])?["total"] as? Int, 0)
    }

    func testInjected429HasNoHeadersAndInstantlysBody() throws {
        let sbx = try SandboxProcess(["--repos", "10", "--users", "20", "--429-rate", "instantly=1", "--instantly-campaigns", "7"])
        defer { sbx.stop() }
        let env = sbx.env
        let r = try TestHTTP.request(
            "GET", env["INSTANTLY_API_URL"]! + "/api/v2/campaigns", headers: ["Authorization": "Bearer \(env["INSTANTLY_API_KEY"]!)"])
        XCTAssertEqual(r.status, 429)
        XCTAssertNil(r.headers["retry-after"])
        XCTAssertTrue(r.headers.keys.allSatisfy { !$0.contains("ratelimit") }, "\(r.headers)")
        XCTAssertEqual(try r.object()["message"] as? String, "Rate limit exceeded")
        XCTAssertEqual(try r.object()["statusCode"] as? Int, 429)
        // The sandbox-only endpoints are not subject to faults; the flag sized the workspace.
        let table = try TestHTTP.request("GET", sbx.base + "/_sandbox/instantly/campaigns")
        XCTAssertEqual(table.status, 200)
        XCTAssertEqual((try table.object()["items"] as? [Any])?.count, 7)
        XCTAssertEqual(((try sbx.stats()["faults_injected"] as? [String: Any])?["instantly"] as? [String: Int])?["429"], 1)
    }

    func testBadInstantlyFlagsExit64() throws {
        for bad in [["--instantly-unknown-cursor", "maybe"], ["--instantly-campaigns", "-1"], ["--instantly-end-of-list", "x"]] {
            let r = try Spawn.run("cmo-sandbox", ["--port", "0"] + bad)
            XCTAssertEqual(r.status, 64, "\(bad)")
            XCTAssertTrue(String(decoding: r.stderr, as: UTF8.self).contains(bad[0]), "\(bad)")
        }
    }
}
