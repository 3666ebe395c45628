import ArgumentParser
import CMOBasics
import CMOLedger

struct ListCommand: SuppressCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable { case ndjson, csv, text }

    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Print the do-not-contact list.",
        discussion: """
            INPUT
              None; the list in CMO_STATE_DIR/suppression.sqlite.

            OUTPUT
              Every entry (or those of --kind), by kind then value, on stdout. ndjson (default): one \
            {"kind","value","reason","source","added_at"} object a line, added_at in ISO 8601 UTC. csv: \
            RFC 4180 with a header kind,value,reason,source,added_at; cells that a spreadsheet would run \
            (= + - @ first) get a leading ' (import reads them back without it). text: aligned columns for \
            a person. On stderr, how many entries.

            SIDE EFFECTS
              None (the state directory and an empty list are created when missing).

            ENVIRONMENT
              CMO_STATE_DIR, CMO_LOG_FORMAT, NO_COLOR.

            EXIT STATUS
              0 done (or the reader downstream closed the pipe), 64 bad flags, 74 stdout cannot be written \
            (disk full), 78 the list cannot be \
            opened, 1 internal error.

            EXAMPLES
              For a person, and the domains alone:
                cmo-suppress list --format text
                cmo-suppress list --kind domain | jq -r .value
              A spreadsheet, and back:
                cmo-suppress list --format csv > do-not-contact.csv
                cmo-suppress import do-not-contact.csv
            """
    )

    @OptionGroup var options: SuppressOptions

    @Option(help: ArgumentHelp("ndjson (default), csv or text.", valueName: "format"))
    var format: Format?

    @Option(help: ArgumentHelp("Only entries of this kind: email, domain or login.", valueName: "kind"))
    var kind: SuppressionKind?

    func execute(_ run: SuppressRun) throws {
        let format = self.format ?? .ndjson
        let entries = try run.openList().all().filter { kind == nil || $0.kind == kind }
        switch format {
        case .ndjson:
            for e in entries { try run.emit(e.json) }
        case .csv:
            var formatter = CSVCellFormatter()
            let header = ["kind", "value", "reason", "source", "added_at"]
            try run.output.append { buf in
                for (n, h) in header.enumerated() {
                    if n > 0 { buf.append(UInt8(ascii: ",")) }
                    formatter.appendHeader(h, to: &buf)
                }
                buf.append(contentsOf: [0x0D, 0x0A])
            }
            for e in entries {
                let cells: [String?] = [e.kind.rawValue, e.value, e.reason, e.source, SuppressionEntry.iso8601(e.addedAt)]
                try run.output.append { buf in
                    for (n, c) in cells.enumerated() {
                        if n > 0 { buf.append(UInt8(ascii: ",")) }
                        formatter.appendCell(c.map(JSONValue.string), to: &buf)
                    }
                    buf.append(contentsOf: [0x0D, 0x0A])
                }
            }
        case .text:
            let rows = entries.map {
                [$0.kind.rawValue, $0.value, $0.reason ?? "-", $0.source ?? "-", SuppressionEntry.iso8601($0.addedAt)]
            }
            var widths = [4, 5, 6, 6, 8]
            for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
            func line(_ cells: [String]) -> String {
                cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                    .joined(separator: "  ") + "\n"
            }
            try run.output.write(line(["KIND", "VALUE", "REASON", "SOURCE", "ADDED_AT"]))
            for r in rows { try run.output.write(line(r.map { $0.replacingOccurrences(of: "\n", with: " ") })) }
        }
        run.logger.summary("\(entries.count) entr\(entries.count == 1 ? "y" : "ies")", ["entries": .int(entries.count)])
    }
}
