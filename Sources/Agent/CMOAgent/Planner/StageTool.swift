import CMOBasics
import Foundation

/// A stage offered to the model planner as a tool, its JSON schema generated from the stage's own options
/// (`--experimental-dump-help`), so that tools never drift from the stages.
///
/// Options the runner controls are not offered: the wiring (config, dead letters, input, output), the
/// clock, logging, HTTP tuning, the writers' targets beyond the job's, their caps and dry-run switch,
/// and anything that names a file or a jq program (a model must not point a stage at a file or write
/// code that runs on the leads).
public struct StageTool: Sendable {
    public struct Option: Sendable {
        public var name: String
        /// "integer", "number", "boolean" (a flag) or "string".
        public var type: String
        public var repeating: Bool
        public var values: [String]?
        public var help: String
    }

    public var stage: String
    public var description: String
    public var options: [Option]

    /// The tool's name in the request (`gh_search`): letters, digits and `_` suit every server.
    public var name: String { stage.replacingOccurrences(of: "-", with: "_") }

    /// Options of every stage that the runner sets or that tune the process, not the campaign.
    static let hiddenEverywhere: Set<String> = [
        "config", "where", "dead-letter", "max-errors", "log-format", "quiet", "verbose", "print-config", "version", "help",
        "max-wait", "concurrency", "timeout", "retries", "http-cache", "no-http-cache", "now", "as-of", "batch-size", "api",
        "dry-run", "job",
    ]

    /// Per stage: what names a file, runs jq, raises a sending cap or is wired by the runner.
    static let hidden: [String: Set<String>] = [
        "gh-people": ["refresh"],
        "mx-check": ["dns-server", "dns-timeout", "dns-attempts", "chunk-size", "no-cache"],
        "score-icp": ["icp", "top"],
        "render-copy": ["template", "require-unsubscribe", "unsubscribe-variable", "llm-model"],
        "send-instantly": [
            "daily-new-leads", "per-inbox-cap", "allow-inactive", "require-unsubscribe-header", "unsubscribe-url", "subject-variable",
            "body-variable", "variable", "field", "max-body-chars",
        ],
        "sync-attio": ["entry-value", "attribute", "note", "only-status"],
        "sync-linear": ["campaign-name", "idle-flush"],
        "export-csv": ["output", "column", "raw", "no-raw", "bom", "no-bom", "checkpoint-every", "newline", "max-cell-chars"],
    ]

    /// Value names that take whole numbers, and those that take any number.
    static let integers: Set<String> = ["n", "days", "seconds"]
    static let numbers: Set<String> = ["x"]

    /// The tool of a stage from its `--experimental-dump-help` JSON.
    public static func parse(stage: String, dumpHelp: Data) throws -> StageTool {
        guard let root = try? JSONSerialization.jsonObject(with: dumpHelp) as? [String: Any],
            let command = root["command"] as? [String: Any]
        else {
            // Not the cmo stage of this version (an old build, another program of that name): the installation, 78.
            throw StageFailure(
                .config, "\(stage) --experimental-dump-help did not print its options as JSON: it is not this version's stage (run bin/setup, or check --stage \(stage)=CMD)")
        }
        let hide = hiddenEverywhere.union(hidden[stage] ?? [])
        var options: [Option] = []
        for a in (command["arguments"] as? [[String: Any]]) ?? [] {
            let kind = a["kind"] as? String
            guard kind == "option" || kind == "flag" else { continue }
            let names = ((a["names"] as? [[String: Any]]) ?? []).filter { ($0["kind"] as? String) == "long" }.compactMap { $0["name"] as? String }
            guard let name = names.first, !hide.contains(name) else { continue }
            let valueName = a["valueName"] as? String ?? ""
            let type = kind == "flag" ? "boolean" : integers.contains(valueName) ? "integer" : numbers.contains(valueName) ? "number" : "string"
            options.append(Option(name: name, type: type, repeating: kind == "option" && (a["isRepeating"] as? Bool ?? false),
                                  values: a["allValues"] as? [String], help: Self.firstSentence(a["abstract"] as? String ?? "")))
        }
        let abstract = command["abstract"] as? String ?? stage
        return StageTool(stage: stage, description: abstract + " " + (wiring[stage] ?? ""), options: options)
    }

    /// An option's help up to its first full stop, at most 120 characters: every turn sends every tool, and
    /// a provider counts the tokens per minute.
    static func firstSentence(_ help: String) -> String {
        let cut = help.range(of: ". ").map { String(help[..<$0.lowerBound]) + "." } ?? help
        return TextCleaning.truncate(cut, to: 120)
    }

    /// What the runner does around a stage, told to the model with the stage's own abstract.
    static let wiring: [String: String] = [
        "gh-search": "Starts a discovery pass; calling it again widens the search (older activity, fewer stars, other topics). "
            + "Give several languages as the language list (each is searched on its own and merged), never as language: words in query.",
        "gh-people": "Reads the last gh-search's repositories.",
        "gh-enrich": "Reads the last gh-people's people.",
        "mx-check": "Reads the last gh-enrich's profiles.",
        "score-icp": "Reads the last mx-check's people; keeps the best <target> leads.",
        "render-copy": "Reads the last score-icp's leads.",
        "send-instantly": "Reads the rendered leads; writes to the job's campaign after the person's one approval.",
        "sync-attio": "Reads the queued leads; writes to the job's list after the approval.",
        "sync-linear": "Reads the run's dead letters; files them in the job's team after the approval.",
        "export-csv": "Reads the leads; writes the run's CSV.",
    ]

    /// The executable's options, by running it with `--experimental-dump-help`.
    public static func load(stage: String, executable: String) throws -> StageTool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = ["--experimental-dump-help"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch {
            throw StageFailure(.config, "cannot run \(executable) --experimental-dump-help: \(error); check the installation (run bin/setup) or --stage")
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return try parse(stage: stage, dumpHelp: data)
    }

    /// `{"type": "function", "function": {name, description, parameters}}` as the chat API takes it.
    public var schema: [String: Any] {
        var properties: [String: Any] = [:]
        for o in options {
            var p: [String: Any] = ["type": o.type, "description": o.help]
            if let v = o.values { p["enum"] = v }
            properties[Self.key(o.name)] = o.repeating ? ["type": "array", "items": p, "description": o.help] : p
        }
        let parameters: [String: Any] = ["type": "object", "properties": properties, "additionalProperties": false]
        return ["type": "function", "function": ["name": name, "description": description, "parameters": parameters]]
    }

    /// `min-stars` → `min_stars`.
    static func key(_ option: String) -> String { option.replacingOccurrences(of: "-", with: "_") }

    /// The stage's argv from a call's JSON arguments (`options(_:)` as words).
    public func arguments(_ json: [String: Any]) throws -> [String] { StageInvocation(stage, try options(json)).arguments }

    /// The stage's typed options from a call's JSON arguments; an unknown key, a wrong type or a value
    /// outside the option's choices is an error the model is told about.
    public func options(_ json: [String: Any]) throws -> [StageInvocation.Option] {
        let byKey = Dictionary(options.map { (Self.key($0.name), $0) }, uniquingKeysWith: { a, _ in a })
        var out: [StageInvocation.Option] = []
        for key in json.keys.sorted() {
            let value = json[key]!
            if value is NSNull { continue }
            guard let o = byKey[key] else {
                throw StageFailure(.usage, "\(name) has no argument '\(key)' (it takes: \(byKey.keys.sorted().joined(separator: ", ")))")
            }
            let values: [Any]
            if o.repeating {
                if let a = value as? [Any] { values = a } else { values = [value] }
            } else {
                values = [value]
            }
            for v in values {
                switch o.type {
                case "boolean":
                    guard let b = v as? Bool else { throw wrong(key, v, "true or false") }
                    if b { out.append(.init(o.name, .flag)) }
                case "integer":
                    guard let n = Self.integer(v), n >= 0 else { throw wrong(key, v, "a whole number") }
                    out.append(.init(o.name, .int(n)))
                case "number":
                    guard let n = v is Bool ? nil : (v as? Double) ?? (v as? Int).map(Double.init) ?? (v as? String).flatMap(Double.init), n.isFinite else { throw wrong(key, v, "a number") }
                    out.append(.init(o.name, .number(n)))
                default:
                    guard let s = v as? String ?? (v is Bool ? nil : (v as? Int).map(String.init)) else { throw wrong(key, v, "a string") }
                    let clean = TextCleaning.oneLine(s)
                    guard !clean.isEmpty, clean.count <= 200 else { throw wrong(key, v, "a short string") }
                    if let allowed = o.values, !allowed.contains(clean) { throw wrong(key, v, "one of \(allowed.joined(separator: ", "))") }
                    out.append(.init(o.name, .text(clean)))
                }
            }
        }
        return out
    }

    static func integer(_ v: Any) -> Int? {
        if v is Bool { return nil }
        if let n = v as? Int { return n }
        if let d = v as? Double, d == d.rounded(), abs(d) < 1e15 { return Int(d) }
        if let s = v as? String { return Int(s) }
        return nil
    }

    func wrong(_ key: String, _ value: Any, _ expected: String) -> StageFailure {
        StageFailure(.usage, "\(name): '\(key)' must be \(expected), not \(String(describing: value).prefix(60))")
    }
}
