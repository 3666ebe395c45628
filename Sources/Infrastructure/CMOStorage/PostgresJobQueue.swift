import CMOBasics
import Foundation

/// The job queue in the team's PostgreSQL database (`CMO_DATABASE_URL`), for workers on several machines
/// that mount one runs directory at the same path: the same calls as `SQLiteJobQueue`, with each running
/// job's worker named by machine and pid.
///
/// A claim is one short transaction: running jobs whose worker died are queued again (this machine's by
/// their pid, another machine's when its heartbeat is older than the lease), then one runnable job is
/// taken with `FOR UPDATE SKIP LOCKED`, so claims on several machines never wait on each other and never
/// take one job twice. No transaction stays open while a job runs. Workers poll (no LISTEN/NOTIFY: see
/// the worker's `poll`), which also works through PgBouncer in transaction mode.
public final class PostgresJobQueue: JobQueue {
    private let db: PostgresDatabase

    /// The tables, by version, one statement each. Never edit a migration that shipped: add one.
    static let migrations: [(name: String, sql: String)] = [
        (
            "v1 jobs",
            """
            CREATE TABLE IF NOT EXISTS jobs (
                id TEXT PRIMARY KEY,
                name TEXT,
                runs_dir TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('queued','running','sleeping','paused','awaiting_approval','done','failed','cancelled')),
                options TEXT NOT NULL DEFAULT '[]',
                token TEXT,
                not_before DOUBLE PRECISION,
                worker_host TEXT,
                worker_pid BIGINT,
                worker_started BIGINT,
                message TEXT,
                exit_status BIGINT,
                starts BIGINT NOT NULL DEFAULT 0,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL)
            """
        ),
        ("v1 jobs by status", "CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created_at)"),
        (
            "v1 token holds",
            "CREATE TABLE IF NOT EXISTS jobs_token_holds (token TEXT PRIMARY KEY, until_at DOUBLE PRECISION NOT NULL, job_id TEXT NOT NULL, reason TEXT NOT NULL)"
        ),
        (
            "v1 workers",
            """
            CREATE TABLE IF NOT EXISTS jobs_workers (host TEXT NOT NULL, pid BIGINT NOT NULL, started BIGINT, concurrency BIGINT NOT NULL,
                heartbeat DOUBLE PRECISION NOT NULL, PRIMARY KEY (host, pid))
            """
        ),
    ]

    /// Opens the queue in `database`, creating or upgrading its tables. Unreachable: 69; refused: 78.
    public init(database: PostgresDatabase) throws {
        db = database
        try db.migrate("jobs", Self.migrations)
    }

    public var location: String { "PostgreSQL \(db.url)" }

    private static func row(_ r: PGRow) -> QueuedJob {
        var j = QueuedJob(id: r.string("id") ?? "", name: r.string("name"), runsDir: r.string("runs_dir") ?? "",
                          status: QueuedJob.Status(rawValue: r.string("status") ?? "") ?? .failed,
                          options: (try? JSONDecoder().decode([String].self, from: Data((r.string("options") ?? "[]").utf8))) ?? [],
                          token: r.string("token"), createdAt: r.double("created_at") ?? 0)
        j.notBefore = r.double("not_before")
        j.workerHost = r.string("worker_host")
        j.workerPID = r.int64("worker_pid").map { Int32(truncatingIfNeeded: $0) }
        j.workerStarted = r.int64("worker_started").map { UInt64(bitPattern: $0) }
        j.message = r.string("message")
        j.exitStatus = r.int64("exit_status").map { Int32(truncatingIfNeeded: $0) }
        j.starts = r.int("starts") ?? 0
        j.updatedAt = r.double("updated_at") ?? j.createdAt
        return j
    }

    private static func started(_ s: UInt64?) -> PGValue { s.map { .int(Int64(bitPattern: $0)) } ?? .null }

    public func add(_ job: QueuedJob) throws {
        let options = String(decoding: try JSONEncoder().encode(job.options), as: UTF8.self)
        _ = try db.read { conn in
            try conn.execute(
                """
                INSERT INTO jobs (id, name, runs_dir, status, options, token, not_before, message, created_at, updated_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                """,
                [.text(job.id), PGValue(job.name), .text(job.runsDir), .text(job.status.rawValue), .text(options), PGValue(job.token),
                 PGValue(job.notBefore), PGValue(job.message), .double(job.createdAt), .double(job.updatedAt)])
        }
    }

    public func job(_ id: String) throws -> QueuedJob? {
        try db.read { conn in try conn.one("SELECT * FROM jobs WHERE id = $1", [.text(id)]).map(Self.row) }
    }

    public func jobs(limit: Int?) throws -> [QueuedJob] {
        try db.read { conn in
            try conn.query("SELECT * FROM jobs ORDER BY created_at DESC, id DESC LIMIT $1::bigint", [PGValue(limit)]).map(Self.row).reversed()
        }
    }

    public func claim(worker: Int32, host: String, started: UInt64?, now: Double, lease: Double, isAlive: (Int32, UInt64?) -> Bool) throws -> QueuedJob? {
        let wall = Date().timeIntervalSince1970
        return try db.transaction { conn in
            // A job whose worker died (kill -9, a machine lost) runs again: its state.json says where it
            // stopped. Rows another claim is rescuing now are skipped, not waited for.
            let running = try conn.query(
                """
                SELECT j.id, j.worker_host, j.worker_pid, j.worker_started, w.heartbeat FROM jobs j
                LEFT JOIN jobs_workers w ON w.host = j.worker_host AND w.pid = j.worker_pid
                WHERE j.status = 'running' FOR UPDATE OF j SKIP LOCKED
                """)
            for r in running {
                let pid = r.int64("worker_pid").map { Int32(truncatingIfNeeded: $0) }
                let alive: Bool
                if r.string("worker_host") == host || r.string("worker_host") == nil {
                    alive = pid.map { isAlive($0, r.int64("worker_started").map { UInt64(bitPattern: $0) }) } ?? false
                } else {
                    alive = (r.double("heartbeat") ?? -.infinity) >= wall - lease
                }
                if alive { continue }
                _ = try conn.execute(
                    """
                    UPDATE jobs SET status = 'queued', worker_host = NULL, worker_pid = NULL, worker_started = NULL,
                    message = 'its worker stopped; queued again', updated_at = $1 WHERE id = $2 AND status = 'running'
                    """, [.double(now), .text(r.string("id") ?? "")])
            }
            return try conn.one(
                """
                UPDATE jobs SET status = 'running', worker_host = $1, worker_pid = $2, worker_started = $3, starts = starts + 1,
                not_before = NULL, updated_at = $4
                WHERE id = (SELECT id FROM jobs WHERE status = 'queued' OR (status = 'sleeping' AND COALESCE(not_before, 0) <= $4)
                            ORDER BY COALESCE(not_before, created_at), created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING *
                """, [.text(host), .int(Int64(worker)), Self.started(started), .double(now)]
            ).map(Self.row)
        }
    }

    @discardableResult
    public func change(_ id: String, to status: QueuedJob.Status, notBefore: Double?, message: String?, exitStatus: Int32?,
                       from: [QueuedJob.Status]?) throws -> Bool
    {
        var sql = """
            UPDATE jobs SET status = $1::text, not_before = $2::double precision, message = $3::text,
            exit_status = COALESCE($4::bigint, exit_status), updated_at = $5::double precision,
            worker_host = CASE WHEN $1::text = 'running' THEN worker_host END,
            worker_pid = CASE WHEN $1::text = 'running' THEN worker_pid END,
            worker_started = CASE WHEN $1::text = 'running' THEN worker_started END
            WHERE id = $6
            """
        var args: [PGValue] = [.text(status.rawValue), PGValue(notBefore), PGValue(message), PGValue(exitStatus), .double(Date().timeIntervalSince1970),
                               .text(id)]
        if let from, !from.isEmpty {
            sql += " AND status IN (" + from.indices.map { "$\(args.count + 1 + $0)" }.joined(separator: ", ") + ")"
            args += from.map { .text($0.rawValue) }
        }
        return try db.read { conn in try conn.execute(sql, args) > 0 }
    }

    public func nextDue() throws -> Double? {
        try db.read { conn in try conn.one("SELECT MIN(not_before) AS due FROM jobs WHERE status = 'sleeping'")?.double("due") }
    }

    public func holdToken(_ token: String, until: Double, by job: String, reason: String) throws {
        _ = try db.read { conn in
            try conn.execute(
                """
                INSERT INTO jobs_token_holds (token, until_at, job_id, reason) VALUES ($1, $2, $3, $4)
                ON CONFLICT (token) DO UPDATE SET until_at = EXCLUDED.until_at, job_id = EXCLUDED.job_id, reason = EXCLUDED.reason
                WHERE EXCLUDED.until_at > jobs_token_holds.until_at
                """, [.text(token), .double(until), .text(job), .text(reason)])
        }
    }

    public func tokenHold(_ token: String, now: Double) throws -> (until: Double, job: String, reason: String)? {
        try db.read { conn in
            guard let r = try conn.one("SELECT until_at, job_id, reason FROM jobs_token_holds WHERE token = $1 AND until_at > $2", [.text(token), .double(now)]),
                let until = r.double("until_at")
            else { return nil }
            return (until, r.string("job_id") ?? "", r.string("reason") ?? "")
        }
    }

    public func heartbeat(worker: Int32, host: String, started: UInt64?, concurrency: Int, now: Double) throws {
        _ = try db.read { conn in
            try conn.execute(
                """
                INSERT INTO jobs_workers (host, pid, started, concurrency, heartbeat) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (host, pid) DO UPDATE SET started = EXCLUDED.started, concurrency = EXCLUDED.concurrency, heartbeat = EXCLUDED.heartbeat
                """, [.text(host), .int(Int64(worker)), Self.started(started), .int(Int64(concurrency)), .double(now)])
        }
    }

    public func removeWorker(_ pid: Int32, host: String) throws {
        _ = try db.read { conn in try conn.execute("DELETE FROM jobs_workers WHERE host = $1 AND pid = $2", [.text(host), .int(Int64(pid))]) }
    }

    /// Another machine's worker counts by its heartbeat alone (its pid means nothing here).
    public func liveWorkers(now: Double, within: Double, isAlive: (Int32, UInt64?) -> Bool) throws -> [JobWorker] {
        try db.read { conn in
            try conn.query("SELECT host, pid, started FROM jobs_workers WHERE heartbeat >= $1 ORDER BY host, pid", [.double(now - within)])
        }.compactMap { r in
            let worker = JobWorker(host: r.string("host") ?? "", pid: Int32(truncatingIfNeeded: r.int64("pid") ?? 0))
            if worker.host != JobQueues.host { return worker }
            return isAlive(worker.pid, r.int64("started").map { UInt64(bitPattern: $0) }) ? worker : nil
        }
    }
}
