import CMOBasics
import CMOHTTP
import Foundation

/// One OpenAI-compatible chat endpoint with tool calling (`OPENAI_BASE_URL`, `OPENAI_API_KEY`): the model
/// planner and the model goal parser both ask through it.
public final class ChatClient {
    public let model: String
    public let endpoint: ServiceEndpoint
    let http: HTTPClient
    public private(set) var requests = 0

    /// What the model answered: one call (further calls in the same answer are dropped), or text.
    public enum Answer {
        case call(id: String, name: String, arguments: String)
        case text(String)
    }

    /// `retries` bounds the HTTP retries of each ask (nil: the HTTP client's default).
    public init(model: String, endpoint: ServiceEndpoint, retries: Int? = nil) throws {
        self.model = model
        self.endpoint = endpoint
        var config = HTTPClientConfig(cachePath: nil)
        config.maxWait = 120
        if let retries { config.maxRetries = retries }
        http = try HTTPClient(config)
    }

    /// The client for a model at the endpoint of the config and environment.
    public static func make(model: String, config: String?, retries: Int? = nil) throws -> ChatClient {
        let settings = try Settings(stage: "cmo-plan", configPath: config)
        return try ChatClient(model: model, endpoint: try ServiceEndpoint.resolve(.openai, settings: settings), retries: retries)
    }

    /// Asks for the next call. Throws when the model cannot be asked at all (unreachable, no quota, key
    /// refused, an unknown model, an answer that is not a chat completion).
    public func ask(messages: [[String: Any]], tools: [[String: Any]], toolChoice: Any = "auto") throws -> Answer {
        let body: [String: Any] = [
            "model": model, "messages": messages, "tools": tools, "tool_choice": toolChoice, "parallel_tool_calls": false,
        ]
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        requests += 1
        let response = try http.perform(endpoint.request("POST", "/chat/completions", body: Array(data), retryable: true))
        let json = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        let request = "POST \(endpoint.baseURL)/chat/completions (model \(model))"
        guard response.status == 200 else {
            let said = ((json?["error"] as? [String: Any])?["message"] as? String).map { TextCleaning.truncate(TextCleaning.oneLine($0), to: 200) } ?? ""
            // The shared table (ServiceAnswer): an unknown model or URL (404) → 78, a request the endpoint refuses
            // (400/422) → 1, 5xx after retries → 69.
            throw ServiceAnswer.failure(
                service: "the model endpoint", request: request, status: response.status, said: said,
                notFound: "check the model \(model) (--planner-model or CMO_PLANNER_MODEL, --parser-model or CMO_PARSER_MODEL) and OPENAI_BASE_URL (it ends in /v1 for most servers)")
        }
        guard let choice = (json?["choices"] as? [[String: Any]])?.first, let message = choice["message"] as? [String: Any] else {
            throw ServiceAnswer.unreadable(service: "the model endpoint", request: request, status: response.status)
        }
        if let call = (message["tool_calls"] as? [[String: Any]])?.first, let f = call["function"] as? [String: Any] {
            let name = f["name"] as? String ?? ""
            let id = (call["id"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "call_\(requests)"
            let arguments = f["arguments"] as? String
                ?? (f["arguments"].flatMap { try? JSONSerialization.data(withJSONObject: $0) }.map { String(decoding: $0, as: UTF8.self) } ?? "{}")
            return .call(id: id, name: name, arguments: arguments)
        }
        let text = (message["content"] as? String) ?? (message["refusal"] as? String) ?? ""
        return .text(TextCleaning.truncate(TextCleaning.oneLine(text), to: 500))
    }

    /// One call of the tool `tools[0]` names, forced, its arguments read by `check`: prose is nudged once
    /// per answer, a refused call is shown the refusal as its tool result, and after `attempts` answers (or
    /// at once when the model cannot be asked) the value is nil and `why` says what went wrong.
    public func forcedCall<T>(system: String, user: String, tool: [String: Any], attempts: Int, _ check: (String) throws -> T) -> (value: T?, why: String) {
        let wanted = (tool["function"] as? [String: Any])?["name"] as? String ?? ""
        var messages: [[String: Any]] = [["role": "system", "content": system], ["role": "user", "content": user]]
        var why = ""
        for _ in 0..<attempts {
            let answer: Answer
            do {
                answer = try ask(messages: messages, tools: [tool], toolChoice: ["type": "function", "function": ["name": wanted]])
            } catch {
                return (nil, "the model \(model) could not be asked: \(error)")
            }
            switch answer {
            case .text(let text):
                why = "the model \(model) answered in prose instead of calling \(wanted)"
                messages.append(["role": "assistant", "content": text])
                messages.append(["role": "user", "content": "Answer with one \(wanted) call, no prose."])
            case .call(let id, let name, let arguments):
                let refusal: String
                do {
                    guard name == wanted else { throw StageFailure(.dataError, "there is no tool '\(TextCleaning.truncate(TextCleaning.oneLine(name), to: 60))'; call \(wanted)") }
                    return (try check(arguments), "")
                } catch { refusal = "\(error)" }
                why = "the model \(model)'s answer was refused: \(refusal)"
                let call: [String: Any] = ["id": id, "type": "function", "function": ["name": name, "arguments": arguments]]
                // An empty string, not null: OpenAI takes both, llama-cpp-python's server only a string.
                messages.append(["role": "assistant", "content": "", "tool_calls": [call]])
                messages.append(["role": "tool", "tool_call_id": id, "content": Self.json(["error": refusal])])
            }
        }
        return (nil, why)
    }

    /// Keys sorted, for a tool result.
    static func json(_ o: [String: Any]) -> String {
        (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// A function tool for `tools`.
    public static func function(_ name: String, _ description: String, parameters: [String: Any]) -> [String: Any] {
        ["type": "function", "function": ["name": name, "description": description, "parameters": parameters] as [String: Any]]
    }
}
