import CMOBasics
import CMOContract
import Foundation
import GRDB

/// Where `cmo-hooks` keeps what Instantly said happened (docs/contracts.md, issue 28): each event once
/// (by `HookEvent.key`), its raw payload for re-processing, and per-source cursors. The seam: the
/// receiver, the catch-up and whatever acts on events (suppression, stop-on-reply, the report) go
/// through this protocol, never through SQL.
public protocol HookEventStore: AnyObject, Sendable {
    /// Where the events are, for logs and the report: the SQLite file's path, or `PostgreSQL postgres://…`
    /// (never a password).
    var location: String { get }
    /// Stores `event` with its raw `payload` when no event with its key is stored, and commits before
    /// returning. Returns true when it was new, false for a duplicate (nothing written).
    func insertIfNew(_ event: HookEvent, payload: [UInt8]) throws -> Bool
    /// The stored events whose timestamp is at or after `since` (ISO 8601; nil: all), oldest first.
    func events(since: String?, limit: Int?) throws -> [HookEvent]
    /// The events of some campaigns whose timestamp is at or after `since` (ISO 8601; nil: all), oldest first.
    func events(campaigns: Set<String>, since: String?) throws -> [HookEvent]
    /// The events stored after the one with sequence number `after`, in the order they were stored, with
    /// their numbers (the numbers only grow: nothing is deleted). A consumer's cursor is such a number:
    /// unlike a timestamp it also covers an event a catch-up stores late with an older timestamp.
    func events(afterSequence after: Int64, limit: Int) throws -> [(sequence: Int64, event: HookEvent)]
    /// How many events there are by campaign, variant and outcome (one campaign's when `campaign` is set).
    func counts(campaign: String?) throws -> [HookEventCount]
    /// The newest event timestamp stored (as Instantly wrote it), nil when the store is empty.
    func newestTimestamp() throws -> String?
    /// The raw payload stored with an event (capped: see `SQLiteHookEventStore.maxPayloadBytes`).
    func payload(key: String) throws -> [UInt8]?
    /// A source's bookmark (the catch-up's last run, a consumer's last processed event), nil when unset.
    func cursor(_ source: String) throws -> String?
    /// Sets a source's bookmark.
    func setCursor(_ source: String, to value: String) throws
    /// How many events are stored.
    func count() throws -> Int
}

/// One row of `HookEventStore.counts`.
public struct HookEventCount: Sendable, Equatable {
    public var campaignID: String?
    public var variant: Int?
    /// `HookEvent.Outcome`'s raw value, nil for events that are only kept (opens, clicks, unknown types).
    public var outcome: String?
    public var count: Int

    public init(campaignID: String?, variant: Int?, outcome: String?, count: Int) {
        self.campaignID = campaignID
        self.variant = variant
        self.outcome = outcome
        self.count = count
    }
}

/// The one encoding of a `HookEvent` as an NDJSON line (sorted keys), the same on stdout and in the store.
public enum HookEventJSON {
    public static func encode(_ event: HookEvent) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(event))
    }

    public static func decode(_ bytes: [UInt8]) throws -> HookEvent {
        try JSONDecoder().decode(HookEvent.self, from: Data(bytes))
    }
}

/// Opens the event store where the environment's storage backend keeps it (`StorageBackend`), so no
/// caller names the backend: the team's PostgreSQL database when `CMO_DATABASE_URL` names one, else
/// `hooks.sqlite` in the state directory.
public enum HookEventStores {
    /// The store of `environment`, created when missing. A failure says which backend it was, never a
    /// password: the database unreachable is 69, refused 78; a file that cannot be opened 78 (a full disk 74).
    public static func open(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any HookEventStore {
        switch try StorageBackend.from(environment: environment) {
        case .sqlite(let directory):
            return try SQLiteHookEventStore.open(path: directory + "/hooks.sqlite")
        case .postgres(let url):
            let backend = StorageBackend.postgres(url)
            do {
                return try PostgresHookEventStore(database: PostgresDatabase.shared(url, environment: environment), location: "\(backend)")
            } catch let failure as StageFailure {
                // It names the database already (without its password).
                throw StageFailure(failure.exitStatus, "the event store: \(failure.message)")
            } catch {
                throw StageFailure(.config, "cannot open the event store (\(backend)): \(PostgresDatabase.reason(error))")
            }
        }
    }

    /// The store of `environment` for a reader that must not create one: with SQLite, the file when it
    /// exists; with PostgreSQL, the database (its tables are made when missing: an empty store). Nil when
    /// there is none or it cannot be opened.
    public static func existing(environment: [String: String] = ProcessInfo.processInfo.environment) -> (any HookEventStore)? {
        guard let path = sqlitePath(environment: environment) else { return try? open(environment: environment) }
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try? SQLiteHookEventStore.open(path: path)
    }

    /// The SQLite file the store of `environment` is in (which may not exist yet), nil when
    /// `CMO_DATABASE_URL` names a team database. Creates no directory.
    public static func sqlitePath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let raw = (environment["CMO_DATABASE_URL"] ?? "").trimmingCharacters(in: .whitespaces)
        guard raw.isEmpty || raw.hasPrefix("sqlite:") else { return nil }
        var env = environment
        if raw.hasPrefix("sqlite://"), raw.count > "sqlite://".count { env["CMO_STATE_DIR"] = String(raw.dropFirst("sqlite://".count)) }
        return SQLiteHookEventStore.path(environment: env)
    }
}

/// `HookEventStore` in `$CMO_STATE_DIR/hooks.sqlite` (WAL; several processes may write at once: a
/// `serve` and a `catch-up` merge through the key's primary-key constraint inside BEGIN IMMEDIATE).
public final class SQLiteHookEventStore: HookEventStore, @unchecked Sendable {
    /// Largest raw payload stored as it came; a larger one is stored with its long strings cut
    /// (still JSON, so it can be re-read), and `payload_cut` set.
    public static let maxPayloadBytes = 64 * 1024
    /// Where a long string of an over-size payload is cut, in characters.
    static let cutStringsTo = 2000

    public let path: String
    private let pool: DatabasePool

    /// The file's path.
    public var location: String { path }

    /// The store's file for this environment: `<state dir>/hooks.sqlite`.
    public static func path(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        StateDirectory.path(environment: environment) + "/hooks.sqlite"
    }

    /// Opens the store of `CMO_STATE_DIR`, creating the directory and the file when missing (78 when it
    /// cannot be opened, 74 on a full disk).
    public static func open(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SQLiteHookEventStore {
        _ = try StateDirectory.ensure(environment: environment)
        return try open(path: path(environment: environment))
    }

    /// Opens the store in the SQLite file at `path` (created when missing).
    public static func open(path: String) throws -> SQLiteHookEventStore {
        do {
            let pool = try StateDatabase.open(path, migrator: migrator)
            let store = SQLiteHookEventStore(path: path, pool: pool)
            _ = try store.count()  // a file that opens but is not this store fails here, not on first use
            return store
        } catch {
            throw StateDatabase.openFailure(error, "the event store '\(path)'")
        }
    }

    private init(path: String, pool: DatabasePool) {
        self.path = path
        self.pool = pool
    }

    private static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1 hook events") { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS hook_events (
                        key TEXT PRIMARY KEY NOT NULL,
                        event_type TEXT NOT NULL,
                        outcome TEXT,
                        timestamp TEXT NOT NULL,
                        at REAL,
                        campaign_id TEXT,
                        variant INTEGER,
                        lead_email TEXT,
                        source TEXT NOT NULL,
                        received_at TEXT NOT NULL,
                        record TEXT NOT NULL,
                        payload TEXT NOT NULL,
                        payload_cut INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE INDEX IF NOT EXISTS hook_events_at ON hook_events(at);
                    CREATE INDEX IF NOT EXISTS hook_events_campaign ON hook_events(campaign_id, variant, outcome);
                    CREATE INDEX IF NOT EXISTS hook_events_lead ON hook_events(lead_email);
                    CREATE TABLE IF NOT EXISTS hook_cursors (
                        source TEXT PRIMARY KEY NOT NULL,
                        value TEXT NOT NULL,
                        updated_at TEXT NOT NULL
                    );
                    """)
        }
        return m
    }

    public func insertIfNew(_ event: HookEvent, payload: [UInt8]) throws -> Bool {
        let record = String(decoding: try HookEventJSON.encode(event), as: UTF8.self)
        let (stored, cut) = Self.capped(payload)
        return try StateDatabase.immediate(pool) { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM hook_events WHERE key = ?", arguments: [event.key]) == true {
                return false
            }
            try db.execute(
                sql: """
                    INSERT INTO hook_events (key, event_type, outcome, timestamp, at, campaign_id, variant, lead_email, source,
                        received_at, record, payload, payload_cut)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    event.key, event.eventType, event.outcome?.rawValue, event.timestamp, Timestamp.parse(event.timestamp),
                    event.campaignID, event.variant, event.leadEmail, event.source, event.receivedAt, record, stored, cut,
                ])
            return true
        }
    }

    public func events(campaigns: Set<String>, since: String?) throws -> [HookEvent] {
        guard !campaigns.isEmpty else { return [] }
        var sql = "SELECT record FROM hook_events WHERE campaign_id IN (\(campaigns.map { _ in "?" }.joined(separator: ",")))"
        var arguments = StatementArguments(campaigns.sorted())
        if let since {
            guard let t = Timestamp.parse(since) else { throw StageFailure(.usage, "'\(since)' is not an ISO 8601 time") }
            sql += " AND at >= ?"
            arguments += [t]
        }
        let rows: [String] = try pool.read { db in try String.fetchAll(db, sql: sql + " ORDER BY at, rowid", arguments: arguments) }
        return try rows.map { try HookEventJSON.decode(Array($0.utf8)) }
    }

    public func events(afterSequence after: Int64, limit: Int) throws -> [(sequence: Int64, event: HookEvent)] {
        let rows = try pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT rowid, record FROM hook_events WHERE rowid > ? ORDER BY rowid LIMIT ?", arguments: [after, limit])
        }
        return try rows.map { r in
            let record: String = r[1]
            return (r[0], try HookEventJSON.decode(Array(record.utf8)))
        }
    }

    public func events(since: String?, limit: Int?) throws -> [HookEvent] {
        let rows: [String] = try pool.read { db in
            var sql = "SELECT record FROM hook_events"
            var arguments: StatementArguments = []
            if let since {
                guard let t = Timestamp.parse(since) else { throw StageFailure(.usage, "'\(since)' is not an ISO 8601 time") }
                sql += " WHERE at >= ?"
                arguments += [t]
            }
            sql += " ORDER BY at, rowid"
            if let limit {
                sql += " LIMIT ?"
                arguments += [limit]
            }
            return try String.fetchAll(db, sql: sql, arguments: arguments)
        }
        return try rows.map { try HookEventJSON.decode(Array($0.utf8)) }
    }

    public func counts(campaign: String?) throws -> [HookEventCount] {
        try pool.read { db in
            var sql = "SELECT campaign_id, variant, outcome, COUNT(*) FROM hook_events"
            var arguments: StatementArguments = []
            if let campaign {
                sql += " WHERE campaign_id = ?"
                arguments += [campaign]
            }
            sql += " GROUP BY campaign_id, variant, outcome ORDER BY campaign_id, variant, outcome"
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map {
                HookEventCount(campaignID: $0[0], variant: $0[1], outcome: $0[2], count: $0[3])
            }
        }
    }

    public func newestTimestamp() throws -> String? {
        try pool.read { db in
            try String.fetchOne(db, sql: "SELECT timestamp FROM hook_events WHERE at IS NOT NULL ORDER BY at DESC LIMIT 1")
        }
    }

    public func payload(key: String) throws -> [UInt8]? {
        try pool.read { db in
            try String.fetchOne(db, sql: "SELECT payload FROM hook_events WHERE key = ?", arguments: [key]).map { Array($0.utf8) }
        }
    }

    public func cursor(_ source: String) throws -> String? {
        try pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM hook_cursors WHERE source = ?", arguments: [source]) }
    }

    public func setCursor(_ source: String, to value: String) throws {
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO hook_cursors (source, value, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT(source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                    """,
                arguments: [source, value, Timestamp.string()])
        }
    }

    public func count() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM hook_events") ?? 0 }
    }

    /// The payload as stored: as it came when small enough, else with every string over
    /// `cutStringsTo` characters cut (`…` at the end) so it stays JSON; true when cut.
    static func capped(_ payload: [UInt8]) -> (String, Bool) {
        guard payload.count > maxPayloadBytes else { return (String(decoding: payload, as: UTF8.self), false) }
        var bytes = payload
        guard let json = try? JSONScanner.parse(bytes: &bytes) else {
            return (JSONValue.string("payload over \(maxPayloadBytes) bytes and not JSON: dropped").compactJSON, true)
        }
        func cut(_ v: JSONValue) -> JSONValue {
            switch v {
            case .string(let s) where s.count > cutStringsTo: return .string(String(s.prefix(cutStringsTo)) + "…")
            case .array(let a): return .array(a.map(cut))
            case .object(let members): return .object(members.map { JSONMember($0.key, cut($0.value)) })
            default: return v
            }
        }
        var out = cut(json).encoded()
        if out.count > maxPayloadBytes {
            // Very many keys: keep what the event needs, drop the rest.
            let keep = [
                "timestamp", "event_type", "workspace", "campaign_id", "campaign_name", "lead_email", "email_account",
                "unibox_url", "step", "variant", "is_first", "email_id", "reply_text_snippet", "reply_subject",
            ]
            if case .object(let members) = cut(json) {
                out = JSONValue.object(members.filter { keep.contains($0.key) }).encoded()
            }
        }
        return (String(decoding: out, as: UTF8.self), true)
    }
}
