import Foundation

/// Switches for the sandbox's OpenAI-compatible chat API and its scripted models.
public struct OpenAIOptions: Sendable {
    /// Requests per minute before 429 `rate_limit_exceeded` (with `Retry-After`).
    public var requestsPerMinute = 500
    /// Tokens (prompt + completion, estimated at 4 characters a token) per minute.
    public var tokensPerMinute = 400_000
    /// How many requests to `cmo-planner-429` are answered 429 before it behaves like `cmo-planner`.
    public var throttledFailures = 2
    /// `Retry-After` seconds on 429s.
    public var retryAfterSeconds = 1
    /// How many times the planner widens the search when too few leads pass.
    public var maxWidenings = 3
    /// Leads wanted when the goal names no number.
    public var defaultTarget = 100
    /// Activity window when the goal names none.
    public var defaultDays = 90
    /// Minimum stars of the first search when the goal names none (0: no floor; a planner adds none the
    /// goal does not state, and cmo-plan refuses one that does).
    public var defaultMinStars = 0
    /// Longest plain-text completion, in characters (also bounded by `max_completion_tokens`).
    public var maxTextCharacters = 240
    /// `finish_reason` of an answer with `tool_calls`: OpenAI sends `tool_calls`; some compatible servers
    /// send `stop` [U] — set `"stop"` to test clients that must look at `tool_calls` itself.
    public var toolCallFinishReason = "tool_calls"
    /// Prefix of tool call ids (OpenAI: `call_`; other servers differ [U]).
    public var toolCallIDPrefix = "call_"
    /// The clock used for rate windows.
    public var clock: ServiceKit.Clock = { Date() }
    /// `created` of the first completion; later ones add one second each (deterministic).
    public var epoch = Date(timeIntervalSince1970: 1_795_000_000)

    /// The defaults described above.
    public init() {}
}
