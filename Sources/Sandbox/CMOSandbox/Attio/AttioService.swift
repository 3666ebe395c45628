import Foundation

/// The sandbox's Attio REST v2 (`/attio` + `/v2/...`): people and companies (assert/get/query), the
/// objects' and lists' attributes, lists and list entries (create and assert by parent, entry values
/// checked against the list's attributes), a record's entries, notes; 25 writes/s and 100 reads/s
/// with 429 and an HTTP-date `Retry-After`; Attio's error shape.
public final class AttioService: SandboxService, SandboxObservable, @unchecked Sendable {
    public let name = "attio"
    public let pathPrefix = "/attio"

    let stats: SandboxStats
    let seed: UInt64
    let token: String
    let options: AttioOptions
    let workspaceID: String
    let peopleObjectID: String
    let companiesObjectID: String
    let companyCatalog = AttioCatalog.companies
    let actorID: String
    let catalog: AttioCatalog
    let lists: [AttioList]

    let lock = NSLock()
    var records: [AttioRecord] = []
    var entries: [AttioEntry] = []
    var notes: [AttioNote] = []
    var companies: [AttioRecord] = []
    var injected429 = 0
    var writeClock = 0
    var writeWindow: ServiceKit.RateWindow
    var readWindow: ServiceKit.RateWindow
    var rejected = 0
    var asserts = 0

    /// A workspace whose ids and lists follow from `seed`; `token` is the only valid access token.
    public init(stats: SandboxStats, seed: UInt64, token: String, options: AttioOptions = .init()) {
        self.stats = stats
        self.seed = seed
        self.token = token
        self.options = options
        workspaceID = ServiceKit.uuid(seed: seed, "attio-workspace")
        peopleObjectID = ServiceKit.uuid(seed: seed, "attio-object-people")
        companiesObjectID = ServiceKit.uuid(seed: seed, "attio-object-companies")
        actorID = ServiceKit.uuid(seed: seed, "attio-api-token")
        catalog = AttioCatalog(custom: options.customPeopleAttributes)
        lists = options.lists.enumerated().map { i, l in
            var attributes: [String: AttioAttribute] = [:]
            for (slug, type) in options.listAttributes[l.slug] ?? [:] {
                attributes[slug] = AttioAttribute(
                    slug: slug, type: type, multi: false, unique: false, system: false,
                    options: type == "status" ? options.statusOptions : type == "select" ? options.selectOptions : [])
            }
            return AttioList(id: ServiceKit.uuid(seed: seed, "attio-list-\(i)"), name: l.name, slug: l.slug, attributes: attributes)
        }
        writeWindow = .init(limit: options.writesPerSecond, window: 1)
        readWindow = .init(limit: options.readsPerSecond, window: 1)
    }

    /// The seeded lists' ids, in order.
    public var listIDs: [String] { lists.map(\.id) }

    public func handle(_ request: SandboxRequest) -> SandboxResponse? {
        let route = Self.route(request)
        stats.recordRequest(service: name, endpoint: route?.pattern ?? "\(request.method) (unknown)")
        guard authorized(request) else {
            return Self.error(
                401, type: "auth_error", code: "unauthorized", "Authentication failed: the access token is missing, invalid or revoked.")
        }
        return lock.withLock {
            guard let route else { return Self.error(404, code: "not_found", "Route \(request.method) \(request.path) not found.") }
            let isWrite = route.isWrite || (route.isQuery && options.queriesCountAsWrites)
            let now = options.clock()
            let taken = isWrite ? writeWindow.take(now: now) : readWindow.take(now: now)
            let bucket = isWrite ? "writes" : "reads"
            guard taken.allowed else {
                rejected += 1
                stats.recordViolation(service: name, bucket: bucket, detail: "\(request.method) \(request.path) over \(bucket) per second")
                var r = Self.error(
                    429, type: "rate_limit_error", code: "rate_limit_exceeded", "Rate limit exceeded, please try again later")
                let seconds = max(1, Int((taken.resetAt.timeIntervalSince(now)).rounded(.up)))
                r.headers.append(("retry-after", options.retryAfterSeconds ? String(seconds) : ServiceKit.httpDate(taken.resetAt)))
                return r
            }
            stats.recordQuota(service: name, bucket: bucket, cost: 1)
            return dispatch(request, route)
        }
    }

    public func reset() {
        lock.withLock {
            records = []
            entries = []
            notes = []
            companies = []
            injected429 = 0
            writeClock = 0
            rejected = 0
            asserts = 0
            writeWindow.reset()
            readWindow.reset()
        }
    }

    public func statsExtras() -> [String: Any] {
        lock.withLock {
            var extras: [String: Any] = [
                "records": records.count, "companies": companies.count, "list_entries": entries.count, "notes": notes.count,
                "rejected_429": rejected, "list_ids": listIDs,
            ]
            for (k, v) in duplicateCounts() { extras[k] = v }
            return extras
        }
    }

    /// Bearer, or HTTP Basic with the token as the user name and an empty password.
    private func authorized(_ r: SandboxRequest) -> Bool {
        if let b = ServiceKit.bearer(r) { return b == token }
        guard let h = r.header("authorization"), h.lowercased().hasPrefix("basic "),
            let data = Data(base64Encoded: String(h.dropFirst(6)).trimmingCharacters(in: .whitespaces))
        else { return false }
        return String(decoding: data, as: UTF8.self) == token + ":"
    }

    /// The next instant of the deterministic write clock.
    func tick() -> Date {
        writeClock += 1
        return options.epoch.addingTimeInterval(TimeInterval(writeClock))
    }

    struct Route {
        var pattern: String
        var isWrite: Bool
        var isQuery: Bool
        var args: [String]
    }

    static let routes: [(pattern: String, write: Bool, query: Bool)] = [
        ("PUT /v2/objects/{object}/records", true, false),
        ("POST /v2/objects/{object}/records/query", false, true),
        ("GET /v2/objects/{object}/records/{record_id}", false, false),
        ("GET /v2/objects/{object}/records/{record_id}/entries", false, false),
        ("GET /v2/objects/{object}/attributes", false, false),
        ("GET /v2/lists", false, false),
        ("GET /v2/lists/{list}", false, false),
        ("GET /v2/lists/{list}/attributes", false, false),
        ("POST /v2/lists/{list}/entries", true, false),
        ("PUT /v2/lists/{list}/entries", true, false),
        ("POST /v2/lists/{list}/entries/query", false, true),
        ("POST /v2/notes", true, false),
        ("GET /v2/notes", false, false),
        ("GET /v2/notes/{note_id}", false, false),
    ]

    static func route(_ r: SandboxRequest) -> Route? {
        for route in routes {
            let parts = route.pattern.split(separator: " ", maxSplits: 1).map(String.init)
            if parts[0] == r.method, let args = ServiceKit.match(parts[1], r.path) {
                return Route(pattern: route.pattern, isWrite: route.write, isQuery: route.query, args: args)
            }
        }
        return nil
    }

    private func dispatch(_ r: SandboxRequest, _ route: Route) -> SandboxResponse {
        switch route.pattern {
        case "PUT /v2/objects/{object}/records": return assertRecord(r, object: route.args[0])
        case "GET /v2/objects/{object}/records/{record_id}": return getRecord(object: route.args[0], id: route.args[1])
        case "GET /v2/objects/{object}/records/{record_id}/entries": return recordEntries(r, object: route.args[0], id: route.args[1])
        case "GET /v2/objects/{object}/attributes": return listAttributes(r, object: route.args[0], list: nil)
        case "GET /v2/lists/{list}/attributes": return listAttributes(r, object: nil, list: route.args[0])
        case "POST /v2/objects/{object}/records/query": return queryRecords(r, object: route.args[0])
        case "GET /v2/lists": return .json(200, ["data": lists.map(listJSON)])
        case "GET /v2/lists/{list}":
            guard let l = list(route.args[0]) else { return listNotFound(route.args[0]) }
            return .json(200, ["data": listJSON(l)])
        case "POST /v2/lists/{list}/entries": return writeEntry(r, list: route.args[0], assert: false)
        case "PUT /v2/lists/{list}/entries": return writeEntry(r, list: route.args[0], assert: true)
        case "POST /v2/lists/{list}/entries/query": return queryEntries(r, list: route.args[0])
        case "POST /v2/notes": return createNote(r)
        case "GET /v2/notes": return listNotes(r)
        default: return getNote(route.args.first ?? "")
        }
    }

    /// Attio's error body: `{"status_code", "type", "code", "message"}`.
    static func error(_ status: Int, type: String = "invalid_request_error", code: String, _ message: String, extra: [String: Any] = [:])
        -> SandboxResponse
    {
        var body: [String: Any] = ["status_code": status, "type": type, "code": code, "message": message]
        for (k, v) in extra { body[k] = v }
        return .json(status, body)
    }

    /// A 400 `validation_type` error naming the offending body path.
    static func validation(_ path: [String], _ detail: String, status: Int = 400) -> SandboxResponse {
        error(
            status, code: "validation_type", "Body payload validation error.",
            extra: ["validation_errors": [["code": "invalid_type", "path": path, "message": detail]]])
    }
}

extension AttioService: SandboxFaultShaping {
    /// Injected faults in Attio's shape: a 429 with `Retry-After` alternating between the documented
    /// HTTP date and delta-seconds (clients must read both), a 5xx with Attio's error body.
    public func injectedFault(status: Int) -> SandboxResponse {
        guard status == 429 else {
            return Self.error(status, type: "internal_server_error", code: "internal_server_error", "An unexpected error occurred.")
        }
        let n = lock.withLock {
            injected429 += 1
            return injected429
        }
        var r = Self.error(429, type: "rate_limit_error", code: "rate_limit_exceeded", "Rate limit exceeded, please try again later")
        let next = options.clock().addingTimeInterval(1)
        r.headers.append(("retry-after", n % 2 == 1 ? ServiceKit.httpDate(next) : "1"))
        return r
    }
}
