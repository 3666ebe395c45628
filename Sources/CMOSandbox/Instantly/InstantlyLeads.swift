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
    static func validateLeadFields(_ item: [String: Any], at path: String, allowed: Set<String>) -> String? {
        if let extra = item.keys.sorted().first(where: { !allowed.contains($0) }) {
            return "\(path) must NOT have additional properties ('\(extra)')"
        }
        for (k, v) in item.sorted(by: { $0.key < $1.key }) {
            if nullableStringKeys.contains(k), !(v is NSNull), !(v is String) { return "\(path)/\(k) must be string,null" }
            if k.hasPrefix("skip_if_") || k.hasPrefix("verify_"), !ServiceKit.isBool(v) { return "\(path)/\(k) must be boolean" }
            if k == "lt_interest_status", ServiceKit.isBool(v) || !(v is NSNumber) { return "\(path)/\(k) must be number" }
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

    func isBlocked(_ email: String) -> Bool {
        let domain = email.split(separator: "@").last.map(String.init) ?? ""
        return options.blocklist.contains { entry in
            let e = entry.lowercased()
            return e.contains("@") ? e == email : (domain == e || domain.hasSuffix("." + e))
        }
    }

    /// Whether a `skip_if_*` flag fires for `email` (skip_if_in_workspace overrides the others).
    func skipFires(_ email: String, flags: [String: Any], campaign: String?, list: String?, scope: InstantlyOptions.SkipScope) -> Bool {
        let existing = leads.filter { $0.email == email }
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
        leads.first { $0.email == email && ((campaign != nil && $0.campaign == campaign) || (list != nil && $0.listID == list)) }
    }

    func makeLead(_ item: [String: Any], email: String?, campaign: String?, list: String?) -> InstantlyLead {
        let sequence = leads.count + 1
        var fields: [String: Any] = [:]
        for (k, v) in item where Self.leadItemKeys.contains(k) && k != "email" && k != "custom_variables" { fields[k] = v }
        if let vars = item["custom_variables"] as? [String: Any] { fields["payload"] = vars }
        let lead = InstantlyLead(
            id: ServiceKit.orderedUUID(seed: seed, sequence: sequence, epochMS: UInt64(options.epoch.timeIntervalSince1970 * 1000)),
            sequence: sequence, email: email, campaign: campaign, listID: list, fields: fields,
            created: options.epoch.addingTimeInterval(TimeInterval(sequence)))
        leads.append(lead)
        return lead
    }

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
        for key in ["skip_if_in_workspace", "skip_if_in_campaign", "skip_if_in_list", "verify_leads_on_import"]
        where body[key] != nil && !ServiceKit.isBool(body[key]) {
            return Self.error(400, "body/\(key) must be boolean")
        }
        for key in ["campaign_id", "list_id", "assigned_to"] where body[key] != nil && !(body[key] is String) {
            return Self.error(400, "body/\(key) must be string")
        }
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
                    let lead = makeLead(item, email: nil, campaign: nil, list: list)
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
                outcome = "duplicate_in_request"
                continue
            }
            if isBlocked(address) {
                counts["in_blocklist"]! += 1
                outcome = "in_blocklist"
                continue
            }
            let inTarget = existingInTarget(address, campaign: campaign, list: list) != nil
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
            let lead = makeLead(item, email: address, campaign: campaign, list: list)
            created.append(Self.summary(lead, index: index))
            outcome = "created"
        }
        var response: [String: Any] = counts
        response["status"] = "success"
        response["total_sent"] = objects.count
        response["leads_uploaded"] = created.count
        response["blocklist_used"] = (body["blocklist_id"] as? String) ?? ServiceKit.uuid(seed: seed, "instantly-default-blocklist")
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
        if let m = Self.validateLeadFields(body, at: "body", allowed: Self.singleLeadKeys) { return Self.error(400, m) }
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
            let skipped = skipFires(e, flags: body, campaign: campaign, list: list, scope: scope)
            if skipped || inTarget != nil, let found = inTarget ?? leads.first(where: { $0.email == e }) {
                outcome = skipped ? "skipped" : "duplicated"
                switch options.singleSkipReply {
                case .existingLead: return .json(200, found.json(organization: world.organization))
                case .emptyObject: return .json(200, [String: Any]())
                }
            }
        }
        let lead = makeLead(body, email: email, campaign: campaign, list: list)
        return .json(200, lead.json(organization: world.organization))
    }

    /// `POST /api/v2/leads/list`: filters `campaign`, `list_id`, `contacts`, `search`, `ids`,
    /// `excluded_ids`, `in_campaign`, `in_list`; `limit` 1–100, `starting_after` (lead id, or email with
    /// `distinct_contacts`). Ordered by id, which is creation order.
    func listLeads(_ r: SandboxRequest) -> SandboxResponse {
        let body = (ServiceKit.json(r.body) as? [String: Any]) ?? [:]
        if let l = body["limit"] {
            guard let n = ServiceKit.int(l) else { return Self.error(400, "body/limit must be integer") }
            if n < 1 { return Self.error(400, "body/limit must be >= 1") }
            if n > 100 { return Self.error(400, "body/limit must be <= 100") }
        }
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
        if distinct {
            var seen = Set<String>()
            items = items.filter { seen.insert($0.email ?? $0.id).inserted }
        }
        if let after = body["starting_after"] as? String,
            let i = items.firstIndex(where: { distinct ? ($0.email ?? $0.id) == after : $0.id == after })
        {
            items = Array(items[(i + 1)...])
        }
        let page = Array(items.prefix(limit))
        let cursor = page.last.map { distinct ? ($0.email ?? $0.id) : $0.id }
        return .json(200, listBody(page.map { $0.json(organization: world.organization) }, more: items.count > limit, cursor: cursor))
    }
}
