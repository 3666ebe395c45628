import CMOBasics
import Foundation
import Yams

/// A goal read by the rule parser: the job, and the words it did not understand (in order).
public struct GoalParse: Sendable {
    public var job: Job
    public var unknown: [String]
}

/// The embedded rule parser: how people really write goals ("~2k Py maintainers active 90d, seq=123").
public enum GoalParser {
    static let languageAliases: [String: String] = [
        "python": "python", "py": "python", "python3": "python", "golang": "go", "go": "go", "js": "javascript",
        "javascript": "javascript", "node": "javascript", "nodejs": "javascript", "ts": "typescript", "typescript": "typescript",
        "c++": "c++", "cpp": "c++", "c#": "c#", "csharp": "c#", "rust": "rust", "java": "java", "kotlin": "kotlin",
        "swift": "swift", "ruby": "ruby", "php": "php", "scala": "scala", "elixir": "elixir", "haskell": "haskell", "c": "c",
        "zig": "zig", "dart": "dart",
    ]
    static let people: Set<String> = [
        "maintainers", "maintainer", "developers", "developer", "devs", "dev", "people", "leads", "contributors", "engineers",
        "committers", "authors", "users", "repos", "repositories", "folks", "programmers",
    ]
    static let filler: Set<String> = [
        "find", "get", "me", "the", "a", "an", "in", "and", "of", "them", "queue", "add", "to", "into", "with", "who", "are", "have",
        "been", "for", "on", "active", "last", "past", "days", "day", "export", "instantly", "attio", "linear", "please", "about",
        "around", "roughly", "approximately", "some", "their", "it", "all", "then", "also", "that", "at", "least", "stars", "star",
        "csv", "file", "as", "from", "within", "over", "more", "than", "top", "best", "up", "+", "~", "&", "sync", "send", "put",
        "push", "upload", "load", "list", "campaign", "sequence", "team", "this", "year", "months", "month", "weeks", "week",
        "only", "run", "dry", "do", "not", "anything", "don't", "dont", "without", "sending", "topic", "topics", "by", "or",
        "recently", "who've", "recent", "open", "source", "projects", "project", "committed", "commit", "commits", "file", "tickets",
        "ticket", "errors", "issues", "any", "mails", "emails", "email",
    ]

    public static func parse(_ goal: String, now: Date = Date()) -> GoalParse {
        var job = Job()
        // Tokens: words with their punctuation trimmed, keeping c++, c#, 2,000, 1.5k, key=value, uuids.
        let raw = goal.replacingOccurrences(of: "\u{2019}", with: "'").split(whereSeparator: { $0.isWhitespace }).map(String.init)
        var tokens: [String] = []
        for r in raw {
            var t = r
            while let l = t.last, ",.;:!?)\"'".contains(l), !(t.hasSuffix("++") || t.hasSuffix("#")) { t.removeLast() }
            while let f = t.first, "(\"'".contains(f) { t.removeFirst() }
            if !t.isEmpty { tokens.append(t) }
        }
        var used = Array(repeating: false, count: tokens.count)
        let lower = tokens.map { $0.lowercased() }
        func mark(_ i: Int...) { for j in i where j >= 0 && j < tokens.count { used[j] = true } }
        func word(_ i: Int) -> String { i >= 0 && i < lower.count ? lower[i] : "" }

        var languages: [String] = []
        var topics: [String] = []
        for i in tokens.indices {
            let w = lower[i]
            // key=value forms.
            if let eq = w.firstIndex(of: "="), eq != w.startIndex {
                let key = String(w[..<eq]), value = String(tokens[i][tokens[i].index(after: eq)...])
                switch key {
                case "seq", "sequence", "campaign": job.instantlyCampaign = value; mark(i); continue
                case "list": job.attioList = value; mark(i); continue
                case "team": job.linearTeam = value; mark(i); continue
                case "stars", "min_stars", "stars>": job.minStars = count(value.trimmingCharacters(in: CharacterSet(charactersIn: ">="))); mark(i); continue
                case "topic": topics.append(value.lowercased()); mark(i); continue
                case "language", "lang": if let l = languageAliases[value.lowercased()] { languages.append(l) }; mark(i); continue
                default: break
                }
            }
            if w.hasPrefix("stars>=") || w.hasPrefix("stars>") {
                job.minStars = count(String(w.drop { !$0.isNumber })); mark(i); continue
            }
            if w.hasPrefix("topic:") { topics.append(String(w.dropFirst(6))); mark(i); continue }
            if w.hasPrefix("#"), w.count > 1, w != "c#" { topics.append(String(w.dropFirst())); mark(i); continue }
            // Star floor: "500+ stars", "at least 500 stars", "over 1k stars", "min stars 50".
            if ["stars", "star"].contains(word(i + 1)) || (["stars", "star"].contains(word(i + 2)) && word(i + 1) == "or"),
                let n = count(w.trimmingCharacters(in: CharacterSet(charactersIn: "+")))
            {
                job.minStars = n; mark(i, i + 1); continue
            }
            if w == "stars", word(i - 1) == "min" || word(i - 1) == "minimum", let n = count(word(i + 1)) {
                job.minStars = n; mark(i - 1, i, i + 1); continue
            }
            // Activity: "active 90d", "in the last 90 days", "past 3 months", "last 6 months", "this year", "last year".
            if w.range(of: #"^\d+d$"#, options: .regularExpression) != nil { job.activeDays = Int(w.dropLast()); mark(i); continue }
            if let n = count(w), i + 1 < lower.count {
                let unit = word(i + 1)
                let days: Int? =
                    unit.hasPrefix("day") ? n : unit.hasPrefix("week") ? n * 7 : unit.hasPrefix("month") ? n * 30 : unit.hasPrefix("year") ? n * 365 : nil
                if let days, ["last", "past", "active", "within"].contains(word(i - 1)) || ["last", "past"].contains(word(i - 2)) || word(i - 1) == "the" {
                    job.activeDays = days; mark(i, i + 1); continue
                }
            }
            if (w == "year" || w == "month" || w == "week"), ["last", "past", "this"].contains(word(i - 1)) {
                if w == "year" && word(i - 1) == "this" {
                    var cal = Calendar(identifier: .gregorian)
                    cal.timeZone = TimeZone(identifier: "UTC")!
                    let start = cal.date(from: cal.dateComponents([.year], from: now)) ?? now
                    job.activeDays = max(1, Int(now.timeIntervalSince(start) / 86_400))
                } else {
                    job.activeDays = w == "year" ? 365 : w == "month" ? 30 : 7
                }
                mark(i - 1, i); continue
            }
            // Writers: "Instantly campaign X", "sequence X", "Attio list X", "Linear team X".
            if ["campaign", "sequence", "seq"].contains(w), i + 1 < tokens.count, !filler.contains(word(i + 1)) {
                job.instantlyCampaign = tokens[i + 1]; mark(i, i + 1); continue
            }
            if w == "list", i + 1 < tokens.count, !filler.contains(word(i + 1)) { job.attioList = tokens[i + 1]; mark(i, i + 1); continue }
            if w == "team", i + 1 < tokens.count, !filler.contains(word(i + 1)) { job.linearTeam = tokens[i + 1]; mark(i, i + 1); continue }
            if w == "topic" || w == "topics", i + 1 < tokens.count {
                var j = i + 1
                while j < tokens.count, !filler.contains(lower[j]) || lower[j] == "and" {
                    if lower[j] != "and" { topics.append(lower[j]) }
                    mark(j)
                    j += 1
                }
                mark(i); continue
            }
            if w == "csv" || (w == "export" && !["only"].contains(word(i + 1))) { job.export = true; mark(i); continue }
            if w == "export", word(i + 1) == "only" { job.export = true; job.dryRun = true; mark(i, i + 1); continue }
            if (w == "dry" && word(i + 1) == "run") || w == "dry-run" || w == "dryrun" { job.dryRun = true; mark(i, i + 1); continue }
            if ["not", "don't", "dont", "without"].contains(w), word(i + 1) == "send" || word(i + 1) == "sending" {
                job.dryRun = true; mark(i, i + 1, i + 2); continue
            }
            // Languages: the alias table; lower-case "go" only before a noun of people ("go find" is a verb).
            if let l = languageAliases[w] {
                let isVerbGo = w == "go" && tokens[i] == "go" && !people.contains(word(i + 1)) && word(i + 1) != "and"
                let isLetterC = w == "c" && tokens[i] != "C"
                if !isVerbGo && !isLetterC {
                    languages.append(l); mark(i); continue
                }
            }
            // Target: a count before a noun of people ("2k Python maintainers", "2,000 devs").
            if job.target == nil, let n = count(w.trimmingCharacters(in: CharacterSet(charactersIn: "~"))) {
                let ahead = (1...3).map { word(i + $0) }
                if ahead.contains(where: { people.contains($0) }) || ahead.contains(where: { languageAliases[$0] != nil }) {
                    job.target = n; mark(i); continue
                }
            }
        }
        if !languages.isEmpty { job.languages = languages.reduce(into: []) { if !$0.contains($1) { $0.append($1) } } }
        if !topics.isEmpty { job.topics = topics }
        var unknown: [String] = []
        for (i, t) in tokens.enumerated() where !used[i] {
            let w = lower[i]
            if filler.contains(w) || people.contains(w) || w.allSatisfy({ !$0.isLetter && !$0.isNumber }) { continue }
            if w == "go" && tokens[i] == "go" { continue }
            unknown.append(t)
        }
        return GoalParse(job: job, unknown: unknown)
    }

    /// "2k", "~2k", "2,000", "1.5k", "2000" → the number.
    public static func count(_ s: String) -> Int? {
        var t = s.lowercased().replacingOccurrences(of: ",", with: "").replacingOccurrences(of: "~", with: "")
        var scale = 1.0
        if t.hasSuffix("k") { scale = 1000; t.removeLast() } else if t.hasSuffix("m") { scale = 1_000_000; t.removeLast() }
        guard !t.isEmpty, t.allSatisfy({ $0.isNumber || $0 == "." }), let v = Double(t), v > 0 else { return nil }
        return Int((v * scale).rounded())
    }
}

extension Job {
    /// One JSON object, the fields in their fixed order (`Job.fields`), absent when not set.
    public func json() -> String {
        let object = (try? JSONEncoder().encode(self)).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
        let members = Self.fields.compactMap { f -> JSONMember? in
            guard let v = object[f.name] else { return nil }
            switch v {
            case let b as Bool where f.kind == .flag: return JSONMember(f.name, .bool(b))
            case let n as Int: return JSONMember(f.name, .int(n))
            case let s as String: return JSONMember(f.name, .string(s))
            case let a as [String]: return JSONMember(f.name, .array(a.map { .string($0) }))
            default: return nil
            }
        }
        return JSONValue.object(members).compactJSON
    }

    public struct FileError: Error, CustomStringConvertible {
        public let description: String
    }

    /// A job file: the same fields in YAML. An unknown key or a wrong type is an error naming it.
    public static func load(yaml: String) throws -> Job {
        guard let object = try Yams.load(yaml: yaml) as? [String: Any] else { throw FileError(description: "a job file is a YAML mapping") }
        let known = Set(fieldNames)
        let unknown = object.keys.filter { !known.contains($0) }.sorted()
        guard unknown.isEmpty else { throw FileError(description: "unknown key(s) \(unknown.joined(separator: ", ")) (known: \(known.sorted().joined(separator: ", ")))") }
        var values: [String: Any] = [:]
        for f in fields {
            guard let v = object[f.name] else { continue }
            switch f.kind {
            case .count:
                if let i = v as? Int {
                    values[f.name] = i
                } else if let s = v as? String, let i = GoalParser.count(s) {
                    values[f.name] = i
                } else {
                    throw FileError(description: "\(f.name) must be a number")
                }
            case .id:
                if let s = v as? String { values[f.name] = s } else if let i = v as? Int { values[f.name] = String(i) } else {
                    throw FileError(description: "\(f.name) must be a string")
                }
            case .flag:
                guard let b = v as? Bool else { throw FileError(description: "\(f.name) must be true or false") }
                values[f.name] = b
            case .names:
                if let s = v as? String {
                    values[f.name] = [s]
                } else if let a = v as? [Any], a.allSatisfy({ $0 is String }) {
                    values[f.name] = a
                } else {
                    throw FileError(description: "\(f.name) must be a list of names")
                }
            }
        }
        var job = try JSONDecoder().decode(Job.self, from: JSONSerialization.data(withJSONObject: values))
        job.languages = job.languages.map { $0.map { GoalParser.languageAliases[$0.lowercased()] ?? $0.lowercased() } }
        return job
    }
}
