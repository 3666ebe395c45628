import CMOTestSupport
import Foundation
import XCTest

/// render-copy checks every template variable when it starts, before reading input: a typo exits 78
/// naming the template, the variable and the nearest known name; a default standing in for most
/// leads is a warning after the run.
final class TemplateCheckTests: XCTestCase {
    static let root = RenderCopyTests.root

    func template(_ dir: String, _ name: String, subject: String, body: String) throws -> String {
        let path = dir + "/" + name + ".yaml"
        let indented = body.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
        try "subject: '\(subject)'\nbody: |\n\(indented)\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func render(_ args: [String], _ input: String) throws -> SpawnResult {
        try Spawn.run("render-copy", ["--config", RenderCopyTests.campaign] + args, stdin: Data(input.utf8), currentDirectory: Self.root)
    }

    func testATypoInACampaignVariableStopsBeforeAnyInputIsRead() throws {
        let dir = Spawn.tempDirectory()
        let example = try String(contentsOfFile: Self.root + "/examples/templates/a-maintainer.yaml", encoding: .utf8)
        XCTAssertTrue(example.contains("{{ campaign.sender_name }}"))
        let typo = dir + "/a-maintainer.yaml"
        try example.replacingOccurrences(of: "{{ campaign.sender_name }}", with: "{{ campaign.sender_nmae }}")
            .write(toFile: typo, atomically: true, encoding: .utf8)
        // Input a run would dead-letter: it is never read.
        let r = try render(["--template", typo], "not json\n" + RenderCopyTests.lead(1) + "\n")
        XCTAssertEqual(r.status, 78, r.err)
        XCTAssertEqual(r.out, "")
        XCTAssertTrue(r.err.contains("campaign.sender_nmae") && r.err.contains("did you mean campaign.sender_name?"), r.err)
        XCTAssertTrue(r.err.contains(typo) && r.err.contains("body"), "names the template and the part: \(r.err)")
        XCTAssertFalse(r.err.contains("bad_json") || r.err.contains(" in, "), "no input read, no summary: \(r.err)")
    }

    func testUnknownRecordFieldsAreRefusedOrWarnedAndRecordFieldAllowsThem() throws {
        let dir = Spawn.tempDirectory()
        let typo = try template(dir, "typo", subject: "Hi {{ nmae }}", body: "{{ campaign.unsubscribe_url }}")
        let r = try render(["--template", typo], "")
        XCTAssertEqual(r.status, 78, r.err)
        XCTAssertTrue(r.err.contains("{{ nmae }}") && r.err.contains("did you mean name?"), r.err)

        let inCondition = try template(
            dir, "cond", subject: "Hi", body: "{% if signals.repo_langauge %}x{% endif %}\n{{ campaign.unsubscribe_url }}")
        let c = try render(["--template", inCondition], "")
        XCTAssertEqual(c.status, 78, c.err)
        XCTAssertTrue(c.err.contains("did you mean signals.repo_language?"), c.err)

        let custom = try template(dir, "custom", subject: "Hi {{ crm.owner }}", body: "{{ campaign.unsubscribe_url }}")
        XCTAssertEqual(try render(["--template", custom], "").status, 78)
        let allowed = try render(["--template", custom, "--record-field", "crm"], #"{"id":1,"crm":{"owner":"ana"}}"# + "\n")
        XCTAssertEqual(allowed.status, 0, allowed.err)
        XCTAssertTrue(allowed.out.contains("Hi ana"), allowed.out)

        // Loop variables, list positions and the open snippets are known; an unknown name with a default is a warning.
        let fine = try template(
            dir, "fine", subject: "Hi {{ name|first_name:login|default:\"there\" }}",
            body: "{% for t in signals.topics %}{{ t }} {{ forloop.counter }}{% endfor %} {{ signals.recent_commit_titles.0|default:\"\" }}"
                + " {{ snippets.anything|default:\"\" }} {{ nickname|default:\"friend\" }}\n{{ campaign.unsubscribe_url }}")
        let f = try render(["--template", fine], "")
        XCTAssertEqual(f.status, 0, f.err)
        XCTAssertTrue(f.err.contains("nickname") && f.err.contains("warning"), f.err)
    }

    func testADefaultUsedForMostLeadsIsAWarning() throws {
        let dir = Spawn.tempDirectory()
        let t = try template(dir, "greet", subject: "Hi {{ name|default:\"there\" }}", body: "Hello\n{{ campaign.unsubscribe_url }}")
        let leads = (1...10).map { i in i <= 2 ? RenderCopyTests.lead(i) : #"{"kind":"person","id":\#(i),"login":"user\#(i)"}"# }
        let r = try render(["--template", t], leads.joined(separator: "\n") + "\n")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.lines.count, 10)
        XCTAssertTrue(r.err.contains("the default of {{ name|default:\"there\" }} was used for 8 of 10 leads"), r.err)

        let few = (1...10).map { i in i <= 8 ? RenderCopyTests.lead(i) : #"{"kind":"person","id":\#(i),"login":"user\#(i)"}"# }
        let quiet = try render(["--template", t], few.joined(separator: "\n") + "\n")
        XCTAssertEqual(quiet.status, 0, quiet.err)
        XCTAssertFalse(quiet.err.contains("the default of"), "2 of 10 is not most: \(quiet.err)")
    }
}
