import ArgumentParser
import CMOBasics
import CMOHTTPServer
import CMOStageKit
import CMOStorage
import Foundation

struct ServeCommand: Stage {
    static let stageName = "cmo-hooks"
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Receive Instantly's webhook deliveries; store each event once and print the new ones.",
        discussion: """
            INPUT
              Nothing on stdin. HTTP on --bind:--port: POST / with Instantly's payload (a JSON object with \
            timestamp, event_type, workspace, campaign_id, campaign_name, and lead_email, email_account, step, \
            variant, email_id, reply_text_snippet, … as the event has them), carrying the secret in the \
            \(HookSecret.header) header. GET /health answers 200.

            ANSWERS
              200 once the event is committed to the store ({"stored":true}), or when it was already stored \
            ({"stored":false,"duplicate":true}: a redelivery, dropped). 401 without the right secret (nothing \
            stored), 400 for a body that is not a JSON object with event_type and timestamp, 413 for a body \
            over --max-body bytes, 503 when the store cannot be written (Instantly delivers it again), 404/405 \
            elsewhere. Unknown event types are stored, never refused.

            OUTPUT
              Each newly stored event as one NDJSON line on stdout, flushed at once: {"kind":"event","key",\
            "event_type" (normalised: link_clicked → email_link_clicked, …),"outcome" (sent, reply, interested, \
            not_interested, out_of_office, wrong_person, unsubscribed, bounced, auto_reply, campaign_completed; \
            absent for opens, clicks and unknown types),"timestamp","campaign_id","campaign_name","lead_email",\
            "email_account","step","variant","email_id","reply_text_snippet" (controls removed, at most 1000 \
            characters),"unibox_url","hard_bounce","source":"webhook","received_at"}. A duplicate is not printed.

            SIDE EFFECTS
              Writes CMO_STATE_DIR/hooks.sqlite (the event, and its raw payload, at most 64 KB, for \
            re-processing). SIGTERM or SIGINT: stops accepting, lets requests being answered finish, prints \
            the summary and exits 0. Ends too, 0, when the reader of stdout goes away.

            ENVIRONMENT
              CMO_HOOKS_SECRET (required, at least 16 characters, never printed), CMO_STATE_DIR, CMO_CONFIG, \
            CMO_LOG_FORMAT, NO_COLOR.

            EXIT STATUS
              0 stopped by a signal or by the reader of stdout, 64 bad flags, 74 the store or stdout cannot be \
            written (disk full; the events stay stored), 78 no CMO_HOOKS_SECRET, the port cannot be bound, or the store cannot be opened.

            EXAMPLES
              On loopback, behind a tunnel that forwards https://hooks.example.com/ here:
                CMO_HOOKS_SECRET=… cmo-hooks serve --port 8787 >> events.ndjson
              Every reply as it arrives:
                cmo-hooks serve --port 8787 --bind 0.0.0.0 | jq -c 'select(.outcome == "reply")'
            """
    )

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("The port to listen on (default 8787; 0 picks a free one, named on stderr).", valueName: "n"))
    var port: Int?

    @Option(help: ArgumentHelp("The IPv4 address to bind (default 127.0.0.1; 0.0.0.0 behind a tunnel or proxy).", valueName: "addr"))
    var bind: String?

    @Option(help: ArgumentHelp("Largest request body accepted, in bytes (default 262144); a larger one is answered 413.", valueName: "n"))
    var maxBody: Int?

    @Option(help: ArgumentHelp("Seconds to let requests being answered finish after SIGTERM (default 10).", valueName: "seconds"))
    var drainTimeout: Double?

    struct Plan {
        var secret: String
        var port: UInt16
        var bind: String
        var maxBody: Int
        var drainTimeout: Double
    }

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("'--port' must be 0 to 65535") }
        if let maxBody, maxBody < 1024 { throw ValidationError("'--max-body' must be 1024 or more") }
        if let drainTimeout, drainTimeout < 0 { throw ValidationError("'--drain-timeout' must be 0 or more") }
    }

    func configure(_ settings: Settings) throws -> Plan {
        let secret = try HookSecret.resolve(settings)
        let port: Int = try settings.resolve("port", flag: port, default: 8787)
        let bind: String = try settings.resolve("bind", flag: bind, default: "127.0.0.1")
        guard (0...65535).contains(port) else { throw settings.invalid("port", env: nil, "must be 0 to 65535") }
        return Plan(
            secret: secret, port: UInt16(port), bind: bind, maxBody: try settings.resolve("max-body", flag: maxBody, default: 256 * 1024),
            drainTimeout: try settings.resolve("drain-timeout", flag: drainTimeout, default: 10))
    }

    func process(_ context: StageContext, plan: Plan) throws {
        // The signals are taken by sigwait below, not by a handler: blocked here, before any thread starts
        // (the store's included), so every thread inherits the mask and only this one receives them.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        let store = try HookEventStores.open(environment: context.settings.environment)
        let receiver = HookReceiver(
            secret: plan.secret, store: store, output: context.output, logger: context.logger,
            onOutputClosed: { kill(getpid(), SIGTERM) })
        let server: HTTPServer
        do {
            server = try HTTPServer(port: plan.port, bindAddress: plan.bind, maxBodyBytes: plan.maxBody) { receiver.handle($0) }
        } catch let error as ServerError {
            throw StageFailure(.config, "\(error.message) (--port, --bind)")
        }
        context.logger.info(
            "listening on http://\(plan.bind):\(server.port)/ (events to \(store.location); the secret header is \(HookSecret.header))")
        var received: Int32 = 0
        sigwait(&signals, &received)
        context.logger.info("\(received == SIGINT ? "SIGINT" : "SIGTERM"): stopping (finishing requests being answered)")
        if !server.drain(timeout: plan.drainTimeout) {
            context.logger.warning(
                "requests still being answered after \(plan.drainTimeout) s; stopping anyway (Instantly delivers them again)")
        }
        let c = receiver.snapshot
        context.recordsOut = c["new"] ?? 0
        for key in ["received", "new", "duplicate", "unauthorized", "rejected", "store_failed"] {
            context.extraSummary.append((key, .int(c[key] ?? 0)))
        }
        if let failure = receiver.outputFailure { throw failure }  // stdout on a full disk: 74, as every tool
    }
}
