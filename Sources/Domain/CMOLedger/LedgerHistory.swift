import CMOBasics
import CMOContract
import CMOStorage
import Foundation
import GRDB

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

    /// Records `found` in the ledger of `environment`'s state directory, accepting that ledger as this
    /// directory's from now on (the state anchor takes its identity and generation). Rows are written in
    /// transactions of 500; a row already confirmed is left as it is.
    public static func record(_ found: [Found], environment: [String: String], runID: String) throws -> Counts {
        StateAnchor.accept(StateAnchor.ledger.file)
        let ledger = try WriteLedger.open(environment: environment, runID: runID)
        let pool: DatabasePool
        do {
            pool = try StateDatabase.open(ledger.path, migrator: DatabaseMigrator())
        } catch {
            throw StateDatabase.openFailure(error, "the write ledger '\(ledger.path)'")
        }
        var counts = Counts()
        let now = Date().timeIntervalSince1970
        for start in stride(from: 0, to: found.count, by: 500) {
            let slice = found[start..<min(start + 500, found.count)]
            try StateDatabase.immediate(pool) { db in
                for f in slice {
                    let state = try String.fetchOne(db, sql: "SELECT state FROM writes WHERE key = ?", arguments: [f.key])
                    switch state {
                    case nil:
                        try db.execute(
                            sql: """
                                INSERT INTO writes (key, service, target, subject, state, remote_id, reason, run_id, day, attempts, owner,
                                    created_at, updated_at)
                                VALUES (?, ?, ?, ?, 'confirmed', ?, ?, ?, ?, 0, NULL, ?, ?)
                                """,
                            arguments: [f.key, f.service, f.target, f.subject, f.remoteID, reason, f.runID ?? runID, f.day, now, now])
                        counts.recorded += 1
                    case "confirmed"?:
                        counts.alreadyPresent += 1
                    default:
                        try db.execute(
                            sql: """
                                UPDATE writes SET state = 'confirmed', remote_id = ?, reason = ?, eligible_on = NULL,
                                    day = COALESCE(?, day), updated_at = ? WHERE key = ?
                                """,
                            arguments: [f.remoteID, reason, f.day, now, f.key])
                        counts.confirmed += 1
                    }
                }
            }
        }
        try StateAnchor.adopt(directory: (ledger.path as NSString).deletingLastPathComponent, StateAnchor.ledger)
        return counts
    }

    /// The UTC day of an ISO 8601 time, or nil.
    public static func day(_ iso: String?) -> String? {
        guard let iso, let t = Timestamp.parse(iso) else { return nil }
        return WriteLedger.day(Date(timeIntervalSince1970: t))
    }
}
