import CMOBasics

/// What a service's answer means to the stage that asked: the one mapping from an HTTP answer (a final
/// status after the client's retries, a body that is not the service's API, a GraphQL error) to an exit
/// status, shared by every client (GitHub, Instantly, Attio, Linear, an OpenAI-compatible model) so
/// that one kind of failure has one exit status across tools (issue 27). The table is in
/// docs/contracts.md §7:
///
/// | the answer | status | what it means |
/// |---|---|---|
/// | transport failure, timeout, 5xx/408 after retries, a 2xx whose body is not the API | 69 | the service is down or broken: re-run later |
/// | 401, 403 (not a rate limit) | 77 | credentials |
/// | 429 after retries, a wait past `--max-wait` | 75 | rate limit: re-run later |
/// | 404, 405, 410, an unfollowed 3xx | 78 | a configured URL or object (base URL, campaign, list, team, model) does not exist |
/// | 402 | 78 | the account's plan (the API needs a paid one) |
/// | 400, 409, 413, 422, any other 4xx, refusing the request as a whole | 1 | cmo sent what the service does not take: internal error, re-running will not help |
///
/// A refusal of one record's content (a 400 naming a lead, a GraphQL error on one alias) is not in this
/// table: the stage marks that record `failed` or dead-letters it and goes on; a run in which every
/// record was refused ends 65. OpenAI's 429 `insufficient_quota` stays 69 (`HTTPError.noQuota`).
public enum ServiceAnswer {
    /// The exit status of a final HTTP status that the caller has no meaning of its own for.
    public static func exitStatus(httpStatus status: Int) -> ExitStatus {
        switch status {
        case 200..<300: .unavailable  // only reached for a body that is not the API: the service is broken
        case 300..<400: .config  // a redirect cmo does not follow: the base URL is not the API's
        case 401, 403: .noPermission
        case 402: .config
        case 404, 405, 410: .config
        case 408: .unavailable
        case 429: .tempFail
        case 400..<500: .failure
        default: .unavailable  // 5xx, or not HTTP at all
        }
    }

    /// The failure for a final HTTP status the caller does not handle itself: the status decides the exit
    /// status, the message says what happened and what to do.
    ///
    /// - Parameters:
    ///   - service: "GitHub", "Instantly", "Attio", "Linear", or the model endpoint's URL.
    ///   - request: what was asked, e.g. `GET /api/v2/campaigns/…` or "search 'language:go'".
    ///   - said: the service's own words (its `message`), one line; may be empty.
    ///   - notFound: what to check when the answer is 404/410 (e.g. "check --campaign"); the default
    ///     names the base URL.
    public static func failure(
        service: String, request: String, status: Int, said: String = "", notFound: String? = nil
    ) -> StageFailure {
        let words = said.isEmpty ? "" : ": \(said)"
        let exit = exitStatus(httpStatus: status)
        let message: String
        switch exit {
        case .config where (300..<400).contains(status):
            message = "\(request): \(service) answered HTTP \(status) (a redirect)\(words); check \(service)'s base URL"
        case .config where status == 402:
            message = "\(request): \(service) answered HTTP 402 (payment required)\(words); the account's plan does not allow this"
        case .config:
            message =
                "\(request): \(service) answered HTTP \(status) (not found)\(words); "
                + (notFound ?? "check \(service)'s base URL and the ids given")
        case .noPermission:
            message = "\(request): \(service) rejected the credentials (HTTP \(status))\(words); check the key or token"
        case .tempFail:
            message = "\(request): \(service) is still rate-limiting (HTTP \(status))\(words); re-run later"
        case .failure:
            message =
                "\(request): \(service) refused the request (HTTP \(status))\(words); cmo sent something \(service) does not "
                + "accept (a bug, or a change in its API): re-running will not help, report it with this message"
        default:
            message = "\(request): \(service) is failing (HTTP \(status))\(words); re-run later"
        }
        return StageFailure(exit, message)
    }

    /// The failure for an answer whose body is not the service's API (not JSON, not the expected
    /// object). With a 2xx the service (or a proxy in between) is broken: 69. With any other status
    /// the status decides, as in `failure`.
    public static func unreadable(service: String, request: String, status: Int, notFound: String? = nil) -> StageFailure {
        guard (200..<300).contains(status) else {
            return failure(service: service, request: request, status: status, said: "the answer is not JSON", notFound: notFound)
        }
        return StageFailure(
            .unavailable,
            "\(request): \(service)'s answer (HTTP \(status)) is not what its API returns (not JSON, or not the expected "
                + "object); the service or a proxy in between is broken: re-run later, and check \(service)'s base URL if it persists")
    }

    /// The exit status of GraphQL errors that left no data (GitHub's `type`, Linear's `extensions.code`),
    /// given the HTTP status they came with. Credentials 77, a rate limit 75, something that does not
    /// exist 78, a failure inside the service 69; a query the service refuses (parse, validation, bad
    /// input) is cmo's fault: 1.
    public static func exitStatus(graphQLCodes codes: [String], httpStatus: Int) -> ExitStatus {
        let c = codes.map { $0.uppercased() }
        if c.contains(where: { $0.contains("AUTHENTICATION") || $0 == "FORBIDDEN" || $0 == "UNAUTHENTICATED" }) { return .noPermission }
        if c.contains(where: { $0.contains("RATE") && $0.contains("LIMIT") }) { return .tempFail }
        if c.contains(where: { $0.contains("NOT_FOUND") }) { return .config }
        if c.contains(where: { $0 == "INTERNAL" || $0.contains("INTERNAL_ERROR") || $0 == "SERVICE_UNAVAILABLE" || $0 == "TIMEOUT" }) {
            return .unavailable
        }
        if (200..<300).contains(httpStatus) || httpStatus == 400 || httpStatus == 422 { return .failure }
        return exitStatus(httpStatus: httpStatus)
    }

    /// The failure for GraphQL errors that left no data; `what` says what was asked ("read teams").
    public static func graphQL(service: String, what: String, codes: [String], message: String, httpStatus: Int) -> StageFailure {
        let exit = exitStatus(graphQLCodes: codes, httpStatus: httpStatus)
        let code = codes.first.map { " (\($0))" } ?? ""
        let head = "\(service) could not \(what): \(message)\(code)"
        switch exit {
        case .noPermission: return StageFailure(exit, "\(head); the key or token lacks access: check it")
        case .tempFail: return StageFailure(exit, "\(head); rate-limited: re-run later")
        case .config: return StageFailure(exit, "\(head); something the configuration names does not exist: check it")
        case .unavailable: return StageFailure(exit, "\(head); the service is failing: re-run later")
        default:
            return StageFailure(
                exit,
                "\(head); \(service) refused the query (HTTP \(httpStatus)): a bug in cmo or a change in its API, re-running will not help"
            )
        }
    }
}
