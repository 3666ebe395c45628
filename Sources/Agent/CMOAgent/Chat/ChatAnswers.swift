import CMOContract
import CMOBasics
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
        let rest = counts.filter { $0.key != .queued }.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
        return "\(q) queued in Instantly campaign \(campaign)" + (rest.isEmpty ? "" : " (\(rest.joined(separator: ", ")))")
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
}
