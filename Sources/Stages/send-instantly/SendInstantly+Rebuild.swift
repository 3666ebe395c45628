import CMOBasics
import CMOHTTP
import CMOLedger
import CMOServices
import CMOStageKit
import CMOStorage
import CMOWriters
import Foundation

/// `send-instantly --rebuild-ledger --campaign ID`: the campaign's leads read back from Instantly into the
/// write ledger (LedgerHistory, InstantlyWriter+Rebuild.swift); and the ledger's history checked before
/// any request of a run or a check (StateAnchor).
extension SendInstantly: LedgerRebuildingStage, StateGuardedStage {
    func verifyState(_ context: StageContext) throws {
        try StateAnchor.verify(environment: context.settings.environment)
    }

    func rebuildLedger(_ context: StageContext) throws -> [JSONMember] {
        let given: String? = try context.settings.resolve("campaign", flag: campaign, env: "CMO_INSTANTLY_CAMPAIGN")
        guard let given, !given.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw StageFailure(.usage, "--rebuild-ledger needs --campaign ID (or CMO_INSTANTLY_CAMPAIGN): the campaign whose leads to read")
        }
        let endpoint = try ServiceEndpoint.resolve(.instantly, settings: context.settings)
        var options = http
        options.httpCache = false
        let api = InstantlyAPI(endpoint: endpoint, http: try context.makeHTTPClient(options))
        let found = try InstantlyWriter.resolveCampaign(given, api: api)
        let facts = try InstantlyWriter.rebuildLedger(
            campaign: found.id, api: api, environment: context.settings.environment, runID: LedgerRebuild.runID())
        context.logger.info(LedgerRebuild.said(facts))
        return facts
    }
}
