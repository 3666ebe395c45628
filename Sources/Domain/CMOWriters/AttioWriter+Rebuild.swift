import CMOBasics
import CMOLedger
import CMOServices
import Foundation

/// sync-attio's `--rebuild-ledger`: every note carrying a `cmo-key: attio:note:<job>:<record>` line is a
/// `confirmed` note row of that job (the note re-runs would otherwise write again); with a list, each
/// entry of a noted (or any) record is a `confirmed` entry row and each of their people a `confirmed`
/// person row, attributed to the job that noted them.
extension AttioWriter {
    public static func rebuildLedger(listID: String?, api: AttioAPI, environment: [String: String], runID: String) throws -> [JSONMember] {
        var requests = 0
        let notes = try api.allNotes()
        requests += notes.count / 50 + 1
        var found: [LedgerHistory.Found] = []
        var seen = Set<String>()
        var jobOf: [String: String] = [:]  // record id → the job that noted it
        let prefix = "cmo-key: attio:note:"
        for note in notes {
            for line in note.content.split(separator: "\n") where line.hasPrefix(prefix) {
                let key = String(line.dropFirst("cmo-key: ".count)).trimmingCharacters(in: .whitespaces)
                // attio:note:<job>:<record id>: the record is the last part, the job what is between.
                let parts = key.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count >= 4 else { continue }
                let record = String(parts.last!)
                let job = parts[2..<(parts.count - 1)].joined(separator: ":")
                guard record == note.parentRecordID, seen.insert(key).inserted else { continue }
                jobOf[record] = job
                found.append(
                    LedgerHistory.Found(
                        key: key, service: service, target: job, subject: record, remoteID: note.id, runID: job, day: LedgerHistory.day(note.created)))
            }
        }
        let noteRows = found.count
        var entryRows = 0
        var personRows = 0
        if let listID {
            let entries = try api.allEntries(list: listID)
            requests += entries.count / 500 + 1
            let emails = try api.peopleEmails()
            requests += emails.count / 500 + 1
            for e in entries {
                let key = entryKey(list: listID, record: e.recordID)
                let email = emails[e.recordID]?.first
                if seen.insert(key).inserted {
                    found.append(
                        LedgerHistory.Found(
                            key: key, service: service, target: listID, subject: email ?? e.recordID, remoteID: e.entryID, runID: jobOf[e.recordID]))
                    entryRows += 1
                }
                for address in emails[e.recordID] ?? [] {
                    let pk = personKey(address)
                    if seen.insert(pk).inserted {
                        found.append(
                            LedgerHistory.Found(key: pk, service: service, target: "people", subject: address, remoteID: e.recordID, runID: jobOf[e.recordID]))
                        personRows += 1
                    }
                }
            }
        }
        let counts = try LedgerHistory.record(found, environment: environment, runID: runID)
        return [
            JSONMember("service", "attio"), JSONMember("target", listID.map { .string($0) } ?? .null), JSONMember("found", .int(found.count)),
            JSONMember("notes", .int(noteRows)), JSONMember("entries", .int(entryRows)), JSONMember("people", .int(personRows)),
            JSONMember("recorded", .int(counts.recorded)), JSONMember("confirmed", .int(counts.confirmed)),
            JSONMember("already_present", .int(counts.alreadyPresent)), JSONMember("requests", .int(requests)),
        ]
    }
}
