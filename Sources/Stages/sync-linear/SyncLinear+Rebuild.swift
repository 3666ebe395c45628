import CMOBasics
import CMOHTTP
import CMOLedger
import CMOServices
import CMOStageKit
import CMOStorage
import CMOWriters
import Foundation

/// `sync-linear --rebuild-ledger --team KEY`: the team's issues sync-linear made (their ids derive from
/// their keys) read back into the write ledger (LinearWriter+Rebuild.swift).
extension SyncLinear: LedgerRebuildingStage, StateGuardedStage {
    func verifyState(_ context: StageContext) throws {
        try StateAnchor.verify(environment: context.settings.environment)
    }

    func rebuildLedger(_ context: StageContext) throws -> [JSONMember] {
        let given: String? = try context.settings.resolve("team", flag: team, env: "CMO_LINEAR_TEAM")
        guard let given, !given.isEmpty else { throw StageFailure(.usage, "--rebuild-ledger needs --team KEY (or CMO_LINEAR_TEAM)") }
        let endpoint = try ServiceEndpoint.resolve(.linear, settings: context.settings)
        var options = http
        options.httpCache = false
        let api = LinearAPI(endpoint: endpoint, http: try context.makeHTTPClient(options))
        let team = try LinearWriter.resolveTeam(given, api: api)
        let facts = try LinearWriter.rebuildLedger(team: team, api: api, environment: context.settings.environment, runID: LedgerRebuild.runID())
        context.logger.info(LedgerRebuild.said(facts))
        return facts
    }
}
