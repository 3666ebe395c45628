import CMOBasics
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A stub resolver: batches of queries in flight at once over one UDP socket, EDNS0, TCP on
/// truncation, retries rotating over the servers. No third party sees the names asked for.
public struct DNSResolver: Sendable {
    /// Recursive servers to ask, rotated on retries.
    public var servers: [DNSServerAddress]
    /// Seconds to wait for a reply to one try.
    public var timeout: Double
    /// Tries per server before a query is a `.timeout`.
    public var attempts: Int
    /// Queries outstanding at once. 64 by default: much larger bursts overflow a server's UDP receive
    /// buffer (dnsmasq, default buffers, loses queries beyond ~90 at once), and each lost query costs a
    /// whole timeout; 64 in flight already allow ~30,000 queries a second at 2 ms round trips.
    public var maxInFlight: Int

    /// A resolver over explicit servers.
    public init(servers: [DNSServerAddress], timeout: Double = 2, attempts: Int = 2, maxInFlight: Int = 64) {
        self.servers = servers
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.maxInFlight = max(1, maxInFlight)
    }

    /// A resolver over one `host:port` server (`CMO_DNS_SERVER`, `--dns-server`); nil when it does not parse.
    public init?(server: String, timeout: Double = 2, attempts: Int = 2, maxInFlight: Int = 64) {
        guard let address = DNSServerAddress(server) else { return nil }
        self.init(servers: [address], timeout: timeout, attempts: attempts, maxInFlight: maxInFlight)
    }

    /// The system's resolver settings; like glibc, 127.0.0.1:53 when no server is listed.
    public static func system(_ conf: ResolvConf = .load(), maxInFlight: Int = 64) -> DNSResolver {
        DNSResolver(
            servers: conf.servers.isEmpty ? [DNSServerAddress(host: "127.0.0.1")] : conf.servers,
            timeout: conf.timeout ?? 5, attempts: conf.attempts ?? 2, maxInFlight: maxInFlight)
    }

    /// One query.
    public func resolve(_ query: DNSQuery) -> DNSResult { resolve([query])[0] }

    /// Resolves every query, many at once; results are in input order.
    public func resolve(_ queries: [DNSQuery]) -> [DNSResult] {
        guard !servers.isEmpty else { return queries.map { _ in .error("no DNS server configured") } }
        guard let fd = DNSSocket.udp() else { return queries.map { _ in .error("cannot open a UDP socket") } }
        defer { close(fd) }
        var batch = Batch(resolver: self, queries: queries, fd: fd)
        batch.run()
        return batch.results.map { $0 ?? .error("internal: query never finished") }
    }
}

/// The state of one `resolve` call: who is in flight under which id, and until when.
private struct Batch {
    struct Pending {
        let index: Int
        let wire: [UInt8]
        var tries = 0
        var deadline = 0.0
    }

    let resolver: DNSResolver
    let queries: [DNSQuery]
    let fd: Int32
    var results: [DNSResult?]
    var inFlight: [UInt16: Pending] = [:]
    /// Replies received in this batch, and queries that used up every try.
    var replies = 0
    var timeouts = 0
    var buffer = [UInt8](repeating: 0, count: 65_535)

    init(resolver: DNSResolver, queries: [DNSQuery], fd: Int32) {
        self.resolver = resolver
        self.queries = queries
        self.fd = fd
        results = Array(repeating: nil, count: queries.count)
    }

    private var maxTries: Int { resolver.attempts * resolver.servers.count }

    /// The server for a query's next try: each query starts at its own, then rotates.
    private func server(_ p: Pending) -> DNSServerAddress {
        resolver.servers[(p.index + p.tries) % resolver.servers.count]
    }

    mutating func run() {
        var next = 0
        while next < queries.count || !inFlight.isEmpty {
            // Capped well below 65,536 so a fresh random id is always quick to find.
            // A server that answered nothing while queries ran out of tries is not overloaded but gone
            // (or the path to it): waiting for it window by window would only multiply the timeouts.
            let window = replies == 0 && timeouts > 0 ? 4096 : min(resolver.maxInFlight, 4096)
            while next < queries.count && inFlight.count < window {
                start(next)
                next += 1
            }
            guard let earliest = inFlight.values.map(\.deadline).min() else { continue }
            if DNSSocket.wait(fd, Int16(POLLIN), until: earliest) { drain() }
            expire()
        }
    }

    private mutating func start(_ index: Int) {
        var id: UInt16
        // Random ids (not a counter) so off-path spoofing needs a guess; unique within the batch.
        repeat { id = UInt16.random(in: 0...UInt16.max) } while inFlight[id] != nil
        guard let wire = DNSMessage.query(id: id, queries[index]) else {
            results[index] = .error("invalid name '\(queries[index].name)'")
            return
        }
        inFlight[id] = Pending(index: index, wire: wire)
        send(id)
    }

    private mutating func send(_ id: UInt16) {
        guard var p = inFlight[id] else { return }
        // A failed send is left to time out like a lost packet, then retried.
        _ = DNSSocket.send(fd, p.wire, to: server(p))
        p.tries += 1
        p.deadline = DNSSocket.now() + resolver.timeout
        inFlight[id] = p
    }

    private mutating func drain() {
        while let (bytes, from) = DNSSocket.receive(fd, into: &buffer) {
            guard resolver.servers.contains(from), let id = DNSMessage.u16(bytes, 0), let p = inFlight[id] else { continue }
            let query = queries[p.index]
            switch DNSMessage.parse(bytes, id: id, query) {
            case .stray:
                continue
            case .truncated:
                inFlight[id] = nil
                replies += 1
                results[p.index] = overTCP(p, id: id, from: from)
            case .result(let r):
                inFlight[id] = nil
                results[p.index] = r
                replies += 1
            }
        }
    }

    /// Asks again over TCP (inline: truncation is rare, and one TCP exchange is bounded by the timeout).
    private func overTCP(_ p: Pending, id: UInt16, from: DNSServerAddress) -> DNSResult {
        let deadline = DNSSocket.now() + resolver.timeout
        switch DNSSocket.tcpExchange(p.wire, server: from, deadline: deadline) {
        case .failure(let e):
            return e == .timeout ? .timeout : .error(e.message)
        case .success(let bytes):
            switch DNSMessage.parse(bytes, id: id, queries[p.index]) {
            case .result(let r): return r
            case .truncated: return .error("truncated reply over TCP")
            case .stray: return .error("TCP reply does not match the question")
            }
        }
    }

    private mutating func expire() {
        let now = DNSSocket.now()
        for (id, p) in inFlight where p.deadline <= now {
            if p.tries >= maxTries {
                inFlight[id] = nil
                results[p.index] = .timeout
                timeouts += 1
            } else {
                send(id)
            }
        }
    }
}
