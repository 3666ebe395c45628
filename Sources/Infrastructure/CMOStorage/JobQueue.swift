import CMOBasics
import Foundation
import GRDB

/// One queued job: where its run directory is, what the worker passes to `cmo-plan resume`, and where it
/// stands in the queue. The run directory's state.json stays the truth about the job's steps; the queue
/// only says which job runs next, in which worker, and until when a job sleeps.
public struct QueuedJob: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable {
        /// Waiting for a worker.
        case queued
        /// A worker runs it (`workerPID`).
        case running
        /// Waiting until `notBefore` (a rate limit's reset, a token another job holds, a triage pause with a time).
        case sleeping
        /// Paused by a person or by triage: only `cmo-plan resume` continues it.
        case paused
        /// Stopped at the approval gate: `cmo-plan approve` continues it.
        case awaitingApproval = "awaiting_approval"
        case done, failed, cancelled

        /// The job will not run again by itself.
        public var isFinal: Bool { self == .done || self == .failed || self == .cancelled }
    }

    public var id: String
    /// The job's name (cron and `--name`), if it has one.
    public var name: String?
    /// The absolute runs directory holding `<id>/`.
    public var runsDir: String
    public var status: Status
    /// The arguments the worker adds to `cmo-plan resume <id>` (`--yes`, `--stage NAME=CMD`, …).
    public var options: [String]
    /// Which GitHub token (a digest of the API URL and the token, never the token) the job spends.
    public var token: String?
    /// Not before this time (epoch seconds), for a sleeping job.
    public var notBefore: Double?
    /// The machine of the worker running it (PostgreSQL; nil in SQLite, whose workers are all on this machine).
    public var workerHost: String?
    public var workerPID: Int32?
    public var workerStarted: UInt64?
    /// The last thing said about the job (why it sleeps, why it failed).
    public var message: String?
    public var exitStatus: Int32?
    /// How many times a worker has started it.
    public var starts: Int
    public var createdAt: Double
    public var updatedAt: Double

    public init(id: String, name: String? = nil, runsDir: String, status: Status = .queued, options: [String] = [], token: String? = nil,
                createdAt: Double = Date().timeIntervalSince1970)
    {
        self.id = id
        self.name = name
        self.runsDir = runsDir
        self.status = status
        self.options = options
        self.token = token
        self.starts = 0
        self.createdAt = createdAt
        self.updatedAt = createdAt
    }
}

/// A worker that said it is alive: its machine and its pid there.
public struct JobWorker: Sendable, Equatable {
    public var host: String
    public var pid: Int32

    public init(host: String, pid: Int32) {
        self.host = host
        self.pid = pid
    }
}

/// Opens the job queue of the environment's storage backend, so no caller knows which it has.
public enum JobQueues {
    /// This machine's name, as workers record it in the queue.
    public static var host: String { ProcessIdentity.host }

    /// Seconds after its last heartbeat that a worker on ANOTHER machine counts as dead and its jobs are
    /// queued again. Workers beat every 2 seconds; 15 leaves room for a slow database or a busy machine
    /// without leaving a dead worker's job for minutes. A dead worker on this machine is seen at once (its pid).
    public static let lease: Double = 15

    /// `CMO_DATABASE_URL` naming PostgreSQL: the team database's queue, shared by the workers of every
    /// machine (which must mount the same runs directory at the same path). Else `CMO_STATE_DIR/jobs.sqlite`.
    /// Unreachable: 69; refused: 78; a file that cannot be opened: 78 (a full disk 74).
    public static func open(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any JobQueue {
        switch try StorageBackend.from(environment: environment) {
        case .sqlite(let directory):
            do { return try SQLiteJobQueue(path: directory + "/jobs.sqlite") } catch {
                throw StateDatabase.openFailure(error, "the job queue in \(directory)")
            }
        case .postgres(let url):
            do {
                return try PostgresJobQueue(database: PostgresDatabase.shared(url, environment: environment))
            } catch let failure as StageFailure {
                // It names the database already (without its password).
                throw StageFailure(failure.exitStatus, "the job queue: \(failure.message)")
            } catch {
                throw StageFailure(.config, "cannot open the job queue (\(StorageBackend.postgres(url))): \(PostgresDatabase.reason(error))")
            }
        }
    }
}

/// Where jobs wait for a worker, and what workers share: SQLite (`SQLiteJobQueue`, one machine's workers)
/// or PostgreSQL (`PostgresJobQueue`, workers on several machines). Open it with `JobQueues.open`.
public protocol JobQueue: AnyObject {
    /// Where the queue is, for messages: a file's path, or the database's URL without its password.
    var location: String { get }
    /// Adds a job (status queued unless it says otherwise). Fails if the id is taken.
    func add(_ job: QueuedJob) throws
    func job(_ id: String) throws -> QueuedJob?
    /// Every job, oldest first (`limit`: the newest `limit`).
    func jobs(limit: Int?) throws -> [QueuedJob]
    /// Takes the oldest runnable job for worker `worker` on machine `host`, atomically: queued, or sleeping
    /// and due at `now`. Jobs whose worker died are put back first: on this machine when `isAlive` says its
    /// pid is gone; on another machine when its heartbeat is older than `lease` seconds of wall-clock time.
    /// Nil when nothing is runnable.
    func claim(worker: Int32, host: String, started: UInt64?, now: Double, lease: Double, isAlive: (Int32, UInt64?) -> Bool) throws -> QueuedJob?
    /// Sets a job's status (and the fields given); returns false when there is no such job. `from`: only if
    /// its status is one of these (so a worker never overwrites a person's pause with its own result).
    /// Callers use `update`, whose fields default to none.
    @discardableResult
    func change(_ id: String, to status: QueuedJob.Status, notBefore: Double?, message: String?, exitStatus: Int32?,
                from: [QueuedJob.Status]?) throws -> Bool
    /// The earliest time a sleeping job is due (for a worker deciding how long to sleep), if any.
    func nextDue() throws -> Double?
    /// A GitHub token that must not be spent before `until` (a stage learned its quota is gone).
    func holdToken(_ token: String, until: Double, by job: String, reason: String) throws
    /// Until when a token must not be spent, and why, if it is held at `now`.
    func tokenHold(_ token: String, now: Double) throws -> (until: Double, job: String, reason: String)?
    /// A worker says it is alive (its machine, pid, start time and concurrency) at wall-clock time `now`.
    func heartbeat(worker: Int32, host: String, started: UInt64?, concurrency: Int, now: Double) throws
    func removeWorker(_ pid: Int32, host: String) throws
    /// Workers whose last heartbeat is at most `within` seconds old, and, on this machine, whose process lives.
    func liveWorkers(now: Double, within: Double, isAlive: (Int32, UInt64?) -> Bool) throws -> [JobWorker]
}

extension JobQueue {
    /// A claim by a worker of this machine, other machines' workers dead after `JobQueues.lease`.
    public func claim(worker: Int32, started: UInt64?, now: Double, isAlive: (Int32, UInt64?) -> Bool) throws -> QueuedJob? {
        try claim(worker: worker, host: JobQueues.host, started: started, now: now, lease: JobQueues.lease, isAlive: isAlive)
    }

    /// A heartbeat of a worker of this machine.
    public func heartbeat(worker: Int32, started: UInt64?, concurrency: Int, now: Double) throws {
        try heartbeat(worker: worker, host: JobQueues.host, started: started, concurrency: concurrency, now: now)
    }

    /// Sets a job's status (`change`, with the fields not given cleared or kept as `change` says).
    @discardableResult
    public func update(_ id: String, status: QueuedJob.Status, notBefore: Double? = nil, message: String? = nil, exitStatus: Int32? = nil,
                       from: [QueuedJob.Status]? = nil) throws -> Bool
    {
        try change(id, to: status, notBefore: notBefore, message: message, exitStatus: exitStatus, from: from)
    }

    /// A worker of this machine stops.
    public func removeWorker(_ pid: Int32) throws { try removeWorker(pid, host: JobQueues.host) }
}

/// The queue in one SQLite file, opened through `StateDatabase` (WAL, busy timeout, migrations), safe for
/// a worker and any number of `cmo-plan` commands at once.
public final class SQLiteJobQueue: JobQueue {
    public let path: String
    private let pool: DatabasePool

    public init(path: String) throws {
        self.path = path
        pool = try StateDatabase.open(path, migrator: Self.migrator())
        try StateAnchor.attach(pool, path: path, table: "jobs", what: "the job queue")  // lost history: 78
    }

    public var location: String { path }

    /// `CMO_STATE_DIR/jobs.sqlite`.
    public static func open(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SQLiteJobQueue {
        let dir = try StateDirectory.ensure(environment: environment)
        do { return try SQLiteJobQueue(path: dir + "/jobs.sqlite") } catch {
            throw StateDatabase.openFailure(error, "the job queue in \(dir)")
        }
    }

    /// The schema's history. Never edit a migration that shipped: add one.
    static func migrator() -> DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-jobs") { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS jobs (
                        id TEXT PRIMARY KEY NOT NULL,
                        name TEXT,
                        runs_dir TEXT NOT NULL,
                        status TEXT NOT NULL CHECK (status IN ('queued','running','sleeping','paused','awaiting_approval','done','failed','cancelled')),
                        options TEXT NOT NULL DEFAULT '[]',
                        token TEXT,
                        not_before REAL,
                        worker_pid INTEGER,
                        worker_started INTEGER,
                        message TEXT,
                        exit_status INTEGER,
                        starts INTEGER NOT NULL DEFAULT 0,
                        created_at REAL NOT NULL,
                        updated_at REAL NOT NULL);
                    CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created_at);
                    CREATE TABLE IF NOT EXISTS token_holds (
                        token TEXT PRIMARY KEY NOT NULL,
                        until REAL NOT NULL,
                        job_id TEXT NOT NULL,
                        reason TEXT NOT NULL);
                    CREATE TABLE IF NOT EXISTS workers (
                        pid INTEGER PRIMARY KEY NOT NULL,
                        started INTEGER,
                        concurrency INTEGER NOT NULL,
                        heartbeat REAL NOT NULL);
                    """)
        }
        return m
    }

    private static func row(_ r: Row) -> QueuedJob {
        var j = QueuedJob(id: r["id"], name: r["name"], runsDir: r["runs_dir"], status: QueuedJob.Status(rawValue: r["status"]) ?? .failed,
                          options: (try? JSONDecoder().decode([String].self, from: Data((r["options"] as String).utf8))) ?? [],
                          token: r["token"], createdAt: r["created_at"])
        j.notBefore = r["not_before"]
        j.workerPID = (r["worker_pid"] as Int64?).map { Int32(truncatingIfNeeded: $0) }
        j.workerStarted = (r["worker_started"] as Int64?).map { UInt64(bitPattern: $0) }
        j.message = r["message"]
        j.exitStatus = (r["exit_status"] as Int64?).map { Int32(truncatingIfNeeded: $0) }
        j.starts = r["starts"]
        j.updatedAt = r["updated_at"]
        return j
    }

    public func add(_ job: QueuedJob) throws {
        let options = String(decoding: try JSONEncoder().encode(job.options), as: UTF8.self)
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO jobs (id, name, runs_dir, status, options, token, not_before, message, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [job.id, job.name, job.runsDir, job.status.rawValue, options, job.token, job.notBefore, job.message, job.createdAt, job.updatedAt])
        }
    }

    public func job(_ id: String) throws -> QueuedJob? {
        try pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id]).map(Self.row) }
    }

    public func jobs(limit: Int?) throws -> [QueuedJob] {
        try pool.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM jobs ORDER BY created_at DESC, id DESC LIMIT ?", arguments: [limit ?? -1])
            return rows.map(Self.row).reversed()
        }
    }

    /// One machine's workers: `host` and `lease` do not apply (every worker's pid is checked here).
    public func claim(worker: Int32, host: String, started: UInt64?, now: Double, lease: Double, isAlive: (Int32, UInt64?) -> Bool) throws -> QueuedJob? {
        try pool.write { db in
            // A job whose worker died (kill -9) runs again: its state.json says where it stopped.
            for r in try Row.fetchAll(db, sql: "SELECT id, worker_pid, worker_started FROM jobs WHERE status = 'running'") {
                let pid = (r["worker_pid"] as Int64?).map { Int32(truncatingIfNeeded: $0) }
                let st = (r["worker_started"] as Int64?).map { UInt64(bitPattern: $0) }
                if let pid, isAlive(pid, st) { continue }
                try db.execute(sql: "UPDATE jobs SET status = 'queued', worker_pid = NULL, worker_started = NULL, message = 'its worker stopped; queued again', updated_at = ? WHERE id = ?",
                               arguments: [now, r["id"] as String])
            }
            guard let r = try Row.fetchOne(
                db,
                sql: """
                    SELECT * FROM jobs WHERE status = 'queued' OR (status = 'sleeping' AND COALESCE(not_before, 0) <= ?)
                    ORDER BY COALESCE(not_before, created_at), created_at, id LIMIT 1
                    """, arguments: [now])
            else { return nil }
            var job = Self.row(r)
            try db.execute(
                sql: "UPDATE jobs SET status = 'running', worker_pid = ?, worker_started = ?, starts = starts + 1, not_before = NULL, updated_at = ? WHERE id = ?",
                arguments: [worker, started.map { Int64(bitPattern: $0) }, now, job.id])
            job.status = .running
            job.workerPID = worker
            job.workerStarted = started
            job.starts += 1
            job.notBefore = nil
            return job
        }
    }

    @discardableResult
    public func change(_ id: String, to status: QueuedJob.Status, notBefore: Double?, message: String?, exitStatus: Int32?,
                       from: [QueuedJob.Status]?) throws -> Bool
    {
        try pool.write { db in
            var sql = """
                UPDATE jobs SET status = ?, not_before = ?, message = ?, exit_status = COALESCE(?, exit_status), updated_at = ?,
                worker_pid = CASE WHEN ? = 'running' THEN worker_pid END, worker_started = CASE WHEN ? = 'running' THEN worker_started END
                WHERE id = ?
                """
            var args: StatementArguments = [status.rawValue, notBefore, message, exitStatus.map { Int64($0) }, Date().timeIntervalSince1970,
                                            status.rawValue, status.rawValue, id]
            if let from, !from.isEmpty {
                sql += " AND status IN (" + from.map { _ in "?" }.joined(separator: ", ") + ")"
                for f in from { _ = args.append(contentsOf: [f.rawValue]) }
            }
            try db.execute(sql: sql, arguments: args)
            return db.changesCount > 0
        }
    }

    public func nextDue() throws -> Double? {
        try pool.read { db in try Double.fetchOne(db, sql: "SELECT MIN(not_before) FROM jobs WHERE status = 'sleeping'") }
    }

    public func holdToken(_ token: String, until: Double, by job: String, reason: String) throws {
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO token_holds (token, until, job_id, reason) VALUES (?, ?, ?, ?)
                    ON CONFLICT (token) DO UPDATE SET until = excluded.until, job_id = excluded.job_id, reason = excluded.reason
                    WHERE excluded.until > token_holds.until
                    """, arguments: [token, until, job, reason])
        }
    }

    public func tokenHold(_ token: String, now: Double) throws -> (until: Double, job: String, reason: String)? {
        try pool.read { db in
            guard let r = try Row.fetchOne(db, sql: "SELECT until, job_id, reason FROM token_holds WHERE token = ? AND until > ?", arguments: [token, now])
            else { return nil }
            return (r["until"], r["job_id"], r["reason"])
        }
    }

    public func heartbeat(worker: Int32, host: String, started: UInt64?, concurrency: Int, now: Double) throws {
        try pool.write { db in
            try db.execute(
                sql: "INSERT INTO workers (pid, started, concurrency, heartbeat) VALUES (?, ?, ?, ?) ON CONFLICT (pid) DO UPDATE SET started = excluded.started, concurrency = excluded.concurrency, heartbeat = excluded.heartbeat",
                arguments: [worker, started.map { Int64(bitPattern: $0) }, concurrency, now])
        }
    }

    public func removeWorker(_ pid: Int32, host: String) throws {
        try pool.write { db in try db.execute(sql: "DELETE FROM workers WHERE pid = ?", arguments: [pid]) }
    }

    public func liveWorkers(now: Double, within: Double, isAlive: (Int32, UInt64?) -> Bool) throws -> [JobWorker] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT pid, started FROM workers WHERE heartbeat >= ?", arguments: [now - within]).compactMap { r in
                let pid = Int32(truncatingIfNeeded: r["pid"] as Int64)
                return isAlive(pid, (r["started"] as Int64?).map { UInt64(bitPattern: $0) }) ? JobWorker(host: JobQueues.host, pid: pid) : nil
            }
        }
    }
}
