import CMOBasics
import CMOHTTP
import CMOLedger
import CMOServices
import CMOStorage
import Foundation
import GRDB

/// sync-linear's `--rebuild-ledger`: the team's issues whose id is the one sync-linear derives from a key
/// (`DeterministicID.uuidV4(key)`) are `confirmed` rows of that key. Keys come from the issues themselves
/// (the job id in a parent's description; stage, code and normalised message in a child's) and from
/// `linear-sync.sqlite` when it is there; a key is taken only when its derived id is the issue's.
extension LinearWriter {
    public static func rebuildLedger(team: LinearTeam, api: LinearAPI, environment: [String: String], runID: String) throws -> [JSONMember] {
        let issues = try api.allIssues(team: team.id)
        var candidates = Set<String>()
        for issue in issues {
            let text = issue.description
            if let job = between(text, "- job id: `", "`") ?? between(text, "in job `", "`") {
                candidates.insert(parentKey(job: job))
                if let stage = between(text, "- stage: `", "`"), let code = between(text, "- code: `", "`"),
                    let normalised = between(text, "Normalised message:\n\n~~~text\n", "\n~~~")
                {
                    let hash = DeterministicID.sha256Hex(stage + "\n" + code + "\n" + normalised)
                    candidates.insert(childKey(job: job, error: hash))
                }
            }
        }
        // Keys linear-sync.sqlite knows (if it survived): every job's parents and children.
        let statePath = StateDirectory.path(environment: environment) + "/linear-sync.sqlite"
        if FileManager.default.fileExists(atPath: statePath), let pool = try? StateDatabase.open(statePath, migrator: DatabaseMigrator()) {
            let known = (try? pool.read { db -> [String] in
                guard try db.tableExists("errors") else { return [] }
                return try String.fetchAll(db, sql: "SELECT child_key FROM errors UNION SELECT parent_key FROM errors")
            }) ?? []
            candidates.formUnion(known)
        }
        let byID = Dictionary(candidates.map { (DeterministicID.uuidV4($0).lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
        var found: [LedgerHistory.Found] = []
        for issue in issues {
            guard let key = byID[issue.id] else { continue }
            let job = key.hasPrefix("linear:parent:") ? String(key.dropFirst("linear:parent:".count)) : key.split(separator: ":").dropFirst(2).dropLast().joined(separator: ":")
            found.append(
                LedgerHistory.Found(
                    key: key, service: service, target: team.id, subject: key.hasPrefix("linear:parent:") ? job : String(key.suffix(64)),
                    remoteID: issue.id, runID: job, day: LedgerHistory.day(issue.created)))
        }
        let counts = try LedgerHistory.record(found, environment: environment, runID: runID)
        return [
            JSONMember("service", "linear"), JSONMember("target", .string(team.id)), JSONMember("issues", .int(issues.count)),
            JSONMember("found", .int(found.count)), JSONMember("recorded", .int(counts.recorded)), JSONMember("confirmed", .int(counts.confirmed)),
            JSONMember("already_present", .int(counts.alreadyPresent)), JSONMember("requests", .int(issues.count / 100 + 1)),
        ]
    }

    static func between(_ text: String, _ start: String, _ end: String) -> String? {
        guard let a = text.range(of: start), let b = text.range(of: end, range: a.upperBound..<text.endIndex) else { return nil }
        return String(text[a.upperBound..<b.lowerBound])
    }
}
