/// Client-side pacing for vendors that document a limit and send no header for it (Instantly,
/// Attio): a sliding-window log of this client's sends per host and limit. A request goes only when
/// fewer than `requests` sends of its limit lie within the last `seconds + margin`, so any window of
/// `seconds` on the server holds at most `requests` of them even when arrival times jitter by up to
/// `margin` (every limit of a request must allow it: 100/s and 6,000/min both hold).
struct RequestPacer {
    /// Send times, oldest first, from `head` on (a queue over an array).
    private struct Log {
        var times: [Double] = []
        var head = 0
        var count: Int { times.count - head }

        mutating func drop(olderThan cutoff: Double) {
            while head < times.count, times[head] < cutoff { head += 1 }
            if head > 1024, head * 2 > times.count {
                times.removeFirst(head)
                head = 0
            }
        }
    }

    /// Allowance for arrival jitter (seconds added to each window).
    var margin: Double
    private var logs: [String: Log] = [:]

    init(margin: Double = 0) { self.margin = max(0, margin) }

    private static func key(_ host: String, _ limit: PaceLimit) -> String { "\(host) \(limit.name) \(limit.seconds)" }

    /// The earliest time a request counted against `limits` may go to `host`, and the limit that
    /// holds it back; nil when it may go now.
    mutating func wait(host: String, limits: [PaceLimit], now: Double) -> (at: Double, limit: PaceLimit)? {
        var latest: (at: Double, limit: PaceLimit)?
        for limit in limits where limit.requests > 0 {
            let key = Self.key(host, limit)
            guard var log = logs[key] else { continue }
            let window = limit.seconds + margin
            log.drop(olderThan: now - window)
            logs[key] = log
            guard log.count >= limit.requests else { continue }
            // The send that must leave the window first; a hair later so it has left it.
            let at = log.times[log.times.count - limit.requests] + window + 1e-4
            if at > now, latest == nil || at > latest!.at { latest = (at, limit) }
        }
        return latest
    }

    /// Notes a send at `time` against each of `limits`.
    mutating func record(host: String, limits: [PaceLimit], at time: Double) {
        for limit in limits where limit.requests > 0 {
            logs[Self.key(host, limit), default: Log()].times.append(time)
        }
    }
}
