import CMOContract
import CMOBasics
import CMOScoring
import Foundation

/// What keeps a run honest besides its steps: the settings checked before anything is searched, the
/// health a run must have before anything is written (and before its CSV replaces the last good one),
/// and that CSV copied to `--output` only when the run is healthy.
extension Runner {
    /// A dead-letter share over this (percent of the records a stage read) makes a run unhealthy.
    public static let defaultMaxDeadShare = 20.0

    var maxDeadShare: Double { options.maxDeadShare ?? state.maxDeadShare ?? Self.defaultMaxDeadShare }

    // MARK: preflight

    /// Everything knowable, checked before any request of the job's (and again on every resume, with the
    /// settings it was given): a campaign config given, the read-only stages (score-icp, render-copy) run
    /// once on empty input with the plan's settings (a bad ICP, a missing template, a template variable
    /// that names nothing), and each writer still to run asked to `--check` its key, its service and its
    /// campaign, list or team (one given by name is resolved to its id here). Nil when all pass; else the
    /// job is failed with the stage's own words and its status.
    public func preflight() throws -> ExitStatus? {
        if runOptions.config == nil, options.stageOverrides[StageRegistry.renderCopy.name] == nil {
            return try refuse(nil, .config, """
                no campaign config: the copy needs a sender, an unsubscribe link and templates. Give one with                 --config FILE (or CMO_CONFIG); examples/campaign.yaml is one to copy and edit
                """)
        }
        var checks: [PreflightCheck] = []
        for stage in [StageRegistry.scoreICP.name, StageRegistry.renderCopy.name] where options.stageOverrides[stage] == nil {
            guard let planned = state.plan.planned(stage) else { continue }
            let (status, log, _) = try preflightRun(stage, planned.arguments)
            if status != 0 { return try refuse(stage, ExitStatus(rawValue: status) ?? .failure, Self.said(log)) }
        }
        for step in state.plan.stages where step.irreversible && state.lastDone(step.stage) == nil && options.stageOverrides[step.stage] == nil {
            let (status, log, out) = try preflightRun(step.stage, ["--check"] + step.arguments)
            if status != 0 { return try refuse(step.stage, ExitStatus(rawValue: status) ?? .failure, Self.said(log)) }
            guard var check = try? JSONDecoder().decode(PreflightCheck.self, from: out) else {
                return try refuse(step.stage, .failure, "\(step.stage) --check printed no result")
            }
            check.stage = step.stage
            if let t = check.target, let id = t.id, id != t.given { resolve(step.stage, given: t.given, to: id, name: t.name) }
            for w in check.warnings ?? [] { event(.warning, "\(step.stage): \(w)", stage: step.stage) }
            checks.append(check)
        }
        state.checks = checks.isEmpty ? state.checks : checks
        try save()
        let said = checks.map { c -> String in
            guard let t = c.target else { return "\(c.stage ?? "?") ok" }
            let id = t.id ?? t.given
            return "\(c.stage ?? "?") → " + (t.name.map { "\($0) (\(id))" } ?? id)
        }
        event(.preflight, "checked before any request: the config, score-icp and render-copy with the plan's settings" + (said.isEmpty ? "" : ", " + said.joined(separator: ", ")))
        return nil
    }

    /// Runs a stage once on empty input: its status, its log, its stdout.
    func preflightRun(_ stage: String, _ arguments: [String]) throws -> (Int32, URL, Data) {
        let command = try stageCommand(stage, arguments, deadLetter: "/dev/null", overrides: [:])
        let log = dir.path("logs/preflight-\(stage).log")
        let out = dir.path("logs/preflight-\(stage).out")
        let spec = StageSpec(executable: command.executable, arguments: command.arguments, environment: ProcessInfo.processInfo.environment,
                             stdin: nil, artifact: out.path, log: log.path)
        let status: Int32
        do { status = try spawnAndWait(spec) } catch { throw Self.startFailure(stage, error) }
        return (status, log, (try? Data(contentsOf: out)) ?? Data())
    }

    /// What a stage said on stderr, but its summary, as text lines.
    static func said(_ log: URL) -> String {
        StageLogLine.lines(log: log).filter { $0.line?.event != "summary" }.suffix(20).map { "  " + $0.text }.joined(separator: "\n")
    }

    /// Fails the job before any request: nothing was searched, nothing written.
    func refuse(_ stage: String?, _ status: ExitStatus, _ said: String) throws -> ExitStatus {
        state.status = .failed
        let who = stage.map { "\($0) refuses these settings" } ?? "cmo-plan refuses to start"
        state.errors.append("\(who) (exit \(status.rawValue))")
        try save()
        event(.failed, "\(who) (exit \(status.rawValue): \(Self.why(status.rawValue))), so nothing was searched or written:\n\(said)"
              + "\ncmo-plan: fix it and `cmo-plan resume \(state.jobID)` (it takes --config, --campaign, --list, --team)", stage: stage)
        return status
    }

    /// A writer's target given by name, resolved to its id: the job, the plan and the steps not run yet
    /// write to the id from here on.
    func resolve(_ stage: String, given: String, to id: String, name: String?) {
        guard state.retarget(stage, to: id) != nil else { return }
        event(.preflight, "\(stage): '\(given)' is \(name.map { "\"\($0)\" " } ?? "")\(id); the job writes there")
    }

    // MARK: health

    /// Why the run so far is not fit to write from: no lead rendered, or a read stage dead-lettered more
    /// than `--max-dead-share` of what it read. Nil when it is.
    func unhealthy() -> String? {
        var worst: (stage: String, dead: Int, read: Int, share: Double)?
        for step in state.steps where step.status == .done && (StageRegistry.readNames.contains(step.stage) || step.stage == "export-csv") {
            let dead = step.counts["dead"] ?? 0
            guard dead > 0 else { continue }
            let read = step.stage == "gh-search" ? (step.counts["out"] ?? 0) + dead : max(step.counts["in"] ?? 0, dead)
            let share = 100 * Double(dead) / Double(max(1, read))
            if worst.map({ share > $0.share }) ?? true { worst = (step.stage, dead, read, share) }
        }
        let of = worst.map { "\($0.stage) dead-lettered \($0.dead) of the \($0.read) records it read" }
        if lastRendered() == 0 {
            if artifactLines(state.lastDone("gh-search")) == 0 { return "no lead rendered: the search found no repository" }
            return "no lead rendered" + (of.map { ": " + $0 } ?? "")
        }
        if let w = worst, w.share > maxDeadShare {
            return "\(of!) (\(String(format: "%.1f", w.share))%, over --max-dead-share \(String(format: "%g", maxDeadShare))%)"
        }
        return nil
    }

    /// The most common reasons in the run's dead letters, one line each ("render-copy: missing_variable: …").
    func commonDeadLetters(_ n: Int = 3) -> [String] { RunArtifacts.commonDeadLetters(dir.deadLettersURL, top: n) }

    /// Stops an unhealthy run with 65 before anything is written (and leaves `--output` as it was).
    func failUnhealthy(_ why: String, before: String) throws -> ExitStatus {
        state.status = .failed
        state.errors.append(why)
        try save()
        var text = "\(why); \(before)"
        if let out = state.output { text += "; \(out) left as it was" }
        let common = commonDeadLetters()
        if !common.isEmpty { text += "\nthe dead letters are in \(dir.deadLettersURL.path) — the most common:\n" + common.map { "  " + $0 }.joined(separator: "\n") }
        text += "\nevery step's output and log are in \(dir.url.path)"
        event(.failed, text)
        return .dataError
    }

    // MARK: the CSV at --output

    /// Copies the run's CSV to `--output` (a temporary file in its directory, then rename): the last good
    /// CSV is replaced only by a healthy run's.
    func publishCSV() throws -> String? {
        guard let out = state.output, state.lastDone("export-csv") != nil else { return nil }
        let source = dir.path("exports/leads.csv")
        let target = URL(fileURLWithPath: out)
        let tmp = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).partial.\(getpid())")
        unlink(tmp.path)
        do {
            try FileManager.default.copyItem(at: source, to: tmp)
            guard rename(tmp.path, target.path) == 0 else { throw StageFailure(.failure, String(cString: strerror(errno))) }
        } catch {
            unlink(tmp.path)
            throw StageFailure(.failure, "cannot write the CSV to \(out): \(error)")
        }
        return out
    }
}
