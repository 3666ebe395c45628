import Foundation
import XCTest

@testable import CMOBasics

/// An escaped lone surrogate is read as U+FFFD, as newer jq reads it: the reader rewrites the escape
/// to `\ufffd` in the line (same length), so libjq 1.6, which refuses the escape, sees a string it reads.
final class LoneSurrogateTests: XCTestCase {
    private func patched(_ text: String) -> (String, Int) {
        var bytes = Array(text.utf8)
        let n = JSONScanner.replaceLoneSurrogateEscapes(&bytes)
        XCTAssertEqual(bytes.count, text.utf8.count, "same length")
        return (String(decoding: bytes, as: UTF8.self), n)
    }

    func testLoneSurrogatesAreRewrittenAndEverythingElseIsLeftAlone() {
        let cases: [(String, String, Int)] = [
            (#"{"a":"x\ud800y"}"#, #"{"a":"x\ufffdy"}"#, 1),
            (#"{"a":"\uDBFF"}"#, #"{"a":"\ufffd"}"#, 1),
            (#"{"a":"\udc00\ud800"}"#, #"{"a":"\ufffd\ufffd"}"#, 2),
            (#"{"a":"\ud83d\ude00"}"#, #"{"a":"\ud83d\ude00"}"#, 0),  // a pair is a character
            (#"{"a":"\ud83d\ude00\udc00"}"#, #"{"a":"\ud83d\ude00\ufffd"}"#, 1),
            (#"{"a":"\ud800\u0041"}"#, #"{"a":"\ufffd\u0041"}"#, 1),
            (#"{"a":"\\ud800"}"#, #"{"a":"\\ud800"}"#, 0),  // an escaped backslash, then text
            (#"{"a":"\\\ud800"}"#, #"{"a":"\\\ufffd"}"#, 1),
            (#"{"\ud800":1,"b":"\n\t\u00e9"}"#, #"{"\ufffd":1,"b":"\n\t\u00e9"}"#, 1),
            (#"{"a":"\ud800"#, #"{"a":"\ufffd"#, 1),  // still refused later: unterminated
            (#"{"a":"\ud8"}"#, #"{"a":"\ud8"}"#, 0),  // a bad escape is the scanner's to refuse
            (#"{"a":"plain"}"#, #"{"a":"plain"}"#, 0),
        ]
        for (input, expected, count) in cases {
            let (out, n) = patched(input)
            XCTAssertEqual(out, expected, input)
            XCTAssertEqual(n, count, input)
        }
    }

    func testTheReaderHandsOnRecordsThatLibjqReads() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let text = #"{"id":1,"a":"x\ud800y","b":2}"# + "\n" + #"{"a":"\ud800",}"# + "\n"
        _ = text.withCString { write(fds[1], $0, strlen($0)) }
        close(fds[1])
        let reader = NDJSONReader(fd: fds[0])
        guard case .record(let record)? = try reader.next(), case .bad(_, let bad, _, _)? = try reader.next() else {
            return XCTFail("expected a record and a bad line")
        }
        close(fds[0])
        XCTAssertEqual(record.jsonText, #"{"id":1,"a":"x\ufffdy","b":2}"#)
        XCTAssertEqual(record["a"]?.stringValue, "x\u{FFFD}y")
        XCTAssertEqual(record["b"]?.intValue, 2, "the member index still points at the right bytes")
        XCTAssertEqual(String(decoding: bad, as: UTF8.self), #"{"a":"\ufffd",}"#)
        let program = try JQProgram(#".a == "x\ufffdy""#)
        XCTAssertTrue(try program.test(record))
    }
}
