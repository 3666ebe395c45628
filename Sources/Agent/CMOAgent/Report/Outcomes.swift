import CMOBasics
import CMOContract
import CMOStorage
import Foundation

/// What came back from Instantly for a job's leads (issue 28): per A/B variant, the leads sent, the replies
/// by kind, the bounces and the unsubscribes, from the events `cmo-hooks` keeps in `CMO_STATE_DIR/hooks.sqlite`.
/// The report, the chat and `status` all read these numbers, with the same note on whether a difference
/// between variants means anything. No store, or no event for the job's leads: `hasEvents` is false and the
/// note says so (never zeros presented as results).
///
/// Variants are cmo's (render-copy's `copy.variant`), matched to events by the lead's address through the
/// job's send-instantly output: the copy travels in custom variables, so Instantly's own `variant` (the index
/// of the sequence's variant) is the same for every lead and says nothing about cmo's A/B.
public struct Outcomes: Codable, Sendable, Equatable {
    /// One variant's leads and what happened to them. Each figure counts leads (an address once), so
    /// rates are shares of the leads sent; `emails_sent` counts the emails (a sequence has follow-ups).
    public struct Counts: Codable, Sendable, Equatable {
        /// Leads of this job with this variant that Instantly sent at least one email to.
        public var sent = 0
        public var emailsSent = 0
        /// Leads who answered (a reply, interested, not interested, wrong person; not an auto-reply or out-of-office).
        public var replied = 0
        public var interested = 0
        public var notInterested = 0
        public var outOfOffice = 0
        public var wrongPerson = 0
        public var autoReply = 0
        public var unsubscribed = 0
        /// Leads whose email bounced, hard and soft alike (as Instantly's `bounced_count` counts them), and the split where the event says.
        public var bounced = 0
        public var hardBounced = 0
        public var softBounced = 0
        /// replied ÷ sent with its 95% Wilson interval; bounced ÷ sent. Nil with nothing sent.
        public var replyRate: Double?
        public var replyRateLow: Double?
        public var replyRateHigh: Double?
        public var bounceRate: Double?

        public init() {}

        enum CodingKeys: String, CodingKey {
            case sent, emailsSent = "emails_sent", replied, interested, notInterested = "not_interested", outOfOffice = "out_of_office"
            case wrongPerson = "wrong_person", autoReply = "auto_reply", unsubscribed, bounced, hardBounced = "hard_bounced"
            case softBounced = "soft_bounced", replyRate = "reply_rate", replyRateLow = "reply_rate_low", replyRateHigh = "reply_rate_high"
            case bounceRate = "bounce_rate"
        }

        /// The rates from the counts.
        mutating func rate() {
            guard sent > 0 else { return }
            replyRate = Double(replied) / Double(sent)
            let w = OutcomeStats.wilson(replied, sent)
            (replyRateLow, replyRateHigh) = (w.low, w.high)
            bounceRate = Double(bounced) / Double(sent)
        }
    }

    /// The campaign ids the events were read for.
    public var campaigns: [String]
    /// Whether any event for the job's leads has come back.
    public var hasEvents: Bool
    /// Where the events were read from, nil when there is no store.
    public var store: String?
    public var byVariant: [String: Counts]
    public var total: Counts
    /// Events of the campaign for leads this job did not queue (another job's, or before it): not counted.
    public var otherLeadsEvents: Int
    /// The newest event counted (Instantly's timestamp).
    public var latest: String?
    /// Whether a difference between the variants is large enough to mean anything, or why nothing is said.
    public var note: String
    /// Where the variants come from.
    public var variantsFrom: String

    enum CodingKeys: String, CodingKey {
        case campaigns, hasEvents = "has_events", store, byVariant = "by_variant", total, otherLeadsEvents = "other_leads_events", latest, note
        case variantsFrom = "variants_from"
    }

    /// Leads per variant each variant needs before a difference between them is tested.
    public static let minSentPerVariant = 30
    /// The test's threshold: a difference whose p-value is under this is called more than chance.
    public static let significance = 0.05
    public static let variantsFromText = "cmo's variants (render-copy's copy.variant), matched to Instantly's events by the lead's address; Instantly's own variant index is not used (the copy travels in custom variables)"
    /// How to get outcomes when none has come back.
    public static let howToGet = "`cmo-hooks serve` receives Instantly's webhooks as they happen; `cmo-hooks catch-up` fetches what was missed"

    // MARK: building

    /// Counts `events` for the leads of `leads` (lower-cased address → variant), in `campaigns`.
    public static func count(_ events: [HookEvent], leads: [String: String], campaigns: Set<String>, store: String?) -> Outcomes {
        // The kinds each lead has had, by variant.
        var kinds: [String: Set<HookEvent.Outcome>] = [:]
        var hard: Set<String> = [], soft: Set<String> = []
        var emails: [String: Int] = [:]
        var other = 0, latest: String?
        for e in events {
            guard let c = e.campaignID, campaigns.contains(c), let outcome = e.outcome else { continue }
            guard let lead = e.leadEmail?.lowercased(), leads[lead] != nil else {
                if e.leadEmail != nil { other += 1 }
                continue
            }
            kinds[lead, default: []].insert(outcome)
            if outcome == .sent { emails[lead, default: 0] += 1 }
            if outcome == .bounced {
                if e.hardBounce == true { hard.insert(lead) } else if e.hardBounce == false { soft.insert(lead) }
            }
            if latest.map({ (Timestamp.parse(e.timestamp) ?? 0) > (Timestamp.parse($0) ?? 0) }) ?? true { latest = e.timestamp }
        }
        var by: [String: Counts] = [:]
        for (lead, set) in kinds {
            let v = leads[lead]!
            var c = by[v] ?? Counts()
            // A lead Instantly reports anything about was sent to, even when its email_sent event is missing.
            c.sent += 1
            c.emailsSent += emails[lead] ?? 0
            if set.contains(where: \.isReply) { c.replied += 1 }
            if set.contains(.interested) { c.interested += 1 }
            if set.contains(.notInterested) { c.notInterested += 1 }
            if set.contains(.outOfOffice) { c.outOfOffice += 1 }
            if set.contains(.wrongPerson) { c.wrongPerson += 1 }
            if set.contains(.autoReply) { c.autoReply += 1 }
            if set.contains(.unsubscribed) { c.unsubscribed += 1 }
            if set.contains(.bounced) {
                c.bounced += 1
                if hard.contains(lead) { c.hardBounced += 1 } else if soft.contains(lead) { c.softBounced += 1 }
            }
            by[v] = c
        }
        var total = Counts()
        for k in by.keys {
            by[k]!.rate()
            let c = by[k]!
            total.sent += c.sent; total.emailsSent += c.emailsSent; total.replied += c.replied; total.interested += c.interested
            total.notInterested += c.notInterested; total.outOfOffice += c.outOfOffice; total.wrongPerson += c.wrongPerson
            total.autoReply += c.autoReply; total.unsubscribed += c.unsubscribed; total.bounced += c.bounced
            total.hardBounced += c.hardBounced; total.softBounced += c.softBounced
        }
        total.rate()
        let has = !by.isEmpty
        return Outcomes(
            campaigns: campaigns.sorted(), hasEvents: has, store: store, byVariant: by, total: total, otherLeadsEvents: other, latest: latest,
            note: has ? comparison(by) : noneYet(store: store), variantsFrom: variantsFromText)
    }

    /// What the report and the chat say when nothing has come back.
    static func noneYet(store: String?) -> String {
        "no outcomes have come back yet for this job's leads" + (store == nil ? " (no event store: nothing has been received)" : "")
            + ": " + howToGet
    }

    /// The plain note: "too few to tell" under the minimum, else a two-proportion z-test of the reply rates of
    /// the two variants with the most leads sent. Never a winner: a difference is a reason to look, not a verdict.
    public static func comparison(_ by: [String: Counts]) -> String {
        let named = by.filter { $0.key != "-" }
        guard named.count >= 2 else { return "one variant only: nothing to compare" }
        let few = named.filter { $0.value.sent < minSentPerVariant }.sorted { $0.key < $1.key }
        if !few.isEmpty {
            return "too few to tell: " + few.map { "\($0.key) has \($0.value.sent) sent" }.joined(separator: ", ")
                + " (at least \(minSentPerVariant) leads sent per variant before a difference can mean anything)"
        }
        let top = named.sorted { $0.value.sent != $1.value.sent ? $0.value.sent > $1.value.sent : $0.key < $1.key }.prefix(2)
            .sorted { ($0.value.replyRate ?? 0) != ($1.value.replyRate ?? 0) ? ($0.value.replyRate ?? 0) > ($1.value.replyRate ?? 0) : $0.key < $1.key }
        let (a, b) = (top[0], top[1])
        guard let p = OutcomeStats.twoProportionP(a.value.replied, a.value.sent, b.value.replied, b.value.sent) else {
            return "no replies in either variant yet: nothing to compare"
        }
        let rates = "\(a.key) \(percent(a.value.replyRate)) vs \(b.key) \(percent(b.value.replyRate)) replied"
        let test = "two-proportion z-test, p = \(String(format: "%.3f", p))"
        if p < significance {
            return "\(rates): a difference larger than chance would likely give (\(test)); worth a look at the replies' kinds, not a winner by itself"
        }
        return "\(rates): the difference could be chance (\(test)); keep both running"
    }

    static func percent(_ v: Double?) -> String { v.map { String(format: "%.1f%%", $0 * 100) } ?? "–" }

    // MARK: a run's outcomes

    /// The job's leads sent by its send-instantly steps (queued by this job: an address lower-cased → its
    /// variant, "-" without one), and the campaign ids they went to.
    public static func jobLeads(dir: RunDirectory, state: RunState) -> (leads: [String: String], campaigns: Set<String>) {
        var leads: [String: String] = [:]
        var campaigns = Set<String>()
        if let c = state.job.instantlyCampaign { campaigns.insert(c) }
        for step in state.steps where step.stage == StageRegistry.sendInstantly.name && !step.call.isDryRun {
            if let c = step.call.text("campaign") { campaigns.insert(c) }
            guard step.status == .done else { continue }
            RunArtifacts.forEachRecord(in: dir.path(step.artifact)) { r in
                guard let i = r["instantly"], i["status"]?.stringValue == WriterStatus.queued.rawValue,
                    let email = r["best_email"]?.stringValue?.lowercased(), !email.isEmpty
                else { return }
                if let c = i["campaign_id"]?.stringValue { campaigns.insert(c) }
                leads[email] = r["copy"]?["variant"]?.stringValue ?? "-"
            }
        }
        return (leads, campaigns)
    }

    /// The outcomes of a job that sends to Instantly, from the event store of `environment`; nil for a job
    /// that sends nothing (no campaign). A store that cannot be read is said in the note, not taken for an empty one.
    public static func of(dir: RunDirectory, state: RunState, environment: [String: String] = ProcessInfo.processInfo.environment) -> Outcomes? {
        let (leads, campaigns) = jobLeads(dir: dir, state: state)
        guard !campaigns.isEmpty, state.job.dryRun != true else { return nil }
        // With SQLite, no file is no store (nothing received yet); a team database always has one.
        let path = HookEventStores.sqlitePath(environment: environment)
        if let path, !FileManager.default.fileExists(atPath: path) { return count([], leads: leads, campaigns: campaigns, store: nil) }
        var location = path ?? "the team database"
        do {
            let store: any HookEventStore = try path.map { try SQLiteHookEventStore.open(path: $0) } ?? HookEventStores.open(environment: environment)
            location = store.location
            return count(try store.events(campaigns: campaigns, since: nil), leads: leads, campaigns: campaigns, store: location)
        } catch {
            var o = count([], leads: leads, campaigns: campaigns, store: location)
            o.note = "the event store \(location) cannot be read (\(error)): the outcomes are unknown, not zero"
            return o
        }
    }

    // MARK: text

    /// One line per variant for `status` and the chat: "A: 40 sent, 3 replied (7.5%: 2 interested, 1 not
    /// interested), 1 bounced (1 hard), 0 unsubscribed".
    public var lines: [String] {
        byVariant.sorted { $0.key < $1.key }.map { "\($0.key == "-" ? "no variant" : "variant " + $0.key): " + Self.describe($0.value) }
    }

    static func describe(_ c: Counts) -> String {
        var kinds: [String] = []
        for (n, name) in [(c.interested, "interested"), (c.notInterested, "not interested"), (c.wrongPerson, "wrong person"),
                          (c.outOfOffice, "out of office"), (c.autoReply, "auto-reply"), (c.unsubscribed, "asked to unsubscribe")] where n > 0 {
            kinds.append("\(n) \(name)")
        }
        var text = "\(c.sent) sent, \(c.replied) replied (\(percent(c.replyRate)))"
        if !kinds.isEmpty { text += " [\(kinds.joined(separator: ", "))]" }
        let split = [(c.hardBounced, "hard"), (c.softBounced, "soft")].filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }
        text += ", \(c.bounced) bounced\(split.isEmpty ? "" : " (\(split.joined(separator: ", ")))"), \(c.unsubscribed) unsubscribed"
        return text
    }

    /// What `status` and the chat say: the lines, the note, and what is left out.
    public var text: String {
        guard hasEvents else { return note }
        var out = "outcomes from Instantly (leads, by variant; latest event \(latest ?? "?")):\n" + lines.map { "  " + $0 }.joined(separator: "\n")
        out += "\n  " + note
        if otherLeadsEvents > 0 { out += "\n  (\(otherLeadsEvents) events of the campaign for leads this job did not queue are not counted)" }
        return out
    }
}

/// The two statistics the outcomes note uses.
public enum OutcomeStats {
    /// The Wilson score interval of k successes in n trials (95% by default).
    public static func wilson(_ k: Int, _ n: Int, z: Double = 1.959964) -> (low: Double, high: Double) {
        guard n > 0 else { return (0, 1) }
        let p = Double(k) / Double(n), nn = Double(n)
        let centre = p + z * z / (2 * nn)
        let margin = z * ((p * (1 - p) + z * z / (4 * nn)) / nn).squareRoot()
        let d = 1 + z * z / nn
        return (max(0, (centre - margin) / d), min(1, (centre + margin) / d))
    }

    /// The two-sided p-value of a pooled two-proportion z-test of k1/n1 against k2/n2; nil when it cannot be
    /// computed (no trials, or no variance: no successes or nothing but successes in both).
    public static func twoProportionP(_ k1: Int, _ n1: Int, _ k2: Int, _ n2: Int) -> Double? {
        guard n1 > 0, n2 > 0 else { return nil }
        let pooled = Double(k1 + k2) / Double(n1 + n2)
        let se = (pooled * (1 - pooled) * (1 / Double(n1) + 1 / Double(n2))).squareRoot()
        guard se > 0 else { return nil }
        let z = (Double(k1) / Double(n1) - Double(k2) / Double(n2)) / se
        return erfc(abs(z) / 2.0.squareRoot())
    }
}
