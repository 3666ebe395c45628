import CMOStorage
import Foundation

/// The write ledger in the team database (`CMO_DATABASE_URL`): the `writes` table, the same columns and
/// indexes as the SQLite file, shared by every process on every machine of the team, so two people with
/// their own state directories never write to the same person twice and share one daily cap.
///
/// A write transaction takes one advisory lock per service and target it touches (`ledger:<service>:<target>`,
/// e.g. one Instantly campaign): writers of one campaign take turns as SQLite's BEGIN IMMEDIATE makes them
/// on one machine, and two campaigns never wait on each other. The rows it reads to decide are locked
/// `FOR UPDATE`. There is no state anchor: the database is not a file that can be lost or swapped.
final class PostgresLedgerStorage: LedgerStorage {
    let location: String
    private let db: PostgresDatabase

    var anchoredDirectory: String? { nil }

    /// The schema's history (component `ledger` in `cmo_schema_migrations`). Never edit a migration that
    /// shipped: add one.
    static let migrations: [(name: String, sql: String)] = [
        (
            "v1 writes",
            """
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
                attempts BIGINT NOT NULL DEFAULT 0,
                owner TEXT,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL)
            """
        ),
        ("v1 writes by day", "CREATE INDEX IF NOT EXISTS writes_by_day ON writes (service, target, day, state)"),
        ("v1 writes deferred", "CREATE INDEX IF NOT EXISTS writes_deferred ON writes (service, target, state, eligible_on)"),
        ("v1 writes by run", "CREATE INDEX IF NOT EXISTS writes_by_run ON writes (run_id)"),
        ("v2 writes by subject", "CREATE INDEX IF NOT EXISTS writes_by_subject ON writes (service, subject, state, day)"),
    ]

    /// Opens the ledger in `database`, creating or upgrading its table.
    init(database: PostgresDatabase) throws {
        db = database
        location = "\(database.url)"
        try database.migrate("ledger", Self.migrations)
    }

    func read<T>(_ body: (any LedgerAccess) throws -> T) throws -> T {
        try db.read { conn in try body(PostgresLedgerAccess(conn: conn)) }
    }

    /// The first lock is taken as the transaction begins, the others right after, all in name order (the
    /// caller sorts them), so two transactions never hold one each and wait for the other's.
    @discardableResult
    func write<T>(locks: [String], _ body: (any LedgerAccess) throws -> T) throws -> T {
        try db.transaction(lock: locks.first) { conn in
            for name in locks.dropFirst() {
                try conn.execute("SELECT pg_advisory_xact_lock($1)", [.int(PostgresDatabase.lockKey(name))])
            }
            return try body(PostgresLedgerAccess(conn: conn))
        }
    }
}

/// The ledger's statements on one PostgreSQL connection.
private struct PostgresLedgerAccess: LedgerAccess {
    let conn: PGConnection

    /// `$first, $first+1, …` for `count` values.
    private static func marks(_ count: Int, from first: Int) -> String {
        (first..<(first + count)).map { "$\($0)" }.joined(separator: ",")
    }

    func rows(keys: [String]) throws -> [WriteLedger.Row] {
        try conn.query("SELECT * FROM writes WHERE key IN (\(Self.marks(keys.count, from: 1)))", keys.map { .text($0) }).map(Self.row)
    }

    func rows(service: String, target: String, states: [WriteLedger.State]?) throws -> [WriteLedger.Row] {
        var sql = "SELECT * FROM writes WHERE service = $1 AND target = $2"
        var args: [PGValue] = [.text(service), .text(target)]
        if let states {
            sql += " AND state IN (\(Self.marks(states.count, from: 3)))"
            args += states.map { .text($0.rawValue) }
        }
        return try conn.query(sql + " ORDER BY created_at, key", args).map(Self.row)
    }

    func rows(service: String, subject: String, state: WriteLedger.State, keyPrefix: String) throws -> [WriteLedger.Row] {
        try conn.query(
            """
            SELECT * FROM writes WHERE service = $1 AND subject = $2 AND state = $3 AND left(key, char_length($4::text)) = $4::text
            ORDER BY created_at, target
            """,
            [.text(service), .text(subject), .text(state.rawValue), .text(keyPrefix)]
        ).map(Self.row)
    }

    func lastContact(service: String, subject: String, since: String, except key: String) throws -> WriteLedger.Row? {
        try conn.one(
            """
            SELECT * FROM writes WHERE service = $1 AND subject = $2 AND state IN ('sent','confirmed') AND day >= $3 AND key <> $4
            ORDER BY day DESC LIMIT 1
            """,
            [.text(service), .text(subject), .text(since), .text(key)]
        ).map(Self.row)
    }

    func countToday(service: String, target: String, day: String) throws -> Int {
        try conn.one(
            "SELECT COUNT(*) AS n FROM writes WHERE service = $1 AND target = $2 AND day = $3 AND state IN ('intended','sent','confirmed')",
            [.text(service), .text(target), .text(day)])?.int("n") ?? 0
    }

    func eligibleDeferred(service: String, target: String, day: String, since: String) throws -> Int {
        try conn.one(
            """
            SELECT COUNT(*) AS n FROM writes WHERE service = $1 AND target = $2 AND state = 'deferred'
            AND eligible_on <= $3 AND eligible_on >= $4
            """,
            [.text(service), .text(target), .text(day), .text(since)])?.int("n") ?? 0
    }

    func deferredCount(service: String, target: String) throws -> Int {
        try conn.one(
            "SELECT COUNT(*) AS n FROM writes WHERE service = $1 AND target = $2 AND state = 'deferred'", [.text(service), .text(target)])?
            .int("n") ?? 0
    }

    func deferredByDay(service: String, target: String, after: String) throws -> [String: Int] {
        var booked: [String: Int] = [:]
        for r in try conn.query(
            """
            SELECT eligible_on, COUNT(*) AS n FROM writes
            WHERE service = $1 AND target = $2 AND state = 'deferred' AND eligible_on > $3 GROUP BY eligible_on
            """,
            [.text(service), .text(target), .text(after)])
        {
            if let d = r.string("eligible_on") { booked[d] = r.int("n") ?? 0 }
        }
        return booked
    }

    func lastWriteByOthers(service: String, targets: [String], owner: String, claimedSince: Date) throws -> (at: Date, recentClaim: Bool)? {
        let args: [PGValue] = [.double(claimedSince.timeIntervalSince1970), .text(service), .text(owner)] + targets.map { .text($0) }
        guard
            let r = try conn.one(
                """
                SELECT MAX(updated_at) AS last, bool_or(state = 'intended' AND updated_at > $1) AS recent FROM writes
                WHERE service = $2 AND (owner IS NULL OR owner <> $3) AND target IN (\(Self.marks(targets.count, from: 4)))
                """, args),
            let last = r.double("last")
        else { return nil }
        return (Date(timeIntervalSince1970: last), r.bool("recent") == true)
    }

    func counts(service: String, target: String) throws -> [WriteLedger.State: Int] {
        var counts: [WriteLedger.State: Int] = [:]
        for r in try conn.query(
            "SELECT state, COUNT(*) AS n FROM writes WHERE service = $1 AND target = $2 GROUP BY state", [.text(service), .text(target)])
        {
            if let s = r.string("state").flatMap(WriteLedger.State.init(rawValue:)) { counts[s] = r.int("n") ?? 0 }
        }
        return counts
    }

    /// A process of another machine is alive while it holds a connection to this database (each
    /// connection's `application_name` is `cmo HOST:PID`); asked on this transaction's own connection.
    func isConnected(owner: String) throws -> Bool {
        try conn.isConnected(owner: owner)
    }

    func rowForUpdate(_ key: String) throws -> WriteLedger.Row? {
        try conn.one("SELECT * FROM writes WHERE key = $1 FOR UPDATE", [.text(key)]).map(Self.row)
    }

    func insert(_ r: WriteLedger.Row) throws {
        let t = r.updatedAt.timeIntervalSince1970
        try conn.execute(
            """
            INSERT INTO writes (key, service, target, subject, state, remote_id, reason, run_id, day, eligible_on,
                attempts, owner, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
            """,
            [
                .text(r.key), .text(r.service), .text(r.target), .text(r.subject), .text(r.state.rawValue), PGValue(r.remoteID),
                PGValue(r.reason), PGValue(r.runID), PGValue(r.day), PGValue(r.eligibleOn), .int(Int64(r.attempts)), PGValue(r.owner),
                .double(t), .double(t),
            ])
    }

    func markIntended(key: String, runID: String, owner: String, day: String, at t: Double) throws {
        try conn.execute(
            """
            UPDATE writes SET state = 'intended', run_id = $1, owner = $2, day = $3, attempts = attempts + 1,
                eligible_on = NULL, updated_at = $4 WHERE key = $5
            """,
            [.text(runID), .text(owner), .text(day), .double(t), .text(key)])
    }

    func markDeferred(key: String, reason: String, eligibleOn: String, runID: String, at t: Double) throws -> Bool {
        try conn.execute(
            "UPDATE writes SET state = 'deferred', reason = $1, eligible_on = $2, run_id = $3, updated_at = $4 WHERE key = $5",
            [.text(reason), .text(eligibleOn), .text(runID), .double(t), .text(key)]) > 0
    }

    func markOutcome(_ o: WriteLedger.Outcome, runID: String, at t: Double) throws -> Bool {
        try conn.execute(
            """
            UPDATE writes SET state = $1, remote_id = COALESCE($2, remote_id), reason = $3, eligible_on = $4,
                run_id = $5, updated_at = $6
            WHERE key = $7
            """,
            [.text(o.state.rawValue), PGValue(o.remoteID), PGValue(o.reason), PGValue(o.eligibleOn), .text(runID), .double(t), .text(o.key)]) > 0
    }

    func markRebuilt(key: String, remoteID: String, reason: String, day: String?, at t: Double) throws {
        try conn.execute(
            """
            UPDATE writes SET state = 'confirmed', remote_id = $1, reason = $2, eligible_on = NULL,
                day = COALESCE($3, day), updated_at = $4 WHERE key = $5
            """,
            [.text(remoteID), .text(reason), PGValue(day), .double(t), .text(key)])
    }

    private static func row(_ r: PGRow) -> WriteLedger.Row {
        WriteLedger.Row(
            key: r.string("key") ?? "", service: r.string("service") ?? "", target: r.string("target") ?? "", subject: r.string("subject") ?? "",
            state: r.string("state").flatMap(WriteLedger.State.init(rawValue:)) ?? .failed, remoteID: r.string("remote_id"),
            reason: r.string("reason"), runID: r.string("run_id"), day: r.string("day"), eligibleOn: r.string("eligible_on"),
            attempts: r.int("attempts") ?? 0, owner: r.string("owner"), updatedAt: Date(timeIntervalSince1970: r.double("updated_at") ?? 0))
    }
}
