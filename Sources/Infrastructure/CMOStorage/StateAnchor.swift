import CMOBasics
import Foundation
import GRDB

/// Notices a state database that lost its history (emptied, truncated, deleted, replaced by another
/// file, copied from another machine, rolled back to an older copy) before anything is written
/// through it.
///
/// Each tracked database (the write ledger, the suppression list, the job queue) carries an identity in
/// a one-row table `cmo_identity`: a random id, when it was made, and a generation, the number of rows
/// ever inserted into its main table (an `AFTER INSERT` trigger counts them; deletes do not lower it).
/// `state-anchor.json` beside the databases (mode 0600, replaced atomically through a rename, under an
/// flock) records, per file name, the id and the highest generation seen. When a database is opened:
/// - no anchor entry for it (a new state directory, or one from before anchors): it is adopted;
/// - the same id and a generation at least the anchor's: fine, the anchor's generation moves up;
/// - another id (a new empty file where one with history was, another machine's copy), or a lower
///   generation (an older copy): `LostStateHistory` (exit 78) naming the file, what was expected and
///   how to recover. Nothing is written through it until a person rebuilds it or accepts it.
///
/// The anchor is written when a database is opened and once more when the process exits (the
/// generation it reached), never per row.
public enum StateAnchor {
    /// The anchor's file name in the state directory.
    public static let fileName = "state-anchor.json"

    /// A tracked database: its file name in the state directory, its main table, what people call it.
    public struct Tracked: Sendable {
        public var file: String
        public var table: String
        public var what: String
        /// How to get the history back, in the error's words.
        public var recovery: String
        /// The word `cmo-plan accept-state` takes.
        public var name: String
    }

    public static let ledger = Tracked(
        file: "ledger.sqlite", table: "writes", what: "the write ledger",
        recovery: "restore the file from a backup, or rebuild it from what the services hold: "
            + "`cmo-plan rebuild-ledger --campaign ID [--list ID] [--team ID]` (reads Instantly, Attio and Linear, records what they "
            + "hold, then re-runs write nothing twice); to start over with an empty ledger on purpose: `cmo-plan accept-state ledger`",
        name: "ledger")
    public static let suppression = Tracked(
        file: "suppression.sqlite", table: "suppression", what: "the suppression list",
        recovery: "restore the file from a backup (opt-outs and bounces it held would otherwise be contacted again), or re-import "
            + "them (`cmo-suppress import FILE`), then accept the list as it is now: `cmo-plan accept-state suppression`",
        name: "suppression")
    public static let jobs = Tracked(
        file: "jobs.sqlite", table: "jobs", what: "the job queue",
        recovery: "restore the file from a backup, or accept the queue as it is now: `cmo-plan accept-state jobs` "
            + "(run directories stay; `cmo-plan resume <id>` continues a job from its run directory)",
        name: "jobs")
    public static let all = [ledger, suppression, jobs]

    /// One database's entry in the anchor.
    public struct Entry: Codable, Sendable, Equatable {
        public var id: String
        public var createdAt: String
        public var generation: Int64
        public var updatedAt: String
        enum CodingKeys: String, CodingKey { case id, createdAt = "created_at", generation, updatedAt = "updated_at" }
    }

    /// A database's own identity.
    public struct Identity: Sendable, Equatable {
        public var id: String
        public var createdAt: Double
        public var generation: Int64
    }

    // MARK: - Opening

    /// Gives the database at `path` its identity if it has none (the generation starts at the rows its
    /// table holds), checks it against the anchor, and records it. Throws `LostStateHistory` when the
    /// anchor says the file had a history it no longer has, unless `accepting` holds the file name.
    public static func attach(_ pool: DatabasePool, path: String, table: String, what: String) throws {
        let identity = try ensureIdentity(pool, table: table)
        let dir = (path as NSString).deletingLastPathComponent
        let file = (path as NSString).lastPathComponent
        try withAnchor(dir) { anchor in
            if let entry = anchor[file], !isAccepted(file) {
                if let problem = compare(identity, entry) {
                    throw LostStateHistory(
                        path: path, what: what, problem: problem, expected: entry, anchorPath: dir + "/" + fileName,
                        recovery: tracked(file)?.recovery ?? "restore the file from a backup")
                }
            }
            anchor[file] = entry(identity, previous: accepted(file) ? nil : anchor[file])
        }
        registry.add(pool: pool, dir: dir, file: file)
    }

    /// Files a command accepts as they are (`cmo-plan rebuild-ledger`, `accept-state`): set before opening.
    public static func accept(_ file: String) { registry.accept(file) }
    static func isAccepted(_ file: String) -> Bool { registry.isAccepted(file) }
    static func accepted(_ file: String) -> Bool { registry.isAccepted(file) }

    /// `verify(directory:)` for the state directory of `environment`, when the ledger and the suppression
    /// list live there: with a team database (`CMO_DATABASE_URL`) they live in the server, which keeps
    /// its own history, and SQLite files left from before are not this run's state.
    public static func verify(environment: [String: String]) throws {
        if case .postgres = try StorageBackend.from(environment: environment) { return }
        try verify(directory: StateDirectory.path(environment: environment))
    }

    /// Checks, without creating or changing anything, that every database the anchor of `dir` knows
    /// among `files` still has its history: a writer calls this before its first request. A file the
    /// anchor lists that is gone counts as lost too.
    public static func verify(directory dir: String, _ files: [Tracked] = [ledger, suppression]) throws {
        let anchorPath = dir + "/" + fileName
        guard FileManager.default.fileExists(atPath: anchorPath) else { return }
        let anchor = try read(anchorPath)
        for t in files {
            guard let entry = anchor[t.file], !isAccepted(t.file) else { continue }
            let path = dir + "/" + t.file
            let identity = FileManager.default.fileExists(atPath: path) ? try? readIdentity(path) : nil
            let found = identity ?? Identity(id: "", createdAt: 0, generation: 0)
            if let problem = compare(found, entry, missing: !FileManager.default.fileExists(atPath: path)) {
                throw LostStateHistory(path: path, what: t.what, problem: problem, expected: entry, anchorPath: anchorPath, recovery: t.recovery)
            }
        }
    }

    /// Makes the anchor take the database at `dir/file` as it is now (`cmo-plan accept-state`, a rebuild).
    /// Returns the identity it now records (nil when the file does not exist: the entry is dropped).
    @discardableResult
    public static func adopt(directory dir: String, _ t: Tracked) throws -> Identity? {
        let path = dir + "/" + t.file
        var identity: Identity?
        if FileManager.default.fileExists(atPath: path) {
            let pool = try StateDatabase.open(path, migrator: DatabaseMigrator())
            identity = try ensureIdentity(pool, table: t.table, tableMayBeMissing: true)
        }
        try withAnchor(dir) { anchor in
            if let identity { anchor[t.file] = entry(identity, previous: nil) } else { anchor[t.file] = nil }
        }
        return identity
    }

    /// What the anchor of `dir` says, by file name (empty when there is none).
    public static func entries(directory dir: String) throws -> [String: Entry] {
        let path = dir + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        return try read(path)
    }

    // MARK: - Internals

    static func tracked(_ file: String) -> Tracked? { all.first { $0.file == file } }

    /// `2026-12-02T16:17:30Z`.
    static func iso(_ t: Double) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date(timeIntervalSince1970: t))
    }

    /// Why `identity` is not the database `entry` describes, or nil when it is (or a newer state of it).
    static func compare(_ identity: Identity, _ entry: Entry, missing: Bool = false) -> String? {
        if missing { return "the file is gone" }
        if identity.id != entry.id {
            if identity.generation == 0 {
                return identity.id.isEmpty
                    ? "it is empty (truncated, or a new file where the old one was)"
                    : "it is a new, empty database (created \(iso(identity.createdAt)))"
            }
            return identity.id.isEmpty
                ? "it has no identity: another file (an older copy, or one from another machine) replaced the one this directory used"
                : "it is another database (id \(identity.id.prefix(8)), \(identity.generation) rows written, created "
                    + "\(iso(identity.createdAt))): a copy from another "
                    + "machine or another state directory replaced the one this directory used"
        }
        if identity.generation < entry.generation {
            return "it holds \(identity.generation) rows written where it held \(entry.generation): an older copy replaced it"
        }
        return nil
    }

    static func entry(_ identity: Identity, previous: Entry?) -> Entry {
        Entry(
            id: identity.id, createdAt: iso(identity.createdAt),
            generation: max(identity.generation, previous?.id == identity.id ? previous!.generation : 0),
            updatedAt: iso(Date().timeIntervalSince1970))
    }

    static func ensureIdentity(_ pool: DatabasePool, table: String, tableMayBeMissing: Bool = false) throws -> Identity {
        try StateDatabase.immediate(pool) { db in
            var out: Identity?
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS cmo_identity (
                        one INTEGER PRIMARY KEY CHECK (one = 1), id TEXT NOT NULL, created_at REAL NOT NULL, generation INTEGER NOT NULL)
                    """)
            let hasTable = try db.tableExists(table)
            if hasTable {
                try db.execute(
                    sql: "CREATE TRIGGER IF NOT EXISTS cmo_identity_\(table)_inserted AFTER INSERT ON \(table) "
                        + "BEGIN UPDATE cmo_identity SET generation = generation + 1 WHERE one = 1; END")
            }
            if let r = try Row.fetchOne(db, sql: "SELECT id, created_at, generation FROM cmo_identity WHERE one = 1") {
                out = Identity(id: r["id"], createdAt: r["created_at"], generation: r["generation"])
            } else {
                let rows = hasTable ? try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0 : 0
                let identity = Identity(id: UUID().uuidString.lowercased(), createdAt: Date().timeIntervalSince1970, generation: rows)
                try db.execute(
                    sql: "INSERT INTO cmo_identity (one, id, created_at, generation) VALUES (1, ?, ?, ?)",
                    arguments: [identity.id, identity.createdAt, identity.generation])
                out = identity
            }
            return out!
        }
    }

    /// The identity of the database at `path`, read only (nil when it has none).
    static func readIdentity(_ path: String) throws -> Identity? {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(10)
        let queue = try DatabaseQueue(path: path, configuration: config)
        return try queue.read { db in
            guard try db.tableExists("cmo_identity") else { return nil }
            return try Row.fetchOne(db, sql: "SELECT id, created_at, generation FROM cmo_identity WHERE one = 1").map {
                Identity(id: $0["id"], createdAt: $0["created_at"], generation: $0["generation"])
            }
        }
    }

    static func read(_ path: String) throws -> [String: Entry] {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return [:] }
        struct File: Codable { var databases: [String: Entry] }
        do {
            return try JSONDecoder().decode(File.self, from: data).databases
        } catch {
            throw StageFailure(
                .config, "the state anchor '\(path)' is not readable JSON (\(error)); remove it to start over (the databases are then adopted as they are)")
        }
    }

    /// Reads, changes and replaces the anchor of `dir` under an exclusive flock (a temp file, fsync, rename; mode 0600).
    static func withAnchor(_ dir: String, _ change: (inout [String: Entry]) throws -> Void) throws {
        let path = dir + "/" + fileName
        let lockPath = dir + "/." + fileName + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw IOFailure.file(lockPath, errno: errno, doing: "open", otherwise: .config) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(fd, LOCK_UN) }
        var anchor = try read(path)
        let before = anchor
        try change(&anchor)
        guard anchor != before else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        struct File: Codable { var version = 1; var databases: [String: Entry] }
        let data = try encoder.encode(File(databases: anchor))
        let tmp = dir + "/." + fileName + ".tmp-\(getpid())"
        let out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw IOFailure.file(tmp, errno: errno, doing: "write", otherwise: .config) }
        var ok = data.withUnsafeBytes { b in write(out, b.baseAddress, b.count) == b.count }
        ok = ok && fsync(out) == 0
        let code = errno
        close(out)
        guard ok, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw IOFailure.write(path, errno: ok ? errno : code)
        }
    }

    /// The databases this process attached, refreshed in the anchor once when it exits.
    static let registry = Registry()

    final class Registry: @unchecked Sendable {
        private let lock = NSLock()
        private var pools: [(pool: DatabasePool, dir: String, file: String)] = []
        private var acceptedFiles: Set<String> = []
        private var hooked = false

        func add(pool: DatabasePool, dir: String, file: String) {
            lock.lock()
            defer { lock.unlock() }
            if !pools.contains(where: { $0.dir == dir && $0.file == file }) { pools.append((pool, dir, file)) }
            if !hooked {
                hooked = true
                atexit { StateAnchor.registry.refresh() }
            }
        }

        func accept(_ file: String) {
            lock.lock()
            defer { lock.unlock() }
            acceptedFiles.insert(file)
        }

        func isAccepted(_ file: String) -> Bool {
            lock.lock()
            defer { lock.unlock() }
            return acceptedFiles.contains(file)
        }

        /// Moves each attached database's generation up in its anchor (only up, only for the same id).
        func refresh() {
            lock.lock()
            let list = pools
            lock.unlock()
            for p in list {
                guard let identity = try? p.pool.read({ db in
                    try Row.fetchOne(db, sql: "SELECT id, created_at, generation FROM cmo_identity WHERE one = 1").map {
                        Identity(id: $0["id"], createdAt: $0["created_at"], generation: $0["generation"])
                    }
                }) ?? nil else { continue }
                try? StateAnchor.withAnchor(p.dir) { anchor in
                    guard let e = anchor[p.file], e.id == identity.id, identity.generation > e.generation else { return }
                    anchor[p.file] = StateAnchor.entry(identity, previous: e)
                }
            }
        }
    }

    /// Refreshes the anchor now (a long-running process, or a test).
    public static func refreshNow() { registry.refresh() }
}

/// A state database that lost its history: exit 78, naming the file, what the anchor expected and how to
/// recover. Nothing was written.
public struct LostStateHistory: CMOError {
    public let path: String
    public let what: String
    public let problem: String
    public let expected: StateAnchor.Entry
    public let anchorPath: String
    public let recovery: String

    public var exitStatus: ExitStatus { .config }
    public var description: String {
        "\(what) '\(path)' lost its history: \(problem); the state anchor '\(anchorPath)' says it is database \(expected.id.prefix(8)) "
            + "(created \(expected.createdAt)) with \(expected.generation) rows written (last seen \(expected.updatedAt)). "
            + "Nothing was written: writing now could send to everyone again and overrun today's cap. To recover: \(recovery)"
    }
    public var logFields: [String: JSONValue] {
        [
            "state_file": .string(path), "expected_id": .string(expected.id), "expected_rows": .int(Int(expected.generation)),
            "anchor": .string(anchorPath),
        ]
    }
}
