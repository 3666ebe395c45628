import Foundation
import GraphQL

/// The sandbox's Linear GraphQL API (`/linear` + `/graphql`): issueCreate with client-supplied ids,
/// issues/teams/viewer queries, API-key auth without "Bearer" (and OAuth with it), request and
/// complexity budgets with the `X-RateLimit-*` headers, and RATELIMITED errors.
public final class LinearService: SandboxService, SandboxObservable, @unchecked Sendable {
    public let name = "linear"
    public let pathPrefix = "/linear"

    let stats: SandboxStats
    let seed: UInt64
    let token: String
    let options: LinearOptions
    let lock = NSLock()
    let store: LinearStore
    var requestWindow: ServiceKit.RateWindow
    var complexityWindow: ServiceKit.RateWindow
    var rejected = 0

    /// A workspace whose teams, labels and states follow from `seed`; `token` is the personal API key.
    public init(stats: SandboxStats, seed: UInt64, token: String, options: LinearOptions = .init()) {
        self.stats = stats
        self.seed = seed
        self.token = token
        self.options = options
        store = LinearStore(seed: seed, options: options)
        requestWindow = .init(limit: options.requestsPerHour, window: options.windowSeconds)
        complexityWindow = .init(limit: options.complexityPerHour, window: options.windowSeconds)
    }

    /// The seeded teams: (id, key, name).
    public var teams: [(id: String, key: String, name: String)] { store.teams.map { ($0.id, $0.key, $0.name) } }

    public func handle(_ request: SandboxRequest) -> SandboxResponse? {
        guard request.path == "/graphql" || request.path == "/graphql/" else {
            stats.recordRequest(service: name, endpoint: "\(request.method) (unknown)")
            return .json(404, ["errors": [["message": "Not found", "extensions": ["code": "NOT_FOUND", "type": "other"]]]])
        }
        guard request.method == "POST" else {
            stats.recordRequest(service: name, endpoint: "\(request.method) /graphql")
            return Self.errors(
                405,
                [LinearGQLError(kind: .validation, message: "Only POST is supported.", code: "METHOD_NOT_ALLOWED", type: "graphql error")])
        }
        guard authorized(request) else {
            stats.recordRequest(service: name, endpoint: "POST /graphql (unauthenticated)")
            return Self.errors(
                options.authFailureStatus,
                [
                    LinearGQLError(
                        kind: .validation, message: "Authentication required, not authenticated", code: "AUTHENTICATION_ERROR",
                        type: "authentication error", userPresentableMessage: "You need to authenticate to access this operation.")
                ])
        }
        return lock.withLock { execute(request) }
    }

    public func reset() {
        lock.withLock {
            store.reset()
            requestWindow.reset()
            complexityWindow.reset()
            rejected = 0
        }
    }

    public func statsExtras() -> [String: Any] {
        lock.withLock {
            let now = options.clock()
            return [
                "issues": store.issues.count, "rejected_ratelimited": rejected,
                "requests_remaining": requestWindow.peek(now: now).remaining,
                "complexity_remaining": complexityWindow.peek(now: now).remaining,
                "teams": store.teams.map { ["id": $0.id, "key": $0.key] },
                "schema_build_seconds": GraphQLSDL.linear.loadSeconds ?? NSNull(),
            ]
        }
    }

    /// A personal API key is sent bare; "Bearer <api key>" fails; an OAuth token needs "Bearer".
    private func authorized(_ r: SandboxRequest) -> Bool {
        guard let h = r.header("authorization")?.trimmingCharacters(in: .whitespaces), !h.isEmpty else { return false }
        if let bearer = ServiceKit.bearer(r) { return bearer == options.oauthToken }
        return h == token
    }

    private func execute(_ r: SandboxRequest) -> SandboxResponse {
        guard let body = ServiceKit.json(r.body) as? [String: Any], let source = body["query"] as? String else {
            stats.recordRequest(service: name, endpoint: "POST /graphql (bad body)")
            return Self.errors(400, [.validation("Must provide query string.")])
        }
        let variables = (body["variables"] as? [String: Any]) ?? [:]
        let document: Document
        do {
            document = try parse(source: source)
        } catch {
            stats.recordRequest(service: name, endpoint: "POST /graphql (syntax error)")
            let message = (error as? GraphQLError)?.message ?? "\(error)"
            return Self.errors(
                400, [LinearGQLError(kind: .validation, message: message, code: "GRAPHQL_PARSE_FAILED", type: "graphql error")])
        }
        let invalid = Self.validationErrors(document)
        if !invalid.isEmpty {
            stats.recordRequest(service: name, endpoint: "POST /graphql (invalid)")
            return Self.errors(400, invalid)
        }
        let operations = document.definitions.compactMap { $0 as? OperationDefinition }
        var fragments: [String: FragmentDefinition] = [:]
        for f in document.definitions.compactMap({ $0 as? FragmentDefinition }) { fragments[f.name.value] = f }
        let wanted = body["operationName"] as? String
        guard let op = wanted.map({ n in operations.first { $0.name?.value == n } }) ?? (operations.count == 1 ? operations.first : nil)
        else {
            stats.recordRequest(service: name, endpoint: "POST /graphql (no operation)")
            return Self.errors(
                400,
                [
                    .validation(
                        wanted.map { "Unknown operation named \"\($0)\"." }
                            ?? "Must provide operation name if query contains multiple operations.")
                ])
        }
        let badVariables = Self.variableErrors(op, variables)
        if !badVariables.isEmpty {
            stats.recordRequest(service: name, endpoint: "POST /graphql (invalid variables)")
            return Self.errors(400, badVariables)
        }
        var vars = variables
        let executor0 = LinearExecutor(fragments: fragments, variables: [:])
        for def in op.variableDefinitions where vars[def.variable.name.value] == nil {
            if let d = def.defaultValue, let v = try? executor0.value(d) { vars[def.variable.name.value] = v }
        }
        let executor = LinearExecutor(fragments: fragments, variables: vars)
        let roots = ((try? executor.fields(op.selectionSet, typeName: nil)) ?? []).map { $0.1.name.value }
        stats.recordRequest(service: name, endpoint: "POST /graphql \(op.operation.rawValue) \(roots.joined(separator: ","))")

        let now = options.clock()
        let cost: Int
        do {
            cost = max(1, Int((try executor.complexity(op.selectionSet)).rounded(.up)))
        } catch {
            return Self.errors(400, [error])
        }
        let req = requestWindow.take(now: now)
        let complexity =
            req.allowed
            ? complexityWindow.take(cost, now: now)
            : (allowed: false, remaining: complexityWindow.peek(now: now).remaining, resetAt: complexityWindow.peek(now: now).resetAt)
        let headers = rateHeaders(cost: cost, now: now)
        guard req.allowed, complexity.allowed else {
            rejected += 1
            let bucket = req.allowed ? "complexity" : "requests"
            stats.recordViolation(service: name, bucket: bucket, detail: "POST /graphql with the \(bucket) budget spent")
            var h = headers
            if options.rateLimitRetryAfter {
                let reset = req.allowed ? complexity.resetAt : req.resetAt
                h.append(("retry-after", String(max(1, Int(reset.timeIntervalSince(now).rounded(.up))))))
            }
            let e = LinearGQLError(
                kind: .validation, message: "Rate limit exceeded", code: "RATELIMITED", type: "ratelimited",
                userPresentableMessage: "You have exceeded the \(bucket) rate limit. Please try again later.")
            return Self.errors(options.rateLimitStatus, [e], headers: h)
        }
        stats.recordQuota(service: name, bucket: "requests", cost: 1)
        stats.recordQuota(service: name, bucket: "complexity", cost: cost)
        if cost > options.maxComplexityPerQuery {
            return Self.errors(
                400,
                [
                    LinearGQLError(
                        kind: .validation, message: "Query too complex: \(cost) points, the maximum is \(options.maxComplexityPerQuery).",
                        code: "QUERY_TOO_COMPLEX", type: "invalid input", userPresentableMessage: "Query too complex.")
                ], headers: headers)
        }

        let root: any LinearNode
        switch op.operation {
        case .query: root = LinearQueryRoot(store: store)
        case .mutation:
            root = LinearMutationRoot(store: store, options: options, seed: seed) { [stats, name] kind, key, payload in
                stats.recordWrite(service: name, kind: kind, key: key, payload: payload)
            }
        case .subscription: return Self.errors(400, [.validation("Subscriptions are not supported over HTTP.")], headers: headers)
        }
        var data: [String: Any] = [:]
        var errors: [LinearGQLError] = []
        // A root field whose type is non-null (IssuePayload!, Issue!, …) cannot be null: its error
        // nulls the whole `data`, as GraphQL's null propagation requires. Mutations run in order.
        var dataIsNull = false
        do {
            for (key, field) in try executor.fields(op.selectionSet, typeName: root.typeName) {
                do {
                    data[key] = try executor.resolve(field, on: root)
                } catch  where error.kind == .resolver {
                    var e = error
                    e.path = [key]
                    errors.append(e)
                    data[key] = NSNull()
                    if Self.rootFieldIsNonNull(op.operation, field.name.value) {
                        dataIsNull = true
                        // graphql-js runs mutations one after another and stops at the first error that nulls `data`.
                        if op.operation == .mutation { break }
                    }
                }
            }
        } catch {
            return Self.errors(400, [error], headers: headers)
        }
        var response: [String: Any] = ["data": dataIsNull ? NSNull() : data]
        if !errors.isEmpty { response["errors"] = errors.map(\.json) }
        return .json(200, response, headers: headers)
    }

    /// Whether the schema types the root field non-null (`issueCreate: IssuePayload!`).
    static func rootFieldIsNonNull(_ operation: OperationType, _ name: String) -> Bool {
        guard let schema = try? GraphQLSDL.linear.schema() else { return false }
        let type: GraphQLObjectType? = operation == .mutation ? schema.mutationType : schema.queryType
        guard let type, let field = GraphQLSDL.linear.fields(type)?[name] else { return false }
        return field.type is GraphQLNonNull
    }

    private func rateHeaders(cost: Int, now: Date) -> [(name: String, value: String)] {
        let r = requestWindow.peek(now: now)
        let c = complexityWindow.peek(now: now)
        func reset(_ d: Date) -> String {
            options.resetUnit == .milliseconds ? String(Int64(d.timeIntervalSince1970 * 1000)) : String(Int64(d.timeIntervalSince1970))
        }
        return [
            ("x-ratelimit-requests-limit", String(options.requestsPerHour)),
            ("x-ratelimit-requests-remaining", String(r.remaining)),
            ("x-ratelimit-requests-reset", reset(r.resetAt)),
            ("x-complexity", String(cost)),
            ("x-ratelimit-complexity-limit", String(options.complexityPerHour)),
            ("x-ratelimit-complexity-remaining", String(c.remaining)),
            ("x-ratelimit-complexity-reset", reset(c.resetAt)),
        ]
    }

    static func errors(_ status: Int, _ errors: [LinearGQLError], headers: [(name: String, value: String)] = []) -> SandboxResponse {
        .json(status, ["errors": errors.map(\.json)], headers: headers)
    }
}
