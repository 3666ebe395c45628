import CMOBasics
/// The root query and the account, repository and commit objects.
extension GitHubGraphQLResolvers {
    func notFound(_ message: String) -> GraphQLFieldError { GraphQLFieldError(message: message, type: "NOT_FOUND") }

    func query(_ field: String, _ args: [String: Any]) throws(GraphQLFieldError) -> GraphQLResolved {
        switch field {
        case "user", "organization", "repositoryOwner":
            let login = args["login"] as? String ?? ""
            let want: Set<AccountType> = field == "user" ? [.user] : field == "organization" ? [.organization] : [.user, .organization]
            guard let u = world.user(login: login), want.contains(u.type) else {
                let kind = field == "organization" ? "Organization" : field == "user" ? "User" : "RepositoryOwner"
                throw notFound("Could not resolve to a\(kind == "Organization" ? "n" : "") \(kind) with the login of '\(login)'.")
            }
            return .object(.account(u))
        case "viewer":
            return world.users.first { $0.type == .user && $0.id != WorldGenerator.webFlowID }.map { .object(.account($0)) } ?? .null
        case "repository":
            let owner = args["owner"] as? String ?? ""
            let name = args["name"] as? String ?? ""
            guard let r = world.repo(owner: owner, name: name) else {
                throw notFound("Could not resolve to a Repository with the name '\(owner)/\(name)'.")
            }
            return .object(.repository(r))
        case "node":
            guard let id = args["id"] as? String, let o = node(id) else {
                throw notFound("Could not resolve to a node with the global id of '\(args["id"] as? String ?? "")'")
            }
            return .object(o)
        case "nodes":
            let ids = args["ids"] as? [Any] ?? []
            if ids.count > 100 {
                throw GraphQLFieldError(
                    message: "You may not provide more than 100 node ids; you provided \(ids.count).", type: "ARGUMENT_LIMIT")
            }
            return .list(ids.map { ($0 as? String).flatMap(node) })
        case "rateLimit":
            return .object(.rateLimit(rateLimit))
        default:
            throw Self.undefined(field, "Query")
        }
    }

    /// Resolves a legacy node id (`base64("04:User123")`).
    func node(_ id: String) -> Object? {
        guard let (type, n) = NodeID.decode(id) else { return nil }
        switch type {
        case "User", "Organization", "Bot":
            guard let u = world.user(id: n), u.nodeID == id else { return nil }
            return .account(u)
        case "Repository": return world.repo(id: n).map { .repository($0) }
        case "Commit":
            guard let raw = Base64.decode(id).flatMap({ String(bytes: $0, encoding: .utf8) }), let sha = raw.split(separator: ":").last,
                let r = world.repo(id: n), let i = r.commits.firstIndex(where: { $0.sha == sha })
            else { return nil }
            return .commit(r, i)
        default: return nil
        }
    }

    func account(_ u: WorldUser, _ field: String, _ args: [String: Any]) throws(GraphQLFieldError) -> GraphQLResolved {
        let type = GitHubGraphQLObject.account(u).typeName
        switch field {
        case "id": return .leaf(u.nodeID)
        case "databaseId": return .leaf(u.id)
        case "login": return .leaf(u.login)
        case "url", "resourcePath":
            let path = u.type == .bot ? "/apps/\(u.login.replacingOccurrences(of: "[bot]", with: ""))" : "/\(u.login)"
            return .leaf(field == "url" ? "https://github.com\(path)" : path)
        case "avatarUrl": return .leaf("https://avatars.githubusercontent.com/u/\(u.id)?v=4")
        case "createdAt": return Self.time(u.createdAt)
        case "updatedAt": return Self.time(u.updatedAt)
        default: break
        }
        guard u.type != .bot else { throw Self.undefined(field, type) }
        switch field {
        case "name": return Self.string(u.name)
        case "email":
            if let e = u.publicEmail { return .leaf(e) }
            return u.type == .user && !options.graphqlHiddenEmailNull ? .leaf("") : .null
        case "location": return Self.string(u.location)
        case "websiteUrl": return Self.string(u.blog.isEmpty ? nil : u.blog)
        case "twitterUsername": return Self.string(u.twitter)
        case "repositories":
            var owned = world.repos(ownedBy: u.id)
            if args["isFork"] as? Bool == false { owned = owned.filter { !$0.isFork } }
            owned.sort { $0.pushedAt != $1.pushedAt ? $0.pushedAt > $1.pushedAt : $0.id < $1.id }
            let (range, page, _) = Self.window(count: owned.count, args: args, cursorPrefix: "repositories")
            // totalCount matches REST `public_repos`; only the world's own repositories are listed as nodes.
            let total = args["isFork"] == nil ? max(u.publicRepos, owned.count) : owned.count
            return .object(.repositories(Array(owned[range]), total: total, page: page))
        default: break
        }
        if u.type == .organization {
            switch field {
            case "description": return Self.string(u.bio)
            case "membersWithRole": return .object(.count("OrganizationMemberConnection", 0))
            default: throw Self.undefined(field, type)
            }
        }
        switch field {
        case "company": return Self.string(u.company)
        case "bio": return Self.string(u.bio)
        case "isHireable": return .leaf(u.hireable ?? false)
        case "isSiteAdmin", "isEmployee", "isBountyHunter", "isCampusExpert", "isDeveloperProgramMember", "isGitHubStar":
            return .leaf(false)
        case "followers": return .object(.count("FollowerConnection", u.followers))
        case "following": return .object(.count("FollowingConnection", u.following))
        case "gists": return .object(.count("GistConnection", u.publicGists))
        default: throw Self.undefined(field, type)
        }
    }

    func repository(_ r: WorldRepo, _ field: String, _ args: [String: Any]) throws(GraphQLFieldError) -> GraphQLResolved {
        switch field {
        case "id": return .leaf(r.nodeID)
        case "databaseId": return .leaf(r.id)
        case "name": return .leaf(r.name)
        case "nameWithOwner": return .leaf(r.fullName)
        case "owner": return world.user(id: r.ownerID).map { .object(.account($0)) } ?? .null
        case "description": return Self.string(r.description)
        case "url": return .leaf("https://github.com/\(r.fullName)")
        case "homepageUrl": return Self.string(r.homepage)
        case "stargazerCount": return .leaf(r.stars)
        case "forkCount": return .leaf(r.forks)
        case "isFork": return .leaf(r.isFork)
        case "isArchived": return .leaf(r.archived)
        case "isPrivate", "isDisabled", "isTemplate", "isEmpty", "isLocked", "isMirror":
            return .leaf(field == "isEmpty" ? r.commits.isEmpty : false)
        case "visibility": return .leaf("PUBLIC")
        case "primaryLanguage": return r.language.map { .object(.language($0)) } ?? .null
        case "createdAt": return Self.time(r.createdAt)
        case "pushedAt": return Self.time(r.pushedAt)
        case "updatedAt": return Self.time(r.updatedAt)
        case "defaultBranchRef": return r.commits.isEmpty ? .null : .object(.ref(r))
        case "repositoryTopics": return .object(.topics(r))
        case "stargazers": return .object(.count("StargazerConnection", r.stars))
        case "watchers": return .object(.count("UserConnection", r.stars / 20))
        case "forks": return .object(.count("RepositoryConnection", r.forks))
        default: throw Self.undefined(field, "Repository")
        }
    }

    func commit(_ r: WorldRepo, _ i: Int, _ field: String, _ args: [String: Any]) throws(GraphQLFieldError) -> GraphQLResolved {
        let c = r.commits[i]
        switch field {
        case "id": return .leaf(NodeID.encode("06:Commit\(r.id):\(c.sha)"))
        case "oid": return .leaf(c.sha)
        case "abbreviatedOid": return .leaf(String(c.sha.prefix(7)))
        case "message": return .leaf(c.message)
        case "messageHeadline": return .leaf(String(c.message.split(separator: "\n", omittingEmptySubsequences: false).first ?? ""))
        case "messageBody":
            let parts = c.message.components(separatedBy: "\n\n")
            return .leaf(parts.dropFirst().joined(separator: "\n\n"))
        case "committedDate", "authoredDate": return Self.time(c.date)
        case "url", "commitUrl": return .leaf("https://github.com/\(r.fullName)/commit/\(c.sha)")
        case "author": return .object(.gitActor(r, i, committer: false))
        case "committer": return .object(.gitActor(r, i, committer: true))
        case "authoredByCommitter": return .leaf(!c.committedByWebFlow)
        case "history":
            let since = (args["since"] as? String).flatMap(WorldTime.parse)
            let until = (args["until"] as? String).flatMap(WorldTime.parse)
            let author = args["author"] as? [String: Any]
            let authorID = (author?["id"] as? String).flatMap(NodeID.decode)?.id
            let emails = Set((author?["emails"] as? [Any] ?? []).compactMap { ($0 as? String)?.lowercased() })
            let matching = (i..<r.commits.count).filter { k in
                let c = r.commits[k]
                if let since, c.date < since { return false }
                if let until, c.date > until { return false }
                if author?["id"] != nil, c.authorID != authorID { return false }
                if !emails.isEmpty, !emails.contains(c.authorEmail.lowercased()) { return false }
                return true
            }
            let (range, page, _) = Self.window(count: matching.count, args: args, cursorPrefix: c.sha)
            return .object(.history(r, Array(matching[range]), total: matching.count, page: page))
        default: throw Self.undefined(field, "Commit")
        }
    }
}
