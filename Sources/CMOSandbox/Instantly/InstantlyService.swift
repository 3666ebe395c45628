import Foundation

/// The sandbox's Instantly API v2 (`/instantly` + `/api/v2/...`): leads (bulk and single, with the
/// `skip_if_*` flags and automatic per-campaign dedupe), lead lookup, campaigns, sending accounts,
/// the workspace rate limit (100/s, 6,000/min, 429 without headers) and the no-plan 402.
public final class InstantlyService: SandboxService, SandboxObservable, @unchecked Sendable {
    public let name = "instantly"
    public let pathPrefix = "/instantly"

    let stats: SandboxStats
    let seed: UInt64
    let token: String
    let options: InstantlyOptions
    let world: InstantlyWorld

    let lock = NSLock()
    var leads: [InstantlyLead] = []
    var secondWindow: ServiceKit.RateWindow
    var minuteWindow: ServiceKit.RateWindow
    var rejected = 0

    /// A workspace whose campaigns, lists and accounts follow from `seed`; `token` is the only valid key.
    public init(stats: SandboxStats, seed: UInt64, token: String, options: InstantlyOptions = .init()) {
        self.stats = stats
        self.seed = seed
        self.token = token
        self.options = options
        world = InstantlyWorld(seed: seed, options: options)
        secondWindow = .init(limit: options.requestsPerSecond, window: 1)
        minuteWindow = .init(limit: options.requestsPerMinute, window: 60)
    }

    /// The seeded campaign ids, in order.
    public var campaignIDs: [String] { world.campaigns.compactMap { $0["id"] as? String } }
    /// The seeded lead list ids, in order.
    public var listIDs: [String] { world.lists.compactMap { $0["id"] as? String } }

    public func handle(_ request: SandboxRequest) -> SandboxResponse? {
        let route = Self.route(request)
        stats.recordRequest(service: name, endpoint: route ?? "\(request.method) (unknown)")
        if options.requireUserAgent, (request.header("user-agent") ?? "").isEmpty {
            return SandboxResponse(
                status: 403, headers: [("content-type", "text/plain; charset=utf-8")],
                body: Array("error code: 1010".utf8))
        }
        guard let presented = ServiceKit.bearer(request), !presented.isEmpty else {
            return Self.error(401, "Missing Authorization header")
        }
        guard presented == token else { return Self.error(401, "Invalid API key") }
        return lock.withLock {
            let now = options.clock()
            let perSecond = secondWindow.take(now: now)
            let perMinute = perSecond.allowed ? minuteWindow.take(now: now) : (allowed: false, remaining: 0, resetAt: now)
            guard perSecond.allowed, perMinute.allowed else {
                rejected += 1
                stats.recordViolation(
                    service: name, bucket: "workspace", detail: "\(request.method) \(request.path) over the workspace limit")
                return Self.error(429, "Rate limit exceeded")
            }
            stats.recordQuota(service: name, bucket: "workspace", cost: 1)
            if options.noPlan { return Self.error(402, "Workspace does not have an active paid plan") }
            return dispatch(request, route: route)
        }
    }

    public func reset() {
        lock.withLock {
            leads = []
            secondWindow.reset()
            minuteWindow.reset()
            rejected = 0
        }
    }

    public func statsExtras() -> [String: Any] {
        lock.withLock {
            ["leads": leads.count, "rejected_429": rejected, "campaign_ids": campaignIDs, "list_ids": listIDs]
        }
    }

    /// The route pattern of a request, or nil when Instantly has no such route.
    static let routes = [
        "POST /api/v2/leads/add", "POST /api/v2/leads/list", "POST /api/v2/leads", "GET /api/v2/leads/{id}",
        "GET /api/v2/campaigns", "GET /api/v2/campaigns/{id}", "GET /api/v2/accounts", "GET /api/v2/accounts/{email}",
    ]

    static func route(_ r: SandboxRequest) -> String? {
        routes.first { route in
            let parts = route.split(separator: " ", maxSplits: 1).map(String.init)
            return parts[0] == r.method && ServiceKit.match(parts[1], r.path) != nil
        }
    }

    private func dispatch(_ r: SandboxRequest, route: String?) -> SandboxResponse {
        let last = r.path.split(separator: "/").last.map(String.init) ?? ""
        switch route {
        case "POST /api/v2/leads/add": return addLeads(r)
        case "POST /api/v2/leads": return addLead(r)
        case "POST /api/v2/leads/list": return listLeads(r)
        case "GET /api/v2/leads/{id}":
            guard let lead = leads.first(where: { $0.id == last }) else { return Self.error(404, "Lead not found") }
            return .json(200, lead.json(organization: world.organization))
        case "GET /api/v2/campaigns": return page(world.campaigns, r, searchKey: "name", cursorKey: "id")
        case "GET /api/v2/campaigns/{id}":
            guard let c = world.campaign(last) else { return Self.error(404, "Resource not found") }
            return .json(200, c)
        case "GET /api/v2/accounts": return page(world.accounts, r, searchKey: "email", cursorKey: "email")
        case "GET /api/v2/accounts/{email}":
            guard let a = world.accounts.first(where: { ($0["email"] as? String) == last.lowercased() }) else {
                return Self.error(404, "Resource not found")
            }
            return .json(200, a)
        default:
            return Self.error(404, "Route \(r.method):\(r.path) not found")
        }
    }

    /// `{items, next_starting_after}` over a seeded collection (`limit` 1–100, `starting_after`, `search`, `status`).
    private func page(_ all: [[String: Any]], _ r: SandboxRequest, searchKey: String, cursorKey: String) -> SandboxResponse {
        var items = all
        if let text = r.queryValue("limit") {
            guard let l = Int(text) else { return Self.error(400, "querystring/limit must be integer") }
            if l < 1 { return Self.error(400, "querystring/limit must be >= 1") }
            if l > 100 { return Self.error(400, "querystring/limit must be <= 100") }
        }
        let limit = Int(r.queryValue("limit") ?? "") ?? 100
        if let s = r.queryValue("search")?.lowercased(), !s.isEmpty {
            items = items.filter { ($0[searchKey] as? String)?.lowercased().contains(s) ?? false }
        }
        if let st = r.queryValue("status").flatMap(Int.init) { items = items.filter { ($0["status"] as? Int) == st } }
        if let after = r.queryValue("starting_after"), let i = items.firstIndex(where: { ($0[cursorKey] as? String) == after }) {
            items = Array(items[(i + 1)...])
        }
        let pageItems = Array(items.prefix(limit))
        return .json(200, listBody(pageItems, more: items.count > limit, cursor: pageItems.last?[cursorKey]))
    }

    /// `{items, next_starting_after}` with the end of the list marked as `options.endOfList` says.
    func listBody(_ items: [Any], more: Bool, cursor: Any?) -> [String: Any] {
        var body: [String: Any] = ["items": items]
        switch options.endOfList {
        case .omitted: if more, let c = cursor { body["next_starting_after"] = c }
        case .null: body["next_starting_after"] = more ? (cursor ?? NSNull()) : NSNull()
        case .lastItem: if let c = cursor { body["next_starting_after"] = c }
        }
        return body
    }

    /// Instantly's error body: `{"statusCode", "error", "message"}`.
    static func error(_ status: Int, _ message: String) -> SandboxResponse {
        let reason: String
        switch status {
        case 400: reason = "Bad Request"
        case 401: reason = "Unauthorized"
        case 402: reason = "Payment Required"
        case 403: reason = "Forbidden"
        case 404: reason = "Not Found"
        case 422: reason = "Unprocessable Entity"
        case 429: reason = "Too Many Requests"
        default: reason = "Internal Server Error"
        }
        return .json(status, ["statusCode": status, "error": reason, "message": message])
    }
}
