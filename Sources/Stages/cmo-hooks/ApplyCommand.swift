import ArgumentParser
import CMOBasics
import CMOContract
import CMOHTTP
import CMOHooks
import CMOLedger
import CMOServices
import CMOStageKit
import CMOStorage
import CMOWriters
import Foundation

struct ApplyCommand: Stage {
    static let stageName = "cmo-hooks"
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Do what the stored events mean, each once: suppress, block, stop in other campaigns, hot replies, Attio notes.",
        discussion: """
            INPUT
              Nothing on stdin. The events CMO_STATE_DIR/hooks.sqlite holds after the cursor "effects", in the \
            order they were stored (serve and catch-up put them there).

            EFFECTS
              unsubscribe, hard bounce (5.x.x): suppress (cmo's do-not-contact list), block (Instantly's block \
            list), stop, attio_note. A reply (interested, not interested, wrong person, plain): stop, attio_note, \
            and for an interested one hot_reply. A soft bounce, an out-of-office (with its return date), an \
            auto-reply, opens, clicks and sends are recorded only.
              stop: every other campaign the write ledger says cmo queued the person in gets the lead's interest \
            status set (POST /api/v2/leads/update-interest-status: Interested for a reply, Not Interested for a no \
            or an unsubscribe, Wrong Person, Lost for a hard bounce): no more steps there, history kept.
              hot_reply: a Linear sub-issue under the parent of the job whose run queued the lead in that campaign \
            (else --job), with the reply's first words (neutralised) and the Unibox link; as sync-linear files it.
              attio_note: a note on the person's Attio record, with a cmo-key: line.

            OUTPUT
              One line per effect: {"kind":"effect","event":KEY,"effect":"suppress|block|stop|hot_reply|attio_note",\
            "status":…,"target"?,"remote_id"?,"reason"?,"message"?,"would"?}. status: done, already (an earlier run or \
            a duplicate event did it), skipped (reason not_configured, no_job), failed (refused; recorded), pending \
            (may succeed later: the cursor stays before its event), dry_run. Summary on stderr.

            SIDE EFFECTS
              Every effect is keyed in CMO_STATE_DIR/ledger.sqlite, claimed before it is sent and recorded before \
            it is printed; a re-run, a duplicate event, or a run killed at any instant does nothing twice. The \
            cursor "effects" moves past an event once all its effects are settled. --dry-run writes nothing, \
            moves no cursor and calls no service.

            ENVIRONMENT
              INSTANTLY_API_KEY (block and stop; without it they are skipped), ATTIO_API_KEY (notes), \
            LINEAR_API_KEY and CMO_LINEAR_TEAM (hot replies), INSTANTLY_API_URL, ATTIO_API_URL, LINEAR_API_URL, \
            CMO_JOB_ID (below --job), CMO_STATE_DIR, CMO_CONFIG, CMO_LOG_FORMAT, CMO_MAX_WAIT, CMO_CRASH_AT (tests).

            EXIT STATUS
              0 done, 1 internal error or a request refused as a whole, 64 bad flags, 69 a service down after \
            retries (what was done is kept; a re-run goes on), 74 state cannot be written, 75 rate limit past \
            --max-wait, 77 a key rejected, 78 the state cannot be opened, unknown Linear team, no paid plan.

            EXAMPLES
                cmo-hooks apply --team ENG | jq -c 'select(.status == "done")'
                cmo-hooks apply --dry-run
            """
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var http: HTTPOptions

    @Option(help: ArgumentHelp("The Linear team for hot replies: its key (ENG) or id (default: CMO_LINEAR_TEAM).", valueName: "key-or-id"))
    var team: String?

    @Option(help: ArgumentHelp("The job hot replies go under when the ledger does not say (default: CMO_JOB_ID).", valueName: "id"))
    var job: String?

    @Flag(help: "Go over every stored event, not only those after the cursor (nothing is done twice).")
    var fromStart = false

    @Flag(help: "Make no write and call no service: print what would be done.")
    var dryRun = false

    struct Plan {
        var team: String?
        var job: String?
        var fromStart: Bool
        var dryRun: Bool
    }

    func configure(_ settings: Settings) throws -> Plan {
        let team: String? = try settings.resolve("team", flag: team, env: "CMO_LINEAR_TEAM")
        let job: String? = try settings.resolve("job", flag: job, env: "CMO_JOB_ID")
        return Plan(
            team: team.flatMap { $0.isEmpty ? nil : $0 }, job: job.flatMap { $0.isEmpty ? nil : LeadFields.oneLine($0, limit: 200) },
            fromStart: fromStart, dryRun: try settings.resolve("dry-run", flag: dryRun ? true : nil, default: false))
    }

    func process(_ context: StageContext, plan: Plan) throws {
        let env = context.settings.environment
        let store = try HookEventStores.open(environment: env)
        let ledger = try WriteLedger.open(environment: env, runID: plan.job)
        let suppression = try SuppressionList.open(environment: env)
        var instantly: InstantlyAPI?
        var attio: AttioAPI?
        var linear: LinearHotReplies?
        var skipped: [String] = []
        if !plan.dryRun {
            let client = try context.makeHTTPClient(http)
            let i = try ServiceEndpoint.resolve(.instantly, settings: context.settings, requireKey: false)
            if i.hasKey { instantly = InstantlyAPI(endpoint: i, http: client) } else { skipped.append("block and stop (INSTANTLY_API_KEY)") }
            let a = try ServiceEndpoint.resolve(.attio, settings: context.settings, requireKey: false)
            if a.hasKey { attio = AttioAPI(endpoint: a, http: client) } else { skipped.append("Attio notes (ATTIO_API_KEY)") }
            let l = try ServiceEndpoint.resolve(.linear, settings: context.settings, requireKey: false)
            if l.hasKey, let team = plan.team {
                let api = LinearAPI(endpoint: l, http: client)
                guard let found = try api.team(team) else {
                    throw StageFailure(.config, "Linear team '\(team)' does not exist (or the key cannot see it): check --team")
                }
                linear = LinearHotReplies(team: found, api: api, ledger: ledger, context: context, dryRun: false)
            } else {
                skipped.append("hot replies (LINEAR_API_KEY and --team)")
            }
        } else if let team = plan.team {
            linear = LinearHotReplies(team: LinearTeam(id: team, key: team, name: team), api: nil, ledger: ledger, context: context, dryRun: true)
        }
        if !skipped.isEmpty { context.logger.warning("not configured, skipped: " + skipped.joined(separator: ", ")) }
        let effects = try HookEffects(
            settings: HookEffects.Settings(dryRun: plan.dryRun, job: plan.job, fromStart: plan.fromStart), store: store, ledger: ledger,
            suppression: suppression, instantly: instantly, attio: attio, linear: linear, context: context
        ) { effect in
            try context.output.write(effect.json.encoded() + [0x0A])
            context.recordsOut += 1
        }
        defer {
            try? context.output.flush()
            let c = effects.counts
            context.extraSummary.append(("events", .int(effects.eventsRead)))
            context.extraSummary.append(
                ("effects", .object(c.keys.sorted().map { k in JSONMember(k, .object(c[k]!.keys.sorted().map { JSONMember($0, .int(c[k]![$0]!)) })) })))
            if let n = effects.cursorMovedTo { context.extraSummary.append(("cursor", .string("seq:\(n)"))) }
        }
        try effects.run()
    }
}
