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
    /// Positions in `leads` by email: a lookup per item instead of a scan, so a campaign of 10,000
    /// leads answers a batch of 1,000 as fast as the first one did.
    var leadsByEmail: [String: [Int]] = [:]
    var limiter: InstantlyRateLimit
    var rejected = 0
    var violations: [String: Int] = [:]
    /// Per target (`campaign:<id>` or `list:<id>`): items sent for an email already stored there
    /// (`resubmissions`) and repeats of an email inside one `leads/add` payload (`duplicates_in_request`).
    var targetCounts: [String: [String: Int]] = [:]
    /// The clock, the events, the webhooks and their deliveries, the block list (InstantlySchedule.swift).
    var engagement = InstantlyEngagement()
    /// Delivers webhook payloads in the background (InstantlyDelivery.swift).
    let deliveryQueue: InstantlyDeliveryQueue
    /// Deliveries finished (`delivered`, `failed`) and attempts made (`attempts_ok`, `attempts_failed`).
    var deliveryCounters: [String: Int] = [:]

    /// A workspace whose campaigns, lists and accounts follow from `seed`; `token` is the only valid key.
    public init(stats: SandboxStats, seed: UInt64, token: String, options: InstantlyOptions = .init()) {
        self.stats = stats
        self.seed = seed
        self.token = token
        self.options = options
        world = InstantlyWorld(seed: seed, options: options)
        limiter = InstantlyRateLimit(
            perSecond: options.requestsPerSecond, perMinute: options.requestsPerMinute, countRefused: options.rateCountsRefused)
        deliveryQueue = InstantlyDeliveryQueue(options: options.webhookDelivery)
        engagement.blockEntries = seededBlockEntries()
        connectDeliveryQueue()
    }

    /// The seeded campaign ids, in order.
    public var campaignIDs: [String] { world.campaigns.compactMap { $0["id"] as? String } }
    /// The seeded lead list ids, in order.
    public var listIDs: [String] { world.lists.compactMap { $0["id"] as? String } }
    /// The workspace default blocklist's id (`blocklist_used` when a request names none).
    public var defaultBlocklistID: String { world.defaultBlocklistID }
    /// The seeded custom blocklist's id (entries: `options.customBlocklist`).
    public var customBlocklistID: String { world.customBlocklistID }

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
            if let over = limiter.admit(now: options.clock()) {
                rejected += 1
                violations[over.rawValue, default: 0] += 1
                let limit = over == .perSecond ? "\(options.requestsPerSecond)/s" : "\(options.requestsPerMinute)/min"
                stats.recordViolation(
                    service: name, bucket: "workspace_\(over.rawValue)",
                    detail: "\(request.method) \(request.path) over the workspace limit of \(limit)")
                return Self.error(429, "Rate limit exceeded")
            }
            stats.recordQuota(service: name, bucket: "workspace", cost: 1)
            if options.noPlan { return Self.error(402, "Workspace does not have an active paid plan") }
            if let refused = bodyFraming(request) { return refused }
            return dispatch(request, route: route)
        }
    }

    public func reset() {
        lock.withLock {
            leads = []
            leadsByEmail = [:]
            limiter.reset()
            rejected = 0
            violations = [:]
            targetCounts = [:]
            deliveryQueue.reset()
            engagement = InstantlyEngagement()
            engagement.blockEntries = seededBlockEntries()
            deliveryCounters = [:]
        }
    }

    public func statsExtras() -> [String: Any] {
        lock.withLock {
            var campaigns: [String: Any] = [:]
            for (i, c) in world.campaigns.enumerated() {
                let id = c["id"] as! String
                var entry = targetSummary("campaign:\(id)", leads.filter { $0.campaign == id })
                entry["index"] = i
                entry["status"] = c["status"]
                entry["name"] = c["name"]
                campaigns[id] = entry
            }
            var lists: [String: Any] = [:]
            for (i, l) in world.lists.enumerated() {
                let id = l["id"] as! String
                var entry = targetSummary("list:\(id)", leads.filter { $0.listID == id })
                entry["index"] = i
                lists[id] = entry
            }
            let all = Array(campaigns.values) + Array(lists.values)
            func total(_ key: String) -> Int { all.reduce(0) { $0 + (($1 as? [String: Any])?[key] as? Int ?? 0) } }
            let perSecond = violations["per_second"] ?? 0
            let perMinute = violations["per_minute"] ?? 0
            return [
                "leads": leads.count, "rejected_429": rejected,
                "rate_limit_violations": ["per_second": perSecond, "per_minute": perMinute, "total": perSecond + perMinute],
                "campaign_ids": campaignIDs, "list_ids": listIDs, "campaigns": campaigns, "lists": lists,
                "duplicate_leads_total": total("duplicate_leads"), "resubmissions_total": total("resubmissions"),
                "blocklist_ids": ["default": world.defaultBlocklistID, "custom": world.customBlocklistID],
                "clock": ["day": engagement.day, "now": ServiceKit.iso8601(sandboxNow)],
                "events": eventCounts(), "events_total": engagement.events.count,
                "webhooks": engagement.webhooks.map { ["id": $0.id, "status": $0.status, "url": $0.url] },
                "deliveries": deliverySummary(),
                "block_list": [
                    "entries": engagement.blockEntries.count, "duplicate_entries": engagement.blockDuplicates,
                    "distinct_values": Set(engagement.blockValues).count,
                ],
            ]
        }
    }

    /// Counts for one campaign or list: stored leads, distinct emails, stored duplicates (a second lead
    /// with an email already stored there), resubmissions and in-request duplicates.
    private func targetSummary(_ target: String, _ stored: [InstantlyLead]) -> [String: Any] {
        var perEmail: [String: Int] = [:]
        for lead in stored { if let e = lead.email { perEmail[e, default: 0] += 1 } }
        let counts = targetCounts[target] ?? [:]
        return [
            "leads": stored.count, "distinct_emails": perEmail.count,
            "duplicate_leads": perEmail.values.reduce(0) { $0 + max(0, $1 - 1) },
            "resubmissions": counts["resubmissions"] ?? 0, "duplicates_in_request": counts["duplicates_in_request"] ?? 0,
        ]
    }

    /// What Instantly's HTTP framework answers before a handler sees a POST body (its error shape is Fastify's,
    /// so Fastify's content-type rules are assumed [U]): a body that is not `application/json` → 415; an empty
    /// JSON body → 400; a body that does not parse → 400. nil when the body may go on.
    func bodyFraming(_ r: SandboxRequest) -> SandboxResponse? {
        guard r.method == "POST", options.requireJSONContentType else { return nil }
        let type = r.header("content-type") ?? ""
        let mime = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if mime != "application/json" {
            if r.body.isEmpty { return nil }  // no body and no type: the handler sees no body
            return Self.error(415, "Unsupported Media Type: \(type)", code: "FST_ERR_CTP_INVALID_MEDIA_TYPE")
        }
        if r.body.allSatisfy({ [0x20, 0x09, 0x0a, 0x0d].contains($0) }) {
            return Self.error(
                400, "Body cannot be empty when content-type is set to 'application/json'", code: "FST_ERR_CTP_EMPTY_JSON_BODY")
        }
        if ServiceKit.json(r.body) == nil {
            return Self.error(
                400, "Body is not valid JSON but content-type is set to 'application/json'", code: "FST_ERR_CTP_INVALID_JSON_BODY")
        }
        return nil
    }

    /// The route pattern of a request, or nil when Instantly has no such route.
    static let routes = [
        "GET /api/v2/webhooks/event-types", "POST /api/v2/webhooks/{id}/resume", "POST /api/v2/webhooks", "GET /api/v2/webhooks",
        "GET /api/v2/webhooks/{id}", "PATCH /api/v2/webhooks/{id}", "DELETE /api/v2/webhooks/{id}", "GET /api/v2/webhook-events",
        "GET /api/v2/webhook-events/{id}", "GET /api/v2/campaigns/analytics", "POST /api/v2/block-lists-entries/bulk-create",
        "POST /api/v2/block-lists-entries", "GET /api/v2/block-lists-entries",
        "POST /api/v2/leads/add", "POST /api/v2/leads/list", "POST /api/v2/leads/update-interest-status", "POST /api/v2/leads", "GET /api/v2/leads/{id}",
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
        case .some(let webhook) where webhook.contains("/api/v2/webhooks"):
            let parts = r.path.split(separator: "/").map(String.init)  // api v2 webhooks {id} [resume]
            return webhookRoute(r, route: webhook, id: parts.count > 3 ? parts[3] : "")
        case "GET /api/v2/webhook-events": return listWebhookEvents(r)
        case "GET /api/v2/webhook-events/{id}":
            guard let i = engagement.deliveryIndex[last] else { return Self.error(404, "Resource not found") }
            return .json(200, deliveryJSON(engagement.deliveries[i]))
        case "GET /api/v2/campaigns/analytics": return campaignAnalytics(r)
        case .some(let block) where block.contains("/api/v2/block-lists-entries"): return blockListRoute(r, route: block)
        case "POST /api/v2/leads/add": return addLeads(r)
        case "POST /api/v2/leads/update-interest-status": return updateInterestStatus(r)
        case "POST /api/v2/leads": return addLead(r)
        case "POST /api/v2/leads/list": return listLeads(r)
        case "GET /api/v2/leads/{id}":
            guard let lead = leads.first(where: { $0.id == last }) else { return Self.error(404, "Lead not found") }
            return .json(200, leadJSON(lead))
        case "GET /api/v2/campaigns":
            return page(
                world.campaigns, r, searchKey: "name", statuses: [-99, -1, -2, 0, 1, 2, 3, 4], excludeStatus: true,
                cursor: { $0["id"] as? String ?? "" })
        case "GET /api/v2/campaigns/{id}":
            guard let c = world.campaign(last) else { return Self.error(404, "Resource not found") }
            return .json(200, c)
        case "GET /api/v2/accounts":
            // The cursor is `timestamp_created&email` (a bare timestamp is the legacy form), per the spec.
            return page(
                world.accounts, r, searchKey: "email", statuses: [1, 2, 3, -1, -2, -3], excludeStatus: false,
                cursor: { "\($0["timestamp_created"] as? String ?? "")&\($0["email"] as? String ?? "")" })
        case "GET /api/v2/accounts/{email}":
            guard let a = world.accounts.first(where: { ($0["email"] as? String) == last.lowercased() }) else {
                return Self.error(404, "Resource not found")
            }
            return .json(200, a)
        default:
            return Self.error(404, "Route \(r.method):\(r.path) not found")
        }
    }

    /// `{items, next_starting_after}` over a seeded collection (`limit` 1–100, `starting_after`, `search`,
    /// `status`, `exclude_status`), ordered by the cursor so it works as a keyset (`cursor > starting_after`).
    private func page(
        _ all: [[String: Any]], _ r: SandboxRequest, searchKey: String, statuses: Set<Int>, excludeStatus: Bool,
        cursor: ([String: Any]) -> String
    ) -> SandboxResponse {
        var items = all.sorted { cursor($0) < cursor($1) }
        if let text = r.queryValue("limit") {
            guard let l = Int(text) else { return Self.error(400, "querystring/limit must be integer") }
            if l < 1 { return Self.error(400, "querystring/limit must be >= 1") }
            if l > 100 { return Self.error(400, "querystring/limit must be <= 100") }
        }
        let limit = Int(r.queryValue("limit") ?? "") ?? 100
        if let s = r.queryValue("search")?.lowercased(), !s.isEmpty {
            items = items.filter { ($0[searchKey] as? String)?.lowercased().contains(s) ?? false }
        }
        for key in excludeStatus ? ["status", "exclude_status"] : ["status"] {
            guard let text = r.queryValue(key) else { continue }
            guard let st = Double(text).map(Int.init) else { return Self.error(400, "querystring/\(key) must be number") }
            guard statuses.contains(st) else { return Self.error(400, "querystring/\(key) must be equal to one of the allowed values") }
            items = items.filter { (($0["status"] as? Int) == st) == (key == "status") }
        }
        if let after = r.queryValue("starting_after") {
            // A cursor without `&` on accounts is the legacy bare timestamp: what was created after it.
            let legacy = searchKey == "email" && !after.contains("&")
            let known = items.contains { cursor($0) == after || (legacy && cursor($0).hasPrefix(after + "&")) }
            if !known && options.unknownCursor == .reject { return Self.error(400, "Invalid starting_after cursor") }
            items = items.filter { legacy ? String(cursor($0).prefix { $0 != "&" }) > after : cursor($0) > after }
        }
        let pageItems = Array(items.prefix(limit))
        return .json(200, listBody(pageItems, more: items.count > limit, cursor: pageItems.last.map(cursor)))
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

    /// Instantly's error body: `{"statusCode", "error", "message"}`; 429s carry no rate-limit headers.
    static func error(_ status: Int, _ message: String, code: String? = nil) -> SandboxResponse {
        let reason: String
        switch status {
        case 400: reason = "Bad Request"
        case 401: reason = "Unauthorized"
        case 402: reason = "Payment Required"
        case 403: reason = "Forbidden"
        case 404: reason = "Not Found"
        case 415: reason = "Unsupported Media Type"
        case 422: reason = "Unprocessable Entity"
        case 429: reason = "Too Many Requests"
        case 502: reason = "Bad Gateway"
        case 503: reason = "Service Unavailable"
        default: reason = "Internal Server Error"
        }
        var body: [String: Any] = ["statusCode": status, "error": reason, "message": message]
        if let code { body["code"] = code }
        return .json(status, body)
    }
}

extension InstantlyService: SandboxFaultShaping {
    /// An injected 429 is Instantly's own (2.8 body, no `Retry-After`, no rate-limit headers); a 5xx has the same shape.
    public func injectedFault(status: Int) -> SandboxResponse {
        status == 429 ? Self.error(429, "Rate limit exceeded") : Self.error(status, "Sandbox fault")
    }
}

extension InstantlyService: SandboxInspectable {
    /// `GET /_sandbox/instantly/leads` (`campaign`, `list_id`, `email` filters; `format=ndjson`) and
    /// `GET /_sandbox/instantly/campaigns`: what a bench compares with its expected set.
    public func inspect(_ r: SandboxRequest) -> SandboxResponse? {
        if r.method == "POST" && r.path == "/advance" { return lock.withLock { advanceClock(r) } }
        guard r.method == "GET" || r.method == "HEAD" else { return nil }
        switch r.path {
        case "/truth":
            return lock.withLock {
                .json(
                    200,
                    [
                        "events": engagement.events.map(\.truth), "counts": eventCounts(), "day": engagement.day,
                        "now": ServiceKit.iso8601(sandboxNow),
                    ])
            }
        case "/deliveries":
            return lock.withLock { .json(200, deliverySummary()) }
        case "/leads":
            let rows: [[String: Any]] = lock.withLock {
                leads.filter { lead in
                    (r.queryValue("campaign").map { lead.campaign == $0 } ?? true)
                        && (r.queryValue("list_id").map { lead.listID == $0 } ?? true)
                        && (r.queryValue("email").map { lead.email == $0.lowercased() } ?? true)
                }.map(\.inspection)
            }
            if r.queryValue("format") == "ndjson" {
                let text = rows.map { ServiceKit.jsonString($0) + "\n" }.joined()
                return SandboxResponse(status: 200, headers: [("content-type", "application/x-ndjson")], body: Array(text.utf8))
            }
            return .json(200, ["items": rows, "count": rows.count])
        case "/campaigns":
            let rows = world.campaigns.enumerated().map { i, c -> [String: Any] in
                let kind = InstantlyWorld.campaignKinds[i % InstantlyWorld.campaignKinds.count]
                return [
                    "index": i, "id": c["id"]!, "name": c["name"]!, "status": c["status"]!,
                    "custom_variables": kind.variables ? ["cmo_subject", "cmo_body"] : [String](),
                    "insert_unsubscribe_header": kind.unsubscribeHeader, "email_list": c["email_list"]!,
                ]
            }
            return .json(200, ["items": rows])
        default:
            return nil
        }
    }
}

extension InstantlyLead {
    /// One row of `GET /_sandbox/instantly/leads`.
    var inspection: [String: Any] {
        var row: [String: Any] = [
            "id": id, "email": email ?? NSNull(), "campaign": campaign ?? NSNull(), "list_id": listID ?? NSNull(),
            "payload": fields["payload"] ?? NSNull(), "timestamp_created": ServiceKit.iso8601(created), "via": via,
        ]
        var own = fields
        own["payload"] = nil
        row["fields"] = own
        return row
    }
}
