import Foundation

/// Instantly's workspace limit as sliding windows: no more than `perSecond` requests in any span of
/// one second and no more than `perMinute` in any span of 60 seconds (clock-aligned windows would let
/// 200 requests through around a second boundary, and could never trip the minute limit at 100/s).
struct InstantlyRateLimit {
    /// Which window refused a request.
    enum Refusal: String {
        case perSecond = "per_second"
        case perMinute = "per_minute"
    }

    var perSecond: Int
    var perMinute: Int
    /// Refused requests count in the windows too.
    var countRefused: Bool
    private var second = SlidingLog(span: 1)
    private var minute = SlidingLog(span: 60)

    init(perSecond: Int, perMinute: Int, countRefused: Bool) {
        self.perSecond = perSecond
        self.perMinute = perMinute
        self.countRefused = countRefused
    }

    /// Admits a request arriving at `now`, or says which limit it is over.
    mutating func admit(now: Date) -> Refusal? {
        let t = now.timeIntervalSince1970
        let inSecond = second.count(at: t)
        let inMinute = minute.count(at: t)
        let refusal: Refusal? =
            inSecond >= perSecond ? .perSecond : inMinute >= perMinute ? .perMinute : nil
        if refusal == nil || countRefused {
            second.append(t)
            minute.append(t)
        }
        return refusal
    }

    mutating func reset() {
        second = SlidingLog(span: 1)
        minute = SlidingLog(span: 60)
    }
}

/// Arrival times in a span that ends now: `count(at:)` drops those at or before `t - span`.
struct SlidingLog {
    let span: TimeInterval
    private var times: [TimeInterval] = []
    private var head = 0

    init(span: TimeInterval) { self.span = span }

    /// Arrivals in `(t - span, t]`.
    mutating func count(at t: TimeInterval) -> Int {
        while head < times.count, times[head] <= t - span { head += 1 }
        if head > 4096, head * 2 > times.count {
            times.removeFirst(head)
            head = 0
        }
        return times.count - head
    }

    mutating func append(_ t: TimeInterval) { times.append(t) }
}
