import CMOBasics
import CMOContract
import CMOHTTP
import CMOLedger
import CMOServices
import CMOStageKit
import CMOStorage
import CMOWriters
import Foundation

/// What Instantly's events do, each once (issue 28): the events stored after the consumer cursor `effects`,
/// in the order they were stored, and for each:
///
/// | event | effects |
/// |---|---|
/// | unsubscribe, hard bounce (5.x.x) | `suppress` (cmo's do-not-contact list), `block` (Instantly's block list), `stop`, `attio_note` |
/// | a reply (interested, not interested, wrong person, plain) | `stop`, `attio_note`; interested also `hot_reply` |
/// | soft bounce, out-of-office, auto-reply, opens, clicks, sends | nothing: recorded only |
///
/// `stop` sets the lead's interest status (`POST /api/v2/leads/update-interest-status`) in every *other*
/// campaign the write ledger says cmo queued the person in, so it gets no more steps there and keeps its
/// history. Every effect is keyed, claimed in the write ledger before it leaves and recorded before it is
/// reported (`intended` → `confirmed`/`failed`); a key already confirmed is `already`. A row a killed run
/// left claimed is settled by asking the service first (the block list is searched, a note is looked for by
/// its `cmo-key:` line, a Linear issue by its id); the interest status is idempotent and is set again. So a
/// re-run, a duplicate delivery or a `kill -9` at any instant acts once.
///
/// The cursor moves (after each page) to the last event all of whose effects are settled; an effect that
/// may still succeed later (a row another live process holds, an answer that was lost) holds it there, and
/// the next run goes over the rest again, which costs only ledger reads.
public final class HookEffects {
    public struct Settings {
        public var dryRun: Bool
        /// The job hot replies go under when the ledger does not say which job queued the lead.
        public var job: String?
        /// Re-read every stored event, not only those after the cursor (everything is keyed: nothing is done twice).
        public var fromStart: Bool
        public var pageSize: Int
        public var now: Date
        public init(dryRun: Bool, job: String?, fromStart: Bool = false, pageSize: Int = 500, now: Date = Date()) {
            self.dryRun = dryRun
            self.job = job
            self.fromStart = fromStart
            self.pageSize = pageSize
            self.now = now
        }
    }

    /// The effects, as printed.
    public enum Kind: String, CaseIterable, Sendable {
        case suppress, block, stop
        case hotReply = "hot_reply"
        case attioNote = "attio_note"
    }

    /// One effect's line: `{"kind":"effect","event","effect","status",…}`. status: done (now), already (an
    /// earlier run or delivery did it), skipped (nothing to do, or the service is not configured: `reason`),
    /// failed (refused: `reason`, `message`; recorded, not tried again unchanged), pending (may succeed later:
    /// the cursor stays before its event), dry_run (`would`).
    public struct Effect {
        public var event: String
        public var kind: Kind
        public var status: String
        public var target: String?
        public var remoteID: String?
        public var reason: String?
        public var message: String?
        public var would: String?

        public var json: JSONValue {
            var m = [
                JSONMember("kind", "effect"), JSONMember("event", .string(event)), JSONMember("effect", .string(kind.rawValue)),
                JSONMember("status", .string(status)),
            ]
            if let target { m.append(JSONMember("target", .string(target))) }
            if let remoteID { m.append(JSONMember("remote_id", .string(remoteID))) }
            if let reason { m.append(JSONMember("reason", .string(reason))) }
            if let message { m.append(JSONMember("message", .string(message))) }
            if let would { m.append(JSONMember("would", .string(would))) }
            return .object(m)
        }
    }

    /// The consumer cursor's name in the event store.
    public static let cursorName = "effects"
    /// The ledger's service names of the effects (apart from Attio's and Linear's own): not `instantly`, so
    /// that send-instantly's daily caps and recent-contact rule never count them.
    public static let suppressService = "suppression"
    public static let blockService = "instantly-block"
    public static let stopService = "instantly-stop"

    public let settings: Settings
    let store: any HookEventStore
    let ledger: WriteLedger
    let suppression: SuppressionList
    let instantly: InstantlyAPI?
    let attio: AttioAPI?
    let linear: LinearHotReplies?
    let context: StageContext
    let emit: (Effect) throws -> Void

    /// Events read, and effects by kind and status, for the summary.
    public private(set) var eventsRead = 0
    public private(set) var counts: [String: [String: Int]] = [:]
    /// Where the cursor was left (nil: not moved).
    public private(set) var cursorMovedTo: Int64?

    /// `instantly` nil: the block list and stops are not configured (skipped); likewise `attio` for notes,
    /// `linear` for hot replies. With `dryRun` no client is called.
    public init(
        settings: Settings, store: any HookEventStore, ledger: WriteLedger, suppression: SuppressionList, instantly: InstantlyAPI?,
        attio: AttioAPI?, linear: LinearHotReplies?, context: StageContext, emit: @escaping (Effect) throws -> Void
    ) throws {
        self.settings = settings
        self.store = store
        self.ledger = ledger
        self.suppression = suppression
        self.instantly = instantly
        self.attio = attio
        self.linear = linear
        self.context = context
        self.emit = emit
    }

    /// The cursor's sequence number (`seq:N`), 0 when unset.
    static func sequence(_ cursor: String?) -> Int64 {
        guard let cursor, cursor.hasPrefix("seq:"), let n = Int64(cursor.dropFirst(4)) else { return 0 }
        return n
    }

    // MARK: - The run

    /// Applies the effects of every event after the cursor, moving the cursor after each page.
    public func run() throws {
        let saved = Self.sequence(try store.cursor(Self.cursorName))
        var after = settings.fromStart ? 0 : saved
        var settledUpTo = saved
        var holding = false
        var failure: Error?
        pages: while true {
            let page = try store.events(afterSequence: after, limit: settings.pageSize)
            guard !page.isEmpty else { break }
            for (sequence, event) in page {
                eventsRead += 1
                do {
                    if try !apply(event) { holding = true }
                } catch {
                    failure = error
                    break pages
                }
                after = sequence
                if !holding, sequence > settledUpTo { settledUpTo = sequence }
            }
            try moveCursor(from: saved, to: settledUpTo)
        }
        try moveCursor(from: saved, to: settledUpTo)
        if let failure { throw failure }
    }

    private func moveCursor(from saved: Int64, to n: Int64) throws {
        guard !settings.dryRun, n > max(saved, cursorMovedTo ?? 0) else { return }
        try store.setCursor(Self.cursorName, to: "seq:\(n)")
        cursorMovedTo = n
    }

    /// An event's effects; false when one of them is pending (the cursor must not pass it).
    func apply(_ event: HookEvent) throws -> Bool {
        guard let email = event.leadEmail, !email.isEmpty, let outcome = event.outcome else { return true }
        let hardBounce = outcome == .bounced && event.hardBounce == true
        let optOut = outcome == .unsubscribed || hardBounce
        guard optOut || outcome.isReply else { return true }  // soft bounces, out-of-office, auto-replies: recorded only
        var settled = true
        func note(_ effects: [Effect]) throws {
            for e in effects {
                if e.status == "pending" { settled = false }
                counts[e.kind.rawValue, default: [:]][e.status, default: 0] += 1
                try emit(e)
            }
        }
        if optOut {
            try note([try suppress(event, email: email, hardBounce: hardBounce)])
            try note([try block(event, email: email)])
        }
        try note(try stop(event, email: email, outcome: outcome))
        if outcome == .interested { try note([try hotReply(event)]) }
        try note([try attioNote(event, email: email, outcome: outcome)])
        return settled
    }

    // MARK: - Claims

    private enum Claim {
        case go(previous: WriteLedger.Row?)
        case already(WriteLedger.Row)
        case busy(WriteLedger.Row)
        case dryRun(would: String, row: WriteLedger.Row?)
    }

    private func claim(_ intent: WriteLedger.Intent) throws -> Claim {
        if settings.dryRun {
            let row = try ledger.rows([intent.key])[intent.key]
            if let row, row.state == .confirmed { return .already(row) }
            return .dryRun(would: "write", row: row)
        }
        switch try ledger.claim([intent], day: WriteLedger.day(settings.now), now: settings.now)[intent.key] {
        case .claimed(let previous)?: return .go(previous: previous)
        case .held(let row)?: return row.state == .confirmed ? .already(row) : .busy(row)
        case .overCap?, nil: throw StageFailure(.failure, "the write ledger did not answer for \(intent.key)")
        }
    }

    private func effect(_ kind: Kind, _ event: HookEvent, _ status: String, target: String? = nil) -> Effect {
        Effect(event: event.key, kind: kind, status: status, target: target)
    }

    /// The common answers to a claim that is not `.go`.
    private func settledClaim(_ claim: Claim, _ kind: Kind, _ event: HookEvent, target: String?) -> Effect? {
        var e = effect(kind, event, "", target: target)
        switch claim {
        case .go: return nil
        case .already(let row):
            e.status = "already"
            e.remoteID = row.remoteID
        case .busy(let row):
            e.status = "pending"
            e.reason = "busy"
            e.message = "another process (\(row.owner ?? "?")) is writing it"
        case .dryRun(let would, _):
            e.status = "dry_run"
            e.would = would
        }
        return e
    }

    private static func isLeftover(_ previous: WriteLedger.Row?) -> Bool {
        previous.map { $0.state == .intended || $0.state == .sent } ?? false
    }

    // MARK: - suppress

    /// The person on cmo's do-not-contact list (a local write, keyed like the others so it is reported once).
    private func suppress(_ event: HookEvent, email: String, hardBounce: Bool) throws -> Effect {
        let key = "suppression:email:\(email)"
        let intent = WriteLedger.Intent(key: key, service: Self.suppressService, target: "email", subject: email)
        let claim = try claim(intent)
        if let e = settledClaim(claim, .suppress, event, target: email) { return e }
        var e = effect(.suppress, event, "done", target: email)
        let reason = hardBounce ? "hard bounce (Instantly, campaign \(event.campaignID ?? "?"))" : "unsubscribed (Instantly, campaign \(event.campaignID ?? "?"))"
        do {
            let added = try suppression.add([SuppressionEntry(kind: .email, value: email, reason: reason, source: "cmo-hooks")])
            if added == 0 { e.message = "already on the list" }
            try ledger.record([.init(key: key, state: .confirmed, reason: reason)])
        } catch let error as SuppressionValueError {
            try ledger.record([.init(key: key, state: .failed, reason: "\(error)")])
            e.status = "failed"
            e.reason = "invalid_email"
            e.message = "\(error)"
        }
        return e
    }

    // MARK: - block

    private func block(_ event: HookEvent, email: String) throws -> Effect {
        guard let api = instantly else { return notConfigured(.block, event, "INSTANTLY_API_KEY is not set") }
        let key = "instantly:block:\(email)"
        let claim = try claim(WriteLedger.Intent(key: key, service: Self.blockService, target: "block-list", subject: email))
        if let e = settledClaim(claim, .block, event, target: email) { return e }
        guard case .go(let previous) = claim else { return effect(.block, event, "pending") }
        var e = effect(.block, event, "done", target: email)
        if Self.isLeftover(previous), let id = try api.blockListEntry(email) {
            // A killed run's request landed: recorded, not sent again (a second entry would be made).
            try ledger.record([.init(key: key, state: .confirmed, remoteID: id.isEmpty ? nil : id, reason: "found in the block list after an interrupted run")])
            e.remoteID = id.isEmpty ? nil : id
            return e
        }
        CrashHook.point("before-send")
        let answer = try api.addBlockListEntry(email)
        CrashHook.point("after-send")
        switch answer {
        case .done(let id):
            try ledger.record([.init(key: key, state: .confirmed, remoteID: id)])
            e.remoteID = id
        case .refused(let status, let message):
            try ledger.record([.init(key: key, state: .failed, reason: "HTTP \(status): \(message)")])
            (e.status, e.reason, e.message) = ("failed", "rejected", "Instantly refused the block-list entry (HTTP \(status)): \(message)")
        }
        CrashHook.point("after-record")
        return e
    }

    // MARK: - stop

    /// The interest status a stop sets, from what the person did: Interested (1) for a reply or an interested
    /// one (a person who answered is a conversation until labelled otherwise), Not Interested (−1) for a no or
    /// an unsubscribe, Wrong Person (−2), Lost (−3) for an address that hard-bounced.
    public static func interestValue(_ outcome: HookEvent.Outcome) -> Int {
        switch outcome {
        case .notInterested, .unsubscribed: return -1
        case .wrongPerson: return -2
        case .bounced: return -3
        default: return 1
        }
    }

    private func stop(_ event: HookEvent, email: String, outcome: HookEvent.Outcome) throws -> [Effect] {
        // The campaigns cmo queued the person in (rows `instantly:lead:<campaign>:<email>`), the lead id with each.
        let others = try ledger.rows(service: "instantly", subject: email.lowercased(), state: .confirmed, keyPrefix: "instantly:lead:")
            .map { (campaign: $0.target, leadID: $0.remoteID) }.filter { $0.campaign != event.campaignID }
        guard !others.isEmpty else { return [] }
        guard let api = instantly else { return others.map { notConfigured(.stop, event, "INSTANTLY_API_KEY is not set", target: $0.campaign) } }
        var out: [Effect] = []
        let value = Self.interestValue(outcome)
        for other in others {
            let key = "instantly:stop:\(other.campaign):\(email)"
            let claim = try claim(WriteLedger.Intent(key: key, service: Self.stopService, target: other.campaign, subject: email))
            if let e = settledClaim(claim, .stop, event, target: other.campaign) {
                out.append(e)
                continue
            }
            var e = effect(.stop, event, "done", target: other.campaign)
            // A killed run's leftover is sent again: setting the same status twice changes nothing.
            CrashHook.point("before-send")
            let answer = try api.updateInterestStatus(email: email, campaign: other.campaign, value: value)
            CrashHook.point("after-send")
            switch answer {
            case .done:
                try ledger.record([.init(key: key, state: .confirmed, remoteID: other.leadID, reason: "interest status \(value)")])
                e.remoteID = other.leadID
            case .refused(let status, let message):
                try ledger.record([.init(key: key, state: .failed, reason: "HTTP \(status): \(message)")])
                (e.status, e.reason, e.message) = ("failed", "rejected", "Instantly refused the status change (HTTP \(status)): \(message)")
            }
            CrashHook.point("after-record")
            out.append(e)
        }
        return out
    }

    // MARK: - hot_reply

    private func hotReply(_ event: HookEvent) throws -> Effect {
        guard let linear else { return notConfigured(.hotReply, event, "LINEAR_API_KEY or the team (--team, CMO_LINEAR_TEAM) is not set") }
        guard let r = try linear.file([event], fallbackJob: settings.job)[event.key] else {
            return effect(.hotReply, event, "skipped")
        }
        var e = effect(.hotReply, event, "", target: r.job)
        e.remoteID = r.identifier ?? r.issueID
        e.reason = r.reason
        e.message = r.message
        e.would = r.would
        switch r.status {
        case .created: e.status = "done"
        case HotReplyResult.alreadyFiled: e.status = "already"
        case .dryRun: e.status = "dry_run"
        case .skipped: e.status = "skipped"
        default: e.status = r.retryable ? "pending" : "failed"
        }
        return e
    }

    // MARK: - attio_note

    /// The note's ledger key: one per event.
    public static func noteKey(_ event: HookEvent) -> String { "attio:event-note:\(event.key)" }

    private func attioNote(_ event: HookEvent, email: String, outcome: HookEvent.Outcome) throws -> Effect {
        guard let api = attio else { return notConfigured(.attioNote, event, "ATTIO_API_KEY is not set") }
        let key = Self.noteKey(event)
        let claim = try claim(WriteLedger.Intent(key: key, service: AttioWriter.service, target: "hook-events", subject: email))
        if let e = settledClaim(claim, .attioNote, event, target: email) { return e }
        guard case .go(let previous) = claim else { return effect(.attioNote, event, "pending") }
        var e = effect(.attioNote, event, "done", target: email)
        guard let record = try personRecord(email, api: api) else {
            try ledger.record([.init(key: key, state: .failed, reason: "no Attio person record")])
            (e.status, e.reason, e.message) = ("failed", "no_record", "Attio gave no person record for \(email): a re-run with --from-start tries again")
            return e
        }
        let line = AttioWriter.keyLine(key)
        if Self.isLeftover(previous), let found = try api.notes(object: "people", recordID: record).first(where: { $0.content.contains(line) }) {
            try ledger.record([.init(key: key, state: .confirmed, remoteID: found.id, reason: "found by listing the record's notes")])
            e.remoteID = found.id
            return e
        }
        let body: JSONValue = .object([
            JSONMember(
                "data",
                .object([
                    JSONMember("parent_object", "people"), JSONMember("parent_record_id", .string(record)),
                    JSONMember("title", .string(Self.noteTitle(event, outcome: outcome))), JSONMember("format", "plaintext"),
                    JSONMember("content", .string(Self.noteText(event, outcome: outcome) + "\n\n" + line)),
                ]))
        ])
        CrashHook.point("before-send")
        let answer = api.createNotes(bodies: [body])[0]
        CrashHook.point("after-send")
        switch answer {
        case .done(let id, _):
            try ledger.record([.init(key: key, state: .confirmed, remoteID: id)])
            e.remoteID = id
        case .rejected(let status, let code, let message):
            try ledger.record([.init(key: key, state: .failed, reason: "HTTP \(status) \(code): \(message)")])
            (e.status, e.reason, e.message) = ("failed", "rejected", "Attio refused the note (HTTP \(status) \(code)): \(message)")
        case .unknown(let error):
            // It may have landed: the row stays claimed; the next run looks for its cmo-key line first.
            if error.isOutputClosed { throw error }
            (e.status, e.reason, e.message) = ("pending", "unavailable", error.description)
        }
        CrashHook.point("after-record")
        return e
    }

    /// The person's Attio record: the one sync-attio asserted (the ledger), else asserted now by email.
    private func personRecord(_ email: String, api: AttioAPI) throws -> String? {
        let key = AttioWriter.personKey(email)
        if let row = try ledger.rows([key])[key], row.state == .confirmed, let id = row.remoteID { return id }
        let body: JSONValue = .object([
            JSONMember("data", .object([JSONMember("values", .object([JSONMember("email_addresses", .array([.string(email)]))]))]))
        ])
        switch api.assertRecords(object: "people", matching: "email_addresses", bodies: [body])[0] {
        case .done(let id, _):
            try ledger.record(
                [.init(key: key, state: .confirmed, remoteID: id)],
                intents: [key: WriteLedger.Intent(key: key, service: AttioWriter.service, target: "people", subject: email)])
            return id
        case .rejected(let status, let code, let message):
            context.logger.warning("Attio refused the person \(email) (HTTP \(status) \(code)): \(message)")
            return nil
        case .unknown(let error):
            if error.isOutputClosed { throw error }
            return nil
        }
    }

    static func what(_ outcome: HookEvent.Outcome) -> String {
        switch outcome {
        case .interested: return "replied: interested"
        case .notInterested: return "replied: not interested"
        case .wrongPerson: return "replied: wrong person"
        case .reply: return "replied"
        case .unsubscribed: return "unsubscribed"
        case .bounced: return "hard-bounced"
        default: return outcome.rawValue
        }
    }

    static func noteTitle(_ e: HookEvent, outcome: HookEvent.Outcome) -> String {
        LeadFields.oneLine("Instantly: \(what(outcome)) (\(e.campaignName ?? e.campaignID ?? "a campaign"))", limit: 200)
    }

    /// The note: what happened, where, when, the reply's first words (user text: one line, cut) and the link.
    static func noteText(_ e: HookEvent, outcome: HookEvent.Outcome) -> String {
        var lines = ["\(LeadFields.oneLine(e.leadEmail ?? "?", limit: 320)) \(what(outcome)) in Instantly."]
        lines.append("Campaign: \(LeadFields.oneLine(e.campaignName ?? "?", limit: 200)) (\(LeadFields.oneLine(e.campaignID ?? "?", limit: 100)))")
        if let step = e.step { lines.append("Step: \(step)") }
        lines.append("When: \(LeadFields.oneLine(e.timestamp, limit: 64))")
        lines.append("Event: \(LeadFields.oneLine(e.eventType, limit: 100))")
        if let s = e.snippet, !s.isEmpty { lines.append("Reply: \(LeadFields.oneLine(s, limit: 500))") }
        if let u = e.uniboxURL { lines.append("Unibox: \(LeadFields.oneLine(u, limit: 2000))") }
        return lines.joined(separator: "\n")
    }

    private func notConfigured(_ kind: Kind, _ event: HookEvent, _ why: String, target: String? = nil) -> Effect {
        var e = effect(kind, event, settings.dryRun ? "dry_run" : "skipped", target: target)
        e.reason = "not_configured"
        e.message = why
        return e
    }
}
