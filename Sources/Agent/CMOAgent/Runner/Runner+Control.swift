import CMOContract
import CMOBasics
import CMOStorage
import CMOHTTP
import Foundation

/// What another process asked of a running job (`pause`, `cancel`, a stopping worker's `requeue`), through
/// `runs/<id>/control` and a SIGTERM; a Ctrl-C or a bare SIGTERM asks for a pause.
public enum JobControl: String, Sendable {
    case pause, cancel, requeue

    /// `runs/<id>/control`: the action, a space, who asked.
    public static func url(_ dir: RunDirectory) -> URL { dir.path("control") }

    public static func read(_ dir: RunDirectory) -> (action: JobControl, by: String)? {
        guard let text = try? String(contentsOf: url(dir), encoding: .utf8) else { return nil }
        let words = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", maxSplits: 1).map(String.init)
        guard let first = words.first, let action = JobControl(rawValue: first) else { return nil }
        return (action, words.count > 1 ? words[1] : "someone")
    }

    /// Asks the job in `dir` for `action`; signals its cmo-plan process if one runs it. Returns true when a
    /// process was signalled (it stops within moments), false when none runs the job.
    @discardableResult
    public static func request(_ action: JobControl, by who: String, dir: RunDirectory, state: RunState) throws -> Bool {
        try Data("\(action.rawValue) \(who)\n".utf8).write(to: url(dir), options: .atomic)
        guard let pid = state.runnerPID, ProcessLiveness.isRunning(pid, started: state.runnerStarted) else { return false }
        return kill(pid, SIGTERM) == 0
    }

    public static func clear(_ dir: RunDirectory) { unlink(url(dir).path) }
}

/// One line of `runs/<id>/amendments.ndjson`: a follow-up that changes the job (chat's "raise the target to
/// 3k", "skip sending, export only"), applied by whichever process runs the job at its next step.
public struct Amendment: Codable, Sendable {
    public var target: Int?
    /// true: no Instantly, Attio or Linear writes any more; export the CSV instead.
    public var skipWriters: Bool?
    /// Keep only the leads that pass this, in every writer and the export not run yet.
    public var filter: LeadFilter?
    public var by: String
    public var at: String

    public init(target: Int? = nil, skipWriters: Bool? = nil, filter: LeadFilter? = nil, by: String) {
        self.target = target
        self.skipWriters = skipWriters
        self.filter = filter
        self.by = by
        at = Timestamp.string()
    }

    enum CodingKeys: String, CodingKey { case target, skipWriters = "skip_writers", filter, by, at }

    public static func url(_ dir: RunDirectory) -> URL { dir.path("amendments.ndjson") }

    public func append(to dir: RunDirectory) throws {
        var line = try JSONEncoder().encode(self)
        line.append(10)
        let fd = open(Self.url(dir).path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StageFailure(.failure, "cannot write \(Self.url(dir).path)") }
        defer { close(fd) }
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    public static func all(_ dir: RunDirectory) -> [Amendment] {
        var out: [Amendment] = []
        RunArtifacts.forEach(Amendment.self, in: url(dir)) { out.append($1) }
        return out
    }
}

/// The signal that reached this process (SIGTERM, SIGINT), and the stages to pass it to.
final class Interruption: @unchecked Sendable {
    static let shared = Interruption()
    private let lock = NSLock()
    private var signalled = false
    private var pids: [Int32] = []
    private var sources: [DispatchSourceSignal] = []

    /// Once per process: SIGTERM and SIGINT stop the running stages and the run at its next step.
    func install() {
        lock.lock()
        defer { lock.unlock() }
        guard sources.isEmpty else { return }
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { [weak self] in self?.fire() }
            s.resume()
            sources.append(s)
        }
    }

    private func fire() {
        lock.lock()
        signalled = true
        let running = pids
        lock.unlock()
        for pid in running { kill(pid, SIGTERM) }
    }

    var isSignalled: Bool {
        lock.lock()
        defer { lock.unlock() }
        return signalled
    }

    /// The stages now running (empty when none): a signal is passed to them.
    func running(_ list: [Int32]) {
        lock.lock()
        pids = list
        let late = signalled
        lock.unlock()
        if late { for pid in list { kill(pid, SIGTERM) } }
    }
}

/// What `takeGitHubToken` got: no token to share, the token's lock (close to release), or a stop.
enum TokenTurn {
    case free
    case held(FileLock)
    case stop(ExitStatus)
}

extension Runner {
    /// The job's next step waits for what another process asked, and takes in the chat's amendments.
    func checkControl() throws -> ExitStatus? {
        try applyAmendments()
        if Interruption.shared.isSignalled || JobControl.read(dir) != nil { return try stopRequested() }
        return nil
    }

    /// Stops the job as asked: paused (resumable), cancelled, or requeued for another worker.
    func stopRequested() throws -> ExitStatus {
        let asked = JobControl.read(dir) ?? (.pause, "a signal (Ctrl-C or SIGTERM)")
        state.runnerPID = nil
        state.runnerStarted = nil
        switch asked.action {
        case .pause:
            state.status = .paused
            state.pauseReason = "paused by \(asked.by)"
            try save()
            event(.paused, "paused by \(asked.by) at step \(nextStepNumber()); `cmo-plan resume \(state.jobID)` continues it")
        case .cancel:
            state.status = .cancelled
            state.pauseReason = nil
            try save()
            event(.cancelled, "cancelled by \(asked.by) at step \(nextStepNumber()); nothing more is written (what was written stays written)")
        case .requeue:
            state.status = .waiting
            state.retryAt = Timestamp.string()
            state.waitReason = "its worker stopped (\(asked.by))"
            try save()
            event(.requeued, "stopped by \(asked.by) at step \(nextStepNumber()); another worker continues it")
        }
        return .tempFail
    }

    func nextStepNumber() -> Int { (state.steps.firstIndex { $0.status != .done } ?? state.steps.count) + 1 }

    /// Applies the amendments written since the last step (a new target; no writers).
    func applyAmendments() throws {
        let all = Amendment.all(dir)
        let done = state.amendments ?? 0
        guard all.count > done else { return }
        let wrote = state.steps.contains { StageRegistry.writerNames.contains($0.stage) && $0.status != .pending }
        for a in all[done...] {
            if let t = a.target {
                if wrote {
                    event(.warning, "the target stays \(state.plan.target): the writers have started (asked by \(a.by))")
                } else {
                    let old = state.plan.target
                    state.plan.target = t
                    state.job.target = t
                    // The plan keeps the best `t` from here on (the next passes take it from the plan).
                    for i in state.plan.stages.indices where state.plan.stages[i].stage == StageRegistry.scoreICP.name {
                        state.plan.stages[i].invocation.set("top", .int(t))
                    }
                    event(.amended, "target \(old) → \(t) (asked by \(a.by)); the search widens while fewer pass")
                }
            }
            if a.skipWriters == true {
                let skipped = state.steps.filter { StageRegistry.writerNames.contains($0.stage) && $0.status != .done }.map(\.stage)
                state.steps.removeAll { StageRegistry.writerNames.contains($0.stage) && $0.status != .done }
                state.job.instantlyCampaign = nil
                state.job.attioList = nil
                state.job.linearTeam = nil
                state.job.export = true
                state.plan.sideEffects.removeAll { $0.service != "file" }
                // The plan's writers give way to the export the job now asks for.
                state.plan.stages.removeAll { !StageRegistry.readNames.contains($0.stage) }
                state.plan.stages += RulePlanner.writerSteps(state.job, options: runOptions, hasDeadLetters: true).map { .init($0, irreversible: false) }
                let ran = state.steps.filter { StageRegistry.writerNames.contains($0.stage) }.map(\.stage)
                event(.amended, "no more writes (asked by \(a.by)): \(skipped.isEmpty ? "no writer step was pending" : "skipped \(skipped.joined(separator: ", "))")"
                      + (ran.isEmpty ? "" : "; already ran: \(ran.joined(separator: ", "))") + "; the CSV is exported")
            }
            if let f = a.filter { applyFilter(f, by: a.by) }
        }
        state.amendments = all.count
        try save()
    }

    /// A filter on the leads not written yet: `--where` on every writer and the export still to run (and
    /// on the plan's, for the steps not appended yet); the people contacted lately left out by
    /// send-instantly's `--skip-contacted-days`.
    func applyFilter(_ f: LeadFilter, by who: String) {
        func amend(_ call: inout StageInvocation) {
            if let jq = f.jq {
                let old = call.text("where")
                call.set("where", .text(old.map { "(\($0)) and (\(jq))" } ?? jq))
            }
            if let d = f.contactedDays, call.stage == StageRegistry.sendInstantly.name {
                call.set("skip-contacted-days", .int(min(d, call.int("skip-contacted-days") ?? Int.max)))
            }
        }
        let writes = Set(StageRegistry.writerNames).union([StageRegistry.exportCSV.name])
        var touched: [String] = []
        for i in state.plan.stages.indices where writes.contains(state.plan.stages[i].stage) && state.lastDone(state.plan.stages[i].stage) == nil {
            amend(&state.plan.stages[i].invocation)
            touched.append(state.plan.stages[i].stage)
        }
        for i in state.steps.indices where writes.contains(state.steps[i].stage) && state.steps[i].status != .done {
            var call = state.steps[i].call
            amend(&call)
            state.steps[i].invocation = call
            state.steps[i].arguments = call.arguments
        }
        let done = state.steps.filter { writes.contains($0.stage) && $0.status == .done }.map(\.stage)
        event(.amended, "\(f.said) (asked by \(who)): " + (touched.isEmpty ? "every writer has run; nothing left to filter" : "applies to \(touched.joined(separator: ", "))")
              + (done.isEmpty ? "" : "; already written: \(done.joined(separator: ", "))"))
    }

    // MARK: waiting out a rate limit

    /// A stage exited 75: the job waits until the reset the stage reported (its log says "needs a 42s
    /// wait"), and a GitHub stage's token is held for every job until then.
    func waitForReset(_ step: StepRecord) throws -> ExitStatus {
        // The wait the stage reported on the error that stopped it (`wait_seconds` in its JSON log).
        let lines = StageLogLine.lines(log: dir.path(step.log))
        var seconds = 60.0
        var said = "rate-limited"
        if let line = lines.compactMap(\.line).last(where: { $0.waitSeconds != nil }) {
            said = TextCleaning.truncate(line.text, to: 200)
            seconds = line.waitSeconds ?? seconds
        } else if let text = lines.map(\.text).last(where: { $0.contains("rate") }) {
            said = TextCleaning.truncate(text, to: 200)
        }
        // On the job's clock (`JobClock`), which the worker reads when it looks for jobs that are due.
        let until = JobClock.now().addingTimeInterval(max(1, seconds + 1))
        if step.stage.hasPrefix("gh-"), let token = Self.githubToken() {
            try? (try? JobQueues.open())?.holdToken(token, until: until.timeIntervalSince1970, by: state.jobID, reason: said)
        }
        state.status = .waiting
        state.retryAt = Timestamp.string(until)
        state.waitReason = "step \(step.n) \(step.stage): \(said)"
        state.runnerPID = nil
        try save()
        event(.waiting, "step \(step.n) \(step.stage) is rate-limited until \(state.retryAt!) (\(said)); "
              + (options.worker ? "the worker resumes it then" : "`cmo-plan resume \(state.jobID)` after that time continues it (a worker does it by itself: cmo-plan submit)"),
              step: step.n, retryAt: state.retryAt!)
        return .tempFail
    }

    /// The job waits (status waiting until `until`), the worker resumes it then: 75.
    func waitInWorker(until: Date, _ why: String) throws -> ExitStatus {
        state.status = .waiting
        state.retryAt = Timestamp.string(until)
        state.waitReason = why
        state.runnerPID = nil
        try save()
        event(.waiting, "waiting: \(why); the worker resumes the job at \(state.retryAt!)", retryAt: state.retryAt!)
        return .tempFail
    }

    /// Which GitHub token this process's stages spend (a digest of the API URL and the token; never the
    /// token), or nil when none is set.
    static func githubToken(_ env: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        guard let t = env["GITHUB_TOKEN"], !t.isEmpty else { return nil }
        let url = env["GITHUB_API_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://api.github.com"
        return String(DeterministicID.sha256Hex(url + "\n" + t).prefix(24))
    }

    /// Before a pass spends GitHub: wait while the token's quota is known to be spent (another job's stage
    /// hit its reset), then take the token's lock, so two jobs on one token take turns instead of racing for
    /// its quota. In a worker a busy token makes the job wait (the worker runs others); on a terminal it
    /// waits here. Returns the lock's fd (close to release), or the exit status when the job must wait.
    func takeGitHubToken() throws -> TokenTurn {
        guard let token = Self.githubToken() else { return .free }
        let queue = try? JobQueues.open()
        var said = false
        while true {
            if Interruption.shared.isSignalled || JobControl.read(dir) != nil { return .stop(try stopRequested()) }
            let now = JobClock.now().timeIntervalSince1970
            if let hold = try? queue?.tokenHold(token, now: now) {
                let why = "the GitHub quota is spent until \(Timestamp.string(Date(timeIntervalSince1970: hold.until))) (job \(hold.job): \(hold.reason))"
                if options.worker { return .stop(try waitInWorker(until: Date(timeIntervalSince1970: hold.until), why)) }
                if !said { event(.waiting, "waiting here: \(why)") }
                said = true
                usleep(useconds_t(min(1.0, hold.until - now) * 1_000_000))
                continue
            }
            let dirPath = try StateDirectory.ensure() + "/locks"
            try? FileManager.default.createDirectory(atPath: dirPath, withIntermediateDirectories: true)
            let path = dirPath + "/github-\(token).lock"
            switch FileLock.tryLock(path) {
            case .unavailable: return .free
            case .held(let lock):
                lock.write(state.jobID)
                return .held(lock)
            case .busy: break
            }
            let holder = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "another job"
            if options.worker { return .stop(try waitInWorker(until: JobClock.now().addingTimeInterval(3), "the GitHub token is in use by job \(holder); the jobs take turns")) }
            if !said { event(.waiting, "waiting here: the GitHub token is in use by job \(holder); the jobs take turns") }
            said = true
            usleep(500_000)
        }
    }
}
