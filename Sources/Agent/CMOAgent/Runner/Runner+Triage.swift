import CMOContract
import CMOBasics
import Foundation

/// When a writer's errors spike, triage files them in Linear and pauses the writers until a person (or a
/// set time) resumes them. Thresholds from the campaign config's `triage:` mapping.
public struct TriagePolicy: Sendable, Equatable {
    /// Over the last `window` leads a writer answered, a failed share of at least `failedShare` percent…
    public var window = 20
    public var failedShare = 50.0
    /// …or this many failures in a row…
    public var errorStreak = 10
    /// …pauses the writers; with a number of minutes, the job goes on by itself after them.
    public var resumeAfterMinutes: Double?

    public init() {}

    /// The policy in `config` (`triage: {window, failed_share, error_streak, resume_after_minutes}`).
    public static func load(config: String?) throws -> TriagePolicy {
        var p = TriagePolicy()
        guard let config, let settings = try? Settings(stage: "cmo-plan", configPath: config),
            let raw = settings.configValue("triage")
        else { return p }
        guard let m = raw as? [String: Any] else { throw StageFailure(.config, "config '\(config)': 'triage' must be a mapping") }
        func number(_ key: String) throws -> Double? {
            guard let v = m[key] ?? m[key.replacingOccurrences(of: "_", with: "-")] else { return nil }
            if let i = v as? Int { return Double(i) }
            if let d = v as? Double { return d }
            throw StageFailure(.config, "config '\(config)': triage.\(key) must be a number, not \(v)")
        }
        let known = ["window", "failed_share", "error_streak", "resume_after_minutes"]
        if let bad = m.keys.first(where: { !known.contains($0.replacingOccurrences(of: "-", with: "_")) }) {
            throw StageFailure(.config, "config '\(config)': triage has no setting '\(bad)' (it has \(known.joined(separator: ", ")))")
        }
        if let w = try number("window") { guard w >= 1 else { throw StageFailure(.config, "triage.window must be 1 or more") }; p.window = Int(w) }
        if let s = try number("failed_share") { guard (0...100).contains(s) else { throw StageFailure(.config, "triage.failed_share is a percentage") }; p.failedShare = s }
        if let s = try number("error_streak") { guard s >= 1 else { throw StageFailure(.config, "triage.error_streak must be 1 or more") }; p.errorStreak = Int(s) }
        if let r = try number("resume_after_minutes") { guard r >= 0 else { throw StageFailure(.config, "triage.resume_after_minutes must be 0 or more") }; p.resumeAfterMinutes = r }
        return p
    }

    /// Why the failures spike, or nil. `failed`: one flag per lead, in output order.
    public func spike(_ failed: [Bool]) -> String? {
        guard !failed.isEmpty else { return nil }
        let streak = failed.reversed().prefix { $0 }.count
        if streak >= errorStreak { return "the last \(streak) leads failed in a row" }
        let last = failed.suffix(window)
        let n = last.filter { $0 }.count
        guard last.count >= min(window, failed.count), n > 0 else { return nil }
        let share = 100 * Double(n) / Double(last.count)
        return share >= failedShare ? "\(n) of the last \(last.count) leads failed (\(Int(share.rounded()))%, the limit is \(Int(failedShare))%)" : nil
    }
}

extension Runner {
    /// After a writer step (exit 0, or 69 when its service stayed down): on a spike, file the errors,
    /// pause the writers and return 75; else nil.
    func triageIfSpiking(_ i: Int, status: ExitStatus) throws -> ExitStatus? {
        let step = state.steps[i]
        guard let writer = StageRegistry[step.stage], writer.triaged, !step.call.isDryRun else { return nil }
        let url = status == .ok ? dir.path(step.artifact) : URL(fileURLWithPath: dir.path(step.artifact).path + ".partial")
        let tally = RunArtifacts.tally(url, stage: writer)
        var errors: [JSONValue] = tally.failures.map { f in
            let code = f.result.reason ?? "failed"
            let message = f.result.message ?? "\(step.stage) could not write the lead"
            return .object([
                JSONMember("stage", .string(step.stage)), JSONMember("line", .int(f.line)),
                JSONMember("error", .object([JSONMember("code", .string(code)), JSONMember("message", .string(message)),
                                             JSONMember("retryable", .bool(f.result.retryable ?? (code == "unavailable")))])),
                JSONMember("input", .object([JSONMember("login", .string(f.login ?? "")), JSONMember("email", .string(f.email ?? ""))])),
            ])
        }
        var why = (try TriagePolicy.load(config: runOptions.config)).spike(tally.failedFlags)
        if status == .unavailable {
            let tail = StageLogLine.lines(log: dir.path(step.log)).map(\.text).last { $0.contains("error") } ?? "\(step.stage) exited 69"
            errors.append(.object([
                JSONMember("stage", .string(step.stage)),
                JSONMember("error", .object([JSONMember("code", .string("unavailable")), JSONMember("message", .string(TextCleaning.truncate(tail, to: 300))),
                                             JSONMember("retryable", .bool(true))])),
            ]))
            why = why ?? "\(step.stage) stopped: its service still failed after retries (exit 69)"
        }
        guard let why else { return nil }
        return try triage(i, why: why, errors: errors)
    }

    /// Pauses the writers at step `i` for `why`: the errors kept (and filed in Linear when `toLinear`), the job
    /// paused, going on by itself after `triage.resume_after_minutes` only when `autoResume`; `howToGoOn`
    /// replaces the usual "resume retries now" (the bounce guard's needs a person's go-ahead).
    func triage(_ i: Int, why: String, errors: [JSONValue], toLinear: Bool = true, autoResume: Bool = true, howToGoOn: String? = nil) throws -> ExitStatus {
        var step = state.steps[i]
        // The writer runs again on resume: the ledger skips what landed and retries what failed.
        step.status = .pending
        state.steps[i] = step
        unlink(dir.path(step.artifact).path + ".partial")
        let file = String(format: "logs/%02d-triage-%d.ndjson", step.n, (state.triage?.count ?? 0) + 1)
        var bytes: [UInt8] = []
        for e in errors {
            bytes += e.encoded()
            bytes.append(10)
        }
        try Data(bytes).write(to: dir.path(file))
        var filed: String?
        if toLinear, let team = state.job.linearTeam, !errors.isEmpty {
            filed = fileInLinear(team: team, errors: file)
        }
        let policy = try TriagePolicy.load(config: runOptions.config)
        var record = RunState.Triage(at: Timestamp.string(), stage: step.stage, reason: why, errors: file, linear: filed)
        if filed == nil { record.linear = state.job.linearTeam == nil ? nil : toLinear ? "not filed (see the log)" : "filed before" }
        state.triage = (state.triage ?? []) + [record]
        state.status = .paused
        let after = (autoResume ? policy.resumeAfterMinutes : nil).map { Date().addingTimeInterval($0 * 60) }
        state.resumeAt = after.map { Timestamp.string($0) }
        state.pauseReason = "triage: step \(step.n) \(step.stage): \(why)"
        state.runnerPID = nil
        try save()
        var text = "triage: step \(step.n) \(step.stage): \(why); the writers are paused. The errors (\(errors.count)) are in \(dir.path(file).path)"
        if let filed { text += "; filed in Linear: \(filed)" } else if state.job.linearTeam == nil { text += "; no Linear team in this job, nothing filed" }
        text += after.map { "; the writers go on by themselves at \(Timestamp.string($0)) (triage.resume_after_minutes)" } ?? ""
        text += "; " + (howToGoOn ?? "`cmo-plan resume \(state.jobID)` (or 'resume' in the chat) retries now")
        event(.triage, text, step: step.n, stage: step.stage, errors: errors.count)
        return .tempFail
    }

    /// Files the errors through sync-linear (a parent issue per job, a child per distinct error); returns
    /// the issues' identifiers, or nil when sync-linear failed.
    func fileInLinear(team: String, errors: String) -> String? {
        let out = dir.path(errors.replacingOccurrences(of: ".ndjson", with: ".linear.ndjson"))
        let log = dir.path(errors.replacingOccurrences(of: ".ndjson", with: ".linear.log"))
        do {
            let command = try stageCommand("sync-linear", ["--team", team, "--job", state.jobID], deadLetter: log.path + ".dead-letters",
                                           overrides: options.stageOverrides)
            var env = ProcessInfo.processInfo.environment
            env["CMO_JOB_ID"] = state.jobID
            let status = try spawnAndWait(StageSpec(executable: command.executable, arguments: command.arguments, environment: env,
                                                    stdin: dir.path(errors).path, artifact: out.path, log: log.path))
            guard status == 0 else {
                event(.warning, "triage: sync-linear exited \(status); see \(log.path)")
                return nil
            }
        } catch {
            event(.warning, "triage: cannot run sync-linear: \(error)")
            return nil
        }
        guard FileManager.default.fileExists(atPath: out.path) else { return nil }
        let filed = RunArtifacts.tally(out, stage: StageRegistry.syncLinear)
        let children = filed.identifiers.isEmpty ? "no issue identifiers" : filed.identifiers.joined(separator: ", ")
        return children + (filed.parentID.map { " (under the job's parent issue \($0))" } ?? "")
    }
}
