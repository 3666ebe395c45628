import ArgumentParser
import CMOBasics
import CMOStageKit
import CMOHTTP
import CMOGitHub
import Foundation

@main
struct GHPeople: Stage {
    static let stageName = "gh-people"
    static let configuration = CommandConfiguration(
        commandName: stageName,
        abstract: "Turn repo records into the people who recently committed to them, with their commit emails.",
        discussion: """
            INPUT
              Repo records (from gh-search): 'full_name' ("owner/name") is required; 'pushed_at' lets an \
            unchanged repository be skipped. A record without full_name is dead-lettered (missing_full_name); \
            a repeated repository is counted as filtered (duplicate). Other fields are not used.

            OUTPUT
              Once the input is read (with --max-people: once that many people are found, reading input in \
            chunks of 4 x --batch-size and stopping there, so gh-search upstream stops too), one person \
            record per GitHub account, most commits first: kind \
            "person", id (GitHub's numeric user id), login, from_repos, signals {window_days (the --since-days \
            the counts cover), window_start (when that window began), commits_in_window (the person's commits \
            in the window, all their repositories together), commits_90d (their commits in the last 90 days; \
            written only when the window covers 90 days or more), last_commit_at (their newest commit in the \
            window), maintainer_of (repositories the person owns or commits to most), recent_commit_titles \
            (up to 5 of their titles in the window, newest first), repos [{repo, commits_in_window, \
            last_commit_at, stars, language, commit_titles}] (each repository's own facts: the person's \
            commits to it in the window, the newest one's date, the repo record's stars and language, and up \
            to 3 of their titles there), repo (the repository copy should talk about: one the person \
            maintains or commits to most among those whose language matched the search in the repo record's \
            'query'), repo_language, repo_stars (that repository's own language and stars, from the repo \
            record's 'language' and 'stars' or 'stargazers_count'), repo_commits_in_window, \
            repo_last_commit_at, repo_commit_title (the person's commits to that repository in the window, \
            the newest one's date, and their newest quotable title there), matched {languages, topics} (the \
            languages of the person's matching repositories, and the topics the search named that they \
            carry)}, and emails [{address, source "commit", evidence "owner/repo@sha", \
            last_seen}]. Only authors GitHub linked to an account count; bots are dropped; \
            users.noreply.github.com and other undeliverable addresses are never written. Titles are the \
            person's own work, fit to quote: merges, reverts, version and dependency bumps, README, docs and \
            typo fixes, and titles that say nothing ("wip", "Update main.py") are left out. Each repository \
            contributes its --top-authors-per-repo most active authors; a person found in several \
            repositories comes out once, merged. A person with fewer than --min-commits commits in the window \
            (default 3: one typo fix is not a maintainer) is left out and counted as below_min_commits in \
            the summary.

            SIDE EFFECTS
              GitHub GraphQL: one query reads a page of history for up to --batch-size repositories at once \
            (aliases; a history page of 100 costs about a hundredth of a point; batches halve on timeouts, \
            resource-limit errors or 502/504 and grow back up to 250); --api rest reads \
            /repos/{owner}/{repo}/commits with ETags instead. Histories and their cursors are kept in \
            CMO_STATE_DIR/github.sqlite: a repository whose pushed_at did not change costs nothing the next \
            time, and a changed one is read only from its newest known commit. One GET /rate_limit (free) comes \
            first; queries in flight never cost more than the points left.

            ENVIRONMENT
              GITHUB_TOKEN (required), GITHUB_API_URL, CMO_STATE_DIR, CMO_NOW, CMO_MAX_WAIT, CMO_CONCURRENCY, \
            CMO_LOG_FORMAT, CMO_DEAD_LETTER, CMO_MAX_ERRORS, NO_COLOR.

            EXIT STATUS
              0 done (or the reader downstream closed the pipe), 1 internal error or too many dead letters, \
            64 bad flags, 65 input is not NDJSON, 69 GitHub failing after retries, 74 stdout or a state file \
            cannot be written (disk full), 75 a rate limit needs a longer wait than --max-wait (re-run later: \
            histories already read are kept), 77 token rejected, \
            78 GITHUB_TOKEN missing or bad config.

            EXAMPLES
              The people who committed at least 3 times in 90 days to active Python repositories:
                gh-search --language python --active-days 90 --max-repos 200 | gh-people > people.ndjson
              Everyone who committed, through REST instead of GraphQL:
                gh-people --min-commits 1 --api rest < repos.ndjson
              Stop at the first 500 people (gh-search upstream stops too):
                gh-search --query 'topic:cli stars:>=100' | gh-people --max-people 500 | head -5
            """,
        version: CMOVersion.string
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var http: HTTPOptions

    @Option(help: ArgumentHelp("Commits from the last N days count (default 90).", valueName: "days"))
    var sinceDays: Int?

    @Option(help: ArgumentHelp("Most active authors kept per repository (default 5; 0 = all).", valueName: "n"))
    var topAuthorsPerRepo: Int?

    @Option(help: ArgumentHelp("Stop once this many people are found; write at most this many (default: no limit).", valueName: "n"))
    var maxPeople: Int?

    @Option(
        help: ArgumentHelp(
            "Commits in the window a person needs to count as a maintainer (default 3; 1 = everyone who committed).",
            valueName: "n"))
    var minCommits: Int?

    @Option(help: ArgumentHelp("'graphql' (default: many repositories per query) or 'rest' (the commits endpoint).", valueName: "api"))
    var api: GitHubAPIMode?

    @Option(
        help: ArgumentHelp(
            "Repositories per GraphQL query to start with (default 100, at most 250; halves on timeouts, grows back to 250).",
            valueName: "n"))
    var batchSize: Int?

    @Flag(help: "Ignore the stored histories and read every repository's window again (then store it).")
    var refresh = false

    @Option(help: ArgumentHelp("The time --since-days counts back from (ISO 8601; default now).", valueName: "time"))
    var now: String?

    struct Plan {
        var endpoint: GitHubEndpoint
        var since: Date
        var days: Int
        var top: Int?
        var maxPeople: Int?
        var api: GitHubAPIMode
        var batchSize: Int
        var minCommits: Int
    }

    func validate() throws {
        if let sinceDays, sinceDays < 1 { throw ValidationError("'--since-days' must be 1 or more") }
        if let topAuthorsPerRepo, topAuthorsPerRepo < 0 { throw ValidationError("'--top-authors-per-repo' must be 0 or more") }
        if let maxPeople, maxPeople < 1 { throw ValidationError("'--max-people' must be 1 or more") }
        if let minCommits, minCommits < 1 { throw ValidationError("'--min-commits' must be 1 or more") }
        if let batchSize, !(1...250).contains(batchSize) { throw ValidationError("'--batch-size' must be 1 to 250") }
        if api == .rest, batchSize != nil { throw ValidationError("'--batch-size' applies only to '--api graphql'") }
    }

    func configure(_ settings: Settings) throws -> Plan {
        let now = try GitHubTime.now(settings, flag: self.now)
        let days = try settings.resolve("since-days", flag: sinceDays, default: 90)
        let top = try settings.resolve("top-authors-per-repo", flag: topAuthorsPerRepo, default: 5)
        return Plan(
            endpoint: try GitHubEndpoint.resolve(settings), since: now.addingTimeInterval(-Double(days) * 86400),
            days: days, top: top == 0 ? nil : top, maxPeople: try settings.resolve("max-people", flag: maxPeople),
            api: try settings.resolve("api", flag: api, env: "CMO_GITHUB_API", default: .graphql),
            batchSize: try settings.resolve("batch-size", flag: batchSize, default: 100),
            minCommits: try settings.resolve("min-commits", flag: minCommits, default: 3))
    }

    func process(_ context: StageContext, plan: Plan) throws {
        var seen = Set<String>()
        var facts: [String: GitHubPeople.RepoFacts] = [:]
        let people = GitHubPeople(since: plan.since, windowDays: plan.days, topPerRepo: plan.top, minCommits: plan.minCommits)
        var fetcher: GitHubHistoryFetcher?
        var api: GitHubAPI?
        defer {
            if let fetcher, let api {
                context.extraSummary += [
                    ("repos_read", .int(fetcher.reposRead)), ("repos_unchanged", .int(fetcher.reposUnchanged)),
                    ("graphql_queries", .int(api.graphQLQueries)), ("graphql_points", .int(api.graphQLPoints)),
                    ("bots_dropped", .int(people.botsDropped)), ("below_min_commits", .int(people.belowMinCommits)),
                ]
                if fetcher.reposMissing > 0 { context.extraSummary.append(("repos_missing", .int(fetcher.reposMissing))) }
            }
        }
        // Repositories are read in chunks and their histories fetched chunk by chunk, so that with
        // --max-people the stage stops reading once it has enough people: gh-search upstream then
        // stops at its next write, and no search request is spent on repositories nobody reads.
        // Without it, every repository is read first and their histories fetched together.
        let newRepository = { (record: Record) -> (fullName: String, pushedAt: String?)? in
            guard let name = record["full_name"]?.stringValue, name.split(separator: "/").count == 2 else {
                context.deadLetter(record, code: "missing_full_name", message: "record has no 'full_name' of the form owner/name")
                return nil
            }
            guard seen.insert(name.lowercased()).inserted else {
                context.filter(record, reason: "duplicate")
                return nil
            }
            facts[name.lowercased()] = GitHubPeople.RepoFacts(
                stars: (record["stars"] ?? record["stargazers_count"])?.intValue, language: record["language"]?.stringValue,
                topics: record["topics"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                query: GitHubQueryTerms(query: record["query"]?.stringValue ?? ""))
            return (name, record["pushed_at"]?.stringValue)
        }
        var enough = false
        let stopped = try context.forEachChunkUntilStopped(
            size: plan.maxPeople == nil ? .max : plan.batchSize * 4, prepare: newRepository
        ) { repos -> ChunkLoopAction in
            if fetcher == nil {
                let client = GitHubAPI(plan.endpoint, http: try context.makeHTTPClient(http), logger: context.logger)
                let f = GitHubHistoryFetcher(api: client, logger: context.logger, state: try GitHubState())
                f.useStored = !refresh
                f.mode = plan.api
                f.batch = AdaptiveBatchSize(plan.batchSize, maximum: max(plan.batchSize, 250))
                api = client
                fetcher = f
            }
            // Histories arrive in any order (stored ones first, then as batches complete); they are
            // added in input order so that --max-people picks the same people on a cold and a warm run.
            var arrived: [String: RepoHistory] = [:]
            var next = 0
            try fetcher!.fetch(repos, since: plan.since) { history in
                guard !enough else { return true }  // the rest of a batch already in flight
                arrived[history.fullName.lowercased()] = history
                while next < repos.count, let h = arrived.removeValue(forKey: repos[next].fullName.lowercased()) {
                    next += 1
                    people.add(h)
                    if let most = plan.maxPeople, people.count >= most {
                        enough = true
                        return true
                    }
                }
                return false
            }
            return enough ? .stopReading : .continueReading
        }
        if stopped {
            context.logger.info("\(people.count) people found after \(seen.count) repositories; not reading the rest of the input")
            context.extraSummary.append(("stopped_reading", .bool(true)))
        }
        people.repos = facts
        if people.belowMinCommits > 0 {
            context.logger.info(
                "\(people.belowMinCommits) people with fewer than \(plan.minCommits) commits in the window left out (--min-commits)")
        }
        let empty = try Record(json: "{}")
        for fields in people.records(limit: plan.maxPeople) {
            var out = empty
            for (k, v) in fields { out.set(k, v) }
            try context.emit(out)
        }
    }
}

/// `--api graphql|rest`.
extension GitHubAPIMode: ExpressibleByArgument {}
