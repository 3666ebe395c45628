import CMOBasics
import Foundation

/// Who is a person and which addresses can be written to (apis.md §1.10).
public enum GitHubIdentity {
    /// Accounts that are automation whatever their type says.
    static let botLogins: Set<String> = ["web-flow", "github-actions", "dependabot", "renovate", "dependabot-preview", "ghost"]

    /// True for bots: `type: Bot`, a `[bot]` login, or a known automation account.
    public static func isBot(login: String, type: String? = nil) -> Bool {
        if let type, type.caseInsensitiveCompare("Bot") == .orderedSame { return true }
        let l = login.lowercased()
        return l.hasSuffix("[bot]") || l.hasSuffix("-bot") || botLogins.contains(l)
    }

    /// The parts of a `users.noreply.github.com` address (`ID+login` or `login`), or nil for any other address.
    public static func noreply(_ address: String) -> (id: Int?, login: String)? {
        let lower = address.lowercased()
        guard let at = lower.lastIndex(of: "@"), lower[lower.index(after: at)...] == "users.noreply.github.com" else { return nil }
        let local = lower[..<at]
        let parts = local.split(separator: "+", maxSplits: 1)
        if parts.count == 2, let id = Int(parts[0]) { return (id, String(parts[1])) }
        return (nil, String(local))
    }

    /// An address someone could actually write to: well formed, not a GitHub noreply address,
    /// not a bot's. Deliverability (MX, role, disposable) is mx-check's job.
    public static func isUsableEmail(_ address: String) -> Bool {
        let a = address.trimmingCharacters(in: .whitespaces).lowercased()
        guard let at = a.lastIndex(of: "@"), at != a.startIndex else { return false }
        let domain = a[a.index(after: at)...]
        guard domain.contains("."), !domain.hasPrefix("."), !domain.hasSuffix("."), !a.contains(" ") else { return false }
        if domain == "users.noreply.github.com" || domain.hasSuffix(".noreply.github.com") || domain == "noreply.github.com" {
            return false
        }
        if a == "noreply@github.com" || a.contains("[bot]") { return false }
        if domain == "localhost" || domain.hasSuffix(".local") || domain.hasSuffix(".localdomain") { return false }
        return true
    }
}

/// One email with its provenance (ARCHITECTURE §2).
public struct EmailEvidence: Sendable, Equatable {
    public var address: String
    public var source: String
    public var evidence: String
    public var lastSeen: String

    public init(address: String, source: String, evidence: String, lastSeen: String) {
        self.address = address
        self.source = source
        self.evidence = evidence
        self.lastSeen = lastSeen
    }

    public var json: JSONValue {
        .object([
            JSONMember("address", .string(address)), JSONMember("source", .string(source)),
            JSONMember("evidence", .string(evidence)), JSONMember("last_seen", .string(lastSeen)),
        ])
    }
}
