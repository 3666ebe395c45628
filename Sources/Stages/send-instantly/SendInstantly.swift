import ArgumentParser
import CMOContract
import CMOBasics
import CMOStageKit
import CMOWriters
import CMOLedger
import CMOEmail
import CMOServices
import CMOHTTP
import Foundation

@main
struct SendInstantly: Stage {
    static let stageName = "send-instantly"
    static let configuration = CommandConfiguration(
        commandName: stageName,
        abstract: "Queue leads with rendered copy in an Instantly campaign, once each, within the campaign's daily cap.",
        discussion: """
            INPUT
              Lead records on stdin (render-copy's output): `copy` {subject, body} and `best_email` (mx-check); \
            `email_checks` for the verdict, `emails` for provenance, `name`, `company`, `login`, `id`. A record \
            without copy is dead-lettered (missing_field).

            OUTPUT
              Every lead, with `instantly` {status, campaign_id, lead_id, reason, message, …}. status: \
            queued (in the campaign by this job, CMO_JOB_ID: `queued_on`; `already: true` when an earlier run of the \
            job queued it, `recovered: true` when an interrupted run's write was found by lookup), already_queued \
            (in the campaign before this job: reason queued_earlier with `queued_by` and `queued_on`, or in_campaign \
            when Instantly held it before cmo wrote it; nothing written), duplicate (the same address twice in the \
            input), suppressed (on the do-not-contact list: never sent), deferred (over today's cap; `eligible_on`, \
            kept by a re-run: `already: true`), \
            skipped (no_email, verdict_below_min, no_unsubscribe_link, body_too_long), dry_run (`would_send` \
            holds the lead item), failed (reason; `retryable` when a re-run may succeed; invalid_email: best_email is not a \
            mailbox (Mailbox.check, as mx-check) and is never sent, or Instantly said the address is invalid; rejected: \
            Instantly refused the lead with a 400, its message in `message`; the batch-mates are written, and an \
            unchanged refused lead is not sent again by a re-run: `already: true`).

            SIDE EFFECTS
              Before the first write: GET the campaign (404 → 78; paused, completed or in error → refuse \
            unless --allow-inactive; a sequence that does not print {{cmo_subject}} and {{cmo_body}} → 78, \
            the copy would be dropped), GET the sending accounts for the default cap. Then POST \
            /api/v2/leads/add with up to --batch-size leads, campaign_id, skip_if_in_campaign: true. Every \
            write is claimed in the write ledger (CMO_STATE_DIR/ledger.sqlite, key: campaign id + lower-cased \
            email) before it is sent and recorded before the lead is written on stdout; a lead a crash left \
            unconfirmed is looked up with POST /api/v2/leads/list (contacts) before it is sent again. The \
            suppression list (CMO_STATE_DIR/suppression.sqlite, see cmo-suppress) is checked first. \
            --dry-run makes no request but GETs and writes nothing to the ledger.

            CUSTOM VARIABLES
              cmo_subject, cmo_body (the copy; names set by --subject-variable/--body-variable), cmo_variant, \
            cmo_template, cmo_github_login, cmo_person_id, cmo_email_source, cmo_email_evidence (where the \
            address came from, so an opt-out can be traced). Lead fields: email, first_name and last_name (from \
            name), company_name. --variable NAME=JQ and --field NAME=JQ add or replace them (scalars only). \
            Text is made one-line (names) and template-safe ({{ is broken up) where it lands.

            PACING
              --daily-new-leads per campaign per UTC day, counted in the ledger across runs (default: the \
            campaign's active sending accounts × --per-inbox-cap, at most the campaign's daily_limit). Leads \
            over the cap come out deferred with eligible_on (the first day after today with room under the cap, \
            every run's deferrals counted); a re-run keeps that day; on that day they go before new leads. Requests \
            are paced under Instantly's 100/s and 6,000/min; a 429 (no headers) backs off with jitter; 5xx \
            and dropped connections are retried because skip_if_in_campaign makes a retry safe.

            CHECK
              --check (with the run's own flags) reads no input and writes nothing (a read-only client: GETs \
            only, the ledger only read): it checks the config, the key, that Instantly answers and accepts it, \
            the campaign (GET /api/v2/campaigns/{id}; a value that is not an id, or not found, is looked for by \
            name: one match is used, none or several → 78 with the candidates), its status and sequence as a \
            run would, the default cap's sending accounts, and today's schedule in the ledger. stdout: one JSON \
            object, {"stage","check":"ok","target":{given,id,name},"campaign_status","warnings":[…],"daily_cap", \
            "sent_today","deferred"}, or {"stage","check":"failed","status","error"[,"target","candidates"]}; \
            the exit status is the run's (see docs/contracts.md).

            ENVIRONMENT
              INSTANTLY_API_KEY (required unless --dry-run without --campaign), INSTANTLY_API_URL, \
            CMO_STATE_DIR, CMO_JOB_ID (the run id in the ledger), CMO_CONFIG, CMO_LOG_FORMAT, CMO_DEAD_LETTER, \
            CMO_MAX_ERRORS, CMO_MAX_WAIT, CMO_CRASH_AT (tests: kill the process at before-send, after-send or \
            after-record), NO_COLOR.

            EXIT STATUS
              0 all input accounted for, 1 internal error, too many dead letters, or a whole request Instantly \
            refused (400/409/413/422), 64 bad flags, 65 input is not NDJSON or every lead was refused for its content, 69 \
            Instantly down or still failing after retries (never for a refused lead), 74 stdout or the ledger cannot be written (disk full), 75 rate limit longer than --max-wait (re-run \
            later: nothing is written twice), 77 key rejected, 78 missing key, unknown campaign, inactive \
            campaign, a campaign that is gone (404/410), sequence without the copy variables, no paid plan (402).

            EXAMPLES
              See what would be sent, without writing:
                send-instantly --campaign 0f6a…-… --dry-run < leads.ndjson | jq .instantly
              Queue, 100 new leads a day at most, risky addresses too:
                send-instantly --campaign 0f6a…-… --daily-new-leads 100 --min-verdict risky < leads.ndjson > sent.ndjson
            """,
        version: CMOVersion.string
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var http: HTTPOptions
    @OptionGroup var checkOptions: CheckOptions
    @OptionGroup var rebuildOptions: RebuildOptions

    @Option(help: ArgumentHelp("The Instantly campaign id (a UUID); required unless --dry-run.", valueName: "id"))
    var campaign: String?

    @Flag(help: "Make no write: GET the campaign only, write nothing to the ledger, mark every lead dry_run.")
    var dryRun = false

    @Option(help: ArgumentHelp("Leads per leads/add request, 1 to 1000 (default 1000).", valueName: "n"))
    var batchSize: Int?

    @Option(help: ArgumentHelp("Worst verdict sent: safe (default), risky or unknown.", valueName: "verdict"))
    var minVerdict: String?

    @Option(help: ArgumentHelp("New leads per UTC day for the campaign, across runs (default: active sending accounts × --per-inbox-cap).", valueName: "n"))
    var dailyNewLeads: Int?

    @Option(help: ArgumentHelp("New leads per sending account per day, for the default cap (default 50).", valueName: "n"))
    var perInboxCap: Int?

    @Flag(help: "Write to a paused, completed or unhealthy campaign too.")
    var allowInactive = false

    @Flag(help: "Refuse a campaign whose insert_unsubscribe_header is off (default: warn).")
    var requireUnsubscribeHeader = false

    @Option(help: ArgumentHelp("The unsubscribe URL every body must contain (default: the config's campaign.unsubscribe_url).", valueName: "url"))
    var unsubscribeURL: String?

    @Option(help: ArgumentHelp("Custom variable for the subject (default cmo_subject).", valueName: "name"))
    var subjectVariable: String?

    @Option(help: ArgumentHelp("Custom variable for the body (default cmo_body).", valueName: "name"))
    var bodyVariable: String?

    @Option(name: .customLong("variable"), help: ArgumentHelp("Add or replace a custom variable: NAME=JQ (repeatable).", valueName: "name=jq"))
    var variables: [String] = []

    @Option(name: .customLong("field"), help: ArgumentHelp("Set a lead field (first_name, company_name, …): NAME=JQ (repeatable).", valueName: "name=jq"))
    var fields: [String] = []

    @Option(help: ArgumentHelp("Longest body sent, in characters (default 20000); a longer one is skipped, not cut.", valueName: "n"))
    var maxBodyChars: Int?

    @Option(help: ArgumentHelp("The time to count days from (ISO 8601; tests and back-fills; default now).", valueName: "time"))
    var now: String?

    @Option(help: ArgumentHelp("Leave out (skipped, contacted_recently) a person this ledger sent to in another campaign within the last N days.", valueName: "n"))
    var skipContactedDays: Int?

    struct Plan {
        var settings: InstantlyWriter.Settings
        var perInboxCap: Int
        var allowInactive: Bool
        var requireUnsubscribeHeader: Bool
    }

    func validate() throws {
        if let batchSize, !(1...1000).contains(batchSize) { throw ValidationError("'--batch-size' must be 1 to 1000") }
        if let dailyNewLeads, dailyNewLeads < 0 { throw ValidationError("'--daily-new-leads' must be 0 or more") }
        if let perInboxCap, perInboxCap < 1 { throw ValidationError("'--per-inbox-cap' must be 1 or more") }
        if let maxBodyChars, maxBodyChars < 100 { throw ValidationError("'--max-body-chars' must be 100 or more") }
        if let skipContactedDays, !(1...3650).contains(skipContactedDays) { throw ValidationError("'--skip-contacted-days' must be 1 to 3650") }
    }

    func configure(_ settings: Settings) throws -> Plan {
        let dryRun = try settings.resolve("dry-run", flag: dryRun ? true : nil, default: false)
        let campaign: String? = try settings.resolve("campaign", flag: campaign, env: "CMO_INSTANTLY_CAMPAIGN")
        if let campaign, UUID(uuidString: campaign) == nil {
            throw StageFailure(.usage, "--campaign '\(campaign)' is not an Instantly campaign id (a UUID such as 0f6a7c2e-…)")
        }
        if campaign == nil, !dryRun {
            throw StageFailure(.usage, "--campaign ID is required (or --dry-run to see what would be sent)")
        }
        let verdictName: String = try settings.resolve("min-verdict", flag: minVerdict, default: "safe")
        guard let verdict = EmailVerdict(rawValue: verdictName), verdict != .invalid else {
            throw StageFailure(.usage, "--min-verdict must be safe, risky or unknown (not '\(verdictName)')")
        }
        var date = Date()
        if let now = try settings.resolve("now", flag: now) as String? {
            guard let parsed = Timestamp.parse(now) else {
                throw StageFailure(.usage, "--now '\(now)' is not an ISO 8601 time (2026-12-02T09:00:00Z)")
            }
            date = Date(timeIntervalSince1970: parsed)
        }
        let campaignSection = settings.configValue("campaign") as? [String: Any]
        let unsubscribe: String? = try settings.resolve("unsubscribe-url", flag: unsubscribeURL) ?? campaignSection?["unsubscribe_url"] as? String
        var writer = InstantlyWriter.Settings(
            campaignID: campaign?.lowercased(), dryRun: dryRun,
            batchSize: try settings.resolve("batch-size", flag: batchSize, default: 1000),
            minVerdict: verdict, dailyCap: try settings.resolve("daily-new-leads", flag: dailyNewLeads), now: date,
            unsubscribeURL: unsubscribe?.trimmingCharacters(in: .whitespaces).nilIfEmpty,
            subjectVariable: try settings.resolve("subject-variable", flag: subjectVariable, default: "cmo_subject"),
            bodyVariable: try settings.resolve("body-variable", flag: bodyVariable, default: "cmo_body"),
            variables: try Self.mappings(settings.resolve("variable", flag: variables.isEmpty ? nil : variables) ?? [], flag: "--variable"),
            fields: try Self.mappings(settings.resolve("field", flag: fields.isEmpty ? nil : fields) ?? [], flag: "--field"),
            maxBodyCharacters: try settings.resolve("max-body-chars", flag: maxBodyChars, default: 20_000))
        writer.skipContactedDays = try settings.resolve("skip-contacted-days", flag: skipContactedDays)
        for (name, _) in writer.fields where !InstantlyWriter.leadFields.contains(name) || name == "email" {
            throw StageFailure(
                .usage, "--field \(name): not a lead field Instantly accepts (\(InstantlyWriter.leadFields.subtracting(["email"]).sorted().joined(separator: ", ")))")
        }
        return Plan(
            settings: writer, perInboxCap: try settings.resolve("per-inbox-cap", flag: perInboxCap, default: 50),
            allowInactive: try settings.resolve("allow-inactive", flag: allowInactive ? true : nil, default: false),
            requireUnsubscribeHeader: try settings.resolve(
                "require-unsubscribe-header", flag: requireUnsubscribeHeader ? true : nil, default: false))
    }

    /// `NAME=JQ` pairs, compiled.
    static func mappings(_ specs: [String], flag: String) throws -> [(String, JQProgram)] {
        try specs.map { spec in
            guard let eq = spec.firstIndex(of: "="), eq != spec.startIndex else {
                throw StageFailure(.usage, "\(flag) '\(spec)': expected NAME=JQ")
            }
            let name = spec[..<eq].trimmingCharacters(in: .whitespaces)
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw StageFailure(.usage, "\(flag) '\(spec)': the name may hold letters, digits and _ only")
            }
            do {
                return (name, try JQProgram(String(spec[spec.index(after: eq)...])))
            } catch let error as JQError {
                throw StageFailure(.usage, "\(flag) \(name): \(error.description)")
            }
        }
    }

    func process(_ context: StageContext, plan: Plan) throws {
        var settings = plan.settings
        var api: InstantlyAPI?
        if let campaignID = settings.campaignID {
            let endpoint = try ServiceEndpoint.resolve(.instantly, settings: context.settings)
            let client = try context.makeHTTPClient(http)
            let instantly = InstantlyAPI(endpoint: endpoint, http: client)
            let campaign = try instantly.campaign(campaignID)
            try check(campaign, plan: plan, settings: settings, context: context)
            if settings.dailyCap == nil {
                settings.dailyCap = try defaultCap(campaign, api: instantly, perInbox: plan.perInboxCap, context: context)
            }
            api = instantly
        }
        let ledger = try WriteLedger.open(environment: context.settings.environment)
        let suppression = try SuppressionList.open(environment: context.settings.environment)
        let writer = try InstantlyWriter(settings: settings, api: api, ledger: ledger, suppression: suppression, context: context)
        defer { summarize(writer, context: context) }
        try context.forEachChunk(size: settings.batchSize) { chunk in try writer.process(chunk) }
    }

    /// The campaign must exist, take leads, and print the copy variables (judged as `--check` judges it).
    func check(_ campaign: InstantlyCampaign, plan: Plan, settings: InstantlyWriter.Settings, context: StageContext) throws {
        let warnings = try InstantlyWriter.assess(
            campaign, allowInactive: plan.allowInactive, requireUnsubscribeHeader: plan.requireUnsubscribeHeader,
            subjectVariable: settings.subjectVariable, bodyVariable: settings.bodyVariable)
        for w in warnings { context.logger.warning(w) }
    }

    /// Active sending accounts of the campaign × the per-inbox cap, at most the campaign's daily_limit.
    func defaultCap(_ campaign: InstantlyCampaign, api: InstantlyAPI, perInbox: Int, context: StageContext) throws -> Int {
        let accounts = try api.accounts()
        let active = campaign.emailList.filter { accounts[$0] == 1 }.count
        guard active > 0 else {
            throw StageFailure(
                .config,
                "Instantly campaign '\(campaign.name)' has no active sending account (\(campaign.emailList.count) listed): it cannot send; "
                    + "add one in Instantly, or set --daily-new-leads")
        }
        var cap = active * perInbox
        if let limit = campaign.dailyLimit, limit > 0 { cap = min(cap, limit) }
        context.logger.info("daily cap \(cap) new leads: \(active) active sending accounts × \(perInbox)" + (campaign.dailyLimit.map { ", campaign daily_limit \($0)" } ?? ""))
        return cap
    }

    func summarize(_ writer: InstantlyWriter, context: StageContext) {
        let c = writer.counts
        context.extraSummary.append(("instantly", .object(c.keys.sorted().map { JSONMember($0, .int(c[$0]!)) })))
        if let cap = writer.settings.dailyCap { context.extraSummary.append(("daily_cap", .int(cap))) }
        if writer.settings.campaignID != nil, !writer.settings.dryRun {
            // What this run did, new against already there: the runner, the report and the chat read these.
            let l = writer.leadCounts
            let n = { (key: String) in l[key] ?? 0 }
            context.extraSummary.append(("leads", .object(Self.leadKeys.map { JSONMember($0, .int(n($0))) })))
            context.extraSummary.append(("written", .int(n("queued"))))
            context.extraSummary.append(("already", .int(n("queued_before") + n("already_in_campaign"))))
            context.extraSummary.append(("deferred", .int(n("deferred") + n("deferred_kept"))))
            context.logger.info(Self.said(l, span: writer.deferredSpan, cap: writer.settings.dailyCap))
        }
        if let deferred = c[WriterStatus.deferred.rawValue], deferred > 0 {
            context.logger.warning(
                "\(deferred) leads deferred by today's cap of \(writer.settings.dailyCap ?? 0)"
                    + (writer.deferredSpan.map { " to \($0.first == $0.last ? $0.first : "\($0.first)..\($0.last)")" } ?? "")
                    + "; run again on those days to send them (a job under `cmo-plan worker` does it by itself)")
        }
        if let skipped = c[WriterStatus.skipped.rawValue], skipped > 0 {
            context.logger.warning("\(skipped) leads skipped (see instantly.reason)")
        }
        if let failed = c[WriterStatus.failed.rawValue], failed > 0 {
            context.logger.warning("\(failed) leads failed (see instantly.reason)")
        }
    }
}

extension SendInstantly {
    /// The summary's `leads` keys, in order.
    static let leadKeys = ["queued", "queued_before", "already_in_campaign", "deferred", "deferred_kept"]

    /// One sentence of what a run did: "24 queued now, 51 already in the campaign, 25 deferred to 2026-12-08..2026-12-09".
    static func said(_ l: [String: Int], span: (first: String, last: String)?, cap: Int?) -> String {
        let n = { (key: String) in l[key] ?? 0 }
        var parts = ["\(n("queued")) queued now"]
        if n("queued_before") > 0 { parts.append("\(n("queued_before")) queued by this job before (nothing sent)") }
        if n("already_in_campaign") > 0 { parts.append("\(n("already_in_campaign")) already in the campaign before this job (nothing sent)") }
        let deferred = n("deferred") + n("deferred_kept")
        if deferred > 0 {
            var text = "\(deferred) deferred by the daily cap\(cap.map { " of \($0)" } ?? "")"
            if let span { text += " to " + (span.first == span.last ? span.first : "\(span.first)..\(span.last)") }
            if n("deferred_kept") > 0 { text += " (\(n("deferred_kept")) kept the day an earlier run gave them)" }
            parts.append(text)
        }
        return parts.joined(separator: ", ")
    }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}
