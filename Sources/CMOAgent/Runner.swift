import CMOCore
import Foundation

/// Runs a job's steps, one stage process at a time, keeping every output in the run directory and the
/// state in state.json after every step, so `resume` continues where a crash or a kill stopped it.
public final class Runner {
    public struct Options: Sendable {
        public var yes = false
        public var quiet = false
        public var jsonLog = false
        public var stageOverrides: [String: String] = [:]
        public var config: String?
        public init() {}
    }

    let dir: RunDirectory
    var state: RunState
    let options: Options
    let runOptions: RunOptions
    var lockFD: Int32 = -1

    public init(dir: RunDirectory, state: RunState, options: Options) {
        self.dir = dir
        self.state = state
        self.options = options
        runOptions = RunOptions(config: options.config ?? state.config, now: state.plan.now, jobID: state.jobID, dryRun: state.job.dryRun == true)
    }

    public var currentState: RunState { state }

    // MARK: events

    public func event(_ name: String, _ message: String, _ fields: [String: Any] = [:]) {
        var object: [String: Any] = ["time": RunState.timestamp(), "job_id": state.jobID, "event": name, "message": message]
        for (k, v) in fields { object[k] = v }
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
            let handle = try? FileHandle(forWritingTo: dir.eventsURL) ?? nil
        {
            handle.seekToEndOfFile()
            handle.write(data + Data("\n".utf8))
            try? handle.close()
        } else if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
            try? (data + Data("\n".utf8)).write(to: dir.eventsURL)
        }
        guard !options.quiet || name == "warning" || name == "failed" else { return }
        if options.jsonLog, let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
            FileHandle.standardError.write(data + Data("\n".utf8))
        } else {
            FileHandle.standardError.write(Data("cmo-plan: \(message)\n".utf8))
        }
    }

    func save() throws { try dir.save(state) }

    // MARK: lock

    /// One process per job: a second `run`/`resume` of the same job exits 75 and touches nothing.
    func lock() throws {
        let path = dir.path("lock").path
        lockFD = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { throw RunError(.config, "cannot open the lock \(path)") }
        guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
            throw RunError(.tempFail, "job \(state.jobID) is running in another process; not starting (exit 75)")
        }
    }

    // MARK: the loop

    /// Runs until done, a failure, or the approval gate. Returns the exit status.
    public func run() throws -> ExitStatus {
        try lock()
        // A step a killed cmo-plan left running: stop its process if it still runs, then run the step again.
        for i in state.steps.indices where state.steps[i].status == .running {
            if let pid = state.steps[i].pid, pid > 0, kill(pid, 0) == 0 {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                _ = waitpid(pid, &status, WNOHANG)
                usleep(100_000)
            }
            event("step_restarted", "step \(state.steps[i].n) (\(state.steps[i].stage)) was interrupted; running it again")
            state.steps[i].status = .pending
        }
        state.status = .running
        try save()
        while true {
            if let i = state.steps.firstIndex(where: { $0.status != .done }) {
                if needsApproval(state.steps[i]) && state.approval == nil {
                    if let status = try gate() { return status }
                }
                if let status = try execute(i) { return status }
                continue
            }
            if try extend() { continue }
            return try finish()
        }
    }

    func needsApproval(_ step: StepRecord) -> Bool {
        RulePlanner.writers.contains(step.stage) && !step.arguments.contains("--dry-run")
    }

    // MARK: the approval gate

    func gate() throws -> ExitStatus? {
        let rendered = lastRendered()
        let effects = state.plan.sideEffects.filter { !$0.dryRun && $0.service != "file" }.map { e -> SideEffect in
            var e = e
            e.count = e.service == "Linear" ? lines(dir.deadLettersURL) : rendered
            return e
        }
        var text = "before anything is written (nothing irreversible has happened yet):\n"
        for e in effects { text += "  \(e.service): \(e.action) \(e.target): \(e.count) \(e.service == "Linear" ? "dead letters" : "leads")\n" }
        if let copy = state.lastDone("render-copy") { text += "  the rendered leads and their copy: \(dir.path(copy.artifact).path)\n" }
        if options.yes {
            state.approval = .init(at: RunState.timestamp(), by: "--yes", sideEffects: effects)
            event("approved", "approved by --yes: " + effects.map { "\($0.service) \($0.count)" }.joined(separator: ", "))
            try save()
            return nil
        }
        if isatty(0) == 1 && isatty(2) == 1 {
            FileHandle.standardError.write(Data("cmo-plan: \(text)Go ahead? [y/N] ".utf8))
            let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            if answer == "y" || answer == "yes" {
                state.approval = .init(at: RunState.timestamp(), by: "terminal", sideEffects: effects)
                event("approved", "approved on the terminal")
                try save()
                return nil
            }
        }
        state.status = .awaitingApproval
        try save()
        event("awaiting_approval", text + "  nothing was written; to go ahead: cmo-plan approve \(state.jobID)")
        return .ok
    }

    /// Records approval for a job waiting at the gate (`cmo-plan approve`).
    public func approve(by who: String) {
        state.approval = .init(at: RunState.timestamp(), by: who, sideEffects: state.plan.sideEffects)
    }

    // MARK: steps

    func artifactLines(_ step: StepRecord?) -> Int { step.map { lines(dir.path($0.artifact)) } ?? 0 }
    func lastRendered() -> Int { artifactLines(state.lastDone("render-copy")) }

    func lines(_ url: URL) -> Int {
        guard let data = try? Data(contentsOf: url) else { return 0 }
        return data.reduce(0) { $1 == 10 ? $0 + 1 : $0 }
    }

    /// Appends the next steps once every step so far is done: a widening, or the writers. False when finished.
    func extend() throws -> Bool {
        let pass = state.steps.map(\.widenStep).max() ?? 0
        let wroteAlready = state.steps.contains { !RulePlanner.readStages.contains($0.stage) }
        if wroteAlready { return false }
        let rendered = lastRendered()
        if rendered < state.plan.target, let w = nextWidening(pass: pass, rendered: rendered) {
            state.widenings.append(w)
            event("widening", "widening \(w.step): \(w.reason)", ["widen_step": w.step])
            appendDiscovery(pass: w.step, activeDays: w.activeDays, minStars: w.minStars, topics: w.topics, maxRepos: w.maxRepos, maxPeople: w.maxPeople)
            try save()
            return true
        }
        let writers = RulePlanner.writerSteps(state.job, options: runOptions, hasDeadLetters: true)
        guard !writers.isEmpty else { return false }
        for (stage, args) in writers { append(stage, args, input: nil, pass: pass) }
        try save()
        return true
    }

    func nextWidening(pass: Int, rendered: Int) -> Widening? {
        let caps = state.plan.caps
        guard state.widenings.count < caps.maxWidenings, state.steps.count + 6 <= caps.maxSteps else { return nil }
        let last = state.widenings.last
        let days = last?.activeDays ?? state.plan.activeDays
        let stars = last.map(\.minStars) ?? state.plan.minStars
        let topics = last?.topics ?? (state.job.topics ?? [])
        let repos = last?.maxRepos ?? initialRepos()
        let people = last?.maxPeople ?? initialPeople()
        var w = Widening(step: pass + 1, reason: "", activeDays: days, minStars: stars, topics: topics,
                         maxRepos: min(caps.maxRepos, repos * 2), maxPeople: min(caps.maxPeople, people * 2))
        let short = "\(rendered) of \(state.plan.target) leads"
        if days < 365 {
            w.activeDays = min(365, days * 2)
            w.reason = "\(short): activity from the last \(w.activeDays) days instead of \(days)"
        } else if let s = stars, s > 1 {
            w.minStars = max(1, s / 2)
            w.reason = "\(short): \(w.minStars!)+ stars instead of \(s)+"
        } else if !topics.isEmpty {
            w.topics = []
            w.reason = "\(short): any topic (the job's topics still score) instead of \(topics.joined(separator: ", "))"
        } else {
            w.reason = "\(short): up to \(w.maxRepos) repositories and \(w.maxPeople) people"
        }
        if w.activeDays == days && w.minStars == stars && w.topics == topics && w.maxRepos == repos && w.maxPeople == people { return nil }
        return w
    }

    func initialRepos() -> Int { Int(argument("--max-repos", of: "gh-search") ?? "") ?? 1000 }
    func initialPeople() -> Int { Int(argument("--max-people", of: "gh-people") ?? "") ?? 1000 }
    func argument(_ flag: String, of stage: String) -> String? {
        guard let s = state.plan.stages.first(where: { $0.stage == stage }), let i = s.arguments.firstIndex(of: flag),
            i + 1 < s.arguments.count
        else { return nil }
        return s.arguments[i + 1]
    }

    public func appendDiscovery(pass: Int, activeDays: Int, minStars: Int?, topics: [String], maxRepos: Int, maxPeople: Int) {
        let steps = RulePlanner.discovery(
            state.job, options: RunOptions(config: runOptions.config, now: state.plan.now, jobID: state.jobID, dryRun: runOptions.dryRun),
            activeDays: activeDays, minStars: minStars, topics: topics, maxRepos: maxRepos, maxPeople: maxPeople, target: state.plan.target)
        for (stage, args) in steps { append(stage, args, input: nil, pass: pass) }
    }

    func append(_ stage: String, _ args: [String], input: String?, pass: Int) {
        let n = state.steps.count + 1
        let name = String(format: "%02d-%@", n, stage)
        state.steps.append(StepRecord(n: n, stage: stage, arguments: args, input: input, artifact: "artifacts/\(name).ndjson",
                                      log: "logs/\(name).log", widenStep: pass))
    }

    /// What a step reads: the step before it in its pass, the rendered leads for the first writer, the
    /// queued leads for Attio, the dead letters for Linear.
    func input(for i: Int) -> URL? {
        let step = state.steps[i]
        switch step.stage {
        case "gh-search": return nil
        case "sync-linear": return dir.deadLettersURL
        case "send-instantly": return state.lastDone("render-copy").map { dir.path($0.artifact) }
        case "sync-attio", "export-csv":
            return (state.lastDone("send-instantly") ?? state.lastDone("render-copy")).map { dir.path($0.artifact) }
        default:
            guard i > 0 else { return nil }
            return dir.path(state.steps[i - 1].artifact)
        }
    }

    func execute(_ i: Int) throws -> ExitStatus? {
        var step = state.steps[i]
        let input = input(for: i)
        if step.stage == "sync-linear", lines(dir.deadLettersURL) == 0 {
            step.status = .done
            step.exitStatus = 0
            FileManager.default.createFile(atPath: dir.path(step.artifact).path, contents: Data())
            state.steps[i] = step
            event("step_skipped", "step \(step.n) sync-linear: no dead letters in this run, nothing to file")
            try save()
            return nil
        }
        var args = step.arguments.map { $0.hasPrefix("exports/") ? dir.path($0).path : $0 }
        if let c = runOptions.config { args = ["--config", c] + args }
        let deadLetter = step.stage == "sync-linear" ? dir.path("logs/\(String(format: "%02d", step.n))-sync-linear.dead-letters.ndjson") : dir.deadLettersURL
        args = ["--dead-letter", deadLetter.path] + args
        let command = try StageLocator.command(for: step.stage, overrides: options.stageOverrides, arguments: args)
        let out = dir.path(step.artifact)
        let tmp = URL(fileURLWithPath: out.path + ".partial")
        FileManager.default.createFile(atPath: tmp.path, contents: nil)
        FileManager.default.createFile(atPath: dir.path(step.log).path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command.executable)
        process.arguments = command.arguments
        var env = ProcessInfo.processInfo.environment
        env["CMO_JOB_ID"] = state.jobID
        process.environment = env
        process.standardInput = try input.map { try FileHandle(forReadingFrom: $0) } ?? FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: tmp)
        process.standardError = try FileHandle(forWritingTo: dir.path(step.log))
        let started = Date()
        event("step_started", "step \(step.n) \(step.stage)\(input.map { " < \($0.lastPathComponent)" } ?? "")", ["step": step.n, "stage": step.stage])
        do { try process.run() } catch {
            throw RunError(.unavailable, "cannot start \(step.stage) (\(command.executable)): \(error)")
        }
        step.pid = process.processIdentifier
        step.status = .running
        step.startedAt = RunState.timestamp(started)
        state.steps[i] = step
        try save()
        process.waitUntilExit()
        let status: Int32 = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        step.exitStatus = status
        step.finishedAt = RunState.timestamp()
        step.seconds = (Date().timeIntervalSince(started) * 1000).rounded() / 1000
        step.pid = nil
        step.counts = Self.counts(log: dir.path(step.log), stage: step.stage)
        for line in Self.warnings(log: dir.path(step.log), stage: step.stage) { event("warning", line, ["step": step.n]) }
        if status != 0 {
            step.status = .failed
            state.steps[i] = step
            state.status = .failed
            let tail = ((try? String(contentsOf: dir.path(step.log), encoding: .utf8)) ?? "").split(separator: "\n").suffix(15)
            state.errors.append("\(step.stage) exited \(status)")
            try save()
            event("failed", "step \(step.n) \(step.stage) exited \(status) (\(Self.why(status))); its log:\n" + tail.map { "  " + $0 }.joined(separator: "\n")
                  + "\ncmo-plan: everything so far is in \(dir.url.path); `cmo-plan resume \(state.jobID)` continues from this step", ["step": step.n])
            return ExitStatus(rawValue: status) ?? .failure
        }
        _ = rename(tmp.path, out.path)
        step.counts["out"] = lines(out)
        step.status = .done
        state.steps[i] = step
        try save()
        let c = step.counts
        event("step_done", "step \(step.n) \(step.stage): \(c["in"].map { "\($0) in, " } ?? "")\(c["out"] ?? 0) out"
              + "\(c["filtered"].map { ", \($0) filtered" } ?? "")\(c["dead"].map { ", \($0) dead-lettered" } ?? ""), \(String(format: "%.1f", step.seconds ?? 0)) s",
              ["step": step.n, "stage": step.stage, "counts": c])
        return nil
    }

    static func why(_ s: Int32) -> String {
        switch s {
        case 75: return "rate-limited or asked to wait too long: resume later; finished work is reused"
        case 77: return "credentials rejected"
        case 78: return "bad configuration"
        case 69: return "a service could not be reached"
        case 64: return "bad flags"
        case 65: return "bad input"
        case 137: return "killed"
        default: return "failed"
        }
    }

    /// Records in/out/filtered/dead-lettered and HTTP requests from a stage's summary line.
    static func counts(log: URL, stage: String) -> [String: Int] {
        guard let text = try? String(contentsOf: log, encoding: .utf8) else { return [:] }
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("\(stage): ") && $0.contains(" in, ") }) else { return [:] }
        let s = String(line)
        var out: [String: Int] = [:]
        for (key, pattern) in [("in", #"(\d+) in,"#), ("filtered", #"(\d+) filtered"#), ("dead", #"(\d+) dead-lettered"#),
                               ("http", #"(\d+) HTTP requests"#), ("http_304", #"(\d+) free 304s"#)] {
            if let r = s.range(of: pattern, options: .regularExpression) {
                out[key] = Int(s[r].prefix { $0.isNumber })
            }
        }
        return out
    }

    static func warnings(log: URL, stage: String) -> [String] {
        guard let text = try? String(contentsOf: log, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").filter { $0.hasPrefix("\(stage): warning: ") }.prefix(5).map(String.init)
    }

    // MARK: the end

    func statuses(_ stage: String, field: String) -> [String: Int] {
        guard let step = state.lastDone(stage), let data = try? Data(contentsOf: dir.path(step.artifact)) else { return [:] }
        var out: [String: Int] = [:]
        for line in data.split(separator: 10) {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                let s = (o[field] as? [String: Any])?["status"] as? String
            else { continue }
            out[s, default: 0] += 1
        }
        return out
    }

    func finish() throws -> ExitStatus {
        let rendered = lastRendered()
        var funnel: [(String, Int)] = []
        for s in RulePlanner.readStages { funnel.append((s, artifactLines(state.lastDone(s)))) }
        var lines = ["funnel: " + funnel.map { "\($0.0) \($0.1)" }.joined(separator: " → ")]
        for (stage, field, target) in [("send-instantly", "instantly", state.job.instantlyCampaign), ("sync-attio", "attio", state.job.attioList),
                                       ("sync-linear", "linear", state.job.linearTeam)] {
            let s = statuses(stage, field: field)
            guard let target, state.lastDone(stage) != nil else { continue }
            let parts = s.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
            lines.append("\(stage) → \(target): " + (parts.isEmpty ? "nothing" : parts.joined(separator: ", ")))
        }
        if let e = state.lastDone("export-csv") { lines.append("CSV: \(dir.path("exports/leads.csv").path) (\(e.counts["in"] ?? rendered) leads)") }
        lines.append("dead letters: \(self.lines(dir.deadLettersURL)) in \(dir.deadLettersURL.path)")
        if rendered < state.plan.target {
            lines.append("\(rendered) of \(state.plan.target) asked for, after \(state.widenings.count) widening(s)")
        }
        state.summary = lines.joined(separator: "\n")
        if rendered == 0 {
            state.status = .failed
            state.errors.append("no lead rendered")
            try save()
            event("failed", "no lead rendered: nothing useful came out of this run\n" + state.summary!)
            return .dataError
        }
        state.status = .done
        try save()
        updateYields()
        event("done", "done: " + lines.joined(separator: "\ncmo-plan: "))
        return .ok
    }

    /// Leads per repository and per person of this run, for the next plan's caps.
    func updateYields() {
        let repos = artifactLines(state.lastDone("gh-search")), people = artifactLines(state.lastDone("gh-people"))
        let rendered = lastRendered()
        guard repos > 0, people > 0, rendered > 0, let dir = StateDirectoryPath.url else { return }
        let http = state.steps.filter { $0.status == .done && ["gh-search", "gh-people", "gh-enrich"].contains($0.stage) }
            .reduce(0) { $0 + ($1.counts["http"] ?? 0) }
        let y = Plan.Yields(leadsPerRepo: Double(rendered) / Double(repos), leadsPerPerson: Double(rendered) / Double(people),
                            githubRequestsPerLead: Double(http) / Double(rendered), source: "measured on job \(state.jobID)")
        if let data = try? JSONEncoder().encode(y) {
            try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try? data.write(to: dir.appendingPathComponent("yields.json"), options: .atomic)
        }
    }
}

/// CMO_STATE_DIR, as the stages resolve it.
public enum StateDirectoryPath {
    public static var url: URL? {
        let env = ProcessInfo.processInfo.environment
        if let s = env["CMO_STATE_DIR"], !s.isEmpty { return URL(fileURLWithPath: s) }
        if let s = env["XDG_STATE_HOME"], !s.isEmpty { return URL(fileURLWithPath: s).appendingPathComponent("cmo") }
        if let h = env["HOME"] { return URL(fileURLWithPath: h).appendingPathComponent(".local/state/cmo") }
        return nil
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
            guard let first = words.first else { throw RunError(.usage, "--stage \(stage)= needs a command") }
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
        throw RunError(.unavailable, "'\(name)' (the \(stage) stage) is not next to cmo-plan nor on PATH (run bin/setup, or --stage \(stage)=CMD)")
    }
}
