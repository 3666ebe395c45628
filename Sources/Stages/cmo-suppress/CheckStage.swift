import ArgumentParser
import CMOBasics
import CMOStageKit
import CMOLedger

/// What `check` keeps.
enum CheckFilter {
    case all, onlySuppressed, excludeSuppressed
}

struct CheckStage: Stage {
    static let stageName = "cmo-suppress"
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Mark each record with the do-not-contact entry that blocks it.",
        discussion: """
            INPUT
              NDJSON records on stdin, any kind. The addresses checked: best_email (a string, or an \
            object's address), every emails[].address, and an email string field; the GitHub login: login. \
            A record with none of them passes as not suppressed. A line that is not a JSON object goes \
            to the dead-letter sink with its line number.

            OUTPUT
              Each record on stdout, unchanged but for one field: suppression, the matching entry \
            ({"kind","value","reason","source","added_at"}) or null. An address matches its own entry, its \
            domain or any parent domain (a@eu.acme.com matches acme.com), and for a GitHub noreply address \
            the login in it; login matches a login entry. --exclude-suppressed drops the matched records \
            (filtered, reason suppressed), --only-suppressed drops the others (reason not_suppressed). \
            The summary on stderr counts them (suppressed=N).

            SIDE EFFECTS
              None; reads CMO_STATE_DIR/suppression.sqlite (created empty when missing). The list is held \
            in memory for the run and re-read within a second when another process changes it.

            ENVIRONMENT
              CMO_STATE_DIR, CMO_LOG_FORMAT, CMO_DEAD_LETTER, CMO_MAX_ERRORS, NO_COLOR.

            EXIT STATUS
              0 all input accounted for (or the reader downstream closed the pipe), 1 internal error or \
            too many dead letters, 64 bad flags or jq expression, 65 input is not NDJSON, 74 stdout cannot be written \
            (disk full), 78 bad config \
            or the list cannot be opened.

            EXAMPLES
              Drop everyone on the list before scoring:
                mx-check < people.ndjson | cmo-suppress check --exclude-suppressed \\
                  | score-icp
              Who would have been contacted despite an opt-out, and why:
                cmo-suppress check --only-suppressed < leads.ndjson \\
                  | jq -c '{login, suppression}'
            """,
        version: CMOVersion.string
    )

    @OptionGroup var common: CommonOptions

    @Flag(help: "Write only the records the list matches.")
    var onlySuppressed = false

    @Flag(help: "Write only the records the list does not match.")
    var excludeSuppressed = false

    func validate() throws {
        if onlySuppressed && excludeSuppressed {
            throw ValidationError("'--only-suppressed' and '--exclude-suppressed' cannot be used together")
        }
    }

    func configure(_ settings: Settings) throws -> CheckFilter {
        onlySuppressed ? .onlySuppressed : excludeSuppressed ? .excludeSuppressed : .all
    }

    func process(_ context: StageContext, plan filter: CheckFilter) throws {
        let list = try SuppressionList.open(environment: context.settings.environment)
        var suppressed = 0
        try context.forEachRecord { record in
            var record = record
            let entry = try list.match(record: record)
            if entry != nil { suppressed += 1 }
            switch (filter, entry) {
            case (.excludeSuppressed, _?): return context.filter(record, reason: "suppressed")
            case (.onlySuppressed, nil): return context.filter(record, reason: "not_suppressed")
            default: break
            }
            record.set("suppression", entry?.json ?? .null)
            try context.emit(record)
        }
        context.extraSummary.append(("suppressed", .int(suppressed)))
    }
}
