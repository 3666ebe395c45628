import CMOBasics
import CMOStorage
import Crypto
import Foundation

// The one HTTP client every stage uses (policy in docs/http.md). Public API:
//
//   let http = try HTTPClient(HTTPClientConfig(maxWait: options.maxWait))
//   http.onEvent = { logger.info($0.description) }            // retries, waits, limits; no secrets
//   let results = http.perform(batch)                          // [Result<HTTPResponse, HTTPError>], input order
//   let response = try http.perform(HTTPRequest(method: "POST", url: u, body: b, retryable: false))
//   http.stats                                                 // sent, free 304s, retries, quota, waits
//
// How a response says "slow down" is the vendor's dialect, read by the request's `RateLimitPolicy`
// (GitHubRateLimits, OpenAIRateLimits, …; GenericRateLimits when it has none); what follows from
// it (waits, back-off, host penalties, buckets, pacing) is decided here, the same for every vendor.
//
// A stage is a single-threaded loop, so the client is too: `perform` drives curl's multi
// interface on the calling thread and returns when every request of the batch has an outcome.
// It is deliberately not Sendable; use one client per thread.

/// A synchronous, batch-oriented HTTP client over libcurl with retries, rate limits and an ETag cache.
public final class HTTPClient {
    /// The settings this client was made with.
    public let config: HTTPClientConfig
    /// Counters since the client was made.
    public private(set) var stats = HTTPStats()
    /// Receives retry, wait and rate-limit notices; never header values or secrets.
    public var onEvent: ((HTTPEvent) -> Void)?

    private let curl: CurlMulti
    private let cache: HTTPCache?
    /// The workspace's limits, shared with every process (nil: this client's memory only).
    private let shared: (any WorkspaceLimits)?
    private var holdsReadAt = -Double.infinity
    private var limits = RateLimits()
    /// Pacing when nothing is shared, or the shared store failed.
    private var pacer: RequestPacer
    private var sharedPacingFailed = false
    /// Jobs waiting with a reservation of the shared pacing: with those running, never more than
    /// `maxConcurrency`, so a client holds no more of the workspace's future than it can send.
    private var reserved = 0

    /// Makes a client; fails with exit 78 when the cache or the shared limits cannot be opened (69 when
    /// the team database cannot be reached).
    public init(_ config: HTTPClientConfig) throws {
        self.config = config
        pacer = RequestPacer(margin: config.pacingMargin)
        curl = try CurlMulti(
            CurlSettings(
                userAgent: config.userAgent, connectTimeout: config.connectTimeout, totalTimeout: config.totalTimeout,
                maxRedirects: config.maxRedirects, maxConnections: max(1, config.maxConcurrency) * 2))
        if config.limitsEnvironment != nil || config.limitsPath != nil {
            // The factory's errors name the backend (never a password) and carry its exit status.
            shared = try WorkspaceLimitsStore.open(
                environment: config.limitsEnvironment ?? ProcessInfo.processInfo.environment, sqlitePath: config.limitsPath)
        } else {
            shared = nil
        }
        guard let path = config.cachePath else {
            cache = nil
            return
        }
        do {
            let dir = (path as NSString).deletingLastPathComponent
            if !dir.isEmpty {
                try FileManager.default.createDirectory(
                    atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            cache = try HTTPCache(path: path, maxBytes: config.cacheMaxBytes)
        } catch {
            throw StateDatabase.openFailure(error, "HTTP cache '\(path)'")
        }
    }

    /// Tells the client a bucket's `used` count before this run's first request (read from an API's
    /// own rate-limit endpoint), so the quota spent by the first response is counted exactly rather
    /// than as one.
    public func noteQuotaUsed(url: String, bucket: String, used: Int, reset: Double) {
        let key = RateLimits.bucketKey(HTTPClient.host(of: url), bucket)
        var b = limits.buckets[key] ?? RateLimits.Bucket()
        b.maxUsed = used
        b.usedReset = RateLimits.epochSeconds(reset)
        limits.buckets[key] = b
    }

    /// Sends one request (with retries) and returns its final response.
    public func perform(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        try perform([request])[0].get()
    }

    /// Sends a batch with at most `maxConcurrency` in flight; results come back in input order.
    public func perform(_ requests: [HTTPRequest]) -> [Result<HTTPResponse, HTTPError>] {
        var results = [Result<HTTPResponse, HTTPError>?](repeating: nil, count: requests.count)
        var waiting = requests.enumerated().map { Job(index: $0.offset, request: $0.element) }
        var running: [Int: Job] = [:]
        let maxConcurrency = max(1, config.maxConcurrency)

        while !waiting.isEmpty || !running.isEmpty {
            var now = config.clock.now()
            readHolds(now: now)
            var wake: (at: Double, reason: String)?
            var i = 0
            while i < waiting.count, running.count < maxConcurrency {
                switch gate(&waiting[i], now: now, mayReserve: running.count + reserved < maxConcurrency) {
                case .go:
                    var job = waiting.remove(at: i)
                    if job.reservedAt != nil { reserved -= 1 }
                    if let failure = start(&job) {
                        results[job.index] = .failure(failure)
                    } else {
                        running[job.index] = job
                    }
                case .later(let at, let reason):
                    if wake == nil || at < wake!.at { wake = (at, reason) }
                    i += 1
                case .blocked:
                    i += 1
                case .fail(let error):
                    let job = waiting.remove(at: i)
                    if job.reservedAt != nil { reserved -= 1 }
                    results[job.index] = .failure(error)
                }
            }
            if running.isEmpty {
                guard let wake else {
                    limits.inFlight.removeAll()  // nothing runs, so nothing can be in flight for any bucket
                    limits.hostInFlight.removeAll()
                    limits.serialInFlight.removeAll()
                    continue
                }
                let seconds = max(0, wake.at - now)
                if seconds >= 1 { onEvent?(.waiting(seconds: seconds, reason: wake.reason)) }
                let waited = config.clock.pause(seconds)
                stats.waitSeconds += seconds
                if !waited {  // nobody will read what the wait was for
                    for job in waiting { results[job.index] = .failure(.outputClosed(request: job.label)) }
                    waiting.removeAll()
                    reserved = 0
                }
                continue
            }
            let timeout = min(max((wake?.at ?? .infinity) - now, 0.001), 1.0)
            let finished: [(tag: Int, outcome: Result<CurlReply, CurlFailure>)]
            do {
                finished = try curl.step(timeout: timeout)
            } catch {
                // The multi handle itself broke: nothing more can be sent on it.
                for job in running.values + waiting {
                    results[job.index] = .failure(.transport(request: job.label, message: error.message, attempts: job.attempts))
                }
                reserved = 0
                break
            }
            now = config.clock.now()
            for (tag, outcome) in finished {
                guard var job = running.removeValue(forKey: tag) else { continue }
                if let key = job.inFlightKey { limits.inFlight[key, default: 1] -= 1 }
                job.inFlightKey = nil
                limits.hostInFlight[job.host, default: 1] -= 1
                if job.request.serial { limits.serialInFlight[job.host, default: 1] -= 1 }
                let verdict: Verdict
                switch outcome {
                case .success(let reply): verdict = judge(reply, for: job, now: now)
                case .failure(let failure): verdict = judge(failure, for: job)
                }
                switch verdict {
                case .done(let result):
                    results[job.index] = result
                case .retry(let delay, let reason, let exhausted):
                    if job.attempts > config.maxRetries {
                        results[job.index] = .failure(exhausted)
                    } else {
                        job.notBefore = now + delay
                        onEvent?(.retrying(request: job.label, attempt: job.attempts, reason: reason, delay: delay))
                        let at = waiting.firstIndex(where: { $0.index > job.index }) ?? waiting.endIndex
                        waiting.insert(job, at: at)  // input order decides who goes first
                    }
                }
            }
        }
        return results.map { $0! }
    }

    // MARK: - Sending

    private struct Job {
        let index: Int
        let request: HTTPRequest
        let host: String
        /// `METHOD url` with credentials and secret query values masked: safe for logs.
        let label: String
        var attempts = 0
        var notBefore = 0.0
        /// When the latest attempt was put on the wire.
        var startedAt = 0.0
        var cacheKey: String?
        var cached: HTTPCache.Entry?
        var inFlightKey: String?
        /// When the workspace's shared pacing lets this attempt go (reserved, not yet sent).
        var reservedAt: Double?
        /// This attempt took its request from the workspace's bucket (not yet sent).
        var tookShared = false
        /// The vendor's dialect, and the client-side limits this request counts against.
        let policy: any RateLimitPolicy
        let paces: [PaceLimit]

        init(index: Int, request: HTTPRequest) {
            self.index = index
            self.request = request
            host = HTTPClient.host(of: request.url)
            label = request.method + " " + HTTPClient.redact(request.url)
            policy = request.rateLimits ?? GenericRateLimits()
            paces = policy.pacing(for: request)
        }
    }

    private enum Gate {
        case go
        case later(Double, String)
        /// Waits for a transfer of the same bucket to finish.
        case blocked
        case fail(HTTPError)
    }

    /// Whether a job may be sent now; never while a known limit is exhausted, by this process or (for a
    /// vendor whose budget is the workspace's) by any. A paced job reserves its send in the workspace's
    /// limits when `mayReserve`, and then goes at the reserved time.
    private func gate(_ job: inout Job, now: Double, mayReserve: Bool) -> Gate {
        let local = localGate(&job, now: now, mayReserve: mayReserve)
        guard case .go = local, !job.tookShared, let shared, sharesBuckets(job, in: shared),
            let name = limits.bucketName(host: job.host, hint: job.request.bucket)
        else { return local }
        do {
            if let reset = try shared.take(sharedBucketKey(job, name), now: now) {
                if reset - now > config.maxWait {
                    return .fail(.rateLimitWaitTooLong(request: job.label, seconds: reset - now, bucket: name))
                }
                return .later(reset, "rate limit '\(name)' to reset (the workspace's)")
            }
            job.tookShared = true
        } catch {
            onEvent?(.cacheError("cannot take from the workspace's rate limit '\(name)' (this process's count only): \(error)"))
        }
        return .go
    }

    /// The gate as this process alone knows the limits.
    private func localGate(_ job: inout Job, now: Double, mayReserve: Bool) -> Gate {
        if job.notBefore > now { return .later(job.notBefore, "back-off") }
        if let penalty = limits.penalties[job.host] {
            if penalty.until > now {
                if penalty.until - now > config.maxWait {
                    return .fail(.rateLimitWaitTooLong(request: job.label, seconds: penalty.until - now, bucket: job.host))
                }
                return .later(penalty.until, "rate limit on \(job.host)")
            }
            // The penalty is over: one request (the probe) finds out before others follow.
            if penalty.probing, limits.hostInFlight[job.host, default: 0] > 0 { return .blocked }
        }
        if limits.hostInFlight[job.host, default: 0] > 0, job.request.serial || limits.serialInFlight[job.host, default: 0] > 0 {
            return .blocked
        }
        // The vendor's documented limits that no header reports: never send over them, whoever else sends.
        if !job.paces.isEmpty {
            if let at = job.reservedAt {
                if at > now { return .later(at, "pacing \(job.policy.name) (the workspace's limits)") }
            } else if let shared, !sharedPacingFailed {
                guard mayReserve else { return .blocked }
                switch reserve(job, in: shared, now: now) {
                case .some(let at):
                    job.reservedAt = at
                    reserved += 1
                    if at > now { return .later(at, "pacing \(job.policy.name) (the workspace's limits)") }
                case nil:
                    break  // the store failed: paced in this process from now on
                }
            }
            if job.reservedAt == nil, let held = pacer.wait(host: job.host, limits: job.paces, now: now) {
                return .later(held.at, "pacing \(job.policy.name) to \(held.limit)")
            }
        }
        guard let name = limits.bucketName(host: job.host, hint: job.request.bucket) else { return .go }
        let key = RateLimits.bucketKey(job.host, name)
        guard let bucket = limits.buckets[key], let remaining = bucket.remaining else { return .go }
        if remaining <= 0 || bucket.reset.map({ $0 <= now }) == true {
            guard let reset = bucket.reset, reset > now else {
                limits.buckets[key]?.remaining = nil  // the window is over (or unknown): learn it afresh
                return .go
            }
            if reset - now > config.maxWait {
                return .fail(.rateLimitWaitTooLong(request: job.label, seconds: reset - now, bucket: name))
            }
            return .later(reset, "rate limit '\(name)' to reset")
        }
        // Never more in flight than the bucket has left.
        return limits.inFlight[key, default: 0] >= remaining ? .blocked : .go
    }

    /// Puts a job on the wire; returns the error when curl refuses it.
    private func start(_ job: inout Job) -> HTTPError? {
        job.attempts += 1
        var lines = job.request.headers.map { "\($0.0): \($0.1)" }
        if job.request.conditional, job.request.method == "GET", let cache {
            let key = job.cacheKey ?? HTTPCache.key(for: job.request)
            job.cacheKey = key
            do {
                job.cached = try cache.lookup(key)
            } catch {
                onEvent?(.cacheError("lookup failed: \(error)"))
            }
            if let etag = job.cached?.etag, job.request.header("If-None-Match") == nil {
                lines.append("If-None-Match: \(etag)")  // exactly as received, quotes and W/ kept
            }
        }
        let transfer = CurlTransfer(
            method: job.request.method, url: job.request.url, headerLines: lines, body: job.request.body,
            followRedirects: job.request.method == "GET" || job.request.method == "HEAD")
        do {
            try curl.start(transfer, tag: job.index)
        } catch {
            return judge(error, for: job).failure
        }
        stats.requestsSent += 1
        if job.attempts > 1 { stats.retries += 1 }
        job.startedAt = config.clock.now()
        if !job.paces.isEmpty, job.reservedAt == nil { pacer.record(host: job.host, limits: job.paces, at: job.startedAt) }
        job.reservedAt = nil  // spent: a retry reserves again
        job.tookShared = false
        limits.hostInFlight[job.host, default: 0] += 1
        if job.request.serial { limits.serialInFlight[job.host, default: 0] += 1 }
        if let name = limits.bucketName(host: job.host, hint: job.request.bucket) {
            let key = RateLimits.bucketKey(job.host, name)
            limits.inFlight[key, default: 0] += 1
            job.inFlightKey = key
        }
        return nil
    }

    // MARK: - Judging outcomes

    private enum Verdict {
        case done(Result<HTTPResponse, HTTPError>)
        /// Send again after `delay`, or fail with `exhausted` when out of attempts.
        case retry(delay: Double, reason: String, exhausted: HTTPError)

        var failure: HTTPError? {
            switch self {
            case .done(.failure(let e)): e
            case .retry(_, _, let e): e
            default: nil
            }
        }
    }

    private func judge(_ failure: CurlFailure, for job: Job) -> Verdict {
        let message = Self.connectMessage(failure, url: job.request.url) ?? scrub(failure.message, job.request)
        let error = HTTPError.transport(request: job.label, message: message, attempts: job.attempts)
        switch failure.kind {
        case .badURL: return .done(.failure(.invalidURL(request: job.label, message: message)))
        case .permanent: return .done(.failure(error))
        case .notSent: break  // never reached the server: safe even for a write
        case .interrupted where !job.request.retryable: return .done(.failure(error))
        case .interrupted: break
        }
        return .retry(delay: backoff(job.attempts), reason: message, exhausted: error)
    }

    private func judge(_ reply: CurlReply, for job: Job, now: Double) -> Verdict {
        let status = reply.status
        let header = { (name: String) in reply.headers.last(where: { $0.name == name })?.value }
        let policy = job.policy
        let seen = limits.observe(
            host: job.host, hint: job.request.bucket, status: status, names: policy.bucketHeaders, now: now, header: header)
        let bucket = seen.name ?? job.host
        if seen.spent > 0 { stats.quotaSpent[bucket, default: 0] += seen.spent }
        if let name = seen.name { shareBucket(job, name) }
        let response = RateLimitResponse(status: status, headers: reply.headers, body: reply.body, now: now)
        let retryAfter = policy.retryAfter(response)
        let rateLimitedError = HTTPError.rateLimited(request: job.label, status: status, attempts: job.attempts)

        if status == 304, let entry = job.cached {
            endPenalty(job, now: now)
            stats.notModified += 1
            if let key = job.cacheKey { try? cache?.touch(key, now: now) }
            let fresh = Set(reply.headers.map(\.name))
            let headers = reply.headers + entry.headers.filter { !fresh.contains($0.name) }
            return .done(
                .success(HTTPResponse(status: 200, headers: headers, body: entry.body, fromCache: true, attempts: job.attempts)))
        }
        // The vendor's policy says whether this is a throttle; what follows from it is decided here.
        switch policy.classify(response) {
        case .notLimited:
            break
        case .noQuota:
            endPenalty(job, now: now)  // an answer, not a throttle: the host is reachable
            let message = scrub(Self.errorMessage(reply.body), job.request)
            return .done(.failure(.noQuota(request: job.label, message: message)))
        case .bucketExhausted(let named):
            stats.rateLimited += 1
            // Primary limit: wait for the reset (or the named wait), then resend. Never success.
            let wait = max(0, named ?? backoff(job.attempts))
            if wait > config.maxWait {
                return .done(.failure(.rateLimitWaitTooLong(request: job.label, seconds: wait, bucket: bucket)))
            }
            if seen.emptied || status != 200 {
                onEvent?(.rateLimited(bucket: bucket, seconds: wait, reason: "primary limit exhausted (HTTP \(status))"))
            }
            return .retry(delay: wait, reason: "rate limit '\(bucket)' exhausted", exhausted: rateLimitedError)
        case .hostPenalty(let named, let reason):
            stats.rateLimited += 1
            // Secondary limit, or a 429 naming a wait: the host pauses.
            var penalty = limits.penalties[job.host] ?? RateLimits.HostPenalty()
            // A request sent before this client knew of the penalty was in flight when it began:
            // its rejection is the same penalty. One sent after (the probe) that is rejected is a repeat.
            let repeated = penalty.hits == 0 || job.startedAt >= penalty.learnedAt
            let hits = penalty.hits + (repeated ? 1 : 0)
            let wait = named ?? (repeated ? config.secondaryLimitWait * pow(2, Double(hits - 1)) : max(0, penalty.until - now))
            if repeated || now + wait > penalty.until + 1 {
                onEvent?(.rateLimited(bucket: job.host, seconds: wait, reason: reason))
            }
            if repeated { penalty.learnedAt = now }
            penalty.hits = hits
            penalty.until = max(penalty.until, now + wait)
            penalty.probing = true
            setPenalty(penalty, host: job.host)  // recorded even when too long to wait: the next run waits it out
            if wait > config.maxWait {
                return .done(.failure(.rateLimitWaitTooLong(request: job.label, seconds: wait, bucket: job.host)))
            }
            return .retry(delay: penalty.until - now, reason: reason, exhausted: rateLimitedError)
        case .throttled(let named, let reason):
            stats.rateLimited += 1
            // A bare 429 (Instantly names no wait) backs off; a named reset (Linear) pauses the host.
            guard let wait = named.map({ max(0, $0) }) else {
                return .retry(delay: backoff(job.attempts), reason: reason, exhausted: rateLimitedError)
            }
            var penalty = limits.penalties[job.host] ?? RateLimits.HostPenalty()
            penalty.until = max(penalty.until, now + wait)
            penalty.learnedAt = now
            setPenalty(penalty, host: job.host)
            if wait > config.maxWait {
                return .done(.failure(.rateLimitWaitTooLong(request: job.label, seconds: wait, bucket: job.host)))
            }
            onEvent?(.rateLimited(bucket: job.host, seconds: wait, reason: reason))
            return .retry(delay: wait, reason: reason, exhausted: rateLimitedError)
        }
        endPenalty(job, now: now)
        if status == 401 || status == 403 {
            let message = scrub(Self.errorMessage(reply.body), job.request)
            return .done(.failure(.unauthorized(request: job.label, status: status, message: message)))
        }
        if status >= 500 || status == 408 {
            let error = HTTPError.serverError(request: job.label, status: status, attempts: job.attempts)
            guard job.request.retryable else { return .done(.failure(error)) }  // it may have landed
            if let retryAfter, retryAfter > config.maxWait {
                return .done(.failure(.rateLimitWaitTooLong(request: job.label, seconds: retryAfter, bucket: job.host)))
            }
            return .retry(delay: retryAfter ?? backoff(job.attempts), reason: "HTTP \(status)", exhausted: error)
        }
        if status == 200, let key = job.cacheKey, let etag = header("etag"), let cache {
            do {
                try cache.store(key, HTTPCache.Entry(etag: etag, headers: reply.headers, body: reply.body), now: now)
            } catch {
                onEvent?(.cacheError("store failed: \(error)"))
            }
        }
        return .done(.success(HTTPResponse(status: status, headers: reply.headers, body: reply.body, attempts: job.attempts)))
    }

    // MARK: - The workspace's limits

    /// Reserves one send of `job` on each of its budgets in the shared limits; the time the last of them
    /// allows. nil when the store fails: the client says so once and paces in memory.
    private func reserve(_ job: Job, in shared: any WorkspaceLimits, now: Double) -> Double? {
        var budgets: [String: [PaceWindow]] = [:]
        for p in job.paces where p.requests > 0 { budgets[job.host + " " + p.name, default: []].append(PaceWindow(requests: p.requests, seconds: p.seconds)) }
        do {
            var at = now
            for (budget, windows) in budgets.sorted(by: { $0.key < $1.key }) {
                at = max(at, try shared.reserve(budget, windows: windows, margin: config.pacingMargin, now: now))
            }
            return at
        } catch {
            sharedPacingFailed = true
            onEvent?(.cacheError("cannot reserve in the workspace's rate limits (pacing this process alone from now on): \(error)"))
            return nil
        }
    }

    /// Whether `job`'s header budgets are taken from the shared limits: the vendor's workspace budgets
    /// always; with limits that span machines, every budget its headers report (GitHub's quota per token:
    /// one machine's processes take turns on a token, several machines could overrun it together).
    private func sharesBuckets(_ job: Job, in shared: any WorkspaceLimits) -> Bool {
        job.policy.sharesBuckets || (shared.spansMachines && job.policy.bucketHeaders != nil)
    }

    /// A budget the workspace shares, by credential: `host name #hash` (a hash of the `Authorization`
    /// header, never the credential itself), so that two keys' budgets stay apart.
    private func sharedBucketKey(_ job: Job, _ name: String) -> String {
        let credential = job.request.headers.last { $0.0.lowercased() == "authorization" }?.1 ?? ""
        let digest = SHA256.hash(data: Array(credential.utf8)).prefix(6).map { String(format: "%02x", $0) }.joined()
        return RateLimits.bucketKey(job.host, name) + " #" + digest
    }

    /// Records what a response said of a budget the workspace shares, for the other processes.
    private func shareBucket(_ job: Job, _ name: String) {
        guard let shared, sharesBuckets(job, in: shared), let b = limits.buckets[RateLimits.bucketKey(job.host, name)],
            let remaining = b.remaining, let reset = b.reset
        else { return }
        do {
            try shared.observe(sharedBucketKey(job, name), remaining: remaining, reset: reset)
        } catch {
            onEvent?(.cacheError("cannot record the rate limit '\(name)' for the workspace: \(error)"))
        }
    }

    /// Holds a host's penalty here and in the workspace's limits, for other processes and later runs.
    private func setPenalty(_ penalty: RateLimits.HostPenalty, host: String) {
        limits.penalties[host] = penalty
        do {
            try shared?.hold(host, LimitHold(until: penalty.until, hits: penalty.hits))
        } catch {
            onEvent?(.cacheError("cannot record the penalty of \(host): \(error)"))
        }
    }

    /// A request sent after the host's penalty ended got an answer that is not a throttle: the host
    /// is open again (full concurrency, and the doubling starts over).
    private func endPenalty(_ job: Job, now: Double) {
        guard let penalty = limits.penalties[job.host], penalty.until <= now, job.startedAt >= penalty.until else { return }
        limits.penalties[job.host] = nil
        try? shared?.release(job.host, before: now)
    }

    /// Adopts the penalties other processes (or a run that was killed) recorded, at most once a second,
    /// so nothing is sent into a penalty this process did not see begin.
    private func readHolds(now: Double) {
        guard let shared, now - holdsReadAt >= 1 else { return }
        holdsReadAt = now
        let stored: [String: LimitHold]
        do {
            stored = try shared.holds(now: now)
        } catch {
            onEvent?(.cacheError("cannot read the workspace's rate limits: \(error)"))
            return
        }
        for (key, p) in stored {
            guard p.until > (limits.penalties[key]?.until ?? 0) + 0.5 else { continue }
            var penalty = limits.penalties[key] ?? RateLimits.HostPenalty()
            penalty.until = p.until
            penalty.hits = max(penalty.hits, p.hits)
            penalty.learnedAt = now
            penalty.probing = true
            limits.penalties[key] = penalty
            onEvent?(.rateLimited(bucket: key, seconds: p.until - now, reason: "a penalty recorded in the state directory"))
        }
    }

    /// Full jitter: uniform in 0…min(cap, base·2^(attempt-1)).
    private func backoff(_ attempt: Int) -> Double {
        let ceiling = min(config.backoffCap, config.backoffBase * pow(2, Double(max(0, attempt - 1))))
        return ceiling > 0 ? Double.random(in: 0...ceiling) : 0
    }

    // MARK: - Reading responses

    /// Seconds to wait from `retry-after-ms` (OpenAI), or `retry-after` as delta-seconds or an HTTP date.
    static func retryAfter(_ header: (String) -> String?, now: Double) -> Double? {
        let headers = ["retry-after-ms", "retry-after"].compactMap { name in header(name).map { (name: name, value: $0) } }
        return RateLimitDialect.retryAfterMilliseconds(RateLimitResponse(status: 0, headers: headers, now: now))
    }

    /// The server's own words from an error body (`message`, `error.message`, `errors[0].message`), short.
    static func errorMessage(_ body: [UInt8]) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return "" }
        let message =
            object["message"] as? String ?? (object["error"] as? [String: Any])?["message"] as? String
            ?? (object["errors"] as? [[String: Any]])?.first?["message"] as? String ?? ""
        return String(message.prefix(200))
    }

    // MARK: - Keeping secrets out of logs

    /// Masks every secret header value of the request (and each word of it) in `text`.
    func scrub(_ text: String, _ request: HTTPRequest) -> String {
        var text = text
        for (name, value) in request.headers where HTTPRequest.isSecretHeader(name) {
            for secret in [value] + value.split(separator: " ").map(String.init) where secret.count >= 8 {
                text = text.replacingOccurrences(of: secret, with: "***")
            }
        }
        return text
    }

    /// The URL with any user-info and secret-named query values masked.
    static func redact(_ url: String) -> String {
        var url = url
        if let scheme = url.range(of: "://") {
            let authorityEnd = url[scheme.upperBound...].firstIndex(where: { "/?#".contains($0) }) ?? url.endIndex
            if let at = url[scheme.upperBound..<authorityEnd].lastIndex(of: "@") {
                url.replaceSubrange(scheme.upperBound...at, with: "***@")
            }
        }
        guard let q = url.firstIndex(of: "?") else { return url }
        let query = url[url.index(after: q)...].split(separator: "&", omittingEmptySubsequences: false).map { pair in
            let name = pair.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
            return HTTPRequest.isSecretHeader(name) && pair.contains("=") ? "\(name)=***" : String(pair)
        }
        return String(url[...q]) + query.joined(separator: "&")
    }

    /// The host (with port) of a URL, lower-cased; the whole URL when it has no authority.
    /// A failed connect in plain words, `cannot connect to http://127.0.0.1:8080 (connection refused)`,
    /// rather than curl's "Couldn't connect to server"; nil for any other failure.
    static func connectMessage(_ failure: CurlFailure, url: String) -> String? {
        guard failure.couldNotConnect else { return nil }
        let scheme = url.range(of: "://").map { String(url[..<$0.lowerBound]).lowercased() } ?? "http"
        var origin = scheme + "://" + host(of: url)
        if !origin.dropFirst(scheme.count + 3).contains(":") || origin.hasSuffix("]") {
            origin += scheme == "https" ? ":443" : ":80"
        }
        let why = failure.osErrno == 0 ? "connection failed" : failure.osErrno == ECONNREFUSED ? "connection refused"
            : String(cString: strerror(failure.osErrno)).lowercased()
        return "cannot connect to \(origin) (\(why))"
    }

    static func host(of url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        var authority = rest[..<(rest.firstIndex(where: { "/?#".contains($0) }) ?? rest.endIndex)]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        return authority.lowercased()
    }
}
