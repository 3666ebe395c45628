/// How the fake GitHub behaves where the real one is configurable or unverified (apis.md §1).
public struct GitHubOptions: Sendable {
    /// Primary (points) quota of the `core` bucket per window (GitHub: 5,000/hour).
    public var coreLimit = 5000
    /// Quota of the `search` bucket per window (GitHub: 30/minute).
    public var searchLimit = 30
    /// Points of the `graphql` bucket per window (GitHub: 5,000/hour).
    public var graphqlLimit = 5000
    /// Window length of `core` and `graphql`, seconds (GitHub: 3,600).
    public var coreWindowSeconds = 3600
    /// Window length of `search`, seconds (GitHub: 60).
    public var searchWindowSeconds = 60
    /// Status of a primary-limit rejection: 403 (default) or 429; both are documented.
    public var primaryStatus = 403
    /// Status of a secondary-limit rejection: 403 (default) or 429.
    public var secondaryStatus = 403
    /// Whether secondary-limit rejections carry `retry-after` (GitHub does not always send it).
    public var secondaryRetryAfter = true
    /// More requests than this in flight at once trigger the secondary limit (GitHub: 100).
    public var secondaryConcurrency = 100
    /// How long a secondary penalty lasts, seconds; `retry-after` counts down to its end.
    public var secondaryPenaltySeconds = 60
    /// Points per minute per REST endpoint before the secondary limit trips (GitHub: 900; a GET costs 1).
    public var secondaryPointsPerMinute = 900
    /// GraphQL requests per minute before the secondary limit trips (GitHub: 2,000 points, 1 per query).
    public var secondaryGraphQLPointsPerMinute = 2000
    /// Reject requests without `User-Agent` with 403 ([U]: GitHub's docs say they are rejected).
    public var requireUserAgent = true
    /// A 304 spends no quota even without `Authorization` (current docs); when true, only
    /// authenticated 304s are free (older docs, [U]).
    public var conditionalRequiresAuth = false
    /// An empty repository answers commits with 409 "Git Repository is empty." and contributors with
    /// 204 ([U], default); when false, both answer 200 with `[]`.
    public var emptyRepoConflict = true
    /// Whether the legacy `Authorization: token …` scheme is accepted besides `Bearer` ([U]: accepted).
    public var acceptTokenScheme = true
    /// GraphQL `User.email` when the profile email is hidden: `""` (default, [U]) or null.
    public var graphqlHiddenEmailNull = false

    /// Share of search pages answered with `incomplete_results: true` and only part of their items
    /// (a query that timed out on GitHub's side); 0 by default.
    public var searchIncompleteRate = 0.0

    public init() {}
}
