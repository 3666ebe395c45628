import CMOStorage
import Foundation
import GRDB

/// Host penalties (a secondary rate limit, a `retry-after` on a 429) that must outlive the process
/// that learned them: a run killed during a penalty must not let the next run send into it.
///
/// `$CMO_STATE_DIR/http-limits.sqlite`, one row per host (`host:port`, lower-cased): the epoch time
/// the penalty ends and how many penalties came in a row (for the doubling wait). It holds no URL,
/// header or secret. Opened through `StateDatabase`, so several stages can share it.
final class HTTPPenaltyStore {
    struct Penalty: Equatable {
        var until: Double
        var hits: Int
    }

    private let pool: DatabasePool

    init(path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        pool = try StateDatabase.open(
            path,
            schema: """
                CREATE TABLE IF NOT EXISTS host_penalty (
                    host TEXT PRIMARY KEY NOT NULL,
                    until REAL NOT NULL,
                    hits INTEGER NOT NULL);
                """)
    }

    /// Penalties still in force at `now`, by host.
    func active(now: Double) throws -> [String: Penalty] {
        try pool.read { db in
            var out: [String: Penalty] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT host, until, hits FROM host_penalty WHERE until > ?", arguments: [now]) {
                out[row["host"]] = Penalty(until: row["until"], hits: row["hits"])
            }
            return out
        }
    }

    /// Records a penalty; a later end already stored (by another process) is kept.
    func record(host: String, _ penalty: Penalty) throws {
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO host_penalty (host, until, hits) VALUES (?, ?, ?)
                    ON CONFLICT(host) DO UPDATE SET until = max(until, excluded.until), hits = max(hits, excluded.hits)
                    """, arguments: [host, penalty.until, penalty.hits])
        }
    }

    /// Forgets a host's penalty once a request after it got through.
    func clear(host: String, before now: Double) throws {
        try pool.write { db in try db.execute(sql: "DELETE FROM host_penalty WHERE host = ? AND until <= ?", arguments: [host, now]) }
    }
}
