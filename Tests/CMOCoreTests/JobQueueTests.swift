import CMOTestSupport
import Foundation
import XCTest

@testable import CMOStorage

/// The job queue, on SQLite and on PostgreSQL alike: claims in order and exactly once under concurrency,
/// sleeping jobs due later, a dead worker's job given back (this machine's by pid, another machine's by its
/// heartbeat's lease), claims that skip a row another transaction holds, token holds.
final class JobQueueTests: XCTestCase {
    func testClaimsOldestFirstAndNeverTwice() throws {
        try StorageBackends.each { backend, env in
            let q = try JobQueues.open(environment: env)
            try q.add(QueuedJob(id: "a", runsDir: "/r", options: ["--yes"], createdAt: 1))
            try q.add(QueuedJob(id: "b", runsDir: "/r", createdAt: 2))
            XCTAssertThrowsError(try q.add(QueuedJob(id: "a", runsDir: "/r", createdAt: 3)), "\(backend): an id is taken once")
            let alive: (Int32, UInt64?) -> Bool = { _, _ in true }
            let first = try XCTUnwrap(try q.claim(worker: 10, started: nil, now: 5, isAlive: alive))
            XCTAssertEqual(first.id, "a", backend)
            XCTAssertEqual(first.options, ["--yes"], backend)
            XCTAssertEqual(first.starts, 1, backend)
            XCTAssertEqual(try q.claim(worker: 11, started: nil, now: 5, isAlive: alive)?.id, "b", backend)
            XCTAssertNil(try q.claim(worker: 12, started: nil, now: 5, isAlive: alive), backend)
            XCTAssertEqual(try q.jobs(limit: nil).map(\.id), ["a", "b"], backend)
            XCTAssertEqual(try q.jobs(limit: 1).map(\.id), ["b"], backend)
        }
    }

    func testASleepingJobIsDueAtItsTimeAndAWorkersResultNeverOverwritesAPause() throws {
        try StorageBackends.each { backend, env in
            let q = try JobQueues.open(environment: env)
            try q.add(QueuedJob(id: "a", runsDir: "/r", createdAt: 1))
            _ = try q.claim(worker: 10, started: nil, now: 1, isAlive: { _, _ in true })
            XCTAssertTrue(try q.update("a", status: .sleeping, notBefore: 100, message: "reset", from: [.running]), backend)
            XCTAssertEqual(try q.nextDue(), 100, backend)
            XCTAssertNil(try q.job("a")?.workerPID, "\(backend): a sleeping job has no worker")
            XCTAssertNil(try q.claim(worker: 10, started: nil, now: 99, isAlive: { _, _ in true }), backend)
            XCTAssertEqual(try q.claim(worker: 10, started: nil, now: 100, isAlive: { _, _ in true })?.id, "a", backend)
            XCTAssertTrue(try q.update("a", status: .paused, from: nil), backend)
            XCTAssertFalse(try q.update("a", status: .done, from: [.running]), "\(backend): the pause stands")
            XCTAssertEqual(try q.job("a")?.status, .paused, backend)
            XCTAssertTrue(try q.update("a", status: .failed, message: "x", exitStatus: 70, from: [.paused, .running]), backend)
            XCTAssertEqual(try q.job("a")?.exitStatus, 70, backend)
            XCTAssertFalse(try q.update("nope", status: .done, from: nil), backend)
        }
    }

    func testADeadWorkersJobIsQueuedAgain() throws {
        try StorageBackends.each { backend, env in
            let q = try JobQueues.open(environment: env)
            try q.add(QueuedJob(id: "a", runsDir: "/r", createdAt: 1))
            _ = try q.claim(worker: 10, started: 7, now: 1, isAlive: { _, _ in true })
            XCTAssertNil(try q.claim(worker: 11, started: nil, now: 2, isAlive: { _, _ in true }), "\(backend): its worker lives")
            let again = try XCTUnwrap(try q.claim(worker: 11, started: nil, now: 3, isAlive: { pid, _ in pid != 10 }))
            XCTAssertEqual(again.id, "a", backend)
            XCTAssertEqual(again.starts, 2, backend)
            XCTAssertEqual(again.workerPID, 11, backend)
        }
    }

    func testTokenHoldsAndWorkers() throws {
        try StorageBackends.each { backend, env in
            let q = try JobQueues.open(environment: env)
            try q.holdToken("t", until: 50, by: "a", reason: "search")
            try q.holdToken("t", until: 40, by: "b", reason: "earlier")
            XCTAssertEqual(try q.tokenHold("t", now: 10)?.until, 50, "\(backend): the later reset wins")
            XCTAssertEqual(try q.tokenHold("t", now: 10)?.job, "a", backend)
            XCTAssertNil(try q.tokenHold("t", now: 50), backend)
            try q.heartbeat(worker: 5, started: nil, concurrency: 2, now: 100)
            XCTAssertEqual(try q.liveWorkers(now: 105, within: 10, isAlive: { _, _ in true }), [JobWorker(host: JobQueues.host, pid: 5)], backend)
            XCTAssertEqual(try q.liveWorkers(now: 105, within: 10, isAlive: { _, _ in false }).map(\.pid), [], "\(backend): this machine's dead pid")
            XCTAssertEqual(try q.liveWorkers(now: 120, within: 10, isAlive: { _, _ in true }).map(\.pid), [], backend)
            try q.removeWorker(5)
            XCTAssertEqual(try q.liveWorkers(now: 101, within: 10, isAlive: { _, _ in true }).map(\.pid), [], backend)
        }
    }

    /// 4 threads claim 200 jobs at once: every job is claimed exactly once.
    func testConcurrentClaimsTakeEveryJobExactlyOnce() throws {
        try StorageBackends.each { backend, env in
            let setup = try JobQueues.open(environment: env)
            for i in 0..<200 { try setup.add(QueuedJob(id: String(format: "j%03d", i), runsDir: "/r", createdAt: Double(i))) }
            let claimed = LockedList(), failures = LockedList()
            DispatchQueue.concurrentPerform(iterations: 4) { t in
                do {
                    let q = try JobQueues.open(environment: env)
                    while let job = try q.claim(worker: Int32(100 + t), started: nil, now: 1_000, isAlive: { _, _ in true }) {
                        claimed.append(job.id)
                    }
                } catch {
                    failures.append("\(error)")
                }
            }
            XCTAssertEqual(failures.items, [], backend)
            XCTAssertEqual(claimed.items.count, 200, "\(backend): no job claimed twice")
            XCTAssertEqual(Set(claimed.items).count, 200, "\(backend): every job claimed")
            XCTAssertTrue(try setup.jobs(limit: nil).allSatisfy { $0.status == .running && $0.starts == 1 }, backend)
        }
    }

    /// A worker on another machine is judged by its heartbeat alone: older than the lease, its job is
    /// queued again; fresh, it keeps it (its pid is never checked here).
    func testAnotherMachinesWorkerLosesItsJobOnlyAfterTheLease() throws {
        try StorageBackends.each { backend, env in
            guard backend == "postgres" else { return }  // SQLite's workers are all on one machine
            let q = try JobQueues.open(environment: env)
            let wall = Date().timeIntervalSince1970
            try q.add(QueuedJob(id: "stale", runsDir: "/r", createdAt: 1))
            try q.add(QueuedJob(id: "fresh", runsDir: "/r", createdAt: 2))
            let noPid: (Int32, UInt64?) -> Bool = { _, _ in false }  // no such pid on this machine
            try q.heartbeat(worker: 7, host: "far-away", started: nil, concurrency: 1, now: wall)
            try q.heartbeat(worker: 8, host: "elsewhere", started: nil, concurrency: 1, now: wall)
            XCTAssertEqual(try q.claim(worker: 7, host: "far-away", started: nil, now: 1, lease: 15, isAlive: noPid)?.id, "stale")
            XCTAssertEqual(try q.claim(worker: 8, host: "elsewhere", started: nil, now: 1, lease: 15, isAlive: noPid)?.id, "fresh",
                           "a fresh heartbeat keeps the first job (its pid is not checked here)")
            // far-away stops beating: 60 s later it is past the lease.
            try q.heartbeat(worker: 7, host: "far-away", started: nil, concurrency: 1, now: wall - 60)
            try q.heartbeat(worker: 8, host: "elsewhere", started: nil, concurrency: 1, now: wall)
            XCTAssertEqual(try q.job("stale")?.workerHost, "far-away")
            let other = try q.liveWorkers(now: wall, within: 10, isAlive: noPid)
            XCTAssertEqual(other, [JobWorker(host: "elsewhere", pid: 8)], "another machine's worker lives by its heartbeat")
            let taken = try XCTUnwrap(try q.claim(worker: 9, started: nil, now: 2, isAlive: noPid))
            XCTAssertEqual(taken.id, "stale", "the stale worker's job is rescued")
            XCTAssertEqual(taken.starts, 2)
            XCTAssertEqual(taken.workerHost, JobQueues.host)
            XCTAssertNil(try q.claim(worker: 9, started: nil, now: 2, isAlive: { pid, _ in pid == 9 }), "the fresh worker keeps its job")
            XCTAssertEqual(try q.job("fresh")?.workerHost, "elsewhere")
        }
    }

    /// A claim skips a row another transaction holds locked instead of waiting for it.
    func testAClaimSkipsALockedRowWithoutWaiting() throws {
        try StorageBackends.each { backend, env in
            guard backend == "postgres" else { return }  // SQLite has one writer at a time by design
            let q = try JobQueues.open(environment: env)
            try q.add(QueuedJob(id: "held", runsDir: "/r", createdAt: 1))
            try q.add(QueuedJob(id: "free", runsDir: "/r", createdAt: 2))
            let db = try XCTUnwrap(try StorageBackend.from(environment: env).database(environment: env))
            let locked = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), finished = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                _ = try? db.transaction { conn in
                    _ = try conn.query("SELECT id FROM jobs WHERE id = 'held' FOR UPDATE")
                    locked.signal()
                    _ = release.wait(timeout: .now() + 30)
                }
                finished.signal()
            }
            locked.wait()
            let t0 = Date()
            let got = try q.claim(worker: 3, started: nil, now: 5, isAlive: { _, _ in true })
            let took = Date().timeIntervalSince(t0)
            release.signal()
            finished.wait()
            XCTAssertEqual(got?.id, "free", "the locked row is skipped")
            XCTAssertLessThan(took, 5, "the claim did not wait for the lock")
            XCTAssertEqual(try q.claim(worker: 3, started: nil, now: 5, isAlive: { _, _ in true })?.id, "held", "free again once released")
        }
    }
}

/// Strings appended from several threads.
final class LockedList: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []

    func append(_ s: String) { lock.withLock { list.append(s) } }
    var items: [String] { lock.withLock { list } }
}
