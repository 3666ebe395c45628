import CMOBasics
import Foundation

/// The kind of a GitHub account.
public enum AccountType: String, Sendable {
    case user = "User"
    case organization = "Organization"
    case bot = "Bot"
}

/// One GitHub account of the synthetic world.
public struct WorldUser: Sendable {
    public var id: Int
    public var login: String
    /// The login before a rename; commits made with its bare noreply address are no longer linked.
    public var previousLogin: String?
    public var type: AccountType
    public var name: String?
    public var company: String?
    public var blog: String
    public var location: String?
    /// The public profile email, or nil when hidden.
    public var publicEmail: String?
    public var hireable: Bool?
    public var bio: String?
    public var twitter: String?
    public var followers: Int
    public var following: Int
    public var publicRepos: Int
    public var publicGists: Int
    public var createdAt: Int64
    public var updatedAt: Int64
    /// Addresses GitHub links to this account (verified emails): commits with them show this account.
    public var linkedEmails: [String]
    /// The addresses this person writes commits with (may include the unlinked old noreply form).
    public var commitEmails: [String]

    /// The legacy global node id (`base64("04:User123")`), which `nodes(ids:)` accepts.
    public var nodeID: String {
        let prefix: String
        switch type {
        case .user: prefix = "04:User"
        case .organization: prefix = "012:Organization"
        case .bot: prefix = "03:Bot"
        }
        return NodeID.encode("\(prefix)\(id)")
    }
}

/// One git commit on a repository's default branch.
public struct WorldCommit: Sendable {
    public var sha: String
    public var parentSHA: String?
    public var message: String
    public var authorName: String
    public var authorEmail: String
    public var date: Int64
    /// The account GitHub linked to `authorEmail`, or nil (`author: null`).
    public var authorID: Int?
    /// Merge commits made on github.com are committed by `web-flow`.
    public var committedByWebFlow: Bool
    /// GitHub answers REST `"author": {}` (an empty object, not null) for this commit, as its
    /// schema allows ("Empty Object"): the email's account is gone. GraphQL: `user: null`.
    public var authorEmptyObject = false
}

/// One repository of the synthetic world.
public struct WorldRepo: Sendable {
    public var id: Int
    public var ownerID: Int
    public var ownerLogin: String
    public var name: String
    public var description: String?
    public var readme: String
    public var language: String?
    public var topics: [String]
    public var stars: Int
    public var forks: Int
    public var openIssues: Int
    public var isFork: Bool
    public var archived: Bool
    public var createdAt: Int64
    public var pushedAt: Int64
    public var updatedAt: Int64
    public var license: String?
    public var homepage: String?
    /// Newest first, as `GET /repos/{o}/{r}/commits` lists them.
    public var commits: [WorldCommit]

    public var fullName: String { "\(ownerLogin)/\(name)" }
    public var nodeID: String { NodeID.encode("010:Repository\(id)") }
}

/// What the world knows about one email address (served by `/_sandbox/truth`).
public struct EmailFacts: Sendable {
    public var address: String
    public var domain: String
    /// `mx`, `a_only`, `null_mx`, `nxdomain`, `servfail`, `timeout`, `truncated`, `slow`, or `none`
    /// (not in the zone: noreply).
    public var dns: String
    public var deliverable: Bool
    public var role: Bool
    public var disposable: Bool
    public var free: Bool
    public var noreply: Bool
    /// The login of the account GitHub links the address to, if any.
    public var linkedLogin: String?
}

/// GitHub's legacy node ids: base64 of `NN:Type123`.
public enum NodeID {
    /// Encodes a legacy node id.
    public static func encode(_ raw: String) -> String { Base64.encode(Array(raw.utf8)) }

    /// Decodes a legacy node id into its type name and numeric id (`User`, 123), or nil.
    public static func decode(_ id: String) -> (type: String, id: Int)? {
        guard let bytes = Base64.decode(id), let raw = String(bytes: bytes, encoding: .utf8),
            let colon = raw.firstIndex(of: ":")
        else { return nil }
        let rest = raw[raw.index(after: colon)...]
        guard let firstDigit = rest.firstIndex(where: { $0.isNumber }) else { return nil }
        let digits = rest[firstDigit...].prefix(while: { $0.isNumber })
        guard let n = Int(digits) else { return nil }
        return (String(rest[..<firstDigit]), n)
    }
}

enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
    static func decode(_ s: String) -> [UInt8]? { Data(base64Encoded: s).map(Array.init) }
}
