import CMOBasics
import CMOLedger
import CMOServices
import CMOStageKit
import CMOStorage
import Foundation

/// send-instantly's `--check`: the campaign found (by id, else by name), judged as a run judges it,
/// and the schedule its daily cap implies, read from the ledger without writing.
extension InstantlyWriter {
    /// The campaign `given` names: its id (`GET /api/v2/campaigns/{id}`); else, when it is not an id
    /// or no campaign has it, the one campaign of that name (`GET /api/v2/campaigns?search=`). No
    /// match, or several, is refused (78) with the candidates (names and ids, at most 10).
    public static func resolveCampaign(_ given: String, api: InstantlyAPI) throws -> InstantlyCampaign {
        let value = given.trimmingCharacters(in: .whitespaces)
        if UUID(uuidString: value) != nil, let campaign = try api.campaignIfExists(value.lowercased()) { return campaign }
        var known = try api.campaigns(search: value)
        if known.isEmpty { known = try api.campaigns() }  // none of that name: the nearest names, to choose from
        let match = try TargetRefusal.match(given, in: known.map { ($0.id, $0.name) }, what: "Instantly campaign", flag: "--campaign")
        guard let campaign = try api.campaignIfExists(match.id) else {
            throw TargetRefusal("Instantly campaign '\(match.name)' (\(match.id)) was listed but does not exist (404)", given: given, candidates: [])
        }
        return campaign
    }

    /// What a run says of the campaign before its first write: a campaign that will not send is
    /// refused unless `allowInactive`; a sequence that does not print the copy variables is refused;
    /// a draft, or no unsubscribe header, is a warning (refused with `requireUnsubscribeHeader`).
    /// The warnings, in the run's words.
    public static func assess(
        _ campaign: InstantlyCampaign, allowInactive: Bool, requireUnsubscribeHeader: Bool, subjectVariable: String, bodyVariable: String
    ) throws -> [String] {
        var warnings: [String] = []
        let label = "Instantly campaign '\(campaign.name)' (\(campaign.id))"
        if !campaign.acceptsNewLeads {
            if allowInactive {
                warnings.append("\(label) is \(campaign.statusName); writing anyway (--allow-inactive)")
            } else {
                throw StageFailure(.config, "\(label) is \(campaign.statusName): it will not send; resume it in Instantly, or pass --allow-inactive")
            }
        } else if campaign.status == 0 {
            warnings.append("\(label) is a draft: leads wait until it is activated")
        }
        var missing: [String] = []
        if !campaign.subjects.contains(where: { InstantlyCampaign.uses($0, variable: subjectVariable) }) {
            missing.append("{{\(subjectVariable)}} in a step's subject")
        }
        if !campaign.bodies.contains(where: { InstantlyCampaign.uses($0, variable: bodyVariable) }) {
            missing.append("{{\(bodyVariable)}} in a step's body")
        }
        if !missing.isEmpty {
            throw StageFailure(
                .config,
                "\(label): its sequence does not print " + missing.joined(separator: " or ")
                    + ", so the rendered copy would be silently dropped; add the variables to the sequence in Instantly "
                    + "(or name the variables it uses with --subject-variable/--body-variable)")
        }
        if campaign.insertUnsubscribeHeader != true {
            let text = "\(label) has insert_unsubscribe_header off: Gmail and Yahoo require one-click unsubscribe for bulk senders"
            if requireUnsubscribeHeader { throw StageFailure(.config, text + " (--require-unsubscribe-header)") }
            warnings.append(text + "; turn it on in the campaign's options")
        }
        return warnings
    }

    /// Where the campaign's day stands in the write ledger, as a run counts it.
    public struct Schedule: Sendable, Equatable {
        /// New leads claimed, sent or confirmed today (UTC) for the campaign: what today's cap has spent.
        public var sentToday: Int
        /// Leads deferred over an earlier cap and still waiting (they go before new leads).
        public var deferred: Int
        public init(sentToday: Int, deferred: Int) {
            self.sentToday = sentToday
            self.deferred = deferred
        }
    }

    /// Reads the schedule of `campaign` (its id) on the day of `now`, in the ledger the run would use (the
    /// state directory's, or the team database's). A state directory without a ledger has nothing
    /// scheduled: nothing is created.
    public static func schedule(campaign: String, now: Date, environment: [String: String]) throws -> Schedule {
        guard let ledger = try WriteLedger.openIfPresent(environment: environment, runID: "check") else { return Schedule(sentToday: 0, deferred: 0) }
        let target = campaign.lowercased()
        return Schedule(
            sentToday: try ledger.countToday(service: service, target: target, day: WriteLedger.day(now)),
            deferred: try ledger.deferredCount(service: service, target: target))
    }

    /// What the schedule means for a run today, when it is worth saying.
    public static func scheduleWarnings(_ schedule: Schedule, dailyCap: Int?, day: String) -> [String] {
        guard let cap = dailyCap else { return [] }
        var out: [String] = []
        let left = max(0, cap - schedule.sentToday)
        if cap == 0 {
            out.append("the daily cap is 0: every lead will be deferred")
        } else if left == 0 {
            out.append("today's cap of \(cap) new leads is used up (\(schedule.sentToday) added on \(day) UTC): new leads will be deferred")
        }
        if schedule.deferred > 0 {
            out.append(
                "\(schedule.deferred) leads deferred on earlier days are waiting; they go before new leads, "
                    + "so at most \(max(0, left - schedule.deferred)) new leads can be added today")
        }
        return out
    }
}
