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
            let l = e?.locations.first
            var entry: [String: Any] = ["message": Self.parseError(e?.message ?? "\(error)", at: l)]
            if let l { entry["locations"] = [["line": l.line, "column": l.column]] }
            return .sortedJSON(200, ["errors": [entry]], headers: headers())
        }
        // Validated against GitHub's published schema first, as GitHub does: errors only, no data.
        let sdl = GraphQLSDL.github
        let schema: GraphQLSchema
        do {
            schema = try sdl.schema()
        } catch {
            return .sortedJSON(500, ["message": "The sandbox could not load GitHub's schema: \(error)"], headers: headers())
        }
        var validator = GitHubGraphQLValidator(sdl: sdl, schema: schema, document: document)
        let rejected = validator.validate()
        if !rejected.isEmpty { return .sortedJSON(200, ["errors": rejected], headers: headers()) }
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
        let badVariables = GitHubGraphQLValidator.variableErrors(operation, variables, sdl: sdl, schema: schema)
        if !badVariables.isEmpty { return .sortedJSON(200, ["errors": badVariables], headers: headers()) }
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

    /// graphql-ruby's wording for a syntax error (`Parse error on "}" (RCURLY) at [1, 12]`, or
    /// `Unexpected end of document`), from GraphQLSwift's (`… found "}"`); lexer errors keep theirs.
    static func parseError(_ message: String, at l: SourceLocation?) -> String {
        let message = String(message.prefix { $0 != "\n" })  // GraphQLSwift appends the source line
        guard let r = message.range(of: "found ", options: .backwards) ?? message.range(of: "Unexpected ") else { return message }
        var found = String(message[r.upperBound...])
        if found.hasSuffix(".") { found.removeLast() }
        if found == "<EOF>" { return "Unexpected end of document" }
        let punctuators = [
            "{": "LCURLY", "}": "RCURLY", "(": "LPAREN", ")": "RPAREN", "[": "LBRACKET", "]": "RBRACKET", ":": "COLON",
            "$": "VAR_SIGN", "!": "BANG", "=": "EQUALS", "@": "DIR_SIGN", "...": "ELLIPSIS", "|": "PIPE", "&": "AMP",
        ]
        var text = found
        var kind = punctuators[found] ?? "UNKNOWN_CHAR"
        if punctuators[found] == nil, let q = found.firstIndex(of: "\"") {  // Name "foo", Int "5", String "x"
            text = String(found[found.index(after: q)...].dropLast())
            switch found[..<q].trimmingCharacters(in: .whitespaces) {
            case "Name":
                let keywords: Set = ["query", "mutation", "subscription", "fragment", "on", "true", "false", "null"]
                kind = keywords.contains(text) ? text.uppercased() : "IDENTIFIER"
            case "Int": kind = "INT"
            case "Float": kind = "FLOAT"
            default: kind = "STRING"
            }
        }
        return "Parse error on \"\(text)\" (\(kind))" + (l.map { " at [\($0.line), \($0.column)]" } ?? "")
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
