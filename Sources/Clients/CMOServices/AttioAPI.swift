import CMOBasics
import CMOHTTP
import Foundation

/// An attribute of an Attio object or list, as `GET …/attributes` lists it.
public struct AttioAttributeInfo: Sendable, Equatable {
    public var slug: String
    /// `text`, `email-address`, `personal-name`, `record-reference`, `number`, `select`, `status`, …
    public var type: String
    public var multi: Bool
    public var unique: Bool
    public var writable: Bool
    public init(slug: String, type: String, multi: Bool = false, unique: Bool = false, writable: Bool = true) {
        self.slug = slug
        self.type = type
        self.multi = multi
        self.unique = unique
        self.writable = writable
    }
}

/// A list, as `GET /v2/lists/{list}` answers.
public struct AttioListInfo: Sendable {
    public var id: String
    public var slug: String
    public var name: String
    public var parentObjects: [String]
}

/// What one write answered: the id it produced, or Attio's refusal.
public enum AttioWriteOutcome: Sendable {
    case done(id: String, json: JSONValue)
    /// 4xx other than 401/403/404-of-the-target: Attio's code and message.
    case rejected(status: Int, code: String, message: String)
    /// The request failed below HTTP or with a 5xx after it may have landed.
    case unknown(HTTPError)
}

/// Attio REST v2, the calls sync-attio makes. Asserts (`PUT`) are idempotent and retried by the
/// client; `POST /v2/notes` is not (notes have no idempotency key), so its transport failures come
/// back as `.unknown` for the writer to resolve by listing the record's notes.
public final class AttioAPI {
    public let endpoint: ServiceEndpoint
    public let http: HTTPClient
    /// Requests sent, by kind (`assert`, `entry`, `note`, `notes_list`, `attributes`, `list`).
    public private(set) var requests: [String: Int] = [:]

    /// When set (`--check`), only reads are sent: anything else is refused before it leaves (`ReadOnlyGuard`).
    public var readOnly = false

    public init(endpoint: ServiceEndpoint, http: HTTPClient, readOnly: Bool = false) {
        self.endpoint = endpoint
        self.http = http
        self.readOnly = readOnly
    }

    /// Every read goes out here.
    func send(_ request: HTTPRequest) throws -> HTTPResponse {
        try ReadOnlyGuard.check(request, readOnly: readOnly)
        return try http.perform(request)
    }

    /// What a read-only client answers for a batch of writes instead of sending it: each refused.
    func refusedIfReadOnly(_ requests: [HTTPRequest]) -> [AttioWriteOutcome]? {
        guard readOnly else { return nil }
        return requests.map { .rejected(status: 0, code: "read_only", message: ReadOnlyViolation(method: $0.method, url: $0.url).description) }
    }

    // MARK: - Reads

    /// `GET /v2/objects/{object}/attributes` (or `/v2/lists/{list}/attributes`): slug → attribute.
    /// 404 → exit 78 naming the object or list.
    public func attributes(ofObject object: String) throws -> [String: AttioAttributeInfo] {
        try attributes(path: "/v2/objects/\(ServiceEndpoint.encode(object))/attributes", what: "Attio object '\(object)'")
    }

    public func attributes(ofList list: String) throws -> [String: AttioAttributeInfo] {
        try attributes(path: "/v2/lists/\(ServiceEndpoint.encode(list))/attributes", what: "Attio list '\(list)'")
    }

    private func attributes(path: String, what: String) throws -> [String: AttioAttributeInfo] {
        var found: [String: AttioAttributeInfo] = [:]
        var offset = 0
        for _ in 0..<100 {
            requests["attributes", default: 0] += 1
            let response = try send(endpoint.request("GET", path, query: [("limit", "100"), ("offset", String(offset))]))
            if response.status == 404 { throw StageFailure(.config, "\(what) does not exist (404): \(Self.message(response))") }
            let json = try Self.decode(response, what: "GET \(path)")
            let items = json["data"]?.arrayValue ?? []
            for item in items {
                guard let slug = item["api_slug"]?.stringValue else { continue }
                if item["is_archived"]?.boolValue == true { continue }
                found[slug] = AttioAttributeInfo(
                    slug: slug, type: item["type"]?.stringValue ?? "text", multi: item["is_multiselect"]?.boolValue ?? false,
                    unique: item["is_unique"]?.boolValue ?? false, writable: item["is_writable"]?.boolValue ?? true)
            }
            guard items.count == 100 else { break }
            offset += items.count
        }
        return found
    }

    /// `GET /v2/lists/{list}`; 404 → exit 78 naming the list.
    public func list(_ idOrSlug: String) throws -> AttioListInfo {
        requests["list", default: 0] += 1
        let path = "/v2/lists/\(ServiceEndpoint.encode(idOrSlug))"
        let response = try send(endpoint.request("GET", path))
        if response.status == 404 {
            throw StageFailure(.config, "Attio list '\(idOrSlug)' does not exist (404): check --list (an id or api_slug)")
        }
        let data = try Self.decode(response, what: "GET \(path)")["data"] ?? .null
        return AttioListInfo(
            id: data["id"]?["list_id"]?.stringValue ?? idOrSlug, slug: data["api_slug"]?.stringValue ?? idOrSlug,
            name: data["name"]?.stringValue ?? idOrSlug, parentObjects: (data["parent_object"]?.arrayValue ?? []).compactMap(\.stringValue))
    }

    /// The notes of a record (`GET /v2/notes?parent_object=&parent_record_id=`, 50 a page): id and content.
    public func notes(object: String, recordID: String) throws -> [(id: String, title: String, content: String)] {
        var found: [(String, String, String)] = []
        var offset = 0
        for _ in 0..<200 {
            requests["notes_list", default: 0] += 1
            let response = try send(
                endpoint.request(
                    "GET", "/v2/notes",
                    query: [("parent_object", object), ("parent_record_id", recordID), ("limit", "50"), ("offset", String(offset))]))
            let json = try Self.decode(response, what: "GET /v2/notes")
            let items = json["data"]?.arrayValue ?? []
            for n in items {
                guard let id = n["id"]?["note_id"]?.stringValue else { continue }
                let content = n["content_plaintext"]?.stringValue ?? n["content_markdown"]?.stringValue ?? ""
                found.append((id, n["title"]?.stringValue ?? "", content))
            }
            guard items.count == 50 else { break }
            offset += 50
        }
        return found
    }

    // MARK: - Writes

    /// `PUT /v2/objects/{object}/records?matching_attribute=…` for each body, at once (paced).
    public func assertRecords(object: String, matching: String, bodies: [JSONValue]) -> [AttioWriteOutcome] {
        requests["assert", default: 0] += bodies.count
        let requests = bodies.map {
            endpoint.request(
                "PUT", "/v2/objects/\(ServiceEndpoint.encode(object))/records", query: [("matching_attribute", matching)],
                body: $0.encoded(), retryable: true)
        }
        if let refused = refusedIfReadOnly(requests) { return refused }
        return http.perform(requests).map { Self.outcome($0, id: { $0["id"]?["record_id"]?.stringValue }) }
    }

    /// `PUT /v2/lists/{list}/entries` (assert by parent) for each body, at once.
    public func assertEntries(list: String, bodies: [JSONValue]) -> [AttioWriteOutcome] {
        requests["entry", default: 0] += bodies.count
        let requests = bodies.map {
            endpoint.request("PUT", "/v2/lists/\(ServiceEndpoint.encode(list))/entries", body: $0.encoded(), retryable: true)
        }
        if let refused = refusedIfReadOnly(requests) { return refused }
        return http.perform(requests).map { Self.outcome($0, id: { $0["id"]?["entry_id"]?.stringValue }) }
    }

    /// `POST /v2/notes` for each body, at once. Not retried after it may have landed.
    public func createNotes(bodies: [JSONValue]) -> [AttioWriteOutcome] {
        requests["note", default: 0] += bodies.count
        let requests = bodies.map { endpoint.request("POST", "/v2/notes", body: $0.encoded(), retryable: false) }
        if let refused = refusedIfReadOnly(requests) { return refused }
        return http.perform(requests).map { Self.outcome($0, id: { $0["id"]?["note_id"]?.stringValue }) }
    }

    static func outcome(_ result: Result<HTTPResponse, HTTPError>, id: (JSONValue) -> String?) -> AttioWriteOutcome {
        switch result {
        case .failure(let error): return .unknown(error)
        case .success(let response):
            var bytes = response.body
            let json = try? JSONScanner.parse(bytes: &bytes)
            if (200..<300).contains(response.status), let data = json?["data"], let value = id(data) {
                return .done(id: value, json: data)
            }
            if response.status >= 500 || (200..<300).contains(response.status) {
                // A 2xx without the id (a cut body that parsed) is as unknown as a 5xx.
                return .unknown(.serverError(request: "Attio", status: response.status, attempts: response.attempts))
            }
            return .rejected(
                status: response.status, code: json?["code"]?.stringValue ?? "http_\(response.status)", message: message(response))
        }
    }

    // MARK: - Responses

    static func decode(_ response: HTTPResponse, what: String) throws -> JSONValue {
        // Every other answer through the shared table (ServiceAnswer): 404 → 78, 400/409/422 → 1, a 2xx that
        // is not JSON → 69.
        guard (200..<300).contains(response.status) else {
            throw ServiceAnswer.failure(
                service: "Attio", request: what, status: response.status, said: message(response),
                notFound: "check --list, the object and ATTIO_API_URL")
        }
        var bytes = response.body
        guard let json = try? JSONScanner.parse(bytes: &bytes), case .object = json else {
            throw ServiceAnswer.unreadable(service: "Attio", request: what, status: response.status)
        }
        return json
    }

    /// Attio's own words (`message`), short and on one line.
    static func message(_ response: HTTPResponse) -> String {
        var bytes = response.body
        let json = try? JSONScanner.parse(bytes: &bytes)
        let text = json?["message"]?.stringValue ?? String(response.text.prefix(200))
        return String(text.split(whereSeparator: \.isNewline).joined(separator: " ").prefix(300))
    }
}
