/// One thing Instantly says happened to a lead (a webhook delivery, or the same payload fetched again from
/// `GET /api/v2/webhook-events`): the record `cmo-hooks` stores once and prints, and what the report, the
/// chat and `status` count (docs/contracts.md, issue 28).
///
/// Instantly's payload has no event id and deliveries are at least once, so an event is known by `key`,
/// made of what the payload itself carries (`HookEvent.key(...)`): a delivery seen again, or fetched again
/// by a catch-up, has the same key.
public struct HookEvent: Codable, Sendable, Equatable {
    /// Always "event" (records are open: `kind` says what a line is).
    public var kind: String = "event"
    /// The composite dedupe key.
    public var key: String
    /// Instantly's `event_type`, normalised to one spelling (`HookEvent.normalisedType`); unknown types kept as they came.
    public var eventType: String
    /// What the event means for cmo (nil: nothing to do but keep it).
    public var outcome: Outcome?
    /// Instantly's `timestamp` (ISO 8601).
    public var timestamp: String
    public var campaignID: String?
    public var campaignName: String?
    /// The lead's address, lowercased.
    public var leadEmail: String?
    public var emailAccount: String?
    public var step: Int?
    public var variant: Int?
    public var emailID: String?
    /// The reply's first words (`reply_text_snippet`), for a hot-reply issue.
    public var snippet: String?
    public var uniboxURL: String?
    /// For a bounce: whether it is permanent (5.x.x) rather than soft (4.x.x); nil when the payload does not say.
    public var hardBounce: Bool?
    /// For an out-of-office reply: when the person is back (ISO 8601 day), if the payload or reply says.
    public var returnsOn: String?
    /// How it came: "webhook" or "catch-up".
    public var source: String
    /// When cmo stored it (ISO 8601).
    public var receivedAt: String

    /// What a kind of event means. Replies are split by kind, because a "remove me" is not a win.
    public enum Outcome: String, Codable, Sendable, CaseIterable {
        case sent, reply, interested, notInterested = "not_interested", outOfOffice = "out_of_office",
            wrongPerson = "wrong_person", unsubscribed, bounced, autoReply = "auto_reply", campaignCompleted = "campaign_completed"

        /// Whether the person answered (stop-on-reply): every reply kind but an auto-reply or out-of-office.
        public var isReply: Bool { [.reply, .interested, .notInterested, .wrongPerson].contains(self) }
    }

    enum CodingKeys: String, CodingKey {
        case kind, key, eventType = "event_type", outcome, timestamp, campaignID = "campaign_id", campaignName = "campaign_name"
        case leadEmail = "lead_email", emailAccount = "email_account", step, variant, emailID = "email_id", snippet = "reply_text_snippet"
        case uniboxURL = "unibox_url", hardBounce = "hard_bounce", returnsOn = "returns_on", source, receivedAt = "received_at"
    }

    public init(
        key: String, eventType: String, outcome: Outcome?, timestamp: String, campaignID: String?, leadEmail: String?, source: String,
        receivedAt: String
    ) {
        self.key = key
        self.eventType = eventType
        self.outcome = outcome
        self.timestamp = timestamp
        self.campaignID = campaignID
        self.leadEmail = leadEmail
        self.source = source
        self.receivedAt = receivedAt
    }

    /// The one spelling of an event type both of Instantly's pages use for the same thing
    /// (`link_clicked` → `email_link_clicked`, `lead_unsubscribed`/`email_unsubscribed` → `lead_unsubscribed`).
    public static func normalisedType(_ raw: String) -> String {
        switch raw {
        case "link_clicked": return "email_link_clicked"
        case "email_unsubscribed", "unsubscribed": return "lead_unsubscribed"
        case "email_replied", "reply": return "reply_received"
        case "auto_reply", "email_auto_reply_received": return "auto_reply_received"
        default: return raw
        }
    }

    /// What an (already normalised) event type means; nil for types cmo only keeps (opens, clicks, unknown).
    public static func outcome(of type: String) -> Outcome? {
        switch type {
        case "email_sent": return .sent
        case "reply_received": return .reply
        case "auto_reply_received": return .autoReply
        case "lead_interested", "lead_meeting_booked", "lead_meeting_completed", "lead_closed": return .interested
        case "lead_not_interested": return .notInterested
        case "lead_out_of_office": return .outOfOffice
        case "lead_wrong_person": return .wrongPerson
        case "lead_unsubscribed": return .unsubscribed
        case "email_bounced": return .bounced
        case "campaign_completed": return .campaignCompleted
        default: return nil
        }
    }

    /// The composite key of a payload: its type, campaign, lead, email, step and timestamp, which together
    /// name one happening (a delivery retried or fetched again carries the same ones).
    public static func key(
        eventType: String, campaignID: String?, leadEmail: String?, emailID: String?, step: Int?, timestamp: String
    ) -> String {
        [eventType, campaignID ?? "", leadEmail?.lowercased() ?? "", emailID ?? "", step.map(String.init) ?? "", timestamp]
            .joined(separator: "|")
    }
}
