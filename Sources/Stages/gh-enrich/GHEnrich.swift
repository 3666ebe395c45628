import ArgumentParser
import CMOBasics
import CMOStageKit
import CMOHTTP
import CMOGitHub
import CMOEmail
import Foundation

@main
struct GHEnrich: Stage {
    static let stageName = "gh-enrich"
    static let configuration = CommandConfiguration(
        commandName: stageName,
        abstract: "Add GitHub profiles (and, on request, emails from people's own commits) to person records.",
        discussion: """
            INPUT
              Person records (from gh-people): 'login' is required; 'emails' and 'from_repos' are used when \
            present. A record without login is dead-lettered (missing_login).

            OUTPUT
              Each record, in input order, with every field it had kept as it was, plus: name, company, \
            location, bio, blog, twitter, followers, public_repos, hireable; the public profile email added \
            to 'emails' as {source "profile", evidence "profile"} when it is usable and new; and \
            signals.primary_language and signals.topics (from the person's five most recently pushed \
            repositories; GraphQL only). A login GitHub does not know (renamed, deleted) passes unchanged. \
            With --find-emails, a person still without a usable address gets the first one found in their \
            own recent commits (source "commit", evidence "owner/repo@sha").

            SIDE EFFECTS
              GitHub GraphQL, up to --batch-size users per query (halved on timeouts or resource-limit \
            errors), or REST /users/{login} with --api rest. --find-emails adds at most \
            --max-requests-per-person REST requests per person without an email: /users/{login}/events/public, \
            then /repos/{owner}/{repo}/commits?author=LOGIN. Profiles are kept in CMO_STATE_DIR/github.sqlite \
            and reused for --max-age-days; REST answers are conditional (ETags). One GET /rate_limit (free) comes \
            first per bucket; queries in flight never cost more than the points left.

            ENVIRONMENT
              GITHUB_TOKEN (required), GITHUB_API_URL, CMO_STATE_DIR, CMO_MAX_WAIT, CMO_CONCURRENCY, \
            CMO_LOG_FORMAT, CMO_DEAD_LETTER, CMO_MAX_ERRORS, NO_COLOR.

            EXIT STATUS
              0 done (or the reader downstream closed the pipe), 1 internal error or too many dead letters, \
            64 bad flags, 65 input is not NDJSON, 69 GitHub failing after retries, 74 stdout or a state file \
            cannot be written (disk full), 75 a rate limit needs a longer wait than --max-wait (re-run later: \
            profiles already fetched are reused), 77 token \
            rejected, 78 GITHUB_TOKEN missing or bad config.

            EXAMPLES
              Profiles for the people gh-people found:
                gh-search --language python | gh-people | gh-enrich > people.ndjson
              Also look in people's own commits when no usable email is known yet:
                gh-enrich --find-emails < people.ndjson > enriched.ndjson
              Always fetch fresh profiles, one REST call each:
                gh-enrich --max-age-days 0 --api rest < people.ndjson > fresh.ndjson
            """,
        version: CMOVersion.string
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var http: HTTPOptions

    @Option(help: ArgumentHelp("'graphql' (default: up to 100 profiles per query) or 'rest' (/users/{login}).", valueName: "api"))
    var api: GitHubAPIMode?

    @Option(help: ArgumentHelp("Users per GraphQL query to start with (default 100, at most 100).", valueName: "n"))
    var batchSize: Int?

    @Flag(help: "Look for an email in the person's own recent commits when none is usable yet.")
    var findEmails = false

    @Option(help: ArgumentHelp("REST requests per person for --find-emails (default 2).", valueName: "n"))
    var maxRequestsPerPerson: Int?

    @Option(help: ArgumentHelp("Reuse a stored profile fetched within this many days (default 7; 0 = always fetch).", valueName: "days"))
    var maxAgeDays: Double?

    struct Plan {
        var endpoint: GitHubEndpoint
        var api: GitHubAPIMode
        var batchSize: Int
        var findEmails: Bool
        var maxRequests: Int
        var maxAge: Double
    }

    func validate() throws {
        if let batchSize, !(1...100).contains(batchSize) { throw ValidationError("'--batch-size' must be 1 to 100") }
        if let maxRequestsPerPerson, maxRequestsPerPerson < 1 { throw ValidationError("'--max-requests-per-person' must be 1 or more") }
        if let maxAgeDays, maxAgeDays < 0 { throw ValidationError("'--max-age-days' must be 0 or more") }
    }

    func configure(_ settings: Settings) throws -> Plan {
        Plan(
            endpoint: try GitHubEndpoint.resolve(settings),
            api: try settings.resolve("api", flag: api, env: "CMO_GITHUB_API", default: .graphql),
            batchSize: try settings.resolve("batch-size", flag: batchSize, default: 100),
            findEmails: try settings.resolve("find-emails", flag: findEmails ? true : nil, default: false),
            maxRequests: try settings.resolve("max-requests-per-person", flag: maxRequestsPerPerson, default: 2),
            maxAge: try settings.resolve("max-age-days", flag: maxAgeDays, default: 7) * 86400)
    }

    func process(_ context: StageContext, plan: Plan) throws {
        let api = GitHubAPI(plan.endpoint, http: try context.makeHTTPClient(http), logger: context.logger)
        let profiles = GitHubProfiles(api: api, logger: context.logger, state: try GitHubState())
        profiles.mode = plan.api
        profiles.batch = AdaptiveBatchSize(plan.batchSize, maximum: 100)
        profiles.maxAge = plan.maxAge
        let finder = GitHubEmailFinder(api: api, maxRequestsPerPerson: plan.findEmails ? plan.maxRequests : 0)
        defer {
            context.extraSummary += [
                ("profiles_fetched", .int(profiles.fetched)), ("profiles_reused", .int(profiles.reused)),
                ("not_found", .int(profiles.notFound)), ("graphql_queries", .int(api.graphQLQueries)),
                ("graphql_points", .int(api.graphQLPoints)),
            ]
            if plan.findEmails { context.extraSummary += [("emails_found", .int(finder.found)), ("find_requests", .int(finder.requests))] }
        }
        // Chunks big enough to fill a few full queries; small enough that output streams.
        let withLogin = { (record: Record) -> Record? in
            guard record["login"]?.stringValue?.isEmpty == false else {
                context.deadLetter(record, code: "missing_login", message: "record has no 'login'")
                return nil
            }
            return record
        }
        try context.forEachChunk(size: 4 * plan.batchSize, prepare: withLogin) { chunk in
            let found = try profiles.fetch(chunk.compactMap { $0["login"]?.stringValue })
            var enriched = chunk.map { record -> Record in
                guard let p = found[record["login"]!.stringValue!.lowercased()] else { return record }
                return Self.apply(p, to: record)
            }
            let needing = enriched.indices.filter { !Self.hasUsableEmail(enriched[$0]) }
            let more = try finder.find(
                needing.map {
                    (enriched[$0]["login"]!.stringValue!, enriched[$0]["from_repos"]?.arrayValue?.compactMap(\.stringValue) ?? [])
                })
            for i in needing {
                guard let e = more[enriched[i]["login"]!.stringValue!.lowercased()] else { continue }
                enriched[i].set("emails", .array((enriched[i]["emails"]?.arrayValue ?? []) + [e.json]))
            }
            for r in enriched { try context.emit(r) }
        }
    }

    static func hasUsableEmail(_ record: Record) -> Bool {
        (record["emails"]?.arrayValue ?? []).contains { $0["address"]?.stringValue.map(GitHubIdentity.isUsableEmail) ?? false }
    }

    /// The profile's fields set on the record; its email added with provenance; signals extended.
    static func apply(_ p: JSONValue, to record: Record) -> Record {
        var r = record
        for key in ["name", "company", "location", "bio", "blog", "twitter", "followers", "public_repos", "hireable"] {
            r.set(key, p[key] ?? .null)
        }
        if let email = p["email"]?.stringValue, GitHubIdentity.isUsableEmail(email) {
            var emails = r["emails"]?.arrayValue ?? []
            if !emails.contains(where: { $0["address"]?.stringValue?.lowercased() == email.lowercased() }) {
                let seen = p["fetched_at"]?.stringValue ?? GitHubTime.format(Date())
                emails.append(EmailEvidence(address: email, source: "profile", evidence: "profile", lastSeen: seen).json)
                r.set("emails", .array(emails))
            }
        }
        if let language = p["primary_language"], let topics = p["topics"] {
            var members: [JSONMember]
            if case .object(let m)? = r["signals"] { members = m } else { members = [] }
            for (k, v) in [("primary_language", language), ("topics", topics)] {
                if let i = members.lastIndex(where: { $0.key == k }) { members[i].value = v } else { members.append(JSONMember(k, v)) }
            }
            r.set("signals", .object(members))
        }
        return r
    }
}

/// `--api graphql|rest`.
extension GitHubAPIMode: ExpressibleByArgument {}
