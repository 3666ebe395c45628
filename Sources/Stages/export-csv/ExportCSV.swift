import ArgumentParser
import CMOBasics
import CMOStageKit
import Foundation

@main
struct ExportCSV: Stage {
    static let stageName = "export-csv"
    static let configuration = CommandConfiguration(
        commandName: stageName,
        abstract: "Turn NDJSON records into an RFC 4180 CSV file.",
        discussion: """
            INPUT
              NDJSON records on stdin, any kind. Blank lines are skipped; a line that is not a JSON object \
            goes to the dead-letter sink with its line number.

            OUTPUT
              CSV on stdout, or in FILE with -o (written to a temporary file beside it, then renamed, so \
            FILE is never half-written; a device or a pipe such as /dev/stdout is written as it is). Columns: --columns picks fields by dotted path (signals.commits_in_window); \
            --column 'Name=JQ' adds a computed column; without either, the columns are every top-level key, \
            in first-seen order (the input is spilled to a temporary file to look ahead; memory stays flat). \
            Arrays of scalars are joined with '; ', other nested values are written as compact JSON. Cells \
            from text that start with = + - @ tab or CR get a leading ' so spreadsheets do not run them \
            (--raw turns this off); cells over --max-cell-chars are cut. Empty input gives a header-only \
            file when the columns are known, else nothing.

            SIDE EFFECTS
              Writes FILE with -o; nothing else.

            ENVIRONMENT
              CMO_LOG_FORMAT, CMO_DEAD_LETTER, CMO_MAX_ERRORS, NO_COLOR.

            EXIT STATUS
              0 all input accounted for (or the reader downstream closed the pipe), 1 internal error or \
            too many dead letters, 64 bad flags or jq expression, 65 input is not NDJSON, 74 the CSV (or the \
            dead-letter file) cannot be written: disk full or an I/O error, 78 bad config.

            EXAMPLES
              Chosen columns, written atomically:
                export-csv --columns login,best_email,score -o leads.csv < leads.ndjson
              A computed column, and only the records that qualify:
                export-csv --where '.score >= 0.5' --columns login,score \\
                  --column 'subject=.copy.subject' < leads.ndjson
              Every field of a file, for a spreadsheet (union of keys, BOM for Excel):
                export-csv --bom -o people.csv < people.ndjson
            """,
        version: CMOVersion.string
    )

    @OptionGroup var common: CommonOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the CSV to this file, atomically.", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("Comma-separated dotted paths to export, in order (a,b.c,d).", valueName: "paths"))
    var columns: String?

    @Option(name: .customLong("column"), help: ArgumentHelp("Add a computed column: 'Name=JQ' (repeatable).", valueName: "name=jq"))
    var computed: [String] = []

    @Flag(inversion: .prefixedNo, help: "Do not neutralise spreadsheet formulas.")
    var raw: Bool?

    @Flag(inversion: .prefixedNo, help: "Start with a UTF-8 byte order mark (for Excel).")
    var bom: Bool?

    @Option(help: ArgumentHelp("Make the output a complete, valid CSV every N rows (fsync'd with -o).", valueName: "n"))
    var checkpointEvery: Int?

    @Option(help: ArgumentHelp("Cut cells longer than this many characters (0 = no limit; default 32767, Excel's limit).", valueName: "n"))
    var maxCellChars: Int?

    @Option(help: ArgumentHelp("Row ending: crlf (RFC 4180, default) or lf.", valueName: "ending"))
    var newline: String?

    func validate() throws {
        if let checkpointEvery, checkpointEvery < 1 { throw ValidationError("'--checkpoint-every' must be 1 or more") }
        if let newline, newline != "crlf", newline != "lf" { throw ValidationError("'--newline' must be 'crlf' or 'lf'") }
        for c in computed where !c.contains("=") { throw ValidationError("'--column \(c)' must be NAME=JQ") }
    }

    func configure(_ settings: Settings) throws -> ExportPlan {
        var plan = ExportPlan()
        let paths: [String]? = try settings.resolve("columns", flag: columns.map { $0.split(separator: ",").map(String.init) })
        let computedSpecs: [String] = try settings.resolve("column", flag: computed.isEmpty ? nil : computed, default: [])
        plan.output = try settings.resolve("output", flag: output)
        plan.formatter = CSVCellFormatter(
            neutralise: !(try settings.resolve("raw", flag: raw, default: false)),
            maxChars: try settings.resolve("max-cell-chars", flag: maxCellChars, default: 32767))
        plan.bom = try settings.resolve("bom", flag: bom, default: false)
        plan.checkpointEvery = try settings.resolve("checkpoint-every", flag: checkpointEvery)
        plan.newline = try settings.resolve("newline", flag: newline, default: "crlf") == "lf" ? [0x0A] : [0x0D, 0x0A]
        plan.columns = (paths ?? []).filter { !$0.isEmpty }.map { .path(FieldPath($0.trimmingCharacters(in: .whitespaces))) }
        for spec in computedSpecs {
            guard let eq = spec.firstIndex(of: "=") else { throw StageFailure(.usage, "'--column \(spec)' must be NAME=JQ") }
            let name = String(spec[..<eq]).trimmingCharacters(in: .whitespaces)
            plan.columns.append(.computed(name, try JQProgram(String(spec[spec.index(after: eq)...]))))
        }
        plan.unionOfKeys = paths == nil
        return plan
    }

    func process(_ context: StageContext, plan: ExportPlan) throws {
        let sink = try FileOutput(path: plan.output, checkpointEvery: plan.checkpointEvery, stdout: context.output)
        do {
            var exporter = CSVExporter(plan: plan, sink: sink, context: context)
            if plan.unionOfKeys {
                try exporter.exportWithLookahead()
            } else {
                try exporter.writeHeader()
                try context.forEachRecord { try exporter.writeRow($0) }
            }
            try sink.commit()
            if exporter.formatter.truncated > 0 { context.extraSummary.append(("cells_cut", .int(exporter.formatter.truncated))) }
        } catch {
            sink.abandon()
            throw error
        }
    }
}
