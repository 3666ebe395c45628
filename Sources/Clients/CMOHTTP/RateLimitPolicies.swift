import Foundation

// Each vendor's dialect (facts in /work/shared/reference/apis.md; behaviour in docs/http.md).

/// What a request without a policy gets: every dialect the client knows, read from any host
/// (GitHub's headers and limits, `retry-after-ms`, `insufficient_quota`, Linear's `RATELIMITED`).
public struct GenericRateLimits: RateLimitPolicy {
    public init() {}
    public var name: String { "generic" }
    public var bucketHeaders: RateLimitHeaders? { .github }
    public func retryAfter(_ r: RateLimitResponse) -> Double? { RateLimitDialect.retryAfterMilliseconds(r) }

    public func classify(_ r: RateLimitResponse) -> RateLimitVerdict {
        if RateLimitDialect.isBillingQuotaExhausted(status: r.status, body: r.body) { return .noQuota }
        let wait = retryAfter(r)
        if let v = RateLimitDialect.githubPrimary(r, retryAfter: wait) ?? RateLimitDialect.githubSecondary(r, retryAfter: wait) {
            return v
        }
        if r.status == 429 || (r.status == 400 && RateLimitDialect.isLinearRateLimited(r.body)) {
            return .throttled(wait: RateLimitDialect.untilReset(r, "x-ratelimit-requests-reset"), reason: "HTTP \(r.status) rate limited")
        }
        return .notLimited
    }
}

/// GitHub REST and GraphQL: buckets from `x-ratelimit-*`; the primary limit (403/429 with
/// `x-ratelimit-remaining: 0`, or a GraphQL 200 with `RATE_LIMITED`) waits for the reset; secondary
/// limits (a body that says so, or `Retry-After`) pause the host, 60 s doubling when no wait is named.
public struct GitHubRateLimits: RateLimitPolicy {
    public init() {}
    public var name: String { "github" }
    public var bucketHeaders: RateLimitHeaders? { .github }

    public func classify(_ r: RateLimitResponse) -> RateLimitVerdict {
        let wait = retryAfter(r)
        if let v = RateLimitDialect.githubPrimary(r, retryAfter: wait) ?? RateLimitDialect.githubSecondary(r, retryAfter: wait) {
            return v
        }
        return RateLimitDialect.plain429(r, retryAfter: wait) ?? .notLimited
    }
}

/// OpenAI and compatible servers: `insufficient_quota` is billing (not retried); a 429 waits
/// `retry-after-ms`, else `Retry-After`, else the `x-ratelimit-reset-requests`/`-tokens` duration of
/// the budget that is out, else backs off.
public struct OpenAIRateLimits: RateLimitPolicy {
    public init() {}
    public var name: String { "openai" }
    /// The request budget (per organisation, so the workspace's): nothing is sent while it is spent.
    public var bucketHeaders: RateLimitHeaders? { .openAIRequests }
    public var sharesBuckets: Bool { true }
    public func retryAfter(_ r: RateLimitResponse) -> Double? { RateLimitDialect.retryAfterMilliseconds(r) }

    public func classify(_ r: RateLimitResponse) -> RateLimitVerdict {
        guard r.status == 429 else { return .notLimited }
        if RateLimitDialect.isBillingQuotaExhausted(status: r.status, body: r.body) { return .noQuota }
        if let wait = retryAfter(r) { return .hostPenalty(wait: wait, reason: "HTTP 429 with retry-after") }
        let reset = ["requests", "tokens"].compactMap { budget -> Double? in
            guard r.header("x-ratelimit-remaining-\(budget)") == "0" else { return nil }
            return r.header("x-ratelimit-reset-\(budget)").flatMap(RateLimitDialect.duration)
        }.max()
        return .throttled(wait: reset, reason: "HTTP 429 rate limited")
    }
}

/// Instantly API v2: 100 requests a second and 6,000 a minute, workspace-wide, and a bare 429 past
/// them (no headers, no `Retry-After`). The client paces itself under both limits; a 429 backs off
/// with full jitter (or waits `Retry-After`, should one come).
public struct InstantlyRateLimits: RateLimitPolicy {
    public var requestsPerSecond: Int
    public var requestsPerMinute: Int

    public init(requestsPerSecond: Int = 100, requestsPerMinute: Int = 6000) {
        self.requestsPerSecond = requestsPerSecond
        self.requestsPerMinute = requestsPerMinute
    }

    public var name: String { "instantly" }

    public func classify(_ r: RateLimitResponse) -> RateLimitVerdict {
        RateLimitDialect.plain429(r, retryAfter: retryAfter(r), vendor: "Instantly") ?? .notLimited
    }

    public func pacing(for request: HTTPRequest) -> [PaceLimit] {
        [PaceLimit("requests", requests: requestsPerSecond, per: 1), PaceLimit("requests", requests: requestsPerMinute, per: 60)]
    }
}

/// Attio REST v2: 100 reads and 25 writes a second; past them a 429 whose `Retry-After` is an HTTP
/// date (seconds are read too), usually the next second. A 429'd request was not processed, so it
/// is sent again after the wait. Query-style POSTs (`…/query`) count as reads.
public struct AttioRateLimits: RateLimitPolicy {
    public var readsPerSecond: Int
    public var writesPerSecond: Int

    public init(readsPerSecond: Int = 100, writesPerSecond: Int = 25) {
        self.readsPerSecond = readsPerSecond
        self.writesPerSecond = writesPerSecond
    }

    public var name: String { "attio" }

    public func classify(_ r: RateLimitResponse) -> RateLimitVerdict {
        RateLimitDialect.plain429(r, retryAfter: retryAfter(r), vendor: "Attio") ?? .notLimited
    }

    public func pacing(for request: HTTPRequest) -> [PaceLimit] {
        Self.isRead(request)
            ? [PaceLimit("reads", requests: readsPerSecond, per: 1)] : [PaceLimit("writes", requests: writesPerSecond, per: 1)]
    }

    /// GET, HEAD and OPTIONS, and POSTs to a `…/query` path (record and entry queries).
    public static func isRead(_ request: HTTPRequest) -> Bool {
        if ["GET", "HEAD", "OPTIONS"].contains(request.method) { return true }
        let path = request.url.split(separator: "?", maxSplits: 1).first ?? ""
        return request.method == "POST" && path.hasSuffix("/query")
    }
}

/// Linear GraphQL: rate-limited is HTTP 400 (or 429, or any answer) whose `errors[].extensions`
/// say `code: RATELIMITED` or `type: ratelimited`; the wait is `Retry-After`, else the reset of the
/// budget that is out (`x-ratelimit-requests-reset`, `x-ratelimit-complexity-reset`; epoch ms or s).
/// The request budget is a bucket: nothing is sent while `x-ratelimit-requests-remaining` is 0.
public struct LinearRateLimits: RateLimitPolicy {
    public init() {}
    public var name: String { "linear" }
    public var bucketHeaders: RateLimitHeaders? { .linearRequests }
    public var sharesBuckets: Bool { true }

    public func classify(_ r: RateLimitResponse) -> RateLimitVerdict {
        let limited =
            r.status == 429 || ((r.status == 400 || r.status == 200) && RateLimitDialect.isLinearRateLimited(r.body))
        guard limited else { return .notLimited }
        let requests = RateLimitDialect.untilReset(r, "x-ratelimit-requests-reset")
        let complexity = RateLimitDialect.untilReset(r, "x-ratelimit-complexity-reset")
        let complexityOut = r.header("x-ratelimit-complexity-remaining") == "0"
        let requestsOut = r.header("x-ratelimit-requests-remaining") == "0"
        let reset = complexityOut && !requestsOut ? complexity ?? requests : requests ?? complexity
        return .throttled(wait: retryAfter(r) ?? reset, reason: "Linear RATELIMITED (HTTP \(r.status))")
    }
}
