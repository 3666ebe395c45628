import CMOBasics
/// GitHub's answer to a query parameter outside the enum or format its REST docs give
/// (`github-rest-subset.json`): 422 "Validation Failed" naming the parameter, before any work.
extension GitHubService {
    struct ParameterRule: Sendable {
        var name: String
        var check: @Sendable (String) -> Bool
    }

    /// `per_page` and `page` must be whole numbers of at least 1 ([U]: GitHub's docs give only the
    /// integer type); a `per_page` above 100 is served as 100, as GitHub does.
    static let paging = [
        ParameterRule(name: "per_page") { Int($0).map { $0 >= 1 } ?? false },
        ParameterRule(name: "page") { Int($0).map { $0 >= 1 } ?? false },
    ]

    /// The documented parameters with an enum or a format, per endpoint.
    static let parameterRules: [String: (resource: String, docs: String, rules: [ParameterRule])] = [
        "GET /search/repositories": (
            "Search", "https://docs.github.com/rest/search/search#search-repositories",
            paging + [
                ParameterRule(name: "sort") { ["stars", "forks", "help-wanted-issues", "updated"].contains($0) },
                ParameterRule(name: "order") { ["desc", "asc"].contains($0) },
            ]
        ),
        "GET /repos/{owner}/{repo}/commits": (
            "Commit", "https://docs.github.com/rest/commits/commits#list-commits",
            paging + [ParameterRule(name: "since", check: isTimestamp), ParameterRule(name: "until", check: isTimestamp)]
        ),
        "GET /repos/{owner}/{repo}/contributors": (
            "Repository", "https://docs.github.com/rest/repos/repos#list-repository-contributors", paging
        ),
        "GET /users/{username}/events/public": (
            "Event", "https://docs.github.com/rest/activity/events#list-public-events-for-a-user", paging
        ),
    ]

    /// ISO 8601 (`YYYY-MM-DDTHH:MM:SSZ`, or a date), between 1970 and 2099 as Git needs.
    @Sendable static func isTimestamp(_ s: String) -> Bool {
        guard let t = WorldTime.parse(s) else { return false }
        return t >= 0 && t < WorldTime.parse("2100-01-01")!
    }

    /// The 422 for the first parameters that break their rule, or nil.
    func invalidParameters(_ endpoint: String, _ request: SandboxRequest) -> Reply? {
        guard let spec = Self.parameterRules[endpoint] else { return nil }
        let bad = spec.rules.filter { rule in request.queryValue(rule.name).map { !rule.check($0) } ?? false }
        guard !bad.isEmpty else { return nil }
        return Reply(
            status: 422,
            body: [
                "message": "Validation Failed",
                "errors": bad.map { ["resource": spec.resource, "field": $0.name, "code": "invalid"] },
                "documentation_url": spec.docs, "status": "422",
            ])
    }
}
