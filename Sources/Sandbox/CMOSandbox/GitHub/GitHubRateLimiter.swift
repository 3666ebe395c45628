import Foundation

/// GitHub's primary buckets (`core`, `search`, `graphql`, per credential) and its secondary limit.
/// Windows run on the real clock, because clients wait on `x-ratelimit-reset` in real time.
final class GitHubRateLimiter: @unchecked Sendable {
    struct Bucket {
        var limit: Int
        var window: Int
        var used = 0
        var reset: Int = 0
    }

    /// The outcome of checking a request against the limits.
    enum Verdict {
        case allowed
        case primaryExhausted
        /// `tripped`: this request started the penalty (too many in flight or too many points).
        case secondary(retryAfter: Int, tripped: Bool)
    }

    private let options: GitHubOptions
    private let lock = NSLock()
    private var buckets: [String: Bucket] = [:]
    private var penaltyUntil: Double = 0
    private var secondaryTriggers = 0
    private var recentPoints: [String: [(time: Double, points: Int)]] = [:]
    private let clock: @Sendable () -> Double

    init(options: GitHubOptions, clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.options = options
        self.clock = clock
    }

    private func fresh(_ resource: String, anonymous: Bool) -> Bucket {
        switch resource {
        case "search":
            return Bucket(limit: anonymous ? max(1, options.searchLimit / 3) : options.searchLimit, window: options.searchWindowSeconds)
        case "graphql": return Bucket(limit: options.graphqlLimit, window: options.coreWindowSeconds)
        default:
            return Bucket(limit: anonymous ? max(1, options.coreLimit * 60 / 5000) : options.coreLimit, window: options.coreWindowSeconds)
        }
    }

    /// The bucket's state now, rolled over when its window has passed (caller holds the lock).
    private func current(_ key: String, _ resource: String, anonymous: Bool) -> Bucket {
        let now = Int(clock())
        var b = buckets[key] ?? fresh(resource, anonymous: anonymous)
        if b.reset == 0 || now >= b.reset {
            b.used = 0
            b.reset = now + b.window
        }
        buckets[key] = b
        return b
    }

    /// Checks the secondary limit first (a penalty, too many requests in flight, or too many points
    /// on one endpoint in the last minute), then the primary bucket; `cost` is what the request would spend.
    func check(credential: String, resource: String, endpoint: String, inFlight: Int, cost: Int) -> Verdict {
        lock.withLock {
            let now = clock()
            var window = recentPoints[endpoint] ?? []
            let expired = window.firstIndex { $0.time > now - 60 } ?? window.count  // oldest first
            window.removeFirst(expired)
            recentPoints[endpoint] = window
            let perMinute = resource == "graphql" ? options.secondaryGraphQLPointsPerMinute : options.secondaryPointsPerMinute
            let overPoints = window.reduce(0) { $0 + $1.points } + 1 > perMinute
            var tripped = false
            if (inFlight > options.secondaryConcurrency || overPoints) && now >= penaltyUntil {
                penaltyUntil = now + Double(options.secondaryPenaltySeconds)
                secondaryTriggers += 1
                tripped = true
            }
            if now < penaltyUntil {
                // A rejected request does not count toward the per-minute points.
                return .secondary(retryAfter: max(1, Int((penaltyUntil - now).rounded(.up))), tripped: tripped)
            }
            recentPoints[endpoint, default: []].append((now, 1))
            let b = current("\(credential)/\(resource)", resource, anonymous: credential.isEmpty)
            return b.used + max(cost, 1) > b.limit ? .primaryExhausted : .allowed
        }
    }

    /// Checks and spends in one step, so concurrent requests cannot both see the same remaining
    /// points: returns the bucket's state before spending, or nil when `cost` does not fit.
    func reserve(credential: String, resource: String, cost: Int) -> (limit: Int, remaining: Int, used: Int, reset: Int)? {
        lock.withLock {
            let key = "\(credential)/\(resource)"
            var b = current(key, resource, anonymous: credential.isEmpty)
            let before = (b.limit, max(0, b.limit - b.used), b.used, b.reset)
            guard b.limit - b.used >= cost else { return nil }
            b.used += cost
            buckets[key] = b
            return before
        }
    }

    /// Gives back units reserved for a request that did not run.
    func refund(credential: String, resource: String, cost: Int) {
        lock.withLock {
            let key = "\(credential)/\(resource)"
            var b = current(key, resource, anonymous: credential.isEmpty)
            b.used = max(0, b.used - cost)
            buckets[key] = b
        }
    }

    /// Spends `cost` units of a bucket (never past its limit).
    func spend(credential: String, resource: String, cost: Int) {
        lock.withLock {
            var b = current("\(credential)/\(resource)", resource, anonymous: credential.isEmpty)
            b.used = min(b.limit, b.used + cost)
            buckets["\(credential)/\(resource)"] = b
        }
    }

    /// limit, remaining, used and reset (epoch seconds) of a bucket now.
    func state(credential: String, resource: String) -> (limit: Int, remaining: Int, used: Int, reset: Int) {
        lock.withLock {
            let b = current("\(credential)/\(resource)", resource, anonymous: credential.isEmpty)
            return (b.limit, max(0, b.limit - b.used), b.used, b.reset)
        }
    }

    /// The `x-ratelimit-*` headers of a bucket now.
    func headers(credential: String, resource: String) -> [(name: String, value: String)] {
        let s = state(credential: credential, resource: resource)
        return [
            ("x-ratelimit-limit", "\(s.limit)"), ("x-ratelimit-remaining", "\(s.remaining)"),
            ("x-ratelimit-used", "\(s.used)"), ("x-ratelimit-reset", "\(s.reset)"), ("x-ratelimit-resource", resource),
        ]
    }

    /// Counters for `/_sandbox/stats`.
    func snapshot() -> [String: Any] {
        lock.withLock {
            var out: [String: Any] = [:]
            for (k, b) in buckets {
                let label = k.hasPrefix("/") ? "anonymous\(k)" : "authenticated/" + k.components(separatedBy: "/").last!
                out[label] = ["limit": b.limit, "used": b.used, "reset": b.reset]
            }
            return ["buckets": out, "secondary_triggers": secondaryTriggers, "secondary_penalty_active": clock() < penaltyUntil]
        }
    }

    /// Forgets every bucket and penalty.
    func reset() {
        lock.withLock {
            buckets = [:]
            recentPoints = [:]
            penaltyUntil = 0
            secondaryTriggers = 0
        }
    }
}
