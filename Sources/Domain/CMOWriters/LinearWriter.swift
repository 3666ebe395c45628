import CMOBasics
import CMOStorage
import CMOStageKit
import CMOHTTP
import CMOServices
import CMOLedger
import CMOContract
import Foundation
import GRDB

/// The sync-linear loop over one chunk of dead letters and events: one parent issue per job, one
/// child per distinct error, each occurrence counted once across runs, and the `linear` result on
/// every record. The executable resolves settings and the team; every decision lives here.
///
/// Crash safety (docs/sync-linear.md): creates are claimed in the write ledger before they leave and
/// recorded before any record is written; their ids are derived from their keys
/// (`DeterministicID.uuidV4`), so a re-run asks Linear for those ids before creating again, and even
/// a create sent twice names the same issue. Occurrences are counted in `linear-sync.sqlite`
/// (SHA-256 of the line, or the event's id) before any request; a child's description carries its
/// absolute count, set by `issueUpdate` whenever it differs from what Linear was last told.
public final class LinearWriter {
    public struct Settings {
        public var team: LinearTeam
        public var job: String
        public var campaignName: String
        public var dryRun: Bool
        public var now: Date
        public init(team: LinearTeam, job: String, campaignName: String, dryRun: Bool, now: Date) {
            self.team = team
            self.job = job
            self.campaignName = campaignName
            self.dryRun = dryRun
            self.now = now
        }
    }

    public static let service = "linear"
    public let settings: Settings
    let api: LinearAPI?
    let ledger: WriteLedger
    let state: DatabasePool
    let context: StageContext
    public let parentKey: String
    public let parentID: String
    var parentIdentifier: String?
    private var parentReady = false
    /// Counts by status, for the summary.
    public private(set) var counts: [String: Int] = [:]
    /// Files the hot replies of event records (made on the first one).
    var hotFiler: LinearHotReplies?

    public init(settings: Settings, api: LinearAPI?, ledger: WriteLedger, context: StageContext) throws {
        self.settings = settings
        self.api = api
        self.ledger = ledger
        self.context = context
        parentKey = Self.parentKey(job: settings.job)
        parentID = DeterministicID.uuidV4(parentKey)
        let dir = try StateDirectory.ensure(environment: context.settings.environment)
        do {
            state = try StateDatabase.open(dir + "/linear-sync.sqlite", migrator: Self.migrator)
        } catch {
            throw StateDatabase.openFailure(error, "\(dir)/linear-sync.sqlite")
        }
    }

    public static func parentKey(job: String) -> String { "linear:parent:\(job)" }
    public static func childKey(job: String, error: String) -> String { "linear:child:\(job):\(error)" }

    private static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1 linear sync") { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS occurrences (
                        child_key TEXT NOT NULL, occurrence TEXT NOT NULL, weight INTEGER NOT NULL,
                        PRIMARY KEY (child_key, occurrence));
                    CREATE TABLE IF NOT EXISTS errors (
                        child_key TEXT PRIMARY KEY NOT NULL, parent_key TEXT NOT NULL, stage TEXT NOT NULL, code TEXT NOT NULL,
                        normalised TEXT NOT NULL, message TEXT NOT NULL, sample TEXT NOT NULL, first_line INTEGER,
                        reported INTEGER NOT NULL DEFAULT -1, identifier TEXT, created_at REAL NOT NULL);
                    CREATE INDEX IF NOT EXISTS errors_by_parent ON errors(parent_key);
                    CREATE TABLE IF NOT EXISTS parents (
                        parent_key TEXT PRIMARY KEY NOT NULL, identifier TEXT, reported INTEGER NOT NULL DEFAULT -1);
                    """)
        }
        return m
    }

    // MARK: - One chunk

    struct Item {
        var record: CMOBasics.Record
        var error: LinearErrorRecord?
        var childKey = ""
        var new = false
        var result: JSONValue?
    }

    /// Processes a chunk and writes every record (or dead-letters it), in input order.
    public func process(_ chunk: [CMOBasics.Record]) throws {
        var items: [Item] = []
        var hot: [(item: Int, event: HookEvent)] = []
        for record in chunk {
            // cmo-hooks' event records: an interested reply becomes a hot-reply sub-issue (LinearWriter+HotReply.swift).
            if let read = Self.readEvent(record) {
                switch read {
                case .hot(let event):
                    hot.append((items.count, event))
                    items.append(Item(record: record))
                case .ignored(let why): items.append(Item(record: record, result: result(.ignored, reason: why)))
                case .unreadable(let why): context.deadLetter(record, code: "not_an_event", message: why)
                }
                continue
            }
            switch LinearErrorRecord.read(record) {
            case .error(let e):
                items.append(Item(record: record, error: e, childKey: Self.childKey(job: settings.job, error: e.key)))
            case .ignored(let why):
                items.append(Item(record: record, result: result(.ignored, reason: why)))
            case .unreadable(let why):
                context.deadLetter(record, code: "not_an_error", message: "\(why): sync-linear reads dead letters and events")
            }
        }
        let live = items.indices.filter { items[$0].error != nil }
        if settings.dryRun {
            try dryRun(&items, live)
        } else if !live.isEmpty {
            try count(&items, live)
            try ensureParent()
            let created = try ensureChildren(items.filter { $0.error != nil }.map(\.childKey))
            try reportCounts()
            let totals = try self.totals()
            let identifiers = try self.identifiers()
            var announced = Set<String>()
            for i in live {
                let key = items[i].childKey
                let id = DeterministicID.uuidV4(key)
                guard let identifier = identifiers[key] else {
                    // Refused for its content (a GraphQL error on its input): this record fails, the rest are written.
                    let refused = refusedKeys.contains(key)
                    items[i].result = result(
                        .failed, issueID: id, reason: refused ? "rejected" : "not_created",
                        message: failures[key] ?? "the issue could not be created")
                    if refused { context.countRefused() }
                    continue
                }
                let status: WriterStatus =
                    !items[i].new ? .alreadyCounted : created.contains(key) && announced.insert(key).inserted ? .created : .counted
                items[i].result = result(
                    status, issueID: id, identifier: identifier,
                    extra: [
                        JSONMember("error_key", .string(items[i].error!.key)), JSONMember("count", .int(totals[key] ?? 0)),
                    ])
            }
        }
        if !hot.isEmpty {
            let filed = try hotReplies().file(hot.map(\.event), fallbackJob: settings.job)
            for h in hot { items[h.item].result = filed[h.event.key]?.json ?? result(.failed, reason: "not_filed") }
        }
        for item in items {
            guard let r = item.result else { continue }
            var out = item.record
            out.set("linear", r)
            try context.emit(out)
            if let s = r["status"]?.stringValue { counts[s, default: 0] += 1 }
        }
    }

    /// At the end of the input: any count Linear has not been told yet (an earlier run was killed
    /// after counting) is sent.
    public func finish() throws {
        guard !settings.dryRun, api != nil else { return }
        let keys = try state.read { db in
            try String.fetchAll(
                db, sql: "SELECT child_key FROM errors WHERE parent_key = ? ORDER BY created_at, child_key", arguments: [parentKey])
        }
        guard !keys.isEmpty else { return }
        try ensureParent()
        _ = try ensureChildren(keys)
        try reportCounts()
    }

    // MARK: - Counting

    /// Records each occurrence once (INSERT OR IGNORE), with each new error's first sighting, in one transaction.
    private func count(_ items: inout [Item], _ live: [Int]) throws {
        let t = settings.now.timeIntervalSince1970
        try state.write { db in
            for i in live {
                let e = items[i].error!
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO errors (child_key, parent_key, stage, code, normalised, message, sample, first_line, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        items[i].childKey, parentKey, e.stage, e.code, e.normalised, String(e.message.prefix(2000)),
                        String(e.sample.prefix(2000)),
                        e.sourceLine, t,
                    ])
                try db.execute(
                    sql: "INSERT OR IGNORE INTO occurrences (child_key, occurrence, weight) VALUES (?, ?, ?)",
                    arguments: [items[i].childKey, e.occurrence, e.weight])
                items[i].new = db.changesCount > 0
            }
        }
    }

    private func totals() throws -> [String: Int] {
        try state.read { db in
            var out: [String: Int] = [:]
            for r in try GRDB.Row.fetchAll(
                db,
                sql:
                    "SELECT o.child_key AS k, SUM(o.weight) AS n FROM occurrences o JOIN errors e ON e.child_key = o.child_key WHERE e.parent_key = ? GROUP BY o.child_key",
                arguments: [parentKey])
            {
                out[r["k"]] = r["n"]
            }
            return out
        }
    }

    private func identifiers() throws -> [String: String] {
        try state.read { db in
            var out: [String: String] = [:]
            for r in try GRDB.Row.fetchAll(
                db, sql: "SELECT child_key, identifier FROM errors WHERE parent_key = ? AND identifier IS NOT NULL", arguments: [parentKey])
            {
                out[r["child_key"]] = r["identifier"]
            }
            return out
        }
    }

    // MARK: - Creating

    var failures: [String: String] = [:]
    /// Issues Linear refused for their input (now or, unchanged, on an earlier run): not sent again.
    var refusedKeys = Set<String>()
    /// Issues another sync-linear process had claimed (its ledger row): not created by this run.
    var heldKeys = Set<String>()

    /// What a refusal is checked against on a re-run: the input without its description's count
    /// (which grows with every run), i.e. id, team, parent and title.
    static func refusalPayload(_ input: JSONValue) -> JSONValue {
        guard case .object(let members) = input else { return input }
        return .object(members.filter { $0.key != "description" })
    }

    /// The parent issue of the job: claimed, looked up when an earlier run left it unconfirmed, created.
    func ensureParent() throws {
        guard !parentReady, let api else { return }
        let known = try state.read { db in
            try String.fetchOne(db, sql: "SELECT identifier FROM parents WHERE parent_key = ?", arguments: [parentKey])
        }
        if let known, try ledger.rows([parentKey])[parentKey]?.state == .confirmed {
            parentIdentifier = known
            parentReady = true
            return
        }
        let settled = try create(
            [(key: parentKey, id: parentID, input: parentInput(total: 0, distinct: 0), subject: settings.job)], api: api)
        guard let issue = settled[parentKey] else {
            // Refused for its input (the team, the campaign name): no sub-issue can be written; not "Linear is down".
            if refusedKeys.contains(parentKey) {
                throw StageFailure(
                    .config, "Linear refused the job's parent issue: \(failures[parentKey] ?? "?") (check --team and --campaign-name)")
            }
            // Another sync-linear of this job holds it: temporary (75). Otherwise Linear never confirmed it: each
            // answer was lost or said nothing of it, after the rounds `create` makes; the service is failing (69).
            if heldKeys.contains(parentKey) {
                throw StageFailure(
                    .tempFail, "the job's parent issue: \(failures[parentKey] ?? "another sync-linear is creating it"); re-run once it has finished")
            }
            throw StageFailure(
                .unavailable,
                "Linear did not confirm the job's parent issue (\(failures[parentKey] ?? "no answer")): Linear is failing; re-run later (it is looked up by its id, never created twice)")
        }
        if issue.teamID.map({ $0 != settings.team.id }) == true {
            throw StageFailure(
                .config, "the parent issue of job '\(settings.job)' (\(issue.identifier)) is in another team: sync this job to that team")
        }
        try state.write { db in
            try db.execute(
                sql:
                    "INSERT INTO parents (parent_key, identifier) VALUES (?, ?) ON CONFLICT(parent_key) DO UPDATE SET identifier = excluded.identifier",
                arguments: [parentKey, issue.identifier])
        }
        parentIdentifier = issue.identifier
        parentReady = true
    }

    /// The children of `keys` not yet confirmed: claimed, recovered or created. Returns the keys
    /// created by this call.
    private func ensureChildren(_ keys: [String]) throws -> Set<String> {
        guard let api else { return [] }
        var unique: [String] = []
        var seen = Set<String>()
        for k in keys where seen.insert(k).inserted { unique.append(k) }
        let known = try identifiers()
        let rows = try ledger.rows(unique)
        let missing = unique.filter { known[$0] == nil || rows[$0]?.state != .confirmed }
        guard !missing.isEmpty else { return [] }
        let totals = try self.totals()
        var wanted: [(key: String, id: String, input: JSONValue, subject: String)] = []
        for key in missing {
            guard let info = try errorInfo(key) else { continue }
            let input = childInput(info, total: totals[key] ?? 0)
            // Refused for this input on an earlier run: not sent again until it changes.
            if let earlier = ContentRefusal.earlier(rows[key], payload: Self.refusalPayload(input)) {
                failures[key] = "Linear refused this issue on an earlier run (\(earlier.message)): not sent again until it changes"
                refusedKeys.insert(key)
                continue
            }
            wanted.append((key: key, id: DeterministicID.uuidV4(key), input: input, subject: String(key.suffix(64))))
        }
        let settled = try create(wanted, api: api)
        try state.write { db in
            for (key, issue) in settled {
                try db.execute(
                    sql: "UPDATE errors SET identifier = ?, reported = ? WHERE child_key = ?",
                    arguments: [issue.identifier, settled.created.contains(key) ? totals[key] ?? 0 : -1, key])
            }
        }
        return settled.created
    }

    struct Settled: Sequence {
        var issues: [String: LinearIssueRef] = [:]
        var created: Set<String> = []
        subscript(key: String) -> LinearIssueRef? { issues[key] }
        func makeIterator() -> Dictionary<String, LinearIssueRef>.Iterator { issues.makeIterator() }
    }

    /// Claims, recovers (by id) and creates issues; records every outcome in the ledger.
    func create(_ wanted: [(key: String, id: String, input: JSONValue, subject: String)], api: LinearAPI) throws -> Settled {
        var settled = Settled()
        guard !wanted.isEmpty else { return settled }
        let day = String(Timestamp.string(settings.now).prefix(10))
        let claims = try ledger.claim(
            wanted.map { WriteLedger.Intent(key: $0.key, service: Self.service, target: settings.team.id, subject: $0.subject) }, day: day,
            now: settings.now)
        var pending: [Int] = []
        var recover: [Int] = []
        for (i, w) in wanted.enumerated() {
            switch claims[w.key] {
            case .held(let row)? where row.state == .confirmed: recover.append(i)  // confirmed, the identifier was lost: ask
            case .held(let row)?:
                failures[w.key] = "another sync-linear (\(row.owner ?? "?")) is creating it"
                heldKeys.insert(w.key)
            case .claimed(let previous)?:
                if let p = previous, p.state == .intended || p.state == .sent { recover.append(i) } else { pending.append(i) }
            case .overCap?, nil: failures[w.key] = "the ledger did not answer"  // no daily cap is asked for
            }
        }
        var outcomes: [WriteLedger.Outcome] = []
        if !recover.isEmpty {
            let found = try api.issues(recover.map { wanted[$0].id })
            for i in recover {
                if let issue = found[wanted[i].id] {
                    settled.issues[wanted[i].key] = issue
                    outcomes.append(
                        .init(key: wanted[i].key, state: .confirmed, remoteID: issue.id, reason: "found by id after an interrupted run"))
                } else {
                    pending.append(i)
                }
            }
            try ledger.record(outcomes, now: settings.now)
            outcomes = []
        }
        pending.sort()
        // Rounds for answers that were lost (at most 4); a round in which Linear refused an input does not
        // count: the refused one is out, and the ones its error left unanswered go again (GraphQL runs
        // aliased mutations in order and stops at the first error that nulls `data`).
        var rounds = 0
        while !pending.isEmpty, rounds < 4 {
            var refusedNow = false
            CrashHook.point("before-send")
            let answers = try api.create(pending.map { wanted[$0].input })
            CrashHook.point("after-send")
            var unknown: [Int] = []
            for (n, i) in pending.enumerated() {
                switch answers[n] {
                case .done(let issue):
                    settled.issues[wanted[i].key] = issue
                    settled.created.insert(wanted[i].key)
                    outcomes.append(.init(key: wanted[i].key, state: .confirmed, remoteID: issue.id))
                case .refused(let message):
                    failures[wanted[i].key] = message
                    unknown.append(i)  // refused: maybe because it exists (a duplicate id): looked up below
                case .unknown:
                    unknown.append(i)
                }
            }
            pending = []
            if !unknown.isEmpty {
                // Which exist? An id Linear already holds is ours (derived from the key); the rest go again,
                // except the ones Linear refused for another reason.
                let found = try api.issues(unknown.map { wanted[$0].id })
                for i in unknown {
                    if let issue = found[wanted[i].id] {
                        settled.issues[wanted[i].key] = issue
                        // Not refused, yet its answer is missing (lost, or nulled by another alias's error): this
                        // run's create landed. Refused and there ("already exists"): an earlier run made it.
                        if failures[wanted[i].key] == nil { settled.created.insert(wanted[i].key) }
                        failures[wanted[i].key] = nil
                        outcomes.append(.init(key: wanted[i].key, state: .confirmed, remoteID: issue.id, reason: "already in Linear"))
                    } else if let message = failures[wanted[i].key] {
                        refusedKeys.insert(wanted[i].key)
                        refusedNow = true
                        outcomes.append(
                            .init(
                                key: wanted[i].key, state: .failed,
                                reason: ContentRefusal.ledgerReason(
                                    code: "rejected", fingerprint: ContentRefusal.fingerprint(Self.refusalPayload(wanted[i].input)), message: message)))
                    } else {
                        pending.append(i)
                    }
                }
            }
            try ledger.record(outcomes, now: settings.now)
            outcomes = []
            CrashHook.point("after-record")
            if !refusedNow { rounds += 1 }
        }
        return settled
    }

    // MARK: - Counts in Linear

    /// Sets the description of every child (and the parent) whose count Linear has not been told.
    private func reportCounts() throws {
        guard let api else { return }
        let totals = try self.totals()
        let dirty: [(key: String, identifier: String)] = try state.read { db in
            try GRDB.Row.fetchAll(
                db, sql: "SELECT child_key, identifier, reported FROM errors WHERE parent_key = ? AND identifier IS NOT NULL",
                arguments: [parentKey]
            ).compactMap { r in
                let key: String = r["child_key"]
                let reported: Int = r["reported"]
                return reported == totals[key] ?? 0 ? nil : (key, r["identifier"])
            }
        }
        let grand = totals.values.reduce(0, +)
        let parentReported = try state.read { db in
            try Int.fetchOne(db, sql: "SELECT reported FROM parents WHERE parent_key = ?", arguments: [parentKey])
        }
        var updates: [(id: String, input: JSONValue)] = []
        var keys: [String] = []
        for d in dirty {
            guard let info = try errorInfo(d.key) else { continue }
            updates.append(
                (
                    DeterministicID.uuidV4(d.key),
                    .object([JSONMember("description", .string(childDescription(info, total: totals[d.key] ?? 0)))])
                ))
            keys.append(d.key)
        }
        if parentReady, parentReported != grand {
            updates.append(
                (parentID, .object([JSONMember("description", .string(parentDescription(total: grand, distinct: totals.count)))])))
            keys.append(parentKey)
        }
        guard !updates.isEmpty else { return }
        let answers = try api.update(updates)
        try state.write { db in
            for (n, key) in keys.enumerated() {
                guard case .done = answers[n] else { continue }
                if key == parentKey {
                    try db.execute(sql: "UPDATE parents SET reported = ? WHERE parent_key = ?", arguments: [grand, key])
                } else {
                    try db.execute(sql: "UPDATE errors SET reported = ? WHERE child_key = ?", arguments: [totals[key] ?? 0, key])
                }
            }
        }
        let refused = answers.compactMap { if case .refused(let m) = $0 { return m } else { return nil } }
        if let m = refused.first {
            context.logger.warning("Linear refused \(refused.count) count updates: \(m); a re-run sends them again")
        }
    }

    // MARK: - Issue text

    struct ErrorInfo {
        var key: String
        var stage: String
        var code: String
        var normalised: String
        var message: String
        var sample: String
        var firstLine: Int?
    }

    private func errorInfo(_ key: String) throws -> ErrorInfo? {
        try state.read { db in
            try GRDB.Row.fetchOne(db, sql: "SELECT * FROM errors WHERE child_key = ?", arguments: [key]).map { r in
                ErrorInfo(
                    key: key, stage: r["stage"], code: r["code"], normalised: r["normalised"], message: r["message"], sample: r["sample"],
                    firstLine: r["first_line"])
            }
        }
    }

    private func parentInput(total: Int, distinct: Int) -> JSONValue {
        let day = String(Timestamp.string(settings.now).prefix(10))
        let title = LinearText.title("Campaign \(settings.campaignName) — \(day)")
        return .object([
            JSONMember("id", .string(parentID)), JSONMember("teamId", .string(settings.team.id)), JSONMember("title", .string(title)),
            JSONMember("description", .string(parentDescription(total: total, distinct: distinct))),
        ])
    }

    private func parentDescription(total: Int, distinct: Int) -> String {
        """
        Failures of cmo job \(LinearText.code(settings.job)), synced by sync-linear: one sub-issue per distinct error, \
        each with its count.

        - job id: \(LinearText.code(settings.job))
        - distinct errors: **\(distinct)**
        - occurrences: **\(total)**
        """
    }

    private func childInput(_ info: ErrorInfo, total: Int) -> JSONValue {
        let title = LinearText.title("\(info.stage): \(info.code) — \(info.normalised)")
        return .object([
            JSONMember("id", .string(DeterministicID.uuidV4(info.key))), JSONMember("teamId", .string(settings.team.id)),
            JSONMember("parentId", .string(parentID)), JSONMember("title", .string(title)),
            JSONMember("description", .string(childDescription(info, total: total))),
        ])
    }

    private func childDescription(_ info: ErrorInfo, total: Int) -> String {
        let hash = String(info.key.split(separator: ":").last ?? "")
        return """
            **\(total)** occurrences of this error in job \(LinearText.code(settings.job)).

            - stage: \(LinearText.code(info.stage))
            - code: \(LinearText.code(info.code))
            - error key: \(LinearText.code(String(hash.prefix(16)))) (SHA-256 of stage, code and the normalised message)
            - first seen: \(info.firstLine.map { "input line \($0) of the stage" } ?? "an event")

            Normalised message:

            \(LinearText.block(info.normalised))

            First message:

            \(LinearText.block(info.message))

            First input (cut, neutralised):

            \(LinearText.block(info.sample))
            """
    }

    // MARK: - Dry run

    private func dryRun(_ items: inout [Item], _ live: [Int]) throws {
        let occurrences = try state.read { db -> Set<String> in
            var out = Set<String>()
            for i in live {
                if try Int.fetchOne(
                    db, sql: "SELECT 1 FROM occurrences WHERE child_key = ? AND occurrence = ?",
                    arguments: [items[i].childKey, items[i].error!.occurrence]) != nil
                {
                    out.insert(items[i].childKey + " " + items[i].error!.occurrence)
                }
            }
            return out
        }
        let rows = try ledger.rows(live.map { items[$0].childKey })
        for i in live {
            let key = items[i].childKey
            let counted = occurrences.contains(key + " " + items[i].error!.occurrence)
            let action = counted ? "none" : rows[key]?.state == .confirmed ? "count" : "create"
            items[i].result = result(
                .dryRun, issueID: DeterministicID.uuidV4(key),
                extra: [JSONMember("error_key", .string(items[i].error!.key)), JSONMember("would", .string(action))])
        }
    }

    private func result(
        _ status: WriterStatus, issueID: String? = nil, identifier: String? = nil, reason: String? = nil, message: String? = nil,
        extra: [JSONMember] = []
    ) -> JSONValue {
        var m = [JSONMember("status", .string(status.rawValue))]
        m.append(JSONMember("issue_id", issueID.map(JSONValue.string) ?? .null))
        m.append(JSONMember("identifier", identifier.map(JSONValue.string) ?? .null))
        m.append(JSONMember("parent_id", status == .ignored ? .null : .string(parentID)))
        if let reason { m.append(JSONMember("reason", .string(reason))) }
        if let message { m.append(JSONMember("message", .string(message))) }
        m.append(contentsOf: extra)
        return .object(m)
    }
}

/// User-controlled text made safe for a Linear title or markdown description: no control
/// characters, no template syntax, no markdown that could render (links, images, mentions,
/// headings), and a length cap.
public enum LinearText {
    /// A one-line title, at most 200 characters.
    public static func title(_ s: String) -> String { LeadFields.oneLine(s, limit: 200) }

    /// Inline code: one line, backticks replaced, at most 200 characters.
    public static func code(_ s: String) -> String {
        "`" + LeadFields.oneLine(s, limit: 200).replacingOccurrences(of: "`", with: "ˋ") + "`"
    }

    /// A fenced block whose content cannot close the fence: tildes and backtick runs replaced,
    /// control characters dropped (line breaks kept), at most 1,000 characters and 20 lines.
    public static func block(_ s: String) -> String {
        var text = LeadFields.multiLine(s).replacingOccurrences(of: "~", with: "˜").replacingOccurrences(of: "`", with: "ˋ")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).prefix(20)
        text = lines.joined(separator: "\n")
        if text.count > 1000 { text = String(text.prefix(1000)) + " …" }
        return "~~~text\n" + text + "\n~~~"
    }
}
