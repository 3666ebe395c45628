import ArgumentParser
import CMOBasics
import CMOHTTP
import CMOServices
import CMOStageKit
import Foundation

struct RegisterCommand: Stage {
    static let stageName = "cmo-hooks"
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract: "Point a campaign's Instantly webhook at the receiver: create it once, or find it, or resume it.",
        discussion: """
            INPUT
              Nothing on stdin. GET /api/v2/webhooks?campaign=ID lists the campaign's webhooks; one with the \
            same campaign and target_hook_url is the campaign's (nothing is created twice).

            WHAT IT DOES
              None found: POST /api/v2/webhooks {target_hook_url, campaign, name, event_type (default \
            all_events), headers: {\(HookSecret.header): CMO_HOOKS_SECRET}}. Found: its \(HookSecret.header) \
            header is set again with PATCH /api/v2/webhooks/{id} when it differs from CMO_HOOKS_SECRET (other \
            headers kept), and a webhook Instantly disabled after delivery failures (status −1) is resumed with \
            POST /api/v2/webhooks/{id}/resume. --dry-run lists only and says what it would do.

            OUTPUT
              One JSON line: {"kind":"webhook","action":"created"|"found"|"resumed","id","campaign",\
            "target_hook_url","name","event_type","status","headers_updated","dry_run"}. The secret's value is \
            never printed.

            ENVIRONMENT
              INSTANTLY_API_KEY and CMO_HOOKS_SECRET (both required), INSTANTLY_API_URL, CMO_CONFIG, \
            CMO_LOG_FORMAT, NO_COLOR.

            EXIT STATUS
              0 done, 1 Instantly refused the request (400/409/422: a URL it does not take), 64 bad flags, 69 \
            Instantly down or failing after retries, 77 key rejected, 78 missing key or secret, no paid plan \
            (402: webhooks need Instantly's Hyper Growth plan).

            EXAMPLES
                cmo-hooks register --campaign 0f6a…-… --url https://hooks.example.com/
                cmo-hooks register --campaign 0f6a…-… --url https://hooks.example.com/ --dry-run
            """
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var http: HTTPOptions

    @Option(help: ArgumentHelp("The Instantly campaign id (a UUID).", valueName: "id"))
    var campaign: String?

    @Option(help: ArgumentHelp("Where Instantly delivers: the receiver's public URL (http:// or https://).", valueName: "url"))
    var url: String?

    @Option(help: ArgumentHelp("The webhook's name in Instantly (default cmo-hooks).", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp("The events it sends (default all_events).", valueName: "type"))
    var eventType: String?

    @Flag(help: "List only: print what would be done, change nothing in Instantly.")
    var dryRun = false

    /// The event types Instantly's spec allows at creation (`CreateWebhook.event_type`).
    static let eventTypes: Set<String> = [
        "all_events", "email_sent", "email_opened", "email_link_clicked", "reply_received", "email_bounced", "lead_unsubscribed",
        "campaign_completed", "account_error", "lead_neutral", "lead_interested", "lead_not_interested", "lead_meeting_booked",
        "lead_meeting_completed", "lead_closed", "lead_out_of_office", "lead_wrong_person", "lead_no_show",
        "supersearch_enrichment_completed",
    ]

    struct Plan {
        var campaign: String
        var url: String
        var name: String
        var eventType: String
        var secret: String
        var dryRun: Bool
    }

    func configure(_ settings: Settings) throws -> Plan {
        guard let campaign: String = try settings.resolve("campaign", flag: campaign, env: "CMO_INSTANTLY_CAMPAIGN") else {
            throw StageFailure(.usage, "--campaign ID is required")
        }
        guard UUID(uuidString: campaign) != nil else {
            throw StageFailure(.usage, "--campaign '\(campaign)' is not an Instantly campaign id (a UUID such as 0f6a7c2e-…)")
        }
        guard let url: String = try settings.resolve("url", flag: url) else { throw StageFailure(.usage, "--url URL is required") }
        let lower = url.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://"), url.count <= 2000,
            !url.contains(where: { $0.isWhitespace || $0.isNewline }), URL(string: url)?.host != nil
        else {
            throw StageFailure(
                .usage, "--url '\(TextCleaning.truncate(TextCleaning.oneLine(url), to: 200))' is not an http:// or https:// URL")
        }
        let eventType: String = try settings.resolve("event-type", flag: eventType, default: "all_events")
        guard Self.eventTypes.contains(eventType) else {
            throw StageFailure(
                .usage, "--event-type '\(eventType)' is not one of Instantly's: \(Self.eventTypes.sorted().joined(separator: ", "))")
        }
        let name: String = try settings.resolve("name", flag: name, default: "cmo-hooks")
        return Plan(
            campaign: campaign.lowercased(), url: url, name: TextCleaning.truncate(TextCleaning.oneLine(name), to: 100),
            eventType: eventType, secret: try HookSecret.resolve(settings),
            dryRun: try settings.resolve("dry-run", flag: dryRun ? true : nil, default: false))
    }

    func process(_ context: StageContext, plan: Plan) throws {
        let endpoint = try ServiceEndpoint.resolve(.instantly, settings: context.settings)
        let api = InstantlyAPI(endpoint: endpoint, http: try context.makeHTTPClient(http), readOnly: plan.dryRun)
        let mine = try api.webhooks(campaign: plan.campaign).filter {
            $0.campaign?.lowercased() == plan.campaign && $0.targetHookURL == plan.url
        }
        if mine.count > 1 {
            context.logger.warning(
                "\(mine.count) webhooks of this campaign point at \(plan.url) (\(mine.map(\.id).joined(separator: ", "))); using \(mine[0].id)"
            )
        }
        var action: String
        var headersUpdated = false
        var hook: InstantlyWebhook
        if var found = mine.first {
            action = "found"
            if found.headers[HookSecret.header] != plan.secret {
                headersUpdated = true
                var headers = found.headers.filter { $0.key.lowercased() != HookSecret.header.lowercased() }
                headers[HookSecret.header] = plan.secret
                if !plan.dryRun { found = try api.updateWebhookHeaders(id: found.id, headers: headers) }
                context.logger.info(
                    "\(plan.dryRun ? "would set" : "set") the \(HookSecret.header) header of webhook \(found.id) (it differed from CMO_HOOKS_SECRET)"
                )
            }
            if found.status == -1 {
                action = "resumed"
                if !plan.dryRun { found = try api.resumeWebhook(id: found.id) }
                context.logger.info(
                    "\(plan.dryRun ? "would resume" : "resumed") webhook \(found.id), disabled by Instantly after delivery failures"
                        + (found.timestampError.map { " at \($0)" } ?? ""))
            }
            hook = found
        } else {
            action = "created"
            if plan.dryRun {
                hook = InstantlyWebhook(
                    id: "", campaign: plan.campaign, name: plan.name, targetHookURL: plan.url, eventType: plan.eventType, status: nil,
                    headers: [:], timestampError: nil)
            } else {
                hook = try api.createWebhook(
                    targetURL: plan.url, campaign: plan.campaign, name: plan.name, eventType: plan.eventType,
                    headers: [HookSecret.header: plan.secret])
            }
            context.logger.info(
                "\(plan.dryRun ? "would create" : "created") webhook \(hook.id.isEmpty ? "" : hook.id + " ")for campaign \(plan.campaign) → \(plan.url)"
            )
        }
        var line: [JSONMember] = [
            JSONMember("kind", "webhook"), JSONMember("action", .string(action)),
            JSONMember("id", hook.id.isEmpty ? .null : .string(hook.id)), JSONMember("campaign", .string(plan.campaign)),
            JSONMember("target_hook_url", .string(hook.targetHookURL.isEmpty ? plan.url : hook.targetHookURL)),
            JSONMember("name", hook.name.map { .string($0) } ?? .null),
            JSONMember("event_type", hook.eventType.map { .string($0) } ?? .null),
            JSONMember("status", hook.status.map { .int($0) } ?? .null), JSONMember("headers_updated", .bool(headersUpdated)),
            JSONMember("dry_run", .bool(plan.dryRun)),
        ]
        if plan.dryRun { line.append(JSONMember("would", .string(action == "found" && !headersUpdated ? "nothing" : action))) }
        try context.output.write(JSONValue.object(line).encoded() + [0x0A])
        context.recordsOut += 1
    }
}
