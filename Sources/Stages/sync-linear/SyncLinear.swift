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
struct SyncLinear: Stage {
    static let stageName = "sync-linear"
    static let configuration = CommandConfiguration(
        commandName: stageName,
        abstract: "Open one Linear issue per job and one sub-issue per distinct error, counting each dead letter or failure event once.",
        discussion: """
            INPUT
              On stdin, any mix of: dead letters of any stage ({"stage","line","error":{code,message,retryable},"input"}, \
            as --dead-letter files hold them); events ({"event","stage","level":"error","error":{code,message},"count","id"}); \
            and the stages' --log-format json lines (level error counts, code log_error). Other events and log lines \
            pass through as ignored; a line that is neither is dead-lettered (not_an_error).

            OUTPUT
              Every record, with `linear` {status, issue_id, identifier, parent_id, error_key, count}. status: created \
            (this record's error got its sub-issue now), counted (added to a known error's count), already_counted (an \
            earlier run counted this very line: nothing changes), ignored (not an error), failed (Linear refused the \
            sub-issue; reason, message), dry_run (`would`: create, count or none).

            SIDE EFFECTS
              Reads the team (by key or id; unknown → 78). One parent issue per job, "Campaign <name> — <date>", job id in \
            its description; one sub-issue per error key (SHA-256 of stage, code and the message with numbers, ids, \
            emails and URLs taken out). Issue ids are UUIDs (version 4 shape) derived from the ledger keys \
            linear:parent:<job> and linear:child:<job>:<error key>, so no run, re-run or crash makes a second one. \
            Creates are claimed in CMO_STATE_DIR/ledger.sqlite before they are sent and recorded before output; an \
            unconfirmed one is looked up by id first. Occurrences are kept in CMO_STATE_DIR/linear-sync.sqlite (the \
            line's SHA-256, or the event's id); a sub-issue's description holds its absolute count, set with issueUpdate \
            (aliased, 50 per request) whenever it changed. User text is neutralised (one line, no controls, no template \
            or markdown syntax, cut). --dry-run makes no write and changes no state.

            CHECK
              --check (with the run's own flags) reads no input and writes nothing (queries only; no state \
            opened): it checks the config, the key, that Linear answers and accepts it, and the team (by id or \
            key, else by name among the teams the key sees: none or several → 78 with the candidates). stdout: \
            one JSON object, {"stage","check":"ok","target":{given,id,name},"team_key","warnings":[…]}, or \
            {"stage","check":"failed","status","error"[,"target","candidates"]}; the exit status is the run's \
            (see docs/contracts.md).

            ENVIRONMENT
              LINEAR_API_KEY (sent bare in Authorization, no "Bearer"; not needed with --dry-run), LINEAR_API_URL, \
            CMO_JOB_ID (the job, below --job), CMO_LINEAR_TEAM (below --team), CMO_STATE_DIR, CMO_CONFIG, CMO_LOG_FORMAT, \
            CMO_DEAD_LETTER, CMO_MAX_ERRORS, CMO_MAX_WAIT, CMO_CRASH_AT (tests: before-send, after-send, after-record).

            EXIT STATUS
              0 all input accounted for (or the reader downstream closed the pipe), 1 internal error, too many dead \
            letters, or a whole request Linear refused, 64 bad flags or no job id, 65 input is not NDJSON or every record \
            was refused for its content, 69 Linear down or still failing after retries, 74 stdout or \
            its state cannot be written (disk full), 75 rate \
            limit longer than --max-wait (re-run later: nothing is counted or created twice), 77 key rejected or FORBIDDEN, 78 \
            missing key, unknown team.

            EXAMPLES
              Open tickets for a run's failures:
                sync-linear --team ENG --job "$CMO_JOB_ID" < runs/$CMO_JOB_ID/dead-letter.ndjson | jq -c .linear
              Follow a stage's dead letters as they are written:
                tail -n +1 -F dead.ndjson | sync-linear --team ENG --job job-42 > /dev/null
            """,
        version: CMOVersion.string
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var http: HTTPOptions
    @OptionGroup var checkOptions: CheckOptions
    @OptionGroup var rebuildOptions: RebuildOptions

    @Option(help: ArgumentHelp("The Linear team: its key (ENG) or id.", valueName: "key-or-id"))
    var team: String?

    @Option(help: ArgumentHelp("The job the issues belong to (default: CMO_JOB_ID).", valueName: "id"))
    var job: String?

    @Option(help: ArgumentHelp("The campaign's name in the parent's title (default: the job id).", valueName: "name"))
    var campaignName: String?

    @Option(
        help: ArgumentHelp("Records per chunk: counted, then Linear told, then written out (1 to 10000, default 1000).", valueName: "n"))
    var batchSize: Int?

    @Option(
        help: ArgumentHelp(
            "Seconds of quiet input after which a part-filled chunk is sent anyway, for a file still being written (default 1).",
            valueName: "seconds"))
    var idleFlush: Double?

    @Flag(help: "Make no write: read the team and the ledger only, mark every record dry_run.")
    var dryRun = false

    func validate() throws {
        if let batchSize, !(1...10_000).contains(batchSize) { throw ValidationError("'--batch-size' must be 1 to 10000") }
        if let idleFlush, !(idleFlush > 0) { throw ValidationError("'--idle-flush' must be more than 0") }
    }

    struct Plan {
        var team: String
        var job: String
        var campaignName: String
        var batchSize: Int
        var idleFlush: Double
        var dryRun: Bool
    }

    func configure(_ settings: Settings) throws -> Plan {
        let dryRun = try settings.resolve("dry-run", flag: dryRun ? true : nil, default: false)
        guard let team: String = try settings.resolve("team", flag: team, env: "CMO_LINEAR_TEAM"), !team.isEmpty else {
            throw StageFailure(.usage, "--team KEY_OR_ID is required (the Linear team's key, such as ENG, or its id)")
        }
        guard let job: String = try settings.resolve("job", flag: job, env: "CMO_JOB_ID"), !job.isEmpty else {
            throw StageFailure(.usage, "--job ID is required (or CMO_JOB_ID, which cmo-plan sets)")
        }
        return Plan(
            team: team, job: LeadFields.oneLine(job, limit: 200),
            campaignName: try settings.resolve("campaign-name", flag: campaignName) ?? job,
            batchSize: try settings.resolve("batch-size", flag: batchSize, default: 1000),
            idleFlush: try settings.resolve("idle-flush", flag: idleFlush, default: 1.0), dryRun: dryRun)
    }

    func process(_ context: StageContext, plan: Plan) throws {
        var api: LinearAPI?
        var team = LinearTeam(id: plan.team, key: plan.team, name: plan.team)
        let endpoint = try ServiceEndpoint.resolve(.linear, settings: context.settings, requireKey: !plan.dryRun)
        if endpoint.hasKey {
            let linear = LinearAPI(endpoint: endpoint, http: try context.makeHTTPClient(http))
            guard let found = try linear.team(plan.team) else {
                throw StageFailure(
                    .config,
                    "Linear team '\(plan.team)' does not exist (or the key cannot see it): check --team (a key such as ENG, or an id)")
            }
            team = found
            api = plan.dryRun ? nil : linear
        }
        let settings = LinearWriter.Settings(team: team, job: plan.job, campaignName: plan.campaignName, dryRun: plan.dryRun, now: Date())
        let ledger = try WriteLedger.open(environment: context.settings.environment, runID: plan.job)
        let writer = try LinearWriter(settings: settings, api: api, ledger: ledger, context: context)
        defer { summarize(writer, api: api, context: context) }
        try context.forEachChunk(size: plan.batchSize, flushWhenIdleFor: plan.idleFlush) { chunk in try writer.process(chunk) }
        try writer.finish()
    }

    func summarize(_ writer: LinearWriter, api: LinearAPI?, context: StageContext) {
        let c = writer.counts
        context.extraSummary.append(("linear", .object(c.keys.sorted().map { JSONMember($0, .int(c[$0]!)) })))
        if let r = api?.requests, !r.isEmpty {
            context.extraSummary.append(("linear_requests", .object(r.keys.sorted().map { JSONMember($0, .int(r[$0]!)) })))
        }
        if let failed = c[WriterStatus.failed.rawValue], failed > 0 {
            context.logger.warning("\(failed) records' errors have no issue yet (see linear.message); a re-run retries")
        }
    }
}
