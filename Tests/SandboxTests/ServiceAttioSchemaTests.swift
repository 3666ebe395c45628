import Foundation
import XCTest

@testable import CMOSandbox

/// The sandbox's Attio as strict as the real one for sync-attio: attributes can be discovered,
/// entry values follow the list's attributes, a record's entries, companies and references to them,
/// root domains by the public suffix list, a fresh workspace without custom attributes, duplicate
/// counts for benches, and injected 429s in both Retry-After forms.
final class ServiceAttioSchemaTests: XCTestCase {
    let auth = ["authorization": "Bearer attio-key"]

    func make(_ configure: (inout AttioOptions) -> Void = { _ in }) -> AttioService {
        var o = AttioOptions()
        o.clock = TestClock().clock
        configure(&o)
        return AttioService(stats: SandboxStats(), seed: 7, token: "attio-key", options: o)
    }

    func call(_ s: AttioService, _ method: String, _ path: String, _ json: Any? = nil, query: [(String, String)] = []) -> SandboxResponse {
        s.handle(sandboxRequest(method, path, json: json, query: query, headers: auth))!
    }

    func person(_ s: AttioService, _ values: [String: Any]) -> SandboxResponse {
        call(s, "PUT", "/v2/objects/people/records", ["data": ["values": values]], query: [("matching_attribute", "email_addresses")])
    }

    func data(_ r: SandboxResponse) -> [String: Any] { jsonObject(r)["data"] as? [String: Any] ?? [:] }
    func items(_ r: SandboxResponse) -> [[String: Any]] { jsonObject(r)["data"] as? [[String: Any]] ?? [] }
    func id(_ r: SandboxResponse) -> String { (data(r)["id"] as? [String: Any])?["record_id"] as? String ?? "" }

    func testAttributesOfObjectsAndLists() {
        let s = make()
        let people = items(call(s, "GET", "/v2/objects/people/attributes"))
        let slugs = Set(people.compactMap { $0["api_slug"] as? String })
        XCTAssertTrue(slugs.isSuperset(of: ["email_addresses", "name", "company", "github_login"]), "\(slugs)")
        let email = people.first { $0["api_slug"] as? String == "email_addresses" }
        XCTAssertEqual(email?["is_unique"] as? Bool, true)
        XCTAssertEqual(email?["is_multiselect"] as? Bool, true)
        XCTAssertEqual(email?["type"] as? String, "email-address")
        XCTAssertEqual(people.first { $0["api_slug"] as? String == "github_login" }?["is_system_attribute"] as? Bool, false)
        XCTAssertEqual(items(call(s, "GET", "/v2/objects/people/attributes", query: [("limit", "2")])).count, 2)
        let companies = Set(items(call(s, "GET", "/v2/objects/companies/attributes")).compactMap { $0["api_slug"] as? String })
        XCTAssertTrue(companies.contains("domains"))
        XCTAssertEqual(call(s, "GET", "/v2/objects/widgets/attributes").status, 404)
        let list = Set(items(call(s, "GET", "/v2/lists/outbound_developers/attributes")).compactMap { $0["api_slug"] as? String })
        XCTAssertEqual(list, ["stage", "campaign", "lead_score", "source"])
        XCTAssertEqual(items(call(s, "GET", "/v2/lists/sandbox_pipeline/attributes")).count, 0)
        let missing = call(s, "GET", "/v2/lists/nope/attributes")
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(jsonObject(missing)["code"] as? String, "not_found")
    }

    func testAFreshWorkspaceHasNoCustomAttributes() {
        let s = make { $0.customPeopleAttributes = [:] }
        let slugs = Set(items(call(s, "GET", "/v2/objects/people/attributes")).compactMap { $0["api_slug"] as? String })
        XCTAssertFalse(slugs.contains("github_login"))
        let r = person(s, ["email_addresses": ["a@b.io"], "github_login": "a"])
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(jsonObject(r)["code"] as? String, "value_not_found")
    }

    func testEntryValuesFollowTheListsAttributes() {
        let s = make()
        let rid = id(person(s, ["email_addresses": ["ada@acme.io"]]))
        func entry(_ values: [String: Any], list: String = "outbound_developers") -> SandboxResponse {
            call(
                s, "PUT", "/v2/lists/\(list)/entries",
                ["data": ["parent_record_id": rid, "parent_object": "people", "entry_values": values]])
        }
        let ok = entry(["stage": "Contacted", "campaign": "c-1", "lead_score": 7, "source": "GitHub"])
        XCTAssertEqual(ok.status, 200, String(decoding: ok.body, as: UTF8.self))
        let values = data(ok)["entry_values"] as? [String: Any] ?? [:]
        XCTAssertEqual(((values["stage"] as? [[String: Any]])?.first?["status"] as? [String: Any])?["title"] as? String, "Contacted")
        let typo = entry(["stgae": "Contacted"])
        XCTAssertEqual(typo.status, 400)
        XCTAssertEqual(jsonObject(typo)["code"] as? String, "value_not_found")
        XCTAssertTrue((jsonObject(typo)["message"] as? String ?? "").contains("stgae"))
        XCTAssertEqual(jsonObject(entry(["stage": "Nope"]))["code"] as? String, "value_not_found", "an unknown status")
        XCTAssertEqual(entry(["lead_score": "high"]).status, 400, "a number attribute takes numbers")
        XCTAssertEqual(entry(["stage": "Contacted"], list: "sandbox_pipeline").status, 400, "that list has no attributes")
        XCTAssertEqual(entry([:], list: "sandbox_pipeline").status, 200)

        // The record's entries.
        let entries = items(call(s, "GET", "/v2/objects/people/records/\(rid)/entries"))
        XCTAssertEqual(entries.count, 2)
        XCTAssertEqual(Set(entries.compactMap { $0["list_api_slug"] as? String }), ["outbound_developers", "sandbox_pipeline"])
        XCTAssertEqual(call(s, "GET", "/v2/objects/people/records/f9cc070d-8dba-4341-b847-f083c358e460/entries").status, 404)
    }

    func testRootDomainsFollowThePublicSuffixList() {
        XCTAssertEqual(AttioPublicSuffix.rootDomain("acme.co.uk"), "acme.co.uk")
        XCTAssertEqual(AttioPublicSuffix.rootDomain("mail.acme.co.uk"), "acme.co.uk")
        XCTAssertEqual(AttioPublicSuffix.rootDomain("eng.acme.io"), "acme.io")
        XCTAssertEqual(AttioPublicSuffix.rootDomain("acme.com.au"), "acme.com.au")
        XCTAssertEqual(AttioPublicSuffix.rootDomain("x.city.kawasaki.jp"), "city.kawasaki.jp", "an exception rule")
        XCTAssertEqual(AttioPublicSuffix.rootDomain("a.b.example.ck"), "b.example.ck", "a wildcard rule (*.ck)")
        let s = make()
        let email =
            (data(person(s, ["email_addresses": ["Jo@Dev.Acme.co.uk"]]))["values"] as? [String: Any])?["email_addresses"]
            as? [[String: Any]]
        XCTAssertEqual(email?.first?["email_domain"] as? String, "dev.acme.co.uk")
        XCTAssertEqual(email?.first?["email_root_domain"] as? String, "acme.co.uk")
    }

    func testCompaniesAndReferencesToThem() {
        let s = make()
        let company = call(
            s, "PUT", "/v2/objects/companies/records", ["data": ["values": ["domains": ["acme.co.uk"], "name": "Acme"]]],
            query: [("matching_attribute", "domains")])
        XCTAssertEqual(company.status, 200, String(decoding: company.body, as: UTF8.self))
        let cid = id(company)
        let domain = ((data(company)["values"] as? [String: Any])?["domains"] as? [[String: Any]])?.first
        XCTAssertEqual(domain?["root_domain"] as? String, "acme.co.uk")
        XCTAssertEqual(call(s, "GET", "/v2/objects/companies/records/\(cid)").status, 200)
        let again = call(
            s, "PUT", "/v2/objects/companies/records", ["data": ["values": ["domains": ["acme.co.uk"], "name": "Acme Ltd"]]],
            query: [("matching_attribute", "domains")])
        XCTAssertEqual(id(again), cid, "asserted, not created twice")
        let byDomain = person(
            s, ["email_addresses": ["jo@acme.co.uk"], "company": ["target_object": "companies", "domains": [["domain": "acme.co.uk"]]]])
        XCTAssertEqual(byDomain.status, 200, String(decoding: byDomain.body, as: UTF8.self))
        let ref = ((data(byDomain)["values"] as? [String: Any])?["company"] as? [[String: Any]])?.first
        XCTAssertEqual(ref?["target_record_id"] as? String, cid)
        let unknown = person(
            s, ["email_addresses": ["jo@acme.co.uk"], "company": ["target_object": "companies", "domains": [["domain": "nope.io"]]]])
        XCTAssertEqual(unknown.status, 400, "a reference that finds no record fails")
    }

    func testDuplicateCountsForBenches() {
        let s = make()
        let rid = id(person(s, ["email_addresses": ["ada@acme.io"]]))
        let entry: [String: Any] = ["data": ["parent_record_id": rid, "parent_object": "people", "entry_values": [:]]]
        _ = call(s, "POST", "/v2/lists/sandbox_pipeline/entries", entry)
        _ = call(s, "POST", "/v2/lists/sandbox_pipeline/entries", entry)
        let note: [String: Any] = [
            "data": [
                "parent_object": "people", "parent_record_id": rid, "title": "t", "format": "plaintext", "content": "x\n\ncmo-key: k1",
            ]
        ]
        _ = call(s, "POST", "/v2/notes", note)
        _ = call(s, "POST", "/v2/notes", note)
        let extras = s.statsExtras()
        XCTAssertEqual(extras["duplicate_people"] as? Int, 0)
        XCTAssertEqual(extras["duplicate_list_entries"] as? Int, 1)
        XCTAssertEqual(extras["duplicate_notes"] as? Int, 1)
        XCTAssertEqual(extras["records_with_several_notes"] as? Int, 1)
    }

    func testInjected429sCarryRetryAfterAsADateAndAsSeconds() {
        let s = make()
        let first = s.injectedFault(status: 429)
        let second = s.injectedFault(status: 429)
        XCTAssertEqual(first.status, 429)
        XCTAssertEqual(jsonObject(first)["type"] as? String, "rate_limit_error")
        let a = first.headers.first { $0.0 == "retry-after" }?.1 ?? ""
        let b = second.headers.first { $0.0 == "retry-after" }?.1 ?? ""
        XCTAssertTrue(a.hasSuffix("GMT"), a)
        XCTAssertEqual(b, "1")
        XCTAssertEqual(jsonObject(s.injectedFault(status: 503))["status_code"] as? Int, 503)
    }

    func testRateLimitRetryAfterInSecondsByOption() {
        let s = make {
            $0.writesPerSecond = 1
            $0.retryAfterSeconds = true
        }
        _ = person(s, ["email_addresses": ["a@b.io"]])
        let refused = person(s, ["email_addresses": ["c@b.io"]])
        XCTAssertEqual(refused.status, 429)
        let value = refused.headers.first { $0.0 == "retry-after" }?.1 ?? ""
        XCTAssertNotNil(Int(value), value)
    }
}
