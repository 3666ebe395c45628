import CMOBasics
import CMOContract
import CMOStorage
import Foundation

/// The write ledger's history, found again: rows a rebuild learned from the services themselves
/// (Instantly's leads of a campaign, Attio's notes by their `cmo-key:` line, Linear's issues by their
/// derived ids), recorded `confirmed` so that re-runs write nothing twice. The lost-history check
/// itself is `StateAnchor` (CMOStorage), attached when the ledger opens.
public enum LedgerHistory {
    /// One write a service holds.
    public struct Found: Sendable {
        public var key: String
        public var service: String
        public var target: String
        public var subject: String
        public var remoteID: String
        /// The job the write belongs to, when the service says (Attio's note keys, Linear's descriptions).
        public var runID: String?
        /// The UTC day it was made (counts against that day's cap), when the service says.
        public var day: String?
        public init(key: String, service: String, target: String, subject: String, remoteID: String, runID: String? = nil, day: String? = nil) {
            self.key = key
            self.service = service
            self.target = target
            self.subject = subject
            self.remoteID = remoteID
            self.runID = runID
            self.day = day
        }
    }

    /// What a rebuild did with what it found.
    public struct Counts: Sendable, Equatable {
        /// New rows (the ledger had no such key).
        public var recorded = 0
        /// Rows that were not confirmed (intended, sent, failed, deferred, suppressed) and now are.
        public var confirmed = 0
        /// Rows already confirmed: nothing changed.
        public var alreadyPresent = 0
        public init() {}
    }

    /// The reason written on a rebuilt row.
    public static let reason = "rebuilt from the service (cmo rebuild-ledger)"

    /// Records `found` in the ledger `environment` names, accepting a SQLite ledger as its state
    /// directory's from now on (the state anchor takes its identity and generation; the team database has
    /// no anchor). Rows are written in transactions of 500; a row already confirmed is left as it is.
    public static func record(_ found: [Found], environment: [String: String], runID: String) throws -> Counts {
        StateAnchor.accept(StateAnchor.ledger.file)
        let ledger = try WriteLedger.open(environment: environment, runID: runID)
        var counts = Counts()
        let now = Date()
        for start in stride(from: 0, to: found.count, by: 500) {
            let slice = found[start..<min(start + 500, found.count)]
            try ledger.storage.write(locks: WriteLedger.locks(slice.map { ($0.service, $0.target) })) { access in
                for f in slice {
                    switch try access.rowForUpdate(f.key)?.state {
                    case nil:
                        try access.insert(
                            WriteLedger.Row(
                                key: f.key, service: f.service, target: f.target, subject: f.subject, state: .confirmed, remoteID: f.remoteID,
                                reason: reason, runID: f.runID ?? runID, day: f.day, attempts: 0, owner: nil, updatedAt: now))
                        counts.recorded += 1
                    case .confirmed?:
                        counts.alreadyPresent += 1
                    default:
                        try access.markRebuilt(key: f.key, remoteID: f.remoteID, reason: reason, day: f.day, at: now.timeIntervalSince1970)
                        counts.confirmed += 1
                    }
                }
            }
        }
        if let dir = ledger.storage.anchoredDirectory { try StateAnchor.adopt(directory: dir, StateAnchor.ledger) }
        return counts
    }

    /// The UTC day of an ISO 8601 time, or nil.
    public static func day(_ iso: String?) -> String? {
        guard let iso, let t = Timestamp.parse(iso) else { return nil }
        return WriteLedger.day(Date(timeIntervalSince1970: t))
    }
}
