import CMOBasics
import CMOStorage
import Foundation
import GRDB

/// One commit, as much as gh-people needs of it.
public struct CommitFact: Codable, Sendable, Equatable {
    public var sha: String
    /// Committed date, ISO 8601.
    public var date: String
    public var title: String
    public var email: String
    /// The linked account, when GitHub linked the author email to one.
    public var login: String?
    public var userID: Int?
    public var bot: Bool

    public init(sha: String, date: String, title: String, email: String, login: String?, userID: Int?, bot: Bool) {
        self.sha = sha
        self.date = date
        self.title = title
        self.email = email
        self.login = login
        self.userID = userID
        self.bot = bot
    }
}

/// What is known of one repository's recent history: the incremental cursor of gh-people.
public struct RepoHistory: Codable, Sendable {
    public var fullName: String
    /// `pushed_at` when the history was last read; an unchanged one means nothing new to read.
    public var pushedAt: String?
    /// Commits are complete from this time on (ISO 8601).
    public var coveredSince: String
    public var commits: [CommitFact]
    /// False when the repository was not found (renamed away, deleted, private) or is empty.
    public var exists: Bool

    public init(fullName: String, pushedAt: String?, coveredSince: String, commits: [CommitFact], exists: Bool = true) {
        self.fullName = fullName
        self.pushedAt = pushedAt
        self.coveredSince = coveredSince
        self.commits = commits
        self.exists = exists
    }

    /// The newest commit's date, if any.
    public var newest: String? { commits.map(\.date).max() }
}

/// gh-people's and gh-enrich's memory between runs, in `CMO_STATE_DIR/github.sqlite` (WAL, shared
/// safely by several processes): per-repository histories with their cursors, and fetched profiles.
/// It holds public GitHub data only, never a token.
public final class GitHubState {
    private let pool: DatabasePool

    /// Opens (or creates) the store; nil path means `$CMO_STATE_DIR/github.sqlite`.
    public init(path: String? = nil) throws {
        let file: String
        if let path {
            file = path
        } else {
            file = try StateDirectory.ensure() + "/github.sqlite"
        }
        do {
            pool = try StateDatabase.open(
                file,
                schema: """
                    CREATE TABLE IF NOT EXISTS repo_history (
                        full_name TEXT PRIMARY KEY NOT NULL COLLATE NOCASE,
                        history BLOB NOT NULL,
                        updated_at REAL NOT NULL);
                    CREATE TABLE IF NOT EXISTS profiles (
                        login TEXT PRIMARY KEY NOT NULL COLLATE NOCASE,
                        profile BLOB NOT NULL,
                        fetched_at REAL NOT NULL);
                    """)
        } catch {
            throw StateDatabase.openFailure(error, "GitHub state '\(file)'")
        }
    }

    /// Histories of the given repositories that are stored.
    public func histories(_ names: [String]) throws -> [String: RepoHistory] {
        var out: [String: RepoHistory] = [:]
        let decoder = JSONDecoder()
        try pool.read { db in
            for chunk in stride(from: 0, to: names.count, by: 500).map({ Array(names[$0..<min($0 + 500, names.count)]) }) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let rows = try Row.fetchAll(
                    db, sql: "SELECT history FROM repo_history WHERE full_name IN (\(marks))", arguments: StatementArguments(chunk))
                for row in rows {
                    let data: Data = row["history"]
                    if let h = try? decoder.decode(RepoHistory.self, from: data) { out[h.fullName.lowercased()] = h }
                }
            }
        }
        return out
    }

    /// Stores histories (after the commits in them were read completely).
    public func save(_ histories: [RepoHistory]) throws {
        guard !histories.isEmpty else { return }
        let encoder = JSONEncoder()
        let now = Date().timeIntervalSince1970
        try pool.write { db in
            for h in histories {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO repo_history (full_name, history, updated_at) VALUES (?, ?, ?)",
                    arguments: [h.fullName, try encoder.encode(h), now])
            }
        }
    }

    /// Profiles fetched after `since` (epoch seconds), by lower-cased login.
    public func profiles(_ logins: [String], fetchedAfter since: Double) throws -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        try pool.read { db in
            for chunk in stride(from: 0, to: logins.count, by: 500).map({ Array(logins[$0..<min($0 + 500, logins.count)]) }) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let rows = try Row.fetchAll(
                    db, sql: "SELECT login, profile FROM profiles WHERE fetched_at >= ? AND login IN (\(marks))",
                    arguments: StatementArguments([since] + chunk.map { $0 as DatabaseValueConvertible }))
                for row in rows {
                    let login: String = row["login"]
                    var bytes = [UInt8]((row["profile"] as Data))
                    if let v = try? JSONScanner.parse(bytes: &bytes) { out[login.lowercased()] = v }
                }
            }
        }
        return out
    }

    /// Stores fetched profiles.
    public func saveProfiles(_ profiles: [(login: String, profile: JSONValue)]) throws {
        guard !profiles.isEmpty else { return }
        let now = Date().timeIntervalSince1970
        try pool.write { db in
            for p in profiles {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO profiles (login, profile, fetched_at) VALUES (?, ?, ?)",
                    arguments: [p.login, Data(p.profile.encoded()), now])
            }
        }
    }
}
