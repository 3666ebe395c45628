import Foundation

/// The sandbox's OpenAI-compatible API (`/openai` + `/v1/...`): `POST /v1/chat/completions` with
/// tools answered by scripted models (see `SandboxModel`), `GET /v1/models`, Bearer auth, OpenAI's
/// error shape, request/token limits with `Retry-After` and the `x-ratelimit-*` headers.
public final class OpenAIService: SandboxService, SandboxObservable, @unchecked Sendable {
    public let name = "openai"
    public let pathPrefix = "/openai"

    let stats: SandboxStats
    let seed: UInt64
    let token: String
    let options: OpenAIOptions
    let lock = NSLock()
    var completions = 0
    var throttledSoFar = 0
    /// Prompts `cmo-writer-flaky` has already answered (empty) once.
    var flakySeen = Set<String>()
    var requestWindow: ServiceKit.RateWindow
    var tokenWindow: ServiceKit.RateWindow

    /// A server whose ids and timestamps follow from `seed`; `token` is the only valid key.
    public init(stats: SandboxStats, seed: UInt64, token: String, options: OpenAIOptions = .init()) {
        self.stats = stats
        self.seed = seed
        self.token = token
        self.options = options
        requestWindow = .init(limit: options.requestsPerMinute, window: 60)
        tokenWindow = .init(limit: options.tokensPerMinute, window: 60)
    }

    /// The model names served.
    public static var models: [String] { SandboxModel.allCases.map(\.rawValue) }

    public func handle(_ request: SandboxRequest) -> SandboxResponse? {
        let route: String
        switch (request.method, request.path) {
        case ("POST", "/v1/chat/completions"): route = "POST /v1/chat/completions"
        case ("GET", "/v1/models"): route = "GET /v1/models"
        default:
            stats.recordRequest(service: name, endpoint: "\(request.method) (unknown)")
            return Self.error(404, "Invalid URL (\(request.method) \(request.path))", type: "invalid_request_error")
        }
        stats.recordRequest(service: name, endpoint: route)
        guard let key = ServiceKit.bearer(request), !key.isEmpty else {
            return Self.error(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                type: "invalid_request_error")
        }
        guard key == token else {
            return Self.error(
                401, "Incorrect API key provided: \(key.prefix(3))***\(key.suffix(4)).", type: "invalid_request_error",
                code: "invalid_api_key")
        }
        return lock.withLock {
            if route == "GET /v1/models" {
                let created = Int(options.epoch.timeIntervalSince1970) - 86_400
                return .json(
                    200,
                    [
                        "object": "list",
                        "data": Self.models.map { ["id": $0, "object": "model", "created": created, "owned_by": "cmo-sandbox"] },
                    ])
            }
            return chat(request)
        }
    }

    public func reset() {
        lock.withLock {
            completions = 0
            throttledSoFar = 0
            flakySeen = []
            requestWindow.reset()
            tokenWindow.reset()
        }
    }

    public func statsExtras() -> [String: Any] {
        lock.withLock { ["completions": completions, "throttled": throttledSoFar] }
    }

    private func chat(_ r: SandboxRequest) -> SandboxResponse {
        guard let body = ServiceKit.json(r.body) as? [String: Any] else {
            return Self.error(400, "We could not parse the JSON body of your request.", type: "invalid_request_error")
        }
        guard let model = body["model"] as? String else {
            return Self.error(400, "you must provide a model parameter", type: "invalid_request_error", param: "model")
        }
        guard let messages = body["messages"] as? [[String: Any]], !messages.isEmpty else {
            return Self.error(
                400, "Invalid 'messages': empty array. Expected an array with minimum length 1.", type: "invalid_request_error",
                param: "messages")
        }
        if let problem = Self.validate(messages: messages) {
            return Self.error(400, problem, type: "invalid_request_error", param: "messages")
        }
        let tools = (body["tools"] as? [[String: Any]]) ?? []
        for (i, t) in tools.enumerated() {
            let n = (t["function"] as? [String: Any])?["name"] as? String ?? ""
            guard t["type"] as? String == "function", n.range(of: "^[a-zA-Z0-9_-]{1,64}$", options: .regularExpression) != nil else {
                return Self.error(
                    400,
                    "Invalid 'tools[\(i)].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                    type: "invalid_request_error", param: "tools[\(i)].function.name")
            }
        }
        if ServiceKit.bool(body["stream"]) == true {
            return Self.error(400, "The sandbox does not stream; send stream: false.", type: "invalid_request_error", param: "stream")
        }
        if let forced = ((body["tool_choice"] as? [String: Any])?["function"] as? [String: Any])?["name"] as? String,
            !tools.contains(where: { ($0["function"] as? [String: Any])?["name"] as? String == forced })
        {
            return Self.error(
                400, "Invalid value for 'tool_choice': tool '\(forced)' not found in 'tools'.", type: "invalid_request_error",
                param: "tool_choice")
        }
        guard let kind = SandboxModel(rawValue: model) else {
            return Self.error(
                404, "The model `\(model)` does not exist or you do not have access to it.", type: "invalid_request_error",
                code: "model_not_found")
        }
        let promptTokens = Self.tokens(ServiceKit.jsonString(messages)) + Self.tokens(ServiceKit.jsonString(tools))
        let now = options.clock()
        let req = requestWindow.take(now: now)
        let tok = req.allowed ? tokenWindow.take(promptTokens, now: now) : (allowed: false, remaining: 0, resetAt: req.resetAt)
        if !req.allowed || !tok.allowed {
            let which = req.allowed ? "tokens" : "requests"
            stats.recordViolation(service: name, bucket: which, detail: "chat completion over the \(which) per minute limit")
            return Self.error(
                429, "Rate limit reached for \(model) on \(which) per min. Please try again in \(options.retryAfterSeconds)s.",
                type: which, code: "rate_limit_exceeded", headers: [("retry-after", String(options.retryAfterSeconds))])
        }
        stats.recordQuota(service: name, bucket: "requests", cost: 1)
        if kind == .noQuota {
            return Self.error(
                429, "You exceeded your current quota, please check your plan and billing details.", type: "insufficient_quota",
                code: "insufficient_quota")
        }
        if kind == .throttled && throttledSoFar < options.throttledFailures {
            throttledSoFar += 1
            return Self.error(
                429, "Rate limit reached for \(model) on requests per min. Please try again in \(options.retryAfterSeconds)s.",
                type: "requests", code: "rate_limit_exceeded", headers: [("retry-after", String(options.retryAfterSeconds))])
        }
        return complete(body, model: model, kind: kind, messages: messages, tools: tools, promptTokens: promptTokens, now: now)
    }

    private func complete(
        _ body: [String: Any], model: String, kind: SandboxModel, messages: [[String: Any]], tools: [[String: Any]], promptTokens: Int,
        now: Date
    ) -> SandboxResponse {
        completions += 1
        let n = completions
        let conversation = SandboxConversation(messages: messages, tools: tools)
        let choice = body["tool_choice"]
        var message: [String: Any] = ["role": "assistant", "refusal": NSNull()]
        var finish = "stop"
        var completionText = ""
        if kind == .writerMalformed {
            return .json(
                200,
                [
                    "id": "chatcmpl-" + Self.token(seed: seed, "completion-\(n)", length: 29), "object": "chat.completion",
                    "choices": [Any](),
                ])
        }
        if tools.isEmpty || (choice as? String) == "none" || kind.isWriter {
            var text =
                tools.isEmpty || kind.isWriter
                ? SandboxWriter.whyNow(conversation.lastUserText) : Self.plainSummary(conversation, options)
            switch kind {
            case .writerEmpty: text = ""
            case .writerRambling: text = Array(repeating: text, count: 6).joined(separator: "\n\n")
            case .writerFlaky where flakySeen.insert(conversation.lastUserText).inserted: text = ""
            default: break
            }
            let limit = ServiceKit.int(body["max_completion_tokens"]) ?? ServiceKit.int(body["max_tokens"])
            let maxChars = min(options.maxTextCharacters, limit.map { max(1, $0) * 4 } ?? Int.max)
            if text.count > maxChars {
                text = String(text.prefix(maxChars))
                finish = "length"
            }
            if kind == .writerRefusal {
                message["content"] = NSNull()
                message["refusal"] = "I can't help with writing outreach about this person."
            } else {
                message["content"] = text
            }
            completionText = text
        } else {
            let planner = SandboxPlanner(options: options)
            let forcedName = ((choice as? [String: Any])?["function"] as? [String: Any])?["name"] as? String
            let (action, raw) =
                kind.isParser
                ? SandboxParser.answer(kind, conversation)
                : kind.isChatReader
                ? SandboxChatReader.answer(kind, conversation)
                : forcedName.map { (planner.forced($0, conversation), nil) } ?? kind.answer(conversation, planner: planner)
            switch action {
            case .text(let t):
                message["content"] = t
                completionText = t
            case .call(let toolName, let args):
                let arguments = raw ?? ServiceKit.jsonString(args)
                message["content"] = NSNull()
                message["tool_calls"] = [
                    [
                        "id": options.toolCallIDPrefix + Self.token(seed: seed, "\(n)-0", length: 24), "type": "function",
                        "function": ["name": toolName, "arguments": arguments],
                    ]
                ]
                finish = options.toolCallFinishReason
                completionText = toolName + arguments
            }
        }
        let completionTokens = Self.tokens(completionText)
        stats.recordQuota(service: name, bucket: "tokens", cost: promptTokens + completionTokens)
        let count = max(1, min(8, ServiceKit.int(body["n"]) ?? 1))
        let response: [String: Any] = [
            "id": "chatcmpl-" + Self.token(seed: seed, "completion-\(n)", length: 29), "object": "chat.completion",
            "created": Int(options.epoch.timeIntervalSince1970) + n, "model": model,
            "choices": (0..<count).map {
                ["index": $0, "message": message, "finish_reason": finish, "logprobs": NSNull()] as [String: Any]
            },
            "usage": [
                "prompt_tokens": promptTokens, "completion_tokens": completionTokens, "total_tokens": promptTokens + completionTokens,
                "prompt_tokens_details": ["cached_tokens": 0, "audio_tokens": 0],
                "completion_tokens_details": [
                    "reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
                ],
            ],
            "system_fingerprint": "fp_cmo_sandbox", "service_tier": "default",
        ]
        let req = requestWindow.peek(now: now)
        let tok = tokenWindow.peek(now: now)
        let headers: [(name: String, value: String)] = [
            ("x-request-id", "req_" + Self.token(seed: seed, "request-\(n)", length: 32)),
            ("x-ratelimit-limit-requests", String(options.requestsPerMinute)),
            ("x-ratelimit-remaining-requests", String(req.remaining)),
            ("x-ratelimit-reset-requests", Self.duration(req.resetAt.timeIntervalSince(now))),
            ("x-ratelimit-limit-tokens", String(options.tokensPerMinute)),
            ("x-ratelimit-remaining-tokens", String(tok.remaining)),
            ("x-ratelimit-reset-tokens", Self.duration(tok.resetAt.timeIntervalSince(now))),
        ]
        return .json(200, response, headers: headers)
    }

    /// What the planner would do next, in words (for `tool_choice: "none"`).
    static func plainSummary(_ c: SandboxConversation, _ options: OpenAIOptions) -> String {
        switch SandboxPlanner(options: options).decide(c) {
        case .call(let name, let args): return "Next I would call \(name) with \(ServiceKit.jsonString(args))."
        case .text(let t): return t
        }
    }

    /// Every assistant `tool_calls` id needs a `tool` answer before the next assistant turn, and every
    /// `tool` message must answer one.
    static func validate(messages: [[String: Any]]) -> String? {
        var open: [String] = []
        var known = Set<String>()
        for (i, m) in messages.enumerated() {
            let role = m["role"] as? String ?? ""
            guard ["system", "developer", "user", "assistant", "tool", "function"].contains(role) else {
                return "Invalid value: '\(role)'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."
            }
            switch role {
            case "assistant":
                if !open.isEmpty {
                    return
                        "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: \(open.joined(separator: ", "))"
                }
                let ids = ((m["tool_calls"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
                open = ids
                known.formUnion(ids)
            case "tool":
                guard let id = m["tool_call_id"] as? String else { return "Missing required parameter: 'messages[\(i)].tool_call_id'." }
                guard known.contains(id) else {
                    return "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."
                }
                open.removeAll { $0 == id }
            default:
                if !open.isEmpty {
                    return
                        "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: \(open.joined(separator: ", "))"
                }
            }
        }
        return nil
    }

    /// About four characters a token.
    static func tokens(_ text: String) -> Int { (text.count + 3) / 4 }

    /// OpenAI's reset durations: `1s`, `12ms`, `6m0s`.
    static func duration(_ seconds: TimeInterval) -> String {
        let s = max(0, seconds)
        if s < 1 { return "\(Int((s * 1000).rounded()))ms" }
        if s < 60 { return "\(Int(s.rounded(.up)))s" }
        return "\(Int(s) / 60)m\(Int(s) % 60)s"
    }

    static func token(seed: UInt64, _ label: String, length: Int) -> String {
        var r = SeededRandom(seed: seed, stream: "openai-\(label)")
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<length).map { _ in alphabet[Int(r.next() % UInt64(alphabet.count))] })
    }

    /// OpenAI's error body: `{"error": {"message", "type", "param", "code"}}` (all four keys present).
    static func error(
        _ status: Int, _ message: String, type: String, param: String? = nil, code: String? = nil,
        headers: [(name: String, value: String)] = []
    ) -> SandboxResponse {
        .json(
            status,
            [
                "error": [
                    "message": message, "type": type, "param": param.map { $0 as Any } ?? NSNull(),
                    "code": code.map { $0 as Any } ?? NSNull(),
                ]
            ],
            headers: headers)
    }
}
