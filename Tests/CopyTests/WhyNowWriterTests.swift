import CMOCopy
import CMOBasics
import CMOHTTP
import XCTest

/// The model's answer is untrusted: judged, cleaned, bounded; the payload sent is bounded too.
final class WhyNowWriterTests: XCTestCase {
    func writer(_ max: Int = 60) throws -> WhyNowWriter {
        var config = HTTPClientConfig()
        config.cachePath = nil
        return WhyNowWriter(
            endpoint: OpenAIEndpoint(baseURL: "http://127.0.0.1:9/v1/", apiKey: "k"), model: "m", maxCharacters: max,
            http: try HTTPClient(config))
    }

    func reply(_ message: String, finish: String = "stop", status: Int = 200) -> HTTPResponse {
        let body =
            status == 200
            ? #"{"choices":[{"index":0,"message":\#(message),"finish_reason":"\#(finish)"}]}"#
            : message
        return HTTPResponse(status: status, headers: [], body: Array(body.utf8))
    }

    func testAGoodAnswerIsFoldedToOneCleanLine() throws {
        let w = try writer()
        let r = w.judge(reply(#"{"role":"assistant","content":"  \"Your 19 commits\nto o/r\u0007 {{ x }}.\"  ","refusal":null}"#))
        XCTAssertEqual(try r.get(), "Your 19 commits to o/r {{ x }}.")
        XCTAssertEqual(w.endpoint.baseURL, "http://127.0.0.1:9/v1")
    }

    func testRefusalEmptyTooLongMalformedAndHTTPErrorsAreFailures() throws {
        let w = try writer(20)
        func code(_ r: Result<String, CopyFailure>) -> String? { if case .failure(let f) = r { f.code } else { nil } }
        XCTAssertEqual(code(w.judge(reply(#"{"role":"assistant","content":null,"refusal":"I can't help with that."}"#))), "llm_refusal")
        XCTAssertEqual(code(w.judge(reply(#"{"role":"assistant","content":"x"}"#, finish: "content_filter"))), "llm_refusal")
        XCTAssertEqual(code(w.judge(reply(#"{"role":"assistant","content":" \n\t "}"#))), "llm_empty")
        XCTAssertEqual(code(w.judge(reply(#"{"role":"assistant","content":null}"#))), "llm_empty")
        XCTAssertEqual(code(w.judge(reply(#"{"role":"assistant","content":"short"}"#, finish: "length"))), "llm_too_long")
        XCTAssertEqual(code(w.judge(reply(#"{"role":"assistant","content":"twenty-one characters"}"#))), "llm_too_long")
        XCTAssertEqual(code(w.judge(reply(#"{"role":"assistant","content":["a"]}"#))), "llm_malformed")
        XCTAssertEqual(code(w.judge(HTTPResponse(status: 200, headers: [], body: Array("{not json".utf8)))), "llm_malformed")
        XCTAssertEqual(code(w.judge(HTTPResponse(status: 200, headers: [], body: Array(#"{"choices":[]}"#.utf8)))), "llm_malformed")
        let e = w.judge(
            reply(#"{"error":{"message":"The model `m` does not exist","type":"x","param":null,"code":"model_not_found"}}"#, status: 404))
        XCTAssertEqual(code(e), "llm_http_error")
        if case .failure(let f) = e { XCTAssertTrue(f.message.contains("404") && f.message.contains("does not exist"), f.message) }
    }

    func testThePayloadIsBounded() throws {
        let huge = String(repeating: "very long bio ", count: 10_000)
        let titles = (0..<50).map { "\"title \($0) " + String(repeating: "x", count: 500) + "\"" }.joined(separator: ",")
        let rec = try Record(
            json:
                #"{"id":1,"login":"rosa","name":"Rosa\nHaddad","bio":"\#(huge)","emails":[{"address":"secret@x.io"}],"signals":{"repo":"o/r","window_days":90,"repo_commits_in_window":19,"repos":[{"repo":"o/r","commit_titles":[\#(titles)]}]}}"#
        )
        let w = try writer()
        let text = w.messages(for: rec).map(\.compactJSON).joined()
        XCTAssertLessThan(text.utf8.count, 3000)
        let payload = WhyNowWriter.payload(rec)
        XCTAssertEqual(payload["name"]?.stringValue, "Rosa Haddad")
        XCTAssertLessThanOrEqual(payload["bio"]?.stringValue?.count ?? 0, 280)
        XCTAssertEqual(payload["signals"]?["repo_commit_titles"]?.arrayValue?.count, 3)
        XCTAssertLessThanOrEqual(payload["signals"]?["repo_commit_titles"]?.arrayValue?.first?.stringValue?.count ?? 0, 120)
        XCTAssertNil(payload["emails"], "addresses are not sent to the model")
    }

    /// The model sees one repository's facts with the window they cover: never a total over several
    /// repositories beside the one it names, never a count without its window, never another repo's stars.
    func testThePayloadHoldsTheNamedRepositorysOwnFactsAndTheWindow() throws {
        let rec = try Record(
            json: #"""
                {"id":1,"login":"ssilva4712","signals":{"window_days":60,"window_start":"2026-09-21T00:00:00Z","commits_in_window":165,
                "commits_90d":170,"last_commit_at":"2026-11-19T00:00:00Z","recent_commit_titles":["Add a thing elsewhere"],
                "repos":[{"repo":"ssilva4712/other","commits_in_window":150,"stars":9000,"commit_titles":["Add a thing elsewhere"]},
                {"repo":"ssilva4712/swift-flow","commits_in_window":15,"stars":12,"commit_titles":["Add async API","Speed up parser"]}],
                "repo":"ssilva4712/swift-flow","repo_language":"Swift","repo_stars":12,"repo_commits_in_window":15,
                "repo_last_commit_at":"2026-11-01T00:00:00Z","repo_commit_title":"Add async API"}}
                """#.replacingOccurrences(of: "\n", with: ""))
        let s = try XCTUnwrap(WhyNowWriter.payload(rec)["signals"])
        XCTAssertEqual(s["repo"], "ssilva4712/swift-flow")
        XCTAssertEqual(s["repo_commits_in_window"], 15)
        XCTAssertEqual(s["repo_stars"], 12)
        XCTAssertEqual(s["window_days"], 60)
        XCTAssertEqual(s["repo_commit_titles"], ["Add async API", "Speed up parser"])
        for key in ["commits_in_window", "commits_90d", "recent_commit_titles", "repos", "last_commit_at"] {
            XCTAssertNil(s[key], "\(key): not about the repository named")
        }
        XCTAssertTrue(try writer().instructions.contains("in the last N days"))
        // Without the window, no count at all.
        let old = try Record(json: #"{"id":2,"signals":{"repo":"o/r","commits_90d":4,"repo_commits_in_window":4}}"#)
        XCTAssertNil(WhyNowWriter.payload(old)["signals"]?["repo_commits_in_window"])
    }
}
