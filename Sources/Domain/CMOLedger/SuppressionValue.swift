import CMOBasics
import CMOStorage
import CMOEmail
import Foundation

/// A value that cannot go on the do-not-contact list: not an email, a domain or a GitHub login.
/// Status 65, the data is wrong (a bad flag is 64, refused by the command line before this).
public struct SuppressionValueError: CMOError, Equatable {
    /// The value as given.
    public let value: String
    /// Why it was refused, as the end of a sentence ("is not a valid email address").
    public let problem: String
    public var exitStatus: ExitStatus { .dataError }
    public var description: String { "'\(value)' \(problem)" }
}

extension SuppressionKind {
    /// `text` in the list's normal form, or a `SuppressionValueError`.
    ///
    /// Emails: trimmed, lower-cased (local part too: over-suppressing is the safe side), the domain's
    /// trailing dot dropped, an IDN domain in punycode. Domains: the same, a leading `@` or `*.`
    /// dropped, at least two labels. Logins: trimmed, a leading `@` dropped, lower-cased, GitHub's
    /// alphabet (letters, digits, `-`, at most 39, a bot's `[bot]` suffix allowed).
    public func normalize(_ text: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        switch self {
        case .email:
            switch EmailAddress.parse(trimmed) {
            case .success(let address): return address.normalized.lowercased()
            case .failure(let problem):
                throw SuppressionValueError(value: text, problem: "is not a valid email address (\(problem.rawValue))")
            }
        case .domain:
            guard let domain = SuppressionValue.domain(trimmed) else {
                throw SuppressionValueError(value: text, problem: "is not a valid domain name")
            }
            return domain
        case .login:
            guard let login = SuppressionValue.login(trimmed) else {
                throw SuppressionValueError(value: text, problem: "is not a valid GitHub login")
            }
            return login
        }
    }
}

/// Reading values for the list: inferring their kind, normalising them, and the lenient forms used
/// to look records up.
public enum SuppressionValue {
    /// The kind and normal form of `text`. With `kind`, `text` must be of that kind. Without it:
    /// `email:`, `domain:` and `login:` prefixes say it; `x@y` is an email; `@x` is a login, or a
    /// domain when `x` has a dot (`@acme.com`); a bare name with a dot is a domain (`*.acme.com` too);
    /// anything else is refused (a bare `octocat` could be either, so a login is written `@octocat`).
    public static func parse(_ text: String, kind: SuppressionKind? = nil) throws -> (kind: SuppressionKind, value: String) {
        var body = text.trimmingCharacters(in: .whitespacesAndNewlines)
        var declared = kind
        for k in [SuppressionKind.email, .domain, .login] {
            let prefix = k.rawValue + ":"
            if body.count > prefix.count, body.lowercased().hasPrefix(prefix) {
                if let declared, declared != k {
                    throw SuppressionValueError(value: text, problem: "says '\(k.rawValue):' but the kind is '\(declared.rawValue)'")
                }
                declared = k
                body = String(body.dropFirst(prefix.count))
                break
            }
        }
        if let declared { return (declared, try declared.normalize(body)) }
        if body.isEmpty { throw SuppressionValueError(value: text, problem: "is empty") }
        if let at = body.firstIndex(of: "@"), at != body.startIndex { return (.email, try SuppressionKind.email.normalize(body)) }
        if body.hasPrefix("@") {
            let rest = body.dropFirst()
            return rest.contains(".")
                ? (.domain, try SuppressionKind.domain.normalize(body)) : (.login, try SuppressionKind.login.normalize(body))
        }
        if body.contains(".") { return (.domain, try SuppressionKind.domain.normalize(body)) }
        if body.contains(where: { $0.isWhitespace }) || SuppressionValue.login(body) == nil {
            throw SuppressionValueError(value: text, problem: "is not an email, a domain or a login")
        }
        throw SuppressionValueError(
            value: text,
            problem: "is not an email, a domain or a login (write a login as @\(body) or login:\(body), a domain as domain:\(body))")
    }

    /// A domain in normal form, or nil when it is not one.
    static func domain(_ text: String) -> String? {
        var d = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased())
        if d.hasPrefix("@") { d = d.dropFirst() }
        if d.hasPrefix("*.") { d = d.dropFirst(2) }
        if d.hasSuffix(".") { d = d.dropLast() }
        var ascii = String(d)
        if !ascii.utf8.allSatisfy({ $0 < 0x80 }) {
            guard let p = Punycode.toASCII(ascii) else { return nil }
            ascii = p.lowercased()
        }
        return EmailAddress.validDomain(ascii) ? ascii : nil
    }

    /// A GitHub login in normal form, or nil when it is not one.
    static func login(_ text: String) -> String? {
        var l = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased())
        if l.hasPrefix("@") { l = l.dropFirst() }
        var name = l
        if name.hasSuffix("[bot]") { name = name.dropLast(5) }
        guard (1...39).contains(name.utf8.count), name.first != "-" else { return nil }
        guard name.utf8.allSatisfy({ $0 == 0x2D || (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) }) else { return nil }
        return String(l)
    }

    /// The form an address from a record is looked up by: the normal form when it parses, else
    /// trimmed and lower-cased (a record's odd address is still checked, never refused).
    static func lookupEmail(_ text: String) -> String {
        // Fast path for what pipelines carry (plain ASCII, no spaces or brackets): lower-cased, the
        // trailing dot dropped; that is what the full parse would give.
        var simple = true
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for b in text.utf8 {
            if b >= 0x80 || b <= 0x20 || b == UInt8(ascii: "<") || b == UInt8(ascii: "\"") {
                simple = false
                break
            }
            bytes.append(b >= 0x41 && b <= 0x5A ? b + 0x20 : b)
        }
        if simple {
            if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
            return String(decoding: bytes, as: UTF8.self)
        }
        if case .success(let a) = EmailAddress.parse(text) { return a.normalized.lowercased() }
        return text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    /// The form a record's login is looked up by: trimmed, lower-cased, without a leading `@`.
    static func lookupLogin(_ text: String) -> String {
        var l = Substring(text.trimmingCharacters(in: .whitespaces).lowercased())
        if l.hasPrefix("@") { l = l.dropFirst() }
        return String(l)
    }

    /// The domain of a looked-up address and each parent with at least two labels, most specific
    /// first: `eu.acme.com` → `eu.acme.com`, `acme.com`. Only those of at most 253 bytes, the
    /// longest domain an entry can hold: an address with 100,000 labels would otherwise give 100,000
    /// suffixes, quadratic bytes (issue 27).
    static func domainAndParents(ofEmail email: String) -> [String] {
        // `email` is already in lookup form (lower case, punycode, no trailing dot).
        let utf8 = Array(email.utf8)
        guard let at = utf8.lastIndex(of: UInt8(ascii: "@")) else { return [] }
        var out: [String] = []
        var start = at + 1
        while start < utf8.count {
            guard let dot = utf8[start...].firstIndex(of: UInt8(ascii: ".")) else { break }
            if dot > start, dot + 1 < utf8.count, utf8.count - start <= 253 {
                out.append(String(decoding: utf8[start...], as: UTF8.self))
            }
            start = dot + 1
        }
        return out
    }
}
