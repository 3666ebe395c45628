import CMOBasics
import CMOHTTP
import Foundation

/// A Linear team as sync-linear needs it.
public struct LinearTeam: Sendable, Equatable {
    public var id: String
    public var key: String
    public var name: String
    public init(id: String, key: String, name: String) {
        self.id = id
        self.key = key
        self.name = name
    }
}

/// An issue as sync-linear reads it back.
public struct LinearIssueRef: Sendable, Equatable {
    public var id: String
    public var identifier: String
    public var parentID: String?
    public var teamID: String?
}

/// One GraphQL answer: `data` (nil when null) and `errors` (message, `extensions.code`, first path element).
public struct LinearGraphQLResult: Sendable {
    public struct Problem: Sendable {
        public var message: String
        public var code: String?
        public var path: String?
    }
    public var data: JSONValue?
    public var errors: [Problem]
    public var attempts: Int
}

/// Linear's GraphQL API, the calls sync-linear makes. Every document is one of `documents` (a test
/// validates each against Linear's published schema); none asks for a connection it does not need.
/// Errors: 401/403 → 77 (from the HTTP client), RATELIMITED (HTTP 400 or 429) waited out by the
/// client's Linear policy, a document Linear refuses (400) → 1, 404 → 78, 5xx/transport after retries → 69
/// (`ServiceAnswer`'s table).
public final class LinearAPI {
    public let endpoint: ServiceEndpoint
    public let http: HTTPClient
    /// Requests sent, by operation name, for the summary.
    public private(set) var requests: [String: Int] = [:]
    /// Most aliased mutations in one request.
    public static let maxBatch = 50

    /// When set (`--check`), only query documents are sent: a mutation is refused before it leaves (`ReadOnlyGuard`).
    public var readOnly = false

    public init(endpoint: ServiceEndpoint, http: HTTPClient, readOnly: Bool = false) {
        self.endpoint = endpoint
        self.http = http
        self.readOnly = readOnly
    }

    /// The GraphQL URL: the base URL when it already ends in `/graphql` (the sandbox's env file names
    /// the endpoint), else `<base>/graphql`.
    public var url: String { endpoint.baseURL.hasSuffix("/graphql") ? endpoint.baseURL : endpoint.graphQLURL }

    // MARK: - Documents

    static let issueFields = "id identifier parent { id } team { id }"
    public static let teamByID = "query TeamByID($id: String!) { team(id: $id) { id key name } }"
    public static let teamByKey =
        "query TeamByKey($key: String!) { teams(filter: { key: { eqIgnoreCase: $key } }, first: 2) { nodes { id key name } } }"
    public static let issuesByID =
        "query IssuesByID($ids: [ID!]!, $first: Int!) { issues(filter: { id: { in: $ids } }, first: $first, includeArchived: true) { nodes { \(issueFields) } } }"

    /// `issueCreate` `n` times in one document, aliased `c0…`.
    public static func createDocument(_ n: Int) -> String {
        let vars = (0..<n).map { "$i\($0): IssueCreateInput!" }.joined(separator: ", ")
        let fields = (0..<n).map { "c\($0): issueCreate(input: $i\($0)) { success issue { \(issueFields) } }" }.joined(separator: " ")
        return "mutation CreateIssues(\(vars)) { \(fields) }"
    }

    /// `issueUpdate` `n` times in one document, aliased `u0…`.
    public static func updateDocument(_ n: Int) -> String {
        let vars = (0..<n).map { "$id\($0): String!, $u\($0): IssueUpdateInput!" }.joined(separator: ", ")
        let fields = (0..<n).map { "u\($0): issueUpdate(id: $id\($0), input: $u\($0)) { success issue { id identifier } }" }.joined(
            separator: " ")
        return "mutation UpdateIssues(\(vars)) { \(fields) }"
    }

    /// Every document shape sync-linear sends (batches of 1 and 2 stand for every size).
    public static var documents: [String] {
        [teamByID, teamByKey, allTeams, issuesByID, createDocument(1), createDocument(2), updateDocument(1), updateDocument(2)]
    }

    // MARK: - Calls

    /// The team named by a UUID or a key (`ENG`); nil when there is none.
    public func team(_ ref: String) throws -> LinearTeam? {
        if UUID(uuidString: ref) != nil {
            let r = try send(Self.teamByID, [JSONMember("id", .string(ref))], name: "TeamByID")
            guard let t = r.data?["team"], t != .null else { return nil }
            return Self.team(t)
        }
        let r = try send(Self.teamByKey, [JSONMember("key", .string(ref))], name: "TeamByKey")
        try Self.throwIfFailed(r, what: "teams")
        return (r.data?["teams"]?["nodes"]?.arrayValue ?? []).first.flatMap(Self.team)
    }

    /// The issues among `ids` that exist: id → issue.
    public func issues(_ ids: [String]) throws -> [String: LinearIssueRef] {
        var found: [String: LinearIssueRef] = [:]
        for start in stride(from: 0, to: ids.count, by: 50) {
            let slice = Array(ids[start..<min(start + 50, ids.count)])
            let r = try send(
                Self.issuesByID, [JSONMember("ids", .array(slice.map { .string($0) })), JSONMember("first", .int(slice.count))],
                name: "IssuesByID")
            try Self.throwIfFailed(r, what: "issues")
            for node in r.data?["issues"]?["nodes"]?.arrayValue ?? [] {
                if let issue = Self.issue(node) { found[issue.id.lowercased()] = issue }
            }
        }
        return found
    }

    /// What one aliased mutation of a batch did.
    public enum MutationOutcome: Sendable {
        case done(LinearIssueRef)
        /// Linear refused it (its error message).
        case refused(String)
        /// Unknown: the answer was lost, or the request's `data` was nulled by another alias's error.
        case unknown
    }

    /// Creates issues (inputs as `IssueCreateInput` objects), up to `maxBatch` per request.
    public func create(_ inputs: [JSONValue]) throws -> [MutationOutcome] {
        try batches(inputs.count) { range in
            var vars: [JSONMember] = []
            for (k, i) in range.enumerated() { vars.append(JSONMember("i\(k)", inputs[i])) }
            return (Self.createDocument(range.count), vars, "CreateIssues", "c")
        }
    }

    /// Updates issues: (id, `IssueUpdateInput`), up to `maxBatch` per request.
    public func update(_ updates: [(id: String, input: JSONValue)]) throws -> [MutationOutcome] {
        try batches(updates.count) { range in
            var vars: [JSONMember] = []
            for (k, i) in range.enumerated() {
                vars.append(JSONMember("id\(k)", .string(updates[i].id)))
                vars.append(JSONMember("u\(k)", updates[i].input))
            }
            return (Self.updateDocument(range.count), vars, "UpdateIssues", "u")
        }
    }

    private func batches(
        _ count: Int, _ make: (Range<Int>) -> (String, [JSONMember], String, String)
    ) throws -> [MutationOutcome] {
        var out: [MutationOutcome] = []
        for start in stride(from: 0, to: count, by: Self.maxBatch) {
            let range = start..<min(start + Self.maxBatch, count)
            let (doc, vars, name, prefix) = make(range)
            let r = try send(doc, vars, name: name)
            for k in 0..<range.count {
                let alias = "\(prefix)\(k)"
                if let payload = r.data?[alias], payload != .null, payload["success"]?.boolValue == true,
                    let issue = payload["issue"].flatMap(Self.issue)
                {
                    out.append(.done(issue))
                } else if let problem = r.errors.first(where: { $0.path == alias }), r.data != nil {
                    out.append(.refused(problem.message))
                } else if let problem = r.errors.first(where: { $0.path == alias }) {
                    // data null: this alias failed, and every alias after it did not run (or its answer is gone).
                    out.append(.refused(problem.message))
                } else {
                    out.append(.unknown)
                }
            }
        }
        return out
    }

    // MARK: - Transport

    func send(_ query: String, _ variables: [JSONMember], name: String) throws -> LinearGraphQLResult {
        let body = JSONValue.object([JSONMember("query", .string(query)), JSONMember("variables", .object(variables))])
        requests[name, default: 0] += 1
        // Safe to retry: creates carry a client id (a second one is refused or answered with the issue),
        // updates set absolute values.
        let request = endpoint.request("POST", url, body: body.encoded(), retryable: true)
        try ReadOnlyGuard.check(request, readOnly: readOnly, graphQLDocument: query)
        let response = try http.perform(request)
        var bytes = response.body
        let json = try? JSONScanner.parse(bytes: &bytes)
        let errors = (json?["errors"]?.arrayValue ?? []).map { e in
            LinearGraphQLResult.Problem(
                message: Self.oneLine(e["message"]?.stringValue ?? "?"), code: e["extensions"]?["code"]?.stringValue,
                path: e["path"]?.arrayValue?.first?.stringValue)
        }
        guard (200..<300).contains(response.status) else {
            let what =
                errors.first.map { "\($0.message)" + ($0.code.map { " (\($0))" } ?? "") } ?? Self.oneLine(String(response.text.prefix(200)))
            // Through the shared table (ServiceAnswer): a document Linear refuses (400, 422) → 1 (cmo's fault),
            // 404 → 78 (the URL), GraphQL errors that say more (authentication, not found) by their code.
            if let first = errors.first, response.status == 400 || response.status == 422 {
                throw ServiceAnswer.graphQL(
                    service: "Linear", what: "run \(name)", codes: errors.compactMap(\.code), message: first.message,
                    httpStatus: response.status)
            }
            throw ServiceAnswer.failure(
                service: "Linear", request: name, status: response.status, said: what, notFound: "check LINEAR_API_URL")
        }
        guard let json, case .object = json else {
            throw ServiceAnswer.unreadable(service: "Linear", request: name, status: response.status, notFound: "check LINEAR_API_URL")
        }
        // Not `flatMap { $0 == .null ? nil : $0 }`: JSONValue takes `nil` as its own `.null`, so that kept `data: null`.
        var data = json["data"]
        if data == .null { data = nil }
        return LinearGraphQLResult(data: data, errors: errors, attempts: response.attempts)
    }

    /// Throws when GraphQL errors left no data, with the status of the shared table (`ServiceAnswer`):
    /// forbidden 77, not found 78, a query Linear refuses 1, a failure inside Linear 69.
    static func throwIfFailed(_ r: LinearGraphQLResult, what: String) throws {
        if r.data == nil, let e = r.errors.first {
            throw ServiceAnswer.graphQL(
                service: "Linear", what: "read \(what)", codes: r.errors.compactMap(\.code), message: e.message, httpStatus: 200)
        }
    }

    static func team(_ v: JSONValue) -> LinearTeam? {
        guard let id = v["id"]?.stringValue else { return nil }
        return LinearTeam(id: id, key: v["key"]?.stringValue ?? "", name: v["name"]?.stringValue ?? "")
    }

    static func issue(_ v: JSONValue) -> LinearIssueRef? {
        guard let id = v["id"]?.stringValue, let identifier = v["identifier"]?.stringValue else { return nil }
        return LinearIssueRef(
            id: id, identifier: identifier, parentID: v["parent"]?["id"]?.stringValue, teamID: v["team"]?["id"]?.stringValue)
    }

    static func oneLine(_ s: String) -> String { String(TextCleaning.oneLine(s).prefix(300)) }
}
