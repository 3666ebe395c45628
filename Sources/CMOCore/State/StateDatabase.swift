import Foundation
import GRDB

/// Opens the SQLite files of the state directory (HTTP cache, GitHub histories, DNS cache) the one
/// way that is safe for several stages and runs at once: WAL, a 10 s busy timeout, and the schema
/// created if missing.
enum StateDatabase {
    /// Opens (or creates) `file` and runs `schema` in a write transaction. Runs started together
    /// race to switch a new file to WAL, which takes no busy timeout; that SQLITE_BUSY is retried.
    static func open(_ file: String, schema: String) throws -> DatabasePool {
        var attempt = 0
        while true {
            do {
                var config = Configuration()
                config.busyMode = .timeout(10)
                let pool = try DatabasePool(path: file, configuration: config)
                try pool.write { db in try db.execute(sql: schema) }
                return pool
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && attempt < 50 {
                attempt += 1
                usleep(useconds_t.random(in: 5_000...40_000))
            }
        }
    }
}
