import CMOBasics
import Foundation
import Logging
import PostgresNIO

/// A value bound to, or read from, a PostgreSQL statement.
public enum PGValue: Sendable, Equatable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case bytes([UInt8])
    case bool(Bool)

    public init(_ v: String?) { self = v.map { .text($0) } ?? .null }
    public init(_ v: Int?) { self = v.map { .int(Int64($0)) } ?? .null }
    public init(_ v: Int64?) { self = v.map { .int($0) } ?? .null }
    public init(_ v: Int32?) { self = v.map { .int(Int64($0)) } ?? .null }
    public init(_ v: Double?) { self = v.map { .double($0) } ?? .null }
    public init(_ v: [UInt8]?) { self = v.map { .bytes($0) } ?? .null }
    public init(_ v: Bool?) { self = v.map { .bool($0) } ?? .null }

    public var string: String? {
        switch self {
        case .text(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return b ? "true" : "false"
        case .bytes(let b): return String(decoding: b, as: UTF8.self)
        case .null: return nil
        }
    }
    public var int64: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d): return Int64(d)
        case .text(let s): return Int64(s)
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }
    public var double: Double? {
        switch self {
        case .double(let d): return d
        case .int(let i): return Double(i)
        case .text(let s): return Double(s)
        default: return nil
        }
    }
    public var bool: Bool? {
        switch self {
        case .bool(let b): return b
        case .int(let i): return i != 0
        default: return nil
        }
    }
    public var bytes: [UInt8]? {
        switch self {
        case .bytes(let b): return b
        case .text(let s): return Array(s.utf8)
        default: return nil
        }
    }
}

extension PGValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByNilLiteral,
    ExpressibleByBooleanLiteral
{
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

/// One row of a result, decoded eagerly: columns by name.
public struct PGRow: Sendable {
    public let values: [String: PGValue]
    public subscript(_ column: String) -> PGValue { values[column] ?? .null }
    public func string(_ c: String) -> String? { self[c].string }
    public func int(_ c: String) -> Int? { self[c].int64.map { Int($0) } }
    public func int64(_ c: String) -> Int64? { self[c].int64 }
    public func double(_ c: String) -> Double? { self[c].double }
    public func bool(_ c: String) -> Bool? { self[c].bool }
    public func bytes(_ c: String) -> [UInt8]? { self[c].bytes }
}

/// One open connection, used by one thread at a time (inside `PostgresDatabase.read` / `transaction`).
/// Statements use PostgreSQL's `$1, $2, …` placeholders.
public final class PGConnection: @unchecked Sendable {
    let connection: PostgresConnection
    let logger: Logger
    /// Set when the connection failed under a statement: the pool drops it.
    var broken = false

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
        let watch = closeWatch
        connection.closeFuture.whenComplete { _ in watch.closed() }
    }

    /// Wakes the statement waiting on this connection when the connection ends (one callback per
    /// connection, not one per statement).
    private let closeWatch = CloseWatch()

    private final class CloseWatch: @unchecked Sendable {
        private let lock = NSLock()
        private var isClosed = false
        private var waiter: DispatchSemaphore?
        func closed() {
            lock.lock()
            isClosed = true
            let w = waiter
            lock.unlock()
            w?.signal()
        }
        func watch(_ s: DispatchSemaphore?) {
            lock.lock()
            waiter = s
            let c = isClosed
            lock.unlock()
            if c { s?.signal() }
        }
    }

    /// postgres-nio wants every connection closed before it goes.
    deinit {
        if !connection.isClosed {
            let closing: EventLoopFuture<Void> = connection.close()
            _ = try? closing.wait()
        }
    }

    /// Runs a statement; returns how many rows it changed (INSERT/UPDATE/DELETE), else 0.
    @discardableResult
    public func execute(_ sql: String, _ args: [PGValue] = []) throws -> Int {
        try run(sql, args).metadata.rows ?? 0
    }

    /// Runs a query and returns its rows.
    public func query(_ sql: String, _ args: [PGValue] = []) throws -> [PGRow] {
        try run(sql, args).rows.map(Self.decode)
    }

    /// The `application_name` every connection of the process `owner` (`HOST:PID`) says it is.
    static func applicationName(_ owner: String) -> String { "cmo " + owner }

    /// Whether the process `owner` (`HOST:PID`, on any machine) holds a connection to this database now:
    /// how a process on another machine is told alive. Asked on this connection, so a caller inside a
    /// transaction never waits for a second one from the pool.
    public func isConnected(owner: String) throws -> Bool {
        try one("SELECT 1 AS one FROM pg_stat_activity WHERE application_name = $1 LIMIT 1", [.text(Self.applicationName(owner))]) != nil
    }

    /// The first row of a query, if any.
    public func one(_ sql: String, _ args: [PGValue] = []) throws -> PGRow? { try query(sql, args).first }

    private func run(_ sql: String, _ args: [PGValue]) throws -> PostgresQueryResult {
        var binds = PostgresBindings(capacity: args.count)
        for a in args {
            switch a {
            case .null: binds.appendNull()
            case .int(let i): binds.append(i)
            case .double(let d): binds.append(d)
            case .text(let s): binds.append(s)
            case .bytes(let b): binds.append(ByteBuffer(bytes: b))
            case .bool(let b): binds.append(b)
            }
        }
        do {
            return try waitFor(connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger))
        } catch {
            if PostgresDatabase.isConnectionLoss(error) { broken = true }
            throw error
        }
    }

    /// The connection went away under a statement whose answer never came.
    struct Lost: Error, CustomStringConvertible {
        let description: String
    }

    /// Waits for `future`, but not past the connection's end: a statement sent on a connection the server
    /// dropped (a restart) must fail, not wait forever. `CMO_DATABASE_STATEMENT_TIMEOUT` (default 120 s)
    /// bounds any one statement, so a server that stops answering is a lost connection too.
    private func waitFor<T>(_ future: EventLoopFuture<T>) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        future.whenComplete { result in
            box.set(result)
            done.signal()
        }
        closeWatch.watch(done)
        defer { closeWatch.watch(nil) }
        if done.wait(timeout: .now() + PGConnection.statementTimeout) == .timedOut {
            broken = true
            let closing: EventLoopFuture<Void> = connection.close()
            _ = closing
            throw Lost(description: "no answer within \(Int(PGConnection.statementTimeout)) s")
        }
        if let result = box.get() { return try result.get() }
        // Closed first: give the statement's own failure a moment to arrive, else call it lost.
        if done.wait(timeout: .now() + 1) == .success, let result = box.get() { return try result.get() }
        broken = true
        throw Lost(description: "the server closed the connection")
    }

    static let statementTimeout: Double =
        ProcessInfo.processInfo.environment["CMO_DATABASE_STATEMENT_TIMEOUT"].flatMap(Double.init).map { max(1, $0) } ?? 120

    private final class ResultBox<T>: @unchecked Sendable {
        private let lock = NSLock()
        private var result: Result<T, Error>?
        func set(_ r: Result<T, Error>) {
            lock.lock()
            if result == nil { result = r }
            lock.unlock()
        }
        func get() -> Result<T, Error>? {
            lock.lock()
            defer { lock.unlock() }
            return result
        }
    }

    private static func decode(_ row: PostgresRow) -> PGRow {
        var values: [String: PGValue] = [:]
        for cell in row {
            guard cell.bytes != nil else {
                values[cell.columnName] = .null
                continue
            }
            let v: PGValue
            switch cell.dataType {
            case .int2, .int4, .int8, .oid: v = (try? cell.decode(Int64.self)).map { .int($0) } ?? .null
            case .float4, .float8: v = (try? cell.decode(Double.self)).map { .double($0) } ?? .null
            case .bool: v = (try? cell.decode(Bool.self)).map { .bool($0) } ?? .null
            case .bytea: v = (try? cell.decode(ByteBuffer.self)).map { .bytes(Array($0.readableBytesView)) } ?? .null
            case .numeric:
                if let d = try? cell.decode(Double.self) { v = .double(d) } else { v = (try? cell.decode(String.self)).map { .text($0) } ?? .null }
            default: v = (try? cell.decode(String.self)).map { .text($0) } ?? .null
            }
            values[cell.columnName] = v
        }
        return PGRow(values: values)
    }
}

/// The team database: a small pool of connections to one PostgreSQL server, used synchronously by the
/// stages and the agent (each call blocks its thread until the server answers; the connections run on
/// SwiftNIO's shared event loops). One per URL per process (`shared(_:)`).
///
/// A connection lost under a statement (the server restarted, a network blip) is dropped and the call
/// is tried again on a new one for up to `retryWindow` seconds; a transaction is re-run from its start
/// (it was rolled back). Unreachable at the first call: 69. Lost mid-run and not back in time: 75, safe
/// to re-run (every store's writes are keyed, so nothing is lost or done twice).
public final class PostgresDatabase: @unchecked Sendable {
    public let url: PostgresURL
    /// How long a lost connection is waited for before the call fails (seconds; `CMO_DATABASE_RETRY`).
    public var retryWindow: Double
    private let logger = Logger(label: "cmo.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
    private let lock = NSCondition()
    private var idle: [PGConnection] = []
    private var open = 0
    private var everConnected = false
    private var nextID = 1
    /// Which component's migrations this process already checked.
    private var migrated: Set<String> = []
    private let migrateLock = NSLock()

    init(url: PostgresURL, retryWindow: Double) {
        self.url = url
        self.retryWindow = retryWindow
    }

    private static let registryLock = NSLock()
    private final class Weak: @unchecked Sendable {
        weak var db: PostgresDatabase?
        init(_ db: PostgresDatabase) { self.db = db }
    }
    nonisolated(unsafe) private static var registry: [String: Weak] = [:]

    /// The process's pool for `url`: the stores of one process share it while any of them is open; when
    /// the last goes, its connections close.
    public static func shared(_ url: PostgresURL, environment: [String: String] = ProcessInfo.processInfo.environment) -> PostgresDatabase {
        registryLock.lock()
        defer { registryLock.unlock() }
        let key = "\(url.user)@\(url.host):\(url.port)/\(url.database)"
        if let db = registry[key]?.db { return db }
        let window = environment["CMO_DATABASE_RETRY"].flatMap(Double.init) ?? 30
        let db = PostgresDatabase(url: url, retryWindow: max(0, window))
        registry = registry.filter { $0.value.db != nil }
        registry[key] = Weak(db)
        return db
    }

    // MARK: - Calls

    /// Runs `body` on a connection outside a transaction (each statement commits by itself): reads, and
    /// single-statement writes.
    public func read<T>(_ body: (PGConnection) throws -> T) throws -> T {
        try withRetry { conn in try body(conn) }
    }

    /// Runs `body` in one transaction. `lock`: a name whose transaction-scoped advisory lock is taken
    /// first, so every transaction naming it runs one at a time across every process and machine (what
    /// BEGIN IMMEDIATE gives the SQLite stores; it holds under PgBouncer's transaction pooling).
    /// Serialization failures and deadlocks are retried; so is a lost connection.
    public func transaction<T>(lock name: String? = nil, _ body: (PGConnection) throws -> T) throws -> T {
        var attempt = 0
        while true {
            do {
                return try withRetry { conn in
                    try conn.execute("BEGIN")
                    do {
                        if let name { try conn.execute("SELECT pg_advisory_xact_lock($1)", [.int(Self.lockKey(name))]) }
                        let value = try body(conn)
                        try conn.execute("COMMIT")
                        return value
                    } catch {
                        if !conn.broken { _ = try? conn.execute("ROLLBACK") }
                        throw error
                    }
                }
            } catch let error where attempt < 20 && Self.isRetryable(error) {
                attempt += 1
                usleep(useconds_t.random(in: 2_000...20_000) * useconds_t(min(attempt, 5)))
            }
        }
    }

    /// A stable 64-bit key for an advisory lock name (FNV-1a).
    public static func lockKey(_ name: String) -> Int64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in name.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return Int64(bitPattern: h)
    }

    // MARK: - Migrations

    /// Applies `component`'s migrations that have not run yet, in order, each in its own transaction,
    /// recorded in `cmo_schema_migrations (component, version, name, applied_at)`. Processes migrating
    /// at once take turns on an advisory lock, so each migration runs once. Never edit a migration that
    /// shipped: add one.
    public func migrate(_ component: String, _ migrations: [(name: String, sql: String)]) throws {
        migrateLock.lock()
        defer { migrateLock.unlock() }
        if migrated.contains(component) { return }
        try transaction(lock: "cmo_schema_migrations") { conn in
            try conn.execute(
                """
                CREATE TABLE IF NOT EXISTS cmo_schema_migrations (
                    component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (component, version))
                """)
            let done = try conn.query("SELECT version FROM cmo_schema_migrations WHERE component = $1", [.text(component)])
                .compactMap { $0.int("version") }
            let applied = Set(done)
            if let newest = applied.max(), newest > migrations.count {
                throw StageFailure(
                    .config,
                    "the database \(url) has \(component) schema version \(newest), newer than this cmo knows (\(migrations.count)): upgrade cmo")
            }
            for (i, m) in migrations.enumerated() where !applied.contains(i + 1) {
                try conn.execute(m.sql)
                try conn.execute("INSERT INTO cmo_schema_migrations (component, version, name) VALUES ($1, $2, $3)",
                                 [.text(component), .int(Int64(i + 1)), .text(m.name)])
            }
        }
        migrated.insert(component)
    }

    /// The schema versions applied, per component (for `doctor` and the tests).
    public func schemaVersions() throws -> [String: Int] {
        try read { conn in
            guard try conn.one("SELECT to_regclass('cmo_schema_migrations') IS NOT NULL AS present")?.bool("present") == true else { return [:] }
            var out: [String: Int] = [:]
            for r in try conn.query("SELECT component, MAX(version) AS v FROM cmo_schema_migrations GROUP BY component") {
                if let c = r.string("component") { out[c] = r.int("v") }
            }
            return out
        }
    }

    // MARK: - The pool

    private func withRetry<T>(_ body: (PGConnection) throws -> T) throws -> T {
        let started = Date()
        var delay = 0.1
        while true {
            let conn: PGConnection
            do {
                conn = try checkout()
            } catch {
                guard Self.isConnectionLoss(error) || Self.isConnectFailure(error) else { throw describe(error) }
                let waited = Date().timeIntervalSince(started)
                // Never reached: a short wait (a server starting), then 69. Reached before: the retry window, then 75.
                let window = connected ? retryWindow : min(retryWindow, 3)
                if waited >= window { throw unreachable(error) }
                Thread.sleep(forTimeInterval: min(delay, max(0.05, window - waited)))
                delay = min(delay * 2, 2)
                continue
            }
            do {
                let value = try body(conn)
                checkin(conn)
                return value
            } catch {
                checkin(conn)
                if conn.broken || Self.isConnectionLoss(error) {
                    if Date().timeIntervalSince(started) >= retryWindow { throw unreachable(error) }
                    Thread.sleep(forTimeInterval: delay)
                    delay = min(delay * 2, 2)
                    continue
                }
                throw describe(error)
            }
        }
    }

    private var connected: Bool {
        lock.lock()
        defer { lock.unlock() }
        return everConnected
    }

    private func checkout() throws -> PGConnection {
        lock.lock()
        while idle.isEmpty && open >= url.poolSize { lock.wait() }
        while let c = idle.popLast() {
            if c.connection.isClosed {
                // The server dropped it while it was idle (a restart): a new one instead.
                open -= 1
                continue
            }
            lock.unlock()
            return c
        }
        open += 1
        let id = nextID
        nextID += 1
        lock.unlock()
        do {
            let c = try connect(id: id)
            lock.lock()
            everConnected = true
            lock.unlock()
            return c
        } catch {
            lock.lock()
            open -= 1
            lock.signal()
            lock.unlock()
            throw error
        }
    }

    private func checkin(_ c: PGConnection) {
        lock.lock()
        if c.broken || c.connection.isClosed {
            open -= 1
            lock.unlock()
        } else {
            idle.append(c)
            lock.unlock()
        }
        // (A dropped connection closes itself as it goes: PGConnection.deinit.)
        lock.lock()
        lock.signal()
        lock.unlock()
    }

    private func connect(id: Int) throws -> PGConnection {
        let tls: PostgresConnection.Configuration.TLS
        switch url.sslMode {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var config = PostgresConnection.Configuration(host: url.host, port: url.port, username: url.user, password: url.password,
                                                      database: url.database, tls: tls)
        config.options.connectTimeout = .seconds(5)
        // Who holds a connection (pg_stat_activity): `cmo HOST:PID`, so a row owned by a process on another
        // machine can be told alive while its connection is.
        config.options.additionalStartupParameters = [("application_name", PGConnection.applicationName(ProcessIdentity.owner))]
        let conn = try PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(), configuration: config, id: id, logger: logger)
            .wait()
        return PGConnection(connection: conn, logger: logger)
    }


    // MARK: - Errors

    static func isConnectionLoss(_ error: Error) -> Bool {
        if error is PGConnection.Lost { return true }
        if let e = error as? PSQLError {
            switch e.code {
            case .serverClosedConnection, .connectionError, .uncleanShutdown, .clientClosedConnection: return true
            case .server:
                // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 08xxx connection exceptions.
                let state = e.serverInfo?[.sqlState] ?? ""
                return state.hasPrefix("57P") || state.hasPrefix("08")
            default: return false
            }
        }
        return error is ChannelError || error is IOError
    }

    static func isConnectFailure(_ error: Error) -> Bool {
        if error is ChannelError || error is IOError { return true }
        let text = String(describing: error)
        return text.contains("connect") || text.contains("Connection refused") || text.contains("NIOConnectionError")
    }

    /// 40001 serialization_failure, 40P01 deadlock_detected: the transaction is run again.
    static func isRetryable(_ error: Error) -> Bool {
        guard let e = error as? PSQLError, e.code == .server, let state = e.serverInfo?[.sqlState] else { return false }
        return state == "40001" || state == "40P01"
    }

    /// The SQLSTATE of a server error, if `error` is one.
    public static func sqlState(_ error: Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    private func unreachable(_ error: Error) -> StageFailure {
        if connected {
            return StageFailure(
                .tempFail,
                "lost the database \(url) and it did not come back within \(Int(retryWindow)) s (\(Self.reason(error))); "
                    + "what was written is kept: run again to go on")
        }
        return StageFailure(.unavailable, "cannot reach the database \(url): \(Self.reason(error)) (CMO_DATABASE_URL; is PostgreSQL running?)")
    }

    private func describe(_ error: Error) -> Error {
        if error is any CMOError { return error }
        if let e = error as? PSQLError {
            if e.code == .server, let state = e.serverInfo?[.sqlState] {
                // 28xxx: authentication; 3D000: no such database; 42501: no privilege.
                if state.hasPrefix("28") || state == "3D000" || state == "42501" {
                    return StageFailure(.config, "the database \(url) refused cmo: \(Self.reason(error)) (CMO_DATABASE_URL)")
                }
            }
            if e.code == .authMechanismRequiresPassword || e.code == .unsupportedAuthMechanism || e.code == .sslUnsupported {
                return StageFailure(.config, "the database \(url) refused cmo: \(Self.reason(error)) (CMO_DATABASE_URL)")
            }
            return StageFailure(.failure, "internal error: the database \(url) answered: \(Self.reason(error))")
        }
        return error
    }

    /// A server error's own message and SQLSTATE, else the error as text (never the URL's password: it is not in errors).
    static func reason(_ error: Error) -> String {
        if let e = error as? PSQLError {
            if let message = e.serverInfo?[.message] {
                return message + (e.serverInfo?[.sqlState].map { " [\($0)]" } ?? "")
            }
            if let underlying = e.underlying { return plain(underlying) }
            return "\(e.code)"
        }
        return plain(error)
    }

    /// A network error in a person's words (`connection refused`), not SwiftNIO's structure dump.
    static func plain(_ error: Error) -> String {
        let text = "\(error)"
        let lower = text.lowercased()
        for (needle, said) in [("refused", "connection refused"), ("reset", "connection reset by the server"), ("timed out", "connection timed out"),
                               ("timeout", "connection timed out"), ("unreachable", "network unreachable"), ("no such host", "unknown host"),
                               ("name resolution", "unknown host"), ("closed", "the server closed the connection")]
        where lower.contains(needle) {
            return said
        }
        return String(text.prefix(160))
    }
}
