import CMOBasics
import Foundation

// People records: assert (upsert) by a unique attribute, get by id, query with a filter.

extension AttioService {
    func objectNotFound(_ object: String) -> SandboxResponse {
        Self.error(404, code: "not_found", "Object with slug/ID \"\(object)\" not found.")
    }

    func isPeople(_ object: String) -> Bool { object == "people" || object == peopleObjectID }
    func isCompanies(_ object: String) -> Bool { object == "companies" || object == companiesObjectID }

    func recordJSON(_ r: AttioRecord, company: Bool = false) -> [String: Any] {
        var values: [String: Any] = [:]
        for slug in (company ? companyCatalog : catalog).sortedSlugs { values[slug] = r.values[slug] ?? [] }
        for (slug, v) in r.values where values[slug] == nil { values[slug] = v }
        return [
            "id": ["workspace_id": workspaceID, "object_id": company ? companiesObjectID : peopleObjectID, "record_id": r.id],
            "created_at": ServiceKit.iso8601(r.created),
            "web_url": "https://app.attio.com/sandbox/\(company ? "company" : "person")/\(r.id)/overview",
            "values": values,
        ]
    }

    /// `PUT /v2/objects/people/records?matching_attribute=…`: updates the record whose matching value
    /// exists, else creates one. The matching attribute (multi-select) only gains values; every other
    /// multi-select attribute sent is replaced; single-value attributes are overwritten.
    func assertRecord(_ r: SandboxRequest, object: String) -> SandboxResponse {
        let company = isCompanies(object)
        guard isPeople(object) || company else { return objectNotFound(object) }
        let catalog = company ? companyCatalog : self.catalog
        let store: ReferenceWritableKeyPath<AttioService, [AttioRecord]> = company ? \.companies : \.records
        asserts += 1
        if options.conflictEveryNthAssert > 0 && asserts % options.conflictEveryNthAssert == 0 {
            return Self.error(
                409, code: "concurrent_write_conflict", "A concurrent write to this record conflicted with the request. Please retry.")
        }
        guard let matching = r.queryValue("matching_attribute"), !matching.isEmpty else {
            return Self.error(400, code: "validation_type", "The query parameter \"matching_attribute\" is required.")
        }
        guard let attribute = catalog.attributes[matching] else {
            return Self.error(400, code: "value_not_found", "Cannot find attribute with slug/ID \"\(matching)\".")
        }
        guard attribute.unique else {
            return Self.error(400, code: "validation_type", "Attribute \"\(matching)\" is not unique and cannot be used to match records.")
        }
        guard let body = ServiceKit.json(r.body) as? [String: Any], let data = body["data"] as? [String: Any] else {
            return Self.validation(["data"], "Required")
        }
        guard let values = data["values"] as? [String: Any] else { return Self.validation(["data", "values"], "Required") }
        let at = tick()
        let parsed: [String: [[String: Any]]]
        switch parseValues(values, at: at, path: ["data", "values"], catalog: catalog) {
        case .success(let p): parsed = p
        case .failure(let e): return e.response
        }
        guard let wanted = parsed[matching], !wanted.isEmpty else {
            return Self.error(400, code: "validation_type", "The matching attribute \"\(matching)\" must have a value in data.values.")
        }
        let keys = Set(wanted.compactMap { Self.matchKey($0) })
        let hits = self[keyPath: store].indices.filter { i in
            (self[keyPath: store][i].values[matching] ?? []).contains { keys.contains(Self.matchKey($0) ?? "") }
        }
        if hits.count > 1 {
            return Self.error(400, code: "multiple_match_results", "Multiple records match the values of \"\(matching)\".")
        }
        let index: Int
        let outcome: String
        if let i = hits.first {
            index = i
            outcome = "updated"
            for (slug, new) in parsed {
                if slug == matching {
                    let have = Set((self[keyPath: store][i].values[slug] ?? []).compactMap { Self.matchKey($0) })
                    self[keyPath: store][i].values[slug, default: []] += new.filter { !have.contains(Self.matchKey($0) ?? "") }
                } else {
                    self[keyPath: store][i].values[slug] = new
                }
            }
        } else {
            let record = AttioRecord(
                id: ServiceKit.uuid(seed: seed, "attio-\(company ? "company" : "record")-\(self[keyPath: store].count)"), created: at,
                values: parsed)
            self[keyPath: store].append(record)
            index = self[keyPath: store].count - 1
            outcome = "created"
        }
        stats.recordWrite(
            service: name, kind: company ? "company_assert" : "person_assert",
            key: "\(keys.sorted().joined(separator: ",")) @\(writeClock)",
            payload: ["record_id": self[keyPath: store][index].id, "matching_attribute": matching, "outcome": outcome])
        return .json(200, ["data": recordJSON(self[keyPath: store][index], company: company)])
    }

    /// The comparable form of a stored value (normalised email, else the text value).
    static func matchKey(_ v: [String: Any]) -> String? {
        (v["email_address"] as? String) ?? (v["domain"] as? String) ?? (v["value"] as? String) ?? (v["phone_number"] as? String)
    }

    func getRecord(object: String, id: String) -> SandboxResponse {
        let company = isCompanies(object)
        guard isPeople(object) || company else { return objectNotFound(object) }
        guard let rec = (company ? companies : records).first(where: { $0.id == id }) else {
            return Self.error(404, code: "not_found", "Record with ID \"\(id)\" not found.")
        }
        return .json(200, ["data": recordJSON(rec, company: company)])
    }

    /// `POST /v2/objects/people/records/query` with `{filter, limit (default 500), offset}`. Filters:
    /// `{"email_addresses": "a@b.c"}` (implicit equality), `{"slug": {"$eq"|"$contains": x}}`,
    /// `{"email_addresses": {"email_address": {"$eq": x}}}`, `record_id`, and `$and`/`$or` lists.
    func queryRecords(_ r: SandboxRequest, object: String) -> SandboxResponse {
        guard isPeople(object) else { return objectNotFound(object) }
        let body = (ServiceKit.json(r.body) as? [String: Any]) ?? [:]
        let limit = ServiceKit.int(body["limit"]) ?? 500
        let offset = ServiceKit.int(body["offset"]) ?? 0
        guard limit >= 0, offset >= 0 else { return Self.validation(["limit"], "Expected a non-negative integer") }
        var matched: [AttioRecord] = []
        let filter = (body["filter"] as? [String: Any]) ?? [:]
        for rec in records {
            switch matches(rec, filter) {
            case .success(true): matched.append(rec)
            case .success(false): break
            case .failure(let e): return Self.error(400, code: "filter_error", e.message)
            }
        }
        let page = matched.dropFirst(offset).prefix(limit)
        return .json(200, ["data": page.map { recordJSON($0) }])
    }

    private func matches(_ rec: AttioRecord, _ filter: [String: Any]) -> Result<Bool, AttioValueError> {
        for (key, cond) in filter {
            let ok: Bool
            switch key {
            case "$and", "$or":
                guard let subs = cond as? [[String: Any]] else { return .failure(.init("\(key) expects an array of filters.")) }
                var results: [Bool] = []
                for s in subs {
                    switch matches(rec, s) {
                    case .success(let b): results.append(b)
                    case .failure(let e): return .failure(e)
                    }
                }
                ok = key == "$and" ? !results.contains(false) : results.contains(true)
            case "$not":
                guard let sub = cond as? [String: Any] else { return .failure(.init("$not expects a filter.")) }
                switch matches(rec, sub) {
                case .success(let b): ok = !b
                case .failure(let e): return .failure(e)
                }
            case "record_id":
                ok = Self.compare(rec.id, cond)
            default:
                guard catalog.attributes[key] != nil || rec.values[key] != nil else {
                    return .failure(.init("Unknown attribute slug \"\(key)\" in filter."))
                }
                let stored = (rec.values[key] ?? []).flatMap { v -> [String] in
                    [v["email_address"], v["value"], v["full_name"], v["phone_number"], v["locality"]]
                        .compactMap { $0.map { "\($0)" } }
                }
                if !options.implicitEmailFilter, key == "email_addresses", !(cond is [String: Any]) {
                    return .failure(.init("Filter on \"email_addresses\" needs an operator such as {\"$eq\": …}."))
                }
                var c = cond
                if let o = cond as? [String: Any], o.count == 1, let (k, inner) = o.first, !k.hasPrefix("$") { c = inner }
                ok = stored.contains { Self.compare($0, c) }
            }
            if !ok { return .success(false) }
        }
        return .success(true)
    }

    /// Equality (implicit or `$eq`, case-insensitive for emails), `$contains`, `$starts_with`, `$in`.
    static func compare(_ value: String, _ cond: Any) -> Bool {
        if let o = cond as? [String: Any] {
            return o.allSatisfy { op, x in
                let s = "\(x)"
                switch op {
                case "$eq": return value.lowercased() == s.lowercased()
                case "$contains": return value.lowercased().contains(s.lowercased())
                case "$starts_with": return value.lowercased().hasPrefix(s.lowercased())
                case "$ends_with": return value.lowercased().hasSuffix(s.lowercased())
                case "$in": return ((x as? [Any]) ?? []).contains { "\($0)".lowercased() == value.lowercased() }
                default: return false
                }
            }
        }
        return value.lowercased() == "\(cond)".lowercased()
    }
}
