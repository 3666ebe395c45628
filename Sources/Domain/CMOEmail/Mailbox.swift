import CMOBasics

/// The one mailbox-syntax check: whether an address is a mailbox cmo may send to. mx-check's
/// syntax step and every writer's pre-send check call `Mailbox.check`, so an address that fails
/// it is `invalid` in `email_checks` and is never sent (`failed`, reason `invalid_email`).
///
/// It is `EmailAddress.parse` (RFC 5321 lengths: local part ≤ 64 octets, address ≤ 254; dot-atom
/// without leading, trailing or double dots; LDH domain labels of 1–63, at least two, no empty
/// label; IDN domains as punycode; no IP literals; surrounding spaces and `<>` trimmed), narrowed
/// to what the email services take (Instantly's `format: "email"` is ajv's dot-atom of ASCII):
/// - a quoted local part (`"john doe"@example.org`) is refused: legal in RFC 5321, refused by the
///   services, and a space or `@` inside it is how a poison record looks;
/// - a non-ASCII local part (RFC 6531, SMTPUTF8) is refused: the services do not take it;
/// - control characters anywhere (CR, LF, NUL, tab inside the address) are refused: header injection.
public enum Mailbox {
    /// The address, parsed and normalised (domain lower-cased, ASCII), or why it is not a mailbox.
    public static func check(_ text: String) -> Result<EmailAddress, EmailAddress.Problem> {
        // Controls are refused before trimming: "a@b.org\r\nBcc: c@d.org" is not "a@b.org".
        if text.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) {
            return .failure(.controlCharacter)
        }
        let parsed = EmailAddress.parse(text)
        guard case .success(let address) = parsed else { return parsed }
        if address.local.hasPrefix("\"") { return .failure(.quotedLocal) }
        if !address.local.utf8.allSatisfy({ $0 < 0x80 }) { return .failure(.nonASCIILocal) }
        return .success(address)
    }

    /// The normalised address (`local@domain`, lower-cased, as a writer sends and keys it), or nil.
    public static func sendable(_ text: String) -> String? {
        guard case .success(let address) = check(text) else { return nil }
        return address.normalized.lowercased()
    }
}
