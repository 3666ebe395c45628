import ArgumentParser
import CMOBasics
import CMOStageKit
import CMODNS
import CMOEmail
import Foundation

@main
struct MXCheck: Stage {
    static let stageName = "mx-check"
    static let configuration = CommandConfiguration(
        commandName: stageName,
        abstract: "Check every email a record carries over DNS, and pick the best one.",
        discussion: """
            INPUT
              Any records with 'emails' (a list of {address, source, evidence, last_seen}, or of plain \
            strings) or a plain 'email' string. A record with an empty 'emails' list (a person found \
            without an address) passes with no checks, or is filtered as no_email by --drop-invalid and \
            --min-verdict. A record with neither field is dead-lettered (missing_field); a line that is not \
            a JSON object is dead-lettered with its line number.

            OUTPUT
              Each record, in input order, every field kept, plus 'email_checks': one {address, verdict, \
            reasons, flags {role, disposable, free, noreply}, mx} per distinct address, and 'best_email' \
            (null when every address is invalid, or when the only deliverable ones are role, disposable or \
            no-reply addresses: those are never best_email without --allow-role). Verdicts: invalid (bad syntax, no-reply address, NXDOMAIN, \
            null MX 'MX 0 .', neither MX nor A/AAAA); unknown (SERVFAIL, REFUSED, timeout: DNS could not \
            tell, never invalid); risky (role account, disposable domain, MX hosts that do not resolve); \
            safe otherwise. No MX but an A/AAAA record counts as an implicit MX (RFC 5321 5.1). best_email: \
            better verdict first, then source profile before commit (--prefer-sources), a company domain \
            before free-mail, the most recent last_seen. --drop-invalid drops records without any \
            non-invalid address; --min-verdict drops records whose best verdict is worse; both drop records \
            left with only role addresses (role_only); all are counted as filtered, by reason. A resolver \
            that never answers (or times out on over a fifth of what it is asked) is named in a warning with \
            the counts.

            SIDE EFFECTS
              DNS queries over UDP (TCP when truncated): one MX query per distinct domain per run, then \
            A/AAAA for domains without MX and for MX exchanges; the queries of --chunk-size records go out \
            together. Answers are kept in $CMO_STATE_DIR/dns.sqlite (SQLite, WAL; safe for runs side by side) \
            for their TTL (at most a day; NXDOMAIN and NODATA for the SOA's negative TTL, at most 3 hours; \
            SERVFAIL, REFUSED and timeouts never), so a re-run asks only for what went stale; the summary \
            counts dns_cache_hits. --no-cache neither reads nor writes that file. Nothing else is written.

            ENVIRONMENT
              CMO_DNS_SERVER (host:port; else the servers of /etc/resolv.conf), CMO_STATE_DIR (else \
            $XDG_STATE_HOME/cmo, else ~/.local/state/cmo), CMO_LOG_FORMAT, \
            CMO_DEAD_LETTER, CMO_MAX_ERRORS, NO_COLOR.

            EXIT STATUS
              0 all input accounted for (or the reader downstream closed the pipe), 1 internal error or \
            too many dead letters, 64 bad flags, 65 input is not NDJSON or no record has an email, 74 stdout or the DNS cache \
            cannot be written (disk full), 78 bad \
            config or a state directory (DNS cache) that cannot be used.

            EXAMPLES
              Verify a people file, keeping only leads with a safe or risky personal address:
                mx-check --min-verdict risky < people.ndjson > verified.ndjson
              Ask a given resolver, and see what each domain got:
                mx-check --dns-server 127.0.0.1:5353 --no-cache < people.ndjson | jq -c '.email_checks[]'
              Write to shared inboxes too (support@, hello@):
                mx-check --allow-role --drop-invalid < companies.ndjson
            """,
        version: CMOVersion.string
    )

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("DNS server to ask, host:port (default: CMO_DNS_SERVER, else /etc/resolv.conf).", valueName: "host:port"))
    var dnsServer: String?

    @Option(help: ArgumentHelp("Seconds to wait for each DNS reply (default 2).", valueName: "seconds"))
    var dnsTimeout: Double?

    @Option(help: ArgumentHelp("Tries per DNS query (default 2).", valueName: "n"))
    var dnsAttempts: Int?

    @Flag(help: "Drop records with no address that could be delivered (counted as filtered).")
    var dropInvalid = false

    @Option(help: ArgumentHelp("Drop records whose best verdict is worse than this: safe, risky or unknown.", valueName: "verdict"))
    var minVerdict: String?

    @Option(help: ArgumentHelp("Preferred sources for best_email, best first (default profile,commit).", valueName: "list"))
    var preferSources: String?

    @Flag(
        help:
            "Let a role (admin@, hello@), disposable or no-reply address be best_email (default: never; they stay in email_checks, flagged)."
    )
    var allowRole = false

    @Flag(help: "Do not check that MX exchanges resolve (fewer queries).")
    var noExchangeCheck = false

    @Option(
        help: ArgumentHelp(
            "Records whose domains are looked up together (default 5000: a DNS timeout stalls a whole chunk, so fewer, larger chunks).",
            valueName: "n"))
    var chunkSize: Int?

    @Flag(help: "Neither read nor write the DNS cache in CMO_STATE_DIR (every domain is asked).")
    var noCache = false

    struct Plan {
        var resolver: DNSResolver
        var serverName: String
        var dropInvalid: Bool
        var minVerdict: EmailVerdict?
        var policy: BestEmailPolicy
        var checkExchanges: Bool
        var chunkSize: Int
        var useCache: Bool
    }

    func validate() throws {
        if let dnsTimeout, !(dnsTimeout > 0) { throw ValidationError("'--dns-timeout' must be more than 0") }
        if let dnsAttempts, dnsAttempts < 1 { throw ValidationError("'--dns-attempts' must be 1 or more") }
        if let chunkSize, chunkSize < 1 { throw ValidationError("'--chunk-size' must be 1 or more") }
        if let minVerdict, !["safe", "risky", "unknown"].contains(minVerdict) {
            throw ValidationError("'--min-verdict' must be safe, risky or unknown")
        }
    }

    func configure(_ settings: Settings) throws -> Plan {
        let server: String? = try settings.resolve("dns-server", flag: dnsServer, env: "CMO_DNS_SERVER")
        let conf = ResolvConf.load()
        let timeout = try settings.resolve("dns-timeout", flag: dnsTimeout, default: 2.0)
        let attempts = try settings.resolve("dns-attempts", flag: dnsAttempts, default: conf.attempts ?? 2)
        let resolver: DNSResolver
        if let server, !server.isEmpty {
            guard let r = DNSResolver(server: server, timeout: timeout, attempts: attempts) else {
                throw StageFailure(.usage, "'--dns-server \(server)' must be host:port")
            }
            resolver = r
        } else {
            var r = DNSResolver.system(conf)
            r.timeout = timeout
            r.attempts = max(1, attempts)
            resolver = r
        }
        let minText: String? = try settings.resolve("min-verdict", flag: minVerdict)
        var minimum: EmailVerdict?
        if let minText {
            guard let v = EmailVerdict(rawValue: minText), v != .invalid else {
                throw StageFailure(.config, "min-verdict must be safe, risky or unknown")
            }
            minimum = v
        }
        let sources: String = try settings.resolve("prefer-sources", flag: preferSources, default: "profile,commit")
        let allowRole = try settings.resolve("allow-role", flag: allowRole ? true : nil, default: false)
        return Plan(
            resolver: resolver, serverName: server.flatMap { $0.isEmpty ? nil : $0 } ?? "the system resolver (/etc/resolv.conf)",
            dropInvalid: try settings.resolve("drop-invalid", flag: dropInvalid ? true : nil, default: false),
            minVerdict: minimum,
            policy: BestEmailPolicy(
                sourceOrder: sources.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }, allowRole: allowRole),
            checkExchanges: !(try settings.resolve("no-exchange-check", flag: noExchangeCheck ? true : nil, default: false)),
            chunkSize: try settings.resolve("chunk-size", flag: chunkSize, default: 5000),
            useCache: !(try settings.resolve("no-cache", flag: noCache ? true : nil, default: false)))
    }

    func process(_ context: StageContext, plan: Plan) throws {
        let lookup = MailHostLookup(resolver: plan.resolver, cache: plan.useCache ? try DNSCache() : nil)
        lookup.checkExchanges = plan.checkExchanges
        var verdicts: [EmailVerdict: Int] = [:]
        var roleOnly = 0
        var flagged: [String: Int] = ["role": 0, "free": 0, "disposable": 0, "noreply": 0]
        var failedDomains: [String: (addresses: Int, reason: String)] = [:]
        func byType(_ table: [String: Int]) -> JSONValue {
            .object(table.sorted { $0.key < $1.key }.map { JSONMember($0.key, .int($0.value)) })
        }
        defer {
            if let problem = lookup.cacheError { context.logger.warning("DNS cache not used after an error: \(problem)") }
            warnAboutResolver(lookup, plan: plan, context: context)
            if roleOnly > 0 {
                context.logger.info(
                    "\(roleOnly) records had only role, disposable or no-reply addresses: best_email null (--allow-role to use them)")
            }
            context.extraSummary += [
                ("domains_looked_up", .int(lookup.domainsLookedUp)), ("dns_queries", .int(lookup.queriesSent)),
                ("dns_queries_by_type", byType(lookup.queries)),
                ("dns_cache", .string(plan.useCache ? (lookup.cacheError == nil ? "on" : "failed") : "off")),
                ("dns_cache_hits", .int(lookup.cacheHitCount)), ("dns_cache_hits_by_type", byType(lookup.cacheHits)),
                ("dns_cache_stored", .int(lookup.cacheStored)),
                ("verdicts", .object(EmailVerdict.allCases.map { JSONMember($0.rawValue, .int(verdicts[$0] ?? 0)) })),
                ("dns_timeouts", .int(lookup.queriesTimedOut)), ("role_only", .int(roleOnly)),
                ("addresses_checked", .int(verdicts.values.reduce(0, +))),
                ("address_flags", .object(flagged.keys.sorted().map { JSONMember($0, .int(flagged[$0]!)) })),
            ]
            // The domains whose DNS said no mail (or could not say), most addresses first: the report lists them.
            let worst = failedDomains.sorted { $0.value.addresses != $1.value.addresses ? $0.value.addresses > $1.value.addresses : $0.key < $1.key }.prefix(Self.failedDomainsShown)
            context.extraSummary += [
                ("failed_domains", .object(worst.map { JSONMember($0.key, .int($0.value.addresses)) })),
                ("failed_domain_reasons", .object(worst.map { JSONMember($0.key, .string($0.value.reason)) })),
            ]
        }
        let withAddresses = { (record: Record) -> (Record, [EmailInput])? in
            let inputs = EmailInput.from(record)
            // A person found without any address (`emails: []`) is data, not an error: it passes with
            // no checks, or is filtered as no_email. A record with neither field is the wrong input.
            guard !inputs.isEmpty || record["emails"] != nil || record["email"] != nil else {
                context.deadLetterMissing(record, field: "emails")
                return nil
            }
            return (record, inputs)
        }
        try context.forEachChunk(size: plan.chunkSize, prepare: withAddresses) { chunk in
            lookup.lookUp(chunk.flatMap { $0.1.compactMap { try? $0.parsed.get().domain } })
            for (record, inputs) in chunk {
                let candidates = inputs.map { input -> EmailCandidate in
                    let check: EmailCheck
                    switch input.parsed {
                    case .failure(let problem): check = .syntaxError(input.address, problem)
                    case .success(let a):
                        check = .judge(
                            address: input.address, parsed: a, flags: EmailFlags(a),
                            host: lookup.outcomes[a.domain] ?? .unknown("not_looked_up"))
                    }
                    verdicts[check.verdict, default: 0] += 1
                    for (flag, on) in [("role", check.flags.role), ("free", check.flags.free), ("disposable", check.flags.disposable), ("noreply", check.flags.noreply)] where on {
                        flagged[flag, default: 0] += 1
                    }
                    if let reason = check.reasons.first(where: { ["null_mx", "nxdomain", "no_mail_host", "mx_hosts_unresolvable"].contains($0) || $0.hasPrefix("dns_") }),
                        case .success(let a) = input.parsed
                    {
                        failedDomains[a.domain, default: (0, reason)].addresses += 1
                    }
                    return EmailCandidate(check: check, source: input.source, lastSeen: input.lastSeen)
                }
                let best = plan.policy.choose(candidates)
                // Deliverable, but only to a role, disposable or no-reply address: not a person to write to.
                let onlyRole = best == nil && candidates.contains { $0.check.verdict != .invalid }
                if onlyRole { roleOnly += 1 }
                if candidates.isEmpty, plan.dropInvalid || plan.minVerdict != nil {
                    context.filter(record, reason: "no_email")
                    continue
                }
                if onlyRole, plan.dropInvalid || plan.minVerdict != nil {
                    context.filter(record, reason: "role_only")
                    continue
                }
                if plan.dropInvalid, best == nil {
                    context.filter(record, reason: "invalid")
                    continue
                }
                if let minimum = plan.minVerdict, (best?.check.verdict ?? .invalid) > minimum {
                    context.filter(record, reason: "below_\(minimum.rawValue)")
                    continue
                }
                var out = record
                out.set("email_checks", .array(candidates.map(\.check.json)))
                out.set("best_email", best.map { .string($0.check.address) } ?? .null)
                try context.emit(out)
            }
        }
    }
}

extension MXCheck {
    /// Failing domains named in the summary.
    static let failedDomainsShown = 20

    /// A resolver that never answers, or mostly times out, is said on stderr with the counts: the
    /// verdicts are then "unknown", and a run of zeros must not look like a run of bad addresses.
    func warnAboutResolver(_ lookup: MailHostLookup, plan: Plan, context: StageContext) {
        let asked = lookup.queriesTimedOut + lookup.queriesAnswered
        guard asked > 0, lookup.queriesTimedOut > 0 else { return }
        if lookup.queriesAnswered == 0 {
            context.logger.warning(
                "DNS server \(plan.serverName) never answered: \(lookup.queriesTimedOut) of \(asked) queries timed out, so every "
                    + "domain is 'unknown' (check --dns-server / CMO_DNS_SERVER, or the network)")
        } else if lookup.queriesTimedOut >= 5, lookup.queriesTimedOut * 5 > asked + lookup.cacheHitCount {
            // Over a fifth of all answers needed (cached ones count: a warm run re-asks only what timed out).
            context.logger.warning(
                "DNS server \(plan.serverName): \(lookup.queriesTimedOut) of \(asked) queries timed out; those domains are 'unknown' "
                    + "(a slow or overloaded resolver? try --dns-timeout or another --dns-server)")
        }
    }
}

/// One address from a record, with its provenance, parsed.
struct EmailInput {
    var address: String
    var source: String?
    var lastSeen: String?
    var parsed: Result<EmailAddress, EmailAddress.Problem>

    /// The distinct addresses of `emails` (objects or strings), then `email`; case-insensitive.
    static func from(_ record: Record) -> [EmailInput] {
        var out: [EmailInput] = []
        var seen = Set<String>()
        func add(_ address: String, _ source: String?, _ lastSeen: String?) {
            let key = address.lowercased()
            guard !address.isEmpty, seen.insert(key).inserted else { return }
            out.append(EmailInput(address: address, source: source, lastSeen: lastSeen, parsed: Mailbox.check(address)))
        }
        for e in record["emails"]?.arrayValue ?? [] {
            if let s = e.stringValue {
                add(s, nil, nil)
            } else if let a = e["address"]?.stringValue {
                add(a, e["source"]?.stringValue, e["last_seen"]?.stringValue)
            }
        }
        if let e = record["email"]?.stringValue { add(e, nil, nil) }
        return out
    }
}
