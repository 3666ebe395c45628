/// One line of a job's `events.ndjson`: a milestone, with the fields its kind carries.
public struct RunEvent: Codable, Sendable, Equatable {
    /// Every kind of event a job writes.
    public enum Name: String, Codable, Sendable, CaseIterable {
        case planned, plannerDone = "planner_done", plannerRefused = "planner_refused", plannerFallback = "planner_fallback"
        case stepStarted = "step_started", stepDone = "step_done", stepSkipped = "step_skipped", stepRestarted = "step_restarted"
        case widening, widenDeclined = "widen_declined", shortfall, awaitingApproval = "awaiting_approval", approved, waiting, resumed, requeued, paused, cancelled, amended
        case preflight
        case triage, warning, failed, summary, done, report
    }

    public var time: String
    public var jobID: String
    public var event: Name
    public var message: String
    public var step: Int?
    public var stage: String?
    /// A finished step's figures (`in`, `out`, `filtered`, `dead`, `http`, `http_304`).
    public var counts: [String: Int]?
    public var widenStep: Int?
    /// When a waiting job goes on.
    public var retryAt: String?
    /// How many errors triage filed.
    public var errors: Int?

    public init(
        time: String, jobID: String, event: Name, message: String, step: Int? = nil, stage: String? = nil, counts: [String: Int]? = nil,
        widenStep: Int? = nil, retryAt: String? = nil, errors: Int? = nil
    ) {
        self.time = time
        self.jobID = jobID
        self.event = event
        self.message = message
        self.step = step
        self.stage = stage
        self.counts = counts
        self.widenStep = widenStep
        self.retryAt = retryAt
        self.errors = errors
    }

    enum CodingKeys: String, CodingKey {
        case time, jobID = "job_id", event, message, step, stage, counts, widenStep = "widen_step", retryAt = "retry_at", errors
    }
}
