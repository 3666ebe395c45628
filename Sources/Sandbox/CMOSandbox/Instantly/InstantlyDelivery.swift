import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// Webhook deliveries: one record per (event, matching webhook), kept for `GET /api/v2/webhook-events`, and
// POSTed in the background by a few threads in wall time, with retries and the disabling of a webhook that
// keeps failing. The sandbox stamps a record with its event's time on the Instantly clock; retry times are
// that time plus the backoff waited.

/// One delivery of one event to one webhook (the spec's Webhook Event).
struct InstantlyDeliveryRecord {
    var id: String
    var eventIndex: Int
    var webhookID: String
    var url: String
    var created: Date
    var leadEmail: String?
    var success = false
    var retryCount = 0
    var willRetry = false
    var statusCode: Int?
    var errorMessage: String?
    var nextRetry: Date?
    var retryGroupID: String
    var retrySuccessful: Bool?
    var responseMS: Int?
    /// Still queued or being tried.
    var pending = false
}

/// The background side: a queue and a few threads that POST and report back.
final class InstantlyDeliveryQueue: @unchecked Sendable {
    struct Job {
        var record: Int
        var webhookID: String
        var url: String
        var headers: [(String, String)]
        var body: [UInt8]
        var generation: Int
    }

    /// What one attempt got.
    struct Attempt {
        var status: Int?
        var error: String?
        var milliseconds: Int
        var ok: Bool { status.map { (200...299).contains($0) } ?? false }
    }

    private let condition = NSCondition()
    private var queue: [Job] = []
    private var head = 0
    private var inFlight = 0
    private var started = false
    private(set) var generation = 0
    private let options: InstantlyDeliveryOptions
    /// Asked before each attempt: whether the job is still wanted (its webhook active, no reset since).
    var wanted: @Sendable (Job) -> Bool = { _ in true }
    /// Told after each attempt: the job, the attempt number (0-based), what it got, and whether another follows.
    var report: @Sendable (Job, Int, Attempt, Bool) -> Void = { _, _, _, _ in }
    /// Told when a job is dropped without an attempt (webhook disabled meanwhile).
    var dropped: @Sendable (Job) -> Void = { _ in }

    init(options: InstantlyDeliveryOptions) { self.options = options }

    /// Jobs queued or being delivered.
    var pending: Int { condition.withLock { queue.count - head + inFlight } }

    func enqueue(_ jobs: [Job]) {
        guard !jobs.isEmpty else { return }
        condition.withLock {
            if !started {
                started = true
                for n in 0..<max(1, options.threads) {
                    let t = Thread { [weak self] in self?.work() }
                    t.name = "instantly-webhooks-\(n)"
                    t.start()
                }
            }
            queue.append(contentsOf: jobs)
            condition.broadcast()
        }
    }

    /// Forgets every queued job; jobs being tried stop after their current attempt.
    func reset() {
        condition.withLock {
            queue = []
            head = 0
            generation += 1
        }
    }

    var currentGeneration: Int { condition.withLock { generation } }

    private func work() {
        while true {
            let job: Job = condition.withLock {
                while head >= queue.count { condition.wait() }
                let j = queue[head]
                head += 1
                if head > 4096 && head * 2 > queue.count {
                    queue.removeFirst(head)
                    head = 0
                }
                inFlight += 1
                return j
            }
            deliver(job)
            condition.withLock { inFlight -= 1 }
        }
    }

    private func deliver(_ job: Job) {
        let attempts = max(1, options.attempts)
        for n in 0..<attempts {
            guard job.generation == currentGeneration, wanted(job) else {
                if job.generation == currentGeneration { dropped(job) }
                return
            }
            let result = Self.post(url: job.url, headers: job.headers, body: job.body, timeout: options.timeout)
            let again = !result.ok && n + 1 < attempts
            guard job.generation == currentGeneration else { return }
            report(job, n, result, again)
            if !again { return }
            let wait = options.backoff.isEmpty ? 0 : options.backoff[min(n, options.backoff.count - 1)]
            if wait > 0 { usleep(useconds_t(wait * 1_000_000)) }
        }
    }

    /// The wait before attempt `n + 1`, seconds.
    func backoff(after n: Int) -> Double { options.backoff.isEmpty ? 0 : options.backoff[min(n, options.backoff.count - 1)] }

    /// One HTTP/1.1 POST over a fresh connection (`Connection: close`); plain `http://` only — the sandbox
    /// never leaves the machine it is told to deliver to, and carries no TLS.
    static func post(url: String, headers: [(String, String)], body: [UInt8], timeout: Double) -> Attempt {
        let start = Date()
        func elapsed() -> Int { Int(Date().timeIntervalSince(start) * 1000) }
        func failure(_ message: String) -> Attempt { Attempt(status: nil, error: message, milliseconds: elapsed()) }
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(), let host = parts.host, !host.isEmpty
        else { return failure("Invalid URL") }
        guard scheme == "http" else { return failure("The sandbox delivers over plain http only") }
        let port = parts.port ?? 80
        var target = parts.percentEncodedPath.isEmpty ? "/" : parts.percentEncodedPath
        if let q = parts.percentEncodedQuery { target += "?" + q }
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var info: UnsafeMutablePointer<addrinfo>?
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        if bare.contains(":") { hints.ai_family = AF_INET6 }
        guard getaddrinfo(bare, String(port), &hints, &info) == 0, let first = info else { return failure("getaddrinfo ENOTFOUND \(host)") }
        defer { freeaddrinfo(info) }
        let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return failure("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            return failure("connect \(errno == ECONNREFUSED ? "ECONNREFUSED" : String(cString: strerror(errno))) \(host):\(port)")
        }
        var head = "POST \(target) HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Type: application/json\r\n"
        head += "User-Agent: cmo-sandbox-instantly-webhooks\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        let reserved: Set<String> = ["host", "content-length", "connection", "transfer-encoding", "content-type"]
        for (name, value) in headers where !reserved.contains(name.lowercased()) { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        guard sendAll(fd, Array(head.utf8) + body) else { return failure("write \(String(cString: strerror(errno)))") }
        // Read the status line and headers, then the body up to its length (or the close), at most 1 MiB.
        var got: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while got.count < 1 << 20 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            got.append(contentsOf: buffer[..<n])
            if let end = headerEnd(got) {
                let headText = String(decoding: got[..<end], as: UTF8.self).lowercased()
                let length = headText.components(separatedBy: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) }
                if let length, got.count >= end + 4 + length { break }
            }
        }
        let line = String(decoding: got.prefix { $0 != 0x0d && $0 != 0x0a }, as: UTF8.self).split(separator: " ")
        guard line.count >= 2, line[0].hasPrefix("HTTP/"), let status = Int(line[1]) else {
            return failure(got.isEmpty ? "socket hang up" : "Invalid HTTP response")
        }
        return Attempt(
            status: status, error: (200...299).contains(status) ? nil : "Request failed with status code \(status)", milliseconds: elapsed()
        )
    }

    private static func headerEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 0x0d && bytes[i + 1] == 0x0a && bytes[i + 2] == 0x0d && bytes[i + 3] == 0x0a {
            return i
        }
        return nil
    }

    private static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
}

extension InstantlyService {
    /// One record per webhook the event matches; active ones are queued, disabled ones are recorded as not sent.
    func queueDeliveries(of eventIndex: Int) {
        let event = engagement.events[eventIndex]
        var jobs: [InstantlyDeliveryQueue.Job] = []
        let hooks = engagement.webhooks.filter { $0.matches(event) }
        if hooks.isEmpty { return }
        let body = Array(ServiceKit.jsonString(event.payload).utf8)
        for hook in hooks {
            let n = engagement.deliveries.count
            let id = Self.timeOrderedID(seed: seed, label: "webhook-event", counter: n, at: event.timestamp)
            var rec = InstantlyDeliveryRecord(
                id: id, eventIndex: eventIndex, webhookID: hook.id, url: hook.url, created: event.timestamp, leadEmail: event.leadEmail,
                retryGroupID: ServiceKit.uuid(seed: seed, "instantly-retry-group-\(n)"))
            if hook.status == 1 {
                rec.pending = true
                rec.willRetry = true
                let headers = (hook.headers ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
                jobs.append(
                    .init(
                        record: n, webhookID: hook.id, url: hook.url, headers: headers, body: body,
                        generation: deliveryQueue.currentGeneration))
            } else {
                rec.errorMessage = "Webhook disabled due to delivery failures"
            }
            engagement.deliveryIndex[id] = n
            engagement.deliveries.append(rec)
        }
        deliveryQueue.enqueue(jobs)
    }

    /// Wires the queue's callbacks to this service's records (under the service's lock).
    func connectDeliveryQueue() {
        deliveryQueue.wanted = { [weak self] job in
            guard let self else { return false }
            return self.lock.withLock { self.engagement.webhooks.first { $0.id == job.webhookID }?.status == 1 }
        }
        deliveryQueue.dropped = { [weak self] job in
            guard let self else { return }
            self.lock.withLock {
                guard job.generation == self.deliveryQueue.currentGeneration, job.record < self.engagement.deliveries.count else { return }
                self.engagement.deliveries[job.record].pending = false
                self.engagement.deliveries[job.record].willRetry = false
                self.engagement.deliveries[job.record].nextRetry = nil
                let gone = !self.engagement.webhooks.contains { $0.id == job.webhookID }
                self.engagement.deliveries[job.record].errorMessage =
                    gone ? "Webhook deleted" : "Webhook disabled due to delivery failures"
            }
        }
        deliveryQueue.report = { [weak self] job, n, attempt, again in
            guard let self else { return }
            self.lock.withLock { self.recordAttempt(job, n, attempt, again) }
        }
    }

    private func recordAttempt(_ job: InstantlyDeliveryQueue.Job, _ n: Int, _ attempt: InstantlyDeliveryQueue.Attempt, _ again: Bool) {
        // A reset since the job was queued: its record is gone (the index may name a new one).
        guard job.generation == deliveryQueue.currentGeneration, job.record < engagement.deliveries.count else { return }
        var rec = engagement.deliveries[job.record]
        rec.retryCount = n
        rec.statusCode = attempt.status
        rec.responseMS = attempt.milliseconds
        rec.success = attempt.ok
        rec.errorMessage = attempt.error
        rec.willRetry = again
        rec.pending = again
        rec.nextRetry = again ? rec.created.addingTimeInterval((0...n).reduce(0) { $0 + deliveryQueue.backoff(after: $1) }) : nil
        if n > 0 && !again { rec.retrySuccessful = attempt.ok }
        engagement.deliveries[job.record] = rec
        deliveryCounters[attempt.ok ? "attempts_ok" : "attempts_failed", default: 0] += 1
        guard !again, let w = engagement.webhooks.firstIndex(where: { $0.id == job.webhookID }) else { return }
        deliveryCounters[attempt.ok ? "delivered" : "failed", default: 0] += 1
        if attempt.ok {
            engagement.webhooks[w].failuresInARow = 0
        } else {
            engagement.webhooks[w].failuresInARow += 1
            if engagement.webhooks[w].failuresInARow >= max(1, options.webhookDelivery.disableAfter), engagement.webhooks[w].status == 1 {
                engagement.webhooks[w].status = -1
                engagement.webhooks[w].timestampError = sandboxNow
            }
        }
    }

    /// A version-7-layout id whose first 48 bits are `at` in milliseconds, so ids sort by time, then by `counter`.
    static func timeOrderedID(seed: UInt64, label: String, counter: Int, at: Date) -> String {
        var r = SeededRandom(seed: seed, stream: "\(label)-\(counter)")
        let ms = UInt64(max(0, at.timeIntervalSince1970 * 1000)) & 0xffff_ffff_ffff
        let hi = (ms << 16) | 0x7000 | (UInt64(counter) & 0x0fff)
        let lo = ((UInt64(counter) >> 12) << 32 | (r.next() & 0xffff_ffff)) & 0x3fff_ffff_ffff_ffff | 0x8000_0000_0000_0000
        func hex(_ v: UInt64, _ width: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return
            "\(hex(hi >> 32, 8))-\(hex((hi >> 16) & 0xffff, 4))-\(hex(hi & 0xffff, 4))-\(hex(lo >> 48, 4))-\(hex(lo & 0xffff_ffff_ffff, 12))"
    }

    /// The spec's Webhook Event object.
    func deliveryJSON(_ rec: InstantlyDeliveryRecord) -> [String: Any] {
        func opt(_ v: Any?) -> Any { v ?? NSNull() }
        let created = InstantlyService.stamp(rec.created)
        return [
            "id": rec.id, "timestamp_created": created, "timestamp_created_date": String(created.prefix(10)),
            "organization_id": world.organization, "payload": engagement.events[rec.eventIndex].payload, "success": rec.success,
            "retry_count": rec.retryCount, "will_retry": rec.willRetry, "webhook_url": rec.url, "status_code": opt(rec.statusCode),
            "error_message": opt(rec.errorMessage), "timestamp_next_retry": opt(rec.nextRetry.map { InstantlyService.stamp($0) }),
            "retry_group_id": rec.retryGroupID, "retry_successful": opt(rec.retrySuccessful), "lead_email": opt(rec.leadEmail),
            "response_time_ms": opt(rec.responseMS),
        ]
    }

    /// `GET /api/v2/webhook-events`: `limit` 1–100, `starting_after` (an id), `success`, `from`/`to` (inclusive
    /// days, on `timestamp_created_date`), `search` (exact webhook URL or lead email). Ordered by id (= time).
    func listWebhookEvents(_ r: SandboxRequest) -> SandboxResponse {
        if let bad = Self.checkLimit(r) { return bad }
        var items = engagement.deliveries
        if let s = r.queryValue("success") {
            guard s == "true" || s == "false" else { return Self.error(400, "querystring/success must be boolean") }
            items = items.filter { $0.success == (s == "true") }
        }
        for key in ["from", "to"] {
            guard let v = r.queryValue(key) else { continue }
            guard Self.isDay(v) else { return Self.error(400, "querystring/\(key) must match format \"date\"") }
            items = items.filter { rec in
                let day = String(InstantlyService.stamp(rec.created).prefix(10))
                return key == "from" ? day >= v : day <= v
            }
        }
        if let s = r.queryValue("search"), !s.isEmpty {
            items = items.filter { $0.url == s || $0.leadEmail == s.lowercased() }
        }
        items.sort { $0.id < $1.id }
        if let after = r.queryValue("starting_after") { items = items.filter { $0.id > after } }
        let limit = Int(r.queryValue("limit") ?? "") ?? 100
        let page = Array(items.prefix(limit))
        return .json(200, listBody(page.map(deliveryJSON), more: items.count > limit, cursor: page.last?.id))
    }

    /// `limit` as the spec bounds it (1–100), or the 400 to answer.
    static func checkLimit(_ r: SandboxRequest) -> SandboxResponse? {
        guard let text = r.queryValue("limit") else { return nil }
        guard let l = Int(text) else { return error(400, "querystring/limit must be integer") }
        if l < 1 { return error(400, "querystring/limit must be >= 1") }
        if l > 100 { return error(400, "querystring/limit must be <= 100") }
        return nil
    }

    /// `YYYY-MM-DD`.
    static func isDay(_ s: String) -> Bool {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        return parts.map(\.count) == [4, 2, 2] && parts.allSatisfy { $0.allSatisfy(\.isNumber) }
    }

    /// `GET /_sandbox/instantly/deliveries`: how many deliveries are still queued or being tried, and the totals.
    func deliverySummary() -> [String: Any] {
        let pendingRecords = engagement.deliveries.filter(\.pending).count
        return [
            "pending": max(deliveryQueue.pending, pendingRecords), "records": engagement.deliveries.count,
            "delivered": deliveryCounters["delivered"] ?? 0, "failed": deliveryCounters["failed"] ?? 0,
            "not_sent": engagement.deliveries.filter { !$0.pending && !$0.success && $0.statusCode == nil && $0.responseMS == nil }.count,
            "attempts": (deliveryCounters["attempts_ok"] ?? 0) + (deliveryCounters["attempts_failed"] ?? 0),
            "attempts_failed": deliveryCounters["attempts_failed"] ?? 0,
        ]
    }
}
