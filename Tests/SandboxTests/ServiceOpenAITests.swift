import Foundation
import XCTest

@testable import CMOSandbox

final class ServiceOpenAITests: XCTestCase {
    let auth = ["authorization": "Bearer sk-sandbox"]
    let goal = "Find 2k Python maintainers active in the last 90 days, queue Instantly seq=123, add to Attio list=abc, export CSV"
    static let stageNames = [
        "gh-search", "gh_people", "gh-enrich", "mx-check", "score-icp", "render-copy", "send-instantly", "sync-attio", "sync-linear",
        "export-csv", "done",
    ]

    func make(_ configure: (inout OpenAIOptions) -> Void = { _ in }) -> OpenAIService {
        var o = OpenAIOptions()
        o.clock = TestClock().clock
        configure(&o)
        return OpenAIService(stats: SandboxStats(), seed: 7, token: "sk-sandbox", options: o)
    }

    func tools(_ names: [String]) -> [[String: Any]] {
        names.map {
            [
                "type": "function",
                "function": ["name": $0, "description": "stage", "parameters": ["type": "object", "properties": [String: Any]()]],
            ]
        }
    }

    func chat(
        _ s: OpenAIService, model: String = "cmo-planner", _ messages: [[String: Any]], tools: [[String: Any]], extra: [String: Any] = [:]
    ) -> SandboxResponse {
        var body: [String: Any] = ["model": model, "messages": messages]
        if !tools.isEmpty { body["tools"] = tools }
        for (k, v) in extra { body[k] = v }
        return s.handle(sandboxRequest("POST", "/v1/chat/completions", json: body, headers: auth))!
    }

    func message(_ r: SandboxResponse) -> [String: Any] {
        ((jsonObject(r)["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any]) ?? [:]
    }

    /// Runs a conversation: each tool call is answered by `result`; returns (name, arguments text) of every call.
    func drive(
        _ s: OpenAIService, model: String = "cmo-planner", names: [String] = stageNames, turns: Int = 40,
        result: (String, String) -> String
    ) -> [(String, String)] {
        var messages: [[String: Any]] = [["role": "system", "content": "You plan campaigns."], ["role": "user", "content": goal]]
        var calls: [(String, String)] = []
        for _ in 0..<turns {
            let r = chat(s, model: model, messages, tools: tools(names))
            guard r.status == 200 else { break }
            let m = message(r)
            messages.append(m)
            guard let tc = (m["tool_calls"] as? [[String: Any]])?.first, let f = tc["function"] as? [String: Any] else { break }
            let name = f["name"] as! String
            let args = f["arguments"] as! String
            calls.append((name, args))
            if name == "done" { break }
            messages.append(["role": "tool", "tool_call_id": tc["id"] as! String, "content": result(name, args)])
        }
        return calls
    }

    func testAuthModelsAndUnknownModel() {
        let s = make()
        let missing = s.handle(sandboxRequest("GET", "/v1/models"))!
        XCTAssertEqual(missing.status, 401)
        let err = jsonObject(missing)["error"] as? [String: Any] ?? [:]
        XCTAssertEqual(Set(err.keys), ["message", "type", "param", "code"])
        let wrong = s.handle(sandboxRequest("GET", "/v1/models", headers: ["authorization": "Bearer sk-wrong"]))!
        XCTAssertEqual((jsonObject(wrong)["error"] as? [String: Any])?["code"] as? String, "invalid_api_key")
        let models = jsonObject(s.handle(sandboxRequest("GET", "/v1/models", headers: auth)))
        XCTAssertTrue(((models["data"] as? [[String: Any]]) ?? []).contains { $0["id"] as? String == "cmo-planner" })
        let unknown = chat(s, model: "gpt-nope", [["role": "user", "content": "hi"]], tools: [])
        XCTAssertEqual(unknown.status, 404)
        XCTAssertEqual((jsonObject(unknown)["error"] as? [String: Any])?["code"] as? String, "model_not_found")
    }

    func testGoalParsing() {
        let g = SandboxPlannerGoal(goal, defaults: OpenAIOptions())
        XCTAssertEqual(g.language, "python")
        XCTAssertEqual(g.target, 2000)
        XCTAssertEqual(g.days, 90)
        XCTAssertEqual(g.campaignID, "123")
        XCTAssertEqual(g.attioList, "abc")
        XCTAssertTrue(g.wantsAttio && g.wantsCSV)
        XCTAssertFalse(g.wantsLinear)
        let h = SandboxPlannerGoal(
            "Reach 300 Rust developers pushed in the past 2 weeks with 100+ stars, topics: cli, wasm; report to Linear team=ENG; dry run",
            defaults: OpenAIOptions())
        XCTAssertEqual(h.language, "rust")
        XCTAssertEqual(h.target, 300)
        XCTAssertEqual(h.days, 14)
        XCTAssertEqual(h.minStars, 100)
        XCTAssertEqual(h.topics, ["cli", "wasm"])
        XCTAssertEqual(h.linearTeam, "ENG")
        XCTAssertTrue(h.wantsLinear && h.dryRun)
        XCTAssertNil(h.campaignID)
    }

    func testResponseShape() throws {
        let s = make()
        let r = chat(s, [["role": "user", "content": goal]], tools: tools(Self.stageNames))
        XCTAssertEqual(r.status, 200)
        let o = jsonObject(r)
        XCTAssertTrue((o["id"] as? String ?? "").hasPrefix("chatcmpl-"))
        XCTAssertEqual(o["object"] as? String, "chat.completion")
        XCTAssertEqual(o["model"] as? String, "cmo-planner")
        XCTAssertEqual(o["created"] as? Int, 1_795_000_001)
        let choice = try XCTUnwrap((o["choices"] as? [[String: Any]])?.first)
        XCTAssertEqual(choice["index"] as? Int, 0)
        XCTAssertEqual(choice["finish_reason"] as? String, "tool_calls")
        let m = try XCTUnwrap(choice["message"] as? [String: Any])
        XCTAssertEqual(m["role"] as? String, "assistant")
        XCTAssertTrue(m["content"] is NSNull)
        let call = try XCTUnwrap((m["tool_calls"] as? [[String: Any]])?.first)
        XCTAssertEqual(call["type"] as? String, "function")
        XCTAssertTrue((call["id"] as? String ?? "").hasPrefix("call_"))
        let f = try XCTUnwrap(call["function"] as? [String: Any])
        XCTAssertEqual(f["name"] as? String, "gh-search")
        let args = try XCTUnwrap(JSONSerialization.jsonObject(with: Data((f["arguments"] as? String ?? "").utf8)) as? [String: Any])
        XCTAssertEqual(args["language"] as? String, "python")
        let usage = try XCTUnwrap(o["usage"] as? [String: Any])
        XCTAssertEqual((usage["prompt_tokens"] as! Int) + (usage["completion_tokens"] as! Int), usage["total_tokens"] as? Int)
        XCTAssertNotNil(r.header("x-ratelimit-remaining-requests"))
        // Same seed, same conversation: same answer.
        XCTAssertEqual(
            jsonObject(chat(make(), [["role": "user", "content": goal]], tools: tools(Self.stageNames)))["id"] as? String,
            o["id"] as? String)
    }

    func testPlannerSequenceWithWidening() {
        var scored = 0
        let calls = drive(make()) { name, _ in
            switch name {
            case "score-icp":
                scored += 1
                return scored == 1 ? #"{"records_out": 500, "dead_letters": 0}"# : #"{"records_out": 2100}"#
            case "gh-search": return #"{"records_out": 80}"#
            default: return #"{"records_out": 2000}"#
            }
        }
        XCTAssertEqual(
            calls.map(\.0),
            [
                "gh-search", "gh_people", "gh-enrich", "mx-check", "score-icp",
                "gh-search", "gh_people", "gh-enrich", "mx-check", "score-icp",
                "render-copy", "send-instantly", "sync-attio", "export-csv", "done",
            ])
        let first = try? JSONSerialization.jsonObject(with: Data(calls[0].1.utf8)) as? [String: Any]
        let widened = try? JSONSerialization.jsonObject(with: Data(calls[5].1.utf8)) as? [String: Any]
        // No star floor the goal does not state; a widening halves one it does (below).
        XCTAssertNil(first?["min_stars"])
        XCTAssertNil(widened?["min_stars"])
        XCTAssertEqual(widened?["widen_step"] as? Int, 1)
        XCTAssertTrue(calls[11].1.contains(#""campaign_id":"123""#))
        XCTAssertTrue(calls[12].1.contains(#""list_id":"abc""#))
    }

    func testWideningStopsAtTheCapAndOnlyOfferedToolsAreCalled() {
        let calls = drive(make(), names: ["gh-search", "gh-people", "score-icp", "done"]) { _, _ in #"{"count": 3}"# }
        XCTAssertEqual(calls.filter { $0.0 == "gh-search" }.count, 4)  // first search + 3 widenings
        XCTAssertEqual(calls.last?.0, "done")
        XCTAssertTrue(Set(calls.map(\.0)).isSubset(of: ["gh-search", "gh-people", "score-icp", "done"]))
        let last = try? JSONSerialization.jsonObject(with: Data(calls[calls.count - 4].1.utf8)) as? [String: Any]
        XCTAssertEqual(last?["pushed_within_days"] as? Int, 180)  // widening step 3: older activity
    }

    func testFailedStageIsRetriedOnceThenDone() {
        let calls = drive(make()) { name, _ in name == "gh-enrich" ? #"{"error": {"code": "http_5xx"}}"# : #"{"count": 5000}"# }
        XCTAssertEqual(calls.map(\.0), ["gh-search", "gh_people", "gh-enrich", "gh-enrich", "done"])
        XCTAssertTrue(calls.last!.1.contains("failed"))
    }

    func testMalformedArgumentsRecoverAfterAnError() {
        let s = make()
        var seen: [Bool] = []
        _ = drive(s, model: "cmo-planner-malformed", turns: 4) { _, args in
            let ok = (try? JSONSerialization.jsonObject(with: Data(args.utf8))) != nil
            seen.append(ok)
            return ok ? #"{"count": 5000}"# : "error: arguments are not valid JSON"
        }
        XCTAssertEqual(seen, [false, true, false, true])
    }

    func testUnknownToolChattyLoopModels() {
        let unknown = drive(make(), model: "cmo-planner-unknown-tool", turns: 2) { _, _ in "error: unknown tool" }
        XCTAssertEqual(unknown.map(\.0), ["linkedin-scrape", "gh-search"])
        let s = make()
        let chatty = chat(s, model: "cmo-planner-chatty", [["role": "user", "content": goal]], tools: tools(Self.stageNames))
        XCTAssertNil(message(chatty)["tool_calls"])
        XCTAssertFalse((message(chatty)["content"] as? String ?? "").isEmpty)
        XCTAssertEqual((jsonObject(chatty)["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String, "stop")
        let nudged = chat(
            s, model: "cmo-planner-chatty",
            [
                ["role": "user", "content": goal], message(chatty), ["role": "user", "content": "Please call a tool."],
            ], tools: tools(Self.stageNames))
        XCTAssertNotNil(message(nudged)["tool_calls"])
        let loop = drive(make(), model: "cmo-planner-loop", turns: 5) { _, _ in #"{"count": 9999}"# }
        XCTAssertEqual(Set(loop.map(\.0)), ["gh-search"])
        XCTAssertEqual(Set(loop.map(\.1)).count, 1)
    }

    func testThrottledAndNoQuotaModels() {
        let s = make()
        let m: [[String: Any]] = [["role": "user", "content": goal]]
        for _ in 0..<2 {
            let r = chat(s, model: "cmo-planner-429", m, tools: tools(Self.stageNames))
            XCTAssertEqual(r.status, 429)
            XCTAssertEqual(r.header("retry-after"), "1")
            XCTAssertEqual((jsonObject(r)["error"] as? [String: Any])?["code"] as? String, "rate_limit_exceeded")
        }
        XCTAssertEqual(chat(s, model: "cmo-planner-429", m, tools: tools(Self.stageNames)).status, 200)
        let quota = chat(s, model: "cmo-planner-quota", m, tools: [])
        XCTAssertEqual(quota.status, 429)
        XCTAssertNil(quota.header("retry-after"))
        XCTAssertEqual((jsonObject(quota)["error"] as? [String: Any])?["type"] as? String, "insufficient_quota")
    }

    func testRequestLimit() {
        let s = make { $0.requestsPerMinute = 1 }
        XCTAssertEqual(chat(s, [["role": "user", "content": "hi"]], tools: []).status, 200)
        let r = chat(s, [["role": "user", "content": "hi"]], tools: [])
        XCTAssertEqual(r.status, 429)
        XCTAssertNotNil(r.header("retry-after"))
    }

    func testPlainTextCompletionIsBounded() {
        let s = make()
        let lead =
            #"{"login":"octo","name":"Octo Cat","signals":{"repo":"octo/widgets","window_days":60,"repo_commits_in_window":42,"repo_commit_titles":["Add async API"]}}"#
        let r = chat(s, [["role": "user", "content": "Write a why-now line for: \(lead)"]], tools: [])
        let text = message(r)["content"] as? String ?? ""
        XCTAssertTrue(text.contains("42 commits to octo/widgets in the last 60 days"), text)
        XCTAssertTrue(text.contains("\"Add async API\""), text)
        XCTAssertLessThanOrEqual(text.count, 240)
        let short = chat(s, [["role": "user", "content": lead]], tools: [], extra: ["max_completion_tokens": 5])
        XCTAssertLessThanOrEqual((message(short)["content"] as? String ?? "").count, 20)
        XCTAssertEqual((jsonObject(short)["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String, "length")
    }

    func testUnansweredToolCallIsRejected() {
        let s = make()
        let first = message(chat(s, [["role": "user", "content": goal]], tools: tools(Self.stageNames)))
        let r = chat(s, [["role": "user", "content": goal], first, ["role": "user", "content": "go on"]], tools: tools(Self.stageNames))
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual((jsonObject(r)["error"] as? [String: Any])?["param"] as? String, "messages")
    }
}

extension ServiceOpenAITests {
    func testForcedToolChoice() {
        let s = make()
        let r = chat(
            s, [["role": "user", "content": goal]], tools: tools(Self.stageNames),
            extra: ["tool_choice": ["type": "function", "function": ["name": "export-csv"]]])
        let f = ((message(r)["tool_calls"] as? [[String: Any]])?.first?["function"] as? [String: Any]) ?? [:]
        XCTAssertEqual(f["name"] as? String, "export-csv")
        let bad = chat(
            s, [["role": "user", "content": goal]], tools: tools(["gh-search"]),
            extra: ["tool_choice": ["type": "function", "function": ["name": "export-csv"]]])
        XCTAssertEqual(bad.status, 400)
    }
}

extension ServiceOpenAITests {
    func testStopFinishReasonAndIDPrefixOptions() {
        let s = make {
            $0.toolCallFinishReason = "stop"
            $0.toolCallIDPrefix = "chatcmpl-tool-"
        }
        let r = chat(s, [["role": "user", "content": goal]], tools: tools(Self.stageNames))
        XCTAssertEqual((jsonObject(r)["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String, "stop")
        XCTAssertTrue(((message(r)["tool_calls"] as? [[String: Any]])?.first?["id"] as? String ?? "").hasPrefix("chatcmpl-tool-"))
    }
}
