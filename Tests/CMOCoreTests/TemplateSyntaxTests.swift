import XCTest

@testable import CMOWriters

/// User text that carries template syntax is neutralised where it lands (`LeadFields.oneLine` and
/// `multiLine`, for send-instantly, sync-attio and sync-linear): `LeadFields.breakTemplateSyntax`
/// leaves no `{{`, `}}`, `{%` or `%}` in its output, whatever the run of braces. It used to replace
/// each pair once, left to right, so `{{{` came out as `{ZWSP{{`, still holding `{{`.
final class TemplateSyntaxTests: XCTestCase {
    static let delimiters = ["{{", "}}", "{%", "%}"]
    static let zwsp = "\u{200B}"

    func assertNoDelimiter(_ input: String, file: StaticString = #filePath, line: UInt = #line) {
        let out = LeadFields.breakTemplateSyntax(input)
        for d in Self.delimiters where out.contains(d) {
            XCTFail("\(input.debugDescription) gave \(out.debugDescription), which holds \(d)", file: file, line: line)
        }
        // Only zero-width spaces are added: taking them out gives the input back.
        XCTAssertEqual(out.replacingOccurrences(of: Self.zwsp, with: ""), input.replacingOccurrences(of: Self.zwsp, with: ""), file: file, line: line)
    }

    func testRunsOfTwoToNineBraces() {
        for n in 2...9 {
            for brace in ["{", "}"] {
                let run = String(repeating: brace, count: n)
                let out = LeadFields.breakTemplateSyntax(run)
                XCTAssertEqual(out, Array(repeating: brace, count: n).joined(separator: Self.zwsp), "a run of \(n) \(brace)")
                assertNoDelimiter(run)
                assertNoDelimiter("x" + run + "unsubscribe" + String(repeating: brace == "{" ? "}" : "{", count: n) + "y")
            }
        }
    }

    func testMixedBracesAndPercents() {
        // "%{" is no delimiter: it stays.
        XCTAssertEqual(LeadFields.breakTemplateSyntax("{%{{%}}"), "{\u{200B}%{\u{200B}{\u{200B}%\u{200B}}\u{200B}}")
        XCTAssertEqual(LeadFields.breakTemplateSyntax("{%}"), "{\u{200B}%\u{200B}}")
        XCTAssertEqual(LeadFields.breakTemplateSyntax("%%}}"), "%%\u{200B}}\u{200B}}")
        for s in ["{%{{%}}", "{{%}}%", "%{%}{", "{%%}", "}}{{", "{%%%}}}", "{{{%}}}"] { assertNoDelimiter(s) }
    }

    func testWhatItLeavesAlone() {
        for s in ["", "plain text", "{ x }", "} {", "}{", "%{", "}%", "{ {", "%", "50% off {x}", "é{😀}ü"] {
            XCTAssertEqual(LeadFields.breakTemplateSyntax(s), s)
        }
        // The same pairs as before for what the old replacements handled whole.
        XCTAssertEqual(LeadFields.breakTemplateSyntax("Hi {{ first_name }}, {% if x %}y{% endif %}"),
                       "Hi {\u{200B}{ first_name }\u{200B}}, {\u{200B}% if x %\u{200B}}y{\u{200B}% endif %\u{200B}}")
        XCTAssertEqual(LeadFields.breakTemplateSyntax("é{{😀}}"), "é{\u{200B}{😀}\u{200B}}")
    }

    /// Random strings of braces, percents and other characters: no delimiter pair survives.
    func testRandomBracePercentStringsLoseEveryDelimiter() {
        let pieces = ["{", "}", "%", "{", "}", "%", " ", "a", "\u{200B}", "é", "😀", "\u{301}", "\n"]
        var state: UInt64 = 27
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        for _ in 0..<5000 {
            var s = ""
            for _ in 0..<(next() % 24) { s += pieces[next() % pieces.count] }
            assertNoDelimiter(s)
        }
    }

    /// Through the lead fields, too.
    func testLeadFieldsNeutraliseLongRuns() {
        for d in Self.delimiters {
            XCTAssertFalse(LeadFields.oneLine("{{{{unsubscribe}}}} {%%}").contains(d))
            XCTAssertFalse(LeadFields.multiLine("{{{{\n}}}}\n{%{%%}%}").contains(d))
        }
    }
}
