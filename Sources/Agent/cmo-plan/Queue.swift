import CMOContract
import ArgumentParser
import CMOAgent
import CMOBasics
import CMOStorage
import CMOStageKit
import CMOScoring
import Foundation

func say(_ text: String) { FileHandle.standardError.write(Data("cmo-plan: \(text)\n".utf8)) }

/// The job's run directory: from the queue (any terminal, any directory), else under --runs-dir.
func locate(_ id: String, flags: RunFlags) throws -> (RunDirectory, QueuedJob?) {
    let queued = try? JobQueues.open().job(id)
    if let q = queued { return (RunDirectory(runs: URL(fileURLWithPath: q.runsDir), jobID: id), q) }
    let dir = RunDirectory(runs: flags.runs, jobID: id)
    if !dir.exists, FileManager.default.fileExists(atPath: dir.eventsURL.path) { return (dir, nil) }  // state.json gone: resume rebuilds it
    guard dir.exists else { throw StageFailure(.usage, "no job \(id) in the queue nor in \(flags.runs.path)") }
    return (dir, nil)
}

extension CMOPlan {
    struct Submit: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Queue a goal (or --job FILE) for `cmo-plan worker`; prints the job id.")
        @OptionGroup var goal: GoalOptions
        @OptionGroup var flags: RunFlags
        @OptionGroup var exec: ExecFlags
        @Option(help: ArgumentHelp("Name the job (default: a generated id).", valueName: "id")) var jobID: String?
        @Option(name: .shortAndLong, help: ArgumentHelp("Also put the CSV here when the run is healthy.", valueName: "file")) var output: String?

        func run() throws {
            try CommandBase.run("cmo-plan") {
                let id = try submit(goal: goal, flags: flags, exec: exec, id: jobID ?? Run.newID(), output: output)
                print(id)
                return .ok
            }
        }
    }

    struct Worker: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run queued jobs, for as long as it is left running.",
            discussion: """
                Each job runs as `cmo-plan resume <id>` in its own process (its output in runs/<id>/logs/worker.log). A job whose \
                stage stops with 75 sleeps until the reset the stage reported and the worker runs others meanwhile; jobs that \
                spend the same GitHub token take turns with it. A job dies with its worker; a worker started again (after a \
                kill -9) resumes it where its state.json says. SIGTERM or Ctrl-C stops the worker: its jobs are queued again.
                """)
        @Option(help: ArgumentHelp("Jobs run at once.", valueName: "n")) var concurrency = 2
        @Flag(help: "Exit when no job is queued, running or sleeping.") var untilIdle = false
        @Option(help: ArgumentHelp("Seconds between looks at the queue.", valueName: "seconds")) var poll = 0.2

        func validate() throws {
            guard (1...64).contains(concurrency) else { throw ValidationError("--concurrency is 1 to 64") }
        }

        func run() throws {
            try CommandBase.run("cmo-plan") { try work() }
        }

        func work() throws -> ExitStatus {
            try QueueWorker(concurrency: concurrency, untilIdle: untilIdle, poll: poll, say: say).run()
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every job, newest first: the queue's and those started with `run` (their run directories under --runs-dir): status, leads, what was last said.")
        @Option(help: ArgumentHelp("At most this many (the newest).", valueName: "n")) var limit: Int?
        @Flag(help: "One JSON object per job.") var json = false
        @OptionGroup var flags: RunFlags

        /// One line of the listing: a queued job, or a run directory the queue does not know.
        struct Entry {
            var id: String
            var status: String
            var created: Double
            var rendered: Int
            var target: Int
            var message: String?
            var notBefore: Double?
            var starts: Int?
            var source: String
            var dir: String
        }

        func run() throws {
            try CommandBase.run("cmo-plan") {
                let queue = try JobQueues.open()
                var entries: [Entry] = []
                for j in try queue.jobs(limit: nil) {
                    let dir = RunDirectory(runs: URL(fileURLWithPath: j.runsDir), jobID: j.id)
                    let state = try? dir.load()
                    entries.append(Entry(id: j.id, status: j.status.rawValue, created: j.createdAt, rendered: state.map(Self.rendered) ?? 0,
                                         target: state?.plan.target ?? 0, message: j.message, notBefore: j.notBefore, starts: j.starts,
                                         source: "queue", dir: dir.url.path))
                }
                entries += Self.runDirectories(flags.runs, except: Set(entries.map(\.id)))
                entries.sort { ($0.created, $0.id) > ($1.created, $1.id) }
                for e in entries.prefix(limit ?? .max) {
                    if json {
                        var o: [String: Any] = ["id": e.id, "status": e.status, "rendered": e.rendered, "target": e.target, "source": e.source,
                                                "dir": e.dir, "created_at": Timestamp.string(Date(timeIntervalSince1970: e.created))]
                        if let n = e.starts { o["starts"] = n }
                        if let m = e.message { o["message"] = m }
                        if let n = e.notBefore { o["not_before"] = Timestamp.string(Date(timeIntervalSince1970: n)) }
                        print(String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self))
                        continue
                    }
                    var line = "\(e.id)  \(e.status)  \(e.rendered)/\(e.target) leads"
                    if e.source == "run" { line += "  (run)" }
                    if let n = e.notBefore { line += "  until \(Timestamp.string(Date(timeIntervalSince1970: n)))" }
                    if let m = e.message { line += "  \(TextCleaning.truncate(TextCleaning.oneLine(m), to: 120))" }
                    print(line)
                }
                if !QueueWorker.alive(queue), try queue.jobs(limit: nil).contains(where: { $0.status == .queued || $0.status == .sleeping }) {
                    say("warning: no worker is running; start one with `cmo-plan worker`")
                }
                return .ok
            }
        }

        /// Leads rendered so far: the last finished render-copy's output.
        static func rendered(_ s: RunState) -> Int { s.steps.last { $0.stage == "render-copy" && $0.status == .done }?.counts["out"] ?? 0 }

        /// The jobs run with `cmo-plan run` (or `resume`): every folder of `runs` with a readable state.json
        /// that the queue does not hold, with the status it says. A job marked running whose process is gone
        /// is said to be so (`resume` continues it).
        static func runDirectories(_ runs: URL, except: Set<String>) -> [Entry] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: runs.path)) ?? []
            var out: [Entry] = []
            for name in names where !name.hasPrefix(".") && !except.contains(name) {
                let dir = RunDirectory(runs: runs, jobID: name)
                guard let s = try? dir.load() else { continue }
                var status = s.status.rawValue
                var message = s.waitReason ?? s.pauseReason ?? s.errors.last
                if s.status == .running, let pid = s.runnerPID, !ProcessLiveness.isRunning(pid, started: s.runnerStarted) {
                    status = "stopped"
                    message = "it was running and its process (\(pid)) is gone: `cmo-plan resume \(s.jobID)` continues it"
                }
                let created = Timestamp.parse(s.createdAt) ?? Timestamp.parse(s.updatedAt) ?? 0
                out.append(Entry(id: s.jobID, status: status, created: created, rendered: rendered(s), target: s.plan.target, message: message,
                                 notBefore: s.retryAt.flatMap(Timestamp.parse), starts: nil, source: "run", dir: dir.url.path))
            }
            return out
        }
    }

    struct Logs: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A job's milestones (events.ndjson) as text; --follow waits for more until the job ends.")
        @Argument(help: "The job id.") var jobID: String
        @OptionGroup var flags: RunFlags
        @Flag(name: .shortAndLong, help: "Keep printing new events until the job is done, failed or cancelled.") var follow = false
        @Flag(help: "Print the events' JSON lines.") var json = false
        func run() throws {
            try CommandBase.run("cmo-plan") {
                let (dir, _) = try locate(jobID, flags: flags)
                var reader = EventLog.Reader(dir.eventsURL)
                let decoder = JSONDecoder()
                while true {
                    for line in reader.pollLines() {
                        if json { try StandardOutput.write(line + Data([10])); continue }
                        if let e = try? decoder.decode(RunEvent.self, from: line) {
                            try StandardOutput.write("\(e.time) \(e.event.rawValue): \(e.message)\n")
                        }
                    }
                    guard follow else { return .ok }
                    // Done once the job is final and every event written after its state was read.
                    if let s = try? dir.load(), s.status.isFinal, reader.atEnd { return .ok }
                    usleep(200_000)
                }
            }
        }
    }

    struct Pause: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pause a job (its running stages stop at once; finished work is kept); resume continues it.")
        @Argument(help: "The job id.") var jobID: String
        @OptionGroup var flags: RunFlags
        func run() throws {
            try CommandBase.run("cmo-plan") { try control(.pause, jobID, flags: flags) }
        }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a job for good: nothing more is written (what was written stays).")
        @Argument(help: "The job id.") var jobID: String
        @OptionGroup var flags: RunFlags
        func run() throws {
            try CommandBase.run("cmo-plan") { try control(.cancel, jobID, flags: flags) }
        }
    }
}

/// Queues a new job and returns its id.
func submit(goal: GoalOptions, flags: RunFlags, exec: ExecFlags, id: String, output: String?) throws -> String {
    let r = try goal.resolve(config: flags.configPath, now: flags.clock)
    return try submit(r, dryRun: goal.dryRun, flags: flags, exec: exec, id: id, output: output)
}

func submit(_ r: GoalOptions.Resolved, dryRun: Bool, flags: RunFlags, exec: ExecFlags, id: String, output: String?, quiet: Bool = false) throws -> String {
    let queue = try JobQueues.open()
    let (dir, _, _) = try createJob(r, dryRun: dryRun, flags: flags, exec: exec, id: id, output: output)
    r.say()
    var options: [String] = []
    if exec.yes { options.append("--yes") }
    if let m = exec.maxDeadShare { options += ["--max-dead-share", String(m)] }
    for s in exec.stages { options += ["--stage", s] }
    if let c = flags.configPath { options += ["--config", c] }
    try queue.add(QueuedJob(id: id, runsDir: dir.url.deletingLastPathComponent().standardizedFileURL.path, options: options,
                            token: ProcessInfo.processInfo.environment["GITHUB_TOKEN"].map { _ in "set" }))
    if !quiet, !QueueWorker.alive(queue) { say("job \(id) queued; no worker is running: start one with `cmo-plan worker`") }
    return id
}

/// Pause or cancel: a running job is signalled and stops within moments; a queued or sleeping one changes here.
func control(_ action: JobControl, _ id: String, flags: RunFlags) throws -> ExitStatus {
    let (dir, queued) = try locate(id, flags: flags)
    return try JobControl.apply(action, dir: dir, queued: queued != nil, say: say)
}
