import Foundation

/// A chat request read for planning: the goal, the tools offered, and every earlier tool call with its result.
struct SandboxConversation {
    struct Call {
        var id: String
        /// The name as the model sent it.
        var name: String
        /// Lower case with `_` as `-`: `gh_search` → `gh-search`.
        var stage: String
        var arguments: [String: Any]
        var resultText: String?
        var result: Any?
    }

    struct Tool {
        var name: String
        var stage: String
        /// `parameters.properties` of the tool's JSON schema (empty when none was given).
        var properties: [String: [String: Any]]
    }

    var goalText: String
    var calls: [Call] = []
    var tools: [Tool] = []
    /// The last message is a user message right after an assistant turn that called no tool (a nudge).
    var endsWithNudge = false
    /// The last message is a tool result reporting an error.
    var endsWithError = false
    /// Text of the last user message.
    var lastUserText = ""

    static func stage(_ name: String) -> String { name.lowercased().replacingOccurrences(of: "_", with: "-") }

    /// Message text: a string, or the `text` of content parts.
    static func text(_ content: Any?) -> String {
        if let s = content as? String { return s }
        if let parts = content as? [[String: Any]] { return parts.compactMap { $0["text"] as? String }.joined(separator: "\n") }
        return ""
    }

    init(messages: [[String: Any]], tools rawTools: [[String: Any]]) {
        let users = messages.filter { ($0["role"] as? String) == "user" }.map { Self.text($0["content"]) }
        goalText = users.first ?? messages.map { Self.text($0["content"]) }.joined(separator: "\n")
        lastUserText = users.last ?? ""
        for t in rawTools {
            guard let f = t["function"] as? [String: Any], let name = f["name"] as? String else { continue }
            let props = ((f["parameters"] as? [String: Any])?["properties"] as? [String: Any]) ?? [:]
            tools.append(Tool(name: name, stage: Self.stage(name), properties: props.compactMapValues { $0 as? [String: Any] }))
        }
        var index: [String: Int] = [:]
        for m in messages {
            switch m["role"] as? String {
            case "assistant":
                for c in (m["tool_calls"] as? [[String: Any]]) ?? [] {
                    guard let id = c["id"] as? String, let f = c["function"] as? [String: Any], let name = f["name"] as? String else {
                        continue
                    }
                    let argsText = (f["arguments"] as? String) ?? "{}"
                    let args = (try? JSONSerialization.jsonObject(with: Data(argsText.utf8))) as? [String: Any] ?? [:]
                    index[id] = calls.count
                    calls.append(Call(id: id, name: name, stage: Self.stage(name), arguments: args))
                }
            case "tool":
                guard let id = m["tool_call_id"] as? String, let i = index[id] else { continue }
                let text = Self.text(m["content"])
                calls[i].resultText = text
                calls[i].result = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
            default: break
            }
        }
        if let last = messages.last, let role = last["role"] as? String {
            if role == "user", messages.count >= 2 {
                let before = messages[messages.count - 2]
                endsWithNudge = (before["role"] as? String) == "assistant" && ((before["tool_calls"] as? [Any]) ?? []).isEmpty
            }
            if role == "tool", let id = last["tool_call_id"] as? String, let i = index[id] { endsWithError = Self.failed(calls[i]) }
        }
    }

    func offers(_ stage: String) -> Tool? { tools.first { $0.stage == stage } }

    /// A tool result that reports a failure: an `error`, `ok: false`, a non-zero exit status, a failed status,
    /// or plain text that speaks of an error.
    static func failed(_ call: Call) -> Bool {
        if let o = call.result as? [String: Any] {
            if let e = o["error"], !(e is NSNull) { return true }
            if ServiceKit.bool(o["ok"]) == false || ServiceKit.bool(o["success"]) == false { return true }
            for k in ["exit_status", "exit_code", "status"] {
                if let n = ServiceKit.int(o[k]), n != 0 { return true }
                if let s = o[k] as? String, ["failed", "error"].contains(s.lowercased()) { return true }
            }
            return false
        }
        guard call.result == nil, let text = call.resultText?.lowercased() else { return false }
        return ["error", "invalid", "unknown tool", "not a valid", "failed"].contains { text.contains($0) }
    }

    /// How many records a tool result reports.
    static func count(_ result: Any?, text: String?) -> Int? {
        if let o = result as? [String: Any] {
            for k in [
                "count", "records_out", "out", "written", "passed", "qualified", "leads", "records", "rows", "total", "repos", "people",
            ] {
                if let n = ServiceKit.int(o[k]) { return n }
                if let a = o[k] as? [Any] { return a.count }
            }
            for k in ["summary", "result", "counts", "stats"] {
                if let n = count(o[k], text: nil) { return n }
            }
            return nil
        }
        if let n = ServiceKit.int(result) { return n }
        if let a = result as? [Any] { return a.count }
        if let t = text,
            let s = SandboxPlannerGoal.capture(t.lowercased(), #"(\d+)\s+(?:records|leads|repos|repositories|people|rows|persons)"#)
        {
            return Int(s)
        }
        return nil
    }
}
