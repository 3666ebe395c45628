import CMOServices
import Foundation

/// One exchange with the model planner, kept in state.json so that the conversation is rebuilt from the
/// state on resume: a tool call (with its result once its step ran, or why it was refused), or prose.
public struct PlannerTurn: Codable, Sendable {
    public var callID: String?
    public var tool: String?
    /// The call's arguments as the model sent them (JSON text, possibly broken).
    public var arguments: String?
    /// Prose the model answered instead of a call.
    public var text: String?
    /// The tool result the model is shown: the step's counts and sample, or the refusal.
    public var result: String?
    /// The step this call became, if it was accepted.
    public var step: Int?
    /// Why the answer was refused, if it was.
    public var refused: String?

    enum CodingKeys: String, CodingKey { case callID = "call_id", tool, arguments, text, result, step, refused }
}


/// The model planner: an OpenAI-compatible chat endpoint with tool calling, each stage a tool. It only
/// proposes; the runner checks every call against the job and the caps.
public final class ModelPlanner {
    public let chat: ChatClient
    public let tools: [StageTool]
    public var model: String { chat.model }
    public var requests: Int { chat.requests }
    public typealias Answer = ChatClient.Answer

    public init(chat: ChatClient, tools: [StageTool]) {
        self.chat = chat
        self.tools = tools
    }

    /// The planner for a job: the endpoint from the config and environment (OPENAI_BASE_URL, OPENAI_API_KEY),
    /// the tools from the job's stages.
    public static func make(model: String, job: Job, config: String?) throws -> ModelPlanner {
        ModelPlanner(chat: try ChatClient.make(model: model, config: config), tools: try Runner.tools(for: job))
    }

    /// The `done` tool: ends the run with a summary.
    static var doneTool: [String: Any] {
        ChatClient.function(
            "done", "End the run once the job is done (or cannot be done), with a one-paragraph summary for the person.",
            parameters: [
                "type": "object", "additionalProperties": false, "required": ["summary"],
                "properties": [
                    "summary": ["type": "string", "description": "What was done, with the counts."],
                    "status": ["type": "string", "enum": ["ok", "failed"]],
                ],
            ])
    }

    /// The messages of a conversation: the rails, the goal, then every turn so far.
    public static func messages(system: String, user: String, turns: [PlannerTurn]) -> [[String: Any]] {
        var m: [[String: Any]] = [["role": "system", "content": system], ["role": "user", "content": user]]
        for t in turns {
            if let id = t.callID, let name = t.tool {
                let call: [String: Any] = ["id": id, "type": "function", "function": ["name": name, "arguments": t.arguments ?? "{}"]]
                m.append(["role": "assistant", "content": NSNull(), "tool_calls": [call]])
                m.append(["role": "tool", "tool_call_id": id, "content": t.result ?? #"{"error":"no result"}"#])
            } else {
                m.append(["role": "assistant", "content": t.text ?? ""])
                m.append(["role": "user", "content": t.result ?? "Answer with exactly one tool call."])
            }
        }
        return m
    }

    /// Asks for the next call. Throws when the model cannot be asked at all: the rule planner takes over.
    public func ask(system: String, user: String, turns: [PlannerTurn]) throws -> Answer {
        try chat.ask(messages: Self.messages(system: system, user: user, turns: turns), tools: tools.map(\.schema) + [Self.doneTool])
    }
}
