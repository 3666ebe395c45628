import CMOBasics
/// A practical RFC 5321/5322 address check: what SMTP can carry, not every corner of RFC 5322.
public struct EmailAddress: Sendable, Equatable {
    /// The local part as written (case kept: it may be case-sensitive).
    public var local: String
    /// The domain, lower-cased, ASCII (punycode for IDNs), without a trailing dot.
    public var domain: String

    /// The address as checked: `local@domain`.
    public var normalized: String { "\(local)@\(domain)" }

    /// Why an address was refused.
    public enum Problem: String, Sendable, Error {
        case empty = "syntax_empty"
        case noAt = "syntax_no_at"
        case localTooLong = "syntax_local_too_long"
        case tooLong = "syntax_too_long"
        case badLocal = "syntax_bad_local_part"
        case badDomain = "syntax_bad_domain"
        case idnNotConvertible = "syntax_idn_not_convertible"
        case ipLiteral = "syntax_ip_literal"
        /// `Mailbox.check` only: a quoted local part (`"john doe"@…`), which the services refuse.
        case quotedLocal = "syntax_quoted_local_part"
        /// `Mailbox.check` only: UTF-8 in the local part (SMTPUTF8), which the services refuse.
        case nonASCIILocal = "syntax_non_ascii_local_part"
        /// `Mailbox.check` only: a control character (CR, LF, NUL, …) anywhere in the address.
        case controlCharacter = "syntax_control_character"
    }

    /// Parses `text`, trimming surrounding spaces and angle brackets.
    public static func parse(_ text: String) -> Result<EmailAddress, Problem> {
        var s = Substring(text).trimmingSpaces
        if s.hasPrefix("<"), s.hasSuffix(">"), s.count >= 2 { s = s.dropFirst().dropLast() }
        if s.isEmpty { return .failure(.empty) }
        guard let at = s.lastIndex(of: "@") else { return .failure(.noAt) }
        let local = String(s[..<at])
        var domain = String(s[s.index(after: at)...])
        if domain.hasSuffix(".") { domain.removeLast() }
        if local.isEmpty { return .failure(.badLocal) }
        if local.utf8.count > 64 { return .failure(.localTooLong) }
        guard validLocal(local) else { return .failure(.badLocal) }
        if domain.hasPrefix("[") { return .failure(.ipLiteral) }
        if domain.isEmpty { return .failure(.badDomain) }
        let ascii: String
        if domain.utf8.allSatisfy({ $0 < 0x80 }) {
            ascii = domain.lowercased()
        } else {
            guard let p = Punycode.toASCII(domain.lowercased()) else { return .failure(.idnNotConvertible) }
            ascii = p.lowercased()
        }
        guard validDomain(ascii) else { return .failure(.badDomain) }
        if local.utf8.count + 1 + ascii.utf8.count > 254 { return .failure(.tooLong) }
        return .success(EmailAddress(local: local, domain: ascii))
    }

    static let atext = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~".utf8)

    /// Dot-atom (no leading, trailing or double dots) or a quoted string of printable ASCII.
    /// UTF-8 in the local part (RFC 6531) is accepted in a dot-atom.
    static func validLocal(_ local: String) -> Bool {
        let b = Array(local.utf8)
        if b.first == 0x22 {
            guard b.count >= 2, b.last == 0x22 else { return false }
            var i = 1
            while i < b.count - 1 {
                let c = b[i]
                if c == 0x5C {  // backslash: quoted pair
                    guard i + 1 < b.count - 1, (0x20...0x7E).contains(b[i + 1]) else { return false }
                    i += 2
                    continue
                }
                if c == 0x22 || c < 0x20 || c == 0x7F { return false }
                i += 1
            }
            return true
        }
        if b.first == 0x2E || b.last == 0x2E { return false }
        var previousDot = false
        for c in b {
            if c == 0x2E {
                if previousDot { return false }
                previousDot = true
                continue
            }
            previousDot = false
            if c >= 0x80 { continue }
            if !atext.contains(c) { return false }
        }
        return true
    }

    /// LDH labels of 1–63 characters, at least two labels, not starting or ending with '-', ≤ 253.
    package static func validDomain(_ d: String) -> Bool {
        if d.utf8.count > 253 { return false }
        let labels = d.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count < 2 { return false }
        for l in labels {
            let u = Array(l.utf8)
            if u.isEmpty || u.count > 63 || u.first == 0x2D || u.last == 0x2D { return false }
            for c in u where !(c == 0x2D || (0x30...0x39).contains(c) || (0x61...0x7A).contains(c)) { return false }
        }
        // The top-level label is not all digits (that would be an IP address without brackets).
        return !labels.last!.utf8.allSatisfy { (0x30...0x39).contains($0) }
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
