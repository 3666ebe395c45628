import CMOBasics
import Foundation

/// Where the team's database is: `postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=…` (also
/// `postgresql://`), as libpq spells it. The password is kept for the connection and never printed:
/// `description` leaves it out. A config file names the URL without it (`database-url`); the password
/// then comes from the environment.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public enum SSLMode: String, Sendable { case disable, prefer, require }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode
    /// `?pool=N`: connections this process keeps open at most (default 4).
    public var poolSize: Int

    /// Parses `text`; a usage error (78, a configuration problem) names what is wrong without echoing a password.
    /// The password is the URL's, else `CMO_DATABASE_PASSWORD`, else libpq's `PGPASSWORD` from `environment`.
    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let comps = URLComponents(string: text), let scheme = comps.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql"
        else {
            throw StageFailure(.config, "CMO_DATABASE_URL is not a postgres:// URL (want postgres://USER:PASSWORD@HOST:PORT/DATABASE)")
        }
        guard let host = comps.host, !host.isEmpty else {
            throw StageFailure(.config, "CMO_DATABASE_URL names no host (want postgres://USER:PASSWORD@HOST:PORT/DATABASE)")
        }
        self.host = host
        port = comps.port ?? 5432
        user = comps.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? ProcessInfo.processInfo.environment["USER"] ?? "postgres"
        password = comps.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
            ?? environment["CMO_DATABASE_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["PGPASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        let path = comps.path.hasPrefix("/") ? String(comps.path.dropFirst()) : comps.path
        database = path.isEmpty ? user : (path.removingPercentEncoding ?? path)
        sslMode = .prefer
        poolSize = 4
        for item in comps.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                switch item.value ?? "" {
                case "disable", "allow": sslMode = .disable
                case "prefer": sslMode = .prefer
                case "require", "verify-ca", "verify-full": sslMode = .require
                default: throw StageFailure(.config, "CMO_DATABASE_URL: sslmode '\(item.value ?? "")' is not one of disable, prefer, require")
                }
            case "pool":
                guard let n = Int(item.value ?? ""), (1...64).contains(n) else {
                    throw StageFailure(.config, "CMO_DATABASE_URL: pool must be a number from 1 to 64")
                }
                poolSize = n
            default: break  // libpq's other parameters (connect_timeout, application_name, …) are not needed here
            }
        }
    }

    /// `postgres://USER@HOST:PORT/DATABASE`: what messages and logs say (never the password).
    public var description: String { "postgres://\(user)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)" }
}
