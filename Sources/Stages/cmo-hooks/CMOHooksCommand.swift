import ArgumentParser
import CMOBasics
import CMOStageKit

@main
struct CMOHooksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cmo-hooks",
        abstract: "Receive what Instantly sends back (sends, replies, bounces, unsubscribes) and keep each event once.",
        discussion: """
            Instantly's webhooks deliver events at least once and without an id; cmo-hooks stores each one once \
            (by a key made of its type, campaign, lead, email, step and timestamp) in CMO_STATE_DIR/hooks.sqlite \
            and prints each new one as an NDJSON line, so what acts on events (suppression, stop-on-reply, the \
            report) reads one record per happening, whichever way it arrived.

            SUBCOMMANDS
              serve       the webhook receiver: POST / from Instantly, GET /health
              catch-up    fetch what the receiver missed from GET /api/v2/webhook-events and merge it
              register    create (or find, or resume) a campaign's webhook pointing at the receiver

            Each has its own --help (cmo-hooks serve --help).

            SECRET
              CMO_HOOKS_SECRET (environment only, never printed) is sent by Instantly in the \
            \(HookSecret.header) header of every delivery, because register sets it as one of the webhook's \
            headers (Instantly signs nothing: the header is the only way to know a delivery is Instantly's).

            EXAMPLES
                export CMO_HOOKS_SECRET=$(openssl rand -hex 32)
                cmo-hooks register --campaign 0f6a…-… --url https://hooks.example.com/
                cmo-hooks serve --port 8787 --bind 0.0.0.0 | jq -c 'select(.outcome == "reply")'
                cmo-hooks catch-up
            """,
        version: CMOVersion.string,
        subcommands: [ServeCommand.self, CatchUpCommand.self, RegisterCommand.self, ApplyCommand.self]
    )
}

/// The shared secret's header and variable.
enum HookSecret {
    /// The header Instantly sends the secret in (set at `register`).
    static let header = "X-CMO-Hooks-Secret"
    /// The variable holding the secret.
    static let variable = "CMO_HOOKS_SECRET"
    /// Shortest secret accepted: a guessable one would let anyone write events.
    static let minimumLength = 16

    /// The secret from the environment; 78 when missing or too short (never echoed).
    static func resolve(_ settings: Settings) throws -> String {
        guard let secret = settings.secret(variable) else {
            throw StageFailure(
                .config, "\(variable) is not set: export a random secret (openssl rand -hex 32); Instantly sends it in \(header)")
        }
        guard secret.utf8.count >= minimumLength, !secret.contains(where: { $0.isNewline }) else {
            throw StageFailure(.config, "\(variable) must be one line of at least \(minimumLength) characters")
        }
        return secret
    }

    /// Whether `given` equals `secret`, in time that does not depend on where they differ.
    static func matches(_ given: String?, _ secret: String) -> Bool {
        let a = Array((given ?? "").utf8)
        let b = Array(secret.utf8)
        var diff = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<b.count { diff |= (i < a.count ? a[i] : 0) ^ b[i] }
        return diff == 0 && given != nil
    }
}
