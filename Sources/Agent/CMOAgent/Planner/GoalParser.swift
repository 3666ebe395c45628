import CMOBasics
import Foundation
import Yams

/// A goal as a parser read it: the job, the words it did not understand, and why it cannot run, if it cannot.
public struct GoalParse: Sendable {
    /// A word (or none) of the goal that could not be placed, and why.
    struct Problem: Sendable {
        /// The tokens it is about; none for a problem of the whole goal ("it does not say who").
        var tokens: [Int]
        var reason: String
    }

    public var job: Job
    /// The words not placed in the job, harmless or not, in the goal's order.
    public var unknown: [String]
    /// What could not be read, so that the goal is refused.
    var problems: [Problem]
    /// The goal's tokens and whether each was placed in the job (the model parser grounds its answer in them).
    var tokens: [String]
    var placed: [Bool]
    /// Counts the goal states that were not placed, with their first token (a model's target may be one).
    var loose: [(value: Int, token: Int)]

    public init(job: Job, unknown: [String] = []) {
        self.init(job: job, unknown: unknown, problems: [], tokens: [], placed: [], loose: [])
    }

    init(job: Job, unknown: [String], problems: [Problem], tokens: [String], placed: [Bool], loose: [(value: Int, token: Int)]) {
        (self.job, self.unknown, self.problems, self.tokens, self.placed, self.loose) = (job, unknown, problems, tokens, placed, loose)
    }

    /// Why the goal is refused: each thing that could not be read, with its reason, joined by ", " (as
    /// `"Klingonscript" is not a language I know, "-5" is below zero`); nil when the goal was read whole. A
    /// refused goal does not run: cmo-plan exits 64 and the chat asks again.
    public var refusal: String? {
        var seen: Set<String> = []
        let reasons = problems.map(\.reason).filter { seen.insert($0).inserted }
        return reasons.isEmpty ? nil : reasons.joined(separator: ", ")
    }

    /// What the reader assumed, said on stderr: the default count when the goal gives none.
    public var notes: [String] {
        guard refusal == nil, job.target == nil else { return [] }
        return ["no count stated: \(RulePlanner.defaultTarget) leads, the default"]
    }
}

/// The embedded rule parser: how people really write goals ("~2k Py maintainers active 90d, seq=123").
///
/// Each word of a goal is placed in the job, or is known filler, or is not understood. A word not understood
/// refuses the goal when it could carry a constraint, and is only named on stderr when it cannot. It could
/// carry one when it
/// - holds a digit or a letter outside English ("1e12", "-5", the "3" of "in 3 days", "für");
/// - stands where a language or topic would: before a noun of people or projects ("Klingonscript
///   maintainers"), or first after "in", "of", "with", "using", "on", "from", "at", "near" ("in berlin");
/// - is capitalised inside a sentence (a name: "Berlin", "Acme");
/// - is a unit of time, "stars", or a negation that was not read ("years of experience", "except Go").
/// A goal must also say who: a language, a topic, or a noun of people with a count, window or star floor
/// ("find some people" is refused). Every value must be in range (target 1…`Job.maxTarget`, days
/// 1…`Job.maxDays`, stars 0…`Job.maxStars`), and every id one word that does not start with '-'.
public enum GoalParser {
    static let languageAliases: [String: String] = [
        "python": "python", "py": "python", "python3": "python", "golang": "go", "go": "go", "js": "javascript",
        "javascript": "javascript", "node": "javascript", "nodejs": "javascript", "node.js": "javascript", "ts": "typescript",
        "typescript": "typescript", "c++": "c++", "cpp": "c++", "c#": "c#", "csharp": "c#", "rust": "rust", "java": "java",
        "kotlin": "kotlin", "swift": "swift", "ruby": "ruby", "php": "php", "scala": "scala", "elixir": "elixir",
        "haskell": "haskell", "c": "c", "zig": "zig", "dart": "dart", "lua": "lua", "perl": "perl", "julia": "julia",
        "clojure": "clojure", "erlang": "erlang", "ocaml": "ocaml", "nim": "nim", "crystal": "crystal", "elm": "elm",
        "fortran": "fortran", "groovy": "groovy", "solidity": "solidity", "shell": "shell", "bash": "shell",
        "powershell": "powershell", "objective-c": "objective-c", "objc": "objective-c", "f#": "f#", "fsharp": "f#",
    ]
    /// Nouns of people: a count before one is the target.
    static let people: Set<String> = [
        "maintainers", "maintainer", "developers", "developer", "devs", "dev", "people", "leads", "lead", "contributors",
        "contributor", "engineers", "engineer", "committers", "authors", "author", "users", "folks", "programmers",
        "programmer", "contacts", "prospects", "owners", "creators", "hackers", "coders", "persons", "individuals",
    ]
    /// Nouns of what people keep: a word not understood before one stands where a language or topic would.
    static let projects: Set<String> = [
        "repos", "repo", "repositories", "repository", "projects", "project", "libraries", "library", "packages", "package",
        "crates", "frameworks", "codebases", "code", "apps", "tools",
    ]
    static let filler: Set<String> = [
        "find", "get", "me", "us", "the", "a", "an", "in", "and", "of", "them", "queue", "add", "to", "into", "with", "who",
        "are", "is", "have", "has", "been", "for", "on", "active", "last", "past", "export", "instantly", "attio", "linear",
        "please", "about", "around", "roughly", "approximately", "some", "their", "it", "all", "then", "also", "that", "at",
        "least", "csv", "file", "as", "from", "within", "over", "more", "than", "top", "best", "up", "sync", "send", "put",
        "push", "upload", "load", "list", "campaign", "sequence", "team", "this", "only", "just", "run", "dry", "do",
        "anything", "sending", "topic", "topics", "by", "or", "recently", "who've", "recent", "open", "source", "open-source",
        "committed", "commit", "commits", "tickets", "ticket", "errors", "issues", "any", "mails", "emails", "email", "our",
        "my", "we", "i", "want", "need", "looking", "look", "search", "pull", "grab", "collect", "gather", "can", "could",
        "would", "you", "will", "should", "there", "these", "those", "which", "whose", "github", "great", "good", "awesome",
        "talented", "relevant", "qualified", "potential", "new", "real", "actual", "quality", "high-quality", "interesting",
        "cool", "nice", "strong", "solid", "thanks", "thank", "hi", "hello", "hey", "ok", "okay", "so", "too", "well",
        "outreach", "outbound", "campaigns", "newsletter", "pipeline", "funnel", "ideally", "maybe", "perhaps", "kindly",
        "like", "such", "each", "every", "per", "they", "make", "sure", "keep", "via", "using", "work", "working", "write",
        "writing", "maintain", "maintaining", "contribute", "contributing", "build", "building", "ones", "someone", "anyone",
        "people's", "was", "were", "be", "being", "had", "did", "does", "done", "here", "now", "afterwards", "after", "before",
        "next", "first", "finally", "lists", "queued", "added", "create", "onto", "out", "spreadsheet", "report", "results",
        "result", "data", "rows", "save", "store", "give", "show", "developer's", "devs'", "currently", "still", "actively",
        "regularly", "frequently", "often", "pushed", "pushing", "publish", "published", "updated", "update", "updates",
        "enrich", "verify", "verified", "score", "scored", "check", "emailable", "reachable", "contactable", "valid", "public",
        "asap",
    ]
    static let connectors: Set<String> = ["and", "or", "&", "+", "plus", "and/or", ","]
    /// Words that turn something down, which a job cannot say ("except Go", "no bots").
    static let negations: Set<String> = ["not", "no", "don't", "dont", "without", "except", "excluding", "exclude", "never", "nor", "skip", "avoid", "ignore", "minus"]
    /// Units of time, in days.
    static let units: [String: Int] = [
        "day": 1, "days": 1, "d": 1, "week": 7, "weeks": 7, "wk": 7, "wks": 7, "w": 7, "month": 30, "months": 30, "mo": 30, "mos": 30,
        "quarter": 90, "quarters": 90, "q": 90, "year": 365, "years": 365, "yr": 365, "yrs": 365, "y": 365,
    ]
    /// Words before a window's number ("in the last 90 days", "active 90 days").
    static let windowLead: Set<String> = ["last", "past", "within", "active", "the", "over", "previous", "prior", "trailing", "recent", "for", "latest"]
    /// Words after which the first word not understood stands where a language, topic or place would.
    static let prepositions: Set<String> = ["in", "of", "with", "using", "on", "from", "at", "near", "based", "written", "around", "among"]
    static let months = [
        "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december",
    ]
    static let shortMonths = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let smallNumbers: [String: Int] = [
        "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
        "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
        "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
        "eighty": 80, "ninety": 90,
    ]
    static let scales: [String: Double] = ["hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000]

    /// The longest goal cmo-plan reads, in words (white-space separated): a goal is a sentence or a short
    /// paragraph, so more is a mistake (a pasted file, a glob the shell expanded) that is refused at once,
    /// exit 64, rather than read. The parser itself is linear in a goal's words whatever its length (the chat
    /// and tests hand it text directly).
    public static let maxWords = 1000

    /// Why a goal of `words` words is not read (over `maxWords`), or nil.
    public static func lengthProblem(words: Int) -> String? {
        words > maxWords ? "a goal of \(words) words is longer than cmo reads (at most \(maxWords)); say it in fewer words or use --job FILE" : nil
    }

    /// The words of a goal as `lengthProblem` counts them: runs of non-white-space characters.
    public static func wordCount(_ goal: String) -> Int {
        goal.split(whereSeparator: { $0.isWhitespace }).count
    }

    /// Reads a goal; `now` is what "this quarter" and "since March" count back from.
    public static func parse(_ goal: String, now: Date = Date()) -> GoalParse {
        var reader = Reader(goal, now: now)
        return reader.parse()
    }

    /// "2k", "~2k", "2,000", "1.5k", "2000" → the number; nil for anything else, for 0, and for what is not a
    /// whole number an Int holds.
    public static func count(_ s: String) -> Int? {
        guard let v = digits(s.lowercased()), v >= 1 else { return nil }
        return whole(v)
    }

    /// `v` as an Int when it is a whole number well inside Int's range (never traps).
    static func whole(_ v: Double) -> Int? {
        guard v.isFinite, v.rounded() == v, abs(v) < 1e15 else { return nil }
        return Int(v)
    }

    /// A number in digits ("2,000", "~2k", "1.5k", "500+"), or nil.
    static func digits(_ s: String) -> Double? {
        var t = Substring(s)
        while let f = t.first, f == "~" || f == "≈" { t.removeFirst() }
        if t.hasSuffix("+") { t.removeLast() }
        var scale = 1.0
        if let l = t.last, l == "k" || l == "m" { scale = l == "k" ? 1000 : 1_000_000; t.removeLast() }
        let text = String(t)
        guard GoalPattern.number.range(in: text) != nil,
            let v = Double(text.replacingOccurrences(of: ",", with: ""))
        else { return nil }
        return v * scale
    }

    /// Days from the start of `component` (the month, the quarter or the year of `now`, in UTC) to `now`, at least 1.
    static func daysSinceStart(of component: Calendar.Component, now: Date) -> Int {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let parts = cal.dateComponents([.year, .month], from: now)
        var start = DateComponents(year: parts.year, month: 1, day: 1)
        if component == .month { start.month = parts.month }
        if component == .quarter { start.month = ((parts.month ?? 1) - 1) / 3 * 3 + 1 }
        return days(since: cal.date(from: start) ?? now, now: now)
    }

    /// Whole days from `start` to `now`, rounded up, at least 1.
    static func days(since start: Date, now: Date) -> Int {
        let d = (now.timeIntervalSince(start) / 86_400).rounded(.up)
        return d.isFinite ? max(1, Int(min(d, 1e9))) : 1
    }

    /// Why an id cannot be used, or nil: one word of at most 200 characters, no control characters, not
    /// starting with '-' (it would read as a flag).
    static func idProblem(_ id: String) -> String? {
        if id.isEmpty { return "is empty" }
        if id.hasPrefix("-") { return "starts with '-'" }
        if id.count > 200 { return "is longer than 200 characters" }
        if id.unicodeScalars.contains(where: { CharacterSet.whitespacesAndNewlines.contains($0) || CharacterSet.controlCharacters.contains($0) }) {
            return "holds a space or a control character"
        }
        return nil
    }

    /// Why a job cannot run, one reason per field out of range or bad id (empty when it can).
    static func rangeProblems(_ job: Job) -> [String] {
        var out: [String] = []
        if let t = job.target, !(1...Job.maxTarget).contains(t) { out.append("a target of \(t) leads is not between 1 and \(Job.maxTarget)") }
        if let d = job.activeDays, !(1...Job.maxDays).contains(d) { out.append("a window of \(d) days is not between 1 and \(Job.maxDays)") }
        if let s = job.minStars, !(0...Job.maxStars).contains(s) { out.append("a floor of \(s) stars is not between 0 and \(Job.maxStars)") }
        for (name, id) in [("instantly_campaign", job.instantlyCampaign), ("attio_list", job.attioList), ("linear_team", job.linearTeam)] {
            if let id, let why = idProblem(id) { out.append("the \(name) '\(TextCleaning.truncate(TextCleaning.oneLine(id), to: 60))' \(why)") }
        }
        return out
    }

    /// Whether a job says who to find: a language, a topic, or (`namesPeople`) people with a count, window or star floor.
    static func saysWho(_ job: Job, namesPeople: Bool) -> Bool {
        !(job.languages ?? []).isEmpty || !(job.topics ?? []).isEmpty
            || (namesPeople && (job.target != nil || job.activeDays != nil || job.minStars != nil))
    }

    static let vague = "it does not say who: name a language (Python), a topic (#ml) or how many people"
}

extension GoalParser {
    /// One reading of one goal: tokens, which are placed, the job so far, and what could not be read.
    struct Reader {
        let now: Date
        /// The tokens as written, lower-cased, and whether each begins a sentence.
        var tokens: [String] = []
        var lower: [String] = []
        var starts: [Bool] = []
        /// Placed in the job; or already named in a problem.
        var used: [Bool] = []
        var flagged: [Bool] = []
        var job = Job()
        var languages: [String] = []
        var topics: [String] = []
        var problems: [GoalParse.Problem] = []
        var loose: [(value: Int, token: Int)] = []

        /// Tokens: words with their punctuation trimmed, keeping c++, c#, 2,000, 1.5k, key=value, uuids;
        /// "JavaScript/TypeScript" and "Rust,Go" are two tokens each.
        init(_ goal: String, now: Date) {
            self.now = now
            var text = goal
            for (curly, plain) in [("\u{2019}", "'"), ("\u{2018}", "'"), ("\u{201C}", "\""), ("\u{201D}", "\"")] {
                text = text.replacingOccurrences(of: curly, with: plain)
            }
            var start = true
            for raw in text.split(whereSeparator: { $0.isWhitespace }) {
                var t = Substring(raw)
                let ends = t.last.map { ".!?".contains($0) } ?? false
                while let l = t.last, ",.;:!?)]\"'".contains(l), !(t.hasSuffix("++") || t.hasSuffix("#")) { t.removeLast() }
                while let f = t.first, "([\"'".contains(f) { t.removeFirst() }
                for piece in Self.pieces(String(t)) where !piece.isEmpty {
                    tokens.append(piece)
                    starts.append(start)
                    start = false
                }
                if ends { start = true }
            }
            lower = tokens.map { $0.lowercased() }
            used = Array(repeating: false, count: tokens.count)
            flagged = used
        }

        /// A word split at '/' and at commas that do not group digits ("2,000" stays whole); key=value stays whole.
        static func pieces(_ t: String) -> [String] {
            if t.contains("=") || t.lowercased() == "and/or" { return [t] }
            return t.split(separator: "/").flatMap { part -> [String] in
                let p = String(part)
                if p.contains(","), GoalPattern.groupedNumber.range(in: p) == nil {
                    return p.split(separator: ",").map(String.init)
                }
                return [p]
            }
        }

        func word(_ i: Int) -> String { i >= 0 && i < lower.count ? lower[i] : "" }
        mutating func mark(_ indices: [Int]) { for j in indices where j >= 0 && j < tokens.count { used[j] = true } }
        mutating func mark(_ indices: Int...) { mark(indices) }
        mutating func problem(_ indices: [Int], _ reason: String) {
            for j in indices where j >= 0 && j < tokens.count { flagged[j] = true }
            problems.append(.init(tokens: indices.filter { $0 >= 0 && $0 < tokens.count }, reason: reason))
        }
        /// The words of `range`, as written, cut to 60 characters (for a reason).
        func text(_ range: Range<Int>) -> String {
            TextCleaning.truncate(TextCleaning.oneLine(range.clamped(to: 0..<tokens.count).map { tokens[$0] }.joined(separator: " ")), to: 60)
        }
        /// A word in quotes, cut to 60 characters, for a reason.
        func quoted(_ s: String) -> String { "\"" + TextCleaning.truncate(TextCleaning.oneLine(s), to: 60) + "\"" }
        /// The words from the first of `indices` to the last.
        func text(_ indices: [Int]) -> String { text((indices.min() ?? 0)..<((indices.max() ?? -1) + 1)) }
        func isLanguage(_ i: Int) -> Bool { languageAliases[word(i)] != nil }

        /// Each token, left to right, by the first reader that places it; then what is left.
        mutating func parse() -> GoalParse {
            for i in tokens.indices where !used[i] && !flagged[i] {
                _ = starsForm(i) || keyValue(i) || prefixForm(i) || writer(i) || number(i) || compactWindow(i) || windowPhrase(i)
                    || flags(i) || language(i) || topicList(i)
            }
            finish()
            return GoalParse(job: job, unknown: unknownWords, problems: problems, tokens: tokens, placed: used, loose: loose)
        }

        /// The words not placed and not filler, refused or harmless.
        var unknownWords: [String] {
            tokens.indices.filter { !used[$0] && !harmless($0) && lower[$0].contains(where: { $0.isLetter || $0.isNumber }) }.map { tokens[$0] }
        }

        // MARK: - Values

        mutating func setTarget(_ v: Double, _ indices: [Int]) {
            guard let n = whole(v), (1...Job.maxTarget).contains(n) else {
                return problem(indices, "\(quoted(text(indices))) is not a count from 1 to \(Job.maxTarget)")
            }
            if let old = job.target, old != n { return problem(indices, "two counts: \(old) and \(n)") }
            job.target = n
            mark(indices)
        }

        mutating func setWindow(_ days: Double, _ indices: [Int]) {
            guard let n = whole(days.rounded(.up)), (1...Job.maxDays).contains(n) else {
                return problem(indices, "\(quoted(text(indices))) is not a window from 1 to \(Job.maxDays) days")
            }
            if let old = job.activeDays, old != n { return problem(indices, "two windows: \(old) and \(n) days") }
            job.activeDays = n
            mark(indices)
        }

        mutating func setStars(_ v: Double, _ indices: [Int]) {
            guard let n = whole(v), (0...Job.maxStars).contains(n) else {
                return problem(indices, "\(quoted(text(indices))) is not a star floor from 0 to \(Job.maxStars)")
            }
            if let old = job.minStars, old != n { return problem(indices, "two star floors: \(old) and \(n)") }
            job.minStars = n
            mark(indices)
        }

        mutating func setID(_ field: WritableKeyPath<Job, String?>, _ kind: String, _ value: String, _ indices: [Int]) {
            if let why = idProblem(value) {
                return problem(indices, "\(quoted(value)) is not a \(kind) id: it \(why)")
            }
            if let old = job[keyPath: field], old != value { return problem(indices, "two \(kind)s: \(old) and \(value)") }
            job[keyPath: field] = value
            mark(indices)
        }

        mutating func addLanguage(_ raw: String, _ i: Int) {
            guard let l = languageAliases[raw.lowercased()] else { return problem([i], "\(quoted(raw)) is not a language I know") }
            languages.append(l)
            mark(i)
        }

        mutating func addTopic(_ raw: String, _ i: Int) {
            let t = raw.lowercased()
            guard GoalPattern.topic.range(in: t) != nil else {
                return problem([i], "\(quoted(raw)) is not a GitHub topic")
            }
            topics.append(t)
            mark(i)
        }

        // MARK: - Readers, each trying the token at i

        /// "stars>=500", "stars>500", "stars:500", "min_stars=50".
        mutating func starsForm(_ i: Int) -> Bool {
            let w = lower[i]
            guard let m = GoalPattern.starsForm.range(in: w) else { return false }
            let op = w[m].drop { $0.isLetter || $0 == "_" }
            guard let v = digits(String(w[m.upperBound...])) else {
                problem([i], "\(quoted(tokens[i])) is not a star floor I can read")
                return true
            }
            setStars(op == ">" ? v + 1 : v, [i])
            return true
        }

        /// key=value: seq=, campaign=, list=, team=, target=, days=, topic(s)=, language(s)=.
        mutating func keyValue(_ i: Int) -> Bool {
            let w = lower[i]
            guard let eq = w.firstIndex(of: "="), eq != w.startIndex else { return false }
            let key = String(w[..<eq]), value = String(tokens[i][tokens[i].index(after: eq)...])
            switch key {
            case "seq", "sequence", "campaign", "instantly_campaign": setID(\.instantlyCampaign, "campaign", value, [i])
            case "list", "attio_list": setID(\.attioList, "list", value, [i])
            case "team", "linear_team": setID(\.linearTeam, "team", value, [i])
            case "target", "count", "leads":
                if let v = digits(value.lowercased()) { setTarget(v, [i]) } else { problem([i], "\(quoted(tokens[i])) is not a count I can read") }
            case "days", "active_days", "window":
                if let v = digits(value.lowercased()) { setWindow(v, [i]) } else { problem([i], "\(quoted(tokens[i])) is not a window I can read") }
            case "topic", "topics":
                for t in value.split(separator: ",") { addTopic(String(t), i) }
            case "language", "lang", "languages":
                for l in value.split(separator: ",") { addLanguage(String(l), i) }
            default:
                problem([i], "\(quoted(tokens[i])) is not a field I know")
            }
            return true
        }

        /// "topic:ml", "#ml" (not "c#").
        mutating func prefixForm(_ i: Int) -> Bool {
            let w = lower[i]
            if w.hasPrefix("topic:") { addTopic(String(tokens[i].dropFirst(6)), i); return true }
            if w.hasPrefix("#"), w.count > 1, languageAliases[w] == nil { addTopic(String(tokens[i].dropFirst()), i); return true }
            return false
        }

        /// "Instantly campaign X", "sequence X", "Attio list X", "Linear team X" (also "campaign called X").
        mutating func writer(_ i: Int) -> Bool {
            let w = lower[i]
            let field: WritableKeyPath<Job, String?>, kind: String
            switch w {
            case "campaign", "sequence", "seq": (field, kind) = (\.instantlyCampaign, "campaign")
            case "list": (field, kind) = (\.attioList, "list")
            case "team": (field, kind) = (\.linearTeam, "team")
            default: return false
            }
            var j = i + 1
            while ["called", "named", "id", "#"].contains(word(j)) { j += 1 }
            guard j < tokens.count, !used[j] else { return false }
            let next = lower[j]
            if filler.contains(next) || people.contains(next) || projects.contains(next) || connectors.contains(next) || negations.contains(next) {
                return false
            }
            // "list 200 Python devs": a count, not an id.
            if digits(next) != nil || smallNumbers[next] != nil,
                people.contains(word(j + 1)) || isLanguage(j + 1) || units[word(j + 1)] != nil || word(j + 1).hasPrefix("star")
            {
                return false
            }
            setID(field, kind, tokens[j], Array(i...j))
            return true
        }

        /// The number that starts at token i: digits ("2,000", "~2k", "1.5 million", "500+") or words ("two hundred
        /// and fifty", "a thousand"); the index after it, and whether it was words.
        func numberAt(_ i: Int) -> (value: Double, end: Int, words: Bool)? {
            if let v = digits(lower[i]) {
                if !lower[i].hasSuffix("+"), let s = scales[word(i + 1)] { return (v * s, i + 2, false) }
                return (v, i + 1, false)
            }
            var total = 0.0, current = 0.0, j = i, any = false, afterScale = false
            var last: Int?
            while j < lower.count {
                let w = lower[j]
                if j == i, w == "a" || w == "an", scales[word(j + 1)] != nil {
                    current = 1
                    j += 1
                    continue
                }
                if w == "and", afterScale, smallNumbers[word(j + 1)] != nil { j += 1; continue }
                let parts = w.split(separator: "-").map(String.init)
                if parts.count == 2, let t = smallNumbers[parts[0]], t >= 20, t % 10 == 0, let u = smallNumbers[parts[1]], (1...9).contains(u) {
                    guard last == nil else { break }
                    current += Double(t + u)
                    (any, afterScale, last) = (true, false, t + u)
                } else if let n = smallNumbers[w] {
                    if let l = last, !(l >= 20 && l % 10 == 0 && n < 10) { break }
                    current += Double(n)
                    (any, afterScale, last) = (true, false, n)
                } else if let s = scales[w], any || current > 0 {
                    if s == 100 { current = max(current, 1) * 100 } else { total += max(current, 1) * s; current = 0 }
                    (any, afterScale, last) = (true, true, nil)
                } else {
                    break
                }
                j += 1
            }
            return any ? (total + current, j, true) : nil
        }

        /// A number, placed as a window ("last 90 days"), a star floor ("at least 500 stars") or the target (a
        /// count before people or a language); any other number is loose, and refuses the goal.
        mutating func number(_ i: Int) -> Bool {
            guard let n = numberAt(i) else { return false }
            let span = Array(i..<n.end)
            // A window: "last 90 days", "past two weeks", "active 6 months".
            if let unit = units[word(n.end)], word(n.end).count > 1 {
                let lead = word(i - 1)
                if windowLead.contains(lead) {
                    setWindow(n.value * Double(unit), span + [n.end])
                } else {
                    problem(span + [n.end], "\"\(text(i..<n.end + 1))\"\(lead.isEmpty ? "" : " (after \(quoted(tokens[i - 1])))") is not a window I can read: say \"in the last \(text(i..<n.end + 1))\"")
                }
                return true
            }
            // A star floor: "500 stars", "500+ stars", "500 or more stars", "at least 500 stars", "more than 500 GitHub stars".
            var j = n.end
            if word(j) == "+" { j += 1 }
            if word(j) == "or", ["more", "above", "higher"].contains(word(j + 1)) { j += 2 }
            if word(j) == "github" { j += 1 }
            if word(j) == "stars" || word(j) == "star" {
                var indices = span + Array(n.end...j)
                if word(j + 1) == "or", ["more", "above", "higher"].contains(word(j + 2)) { indices += [j + 1, j + 2] }
                let b1 = word(i - 1), b2 = word(i - 2), b3 = word(i - 3)
                let ceiling = ["at most", "up to", "no more than", "fewer than", "less than", "not more than"].contains("\(b2) \(b1)")
                    || ["no more than", "not more than"].contains("\(b3) \(b2) \(b1)") || ["under", "below", "max", "maximum", "<", "<="].contains(b1)
                if ceiling {
                    problem(indices + [i - 1, i - 2], "\"\(text(max(0, i - 2)..<j + 1))\" is a ceiling on stars, which a job cannot say")
                    return true
                }
                var v = n.value
                if "\(b2) \(b1)" == "more than" || ["over", "above", ">"].contains(b1) { v += 1 }
                if ["at least", "more than"].contains("\(b2) \(b1)") { indices += [i - 2, i - 1] } else if ["over", "above", ">", ">=", "min", "minimum"].contains(b1) { indices += [i - 1] }
                setStars(v, indices)
                return true
            }
            // The target: a count before people or a language ("2k Python maintainers", "2,000 devs", "target 500"),
            // or "300 of them".
            if word(n.end) == "of", word(n.end + 1) == "them" {
                setTarget(n.value, span + [n.end, n.end + 1])
                return true
            }
            var k = n.end
            var target = word(i - 1) == "target"
            while !target, k < min(tokens.count, n.end + 3) {
                let w = lower[k]
                if people.contains(w) || languageAliases[w] != nil { target = true; break }
                if units[w] != nil || digits(w) != nil || w.hasPrefix("star") { break }
                k += 1
            }
            if target {
                var indices = span
                let b1 = word(i - 1), b2 = word(i - 2), b3 = word(i - 3)
                if ["no more than", "not more than"].contains("\(b3) \(b2) \(b1)") { indices += [i - 3, i - 2, i - 1] }
                else if ["at least", "at most", "up to", "more than"].contains("\(b2) \(b1)") { indices += [i - 2, i - 1] }
                else if b1 == "target" { indices += [i - 1] }
                setTarget(n.value, indices)
                return true
            }
            // A number of words under two ("one of the best") is a word, not a count.
            if n.words && n.value < 2 { return false }
            if let v = whole(n.value) { loose.append((v, i)) }
            problem(span, "\"\(text(i..<n.end))\" is a number I cannot place")
            return true
        }

        /// "90d", "12w", "6mo", "1y".
        mutating func compactWindow(_ i: Int) -> Bool {
            let w = lower[i]
            guard let m = GoalPattern.compactWindow.range(in: w) else { return false }
            let digitsPart = w[m].prefix { $0.isNumber }
            let unit = units[String(w[m].dropFirst(digitsPart.count))] ?? 1
            setWindow((Double(digitsPart) ?? 0) * Double(unit), [i])
            return true
        }

        /// "last week", "past quarter", "this month", "this year", "ytd", "year to date", "since March", "since March 2025", "since 2024".
        mutating func windowPhrase(_ i: Int) -> Bool {
            let w = lower[i], next = word(i + 1)
            if ["last", "past", "previous", "prior"].contains(w), ["week", "month", "quarter", "year"].contains(next), let u = units[next] {
                setWindow(Double(u), [i, i + 1])
                return true
            }
            if w == "this", ["week", "month", "quarter", "year"].contains(next) {
                let days = next == "week" ? 7 : daysSinceStart(of: next == "month" ? .month : next == "quarter" ? .quarter : .year, now: now)
                setWindow(Double(days), [i, i + 1])
                return true
            }
            if w == "ytd" { setWindow(Double(daysSinceStart(of: .year, now: now)), [i]); return true }
            if w == "year", next == "to", word(i + 2) == "date" { setWindow(Double(daysSinceStart(of: .year, now: now)), [i, i + 1, i + 2]); return true }
            guard w == "since" else { return false }
            var cal = Calendar(identifier: .gregorian)
            cal.timeZone = TimeZone(identifier: "UTC")!
            let thisYear = cal.component(.year, from: now)
            func year(_ s: String) -> Int? { s.count == 4 ? Int(s).flatMap { (1970...thisYear).contains($0) ? $0 : nil } : nil }
            if let m = (months.firstIndex(of: next) ?? shortMonths.firstIndex(of: next)).map({ $0 + 1 }) {
                let y = year(word(i + 2))
                var start = cal.date(from: DateComponents(year: y ?? thisYear, month: m, day: 1)) ?? now
                if start > now {
                    if y != nil { problem([i, i + 1, i + 2], "\"\(text(i..<i + 3))\" is in the future"); return true }
                    start = cal.date(from: DateComponents(year: thisYear - 1, month: m, day: 1)) ?? now
                }
                setWindow(Double(days(since: start, now: now)), y == nil ? [i, i + 1] : [i, i + 1, i + 2])
                return true
            }
            if let y = year(next) {
                setWindow(Double(days(since: cal.date(from: DateComponents(year: y, month: 1, day: 1)) ?? now, now: now)), [i, i + 1])
                return true
            }
            return false
        }

        /// Export ("export a CSV", "csv"), an export alone ("export only", "just a CSV"), a dry run ("dry run",
        /// "do not send", "skip sending", "send nothing"), and widening ("widen if needed", "ok to widen").
        mutating func flags(_ i: Int) -> Bool {
            let w = lower[i], next = word(i + 1)
            if (w == "dry" && next == "run") || w == "dry-run" || w == "dryrun" {
                job.dryRun = true
                mark(i, w == "dry" ? i + 1 : i)
                return true
            }
            let sending: Set<String> = ["send", "sending", "sends", "write", "writing", "writes", "email", "emailing", "mail", "mailing"]
            if ["not", "don't", "dont", "without", "skip", "no", "never"].contains(w) {
                var j = i + 1
                while ["the", "any", "actually", "to", "really"].contains(word(j)), j < i + 3 { j += 1 }
                if sending.contains(word(j)) {
                    job.dryRun = true
                    mark(Array(i...j))
                    return true
                }
                return false
            }
            if sending.contains(w), next == "nothing" {
                job.dryRun = true
                mark(i, i + 1)
                return true
            }
            if ["csv", "export", "spreadsheet"].contains(w) {
                let b1 = word(i - 1), b2 = word(i - 2)
                let negs: Set<String> = ["no", "not", "don't", "dont", "without", "skip", "never"]
                if negs.contains(b1) || (negs.contains(b2) && ["a", "the", "any", "an"].contains(b1)) {
                    // Asked for no CSV ("don't export a CSV"): none.
                    var j = i + 1
                    while ["a", "an", "the", "any", "csv", "file", "spreadsheet"].contains(word(j)) { j += 1 }
                    mark(Array((negs.contains(b1) ? i - 1 : i - 2)..<j))
                    return true
                }
                // "export them to Attio": a writer, not a CSV.
                if w == "export", ["attio", "instantly", "linear"].contains(next) || (["them", "to"].contains(next) && ["attio", "instantly", "linear"].contains(word(i + 2)))
                    || (next == "them" && word(i + 2) == "to" && ["attio", "instantly", "linear"].contains(word(i + 3)))
                {
                    mark(i)
                    return true
                }
                job.export = true
                mark(i)
                if next == "only" { job.dryRun = true; mark(i + 1) }
                if b1 == "just" || b1 == "only" { job.dryRun = true; mark(i - 1) }
                if (b2 == "just" || b2 == "only") && ["a", "the", "an"].contains(b1) { job.dryRun = true; mark(i - 2) }
                return true
            }
            if w == "widen" || w == "widening" {
                let ok = ["if", "when"].contains(next) && ["needed", "short", "necessary", "required"].contains(word(i + 2))
                let allowed = word(i - 1) == "to" && ["ok", "okay", "fine"].contains(word(i - 2))
                let may = ["may", "can"].contains(word(i - 1))
                guard ok || allowed || may else { return false }
                job.widen = true
                mark(ok ? [i, i + 1, i + 2] : allowed ? [i - 2, i - 1, i] : [i - 1, i])
                return true
            }
            return false
        }

        /// A language by its name or alias; lower-case "go" and "c" only among other languages or before a noun of
        /// people ("go find 300 Rust maintainers" is a verb), and "Go" at a sentence's start likewise.
        mutating func language(_ i: Int) -> Bool {
            let w = lower[i]
            guard languageAliases[w] != nil else { return false }
            if (w == "go" || w == "c") && (tokens[i] == w || starts[i]) {
                let next = word(i + 1), prev = word(i - 1)
                let listed = people.contains(next) || projects.contains(next) || isLanguage(i + 1)
                    || (connectors.contains(next) && isLanguage(i + 2)) || isLanguage(i - 1) || (connectors.contains(prev) && isLanguage(i - 2))
                guard listed else { return false }
            }
            addLanguage(w, i)
            return true
        }

        /// "topic ml", "topics ml, ai and llm".
        mutating func topicList(_ i: Int) -> Bool {
            guard ["topic", "topics", "tagged"].contains(lower[i]), i + 1 < tokens.count else { return false }
            var j = i + 1, any = false
            while j < tokens.count, !used[j], lower[j] == "and" || !(filler.contains(lower[j]) || people.contains(lower[j]) || projects.contains(lower[j])) {
                if lower[j] != "and" { addTopic(tokens[j], j) } else { mark(j) }
                any = true
                j += 1
            }
            if any { mark(i) }
            return any
        }

        // MARK: - What is left

        /// Filler, nouns of people and projects, connectors, and "go"/"c" as a verb and a letter.
        func harmless(_ i: Int) -> Bool {
            let w = lower[i]
            return filler.contains(w) || people.contains(w) || projects.contains(w) || connectors.contains(w) || w == "go" || w == "c"
                || (smallNumbers[w].map { $0 < 2 } ?? false) || w == "since"
        }

        /// Why a word not understood refuses the goal, or nil when it is harmless (see `GoalParser`).
        func constraint(_ i: Int) -> String? {
            let w = lower[i], t = tokens[i]
            let shown = TextCleaning.truncate(TextCleaning.oneLine(t), to: 60)
            if w.contains(where: { $0.isNumber }) {
                if let f = w.first, f == "-" || f == "\u{2212}", w.dropFirst().first?.isNumber == true { return "\"\(shown)\" is below zero" }
                return "\"\(shown)\" is a number I cannot place"
            }
            if t.unicodeScalars.contains(where: { !$0.isASCII && CharacterSet.letters.contains($0) }) { return "\"\(shown)\" is not English" }
            if units[w] != nil, w.count > 2 { return "\"\(shown)\" names a window I cannot read" }
            if w == "stars" || w == "star" { return "\"\(shown)\" comes without a star floor I can read" }
            if negations.contains(w) { return "\"\(shown)\" leaves something out, which a job cannot say" }
            // Where a language would be: before a noun of people or projects, past other words of that phrase.
            var k = i + 1
            while k < min(tokens.count, i + 4) {
                let n = lower[k]
                if people.contains(n) || projects.contains(n) { return "\"\(shown)\" is not a language I know" }
                if !(isLanguage(k) || connectors.contains(n) || (!used[k] && !harmless(k))) { break }
                k += 1
            }
            if t.first?.isUppercase == true && !starts[i] { return "\"\(shown)\" is a name I cannot place" }
            var b = i - 1
            while b >= 0, b > i - 3, !used[b], !prepositions.contains(lower[b]), harmless(b) { b -= 1 }
            if b >= 0, b < i, prepositions.contains(lower[b]), !used[b] { return "\"\(shown)\" (after \"\(tokens[b])\") is a constraint I cannot apply" }
            return nil
        }

        mutating func finish() {
            // Each name once, in the order first named (a Set, so 100,000 distinct topics stay linear).
            func once(_ names: [String]) -> [String] {
                var seen: Set<String> = []
                return names.filter { seen.insert($0).inserted }
            }
            if !languages.isEmpty { job.languages = once(languages) }
            if !topics.isEmpty { job.topics = once(topics) }
            for i in tokens.indices where !used[i] && !flagged[i] && !harmless(i) {
                if let why = constraint(i) { problem([i], why) }
            }
            // A writer named without its id ("queue them in Instantly") would be left out.
            if job.dryRun != true {
                for (name, id, what) in [("instantly", job.instantlyCampaign, "campaign"), ("attio", job.attioList, "list"), ("linear", job.linearTeam, "team")] where id == nil {
                    guard let k = lower.firstIndex(of: name), name == "attio" || tokens[k].first?.isUppercase == true else { continue }
                    problem([k], "\(quoted(tokens[k])) is named without its \(what): say \"\(tokens[k]) \(what) ID\"")
                }
            }
            if !saysWho(job, namesPeople: lower.contains(where: { people.contains($0) })) { problem([], vague) }
        }
    }
}

/// The parser's regular expressions, compiled once. `String.range(of:options: .regularExpression)` does
/// the same match (ICU, no options) but looks its pattern up in a cache under a reflected description
/// on every call, which was most of the parser's time per word.
struct GoalPattern: @unchecked Sendable {  // NSRegularExpression is immutable and safe to share
    let expression: NSRegularExpression

    init(_ pattern: String) { expression = try! NSRegularExpression(pattern: pattern) }

    /// The first match in `s`, as `s.range(of: pattern, options: .regularExpression)` gives it.
    func range(in s: String) -> Range<String.Index>? {
        let r = expression.rangeOfFirstMatch(in: s, range: NSRange(s.startIndex..., in: s))
        return r.location == NSNotFound ? nil : Range(r, in: s)
    }

    /// "2000", "2,000", "1.5" (`GoalParser.digits`, after its prefix and suffix).
    static let number = GoalPattern(#"^(\d+|\d{1,3}(,\d{3})+)(\.\d+)?$"#)
    /// "2,000", "~1,500.5k+": a number whose commas group digits (`Reader.pieces` keeps it whole).
    static let groupedNumber = GoalPattern(#"^[~≈]?\d{1,3}(,\d{3})+(\.\d+)?[kKmM]?\+?$"#)
    /// A GitHub topic.
    static let topic = GoalPattern(#"^[a-z0-9][a-z0-9-]{0,49}$"#)
    /// "stars>=", "min_stars=", "star:".
    static let starsForm = GoalPattern(#"^(min_)?stars?(>=|>|=|:)"#)
    /// "90d", "12w", "6mo", "1y".
    static let compactWindow = GoalPattern(#"^\d+(d|w|wk|mo|y|yr)$"#)
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

    /// A job file: the same fields in YAML. An unknown key, a wrong type, a value out of range or an id that
    /// could read as a flag is an error naming it.
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
        if let why = GoalParser.rangeProblems(job).first { throw FileError(description: why) }
        return job
    }
}
