import Foundation

/// The fake GitHub (REST and GraphQL) over a generated world: authentication, the primary buckets
/// and the secondary limit with their real headers, ETags and free 304s, and the endpoints in apis.md §1.
public final class GitHubService: SandboxService, SandboxObservable, @unchecked Sendable {
    public let name = "github"
    public let pathPrefix = "/github"
    let world: World
    let stats: SandboxStats
    let token: String
    let options: GitHubOptions
    let limiter: GitHubRateLimiter

    /// The result of an endpoint before rate-limit headers, ETags and quota are applied.
    struct Reply {
        var status: Int
        var body: Any
        var headers: [(name: String, value: String)] = []
        /// Sent as `last-modified`; `If-Modified-Since` at or after it gives a free 304.
        var lastModified: Int64? = nil
    }

    /// A fake GitHub serving `world`; `token` is the only credential accepted.
    public init(world: World, stats: SandboxStats, token: String, options: GitHubOptions = GitHubOptions()) {
        self.world = world
        self.stats = stats
        self.token = token
        self.options = options
        self.limiter = GitHubRateLimiter(options: options)
    }

    public func handle(_ request: SandboxRequest) -> SandboxResponse? {
        guard let credential = authenticate(request) else {
            stats.recordRequest(service: name, endpoint: "401")
            return .sortedJSON(
                401, GitHubJSON.error(401, "Bad credentials", docs: "https://docs.github.com/rest"),
                headers: limiter.headers(credential: "", resource: "core"))
        }
        if options.requireUserAgent && (request.header("user-agent") ?? "").isEmpty {
            stats.recordRequest(service: name, endpoint: "403 (no User-Agent)")
            return .sortedJSON(
                403,
                [
                    "message":
                        "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes."
                ])
        }
        if request.path == "/graphql" { return graphQL(request, credential: credential) }
        let method = request.method == "HEAD" ? "GET" : request.method
        guard let route = restRoute(method: method, path: request.path) else {
            stats.recordRequest(service: name, endpoint: "\(request.method) (unknown)")
            return .sortedJSON(
                404, GitHubJSON.error(404, "Not Found", docs: "https://docs.github.com/rest"),
                headers: limiter.headers(credential: credential, resource: "core"))
        }
        stats.recordRequest(service: name, endpoint: route.endpoint)
        let free = route.endpoint == "GET /rate_limit"
        if let rejection = checkLimits(
            request, credential: credential, resource: route.resource, endpoint: route.endpoint, cost: 1, free: free)
        {
            return rejection
        }
        let reply = invalidParameters(route.endpoint, request) ?? route.produce(request)
        var headers = reply.headers
        headers.append(("x-github-api-version-selected", "2022-11-28"))
        headers.append(("x-github-media-type", "github.v3; format=json"))
        let empty = reply.body is NoContent
        let body = empty ? [] : SandboxResponse.sortedJSON(reply.status, reply.body).body
        if method == "GET" && reply.status == 200 {
            let etag = Self.etag(body)
            headers.append(("etag", etag))
            if let modified = reply.lastModified { headers.append(("last-modified", WorldTime.httpDate(modified))) }
            // If-None-Match wins over If-Modified-Since when both are sent (RFC 9110 §13.2.2).
            let fresh =
                request.header("if-none-match").map { Self.matches($0, etag) }
                ?? zip(request.header("if-modified-since").flatMap(WorldTime.parseHTTPDate), reply.lastModified).map { $0 >= $1 }
                ?? false
            if fresh, !(options.conditionalRequiresAuth && credential.isEmpty) {
                stats.recordNotModified(service: name)
                return SandboxResponse(status: 304, headers: limiter.headers(credential: credential, resource: route.resource) + headers)
            }
        }
        if !free {
            limiter.spend(credential: credential, resource: route.resource, cost: 1)
            stats.recordQuota(service: name, bucket: route.resource, cost: 1)
        }
        return SandboxResponse(
            status: reply.status,
            headers: (empty ? [] : [("content-type", "application/json; charset=utf-8")])
                + limiter.headers(credential: credential, resource: route.resource) + headers, body: body)
    }

    /// nil for a wrong token; "" for no `Authorization` header (unauthenticated limits); "token" otherwise.
    func authenticate(_ request: SandboxRequest) -> String? {
        guard let auth = request.header("authorization") else { return "" }
        let parts = auth.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        let scheme = parts[0].lowercased()
        guard scheme == "bearer" || (scheme == "token" && options.acceptTokenScheme), parts[1] == token else { return nil }
        return "token"
    }

    /// The secondary and primary checks shared by REST and GraphQL; a rejection is a violation.
    func checkLimits(
        _ request: SandboxRequest, credential: String, resource: String, endpoint: String, cost: Int, free: Bool
    ) -> SandboxResponse? {
        switch limiter.check(credential: credential, resource: resource, endpoint: endpoint, inFlight: request.inFlight, cost: cost) {
        case .secondary(let retryAfter, let tripped):
            let why =
                tripped
                ? (request.inFlight > options.secondaryConcurrency
                    ? "with \(request.inFlight) requests in flight" : "over the points per minute")
                : "during a secondary-limit penalty"
            // The request that trips the limit is rejected but is no violation: it was not sent during a penalty.
            if !tripped { stats.recordViolation(service: name, bucket: "secondary", detail: "\(request.method) \(request.path) \(why)") }
            var headers = limiter.headers(credential: credential, resource: resource)
            if options.secondaryRetryAfter { headers.append(("retry-after", "\(retryAfter)")) }
            return .sortedJSON(
                options.secondaryStatus,
                GitHubJSON.error(
                    options.secondaryStatus,
                    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000:SANDBOX.",
                    docs: "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits"),
                headers: headers)
        case .primaryExhausted where !free && resource != "graphql":
            stats.recordViolation(
                service: name, bucket: resource, detail: "\(request.method) \(request.path) with the \(resource) bucket exhausted")
            return .sortedJSON(
                options.primaryStatus,
                GitHubJSON.error(
                    options.primaryStatus,
                    "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID 0000:0000:SANDBOX.",
                    docs: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"),
                headers: limiter.headers(credential: credential, resource: resource))
        default:
            return nil
        }
    }

    /// A weak ETag over the body, stable across runs.
    static func etag(_ body: [UInt8]) -> String {
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x8422_2325_cbf2_9ce4
        for byte in body {
            a = (a ^ UInt64(byte)) &* 0x100_0000_01b3
            b = (b ^ UInt64(byte)) &* 0x100_0000_01b3 ^ (b >> 29)
        }
        return "W/\"" + String(a, radix: 16).leftPad(16) + String(b, radix: 16).leftPad(16) + "\""
    }

    /// `If-None-Match` semantics: a list of tags, `*`, weak comparison.
    static func matches(_ header: String?, _ etag: String) -> Bool {
        guard let header else { return false }
        func strip(_ s: Substring) -> Substring { s.hasPrefix("W/") ? s.dropFirst(2) : s }
        let mine = strip(Substring(etag))
        return header.split(separator: ",").contains { tag in
            let t = tag.trimmingCharacters(in: .whitespaces)
            return t == "*" || strip(Substring(t)) == mine
        }
    }

    public func reset() { limiter.reset() }

    public func statsExtras() -> [String: Any] {
        var extras = limiter.snapshot()
        // How long building GitHub's schema took (null until the first GraphQL request).
        extras["schema_build_seconds"] = GraphQLSDL.github.loadSeconds ?? NSNull()
        return extras
    }
}

/// Both values, or nil.
func zip<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}

/// An endpoint's reply without a body (204).
struct NoContent {}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
