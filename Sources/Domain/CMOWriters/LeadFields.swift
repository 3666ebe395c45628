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
    /// stays text. One pass over the UTF-8 bytes puts a zero-width space between every adjacent pair
    /// of those delimiters, overlapping or not, so the output holds none of them whatever the run
    /// (`{{{{` becomes `{ZWSP{ZWSP{ZWSP{`, `{%}` becomes `{ZWSP%ZWSP}`). Text without a pair comes
    /// back as it is.
    public static func breakTemplateSyntax(_ text: String) -> String {
        let open = UInt8(ascii: "{"), close = UInt8(ascii: "}"), percent = UInt8(ascii: "%")
        /// `a` then `b` is `{{`, `}}`, `{%` or `%}`.
        func pair(_ a: UInt8, _ b: UInt8) -> Bool {
            (a == open && (b == open || b == percent)) || (b == close && (a == close || a == percent))
        }
        var pairs = 0
        var previous: UInt8 = 0
        for b in text.utf8 {
            if pair(previous, b) { pairs += 1 }
            previous = b
        }
        guard pairs > 0 else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 3 * pairs)
        previous = 0
        for b in text.utf8 {
            if pair(previous, b) {  // U+200B ZERO WIDTH SPACE
                out.append(0xE2)
                out.append(0x80)
                out.append(0x8B)
            }
            out.append(b)
            previous = b
        }
        return String(decoding: out, as: UTF8.self)
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
