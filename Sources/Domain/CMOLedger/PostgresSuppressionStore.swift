import CMOStorage
import Foundation

/// The do-not-contact list in the team database (`CMO_DATABASE_URL`): the `suppression` table, shared by
/// every machine, so an opt-out one person adds blocks everyone's next write. The same columns as the
/// SQLite file (times in whole epoch seconds), and the same change counter: `suppression_version`, raised
/// by triggers whenever a statement changed rows (whoever ran it, `psql` included), so a process holding a
/// snapshot sees another machine's change at its next check (`SuppressionList.refreshInterval`).
public final class PostgresSuppressionStore: SuppressionStore {
    /// The database, for messages (never its password).
    public let location: String
    private let db: PostgresDatabase

    /// The schema's history (component `suppression` in `cmo_schema_migrations`), one statement each.
    /// Never edit a migration that shipped: add one.
    static let migrations: [(name: String, sql: String)] = [
        (
            "v1 suppression",
            """
            CREATE TABLE IF NOT EXISTS suppression (
                kind TEXT NOT NULL CHECK (kind IN ('email', 'domain', 'login')),
                value TEXT NOT NULL,
                reason TEXT,
                source TEXT,
                added_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (kind, value))
            """
        ),
        ("v2 change counter", "CREATE TABLE IF NOT EXISTS suppression_version (id INTEGER PRIMARY KEY CHECK (id = 1), n BIGINT NOT NULL)"),
        ("v2 change counter row", "INSERT INTO suppression_version (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING"),
        (
            // Once per statement that changed rows (the transition table `changed` holds them): a bulk import
            // raises the counter once per batch, not once per row.
            "v2 change counter function",
            """
            CREATE OR REPLACE FUNCTION cmo_suppression_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM changed) THEN UPDATE suppression_version SET n = n + 1 WHERE id = 1; END IF;
                RETURN NULL;
            END $$
            """
        ),
        (
            "v2 change counter on insert",
            """
            CREATE TRIGGER suppression_inserted AFTER INSERT ON suppression REFERENCING NEW TABLE AS changed
                FOR EACH STATEMENT EXECUTE FUNCTION cmo_suppression_changed()
            """
        ),
        (
            "v2 change counter on update",
            """
            CREATE TRIGGER suppression_updated AFTER UPDATE ON suppression REFERENCING NEW TABLE AS changed
                FOR EACH STATEMENT EXECUTE FUNCTION cmo_suppression_changed()
            """
        ),
        (
            "v2 change counter on delete",
            """
            CREATE TRIGGER suppression_deleted AFTER DELETE ON suppression REFERENCING OLD TABLE AS changed
                FOR EACH STATEMENT EXECUTE FUNCTION cmo_suppression_changed()
            """
        ),
        (
            "v2 change counter on truncate function",
            """
            CREATE OR REPLACE FUNCTION cmo_suppression_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE suppression_version SET n = n + 1 WHERE id = 1;
                RETURN NULL;
            END $$
            """
        ),
        (
            "v2 change counter on truncate",
            "CREATE TRIGGER suppression_truncated AFTER TRUNCATE ON suppression FOR EACH STATEMENT EXECUTE FUNCTION cmo_suppression_truncated()"
        ),
    ]

    /// Opens the list in `database`, creating or upgrading its tables.
    public init(database: PostgresDatabase) throws {
        db = database
        location = "\(database.url)"
        try database.migrate("suppression", Self.migrations)
    }

    /// Rows per statement of an upsert (6 values each, well under PostgreSQL's 65,535 parameters).
    private static let batch = 500

    /// Each batch is one `INSERT … ON CONFLICT DO UPDATE` that changes a row only when its reason or source
    /// differs, and returns the rows it inserted or changed; a batch ends early where a value repeats, so
    /// a value given twice is counted as it would be given one after the other.
    public func upsert(_ entries: [SuppressionEntry]) throws -> SuppressionWriteCounts {
        guard !entries.isEmpty else { return SuppressionWriteCounts() }
        let now = Int64(Date().timeIntervalSince1970)
        var batches: [[SuppressionEntry]] = [[]]
        var seen: Set<String> = []
        for e in entries {
            let key = e.kind.rawValue + "\u{0}" + e.value
            if batches[batches.count - 1].count >= Self.batch || seen.contains(key) {
                batches.append([])
                seen = []
            }
            batches[batches.count - 1].append(e)
            seen.insert(key)
        }
        return try db.transaction { conn in
            var counts = SuppressionWriteCounts()
            for slice in batches {
                var args: [PGValue] = []
                var tuples: [String] = []
                for (i, e) in slice.enumerated() {
                    let p = i * 6
                    tuples.append("($\(p + 1), $\(p + 2), $\(p + 3), $\(p + 4), $\(p + 5)::bigint, $\(p + 6)::bigint)")
                    args += [
                        .text(e.kind.rawValue), .text(e.value), PGValue(e.reason), PGValue(e.source),
                        .int(Int64(e.addedAt.timeIntervalSince1970.rounded(.down))), .int(now),
                    ]
                }
                let rows = try conn.query(
                    """
                    INSERT INTO suppression AS s (kind, value, reason, source, added_at, updated_at)
                    VALUES \(tuples.joined(separator: ", "))
                    ON CONFLICT (kind, value) DO UPDATE
                        SET reason = COALESCE(EXCLUDED.reason, s.reason), source = COALESCE(EXCLUDED.source, s.source),
                            updated_at = EXCLUDED.updated_at
                        WHERE COALESCE(EXCLUDED.reason, s.reason) IS DISTINCT FROM s.reason
                            OR COALESCE(EXCLUDED.source, s.source) IS DISTINCT FROM s.source
                    RETURNING (xmax = 0) AS inserted
                    """, args)
                let added = rows.filter { $0.bool("inserted") == true }.count
                counts.added += added
                counts.updated += rows.count - added
                counts.unchanged += slice.count - rows.count
            }
            return counts
        }
    }

    public func remove(kind: SuppressionKind, value: String) throws -> SuppressionEntry? {
        try db.read { conn in
            try conn.one(
                "DELETE FROM suppression WHERE kind = $1 AND value = $2 RETURNING kind, value, reason, source, added_at",
                [.text(kind.rawValue), .text(value)]
            ).flatMap(Self.entry)
        }
    }

    /// Ordered byte-wise (`COLLATE "C"`), as SQLite orders them, whatever the database's collation.
    public func entries() throws -> [SuppressionEntry] {
        try db.read { conn in
            try conn.query("SELECT kind, value, reason, source, added_at FROM suppression ORDER BY kind COLLATE \"C\", value COLLATE \"C\"")
                .compactMap(Self.entry)
        }
    }

    public func lookup(kind: SuppressionKind, values: [String]) throws -> [SuppressionEntry] {
        guard !values.isEmpty else { return [] }
        return try db.read { conn in
            var out: [SuppressionEntry] = []
            for start in stride(from: 0, to: values.count, by: 1000) {
                let slice = values[start..<min(start + 1000, values.count)]
                let marks = (2..<(slice.count + 2)).map { "$\($0)" }.joined(separator: ",")
                out += try conn.query(
                    "SELECT kind, value, reason, source, added_at FROM suppression WHERE kind = $1 AND value IN (\(marks))",
                    [.text(kind.rawValue)] + slice.map { .text($0) }
                ).compactMap(Self.entry)
            }
            return out
        }
    }

    public func version() throws -> Int64 {
        try db.read { conn in try conn.one("SELECT n FROM suppression_version WHERE id = 1")?.int64("n") ?? 0 }
    }

    private static func entry(_ row: PGRow) -> SuppressionEntry? {
        guard let kind = row.string("kind").flatMap(SuppressionKind.init(rawValue:)), let value = row.string("value") else { return nil }
        return SuppressionEntry(
            kind: kind, value: value, reason: row.string("reason"), source: row.string("source"),
            addedAt: Date(timeIntervalSince1970: Double(row.int64("added_at") ?? 0)))
    }
}
