import ArgumentParser
import CMOBasics
import CMOStageKit
import CMOHTTP
import CMOGitHub
import Foundation

@main
struct GHSearch: Stage {
    static let stageName = "gh-search"
    static let configuration = CommandConfiguration(
        commandName: stageName,
        abstract: "Find GitHub repositories and write one repo record per repository.",
        discussion: """
            INPUT
              With --query or any structured flag (--language, --topic, --min-stars, --active-days): none; \
            stdin is not read. Otherwise query records on stdin, one search per record: a 'query' string in \
            GitHub's syntax, or the fields 'language' (a name or an array of names), 'topics' (array), \
            'min_stars', 'active_days', and optionally 'max_repos' and 'sort'. A record with neither is \
            dead-lettered (missing_query), and so is one whose query GitHub refuses (query_rejected).

            OUTPUT
              One repo record per repository, as pages arrive: kind "repo", id, full_name, stars, language, \
            topics, pushed_at, description, html_url, query (the search that found it). A repository found \
            by several searches is written once. Records from a query record keep every field of it (the \
            query is replaced).

            Several languages (--language go --language rust, or several language: words in a query) are \
            searched one by one, one search each (a repository has one primary language, so 'language:go \
            language:rust' read together finds nothing), and merged: --max-repos is shared equally among \
            them, and what a language cannot fill goes to the others. Several topics all apply at once (a \
            repository has many topics).

            Searches past GitHub's 1000-results cap are split into star ranges, then creation-date ranges, \
            until every slice fits; pages are followed through the Link header. A closed stdout stops the \
            search before the next page.

            SIDE EFFECTS
              GET /search/repositories (the 30-a-minute search bucket; never sent while it is empty), after \
            one GET /rate_limit (free) so that a bucket an earlier run emptied is waited for. ETags are kept \
            in CMO_STATE_DIR/http-cache.sqlite so an unchanged page costs nothing next time.

            ENVIRONMENT
              GITHUB_TOKEN (required), GITHUB_API_URL (default https://api.github.com; GitHub Enterprise \
            Server's /api/v3 or the sandbox), CMO_STATE_DIR, CMO_NOW, CMO_MAX_WAIT, CMO_CONCURRENCY, \
            CMO_LOG_FORMAT, CMO_DEAD_LETTER, CMO_MAX_ERRORS, NO_COLOR.

            EXIT STATUS
              0 done (or the reader downstream closed the pipe), 1 internal error or too many dead letters, \
            64 bad flags or a flag query GitHub refused, 69 GitHub failing after retries, 75 a rate limit \
            needs a longer wait than --max-wait (re-run later: pages already seen come back as free 304s), \
            74 stdout or a state file cannot be written (disk full), 77 token rejected, 78 GITHUB_TOKEN \
            missing or bad config.

            EXAMPLES
              Python repositories pushed to in the last 90 days, most stars first:
                gh-search --language python --active-days 90 --max-repos 200 > repos.ndjson
              Go or Rust, 100 repositories each (more of one when the other has fewer):
                gh-search --language go --language rust --max-repos 200
              A search in GitHub's own syntax, just the names:
                gh-search --query 'topic:pytest stars:>=100' | jq -r .full_name
              One search per query record (a file of campaigns):
                printf '%s\\n' '{"language":"go"}' '{"query":"topic:cli"}' | gh-search
            """,
        version: CMOVersion.string
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var http: HTTPOptions

    @Option(help: ArgumentHelp("Search in GitHub's syntax ('language:python topic:pytest stars:>100').", valueName: "q"))
    var query: String?

    @Option(help: ArgumentHelp("Primary language (repeatable: one search per language, merged; adds language:NAME).", valueName: "name"))
    var language: [String] = []

    @Option(help: ArgumentHelp("A topic the repository has (repeatable; adds topic:NAME).", valueName: "name"))
    var topic: [String] = []

    @Option(help: ArgumentHelp("At least this many stars (adds stars:>=N).", valueName: "n"))
    var minStars: Int?

    @Option(help: ArgumentHelp("Pushed to within this many days (adds pushed:>=DATE).", valueName: "days"))
    var activeDays: Int?

    @Option(help: ArgumentHelp("Stop after this many repositories per search (default 1000; 0 = no limit).", valueName: "n"))
    var maxRepos: Int?

    @Option(help: ArgumentHelp("Order: 'stars' (default, most first), 'updated', or 'best-match'.", valueName: "order"))
    var sort: String?

    @Option(help: ArgumentHelp("The time --active-days counts back from (ISO 8601; default now).", valueName: "time"))
    var now: String?

    struct Plan {
        var endpoint: GitHubEndpoint
        /// One search per language (one in all without languages); empty when nothing was given.
        var queries: [String]
        var maxRepos: Int?
        var sort: String?
        var now: Date
    }

    func validate() throws {
        if let maxRepos, maxRepos < 0 { throw ValidationError("'--max-repos' must be 0 or more") }
        if let activeDays, activeDays < 1 { throw ValidationError("'--active-days' must be 1 or more") }
        if let sort, !["stars", "updated", "best-match"].contains(sort) {
            throw ValidationError("'--sort' must be 'stars', 'updated' or 'best-match'")
        }
    }

    func configure(_ settings: Settings) throws -> Plan {
        let now = try GitHubTime.now(settings, flag: self.now)
        let max = try settings.resolve("max-repos", flag: maxRepos, default: 1000)
        let sort = try settings.resolve("sort", flag: sort, default: "stars")
        let queries = Self.compose(
            query: try settings.resolve("query", flag: query),
            languages: try settings.resolve("language", flag: language.isEmpty ? nil : language, default: []),
            topics: try settings.resolve("topic", flag: topic.isEmpty ? nil : topic, default: []),
            minStars: try settings.resolve("min-stars", flag: minStars), activeDays: try settings.resolve("active-days", flag: activeDays),
            now: now)
        return Plan(
            endpoint: try GitHubEndpoint.resolve(settings), queries: queries, maxRepos: max == 0 ? nil : max,
            sort: sort == "best-match" ? nil : sort, now: now)
    }

    /// The searches from the free text and the structured parts: one per language (a repository has one
    /// primary language, so languages are alternatives), one in all without languages; none when nothing
    /// was given.
    static func compose(query: String?, languages: [String], topics: [String], minStars: Int?, activeDays: Int?, now: Date) -> [String] {
        let head = query.map { [$0] } ?? []
        var tail = topics.map { "topic:\($0)" }
        if let minStars { tail.append("stars:>=\(minStars)") }
        if let activeDays { tail.append("pushed:>=\(GitHubTime.day(now.addingTimeInterval(-Double(activeDays) * 86400)))") }
        var names: [String] = []
        for l in languages.map({ $0.trimmingCharacters(in: .whitespaces) }) where !l.isEmpty {
            if !names.contains(where: { $0.lowercased() == l.lowercased() }) { names.append(l) }
        }
        let searches = names.isEmpty ? [head + tail] : names.map { head + ["language:\(quoted($0))"] + tail }
        // `--query 'language:rust language:go'` (a plan from before, a model's query) is split the same way.
        return searches.map { $0.joined(separator: " ").trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .flatMap(GitHubRepoSearch.splitLanguages)
    }

    /// A language name as a qualifier value: quoted when it holds a space (`"visual basic"`).
    static func quoted(_ name: String) -> String { name.contains(" ") ? "\"\(name)\"" : name }

    func process(_ context: StageContext, plan: Plan) throws {
        let api = GitHubAPI(plan.endpoint, http: try context.makeHTTPClient(http), logger: context.logger)
        let search = GitHubRepoSearch(api: api, logger: context.logger)
        defer {
            context.extraSummary += [("search_pages", .int(search.pages)), ("splits", .int(search.splits))]
            if search.incompletePages > 0 { context.extraSummary.append(("incomplete_pages", .int(search.incompletePages))) }
            if search.cappedSlices > 0 { context.extraSummary.append(("capped_slices", .int(search.cappedSlices))) }
        }
        let today = GitHubSearchSlice.dayNumber(plan.now)
        // A search that finds nothing is said as such, not left to be read from "0 out".
        var empty: [String] = []
        defer { Self.warnAboutEmptySearches(empty, context: context) }
        func run(_ base: Record, queries: [String], limit: Int?, sort: String?) throws {
            search.sort = sort
            let found = try search.run(
                queries: queries, limit: limit, today: today,
                emit: { query, item in
                    var out = base
                    for (k, v) in GitHubRepoSearch.repoFields(item, query: query) { out.set(k, v) }
                    try context.emit(out)
                },
                pageDone: { try context.output.flush() })  // downstream sees each page before the next is asked for
            for (query, n) in zip(queries, found) where n == 0 { empty.append(query) }
        }
        if !plan.queries.isEmpty {
            try run(try Record(json: "{}"), queries: plan.queries, limit: plan.maxRepos, sort: plan.sort)
            return
        }
        try context.forEachRecord { record in
            let topics = record["topics"]?.arrayValue?.compactMap(\.stringValue) ?? record["topic"]?.stringValue.map { [$0] } ?? []
            let languages = record["language"]?.arrayValue?.compactMap(\.stringValue) ?? record["language"]?.stringValue.map { [$0] } ?? []
            let queries = Self.compose(
                query: record["query"]?.stringValue ?? record["q"]?.stringValue, languages: languages,
                topics: topics, minStars: record["min_stars"]?.intValue, activeDays: record["active_days"]?.intValue, now: plan.now)
            guard !queries.isEmpty else {
                context.deadLetter(
                    record, code: "missing_query", message: "record has no 'query' and no language/topics/min_stars/active_days")
                return
            }
            let limit = record["max_repos"]?.intValue.map { $0 == 0 ? nil : $0 } ?? plan.maxRepos
            let sort = record["sort"]?.stringValue.map { $0 == "best-match" ? nil : $0 } ?? plan.sort
            do {
                try run(record, queries: queries, limit: limit, sort: sort)
            } catch let e as GitHubQueryRejected {
                context.deadLetter(record, code: "query_rejected", message: e.description)
            }
        }
    }

    /// One warning naming the searches (the first five) that found no repository.
    static func warnAboutEmptySearches(_ queries: [String], context: StageContext) {
        guard !queries.isEmpty else { return }
        let shown = queries.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
        let more = queries.count > 5 ? " and \(queries.count - 5) more" : ""
        context.logger.warning(
            "\(queries.count == 1 ? "the search" : "\(queries.count) searches") \(shown)\(more) found no repositories: "
                + "widen it (fewer qualifiers, a lower stars: floor, more --active-days)")
    }
}
