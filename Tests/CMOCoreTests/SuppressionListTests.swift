import Foundation
import GRDB
import CMOTestSupport
import XCTest

@testable import CMOContract
@testable import CMOBasics
@testable import CMOStorage
@testable import CMOLedger

final class SuppressionListTests: XCTestCase {
    private var dir = ""

    override func setUp() {
        dir = NSTemporaryDirectory() + "cmo-suppression-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private func openList(_ name: String = "suppression.sqlite") throws -> SuppressionList {
        try SuppressionList.open(path: dir + "/" + name)
    }

    // MARK: Normalisation

    func testValuesAreNormalisedAndTheirKindInferred() throws {
        let cases: [(String, SuppressionKind, String)] = [
            ("  Jane.Doe@ACME.com. ", .email, "jane.doe@acme.com"),
            ("jane@Bücher.de", .email, "jane@xn--bcher-kva.de"),
            ("<bob@acme.com>", .email, "bob@acme.com"),
            ("ACME.com.", .domain, "acme.com"),
            ("@acme.com", .domain, "acme.com"),
            ("*.Acme.COM", .domain, "acme.com"),
            ("bücher.DE", .domain, "xn--bcher-kva.de"),
            ("domain:Example.org", .domain, "example.org"),
            ("@Octo-Cat", .login, "octo-cat"),
            ("login:OctoCat", .login, "octocat"),
            ("LOGIN:dependabot[bot]", .login, "dependabot[bot]"),
            ("email:A@B.io", .email, "a@b.io"),
        ]
        for (text, kind, value) in cases {
            let parsed = try SuppressionValue.parse(text)
            XCTAssertEqual(parsed.kind, kind, text)
            XCTAssertEqual(parsed.value, value, text)
        }
        XCTAssertEqual(try SuppressionValue.parse("octocat", kind: .login).value, "octocat")
        XCTAssertEqual(try SuppressionValue.parse("@OctoCat", kind: .login).value, "octocat")
        XCTAssertEqual(try SuppressionKind.domain.normalize(" Sub.Example.COM. "), "sub.example.com")
    }

    func testInvalidValuesAreRefusedWithTheirReason() {
        let bad: [(String, SuppressionKind?, String)] = [
            ("octocat", nil, "write a login as @octocat"),
            ("not an email", nil, "is not an email, a domain or a login"),
            ("", nil, "is empty"),
            ("a@b", nil, "is not a valid email address"),
            ("a@@b.com", nil, "is not a valid email address"),
            ("com", .domain, "is not a valid domain name"),
            ("-x.com", .domain, "is not a valid domain name"),
            ("@bad_login!", nil, "is not a valid GitHub login"),
            ("@-leading", nil, "is not a valid GitHub login"),
            (String(repeating: "a", count: 40), .login, "is not a valid GitHub login"),
            ("a.com", .email, "is not a valid email address"),
            ("domain:x@y.com", .login, "says 'domain:' but the kind is 'login'"),
        ]
        for (text, kind, message) in bad {
            XCTAssertThrowsError(try SuppressionValue.parse(text, kind: kind), text) { error in
                let e = error as? SuppressionValueError
                XCTAssertEqual(e?.exitStatus, .dataError, text)
                XCTAssertTrue(e?.description.contains(message) == true, "\(text): \(String(describing: e))")
            }
        }
    }

    // MARK: Matching

    func testAnEmailMatchesItselfItsDomainAndEveryParentDomain() throws {
        try StorageBackends.each { _, env in
            let list = try SuppressionList.open(environment: env)
            XCTAssertEqual(
                try list.add([
                    SuppressionEntry(kind: .email, value: "Jane@Example.org", reason: "opt-out"),
                    SuppressionEntry(kind: .domain, value: "acme.com", reason: "customer"),
                    SuppressionEntry(kind: .domain, value: "bücher.de"),
                ]), 3)
            XCTAssertEqual(try list.match(email: "JANE@example.ORG.", login: nil)?.value, "jane@example.org")
            XCTAssertNil(try list.match(email: "john@example.org", login: nil))
            XCTAssertEqual(try list.match(email: "a@acme.com", login: nil)?.value, "acme.com")
            XCTAssertEqual(try list.match(email: "a@eu.acme.com", login: nil)?.value, "acme.com")
            XCTAssertEqual(try list.match(email: "a@x.y.eu.acme.com", login: nil)?.reason, "customer")
            XCTAssertNil(try list.match(email: "a@notacme.com", login: nil), "a suffix that is not a parent label")
            XCTAssertNil(try list.match(email: "a@acme.com.evil.io", login: nil))
            XCTAssertEqual(try list.match(email: "x@shop.Bücher.de", login: nil)?.value, "xn--bcher-kva.de")
            XCTAssertNil(try list.match(email: nil, login: nil))
            XCTAssertNil(try list.match(email: "not an address", login: nil))
            // The most specific entry wins.
            _ = try list.add([SuppressionEntry(kind: .domain, value: "eu.acme.com", reason: "eu")])
            XCTAssertEqual(try list.match(email: "a@eu.acme.com", login: nil)?.reason, "eu")
        }
    }

    func testLoginsMatchTheRecordsLoginAndNoreplyAddresses() throws {
        try StorageBackends.each { _, env in
            let list = try SuppressionList.open(environment: env)
            _ = try list.add([SuppressionEntry(kind: .login, value: "@OctoCat", reason: "asked on an issue")])
            XCTAssertEqual(try list.match(email: nil, login: "octocat")?.kind, .login)
            XCTAssertEqual(try list.match(email: "someone@else.com", login: "@OCTOCAT")?.value, "octocat")
            XCTAssertEqual(try list.match(email: "583231+octocat@users.noreply.github.com", login: nil)?.value, "octocat")
            XCTAssertNil(try list.match(email: nil, login: "octocat2"))
        }
    }

    func testRecordsAreMatchedByBestEmailEmailsAndLogin() throws {
        try StorageBackends.each { _, env in
            let list = try SuppressionList.open(environment: env)
            _ = try list.add([
                SuppressionEntry(kind: .email, value: "old@work.com"), SuppressionEntry(kind: .domain, value: "best.io"),
                SuppressionEntry(kind: .login, value: "ada"),
            ])
            func match(_ json: String) throws -> SuppressionEntry? { try list.match(record: try Record(json: json)) }
            XCTAssertEqual(try match(#"{"best_email":{"address":"me@best.io"}}"#)?.value, "best.io")
            XCTAssertEqual(try match(#"{"best_email":"me@best.io"}"#)?.value, "best.io")
            XCTAssertEqual(
                try match(#"{"best_email":"me@fine.com","emails":[{"address":"x@y.com"},{"address":"OLD@work.com"}]}"#)?.value, "old@work.com")
            XCTAssertEqual(try match(#"{"emails":[],"login":"Ada"}"#)?.value, "ada")
            XCTAssertNil(try match(#"{"best_email":null,"emails":[{"address":"x@y.com"}],"login":"bob"}"#))
            XCTAssertNil(try match(#"{"id":1}"#))
        }
    }

    func testQueryModeAnswersAsTheSnapshotDoes() throws {
        try StorageBackends.each { _, env in
            let list = try SuppressionList.open(environment: env)
            _ = try list.add([
                SuppressionEntry(kind: .email, value: "a@x.com"), SuppressionEntry(kind: .domain, value: "y.com"),
                SuppressionEntry(kind: .login, value: "l"),
            ])
            let probes: [(String?, String?)] = [
                ("a@x.com", nil), ("b@x.com", nil), ("b@sub.y.com", nil), (nil, "L"), ("1+l@users.noreply.github.com", nil),
            ]
            let snapshot = try probes.map { try list.match(email: $0.0, login: $0.1)?.value }
            list.matchMode = .query
            XCTAssertEqual(try probes.map { try list.match(email: $0.0, login: $0.1)?.value }, snapshot)
            XCTAssertEqual(snapshot, ["a@x.com", nil, "y.com", "l", "l"])
        }
    }

    // MARK: Changing the list

    func testReAddingUpdatesReasonAndSourceAndNeverDuplicates() throws {
        try StorageBackends.each { _, env in
            let list = try SuppressionList.open(environment: env)
            let first = Date(timeIntervalSince1970: 1_700_000_000)
            let counts = try list.upsert([
                SuppressionEntry(kind: .email, value: "a@b.com", reason: "bounce", source: "instantly", addedAt: first)
            ])
            XCTAssertEqual(counts, SuppressionWriteCounts(added: 1))
            XCTAssertEqual(
                try list.upsert([SuppressionEntry(kind: .email, value: "A@B.COM", reason: "bounce", source: "instantly")]).unchanged, 1)
            XCTAssertEqual(try list.upsert([SuppressionEntry(kind: .email, value: "a@b.com", reason: "opt-out")]).updated, 1)
            XCTAssertEqual(try list.add([SuppressionEntry(kind: .email, value: "a@b.com", reason: nil, source: "manual")]), 0)
            let all = try list.all()
            XCTAssertEqual(all.count, 1)
            XCTAssertEqual(all[0], SuppressionEntry(kind: .email, value: "a@b.com", reason: "opt-out", source: "manual", addedAt: first))
            XCTAssertEqual(
                all[0].json.compactJSON,
                #"{"kind":"email","value":"a@b.com","reason":"opt-out","source":"manual","added_at":"2023-11-14T22:13:20Z"}"#)
            // The same value as a domain is another entry.
            _ = try list.add([SuppressionEntry(kind: .domain, value: "b.com")])
            XCTAssertEqual(try list.all().map(\.kind), [.domain, .email])
        }
    }

    func testAnInvalidEntryAddsNothing() throws {
        try StorageBackends.each { _, env in
            let list = try SuppressionList.open(environment: env)
            XCTAssertThrowsError(
                try list.add([SuppressionEntry(kind: .email, value: "ok@x.com"), SuppressionEntry(kind: .email, value: "nope")])
            ) { XCTAssertTrue($0 is SuppressionValueError) }
            XCTAssertEqual(try list.all(), [])
        }
    }

    func testRemove() throws {
        try StorageBackends.each { _, env in
            let list = try SuppressionList.open(environment: env)
            _ = try list.add([SuppressionEntry(kind: .domain, value: "acme.com"), SuppressionEntry(kind: .email, value: "a@acme.com")])
            XCTAssertNotNil(try list.match(email: "z@acme.com", login: nil))
            XCTAssertTrue(try list.remove(kind: .domain, value: "ACME.com."))
            XCTAssertFalse(try list.remove(kind: .domain, value: "acme.com"))
            XCTAssertNil(try list.match(email: "z@acme.com", login: nil), "the snapshot is dropped after a change")
            XCTAssertEqual(try list.match(email: "a@acme.com", login: nil)?.kind, .email)
            XCTAssertEqual(try list.removeEntry(kind: .email, value: "a@acme.com")?.value, "a@acme.com")
            XCTAssertEqual(try list.all(), [])
        }
    }

    // MARK: Several processes

    func testAChangeByAnotherConnectionIsSeenByAHeldSnapshot() throws {
        try StorageBackends.each { _, env in
            let reader = try SuppressionList.open(environment: env)
            let writer = try SuppressionList.open(environment: env)
            reader.refreshInterval = 0
            XCTAssertNil(try reader.match(email: "a@late.com", login: nil))
            _ = try writer.add([SuppressionEntry(kind: .domain, value: "late.com")])
            XCTAssertEqual(try reader.match(email: "a@late.com", login: nil)?.value, "late.com")
            XCTAssertTrue(try writer.remove(kind: .domain, value: "late.com"))
            XCTAssertNil(try reader.match(email: "a@late.com", login: nil))
        }
    }

    func testTwoPoolsAddingAtOnceLoseAndDuplicateNothing() throws {
        // Two lists are two GRDB pools on one file, as two processes would be; the first open races too.
        let path = dir + "/race.sqlite"
        let errors = NSLock()
        nonisolated(unsafe) var failures: [String] = []
        nonisolated(unsafe) var added = [0, 0]
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            do {
                let list = try SuppressionList.open(path: path)
                // Worker 0 adds 0..<1500, worker 1 adds 1000..<2500: 500 in common.
                let base = worker * 1000
                for batch in stride(from: base, to: base + 1500, by: 100) {
                    let entries = (batch..<batch + 100).map {
                        SuppressionEntry(kind: .email, value: "u\($0)@race.test", source: "w\(worker)")
                    }
                    let n = try list.add(entries)
                    errors.lock()
                    added[worker] += n
                    errors.unlock()
                    _ = try list.match(email: "u\(batch)@race.test", login: nil)
                }
            } catch {
                errors.lock()
                failures.append("\(error)")
                errors.unlock()
            }
        }
        XCTAssertEqual(failures, [])
        XCTAssertEqual(added[0] + added[1], 2500, "each shared value is new to exactly one of them")
        let all = try SuppressionList.open(path: path).all()
        XCTAssertEqual(all.count, 2500)
        XCTAssertEqual(Set(all.map(\.value)).count, 2500)
    }

    // MARK: Migrations

    func testAFileLeftByTheFirstSchemaIsMigratedAndKeepsItsEntries() throws {
        let path = dir + "/old.sqlite"
        do {
            let old = try StateDatabase.open(path, migrator: SuppressionSQLiteStore.migrator(upTo: "v1-suppression"))
            try old.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO suppression (kind, value, reason, source, added_at, updated_at) VALUES ('domain', 'old.com', 'legacy', 'v1', 1600000000, 1600000000)"
                )
                XCTAssertFalse(try db.tableExists("suppression_version"))
            }
        }
        let list = try SuppressionList.open(path: path)
        XCTAssertEqual(try list.match(email: "x@mail.old.com", login: nil)?.reason, "legacy")
        let store = try XCTUnwrap(list.store as? SuppressionSQLiteStore)
        let before = try store.version()
        _ = try list.add([SuppressionEntry(kind: .login, value: "new")])
        XCTAssertGreaterThan(try store.version(), before, "the v2 triggers count changes")
        let applied = try DatabaseQueue(path: path).read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
        }
        XCTAssertEqual(applied, ["v1-suppression", "v2-change-counter"])
        // Opening again (as every later run does) changes nothing.
        XCTAssertEqual(try SuppressionList.open(path: path).all().count, 2)
    }

    func testAStateDirectoryThatCannotBeCreatedIsAConfigurationError() throws {
        let file = dir + "/plain-file"
        FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        XCTAssertThrowsError(try SuppressionList.open(environment: ["CMO_STATE_DIR": file + "/state"])) { error in
            XCTAssertEqual((error as? CMOError)?.exitStatus, .config, "\(error)")
        }
        let garbage = dir + "/garbage.sqlite"
        FileManager.default.createFile(atPath: garbage, contents: Data(repeating: 0x78, count: 4096))
        XCTAssertThrowsError(try SuppressionList.open(path: garbage)) { error in
            XCTAssertEqual((error as? CMOError)?.exitStatus, .config, "a file that is not a database: \(error)")
        }
        let list = try SuppressionList.open(environment: ["CMO_STATE_DIR": dir + "/fresh/state"])
        XCTAssertEqual(list.location, dir + "/fresh/state/suppression.sqlite")
        XCTAssertTrue(FileManager.default.fileExists(atPath: list.location))
    }

    // MARK: Scale

    func testMatching100kRecordsAgainst100kEntriesIsCheap() throws {
        let list = try openList()
        var entries: [SuppressionEntry] = []
        for i in 0..<100_000 {
            entries.append(
                SuppressionEntry(kind: i % 10 == 0 ? .domain : .email, value: i % 10 == 0 ? "d\(i).com" : "p\(i)@mail\(i % 97).com"))
        }
        let t0 = Date()
        for chunk in stride(from: 0, to: entries.count, by: 5000) { _ = try list.add(Array(entries[chunk..<chunk + 5000])) }
        let addSeconds = Date().timeIntervalSince(t0)
        let t1 = Date()
        var hits = 0
        for i in 0..<100_000 {
            if try list.match(email: "p\(i)@sub.d\(i - i % 10).com", login: "user\(i)") != nil { hits += 1 }
        }
        let matchSeconds = Date().timeIntervalSince(t1)
        XCTAssertEqual(hits, 100_000)
        print("suppression: 100k entries added in \(addSeconds) s, 100k records matched in \(matchSeconds) s")
        XCTAssertLessThan(matchSeconds, 10, "debug build; a release build is several times faster")
    }

    // MARK: Import rows

    func testImportColumnsAndRows() throws {
        let header = ["Blocked Email", "Date", "Lead Email", "Email", "Company Domain", "login", "Reason"]
        let cols = try XCTUnwrap(SuppressionImport.columns(header: header))
        XCTAssertEqual(cols[0], .anyValue)
        XCTAssertEqual(cols[1], .addedAt)
        XCTAssertNil(cols[4], "a company domain is not a do-not-contact domain")
        XCTAssertNil(SuppressionImport.columns(header: ["First Name", "Company Domain"]))
        let importer = SuppressionImport(defaultReason: "unsubscribed", defaultSource: "instantly")
        let row = importer.item(cells: ["", "2023-09-15T12:00:00Z", "Jo@X.com", "other@x.com", "x.com", "@Jo", ""], columns: cols)
        XCTAssertEqual(row.entries.map(\.value), ["jo@x.com", "jo"])
        XCTAssertEqual(row.entries.first?.addedAt, Date(timeIntervalSince1970: 1_694_779_200))
        XCTAssertEqual(row.entries.first?.reason, "unsubscribed")
        XCTAssertTrue(row.problems.isEmpty)

        let domains = try XCTUnwrap(SuppressionImport.columns(header: ["email", "domain"]))
        XCTAssertEqual(importer.item(cells: ["", "acme.com"], columns: domains).entries.map(\.kind), [.domain])
        XCTAssertEqual(importer.item(cells: ["a@acme.com", "acme.com"], columns: domains).entries.map(\.kind), [.email])
        let bad = importer.item(cells: ["nope", ""], columns: domains)
        XCTAssertEqual(bad.problems.map(\.code), ["bad_value"])
        XCTAssertEqual(importer.item(cells: ["", ""], columns: domains).problems.map(\.code), ["no_value"])

        let listed = try XCTUnwrap(SuppressionImport.columns(header: ["kind", "value", "reason", "source", "added_at"]))
        let back = importer.item(cells: ["email", "'-dash@x.com", "r", "s", "2024-01-01T00:00:00Z"], columns: listed)
        XCTAssertEqual(
            back.entries,
            [
                SuppressionEntry(
                    kind: .email, value: "-dash@x.com", reason: "r", source: "s", addedAt: Date(timeIntervalSince1970: 1_704_067_200))
            ])
        XCTAssertEqual(importer.item(cells: ["login", "octocat", "", "", ""], columns: listed).entries.map(\.value), ["octocat"])

        func record(_ json: String) throws -> SuppressionImportItem { importer.item(record: try Record(json: json)) }
        XCTAssertEqual(
            try record(#"{"best_email":{"address":"A@b.com"},"login":"ada","domain":"b.com"}"#).entries.map(\.value), ["a@b.com", "ada"])
        XCTAssertEqual(try record(#"{"address":"q@r.io","reason":"bounce"}"#).entries.first?.reason, "bounce")
        XCTAssertEqual(try record(#"{"kind":"domain","value":"z.org"}"#).entries.map(\.kind), [.domain])
        XCTAssertEqual(try record(#"{"email":5}"#).problems.map(\.code), ["bad_value"])
        XCTAssertEqual(try record(#"{"name":"x"}"#).problems.map(\.code), ["no_value"])
    }

    func testCSVReader() throws {
        func rows(_ text: String) throws -> [CSVRow] {
            var fds: [Int32] = [0, 0]
            XCTAssertEqual(pipe(&fds), 0)
            let bytes = Array(text.utf8)
            bytes.withUnsafeBytes { _ = write(fds[1], $0.baseAddress!, $0.count) }
            close(fds[1])
            defer { close(fds[0]) }
            let reader = SuppressionCSVReader(fd: fds[0])
            var out: [CSVRow] = []
            while let r = try reader.next() { out.append(r) }
            return out
        }
        let r = try rows("\u{FEFF}email,note\r\n\"a@b.com\",\"x, \"\"y\"\"\r\nz\"\r\n\r\nc@d.com,\n")
        XCTAssertEqual(r.map(\.cells), [["email", "note"], ["a@b.com", "x, \"y\"\r\nz"], [""], ["c@d.com", ""]])
        XCTAssertEqual(r.map(\.line), [1, 2, 4, 5])
        XCTAssertTrue(r[2].isBlank)
        XCTAssertEqual(try rows("email;domain\na@b.com;b.com").map(\.cells), [["email", "domain"], ["a@b.com", "b.com"]])
        let open = try rows("email\n\"never closed\n")
        XCTAssertEqual(open.count, 2)
        XCTAssertEqual(open[1].error, "a quoted cell opened on line 2 is never closed")
        XCTAssertEqual(try rows("").count, 0)
    }

    // MARK: One list shared by several machines (PostgreSQL)

    func testAnEntryAddedOnOneMachineIsMatchedOnAnotherWithinTheRefreshInterval() throws {
        let env = try StorageBackends.postgresEnvironment()
        let here = try SuppressionList.open(environment: env)
        guard case .postgres(let url) = try StorageBackend.from(environment: env) else { return XCTFail("not PostgreSQL") }
        // The other machine: its own state directory and its own connections to the same database.
        let store = try PostgresSuppressionStore(database: PostgresDatabase(url: url, retryWindow: 30))
        let there = SuppressionList(store: store, location: store.location)
        XCTAssertFalse(here.location.contains(url.password ?? "\u{0}"), "the location never shows the password")
        XCTAssertNil(try there.match(email: "a@late.com", login: nil))  // a snapshot is held from now on
        XCTAssertEqual(try here.add([SuppressionEntry(kind: .domain, value: "late.com", reason: "opt-out")]), 1)
        let deadline = Date().addingTimeInterval(there.refreshInterval + 0.5)
        var seen: SuppressionEntry?
        while seen == nil && Date() < deadline {
            seen = try there.match(email: "a@late.com", login: nil)
            if seen == nil { usleep(50_000) }
        }
        XCTAssertEqual(seen?.reason, "opt-out", "seen within the refresh interval")
        XCTAssertTrue(try there.remove(kind: .domain, value: "late.com"))
        here.refreshInterval = 0
        XCTAssertNil(try here.match(email: "a@late.com", login: nil))
        XCTAssertFalse(FileManager.default.fileExists(atPath: env["CMO_STATE_DIR"]! + "/suppression.sqlite"))
    }

}
