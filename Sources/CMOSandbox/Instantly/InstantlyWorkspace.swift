import Foundation

/// One lead stored in the sandbox's Instantly workspace.
struct InstantlyLead {
    var id: String
    var sequence: Int
    var email: String?
    var campaign: String?
    var listID: String?
    /// The lead's own fields as sent (first_name, company_name, …), custom variables under `payload`.
    var fields: [String: Any]
    var created: Date
}

/// The seeded, read-only part of the Instantly workspace: organization, campaigns, lists, accounts.
struct InstantlyWorld {
    let organization: String
    let campaigns: [[String: Any]]
    let lists: [[String: Any]]
    let accounts: [[String: Any]]

    init(seed: UInt64, options: InstantlyOptions) {
        organization = ServiceKit.uuid(seed: seed, "instantly-organization")
        let created = ServiceKit.iso8601(options.epoch.addingTimeInterval(-86_400 * 30))
        let domain = "outreach-\(String(seed % 1000)).example"
        var accounts: [[String: Any]] = []
        let people = [("alex", "Alex", "Rivera"), ("sam", "Sam", "Okafor"), ("jo", "Jo", "Lindqvist")]
        for (i, p) in people.enumerated() {
            accounts.append([
                "email": "\(p.0)@\(domain)", "first_name": p.1, "last_name": p.2,
                "organization": organization, "status": 1, "warmup_status": 1, "provider_code": 2,
                "setup_pending": false, "is_managed_account": false,
                "daily_limit": [30, 40, 50][i], "sending_gap": 10,
                "warmup": ["limit": 20, "increment": "disabled", "reply_rate": 30],
                "stat_warmup_score": 98 - i, "timestamp_created": created, "timestamp_updated": created,
            ])
        }
        self.accounts = accounts
        let names = ["Developers — open source maintainers", "Developers — infra tooling", "Developers — draft", "Developers — follow-up"]
        let statuses = [1, 1, 0, 2]
        campaigns = (0..<max(0, options.campaignCount)).map { i in
            [
                "id": ServiceKit.uuid(seed: seed, "instantly-campaign-\(i)"),
                "name": i < names.count ? names[i] : "Sandbox campaign \(i + 1)",
                "status": statuses[i % statuses.count],
                "organization": ServiceKit.uuid(seed: seed, "instantly-organization"),
                "campaign_schedule": [
                    "schedules": [
                        [
                            "name": "Weekdays", "timing": ["from": "09:00", "to": "17:00"],
                            "days": ["1": true, "2": true, "3": true, "4": true, "5": true],
                            "timezone": "America/Anchorage",
                        ]
                    ]
                ],
                "sequences": [["steps": [["type": "email", "delay": 2, "variants": [["subject": "{{subject}}", "body": "{{body}}"]]]]]],
                "daily_limit": [50, 100, 30, 20][i % 4], "daily_max_leads": 25,
                "email_list": accounts.map { $0["email"]! }, "email_gap": 10, "random_wait_max": 10,
                "stop_on_reply": true, "text_only": false, "link_tracking": false, "open_tracking": false,
                "timestamp_created": created, "timestamp_updated": created,
            ] as [String: Any]
        }
        lists = (0..<max(0, options.listCount)).map { i in
            [
                "id": ServiceKit.uuid(seed: seed, "instantly-list-\(i)"),
                "name": "Sandbox list \(i + 1)", "organization_id": ServiceKit.uuid(seed: seed, "instantly-organization"),
                "has_enrichment_task": false, "timestamp_created": created,
            ] as [String: Any]
        }
    }

    func campaign(_ id: String) -> [String: Any]? { campaigns.first { $0["id"] as? String == id } }
    func list(_ id: String) -> [String: Any]? { lists.first { $0["id"] as? String == id } }
}

extension InstantlyLead {
    /// The lead as the API's Lead schema (required keys always present).
    func json(organization: String) -> [String: Any] {
        var o: [String: Any] = [
            "id": id, "timestamp_created": ServiceKit.iso8601(created), "timestamp_updated": ServiceKit.iso8601(created),
            "organization": organization, "status": 1, "email_open_count": 0, "email_reply_count": 0,
            "email_click_count": 0, "company_domain": email.flatMap { $0.split(separator: "@").last.map(String.init) } ?? "",
            "status_summary": [String: Any](), "campaign": campaign ?? NSNull(), "list_id": listID ?? NSNull(),
            "email": email ?? NSNull(), "lt_interest_status": 0, "verification_status": 1, "enrichment_status": 1,
            "upload_method": "api", "payload": NSNull(),
        ]
        for (k, v) in fields { o[k] = v }
        return o
    }
}
