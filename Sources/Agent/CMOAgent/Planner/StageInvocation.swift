import CMOBasics
import Foundation

/// One stage run as planned: the stage and its options as typed values, in order. The rule planner, the
/// model planner's tool calls, widenings and amendments all make and change invocations; they become
/// argv (`arguments`) only when the stage is spawned or shown.
public struct StageInvocation: Codable, Sendable, Equatable {
    /// An option's value: a switch, a whole number, a number or a text.
    public enum Value: Codable, Sendable, Equatable {
        case flag
        case int(Int)
        case number(Double)
        case text(String)

        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() {
                self = .flag
            } else if let i = try? c.decode(Int.self) {
                self = .int(i)
            } else if let d = try? c.decode(Double.self) {
                self = .number(d)
            } else {
                self = .text(try c.decode(String.self))
            }
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .flag: try c.encodeNil()
            case .int(let i): try c.encode(i)
            case .number(let d): try c.encode(d)
            case .text(let s): try c.encode(s)
            }
        }

        /// The value as its argv word (nil for a switch).
        var word: String? {
            switch self {
            case .flag: return nil
            case .int(let i): return String(i)
            case .number(let d): return String(d)
            case .text(let s): return s
            }
        }
    }

    /// `--name value` (or `--name` for a switch; `-o` style short names keep their dash: `name` "-o").
    public struct Option: Codable, Sendable, Equatable {
        public var name: String
        public var value: Value
        public init(_ name: String, _ value: Value) {
            self.name = name
            self.value = value
        }
    }

    public var stage: String
    public var options: [Option]

    public init(_ stage: String, _ options: [Option] = []) {
        self.stage = stage
        self.options = options
    }

    /// The argv the stage is spawned with.
    public var arguments: [String] {
        options.flatMap { o -> [String] in
            let flag = o.name.hasPrefix("-") ? o.name : "--" + o.name
            // A value that looks like a flag ("-5", "--allow-inactive") is joined to its option, so that it
            // can never be read as one (a negative number is a value either way).
            if let w = o.value.word, w.hasPrefix("-"), Int(w) == nil, flag.hasPrefix("--") { return [flag + "=" + w] }
            return [flag] + (o.value.word.map { [$0] } ?? [])
        }
    }

    // MARK: reading

    public func has(_ name: String) -> Bool { options.contains { $0.name == name } }

    /// The last value of an option (an option given twice takes its last, as the stages read it).
    public func value(_ name: String) -> Value? { options.last { $0.name == name }?.value }

    public func int(_ name: String) -> Int? {
        switch value(name) {
        case .int(let i): return i
        case .text(let s): return Int(s)
        default: return nil
        }
    }

    public func text(_ name: String) -> String? { value(name)?.word }

    /// Every value of a repeatable option, in order.
    public func texts(_ name: String) -> [String] { options.filter { $0.name == name }.compactMap(\.value.word) }

    /// Whether the writer only pretends (`--dry-run`).
    public var isDryRun: Bool { has("dry-run") }

    // MARK: changing

    /// Sets an option to one value, where it first stood (or at the end); nil removes it.
    public mutating func set(_ name: String, _ value: Value?) {
        guard let value else {
            options.removeAll { $0.name == name }
            return
        }
        guard let i = options.firstIndex(where: { $0.name == name }) else {
            options.append(Option(name, value))
            return
        }
        options[i].value = value
        for k in options.indices.reversed() where k > i && options[k].name == name { options.remove(at: k) }
    }

    /// Replaces a repeatable option's values (removing them all for an empty list; new ones at the end).
    public mutating func set(_ name: String, texts: [String]) {
        let at = options.firstIndex { $0.name == name }
        options.removeAll { $0.name == name }
        let new = texts.map { Option(name, .text($0)) }
        if let at, at <= options.count { options.insert(contentsOf: new, at: at) } else { options += new }
    }

    /// This invocation with every option `given` names replaced by the given values (the model's call over
    /// the rule planner's base).
    public func overlaid(with given: [Option]) -> StageInvocation {
        let named = Set(given.map(\.name))
        return StageInvocation(stage, options.filter { !named.contains($0.name) } + given)
    }

    /// A whole-number option held between `floor` and `cap` (untouched when absent).
    public mutating func clamp(_ name: String, floor: Int = 0, cap: Int) {
        guard let n = int(name) else { return }
        set(name, .int(min(cap, max(floor, n))))
    }

    // MARK: argv of a state.json written before plans were typed

    /// The invocation of an argv as earlier versions kept it: `--name` followed by a word that is not an
    /// option is that option's value (a whole number is read as one), else a switch.
    public init(stage: String, argv: [String]) {
        var options: [Option] = []
        var i = 0
        while i < argv.count {
            let a = argv[i]
            let name = a.hasPrefix("--") ? String(a.dropFirst(2)) : a  // a short option keeps its dash
            if a.hasPrefix("--"), let eq = name.firstIndex(of: "=") {
                options.append(Option(String(name[..<eq]), .text(String(name[name.index(after: eq)...]))))
                i += 1
                continue
            }
            if i + 1 < argv.count, !argv[i + 1].hasPrefix("-") || Int(argv[i + 1]) != nil {
                let v = argv[i + 1]
                options.append(Option(name, Int(v).map { String($0) == v ? Value.int($0) : .text(v) } ?? .text(v)))
                i += 2
            } else {
                options.append(Option(name, .flag))
                i += 1
            }
        }
        self.init(stage, options)
    }
}
