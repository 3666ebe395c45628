import Foundation

/// A stage's closing summary, as every stage writes it with `--log-format json` (docs/contracts.md §6): the
/// one line of its log whose `event` is `summary`. What the runner counts, the report shows and the chat says.
public struct StageSummary: Codable, Sendable, Equatable {
    public var input = 0
    public var output = 0
    public var filtered = 0
    public var deadLettered = 0
    public var requests = 0
    public var notModified = 0
    public var seconds = 0.0
    public var filteredBy: [String: Int] = [:]
    public var quota: [String: Int] = [:]
    /// A writer's records by what this run did for them: something written now (`written`), found already
    /// there so nothing was written (`already`), left for a later day (`deferred`, send-instantly's daily
    /// cap). Nil when the stage does not say (a reader, or a writer from before these were counted).
    public var written: Int?
    public var already: Int?
    public var deferred: Int?
    /// The stage's own figures (`verdicts`, `variants`, `http_retries`, …): numbers, or JSON objects of numbers.
    public var extra: [String: JSONNumbers] = [:]

    public init() {}

    enum CodingKeys: String, CodingKey {
        case input = "in", output = "out", filtered, deadLettered = "dead_lettered", requests = "http_requests", notModified = "http_not_modified"
        case seconds, filteredBy = "filtered_by", quota = "quota_spent", written, already, deferred, extra
    }

    /// A number, an object of numbers or of texts (other values are kept as text).
    public enum JSONNumbers: Codable, Sendable, Equatable {
        case number(Double), text(String), object([String: Double]), texts([String: String])
        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let d = try? c.decode(Double.self) {
                self = .number(d)
            } else if let o = try? c.decode([String: Double].self) {
                self = .object(o)
            } else if let t = try? c.decode([String: String].self) {
                self = .texts(t)
            } else if let b = try? c.decode(Bool.self) {
                self = .text(b ? "true" : "false")
            } else {
                self = .text(try c.decode(String.self))
            }
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .number(let d): try c.encode(d)
            case .object(let o): try c.encode(o)
            case .texts(let t): try c.encode(t)
            case .text(let t): try c.encode(t)
            }
        }
        public var number: Double? { if case .number(let d) = self { return d } else { return nil } }
        public var object: [String: Double]? { if case .object(let o) = self { return o } else { return nil } }
        public var texts: [String: String]? { if case .texts(let t) = self { return t } else { return nil } }
    }

    /// The figures the runner keeps in state.json for a step (`in`, `filtered`, `dead`, `http`, `http_304`; a
    /// writer's `written`, `already` and `deferred` when it says them).
    public var counts: [String: Int] {
        var c = ["in": input, "filtered": filtered, "dead": deadLettered, "http": requests, "http_304": notModified]
        if let written { c["written"] = written }
        if let already { c["already"] = already }
        if let deferred { c["deferred"] = deferred }
        return c
    }

    /// Fields of the summary event that are not the stage's own extras.
    static let common: Set<String> = [
        "ts", "level", "stage", "event", "msg", "in", "out", "filtered", "filtered_by", "dead_lettered", "http_requests",
        "http_not_modified", "seconds", "output_closed", "quota_spent", "written", "already", "deferred",
    ]
    /// HTTP figures every summary carries; kept as extras only when not zero, as the text summary shows them.
    static let zeroOmitted: Set<String> = ["http_retries", "http_rate_limited", "http_wait_seconds"]

    /// The summary of a JSON summary line (`{"event":"summary",…}`), or nil when the line is not one.
    public static func decode(line: some DataProtocol, stage: String? = nil) -> StageSummary? {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
            object["event"] as? String == "summary", stage == nil || object["stage"] as? String == stage
        else { return nil }
        var s = StageSummary()
        func int(_ k: String) -> Int { (object[k] as? NSNumber)?.intValue ?? 0 }
        func ints(_ k: String) -> [String: Int] { ((object[k] as? [String: Any]) ?? [:]).compactMapValues { ($0 as? NSNumber)?.intValue } }
        s.input = int("in")
        s.output = int("out")
        s.filtered = int("filtered")
        s.deadLettered = int("dead_lettered")
        s.requests = int("http_requests")
        s.notModified = int("http_not_modified")
        s.seconds = (object["seconds"] as? NSNumber)?.doubleValue ?? 0
        s.filteredBy = ints("filtered_by")
        s.quota = ints("quota_spent")
        s.written = (object["written"] as? NSNumber)?.intValue
        s.already = (object["already"] as? NSNumber)?.intValue
        s.deferred = (object["deferred"] as? NSNumber)?.intValue
        for (k, v) in object where !common.contains(k) {
            if zeroOmitted.contains(k), (v as? NSNumber)?.doubleValue == 0 { continue }
            guard let data = try? JSONSerialization.data(withJSONObject: v, options: [.fragmentsAllowed]),
                let value = try? JSONDecoder().decode(JSONNumbers.self, from: data)
            else { continue }
            s.extra[k] = value
        }
        return s
    }

    /// The last summary of `stage` in a JSON log (the stage's stderr under `--log-format json`), or nil
    /// when it wrote none (a fake stage, or one killed before its end).
    public static func read(log: URL, stage: String) -> StageSummary? {
        guard let data = try? Data(contentsOf: log) else { return nil }
        for line in data.split(separator: 10).reversed() where line.contains(UInt8(ascii: "{")) {
            if let s = decode(line: line, stage: stage) { return s }
        }
        return nil
    }
}

/// One line of a stage's JSON log, for showing it to a person as the text format would.
public struct StageLogLine: Decodable, Sendable {
    public var level: String
    public var stage: String
    public var event: String?
    public var msg: String
    /// A rate limit's wait, on the error that stopped a stage with 75.
    public var waitSeconds: Double?

    enum CodingKeys: String, CodingKey { case level, stage, event, msg, waitSeconds = "wait_seconds" }

    /// The lines of a log: JSON lines read as such, any other line (a fake stage's text) as it is.
    public static func lines(log: URL) -> [(line: StageLogLine?, text: String)] {
        guard let data = try? Data(contentsOf: log) else { return [] }
        return data.split(separator: 10).map { raw in
            let text = String(decoding: raw, as: UTF8.self)
            guard raw.first == UInt8(ascii: "{"), let l = try? JSONDecoder().decode(StageLogLine.self, from: Data(raw)) else { return (nil, text) }
            return (l, l.text)
        }
    }

    /// `stage: message` for info, `stage: level: message` otherwise: the text format's line.
    public var text: String { level == "info" ? "\(stage): \(msg)" : "\(stage): \(level): \(msg)" }
}
