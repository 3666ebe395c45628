import CMODNS
/// Finds each domain's mail host over DNS, in batches, one lookup per domain per run.
///
/// Per domain: MX; when there is none (NODATA), A then AAAA (implicit MX); when there are MX records,
/// A (then AAAA) of the exchanges, so an MX pointing nowhere is noticed. Every query of a step goes
/// out at once through `DNSResolver.resolve(_:)`. With a `DNSCache`, fresh answers from earlier runs
/// are used without a query, and new cacheable answers are stored.
public final class MailHostLookup {
    public let resolver: DNSResolver
    /// Answers kept between runs; nil with `--no-cache`.
    public private(set) var cache: DNSCache?
    /// The first error the cache gave; the cache is not used after it (the run goes on over DNS).
    public private(set) var cacheError: String?
    /// Whether to check that MX exchanges resolve.
    public var checkExchanges = true
    /// Results so far, by ASCII domain.
    public private(set) var outcomes: [String: MailHostOutcome] = [:]
    private var hostResolves: [String: DNSResult] = [:]
    /// Queries sent, by record type name, and domains looked up.
    public private(set) var queries: [String: Int] = [:]
    public private(set) var domainsLookedUp = 0
    /// Queries answered from the persistent cache instead of DNS, by record type name.
    public private(set) var cacheHits: [String: Int] = [:]
    /// Answers written to the persistent cache.
    public private(set) var cacheStored = 0
    /// Queries sent over DNS that got no answer at all (timeouts), and that got any answer.
    public private(set) var queriesTimedOut = 0
    public private(set) var queriesAnswered = 0

    /// A lookup through `resolver`, using and filling `cache` when one is given.
    public init(resolver: DNSResolver, cache: DNSCache? = nil) {
        self.resolver = resolver
        self.cache = cache
    }

    public var queriesSent: Int { queries.values.reduce(0, +) }
    public var cacheHitCount: Int { cacheHits.values.reduce(0, +) }

    /// Results for `qs`, in order: fresh cached ones, the rest asked over DNS (all at once) and cached.
    private func send(_ qs: [DNSQuery]) -> [DNSResult] {
        if qs.isEmpty { return [] }
        var cached: [DNSQuery: DNSResult] = [:]
        if let cache {
            do { cached = try cache.fresh(qs) } catch { disableCache(error) }
        }
        let ask = qs.filter { cached[$0] == nil }
        for q in qs {
            if cached[q] == nil { Self.count(q, into: &queries) } else { Self.count(q, into: &cacheHits) }
        }
        let answers = ask.isEmpty ? [] : resolver.resolve(ask)
        for a in answers {
            if case .timeout = a { queriesTimedOut += 1 } else if case .error = a {} else { queriesAnswered += 1 }
        }
        if let cache, !ask.isEmpty {
            do { cacheStored += try cache.store(Array(zip(ask, answers))) } catch { disableCache(error) }
        }
        var fromDNS = answers.makeIterator()
        return qs.map { cached[$0] ?? fromDNS.next() ?? .error("internal: missing result") }
    }

    private static func count(_ q: DNSQuery, into table: inout [String: Int]) {
        table["\(q.type)".uppercased(), default: 0] += 1
    }

    private func disableCache(_ error: Error) {
        if cacheError == nil { cacheError = "\(error)" }
        cache = nil
    }

    /// Looks up every domain not looked up yet.
    public func lookUp(_ domains: some Sequence<String>) {
        var fresh: [String] = []
        var seen = Set<String>()
        for d in domains where outcomes[d] == nil && seen.insert(d).inserted { fresh.append(d) }
        if fresh.isEmpty { return }
        domainsLookedUp += fresh.count
        let mxResults = send(fresh.map { DNSQuery($0, .mx) })
        var noMX: [String] = []
        var withMX: [(String, [String])] = []
        for (d, r) in zip(fresh, mxResults) {
            switch r {
            case .answer(let records, _):
                let mx = records.compactMap { rec -> (UInt16, String)? in
                    if case .mx(let p, let e) = rec { return (p, e) } else { return nil }
                }.sorted { $0.0 < $1.0 }
                if mx.isEmpty {
                    noMX.append(d)
                } else if mx.count == 1, mx[0].1.isEmpty || mx[0].1 == "." {
                    outcomes[d] = .nullMX
                } else {
                    withMX.append((d, mx.map { Self.trimDot($0.1) }.filter { !$0.isEmpty }))
                }
            case .noData: noMX.append(d)
            case .nxdomain: outcomes[d] = .nxdomain
            default: outcomes[d] = .unknown(Self.reason(r))
            }
        }
        implicitMX(noMX)
        exchanges(withMX)
    }

    private func implicitMX(_ domains: [String]) {
        if domains.isEmpty { return }
        let a = send(domains.map { DNSQuery($0, .a) })
        var needAAAA: [String] = []
        for (d, r) in zip(domains, a) {
            switch r {
            case .answer(let recs, _) where !recs.isEmpty: outcomes[d] = .implicitMX(d)
            case .noData, .answer: needAAAA.append(d)
            case .nxdomain: outcomes[d] = .noMailHost
            default: outcomes[d] = .unknown(Self.reason(r))
            }
        }
        for (d, r) in zip(needAAAA, send(needAAAA.map { DNSQuery($0, .aaaa) })) {
            switch r {
            case .answer(let recs, _) where !recs.isEmpty: outcomes[d] = .implicitMX(d)
            case .noData, .answer, .nxdomain: outcomes[d] = .noMailHost
            default: outcomes[d] = .unknown(Self.reason(r))
            }
        }
    }

    private func exchanges(_ domains: [(String, [String])]) {
        guard checkExchanges else {
            for (d, hosts) in domains { outcomes[d] = .mx(hosts) }
            return
        }
        // A for every exchange not seen yet; AAAA for those without A.
        var hosts: [String] = []
        var seen = Set<String>()
        for (_, hs) in domains { for h in hs where hostResolves[h] == nil && seen.insert(h).inserted { hosts.append(h) } }
        let a = send(hosts.map { DNSQuery($0, .a) })
        var needAAAA: [String] = []
        for (h, r) in zip(hosts, a) {
            hostResolves[h] = r
            if case .answer(let recs, _) = r, !recs.isEmpty { continue }
            if case .noData = r { needAAAA.append(h) }
        }
        for (h, r) in zip(needAAAA, send(needAAAA.map { DNSQuery($0, .aaaa) })) {
            if case .answer(let recs, _) = r, !recs.isEmpty { hostResolves[h] = r } else if Self.isTemporary(r) { hostResolves[h] = r }
        }
        for (d, hs) in domains {
            let results = hs.map { hostResolves[$0] ?? .timeout }
            if results.contains(where: { if case .answer(let r, _) = $0 { !r.isEmpty } else { false } }) {
                outcomes[d] = .mx(hs)
            } else if let failure = results.first(where: { Self.isTemporary($0) }) {
                outcomes[d] = .unknown("mx_host_\(Self.reason(failure))")
            } else {
                outcomes[d] = .mxHostsUnresolvable(hs)
            }
        }
    }

    static func trimDot(_ s: String) -> String { (s.hasSuffix(".") ? String(s.dropLast()) : s).lowercased() }

    static func isTemporary(_ r: DNSResult) -> Bool {
        switch r {
        case .servfail, .refused, .timeout, .error: true
        default: false
        }
    }

    static func reason(_ r: DNSResult) -> String {
        switch r {
        case .servfail: "servfail"
        case .refused: "refused"
        case .timeout: "timeout"
        case .error: "error"
        case .nxdomain: "nxdomain"
        case .noData: "nodata"
        case .answer: "answer"
        }
    }
}
