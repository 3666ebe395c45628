import CMOBasics
import CMOStorage
import CMOStageKit
import CMOHTTP
import CMOServices
import CMOEmail
import CMOLedger
import CMOContract
import Foundation

/// The send-instantly loop over one chunk of leads: checks (copy, unsubscribe link, verdict,
/// suppression), the ledger, the daily cap, crash recovery by lookup, `leads/add`, and the
/// `instantly` result on every lead. The executable resolves settings and checks the campaign;
/// everything that decides whether a person is written lives here, once.
///
/// Crash safety, instant by instant (see docs/send-instantly.md):
/// - before the claim: nothing happened; the re-run starts afresh.
/// - claimed (`intended`), request not sent: the re-run finds the row, asks `leads/list`, finds
///   nothing, sends.
/// - request sent, answer not recorded: the re-run asks `leads/list` by contacts and records the
///   lead it finds (`confirmed`) without writing; if the request never arrived, it sends.
/// - recorded, not yet on stdout: the re-run reads `confirmed` and writes nothing.
/// And every `leads/add` carries `skip_if_in_campaign: true`, so even a retry that races a slow
/// first attempt cannot create a second lead.
public final class InstantlyWriter {
    public struct Settings {
        public var campaignID: String?
        public var dryRun: Bool
        public var batchSize: Int
        public var minVerdict: EmailVerdict
        /// New leads per day for this campaign; nil: no cap (dry-run without a campaign).
        public var dailyCap: Int?
        public var now: Date
        public var unsubscribeURL: String?
        public var subjectVariable: String
        public var bodyVariable: String
        /// `NAME=JQ` custom variables and lead fields added to (or replacing) the defaults.
        public var variables: [(String, JQProgram)]
        public var fields: [(String, JQProgram)]
        /// Longest body sent (characters); a longer one is not cut (that could drop the unsubscribe link) but skipped.
        public var maxBodyCharacters: Int
        /// Leave out a person this ledger sent to in another campaign within so many days (nil: no such rule).
        public var skipContactedDays: Int?
        public init(
            campaignID: String?, dryRun: Bool, batchSize: Int, minVerdict: EmailVerdict, dailyCap: Int?, now: Date,
            unsubscribeURL: String?, subjectVariable: String, bodyVariable: String, variables: [(String, JQProgram)],
            fields: [(String, JQProgram)], maxBodyCharacters: Int
        ) {
            self.campaignID = campaignID
            self.dryRun = dryRun
            self.batchSize = batchSize
            self.minVerdict = minVerdict
            self.dailyCap = dailyCap
            self.now = now
            self.unsubscribeURL = unsubscribeURL
            self.subjectVariable = subjectVariable
            self.bodyVariable = bodyVariable
            self.variables = variables
            self.fields = fields
            self.maxBodyCharacters = maxBodyCharacters
        }
    }

    /// Lead fields `leads/add` accepts on an item (additionalProperties: false).
    public static let leadFields: Set<String> = [
        "email", "first_name", "last_name", "company_name", "job_title", "website", "phone", "personalization",
        "lt_interest_status", "pl_value_lead", "assigned_to",
    ]
    public static let service = "instantly"

    public let settings: Settings
    let api: InstantlyAPI?
    let ledger: WriteLedger
    let suppression: SuppressionList
    let context: StageContext
    /// Today (UTC), as the ledger counts days.
    public let day: String
    /// Counts by status, for the summary.
    public private(set) var counts: [String: Int] = [:]
    public private(set) var requests: [String: Int] = [:]
    /// What this run did with its leads, for the summary and the log: `queued` (written now, or found
    /// after an interrupted run of this job), `queued_before` (by this job, in an earlier run or on an
    /// earlier day), `already_in_campaign` (before this job), `deferred` (now), `deferred_kept` (deferred
    /// before: its day kept).
    public private(set) var leadCounts: [String: Int] = [:]
    /// Leads of this run by the day they are deferred to.
    public private(set) var deferredDays: [String: Int] = [:]

    public init(settings: Settings, api: InstantlyAPI?, ledger: WriteLedger, suppression: SuppressionList, context: StageContext) throws {
        self.settings = settings
        self.api = api
        self.ledger = ledger
        self.suppression = suppression
        self.context = context
        day = WriteLedger.day(settings.now)
        if let cap = settings.dailyCap, let campaign = settings.campaignID {
            let used = try ledger.countToday(service: Self.service, target: campaign, day: day)
            let since = WriteLedger.day(settings.now.addingTimeInterval(-14 * 86_400))
            let due = try ledger.eligibleDeferred(service: Self.service, target: campaign, day: day, since: since)
            if used > 0 || due > 0 {
                context.logger.info(
                    "daily cap \(cap) for campaign \(campaign): \(used) already added today (\(day) UTC)"
                        + (due > 0 ? ", \(due) held for leads deferred on earlier days" : ""))
            }
        }
    }

    /// The ledger's reason on a lead Instantly held before cmo wrote it (found by lookup, not created).
    public static let foundInCampaign = "already in the campaign"

    /// The idempotency key of a lead: lower-cased email and campaign id.
    public static func key(campaign: String, email: String) -> String { "instantly:lead:\(campaign):\(email.lowercased())" }

    // MARK: - One chunk

    /// A lead on its way: the record, and what was decided for it.
    struct Lead {
        var record: Record
        var email: String = ""
        var item: JSONValue = .null
        var key: String = ""
        var result: JSONValue?
        var previous: WriteLedger.Row?
        /// Claimed by this process and waiting to be sent.
        var toSend = false
    }

    /// Processes a chunk and writes every lead (or dead-letters it), in input order.
    public func process(_ chunk: [Record]) throws {
        var leads = chunk.map { Lead(record: $0) }
        var live: [Int] = []
        var seen: [String: Int] = [:]
        for i in leads.indices where prepare(&leads[i]) {
            // The same address twice in one chunk: written once (in a later chunk, the ledger says so).
            if !leads[i].key.isEmpty, let first = seen[leads[i].key] {
                leads[i].result = result(
                    .duplicate, reason: "duplicate_in_input", message: "the same address as the lead on input line \(leads[first].record.line)")
                continue
            }
            if !leads[i].key.isEmpty { seen[leads[i].key] = i }
            live.append(i)
        }

        if let campaign = settings.campaignID, !live.isEmpty {
            let rows = try ledger.rows(live.map { leads[$0].key })
            for i in live { leads[i].previous = rows[leads[i].key] }
            // Refused by Instantly for its content on an earlier run, and unchanged since: not sent again
            // (it would be refused again); a changed lead (new copy, a fixed name) is sent.
            for i in live {
                guard let earlier = ContentRefusal.earlier(leads[i].previous, payload: leads[i].item) else { continue }
                leads[i].result = result(
                    .failed, reason: earlier.code,
                    message: "Instantly refused this lead on an earlier run (\(earlier.message)): not sent again until it changes",
                    extra: [JSONMember("already", true)])
                context.countRefused()
            }
            live = live.filter { leads[$0].result == nil }
        }
        if let campaign = settings.campaignID, !live.isEmpty {
            if settings.dryRun {
                for i in live { leads[i].result = dryRunResult(leads[i], campaign: campaign) }
            } else {
                try write(&leads, live: live, campaign: campaign)
            }
        } else if settings.campaignID == nil {
            for i in live { leads[i].result = result(.dryRun, extra: [JSONMember("would_send", leads[i].item)]) }
        }
        try emit(leads)
    }

    /// Writes every lead that has a result (the others were dead-lettered), in input order.
    private func emit(_ leads: [Lead]) throws {
        for lead in leads {
            guard let result = lead.result else { continue }
            var out = lead.record
            out.set("instantly", result)
            try context.emit(out)
            guard let status = result["status"]?.stringValue else { continue }
            counts[status, default: 0] += 1
            let before = result["already"]?.boolValue == true
            switch WriterStatus(status) {
            case .queued: leadCounts[before ? "queued_before" : "queued", default: 0] += 1
            case .alreadyQueued: leadCounts["already_in_campaign", default: 0] += 1
            case .deferred:
                leadCounts[before ? "deferred_kept" : "deferred", default: 0] += 1
                if let on = result["eligible_on"]?.stringValue { deferredDays[on, default: 0] += 1 }
            default: break
            }
        }
    }

    /// Checks one lead and builds its `leads/add` item; false when it is finished already
    /// (dead-lettered, skipped, suppressed).
    private func prepare(_ lead: inout Lead) -> Bool {
        let record = lead.record
        guard let copy = record["copy"], case .object = copy else {
            context.deadLetterMissing(record, field: "copy")
            return false
        }
        guard let subject = copy["subject"]?.stringValue, !subject.isEmpty, let body = copy["body"]?.stringValue, !body.isEmpty else {
            context.deadLetterMissing(record, field: "copy.subject/copy.body")
            return false
        }
        guard let raw = LeadFields.bestEmail(record) else {
            lead.result = result(.skipped, reason: "no_email", message: "best_email is missing or null")
            return false
        }
        // Not a mailbox (Mailbox.check, the check mx-check makes): never sent, whatever its verdict says.
        let email: String
        switch Mailbox.check(raw) {
        case .success(let mailbox): email = mailbox.normalized.lowercased()
        case .failure(let problem):
            lead.email = raw
            lead.result = invalidEmail(raw, problem)
            return false
        }
        lead.email = email
        let login = record["login"]?.stringValue
        do {
            // Any address of the person, or their login, on the list: they asked not to be contacted.
            if let entry = try suppression.match(emails: [email] + SuppressionList.emails(of: record), login: login) {
                lead.result = result(.suppressed, reason: "suppressed", extra: [JSONMember("suppression", entry.json)])
                if let campaign = settings.campaignID, !settings.dryRun {
                    let key = Self.key(campaign: campaign, email: email)
                    let intent = WriteLedger.Intent(key: key, service: Self.service, target: campaign, subject: email)
                    try? ledger.record([.init(key: key, state: .suppressed, reason: "\(entry.kind.rawValue) \(entry.value)")], intents: [key: intent])
                }
                return false
            }
        } catch {
            context.deadLetter(record, code: "suppression_error", message: "cannot check the suppression list: \(error)", retryable: true)
            return false
        }
        if let days = settings.skipContactedDays, let campaign = settings.campaignID {
            let since = WriteLedger.day(WriteLedger.day(settings.now), plus: -days)
            do {
                if let last = try ledger.lastContact(service: Self.service, subject: email, since: since, except: Self.key(campaign: campaign, email: email)) {
                    lead.result = result(
                        .skipped, reason: "contacted_recently",
                        message: "\(email) was sent to on \(last.day ?? "?") (campaign \(last.target)), within --skip-contacted-days \(days)")
                    return false
                }
            } catch {
                context.deadLetter(record, code: "ledger_error", message: "cannot read the ledger: \(error)", retryable: true)
                return false
            }
        }
        let verdict = LeadFields.verdict(record, address: email)
        guard let verdict, verdict <= settings.minVerdict else {
            lead.result = result(
                .skipped, reason: "verdict_below_min",
                message: "\(email) is \(verdict?.rawValue ?? "unchecked"), below --min-verdict \(settings.minVerdict.rawValue)")
            return false
        }
        let cleanBody = LeadFields.multiLine(body)
        guard LeadFields.hasUnsubscribeLink(cleanBody, url: settings.unsubscribeURL) else {
            lead.result = result(
                .skipped, reason: "no_unsubscribe_link",
                message: settings.unsubscribeURL.map { "the body does not contain the unsubscribe link \($0)" }
                    ?? "the body has no unsubscribe link (a line saying unsubscribe with a URL)")
            return false
        }
        guard cleanBody.count <= settings.maxBodyCharacters else {
            lead.result = result(.skipped, reason: "body_too_long", message: "the body has \(cleanBody.count) characters, over \(settings.maxBodyCharacters)")
            return false
        }
        do {
            lead.item = try item(record, email: email, subject: LeadFields.oneLine(subject, limit: 998), body: cleanBody)
        } catch let error as MappingError {
            context.deadLetter(record, code: "bad_mapping", message: error.message)
            return false
        } catch {
            context.deadLetter(record, code: "bad_mapping", message: "\(error)")
            return false
        }
        if let campaign = settings.campaignID { lead.key = Self.key(campaign: campaign, email: email) }
        return true
    }

    struct MappingError: Error { var message: String }

    /// A lead whose address is not a mailbox: `failed` (invalid_email) before any request, and so
    /// recorded in the ledger (unless the ledger holds it as in the campaign: an older cmo sent it).
    private func invalidEmail(_ email: String, _ problem: EmailAddress.Problem) -> JSONValue {
        let message = "\(email.debugDescription) is not a mailbox cmo sends to (\(problem.rawValue)): never sent"
        if let campaign = settings.campaignID, !settings.dryRun {
            let key = Self.key(campaign: campaign, email: email)
            if let row = try? ledger.rows([key])[key], row.state == .confirmed { return confirmedResult(row) }
            let intent = WriteLedger.Intent(key: key, service: Self.service, target: campaign, subject: email)
            let reason = ContentRefusal.ledgerReason(code: "invalid_email", fingerprint: ContentRefusal.fingerprint(.string(email)), message: problem.rawValue)
            try? ledger.record([.init(key: key, state: .failed, reason: reason)], intents: [key: intent], now: settings.now)
        }
        context.countRefused()
        return result(.failed, reason: "invalid_email", message: message)
    }

    /// The `leads/add` item: the lead fields, and the custom variables (copy, provenance, identity).
    private func item(_ record: Record, email: String, subject: String, body: String) throws -> JSONValue {
        var fields: [(String, JSONValue)] = [("email", .string(email))]
        let name = LeadFields.splitName(record["name"]?.stringValue)
        if let first = name.first { fields.append(("first_name", .string(first))) }
        if let last = name.last { fields.append(("last_name", .string(last))) }
        if var company = record["company"]?.stringValue.map({ LeadFields.oneLine($0) }), !company.isEmpty {
            if company.hasPrefix("@") { company.removeFirst() }
            if !company.isEmpty { fields.append(("company_name", .string(company))) }
        }
        let provenance = LeadFields.provenance(record, address: email)
        var variables: [(String, JSONValue)] = [
            (settings.subjectVariable, .string(subject)), (settings.bodyVariable, .string(body)),
        ]
        if let v = record["copy"]?["variant"]?.stringValue { variables.append(("cmo_variant", .string(LeadFields.oneLine(v)))) }
        if let t = record["copy"]?["template"]?.stringValue { variables.append(("cmo_template", .string(LeadFields.oneLine(t)))) }
        if let login = record["login"]?.stringValue { variables.append(("cmo_github_login", .string(LeadFields.oneLine(login)))) }
        if let id = record["id"], id != .null { variables.append(("cmo_person_id", .string(id.stringValue ?? id.compactJSON))) }
        variables.append(("cmo_email_source", provenance.source.map { .string(LeadFields.oneLine($0)) } ?? .null))
        variables.append(("cmo_email_evidence", provenance.evidence.map { .string(LeadFields.oneLine($0)) } ?? .null))

        for (name, program) in settings.fields {
            guard Self.leadFields.contains(name), name != "email" else {
                throw MappingError(message: "--field \(name): not a lead field Instantly accepts")
            }
            try set(&fields, name, program, record, kind: "--field")
        }
        for (name, program) in settings.variables { try set(&variables, name, program, record, kind: "--variable") }

        var members = fields.filter { $0.1 != .null }.map { JSONMember($0.0, $0.1) }
        members.append(JSONMember("custom_variables", .object(variables.map { JSONMember($0.0, $0.1) })))
        return .object(members)
    }

    /// Sets `name` from a jq mapping: a scalar (strings made one-line and brace-safe), null drops it.
    private func set(_ list: inout [(String, JSONValue)], _ name: String, _ program: JQProgram, _ record: Record, kind: String) throws {
        let value: JSONValue
        do {
            value = try program.run(record).first ?? .null
        } catch {
            throw MappingError(message: "\(kind) \(name)=\(program.expression): \(error)")
        }
        let clean: JSONValue
        switch value {
        case .string(let s): clean = .string(name == settings.bodyVariable ? LeadFields.multiLine(s) : LeadFields.oneLine(s, limit: 2000))
        case .number, .bool, .null: clean = value
        case .array, .object:
            throw MappingError(message: "\(kind) \(name)=\(program.expression) gave \(value.compactJSON.prefix(80)): Instantly takes only strings, numbers, booleans or null")
        }
        list.removeAll { $0.0 == name }
        list.append((name, clean))
    }

    // MARK: - Writing

    private func write(_ leads: inout [Lead], live: [Int], campaign: String) throws {
        var claimNow: [Int] = []
        for i in live {
            let prev = leads[i].previous
            if let prev, prev.state == .confirmed {
                leads[i].result = confirmedResult(prev)
                continue
            }
            if let prev, prev.state == .intended || prev.state == .sent {
                claimNow.append(i)  // a crash left it: no cap is spent again
                continue
            }
            // Deferred to a later day already: a re-run neither moves its day nor spends a slot on it.
            if let prev, prev.state == .deferred, let on = prev.eligibleOn, on > day {
                leads[i].result = result(
                    .deferred, reason: "daily_cap", message: "deferred by the daily cap of \(settings.dailyCap ?? 0) new leads to \(on)",
                    extra: [JSONMember("eligible_on", .string(on)), JSONMember("already", true)])
                continue
            }
            claimNow.append(i)
        }
        // Claim before anything leaves the machine. The daily cap is held in the claim itself, for every
        // writer at once: leads deferred on an earlier day (now due) take the slots held for them first.
        let intents = claimNow.map { i in
            WriteLedger.Intent(key: leads[i].key, service: Self.service, target: campaign, subject: leads[i].email)
        }
        let cap = settings.dailyCap.map {
            WriteLedger.DailyCap(limit: $0, deferredSince: WriteLedger.day(settings.now.addingTimeInterval(-14 * 86_400)))
        }
        let claims = try ledger.claim(intents, day: day, cap: cap, now: settings.now)
        var recover: [Int] = []
        var send: [Int] = []
        var overCap: [Int] = []
        for i in claimNow {
            switch claims[leads[i].key] {
            case .held(let row)?:
                if row.state == .confirmed {
                    leads[i].result = confirmedResult(row)
                } else {
                    leads[i].result = result(
                        .deferred, reason: "in_progress", message: "another send-instantly (\(row.owner ?? "?")) is writing this lead",
                        extra: [JSONMember("eligible_on", .string(day))])
                }
            case .claimed(let previous)?:
                if let previous, previous.state == .intended || previous.state == .sent { recover.append(i) } else { send.append(i) }
            case .overCap?:
                overCap.append(i)
            case nil:
                leads[i].result = result(.failed, reason: "ledger", message: "the ledger did not answer for this lead")
            }
        }
        if !overCap.isEmpty { try deferToOpenDays(&leads, overCap, campaign: campaign) }
        if !recover.isEmpty { try recoverLeftovers(&leads, recover, campaign: campaign, send: &send) }
        send.sort()
        for start in stride(from: 0, to: send.count, by: settings.batchSize) {
            try sendBatch(&leads, Array(send[start..<min(start + settings.batchSize, send.count)]), campaign: campaign)
        }
    }

    /// Rows a crash left `intended` or `sent`: did the write land? Ask Instantly before writing again.
    private func recoverLeftovers(_ leads: inout [Lead], _ indices: [Int], campaign: String, send: inout [Int]) throws {
        guard let api else { return }
        requests["leads/list", default: 0] += (indices.count + 99) / 100
        // An address Instantly refuses to look up cannot be in the campaign: it is sent, and refused there.
        let found = try api.lookUpLeads(campaign: campaign, emails: indices.map { leads[$0].email }).found
        var outcomes: [WriteLedger.Outcome] = []
        for i in indices {
            if let id = found[leads[i].email] {
                let prev = leads[i].previous
                if let prev, let other = prev.runID, other != ledger.runID {
                    // An earlier job's interrupted run wrote it: it stays that job's.
                    outcomes.append(
                        .init(key: leads[i].key, state: .confirmed, remoteID: id, reason: "found by leads/list after an interrupted run", runID: other))
                    var row = prev
                    (row.state, row.remoteID, row.reason) = (.confirmed, id, nil)
                    leads[i].result = confirmedResult(row)
                    continue
                }
                outcomes.append(.init(key: leads[i].key, state: .confirmed, remoteID: id, reason: "found by leads/list after an interrupted run"))
                leads[i].result = result(.queued, leadID: id, extra: [JSONMember("recovered", true), JSONMember("queued_on", .string(day))])
            } else {
                send.append(i)
            }
        }
        try ledger.record(outcomes, now: settings.now)
        counts["recovered", default: 0] += outcomes.count
    }

    /// Refusals of one lead that named no lead (the leaves of a halving), and whether any part of the
    /// batch was taken or any refusal named its lead: settled when the whole batch is.
    private var unnamed: [(lead: Int, status: Int, message: String)] = []
    private var batchTaken = false

    /// Sends a batch (halving it on refusals, `sendPart`). Leads refused without being named are
    /// recorded as refused only when something else in the batch was taken or named: when Instantly
    /// refuses every lead of a batch of several without naming one, the request is at fault, not the
    /// leads, and the stage stops (1) with the rows left for the next run, rather than marking every
    /// lead as refused for good.
    private func sendBatch(_ leads: inout [Lead], _ batch: [Int], campaign: String) throws {
        (unnamed, batchTaken) = ([], false)
        try sendPart(&leads, batch, campaign: campaign)
        guard !unnamed.isEmpty else { return }
        if batchTaken || batch.count == 1 {
            for r in unnamed { try refuse(&leads, r.lead, status: r.status, message: r.message) }
            return
        }
        let first = unnamed[0]
        let message = "Instantly refused each of the \(batch.count) leads of a leads/add request without naming one (HTTP \(first.status): \(first.message)): the request is at fault, not a lead"
        for r in unnamed {
            leads[r.lead].result = result(.failed, reason: "request_refused", message: message, extra: [JSONMember("retryable", true)])
        }
        try emitFailedAndRethrow(leads, batch, StageFailure(.failure, message))
    }

    private func sendPart(_ leads: inout [Lead], _ batch: [Int], campaign: String) throws {
        guard let api, !batch.isEmpty else { return }
        CrashHook.point("before-send")
        requests["leads/add", default: 0] += 1
        let outcome: InstantlyAPI.AddOutcome
        do {
            outcome = try api.addLeads(campaign: campaign, items: batch.map { leads[$0].item })
        } catch let error as HTTPError where !error.isOutputClosed {
            // It may have landed: the rows stay `intended`, and the next run asks before writing.
            for i in batch {
                leads[i].result = result(.failed, reason: "unavailable", message: error.description, extra: [JSONMember("retryable", true)])
            }
            try emitFailedAndRethrow(leads, batch, error)
            return
        }
        CrashHook.point("after-send")
        switch outcome {
        case .rejected(let status, let message):
            // Instantly refused the request for its content; nothing of it landed. One lead costs only itself:
            // a message that names a lead (`body/leads/3/…`, or its address) fails it, and the rest go again;
            if let blamed = Self.blamed(message, leads, batch) {
                batchTaken = true
                try refuse(&leads, blamed, status: status, message: message)
                try sendPart(&leads, batch.filter { $0 != blamed }, campaign: campaign)
                return
            }
            if batch.count == 1 {
                unnamed.append((batch[0], status, message))
                return
            }
            // one that names none is halved until the bad lead is alone (about 2·log2(n) more requests a bad lead).
            let half = batch.count / 2
            try sendPart(&leads, Array(batch[..<half]), campaign: campaign)
            try sendPart(&leads, Array(batch[half...]), campaign: campaign)
        case .added(let added):
            batchTaken = true
            try settle(&leads, batch, added, campaign: campaign)
        }
    }

    /// The lead of `batch` a refusal names: by its position in `leads` (ajv's `body/leads/N/…`), or by its
    /// address when exactly one lead's address is in the message.
    static func blamed(_ message: String, _ leads: [Lead], _ batch: [Int]) -> Int? {
        if let n = ContentRefusal.blamedIndex(message, array: "leads") { return n < batch.count ? batch[n] : nil }
        let text = message.lowercased()
        let named = batch.filter { !leads[$0].email.isEmpty && text.contains(leads[$0].email) }
        return named.count == 1 ? named[0] : nil
    }

    /// A lead Instantly refused for its content: `failed` with Instantly's words, recorded with the
    /// fingerprint of what was sent (a re-run sends it again only once it changed).
    private func refuse(_ leads: inout [Lead], _ i: Int, status: Int, message: String) throws {
        let reason = ContentRefusal.ledgerReason(
            code: "rejected", fingerprint: ContentRefusal.fingerprint(leads[i].item), message: "HTTP \(status): \(message)")
        try ledger.record([.init(key: leads[i].key, state: .failed, reason: reason)], now: settings.now)
        leads[i].result = result(.failed, reason: "rejected", message: "Instantly refused the lead (HTTP \(status)): \(message)")
        context.countRefused()
        CrashHook.point("after-record")
    }

    /// Ties `leads/add`'s answer back to each lead: `created_leads[].index` are queued; the others
    /// were already in a campaign (skipped or duplicated: looked up), blocklisted or invalid.
    private func settle(_ leads: inout [Lead], _ batch: [Int], _ added: InstantlyAddResult, campaign: String) throws {
        var outcomes: [WriteLedger.Outcome] = []
        var notCreated: [Int] = []
        for (position, i) in batch.enumerated() {
            if let id = added.created[position] {
                outcomes.append(.init(key: leads[i].key, state: .confirmed, remoteID: id))
                leads[i].result = result(.queued, leadID: id, extra: [JSONMember("queued_on", .string(day))])
            } else {
                notCreated.append(i)
            }
        }
        var lookup = InstantlyAPI.LeadLookup()
        if !notCreated.isEmpty, let api {
            // Which of them are in the campaign (a duplicate, or our own earlier attempt)?
            try ledger.record(notCreated.map { .init(key: leads[$0].key, state: .sent, reason: "answered, not created; looking it up") }, now: settings.now)
            requests["leads/list", default: 0] += (notCreated.count + 99) / 100
            lookup = try api.lookUpLeads(campaign: campaign, emails: notCreated.map { leads[$0].email })
        }
        let found = lookup.found
        let missing = notCreated.filter { found[leads[$0].email] == nil }
        // An address Instantly will not even look up is one it counted in invalid_email_count.
        let notAddresses = missing.filter { lookup.refused[leads[$0].email] != nil }
        let unexplained = missing.count - notAddresses.count
        let invalidLeft = max(0, added.invalidEmail - notAddresses.count)
        let cause: (reason: String, message: String)
        if added.inBlocklist >= unexplained, added.inBlocklist > 0 {
            cause = ("in_blocklist", "Instantly's blocklist holds it")
        } else if invalidLeft >= unexplained, invalidLeft > 0 {
            cause = ("invalid_email", "Instantly says the email is invalid")
        } else {
            cause = (
                "not_created",
                "Instantly did not create it (in_blocklist \(added.inBlocklist), invalid_email_count \(added.invalidEmail), skipped \(added.skipped), duplicated \(added.duplicated))"
            )
        }
        for i in notCreated {
            if let id = found[leads[i].email] {
                // Sent more than once (a retry, or a crash left it): the earlier attempt was ours.
                let ours = added.attempts > 1 || leads[i].previous.map { $0.state == .intended || $0.state == .sent } == true
                outcomes.append(
                    .init(key: leads[i].key, state: .confirmed, remoteID: id, reason: ours ? "found by leads/list: an earlier attempt landed" : Self.foundInCampaign))
                leads[i].result =
                    ours
                    ? result(.queued, leadID: id, extra: [JSONMember("queued_on", .string(day))])
                    : result(.alreadyQueued, leadID: id, reason: "in_campaign", message: "the lead was in the campaign before cmo wrote it")
            } else if let refusal = lookup.refused[leads[i].email] ?? (cause.reason == "invalid_email" ? cause.message : nil) {
                // Refused for its content (the address): recorded so that a re-run does not send it again unchanged.
                let message = lookup.refused[leads[i].email] == nil ? refusal : "Instantly says the email is invalid (\(refusal))"
                outcomes.append(
                    .init(
                        key: leads[i].key, state: .failed,
                        reason: ContentRefusal.ledgerReason(code: "invalid_email", fingerprint: ContentRefusal.fingerprint(leads[i].item), message: message)))
                leads[i].result = result(.failed, reason: "invalid_email", message: message)
                context.countRefused()
            } else {
                outcomes.append(.init(key: leads[i].key, state: .failed, reason: cause.message))
                leads[i].result = result(.failed, reason: cause.reason, message: cause.message)
            }
        }
        try ledger.record(outcomes, now: settings.now)
        CrashHook.point("after-record")
    }

    private func emitFailedAndRethrow(_ leads: [Lead], _ batch: [Int], _ error: Error) throws {
        // The stage stops: what is known is written first (earlier leads of the chunk, and these as failed).
        try? emit(leads)
        throw error
    }

    // MARK: - Results

    /// A lead the ledger holds as in the campaign: queued by this job (an earlier run or day of it), or in
    /// the campaign before this job (an earlier job queued it, or Instantly held it): nothing is written.
    private func confirmedResult(_ row: WriteLedger.Row) -> JSONValue {
        if row.reason == Self.foundInCampaign {
            return result(.alreadyQueued, leadID: row.remoteID, reason: "in_campaign", message: "the lead was in the campaign before cmo wrote it")
        }
        let since = [JSONMember("queued_by", row.runID.map(JSONValue.string) ?? .null), JSONMember("queued_on", row.day.map(JSONValue.string) ?? .null)]
        if row.runID == ledger.runID { return result(.queued, leadID: row.remoteID, extra: [JSONMember("already", true)] + since) }
        return result(
            .alreadyQueued, leadID: row.remoteID, reason: "queued_earlier",
            message: "queued by \(row.runID ?? "an earlier run") on \(row.day ?? "an earlier day"): nothing written", extra: since)
    }

    /// Leads past today's cap go to the first days after today with room under it; every writer's
    /// deferrals to the campaign count, booked in one ledger transaction.
    private func deferToOpenDays(_ leads: inout [Lead], _ indices: [Int], campaign: String) throws {
        let intents = indices.map { WriteLedger.Intent(key: leads[$0].key, service: Self.service, target: campaign, subject: leads[$0].email) }
        let days = try ledger.deferToOpenDays(intents, after: day, cap: settings.dailyCap ?? 1, reason: "daily cap", now: settings.now)
        for i in indices {
            let eligible = days[leads[i].key] ?? WriteLedger.day(day, plus: 1)
            leads[i].result = result(
                .deferred, reason: "daily_cap", message: "today's cap of \(settings.dailyCap ?? 0) new leads is reached",
                extra: [JSONMember("eligible_on", .string(eligible))])
        }
    }

    private func dryRunResult(_ lead: Lead, campaign: String) -> JSONValue {
        if let prev = lead.previous, prev.state == .confirmed { return confirmedResult(prev) }
        var extra = [JSONMember("would_send", lead.item)]
        if let prev = lead.previous, prev.state == .intended || prev.state == .sent {
            extra.append(JSONMember("note", "an interrupted run left this lead unconfirmed: a real run asks leads/list first"))
        }
        return result(.dryRun, extra: extra)
    }

    private func result(
        _ status: WriterStatus, leadID: String? = nil, reason: String? = nil, message: String? = nil, extra: [JSONMember] = []
    ) -> JSONValue {
        var m = [JSONMember("status", .string(status.rawValue))]
        m.append(JSONMember("campaign_id", settings.campaignID.map(JSONValue.string) ?? .null))
        m.append(JSONMember("lead_id", leadID.map(JSONValue.string) ?? .null))
        if let reason { m.append(JSONMember("reason", .string(reason))) }
        if let message { m.append(JSONMember("message", .string(message))) }
        m.append(contentsOf: extra)
        if !settings.dryRun, status == .queued || status == .duplicate { m.append(JSONMember("run_id", .string(ledger.runID))) }
        return .object(m)
    }

    /// The first and last day the leads of this run are deferred to, if any is.
    public var deferredSpan: (first: String, last: String)? {
        guard let first = deferredDays.keys.min(), let last = deferredDays.keys.max() else { return nil }
        return (first, last)
    }
}
