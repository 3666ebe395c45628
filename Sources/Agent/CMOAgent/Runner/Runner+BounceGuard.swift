import CMOBasics
import CMOContract
import CMOStorage
import Foundation

/// The bounce guard's settings, from the campaign config's `bounce_guard:` mapping (or `cmo-plan:`'s):
/// over the last `window_hours`, when at least `min_sent` emails of the job's campaign were sent and more
/// than `max_share` percent of them bounced, the job's sends pause until a person resumes them.
public struct BounceGuardPolicy: Sendable, Equatable {
    public var enabled = true
    public var windowHours = 24.0
    /// Percent of the emails sent in the window.
    public var maxShare = 8.0
    /// Fewer emails sent than this in the window: too few to judge, the guard does not trip.
    public var minSent = 50

    public init() {}

    public static let keys = ["enabled", "window_hours", "max_share", "min_sent"]

    /// The policy in `config` (`bounce_guard: {enabled, window_hours, max_share, min_sent}`); a bad value is 78.
    public static func load(config: String?) throws -> BounceGuardPolicy {
        var p = BounceGuardPolicy()
        guard let config, let settings = try? Settings(stage: "cmo-plan", configPath: config), let raw = settings.configValue("bounce-guard")
        else { return p }
        guard let m = raw as? [String: Any] else { throw StageFailure(.config, "config '\(config)': 'bounce_guard' must be a mapping") }
        if let bad = m.keys.first(where: { !keys.contains($0.replacingOccurrences(of: "-", with: "_")) }) {
            throw StageFailure(.config, "config '\(config)': bounce_guard has no setting '\(bad)' (it has \(keys.joined(separator: ", ")))")
        }
        func value(_ key: String) -> Any? { m[key] ?? m[key.replacingOccurrences(of: "_", with: "-")] }
        func number(_ key: String) throws -> Double? {
            guard let v = value(key) else { return nil }
            if let b = v as? Bool { throw StageFailure(.config, "config '\(config)': bounce_guard.\(key) must be a number, not \(b)") }
            if let i = v as? Int { return Double(i) }
            if let d = v as? Double { return d }
            throw StageFailure(.config, "config '\(config)': bounce_guard.\(key) must be a number, not \(v)")
        }
        if let e = value("enabled") {
            guard let b = e as? Bool else { throw StageFailure(.config, "config '\(config)': bounce_guard.enabled must be true or false") }
            p.enabled = b
        }
        if let w = try number("window_hours") {
            guard w > 0, w <= 24 * 90 else { throw StageFailure(.config, "config '\(config)': bounce_guard.window_hours must be more than 0 and at most 2160") }
            p.windowHours = w
        }
        if let s = try number("max_share") {
            guard (0...100).contains(s) else { throw StageFailure(.config, "config '\(config)': bounce_guard.max_share is a percentage from 0 to 100") }
            p.maxShare = s
        }
        if let n = try number("min_sent") {
            guard n >= 1, n == n.rounded() else { throw StageFailure(.config, "config '\(config)': bounce_guard.min_sent must be a whole number, 1 or more") }
            p.minSent = Int(n)
        }
        return p
    }

    /// The events of `campaigns` in the window ending at `now`, from the store (what `check` reads).
    public func windowEvents(_ store: any HookEventStore, campaigns: Set<String>, now: Date) throws -> [HookEvent] {
        try store.events(campaigns: campaigns, since: Timestamp.string(now.addingTimeInterval(-windowHours * 3600)))
    }

    /// What the window holds for `campaigns` at `now`: emails sent, bounces not acknowledged, and whether
    /// they trip the guard. Bounces at or before `acknowledgedThrough` were seen by a person who went on.
    public func check(_ events: [HookEvent], campaigns: Set<String>, now: Date, acknowledgedThrough: String?) -> BounceCheck {
        let from = now.timeIntervalSince1970 - windowHours * 3600
        let ack = acknowledgedThrough.flatMap(Timestamp.parse)
        var c = BounceCheck(policy: self, sent: 0, bounced: [], acknowledged: 0)
        for e in events {
            guard let campaign = e.campaignID, campaigns.contains(campaign), let t = Timestamp.parse(e.timestamp), t >= from else { continue }
            switch e.outcome {
            case .sent: c.sent += 1
            case .bounced:
                if let ack, t <= ack { c.acknowledged += 1 } else { c.bounced.append(e) }
            default: break
            }
        }
        return c
    }
}

/// The bounce guard's look at a window.
public struct BounceCheck: Sendable {
    public var policy: BounceGuardPolicy
    /// `email_sent` events in the window.
    public var sent: Int
    /// `email_bounced` events in the window not acknowledged (hard and soft alike).
    public var bounced: [HookEvent]
    /// Bounces in the window a person acknowledged when resuming.
    public var acknowledged: Int

    public var share: Double { sent > 0 ? 100 * Double(bounced.count) / Double(sent) : 0 }
    public var trips: Bool { policy.enabled && sent >= policy.minSent && share > policy.maxShare }

    /// "6 of the 60 emails sent to campaign X in the last 24 h bounced (10.0%; 4 hard, 1 soft, 1 not said); the limit is 8%".
    public func reason(campaign: String) -> String {
        let hard = bounced.filter { $0.hardBounce == true }.count, soft = bounced.filter { $0.hardBounce == false }.count
        let unsaid = bounced.count - hard - soft
        let split = [(hard, "hard"), (soft, "soft"), (unsaid, "not said")].filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
        return "bounce guard: \(bounced.count) of the \(sent) emails sent to campaign \(TextCleaning.truncate(TextCleaning.oneLine(campaign), to: 80)) "
            + "in the last \(Self.hours(policy.windowHours)) bounced (\(String(format: "%.1f", share))%\(split.isEmpty ? "" : "; " + split))"
            + "; the limit is \(Self.number(policy.maxShare))%" + (acknowledged > 0 ? " (\(acknowledged) bounces acknowledged earlier not counted)" : "")
    }

    static func hours(_ h: Double) -> String { h == h.rounded() ? "\(Int(h)) h" : String(format: "%.1f h", h) }
    static func number(_ v: Double) -> String { v == v.rounded() ? "\(Int(v))" : String(format: "%.1f", v) }
}

/// A person's go-ahead past the bounce guard (`cmo-plan resume --accept-bounces`, "resume anyway" in the
/// chat): the bounces seen until then are acknowledged; the guard trips again only on newer ones.
public struct BounceAcknowledgement: Codable, Sendable {
    public var at: String
    public var by: String
    /// The newest bounce of the job's campaigns when the person went on (nil: none stored then).
    public var through: String?
    /// What the guard had counted then.
    public var bounced: Int
    public var sent: Int
}

extension Runner {
    /// The campaigns the job sends to: its own (an id once preflight resolved it) and its steps'.
    static func sendCampaigns(_ state: RunState) -> Set<String> {
        var out = Set<String>()
        if let c = state.job.instantlyCampaign { out.insert(c) }
        for s in state.steps where s.stage == StageRegistry.sendInstantly.name { if let c = s.call.text("campaign") { out.insert(c) } }
        return out
    }

    /// Before a send step (any day's, on every run, resume and worker turn): pauses the job through triage when
    /// its campaign's bounces in the window are over the limit. Nil when the step may go on.
    func bounceGuard(_ i: Int) throws -> ExitStatus? {
        let step = state.steps[i]
        guard step.stage == StageRegistry.sendInstantly.name, !step.call.isDryRun, state.job.dryRun != true else { return nil }
        let policy = try BounceGuardPolicy.load(config: runOptions.config)
        let campaigns = Self.sendCampaigns(state)
        guard policy.enabled, !campaigns.isEmpty, let store = HookEventStores.existing() else { return nil }
        let events: [HookEvent]
        do { events = try policy.windowEvents(store, campaigns: campaigns, now: JobClock.now()) } catch {
            event(.warning, "bounce guard: the event store cannot be read (\(error)); sending without the check")
            return nil
        }
        let check = policy.check(events, campaigns: campaigns, now: JobClock.now(), acknowledgedThrough: state.bounceAck?.through)
        guard check.trips else { return nil }
        let why = check.reason(campaign: campaigns.sorted().joined(separator: ", "))
        // The same bounces seen again (a plain resume): the job pauses again, but Linear is not asked twice.
        let seen = state.triage?.last.map { $0.stage == step.stage && $0.reason == why } ?? false
        let errors: [JSONValue] = check.bounced.suffix(200).map { e in
            let kind = e.hardBounce == true ? "hard bounce" : e.hardBounce == false ? "soft bounce" : "bounce (hard or soft not said)"
            return .object([
                JSONMember("stage", .string(step.stage)),
                JSONMember("error", .object([JSONMember("code", .string("bounced")),
                                             JSONMember("message", .string("\(kind) reported by Instantly (email_bounced)")),
                                             JSONMember("retryable", .bool(false))])),
                JSONMember("input", .object([JSONMember("email", .string(e.leadEmail ?? "")), JSONMember("campaign_id", .string(e.campaignID ?? "")),
                                             JSONMember("timestamp", .string(e.timestamp))])),
            ])
        }
        return try triage(i, why: why, errors: errors, toLinear: !seen, autoResume: false,
                          howToGoOn: "the sends stay paused until a person looks: `cmo-plan resume --accept-bounces \(state.jobID)` "
                              + "(or 'resume anyway' in the chat) goes on and the guard then trips only on new bounces; "
                              + "fix the list or the sending domain first (bounce_guard: in the config sets the limits)")
    }

    /// Records that `who` goes on past the bounce guard (the bounces stored now are acknowledged).
    public static func acknowledgeBounces(dir: RunDirectory, state: inout RunState, by who: String) throws {
        let campaigns = sendCampaigns(state)
        let policy = try BounceGuardPolicy.load(config: state.config)
        var through: String?, check: BounceCheck?
        if let store = HookEventStores.existing(), !campaigns.isEmpty {
            let events = try store.events(campaigns: campaigns, since: nil)
            through = events.filter { $0.outcome == .bounced }.max { (Timestamp.parse($0.timestamp) ?? 0) < (Timestamp.parse($1.timestamp) ?? 0) }?.timestamp
            check = policy.check(events, campaigns: campaigns, now: JobClock.now(), acknowledgedThrough: state.bounceAck?.through)
        }
        state.bounceAck = BounceAcknowledgement(at: Timestamp.string(), by: who, through: through ?? state.bounceAck?.through,
                                                bounced: check?.bounced.count ?? 0, sent: check?.sent ?? 0)
        appendEvent(dir: dir, jobID: state.jobID, .amended,
                    "bounce guard: \(who) goes on knowing \(check?.bounced.count ?? 0) bounces of \(check?.sent ?? 0) emails sent in the window"
                        + " (through \(through ?? "none stored")); the guard trips again only on newer bounces")
    }

    /// Whether the job is paused by the bounce guard now.
    public static func pausedByBounceGuard(_ state: RunState) -> Bool {
        state.status == .paused && (state.pauseReason?.contains("bounce guard:") ?? false)
    }
}
