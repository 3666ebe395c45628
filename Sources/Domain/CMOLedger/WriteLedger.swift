import CMOBasics
import CMOContract
import CMOStorage
import Foundation

/// The write ledger: one row per intended external write, in `CMO_STATE_DIR/ledger.sqlite`, or in the
/// team database's `writes` table when `CMO_DATABASE_URL` is set (every machine of the team then shares
/// one ledger and one daily cap).
///
/// A writer claims a row (`intended`) before its request leaves the machine and records the outcome
/// (`sent`, `confirmed`, `failed`, …) before it reports the record on stdout. A row is keyed by the
/// write's idempotency key (for Instantly: `instantly:lead:<campaign id>:<lower-cased email>`), so a
/// re-run finds what an earlier run did, and a row left `intended` or `sent` by a crash tells the
/// writer to ask the provider whether the write landed before it writes again.
///
/// Several processes may use the ledger at once (SQLite: WAL, immediate transactions; PostgreSQL: an
/// advisory lock per service and target, rows locked `FOR UPDATE`). A row being written by a live
/// process is never claimed by another; a row whose owner died is.
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

    /// Where the ledger is, for messages: the SQLite file's path, or `PostgreSQL postgres://user@host/db`
    /// (never a password).
    public let path: String
    /// The backend that keeps the rows (SQLiteLedgerStorage.swift, PostgresLedgerStorage.swift).
    let storage: any LedgerStorage
    /// `host:pid` of this process.
    public let owner: String
    /// The run (job id) this process writes for.
    public let runID: String

    /// Opens (or creates) the ledger `environment` names: `CMO_STATE_DIR/ledger.sqlite`, or the `writes` table
    /// of the team database when `CMO_DATABASE_URL` is set (shared by every machine). Exit 78 when it cannot.
    public static func open(environment: [String: String], runID: String? = nil) throws -> WriteLedger {
        let run = runID ?? environment["CMO_JOB_ID"].flatMap { $0.isEmpty ? nil : $0 } ?? WriteLedger.newRunID()
        switch try StorageBackend.from(environment: environment) {
        case .sqlite(let dir):
            return try WriteLedger(path: dir + "/ledger.sqlite", runID: run)
        case .postgres(let url):
            let storage = try PostgresLedgerStorage(database: PostgresDatabase.shared(url, environment: environment))
            return WriteLedger(storage: storage, runID: run)
        }
    }

    /// The ledger `environment` names when it already holds something: nil for a state directory without a
    /// ledger file (a check creates nothing). The team database is always opened.
    public static func openIfPresent(environment: [String: String], runID: String) throws -> WriteLedger? {
        if case .sqlite(let dir) = try StorageBackend.from(environment: environment),
            !FileManager.default.fileExists(atPath: dir + "/ledger.sqlite")
        {
            return nil
        }
        return try open(environment: environment, runID: runID)
    }

    /// Opens (or creates) the SQLite ledger at `path`, checking its history against the state anchor.
    public convenience init(path: String, runID: String) throws {
        self.init(storage: try SQLiteLedgerStorage(path: path), runID: runID)
    }

    /// `owner` is this process unless a test stands in for another one.
    init(storage: any LedgerStorage, runID: String, owner: String = ProcessIdentity.owner) {
        self.storage = storage
        self.path = storage.location
        self.runID = runID
        self.owner = owner
    }

    /// The same ledger (same backend, same file or database) writing for another run: a stage that
    /// writes for several jobs in one process (hot replies) keeps one ledger per job.
    public func reopened(runID: String) -> WriteLedger {
        WriteLedger(storage: storage, runID: runID)
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
        return try storage.read { access in
            var found: [String: Row] = [:]
            for start in stride(from: 0, to: keys.count, by: 500) {
                for row in try access.rows(keys: Array(keys[start..<min(start + 500, keys.count)])) { found[row.key] = row }
            }
            return found
        }
    }

    /// Rows of one service and target (e.g. one campaign), optionally in some states.
    public func rows(service: String, target: String, states: [State]? = nil) throws -> [Row] {
        try storage.read { try $0.rows(service: service, target: target, states: states) }
    }

    /// The rows of `service` about `subject` (an email) in `state` whose key starts with `keyPrefix`, oldest
    /// first: every target (campaign) a person was written to.
    public func rows(service: String, subject: String, state: State, keyPrefix: String) throws -> [Row] {
        try storage.read { try $0.rows(service: service, subject: subject, state: state, keyPrefix: keyPrefix) }
    }

    /// The latest write of `service` to `subject` (an email) sent or confirmed on `since` or later, in any
    /// target but the row `except` (the write about to be made): when the person was last contacted.
    public func lastContact(service: String, subject: String, since: String, except key: String) throws -> Row? {
        try storage.read { try $0.lastContact(service: service, subject: subject, since: since, except: key) }
    }

    /// Writes of `service` to `target` counted against `day`'s cap: claimed, sent or confirmed that day.
    public func countToday(service: String, target: String, day: String) throws -> Int {
        try storage.read { try $0.countToday(service: service, target: target, day: day) }
    }

    /// Deferred writes of `service` to `target` eligible on or before `day` (and not older than `since`).
    public func eligibleDeferred(service: String, target: String, day: String, since: String) throws -> Int {
        try storage.read { try $0.eligibleDeferred(service: service, target: target, day: day, since: since) }
    }

    /// Deferred writes of `service` to `target`, all days.
    public func deferredCount(service: String, target: String) throws -> Int {
        try storage.read { try $0.deferredCount(service: service, target: target) }
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

    /// Claims rows for writes about to be sent, in one transaction that holds the targets' write lock
    /// (SQLite: the file's, BEGIN IMMEDIATE; PostgreSQL: one advisory lock per service and target, so two
    /// campaigns never wait on each other): a new key, or a row that is `failed`, `deferred`, `suppressed`
    /// (the writer checked the list again: the entry is gone), or left `intended`/`sent` by a process that
    /// is gone, becomes `intended` (attempts + 1, this run, `day`). A `confirmed` row, or one owned by
    /// another live process, is returned as held.
    ///
    /// Under a `cap`, an intent that is not a crash's leftover (`intended`/`sent`: its slot was spent)
    /// takes one of the day's slots: the intents of every process together never pass `cap.limit` writes
    /// (claimed, sent or confirmed) on `day`. Deferred writes now due are served first: a new write may
    /// not take a slot held for one. An intent past the cap comes back `overCap`, its row untouched.
    public func claim(_ intents: [Intent], day: String, cap: DailyCap? = nil, now: Date = Date()) throws -> [String: Claim] {
        guard !intents.isEmpty else { return [:] }
        return try storage.write(locks: Self.locks(intents.map { ($0.service, $0.target) })) { access in
            var result: [String: Claim] = [:]
            let t = now.timeIntervalSince1970
            // The day's count and the slots held for due deferrals, read inside this transaction.
            var used = 0
            var heldForDeferred = 0
            if let cap, let first = intents.first {
                used = try access.countToday(service: first.service, target: first.target, day: day)
                heldForDeferred = try access.eligibleDeferred(service: first.service, target: first.target, day: day, since: cap.deferredSince)
            }
            for intent in intents {
                let existing = try access.rowForUpdate(intent.key)
                var leftover = false
                if let existing {
                    switch existing.state {
                    case .confirmed:
                        result[intent.key] = .held(existing)
                        continue
                    case .intended, .sent:
                        if let o = existing.owner, o != owner, try isAlive(owner: o, access: access) {
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
                    try access.markIntended(key: intent.key, runID: runID, owner: owner, day: day, at: t)
                    result[intent.key] = .claimed(previous: existing)
                } else {
                    try access.insert(
                        Row(key: intent.key, service: intent.service, target: intent.target, subject: intent.subject, state: .intended,
                            runID: runID, day: day, attempts: 1, owner: owner, updatedAt: now))
                    result[intent.key] = .claimed(previous: nil)
                }
            }
            return result
        }
    }

    /// Defers writes to the first days after `day` whose deferrals to the target are fewer than `cap`, in
    /// one transaction holding the target's write lock, so writers deferring at once never book a day past
    /// the cap (the day's count is read and raised inside it). Intents of one service and target; returns
    /// each key's day.
    public func deferToOpenDays(_ intents: [Intent], after day: String, cap: Int, reason: String, now: Date = Date()) throws -> [String: String] {
        guard let first = intents.first else { return [:] }
        let t = now.timeIntervalSince1970
        let cap = max(1, cap)
        return try storage.write(locks: Self.locks(intents.map { ($0.service, $0.target) })) { access in
            var booked = try access.deferredByDay(service: first.service, target: first.target, after: day)
            var open = Self.day(day, plus: 1)
            var out: [String: String] = [:]
            for intent in intents {
                while booked[open, default: 0] >= cap { open = Self.day(open, plus: 1) }
                booked[open, default: 0] += 1
                out[intent.key] = open
                if try !access.markDeferred(key: intent.key, reason: reason, eligibleOn: open, runID: runID, at: t) {
                    try access.insert(
                        Row(key: intent.key, service: intent.service, target: intent.target, subject: intent.subject, state: .deferred,
                            reason: reason, runID: runID, eligibleOn: open, attempts: 0, owner: owner, updatedAt: now))
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
        let targets = outcomes.compactMap { intents[$0.key] }.map { ($0.service, $0.target) }
        try storage.write(locks: Self.locks(targets)) { access in
            for o in outcomes {
                if try access.markOutcome(o, runID: o.runID ?? runID, at: t) { continue }
                guard let intent = intents[o.key] else { continue }
                try access.insert(
                    Row(key: o.key, service: intent.service, target: intent.target, subject: intent.subject, state: o.state,
                        remoteID: o.remoteID, reason: o.reason, runID: o.runID ?? runID, eligibleOn: o.eligibleOn, attempts: 0, owner: owner,
                        updatedAt: now))
            }
        }
    }

    /// The latest write of `service` to any of `targets` by a process other than this one, and
    /// whether a row claimed since `claimedSince` is still `intended` (its requests may still be
    /// arriving): what a writer needs to keep its first second clear of a killed run's last one.
    public func lastWriteByOthers(service: String, targets: [String], claimedSince: Date) throws -> (at: Date, recentClaim: Bool)? {
        guard !targets.isEmpty else { return nil }
        return try storage.read { try $0.lastWriteByOthers(service: service, targets: targets, owner: owner, claimedSince: claimedSince) }
    }

    /// Counts of rows per state for one service and target.
    public func counts(service: String, target: String) throws -> [State: Int] {
        try storage.read { try $0.counts(service: service, target: target) }
    }

    // MARK: - Helpers

    /// The write locks a transaction over these (service, target) pairs takes: one per pair, in a fixed
    /// order so two transactions never wait on each other crosswise.
    static func locks(_ targets: [(String, String)]) -> [String] {
        Set(targets.map { "ledger:" + $0.0 + ":" + $0.1 }).sorted()
    }

    /// Whether the process named by `owner` (`host:pid`) still runs. On this host: its pid. On another
    /// host: what the backend can tell (the team database sees whether that process holds a connection;
    /// a SQLite file, shared only by accident, cannot tell and takes it to be alive).
    func isAlive(owner: String, access: any LedgerAccess) throws -> Bool {
        guard let colon = owner.lastIndex(of: ":"), let pid = pid_t(owner[owner.index(after: colon)...]) else { return false }
        guard String(owner[..<colon]) == ProcessIdentity.host else { return try access.isConnected(owner: owner) }
        if pid == getpid() { return true }
        return ProcessLiveness.isRunning(pid)
    }
}

/// How the ledger's shared logic (claims, caps, deferrals, outcomes: `WriteLedger`) reads and writes rows,
/// inside one read or one write transaction of a backend. Every call is one statement of the backend's SQL.
protocol LedgerAccess {
    /// The rows of these keys that exist (at most 500 keys).
    func rows(keys: [String]) throws -> [WriteLedger.Row]
    /// Rows of one service and target, optionally in some states, oldest first.
    func rows(service: String, target: String, states: [WriteLedger.State]?) throws -> [WriteLedger.Row]
    /// Rows of `service` about `subject` in `state` whose key starts with `keyPrefix`, oldest first.
    func rows(service: String, subject: String, state: WriteLedger.State, keyPrefix: String) throws -> [WriteLedger.Row]
    /// See `WriteLedger.lastContact`.
    func lastContact(service: String, subject: String, since: String, except key: String) throws -> WriteLedger.Row?
    /// Rows of the target claimed, sent or confirmed on `day`.
    func countToday(service: String, target: String, day: String) throws -> Int
    /// Deferred rows of the target due on or before `day` and not before `since`.
    func eligibleDeferred(service: String, target: String, day: String, since: String) throws -> Int
    /// Deferred rows of the target.
    func deferredCount(service: String, target: String) throws -> Int
    /// Deferred rows of the target per `eligible_on` day after `after`.
    func deferredByDay(service: String, target: String, after: String) throws -> [String: Int]
    /// See `WriteLedger.lastWriteByOthers`; `owner` is this process.
    func lastWriteByOthers(service: String, targets: [String], owner: String, claimedSince: Date) throws -> (at: Date, recentClaim: Bool)?
    /// Rows per state of the target.
    func counts(service: String, target: String) throws -> [WriteLedger.State: Int]
    /// Whether `owner` (`host:pid` on another host) is alive, as far as the backend can tell.
    func isConnected(owner: String) throws -> Bool

    /// One row, held against other writers until the transaction ends (PostgreSQL: `FOR UPDATE`).
    func rowForUpdate(_ key: String) throws -> WriteLedger.Row?
    /// A new row; `row.updatedAt` is also its creation time.
    func insert(_ row: WriteLedger.Row) throws
    /// An existing row claimed: `intended`, this run and owner, `day`, attempts + 1, no `eligible_on`.
    func markIntended(key: String, runID: String, owner: String, day: String, at: Double) throws
    /// An existing row deferred to `eligibleOn`; false when there is no such row.
    func markDeferred(key: String, reason: String, eligibleOn: String, runID: String, at: Double) throws -> Bool
    /// An outcome recorded on an existing row (the remote id kept when the outcome has none); false when
    /// there is no such row.
    func markOutcome(_ outcome: WriteLedger.Outcome, runID: String, at: Double) throws -> Bool
    /// A rebuilt row (`LedgerHistory`) confirmed with what the service holds; `day` kept when nil.
    func markRebuilt(key: String, remoteID: String, reason: String, day: String?, at: Double) throws
}

/// Where the ledger's rows are kept: a SQLite file of the state directory, or the team database.
protocol LedgerStorage: Sendable {
    /// For messages: the file's path, or the database without its password.
    var location: String { get }
    /// The state directory whose anchor tracks the ledger (SQLite); nil for the team database.
    var anchoredDirectory: String? { get }
    /// Runs `body` over a consistent read.
    func read<T>(_ body: (any LedgerAccess) throws -> T) throws -> T
    /// Runs `body` in one write transaction holding the named write locks (SQLite: the whole file's;
    /// PostgreSQL: one advisory lock per name); re-run from its start when the backend retries it.
    @discardableResult
    func write<T>(locks: [String], _ body: (any LedgerAccess) throws -> T) throws -> T
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
