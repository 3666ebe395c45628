import CMOContract
import CMOBasics
import CMOStorage
import Foundation

/// The chat's answers about a job, from its state and its files (through `RunArtifacts`).
public enum ChatAnswers {
    /// "how many have we queued?": the Instantly answers so far.
    public static func queuedCount(dir: RunDirectory, state: RunState) -> String {
        let writer = StageRegistry.sendInstantly
        guard let campaign = state.job.instantlyCampaign ?? state.steps.first(where: { $0.stage == writer.name })?.call.text("campaign") else {
            return "this job sends nothing to Instantly" + (state.job.export == true ? "; it exports a CSV" : "")
        }
        guard let step = state.steps.last(where: { $0.stage == writer.name }) else {
            return "nothing queued yet: the job is at step \((state.steps.firstIndex { $0.status != .done } ?? state.steps.count) + 1); sends come after the approval"
        }
        var url = dir.path(step.artifact)
        if step.status != .done { url = URL(fileURLWithPath: url.path + ".partial") }
        let counts = RunArtifacts.tally(url, stage: writer).statuses
        let q = counts[.queued] ?? 0
        let already = counts[.alreadyQueued] ?? 0
        let rest = counts.filter { $0.key != .queued && $0.key != .alreadyQueued }.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
        return "\(q) queued in Instantly campaign \(campaign)" + (already > 0 ? " by this job, \(already) already there before it (not sent again)" : "")
            + (rest.isEmpty ? "" : " (\(rest.joined(separator: ", ")))")
            + (step.status == .done ? "" : "; send-instantly is \(step.status.rawValue)")
    }

    /// "why did 30 fail?": the dead letters and the writers' failures, grouped by stage and reason, with one example each.
    public static func whyFailed(dir: RunDirectory, state: RunState) -> String {
        var groups: [String: (count: Int, example: String)] = [:]
        for (stage, codes) in RunArtifacts.deadLetterGroups(dir.deadLettersURL) {
            for (code, g) in codes { groups["\(stage) dead-lettered: \(code)"] = (g.count, TextCleaning.truncate(TextCleaning.oneLine(g.example), to: 160)) }
        }
        for writer in StageRegistry.writers where writer.triaged {
            guard let step = state.steps.last(where: { $0.stage == writer.name }) else { continue }
            for f in RunArtifacts.tally(dir.path(step.artifact), stage: writer).failures {
                let key = "\(writer.name) failed: \(f.result.reason ?? "?")"
                let g = groups[key]
                let example = "\(f.login ?? "?"): \(TextCleaning.truncate(TextCleaning.oneLine(f.result.message ?? ""), to: 120))"
                groups[key] = ((g?.count ?? 0) + 1, g?.example ?? example)
            }
        }
        guard !groups.isEmpty else { return "nothing failed so far: no dead letters, no failed writes" }
        let total = groups.values.reduce(0) { $0 + $1.count }
        return "\(total) failed, by reason:\n" + groups.sorted { $0.value.count != $1.value.count ? $0.value.count > $1.value.count : $0.key < $1.key }
            .map { "  \($0.value.count) × \($0.key) — e.g. \($0.value.example)" }.joined(separator: "\n")
            + "\n(the dead letters: \(dir.deadLettersURL.path))"
    }

    /// A question about what cmo does not track: said plainly, not guessed.
    public static func notTracked(_ what: String) -> String {
        "\(what): not tracked. cmo counts what Instantly sends back about replies, bounces and unsubscribes (ask \"what's the reply rate?\"); "
            + "opens and clicks are kept but not counted (open tracking is unreliable). Instantly's own analytics have them."
    }

    /// "what's the reply rate?", "bounces?", "how is variant B doing?": the report's numbers, by variant, with
    /// the same note; for bounces, the bounce guard's window too. Nothing back yet: said so, and how to get it.
    public static func outcomes(_ topic: String, dir: RunDirectory, state: RunState, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        guard let o = Outcomes.of(dir: dir, state: state, environment: environment) else {
            return "\(topic): this job sends nothing to Instantly, so nothing comes back to count"
        }
        guard o.hasEvents else { return "\(topic): not tracked yet for job \(state.jobID): \(o.note)" }
        var text = "\(topic) for job \(state.jobID): " + o.text
        if topic == "bounces", let policy = try? BounceGuardPolicy.load(config: state.config), let store = HookEventStores.existing(environment: environment) {
            let campaigns = Runner.sendCampaigns(state)
            let now = JobClock.now()
            let events = (try? policy.windowEvents(store, campaigns: campaigns, now: now)) ?? []
            let c = policy.check(events, campaigns: campaigns, now: now, acknowledgedThrough: state.bounceAck?.through)
            text += "\n  bounce guard: \(c.bounced.count) of \(c.sent) emails of the campaign in the last \(BounceCheck.hours(policy.windowHours)) bounced"
                + " (\(String(format: "%.1f", c.share))%; it pauses the sends over \(BounceCheck.number(policy.maxShare))% once \(policy.minSent) are sent"
                + (policy.enabled ? ")" : "; off in the config)")
        }
        return text
    }

    /// The first rendered email of the job's best pass, as a recipient would read it (cut), for the gate.
    public static func preview(dir: RunDirectory) -> String {
        guard let state = try? dir.load() else { return "" }
        let passes = state.steps.filter { $0.stage == StageRegistry.renderCopy.name && $0.status == .done }
        guard let step = passes.max(by: { ($0.counts["out"] ?? 0) < ($1.counts["out"] ?? 0) }) else { return "" }
        var text = ""
        RunArtifacts.forEachObject(dir.path(step.artifact), limit: 1) { r in
            guard let copy = r["copy"] as? [String: Any] else { return }
            let to = (r["best_email"] as? String).map { TextCleaning.oneLine($0) } ?? "?"
            let subject = TextCleaning.truncate(TextCleaning.oneLine(copy["subject"] as? String ?? ""), to: 120)
            let body = (copy["body"] as? String ?? "").split(separator: "\n", omittingEmptySubsequences: false).prefix(8)
                .map { "      " + TextCleaning.truncate(TextCleaning.oneLine(String($0)), to: 120) }.joined(separator: "\n")
            text = "    one of the \(step.counts["out"] ?? 0) emails (to \(to)):\n      Subject: \(subject)\n\(body)\n"
        }
        return text
    }
}
