import CMOBasics
import CMOHTTP
import Foundation

/// What an Instantly write of one of cmo-hooks' effects answered.
public enum InstantlyEffectAnswer: Sendable, Equatable {
    /// Done; the remote id when the answer carries one.
    case done(String?)
    /// Refused for its content (400/404/422 about the lead or value): Instantly's words.
    case refused(Int, String)
}

extension InstantlyAPI {
    /// `POST /api/v2/block-lists-entries {bl_value}` (apis.md §2.9b). Not retried after it may have landed:
    /// a second entry would be made; a crash's leftover is looked up first (`blockListEntry`).
    public func addBlockListEntry(_ value: String) throws -> InstantlyEffectAnswer {
        let body: JSONValue = .object([JSONMember("bl_value", .string(value))])
        let response = try send(endpoint.request("POST", "/api/v2/block-lists-entries", body: body.encoded(), retryable: false))
        if response.status == 400 || response.status == 422 { return .refused(response.status, Self.message(response)) }
        let json = try Self.decode(response, what: "POST /api/v2/block-lists-entries")
        return .done(json["id"]?.stringValue)
    }

    /// The block-list entry whose value is exactly `value` (`GET /api/v2/block-lists-entries?search=`), or nil.
    public func blockListEntry(_ value: String) throws -> String? {
        var found: String?
        try eachPage("/api/v2/block-lists-entries", query: [("search", value)], maxPages: 100) { items in
            if let hit = items.first(where: { $0["bl_value"]?.stringValue?.lowercased() == value.lowercased() }) {
                found = hit["id"]?.stringValue ?? ""
            }
            return found == nil
        }
        return found
    }

    /// `POST /api/v2/leads/update-interest-status {lead_email, campaign_id, interest_value}`: the lead's status
    /// in that campaign, as moving it in the web app does; a lead with a status gets no more steps, and keeps
    /// its history. Setting the same value again changes nothing, so it is retried. 202: a background job.
    public func updateInterestStatus(email: String, campaign: String, value: Int) throws -> InstantlyEffectAnswer {
        let body: JSONValue = .object([
            JSONMember("lead_email", .string(email)), JSONMember("campaign_id", .string(campaign)), JSONMember("interest_value", .int(value)),
        ])
        let what = "POST /api/v2/leads/update-interest-status"
        let response = try send(endpoint.request("POST", "/api/v2/leads/update-interest-status", body: body.encoded(), retryable: true))
        if response.status == 400 || response.status == 404 || response.status == 422 {
            return .refused(response.status, Self.message(response))
        }
        _ = try Self.decode(response, what: what)
        return .done(nil)
    }
}
