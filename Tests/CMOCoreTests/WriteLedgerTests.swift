import Foundation
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
        let dir = tempDir()
        let l = try ledger(dir)
        let claims = try l.claim([intent("a@x.org"), intent("b@x.org")], day: "2026-12-01")
        XCTAssertEqual(claims["instantly:lead:c1:a@x.org"], .claimed(previous: nil))
        XCTAssertEqual(try l.countToday(service: "instantly", target: "c1", day: "2026-12-01"), 2, "claimed rows count against the cap")
        try l.record([.init(key: "instantly:lead:c1:a@x.org", state: .confirmed, remoteID: "lead-1")])
        try l.record([.init(key: "instantly:lead:c1:b@x.org", state: .failed, reason: "in blocklist")])

        let later = try ledger(dir, run: "run-b")
        let again = try later.claim([intent("a@x.org"), intent("b@x.org")], day: "2026-12-02")
        guard case .held(let row)? = again["instantly:lead:c1:a@x.org"] else { return XCTFail("\(again)") }
        XCTAssertEqual(row.remoteID, "lead-1")
        XCTAssertEqual(row.runID, "run-a")
        guard case .claimed(let previous)? = again["instantly:lead:c1:b@x.org"] else { return XCTFail("\(again)") }
        XCTAssertEqual(previous?.state, .failed, "a failed write may be tried again")
        XCTAssertEqual(try later.rows(["instantly:lead:c1:b@x.org"])["instantly:lead:c1:b@x.org"]?.attempts, 2)
        XCTAssertEqual(try later.countToday(service: "instantly", target: "c1", day: "2026-12-01"), 1)
    }

    func testARowOfALiveOwnerIsHeldAndOneOfADeadOwnerIsRecovered() throws {
        let dir = tempDir()
        let l = try ledger(dir)
        _ = try l.claim([intent("a@x.org"), intent("b@x.org")], day: "2026-12-01")
        // Make a@ look owned by a live process (our parent) and b@ by one that is gone.
        let pool = try StateDatabase.open(dir + "/ledger.sqlite", migrator: .init())
        let host = WriteLedger.hostName()
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
        let dir = tempDir()
        let l = try ledger(dir)
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

    func testTwoLedgersOnOneFileClaimEachKeyOnce() throws {
        let dir = tempDir()
        let keys = (0..<200).map { intent("p\($0)@x.org") }
        let a = try ledger(dir, run: "run-a")
        let b = try ledger(dir, run: "run-b")
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

    func testRunIDsAndTheKeyOfALead() throws {
        XCTAssertEqual(InstantlyWriter.key(campaign: "c1", email: "Ann@Example.ORG"), "instantly:lead:c1:ann@example.org")
        let id = WriteLedger.newRunID(now: Date(timeIntervalSince1970: 1_796_000_000))
        XCTAssertTrue(id.hasPrefix("run-20261130-"), id)
        let l = try WriteLedger.open(environment: ["CMO_STATE_DIR": tempDir(), "CMO_JOB_ID": "job-42"])
        XCTAssertEqual(l.runID, "job-42")
    }
}
