import CMOBasics
import CMOStorage
import Foundation

/// One HTTP request for `HTTPClient`.
public struct HTTPRequest: Sendable {
    /// `GET`, `POST`, … (upper case).
    public var method: String
    public var url: String
    /// Extra request headers in order; `User-Agent` is set by the client.
    public var headers: [(String, String)]
    public var body: [UInt8]?
    /// The rate-limit bucket this request spends (`core`, `search`, `graphql`, a service name);
    /// nil lets the client learn it from `x-ratelimit-resource`.
    public var bucket: String?
    /// Send `If-None-Match` with a stored ETag and answer a 304 from the cache (GET only).
    public var conditional: Bool
    /// Whether a failure that may have reached the server can be retried. False for writes that
    /// are not idempotent; those are retried only when the request provably did not land.
    public var retryable: Bool
    /// Sent only when nothing else is in flight to its host, and nothing else is sent to the host
    /// while it is: GitHub's advice against its secondary limits, which have no header to watch.
    public var serial: Bool
    /// How the vendor's responses say "slow down", and how fast to send to it (`ServiceEndpoint`
    /// sets it); nil reads every dialect the client knows (`GenericRateLimits`).
    public var rateLimits: (any RateLimitPolicy)?

    /// A request; `retryable` defaults to true for the idempotent methods of RFC 9110.
    public init(
        method: String = "GET", url: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
        bucket: String? = nil, conditional: Bool = false, retryable: Bool? = nil, serial: Bool = false,
        rateLimits: (any RateLimitPolicy)? = nil
    ) {
        let method = method.uppercased()
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.bucket = bucket
        self.conditional = conditional
        self.retryable = retryable ?? ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"].contains(method)
        self.serial = serial
        self.rateLimits = rateLimits
    }

    /// The value of a request header by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers.last(where: { $0.0.caseInsensitiveCompare(name) == .orderedSame })?.1
    }

    /// Whether a header name looks like it carries a secret (never logged, stored or shown).
    public static func isSecretHeader(_ name: String) -> Bool {
        let n = name.lowercased()
        return ["auth", "token", "secret", "key", "password", "cookie", "session", "signature"].contains { n.contains($0) }
    }
}

/// A final HTTP response (after retries and redirects).
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Response headers, names lower-cased, in the order received.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// True when the server answered 304 and the body came from the ETag cache (status is then 200).
    public var fromCache: Bool
    /// How many times the request was sent.
    public var attempts: Int

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8], fromCache: Bool = false, attempts: Int = 1) {
        self.status = status
        self.headers = headers
        self.body = body
        self.fromCache = fromCache
        self.attempts = attempts
    }

    /// The last value of a header by case-insensitive name.
    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.last(where: { $0.name == n })?.value
    }

    /// The body decoded as UTF-8.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Why a request failed for good; each case knows its exit status.
public enum HTTPError: CMOError, Equatable {
    /// Below HTTP (DNS, connect, timeout, reset, truncated body), still failing after retries. Exit 69.
    case transport(request: String, message: String, attempts: Int)
    /// 5xx (or 408) still failing after retries, or at once for a write that may have landed. Exit 69.
    case serverError(request: String, status: Int, attempts: Int)
    /// 401, or a 403 that is not a rate limit. Exit 77.
    case unauthorized(request: String, status: Int, message: String)
    /// Rate-limited on every attempt. Exit 75.
    case rateLimited(request: String, status: Int, attempts: Int)
    /// A rate limit would need a longer wait than `maxWait`. Exit 75.
    case rateLimitWaitTooLong(request: String, seconds: Double, bucket: String)
    /// The URL cannot be used (malformed, unsupported scheme). Exit 78.
    case invalidURL(request: String, message: String)
    /// The provider says the account has no quota left (OpenAI's 429 `insufficient_quota`): a
    /// billing matter, not a rate limit, so it is not retried. Exit 69.
    case noQuota(request: String, message: String)
    /// Not sent: stdout's reader went away during a rate-limit wait, so nothing would read the
    /// answer. The stage stops as for `OutputClosed`. Exit 0.
    case outputClosed(request: String)

    public var exitStatus: ExitStatus {
        switch self {
        case .transport, .serverError, .noQuota: .unavailable
        case .unauthorized: .noPermission
        case .rateLimited, .rateLimitWaitTooLong: .tempFail
        case .invalidURL: .config
        case .outputClosed: .ok
        }
    }

    /// The request was not sent because the reader downstream had gone.
    public var isOutputClosed: Bool { if case .outputClosed = self { true } else { false } }

    /// Whether re-running later may succeed (for dead-letter records).
    public var retryable: Bool {
        if case .noQuota = self { return false }  // not until someone pays
        return exitStatus == .unavailable || exitStatus == .tempFail
    }

    public var description: String {
        switch self {
        case .transport(let r, let m, let n): "\(r): \(m) (after \(n) \(n == 1 ? "attempt" : "attempts"))"
        case .serverError(let r, let s, let n): "\(r): HTTP \(s) (after \(n) \(n == 1 ? "attempt" : "attempts"))"
        case .unauthorized(let r, let s, let m): "\(r): credentials rejected (HTTP \(s))" + (m.isEmpty ? "" : ": \(m)")
        case .rateLimited(let r, let s, let n): "\(r): still rate-limited (HTTP \(s)) after \(n) attempts"
        case .rateLimitWaitTooLong(let r, let s, let b):
            "\(r): rate limit '\(b)' needs a \(Int(s.rounded(.up)))s wait, longer than --max-wait; re-run later"
        case .invalidURL(let r, let m): "\(r): \(m)"
        case .noQuota(let r, let m):
            "\(r): the model provider says the account has no quota (billing): insufficient_quota" + (m.isEmpty ? "" : " (\(m))")
        case .outputClosed(let r): "\(r): not sent, the reader downstream closed the pipe"
        }
    }
}

/// A notice for the stage's logger. Never carries a header value or a secret.
public enum HTTPEvent: Sendable, CustomStringConvertible {
    /// A request will be sent again after `delay` seconds.
    case retrying(request: String, attempt: Int, reason: String, delay: Double)
    /// A rate limit was hit or found exhausted; nothing is sent to `bucket` until `seconds` from now.
    case rateLimited(bucket: String, seconds: Double, reason: String)
    /// The client is idle, waiting `seconds` for a limit or a back-off to pass.
    case waiting(seconds: Double, reason: String)
    /// The ETag cache failed; requests go on without it.
    case cacheError(String)

    public var description: String {
        switch self {
        case .retrying(let r, let a, let why, let d): "\(r): \(why); retry \(a) in \(Self.seconds(d))"
        case .rateLimited(let b, let s, let why): "rate limit '\(b)': \(why); pausing it for \(Self.seconds(s))"
        case .waiting(let s, let why): "waiting \(Self.seconds(s)) for \(why)"
        case .cacheError(let m): "HTTP cache: \(m)"
        }
    }

    private static func seconds(_ s: Double) -> String { String(format: "%.1fs", s) }
}

/// Counters for a stage's summary line.
public struct HTTPStats: Sendable, Equatable {
    /// Requests put on the wire, retries included.
    public var requestsSent = 0
    /// 304 answers served from the ETag cache (free on GitHub).
    public var notModified = 0
    /// Sends that were retries.
    public var retries = 0
    /// Quota spent per bucket: from `x-ratelimit-used` deltas where sent, else one per non-304 response.
    public var quotaSpent: [String: Int] = [:]
    /// Answers that were a rate limit (a primary or secondary limit, a 429), waited out or not.
    public var rateLimited = 0
    /// Seconds spent idle, waiting for rate limits or back-off.
    public var waitSeconds = 0.0

    public init() {}
}

/// Time as the client sees it; tests swap in a clock whose `sleep` only advances `now`.
public struct HTTPClock: Sendable {
    /// Seconds since the Unix epoch.
    public var now: @Sendable () -> Double
    /// Blocks for the given seconds.
    public var sleep: @Sendable (Double) -> Void

    public init(now: @escaping @Sendable () -> Double, sleep: @escaping @Sendable (Double) -> Void) {
        self.now = now
        self.sleep = sleep
    }

    /// The wall clock and a real sleep.
    public static let system = HTTPClock(
        now: { Date().timeIntervalSince1970 },
        sleep: { s in if s > 0 { Thread.sleep(forTimeInterval: s) } })

    /// Waits `seconds` in slices of at most half a second and returns false as soon as stdout is a
    /// pipe whose reader has gone (nobody will read what the wait was for); true after the full wait.
    public func pause(_ seconds: Double) -> Bool {
        var left = seconds
        while left > 0 {
            if OutputClosed.readerGone() { return false }
            let slice = min(left, 0.5)
            sleep(slice)
            left -= slice
        }
        return !OutputClosed.readerGone()
    }
}

/// How an `HTTPClient` behaves; every time is in seconds.
public struct HTTPClientConfig: Sendable {
    public var userAgent: String
    /// Most transfers in flight at once.
    public var maxConcurrency: Int
    public var connectTimeout: Double
    /// Whole-transfer limit, body included.
    public var totalTimeout: Double
    /// Retries after the first attempt before giving up.
    public var maxRetries: Int
    /// Back-off before retry n is uniform in 0…min(cap, base·2^(n-1)) (full jitter).
    public var backoffBase: Double
    public var backoffCap: Double
    /// Longest single rate-limit wait allowed; a longer one fails with exit 75.
    public var maxWait: Double
    /// Wait after a secondary rate limit that names no `retry-after` (doubles on each repeat).
    public var secondaryLimitWait: Double
    /// Redirects followed for GET and HEAD.
    public var maxRedirects: Int
    /// SQLite file for the ETag cache; nil disables it.
    public var cachePath: String?
    /// Cache size past which least-recently-used entries are dropped.
    public var cacheMaxBytes: Int
    /// The workspace's shared limits in an SQLite file: request pacing reserved with every other process,
    /// and host penalties kept for them and for later runs. Stages set `limitsEnvironment` instead; with
    /// both nil the client keeps both in its memory only. A team database (`CMO_DATABASE_URL` in
    /// `limitsEnvironment`, else in the process's environment) wins over the file.
    public var limitsPath: String?
    /// The environment whose storage backend holds the workspace's shared limits (`StorageBackend`:
    /// the team's PostgreSQL database, else `http-limits.sqlite` in its state directory, or `limitsPath`
    /// when set); what stages use. nil: only `limitsPath`, if set.
    public var limitsEnvironment: [String: String]?
    /// Seconds added to each client-side pacing window (Instantly, Attio), for the jitter between
    /// sending a request and its arrival; 0 paces exactly to the documented windows.
    public var pacingMargin: Double
    public var clock: HTTPClock

    public init(
        userAgent: String = "cmo/\(CMOVersion.string)", maxConcurrency: Int = 8, connectTimeout: Double = 10,
        totalTimeout: Double = 60, maxRetries: Int = 5, backoffBase: Double = 0.5, backoffCap: Double = 30,
        maxWait: Double = 300, secondaryLimitWait: Double = 60, maxRedirects: Int = 5,
        cachePath: String? = HTTPClientConfig.defaultCachePath(), cacheMaxBytes: Int = 256 << 20,
        limitsPath: String? = nil, limitsEnvironment: [String: String]? = nil, pacingMargin: Double = 0.05,
        clock: HTTPClock = .system
    ) {
        self.userAgent = userAgent
        self.maxConcurrency = maxConcurrency
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.maxRetries = maxRetries
        self.backoffBase = backoffBase
        self.backoffCap = backoffCap
        self.maxWait = maxWait
        self.secondaryLimitWait = secondaryLimitWait
        self.maxRedirects = maxRedirects
        self.cachePath = cachePath
        self.cacheMaxBytes = cacheMaxBytes
        self.limitsPath = limitsPath
        self.limitsEnvironment = limitsEnvironment
        self.pacingMargin = pacingMargin
        self.clock = clock
    }

    /// `$CMO_STATE_DIR/http-cache.sqlite` (see `StateDirectory`).
    public static func defaultCachePath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        StateDirectory.path(environment: environment) + "/http-cache.sqlite"
    }
}

extension HTTPError {
    /// A rate limit's wait, for the agent (cmo-plan waits it out): `wait_seconds` and `rate_limit`.
    public var logFields: [String: JSONValue] {
        guard case .rateLimitWaitTooLong(_, let s, let b) = self else { return [:] }
        return ["wait_seconds": .int(Int(s.rounded(.up))), "rate_limit": .string(b)]
    }
}
