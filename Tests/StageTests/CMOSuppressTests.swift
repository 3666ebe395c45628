import CMOTestSupport
import Foundation
import XCTest

final class CMOSuppressTests: XCTestCase {
    private var dir = ""
    private var state: String { dir + "/state" }

    override func setUp() { dir = Spawn.tempDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private func run(_ args: [String], _ input: String = "", env: [String: String] = [:]) throws -> SpawnResult {
        try Spawn.run("cmo-suppress", args, stdin: Data(input.utf8), environment: ["CMO_STATE_DIR": state].merging(env) { _, n in n })
    }

    private func objects(_ r: SpawnResult) throws -> [[String: Any]] {
        try r.lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    private func listed() throws -> [String] {
        let r = try run(["list"])
        XCTAssertEqual(r.status, 0, r.err)
        return try objects(r).map { "\($0["kind"]!):\($0["value"]!)" }
    }

    private func write(_ name: String, _ text: String) -> String {
        let path = dir + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    private func deadLetters(_ path: String) throws -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    // MARK: add, list, remove

    func testAddListRemove() throws {
        let add = try run(["add", " Jane@ACME.com. ", "@OctoCat", "eu.Example.org", "domain:bücher.de", "--reason", "opt-out"])
        XCTAssertEqual(add.status, 0, add.err)
        XCTAssertEqual(add.out, "")
        XCTAssertTrue(add.err.contains("4 added, 0 updated, 0 already on the list"), add.err)
        XCTAssertTrue(add.err.contains("email:jane@acme.com"), add.err)
        XCTAssertEqual(try listed(), ["domain:eu.example.org", "domain:xn--bcher-kva.de", "email:jane@acme.com", "login:octocat"])

        let entry = try objects(try run(["list", "--kind", "email"]))
        XCTAssertEqual(entry.count, 1)
        XCTAssertEqual(entry[0]["reason"] as? String, "opt-out")
        XCTAssertEqual(entry[0]["source"] as? String, "manual")
        XCTAssertNotNil((entry[0]["added_at"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) })
        XCTAssertEqual(Set(entry[0].keys), ["kind", "value", "reason", "source", "added_at"])

        let again = try run(["add", "jane@acme.com", "login:octocat", "--reason", "bounced", "--source", "instantly"])
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertTrue(again.err.contains("0 added, 2 updated"), again.err)
        XCTAssertEqual(try listed().count, 4, "re-adding never duplicates")
        let updated = try objects(try run(["list", "--kind", "login"]))[0]
        XCTAssertEqual(updated["reason"] as? String, "bounced")
        XCTAssertEqual(updated["source"] as? String, "instantly")

        let remove = try run(["remove", "JANE@acme.com", "@nobody"])
        XCTAssertEqual(remove.status, 0, remove.err)
        XCTAssertEqual(try objects(remove).map { $0["value"] as? String }, ["jane@acme.com"])
        XCTAssertTrue(remove.err.contains("login:nobody was not on the list"), remove.err)
        XCTAssertEqual(try listed(), ["domain:eu.example.org", "domain:xn--bcher-kva.de", "login:octocat"])

        let text = try run(["list", "--format", "text"])
        XCTAssertTrue(text.out.hasPrefix("KIND    VALUE"), text.out)
        XCTAssertTrue(text.out.contains("login   octocat           bounced  instantly"), text.out)
    }

    func testInvalidValuesAndFlags() throws {
        let bad = try run(["add", "ok@x.com", "octocat", "a@b"])
        XCTAssertEqual(bad.status, 65, bad.err)
        XCTAssertTrue(bad.err.contains("'octocat' is not an email, a domain or a login (write a login as @octocat"), bad.err)
        XCTAssertTrue(bad.err.contains("'a@b' is not a valid email address"), bad.err)
        XCTAssertTrue(bad.err.contains("nothing changed: 2 of 3 values are not usable"), bad.err)
        XCTAssertEqual(try listed(), [], "a bad value stops the whole add")

        XCTAssertEqual(try run(["add", "--kind", "phone", "x"]).status, 64)
        XCTAssertEqual(try run(["add"]).status, 64)
        XCTAssertEqual(try run(["remove"]).status, 64)
        XCTAssertEqual(try run(["list", "--format", "xml"]).status, 64)
        XCTAssertEqual(try run(["add", "--kind", "login", "a@b.com"]).status, 65)
        XCTAssertEqual(try run(["add", "--kind", "login", "octocat"]).status, 0)
        XCTAssertEqual(try listed(), ["login:octocat"])
    }

    func testEverySubcommandHasAManPage() throws {
        for sub in ["add", "remove", "list", "check", "import"] {
            let r = try run([sub, "--help"])
            XCTAssertEqual(r.status, 0, sub)
            for section in ["INPUT", "OUTPUT", "SIDE EFFECTS", "ENVIRONMENT", "EXIT STATUS", "EXAMPLES"] {
                XCTAssertTrue(r.out.contains(section), "\(sub) --help lacks \(section)")
            }
        }
        let top = try run(["--help"])
        XCTAssertTrue(top.out.contains("SUBCOMMANDS"), top.out)
        XCTAssertEqual(try run(["--version"]).status, 0)
    }

    // MARK: import

    func testImportInstantlyBlocklistCSVWithBadRows() throws {
        let csv = write(
            "blocklist.csv",
            "\u{FEFF}Blocked Email,Date\r\nexample.com,2023-09-15T12:00:00Z\r\nUser@Example.org,2023-09-15T12:00:00Z\r\n"
                + "not an email,2023-09-15T12:00:00Z\r\n\r\n@octocat,\r\n\"never closed,x\r\n")
        let dl = dir + "/dl.ndjson"
        let r = try run(["import", csv, "--dead-letter", dl, "--reason", "instantly blocklist"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("import: 5 rows, 3 added, 0 updated, 0 skipped, 2 bad"), r.err)
        XCTAssertEqual(try listed(), ["domain:example.com", "email:user@example.org", "login:octocat"])
        let e = try objects(try run(["list", "--kind", "domain"]))[0]
        XCTAssertEqual(e["added_at"] as? String, "2023-09-15T12:00:00Z")
        XCTAssertEqual(e["source"] as? String, "import:blocklist.csv")
        XCTAssertEqual(e["reason"] as? String, "instantly blocklist")

        let letters = try deadLetters(dl)
        XCTAssertEqual(letters.map { $0["line"] as? Int }, [4, 7])
        XCTAssertEqual(letters.map { ($0["error"] as? [String: Any])?["code"] as? String }, ["bad_value", "bad_csv"])
        XCTAssertEqual(letters[0]["input"] as? String, "not an email,2023-09-15T12:00:00Z")
        XCTAssertEqual(letters[0]["stage"] as? String, "cmo-suppress")
        XCTAssertEqual(letters[1]["input"] as? String, "\"never closed,x")

        let twice = try run(["import", csv, "--dead-letter", "/dev/null"])
        XCTAssertTrue(twice.err.contains("0 added, 0 updated, 3 skipped, 2 bad"), twice.err)
    }

    func testImportUnsubscribeExportColumnsFromStdin() throws {
        let input =
            "Email;Lead Email;First Name;Company Domain;domain;github_login;Reason\n"
            + "jo@x.com;;Jo;x.com;x.com;Jo-X;\n"
            + ";;Only A Domain;;y.com;;competitor\n"
            + ";;Nobody;z.com;;;\n"
        let dl = dir + "/dl.ndjson"
        let r = try run(["import", "--reason", "unsubscribed", "--dead-letter", dl], input)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("import: 3 rows, 3 added, 0 updated, 0 skipped, 1 bad"), r.err)
        XCTAssertEqual(try listed(), ["domain:y.com", "email:jo@x.com", "login:jo-x"], "a row with an email does not block its domain")
        let letters = try deadLetters(dl)
        XCTAssertEqual(letters.map { ($0["error"] as? [String: Any])?["code"] as? String }, ["no_value"])
        XCTAssertEqual(letters.first?["line"] as? Int, 4)
        let y = try objects(try run(["list", "--kind", "domain"]))[0]
        XCTAssertEqual(y["reason"] as? String, "competitor", "a row's own reason wins over --reason")
        XCTAssertEqual(y["source"] as? String, "import:stdin")
    }

    func testImportNDJSONWithBadRows() throws {
        let input = """
            {"kind":"email","value":"A@B.com","reason":"r1"}
            {"login":"@Foo","extra":1}
            {"email":5}
            not json
            {"best_email":{"address":"q@r.io"},"domain":"r.io","source":"crm"}

            {"name":"no value"}

            """
        let dl = dir + "/dl.ndjson"
        let r = try run(["import", "--format", "ndjson", "--dead-letter", dl], input)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("import: 6 rows, 3 added, 0 updated, 0 skipped, 3 bad"), r.err)
        XCTAssertEqual(try listed(), ["email:a@b.com", "email:q@r.io", "login:foo"])
        let letters = try deadLetters(dl)
        XCTAssertEqual(letters.map { $0["line"] as? Int }, [3, 4, 7])
        XCTAssertEqual(letters.map { ($0["error"] as? [String: Any])?["code"] as? String }, ["bad_value", "bad_json", "no_value"])
        XCTAssertEqual((letters[0]["input"] as? [String: Any])?["email"] as? Int, 5)

        // What list writes, import reads back (NDJSON detected from the first character).
        let exported = try run(["list"])
        try FileManager.default.removeItem(atPath: state)
        let back = try run(["import"], exported.out)
        XCTAssertEqual(back.status, 0, back.err)
        XCTAssertEqual(try listed(), ["email:a@b.com", "email:q@r.io", "login:foo"])
        XCTAssertEqual(try run(["list"]).out, exported.out, "reason, source and added_at come back too")
    }

    func testListCSVNeutralisesFormulasAndImportsBack() throws {
        XCTAssertEqual(try run(["add", "--reason", "=HYPERLINK(\"x\")", "--source", "a,b", "--", "-dash@x.com"]).status, 0)
        let csv = try run(["list", "--format", "csv"])
        XCTAssertEqual(csv.status, 0, csv.err)
        let lines = csv.out.components(separatedBy: "\r\n")
        XCTAssertEqual(lines[0], "kind,value,reason,source,added_at")
        XCTAssertTrue(lines[1].hasPrefix("email,'-dash@x.com,\"'=HYPERLINK(\"\"x\"\")\",\"a,b\","), lines[1])
        let path = write("list.csv", csv.out)
        try FileManager.default.removeItem(atPath: state)
        let back = try run(["import", path])
        XCTAssertEqual(back.status, 0, back.err)
        XCTAssertEqual(try listed(), ["email:-dash@x.com"])
        XCTAssertEqual(try objects(try run(["list"]))[0]["source"] as? String, "a,b")
    }

    func testImportFailures() throws {
        let noColumn = try run(["import", "--format", "csv"], "First Name,Company\nJo,Acme\n")
        XCTAssertEqual(noColumn.status, 65, noColumn.err)
        XCTAssertTrue(noColumn.err.contains("no column holds an email, a domain or a login (header: First Name, Company)"), noColumn.err)
        let allBad = try run(["import", "--dead-letter", "/dev/null"], "email\nnope\nstill nope\n")
        XCTAssertEqual(allBad.status, 65, allBad.err)
        let headerless = try run(["import"], "a@b.com\n@someone\nc.org\n")
        XCTAssertEqual(headerless.status, 0, headerless.err)
        XCTAssertEqual(try listed(), ["domain:c.org", "email:a@b.com", "login:someone"])
        let tooMany = try run(["import", "--max-errors", "1", "--dead-letter", "/dev/null"], "email\nx\ny\nz@z.com\n")
        XCTAssertEqual(tooMany.status, 1, tooMany.err)
        XCTAssertEqual(try run(["import", dir + "/missing.csv"]).status, 64)
        XCTAssertEqual(try run(["import", "--format", "xls"]).status, 64)
        let empty = try run(["import"], "")
        XCTAssertEqual(empty.status, 0, empty.err)
    }

    func testTwoProcessesImportingAtOnce() throws {
        let a = write("a.csv", "email\n" + (0..<3000).map { "a\($0)@race.test\n" }.joined() + "shared@race.test\n")
        let b = write("b.csv", "email\n" + (0..<3000).map { "b\($0)@race.test\n" }.joined() + "shared@race.test\n")
        nonisolated(unsafe) var results: [SpawnResult?] = [nil, nil]
        let lock = NSLock()
        let env = ["CMO_STATE_DIR": state]
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let r = try? Spawn.run("cmo-suppress", ["import", i == 0 ? a : b], environment: env)
            lock.lock()
            results[i] = r
            lock.unlock()
        }
        for r in results {
            XCTAssertEqual(r?.status, 0, r?.err ?? "did not run")
        }
        XCTAssertEqual(try listed().count, 6001)
    }

    // MARK: check

    func testCheckMarksEveryRecordAndPassesUnknownFieldsThrough() throws {
        XCTAssertEqual(try run(["add", "acme.com", "@octocat", "jane@example.org", "--reason", "opt-out"]).status, 0)
        let input = """
            {"id":1,"login":"ada","best_email":{"address":"ada@eu.acme.com"},"x":  [1, 2]}
            {"id":2,"login":"OctoCat","emails":[{"address":"o@gh.io","source":"commit"}]}
            {"id":3,"best_email":"Jane@Example.org"}
            {"id":4,"login":"bob","emails":[{"address":"bob@fine.io"}],"best_email":null}
            {"id":5,"emails":[{"address":"1+octocat@users.noreply.github.com"}]}
            """
        let r = try run(["check"], input + "\n")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.lines.count, 5)
        XCTAssertTrue(
            r.lines[0].hasPrefix(
                #"{"id":1,"login":"ada","best_email":{"address":"ada@eu.acme.com"},"x":  [1, 2],"suppression":{"kind":"domain","value":"acme.com","reason":"opt-out""#
            ), r.lines[0])
        let out = try objects(r)
        XCTAssertEqual(
            out.map { ($0["suppression"] as? [String: Any])?["value"] as? String },
            ["acme.com", "octocat", "jane@example.org", nil, "octocat"])
        XCTAssertTrue(out[3]["suppression"] is NSNull, "an unmatched record gets suppression: null")
        XCTAssertTrue(r.err.contains("5 in, 5 out, 0 filtered, 0 dead-lettered"), r.err)
        XCTAssertTrue(r.err.contains("suppressed=4"), r.err)

        let excluded = try run(["check", "--exclude-suppressed"], input)
        XCTAssertEqual(try objects(excluded).map { $0["id"] as? Int }, [4])
        XCTAssertTrue(excluded.err.contains("5 in, 1 out, 4 filtered") && excluded.err.contains("filtered: suppressed=4"), excluded.err)

        let only = try run(["check", "--only-suppressed", "--where", ".id != 3"], input)
        XCTAssertEqual(try objects(only).map { $0["id"] as? Int }, [1, 2, 5])
        XCTAssertTrue(only.err.contains("filtered: not_suppressed=1, where=1"), only.err)

        XCTAssertEqual(try run(["check", "--only-suppressed", "--exclude-suppressed"], input).status, 64)
        XCTAssertEqual(try run(["check", "--where", ".id >"], input).status, 64)
    }

    func testCheckEmptyMalformedAndNotNDJSON() throws {
        let empty = try run(["check"], "")
        XCTAssertEqual(empty.status, 0, empty.err)
        XCTAssertEqual(empty.out, "")
        let dl = dir + "/dl.ndjson"
        let bad = try run(["check", "--dead-letter", dl], "{\"id\":1}\n{\"id\":\n{\"id\":3}\n")
        XCTAssertEqual(bad.status, 0, bad.err)
        XCTAssertEqual(bad.lines, [#"{"id":1,"suppression":null}"#, #"{"id":3,"suppression":null}"#])
        XCTAssertEqual(try deadLetters(dl).map { $0["line"] as? Int }, [2])
        let csv = try run(["check", "--dead-letter", "/dev/null"], "email\na@b.com\n")
        XCTAssertEqual(csv.status, 65, csv.err)
    }

    func testCheckStopsQuietlyWhenTheReaderGoesAway() throws {
        let input = write("many.ndjson", (0..<20000).map { "{\"id\":\($0),\"email\":\"p\($0)@x.com\"}\n" }.joined())
        let r = try Spawn.shell(
            "cmo-suppress check < '\(input)' | head -1; echo \"status=${PIPESTATUS[0]}\"", environment: ["CMO_STATE_DIR": state])
        XCTAssertTrue(r.out.contains("status=0"), r.out + r.err)
        XCTAssertTrue(r.out.hasPrefix(#"{"id":0,"email":"p0@x.com","suppression":null}"#), r.out)
    }

    // MARK: state directory

    func testAnUnwritableStateDirectoryIs78() throws {
        let file = write("not-a-dir", "x")
        let env = ["CMO_STATE_DIR": file + "/state"]
        for args in [["add", "a@b.com"], ["remove", "a@b.com"], ["list"], ["check"], ["import"]] {
            let r = try run(args, "{\"email\":\"a@b.com\"}\n", env: env)
            XCTAssertEqual(r.status, 78, "\(args): \(r.err)")
            XCTAssertTrue(r.err.contains("state directory"), r.err)
        }
    }
}
