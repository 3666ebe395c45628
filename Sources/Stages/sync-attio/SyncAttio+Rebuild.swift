import CMOBasics
import CMOHTTP
import CMOLedger
import CMOServices
import CMOStageKit
import CMOStorage
import CMOWriters
import Foundation

/// `sync-attio --rebuild-ledger [--list ID]`: Attio's notes (by their `cmo-key:` line) and, with a list,
/// its entries and their people, read back into the write ledger (AttioWriter+Rebuild.swift).
extension SyncAttio: LedgerRebuildingStage, StateGuardedStage {
    func verifyState(_ context: StageContext) throws {
        try StateAnchor.verify(environment: context.settings.environment)
    }

    func rebuildLedger(_ context: StageContext) throws -> [JSONMember] {
        let plan = try configure(context.settings)
        let endpoint = try ServiceEndpoint.resolve(.attio, settings: context.settings)
        var options = http
        options.httpCache = false
        let api = AttioAPI(endpoint: endpoint, http: try context.makeHTTPClient(options))
        let listID = try plan.list.map { try AttioWriter.resolveList($0, api: api).id }
        let facts = try AttioWriter.rebuildLedger(listID: listID, api: api, environment: context.settings.environment, runID: LedgerRebuild.runID())
        context.logger.info(LedgerRebuild.said(facts))
        return facts
    }
}
