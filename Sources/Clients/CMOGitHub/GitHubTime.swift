import CMOBasics
import CMOContract
import Foundation

/// ISO 8601 dates as GitHub writes them (`2026-11-20T00:00:00Z`).
public enum GitHubTime {
    /// A time with or without fractional seconds, or a day (`2026-11-20`: its start in UTC).
    public static func parse(_ s: String) -> Date? { (Timestamp.parse(s) ?? Timestamp.parseDay(s)).map(Date.init(timeIntervalSince1970:)) }

    public static func format(_ d: Date) -> String { Timestamp.string(d, milliseconds: false) }

    /// `YYYY-MM-DD` in UTC.
    public static func day(_ d: Date) -> String { String(format(d).prefix(10)) }

    /// The reference "now": `--now` (or `CMO_NOW`) when given, else the clock.
    public static func now(_ settings: Settings, flag: String?) throws -> Date {
        guard let text: String = try settings.resolve("now", flag: flag, env: "CMO_NOW") else { return Date() }
        guard let d = parse(text) else { throw StageFailure(.usage, "'--now \(text)' is not an ISO 8601 date") }
        return d
    }
}
