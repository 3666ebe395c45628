import CMOBasics
import CMOHTTP
import CMOLedger

/// A write the service refused for the record's own content (a 400 naming it, an address Instantly
/// says is invalid, a GraphQL error on its input) or that the writer's pre-send check refused: the
/// record comes out `failed` with the reason, its batch-mates are written, and the run goes on.
///
/// The ledger row is `failed` with a reason `refused <code> [<fingerprint>]: <message>`, the
/// fingerprint being a hash of the payload that was refused. A re-run whose payload for the key has
/// the same fingerprint does not send it again (the service would refuse it again); a changed
/// payload (new copy, a fixed name, another mapping) is sent. Refusals that say nothing about the
/// content (5xx, transport, rate limits, a conflict) are never written this way: those are retried.
public enum ContentRefusal {
    /// Hex SHA-256 (first 16 characters) of the payload's compact JSON.
    public static func fingerprint(_ payload: JSONValue) -> String {
        String(DeterministicID.sha256Hex(payload.compactJSON).prefix(16))
    }

    /// The ledger reason of a refusal.
    public static func ledgerReason(code: String, fingerprint: String, message: String) -> String {
        "refused \(code) [\(fingerprint)]: \(message)"
    }

    /// A refusal read back from a ledger reason, or nil when the reason is not one.
    public struct Recorded: Equatable, Sendable {
        public var code: String
        public var fingerprint: String
        public var message: String
    }

    public static func parse(_ reason: String?) -> Recorded? {
        guard let reason, reason.hasPrefix("refused "), let open = reason.firstIndex(of: "["), let close = reason.firstIndex(of: "]"),
            open < close
        else { return nil }
        let code = reason[reason.index(reason.startIndex, offsetBy: 8)..<open].trimmingCharacters(in: .whitespaces)
        let fingerprint = String(reason[reason.index(after: open)..<close])
        var rest = reason[reason.index(after: close)...]
        if rest.hasPrefix(":") { rest = rest.dropFirst() }
        return Recorded(code: code, fingerprint: fingerprint, message: rest.trimmingCharacters(in: .whitespaces))
    }

    /// The earlier refusal of this very payload, when the ledger row says the service refused it.
    public static func earlier(_ row: WriteLedger.Row?, payload: JSONValue) -> Recorded? {
        guard let row, row.state == .failed, let recorded = parse(row.reason), recorded.fingerprint == fingerprint(payload) else {
            return nil
        }
        return recorded
    }

    /// Whether an HTTP status refuses the request's content (as opposed to the service being down,
    /// the key, a limit, or a conflict): 400, 413 and 422.
    public static func isContentStatus(_ status: Int) -> Bool { status == 400 || status == 413 || status == 422 }

    /// The position (in the request's array named `array`) an ajv-style message blames, e.g. 3 for
    /// `body/leads/3/lt_interest_status must be …` with `array` "leads"; nil when it names none.
    public static func blamedIndex(_ message: String, array: String) -> Int? {
        let marker = "/\(array)/"
        guard let range = message.range(of: marker) else { return nil }
        let digits = message[range.upperBound...].prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count < 8 else { return nil }
        return Int(digits)
    }
}
