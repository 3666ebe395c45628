import CMOContract
import CMOBasics
import CMOStorage
import Foundation

/// Runs a job's steps, one stage process at a time, keeping every output in the run directory and the
/// state in state.json after every step, so `resume` continues where a crash or a kill stopped it.
public final class Runner {
    public struct Options {
        public var yes = false
        public var quiet = false
        public var jsonLog = false
        public var stageOverrides: [String: String] = [:]
        public var config: String?
        /// The model planner, when the job is planned by a model (nil: the rule planner).
        public var planner: ModelPlanner?
        /// `--max-dead-share` given to this process (nil: the job's, else 20%).
        public var maxDeadShare: Double?
        /// Run by `cmo-plan worker`: a rate limit or a busy token makes the job wait (exit 75, the worker
        /// runs others meanwhile) instead of waiting in this process.
        public var worker = false
        public init() {}
    }

    let dir: RunDirectory
    var state: RunState
    let options: Options
    let runOptions: RunOptions
    var runLock: FileLock?
    /// When state.json was last written.
    var lastSave = Date.distantPast
    let events: EventLog
    /// Set when the planner stops the job to ask a person (a widening past the goal): the run's status.
    var stop: ExitStatus?

    public init(dir: RunDirectory, state: RunState, options: Options) {
        self.dir = dir
        self.state = state
        self.options = options
        events = EventLog(dir.eventsURL)
        runOptions = RunOptions(config: options.config ?? state.config, now: state.plan.now, jobID: state.jobID, dryRun: state.job.dryRun == true)
        Runner.adoptDatabase(config: runOptions.config)
    }

    /// The campaign config's `database-url` becomes this process's `CMO_DATABASE_URL` when the environment
    /// has none, so the runner's own stores (the queue, the outcomes) and every stage it starts use the
    /// same team database as the stages reading that config.
    static func adoptDatabase(config: String?) {
        guard let config, (ProcessInfo.processInfo.environment["CMO_DATABASE_URL"] ?? "").isEmpty,
            let settings = try? Settings(stage: "cmo-plan", configPath: config),
            let url = settings.environment["CMO_DATABASE_URL"], !url.isEmpty
        else { return }
        setenv("CMO_DATABASE_URL", url, 1)
    }

    public var currentState: RunState { state }

    // MARK: events

    /// Writes an event to events.ndjson and, unless quiet, to stderr (text, or the JSON line with --log-json).
    public func event(
        _ name: RunEvent.Name, _ message: String, step: Int? = nil, stage: String? = nil, counts: [String: Int]? = nil, widenStep: Int? = nil,
        retryAt: String? = nil, errors: Int? = nil
    ) {
        let line = events.append(RunEvent(time: Timestamp.string(), jobID: state.jobID, event: name, message: message, step: step, stage: stage,
                                          counts: counts, widenStep: widenStep, retryAt: retryAt, errors: errors))
        // A shortfall is in the done line too; under -q (no done line) it is said on its own.
        guard options.quiet ? [.warning, .failed, .triage, .shortfall, .waiting].contains(name) : name != .shortfall else { return }
        if options.jsonLog {
            FileHandle.standardError.write(Data(line))
        } else {
            FileHandle.standardError.write(Data("cmo-plan: \(message)\n".utf8))
        }
    }

    /// An event written by a process that does not run the job (a pause or resume of a queued job).
    public static func appendEvent(dir: RunDirectory, jobID: String, _ name: RunEvent.Name, _ message: String) {
        EventLog(dir.eventsURL).append(RunEvent(time: Timestamp.string(), jobID: jobID, event: name, message: message))
    }

    func save() throws {
        try dir.save(state)
        lastSave = Date()
    }

    // MARK: lock

    /// One process per job: a second `run`/`resume` of the same job exits 75 and touches nothing.
    func lock() throws {
        switch dir.lock() {
        case .held(let lock): runLock = lock
        case .busy: throw StageFailure(.tempFail, "job \(state.jobID) is running in another process; not starting (exit 75)")
        case .unavailable: throw StageFailure(.config, "cannot open the lock \(dir.path("lock").path)")
        }
    }

    // MARK: the loop

    /// Runs until done, a failure, or the approval gate. Returns the exit status.
    public func run() throws -> ExitStatus {
        try lock()
        // Whatever the outcome, the report says where the run stands.
        defer { writeReport() }
        Interruption.shared.install()
        // A step a killed cmo-plan left running: stop its process if it still runs, then run the step again.
        for i in state.steps.indices where state.steps[i].status == .running {
            if let pid = state.steps[i].pid { ProcessLiveness.kill9(pid, started: state.steps[i].pidStarted) }
            event(.stepRestarted, "step \(state.steps[i].n) (\(state.steps[i].stage)) was interrupted; running it again")
            state.steps[i].status = .pending
        }
        state.status = .running
        state.retryAt = nil
        state.waitReason = nil
        state.pauseReason = nil
        state.resumeAt = nil
        state.runnerPID = getpid()
        state.runnerStarted = ProcessLiveness.startTime(getpid())
        try save()
        // On every path (run, a worker's job, the chat's, resume with corrected settings): before any request.
        if let status = try preflight() { return status }
        while true {
            if let status = try checkControl() { return status }
            if let i = state.steps.firstIndex(where: { $0.status != .done }) {
                if needsApproval(state.steps[i]) && state.approval == nil {
                    if let status = try gate() { return status }
                }
                // Every send step, whichever day's and however the job came back to it (Runner+BounceGuard).
                if let status = try bounceGuard(i) { return status }
                if let status = try execute(i) { return status }
                continue
            }
            if try nextSteps() { continue }
            if let status = stop { return status }
            return try finish()
        }
    }

    func needsApproval(_ step: StepRecord) -> Bool {
        StageRegistry.writerNames.contains(step.stage) && !step.call.isDryRun
    }

    // MARK: the approval gate

    func gate() throws -> ExitStatus? {
        if let why = unhealthy() { return try failUnhealthy(why, before: "nothing was written") }
        let effects = gateEffects()
        let text = "before anything is written (nothing irreversible has happened yet):\n" + gateText()
        if options.yes {
            state.approval = .init(at: Timestamp.string(), by: "--yes", sideEffects: effects)
            event(.approved, "approved by --yes: " + effects.map { "\($0.service) \($0.count)" }.joined(separator: ", "))
            try save()
            return nil
        }
        if isatty(0) == 1 && isatty(2) == 1 && !options.worker {
            FileHandle.standardError.write(Data("cmo-plan: \(text)Go ahead? [y/N] ".utf8))
            let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            if answer == "y" || answer == "yes" {
                state.approval = .init(at: Timestamp.string(), by: "the terminal (\(NSUserName()))", sideEffects: effects)
                event(.approved, "approved on the terminal by \(NSUserName())")
                try save()
                return nil
            }
        }
        state.status = .awaitingApproval
        try save()
        event(.awaitingApproval, text + "  nothing was written; to go ahead: cmo-plan approve \(state.jobID)")
        return .ok
    }

    /// The side effects a person approves, with the real counts: the leads rendered, the dead letters.
    func gateEffects() -> [SideEffect] {
        let rendered = lastRendered()
        return state.plan.sideEffects.filter { !$0.dryRun && $0.service != "file" }.map { e -> SideEffect in
            var e = e
            e.count = e.service == "Linear" ? lines(dir.deadLettersURL) : rendered
            return e
        }
    }

    /// What the gate shows: each write with its real count, the schedule the daily cap makes, every
    /// widening that happened (and who agreed to it), a shortfall, and where the copy can be read.
    func gateText() -> String {
        var text = ""
        for e in gateEffects() {
            text += "  \(e.service): \(e.action) \(e.target): \(e.count) \(e.service == "Linear" ? "dead letters" : "leads")\n"
            if e.service == "Instantly", let s = capSchedule(leads: e.count) { text += "    \(s)\n" }
        }
        for w in state.widenings { text += "  widened \(w.step): \(w.reason)\(w.by.map { " (agreed by \($0))" } ?? "")\n" }
        if let short = shortfall(rendered: lastRendered()) { text += "  short: \(short)\n" }
        if let copy = bestRendered() {
            text += "  the rendered leads and their copy: \(dir.path(copy.artifact).path)\n"
            if let page = try? RunReport.write(dir.url) { text += "  the copy as recipients will see it: \(page.path)#samples\n" }
        }
        return text
    }

    /// When the leads go out under the campaign's daily cap, from send-instantly's check: "50 today, then
    /// 50 a day until Dec 16 (daily cap 50; 12 deferred from earlier runs go first)". Nil when unknown.
    func capSchedule(leads: Int) -> String? {
        guard leads > 0, let c = state.checks?.first(where: { $0.stage == StageRegistry.sendInstantly.name }) else { return nil }
        guard let cap = c.dailyCap, cap > 0 else { return "all \(leads) today (no daily cap is set)" }
        let ahead = c.deferred ?? 0
        var left = leads
        var day = 0
        var free = max(0, cap - (c.sentToday ?? 0))
        var today = 0
        var queue = ahead
        while true {
            let mine = max(0, free - queue)
            queue = max(0, queue - free)
            let n = min(left, mine)
            if day == 0 { today = n }
            left -= n
            if left == 0 { break }
            day += 1
            free = cap
        }
        let start = state.plan.now.flatMap(Timestamp.parse).map { Date(timeIntervalSince1970: $0) } ?? Date()
        let fmt = DateFormatter()
        fmt.locale = Locale(identifier: "en_US_POSIX")
        fmt.timeZone = TimeZone(identifier: "UTC")
        fmt.dateFormat = "MMM d"
        let last = fmt.string(from: start.addingTimeInterval(Double(day) * 86_400))
        var text = day == 0 ? "all \(leads) today" : "\(today) today, then up to \(cap) a day until \(last) (the daily cap)"
        var notes: [String] = []
        if let s = c.sentToday, s > 0 { notes.append("\(s) already sent today") }
        if ahead > 0 { notes.append("\(ahead) deferred by earlier runs go first") }
        if !notes.isEmpty { text += "; " + notes.joined(separator: ", ") }
        if day > 0 { text += "; the rest wait in the job, and `cmo-plan worker` sends them on their days" }
        return text
    }

    /// `report.html` and `report.json` in the run directory; a report that cannot be written is a warning.
    func writeReport() {
        do {
            let page = try RunReport.write(dir.url)
            event(.report, "report: \(page.path)")
        } catch {
            event(.warning, "the report could not be written: \(error)")
        }
    }

    /// Records approval for a job waiting at the gate (`cmo-plan approve`).
    public func approve(by who: String) {
        let effects = state.steps.isEmpty ? state.plan.sideEffects : gateEffects()
        state.approval = .init(at: Timestamp.string(), by: who, sideEffects: effects)
        event(.approved, "approved by \(who): " + effects.map { "\($0.service) \($0.count)" }.joined(separator: ", "))
    }

    // MARK: steps

    /// Records a finished step wrote (counted once, when it finished).
    func artifactLines(_ step: StepRecord?) -> Int { step.map { $0.counts["out"] ?? lines(dir.path($0.artifact)) } ?? 0 }
    func lastRendered() -> Int { artifactLines(bestRendered()) }

    /// The pass that rendered the most leads (the latest of equals): a widening that finds fewer than an
    /// earlier pass (a model's narrower topics) never costs the leads found before it.
    func bestRendered() -> StepRecord? {
        var best: (step: StepRecord, lines: Int)?
        for step in state.steps where step.stage == "render-copy" && step.status == .done {
            let n = artifactLines(step)
            if best == nil || n >= best!.lines { best = (step, n) }
        }
        return best?.step
    }

    func lines(_ url: URL) -> Int { RunArtifacts.lineCount(url) }

    /// Appends the next steps once every step so far is done, from the model planner while it plans, else
    /// from the rules. False when finished.
    func nextSteps() throws -> Bool {
        if try appendDueDay() { return true }  // a later day: the deferred leads whose day has come (Runner+Schedule)
        if let planner = options.planner, state.plannerFallback == nil { return try modelStep(planner) }
        return try ruleStep()
    }

    /// The rule planner's next steps from any state, taken from the plan: its first pass, the rest of a pass
    /// the model left unfinished, the pass amended by a widening, or its writers not yet run. False when
    /// finished. Not saved here: the steps are saved when they start (a crash before that takes the same
    /// steps again from the state).
    func ruleStep() throws -> Bool {
        let pass = state.steps.map(\.widenStep).max() ?? 0
        let wroteAlready = state.steps.contains { !StageRegistry.readNames.contains($0.stage) }
        guard let lastSearch = state.steps.lastIndex(where: { $0.stage == StageRegistry.ghSearch.name }) else {
            for s in discoveryPass(widening: nil) { append(s, input: nil, pass: 0) }
            return true
        }
        let since = Set(state.steps[lastSearch...].map(\.stage))
        if !wroteAlready, let missing = StageRegistry.readNames.firstIndex(where: { !since.contains($0) }) {
            for s in discoveryPass(widening: state.widenings.last)[missing...] { append(s, input: nil, pass: pass) }
            return true
        }
        let rendered = lastRendered()
        if !wroteAlready, rendered < state.plan.target {
            switch try decideWidening(pass: pass, rendered: rendered) {
            case .widen(let w):
                state.widenings.append(w)
                event(.widening, "widening \(w.step): \(w.reason)\(w.by.map { " (agreed by \($0))" } ?? "")", widenStep: w.step)
                for s in discoveryPass(widening: w) { append(s, input: nil, pass: w.step) }
                return true
            case .ask(let status):
                stop = status
                return false
            case .goOn: break
            }
        }
        let writers = state.plan.stages.map(\.invocation).filter { s in
            !StageRegistry.readNames.contains(s.stage) && !state.steps.contains { $0.stage == s.stage }
        }
        guard !writers.isEmpty else { return false }
        for s in writers { append(s, input: nil, pass: pass) }
        return true
    }

    /// The plan's discovery pass, amended by a widening when there is one.
    func discoveryPass(widening: Widening?) -> [StageInvocation] {
        let first = StageRegistry.readNames.compactMap { state.plan.planned($0) }
        return widening.map { RulePlanner.widened(first, by: $0) } ?? first
    }

    func initialRepos() -> Int { state.plan.maxRepos }
    func initialPeople() -> Int { state.plan.maxPeople }

    func append(_ invocation: StageInvocation, input: String?, pass: Int) {
        state.steps.append(StepRecord(n: state.steps.count + 1, invocation: invocation, input: input, widenStep: pass))
    }

    /// What a step reads: the step before it in its pass, the rendered leads for the first writer, the
    /// queued leads for Attio, the dead letters for Linear.
    func input(for i: Int) -> URL? {
        let step = state.steps[i]
        switch step.stage {
        case "gh-search": return nil
        case "sync-linear": return dir.deadLettersURL
        case "score-icp": return verifiedSoFar(before: i)
        case "send-instantly": return bestRendered().map { dir.path($0.artifact) }
        case "sync-attio", "export-csv":
            return (state.lastDone("send-instantly") ?? bestRendered()).map { dir.path($0.artifact) }
        default:
            // The last finished step of the stage before it (in a pass of the rule planner, the step before).
            guard let stageBefore = StageRegistry.readStage(before: step.stage),
                let before = state.steps[..<i].last(where: { $0.stage == stageBefore && $0.status == .done })
            else { return nil }
            return dir.path(before.artifact)
        }
    }

    /// The steps from `i` that run as one pipeline: contiguous read stages of one pass, each reading the one
    /// before it (score-icp on its own after a widening, since it reads every pass's verified people).
    func group(from i: Int) -> Range<Int> {
        var j = i + 1
        while j < state.steps.count, state.steps[j].status != .done {
            let (before, step) = (state.steps[j - 1], state.steps[j])
            guard let stageBefore = StageRegistry.readStage(before: step.stage), before.stage == stageBefore,
                before.widenStep == step.widenStep, !(step.stage == "score-icp" && state.steps[..<i].contains { $0.stage == "mx-check" && $0.status == .done })
            else { break }
            j += 1
        }
        return i..<j
    }

    /// Runs the steps of `group(from: i)`, connected by pipes, each one's output kept as its artifact. Each
    /// step is done as soon as its stage exits 0 with its input complete; a failure stops the run with the
    /// failing stage's status, and the steps after it in the pipe (which read a cut input) run again on resume.
    func execute(_ i: Int) throws -> ExitStatus? {
        if state.steps[i].stage == "sync-linear", lines(dir.deadLettersURL) == 0 {
            var step = state.steps[i]
            step.status = .done
            step.exitStatus = 0
            _ = FileManager.default.createFile(atPath: dir.path(step.artifact).path, contents: Data())
            state.steps[i] = step
            noteResult(step)
            event(.stepSkipped, "step \(step.n) sync-linear: no dead letters in this run, nothing to file")
            try save()
            return nil
        }
        let steps = group(from: i)
        var tokenLock: FileLock?
        if steps.contains(where: { state.steps[$0].stage.hasPrefix("gh-") }) {
            switch try takeGitHubToken() {
            case .free: break
            case .held(let lock): tokenLock = lock
            case .stop(let status): return status
            }
        }
        defer { tokenLock?.release() }
        var env = ProcessInfo.processInfo.environment
        env["CMO_JOB_ID"] = state.jobID
        var specs: [StageSpec] = []
        let input = input(for: i)
        for k in steps {
            let step = state.steps[k]
            // argv only now, at spawn; the export's path is the run directory's.
            let args = step.call.arguments.map { $0.hasPrefix("exports/") ? dir.path($0).path : $0 }
            let deadLetter = step.stage == "sync-linear" ? dir.path("logs/\(String(format: "%02d", step.n))-sync-linear.dead-letters.ndjson") : dir.deadLettersURL
            let command = try stageCommand(step.stage, args, deadLetter: deadLetter.path, overrides: options.stageOverrides)
            specs.append(StageSpec(executable: command.executable, arguments: command.arguments, environment: env,
                                   stdin: k == i ? input?.path : nil, artifact: dir.path(step.artifact).path + ".partial",
                                   log: dir.path(step.log).path))
            let from = k == i ? input.map { " < \($0.lastPathComponent)" } ?? "" : " | piped from step \(k)"
            event(.stepStarted, "step \(step.n) \(step.stage)\(from)", step: step.n, stage: step.stage)
        }
        let started = Date()
        let pipeline = try PipelineRun(specs)
        let pids: [Int32]
        do { pids = try pipeline.start() } catch {
            throw Self.startFailure(steps.map { state.steps[$0].stage }.joined(separator: " | "), error)
        }
        Interruption.shared.running(pids)
        defer { Interruption.shared.running([]) }
        for (k, pid) in zip(steps, pids) {
            state.steps[k].pid = pid
            state.steps[k].pidStarted = ProcessLiveness.startTime(pid)
            state.steps[k].status = .running
            state.steps[k].startedAt = Timestamp.string(started)
        }
        try save()
        var failure: (step: StepRecord, status: Int32)?
        var interrupted = false
        for (index, k) in steps.enumerated() {
            let status = pipeline.wait(stage: index)
            var step = state.steps[k]
            step.pid = nil
            step.pidStarted = nil
            let partial = dir.path(step.artifact).path + ".partial"
            if failure != nil || interrupted || (status != 0 && Interruption.shared.isSignalled) {
                // Stopped by a pause or a cancel (or it read the output of a stage that was): runs again on resume.
                interrupted = interrupted || failure == nil
                step.status = .pending
                step.startedAt = nil
                state.steps[k] = step
                unlink(partial)
                continue
            }
            step.exitStatus = status
            step.finishedAt = Timestamp.string()
            step.seconds = (Date().timeIntervalSince(started) * 1000).rounded() / 1000
            let summary = StageSummary.read(log: dir.path(step.log), stage: step.stage)
            step.counts = summary?.counts ?? [:]
            step.summaryMissing = summary == nil ? true : nil
            for line in Self.warnings(log: dir.path(step.log), stage: step.stage) { event(.warning, line, step: step.n) }
            if status != 0 {
                step.status = .failed
                state.steps[k] = step
                noteResult(step)
                failure = (step, status)
                continue
            }
            _ = rename(partial, dir.path(step.artifact).path)
            // The artifact's lines, but export-csv's: its rows go to its -o file, and its summary counts them.
            step.counts["out"] = (step.stage == StageRegistry.exportCSV.name ? summary?.output : nil) ?? lines(dir.path(step.artifact))
            // A stage that printed no summary (a fake: `--stage NAME=CMD`): what it read is what the step
            // before it wrote; what it filtered, dead-lettered or asked of a service is not known.
            if summary == nil, let input = index == 0 ? input : dir.path(state.steps[k - 1].artifact) as URL? {
                step.counts["in"] = lines(input)
            }
            step.status = .done
            state.steps[k] = step
            noteResult(step)
            // Saved at once unless the state was saved in the last 50 ms and the pipe has more steps (trivial
            // stages that end together: one save after the last); a step done but not yet saved is only run
            // again on resume, which the artifacts and the ledger make harmless.
            if index == steps.count - 1 || Date().timeIntervalSince(lastSave) > 0.05 { try save() }
            let c = step.counts
            event(.stepDone, "step \(step.n) \(step.stage): \(c["in"].map { "\($0) in, " } ?? "")\(c["out"] ?? 0) out"
                  + "\(c["filtered"].map { ", \($0) filtered" } ?? "")\(c["dead"].map { ", \($0) dead-lettered" } ?? ""), \(String(format: "%.1f", step.seconds ?? 0)) s"
                  + (summary == nil ? " (it printed no summary: what it filtered, dead-lettered and asked of services is not known)" : ""),
                  step: step.n, stage: step.stage, counts: c)
            if let stop = try triageIfSpiking(k, status: .ok) { return stop }
        }
        if interrupted { return try stopRequested() }
        guard let (step, status) = failure else { return nil }
        if ExitStatus(rawValue: status) == .tempFail { return try waitForReset(step) }
        if ExitStatus(rawValue: status) == .unavailable, let k = state.steps.firstIndex(where: { $0.n == step.n }), let stop = try triageIfSpiking(k, status: .unavailable) { return stop }
        state.status = .failed
        state.errors.append("\(step.stage) exited \(status)")
        try save()
        let tail = StageLogLine.lines(log: dir.path(step.log)).map(\.text).suffix(15)
        event(.failed, "step \(step.n) \(step.stage) exited \(status) (\(Self.why(status))); its log:\n" + tail.map { "  " + $0 }.joined(separator: "\n")
              + "\ncmo-plan: everything so far is in \(dir.url.path); `cmo-plan resume \(state.jobID)` continues from this step", step: step.n)
        return ExitStatus(rawValue: status) ?? .failure
    }

    /// A stage's command with what cmo-plan adds to every stage: the campaign config and the dead-letter file.
    func stageCommand(_ stage: String, _ arguments: [String], deadLetter: String, overrides: [String: String]) throws -> StageLocator.Command {
        // JSON logs: the runner, the report and the chat read the stage's summary as the contract's JSON.
        var args = ["--dead-letter", deadLetter, "--log-format", "json"]
        if let c = runOptions.config { args += ["--config", c] }
        return try StageLocator.command(for: stage, overrides: overrides, arguments: args + arguments)
    }

    /// score-icp reads every person verified so far, by every pass (the latest record of a login wins), so
    /// a widening only ever adds candidates: one that finds fewer (a model's narrower topics) loses none.
    func verifiedSoFar(before i: Int) -> URL? {
        let passes = state.steps[..<i].filter { $0.stage == "mx-check" && $0.status == .done }
        guard passes.count > 1 else { return passes.first.map { dir.path($0.artifact) } }
        var order: [String] = []
        var latest: [String: Data] = [:]
        var unnamed: [Data] = []
        for step in passes {
            RunArtifacts.forEachRecord(in: dir.path(step.artifact)) { r in
                let line = Data(r.bytes)
                guard let login = r["login"]?.stringValue else {
                    unnamed.append(line)
                    return
                }
                if latest[login] == nil { order.append(login) }
                latest[login] = line
            }
        }
        var out = Data()
        for login in order { out += latest[login]! + Data([10]) }
        for line in unnamed { out += line + Data([10]) }
        let url = dir.path(String(format: "logs/%02d-score-icp.input.ndjson", state.steps[i].n))
        try? RunDirectory.replace(url, with: out)
        return url
    }

    /// The model's call that became this step gets the step's result, for the next turn.
    func noteResult(_ step: StepRecord) {
        guard let t = state.turns.lastIndex(where: { $0.step == step.n }) else { return }
        state.turns[t].result = toolResult(step)
    }

    static func why(_ s: Int32) -> String {
        if s == 128 + SIGKILL { return "killed" }
        switch ExitStatus(rawValue: s) {
        case .tempFail: return "rate-limited or asked to wait too long: resume later; finished work is reused"
        case .noPermission: return "credentials rejected"
        case .config: return "bad configuration"
        case .unavailable: return "a service could not be reached"
        case .ioError: return "a file could not be written (disk full or an I/O error): free space, then resume"
        case .usage: return "bad flags"
        case .dataError: return "bad input"
        default: return "failed"
        }
    }

    /// The stage's first warnings, as text lines.
    static func warnings(log: URL, stage: String) -> [String] {
        StageLogLine.lines(log: log).compactMap { $0.line }.filter { $0.level == "warning" && $0.stage == stage }.prefix(5).map(\.text)
    }

    // MARK: the end

    func finish() throws -> ExitStatus {
        let rendered = lastRendered()
        var funnel: [(String, Int)] = []
        for s in StageRegistry.readNames { funnel.append((s, artifactLines(state.lastDone(s)))) }
        var lines = ["funnel: " + funnel.map { "\($0.0) \($0.1)" }.joined(separator: " → ")]
        for writer in StageRegistry.writers {
            guard let target = state.job.target(of: writer), let step = state.lastDone(writer.name) else { continue }
            let s = RunArtifacts.tally(dir.path(step.artifact), stage: writer).statuses
            let parts = s.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
            lines.append("\(writer.name) → \(target): " + (parts.isEmpty ? "nothing" : parts.joined(separator: ", ")))
        }
        if let e = state.lastDone("export-csv") { lines.append("CSV: \(dir.path("exports/leads.csv").path) (\(e.counts["in"] ?? rendered) leads)") }
        lines.append("dead letters: \(self.lines(dir.deadLettersURL)) in \(dir.deadLettersURL.path)")
        for w in state.widenings { lines.append("widened \(w.step): \(w.reason)\(w.by.map { " (agreed by \($0))" } ?? "")") }
        if let short = shortfall(rendered: rendered) {
            lines.append("short: " + short)
            event(.shortfall, "short: " + short)
        }
        state.summary = lines.joined(separator: "\n")
        if let why = unhealthy() {
            event(.summary, state.summary!)
            return try failUnhealthy(why, before: "nothing useful came out of this run")
        }
        if let out = try publishCSV() {
            lines.insert("CSV copied to \(out)", at: lines.firstIndex { $0.hasPrefix("dead letters:") } ?? lines.count)
            state.summary = lines.joined(separator: "\n")
        }
        if let waiting = try waitForDeferredLeads(&lines) { return waiting }  // leads deferred to later days (Runner+Schedule)
        state.status = .done
        try save()
        updateYields()
        event(.done, "done: " + lines.joined(separator: "\ncmo-plan: "))
        return .ok
    }

    /// Leads per repository and per person of this run, for the next plan's caps.
    func updateYields() {
        let repos = artifactLines(state.lastDone("gh-search")), people = artifactLines(state.lastDone("gh-people"))
        let rendered = lastRendered()
        guard repos > 0, people > 0, rendered > 0 else { return }
        let dir = URL(fileURLWithPath: StateDirectory.path())
        let http = state.steps.filter { $0.status == .done && ["gh-search", "gh-people", "gh-enrich"].contains($0.stage) }
            .reduce(0) { $0 + ($1.counts["http"] ?? 0) }
        let y = Plan.Yields(leadsPerRepo: Double(rendered) / Double(repos), leadsPerPerson: Double(rendered) / Double(people),
                            githubRequestsPerLead: Double(http) / Double(rendered), source: "measured on job \(state.jobID)")
        if let data = try? JSONEncoder().encode(y) {
            try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try? RunDirectory.replace(dir.appendingPathComponent("yields.json"), with: data)
        }
    }
}

/// Where a stage's executable is: an override (`--stage NAME=CMD`), next to cmo-plan, then PATH.
public enum StageLocator {
    public struct Command { public var executable: String; public var arguments: [String] }

    public static func command(for stage: String, overrides: [String: String], arguments: [String]) throws -> Command {
        if let cmd = overrides[stage] {
            // A command with shell syntax runs through sh, the stage's arguments in "$@"; a plain one is spawned directly.
            if cmd.rangeOfCharacter(from: CharacterSet(charactersIn: "$|&;<>()`\"'*?[]{}~\\")) != nil {
                return Command(executable: "/bin/sh", arguments: ["-c", cmd, stage] + arguments)
            }
            let words = cmd.split(separator: " ").map(String.init)
            guard let first = words.first else { throw StageFailure(.usage, "--stage \(stage)= needs a command") }
            return Command(executable: try resolve(first, stage: stage), arguments: Array(words.dropFirst()))
        }
        return Command(executable: try resolve(stage, stage: stage), arguments: arguments)
    }

    static func resolve(_ name: String, stage: String) throws -> String {
        if name.contains("/") { return name }
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let next = URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: next) { return next }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        // An installation or configuration problem, not a service that is down: 78 (issue 27).
        throw StageFailure(.config, "'\(name)' (the \(stage) stage) is not next to cmo-plan nor on PATH (run bin/setup, or --stage \(stage)=CMD)")
    }
}
