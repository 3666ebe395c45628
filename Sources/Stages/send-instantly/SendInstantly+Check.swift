import CMOBasics
import CMOContract
import CMOHTTP
import CMOLedger
import CMOServices
import CMOStageKit
import CMOWriters
import Foundation

/// `send-instantly --check`: the run's settings, the key, Instantly reachable and the key accepted
/// (GET the campaign), the campaign found by id or name and judged as a run judges it, the default
/// cap's sending accounts, and the schedule from the ledger. Reads only (a read-only client).
extension SendInstantly: CheckableStage {
    func check(_ context: StageContext) throws -> CheckReport {
        let settings = context.settings
        let given: String? = try settings.resolve("campaign", flag: campaign, env: "CMO_INSTANTLY_CAMPAIGN")
        guard let given, !given.trimmingCharacters(in: .whitespaces).isEmpty else {
            let plan = try configure(settings)  // no campaign: the run's own answer (64 unless --dry-run)
            return CheckReport(target: nil, facts: Self.scheduleFacts(cap: plan.settings.dailyCap, InstantlyWriter.Schedule(sentToday: 0, deferred: 0)))
        }
        // The run's own settings first (64/78 before any request); a name stands in as an id until found.
        var early = self
        if UUID(uuidString: given.trimmingCharacters(in: .whitespaces)) == nil { early.campaign = "00000000-0000-4000-8000-000000000000" }
        _ = try early.configure(settings)
        let endpoint = try ServiceEndpoint.resolve(.instantly, settings: settings)
        var options = http
        options.httpCache = false  // nothing stored
        let api = InstantlyAPI(endpoint: endpoint, http: try context.makeHTTPClient(options), readOnly: true)
        let found = try InstantlyWriter.resolveCampaign(given, api: api)
        var resolved = self
        resolved.campaign = found.id
        let plan = try resolved.configure(settings)
        var warnings = try InstantlyWriter.assess(
            found, allowInactive: plan.allowInactive, requireUnsubscribeHeader: plan.requireUnsubscribeHeader,
            subjectVariable: plan.settings.subjectVariable, bodyVariable: plan.settings.bodyVariable)
        let cap = try plan.settings.dailyCap ?? defaultCap(found, api: api, perInbox: plan.perInboxCap, context: context)
        let schedule = try InstantlyWriter.schedule(campaign: found.id, now: plan.settings.now, environment: settings.environment)
        warnings += InstantlyWriter.scheduleWarnings(schedule, dailyCap: cap, day: WriteLedger.day(plan.settings.now))
        return CheckReport(
            target: CheckTarget(given: given, id: found.id, name: found.name), warnings: warnings,
            facts: [JSONMember("campaign_status", .string(found.statusName))] + Self.scheduleFacts(cap: cap, schedule))
    }

    static func scheduleFacts(cap: Int?, _ schedule: InstantlyWriter.Schedule) -> [JSONMember] {
        [
            JSONMember("daily_cap", cap.map { .int($0) } ?? .null), JSONMember("sent_today", .int(schedule.sentToday)),
            JSONMember("deferred", .int(schedule.deferred)),
        ]
    }
}
