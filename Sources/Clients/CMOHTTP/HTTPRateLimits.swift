import Foundation

/// What the client knows about rate limits: buckets per host (from the policy's headers, such as
/// GitHub's `x-ratelimit-*`, or the request's bucket hint) and hosts under a penalty
/// (secondary limit, or a `retry-after` on a 429).
struct RateLimits {
    struct Bucket {
        var remaining: Int?
        /// Epoch seconds at which `remaining` refills.
        var reset: Double?
        /// Highest `x-ratelimit-used` seen in the window ending at `usedReset`, for quota deltas.
        var maxUsed: Int?
        var usedReset: Double?
    }

    /// Keyed by `bucketKey(host, name)`.
    var buckets: [String: Bucket] = [:]
    /// The bucket a host's unhinted requests spend, learned from `x-ratelimit-resource`.
    var learned: [String: String] = [:]
    /// A host under a penalty (a secondary limit, a `retry-after` on a 429), and what follows it.
    struct HostPenalty {
        /// Nothing is sent to the host before this epoch time.
        var until = 0.0
        /// Penalties in a row, for the doubling wait when the server names none.
        var hits = 0
        /// When this client learned of the current penalty: a request started before then was
        /// already in flight, so its rejection is the same penalty, not a repeat.
        var learnedAt = 0.0
        /// After the penalty, one request at a time until one gets through (the probe).
        var probing = true
    }

    /// Hosts under a penalty, or probing after one.
    var penalties: [String: HostPenalty] = [:]
    /// Transfers in flight per bucket key.
    var inFlight: [String: Int] = [:]
    /// Transfers in flight per host, and how many of them were `serial`.
    var hostInFlight: [String: Int] = [:]
    var serialInFlight: [String: Int] = [:]

    static func bucketKey(_ host: String, _ name: String) -> String { host + " " + name }

    /// The bucket a request spends, when known.
    func bucketName(host: String, hint: String?) -> String? { hint ?? learned[host] }

    /// Records a response's rate-limit headers (`names`: the vendor's; nil when it sends none).
    /// Returns the bucket's name (nil when neither headers nor hint name one), the quota this
    /// response spent, and whether this response newly emptied the bucket.
    mutating func observe(
        host: String, hint: String?, status: Int, names: RateLimitHeaders? = .github, now: Double = 0, header: (String) -> String?
    ) -> (name: String?, spent: Int, emptied: Bool) {
        func value(_ name: String?) -> String? { name.flatMap { header($0) } }
        let resource = value(names?.resource)
        if hint == nil, let resource { learned[host] = resource }
        guard let name = resource ?? bucketName(host: host, hint: hint) else { return (nil, status == 304 ? 0 : 1, false) }
        let key = Self.bucketKey(host, name)
        var b = buckets[key] ?? Bucket()
        let reset =
            names?.resetIsDuration == true
            ? value(names?.reset).flatMap(RateLimitDialect.duration).map { now + $0 }
            : value(names?.reset).flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }.map(Self.epochSeconds)
        let wasEmpty = b.remaining == 0
        if let remaining = value(names?.remaining).flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) {
            // Concurrent responses arrive out of order: within one window keep the lowest count,
            // and never let an older window overwrite a newer one.
            let olderWindow = b.reset.map { old in reset.map { $0 < old } ?? false } ?? false
            if olderWindow {
                // a straggler from the previous window says nothing about this one
            } else if reset == b.reset, let known = b.remaining {
                b.remaining = min(known, remaining)
            } else {
                b.remaining = remaining
                b.reset = reset
            }
        }
        var spent = status == 304 ? 0 : 1  // a 304 is free
        if let used = value(names?.used).flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) {
            if let prev = b.maxUsed, b.usedReset == reset {
                if status != 304 { spent = max(0, used - prev) }
                b.maxUsed = max(prev, used)
            } else {
                b.maxUsed = used
                b.usedReset = reset
            }
        }
        buckets[key] = b
        return (name, spent, !wasEmpty && b.remaining == 0)
    }

    /// Linear sends reset times in milliseconds, GitHub in seconds.
    static func epochSeconds(_ value: Double) -> Double { value > 1e12 ? value / 1000 : value }
}
