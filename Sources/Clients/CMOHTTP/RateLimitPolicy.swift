import Foundation

// A vendor's rate-limit dialect, apart from the client's mechanics (docs/http.md):
//
//   HTTPClient.judge     retries, back-off with full jitter, host penalties, buckets, the gate
//   RateLimitPolicy      how one vendor's responses say "slow down", and how fast to send to it
//
// A request carries its policy (`HTTPRequest.rateLimits`, set by `ServiceEndpoint.request`); one
// without gets `GenericRateLimits`, which reads every dialect the client knows, as before policies.

/// One response as a rate-limit policy reads it.
public struct RateLimitResponse: Sendable {
    public var status: Int
    /// Names lower-cased, in the order received.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Epoch seconds when it arrived, on the client's clock.
    public var now: Double

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = [], now: Double) {
        self.status = status
        self.headers = headers.map { ($0.name.lowercased(), $0.value) }
        self.body = body
        self.now = now
    }

    /// The last value of a header (name in lower case), trimmed.
    public func header(_ name: String) -> String? {
        headers.last(where: { $0.name == name })?.value.trimmingCharacters(in: .whitespaces)
    }

    /// A header's number, or nil.
    public func number(_ name: String) -> Double? { header(name).flatMap { Double($0) } }
}

/// What a response means for rate limiting, as a policy reads it.
public enum RateLimitVerdict: Sendable, Equatable {
    /// Not a throttle: the client judges the status as any other (success, 401, 5xx, …).
    case notLimited
    /// The account has no quota (billing): retrying cannot help. `HTTPError.noQuota`, exit 69.
    case noQuota
    /// A bucket is empty (GitHub's primary limit): send again after `wait` seconds (nil: back off).
    case bucketExhausted(wait: Double?)
    /// The host is throttled: nothing starts on it for `wait` seconds (nil: `secondaryLimitWait`,
    /// doubling on each repeat), then one request probes before the rest follow.
    case hostPenalty(wait: Double?, reason: String)
    /// Throttled: the host pauses for a named `wait`, or without one the request backs off
    /// exponentially with full jitter.
    case throttled(wait: Double?, reason: String)
}

/// The response headers that carry a bucket's state (GitHub's `x-ratelimit-*`, Linear's
/// `x-ratelimit-requests-*`); reset values are epoch seconds, or milliseconds above 10¹².
public struct RateLimitHeaders: Sendable, Equatable {
    public var remaining: String
    public var reset: String
    public var used: String?
    /// Names the bucket (`core`, `search`, `graphql`); without it the request's `bucket` does.
    public var resource: String?
    /// The reset is a duration from the answer (OpenAI's `6m0s`), not an epoch time.
    public var resetIsDuration: Bool

    public init(remaining: String, reset: String, used: String? = nil, resource: String? = nil, resetIsDuration: Bool = false) {
        self.remaining = remaining
        self.reset = reset
        self.used = used
        self.resource = resource
        self.resetIsDuration = resetIsDuration
    }

    /// GitHub's `x-ratelimit-remaining`, `-reset`, `-used`, `-resource`.
    public static let github = RateLimitHeaders(
        remaining: "x-ratelimit-remaining", reset: "x-ratelimit-reset", used: "x-ratelimit-used", resource: "x-ratelimit-resource")
    /// Linear's request budget: `x-ratelimit-requests-remaining`, `-reset`.
    public static let linearRequests = RateLimitHeaders(remaining: "x-ratelimit-requests-remaining", reset: "x-ratelimit-requests-reset")
    /// OpenAI's request budget: `x-ratelimit-remaining-requests`, and `x-ratelimit-reset-requests` as a duration.
    public static let openAIRequests = RateLimitHeaders(
        remaining: "x-ratelimit-remaining-requests", reset: "x-ratelimit-reset-requests", resetIsDuration: true)
}

/// A client-side limit for a vendor that documents one and sends no headers for it: at most
/// `requests` sends in any `seconds` (a sliding window over this client's sends to the host).
public struct PaceLimit: Sendable, Equatable, CustomStringConvertible {
    /// Which budget of the host (`requests`, `writes`, `reads`); limits of one name share a window.
    public var name: String
    public var requests: Int
    public var seconds: Double

    public init(_ name: String, requests: Int, per seconds: Double) {
        self.name = name
        self.requests = requests
        self.seconds = seconds
    }

    public var description: String { "\(requests) \(name) per \(seconds == 1 ? "second" : seconds == 60 ? "minute" : "\(seconds)s")" }
}

/// How one vendor says "slow down", and how fast a client may send to it.
public protocol RateLimitPolicy: Sendable {
    /// For logs and docs (`github`, `generic`).
    var name: String { get }
    /// Headers that report a bucket's state, or nil when the vendor sends none.
    var bucketHeaders: RateLimitHeaders? { get }
    /// Seconds the server asks to wait, if it names a wait.
    func retryAfter(_ response: RateLimitResponse) -> Double?
    /// Whether a response is a throttle, and what kind.
    func classify(_ response: RateLimitResponse) -> RateLimitVerdict
    /// The client-side limits a request counts against (none where the vendor sends headers).
    func pacing(for request: HTTPRequest) -> [PaceLimit]
    /// Whether the budget the headers report is the workspace's, so that every process takes its
    /// requests from it in the workspace's limits (Linear's); false where each process holds its own
    /// credential's budget apart (GitHub's tokens take turns on one machine). With limits that span
    /// machines (a team database) every budget the headers report is shared by credential regardless.
    var sharesBuckets: Bool { get }
}

extension RateLimitPolicy {
    public var bucketHeaders: RateLimitHeaders? { nil }
    public func retryAfter(_ response: RateLimitResponse) -> Double? { RateLimitDialect.retryAfter(response) }
    public func pacing(for request: HTTPRequest) -> [PaceLimit] { [] }
    public var sharesBuckets: Bool { false }
}

/// The pieces vendors' dialects are made of, shared by the policies.
public enum RateLimitDialect {
    /// `Retry-After` as delta-seconds or as an HTTP date (RFC 9110), in seconds from `now`. An HTTP date
    /// names whole seconds: a reset at 12:00:00.7 written as 12:00:00 has not happened at 12:00:00.3, so a
    /// date in the current second (or the one just past) means the end of that second, not "now" — else
    /// the client resends at once into the same window (Attio's 25 writes a second did exactly that).
    public static func retryAfter(_ r: RateLimitResponse) -> Double? {
        guard let value = r.header("retry-after") else { return nil }
        if let seconds = Double(value) { return max(0, seconds) }
        return curlParseHTTPDate(value).map { date in
            let wait = date - r.now
            return wait >= 1 ? wait : max(0, date + 1 - r.now)
        }
    }

    /// OpenAI's `retry-after-ms` (milliseconds, non-standard) when sent, else `Retry-After`.
    public static func retryAfterMilliseconds(_ r: RateLimitResponse) -> Double? {
        if let ms = r.number("retry-after-ms") { return max(0, ms / 1000) }
        return retryAfter(r)
    }

    /// Seconds until an epoch reset header (seconds, or milliseconds above 10¹²).
    public static func untilReset(_ r: RateLimitResponse, _ name: String) -> Double? {
        r.number(name).map { max(0, RateLimits.epochSeconds($0) - r.now) }
    }

    /// GitHub's primary limit: 403/429 with `x-ratelimit-remaining: 0`, or a GraphQL 200 whose
    /// `errors` hold `type: RATE_LIMITED` with it. The wait is `Retry-After`, else the reset.
    static func githubPrimary(_ r: RateLimitResponse, retryAfter: Double?) -> RateLimitVerdict? {
        guard r.header("x-ratelimit-remaining") == "0",
            r.status == 403 || r.status == 429 || (r.status == 200 && isGraphQLRateLimited(r.body))
        else { return nil }
        return .bucketExhausted(wait: retryAfter ?? untilReset(r, "x-ratelimit-reset"))
    }

    /// GitHub's secondary limits (403/429 naming a wait, or whose body says so), and any 403/429
    /// with `Retry-After`: the host pauses.
    static func githubSecondary(_ r: RateLimitResponse, retryAfter: Double?) -> RateLimitVerdict? {
        guard r.status == 403 || r.status == 429 else { return nil }
        let secondaryText = mentionsSecondaryLimit(r.body)
        guard secondaryText || retryAfter != nil else { return nil }
        return .hostPenalty(
            wait: retryAfter, reason: secondaryText ? "secondary rate limit (HTTP \(r.status))" : "HTTP \(r.status) with retry-after")
    }

    /// A 429 naming a wait pauses the host for it; a bare one backs off with jitter.
    static func plain429(_ r: RateLimitResponse, retryAfter: Double?, vendor: String? = nil) -> RateLimitVerdict? {
        guard r.status == 429 else { return nil }
        if let retryAfter { return .hostPenalty(wait: retryAfter, reason: "HTTP 429 with retry-after") }
        return .throttled(wait: nil, reason: "HTTP 429 rate limited" + (vendor.map { " (\($0) names no wait)" } ?? ""))
    }

    static func isGraphQLRateLimited(_ body: [UInt8]) -> Bool {
        guard body.count < 1 << 20, String(decoding: body, as: UTF8.self).contains("RATE_LIMITED"),
            let errors = (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["errors"] as? [[String: Any]]
        else { return false }
        return errors.contains { $0["type"] as? String == "RATE_LIMITED" }
    }

    /// Linear's GraphQL error: `extensions.code == "RATELIMITED"` or `extensions.type == "ratelimited"`.
    static func isLinearRateLimited(_ body: [UInt8]) -> Bool {
        guard body.count < 1 << 20, String(decoding: body, as: UTF8.self).lowercased().contains("ratelimited"),
            let errors = (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["errors"] as? [[String: Any]]
        else { return false }
        return errors.contains {
            let ext = $0["extensions"] as? [String: Any]
            return ext?["code"] as? String == "RATELIMITED" || (ext?["type"] as? String)?.lowercased() == "ratelimited"
        }
    }

    /// OpenAI's billing refusal: a 429 whose `error.type` or `error.code` is `insufficient_quota`.
    static func isBillingQuotaExhausted(status: Int, body: [UInt8]) -> Bool {
        guard status == 429, body.count < 1 << 20, String(decoding: body, as: UTF8.self).contains("insufficient_quota"),
            let error = (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["error"] as? [String: Any]
        else { return false }
        return error["type"] as? String == "insufficient_quota" || error["code"] as? String == "insufficient_quota"
    }

    static func mentionsSecondaryLimit(_ body: [UInt8]) -> Bool {
        body.count < 1 << 20 && String(decoding: body, as: UTF8.self).lowercased().contains("secondary rate limit")
    }

    /// An OpenAI reset duration (`1s`, `12ms`, `6m0s`, `1h2m3.5s`) in seconds.
    public static func duration(_ text: String) -> Double? {
        var total = 0.0
        var number = ""
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { return nil }
        while let c = rest.first {
            if c.isNumber || c == "." {
                number.append(c)
                rest.removeFirst()
                continue
            }
            guard let value = Double(number) else { return nil }
            number = ""
            if rest.hasPrefix("ms") {
                total += value / 1000
                rest.removeFirst(2)
            } else if rest.hasPrefix("h") {
                total += value * 3600
                rest.removeFirst()
            } else if rest.hasPrefix("m") {
                total += value * 60
                rest.removeFirst()
            } else if rest.hasPrefix("s") {
                total += value
                rest.removeFirst()
            } else {
                return nil
            }
        }
        if !number.isEmpty {
            guard let value = Double(number) else { return nil }
            total += value  // bare seconds
        }
        return total
    }
}
