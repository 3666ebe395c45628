import Foundation
import GraphQL

extension GitHubService {
    /// `POST /graphql`: parse with GraphQLSwift, price the query, apply the `graphql` bucket (an
    /// exhausted bucket answers HTTP 200 with a `RATE_LIMITED` error), then execute.
    func graphQL(_ request: SandboxRequest, credential: String) -> SandboxResponse {
        stats.recordRequest(service: name, endpoint: "\(request.method) /graphql")
        guard request.method == "POST" else {
            return .sortedJSON(404, GitHubJSON.error(404, "Not Found", docs: "https://docs.github.com/graphql"))
        }
        guard !credential.isEmpty else {
            return .sortedJSON(
                401,
                [
                    "message": "This endpoint requires you to be authenticated.",
                    "documentation_url": "https://docs.github.com/graphql/guides/forming-calls-with-graphql#authenticating-with-graphql",
                ])
        }
        let headers = { [self] in limiter.headers(credential: credential, resource: "graphql") }
        guard let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
            let source = body["query"] as? String
        else {
            return .sortedJSON(
                400, ["message": "Problems parsing JSON", "documentation_url": "https://docs.github.com/graphql"], headers: headers())
        }
        if Self.nesting(source) > 64 {
            return .sortedJSON(200, ["errors": [["message": "Query is nested more than 64 levels deep."]]], headers: headers())
        }
        let document: Document
        do {
            document = try parse(source: source)
        } catch {
            let e = error as? GraphQLError
            var entry: [String: Any] = ["message": e?.message ?? "\(error)"]
            if let l = e?.locations.first { entry["locations"] = [["line": l.line, "column": l.column]] }
            return .sortedJSON(200, ["errors": [entry]], headers: headers())
        }
        let operations = document.definitions.compactMap { $0 as? OperationDefinition }
        let wanted = body["operationName"] as? String
        guard
            let operation = wanted.map({ w in operations.first { $0.name?.value == w } })
                ?? (operations.count == 1 ? operations.first : nil)
        else {
            return .sortedJSON(
                200, ["errors": [["message": wanted.map { "No operation named \"\($0)\"" } ?? "An operation name is required"]]],
                headers: headers())
        }
        guard operation.operation == .query else {
            return .sortedJSON(
                200, ["errors": [["message": "The sandbox serves queries only; \(operation.operation.rawValue)s are not supported."]]],
                headers: headers())
        }
        var variables = body["variables"] as? [String: Any] ?? [:]
        let probe = GraphQLExecutor(document: document, variables: [:]) { _, _, _ throws(GraphQLFieldError) in .null }
        for def in operation.variableDefinitions where variables[def.variable.name.value] == nil {
            if let d = def.defaultValue { variables[def.variable.name.value] = probe.value(d) }
        }
        let pricing = GraphQLExecutor(document: document, variables: variables) { _, _, _ throws(GraphQLFieldError) in .null }
        let invalid = GitHubGraphQLSchema.validate(operation.selectionSet.selections, type: "Query", fragments: pricing.fragments)
        if !invalid.isEmpty { return .sortedJSON(200, ["errors": invalid], headers: headers()) }
        let price = GitHubGraphQLCost(selections: operation.selectionSet.selections, executor: pricing)
        if !price.errors.isEmpty { return .sortedJSON(200, ["errors": price.errors], headers: headers()) }
        if price.nodeCount > 500_000 {
            return .sortedJSON(
                200,
                [
                    "errors": [
                        [
                            "message":
                                "By the time this query traverses to the \(price.nodeCount) nodes, it requests up to \(price.nodeCount) possible nodes which exceeds the maximum limit of 500,000.",
                            "type": "MAX_NODE_LIMIT_EXCEEDED",
                        ]
                    ]
                ], headers: headers())
        }
        if let rejection = checkLimits(
            request, credential: credential, resource: "graphql", endpoint: "POST /graphql", cost: price.cost, free: false)
        {
            return rejection
        }
        let dryRun = GraphQLExecutor(document: document, variables: variables) { _, _, _ throws(GraphQLFieldError) in .null }
            .collect(operation.selectionSet.selections, typeName: "Query")
            .contains { $0.1[0].name.value == "rateLimit" && pricing.arguments($0.1[0].arguments)["dryRun"] as? Bool == true }
        let spent = dryRun ? 0 : price.cost
        // Reserved atomically: queries in flight together each see the points the others took.
        guard let before = limiter.reserve(credential: credential, resource: "graphql", cost: spent) else {
            stats.recordViolation(service: name, bucket: "graphql", detail: "POST /graphql with the graphql bucket exhausted")
            return .sortedJSON(
                200,
                [
                    "errors": [
                        [
                            "type": "RATE_LIMITED", "code": "graphql_rate_limit",
                            "message": "API rate limit already exceeded for user ID 1.",
                        ]
                    ]
                ], headers: headers())
        }
        let info = GitHubGraphQLObject.RateLimitInfo(
            cost: price.cost, limit: before.limit, remaining: before.remaining - spent, used: before.used + spent,
            resetAt: WorldTime.format(Int64(before.reset)), nodeCount: price.nodeCount)
        let resolvers = GitHubGraphQLResolvers(world: world, options: options, rateLimit: info)
        let executor = GraphQLExecutor(document: document, variables: variables) { object, field, args throws(GraphQLFieldError) in
            if dryRun, case .query = object, field != "rateLimit" { return .null }
            return try resolvers.resolve(object, field, args)
        }
        let data = executor.execute(operation.selectionSet.selections, on: .query, path: [])
        if executor.invalid {
            if spent > 0 { limiter.refund(credential: credential, resource: "graphql", cost: spent) }
            return .sortedJSON(200, ["errors": executor.errors.filter { $0["extensions"] != nil }], headers: headers())
        }
        if spent > 0 { stats.recordQuota(service: name, bucket: "graphql", cost: spent) }
        var out: [String: Any] = ["data": data]
        if !executor.errors.isEmpty { out["errors"] = executor.errors }
        return .sortedJSON(200, out, headers: headers())
    }

    /// The deepest `{`/`(`/`[` nesting outside strings (checked before parsing, which recurses).
    static func nesting(_ source: String) -> Int {
        var depth = 0
        var deepest = 0
        var inString = false
        var escaped = false
        for b in source.utf8 {
            if inString {
                if escaped { escaped = false } else if b == 92 { escaped = true } else if b == 34 { inString = false }
                continue
            }
            switch b {
            case 34: inString = true
            case 123, 40, 91:
                depth += 1
                deepest = max(deepest, depth)
            case 125, 41, 93: depth -= 1
            default: break
            }
        }
        return deepest
    }
}
