import CMOBasics
import CMOContract
import CMOStorage
import Foundation
import GRDB

/// The write ledger: one row per intended external write, in `CMO_STATE_DIR/ledger.sqlite`.
///
/// A writer claims a row (`intended`) before its request leaves the machine and records the outcome
/// (`sent`, `confirmed`, `failed`, …) before it reports the record on stdout. A row is keyed by the
/// write's idempotency key (for Instantly: `instantly:lead:<campaign id>:<lower-cased email>`), so a
/// re-run finds what an earlier run did, and a row left `intended` or `sent` by a crash tells the
/// writer to ask the provider whether the write landed before it writes again.
///
/// Several processes may use the ledger at once (WAL, immediate transactions). A row being written by
/// a live process on this machine is never claimed by another; a row whose owner died is.
public final class WriteLedger: Sendable {
    /// Where a write stands.
    public enum State: String, Sendable, CaseIterable {
        /// Claimed: the request is about to leave (or left) the machine; its outcome is unknown.
        case intended
        /// The provider answered; the write's result is not yet tied to a remote id.
        case sent
        /// Done: the provider holds it (the remote id is known, or it was already there).
        case confirmed
        /// The provider refused it, or it could not be sent; `reason` says why.
        case failed
        /// Never sent: the person is on the suppression list.
        case suppressed
        /// Not sent yet: over a pacing cap; `eligible_on` says from which day.
        case deferred
    }

    /// One row.
    public struct Row: Sendable, Equatable {
        public var key: String
        public var service: String
        public var target: String
        public var subject: String
        public var state: State
        public var remoteID: String?
        public var reason: String?
        /// The run (job id) that last wrote the row.
        public var runID: String?
        /// The day (YYYY-MM-DD, UTC) the write counts against a daily cap.
        public var day: String?
        /// For `deferred`: the first day it may be sent.
        public var eligibleOn: String?
        public var attempts: Int
        /// `host:pid` of the process that claimed it.
        public var owner: String?
        public var updatedAt: Date
    }

    /// What a writer is about to do.
    public struct Intent: Sendable {
        public var key: String
        public var service: String
        public var target: String
        public var subject: String
        public init(key: String, service: String, target: String, subject: String) {
            self.key = key
            self.service = service
            self.target = target
            self.subject = subject
        }
    }

    /// An outcome to record.
    public struct Outcome: Sendable {
        public var key: String
        public var state: State
        public var remoteID: String?
        public var reason: String?
        public var eligibleOn: String?
        /// The run the write belongs to, when not this one (a write an earlier job's interrupted run made,
        /// found by lookup: it stays that job's).
        public var runID: String?
        public init(
            key: String, state: State, remoteID: String? = nil, reason: String? = nil, eligibleOn: String? = nil, runID: String? = nil
        ) {
            self.key = key
            self.state = state
            self.remoteID = remoteID
            self.reason = reason
            self.eligibleOn = eligibleOn
            self.runID = runID
        }
    }

    public let path: String
    private let pool: DatabasePool
    /// `host:pid` of this process.
    public let owner: String
    /// The run (job id) this process writes for.
    public let runID: String

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

    /// Opens (or creates) the ledger of `environment`'s state directory. Exit 78 when it cannot.
    public static func open(environment: [String: String], runID: String? = nil) throws -> WriteLedger {
        let dir = try StateDirectory.ensure(environment: environment)
        let run = runID ?? environment["CMO_JOB_ID"].flatMap { $0.isEmpty ? nil : $0 } ?? WriteLedger.newRunID()
        return try WriteLedger(path: dir + "/ledger.sqlite", runID: run)
    }

    public init(path: String, runID: String) throws {
        self.path = path
        self.runID = runID
        owner = WriteLedger.hostName() + ":" + String(getpid())
        do {
            pool = try StateDatabase.open(path, migrator: WriteLedger.migrator)
        } catch {
            throw StateDatabase.openFailure(error, "the write ledger '\(path)'")
        }
        try StateAnchor.attach(pool, path: path, table: "writes", what: "the write ledger")  // lost history: 78 (LedgerHistory.swift)
    }

    /// A fresh run id: `run-YYYYMMDD-HHMMSS-xxxxxx`.
    public static func newRunID(now: Date = Date()) -> String {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let stamp = Timestamp.compact(now).dropLast().replacingOccurrences(of: "T", with: "-")
        return "run-\(stamp)-\(suffix)"
    }

    // MARK: - Days

    /// The day (YYYY-MM-DD, UTC) a write counts against a daily cap.
    public static func day(_ date: Date) -> String { Timestamp.day(date) }

    /// `day` moved by `n` days.
    public static func day(_ day: String, plus n: Int) -> String {
        guard let t = Timestamp.parseDay(day) else { return day }
        return Timestamp.day(Date(timeIntervalSince1970: t + Double(n) * 86_400))
    }

    // MARK: - Reading

    /// The rows for `keys` that exist.
    public func rows(_ keys: [String]) throws -> [String: Row] {
        guard !keys.isEmpty else { return [:] }
        return try pool.read { db in
            var found: [String: Row] = [:]
            for slice in stride(from: 0, to: keys.count, by: 500).map({ keys[$0..<min($0 + 500, keys.count)] }) {
                let marks = Array(repeating: "?", count: slice.count).joined(separator: ",")
                let rows = try GRDB.Row.fetchAll(
                    db, sql: "SELECT * FROM writes WHERE key IN (\(marks))", arguments: StatementArguments(Array(slice)))
                for r in rows {
                    let row = Self.row(r)
                    found[row.key] = row
                }
            }
            return found
        }
    }

    /// Rows of one service and target (e.g. one campaign), optionally in some states.
    public func rows(service: String, target: String, states: [State]? = nil) throws -> [Row] {
        try pool.read { db in
            var sql = "SELECT * FROM writes WHERE service = ? AND target = ?"
            var args: [DatabaseValueConvertible] = [service, target]
            if let states {
                sql += " AND state IN (\(states.map { _ in "?" }.joined(separator: ",")))"
                args += states.map(\.rawValue)
            }
            return try GRDB.Row.fetchAll(db, sql: sql + " ORDER BY created_at, key", arguments: StatementArguments(args)).map(Self.row)
        }
    }

    /// The rows of `service` about `subject` (an email) in `state` whose key starts with `keyPrefix`, oldest
    /// first: every target (campaign) a person was written to.
    public func rows(service: String, subject: String, state: State, keyPrefix: String) throws -> [Row] {
        try pool.read { db in
            try GRDB.Row.fetchAll(
                db,
                sql: "SELECT * FROM writes WHERE service = ? AND subject = ? AND state = ? AND substr(key, 1, ?) = ? ORDER BY created_at, target",
                arguments: [service, subject, state.rawValue, keyPrefix.utf8.count, keyPrefix]
            ).map(Self.row)
        }
    }

    /// The latest write of `service` to `subject` (an email) sent or confirmed on `since` or later, in any
    /// target but the row `except` (the write about to be made): when the person was last contacted.
    public func lastContact(service: String, subject: String, since: String, except key: String) throws -> Row? {
        try pool.read { db in
            try GRDB.Row.fetchOne(
                db,
                sql: "SELECT * FROM writes WHERE service = ? AND subject = ? AND state IN ('sent','confirmed') AND day >= ? AND key != ? "
                    + "ORDER BY day DESC LIMIT 1",
                arguments: [service, subject, since, key]
            ).map(Self.row)
        }
    }

    /// Writes of `service` to `target` counted against `day`'s cap: claimed, sent or confirmed that day.
    public func countToday(service: String, target: String, day: String) throws -> Int {
        try pool.read { db in
            try Int.fetchOne(
                db,
                sql: "SELECT COUNT(*) FROM writes WHERE service = ? AND target = ? AND day = ? AND state IN ('intended','sent','confirmed')",
                arguments: [service, target, day]) ?? 0
        }
    }

    /// Deferred writes of `service` to `target` eligible on or before `day` (and not older than `since`).
    public func eligibleDeferred(service: String, target: String, day: String, since: String) throws -> Int {
        try pool.read { db in
            try Int.fetchOne(
                db,
                sql: "SELECT COUNT(*) FROM writes WHERE service = ? AND target = ? AND state = 'deferred' AND eligible_on <= ? AND eligible_on >= ?",
                arguments: [service, target, day, since]) ?? 0
        }
    }

    /// Deferred writes of `service` to `target`, all days.
    public func deferredCount(service: String, target: String) throws -> Int {
        try pool.read { db in
            try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM writes WHERE service = ? AND target = ? AND state = 'deferred'",
                arguments: [service, target]) ?? 0
        }
    }

    // MARK: - Writing

    /// What `claim` found for one intent.
    public enum Claim: Sendable, Equatable {
        /// The row is now `intended`, owned by this process. `previous` is what was there (nil: new).
        case claimed(previous: Row?)
        /// Not claimed: the row says the write is done, suppressed, or another live process owns it.
        case held(Row)
        /// Not claimed: the day's cap is spent (by this process or any other). `previous` is what was there.
        case overCap(previous: Row?)
    }

    /// A daily cap on new writes of a service to a target (Instantly's new leads a day for a campaign),
    /// held by `claim` for every process at once: the count of the day's writes is read and raised in
    /// the claim's own transaction.
    public struct DailyCap: Sendable, Equatable {
        public var limit: Int
        /// Deferred writes count as held for from `since` on (older ones are not waited for).
        public var deferredSince: String

        public init(limit: Int, deferredSince: String) {
            self.limit = limit
            self.deferredSince = deferredSince
        }
    }

    /// Claims rows for writes about to be sent, in one immediate transaction: a new key, or a row
    /// that is `failed`, `deferred`, `suppressed` (the writer checked the list again: the entry is
    /// gone), or left `intended`/`sent` by a process that is gone, becomes `intended` (attempts + 1,
    /// this run, `day`). A `confirmed` row, or one owned by another live process, is returned as held.
    ///
    /// Under a `cap`, an intent that is not a crash's leftover (`intended`/`sent`: its slot was spent)
    /// takes one of the day's slots: the intents of every process together never pass `cap.limit` writes
    /// (claimed, sent or confirmed) on `day`. Deferred writes now due are served first: a new write may
    /// not take a slot held for one. An intent past the cap comes back `overCap`, its row untouched.
    public func claim(_ intents: [Intent], day: String, cap: DailyCap? = nil, now: Date = Date()) throws -> [String: Claim] {
        guard !intents.isEmpty else { return [:] }
        return try immediate { db in
            var result: [String: Claim] = [:]
            let t = now.timeIntervalSince1970
            // The day's count and the slots held for due deferrals, read inside this transaction.
            var used = 0
            var heldForDeferred = 0
            if let cap, let first = intents.first {
                used =
                    try Int.fetchOne(
                        db,
                        sql: "SELECT COUNT(*) FROM writes WHERE service = ? AND target = ? AND day = ? AND state IN ('intended','sent','confirmed')",
                        arguments: [first.service, first.target, day]) ?? 0
                heldForDeferred =
                    try Int.fetchOne(
                        db,
                        sql: """
                            SELECT COUNT(*) FROM writes WHERE service = ? AND target = ? AND state = 'deferred'
                            AND eligible_on <= ? AND eligible_on >= ?
                            """,
                        arguments: [first.service, first.target, day, cap.deferredSince]) ?? 0
            }
            for intent in intents {
                let existing = try GRDB.Row.fetchOne(db, sql: "SELECT * FROM writes WHERE key = ?", arguments: [intent.key]).map(Self.row)
                var leftover = false
                if let existing {
                    switch existing.state {
                    case .confirmed:
                        result[intent.key] = .held(existing)
                        continue
                    case .intended, .sent:
                        if let o = existing.owner, o != owner, Self.isAlive(owner: o) {
                            result[intent.key] = .held(existing)
                            continue
                        }
                        leftover = true
                    case .failed, .deferred, .suppressed:
                        break
                    }
                }
                if let cap, !leftover {
                    let due = existing.map { $0.state == .deferred && ($0.eligibleOn ?? "") <= day && ($0.eligibleOn ?? "") >= cap.deferredSince } ?? false
                    let room = cap.limit - used - (due ? 0 : heldForDeferred)
                    guard room > 0 else {
                        result[intent.key] = .overCap(previous: existing)
                        continue
                    }
                    used += 1
                    if due { heldForDeferred -= 1 }
                }
                if let existing {
                    try db.execute(
                        sql: """
                            UPDATE writes SET state = 'intended', run_id = ?, owner = ?, day = ?, attempts = attempts + 1,
                                eligible_on = NULL, updated_at = ? WHERE key = ?
                            """,
                        arguments: [runID, owner, day, t, intent.key])
                    result[intent.key] = .claimed(previous: existing)
                } else {
                    try db.execute(
                        sql: """
                            INSERT INTO writes (key, service, target, subject, state, run_id, owner, day, attempts, created_at, updated_at)
                            VALUES (?, ?, ?, ?, 'intended', ?, ?, ?, 1, ?, ?)
                            """,
                        arguments: [intent.key, intent.service, intent.target, intent.subject, runID, owner, day, t, t])
                    result[intent.key] = .claimed(previous: nil)
                }
            }
            return result
        }
    }

    /// Defers writes to the first days after `day` whose deferrals to the target are fewer than `cap`, in
    /// one transaction, so writers deferring at once never book a day past the cap (the day's count is
    /// read and raised inside it). Intents of one service and target; returns each key's day.
    public func deferToOpenDays(_ intents: [Intent], after day: String, cap: Int, reason: String, now: Date = Date()) throws -> [String: String] {
        guard let first = intents.first else { return [:] }
        let t = now.timeIntervalSince1970
        let cap = max(1, cap)
        return try immediate { db in
            var booked: [String: Int] = [:]
            for r in try GRDB.Row.fetchAll(
                db,
                sql: """
                    SELECT eligible_on, COUNT(*) AS n FROM writes
                    WHERE service = ? AND target = ? AND state = 'deferred' AND eligible_on > ? GROUP BY eligible_on
                    """,
                arguments: [first.service, first.target, day])
            {
                if let d: String = r["eligible_on"] { booked[d] = r["n"] }
            }
            var open = Self.day(day, plus: 1)
            var out: [String: String] = [:]
            for intent in intents {
                while booked[open, default: 0] >= cap { open = Self.day(open, plus: 1) }
                booked[open, default: 0] += 1
                out[intent.key] = open
                try db.execute(
                    sql: "UPDATE writes SET state = 'deferred', reason = ?, eligible_on = ?, run_id = ?, updated_at = ? WHERE key = ?",
                    arguments: [reason, open, runID, t, intent.key])
                if db.changesCount == 0 {
                    try db.execute(
                        sql: """
                            INSERT INTO writes (key, service, target, subject, state, reason, run_id, eligible_on, attempts, owner, created_at, updated_at)
                            VALUES (?, ?, ?, ?, 'deferred', ?, ?, ?, 0, ?, ?, ?)
                            """,
                        arguments: [intent.key, intent.service, intent.target, intent.subject, reason, runID, open, owner, t, t])
                }
            }
            return out
        }
    }

    /// Records outcomes of rows (creating rows for keys not yet in the ledger, e.g. a suppressed or
    /// deferred write that was never claimed), in one transaction. `intents` supplies the columns of
    /// new rows.
    public func record(_ outcomes: [Outcome], intents: [String: Intent] = [:], now: Date = Date()) throws {
        guard !outcomes.isEmpty else { return }
        let t = now.timeIntervalSince1970
        try immediate { db in
            for o in outcomes {
                try db.execute(
                    sql: """
                        UPDATE writes SET state = ?, remote_id = COALESCE(?, remote_id), reason = ?, eligible_on = ?,
                            run_id = ?, updated_at = ?
                        WHERE key = ?
                        """,
                    arguments: [o.state.rawValue, o.remoteID, o.reason, o.eligibleOn, o.runID ?? runID, t, o.key])
                if db.changesCount == 0, let intent = intents[o.key] {
                    try db.execute(
                        sql: """
                            INSERT INTO writes (key, service, target, subject, state, remote_id, reason, run_id, eligible_on,
                                attempts, owner, created_at, updated_at)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)
                            """,
                        arguments: [
                            o.key, intent.service, intent.target, intent.subject, o.state.rawValue, o.remoteID, o.reason, o.runID ?? runID,
                            o.eligibleOn, owner, t, t,
                        ])
                }
            }
        }
    }

    /// The latest write of `service` to any of `targets` by a process other than this one, and
    /// whether a row claimed since `claimedSince` is still `intended` (its requests may still be
    /// arriving): what a writer needs to keep its first second clear of a killed run's last one.
    public func lastWriteByOthers(service: String, targets: [String], claimedSince: Date) throws -> (at: Date, recentClaim: Bool)? {
        guard !targets.isEmpty else { return nil }
        return try pool.read { db in
            let marks = targets.map { _ in "?" }.joined(separator: ",")
            let args: [DatabaseValueConvertible] = [claimedSince.timeIntervalSince1970, service] + targets + [owner]
            guard
                let r = try GRDB.Row.fetchOne(
                    db,
                    sql: """
                        SELECT MAX(updated_at) AS last, MAX(state = 'intended' AND updated_at > ?) AS recent FROM writes
                        WHERE service = ? AND target IN (\(marks)) AND (owner IS NULL OR owner != ?)
                        """, arguments: StatementArguments(args)),
                let last: Double = r["last"]
            else { return nil }
            return (Date(timeIntervalSince1970: last), (r["recent"] as Int?) == 1)
        }
    }

    /// Counts of rows per state for one service and target.
    public func counts(service: String, target: String) throws -> [State: Int] {
        try pool.read { db in
            var counts: [State: Int] = [:]
            for r in try GRDB.Row.fetchAll(
                db, sql: "SELECT state, COUNT(*) AS n FROM writes WHERE service = ? AND target = ? GROUP BY state",
                arguments: [service, target])
            {
                if let s = State(rawValue: r["state"]) { counts[s] = r["n"] }
            }
            return counts
        }
    }

    // MARK: - Helpers

    /// A write transaction that takes the write lock at its start (`StateDatabase.immediate`).
    private func immediate<T>(_ body: (Database) throws -> T) throws -> T {
        try StateDatabase.immediate(pool, body)
    }

    private static func row(_ r: GRDB.Row) -> Row {
        Row(
            key: r["key"], service: r["service"], target: r["target"], subject: r["subject"],
            state: State(rawValue: r["state"]) ?? .failed, remoteID: r["remote_id"], reason: r["reason"], runID: r["run_id"],
            day: r["day"], eligibleOn: r["eligible_on"], attempts: r["attempts"], owner: r["owner"],
            updatedAt: Date(timeIntervalSince1970: r["updated_at"]))
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether the process named by `owner` (`host:pid`) still runs. A process on another host is
    /// taken to be alive (it cannot be checked from here).
    static func isAlive(owner: String) -> Bool {
        guard let colon = owner.lastIndex(of: ":"), let pid = pid_t(owner[owner.index(after: colon)...]) else { return false }
        guard String(owner[..<colon]) == hostName() else { return true }
        if pid == getpid() { return true }
        return ProcessLiveness.isRunning(pid)
    }
}

/// A test hook that kills the process at a named instant of a write, to prove that a crash there
/// leaves no duplicate and no gap: `CMO_CRASH_AT=after-send` (the first time), or `after-send:3`
/// (the third time). Instants: `before-send` (rows claimed, request not sent), `after-send` (the
/// provider answered, nothing recorded), `after-record` (recorded, not yet on stdout).
public enum CrashHook {
    nonisolated(unsafe) private static var counts: [String: Int] = [:]
    private static let spec: (point: String, nth: Int)? = {
        guard let value = ProcessInfo.processInfo.environment["CMO_CRASH_AT"], !value.isEmpty else { return nil }
        let parts = value.split(separator: ":", maxSplits: 1)
        return (String(parts[0]), parts.count > 1 ? Int(parts[1]) ?? 1 : 1)
    }()

    /// Kills the process with SIGKILL when `CMO_CRASH_AT` names this instant (and its count is reached).
    public static func point(_ name: String) {
        guard let spec, spec.point == name else { return }
        counts[name, default: 0] += 1
        if counts[name]! >= spec.nth { kill(getpid(), SIGKILL) }
    }
}
