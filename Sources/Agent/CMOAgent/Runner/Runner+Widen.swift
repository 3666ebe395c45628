import CMOContract
import CMOBasics
import Foundation

/// What the goal says is a hard constraint. When fewer leads pass than the target, the planner first
/// searches more repositories and people within the goal (when the caps were what stopped it), and goes
/// past the goal — an older window, a lower star floor, fewer topics — only with someone's consent: the
/// job's (`widen`, `--widen`), the person's at the terminal, or their answer to the gate's question
/// (`cmo-plan widen`, the chat's "widen"). Otherwise the job finishes short and says by how much.
extension Runner {
    enum WideningDecision {
        /// Run this widening's discovery pass.
        case widen(Widening)
        /// The job stopped to ask a person; the run ends with this status.
        case ask(ExitStatus)
        /// No widening: the writers come next, with what passed.
        case goOn
    }

    /// What to do when `rendered` leads of the target passed after `pass`.
    func decideWidening(pass: Int, rendered: Int) throws -> WideningDecision {
        if let p = state.proposal {
            state.proposal = nil
            if p.by != nil {
                var w = p
                w.step = pass + 1
                return .widen(w)
            }
            if let a = state.approval {
                // Approved as it stood: the job goes on with what passed.
                state.widenDeclined = state.widenDeclined ?? "approved without widening by \(a.by)"
                return .goOn
            }
            // Not answered yet (a resume): asked again below.
        }
        if let w = nextWidening(pass: pass, rendered: rendered, pastGoal: false) { return .widen(w) }
        guard var w = nextWidening(pass: pass, rendered: rendered, pastGoal: true) else { return .goOn }
        if state.job.widen == true {
            w.by = "the job (widen)"
            return .widen(w)
        }
        if state.widenDeclined != nil { return .goOn }
        w.expected = expectedMore(w, rendered: rendered)
        let question = widenQuestion(w, rendered: rendered)
        if options.yes {
            state.widenDeclined = "--yes without --widen"
            event(.warning, "\(question.short): not widened past the goal (--yes without --widen); the job goes on with \(rendered)")
            return .goOn
        }
        if isatty(0) == 1 && isatty(2) == 1 && !options.worker {
            FileHandle.standardError.write(Data("cmo-plan: \(question.short); \(question.offer)? [y/N] ".utf8))
            let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            if answer == "y" || answer == "yes" {
                w.by = "the terminal"
                return .widen(w)
            }
            state.widenDeclined = "the terminal"
            event(.widenDeclined, "not widened past the goal (declined on the terminal); the job goes on with \(rendered) of \(state.plan.target)")
            return .goOn
        }
        state.proposal = w
        state.status = .awaitingApproval
        state.runnerPID = nil
        try save()
        var text = "\(question.short); \(question.offer)?\n"
        text += "  `cmo-plan widen \(state.jobID)` (or \"widen\" in the chat) searches that way, then asks before anything is written\n"
        text += "  `cmo-plan approve \(state.jobID)` goes on with the \(rendered) lead(s) found"
        text += (needsApprovalAhead ? " and approves what is written:\n" + gateText() : "")
        event(.awaitingApproval, text)
        return .ask(.ok)
    }

    /// Whether an irreversible writer is still to run (its approval is then part of the answer).
    var needsApprovalAhead: Bool {
        state.plan.stages.contains { $0.irreversible && state.lastDone($0.stage) == nil }
    }

    /// The question put to a person: what passed within the goal, and the widening offered.
    func widenQuestion(_ w: Widening, rendered: Int) -> (short: String, offer: String) {
        let last = state.widenings.last
        let days = last?.activeDays ?? state.plan.activeDays
        let stars = last.map(\.minStars) ?? state.plan.minStars
        let topics = last?.topics ?? (state.job.topics ?? [])
        var within = ["active in the last \(days) days"]
        if let s = stars { within.append("\(s)+ stars") }
        if !topics.isEmpty { within.append("topics \(topics.joined(separator: ", "))") }
        let short = "\(rendered) of \(state.plan.target) leads \(within.joined(separator: ", "))"
        var change: String
        if w.activeDays != days {
            change = "widen to \(w.activeDays) days"
        } else if w.minStars != stars {
            change = "lower the star floor to \(w.minStars ?? 0)+"
        } else {
            change = "search any topic (the job's topics still score)"
        }
        change += w.expected.map { " for perhaps \($0) more (if activity were spread evenly over time)" } ?? " (how many more it finds cannot be estimated)"
        return (short, change)
    }

    /// How many more leads a widening of the window may bring, if activity were spread evenly over time
    /// (nil when nothing can be said: no lead yet, or a widening of stars or topics).
    func expectedMore(_ w: Widening, rendered: Int) -> Int? {
        let days = state.widenings.last?.activeDays ?? state.plan.activeDays
        guard rendered > 0, w.activeDays > days else { return nil }
        let more = Int((Double(rendered) * (Double(w.activeDays) / Double(days) - 1)).rounded())
        return min(more, state.plan.target - rendered)
    }

    /// The next widening. Within the goal (`pastGoal` false): more repositories and people, only when the
    /// last pass was stopped by those caps. Past it: the window twice as old (the whole year when that is
    /// most of it), then half the star floor, then any topic.
    func nextWidening(pass: Int, rendered: Int, pastGoal: Bool) -> Widening? {
        let caps = state.plan.caps
        guard state.widenings.count < caps.maxWidenings, state.steps.count + 6 <= caps.maxSteps else { return nil }
        let last = state.widenings.last
        let days = last?.activeDays ?? state.plan.activeDays
        let stars = last.map(\.minStars) ?? state.plan.minStars
        let topics = last?.topics ?? (state.job.topics ?? [])
        let repos = last?.maxRepos ?? initialRepos()
        let people = last?.maxPeople ?? initialPeople()
        var w = Widening(step: pass + 1, reason: "", activeDays: days, minStars: stars, topics: topics, maxRepos: repos, maxPeople: people)
        let short = "\(rendered) of \(state.plan.target) leads"
        if !pastGoal {
            // Only when the caps stopped the last pass: a search that found fewer repositories than it could
            // read, and people fewer than it could take, would find the same again.
            let found = artifactLines(state.lastDone(StageRegistry.ghSearch.name))
            let seen = artifactLines(state.lastDone(StageRegistry.ghPeople.name))
            let capped = found >= repos || seen >= people
            w.maxRepos = min(caps.maxRepos, repos * 2)
            w.maxPeople = min(caps.maxPeople, people * 2)
            guard capped, w.maxRepos > repos || w.maxPeople > people else { return nil }
            w.reason = "\(short): up to \(w.maxRepos) repositories and \(w.maxPeople) people, within the goal"
            return w
        }
        // A wider search holds more repositories and people: the caps double with it, as far as they go.
        w.maxRepos = min(caps.maxRepos, repos * 2)
        w.maxPeople = min(caps.maxPeople, people * 2)
        if days < 365 {
            w.activeDays = days * 2 > 365 * 3 / 4 ? 365 : days * 2
            w.reason = "\(short): activity from the last \(w.activeDays) days instead of \(days) (past the goal)"
        } else if let s = stars, s > 1 {
            w.minStars = max(1, s / 2)
            w.reason = "\(short): \(w.minStars!)+ stars instead of \(s)+ (past the goal)"
        } else if !topics.isEmpty {
            w.topics = []
            w.reason = "\(short): any topic (the job's topics still score) instead of \(topics.joined(separator: ", ")) (past the goal)"
        } else {
            return nil
        }
        return w
    }

    /// A person agreed to the widening the job stopped to ask about (`cmo-plan widen`, the chat). False
    /// when no question is pending (then the job's `widen` is set, for the next time it falls short).
    @discardableResult
    public func consentToWiden(by who: String) -> Bool {
        state.widenDeclined = nil
        guard state.proposal != nil else {
            state.job.widen = true
            return false
        }
        state.proposal!.by = who
        return true
    }

    /// The shortfall, in words, when fewer leads passed than the target; nil when the target was met.
    func shortfall(rendered: Int) -> String? {
        guard rendered < state.plan.target else { return nil }
        let past = state.widenings.filter { $0.by != nil }
        var text = "\(rendered) of \(state.plan.target) leads (\(state.plan.target - rendered) short)"
        let days = state.widenings.last?.activeDays ?? state.plan.activeDays
        text += past.isEmpty ? " within the goal (active in the last \(days) days)" : " after widening past the goal (active in the last \(days) days)"
        if let who = state.widenDeclined { text += past.isEmpty ? "; not widened past the goal: \(who)" : "; not widened further: \(who)" }
        else if past.isEmpty && nextWidening(pass: 0, rendered: rendered, pastGoal: true) == nil && state.widenings.count >= state.plan.caps.maxWidenings {
            text += "; the widenings allowed are spent"
        }
        return text
    }
}
