import CMOBasics
import Foundation

/// The registrable ("root") domain of a host by the Public Suffix List: `acme.co.uk` → `acme.co.uk`,
/// `mail.acme.co.uk` → `acme.co.uk`, `acme.io` → `acme.io` (Attio's `email_root_domain`, `root_domain`).
/// Root domains by the ICANN section of the Public Suffix List (https://publicsuffix.org/list/, Mozilla
/// Public License 2.0), from Debian's publicsuffix package: `icannRules` is `public-suffix-icann.txt`
/// beside this file, one rule a line (`*.` wildcards, `!` exceptions), compiled in by Plugins/EmbedText.
/// Regenerate it from /usr/share/publicsuffix/public_suffix_list.dat.
enum AttioPublicSuffix {
    struct Rules {
        var exact: Set<String> = []
        var wildcard: Set<String> = []
        var exception: Set<String> = []
    }

    static let rules: Rules = {
        var r = Rules()
        for line in icannRules.split(separator: "\n") {
            let rule = line.trimmingCharacters(in: .whitespaces).lowercased()
            if rule.isEmpty { continue }
            if rule.hasPrefix("!") {
                r.exception.insert(String(rule.dropFirst()))
            } else if rule.hasPrefix("*.") {
                r.wildcard.insert(String(rule.dropFirst(2)))
            } else {
                r.exact.insert(rule)
            }
        }
        return r
    }()

    /// The public suffix of `host` (the default rule `*` when no rule matches: the last label).
    static func publicSuffix(_ host: String) -> String {
        let labels = host.lowercased().split(separator: ".").map(String.init)
        guard !labels.isEmpty else { return host }
        let r = rules
        for i in 0..<labels.count {
            let candidate = labels[i...].joined(separator: ".")
            if r.exception.contains(candidate) { return labels[(i + 1)...].joined(separator: ".") }
            if r.exact.contains(candidate) { return candidate }
            if i + 1 < labels.count, r.wildcard.contains(labels[(i + 1)...].joined(separator: ".")) { return candidate }
        }
        return labels.last!
    }

    /// The public suffix and one more label; the host itself when it is a public suffix.
    static func rootDomain(_ host: String) -> String {
        let host = host.lowercased()
        let suffix = publicSuffix(host)
        guard host.count > suffix.count, host.hasSuffix("." + suffix) else { return host }
        let head = host.dropLast(suffix.count + 1)
        let last = head.split(separator: ".").last.map(String.init) ?? String(head)
        return last + "." + suffix
    }
}

/// An attribute as `GET …/attributes` lists it (Attio's Attribute shape, trimmed to what matters).
extension AttioService {
    func attributeJSON(_ a: AttioAttribute, parent: (kind: String, id: String)) -> [String: Any] {
        let idKey = parent.kind == "object" ? "object_id" : "list_id"
        return [
            "id": [
                "workspace_id": workspaceID, idKey: parent.id,
                "attribute_id": ServiceKit.uuid(seed: seed, "attio-attr-\(parent.id)-\(a.slug)"),
            ],
            "title": a.slug.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: " "),
            "description": NSNull(), "api_slug": a.slug, "type": a.type, "is_system_attribute": a.system,
            "is_writable": a.writable, "is_required": false, "is_unique": a.unique, "is_multiselect": a.multi,
            "is_default_value_enabled": false, "is_archived": false, "default_value": NSNull(),
            "relationship": NSNull(), "created_at": ServiceKit.iso8601(options.epoch),
            "config": [
                "currency": ["default_currency_code": NSNull(), "display_type": NSNull()],
                "record_reference": ["allowed_object_ids": a.type == "record-reference" ? [companiesObjectID] : []],
            ],
        ]
    }

    /// `GET /v2/objects/{object}/attributes` and `GET /v2/lists/{list}/attributes` (`limit`, `offset`).
    func listAttributes(_ r: SandboxRequest, object: String?, list: String?) -> SandboxResponse {
        let limit = r.queryValue("limit").map { Int($0) ?? -1 } ?? 500
        let offset = r.queryValue("offset").map { Int($0) ?? -1 } ?? 0
        guard limit >= 1, offset >= 0 else { return Self.validation(["limit"], "Expected a positive integer") }
        let attributes: [AttioAttribute]
        let parent: (String, String)
        if let object {
            if isPeople(object) {
                attributes = catalog.attributes.values.sorted { $0.slug < $1.slug }
                parent = ("object", peopleObjectID)
            } else if isCompanies(object) {
                attributes = companyCatalog.attributes.values.sorted { $0.slug < $1.slug }
                parent = ("object", companiesObjectID)
            } else {
                return objectNotFound(object)
            }
        } else {
            guard let l = self.list(list ?? "") else { return listNotFound(list ?? "") }
            attributes = l.attributes.values.sorted { $0.slug < $1.slug }
            parent = ("list", l.id)
        }
        return .json(200, ["data": attributes.dropFirst(offset).prefix(limit).map { attributeJSON($0, parent: parent) }])
    }

    /// `GET /v2/objects/{object}/records/{record_id}/entries`: the list entries whose parent is the record.
    func recordEntries(_ r: SandboxRequest, object: String, id: String) -> SandboxResponse {
        guard isPeople(object) || isCompanies(object) else { return objectNotFound(object) }
        guard records.contains(where: { $0.id == id }) || companies.contains(where: { $0.id == id }) else {
            return Self.error(404, code: "not_found", "Record with ID \"\(id)\" not found.")
        }
        let limit = r.queryValue("limit").map { Int($0) ?? -1 } ?? 100
        let offset = r.queryValue("offset").map { Int($0) ?? -1 } ?? 0
        guard limit >= 1, limit <= 1000, offset >= 0 else { return Self.validation(["limit"], "Expected an integer between 1 and 1000") }
        let mine = entries.filter { $0.parentRecordID == id }.dropFirst(offset).prefix(limit)
        return .json(
            200,
            [
                "data": mine.map { e -> [String: Any] in
                    let l = lists.first { $0.id == e.listID }
                    return [
                        "list_id": e.listID, "list_api_slug": l?.slug ?? "", "entry_id": e.id,
                        "created_at": ServiceKit.iso8601(e.created),
                    ]
                }
            ])
    }

    /// Duplicates a bench counts: emails held by more than one person, parents with more than one
    /// entry in a list, records with more than one note of the same title and content (or more than
    /// one note carrying the same `cmo-key:` line).
    func duplicateCounts() -> [String: Int] {
        var emailOwners: [String: Int] = [:]
        for r in records { for e in Set(r.emails) { emailOwners[e, default: 0] += 1 } }
        var entryCount: [String: Int] = [:]
        for e in entries { entryCount["\(e.listID) \(e.parentRecordID)", default: 0] += 1 }
        var noteCount: [String: Int] = [:]
        var keyCount: [String: Int] = [:]
        var notesPerRecord: [String: Int] = [:]
        for n in notes {
            noteCount["\(n.parentRecordID) \(n.title) \(n.content)", default: 0] += 1
            notesPerRecord[n.parentRecordID, default: 0] += 1
            if let line = n.content.split(separator: "\n").first(where: { $0.hasPrefix("cmo-key: ") }) {
                keyCount["\(n.parentRecordID) \(line)", default: 0] += 1
            }
        }
        func extra(_ d: [String: Int]) -> Int { d.values.reduce(0) { $0 + max(0, $1 - 1) } }
        return [
            "duplicate_people": extra(emailOwners), "duplicate_list_entries": extra(entryCount),
            "duplicate_notes": max(extra(noteCount), extra(keyCount)),
            "records_with_several_notes": notesPerRecord.values.filter { $0 > 1 }.count,
        ]
    }
}
