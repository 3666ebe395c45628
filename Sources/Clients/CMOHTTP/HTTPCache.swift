import CMOBasics
import CMOStorage
import Crypto
import Foundation
import GRDB

/// The ETag cache: one SQLite file (WAL, shared safely by several processes) mapping a request
/// to the last 200 it got. Keys are SHA-256 digests of method, URL and the request's secret
/// header values, so different tokens never share an entry and no secret or URL is stored.
final class HTTPCache {
    /// A stored 200.
    struct Entry {
        var etag: String
        var headers: [(name: String, value: String)]
        var body: [UInt8]
    }

    /// Headers worth replaying with a cached body; rate-limit headers come fresh from the 304.
    static let keptHeaders: Set<String> = ["etag", "last-modified", "content-type", "link", "cache-control"]

    private let pool: DatabasePool
    private let maxBytes: Int
    private var storesSincePrune = 0

    init(path: String, maxBytes: Int) throws {
        // Other stages may be writing the same file.
        pool = try StateDatabase.open(
            path,
            schema: """
                CREATE TABLE IF NOT EXISTS http_cache (
                    key TEXT PRIMARY KEY NOT NULL,
                    etag TEXT NOT NULL,
                    headers TEXT NOT NULL,
                    body BLOB NOT NULL,
                    size INTEGER NOT NULL,
                    used_at REAL NOT NULL
                )
                """)
        self.maxBytes = maxBytes
    }

    /// The cache key of a request.
    static func key(for request: HTTPRequest) -> String {
        var text = request.method + "\n" + request.url
        for (name, value) in request.headers where HTTPRequest.isSecretHeader(name) {
            text += "\n" + name.lowercased() + ":" + value
        }
        return Self.sha256Hex(Array(text.utf8))
    }

    func lookup(_ key: String) throws -> Entry? {
        try pool.read { db in
            guard
                let row = try Row.fetchOne(db, sql: "SELECT etag, headers, body FROM http_cache WHERE key = ?", arguments: [key])
            else { return nil }
            let data: Data = row["body"]
            return Entry(etag: row["etag"], headers: Self.decodeHeaders(row["headers"]), body: [UInt8](data))
        }
    }

    func store(_ key: String, _ entry: Entry, now: Double) throws {
        let headers = Self.encodeHeaders(entry.headers.filter { Self.keptHeaders.contains($0.name) })
        try pool.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO http_cache (key, etag, headers, body, size, used_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [key, entry.etag, headers, Data(entry.body), entry.body.count + headers.utf8.count, now])
        }
        storesSincePrune += 1
        if storesSincePrune >= 100 {
            storesSincePrune = 0
            try prune()
        }
    }

    /// Marks an entry as just used, so pruning keeps it.
    func touch(_ key: String, now: Double) throws {
        try pool.write { db in try db.execute(sql: "UPDATE http_cache SET used_at = ? WHERE key = ?", arguments: [now, key]) }
    }

    /// Drops least-recently-used entries past `maxBytes`.
    func prune() throws {
        let limit = maxBytes
        try pool.write { db in
            try db.execute(
                sql: """
                    DELETE FROM http_cache WHERE key IN (
                        SELECT key FROM (SELECT key, SUM(size) OVER (ORDER BY used_at DESC, key) AS running FROM http_cache)
                        WHERE running > ?)
                    """, arguments: [limit])
        }
    }

    // Headers are stored as "name: value" lines; names are lower-case and values carry no newline.
    private static func encodeHeaders(_ headers: [(name: String, value: String)]) -> String {
        headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
    }

    private static func decodeHeaders(_ text: String) -> [(name: String, value: String)] {
        text.split(separator: "\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
    }
}

extension HTTPCache {
    /// SHA-256 as lower-case hex (swift-crypto).
    static func sha256Hex(_ message: [UInt8]) -> String {
        SHA256.hash(data: message).map { String(format: "%02x", $0) }.joined()
    }
}
