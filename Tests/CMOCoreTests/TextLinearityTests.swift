import Foundation
import XCTest

import CMOGitHub
@testable import CMOBasics
@testable import CMOLedger
@testable import CMOWriters

/// Issue 27: text work is linear. Every place user text is normalised or hashed runs on 1 MB of the
/// shapes that made regular expressions and index walks quadratic (one long token, many short
/// tokens, deep nesting, many distinct errors) within a bound a quadratic version misses by minutes;
/// timings per size live in bench/text-linear.sh. The Linear error key's normaliser is also checked
/// against the regular expressions it replaced, so no error already filed gets a new key.
final class TextLinearityTests: XCTestCase {
    // MARK: - The regular expressions LinearErrorRecord.normalise used (reference only)

    private static let referenceRules: [(NSRegularExpression, String)] = [
        (#"[a-z][a-z0-9+.-]*://[^\s'"<>]+"#, "<url>"),
        (#"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"#, "<email>"),
        (#"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"#, "<uuid>"),
        (#"\b(?=[0-9a-fA-F]*[0-9])(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{7,}\b"#, "<hex>"),
        (#"'[^'\n]*[0-9][^'\n]*'|'[^'\n]{41,}'"#, "'…'"),
        (#""[^"\n]*[0-9][^"\n]*"|"[^"\n]{41,}""#, "\"…\""),
        (#"(?<!HTTP )(?<![0-9])[0-9]+(?:\.[0-9]+)?"#, "#"),
        (#"\s+"#, " "),
    ].map { (try! NSRegularExpression(pattern: $0.0), $0.1) }

    private static func referenceReplaced(_ message: String) -> String {
        var s = message
        for (re, replacement) in referenceRules {
            s = re.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: replacement)
        }
        return s
    }

    private func assertSameAsRegex(_ message: String, file: StaticString = #filePath, line: UInt = #line) {
        let want = Self.referenceReplaced(message)
        let got = LinearMessageNormaliser.replaced(message)
        if got != want {
            let hex = message.unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: " ")
            XCTFail("normalise differs from the regular expressions on [\(hex)]: got \(got.debugDescription), want \(want.debugDescription)", file: file, line: line)
        }
    }

    func testNormaliserMatchesTheRegularExpressionsOnKnownShapes() {
        let cases = [
            "", " ", "lead dev1@example.org failed after 3 tries (request 0a1b2c3d-1c2d-4e5f-8a9b-00112233aabb)",
            "required field 'copy.body' is missing for a@b.co", "HTTP 503 from https://api.example.com/v2/x/7 after 7 attempts",
            "value 'dev@example.org' for cmo_body is over 120 characters", "HTTP 404.5 and HTTP  4 and xHTTP 5 and http 6",
            "1.2.3 .5 5. 1..2 12.34.56", "1http://x 1http:// http:/x ftp+ssh.v2-x://a<b a://'x", "a@b.c a@b.com1 a@b.c.de x@y@z.org a@.co a@-.co",
            "deadbeef deadbee deadbe1 abcdef1234 ABCDEF1 _abcdef1 abcdef1_ é1abcdef1 1abcdef\u{301} \u{301}1abcdef",
            "0a1b2c3d-1c2d-4e5f-8a9b-00112233aabbc x0a1b2c3d-1c2d-4e5f-8a9b-00112233aabb -0a1b2c3d-1c2d-4e5f-8a9b-00112233aabb-",
            "'' 'a' 'a1' '\n1' \"x\" \"1\" 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'",
            "'1'2'3' '''' 'a'1'", "a\u{a0}\u{2028}\u{85}\u{3000}\t\r\n b", "😀1😀 '😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀'",
            "\u{200b}deadbeef1\u{200b} \u{ad}cafe123\u{ad} \u{200d}cafe123 ٣cafe123 cafe123٣",
        ]
        for c in cases { assertSameAsRegex(c) }
    }

    /// Random messages from pieces that sit on every rule's edges.
    func testNormaliserMatchesTheRegularExpressionsOnRandomMessages() {
        let pieces = [
            "a", "f", "g", "Z", "E", "0", "7", "9", ".", "-", "+", "_", "%", "@", ":", "/", "://", "'", "\"", "<", ">", " ", "\n", "\t",
            "HTTP ", "http", "x.co", "com", "dead", "beef12", "0a1b2c3d", "-1c2d", "é", "Ω", "\u{301}", "\u{200b}", "\u{ad}", "\u{200d}",
            "\u{a0}", "\u{2028}", "\u{85}", "😀", "٣", "‿", "\u{1F3FB}", "ǅ",
        ]
        var rng = SplitMix64(seed: 27)
        for _ in 0..<4000 {
            let length = Int(rng.next() % 40)
            var s = ""
            for _ in 0..<length { s += pieces[Int(rng.next() % UInt64(pieces.count))] }
            assertSameAsRegex(s)
        }
    }

    /// Every Basic Multilingual Plane scalar (and a sample beyond it) at the edges where the rules ask
    /// about character classes: after and before a hex id (`\b`), inside a URL, as white space.
    func testNormaliserMatchesTheRegularExpressionsForEveryScalarClass() {
        var batch = ""
        var count = 0
        func flush() {
            if Self.referenceReplaced(batch) != LinearMessageNormaliser.replaced(batch) {
                // Narrow it down to the scalar.
                for line in batch.split(separator: "\n", omittingEmptySubsequences: false) { assertSameAsRegex(String(line)) }
            }
            batch = ""
            count = 0
        }
        var values = Array(0x0001...0xD7FF) + Array(0xE000...0xFFFD)
        values += stride(from: 0x10000, through: 0x10FFFF, by: 97).map { $0 }
        values += [0x1F3FB, 0x1F600, 0xE0001, 0xE0020, 0xE0100, 0x1D7CE, 0x16E80, 0x11000, 0x1E950]
        for v in values {
            guard let u = Unicode.Scalar(v), u != "\n" else { continue }
            let c = String(u)
            batch += "\(c)cafe123\(c) x\(c)cafe123 cafe123\(c)x x://a\(c)b \(c)\(c)\n"
            count += 1
            if count == 256 { flush() }
        }
        flush()
    }

    // MARK: - Linear on adversarial input

    /// 1 MB messages of every shape: the regular expressions took over 9 minutes on one of them; a
    /// linear pass takes well under a second (debug build), so 60 s is a bound no loaded CI machine
    /// reaches and a quadratic version misses by far. Timing lives in bench/text-linear.sh.
    func testLinearErrorNormaliserIsLinearOnAdversarialMessages() {
        for (shape, message) in Self.adversarial(size: 1 << 20) {
            let start = Date()
            let out = LinearErrorRecord.normalise(message)
            let seconds = Date().timeIntervalSince(start)
            XCTAssertLessThanOrEqual(out.count, 300, shape)
            XCTAssertLessThan(seconds, 60, "LinearErrorRecord.normalise on 1 MB of \(shape) took \(seconds) s")
        }
    }

    /// The other places user text is cleaned or cut, on the same 1 MB shapes: lead fields
    /// (send-instantly, sync-attio), Linear's issue text, render-copy's helpers, CSV cells
    /// (export-csv), gh-people's commit-title filter, and a whole dead letter read by sync-linear.
    func testEveryTextHelperIsLinearOnAdversarialText() {
        let helpers: [(String, (String) -> Void)] = [
            ("LeadFields.oneLine", { _ = LeadFields.oneLine($0, limit: 200) }),
            ("LeadFields.multiLine", { _ = LeadFields.multiLine($0) }),
            (
                "LeadFields.breakTemplateSyntax",
                { text in
                    let out = LeadFields.breakTemplateSyntax(text)
                    for d in ["{{", "}}", "{%", "%}"] { XCTAssertFalse(out.contains(d), "breakTemplateSyntax left \(d)") }
                }
            ),
            ("LinearText.title", { _ = LinearText.title($0) }),
            ("LinearText.code", { _ = LinearText.code($0) }),
            ("LinearText.block", { _ = LinearText.block($0) }),
            ("TextCleaning.body", { _ = TextCleaning.body($0) }),
            ("TextCleaning.truncate", { _ = TextCleaning.truncate($0, to: 80) }),
            ("CommitTitle.unquotable", { _ = CommitTitle.unquotable($0) }),
            ("SuppressionValue.lookupEmail", { _ = SuppressionValue.domainAndParents(ofEmail: SuppressionValue.lookupEmail("a@" + $0)) }),
            (
                "CSVCellFormatter",
                {
                    var f = CSVCellFormatter(neutralise: true, maxChars: 0)
                    var out: [UInt8] = []
                    f.appendCell(.string("=" + $0), to: &out)
                    f.appendCell(.array([.string($0), .string($0)]), to: &out)
                }
            ),
            (
                "LinearErrorRecord.read",
                {
                    let line = JSONValue.object([
                        JSONMember("stage", .string($0)), JSONMember("line", .int(1)),
                        JSONMember("error", .object([JSONMember("code", .string($0)), JSONMember("message", .string($0))])),
                    ]).encoded()
                    if let r = try? Record(bytes: line) { _ = LinearErrorRecord.read(r) }
                }
            ),
        ]
        let shapes: Set = ["one long token", "many short tokens", "deep template braces", "combining marks"]
        for (shape, text) in Self.adversarial(size: 1 << 20) where shapes.contains(shape) {
            for (name, helper) in helpers {
                let start = Date()
                helper(text)
                let seconds = Date().timeIntervalSince(start)
                XCTAssertLessThan(seconds, 60, "\(name) on 1 MB of \(shape) took \(seconds) s")
            }
        }
    }

    /// export-csv's union of keys looks every column up in every record: one record of 83,000 keys
    /// (1 MB) took 25 s when each lookup scanned the members (`Record.memberIndex`); with the record's
    /// `MemberTable`, built once per row, it is linear. The table agrees with `memberIndex` on repeated
    /// and escaped keys.
    func testManyKeysOfOneRecordAreLookedUpInLinearTime() throws {
        func letters(_ i: Int) -> String {
            var i = i, s = ""
            repeat {
                s = String(UnicodeScalar(UInt8(97 + i % 26))) + s
                i /= 26
            } while i > 0
            return s
        }
        let keys = (0..<((1 << 20) / 12)).map(letters)
        let record = try Record(bytes: JSONValue.object(keys.map { JSONMember($0, .string("=x")) }).encoded())
        let paths = keys.map { FieldPath(single: $0) }
        let start = Date()
        let table = Record.MemberTable(record)
        var found = 0
        for p in paths { p.withRawValue(in: record, table: table) { if $0 != nil { found += 1 } } }
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(found, keys.count)
        XCTAssertLessThan(seconds, 60, "looking up \(keys.count) keys of one record took \(seconds) s")

        let odd = try Record(json: #"{"a":1,"b":2,"a":3,"\u0061":4,"é":5,"e\u0301":6,"\ud800":7,"":8,"x.y":9}"#)
        let oddTable = Record.MemberTable(odd)
        for k in ["a", "b", "é", "e\u{301}", "\u{FFFD}", "", "x.y", "c"] {
            XCTAssertEqual(oddTable.memberIndex(Array(k.utf8)), odd.memberIndex(k), k.debugDescription)
        }
        XCTAssertEqual(oddTable.memberIndex(Array("a".utf8)), 3)
    }

    /// An address's domain parents are those an entry can be (at most 253 bytes), so an address of
    /// 500,000 labels gives a bounded list, not 500,000 suffixes (quadratic bytes: cmo-suppress check
    /// was killed for memory on 1 MB of labels).
    func testDomainParentsAreBoundedByTheLongestDomain() {
        let email = "a@" + String(repeating: "b.", count: 500_000) + "org"
        let parents = SuppressionValue.domainAndParents(ofEmail: email)
        XCTAssertLessThanOrEqual(parents.count, 127)
        XCTAssertTrue(parents.allSatisfy { $0.utf8.count <= 253 })
        XCTAssertEqual(parents.last, "b.org")
        XCTAssertEqual(SuppressionValue.domainAndParents(ofEmail: "x@eu.acme.com"), ["eu.acme.com", "acme.com"])
    }

    /// The shapes of bench/text-linear.sh, `size` UTF-8 bytes (about) each.
    static func adversarial(size n: Int) -> [(String, String)] {
        [
            ("one long token", String(repeating: "a", count: n)),
            ("one long hex token", String(repeating: "ab12", count: n / 4)),
            ("one long scheme-like token", String(repeating: "a", count: n - 2) + ":/"),
            ("a long email local part", String(repeating: "a", count: n - 4) + "@b.c"),
            ("an email with a long domain", "a@" + String(repeating: "b.", count: n / 2)),
            ("an unclosed quote of digits", "'" + String(repeating: "1", count: n - 1)),
            ("quotes of digits", String(repeating: "'1", count: n / 2)),
            ("many short tokens", String(repeating: "ab 1 ", count: n / 5)),
            ("many numbers", String(repeating: "1 ", count: n / 2)),
            ("many emails", String(repeating: "a@b.co ", count: n / 7)),
            ("many urls", String(repeating: "h://x ", count: n / 6)),
            ("deep brackets", String(repeating: "([{<", count: n / 8) + String(repeating: ">}])", count: n / 8)),
            ("deep template braces", String(repeating: "{{", count: n / 4) + String(repeating: "}}", count: n / 4)),
            ("deep quotes", String(repeating: "'\"", count: n / 2)),
            ("combining marks", "a" + String(repeating: "\u{301}", count: n / 2) + "cafe123"),
            ("HTTP statuses", String(repeating: "HTTP 5", count: n / 6)),
        ]
    }
}

/// A small deterministic generator, so a failure replays.
private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
