import CMOTestSupport
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// render-copy --llm when the model cannot do its job for any record: the stage fails with the
/// reason (69, 75, 78) instead of exiting 0 with every record dead-lettered; a bad answer for one
/// record stays that record's dead letter.
final class RenderCopyLLMFailureTests: XCTestCase {
    nonisolated(unsafe) static var shared: SandboxLauncher?

    static func sandbox() throws -> SandboxLauncher {
        if let s = shared { return s }
        let s = try SandboxLauncher(["--seed", "7", "--repos", "5", "--users", "5"])
        shared = s
        return s
    }

    override class func tearDown() {
        shared?.stop()
        shared = nil
    }

    static func leads(_ n: Int) -> String {
        (1...n).map { #"{"kind":"person","id":\#($0),"login":"user\#($0)","name":"Ada","signals":{"commits_90d":\#($0)}}"# + "\n" }.joined()
    }

    /// A template that prints the model's line, and a dead-letter file, in a fresh directory.
    private func files() throws -> (template: String, deadLetter: String) {
        let dir = Spawn.tempDirectory()
        let template = dir + "/t.yaml"
        try "subject: Hello {{ login }}\nbody: |\n  {{ snippets.why_now }}\n".write(toFile: template, atomically: true, encoding: .utf8)
        return (template, dir + "/dl.ndjson")
    }

    private func renderCopy(
        model: String, input: String, extra: [String] = [], env: [String: String]
    ) throws -> (result: SpawnResult, deadLetters: [String], seconds: Double) {
        let (template, dl) = try files()
        let started = Date()
        let r = try Spawn.run(
            "render-copy", ["--template", template, "--llm", "--llm-model", model, "--dead-letter", dl] + extra,
            stdin: Data(input.utf8), environment: env)
        let letters = ((try? String(contentsOfFile: dl, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        return (r, letters, Date().timeIntervalSince(started))
    }

    private func completions(_ s: SandboxLauncher) throws -> Int { try s.requests("openai POST /v1/chat/completions") }

    func testInsufficientQuotaIsOneRequestAndFailsAtOnce() throws {
        let s = try Self.sandbox()
        let before = try completions(s)
        let (r, letters, seconds) = try renderCopy(model: "cmo-planner-quota", input: Self.leads(20), env: s.environment)
        XCTAssertEqual(r.status, 69, r.err)
        XCTAssertTrue(r.err.contains("no quota (billing): insufficient_quota"), r.err)
        XCTAssertFalse(r.err.contains("retry"), "billing is not retried: \(r.err)")
        XCTAssertEqual(try completions(s) - before, 1, "exactly one request")
        XCTAssertEqual(r.out, "")
        XCTAssertEqual(letters, [], "the stage fails; records are not dead-lettered one by one")
        XCTAssertLessThan(seconds, 10, "at once, no back-off")
    }

    func testAModelTheEndpointDoesNotKnowIs78NamingTheModelAndTheSetting() throws {
        let s = try Self.sandbox()
        let before = try completions(s)
        let (r, letters, _) = try renderCopy(model: "gpt-nonexistent", input: Self.leads(20), env: s.environment)
        XCTAssertEqual(r.status, 78, r.err)
        XCTAssertTrue(r.err.contains("'gpt-nonexistent'") && r.err.contains("model_not_found"), r.err)
        XCTAssertTrue(r.err.contains("--llm-model") && r.err.contains("CMO_LLM_MODEL"), r.err)
        XCTAssertEqual(try completions(s) - before, 1)
        XCTAssertEqual(letters, [])
        XCTAssertEqual(r.out, "")
    }

    func testConnectionRefusedIs69() throws {
        let port = try Self.closedPort()
        let (r, letters, _) = try renderCopy(
            model: "cmo-writer", input: Self.leads(3), extra: ["--retries", "1"],
            env: ["OPENAI_BASE_URL": "http://127.0.0.1:\(port)/v1", "OPENAI_API_KEY": "sk-test"])
        XCTAssertEqual(r.status, 69, r.err)
        XCTAssertEqual(r.out, "")
        XCTAssertEqual(letters, [], "not llm_unavailable for every record")
    }

    func testAHostThatDoesNotResolveIs69() throws {
        let (r, letters, _) = try renderCopy(
            model: "cmo-writer", input: Self.leads(3), extra: ["--retries", "0", "--timeout", "5"],
            env: ["OPENAI_BASE_URL": "http://no-such-model-host.invalid/v1", "OPENAI_API_KEY": "sk-test"])
        XCTAssertEqual(r.status, 69, r.err)
        XCTAssertEqual(letters, [])
    }

    func testTimeoutsAfterRetriesAre69() throws {
        // A socket that listens but never accepts: the kernel completes the handshake, nobody answers.
        let (fd, port) = try Self.silentListener()
        defer { close(fd) }
        let (r, letters, _) = try renderCopy(
            model: "cmo-writer", input: Self.leads(3), extra: ["--retries", "1", "--timeout", "0.5"],
            env: ["OPENAI_BASE_URL": "http://127.0.0.1:\(port)/v1", "OPENAI_API_KEY": "sk-test"])
        XCTAssertEqual(r.status, 69, r.err)
        XCTAssertEqual(r.out, "")
        XCTAssertEqual(letters, [])
    }

    func testServerErrorsAfterRetriesAre69() throws {
        let failing = try SandboxLauncher(["--seed", "7", "--repos", "5", "--users", "5", "--fail-rate", "openai=1"])
        defer { failing.stop() }
        let (r, letters, _) = try renderCopy(
            model: "cmo-writer", input: Self.leads(5), extra: ["--retries", "1"], env: failing.environment)
        XCTAssertEqual(r.status, 69, r.err)
        XCTAssertEqual(r.out, "")
        XCTAssertEqual(letters, [])
        let injected = (try failing.stats()["faults_injected"] as? [String: Any])?["openai"] as? [String: Any]
        XCTAssertEqual(injected?["5xx"] as? Int, 2, "the first record's request and its one retry; the others are never sent")
    }

    func testAnswersThatFailOneRecordStayDeadLetters() throws {
        let s = try Self.sandbox()
        for (model, code) in [
            ("cmo-writer-refusal", "llm_refusal"), ("cmo-writer-malformed", "llm_malformed"), ("cmo-writer-empty", "llm_empty"),
        ] {
            let (r, letters, _) = try renderCopy(model: model, input: Self.leads(3), env: s.environment)
            XCTAssertEqual(r.status, 0, "\(model): \(r.err)")
            XCTAssertEqual(letters.count, 3, model)
            for line in letters {
                let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                XCTAssertEqual((object["error"] as? [String: Any])?["code"] as? String, code, model)
            }
        }
    }

    // MARK: - Sockets

    /// A loopback port nothing listens on (bound once, then closed).
    static func closedPort() throws -> Int {
        let (fd, port) = try silentListener()
        close(fd)
        return port
    }

    /// A listening TCP socket on 127.0.0.1 that never accepts, and its port.
    static func silentListener() throws -> (Int32, Int) { try loopbackListener(backlog: 16) }
}
