import Foundation
import XCTest

@testable import CMOBasics

final class NDJSONReaderTests: XCTestCase {
    /// A pipe holding `bytes`, written from another thread so large inputs do not block.
    func reader(_ bytes: [UInt8], maxLine: Int = NDJSONReader.defaultMaxLineBytes, chunk: Int = 1 << 20) -> NDJSONReader {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let w = fds[1]
        let data = bytes
        Thread.detachNewThread {
            data.withUnsafeBytes { raw in
                var off = 0
                while off < raw.count {
                    let n = write(w, raw.baseAddress! + off, raw.count - off)
                    if n <= 0 { break }
                    off += n
                }
            }
            close(w)
        }
        return NDJSONReader(fd: fds[0], maxLineBytes: maxLine, chunk: chunk)
    }

    func collect(_ r: NDJSONReader) throws -> [InputLine] {
        var out: [InputLine] = []
        while let l = try r.next() { out.append(l) }
        return out
    }

    func testLinesCRLFBlankAndNumbers() throws {
        let lines = try collect(reader(Array("{\"a\":1}\r\n\n   \n{\"a\":2}\nnope\n[1]\n{\"a\":3}".utf8), chunk: 4))
        XCTAssertEqual(lines.count, 5)
        guard case .record(let r1) = lines[0], case .record(let r2) = lines[1], case .bad(let n3, _, _, let e3) = lines[2],
            case .bad(_, _, _, let e4) = lines[3], case .record(let r5) = lines[4]
        else { return XCTFail("\(lines)") }
        XCTAssertEqual(r1.line, 1)
        XCTAssertEqual(r1.jsonText, "{\"a\":1}")
        XCTAssertEqual(r2.line, 4)
        XCTAssertEqual(n3, 5)
        XCTAssertEqual(e3.code, "bad_json")
        XCTAssertEqual(e4.code, "not_object")
        XCTAssertEqual(r5.line, 7)
    }

    func testInvalidUTF8IsABadLine() throws {
        let lines = try collect(reader([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D, 0x0A, 0x7B, 0x7D, 0x0A]))
        guard case .bad(_, _, _, let e) = lines[0], case .record = lines[1] else { return XCTFail() }
        XCTAssertEqual(e.code, "invalid_utf8")
    }

    func testOverlongLineIsRefusedAndReadingGoesOn() throws {
        let big = "{\"s\":\"" + String(repeating: "x", count: 300_000) + "\"}\n"
        let input = Array(("{\"a\":1}\n" + big + "{\"a\":2}\n").utf8)
        let lines = try collect(reader(input, maxLine: 100_000, chunk: 4096))
        XCTAssertEqual(lines.count, 3)
        guard case .bad(let n, let head, let length, let e) = lines[1], case .record(let last) = lines[2] else {
            return XCTFail("\(lines)")
        }
        XCTAssertEqual(n, 2)
        XCTAssertEqual(e.code, "line_too_long")
        XCTAssertEqual(length, big.utf8.count - 1)
        XCTAssertEqual(head.count, NDJSONReader.keptBytes)
        XCTAssertEqual(last["a"], 2)
    }

    func testTenMegabyteStringUnderTheCapIsARecord() throws {
        let big = "{\"s\":\"" + String(repeating: "y", count: 10 << 20) + "\"}\n"
        let lines = try collect(reader(Array(big.utf8), chunk: 1 << 16))
        guard case .record(let r) = lines.first else { return XCTFail() }
        XCTAssertEqual(r["s"]?.stringValue?.count, 10 << 20)
    }
}

extension NDJSONReaderTests {
    func testByteOrderMarkIsSkipped() throws {
        let lines = try collect(reader([0xEF, 0xBB, 0xBF] + Array("{\"a\":1}\n".utf8)))
        guard case .record(let r) = lines.first else { return XCTFail("\(lines)") }
        XCTAssertEqual(r["a"], 1)
    }

    func testNestingLimitMatchesLibjqAndDeadLettersStayReadable() throws {
        let deepest =
            "{\"a\":" + String(repeating: "[", count: JSONScanner.maxDepth - 1) + String(repeating: "]", count: JSONScanner.maxDepth - 1)
            + "}"
        let record = try Record(json: deepest)
        XCTAssertNoThrow(try JQProgram(".a").run(record), "every accepted record can go through libjq")
        XCTAssertThrowsError(try Record(json: "{\"a\":[" + deepest + "]}"))
        let path = NSTemporaryDirectory() + "dl-\(UUID().uuidString)"
        let sink = try DeadLetterSink(stage: "t", path: path)
        sink.write(record: record, code: "x", message: "y", retryable: false)
        let line = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .newlines)
        let letter = try Record(json: line)
        XCTAssertEqual(letter["input"]?.stringValue, deepest)
    }
}
