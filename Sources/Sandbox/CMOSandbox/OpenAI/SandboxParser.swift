import Foundation

/// The scripted goal parsers (`cmo-parser…`): a client offers a `set_job` tool (cmo-plan's `--parser
/// model`) and gets the job the goal asks for, read the way `SandboxPlannerGoal` reads it, or one of the
/// ways real models get it wrong.
enum SandboxParser {
    /// The job for the conversation's goal, as `set_job` arguments: only the fields the goal states.
    static func job(_ goal: String) -> [String: Any] {
        let lower = goal.lowercased()
        let g = SandboxPlannerGoal(goal, defaults: OpenAIOptions())
        var job: [String: Any] = [:]
        if let t = SandboxPlannerGoal.target(in: lower) { job["target"] = t }
        if let l = g.language { job["languages"] = [l] }
        if !g.topics.isEmpty { job["topics"] = g.topics }
        if let d = SandboxPlannerGoal.days(in: lower) { job["active_days"] = d }
        if let s = SandboxPlannerGoal.stars(in: lower) { job["min_stars"] = s }
        if let c = g.campaignID { job["instantly_campaign"] = c }
        if let l = g.attioList { job["attio_list"] = l }
        if let t = g.linearTeam { job["linear_team"] = t }
        if g.wantsCSV { job["export"] = true }
        if g.dryRun { job["dry_run"] = true }
        return job
    }

    /// This parser model's answer: a `set_job` call (with its raw arguments when they are broken on purpose), or prose.
    static func answer(_ kind: SandboxModel, _ c: SandboxConversation) -> (action: SandboxPlannerAction, rawArguments: String?) {
        guard c.tools.contains(where: { $0.name == "set_job" }) else {
            return (.text("I can only read a goal into a job when I am given a set_job tool."), nil)
        }
        let job = job(c.goalText)
        switch kind {
        case .parserMalformed where !c.endsWithError:
            return (.call(name: "set_job", arguments: job), String(ServiceKit.jsonString(job).dropLast()) + ",")
        case .parserInvented:
            var made = job
            made["instantly_campaign"] = "cmp_8f3a2c"  // in no goal: made up
            if !c.endsWithError { made["region"] = "EMEA" }  // told, it drops the field and keeps the id
            return (.call(name: "set_job", arguments: made), nil)
        case .parserChatty:
            return (.text("Sounds like a great campaign! You want about \(job["target"] ?? "some") developers; shall I set that up?"), nil)
        default:
            return (.call(name: "set_job", arguments: job), nil)
        }
    }
}
