import Foundation

/// Switches for the sandbox's Attio v2: rate limits, the people attributes it knows, and the
/// behaviours apis.md marks [U] or [3P].
public struct AttioOptions: Sendable {
    /// Write requests per second across the API (documented: 25).
    public var writesPerSecond = 25
    /// Read requests per second (documented: 100).
    public var readsPerSecond = 100
    /// Query-style POSTs (`…/records/query`, `…/entries/query`) count as writes instead of reads.
    /// Default: reads, as a third party reports [3P].
    public var queriesCountAsWrites = false
    /// Custom people attributes beyond Attio's standard ones: slug → type (`text`, `number`, `checkbox`).
    public var customPeopleAttributes: [String: String] = ["github_login": "text", "lead_score": "number", "lead_source": "text"]
    /// The list attributes (entry values) of each seeded list, by the list's slug: attribute slug → type
    /// (`text`, `number`, `checkbox`, `status`, `select`). A list not named has none.
    public var listAttributes: [String: [String: String]] = [
        "outbound_developers": ["stage": "status", "campaign": "text", "lead_score": "number", "source": "select"]
    ]
    /// The options of every `status` attribute (titles) and of every `select` attribute.
    public var statusOptions = ["Prospect", "Contacted", "Replied", "Qualified", "Lost"]
    public var selectOptions = ["GitHub", "Referral", "Inbound"]
    /// Refusals by the rate limiter carry `Retry-After` in delta-seconds instead of the documented HTTP date.
    public var retryAfterSeconds = false
    /// Accept unknown attribute slugs in `values` (Attio rejects them with 400 `value_not_found`).
    public var acceptUnknownAttributes = false
    /// Lists the workspace starts with: (name, api_slug); ids follow from the seed.
    public var lists: [(name: String, slug: String)] = [
        ("Outbound — developers", "outbound_developers"), ("Sandbox pipeline", "sandbox_pipeline"),
    ]
    /// Largest note `content` in UTF-8 bytes before 413 `validation_type` (Attio's real limit is not documented).
    public var maxNoteContentBytes = 100_000
    /// Answer every Nth people assert with 409 `concurrent_write_conflict` (documented for another upsert
    /// endpoint, "may also apply here" [U]); 0 never does. The conflicting request is not applied.
    public var conflictEveryNthAssert = 0
    /// Accept the implicit query filter `{"email_addresses": "a@b.c"}` ([U]: its exact form is unverified);
    /// when false only operator forms (`{"$eq": …}`, `{"email_address": {"$eq": …}}`) are taken, the
    /// implicit one is 400 `filter_error`.
    public var implicitEmailFilter = true
    /// The clock used for rate windows and `Retry-After`.
    public var clock: ServiceKit.Clock = { Date() }
    /// The start of the deterministic write clock (`created_at`, `active_from`).
    public var epoch = Date(timeIntervalSince1970: 1_795_000_000)

    /// The documented defaults.
    public init() {}
}
