import Foundation
import XCTest

@testable import CMOBasics
@testable import CMOScoring

final class ScoringTests: XCTestCase {
    private let asOf = 1_796_083_200.0  // 2026-12-01T00:00:00Z

    private func norm(_ t: ScoreTransform, _ v: FeatureValue) throws -> Double { try t.normalise(v, asOf: asOf) }

    func testEachTransform() throws {
        // none: booleans 1/0, numbers clamped to 0...1
        XCTAssertEqual(try norm(.none, .bool(true)), 1)
        XCTAssertEqual(try norm(.none, .bool(false)), 0)
        XCTAssertEqual(try norm(.none, .number(0.25)), 0.25)
        XCTAssertEqual(try norm(.none, .number(7)), 1)
        XCTAssertEqual(try norm(.none, .number(-3)), 0)
        // cap: linear up to the cap
        XCTAssertEqual(try norm(.cap(200), .number(50)), 0.25)
        XCTAssertEqual(try norm(.cap(200), .number(5000)), 1)
        XCTAssertEqual(try norm(.cap(200), .number(-5)), 0)
        // log: ln(1+x)/ln(1+cap), at most 1
        XCTAssertEqual(try norm(.log(1000), .number(1000)), 1)
        XCTAssertEqual(try norm(.log(1000), .number(1e9)), 1)
        XCTAssertEqual(try norm(.log(99), .number(9)), 0.5, accuracy: 1e-12)
        XCTAssertEqual(try norm(.log(1000), .number(0)), 0)
        XCTAssertEqual(try norm(.log(1000), .number(-10)), 0)
        // recency: half-life in days, from RFC 3339 text or epoch seconds; the future counts as now
        XCTAssertEqual(try norm(.recency(halfLifeDays: 30), .string("2026-12-01T00:00:00Z")), 1)
        XCTAssertEqual(try norm(.recency(halfLifeDays: 30), .string("2026-11-01T00:00:00Z")), 0.5, accuracy: 1e-12)
        XCTAssertEqual(try norm(.recency(halfLifeDays: 30), .string("2026-10-02")), 0.25, accuracy: 1e-12)
        XCTAssertEqual(try norm(.recency(halfLifeDays: 10), .number(asOf - 10 * 86_400)), 0.5, accuracy: 1e-12)
        XCTAssertEqual(try norm(.recency(halfLifeDays: 30), .string("2027-01-01T00:00:00Z")), 1)
        // in: strings and arrays of strings, ASCII case-insensitive, any element
        let langs = ScoreTransform.membership(["Go", "Rust"])
        XCTAssertEqual(try norm(langs, .string("go")), 1)
        XCTAssertEqual(try norm(langs, .string("Python")), 0)
        XCTAssertEqual(try norm(langs, .strings(["python", "RUST"])), 1)
        XCTAssertEqual(try norm(langs, .strings(["python"])), 0)
        XCTAssertEqual(try norm(langs, .strings([])), 0)
        XCTAssertEqual(try norm(.membership(["Émile"]), .string("émile")), 0, "only A-Z are folded, like jq's ascii_downcase")
        // null is 0 for every transform, and not an error
        for t in [ScoreTransform.none, .cap(1), .log(1), .recency(halfLifeDays: 1), langs] { XCTAssertEqual(try norm(t, .null), 0) }
    }

    func testWrongTypesAreProblemsNotCrashes() {
        let cases: [(ScoreTransform, FeatureValue, String)] = [
            (.none, .string("5"), "a number or boolean expected, got string"),
            (.cap(10), .bool(true), "a number expected, got boolean"),
            (.log(10), .strings(["a"]), "a number expected, got array"),
            (.recency(halfLifeDays: 30), .string("last week"), "is not an RFC 3339 time"),
            (.recency(halfLifeDays: 30), .other("object"), "a time (RFC 3339 text or epoch seconds) expected, got object"),
            (.membership(["a"]), .number(1), "a string or an array of strings expected, got number"),
            (.membership(["a"]), .other("array"), "a string or an array of strings expected, got array"),
        ]
        for (t, v, expected) in cases {
            XCTAssertThrowsError(try norm(t, v)) { error in
                XCTAssertTrue((error as? FeatureProblem)?.message.contains(expected) ?? false, "\(t) \(v): \(error)")
            }
        }
    }

    func testBreakdownSumsExactlyToTheScoreAndRoundsHalfAwayFromZero() throws {
        let features = (0..<7).map { ICPFeature(name: "f\($0)", expression: ".v\($0)", weight: 1.0 / 7, transform: .cap(1)) }
        let scorer = try Scorer(icp: ICP(features: features, decimals: 4), asOf: asOf)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let values = (0..<7).map { _ in Double.random(in: 0...1, using: &rng) }
            let json = "{" + values.enumerated().map { "\"v\($0.offset)\":\($0.element)" }.joined(separator: ",") + "}"
            let record = try Record(json: json)
            let s = scorer.score(record)
            let out = scorer.annotate(record, with: s).object
            // Parse the printed decimals as integers: the printed contributions add up to the printed score.
            func units(_ v: JSONValue?) throws -> Int {
                guard case .number(let text)? = v else { throw FeatureProblem("not a number: \(String(describing: v))") }
                let parts = text.split(separator: ".")
                XCTAssertEqual(parts.count, 2, text)
                XCTAssertEqual(parts[1].count, 4, "always exactly 4 decimals: \(text)")
                return Int(parts[0])! * 10_000 + Int(parts[1])!
            }
            let breakdown = try XCTUnwrap(out["score_breakdown"])
            let sum = try features.map { try units(breakdown[$0.name]) }.reduce(0, +)
            XCTAssertEqual(sum, try units(out["score"]), json)
            XCTAssertEqual(sum, s.total)
            // Each contribution is the weighted value rounded to 4 decimals.
            for (n, v) in values.enumerated() {
                XCTAssertLessThanOrEqual(abs(Double(s.contributions[n]) - v / 7 * 10_000), 0.5 + 1e-9)
            }
        }
        XCTAssertEqual(scorer.units(0.00005), 1, "half rounds away from zero")
        XCTAssertEqual(scorer.units(-0.00005), -1)
        XCTAssertEqual(scorer.units(0.000049), 0)
        XCTAssertEqual(scorer.decimalText(7114), "0.7114")
        XCTAssertEqual(scorer.decimalText(-500), "-0.0500")
        XCTAssertEqual(scorer.decimalText(12_345), "1.2345")
        XCTAssertEqual(scorer.decimalText(0), "0.0000")
        let whole = try Scorer(icp: ICP(features: features, decimals: 0), asOf: asOf)
        XCTAssertEqual(whole.decimalText(3), "3")
    }

    func testAFailingFeatureCountsZeroAndIsNamedInErrors() throws {
        let icp = ICP(features: [
            ICPFeature(name: "ok", expression: ".n", weight: 0.5, transform: .cap(10)),
            ICPFeature(name: "jqerror", expression: ".s.deeper", weight: 0.2),
            ICPFeature(name: "wrongtype", expression: ".s", weight: 0.2, transform: .log(10)),
            ICPFeature(name: "computed", expression: "error(\"boom\")", weight: 0.1),
            ICPFeature(name: "missing", expression: ".nope", weight: 0.1),
        ])
        let scorer = try Scorer(icp: icp, asOf: asOf)
        let record = try Record(json: #"{"n":5,"s":"text"}"#)
        let s = scorer.score(record)
        XCTAssertEqual(s.contributions, [2500, 0, 0, 0, 0])
        XCTAssertEqual(s.errors.map(\.feature), [1, 2, 3])
        XCTAssertTrue(s.errors[0].problem.contains("Cannot index string"), s.errors[0].problem)
        XCTAssertTrue(s.errors[2].problem.contains("boom"), s.errors[2].problem)
        XCTAssertEqual(
            scorer.annotate(record, with: s).jsonText,
            #"{"n":5,"s":"text","score":0.2500,"score_breakdown":{"ok":0.2500,"jqerror":0.0000,"wrongtype":0.0000,"#
                + #""computed":0.0000,"missing":0.0000,"errors":["jqerror","wrongtype","computed"]}}"#)
        let clean = scorer.score(try Record(json: #"{"n":50,"s":{"deeper":1}}"#))
        XCTAssertEqual(clean.errors.map(\.feature), [2, 3])
    }

    func testExistingScoreFieldsAreReplacedInPlace() throws {
        let scorer = try Scorer(icp: ICP(features: [ICPFeature(name: "a", expression: ".a", weight: 1)], decimals: 2), asOf: asOf)
        let record = try Record(json: #"{"score":9, "a":true,"score_breakdown":null,"z":1}"#)
        XCTAssertEqual(
            scorer.annotate(record, with: scorer.score(record)).jsonText, #"{"score":1.00, "a":true,"score_breakdown":{"a":1.00},"z":1}"#)
    }

    func testPathExpressionsAreNativeAndAgreeWithLibjq() throws {
        for native in [".followers", " .signals.repo_stars ", ".a_b.C9", ".if"] {
            XCTAssertTrue(try FeatureExpression(native).isNative, native)
        }
        for other in [".", ".a[0]", ".a | length", ".\"a\"", ".a?", ".a // 0", "..", ".a .b", "1"] {
            XCTAssertFalse(try FeatureExpression(other).isNative, other)
        }
        let exprs = [".a", ".s.t", ".s.u.v", ".arr", ".n", ".str", ".obj", ".missing.deeper", ".big", ".dup", ".esc", ".s"]
        let records = [
            #"{"a":1,"s":{"t":2.5,"u":{"v":[1,"x"]}},"arr":["go","Rust"],"n":null,"str":"Go","obj":{"k":1},"big":1e400,"dup":1,"dup":"two"}"#,
            #"{"a":true,"s":{"t":"2026-11-08T17:27:43Z","u":null},"arr":[],"n":-0.0,"str":"caf\u00e9 \"q\""}"#,
            #"{"esc":"\ud800","a":2}"#,
            #"{"a":[1,2],"s":"not an object","arr":[true],"n":12345678901234567890,"str":"","big":-1e-400}"#,
            #"{"a":{"b":1},"s":[{"t":1}],"arr":[["nested"]],"n":1E3,"str":null,"s":{"t":false,"u":{"v":"deep"}}}"#,
            #"{}"#,
        ]
        var nativeAnswers = 0
        for e in exprs {
            let expression = try FeatureExpression(e)
            for text in records {
                let record = try Record(json: text)
                let viaJQ = expression.evaluateWithJQ(record)
                if case .failure(let e) = viaJQ, e.message.contains("while parsing") {
                    // libjq 1.6 refuses a lone surrogate escape that our reader accepts (docs/contracts.md §1):
                    // the native path reads such a record, libjq cannot read it at all.
                    XCTAssertTrue(text.contains("ud800"), e.message)
                    continue
                }
                guard let native = expression.evaluateNatively(record) else {
                    // Deferring is right only where libjq has something native reading could get wrong.
                    continue
                }
                nativeAnswers += 1
                XCTAssertEqual(native, try viaJQ.get(), "\(e) on \(text)")
                XCTAssertEqual(try expression.evaluate(record).get(), native)
            }
        }
        XCTAssertGreaterThan(nativeAnswers, 45)
        // Where jq raises an error, the native path defers and the error comes from libjq.
        let record = try Record(json: #"{"s":"text","a":[1]}"#)
        for e in [".s.t", ".a.b"] {
            let expression = try FeatureExpression(e)
            XCTAssertNil(expression.evaluateNatively(record), e)
            XCTAssertThrowsError(try expression.evaluate(record).get(), e)
        }
    }

    func testTopNKeepsTheBestInOrderLikeAFullSort() {
        var rng = SystemRandomNumberGenerator()
        for capacity in [1, 2, 7, 50, 300] {
            let items = (0..<250).map { ($0, Int.random(in: 0..<40, using: &rng)) }  // many ties on the value
            let better: ((Int, Int), (Int, Int)) -> Bool = { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
            var top = TopN<(Int, Int)>(capacity: capacity, isBetter: better)
            var dropped = 0
            for item in items where top.insert(item) != nil { dropped += 1 }
            XCTAssertLessThanOrEqual(top.count, capacity)
            let kept = top.drainBestFirst()
            let expected = Array(items.sorted(by: better).prefix(capacity))
            XCTAssertEqual(kept.map(\.0), expected.map(\.0), "capacity \(capacity)")
            XCTAssertEqual(dropped, items.count - expected.count)
        }
    }

    func testRankOrdersByScoreThenIdThenLoginThenLine() throws {
        func rank(_ json: String, _ score: Int, line: Int) throws -> ScoreRank {
            ScoreRank(record: try Record(json: json, line: line), score: score)
        }
        let ordered = [
            try rank(#"{"id":99}"#, 10, line: 9),
            try rank(#"{"id":2,"login":"b"}"#, 5, line: 8),
            try rank(#"{"id":10,"login":"a"}"#, 5, line: 1),
            try rank(#"{"id":"a1"}"#, 5, line: 2),
            try rank(#"{"id":"b0","login":"z"}"#, 5, line: 3),
            try rank(#"{"login":"a"}"#, 5, line: 7),
            try rank(#"{"login":"b"}"#, 5, line: 4),
            try rank(#"{}"#, 5, line: 5),
            try rank(#"{}"#, 5, line: 6),
            try rank(#"{"id":1}"#, -3, line: 0),
        ]
        for i in ordered.indices {
            for j in ordered.indices where i != j {
                XCTAssertEqual(ScoreRank.isBetter(ordered[i], ordered[j]), i < j, "\(i) vs \(j)")
            }
        }
    }
}
