import CMOBasics
import Foundation

/// A parsed `q` of `GET /search/repositories`: free-text terms plus the qualifiers GitHub documents.
struct GitHubSearchQuery {
    /// A numeric or date range: inclusive lower bound, exclusive upper bound.
    struct Range {
        var lower: Int64?
        var upper: Int64?
        func contains(_ v: Int64) -> Bool { (lower.map { v >= $0 } ?? true) && (upper.map { v < $0 } ?? true) }
    }

    struct Filter {
        var key: String
        var negated: Bool
        var value: String
        var range: Range?
    }

    var terms: [String] = []
    var filters: [Filter] = []
    var inFields: Set<String> = ["name", "description", "topics"]
    var fork = "false"  // forks are excluded unless a `fork:` qualifier says otherwise

    enum ParseError: Error {
        case invalid(String)
        case tooLong
        case tooManyOperators
    }

    static let qualifiers: Set<String> = [
        "language", "topic", "stars", "forks", "pushed", "created", "fork", "archived", "in", "user", "org", "is",
        "size", "topics", "license", "repo",
    ]

    init(_ q: String) throws {
        var freeTextLength = 0
        var operators = 0
        for token in Self.tokenize(q) {
            if ["AND", "OR", "NOT"].contains(token) {
                operators += 1
                continue
            }
            var t = Substring(token)
            let negated = t.hasPrefix("-") && t.contains(":")
            if negated { t = t.dropFirst() }
            if let colon = t.firstIndex(of: ":"), Self.qualifiers.contains(t[..<colon].lowercased()) {
                let key = t[..<colon].lowercased()
                let value = String(t[t.index(after: colon)...]).trimmingCharacters(in: ["\""])
                try add(key: key, value: value, negated: negated)
            } else {
                freeTextLength += token.count
                terms.append(token.trimmingCharacters(in: ["\""]).lowercased())
            }
        }
        if freeTextLength > 256 { throw ParseError.tooLong }
        if operators > 5 { throw ParseError.tooManyOperators }
    }

    private mutating func add(key: String, value: String, negated: Bool) throws {
        switch key {
        case "in":
            inFields = Set(value.lowercased().split(separator: ",").map(String.init))
        case "fork":
            fork = value.lowercased()
        case "stars", "forks", "size", "topics":
            guard let r = Self.range(value, parse: { Int64($0) }, nextUnit: 1) else { throw ParseError.invalid("\(key):\(value)") }
            filters.append(Filter(key: key, negated: negated, value: value, range: r))
        case "pushed", "created":
            let isDate = !value.contains("T")
            guard let r = Self.range(value, parse: WorldTime.parse, nextUnit: isDate ? 86400 : 1) else {
                throw ParseError.invalid("\(key):\(value)")
            }
            filters.append(Filter(key: key, negated: negated, value: value, range: r))
        default:
            filters.append(Filter(key: key, negated: negated, value: value.lowercased(), range: nil))
        }
    }

    /// `>n`, `>=n`, `<n`, `<=n`, `a..b`, `a..*`, `*..b`, `n`: for dates, `nextUnit` is a day so
    /// `>2025-01-01` starts the day after and `<=2025-01-01` ends with that day.
    static func range(_ s: String, parse: (String) -> Int64?, nextUnit: Int64) -> Range? {
        if s.hasPrefix(">=") { return parse(String(s.dropFirst(2))).map { Range(lower: $0, upper: nil) } }
        if s.hasPrefix("<=") { return parse(String(s.dropFirst(2))).map { Range(lower: nil, upper: $0 + nextUnit) } }
        if s.hasPrefix(">") { return parse(String(s.dropFirst())).map { Range(lower: $0 + nextUnit, upper: nil) } }
        if s.hasPrefix("<") { return parse(String(s.dropFirst())).map { Range(lower: nil, upper: $0) } }
        if let dots = s.range(of: "..") {
            let a = String(s[..<dots.lowerBound])
            let b = String(s[dots.upperBound...])
            var r = Range()
            if a != "*" {
                guard let v = parse(a) else { return nil }
                r.lower = v
            }
            if b != "*" {
                guard let v = parse(b) else { return nil }
                r.upper = v + nextUnit
            }
            return r
        }
        return parse(s).map { Range(lower: $0, upper: $0 + nextUnit) }
    }

    /// Splits on spaces, keeping `"quoted phrases"` (also inside `key:"a b"`) together.
    static func tokenize(_ q: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        var quoted = false
        for ch in q {
            if ch == "\"" { quoted.toggle() }
            if ch.isWhitespace && !quoted {
                if !current.isEmpty { tokens.append(current) }
                current = ""
            } else {
                current.append(ch)
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    static let languageAliases = ["cpp": "c++", "golang": "go", "js": "javascript", "ts": "typescript", "csharp": "c#"]

    /// Whether `repo` (owned by an account of `ownerType`) matches.
    func matches(_ repo: WorldRepo, ownerType: AccountType?) -> Bool {
        switch fork {
        case "true": break
        case "only": if !repo.isFork { return false }
        default: if repo.isFork { return false }
        }
        for f in filters {
            let hit: Bool
            switch f.key {
            case "language":
                let want = Self.languageAliases[f.value] ?? f.value
                hit = repo.language?.lowercased() == want
            case "topic": hit = repo.topics.contains(f.value)
            case "stars": hit = f.range!.contains(Int64(repo.stars))
            case "forks": hit = f.range!.contains(Int64(repo.forks))
            case "size": hit = f.range!.contains(Int64(repo.commits.count * 37))
            case "topics": hit = f.range!.contains(Int64(repo.topics.count))
            case "pushed": hit = f.range!.contains(repo.pushedAt)
            case "created": hit = f.range!.contains(repo.createdAt)
            case "archived": hit = repo.archived == (f.value == "true")
            case "user": hit = repo.ownerLogin.lowercased() == f.value
            case "org": hit = repo.ownerLogin.lowercased() == f.value && ownerType == .organization
            case "repo": hit = repo.fullName.lowercased() == f.value
            case "license": hit = repo.license == f.value
            case "is": hit = f.value == "public"
            default: hit = true
            }
            if hit == f.negated { return false }
        }
        for term in terms {
            var found = false
            if inFields.contains("name"), repo.name.lowercased().contains(term) { found = true }
            if !found, inFields.contains("description"), repo.description?.lowercased().contains(term) == true { found = true }
            if !found, inFields.contains("topics"), repo.topics.contains(where: { $0.contains(term) }) { found = true }
            if !found, inFields.contains("readme"), repo.readme.lowercased().contains(term) { found = true }
            if !found { return false }
        }
        return true
    }

    /// Best-match relevance: term hits in the name weigh most, then popularity.
    func score(_ repo: WorldRepo) -> Double {
        var s = 1.0
        for term in terms where repo.name.lowercased().contains(term) { s += 10 }
        return s + Double(repo.stars + 1).squareRoot() / 10
    }
}
