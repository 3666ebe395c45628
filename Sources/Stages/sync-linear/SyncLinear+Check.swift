import CMOBasics
import CMOHTTP
import CMOServices
import CMOStageKit
import CMOWriters
import Foundation

/// `sync-linear --check`: the run's settings, the key, Linear reachable and the key accepted, and the
/// team found by id, key or name. Queries only (a read-only client refuses any mutation).
extension SyncLinear: CheckableStage {
    func check(_ context: StageContext) throws -> CheckReport {
        let plan = try configure(context.settings)
        let endpoint = try ServiceEndpoint.resolve(.linear, settings: context.settings, requireKey: !plan.dryRun)
        guard endpoint.hasKey else {
            return CheckReport(target: nil, warnings: ["no LINEAR_API_KEY: the team '\(plan.team)' is not checked (a --dry-run needs none)"])
        }
        var options = http
        options.httpCache = false  // nothing stored
        let api = LinearAPI(endpoint: endpoint, http: try context.makeHTTPClient(options), readOnly: true)
        let team = try LinearWriter.resolveTeam(plan.team, api: api)
        return CheckReport(target: CheckTarget(given: plan.team, id: team.id, name: team.name), facts: [JSONMember("team_key", .string(team.key))])
    }
}
