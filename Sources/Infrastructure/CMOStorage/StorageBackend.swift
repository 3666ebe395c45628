import CMOBasics
import Foundation

/// Where the workspace's shared state lives — the write ledger, the suppression list, the job queue, the
/// shared limits, the hook events — chosen once per process from the environment, so no caller knows
/// which it has:
///
/// - `CMO_DATABASE_URL` unset or empty: SQLite files in the state directory (`CMO_STATE_DIR`), one
///   machine's processes sharing them (the default).
/// - `CMO_DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/DATABASE`: one PostgreSQL database that every
///   process on every machine of the team shares. Caches (HTTP, DNS, GitHub histories) stay per machine
///   in the state directory.
/// - `CMO_DATABASE_URL=sqlite:` (or `sqlite:///DIR`): SQLite, in `DIR` when given.
public enum StorageBackend: Sendable, Equatable, CustomStringConvertible {
    case sqlite(directory: String)
    case postgres(PostgresURL)

    /// The backend `environment` names. A URL that cannot be read is 78, said without its password.
    public static func from(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> StorageBackend {
        let raw = (environment["CMO_DATABASE_URL"] ?? "").trimmingCharacters(in: .whitespaces)
        if raw.isEmpty || raw == "sqlite:" || raw == "sqlite://" {
            return .sqlite(directory: try StateDirectory.ensure(environment: environment))
        }
        if raw.hasPrefix("sqlite://") {
            var env = environment
            env["CMO_STATE_DIR"] = String(raw.dropFirst("sqlite://".count))
            return .sqlite(directory: try StateDirectory.ensure(environment: env))
        }
        return .postgres(try PostgresURL(raw, environment: environment))
    }

    /// The team database's pool for a PostgreSQL backend, else nil.
    public func database(environment: [String: String] = ProcessInfo.processInfo.environment) -> PostgresDatabase? {
        if case .postgres(let url) = self { return PostgresDatabase.shared(url, environment: environment) }
        return nil
    }

    public var isShared: Bool {
        if case .postgres = self { return true }
        return false
    }

    /// `SQLite in '/home/me/.local/state/cmo'` or `PostgreSQL postgres://cmo@db:5432/cmo` (never a password).
    public var description: String {
        switch self {
        case .sqlite(let dir): return "SQLite in '\(dir)'"
        case .postgres(let url): return "PostgreSQL \(url)"
        }
    }
}
