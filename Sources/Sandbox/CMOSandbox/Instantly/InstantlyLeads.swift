import Foundation

// Lead writes and lookups. Evaluation order for each bulk item (Instantly's real order is not
// documented [U]; apis.md §2.10 suggests this one): missing/invalid email (or, for lists, no email and
// no names) → duplicate inside the payload → blocklist → skip_if_* flags → already in the target
// campaign/list (automatic dedupe) → created.

extension InstantlyService {
    static let leadItemKeys: Set<String> = [
        "email", "personalization", "website", "last_name", "first_name", "company_name", "job_title",
        "phone", "lt_interest_status", "pl_value_lead", "assigned_to", "custom_variables",
    ]
    static let singleLeadKeys: Set<String> = leadItemKeys.union([
        "campaign", "list_id", "blocklist_id", "skip_if_in_workspace", "skip_if_in_campaign", "skip_if_in_list",
        "verify_leads_for_lead_finder", "verify_leads_on_import",
    ])
    static let bulkBodyKeys: Set<String> = [
        "leads", "campaign_id", "list_id", "blocklist_id", "assigned_to", "verify_leads_on_import", "skip_if_in_workspace",
        "skip_if_in_campaign", "skip_if_in_list",
    ]
    /// `lt_interest_status` values the spec's enum allows.
    static let interestStatuses: Set<Int> = [1, 2, 3, 4, 0, -1, -2, -3, -4]
    static let nullableStringKeys: Set<String> = [
        "email", "personalization", "website", "last_name", "first_name", "company_name", "job_title",
        "phone", "pl_value_lead", "assigned_to", "campaign", "list_id", "blocklist_id",
    ]

    /// An address Instantly would accept: one `@`, a non-empty local part, a dotted domain, no spaces.
    static func isValidEmail(_ s: String) -> Bool {
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64, !s.contains(where: \.isWhitespace) else { return false }
        let labels = parts[1].split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ !$0.isEmpty && !$0.hasPrefix("-") && !$0.hasSuffix("-") }) else { return false }
        return labels.last!.count >= 2 && labels.last!.allSatisfy(\.isLetter)
    }

    /// The ajv-style message for the first schema violation of one lead object, or nil.
    static func validateLeadFields(
        _ item: [String: Any], at path: String, allowed: Set<String>, nonNullKeys: Set<String> = []
    ) -> String? {
        if let extra = item.keys.sorted().first(where: { !allowed.contains($0) }) {
            return "\(path) must NOT have additional properties ('\(extra)')"
        }
        for (k, v) in item.sorted(by: { $0.key < $1.key }) {
            if nonNullKeys.contains(k), !(v is String) { return "\(path)/\(k) must be string" }
            if nullableStringKeys.contains(k), !(v is NSNull), !(v is String) { return "\(path)/\(k) must be string,null" }
            if k.hasPrefix("skip_if_") || k.hasPrefix("verify_"), !ServiceKit.isBool(v) { return "\(path)/\(k) must be boolean" }
            if k == "lt_interest_status" {
                guard let n = v as? NSNumber, !ServiceKit.isBool(n) else { return "\(path)/\(k) must be number" }
                guard n.doubleValue == n.doubleValue.rounded(), interestStatuses.contains(n.intValue) else {
                    return "\(path)/\(k) must be equal to one of the allowed values"
                }
            }
            if k == "custom_variables" {
                guard let vars = v as? [String: Any] else { return "\(path)/custom_variables must be object" }
                for (name, value) in vars.sorted(by: { $0.key < $1.key })
                where !(value is String || value is NSNumber || value is NSNull) {
                    return "\(path)/custom_variables/\(name) must be string,number,boolean,null"
                }
            }
        }
        return nil
    }

    /// The entries of the blocklist a request names (nil or absent: the workspace default), or nil
    /// when no blocklist has that id.
    func blocklist(_ id: Any?) -> (id: String, entries: [String])? {
        // The default blocklist is the workspace's block list: seeded from `options.blocklist`, grown by
        // `POST /api/v2/block-lists-entries`.
        guard let id = id as? String else { return (world.defaultBlocklistID, engagement.blockValues) }
        if id == world.defaultBlocklistID { return (id, engagement.blockValues) }
        if id == world.customBlocklistID { return (id, options.customBlocklist) }
        return nil
    }

    func isBlocked(_ email: String, entries: [String]) -> Bool {
        let domain = email.split(separator: "@").last.map(String.init) ?? ""
        return entries.contains { entry in
            let e = entry.lowercased()
            return e.contains("@") ? e == email : (domain == e || domain.hasSuffix("." + e))
        }
    }

    /// Whether a `skip_if_*` flag fires for `email` (skip_if_in_workspace overrides the others).
    func skipFires(_ email: String, flags: [String: Any], campaign: String?, list: String?, scope: InstantlyOptions.SkipScope) -> Bool {
        let existing = stored(email)
        if ServiceKit.bool(flags["skip_if_in_workspace"]) == true { return !existing.isEmpty }
        if ServiceKit.bool(flags["skip_if_in_campaign"]) == true {
            if existing.contains(where: { $0.campaign != nil && (scope == .anyInWorkspace || $0.campaign == campaign) }) { return true }
        }
        if ServiceKit.bool(flags["skip_if_in_list"]) == true {
            if existing.contains(where: { $0.listID != nil && (scope == .anyInWorkspace || $0.listID == list) }) { return true }
        }
        return false
    }

    func existingInTarget(_ email: String, campaign: String?, list: String?) -> InstantlyLead? {
        stored(email).first { (campaign != nil && $0.campaign == campaign) || (list != nil && $0.listID == list) }
    }

    /// Counts one event (`resubmissions`, `duplicates_in_request`) for a campaign or list.
    func count(_ what: String, target: String) { targetCounts[target, default: [:]][what, default: 0] += 1 }

    func makeLead(_ item: [String: Any], email: String?, campaign: String?, list: String?, via: String) -> InstantlyLead {
        let sequence = leads.count + 1
        var fields: [String: Any] = [:]
        for (k, v) in item where Self.leadItemKeys.contains(k) && k != "email" && k != "custom_variables" { fields[k] = v }
        if let vars = item["custom_variables"] as? [String: Any] { fields["payload"] = vars }
        let lead = InstantlyLead(
            id: ServiceKit.orderedUUID(seed: seed, sequence: sequence, epochMS: UInt64(options.epoch.timeIntervalSince1970 * 1000)),
            sequence: sequence, email: email, campaign: campaign, listID: list, fields: fields,
            created: options.epoch.addingTimeInterval(TimeInterval(sequence)), via: via, addedDay: engagement.day)
        if let email { leadsByEmail[email, default: []].append(leads.count) }
        if let campaign, email != nil { engagement.openLeads[campaign, default: []].append(leads.count) }
        leads.append(lead)
        return lead
    }

    /// The stored leads with `email`, oldest first.
    func stored(_ email: String) -> [InstantlyLead] { (leadsByEmail[email] ?? []).map { leads[$0] } }

    /// `POST /api/v2/leads/add` (a 400 becomes `options.validationStatus`).
    func addLeads(_ r: SandboxRequest) -> SandboxResponse {
        var response = addLeadsChecked(r)
        if response.status == 400 && options.validationStatus != 400 {
            let message = (ServiceKit.json(response.body) as? [String: Any])?["message"] as? String ?? "Bad Request"
            response = Self.error(options.validationStatus, message)
        }
        return response
    }

    private func addLeadsChecked(_ r: SandboxRequest) -> SandboxResponse {
        guard let body = ServiceKit.json(r.body) as? [String: Any] else { return Self.error(400, "body must be object") }
        guard let raw = body["leads"] else { return Self.error(400, "body must have required property 'leads'") }
        guard let items = raw as? [Any] else { return Self.error(400, "body/leads must be array") }
        if items.isEmpty { return Self.error(400, "body/leads must NOT have fewer than 1 items") }
        if items.count > 1000 { return Self.error(400, "body/leads must NOT have more than 1000 items") }
        if !options.acceptUnknownBulkKeys, let extra = body.keys.sorted().first(where: { !Self.bulkBodyKeys.contains($0) }) {
            return Self.error(400, "body must NOT have additional properties ('\(extra)')")
        }
        for key in ["skip_if_in_workspace", "skip_if_in_campaign", "skip_if_in_list", "verify_leads_on_import"]
        where body[key] != nil && !ServiceKit.isBool(body[key]) {
            return Self.error(400, "body/\(key) must be boolean")
        }
        for key in ["campaign_id", "list_id", "assigned_to"] where body[key] != nil && !(body[key] is String) {
            return Self.error(400, "body/\(key) must be string")
        }
        if let b = body["blocklist_id"], !(b is String), !(b is NSNull) { return Self.error(400, "body/blocklist_id must be string,null") }
        var objects: [[String: Any]] = []
        for (i, item) in items.enumerated() {
            guard let o = item as? [String: Any] else { return Self.error(400, "body/leads/\(i) must be object") }
            if let m = Self.validateLeadFields(o, at: "body/leads/\(i)", allowed: Self.leadItemKeys) { return Self.error(400, m) }
            objects.append(o)
        }
        let campaign = body["campaign_id"] as? String
        let list = body["list_id"] as? String
        if campaign != nil && list != nil { return Self.error(400, "Provide either campaign_id or list_id, not both") }
        if campaign == nil && list == nil { return Self.error(400, "Either campaign_id or list_id is required") }
        if let c = campaign, world.campaign(c) == nil { return Self.error(404, "Campaign not found") }
        if let l = list, world.list(l) == nil { return Self.error(404, "List not found") }
        guard let blocklist = blocklist(body["blocklist_id"]) else { return Self.error(404, "Blocklist not found") }
        let scope = options.skipScope ?? .anyInWorkspace

        var counts = [
            "in_blocklist": 0, "duplicated_leads": 0, "skipped_count": 0, "invalid_email_count": 0, "incomplete_count": 0,
            "duplicate_email_count": 0,
        ]
        var created: [[String: Any]] = []
        var seen = Set<String>()
        let target = campaign.map { "campaign:\($0)" } ?? "list:\(list!)"
        for (index, item) in objects.enumerated() {
            let email = (item["email"] as? String)?.trimmingCharacters(in: .whitespaces).lowercased()
            var outcome = ""
            defer {
                stats.recordWrite(
                    service: name, kind: "lead", key: "\(target) \(email ?? "#\(index)")",
                    payload: ["target": target, "email": email.map { $0 as Any } ?? NSNull(), "index": index, "outcome": outcome])
            }
            let hasName = [item["first_name"], item["last_name"]].contains { ($0 as? String).map { !$0.isEmpty } ?? false }
            if email == nil || email!.isEmpty {
                if list != nil && hasName {
                    let lead = makeLead(item, email: nil, campaign: nil, list: list, via: "leads/add")
                    created.append(Self.summary(lead, index: index))
                    outcome = "created"
                } else if list != nil {
                    counts["incomplete_count"]! += 1
                    outcome = "incomplete"
                } else {
                    counts["invalid_email_count"]! += 1
                    outcome = "invalid_email"
                }
                continue
            }
            let address = email!
            if !Self.isValidEmail(address) {
                counts["invalid_email_count"]! += 1
                outcome = "invalid_email"
                continue
            }
            if !seen.insert(address).inserted {
                counts["duplicate_email_count"]! += 1
                count("duplicates_in_request", target: target)
                outcome = "duplicate_in_request"
                continue
            }
            let inTarget = existingInTarget(address, campaign: campaign, list: list) != nil
            if inTarget { count("resubmissions", target: target) }
            if isBlocked(address, entries: blocklist.entries) {
                counts["in_blocklist"]! += 1
                outcome = "in_blocklist"
                continue
            }
            if options.dedupeBeforeSkip && inTarget {
                counts["duplicated_leads"]! += 1
                outcome = "duplicated"
                continue
            }
            if skipFires(address, flags: body, campaign: campaign, list: list, scope: scope) {
                counts["skipped_count"]! += 1
                outcome = "skipped"
                continue
            }
            if inTarget {
                counts["duplicated_leads"]! += 1
                outcome = "duplicated"
                continue
            }
            let lead = makeLead(item, email: address, campaign: campaign, list: list, via: "leads/add")
            created.append(Self.summary(lead, index: index))
            outcome = "created"
        }
        var response: [String: Any] = counts
        response["status"] = "success"
        response["total_sent"] = objects.count
        response["leads_uploaded"] = created.count
        response["blocklist_used"] = blocklist.id
        response["created_leads"] = created
        if campaign != nil {
            response["remaining_in_plan"] = options.planLeadLimit.map { max(0, $0 - leads.count) } ?? NSNull()
        }
        return .json(200, response)
    }

    static func summary(_ lead: InstantlyLead, index: Int) -> [String: Any] {
        [
            "index": index, "id": lead.id, "email": lead.email ?? NSNull(),
            "first_name": lead.fields["first_name"] ?? NSNull(), "last_name": lead.fields["last_name"] ?? NSNull(),
            "phone": lead.fields["phone"] ?? NSNull(),
        ]
    }

    /// `POST /api/v2/leads` (one lead; the campaign field is called `campaign`).
    func addLead(_ r: SandboxRequest) -> SandboxResponse {
        guard let body = ServiceKit.json(r.body) as? [String: Any] else { return Self.error(400, "body must be object") }
        if let m = Self.validateLeadFields(body, at: "body", allowed: Self.singleLeadKeys, nonNullKeys: ["blocklist_id"]) {
            return Self.error(400, m)
        }
        let campaign = body["campaign"] as? String
        let list = body["list_id"] as? String
        let email = (body["email"] as? String)?.trimmingCharacters(in: .whitespaces).lowercased()
        if campaign != nil, email == nil || email!.isEmpty { return Self.error(400, "body must have required property 'email'") }
        if list != nil, email == nil, body["first_name"] as? String == nil, body["last_name"] as? String == nil {
            return Self.error(400, "body must have at least one of 'email', 'first_name', 'last_name'")
        }
        if let e = email, !e.isEmpty, !Self.isValidEmail(e) { return Self.error(400, "body/email must match format \"email\"") }
        if let c = campaign, world.campaign(c) == nil { return Self.error(404, "Campaign not found") }
        if let l = list, world.list(l) == nil { return Self.error(404, "List not found") }
        guard let blocklist = blocklist(body["blocklist_id"]) else { return Self.error(404, "Blocklist not found") }
        let target = campaign.map { "campaign:\($0)" } ?? list.map { "list:\($0)" } ?? "workspace"
        let scope = options.skipScope ?? .targetOnly
        var outcome = "created"
        defer {
            stats.recordWrite(
                service: name, kind: "lead", key: "\(target) \(email ?? "-")",
                payload: ["target": target, "email": email.map { $0 as Any } ?? NSNull(), "outcome": outcome])
        }
        if let e = email, !e.isEmpty {
            let inTarget = existingInTarget(e, campaign: campaign, list: list)
            if inTarget != nil { count("resubmissions", target: target) }
            if isBlocked(e, entries: blocklist.entries) {
                // Not created; what Instantly answers here is undocumented [U].
                outcome = "in_blocklist"
                return .json(200, [String: Any]())
            }
            let skipped = skipFires(e, flags: body, campaign: campaign, list: list, scope: scope)
            let deduped = inTarget != nil && options.singleDedupe
            if skipped || deduped, let found = inTarget ?? stored(e).first {
                outcome = skipped ? "skipped" : "duplicated"
                switch options.singleSkipReply {
                case .existingLead: return .json(200, leadJSON(found))
                case .emptyObject: return .json(200, [String: Any]())
                }
            }
        }
        let lead = makeLead(body, email: email, campaign: campaign, list: list, via: "leads")
        return .json(200, leadJSON(lead))
    }

    /// `POST /api/v2/leads/list`: filters `campaign`, `list_id`, `contacts`, `search`, `ids`,
    /// `excluded_ids`, `in_campaign`, `in_list`; `limit` 1–100, `starting_after`. Ordered by id (creation
    /// order) with the id as cursor; with `distinct_contacts`, one lead per email (the first stored),
    /// ordered by email with the email as cursor. The cursor is a keyset: the page holds what sorts after it.
    func listLeads(_ r: SandboxRequest) -> SandboxResponse {
        let parsed = r.body.isEmpty ? [String: Any]() : ServiceKit.json(r.body)
        guard let body = parsed as? [String: Any] else { return Self.error(400, "body must be object") }
        if let m = Self.validateListBody(body) { return Self.error(400, m) }
        let limit = ServiceKit.int(body["limit"]) ?? 100
        var items = leads
        if let c = body["campaign"] as? String { items = items.filter { $0.campaign == c } }
        if let l = body["list_id"] as? String { items = items.filter { $0.listID == l } }
        if let contacts = body["contacts"] as? [String] {
            let set = Set(contacts.map { $0.lowercased() })
            items = items.filter { $0.email.map(set.contains) ?? false }
        }
        if let ids = body["ids"] as? [String] { items = items.filter { ids.contains($0.id) } }
        if let ex = body["excluded_ids"] as? [String] { items = items.filter { !ex.contains($0.id) } }
        if let b = ServiceKit.bool(body["in_campaign"]) { items = items.filter { ($0.campaign != nil) == b } }
        if let b = ServiceKit.bool(body["in_list"]) { items = items.filter { ($0.listID != nil) == b } }
        if let s = (body["search"] as? String)?.lowercased(), !s.isEmpty {
            items = items.filter { lead in
                [lead.email, lead.fields["first_name"] as? String, lead.fields["last_name"] as? String]
                    .contains { $0?.lowercased().contains(s) ?? false }
            }
        }
        let distinct = ServiceKit.bool(body["distinct_contacts"]) == true
        let key: (InstantlyLead) -> String
        if distinct {
            // One lead per contact (leads without an email have no contact and are left out [U]).
            var seen = Set<String>()
            items = items.filter { $0.email != nil && seen.insert($0.email!).inserted }
            items.sort { $0.email! < $1.email! }
            key = { $0.email! }
        } else {
            items.sort { $0.id < $1.id }
            key = { $0.id }
        }
        if let after = body["starting_after"] as? String {
            let cursor = distinct ? after.lowercased() : after
            if options.unknownCursor == .reject, !items.contains(where: { key($0) == cursor }) {
                return Self.error(400, "Invalid starting_after cursor")
            }
            items = items.filter { key($0) > cursor }
        }
        let page = Array(items.prefix(limit))
        return .json(
            200, listBody(page.map(leadJSON), more: items.count > limit, cursor: page.last.map(key)))
    }

    /// The first schema violation of a `leads/list` body (types, `limit` 1–100, `contacts` emails), or nil.
    /// Unknown keys are accepted, as the spec's schema allows.
    static func validateListBody(_ body: [String: Any]) -> String? {
        for k in ["search", "filter", "campaign", "list_id", "starting_after", "smart_view_id"] where body[k] != nil {
            if !(body[k] is String) { return "body/\(k) must be string" }
        }
        for k in ["in_campaign", "in_list", "distinct_contacts", "is_website_visitor"] where body[k] != nil {
            if !ServiceKit.isBool(body[k]) { return "body/\(k) must be boolean" }
        }
        for k in ["ids", "excluded_ids", "contacts", "organization_user_ids"] where body[k] != nil {
            guard let array = body[k] as? [Any] else { return "body/\(k) must be array" }
            for (i, v) in array.enumerated() {
                guard let text = v as? String else { return "body/\(k)/\(i) must be string" }
                if k == "contacts", !isValidEmail(text.lowercased()) { return "body/contacts/\(i) must match format \"email\"" }
            }
        }
        if let l = body["limit"] {
            guard let n = l as? NSNumber, !ServiceKit.isBool(n), n.doubleValue == n.doubleValue.rounded() else {
                return "body/limit must be integer"
            }
            if n.intValue < 1 { return "body/limit must be >= 1" }
            if n.intValue > 100 { return "body/limit must be <= 100" }
        }
        return nil
    }
}
