import CMOTestSupport
import Foundation
import XCTest

/// render-copy as a black box: the example campaign and templates, strictness, injection, variants,
/// the unsubscribe rule, exit statuses, and --llm against the sandbox's OpenAI-compatible model.
final class RenderCopyTests: XCTestCase {
    nonisolated(unsafe) static var shared: SandboxLauncher?

    static func sandbox() throws -> SandboxLauncher {
        if let s = shared { return s }
        let s = try SandboxLauncher(["--seed", "7", "--repos", "20", "--users", "20"])
        shared = s
        return s
    }

    override class func tearDown() {
        shared?.stop()
        shared = nil
    }

    /// The package root (examples/ lives there).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .path

    /// examples/campaign.yaml made one's own (the example itself is refused for sending; see
    /// CampaignMatchTests), its templates named by absolute path.
    static let campaign: String = {
        let example = (try? String(contentsOfFile: root + "/examples/campaign.yaml", encoding: .utf8)) ?? ""
        let own = example.replacingOccurrences(of: "  example: true\n", with: "")
            .replacingOccurrences(of: "template: [templates]", with: "template: [\(root)/examples/templates]")
        let path = Spawn.tempDirectory() + "/campaign.yaml"
        try? own.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }()

    static let rosa =
        #"{"kind":"person","id":15723482,"login":"rosa-haddad","signals":{"window_days":90,"window_start":"2026-08-22T00:00:00Z","commits_in_window":19,"commits_90d":19,"last_commit_at":"2026-11-08T17:27:43Z","maintainer_of":["prismcircuit-oss/sharp-lens"],"recent_commit_titles":["Update CI workflow"],"repos":[{"repo":"prismcircuit-oss/sharp-lens","commits_in_window":19,"last_commit_at":"2026-11-08T17:27:43Z","language":"C","commit_titles":["Update CI workflow"]}],"primary_language":"C","topics":["networking"],"repo":"prismcircuit-oss/sharp-lens","repo_language":"C","repo_commits_in_window":19,"repo_last_commit_at":"2026-11-08T17:27:43Z","repo_commit_title":"Update CI workflow"},"name":"Rosa Haddad","company":"@pinetidal","bio":null,"followers":10,"best_email":"rosa.haddad@icloud.com","score":0.61,"crm":{"owner":"ana","tags":["a",1]}}"#

    static func lead(_ id: Int, name: String = "Ada Lovelace", extra: String = "") -> String {
        #"{"kind":"person","id":\#(id),"login":"user\#(id)","name":"\#(name)","signals":{"commits_in_window":\#(id % 50),"primary_language":"Go","topics":["cli"]}\#(extra)}"#
    }

    private func run(_ args: [String], _ input: String, env: [String: String] = [:], example: Bool = true) throws -> SpawnResult {
        let base = example ? ["--config", Self.campaign, "--template", Self.root + "/examples/templates"] : []
        return try Spawn.run("render-copy", base + args, stdin: Data(input.utf8), environment: env, currentDirectory: Self.root)
    }

    private func objects(_ r: SpawnResult) throws -> [[String: Any]] {
        try r.lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    private func deadLetters(_ path: String) throws -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    private func template(_ dir: String, _ name: String, subject: String, body: String) throws -> String {
        let path = dir + "/" + name + ".yaml"
        let indented = body.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
        try "subject: \(subject)\nbody: |\n\(indented)\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testExampleCampaignRendersEveryLeadKeepingOtherFieldsByteForByte() throws {
        let input = ([Self.rosa] + (1...40).map { Self.lead($0) }).joined(separator: "\n") + "\n"
        let r = try run([], input)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.lines.count, 41)
        for (a, b) in zip(input.split(separator: "\n"), r.lines) {
            XCTAssertTrue(b.hasPrefix(String(a.dropLast()) + #","copy":{"subject":""#), b)
        }
        let out = try objects(r)
        var variants = Set<String>()
        for o in out {
            let copy = try XCTUnwrap(o["copy"] as? [String: Any])
            XCTAssertEqual(Set(copy.keys), ["subject", "body", "variant", "template"])
            let subject = try XCTUnwrap(copy["subject"] as? String)
            let body = try XCTUnwrap(copy["body"] as? String)
            XCTAssertFalse(subject.contains("\n"))
            XCTAssertLessThanOrEqual(subject.count, 78)
            XCTAssertTrue(body.contains("https://tracelane.dev/u/optout"), body)
            XCTAssertFalse(body.contains("Hi ,") || body.contains("Hello ,"), body)
            let t = try XCTUnwrap(copy["template"] as? [String: Any])
            XCTAssertEqual((t["sha256"] as? String)?.count, 64)
            variants.insert(copy["variant"] as! String)
        }
        XCTAssertEqual(variants, ["A", "B"], "both variants used")
        let rosa = try XCTUnwrap(out.first?["copy"] as? [String: Any])
        XCTAssertTrue((rosa["body"] as! String).hasPrefix("H"), "greets")
        XCTAssertTrue((rosa["body"] as! String).contains("Rosa"))
        XCTAssertTrue(r.err.contains("41 in, 41 out, 0 filtered, 0 dead-lettered"), r.err)
        // Deterministic: the same input gives byte-identical output; variants follow the id, not the order.
        let again = try run([], input)
        XCTAssertEqual(again.out, r.out)
        let reversed = try run([], input.split(separator: "\n").reversed().joined(separator: "\n") + "\n")
        XCTAssertEqual(Set(reversed.lines), Set(r.lines))
    }

    func testMissingVariablesDeadLetterTheRecordNamingTheVariable() throws {
        let dir = Spawn.tempDirectory()
        let t = try template(dir, "t", subject: "Hi {{ name|first_name|default:login }}", body: "About {{ company }}.")
        let dl = dir + "/dl.ndjson"
        let input =
            [
                Self.lead(1, extra: #","company":"Acme""#), Self.lead(2, extra: #","company":"  ""#), Self.lead(3),
                #"{"id":4,"login":"","name":null,"company":"X"}"#,
            ]
            .joined(separator: "\n") + "\n"
        let r = try run(["--template", t, "--dead-letter", dl], input, example: false)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try objects(r).map { $0["id"] as? Int }, [1])
        let letters = try deadLetters(dl)
        XCTAssertEqual(letters.map { $0["line"] as? Int }, [2, 3, 4])
        for l in letters {
            let e = try XCTUnwrap(l["error"] as? [String: Any])
            XCTAssertEqual(e["code"] as? String, "missing_variable")
            XCTAssertNil((l["input"] as? [String: Any])?["copy"], "never half-rendered")
        }
        XCTAssertTrue(((letters[0]["error"] as! [String: Any])["message"] as! String).contains("'company'"))
        XCTAssertTrue(((letters[2]["error"] as! [String: Any])["message"] as! String).contains("'name'"))
        XCTAssertTrue(r.err.contains("4 in, 1 out, 0 filtered, 3 dead-lettered"), r.err)
    }

    func testRecordTextIsNeverEvaluatedAsTemplateCode() throws {
        let evil =
            #"{"id":9,"login":"x","name":"{{ campaign.unsubscribe_url }}","bio":"{% for i in signals %}loop{% endfor %} {{ 7*7 }} <b>O'Brien & co</b>\u0007\u001b[2J","signals":{"a":1}}"#
        let dir = Spawn.tempDirectory()
        let t = try template(dir, "t", subject: "For {{ name }}", body: "Bio: {{ bio }}\n{{ campaign.unsubscribe_url }}")
        let r = try run(["--config", Self.campaign, "--template", t], evil + "\n", example: false)
        XCTAssertEqual(r.status, 0, r.err)
        let copy = try XCTUnwrap(try objects(r).first?["copy"] as? [String: Any])
        XCTAssertEqual(copy["subject"] as? String, "For {{ campaign.unsubscribe_url }}")
        XCTAssertEqual(
            copy["body"] as? String,
            "Bio: {% for i in signals %}loop{% endfor %} {{ 7*7 }} <b>O'Brien & co</b>[2J\nhttps://tracelane.dev/u/optout")
    }

    func testUnsubscribeIsRequiredForSendingReadyCopy() throws {
        let dir = Spawn.tempDirectory()
        let without = try template(dir, "nolink", subject: "Hi {{ login }}", body: "Hello {{ login }}")
        let guarded = try template(dir, "guarded", subject: "Hi", body: "{% if x %}{{ campaign.unsubscribe_url }}{% endif %}")
        // The example config says sending: true, so the rule is on without the flag.
        for t in [without, guarded] {
            let r = try run(["--config", Self.campaign, "--template", t], Self.lead(1) + "\n", example: false)
            XCTAssertEqual(r.status, 78, r.err)
            XCTAssertTrue(r.err.contains("unsubscribe"), r.err)
            XCTAssertTrue(r.out.isEmpty)
        }
        let plain = dir + "/plain.yaml"
        try "campaign:\n  unsubscribe_url: https://u.test/x\n".write(toFile: plain, atomically: true, encoding: .utf8)
        XCTAssertEqual(try run(["--config", plain, "--template", without], Self.lead(1) + "\n", example: false).status, 0)
        let flagged = try run(["--config", plain, "--template", without, "--require-unsubscribe"], Self.lead(1) + "\n", example: false)
        XCTAssertEqual(flagged.status, 78, flagged.err)
        XCTAssertTrue(flagged.err.contains("{{ campaign.unsubscribe_url }}"), flagged.err)
        let noURL = try run(
            ["--template", Self.root + "/examples/templates", "--require-unsubscribe"], Self.lead(1) + "\n", example: false)
        XCTAssertEqual(noURL.status, 78, noURL.err)
    }

    func testConfigurationErrorsAndPrintConfig() throws {
        XCTAssertEqual(try run([], Self.lead(1) + "\n", example: false).status, 78, "no template")
        let dir = Spawn.tempDirectory()
        let bad = try template(dir, "bad", subject: "{% if x %}", body: "b")
        let r = try run(["--template", bad], "", example: false)
        XCTAssertEqual(r.status, 78)
        XCTAssertTrue(r.err.contains("bad.yaml"), r.err)
        XCTAssertEqual(try run(["--template", dir + "/missing.yaml"], "", example: false).status, 78)
        XCTAssertEqual(try run(["--subject-max-chars", "3"], "").status, 64)
        let p = try run(["--print-config", "--subject-max-chars", "40"], "")
        XCTAssertEqual(p.status, 0, p.err)
        XCTAssertTrue(p.out.contains("subject-max-chars") && p.out.contains("40  (flag)"), p.out)
        XCTAssertTrue(p.out.contains("body-max-chars") && p.out.contains("2500  (config)"), p.out)
    }

    func testSubjectLimitBodyLimitMalformedLineEmptyInputAndMissingIds() throws {
        let dir = Spawn.tempDirectory()
        let dl = dir + "/dl.ndjson"
        let r = try run(
            ["--subject-max-chars", "20", "--body-max-chars", "300", "--dead-letter", dl], Self.rosa + "\n{oops\n" + Self.lead(2) + "\n")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.lines.count, 0, "both bodies are over 300 characters")
        let letters = try deadLetters(dl)
        XCTAssertEqual(letters.map { ($0["error"] as? [String: Any])?["code"] as? String }, ["body_too_long", "bad_json", "body_too_long"])
        let cut = try run(["--subject-max-chars", "20"], Self.rosa + "\n")
        let subject = try XCTUnwrap((try objects(cut).first?["copy"] as? [String: Any])?["subject"] as? String)
        XCTAssertLessThanOrEqual(subject.count, 20)
        XCTAssertTrue(subject.hasSuffix("…"), subject)
        let empty = try run([], "")
        XCTAssertEqual(empty.status, 0)
        XCTAssertEqual(empty.out, "")
        let noIDs = try run(["--dead-letter", "/dev/null"], #"{"login":"a","name":"A"}"# + "\n")
        XCTAssertEqual(noIDs.status, 65, "two variants need an id; no record had one")
    }

    func testDownstreamClosingEarlyIsSuccess() throws {
        let cfg = Self.campaign
        let r = try Spawn.shell(
            "set -o pipefail; cd '\(Self.root)'; for i in $(seq 1 30000); do echo '{\"id\":'$i',\"login\":\"u'$i'\"}'; done "
                + "| render-copy --config \(cfg) -q | head -1; echo \"status=${PIPESTATUS[1]}\"")
        XCTAssertTrue(r.out.contains("status=0"), r.out + r.err)
    }

    // MARK: --llm against the sandbox

    private func llm(_ model: String, _ input: String, extra: [String] = [], env: [String: String] = [:]) throws -> (
        SpawnResult, [[String: Any]]
    ) {
        let s = try Self.sandbox()
        let dl = Spawn.tempDirectory() + "/dl.ndjson"
        let r = try run(
            ["--llm", "--llm-model", model, "--dead-letter", dl] + extra, input, env: s.environment.merging(env) { $1 })
        return (r, try deadLetters(dl))
    }

    func testLLMWritesWhyNowStoresPromptAndOutputAndInsertsItLiterally() throws {
        let s = try Self.sandbox()
        let before = try s.requests("openai POST /v1/chat/completions")
        let injected = Self.rosa.replacingOccurrences(of: "Update CI workflow", with: "{{ campaign.unsubscribe_url }} {% if x %}")
        let input = [Self.rosa, injected, Self.lead(3)].joined(separator: "\n") + "\n"
        let (r, letters) = try llm("cmo-writer", input)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(letters.count, 0)
        XCTAssertEqual(try s.requests("openai POST /v1/chat/completions") - before, 3)
        let out = try objects(r)
        XCTAssertEqual(out.count, 3)
        for o in out {
            let copy = try XCTUnwrap(o["copy"] as? [String: Any])
            let llm = try XCTUnwrap(copy["llm"] as? [String: Any])
            XCTAssertEqual(llm["model"] as? String, "cmo-writer")
            let output = try XCTUnwrap(llm["output"] as? String)
            XCTAssertFalse(output.isEmpty)
            XCTAssertLessThanOrEqual(output.count, 200)
            XCTAssertTrue((copy["body"] as! String).contains(output), "why_now is in the body")
            let prompt = try XCTUnwrap(llm["prompt"] as? [[String: Any]])
            XCTAssertEqual(prompt.map { $0["role"] as? String }, ["system", "user"])
            XCTAssertTrue((prompt[1]["content"] as! String).contains(o["login"] as! String))
        }
        let rosaOut = try XCTUnwrap((out[0]["copy"] as? [String: Any])?["llm"] as? [String: Any])["output"] as! String
        XCTAssertTrue(rosaOut.contains("19 commits to prismcircuit-oss/sharp-lens in the last 90 days"), rosaOut)
        XCTAssertFalse(rosaOut.contains("Rosa"), "the line follows the template's greeting, so it does not repeat the name")
        let injectedBody = (out[1]["copy"] as! [String: Any])["body"] as! String
        XCTAssertTrue(injectedBody.contains("{{ campaign.unsubscribe_url }} {% if x %}"), injectedBody)
        XCTAssertTrue(r.err.contains("llm_requests=3"), r.err)
    }

    func testModelErrorsDeadLetterWithTheReasonAndNeverFallBack() throws {
        let input = [Self.rosa, Self.lead(5)].joined(separator: "\n") + "\n"
        let s = try Self.sandbox()
        for (model, code, requestsPerRecord) in [
            ("cmo-writer-refusal", "llm_refusal", 1), ("cmo-writer-empty", "llm_empty", 2), ("cmo-writer-rambling", "llm_too_long", 2),
            ("cmo-writer-malformed", "llm_malformed", 1),
        ] {
            let before = try s.requests("openai POST /v1/chat/completions")
            let (r, letters) = try llm(model, input)
            XCTAssertEqual(r.status, 0, "\(model): \(r.err)")
            XCTAssertEqual(r.out, "", "\(model): no canned fallback")
            XCTAssertEqual(letters.map { ($0["error"] as? [String: Any])?["code"] as? String }, [code, code], model)
            XCTAssertEqual(try s.requests("openai POST /v1/chat/completions") - before, 2 * requestsPerRecord, model)
        }
        // An unknown model, no quota, a model that is down: the stage fails (RenderCopyLLMFailureTests).
    }

    func testAFlakyModelIsAskedOnceMore() throws {
        let s = try Self.sandbox()
        let before = try s.requests("openai POST /v1/chat/completions")
        let (r, letters) = try llm("cmo-writer-flaky", Self.lead(11) + "\n" + Self.lead(12) + "\n")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(letters.count, 0)
        XCTAssertEqual(r.lines.count, 2)
        XCTAssertEqual(try s.requests("openai POST /v1/chat/completions") - before, 4)
        XCTAssertTrue(r.err.contains("llm_retried=2"), r.err)
    }

    func testA429IsWaitedOutAndRetried() throws {
        let s = try Self.sandbox()
        let before = try s.requests("openai POST /v1/chat/completions")
        let (r, letters) = try llm("cmo-planner-429", Self.lead(21) + "\n")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(letters.count, 0)
        XCTAssertEqual(r.lines.count, 1)
        XCTAssertEqual(try s.requests("openai POST /v1/chat/completions") - before, 3, "two 429s, then the answer")
        XCTAssertEqual(try s.violations(), 0, "no request went over the sandbox's rate limits")
    }

    func testServerErrorsUntilGiveUpFailTheStage() throws {
        let failing = try SandboxLauncher(["--seed", "7", "--repos", "5", "--users", "5", "--fail-rate", "openai=1"])
        defer { failing.stop() }
        let dl = Spawn.tempDirectory() + "/dl.ndjson"
        let r = try run(
            ["--llm", "--llm-model", "cmo-writer", "--retries", "1", "--dead-letter", dl], Self.lead(1) + "\n" + Self.lead(2) + "\n",
            env: failing.environment)
        XCTAssertEqual(r.status, 69, "a model that is down fails the stage: \(r.err)")
        XCTAssertEqual(r.out, "", "no fallback text")
        XCTAssertEqual(try deadLetters(dl).count, 0, "not llm_unavailable for every record")
        let injected = (try failing.stats()["faults_injected"] as? [String: Any])?["openai"] as? [String: Any]
        XCTAssertEqual(injected?["5xx"] as? Int, 2, "the first request and its retry; nothing more is sent")
    }

    func testRejectedOrMissingKey() throws {
        let (bad, _) = try llm("cmo-writer", Self.lead(1) + "\n", env: ["OPENAI_API_KEY": "sk-wrong"])
        XCTAssertEqual(bad.status, 77, bad.err)
        XCTAssertEqual(bad.out, "")
        let missing = try run(["--llm"], Self.lead(1) + "\n")
        XCTAssertEqual(missing.status, 78, missing.err)
        XCTAssertTrue(missing.err.contains("OPENAI_API_KEY"), missing.err)
    }
}
