import Foundation
import GRDB

/// Opens the SQLite files of the state directory (HTTP cache, GitHub histories, DNS cache, the write
/// ledger, the suppression list) the one way that is safe for several stages and runs at once: WAL,
/// a 10 s busy timeout, and the schema created or migrated if needed.
public enum StateDatabase {
    /// Opens (or creates) `file` and runs `schema` in a write transaction. Runs started together
    /// race to switch a new file to WAL, which takes no busy timeout; that SQLITE_BUSY is retried.
    package static func open(_ file: String, schema: String) throws -> DatabasePool {
        try retryingRaces {
            let pool = try makePool(file)
            try pool.write { db in try db.execute(sql: schema) }
            return pool
        }
    }

    /// Opens (or creates) `file` and applies `migrator`'s migrations (GRDB's `grdb_migrations` table
    /// records which ran). Two processes migrating a new file at once: the loser's SQLITE_BUSY or
    /// constraint failure is retried, and it then finds the migrations applied. Write each migration
    /// so that running it after another process did is harmless (`IF NOT EXISTS`).
    public static func open(_ file: String, migrator: DatabaseMigrator) throws -> DatabasePool {
        try retryingRaces(alsoConstraint: true) {
            let pool = try makePool(file)
            try migrator.migrate(pool)
            return pool
        }
    }

    private static func makePool(_ file: String) throws -> DatabasePool {
        let dir = (file as NSString).deletingLastPathComponent
        if !dir.isEmpty, !FileManager.default.fileExists(atPath: dir) {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        var config = Configuration()
        config.busyMode = .timeout(10)
        return try DatabasePool(path: file, configuration: config)
    }

    private static func retryingRaces(alsoConstraint: Bool = false, _ body: () throws -> DatabasePool) throws -> DatabasePool {
        var attempt = 0
        while true {
            do {
                return try body()
            } catch let error as DatabaseError
                where attempt < 50
                && (error.resultCode == .SQLITE_BUSY || (alsoConstraint && error.resultCode == .SQLITE_CONSTRAINT))
            {
                attempt += 1
                usleep(useconds_t.random(in: 5_000...40_000))
            }
        }
    }
}
