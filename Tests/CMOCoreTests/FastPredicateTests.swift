import XCTest

@testable import CMOBasics

final class FastPredicateTests: XCTestCase {
    func testParsesOnlyTheSimpleForms() {
        for e in [".a > 1", ".a.b == \"x\"", ".a and .b", "(.a >= 1 or .b < -2.5) and .c != null", ".x == true", ".a"] {
            XCTAssertNotNil(FastPredicate.parse(e), e)
        }
        for e in [".a | length > 1", ".a[0] == 1", "\"a\\(.b)\" == \"x\"", ".a > 1 | not", "select(.a)", ".a = 1", ".a + 1 > 2", "."] {
            XCTAssertNil(FastPredicate.parse(e), e)
        }
    }

    /// Differential test: on every record and expression the fast path answers, it agrees with libjq.
    func testAgreesWithLibjq() throws {
        let exprs = [
            ".followers > 100", ".followers >= 5", ".name == \"ada\"", ".name < \"b\"", ".x == null", ".x != null",
            ".s.t > 1", ".s.t == \"1\"", ".h and .followers > 1", ".h or .x", ".followers > \"a\"", ".b == false", ".b < true",
            "(.followers < 10 or .name > \"a\") and .h", ".s.u.v == null", ".n == -1.5", ".arr == null",
        ]
        let records = [
            #"{"followers":150,"name":"ada","h":true,"s":{"t":2},"b":false,"n":-1.5}"#,
            #"{"followers":5,"name":"bob","h":null,"s":{"t":"1"},"x":1}"#,
            #"{"followers":"many","name":null,"s":null,"arr":[1]}"#,
            #"{"name":"é","s":{"t":{"k":1},"u":null},"b":true,"followers":1e2}"#,
            #"{"s":"str","followers":100.0,"name":"a\u0062"}"#,
            #"{}"#,
        ]
        var fastAnswers = 0
        for e in exprs {
            let fast = try XCTUnwrap(FastPredicate.parse(e), e)
            let jq = try JQProgram(e)
            for text in records {
                let r = try Record(json: text)
                guard let answer = fast.evaluate(r) else { continue }
                fastAnswers += 1
                XCTAssertEqual(answer, try jq.test(r), "\(e) on \(text)")
            }
        }
        XCTAssertGreaterThan(fastAnswers, 80)
    }

    func testDefersToLibjqWhereJqWouldFail() throws {
        let r = try Record(json: #"{"s":"str","a":[1]}"#)
        XCTAssertNil(FastPredicate.parse(".s.t == 1")!.evaluate(r), "indexing a string is jq's error to report")
        XCTAssertNil(FastPredicate.parse(".a == 1")!.evaluate(r), "arrays compare the jq way")
    }
}
