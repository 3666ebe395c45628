/// The size and clock of a synthetic world; the same configuration always yields the same world.
public struct WorldConfig: Sendable {
    public var seed: UInt64
    public var repoCount: Int
    public var userCount: Int
    /// The fixed "now" (epoch seconds) every date is relative to.
    public var now: Int64
    /// Large repositories (thousands of commits in the last 90 days, more than 100 contributors
    /// where the world has that many people): by default one, plus one per 500 repositories, at most
    /// four, in worlds of at least 20 repositories.
    public var largeRepoCount: Int

    public init(seed: UInt64, repoCount: Int, userCount: Int, now: Int64 = WorldTime.defaultNow, largeRepoCount: Int? = nil) {
        self.seed = seed
        self.repoCount = repoCount
        self.userCount = userCount
        self.now = now
        self.largeRepoCount = largeRepoCount ?? (repoCount >= 20 ? min(4, 1 + (repoCount - 20) / 500) : 0)
    }

    /// The ordinals of the large repositories: 3, 503, 1003, … (never an empty one).
    public var largeRepoOrdinals: Set<Int> {
        let stride = largeRepoCount * 500 <= repoCount ? 500 : max(1, repoCount / max(largeRepoCount, 1))
        var out = Set<Int>()
        var next = 3
        while out.count < largeRepoCount, next < repoCount {
            if next % 50 != 7 { out.insert(next) }
            next += stride
        }
        return out
    }
}

/// The generated world with its lookup indices. Immutable once built, so it is shared freely.
public final class World: Sendable {
    public let config: WorldConfig
    /// Every account: humans, organizations, bots, `web-flow`; ordered by id.
    public let users: [WorldUser]
    /// Ordered by id.
    public let repos: [WorldRepo]
    /// Facts for every address that appears in a commit or a profile.
    public let emails: [String: EmailFacts]
    /// The DNS data for every email domain.
    public let zone: DNSZone
    private let userIndexByLogin: [String: Int]
    private let userIndexByID: [Int: Int]
    private let repoIndexByName: [String: Int]
    private let repoIndexByID: [Int: Int]

    /// Generates the world for `config`.
    public convenience init(config: WorldConfig) {
        var generator = WorldGenerator(config: config)
        let parts = generator.generate()
        self.init(config: config, users: parts.users, repos: parts.repos, emails: parts.emails, zone: parts.zone)
    }

    init(config: WorldConfig, users: [WorldUser], repos: [WorldRepo], emails: [String: EmailFacts], zone: DNSZone) {
        self.config = config
        self.users = users
        self.repos = repos
        self.emails = emails
        self.zone = zone
        var byLogin: [String: Int] = [:]
        var byID: [Int: Int] = [:]
        for (i, u) in users.enumerated() {
            byLogin[u.login.lowercased()] = i
            byID[u.id] = i
        }
        userIndexByLogin = byLogin
        userIndexByID = byID
        var byName: [String: Int] = [:]
        var byRepoID: [Int: Int] = [:]
        for (i, r) in repos.enumerated() {
            byName[r.fullName.lowercased()] = i
            byRepoID[r.id] = i
        }
        repoIndexByName = byName
        repoIndexByID = byRepoID
    }

    /// The account with this login (case-insensitive); a previous login does not resolve.
    public func user(login: String) -> WorldUser? { userIndexByLogin[login.lowercased()].map { users[$0] } }

    /// The account with this numeric id.
    public func user(id: Int) -> WorldUser? { userIndexByID[id].map { users[$0] } }

    /// The repository `owner/name` (case-insensitive).
    public func repo(owner: String, name: String) -> WorldRepo? {
        repoIndexByName["\(owner)/\(name)".lowercased()].map { repos[$0] }
    }

    /// The repository with this numeric id.
    public func repo(id: Int) -> WorldRepo? { repoIndexByID[id].map { repos[$0] } }

    /// Repositories owned by an account, by id.
    public func repos(ownedBy ownerID: Int) -> [WorldRepo] { repos.filter { $0.ownerID == ownerID } }
}
