import CMOContract
import ArgumentParser
import CMOAgent
import CMOBasics
import CMOStorage
import CMOStageKit
import CMOServices
import CMOScoring
import Foundation

@main
struct CMOPlan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cmo-plan",
        abstract: "Turn a goal in plain words into a plan, then a run of the cmo stages that can be killed and resumed.",
        discussion: """
            cmo-plan parse "Find ~2k Python maintainers active in the last 90 days, queue them in Instantly campaign C, \
            add them to Attio list L, export a CSV" prints the job; plan prints the stages, caps, expected requests and \
            side effects; run runs it: discovery (gh-search → gh-people → gh-enrich → mx-check → score-icp → render-copy, \
            widened past the goal only with consent (--widen, or the person's answer), else finishing short and saying \
            by how much), then one approval, then send-instantly → \
            sync-attio → sync-linear (the run's dead letters) → export-csv. Each stage's output is kept in \
            runs/<job_id>/artifacts, the state in runs/<job_id>/state.json after every step; resume continues a run \
            that was killed without redoing finished steps (the writers' ledger makes every write happen once).

            EXIT STATUS
              0 done (a shortfall is said), stopped at the approval gate or a widening question (status \
            awaiting_approval), or the day's part done with leads deferred by the daily cap (status waiting: the worker \
            sends them on their days); 64 bad flags, or a goal it cannot read (the words it could not place are said); 65 no lead rendered; 74 a run file cannot be written (disk full); 75 the job is running in another process, or a stage \
            was rate-limited (resume later); 78 bad config or job file, or a setting a stage refuses before the first \
            request (a missing key, an unknown campaign, a template variable that names nothing); otherwise the failing \
            stage's status.
            """,
        version: CMOVersion.string,
        subcommands: [Parse.self, PlanCommand.self, Run.self, Submit.self, Worker.self, List.self, Status.self, Logs.self, Pause.self,
                      Resume.self, Cancel.self, Approve.self, Widen.self, Chat.self, Report.self, RebuildLedger.self, AcceptState.self]
    )

    /// A goal of more words than cmo reads is refused (exit 64) before ArgumentParser sees it: its parse of
    /// a repeated positional argument is quadratic in the number of values (20,000 words took 15 s), so
    /// argv over `GoalParser.maxWords` words (plus room for flags) never reaches it. `resolve` counts
    /// a goal's words exactly; this is the bound on argv.
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.count > GoalParser.maxWords + 64 {
            let words = arguments.dropFirst().filter { !$0.hasPrefix("-") }.reduce(0) { $0 + GoalParser.wordCount($1) }
            do {
                try CommandBase.run("cmo-plan") {
                    throw StageFailure(.usage, GoalParser.lengthProblem(words: max(words, GoalParser.maxWords + 1)) ?? "")
                }
            } catch { Self.exit(withError: error) }
        }
        Self.main(nil)
    }
}

struct GoalOptions: ParsableArguments {
    @Argument(help: "The goal, in plain words.") var goal: [String] = []
    @Option(help: ArgumentHelp("A job file (YAML: target, languages, topics, active_days, min_stars, instantly_campaign, attio_list, linear_team, export, dry_run).", valueName: "file"))
    var job: String?
    @Flag(help: "Run every writer in dry-run mode (no write leaves the machine).") var dryRun = false

    @Option(help: ArgumentHelp("Who reads the goal: 'rule' (the embedded default) or 'model' (an OpenAI-compatible model at OPENAI_BASE_URL, checked strictly; the rule parser takes over if it fails). Default CMO_PARSER, else rule.", valueName: "parser"))
    var parser: String?
    @Option(help: ArgumentHelp("The model of --parser model (default CMO_PARSER_MODEL).", valueName: "name"))
    var parserModel: String?

    /// The goal (nil for a job file), the job, the words not understood (harmless ones: a goal with others
    /// is refused), who read it, why the rule parser took over from the model, if it did, and what the reader
    /// assumed (said on stderr).
    struct Resolved {
        var goal: String?
        var job: Job
        var unknown: [String]
        var parser = "rule"
        var fallback: String?
        var notes: [String] = []

        /// Why the rule parser took over, the words left out, and what was assumed, on stderr.
        func say() {
            var lines: [String] = []
            if let f = fallback { lines.append(f) }
            if !unknown.isEmpty { lines.append("not understood, left out: \(unknown.joined(separator: " "))") }
            for l in lines + notes { FileHandle.standardError.write(Data("cmo-plan: \(l)\n".utf8)) }
        }
    }

    /// The job the goal or job file asks for. A goal that cannot be read whole is refused (exit 64) with the
    /// words that could not be placed; `now` is what "this quarter" counts back from.
    func resolve(config: String?, now: Date = Date()) throws -> Resolved {
        if let path = job {
            guard goal.isEmpty else { throw StageFailure(.usage, "give a goal or --job FILE, not both") }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw StageFailure(.config, "cannot read the job file '\(path)'") }
            do {
                var j = try Job.load(yaml: text)
                if dryRun { j.dryRun = true }
                return Resolved(goal: nil, job: j, unknown: [], parser: "job file")
            } catch { throw StageFailure(.config, "\(path): \(error)") }
        }
        let text = goal.joined(separator: " ").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw StageFailure(.usage, "no goal: give one in plain words, or --job FILE") }
        if let why = GoalParser.lengthProblem(words: GoalParser.wordCount(text)) { throw StageFailure(.usage, why) }
        var r: Resolved
        let parsed: GoalParse
        if let model = try model() {
            let m = try ModelGoalParser.make(model: model, config: config).parse(text, now: now)
            parsed = m.parse
            r = Resolved(goal: text, job: parsed.job, unknown: parsed.unknown, parser: m.parser, fallback: m.fallback)
        } else {
            parsed = GoalParser.parse(text, now: now)
            r = Resolved(goal: text, job: parsed.job, unknown: parsed.unknown)
        }
        if let why = parsed.refusal {
            if let f = r.fallback { FileHandle.standardError.write(Data("cmo-plan: \(f)\n".utf8)) }
            throw StageFailure(.usage, "cannot read the goal: \(why); say it another way or use --job FILE")
        }
        r.notes = parsed.notes
        if dryRun { r.job.dryRun = true }
        return r
    }

    /// The model that reads the goal, or nil for the rule parser.
    func model() throws -> String? { try chosenModel("parser", kind: parser, model: parserModel) }
}

/// A non-empty environment variable.
func environment(_ name: String) -> String? { ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 } }

/// `--<role> rule|model` (else `CMO_<ROLE>`, else rule) and its `--<role>-model` (else `CMO_<ROLE>_MODEL`):
/// the model, or nil for the rules.
func chosenModel(_ role: String, kind: String?, model: String?) throws -> String? {
    let variable = "CMO_" + role.uppercased()
    switch kind ?? environment(variable) ?? "rule" {
    case "rule": return nil
    case "model":
        guard let m = model ?? environment(variable + "_MODEL") else {
            throw StageFailure(.config, "--\(role) model needs a model: --\(role)-model NAME or \(variable)_MODEL")
        }
        return m
    case let other: throw StageFailure(.usage, "--\(role) is 'rule' or 'model', not '\(other)'")
    }
}

struct RunFlags: ParsableArguments {
    @Option(help: ArgumentHelp("The campaign's settings (sender, unsubscribe URL, templates, ICP), passed to every stage (default CMO_CONFIG).", valueName: "file"))
    var config: String?
    @Option(help: ArgumentHelp("Where run directories go (default CMO_RUNS_DIR, else runs/).", valueName: "dir"))
    var runsDir: String?
    @Option(help: ArgumentHelp("The time the activity windows count back from (ISO 8601; default now).", valueName: "time"))
    var now: String?

    @Option(help: ArgumentHelp("Who plans the steps: 'rule' (the embedded default) or 'model' (an OpenAI-compatible model with tool calling at OPENAI_BASE_URL; the rule planner takes over if it misbehaves). Default CMO_PLANNER, else rule.", valueName: "planner"))
    var planner: String?
    @Option(help: ArgumentHelp("The model of --planner model (default CMO_PLANNER_MODEL).", valueName: "name"))
    var plannerModel: String?

    /// The model that plans, or nil for the rule planner.
    func model() throws -> String? { try chosenModel("planner", kind: planner, model: plannerModel) }

    var runs: URL {
        URL(fileURLWithPath: runsDir ?? environment("CMO_RUNS_DIR") ?? "runs")
    }
    /// The time a goal's "this quarter" or "since March" counts from: `--now`, else the clock.
    var clock: Date { now.flatMap(Timestamp.parse).map { Date(timeIntervalSince1970: $0) } ?? Date() }
    var configPath: String? {
        guard let c = config ?? environment("CMO_CONFIG") else { return nil }
        return URL(fileURLWithPath: c).standardizedFileURL.path
    }
}

struct ExecFlags: ParsableArguments {
    @Flag(help: "Approve the side effects without asking (cron).") var yes = false
    @Flag(help: "Let the job widen past the goal (an older window, a lower star floor, any topic) when fewer leads pass than the target; without it a person is asked (at the terminal, or by the gate: `cmo-plan widen`), and under --yes the job finishes short and says by how much.")
    var widen = false
    @Flag(name: .shortAndLong, help: "Print nothing but warnings and failures.") var quiet = false
    @Option(help: ArgumentHelp("Events on stderr as 'text' or 'json'.", valueName: "format")) var logFormat: String?
    @Option(help: ArgumentHelp("Stop with 65 before anything is written when a stage dead-lettered more than this percentage of what it read (default: the job's, else 20).", valueName: "percent"))
    var maxDeadShare: Double?
    @Option(name: .customLong("stage"), help: ArgumentHelp("Replace a stage by a command: NAME=CMD (repeatable). A command with shell syntax runs through sh with the stage's arguments in \"$@\".", valueName: "name=cmd"))
    var stages: [String] = []

    func validate() throws {
        if let m = maxDeadShare, !(0...100).contains(m) { throw ValidationError("--max-dead-share is a percentage from 0 to 100, not \(m)") }
    }

    func runnerOptions(config: String?, state: RunState) throws -> Runner.Options {
        var o = Runner.Options()
        if let model = state.plan.model, state.plannerFallback == nil {
            o.planner = try ModelPlanner.make(model: model, job: state.job, config: config)
        }
        o.yes = yes
        o.quiet = quiet
        o.maxDeadShare = maxDeadShare
        o.jsonLog = (logFormat ?? ProcessInfo.processInfo.environment["CMO_LOG_FORMAT"]) == "json"
        o.config = config
        o.worker = environment("CMO_WORKER_PID") != nil
        for s in stages {
            guard let eq = s.firstIndex(of: "="), eq != s.startIndex else { throw StageFailure(.usage, "--stage needs NAME=CMD, not '\(s)'") }
            let name = String(s[..<eq])
            guard StageRegistry.readNames.contains(name) || StageRegistry.writerNames.contains(name) || name == "export-csv" else {
                throw StageFailure(.usage, "--stage: no stage named '\(name)'")
            }
            o.stageOverrides[name] = String(s[s.index(after: eq)...])
        }
        return o
    }
}

/// Settings a person corrects when resuming a job: the config, the campaign, list or team of a writer
/// that has not run yet (checked again before anything is searched or written).
struct Corrections: ParsableArguments {
    @Option(help: ArgumentHelp("Write to this Instantly campaign instead (id or name), if send-instantly has not run yet.", valueName: "id"))
    var campaign: String?
    @Option(help: ArgumentHelp("Write to this Attio list instead, if sync-attio has not run yet.", valueName: "id")) var list: String?
    @Option(help: ArgumentHelp("File in this Linear team instead, if sync-linear has not run yet.", valueName: "id")) var team: String?

    /// Applies the corrections (and a new --config, and --widen) to the state; true when something changed.
    static func apply(_ corrections: Corrections?, to state: inout RunState, config: String?, widen: Bool) throws -> Bool {
        let (campaign, list, team) = (corrections?.campaign, corrections?.list, corrections?.team)
        var changed = false
        if let c = config, c != state.config {
            guard FileManager.default.isReadableFile(atPath: c) else { throw StageFailure(.config, "cannot read the config '\(c)'") }
            state.config = c
            changed = true
        }
        if widen && state.job.widen != true {
            state.job.widen = true
            changed = true
        }
        for (stage, option, value) in [(StageRegistry.sendInstantly.name, "campaign", campaign), (StageRegistry.syncAttio.name, "list", list),
                                       (StageRegistry.syncLinear.name, "team", team)] {
            guard let value else { continue }
            guard !value.hasPrefix("-"), !value.isEmpty, value.count <= 200, !value.contains(where: { $0.isNewline || $0.asciiValue.map { $0 < 32 } == true }) else {
                throw StageFailure(.usage, "--\(option) '\(value)' is not an id or a name")
            }
            guard state.plan.stages.contains(where: { $0.stage == stage }) else { throw StageFailure(.usage, "job \(state.jobID) has no \(stage) step to correct") }
            guard state.lastDone(stage) == nil else { throw StageFailure(.usage, "\(stage) has already run for job \(state.jobID): its \(option) cannot change now") }
            state.retarget(stage, to: value)
            changed = true
        }
        if changed && state.status == .failed { state.status = .paused }
        return changed
    }
}

func makePlan(_ job: Job, flags: RunFlags, jobID: String, dryRun: Bool) throws -> Plan {
    var plan = RulePlanner.plan(job, options: RunOptions(config: flags.configPath, now: flags.now, jobID: jobID, dryRun: dryRun),
                                yields: RulePlanner.yields(stateDirectory: URL(fileURLWithPath: StateDirectory.path())))
    if let model = try flags.model() {
        plan.planner = "model"
        plan.model = model
    }
    return plan
}

/// The plan on stdout, written at once (not buffered), so that it comes before the run's events.
func printPlan(_ plan: Plan, job: Job, end: String = "") throws {
    var out = "plan (\(plan.planner) planner\(plan.model.map { ": \($0)" } ?? "")): \(plan.target) leads, activity in the last \(plan.activeDays) days"
    if let s = plan.minStars { out += ", \(s)+ stars" }
    if plan.model != nil {
        out += "\n\nthe model chooses each step among the job's stages (as tools) and the runner checks every call against"
        out += "\nthe job and the caps; below, the rule planner's stages, which take over if the model misbehaves"
    }
    out += "\n\nstages\n"
    for (i, s) in plan.stages.enumerated() {
        out += "  \(i + 1). \(s.stage) \(s.arguments.joined(separator: " "))\(s.irreversible ? "   [writes: after the one approval]" : "")\n"
    }
    out += "\ncaps: \(plan.caps.maxSteps) steps, \(plan.caps.maxRepos) repositories, \(plan.caps.maxPeople) people, \(plan.caps.maxWidenings) widenings, \(plan.caps.perTool["gh-search"] ?? 1) runs of each discovery stage, 1 of each writer"
    out += "\n  (from \(String(format: "%.2f", plan.yields.leadsPerRepo)) leads per repository and \(String(format: "%.2f", plan.yields.leadsPerPerson)) per person: \(plan.yields.source))\n"
    out += "\nexpected API requests\n"
    for e in plan.expected { out += "  \(e.service): ~\(e.requests) (quota: \(e.quota))\n" }
    out += "\nside effects\n"
    if plan.sideEffects.isEmpty { out += "  none\n" }
    for e in plan.sideEffects { out += "  \(e.text)\n" }
    try StandardOutput.write(out + end)
}

/// A new job's run directory and first state (planned), from a goal or a job file: what `run`, `submit` and
/// the chat start from.
func createJob(goal: GoalOptions, flags: RunFlags, exec: ExecFlags, id: String, output: String?) throws -> (RunDirectory, RunState, GoalOptions.Resolved) {
    let r = try goal.resolve(config: flags.configPath, now: flags.clock)
    return try createJob(r, dryRun: goal.dryRun, flags: flags, exec: exec, id: id, output: output)
}

func createJob(_ r: GoalOptions.Resolved, dryRun: Bool, flags: RunFlags, exec: ExecFlags, id: String, output: String?) throws -> (RunDirectory, RunState, GoalOptions.Resolved) {
    guard id.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"#, options: .regularExpression) != nil else {
        throw StageFailure(.usage, "--job-id may hold letters, digits, '.', '_' and '-' only")
    }
    let dir = RunDirectory(runs: flags.runs, jobID: id)
    if dir.exists { throw StageFailure(.usage, "job \(id) exists in \(dir.url.path): `cmo-plan resume \(id)` continues it") }
    if let c = flags.configPath, !FileManager.default.isReadableFile(atPath: c) { throw StageFailure(.config, "cannot read the config '\(c)'") }
    _ = try TriagePolicy.load(config: flags.configPath)
    try dir.create()
    var job = r.job
    if output != nil { job.export = true }  // -o FILE asks for the CSV
    if exec.widen { job.widen = true }
    let plan = try makePlan(job, flags: flags, jobID: id, dryRun: dryRun)
    let now = Timestamp.string()
    var state = RunState(jobID: id, goal: r.goal, job: job, plan: plan, createdAt: now, updatedAt: now)
    state.parser = r.parser
    state.parserFallback = r.fallback
    if let o = output {
        var isDir: ObjCBool = false
        guard !o.hasSuffix("/"), !(FileManager.default.fileExists(atPath: o, isDirectory: &isDir) && isDir.boolValue) else {
            throw StageFailure(.usage, "--output is a file name, not the directory '\(o)'")
        }
        state.output = URL(fileURLWithPath: o).standardizedFileURL.path
    }
    state.maxDeadShare = exec.maxDeadShare
    state.status = .planned
    state.config = flags.configPath
    try dir.save(state)
    RunRecovery.recordJob(dir, state)  // what a lost state.json is rebuilt from (StateRecovery.swift)
    return (dir, state, r)
}

/// One run of a name at a time (cron): the name's lock in the state directory, held until this process ends.
func lockName(_ name: String) throws -> FileLock {
    guard name.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"#, options: .regularExpression) != nil else {
        throw StageFailure(.usage, "--name may hold letters, digits, '.', '_' and '-' only")
    }
    let dir = try StateDirectory.ensure() + "/locks"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    switch FileLock.tryLock(dir + "/name-\(name).lock") {
    case .held(let lock): return lock
    case .busy: throw StageFailure(.tempFail, "a run of \(name) is still running; not starting (exit 75)")
    case .unavailable: throw StageFailure(.config, "cannot open the lock of \(name) in \(dir)")
    }
}

func encode<T: Encodable>(_ value: T) throws -> String {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    return String(decoding: try e.encode(value), as: UTF8.self)
}

extension CMOPlan {
    struct Parse: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the job a goal asks for, as one JSON object.")
        @OptionGroup var goal: GoalOptions
        func run() throws {
            try CommandBase.run("cmo-plan") {
                let r = try goal.resolve(config: environment("CMO_CONFIG"))
                print(r.job.json())
                r.say()
                return .ok
            }
        }
    }

    struct PlanCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "plan", abstract: "Print the plan: stages, caps, expected API requests, side effects.")
        @OptionGroup var goal: GoalOptions
        @OptionGroup var flags: RunFlags
        @Flag(help: "Print the plan as JSON.") var json = false
        func run() throws {
            try CommandBase.run("cmo-plan") {
                let r = try goal.resolve(config: flags.configPath, now: flags.clock)
                let plan = try makePlan(r.job, flags: flags, jobID: "<job_id>", dryRun: goal.dryRun)
                if json { print(try encode(plan)) } else { try printPlan(plan, job: r.job) }
                r.say()
                return .ok
            }
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Plan and run a goal (or --job FILE) end to end.")
        @OptionGroup var goal: GoalOptions
        @OptionGroup var flags: RunFlags
        @OptionGroup var exec: ExecFlags
        @Option(help: ArgumentHelp("Name the job (default: a generated id, printed first on stderr).", valueName: "id"))
        var jobID: String?
        @Option(name: .shortAndLong, help: ArgumentHelp("Also put the CSV here, replacing the file only when the run is healthy (a failed run leaves the last good one).", valueName: "file"))
        var output: String?

        @Option(help: ArgumentHelp("A name for a job that runs again and again (cron): one run of a name at a time (a second exits 75 and touches nothing); each run's id is NAME-<time> unless --job-id.", valueName: "name"))
        var name: String?

        func run() throws {
            try CommandBase.run("cmo-plan") {
                // Held until this run ends (the kernel drops it if the process dies).
                let nameLock = try name.map(lockName)
                defer { nameLock?.release() }
                let id = jobID ?? name.map { "\($0)-\(Self.stamp())" } ?? Self.newID()
                let (dir, state, r) = try createJob(goal: goal, flags: flags, exec: exec, id: id, output: output)
                // The first line on stderr, unless -q and the caller named the job (cron: silent on success).
                if !(exec.quiet && (jobID != nil || name != nil)) { FileHandle.standardError.write(Data("cmo-plan: job \(id)\n".utf8)) }
                r.say()
                let runner = Runner(dir: dir, state: state, options: try exec.runnerOptions(config: flags.configPath, state: state))
                if !exec.quiet {
                    try printPlan(state.plan, job: state.job, end: "\n")
                }
                runner.event(.planned, "planned \(state.plan.stages.count) stages\(state.plan.model.map { " (the model \($0) chooses them)" } ?? ""); run directory \(dir.url.path)")
                return try runner.run()
            }
        }

        static func stamp() -> String { Timestamp.compact() }

        static func newID() -> String { "job-\(stamp())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))" }
    }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Continue a job after a crash, a kill, a failure or a 75, without redoing finished steps.")
        @Argument(help: "The job id.") var jobID: String
        @OptionGroup var flags: RunFlags
        @OptionGroup var exec: ExecFlags
        @OptionGroup var corrections: Corrections
        @Flag(help: "Go on past the bounce guard knowingly: the bounces stored now are acknowledged (recorded in the job), and the guard trips again only on newer ones.")
        var acceptBounces = false
        func run() throws {
            try CommandBase.run("cmo-plan") {
                try Self.continueJob(jobID, flags: flags, exec: exec, approveBy: nil, corrections: corrections,
                                     acceptBouncesBy: acceptBounces ? "cmo-plan resume --accept-bounces (\(NSUserName()))" : nil)
            }
        }

        static func continueJob(_ id: String, flags: RunFlags, exec: ExecFlags, approveBy: String?, widenBy: String? = nil,
                                corrections: Corrections? = nil, acceptBouncesBy: String? = nil) throws -> ExitStatus {
            let inWorker = environment("CMO_WORKER_PID").flatMap { Int32($0) }
            if let parent = inWorker, !dieWithParent(parent) { throw StageFailure(.tempFail, "the worker that started this job is gone") }
            let (dir, queued) = inWorker != nil ? (RunDirectory(runs: flags.runs, jobID: id), nil) : try locate(id, flags: flags)
            try RunRecovery.restoreIfMissing(dir, id: id, flags: flags)  // state.json gone: rebuilt from the run directory
            guard dir.exists else { throw StageFailure(.usage, "no job \(id) in \(flags.runs.path)") }
            var state = try dir.load()
            // Settings corrected by the person (a worker resumes with the ones it queued: the state's win).
            if inWorker == nil, corrections != nil || flags.configPath != nil || exec.widen {
                let lock = try CMOPlan.settledLock(dir, id)
                defer { lock.release() }
                state = try dir.load()
                if try Corrections.apply(corrections, to: &state, config: flags.configPath, widen: exec.widen) { try dir.save(state) }
            }
            // A person going on past the bounce guard: recorded in the job before it runs again.
            if inWorker == nil, let who = acceptBouncesBy {
                let lock = try CMOPlan.settledLock(dir, id)
                defer { lock.release() }
                state = try dir.load()
                try Runner.acknowledgeBounces(dir: dir, state: &state, by: who)
                try dir.save(state)
            }
            if state.status == .done && approveBy == nil {
                FileHandle.standardError.write(Data("cmo-plan: job \(id) is done\n\(state.summary ?? "")\n".utf8))
                return .ok
            }
            if inWorker == nil { JobControl.clear(dir) }  // a person said go on
            if let q = queued, q.status != .running
                || ((q.workerHost ?? JobQueues.host) == JobQueues.host && !ProcessLiveness.isRunning(q.workerPID ?? 0, started: q.workerStarted))
            {
                // A queued job goes back to its worker, with the approval if this is one.
                let lock = try CMOPlan.settledLock(dir, id)
                defer { lock.release() }
                if approveBy != nil || widenBy != nil {
                    let r = Runner(dir: dir, state: state, options: .init())
                    if let who = approveBy { r.approve(by: who) }
                    if let who = widenBy { r.consentToWiden(by: who) }
                    state = r.currentState
                }
                if state.status == .paused || state.status == .cancelled || state.status == .failed || state.status == .awaitingApproval { state.status = .waiting }
                state.pauseReason = nil
                try dir.save(state)
                let queue = try JobQueues.open()
                let why = approveBy.map { "approved by \($0)" } ?? widenBy.map { "widening agreed by \($0)" } ?? "resumed by \(NSUserName())"
                try queue.update(id, status: .queued, message: why)
                Runner.appendEvent(dir: dir, jobID: id, .resumed, why + "; queued for the worker")
                say("job \(id) queued again" + (QueueWorker.alive(queue) ? "; the worker continues it" : "; no worker is running: start one with `cmo-plan worker`"))
                return .ok
            }
            let runner = Runner(dir: dir, state: state, options: try exec.runnerOptions(config: state.config, state: state))
            if let who = approveBy { runner.approve(by: who) }
            if let who = widenBy { runner.consentToWiden(by: who) }
            runner.event(.resumed, "resuming job \(id) at step \((state.steps.firstIndex { $0.status != .done } ?? state.steps.count) + 1)")
            return try runner.run()
        }
    }

    /// The job's lock, waited for a few seconds: a job that has just stopped (at the gate, paused) lets it
    /// go within moments; one still running after that is another process's (75).
    static func settledLock(_ dir: RunDirectory, _ id: String) throws -> FileLock {
        let deadline = Date().addingTimeInterval(5)
        while true {
            if case .held(let lock) = dir.lock() { return lock }
            guard Date() < deadline else { throw StageFailure(.tempFail, "job \(id) is running in another process") }
            usleep(50_000)
        }
    }

    struct Widen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Agree to the widening past the goal a job stopped to ask about, and continue it (it asks again before anything is written).")
        @Argument(help: "The job id.") var jobID: String
        @OptionGroup var flags: RunFlags
        @OptionGroup var exec: ExecFlags
        func run() throws {
            try CommandBase.run("cmo-plan") { try Resume.continueJob(jobID, flags: flags, exec: exec, approveBy: nil, widenBy: "cmo-plan widen (\(NSUserName()))") }
        }
    }

    struct Approve: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Approve a job waiting at the gate and continue it.")
        @Argument(help: "The job id.") var jobID: String
        @OptionGroup var flags: RunFlags
        @OptionGroup var exec: ExecFlags
        func run() throws {
            try CommandBase.run("cmo-plan") { try Resume.continueJob(jobID, flags: flags, exec: exec, approveBy: "cmo-plan approve (\(NSUserName()))") }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a job's state: steps with counts, widenings, errors.")
        @Argument(help: "The job id.") var jobID: String
        @OptionGroup var flags: RunFlags
        @Flag(help: "Print state.json.") var json = false
        func run() throws {
            try CommandBase.run("cmo-plan") {
                let (dir, queued) = try locate(jobID, flags: flags)
                let state = try dir.load()
                if json { print(try encode(state)); return .ok }
                let out = statusText(dir: dir, state: state, queued: queued)
                print(out, terminator: "")
                return .ok
            }
        }
    }
}

extension CMOPlan {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a run's report: report.html (one self-contained page) and report.json, in its run directory.",
            discussion: """
                Every run writes its report when it stops (done, failed, paused, waiting); this writes it again, for a \
                job id or for a folder: a run directory, or a `pipelines/discover.sh --keep DIR` folder. Prints the \
                page's path (open it in any browser, offline).
                """)
        @Argument(help: "The job id.") var jobID: String?
        @Option(help: ArgumentHelp("A run directory or a discover.sh --keep folder, instead of a job id.", valueName: "dir")) var dir: String?
        @OptionGroup var flags: RunFlags
        @Flag(help: "Print report.json instead of the page's path.") var json = false

        func validate() throws {
            if (jobID == nil) == (dir == nil) { throw ValidationError("give a job id or --dir DIR (one of them)") }
        }

        func run() throws {
            try CommandBase.run("cmo-plan") {
                let url: URL
                if let dir {
                    url = URL(fileURLWithPath: dir)
                } else {
                    url = try locate(jobID!, flags: flags).0.url
                }
                let page = try RunReport.write(url)
                if json {
                    try StandardOutput.write(try Data(contentsOf: url.appendingPathComponent("report.json")))
                } else {
                    print(page.path)
                }
                return .ok
            }
        }
    }
}

/// What `status` prints (and the chat's "status" answers): the job's state, its steps with counts, why it waits.
func statusText(dir: RunDirectory, state: RunState, queued: QueuedJob?) -> String {
    var out = "job \(state.jobID): \(state.status.rawValue)\(queued.map { " (queue: \($0.status.rawValue))" } ?? "")\n"
    if let w = state.waitReason, state.status == .waiting { out += "waiting until \(state.retryAt ?? "?"): \(w)\n" }
    if let p = state.pauseReason, state.status == .paused || state.status == .cancelled { out += "\(p)\(state.resumeAt.map { "; goes on by itself at \($0)" } ?? "")\n" }
    if Runner.pausedByBounceGuard(state) { out += "the sends wait for a person: `cmo-plan resume --accept-bounces \(state.jobID)` goes on knowingly\n" }
    let pending = Amendment.all(dir).count - (state.amendments ?? 0)
    if pending > 0 { out += "\(pending) change(s) asked for, applied at the next step\n" }
    if let g = state.goal { out += "goal: \(g)\n" }
    for s in state.steps {
        let c = s.counts
        out += String(format: "  %2d %-15@ %-8@", s.n, s.stage as NSString, s.status.rawValue as NSString)
        if s.status == .done || s.status == .failed {
            out += " \(c["out"] ?? 0) out"
            if let d = c["dead"], d > 0 { out += ", \(d) dead-lettered" }
            if let e = s.exitStatus, e != 0 { out += ", exit \(e)" }
        }
        out += "\n"
    }
    for w in state.widenings { out += "  widening \(w.step): \(w.reason)\n" }
    for e in state.errors { out += "  error: \(e)\n" }
    for t in state.triage ?? [] { out += "  triage \(t.at): \(t.stage): \(t.reason)\(t.linear.map { "; Linear: \($0)" } ?? "")\n" }
    if let a = state.bounceAck { out += "  bounce guard passed by \(a.by) at \(a.at) (bounces through \(a.through ?? "none") acknowledged)\n" }
    // What came back from Instantly, when anything has (the report's numbers).
    if let o = Outcomes.of(dir: dir, state: state), o.hasEvents { out += o.text + "\n" }
    if let s = state.summary { out += s + "\n" }
    return out
}
