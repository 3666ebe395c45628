import Foundation

/// One attribute of the people object.
struct AttioAttribute {
    var slug: String
    /// Attio's attribute type: `email-address`, `personal-name`, `text`, `number`, `checkbox`, `phone-number`, `location`, `record-reference`.
    var type: String
    var multi: Bool
    var unique: Bool
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
        for (slug, type) in custom { add(slug, type) }
        attributes = a
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
            let labels = parts[1].split(separator: ".")
            v["email_address"] = email
            v["original_email_address"] = original
            v["email_domain"] = parts[1]
            v["email_root_domain"] = labels.suffix(2).joined(separator: ".")
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
            guard let o = raw as? [String: Any] else { return .failure(.init("Invalid record reference for \"\(attribute.slug)\".")) }
            for (k, x) in o { v[k] = x }
        default:  // text
            let t = (raw as? [String: Any])?["value"] ?? raw
            guard let s = t as? String else { return .failure(.init("Expected a string for \"\(attribute.slug)\".")) }
            v["value"] = s
        }
        return .success(v)
    }

    /// The `values` of a write as stored values per slug, or the error response.
    func parseValues(_ values: [String: Any], at: Date, path: [String]) -> Result<[String: [[String: Any]]], AttioValueError> {
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
