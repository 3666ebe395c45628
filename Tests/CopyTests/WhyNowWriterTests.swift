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
                #"{"id":1,"login":"rosa","name":"Rosa\nHaddad","bio":"\#(huge)","emails":[{"address":"secret@x.io"}],"signals":{"commits_90d":19,"recent_commit_titles":[\#(titles)]}}"#
        )
        let w = try writer()
        let text = w.messages(for: rec).map(\.compactJSON).joined()
        XCTAssertLessThan(text.utf8.count, 3000)
        let payload = WhyNowWriter.payload(rec)
        XCTAssertEqual(payload["name"]?.stringValue, "Rosa Haddad")
        XCTAssertLessThanOrEqual(payload["bio"]?.stringValue?.count ?? 0, 280)
        XCTAssertEqual(payload["signals"]?["recent_commit_titles"]?.arrayValue?.count, 5)
        XCTAssertNil(payload["emails"], "addresses are not sent to the model")
    }
}
