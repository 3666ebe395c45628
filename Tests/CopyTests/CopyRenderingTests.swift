import CMOCopy
import CMOBasics
import XCTest

/// Strict rendering: missing/null/empty variables, `default`, conditions, injection, limits.
final class CopyRenderingTests: XCTestCase {
    let environment = CopyRenderer.makeEnvironment()
    let campaign: [String: Any] = ["sender_name": "Maya", "unsubscribe_url": "https://x.test/u", "product_hook": "Tracelane replays CI"]

    func template(_ subject: String, _ body: String, name: String = "t") throws -> CopyTemplate {
        try CopyTemplate(
            name: name, subject: subject, body: body, content: Array((subject + body).utf8), source: name, environment: environment)
    }

    func renderer(_ subject: String, _ body: String, subjectLimit: Int = 78, bodyLimit: Int = 5000) throws -> CopyRenderer {
        CopyRenderer(
            templates: [try template(subject, body)], campaign: campaign, environment: environment, subjectLimit: subjectLimit,
            bodyLimit: bodyLimit)
    }

    func record(_ json: String) throws -> Record { try Record(json: json) }

    func failure(_ r: CopyRenderer, _ json: String, file: StaticString = #filePath, line: UInt = #line) throws -> CopyFailure? {
        do {
            _ = try r.render(try record(json))
            XCTFail("expected a failure", file: file, line: line)
            return nil
        } catch {
            return error as? CopyFailure
        }
    }

    func testFieldsNestedPathsAndCampaignAreVariables() throws {
        let r = try renderer(
            "Hi {{ name }}", "{{ signals.commits_in_window }} commits to {{ signals.maintainer_of.0 }}; {{ campaign.product_hook }}")
        let copy = try r.render(try record(#"{"id":1,"name":"Rosa Haddad","signals":{"commits_in_window":19,"maintainer_of":["o/r"]}}"#))
        XCTAssertEqual(copy.subject, "Hi Rosa Haddad")
        XCTAssertEqual(copy.body, "19 commits to o/r; Tracelane replays CI")
        XCTAssertEqual(copy.variant, "A")
    }

    func testMissingNullAndBlankVariablesFailNamingTheVariable() throws {
        let r = try renderer("Hello", "Hi {{ name }}, {{ login }}")
        for json in [#"{"login":"x"}"#, #"{"name":null,"login":"x"}"#, #"{"name":"  \t ","login":"x"}"#, #"{"name":[],"login":"x"}"#] {
            let f = try failure(r, json)
            XCTAssertEqual(f?.code, "missing_variable", json)
            XCTAssertTrue(f?.message.contains("'name'") == true, f?.message ?? "")
            XCTAssertTrue(f?.message.contains("body") == true, f?.message ?? "")
        }
        let nested = try renderer("About {{ signals.maintainer_of.0 }}", "b")
        XCTAssertTrue(try failure(nested, #"{"signals":{"maintainer_of":[]}}"#)?.message.contains("'signals.maintainer_of.0'") == true)
    }

    func testDefaultFilterReplacesMissingAndEmptyValues() throws {
        let r = try renderer("s", "Hi {{ name|first_name|default:login }},")
        XCTAssertEqual(try r.render(try record(#"{"name":"","login":"rosa"}"#)).body, "Hi rosa,")
        XCTAssertEqual(try r.render(try record(#"{"name":null,"login":"rosa"}"#)).body, "Hi rosa,")
        XCTAssertEqual(try r.render(try record(#"{"name":"Rosa Haddad","login":"rosa"}"#)).body, "Hi Rosa,")
        // A default that is itself a missing variable is no default: no "Hi ,".
        XCTAssertEqual(try failure(r, #"{"name":"","login":""}"#)?.code, "missing_variable")
        // A literal default, even an empty one, is the author's explicit choice.
        let literal = try renderer("s", "Hi {{ name|default:\"there\" }}.{{ company|default:\"\" }}")
        XCTAssertEqual(try literal.render(try record(#"{"name":" "}"#)).body, "Hi there.")
    }

    /// A greeting uses a person's first name or no name, never the login (issue 26).
    func testGreetingUsesAPersonsFirstNameOrNoNameNeverTheLogin() throws {
        let r = try renderer(
            "Flaky CI runs{% if name|first_name:login %}, {{ name|first_name:login }}{% endif %}?",
            "Hi {{ name|first_name:login|default:\"there\" }},")
        for (json, body) in [
            (#"{"name":"Rosa Haddad","login":"rosa-haddad"}"#, "Hi Rosa,"),
            (#"{"name":"Jean-Luc Picard","login":"jlp"}"#, "Hi Jean-Luc,"),
            (#"{"name":"Zoe Petrov","login":"zoepetrov"}"#, "Hi Zoe,"),
            (#"{"name":"José García","login":"jgarcia"}"#, "Hi José,"),
            (#"{"name":"ada lovelace","login":"al"}"#, "Hi Ada,"),
            (#"{"login":"ssilva4712"}"#, "Hi there,"),
            (#"{"name":null,"login":"ssilva4712"}"#, "Hi there,"),
            (#"{"name":"","login":"ssilva4712"}"#, "Hi there,"),
            (#"{"name":"ssilva4712","login":"ssilva4712"}"#, "Hi there,"),
            (#"{"name":"Ada","login":"ada"}"#, "Hi there,"),
            (#"{"name":"neo","login":"n"}"#, "Hi there,"),
            (#"{"name":"Acme Labs","login":"acme"}"#, "Hi there,"),
            (#"{"name":"The Rust Team","login":"rust"}"#, "Hi there,"),
            (#"{"name":"Dr. Jane Smith","login":"js"}"#, "Hi there,"),
            (#"{"name":"J. Smith","login":"js"}"#, "Hi there,"),
            (#"{"name":"@ssilva","login":"ssilva"}"#, "Hi there,"),
        ] {
            XCTAssertEqual(try r.render(try record(json)).body, body, json)
        }
        XCTAssertEqual(try r.render(try record(#"{"name":"Rosa Haddad","login":"rosa-haddad"}"#)).subject, "Flaky CI runs, Rosa?")
        XCTAssertEqual(
            try r.render(try record(#"{"name":"Rosa Haddad","login":"rosa"}"#)).body, "Hi there,", "a first name that is the login is not used")
        XCTAssertEqual(try r.render(try record(#"{"login":"rosa"}"#)).subject, "Flaky CI runs?")
        XCTAssertEqual(GreetingName.firstName(of: "Søren Kierkegaard", login: "sk"), "Søren")
        XCTAssertEqual(GreetingName.firstName(of: "O'Brien Kim", login: nil), "O'Brien")
        XCTAssertNil(GreetingName.firstName(of: "R2D2", login: nil))
        XCTAssertNil(GreetingName.firstName(of: "ssilva", login: "s-silva"), "one lower-case word is a handle")
        XCTAssertNil(GreetingName.firstName(of: "Ssilva", login: "ssilva"), "the login, capitalised")
    }

    func testConditionsDoNotDeadLetterButTakenBranchesDo() throws {
        let r = try renderer(
            "s", "{% if snippets.why_now %}{{ snippets.why_now }}{% elif company %}At {{ company }}.{% else %}Hello.{% endif %}")
        XCTAssertEqual(try r.render(try record(#"{"id":1}"#)).body, "Hello.", "a variable only in a condition is not required")
        XCTAssertEqual(try r.render(try record(#"{"company":"Acme"}"#)).body, "At Acme.")
        XCTAssertEqual(try r.render(try record(#"{"snippets":{"why_now":"Now."}}"#)).body, "Now.")
        let taken = try renderer("s", "{% if signals %}Topics: {{ signals.topics }}{% endif %}")
        XCTAssertEqual(try failure(taken, #"{"signals":{"topics":[]}}"#)?.code, "missing_variable")
        let untaken = try renderer("s", "Hi.{% if signals %} Topics: {{ signals.topics }}{% endif %}")
        XCTAssertEqual(try untaken.render(try record(#"{"x":1}"#)).body, "Hi.", "a branch not taken requires nothing")
        let inline = try renderer("s", "x{{ company if company else login }}")
        XCTAssertEqual(try inline.render(try record(#"{"login":"rosa"}"#)).body, "xrosa")
        XCTAssertEqual(try failure(inline, #"{"login":""}"#)?.message.contains("'login'"), true)
    }

    func testRecordDataIsInsertedLiterallyNeverEvaluated() throws {
        let r = try renderer("{{ name }}", "Bio: {{ bio }}")
        let evil = #"{"name":"{{ campaign.unsubscribe_url }}","bio":"{% if true %}yes{% endif %} {{ 7*7 }} {# c #} <b>&amp;</b> O'Brien"}"#
        let copy = try r.render(try record(evil))
        XCTAssertEqual(copy.subject, "{{ campaign.unsubscribe_url }}")
        XCTAssertEqual(
            copy.body, "Bio: {% if true %}yes{% endif %} {{ 7*7 }} {# c #} <b>&amp;</b> O'Brien", "no evaluation, no HTML escaping")
    }

    func testControlCharactersAreStrippedFromInsertedValues() throws {
        let r = try renderer("s", "Bio: {{ bio }}")
        let copy = try r.render(try record(#"{"bio":"a\u0000b\u0007c\u001b[31m\td\r\ne\u202Ef\u0085g"}"#))
        XCTAssertEqual(copy.body, "Bio: abc[31m\td\ne" + "fg")
    }

    func testSubjectIsOneCleanLineCutAtAWordBoundary() throws {
        let r = try renderer("  {{ title }}\r\n  and\tmore\u{0}  ", "b", subjectLimit: 30)
        let copy = try r.render(try record(#"{"title":"Line one\nline\u0001 two"}"#))
        XCTAssertEqual(copy.subject, "Line one line two and more")
        let long = try r.render(try record(#"{"title":"A subject that goes on for quite a few words"}"#))
        XCTAssertLessThanOrEqual(long.subject.count, 30)
        XCTAssertTrue(long.subject.hasSuffix("…"), long.subject)
        XCTAssertTrue("A subject that goes on for quite a few words and more".hasPrefix(String(long.subject.dropLast())), long.subject)
        XCTAssertFalse(long.subject.dropLast().hasSuffix(" "))
    }

    func testTruncationKeepsGraphemesWhole() {
        let family = "👨‍👩‍👧‍👦"
        let s = String(repeating: family, count: 20)
        let cut = TextCleaning.truncate(s, to: 10)
        XCTAssertEqual(cut.count, 10)
        XCTAssertEqual(cut, String(repeating: family, count: 9) + "…")
        XCTAssertEqual(TextCleaning.truncate("short", to: 10), "short")
        XCTAssertEqual(TextCleaning.truncate("Supercalifragilistic word", to: 12), "Supercalifr…", "no space in reach: a hard cut")
    }

    func testBodyLimitDeadLettersAndBodyIsTidied() throws {
        let r = try renderer("s", "{{ bio }}\n\n\n\nEnd   \n\n", bodyLimit: 20)
        XCTAssertEqual(try r.render(try record(#"{"bio":"Short"}"#)).body, "Short\n\nEnd")
        let f = try failure(r, #"{"bio":"This bio is a good deal longer than twenty"}"#)
        XCTAssertEqual(f?.code, "body_too_long")
    }

    func testNumbersBooleansAndListsPrintReadably() throws {
        let r = try renderer("s", "{{ a }} {{ b }} {{ c }} {{ d|join:\"/\" }} {% if n > 10 %}big{% endif %}")
        XCTAssertEqual(try r.render(try record(#"{"a":0.61,"b":true,"c":["x","y"],"d":["p","q"],"n":19}"#)).body, "0.61 true x, y p/q big")
    }

    func testTemplateSyntaxErrorsAreConfigErrors() {
        XCTAssertThrowsError(try template("{% if x %}", "b")) { XCTAssertEqual(($0 as? TemplateError)?.exitStatus, .config) }
        XCTAssertThrowsError(try template("s", "{{ x|no_such_filter }}")) { XCTAssertTrue("\($0)".contains("no_such_filter"), "\($0)") }
    }
}
