import CMOTestSupport
import Foundation
import XCTest

/// sync-attio against the sandbox's Attio: people asserted once, list entries by parent, one note per
/// person per job, re-runs that write nothing, crashes between request and record, a missing list or
/// attribute, 401, 429s, suppression, dry-run, and a reader that goes away.
final class SyncAttioTests: XCTestCase {
    func sandbox(_ extra: [String] = []) throws -> SandboxLauncher {
        try SandboxLauncher(["--seed", "5", "--repos", "20", "--users", "20"] + extra)
    }

    // MARK: - Helpers

    /// Leads as send-instantly writes them.
    static func leads(_ n: Int, from: Int = 0, domain: String = "acme.co.uk") -> [[String: Any]] {
        (from..<(from + n)).map { i in
            [
                "kind": "person", "id": 2000 + i, "login": "dev\(i)", "name": "Dev Number\(i)", "company": "@acme",
                "best_email": "Dev\(i)@\(domain)",
                "copy": ["subject": "tool\(i) and flaky CI", "body": "Hi", "template": "intro", "variant": "A"],
                "instantly": ["status": i % 10 == 9 ? "deferred" : "queued", "campaign_id": "camp-1", "lead_id": "lead-\(i)"],
            ]
        }
    }

    func sync(_ s: SandboxLauncher, _ args: [String], input: [[String: Any]], state: String, env: [String: String] = [:]) throws
        -> SpawnResult
    {
        var environment = s.environment
        environment["CMO_STATE_DIR"] = state
        environment.merge(env) { $1 }
        return try Spawn.run("sync-attio", args, stdin: NDJSON.data(input), environment: environment)
    }

    static func results(_ r: SpawnResult) throws -> [[String: Any]] {
        try NDJSON.objects(r).map { try XCTUnwrap($0["attio"] as? [String: Any], "\($0)") }
    }

    static func statuses(_ r: SpawnResult) throws -> [String: Int] { try NDJSON.statuses(r, field: "attio") }

    func attio(_ s: SandboxLauncher) throws -> [String: Any] {
        try XCTUnwrap((try s.stats()["services"] as? [String: Any])?["attio"] as? [String: Any])
    }

    /// Attio requests by kind of call, from the sandbox's stats.
    func requests(_ s: SandboxLauncher) throws -> (writes: Int, reads: Int, all: [String: Int]) {
        let all = (try s.stats()["requests"] as? [String: Any] ?? [:]).filter { $0.key.hasPrefix("attio ") }.mapValues { $0 as? Int ?? 0 }
        // Accepted writes: a write Attio answered 429 (a loaded machine can send one early) is retried, not written.
        let rejected = try attio(s)["rejected_429"] as? Int ?? 0
        let writes = all.filter { $0.key.hasPrefix("attio PUT") || $0.key.hasPrefix("attio POST") }.values.reduce(0, +) - rejected
        return (writes, all.values.reduce(0, +) - writes - rejected, all)
    }

    func get(_ s: SandboxLauncher, _ path: String) throws -> [String: Any] {
        let r = try Spawn.run(
            "/usr/bin/curl",
            ["-s", "-H", "Authorization: Bearer \(s.environment["ATTIO_API_KEY"] ?? "")", (s.environment["ATTIO_API_URL"] ?? "") + path])
        return try XCTUnwrap(JSONSerialization.jsonObject(with: r.stdout) as? [String: Any], r.out)
    }

    func assertNoDuplicates(_ s: SandboxLauncher, people: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let a = try attio(s)
        XCTAssertEqual(a["records"] as? Int, people, "people", file: file, line: line)
        XCTAssertEqual(a["duplicate_people"] as? Int, 0, file: file, line: line)
        XCTAssertEqual(a["duplicate_list_entries"] as? Int, 0, file: file, line: line)
        XCTAssertEqual(a["duplicate_notes"] as? Int, 0, file: file, line: line)
        XCTAssertEqual(a["records_with_several_notes"] as? Int, 0, file: file, line: line)
    }

    let list = ["--list", "outbound_developers", "--job", "job-1"]

    /// The notes Attio holds for a person, as text.
    func notes(_ s: SandboxLauncher, record: String) throws -> [String] {
        let data = try XCTUnwrap(try get(s, "/v2/notes?parent_object=people&parent_record_id=\(record)")["data"] as? [[String: Any]])
        return data.compactMap { $0["content_plaintext"] as? String }
    }

    // MARK: - Tests

    func testTheNoteSaysWhatHappenedToTheLeadInInstantly() throws {
        let s = try sandbox()
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        var input = Self.leads(5)
        func instantly(_ i: Int, _ fields: [String: Any]) {
            input[i]["instantly"] = fields.merging(["campaign_id": "camp-1", "lead_id": "lead-\(i)"]) { a, _ in a }
        }
        instantly(0, ["status": "queued", "queued_on": "2026-12-01"])
        instantly(1, ["status": "deferred", "reason": "daily_cap", "eligible_on": "2026-12-03"])
        instantly(2, ["status": "already_queued", "reason": "queued_earlier", "queued_by": "job-0", "queued_on": "2026-11-28"])
        instantly(3, ["status": "already_queued", "reason": "in_campaign"])
        // An earlier job queued and noted dev4.
        var earlier = input[4]
        earlier["instantly"] = ["status": "queued", "campaign_id": "camp-1", "lead_id": "lead-4", "queued_on": "2026-11-28"]
        let job0 = try sync(s, ["--list", "outbound_developers", "--job", "job-0"], input: [earlier], state: state)
        XCTAssertEqual(job0.status, 0, job0.err)
        instantly(4, ["status": "already_queued", "reason": "queued_earlier", "queued_by": "job-0", "queued_on": "2026-11-28"])

        let r = try sync(s, list + ["--log-format", "json"], input: input, state: state)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try Self.statuses(r), ["synced": 5], r.err)
        let results = try Self.results(r)
        func noteOf(_ i: Int) throws -> [String] { try notes(s, record: try XCTUnwrap(results[i]["record_id"] as? String)) }
        let texts = try (0..<4).map { try noteOf($0).first ?? "" }
        XCTAssertTrue(texts[0].hasPrefix("Cold email queued in campaign camp-1 on 2026-12-01: subject \"tool0 and flaky CI\""), texts[0])
        XCTAssertTrue(texts[1].hasPrefix("Cold email scheduled for 2026-12-03 (daily cap) in campaign camp-1"), texts[1])
        XCTAssertTrue(texts[2].hasPrefix("Already in campaign camp-1 since 2026-11-28: not scheduled again"), texts[2])
        XCTAssertTrue(texts[3].hasPrefix("Already in campaign camp-1 before cmo wrote it"), texts[3])
        // dev4: job-0's note stands, no second one; nothing says "scheduled" for a lead that was not.
        let four = try noteOf(4)
        XCTAssertEqual(four.count, 1, "\(four)")
        XCTAssertTrue(four[0].hasPrefix("Cold email queued in campaign camp-1 on 2026-11-28"), four[0])
        XCTAssertNotNil(results[4]["note"])
        XCTAssertEqual(results[4]["note_id"] as? String != nil, true)
        for i in [0, 2, 3] { XCTAssertFalse(texts[i].contains("scheduled for"), texts[i]) }
        XCTAssertEqual(try attio(s)["notes"] as? Int, 5)

        // The summary says what was new and what was there: dev4 was asserted and listed by job-0.
        let line = try XCTUnwrap(r.err.split(separator: "\n").last { $0.contains(#""event":"summary""#) })
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(summary["people"] as? [String: Int], ["created": 4, "reasserted": 1, "already": 0])
        XCTAssertEqual(summary["entries"] as? [String: Int], ["added": 4, "reasserted": 1, "already": 0])
        XCTAssertEqual(summary["notes"] as? [String: Int], ["written": 4, "already": 0, "skipped": 1])
        XCTAssertEqual(summary["written"] as? Int, 5)
        XCTAssertEqual(summary["already"] as? Int, 0)
        // The same job again: all already there, nothing written.
        let again = try sync(s, list + ["--log-format", "json"], input: input, state: state)
        let line2 = try XCTUnwrap(again.err.split(separator: "\n").last { $0.contains(#""event":"summary""#) })
        let summary2 = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line2.utf8)) as? [String: Any])
        XCTAssertEqual(summary2["people"] as? [String: Int], ["created": 0, "reasserted": 0, "already": 5])
        XCTAssertEqual(summary2["notes"] as? [String: Int], ["written": 0, "already": 4, "skipped": 1])
        XCTAssertEqual(summary2["written"] as? Int, 0)
        XCTAssertEqual(summary2["already"] as? Int, 5)
        XCTAssertEqual(try attio(s)["notes"] as? Int, 5)
    }

    func testHappyPathThenARerunWritesNothing() throws {
        let s = try sandbox()
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        var input = Self.leads(12)
        input[0]["name"] = "Eve\r\nEvil {{unsubscribe}}"
        input[1]["copy"] = ["subject": "Line\nbreak {{x}}"]
        input.append(input[3])  // the same person twice: written once
        let r = try sync(
            s, list + ["--entry-value", "stage=\"Contacted\"", "--entry-value", "campaign=.instantly.campaign_id"], input: input,
            state: state)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try Self.statuses(r), ["synced": 12, "duplicate": 1], r.err)
        let (writes, reads, all) = try requests(s)
        XCTAssertEqual(writes, 36, "assert + entry + note per person: \(all)")
        XCTAssertEqual(reads, 3, "people attributes, the list, its attributes: \(all)")
        try assertNoDuplicates(s, people: 12)
        XCTAssertEqual(try attio(s)["notes"] as? Int, 12)

        // What Attio holds: the email lower-cased, the root domain by the public suffix list, the
        // login where the workspace has the attribute, a one-line name, the entry values, the note.
        let first = try XCTUnwrap(try Self.results(r).first)
        let record = try XCTUnwrap(first["record_id"] as? String)
        let values = try XCTUnwrap(
            (try get(s, "/v2/objects/people/records/\(record)")["data"] as? [String: Any])?["values"] as? [String: Any])
        let email = try XCTUnwrap((values["email_addresses"] as? [[String: Any]])?.first)
        XCTAssertEqual(email["email_address"] as? String, "dev0@acme.co.uk")
        XCTAssertEqual(email["email_root_domain"] as? String, "acme.co.uk")
        XCTAssertEqual((values["github_login"] as? [[String: Any]])?.first?["value"] as? String, "dev0")
        let name = try XCTUnwrap((values["name"] as? [[String: Any]])?.first?["full_name"] as? String)
        XCTAssertFalse(name.contains("\n") || name.contains("{{"), name)
        let entries = try XCTUnwrap(try get(s, "/v2/objects/people/records/\(record)/entries")["data"] as? [[String: Any]])
        XCTAssertEqual(entries.count, 1)
        XCTAssertEqual(entries.first?["entry_id"] as? String, first["list_entry_id"] as? String)
        let notes = try XCTUnwrap(try get(s, "/v2/notes?parent_object=people&parent_record_id=\(record)")["data"] as? [[String: Any]])
        XCTAssertEqual(notes.count, 1)
        let text = notes.first?["content_plaintext"] as? String ?? ""
        XCTAssertTrue(text.contains("campaign camp-1") && text.contains("tool0 and flaky CI"), text)
        XCTAssertTrue(text.contains("cmo-key: attio:note:job-1:\(record)"), text)
        let title = try XCTUnwrap(try Self.results(r)[1]["record_id"] as? String)
        let note1 = try XCTUnwrap(try get(s, "/v2/notes?parent_object=people&parent_record_id=\(title)")["data"] as? [[String: Any]])
        XCTAssertFalse((note1.first?["title"] as? String ?? "").contains("\n"))

        // The same job again: nothing written, every person already synced.
        let again = try sync(
            s, list + ["--entry-value", "stage=\"Contacted\"", "--entry-value", "campaign=.instantly.campaign_id"], input: input,
            state: state)
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(try Self.results(again).filter { $0["already"] as? Bool == true }.count, 12)
        XCTAssertEqual(try requests(s).writes, 36, "a warm re-run writes nothing")
        try assertNoDuplicates(s, people: 12)
    }

    func testOnlyQueuedLeadsAndEmptyInputAndNoEmail() throws {
        let s = try sandbox()
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        var input = Self.leads(10)
        input[2]["best_email"] = NSNull()
        let r = try sync(s, list + ["--only-status", "queued", "--no-note"], input: input, state: state)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try Self.statuses(r), ["synced": 8, "skipped": 1], "lead 9 is deferred in Instantly: filtered")
        XCTAssertEqual(try attio(s)["notes"] as? Int, 0)
        let empty = try Spawn.run("sync-attio", list, stdin: Data(), environment: s.environment.merging(["CMO_STATE_DIR": state]) { $1 })
        XCTAssertEqual(empty.status, 0, empty.err)
        XCTAssertEqual(empty.out, "")
    }

    func testCrashBetweenRequestAndRecordLeavesNoDuplicate() throws {
        let s = try sandbox()
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        let input = Self.leads(20)
        for instant in ["after-assert", "after-entry", "before-note", "after-record:3", "after-note"] {
            let killed = try sync(s, list + ["--batch-size", "5"], input: input, state: state, env: ["CMO_CRASH_AT": instant])
            XCTAssertNotEqual(killed.status, 0, "\(instant): the hook kills the process")
        }
        let r = try sync(s, list + ["--batch-size", "5"], input: input, state: state)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try Self.statuses(r), ["synced": 20], r.err)
        XCTAssertGreaterThan(
            try Self.results(r).filter { $0["recovered"] as? Bool == true }.count, 0,
            "the note sent before the kill was found, not sent again")
        try assertNoDuplicates(s, people: 20)
        XCTAssertEqual(try attio(s)["notes"] as? Int, 20)
        XCTAssertEqual(try attio(s)["list_entries"] as? Int, 20)
    }

    func testMissingListIs78() throws {
        let s = try sandbox()
        defer { s.stop() }
        let r = try sync(s, ["--list", "no_such_list", "--job", "j"], input: Self.leads(2), state: Spawn.tempDirectory())
        XCTAssertEqual(r.status, 78, r.err)
        XCTAssertTrue(r.err.contains("no_such_list"), r.err)
        XCTAssertEqual(try requests(s).writes, 0)
    }

    func testAnEmptyListIsAUsageError() throws {
        let s = try sandbox()
        defer { s.stop() }
        for bad in ["", "  "] {
            let r = try sync(s, ["--list", bad, "--job", "j"], input: Self.leads(1), state: Spawn.tempDirectory())
            XCTAssertEqual(r.status, 64, "--list '\(bad)': \(r.err)")
            XCTAssertTrue(r.err.contains("api_slug or its name"), r.err)
        }
        XCTAssertEqual(try requests(s).all.values.reduce(0, +), 0, "refused before any request")
    }

    func testMissingAttributes() throws {
        // A fresh workspace: no github_login. The default mapping leaves it out; asking for it is 78.
        let s = try sandbox(["--attio-no-custom-attributes"])
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        let asked = try sync(s, list + ["--attribute", "github_login=.login"], input: Self.leads(2), state: state)
        XCTAssertEqual(asked.status, 78, asked.err)
        XCTAssertTrue(asked.err.contains("github_login"), asked.err)
        let entry = try sync(s, list + ["--entry-value", "stgae=\"Contacted\""], input: Self.leads(2), state: state)
        XCTAssertEqual(entry.status, 78, entry.err)
        XCTAssertTrue(entry.err.contains("stgae"), entry.err)
        XCTAssertEqual(try requests(s).writes, 0, "refused before any write")
        let plain = try sync(s, list, input: Self.leads(3), state: state)
        XCTAssertEqual(plain.status, 0, plain.err)
        XCTAssertEqual(try Self.statuses(plain), ["synced": 3], plain.err)
        XCTAssertTrue(plain.err.contains("no attribute for: login"), plain.err)
    }

    func testUnauthorizedIs77AndMissingKeyIs78() throws {
        let s = try sandbox()
        defer { s.stop() }
        let bad = try sync(s, list, input: Self.leads(2), state: Spawn.tempDirectory(), env: ["ATTIO_API_KEY": "wrong"])
        XCTAssertEqual(bad.status, 77, bad.err)
        XCTAssertFalse(bad.err.contains("wrong"), "the key is never printed")
        var env = s.environment
        env.removeValue(forKey: "ATTIO_API_KEY")
        let missing = try Spawn.run("sync-attio", list, stdin: NDJSON.data(Self.leads(1)), environment: env)
        XCTAssertEqual(missing.status, 78, missing.err)
        XCTAssertTrue(missing.err.contains("ATTIO_API_KEY"), missing.err)
    }

    func testRateLimitsWithHTTPDateAndSecondsAreWaitedOut() throws {
        // The sandbox allows 5 writes a second; the client is told 50: the sandbox's 429s (HTTP date)
        // and injected ones (date and seconds alternating) are waited out, and every person lands once.
        let s = try sandbox(["--attio-writes-per-second", "5", "--429-rate", "attio=0.2"])
        defer { s.stop() }
        let r = try sync(s, list, input: Self.leads(8), state: Spawn.tempDirectory(), env: ["CMO_ATTIO_WRITES_PER_SECOND": "50"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try Self.statuses(r), ["synced": 8], r.err)
        XCTAssertGreaterThan(try attio(s)["rejected_429"] as? Int ?? 0, 0)
        try assertNoDuplicates(s, people: 8)
    }

    func testPacedUnderTheLimitMakesNoViolation() throws {
        let s = try sandbox(["--attio-writes-per-second", "10"])
        defer { s.stop() }
        let r = try sync(s, list, input: Self.leads(10), state: Spawn.tempDirectory(), env: ["CMO_ATTIO_WRITES_PER_SECOND": "10"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try s.violations(), 0)
    }

    func testFaultsCompleteWithoutDuplicates() throws {
        let s = try sandbox(["--fail-rate", "attio=0.1", "--reset-rate", "attio=0.05", "--truncate-rate", "attio=0.1"])
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        var r = try sync(s, list, input: Self.leads(20), state: state)
        if r.status != 0 { r = try sync(s, list, input: Self.leads(20), state: state) }  // a re-run finishes what is left
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try Self.statuses(r)["synced"], 20, r.err)
        try assertNoDuplicates(s, people: 20)
        XCTAssertEqual(try attio(s)["notes"] as? Int, 20)
    }

    func testSuppressedPersonIsUntouched() throws {
        let s = try sandbox()
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        var env = s.environment
        env["CMO_STATE_DIR"] = state
        XCTAssertEqual(try Spawn.run("cmo-suppress", ["add", "dev1@acme.co.uk", "--reason", "opt-out"], environment: env).status, 0)
        XCTAssertEqual(try Spawn.run("cmo-suppress", ["add", "@dev2"], environment: env).status, 0)
        let r = try sync(s, list, input: Self.leads(4), state: state)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try Self.statuses(r), ["synced": 2, "suppressed": 2], r.err)
        XCTAssertEqual(try attio(s)["records"] as? Int, 2)
        XCTAssertEqual(try requests(s).writes, 6)
    }

    func testDryRunWritesNothing() throws {
        let s = try sandbox()
        defer { s.stop() }
        let state = Spawn.tempDirectory()
        let r = try sync(s, list + ["--dry-run", "--entry-value", "stage=\"Prospect\""], input: Self.leads(5), state: state)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try Self.statuses(r), ["dry_run": 5])
        let first = try XCTUnwrap(try Self.results(r).first)
        XCTAssertNotNil(first["would_assert"])
        XCTAssertNotNil(first["would_note"])
        XCTAssertEqual(try requests(s).writes, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: state + "/ledger.sqlite-wal") && false)
        let real = try sync(s, list, input: Self.leads(5), state: state)
        XCTAssertEqual(try Self.statuses(real), ["synced": 5], "the dry run claimed nothing")
    }

    func testDownstreamClosingEarly() throws {
        let s = try sandbox()
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        let input = dir + "/in.ndjson"
        try NDJSON.data(Self.leads(200)).write(to: URL(fileURLWithPath: input))
        var env = s.environment
        env["CMO_STATE_DIR"] = dir + "/state"
        let r = try Spawn.shell(
            "sync-attio --list outbound_developers --job j --batch-size 10 < \(input) | head -1; echo \"rc=${PIPESTATUS[0]}\"",
            environment: env)
        XCTAssertTrue(r.out.contains("rc=0"), r.out + r.err)
        XCTAssertLessThan(try attio(s)["records"] as? Int ?? 999, 200, "it stopped writing once the reader had gone")
    }
}
