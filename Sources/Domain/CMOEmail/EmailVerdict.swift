import CMOBasics
/// How sure we are that mail to an address can be delivered; ordered best first.
public enum EmailVerdict: String, Sendable, CaseIterable, Comparable {
    case safe, risky, unknown, invalid

    /// 0 for safe … 3 for invalid.
    public var rank: Int {
        switch self {
        case .safe: 0
        case .risky: 1
        case .unknown: 2
        case .invalid: 3
        }
    }

    public static func < (a: EmailVerdict, b: EmailVerdict) -> Bool { a.rank < b.rank }
}

/// What DNS said about a domain's mail host (RFC 5321 §5.1, RFC 7505).
public enum MailHostOutcome: Sendable, Equatable {
    /// MX records whose exchanges resolve (or were not checked), lowest preference first.
    case mx([String])
    /// No MX, but A/AAAA: the domain is its own mail host.
    case implicitMX(String)
    /// `MX 0 .`: the domain takes no mail.
    case nullMX
    /// The domain does not exist.
    case nxdomain
    /// The domain exists with neither MX nor A/AAAA.
    case noMailHost
    /// MX records exist but no exchange resolves to an address.
    case mxHostsUnresolvable([String])
    /// DNS could not tell: servfail, refused, timeout, error.
    case unknown(String)
}

/// One address's check, as written into `email_checks`.
public struct EmailCheck: Sendable, Equatable {
    public var address: String
    public var verdict: EmailVerdict
    public var reasons: [String]
    public var flags: EmailFlags
    public var mx: [String]

    public init(address: String, verdict: EmailVerdict, reasons: [String], flags: EmailFlags, mx: [String]) {
        self.address = address
        self.verdict = verdict
        self.reasons = reasons
        self.flags = flags
        self.mx = mx
    }

    /// The verdict rules. Invalid: bad syntax, no-reply, nxdomain, null MX, no mail host. Unknown: DNS
    /// could not tell (never invalid). Risky: role account, disposable domain, MX hosts that do not
    /// resolve. Safe otherwise.
    public static func judge(address: String, parsed: EmailAddress, flags: EmailFlags, host: MailHostOutcome) -> EmailCheck {
        var reasons: [String] = []
        var verdict = EmailVerdict.safe
        var mx: [String] = []
        func worsen(_ v: EmailVerdict, _ reason: String) {
            reasons.append(reason)
            if v > verdict { verdict = v }
        }
        if flags.noreply { worsen(.invalid, "noreply") }
        switch host {
        case .mx(let hosts): mx = hosts
        case .implicitMX(let h):
            mx = [h]
            reasons.append("implicit_mx")
        case .nullMX: worsen(.invalid, "null_mx")
        case .nxdomain: worsen(.invalid, "nxdomain")
        case .noMailHost: worsen(.invalid, "no_mail_host")
        case .mxHostsUnresolvable(let hosts):
            mx = hosts
            worsen(.risky, "mx_hosts_unresolvable")
        case .unknown(let why): worsen(.unknown, "dns_\(why)")
        }
        if flags.role { worsen(.risky, "role") }
        if flags.disposable { worsen(.risky, "disposable") }
        if flags.free { reasons.append("free") }
        return EmailCheck(address: parsed.normalized, verdict: verdict, reasons: reasons, flags: flags, mx: mx)
    }

    /// A check for an address that failed the syntax check.
    public static func syntaxError(_ address: String, _ problem: EmailAddress.Problem) -> EmailCheck {
        EmailCheck(address: address, verdict: .invalid, reasons: [problem.rawValue], flags: EmailFlags(raw: address), mx: [])
    }

    public var json: JSONValue {
        .object([
            JSONMember("address", .string(address)), JSONMember("verdict", .string(verdict.rawValue)),
            JSONMember("reasons", .array(reasons.map { .string($0) })), JSONMember("flags", flags.json),
            JSONMember("mx", .array(mx.map { .string($0) })),
        ])
    }
}

/// One candidate address with its provenance, for choosing `best_email`.
public struct EmailCandidate: Sendable {
    public var check: EmailCheck
    public var source: String?
    public var lastSeen: String?

    public init(check: EmailCheck, source: String?, lastSeen: String?) {
        self.check = check
        self.source = source
        self.lastSeen = lastSeen
    }
}

/// The documented preference for `best_email`: better verdict first (safe > risky > unknown; invalid
/// never chosen), then source in `sourceOrder` (default profile before commit), then a company domain
/// before free-mail, then the most recent `last_seen`, then input order. Role, disposable and
/// no-reply addresses are never chosen unless `allowRole` (they stay in `email_checks`, flagged):
/// a lead headed for sending is written to a person, not to `admin@` or a throwaway inbox.
public struct BestEmailPolicy: Sendable {
    public var sourceOrder: [String]
    public var preferCompanyDomain: Bool
    public var allowRole: Bool

    public init(sourceOrder: [String] = ["profile", "commit"], preferCompanyDomain: Bool = true, allowRole: Bool = false) {
        self.sourceOrder = sourceOrder
        self.preferCompanyDomain = preferCompanyDomain
        self.allowRole = allowRole
    }

    /// Whether an address may be `best_email` at all under this policy.
    public func isCandidate(_ check: EmailCheck) -> Bool {
        check.verdict != .invalid && (allowRole || !(check.flags.role || check.flags.disposable || check.flags.noreply))
    }

    public func choose(_ candidates: [EmailCandidate]) -> EmailCandidate? {
        let usable = candidates.enumerated().filter { isCandidate($0.element.check) }
        return usable.min { a, b in
            let x = a.element
            let y = b.element
            if x.check.verdict != y.check.verdict { return x.check.verdict < y.check.verdict }
            let sx = sourceRank(x.source)
            let sy = sourceRank(y.source)
            if sx != sy { return sx < sy }
            if preferCompanyDomain, x.check.flags.free != y.check.flags.free { return !x.check.flags.free }
            let lx = x.lastSeen ?? ""
            let ly = y.lastSeen ?? ""
            if lx != ly { return lx > ly }  // ISO 8601 strings sort by time
            return a.offset < b.offset
        }?.element
    }

    func sourceRank(_ s: String?) -> Int { s.flatMap { sourceOrder.firstIndex(of: $0) } ?? sourceOrder.count }
}
