import CMOBasics
import CMOContract
import Foundation

/// `HookEventStore` in the team's PostgreSQL database (`CMO_DATABASE_URL`), so a `serve` on one machine,
/// a `catch-up` on another and every reader (the report, the bounce guard, `apply`) share one event list.
///
/// An event is stored once by its key in one statement (`INSERT … ON CONFLICT DO NOTHING`), whoever
/// races. The storing order is an identity column; the inserts take turns on the advisory lock
/// `hooks:insert` for their one-statement transaction, so the numbers are committed in the order they
/// are handed out: a consumer whose cursor passed number N can never later meet a smaller number
/// committed late (what SQLite's single writer gives its rowids).
public final class PostgresHookEventStore: HookEventStore, @unchecked Sendable {
    private let db: PostgresDatabase
    /// `PostgreSQL postgres://user@host:port/db` (never a password), for logs and the report.
    public let location: String

    /// The tables, by version, one statement each. Never edit a migration that shipped: add one.
    static let migrations: [(name: String, sql: String)] = [
        (
            "v1 hook events",
            """
            CREATE TABLE IF NOT EXISTS hook_events (
                seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
                key TEXT PRIMARY KEY,
                event_type TEXT NOT NULL,
                outcome TEXT,
                timestamp TEXT NOT NULL,
                at DOUBLE PRECISION,
                campaign_id TEXT,
                variant BIGINT,
                lead_email TEXT,
                source TEXT NOT NULL,
                received_at TEXT NOT NULL,
                record TEXT NOT NULL,
                payload BYTEA NOT NULL,
                payload_cut BOOLEAN NOT NULL DEFAULT FALSE)
            """
        ),
        ("v1 hook events by time", "CREATE INDEX IF NOT EXISTS hook_events_at ON hook_events (at)"),
        ("v1 hook events by campaign", "CREATE INDEX IF NOT EXISTS hook_events_campaign ON hook_events (campaign_id, variant, outcome)"),
        ("v1 hook events by lead", "CREATE INDEX IF NOT EXISTS hook_events_lead ON hook_events (lead_email)"),
        (
            "v1 hook cursors",
            "CREATE TABLE IF NOT EXISTS hook_cursors (source TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL)"
        ),
    ]

    /// Opens the store in `database`, creating or upgrading its tables. Unreachable: 69; refused: 78.
    /// `location` is what logs and the report say the events are in (no password).
    public init(database: PostgresDatabase, location: String) throws {
        db = database
        self.location = location
        try db.migrate("hooks", Self.migrations)
    }

    public func insertIfNew(_ event: HookEvent, payload: [UInt8]) throws -> Bool {
        let record = String(decoding: try HookEventJSON.encode(event), as: UTF8.self)
        let (stored, cut) = SQLiteHookEventStore.capped(payload)
        let args: [PGValue] = [
            .text(Self.text(event.key)), .text(Self.text(event.eventType)), PGValue(event.outcome?.rawValue), .text(Self.text(event.timestamp)),
            PGValue(Timestamp.parse(event.timestamp)), PGValue(event.campaignID.map(Self.text)), PGValue(event.variant),
            PGValue(event.leadEmail.map(Self.text)), .text(Self.text(event.source)), .text(Self.text(event.receivedAt)), .text(record),
            .bytes(Array(stored.utf8)), .bool(cut),
        ]
        let inserted = try db.transaction(lock: "hooks:insert") { conn in
            try conn.execute(
                """
                INSERT INTO hook_events (key, event_type, outcome, timestamp, at, campaign_id, variant, lead_email, source,
                    received_at, record, payload, payload_cut)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                ON CONFLICT (key) DO NOTHING
                """, args)
        }
        return inserted == 1
    }

    public func events(since: String?, limit: Int?) throws -> [HookEvent] {
        var sql = "SELECT record FROM hook_events"
        var args: [PGValue] = []
        if let since {
            args.append(.double(try Self.time(since)))
            sql += " WHERE at >= $1"
        }
        // SQLite puts events without a time first: the same order here.
        sql += " ORDER BY at NULLS FIRST, seq"
        if let limit {
            args.append(.int(Int64(limit)))
            sql += " LIMIT $\(args.count)"
        }
        return try records(sql, args)
    }

    public func events(campaigns: Set<String>, since: String?) throws -> [HookEvent] {
        guard !campaigns.isEmpty else { return [] }
        var sql = "SELECT record FROM hook_events WHERE campaign_id = ANY($1::text[])"
        var args: [PGValue] = [.text(Self.arrayLiteral(campaigns.sorted()))]
        if let since {
            args.append(.double(try Self.time(since)))
            sql += " AND at >= $2"
        }
        return try records(sql + " ORDER BY at NULLS FIRST, seq", args)
    }

    public func events(afterSequence after: Int64, limit: Int) throws -> [(sequence: Int64, event: HookEvent)] {
        let rows = try db.read { conn in
            try conn.query("SELECT seq, record FROM hook_events WHERE seq > $1 ORDER BY seq LIMIT $2", [.int(after), .int(Int64(limit))])
        }
        return try rows.map { row in
            (row.int64("seq") ?? 0, try HookEventJSON.decode(Array((row.string("record") ?? "").utf8)))
        }
    }

    public func counts(campaign: String?) throws -> [HookEventCount] {
        var sql = "SELECT campaign_id, variant, outcome, COUNT(*) AS n FROM hook_events"
        var args: [PGValue] = []
        if let campaign {
            sql += " WHERE campaign_id = $1"
            args.append(.text(Self.text(campaign)))
        }
        sql += " GROUP BY campaign_id, variant, outcome ORDER BY campaign_id NULLS FIRST, variant NULLS FIRST, outcome NULLS FIRST"
        return try db.read { conn in try conn.query(sql, args) }.map {
            HookEventCount(campaignID: $0.string("campaign_id"), variant: $0.int("variant"), outcome: $0.string("outcome"), count: $0.int("n") ?? 0)
        }
    }

    public func newestTimestamp() throws -> String? {
        try db.read { conn in
            try conn.one("SELECT timestamp FROM hook_events WHERE at IS NOT NULL ORDER BY at DESC, seq DESC LIMIT 1")?.string("timestamp")
        }
    }

    public func payload(key: String) throws -> [UInt8]? {
        try db.read { conn in try conn.one("SELECT payload FROM hook_events WHERE key = $1", [.text(Self.text(key))])?.bytes("payload") }
    }

    public func cursor(_ source: String) throws -> String? {
        try db.read { conn in try conn.one("SELECT value FROM hook_cursors WHERE source = $1", [.text(Self.text(source))])?.string("value") }
    }

    public func setCursor(_ source: String, to value: String) throws {
        _ = try db.read { conn in
            try conn.execute(
                """
                INSERT INTO hook_cursors (source, value, updated_at) VALUES ($1, $2, $3)
                ON CONFLICT (source) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at
                """, [.text(Self.text(source)), .text(Self.text(value)), .text(Timestamp.string())])
        }
    }

    public func count() throws -> Int {
        try db.read { conn in try conn.one("SELECT COUNT(*) AS n FROM hook_events")?.int("n") ?? 0 }
    }

    private func records(_ sql: String, _ args: [PGValue]) throws -> [HookEvent] {
        try db.read { conn in try conn.query(sql, args) }.map { try HookEventJSON.decode(Array(($0.string("record") ?? "").utf8)) }
    }

    /// An ISO 8601 time as epoch seconds, or a usage error (64) naming it, as SQLite's store says.
    private static func time(_ iso: String) throws -> Double {
        guard let t = Timestamp.parse(iso) else { throw StageFailure(.usage, "'\(iso)' is not an ISO 8601 time") }
        return t
    }

    /// PostgreSQL's TEXT refuses the NUL character SQLite keeps; a sender's payload can carry one (an
    /// escaped `\u0000` in a field), which must not make the receiver fail on that event forever.
    private static func text(_ s: String) -> String {
        s.contains("\u{0}") ? s.replacingOccurrences(of: "\u{0}", with: "") : s
    }

    /// A text array literal (`{"a","b"}`) for `= ANY($1::text[])`: one parameter however many campaigns.
    private static func arrayLiteral(_ values: [String]) -> String {
        "{" + values.map { "\"" + text($0).replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }
}
