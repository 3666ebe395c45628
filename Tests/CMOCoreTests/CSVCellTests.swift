import XCTest

@testable import CMOBasics

final class CSVCellTests: XCTestCase {
    private func cell(_ v: JSONValue?, raw: Bool = false, max: Int = 32767) -> String {
        var f = CSVCellFormatter(neutralise: !raw, maxChars: max)
        var out: [UInt8] = []
        f.appendCell(v, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private func rawCell(_ json: String) -> String {
        var f = CSVCellFormatter()
        var out: [UInt8] = []
        Array(json.utf8).withUnsafeBufferPointer { f.appendCell(rawJSON: $0, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    func testScalarsAndQuoting() {
        XCTAssertEqual(cell(nil), "")
        XCTAssertEqual(cell(.null), "")
        XCTAssertEqual(cell(true), "true")
        XCTAssertEqual(cell(.number("-1.5")), "-1.5", "numbers are never neutralised")
        XCTAssertEqual(cell("a,b"), "\"a,b\"")
        XCTAssertEqual(cell("say \"hi\""), "\"say \"\"hi\"\"\"")
        XCTAssertEqual(cell("line1\r\nline2"), "\"line1\r\nline2\"")
    }

    func testFormulaNeutralisation() {
        for s in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            XCTAssertTrue(cell(.string(s)).hasPrefix("'") || cell(.string(s)).hasPrefix("\"'"), s)
        }
        XCTAssertEqual(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"")
        XCTAssertEqual(cell("=1+1", raw: true), "=1+1")
        XCTAssertEqual(rawCell(#""=cmd""#), "'=cmd")
        XCTAssertEqual(rawCell("-3"), "-3")
    }

    func testArraysAndObjects() {
        XCTAssertEqual(cell(["a", 1, true]), "a; 1; true")
        XCTAssertEqual(cell(["=x", "y"]), "'=x; y")
        XCTAssertEqual(cell([["a": 1]]), "\"[{\"\"a\"\":1}]\"")
        XCTAssertEqual(rawCell(#"{ "a" : [1, 2] }"#), "\"{\"\"a\"\":[1,2]}\"")
        XCTAssertEqual(rawCell(#""tab\tescaped""#), "tab\tescaped")
    }

    func testLongCellsAreCut() {
        let out = cell(.string(String(repeating: "é", count: 50)), max: 10)
        XCTAssertEqual(out, String(repeating: "é", count: 9) + "…")
    }
}
