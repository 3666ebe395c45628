import CMOBasics
import CMOLedger
import Foundation

/// What the writers' `--rebuild-ledger` share: the run id written on rebuilt rows and the sentence logged.
public enum LedgerRebuild {
    /// `rebuild-YYYYMMDD-HHMMSS-xxxxxx`: the run id of rebuilt rows a service did not attribute to a job.
    public static func runID() -> String { "rebuild-" + WriteLedger.newRunID().dropFirst("run-".count) }

    /// "instantly: 1000 found, 1000 recorded, 0 already in the ledger (10 requests)".
    public static func said(_ facts: [JSONMember]) -> String {
        func n(_ k: String) -> String { facts.first { $0.key == k }.map { $0.value.compactJSON } ?? "0" }
        let service = facts.first { $0.key == "service" }?.value.stringValue ?? "?"
        return "\(service): \(n("found")) found, \(n("recorded")) recorded, \(n("confirmed")) confirmed that were not, "
            + "\(n("already_present")) already in the ledger (\(n("requests")) requests); the ledger is accepted as this state directory's"
    }
}
