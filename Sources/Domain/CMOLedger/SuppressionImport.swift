import CMOBasics
import Foundation

/// What one import row or record gives: the entries it holds, and the problems of its bad values
/// (a row with one bad value still gives its good ones: on a do-not-contact list, dropping a good
/// address because its neighbour was bad would be the unsafe side).
public struct SuppressionImportItem: Sendable {
    public var entries: [SuppressionEntry] = []
    /// `(code, message)`: `bad_value` (a value that is not an email, domain or login), `no_value`
    /// (none of the recognised fields), `bad_csv` (a row that cannot be read).
    public var problems: [(code: String, message: String)] = []
}

/// Turns import rows into entries. CSV columns are recognised by name, case, spaces, `_` and `-`
/// aside: see `SuppressionImport.columnKinds`. NDJSON records: `kind`+`value` (what `cmo-suppress
/// list` writes), else `email`, `address` or `best_email` (a string or `{address}`), `login`,
/// `domain`. A domain is taken only from a row with no email, so an export with a company-domain
/// column does not block a whole company for one opt-out. `reason`, `source` and `added_at` (or a
/// `date` column) are read when present; `defaultReason`/`defaultSource` fill the gaps.
public struct SuppressionImport: Sendable {
    /// What a recognised column holds.
    public enum Column: Sendable, Equatable {
        /// An email, a domain or a login, inferred from the value (Instantly's `Blocked Email`).
        case anyValue
        case value(SuppressionKind)
        /// `kind` of a kind+value pair, or Instantly's `is_domain`.
        case kind, isDomain
        case reason, source, addedAt
    }

    /// Column names (normalised: lower case, `_` and `-` as spaces) and what they hold.
    public static let columnKinds: [String: Column] = [
        "email": .value(.email), "e mail": .value(.email), "email address": .value(.email), "emailaddress": .value(.email),
        "lead email": .value(.email), "lead email address": .value(.email), "contact email": .value(.email),
        "work email": .value(.email), "address": .value(.email), "best email": .value(.email),
        "blocked email": .anyValue, "bl value": .anyValue, "value": .anyValue, "blocked value": .anyValue, "entry": .anyValue,
        "domain": .value(.domain), "blocked domain": .value(.domain),
        "login": .value(.login), "github login": .value(.login), "github": .value(.login), "github username": .value(.login),
        "kind": .kind, "is domain": .isDomain,
        "reason": .reason, "source": .source,
        "added at": .addedAt, "date": .addedAt, "timestamp created": .addedAt, "created at": .addedAt,
    ]

    public var defaultReason: String?
    public var defaultSource: String?

    public init(defaultReason: String? = nil, defaultSource: String? = nil) {
        self.defaultReason = defaultReason
        self.defaultSource = defaultSource
    }

    /// A header name in the form `columnKinds` is keyed by.
    public static func normalizeHeader(_ name: String) -> String {
        let spaced = name.lowercased().map { $0 == "_" || $0 == "-" ? " " : $0 }
        return String(spaced).split(separator: " ").joined(separator: " ")
    }

    /// What each header cell holds (nil for columns that are not read), or nil when no column gives
    /// a value (the file is then read as one value per line if its first line is a value).
    public static func columns(header: [String]) -> [Column?]? {
        let cols = header.map { columnKinds[normalizeHeader($0)] }
        let givesValue = cols.contains { c in
            switch c {
            case .anyValue?, .value?: return true
            default: return false
            }
        }
        return givesValue ? cols : nil
    }

    // MARK: CSV rows

    /// The entries of one CSV row under `columns`.
    public func item(cells: [String], columns: [Column?]) -> SuppressionImportItem {
        var fields = Fields()
        for (n, column) in columns.enumerated() {
            guard let column, n < cells.count else { continue }
            let cell = Self.unneutralised(cells[n].trimmingCharacters(in: .whitespacesAndNewlines))
            guard !cell.isEmpty else { continue }
            switch column {
            case .anyValue: fields.any.append(cell)
            case .value(let k): fields.values.append((k, cell))
            case .kind: fields.kind = cell
            case .isDomain: fields.isDomain = ["true", "1", "yes"].contains(cell.lowercased())
            case .reason: fields.reason = fields.reason ?? cell
            case .source: fields.source = fields.source ?? cell
            case .addedAt: fields.addedAt = fields.addedAt ?? cell
            }
        }
        return item(fields)
    }

    // MARK: NDJSON records

    /// The entries of one NDJSON record.
    public func item(record: Record) -> SuppressionImportItem {
        var fields = Fields()
        var problems: [(String, String)] = []
        func string(_ key: String) -> String? {
            switch record[key] {
            case nil, .null?: return nil
            case .string(let s)?:
                let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
                return t.isEmpty ? nil : t
            case let v?:
                problems.append(("bad_value", "'\(key)' is \(v.compactJSON), not a string"))
                return nil
            }
        }
        if let value = string("value") {
            if let kind = string("kind") { fields.kind = kind }
            fields.any.append(value)
        } else {
            for key in ["email", "address"] { if let s = string(key) { fields.values.append((.email, s)) } }
            switch record["best_email"] {
            case .object?: if let s = record["best_email"]?["address"]?.stringValue { fields.values.append((.email, s)) }
            case .string?: if let s = string("best_email") { fields.values.append((.email, s)) }
            default: break
            }
            if let s = string("login") { fields.values.append((.login, s)) }
            if let s = string("domain") { fields.values.append((.domain, s)) }
        }
        fields.reason = string("reason")
        fields.source = string("source")
        fields.addedAt = string("added_at")
        var out = item(fields, quiet: !problems.isEmpty)
        out.problems.insert(contentsOf: problems.map { (code: $0.0, message: $0.1) }, at: 0)
        return out
    }

    // MARK: Shared

    private struct Fields {
        var any: [String] = []
        var values: [(SuppressionKind, String)] = []
        var kind: String?
        var isDomain = false
        var reason: String?
        var source: String?
        var addedAt: String?
    }

    private func item(_ f: Fields, quiet: Bool = false) -> SuppressionImportItem {
        var out = SuppressionImportItem()
        var wanted: [(SuppressionKind?, String)] = []
        var declared: SuppressionKind?
        if let kind = f.kind {
            guard let k = SuppressionKind(rawValue: kind.lowercased()) else {
                out.problems.append(("bad_value", "kind '\(kind)' is not email, domain or login"))
                return out
            }
            declared = k
        }
        if f.isDomain { declared = .domain }
        for v in f.any { wanted.append((declared, v)) }
        let hasEmail = f.values.contains { $0.0 == .email } || f.any.contains { $0.contains("@") && !$0.hasPrefix("@") }
        var emailTaken = false
        for (k, v) in f.values {
            if k == .domain && hasEmail { continue }
            if k == .email {
                if emailTaken { continue }  // `email` and `Lead Email` both: the first one
                emailTaken = true
            }
            wanted.append((k, v))
        }
        if wanted.isEmpty {
            if !quiet { out.problems.append(("no_value", "no email, domain or login in this row")) }
            return out
        }
        let addedAt = f.addedAt.flatMap(Self.parseDate) ?? Date()
        for (k, v) in wanted {
            do {
                let (kind, value) = try SuppressionValue.parse(v, kind: k)
                out.entries.append(
                    SuppressionEntry(
                        kind: kind, value: value, reason: f.reason ?? defaultReason, source: f.source ?? defaultSource, addedAt: addedAt))
            } catch let e as SuppressionValueError {
                out.problems.append(("bad_value", e.description))
            } catch {
                out.problems.append(("bad_value", "\(error)"))
            }
        }
        return out
    }

    /// A cell as written before a spreadsheet guard: `'=x`, `'-x`, `'+x`, `'@x` lose the `'` that
    /// `cmo-suppress list --format csv` (and export-csv) put in front.
    static func unneutralised(_ cell: String) -> String {
        guard cell.hasPrefix("'"), let second = cell.dropFirst().first, "=+-@".contains(second) else { return cell }
        return String(cell.dropFirst())
    }

    /// ISO 8601 with or without fractional seconds, or a date alone; nil otherwise.
    static func parseDate(_ text: String) -> Date? {
        for f in dateFormats { if let d = f.date(from: text) { return d } }
        return nil
    }

    // Formatters are costly to make and safe to share for parsing.
    nonisolated(unsafe) private static let dateFormats: [ISO8601DateFormatter] = [
        [.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds], [.withFullDate],
    ].map { (options: ISO8601DateFormatter.Options) in
        let f = ISO8601DateFormatter()
        f.formatOptions = options
        return f
    }
}
