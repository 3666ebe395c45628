import CMOBasics
import CMOServices
import Foundation

/// A goal read by a model (`--parser model`): one forced `set_job` call whose arguments are the job. The
/// answer is checked as strictly as a job file — known fields only, the right types, sane ranges, and no
/// campaign, list or team id that the goal does not contain word for word — and every value must be grounded
/// in the goal's own words (`ground`), with one retry that tells the model what was wrong; then the rule
/// parser reads the goal instead, and the parse says why. A parse makes at most `attempts` HTTP requests.
public struct ModelGoalParser {
    public let chat: ChatClient
    /// Answers refused before the rule parser takes over (the first, then one retry).
    public static let attempts = 2
    /// HTTP retries of each ask: none, so a model server that fails costs one request, and a parse at most
    /// `attempts` (the rule parser is always there to take over).
    public static let retries = 0

    public init(chat: ChatClient) { self.chat = chat }

    /// The parser for a model at the endpoint of the config and environment.
    public static func make(model: String, config: String?) throws -> ModelGoalParser {
        ModelGoalParser(chat: try ChatClient.make(model: model, config: config, retries: retries))
    }

    /// What came of a model parse: the job, the words not understood (the rule parser's, on a fallback),
    /// who read the goal, and why the rule parser took over, if it did.
    public struct Result: Sendable {
        public var parse: GoalParse
        public var parser: String
        public var fallback: String?
    }

    static let system = """
        You turn an outbound campaign goal, written in plain words, into a job. Call set_job exactly once. Give only \
        the fields the goal states and leave out every other one. Languages are lower-case (python, go, c++); \
        active_days is the activity window in days; ids (Instantly campaign, Attio list, Linear team) are copied \
        from the goal exactly as written, never made up. export is true when the goal asks for a CSV, dry_run when \
        it says not to send or write anything. Never guess: every number is one the goal states, every language one \
        it names.
        """

    /// The `set_job` tool: the job's fields, as `cmo-plan parse` prints them.
    public static var tool: [String: Any] {
        var properties: [String: Any] = [:]
        for f in Job.fields {
            switch f.kind {
            case .count:
                var p: [String: Any] = ["type": "integer", "description": f.help]
                if let r = f.range {
                    p["minimum"] = r.lowerBound
                    if r.upperBound < Int.max { p["maximum"] = r.upperBound }
                }
                properties[f.name] = p
            case .names: properties[f.name] = ["type": "array", "items": ["type": "string"], "description": f.help]
            case .id: properties[f.name] = ["type": "string", "minLength": 1, "maxLength": 200]
            case .flag: properties[f.name] = ["type": "boolean", "description": f.help]
            }
        }
        return ChatClient.function(
            "set_job", "Record the job the goal asks for.", parameters: ["type": "object", "additionalProperties": false, "properties": properties])
    }

    /// The model's job for the goal, or the rule parser's with the reason (the model unreachable, or two
    /// answers refused); the rule parser's may be a refusal (`GoalParse.refusal`). `now` is what "this
    /// quarter" counts back from.
    public func parse(_ goal: String, now: Date = Date()) -> Result {
        let rule = GoalParser.parse(goal, now: now)
        let (job, why) = chat.forcedCall(system: Self.system, user: goal, tool: Self.tool, attempts: Self.attempts) {
            try Self.check($0, goal: goal, rule: rule)
        }
        if let job { return Result(parse: GoalParse(job: job), parser: "model \(chat.model)", fallback: nil) }
        return Result(parse: rule, parser: "rule", fallback: why + "; the rule parser read the goal instead")
    }

    /// The job in a `set_job` call's arguments, or why it is refused.
    public static func check(_ arguments: String, goal: String, now: Date = Date()) throws -> Job {
        try check(arguments, goal: goal, rule: GoalParser.parse(goal, now: now))
    }

    static func check(_ arguments: String, goal: String, rule: GoalParse) throws -> Job {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(arguments.utf8))) as? [String: Any] else {
            throw StageFailure(.dataError, "the arguments are not a JSON object: \(TextCleaning.truncate(TextCleaning.oneLine(arguments), to: 120))")
        }
        let known = Set(Job.fieldNames)
        if let extra = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw StageFailure(.dataError, "set_job has no field '\(TextCleaning.truncate(TextCleaning.oneLine(extra), to: 60))'")
        }
        var job: Job
        do { job = try JSONDecoder().decode(Job.self, from: Data(arguments.utf8)) } catch let DecodingError.typeMismatch(_, c) {
            throw StageFailure(.dataError, "'\(c.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch { throw StageFailure(.dataError, "the arguments do not make a job: \(error)") }
        if let t = job.target, !(1...Job.maxTarget).contains(t) { throw StageFailure(.dataError, "target \(t) is not between 1 and \(Job.maxTarget)") }
        if let d = job.activeDays, !(1...Job.maxDays).contains(d) { throw StageFailure(.dataError, "active_days \(d) is not between 1 and \(Job.maxDays)") }
        if let s = job.minStars, !(0...Job.maxStars).contains(s) { throw StageFailure(.dataError, "min_stars \(s) is not between 0 and \(Job.maxStars)") }
        job.languages = try job.languages.map { list in
            try list.map { raw in
                let l = raw.lowercased().trimmingCharacters(in: .whitespaces)
                let known = GoalParser.languageAliases[l] ?? l
                guard known.range(of: #"^[a-z0-9][a-z0-9+#.-]{0,29}$"#, options: .regularExpression) != nil else {
                    throw StageFailure(.dataError, "'\(TextCleaning.truncate(TextCleaning.oneLine(raw), to: 40))' is not a language")
                }
                return known
            }
        }.flatMap { $0.isEmpty ? nil : $0 }
        job.topics = try job.topics.map { list in
            try list.map { raw in
                let t = raw.lowercased()
                guard t.range(of: #"^[a-z0-9][a-z0-9-]{0,49}$"#, options: .regularExpression) != nil else {
                    throw StageFailure(.dataError, "'\(TextCleaning.truncate(TextCleaning.oneLine(raw), to: 60))' is not a GitHub topic")
                }
                return t
            }
        }.flatMap { $0.isEmpty ? nil : $0 }
        for (field, value) in [("instantly_campaign", job.instantlyCampaign), ("attio_list", job.attioList), ("linear_team", job.linearTeam)] {
            guard let value else { continue }
            guard !value.isEmpty, value.rangeOfCharacter(from: .whitespacesAndNewlines) == nil, goal.contains(value) else {
                throw StageFailure(.dataError, "\(field) '\(TextCleaning.truncate(TextCleaning.oneLine(value), to: 60))' is not in the goal: ids are copied, never made up")
            }
            if let why = GoalParser.idProblem(value) { throw StageFailure(.dataError, "\(field) '\(TextCleaning.truncate(value, to: 60))' \(why)") }
        }
        return try ground(job, in: rule)
    }

    /// The job when each of its values is grounded in the goal's own words, as the rule parser reads them.
    /// It must agree with every value the rule parser read (a window, a star floor, export, dry_run and widen
    /// only as the rule parser reads them, or not at all). Beyond those, a target must be a count the goal states
    /// that the rule parser could not place, and a language or topic must be named by a word it could not
    /// place ("Python-Entwickler" names python). Every word that makes the rule parser refuse the goal must
    /// be placed by the answer, or the answer is refused too.
    static func ground(_ job: Job, in rule: GoalParse) throws -> Job {
        func refuse(_ why: String) -> StageFailure { StageFailure(.dataError, why) }
        func shown(_ n: Int?) -> String { n.map(String.init) ?? "none" }
        let r = rule.job
        var covered: Set<Int> = []
        switch (job.target, r.target) {
        case let (m?, g?) where m != g: throw refuse("target \(m) is not the count the goal states (\(g))")
        case (nil, let g?): throw refuse("target is left out, but the goal states \(g)")
        case let (m?, nil):
            guard let hit = rule.loose.first(where: { $0.value == m }) else { throw refuse("target \(m) is not a count the goal states") }
            covered.insert(hit.token)
        default: break
        }
        if job.activeDays != r.activeDays { throw refuse("active_days \(shown(job.activeDays)) is not the window the goal gives (\(shown(r.activeDays)))") }
        if job.minStars != r.minStars { throw refuse("min_stars \(shown(job.minStars)) is not the star floor the goal gives (\(shown(r.minStars)))") }
        if (job.export ?? false) != (r.export ?? false) {
            throw refuse("export \(job.export ?? false) is not what the goal says (\(r.export == true ? "it asks for a CSV" : "it asks for no CSV"))")
        }
        if (job.dryRun ?? false) != (r.dryRun ?? false) {
            throw refuse("dry_run \(job.dryRun ?? false) is not what the goal says (\(r.dryRun == true ? "it says to write nothing" : "it does not say to write nothing"))")
        }
        if (job.widen ?? false) != (r.widen ?? false) {
            throw refuse("widen \(job.widen ?? false) is not what the goal says (\(r.widen == true ? "it allows widening" : "it does not allow widening"))")
        }
        let unplaced = rule.tokens.indices.filter { !rule.placed[$0] }
        for l in job.languages ?? [] where !(r.languages ?? []).contains(l) {
            guard let k = unplaced.first(where: { names(rule.tokens[$0], language: l) }) else { throw refuse("'\(l)' is not a language the goal names") }
            covered.insert(k)
        }
        if let l = (r.languages ?? []).first(where: { !(job.languages ?? []).contains($0) }) { throw refuse("languages leave out \(l), which the goal names") }
        for t in job.topics ?? [] where !(r.topics ?? []).contains(t) {
            guard let k = unplaced.first(where: { [t, "#" + t].contains(rule.tokens[$0].lowercased()) }) else { throw refuse("'\(t)' is not a topic the goal names") }
            covered.insert(k)
        }
        if let t = (r.topics ?? []).first(where: { !(job.topics ?? []).contains($0) }) { throw refuse("topics leave out \(t), which the goal names") }
        for (field, m, g) in [("instantly_campaign", job.instantlyCampaign, r.instantlyCampaign), ("attio_list", job.attioList, r.attioList), ("linear_team", job.linearTeam, r.linearTeam)] {
            if let g, m != g { throw refuse("\(field) \(m.map { "'\($0)'" } ?? "left out") is not the one the goal names ('\(g)')") }
        }
        let namesPeople = rule.tokens.contains { GoalParser.people.contains($0.lowercased()) }
        for p in rule.problems {
            if p.tokens.isEmpty ? p.reason == GoalParser.vague && GoalParser.saysWho(job, namesPeople: namesPeople) : p.tokens.contains(where: covered.contains) {
                continue
            }
            throw refuse("the answer leaves part of the goal unread: \(p.reason)")
        }
        return job
    }

    /// Whether a word names a language: one of its parts is the language's name or alias, or begins with a
    /// name of four letters or more ("Pythonistas").
    static func names(_ word: String, language: String) -> Bool {
        let aliases = GoalParser.languageAliases.filter { $0.value == language }.map(\.key)
        return word.lowercased().split(whereSeparator: { "-_./".contains($0) }).contains { part in
            aliases.contains { part == $0 || ($0.count >= 4 && part.hasPrefix($0)) }
        }
    }
}
