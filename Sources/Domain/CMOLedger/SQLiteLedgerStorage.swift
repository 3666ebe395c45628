import CMOStorage
import Foundation
import GRDB

/// The write ledger in one SQLite file of the state directory (`CMO_STATE_DIR/ledger.sqlite`): WAL, a
/// busy timeout, migrations in `grdb_migrations`, write transactions taking the file's lock at their
/// start (BEGIN IMMEDIATE), so the processes of one machine take turns. Its history is checked against
/// the state anchor when it opens (lost history: 78, LedgerHistory.swift).
final class SQLiteLedgerStorage: LedgerStorage {
    let location: String
    private let pool: DatabasePool

    var anchoredDirectory: String? { (location as NSString).deletingLastPathComponent }

    /// The schema's history. Never edit a migration that shipped: add one.
    private static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1 writes") { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS writes (
                        key TEXT PRIMARY KEY NOT NULL,
                        service TEXT NOT NULL,
                        target TEXT NOT NULL,
                        subject TEXT NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('intended','sent','confirmed','failed','suppressed','deferred')),
                        remote_id TEXT,
                        reason TEXT,
                        run_id TEXT,
                        day TEXT,
                        eligible_on TEXT,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        owner TEXT,
                        created_at REAL NOT NULL,
                        updated_at REAL NOT NULL
                    );
                    CREATE INDEX IF NOT EXISTS writes_by_day ON writes(service, target, day, state);
                    CREATE INDEX IF NOT EXISTS writes_deferred ON writes(service, target, state, eligible_on);
                    CREATE INDEX IF NOT EXISTS writes_by_run ON writes(run_id);
                    """)
        }
        m.registerMigration("v2 writes by subject") { db in
            try db.execute(sql: "CREATE INDEX IF NOT EXISTS writes_by_subject ON writes(service, subject, state, day)")
        }
        return m
    }

    /// Opens (or creates) the file at `path`, migrates it and checks it against the state anchor.
    init(path: String) throws {
        location = path
        do {
            pool = try StateDatabase.open(path, migrator: Self.migrator)
        } catch {
            throw StateDatabase.openFailure(error, "the write ledger '\(path)'")
        }
        try StateAnchor.attach(pool, path: path, table: "writes", what: "the write ledger")  // lost history: 78 (LedgerHistory.swift)
    }

    func read<T>(_ body: (any LedgerAccess) throws -> T) throws -> T {
        try pool.read { db in try body(SQLiteLedgerAccess(db: db)) }
    }

    /// One file, one writer at a time: the lock names are not needed (BEGIN IMMEDIATE locks the file).
    @discardableResult
    func write<T>(locks: [String], _ body: (any LedgerAccess) throws -> T) throws -> T {
        try StateDatabase.immediate(pool) { db in try body(SQLiteLedgerAccess(db: db)) }
    }
}

/// The ledger's statements on one SQLite connection.
private struct SQLiteLedgerAccess: LedgerAccess {
    let db: Database

    func rows(keys: [String]) throws -> [WriteLedger.Row] {
        let marks = Array(repeating: "?", count: keys.count).joined(separator: ",")
        return try Row.fetchAll(db, sql: "SELECT * FROM writes WHERE key IN (\(marks))", arguments: StatementArguments(keys)).map(Self.row)
    }

    func rows(service: String, target: String, states: [WriteLedger.State]?) throws -> [WriteLedger.Row] {
        var sql = "SELECT * FROM writes WHERE service = ? AND target = ?"
        var args: [DatabaseValueConvertible] = [service, target]
        if let states {
            sql += " AND state IN (\(states.map { _ in "?" }.joined(separator: ",")))"
            args += states.map(\.rawValue)
        }
        return try Row.fetchAll(db, sql: sql + " ORDER BY created_at, key", arguments: StatementArguments(args)).map(Self.row)
    }

    func rows(service: String, subject: String, state: WriteLedger.State, keyPrefix: String) throws -> [WriteLedger.Row] {
        try Row.fetchAll(
            db,
            sql: "SELECT * FROM writes WHERE service = ? AND subject = ? AND state = ? AND substr(key, 1, ?) = ? ORDER BY created_at, target",
            arguments: [service, subject, state.rawValue, keyPrefix.utf8.count, keyPrefix]
        ).map(Self.row)
    }

    func lastContact(service: String, subject: String, since: String, except key: String) throws -> WriteLedger.Row? {
        try Row.fetchOne(
            db,
            sql: "SELECT * FROM writes WHERE service = ? AND subject = ? AND state IN ('sent','confirmed') AND day >= ? AND key != ? "
                + "ORDER BY day DESC LIMIT 1",
            arguments: [service, subject, since, key]
        ).map(Self.row)
    }

    func countToday(service: String, target: String, day: String) throws -> Int {
        try Int.fetchOne(
            db, sql: "SELECT COUNT(*) FROM writes WHERE service = ? AND target = ? AND day = ? AND state IN ('intended','sent','confirmed')",
            arguments: [service, target, day]) ?? 0
    }

    func eligibleDeferred(service: String, target: String, day: String, since: String) throws -> Int {
        try Int.fetchOne(
            db,
            sql: "SELECT COUNT(*) FROM writes WHERE service = ? AND target = ? AND state = 'deferred' AND eligible_on <= ? AND eligible_on >= ?",
            arguments: [service, target, day, since]) ?? 0
    }

    func deferredCount(service: String, target: String) throws -> Int {
        try Int.fetchOne(
            db, sql: "SELECT COUNT(*) FROM writes WHERE service = ? AND target = ? AND state = 'deferred'", arguments: [service, target]) ?? 0
    }

    func deferredByDay(service: String, target: String, after: String) throws -> [String: Int] {
        var booked: [String: Int] = [:]
        for r in try Row.fetchAll(
            db,
            sql: """
                SELECT eligible_on, COUNT(*) AS n FROM writes
                WHERE service = ? AND target = ? AND state = 'deferred' AND eligible_on > ? GROUP BY eligible_on
                """,
            arguments: [service, target, after])
        {
            if let d: String = r["eligible_on"] { booked[d] = r["n"] }
        }
        return booked
    }

    func lastWriteByOthers(service: String, targets: [String], owner: String, claimedSince: Date) throws -> (at: Date, recentClaim: Bool)? {
        let marks = targets.map { _ in "?" }.joined(separator: ",")
        let args: [DatabaseValueConvertible] = [claimedSince.timeIntervalSince1970, service] + targets + [owner]
        guard
            let r = try Row.fetchOne(
                db,
                sql: """
                    SELECT MAX(updated_at) AS last, MAX(state = 'intended' AND updated_at > ?) AS recent FROM writes
                    WHERE service = ? AND target IN (\(marks)) AND (owner IS NULL OR owner != ?)
                    """, arguments: StatementArguments(args)),
            let last: Double = r["last"]
        else { return nil }
        return (Date(timeIntervalSince1970: last), (r["recent"] as Int?) == 1)
    }

    func counts(service: String, target: String) throws -> [WriteLedger.State: Int] {
        var counts: [WriteLedger.State: Int] = [:]
        for r in try Row.fetchAll(
            db, sql: "SELECT state, COUNT(*) AS n FROM writes WHERE service = ? AND target = ? GROUP BY state", arguments: [service, target])
        {
            if let s = WriteLedger.State(rawValue: r["state"]) { counts[s] = r["n"] }
        }
        return counts
    }

    /// A file on this machine's disk: a process of another host cannot be checked, and is taken to be alive.
    func isConnected(owner: String) throws -> Bool { true }

    func rowForUpdate(_ key: String) throws -> WriteLedger.Row? {
        try Row.fetchOne(db, sql: "SELECT * FROM writes WHERE key = ?", arguments: [key]).map(Self.row)
    }

    func insert(_ r: WriteLedger.Row) throws {
        let t = r.updatedAt.timeIntervalSince1970
        try db.execute(
            sql: """
                INSERT INTO writes (key, service, target, subject, state, remote_id, reason, run_id, day, eligible_on,
                    attempts, owner, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                r.key, r.service, r.target, r.subject, r.state.rawValue, r.remoteID, r.reason, r.runID, r.day, r.eligibleOn, r.attempts, r.owner, t, t,
            ])
    }

    func markIntended(key: String, runID: String, owner: String, day: String, at t: Double) throws {
        try db.execute(
            sql: """
                UPDATE writes SET state = 'intended', run_id = ?, owner = ?, day = ?, attempts = attempts + 1,
                    eligible_on = NULL, updated_at = ? WHERE key = ?
                """,
            arguments: [runID, owner, day, t, key])
    }

    func markDeferred(key: String, reason: String, eligibleOn: String, runID: String, at t: Double) throws -> Bool {
        try db.execute(
            sql: "UPDATE writes SET state = 'deferred', reason = ?, eligible_on = ?, run_id = ?, updated_at = ? WHERE key = ?",
            arguments: [reason, eligibleOn, runID, t, key])
        return db.changesCount > 0
    }

    func markOutcome(_ o: WriteLedger.Outcome, runID: String, at t: Double) throws -> Bool {
        try db.execute(
            sql: """
                UPDATE writes SET state = ?, remote_id = COALESCE(?, remote_id), reason = ?, eligible_on = ?,
                    run_id = ?, updated_at = ?
                WHERE key = ?
                """,
            arguments: [o.state.rawValue, o.remoteID, o.reason, o.eligibleOn, runID, t, o.key])
        return db.changesCount > 0
    }

    func markRebuilt(key: String, remoteID: String, reason: String, day: String?, at t: Double) throws {
        try db.execute(
            sql: """
                UPDATE writes SET state = 'confirmed', remote_id = ?, reason = ?, eligible_on = NULL,
                    day = COALESCE(?, day), updated_at = ? WHERE key = ?
                """,
            arguments: [remoteID, reason, day, t, key])
    }

    private static func row(_ r: Row) -> WriteLedger.Row {
        WriteLedger.Row(
            key: r["key"], service: r["service"], target: r["target"], subject: r["subject"],
            state: WriteLedger.State(rawValue: r["state"]) ?? .failed, remoteID: r["remote_id"], reason: r["reason"], runID: r["run_id"],
            day: r["day"], eligibleOn: r["eligible_on"], attempts: r["attempts"], owner: r["owner"],
            updatedAt: Date(timeIntervalSince1970: r["updated_at"]))
    }
}
