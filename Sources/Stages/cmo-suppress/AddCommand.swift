import ArgumentParser
import CMOLedger

struct AddCommand: SuppressCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Put emails, domains or GitHub logins on the do-not-contact list.",
        discussion: """
            INPUT
              VALUE… on the command line; nothing is read from stdin. The kind of each value is inferred \
            unless --kind says it: x@y is an email; @login or login:NAME a login; domain:NAME, @acme.com, \
            *.acme.com or a bare name with a dot a domain. A bare word (octocat) is refused: it could be \
            a login or a typo. Values are normalised (trimmed, lower-cased, trailing dot dropped, IDN \
            domains in punycode, a login's @ dropped).

            OUTPUT
              Nothing on stdout. On stderr, one line: how many were added, updated (a new reason or \
            source) or already on the list, and the values as stored.

            SIDE EFFECTS
              Writes CMO_STATE_DIR/suppression.sqlite (created when missing), all values in one \
            transaction. A value already on the list is not duplicated: it keeps its added_at and takes \
            the new --reason and --source. Any bad value stops the command before anything is written.

            ENVIRONMENT
              CMO_STATE_DIR (else $XDG_STATE_HOME/cmo, else ~/.local/state/cmo), CMO_LOG_FORMAT, NO_COLOR.

            EXIT STATUS
              0 added, 64 bad flags (an unknown --kind), 65 a value that is not an email, domain or \
            login (each one named), 74 the list cannot be written (disk full), 78 the state directory \
            or the list cannot be opened or written, 1 internal error.

            EXAMPLES
              An opt-out, a whole company, and a GitHub user:
                cmo-suppress add jane@acme.com --reason "replied: not interested"
                cmo-suppress add acme.com @octocat --source manual
              Values that need saying:
                cmo-suppress add --kind login octocat
            """
    )

    @OptionGroup var options: SuppressOptions

    @Argument(help: ArgumentHelp("Emails, domains or logins.", valueName: "value"))
    var values: [String] = []

    @Option(help: ArgumentHelp("The kind of every value: email, domain or login (default: inferred).", valueName: "kind"))
    var kind: SuppressionKind?

    @Option(help: ArgumentHelp("Why these may not be contacted.", valueName: "text"))
    var reason: String?

    @Option(help: ArgumentHelp("Where the request came from (default: manual).", valueName: "text"))
    var source: String?

    func validate() throws {
        if values.isEmpty { throw ValidationError("give at least one email, domain or login to add") }
    }

    func execute(_ run: SuppressRun) throws {
        let parsed = try parseValues(values, kind: kind, logger: run.logger)
        let reason: String? = try run.settings.resolve("reason", flag: reason)
        let source: String = try run.settings.resolve("source", flag: source, default: "manual")
        let list = try run.openList()
        let entries = parsed.map { SuppressionEntry(kind: $0.kind, value: $0.value, reason: reason, source: source) }
        let counts = try list.upsert(entries)
        let shown = parsed.prefix(20).map { "\($0.kind.rawValue):\($0.value)" }.joined(separator: ", ")
        run.logger.summary(
            "\(counts.added) added, \(counts.updated) updated, \(counts.unchanged) already on the list (\(shown)\(parsed.count > 20 ? ", …" : ""))",
            ["added": .int(counts.added), "updated": .int(counts.updated), "unchanged": .int(counts.unchanged)])
    }
}

struct RemoveCommand: SuppressCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Take emails, domains or GitHub logins off the do-not-contact list.",
        discussion: """
            INPUT
              VALUE… on the command line, read as by add (kind inferred unless --kind, then normalised). \
            Removing a domain removes that domain's entry only, not the addresses listed under it.

            OUTPUT
              Each removed entry as an NDJSON line on stdout ({"kind","value","reason","source","added_at"}), \
            so a removal can be undone with import. A value that was not on the list is named on stderr.

            SIDE EFFECTS
              Deletes rows of CMO_STATE_DIR/suppression.sqlite.

            ENVIRONMENT
              CMO_STATE_DIR, CMO_LOG_FORMAT, NO_COLOR.

            EXIT STATUS
              0 done (also when a value was not on the list), 64 bad flags, 65 a value that is not an \
            email, domain or login, 74 the list cannot be written (disk full), 78 the list cannot be \
            opened or written, 1 internal error.

            EXAMPLES
              Two entries off the list:
                cmo-suppress remove jane@acme.com @octocat
              Keep what was removed, to put it back later:
                cmo-suppress remove acme.com > removed.ndjson
                cmo-suppress import removed.ndjson
            """
    )

    @OptionGroup var options: SuppressOptions

    @Argument(help: ArgumentHelp("Emails, domains or logins.", valueName: "value"))
    var values: [String] = []

    @Option(help: ArgumentHelp("The kind of every value: email, domain or login (default: inferred).", valueName: "kind"))
    var kind: SuppressionKind?

    func validate() throws {
        if values.isEmpty { throw ValidationError("give at least one email, domain or login to remove") }
    }

    func execute(_ run: SuppressRun) throws {
        let parsed = try parseValues(values, kind: kind, logger: run.logger)
        let list = try run.openList()
        var removed = 0
        for (kind, value) in parsed {
            if let entry = try list.removeEntry(kind: kind, value: value) {
                try run.emit(entry.json)
                removed += 1
            } else {
                run.logger.warning("\(kind.rawValue):\(value) was not on the list")
            }
        }
        run.logger.summary("\(removed) removed, \(parsed.count - removed) not on the list", ["removed": .int(removed)])
    }
}
