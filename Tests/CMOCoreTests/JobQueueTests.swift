import Foundation
import XCTest

@testable import CMOStorage

/// The job queue: claims in order, sleeping jobs due later, a dead worker's job given back, token holds.
final class JobQueueTests: XCTestCase {
    func queue() throws -> SQLiteJobQueue {
        let dir = NSTemporaryDirectory() + "cmo-queue-\(UUID().uuidString)"
        return try SQLiteJobQueue(path: dir + "/jobs.sqlite")
    }

    func testClaimsOldestFirstAndNeverTwice() throws {
        let q = try queue()
        try q.add(QueuedJob(id: "a", runsDir: "/r", options: ["--yes"], createdAt: 1))
        try q.add(QueuedJob(id: "b", runsDir: "/r", createdAt: 2))
        XCTAssertThrowsError(try q.add(QueuedJob(id: "a", runsDir: "/r", createdAt: 3)), "an id is taken once")
        let alive: (Int32, UInt64?) -> Bool = { _, _ in true }
        let first = try XCTUnwrap(try q.claim(worker: 10, started: nil, now: 5, isAlive: alive))
        XCTAssertEqual(first.id, "a")
        XCTAssertEqual(first.options, ["--yes"])
        XCTAssertEqual(first.starts, 1)
        XCTAssertEqual(try q.claim(worker: 11, started: nil, now: 5, isAlive: alive)?.id, "b")
        XCTAssertNil(try q.claim(worker: 12, started: nil, now: 5, isAlive: alive))
    }

    func testASleepingJobIsDueAtItsTimeAndAWorkersResultNeverOverwritesAPause() throws {
        let q = try queue()
        try q.add(QueuedJob(id: "a", runsDir: "/r", createdAt: 1))
        _ = try q.claim(worker: 10, started: nil, now: 1, isAlive: { _, _ in true })
        XCTAssertTrue(try q.update("a", status: .sleeping, notBefore: 100, message: "reset", from: [.running]))
        XCTAssertEqual(try q.nextDue(), 100)
        XCTAssertNil(try q.claim(worker: 10, started: nil, now: 99, isAlive: { _, _ in true }))
        XCTAssertEqual(try q.claim(worker: 10, started: nil, now: 100, isAlive: { _, _ in true })?.id, "a")
        XCTAssertTrue(try q.update("a", status: .paused, from: nil))
        XCTAssertFalse(try q.update("a", status: .done, from: [.running]), "the pause stands")
        XCTAssertEqual(try q.job("a")?.status, .paused)
    }

    func testADeadWorkersJobIsQueuedAgain() throws {
        let q = try queue()
        try q.add(QueuedJob(id: "a", runsDir: "/r", createdAt: 1))
        _ = try q.claim(worker: 10, started: 7, now: 1, isAlive: { _, _ in true })
        XCTAssertNil(try q.claim(worker: 11, started: nil, now: 2, isAlive: { _, _ in true }), "its worker lives")
        let again = try XCTUnwrap(try q.claim(worker: 11, started: nil, now: 3, isAlive: { pid, _ in pid != 10 }))
        XCTAssertEqual(again.id, "a")
        XCTAssertEqual(again.starts, 2)
        XCTAssertEqual(again.workerPID, 11)
    }

    func testTokenHoldsAndWorkers() throws {
        let q = try queue()
        try q.holdToken("t", until: 50, by: "a", reason: "search")
        try q.holdToken("t", until: 40, by: "b", reason: "earlier")
        XCTAssertEqual(try q.tokenHold("t", now: 10)?.until, 50, "the later reset wins")
        XCTAssertNil(try q.tokenHold("t", now: 50))
        try q.heartbeat(worker: 5, started: nil, concurrency: 2, now: 100)
        XCTAssertEqual(try q.liveWorkers(now: 105, within: 10, isAlive: { _, _ in true }), [5])
        XCTAssertEqual(try q.liveWorkers(now: 120, within: 10, isAlive: { _, _ in true }), [])
        try q.removeWorker(5)
        XCTAssertEqual(try q.liveWorkers(now: 101, within: 10, isAlive: { _, _ in true }), [])
    }
}
