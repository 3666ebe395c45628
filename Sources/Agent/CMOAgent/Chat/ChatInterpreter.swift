import CMOBasics
import CMOServices
import Foundation

/// What a line typed in `cmo-plan chat` asks for, read by rules (the embedded default).
public enum ChatIntent: Equatable, Sendable {
    case help, quit, status, queuedCount, pause, resume, cancel, jobs, whyFailed, yes, no
    /// Blocks until the job stops moving (done, failed, paused, waiting for approval): for scripts.
    case wait
    case target(Int)
    case skipWriters
    /// Agree to the widening past the goal the job asks about.
    case widen
    /// Keep only some of the leads not written yet ("only people with more than 100 followers").
    case filter(LeadFilter)
    /// A question about what cmo does not track (opens, clicks): said honestly.
    case notTracked(String)
    /// A question about what came back from Instantly ("what's the reply rate?", "how is variant B doing?").
    case outcomes(String)
    /// Go on past the bounce guard knowingly ("resume anyway").
    case resumeAnyway
    case goal(String)
    case unknown(String)

    /// Reads one line.
    public static func read(_ line: String) -> ChatIntent {
        let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
        let t = text.lowercased()
        let words = t.split { !$0.isLetter && !$0.isNumber && $0 != "'" && $0 != "," && $0 != "." && $0 != "~" }.map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: ",.")) }
        let has = { (w: String) in words.contains(w) }
        let says = { (s: String) in t.contains(s) }
        switch t.trimmingCharacters(in: CharacterSet(charactersIn: "?!. ")) {
        case "help", "": return .help
        case "quit", "exit", "bye", "q": return .quit
        case "y", "yes", "ok", "okay", "go", "go ahead", "sure", "confirm", "do it": return .yes
        case "n", "no", "nope", "don't": return .no
        case "wait": return .wait
        default: break
        }
        if has("why") && (says("fail") || says("dead") || says("error") || says("wrong")) { return .whyFailed }
        if t.trimmingCharacters(in: CharacterSet(charactersIn: "?!. ")) == "widen" || says("widen it") || says("yes, widen") || says("go ahead and widen") { return .widen }
        if let f = LeadFilter.read(t) { return .filter(f) }
        if (has("resume") || has("continue") || says("go on")) && (has("anyway") || says("despite") || says("bounce"))
            || says("accept the bounces") || says("accept bounces")
        {
            return .resumeAnyway
        }
        let asks = t.contains("?") || has("what") || has("how") || has("show")
        for topic in ["reply rate", "replies", "replied", "bounce", "unsubscribe", "variant"] where says(topic) && asks {
            return .outcomes(topic == "replies" || topic == "replied" ? "replies" : topic == "bounce" ? "bounces" : topic == "unsubscribe" ? "unsubscribes" : topic)
        }
        for topic in ["open rate", "opens", "opened", "click"] where says(topic) && asks {
            return .notTracked(topic)
        }
        if has("target") || ((has("raise") || has("increase") || has("make")) && (has("leads") || has("it"))) {
            if let n = words.reversed().lazy.compactMap({ GoalParser.count($0) }).first { return .target(n) }
        }
        if (says("skip") || says("no ") || says("don't") || says("do not") || says("stop")) && (says("send") || says("instantly") || says("writ"))
            || says("export only") || says("only export")
        {
            return .skipWriters
        }
        if has("how") && has("many") && (says("queued") || says("sent") || says("send")) { return .queuedCount }
        if has("status") || has("progress") || says("how is it going") || says("how's it going") || says("where are we") { return .status }
        if has("pause") || t == "stop" || t == "hold" { return .pause }
        if has("resume") || has("continue") || says("go on") || has("unpause") { return .resume }
        if has("cancel") || has("abort") { return .cancel }
        if has("jobs") || t == "list" { return .jobs }
        if has("find") || has("maintainers") || has("contributors") || has("developers") || has("committers") { return .goal(text) }
        return .unknown(text)
    }

    public static let helpText = """
        say a goal ("Find 200 Python maintainers active in the last 90 days, export a CSV"), then yes to run it;
        while it runs: status · how many have we queued? · why did they fail? · what's the reply rate? · raise the target to 3k ·
        skip sending, export only · only people with more than 100 followers · exclude anyone we contacted in the last
        90 days · pause · resume · resume anyway (past the bounce guard) · cancel · jobs · wait (until it stops moving) · quit; at the gate: yes · no · widen
        """
}

extension ChatIntent {
    /// The intents' names as the `read_line` tool gives them (`queued_count`, `skip_writers`, …).
    public static let names = [
        "help", "quit", "status", "queued_count", "pause", "resume", "cancel", "jobs", "why_failed", "yes", "no", "wait", "target",
        "skip_writers", "widen", "goal", "unknown",
    ]

    /// The intent a name stands for, on the line it was read from.
    static func named(_ name: String, target: Int?, line: String) -> ChatIntent? {
        switch name {
        case "help": return .help
        case "quit": return .quit
        case "status": return .status
        case "queued_count": return .queuedCount
        case "pause": return .pause
        case "resume": return .resume
        case "cancel": return .cancel
        case "jobs": return .jobs
        case "why_failed": return .whyFailed
        case "yes": return .yes
        case "no": return .no
        case "wait": return .wait
        case "target": return target.map { .target($0) }
        case "skip_writers": return .skipWriters
        case "widen": return .widen
        case "goal": return .goal(line.trimmingCharacters(in: .whitespacesAndNewlines))
        case "unknown": return .unknown(line.trimmingCharacters(in: .whitespacesAndNewlines))
        default: return nil
        }
    }
}

/// A chat line read by a model (`cmo-plan chat --interpreter model`): one forced `read_line` call naming
/// the intent. The answer is checked — a known intent, a target only with `target` and within range, and
/// when the line has figures in it, a target that is one of them (never made up) — with one retry that
/// says what was wrong; then the rules read the line, and the reading says why. A goal is always the
/// line as typed: the goal parser reads it, not the interpreter's paraphrase.
public struct ModelChatInterpreter {
    public let chat: ChatClient
    /// Answers refused before the rules take over (the first, then one retry).
    public static let attempts = 2

    public init(chat: ChatClient) { self.chat = chat }

    public struct Reading: Sendable, Equatable {
        public var intent: ChatIntent
        /// Why the rules read the line instead, if they did.
        public var fallback: String?
    }

    static let system = """
        You read one line typed into the chat of cmo, a tool that runs outbound campaigns to software developers \
        as background jobs. Call read_line exactly once with the intent the line expresses: goal (a new campaign \
        to plan, e.g. "find 500 Rust maintainers"), yes / no (confirming or dropping the plan just shown), status, \
        queued_count (how many were queued or sent in Instantly), why_failed (what failed and why), target (change \
        the number of leads wanted; give target as a whole number, 3k → 3000), skip_writers (send nothing more, \
        export only), widen (agree to search past the goal when the job asks), pause, resume, cancel, jobs (list the jobs), wait (block until the job stops moving), help, \
        quit, or unknown when none fits.
        """

    public static var tool: [String: Any] {
        ChatClient.function(
            "read_line", "Record what the chat line asks for.",
            parameters: [
                "type": "object", "additionalProperties": false, "required": ["intent"],
                "properties": [
                    "intent": ["type": "string", "enum": ChatIntent.names],
                    "target": ["type": "integer", "minimum": 1, "maximum": Job.maxTarget, "description": "Leads wanted, with intent target only."],
                ] as [String: Any],
            ])
    }

    /// The model's reading of the line, or the rules' with the reason.
    public func read(_ line: String) -> Reading {
        let (intent, why) = chat.forcedCall(system: Self.system, user: line, tool: Self.tool, attempts: Self.attempts) { try Self.check($0, line: line) }
        return intent.map { Reading(intent: $0, fallback: nil) } ?? Reading(intent: ChatIntent.read(line), fallback: why + "; the rules read the line instead")
    }

    /// The intent in a `read_line` call's arguments, or why it is refused.
    public static func check(_ arguments: String, line: String) throws -> ChatIntent {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(arguments.utf8))) as? [String: Any] else {
            throw StageFailure(.dataError, "the arguments are not a JSON object: \(TextCleaning.truncate(TextCleaning.oneLine(arguments), to: 120))")
        }
        if let extra = object.keys.sorted().first(where: { $0 != "intent" && $0 != "target" }) {
            throw StageFailure(.dataError, "read_line has no field '\(TextCleaning.truncate(TextCleaning.oneLine(extra), to: 60))'")
        }
        guard let name = object["intent"] as? String else { throw StageFailure(.dataError, "'intent' is missing or not a string") }
        guard ChatIntent.names.contains(name) else {
            throw StageFailure(.dataError, "intent '\(TextCleaning.truncate(TextCleaning.oneLine(name), to: 60))' is not one of \(ChatIntent.names.joined(separator: ", "))")
        }
        var target: Int?
        if let raw = object["target"] {
            guard name == "target" else { throw StageFailure(.dataError, "target goes with intent 'target' only, not '\(name)'") }
            guard let n = raw as? Int, !(raw is Bool), (1...Job.maxTarget).contains(n) else {
                throw StageFailure(.dataError, "target is a whole number from 1 to \(Job.maxTarget)")
            }
            let figures = Self.figures(in: line)
            if !figures.isEmpty && !figures.contains(n) {
                throw StageFailure(.dataError, "target \(n) is not a figure in the line (\(figures.map(String.init).joined(separator: ", "))): it is read, never made up")
            }
            target = n
        } else if name == "target" {
            throw StageFailure(.dataError, "intent 'target' needs target, the number of leads")
        }
        return ChatIntent.named(name, target: target, line: line)!
    }

    /// The counts written in figures in a line: "3k", "3,000", "3 thousand" (→ 3 and 3000).
    static func figures(in line: String) -> [Int] {
        let words = line.lowercased().split { !$0.isLetter && !$0.isNumber && $0 != "," && $0 != "." }
            .map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: ",.")) }
        let scales = ["hundred": 100, "thousand": 1000, "million": 1_000_000]
        var out: [Int] = []
        for (i, w) in words.enumerated() where w.contains(where: \.isNumber) {
            guard let c = GoalParser.count(w) else { continue }
            out.append(c)
            if i + 1 < words.count, let s = scales[words[i + 1]] { out.append(c * s) }
        }
        return out
    }
}

/// A filter the chat adds to the leads not written yet: a jq condition every writer and the export then
/// apply (`--where`), or the people contacted in the last days left out (send-instantly's ledger).
public struct LeadFilter: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The condition a lead must meet (jq), if any.
    public var jq: String?
    /// Leave out people written to by any campaign in the last so many days, if set.
    public var contactedDays: Int?
    /// What the person asked, in words.
    public var said: String

    public var description: String { said }

    enum CodingKeys: String, CodingKey { case jq, contactedDays = "contacted_days", said }

    /// "only people with more than 100 followers", "at least 50 followers", "exclude anyone we contacted in
    /// the last 90 days"; nil when the line is not a filter it can read.
    public static func read(_ line: String) -> LeadFilter? {
        let t = line.lowercased()
        let words = t.split { !$0.isLetter && !$0.isNumber && $0 != "." && $0 != "," }.map(String.init)
        func number(after i: Int) -> Int? { words[(i + 1)...].lazy.compactMap { GoalParser.count($0) }.first }
        if let f = words.firstIndex(where: { $0.hasPrefix("follower") }), words.contains(where: { ["only", "with", "keep", "just"].contains($0) }) {
            guard let n = words[..<f].reversed().lazy.compactMap({ GoalParser.count($0) }).first else { return nil }
            let before = words[..<f].joined(separator: " ")
            let op = before.contains("at least") || before.contains("or more") ? ">=" : before.contains("fewer") || before.contains("less") || before.contains("under") ? "<" : ">"
            let words = op == ">=" ? "at least" : op == "<" ? "fewer than" : "more than"
            return LeadFilter(jq: "(.followers // 0) \(op) \(n)", contactedDays: nil, said: "only people with \(words) \(n) followers")
        }
        if (t.contains("exclude") || t.contains("skip") || t.contains("leave out") || t.contains("not anyone") || t.contains("no one")) && t.contains("contacted"),
            let i = words.firstIndex(where: { $0 == "last" || $0 == "past" }), let n = number(after: i)
        {
            let unit = words.dropFirst(i + 1).first { $0.hasPrefix("day") || $0.hasPrefix("week") || $0.hasPrefix("month") } ?? "days"
            let days = unit.hasPrefix("week") ? n * 7 : unit.hasPrefix("month") ? n * 30 : n
            guard (1...Job.maxDays).contains(days) else { return nil }
            return LeadFilter(jq: nil, contactedDays: days, said: "leaving out anyone contacted in the last \(days) days")
        }
        return nil
    }
}
