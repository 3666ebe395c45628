import CMOBasics
import Foundation

extension GitHubService {
    struct Route {
        var endpoint: String
        var resource: String
        var produce: (SandboxRequest) -> Reply
    }

    func restRoute(method: String, path: String) -> Route? {
        guard method == "GET" else { return nil }
        let p = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        switch p.count {
        case 1 where p[0] == "rate_limit":
            return Route(endpoint: "GET /rate_limit", resource: "core") { [self] in rateLimit(credential: authenticate($0) ?? "") }
        case 2 where p == ["search", "repositories"]:
            return Route(endpoint: "GET /search/repositories", resource: "search") { [self] in searchRepositories($0) }
        case 2 where p[0] == "users":
            return Route(endpoint: "GET /users/{username}", resource: "core") { [self] _ in getUser(p[1]) }
        case 4 where p[0] == "users" && p[2] == "events" && p[3] == "public":
            return Route(endpoint: "GET /users/{username}/events/public", resource: "core") { [self] in events(p[1], $0) }
        case 3 where p[0] == "repos":
            return Route(endpoint: "GET /repos/{owner}/{repo}", resource: "core") { [self] _ in getRepo(p[1], p[2]) }
        case 4 where p[0] == "repos" && p[3] == "commits":
            return Route(endpoint: "GET /repos/{owner}/{repo}/commits", resource: "core") { [self] in commits(p[1], p[2], $0) }
        case 4 where p[0] == "repos" && p[3] == "contributors":
            return Route(endpoint: "GET /repos/{owner}/{repo}/contributors", resource: "core") { [self] in contributors(p[1], p[2], $0) }
        default:
            return nil
        }
    }

    func notFound(_ docs: String) -> Reply { Reply(status: 404, body: GitHubJSON.error(404, "Not Found", docs: docs)) }

    func publicRepoCount(_ u: WorldUser) -> Int { max(u.publicRepos, world.repos(ownedBy: u.id).count) }

    func getUser(_ login: String) -> Reply {
        guard let u = world.user(login: login) else { return notFound("https://docs.github.com/rest/users/users#get-a-user") }
        return Reply(status: 200, body: GitHubJSON.user(u, publicRepos: publicRepoCount(u)), lastModified: u.updatedAt)
    }

    func getRepo(_ owner: String, _ name: String) -> Reply {
        guard let r = world.repo(owner: owner, name: name) else {
            return notFound("https://docs.github.com/rest/repos/repos#get-a-repository")
        }
        var body = GitHubJSON.repo(r, owner: world.user(id: r.ownerID))
        body["subscribers_count"] = r.stars / 20
        body["network_count"] = r.forks
        return Reply(status: 200, body: body, lastModified: max(r.updatedAt, r.pushedAt))
    }

    func rateLimit(credential: String) -> Reply {
        var resources: [String: Any] = [:]
        for resource in ["core", "search", "graphql"] {
            let s = limiter.state(credential: credential, resource: resource)
            resources[resource] = ["limit": s.limit, "used": s.used, "remaining": s.remaining, "reset": s.reset]
        }
        return Reply(status: 200, body: ["resources": resources, "rate": resources["core"]!])
    }

    func searchRepositories(_ request: SandboxRequest) -> Reply {
        let docs = "https://docs.github.com/rest/search/search#search-repositories"
        guard let q = request.queryValue("q"), !q.trimmingCharacters(in: .whitespaces).isEmpty else {
            return Reply(
                status: 422,
                body: [
                    "message": "Validation Failed", "errors": [["resource": "Search", "field": "q", "code": "missing"]],
                    "documentation_url": docs, "status": "422",
                ])
        }
        let query: GitHubSearchQuery
        do {
            query = try GitHubSearchQuery(q)
        } catch {
            let message: String
            switch error as? GitHubSearchQuery.ParseError {
            case .invalid(let what)?: message = "The search contains an invalid qualifier value: \(what)."
            case .tooLong?: message = "The search is longer than 256 characters."
            default: message = "The search contains more than five AND / OR / NOT operators."
            }
            return Reply(
                status: 422,
                body: [
                    "message": "Validation Failed",
                    "errors": [["message": message, "resource": "Search", "field": "q", "code": "invalid"]],
                    "documentation_url": docs, "status": "422",
                ])
        }
        let page = GitHubPage(request)
        if page.page * page.perPage > 1000 {
            return Reply(status: 422, body: GitHubJSON.error(422, "Only the first 1000 search results are available", docs: docs))
        }
        var hits = world.repos.filter { query.matches($0, ownerType: world.user(id: $0.ownerID)?.type) }
        let sort = request.queryValue("sort")
        let asc = request.queryValue("order") == "asc" && sort != nil
        func key(_ r: WorldRepo) -> Double {
            switch sort {
            case "stars": return Double(r.stars)
            case "forks": return Double(r.forks)
            case "help-wanted-issues": return Double(r.openIssues)
            case "updated": return Double(r.updatedAt)
            default: return query.score(r)
            }
        }
        hits.sort { a, b in
            let ka = key(a)
            let kb = key(b)
            if ka != kb { return asc ? ka < kb : ka > kb }
            return a.id < b.id
        }
        let reachable = min(hits.count, 1000 / page.perPage * page.perPage)
        let items = page.slice(Array(hits.prefix(reachable))).map { r -> [String: Any] in
            var o = GitHubJSON.repo(r, owner: world.user(id: r.ownerID))
            o["score"] = 1.0
            return o
        }
        // A query that "timed out" returns what it found so far (deterministic per query and page).
        let incomplete =
            options.searchIncompleteRate > 0
            && SeededRandom.draw(seed: world.config.seed, stream: "incomplete/\(q)", index: page.page) < options.searchIncompleteRate
        let served = incomplete ? Array(items.prefix(items.count / 2)) : items
        var reply = Reply(status: 200, body: ["total_count": hits.count, "incomplete_results": incomplete, "items": served])
        if let link = page.linkHeader(request, lastPage: page.pages(reachable)) { reply.headers.append(link) }
        return reply
    }

    func commits(_ owner: String, _ name: String, _ request: SandboxRequest) -> Reply {
        guard let repo = world.repo(owner: owner, name: name) else {
            return notFound("https://docs.github.com/rest/commits/commits#list-commits")
        }
        if repo.commits.isEmpty && options.emptyRepoConflict {
            return Reply(
                status: 409,
                body: GitHubJSON.error(409, "Git Repository is empty.", docs: "https://docs.github.com/rest/commits/commits#list-commits"))
        }
        var list = repo.commits[...]
        if let sha = request.queryValue("sha"), let i = list.firstIndex(where: { $0.sha.hasPrefix(sha.lowercased()) && sha.count >= 7 }) {
            list = list[i...]
        }
        let since = request.queryValue("since").flatMap(WorldTime.parse)
        let until = request.queryValue("until").flatMap(WorldTime.parse)
        var filtered = list.filter { c in (since.map { c.date >= $0 } ?? true) && (until.map { c.date <= $0 } ?? true) }
        if let author = request.queryValue("author"), !author.isEmpty {
            if author.contains("@") {
                filtered = filtered.filter { $0.authorEmail.lowercased() == author.lowercased() }
            } else {
                let id = world.user(login: author)?.id
                filtered = filtered.filter { $0.authorID != nil && $0.authorID == id }
            }
        }
        if let committer = request.queryValue("committer"), !committer.isEmpty {
            if committer.contains("@") {
                filtered = filtered.filter {
                    ($0.committedByWebFlow ? "noreply@github.com" : $0.authorEmail.lowercased()) == committer.lowercased()
                }
            } else {
                let id = world.user(login: committer)?.id
                filtered = filtered.filter { c in id != nil && (c.committedByWebFlow ? WorldGenerator.webFlowID : c.authorID) == id }
            }
        }
        let page = GitHubPage(request)
        let webFlow = world.user(id: WorldGenerator.webFlowID)
        let body = page.slice(filtered).map { c in
            GitHubJSON.commit(c, repo: repo, author: c.authorID.flatMap(world.user(id:)), webFlow: webFlow)
        }
        var reply = Reply(status: 200, body: body)
        if let link = page.linkHeader(request, lastPage: page.pages(filtered.count)) { reply.headers.append(link) }
        return reply
    }

    func contributors(_ owner: String, _ name: String, _ request: SandboxRequest) -> Reply {
        guard let repo = world.repo(owner: owner, name: name) else {
            return notFound("https://docs.github.com/rest/repos/repos#list-repository-contributors")
        }
        if repo.commits.isEmpty && options.emptyRepoConflict { return Reply(status: 204, body: NoContent()) }
        let anon = ["1", "true"].contains(request.queryValue("anon")?.lowercased() ?? "")
        var byUser: [Int: Int] = [:]
        var byEmail: [String: (name: String, count: Int)] = [:]
        for c in repo.commits {
            if let id = c.authorID {
                byUser[id, default: 0] += 1
            } else {
                byEmail[c.authorEmail.lowercased(), default: (c.authorName, 0)].count += 1
            }
        }
        var entries: [(count: Int, tie: String, body: [String: Any])] = byUser.compactMap { id, n in
            guard let u = world.user(id: id) else { return nil }
            var o = GitHubJSON.userSummary(u)
            o["contributions"] = n
            return (n, u.login.lowercased(), o)
        }
        if anon {
            entries += byEmail.map { email, e in
                (e.count, email, ["email": email, "name": e.name, "type": "Anonymous", "contributions": e.count] as [String: Any])
            }
        }
        entries.sort { $0.count != $1.count ? $0.count > $1.count : $0.tie < $1.tie }
        let page = GitHubPage(request)
        var reply = Reply(status: 200, body: page.slice(entries).map(\.body))
        if let link = page.linkHeader(request, lastPage: page.pages(entries.count)) { reply.headers.append(link) }
        return reply
    }

    /// The public timeline: only the last 30 days, at most 300 events; PushEvents carry no commits
    /// (github.com today: `repository_id`, `push_id`, `ref`, `head`, `before`).
    func events(_ login: String, _ request: SandboxRequest) -> Reply {
        guard let u = world.user(login: login) else {
            return notFound("https://docs.github.com/rest/activity/events#list-public-events-for-a-user")
        }
        let cutoff = world.config.now - 30 * 86400
        var pushes: [(date: Int64, repo: WorldRepo, head: WorldCommit, before: String)] = []
        for repo in world.repos {
            var byDay: [Int64: (head: WorldCommit, oldest: WorldCommit)] = [:]
            for c in repo.commits where c.date >= cutoff && c.authorID == u.id {
                let day = c.date / 86400
                if let e = byDay[day] {
                    byDay[day] = (c.date > e.head.date ? c : e.head, c.date < e.oldest.date ? c : e.oldest)
                } else {
                    byDay[day] = (c, c)
                }
            }
            for (_, e) in byDay {
                pushes.append((e.head.date, repo, e.head, e.oldest.parentSHA ?? String(repeating: "0", count: 40)))
            }
        }
        let actor: [String: Any] = [
            "id": u.id, "login": u.login, "display_login": u.login, "gravatar_id": "",
            "url": "\(GitHubJSON.api)/users/\(u.login)", "avatar_url": "https://avatars.githubusercontent.com/u/\(u.id)?",
        ]
        var all: [(date: Int64, id: String, event: [String: Any])] = pushes.map { p in
            let pushID = Int(strtoull(String(p.head.sha.prefix(9)), nil, 16) % 90_000_000_000) + 10_000_000_000
            var e: [String: Any] = [
                "id": "\(pushID * 3 + 1)", "type": "PushEvent", "actor": actor, "public": true,
                "repo": ["id": p.repo.id, "name": p.repo.fullName, "url": "\(GitHubJSON.api)/repos/\(p.repo.fullName)"],
                "payload": [
                    "repository_id": p.repo.id, "push_id": pushID, "ref": "refs/heads/main", "head": p.head.sha, "before": p.before,
                ],
                "created_at": WorldTime.format(p.date),
            ]
            if let owner = world.user(id: p.repo.ownerID), owner.type == .organization {
                e["org"] = [
                    "id": owner.id, "login": owner.login, "gravatar_id": "", "url": "\(GitHubJSON.api)/orgs/\(owner.login)",
                    "avatar_url": "https://avatars.githubusercontent.com/u/\(owner.id)?",
                ]
            }
            return (p.date, e["id"] as! String, e)
        }
        all += watchEvents(u, actor: actor, since: cutoff)
        all.sort { $0.date != $1.date ? $0.date > $1.date : $0.id > $1.id }
        let timeline = all.prefix(300).map(\.event)
        let page = GitHubPage(request)
        var reply = Reply(status: 200, body: Array(page.slice(timeline)), headers: [("x-poll-interval", "60")])
        if let link = page.linkHeader(request, lastPage: page.pages(timeline.count)) { reply.headers.append(link) }
        return reply
    }

    /// A few stars given in the last 30 days (`WatchEvent`, `action: started`), so timelines are not
    /// only pushes; drawn from the account's own stream.
    func watchEvents(_ u: WorldUser, actor: [String: Any], since cutoff: Int64) -> [(date: Int64, id: String, event: [String: Any])] {
        guard u.type == .user, !world.repos.isEmpty else { return [] }
        var rng = SeededRandom(seed: world.config.seed, stream: "watch/\(u.id)")
        return (0..<rng.int(0...3)).map { _ in
            let repo = world.repos[rng.int(0...(world.repos.count - 1))]
            let date = cutoff + Int64(rng.unit() * Double(world.config.now - cutoff))
            let id = "\(40_000_000_000 + Int(rng.next() % 9_000_000_000))"
            return (
                date, id,
                [
                    "id": id, "type": "WatchEvent", "actor": actor, "public": true, "payload": ["action": "started"],
                    "repo": ["id": repo.id, "name": repo.fullName, "url": "\(GitHubJSON.api)/repos/\(repo.fullName)"],
                    "created_at": WorldTime.format(date),
                ]
            )
        }
    }
}
