import CMOContract
import CMOBasics
import CMOStorage
import Foundation

/// One stage run of a job: what was spawned, on what, with what result.
public struct StepRecord: Codable, Sendable {
    public enum Status: String, Codable, Sendable { case pending, running, done, failed }
    public var n: Int
    public var stage: String
    /// What runs: the stage's typed options (cmo-plan adds --config, --dead-letter and --log-format).
    public var invocation: StageInvocation?
    /// The same as argv, for people and scripts reading state.json (a state written before invocations
    /// were typed has only this).
    public var arguments: [String]
    /// The artifact (run-directory relative) read on stdin, if any.
    public var input: String?
    /// This step's output, `artifacts/NN-<stage>.ndjson`.
    public var artifact: String
    public var log: String
    public var status: Status = .pending
    public var exitStatus: Int32?
    /// Records in, out, filtered, dead-lettered and HTTP requests, from the stage's summary line.
    public var counts: [String: Int] = [:]
    /// Which discovery pass this step belongs to (0, then one per widening).
    public var widenStep: Int = 0
    public var pid: Int32?
    /// When that process started (/proc), so that a resume never kills a later process with the same pid.
    public var pidStarted: UInt64?
    public var startedAt: String?
    public var finishedAt: String?
    public var seconds: Double?
    /// The stage printed no summary (a fake): `counts` holds only what the runner counted itself.
    public var summaryMissing: Bool?

    /// The step's invocation (read from its argv for a state written before invocations were typed).
    public var call: StageInvocation { invocation ?? StageInvocation(stage: stage, argv: arguments) }
}

extension StepRecord {
    /// Step `n` running `invocation`, its artifact and log named after it (`artifacts/NN-<stage>.ndjson`).
    public init(n: Int, invocation: StageInvocation, input: String? = nil, widenStep: Int = 0) {
        let name = String(format: "%02d-%@", n, invocation.stage)
        self.n = n
        self.stage = invocation.stage
        self.invocation = invocation
        self.arguments = invocation.arguments
        self.input = input
        self.artifact = "artifacts/\(name).ndjson"
        self.log = "logs/\(name).log"
        self.widenStep = widenStep
    }
}

/// One widening of the search after too few leads passed.
public struct Widening: Codable, Sendable {
    public var step: Int
    public var reason: String
    public var activeDays: Int
    public var minStars: Int?
    public var topics: [String]
    public var maxRepos: Int
    public var maxPeople: Int
    /// Who agreed to go past the goal (the window, the star floor or the topics): "the job (widen)", "the
    /// terminal", "the chat", "cmo-plan widen (NAME)". Nil for a widening that only searches more
    /// repositories and people within the goal, which needs no one's consent.
    public var by: String?
    /// How many more leads the person was told to expect, if an estimate could be made.
    public var expected: Int?

    /// Whether it goes past what the goal says (than the widening `from`, or the plan when none).
    public func goesPastGoal(from days: Int, stars: Int?, topics: [String]) -> Bool {
        activeDays > days || (minStars ?? 0) < (stars ?? 0) || topics.contains { !self.topics.contains($0) }
    }
}

/// What a writer's `--check` found before any request of the job: its target resolved, warnings, and
/// for send-instantly the facts the schedule is made of (the daily cap, leads already sent today, leads
/// deferred and waiting).
public struct PreflightCheck: Codable, Sendable {
    public struct Target: Codable, Sendable {
        public var given: String
        public var id: String?
        public var name: String?
    }
    public var stage: String?
    public var check: String?
    public var target: Target?
    public var warnings: [String]?
    public var dailyCap: Int?
    public var sentToday: Int?
    public var deferred: Int?

    enum CodingKeys: String, CodingKey {
        case stage, check, target, warnings, dailyCap = "daily_cap", sentToday = "sent_today", deferred
    }
}

/// The whole state of a job, `runs/<job_id>/state.json`, written atomically after every step.
public struct RunState: Codable, Sendable {
    public enum Status: String, Codable, Sendable {
        case planned, running, awaitingApproval = "awaiting_approval", done, failed
        /// Stopped by a person (`pause`, Ctrl-C, SIGTERM) or by triage: `resume` continues it.
        case paused
        /// Stopped for good by `cancel`.
        case cancelled
        /// Waiting for a rate limit's reset or a GitHub token another job holds (`retry_at`); a worker resumes it then.
        case waiting

        /// The job will not run again by itself.
        public var isFinal: Bool { self == .done || self == .failed || self == .cancelled }
    }
    public var jobID: String
    public var goal: String?
    /// Who read the goal: "rule", or "model NAME"; and why the rule parser took over from the model, if it did.
    public var parser: String?
    public var parserFallback: String?
    /// Where the CSV is copied when the run is healthy (`--output`, absolute), and the dead-letter share
    /// over which it is not (`--max-dead-share`).
    public var output: String?
    public var maxDeadShare: Double?
    /// The campaign config every stage is given (absolute path).
    public var config: String?
    public var job: Job
    public var plan: Plan
    public var status: Status = .planned
    public var steps: [StepRecord] = []
    public var widenings: [Widening] = []
    public var approval: Approval?
    /// A widening past the goal put to a person and not yet answered (the job stops at the gate meanwhile).
    public var proposal: Widening?
    /// Who said no to widening past the goal ("--yes without --widen", "the terminal", "cmo-plan approve
    /// (NAME)"): the job finishes short and says by how much.
    public var widenDeclined: String?
    /// What the writers' `--check` found at the last preflight.
    public var checks: [PreflightCheck]?
    /// The model planner's conversation (empty for the rule planner).
    public var turns: [PlannerTurn] = []
    /// Answers of the model refused in a row; at `Runner.maxStrikes` the rule planner takes over.
    public var strikes = 0
    /// Why the rule planner took over from the model, if it did.
    public var plannerFallback: String?
    public var errors: [String] = []
    public var summary: String?
    /// When a waiting job may go on (ISO 8601), and why it waits.
    public var retryAt: String?
    public var waitReason: String?
    /// Why the job is paused (a person, or triage's figures), and when triage lets it go on by itself.
    public var pauseReason: String?
    public var resumeAt: String?
    /// What triage filed, each time it paused the writers.
    public var triage: [Triage]?
    /// A person's go-ahead past the bounce guard (Runner+BounceGuard): it trips again only on newer bounces.
    public var bounceAck: BounceAcknowledgement?
    /// How many lines of amendments.ndjson (chat follow-ups: a new target, no sends) have been applied.
    public var amendments: Int?
    /// The cmo-plan process running the job now (and when it started), so `pause` and `cancel` can reach it.
    public var runnerPID: Int32?
    public var runnerStarted: UInt64?
    public var createdAt: String
    public var updatedAt: String

    public init(jobID: String, goal: String?, job: Job, plan: Plan, createdAt: String, updatedAt: String) {
        self.jobID = jobID
        self.goal = goal
        self.job = job
        self.plan = plan
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// One triage: what spiked, what was filed in Linear, and the file of the errors.
    public struct Triage: Codable, Sendable {
        public var at: String
        public var stage: String
        public var reason: String
        public var errors: String
        public var linear: String?
    }

    public struct Approval: Codable, Sendable {
        public var at: String
        public var by: String
        public var sideEffects: [SideEffect]

        public init(at: String, by: String, sideEffects: [SideEffect]) {
            self.at = at
            self.by = by
            self.sideEffects = sideEffects
        }
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", goal, parser, parserFallback = "parser_fallback", output, maxDeadShare = "max_dead_share", config, job, plan, status, steps, widenings, approval, proposal, widenDeclined = "widen_declined", checks, turns, strikes
        case plannerFallback = "planner_fallback", errors, summary
        case retryAt = "retry_at", waitReason = "wait_reason", pauseReason = "pause_reason", resumeAt = "resume_at", triage, amendments, bounceAck = "bounce_ack"
        case runnerPID = "runner_pid", runnerStarted = "runner_started"
        case createdAt = "created_at", updatedAt = "updated_at"
    }

    /// The last finished step of a stage.
    public func lastDone(_ stage: String) -> StepRecord? { steps.last { $0.stage == stage && $0.status == .done } }

    /// A writer's campaign, list or team from here on: the job's, the plan's, the steps not run yet and
    /// the side effects. Returns the option it sets (nil for a stage that is not a writer).
    @discardableResult
    public mutating func retarget(_ stage: String, to value: String) -> String? {
        let option: String
        let old: String?
        switch stage {
        case StageRegistry.sendInstantly.name: (option, old) = ("campaign", job.instantlyCampaign); job.instantlyCampaign = value
        case StageRegistry.syncAttio.name: (option, old) = ("list", job.attioList); job.attioList = value
        case StageRegistry.syncLinear.name: (option, old) = ("team", job.linearTeam); job.linearTeam = value
        default: return nil
        }
        for i in plan.stages.indices where plan.stages[i].stage == stage { plan.stages[i].invocation.set(option, .text(value)) }
        for i in steps.indices where steps[i].stage == stage && steps[i].status != .done {
            var call = steps[i].call
            call.set(option, .text(value))
            steps[i].invocation = call
            steps[i].arguments = call.arguments
        }
        for i in plan.sideEffects.indices where plan.sideEffects[i].target == old { plan.sideEffects[i].target = value }
        return option
    }
}

/// A job's run directory: state.json, artifacts/, logs/, events.ndjson, dead-letters.ndjson, exports/.
public struct RunDirectory: Sendable {
    public let url: URL
    public init(runs: URL, jobID: String) { url = runs.appendingPathComponent(jobID, isDirectory: true) }
    public init(url: URL) { self.url = url }

    public var stateURL: URL { url.appendingPathComponent("state.json") }
    public var eventsURL: URL { url.appendingPathComponent("events.ndjson") }
    public var deadLettersURL: URL { url.appendingPathComponent("dead-letters.ndjson") }
    public func path(_ relative: String) -> URL { url.appendingPathComponent(relative) }

    public func create() throws {
        for sub in ["artifacts", "logs", "exports"] {
            try FileManager.default.createDirectory(at: url.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
    }

    public var exists: Bool { FileManager.default.fileExists(atPath: stateURL.path) }

    /// The job's lock: one process runs or changes a job at a time (held until released or the process ends).
    public func lock() -> FileLock.Outcome { FileLock.tryLock(path("lock").path) }

    public func load() throws -> RunState {
        let data = try Data(contentsOf: stateURL)
        return try JSONDecoder().decode(RunState.self, from: data)
    }

    /// Replaces the file at `url` with `data` through a temporary file and a rename (a kill leaves the
    /// old or the new one), not fsynced (see `save`).
    public static func replace(_ url: URL, with data: Data) throws {
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        try writeUnsynced(data, to: tmp.path)
        guard rename(tmp.path, url.path) == 0 else {
            throw StageFailure(.failure, "cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
    }

    /// Writes `data` to `path` (created or truncated, mode 0644) with write(2) and no fsync.
    static func writeUnsynced(_ data: Data, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IOFailure.file(path, errno: errno, doing: "write", otherwise: .failure) }
        defer { close(fd) }
        try data.withUnsafeBytes { (b: UnsafeRawBufferPointer) in
            var off = 0
            while off < b.count {
                let n = write(fd, b.baseAddress! + off, b.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw IOFailure.write(path, errno: errno)  // a full disk: 74
                }
                off += n
            }
        }
    }

    /// Writes state.json through a temporary file and a rename, so a kill leaves the old or the new one. It is
    /// not fsynced: after a power loss an older state at worst runs a step again, which the writers' ledger
    /// (itself durable) makes harmless; a kill -9 loses nothing, as the page cache outlives the process.
    public func save(_ state: RunState) throws {
        var state = state
        state.updatedAt = Timestamp.string()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // write(2), not Data.write: Foundation's fsyncs on Linux, and that fsync was most of a step's cost.
        try Self.replace(stateURL, with: try encoder.encode(state))
    }
}
