import CMOBasics
import Foundation

/// Reads an import (CSV or NDJSON) into the list: entries go in batches of 5,000, each added in one
/// transaction; rows that cannot be used go to the dead-letter sink with their line and reason.
public struct SuppressionImportBatcher {
    public static let batchSize = 5000
    public let list: SuppressionList
    public let deadLetters: DeadLetterSink
    /// Stop (status 1) once more rows than this were bad; nil = no limit.
    public let maxErrors: Int?
    /// Rows read (not blank, header aside).
    public private(set) var rows = 0
    /// Rows dead-lettered.
    public private(set) var bad = 0
    /// What the batches written so far did.
    public private(set) var counts = SuppressionWriteCounts()
    private var batch: [SuppressionEntry] = []

    public init(list: SuppressionList, deadLetters: DeadLetterSink, maxErrors: Int?) {
        self.list = list
        self.deadLetters = deadLetters
        self.maxErrors = maxErrors
    }

    /// Reads CSV from `fd`: the first non-blank row is the header, unless it is itself a value
    /// (then every row is one value); a header without a value column is a 65.
    public mutating func readCSV(fd: Int32, importer: SuppressionImport) throws {
        let reader = SuppressionCSVReader(fd: fd)
        var columns: [SuppressionImport.Column?]?
        while let row = try reader.next() {
            if row.isBlank { continue }
            guard let cols = columns else {
                if let cols = SuppressionImport.columns(header: row.cells) {
                    columns = cols
                    continue
                }
                // No header: a first line that is a value makes a one-value-per-line file.
                guard row.cells.count == 1, (try? SuppressionValue.parse(row.cells[0])) != nil else {
                    throw StageFailure(
                        .dataError,
                        "no column holds an email, a domain or a login (header: \(row.cells.joined(separator: ", "))); "
                            + "expected one such as email, Email Address, Lead Email, Blocked Email, domain, login, or kind and value")
                }
                columns = [.anyValue]
                try take(row: row, importer: importer, columns: [.anyValue])
                continue
            }
            try take(row: row, importer: importer, columns: cols)
        }
    }

    private mutating func take(row: CSVRow, importer: SuppressionImport, columns: [SuppressionImport.Column?]) throws {
        rows += 1
        if let error = row.error {
            return try reject(code: "bad_csv", message: error, line: row.line, raw: row.raw)
        }
        let item = importer.item(cells: row.cells, columns: columns)
        batch.append(contentsOf: item.entries)
        if let first = item.problems.first {
            try reject(code: first.code, message: item.problems.map(\.message).joined(separator: "; "), line: row.line, raw: row.raw)
        }
        if batch.count >= Self.batchSize { try flush() }
    }

    private mutating func reject(code: String, message: String, line: Int, raw: [UInt8]) throws {
        bad += 1
        deadLetters.write(line: line, bytes: raw, length: raw.count, code: code, message: message)
        try checkBudget()
    }

    /// Reads NDJSON records from `fd`.
    public mutating func readNDJSON(fd: Int32, importer: SuppressionImport) throws {
        let reader = NDJSONReader(fd: fd)
        while let line = try reader.next() {
            rows += 1
            switch line {
            case .bad(let n, let bytes, let length, let error):
                bad += 1
                deadLetters.write(line: n, bytes: bytes, length: length, code: error.code, message: error.message)
                try checkBudget()
            case .record(let record):
                let item = importer.item(record: record)
                batch.append(contentsOf: item.entries)
                if let first = item.problems.first {
                    bad += 1
                    deadLetters.write(
                        record: record, code: first.code, message: item.problems.map(\.message).joined(separator: "; "), retryable: false)
                    try checkBudget()
                }
                if batch.count >= Self.batchSize { try flush() }
            }
        }
    }

    /// Adds the pending batch in one transaction.
    public mutating func flush() throws {
        guard !batch.isEmpty else { return }
        counts += try list.upsert(batch)
        batch.removeAll(keepingCapacity: true)
    }

    /// Over `--max-errors`: what was read fine so far is kept, then the import stops with 1.
    private mutating func checkBudget() throws {
        guard let maxErrors, bad > maxErrors else { return }
        try flush()
        throw StageFailure(.failure, "\(bad) rows could not be used, more than --max-errors \(maxErrors) allows; stopping")
    }
}
