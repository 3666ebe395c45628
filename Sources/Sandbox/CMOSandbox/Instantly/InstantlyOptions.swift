import Foundation

/// Switches for the sandbox's Instantly v2: limits, plan state, and the behaviours apis.md marks [U].
public struct InstantlyOptions: Sendable {
    /// What `skip_if_in_campaign` / `skip_if_in_list` compare against. The docs disagree [U]:
    /// the bulk endpoint says "in ANY campaign/list", the single endpoint says "already in the campaign/list".
    public enum SkipScope: String, Sendable {
        /// Any campaign (or any list) of the workspace.
        case anyInWorkspace = "any"
        /// Only the campaign (or list) the request targets.
        case targetOnly = "target"
    }

    /// What `POST /api/v2/leads` answers when a `skip_if_*` flag fires or the email is already in the
    /// target campaign/list: undocumented [U].
    public enum SingleSkipReply: String, Sendable {
        /// 200 with the existing Lead (no new lead is made).
        case existingLead = "existing"
        /// 200 with an empty object `{}`.
        case emptyObject = "empty"
    }

    /// How a list endpoint marks its last page: not documented [U].
    public enum EndOfList: String, Sendable {
        /// `next_starting_after` is left out when nothing follows.
        case omitted
        /// `next_starting_after: null` when nothing follows.
        case null
        /// `next_starting_after` is the last item's cursor on every non-empty page; the end is an empty page.
        case lastItem = "last-item"
    }

    /// What `leads/list` does with a `starting_after` that is no lead's id (or, with `distinct_contacts`,
    /// no lead's email). The docs call it a keyset cursor ("results are ordered by id … reuse the cursor"),
    /// so by default the page continues after it in that order [U].
    public enum UnknownCursor: String, Sendable {
        /// Continue with the items that sort after the cursor (as `WHERE id > cursor` would).
        case continueAfter = "continue"
        /// 400 `Invalid starting_after cursor`.
        case reject
    }

    /// Workspace limit per second (documented: 100).
    public var requestsPerSecond = 100
    /// Workspace limit per minute (documented: 6,000).
    public var requestsPerMinute = 6000
    /// Answer 402 "no active paid plan" on every authenticated request.
    public var noPlan = false
    /// How many campaigns the workspace starts with (ids follow from the seed). The first five are, in
    /// order: active with `{{cmo_subject}}`/`{{cmo_body}}` and the unsubscribe header, active with fixed
    /// text and no unsubscribe header, draft, paused, completed; later ones repeat that cycle.
    public var campaignCount = 5
    /// How many lead lists the workspace starts with.
    public var listCount = 2
    /// Lead uploads the plan allows in total (`remaining_in_plan`); nil reports null.
    public var planLeadLimit: Int? = 25_000
    /// Entries of the workspace's default blocklist: whole emails or bare domains.
    public var blocklist: [String] = ["blocked@example.com", "donotcontact.example"]
    /// Entries (emails or bare domains) of the workspace's one custom blocklist, used instead of the
    /// default one when a request names it in `blocklist_id`; its id follows from the seed.
    public var customBlocklist: [String] = ["competitor.example", "vip@customer.example"]
    /// Requests refused by the workspace limit still count in its sliding windows (a client that keeps
    /// sending into 429s stays limited), as counters that count every hit do [U]; false counts only
    /// the requests served.
    public var rateCountsRefused = true
    /// What `leads/list` does with a `starting_after` it does not know.
    public var unknownCursor: UnknownCursor = .continueAfter
    /// Apply the automatic per-campaign/list dedupe to `POST /api/v2/leads` too (documented only for the
    /// bulk endpoint [U]); false stores a second lead for an email already in the target.
    public var singleDedupe = true
    /// Accept unknown top-level keys in the `leads/add` body, as the spec's schema (no
    /// `additionalProperties: false` there) allows; by default they are refused so a misspelt flag
    /// (`skip_if_in_campaigns`) cannot silently do nothing [U].
    public var acceptUnknownBulkKeys = false
    /// Refuse a POST body that is not `application/json` (415), empty (400) or not JSON (400), as Instantly's
    /// framework (Fastify, judging by its error shape) does [U].
    public var requireJSONContentType = true
    /// Scope of `skip_if_in_campaign`/`skip_if_in_list`; nil follows each endpoint's own wording
    /// (bulk: any in the workspace; single: the target only).
    public var skipScope: SkipScope? = nil
    /// What the single-lead endpoint answers when it does not create the lead.
    public var singleSkipReply: SingleSkipReply = .existingLead
    /// How list endpoints mark the last page.
    public var endOfList: EndOfList = .omitted
    /// HTTP status of a body validation failure on `leads/add` (apis.md: "probably 400" [U]).
    public var validationStatus = 400
    /// Count an email already in the target campaign/list as `duplicated_leads` before looking at the
    /// `skip_if_*` flags (the evaluation order is undocumented [U]; default: flags first).
    public var dedupeBeforeSkip = false
    /// Answer 403 (Cloudflare error 1010) to requests without a `User-Agent`, as a third party reports [3P].
    public var requireUserAgent = false
    /// The clock used for rate windows (sliding: any 1 s and any 60 s span).
    public var clock: ServiceKit.Clock = { Date() }
    /// The time stamped on seeded objects and the start of the deterministic write clock.
    public var epoch = Date(timeIntervalSince1970: 1_795_000_000)

    /// How many steps each seeded campaign's sequence has (1: today's one-step sequences; later steps are
    /// follow-ups sent `followUpDelayDays` after the one before, in the same thread).
    public var sequenceSteps = 1
    /// Days between one step and the next (the seeded steps' `delay`).
    public var followUpDelayDays = 2
    /// A daily_limit for every seeded campaign instead of the seeded 50/100/… (nil keeps them).
    public var dailyLimit: Int? = nil
    /// What the world says about a mailbox: nil when it does not know the address; else whether it takes
    /// mail and the DNS verdict of its domain (`mx`, `nxdomain`, `null_mx`, `servfail`, …). Set from the
    /// synthetic world (`World.mailboxVerdict`) by the `cmo-sandbox` executable.
    public var mailbox: @Sendable (String) -> (deliverable: Bool, dns: String)? = { _ in nil }
    /// The replies, bounces and unsubscribes the world produces once leads are sent (`advance`).
    public var engagement = InstantlyEngagementRates()
    /// How webhook deliveries are made (threads, attempts, backoff, when a webhook is disabled).
    public var webhookDelivery = InstantlyDeliveryOptions()

    /// The documented defaults.
    public init() {}
}

/// The shares of leads the sandbox world answers in each way, drawn once per lead (from the seed, the
/// campaign and the lead's email). A lead has at most one fate: it bounces, unsubscribes, replies, sends an
/// out-of-office or an automatic reply, or stays silent. The first five rates must add up to at most 1.
public struct InstantlyEngagementRates: Sendable {
    /// Share of leads whose first email bounces (besides mailboxes the world knows to be undeliverable).
    public var bounceRate = 0.03
    /// Share of those bounces that are permanent (5.x.x); the rest are soft (4.x.x).
    public var hardBounceShare = 0.7
    /// Share of leads that unsubscribe after one of the steps.
    public var unsubscribeRate = 0.02
    /// Share of leads that reply (a person's answer) to one of the steps.
    public var replyRate = 0.08
    /// Share of leads that answer with an out-of-office note carrying a return date.
    public var outOfOfficeRate = 0.04
    /// Share of leads that send an automatic reply other than an out-of-office.
    public var autoReplyRate = 0.02
    /// Of the human replies: the share labelled interested (`lead_interested`).
    public var interestedShare = 0.35
    /// Of the human replies: the share labelled not interested (`lead_not_interested`).
    public var notInterestedShare = 0.4
    /// Of the human replies: the share labelled wrong person (`lead_wrong_person`); the rest are neutral.
    public var wrongPersonShare = 0.1

    public init() {}

    /// A reason these rates cannot be used, or nil.
    public var problem: String? {
        let all = [bounceRate, hardBounceShare, unsubscribeRate, replyRate, outOfOfficeRate, autoReplyRate, interestedShare,
            notInterestedShare, wrongPersonShare]
        if all.contains(where: { !(0...1).contains($0) }) { return "every Instantly rate and share must be in 0...1" }
        if bounceRate + unsubscribeRate + replyRate + outOfOfficeRate + autoReplyRate > 1 {
            return "the Instantly bounce, unsubscribe, reply, out-of-office and auto-reply rates must add up to at most 1"
        }
        if interestedShare + notInterestedShare + wrongPersonShare > 1 {
            return "the Instantly interested, not-interested and wrong-person shares must add up to at most 1"
        }
        return nil
    }
}

/// How the sandbox delivers webhook payloads: in the background, in wall time.
public struct InstantlyDeliveryOptions: Sendable {
    /// Delivery threads (a burst of thousands of events is delivered in parallel).
    public var threads = 8
    /// Attempts per delivery, the first included.
    public var attempts = 4
    /// Waits before the second, third, … attempt, seconds (the last repeats).
    public var backoff: [Double] = [0.2, 0.5, 1]
    /// Deliveries in a row that fail every attempt before the webhook is disabled (status −1).
    public var disableAfter = 3
    /// Connect/read/write timeout of one attempt, seconds.
    public var timeout: Double = 10

    public init() {}
}
