import ArgumentParser
import CMOAgent
import CMOBasics
import CMOContract
import CMOStageKit
import CMOStorage
import Foundation

// Lost state, noticed and recovered (issue 27): `rebuild-ledger` (the write ledger from what the services
// hold), `accept-state` (a state database taken as it is, knowingly), and a run directory whose state.json
// is gone made resumable again from job.json / report.json, events.ndjson and its artifacts.

extension CMOPlan {
    struct RebuildLedger: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rebuild-ledger",
            abstract: "Rebuild the write ledger from what Instantly, Attio and Linear hold, and accept it as the state directory's.",
            discussion: """
                Runs each writer whose target is given (or set in --config / the environment) with --rebuild-ledger: \
                send-instantly reads the campaign's leads (POST /api/v2/leads/list), sync-attio the notes carrying a \
                `cmo-key:` line and, with a list, its entries and their people, sync-linear the team's issues whose ids \
                sync-linear derived from its keys. Each found write is recorded `confirmed` (on the day the service made \
                it, so that day's cap counts it); re-runs then write nothing twice. Prints one JSON object per writer on \
                stdout. Nothing is written to the services. Exit: the worst writer's status (0 when all rebuilt).
                """)
        @Option(help: ArgumentHelp("The Instantly campaign (id or name) whose leads to read.", valueName: "id")) var campaign: String?
        @Option(help: ArgumentHelp("The Attio list (id or slug) whose entries to read (notes are read in any case).", valueName: "id")) var list: String?
        @Option(help: ArgumentHelp("The Linear team (key or id) whose issues to read.", valueName: "key")) var team: String?
        @Flag(help: "Read Attio's notes even without --list.") var attio = false
        @Option(help: ArgumentHelp("The campaign config the writers read (default CMO_CONFIG).", valueName: "file")) var config: String?
        @Option(name: .customLong("stage"), help: ArgumentHelp("Replace a stage's command (NAME=CMD).", valueName: "name=cmd"))
        var stages: [String] = []

        func run() throws {
            try CommandBase.run("cmo-plan") {
                var overrides: [String: String] = [:]
                for s in stages {
                    guard let eq = s.firstIndex(of: "=") else { throw StageFailure(.usage, "--stage \(s): expected NAME=CMD") }
                    overrides[String(s[..<eq])] = String(s[s.index(after: eq)...])
                }
                let configPath = config ?? ProcessInfo.processInfo.environment["CMO_CONFIG"]
                var runs: [(String, [String])] = []
                if let campaign { runs.append(("send-instantly", ["--campaign", campaign])) }
                if let list { runs.append(("sync-attio", ["--list", list])) } else if attio { runs.append(("sync-attio", [])) }
                if let team { runs.append(("sync-linear", ["--team", team])) }
                guard !runs.isEmpty else {
                    throw StageFailure(.usage, "say what to read: --campaign ID (Instantly), --list ID or --attio (Attio), --team KEY (Linear)")
                }
                var worst = ExitStatus.ok
                for (stage, args) in runs {
                    let cmd = try StageLocator.command(
                        for: stage, overrides: overrides,
                        arguments: ["--rebuild-ledger"] + (configPath.map { ["--config", $0] } ?? []) + args)
                    let p = Process()
                    p.executableURL = URL(fileURLWithPath: cmd.executable)
                    p.arguments = cmd.arguments
                    try p.run()
                    p.waitUntilExit()
                    let status = ExitStatus(rawValue: p.terminationStatus) ?? .failure
                    if status != .ok, worst == .ok { worst = status }
                }
                if worst == .ok {
                    let missing = [("--campaign", campaign), ("--list/--attio", list ?? (attio ? "" : nil)), ("--team", team)].filter { $0.1 == nil }.map(\.0)
                    if !missing.isEmpty {
                        say("not read: \(missing.joined(separator: ", ")) (rows of those services stay as the ledger has them)")
                    }
                }
                return worst
            }
        }
    }

    struct AcceptState: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "accept-state",
            abstract: "Accept a state database that lost its history (ledger, suppression, jobs) as it is now, knowingly.",
            discussion: """
                The writers and cmo-plan refuse (78) a write ledger, suppression list or job queue that is not the one \
                CMO_STATE_DIR/state-anchor.json recorded (emptied, truncated, replaced, copied from another machine, an \
                older copy). This makes the anchor take the file as it is. For the ledger, prefer `cmo-plan \
                rebuild-ledger` (it reads the services first): an empty ledger accepted here lets every lead be sent again.
                """)
        @Argument(help: "ledger, suppression or jobs") var name: [String]

        func run() throws {
            try CommandBase.run("cmo-plan") {
                let dir = try StateDirectory.ensure()
                for n in name {
                    guard let t = StateAnchor.all.first(where: { $0.name == n || $0.file == n }) else {
                        throw StageFailure(.usage, "accept-state takes ledger, suppression or jobs (not '\(n)')")
                    }
                    let before = try StateAnchor.entries(directory: dir)[t.file]
                    let now = try StateAnchor.adopt(directory: dir, t)
                    say("\(t.what) '\(dir)/\(t.file)' accepted as it is: "
                        + (now.map { "database \($0.id.prefix(8)), \($0.generation) rows written" } ?? "no file (it will be created)")
                        + (before.map { "; it replaces database \($0.id.prefix(8)) (\($0.generation) rows written)" } ?? ""))
                }
                return .ok
            }
        }
    }
}

/// A run directory whose state.json is gone, made resumable: the job's first state from `job.json` (written
/// when the job was made) or, for a run made before it, the goal of `report.json` planned again; the steps
/// done from `events.ndjson` (step_done) whose artifacts are there; the approval from an `approved` event.
enum RunRecovery {
    static let jobFile = "job.json"

    /// Writes the job's first state once (what a lost state.json is rebuilt from).
    static func recordJob(_ dir: RunDirectory, _ state: RunState) {
        let url = dir.path(jobFile)
        guard !FileManager.default.fileExists(atPath: url.path) else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        if let data = try? encoder.encode(state) { try? RunDirectory.replace(url, with: data) }
    }

    /// When `dir` exists but its state.json does not, rebuilds and saves it, and says what was rebuilt.
    static func restoreIfMissing(_ dir: RunDirectory, id: String, flags: RunFlags) throws {
        var isDir: ObjCBool = false
        guard !dir.exists, FileManager.default.fileExists(atPath: dir.url.path, isDirectory: &isDir), isDir.boolValue else { return }
        let events = EventLog.read(dir.eventsURL)
        var sources: [String] = []
        var state: RunState
        var reportSteps: [Int: [String]] = [:]
        if let data = FileManager.default.contents(atPath: dir.path(jobFile).path), let first = try? JSONDecoder().decode(RunState.self, from: data) {
            state = first
            sources.append(jobFile)
        } else if let data = FileManager.default.contents(atPath: dir.path("report.json").path),
            let report = try? JSONDecoder().decode(RunReport.self, from: data), let goal = report.goal
        {
            let options = try GoalOptions.parse([goal])
            let r = try options.resolve(config: flags.configPath, now: flags.clock)
            let plan = try makePlan(r.job, flags: flags, jobID: id, dryRun: false)
            state = RunState(jobID: id, goal: goal, job: r.job, plan: plan, createdAt: report.createdAt ?? Timestamp.string(), updatedAt: Timestamp.string())
            state.config = flags.configPath
            for s in report.steps { reportSteps[s.n] = s.arguments }
            sources.append("report.json (the goal, planned again\(flags.configPath == nil ? ", no --config" : " with --config"))")
        } else {
            throw StageFailure(
                .usage,
                "job \(id): \(dir.stateURL.path) is gone and neither \(jobFile) nor report.json in \(dir.url.path) says what the job was; "
                    + "its artifacts and events are there but cannot be continued without the job: restore state.json from a backup")
        }
        // The steps done, in order, while each has its artifact: step_done events by step number.
        var done: [Int: RunEvent] = [:]
        for e in events where e.event == .stepDone { if let n = e.step { done[n] = e } }
        state.steps = []
        var n = 1
        while let e = done[n], let stage = e.stage {
            let invocation = reportSteps[n].map { StageInvocation(stage: stage, argv: $0) } ?? state.plan.planned(stage)
                ?? StageInvocation(stage: stage, argv: [])
            var step = StepRecord(n: n, invocation: invocation, widenStep: e.widenStep ?? 0)
            guard FileManager.default.fileExists(atPath: dir.path(step.artifact).path) else { break }
            step.status = .done
            step.exitStatus = 0
            step.counts = e.counts ?? ["out": RunArtifacts.lineCount(dir.path(step.artifact))]
            step.finishedAt = e.time
            state.steps.append(step)
            n += 1
        }
        if !events.isEmpty { sources.append("events.ndjson") }
        if let approved = events.last(where: { $0.event == .approved }) {
            state.approval = RunState.Approval(
                at: approved.time, by: "reconstructed from events.ndjson (\(approved.message))", sideEffects: state.plan.sideEffects)
        }
        state.status = .paused
        state.pauseReason = "state.json was rebuilt from \(sources.joined(separator: ", "))"
        try dir.save(state)
        let stages = state.steps.map(\.stage).joined(separator: ", ")
        let text = "job \(id): state.json was missing; rebuilt it from \(sources.joined(separator: " and ")): \(state.steps.count) steps done"
            + (stages.isEmpty ? "" : " (\(stages))") + (state.approval != nil ? ", approved" : ", not approved yet (the gate asks again)")
            + "; continuing at step \(state.steps.count + 1) under job id \(id), so the ledger's keys are the same and nothing is written twice"
        say(text)
        Runner.appendEvent(dir: dir, jobID: id, .warning, text)
    }
}
