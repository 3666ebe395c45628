import ArgumentParser
import CMOBasics
import CMOSandbox
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `cmo-sandbox`: the outside world (GitHub, Instantly, Attio, Linear, an OpenAI-compatible model,
/// DNS) on loopback, deterministic for a seed.
struct CMOSandboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cmo-sandbox",
        abstract: "Serve a deterministic synthetic GitHub, Instantly, Attio, Linear, OpenAI-compatible model and DNS on loopback.",
        discussion: """
            OUTPUT: one line, 'listening on http://127.0.0.1:PORT', on stdout once the server is up. With \
            --env-file, a sourceable file of 'export NAME=VALUE' lines (base URLs, CMO_DNS_SERVER and tokens) \
            is written first.

            EXIT STATUS: 0 after SIGTERM or SIGINT; 64 for bad flags.

            docs/sandbox.md describes the endpoints, the world, and the behaviours picked where the vendors' \
            APIs are unverified (each with the flag that selects the other).
            """,
        version: CMOVersion.string)

    @Option(help: "TCP port on 127.0.0.1; 0 picks a free one.") var port: UInt16 = 0
    @Option(help: "Seed of the world, the tokens and the fault sequence.") var seed: UInt64 = 42
    @Option(help: "Number of repositories.") var repos: Int = 300
    @Option(help: "Number of (human) users.") var users: Int = 400
    @Option(help: "Large repositories (thousands of commits, 100+ contributors); default min(4, 1 + (repos - 20) / 500) from 20 repos.")
    var largeRepos: Int?
    @Option(help: "The world's fixed 'now' (ISO 8601).") var now: String = "2026-11-20T00:00:00Z"
    @Option(help: "Write the sourceable environment file here.") var envFile: String?
    @Option(help: "UDP/TCP port of the DNS server on 127.0.0.1; 0 picks a free one.") var dnsPort: UInt16 = 0

    @Option(name: .customLong("latency"), help: "Added latency per service: SERVICE=MS[±JITTER] (SERVICE may be '*').")
    var latency: [String] = []
    @Option(name: .customLong("fail-rate"), help: "Share of requests answered 5xx: SERVICE=RATE.") var failRate: [String] = []
    @Flag(name: .customLong("faults-on-writes-only"), help: "Inject 5xx, 429, resets and cut bodies into writes only (POST, PUT, PATCH, DELETE); reads answer.")
    var faultsOnWritesOnly = false
    @Option(name: .customLong("429-rate"), help: "Share of requests answered 429: SERVICE=RATE.") var tooManyRate: [String] = []
    @Option(name: .customLong("reset-rate"), help: "Share of connections reset: SERVICE=RATE.") var resetRate: [String] = []
    @Option(name: .customLong("truncate-rate"), help: "Share of bodies cut short of Content-Length: SERVICE=RATE.")
    var truncateRate: [String] = []

    @Option(help: "GitHub core quota per window.") var coreLimit: Int = 5000
    @Option(help: "GitHub search quota per search window.") var searchLimit: Int = 30
    @Option(help: "GitHub GraphQL points per window.") var graphqlLimit: Int = 5000
    @Option(help: "GitHub core and GraphQL window, seconds.") var windowSeconds: Int = 3600
    @Option(help: "GitHub search window, seconds.") var searchWindowSeconds: Int = 60
    @Option(help: "Status of GitHub primary-limit rejections: 403 or 429.") var primaryStatus: Int = 403
    @Option(help: "Status of GitHub secondary-limit rejections: 403 or 429.") var secondaryStatus: Int = 403
    @Option(help: "GitHub secondary limit: more requests in flight than this trigger it.") var secondaryConcurrency: Int = 100
    @Option(help: "GitHub secondary penalty length, seconds.") var secondaryPenaltySeconds: Int = 60
    @Option(help: "GitHub secondary limit: points per minute per REST endpoint (a GET costs 1).") var secondaryPointsPerMinute: Int = 900
    @Option(help: "GitHub secondary limit: GraphQL queries per minute.") var secondaryGraphqlPointsPerMinute: Int = 2000
    @Option(help: "Share of GitHub search pages that come back incomplete (incomplete_results: true).")
    var searchIncompleteRate: Double = 0
    @Flag(help: "Leave 'retry-after' out of GitHub secondary-limit rejections.") var noRetryAfter = false
    @Flag(help: "Serve GitHub requests that carry no User-Agent (rejected with 403 by default).") var allowMissingUserAgent = false
    @Flag(help: "Only authenticated GitHub 304s are free (by default every 304 is).") var conditionalRequiresAuth = false
    @Flag(help: "Empty GitHub repositories answer commits and contributors with 200 [] (default: 409 and 204).")
    var emptyRepoLists = false
    @Flag(help: "Reject GitHub's legacy 'Authorization: token …' scheme (accepted by default).") var rejectTokenScheme = false
    @Flag(help: "GitHub GraphQL User.email is null, not \"\", when the profile email is hidden.") var graphqlHiddenEmailNull = false

    @OptionGroup(title: "Instantly, Attio, Linear and OpenAI") var vendors: VendorOptions

    func validate() throws {
        guard [403, 429].contains(primaryStatus), [403, 429].contains(secondaryStatus) else {
            throw ValidationError("'--primary-status' and '--secondary-status' must be 403 or 429")
        }
        guard repos >= 0, users >= 1 else { throw ValidationError("'--repos' must be ≥ 0 and '--users' ≥ 1") }
        guard (largeRepos ?? 0) >= 0 else { throw ValidationError("'--large-repos' must be ≥ 0") }
        guard let instant = WorldTime.parse(now) else { throw ValidationError("'--now' must be an ISO 8601 time, got '\(now)'") }
        guard instant >= WorldTime.parse("2016-01-01")!, instant <= WorldTime.parse("2099-01-01")! else {
            throw ValidationError("'--now' must lie between 2016 and 2099")
        }
        guard (0...1).contains(searchIncompleteRate) else { throw ValidationError("'--search-incomplete-rate' must be in 0...1") }
        guard coreLimit > 0, searchLimit > 0, graphqlLimit > 0, windowSeconds > 0, searchWindowSeconds > 0 else {
            throw ValidationError("limits and windows must be positive")
        }
        _ = try faults()
    }

    func faults() throws -> [String: ServiceFaults] {
        do {
            var f = try ServiceFaults.parse(
                latency: latency, failRate: failRate, tooManyRate: tooManyRate, resetRate: resetRate, truncateRate: truncateRate)
            if faultsOnWritesOnly { for k in f.keys { f[k]!.writesOnly = true } }
            return f
        } catch let e as FaultFlagError {
            throw ValidationError(e.message)
        }
    }

    func gitHubOptions() -> GitHubOptions {
        var o = GitHubOptions()
        o.coreLimit = coreLimit
        o.searchLimit = searchLimit
        o.graphqlLimit = graphqlLimit
        o.coreWindowSeconds = windowSeconds
        o.searchWindowSeconds = searchWindowSeconds
        o.primaryStatus = primaryStatus
        o.secondaryStatus = secondaryStatus
        o.secondaryConcurrency = secondaryConcurrency
        o.secondaryPenaltySeconds = secondaryPenaltySeconds
        o.secondaryRetryAfter = !noRetryAfter
        o.searchIncompleteRate = searchIncompleteRate
        o.secondaryPointsPerMinute = secondaryPointsPerMinute
        o.secondaryGraphQLPointsPerMinute = secondaryGraphqlPointsPerMinute
        o.requireUserAgent = !allowMissingUserAgent
        o.conditionalRequiresAuth = conditionalRequiresAuth
        o.emptyRepoConflict = !emptyRepoLists
        o.acceptTokenScheme = !rejectTokenScheme
        o.graphqlHiddenEmailNull = graphqlHiddenEmailNull
        return o
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        // Signal handling is in place before anyone can learn the port, so an early SIGTERM is never lost.
        let shutdown = Shutdown()
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .main)
            source.setEventHandler { shutdown.run() }
            source.resume()
            SignalSources.keep.append(source)
        }
        let world = World(
            config: WorldConfig(seed: seed, repoCount: repos, userCount: users, now: WorldTime.parse(now)!, largeRepoCount: largeRepos))
        let stats = SandboxStats()
        let tokens = SandboxTokens(seed: seed)
        var instantlyOptions = vendors.instantly()
        instantlyOptions.mailbox = { world.mailboxVerdict($0) }
        let instantly = InstantlyService(stats: stats, seed: seed, token: tokens.instantly, options: instantlyOptions)
        let attio = AttioService(stats: stats, seed: seed, token: tokens.attio, options: vendors.attio())
        let linear = LinearService(stats: stats, seed: seed, token: tokens.linear, options: vendors.linear())
        let services: [any SandboxService] = [
            GitHubService(world: world, stats: stats, token: tokens.github, options: gitHubOptions()),
            instantly, attio, linear,
            OpenAIService(stats: stats, seed: seed, token: tokens.openai, options: vendors.openAI()),
        ]
        // Seeded objects a script can use straight away (the first of each).
        var seeded: [(String, String)] = []
        if let id = instantly.campaignIDs.first { seeded.append(("CMO_SANDBOX_INSTANTLY_CAMPAIGN", id)) }
        // The other seeded Instantly campaigns by kind (docs/sandbox-services.md), and the custom blocklist.
        for (i, kind) in ["FIXED", "DRAFT", "PAUSED", "COMPLETED"].enumerated() where i + 1 < instantly.campaignIDs.count {
            seeded.append(("CMO_SANDBOX_INSTANTLY_CAMPAIGN_\(kind)", instantly.campaignIDs[i + 1]))
        }
        seeded.append(("CMO_SANDBOX_INSTANTLY_BLOCKLIST", instantly.customBlocklistID))
        if let id = attio.listIDs.first { seeded.append(("CMO_SANDBOX_ATTIO_LIST", id)) }
        if let team = linear.teams.first { seeded.append(("CMO_SANDBOX_LINEAR_TEAM", team.id)) }
        let dns = DNSServer(zone: world.zone, port: dnsPort, stats: stats)
        let dnsPortBound = try dns.start()
        shutdown.add { dns.stop() }
        let router = SandboxRouter(services: services, stats: stats, faults: FaultPlan(seed: seed, faults: try faults())) {
            world.truth()
        }
        // The router renders the world's truth once; the Instantly events grow with the clock, so they are added
        // to `/_sandbox/truth` here, on each request, as `instantly_events`.
        let worldTruth = LazyTruth { world.truth() }
        let server = try SandboxServer(port: port) { request in
            guard request.method == "GET" || request.method == "HEAD", request.path == "/_sandbox/truth" else { return router.handle(request) }
            var truth = worldTruth.value
            truth["instantly_events"] = instantly.truthEvents()
            return .respond(.json(200, truth))
        }
        shutdown.add { server.stop() }
        if let envFile {
            let text = SandboxEnvFile.render(port: server.port, dnsPort: dnsPortBound, tokens: tokens, seeded: seeded)
            let tmp = envFile + ".tmp-\(getpid())"
            try text.write(toFile: tmp, atomically: false, encoding: .utf8)
            guard rename(tmp, envFile) == 0 else { throw ValidationError("cannot write '\(envFile)'") }
        }
        FileHandle.standardOutput.write(Data("listening on http://127.0.0.1:\(server.port)\n".utf8))
        FileHandle.standardError.write(
            Data(
                "cmo-sandbox: seed \(seed), \(world.repos.count) repositories, \(world.users.count) accounts, \(world.repos.reduce(0) { $0 + $1.commits.count }) commits\n"
                    .utf8))
        dispatchMain()
    }
}

/// Switches of the other services (their defaults and the behaviours they pick are in their options types).
struct VendorOptions: ParsableArguments {
    @Option(help: "Instantly workspace limit per second.") var instantlyRequestsPerSecond: Int?
    @Option(help: "Instantly workspace limit per minute.") var instantlyRequestsPerMinute: Int?
    @Flag(help: "Instantly answers 402: the workspace has no paid plan.") var instantlyNoPlan = false
    @Option(help: "Scope of Instantly's skip_if_in_campaign/list: 'any' or 'target' (default: each endpoint's wording).")
    var instantlySkipScope: String?
    @Option(help: "What POST /api/v2/leads answers when it creates nothing: 'existing' or 'empty'.")
    var instantlySingleSkipReply: String?
    @Option(help: "Number of seeded Instantly campaigns (default 5: active with cmo variables, active fixed, draft, paused, completed).")
    var instantlyCampaigns: Int?
    @Option(help: "Instantly leads/list with a starting_after it does not know: 'continue' after it (keyset) or 'reject' (400).")
    var instantlyUnknownCursor: String?
    @Flag(help: "Instantly's rate windows count only served requests (default: refused ones count too).")
    var instantlyRateCountsServedOnly = false
    @Flag(help: "POST /api/v2/leads stores a second lead for an email already in the campaign (no automatic dedupe).")
    var instantlySingleNoDedupe = false
    @Flag(help: "Accept unknown top-level keys in an Instantly leads/add body (the spec's schema allows them).")
    var instantlyAcceptUnknownBulkKeys = false
    @Flag(help: "Count an email already in the target as duplicated_leads before Instantly's skip_if_* flags.")
    var instantlyDedupeBeforeSkip = false
    @Option(help: "How Instantly list endpoints mark the last page: 'omitted', 'null' or 'last-item'.")
    var instantlyEndOfList: String?
    @Option(help: "HTTP status of an Instantly leads/add validation failure (default 400).") var instantlyValidationStatus: Int?
    @Flag(help: "Instantly answers 403 (Cloudflare error 1010) to requests without a User-Agent.")
    var instantlyRequireUserAgent = false
    @Flag(help: "Instantly takes POST bodies without 'Content-Type: application/json' (default: 415, as its framework does).")
    var instantlyLenientContentType = false
    @Option(help: "Steps in each seeded Instantly campaign's sequence (default 1; later steps are follow-ups).")
    var instantlySequenceSteps: Int?
    @Option(help: "Days between one Instantly step and the next (default 2).") var instantlyFollowUpDelay: Int?
    @Option(help: "A daily_limit for every seeded Instantly campaign (default: the seeded 50, 100, …).") var instantlyDailyLimit: Int?
    @Option(help: "Share of Instantly leads whose first email bounces (default 0.03; mailboxes the world knows to be undeliverable always bounce).")
    var instantlyBounceRate: Double?
    @Option(help: "Share of those bounces that are hard, 5.x.x (default 0.7).") var instantlyHardBounceShare: Double?
    @Option(help: "Share of Instantly leads that unsubscribe (default 0.02).") var instantlyUnsubscribeRate: Double?
    @Option(help: "Share of Instantly leads that reply (default 0.08).") var instantlyReplyRate: Double?
    @Option(help: "Share of Instantly leads that answer out of office, with a return date (default 0.04).") var instantlyOooRate: Double?
    @Option(help: "Share of Instantly leads that send another automatic reply (default 0.02).") var instantlyAutoReplyRate: Double?
    @Option(help: "Share of replies labelled interested (default 0.35).") var instantlyInterestedShare: Double?
    @Option(help: "Share of replies labelled not interested (default 0.4).") var instantlyNotInterestedShare: Double?
    @Option(help: "Share of replies labelled wrong person (default 0.1; the rest are neutral).") var instantlyWrongPersonShare: Double?
    @Option(help: "Instantly webhook delivery threads (default 8).") var instantlyWebhookThreads: Int?
    @Option(help: "Attempts per Instantly webhook delivery, the first included (default 4).") var instantlyWebhookAttempts: Int?
    @Option(help: "Waits between Instantly webhook attempts, seconds, comma-separated; the last repeats (default 0.2,0.5,1).")
    var instantlyWebhookBackoff: String?
    @Option(help: "Instantly webhook deliveries in a row that fail every attempt before the webhook is disabled (default 3).")
    var instantlyWebhookDisableAfter: Int?
    @Option(help: "Timeout of one Instantly webhook attempt, seconds (default 10).") var instantlyWebhookTimeout: Double?
    @Option(help: "Attio write requests per second.") var attioWritesPerSecond: Int?
    @Option(help: "Attio read requests per second.") var attioReadsPerSecond: Int?
    @Flag(help: "Attio query POSTs count as writes (default: reads).") var attioQueriesCountAsWrites = false
    @Flag(help: "Attio's people object has no custom attributes (a fresh workspace: no github_login, lead_score, lead_source).")
    var attioNoCustomAttributes = false
    @Option(name: .customLong("attio-custom-attribute"), help: "An Attio people attribute to add: SLUG=TYPE (text, number, checkbox).")
    var attioCustomAttributes: [String] = []
    @Flag(help: "Attio's rate-limit 429s carry Retry-After in seconds (default: an HTTP date, as documented).")
    var attioRetryAfterSeconds = false
    @Option(help: "Linear requests per hour.") var linearRequestsPerHour: Int?
    @Option(help: "Linear rate-limit window, seconds.") var linearWindowSeconds: Int?
    @Option(help: "Status of a Linear RATELIMITED answer: 400 or 429.") var linearRateLimitStatus: Int?
    @Option(help: "Linear reset headers in 'ms' or 's'.") var linearResetUnit: String?
    @Option(help: "Linear issueCreate with an existing id: 'error' or 'return-existing'.") var linearDuplicateId: String?
    @Option(help: "OpenAI requests per minute.") var openaiRequestsPerMinute: Int?

    func validate() throws {
        if let scope = instantlySkipScope, InstantlyOptions.SkipScope(rawValue: scope) == nil {
            throw ValidationError("'--instantly-skip-scope' must be 'any' or 'target'")
        }
        if let reply = instantlySingleSkipReply, InstantlyOptions.SingleSkipReply(rawValue: reply) == nil {
            throw ValidationError("'--instantly-single-skip-reply' must be 'existing' or 'empty'")
        }
        if let n = instantlyCampaigns, n < 0 { throw ValidationError("'--instantly-campaigns' must be ≥ 0") }
        if let mode = instantlyUnknownCursor, InstantlyOptions.UnknownCursor(rawValue: mode) == nil {
            throw ValidationError("'--instantly-unknown-cursor' must be 'continue' or 'reject'")
        }
        if let mode = instantlyEndOfList, InstantlyOptions.EndOfList(rawValue: mode) == nil {
            throw ValidationError("'--instantly-end-of-list' must be 'omitted', 'null' or 'last-item'")
        }
        if let status = instantlyValidationStatus, !(400...499).contains(status) {
            throw ValidationError("'--instantly-validation-status' must be a 4xx status")
        }
        if let problem = instantly().engagement.problem { throw ValidationError(problem) }
        if let n = instantlySequenceSteps, !(1...10).contains(n) { throw ValidationError("'--instantly-sequence-steps' must be in 1...10") }
        if let n = instantlyFollowUpDelay, !(1...60).contains(n) { throw ValidationError("'--instantly-follow-up-delay' must be in 1...60") }
        if let n = instantlyDailyLimit, n < 1 { throw ValidationError("'--instantly-daily-limit' must be ≥ 1") }
        if let n = instantlyWebhookThreads, !(1...64).contains(n) { throw ValidationError("'--instantly-webhook-threads' must be in 1...64") }
        if let n = instantlyWebhookAttempts, !(1...20).contains(n) { throw ValidationError("'--instantly-webhook-attempts' must be in 1...20") }
        if let n = instantlyWebhookDisableAfter, n < 1 { throw ValidationError("'--instantly-webhook-disable-after' must be ≥ 1") }
        if let t = instantlyWebhookTimeout, !(t > 0 && t <= 120) { throw ValidationError("'--instantly-webhook-timeout' must be in (0, 120]") }
        if let text = instantlyWebhookBackoff, Self.backoff(text) == nil {
            throw ValidationError("'--instantly-webhook-backoff' expects seconds separated by commas (each 0...60), got '\(text)'")
        }
        if let status = linearRateLimitStatus, ![400, 429].contains(status) {
            throw ValidationError("'--linear-rate-limit-status' must be 400 or 429")
        }
        if let unit = linearResetUnit, LinearOptions.ResetUnit(rawValue: unit) == nil {
            throw ValidationError("'--linear-reset-unit' must be 'ms' or 's'")
        }
        for spec in attioCustomAttributes {
            let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, ["text", "number", "checkbox"].contains(parts[1]) else {
                throw ValidationError("'--attio-custom-attribute' expects SLUG=TYPE with TYPE text, number or checkbox, got '\(spec)'")
            }
        }
        if let mode = linearDuplicateId, LinearOptions.DuplicateID(rawValue: mode) == nil {
            throw ValidationError("'--linear-duplicate-id' must be 'error' or 'return-existing'")
        }
    }

    func instantly() -> InstantlyOptions {
        var o = InstantlyOptions()
        if let v = instantlyRequestsPerSecond { o.requestsPerSecond = v }
        if let v = instantlyRequestsPerMinute { o.requestsPerMinute = v }
        if instantlyNoPlan { o.noPlan = true }
        if let v = instantlySkipScope.flatMap(InstantlyOptions.SkipScope.init(rawValue:)) { o.skipScope = v }
        if let v = instantlySingleSkipReply.flatMap(InstantlyOptions.SingleSkipReply.init(rawValue:)) { o.singleSkipReply = v }
        if let v = instantlyCampaigns { o.campaignCount = v }
        if let v = instantlyUnknownCursor.flatMap(InstantlyOptions.UnknownCursor.init(rawValue:)) { o.unknownCursor = v }
        if instantlyRateCountsServedOnly { o.rateCountsRefused = false }
        if instantlySingleNoDedupe { o.singleDedupe = false }
        if instantlyAcceptUnknownBulkKeys { o.acceptUnknownBulkKeys = true }
        if instantlyDedupeBeforeSkip { o.dedupeBeforeSkip = true }
        if let v = instantlyEndOfList.flatMap(InstantlyOptions.EndOfList.init(rawValue:)) { o.endOfList = v }
        if let v = instantlyValidationStatus { o.validationStatus = v }
        if instantlyRequireUserAgent { o.requireUserAgent = true }
        if instantlyLenientContentType { o.requireJSONContentType = false }
        if let v = instantlySequenceSteps { o.sequenceSteps = v }
        if let v = instantlyFollowUpDelay { o.followUpDelayDays = v }
        if let v = instantlyDailyLimit { o.dailyLimit = v }
        if let v = instantlyBounceRate { o.engagement.bounceRate = v }
        if let v = instantlyHardBounceShare { o.engagement.hardBounceShare = v }
        if let v = instantlyUnsubscribeRate { o.engagement.unsubscribeRate = v }
        if let v = instantlyReplyRate { o.engagement.replyRate = v }
        if let v = instantlyOooRate { o.engagement.outOfOfficeRate = v }
        if let v = instantlyAutoReplyRate { o.engagement.autoReplyRate = v }
        if let v = instantlyInterestedShare { o.engagement.interestedShare = v }
        if let v = instantlyNotInterestedShare { o.engagement.notInterestedShare = v }
        if let v = instantlyWrongPersonShare { o.engagement.wrongPersonShare = v }
        if let v = instantlyWebhookThreads { o.webhookDelivery.threads = v }
        if let v = instantlyWebhookAttempts { o.webhookDelivery.attempts = v }
        if let v = instantlyWebhookBackoff.flatMap(Self.backoff) { o.webhookDelivery.backoff = v }
        if let v = instantlyWebhookDisableAfter { o.webhookDelivery.disableAfter = v }
        if let v = instantlyWebhookTimeout { o.webhookDelivery.timeout = v }
        return o
    }

    /// `0.2,0.5,1` as seconds, or nil when a part is not a number in 0...60.
    static func backoff(_ text: String) -> [Double]? {
        let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0.map { (0...60).contains($0) } ?? false }) else { return nil }
        return parts.map { $0! }
    }

    func attio() -> AttioOptions {
        var o = AttioOptions()
        if let v = attioWritesPerSecond { o.writesPerSecond = v }
        if let v = attioReadsPerSecond { o.readsPerSecond = v }
        if attioQueriesCountAsWrites { o.queriesCountAsWrites = true }
        if attioNoCustomAttributes { o.customPeopleAttributes = [:] }
        for spec in attioCustomAttributes {
            let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { o.customPeopleAttributes[parts[0]] = parts[1] }
        }
        if attioRetryAfterSeconds { o.retryAfterSeconds = true }
        return o
    }

    func linear() -> LinearOptions {
        var o = LinearOptions()
        if let v = linearRequestsPerHour { o.requestsPerHour = v }
        if let v = linearWindowSeconds { o.windowSeconds = TimeInterval(v) }
        if let v = linearRateLimitStatus { o.rateLimitStatus = v }
        if let v = linearResetUnit.flatMap(LinearOptions.ResetUnit.init(rawValue:)) { o.resetUnit = v }
        if let v = linearDuplicateId.flatMap(LinearOptions.DuplicateID.init(rawValue:)) { o.duplicateID = v }
        return o
    }

    func openAI() -> OpenAIOptions {
        var o = OpenAIOptions()
        if let v = openaiRequestsPerMinute { o.requestsPerMinute = v }
        return o
    }
}

/// The world's truth, built on first use and kept (the world never changes).
final class LazyTruth: @unchecked Sendable {
    private let lock = NSLock()
    private let build: () -> [String: Any]
    private var built: [String: Any]?

    init(_ build: @escaping () -> [String: Any]) { self.build = build }

    var value: [String: Any] {
        lock.withLock {
            if let built { return built }
            let made = build()
            built = made
            return made
        }
    }
}

/// What to stop on SIGTERM/SIGINT, in reverse order of starting, before exiting 0.
final class Shutdown: @unchecked Sendable {
    private let lock = NSLock()
    private var steps: [() -> Void] = []

    func add(_ step: @escaping () -> Void) { lock.withLock { steps.append(step) } }

    func run() -> Never {
        for step in lock.withLock({ steps }).reversed() { step() }
        Glibc.exit(0)
    }
}

/// Keeps the signal sources alive for the life of the process.
enum SignalSources {
    nonisolated(unsafe) static var keep: [any DispatchSourceSignal] = []
}

CMOSandboxCommand.main()
