import CMOBasics
import Foundation

/// The services cmo talks to over HTTP.
public enum ServiceKind: String, Sendable, CaseIterable {
    case github, instantly, attio, linear, openai

    /// The environment variable that names the base URL (`GITHUB_API_URL`, …).
    public var baseURLVariable: String {
        switch self {
        case .github: "GITHUB_API_URL"
        case .instantly: "INSTANTLY_API_URL"
        case .attio: "ATTIO_API_URL"
        case .linear: "LINEAR_API_URL"
        case .openai: "OPENAI_BASE_URL"
        }
    }

    /// The config key that names the base URL (`github-api-url`, …).
    public var baseURLKey: String {
        switch self {
        case .openai: "openai-base-url"
        default: rawValue + "-api-url"
        }
    }

    /// The base URL when neither config nor environment names one.
    public var defaultBaseURL: String {
        switch self {
        case .github: "https://api.github.com"
        case .instantly: "https://api.instantly.ai"
        case .attio: "https://api.attio.com"
        case .linear: "https://api.linear.app"
        case .openai: "https://api.openai.com/v1"
        }
    }

    /// The environment variable that holds the secret (never read from a config file or argv).
    public var keyVariable: String {
        switch self {
        case .github: "GITHUB_TOKEN"
        case .instantly: "INSTANTLY_API_KEY"
        case .attio: "ATTIO_API_KEY"
        case .linear: "LINEAR_API_KEY"
        case .openai: "OPENAI_API_KEY"
        }
    }

    /// What a missing key is told (exit 78).
    var missingKeyMessage: String {
        switch self {
        case .github: "GITHUB_TOKEN is not set: export a GitHub token (public read access is enough)"
        case .instantly: "INSTANTLY_API_KEY is not set: export an Instantly API v2 key (Settings, Integrations, API Keys)"
        case .attio: "ATTIO_API_KEY is not set: export an Attio access token (workspace settings, Developers)"
        case .linear: "LINEAR_API_KEY is not set: export a Linear personal API key (Settings, Security & access, API keys)"
        case .openai: "OPENAI_API_KEY is not set: export an API key for --llm (or point OPENAI_BASE_URL at a local server)"
        }
    }

    /// The vendor's rate-limit dialect with its documented pacing rates.
    public var defaultRateLimits: any RateLimitPolicy {
        switch self {
        case .github: GitHubRateLimits()
        case .instantly: InstantlyRateLimits()
        case .attio: AttioRateLimits()
        case .linear: LinearRateLimits()
        case .openai: OpenAIRateLimits()
        }
    }
}

/// Where a service is and who we are to it: base URL (flag-less: config → environment → default),
/// the key (environment only), its auth form and headers, and its rate-limit policy. Resolved once
/// in a stage's `configure`; `request` builds every request the stage sends to it.
public struct ServiceEndpoint: Sendable {
    public let kind: ServiceKind
    /// Without a trailing slash.
    public let baseURL: String
    /// The secret; never logged (`Authorization` is a secret header).
    let key: String?
    /// How the service's responses are read and its requests paced; carried by every request.
    public let rateLimits: any RateLimitPolicy

    /// An endpoint from known parts (tests, or a caller that resolved them itself); `rateLimits`
    /// defaults to the vendor's policy with its documented rates.
    public init(kind: ServiceKind, baseURL: String, key: String?, rateLimits: (any RateLimitPolicy)? = nil) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.kind = kind
        self.baseURL = base
        self.key = key
        self.rateLimits = rateLimits ?? kind.defaultRateLimits
    }

    /// Whether a key was found.
    public var hasKey: Bool { key != nil }

    /// Reads the base URL (config key, then environment variable, then the vendor's default), the
    /// key (environment only) and any pacing overrides. A missing key is a configuration error
    /// (exit 78) naming the variable when `requireKey`; OpenAI's key is required only for
    /// api.openai.com (local servers may run without one; then no `Authorization` is sent).
    public static func resolve(_ kind: ServiceKind, settings: Settings, requireKey: Bool = true) throws -> ServiceEndpoint {
        let key = settings.secret(kind.keyVariable)
        let base: String = try settings.resolve(
            kind.baseURLKey, flag: nil as String?, env: kind.baseURLVariable, default: kind.defaultBaseURL)
        let rateLimits = try ServicePacing.policy(for: kind, settings: settings)
        let needed = requireKey && (kind != .openai || base.contains("api.openai.com"))
        if key == nil, needed { throw StageFailure(.config, kind.missingKeyMessage) }
        return ServiceEndpoint(kind: kind, baseURL: base, key: key, rateLimits: rateLimits)
    }

    /// The GraphQL endpoint: GitHub's `/graphql` (GitHub Enterprise Server: `/api/graphql` beside
    /// REST's `/api/v3`), Linear's `/graphql`.
    public var graphQLURL: String {
        if kind == .github, baseURL.hasSuffix("/api/v3") { return String(baseURL.dropLast(2)) + "graphql" }
        return baseURL + "/graphql"
    }

    /// A URL from a path (`/api/v2/leads`) and query items, each value percent-encoded. A path that
    /// is already a URL (`https://…`, as a `Link` header's next page) is used as it is.
    public func url(_ path: String, query: [(String, String)] = []) -> String {
        var s = path.hasPrefix("https://") || path.hasPrefix("http://") ? path : baseURL + path
        if !query.isEmpty {
            s += (s.contains("?") ? "&" : "?") + query.map { "\($0.0)=\(Self.encode($0.1))" }.joined(separator: "&")
        }
        return s
    }

    /// Percent-encodes a query value: only RFC 3986's unreserved characters (ASCII letters, digits,
    /// `-._~`) stay; everything else, non-ASCII letters included, goes as UTF-8 `%XX`.
    public static func encode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? s
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// The headers every request carries: auth in the vendor's form (`Bearer <key>`; Linear's
    /// personal key bare), `Accept`, GitHub's API version, and `Content-Type: application/json`
    /// with a body.
    public func headers(body: Bool) -> [(String, String)] {
        var headers: [(String, String)] = []
        if let key { headers.append(("Authorization", kind == .linear ? key : "Bearer \(key)")) }
        switch kind {
        case .github: headers += [("Accept", "application/vnd.github+json"), ("X-GitHub-Api-Version", "2022-11-28")]
        default: headers.append(("Accept", "application/json"))
        }
        if body { headers.append(("Content-Type", "application/json")) }
        return headers
    }

    /// A request to `path` with the service's auth and headers, its rate-limit policy, and (except
    /// for GitHub, whose buckets the caller names) the bucket named after the service, so the
    /// summary's quota line says `instantly=…`. `retryable` defaults by method (RFC 9110).
    public func request(
        _ method: String, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil, retryable: Bool? = nil
    ) -> HTTPRequest {
        HTTPRequest(
            method: method, url: url(path, query: query), headers: headers(body: body != nil), body: body,
            bucket: kind == .github ? nil : kind.rawValue, retryable: retryable, rateLimits: rateLimits)
    }
}

/// The pacing rates of the vendors that document limits without headers, overridable per run (for
/// a workspace with other limits, or tests): config key, else environment variable, else the
/// documented rate.
///
/// | setting | environment | default |
/// |---|---|---|
/// | `instantly-requests-per-second` | `CMO_INSTANTLY_REQUESTS_PER_SECOND` | 100 |
/// | `instantly-requests-per-minute` | `CMO_INSTANTLY_REQUESTS_PER_MINUTE` | 6000 |
/// | `attio-reads-per-second` | `CMO_ATTIO_READS_PER_SECOND` | 100 |
/// | `attio-writes-per-second` | `CMO_ATTIO_WRITES_PER_SECOND` | 25 |
public enum ServicePacing {
    /// The vendor's policy with the rates `settings` name.
    public static func policy(for kind: ServiceKind, settings: Settings) throws -> any RateLimitPolicy {
        switch kind {
        case .instantly:
            let d = InstantlyRateLimits()
            return InstantlyRateLimits(
                requestsPerSecond: try rate(settings, "instantly-requests-per-second", d.requestsPerSecond),
                requestsPerMinute: try rate(settings, "instantly-requests-per-minute", d.requestsPerMinute))
        case .attio:
            let d = AttioRateLimits()
            return AttioRateLimits(
                readsPerSecond: try rate(settings, "attio-reads-per-second", d.readsPerSecond),
                writesPerSecond: try rate(settings, "attio-writes-per-second", d.writesPerSecond))
        default:
            return kind.defaultRateLimits
        }
    }

    /// `CMO_` and the key in upper case with underscores (`CMO_ATTIO_WRITES_PER_SECOND`).
    public static func variable(_ key: String) -> String { "CMO_" + key.uppercased().replacingOccurrences(of: "-", with: "_") }

    private static func rate(_ settings: Settings, _ key: String, _ def: Int) throws -> Int {
        let env = variable(key)
        let value = try settings.resolve(key, flag: nil as Int?, env: env, default: def)
        if value < 1 { throw settings.invalid(key, env: env, "must be 1 or more") }
        return value
    }
}
