import CMOBasics
import Foundation

// Lists and list entries: POST always appends an entry; PUT asserts by parent (update the one entry,
// create when none, 400 multiple_match_results when several). Entry values follow the list's attributes.

extension AttioService {
    func list(_ idOrSlug: String) -> AttioList? { lists.first { $0.id == idOrSlug || $0.slug == idOrSlug } }

    func listNotFound(_ idOrSlug: String) -> SandboxResponse {
        Self.error(404, code: "not_found", "List with slug/ID \"\(idOrSlug)\" not found.")
    }

    func listJSON(_ l: AttioList) -> [String: Any] {
        [
            "id": ["workspace_id": workspaceID, "list_id": l.id], "api_slug": l.slug, "name": l.name,
            "parent_object": ["people"], "workspace_access": "full-access", "workspace_member_access": [],
            "created_by_actor": ["type": "system", "id": NSNull()], "created_at": ServiceKit.iso8601(options.epoch),
        ]
    }

    func entryJSON(_ e: AttioEntry) -> [String: Any] {
        [
            "id": ["workspace_id": workspaceID, "list_id": e.listID, "entry_id": e.id],
            "parent_record_id": e.parentRecordID, "parent_object": e.parentObject,
            "created_at": ServiceKit.iso8601(e.created), "entry_values": e.values,
        ]
    }

    /// Entry values, checked against the list's attributes: an unknown slug is 400 `value_not_found`
    /// (as Attio does), a value of the wrong type 400 `validation_type`.
    private func entryValues(_ raw: [String: Any], list: AttioList, at: Date) -> Result<[String: [[String: Any]]], AttioValueError> {
        parseValues(raw, at: at, path: ["data", "entry_values"], catalog: AttioCatalog(list.attributes))
    }

    /// `POST` (create) or `PUT` (assert by parent) `/v2/lists/{list}/entries`.
    func writeEntry(_ r: SandboxRequest, list idOrSlug: String, assert: Bool) -> SandboxResponse {
        guard let l = list(idOrSlug) else { return listNotFound(idOrSlug) }
        guard let body = ServiceKit.json(r.body) as? [String: Any], let data = body["data"] as? [String: Any] else {
            return Self.validation(["data"], "Required")
        }
        guard let parent = data["parent_record_id"] as? String else { return Self.validation(["data", "parent_record_id"], "Required") }
        guard let parentObject = data["parent_object"] as? String else { return Self.validation(["data", "parent_object"], "Required") }
        guard let raw = data["entry_values"] as? [String: Any] else { return Self.validation(["data", "entry_values"], "Required") }
        guard isPeople(parentObject) else { return objectNotFound(parentObject) }
        guard records.contains(where: { $0.id == parent }) else {
            return Self.error(404, code: "not_found", "Record with ID \"\(parent)\" not found.")
        }
        let at = tick()
        let values: [String: [[String: Any]]]
        switch entryValues(raw, list: l, at: at) {
        case .success(let v): values = v
        case .failure(let e): return e.response
        }
        let existing = entries.indices.filter { entries[$0].listID == l.id && entries[$0].parentRecordID == parent }
        if assert && existing.count > 1 {
            return Self.error(400, code: "multiple_match_results", "Multiple entries for record \"\(parent)\" exist in list \"\(l.slug)\".")
        }
        if assert, let i = existing.first {
            for (slug, v) in values { entries[i].values[slug] = v }
            stats.recordWrite(
                service: name, kind: "list_entry_update", key: "\(l.id) \(parent) @\(writeClock)",
                payload: ["list_id": l.id, "parent_record_id": parent, "entry_id": entries[i].id, "outcome": "updated"])
            return .json(200, ["data": entryJSON(entries[i])])
        }
        let entry = AttioEntry(
            id: ServiceKit.uuid(seed: seed, "attio-entry-\(entries.count)"), listID: l.id, parentRecordID: parent,
            parentObject: "people", created: at, values: values)
        entries.append(entry)
        stats.recordWrite(
            service: name, kind: "list_entry", key: "\(l.id) \(parent)",
            payload: ["list_id": l.id, "parent_record_id": parent, "entry_id": entry.id, "outcome": "created", "method": r.method])
        return .json(200, ["data": entryJSON(entry)])
    }

    /// `POST /v2/lists/{list}/entries/query` with `{filter: {parent_record_id?}, limit, offset}`.
    func queryEntries(_ r: SandboxRequest, list idOrSlug: String) -> SandboxResponse {
        guard let l = list(idOrSlug) else { return listNotFound(idOrSlug) }
        let body = (ServiceKit.json(r.body) as? [String: Any]) ?? [:]
        let filter = (body["filter"] as? [String: Any]) ?? [:]
        var items = entries.filter { $0.listID == l.id }
        if let p = filter["parent_record_id"] { items = items.filter { Self.compare($0.parentRecordID, p) } }
        let limit = ServiceKit.int(body["limit"]) ?? 500
        let offset = ServiceKit.int(body["offset"]) ?? 0
        return .json(200, ["data": items.dropFirst(max(0, offset)).prefix(max(0, limit)).map(entryJSON)])
    }
}
