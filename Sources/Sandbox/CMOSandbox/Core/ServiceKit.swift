import Foundation

// Small helpers shared by the Instantly, Attio, Linear and OpenAI services (ids, time formats,
// fixed-window rate counters, JSON bodies). Kept under one namespace so they cannot collide with
// the rest of the module. (They would sit better in Core/; this folder is the services' own.)

/// Helpers shared by the sandbox's vendor services.
public enum ServiceKit {
    /// A stable 64-bit FNV-1a hash (Swift's `Hasher` is seeded per process).
    public static func fnv1a(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// A UUID (version 4 layout, lower case) that follows from the seed and a label.
    public static func uuid(seed: UInt64, _ label: String) -> String {
        var r = SeededRandom(seed: seed, stream: label)
        return uuid(from: r.next(), r.next())
    }

    /// A UUID (version 4 layout) from 128 bits.
    public static func uuid(from hi: UInt64, _ lo: UInt64) -> String {
        let h = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000
        let l = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000
        let a = String(h >> 32, radix: 16).leftPadded(8)
        let b = String((h >> 16) & 0xffff, radix: 16).leftPadded(4)
        let c = String(h & 0xffff, radix: 16).leftPadded(4)
        let d = String(l >> 48, radix: 16).leftPadded(4)
        let e = String(l & 0xffff_ffff_ffff, radix: 16).leftPadded(12)
        return "\(a)-\(b)-\(c)-\(d)-\(e)"
    }

    /// A time-ordered UUID (version 7 layout): ids made later sort after ids made earlier, as
    /// Instantly's lead ids do.
    public static func orderedUUID(seed: UInt64, sequence: Int, epochMS: UInt64) -> String {
        var r = SeededRandom(seed: seed, stream: "ordered-\(sequence)")
        let ms = (epochMS &+ UInt64(sequence)) & 0xffff_ffff_ffff
        let hi = (ms << 16) | 0x7000 | (r.next() & 0x0fff)
        let lo = (r.next() & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000
        let a = String(hi >> 32, radix: 16).leftPadded(8)
        let b = String((hi >> 16) & 0xffff, radix: 16).leftPadded(4)
        let c = String(hi & 0xffff, radix: 16).leftPadded(4)
        let d = String(lo >> 48, radix: 16).leftPadded(4)
        let e = String(lo & 0xffff_ffff_ffff, radix: 16).leftPadded(12)
        return "\(a)-\(b)-\(c)-\(d)-\(e)"
    }

    /// True when `text` is a UUID in 8-4-4-4-12 hexadecimal form (any version).
    public static func isUUID(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.map(\.count) == [8, 4, 4, 4, 12] else { return false }
        return parts.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }

    /// `2026-11-24T12:00:00.000Z`.
    public static func iso8601(_ date: Date, fractional: Bool = true) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = fractional ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: date)
    }

    /// An RFC 7231 IMF-fixdate: `Tue, 24 Nov 2026 12:00:01 GMT`.
    public static func httpDate(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return f.string(from: date)
    }

    /// The request body as a JSON value, or nil when it is not JSON.
    public static func json(_ body: [UInt8]) -> Any? {
        guard !body.isEmpty else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
    }

    /// A JSON string (sorted keys) of a JSONSerialization-compatible value.
    public static func jsonString(_ value: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The token of an `Authorization: Bearer <token>` header, or nil.
    public static func bearer(_ request: SandboxRequest) -> String? {
        guard let value = request.header("authorization") else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    /// An integer from a JSON number (not a Bool).
    public static func int(_ value: Any?) -> Int? {
        guard let n = value as? NSNumber, !isBool(n) else { return nil }
        return n.intValue
    }

    /// True for a JSON boolean (JSONSerialization gives NSNumber for both).
    public static func isBool(_ value: Any?) -> Bool {
        guard let n = value as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"  // JSONSerialization's booleans, on Linux and Darwin
    }

    /// A JSON boolean's value, or nil.
    public static func bool(_ value: Any?) -> Bool? {
        guard let n = value as? NSNumber, isBool(n) else { return nil }
        return n.boolValue
    }

    /// The `{placeholder}` values when `path` matches `pattern` (`/v2/lists/{list}/entries`), else nil.
    public static func match(_ pattern: String, _ path: String) -> [String]? {
        let want = pattern.split(separator: "/")
        let have = path.split(separator: "/")
        guard want.count == have.count else { return nil }
        var args: [String] = []
        for (w, h) in zip(want, have) {
            if w.hasPrefix("{") { args.append(String(h)) } else if w != h { return nil }
        }
        return args
    }

    /// A clock the services read: the real one by default, a fixed or stepped one in tests.
    public typealias Clock = @Sendable () -> Date
}

extension ServiceKit {
    /// A fixed-window counter: at most `limit` units per `window` seconds, windows aligned on the epoch.
    public struct RateWindow: Sendable {
        /// Units allowed per window.
        public var limit: Int
        /// Window length in seconds.
        public var window: TimeInterval
        private var windowStart: TimeInterval = -1
        private var used = 0

        /// A counter allowing `limit` units every `window` seconds.
        public init(limit: Int, window: TimeInterval) {
            self.limit = limit
            self.window = window
        }

        /// Takes `cost` units if they fit in the current window.
        public mutating func take(_ cost: Int = 1, now: Date) -> (allowed: Bool, remaining: Int, resetAt: Date) {
            roll(now)
            let reset = Date(timeIntervalSince1970: windowStart + window)
            guard limit > 0, used + cost <= limit else { return (false, max(0, limit - used), reset) }
            used += cost
            return (true, limit - used, reset)
        }

        /// What is left in the current window without taking anything.
        public mutating func peek(now: Date) -> (remaining: Int, resetAt: Date) {
            roll(now)
            return (max(0, limit - used), Date(timeIntervalSince1970: windowStart + window))
        }

        /// Forgets what was used.
        public mutating func reset() {
            windowStart = -1
            used = 0
        }

        private mutating func roll(_ now: Date) {
            let t = now.timeIntervalSince1970
            let start = (t / window).rounded(.down) * window
            if start != windowStart {
                windowStart = start
                used = 0
            }
        }
    }

}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
