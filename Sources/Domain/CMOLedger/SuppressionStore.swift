import CMOStorage
import Foundation
import GRDB

/// What a batch of additions did: entries new to the list, entries whose reason or source changed,
/// and entries already there as given.
public struct SuppressionWriteCounts: Sendable, Equatable {
    public var added = 0
    public var updated = 0
    public var unchanged = 0
    public init(added: Int = 0, updated: Int = 0, unchanged: Int = 0) {
        self.added = added
        self.updated = updated
        self.unchanged = unchanged
    }
    public static func += (a: inout SuppressionWriteCounts, b: SuppressionWriteCounts) {
        a.added += b.added
        a.updated += b.updated
        a.unchanged += b.unchanged
    }
}

/// Where the do-not-contact list is kept. `SuppressionList` does the normalising and matching; a
/// store only keeps entries, already normalised, keyed by (kind, value): a SQLite file of the state
/// directory (`SuppressionSQLiteStore`) or the team database (`PostgresSuppressionStore`).
public protocol SuppressionStore: AnyObject {
    /// Adds `entries` in one transaction. A new (kind, value) is inserted with its `addedAt`; an
    /// existing one keeps its `addedAt` and takes the new reason and source where they are not nil.
    func upsert(_ entries: [SuppressionEntry]) throws -> SuppressionWriteCounts
    /// Removes one entry; returns it, or nil when it was not there.
    func remove(kind: SuppressionKind, value: String) throws -> SuppressionEntry?
    /// Every entry, by kind then value.
    func entries() throws -> [SuppressionEntry]
    /// The entries among `values` of `kind` (for matching without a snapshot).
    func lookup(kind: SuppressionKind, values: [String]) throws -> [SuppressionEntry]
    /// A number that changes whenever the list changes, whichever process changed it.
    func version() throws -> Int64
}

/// The list in one SQLite file (`CMO_STATE_DIR/suppression.sqlite`), opened through `StateDatabase`:
/// WAL, a busy timeout, migrations recorded in `grdb_migrations`, safe for several processes.
public final class SuppressionSQLiteStore: SuppressionStore {
    public let path: String
    private let pool: DatabasePool

    /// Opens (or creates) the file at `path` and migrates it.
    public init(path: String) throws {
        self.path = path
        pool = try StateDatabase.open(path, migrator: Self.migrator())
        try StateAnchor.attach(pool, path: path, table: "suppression", what: "the suppression list")  // lost history: 78
    }

    /// The schema's history. Never edit a migration that shipped: add one.
    /// `upTo` stops after the named migration (tests build files as older versions left them).
    static func migrator(upTo last: String? = nil) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        let steps: [(String, String)] = [
            (
                "v1-suppression",
                """
                CREATE TABLE IF NOT EXISTS suppression (
                    kind TEXT NOT NULL CHECK (kind IN ('email', 'domain', 'login')),
                    value TEXT NOT NULL,
                    reason TEXT,
                    source TEXT,
                    added_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    PRIMARY KEY (kind, value)
                ) WITHOUT ROWID;
                """
            ),
            (
                // A change counter kept by triggers, so a process holding a snapshot sees any other
                // process's change (or a hand edit with sqlite3) with one tiny read.
                "v2-change-counter",
                """
                CREATE TABLE IF NOT EXISTS suppression_version (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    n INTEGER NOT NULL);
                INSERT OR IGNORE INTO suppression_version (id, n) VALUES (1, 0);
                CREATE TRIGGER IF NOT EXISTS suppression_inserted AFTER INSERT ON suppression
                    BEGIN UPDATE suppression_version SET n = n + 1 WHERE id = 1; END;
                CREATE TRIGGER IF NOT EXISTS suppression_updated AFTER UPDATE ON suppression
                    BEGIN UPDATE suppression_version SET n = n + 1 WHERE id = 1; END;
                CREATE TRIGGER IF NOT EXISTS suppression_deleted AFTER DELETE ON suppression
                    BEGIN UPDATE suppression_version SET n = n + 1 WHERE id = 1; END;
                """
            ),
        ]
        for (id, sql) in steps {
            migrator.registerMigration(id) { db in try db.execute(sql: sql) }
            if id == last { break }
        }
        return migrator
    }

    public func upsert(_ entries: [SuppressionEntry]) throws -> SuppressionWriteCounts {
        guard !entries.isEmpty else { return SuppressionWriteCounts() }
        let now = Int64(Date().timeIntervalSince1970)
        return try pool.write { db in
            var counts = SuppressionWriteCounts()
            let find = try db.cachedStatement(sql: "SELECT reason, source FROM suppression WHERE kind = ? AND value = ?")
            let insert = try db.cachedStatement(
                sql: "INSERT INTO suppression (kind, value, reason, source, added_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)")
            let update = try db.cachedStatement(
                sql: "UPDATE suppression SET reason = ?, source = ?, updated_at = ? WHERE kind = ? AND value = ?")
            for e in entries {
                if let row = try Row.fetchOne(find, arguments: [e.kind.rawValue, e.value]) {
                    let oldReason: String? = row[0]
                    let oldSource: String? = row[1]
                    let reason = e.reason ?? oldReason
                    let source = e.source ?? oldSource
                    if reason == oldReason && source == oldSource {
                        counts.unchanged += 1
                    } else {
                        try update.execute(arguments: [reason, source, now, e.kind.rawValue, e.value])
                        counts.updated += 1
                    }
                } else {
                    let added = Int64(e.addedAt.timeIntervalSince1970.rounded(.down))
                    try insert.execute(arguments: [e.kind.rawValue, e.value, e.reason, e.source, added, now])
                    counts.added += 1
                }
            }
            return counts
        }
    }

    public func remove(kind: SuppressionKind, value: String) throws -> SuppressionEntry? {
        try pool.write { db in
            let row = try Row.fetchOne(
                db, sql: "SELECT kind, value, reason, source, added_at FROM suppression WHERE kind = ? AND value = ?",
                arguments: [kind.rawValue, value])
            guard let row else { return nil }
            try db.execute(sql: "DELETE FROM suppression WHERE kind = ? AND value = ?", arguments: [kind.rawValue, value])
            return Self.entry(row)
        }
    }

    public func entries() throws -> [SuppressionEntry] {
        try pool.read { db in
            var out: [SuppressionEntry] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT kind, value, reason, source, added_at FROM suppression ORDER BY kind, value")
            while let row = try rows.next() {
                if let e = Self.entry(row) { out.append(e) }
            }
            return out
        }
    }

    public func lookup(kind: SuppressionKind, values: [String]) throws -> [SuppressionEntry] {
        guard !values.isEmpty else { return [] }
        return try pool.read { db in
            let marks = Array(repeating: "?", count: values.count).joined(separator: ",")
            let statement = try db.cachedStatement(
                sql: "SELECT kind, value, reason, source, added_at FROM suppression WHERE kind = ? AND value IN (\(marks))")
            let arguments = StatementArguments([kind.rawValue] + values)
            return try Row.fetchAll(statement, arguments: arguments).compactMap(Self.entry)
        }
    }

    public func version() throws -> Int64 {
        try pool.read { db in try Int64.fetchOne(db, sql: "SELECT n FROM suppression_version WHERE id = 1") ?? 0 }
    }

    private static func entry(_ row: Row) -> SuppressionEntry? {
        guard let kind = SuppressionKind(rawValue: row[0]) else { return nil }
        let added: Int64 = row[4]
        return SuppressionEntry(
            kind: kind, value: row[1], reason: row[2], source: row[3], addedAt: Date(timeIntervalSince1970: Double(added)))
    }
}
