import XCTest

@testable import CMOBasics

final class RecordTests: XCTestCase {
    func testUntouchedRecordIsWrittenByteForByte() throws {
        let line = #"{ "z" : 1,"a":  [1, 2] ,"é":"x\u00e9", "n":1.50 }"#
        let r = try Record(json: line)
        XCTAssertEqual(r.jsonText, line)
        XCTAssertEqual(r.keys, ["z", "a", "é", "n"])
        XCTAssertEqual(r["n"], .number("1.50"))
    }

    func testSetReplacesInPlaceAndAppendsNew() throws {
        var r = try Record(json: #"{"id":1,"score":0.1, "keep":"as is"  }"#)
        r.set("score", .number("0.9"))
        r.set("copy", ["subject": "Hi"])
        XCTAssertEqual(r.jsonText, #"{"id":1,"score":0.9, "keep":"as is","copy":{"subject":"Hi"}  }"#)
        XCTAssertEqual(r["copy"]?["subject"], "Hi")
        XCTAssertEqual(r.object["score"], .number("0.9"))
    }

    func testSetOnEmptyObject() throws {
        var r = try Record(json: "{}")
        r.set("a", 1)
        r.set("b", "x")
        XCTAssertEqual(r.jsonText, #"{"a":1,"b":"x"}"#)
    }

    func testEscapedKeysAndPaths() throws {
        let r = try Record(json: #"{"a\u002eb":1,"s":{"t":{"u":"deep"}},"dup":1,"dup":2}"#)
        XCTAssertEqual(r["a.b"], 1)
        XCTAssertEqual(r.value(atPath: ["s", "t", "u"]), "deep")
        XCTAssertNil(r.value(atPath: ["s", "x"]))
        XCTAssertEqual(r["dup"], 2, "the last of repeated keys wins, as in jq")
        var out = ""
        FieldPath("s.t.u").withRawValue(in: r) { out = $0.map { String(decoding: $0, as: UTF8.self) } ?? "nil" }
        XCTAssertEqual(out, "\"deep\"")
    }
}
