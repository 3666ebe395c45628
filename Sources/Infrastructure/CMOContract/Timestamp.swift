#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation

/// The one way cmo writes and reads a time: ISO 8601 in UTC with milliseconds ("2026-12-03T11:25:38.817Z"),
/// formatted by hand (a Foundation date formatter costs more than the rest of a step's bookkeeping). Reads
/// the same form with or without the fraction.
public enum Timestamp {
    /// `date` as "YYYY-MM-DDTHH:MM:SS.mmmZ", or "YYYY-MM-DDTHH:MM:SSZ" (as GitHub writes times) without milliseconds.
    public static func string(_ date: Date = Date(), milliseconds: Bool = true) -> String {
        let s = string(seconds: date.timeIntervalSince1970)
        return milliseconds ? s : String(s.prefix(19)) + "Z"
    }

    /// The UTC day of `date`, "YYYY-MM-DD".
    public static func day(_ date: Date) -> String { String(string(date).prefix(10)) }

    /// `date` as "YYYYMMDDTHHMMSSZ", for names (job and run ids).
    public static func compact(_ date: Date = Date()) -> String {
        // "2026-12-03T11:25:38.817Z" → "20261203T112538Z": the digits of the date and time, and the T and Z.
        let s = string(date)
        let digits = s.prefix(19).filter { $0 != "-" && $0 != ":" }
        return String(digits) + "Z"
    }

    /// Seconds since 1970 as "YYYY-MM-DDTHH:MM:SS.mmmZ" (milliseconds rounded down).
    public static func string(seconds t: Double) -> String {
        // Counted in whole microseconds first: 1733571938.817 is stored as …38.81699…, which is 817 ms.
        let micros = (t * 1_000_000).rounded()
        let seconds = (micros / 1_000_000).rounded(.down)
        var whole = time_t(seconds)
        let ms = min(999, Int(((micros - seconds * 1_000_000) / 1000).rounded(.down)))
        var tm = tm()
        gmtime_r(&whole, &tm)
        var out = [UInt8]()
        out.reserveCapacity(24)
        func digits(_ n: Int, _ width: Int) {
            var d = [UInt8](repeating: UInt8(ascii: "0"), count: width)
            var n = n, i = width - 1
            while i >= 0 {
                d[i] = UInt8(ascii: "0") + UInt8(n % 10)
                n /= 10
                i -= 1
            }
            out += d
        }
        digits(Int(tm.tm_year) + 1900, 4)
        out.append(UInt8(ascii: "-"))
        digits(Int(tm.tm_mon) + 1, 2)
        out.append(UInt8(ascii: "-"))
        digits(Int(tm.tm_mday), 2)
        out.append(UInt8(ascii: "T"))
        digits(Int(tm.tm_hour), 2)
        out.append(UInt8(ascii: ":"))
        digits(Int(tm.tm_min), 2)
        out.append(UInt8(ascii: ":"))
        digits(Int(tm.tm_sec), 2)
        out.append(UInt8(ascii: "."))
        digits(ms, 3)
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Seconds since 1970 of the start (in UTC) of a day "YYYY-MM-DD", or nil.
    public static func parseDay(_ s: String) -> Double? { s.utf8.count == 10 ? parse(s + "T00:00:00Z") : nil }

    /// Seconds since 1970 of "YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)", or nil.
    public static func parse(_ s: String) -> Double? {
        let b = Array(s.utf8)
        func num(_ from: Int, _ n: Int) -> Int? {
            guard from + n <= b.count else { return nil }
            var v = 0
            for i in from..<(from + n) {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t"),
            b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
            let year = num(0, 4), let month = num(5, 2), let day = num(8, 2), let hour = num(11, 2), let minute = num(14, 2),
            let second = num(17, 2), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            var digits = 0, scale = 1.0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if i - start < 9 {
                    digits = digits * 10 + Int(b[i] - 48)
                    scale *= 10
                }
                i += 1
            }
            fraction = Double(digits) / scale
            guard i > start else { return nil }
        }
        var offset = 0
        guard i < b.count else { return nil }
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            guard let h = num(i + 1, 2), i + 3 < b.count, b[i + 3] == UInt8(ascii: ":"), let m = num(i + 4, 2) else { return nil }
            offset = (h * 3600 + m * 60) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        // Days since 1970 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        return Double(days * 86400 + hour * 3600 + minute * 60 + second - offset) + fraction
    }

    /// Seconds from `start` to the time `s`, when both are known.
    public static func since(_ s: String?, _ start: Double?) -> Double? {
        guard let s, let t = parse(s), let start else { return nil }
        return t - start
    }
}
