import CMOContract
import Foundation

/// How logs are written on stderr.
public enum LogFormat: String, Sendable, CaseIterable, SettingValue {
    /// Lines for a person; a live progress line only when stderr is a terminal.
    case text
    /// One JSON object per line (what cmo-plan reads).
    case json

    public init?(yaml: Any) { self.init(rawValue: String(yaml: yaml) ?? "") }
    public init?(environment: String) { self.init(rawValue: environment) }
    public var settingDescription: String { rawValue }
}

/// Severity of a log line.
public enum LogLevel: Int, Sendable, Comparable {
    case debug = 0
    case info, warning, error
    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
    var name: String { ["debug", "info", "warning", "error"][rawValue] }
}

/// The stage's stderr: log lines as text or JSON, a throttled progress line on a terminal, the
/// closing summary. Writes go straight to fd 2 (unbuffered, so nothing is lost on exit).
public final class Logger {
    public let stage: String
    public let format: LogFormat
    /// Lowest level written (`-q` → warning, `-v` → debug).
    public let threshold: LogLevel
    private let isTTY: Bool
    private let color: Bool
    private var progressShown = false
    private var lastProgress = 0.0

    public init(
        stage: String, format: LogFormat = .text, threshold: LogLevel = .info,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.stage = stage
        self.format = format
        self.threshold = threshold
        self.isTTY = isatty(2) == 1
        self.color = isTTY && environment["NO_COLOR"].map(\.isEmpty) ?? true && environment["TERM"] != "dumb"
    }

    public func debug(_ message: String, _ fields: [String: JSONValue] = [:]) { log(.debug, message, fields) }
    public func info(_ message: String, _ fields: [String: JSONValue] = [:]) { log(.info, message, fields) }
    public func warning(_ message: String, _ fields: [String: JSONValue] = [:]) { log(.warning, message, fields) }
    public func error(_ message: String, _ fields: [String: JSONValue] = [:]) { log(.error, message, fields) }

    /// Writes one log line at `level`.
    public func log(_ level: LogLevel, _ message: String, _ fields: [String: JSONValue] = [:], event: String = "log") {
        guard level >= threshold else { return }
        clearProgress()
        switch format {
        case .json:
            var members: [JSONMember] = [
                JSONMember("ts", .string(Timestamp.string())), JSONMember("level", .string(level.name)),
                JSONMember("stage", .string(stage)), JSONMember("event", .string(event)), JSONMember("msg", .string(message)),
            ]
            for k in fields.keys.sorted() { members.append(JSONMember(k, fields[k]!)) }
            emit(JSONValue.object(members).compactJSON + "\n")
        case .text:
            var line = "\(stage): "
            if level != .info {
                let label = level.name
                line += color ? "\u{1B}[\(level == .error ? "31" : level == .warning ? "33" : "2")m\(label)\u{1B}[0m: " : "\(label): "
            }
            line += Logger.escapingControls(message)
            if !fields.isEmpty {
                line += " (" + fields.keys.sorted().map { "\($0)=\(Logger.fieldText(fields[$0]!))" }.joined(separator: ", ") + ")"
            }
            emit(line + "\n")
        }
    }

    /// Updates the live progress line (text format on a terminal only; at most 4 times a second).
    public func progress(_ text: @autoclosure () -> String) {
        guard format == .text, isTTY, threshold <= .info else { return }
        let now = Date().timeIntervalSince1970
        guard now - lastProgress >= 0.25 else { return }
        lastProgress = now
        emit("\r\u{1B}[2K\(stage): \(text())")
        progressShown = true
    }

    /// Writes the closing summary (a `summary` event in JSON).
    public func summary(_ text: String, _ fields: [String: JSONValue]) {
        guard threshold <= .info else { return }
        clearProgress()
        switch format {
        case .json: log(.info, text, fields, event: "summary")
        case .text: emit("\(stage): \(text)\n")
        }
    }

    private func clearProgress() {
        if progressShown {
            emit("\r\u{1B}[2K")
            progressShown = false
        }
    }

    private func emit(_ s: String) {
        var s = s
        s.withUTF8 { u in
            var off = 0
            while off < u.count {
                let n = sysWrite(2, u.baseAddress! + off, u.count - off)
                if n <= 0 {
                    if errno == EINTR { continue }
                    return
                }
                off += n
            }
        }
    }

    /// Control characters (CR, LF, ESC, …) in user data never reach the terminal raw: shown escaped
    /// (`\n`, `\u{1b}`), not removed as `TextCleaning.oneLine` does, so a log keeps what was there.
    static func escapingControls(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return s }
        var out = ""
        for u in s.unicodeScalars {
            if u.value < 0x20 || u.value == 0x7F {
                out += u == "\n" ? "\\n" : u == "\r" ? "\\r" : u == "\t" ? "\\t" : "\\u{\(String(u.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }

    private static func fieldText(_ v: JSONValue) -> String {
        if case .string(let s) = v { return escapingControls(s) }
        return v.compactJSON
    }
}
