import ArgumentParser
import CMOBasics
import CMOContract
import CMOHTTP
import CMOServices
import CMOStageKit
import CMOStorage
import Foundation

struct CatchUpCommand: Stage {
    static let stageName = "cmo-hooks"
    static let configuration = CommandConfiguration(
        commandName: "catch-up",
        abstract: "Fetch the events the receiver missed from Instantly's delivery log and merge them, each once.",
        discussion: """
            INPUT
              Nothing on stdin. GET /api/v2/webhook-events (100 a page, starting_after ← next_starting_after; \
            from = the day of the start time), and each item's payload, read as serve reads a delivery.

            START
              --since TIME (ISO 8601), else the newest event timestamp the store holds minus --overlap \
            seconds (default 3600: deliveries retried late), else (an empty store) everything Instantly kept. \
            Events older than the start are left out.

            OUTPUT
              Each event not stored before, as serve prints it, with "source":"catch-up". An event already \
            stored (delivered to serve, or fetched by an earlier catch-up) is counted as a duplicate and not \
            printed: catch-up after serve stores nothing twice. Summary on stderr: fetched, new, duplicates, \
            older (before the start), unreadable (an item without a usable payload).

            SIDE EFFECTS
              Writes CMO_STATE_DIR/hooks.sqlite (new events; the cursor "catch-up" = when this run started). \
            No write to Instantly.

            ENVIRONMENT
              INSTANTLY_API_KEY (required), INSTANTLY_API_URL, CMO_STATE_DIR, CMO_CONFIG, CMO_LOG_FORMAT, \
            CMO_MAX_WAIT, NO_COLOR.

            EXIT STATUS
              0 done, 1 Instantly refused the request (400/409/422), 64 bad flags, 69 Instantly down or \
            failing after retries, 74 the store cannot be written (disk full), 75 rate limit longer than \
            --max-wait, 77 key rejected, 78 missing key, the store cannot be opened, no paid plan (402).

            EXAMPLES
              After the receiver was down:
                cmo-hooks catch-up | jq -c 'select(.outcome != null)'
              Everything since a day:
                cmo-hooks catch-up --since 2026-12-01T00:00:00Z
            """
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var http: HTTPOptions

    @Option(help: ArgumentHelp("Fetch events from this time on (ISO 8601; default: the newest stored minus --overlap).", valueName: "time"))
    var since: String?

    @Option(
        help: ArgumentHelp("Seconds before the newest stored event to start from, without --since (default 3600).", valueName: "seconds"))
    var overlap: Double?

    struct Plan {
        var since: Double?
        var overlap: Double
    }

    func validate() throws {
        if let overlap, overlap < 0 { throw ValidationError("'--overlap' must be 0 or more") }
    }

    func configure(_ settings: Settings) throws -> Plan {
        var start: Double?
        if let since: String = try settings.resolve("since", flag: since) {
            guard let t = Timestamp.parse(since) ?? Timestamp.parseDay(since) else {
                throw StageFailure(.usage, "--since '\(since)' is not an ISO 8601 time (2026-12-02T09:00:00Z)")
            }
            start = t
        }
        return Plan(since: start, overlap: try settings.resolve("overlap", flag: overlap, default: 3600))
    }

    func process(_ context: StageContext, plan: Plan) throws {
        let started = Timestamp.string()
        let store = try HookEventStores.open(environment: context.settings.environment)
        var start = plan.since
        if start == nil, let newest = try store.newestTimestamp(), let t = Timestamp.parse(newest) {
            start = t - plan.overlap
        }
        let endpoint = try ServiceEndpoint.resolve(.instantly, settings: context.settings)
        let api = InstantlyAPI(endpoint: endpoint, http: try context.makeHTTPClient(http))
        let from = start.map { Timestamp.day(Date(timeIntervalSince1970: $0)) }
        context.logger.info(
            start.map { "fetching events since \(Timestamp.string(seconds: $0))" }
                ?? "fetching every event Instantly kept (the store is empty)")
        var fetched = 0
        var new = 0
        var duplicates = 0
        var older = 0
        var unreadable = 0
        var cursor: String?
        for _ in 0..<100_000 {
            let page = try api.webhookEvents(from: from, to: nil, startingAfter: cursor)
            for item in page.items {
                fetched += 1
                guard let payload = item.payload else {
                    unreadable += 1
                    context.logger.warning("webhook event \(item.id): no payload; left out")
                    continue
                }
                let event: HookEvent
                do {
                    event = try InstantlyWebhookPayload.event(payload, source: "catch-up", receivedAt: Timestamp.string())
                } catch {
                    unreadable += 1
                    context.logger.warning("webhook event \(item.id): \(error.description); left out")
                    continue
                }
                if let start, let t = Timestamp.parse(event.timestamp), t < start {
                    older += 1
                    continue
                }
                if try store.insertIfNew(event, payload: payload.encoded()) {
                    new += 1
                    try context.output.write(try HookEventJSON.encode(event) + [0x0A])
                    context.recordsOut += 1
                } else {
                    duplicates += 1
                }
            }
            try context.output.flush()
            guard let next = page.next else { break }
            cursor = next
        }
        try store.setCursor("catch-up", to: started)
        context.logger.info("fetched \(fetched), new \(new), duplicates \(duplicates), older \(older), unreadable \(unreadable)")
        for (key, value) in [("fetched", fetched), ("new", new), ("duplicates", duplicates), ("older", older), ("unreadable", unreadable)] {
            context.extraSummary.append((key, .int(value)))
        }
    }
}
