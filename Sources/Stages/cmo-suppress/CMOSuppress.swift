import ArgumentParser
import CMOBasics

@main
struct CMOSuppress: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cmo-suppress",
        abstract: "Keep the do-not-contact list every cmo writer checks before anything leaves the machine.",
        discussion: """
            The list holds emails, domains and GitHub logins (opt-outs, bounces, manual entries) in \
            CMO_STATE_DIR/suppression.sqlite, or, with CMO_DATABASE_URL set, in the team's PostgreSQL database, \
            where every machine sees it. send-instantly (and every later writer) skips a lead the list \
            matches; GitHub's Acceptable Use Policy requires honouring do-not-contact requests.

            MATCHING
              An email matches its own entry, its domain or any parent domain (a@eu.acme.com matches \
            acme.com), and for a GitHub noreply address the login in it; a record's login matches a login \
            entry. Values are kept normalised: emails and domains trimmed, lower-cased, without a trailing \
            dot, IDN domains in punycode; logins lower-cased without a leading @.

            SUBCOMMANDS
              add VALUE…      put emails, domains or logins on the list
              remove VALUE…   take them off
              list            print the list (NDJSON, CSV or text)
              check           a stage: mark records on stdin with the entry that blocks them
              import [FILE]   add every entry of a CSV (an Instantly blocklist or unsubscribe export) or NDJSON file

            Each has its own --help (cmo-suppress add --help).

            EXIT STATUS
              0 done, 1 internal error or too many bad rows, 64 bad flags, 65 a value that is not an email, \
            domain or login (or no usable row), 74 the list cannot be written (disk full), 78 the state directory or the list cannot be opened or written.

            EXAMPLES
                cmo-suppress add jane@acme.com @octocat --reason "asked by email"
                cmo-suppress import --source instantly blocklist.csv
                mx-check < people.ndjson | cmo-suppress check --exclude-suppressed \\
                  | score-icp
            """,
        version: CMOVersion.string,
        subcommands: [AddCommand.self, RemoveCommand.self, ListCommand.self, CheckStage.self, ImportCommand.self]
    )
}
