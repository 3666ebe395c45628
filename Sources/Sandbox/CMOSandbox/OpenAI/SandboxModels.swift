import CMOBasics
import Foundation

/// The models the sandbox serves. `cmo-planner` plans well; the others misbehave on purpose so
/// clients can be tested against what real models do.
enum SandboxModel: String, CaseIterable {
    /// Competent planner (and, without tools, a short "why now" writer).
    case planner = "cmo-planner"
    /// Like the planner, but a call's `arguments` is broken JSON unless the last tool result reported an error.
    case malformed = "cmo-planner-malformed"
    /// Calls `linkedin-scrape` (never offered) unless the last tool result reported an error.
    case unknownTool = "cmo-planner-unknown-tool"
    /// Answers with prose instead of a tool call, unless the user has just nudged it after such an answer.
    case chatty = "cmo-planner-chatty"
    /// Repeats the first search call forever and never calls `done`.
    case loop = "cmo-planner-loop"
    /// The first `throttledFailures` requests get 429 `rate_limit_exceeded` with `Retry-After`; then like the planner.
    case throttled = "cmo-planner-429"
    /// Always 429 `insufficient_quota`, without `Retry-After` (do not retry).
    case noQuota = "cmo-planner-quota"
    /// Goal parser: answers a `set_job` tool with the job the goal states (see `SandboxParser`).
    case parser = "cmo-parser"
    /// Parser whose `set_job` arguments are broken JSON unless the last tool result reported an error.
    case parserMalformed = "cmo-parser-malformed"
    /// Parser that makes up an Instantly campaign id every time, and adds a field `set_job` does not have
    /// unless the last tool result reported an error.
    case parserInvented = "cmo-parser-invented"
    /// Parser that answers with prose even when `tool_choice` names `set_job` (as some OpenAI-compatible servers do).
    case parserChatty = "cmo-parser-chatty"
    /// Chat reader: answers a `read_line` tool with the intent of the last line (see `SandboxChatReader`).
    case chatReader = "cmo-chat"
    /// Chat reader that names an intent `read_line` does not have, and turns "3k" into 3, unless the last
    /// tool result reported an error.
    case chatReaderInvented = "cmo-chat-invented"
    /// Plain text writer (the same as the planner when no tools are offered).
    case writer = "cmo-writer"
    /// Writer that refuses: `content: null`, `refusal` set.
    case writerRefusal = "cmo-writer-refusal"
    /// Writer that answers an empty string.
    case writerEmpty = "cmo-writer-empty"
    /// Writer that rambles: several lines, far over any limit (cut by `max_completion_tokens` → `length`).
    case writerRambling = "cmo-writer-rambling"
    /// Writer whose first answer to a given prompt is empty and whose second is the writer's line.
    case writerFlaky = "cmo-writer-flaky"
    /// Writer whose 200 answer has an empty `choices` list.
    case writerMalformed = "cmo-writer-malformed"

    /// Whether this model only writes text (tools, if offered, are ignored).
    var isWriter: Bool { self == .writer || rawValue.hasPrefix("cmo-writer-") }
    /// Whether this model reads goals into jobs (`set_job`) instead of planning.
    var isParser: Bool { rawValue.hasPrefix("cmo-parser") }
    /// Whether this model reads chat lines into intents (`read_line`).
    var isChatReader: Bool { rawValue.hasPrefix("cmo-chat") }

    /// This model's answer for a conversation with tools.
    func answer(_ c: SandboxConversation, planner: SandboxPlanner) -> (action: SandboxPlannerAction, rawArguments: String?) {
        switch self {
        case .malformed:
            let action = planner.decide(c)
            guard !c.endsWithError, case .call(let name, let args) = action else { return (action, nil) }
            let good = ServiceKit.jsonString(args)
            return (.call(name: name, arguments: args), String(good.dropLast()) + ",")  // `{"a":1,` — cut short
        case .unknownTool:
            guard !c.endsWithError else { return (planner.decide(c), nil) }
            return (
                .call(
                    name: "linkedin-scrape",
                    arguments: ["query": SandboxPlannerGoal(c.goalText, defaults: planner.options).language ?? "developers"]), nil
            )
        case .chatty:
            guard !c.endsWithNudge else { return (planner.decide(c), nil) }
            let next: String
            if case .call(let name, _) = planner.decide(c) { next = name } else { next = "wrap up" }
            return (
                .text(
                    "Great goal! I think the best next step would be to run \(next). Let me know if you would like me to go ahead, or if you want to adjust the audience first."
                ), nil
            )
        case .loop:
            var fresh = c
            fresh.calls = []
            return (planner.decide(fresh), nil)
        default:
            return (planner.decide(c), nil)
        }
    }
}

/// Plain completions when no tools are offered: a short "why now" line from the lead in the prompt.
enum SandboxWriter {
    /// A one-line reason to write now, from a lead record (JSON) or free text in the prompt. Like a
    /// careful model, it states only what the lead's JSON says: the count of commits to the repository
    /// it names, with the window that count covers ("in the last 60 days"), and a title from that
    /// repository; without a window it gives no count and no time.
    static func whyNow(_ prompt: String) -> String {
        let record = jsonObject(in: prompt)
        let signals = record?["signals"] as? [String: Any]
        let repo = signals?["repo"] as? String
        let days = ServiceKit.int(signals?["window_days"])
        let commits = days == nil ? nil : ServiceKit.int(signals?["repo_commits_in_window"])
        let title = (signals?["repo_commit_titles"] as? [Any])?.first as? String
        // No greeting and no name: the template has those; the line follows "Hi NAME,".
        var line: String
        switch (repo, commits, days) {
        case (let r?, 1, let d?): line = "I saw your commit to \(r) in the last \(d) days"
        case (let r?, let n?, let d?) where n > 1: line = "I saw your \(n) commits to \(r) in the last \(d) days"
        case (let r?, _, _): line = "I came across your work on \(r)"
        default: line = "I came across your open-source work"
        }
        let tail = ", and it looks like a good moment to compare notes."
        // A title is quoted whole or not at all, within the 200 characters render-copy allows by default.
        if repo != nil, let t = title, !t.isEmpty, line.count + t.count + 4 + tail.count <= 200 { line += " (\"\(t)\")" }
        line += tail
        return line.prefix(1).uppercased() + line.dropFirst()
    }

    private static func jsonObject(in text: String) -> [String: Any]? {
        guard let start = text.firstIndex(of: "{"), let end = text.lastIndex(of: "}"), start < end else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(text[start...end].utf8))) as? [String: Any]
    }
}
