import Foundation

/// The scripted chat readers (`cmo-chat…`): a client offers a `read_line` tool (`cmo-plan chat
/// --interpreter model`) and gets the intent of the conversation's last user line. It reads some
/// phrasings a keyword reader would miss ("bump it to three thousand", "hold off on the emails").
enum SandboxChatReader {
    /// The `read_line` arguments for one line.
    static func reading(_ line: String) -> [String: Any] {
        let t = line.lowercased().trimmingCharacters(in: .whitespacesAndNewlines)
        let bare = t.trimmingCharacters(in: CharacterSet(charactersIn: "?!. "))
        func any(_ words: [String]) -> Bool { words.contains { t.range(of: #"\b"# + $0 + #"\b"#, options: .regularExpression) != nil } }
        if ["y", "yes", "yep", "yeah", "sure", "ok", "okay", "go ahead", "sounds good", "do it", "ship it", "let's go"].contains(bare) { return ["intent": "yes"] }
        if ["n", "no", "nope", "nah", "never mind", "forget it"].contains(bare) { return ["intent": "no"] }
        if any(["why", "what went wrong", "what failed"]) && any(["fail", "failed", "failing", "dead", "bounced", "wrong", "errors?"]) { return ["intent": "why_failed"] }
        if let n = number(in: t), any(["target", "raise", "bump", "increase", "up", "make it", "go for", "lower", "reduce"]) { return ["intent": "target", "target": n] }
        if any(["hold off", "skip", "don't", "do not", "no more", "stop"]) && any(["send", "sending", "emails?", "instantly", "writes?", "writing"]) || any(["export only", "just export", "only export", "just the csv"]) {
            return ["intent": "skip_writers"]
        }
        if any(["how many", "count"]) && any(["queued", "sent", "emailed", "in instantly"]) { return ["intent": "queued_count"] }
        if any(["status", "progress", "how is it going", "how's it going", "where are we", "how far", "eta"]) { return ["intent": "status"] }
        if any(["pause", "hold on", "hang on"]) || bare == "stop" { return ["intent": "pause"] }
        if any(["resume", "continue", "carry on", "unpause", "keep going"]) { return ["intent": "resume"] }
        if any(["cancel", "abort", "kill it", "scrap"]) { return ["intent": "cancel"] }
        if any(["jobs", "list", "what's running"]) { return ["intent": "jobs"] }
        if any(["wait"]) { return ["intent": "wait"] }
        if any(["help", "what can you do"]) { return ["intent": "help"] }
        if any(["quit", "exit", "bye", "goodbye"]) { return ["intent": "quit"] }
        if any(["find", "get me", "reach", "maintainers", "developers", "contributors", "engineers", "committers"]) { return ["intent": "goal"] }
        return ["intent": "unknown"]
    }

    /// A count in the line: "3k", "3,000", "3 thousand", "three thousand", "two hundred".
    static func number(in t: String) -> Int? {
        let units = ["one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twenty": 20, "fifty": 50]
        let scales = ["hundred": 100, "thousand": 1000, "k": 1000, "million": 1_000_000]
        let words = t.split { !$0.isLetter && !$0.isNumber && $0 != "," && $0 != "." }.map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: ",.")) }
        for (i, w) in words.enumerated() {
            var base: Double?
            var scale = 1.0
            if let u = units[w] {
                base = Double(u)
            } else {
                var d = w.replacingOccurrences(of: ",", with: "")
                if d.hasSuffix("k") { scale = 1000; d.removeLast() }
                base = d.first?.isNumber == true ? Double(d) : nil
            }
            guard let b = base else { continue }
            if i + 1 < words.count, let s = scales[words[i + 1]] { scale *= Double(s) }
            return Int(b * scale)
        }
        return nil
    }

    /// This reader's answer: a `read_line` call, or prose when it was given no such tool.
    static func answer(_ kind: SandboxModel, _ c: SandboxConversation) -> (action: SandboxPlannerAction, rawArguments: String?) {
        guard c.tools.contains(where: { $0.name == "read_line" }) else {
            return (.text("I can only read a chat line when I am given a read_line tool."), nil)
        }
        var r = reading(c.goalText)
        if kind == .chatReaderInvented && !c.endsWithError {
            if let n = r["target"] as? Int { r["target"] = max(1, n / 1000) } else { r["intent"] = "do_" + (r["intent"] as? String ?? "nothing") }
        }
        return (.call(name: "read_line", arguments: r), nil)
    }
}
