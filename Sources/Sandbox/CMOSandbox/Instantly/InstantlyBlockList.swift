import Foundation

// `/api/v2/block-lists-entries`: the workspace's block list (the default blocklist `leads/add` checks, seeded
// from `InstantlyOptions.blocklist`). A blocked lead is neither stored by `leads/add` nor sent by the clock.
// Blocking a value again makes a second entry, as nothing in the spec says otherwise [U]; the sandbox counts
// such duplicates so a bench can show it never blocks a value twice.

/// One entry of the block list.
struct InstantlyBlockEntry {
    var id: String
    var value: String
    var created: Date
    var isDomain: Bool { !value.contains("@") }

    func json(organization: String) -> [String: Any] {
        [
            "id": id, "timestamp_created": InstantlyService.stamp(created), "organization_id": organization, "bl_value": value,
            "is_domain": isDomain,
        ]
    }
}

extension InstantlyService {
    /// The seeded entries of the workspace block list.
    func seededBlockEntries() -> [InstantlyBlockEntry] {
        options.blocklist.enumerated().map { i, v in
            let at = options.epoch.addingTimeInterval(-86_400 * 10 + Double(i))
            return InstantlyBlockEntry(
                id: Self.timeOrderedID(seed: seed, label: "block-seed", counter: i, at: at), value: v.lowercased(), created: at)
        }
    }

    /// An email address or a domain name (what a block-list entry may be).
    static func isBlockable(_ value: String) -> Bool {
        if value.contains("@") { return isValidEmail(value) }
        return isValidEmail("x@" + value)
    }

    /// Adds one entry (the value lower-cased and trimmed); counts it when the value was already blocked.
    private func addBlockEntry(_ raw: String) -> InstantlyBlockEntry {
        let value = raw.trimmingCharacters(in: .whitespaces).lowercased()
        if engagement.blockEntries.contains(where: { $0.value == value }) { engagement.blockDuplicates += 1 }
        engagement.blockSequence += 1
        let n = engagement.blockSequence
        let at = sandboxNow.addingTimeInterval(Double(n) / 1000)
        let entry = InstantlyBlockEntry(id: Self.timeOrderedID(seed: seed, label: "block", counter: n, at: at), value: value, created: at)
        engagement.blockEntries.append(entry)
        stats.recordWrite(service: name, kind: "block_list_entry", key: value, payload: ["bl_value": value, "id": entry.id])
        return entry
    }

    func blockListRoute(_ r: SandboxRequest, route: String) -> SandboxResponse {
        let org = world.organization
        switch route {
        case "POST /api/v2/block-lists-entries":
            guard let body = ServiceKit.json(r.body) as? [String: Any] else { return Self.error(400, "body must be object") }
            if let extra = body.keys.sorted().first(where: { $0 != "bl_value" }) {
                return Self.error(400, "body must NOT have additional properties ('\(extra)')")
            }
            guard let raw = body["bl_value"] else { return Self.error(400, "body must have required property 'bl_value'") }
            guard let value = raw as? String else { return Self.error(400, "body/bl_value must be string") }
            guard Self.isBlockable(value.trimmingCharacters(in: .whitespaces).lowercased()) else {
                return Self.error(400, "bl_value must be a valid email address or domain")
            }
            return .json(200, addBlockEntry(value).json(organization: org))
        case "POST /api/v2/block-lists-entries/bulk-create":
            guard let body = ServiceKit.json(r.body) as? [String: Any] else { return Self.error(400, "body must be object") }
            guard let raw = body["bl_values"] else { return Self.error(400, "body must have required property 'bl_values'") }
            guard let values = raw as? [Any] else { return Self.error(400, "body/bl_values must be array") }
            if values.isEmpty { return Self.error(400, "body/bl_values must NOT have fewer than 1 items") }
            if values.count > 1000 { return Self.error(400, "body/bl_values must NOT have more than 1000 items") }
            for (i, v) in values.enumerated() where !(v is String) { return Self.error(400, "body/bl_values/\(i) must be string") }
            var items: [[String: Any]] = []
            var invalid = 0
            for v in values as! [String] {
                if Self.isBlockable(v.trimmingCharacters(in: .whitespaces).lowercased()) {
                    items.append(addBlockEntry(v).json(organization: org))
                } else {
                    invalid += 1
                }
            }
            return .json(200, ["items": items, "valid_count": items.count, "invalid_count": invalid])
        default:  // GET: `limit`, `starting_after`, `domains_only`, `search`; ordered by id (= time).
            if let bad = Self.checkLimit(r) { return bad }
            var items = engagement.blockEntries.sorted { $0.id < $1.id }
            if let d = r.queryValue("domains_only") {
                guard d == "true" || d == "false" else { return Self.error(400, "querystring/domains_only must be boolean") }
                if d == "true" { items = items.filter(\.isDomain) }
            }
            if let s = r.queryValue("search")?.lowercased(), !s.isEmpty { items = items.filter { $0.value.contains(s) } }
            if let after = r.queryValue("starting_after") { items = items.filter { $0.id > after } }
            let limit = Int(r.queryValue("limit") ?? "") ?? 100
            let page = Array(items.prefix(limit))
            return .json(200, listBody(page.map { $0.json(organization: org) }, more: items.count > limit, cursor: page.last?.id))
        }
    }
}
