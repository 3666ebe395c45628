import Foundation

extension World {
    /// The ground truth served at `GET /_sandbox/truth`: who committed where and when (per repository
    /// and author email: count and first/last commit date, in the commits endpoint's terms), which
    /// account each email links to, and which addresses are deliverable (with the DNS behaviour of
    /// their domain).
    public func truth() -> [String: Any] {
        var contributions: [[String: Any]] = []
        for repo in repos {
            var byEmail: [String: (name: String, login: String?, count: Int, first: Int64, last: Int64)] = [:]
            for c in repo.commits {
                let key = c.authorEmail.lowercased()
                let login = c.authorID.flatMap { user(id: $0)?.login }
                var entry = byEmail[key] ?? (c.authorName, login, 0, c.date, c.date)
                entry.count += 1
                entry.first = min(entry.first, c.date)
                entry.last = max(entry.last, c.date)
                byEmail[key] = entry
            }
            for (email, e) in byEmail.sorted(by: { $0.key < $1.key }) {
                contributions.append([
                    "repo": repo.fullName, "email": email, "name": e.name, "login": Self.jsonOptional(e.login),
                    "commits": e.count, "first_commit_at": WorldTime.format(e.first), "last_commit_at": WorldTime.format(e.last),
                ])
            }
        }
        var emailTable: [String: Any] = [:]
        for (address, f) in emails {
            emailTable[address] = [
                "domain": f.domain, "dns": f.dns, "deliverable": f.deliverable, "role": f.role,
                "disposable": f.disposable, "free": f.free, "noreply": f.noreply,
                "linked_login": Self.jsonOptional(f.linkedLogin),
            ]
        }
        var domainTable: [String: String] = [:]
        for (d, b) in zone.domains { domainTable[d] = WorldGenerator.dnsFacts(b).0 }
        let accounts: [[String: Any]] = users.map { u in
            [
                "login": u.login, "id": u.id, "type": u.type.rawValue, "public_email": Self.jsonOptional(u.publicEmail),
                "linked_emails": u.linkedEmails, "commit_emails": u.commitEmails,
                "previous_login": Self.jsonOptional(u.previousLogin),
            ]
        }
        let renamed = users.compactMap { u in u.previousLogin.map { ["login": u.login, "previous_login": $0, "id": u.id] as [String: Any] }
        }
        let large = config.largeRepoOrdinals
        return [
            "seed": config.seed, "now": WorldTime.format(config.now), "repos_total": repos.count, "users_total": users.count,
            "commits_total": repos.reduce(0) { $0 + $1.commits.count },
            "repositories": repos.enumerated().map { i, r -> [String: Any] in
                [
                    "full_name": r.fullName, "id": r.id, "commits": r.commits.count, "pushed_at": WorldTime.format(r.pushedAt),
                    "large": large.contains(i),
                    "empty_author_commits": r.commits.filter(\.authorEmptyObject).map(\.sha),
                ]
            },
            "contributions": contributions, "emails": emailTable, "domains": domainTable, "renamed_users": renamed, "accounts": accounts,
        ]
    }
}

extension World {
    /// A value for JSONSerialization: the value, or `NSNull` for nil.
    static func jsonOptional(_ v: Any?) -> Any { v ?? NSNull() }
}

extension World {
    /// What the world knows about a mailbox, for the services that send to it (Instantly's bounces): whether it
    /// takes mail and its domain's DNS verdict (`mx`, `nxdomain`, `null_mx`, `servfail`, …); nil when neither
    /// the address nor its domain is part of the world.
    public func mailboxVerdict(_ address: String) -> (deliverable: Bool, dns: String)? {
        let lower = address.lowercased()
        if let f = emails[lower] { return (f.deliverable, f.dns) }
        guard let at = lower.lastIndex(of: "@") else { return nil }
        let domain = String(lower[lower.index(after: at)...])
        guard let behaviour = zone.domains[domain] else { return nil }
        let (dns, reachable) = WorldGenerator.dnsFacts(behaviour)
        return (reachable, dns)
    }
}
