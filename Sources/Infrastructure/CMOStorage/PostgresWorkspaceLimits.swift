import CMOBasics
import Foundation

/// The workspace's limits in the team's PostgreSQL database, shared by every process on every machine
/// (`CMO_DATABASE_URL`): the same claims as `SQLiteWorkspaceLimits`, so processes on several machines
/// stay inside one Instantly, Attio or Linear workspace's limits and one person's GitHub quota together.
///
/// Reservations on one budget take turns on an advisory lock named after the budget (`limits:` + budget),
/// held for one short transaction: the read-then-write that BEGIN IMMEDIATE serializes in SQLite. The
/// lock is per budget, not one for the whole table, so Attio's writes never wait on Instantly's requests.
/// Header budgets and holds are single statements and need no lock. It holds send times and hold ends,
/// no URL, header or secret (a header budget is keyed by a digest of its credential).
public final class PostgresWorkspaceLimits: WorkspaceLimits {
    private let db: PostgresDatabase
    private let pruning = PruneCadence()

    /// The tables, by version, one statement each. Never edit a migration that shipped: add one.
    static let migrations: [(name: String, sql: String)] = [
        ("v1 pace sends", "CREATE TABLE IF NOT EXISTS limits_pace_send (budget TEXT NOT NULL, sent_at DOUBLE PRECISION NOT NULL)"),
        ("v1 pace sends by budget", "CREATE INDEX IF NOT EXISTS limits_pace_send_by_budget ON limits_pace_send (budget, sent_at)"),
        (
            "v1 header budgets",
            "CREATE TABLE IF NOT EXISTS limits_bucket (bucket TEXT PRIMARY KEY, remaining BIGINT NOT NULL, reset_at DOUBLE PRECISION NOT NULL)"
        ),
        (
            "v1 host holds",
            "CREATE TABLE IF NOT EXISTS limits_host_penalty (host TEXT PRIMARY KEY, until_at DOUBLE PRECISION NOT NULL, hits BIGINT NOT NULL)"
        ),
    ]

    /// Opens the limits in `database`, creating or upgrading its tables. Unreachable: 69; refused: 78.
    public init(database: PostgresDatabase) throws {
        db = database
        try db.migrate("limits", Self.migrations)
    }

    /// Other machines' processes share these limits.
    public var spansMachines: Bool { true }

    public func reserve(_ budget: String, windows: [PaceWindow], margin: Double, now: Double) throws -> Double {
        let live = windows.filter { $0.requests > 0 && $0.seconds > 0 }
        guard !live.isEmpty else { return now }
        let prune = pruning.due()
        // One statement reads the latest reservation and, per window, the one `requests - 1` back, and
        // inserts the reservation at the earliest time they allow (GREATEST skips the NULLs of a budget
        // with fewer reservations): with the lock, four round trips in all.
        var args: [PGValue] = [.text(budget), .double(now)]
        var bounds = ["$2", "(SELECT MAX(sent_at) FROM limits_pace_send WHERE budget = $1)"]  // first come, first served
        for w in live {
            // The window ending at the reservation may hold w.requests - 1 earlier sends: the one w.requests
            // back must have left it.
            args.append(.int(Int64(w.requests - 1)))
            args.append(.double(w.seconds + max(0, margin) + 1e-4))
            bounds.append(
                "(SELECT sent_at FROM limits_pace_send WHERE budget = $1 ORDER BY sent_at DESC LIMIT 1 OFFSET $\(args.count - 1)) + $\(args.count)")
        }
        let sql = "INSERT INTO limits_pace_send (budget, sent_at) SELECT $1, GREATEST(" + bounds.joined(separator: ", ") + ") RETURNING sent_at"
        return try db.transaction(lock: "limits:" + budget) { conn in
            guard let at = try conn.one(sql, args)?.double("sent_at") else {
                throw StageFailure(.failure, "internal error: the database \(db.url) returned no reservation")
            }
            if prune {
                let longest = live.map(\.seconds).max()! + max(0, margin) + 1
                _ = try conn.execute(
                    "DELETE FROM limits_pace_send WHERE budget = $1 AND sent_at < $2", [.text(budget), .double(now - longest)])
            }
            return at
        }
    }

    public func take(_ bucket: String, now: Double) throws -> Double? {
        // One statement: take one if the current window has some left; else report the window's reset,
        // or nothing when no current window is known (the response will tell). A take that waited on
        // another re-checks the newest count, so the processes never take more than was left.
        let row = try db.read { conn in
            try conn.one(
                """
                WITH took AS (
                    UPDATE limits_bucket SET remaining = remaining - 1
                    WHERE bucket = $1 AND reset_at > $2 AND remaining > 0
                    RETURNING 1)
                SELECT (SELECT COUNT(*) FROM took) AS took,
                       (SELECT reset_at FROM limits_bucket WHERE bucket = $1 AND reset_at > $2) AS reset_at
                """, [.text(bucket), .double(now)])
        }
        if (row?.int("took") ?? 0) > 0 { return nil }
        return row?.double("reset_at")
    }

    public func observe(_ bucket: String, remaining: Int, reset: Double) throws {
        _ = try db.read { conn in
            try conn.execute(
                """
                INSERT INTO limits_bucket AS b (bucket, remaining, reset_at) VALUES ($1, $2, $3)
                ON CONFLICT (bucket) DO UPDATE SET
                    remaining = CASE WHEN EXCLUDED.reset_at > b.reset_at + 0.5 THEN EXCLUDED.remaining
                                     WHEN EXCLUDED.reset_at < b.reset_at - 0.5 THEN b.remaining
                                     ELSE LEAST(b.remaining, EXCLUDED.remaining) END,
                    reset_at = CASE WHEN EXCLUDED.reset_at > b.reset_at + 0.5 THEN EXCLUDED.reset_at ELSE b.reset_at END
                """, [.text(bucket), .int(Int64(max(0, remaining))), .double(reset)])
        }
    }

    public func holds(now: Double) throws -> [String: LimitHold] {
        try db.read { conn in
            var out: [String: LimitHold] = [:]
            for row in try conn.query("SELECT host, until_at, hits FROM limits_host_penalty WHERE until_at > $1", [.double(now)]) {
                guard let host = row.string("host"), let until = row.double("until_at"), let hits = row.int("hits") else { continue }
                out[host] = LimitHold(until: until, hits: hits)
            }
            return out
        }
    }

    public func hold(_ key: String, _ hold: LimitHold) throws {
        _ = try db.read { conn in
            try conn.execute(
                """
                INSERT INTO limits_host_penalty AS p (host, until_at, hits) VALUES ($1, $2, $3)
                ON CONFLICT (host) DO UPDATE SET
                    until_at = GREATEST(p.until_at, EXCLUDED.until_at), hits = GREATEST(p.hits, EXCLUDED.hits)
                """, [.text(key), .double(hold.until), .int(Int64(hold.hits))])
        }
    }

    public func release(_ key: String, before now: Double) throws {
        _ = try db.read { conn in
            try conn.execute("DELETE FROM limits_host_penalty WHERE host = $1 AND until_at <= $2", [.text(key), .double(now)])
        }
    }
}
