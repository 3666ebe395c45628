import CMOBasics
import CMOEmail
import Foundation

/// Turns repositories' commit histories into people: linked, human authors active in the window,
/// the top few per repository, merged across repositories, with every usable email and its
/// provenance. Noreply addresses and bots never come out.
public final class GitHubPeople {
    final class Person {
        let id: Int
        var login: String
        var commits = 0
        var last = ""
        var titles: [(date: String, title: String)] = []
        /// Repository → this person's commits in it.
        var repos: [(name: String, commits: Int)] = []
        var maintainerOf: Set<String> = []
        /// Lower-cased address → newest evidence.
        var emails: [String: EmailEvidence] = [:]
        init(id: Int, login: String) {
            self.id = id
            self.login = login
        }
    }

    /// What the input repo record said about a repository: its stars, language and topics, and the
    /// search it was found through.
    public struct RepoFacts: Sendable {
        public var stars: Int?
        public var language: String?
        public var topics: [String]
        public var query: GitHubQueryTerms

        public init(stars: Int?, language: String?, topics: [String], query: GitHubQueryTerms) {
            self.stars = stars
            self.language = language
            self.topics = topics
            self.query = query
        }

        /// Whether the repository matched its search's languages (any does when none were named).
        var matched: Bool { query.matches(language: language) }
    }

    let window: String
    /// Authors kept per repository (nil: all).
    let topPerRepo: Int?
    /// Commits in the window a person needs to count as a maintainer (1: everyone).
    let minCommits: Int
    private var people: [Int: Person] = [:]
    /// Lower-cased `owner/name` → the input repo record's facts; gives `signals.repo_stars`,
    /// `signals.repo`, `signals.repo_language` and `signals.matched`.
    public var repos: [String: RepoFacts] = [:]
    public private(set) var botsDropped = 0
    public private(set) var noreplyDropped = 0
    public private(set) var unlinkedCommits = 0
    private var qualified = 0

    public init(since: Date, topPerRepo: Int?, minCommits: Int = 1) {
        window = GitHubTime.format(since)
        self.topPerRepo = topPerRepo
        self.minCommits = max(1, minCommits)
    }

    /// How many distinct people with at least `minCommits` commits have been found so far.
    public var count: Int { qualified }
    /// How many people were found with fewer than `minCommits` commits (they are not written).
    public var belowMinCommits: Int { people.count - qualified }

    /// Adds one repository's commits.
    public func add(_ history: RepoHistory) {
        var byAuthor: [Int: [CommitFact]] = [:]
        var bots = Set<String>()
        for c in history.commits where c.date >= window {
            guard let id = c.userID, let login = c.login else {
                unlinkedCommits += 1
                continue
            }
            if c.bot || GitHubIdentity.isBot(login: login) {
                bots.insert(login)
                continue
            }
            byAuthor[id, default: []].append(c)
        }
        botsDropped += bots.count
        let ranked = byAuthor.sorted { a, b in
            if a.value.count != b.value.count { return a.value.count > b.value.count }
            let la = a.value.map(\.date).max() ?? ""
            let lb = b.value.map(\.date).max() ?? ""
            return la != lb ? la > lb : a.key < b.key
        }
        let owner = history.fullName.split(separator: "/").first.map { $0.lowercased() } ?? ""
        for (rank, (id, commits)) in ranked.prefix(topPerRepo ?? Int.max).enumerated() {
            let newest = commits.max { $0.date < $1.date }!
            let p = people[id] ?? Person(id: id, login: newest.login!)
            people[id] = p
            if newest.date >= p.last {
                p.last = newest.date
                p.login = newest.login!  // the newest login wins after a rename
            }
            let before = p.commits
            p.commits += commits.count
            if before < minCommits, p.commits >= minCommits { qualified += 1 }
            p.repos.append((history.fullName, commits.count))
            if rank == 0 || p.login.lowercased() == owner { p.maintainerOf.insert(history.fullName) }
            p.titles += commits.prefix(5).map { ($0.date, $0.title) }
            for c in commits {
                guard GitHubIdentity.isUsableEmail(c.email) else {
                    noreplyDropped += 1
                    continue
                }
                let key = c.email.lowercased()
                if let known = p.emails[key], known.lastSeen >= c.date { continue }
                p.emails[key] = EmailEvidence(
                    address: c.email, source: "commit", evidence: "\(history.fullName)@\(c.sha)", lastSeen: c.date)
            }
        }
    }

    /// Person records' fields, most commits first, at most `limit`.
    public func records(limit: Int?) -> [[(String, JSONValue)]] {
        let sorted = people.values.filter { $0.commits >= minCommits }.sorted { a, b in
            if a.commits != b.commits { return a.commits > b.commits }
            return a.last != b.last ? a.last > b.last : a.id < b.id
        }
        return sorted.prefix(limit ?? Int.max).map { p in
            var titles: [String] = []
            let newestFirst = p.titles.sorted { $0.date != $1.date ? $0.date > $1.date : $0.title < $1.title }
            for t in newestFirst where !titles.contains(t.title) && titles.count < 5 { titles.append(t.title) }
            // Most commits first, so the order does not depend on which query came back first.
            let repos = p.repos.sorted { $0.commits != $1.commits ? $0.commits > $1.commits : $0.name < $1.name }.map(\.name)
            var signals: [JSONMember] = [
                JSONMember("commits_90d", .int(p.commits)), JSONMember("last_commit_at", .string(p.last)),
                JSONMember("maintainer_of", .array(repos.filter(p.maintainerOf.contains).map { .string($0) })),
                JSONMember("recent_commit_titles", .array(titles.map { .string($0) })),
            ]
            if let most = repos.compactMap({ self.repos[$0.lowercased()]?.stars }).max() {
                signals.append(JSONMember("repo_stars", .int(most)))
            }
            signals += matchSignals(repos: repos, maintainerOf: p.maintainerOf)
            let emails = p.emails.values.sorted { $0.lastSeen != $1.lastSeen ? $0.lastSeen > $1.lastSeen : $0.address < $1.address }
            return [
                ("kind", "person"), ("id", .int(p.id)), ("login", .string(p.login)),
                ("from_repos", .array(repos.map { .string($0) })), ("signals", .object(signals)),
                ("emails", .array(emails.map(\.json))),
            ]
        }
    }

    /// `signals.repo`: the repository the copy talks about — the first one the person maintains whose
    /// language matched the search, else the matching one they commit to most; `signals.repo_language`
    /// its language; `signals.matched` {languages, topics}: the languages of the person's matching
    /// repositories, and the topics the search named that they carry (all their topics when it named
    /// none). A person none of whose repositories matched gets no `repo`: copy must not name a
    /// repository or language the campaign did not ask for. Without repo records all are left out.
    func matchSignals(repos: [String], maintainerOf: Set<String>) -> [JSONMember] {
        let known = repos.compactMap { name in self.repos[name.lowercased()].map { (name, $0) } }
        guard !known.isEmpty else { return [] }
        let matching = known.filter { $0.1.matched }
        let pick = matching.first { maintainerOf.contains($0.0) } ?? matching.first
        var languages: [String] = []
        var topics: [String] = []
        for (_, facts) in matching {
            if let l = facts.language, !languages.contains(l) { languages.append(l) }
            let named = facts.query.topics
            for t in facts.topics where !topics.contains(t) && (named.isEmpty || named.contains(t.lowercased())) {
                topics.append(t)
            }
        }
        var out: [JSONMember] = []
        if let pick {
            out.append(JSONMember("repo", .string(pick.0)))
            if let l = pick.1.language { out.append(JSONMember("repo_language", .string(l))) }
        }
        out.append(
            JSONMember(
                "matched",
                .object([
                    JSONMember("languages", .array(languages.map { .string($0) })),
                    JSONMember("topics", .array(topics.prefix(10).map { .string($0) })),
                ])))
        return out
    }
}
