import CMOBasics
import CMOContract
import CMOHTTP
import Foundation

/// A webhook subscription (`GET/POST /api/v2/webhooks`, `PATCH /api/v2/webhooks/{id}`, `POST …/{id}/resume`).
public struct InstantlyWebhook: Sendable {
    public var id: String
    /// The campaign whose events it sends (nil: every campaign of the workspace).
    public var campaign: String?
    public var name: String?
    public var targetHookURL: String
    public var eventType: String?
    /// 1 active, −1 disabled after repeated delivery failures (`timestamp_error` says when).
    public var status: Int?
    /// The headers Instantly sends with each delivery (values are secrets: never print them).
    public var headers: [String: String]
    public var timestampError: String?

    public init(
        id: String, campaign: String?, name: String?, targetHookURL: String, eventType: String?, status: Int?,
        headers: [String: String] = [:], timestampError: String? = nil
    ) {
        self.id = id
        self.campaign = campaign
        self.name = name
        self.targetHookURL = targetHookURL
        self.eventType = eventType
        self.status = status
        self.headers = headers
        self.timestampError = timestampError
    }

    static func from(_ json: JSONValue) -> InstantlyWebhook {
        var headers: [String: String] = [:]
        if case .object(let members)? = json["headers"] {
            for m in members { if let v = m.value.stringValue { headers[m.key] = v } }
        }
        return InstantlyWebhook(
            id: json["id"]?.stringValue ?? "", campaign: json["campaign"]?.stringValue, name: json["name"]?.stringValue,
            targetHookURL: json["target_hook_url"]?.stringValue ?? "", eventType: json["event_type"]?.stringValue,
            status: json["status"]?.intValue, headers: headers, timestampError: json["timestamp_error"]?.stringValue)
    }
}

/// One stored delivery attempt (`GET /api/v2/webhook-events`): the payload Instantly sent, or tried to.
public struct InstantlyWebhookEvent: Sendable {
    public var id: String
    public var timestampCreated: String?
    public var success: Bool?
    /// The payload as sent (nil when the item carries none).
    public var payload: JSONValue?
}

extension InstantlyAPI {
    /// Every webhook, of one campaign when `campaign` is given (`GET /api/v2/webhooks`, 100 a page).
    public func webhooks(campaign: String? = nil) throws -> [InstantlyWebhook] {
        var found: [InstantlyWebhook] = []
        try eachPage("/api/v2/webhooks", query: campaign.map { [("campaign", $0)] } ?? []) { items in
            found += items.map(InstantlyWebhook.from)
            return true
        }
        return found
    }

    /// Creates a webhook (`POST /api/v2/webhooks`). Not retried: a retry after an attempt that landed
    /// would make a second webhook (the caller lists before creating).
    public func createWebhook(
        targetURL: String, campaign: String?, name: String, eventType: String, headers: [String: String]
    ) throws -> InstantlyWebhook {
        var body: [JSONMember] = [JSONMember("target_hook_url", .string(targetURL))]
        if let campaign { body.append(JSONMember("campaign", .string(campaign))) }
        body.append(JSONMember("name", .string(name)))
        body.append(JSONMember("event_type", .string(eventType)))
        body.append(JSONMember("headers", .object(headers.keys.sorted().map { JSONMember($0, .string(headers[$0]!)) })))
        let response = try send(endpoint.request("POST", "/api/v2/webhooks", body: JSONValue.object(body).encoded(), retryable: false))
        return InstantlyWebhook.from(try Self.decode(response, what: "POST /api/v2/webhooks"))
    }

    /// Replaces a webhook's delivery headers (`PATCH /api/v2/webhooks/{id}`); the same PATCH again is harmless.
    public func updateWebhookHeaders(id: String, headers: [String: String]) throws -> InstantlyWebhook {
        let body: JSONValue = .object([
            JSONMember("headers", .object(headers.keys.sorted().map { JSONMember($0, .string(headers[$0]!)) }))
        ])
        let what = "PATCH /api/v2/webhooks/\(id)"
        let response = try send(endpoint.request("PATCH", "/api/v2/webhooks/\(id)", body: body.encoded(), retryable: true))
        return InstantlyWebhook.from(try Self.decode(response, what: what))
    }

    /// Resumes a webhook Instantly disabled after delivery failures (`POST /api/v2/webhooks/{id}/resume`).
    public func resumeWebhook(id: String) throws -> InstantlyWebhook {
        let what = "POST /api/v2/webhooks/\(id)/resume"
        let response = try send(endpoint.request("POST", "/api/v2/webhooks/\(id)/resume", retryable: true))
        return InstantlyWebhook.from(try Self.decode(response, what: what))
    }

    /// One page of stored deliveries (`GET /api/v2/webhook-events`), oldest window first as Instantly
    /// pages them. `from`/`to` are days (YYYY-MM-DD, inclusive). Returns the items and the next cursor
    /// (nil on the last page).
    public func webhookEvents(from: String?, to: String?, startingAfter: String?, limit: Int = 100) throws
        -> (items: [InstantlyWebhookEvent], next: String?)
    {
        var query = [("limit", String(limit))]
        if let from { query.append(("from", from)) }
        if let to { query.append(("to", to)) }
        if let startingAfter { query.append(("starting_after", startingAfter)) }
        let response = try send(endpoint.request("GET", "/api/v2/webhook-events", query: query))
        let json = try Self.decode(response, what: "GET /api/v2/webhook-events")
        let items = (json["items"]?.arrayValue ?? []).map { item in
            InstantlyWebhookEvent(
                id: item["id"]?.stringValue ?? "", timestampCreated: item["timestamp_created"]?.stringValue,
                success: item["success"]?.boolValue, payload: item["payload"].flatMap { if case .object = $0 { $0 } else { nil } })
        }
        let next = json["next_starting_after"]?.stringValue
        return (items, items.isEmpty || next == startingAfter ? nil : next)
    }
}

/// Reads Instantly's webhook payload (the body of a delivery, or `payload` of a stored webhook event)
/// into the record cmo stores: the type normalised, the lead's address lower-cased, user text made safe
/// (controls removed, sizes capped) where it lands.
public enum InstantlyWebhookPayload {
    /// Longest reply snippet kept, in characters.
    public static let maxSnippet = 1000

    /// Why a payload cannot be read.
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// The event of `payload`, or `Invalid` when it is not a JSON object with `event_type` and `timestamp`.
    public static func event(_ payload: JSONValue, source: String, receivedAt: String) throws(Invalid) -> HookEvent {
        guard case .object = payload else { throw Invalid(description: "the payload is not a JSON object") }
        let rawType: String
        if let t = payload["event_type"]?.stringValue, !t.isEmpty {
            rawType = t
        } else if let value = payload["custom_interest_value"], value != .null {
            rawType = "custom_label"  // a custom label's event carries event_type null (apis.md §2.9b)
        } else {
            throw Invalid(description: "the payload has no event_type")
        }
        guard let timestamp = payload["timestamp"]?.stringValue, !timestamp.isEmpty, timestamp.utf8.count <= 64 else {
            throw Invalid(description: "the payload has no timestamp")
        }
        let type = HookEvent.normalisedType(clean(rawType, max: 100))
        func text(_ key: String, max: Int = 300) -> String? {
            guard let s = payload[key]?.stringValue else { return nil }
            let c = clean(s, max: max)
            return c.isEmpty ? nil : c
        }
        func number(_ key: String) -> Int? {
            if let n = payload[key]?.intValue { return n }
            return payload[key]?.stringValue.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        }
        let campaign = text("campaign_id", max: 100)
        let lead = text("lead_email")?.lowercased()
        let emailID = text("email_id", max: 200)
        let step = number("step")
        var event = HookEvent(
            key: HookEvent.key(eventType: type, campaignID: campaign, leadEmail: lead, emailID: emailID, step: step, timestamp: timestamp),
            eventType: type, outcome: HookEvent.outcome(of: type), timestamp: timestamp, campaignID: campaign, leadEmail: lead,
            source: source, receivedAt: receivedAt)
        event.campaignName = text("campaign_name")
        event.emailAccount = text("email_account")?.lowercased()
        event.step = step
        event.variant = number("variant")
        event.emailID = emailID
        event.uniboxURL = text("unibox_url", max: 2000)
        if let s = payload["reply_text_snippet"]?.stringValue {
            let c = TextCleaning.truncate(TextCleaning.insertable(s), to: maxSnippet)
            event.snippet = c.isEmpty ? nil : c
        }
        if event.outcome == .bounced { event.hardBounce = hardBounce(payload) }
        if let day = payload["returns_on"]?.stringValue?.prefix(10), Timestamp.parseDay(String(day)) != nil {
            event.returnsOn = String(day)
        }
        return event
    }

    /// One line, controls removed, at most `max` characters.
    static func clean(_ s: String, max: Int) -> String { TextCleaning.truncate(TextCleaning.oneLine(s), to: max) }

    /// For a bounce: from `bounce_type` (hard/soft) or `bounce_code` when the payload has them (not in
    /// Instantly's documentation; the sandbox sends them), else the first SMTP enhanced status in the
    /// bounce text: true for a permanent one (5.x.x), false for a transient one (4.x.x), nil when none.
    static func hardBounce(_ payload: JSONValue) -> Bool? {
        for key in ["bounce_type", "bounce_code", "bounce_smtp_code", "reply_text_snippet", "reply_text", "reply_subject"] {
            guard let s = payload[key]?.stringValue?.prefix(20_000) else { continue }
            let lower = s.lowercased()
            if key == "bounce_type" {
                if lower.contains("hard") || lower.contains("permanent") { return true }
                if lower.contains("soft") || lower.contains("transient") { return false }
                continue
            }
            if let code = enhancedStatusClass(Substring(lower)) { return code == 5 }
        }
        return nil
    }

    /// The class (4 or 5) of the first SMTP enhanced status code (RFC 3463, `5.1.1`) in `s`.
    static func enhancedStatusClass(_ s: Substring) -> Int? {
        let b = Array(s.utf8)
        var i = 0
        func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        while i + 4 < b.count {
            if b[i] == 52 || b[i] == 53, b[i + 1] == 46, i == 0 || !isDigit(b[i - 1]) && b[i - 1] != 46 {
                var j = i + 2
                var n = 0
                while j < b.count, isDigit(b[j]), n < 3 {
                    j += 1
                    n += 1
                }
                if n > 0, j < b.count, b[j] == 46 {
                    var k = j + 1
                    var m = 0
                    while k < b.count, isDigit(b[k]), m < 3 {
                        k += 1
                        m += 1
                    }
                    if m > 0, k == b.count || !isDigit(b[k]) { return Int(b[i] - 48) }
                }
            }
            i += 1
        }
        return nil
    }
}
