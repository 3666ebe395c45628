import CMOBasics
import CMOStorage
import Foundation
import GRDB

/// DNS answers kept between runs in `CMO_STATE_DIR/dns.sqlite` (WAL: several runs may share it), each
/// until its TTL runs out, so a cron re-run asks only for what went stale.
///
/// What is kept, and for how long:
/// - an answer: its smallest record TTL, at most `maxPositiveTTL`;
/// - NXDOMAIN and NODATA: the negative TTL of RFC 2308 (min(SOA TTL, SOA MINIMUM)), at most
///   `maxNegativeTTL`; a negative answer without an SOA is not kept (RFC 2308 §5);
/// - SERVFAIL, REFUSED, timeouts and errors: never (DNS could not tell; the next run asks again).
///
/// A TTL of 0 means "do not cache" and is honoured. The store holds domain names and their public
/// DNS records only.
public final class DNSCache {
    private let pool: DatabasePool
    /// The file the cache lives in.
    public let path: String
    /// Longest time an answer is kept, whatever its TTL (seconds; resolvers commonly cap at a day).
    public var maxPositiveTTL: UInt32 = 86_400
    /// Longest time a negative answer is kept (seconds; RFC 2308 §5 suggests one to three hours).
    public var maxNegativeTTL: UInt32 = 10_800
    private var purged = false

    /// Opens (or creates) the cache; nil path means `$CMO_STATE_DIR/dns.sqlite`.
    public init(path: String? = nil) throws {
        let file = try path ?? (StateDirectory.ensure() + "/dns.sqlite")
        self.path = file
        do {
            pool = try Self.open(file)
        } catch {
            throw StateDatabase.openFailure(error, "DNS cache '\(file)'")
        }
    }

    private static func open(_ file: String) throws -> DatabasePool {
        try StateDatabase.open(
            file,
            schema: """
                CREATE TABLE IF NOT EXISTS dns_cache (
                    name TEXT NOT NULL,
                    type INTEGER NOT NULL,
                    result TEXT NOT NULL,
                    expires_at REAL NOT NULL,
                    PRIMARY KEY (name, type)) WITHOUT ROWID;
                """)
    }

    /// How long `result` may be kept, in seconds; nil when it must not be kept.
    public func lifetime(_ result: DNSResult) -> UInt32? {
        switch result {
        case .answer(_, let ttl): ttl > 0 ? min(ttl, maxPositiveTTL) : nil
        case .noData(let ttl?), .nxdomain(let ttl?): ttl > 0 ? min(ttl, maxNegativeTTL) : nil
        default: nil
        }
    }

    /// The fresh (unexpired at `now`, epoch seconds) results stored for `queries`.
    public func fresh(_ queries: [DNSQuery], now: Double = Date().timeIntervalSince1970) throws -> [DNSQuery: DNSResult] {
        guard !queries.isEmpty else { return [:] }
        let wanted = Set(queries.map { DNSQuery(Self.key($0.name), $0.type) })
        let names = Array(Set(wanted.map(\.name)))
        var out: [DNSQuery: DNSResult] = [:]
        try pool.read { db in
            for start in stride(from: 0, to: names.count, by: 500) {
                let chunk = Array(names[start..<min(start + 500, names.count)])
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let rows = try Row.fetchCursor(
                    db, sql: "SELECT name, type, result FROM dns_cache WHERE expires_at > ? AND name IN (\(marks))",
                    arguments: StatementArguments([now as DatabaseValueConvertible] + chunk.map { $0 as DatabaseValueConvertible }))
                while let row = try rows.next() {
                    let name: String = row["name"]
                    let code: Int = row["type"]
                    guard let type = DNSRecordType(rawValue: UInt16(clamping: code)) else { continue }
                    let q = DNSQuery(name, type)
                    guard wanted.contains(q), let r = Self.decode(row["result"]) else { continue }
                    out[q] = r
                }
            }
        }
        // Hand results back under the names as asked (case and trailing dot).
        var byAsked: [DNSQuery: DNSResult] = [:]
        for q in queries { if let r = out[DNSQuery(Self.key(q.name), q.type)] { byAsked[q] = r } }
        return byAsked
    }

    /// Stores the results that may be kept (see `lifetime(_:)`); returns how many were stored.
    @discardableResult
    public func store(_ results: [(DNSQuery, DNSResult)], now: Double = Date().timeIntervalSince1970) throws -> Int {
        let rows = results.compactMap { q, r -> (String, Int, String, Double)? in
            guard let life = lifetime(r), let text = Self.encode(r) else { return nil }
            return (Self.key(q.name), Int(q.type.rawValue), text, now + Double(life))
        }
        let purge = !purged
        purged = true
        guard !rows.isEmpty || purge else { return 0 }
        try pool.write { db in
            // Expired rows are dropped once a run, so the file does not grow without bound.
            if purge { try db.execute(sql: "DELETE FROM dns_cache WHERE expires_at <= ?", arguments: [now]) }
            let statement = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO dns_cache (name, type, result, expires_at) VALUES (?, ?, ?, ?)")
            for (name, type, text, expires) in rows {
                try statement.execute(arguments: [name, type, text, expires])
            }
        }
        return rows.count
    }

    /// The cache key of a name: lower-case, without the trailing dot.
    static func key(_ name: String) -> String { (name.hasSuffix(".") ? String(name.dropLast()) : name).lowercased() }

    /// A cacheable result as one line of text: `a <ttl>` + tab-separated records (`m<pref> <exchange>`,
    /// `i<address>`), `d <ttl>` (NODATA), `n <ttl>` (NXDOMAIN).
    static func encode(_ r: DNSResult) -> String? {
        switch r {
        case .answer(let records, let ttl):
            let parts = records.map { rec -> String in
                switch rec {
                case .mx(let p, let e): "m\(p) \(e)"
                case .address(let a): "i\(a)"
                }
            }
            return (["a \(ttl)"] + parts).joined(separator: "\t")
        case .noData(let ttl?): return "d \(ttl)"
        case .nxdomain(let ttl?): return "n \(ttl)"
        default: return nil
        }
    }

    /// The inverse of `encode`; nil for anything else (a row from a future version is simply re-asked).
    static func decode(_ text: String) -> DNSResult? {
        var fields = text.split(separator: "\t", omittingEmptySubsequences: false)
        guard let head = fields.first, head.count > 2, let ttl = UInt32(head.dropFirst(2)) else { return nil }
        fields.removeFirst()
        switch head.first {
        case "d": return fields.isEmpty ? .noData(ttl: ttl) : nil
        case "n": return fields.isEmpty ? .nxdomain(ttl: ttl) : nil
        case "a":
            var records: [DNSRecord] = []
            for f in fields {
                if f.hasPrefix("i") {
                    records.append(.address(String(f.dropFirst())))
                } else if f.hasPrefix("m"), let space = f.firstIndex(of: " "),
                    let p = UInt16(f[f.index(after: f.startIndex)..<space])
                {
                    records.append(.mx(preference: p, exchange: String(f[f.index(after: space)...])))
                } else {
                    return nil
                }
            }
            return .answer(records, ttl: ttl)
        default: return nil
        }
    }
}
