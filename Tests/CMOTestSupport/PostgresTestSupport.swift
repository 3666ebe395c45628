import Foundation
import XCTest

/// The storage backends every shared store test runs against: SQLite in a new state directory, and
/// PostgreSQL in a new database on the test server `bin/test` starts (`CMO_TEST_DATABASE_URL`, made by
/// `bin/pg-test-server`). Each backend is an environment (`CMO_STATE_DIR`, and `CMO_DATABASE_URL` for
/// PostgreSQL), so a test opens its stores the way a stage does and never names the backend.
///
///     try StorageBackends.each { name, env in
///         let queue = try JobQueues.open(environment: env)
///         …
///     }
public enum StorageBackends {
    public typealias Skip = XCTSkip

    /// Why the PostgreSQL half cannot run here, or nil when it can.
    public static var postgresUnavailable: String? {
        let url = ProcessInfo.processInfo.environment["CMO_TEST_DATABASE_URL"] ?? ""
        if url.isEmpty {
            return "PostgreSQL half skipped: CMO_TEST_DATABASE_URL is not set (bin/test starts a server with bin/pg-test-server)"
        }
        return serverProblem
    }

    private static let serverProblem: String? = {
        let url = ProcessInfo.processInfo.environment["CMO_TEST_DATABASE_URL"] ?? ""
        let (status, out) = psql(url, "SELECT 1")
        return status == 0 ? nil : "PostgreSQL half skipped: the test server at CMO_TEST_DATABASE_URL does not answer (\(out.prefix(200)))"
    }()

    /// A new, empty database on the test server: its URL. Throws `Skip` when there is no server.
    public static func freshPostgresURL(_ label: String = "t") throws -> String {
        if let why = postgresUnavailable { throw XCTSkip(why) }
        let base = ProcessInfo.processInfo.environment["CMO_TEST_DATABASE_URL"]!
        let name = "cmo_\(label.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(20))_\(UInt32.random(in: 0...UInt32.max))"
        let (status, out) = psql(base, "CREATE DATABASE \(name)")
        guard status == 0 else { throw XCTSkip("PostgreSQL half skipped: cannot create a test database (\(out.prefix(200)))") }
        guard let slash = base.range(of: "/", options: .backwards), base[..<slash.lowerBound].contains("@") || base.contains("://") else {
            return base
        }
        var rest = String(base[slash.upperBound...])
        let query = rest.firstIndex(of: "?").map { String(rest[$0...]) } ?? ""
        rest = name + query
        return String(base[..<slash.upperBound]) + rest
    }

    /// A new SQLite environment: a fresh `CMO_STATE_DIR`.
    public static func sqliteEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
        let dir = NSTemporaryDirectory() + "cmo-backend-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var env = ProcessInfo.processInfo.environment
        env["CMO_DATABASE_URL"] = nil
        env["CMO_STATE_DIR"] = dir
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// A new PostgreSQL environment (its own database, its own state directory for caches). Throws `Skip`.
    public static func postgresEnvironment(_ extra: [String: String] = [:]) throws -> [String: String] {
        var env = sqliteEnvironment(extra)
        env["CMO_DATABASE_URL"] = try freshPostgresURL()
        return env
    }

    /// Runs `body` for SQLite, then for PostgreSQL. When PostgreSQL cannot run here, the SQLite half has
    /// run (and its failures count) and this throws an `XCTSkip`-like `Skip` with the reason, so the test
    /// says it was skipped in part.
    public static func each(_ body: (_ backend: String, _ environment: [String: String]) throws -> Void) throws {
        try body("sqlite", sqliteEnvironment())
        let env: [String: String]
        do { env = try postgresEnvironment() } catch let skip as XCTSkip {
            FileHandle.standardError.write(Data(((skip.message ?? "PostgreSQL half skipped") + "\n").utf8))
            throw skip
        }
        try body("postgres", env)
    }

    /// Runs `psql URL -c SQL`; its status and output.
    public static func psql(_ url: String, _ sql: String) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (127, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
