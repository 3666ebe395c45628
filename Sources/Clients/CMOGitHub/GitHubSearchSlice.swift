import Foundation

/// A repository search narrowed to a range of stars and of creation days, so that it can be split
/// until each slice has at most 1,000 results (GitHub's cap per query, apis.md §1.2).
///
/// The query's own `stars:` and `created:` qualifiers become the starting ranges; the rest of it is
/// kept word for word. Slices never overlap and always cover their parent, so splitting can neither
/// duplicate nor lose a repository.
public struct GitHubSearchSlice: Sendable, Equatable, CustomStringConvertible {
    /// The query without its `stars:`/`created:` qualifiers.
    public var rest: [String]
    /// Stars, inclusive; `hi == nil` means no upper bound.
    public var starsLo: Int
    public var starsHi: Int?
    /// Creation days since 1970-01-01 (UTC), inclusive; nil when the query does not constrain them.
    public var createdLo: Int?
    public var createdHi: Int?
    /// Whether the original query bounded stars / created at all (so unsplit slices read as written).
    var starsGiven: Bool
    var createdGiven: Bool
    /// False when a qualifier could not be parsed, so splitting on it would change the query's meaning.
    public var splittableStars = true
    public var splittableCreated = true

    /// Parses a query in GitHub's syntax.
    public init(query: String) {
        rest = []
        starsLo = 0
        starsGiven = false
        createdGiven = false
        for word in Self.words(query) {
            let lower = word.lowercased()
            if lower.hasPrefix("stars:"), !starsGiven, let r = Self.intRange(String(word.dropFirst(6))) {
                (starsLo, starsHi, starsGiven) = (r.0, r.1, true)
            } else if lower.hasPrefix("created:"), !createdGiven, let r = Self.dayRange(String(word.dropFirst(8))) {
                (createdLo, createdHi, createdGiven) = (r.0, r.1, true)
            } else {
                if lower.hasPrefix("stars:") || lower.hasPrefix("-stars:") { splittableStars = false }
                if lower.hasPrefix("created:") || lower.hasPrefix("-created:") { splittableCreated = false }
                rest.append(word)
            }
        }
    }

    /// The query text of this slice.
    public var query: String {
        var words = rest
        if starsGiven || starsLo > 0 || starsHi != nil {
            words.append(starsHi.map { $0 == starsLo ? "stars:\(starsLo)" : "stars:\(starsLo)..\($0)" } ?? "stars:>=\(starsLo)")
        }
        if let lo = createdLo, let hi = createdHi {
            words.append(lo == hi ? "created:\(Self.day(lo))" : "created:\(Self.day(lo))..\(Self.day(hi))")
        }
        return words.joined(separator: " ")
    }

    public var description: String { query }

    /// Two or more slices that cover this one, or nil when it cannot be split further.
    /// `maxStarsSeen` (the highest star count among results, when known) bounds an open range.
    /// Higher stars come first, so a stars-descending search keeps its order.
    public func split(maxStarsSeen: Int?, today: Int) -> [GitHubSearchSlice]? {
        if splittableStars, starsHi.map({ $0 > starsLo }) ?? true {
            var hi = starsHi
            if hi == nil, let seen = maxStarsSeen, seen >= starsLo { hi = seen }
            var low = self
            var high = self
            if let hi, hi > starsLo {
                // Split where the counts are likely to balance: star counts are heavy-tailed.
                let geometric = Int((Double(starsLo + 1) * Double(hi + 1)).squareRoot()) - 1
                let mid = min(hi - 1, max(starsLo, geometric))
                low.starsHi = mid
                high.starsLo = mid + 1
                high.starsHi = starsHi == nil ? nil : hi
            } else {
                let mid = starsLo + max(10, starsLo * 3)
                low.starsHi = mid
                high.starsLo = mid + 1
            }
            return [high, low]
        }
        guard splittableCreated else { return nil }
        let lo = createdLo ?? Self.dayNumber(year: 2007, month: 10, day: 1)
        let hi = createdHi ?? today + 1
        guard hi > lo else { return nil }
        let mid = lo + (hi - lo) / 2
        var newer = self
        var older = self
        older.createdLo = lo
        older.createdHi = mid
        newer.createdLo = mid + 1
        newer.createdHi = hi
        return [newer, older]
    }

    // MARK: - Parsing

    static func words(_ q: String) -> [String] {
        var out: [String] = []
        var current = ""
        var quoted = false
        for ch in q {
            if ch == "\"" { quoted.toggle() }
            if ch == " " && !quoted {
                if !current.isEmpty { out.append(current) }
                current = ""
            } else {
                current.append(ch)
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    /// `>N`, `>=N`, `<N`, `<=N`, `a..b`, `a..*`, `*..b`, `N`.
    static func intRange(_ s: String) -> (Int, Int?)? {
        func n(_ t: Substring) -> Int? { Int(t) }
        if s.hasPrefix(">=") { return n(s.dropFirst(2)).map { ($0, nil) } }
        if s.hasPrefix(">") { return n(s.dropFirst()).map { ($0 + 1, nil) } }
        if s.hasPrefix("<=") { return n(s.dropFirst(2)).map { (0, $0) } }
        if s.hasPrefix("<") { return n(s.dropFirst()).flatMap { $0 > 0 ? (0, $0 - 1) : nil } }
        if let r = s.range(of: "..") {
            let a = s[..<r.lowerBound]
            let b = s[r.upperBound...]
            let lo = a == "*" ? 0 : n(a)
            let hi: Int?? = b == "*" ? .some(nil) : n(b).map { .some($0) }
            guard let lo, let hi, (hi ?? lo) >= lo else { return nil }
            return (lo, hi)
        }
        return n(s[...]).map { ($0, $0) }
    }

    /// Date ranges on whole days (a time of day makes the qualifier unsplittable).
    static func dayRange(_ s: String) -> (Int, Int)? {
        let far = dayNumber(year: 2100, month: 1, day: 1)
        let start = dayNumber(year: 2007, month: 10, day: 1)
        func d(_ t: Substring) -> Int? { parseDay(String(t)) }
        if s.hasPrefix(">=") { return d(s.dropFirst(2)).map { ($0, far) } }
        if s.hasPrefix(">") { return d(s.dropFirst()).map { ($0 + 1, far) } }
        if s.hasPrefix("<=") { return d(s.dropFirst(2)).map { (start, $0) } }
        if s.hasPrefix("<") { return d(s.dropFirst()).map { (start, $0 - 1) } }
        if let r = s.range(of: "..") {
            let a = s[..<r.lowerBound]
            let b = s[r.upperBound...]
            guard let lo = a == "*" ? start : d(a), let hi = b == "*" ? far : d(b), hi >= lo else { return nil }
            return (lo, hi)
        }
        return d(s[...]).map { ($0, $0) }
    }

    static func parseDay(_ s: String) -> Int? {
        let p = s.split(separator: "-")
        guard s.count == 10, p.count == 3, let y = Int(p[0]), let m = Int(p[1]), let d = Int(p[2]), (1...12).contains(m),
            (1...31).contains(d)
        else { return nil }
        return dayNumber(year: y, month: m, day: d)
    }

    /// Days since 1970-01-01 (proleptic Gregorian).
    public static func dayNumber(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// `YYYY-MM-DD` of a day number.
    public static func day(_ n: Int) -> String {
        GitHubTime.day(Date(timeIntervalSince1970: Double(n) * 86400))
    }

    /// Today's day number.
    public static func dayNumber(_ date: Date) -> Int { Int((date.timeIntervalSince1970 / 86400).rounded(.down)) }
}
