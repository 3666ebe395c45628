import CMOBasics
import Foundation

/// ISO 8601 dates as GitHub writes them (`2026-11-20T00:00:00Z`).
public enum GitHubTime {
    public static func parse(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withFullDate]
        return f.date(from: s)
    }

    public static func format(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: d)
    }

    /// `YYYY-MM-DD` in UTC.
    public static func day(_ d: Date) -> String { String(format(d).prefix(10)) }

    /// The reference "now": `--now` (or `CMO_NOW`) when given, else the clock.
    public static func now(_ settings: Settings, flag: String?) throws -> Date {
        guard let text: String = try settings.resolve("now", flag: flag, env: "CMO_NOW") else { return Date() }
        guard let d = parse(text) else { throw StageFailure(.usage, "'--now \(text)' is not an ISO 8601 date") }
        return d
    }
}
