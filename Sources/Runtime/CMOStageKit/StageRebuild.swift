import ArgumentParser
import CMOBasics
import Foundation

/// `--rebuild-ledger`, the writers' way back from a lost write ledger: read what the service holds
/// (Instantly's leads of the campaign, Attio's notes by their `cmo-key:` line, Linear's issues by their
/// derived ids), record it `confirmed`, and print one JSON object. No input is read; nothing is written
/// to the service.
public struct RebuildOptions: ParsableArguments {
    @Flag(
        name: .customLong("rebuild-ledger"),
        help: """
            Rebuild the write ledger from what the service holds for this run's target (read only), accept the ledger as \
            the state directory's, print one JSON object on stdout and exit; read no input, write nothing to the service.
            """)
    public var enabled = false

    public init() {}
}

/// A writer that can rebuild its ledger rows from its service.
public protocol LedgerRebuildingStage: Stage {
    var rebuildOptions: RebuildOptions { get }
    /// Reads the service and records what it holds; the facts of the JSON object (`found`, `recorded`,
    /// `already_present`, `requests`, …).
    func rebuildLedger(_ context: StageContext) throws -> [JSONMember]
}

/// A stage whose state (the write ledger, the suppression list) must still have its history before it
/// makes any request: checked before `--check` and before the run (`StateAnchor.verify`).
public protocol StateGuardedStage: Stage {
    func verifyState(_ context: StageContext) throws
}

enum StageRebuild {
    /// `{"stage","rebuild":"ok",…facts,"seconds"}`, or `{"stage","rebuild":"failed","status","error"}`.
    static func run(_ stage: some LedgerRebuildingStage, context: StageContext) -> ExitStatus {
        let name = type(of: stage).stageName
        let started = Date()
        var members = [JSONMember("stage", .string(name))]
        let status: ExitStatus
        do {
            let facts = try stage.rebuildLedger(context)
            members.append(JSONMember("rebuild", "ok"))
            members += facts
            members.append(JSONMember("seconds", .double((Date().timeIntervalSince(started) * 1000).rounded() / 1000)))
            status = .ok
        } catch {
            status = CommandBase.report(error, logger: context.logger)
            members = [
                JSONMember("stage", .string(name)), JSONMember("rebuild", "failed"), JSONMember("status", .int(Int(status.rawValue))),
                JSONMember("error", .string(String(describing: error))),
            ]
        }
        StageCheck.write(members, to: context.output)
        return status
    }

    /// Verifies the stage's state when it guards it (a lost history throws, 78).
    static func verify(_ stage: some Stage, context: StageContext) throws {
        if let guarded = stage as? any StateGuardedStage { try guarded.verifyState(context) }
    }
}
