import Foundation
import CMOTestSupport
import XCTest

@testable import CMOStorage
@testable import CMOLedger
@testable import CMOWriters

/// The write ledger: claims, outcomes, owners that died, counts per day, the crash hook's absence.
final class WriteLedgerTests: XCTestCase {
    func ledger(_ dir: String, run: String = "run-a") throws -> WriteLedger {
        try WriteLedger(path: dir + "/ledger.sqlite", runID: run)
    }

    func tempDir() -> String {
        let dir = NSTemporaryDirectory() + "cmo-ledger-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func intent(_ email: String) -> WriteLedger.Intent {
        .init(key: "instantly:lead:c1:\(email)", service: "instantly", target: "c1", subject: email)
    }

    func testClaimThenConfirmHoldsTheRowForEveryLaterRun() throws {
        try StorageBackends.each { _, env in
            let l = try WriteLedger.open(environment: env, runID: "run-a")
            let claims = try l.claim([intent("a@x.org"), intent("b@x.org")], day: "2026-12-01")
            XCTAssertEqual(claims["instantly:lead:c1:a@x.org"], .claimed(previous: nil))
            XCTAssertEqual(try l.countToday(service: "instantly", target: "c1", day: "2026-12-01"), 2, "claimed rows count against the cap")
            try l.record([.init(key: "instantly:lead:c1:a@x.org", state: .confirmed, remoteID: "lead-1")])
            try l.record([.init(key: "instantly:lead:c1:b@x.org", state: .failed, reason: "in blocklist")])

            let later = try WriteLedger.open(environment: env, runID: "run-b")
            let again = try later.claim([intent("a@x.org"), intent("b@x.org")], day: "2026-12-02")
            guard case .held(let row)? = again["instantly:lead:c1:a@x.org"] else { return XCTFail("\(again)") }
            XCTAssertEqual(row.remoteID, "lead-1")
            XCTAssertEqual(row.runID, "run-a")
            guard case .claimed(let previous)? = again["instantly:lead:c1:b@x.org"] else { return XCTFail("\(again)") }
            XCTAssertEqual(previous?.state, .failed, "a failed write may be tried again")
            XCTAssertEqual(try later.rows(["instantly:lead:c1:b@x.org"])["instantly:lead:c1:b@x.org"]?.attempts, 2)
            XCTAssertEqual(try later.countToday(service: "instantly", target: "c1", day: "2026-12-01"), 1)
        }
    }

    func testARowOfALiveOwnerIsHeldAndOneOfADeadOwnerIsRecovered() throws {
        let dir = tempDir()
        let l = try ledger(dir)
        _ = try l.claim([intent("a@x.org"), intent("b@x.org")], day: "2026-12-01")
        // Make a@ look owned by a live process (our parent) and b@ by one that is gone.
        let pool = try StateDatabase.open(dir + "/ledger.sqlite", migrator: .init())
        let host = ProcessIdentity.host
        try pool.write { db in
            try db.execute(sql: "UPDATE writes SET owner = ? WHERE subject = 'a@x.org'", arguments: ["\(host):\(getppid())"])
            try db.execute(sql: "UPDATE writes SET owner = ? WHERE subject = 'b@x.org'", arguments: ["\(host):2147483000"])
        }
        let claims = try ledger(dir, run: "run-b").claim([intent("a@x.org"), intent("b@x.org")], day: "2026-12-01")
        guard case .held(let held)? = claims["instantly:lead:c1:a@x.org"] else { return XCTFail("\(claims)") }
        XCTAssertEqual(held.state, .intended)
        guard case .claimed(let previous)? = claims["instantly:lead:c1:b@x.org"] else { return XCTFail("\(claims)") }
        XCTAssertEqual(previous?.state, .intended, "the writer must look the write up before sending it again")
    }

    func testDeferredRowsWithTheirDayAndOutcomesForNewKeys() throws {
        try StorageBackends.each { _, env in
            let l = try WriteLedger.open(environment: env, runID: "run-a")
            let i = intent("c@x.org")
            try l.record([.init(key: i.key, state: .deferred, reason: "daily cap", eligibleOn: "2026-12-02")], intents: [i.key: i])
            XCTAssertEqual(try l.eligibleDeferred(service: "instantly", target: "c1", day: "2026-12-01", since: "2026-11-01"), 0)
            XCTAssertEqual(try l.eligibleDeferred(service: "instantly", target: "c1", day: "2026-12-02", since: "2026-11-01"), 1)
            XCTAssertEqual(try l.deferredCount(service: "instantly", target: "c1"), 1)
            XCTAssertEqual(try l.counts(service: "instantly", target: "c1"), [.deferred: 1])
            let claims = try l.claim([i], day: "2026-12-02")
            guard case .claimed(let previous)? = claims[i.key] else { return XCTFail("\(claims)") }
            XCTAssertEqual(previous?.state, .deferred)
            XCTAssertEqual(previous?.eligibleOn, "2026-12-02")
            XCTAssertEqual(try l.rows([i.key])[i.key]?.state, .intended)
        }
    }

    func testTwoLedgersOnOneFileClaimEachKeyOnce() throws {
        try StorageBackends.each { _, env in
            let keys = (0..<200).map { intent("p\($0)@x.org") }
            let a = try WriteLedger.open(environment: env, runID: "run-a")
            let b = try WriteLedger.open(environment: env, runID: "run-b")
            nonisolated(unsafe) var claimedA = 0
            nonisolated(unsafe) var claimedB = 0
            let group = DispatchGroup()
            for (l, counter) in [(a, 0), (b, 1)] {
                group.enter()
                DispatchQueue.global().async {
                    defer { group.leave() }
                    for chunk in stride(from: 0, to: keys.count, by: 10) {
                        let claims = (try? l.claim(Array(keys[chunk..<chunk + 10]), day: "2026-12-01")) ?? [:]
                        for (key, claim) in claims {
                            guard case .claimed(let previous) = claim, previous == nil else { continue }
                            try? l.record([.init(key: key, state: .confirmed, remoteID: "id")])
                            if counter == 0 { claimedA += 1 } else { claimedB += 1 }
                        }
                    }
                }
            }
            group.wait()
            XCTAssertEqual(claimedA + claimedB, 200, "each key created by exactly one of them")
            XCTAssertEqual(try a.counts(service: "instantly", target: "c1")[.confirmed], 200)
        }
    }

    func testRunIDsAndTheKeyOfALead() throws {
        XCTAssertEqual(InstantlyWriter.key(campaign: "c1", email: "Ann@Example.ORG"), "instantly:lead:c1:ann@example.org")
        let id = WriteLedger.newRunID(now: Date(timeIntervalSince1970: 1_796_000_000))
        XCTAssertTrue(id.hasPrefix("run-20261130-"), id)
        let l = try WriteLedger.open(environment: ["CMO_STATE_DIR": tempDir(), "CMO_JOB_ID": "job-42"])
        XCTAssertEqual(l.runID, "job-42")
    }

    // MARK: - One ledger shared by several machines (PostgreSQL)

    /// A live process of this host to stand in as a ledger row's owner (a writer thread of its own).
    private func standIn() throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sleep")
        p.arguments = ["120"]
        try p.run()
        return p
    }

    func testTwoMachinesSharingTheDatabaseClaimEachKeyOnceAndShareOneDailyCap() throws {
        let env = try StorageBackends.postgresEnvironment()
        var envB = env
        envB["CMO_STATE_DIR"] = NSTemporaryDirectory() + "cmo-ledger-b-\(UUID().uuidString)"
        let a = try WriteLedger.open(environment: env, runID: "run-a")
        let b = try WriteLedger.open(environment: envB, runID: "run-b")
        guard case .postgres(let url) = try StorageBackend.from(environment: envB) else { return XCTFail("not PostgreSQL") }
        // Machine B has its own connections.
        let storageB = try PostgresLedgerStorage(database: PostgresDatabase(url: url, retryWindow: 30))
        XCTAssertFalse(FileManager.default.fileExists(atPath: env["CMO_STATE_DIR"]! + "/ledger.sqlite"), "no SQLite file with a database")
        // Each writer thread is a process of its own (a live stand-in pid), as a real writer is.
        let standIns = try (0..<8).map { _ in try standIn() }
        defer { for p in standIns { p.terminate() } }
        let writers = (0..<8).map {
            WriteLedger(storage: $0 < 4 ? a.storage : storageB, runID: "run-\($0)", owner: ProcessIdentity.host + ":\(standIns[$0].processIdentifier)")
        }
        let intents = (0..<500).map { intent("p\($0)@x.org") }
        let cap = WriteLedger.DailyCap(limit: 100, deferredSince: "2026-11-01")
        let lock = NSLock()
        nonisolated(unsafe) var claimed: [String] = []
        nonisolated(unsafe) var failures: [String] = []
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            let l = writers[worker]
            let order = Array(intents[(worker * 60)...] + intents[..<(worker * 60)])
            for start in stride(from: 0, to: order.count, by: 10) {
                do {
                    let claims = try l.claim(Array(order[start..<start + 10]), day: "2026-12-01", cap: cap)
                    var mine: [WriteLedger.Outcome] = []
                    for (key, claim) in claims { if case .claimed = claim { mine.append(.init(key: key, state: .confirmed, remoteID: "id")) } }
                    try l.record(mine)
                    lock.lock()
                    claimed += mine.map(\.key)
                    lock.unlock()
                } catch {
                    lock.lock()
                    failures.append("\(error)")
                    lock.unlock()
                }
            }
        }
        XCTAssertEqual(failures, [])
        XCTAssertEqual(claimed.count, 100, "the daily cap holds across machines")
        XCTAssertEqual(Set(claimed).count, 100, "no key claimed twice")
        XCTAssertEqual(try b.countToday(service: "instantly", target: "c1", day: "2026-12-01"), 100)
        XCTAssertEqual(try b.counts(service: "instantly", target: "c1"), [.confirmed: 100])
    }

    func testARowOfAnotherMachineIsHeldWhileItsConnectionIsAndReclaimedWhenItIsGone() throws {
        let env = try StorageBackends.postgresEnvironment()
        let l = try WriteLedger.open(environment: env, runID: "run-a")
        _ = try l.claim([intent("a@x.org"), intent("b@x.org")], day: "2026-12-01")
        let db = try XCTUnwrap(try StorageBackend.from(environment: env).database(environment: env))
        // b@'s owner holds a connection (as `cmo otherhost:456`); a@'s owner, otherhost:123, has none.
        let live = PostgresDatabase(url: db.url, retryWindow: 5)
        try live.read { c in try c.execute("SET application_name = 'cmo otherhost:456'") }
        try db.read { c in
            try c.execute("UPDATE writes SET owner = 'otherhost:123' WHERE subject = 'a@x.org'")
            try c.execute("UPDATE writes SET owner = 'otherhost:456' WHERE subject = 'b@x.org'")
        }
        let claims = try l.reopened(runID: "run-b").claim([intent("a@x.org"), intent("b@x.org")], day: "2026-12-01")
        guard case .claimed(let previous)? = claims["instantly:lead:c1:a@x.org"] else { return XCTFail("\(claims)") }
        XCTAssertEqual(previous?.owner, "otherhost:123", "a row whose owner's connection is gone is reclaimed")
        guard case .held(let held)? = claims["instantly:lead:c1:b@x.org"] else { return XCTFail("\(claims)") }
        XCTAssertEqual(held.owner, "otherhost:456", "a row whose owner is connected is held")
        withExtendedLifetime(live) {}
    }

    func testRebuiltRowsAreConfirmedOnEveryBackend() throws {
        try StorageBackends.each { _, env in
            let l = try WriteLedger.open(environment: env, runID: "run-a")
            _ = try l.claim([intent("a@x.org")], day: "2026-12-01")
            let found = ["a@x.org", "b@x.org"].map {
                LedgerHistory.Found(key: intent($0).key, service: "instantly", target: "c1", subject: $0, remoteID: "lead-" + $0, day: "2026-11-30")
            }
            let counts = try LedgerHistory.record(found, environment: env, runID: "rebuild-1")
            XCTAssertEqual([counts.recorded, counts.confirmed, counts.alreadyPresent], [1, 1, 0])
            XCTAssertEqual(try LedgerHistory.record(found, environment: env, runID: "rebuild-2").alreadyPresent, 2)
            XCTAssertEqual(try l.countToday(service: "instantly", target: "c1", day: "2026-11-30"), 2)
        }
    }

    /// `CMO_BENCH=1`: claims per second (a batch of 50 claimed under a cap, then recorded confirmed), 2,000 intents.
    func testBenchmarkClaimsPerSecondOnEachBackend() throws {
        guard ProcessInfo.processInfo.environment["CMO_BENCH"] == "1" else { throw XCTSkip("CMO_BENCH=1 runs the benchmark") }
        var rates: [String: Double] = [:]
        try StorageBackends.each { backend, env in
            let l = try WriteLedger.open(environment: env, runID: "bench")
            let intents = (0..<2000).map { intent("b\($0)@x.org") }
            let cap = WriteLedger.DailyCap(limit: 100_000, deferredSince: "2026-11-01")
            let t0 = Date()
            for start in stride(from: 0, to: intents.count, by: 50) {
                let claims = try l.claim(Array(intents[start..<start + 50]), day: "2026-12-01", cap: cap)
                try l.record(claims.keys.map { .init(key: $0, state: .confirmed, remoteID: "id") })
            }
            rates[backend] = 2000 / Date().timeIntervalSince(t0)
            XCTAssertEqual(try l.countToday(service: "instantly", target: "c1", day: "2026-12-01"), 2000)
        }
        print(String(format: "ledger claims/s sqlite=%.0f postgres=%.0f", rates["sqlite"] ?? 0, rates["postgres"] ?? 0))
    }

}
