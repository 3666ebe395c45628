import CMOTestSupport
import Foundation
import XCTest

final class ScoreICPTests: XCTestCase {
    private let asOf = "2026-12-01T00:00:00Z"

    private func run(_ args: [String], _ input: String, env: [String: String] = [:]) throws -> SpawnResult {
        try Spawn.run("score-icp", args, stdin: Data(input.utf8), environment: env)
    }

    private func objects(_ r: SpawnResult) throws -> [[String: Any]] {
        try r.lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    /// A printed decimal as an integer count of its last place (`0.7114` → 7114).
    private func units(_ text: Substring) -> Int { Int(text.replacingOccurrences(of: ".", with: ""))! }

    private func writeFile(_ text: String, _ name: String = "icp.yaml") throws -> String {
        let path = Spawn.tempDirectory() + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Person records like gh-people | gh-enrich | mx-check writes, with varied signals.
    private func people(_ count: Int) -> String {
        let langs = ["C", "Go", "Java", "Python", "Ruby", "rust"]
        let topics = ["networking", "ml", "cli", "web", "devops"]
        return (0..<count).map { i in
            let signals =
                #"{"commits_90d":\#(i % 40),"last_commit_at":"2026-1\#(i % 2)-0\#(1 + i % 9)T17:27:43Z","primary_language":"\#(langs[i % langs.count])","#
                + #""topics":["\#(topics[i % topics.count])"],"repo_stars":\#((i % 5) * 500),"#
                + #""matched":{"languages":["\#(langs[i % langs.count])"],"topics":["\#(topics[i % topics.count])"]}}"#
            return
                #"{"kind":"person","id":\#(1000 + (i * 37) % count),"login":"user\#(i)","signals":\#(signals),"followers":\#((i % 3) * 100),"#
                + #""best_email":"u\#(i)@example.com"}"#
        }.joined(separator: "\n") + "\n"
    }

    func testHappyPathAddsScoreAndBreakdownAndKeepsEverythingElse() throws {
        let input =
            #"{"kind":"person","id":15723482,"login":"rosa-haddad","from_repos":["prismcircuit-oss/sharp-lens"],"signals":{"commits_90d":19,"last_commit_at":"2026-11-08T17:27:43Z","maintainer_of":["prismcircuit-oss/sharp-lens"],"recent_commit_titles":["Update CI workflow"],"primary_language":"C","topics":["networking"],"repo_stars":230,"matched":{"languages":["C"],"topics":["networking"]}},"name":"Rosa Haddad","company":"@pinetidal","location":null,"bio":null,"followers":10,"unknown_field": {"kept" : [1, 2.50]}}"#
        let r = try run(["--as-of", asOf], input + "\n")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.lines.count, 1)
        let line = r.lines[0]
        XCTAssertTrue(line.hasPrefix(String(input.dropLast())), "input bytes kept as they were: \(line)")
        // stars ln(231)/ln(10001)*0.3, recency 0.5^(22.27/30)*0.25, C is listed, networking is listed, ln(11)/ln(1001)*0.1
        XCTAssertTrue(
            line.hasSuffix(
                #","score":0.7114,"score_breakdown":{"stars":0.1773,"recency":0.1494,"language":0.2000,"topic":0.1500,"followers":0.0347}}"#
            ),
            line)
        XCTAssertTrue(r.err.contains("1 in, 1 out, 0 filtered, 0 dead-lettered"), r.err)
        XCTAssertTrue(r.err.contains("as_of=2026-12-01T00:00:00Z"), r.err)
    }

    func testDeterministicAndBreakdownSumsToScore() throws {
        let input = people(300)
        let first = try run(["--as-of", asOf], input)
        let second = try run(["--as-of", asOf], input)
        XCTAssertEqual(first.status, 0, first.err)
        XCTAssertEqual(first.stdout, second.stdout, "two runs, byte-identical")
        XCTAssertEqual(first.lines.count, 300)
        var distinct = Set<Substring>()
        for line in first.lines {
            let score = try XCTUnwrap(line.firstRange(of: #""score":"#)).upperBound
            let scoreText = line[score...].prefix { $0 != "," }
            distinct.insert(scoreText)
            let breakdown = try XCTUnwrap(line.firstRange(of: #""score_breakdown":{"#)).upperBound
            let parts = line[breakdown...].prefix { $0 != "}" }.split(separator: ",")
            XCTAssertEqual(parts.count, 5, line)
            let sum = parts.map { units($0.split(separator: ":")[1]) }.reduce(0, +)
            XCTAssertEqual(sum, units(scoreText), line)
            XCTAssertTrue((0...10_000).contains(sum), line)
        }
        XCTAssertGreaterThan(distinct.count, 20, "scores vary with the input")
        let later = try run(["--as-of", "2027-03-01"], input)
        XCTAssertNotEqual(later.stdout, first.stdout, "recency depends on --as-of")
        let env = try run([], input, env: ["CMO_AS_OF": asOf])
        XCTAssertEqual(env.stdout, first.stdout)
    }

    func testCustomICPWithEachTransformAndErrorsList() throws {
        let icp = try writeFile(
            """
            decimals: 2
            as_of: 2026-12-01T00:00:00Z
            features:
              - {name: hireable, jq: .hireable, weight: 1}
              - {name: repos, jq: .public_repos, weight: 1, transform: {cap: 200}}
              - {name: reach, jq: .followers, weight: 1, transform: {log: 99}}
              - {name: fresh, jq: .signals.last_commit_at, weight: 1, transform: {half_life_days: 10}}
              - {name: lang, jq: .signals.primary_language, weight: 1, transform: {in: [go, rust]}}
              - {name: topics, jq: '.signals.topics // [] | map(ascii_downcase)', weight: 1, transform: {in: [cli]}}
            """)
        let input = """
            {"id":1,"hireable":true,"public_repos":50,"followers":9,"signals":{"last_commit_at":"2026-11-21T00:00:00Z","primary_language":"Go","topics":["CLI","web"]}}
            {"id":2,"hireable":"yes","public_repos":"many","followers":{"n":1},"signals":{"last_commit_at":"recently","primary_language":5,"topics":[1]}}
            {"id":3}

            """
        let r = try run(["--icp", icp], input)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(
            r.lines.map { String($0[$0.firstRange(of: #""score""#)!.lowerBound...]) },
            [
                #""score":4.25,"score_breakdown":{"hireable":1.00,"repos":0.25,"reach":0.50,"fresh":0.50,"lang":1.00,"topics":1.00}}"#,
                #""score":0.00,"score_breakdown":{"hireable":0.00,"repos":0.00,"reach":0.00,"fresh":0.00,"lang":0.00,"topics":0.00,"#
                    + #""errors":["hireable","repos","reach","fresh","lang","topics"]}}"#,
                #""score":0.00,"score_breakdown":{"hireable":0.00,"repos":0.00,"reach":0.00,"fresh":0.00,"lang":0.00,"topics":0.00}}"#,
            ])
        XCTAssertTrue(r.err.contains(#"feature_errors={"hireable":1,"repos":1,"reach":1,"fresh":1,"lang":1,"topics":1}"#), r.err)
    }

    func testMinScoreFiltersAndCounts() throws {
        let input = people(200)
        let all = try objects(try run(["--as-of", asOf], input))
        let threshold = 0.55
        let expected = all.filter { ($0["score"] as! Double) >= threshold - 1e-9 }.map { $0["id"] as! Int }
        XCTAssertGreaterThan(expected.count, 0)
        XCTAssertLessThan(expected.count, 200)
        let r = try run(["--as-of", asOf, "--min-score", String(threshold)], input)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try objects(r).map { $0["id"] as! Int }, expected)
        XCTAssertTrue(r.err.contains("200 in, \(expected.count) out, \(200 - expected.count) filtered"), r.err)
        XCTAssertTrue(r.err.contains("filtered: min_score=\(200 - expected.count)"), r.err)
        // The threshold compares with the printed score: a score equal to it is kept.
        let exact = try XCTUnwrap(all.first)["score"] as! Double
        let kept = try run(["--as-of", asOf, "--min-score", String(exact)], input)
        XCTAssertTrue(try objects(kept).contains { ($0["id"] as! Int) == (all[0]["id"] as! Int) })
    }

    func testTopIsBoundedAndMatchesAFullSort() throws {
        let input = people(400)
        let all = try objects(try run(["--as-of", asOf], input))
        let sorted = all.sorted { a, b in
            let (sa, sb) = (a["score"] as! Double, b["score"] as! Double)
            if sa != sb { return sa > sb }
            let (ia, ib) = (a["id"] as! Int, b["id"] as! Int)
            if ia != ib { return ia < ib }
            return (a["login"] as! String) < (b["login"] as! String)
        }
        XCTAssertLessThan(Set(all.map { $0["score"] as! Double }).count, all.count, "the input has ties to break")
        for n in [1, 10, 399, 400, 1000] {
            let r = try run(["--as-of", asOf, "--top", String(n)], input)
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual(try objects(r).map { $0["login"] as! String }, sorted.prefix(n).map { $0["login"] as! String }, "--top \(n)")
            let dropped = max(0, 400 - n)
            XCTAssertTrue(r.err.contains("400 in, \(min(n, 400)) out, \(dropped) filtered"), r.err)
            if dropped > 0 { XCTAssertTrue(r.err.contains("filtered: top=\(dropped)"), r.err) }
        }
        // Memory stays bounded by N, not by the input.
        let big = people(20_000)
        let bounded = try run(["--as-of", asOf, "--top", "3", "-v"], big)
        XCTAssertEqual(bounded.lines.count, 3)
        let bad = try run(["--top", "0"], input)
        XCTAssertEqual(bad.status, 64, bad.err)
    }

    func testBadICPExits78NamingTheFileAndProblem() throws {
        let broken = try writeFile("features:\n  - {name: a, jq: .a, weight: [1]}\n")
        let r = try run(["--icp", broken], "{}\n")
        XCTAssertEqual(r.status, 78, r.err)
        XCTAssertTrue(r.err.contains("ICP '\(broken)': features[0] ('a'): 'weight' must be a number"), r.err)
        XCTAssertEqual(r.out, "")
        let notYAML = try writeFile("features: [\n")
        let y = try run(["--icp", notYAML], "{}\n")
        XCTAssertEqual(y.status, 78)
        XCTAssertTrue(y.err.contains("ICP '\(notYAML)' is not valid YAML"), y.err)
        let missing = try run(["--icp", "/nonexistent/icp.yaml"], "{}\n")
        XCTAssertEqual(missing.status, 78)
        XCTAssertTrue(missing.err.contains("cannot read ICP '/nonexistent/icp.yaml'"), missing.err)
        let env = try run([], "{}\n", env: ["CMO_ICP": broken])
        XCTAssertEqual(env.status, 78, "CMO_ICP is read too")
        let badJQ = try writeFile("features: [{name: a, jq: '.a |', weight: 1}]")
        let jq = try run(["--icp", badJQ], "{}\n")
        XCTAssertEqual(jq.status, 64, jq.err)
        XCTAssertTrue(jq.err.contains("feature 'a': bad jq expression"), jq.err)
        let badAsOf = try run(["--as-of", "last tuesday"], "{}\n")
        XCTAssertEqual(badAsOf.status, 64)
    }

    func testICPInsideTheSharedConfigFile() throws {
        let config = try writeFile(
            """
            score-icp:
              as_of: '2026-12-01'
              min_score: 0.5
              icp:
                features: [{name: big, jq: .n, weight: 1, transform: {cap: 10}}]
            export-csv:
              columns: id
            """, "cmo.yaml")
        let r = try run(["--config", config], "{\"n\":2}\n{\"n\":7}\n")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "{\"n\":7,\"score\":0.7000,\"score_breakdown\":{\"big\":0.7000}}\n")
        let printed = try run(["--config", config, "--print-config"], "")
        XCTAssertTrue(printed.out.contains("min-score"), printed.out)
    }

    func testNonObjectLinesAreDeadLetteredAndTheRestScored() throws {
        let dir = Spawn.tempDirectory()
        let dl = dir + "/dl.ndjson"
        let r = try run(["--as-of", asOf, "--dead-letter", dl], "{\"id\":1}\n[1,2]\n\n{\"id\":\n\"x\"\n{\"id\":2}\n")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try objects(r).map { $0["id"] as! Int }, [1, 2])
        let letters = try String(contentsOfFile: dl, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        XCTAssertEqual(letters.map { $0["line"] as! Int }, [2, 4, 5])
        XCTAssertEqual(letters.map { ($0["error"] as! [String: Any])["code"] as! String }, ["not_object", "bad_json", "not_object"])
        XCTAssertEqual(letters.map { $0["stage"] as! String }, ["score-icp", "score-icp", "score-icp"])
        XCTAssertTrue(r.err.contains("5 in, 2 out, 0 filtered, 3 dead-lettered"), r.err)
        let notNDJSON = try run(["--dead-letter", "/dev/null"], "id,score\n1,2\n")
        XCTAssertEqual(notNDJSON.status, 65)
    }

    func testEmptyInputAndDownstreamClosing() throws {
        let empty = try run(["--as-of", asOf, "--top", "5"], "")
        XCTAssertEqual(empty.status, 0, empty.err)
        XCTAssertEqual(empty.out, "")
        let dir = Spawn.tempDirectory()
        let closed = try Spawn.shell(
            "yes '{\"followers\":3}' | head -n 300000 > \(dir)/in; score-icp < \(dir)/in | head -n 1; exit ${PIPESTATUS[0]}")
        XCTAssertEqual(closed.status, 0, closed.err)
        XCTAssertEqual(closed.lines.count, 1)
        XCTAssertTrue(closed.err.contains("stopped early: output closed"), closed.err)
    }

    func testHelpDocumentsTheStage() throws {
        let r = try run(["--help"], "")
        XCTAssertEqual(r.status, 0)
        for needle in [
            "INPUT", "OUTPUT", "SIDE EFFECTS", "ENVIRONMENT", "EXIT STATUS", "--icp", "--as-of", "--min-score", "--top", "score_breakdown",
            "errors", "CMO_ICP", "CMO_AS_OF", "78",
        ] {
            XCTAssertTrue(r.out.contains(needle), "help lacks \(needle)")
        }
    }
}
