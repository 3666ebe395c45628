@testable import CMOSandbox
import Foundation
import XCTest


#if canImport(Glibc)
    import Glibc
#endif

/// Every service of the launched binary, through its real port (and DNS through its real UDP port).
final class SandboxEndToEndTests: XCTestCase {
    func testEveryServiceAnswersThroughTheLaunchedBinary() throws {
        let sbx = try SandboxProcess(["--repos", "20", "--users", "30"])
        defer { sbx.stop() }
        let env = sbx.env

        // Instantly: a lead added twice to the same campaign is created once.
        let campaign = try XCTUnwrap(env["CMO_SANDBOX_INSTANTLY_CAMPAIGN"])
        let instantly = ["Authorization": "Bearer \(env["INSTANTLY_API_KEY"]!)", "Content-Type": "application/json"]
        let lead = try JSONSerialization.data(withJSONObject: [
            "campaign_id": campaign, "leads": [["email": "ada@engines.example", "first_name": "Ada"]],
        ])
        let first = try TestHTTP.request("POST", env["INSTANTLY_API_URL"]! + "/api/v2/leads/add", headers: instantly, body: Array(lead))
            .object()
        let second = try TestHTTP.request("POST", env["INSTANTLY_API_URL"]! + "/api/v2/leads/add", headers: instantly, body: Array(lead))
            .object()
        XCTAssertEqual(first["leads_uploaded"] as? Int, 1)
        XCTAssertEqual(second["leads_uploaded"] as? Int, 0)
        XCTAssertEqual(second["duplicated_leads"] as? Int, 1)

        // Attio: asserting a person by email twice gives the same record.
        let attio = ["Authorization": "Bearer \(env["ATTIO_API_KEY"]!)", "Content-Type": "application/json"]
        let person = try JSONSerialization.data(withJSONObject: ["data": ["values": ["email_addresses": ["ada@engines.example"]]]])
        let url = env["ATTIO_API_URL"]! + "/v2/objects/people/records?matching_attribute=email_addresses"
        let a1 = try TestHTTP.request("PUT", url, headers: attio, body: Array(person))
        let a2 = try TestHTTP.request("PUT", url, headers: attio, body: Array(person))
        XCTAssertEqual(a1.status, 200, a1.text)
        let id1 = ((try a1.object()["data"] as? [String: Any])?["id"] as? [String: Any])?["record_id"] as? String
        let id2 = ((try a2.object()["data"] as? [String: Any])?["id"] as? [String: Any])?["record_id"] as? String
        XCTAssertNotNil(id1)
        XCTAssertEqual(id1, id2)

        // Linear: an API key goes without "Bearer".
        let team = try XCTUnwrap(env["CMO_SANDBOX_LINEAR_TEAM"])
        let mutation = try JSONSerialization.data(withJSONObject: [
            "query":
                "mutation($t: String!) { issueCreate(input: {teamId: $t, title: \"Bounce from ada\"}) { success issue { id identifier } } }",
            "variables": ["t": team],
        ])
        let linear = try TestHTTP.request(
            "POST", env["LINEAR_API_URL"]!, headers: ["Authorization": env["LINEAR_API_KEY"]!, "Content-Type": "application/json"],
            body: Array(mutation))
        let created = (try linear.object()["data"] as? [String: Any])?["issueCreate"] as? [String: Any]
        XCTAssertEqual(created?["success"] as? Bool, true, linear.text)

        // The planner model answers a campaign goal with a tool call.
        let tool: (String) -> [String: Any] = {
            ["type": "function", "function": ["name": $0, "parameters": ["type": "object", "properties": [:]]]]
        }
        let chat = try JSONSerialization.data(withJSONObject: [
            "model": "cmo-planner",
            "messages": [["role": "user", "content": "Find 200 Python maintainers active in the last 90 days and export a CSV"]],
            "tools": ["gh-search", "gh-people", "gh-enrich", "mx-check", "score-icp", "export-csv", "done"].map(tool),
        ])
        let completion = try TestHTTP.request(
            "POST", env["OPENAI_BASE_URL"]! + "/chat/completions",
            headers: ["Authorization": "Bearer \(env["OPENAI_API_KEY"]!)", "Content-Type": "application/json"], body: Array(chat)
        ).object()
        let choice = (completion["choices"] as? [[String: Any]])?.first
        XCTAssertEqual(choice?["finish_reason"] as? String, "tool_calls")
        let call = ((choice?["message"] as? [String: Any])?["tool_calls"] as? [[String: Any]])?.first
        XCTAssertEqual((call?["function"] as? [String: Any])?["name"] as? String, "gh-search")

        // DNS over UDP on CMO_DNS_SERVER: a domain with MX answers, an NXDOMAIN one says so.
        let truth = try TestHTTP.request("GET", sbx.base + "/_sandbox/truth").object()
        let domains = try XCTUnwrap(truth["domains"] as? [String: String])
        let mxDomain = try XCTUnwrap(domains.first { $0.value == "mx" }?.key)
        let nxDomain = try XCTUnwrap(domains.first { $0.value == "nxdomain" }?.key)
        let dnsPort = UInt16(env["CMO_DNS_SERVER"]!.split(separator: ":").last!)!
        let mx = try udpQuery(mxDomain, type: 15, port: dnsPort)
        XCTAssertEqual(mx[3] & 0x0F, 0, "NOERROR")
        XCTAssertGreaterThan(Int(mx[6]) << 8 | Int(mx[7]), 0, "an MX answer")
        let nx = try udpQuery(nxDomain, type: 15, port: dnsPort)
        XCTAssertEqual(nx[3] & 0x0F, 3, "NXDOMAIN")

        // Every write was seen; the lead sent twice counts as a duplicate even though Instantly deduped
        // it, because the stats judge the client (whose ledger should not have sent it again).
        let stats = try sbx.stats()
        XCTAssertGreaterThanOrEqual(stats["writes_total"] as? Int ?? 0, 5)
        let duplicates = try XCTUnwrap(stats["duplicates"] as? [[String: Any]])
        XCTAssertEqual(duplicates.map { $0["service"] as? String }, ["instantly"], "\(duplicates)")
    }

    private func udpQuery(_ name: String, type: UInt16, port: UInt16) throws -> [UInt8] {
        var q: [UInt8] = [0x42, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        q += DNSWire.encodeName(name)
        q += [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var tv = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let sent = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, q, q.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard sent == q.count else { throw SandboxTestError("sendto failed") }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buf, buf.count, 0)
        guard n >= 12 else { throw SandboxTestError("no DNS answer") }
        return Array(buf[0..<n])
    }
}
