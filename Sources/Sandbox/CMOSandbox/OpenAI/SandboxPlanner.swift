import Foundation

/// What a model answers this turn.
enum SandboxPlannerAction {
    /// One tool call (name as offered, arguments as a JSON object).
    case call(name: String, arguments: [String: Any])
    /// Plain assistant text, finish_reason `stop`.
    case text(String)
}

/// The `cmo-planner` model: calls the offered stage tools in order (search → people → enrich → verify →
/// score → render → send → sync → export → done), reads the counts in the tool results, widens the
/// search when too few leads pass, retries a failed stage once, and finishes with `done`.
struct SandboxPlanner {
    let options: OpenAIOptions

    static let order = [
        "gh-search", "gh-people", "gh-enrich", "mx-check", "score-icp", "render-copy", "send-instantly", "sync-attio", "sync-linear",
        "export-csv",
    ]

    /// The stages this goal needs, among those offered.
    func pipeline(_ goal: SandboxPlannerGoal, _ c: SandboxConversation) -> [String] {
        Self.order.filter { stage in
            guard c.offers(stage) != nil else { return false }
            switch stage {
            case "send-instantly": return goal.campaignID != nil
            case "sync-attio": return goal.wantsAttio
            case "sync-linear": return goal.wantsLinear
            case "export-csv": return goal.wantsCSV
            default: return true
            }
        }
    }

    func decide(_ c: SandboxConversation) -> SandboxPlannerAction {
        let goal = SandboxPlannerGoal(c.goalText, defaults: options)
        let stages = pipeline(goal, c)
        let known = c.calls.filter { c.offers($0.stage) != nil && $0.stage != "done" }
        let widenings = max(0, known.filter { $0.stage == "gh-search" }.count - 1)
        guard let last = known.last else {
            return stages.first.map { call($0, goal, widen: 0, c) } ?? finish(goal, c, known, note: "no stage tool was offered")
        }
        if SandboxConversation.failed(last) {
            let failures = known.reversed().prefix { $0.stage == last.stage && SandboxConversation.failed($0) }.count
            if failures < 2 { return call(last.stage, goal, widen: widenings, c) }
            return finish(goal, c, known, note: "\(last.stage) failed twice: \(last.resultText?.prefix(200) ?? "")", failed: true)
        }
        let count = SandboxConversation.count(last.result, text: last.resultText)
        let measure = ["score-icp", "mx-check", "gh-enrich", "gh-people"].first { stages.contains($0) }
        let canWiden = widenings < options.maxWidenings && stages.contains("gh-search")
        if canWiden, last.stage == "gh-search", count == 0 { return call("gh-search", goal, widen: widenings + 1, c) }
        if canWiden, last.stage == measure, let n = count, n < goal.target { return call("gh-search", goal, widen: widenings + 1, c) }
        guard let i = stages.firstIndex(of: last.stage), i + 1 < stages.count else { return finish(goal, c, known) }
        return call(stages[i + 1], goal, widen: widenings, c)
    }

    /// The call `tool_choice` forces (`{"type": "function", "function": {"name": …}}`), with the arguments
    /// the planner would give that stage now.
    func forced(_ name: String, _ c: SandboxConversation) -> SandboxPlannerAction {
        let goal = SandboxPlannerGoal(c.goalText, defaults: options)
        let stage = SandboxConversation.stage(name)
        let widenings = max(0, c.calls.filter { $0.stage == "gh-search" }.count - (stage == "gh-search" ? 0 : 1))
        guard stage != "done" else { return finish(goal, c, c.calls) }
        return call(stage, goal, widen: widenings, c)
    }

    /// The canonical arguments of a stage for a goal at a widening step (see docs/sandbox-services.md).
    static func arguments(_ stage: String, _ goal: SandboxPlannerGoal, widen: Int) -> [String: Any] {
        // A star floor only when the goal states one (halved by each widening); no topic the goal does not name.
        let stars = goal.minStars > 0 ? max(1, goal.minStars >> min(widen, 16)) : nil
        let topics = goal.topics
        let days = widen >= 3 ? goal.days * 2 : goal.days
        var a: [String: Any] = [:]
        switch stage {
        case "gh-search":
            if let l = goal.language { a["language"] = l }
            if let stars { a["min_stars"] = stars }
            if !topics.isEmpty { a["topics"] = topics }
            a["pushed_within_days"] = days
            a["max_repos"] = min(1000, max(20, goal.target))
            a["widen_step"] = widen
        case "gh-people": a["days"] = days
        case "score-icp": if let l = goal.language { a["language"] = l }
        case "render-copy": a["template"] = "default"
        case "send-instantly": a["campaign_id"] = goal.campaignID ?? ""
        case "sync-attio": if let l = goal.attioList { a["list_id"] = l }
        case "sync-linear": if let t = goal.linearTeam { a["team"] = t }
        case "export-csv": a["output"] = "leads.csv"
        default: break
        }
        if goal.dryRun, ["send-instantly", "sync-attio", "sync-linear"].contains(stage) { a["dry_run"] = true }
        return a
    }

    /// Synonyms a tool's schema may use for a canonical argument.
    static let synonyms: [String: [String]] = [
        "language": ["lang"], "min_stars": ["stars", "min_star", "minStars", "stars_min"],
        "topics": ["topic"], "pushed_within_days": ["days", "since_days", "active_days", "pushed_days", "activity_days"],
        "max_repos": ["limit", "max", "max_results", "count"], "days": ["since_days", "active_days", "window_days", "lookback_days"],
        "campaign_id": ["campaign", "sequence_id", "sequence", "seq"], "list_id": ["list", "attio_list"],
        "team": ["team_id", "team_key"], "output": ["path", "file", "out", "output_path"], "summary": ["message", "reason"],
        "dry_run": ["dryRun"], "template": ["template_name"], "widen_step": ["step"],
    ]

    /// The call of `stage` with its arguments fitted to the offered tool's schema.
    func call(_ stage: String, _ goal: SandboxPlannerGoal, widen: Int, _ c: SandboxConversation) -> SandboxPlannerAction {
        guard let tool = c.offers(stage) else { return finish(goal, c, c.calls, note: "\(stage) is not offered") }
        return .call(name: tool.name, arguments: Self.fit(Self.arguments(stage, goal, widen: widen), to: tool))
    }

    static func fit(_ args: [String: Any], to tool: SandboxConversation.Tool) -> [String: Any] {
        guard !tool.properties.isEmpty else { return args }
        var out: [String: Any] = [:]
        for (key, value) in args {
            guard let name = ([key] + (synonyms[key] ?? [])).first(where: { tool.properties[$0] != nil && out[$0] == nil }) else {
                continue
            }
            let type = tool.properties[name]?["type"] as? String
            if type == "string", let list = value as? [String] {
                out[name] = list.joined(separator: ",")
            } else if type == "string", !(value is String) {
                out[name] = "\(value)"
            } else {
                out[name] = value
            }
        }
        return out
    }

    /// `done` with a summary when offered, else the summary as text.
    func finish(
        _ goal: SandboxPlannerGoal, _ c: SandboxConversation, _ calls: [SandboxConversation.Call], note: String? = nil, failed: Bool = false
    ) -> SandboxPlannerAction {
        var parts: [String] = []
        for stage in Self.order {
            guard let call = calls.last(where: { $0.stage == stage }) else { continue }
            let n = SandboxConversation.count(call.result, text: call.resultText).map { "\($0)" } ?? "?"
            parts.append("\(stage): \(n)")
        }
        var summary = parts.isEmpty ? "Nothing was run." : "Ran " + parts.joined(separator: ", ") + "."
        if let note { summary += " " + note + "." }
        guard let done = c.offers("done") else { return .text(summary) }
        let leads = calls.last { $0.stage == "score-icp" }.flatMap { SandboxConversation.count($0.result, text: $0.resultText) }
        var args: [String: Any] = ["summary": summary, "status": failed ? "failed" : "ok"]
        if let leads { args["leads"] = leads }
        return .call(name: done.name, arguments: Self.fit(args, to: done))
    }
}
