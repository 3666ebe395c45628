import Foundation

/// One attribute of the people object.
struct AttioAttribute {
    var slug: String
    /// Attio's attribute type: `email-address`, `personal-name`, `text`, `number`, `checkbox`, `phone-number`, `location`, `record-reference`.
    var type: String
    var multi: Bool
    var unique: Bool
    /// One of Attio's standard attributes (false: made by the workspace).
    var system = true
    var writable = true
    /// `status` and `select` attributes: the titles of their options.
    var options: [String] = []
}

/// The people object's attributes: Attio's standard ones plus the configured custom ones.
struct AttioCatalog {
    let attributes: [String: AttioAttribute]

    init(custom: [String: String]) {
        var a: [String: AttioAttribute] = [:]
        func add(_ slug: String, _ type: String, multi: Bool = false, unique: Bool = false) {
            a[slug] = AttioAttribute(slug: slug, type: type, multi: multi, unique: unique)
        }
        add("email_addresses", "email-address", multi: true, unique: true)
        add("name", "personal-name")
        add("phone_numbers", "phone-number", multi: true)
        add("primary_location", "location")
        add("company", "record-reference")
        for s in ["description", "job_title", "avatar_url", "linkedin", "twitter", "facebook", "instagram", "angellist"] { add(s, "text") }
        for (slug, type) in custom { a[slug] = AttioAttribute(slug: slug, type: type, multi: false, unique: false, system: false) }
        attributes = a
    }

    init(_ attributes: [String: AttioAttribute]) { self.attributes = attributes }

    /// The companies object's standard attributes (`domains` is the unique one to assert by).
    static var companies: AttioCatalog {
        var a: [String: AttioAttribute] = [:]
        a["domains"] = AttioAttribute(slug: "domains", type: "domain", multi: true, unique: true)
        a["name"] = AttioAttribute(slug: "name", type: "text", multi: false, unique: false)
        for s in ["description", "twitter", "linkedin"] { a[s] = AttioAttribute(slug: s, type: "text", multi: false, unique: false) }
        a["team"] = AttioAttribute(slug: "team", type: "record-reference", multi: true, unique: false)
        return AttioCatalog(a)
    }

    var sortedSlugs: [String] { attributes.keys.sorted() }
}

struct AttioRecord {
    var id: String
    var created: Date
    /// Attribute slug → stored values (each in its read shape).
    var values: [String: [[String: Any]]]

    var emails: [String] { (values["email_addresses"] ?? []).compactMap { $0["email_address"] as? String } }
}

struct AttioList {
    var id: String
    var name: String
    var slug: String
    /// The list's own attributes (entry values), by slug.
    var attributes: [String: AttioAttribute] = [:]
}

struct AttioEntry {
    var id: String
    var listID: String
    var parentRecordID: String
    var parentObject: String
    var created: Date
    var values: [String: [[String: Any]]]
}

struct AttioNote {
    var id: String
    var parentObject: String
    var parentRecordID: String
    var title: String
    var format: String
    var content: String
    var meetingID: String?
    var created: Date
}

extension AttioService {
    /// A value as stored and read back, or an error message.
    func normalise(_ raw: Any, attribute: AttioAttribute, at: Date) -> Result<[String: Any], AttioValueError> {
        var v: [String: Any] = [
            "active_from": ServiceKit.iso8601(at), "active_until": NSNull(),
            "created_by_actor": ["type": "api-token", "id": actorID], "attribute_type": attribute.type,
        ]
        switch attribute.type {
        case "email-address":
            let text = (raw as? String) ?? ((raw as? [String: Any])?["email_address"] as? String)
            guard let original = text?.trimmingCharacters(in: .whitespaces), original.contains("@"),
                InstantlyService.isValidEmail(original.lowercased())
            else { return .failure(.init("Invalid email address for attribute \"\(attribute.slug)\".")) }
            let email = original.lowercased()
            let parts = email.split(separator: "@").map(String.init)
            v["email_address"] = email
            v["original_email_address"] = original
            v["email_domain"] = parts[1]
            v["email_root_domain"] = AttioPublicSuffix.rootDomain(parts[1])
            v["email_local_specifier"] = parts[0].split(separator: "+").first.map(String.init) ?? parts[0]
        case "personal-name":
            if let s = raw as? String {
                let pieces = s.split(separator: ",", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                let (first, last) = pieces.count == 2 ? (pieces[1], pieces[0]) : (s.trimmingCharacters(in: .whitespaces), "")
                v["first_name"] = first
                v["last_name"] = last
                v["full_name"] = [first, last].filter { !$0.isEmpty }.joined(separator: " ")
            } else if let o = raw as? [String: Any], let f = o["first_name"] as? String, let l = o["last_name"] as? String,
                let full = o["full_name"] as? String
            {
                v["first_name"] = f
                v["last_name"] = l
                v["full_name"] = full
            } else {
                return .failure(.init("A personal-name needs first_name, last_name and full_name in object form."))
            }
        case "domain":
            let text = (raw as? String) ?? ((raw as? [String: Any])?["domain"] as? String)
            guard let host = text?.trimmingCharacters(in: .whitespaces).lowercased(), host.contains("."), !host.contains("@"),
                !host.contains("/")
            else {
                return .failure(.init("Invalid domain for attribute \"\(attribute.slug)\"."))
            }
            v["domain"] = host
            v["root_domain"] = AttioPublicSuffix.rootDomain(host)
        case "status", "select":
            let key = attribute.type == "status" ? "status" : "option"
            let title = (raw as? String) ?? ((raw as? [String: Any])?[key] as? String)
            guard let title, let match = attribute.options.first(where: { $0 == title }) else {
                return .failure(
                    .init(
                        "Cannot find \(key) \"\(title ?? "\(raw)")\" for attribute \"\(attribute.slug)\" (\(attribute.options.joined(separator: ", "))).",
                        code: "value_not_found"))
            }
            v[key] = ["title": match, "is_archived": false]
        case "number":
            let n = (raw as? [String: Any])?["value"] ?? raw
            guard n is NSNumber, !ServiceKit.isBool(n) else { return .failure(.init("Expected a number for \"\(attribute.slug)\".")) }
            v["value"] = n
        case "checkbox":
            let b = (raw as? [String: Any])?["value"] ?? raw
            guard let flag = ServiceKit.bool(b) else { return .failure(.init("Expected a boolean for \"\(attribute.slug)\".")) }
            v["value"] = flag
        case "phone-number":
            let text = (raw as? String) ?? ((raw as? [String: Any])?["original_phone_number"] as? String)
            guard let phone = text else { return .failure(.init("Invalid phone number for \"\(attribute.slug)\".")) }
            v["original_phone_number"] = phone
            v["phone_number"] = phone.filter { $0.isNumber || $0 == "+" }
            v["country_code"] = NSNull()
        case "location":
            if let s = raw as? String {
                v["locality"] = s
            } else if let o = raw as? [String: Any] {
                for (k, x) in o { v[k] = x }
            } else {
                return .failure(.init("Invalid location for \"\(attribute.slug)\"."))
            }
        case "record-reference":
            // By id, or by a matching attribute of the target (`domains` of companies); either must find
            // exactly one record (linking-referenced-records).
            guard let o = raw as? [String: Any], let target = o["target_object"] as? String else {
                return .failure(.init("Invalid record reference for \"\(attribute.slug)\": target_object is required."))
            }
            let pool: [AttioRecord]
            if isCompanies(target) {
                pool = companies
            } else if isPeople(target) {
                pool = records
            } else {
                return .failure(.init("Cannot find object with slug/ID \"\(target)\".", code: "value_not_found"))
            }
            var found: [AttioRecord] = []
            if let id = o["target_record_id"] as? String {
                found = pool.filter { $0.id == id }
            } else if let (slug, want) = o.first(where: { $0.key != "target_object" }) {
                let wanted = ((want as? [Any]) ?? [want]).compactMap { w -> String? in
                    let object = w as? [String: Any]
                    let text = (w as? String) ?? (object?["domain"] as? String) ?? (object?["email_address"] as? String)
                    return text?.lowercased()
                }
                found = pool.filter { rec in (rec.values[slug] ?? []).contains { wanted.contains((Self.matchKey($0) ?? "").lowercased()) } }
            }
            guard found.count == 1 else {
                return .failure(
                    .init(
                        found.isEmpty
                            ? "Cannot find a \(target) record to reference for \"\(attribute.slug)\"."
                            : "More than one \(target) record matches the reference for \"\(attribute.slug)\".",
                        code: found.isEmpty ? "value_not_found" : "multiple_match_results"))
            }
            v["target_object"] = isCompanies(target) ? "companies" : "people"
            v["target_record_id"] = found[0].id
        default:  // text
            let t = (raw as? [String: Any])?["value"] ?? raw
            guard let s = t as? String else { return .failure(.init("Expected a string for \"\(attribute.slug)\".")) }
            v["value"] = s
        }
        return .success(v)
    }

    /// The `values` of a write as stored values per slug, or the error response.
    func parseValues(_ values: [String: Any], at: Date, path: [String], catalog: AttioCatalog? = nil) -> Result<
        [String: [[String: Any]]], AttioValueError
    > {
        let catalog = catalog ?? self.catalog
        var out: [String: [[String: Any]]] = [:]
        for (slug, raw) in values.sorted(by: { $0.key < $1.key }) {
            var attribute = catalog.attributes[slug]
            if attribute == nil {
                guard options.acceptUnknownAttributes else {
                    return .failure(.init("Cannot find attribute with slug/ID \"\(slug)\".", code: "value_not_found"))
                }
                attribute = AttioAttribute(slug: slug, type: "text", multi: false, unique: false)
            }
            let items: [Any]
            if raw is NSNull {
                items = []
            } else if let array = raw as? [Any] {
                items = array
            } else if !attribute!.multi {
                items = [raw]
            } else {
                return .failure(.init("Multi-select attribute \"\(slug)\" expects an array of values."))
            }
            if !attribute!.multi && items.count > 1 {
                return .failure(.init("Multiple values were provided for single-value attribute \"\(slug)\"."))
            }
            var stored: [[String: Any]] = []
            for item in items {
                switch normalise(item, attribute: attribute!, at: at) {
                case .success(let v): stored.append(v)
                case .failure(let e): return .failure(e)
                }
            }
            out[slug] = stored
        }
        return .success(out)
    }
}

/// Why a value was refused: a 400 with this code and message.
struct AttioValueError: Error {
    var message: String
    var code = "validation_type"
    init(_ message: String, code: String = "validation_type") {
        self.message = message
        self.code = code
    }

    var response: SandboxResponse {
        code == "validation_type"
            ? AttioService.validation(["data", "values"], message)
            : AttioService.error(400, code: code, message)
    }
}
