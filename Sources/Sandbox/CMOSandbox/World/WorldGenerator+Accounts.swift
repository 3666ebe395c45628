import CMOBasics
/// People without accounts, bots, `web-flow` and organizations.
extension WorldGenerator {
    mutating func makeAnonymous() {
        var rng = SeededRandom(seed: config.seed, stream: "anonymous")
        for i in 0..<max(10, config.userCount / 4) {
            let first = rng.pick(WorldVocabulary.firstNames)
            let last = rng.pick(WorldVocabulary.lastNames)
            let f = Self.ascii(first)
            let l = Self.ascii(last)
            let u = rng.unit()
            // The first eight use the eight DNS behaviours (see makeDomains), so every world has them all.
            // and the next two a disposable and a free-mail domain; the second is a role account.
            let domain =
                i < 8
                ? corporate[i].domain
                : i == 8
                    ? rng.pick(WorldVocabulary.disposable)
                    : i == 9
                        ? rng.pick(WorldVocabulary.freeMail)
                        : u < 0.55
                            ? rng.pick(corporate).domain
                            : u < 0.85 ? rng.pick(WorldVocabulary.freeMail) : rng.pick(WorldVocabulary.disposable)
            let local = i == 1 || rng.chance(0.1) ? rng.pick(WorldVocabulary.roleLocalParts) : "\(f).\(l)"
            let e = uniqueEmail(local, domain, &rng)
            registerEmail(e, linkedLogin: nil)
            anonymous.append((rng.chance(0.9) ? "\(first) \(last)" : f, e))
        }
    }

    mutating func makeSpecialAccounts() {
        let botCreated = WorldTime.parse("2018-05-01")!
        for bot in Self.botSpecs {
            let e = "\(bot.id)+\(bot.login)@users.noreply.github.com"
            registerEmail(e, linkedLogin: bot.login)
            usedLogins.insert(bot.login)
            users.append(
                WorldUser(
                    id: bot.id, login: bot.login, type: .bot, name: nil, company: nil, blog: "", location: nil,
                    publicEmail: nil, hireable: nil, bio: nil, twitter: nil, followers: 0, following: 0, publicRepos: 0,
                    publicGists: 0, createdAt: botCreated, updatedAt: botCreated, linkedEmails: [e], commitEmails: [e]))
        }
        let webFlowCreated = WorldTime.parse("2016-05-04")!
        usedLogins.insert("web-flow")
        users.append(
            WorldUser(
                id: Self.webFlowID, login: "web-flow", type: .user, name: "GitHub Web Flow", company: nil, blog: "",
                location: nil, publicEmail: nil, hireable: nil, bio: nil, twitter: nil, followers: 0, following: 0,
                publicRepos: 0, publicGists: 0, createdAt: webFlowCreated, updatedAt: webFlowCreated,
                linkedEmails: ["noreply@github.com"], commitEmails: []))
        var rng = SeededRandom(seed: config.seed, stream: "orgs")
        var orgID = 60_000_000
        for _ in 0..<max(3, config.repoCount / 15) {
            orgID += rng.int(1...900_000)
            let employer = rng.pick(corporate)
            let login = uniqueLogin("\(employer.company.lowercased())-\(rng.pick(WorldVocabulary.orgSuffixes))", &rng)
            let created = config.now - Int64(rng.int(200...4000)) * 86400
            var orgEmail: String? = rng.chance(0.5) ? "hello@\(employer.domain)" : nil
            if let e = orgEmail {
                if usedEmails.contains(e) { orgEmail = nil } else { registerEmail(e, linkedLogin: nil) }
            }
            users.append(
                WorldUser(
                    id: orgID, login: login, type: .organization, name: employer.company, company: nil,
                    blog: "https://\(employer.domain)", location: rng.chance(0.5) ? rng.pick(WorldVocabulary.locations) : nil,
                    publicEmail: orgEmail, hireable: nil,
                    bio: rng.chance(0.5) ? "We build \(rng.pick(WorldVocabulary.genericTopics)) tools." : nil, twitter: nil,
                    followers: rng.int(0...5000), following: 0, publicRepos: 0, publicGists: 0, createdAt: created,
                    updatedAt: created, linkedEmails: [], commitEmails: []))
        }
    }
}
