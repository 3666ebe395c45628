import Foundation
@_exported import CMOHTTPServer

// The seam between the sandbox's HTTP server (CMOHTTPServer) and the services it plays (GitHub/, Instantly/,
// Attio/, Linear/, OpenAI/): services see plain values, never the server library's types, so each
// can be unit-tested without a socket and the server can be swapped.

/// One HTTP request as a sandbox service sees it (the shared server's type, CMOHTTPServer).
public typealias SandboxRequest = HTTPServerRequest

/// One HTTP response from a sandbox service.
public typealias SandboxResponse = HTTPServerResponse

/// The sandbox's HTTP server on 127.0.0.1 (CMOHTTPServer's).
public typealias SandboxServer = HTTPServer

/// A service the sandbox plays. The server asks each service in turn; the first non-nil answer wins.
public protocol SandboxService: AnyObject, Sendable {
    /// `github`, `instantly`, `attio`, `linear`, `openai`: the key used in stats and fault flags.
    var name: String { get }
    /// The path prefix this service owns on the shared port (`/github`, `/instantly`, …), without a
    /// trailing slash. The server strips it before calling `handle`, so services see the vendor's own paths.
    var pathPrefix: String { get }
    /// Answers a request whose path (prefix stripped) this service serves, or nil when it is not its own.
    func handle(_ request: SandboxRequest) -> SandboxResponse?
    /// Forgets every write and counter (`POST /_sandbox/reset`); the generated world stays.
    func reset()
}

/// How a domain of the synthetic world answers DNS (for the sandbox's DNS server and for `/_sandbox/truth`).
public enum DNSBehaviour: Sendable, Equatable {
    /// MX records (preference, exchange host); exchange hosts resolve through `hosts`.
    case mx([(preference: UInt16, exchange: String)])
    /// No MX, only an A record: deliverable through the implicit MX (RFC 5321 §5.1).
    case aOnly(String)
    /// `0 .` (RFC 7505): the domain accepts no mail.
    case nullMX
    /// The name does not exist.
    case nxdomain
    /// The server fails (SERVFAIL).
    case servfail
    /// The server never answers.
    case timeout
    /// MX answer large enough that the UDP reply is truncated (TC bit); the full answer over TCP.
    case truncated([(preference: UInt16, exchange: String)])
    /// Answers after a delay (milliseconds) with these MX records.
    case slow(milliseconds: Int, mx: [(preference: UInt16, exchange: String)])

    public static func == (a: DNSBehaviour, b: DNSBehaviour) -> Bool { String(describing: a) == String(describing: b) }
}

/// The DNS data of the synthetic world: built by the world generator, served by the DNS server.
public struct DNSZone: Sendable {
    /// Lower-case domain names without a trailing dot, and how each answers.
    public var domains: [String: DNSBehaviour]
    /// A records (dotted IPv4) of MX exchange hosts and other names, lower-case without a trailing dot.
    public var hosts: [String: [String]]

    public init(domains: [String: DNSBehaviour] = [:], hosts: [String: [String]] = [:]) {
        self.domains = domains
        self.hosts = hosts
    }
}

/// Everything the sandbox counts, shared by every service: thread-safe.
public final class SandboxStats: @unchecked Sendable {
    private let lock = NSLock()
    private var requests: [String: Int] = [:]  // "service endpoint" -> count
    private var notModified: [String: Int] = [:]  // service -> 304s
    private var quota: [String: Int] = [:]  // "service/bucket" -> units spent
    private var violations: [[String: Any]] = []
    private var writes: [[String: Any]] = []
    private var writeKeys: [String: Int] = [:]  // "service kind key" -> count
    private var duplicates: [[String: Any]] = []

    public init() {}

    /// Counts a request to `endpoint` (a route pattern such as `GET /repos/{owner}/{repo}/commits`).
    public func recordRequest(service: String, endpoint: String) {
        lock.withLock { requests["\(service) \(endpoint)", default: 0] += 1 }
    }

    /// Counts a 304 that spent no quota.
    public func recordNotModified(service: String) {
        lock.withLock { notModified[service, default: 0] += 1 }
    }

    /// Counts quota spent in a bucket (`core`, `search`, `graphql`, `workspace`, …).
    public func recordQuota(service: String, bucket: String, cost: Int) {
        lock.withLock { quota["\(service)/\(bucket)", default: 0] += cost }
    }

    /// Records a request sent while a bucket was exhausted or during a secondary-limit penalty.
    public func recordViolation(service: String, bucket: String, detail: String) {
        lock.withLock { violations.append(["service": service, "bucket": bucket, "detail": detail]) }
    }

    /// Records a write; `key` identifies what makes it a duplicate (same email in the same campaign,
    /// same note content on the same record, same issue key). Returns true when it is a duplicate.
    @discardableResult
    public func recordWrite(service: String, kind: String, key: String, payload: Any) -> Bool {
        lock.withLock {
            let k = "\(service) \(kind) \(key)"
            writeKeys[k, default: 0] += 1
            let entry: [String: Any] = ["service": service, "kind": kind, "key": key, "payload": payload]
            writes.append(entry)
            if writeKeys[k]! > 1 {
                duplicates.append(["service": service, "kind": kind, "key": key, "count": writeKeys[k]!])
                return true
            }
            return false
        }
    }

    /// Forgets everything.
    public func reset() {
        lock.withLock {
            requests = [:]
            notModified = [:]
            quota = [:]
            violations = []
            writes = []
            writeKeys = [:]
            duplicates = []
        }
    }

    /// The JSON object served at `GET /_sandbox/stats`.
    public func snapshot() -> [String: Any] {
        lock.withLock {
            [
                "requests": requests, "requests_total": requests.values.reduce(0, +),
                "not_modified": notModified, "quota_spent": quota,
                "rate_limit_violations": violations, "violations_total": violations.count,
                "writes": writes, "writes_total": writes.count,
                "duplicates": duplicates, "duplicates_total": duplicates.count,
            ]
        }
    }
}
