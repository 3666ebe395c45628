import CMOBasics
import CMOTestSupport
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

@testable import CMOStorage

/// The team database's client: the URL, versioned migrations, one-at-a-time transactions, and the exit
/// statuses a stage ends with when the database is not there.
final class PostgresDatabaseTests: XCTestCase {
    func testTheURLIsReadAsLibpqSpellsItAndNeverPrintsThePassword() throws {
        let u = try PostgresURL("postgresql://cmo:s%40cret@db.example:6543/team?sslmode=require&pool=8")
        XCTAssertEqual(u.host, "db.example")
        XCTAssertEqual(u.port, 6543)
        XCTAssertEqual(u.user, "cmo")
        XCTAssertEqual(u.password, "s@cret")
        XCTAssertEqual(u.database, "team")
        XCTAssertEqual(u.sslMode, .require)
        XCTAssertEqual(u.poolSize, 8)
        XCTAssertEqual(u.description, "postgres://cmo@db.example:6543/team")
        XCTAssertFalse("\(StorageBackend.postgres(u))".contains("cret"))
        XCTAssertThrowsError(try PostgresURL("mysql://x@y/z")) { XCTAssertEqual(($0 as? StageFailure)?.exitStatus, .config) }
        XCTAssertThrowsError(try PostgresURL("postgres://cmo:pw@h/d?sslmode=sometimes")) {
            XCTAssertFalse("\($0)".contains("pw"))
        }
        XCTAssertEqual(try StorageBackend.from(environment: ["CMO_STATE_DIR": NSTemporaryDirectory() + "cmo-b-\(UUID())"]).isShared, false)
        XCTAssertEqual(try StorageBackend.from(environment: ["CMO_DATABASE_URL": "postgres://a@b/c"]).isShared, true)
    }

    func testMigrationsRunOnceInOrderAndAnOlderCmoRefusesANewerSchema() throws {
        let env = try StorageBackends.postgresEnvironment()
        let db = try XCTUnwrap(try StorageBackend.from(environment: env).database(environment: env))
        let migrations: [(name: String, sql: String)] = [
            ("v1", "CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)"),
            ("v2", "ALTER TABLE t ADD COLUMN w DOUBLE PRECISION"),
        ]
        try db.migrate("test", migrations)
        try db.migrate("test", migrations)  // already applied
        XCTAssertEqual(try db.schemaVersions()["test"], 2)
        try db.read { c in
            XCTAssertEqual(try c.execute("INSERT INTO t (id, v, w) VALUES ($1, $2, $3)", [1, "a", .double(1.5)]), 1)
            let r = try XCTUnwrap(try c.one("SELECT id, v, w, COUNT(*) OVER () AS n FROM t"))
            XCTAssertEqual(r.int("id"), 1)
            XCTAssertEqual(r.string("v"), "a")
            XCTAssertEqual(r.double("w"), 1.5)
            XCTAssertEqual(r.int("n"), 1)
        }
        // Another process with only v1 must not write into a v2 schema.
        let other = PostgresDatabase(url: db.url, retryWindow: 1)
        XCTAssertThrowsError(try other.migrate("test", Array(migrations.prefix(1)))) {
            XCTAssertEqual(($0 as? StageFailure)?.exitStatus, .config)
        }
    }

    func testTransactionsNamingOneLockRunOneAtATime() throws {
        let env = try StorageBackends.postgresEnvironment()
        let db = try XCTUnwrap(try StorageBackend.from(environment: env).database(environment: env))
        try db.read { c in _ = try c.execute("CREATE TABLE counter (n BIGINT NOT NULL)"); _ = try c.execute("INSERT INTO counter VALUES (0)") }
        // Read-then-write from 4 threads: without the lock, increments would be lost.
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<25 {
                try? db.transaction(lock: "counter") { c in
                    let n = try c.one("SELECT n FROM counter")?.int64("n") ?? 0
                    try c.execute("UPDATE counter SET n = $1", [.int(n + 1)])
                }
            }
        }
        XCTAssertEqual(try db.read { try $0.one("SELECT n FROM counter")?.int("n") }, 100)
        // A failing body rolls back.
        XCTAssertThrowsError(try db.transaction { c in
            try c.execute("UPDATE counter SET n = 0")
            throw StageFailure(.failure, "no")
        })
        XCTAssertEqual(try db.read { try $0.one("SELECT n FROM counter")?.int("n") }, 100)
    }

    func testANonexistentServerIs69WithoutThePassword() throws {
        // A port nothing listens on.
        let url = try PostgresURL("postgres://cmo:hunter2@127.0.0.1:1/cmo")
        let db = PostgresDatabase(url: url, retryWindow: 0.5)
        let started = Date()
        XCTAssertThrowsError(try db.read { try $0.execute("SELECT 1") }) { error in
            XCTAssertEqual((error as? StageFailure)?.exitStatus, .unavailable, "\(error)")
            XCTAssertTrue("\(error)".contains("127.0.0.1:1"), "\(error)")
            XCTAssertFalse("\(error)".contains("hunter2"))
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
    }

    func testANonexistentDatabaseIs78() throws {
        let env = try StorageBackends.postgresEnvironment()
        var url = try PostgresURL(env["CMO_DATABASE_URL"]!)
        url.database = "no_such_database_here"
        let db = PostgresDatabase(url: url, retryWindow: 1)
        XCTAssertThrowsError(try db.read { try $0.execute("SELECT 1") }) { error in
            XCTAssertEqual((error as? StageFailure)?.exitStatus, .config, "\(error)")
        }
    }

    /// The server restarts under a stream of transactions: each is re-run on a new connection, none is lost
    /// or applied twice; a server that stays away ends the call with 75 after the retry window.
    func testAServerRestartMidRunLosesNothingAndOneThatStaysDownIs75() throws {
        if let why = StorageBackends.postgresUnavailable { throw XCTSkip(why) }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("bin/pg-test-server").path
        let dir = NSTemporaryDirectory() + "cmo-pg-restart-\(UUID().uuidString)"
        @Sendable func server(_ cmd: String) -> (Int32, String) {
            // posix_spawn and waitpid, output through a file: Foundation's Process does not always see a script
            // that leaves a daemon behind end.
            let outFile = NSTemporaryDirectory() + "cmo-pg-\(UUID().uuidString).out"
            defer { try? FileManager.default.removeItem(atPath: outFile) }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, outFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            let argv: [UnsafeMutablePointer<CChar>?] = [strdup(script), strdup(cmd), strdup(dir), nil]
            defer { argv.forEach { free($0) } }
            var pid: pid_t = 0
            guard posix_spawn(&pid, script, &actions, nil, argv, environ) == 0 else { return (127, "cannot start \(script)") }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let out = (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? ""
            return ((status >> 8) & 0xff, out.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let (status, urlText) = server("start")
        guard status == 0 else { throw XCTSkip("cannot start a second PostgreSQL server: \(urlText)") }
        defer {
            _ = server("stop")
            try? FileManager.default.removeItem(atPath: dir)
        }
        let db = PostgresDatabase(url: try PostgresURL(urlText), retryWindow: 20)
        try db.migrate("restart", [("v1", "CREATE TABLE w (k TEXT PRIMARY KEY, n BIGINT NOT NULL DEFAULT 1)")])
        let restarted = expectation(description: "restarted")
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) {
            _ = server("restart")
            restarted.fulfill()
        }
        for i in 0..<400 {
            try db.transaction(lock: "w") { c in
                try c.execute("INSERT INTO w (k) VALUES ($1) ON CONFLICT (k) DO UPDATE SET n = w.n + 1", [.text("k\(i)")])
            }
            usleep(2_000)
        }
        wait(for: [restarted], timeout: 60)
        let counts = try db.read { c in try c.one("SELECT COUNT(*) AS rows, SUM(n)::bigint AS total FROM w") }
        XCTAssertEqual(counts?.int("rows"), 400, "nothing lost")
        // A commit whose answer was lost with the connection may be applied and then re-run: the keyed insert
        // makes that a second count on the same row, never a second row (what the ledger's keys are for).
        XCTAssertLessThanOrEqual(counts?.int("total") ?? 0, 401)

        _ = server("stop")
        db.retryWindow = 1
        XCTAssertThrowsError(try db.read { try $0.execute("SELECT 1") }) { error in
            XCTAssertEqual((error as? StageFailure)?.exitStatus, .tempFail, "\(error)")
            XCTAssertTrue("\(error)".contains("run again"), "\(error)")
        }
    }
}
