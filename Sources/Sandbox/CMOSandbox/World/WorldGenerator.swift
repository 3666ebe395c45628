import CMOBasics
import Foundation

/// Builds a world from a seed: domains (and their DNS behaviour), people, accounts, repositories and
/// commits. Each part draws from its own named stream, so growing `--repos` does not reshuffle users.
struct WorldGenerator {
    let config: WorldConfig
    var domains: [String: DNSBehaviour] = [:]
    var hosts: [String: [String]] = [:]
    /// Corporate domains with their company display names.
    var corporate: [(domain: String, company: String)] = []
    var users: [WorldUser] = []
    /// People who commit under no account (`author: null`).
    var anonymous: [(name: String, email: String)] = []
    var emailFacts: [String: EmailFacts] = [:]
    var usedLogins: Set<String> = []
    var usedEmails: Set<String> = []
    private var hostCounter = 0

    /// Accounts created after this instant get `ID+login@users.noreply.github.com`.
    static let noreplyIDFormSince = WorldTime.parse("2017-07-18")!
    static let botSpecs: [(id: Int, login: String, name: String?)] = [
        (29_139_614, "renovate[bot]", nil), (41_898_282, "github-actions[bot]", nil), (49_699_333, "dependabot[bot]", nil),
    ]
    static let webFlowID = 19_864_447

    init(config: WorldConfig) { self.config = config }

    mutating func generate() -> (users: [WorldUser], repos: [WorldRepo], emails: [String: EmailFacts], zone: DNSZone) {
        makeDomains()
        makeHumans()
        makeAnonymous()
        makeSpecialAccounts()
        let repos = makeRepos()
        users.sort { $0.id < $1.id }
        return (users, repos, emailFacts, DNSZone(domains: domains, hosts: hosts))
    }

    // MARK: Domains

    private mutating func nextIP() -> String {
        hostCounter += 1
        return "192.0.2.\(hostCounter % 250 + 1)"
    }

    private mutating func mxRecords(_ domain: String, count: Int = 2, longNames: Bool = false) -> [(preference: UInt16, exchange: String)] {
        (0..<count).map { i in
            let host =
                longNames
                ? "mx-\(i)-a-rather-long-mail-exchanger-host-name-for-truncation.\(domain)" : "mx\(i + 1).\(domain)"
            hosts[host] = [nextIP()]
            return (UInt16(10 * (i + 1)), host)
        }
    }

    private mutating func makeDomains() {
        var rng = SeededRandom(seed: config.seed, stream: "domains")
        let count = max(16, config.userCount / 6)
        let forced = ["mx", "a_only", "null_mx", "nxdomain", "servfail", "timeout", "truncated", "slow"]
        var seen: Set<String> = []
        for i in 0..<count {
            let w1 = rng.pick(WorldVocabulary.companyWords)
            var w2 = rng.pick(WorldVocabulary.companyWords)
            if w2 == w1 { w2 = "works" }
            var domain = "\(w1)\(w2).\(rng.pick(WorldVocabulary.tlds))"
            while seen.contains(domain) { domain = "\(w1)\(w2)\(rng.int(2...99)).\(rng.pick(WorldVocabulary.tlds))" }
            seen.insert(domain)
            let kind: String
            if i < forced.count {
                kind = forced[i]
            } else {
                let u = rng.unit()
                kind =
                    u < 0.72
                    ? "mx"
                    : u < 0.80
                        ? "a_only"
                        : u < 0.85
                            ? "null_mx"
                            : u < 0.90
                                ? "nxdomain"
                                : u < 0.93 ? "servfail" : u < 0.95 ? "timeout" : u < 0.98 ? "truncated" : "slow"
            }
            domains[domain] = behaviour(kind, domain)
            corporate.append((domain, w1.capitalized + w2))
        }
        for d in WorldVocabulary.freeMail + WorldVocabulary.disposable { domains[d] = .mx(mxRecords(d)) }
    }

    private mutating func behaviour(_ kind: String, _ domain: String) -> DNSBehaviour {
        switch kind {
        case "a_only":
            let ip = nextIP()
            hosts[domain] = [ip]
            return .aOnly(ip)
        case "null_mx": return .nullMX
        case "nxdomain": return .nxdomain
        case "servfail": return .servfail
        case "timeout": return .timeout
        case "truncated": return .truncated(mxRecords(domain, count: 24, longNames: true))
        case "slow": return .slow(milliseconds: 1500, mx: mxRecords(domain))
        default: return .mx(mxRecords(domain))
        }
    }

    /// The `dns` label and deliverability of a domain's behaviour.
    static func dnsFacts(_ b: DNSBehaviour?) -> (String, Bool) {
        switch b {
        case .mx: return ("mx", true)
        case .aOnly: return ("a_only", true)
        case .nullMX: return ("null_mx", false)
        case .nxdomain: return ("nxdomain", false)
        case .servfail: return ("servfail", false)
        case .timeout: return ("timeout", false)
        case .truncated: return ("truncated", true)
        case .slow: return ("slow", true)
        case nil: return ("none", false)
        }
    }

    mutating func registerEmail(_ address: String, linkedLogin: String?) {
        let lower = address.lowercased()
        let at = lower.lastIndex(of: "@")!
        let local = String(lower[..<at])
        let domain = String(lower[lower.index(after: at)...])
        let noreply = domain == "users.noreply.github.com"
        let (dns, reachable) = Self.dnsFacts(domains[domain])
        let disposable = WorldVocabulary.disposable.contains(domain)
        emailFacts[lower] = EmailFacts(
            address: lower, domain: domain, dns: dns, deliverable: reachable && !noreply,
            // "support547" is support's address too (a number added to make it unique).
            role: WorldVocabulary.roleLocalParts.contains(String(local.reversed().drop(while: \.isNumber).reversed())),
            disposable: disposable, free: WorldVocabulary.freeMail.contains(domain), noreply: noreply, linkedLogin: linkedLogin)
        usedEmails.insert(lower)
    }

    // MARK: People

    static func ascii(_ s: String) -> String {
        s.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: nil)
            .replacingOccurrences(of: "ł", with: "l").replacingOccurrences(of: "ø", with: "o")
            .filter { $0.isASCII && ($0.isLetter || $0.isNumber) }
    }

    mutating func uniqueLogin(_ base: String, _ rng: inout SeededRandom) -> String {
        var login = base
        while usedLogins.contains(login.lowercased()) { login = "\(base)\(rng.int(1...9999))" }
        usedLogins.insert(login.lowercased())
        return login
    }

    mutating func uniqueEmail(_ local: String, _ domain: String, _ rng: inout SeededRandom) -> String {
        var address = "\(local)@\(domain)"
        while usedEmails.contains(address.lowercased()) { address = "\(local)\(rng.int(1...999))@\(domain)" }
        usedEmails.insert(address.lowercased())
        return address
    }

    private mutating func makeHumans() {
        var rng = SeededRandom(seed: config.seed, stream: "users")
        let start = WorldTime.parse("2008-04-10")!
        let span = config.now - 45 * 86400 - start
        var id = 1_000
        for i in 0..<config.userCount {
            id += rng.int(1...(40_000_000 / max(config.userCount, 1) + 1))
            let created = start + span * Int64(i) / Int64(max(config.userCount, 1)) + Int64(rng.int(0...86_000))
            let first = rng.pick(WorldVocabulary.firstNames)
            let last = rng.pick(WorldVocabulary.lastNames)
            let f = Self.ascii(first)
            let l = Self.ascii(last)
            let styles = ["\(f)\(l)", "\(f.prefix(1))\(l)", "\(f)-\(l)", "\(l)\(f.prefix(1))", "\(f)\(rng.int(1...99))", "\(f)dev"]
            var login = uniqueLogin(rng.pick(styles), &rng)
            var previous: String?
            if created < Self.noreplyIDFormSince, rng.chance(0.06) {
                previous = login
                login = uniqueLogin("\(f)-\(rng.pick(["codes", "builds", "hacks", "io"]))", &rng)
            }
            let employer: (domain: String, company: String)? = rng.chance(0.62) ? rng.pick(corporate) : nil
            var commitEmails: [String] = []
            var linked: [String] = []
            if let employer, rng.chance(0.8) {
                let local = rng.chance(0.15) ? rng.pick(WorldVocabulary.roleLocalParts) : rng.pick(["\(f).\(l)", f, "\(f.prefix(1))\(l)"])
                let e = uniqueEmail(local, employer.domain, &rng)
                commitEmails.append(e)
                linked.append(e)
            }
            if rng.chance(0.45) {
                let e = uniqueEmail(rng.pick(["\(f)\(l)", "\(f).\(l)", "\(l)\(f)"]), rng.pick(WorldVocabulary.freeMail), &rng)
                commitEmails.append(e)
                linked.append(e)
            }
            if rng.chance(0.04) {
                let e = uniqueEmail("\(f)\(rng.int(100...999))", rng.pick(WorldVocabulary.disposable), &rng)
                commitEmails.append(e)
                linked.append(e)
            }
            let noreply =
                created >= Self.noreplyIDFormSince ? "\(id)+\(login)@users.noreply.github.com" : "\(login)@users.noreply.github.com"
            if commitEmails.isEmpty || rng.chance(0.3) {
                commitEmails.append(noreply)
                linked.append(noreply)
            }
            if let previous {  // the bare form named the old login: commits with it are no longer linked
                commitEmails.append("\(previous)@users.noreply.github.com")
            }
            var publicEmail: String?
            if rng.chance(0.3) {
                let candidates = linked.filter { !$0.hasSuffix("@users.noreply.github.com") }
                publicEmail = candidates.isEmpty ? nil : rng.pick(candidates)
            }
            for e in linked { registerEmail(e, linkedLogin: login) }
            if let previous { registerEmail("\(previous)@users.noreply.github.com", linkedLogin: nil) }
            let hostile = rng.chance(0.12)
            let companyField: String? = employer.flatMap { e in
                rng.chance(0.75) ? rng.pick(["@\(e.company.lowercased())", e.company, "\(e.company) Inc."]) : nil
            }
            users.append(
                WorldUser(
                    id: id, login: login, previousLogin: previous, type: .user,
                    name: rng.chance(0.85) ? "\(first) \(last)" : nil, company: companyField,
                    blog: rng.chance(0.4) ? "https://\(login.lowercased()).dev" : "",
                    location: rng.chance(0.7) ? rng.pick(WorldVocabulary.locations) : nil, publicEmail: publicEmail,
                    hireable: rng.chance(0.25) ? true : nil,
                    bio: hostile ? rng.pick(WorldVocabulary.hostileBios) : rng.chance(0.6) ? rng.pick(WorldVocabulary.bios) : nil,
                    twitter: rng.chance(0.3) ? "\(f.lowercased())\(l.lowercased())" : nil,
                    followers: Int(Double(rng.int(0...20)) / pow(max(rng.unit(), 0.001), 0.9)), following: rng.int(0...300),
                    publicRepos: rng.int(1...120), publicGists: rng.int(0...30), createdAt: created,
                    updatedAt: config.now - Int64(rng.int(0...400)) * 86400, linkedEmails: linked, commitEmails: commitEmails))
        }
    }
}
