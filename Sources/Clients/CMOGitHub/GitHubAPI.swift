import CMOBasics
import CMOHTTP
import Foundation

/// Where GitHub is and who we are: `GITHUB_API_URL` (github.com, GitHub Enterprise Server, or the
/// sandbox) and `GITHUB_TOKEN`, read once in a stage's `configure`. A view of the `.github`
/// `ServiceEndpoint`, which builds the requests.
public struct GitHubEndpoint: Sendable {
    public let service: ServiceEndpoint
    public var restBase: String { service.baseURL }
    /// `/graphql`; GitHub Enterprise Server's `/api/graphql` beside REST's `/api/v3`.
    public var graphQLURL: String { service.graphQLURL }

    public init(_ service: ServiceEndpoint) { self.service = service }

    /// Reads the base URL and the token; a missing token is a configuration error (exit 78).
    public static func resolve(_ settings: Settings) throws -> GitHubEndpoint {
        GitHubEndpoint(try ServiceEndpoint.resolve(.github, settings: settings))
    }
}

/// A GraphQL answer: `data` (possibly partial) and `errors`.
public struct GraphQLReply: Sendable {
    public var data: JSONValue?
    public var errors: [JSONValue]
    /// `rateLimit.cost` when the query asked for it.
    public var cost: Int?
    /// Error types of the reply (`NOT_FOUND`, …).
    public var errorTypes: [String] { errors.compactMap { $0["type"]?.stringValue } }
}

/// A REST answer decoded as JSON, with the `Link` header's next page.
public struct RESTReply: Sendable {
    public var status: Int
    public var json: JSONValue?
    public var next: String?
    public var fromCache: Bool
}

/// GitHub REST and GraphQL over the shared `HTTPClient`: headers, `Link` pagination, JSON decoding,
/// and GraphQL replies judged from the body (errors, shrink-worthy failures), not the status.
public final class GitHubAPI {
    public let endpoint: GitHubEndpoint
    public let http: HTTPClient
    /// GraphQL points reported by `rateLimit.cost`, and queries sent.
    public private(set) var graphQLPoints = 0
    public private(set) var graphQLQueries = 0
    /// REST calls made (304s included).
    public private(set) var restCalls = 0
    /// What is known of each bucket (`core`, `search`, `graphql`): points left and reset (epoch seconds),
    /// from `/rate_limit` and GraphQL's `rateLimit`. The HTTP client gates on response headers; this
    /// covers what headers cannot tell: the state before a run's first request, and GraphQL costs above 1.
    public internal(set) var buckets: [String: (remaining: Int, reset: Double)] = [:]
    /// The highest GraphQL cost seen, to keep queries in flight within the points left.
    public private(set) var lastCost = 1
    private var checked = Set<String>()
    let logger: Logger?

    public init(_ endpoint: GitHubEndpoint, http: HTTPClient, logger: Logger? = nil) {
        self.endpoint = endpoint
        self.http = http
        self.logger = logger
    }

    /// Reads `/rate_limit` (free against the primary limit) and waits for any of `resources` that is
    /// empty — or fails with 75 when that is longer than `--max-wait` — so that a re-run after a
    /// stop never sends into a bucket an earlier run emptied.
    public func preflight(_ resources: [String]) throws {
        let resources = resources.filter { !checked.contains($0) }
        guard !resources.isEmpty else { return }
        checked.formUnion(resources)
        var request = endpoint.service.request("GET", "/rate_limit")
        request.serial = true
        let response = try http.perform(request)
        restCalls += 1
        var body = response.body
        guard response.status == 200, let json = try? JSONScanner.parse(bytes: &body) else { return }  // GHES may not limit
        for r in resources {
            if let b = json["resources"]?[r], let remaining = b["remaining"]?.intValue, let reset = b["reset"]?.doubleValue {
                buckets[r] = (remaining, reset)
                if let used = b["used"]?.intValue { http.noteQuotaUsed(url: url("/rate_limit"), bucket: r, used: used, reset: reset) }
            }
            try waitIfEmpty(r, need: 1)
        }
    }

    /// Sleeps until `resource` resets when fewer than `need` points are known to be left.
    func waitIfEmpty(_ resource: String, need: Int) throws {
        guard let b = buckets[resource], b.remaining < need else { return }
        let wait = b.reset - Date().timeIntervalSince1970
        buckets[resource] = nil
        guard wait > 0 else { return }
        if wait > http.config.maxWait {
            throw HTTPError.rateLimitWaitTooLong(request: "GitHub '\(resource)' requests", seconds: wait, bucket: resource)
        }
        logger?.info(
            "rate limit '\(resource)': \(b.remaining) left, \(need) needed; waiting \(String(format: "%.1f", wait))s for the reset")
        guard http.config.clock.pause(wait + 0.25) else { throw OutputClosed() }
    }

    /// A REST URL from a path (`/search/repositories`) and query items, percent-encoded.
    public func url(_ path: String, _ query: [(String, String)] = []) -> String { endpoint.service.url(path, query: query) }

    /// Percent-encodes a query value (RFC 3986 unreserved characters stay).
    public static func encode(_ s: String) -> String { ServiceEndpoint.encode(s) }

    /// GETs with `If-None-Match` from the ETag cache. A failure that ends the stage (401, limits
    /// past `--max-wait`, 5xx after retries) is thrown; other statuses come back as replies.
    public func get(_ urls: [String], bucket: String) throws -> [RESTReply] {
        try getEach(urls, bucket: bucket).map { try $0.get() }
    }

    /// GETs as `get` does, with each URL's failure in its place, so that what did arrive can be used
    /// (and stored) before a failure ends the stage.
    ///
    /// REST requests go one at a time (`serial`): GitHub's secondary limits have no header to watch,
    /// so the only way never to have requests in flight when one trips is not to send them together,
    /// as GitHub's best practices advise. The wire stays busy (keep-alive, no pause between them).
    public func getEach(_ urls: [String], bucket: String) -> [Result<RESTReply, HTTPError>] {
        let requests = urls.map { url in
            var request = endpoint.service.request("GET", url)
            request.bucket = bucket
            request.conditional = true
            request.serial = true
            return request
        }
        restCalls += requests.count
        return http.perform(requests).map { result in
            result.map { response in
                var body = response.body
                let json = body.isEmpty ? nil : try? JSONScanner.parse(bytes: &body)
                return RESTReply(
                    status: response.status, json: json, next: Self.nextLink(response.header("link")), fromCache: response.fromCache)
            }
        }
    }

    /// Sends GraphQL documents in parallel. Each comes back as a reply, or as a failure worth
    /// retrying with a smaller batch (timeouts, 502/504, resource limits). Anything else is thrown.
    public func graphQL(_ documents: [String]) throws -> [Result<GraphQLReply, GraphQLShrink>] {
        let requests = documents.map { doc in
            var request = endpoint.service.request(
                "POST", endpoint.graphQLURL, body: JSONValue.object([JSONMember("query", .string(doc))]).encoded(),
                retryable: false)  // a timed-out query is re-sent smaller, not as it was
            request.bucket = "graphql"
            return request
        }
        graphQLQueries += requests.count
        return try http.perform(requests).map { result -> Result<GraphQLReply, GraphQLShrink> in
            let response: HTTPResponse
            switch result {
            case .success(let r): response = r
            case .failure(.serverError(_, let status, _)):
                // 502/504 is how GitHub says a query took too long; other 5xx are worth a plain retry.
                return .failure(GraphQLShrink(reason: "HTTP \(status)", shrink: status == 502 || status == 504))
            case .failure(.transport(_, let message, _)):
                return .failure(GraphQLShrink(reason: message, shrink: message.contains("imeout") || message.contains("timed out")))
            case .failure(let e): throw e
            }
            var body = response.body
            guard let json = try? JSONScanner.parse(bytes: &body) else {
                if response.status >= 500 { return .failure(GraphQLShrink(reason: "HTTP \(response.status)", shrink: false)) }
                throw ServiceAnswer.unreadable(
                    service: "GitHub", request: "POST \(endpoint.graphQLURL)", status: response.status, notFound: "check GITHUB_API_URL")
            }
            let errors = json["errors"]?.arrayValue ?? []
            var data = json["data"]
            if data == .null { data = nil }
            let reply = GraphQLReply(data: data, errors: errors, cost: data?["rateLimit"]?["cost"]?.intValue)
            if let cost = reply.cost {
                graphQLPoints += cost
                lastCost = max(lastCost, cost)
            }
            if data == nil, reply.errorTypes.contains("RATE_LIMITED") {
                // The query cost more than was left (the client resends only when the header says 0 left).
                let reset = response.header("x-ratelimit-reset").flatMap { Double($0) } ?? Date().timeIntervalSince1970 + 60
                buckets["graphql"] = (0, reset)
                return .failure(GraphQLShrink(reason: "GraphQL points exhausted", shrink: false, rateLimited: true))
            }
            if let limit = data?["rateLimit"], let remaining = limit["remaining"]?.intValue,
                let reset = limit["resetAt"]?.stringValue.flatMap(GitHubTime.parse)?.timeIntervalSince1970
            {
                // Replies to parallel queries come in any order: within one window the lowest count wins.
                let known = buckets["graphql"]
                buckets["graphql"] =
                    known.map { $0.reset == reset ? (min($0.remaining, remaining), reset) : (remaining, reset) } ?? (remaining, reset)
            }
            let shrinkTypes: Set<String> = ["MAX_NODE_LIMIT_EXCEEDED", "RESOURCE_LIMITS_EXCEEDED", "TIMEOUT", "SERVICE_UNAVAILABLE"]
            let messages = errors.compactMap { $0["message"]?.stringValue?.lowercased() }
            if reply.errorTypes.contains(where: shrinkTypes.contains)
                || messages.contains(where: { $0.contains("timeout") || $0.contains("timed out") || $0.contains("something went wrong") })
            {
                return .failure(GraphQLShrink(reason: messages.first ?? "resource limit", shrink: true))
            }
            if data == nil {
                let message = errors.compactMap { $0["message"]?.stringValue }.first.map { TextCleaning.oneLine($0) } ?? "no data"
                if response.status == 401 || response.status == 403 {
                    throw HTTPError.unauthorized(request: "POST \(endpoint.graphQLURL)", status: response.status, message: message)
                }
                if response.status >= 500 { return .failure(GraphQLShrink(reason: "HTTP \(response.status)", shrink: false)) }
                // A query GitHub will not run (parse or validation errors, something it does not have): not "GitHub is down".
                let codes = errors.compactMap { $0["type"]?.stringValue ?? $0["extensions"]?["code"]?.stringValue }
                throw ServiceAnswer.graphQL(
                    service: "GitHub GraphQL", what: "run the query", codes: codes, message: message, httpStatus: response.status)
            }
            return .success(reply)
        }
    }

    /// The `rel="next"` URL of a `Link` header.
    public static func nextLink(_ header: String?) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ",") {
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let first = pieces.first, first.hasPrefix("<"), first.hasSuffix(">") else { continue }
            if pieces.dropFirst().contains(where: { $0.replacingOccurrences(of: " ", with: "") == "rel=\"next\"" }) {
                return String(first.dropFirst().dropLast())
            }
        }
        return nil
    }

    /// A GraphQL string literal.
    public static func literal(_ s: String) -> String { JSONValue.string(s).compactJSON }
}

/// A GraphQL batch that failed but may succeed when sent again: smaller (`shrink`: a timeout, a
/// resource limit, 502/504) or as it was (500, 503, a reset connection).
public struct GraphQLShrink: Error, Sendable {
    public var reason: String
    public var shrink: Bool
    /// The points ran out (`RATE_LIMITED`): wait for the reset, then send it again.
    public var rateLimited = false
}
