import CMOBasics
import CMOHTTP
import Foundation

/// A campaign as send-instantly needs it (`GET /api/v2/campaigns/{id}`).
public struct InstantlyCampaign: Sendable {
    public var id: String
    public var name: String
    /// 0 Draft, 1 Active, 2 Paused, 3 Completed, 4 Running Subsequences, −1 Accounts Unhealthy,
    /// −2 Bounce Protect, −99 Account Suspended.
    public var status: Int?
    /// Every subject and body of the sequence's steps and variants.
    public var subjects: [String]
    public var bodies: [String]
    /// Sending accounts' emails.
    public var emailList: [String]
    public var insertUnsubscribeHeader: Bool?
    public var dailyLimit: Int?

    public var statusName: String {
        switch status {
        case 0: "draft"
        case 1: "active"
        case 2: "paused"
        case 3: "completed"
        case 4: "running subsequences"
        case -1: "accounts unhealthy"
        case -2: "bounce protect"
        case -99: "account suspended"
        case let s?: "status \(s)"
        case nil: "no status"
        }
    }

    /// Whether the campaign sends (or will, once activated): active, running subsequences, or draft.
    public var acceptsNewLeads: Bool { status == 1 || status == 4 || status == 0 }

    /// Whether `text` prints the custom variable `name` (`{{name}}`, spaces allowed, an Instantly
    /// fallback `{{name | fallback}}` too).
    public static func uses(_ text: String, variable name: String) -> Bool {
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { return false }
            var inner = rest[open.upperBound..<close.lowerBound]
            if let bar = inner.firstIndex(of: "|") { inner = inner[..<bar] }
            if inner.trimmingCharacters(in: .whitespaces) == name { return true }
            rest = rest[close.upperBound...]
        }
        return false
    }
}

/// What `POST /api/v2/leads/add` answered.
public struct InstantlyAddResult: Sendable {
    /// Lead id by the index of the item in the request.
    public var created: [Int: String]
    public var uploaded: Int
    public var skipped: Int
    public var duplicated: Int
    public var inBlocklist: Int
    public var invalidEmail: Int
    public var duplicateEmail: Int
    public var remainingInPlan: Int?
    /// How many times the request was sent (more than 1: an earlier attempt may have landed).
    public var attempts: Int
}

/// Instantly API v2, the calls a writer makes. Errors: 401/403 → 77 (from the HTTP client), 402 →
/// 78 with Instantly's message, 404 of the campaign → 78 naming it, 5xx/transport after retries → 69,
/// a request refused as a whole (400/409/422 where no lead is to blame) → 1 (`ServiceAnswer`'s table).
public final class InstantlyAPI {
    public let endpoint: ServiceEndpoint
    public let http: HTTPClient

    /// When set (`--check`), only reads are sent: anything else is refused before it leaves (`ReadOnlyGuard`).
    public var readOnly = false

    public init(endpoint: ServiceEndpoint, http: HTTPClient, readOnly: Bool = false) {
        self.endpoint = endpoint
        self.http = http
        self.readOnly = readOnly
    }

    /// Every request goes out here.
    func send(_ request: HTTPRequest) throws -> HTTPResponse {
        try ReadOnlyGuard.check(request, readOnly: readOnly)
        return try http.perform(request)
    }

    /// Pages a GET listing to its end (`limit=100`, `starting_after` ← `next_starting_after`), handing each
    /// page's items to `page`; stops early when `page` returns false, and after `maxPages` pages at most.
    func eachPage(_ path: String, query: [(String, String)] = [], maxPages: Int = 1000, _ page: ([JSONValue]) throws -> Bool) throws {
        var cursor: String?
        for _ in 0..<maxPages {
            var q = [("limit", "100")] + query
            if let cursor { q.append(("starting_after", cursor)) }
            let json = try Self.decode(try send(endpoint.request("GET", path, query: q)), what: "GET \(path)")
            let items = json["items"]?.arrayValue ?? []
            guard try page(items), !items.isEmpty, let next = json["next_starting_after"]?.stringValue, next != cursor else { return }
            cursor = next
        }
    }

    /// Reads a campaign; 404 → exit 78 naming the id.
    public func campaign(_ id: String) throws -> InstantlyCampaign {
        guard let campaign = try campaignIfExists(id) else {
            throw StageFailure(.config, "Instantly campaign '\(id)' does not exist (404): check --campaign")
        }
        return campaign
    }

    /// Reads a campaign; nil when Instantly answers 404.
    public func campaignIfExists(_ id: String) throws -> InstantlyCampaign? {
        let response = try send(endpoint.request("GET", "/api/v2/campaigns/\(id)"))
        if response.status == 404 { return nil }
        return Self.campaign(try Self.decode(response, what: "GET /api/v2/campaigns/\(id)"), id: id)
    }

    /// A campaign object (`GET /api/v2/campaigns/{id}`, or an item of `GET /api/v2/campaigns`).
    static func campaign(_ json: JSONValue, id: String) -> InstantlyCampaign {
        var subjects: [String] = []
        var bodies: [String] = []
        for sequence in json["sequences"]?.arrayValue ?? [] {
            for step in sequence["steps"]?.arrayValue ?? [] {
                for variant in step["variants"]?.arrayValue ?? [] {
                    if let s = variant["subject"]?.stringValue { subjects.append(s) }
                    if let b = variant["body"]?.stringValue { bodies.append(b) }
                }
            }
        }
        return InstantlyCampaign(
            id: json["id"]?.stringValue ?? id, name: json["name"]?.stringValue ?? "", status: json["status"]?.intValue,
            subjects: subjects, bodies: bodies,
            emailList: (json["email_list"]?.arrayValue ?? []).compactMap { $0.stringValue?.lowercased() },
            insertUnsubscribeHeader: json["insert_unsubscribe_header"]?.boolValue, dailyLimit: json["daily_limit"]?.intValue)
    }

    /// Every sending account: email (lower-cased) → status (1 Active, 2 Paused, negative: errors).
    public func accounts() throws -> [String: Int] {
        var found: [String: Int] = [:]
        try eachPage("/api/v2/accounts") { items in
            for item in items {
                if let email = item["email"]?.stringValue?.lowercased() { found[email] = item["status"]?.intValue ?? 0 }
            }
            return true
        }
        return found
    }

    /// `POST /api/v2/leads/add` to a campaign, `skip_if_in_campaign: true` (so a retry after an
    /// attempt that landed creates nothing). Retried on 5xx and transport errors for that reason.
    /// A 400 is returned as `.rejected` with Instantly's message.
    public enum AddOutcome {
        case added(InstantlyAddResult)
        case rejected(status: Int, message: String)
    }

    public func addLeads(campaign: String, items: [JSONValue]) throws -> AddOutcome {
        let body: JSONValue = [
            "campaign_id": .string(campaign), "skip_if_in_campaign": true, "verify_leads_on_import": false,
            "leads": .array(items),
        ]
        let response = try send(endpoint.request("POST", "/api/v2/leads/add", body: body.encoded(), retryable: true))
        // A refusal of the request's content (a lead Instantly will not take, or too big a batch): the
        // writer finds the lead(s) to blame; never "Instantly is down".
        if response.status == 400 || response.status == 413 || response.status == 422 {
            return .rejected(status: response.status, message: Self.message(response))
        }
        if response.status == 404 {
            throw StageFailure(.config, "Instantly campaign '\(campaign)' does not exist (404 on leads/add)")
        }
        let json = try Self.decode(response, what: "POST /api/v2/leads/add")
        var created: [Int: String] = [:]
        for lead in json["created_leads"]?.arrayValue ?? [] {
            if let index = lead["index"]?.intValue, let id = lead["id"]?.stringValue { created[index] = id }
        }
        return .added(
            InstantlyAddResult(
                created: created, uploaded: json["leads_uploaded"]?.intValue ?? created.count,
                skipped: json["skipped_count"]?.intValue ?? 0, duplicated: json["duplicated_leads"]?.intValue ?? 0,
                inBlocklist: json["in_blocklist"]?.intValue ?? 0, invalidEmail: json["invalid_email_count"]?.intValue ?? 0,
                duplicateEmail: json["duplicate_email_count"]?.intValue ?? 0, remainingInPlan: json["remaining_in_plan"]?.intValue,
                attempts: response.attempts))
    }

    /// The campaign's leads for `emails` (`POST /api/v2/leads/list` with `contacts`, 100 a page):
    /// email (lower-cased) → lead id. A read, though it is a POST.
    public func findLeads(campaign: String, emails: [String]) throws -> [String: String] {
        try lookUpLeads(campaign: campaign, emails: emails).found
    }

    /// What a lookup by contacts found: email → lead id, and the contacts Instantly refused to look up
    /// (a 400 such as `body/contacts/1 must match format "email"`), with its message: such an address
    /// cannot be a lead of the campaign.
    public struct LeadLookup {
        public var found: [String: String] = [:]
        public var refused: [String: String] = [:]
        public init() {}
    }

    /// `findLeads`, where one address Instantly will not take as a contact costs only itself: a 400 that
    /// names a contact drops it and asks again; one that names none is halved until it does (a read,
    /// so the halving costs reads only).
    public func lookUpLeads(campaign: String, emails: [String]) throws -> LeadLookup {
        var lookup = LeadLookup()
        for start in stride(from: 0, to: emails.count, by: 100) {
            try lookUp(campaign: campaign, Array(emails[start..<min(start + 100, emails.count)]), into: &lookup)
        }
        return lookup
    }

    private func lookUp(campaign: String, _ emails: [String], into lookup: inout LeadLookup) throws {
        guard !emails.isEmpty else { return }
        switch try findPage(campaign: campaign, emails) {
        case .found(let found): lookup.found.merge(found) { a, _ in a }
        case .refused(let message):
            if let i = Self.blamedContact(message), i < emails.count {
                lookup.refused[emails[i]] = message
                var rest = emails
                rest.remove(at: i)
                try lookUp(campaign: campaign, rest, into: &lookup)
            } else if emails.count == 1 {
                lookup.refused[emails[0]] = message
            } else {
                try lookUp(campaign: campaign, Array(emails[..<(emails.count / 2)]), into: &lookup)
                try lookUp(campaign: campaign, Array(emails[(emails.count / 2)...]), into: &lookup)
            }
        }
    }

    /// The index an ajv-style message blames in `contacts` (`body/contacts/3 must match …`).
    static func blamedContact(_ message: String) -> Int? {
        guard let range = message.range(of: "/contacts/") else { return nil }
        let digits = message[range.upperBound...].prefix { $0.isASCII && $0.isNumber }
        return digits.isEmpty || digits.count > 6 ? nil : Int(digits)
    }

    private enum Page {
        case found([String: String])
        case refused(String)
    }

    /// Every page of one lookup of at most 100 contacts; a 400 to the first page refuses the contacts
    /// (a later page's 400 is about the cursor: an error).
    private func findPage(campaign: String, _ slice: [String]) throws -> Page {
        var found: [String: String] = [:]
        var cursor: String?
        for _ in 0..<100 {
            var body: [JSONMember] = [
                JSONMember("campaign", .string(campaign)), JSONMember("contacts", .array(slice.map { .string($0) })),
                JSONMember("limit", 100),
            ]
            if let cursor { body.append(JSONMember("starting_after", .string(cursor))) }
            let response = try send(
                endpoint.request("POST", "/api/v2/leads/list", body: JSONValue.object(body).encoded(), retryable: true))
            if cursor == nil, response.status == 400 || response.status == 422 { return .refused(Self.message(response)) }
            let json = try Self.decode(response, what: "POST /api/v2/leads/list")
            let items = json["items"]?.arrayValue ?? []
            for item in items {
                guard let email = item["email"]?.stringValue?.lowercased(), let id = item["id"]?.stringValue else { continue }
                if let c = item["campaign"]?.stringValue, c != campaign { continue }
                found[email] = id
            }
            guard items.count == 100, let next = json["next_starting_after"]?.stringValue, next != cursor else { break }
            cursor = next
        }
        return .found(found)
    }

    // MARK: - Responses

    static func decode(_ response: HTTPResponse, what: String) throws -> JSONValue {
        if response.status == 402 {
            throw StageFailure(
                .config, "Instantly: the workspace has no active paid plan (402): \(message(response)); the API needs one")
        }
        // Every other answer through the shared table (ServiceAnswer): 404 → 78, 400/409/422 → 1, a 2xx that
        // is not JSON → 69.
        guard (200..<300).contains(response.status) else {
            throw ServiceAnswer.failure(
                service: "Instantly", request: what, status: response.status, said: message(response),
                notFound: "check --campaign and INSTANTLY_API_URL")
        }
        var bytes = response.body
        guard let json = try? JSONScanner.parse(bytes: &bytes), case .object = json else {
            throw ServiceAnswer.unreadable(service: "Instantly", request: what, status: response.status)
        }
        return json
    }

    /// Instantly's own words (`message`, else `error`), short and on one line.
    static func message(_ response: HTTPResponse) -> String {
        var bytes = response.body
        let json = try? JSONScanner.parse(bytes: &bytes)
        let text = json?["message"]?.stringValue ?? json?["error"]?.stringValue ?? String(response.text.prefix(200))
        return String(text.split(whereSeparator: \.isNewline).joined(separator: " ").prefix(300))
    }
}
