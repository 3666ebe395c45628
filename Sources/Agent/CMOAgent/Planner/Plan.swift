import CMOContract
import CMOBasics
import Foundation

/// Something the run will change outside this machine.
public struct SideEffect: Codable, Sendable {
    public var service: String
    public var action: String
    public var target: String
    /// Records it concerns (at most, before the run; the real count at the approval gate).
    public var count: Int
    public var dryRun: Bool

    enum CodingKeys: String, CodingKey { case service, action, target, count, dryRun = "dry_run" }

    public var text: String {
        "\(service): \(action) \(target) (\(count) at most)\(dryRun ? " — dry run: nothing is written" : "")"
    }
}

/// Requests a run is expected to make of one service, and the quota they use.
public struct ExpectedRequests: Codable, Sendable {
    public var service: String
    public var requests: Int
    public var quota: String
}

/// The caps every planner is held to.
public struct Caps: Codable, Sendable {
    public var maxSteps: Int
    public var maxRepos: Int
    public var maxPeople: Int
    public var maxWidenings: Int
    /// Calls of each stage at most: a discovery stage once per pass, a writer and the export once.
    public var perTool: [String: Int]

    enum CodingKeys: String, CodingKey {
        case maxSteps = "max_steps", maxRepos = "max_repos", maxPeople = "max_people", maxWidenings = "max_widenings"
        case perTool = "per_tool"
    }
}

/// What will run: the stages with their arguments, the caps, the expected requests and every side effect.
public struct Plan: Codable, Sendable {
    /// "rule", or "model" (then `model` names it and the stages below are its fallback).
    public var planner: String
    public var model: String?
    public var target: Int
    public var activeDays: Int
    public var minStars: Int?
    /// Repositories and people of the first discovery pass (each widening doubles them, up to the caps).
    public var maxRepos: Int
    public var maxPeople: Int
    /// The time the windows count back from (--now), passed on to the stages.
    public var now: String?
    public var caps: Caps
    /// The first discovery pass and the writers, as the rule planner starts them.
    public var stages: [PlannedStage]
    public var expected: [ExpectedRequests]
    public var sideEffects: [SideEffect]
    /// The yields the caps were derived from.
    public var yields: Yields

    enum CodingKeys: String, CodingKey {
        case planner, model, target, activeDays = "active_days", minStars = "min_stars", maxRepos = "max_repos", maxPeople = "max_people", now, caps, stages, expected
        case sideEffects = "side_effects", yields
    }

    /// A stage of the plan: its typed invocation, and whether it writes outside the machine.
    public struct PlannedStage: Codable, Sendable {
        public var invocation: StageInvocation
        public var irreversible: Bool
        public var stage: String { invocation.stage }
        /// argv, as the stage will be spawned (kept in state.json for people and scripts).
        public var arguments: [String] { invocation.arguments }

        public init(_ invocation: StageInvocation, irreversible: Bool) {
            self.invocation = invocation
            self.irreversible = irreversible
        }

        enum CodingKeys: String, CodingKey { case stage, arguments, invocation, irreversible }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            irreversible = try c.decode(Bool.self, forKey: .irreversible)
            // A plan saved before invocations were typed has the argv only.
            invocation = try c.decodeIfPresent(StageInvocation.self, forKey: .invocation)
                ?? StageInvocation(stage: try c.decode(String.self, forKey: .stage), argv: try c.decode([String].self, forKey: .arguments))
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(stage, forKey: .stage)
            try c.encode(arguments, forKey: .arguments)
            try c.encode(invocation, forKey: .invocation)
            try c.encode(irreversible, forKey: .irreversible)
        }
    }

    /// The planned invocation of a stage (the first discovery pass's, for a read stage).
    public func planned(_ stage: String) -> StageInvocation? { stages.first { $0.stage == stage }?.invocation }

    /// Leads per repository and per person, measured on earlier runs (or the demo's figures).
    public struct Yields: Codable, Sendable {
        public var leadsPerRepo: Double
        public var leadsPerPerson: Double
        public var githubRequestsPerLead: Double
        public var source: String
        public init(leadsPerRepo: Double, leadsPerPerson: Double, githubRequestsPerLead: Double, source: String) {
            self.leadsPerRepo = leadsPerRepo
            self.leadsPerPerson = leadsPerPerson
            self.githubRequestsPerLead = githubRequestsPerLead
            self.source = source
        }
        enum CodingKeys: String, CodingKey {
            case leadsPerRepo = "leads_per_repo", leadsPerPerson = "leads_per_person"
            case githubRequestsPerLead = "github_requests_per_lead", source
        }
    }
}

/// The options cmo-plan gives the run itself (not the job's).
public struct RunOptions: Sendable {
    public var config: String?
    public var now: String?
    public var jobID: String
    public var dryRun: Bool
    public init(config: String?, now: String?, jobID: String, dryRun: Bool) {
        self.config = config
        self.now = now
        self.jobID = jobID
        self.dryRun = dryRun
    }
}

/// The embedded, deterministic planner: the same job gives the same plan.
public enum RulePlanner {
    public static let defaultTarget = 200
    public static let defaultActiveDays = 90

    /// The yields measured so far (CMO_STATE_DIR/yields.json, written after every run), else the demo's.
    public static func yields(stateDirectory: URL?) -> Plan.Yields {
        if let dir = stateDirectory, let data = try? Data(contentsOf: dir.appendingPathComponent("yields.json")),
            let y = try? JSONDecoder().decode(Plan.Yields.self, from: data), y.leadsPerRepo > 0, y.leadsPerPerson > 0
        {
            return y
        }
        // pipelines/demo.sh on the sandbox (seed 42): 200 leads from 600 repositories and 600 people searched.
        return .init(leadsPerRepo: 0.33, leadsPerPerson: 0.33, githubRequestsPerLead: 0.04, source: "built-in (the demo's yield)")
    }

    public static func plan(_ job: Job, options: RunOptions, yields: Plan.Yields) -> Plan {
        let target = job.target ?? defaultTarget
        let days = job.activeDays ?? defaultActiveDays
        // Enough repositories and people for the target at the measured yield, twice over, for the widenings.
        let repos = min(20_000, max(50, Int((Double(target) / yields.leadsPerRepo * 1.5).rounded(.up))))
        let people = min(40_000, max(50, Int((Double(target) / yields.leadsPerPerson * 1.5).rounded(.up))))
        let widenings = 3
        var perTool = Dictionary(uniqueKeysWithValues: StageRegistry.readNames.map { ($0, widenings + 1) })
        for w in StageRegistry.writerNames.union([StageRegistry.exportCSV.name]) { perTool[w] = 1 }
        let caps = Caps(maxSteps: 40, maxRepos: repos * 4, maxPeople: people * 4, maxWidenings: widenings, perTool: perTool)
        let dry = options.dryRun || job.dryRun == true
        var stages = discovery(job, options: options, activeDays: days, minStars: job.minStars, topics: job.topics ?? [],
                               maxRepos: repos, maxPeople: people, target: target)
            .map { Plan.PlannedStage($0, irreversible: false) }
        stages += writerSteps(job, options: options, hasDeadLetters: true)
            .map { Plan.PlannedStage($0, irreversible: StageRegistry.writerNames.contains($0.stage) && !dry) }
        var effects: [SideEffect] = []
        if let c = job.instantlyCampaign {
            effects.append(.init(service: "Instantly", action: "add leads to campaign", target: c, count: target, dryRun: dry))
        }
        if let l = job.attioList {
            effects.append(.init(service: "Attio", action: "assert people, add them to list, one note each, in", target: l, count: target, dryRun: dry))
        }
        if let t = job.linearTeam {
            effects.append(.init(service: "Linear", action: "file the run's dead letters (one parent, a child per error) in team", target: t, count: 1, dryRun: dry))
        }
        if job.export == true || (job.instantlyCampaign == nil && job.attioList == nil) {
            effects.append(.init(service: "file", action: "write the CSV", target: "runs/\(options.jobID)/exports/leads.csv", count: target, dryRun: false))
        }
        let searchPages = (repos + 99) / 100
        var expected = [
            ExpectedRequests(
                service: "GitHub", requests: searchPages + Int((Double(target) * yields.githubRequestsPerLead).rounded(.up)) + (people + 99) / 100,
                quota: "search 30/min (\(searchPages) pages), GraphQL 5,000 points/h"),
        ]
        if job.instantlyCampaign != nil {
            expected.append(.init(service: "Instantly", requests: 3 + (target + 999) / 1000, quota: "100/s, 6,000/min"))
        }
        if job.attioList != nil { expected.append(.init(service: "Attio", requests: 4 + target * 3, quota: "25 writes/s, 100 reads/s")) }
        if job.linearTeam != nil { expected.append(.init(service: "Linear", requests: 3, quota: "1,500 requests/h per key (complexity aside)")) }
        return Plan(planner: "rule", target: target, activeDays: days, minStars: job.minStars, maxRepos: repos, maxPeople: people,
                    now: options.now, caps: caps, stages: stages,
                    expected: expected, sideEffects: effects, yields: yields)
    }

    /// The discovery pass: search → people → enrich → verify → score → copy.
    public static func discovery(
        _ job: Job, options: RunOptions, activeDays: Int, minStars: Int?, topics: [String], maxRepos: Int, maxPeople: Int, target: Int
    ) -> [StageInvocation] {
        let languages = job.languages ?? []
        var search = StageInvocation("gh-search")
        // One --language each: gh-search searches them one by one and merges (GitHub would AND them in one query).
        search.set("language", texts: languages)
        search.set("topic", texts: topics)
        if let s = minStars { search.set("min-stars", .int(s)) }
        search.set("active-days", .int(activeDays))
        search.set("max-repos", .int(maxRepos))
        var people = StageInvocation("gh-people", [.init("since-days", .int(activeDays)), .init("max-people", .int(maxPeople))])
        var score = StageInvocation("score-icp", [.init("top", .int(target))])
        score.options += languages.map { .init("language", .text($0)) } + (job.topics ?? []).map { .init("topic", .text($0)) }
        if let now = options.now {
            search.set("now", .text(now))
            people.set("now", .text(now))
            score.set("as-of", .text(now))
        }
        return [
            // A lead needs a best email that is risky or better (pipelines/discover.sh's default too).
            search, people, StageInvocation("gh-enrich"), StageInvocation("mx-check", [.init("min-verdict", .text("risky"))]), score,
            StageInvocation("render-copy", [.init("require-unsubscribe", .flag)]),
        ]
    }

    /// The first pass's search and people stages amended by a widening: the window, the star floor, the
    /// topics and the caps it names (the other stages of the pass are the plan's as they are).
    public static func widened(_ pass: [StageInvocation], by w: Widening) -> [StageInvocation] {
        pass.map { s in
            var s = s
            switch s.stage {
            case StageRegistry.ghSearch.name:
                s.set("topic", texts: w.topics)
                s.set("min-stars", w.minStars.map { .int($0) })
                s.set("active-days", .int(w.activeDays))
                s.set("max-repos", .int(w.maxRepos))
            case StageRegistry.ghPeople.name:
                s.set("since-days", .int(w.activeDays))
                s.set("max-people", .int(w.maxPeople))
            default: break
            }
            return s
        }
    }

    static func quoted(_ s: String) -> String { s.contains(" ") ? "\"\(s)\"" : s }

    /// The writers and the export, in order: Instantly → Attio → Linear → CSV.
    public static func writerSteps(_ job: Job, options: RunOptions, hasDeadLetters: Bool) -> [StageInvocation] {
        let dry = options.dryRun || job.dryRun == true
        var steps: [StageInvocation] = []
        if let c = job.instantlyCampaign {
            var a = StageInvocation("send-instantly", [.init("campaign", .text(c))])
            if let now = options.now { a.set("now", .text(now)) }
            if dry { a.set("dry-run", .flag) }
            steps.append(a)
        }
        if let l = job.attioList {
            var a = StageInvocation("sync-attio", [.init("list", .text(l)), .init("job", .text(options.jobID))])
            if job.instantlyCampaign != nil { a.set("only-status", .text(dry ? WriterStatus.dryRun.rawValue : WriterStatus.queued.rawValue)) }
            if dry { a.set("dry-run", .flag) }
            steps.append(a)
        }
        if let t = job.linearTeam, hasDeadLetters {
            var a = StageInvocation("sync-linear", [.init("team", .text(t)), .init("job", .text(options.jobID))])
            if dry { a.set("dry-run", .flag) }
            steps.append(a)
        }
        if job.export == true || (job.instantlyCampaign == nil && job.attioList == nil) {
            var columns = "login,name,best_email,score,company,location,signals.repo,signals.repo_language,signals.repo_stars"
            if job.instantlyCampaign != nil { columns += ",instantly.status" }
            steps.append(StageInvocation("export-csv", [
                .init("-o", .text("exports/leads.csv")), .init("columns", .text(columns)), .init("column", .text("subject=.copy.subject")),
                .init("column", .text("body=.copy.body")), .init("column", .text("variant=.copy.variant")),
            ]))
        }
        return steps
    }
}
