import CMOBasics
import CMOEmail
import CMOHTTP
import Foundation

/// Which GitHub API a stage reads through.
public enum GitHubAPIMode: String, Sendable, CaseIterable, SettingValue {
    case graphql, rest
    public init?(yaml: Any) { self.init(rawValue: (yaml as? String)?.lowercased() ?? "") }
    public init?(environment: String) { self.init(rawValue: environment.lowercased()) }
    public var settingDescription: String { rawValue }
}


/// Reads repositories' recent commit histories as cheaply as GitHub allows: many repositories per
/// GraphQL query (aliases; a history page of 100 costs about 1/100 of a point), or REST
/// `/repos/{o}/{r}/commits` with ETags. With a `GitHubState`, a repository whose `pushed_at` has not
/// changed since the last run costs nothing, and a changed one is read only from its newest known commit.
public final class GitHubHistoryFetcher {
    let api: GitHubAPI
    let logger: Logger
    let state: GitHubState?
    public var mode = GitHubAPIMode.graphql
    public var batch = AdaptiveBatchSize(50, maximum: 100)
    /// GraphQL queries in flight at once.
    public var parallel = 4
    /// Pages of 100 commits read per repository and run at most: a busy repository has thousands of
    /// commits in a 90-day window, and the oldest of them are still that window's people.
    public var maxPagesPerRepo = 50
    /// REST requests per `perform`: histories are stored after each slice.
    public var restSlice = 25
    /// False reads every window again (the results are still stored).
    public var useStored = true
    public private(set) var reposRead = 0
    public private(set) var reposUnchanged = 0
    public private(set) var reposMissing = 0

    public init(api: GitHubAPI, logger: Logger, state: GitHubState?) {
        self.api = api
        self.logger = logger
        self.state = state
    }

    struct Job {
        var fullName: String
        var pushedAt: String?
        var since: String
        var after: String?
        var pages = 0
        var base: RepoHistory?
        /// The end of a slice of the window (inclusive), when a busy repository is read in slices.
        var until: String? = nil
    }

    /// Calls `ready` with each repository's history from `since` on, as each is complete (cached ones
    /// first); `ready` returning true stops further reading.
    public func fetch(_ repos: [(fullName: String, pushedAt: String?)], since: Date, ready: (RepoHistory) throws -> Bool) throws {
        let window = GitHubTime.format(since)
        let cached = useStored ? try state?.histories(repos.map(\.fullName)) ?? [:] : [:]
        var jobs: [Job] = []
        for repo in repos {
            let known = cached[repo.fullName.lowercased()].flatMap { $0.coveredSince <= window ? $0 : nil }
            if let known, repo.pushedAt != nil, known.pushedAt == repo.pushedAt {
                reposUnchanged += 1
                var h = known
                h.commits.removeAll { $0.date < window }
                if try ready(h) { return }
                continue
            }
            // Only what is newer than the newest commit already known (inclusive: dupes are dropped by sha).
            let from = max(window, known?.newest ?? window)
            jobs.append(Job(fullName: repo.fullName, pushedAt: repo.pushedAt, since: from, base: known))
        }
        if !jobs.isEmpty { try api.preflight([mode == .graphql ? "graphql" : "core"]) }
        var partial: [String: [CommitFact]] = [:]
        var stopped = false
        func finish(_ job: Job, commits: [CommitFact], pushedAt: String?, exists: Bool) throws -> Bool {
            var seen = Set<String>()
            let all = (commits + (job.base?.commits ?? [])).filter { $0.date >= window && seen.insert($0.sha).inserted }
            let h = RepoHistory(
                fullName: job.fullName, pushedAt: pushedAt ?? job.pushedAt, coveredSince: window,
                commits: all.sorted { $0.date > $1.date }, exists: exists)
            reposRead += 1
            if !exists { reposMissing += 1 }
            try state?.save([h])
            if try ready(h) { stopped = true }
            return stopped
        }
        switch mode {
        case .graphql:
            // A busy repository (more pages than one) is read in time slices, all at once, instead of
            // one cursor page per round: its history is complete when every slice is.
            var slices: [String: Int] = [:]
            var pagesRead: [String: Int] = [:]
            try api.runBatches(
                jobs, size: &batch, parallel: parallel, logger: logger, query: Self.query,
                handle: { batch, reply in
                    var next: [Job] = []
                    for (i, var job) in batch.enumerated() {
                        guard let repo = reply.data?["r\(i)"], repo != .null else {
                            _ = try finish(job, commits: [], pushedAt: nil, exists: false)
                            continue
                        }
                        let history = repo["defaultBranchRef"]?["target"]?["history"]
                        let facts = (history?["nodes"]?.arrayValue ?? []).compactMap(Self.fact(graphQL:))
                        partial[job.fullName, default: []] += facts
                        job.pages += 1
                        pagesRead[job.fullName, default: 0] += 1
                        let more = history?["pageInfo"]?["hasNextPage"]?.boolValue == true
                        let budget = maxPagesPerRepo - pagesRead[job.fullName, default: 0]
                        if more, budget > 0, job.after == nil, job.until == nil,
                            let split = Self.slices(job, total: history?["totalCount"]?.intValue, oldest: facts.last?.date, budget: budget)
                        {
                            slices[job.fullName, default: 1] += split.count - 1
                            next += split
                        } else if more, budget > 0, let cursor = history?["pageInfo"]?["endCursor"]?.stringValue {
                            job.after = cursor
                            next.append(job)
                        } else {
                            if more { self.capped(job) }
                            slices[job.fullName, default: 1] -= 1
                            guard slices[job.fullName, default: 0] <= 0 else { continue }
                            slices[job.fullName] = nil
                            let commits = partial.removeValue(forKey: job.fullName) ?? []
                            _ = try finish(job, commits: commits, pushedAt: repo["pushedAt"]?.stringValue ?? job.pushedAt, exists: true)
                        }
                    }
                    return next
                }, stop: { stopped })
        case .rest:
            var round = jobs.map { job in
                (job, api.url("/repos/\(job.fullName)/commits", [("since", job.since), ("per_page", "100")]))
            }
            // A run that ends early (69, 75, or killed) keeps what it read: every history completed
            // before the failure is stored, so the re-run reads only the rest. Requests go one at a
            // time anyway (GitHubAPI.getEach), so reading a round in slices costs nothing.
            var failure: Error?
            while !round.isEmpty, !stopped, failure == nil {
                var next: [(Job, String)] = []
                for slice in stride(from: 0, to: round.count, by: restSlice).map({ round[$0..<min($0 + restSlice, round.count)] })
                where !stopped && failure == nil {
                    let results = api.getEach(slice.map(\.1), bucket: "core")
                    for ((job, _), result) in zip(slice, results) where !stopped {
                        let reply: RESTReply
                        switch result {
                        case .success(let r): reply = r
                        case .failure(let e):
                            failure = failure ?? e
                            continue
                        }
                        var job = job
                        switch reply.status {
                        case 200:
                            partial[job.fullName, default: []] += (reply.json?.arrayValue ?? []).compactMap(Self.fact(rest:))
                            job.pages += 1
                            if let link = reply.next, job.pages < maxPagesPerRepo {
                                next.append((job, link))
                            } else {
                                if reply.next != nil { capped(job) }
                                _ = try finish(job, commits: partial.removeValue(forKey: job.fullName) ?? [], pushedAt: nil, exists: true)
                            }
                        case 409: _ = try finish(job, commits: [], pushedAt: nil, exists: true)  // empty repository
                        case 404, 451: _ = try finish(job, commits: [], pushedAt: nil, exists: false)
                        default:
                            failure =
                                failure
                                ?? ServiceAnswer.failure(
                                    service: "GitHub", request: "\(job.fullName)'s commits", status: reply.status,
                                    said: reply.json?["message"]?.stringValue ?? "", notFound: "check GITHUB_API_URL")
                        }
                    }
                }
                round = next
            }
            if let failure { throw failure }
        }
    }

    /// The rest of a busy repository's window after its first page (`since` up to the oldest commit
    /// on it), cut into as many equal time slices as pages are left to read (at most `budget`), each
    /// read by cursor on its own; commits on a slice's edge come twice and are dropped by sha. Nil
    /// when one more page holds the rest.
    static func slices(_ job: Job, total: Int?, oldest: String?, budget: Int) -> [Job]? {
        guard let total, let oldest, let from = GitHubTime.parse(job.since), let to = GitHubTime.parse(oldest) else { return nil }
        let count = min(budget, (total - 100 + 99) / 100)
        let span = to.timeIntervalSince(from)
        guard count >= 2, span >= Double(count) else { return nil }
        return (0..<count).map { k in
            var slice = job
            slice.since = GitHubTime.format(from.addingTimeInterval(span * Double(k) / Double(count)))
            slice.until = GitHubTime.format(k == count - 1 ? to : from.addingTimeInterval(span * Double(k + 1) / Double(count)))
            slice.after = nil
            return slice
        }
    }

    /// Says so when a repository has more commits in the window than `maxPagesPerRepo` pages hold.
    func capped(_ job: Job) {
        logger.info(
            "\(job.fullName): read the newest \(job.pages * 100) commits since \(job.since); older ones in the window are skipped (\(maxPagesPerRepo) pages a repository)"
        )
    }

    /// One GraphQL document reading a page of history for each job.
    static func query(_ jobs: [Job]) -> String {
        var q = "query {\n"
        for (i, job) in jobs.enumerated() {
            let parts = job.fullName.split(separator: "/", maxSplits: 1).map(String.init)
            let owner = parts.first ?? ""
            let name = parts.count > 1 ? parts[1] : ""
            let after =
                (job.until.map { ", until: \(GitHubAPI.literal($0))" } ?? "")
                + (job.after.map { ", after: \(GitHubAPI.literal($0))" } ?? "")
            q += """
                  r\(i): repository(owner: \(GitHubAPI.literal(owner)), name: \(GitHubAPI.literal(name))) { pushedAt \
                defaultBranchRef { target { ... on Commit { history(first: 100, since: \(GitHubAPI.literal(job.since))\(after)) { \
                totalCount pageInfo { hasNextPage endCursor } nodes { oid messageHeadline committedDate \
                author { email user { login databaseId } } } } } } } }

                """
        }
        return q + "  rateLimit { cost remaining resetAt }\n}"
    }

    static func fact(graphQL n: JSONValue) -> CommitFact? {
        guard let sha = n["oid"]?.stringValue, let date = n["committedDate"]?.stringValue else { return nil }
        let user = n["author"]?["user"]
        let login = user?["login"]?.stringValue
        return CommitFact(
            sha: sha, date: date, title: n["messageHeadline"]?.stringValue ?? "", email: n["author"]?["email"]?.stringValue ?? "",
            login: login, userID: user?["databaseId"]?.intValue, bot: login.map { GitHubIdentity.isBot(login: $0) } ?? false)
    }

    static func fact(rest n: JSONValue) -> CommitFact? {
        guard let sha = n["sha"]?.stringValue else { return nil }
        let commit = n["commit"]
        let date = commit?["committer"]?["date"]?.stringValue ?? commit?["author"]?["date"]?.stringValue ?? ""
        let message = commit?["message"]?.stringValue ?? ""
        let author = n["author"].flatMap { $0 == .null ? nil : $0 }
        let login = author?["login"]?.stringValue
        return CommitFact(
            sha: sha, date: date, title: String(message.split(separator: "\n", omittingEmptySubsequences: false).first ?? ""),
            email: commit?["author"]?["email"]?.stringValue ?? "", login: login, userID: author?["id"]?.intValue,
            bot: login.map { GitHubIdentity.isBot(login: $0, type: author?["type"]?.stringValue) } ?? false)
    }
}
