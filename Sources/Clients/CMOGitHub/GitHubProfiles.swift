import CMOBasics
import CMOEmail
import CMOHTTP
import Foundation

/// Public profiles of many users at once: up to 100 `user(login:)` aliases per GraphQL query (cost read
/// from `rateLimit`), or REST `/users/{login}` with ETags. Profiles younger than `maxAge` are reused
/// from `GitHubState`, so a re-run over the same people costs nothing.
public final class GitHubProfiles {
    let api: GitHubAPI
    let logger: Logger
    let state: GitHubState?
    public var mode = GitHubAPIMode.graphql
    public var batch = AdaptiveBatchSize(100, maximum: 100)
    public var parallel = 4
    /// Seconds a stored profile stays good (0: always fetch).
    public var maxAge: Double = 7 * 86400
    public private(set) var fetched = 0
    public private(set) var reused = 0
    public private(set) var notFound = 0

    public init(api: GitHubAPI, logger: Logger, state: GitHubState?) {
        self.api = api
        self.logger = logger
        self.state = state
    }

    /// Profiles by lower-cased login, in the shape of `normalised(graphQL:)`; missing users are absent.
    public func fetch(_ logins: [String]) throws -> [String: JSONValue] {
        var out = maxAge > 0 ? try state?.profiles(logins, fetchedAfter: Date().timeIntervalSince1970 - maxAge) ?? [:] : [:]
        reused += out.count
        var todo: [String] = []
        var seen = Set(out.keys)
        for l in logins where seen.insert(l.lowercased()).inserted { todo.append(l) }
        var fresh: [(login: String, profile: JSONValue)] = []
        if !todo.isEmpty { try api.preflight([mode == .graphql ? "graphql" : "core"]) }
        switch mode {
        case .graphql:
            try api.runBatches(
                todo, size: &batch, parallel: parallel, logger: logger, pointsPerItem: 0.07, query: Self.query,
                handle: { batch, reply in
                    for (i, login) in batch.enumerated() {
                        guard let u = reply.data?["u\(i)"], u != .null else {
                            notFound += 1
                            continue
                        }
                        let p = Self.stamped(Self.normalised(graphQL: u))
                        out[login.lowercased()] = p
                        fresh.append((login, p))
                    }
                    return []
                })
        case .rest:
            let replies = try api.get(todo.map { api.url("/users/\(GitHubAPI.encode($0))") }, bucket: "core")
            for (login, reply) in zip(todo, replies) {
                guard reply.status == 200, let u = reply.json else {
                    if reply.status == 404 {
                        notFound += 1
                        continue
                    }
                    if reply.status == 200 {
                        throw ServiceAnswer.unreadable(service: "GitHub", request: "user \(login)", status: 200)
                    }
                    throw ServiceAnswer.failure(
                        service: "GitHub", request: "user \(login)", status: reply.status,
                        said: reply.json?["message"]?.stringValue ?? "", notFound: "check GITHUB_API_URL")
                }
                let p = Self.stamped(Self.normalised(rest: u))
                out[login.lowercased()] = p
                fresh.append((login, p))
            }
        }
        fetched += fresh.count
        try state?.saveProfiles(fresh)
        return out
    }

    /// The profile with the time it was read (`fetched_at`), the `last_seen` of its email.
    static func stamped(_ p: JSONValue) -> JSONValue {
        guard case .object(var m) = p else { return p }
        m.append(JSONMember("fetched_at", .string(GitHubTime.format(Date()))))
        return .object(m)
    }

    static func query(_ logins: [String]) -> String {
        var q = "query {\n"
        for (i, login) in logins.enumerated() {
            q += """
                  u\(i): user(login: \(GitHubAPI.literal(login))) { databaseId login name email company location bio \
                websiteUrl twitterUsername isHireable followers { totalCount } \
                repositories(first: 5, privacy: PUBLIC, ownerAffiliations: OWNER, orderBy: {field: PUSHED_AT, direction: DESC}) { \
                totalCount nodes { isFork primaryLanguage { name } repositoryTopics(first: 5) { nodes { topic { name } } } } } }

                """
        }
        return q + "  rateLimit { cost remaining resetAt }\n}"
    }

    /// The profile fields gh-enrich writes, from a GraphQL `User`.
    static func normalised(graphQL u: JSONValue) -> JSONValue {
        var languages: [String: Int] = [:]
        var topics: [String: Int] = [:]
        var order: [String] = []
        for repo in u["repositories"]?["nodes"]?.arrayValue ?? [] where repo["isFork"]?.boolValue != true {
            if let l = repo["primaryLanguage"]?["name"]?.stringValue { languages[l, default: 0] += 1 }
            for t in repo["repositoryTopics"]?["nodes"]?.arrayValue ?? [] {
                guard let name = t["topic"]?["name"]?.stringValue else { continue }
                if topics[name] == nil { order.append(name) }
                topics[name, default: 0] += 1
            }
        }
        let primary = languages.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }?.key
        let topTopics = order.enumerated().sorted { a, b in
            topics[a.element]! != topics[b.element]! ? topics[a.element]! > topics[b.element]! : a.offset < b.offset
        }.prefix(10).map { JSONValue.string($0.element) }
        return profile(
            u, id: u["databaseId"], blog: u["websiteUrl"], twitter: u["twitterUsername"], followers: u["followers"]?["totalCount"],
            // isHireable is Boolean! in GraphQL; REST says null for "not marked", which false means here.
            publicRepos: u["repositories"]?["totalCount"], hireable: u["isHireable"]?.boolValue == true ? .bool(true) : .null,
            primaryLanguage: primary.map { .string($0) } ?? .null, topics: .array(Array(topTopics)))
    }

    /// The same from REST `/users/{login}` (no language or topics there).
    static func normalised(rest u: JSONValue) -> JSONValue {
        profile(
            u, id: u["id"], blog: u["blog"], twitter: u["twitter_username"], followers: u["followers"],
            publicRepos: u["public_repos"], hireable: u["hireable"], primaryLanguage: nil, topics: nil)
    }

    private static func profile(
        _ u: JSONValue, id: JSONValue?, blog: JSONValue?, twitter: JSONValue?, followers: JSONValue?, publicRepos: JSONValue?,
        hireable: JSONValue?, primaryLanguage: JSONValue?, topics: JSONValue?
    ) -> JSONValue {
        func text(_ v: JSONValue?) -> JSONValue { v?.stringValue.map { $0.isEmpty ? .null : .string($0) } ?? .null }
        var members = [
            JSONMember("login", u["login"] ?? .null), JSONMember("id", id ?? .null), JSONMember("name", text(u["name"])),
            JSONMember("company", text(u["company"])), JSONMember("location", text(u["location"])), JSONMember("bio", text(u["bio"])),
            JSONMember("blog", text(blog)), JSONMember("twitter", text(twitter)), JSONMember("followers", followers ?? .null),
            JSONMember("public_repos", publicRepos ?? .null), JSONMember("hireable", hireable ?? .null),
            JSONMember("email", text(u["email"])),
        ]
        if let primaryLanguage { members.append(JSONMember("primary_language", primaryLanguage)) }
        if let topics { members.append(JSONMember("topics", topics)) }
        return .object(members)
    }
}

/// Looks for a usable address in a person's own recent commits, with a fixed number of REST
/// requests per person: their public events name the repositories they pushed to lately, then
/// `/repos/{o}/{r}/commits?author=LOGIN` is read in those (and their known repositories) one at a time.
public final class GitHubEmailFinder {
    let api: GitHubAPI
    public let maxRequestsPerPerson: Int
    public private(set) var requests = 0
    public private(set) var found = 0

    public init(api: GitHubAPI, maxRequestsPerPerson: Int) {
        self.api = api
        self.maxRequestsPerPerson = maxRequestsPerPerson
    }

    /// For each login (with repositories already known for it), a usable email with provenance, when found.
    public func find(_ people: [(login: String, knownRepos: [String])]) throws -> [String: EmailEvidence] {
        guard maxRequestsPerPerson > 0, !people.isEmpty else { return [:] }
        var candidates = people.map { $0.knownRepos }
        var budget = Array(repeating: maxRequestsPerPerson, count: people.count)
        try api.preflight(["core"])
        if maxRequestsPerPerson >= 2 {
            // One request per person for where they pushed lately; worth it only if a commit lookup follows.
            let urls = people.map { api.url("/users/\(GitHubAPI.encode($0.login))/events/public", [("per_page", "100")]) }
            requests += urls.count
            for (i, reply) in try api.get(urls, bucket: "core").enumerated() {
                budget[i] -= 1
                var recent: [String] = []
                for event in reply.json?.arrayValue ?? [] where event["type"]?.stringValue == "PushEvent" {
                    if let name = event["repo"]?["name"]?.stringValue, !recent.contains(name) { recent.append(name) }
                }
                candidates[i] = recent + candidates[i].filter { !recent.contains($0) }
            }
        }
        var out: [String: EmailEvidence] = [:]
        while true {
            var round: [(Int, String)] = []
            for i in people.indices where budget[i] > 0 && out[people[i].login.lowercased()] == nil && !candidates[i].isEmpty {
                round.append((i, candidates[i].removeFirst()))
                budget[i] -= 1
            }
            if round.isEmpty { break }
            let urls = round.map { i, repo in
                api.url("/repos/\(repo)/commits", [("author", people[i].login), ("per_page", "20")])
            }
            requests += urls.count
            for ((i, repo), reply) in zip(round, try api.get(urls, bucket: "core")) where reply.status == 200 {
                let login = people[i].login.lowercased()
                for c in reply.json?.arrayValue ?? [] {
                    guard c["author"]?["login"]?.stringValue?.lowercased() == login,
                        let email = c["commit"]?["author"]?["email"]?.stringValue, GitHubIdentity.isUsableEmail(email),
                        let sha = c["sha"]?.stringValue
                    else { continue }
                    let date = c["commit"]?["committer"]?["date"]?.stringValue ?? c["commit"]?["author"]?["date"]?.stringValue ?? ""
                    out[login] = EmailEvidence(address: email, source: "commit", evidence: "\(repo)@\(sha)", lastSeen: date)
                    found += 1
                    break
                }
            }
        }
        return out
    }
}
