import CMOContract
import ArgumentParser
import CMOAgent
import CMOBasics
import CMOStorage
import CMOStageKit
import CMOServices
import CMOScoring
import Foundation

extension CMOPlan {
    struct Chat: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Talk to cmo: type a goal, confirm the plan, and follow the job while it runs in the background.",
            discussion: """
                A line is read by rules (no model needed), or by a model with --interpreter model (the rules take over \
                when it cannot be asked or its reading is refused twice). A goal shows its plan and side effects; "yes" queues it, approved, \
                and starts a worker if none runs. While it runs: status, how many have we queued?, why did they fail?, raise \
                the target to 3k, skip sending (export only), pause, resume, cancel, jobs, wait, quit. Milestones are printed \
                as they happen. Works with its input piped (one line per command) and without colour (NO_COLOR).
                """)
        @OptionGroup var flags: RunFlags
        @OptionGroup var exec: ExecFlags
        @Option(help: ArgumentHelp("Talk about this job (default: the one started in this chat).", valueName: "id")) var jobID: String?
        @Option(help: ArgumentHelp("Who reads a goal: 'rule' or 'model' (as for run).", valueName: "parser")) var parser: String?
        @Option(help: ArgumentHelp("Who reads a chat line: 'rule' (the embedded default) or 'model' (an OpenAI-compatible model with tool calling at OPENAI_BASE_URL). Default CMO_INTERPRETER, else rule.", valueName: "interpreter"))
        var interpreter: String?
        @Option(help: ArgumentHelp("The model of --interpreter model (default CMO_INTERPRETER_MODEL).", valueName: "name")) var interpreterModel: String?

        func run() throws {
            try CommandBase.run("cmo-plan") {
                var session = ChatSession(flags: flags, exec: exec, parser: parser, job: jobID)
                if let model = try chosenModel("interpreter", kind: interpreter, model: interpreterModel) {
                    session.interpreter = ModelChatInterpreter(chat: try ChatClient.make(model: model, config: flags.configPath))
                }
                return try session.loop()
            }
        }
    }
}

/// One chat: the job it talks about, a goal waiting for a yes, and a thread printing the job's milestones.
struct ChatSession {
    let flags: RunFlags
    let exec: ExecFlags
    let parser: String?
    var job: String?
    var pending: (resolved: GoalOptions.Resolved, dryRun: Bool)?
    /// The model that reads lines, or nil for the rules.
    var interpreter: ModelChatInterpreter?
    let tty = isatty(0) == 1 && isatty(1) == 1
    let colour = isatty(1) == 1 && (ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
    let follower = EventFollower()

    init(flags: RunFlags, exec: ExecFlags, parser: String?, job: String?) {
        self.flags = flags
        self.exec = exec
        self.parser = parser
        self.job = job
        if let job, let (dir, _) = try? locate(job, flags: flags) { follower.follow(dir, fromEnd: true) }
    }

    func out(_ text: String) { follower.print(text) }
    func bold(_ s: String) -> String { colour ? "\u{1B}[1m\(s)\u{1B}[0m" : s }

    mutating func loop() throws -> ExitStatus {
        out(bold("cmo chat") + " — type a goal, or help" + (tty ? "" : ""))
        while true {
            if tty { follower.prompt(bold("cmo> ")) }
            guard let line = readLine() else { break }
            if try !handle(read(line)) { break }
        }
        if let job, let (dir, _) = try? locate(job, flags: flags), let st = try? dir.load(), !st.status.isFinal { out("job \(job) keeps running in the worker; `cmo-plan logs \(job) --follow` or `cmo-plan chat --job-id \(job)` to come back") }
        return .ok
    }

    /// What a line asks for: the model's reading, else the rules'. A model that cannot be asked is not asked again.
    mutating func read(_ line: String) -> ChatIntent {
        guard let model = interpreter else { return ChatIntent.read(line) }
        // Questions about outcomes and a go-ahead past the bounce guard are the rules' (the model's tool has no such intents).
        switch ChatIntent.read(line) {
        case .outcomes(let topic): return .outcomes(topic)
        case .resumeAnyway: return .resumeAnyway
        default: break
        }
        let r = model.read(line)
        if let why = r.fallback {
            let gone = why.contains("could not be asked")
            if gone { interpreter = nil }
            out("(\(TextCleaning.truncate(TextCleaning.oneLine(why), to: 300))\(gone ? "; from now on too" : ""))")
        }
        return r.intent
    }

    /// Answers one line; false to leave.
    mutating func handle(_ intent: ChatIntent) throws -> Bool {
        switch intent {
        case .help: out(ChatIntent.helpText)
        case .quit: return false
        case .goal(let text):
            do {
                let g = try GoalOptions.parse((parser.map { ["--parser", $0] } ?? []) + ["--", text])
                let r = try g.resolve(config: flags.configPath, now: flags.clock)
                let plan = try makePlan(r.job, flags: flags, jobID: "<job_id>", dryRun: r.job.dryRun == true)
                var text = "plan (\(plan.planner) planner): \(plan.target) leads, activity in the last \(plan.activeDays) days\n"
                for (i, s) in plan.stages.enumerated() { text += "  \(i + 1). \(s.stage)\(s.irreversible ? "   [writes]" : "")\n" }
                text += "side effects:\n" + (plan.sideEffects.isEmpty ? "  none\n" : plan.sideEffects.map { "  \($0.text)\n" }.joined())
                if !r.unknown.isEmpty { text += "not understood, left out: \(r.unknown.joined(separator: " "))\n" }
                text += "run it? yes runs the discovery in the background; nothing is written until you have seen the leads, their copy and the schedule, and said yes again"
                out(text)
                pending = (r, r.job.dryRun == true)
            } catch let e as CMOError where e.exitStatus == .usage {
                // A goal it cannot read is a question back, never a guess.
                out("I cannot read that goal: \(e.description)\nwhat did you mean? say it another way, e.g. \"Find 200 Rust maintainers active in the last 60 days, export a CSV\"")
            } catch {
                out("cannot plan that: \(error)")
            }
        case .yes:
            guard let p = pending else {
                // A job waiting at the gate: this yes approves what it showed.
                if let job, let (dir, _) = try? locate(job, flags: flags), let st = try? dir.load(), st.status == .awaitingApproval {
                    _ = try CMOPlan.Resume.continueJob(job, flags: flags, exec: exec, approveBy: "the chat (\(NSUserName()))")
                    _ = ensureWorker()
                    out(st.proposal != nil ? "going on with the leads found, not widened; writing as shown" : "approved; writing as shown")
                } else {
                    out("nothing to confirm; type a goal first")
                }
                break
            }
            pending = nil
            var e = exec
            e.yes = false
            let id = CMOPlan.Run.newID()
            do {
                _ = try submit(p.resolved, dryRun: p.dryRun, flags: flags, exec: e, id: id, output: nil, quiet: true)
            } catch {
                out("cannot queue it: \(error)")
                break
            }
            job = id
            if let (dir, _) = try? locate(id, flags: flags) { follower.follow(dir, fromEnd: false) }
            let started = ensureWorker()
            out("job \(id) queued\(started ? "; started a worker" : "; the running worker takes it"): discovery first; I will show what it found and ask before anything is written")
        case .no:
            if pending != nil { pending = nil; out("dropped; nothing was queued") }
            else if let job, let (dir, _) = try? locate(job, flags: flags), let st = try? dir.load(), st.status == .awaitingApproval {
                out("not approved: nothing was written; job \(job) waits at the gate (yes to approve, cancel to drop it)")
            } else { out("ok") }
        case .widen:
            guard let job, let (dir, _) = try? locate(job, flags: flags), let st = try? dir.load(), st.status == .awaitingApproval, st.proposal != nil else {
                out("nothing to widen: a job asks before it goes past its goal, and none is asking now")
                break
            }
            _ = try CMOPlan.Resume.continueJob(job, flags: flags, exec: exec, approveBy: nil, widenBy: "the chat (\(NSUserName()))")
            _ = ensureWorker()
            out("widening as proposed; I will ask again before anything is written")
        case .jobs:
            let queue = try JobQueues.open()
            let rows = try queue.jobs(limit: 10)
            out(rows.isEmpty ? "no jobs in the queue" : rows.map { "\($0.id)  \($0.status.rawValue)\($0.message.map { "  " + TextCleaning.truncate(TextCleaning.oneLine($0), to: 100) } ?? "")" }.joined(separator: "\n"))
        default:
            guard let job, let (dir, queued) = try? locate(job, flags: flags), let state = try? dir.load() else {
                if case .unknown(let t) = intent { out("I did not understand '\(TextCleaning.truncate(t, to: 80))'. \(ChatIntent.helpText)") } else { out("no job yet: type a goal first") }
                return true
            }
            try answer(intent, job: job, dir: dir, state: state, queued: queued)
        }
        return true
    }

    func answer(_ intent: ChatIntent, job: String, dir: RunDirectory, state: RunState, queued: QueuedJob?) throws {
        switch intent {
        case .status: out(statusText(dir: dir, state: state, queued: queued).trimmingCharacters(in: .newlines))
        case .queuedCount: out(ChatAnswers.queuedCount(dir: dir, state: state))
        case .whyFailed: out(ChatAnswers.whyFailed(dir: dir, state: state))
        case .pause: _ = try control(.pause, job, flags: flags)
        case .cancel: _ = try control(.cancel, job, flags: flags)
        case .resume:
            if Runner.pausedByBounceGuard(state) {
                out("job \(job) is paused: \(state.pauseReason ?? "by the bounce guard")\nsay 'resume anyway' to go on knowing these bounces (the guard then trips only on new ones)")
                return
            }
            _ = try CMOPlan.Resume.continueJob(job, flags: flags, exec: exec, approveBy: nil)
            _ = ensureWorker()
        case .resumeAnyway:
            _ = try CMOPlan.Resume.continueJob(job, flags: flags, exec: exec, approveBy: nil, acceptBouncesBy: "the chat (\(NSUserName()))")
            _ = ensureWorker()
            out("going on knowingly: the bounces so far are acknowledged in the job; the bounce guard pauses it again only on new ones")
        case .outcomes(let topic): out(ChatAnswers.outcomes(topic, dir: dir, state: state))
        case .target(let n):
            if state.status.isFinal { out("job \(job) is \(state.status.rawValue); submit a new goal for \(n) leads"); return }
            try Amendment(target: n, by: "chat").append(to: dir)
            out("target → \(n): applied at the job's next step (the search widens while fewer pass)")
        case .skipWriters:
            if state.status.isFinal { out("job \(job) is \(state.status.rawValue); nothing left to skip"); return }
            try Amendment(skipWriters: true, by: "chat").append(to: dir)
            let ran = state.steps.filter { StageRegistry.writerNames.contains($0.stage) && $0.status == .done }.map(\.stage)
            out("no more writes: applied at the job's next step; it exports the CSV instead" + (ran.isEmpty ? "" : " (already ran: \(ran.joined(separator: ", ")))"))
        case .wait:
            while let s = try? dir.load(), [.planned, .running, .waiting].contains(s.status) { usleep(100_000) }
            follower.drain()
            let s = try dir.load()
            out("job \(job): \(s.status.rawValue)\(s.pauseReason.map { ": \($0)" } ?? "")")
        case .filter(let f):
            if state.status.isFinal { out("job \(job) is \(state.status.rawValue); nothing left to filter"); return }
            try Amendment(filter: f, by: "chat").append(to: dir)
            out("\(f.description): applied to what has not been written yet, at the job's next step")
        case .notTracked(let what): out(ChatAnswers.notTracked(what))
        case .unknown(let t): out("I did not understand '\(TextCleaning.truncate(t, to: 80))'. \(ChatIntent.helpText)")
        default: break
        }
    }

    /// Starts `cmo-plan worker --until-idle` in the background when none runs; true if it did.
    func ensureWorker() -> Bool {
        guard let queue = try? JobQueues.open(), !QueueWorker.alive(queue) else { return false }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let log = StateDirectory.path() + "/worker.log"
        guard (try? spawnInBackground(StageSpec(executable: exe, arguments: ["worker", "--until-idle"], stdin: nil, artifact: log, log: log,
                                                 diesWithParent: false))) != nil else {
            out("cannot start a worker; run `cmo-plan worker` in another terminal")
            return false
        }
        // Until it says it is alive, so that a second yes does not start another.
        let deadline = Date().addingTimeInterval(3)
        while !QueueWorker.alive(queue) && Date() < deadline { usleep(20_000) }
        return true
    }
}

/// Prints a job's milestones as they are written, between the chat's own lines.
final class EventFollower: @unchecked Sendable {
    private let lock = NSLock()
    private var reader: EventLog.Reader?
    private var started = false
    private static let shown: Set<RunEvent.Name> = [
        .stepDone, .widening, .widenDeclined, .shortfall, .preflight, .approved, .awaitingApproval, .paused, .cancelled, .failed, .done, .waiting, .triage, .amended, .resumed, .warning,
        .requeued, .stepRestarted, .report,
    ]

    private var directory: RunDirectory?

    func follow(_ d: RunDirectory, fromEnd: Bool) {
        lock.lock()
        reader = EventLog.Reader(d.eventsURL, fromEnd: fromEnd)
        directory = d
        let start = !started
        started = true
        lock.unlock()
        if start { Thread.detachNewThread { [self] in while true { drain(); usleep(150_000) } } }
    }

    func print(_ text: String) {
        lock.lock()
        StandardOutput.writeOrRemember(text + "\n")
        lock.unlock()
    }

    func prompt(_ text: String) {
        lock.lock()
        StandardOutput.writeOrRemember(text)
        lock.unlock()
    }

    /// Prints the events written since the last look.
    func drain() {
        lock.lock()
        defer { lock.unlock() }
        guard reader != nil else { return }
        for e in reader!.poll() where Self.shown.contains(e.event) {
            let gate = e.event == .awaitingApproval
            let message = e.message.replacingOccurrences(of: "\ncmo-plan: ", with: "\n").split(separator: "\n").prefix(gate ? 24 : 6).joined(separator: "\n    ")
            StandardOutput.writeOrRemember("  · \(message)\n")
            if gate, let dir = directory {
                let asks = ((try? dir.load())?.proposal != nil)
                StandardOutput.writeOrRemember(ChatAnswers.preview(dir: dir) + (asks ? "widen? (widen / yes: go on with these / no)\n" : "approve? (yes / no)\n"))
            }
        }
    }
}
