import Foundation

extension WorldGenerator {
    /// Turns a repository into a large, popular, busy one (its own stream, so nothing else moves):
    /// 2,000–2,600 commits, 97 % of them in the last 85 days, from 110–180 people (every one of them
    /// with at least one commit; fewer when the world has fewer people), plus bots, merges made on
    /// github.com and people without an account. GraphQL history cursors and REST `Link` pages
    /// both get many pages, and contributors more than one.
    mutating func makeLarge(_ repo: inout WorldRepo, ordinal: Int, ownerIndex: Int, humans: [Int], bots: [Int]) {
        var rng = SeededRandom(seed: config.seed, stream: "large/\(repo.id)")
        repo.stars = 8_000 + rng.int(0...32_000)
        repo.forks = repo.stars / 8
        repo.openIssues = 150 + rng.int(0...400)
        repo.isFork = false
        repo.archived = false
        repo.pushedAt = config.now - Int64(rng.int(600...21_600))
        repo.updatedAt = repo.pushedAt
        repo.createdAt = min(repo.createdAt, config.now - 900 * 86400)
        let count = 2_000 + rng.int(0...600)
        var pool = humans.filter { $0 != ownerIndex }
        let people = min(pool.count, 110 + rng.int(0...70))
        for k in 0..<people {  // a partial shuffle picks the contributors
            pool.swapAt(k, k + rng.int(0...(pool.count - 1 - k)))
        }
        var authors: [(index: Int?, anonymous: Int?, weight: Double)] = []
        if users[ownerIndex].type == .user { authors.append((ownerIndex, nil, 12)) }
        for k in 0..<people { authors.append((pool[k], nil, 4 / pow(Double(k + 1), 0.8))) }
        for k in 0..<min(anonymous.count, 6) { authors.append((nil, (ordinal + k * 7) % anonymous.count, 0.3)) }
        for b in bots { authors.append((b, nil, 0.8)) }
        let total = authors.reduce(0) { $0 + $1.weight }
        var everyday = SeededRandom(seed: config.seed, stream: "large-titles/\(repo.id)")  // its own stream: nothing else moves
        let recent = config.now - 85 * 86400
        var commits: [WorldCommit] = []
        commits.reserveCapacity(count)
        for i in 0..<count {
            var chosen = authors[0]
            if i < authors.count {
                chosen = authors[i]  // everyone commits at least once
            } else {
                var pick = rng.unit() * total
                for a in authors {
                    pick -= a.weight
                    if pick < 0 {
                        chosen = a
                        break
                    }
                }
            }
            let date =
                i == 0
                ? repo.pushedAt
                : rng.chance(0.97)
                    ? recent + Int64(rng.unit() * Double(repo.pushedAt - recent))
                    : repo.createdAt + Int64(rng.unit() * Double(recent - repo.createdAt))
            var name: String
            var email: String
            var authorID: Int?
            var message = "\(rng.pick(WorldVocabulary.commitVerbs)) \(rng.pick(WorldVocabulary.commitObjects))"
            var webFlow = false
            if let idx = chosen.index {
                let user = users[idx]
                email = user.commitEmails[rng.chance(0.8) ? 0 : rng.int(0...(user.commitEmails.count - 1))]
                name = user.name ?? user.login
                authorID = user.linkedEmails.contains(email) ? user.id : nil
                if user.type == .bot {
                    message = "Bump \(rng.pick(WorldVocabulary.dependencies)) from 2.\(rng.int(0...9)).0 to 2.\(rng.int(10...19)).0"
                } else if rng.chance(0.12) {
                    message = "Merge pull request #\(rng.int(2000...9000)) from \(user.login)/patch-\(rng.int(1...99))\n\n\(message)"
                    webFlow = true
                } else if let title = Self.everydayTitle(&everyday, head: message, branchOwner: user.login) {
                    message = title
                }
            } else {
                (name, email) = anonymous[chosen.anonymous ?? 0]
                authorID = nil
            }
            commits.append(
                WorldCommit(
                    sha: Self.sha(&rng), parentSHA: nil, message: message, authorName: name, authorEmail: email, date: date,
                    authorID: authorID, committedByWebFlow: webFlow))
        }
        commits.sort { $0.date != $1.date ? $0.date > $1.date : $0.sha < $1.sha }
        for i in commits.indices.dropLast() { commits[i].parentSHA = commits[i + 1].sha }
        repo.commits = commits
    }

    /// A few commits whose REST `author` is `{}` (GitHub's "Empty Object"), not null: in every
    /// fifth repository and in the large ones, one or two commits by people without an account.
    func markEmptyAuthors(_ repo: inout WorldRepo, ordinal: Int, large: Bool) {
        guard ordinal % 5 == 2 || large else { return }
        var rng = SeededRandom(seed: config.seed, stream: "empty-author/\(repo.id)")
        let candidates = repo.commits.indices.filter { repo.commits[$0].authorID == nil && !repo.commits[$0].committedByWebFlow }
        guard !candidates.isEmpty else { return }
        for _ in 0..<(large ? 3 : 1 + rng.int(0...1)) { repo.commits[rng.pick(candidates)].authorEmptyObject = true }
    }
}
