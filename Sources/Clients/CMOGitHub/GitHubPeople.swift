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
        /// Commits in the last 90 days (counted only when the window covers them).
        var commits90 = 0
        var last = ""
        /// Per repository, in the order found: this person's commits in it during the window.
        var repos: [RepoActivity] = []
        var maintainerOf: Set<String> = []
        /// Lower-cased address → newest evidence.
        var emails: [String: EmailEvidence] = [:]
        init(id: Int, login: String) {
            self.id = id
            self.login = login
        }
    }

    /// One person's commits to one repository in the window.
    struct RepoActivity {
        let name: String
        let commits: Int
        /// The newest of them (ISO 8601).
        let last: String
        /// Titles fit to quote as their own work (`CommitTitle`), newest first, distinct, at most 3.
        let titles: [String]
        /// The date of each quotable title, for the person's `recent_commit_titles` across repositories.
        let titleDates: [String]
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
    /// The window's length in days (`signals.window_days`), when known.
    let windowDays: Int?
    /// The start of the last 90 days, when the window covers them (`signals.commits_90d`).
    let last90: String?
    /// Authors kept per repository (nil: all).
    let topPerRepo: Int?
    /// Commits in the window a person needs to count as a maintainer (1: everyone).
    let minCommits: Int
    private var people: [Int: Person] = [:]
    /// Lower-cased `owner/name` → the input repo record's facts; gives each `signals.repos` entry's
    /// stars and language, `signals.repo`, `signals.repo_stars`, `signals.repo_language` and `signals.matched`.
    public var repos: [String: RepoFacts] = [:]
    public private(set) var botsDropped = 0
    public private(set) var noreplyDropped = 0
    public private(set) var unlinkedCommits = 0
    private var qualified = 0

    /// Commits since `since` count. With `windowDays` (the days from `since` to now) the records say
    /// which window their counts cover (`window_days`, `window_start`), and `commits_90d` is written
    /// when the window holds the last 90 days.
    public init(since: Date, windowDays: Int? = nil, topPerRepo: Int?, minCommits: Int = 1) {
        window = GitHubTime.format(since)
        self.windowDays = windowDays
        last90 = windowDays.flatMap { $0 >= 90 ? GitHubTime.format(since.addingTimeInterval(Double($0 - 90) * 86400)) : nil }
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
            let newestFirst = commits.sorted { $0.date != $1.date ? $0.date > $1.date : $0.sha < $1.sha }
            let newest = newestFirst[0]
            let p = people[id] ?? Person(id: id, login: newest.login!)
            people[id] = p
            if newest.date >= p.last {
                p.last = newest.date
                p.login = newest.login!  // the newest login wins after a rename
            }
            let before = p.commits
            p.commits += commits.count
            if let last90 { p.commits90 += commits.count { $0.date >= last90 } }
            if before < minCommits, p.commits >= minCommits { qualified += 1 }
            // Only the person's own work is quoted: no merges, reverts, bumps, README or typo fixes.
            var titles: [String] = []
            var dates: [String] = []
            for c in newestFirst where titles.count < 3 {
                let t = c.title.trimmingCharacters(in: .whitespaces)
                guard !titles.contains(t), CommitTitle.isQuotable(t) else { continue }
                titles.append(t)
                dates.append(c.date)
            }
            p.repos.append(RepoActivity(name: history.fullName, commits: commits.count, last: newest.date, titles: titles, titleDates: dates))
            if rank == 0 || p.login.lowercased() == owner { p.maintainerOf.insert(history.fullName) }
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
        return sorted.prefix(limit ?? Int.max).map(record)
    }

    /// One person's record fields.
    func record(_ p: Person) -> [(String, JSONValue)] {
        // Most commits first, so the order does not depend on which query came back first.
        let activity = p.repos.sorted { $0.commits != $1.commits ? $0.commits > $1.commits : $0.name < $1.name }
        let repos = activity.map(\.name)
        var titles: [String] = []
        var dated: [(date: String, title: String)] = []
        for a in activity { for (d, t) in zip(a.titleDates, a.titles) { dated.append((d, t)) } }
        dated.sort { $0.date != $1.date ? $0.date > $1.date : $0.title < $1.title }
        for (_, t) in dated where !titles.contains(t) && titles.count < 5 { titles.append(t) }
        var signals: [JSONMember] = []
        if let windowDays {
            signals += [JSONMember("window_days", .int(windowDays)), JSONMember("window_start", .string(window))]
        }
        signals.append(JSONMember("commits_in_window", .int(p.commits)))
        if last90 != nil { signals.append(JSONMember("commits_90d", .int(p.commits90))) }
        signals += [
            JSONMember("last_commit_at", .string(p.last)),
            JSONMember("maintainer_of", .array(repos.filter(p.maintainerOf.contains).map { .string($0) })),
            JSONMember("recent_commit_titles", .array(titles.map { .string($0) })),
            JSONMember("repos", .array(activity.map(repoFacts))),
        ]
        signals += matchSignals(activity, maintainerOf: p.maintainerOf)
        let emails = p.emails.values.sorted { $0.lastSeen != $1.lastSeen ? $0.lastSeen > $1.lastSeen : $0.address < $1.address }
        return [
            ("kind", "person"), ("id", .int(p.id)), ("login", .string(p.login)),
            ("from_repos", .array(repos.map { .string($0) })), ("signals", .object(signals)),
            ("emails", .array(emails.map(\.json))),
        ]
    }

    /// One `signals.repos` entry: the person's commits to the repository in the window, the newest
    /// one's date, their quotable titles, and the repository's own stars and language.
    func repoFacts(_ a: RepoActivity) -> JSONValue {
        var m: [JSONMember] = [
            JSONMember("repo", .string(a.name)), JSONMember("commits_in_window", .int(a.commits)),
            JSONMember("last_commit_at", .string(a.last)),
        ]
        if let facts = repos[a.name.lowercased()] {
            if let stars = facts.stars { m.append(JSONMember("stars", .int(stars))) }
            if let language = facts.language { m.append(JSONMember("language", .string(language))) }
        }
        m.append(JSONMember("commit_titles", .array(a.titles.map { .string($0) })))
        return .object(m)
    }

    /// `signals.repo`: the repository the copy talks about — the first one the person maintains whose
    /// language matched the search, else the matching one they commit to most; `signals.repo_language`
    /// its language, `signals.repo_stars` its stars (never another repository's), and the person's own
    /// facts in it: `repo_commits_in_window`, `repo_last_commit_at` and `repo_commit_title` (their
    /// newest quotable title there, when they have one), so that copy naming the repository quotes
    /// counts and titles from that repository only. `signals.matched` {languages, topics}: the
    /// languages of the person's matching repositories, and the topics the search named that they
    /// carry (all their topics when it named none). A person none of whose repositories matched gets
    /// no `repo`: copy must not name a repository or language the campaign did not ask for. Without
    /// repo records all are left out.
    func matchSignals(_ activity: [RepoActivity], maintainerOf: Set<String>) -> [JSONMember] {
        let known = activity.compactMap { a in self.repos[a.name.lowercased()].map { (a, $0) } }
        guard !known.isEmpty else { return [] }
        let matching = known.filter { $0.1.matched }
        let pick = matching.first { maintainerOf.contains($0.0.name) } ?? matching.first
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
        if let (a, facts) = pick {
            out.append(JSONMember("repo", .string(a.name)))
            if let l = facts.language { out.append(JSONMember("repo_language", .string(l))) }
            if let stars = facts.stars { out.append(JSONMember("repo_stars", .int(stars))) }
            out.append(JSONMember("repo_commits_in_window", .int(a.commits)))
            out.append(JSONMember("repo_last_commit_at", .string(a.last)))
            if let title = a.titles.first { out.append(JSONMember("repo_commit_title", .string(title))) }
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
