import CMOBasics
import CMOContract
import CMOHTTP
import CMOLedger
import CMOServices
import CMOStageKit
import Foundation

/// What filing one event's hot-reply issue came to: `created` (now), `already_filed` (the ledger holds it),
/// `failed` (Linear refused it, or never confirmed it; `reason`, `message`), `skipped` (no job to file it
/// under), `dry_run` (`would`: create or none).
public struct HotReplyResult: Sendable {
    public var status: WriterStatus
    public var issueID: String?
    public var identifier: String?
    public var parentID: String?
    public var job: String?
    public var eventKey: String
    public var reason: String?
    public var message: String?
    public var would: String?
    /// A failure a later run may clear (Linear did not answer, another process holds the row).
    public var retryable = false

    public static let alreadyFiled = WriterStatus("already_filed")

    /// The `linear` field sync-linear writes on an event record.
    public var json: JSONValue {
        var m = [
            JSONMember("status", .string(status.rawValue)), JSONMember("issue_id", issueID.map(JSONValue.string) ?? .null),
            JSONMember("identifier", identifier.map(JSONValue.string) ?? .null),
            JSONMember("parent_id", parentID.map(JSONValue.string) ?? .null), JSONMember("job", job.map(JSONValue.string) ?? .null),
            JSONMember("event_key", .string(eventKey)),
        ]
        if let reason { m.append(JSONMember("reason", .string(reason))) }
        if let message { m.append(JSONMember("message", .string(message))) }
        if let would { m.append(JSONMember("would", .string(would))) }
        return .object(m)
    }
}

/// Interested replies as Linear sub-issues ("hot replies"): one per event key, under the parent issue of the
/// job whose run queued that lead in that campaign (the write ledger's `instantly:lead:<campaign>:<email>`
/// row), else the job given. Used by sync-linear (event records on its input) and by `cmo-hooks apply`.
///
/// The same machinery as the error sub-issues: the ledger key `linear:hot:<job>:<first 32 hex of the
/// SHA-256 of the event key>`, the issue id derived from it (`DeterministicID.uuidV4`), claimed before it is
/// sent, looked up by id after a crash, recorded before it is reported; so a re-run, a second delivery of the
/// same event or both tools together file it once.
public final class LinearHotReplies {
    public let team: LinearTeam
    let api: LinearAPI?
    let ledger: WriteLedger
    let context: StageContext
    let dryRun: Bool
    let now: Date
    private var writers: [String: LinearWriter] = [:]

    public init(team: LinearTeam, api: LinearAPI?, ledger: WriteLedger, context: StageContext, dryRun: Bool, now: Date = Date()) {
        self.team = team
        self.api = api
        self.ledger = ledger
        self.context = context
        self.dryRun = dryRun
        self.now = now
    }

    /// The ledger key of an event's hot-reply issue in `job`.
    public static func key(job: String, event: String) -> String {
        "linear:hot:\(job):\(DeterministicID.sha256Hex(event).prefix(32))"
    }

    /// The job an event belongs to: the run that queued its lead in its campaign (the ledger), else `fallback`.
    public func job(of event: HookEvent, fallback: String?) throws -> String? {
        if let campaign = event.campaignID, let email = event.leadEmail {
            let key = InstantlyWriter.key(campaign: campaign, email: email)
            if let row = try ledger.rows([key])[key], row.state == .confirmed, let run = row.runID, !run.isEmpty { return run }
        }
        return fallback.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Files the interested events' issues (others are left out), by event key.
    public func file(_ events: [HookEvent], fallbackJob: String?) throws -> [String: HotReplyResult] {
        var out: [String: HotReplyResult] = [:]
        var byJob: [(job: String, events: [HookEvent])] = []
        for event in events where event.outcome == .interested {
            guard let job = try job(of: event, fallback: fallbackJob) else {
                out[event.key] = HotReplyResult(
                    status: .skipped, eventKey: event.key, reason: "no_job",
                    message: "no job queued this lead in campaign \(event.campaignID ?? "?") and none was given (--job)")
                continue
            }
            if let i = byJob.firstIndex(where: { $0.job == job }) { byJob[i].events.append(event) } else { byJob.append((job, [event])) }
        }
        for group in byJob {
            let writer = try self.writer(group.job)
            for (key, result) in try writer.fileHotReplies(group.events) { out[key] = result }
        }
        return out
    }

    private func writer(_ job: String) throws -> LinearWriter {
        if let w = writers[job] { return w }
        let settings = LinearWriter.Settings(team: team, job: job, campaignName: job, dryRun: dryRun || api == nil, now: now)
        let w = try LinearWriter(
            settings: settings, api: dryRun ? nil : api, ledger: ledger.reopened(runID: job), context: context)
        writers[job] = w
        return w
    }
}

extension LinearWriter {
    /// What an input record is when it is an event record (`kind: "event"`, as cmo-hooks prints them); nil
    /// for anything else (dead letters, stage events and logs go their usual way).
    enum EventRead {
        case hot(HookEvent)
        case ignored(String)
        case unreadable(String)
    }

    static func readEvent(_ record: CMOBasics.Record) -> EventRead? {
        guard record["kind"]?.stringValue == "event", record["event_type"] != nil || record["key"] != nil else { return nil }
        guard let event = try? JSONDecoder().decode(HookEvent.self, from: Data(record.bytes)) else {
            return .unreadable("an event record without key, event_type, timestamp, source or received_at (as cmo-hooks prints them)")
        }
        guard event.outcome == .interested else {
            return .ignored("event \(LeadFields.oneLine(event.eventType, limit: 60)) is not an interested reply")
        }
        guard event.leadEmail != nil else { return .unreadable("an interested event without lead_email") }
        return .hot(event)
    }

    func hotReplies() -> LinearHotReplies {
        if let h = hotFiler { return h }
        let h = LinearHotReplies(team: settings.team, api: api, ledger: ledger, context: context, dryRun: settings.dryRun, now: settings.now)
        hotFiler = h
        return h
    }

    /// Files one sub-issue per event under this writer's job parent; by event key.
    func fileHotReplies(_ events: [HookEvent]) throws -> [String: HotReplyResult] {
        var out: [String: HotReplyResult] = [:]
        var seen = Set<String>()
        let keyed = events.filter { seen.insert($0.key).inserted }.map { (event: $0, key: LinearHotReplies.key(job: settings.job, event: $0.key)) }
        let rows = try ledger.rows(keyed.map(\.key))
        func base(_ e: HookEvent, _ key: String) -> HotReplyResult {
            HotReplyResult(
                status: .created, issueID: DeterministicID.uuidV4(key), parentID: parentID, job: settings.job, eventKey: e.key)
        }
        var wanted: [(key: String, id: String, input: JSONValue, subject: String)] = []
        var events: [String: HookEvent] = [:]
        for (event, key) in keyed {
            var r = base(event, key)
            if let row = rows[key], row.state == .confirmed {
                r.status = settings.dryRun ? .dryRun : HotReplyResult.alreadyFiled
                if settings.dryRun { r.would = "none" }
                r.issueID = row.remoteID ?? r.issueID
                out[event.key] = r
                continue
            }
            let input = hotReplyInput(event, key: key)
            if let earlier = ContentRefusal.earlier(rows[key], payload: input) {
                r.status = .failed
                r.reason = "rejected"
                r.message = "Linear refused this issue on an earlier run (\(earlier.message)): not sent again until it changes"
                out[event.key] = r
                continue
            }
            if settings.dryRun || api == nil {
                r.status = .dryRun
                r.would = "create"
                out[event.key] = r
                continue
            }
            wanted.append((key: key, id: DeterministicID.uuidV4(key), input: input, subject: event.leadEmail ?? ""))
            events[key] = event
        }
        guard let api, !wanted.isEmpty else { return out }
        try ensureParent()
        let settled = try create(wanted, api: api)
        for w in wanted {
            guard let event = events[w.key] else { continue }
            var r = base(event, w.key)
            if let issue = settled[w.key] {
                r.status = settled.created.contains(w.key) ? .created : HotReplyResult.alreadyFiled
                r.issueID = issue.id
                r.identifier = issue.identifier
            } else {
                r.status = .failed
                r.reason = refusedKeys.contains(w.key) ? "rejected" : heldKeys.contains(w.key) ? "busy" : "not_created"
                r.message = failures[w.key] ?? "Linear did not confirm the issue"
                r.retryable = !refusedKeys.contains(w.key)
                if refusedKeys.contains(w.key) { context.countRefused() }
            }
            out[event.key] = r
        }
        return out
    }

    /// The sub-issue: who answered, in which campaign, the reply's first words (user text: neutralised) and
    /// the Unibox link.
    func hotReplyInput(_ e: HookEvent, key: String) -> JSONValue {
        let who = e.leadEmail ?? "?"
        let campaign = e.campaignName ?? e.campaignID ?? "?"
        let title = LinearText.title("Hot reply: \(who) — \(campaign)")
        var lines = [
            "**Interested reply** from \(LinearText.code(who)) in campaign \(LinearText.code(campaign)) of job \(LinearText.code(settings.job)).",
            "",
            "- event: \(LinearText.code(e.eventType)) at \(LinearText.code(e.timestamp))",
            "- campaign id: \(LinearText.code(e.campaignID ?? "?"))",
        ]
        if let step = e.step { lines.append("- step: \(step)") }
        if let account = e.emailAccount { lines.append("- sender: \(LinearText.code(account))") }
        lines.append("- event key: \(LinearText.code(String(DeterministicID.sha256Hex(e.key).prefix(16))))")
        lines.append("")
        if let link = e.uniboxURL.flatMap(Self.safeLink) {
            lines.append("Open the thread in Instantly's Unibox: <\(link)>")
        } else if let raw = e.uniboxURL {
            lines.append("Unibox: \(LinearText.code(raw))")
        }
        lines.append("")
        lines.append("The reply's first words (cut, neutralised):")
        lines.append("")
        lines.append(LinearText.block(e.snippet ?? "(Instantly sent no snippet)"))
        return .object([
            JSONMember("id", .string(DeterministicID.uuidV4(key))), JSONMember("teamId", .string(settings.team.id)),
            JSONMember("parentId", .string(parentID)), JSONMember("title", .string(title)),
            JSONMember("description", .string(lines.joined(separator: "\n"))),
        ])
    }

    /// An https URL that cannot break out of a markdown autolink (no spaces, brackets, quotes or controls), else nil.
    static func safeLink(_ url: String) -> String? {
        guard url.hasPrefix("https://"), url.count <= 2000 else { return nil }
        let bad = Set(" <>()[]`\"'\\{}|^")
        guard !url.contains(where: { bad.contains($0) || $0.isNewline || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } ?? !$0.isLetter }) else {
            return nil
        }
        return url
    }
}
