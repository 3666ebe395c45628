/// The objects of GitHub's GraphQL schema that the sandbox serves.
indirect enum GitHubGraphQLObject {
    case query
    case account(WorldUser)
    case repository(WorldRepo)
    case ref(WorldRepo)
    case commit(WorldRepo, Int)
    case gitActor(WorldRepo, Int, committer: Bool)
    case history(WorldRepo, [Int], total: Int, page: PageInfo)
    case commitEdge(WorldRepo, Int, cursor: String)
    case repositories([WorldRepo], total: Int, page: PageInfo)
    case repositoryEdge(WorldRepo, cursor: String)
    case pageInfo(PageInfo)
    case count(String, Int)
    case language(String)
    case topics(WorldRepo)
    case repositoryTopic(String)
    case topic(String)
    case rateLimit(RateLimitInfo)

    struct PageInfo {
        var hasNextPage: Bool
        var hasPreviousPage: Bool
        var startCursor: String?
        var endCursor: String?
    }

    struct RateLimitInfo {
        var cost: Int
        var limit: Int
        var remaining: Int
        var used: Int
        var resetAt: String
        var nodeCount: Int
    }

    var typeName: String {
        switch self {
        case .query: return "Query"
        case .account(let u):
            switch u.type {
            case .user: return "User"
            case .organization: return "Organization"
            case .bot: return "Bot"
            }
        case .repository: return "Repository"
        case .ref: return "Ref"
        case .commit: return "Commit"
        case .gitActor: return "GitActor"
        case .history: return "CommitHistoryConnection"
        case .commitEdge: return "CommitEdge"
        case .repositories: return "RepositoryConnection"
        case .repositoryEdge: return "RepositoryEdge"
        case .pageInfo: return "PageInfo"
        case .count(let name, _): return name
        case .language: return "Language"
        case .topics: return "RepositoryTopicConnection"
        case .repositoryTopic: return "RepositoryTopic"
        case .topic: return "Topic"
        case .rateLimit: return "RateLimit"
        }
    }

    /// Interfaces (and unions) each served type belongs to, for fragment conditions.
    static let interfaces: [String: Set<String>] = [
        "User": ["Node", "Actor", "RepositoryOwner", "ProfileOwner", "UniformResourceLocatable", "SearchResultItem"],
        "Organization": ["Node", "Actor", "RepositoryOwner", "ProfileOwner", "UniformResourceLocatable", "SearchResultItem"],
        "Bot": ["Node", "Actor", "UniformResourceLocatable"],
        "Repository": ["Node", "RepositoryInfo", "Starrable", "UniformResourceLocatable", "SearchResultItem"],
        "Commit": ["Node", "GitObject", "UniformResourceLocatable"],
        "Ref": ["Node"],
        "RepositoryTopic": ["Node", "UniformResourceLocatable"],
        "Topic": ["Node", "Starrable"],
        "Language": ["Node"],
    ]

    /// Whether an object of `typeName` satisfies a fragment condition `on condition`.
    static func conforms(_ typeName: String, to condition: String) -> Bool {
        typeName == condition || interfaces[typeName]?.contains(condition) == true
    }
}
