import CMOTestSupport
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// The GitHub REST path against the sandbox's limits: no secondary-limit violation (requests go one
/// at a time, and a penalty a killed run learned is waited out by the next process), and a run that
/// ends with 75 keeps the histories it read.
final class GHRESTLimitTests: XCTestCase {
    static let world = ["--seed", "11", "--repos", "60", "--users", "80"]

    private func repos(on s: SandboxLauncher, state: String? = nil) throws -> SpawnResult {
        var env = s.githubEnvironment
        if let state { env["CMO_STATE_DIR"] = state }
        return try Spawn.run("gh-search", ["--query", "stars:>=0", "--max-repos", "0"], environment: env)
    }

    private func people(_ args: [String], stdin: String, state: String, on s: SandboxLauncher) throws -> SpawnResult {
        let now = try XCTUnwrap(try s.truth()["now"] as? String)
        return try Spawn.run(
            "gh-people", ["--api", "rest", "--now", now, "--min-commits", "1"] + args, stdin: Data(stdin.utf8),
            environment: s.githubEnvironment.merging(["CMO_STATE_DIR": state]) { $1 })
    }

    private func github(_ s: SandboxLauncher) throws -> [String: Any] {
        try XCTUnwrap((try s.stats()["services"] as? [String: Any])?["github"] as? [String: Any])
    }

    /// The "N HTTP requests" of a stage's summary line.
    private func requests(_ r: SpawnResult) throws -> Int {
        let range = try XCTUnwrap(r.err.range(of: #"\d+ HTTP requests"#, options: .regularExpression), r.err)
        return Int(r.err[range].split(separator: " ")[0]) ?? -1
    }

    func testRESTRequestsGoOneAtATimeSoConcurrencyNeverTripsTheSecondaryLimit() throws {
        let s = try SandboxLauncher(Self.world + ["--secondary-concurrency", "1"])
        defer { s.stop() }
        let input = try repos(on: s)
        XCTAssertEqual(input.status, 0, input.err)
        let r = try people([], stdin: input.out, state: Spawn.tempDirectory(), on: s)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertGreaterThan(r.lines.count, 10)
        XCTAssertEqual(try github(s)["secondary_triggers"] as? Int, 0, "never two requests in flight")
        XCTAssertEqual(try s.violations(), 0)
    }

    func testAPenaltyAKilledRunLearnedIsWaitedOutByTheNextProcess() throws {
        let s = try SandboxLauncher(Self.world + ["--secondary-points-per-minute", "10", "--secondary-penalty-seconds", "6"])
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        let input = try repos(on: s, state: state)
        XCTAssertEqual(input.status, 0, input.err)

        // gh-people trips the limit on its eleventh commits page, and is killed during the penalty.
        let dir = Spawn.tempDirectory()
        FileManager.default.createFile(atPath: dir + "/in", contents: Data(input.out.utf8))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Spawn.executable("gh-people"))
        p.arguments = ["--api", "rest", "--min-commits", "1"]
        p.environment = s.githubEnvironment.merging(["CMO_STATE_DIR": state, "HOME": dir, "PATH": "/usr/bin:/bin"]) { $1 }
        p.standardInput = FileHandle(forReadingAtPath: dir + "/in")
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        let deadline = Date().addingTimeInterval(30)
        while try github(s)["secondary_penalty_active"] as? Bool != true, Date() < deadline { usleep(20_000) }
        XCTAssertEqual(try github(s)["secondary_penalty_active"] as? Bool, true, "the limit tripped")
        usleep(300_000)  // the rejection has reached gh-people
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(try s.violations(), 0)

        // The next process (another stage, same state directory) sends nothing until the penalty is over.
        let again = try repos(on: s, state: state)
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertTrue(again.err.contains("penalty recorded in the state directory"), again.err)
        XCTAssertEqual(again.lines.count, input.lines.count)
        let violations = try s.stats()["rate_limit_violations"] ?? ""
        XCTAssertEqual(try s.violations(), 0, "\(violations)")
        XCTAssertEqual(try github(s)["secondary_triggers"] as? Int, 1)
    }

    func testARunEndedBy75KeepsItsHistoriesSoTheRerunSpendsLessAndFindsTheSamePeople() throws {
        let open = try SandboxLauncher(Self.world)
        defer { open.stop() }
        let input = try repos(on: open)
        XCTAssertEqual(input.status, 0, input.err)
        let whole = try people([], stdin: input.out, state: Spawn.tempDirectory(), on: open)
        XCTAssertEqual(whole.status, 0, whole.err)

        let tight = try SandboxLauncher(Self.world + ["--core-limit", "25", "--window-seconds", "8"])
        defer { tight.stop() }
        let state = Spawn.tempDirectory()
        let stopped = try people(["--max-wait", "0.1"], stdin: input.out, state: state, on: tight)
        XCTAssertEqual(stopped.status, 75, stopped.err)
        XCTAssertGreaterThan(try requests(stopped), 10)
        let rerun = try people([], stdin: input.out, state: state, on: tight)
        XCTAssertEqual(rerun.status, 0, rerun.err)
        XCTAssertEqual(rerun.out, whole.out, "the same people")
        XCTAssertLessThan(try requests(rerun), try requests(whole), "the histories read before 75 are not read again")
        XCTAssertEqual(try tight.violations(), 0)
    }
}
