import Foundation

/// Switches for the sandbox's Linear GraphQL: limits, and the behaviours apis.md marks [U] or [3P].
public struct LinearOptions: Sendable {
    /// What a second `issueCreate` with an `id` already used does (undocumented [U]).
    public enum DuplicateID: String, Sendable {
        /// A GraphQL error (`INVALID_INPUT`, "invalid input"), `issueCreate: null`, HTTP 200.
        case error
        /// `success: true` with the issue that already has that id; nothing new is made.
        case returnExisting = "return-existing"
    }

    /// Unit of the `X-RateLimit-*-Reset` headers (an old official snapshot says seconds, newer notes say milliseconds [U]).
    public enum ResetUnit: String, Sendable {
        case milliseconds = "ms"
        case seconds = "s"
    }

    /// Requests per hour for the key (sources disagree; apis.md suggests 5,000 for a fake).
    public var requestsPerHour = 5000
    /// Complexity points per hour (apis.md suggests 3,000,000 for a fake).
    public var complexityPerHour = 3_000_000
    /// Largest complexity of one query.
    public var maxComplexityPerQuery = 10_000
    /// Length of the rate windows in seconds (an hour; shorter in tests).
    public var windowSeconds: TimeInterval = 3600
    /// HTTP status of a RATELIMITED answer: 400 per a third-party reading of the docs [3P]; 429 is what the SDK also handles.
    public var rateLimitStatus = 400
    /// Add `Retry-After` (seconds) to RATELIMITED answers (the SDK reads it; Linear is not documented to send it).
    public var rateLimitRetryAfter = false
    /// Unit of the reset headers.
    public var resetUnit: ResetUnit = .milliseconds
    /// HTTP status when authentication fails (the body is Linear's "authentication error"); 400 is the alternative [U].
    public var authFailureStatus = 401
    /// The OAuth access token accepted as `Authorization: Bearer <token>` (the API key is sent bare).
    public var oauthToken = "lin_oauth_sandbox"
    /// Require client-supplied issue ids to be UUID version 4 (the schema says "UUID v4 format"; whether the
    /// server checks the version nibble is [U]). When false any 8-4-4-4-12 hex id is taken.
    public var requireUUIDv4 = true
    /// What a repeated client-supplied id does.
    public var duplicateID: DuplicateID = .error
    /// Teams of the workspace: (key, name); ids follow from the seed.
    public var teams: [(key: String, name: String)] = [("ENG", "Engineering"), ("GRO", "Growth"), ("OPS", "Operations")]
    /// Labels each team starts with.
    public var teamLabels = ["bug", "dead-letter", "rate-limit", "cmo"]
    /// The clock used for rate windows.
    public var clock: ServiceKit.Clock = { Date() }
    /// The start of the deterministic write clock (`createdAt`).
    public var epoch = Date(timeIntervalSince1970: 1_795_000_000)

    /// The defaults described above.
    public init() {}
}
