import GraphQL

/// The part of GitHub's schema the sandbox serves: each type's fields and their (named) result
/// types. A document has already passed validation against the whole schema
/// (`GitHubGraphQLValidator`); this finds the real fields the sandbox does not serve before any
/// quota is spent (`sandboxUnsupportedField`, no `data`). Scalars are marked with an empty type name.
enum GitHubGraphQLSchema {
    static let scalar = ""
    private static let account: [String: String] = [
        "id": scalar, "databaseId": scalar, "login": scalar, "url": scalar, "resourcePath": scalar, "avatarUrl": scalar,
        "createdAt": scalar, "updatedAt": scalar,
    ]
    private static let owner = account.merging([
        "name": scalar, "email": scalar, "location": scalar, "websiteUrl": scalar, "twitterUsername": scalar,
        "repositories": "RepositoryConnection",
    ]) { a, _ in a }
    private static let countConnection: [String: String] = [
        "totalCount": scalar, "nodes": "User", "edges": "UserEdge", "pageInfo": "PageInfo",
    ]

    static let types: [String: [String: String]] = [
        "Query": [
            "user": "User", "organization": "Organization", "repositoryOwner": "RepositoryOwner", "viewer": "User",
            "repository": "Repository", "node": "Node", "nodes": "Node", "rateLimit": "RateLimit",
        ],
        "User": owner.merging([
            "company": scalar, "bio": scalar, "isHireable": scalar, "isSiteAdmin": scalar, "isEmployee": scalar,
            "isBountyHunter": scalar, "isCampusExpert": scalar, "isDeveloperProgramMember": scalar, "isGitHubStar": scalar,
            "followers": "FollowerConnection", "following": "FollowingConnection", "gists": "GistConnection",
        ]) { a, _ in a },
        "Organization": owner.merging(["description": scalar, "membersWithRole": "OrganizationMemberConnection"]) { a, _ in a },
        "Bot": account,
        "Actor": ["login": scalar, "avatarUrl": scalar, "url": scalar, "resourcePath": scalar],
        "RepositoryOwner": [
            "id": scalar, "login": scalar, "avatarUrl": scalar, "url": scalar, "resourcePath": scalar,
            "repositories": "RepositoryConnection",
        ],
        "ProfileOwner": ["id": scalar, "login": scalar, "name": scalar, "email": scalar, "location": scalar, "websiteUrl": scalar],
        "Node": ["id": scalar],
        "UniformResourceLocatable": ["url": scalar, "resourcePath": scalar],
        "GitObject": ["id": scalar, "oid": scalar, "abbreviatedOid": scalar, "commitUrl": scalar],
        "Repository": [
            "id": scalar, "databaseId": scalar, "name": scalar, "nameWithOwner": scalar, "owner": "RepositoryOwner",
            "description": scalar, "url": scalar, "homepageUrl": scalar, "stargazerCount": scalar, "forkCount": scalar,
            "isFork": scalar, "isArchived": scalar, "isPrivate": scalar, "isDisabled": scalar, "isTemplate": scalar,
            "isEmpty": scalar, "isLocked": scalar, "isMirror": scalar, "visibility": scalar, "primaryLanguage": "Language",
            "createdAt": scalar, "pushedAt": scalar, "updatedAt": scalar, "defaultBranchRef": "Ref",
            "repositoryTopics": "RepositoryTopicConnection", "stargazers": "StargazerConnection",
            "watchers": "UserConnection", "forks": "RepositoryConnection",
        ],
        "Ref": ["id": scalar, "name": scalar, "prefix": scalar, "target": "GitObject"],
        "Commit": [
            "id": scalar, "oid": scalar, "abbreviatedOid": scalar, "message": scalar, "messageHeadline": scalar,
            "messageBody": scalar, "committedDate": scalar, "authoredDate": scalar, "url": scalar, "commitUrl": scalar,
            "author": "GitActor", "committer": "GitActor", "authoredByCommitter": scalar, "history": "CommitHistoryConnection",
        ],
        "GitActor": ["name": scalar, "email": scalar, "date": scalar, "user": "User", "avatarUrl": scalar],
        "CommitHistoryConnection": ["totalCount": scalar, "pageInfo": "PageInfo", "nodes": "Commit", "edges": "CommitEdge"],
        "CommitEdge": ["cursor": scalar, "node": "Commit"],
        "RepositoryConnection": [
            "totalCount": scalar, "pageInfo": "PageInfo", "nodes": "Repository", "edges": "RepositoryEdge", "totalDiskUsage": scalar,
        ],
        "RepositoryEdge": ["cursor": scalar, "node": "Repository"],
        "PageInfo": ["hasNextPage": scalar, "hasPreviousPage": scalar, "startCursor": scalar, "endCursor": scalar],
        "FollowerConnection": countConnection, "FollowingConnection": countConnection, "GistConnection": countConnection,
        "OrganizationMemberConnection": countConnection, "StargazerConnection": countConnection, "UserConnection": countConnection,
        "UserEdge": ["cursor": scalar, "node": "User"],
        "Language": ["id": scalar, "name": scalar, "color": scalar],
        "RepositoryTopicConnection": ["totalCount": scalar, "nodes": "RepositoryTopic"],
        "RepositoryTopic": ["topic": "Topic", "url": scalar],
        "Topic": ["id": scalar, "name": scalar],
        "RateLimit": ["cost": scalar, "limit": scalar, "remaining": scalar, "used": scalar, "resetAt": scalar, "nodeCount": scalar],
    ]

    /// `sandboxUnsupportedField` errors for every field the query asks of a served type that the
    /// sandbox does not serve (fields of types outside this subset are not checked).
    static func validate(_ selections: [Selection], type: String, fragments: [String: FragmentDefinition]) -> [[String: Any]] {
        var errors: [[String: Any]] = []
        func visit(_ list: [Selection], _ type: String, _ path: [Any], _ seen: Set<String>) {
            guard let fields = types[type] else { return }
            for s in list {
                switch s {
                case let f as Field:
                    let name = f.name.value
                    if name == "__typename" { continue }
                    let key = f.alias?.value ?? name
                    guard let result = fields[name] else {
                        errors.append(GitHubGraphQLResolvers.undefined(name, type).json(path: path + [key], loc: f.loc))
                        continue
                    }
                    if let sub = f.selectionSet?.selections, result != scalar { visit(sub, result, path + [key], seen) }
                case let spread as FragmentSpread:
                    let name = spread.name.value
                    guard !seen.contains(name), let def = fragments[name] else { continue }
                    visit(def.selectionSet.selections, def.typeCondition.name.value, path, seen.union([name]))
                case let inline as InlineFragment:
                    visit(inline.selectionSet.selections, inline.typeCondition?.name.value ?? type, path, seen)
                default:
                    continue
                }
            }
        }
        visit(selections, type, ["query"], [])
        return errors
    }
}
