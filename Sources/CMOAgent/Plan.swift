import CMOCore
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

    public struct PlannedStage: Codable, Sendable {
        public var stage: String
        public var arguments: [String]
        public var irreversible: Bool
    }

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
    public static let readStages = ["gh-search", "gh-people", "gh-enrich", "mx-check", "score-icp", "render-copy"]
    public static let writers: Set<String> = ["send-instantly", "sync-attio", "sync-linear"]
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
        var perTool = Dictionary(uniqueKeysWithValues: readStages.map { ($0, widenings + 1) })
        for w in writers.union(["export-csv"]) { perTool[w] = 1 }
        let caps = Caps(maxSteps: 40, maxRepos: repos * 4, maxPeople: people * 4, maxWidenings: widenings, perTool: perTool)
        let dry = options.dryRun || job.dryRun == true
        var stages = discovery(job, options: options, activeDays: days, minStars: job.minStars, topics: job.topics ?? [],
                               maxRepos: repos, maxPeople: people, target: target)
            .map { Plan.PlannedStage(stage: $0.stage, arguments: $0.arguments, irreversible: false) }
        stages += writerSteps(job, options: options, hasDeadLetters: true)
            .map { Plan.PlannedStage(stage: $0.stage, arguments: $0.arguments, irreversible: writers.contains($0.stage) && !dry) }
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
    ) -> [(stage: String, arguments: [String])] {
        let languages = job.languages ?? []
        var search: [String] = []
        if languages.count == 1 {
            search += ["--language", languages[0]]
        } else if languages.count > 1 {
            search += ["--query", languages.map { "language:\(quoted($0))" }.joined(separator: " ")]
        }
        for t in topics { search += ["--topic", t] }
        if let s = minStars { search += ["--min-stars", String(s)] }
        search += ["--active-days", String(activeDays), "--max-repos", String(maxRepos)]
        var people = ["--since-days", String(activeDays), "--max-people", String(maxPeople)]
        var score = ["--top", String(target)]
        for l in languages { score += ["--language", l] }
        for t in job.topics ?? [] { score += ["--topic", t] }
        if let now = options.now {
            search += ["--now", now]
            people += ["--now", now]
            score += ["--as-of", now]
        }
        return [
            // A lead needs a best email that is risky or better (pipelines/discover.sh's default too).
            ("gh-search", search), ("gh-people", people), ("gh-enrich", []), ("mx-check", ["--min-verdict", "risky"]), ("score-icp", score),
            ("render-copy", ["--require-unsubscribe"]),
        ]
    }

    static func quoted(_ s: String) -> String { s.contains(" ") ? "\"\(s)\"" : s }

    /// The writers and the export, in order: Instantly → Attio → Linear → CSV.
    public static func writerSteps(_ job: Job, options: RunOptions, hasDeadLetters: Bool) -> [(stage: String, arguments: [String])] {
        let dry = options.dryRun || job.dryRun == true
        var steps: [(String, [String])] = []
        if let c = job.instantlyCampaign {
            var a = ["--campaign", c]
            if let now = options.now { a += ["--now", now] }
            if dry { a.append("--dry-run") }
            steps.append(("send-instantly", a))
        }
        if let l = job.attioList {
            var a = ["--list", l, "--job", options.jobID]
            if job.instantlyCampaign != nil { a += ["--only-status", dry ? "dry_run" : "queued"] }
            if dry { a.append("--dry-run") }
            steps.append(("sync-attio", a))
        }
        if let t = job.linearTeam, hasDeadLetters {
            var a = ["--team", t, "--job", options.jobID]
            if dry { a.append("--dry-run") }
            steps.append(("sync-linear", a))
        }
        if job.export == true || (job.instantlyCampaign == nil && job.attioList == nil) {
            var columns = "login,name,best_email,score,company,location,signals.repo,signals.repo_language,signals.repo_stars"
            if job.instantlyCampaign != nil { columns += ",instantly.status" }
            steps.append((
                "export-csv",
                ["-o", "exports/leads.csv", "--columns", columns, "--column", "subject=.copy.subject", "--column", "body=.copy.body",
                 "--column", "variant=.copy.variant"]
            ))
        }
        return steps
    }
}
