import CMOBasics
import CMOStageKit
import ArgumentParser

/// Options of every stage that calls a service over HTTP.
public struct HTTPOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Longest rate-limit wait (seconds) before giving up with status 75 so a later run can continue (default 300).",
            valueName: "seconds"))
    public var maxWait: Double?

    @Option(help: ArgumentHelp("Requests in flight at once (default 8).", valueName: "n"))
    public var concurrency: Int?

    @Option(help: ArgumentHelp("Seconds one request may take, retries aside (default 60).", valueName: "seconds"))
    public var timeout: Double?

    @Option(help: ArgumentHelp("Retries of a failed request (default 5).", valueName: "n"))
    public var retries: Int?

    @Flag(inversion: .prefixedNo, help: "Use the persistent ETag cache in CMO_STATE_DIR (default on).")
    public var httpCache: Bool?

    public init() {}

    public func validate() throws {
        if let concurrency, concurrency < 1 { throw ValidationError("'--concurrency' must be 1 or more") }
        if let maxWait, maxWait < 0 { throw ValidationError("'--max-wait' must be 0 or more") }
        if let timeout, timeout <= 0 { throw ValidationError("'--timeout' must be more than 0") }
        if let retries, retries < 0 { throw ValidationError("'--retries' must be 0 or more") }
    }
}

extension StageContext {
    /// An HTTP client configured from `options` (flag → config → environment → default), whose
    /// retries and waits are logged and whose requests, free 304s and quota appear in the summary.
    public func makeHTTPClient(_ options: HTTPOptions) throws -> HTTPClient {
        var config = HTTPClientConfig()
        config.maxWait = try settings.resolve("max-wait", flag: options.maxWait, env: "CMO_MAX_WAIT", default: config.maxWait)
        config.maxConcurrency = try settings.resolve(
            "concurrency", flag: options.concurrency, env: "CMO_CONCURRENCY", default: config.maxConcurrency)
        config.totalTimeout = try settings.resolve("timeout", flag: options.timeout, env: "CMO_HTTP_TIMEOUT", default: config.totalTimeout)
        config.maxRetries = try settings.resolve("retries", flag: options.retries, env: "CMO_HTTP_RETRIES", default: config.maxRetries)
        if !(try settings.resolve("http-cache", flag: options.httpCache, env: "CMO_HTTP_CACHE", default: true)) { config.cachePath = nil }
        config.limitsEnvironment = settings.environment  // the workspace's limits, shared: the backend's
        config.pacingMargin = try settings.resolve(
            "pace-margin", flag: nil as Double?, env: "CMO_PACE_MARGIN", default: config.pacingMargin)
        if !(config.pacingMargin >= 0) { throw settings.invalid("pace-margin", env: "CMO_PACE_MARGIN", "must be 0 or more (seconds)") }
        let client = try HTTPClient(config)
        client.onEvent = { [logger] event in
            switch event {
            case .cacheError: logger.warning(event.description)
            default: logger.info(event.description)
            }
        }
        requestCounters.append(client)
        return client
    }
}

extension HTTPClient: RequestCounting {
    public var requestFigures: RequestFigures {
        RequestFigures(sent: stats.requestsSent, notModified: stats.notModified, quotaSpent: stats.quotaSpent, retries: stats.retries,
                       rateLimited: stats.rateLimited, waitSeconds: stats.waitSeconds)
    }
}

extension HTTPError: OutputClosing {}
