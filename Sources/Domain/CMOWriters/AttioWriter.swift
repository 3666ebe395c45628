import CMOBasics
import CMOStorage
import CMOStageKit
import CMOHTTP
import CMOServices
import CMOLedger
import CMOEmail
import CMOContract
import Foundation

/// The sync-attio loop over one chunk of leads: suppression, the person assert, the list entry
/// assert, the note, the ledger around each write, and the `attio` result on every lead. The
/// executable resolves settings, discovers attributes and checks the list; every decision about
/// whether something is written lives here, once.
///
/// Ledger keys (service `attio`): `attio:person:<email>`, `attio:entry:<list id>:<record id>`,
/// `attio:note:<job>:<record id>`. Crash safety, instant by instant (docs/sync-attio.md):
/// - a person or entry claimed but not recorded: the re-run asserts again; an assert is an upsert
///   (by email, by parent), so a second one changes nothing.
/// - a note claimed but not recorded: the re-run lists the record's notes and looks for the
///   `cmo-key:` line it writes into every note; found → recorded, not created again.
/// - recorded, not yet on stdout: the re-run reads `confirmed` and writes nothing.
public final class AttioWriter {
    public struct Settings {
        public var dryRun: Bool
        /// The job notes are counted for (`--job`, `CMO_JOB_ID`, else the ledger's run id).
        public var job: String
        /// The list (id) people are added to, or nil.
        public var listID: String?
        public var listSlug: String?
        /// `SLUG=JQ` entry values, checked against the list's attributes.
        public var entryValues: [(String, JQProgram)]
        /// `SLUG=JQ` person values beyond the defaults, checked against the people attributes.
        public var personValues: [(String, JQProgram)]
        /// The note template (`{campaign}`, `{subject}`, …), or nil: no note.
        public var noteTemplate: String?
        /// The people object's attributes (discovered once per run).
        public var peopleAttributes: [String: AttioAttributeInfo]
        public var batchSize: Int
        public init(
            dryRun: Bool, job: String, listID: String?, listSlug: String?, entryValues: [(String, JQProgram)],
            personValues: [(String, JQProgram)], noteTemplate: String?, peopleAttributes: [String: AttioAttributeInfo], batchSize: Int
        ) {
            self.dryRun = dryRun
            self.job = job
            self.listID = listID
            self.listSlug = listSlug
            self.entryValues = entryValues
            self.personValues = personValues
            self.noteTemplate = noteTemplate
            self.peopleAttributes = peopleAttributes
            self.batchSize = batchSize
        }
    }

    public static let service = "attio"
    /// The default note: what happened to the lead in Instantly (`{what}`), then the subject.
    public static let defaultNoteTemplate = "{what}: subject \"{subject}\""
    /// Default people attributes, written only where the workspace has them (first slug found, text type).
    public static let optionalAttributes: [(role: String, slugs: [String])] = [
        ("login", ["github_login", "github_username", "github_handle"]),
        ("url", ["github_url", "github_profile_url", "github_profile"]),
        ("company", ["company_name", "github_company"]),
    ]

    public let settings: Settings
    let api: AttioAPI?
    let ledger: WriteLedger
    let suppression: SuppressionList
    let context: StageContext
    /// The slugs the defaults write to, by role (discovered).
    public let roleSlugs: [String: String]
    public private(set) var counts: [String: Int] = [:]
    /// What this run did to each kind of Attio object, new against already there: `people` {created,
    /// reasserted, already}, `entries` {added, reasserted, already}, `notes` {written, already, skipped}.
    /// created/added: the ledger had no such write (first by cmo); reasserted: an earlier job wrote it and
    /// this one asserted it again (an upsert: nothing new in Attio); already: this job wrote it before, nothing
    /// sent; skipped: no note, because the lead was in the campaign before this job and that job's note says so.
    /// Leads synced with nothing written (this job had done it all before).
    public private(set) var alreadySynced = 0
    public private(set) var objectCounts: [String: [String: Int]] = [
        "people": ["created": 0, "reasserted": 0, "already": 0], "entries": ["added": 0, "reasserted": 0, "already": 0],
        "notes": ["written": 0, "already": 0, "skipped": 0],
    ]

    public init(settings: Settings, api: AttioAPI?, ledger: WriteLedger, suppression: SuppressionList, context: StageContext) {
        self.settings = settings
        self.api = api
        self.ledger = ledger
        self.suppression = suppression
        self.context = context
        var roles: [String: String] = [:]
        for (role, slugs) in Self.optionalAttributes {
            if let slug = slugs.first(where: { settings.peopleAttributes[$0].map { $0.type == "text" && $0.writable } ?? false }) {
                roles[role] = slug
            }
        }
        roleSlugs = roles
    }

    /// Attio's limits are per workspace and per second, and each process paces only its own sends: a
    /// run that starts within a second of another run's last writes (a re-run after a kill, say)
    /// would add its first second of writes to that one's. So it waits until a second (and the
    /// pacing margin) has passed since the ledger's last Attio write by another process.
    public func waitForOtherRunsWindow(margin: Double = 0.1) {
        var targets = ["people", settings.job]
        if let list = settings.listID { targets.append(list) }
        // One aggregate over the ledger, not a read of every row: a killed run that sent after its
        // last claim (a chunk's requests take a moment) gets more margin.
        guard let found = try? ledger.lastWriteByOthers(service: Self.service, targets: targets, claimedSince: Date().addingTimeInterval(-2))
        else { return }
        let last = found.at
        let margin = found.recentClaim ? max(margin, 0.5) : margin
        let wait = 1 + margin - Date().timeIntervalSince(last)
        if wait > 0, wait <= 1.5 {
            context.logger.debug("waiting \(String(format: "%.2f", wait)) s: another run wrote to Attio within the last second")
            usleep(useconds_t(wait * 1_000_000))
        }
    }

    public static func personKey(_ email: String) -> String { "attio:person:\(email.lowercased())" }
    public static func entryKey(list: String, record: String) -> String { "attio:entry:\(list):\(record)" }
    public static func noteKey(job: String, record: String) -> String { "attio:note:\(job):\(record)" }

    // MARK: - One chunk

    struct Lead {
        var record: Record
        var email = ""
        var personBody: JSONValue = .null
        var entryValues: JSONValue = .object([])
        var noteTitle = ""
        var noteText = ""
        var recordID: String?
        var entryID: String?
        var noteID: String?
        var result: JSONValue?
        /// Something was written (or found) by this run.
        var wrote = false
        var recovered = false
        /// No note: the lead was in the campaign before this job, and that job's note (`noteID`) says so.
        var noteSkipped = false
    }

    public func process(_ chunk: [Record]) throws {
        var leads = chunk.map { Lead(record: $0) }
        var live: [Int] = []
        var seen: [String: Int] = [:]
        for i in leads.indices where prepare(&leads[i]) {
            if let first = seen[leads[i].email] {
                leads[i].result = result(
                    .duplicate, leads[i], reason: "duplicate_in_input",
                    message: "the same address as the lead on input line \(leads[first].record.line)")
                continue
            }
            seen[leads[i].email] = i
            live.append(i)
        }
        if settings.dryRun {
            try dryRun(&leads, live)
        } else {
            try assertPeople(&leads, live)
            if let list = settings.listID { try assertEntries(&leads, live.filter { leads[$0].result == nil }, list: list) }
            if settings.noteTemplate != nil { try writeNotes(&leads, live.filter { leads[$0].result == nil }) }
            for i in live where leads[i].result == nil {
                var extra: [JSONMember] = []
                if !leads[i].wrote {
                    extra.append(JSONMember("already", true))
                    alreadySynced += 1
                }
                if leads[i].recovered { extra.append(JSONMember("recovered", true)) }
                if leads[i].noteSkipped { extra.append(JSONMember("note", "an earlier job's note: the lead was in the campaign before this job")) }
                leads[i].result = result(.synced, leads[i], extra: extra)
            }
        }
        for lead in leads {
            guard let result = lead.result else { continue }
            var out = lead.record
            out.set("attio", result)
            try context.emit(out)
            if let status = result["status"]?.stringValue { counts[status, default: 0] += 1 }
        }
    }

    /// Reads one lead and builds its payloads; false when it is finished already (no email,
    /// suppressed, a bad mapping).
    private func prepare(_ lead: inout Lead) -> Bool {
        let record = lead.record
        guard let raw = LeadFields.bestEmail(record) else {
            lead.result = result(.skipped, lead, reason: "no_email", message: "best_email is missing or null")
            return false
        }
        // Not a mailbox (Mailbox.check, the check mx-check makes): no request; Attio would refuse the person.
        let email: String
        switch Mailbox.check(raw) {
        case .success(let mailbox): email = mailbox.normalized.lowercased()
        case .failure(let problem):
            lead.email = raw
            lead.result = result(
                .failed, lead, reason: "invalid_email", message: "\(raw.debugDescription) is not a mailbox (\(problem.rawValue)): never sent")
            context.countRefused()
            return false
        }
        lead.email = email
        do {
            if let entry = try suppression.match(email: email, login: record["login"]?.stringValue) {
                lead.result = result(.suppressed, lead, reason: "suppressed", extra: [JSONMember("suppression", entry.json)])
                return false
            }
        } catch {
            context.deadLetter(record, code: "suppression_error", message: "cannot check the suppression list: \(error)", retryable: true)
            return false
        }
        do {
            lead.personBody = .object([JSONMember("data", .object([JSONMember("values", try personValues(record, email: email))]))])
            var entry: [JSONMember] = []
            for (slug, program) in settings.entryValues {
                entry.append(JSONMember(slug, try mapped(record, slug, program, kind: "--entry-value")))
            }
            lead.entryValues = .object(entry)
        } catch let error as MappingError {
            context.deadLetter(record, code: "bad_mapping", message: error.message)
            return false
        } catch {
            context.deadLetter(record, code: "bad_mapping", message: "\(error)")
            return false
        }
        if let template = settings.noteTemplate {
            let text = Self.render(template, record)
            lead.noteTitle = String(
                text.split(whereSeparator: \.isNewline).first.map { LeadFields.oneLine(String($0), limit: 200) } ?? "cmo")
            lead.noteText = text
        }
        return true
    }

    struct MappingError: Error { var message: String }

    /// `email_addresses`, `name` (object form), the GitHub login/URL and company where the
    /// workspace has attributes for them, and `--attribute` mappings.
    private func personValues(_ record: Record, email: String) throws -> JSONValue {
        var values: [(String, JSONValue)] = [("email_addresses", .array([.string(email)]))]
        if settings.peopleAttributes["name"] != nil, let full = record["name"]?.stringValue.map({ LeadFields.oneLine($0) }), !full.isEmpty {
            let split = LeadFields.splitName(full)
            values.append(
                (
                    "name",
                    .array([
                        .object([
                            JSONMember("first_name", .string(split.first ?? full)), JSONMember("last_name", .string(split.last ?? "")),
                            JSONMember("full_name", .string(full)),
                        ])
                    ])
                ))
        }
        let login = record["login"]?.stringValue.map { LeadFields.oneLine($0, limit: 100) }.flatMap { $0.isEmpty ? nil : $0 }
        if let slug = roleSlugs["login"], let login { values.append((slug, .string(login))) }
        if let slug = roleSlugs["url"], let login {
            let url = record["html_url"]?.stringValue.map { LeadFields.oneLine($0, limit: 300) } ?? "https://github.com/\(login)"
            values.append((slug, .string(url)))
        }
        if let slug = roleSlugs["company"], var company = record["company"]?.stringValue.map({ LeadFields.oneLine($0) }) {
            if company.hasPrefix("@") { company.removeFirst() }
            if !company.isEmpty { values.append((slug, .string(company))) }
        }
        for (slug, program) in settings.personValues {
            let value = try mapped(record, slug, program, kind: "--attribute")
            values.removeAll { $0.0 == slug }
            values.append((slug, value))
        }
        return .object(values.map { JSONMember($0.0, $0.1) })
    }

    /// A jq mapping's value: scalars (strings made one-line and brace-safe), arrays of them, or null.
    private func mapped(_ record: Record, _ slug: String, _ program: JQProgram, kind: String) throws -> JSONValue {
        let value: JSONValue
        do {
            value = try program.run(record).first ?? .null
        } catch {
            throw MappingError(message: "\(kind) \(slug)=\(program.expression): \(error)")
        }
        func clean(_ v: JSONValue) throws -> JSONValue {
            switch v {
            case .string(let s): return .string(LeadFields.oneLine(s, limit: 2000))
            case .number, .bool, .null: return v
            case .array(let items): return .array(try items.map(clean))
            case .object:
                throw MappingError(
                    message: "\(kind) \(slug)=\(program.expression) gave an object: give a string, number, boolean, or an array of them")
            }
        }
        return try clean(value)
    }

    /// What happened to the lead in Instantly, as send-instantly said on the record (`instantly`), in words:
    /// the default note's first line. A lead is never said to be scheduled unless it was.
    public static func what(_ instantly: JSONValue?) -> String {
        guard let instantly, let status = instantly["status"]?.stringValue else { return "Lead from cmo (not sent to an email campaign)" }
        let campaign = instantly["campaign_id"]?.stringValue ?? "unknown"
        let reason = instantly["reason"]?.stringValue
        switch WriterStatus(status) {
        case .queued:
            return "Cold email queued in campaign \(campaign)" + (instantly["queued_on"]?.stringValue.map { " on \($0)" } ?? "")
        case .deferred where reason != "in_progress":
            return "Cold email scheduled for \(instantly["eligible_on"]?.stringValue ?? "a later day") (daily cap) in campaign \(campaign)"
        case .alreadyQueued where reason == "in_campaign":
            return "Already in campaign \(campaign) before cmo wrote it: not scheduled again"
        case .alreadyQueued:
            return "Already in campaign \(campaign)" + (instantly["queued_on"]?.stringValue.map { " since \($0)" } ?? "") + ": not scheduled again"
        case .dryRun:
            return "Cold email not sent (a dry run) to campaign \(campaign)"
        default:
            return "Cold email not scheduled: Instantly said \(status)" + (reason.map { " (\($0))" } ?? "")
        }
    }

    /// The note text: the template with `{what}` (what happened in Instantly, in words), `{status}`,
    /// `{queued_on}`, `{eligible_on}`, `{campaign}`, `{campaign_id}`, `{subject}`, `{email}`, `{name}`,
    /// `{login}`, `{variant}`, `{template}`, `{lead_id}` filled in (user text neutralised).
    public static func render(_ template: String, _ record: Record) -> String {
        let instantly = record["instantly"]
        let campaign = instantly?["campaign_id"]?.stringValue ?? "unknown"
        let fields: [String: String] = [
            "what": what(instantly), "status": instantly?["status"]?.stringValue ?? "",
            "queued_on": instantly?["queued_on"]?.stringValue ?? "", "eligible_on": instantly?["eligible_on"]?.stringValue ?? "",
            "campaign": campaign, "campaign_id": campaign,
            "subject": record["copy"]?["subject"]?.stringValue ?? "", "email": LeadFields.bestEmail(record) ?? "",
            "name": record["name"]?.stringValue ?? "", "login": record["login"]?.stringValue ?? "",
            "variant": record["copy"]?["variant"]?.stringValue ?? "", "template": record["copy"]?["template"]?.stringValue ?? "",
            "lead_id": instantly?["lead_id"]?.stringValue ?? "",
        ]
        var out = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let after = rest[rest.index(after: open)...]
            if let close = after.firstIndex(of: "}"), let value = fields[String(after[..<close])] {
                out += LeadFields.oneLine(value, limit: 998)
                rest = after[after.index(after: close)...]
            } else {
                out += "{"
                rest = after
            }
        }
        out += rest
        return LeadFields.multiLine(out)
    }

    // MARK: - Writing

    /// What to do with one key, from the ledger.
    enum Plan {
        case done(WriteLedger.Row)
        /// Send: claimed now (`previous` tells whether a crash left it).
        case send(previous: WriteLedger.Row?)
        /// Another live process is writing it.
        case busy(WriteLedger.Row)
    }

    /// Claims the keys that need a write. A row confirmed by this job is done; one confirmed by an
    /// earlier job is asserted again without a claim (asserts are upserts) when `reassert`.
    private func plan(_ intents: [WriteLedger.Intent], reassert: Bool) throws -> [String: Plan] {
        let rows = try ledger.rows(intents.map(\.key))
        var out: [String: Plan] = [:]
        var claim: [WriteLedger.Intent] = []
        for intent in intents {
            if let row = rows[intent.key], row.state == .confirmed {
                out[intent.key] = row.runID == settings.job || !reassert ? .done(row) : .send(previous: row)
            } else {
                claim.append(intent)
            }
        }
        for (key, c) in try ledger.claim(claim, day: WriteLedger.day(Date())) {
            switch c {
            case .claimed(let previous): out[key] = .send(previous: previous)
            case .held(let row): out[key] = row.state == .confirmed ? .done(row) : .busy(row)
            case .overCap: break  // Attio has no daily cap: never asked for one
            }
        }
        return out
    }

    private func assertPeople(_ leads: inout [Lead], _ live: [Int]) throws {
        guard let api, !live.isEmpty else { return }
        let people = live.map { (key: Self.personKey(leads[$0].email), payload: leads[$0].personBody) }
        let live = try skipRefused(&leads, live, people, what: "person")
        guard !live.isEmpty else { return }
        let intents = live.map {
            WriteLedger.Intent(key: Self.personKey(leads[$0].email), service: Self.service, target: "people", subject: leads[$0].email)
        }
        let plans = try plan(intents, reassert: true)
        var send: [Int] = []
        for i in live {
            switch plans[Self.personKey(leads[i].email)] {
            case .done(let row)?:
                leads[i].recordID = row.remoteID
                bump("people", "already")
            case .send?: send.append(i)
            case .busy(let row)?: leads[i].result = busy(leads[i], row)
            case nil: leads[i].result = result(.failed, leads[i], reason: "ledger", message: "the ledger did not answer for this lead")
            }
        }
        guard !send.isEmpty else { return }
        CrashHook.point("before-assert")
        let outcomes = api.assertRecords(object: "people", matching: "email_addresses", bodies: send.map { leads[$0].personBody })
        CrashHook.point("after-assert")
        var records: [WriteLedger.Outcome] = []
        for (i, outcome) in zip(send, outcomes) {
            let key = Self.personKey(leads[i].email)
            switch outcome {
            case .done(let id, _):
                leads[i].recordID = id
                leads[i].wrote = true
                bump("people", Self.wasConfirmed(plans[key]) ? "reasserted" : "created")
                records.append(.init(key: key, state: .confirmed, remoteID: id))
            case .rejected(let status, let code, let message):
                records.append(.init(key: key, state: .failed, reason: refusal(status, code, message, payload: leads[i].personBody)))
                leads[i].result = result(
                    .failed, leads[i], reason: "rejected", message: "Attio refused the person (HTTP \(status) \(code)): \(message)")
                countIfContent(status, code)
            case .unknown(let error):
                try rethrowUnlessUnavailable(error)
                // It may have landed; the row stays intended and the re-run asserts again.
                leads[i].result = result(
                    .failed, leads[i], reason: "unavailable", message: error.description, extra: [JSONMember("retryable", true)])
            }
        }
        try ledger.record(records)
        CrashHook.point("after-record")
    }

    private func assertEntries(_ leads: inout [Lead], _ live: [Int], list: String) throws {
        guard let api, !live.isEmpty else { return }
        func key(_ i: Int) -> String { Self.entryKey(list: list, record: leads[i].recordID ?? "") }
        let entries = live.map { (key: key($0), payload: entryBody(leads[$0])) }
        let live = try skipRefused(&leads, live, entries, what: "list entry")
        guard !live.isEmpty else { return }
        let intents = live.map { WriteLedger.Intent(key: key($0), service: Self.service, target: list, subject: leads[$0].email) }
        let plans = try plan(intents, reassert: true)
        var send: [Int] = []
        for i in live {
            switch plans[key(i)] {
            case .done(let row)?:
                leads[i].entryID = row.remoteID
                bump("entries", "already")
            case .send?: send.append(i)
            case .busy(let row)?: leads[i].result = busy(leads[i], row)
            case nil: leads[i].result = result(.failed, leads[i], reason: "ledger", message: "the ledger did not answer for this lead")
            }
        }
        guard !send.isEmpty else { return }
        let bodies: [JSONValue] = send.map { entryBody(leads[$0]) }
        CrashHook.point("before-entry")
        let outcomes = api.assertEntries(list: list, bodies: bodies)
        CrashHook.point("after-entry")
        var records: [WriteLedger.Outcome] = []
        for (n, (i, outcome)) in zip(send, outcomes).enumerated() {
            switch outcome {
            case .done(let id, _):
                leads[i].entryID = id
                leads[i].wrote = true
                bump("entries", Self.wasConfirmed(plans[key(i)]) ? "reasserted" : "added")
                records.append(.init(key: key(i), state: .confirmed, remoteID: id))
            case .rejected(let status, let code, let message):
                if status == 404, message.lowercased().contains("list") {
                    throw StageFailure(.config, "Attio list '\(settings.listSlug ?? list)' does not exist (404 on entries): \(message)")
                }
                records.append(.init(key: key(i), state: .failed, reason: refusal(status, code, message, payload: bodies[n])))
                countIfContent(status, code)
                leads[i].result = result(
                    .failed, leads[i], reason: code == "multiple_match_results" ? "multiple_entries" : "rejected",
                    message: "Attio refused the list entry (HTTP \(status) \(code)): \(message)")
            case .unknown(let error):
                try rethrowUnlessUnavailable(error)
                leads[i].result = result(
                    .failed, leads[i], reason: "unavailable", message: error.description, extra: [JSONMember("retryable", true)])
            }
        }
        try ledger.record(records)
        CrashHook.point("after-record")
    }

    /// The note's `cmo-key:` line, which a re-run looks for before creating it again.
    public static func keyLine(_ key: String) -> String { "cmo-key: \(key)" }

    private func writeNotes(_ leads: inout [Lead], _ live: [Int]) throws {
        guard let api, !live.isEmpty else { return }
        func key(_ i: Int) -> String { Self.noteKey(job: settings.job, record: leads[i].recordID ?? "") }
        // A lead in the campaign before this job, whose earlier job noted it: that note says what happened.
        var live = live
        let earlier = live.compactMap { i -> (Int, String)? in
            guard leads[i].record["instantly"]?["status"]?.stringValue == WriterStatus.alreadyQueued.rawValue,
                let by = leads[i].record["instantly"]?["queued_by"]?.stringValue, by != settings.job
            else { return nil }
            return (i, Self.noteKey(job: by, record: leads[i].recordID ?? ""))
        }
        if !earlier.isEmpty {
            let rows = try ledger.rows(earlier.map(\.1))
            for (i, k) in earlier {
                guard let row = rows[k], row.state == .confirmed else { continue }
                leads[i].noteID = row.remoteID
                leads[i].noteSkipped = true
                bump("notes", "skipped")
                live.removeAll { $0 == i }
            }
        }
        guard !live.isEmpty else { return }
        let notes = live.map { (key: key($0), payload: noteBody(leads[$0], key: key($0))) }
        live = try skipRefused(&leads, live, notes, what: "note")
        guard !live.isEmpty else { return }
        let intents = live.map { WriteLedger.Intent(key: key($0), service: Self.service, target: settings.job, subject: leads[$0].email) }
        let plans = try plan(intents, reassert: false)
        var pending: [Int] = []
        var check: [Int] = []
        for i in live {
            switch plans[key(i)] {
            case .done(let row)?:
                leads[i].noteID = row.remoteID
                bump("notes", "already")
            case .send(let previous)?:
                // A crash (or an answer lost) left it unconfirmed: did the note land? Look before writing.
                if let previous, previous.state == .intended || previous.state == .sent { check.append(i) } else { pending.append(i) }
            case .busy(let row)?: leads[i].result = busy(leads[i], row)
            case nil: leads[i].result = result(.failed, leads[i], reason: "ledger", message: "the ledger did not answer for this lead")
            }
        }
        for round in 0..<4 {
            // Look for the notes whose fate is unknown.
            var found: [WriteLedger.Outcome] = []
            for i in check {
                let line = Self.keyLine(key(i))
                if let note = try api.notes(object: "people", recordID: leads[i].recordID ?? "").first(where: { $0.content.contains(line) })
                {
                    leads[i].noteID = note.id
                    leads[i].recovered = true
                    bump("notes", "written")
                    found.append(.init(key: key(i), state: .confirmed, remoteID: note.id, reason: "found by listing the record's notes"))
                } else {
                    pending.append(i)
                }
            }
            try ledger.record(found)
            if !found.isEmpty { counts["recovered", default: 0] += found.count }
            check = []
            guard !pending.isEmpty else { return }
            if round == 3 {
                for i in pending {
                    leads[i].result = result(
                        .failed, leads[i], reason: "unavailable", message: "the note could not be created after 4 attempts",
                        extra: [JSONMember("retryable", true)])
                }
                return
            }
            let bodies: [JSONValue] = pending.map { noteBody(leads[$0], key: key($0)) }
            CrashHook.point("before-note")
            let outcomes = api.createNotes(bodies: bodies)
            CrashHook.point("after-note")
            var records: [WriteLedger.Outcome] = []
            let sent = pending
            pending = []
            for (n, (i, outcome)) in zip(sent, outcomes).enumerated() {
                switch outcome {
                case .done(let id, _):
                    leads[i].noteID = id
                    leads[i].wrote = true
                    bump("notes", "written")
                    records.append(.init(key: key(i), state: .confirmed, remoteID: id))
                case .rejected(let status, let code, let message):
                    records.append(.init(key: key(i), state: .failed, reason: refusal(status, code, message, payload: bodies[n])))
                    countIfContent(status, code)
                    leads[i].result = result(
                        .failed, leads[i], reason: "rejected", message: "Attio refused the note (HTTP \(status) \(code)): \(message)")
                case .unknown(let error):
                    try rethrowUnlessUnavailable(error)
                    check.append(i)  // it may have landed: list before sending again
                }
            }
            try ledger.record(records)
            CrashHook.point("after-record")
        }
    }

    // MARK: - Refusals

    private func entryBody(_ lead: Lead) -> JSONValue {
        .object([
            JSONMember(
                "data",
                .object([
                    JSONMember("parent_record_id", .string(lead.recordID ?? "")), JSONMember("parent_object", "people"),
                    JSONMember("entry_values", lead.entryValues),
                ]))
        ])
    }

    private func noteBody(_ lead: Lead, key: String) -> JSONValue {
        .object([
            JSONMember(
                "data",
                .object([
                    JSONMember("parent_object", "people"), JSONMember("parent_record_id", .string(lead.recordID ?? "")),
                    JSONMember("title", .string(lead.noteTitle)), JSONMember("format", "plaintext"),
                    JSONMember("content", .string(lead.noteText + "\n\n" + Self.keyLine(key))),
                ]))
        ])
    }

    /// Whether Attio refused a write for its content (400/413/422 `validation_type` and the like), not
    /// for the state of the workspace (`multiple_match_results`: duplicates someone must merge).
    static func isContentRefusal(_ status: Int, _ code: String) -> Bool {
        ContentRefusal.isContentStatus(status) && code != "multiple_match_results"
    }

    /// The ledger reason of a refused write: a content refusal with the payload's fingerprint (not sent
    /// again unchanged), anything else as it was said (tried again by the next run).
    private func refusal(_ status: Int, _ code: String, _ message: String, payload: JSONValue) -> String {
        let said = "HTTP \(status) \(code): \(message)"
        guard Self.isContentRefusal(status, code) else { return said }
        return ContentRefusal.ledgerReason(code: "rejected", fingerprint: ContentRefusal.fingerprint(payload), message: said)
    }

    private func countIfContent(_ status: Int, _ code: String) {
        if Self.isContentRefusal(status, code) { context.countRefused() }
    }

    /// The leads of `live` whose write (key, payload) Attio refused for its content on an earlier run,
    /// unchanged since: `failed` again without a request. Returns the others.
    private func skipRefused(_ leads: inout [Lead], _ live: [Int], _ writes: [(key: String, payload: JSONValue)], what: String) throws
        -> [Int]
    {
        let rows = try ledger.rows(writes.map(\.key))
        var rest: [Int] = []
        for (i, w) in zip(live, writes) {
            guard let earlier = ContentRefusal.earlier(rows[w.key], payload: w.payload) else {
                rest.append(i)
                continue
            }
            leads[i].result = result(
                .failed, leads[i], reason: earlier.code,
                message: "Attio refused the \(what) on an earlier run (\(earlier.message)): not sent again until it changes",
                extra: [JSONMember("already", true)])
            context.countRefused()
        }
        return rest
    }

    private func bump(_ object: String, _ key: String) { objectCounts[object, default: [:]][key, default: 0] += 1 }

    /// Whether a write about to be sent was confirmed before (by an earlier job): asserted again, not new.
    private static func wasConfirmed(_ plan: Plan?) -> Bool {
        if case .send(let previous)? = plan { return previous?.state == .confirmed }
        return false
    }

    /// Transport failures and 5xx are the writer's to resolve; anything else (401, a rate limit
    /// past --max-wait, a closed stdout) stops the stage.
    private func rethrowUnlessUnavailable(_ error: HTTPError) throws {
        switch error {
        case .transport, .serverError: return
        default: throw error
        }
    }

    // MARK: - Dry run

    private func dryRun(_ leads: inout [Lead], _ live: [Int]) throws {
        let personRows = try ledger.rows(live.map { Self.personKey(leads[$0].email) })
        for i in live {
            let row = personRows[Self.personKey(leads[i].email)]
            if let row, row.state == .confirmed { leads[i].recordID = row.remoteID }
            var extra = [JSONMember("would_assert", leads[i].personBody)]
            if settings.listID != nil {
                extra.append(JSONMember("would_add_entry", .object([JSONMember("entry_values", leads[i].entryValues)])))
            }
            if settings.noteTemplate != nil {
                var noted = false
                if let record = leads[i].recordID {
                    noted = try ledger.rows([Self.noteKey(job: settings.job, record: record)]).values.first?.state == .confirmed
                }
                if !noted {
                    extra.append(
                        JSONMember(
                            "would_note",
                            .object([JSONMember("title", .string(leads[i].noteTitle)), JSONMember("content", .string(leads[i].noteText))])))
                }
            }
            leads[i].result = result(.dryRun, leads[i], extra: extra)
        }
    }

    // MARK: - Results

    private func busy(_ lead: Lead, _ row: WriteLedger.Row) -> JSONValue {
        result(.deferred, lead, reason: "in_progress", message: "another sync-attio (\(row.owner ?? "?")) is writing this person")
    }

    private func result(_ status: WriterStatus, _ lead: Lead, reason: String? = nil, message: String? = nil, extra: [JSONMember] = [])
        -> JSONValue
    {
        var m = [JSONMember("status", .string(status.rawValue))]
        m.append(JSONMember("record_id", lead.recordID.map(JSONValue.string) ?? .null))
        m.append(JSONMember("list_entry_id", lead.entryID.map(JSONValue.string) ?? .null))
        m.append(JSONMember("note_id", lead.noteID.map(JSONValue.string) ?? .null))
        if let list = settings.listID { m.append(JSONMember("list_id", .string(list))) }
        if let reason { m.append(JSONMember("reason", .string(reason))) }
        if let message { m.append(JSONMember("message", .string(message))) }
        m.append(contentsOf: extra)
        if status == .synced { m.append(JSONMember("job", .string(settings.job))) }
        return .object(m)
    }
}
