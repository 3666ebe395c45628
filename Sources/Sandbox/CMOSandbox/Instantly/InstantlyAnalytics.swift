import Foundation

// `GET /api/v2/campaigns/analytics`: counted from the same events the webhooks carry, so a bench can check
// that what a receiver recorded, the truth and the analytics agree. The sandbox tracks no opens or clicks
// (the seeded campaigns have tracking off) and creates no opportunities: those counts are 0.

extension InstantlyService {
    /// Query: `id`, or `ids` repeated; `start_date`/`end_date` (a day or an ISO 8601 time; a day is UTC
    /// midnight); `exclude_total_leads_count`. One object per campaign, in the workspace's order.
    func campaignAnalytics(_ r: SandboxRequest) -> SandboxResponse {
        var wanted = r.query.filter { $0.name == "ids" || $0.name == "ids[]" }.map(\.value)
        if let id = r.queryValue("id"), !id.isEmpty { wanted.append(id) }
        for id in wanted where !ServiceKit.isUUID(id) { return Self.error(400, "querystring/id must match format \"uuid\"") }
        var bounds: [String: Date] = [:]
        for key in ["start_date", "end_date"] {
            guard let text = r.queryValue(key), !text.isEmpty else { continue }
            guard let date = Self.parseInstant(text) else {
                return Self.error(400, "querystring/\(key) must be a date or an ISO 8601 time")
            }
            bounds[key] = date
        }
        if let x = r.queryValue("exclude_total_leads_count"), x != "true" && x != "false" {
            return Self.error(400, "querystring/exclude_total_leads_count must be boolean")
        }
        func inRange(_ t: Date) -> Bool {
            if let s = bounds["start_date"], t < s { return false }
            if let e = bounds["end_date"], t > e { return false }
            return true
        }
        let events = engagement.events.filter { inRange($0.timestamp) }
        let rows: [[String: Any]] = world.campaigns.compactMap { c in
            let id = c["id"] as! String
            if !wanted.isEmpty && !wanted.contains(id) { return nil }
            let mine = events.filter { $0.campaignID == id }
            func count(_ type: String) -> Int { mine.filter { $0.type == type }.count }
            func leads(_ type: String, byStep: Bool = false) -> Int {
                Set(mine.filter { $0.type == type }.map { "\($0.leadEmail ?? "")|\(byStep ? ($0.step ?? 0) : 0)" }).count
            }
            let campaignLeads = self.leads.filter { $0.campaign == id }
            let completed = campaignLeads.filter { lead in
                guard let at = engagement.progress[lead.sequence]?.completedAt else { return false }
                return inRange(at)
            }.count
            let sends = mine.filter { $0.type == "email_sent" }
            return [
                "campaign_name": c["name"] as? String ?? "", "campaign_id": id, "campaign_status": c["status"] as? Int ?? 0,
                "campaign_is_evergreen": c["is_evergreen"] as? Bool ?? false, "leads_count": campaignLeads.count,
                "contacted_count": leads("email_sent"), "emails_sent_count": sends.count,
                "new_leads_contacted_count": Set(sends.filter { $0.step == 1 }.compactMap(\.leadEmail)).count,
                "open_count": 0, "open_count_unique": 0, "open_count_unique_by_step": 0,
                "reply_count": count("reply_received"), "reply_count_unique": leads("reply_received"),
                "reply_count_unique_by_step": leads("reply_received", byStep: true),
                "reply_count_automatic": count("auto_reply_received"), "reply_count_automatic_unique": leads("auto_reply_received"),
                "reply_count_automatic_unique_by_step": leads("auto_reply_received", byStep: true),
                "link_click_count": 0, "link_click_count_unique": 0, "link_click_count_unique_by_step": 0,
                "bounced_count": leads("email_bounced"), "unsubscribed_count": leads("lead_unsubscribed"), "completed_count": completed,
                "total_opportunities": 0, "total_opportunity_value": 0,
            ]
        }
        return .json(200, rows)
    }

    /// `2026-04-07` (UTC midnight) or a full ISO 8601 time, with or without fractional seconds.
    static func parseInstant(_ text: String) -> Date? {
        if isDay(text) { return parseInstant(text + "T00:00:00Z") }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)
    }
}
