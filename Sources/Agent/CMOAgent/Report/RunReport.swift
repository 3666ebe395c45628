import CMOContract
import Foundation

/// What a run did, read from its own files only (state.json when there is one, the step artifacts and
/// logs, the dead letters, the events): the figures of `report.json`, drawn by `ReportPage` as
/// `report.html`. A `pipelines/discover.sh --keep DIR` folder has the same artifacts/ and logs/ layout
/// and no state: its steps are read from the file names, its times from the stages' summaries.
public struct RunReport: Codable, Sendable {
    public var jobID: String
    public var goal: String?
    /// The page's title, short, from the job (`200 Python leads, last 90 days`); the goal is shown in full below it.
    public var title: String? = nil
    public var status: String
    public var source: String
    public var createdAt: String?
    public var finishedAt: String?
    /// Seconds from the first step's start to the last one's end (the pipeline's slowest stage for a folder).
    public var wallSeconds: Double?
    public var target: Int?
    public var planner: String?
    public var steps: [Step]
    public var funnel: [FunnelStage]
    public var waits: [Wait]
    public var services: [ServiceUsage]
    public var deliverability: Deliverability?
    public var variants: [Variant]
    public var writes: [Write]
    public var metrics: Metrics
    public var samples: [Sample]
    public var deadLetters: Int
    /// What a reader needs to know to read the figures right (several passes, a folder's times).
    public var notes: [String]
    /// What came back from Instantly for the job's leads, by variant (Outcomes); nil for a job that sends nothing.
    public var outcomes: Outcomes? = nil

    public struct Step: Codable, Sendable {
        public var n: Int
        public var stage: String
        public var pass: Int
        public var status: String
        public var arguments: [String]
        public var startedAt: String?
        public var finishedAt: String?
        /// Seconds from the run's start to this step's start, for the timeline.
        public var offset: Double?
        public var seconds: Double?
        public var summary: StageSummary?
    }

    /// One bar of the funnel and what fell out between it and the bar before.
    public struct FunnelStage: Codable, Sendable {
        public var key: String
        public var label: String
        public var count: Int
        public var drops: [Drop]
    }

    public struct Drop: Codable, Sendable {
        public var stage: String
        /// filtered, dead-lettered, or the writer's status (skipped, suppressed, failed, …).
        public var kind: String
        public var reason: String
        public var count: Int
        public var example: String?
    }

    /// A time the job waited for a rate limit or a token (from its events).
    public struct Wait: Codable, Sendable {
        public var from: String
        public var until: String?
        public var offset: Double?
        public var seconds: Double?
        public var reason: String
    }

    public struct ServiceUsage: Codable, Sendable {
        public var service: String
        public var stages: [String]
        public var requests: Int
        public var notModified: Int
        public var retries: Int
        public var rateLimited: Int
        public var waitSeconds: Double
        public var quota: [String: Int]
    }

    public struct Deliverability: Codable, Sendable {
        public var addressesChecked: Int
        public var verdicts: [String: Int]
        /// Addresses whose domain takes mail (safe or risky) ÷ addresses checked.
        public var mxPassRate: Double?
        public var flags: [String: Int]
        public var failedDomains: [FailedDomain]
    }

    public struct FailedDomain: Codable, Sendable {
        public var domain: String
        public var reason: String
        public var addresses: Int
    }

    public struct Variant: Codable, Sendable {
        public var name: String
        public var rendered: Int
        /// Sent to Instantly (queued, duplicate or failed) and accepted (queued).
        public var sent: Int
        public var queued: Int
    }

    public struct Write: Codable, Sendable {
        public var service: String
        public var target: String
        public var statuses: [String: Int]
        /// Linear: the parent issue and its children's identifiers.
        public var parent: String?
        public var children: [String]
    }

    public struct Metrics: Codable, Sendable {
        public var leads: Int
        public var prospectsPerMinute: Double?
        public var mxPassRate: Double?
        /// Leads Instantly accepted ÷ leads sent to it.
        public var instantlyAcceptance: Double?
    }

    public struct Sample: Codable, Sendable {
        public var login: String
        public var name: String?
        public var email: String?
        public var score: Double?
        public var variant: String?
        public var subject: String
        public var body: String
        /// Text taken from the lead's own data, highlighted in the body and subject.
        public var personal: [String]
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", goal, title, status, source, createdAt = "created_at", finishedAt = "finished_at", wallSeconds = "wall_seconds"
        case target, planner, steps, funnel, waits, services, deliverability, variants, writes, metrics, samples
        case deadLetters = "dead_letters", notes, outcomes
    }
}

extension RunReport.Step {
    enum CodingKeys: String, CodingKey { case n, stage, pass, status, arguments, startedAt = "started_at", finishedAt = "finished_at", offset, seconds, summary }
}
extension RunReport.ServiceUsage {
    enum CodingKeys: String, CodingKey { case service, stages, requests, notModified = "not_modified", retries, rateLimited = "rate_limited", waitSeconds = "wait_seconds", quota }
}
extension RunReport.Deliverability {
    enum CodingKeys: String, CodingKey { case addressesChecked = "addresses_checked", verdicts, mxPassRate = "mx_pass_rate", flags, failedDomains = "failed_domains" }
}
extension RunReport.Metrics {
    enum CodingKeys: String, CodingKey { case leads, prospectsPerMinute = "prospects_per_minute", mxPassRate = "mx_pass_rate", instantlyAcceptance = "instantly_acceptance" }
}
