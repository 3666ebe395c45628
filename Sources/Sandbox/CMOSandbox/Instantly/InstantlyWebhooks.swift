import Foundation

// `/api/v2/webhooks`: create, list, get, patch, delete, resume, and the event types. Bodies are checked as the
// spec's schemas say (`additionalProperties: false`, the `event_type` enum, `target_hook_url` `^https?://`).

/// A webhook subscription (the spec's Webhook).
struct InstantlyWebhook {
    var id: String
    var campaign: String?
    var name: String?
    var url: String
    /// nil: custom label events only (those whose interest status is `customInterest`).
    var eventType: String?
    var customInterest: Double?
    var headers: [String: String]?
    var created: Date
    /// 1 active, −1 disabled after repeated delivery failures.
    var status = 1
    var timestampError: Date?
    /// Deliveries in a row that failed every attempt.
    var failuresInARow = 0

    func json(organization: String) -> [String: Any] {
        [
            "id": id, "organization": organization, "campaign": campaign ?? NSNull(), "name": name ?? NSNull(),
            "target_hook_url": url, "event_type": eventType ?? NSNull(), "custom_interest_value": customInterest ?? NSNull(),
            "headers": headers ?? NSNull(), "timestamp_created": InstantlyService.stamp(created), "status": status,
            "timestamp_error": timestampError.map { InstantlyService.stamp($0) } ?? NSNull(),
        ]
    }

    /// Whether an event goes to this webhook: its campaign (or every campaign), and its type — `all_events`,
    /// the same type, or (type null) a label event whose interest status is the webhook's custom value.
    func matches(_ event: InstantlyEvent) -> Bool {
        if let c = campaign, c != event.campaignID { return false }
        switch eventType {
        case "all_events": return true
        case .some(let t): return t == event.type
        case nil:
            guard let want = customInterest, event.type.hasPrefix("lead_"),
                let have = InstantlyService.interestStatus(ofLabel: event.type)
            else { return false }
            return Double(have) == want
        }
    }
}

extension InstantlyService {
    /// The spec's `event_type` enum for webhooks.
    static let webhookEventTypes = [
        "all_events", "email_sent", "email_opened", "email_link_clicked", "reply_received", "email_bounced", "lead_unsubscribed",
        "campaign_completed", "account_error", "lead_neutral", "lead_interested", "lead_not_interested", "lead_meeting_booked",
        "lead_meeting_completed", "lead_closed", "lead_out_of_office", "lead_wrong_person", "lead_no_show",
        "supersearch_enrichment_completed",
    ]
    static let webhookBodyKeys: Set<String> = ["campaign", "name", "target_hook_url", "event_type", "custom_interest_value", "headers"]

    /// The interest status a label event sets (the spec's `lt_interest_status` values).
    static func interestStatus(ofLabel type: String) -> Int? {
        [
            "lead_interested": 1, "lead_meeting_booked": 2, "lead_meeting_completed": 3, "lead_closed": 4, "lead_out_of_office": 0,
            "lead_not_interested": -1, "lead_wrong_person": -2, "lead_no_show": -4,
        ][type]
    }

    /// The first violation of a create (all keys) or patch body, or nil.
    func webhookBodyProblem(_ body: [String: Any], creating: Bool) -> SandboxResponse? {
        if let extra = body.keys.sorted().first(where: { !Self.webhookBodyKeys.contains($0) }) {
            return Self.error(400, "body must NOT have additional properties ('\(extra)')")
        }
        if creating && body["target_hook_url"] == nil { return Self.error(400, "body must have required property 'target_hook_url'") }
        if let u = body["target_hook_url"] {
            guard let url = u as? String else { return Self.error(400, "body/target_hook_url must be string") }
            let lower = url.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
                return Self.error(400, "body/target_hook_url must match pattern \"^https?://\"")
            }
            guard url.count <= 2048, !url.contains(where: { $0.isWhitespace || $0.isNewline }),
                let parts = URLComponents(string: url), let host = parts.host, !host.isEmpty
            else { return Self.error(400, "body/target_hook_url must match format \"uri\"") }
        }
        for key in ["campaign", "name", "event_type"] where body[key] != nil {
            if !(body[key] is String) && !(body[key] is NSNull) { return Self.error(400, "body/\(key) must be string,null") }
        }
        if let t = body["event_type"] as? String, !Self.webhookEventTypes.contains(t) {
            return Self.error(400, "body/event_type must be equal to one of the allowed values")
        }
        if let c = body["custom_interest_value"], !(c is NSNull) {
            guard c is NSNumber, !ServiceKit.isBool(c) else { return Self.error(400, "body/custom_interest_value must be number,null") }
        }
        if let h = body["headers"], !(h is NSNull) {
            guard let headers = h as? [String: Any] else { return Self.error(400, "body/headers must be object,null") }
            for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
                guard let text = value as? String else { return Self.error(400, "body/headers/\(name) must be string") }
                // A header that cannot go on the wire (CR/LF would split it into two) is refused here [U].
                let token = !name.isEmpty && name.utf8.allSatisfy { (0x21...0x7e).contains($0) && $0 != UInt8(ascii: ":") }
                if !token || text.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) || text.utf8.count > 8192 {
                    return Self.error(400, "body/headers/\(name) is not a valid HTTP header")
                }
            }
        }
        if let c = body["campaign"] as? String, world.campaign(c) == nil { return Self.error(404, "Campaign not found") }
        return nil
    }

    func apply(_ body: [String: Any], to hook: inout InstantlyWebhook) {
        if body.keys.contains("target_hook_url"), let u = body["target_hook_url"] as? String { hook.url = u }
        if body.keys.contains("campaign") { hook.campaign = body["campaign"] as? String }
        if body.keys.contains("name") { hook.name = body["name"] as? String }
        if body.keys.contains("event_type") { hook.eventType = body["event_type"] as? String }
        if body.keys.contains("custom_interest_value") { hook.customInterest = (body["custom_interest_value"] as? NSNumber)?.doubleValue }
        if body.keys.contains("headers") { hook.headers = (body["headers"] as? [String: Any])?.compactMapValues { $0 as? String } }
    }

    func webhookRoute(_ r: SandboxRequest, route: String, id: String) -> SandboxResponse {
        let org = world.organization
        switch route {
        case "POST /api/v2/webhooks":
            guard let body = ServiceKit.json(r.body) as? [String: Any] else { return Self.error(400, "body must be object") }
            if let problem = webhookBodyProblem(body, creating: true) { return problem }
            engagement.webhookSequence += 1
            let n = engagement.webhookSequence
            var hook = InstantlyWebhook(
                id: Self.timeOrderedID(seed: seed, label: "webhook", counter: n, at: sandboxNow.addingTimeInterval(Double(n))), url: "",
                created: sandboxNow.addingTimeInterval(Double(n)))
            apply(body, to: &hook)
            hook.eventType = body.keys.contains("event_type") ? hook.eventType : "all_events"
            engagement.webhooks.append(hook)
            stats.recordWrite(
                service: name, kind: "webhook", key: "\(hook.campaign ?? "*") \(hook.url) \(hook.eventType ?? "custom")",
                payload: ["id": hook.id, "campaign": hook.campaign as Any? ?? NSNull(), "event_type": hook.eventType as Any? ?? NSNull()])
            return .json(200, hook.json(organization: org))
        case "GET /api/v2/webhooks":
            if let bad = Self.checkLimit(r) { return bad }
            var items = engagement.webhooks.sorted { $0.id < $1.id }
            if let c = r.queryValue("campaign") { items = items.filter { $0.campaign == c } }
            if let t = r.queryValue("event_type") {
                guard Self.webhookEventTypes.contains(t) else {
                    return Self.error(400, "querystring/event_type must be equal to one of the allowed values")
                }
                items = items.filter { $0.eventType == t }
            }
            if let after = r.queryValue("starting_after") { items = items.filter { $0.id > after } }
            let limit = Int(r.queryValue("limit") ?? "") ?? 100
            let page = Array(items.prefix(limit))
            return .json(200, listBody(page.map { $0.json(organization: org) }, more: items.count > limit, cursor: page.last?.id))
        case "GET /api/v2/webhooks/event-types":
            let types = Self.webhookEventTypes.filter { $0 != "all_events" } + ["auto_reply_received"]
            return .json(
                200,
                [
                    "event_types": types.map { t -> [String: Any] in
                        let label = t.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: " ")
                        return ["id": t, "label": label, "type": "standard"]
                    }
                ])
        default:
            break
        }
        guard let i = engagement.webhooks.firstIndex(where: { $0.id == id }) else { return Self.error(404, "Resource not found") }
        switch route {
        case "GET /api/v2/webhooks/{id}":
            return .json(200, engagement.webhooks[i].json(organization: org))
        case "PATCH /api/v2/webhooks/{id}":
            guard let body = ServiceKit.json(r.body) as? [String: Any] else { return Self.error(400, "body must be object") }
            if let problem = webhookBodyProblem(body, creating: false) { return problem }
            apply(body, to: &engagement.webhooks[i])
            return .json(200, engagement.webhooks[i].json(organization: org))
        case "DELETE /api/v2/webhooks/{id}":
            let hook = engagement.webhooks.remove(at: i)
            return .json(200, hook.json(organization: org))
        case "POST /api/v2/webhooks/{id}/resume":
            // Later events are delivered again; the ones missed while disabled stay in webhook-events.
            engagement.webhooks[i].status = 1
            engagement.webhooks[i].timestampError = nil
            engagement.webhooks[i].failuresInARow = 0
            return .json(200, engagement.webhooks[i].json(organization: org))
        default:
            return Self.error(404, "Route \(r.method):\(r.path) not found")
        }
    }
}
