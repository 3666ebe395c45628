import CMOBasics
import CMOContract
import CMOHTTPServer
import CMOServices
import CMOStorage
import Foundation

/// Answers Instantly's deliveries: checks the secret, reads the payload, stores the event (committed)
/// before answering 2xx, and prints each new event once. Called on the server's connection threads.
final class HookReceiver: @unchecked Sendable {  // mutable state behind `lock`
    private let secret: String
    private let store: any HookEventStore
    private let output: CMOBasics.OutputStream
    private let logger: Logger
    private let lock = NSLock()
    /// Called once when stdout's reader is gone (the server then stops, as a stage does).
    private let onOutputClosed: @Sendable () -> Void

    private(set) var counts: [String: Int] = [:]
    private var outputClosed = false
    private var outputError: Error?

    init(
        secret: String, store: any HookEventStore, output: CMOBasics.OutputStream, logger: Logger,
        onOutputClosed: @escaping @Sendable () -> Void
    ) {
        self.secret = secret
        self.store = store
        self.output = output
        self.logger = logger
        self.onOutputClosed = onOutputClosed
    }

    /// The counters for the summary.
    var snapshot: [String: Int] { lock.withLock { counts } }
    /// Why stdout could not be written when it was not its reader going away (a full disk: 74); nil otherwise.
    var outputFailure: Error? { lock.withLock { outputError } }

    private func count(_ what: String) { lock.withLock { counts[what, default: 0] += 1 } }

    func handle(_ request: HTTPServerRequest) -> ServerOutcome {
        .respond(answer(request))
    }

    func answer(_ request: HTTPServerRequest) -> HTTPServerResponse {
        if request.path == "/health" {
            guard request.method == "GET" || request.method == "HEAD" else { return .json(405, ["error": "use GET"]) }
            return .json(200, ["ok": true])
        }
        guard request.path == "/" else { return .json(404, ["error": "not found: deliveries go to POST /"]) }
        guard request.method == "POST" else { return .json(405, ["error": "deliveries are POST /"], headers: [("allow", "POST")]) }
        count("received")
        guard HookSecret.matches(request.header(HookSecret.header), secret) else {
            count("unauthorized")
            logger.warning(
                "refused a delivery (401): the \(HookSecret.header) header is \(request.header(HookSecret.header) == nil ? "missing" : "wrong")"
            )
            return .json(401, ["error": "unauthorized"])
        }
        var bytes = request.body
        let payload: JSONValue
        do {
            payload = try JSONScanner.parse(bytes: &bytes)
        } catch {
            count("rejected")
            logger.warning("refused a delivery (400): the body is not JSON")
            return .json(400, ["error": "the body is not JSON"])
        }
        let event: HookEvent
        do {
            event = try InstantlyWebhookPayload.event(payload, source: "webhook", receivedAt: Timestamp.string())
        } catch {
            count("rejected")
            logger.warning("refused a delivery (400): \(error.description)")
            return .json(400, ["error": error.description])
        }
        let isNew: Bool
        do {
            isNew = try store.insertIfNew(event, payload: request.body)
        } catch {
            // Not stored: a 5xx makes Instantly deliver it again (and catch-up finds it later).
            count("store_failed")
            let failure = (error as? any CMOErrorConvertible)?.cmoError.description ?? "\(error)"
            logger.error("could not store a \(event.eventType) event (503): \(failure)")
            return .json(503, ["error": "the event could not be stored; deliver it again"])
        }
        count(isNew ? "new" : "duplicate")
        if isNew {
            emit(event)
            logger.debug("stored \(event.eventType) for \(event.leadEmail ?? "no lead") in \(event.campaignID ?? "no campaign")")
        } else {
            logger.debug("duplicate \(event.eventType) (already stored)")
        }
        return .json(200, ["stored": isNew, "duplicate": !isNew])
    }

    /// Writes the event's line and flushes, so a reader downstream sees it at once.
    private func emit(_ event: HookEvent) {
        guard let line = try? HookEventJSON.encode(event) else { return }
        let gone: Bool = lock.withLock {
            if outputClosed { return false }
            do {
                try output.write(line + [0x0A])
                try output.flush()
                return false
            } catch {
                outputClosed = true
                // The reader going away ends serve as it ends a stage (0); anything else (a full disk) is the run's failure.
                if !(error is OutputClosed) { outputError = error }
                return true
            }
        }
        if gone {
            if let failure = outputFailure {
                logger.error("cannot write stdout (\((failure as? any CMOErrorConvertible)?.cmoError.description ?? "\(failure)")); stopping (events stay stored)")
            } else {
                logger.info("the reader of stdout is gone; stopping (events stay stored)")
            }
            onOutputClosed()
        }
    }
}
