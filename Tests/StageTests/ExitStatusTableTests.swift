import CMOTestSupport
import Foundation
import XCTest

/// One exit status per kind of failure, across every tool (issue 27): a full disk is 74 whether it refuses
/// stdout, a state database or a run file; bad flags are 64; an unreadable config is 78. Each row runs the
/// built executable the way a shell does, on records the stages before it made from the sandbox.
///
/// Full disks without root: stdout is `/dev/full` (every write ENOSPC); a state database that cannot grow is
/// `ulimit -f` (EFBIG once a file passes the limit; SIGXFSZ is *not* ignored by the test's shell, so the tool
/// must ignore it itself); a state directory without a free inode is a tmpfs in a user namespace where the
/// system allows one (SQLITE_CANTOPEN, which used to be 78).
final class ExitStatusTableTests: XCTestCase {
    static let now = "2026-11-20T00:00:00Z"
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static var config: String { root + "/pipelines/demo-campaign.yaml" }

    nonisolated(unsafe) static var shared: (sandbox: SandboxLauncher, dir: String)?

    override class func tearDown() {
        shared?.sandbox.stop()
        if let dir = shared?.dir { try? FileManager.default.removeItem(atPath: dir) }
        shared = nil
    }

    /// The sandbox and the read side's artifacts (`<dir>/<stage>.ndjson`), made once.
    func fixtures() throws -> (sandbox: SandboxLauncher, dir: String) {
        if let shared = Self.shared { return shared }
        let s = try SandboxLauncher(["--repos", "60", "--users", "80", "--now", Self.now])
        let dir = Spawn.tempDirectory()
        Self.shared = (s, dir)
        let chain: [(String, [String])] = [
            ("gh-search", ["--now", Self.now, "--query", "language:python", "--max-repos", "6"]),
            ("gh-people", ["--now", Self.now, "--max-people", "8"]),
            ("gh-enrich", []),
            ("mx-check", ["--min-verdict", "risky"]),
            ("score-icp", ["--as-of", Self.now, "--top", "5", "--language", "python"]),
            ("render-copy", ["--require-unsubscribe"]),
        ]
        var input = Data()
        for (stage, args) in chain {
            var env = s.environment
            env["CMO_STATE_DIR"] = dir + "/state"
            let r = try Spawn.run(stage, ["--config", Self.config] + args, stdin: input, environment: env)
            XCTAssertEqual(r.status, 0, "\(stage): \(r.err)")
            XCTAssertFalse(r.lines.isEmpty, "\(stage) wrote nothing: \(r.err)")
            try r.stdout.write(to: URL(fileURLWithPath: "\(dir)/\(stage).ndjson"))
            input = r.stdout
        }
        let deadLetter = #"{"stage":"gh-people","line":1,"error":{"code":"boom","message":"it broke","retryable":false},"input":{"id":1}}"#
        try Data((deadLetter + "\n").utf8).write(to: URL(fileURLWithPath: dir + "/dead-letters.ndjson"))
        return (s, dir)
    }

    /// Every tool, as it runs on real input: (name, arguments, the fixture it reads or nil for none, has a state database).
    func rows() throws -> [(tool: String, args: [String], input: String?, state: Bool)] {
        let (s, _) = try fixtures()
        let c = ["--config", Self.config]
        return [
            ("gh-search", c + ["--now", Self.now, "--query", "language:python", "--max-repos", "6"], nil, true),
            ("gh-people", c + ["--now", Self.now, "--max-people", "8"], "gh-search", true),
            ("gh-enrich", c, "gh-people", true),
            ("mx-check", c + ["--min-verdict", "risky"], "gh-enrich", true),
            ("score-icp", c + ["--as-of", Self.now, "--top", "5", "--language", "python"], "mx-check", false),
            ("render-copy", c + ["--require-unsubscribe"], "score-icp", false),
            ("send-instantly", c + ["--campaign", s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN"] ?? ""], "render-copy", true),
            ("sync-attio", c + ["--list", s.environment["CMO_SANDBOX_ATTIO_LIST"] ?? ""], "render-copy", true),
            ("sync-linear", ["--team", "ENG", "--job", "job-exit-status"], "dead-letters", true),
            ("export-csv", c, "render-copy", false),
            ("cmo-suppress", ["check"], "render-copy", true),
            ("cmo-plan", ["plan", "Find 2k Go maintainers, queue them in Instantly campaign 123"], nil, false),
        ]
    }

    /// Runs `tool args` from bash: stdin the fixture (else /dev/null), stdout `stdout`, a fresh state directory,
    /// and `ulimit -f limit` (KiB) when given. SIGXFSZ keeps its default in the shell and so in the tool.
    func run(_ tool: String, _ args: [String], input: String?, stdout: String, limit: Int? = nil, stateDir: String? = nil) throws -> SpawnResult {
        let (s, dir) = try fixtures()
        let state = stateDir ?? Spawn.tempDirectory()
        defer { if stateDir == nil { try? FileManager.default.removeItem(atPath: state) } }
        var env = s.environment
        env["CMO_STATE_DIR"] = state + "/state"
        env["CMO_RUNS_DIR"] = state + "/runs"
        env["IN"] = input.map { "\(dir)/\($0).ndjson" } ?? "/dev/null"
        env["OUT"] = stdout
        env["LIMIT"] = limit.map(String.init) ?? ""
        let script = #"trap - XFSZ; if [ -n "$LIMIT" ]; then ulimit -f "$LIMIT"; fi; exec "$@" <"$IN" >"$OUT""#
        return try Spawn.run("/bin/bash", ["-c", script, "bash", Spawn.executable(tool)] + args, environment: env)
    }

    func testAFullStandardOutputIs74ForEveryTool() throws {
        for row in try rows() {
            let r = try run(row.tool, row.args, input: row.input, stdout: "/dev/full")
            XCTAssertEqual(r.status, 74, "\(row.tool) with stdout on /dev/full: \(r.err)")
            XCTAssertTrue(r.err.contains("disk full"), "\(row.tool) says why: \(r.err)")
        }
    }

    func testAStateDatabaseThatCannotGrowIs74() throws {
        // 8 KiB: no state database gets past its first pages (stdout goes to a file under the same limit).
        for row in try rows() where row.state {
            let out = Spawn.tempDirectory()
            defer { try? FileManager.default.removeItem(atPath: out) }
            let r = try run(row.tool, row.args, input: row.input, stdout: out + "/stdout", limit: 8)
            XCTAssertEqual(r.status, 74, "\(row.tool) under ulimit -f 8: \(r.err)")
        }
        // cmo-plan's own files: the job queue (`submit`) and a run's state.json (`run`).
        let out = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        for args in [["submit", "Find 20 Go maintainers, export a CSV"], ["run", "--yes", "--config", Self.config, "Find 5 Python maintainers, export a CSV"]] {
            let r = try run("cmo-plan", args, input: nil, stdout: out + "/stdout", limit: 8)
            XCTAssertEqual(r.status, 74, "cmo-plan \(args[0]) under ulimit -f 8: \(r.err)")
        }
    }

    func testTheChecksAndPrintConfigOnAFullStandardOutputAre74() throws {
        let (s, _) = try fixtures()
        let c = ["--config", Self.config]
        let cases: [(String, [String])] = [
            ("gh-people", ["--print-config"]),
            ("export-csv", ["--print-config"]),
            ("send-instantly", c + ["--campaign", s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN"] ?? "", "--check"]),
            ("sync-attio", c + ["--list", s.environment["CMO_SANDBOX_ATTIO_LIST"] ?? "", "--check"]),
        ]
        for (tool, args) in cases {
            let r = try run(tool, args, input: nil, stdout: "/dev/full")
            XCTAssertEqual(r.status, 74, "\(tool) \(args.last ?? "") with stdout on /dev/full: \(r.err)")
        }
    }

    /// A state directory whose file system has no inode left: SQLite can only say "unable to open database
    /// file" (SQLITE_CANTOPEN), which was 78 (a configuration problem). Needs a tmpfs in a user namespace.
    func testAStateDirectoryWithNoRoomForAFileIs74() throws {
        guard let probe = try? Spawn.run("/usr/bin/unshare", ["-rm", "/bin/sh", "-c", "mount -t tmpfs -o size=64k none /tmp && echo ok"]),
            probe.status == 0, probe.out.contains("ok")
        else { throw XCTSkip("no tmpfs in a user namespace here (unshare -rm)") }
        let (s, dir) = try fixtures()
        for (inodes, tool, args, input) in [
            (2, "gh-people", ["--config", Self.config, "--now", Self.now, "--max-people", "8"], "gh-search"),
            (8, "sync-attio", ["--config", Self.config, "--list", s.environment["CMO_SANDBOX_ATTIO_LIST"] ?? ""], "render-copy"),
        ] {
            let mount = Spawn.tempDirectory()
            defer { try? FileManager.default.removeItem(atPath: mount) }
            var env = s.environment
            env["CMO_STATE_DIR"] = mount + "/state"
            let script = #"mount -t tmpfs -o nr_inodes=$0 none "$1" && exec "$2" "${@:4}" <"$3""#
            let r = try Spawn.run(
                "/usr/bin/unshare", ["-rm", "/bin/bash", "-c", script, String(inodes), mount, Spawn.executable(tool), "\(dir)/\(input).ndjson"] + args,
                environment: env)
            XCTAssertEqual(r.status, 74, "\(tool) with no inode left for its state: \(r.err)")
            XCTAssertTrue(r.err.contains("disk full"), r.err)
        }
    }

    func testUsageIs64AndAnUnreadableConfigIs78ForEveryTool() throws {
        for row in try rows() {
            let usage = try run(row.tool, row.args + ["--no-such-flag"], input: row.input, stdout: "/dev/null")
            XCTAssertEqual(usage.status, 64, "\(row.tool) --no-such-flag: \(usage.err)")
            guard row.tool != "cmo-plan" else { continue }  // its --config is a run's, read only by run/submit
            var args = row.args
            if let i = args.firstIndex(of: "--config") { args.removeSubrange(i...(i + 1)) }
            let config = try run(row.tool, args + ["--config", "/nonexistent/cmo.yaml"], input: row.input, stdout: "/dev/null")
            XCTAssertEqual(config.status, 78, "\(row.tool) --config /nonexistent/cmo.yaml: \(config.err)")
        }
    }
}
