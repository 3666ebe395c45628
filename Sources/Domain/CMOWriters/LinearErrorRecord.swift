import CMOContract
import CMOBasics
import CMOHTTP
import Foundation

/// An error read from sync-linear's input: a dead letter, an event, or a stage's JSON log line at level
/// error. `key` names the distinct error (stage + code + normalised message); `occurrence` names this
/// one sighting, so a re-run never counts it twice.
public struct LinearErrorRecord: Sendable {
    public var stage: String
    public var code: String
    public var message: String
    public var normalised: String
    /// SHA-256 (hex) of stage, code and normalised message.
    public var key: String
    /// The event's `id`, else the SHA-256 of the whole line.
    public var occurrence: String
    /// How many occurrences the record stands for (an event's `count`, else 1).
    public var weight: Int
    /// The line number the dead letter names, if any.
    public var sourceLine: Int?
    /// The dead letter's `input` (or the event), compact JSON, for the example.
    public var sample: String

    /// What a record is to sync-linear.
    public enum Kind {
        case error(LinearErrorRecord)
        /// An event or log line that is not an error (info, summary, …): passed through.
        case ignored(String)
        /// Neither a dead letter nor an event.
        case unreadable(String)
    }

    public static func read(_ record: Record) -> Kind {
        let stage = record["stage"]?.stringValue.map { LeadFields.oneLine($0, limit: 80) }
        if let error = record["error"], case .object = error, let code = error["code"]?.stringValue {
            let message = error["message"]?.stringValue ?? ""
            let occurrence = record["id"]?.stringValue.map { "id:" + $0 } ?? DeterministicID.sha256Hex(bytes: record.bytes)
            let weight = record["event"] != nil ? max(1, min(1_000_000, record["count"]?.intValue ?? 1)) : 1
            let sample =
                record["input"] ?? record["event"].map { _ in JSONValue.string(String(decoding: record.bytes, as: UTF8.self)) } ?? .null
            return .error(
                make(
                    stage: stage ?? "unknown", code: code, message: message, occurrence: occurrence, weight: weight,
                    line: record["line"]?.intValue, sample: sample.stringValue ?? sample.compactJSON))
        }
        if let event = record["event"]?.stringValue {
            guard record["level"]?.stringValue == "error" else { return .ignored("event \(event) is not an error") }
            let message = record["msg"]?.stringValue ?? record["message"]?.stringValue ?? ""
            let occurrence = record["id"]?.stringValue.map { "id:" + $0 } ?? DeterministicID.sha256Hex(bytes: record.bytes)
            return .error(
                make(
                    stage: stage ?? "unknown", code: event == "log" ? "log_error" : event, message: message, occurrence: occurrence,
                    weight: max(1, min(1_000_000, record["count"]?.intValue ?? 1)), line: nil,
                    sample: String(decoding: record.bytes, as: UTF8.self)))
        }
        return .unreadable("neither a dead letter (error.code) nor an event (event)")
    }

    static func make(stage: String, code: String, message: String, occurrence: String, weight: Int, line: Int?, sample: String)
        -> LinearErrorRecord
    {
        let code = LeadFields.oneLine(code, limit: 80)
        let normalised = normalise(message)
        let key = DeterministicID.sha256Hex(stage + "\n" + code + "\n" + normalised)
        return LinearErrorRecord(
            stage: stage, code: code, message: message, normalised: normalised, key: key, occurrence: occurrence, weight: weight,
            sourceLine: line, sample: sample)
    }

    // MARK: - Normalising a message

    /// The message without what differs between occurrences of one error: URLs, emails, UUIDs, hex
    /// ids, quoted values holding digits (or over 40 characters), and numbers (an HTTP status after
    /// "HTTP " is kept: it is part of the error); lower-cased, spaces collapsed, at most 300 characters.
    /// Linear in the message's length: `LinearMessageNormaliser` gives what the regular expressions
    /// used before gave, in single passes.
    public static func normalise(_ message: String) -> String {
        LinearMessageNormaliser.normalise(message)
    }
}
