import ArgumentParser
import CMOContract
import CMOBasics
import CMOStageKit
import CMOWriters
import CMOLedger
import CMOServices
import CMOHTTP
import Foundation

@main
struct SyncAttio: Stage {
    static let stageName = "sync-attio"
    static let configuration = CommandConfiguration(
        commandName: stageName,
        abstract: "Assert leads as Attio people, add them to a list, and note the scheduled email, once each per job.",
        discussion: """
            INPUT
              Lead records on stdin (send-instantly's output, or any records with `best_email`): `name`, \
            `login`, `company`, `copy.subject`, `instantly` {status, campaign_id}. A record without best_email \
            comes out skipped.

            OUTPUT
              Every lead, with `attio` {status, record_id, list_entry_id, note_id, list_id, reason, message, …}. \
            status: synced (the person asserted, in the list, noted; `already: true` when an earlier run of \
            this job did it all and nothing was written, `recovered: true` when an interrupted run's note was \
            found by listing notes; `note` when the lead was in the campaign before this job and that job's \
            note stands), suppressed (on the do-not-contact list: untouched in Attio), skipped \
            (no_email), duplicate (duplicate_in_input), deferred (in_progress: another live run is writing it), \
            dry_run (`would_assert`, `would_add_entry`, `would_note`), failed (reason: rejected, \
            multiple_entries, unavailable; `retryable`).

            SIDE EFFECTS
              Once per run: GET /v2/objects/people/attributes (and, with --list, GET /v2/lists/{list} and its \
            attributes). Per person: PUT /v2/objects/people/records?matching_attribute=email_addresses \
            (email lower-cased; name; the GitHub login, profile URL and company only where the workspace has \
            text attributes github_login/github_url/company_name or their aliases; --attribute mappings), PUT \
            /v2/lists/{list}/entries (assert by parent, --entry-value mappings), POST /v2/notes (one per person \
            per job, with a `cmo-key:` line; the default note says what send-instantly did: "Cold email queued in \
            campaign C on DAY", "Cold email scheduled for DAY (daily cap)", "Already in campaign C since DAY: not \
            scheduled again"; none for a lead an earlier job queued and noted). Every write is claimed in the write ledger \
            (CMO_STATE_DIR/ledger.sqlite: attio:person:<email>, attio:entry:<list>:<record>, \
            attio:note:<job>:<record>) before it is sent and recorded before the lead is written; a note a crash \
            left unconfirmed is looked for in the record's notes before it is created. The suppression list is \
            checked first. --dry-run makes only the GETs above.

            LIMITS
              Paced under Attio's 25 writes/s and 100 reads/s; a 429's Retry-After (an HTTP date, or seconds) \
            is waited out and the request sent again (it was not processed). No query endpoints are used.

            CHECK
              --check (with the run's own flags) reads no input and writes nothing (a read-only client: GETs \
            only): it checks the config, the token, that Attio answers and accepts it, the people object (a \
            unique email_addresses; every --attribute writable) and the list (by id or api_slug, else by name \
            among GET /v2/lists: none or several → 78 with the candidates; holding people; every --entry-value \
            writable). stdout: one JSON object, {"stage","check":"ok","target":{given,id,name}|null, \
            "warnings":[…]}, or {"stage","check":"failed","status","error"[,"target","candidates"]}; the exit \
            status is the run's (see docs/contracts.md).

            ENVIRONMENT
              ATTIO_API_KEY (required), ATTIO_API_URL, CMO_STATE_DIR, CMO_JOB_ID (the job, as --job), CMO_CONFIG, \
            CMO_ATTIO_WRITES_PER_SECOND, CMO_ATTIO_READS_PER_SECOND, CMO_LOG_FORMAT, CMO_DEAD_LETTER, \
            CMO_MAX_ERRORS, CMO_MAX_WAIT, CMO_CRASH_AT (tests: before-assert, after-assert, before-entry, \
            after-entry, before-note, after-note, after-record), NO_COLOR.

            EXIT STATUS
              0 all input accounted for, 1 internal error, too many dead letters, or a whole request Attio \
            refused (400/409/413/422), 64 bad flags or jq, 65 input is not NDJSON or every person was refused for its \
            content, 69 Attio down or still failing after retries, 74 stdout or the ledger cannot be written \
            (disk full), 75 rate limit longer than --max-wait \
            (re-run later: nothing is written twice), 77 token rejected (401/403), 78 missing token, unknown \
            list (404/410), or an attribute the workspace does not have (named).

            EXAMPLES
              Sync what Instantly queued into a list, one job:
                send-instantly --campaign "$C" < leads.ndjson | sync-attio --list outbound --only-status queued --job nov-python > synced.ndjson
              Set a list stage from the record, no note:
                sync-attio --list outbound --entry-value 'stage="Contacted"' --no-note < sent.ndjson
              See what would be written:
                sync-attio --list outbound --dry-run < sent.ndjson | jq .attio
            """,
        version: CMOVersion.string
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var http: HTTPOptions
    @OptionGroup var checkOptions: CheckOptions
    @OptionGroup var rebuildOptions: RebuildOptions

    @Option(help: ArgumentHelp("The Attio list people are added to: its id or api_slug.", valueName: "id-or-slug"))
    var list: String?

    @Option(
        name: .customLong("entry-value"),
        help: ArgumentHelp("A list entry value: SLUG=JQ, from the record (repeatable).", valueName: "slug=jq"))
    var entryValues: [String] = []

    @Option(
        name: .customLong("attribute"), help: ArgumentHelp("A person value: SLUG=JQ, from the record (repeatable).", valueName: "slug=jq"))
    var attributes: [String] = []

    @Option(
        help: ArgumentHelp(
            "The note's text (default '{what}: subject \"{subject}\"'): {what} (what happened in Instantly, in words), {status}, {queued_on}, {eligible_on}, {campaign}, {subject}, {email}, {name}, {login}, {variant}, {template}, {lead_id}.",
            valueName: "template"))
    var note: String?

    @Flag(help: "Write no note.")
    var noNote = false

    @Option(help: ArgumentHelp("The job the notes belong to (default: CMO_JOB_ID, else this run's id).", valueName: "id"))
    var job: String?

    @Option(help: ArgumentHelp("Sync only leads whose instantly.status is this (e.g. queued).", valueName: "status"))
    var onlyStatus: String?

    @Flag(help: "Make no write: GET the attributes and the list only, write nothing to the ledger, mark every lead dry_run.")
    var dryRun = false

    @Option(help: ArgumentHelp("Leads handled together (default 50).", valueName: "n"))
    var batchSize: Int?

    struct Plan {
        var dryRun: Bool
        var job: String?
        var list: String?
        var entryValues: [(String, JQProgram)]
        var personValues: [(String, JQProgram)]
        var note: String?
        var onlyStatus: WriterStatus?
        var batchSize: Int
    }

    func validate() throws {
        if let batchSize, !(1...1000).contains(batchSize) { throw ValidationError("'--batch-size' must be 1 to 1000") }
        if noNote, note != nil { throw ValidationError("'--note' and '--no-note' cannot be used together") }
    }

    func configure(_ settings: Settings) throws -> Plan {
        let noteText: String? = try settings.resolve("note", flag: note)
        let noNote = try settings.resolve("no-note", flag: noNote ? true : nil, default: false)
        let job: String? = try settings.resolve("job", flag: job, env: "CMO_JOB_ID")
        let list: String? = try settings.resolve("list", flag: list, env: "CMO_ATTIO_LIST")
        // An empty list would go into the URL's path as nothing and name another endpoint.
        if let list, list.trimmingCharacters(in: .whitespaces).isEmpty {
            throw StageFailure(.usage, "--list '\(list)': expected the list's id (a UUID), its api_slug or its name")
        }
        return Plan(
            dryRun: try settings.resolve("dry-run", flag: dryRun ? true : nil, default: false),
            job: job.flatMap { $0.isEmpty ? nil : $0 },
            list: list,
            entryValues: try Self.mappings(
                settings.resolve("entry-value", flag: entryValues.isEmpty ? nil : entryValues) ?? [], flag: "--entry-value"),
            personValues: try Self.mappings(
                settings.resolve("attribute", flag: attributes.isEmpty ? nil : attributes) ?? [], flag: "--attribute"),
            note: noNote ? nil : (noteText ?? AttioWriter.defaultNoteTemplate),
            onlyStatus: try settings.resolve("only-status", flag: onlyStatus).map(WriterStatus.init(rawValue:)),
            batchSize: try settings.resolve("batch-size", flag: batchSize, default: 50))
    }

    /// `SLUG=JQ` pairs, compiled.
    static func mappings(_ specs: [String], flag: String) throws -> [(String, JQProgram)] {
        try specs.map { spec in
            guard let eq = spec.firstIndex(of: "="), eq != spec.startIndex else {
                throw StageFailure(.usage, "\(flag) '\(spec)': expected SLUG=JQ")
            }
            let slug = spec[..<eq].trimmingCharacters(in: .whitespaces)
            guard slug.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw StageFailure(.usage, "\(flag) '\(spec)': the slug may hold letters, digits, _ and - only")
            }
            if flag == "--attribute", slug == "email_addresses" {
                throw StageFailure(.usage, "--attribute email_addresses: the email is best_email")
            }
            return (slug, try JQProgram(String(spec[spec.index(after: eq)...])))
        }
    }

    func process(_ context: StageContext, plan: Plan) throws {
        let endpoint = try ServiceEndpoint.resolve(.attio, settings: context.settings)
        let api = AttioAPI(endpoint: endpoint, http: try context.makeHTTPClient(http))
        let people = try Self.peopleAttributes(api, plan: plan)
        var listID: String?
        var listSlug: String?
        if let name = plan.list {
            let info = try api.list(name)
            try Self.checkList(info, label: "'\(name)'", api: api, plan: plan)
            (listID, listSlug) = (info.id, info.slug)
        } else if !plan.entryValues.isEmpty {
            throw StageFailure(.usage, "--entry-value needs --list")
        }
        let ledger = try WriteLedger.open(environment: context.settings.environment, runID: plan.job)
        if plan.job == nil, plan.note != nil, !plan.dryRun {
            context.logger.warning(
                "no --job or CMO_JOB_ID: notes belong to this run (\(ledger.runID)); re-run with --job \(ledger.runID) to add none twice")
        }
        let settings = AttioWriter.Settings(
            dryRun: plan.dryRun, job: ledger.runID, listID: listID, listSlug: listSlug, entryValues: plan.entryValues,
            personValues: plan.personValues, noteTemplate: plan.note, peopleAttributes: people, batchSize: plan.batchSize)
        let writer = AttioWriter(
            settings: settings, api: api, ledger: ledger, suppression: try SuppressionList.open(environment: context.settings.environment),
            context: context)
        let skipped = AttioWriter.optionalAttributes.filter { writer.roleSlugs[$0.role] == nil }.map(\.role)
        if !skipped.isEmpty {
            context.logger.info("the people object has no attribute for: \(skipped.joined(separator: ", ")); not written")
        }
        if !plan.dryRun { writer.waitForOtherRunsWindow() }
        defer { summarize(writer, api: api, context: context) }
        try context.forEachChunk(
            size: plan.batchSize,
            prepare: { record in
                if let wanted = plan.onlyStatus, record["instantly"]?["status"]?.stringValue.map(WriterStatus.init(rawValue:)) != wanted {
                    context.filter(record, reason: "instantly_status")
                    return nil
                }
                return record
            }
        ) { chunk in try writer.process(chunk) }
    }

    func summarize(_ writer: AttioWriter, api: AttioAPI, context: StageContext) {
        let c = writer.counts
        context.extraSummary.append(("attio", .object(c.keys.sorted().map { JSONMember($0, .int(c[$0]!)) })))
        let r = api.requests
        context.extraSummary.append(("attio_requests", .object(r.keys.sorted().map { JSONMember($0, .int(r[$0]!)) })))
        if !writer.settings.dryRun {
            // New against already there, per kind of object: the runner, the report and the chat read these.
            let o = writer.objectCounts
            for kind in ["people", "entries", "notes"] {
                let k = o[kind] ?? [:]
                context.extraSummary.append((kind, .object(k.keys.sorted().map { JSONMember($0, .int(k[$0]!)) })))
            }
            let synced = c[WriterStatus.synced.rawValue] ?? 0
            context.extraSummary.append(("written", .int(synced - writer.alreadySynced)))
            context.extraSummary.append(("already", .int(writer.alreadySynced)))
            let n = { (kind: String, key: String) in o[kind]?[key] ?? 0 }
            context.logger.info(
                "people: \(n("people", "created")) created, \(n("people", "reasserted")) asserted again, \(n("people", "already")) already synced by this job; "
                    + "list entries: \(n("entries", "added")) added, \(n("entries", "reasserted")) asserted again, \(n("entries", "already")) already there; "
                    + "notes: \(n("notes", "written")) written, \(n("notes", "already")) already written by this job, \(n("notes", "skipped")) skipped (an earlier job's note says it)")
        }
        if let failed = c[WriterStatus.failed.rawValue], failed > 0 { context.logger.warning("\(failed) leads failed (see attio.reason)") }
    }
}
