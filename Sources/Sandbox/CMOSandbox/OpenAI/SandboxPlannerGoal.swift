import Foundation

/// What the scripted planner reads out of a campaign goal written in plain words, e.g.
/// "Find 2k Python maintainers active in the last 90 days, queue Instantly seq=123, add to Attio
/// list=abc, export CSV".
struct SandboxPlannerGoal: Equatable {
    var language: String?
    /// Leads wanted (`2k` → 2000).
    var target: Int
    /// Activity window in days.
    var days: Int
    var minStars: Int
    var topics: [String]
    /// Instantly campaign (or sequence) id: `seq=123`, `campaign=<uuid>`, `sequence 123`.
    var campaignID: String?
    var wantsAttio: Bool
    /// Attio list id or slug: `list=abc`.
    var attioList: String?
    var wantsLinear: Bool
    /// Linear team key or id: `team=ENG`.
    var linearTeam: String?
    var wantsCSV: Bool
    var dryRun: Bool

    static let languages = [
        "python", "go", "golang", "rust", "javascript", "typescript", "swift", "ruby", "java", "kotlin", "c++", "c#",
        "php", "elixir", "haskell", "scala", "zig", "dart", "julia", "clojure", "ocaml", "lua", "perl", "r",
    ]

    init(_ text: String, defaults: OpenAIOptions) {
        let lower = text.lowercased()
        language = Self.language(in: lower)
        target = Self.target(in: lower) ?? defaults.defaultTarget
        days = Self.days(in: lower) ?? defaults.defaultDays
        minStars = Self.stars(in: lower) ?? defaults.defaultMinStars
        topics =
            Self.capture(lower, #"topics?\s*[=:]\s*([a-z0-9][a-z0-9, _-]*)"#)
            .map { $0.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init).filter { !$0.isEmpty && $0 != "and" } } ?? []
        campaignID =
            Self.capture(text, #"(?i)\b(?:seq|sequence|campaign)(?:[_ ]id)?\s*[=:#]\s*([A-Za-z0-9][A-Za-z0-9-]*)"#)
            ?? Self.capture(text, #"(?i)\b(?:seq|sequence|campaign)(?:[_ ]id)?\s+([A-Za-z0-9-]*[0-9][A-Za-z0-9-]*)"#)
        attioList =
            Self.capture(text, #"(?i)\blist(?:[_ ]id)?\s*[=:#]\s*([A-Za-z0-9][A-Za-z0-9_-]*)"#)
            ?? Self.capture(text, #"(?i)\battio list\s+([A-Za-z0-9][A-Za-z0-9_-]*)"#)
        wantsAttio = lower.contains("attio") || attioList != nil
        linearTeam =
            Self.capture(text, #"(?i)\bteam\s*[=:#]\s*([A-Za-z0-9][A-Za-z0-9_-]*)"#)
            ?? Self.capture(text, #"(?i)\blinear team\s+([A-Za-z0-9][A-Za-z0-9_-]*)"#)
        wantsLinear = lower.range(of: #"\blinear\b"#, options: .regularExpression) != nil
        wantsCSV = lower.range(of: #"\bcsv\b"#, options: .regularExpression) != nil
        dryRun = lower.range(of: #"\bdry[ -]?run\b"#, options: .regularExpression) != nil
    }

    static func stars(in lower: String) -> Int? {
        firstInt(lower, [#"(\d+)\s*\+?\s*stars"#, #"stars?\s*(?:>=|>|=|:|≥)\s*(\d+)"#, #"min[_ -]?stars\s*[=:]?\s*(\d+)"#])
    }

    static func language(in lower: String) -> String? {
        for l in languages {
            let escaped = NSRegularExpression.escapedPattern(for: l)
            if lower.range(of: "(^|[^a-z0-9+#])\(escaped)($|[^a-z0-9+#])", options: .regularExpression) != nil {
                if l == "r" && lower.range(of: #"\br (developers|maintainers|programmers|users)\b"#, options: .regularExpression) == nil {
                    continue
                }
                if l == "go"
                    && lower.range(
                        of: #"\bgo (developers|maintainers|devs|engineers|contributors|projects|repos)\b|\bin go\b"#,
                        options: .regularExpression) == nil
                {
                    continue
                }
                return l == "golang" ? "go" : l
            }
        }
        return nil
    }

    static func target(in lower: String) -> Int? {
        let nouns = "maintainers|developers|devs|leads|people|contributors|engineers|users|committers|prospects|authors"
        guard let m = captures(lower, #"(\d[\d,\.]*)\s*(k)?\s+(?:[a-z+#-]+\s+){0,3}?(?:\#(nouns))"#) else { return nil }
        let digits = m[0].replacingOccurrences(of: ",", with: "")
        guard var n = Double(digits) else { return nil }
        if !m[1].isEmpty { n *= 1000 }
        return Int(n)
    }

    static func days(in lower: String) -> Int? {
        if let d = firstInt(lower, [#"(\d+)\s*(?:days?|d)\b"#]) { return d }
        if let w = firstInt(lower, [#"(\d+)\s*weeks?\b"#]) { return w * 7 }
        if let m = firstInt(lower, [#"(\d+)\s*months?\b"#]) { return m * 30 }
        if lower.contains("last week") || lower.contains("past week") { return 7 }
        if lower.contains("last month") || lower.contains("past month") { return 30 }
        if lower.contains("last year") || lower.contains("past year") { return 365 }
        return nil
    }

    private static func firstInt(_ text: String, _ patterns: [String]) -> Int? {
        for p in patterns { if let s = capture(text, p), let n = Int(s) { return n } }
        return nil
    }

    static func capture(_ text: String, _ pattern: String) -> String? { captures(text, pattern)?.first }

    /// The capture groups of the first match (an unmatched group is "").
    static func captures(_ text: String, _ pattern: String) -> [String]? {
        guard let re = try? NSRegularExpression(pattern: pattern),
            let m = re.firstMatch(in: text, range: NSRange(text.startIndex..., in: text))
        else { return nil }
        return (1..<m.numberOfRanges).map { i in Range(m.range(at: i), in: text).map { String(text[$0]) } ?? "" }
    }
}
