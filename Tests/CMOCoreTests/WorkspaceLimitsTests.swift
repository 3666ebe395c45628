import CMOTestSupport
import Foundation
import XCTest

@testable import CMOLedger
@testable import CMOStorage

/// The workspace's limits held in the state store: reservations from several openers of one file (as
/// several processes would) stay inside every window together and are served in turn; a daily cap and
/// the days of deferred writes are held by the ledger's claims for every writer at once.
final class WorkspaceLimitsTests: XCTestCase {
    func tempDir() -> String {
        let dir = NSTemporaryDirectory() + "cmo-limits-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Most sends in any window of `seconds` among sorted `times`.
    func busiest(_ times: [Double], seconds: Double) -> Int {
        var most = 0
        var start = 0
        for end in times.indices {
            while times[end] - times[start] >= seconds { start += 1 }
            most = max(most, end - start + 1)
        }
        return most
    }

    /// Opens the limits of `env`'s backend as a stage does.
    func open(_ env: [String: String]) throws -> any WorkspaceLimits { try WorkspaceLimitsStore.open(environment: env) }

    func testFourOpenersStayInsideBothInstantlyWindowsTogether() throws {
        try StorageBackends.each { backend, env in
            let openers = try (0..<4).map { _ in try open(env) }
            // A reservation on PostgreSQL is four network round trips (about 4 ms here, against half a
            // millisecond on SQLite): the same shape at a 25th of the size there (4 a second, 240 a minute:
            // a second's sends still split evenly among the 4 senders).
            let scale = backend == "sqlite" ? 1 : 25
            let windows = [PaceWindow(requests: 100 / scale, seconds: 1), PaceWindow(requests: 6000 / scale, seconds: 60)]
            // Each sender asks again as soon as its previous send is answered (20 ms; a greedy client with one
            // request in flight), on a simulated clock.
            var next = [Double](repeating: 1000, count: 4)
            var sends: [(sender: Int, at: Double)] = []
            while sends.count < 8000 / scale {
                let sender = next.indices.min { next[$0] < next[$1] }!
                let at = try openers[sender].reserve("api.instantly.ai:443 requests", windows: windows, margin: 0, now: next[sender])
                XCTAssertGreaterThanOrEqual(at, next[sender], backend)
                sends.append((sender, at))
                next[sender] = at + 0.02
            }
            let times = sends.map(\.at).sorted()
            XCTAssertLessThanOrEqual(busiest(times, seconds: 1), 100 / scale, "\(backend): 100 a second, whoever sends")
            XCTAssertLessThanOrEqual(busiest(times, seconds: 60), 6000 / scale, "\(backend): 6,000 a minute, whoever sends")
            XCTAssertGreaterThan(busiest(times, seconds: 60), 5900 / scale, "\(backend): the shared budget is used, not left idle")
            // First come, first served: no sender starves; each got a quarter.
            for sender in 0..<4 {
                XCTAssertEqual(
                    Double(sends.filter { $0.sender == sender }.count), Double(2000 / scale), accuracy: Double(max(1, 20 / scale)),
                    "\(backend): sender \(sender)")
            }
        }
    }

    /// Two "machines" (two openers with their own connections or files' handles) × 4 threads each reserve
    /// 200 sends of one 25-a-second budget at once, on the wall clock: no second holds more than 25.
    func testTwoMachinesOfFourThreadsStayInsideOneWindowTogether() throws {
        try StorageBackends.each { backend, env in
            // Each store is safe to call from several threads (a pool or a lock inside).
            nonisolated(unsafe) let machines = try (0..<2).map { _ in try separateOpener(env) }
            let windows = [PaceWindow(requests: 25, seconds: 1)]
            let times = ReservedTimes()
            let now = Date().timeIntervalSince1970
            DispatchQueue.concurrentPerform(iterations: 8) { n in
                for _ in 0..<25 {
                    do {
                        times.add(try machines[n % 2].reserve("api.attio.com:443 writes", windows: windows, margin: 0, now: now))
                    } catch {
                        times.fail("\(error)")
                    }
                }
            }
            XCTAssertEqual(times.errors, [], backend)
            let sorted = times.all.sorted()
            XCTAssertEqual(sorted.count, 200, backend)
            XCTAssertLessThanOrEqual(busiest(sorted, seconds: 1), 25, "\(backend): 25 a second across both machines")
            XCTAssertLessThan(sorted.last! - now, 8.1, "\(backend): and the budget is used, not left idle")
        }
    }

    /// An opener that shares nothing in memory with another: its own pool on PostgreSQL (as another
    /// machine's process has), its own handle on the SQLite file.
    func separateOpener(_ env: [String: String]) throws -> any WorkspaceLimits {
        guard case .postgres(let url) = try StorageBackend.from(environment: env) else { return try open(env) }
        return try PostgresWorkspaceLimits(database: PostgresDatabase(url: url, retryWindow: 30))
    }

    /// Times reserved by concurrent threads.
    final class ReservedTimes: @unchecked Sendable {
        private let lock = NSLock()
        private var times: [Double] = []
        private var failures: [String] = []
        func add(_ t: Double) { lock.withLock { times.append(t) } }
        func fail(_ e: String) { lock.withLock { failures.append(e) } }
        var all: [Double] { lock.withLock { times } }
        var errors: [String] { lock.withLock { failures } }
    }

    /// Reservations a second on each backend, one sender at a time (`CMO_BENCH=1` prints them).
    func testReservationThroughput() throws {
        guard ProcessInfo.processInfo.environment["CMO_BENCH"] == "1" else { throw XCTSkip("CMO_BENCH=1 measures reservations/s") }
        var rates: [String: Int] = [:]
        do {
            try StorageBackends.each { backend, env in
                let limits = try open(env)
                let windows = [PaceWindow(requests: 100, seconds: 1), PaceWindow(requests: 6000, seconds: 60)]
                _ = try limits.reserve("bench", windows: windows, margin: 0, now: 0)
                let started = Date()
                var n = 0
                while Date().timeIntervalSince(started) < 3 {
                    _ = try limits.reserve("bench", windows: windows, margin: 0, now: Double(n) * 0.01)
                    n += 1
                }
                rates[backend] = Int(Double(n) / Date().timeIntervalSince(started))
            }
        } catch is XCTSkip {}
        print("reservations/s sqlite=\(rates["sqlite"].map(String.init) ?? "-") postgres=\(rates["postgres"].map(String.init) ?? "-")")
    }

    func testTheMarginWidensEveryWindowAndBudgetsAreApart() throws {
        try StorageBackends.each { backend, env in
            let limits = try open(env)
            let w = [PaceWindow(requests: 2, seconds: 1)]
            XCTAssertEqual(try limits.reserve("h writes", windows: w, margin: 0.1, now: 10), 10, backend)
            XCTAssertEqual(try limits.reserve("h writes", windows: w, margin: 0.1, now: 10), 10, backend)
            XCTAssertEqual(try limits.reserve("h writes", windows: w, margin: 0.1, now: 10), 11.1, accuracy: 0.001, backend)
            XCTAssertEqual(try limits.reserve("h reads", windows: w, margin: 0.1, now: 10), 10, "\(backend): another budget has its own window")
            XCTAssertEqual(try limits.reserve("h writes", windows: [], margin: 0.1, now: 10), 10, "\(backend): no window: no wait")
        }
    }

    func testHoldsAreSharedAndTheLaterEndWins() throws {
        try StorageBackends.each { backend, env in
            let a = try open(env)
            let b = try open(env)
            try a.hold("api.attio.com:443", LimitHold(until: 120, hits: 1))
            try b.hold("api.attio.com:443", LimitHold(until: 110, hits: 2))
            XCTAssertEqual(try b.holds(now: 100)["api.attio.com:443"], LimitHold(until: 120, hits: 2), backend)
            try b.release("api.attio.com:443", before: 115)
            XCTAssertNotNil(try a.holds(now: 100)["api.attio.com:443"], "\(backend): a hold that has not ended stays")
            try b.release("api.attio.com:443", before: 121)
            XCTAssertNil(try a.holds(now: 100)["api.attio.com:443"], backend)
        }
    }

    func testABudgetReportedInHeadersIsTakenFromByEveryProcessTogether() throws {
        try StorageBackends.each { backend, env in
            let a = try open(env)
            let b = try open(env)
            let budget = "api.linear.app:443 linear #abc"
            XCTAssertNil(try a.take(budget, now: 10), "\(backend): nothing known yet: the first answer tells")
            try a.observe(budget, remaining: 3, reset: 100)
            try b.observe(budget, remaining: 5, reset: 100)  // an answer sent earlier, arriving later: the lowest wins
            XCTAssertNil(try b.take(budget, now: 10), backend)
            XCTAssertNil(try a.take(budget, now: 10), backend)
            XCTAssertNil(try b.take(budget, now: 10), backend)
            XCTAssertEqual(try a.take(budget, now: 10), 100, "\(backend): the three left are taken: wait for the reset")
            XCTAssertEqual(try b.take(budget, now: 10), 100, backend)
            XCTAssertNil(try b.take(budget, now: 101), "\(backend): the window is over: the next answer tells")
            try b.observe(budget, remaining: 40, reset: 200)
            XCTAssertNil(try a.take(budget, now: 101), "\(backend): a later window replaces the spent one")
            try a.observe(budget, remaining: 0, reset: 50)
            XCTAssertNil(try a.take(budget, now: 101), "\(backend): an answer of an older window changes nothing")
        }
    }

    /// Only limits that span machines say so: the HTTP client then takes GitHub's quota per token from
    /// them too; on one machine the token's turns already keep it apart.
    func testOnlyATeamDatabaseSpansMachines() throws {
        try StorageBackends.each { backend, env in
            XCTAssertEqual(try open(env).spansMachines, backend == "postgres", backend)
        }
    }

    // MARK: - The daily cap and the days of deferred writes

    /// Counts kept by concurrent writers.
    final class Tally: @unchecked Sendable {
        private let lock = NSLock()
        private var counts: [String: Int] = [:]
        func add(_ key: String) { lock.withLock { counts[key, default: 0] += 1 } }
        var all: [String: Int] { lock.withLock { counts } }
    }

    func intent(_ i: Int) -> WriteLedger.Intent { Self.intent(i) }

    static func intent(_ i: Int) -> WriteLedger.Intent {
        .init(key: "instantly:lead:c1:dev\(i)@x.org", service: "instantly", target: "c1", subject: "dev\(i)@x.org")
    }

    func testTwoLedgersClaimingAtOnceNeverPassTheDailyCap() throws {
        let dir = tempDir()
        let cap = WriteLedger.DailyCap(limit: 50, deferredSince: "2026-11-20")
        let tally = Tally()
        DispatchQueue.concurrentPerform(iterations: 4) { n in
            let ledger = try! WriteLedger(path: dir + "/ledger.sqlite", runID: "run-\(n)")
            for chunk in 0..<5 {
                let intents = (0..<10).map { Self.intent(n * 1000 + chunk * 10 + $0) }
                for c in try! ledger.claim(intents, day: "2026-12-07", cap: cap).values {
                    if case .claimed = c { tally.add("claimed") }
                    if case .overCap = c { tally.add("over") }
                }
            }
        }
        XCTAssertEqual(tally.all["claimed"], 50, "the cap holds for every writer together")
        XCTAssertEqual(tally.all["over"], 150)
        let ledger = try WriteLedger(path: dir + "/ledger.sqlite", runID: "check")
        XCTAssertEqual(try ledger.countToday(service: "instantly", target: "c1", day: "2026-12-07"), 50)
    }

    func testDueDeferralsComeFirstAndLeftoversSpendNoSlot() throws {
        let dir = tempDir()
        let ledger = try WriteLedger(path: dir + "/ledger.sqlite", runID: "run-a")
        // Two writes deferred to today, one crash leftover of today.
        _ = try ledger.deferToOpenDays([intent(1), intent(2)], after: "2026-12-06", cap: 5, reason: "daily cap")
        _ = try ledger.claim([intent(3)], day: "2026-12-07")
        let cap = WriteLedger.DailyCap(limit: 3, deferredSince: "2026-11-20")
        // A new write may not take the two slots held for the deferred ones.
        let first = try ledger.claim([intent(4), intent(5)], day: "2026-12-07", cap: cap)
        XCTAssertEqual(first[intent(4).key], .overCap(previous: nil))
        XCTAssertEqual(first[intent(5).key], .overCap(previous: nil))
        let second = try ledger.claim([intent(1), intent(2), intent(3)], day: "2026-12-07", cap: cap)
        guard case .claimed? = second[intent(1).key], case .claimed? = second[intent(2).key], case .claimed? = second[intent(3).key] else {
            return XCTFail("due deferrals and the leftover are claimed: \(second)")
        }
        XCTAssertEqual(try ledger.countToday(service: "instantly", target: "c1", day: "2026-12-07"), 3)
    }

    func testWritersDeferringAtOnceNeverOverbookADay() throws {
        let dir = tempDir()
        let days = Tally()
        DispatchQueue.concurrentPerform(iterations: 4) { n in
            let ledger = try! WriteLedger(path: dir + "/ledger.sqlite", runID: "run-\(n)")
            for chunk in 0..<3 {
                let booked = try! ledger.deferToOpenDays(
                    (0..<10).map { Self.intent(n * 1000 + chunk * 10 + $0) }, after: "2026-12-07", cap: 25, reason: "daily cap")
                for d in booked.values { days.add(d) }
            }
        }
        XCTAssertEqual(days.all, ["2026-12-08": 25, "2026-12-09": 25, "2026-12-10": 25, "2026-12-11": 25, "2026-12-12": 20])
    }
}
