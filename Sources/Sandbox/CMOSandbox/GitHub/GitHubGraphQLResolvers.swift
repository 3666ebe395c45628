import CMOBasics
import Foundation

/// Field resolution for the GraphQL types the sandbox serves (a subset of github-schema.graphql).
struct GitHubGraphQLResolvers {
    let world: World
    let options: GitHubOptions
    let rateLimit: GitHubGraphQLObject.RateLimitInfo
    typealias Object = GitHubGraphQLObject

    /// A field of GitHub's schema that the sandbox does not serve (documents are validated against
    /// the whole schema first, so an unknown field never gets this far).
    static func undefined(_ field: String, _ type: String) -> GraphQLFieldError {
        GraphQLFieldError(
            message: "The sandbox does not serve field '\(field)' on type '\(type)' (GitHub's schema has it; see docs/sandbox.md)",
            type: nil, code: "sandboxUnsupportedField", extensions: ["typeName": type, "fieldName": field])
    }

    static func time(_ t: Int64) -> GraphQLResolved { .leaf(WorldTime.format(t)) }
    static func string(_ s: String?) -> GraphQLResolved { s.map { .leaf($0) } ?? .null }
    static func cursor(_ raw: String) -> String { Base64.encode(Array(raw.utf8)) }

    /// The slice a `first`/`after`/`last`/`before` window selects of `count` items, with its page info.
    static func window(count: Int, args: [String: Any], cursorPrefix: String) -> (Range<Int>, Object.PageInfo, (Int) -> String) {
        func offset(_ key: String) -> Int? {
            guard let c = args[key] as? String, let bytes = Base64.decode(c), let raw = String(bytes: bytes, encoding: .utf8),
                let n = raw.split(separator: " ").last.flatMap({ Int($0) })
            else { return nil }
            return n
        }
        var start = (offset("after").map { $0 + 1 }) ?? 0
        var end = min(count, offset("before") ?? count)
        start = min(start, end)
        if let first = args["first"] as? Int { end = min(end, start + max(0, first)) }
        if let last = args["last"] as? Int { start = max(start, end - max(0, last)) }
        let cursorFor = { (i: Int) in cursor("\(cursorPrefix) \(i)") }
        let page = Object.PageInfo(
            hasNextPage: end < count, hasPreviousPage: start > 0, startCursor: start < end ? cursorFor(start) : nil,
            endCursor: start < end ? cursorFor(end - 1) : nil)
        return (start..<end, page, cursorFor)
    }

    func resolve(_ object: Object, _ field: String, _ args: [String: Any]) throws(GraphQLFieldError) -> GraphQLResolved {
        switch object {
        case .query: return try query(field, args)
        case .account(let u): return try account(u, field, args)
        case .repository(let r): return try repository(r, field, args)
        case .ref(let r):
            switch field {
            case "name": return .leaf("main")
            case "prefix": return .leaf("refs/heads/")
            case "id": return .leaf(NodeID.encode("03:Ref\(r.id):refs/heads/main"))
            case "target": return r.commits.isEmpty ? .null : .object(.commit(r, 0))
            default: throw Self.undefined(field, "Ref")
            }
        case .commit(let r, let i): return try commit(r, i, field, args)
        case .gitActor(let r, let i, let committer):
            let c = r.commits[i]
            let webFlow = committer && c.committedByWebFlow
            switch field {
            case "name": return .leaf(webFlow ? "GitHub" : c.authorName)
            case "email": return .leaf(webFlow ? "noreply@github.com" : c.authorEmail)
            case "date": return Self.time(c.date)
            case "user":
                let id = webFlow ? WorldGenerator.webFlowID : c.authorID
                guard let u = id.flatMap(world.user(id:)), u.type == .user else { return .null }
                return .object(.account(u))
            case "avatarUrl": return .leaf("https://avatars.githubusercontent.com/u/\(c.authorID ?? 0)?v=4")
            default: throw Self.undefined(field, "GitActor")
            }
        case .history(let r, let indices, let total, let page):
            switch field {
            case "totalCount": return .leaf(total)
            case "pageInfo": return .object(.pageInfo(page))
            case "nodes": return .list(indices.map { .commit(r, $0) })
            case "edges":
                let base =
                    page.startCursor.flatMap { Base64.decode($0) }.flatMap { String(bytes: $0, encoding: .utf8) }
                    .flatMap { $0.split(separator: " ").last.flatMap { Int($0) } } ?? 0
                return .list(
                    indices.enumerated().map { k, i in .commitEdge(r, i, cursor: Self.cursor("\(r.commits.first?.sha ?? "") \(base + k)")) }
                )
            default: throw Self.undefined(field, "CommitHistoryConnection")
            }
        case .commitEdge(let r, let i, let cursor):
            switch field {
            case "cursor": return .leaf(cursor)
            case "node": return .object(.commit(r, i))
            default: throw Self.undefined(field, "CommitEdge")
            }
        case .repositories(let repos, let total, let page):
            switch field {
            case "totalCount": return .leaf(total)
            case "pageInfo": return .object(.pageInfo(page))
            case "nodes": return .list(repos.map { .repository($0) })
            case "edges": return .list(repos.map { .repositoryEdge($0, cursor: Self.cursor("repository \($0.id)")) })
            case "totalDiskUsage": return .leaf(repos.reduce(0) { $0 + $1.commits.count * 37 })
            default: throw Self.undefined(field, "RepositoryConnection")
            }
        case .repositoryEdge(let r, let cursor):
            switch field {
            case "cursor": return .leaf(cursor)
            case "node": return .object(.repository(r))
            default: throw Self.undefined(field, "RepositoryEdge")
            }
        case .pageInfo(let p):
            switch field {
            case "hasNextPage": return .leaf(p.hasNextPage)
            case "hasPreviousPage": return .leaf(p.hasPreviousPage)
            case "startCursor": return Self.string(p.startCursor)
            case "endCursor": return Self.string(p.endCursor)
            default: throw Self.undefined(field, "PageInfo")
            }
        case .count(let type, let n):
            switch field {
            case "totalCount": return .leaf(n)
            case "nodes", "edges": return .list([])
            case "pageInfo": return .object(.pageInfo(.init(hasNextPage: false, hasPreviousPage: false)))
            default: throw Self.undefined(field, type)
            }
        case .language(let name):
            switch field {
            case "name": return .leaf(name)
            case "color": return .leaf("#\(String(name.hashValueStable & 0xffffff, radix: 16).leftPad(6))")
            case "id": return .leaf(NodeID.encode("08:Language\(name.hashValueStable % 1000)"))
            default: throw Self.undefined(field, "Language")
            }
        case .topics(let r):
            switch field {
            case "totalCount": return .leaf(r.topics.count)
            case "nodes":
                let (range, _, _) = Self.window(count: r.topics.count, args: args, cursorPrefix: "topics")
                return .list(r.topics[range].map { .repositoryTopic($0) })
            default: throw Self.undefined(field, "RepositoryTopicConnection")
            }
        case .repositoryTopic(let name):
            switch field {
            case "topic": return .object(.topic(name))
            case "url": return .leaf("https://github.com/topics/\(name)")
            default: throw Self.undefined(field, "RepositoryTopic")
            }
        case .topic(let name):
            switch field {
            case "name": return .leaf(name)
            case "id": return .leaf(NodeID.encode("05:Topic\(name)"))
            default: throw Self.undefined(field, "Topic")
            }
        case .rateLimit(let r):
            switch field {
            case "cost": return .leaf(r.cost)
            case "limit": return .leaf(r.limit)
            case "remaining": return .leaf(r.remaining)
            case "used": return .leaf(r.used)
            case "resetAt": return .leaf(r.resetAt)
            case "nodeCount": return .leaf(r.nodeCount)
            default: throw Self.undefined(field, "RateLimit")
            }
        }
    }
}

extension String {
    /// FNV-1a of the UTF-8 bytes: stable across runs (unlike `hashValue`).
    var hashValueStable: Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return Int(h & 0x7fff_ffff)
    }
}
