import CMOBasics
import CMOServices
import Foundation

/// A goal read by a model (`--parser model`): one forced `set_job` call whose arguments are the job. The
/// answer is checked as strictly as a job file — known fields only, the right types, sane ranges, and no
/// campaign, list or team id that the goal does not contain word for word — with one retry that tells the
/// model what was wrong; then the rule parser reads the goal instead, and the parse says why.
public struct ModelGoalParser {
    public let chat: ChatClient
    /// Answers refused before the rule parser takes over (the first, then one retry).
    public static let attempts = 2

    public init(chat: ChatClient) { self.chat = chat }

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
        it says not to send or write anything.
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
    /// answers refused).
    public func parse(_ goal: String) -> Result {
        let (job, why) = chat.forcedCall(system: Self.system, user: goal, tool: Self.tool, attempts: Self.attempts) { try Self.check($0, goal: goal) }
        if let job { return Result(parse: GoalParse(job: job, unknown: []), parser: "model \(chat.model)", fallback: nil) }
        return Result(parse: GoalParser.parse(goal), parser: "rule", fallback: why + "; the rule parser read the goal instead")
    }

    /// The job in a `set_job` call's arguments, or why it is refused.
    public static func check(_ arguments: String, goal: String) throws -> Job {
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
        if let s = job.minStars, s < 0 { throw StageFailure(.dataError, "min_stars \(s) is negative") }
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
        }
        return job
    }
}
