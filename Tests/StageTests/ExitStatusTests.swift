import CMOTestSupport
import Foundation
import XCTest

/// One exit status per kind of failure, whatever the tool: a write the disk refuses is 74 and names the
/// file ("disk full" for ENOSPC), a refused connection is 69 and says "connection refused", and the one
/// campaign file every stage reads works for each of them.
final class ExitStatusTests: XCTestCase {
    nonisolated(unsafe) static var shared: SandboxLauncher?

    static func sandbox() throws -> SandboxLauncher {
        if let s = shared { return s }
        let s = try SandboxLauncher(["--seed", "5", "--repos", "60", "--users", "60"])
        shared = s
        return s
    }

    override class func tearDown() {
        shared?.stop()
        shared = nil
    }

    /// Leads as send-instantly writes them (what sync-attio reads).
    static func leads(_ n: Int) -> String {
        (0..<n).map { i in
            #"{"kind":"person","id":\#(3000 + i),"login":"full\#(i)","name":"Full Disk\#(i)","best_email":"full\#(i)@acme.co.uk","# +
                #""copy":{"subject":"s","body":"Hi","variant":"A"},"instantly":{"status":"queued","campaign_id":"c","lead_id":"l\#(i)"}}"#
        }.joined(separator: "\n") + "\n"
    }

    /// `script` in bash with the sandbox's environment and a state directory of its own.
    func shell(_ script: String, state: String? = nil, env: [String: String] = [:]) throws -> SpawnResult {
        var e = try Self.sandbox().environment
        e["CMO_STATE_DIR"] = state ?? Spawn.tempDirectory()
        return try Spawn.shell(script, environment: e.merging(env) { $1 })
    }

    func isCharacterDevice(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR
    }

    // MARK: - A full disk: 74

    func testStdoutOnAFullDiskIs74ForReadersWritersAndTheExport() throws {
        try XCTSkipUnless(isCharacterDevice("/dev/full"), "needs /dev/full")
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.leads(5).write(toFile: dir + "/leads.ndjson", atomically: true, encoding: .utf8)

        // A read stage (one page of repositories), and the next one reading them.
        let search = try shell("gh-search --max-repos 20 --min-stars 0 > /dev/full")
        XCTAssertEqual(search.status, 74, search.err)
        XCTAssertTrue(search.err.contains("cannot write standard output (/dev/full): disk full"), search.err)
        let people = try shell("gh-search --max-repos 20 --min-stars 0 > \(dir)/repos.ndjson && gh-people --max-people 20 < \(dir)/repos.ndjson > /dev/full")
        XCTAssertEqual(people.status, 74, people.err)
        XCTAssertTrue(people.err.contains("disk full"), people.err)

        // A writer with its ledger: it writes to Attio, then cannot hand the results on. Run again, nothing
        // is written twice.
        let state = dir + "/state"
        let attio = try shell("sync-attio --list outbound_developers --job full-1 < \(dir)/leads.ndjson > /dev/full", state: state)
        XCTAssertEqual(attio.status, 74, attio.err)
        XCTAssertTrue(attio.err.contains("cannot write standard output (/dev/full): disk full (No space left on device)"), attio.err)
        let again = try shell("sync-attio --list outbound_developers --job full-1 < \(dir)/leads.ndjson", state: state)
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(again.lines.count, 5)
        XCTAssertTrue(again.err.contains("5 already synced by this job"), again.err)

        // The export, to stdout and to -o: a device is written as it is, never replaced by a renamed file.
        for script in ["export-csv < \(dir)/leads.ndjson > /dev/full", "export-csv -o /dev/full < \(dir)/leads.ndjson",
                       "export-csv --checkpoint-every 1 -o /dev/full < \(dir)/leads.ndjson"] {
            let r = try shell(script)
            XCTAssertEqual(r.status, 74, "\(script): \(r.err)")
            XCTAssertTrue(r.err.contains("/dev/full") && r.err.contains("disk full"), r.err)
            XCTAssertTrue(isCharacterDevice("/dev/full"), "\(script) left /dev/full a device")
        }
        let stdout = try shell("export-csv --columns login -o /dev/stdout < \(dir)/leads.ndjson")
        XCTAssertEqual(stdout.status, 0, stdout.err)
        XCTAssertEqual(stdout.out.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count, 6, stdout.out)
        var link = stat()
        XCTAssertTrue(lstat("/dev/stdout", &link) != 0 || (link.st_mode & S_IFMT) == S_IFLNK, "-o /dev/stdout left the link as it was")
        // A link to a file: the file is replaced (atomically), the link stays.
        try "old\n".write(toFile: dir + "/target.csv", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.csv", withDestinationPath: dir + "/target.csv")
        let linked = try shell("export-csv --columns login -o \(dir)/link.csv < \(dir)/leads.ndjson")
        XCTAssertEqual(linked.status, 0, linked.err)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/link.csv"), dir + "/target.csv")
        XCTAssertTrue(try String(contentsOfFile: dir + "/target.csv", encoding: .utf8).hasPrefix("login\r\nfull0\r\n"))

        // A dead-letter file on a full disk stops the stage rather than lose the records.
        let letters = try shell("printf 'not json\\n{\"a\":1}\\n' | export-csv --dead-letter /dev/full > /dev/null")
        XCTAssertEqual(letters.status, 74, letters.err)
        XCTAssertTrue(letters.err.contains("cannot write '/dev/full': disk full"), letters.err)
    }

    /// A real full file system under the state directory (a 2 MB tmpfs; root only, else skipped): the SQLite
    /// state files (SQLITE_FULL, SQLITE_IOERR) end the stage with 74, naming the file.
    func testAFullStateDirectoryIs74() throws {
        try XCTSkipUnless(getuid() == 0, "mounting a tmpfs needs root")
        let mountPoint = Spawn.tempDirectory()
        let mount = try Spawn.run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mountPoint])
        try XCTSkipUnless(mount.status == 0, "cannot mount a tmpfs here: \(mount.err)")
        defer {
            _ = try? Spawn.run("/bin/umount", [mountPoint])
            try? FileManager.default.removeItem(atPath: mountPoint)
        }
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.leads(30).write(toFile: dir + "/leads.ndjson", atomically: true, encoding: .utf8)
        let state = mountPoint + "/state"
        // The state files created with room to spare, then the disk filled to the last 130 KB.
        let first = try shell("head -n 2 \(dir)/leads.ndjson | sync-attio --list outbound_developers --job disk-1", state: state)
        XCTAssertEqual(first.status, 0, first.err)
        let fill = try Spawn.shell(
            "avail=$(df -k \(mountPoint) | tail -n 1 | awk '{print $4}'); dd if=/dev/zero of=\(mountPoint)/fill bs=1k count=$((avail - 130)) 2>/dev/null; true")
        XCTAssertEqual(fill.status, 0, fill.err)
        let full = try shell("tail -n +3 \(dir)/leads.ndjson | sync-attio --list outbound_developers --job disk-2", state: state)
        XCTAssertEqual(full.status, 74, full.err)
        XCTAssertTrue(full.err.contains("cannot write") && full.err.contains(state), full.err)
        XCTAssertTrue(full.err.contains("disk full") || full.err.contains("I/O error"), full.err)
        XCTAssertFalse(full.err.contains("internal error"), full.err)
        // Nothing room at all: the state files cannot even be opened; still 74, not a configuration error.
        _ = try Spawn.shell("dd if=/dev/zero of=\(mountPoint)/fill2 bs=1k 2>/dev/null; true")
        let none = try shell("gh-search --max-repos 5 --min-stars 0", state: mountPoint + "/fresh")
        XCTAssertEqual(none.status, 74, none.err)
        XCTAssertTrue(none.err.contains(mountPoint + "/fresh"), none.err)
    }

    // MARK: - A refused connection: 69

    func testAClosedPortIs69AndSaysConnectionRefused() throws {
        let (fd, port) = try loopbackListener(backlog: 1)
        close(fd)  // nothing listens there now
        let url = "http://127.0.0.1:\(port)"
        let search = try Spawn.run("gh-search", ["--max-repos", "5", "--min-stars", "0", "--retries", "1"],
                                   environment: ["GITHUB_API_URL": url, "GITHUB_TOKEN": "ghp_test"])
        XCTAssertEqual(search.status, 69, search.err)
        XCTAssertTrue(search.err.contains("cannot connect to \(url) (connection refused)"), search.err)
        XCTAssertTrue(search.err.contains("error:"), search.err)
        XCTAssertFalse(search.err.contains("rate-limited"), search.err)

        let attio = try Spawn.run("sync-attio", ["--list", "outbound_developers", "--job", "j", "--retries", "1"], stdin: Data(Self.leads(2).utf8),
                                  environment: ["ATTIO_API_URL": url, "ATTIO_API_KEY": "k"])
        XCTAssertEqual(attio.status, 69, attio.err)
        XCTAssertTrue(attio.err.contains("(connection refused)"), attio.err)
    }

    // MARK: - The campaign file

    /// examples/campaign.yaml (and the demo's) has a `campaign:` section for render-copy: send-instantly, whose
    /// option of the same name is the campaign id, reads it as the section it is.
    func testTheCampaignFileServesSendInstantlyByHand() throws {
        let s = try Self.sandbox()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        for file in ["examples/campaign.yaml", "pipelines/demo-campaign.yaml"] {
            let config = root + "/" + file
            let missing = try Spawn.run("send-instantly", ["--config", config], environment: s.environment)
            XCTAssertEqual(missing.status, 64, missing.err)
            XCTAssertTrue(missing.err.contains("--campaign ID is required"), missing.err)
            XCTAssertFalse(missing.err.contains("AnyHashable"), missing.err)
            let dry = try Spawn.run(
                "send-instantly", ["--config", config, "--dry-run"], stdin: Data(Self.leads(2).utf8),
                environment: s.environment.merging(["CMO_INSTANTLY_CAMPAIGN": s.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN"] ?? ""]) { $1 })
            XCTAssertEqual(dry.status, 0, "\(file): \(dry.err)")
            XCTAssertEqual(dry.lines.count, 2)
        }
        // A value of the wrong type in the stage's own section: the key and what it must be.
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "send-instantly:\n  campaign:\n    id: x\n".write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
        let bad = try Spawn.run("send-instantly", ["--config", dir + "/bad.yaml", "--dry-run"], environment: s.environment)
        XCTAssertEqual(bad.status, 78, bad.err)
        XCTAssertTrue(bad.err.contains("'campaign' must be a string, not a mapping (id)"), bad.err)
        XCTAssertFalse(bad.err.contains("AnyHashable"), bad.err)
    }
}
