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

    /// The stages that only read files (score-icp, render-copy) run once on empty input with the plan's
    /// settings, before any request: a bad ICP, a missing template or an example campaign stops the job
    /// now, not after the search. Nil when they accept them; else the stage's status (job failed).
    public func preflight() throws -> ExitStatus? {
        for stage in ["score-icp", "render-copy"] where options.stageOverrides[stage] == nil {
            guard let planned = state.plan.stages.first(where: { $0.stage == stage }) else { continue }
            let command = try stageCommand(stage, planned.arguments, deadLetter: "/dev/null", overrides: [:])
            let log = dir.path("logs/preflight-\(stage).log")
            let spec = StageSpec(executable: command.executable, arguments: command.arguments, environment: ProcessInfo.processInfo.environment,
                                 stdin: nil, artifact: "/dev/null", log: log.path)
            let status: Int32
            do { status = try spawnAndWait(spec) } catch { throw StageFailure(.unavailable, "cannot start \(stage): \(error)") }
            guard status != 0 else { continue }
            let said = StageLogLine.lines(log: log).filter { $0.line?.event != "summary" }.suffix(20).map { "  " + $0.text }.joined(separator: "\n")
            state.status = .failed
            state.errors.append("\(stage) refuses these settings (exit \(status))")
            try save()
            event(.failed, "\(stage) refuses these settings (exit \(status): \(Self.why(status))), so nothing was searched:\n\(said)", stage: stage)
            return ExitStatus(rawValue: status) ?? .failure
        }
        return nil
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
