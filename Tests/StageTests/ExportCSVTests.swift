import CMOTestSupport
import Foundation
import XCTest

final class ExportCSVTests: XCTestCase {
    private func run(_ args: [String], _ input: String, env: [String: String] = [:]) throws -> SpawnResult {
        try Spawn.run("export-csv", args, stdin: Data(input.utf8), environment: env)
    }

    func testHappyPathWithColumnsAndComputed() throws {
        let input = """
            {"id":1,"login":"ada","signals":{"commits_90d":12,"topics":["ml","py"]},"bio":"=2+3","score":-0.5}
            {"id":2,"login":"bob, jr","signals":{"commits_90d":3},"bio":"says \\"hi\\"\\nbye"}

            """
        let r = try run(
            ["--columns", "id,login,signals.commits_90d,signals.topics,bio,score", "--column", "Upper=.login|ascii_upcase"], input)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(
            r.out,
            "id,login,signals.commits_90d,signals.topics,bio,score,Upper\r\n"
                + "1,ada,12,ml; py,'=2+3,-0.5,ADA\r\n"
                + "2,\"bob, jr\",3,,\"says \"\"hi\"\"\nbye\",,\"BOB, JR\"\r\n")
        XCTAssertTrue(r.err.contains("2 in, 2 out, 0 filtered, 0 dead-lettered"), r.err)
    }

    func testUnionOfKeysInFirstSeenOrderKeepsUnknownFields() throws {
        let r = try run(["--newline", "lf"], "{\"b\":1,\"a\":{\"x\":[1,{\"y\":2}]}}\n{\"c\":\"new\",\"b\":2}\n")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "b,a,c\n1,\"{\"\"x\"\":[1,{\"\"y\"\":2}]}\",\n2,,new\n")
    }

    func testEmptyInput() throws {
        let withColumns = try run(["--columns", "a,b"], "")
        XCTAssertEqual(withColumns.status, 0)
        XCTAssertEqual(withColumns.out, "a,b\r\n")
        let without = try run([], "\n\n")
        XCTAssertEqual(without.status, 0)
        XCTAssertEqual(without.out, "")
    }

    func testMalformedLineIsDeadLetteredWithLineNumberAndTheRestExported() throws {
        let dir = Spawn.tempDirectory()
        let dl = dir + "/dl.ndjson"
        let r = try run(["--columns", "a", "--dead-letter", dl], "{\"a\":1}\n{\"a\":\n{\"a\":3}\n")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "a\r\n1\r\n3\r\n")
        let letters = try String(contentsOfFile: dl, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(letters.count, 1)
        let obj = try JSONSerialization.jsonObject(with: Data(letters[0].utf8)) as! [String: Any]
        XCTAssertEqual(obj["stage"] as? String, "export-csv")
        XCTAssertEqual(obj["line"] as? Int, 2)
        XCTAssertEqual((obj["error"] as? [String: Any])?["code"] as? String, "bad_json")
        XCTAssertEqual(obj["input"] as? String, "{\"a\":")
    }

    func testMaxErrorsAndNotNDJSON() throws {
        let tooMany = try run(["--columns", "a", "--max-errors", "1", "--dead-letter", "/dev/null"], "x\ny\n{\"a\":1}\n")
        XCTAssertEqual(tooMany.status, 1, tooMany.err)
        let csv = try run(["--dead-letter", "/dev/null"], "a,b\n1,2\n")
        XCTAssertEqual(csv.status, 65, csv.err)
        XCTAssertTrue(csv.err.contains("not NDJSON"), csv.err)
    }

    func testWhereAndBadJQ() throws {
        let r = try run(
            ["--columns", "login", "--where", ".followers > 100"],
            "{\"login\":\"a\",\"followers\":5}\n{\"login\":\"b\",\"followers\":500}\n")
        XCTAssertEqual(r.out, "login\r\nb\r\n")
        XCTAssertTrue(r.err.contains("1 filtered"), r.err)
        let bad = try run(["--where", ".a >"], "{}\n")
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.err.contains("syntax error"), bad.err)
        XCTAssertEqual(bad.err.components(separatedBy: "error:").count - 1, 2, "jq's message printed once: \(bad.err)")
    }

    func testRawBOMAndHugeString() throws {
        let huge = String(repeating: "z", count: 10 << 20)
        let r = try run(["--columns", "s,f", "--raw", "--bom", "--max-cell-chars", "0"], "{\"s\":\"\(huge)\",\"f\":\"=1\"}\n")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(Array(r.stdout.prefix(3)), [0xEF, 0xBB, 0xBF])
        XCTAssertEqual(r.stdout.count, 3 + "s,f\r\n".utf8.count + huge.utf8.count + ",=1\r\n".utf8.count)
        let cut = try run(["--columns", "s"], "{\"s\":\"\(huge)\"}\n")
        XCTAssertEqual(cut.stdout.count, "s\r\n".utf8.count + 32766 + "…".utf8.count + 2)
        XCTAssertTrue(cut.err.contains("cells_cut=1"), cut.err)
    }

    func testOutputFileIsWrittenAtomically() throws {
        let dir = Spawn.tempDirectory()
        let r = try run(["--columns", "a", "-o", dir + "/out.csv"], "{\"a\":1}\n")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "")
        XCTAssertEqual(try String(contentsOfFile: dir + "/out.csv", encoding: .utf8), "a\r\n1\r\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["out.csv"], "no temporary file left")
        // A failing run (bad input only → 65) leaves no partial file behind.
        let failed = try run(["--columns", "a", "-o", dir + "/bad.csv", "--dead-letter", "/dev/null"], "nope\n")
        XCTAssertEqual(failed.status, 65)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["out.csv"])
    }

    func testCheckpointsLeaveAValidPrefixAfterAKill() throws {
        let dir = Spawn.tempDirectory()
        let out = dir + "/out.csv"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Spawn.executable("export-csv"))
        p.arguments = ["--columns", "n", "-o", out, "--checkpoint-every", "2", "-q"]
        p.environment = ["PATH": "/usr/bin:/bin", "HOME": dir]
        let input = Pipe()
        p.standardInput = input
        try p.run()
        for n in 1...5 { input.fileHandleForWriting.write(Data("{\"n\":\(n)}\n".utf8)) }
        // Wait for the second checkpoint (rows 3 and 4), then kill without warning.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, (try? String(contentsOfFile: out, encoding: .utf8))?.contains("4\r\n") != true { usleep(10_000) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "n\r\n1\r\n2\r\n3\r\n4\r\n")
    }

    func testDownstreamClosingEarlyExitsZero() throws {
        let r = try Spawn.shell(
            "set -o pipefail; for i in $(seq 1 200000); do echo '{\"a\":'$i'}'; done | export-csv --columns a | head -1; echo \"status=${PIPESTATUS[1]}\""
        )
        XCTAssertTrue(r.out.hasPrefix("a\r\n"), r.out)
        XCTAssertTrue(r.out.contains("status=0"), r.out + r.err)
    }

    func testConfigFileAndPrintConfig() throws {
        let dir = Spawn.tempDirectory()
        try "export-csv:\n  columns: [b]\n  newline: lf\nmax-errors: 3\n".write(toFile: dir + "/c.yaml", atomically: true, encoding: .utf8)
        let r = try run(["--config", dir + "/c.yaml"], "{\"a\":1,\"b\":2}\n")
        XCTAssertEqual(r.out, "b\n2\n")
        let pc = try run(["--config", dir + "/c.yaml", "--newline", "crlf", "--print-config"], "")
        XCTAssertEqual(pc.status, 0)
        XCTAssertTrue(pc.out.contains("newline") && pc.out.contains("crlf  (flag)"), pc.out)
        XCTAssertTrue(pc.out.contains("max-errors") && pc.out.contains("3  (config)"), pc.out)
        try "columns: [unclosed\n".write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
        XCTAssertEqual(try run(["--config", dir + "/bad.yaml"], "").status, 78)
        XCTAssertEqual(try run(["--newline", "cr"], "").status, 64)
    }

    func testJSONLogs() throws {
        let r = try run(["--columns", "a", "--log-format", "json"], "{\"a\":1}\n")
        let summary = r.err.split(separator: "\n").last.map(String.init) ?? ""
        let obj = try JSONSerialization.jsonObject(with: Data(summary.utf8)) as? [String: Any]
        XCTAssertEqual(obj?["event"] as? String, "summary")
        XCTAssertEqual(obj?["out"] as? Int, 1)
    }

    /// `out` is the rows written, with -o as on stdout (stdout then stays empty): 200 in, 200 out for 200 rows;
    /// filtered and dead-lettered records are not rows.
    func testTheSummaryCountsTheRowsWrittenAsOut() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = (0..<200).map { #"{"login":"u\#($0)","score":\#($0)}"# }.joined(separator: "\n") + "\nnot json\n"
        for args in [["--columns", "login,score"], []] {
            let out = dir + "/leads-\(args.count).csv"
            let r = try run(args + ["-o", out, "--log-format", "json", "--where", ".score >= 10"], input, env: ["CMO_DEAD_LETTER": dir + "/dl"])
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual(r.out, "")
            let rows = try String(contentsOfFile: out, encoding: .utf8).components(separatedBy: "\r\n").filter { !$0.isEmpty }.count - 1
            XCTAssertEqual(rows, 190)
            let summary = try XCTUnwrap(r.err.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .first { $0["event"] as? String == "summary" })
            XCTAssertEqual(summary["in"] as? Int, 201)
            XCTAssertEqual(summary["out"] as? Int, rows, "out is the CSV's rows")
            XCTAssertEqual(summary["filtered"] as? Int, 10)
            XCTAssertEqual(summary["dead_lettered"] as? Int, 1)
            XCTAssertTrue((summary["msg"] as? String ?? "").hasPrefix("201 in, 190 out"), "\(summary)")
        }
    }
}
