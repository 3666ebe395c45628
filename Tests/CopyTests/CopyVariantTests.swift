import CMOCopy
import CMOBasics
import Foundation
import XCTest

/// Variant assignment, template files, the unsubscribe check, and the model answer's judging.
final class CopyVariantTests: XCTestCase {
    let environment = CopyRenderer.makeEnvironment()

    func testVariantIndexIsSHA256OfTheIdModuloTheCount() {
        // Known answers: SHA-256("abc") starts ba7816bf8f01cfea; SHA-256("15723482") starts 8127e6c065bb2676.
        XCTAssertEqual(UInt64(0xba78_16bf_8f01_cfea) % 5, 4)
        XCTAssertEqual(CopyRenderer.variantIndex(idText: "abc", count: 5), Int(UInt64(0xba78_16bf_8f01_cfea) % 5))
        XCTAssertEqual(CopyRenderer.variantIndex(idText: "abc", count: 3), Int(UInt64(0xba78_16bf_8f01_cfea) % 3))
        XCTAssertEqual(CopyRenderer.variantIndex(idText: "15723482", count: 3), Int(UInt64(0x8127_e6c0_65bb_2676) % 3))
        XCTAssertEqual(CopyRenderer.variantIndex(idText: "anything", count: 1), 0)
    }

    func testVariantsAreDeterministicAndRoughlyEven() throws {
        let templates = try ["a", "b", "c"].map {
            try CopyTemplate(
                name: $0, subject: "S \($0)", body: "B {{ login }}", content: Array($0.utf8), source: $0, environment: environment)
        }
        let r = CopyRenderer(templates: templates, campaign: [:], environment: environment)
        var counts: [String: Int] = [:]
        for id in 0..<3000 {
            let rec = try Record(json: #"{"id":\#(id),"login":"u\#(id)"}"#)
            let a = try r.render(rec)
            let b = try r.render(try Record(json: #"{"login":"u\#(id)","id":\#(id)}"#))
            XCTAssertEqual(a.variant, b.variant)
            XCTAssertEqual(a.templateName, ["a", "b", "c"][["A", "B", "C"].firstIndex(of: a.variant)!])
            XCTAssertEqual(a.variant, CopyRenderer.variantLabel(CopyRenderer.variantIndex(idText: String(id), count: 3)))
            counts[a.variant, default: 0] += 1
        }
        XCTAssertEqual(counts.count, 3)
        for (_, n) in counts { XCTAssertGreaterThan(n, 850) }
        XCTAssertEqual(
            try r.render(try Record(json: #"{"id":"15723482","login":"x"}"#)).variant,
            try r.render(try Record(json: #"{"id":15723482,"login":"x"}"#)).variant, "string and number ids hash alike")
        XCTAssertThrowsError(try r.render(try Record(json: #"{"login":"x"}"#))) {
            XCTAssertEqual(($0 as? CopyFailure)?.code, "missing_field")
        }
        XCTAssertEqual(CopyRenderer.variantLabel(1), "B")
        XCTAssertEqual(CopyRenderer.variantLabel(26), "V27")
    }

    func testTemplateFilesHashTheirBytesAndRefuseUnknownKeys() throws {
        let dir = NSTemporaryDirectory() + "copy-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = "subject: Hi {{ login }}\nbody: |\n  Hello {{ login }}\n  {{ campaign.unsubscribe_url }}\n"
        try text.write(toFile: dir + "/b.yaml", atomically: true, encoding: .utf8)
        try "name: first\nsubject: s\nbody: b\n".write(toFile: dir + "/a.yml", atomically: true, encoding: .utf8)
        try "ignored".write(toFile: dir + "/notes.txt", atomically: true, encoding: .utf8)
        let set = try TemplateSet.load([dir], environment: environment)
        XCTAssertEqual(set.map(\.name), ["first", "b"], "directory: *.yaml/*.yml sorted by file name; name defaults to the file's")
        let sha = try XCTUnwrap(shellSHA256(dir + "/b.yaml"))
        XCTAssertEqual(set[1].sha256, sha)
        try "subject: s\nbody: b\nbdy: c\n".write(toFile: dir + "/c.yaml", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TemplateSet.load([dir + "/c.yaml"], environment: environment)) { XCTAssertTrue("\($0)".contains("'bdy'")) }
        XCTAssertThrowsError(try TemplateSet.load([dir + "/b.yaml", dir + "/b.yaml"], environment: environment)) {
            XCTAssertTrue("\($0)".contains("both named"))
        }
    }

    func testUnsubscribeMustBePrintedOutsideAnyBlock() throws {
        func t(_ body: String) throws -> CopyTemplate {
            try CopyTemplate(name: "t", subject: "s", body: body, content: [], source: "t", environment: environment)
        }
        let v = "campaign.unsubscribe_url"
        XCTAssertTrue(try t("x\nStop: {{ campaign.unsubscribe_url }}").bodyPrintsUnconditionally(v))
        XCTAssertTrue(try t("{% if a %}a{% endif %} {{ campaign.unsubscribe_url|default:\"x\" }}").bodyPrintsUnconditionally(v))
        XCTAssertFalse(try t("{% if a %}{{ campaign.unsubscribe_url }}{% endif %}").bodyPrintsUnconditionally(v))
        XCTAssertFalse(try t("{% for x in y %}{{ campaign.unsubscribe_url }}{% endfor %}").bodyPrintsUnconditionally(v))
        XCTAssertFalse(try t("{{ campaign.unsubscribe_url if a }}").bodyPrintsUnconditionally(v))
        XCTAssertFalse(try t("campaign.unsubscribe_url in text").bodyPrintsUnconditionally(v))
        let ok = try t("{{ campaign.unsubscribe_url }}")
        XCTAssertNoThrow(try TemplateSet.checkUnsubscribe([ok], variable: v, campaign: ["unsubscribe_url": "https://u"]))
        XCTAssertThrowsError(try TemplateSet.checkUnsubscribe([ok], variable: v, campaign: [:]))
        XCTAssertThrowsError(try TemplateSet.checkUnsubscribe([try t("no link")], variable: v, campaign: ["unsubscribe_url": "https://u"]))
    }

    private func shellSHA256(_ path: String) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try? p.run()
        p.waitUntilExit()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: " ").first.map(String.init)
    }
}
