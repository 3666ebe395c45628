import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// UTC timestamps as GitHub writes them (`2026-11-20T00:00:00Z`), without DateFormatter or the clock.
public enum WorldTime {
    /// The default "now" of the synthetic world: 2026-11-20T00:00:00Z.
    public static let defaultNow: Int64 = 1_795_132_800

    /// `YYYY-MM-DDTHH:MM:SSZ` for epoch seconds.
    public static func format(_ epoch: Int64) -> String {
        var t = time_t(epoch)
        var tm = tm()
        gmtime_r(&t, &tm)
        return "\(pad(Int(tm.tm_year) + 1900, 4))-\(pad(Int(tm.tm_mon) + 1))-\(pad(Int(tm.tm_mday)))"
            + "T\(pad(Int(tm.tm_hour))):\(pad(Int(tm.tm_min))):\(pad(Int(tm.tm_sec)))Z"
    }

    /// Zero-padded decimal (String(format:) goes through locale machinery and is slow on Linux).
    private static func pad(_ n: Int, _ width: Int = 2) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// Epoch seconds for `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]` with `Z` or `±HH:MM`; nil otherwise.
    /// A bare date is midnight UTC.
    public static func parse(_ text: String) -> Int64? {
        let s = Array(text.utf8)
        func num(_ from: Int, _ len: Int) -> Int? {
            guard from + len <= s.count else { return nil }
            var v = 0
            for c in s[from..<(from + len)] {
                guard c >= 48, c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard s.count >= 10, let y = num(0, 4), s[4] == 45, let m = num(5, 2), s[7] == 45, let d = num(8, 2),
            (1...12).contains(m), (1...31).contains(d)
        else { return nil }
        var hh = 0
        var mm = 0
        var ss = 0
        var offset = 0
        if s.count > 10 {
            guard s[10] == 84 || s[10] == 32, let h = num(11, 2), s.count > 13, s[13] == 58, let mi = num(14, 2) else { return nil }
            hh = h
            mm = mi
            var i = 16
            if i < s.count, s[i] == 58, let se = num(17, 2) {
                ss = se
                i = 19
            }
            if i < s.count, s[i] == 46 {  // fractional seconds
                i += 1
                while i < s.count, s[i] >= 48, s[i] <= 57 { i += 1 }
            }
            if i < s.count {
                if s[i] == 90 {
                    i += 1
                } else if s[i] == 43 || s[i] == 45, let oh = num(i + 1, 2), i + 3 < s.count, s[i + 3] == 58, let om = num(i + 4, 2) {
                    offset = (oh * 3600 + om * 60) * (s[i] == 43 ? 1 : -1)
                    i += 6
                } else {
                    return nil
                }
            }
            guard i == s.count else { return nil }
        }
        return daysFromCivil(y, m, d) * 86400 + Int64(hh * 3600 + mm * 60 + ss - offset)
    }

    /// An HTTP-date (IMF-fixdate, `Fri, 20 Nov 2026 00:00:00 GMT`) for epoch seconds.
    public static func httpDate(_ epoch: Int64) -> String {
        var t = time_t(epoch)
        var tm = tm()
        gmtime_r(&t, &tm)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return "\(days[Int(tm.tm_wday)]), \(pad(Int(tm.tm_mday))) \(months[Int(tm.tm_mon)]) \(pad(Int(tm.tm_year) + 1900, 4)) "
            + "\(pad(Int(tm.tm_hour))):\(pad(Int(tm.tm_min))):\(pad(Int(tm.tm_sec))) GMT"
    }

    /// Epoch seconds of an IMF-fixdate HTTP-date, or nil.
    public static func parseHTTPDate(_ text: String) -> Int64? {
        let parts = text.split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard parts.count == 6, parts[5] == "GMT", let d = Int(parts[1]), let m = months.firstIndex(of: String(parts[2])),
            let y = Int(parts[3])
        else { return nil }
        let hms = parts[4].split(separator: ":").compactMap { Int($0) }
        guard hms.count == 3 else { return nil }
        return daysFromCivil(y, m + 1, d) * 86400 + Int64(hms[0] * 3600 + hms[1] * 60 + hms[2])
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return Int64(era * 146097 + doe - 719468)
    }
}
