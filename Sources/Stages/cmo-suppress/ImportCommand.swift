import ArgumentParser
import CMOBasics
import CMOLedger
import Foundation

struct ImportCommand: SuppressCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable { case csv, ndjson }

    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Add every entry of a CSV or NDJSON file to the do-not-contact list.",
        discussion: """
            INPUT
              FILE, or stdin when FILE is - or absent. The format is --format, else the file's extension \
            (.csv; .ndjson, .jsonl, .json), else its first character ({ is NDJSON).
              CSV: RFC 4180 with a header row (comma, or semicolon or tab when the header has more of \
            those; a UTF-8 BOM is skipped). Columns are found by name, case, spaces, _ and - aside: an \
            email in email, e-mail, email address, lead email, contact email, work email, address; a \
            value of any kind (inferred) in Blocked Email (Instantly's blocklist download: "Blocked \
            Email,Date", domains and emails mixed), bl_value, value (with kind, as list --format csv \
            writes), entry; a domain in domain, blocked domain; a login in login, github, github login, \
            github username; and reason, source, added_at or date. Other columns are ignored. A file whose \
            first line is already a value is read as one value per line.
              NDJSON: kind+value (what list writes), else email, address or best_email (a string or \
            {address}), login, domain; and reason, source, added_at.
              A row gives its email, its login, and its domain only when it has no email (an unsubscribe \
            export's company domain does not block the company).

            OUTPUT
              Nothing on stdout. Rows that cannot be used (a value that is not an email, domain or \
            login; no value at all; a quoted CSV cell never closed; a line that is not JSON) go to the \
            dead-letter sink with their line number and reason; a row with one bad value still adds its \
            good ones. At the end one summary on stderr: rows, added, updated (a new reason or source), \
            skipped (already on the list as given), bad.

            SIDE EFFECTS
              Writes CMO_STATE_DIR/suppression.sqlite, one transaction per 5,000 entries, so a large \
            import is quick and an interrupted one keeps the batches before it (re-running is safe: \
            nothing is duplicated). --reason and --source fill rows that have none; the source defaults \
            to import:FILE.

            ENVIRONMENT
              CMO_STATE_DIR, CMO_LOG_FORMAT, CMO_DEAD_LETTER, CMO_MAX_ERRORS, NO_COLOR.

            EXIT STATUS
              0 done, 1 internal error or more bad rows than --max-errors, 64 bad flags or FILE cannot \
            be opened, 65 no row of a non-empty file could be used (or no column holds a value), 74 the \
            list cannot be written (disk full), 78 the list cannot be opened or written.

            EXAMPLES
              Instantly's blocklist, and an unsubscribe export with its own columns:
                cmo-suppress import --source instantly blocklist.csv
                cmo-suppress import --reason unsubscribed --dead-letter bad.ndjson \\
                  unsubscribes.csv
              Everyone in a file of leads, by email and login:
                jq -c '{best_email, login}' leads.ndjson \\
                  | cmo-suppress import --format ndjson --reason "campaign closed"
            """
    )

    @OptionGroup var options: SuppressOptions

    @Argument(help: ArgumentHelp("The file to import (default: stdin).", valueName: "file"))
    var file: String?

    @Option(help: ArgumentHelp("csv or ndjson (default: from the extension, else the first character).", valueName: "format"))
    var format: Format?

    @Option(help: ArgumentHelp("The reason of rows that give none.", valueName: "text"))
    var reason: String?

    @Option(help: ArgumentHelp("The source of rows that give none (default: import:FILE).", valueName: "text"))
    var source: String?

    @Option(help: ArgumentHelp("Append rows that cannot be used to this file (default: stderr).", valueName: "file"))
    var deadLetter: String?

    @Option(help: ArgumentHelp("Stop with status 1 once more than this many rows were bad.", valueName: "n"))
    var maxErrors: Int?

    func validate() throws {
        if let maxErrors, maxErrors < 0 { throw ValidationError("'--max-errors' must be 0 or more") }
    }

    func execute(_ run: SuppressRun) throws {
        let settings = run.settings
        let named = file.flatMap { $0 == "-" ? nil : $0 }
        let importer = SuppressionImport(
            defaultReason: try settings.resolve("reason", flag: reason),
            defaultSource: try settings.resolve(
                "source", flag: source, default: "import:" + (named.map { ($0 as NSString).lastPathComponent } ?? "stdin")))
        let maxErrors: Int? = try settings.resolve("max-errors", flag: maxErrors, env: "CMO_MAX_ERRORS")
        if let maxErrors, maxErrors < 0 { throw settings.invalid("max-errors", env: "CMO_MAX_ERRORS", "must be 0 or more") }
        let deadLetters = try DeadLetterSink(
            stage: "cmo-suppress", path: try settings.resolve("dead-letter", flag: deadLetter, env: "CMO_DEAD_LETTER"))
        let input = try ImportInput(path: named, format: format)
        let list = try run.openList()

        let started = Date()
        var batcher = SuppressionImportBatcher(list: list, deadLetters: deadLetters, maxErrors: maxErrors)
        var stopped: Error?
        do {
            switch input.format {
            case .csv: try batcher.readCSV(fd: input.fd, importer: importer)
            case .ndjson: try batcher.readNDJSON(fd: input.fd, importer: importer)
            }
            try batcher.flush()
        } catch {
            stopped = error  // the summary still says what was done before
        }
        let c = batcher.counts
        let seconds = Date().timeIntervalSince(started)
        run.logger.summary(
            "import: \(batcher.rows) rows, \(c.added) added, \(c.updated) updated, \(c.unchanged) skipped, \(batcher.bad) bad, "
                + String(format: "%.2f s", seconds),
            [
                "rows": .int(batcher.rows), "added": .int(c.added), "updated": .int(c.updated), "skipped": .int(c.unchanged),
                "bad": .int(batcher.bad), "seconds": .double((seconds * 1000).rounded() / 1000),
            ])
        if let stopped { throw stopped }
        if batcher.rows > 0, batcher.bad == batcher.rows, c.added + c.updated + c.unchanged == 0 {
            throw StageFailure(.dataError, "no row of the input gave an email, a domain or a login")
        }
    }
}

/// The input file opened, and its format settled.
struct ImportInput {
    let fd: Int32
    let format: ImportCommand.Format

    init(path: String?, format given: ImportCommand.Format?) throws {
        var fd: Int32 = 0
        if let path {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw StageFailure(.usage, "cannot open '\(path)': \(String(cString: strerror(errno)))") }
        }
        if let given {
            (self.fd, self.format) = (fd, given)
            return
        }
        let ext = ((path ?? "") as NSString).pathExtension.lowercased()
        if ext == "csv" || ext == "tsv" {
            (self.fd, self.format) = (fd, .csv)
            return
        }
        if ["ndjson", "jsonl", "json"].contains(ext) {
            (self.fd, self.format) = (fd, .ndjson)
            return
        }
        // Look at the first character: a pipe cannot be rewound, so it is copied to an unlinked file first.
        if lseek(fd, 0, SEEK_CUR) < 0 { fd = try Self.spool(fd) }
        var head = [UInt8](repeating: 0, count: 4096)
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, 0) }
        let first = head.prefix(max(n, 0)).drop { [0xEF, 0xBB, 0xBF, 0x20, 0x09, 0x0D, 0x0A].contains($0) }.first
        (self.fd, self.format) = (fd, first == UInt8(ascii: "{") ? .ndjson : .csv)
    }

    private static func spool(_ source: Int32) throws -> Int32 {
        let dir = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(dir)/cmo-suppress-import.XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw StageFailure(.failure, "cannot create a temporary file in \(dir): \(String(cString: strerror(errno)))") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress!, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw StageFailure(.failure, "cannot read stdin: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            var off = 0
            while off < n {
                let w = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + off, n - off) }
                guard w > 0 else { throw StageFailure(.failure, "cannot write a temporary file: \(String(cString: strerror(errno)))") }
                off += w
            }
        }
        lseek(fd, 0, SEEK_SET)
        return fd
    }
}
