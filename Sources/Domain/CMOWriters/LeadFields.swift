import CMOBasics
import CMOEmail
import Foundation

/// Reading a lead record for a writer: the address to send to, its verdict and provenance, the copy,
/// and user-controlled text made safe for where it lands.
public enum LeadFields {
    /// `best_email` (a string, or an object with `address`), lower-cased; nil when absent or null.
    public static func bestEmail(_ record: Record) -> String? {
        guard let value = record["best_email"] else { return nil }
        let address = value.stringValue ?? value["address"]?.stringValue
        guard let address = address?.trimmingCharacters(in: .whitespaces), address.contains("@") else { return nil }
        return address.lowercased()
    }

    /// The verdict mx-check gave `address` (from `email_checks`), or the one on `best_email`.
    public static func verdict(_ record: Record, address: String) -> EmailVerdict? {
        if let v = record["best_email"]?["verdict"]?.stringValue { return EmailVerdict(rawValue: v) }
        for check in record["email_checks"]?.arrayValue ?? [] where check["address"]?.stringValue?.lowercased() == address {
            return check["verdict"]?.stringValue.flatMap(EmailVerdict.init(rawValue:))
        }
        return nil
    }

    /// Where `address` came from: `emails[]`' `source` and `evidence`.
    public static func provenance(_ record: Record, address: String) -> (source: String?, evidence: String?) {
        for e in record["emails"]?.arrayValue ?? [] where e["address"]?.stringValue?.lowercased() == address {
            return (e["source"]?.stringValue, e["evidence"]?.stringValue)
        }
        return (nil, nil)
    }

    /// First and last name from `name` (or nil): the last word is the last name.
    public static func splitName(_ name: String?) -> (first: String?, last: String?) {
        guard let name = name.map({ oneLine($0) }), !name.isEmpty else { return (nil, nil) }
        let words = name.split(separator: " ")
        guard words.count > 1 else { return (name, nil) }
        return (words.dropLast().joined(separator: " "), String(words.last!))
    }

    /// Text for a one-line field (a name, a company): `TextCleaning.oneLine` (controls and
    /// bidirectional overrides removed, white space and line breaks folded into one space), template
    /// braces broken up so no provider or template engine reads them as a variable, cut at `limit`.
    public static func oneLine(_ text: String, limit: Int = 256) -> String {
        let out = breakTemplateSyntax(TextCleaning.oneLine(text))
        return out.count > limit ? String(out.prefix(limit)) : out
    }

    /// Text for a body: `TextCleaning.insertable` (CRLF and CR become LF, other controls dropped),
    /// template braces broken up.
    public static func multiLine(_ text: String) -> String {
        breakTemplateSyntax(TextCleaning.insertable(text))
    }

    /// `{{`, `}}`, `{%` and `%}` split by a zero-width space, so `{{unsubscribe}}` in a person's bio
    /// stays text.
    public static func breakTemplateSyntax(_ text: String) -> String {
        guard text.contains("{") || text.contains("}") else { return text }
        return text.replacingOccurrences(of: "{{", with: "{\u{200B}{").replacingOccurrences(of: "}}", with: "}\u{200B}}")
            .replacingOccurrences(of: "{%", with: "{\u{200B}%").replacingOccurrences(of: "%}", with: "%\u{200B}}")
    }

    /// Whether a body carries an unsubscribe link: the configured URL when there is one, else a line
    /// that says unsubscribe (or opt out) and holds a URL or a mailto.
    public static func hasUnsubscribeLink(_ body: String, url: String?) -> Bool {
        if let url, !url.isEmpty { return body.contains(url) }
        for line in body.split(whereSeparator: \.isNewline) {
            let l = line.lowercased()
            guard l.contains("unsubscribe") || l.contains("opt out") || l.contains("opt-out") else { continue }
            if l.contains("http://") || l.contains("https://") || l.contains("mailto:") { return true }
        }
        return false
    }
}
