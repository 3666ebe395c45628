import CMOBasics
import Foundation
import GRDB

/// A workspace's rate limits, shared by every process that sends to its services: the vendors count
/// Instantly's 100 requests a second, Attio's 25 writes a second and Linear's hourly budget per
/// workspace, not per process, so the claims on them live in the state store, beside the ledger and
/// the queue. Any number of writers and worker jobs then stay inside a limit together.
///
/// This is the storage seam for limits: `SQLiteWorkspaceLimits` holds them for the processes of one
/// machine (`$CMO_STATE_DIR/http-limits.sqlite`), `PostgresWorkspaceLimits` for every machine of the team
/// (`CMO_DATABASE_URL`); `WorkspaceLimitsStore.open` picks one, and the HTTP client that calls it does not
/// change.
public protocol WorkspaceLimits: AnyObject {
    /// Whether processes on other machines share these limits. Then a credential's budget that its
    /// headers report (GitHub's 5,000 requests an hour per token) may be spent elsewhere at the same time,
    /// which one machine's turn-taking on the token cannot see, so the client takes it from here too.
    var spansMachines: Bool { get }

    /// Reserves one send on `budget` (a host and the name of one of its budgets, e.g.
    /// `api.instantly.ai:443 requests`) and returns the earliest time it may go: the first time at or after
    /// `now`, and at or after every earlier reservation on the budget, at which each of `windows` still
    /// has room when `margin` seconds are added to it. The reservation counts at once, for every process:
    /// reservations are served first come, first served, so no sender starves another.
    func reserve(_ budget: String, windows: [PaceWindow], margin: Double, now: Double) throws -> Double

    /// Takes one request from a budget the vendor reports in headers (Linear's requests an hour), as
    /// last recorded by any process: nil when it may go (one taken, or nothing known of the budget's
    /// current window), else the time its window resets. Together the processes never send more than the
    /// vendor last said was left.
    func take(_ bucket: String, now: Double) throws -> Double?
    /// Records what a response said of a budget: within one window the lowest count wins (the others'
    /// requests taken since are already off it); a later window replaces it.
    func observe(_ bucket: String, remaining: Int, reset: Double) throws

    /// Holds in force at `now` (host penalties), by key.
    func holds(now: Double) throws -> [String: LimitHold]
    /// Records a hold; a later end already recorded (by another process) is kept.
    func hold(_ key: String, _ hold: LimitHold) throws
    /// Forgets a hold that ended before `now`: a request after it got through.
    func release(_ key: String, before now: Double) throws
}

/// Opens the workspace's limits where the environment's storage backend keeps them (`StorageBackend`), so
/// no caller names the backend.
public enum WorkspaceLimitsStore {
    /// The limits of `environment`'s backend: with `CMO_DATABASE_URL` naming PostgreSQL, the team
    /// database (it wins over `sqlitePath`); else the SQLite file `sqlitePath`, or `http-limits.sqlite` in
    /// the backend's state directory when nil. A failure says which backend it was, never a password:
    /// the database unreachable is 69, refused 78; a file that cannot be opened 78 (a full disk 74).
    public static func open(
        environment: [String: String] = ProcessInfo.processInfo.environment, sqlitePath: String? = nil
    ) throws -> any WorkspaceLimits {
        let url = (environment["CMO_DATABASE_URL"] ?? "").trimmingCharacters(in: .whitespaces)
        // An explicit file and no database: nothing else to read (and no state directory to make).
        if let sqlitePath, url.isEmpty { return try openSQLite(sqlitePath) }
        switch try StorageBackend.from(environment: environment) {
        case .sqlite(let directory):
            return try openSQLite(sqlitePath ?? directory + "/http-limits.sqlite")
        case .postgres(let postgres):
            let backend = StorageBackend.postgres(postgres)
            do {
                return try PostgresWorkspaceLimits(database: PostgresDatabase.shared(postgres, environment: environment))
            } catch let failure as StageFailure {
                // It names the database already (without its password).
                throw StageFailure(failure.exitStatus, "the workspace's rate limits: \(failure.message)")
            } catch {
                throw StageFailure(.config, "cannot open the workspace's rate limits (\(backend)): \(PostgresDatabase.reason(error))")
            }
        }
    }

    private static func openSQLite(_ path: String) throws -> SQLiteWorkspaceLimits {
        do {
            return try SQLiteWorkspaceLimits(path: path)
        } catch {
            throw StateDatabase.openFailure(error, "the workspace's rate limits (SQLite '\(path)')")
        }
    }
}

/// When a limits store prunes the reservations no window can see any more: on the first reservation of
/// an instance and every 64th after (thread-safe), so the table stays small without a delete per send.
final class PruneCadence: @unchecked Sendable {
    private let lock = NSLock()
    private var calls = 0

    func due() -> Bool {
        lock.withLock {
            calls += 1
            return calls % 64 == 1
        }
    }
}

/// A sliding window of a budget: at most `requests` sends in any `seconds`.
public struct PaceWindow: Sendable, Equatable {
    public var requests: Int
    public var seconds: Double

    public init(requests: Int, seconds: Double) {
        self.requests = requests
        self.seconds = seconds
    }
}

/// Nothing is sent on the key (a host, or a host's bucket) before `until` (epoch seconds); `hits` counts
/// the penalties in a row, for the doubling wait.
public struct LimitHold: Sendable, Equatable {
    public var until: Double
    public var hits: Int

    public init(until: Double, hits: Int) {
        self.until = until
        self.hits = hits
    }
}

/// The workspace's limits in an SQLite file of the state directory, shared by the processes of one
/// machine. It holds send times and hold ends, no URL, header or secret. Commits are not synced to disk
/// one by one (`synchronous = NORMAL`): a power cut may forget the last reservations, never corrupt
/// the file, and a reservation costs a fraction of a millisecond.
public final class SQLiteWorkspaceLimits: WorkspaceLimits {
    private let pool: DatabasePool
    private let pruning = PruneCadence()

    public init(path: String) throws {
        pool = try StateDatabase.open(
            path,
            schema: """
                CREATE TABLE IF NOT EXISTS host_penalty (
                    host TEXT PRIMARY KEY NOT NULL,
                    until REAL NOT NULL,
                    hits INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS pace_send (
                    budget TEXT NOT NULL,
                    at REAL NOT NULL);
                CREATE INDEX IF NOT EXISTS pace_send_by_budget ON pace_send (budget, at);
                CREATE TABLE IF NOT EXISTS bucket (
                    bucket TEXT PRIMARY KEY NOT NULL,
                    remaining INTEGER NOT NULL,
                    reset REAL NOT NULL);
                """,
            synchronous: "NORMAL")
    }

    /// One machine's processes only: a token's turns are taken by lock there.
    public var spansMachines: Bool { false }

    public func reserve(_ budget: String, windows: [PaceWindow], margin: Double, now: Double) throws -> Double {
        let live = windows.filter { $0.requests > 0 && $0.seconds > 0 }
        guard !live.isEmpty else { return now }
        let prune = pruning.due()
        return try StateDatabase.immediate(pool) { db in
            var at = now
            // First come, first served: never before a reservation already made.
            if let last = try Double.fetchOne(db, sql: "SELECT MAX(at) FROM pace_send WHERE budget = ?", arguments: [budget]) {
                at = max(at, last)
            }
            for w in live {
                // The window ending at `at` may hold w.requests - 1 earlier sends: the one w.requests back must
                // have left it.
                if let nth = try Double.fetchOne(
                    db, sql: "SELECT at FROM pace_send WHERE budget = ? ORDER BY at DESC LIMIT 1 OFFSET ?",
                    arguments: [budget, w.requests - 1])
                {
                    at = max(at, nth + w.seconds + max(0, margin) + 1e-4)
                }
            }
            try db.execute(sql: "INSERT INTO pace_send (budget, at) VALUES (?, ?)", arguments: [budget, at])
            if prune {
                let longest = live.map(\.seconds).max()! + max(0, margin) + 1
                try db.execute(sql: "DELETE FROM pace_send WHERE budget = ? AND at < ?", arguments: [budget, now - longest])
            }
            return at
        }
    }

    public func take(_ bucket: String, now: Double) throws -> Double? {
        try StateDatabase.immediate(pool) { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT remaining, reset FROM bucket WHERE bucket = ?", arguments: [bucket]),
                (row["reset"] as Double) > now
            else { return nil }  // nothing known of this window: the response will tell
            guard (row["remaining"] as Int) > 0 else { return row["reset"] as Double }
            try db.execute(sql: "UPDATE bucket SET remaining = remaining - 1 WHERE bucket = ?", arguments: [bucket])
            return nil
        }
    }

    public func observe(_ bucket: String, remaining: Int, reset: Double) throws {
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO bucket (bucket, remaining, reset) VALUES (?, ?, ?)
                    ON CONFLICT(bucket) DO UPDATE SET
                        remaining = CASE WHEN excluded.reset > reset + 0.5 THEN excluded.remaining
                                         WHEN excluded.reset < reset - 0.5 THEN remaining
                                         ELSE min(remaining, excluded.remaining) END,
                        reset = CASE WHEN excluded.reset > reset + 0.5 THEN excluded.reset ELSE reset END
                    """, arguments: [bucket, max(0, remaining), reset])
        }
    }

    public func holds(now: Double) throws -> [String: LimitHold] {
        try pool.read { db in
            var out: [String: LimitHold] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT host, until, hits FROM host_penalty WHERE until > ?", arguments: [now]) {
                out[row["host"]] = LimitHold(until: row["until"], hits: row["hits"])
            }
            return out
        }
    }

    public func hold(_ key: String, _ hold: LimitHold) throws {
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO host_penalty (host, until, hits) VALUES (?, ?, ?)
                    ON CONFLICT(host) DO UPDATE SET until = max(until, excluded.until), hits = max(hits, excluded.hits)
                    """, arguments: [key, hold.until, hold.hits])
        }
    }

    public func release(_ key: String, before now: Double) throws {
        try pool.write { db in try db.execute(sql: "DELETE FROM host_penalty WHERE host = ? AND until <= ?", arguments: [key, now]) }
    }
}
