import CMOBasics
import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#endif

/// Opens the SQLite files of the state directory (HTTP cache, GitHub histories, DNS cache, the write
/// ledger, the suppression list) the one way that is safe for several stages and runs at once: WAL,
/// a 10 s busy timeout, and the schema created or migrated if needed.
public enum StateDatabase {
    /// Opens (or creates) `file` and runs `schema` in a write transaction. Runs started together
    /// race to switch a new file to WAL, which takes no busy timeout; that SQLITE_BUSY is retried.
    /// `synchronous` sets SQLite's pragma of that name for files whose last commits may be lost on a
    /// power cut (`NORMAL`: no sync per commit in WAL); nil keeps SQLite's default.
    package static func open(_ file: String, schema: String, synchronous: String? = nil) throws -> DatabasePool {
        try diskErrors(file) {
            try retryingRaces {
                let pool = try makePool(file, synchronous: synchronous)
                try pool.write { db in try db.execute(sql: schema) }
                return pool
            }
        }
    }

    /// Opens (or creates) `file` and applies `migrator`'s migrations (GRDB's `grdb_migrations` table
    /// records which ran). Two processes migrating a new file at once: the loser's SQLITE_BUSY or
    /// constraint failure is retried, and it then finds the migrations applied. Write each migration
    /// so that running it after another process did is harmless (`IF NOT EXISTS`).
    public static func open(_ file: String, migrator: DatabaseMigrator) throws -> DatabasePool {
        try diskErrors(file) {
            try retryingRaces(alsoConstraint: true) {
                let pool = try makePool(file)
                try migrator.migrate(pool)
                return pool
            }
        }
    }

    /// The error a stage stops with when `what` (`the write ledger '…/ledger.sqlite'`) cannot be opened:
    /// a full disk or an I/O error as it is (74), anything else a configuration problem (78).
    public static func openFailure(_ error: Error, _ what: String) -> any CMOError {
        if let lost = error as? LostStateHistory { return lost }
        if let e = ((error as? any CMOErrorConvertible)?.cmoError ?? error) as? any CMOError, e.exitStatus == .ioError { return e }
        return StageFailure(.config, "cannot open \(what): \(error)")
    }

    /// Runs `body` in a write transaction that takes the write lock at its start (BEGIN IMMEDIATE), so a
    /// read-then-write never fails with SQLITE_BUSY_SNAPSHOT against another process: the one way every
    /// store of the state directory (ledger, limits, identity) claims something atomically.
    public static func immediate<T>(_ pool: DatabasePool, _ body: (Database) throws -> T) throws -> T {
        try pool.writeWithoutTransaction { db in
            var value: T?
            try db.inTransaction(.immediate) {
                value = try body(db)
                return .commit
            }
            return value!
        }
    }

    /// Whether SQLite's error means the disk refused the write (SQLITE_FULL, SQLITE_IOERR).
    static func isDiskError(_ error: DatabaseError) -> Bool {
        error.resultCode == .SQLITE_FULL || error.resultCode == .SQLITE_IOERR
    }

    /// `cannot write 'FILE': disk full (SQLite: database or disk is full)`, exit 74.
    static func diskFailure(_ error: DatabaseError, file: String) -> StageFailure {
        let sqlite = "SQLite: " + (error.message ?? "\(error.resultCode)")
        let reason = error.resultCode == .SQLITE_FULL ? "disk full (\(sqlite))" : "I/O error (\(sqlite))"
        return StageFailure(.ioError, "cannot write \(file): \(reason)")
    }

    /// Runs an open of `file`, turning a full disk into exit 74 naming the file, and remembers the file
    /// for later errors (`DatabaseError.cmoError`).
    private static func diskErrors(_ file: String, _ body: () throws -> DatabasePool) throws -> DatabasePool {
        do {
            let pool = try body()
            openFiles.add(file)
            return pool
        } catch let error as DatabaseError where isDiskError(error) {
            throw diskFailure(error, file: "'\(file)'")
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CANTOPEN {
            // SQLite says only "unable to open database file" when the disk refused the file or its -wal/-shm
            // (no inode left, no block for the header): ask the directory why, so a full disk is 74, not 78.
            if let code = diskRefusal(file) { throw IOFailure.write(file, errno: code, doing: "create") }
            throw error
        } catch let error as CocoaError {
            if let code = posixCode(error), IOFailure.isDiskError(code) { throw IOFailure.write(file, errno: code, doing: "create") }
            throw error
        }
    }

    /// The errno (ENOSPC, EDQUOT, EIO, EROFS, EFBIG) with which the directory of `file` refuses a new file
    /// or its first byte, else nil: what SQLITE_CANTOPEN, which keeps the system's reason to itself, meant.
    static func diskRefusal(_ file: String) -> Int32? {
        let dir = (file as NSString).deletingLastPathComponent
        let probe = (dir.isEmpty ? "." : dir) + "/.cmo-disk-probe-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = Glibc.open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            let code = errno
            return IOFailure.isDiskError(code) ? code : nil
        }
        defer {
            close(fd)
            unlink(probe)
        }
        var byte: UInt8 = 0x0a
        if Glibc.write(fd, &byte, 1) < 0 {
            let code = errno
            return IOFailure.isDiskError(code) ? code : nil
        }
        return nil
    }

    /// The state files this process opened, for naming the file an SQLite error (which does not say
    /// which database it came from) was about.
    static let openFiles = OpenFiles()

    final class OpenFiles: @unchecked Sendable {
        private let lock = NSLock()
        private var files: [String] = []
        var all: [String] {
            lock.lock()
            defer { lock.unlock() }
            return files
        }
        func add(_ file: String) {
            lock.lock()
            defer { lock.unlock() }
            if !files.contains(file) { files.append(file) }
        }
        /// `'…/ledger.sqlite'`, or `a state database in '…' (ledger.sqlite or http-cache.sqlite)`.
        var described: String {
            lock.lock()
            defer { lock.unlock() }
            switch files.count {
            case 0: return "a state database"
            case 1: return "'\(files[0])'"
            default:
                let dirs = Set(files.map { ($0 as NSString).deletingLastPathComponent })
                if dirs.count == 1, let dir = dirs.first {
                    return "a state database in '\(dir)' (\(files.map { ($0 as NSString).lastPathComponent }.joined(separator: " or ")))"
                }
                return "a state database (\(files.map { "'\($0)'" }.joined(separator: " or ")))"
            }
        }
    }

    private static func makePool(_ file: String, synchronous: String? = nil) throws -> DatabasePool {
        let dir = (file as NSString).deletingLastPathComponent
        if !dir.isEmpty, !FileManager.default.fileExists(atPath: dir) {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        var config = Configuration()
        config.busyMode = .timeout(10)
        if let synchronous { config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") } }
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

/// SQLite's errors as a stage reports them: a full disk or an I/O error is 74 naming the state file;
/// anything else stays an internal error (1), as before.
extension DatabaseError: CMOErrorConvertible {
    public var cmoError: any CMOError {
        if StateDatabase.isDiskError(self) { return StateDatabase.diskFailure(self, file: StateDatabase.openFiles.described) }
        // A -wal or -shm that cannot be made after the open (a new reader, a checkpoint) on a full disk.
        if resultCode == .SQLITE_CANTOPEN {
            for file in StateDatabase.openFiles.all {
                if let code = StateDatabase.diskRefusal(file) { return IOFailure.write(file, errno: code, doing: "create") }
            }
        }
        return StageFailure(.failure, "internal error: \(self)")
    }
}
