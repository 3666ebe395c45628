import CMOBasics
import Foundation

extension WorldGenerator {
    /// Who wrote a commit: an account (index into `users`) with one of its commit emails, or an
    /// anonymous identity (index into `anonymous`).
    private enum Author {
        case account(Int)
        case anonymous(Int)
    }

    mutating func makeRepos() -> [WorldRepo] {
        var rng = SeededRandom(seed: config.seed, stream: "repos")
        let humans = users.indices.filter { users[$0].type == .user && users[$0].id != Self.webFlowID }
        let orgs = users.indices.filter { users[$0].type == .organization }
        let bots = users.indices.filter { users[$0].type == .bot }
        var names: Set<String> = []
        var repos: [WorldRepo] = []
        var repoID = 100_000_000
        let oldest = WorldTime.parse("2013-01-01")!
        let large = config.largeRepoOrdinals
        for _ in 0..<config.repoCount {
            repoID += rng.int(1...2_000_000)
            // Owners follow a power law too: a few accounts own many repositories.
            let ownerIndex =
                rng.chance(0.35) && !orgs.isEmpty
                ? orgs[Int(Double(orgs.count) * pow(rng.unit(), 2))]
                : humans[Int(Double(humans.count) * pow(rng.unit(), 1.6))]
            let owner = users[ownerIndex]
            let language = rng.pick(WorldVocabulary.languages)
            var base = "\(rng.pick(WorldVocabulary.repoPrefixes))-\(rng.pick(WorldVocabulary.repoNouns))"
            if rng.chance(0.3) { base = rng.pick(WorldVocabulary.repoNouns) + rng.pick(WorldVocabulary.repoNouns) }
            var name = base
            while names.contains("\(owner.login)/\(name)".lowercased()) { name = "\(base)-\(rng.int(2...99))" }
            names.insert("\(owner.login)/\(name)".lowercased())
            var topics = Set<String>()
            let langTopics = language.flatMap { WorldVocabulary.topicsByLanguage[$0] } ?? []
            for _ in 0..<rng.int(0...5) {
                topics.insert(rng.chance(0.5) && !langTopics.isEmpty ? rng.pick(langTopics) : rng.pick(WorldVocabulary.genericTopics))
            }
            // Pareto stars (alpha ~1.1): median ~14, 1% above ~900, a few in the tens of thousands.
            let stars = min(250_000, Int(15.0 / pow(max(rng.unit(), 1e-6), 0.9)) - 15 + rng.int(0...3))
            let created = max(oldest, owner.createdAt) + Int64(rng.unit() * Double(config.now - 20 * 86400 - max(oldest, owner.createdAt)))
            let u = rng.unit()
            let sinceCreated = Double(config.now - created)
            let pushed: Int64 =
                u < 0.55
                ? config.now - Int64(rng.unit() * min(60 * 86400, sinceCreated))
                : u < 0.8 ? config.now - Int64(rng.unit() * min(365 * 86400, sinceCreated)) : created + Int64(rng.unit() * sinceCreated)
            let description: String? =
                rng.chance(0.88)
                ? "A \(rng.pick(["fast", "small", "friendly", "typed", "zero-dependency"])) \(name.replacingOccurrences(of: "-", with: " ")) for \(language ?? "everyone")\(topics.isEmpty ? "" : ": " + topics.sorted().joined(separator: ", "))."
                : nil
            var repo = WorldRepo(
                id: repoID, ownerID: owner.id, ownerLogin: owner.login, name: name, description: description,
                readme:
                    "# \(name)\n\n\(description ?? "")\nInstall with your package manager. Supports \(rng.pick(WorldVocabulary.genericTopics)).",
                language: language, topics: topics.sorted(), stars: stars,
                forks: Int(Double(stars) * (0.03 + 0.2 * rng.unit())), openIssues: Int(Double(stars).squareRoot() * rng.unit()),
                isFork: rng.chance(0.08), archived: rng.chance(0.06), createdAt: created, pushedAt: pushed,
                updatedAt: min(config.now, max(pushed, created + Int64(rng.unit() * Double(config.now - created)))),
                license: rng.pick(WorldVocabulary.licenses), homepage: rng.chance(0.3) ? "https://\(name).dev" : nil, commits: [])
            if repos.count % 50 == 7 {  // every 50th repository is empty (no commits yet)
                repo.pushedAt = repo.createdAt
                repo.updatedAt = repo.createdAt
                _ = rng.next()
            } else if large.contains(repos.count) {
                makeLarge(&repo, ordinal: repos.count, ownerIndex: ownerIndex, humans: humans, bots: bots)
                _ = rng.next()  // the same draws as makeCommits, so the repositories after it do not change
            } else {
                repo.commits = makeCommits(for: repo, ordinal: repos.count, ownerIndex: ownerIndex, humans: humans, bots: bots, rng: &rng)
            }
            markEmptyAuthors(&repo, ordinal: repos.count, large: large.contains(repos.count))
            repos.append(repo)
        }
        return repos
    }

    private func makeCommits(
        for repo: WorldRepo, ordinal: Int, ownerIndex: Int, humans: [Int], bots: [Int], rng outer: inout SeededRandom
    ) -> [WorldCommit] {
        var rng = SeededRandom(seed: config.seed, stream: "commits/\(repo.id)")
        // Everyday titles (merges, reverts, bumps, README fixes, "wip") come from a stream of their own,
        // so the authors, dates and counts drawn from `rng` are what they were without them.
        var everyday = SeededRandom(seed: config.seed, stream: "titles/\(repo.id)")
        _ = outer.next()
        let count = min(250, 3 + rng.int(0...15) + Int(6 * log2(Double(repo.stars) + 1)))
        var authors: [(Author, weight: Double, start: Int64, end: Int64)] = []
        let life = repo.pushedAt - repo.createdAt
        func window(_ rng: inout SeededRandom) -> (Int64, Int64) {
            let a = repo.createdAt + Int64(rng.unit() * Double(life))
            let b = a + Int64(rng.unit() * Double(repo.pushedAt - a))
            return (a, max(a, b))
        }
        if users[ownerIndex].type == .user { authors.append((.account(ownerIndex), 6, repo.createdAt, repo.pushedAt)) }
        for k in 0..<min(humans.count, 1 + Int(1 / pow(max(rng.unit(), 0.02), 0.8))) {
            let w = window(&rng)
            authors.append((.account(humans[Int(Double(humans.count) * pow(rng.unit(), 1.3))]), 3 / Double(k + 1), w.0, w.1))
        }
        let forcedAnonymous = authors.count
        if !anonymous.isEmpty {  // repository n always has anonymous identity n, so each one commits somewhere
            let w = window(&rng)
            authors.append((.anonymous(ordinal % anonymous.count), 0.8, w.0, w.1))
            for _ in 0..<rng.int(0...2) {
                let w = window(&rng)
                authors.append((.anonymous(rng.int(0...(anonymous.count - 1))), 0.8, w.0, w.1))
            }
        }
        if rng.chance(0.4), !bots.isEmpty { authors.append((.account(rng.pick(bots)), 0.7, repo.createdAt, repo.pushedAt)) }
        let total = authors.reduce(0) { $0 + $1.weight }
        var commits: [WorldCommit] = []
        for i in 0..<count {
            var pick = rng.unit() * total
            var chosen = authors[i == 1 && forcedAnonymous < authors.count ? forcedAnonymous : 0]
            for a in authors where !(i == 1 && forcedAnonymous < authors.count) {
                pick -= a.weight
                if pick < 0 {
                    chosen = a
                    break
                }
            }
            let date = i == 0 ? repo.pushedAt : chosen.start + Int64(rng.unit() * Double(chosen.end - chosen.start))
            let name: String
            let email: String
            let authorID: Int?
            let message: String
            var webFlow = false
            switch chosen.0 {
            case .account(let idx):
                let user = users[idx]
                email = user.commitEmails[rng.chance(0.75) ? 0 : rng.int(0...(user.commitEmails.count - 1))]
                name = user.name ?? user.login
                authorID = user.linkedEmails.contains(email) ? user.id : nil
                if user.type == .bot {
                    message =
                        user.login.hasPrefix("dependabot")
                        ? "Bump \(rng.pick(WorldVocabulary.dependencies)) from 1.\(rng.int(0...9)).\(rng.int(0...9)) to 1.\(rng.int(10...19)).0"
                        : "chore: \(rng.pick(["update generated files", "release v\(rng.int(0...3)).\(rng.int(0...20)).0", "update lockfile"]))"
                } else if rng.chance(0.1) {
                    message =
                        "Merge pull request #\(rng.int(1...2000)) from \(user.login)/\(rng.pick(["fix", "feature", "patch"]))-\(rng.int(1...99))\n\n\(rng.pick(WorldVocabulary.commitVerbs)) \(rng.pick(WorldVocabulary.commitObjects))"
                    webFlow = true
                } else {
                    message = humanMessage(&rng, &everyday, branchOwner: user.login)
                }
            case .anonymous(let idx):
                (name, email) = anonymous[idx]
                authorID = nil
                message = humanMessage(&rng, &everyday, branchOwner: repo.fullName.split(separator: "/").first.map(String.init) ?? "main")
            }
            commits.append(
                WorldCommit(
                    sha: Self.sha(&rng), parentSHA: nil, message: message, authorName: name, authorEmail: email,
                    date: date, authorID: authorID, committedByWebFlow: webFlow))
        }
        commits.sort { $0.date != $1.date ? $0.date > $1.date : $0.sha < $1.sha }
        for i in commits.indices.dropLast() { commits[i].parentSHA = commits[i + 1].sha }
        return commits
    }

    private func humanMessage(_ rng: inout SeededRandom, _ everyday: inout SeededRandom, branchOwner: String) -> String {
        let head = "\(rng.pick(WorldVocabulary.commitVerbs)) \(rng.pick(WorldVocabulary.commitObjects))"
        let message = rng.chance(0.2) ? "\(head)\n\nCloses #\(rng.int(1...900)). Signed-off-by is not required here." : head
        return Self.everydayTitle(&everyday, head: head, branchOwner: branchOwner) ?? message
    }

    /// About one human commit in eight is one nobody would quote as the person's work, as on GitHub:
    /// a local merge, a revert, a version bump or release, a dependency bump by hand, a README or typo
    /// fix, a file saved from the web editor, "wip" or ".". Nil for the others.
    static func everydayTitle(_ r: inout SeededRandom, head: String, branchOwner: String) -> String? {
        guard r.chance(0.12) else { return nil }
        let version = "\(r.int(0...3)).\(r.int(0...20)).\(r.int(0...9))"
        switch r.int(0...11) {
        case 0: return "Merge branch 'main' into \(r.pick(["fix", "feature", "dev"]))-\(r.int(1...99))"
        case 1: return "Merge branch 'main' of github.com:\(branchOwner)/\(r.pick(WorldVocabulary.repoNouns))"
        case 2: return "Revert \"\(head)\"\n\nThis reverts commit \(sha(&r))."
        case 3: return r.pick(["Bump version to \(version)", "v\(version)", "Release \(version)", "chore(release): \(version)"])
        case 4:
            return "Bump \(r.pick(WorldVocabulary.dependencies)) from 1.\(r.int(0...9)).0 to 1.\(r.int(10...19)).0"
        case 5: return r.pick(["Update README.md", "Update README", "README: fix install command"])
        case 6: return r.pick(["fix typo", "Fix typos", "Fix typo in docstring"])
        case 7: return "docs: \(r.pick(WorldVocabulary.commitObjects).lowercased())"
        case 8: return "Update \(r.pick(["setup.py", "main.py", "pyproject.toml", "config.yml", "Makefile"]))"
        case 9: return r.pick(["wip", "WIP", "."])
        case 10: return r.pick(["Fix", "Update", "minor fixes", "cleanup"])
        default: return "Merge pull request #\(r.int(1...2000)) from \(branchOwner)/\(r.pick(["fix", "feature", "patch"]))-\(r.int(1...99))"
        }
    }

    static func sha(_ rng: inout SeededRandom) -> String {
        let hex = Array("0123456789abcdef")
        var s = ""
        s.reserveCapacity(40)
        for _ in 0..<5 {
            var v = rng.next()
            for _ in 0..<8 {
                s.append(hex[Int(v & 0xf)])
                v >>= 4
            }
        }
        return s
    }
}
