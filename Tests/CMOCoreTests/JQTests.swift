import XCTest

@testable import CMOBasics

final class JQTests: XCTestCase {
    func testRunsAndConverts() throws {
        let p = try JQProgram(#"{n: (.a * 2), s: .s, l: [.k[] | . + 1], b: (.a > 1)}"#)
        let out = try p.run(try Record(json: #"{"a":1.5,"s":"é\n","k":[1,2]}"#))
        XCTAssertEqual(out, [["n": 3, "s": "é\n", "l": [2, 3], "b": true]])
    }

    func testBadExpressionIsAUsageError() {
        XCTAssertThrowsError(try JQProgram(".a >")) { e in
            XCTAssertEqual((e as? StageFailure)?.exitStatus, .usage)
            XCTAssertTrue("\(e)".contains("syntax error"), "\(e)")
        }
    }

    func testRuntimeErrorIsReported() throws {
        let p = try JQProgram(".a.b")
        XCTAssertThrowsError(try p.run(try Record(json: #"{"a":"str"}"#))) { e in
            XCTAssertTrue((e as? JQError)?.message.contains("Cannot index") ?? false, "\(e)")
        }
        XCTAssertEqual(try p.run(try Record(json: #"{"a":{"b":7}}"#)), [7])
    }

    func testTestAndEditedRecords() throws {
        let p = try JQProgram(".followers > 100")
        var r = try Record(json: #"{"followers":50}"#)
        XCTAssertFalse(try p.test(r))
        r.set("followers", 500)
        XCTAssertTrue(try p.test(r))
        XCTAssertEqual(try JQProgram("empty").test(r), false)
        XCTAssertEqual(try JQProgram(".x").run(value: ["x": [1, "a"]]), [[1, "a"]])
    }
}
