import CMOBasics
import CMOLedger
import CMOServices
import Foundation

/// send-instantly's `--rebuild-ledger`: the campaign's leads as Instantly holds them, each a `confirmed`
/// row keyed as the writer keys it (campaign id + lower-cased email), on the day Instantly created it (so
/// that day's cap counts it again).
extension InstantlyWriter {
    /// Reads every lead of `campaign` and records it. Returns the JSON facts of the rebuild.
    public static func rebuildLedger(campaign: String, api: InstantlyAPI, environment: [String: String], runID: String) throws -> [JSONMember] {
        let campaign = campaign.lowercased()
        let (leads, requests) = try api.listLeads(campaign: campaign)
        var seen = Set<String>()
        let found = leads.compactMap { lead -> LedgerHistory.Found? in
            let key = Self.key(campaign: campaign, email: lead.email)
            guard seen.insert(key).inserted else { return nil }
            return LedgerHistory.Found(
                key: key, service: service, target: campaign, subject: lead.email, remoteID: lead.id, day: LedgerHistory.day(lead.created))
        }
        let counts = try LedgerHistory.record(found, environment: environment, runID: runID)
        var byDay: [String: Int] = [:]
        for f in found { byDay[f.day ?? "unknown", default: 0] += 1 }
        return [
            JSONMember("service", "instantly"), JSONMember("target", .string(campaign)), JSONMember("found", .int(found.count)),
            JSONMember("recorded", .int(counts.recorded)), JSONMember("confirmed", .int(counts.confirmed)),
            JSONMember("already_present", .int(counts.alreadyPresent)), JSONMember("requests", .int(requests)),
            JSONMember("by_day", .object(byDay.keys.sorted().map { JSONMember($0, .int(byDay[$0]!)) })),
        ]
    }
}
