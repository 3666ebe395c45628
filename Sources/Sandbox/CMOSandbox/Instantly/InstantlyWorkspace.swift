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
    /// The endpoint that stored it: `leads/add` or `leads`.
    var via: String
    /// The sandbox clock's day when it was stored: it is first sent on a later day.
    var addedDay = 0
}

/// The seeded, read-only part of the Instantly workspace: organization, campaigns, lists, accounts.
struct InstantlyWorld {
    let organization: String
    let campaigns: [[String: Any]]
    let lists: [[String: Any]]
    let accounts: [[String: Any]]
    /// The workspace default blocklist (`options.blocklist`), used when a request names none.
    let defaultBlocklistID: String
    /// The one custom blocklist (`options.customBlocklist`), used when a request names it.
    let customBlocklistID: String

    /// What the seeded campaigns are, by index (the cycle repeats after the fifth).
    struct CampaignKind {
        var name: String
        var status: Int
        /// The sequence uses `{{cmo_subject}}` and `{{cmo_body}}` (else fixed text).
        var variables: Bool
        var unsubscribeHeader: Bool
        var dailyLimit: Int
        var dailyMaxLeads: Int
        /// Indexes into the seeded accounts (`email_list`).
        var accounts: [Int]
    }

    static let campaignKinds = [
        CampaignKind(
            name: "Developers — open source maintainers", status: 1, variables: true, unsubscribeHeader: true,
            dailyLimit: 50, dailyMaxLeads: 25, accounts: [0, 1]),
        CampaignKind(
            name: "Developers — infra tooling (fixed copy)", status: 1, variables: false, unsubscribeHeader: false,
            dailyLimit: 100, dailyMaxLeads: 40, accounts: [2]),
        CampaignKind(
            name: "Developers — draft", status: 0, variables: true, unsubscribeHeader: true, dailyLimit: 30,
            dailyMaxLeads: 10, accounts: [0]),
        CampaignKind(
            name: "Developers — paused", status: 2, variables: true, unsubscribeHeader: true, dailyLimit: 20,
            dailyMaxLeads: 10, accounts: [1]),
        CampaignKind(
            name: "Developers — completed", status: 3, variables: true, unsubscribeHeader: true, dailyLimit: 20,
            dailyMaxLeads: 10, accounts: [0, 1, 2]),
    ]

    init(seed: UInt64, options: InstantlyOptions) {
        organization = ServiceKit.uuid(seed: seed, "instantly-organization")
        let created = ServiceKit.iso8601(options.epoch.addingTimeInterval(-86_400 * 30))
        let domain = "outreach-\(String(seed % 1000)).example"
        var accounts: [[String: Any]] = []
        let people = [("alex", "Alex", "Rivera"), ("sam", "Sam", "Okafor"), ("jo", "Jo", "Lindqvist")]
        for (i, p) in people.enumerated() {
            // Connected a day apart, so the accounts cursor (`timestamp_created&email`) orders them.
            let joined = ServiceKit.iso8601(options.epoch.addingTimeInterval(-86_400 * Double(40 - i)))
            accounts.append([
                "email": "\(p.0)@\(domain)", "first_name": p.1, "last_name": p.2,
                "organization": organization, "status": 1, "warmup_status": 1, "provider_code": 2,
                "setup_pending": false, "is_managed_account": false,
                "daily_limit": [30, 40, 50][i], "sending_gap": 10,
                "warmup": ["limit": 20, "increment": "disabled", "reply_rate": 30],
                "stat_warmup_score": 98 - i, "timestamp_created": joined, "timestamp_updated": joined,
            ])
        }
        self.accounts = accounts
        let owner = ServiceKit.uuid(seed: seed, "instantly-user-owner")
        let org = organization
        let kinds = InstantlyWorld.campaignKinds
        campaigns = (0..<max(0, options.campaignCount)).map { i in
            let kind = kinds[i % kinds.count]
            let variant: [String: Any] =
                kind.variables
                ? ["subject": "{{cmo_subject}}", "body": "{{cmo_body}}"]
                : [
                    "subject": "Release automation for your maintainers",
                    "body": "Hi {{firstName}},<br/><br/>We help maintainers ship releases without the busywork. Worth a look?",
                ]
            let senders = kind.accounts.map { accounts[$0]["email"]! }
            return [
                "id": ServiceKit.uuid(seed: seed, "instantly-campaign-\(i)"),
                "name": i < kinds.count ? kind.name : "Sandbox campaign \(i + 1) (\(kind.name))",
                "status": kind.status, "pl_value": NSNull(), "is_evergreen": false,
                "organization": org, "owned_by": owner, "ai_sdr_id": NSNull(),
                "campaign_schedule": [
                    "start_date": NSNull(), "end_date": NSNull(),
                    "schedules": [
                        [
                            "name": "Weekdays", "timing": ["from": "09:00", "to": "17:00"],
                            "days": ["1": true, "2": true, "3": true, "4": true, "5": true],
                            "timezone": "America/Anchorage",
                        ]
                    ],
                ],
                "sequences": [["steps": InstantlyWorld.steps(first: variant, count: options.sequenceSteps, delay: options.followUpDelayDays)]],
                "daily_limit": options.dailyLimit ?? kind.dailyLimit, "daily_max_leads": kind.dailyMaxLeads,
                "email_list": senders, "email_tag_list": [String](), "cc_list": [String](), "bcc_list": [String](),
                "email_gap": 10, "random_wait_max": 10, "stop_on_reply": true, "stop_on_auto_reply": false,
                "stop_for_company": false, "text_only": false, "first_email_text_only": false,
                "link_tracking": false, "open_tracking": false, "prioritize_new_leads": false,
                "match_lead_esp": false, "allow_risky_contacts": false, "disable_bounce_protect": false,
                "auto_variant_select": NSNull(), "insert_unsubscribe_header": kind.unsubscribeHeader,
                "not_sending_status": NSNull(), "core_variables": NSNull(), "custom_variables": NSNull(),
                "timestamp_created": created, "timestamp_updated": created,
            ] as [String: Any]
        }
        defaultBlocklistID = ServiceKit.uuid(seed: seed, "instantly-default-blocklist")
        customBlocklistID = ServiceKit.uuid(seed: seed, "instantly-blocklist-custom-0")
        lists = (0..<max(0, options.listCount)).map { i in
            [
                "id": ServiceKit.uuid(seed: seed, "instantly-list-\(i)"),
                "name": "Sandbox list \(i + 1)", "organization_id": ServiceKit.uuid(seed: seed, "instantly-organization"),
                "has_enrichment_task": false, "timestamp_created": created,
            ] as [String: Any]
        }
    }

    /// A sequence of `count` steps: the first with `first`, then follow-ups in the same thread (empty subject).
    static func steps(first: [String: Any], count: Int, delay: Int) -> [[String: Any]] {
        (0..<max(1, count)).map { i in
            let variant: [String: Any] =
                i == 0
                ? first
                : ["subject": "", "body": "Hi {{firstName}},<br/><br/>Following up on my note below. Worth a look? (\(i + 1)/\(count))"]
            return ["type": "email", "delay": delay, "delay_unit": "days", "variants": [variant]]
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
            "email": email ?? NSNull(), "upload_method": "api", "payload": NSNull(),
            "last_step_from": NSNull(), "last_step_id": NSNull(), "last_step_timestamp_executed": NSNull(),
            "timestamp_last_contact": NSNull(), "timestamp_last_open": NSNull(), "timestamp_last_reply": NSNull(),
            "timestamp_last_click": NSNull(), "timestamp_last_interest_change": NSNull(),
        ]
        // A fresh lead has no interest status (the schema's lt_interest_status is optional and not
        // nullable; 0 means "Out of Office") and has not been verified or enriched: those keys are left out.
        for (k, v) in fields { o[k] = v }
        return o
    }
}
