import Foundation

// `POST /api/v2/leads/update-interest-status`: a lead's interest status, "the same as moving the lead to the
// status in the web app" (the spec). Moving a lead to a status is what stops it in the app: the sandbox's
// clock sends it no later step (its progress is done, its status 3 completed unless it bounced or
// unsubscribed), and everything it was sent stays (events, analytics, the lead). `interest_value: null`
// resets the lead to "Lead" and stops nothing. The spec answers 202 (a background job) whether or not a lead
// matched [U: what the real API does for an unknown email is not documented]. No webhook event is made for
// the change [U].

extension InstantlyService {
    func updateInterestStatus(_ r: SandboxRequest) -> SandboxResponse {
        guard let body = ServiceKit.json(r.body) as? [String: Any] else { return Self.error(400, "body must be object") }
        let known: Set<String> = ["lead_email", "interest_value", "campaign_id", "ai_interest_value", "disable_auto_interest", "list_id"]
        if let extra = body.keys.sorted().first(where: { !known.contains($0) }) {
            return Self.error(400, "body must NOT have additional properties ('\(extra)')")
        }
        guard let rawEmail = body["lead_email"] else { return Self.error(400, "body must have required property 'lead_email'") }
        guard body.keys.contains("interest_value") else { return Self.error(400, "body must have required property 'interest_value'") }
        guard let email = (rawEmail as? String)?.trimmingCharacters(in: .whitespaces).lowercased(), Self.isValidEmail(email) else {
            return .json(400, ["error": "Invalid lead email"])
        }
        let value: Int?
        switch body["interest_value"] {
        case is NSNull: value = nil
        case let n as NSNumber where !ServiceKit.isBool(n):
            guard let v = ServiceKit.int(n), Double(v) == n.doubleValue else { return Self.error(400, "body/interest_value must be number,null") }
            value = v
        default: return Self.error(400, "body/interest_value must be number,null")
        }
        for key in ["campaign_id", "list_id"] where body[key] != nil && !(body[key] is String) {
            return Self.error(400, "body/\(key) must be string")
        }
        let campaign = body["campaign_id"] as? String
        let list = body["list_id"] as? String
        let at = sandboxNow
        var matched = 0
        for i in leadsByEmail[email] ?? [] where i < leads.count {
            let lead = leads[i]
            if let campaign, lead.campaign != campaign { continue }
            if let list, lead.listID != list { continue }
            matched += 1
            var p = engagement.progress[lead.sequence] ?? InstantlyLeadProgress()
            p.interest = value
            p.lastInterestChange = at
            if value != nil, !p.done {
                p.done = true
                if p.status == 1 {
                    p.status = 3
                    p.completedAt = at
                }
            }
            engagement.progress[lead.sequence] = p
        }
        stats.recordWrite(
            service: name, kind: "lead_interest_status", key: "\(campaign ?? list ?? "*"):\(email)",
            payload: ["lead_email": email, "interest_value": value ?? NSNull(), "campaign_id": campaign ?? NSNull(), "matched": matched])
        return .json(202, ["message": "Lead interest status update background job submitted"])
    }
}
