import CMOTestSupport
import Foundation
import XCTest

/// A record holding an escaped lone surrogate (`"x\ud800y"`) is read as U+FFFD by every stage: it
/// passes `--where` and `--column` through libjq (which refuses the escape itself), and what the
/// stages write, records and dead letters alike, is read by the system's jq.
final class LoneSurrogateStageTests: XCTestCase {
    static let input =
        #"{"id":1,"a":"x\ud800y","n":1}"# + "\n" + #"{"id":2,"a":"\udc00 and \ud83d\ude00","n":"two"}"# + "\n"
        + #"{"id":3,"\ud800":true,}"# + "\n"

    /// Each line of `text` read by `jq -c .`; nil when jq refuses any of it.
    private func jq(_ text: String) throws -> [String]? {
        let dir = Spawn.tempDirectory()
        let path = dir + "/in"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try Spawn.run("/usr/bin/jq", ["-c", ".", path])
        return r.status == 0 ? r.lines : nil
    }

    func testWhereAndColumnGoThroughLibjqAndEveryLineJqCanRead() throws {
        let dl = Spawn.tempDirectory() + "/dl.ndjson"
        // `test(...)` and `.n + 1` are not the native fast paths: libjq evaluates them.
        let r = try Spawn.run(
            "export-csv",
            [
                "--where", #".a | test("x.y|and")"#, "--columns", "id,a", "--column", "plus=.n + 1", "--column", "len=.a | length",
                "--dead-letter", dl, "--newline", "lf",
            ],
            stdin: Data(Self.input.utf8))
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.lines, ["id,a,plus,len", "1,x\u{FFFD}y,2,3"], r.out)
        let letters = try XCTUnwrap(try String(contentsOfFile: dl, encoding: .utf8))
        let read = try XCTUnwrap(try jq(letters), "jq reads the dead-letter file: \(letters)")
        XCTAssertEqual(read.count, 2)
        XCTAssertTrue(read[0].contains(#""code":"column_error""#) && read[0].contains("\u{FFFD} and 😀"), read[0])
        XCTAssertTrue(read[1].contains(#""code":"bad_json""#), read[1])
        XCTAssertFalse(letters.contains("surrogate"), "no record is refused for its escape: \(letters)")
    }

    func testRecordsWrittenByAStageAreReadByJq() throws {
        let r = try Spawn.run("score-icp", ["--where", #".a | length > 0"#], stdin: Data(Self.input.utf8))
        XCTAssertEqual(r.status, 0, r.err)
        let read = try XCTUnwrap(try jq(r.out), r.out)
        XCTAssertEqual(read.count, 2)
        XCTAssertTrue(read[0].hasPrefix(#"{"id":1,"a":"x\#u{FFFD}y","n":1,"score":"#), read[0])
        XCTAssertTrue(r.out.contains(#""a":"x\ufffdy""#), "the escape is rewritten in place, the rest of the line kept")
    }
}
