import CMOBasics
import CMOContract
import CMOStorage
import CMOEmail
import Foundation
import GRDB

/// What an entry of the do-not-contact list blocks: one address, a domain and all its subdomains,
/// or a GitHub login.
public enum SuppressionKind: String, Sendable, Codable, CaseIterable { case email, domain, login }

/// One entry of the do-not-contact list.
public struct SuppressionEntry: Sendable, Equatable {
    public var kind: SuppressionKind
    /// The normal form (see `SuppressionKind.normalize`).
    public var value: String
    public var reason: String?
    public var source: String?
    /// When the entry was first added (whole seconds once stored); a re-add keeps it.
    public var addedAt: Date

    public init(kind: SuppressionKind, value: String, reason: String? = nil, source: String? = nil, addedAt: Date = Date()) {
        self.kind = kind
        self.value = value
        self.reason = reason
        self.source = source
        self.addedAt = addedAt
    }

    /// `{"kind","value","reason","source","added_at"}`, `added_at` in ISO 8601 (UTC, seconds).
    public var json: JSONValue {
        .object([
            JSONMember("kind", .string(kind.rawValue)), JSONMember("value", .string(value)),
            JSONMember("reason", reason.map(JSONValue.string) ?? .null), JSONMember("source", source.map(JSONValue.string) ?? .null),
            JSONMember("added_at", .string(SuppressionEntry.iso8601(addedAt))),
        ])
    }

    /// `2026-12-02T16:17:30Z`.
    public static func iso8601(_ date: Date) -> String { Timestamp.string(date, milliseconds: false) }
}

/// The do-not-contact list (opt-outs, bounces, manual entries) every writer checks before anything
/// leaves the machine.
///
/// An address matches its own entry, its domain or any parent domain (`a@eu.acme.com` matches
/// `acme.com`), and — for a GitHub noreply address — the login in it; a record's `login` matches a
/// login entry. Matching reads a snapshot of the whole list held in memory (100k entries load in a
/// fraction of a second; a lookup is a few hash probes), re-read when the list's change counter
/// moved: checked at most once per `refreshInterval`, and at once after this process changed it.
/// `matchMode = .query` asks the store instead (for lists too large to hold).
public final class SuppressionList: @unchecked Sendable {
    /// How `match` finds entries.
    public enum MatchMode: Sendable { case snapshot, query }

    public let store: any SuppressionStore
    /// Where the list is (the SQLite file, or the team database without its password), for messages.
    public let location: String
    public var matchMode: MatchMode = .snapshot
    /// Longest time a snapshot is used before checking whether another process changed the list.
    public var refreshInterval: TimeInterval = 1

    private let lock = NSLock()
    private var snapshot: Snapshot?
    private var checkedAt = 0.0

    private struct Snapshot {
        var version: Int64
        var byKind: [SuppressionKind: [String: SuppressionEntry]] = [:]
    }

    public init(store: any SuppressionStore, location: String) {
        self.store = store
        self.location = location
    }

    /// Opens the list `environment` names: `CMO_STATE_DIR/suppression.sqlite` (the directory and the file
    /// created when missing), or the team database's `suppression` table when `CMO_DATABASE_URL` is set
    /// (one list for every machine). A directory or file that cannot be created, opened or migrated is a
    /// `StageFailure(.config, …)`; a database that cannot be reached says so with its own status.
    public static func open(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SuppressionList {
        switch try StorageBackend.from(environment: environment) {
        case .sqlite(let dir):
            return try open(path: dir + "/suppression.sqlite")
        case .postgres(let url):
            let store = try PostgresSuppressionStore(database: PostgresDatabase.shared(url, environment: environment))
            return SuppressionList(store: store, location: store.location)
        }
    }

    /// Opens the list in the SQLite file at `path` (created when missing).
    public static func open(path: String) throws -> SuppressionList {
        do {
            let store = try SuppressionSQLiteStore(path: path)
            let list = SuppressionList(store: store, location: path)
            _ = try store.version()  // a file that opens but is not a database fails here, not on first use
            return list
        } catch {
            if error is LostStateHistory { throw error }
            if let e = ((error as? any CMOErrorConvertible)?.cmoError ?? error) as? any CMOError, e.exitStatus == .ioError {
                throw e  // a full disk: 74
            }
            throw StageFailure(.config, "cannot open the suppression list '\(path)': \(describe(error))")
        }
    }

    // MARK: Matching

    /// The entry that blocks writing to `email` or to GitHub user `login`, or nil.
    public func match(email: String?, login: String?) throws -> SuppressionEntry? {
        try match(emails: email.map { [$0] } ?? [], login: login)
    }

    /// The first entry that blocks any of `emails` or `login`: for each address in order its own
    /// entry, its domain and parents (most specific first), the login of a GitHub noreply address;
    /// then `login`.
    public func match(emails: [String], login: String?) throws -> SuppressionEntry? {
        var keys: [(SuppressionKind, String)] = []
        for raw in emails {
            let email = SuppressionValue.lookupEmail(raw)
            guard !email.isEmpty else { continue }
            keys.append((.email, email))
            for d in SuppressionValue.domainAndParents(ofEmail: email) { keys.append((.domain, d)) }
            if email.hasSuffix("@users.noreply.github.com"), let noreply = GitHubIdentity.noreply(email) {
                keys.append((.login, SuppressionValue.lookupLogin(noreply.login)))
            }
        }
        if let login, !login.isEmpty { keys.append((.login, SuppressionValue.lookupLogin(login))) }
        guard !keys.isEmpty else { return nil }
        return try guarded {
            switch matchMode {
            case .snapshot:
                let snap = try currentSnapshot()
                for (kind, value) in keys { if let e = snap.byKind[kind]?[value] { return e } }
                return nil
            case .query:
                var found: [SuppressionKind: [String: SuppressionEntry]] = [:]
                for kind in SuppressionKind.allCases {
                    let values = keys.filter { $0.0 == kind }.map(\.1)
                    for e in try store.lookup(kind: kind, values: values) { found[kind, default: [:]][e.value] = e }
                }
                for (kind, value) in keys { if let e = found[kind]?[value] { return e } }
                return nil
            }
        }
    }

    /// The entry blocking a record: its `best_email` (a string or `{address}`), every
    /// `emails[].address`, an `email` string, and its `login`.
    public func match(record: CMOBasics.Record) throws -> SuppressionEntry? {
        try match(emails: Self.emails(of: record), login: record["login"]?.stringValue)
    }

    /// The addresses of a record that `match(record:)` checks, in that order.
    public static func emails(of record: CMOBasics.Record) -> [String] {
        var out: [String] = []
        switch record["best_email"] {
        case .string(let s)?: out.append(s)
        case let v?: if let s = v["address"]?.stringValue { out.append(s) }
        case nil: break
        }
        for item in record["emails"]?.arrayValue ?? [] {
            if let s = item["address"]?.stringValue ?? item.stringValue { out.append(s) }
        }
        if let s = record["email"]?.stringValue { out.append(s) }
        return out
    }

    // MARK: Changing the list

    /// Adds entries (values normalised; an invalid one throws `SuppressionValueError` and nothing is
    /// added). A value already on the list takes the new reason and source where given, and is not
    /// duplicated. Returns how many were new.
    public func add(_ entries: [SuppressionEntry]) throws -> Int {
        try upsert(entries).added
    }

    /// Like `add`, and says how many entries were new, updated, or already there as given.
    public func upsert(_ entries: [SuppressionEntry]) throws -> SuppressionWriteCounts {
        var normalised: [SuppressionEntry] = []
        normalised.reserveCapacity(entries.count)
        for var e in entries {
            e.value = try e.kind.normalize(e.value)
            e.addedAt = Date(timeIntervalSince1970: e.addedAt.timeIntervalSince1970.rounded(.down))
            normalised.append(e)
        }
        let counts = try guarded { try store.upsert(normalised) }
        if counts.added + counts.updated > 0 { invalidate() }
        return counts
    }

    /// Removes the entry of `kind` for `value` (normalised first); false when it was not there.
    public func remove(kind: SuppressionKind, value: String) throws -> Bool {
        try removeEntry(kind: kind, value: value) != nil
    }

    /// Removes the entry of `kind` for `value` and returns it, or nil when it was not there.
    public func removeEntry(kind: SuppressionKind, value: String) throws -> SuppressionEntry? {
        let normal = try kind.normalize(value)
        let removed = try guarded { try store.remove(kind: kind, value: normal) }
        if removed != nil { invalidate() }
        return removed
    }

    /// Every entry, by kind then value.
    public func all() throws -> [SuppressionEntry] {
        try guarded { try store.entries() }
    }

    // MARK: Internals

    private func invalidate() {
        lock.lock()
        snapshot = nil
        lock.unlock()
    }

    private func currentSnapshot() throws -> Snapshot {
        lock.lock()
        defer { lock.unlock() }
        let now = Date().timeIntervalSince1970
        if let snapshot, now - checkedAt < refreshInterval { return snapshot }
        let version = try store.version()
        checkedAt = now
        if let snapshot, snapshot.version == version { return snapshot }
        var snap = Snapshot(version: version)
        for e in try store.entries() { snap.byKind[e.kind, default: [:]][e.value] = e }
        // Read the counter again: a change between the two reads means the snapshot may be from
        // either side, so it is marked stale and re-read next time.
        if try store.version() != version { snap.version = -1 }
        snapshot = snap
        return snap
    }

    /// Turns the store's errors into the stage's: a full disk or an I/O error is 74, a state file that
    /// cannot be opened or written for another reason a configuration problem (78); anything else from
    /// the database is an internal error (1).
    private func guarded<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as CMOError {
            throw error
        } catch let error as DatabaseError {
            let code = error.resultCode
            if code == .SQLITE_FULL || code == .SQLITE_IOERR {  // the disk refused: 74, as for every state file
                throw StageFailure(
                    .ioError, "cannot write the suppression list '\(location)': \(code == .SQLITE_FULL ? "disk full" : "I/O error") (SQLite: \(Self.describe(error)))")
            }
            let config: [ResultCode] = [.SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH, .SQLITE_NOTADB, .SQLITE_CORRUPT]
            throw StageFailure(config.contains(code) ? .config : .failure, "the suppression list '\(location)': \(Self.describe(error))")
        }
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? DatabaseError { return e.message ?? "\(e.resultCode)" }
        if let e = error as? CMOError { return e.description }
        return error.localizedDescription
    }
}
