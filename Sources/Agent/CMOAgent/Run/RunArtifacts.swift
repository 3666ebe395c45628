import CMOContract
import CMOBasics
import Foundation

/// The one reader of what a run left on disk (artifacts, dead letters): the runner's end summary, the
/// report, the chat's answers and triage all count from here, through the contract's typed records.
public enum RunArtifacts {
    /// Newline-terminated lines in a file (0 when it is missing).
    public static func lineCount(_ url: URL?) -> Int {
        guard let url, let data = try? Data(contentsOf: url) else { return 0 }
        return data.reduce(0) { $1 == 10 ? $0 + 1 : $0 }
    }

    /// Each record of an NDJSON file, read by the core's `NDJSONReader` (the stages' own reader: CRLF, blank
    /// lines, a byte order mark and over-long lines handled alike); lines that are not records are passed
    /// over (a stage's fake may write anything). A missing file has no records.
    public static func forEachRecord(in url: URL?, limit: Int = .max, _ body: (Record) throws -> Void) rethrows {
        guard let url else { return }
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let reader = NDJSONReader(fd: fd, chunk: 64 << 10)
        var n = 0
        while n < limit, let line = try? reader.next() {
            if case .record(let r) = line {
                n += 1
                try body(r)
            }
        }
    }

    /// Each record of an NDJSON file decoded as `T`, with its 1-based line number; a record that does not
    /// decode is passed over.
    public static func forEach<T: Decodable>(_ type: T.Type, in url: URL?, _ body: (Int, T) -> Void) {
        let decoder = JSONDecoder()
        forEachRecord(in: url) { r in
            if let value = try? decoder.decode(T.self, from: Data(r.bytes)) { body(r.line, value) }
        }
    }

    /// Each non-empty line that is a JSON object, as one (for the report's open reading of lead fields).
    public static func forEachObject(_ url: URL?, limit: Int = .max, _ body: ([String: Any]) -> Void) {
        forEachRecord(in: url, limit: limit) { r in
            if let o = (try? JSONSerialization.jsonObject(with: Data(r.bytes))) as? [String: Any] { body(o) }
        }
    }

    // MARK: dead letters

    /// Dead letters by stage and error code, with a count and the first example.
    public static func deadLetterGroups(_ url: URL) -> [String: [String: (count: Int, example: String)]] {
        var out: [String: [String: (count: Int, example: String)]] = [:]
        forEach(DeadLetter.self, in: url) { _, d in
            let g = out[d.stage]?[d.error.code]
            out[d.stage, default: [:]][d.error.code] = ((g?.count ?? 0) + 1, g?.example ?? d.example)
        }
        return out
    }

    /// The most common dead letters, "N × stage: code: message" (messages on one line, cut to 160 characters).
    public static func commonDeadLetters(_ url: URL, top n: Int) -> [String] {
        var counts: [String: Int] = [:]
        forEach(DeadLetter.self, in: url) { _, d in
            counts["\(d.stage): \(d.error.code): \(TextCleaning.truncate(TextCleaning.oneLine(d.error.message), to: 160))", default: 0] += 1
        }
        return counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(n).map { "\($0.value) × \($0.key)" }
    }

    // MARK: writers

    /// A writer's output, counted once: statuses, what was not written as asked (by status and reason, with
    /// an example), its failures in order, the A/B variants sent, and Linear's issues.
    public struct WriterTally: Sendable {
        public struct Group: Sendable {
            public var status: WriterStatus
            public var reason: String
            public var count: Int
            /// "login: message" of the first record of the group.
            public var example: String
        }
        public struct Failure: Sendable {
            /// The line in the output file (1-based, as the stages number their dead letters).
            public var line: Int
            public var login: String?
            public var email: String?
            public var result: WriterResult
        }
        public var statuses: [WriterStatus: Int] = [:]
        /// Records that are not the stage's done status, grouped by status and reason (first seen first).
        public var notDone: [Group] = []
        public var failures: [Failure] = []
        /// One flag per record with a result, in order: whether it failed (triage's window).
        public var failedFlags: [Bool] = []
        /// By variant: leads Instantly was asked to take (queued, duplicate or failed), and took.
        public var variantSent: [String: Int] = [:]
        public var variantQueued: [String: Int] = [:]
        /// Linear: the job's parent issue, the issues created (in order), every issue named (once each).
        public var parentID: String?
        public var created: [String] = []
        public var identifiers: [String] = []

        public var total: Int { statuses.values.reduce(0, +) }
        public func count(_ s: WriterStatus) -> Int { statuses[s] ?? 0 }
        /// Statuses by name, for JSON and for people.
        public var statusNames: [String: Int] { Dictionary(uniqueKeysWithValues: statuses.map { ($0.key.rawValue, $0.value) }) }
    }

    /// Counts a writer's output file (`stage`'s result field of each record).
    public static func tally(_ url: URL?, stage: StageDescriptor) -> WriterTally {
        var t = WriterTally()
        guard let field = stage.resultField else { return t }
        var groups: [String: Int] = [:]
        var seen = Set<String>()
        forEach(LeadRecord.self, in: url) { n, lead in
            guard let r = lead.result(field) else { return }
            t.statuses[r.status, default: 0] += 1
            t.failedFlags.append(r.status == .failed)
            if r.status == .failed { t.failures.append(.init(line: n, login: lead.login, email: lead.bestEmail, result: r)) }
            if r.status != stage.doneStatus {
                let reason = r.reason ?? r.status.rawValue
                let key = r.status.rawValue + "\u{0}" + reason
                if let i = groups[key] {
                    t.notDone[i].count += 1
                } else {
                    groups[key] = t.notDone.count
                    t.notDone.append(.init(status: r.status, reason: reason, count: 1, example: (lead.login ?? "?") + (r.message.map { ": " + $0 } ?? "")))
                }
            }
            if stage.name == StageRegistry.sendInstantly.name {
                let v = lead.copy?.variant ?? "-"
                if [.queued, .duplicate, .failed].contains(r.status) { t.variantSent[v, default: 0] += 1 }
                if r.status == .queued { t.variantQueued[v, default: 0] += 1 }
            }
            if t.parentID == nil, let p = r.parentID { t.parentID = p }
            if let id = r.identifier {
                if r.status == .created { t.created.append(id) }
                if seen.insert(id).inserted { t.identifiers.append(id) }
            }
        }
        return t
    }
}
