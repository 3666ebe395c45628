import CMOBasics
import CMOHTTP
import Foundation

// What the services hold, listed whole, for rebuilding the write ledger from them (`--rebuild-ledger`).
// Reads only; each call pages to the end.

/// A lead Instantly holds in a campaign.
public struct InstantlyListedLead: Sendable {
    public var id: String
    public var email: String
    /// `timestamp_created` (ISO 8601), if Instantly said it.
    public var created: String?
}

extension InstantlyAPI {
    /// Every lead of `campaign`: `POST /api/v2/leads/list` {campaign, limit 100, starting_after}, to the end.
    /// Returns the leads and the requests made.
    public func listLeads(campaign: String) throws -> (leads: [InstantlyListedLead], requests: Int) {
        var out: [InstantlyListedLead] = []
        var cursor: String?
        var requests = 0
        while true {
            var body: [JSONMember] = [JSONMember("campaign", .string(campaign)), JSONMember("limit", 100)]
            if let cursor { body.append(JSONMember("starting_after", .string(cursor))) }
            requests += 1
            let response = try send(endpoint.request("POST", "/api/v2/leads/list", body: JSONValue.object(body).encoded(), retryable: true))
            let json = try Self.decode(response, what: "POST /api/v2/leads/list")
            let items = json["items"]?.arrayValue ?? []
            for item in items {
                guard let email = item["email"]?.stringValue?.lowercased(), let id = item["id"]?.stringValue else { continue }
                if let c = item["campaign"]?.stringValue, c.lowercased() != campaign.lowercased() { continue }
                out.append(InstantlyListedLead(id: id, email: email, created: item["timestamp_created"]?.stringValue))
            }
            guard !items.isEmpty, let next = json["next_starting_after"]?.stringValue, next != cursor else { break }
            cursor = next
        }
        return (out, requests)
    }
}

/// A note Attio holds.
public struct AttioListedNote: Sendable {
    public var id: String
    public var parentRecordID: String
    public var content: String
    public var created: String?
}

extension AttioAPI {
    /// Every note on people records: `GET /v2/notes?parent_object=people` (50 a page), to the end.
    public func allNotes() throws -> [AttioListedNote] {
        var found: [AttioListedNote] = []
        var offset = 0
        while true {
            let response = try send(
                endpoint.request("GET", "/v2/notes", query: [("parent_object", "people"), ("limit", "50"), ("offset", String(offset))]))
            let items = try Self.decode(response, what: "GET /v2/notes")["data"]?.arrayValue ?? []
            for n in items {
                guard let id = n["id"]?["note_id"]?.stringValue, let parent = n["parent_record_id"]?.stringValue else { continue }
                let content = n["content_plaintext"]?.stringValue ?? n["content_markdown"]?.stringValue ?? ""
                found.append(AttioListedNote(id: id, parentRecordID: parent, content: content, created: n["created_at"]?.stringValue))
            }
            guard items.count == 50 else { break }
            offset += 50
        }
        return found
    }

    /// Every entry of `list`: `POST /v2/lists/{list}/entries/query` (500 a page): entry id → parent record id.
    public func allEntries(list: String) throws -> [(entryID: String, recordID: String)] {
        var found: [(String, String)] = []
        var offset = 0
        while true {
            let body = JSONValue.object([JSONMember("limit", 500), JSONMember("offset", .int(offset))])
            let path = "/v2/lists/\(ServiceEndpoint.encode(list))/entries/query"
            let response = try send(endpoint.request("POST", path, body: body.encoded(), retryable: true))
            let items = try Self.decode(response, what: "POST \(path)")["data"]?.arrayValue ?? []
            for e in items {
                guard let id = e["id"]?["entry_id"]?.stringValue, let parent = e["parent_record_id"]?.stringValue else { continue }
                found.append((id, parent))
            }
            guard items.count == 500 else { break }
            offset += 500
        }
        return found
    }

    /// The email addresses of every people record: `POST /v2/objects/people/records/query` (500 a page): record id → addresses.
    public func peopleEmails() throws -> [String: [String]] {
        var found: [String: [String]] = [:]
        var offset = 0
        while true {
            let body = JSONValue.object([JSONMember("limit", 500), JSONMember("offset", .int(offset))])
            let response = try send(endpoint.request("POST", "/v2/objects/people/records/query", body: body.encoded(), retryable: true))
            let items = try Self.decode(response, what: "POST /v2/objects/people/records/query")["data"]?.arrayValue ?? []
            for r in items {
                guard let id = r["id"]?["record_id"]?.stringValue else { continue }
                found[id] = (r["values"]?["email_addresses"]?.arrayValue ?? []).compactMap { $0["email_address"]?.stringValue?.lowercased() }
            }
            guard items.count == 500 else { break }
            offset += 500
        }
        return found
    }
}

/// An issue Linear holds in a team.
public struct LinearListedIssue: Sendable {
    public var id: String
    public var identifier: String
    public var description: String
    public var created: String?
}

extension LinearAPI {
    public static let teamIssues =
        "query TeamIssues($id: String!, $after: String) { team(id: $id) { issues(first: 100, after: $after, includeArchived: true) "
        + "{ nodes { id identifier description createdAt } pageInfo { hasNextPage endCursor } } } }"

    /// Every issue of the team `teamID` (archived too), 100 a page, to the end.
    public func allIssues(team teamID: String) throws -> [LinearListedIssue] {
        var out: [LinearListedIssue] = []
        var after: String?
        for _ in 0..<10_000 {
            let r = try send(
                Self.teamIssues, [JSONMember("id", .string(teamID)), JSONMember("after", after.map { .string($0) } ?? .null)], name: "TeamIssues")
            try Self.throwIfFailed(r, what: "the team's issues")
            let conn = r.data?["team"]?["issues"]
            for n in conn?["nodes"]?.arrayValue ?? [] {
                guard let id = n["id"]?.stringValue else { continue }
                out.append(
                    LinearListedIssue(
                        id: id.lowercased(), identifier: n["identifier"]?.stringValue ?? "", description: n["description"]?.stringValue ?? "",
                        created: n["createdAt"]?.stringValue))
            }
            guard conn?["pageInfo"]?["hasNextPage"]?.boolValue == true, let next = conn?["pageInfo"]?["endCursor"]?.stringValue else { break }
            after = next
        }
        return out
    }
}
