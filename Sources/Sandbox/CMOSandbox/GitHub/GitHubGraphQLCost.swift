import GraphQL

/// GitHub's GraphQL point cost (apis.md §1.11): the requests needed to fill every connection, assuming
/// each `first`/`last` is reached, divided by 100 and rounded, at least 1; plus the node count and the
/// pagination checks (`first`/`last` in 1…100, required where nodes are asked for).
struct GitHubGraphQLCost {
    var requests = 0
    var nodeCount = 0
    var errors: [[String: Any]] = []

    static let connections: Set<String> = [
        "history", "repositories", "followers", "following", "repositoryTopics", "stargazers", "watchers", "forks",
        "gists", "membersWithRole",
    ]

    /// Points the query costs.
    var cost: Int { max(1, Int((Double(requests) / 100).rounded())) }

    init(selections: [Selection], executor: GraphQLExecutor) {
        walk(selections, multiplier: 1, executor: executor, fragmentsOnPath: [])
    }

    private mutating func walk(_ selections: [Selection], multiplier: Int, executor: GraphQLExecutor, fragmentsOnPath: Set<String>) {
        for s in selections {
            switch s {
            case let f as Field:
                let args = executor.arguments(f.arguments)
                let sub = f.selectionSet?.selections ?? []
                let name = f.name.value
                guard Self.connections.contains(name) || args["first"] != nil || args["last"] != nil else {
                    walk(sub, multiplier: multiplier, executor: executor, fragmentsOnPath: fragmentsOnPath)
                    continue
                }
                let bound = (args["first"] as? Int).map { ("first", $0) } ?? (args["last"] as? Int).map { ("last", $0) }
                var n = 0
                if let (which, value) = bound {
                    if value > 100 || value < 0 {
                        errors.append(
                            GraphQLFieldError(
                                message:
                                    "Requesting \(value) records on the `\(name)` connection exceeds the `\(which)` limit of 100 records.",
                                type: "EXCESSIVE_PAGINATION"
                            ).json(path: [], loc: f.loc))
                    }
                    n = min(max(value, 0), 100)
                } else if sub.contains(where: { ($0 as? Field).map { ["nodes", "edges"].contains($0.name.value) } ?? true }) {
                    errors.append(
                        GraphQLFieldError(
                            message: "You must provide a `first` or `last` value to properly paginate the `\(name)` connection.",
                            type: "MISSING_PAGINATION_BOUNDARIES"
                        ).json(path: [], loc: f.loc))
                }
                requests += multiplier
                nodeCount += multiplier * n
                walk(sub, multiplier: multiplier * max(n, 1), executor: executor, fragmentsOnPath: fragmentsOnPath)
            case let spread as FragmentSpread:
                let name = spread.name.value
                guard !fragmentsOnPath.contains(name), let def = executor.fragments[name] else { continue }
                walk(
                    def.selectionSet.selections, multiplier: multiplier, executor: executor, fragmentsOnPath: fragmentsOnPath.union([name]))
            case let inline as InlineFragment:
                walk(inline.selectionSet.selections, multiplier: multiplier, executor: executor, fragmentsOnPath: fragmentsOnPath)
            default:
                continue
            }
        }
    }
}
