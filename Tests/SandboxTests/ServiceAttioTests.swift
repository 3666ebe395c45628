import Foundation
import XCTest

@testable import CMOSandbox

final class ServiceAttioTests: XCTestCase {
    let auth = ["authorization": "Bearer attio-key"]

    func make(_ configure: (inout AttioOptions) -> Void = { _ in }) -> (AttioService, SandboxStats, TestClock) {
        let stats = SandboxStats()
        let clock = TestClock()
        var o = AttioOptions()
        o.clock = clock.clock
        configure(&o)
        return (AttioService(stats: stats, seed: 7, token: "attio-key", options: o), stats, clock)
    }

    func assertPerson(_ s: AttioService, _ values: [String: Any]) -> SandboxResponse {
        s.handle(
            sandboxRequest(
                "PUT", "/v2/objects/people/records", json: ["data": ["values": values]],
                query: [("matching_attribute", "email_addresses")], headers: auth))!
    }

    func values(_ r: SandboxResponse, _ slug: String) -> [[String: Any]] {
        ((jsonObject(r)["data"] as? [String: Any])?["values"] as? [String: Any])?[slug] as? [[String: Any]] ?? []
    }

    func recordID(_ r: SandboxResponse) -> String {
        ((jsonObject(r)["data"] as? [String: Any])?["id"] as? [String: Any])?["record_id"] as? String ?? ""
    }

    func testUnauthorizedShape() {
        let (s, _, _) = make()
        let r = s.handle(sandboxRequest("GET", "/v2/notes", headers: ["authorization": "Bearer wrong"]))!
        XCTAssertEqual(r.status, 401)
        XCTAssertEqual(jsonObject(r)["type"] as? String, "auth_error")
        XCTAssertEqual(jsonObject(r)["status_code"] as? Int, 401)
        let basic = "Basic " + Data("attio-key:".utf8).base64EncodedString()
        XCTAssertEqual(s.handle(sandboxRequest("GET", "/v2/notes", headers: ["authorization": basic]))?.status, 200)
    }

    func testAssertCreatesThenMergesEmailsAndReplacesOthers() {
        let (s, _, _) = make()
        let first = assertPerson(
            s,
            [
                "email_addresses": ["Ada@Acme.io"], "name": [["first_name": "Ada", "last_name": "Lovelace", "full_name": "Ada Lovelace"]],
                "phone_numbers": ["+44 20 1234"], "job_title": "CTO",
            ])
        XCTAssertEqual(first.status, 200)
        let id = recordID(first)
        XCTAssertFalse(id.isEmpty)
        let email = values(first, "email_addresses")[0]
        XCTAssertEqual(email["email_address"] as? String, "ada@acme.io")
        XCTAssertEqual(email["original_email_address"] as? String, "Ada@Acme.io")
        XCTAssertEqual(email["email_domain"] as? String, "acme.io")
        XCTAssertEqual(email["attribute_type"] as? String, "email-address")

        // Same matching value plus a new one: same record, emails added, phone numbers replaced.
        let second = assertPerson(
            s,
            [
                "email_addresses": [["email_address": "ada@acme.io"], "ada@personal.dev"], "phone_numbers": ["+1 555 0100"],
                "name": "Lovelace, Augusta Ada",
            ])
        XCTAssertEqual(recordID(second), id)
        XCTAssertEqual(
            values(second, "email_addresses").compactMap { $0["email_address"] as? String }, ["ada@acme.io", "ada@personal.dev"])
        XCTAssertEqual(values(second, "phone_numbers").compactMap { $0["original_phone_number"] as? String }, ["+1 555 0100"])
        XCTAssertEqual(values(second, "name").first?["first_name"] as? String, "Augusta Ada")
        XCTAssertEqual(values(second, "name").first?["last_name"] as? String, "Lovelace")
        XCTAssertEqual(values(second, "job_title").first?["value"] as? String, "CTO")

        // Matching through the second address finds the same record too.
        XCTAssertEqual(recordID(assertPerson(s, ["email_addresses": ["ada@personal.dev"]])), id)
        // Get and query.
        let got = s.handle(sandboxRequest("GET", "/v2/objects/people/records/\(id)", headers: auth))!
        XCTAssertEqual(recordID(got), id)
        let q = jsonObject(
            s.handle(
                sandboxRequest(
                    "POST", "/v2/objects/people/records/query", json: ["filter": ["email_addresses": "ADA@acme.io"]], headers: auth)))
        XCTAssertEqual((q["data"] as? [Any])?.count, 1)
        let q2 = jsonObject(
            s.handle(
                sandboxRequest(
                    "POST", "/v2/objects/people/records/query",
                    json: ["filter": ["email_addresses": ["email_address": ["$eq": "nobody@x.io"]]]], headers: auth)))
        XCTAssertEqual((q2["data"] as? [Any])?.count, 0)
        let missing = s.handle(sandboxRequest("GET", "/v2/objects/people/records/f9cc070d-8dba-4341-b847-f083c358e460", headers: auth))!
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(jsonObject(missing)["code"] as? String, "not_found")
    }

    func testAssertErrors() {
        let (s, _, _) = make()
        let unknownAttribute = assertPerson(s, ["email_addresses": ["a@b.io"], "favourite_colour": "blue"])
        XCTAssertEqual(unknownAttribute.status, 400)
        XCTAssertEqual(jsonObject(unknownAttribute)["code"] as? String, "value_not_found")
        let badMatch = s.handle(
            sandboxRequest(
                "PUT", "/v2/objects/people/records", json: ["data": ["values": ["email_addresses": ["a@b.io"]]]],
                query: [("matching_attribute", "nope")], headers: auth))!
        XCTAssertEqual(jsonObject(badMatch)["code"] as? String, "value_not_found")
        let partialName = assertPerson(s, ["email_addresses": ["a@b.io"], "name": [["first_name": "A"]]])
        XCTAssertEqual(partialName.status, 400)
        XCTAssertEqual(jsonObject(partialName)["type"] as? String, "invalid_request_error")
        let unknownObject = s.handle(
            sandboxRequest(
                "PUT", "/v2/objects/widgets/records", json: ["data": ["values": [:]]], query: [("matching_attribute", "email_addresses")],
                headers: auth))!
        XCTAssertEqual(unknownObject.status, 404)
        // Two records matched by one request.
        _ = assertPerson(s, ["email_addresses": ["one@b.io"]])
        _ = assertPerson(s, ["email_addresses": ["two@b.io"]])
        let both = assertPerson(s, ["email_addresses": ["one@b.io", "two@b.io"]])
        XCTAssertEqual(jsonObject(both)["code"] as? String, "multiple_match_results")
    }

    func testListEntriesPostAppendsPutAsserts() {
        let (s, stats, _) = make()
        let id = recordID(assertPerson(s, ["email_addresses": ["ada@acme.io"]]))
        let list = s.listIDs[0]
        let body: [String: Any] = ["data": ["parent_record_id": id, "parent_object": "people", "entry_values": ["stage": "Contacted"]]]
        let put1 = s.handle(sandboxRequest("PUT", "/v2/lists/\(list)/entries", json: body, headers: auth))!
        XCTAssertEqual(put1.status, 200)
        let entry = (jsonObject(put1)["data"] as? [String: Any])?["id"] as? [String: Any]
        XCTAssertEqual(entry?["list_id"] as? String, list)
        let put2 = s.handle(sandboxRequest("PUT", "/v2/lists/outbound_developers/entries", json: body, headers: auth))!
        XCTAssertEqual(
            ((jsonObject(put2)["data"] as? [String: Any])?["id"] as? [String: Any])?["entry_id"] as? String, entry?["entry_id"] as? String)
        XCTAssertEqual(stats.snapshot()["duplicates_total"] as? Int, 0)
        // POST always appends; then the assert sees two entries.
        XCTAssertEqual(s.handle(sandboxRequest("POST", "/v2/lists/\(list)/entries", json: body, headers: auth))?.status, 200)
        XCTAssertEqual(stats.snapshot()["duplicates_total"] as? Int, 1)
        let put3 = s.handle(sandboxRequest("PUT", "/v2/lists/\(list)/entries", json: body, headers: auth))!
        XCTAssertEqual(put3.status, 400)
        XCTAssertEqual(jsonObject(put3)["code"] as? String, "multiple_match_results")
        let noList = s.handle(sandboxRequest("PUT", "/v2/lists/nope/entries", json: body, headers: auth))!
        XCTAssertEqual(noList.status, 404)
        let noValues = s.handle(
            sandboxRequest(
                "PUT", "/v2/lists/\(list)/entries", json: ["data": ["parent_record_id": id, "parent_object": "people"]], headers: auth))!
        XCTAssertEqual(noValues.status, 400)
    }

    func testNotesAndDuplicateContent() {
        let (s, stats, _) = make()
        let id = recordID(assertPerson(s, ["email_addresses": ["ada@acme.io"]]))
        let note: [String: Any] = [
            "data": [
                "parent_object": "people", "parent_record_id": id, "title": "Sent", "format": "markdown",
                "content": "**Queued** in [Instantly](https://x)",
            ]
        ]
        let created = s.handle(sandboxRequest("POST", "/v2/notes", json: note, headers: auth))!
        XCTAssertEqual(created.status, 200)
        let data = jsonObject(created)["data"] as? [String: Any] ?? [:]
        XCTAssertEqual(data["content_plaintext"] as? String, "Queued in Instantly")
        XCTAssertNotNil((data["id"] as? [String: Any])?["note_id"])
        _ = s.handle(sandboxRequest("POST", "/v2/notes", json: note, headers: auth))
        XCTAssertEqual(stats.snapshot()["duplicates_total"] as? Int, 1)
        let listed = jsonObject(
            s.handle(
                sandboxRequest(
                    "GET", "/v2/notes", query: [("parent_object", "people"), ("parent_record_id", id), ("limit", "50")], headers: auth)))
        XCTAssertEqual((listed["data"] as? [Any])?.count, 2)
        XCTAssertEqual(s.handle(sandboxRequest("GET", "/v2/notes", query: [("limit", "51")], headers: auth))?.status, 400)
        let missingTitle = s.handle(
            sandboxRequest(
                "POST", "/v2/notes",
                json: ["data": ["parent_object": "people", "parent_record_id": id, "format": "plaintext", "content": "x"]], headers: auth))!
        XCTAssertEqual(missingTitle.status, 400)
        XCTAssertEqual(jsonObject(missingTitle)["code"] as? String, "validation_type")
    }

    func testWriteLimitAnswers429WithHTTPDate() {
        let (s, stats, clock) = make { $0.writesPerSecond = 2 }
        XCTAssertEqual(assertPerson(s, ["email_addresses": ["a@b.io"]]).status, 200)
        XCTAssertEqual(assertPerson(s, ["email_addresses": ["a@b.io"]]).status, 200)
        // Reads have their own bucket.
        XCTAssertEqual(s.handle(sandboxRequest("GET", "/v2/notes", headers: auth))?.status, 200)
        let limited = assertPerson(s, ["email_addresses": ["a@b.io"]])
        XCTAssertEqual(limited.status, 429)
        XCTAssertEqual(jsonObject(limited)["type"] as? String, "rate_limit_error")
        XCTAssertEqual(jsonObject(limited)["code"] as? String, "rate_limit_exceeded")
        let retry = limited.header("retry-after") ?? ""
        XCTAssertEqual(retry, ServiceKit.httpDate(Date(timeIntervalSince1970: (clock.now.timeIntervalSince1970).rounded(.down) + 1)))
        XCTAssertTrue(retry.hasSuffix(" GMT"))
        XCTAssertEqual(stats.snapshot()["violations_total"] as? Int, 1)
        clock.advance(1)
        XCTAssertEqual(assertPerson(s, ["email_addresses": ["a@b.io"]]).status, 200)
    }
}

extension ServiceAttioTests {
    func testConflictAndStrictFilterOptions() {
        let (s, _, _) = make {
            $0.conflictEveryNthAssert = 2
            $0.implicitEmailFilter = false
        }
        XCTAssertEqual(assertPerson(s, ["email_addresses": ["a@b.io"]]).status, 200)
        let conflict = assertPerson(s, ["email_addresses": ["a@b.io"]])
        XCTAssertEqual(conflict.status, 409)
        XCTAssertEqual(jsonObject(conflict)["code"] as? String, "concurrent_write_conflict")
        XCTAssertEqual(assertPerson(s, ["email_addresses": ["a@b.io"]]).status, 200)
        let implicit = s.handle(
            sandboxRequest("POST", "/v2/objects/people/records/query", json: ["filter": ["email_addresses": "a@b.io"]], headers: auth))!
        XCTAssertEqual(jsonObject(implicit)["code"] as? String, "filter_error")
        let explicit = jsonObject(
            s.handle(
                sandboxRequest(
                    "POST", "/v2/objects/people/records/query", json: ["filter": ["email_addresses": ["$eq": "a@b.io"]]], headers: auth)))
        XCTAssertEqual((explicit["data"] as? [Any])?.count, 1)
    }
}
