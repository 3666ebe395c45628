import Foundation

// The schema subset the sandbox serves: Query { viewer, organization, teams, team, issues, issue,
// issueLabels, workflowStates }, and the User, Organization, Team, Issue, IssueLabel, WorkflowState,
// connection, edge and PageInfo types with the fields clients use.

struct LinearQueryRoot: LinearNode {
    let store: LinearStore
    var typeName: String { "Query" }

    func field(_ name: String, _ args: [String: Any]) throws(LinearGQLError) -> LinearValue? {
        switch name {
        case "viewer": return .node(LinearUserNode(store: store, user: store.viewer))
        case "organization": return .node(LinearOrganizationNode(store: store))
        case "teams":
            var teams = store.teams
            if let f = args["filter"] as? [String: Any] {
                teams = try LinearFilter.keep(teams) { t throws(LinearGQLError) in try LinearFilter.team(t, f) }
            }
            return try LinearConnection.make(teams.map { LinearTeamNode(store: store, team: $0) }, ids: teams.map(\.id), args)
        case "team":
            guard let id = args["id"] as? String else {
                throw .validation("Field \"team\" argument \"id\" of type \"String!\" is required.")
            }
            guard let t = store.teams.first(where: { $0.id == id || $0.key == id }) else {
                throw .invalidInput("Entity not found: Team", "Could not find referenced Team.")
            }
            return .node(LinearTeamNode(store: store, team: t))
        case "issues":
            return try LinearIssueNode.connection(store, store.issues, args)
        case "issue":
            guard let id = args["id"] as? String else {
                throw .validation("Field \"issue\" argument \"id\" of type \"String!\" is required.")
            }
            guard let i = store.issue(id) else { throw .invalidInput("Entity not found: Issue", "Could not find referenced Issue.") }
            return .node(LinearIssueNode(store: store, issue: i))
        case "issueLabels":
            var labels = store.labels
            if let f = args["filter"] as? [String: Any] {
                labels = try LinearFilter.keep(labels) { l throws(LinearGQLError) in try LinearFilter.label(store, l, f) }
            }
            return try LinearConnection.make(labels.map { LinearLabelNode(store: store, label: $0) }, ids: labels.map(\.id), args)
        case "workflowStates":
            return try LinearConnection.make(
                store.states.map { LinearStateNode(store: store, state: $0) }, ids: store.states.map(\.id), args)
        default: return nil
        }
    }
}

struct LinearUserNode: LinearNode {
    let store: LinearStore
    let user: LinearStore.User
    var typeName: String { "User" }

    func field(_ name: String, _ args: [String: Any]) throws(LinearGQLError) -> LinearValue? {
        switch name {
        case "id": return .scalar(user.id)
        case "name": return .scalar(user.name)
        case "displayName": return .scalar(user.displayName)
        case "email": return .scalar(user.email)
        case "active": return .scalar(true)
        case "admin": return .scalar(false)
        case "isMe": return .scalar(true)
        case "url": return .scalar("https://linear.app/\(store.organizationKey)/profiles/\(user.displayName)")
        case "createdAt", "updatedAt": return .scalar(ServiceKit.iso8601(store.epoch))
        case "organization": return .node(LinearOrganizationNode(store: store))
        default: return nil
        }
    }
}

struct LinearOrganizationNode: LinearNode {
    let store: LinearStore
    var typeName: String { "Organization" }

    func field(_ name: String, _ args: [String: Any]) throws(LinearGQLError) -> LinearValue? {
        switch name {
        case "id": return .scalar(store.organizationID)
        case "name": return .scalar("Sandbox")
        case "urlKey": return .scalar(store.organizationKey)
        default: return nil
        }
    }
}

struct LinearTeamNode: LinearNode {
    let store: LinearStore
    let team: LinearStore.Team
    var typeName: String { "Team" }

    func field(_ name: String, _ args: [String: Any]) throws(LinearGQLError) -> LinearValue? {
        switch name {
        case "id": return .scalar(team.id)
        case "key": return .scalar(team.key)
        case "name", "displayName": return .scalar(team.name)
        case "description": return .null
        case "private": return .scalar(false)
        case "createdAt", "updatedAt": return .scalar(ServiceKit.iso8601(store.epoch))
        case "issueCount": return .scalar(store.issues.filter { $0.teamID == team.id }.count)
        case "issues": return try LinearIssueNode.connection(store, store.issues.filter { $0.teamID == team.id }, args)
        case "labels":
            let labels = store.labels.filter { $0.teamID == team.id }
            return try LinearConnection.make(labels.map { LinearLabelNode(store: store, label: $0) }, ids: labels.map(\.id), args)
        case "states":
            let states = store.states.filter { $0.teamID == team.id }
            return try LinearConnection.make(states.map { LinearStateNode(store: store, state: $0) }, ids: states.map(\.id), args)
        default: return nil
        }
    }
}

struct LinearLabelNode: LinearNode {
    let store: LinearStore
    let label: LinearStore.Label
    var typeName: String { "IssueLabel" }

    func field(_ name: String, _ args: [String: Any]) throws(LinearGQLError) -> LinearValue? {
        switch name {
        case "id": return .scalar(label.id)
        case "name": return .scalar(label.name)
        case "color": return .scalar(label.color)
        case "isGroup": return .scalar(false)
        case "team": return label.teamID.flatMap(store.team).map { .node(LinearTeamNode(store: store, team: $0)) } ?? .null
        default: return nil
        }
    }
}

struct LinearStateNode: LinearNode {
    let store: LinearStore
    let state: LinearStore.State
    var typeName: String { "WorkflowState" }

    func field(_ name: String, _ args: [String: Any]) throws(LinearGQLError) -> LinearValue? {
        switch name {
        case "id": return .scalar(state.id)
        case "name": return .scalar(state.name)
        case "type": return .scalar(state.type)
        case "color": return .scalar(state.color)
        case "position": return .scalar(state.position)
        case "team": return store.team(state.teamID).map { .node(LinearTeamNode(store: store, team: $0)) } ?? .null
        default: return nil
        }
    }
}

struct LinearIssueNode: LinearNode {
    let store: LinearStore
    let issue: LinearStore.Issue
    var typeName: String { "Issue" }

    static let priorityLabels = ["No priority", "Urgent", "High", "Medium", "Low"]

    /// A connection over `issues` after `filter`, ordered by creation (`orderBy: createdAt`, the default).
    static func connection(_ store: LinearStore, _ issues: [LinearStore.Issue], _ args: [String: Any]) throws(LinearGQLError) -> LinearValue
    {
        var list = issues
        if let f = args["filter"] as? [String: Any] {
            list = try LinearFilter.keep(list) { i throws(LinearGQLError) in try LinearFilter.issue(store, i, f) }
        }
        return try LinearConnection.make(list.map { LinearIssueNode(store: store, issue: $0) }, ids: list.map(\.id), args)
    }

    func field(_ name: String, _ args: [String: Any]) throws(LinearGQLError) -> LinearValue? {
        let i = issue
        switch name {
        case "id": return .scalar(i.id)
        case "identifier": return .scalar(store.identifier(i))
        case "number": return .scalar(i.number)
        case "title": return .scalar(i.title)
        case "description": return i.description.map { .scalar($0) } ?? .null
        case "url": return .scalar(store.url(i))
        case "branchName": return .scalar(store.identifier(i).lowercased())
        case "priority": return .scalar(i.priority)
        case "priorityLabel": return .scalar(Self.priorityLabels[min(4, max(0, i.priority))])
        case "createdAt": return .scalar(ServiceKit.iso8601(i.createdAt))
        case "updatedAt": return .scalar(ServiceKit.iso8601(i.updatedAt))
        case "comments":
            let comments = store.comments.filter { $0.issueID == i.id }
            return try LinearConnection.make(
                comments.map { LinearCommentNode(store: store, comment: $0) }, ids: comments.map(\.id), args)
        case "archivedAt", "completedAt", "canceledAt", "dueDate", "estimate", "assignee": return .null
        case "labelIds": return .list(i.labelIDs.map { .scalar($0) })
        case "team": return store.team(i.teamID).map { .node(LinearTeamNode(store: store, team: $0)) } ?? .null
        case "creator": return .node(LinearUserNode(store: store, user: store.viewer))
        case "state": return store.states.first { $0.id == i.stateID }.map { .node(LinearStateNode(store: store, state: $0)) } ?? .null
        case "parent": return i.parentID.flatMap(store.issue).map { .node(LinearIssueNode(store: store, issue: $0)) } ?? .null
        case "children": return try Self.connection(store, store.issues.filter { $0.parentID == i.id }, args)
        case "labels":
            let labels = store.labels.filter { i.labelIDs.contains($0.id) }
            return try LinearConnection.make(labels.map { LinearLabelNode(store: store, label: $0) }, ids: labels.map(\.id), args)
        default: return nil
        }
    }
}

/// A Relay connection: `nodes`, `edges { node cursor }`, `pageInfo`; `first`/`after` (default 50) or `last`/`before`.
struct LinearConnection: LinearNode {
    let items: [any LinearNode]
    let ids: [String]
    let hasNext: Bool
    let hasPrevious: Bool
    var typeName: String { "Connection" }

    static func make(_ all: [any LinearNode], ids allIDs: [String], _ args: [String: Any]) throws(LinearGQLError) -> LinearValue {
        var lo = 0
        var hi = all.count
        // A cursor that names no node of the list is refused (it does not restart at page 1).
        if let after = args["after"] as? String {
            guard let i = allIDs.firstIndex(of: after) else {
                throw .invalidInput("Invalid cursor: \(after)", "The pagination cursor is not valid.")
            }
            lo = i + 1
        }
        if let before = args["before"] as? String {
            guard let i = allIDs.firstIndex(of: before) else {
                throw .invalidInput("Invalid cursor: \(before)", "The pagination cursor is not valid.")
            }
            hi = i
        }
        hi = max(lo, hi)
        if let last = ServiceKit.int(args["last"]), args["first"] == nil || args["first"] is NSNull {
            guard last >= 0 else { throw .validation("\"last\" must be a non-negative integer.") }
            lo = max(lo, hi - last)
        } else {
            let first = ServiceKit.int(args["first"]) ?? 50
            guard first >= 0 else { throw .validation("\"first\" must be a non-negative integer.") }
            hi = min(hi, lo + first)
        }
        return .node(
            LinearConnection(
                items: Array(all[lo..<hi]), ids: Array(allIDs[lo..<hi]), hasNext: hi < all.count, hasPrevious: lo > 0))
    }

    func field(_ name: String, _ args: [String: Any]) throws(LinearGQLError) -> LinearValue? {
        switch name {
        case "nodes": return .list(items.map { .node($0) })
        case "edges": return .list(zip(items, ids).map { .node(LinearEdge(node: $0.0, cursor: $0.1)) })
        case "pageInfo":
            return .node(
                LinearPageInfo(
                    hasNextPage: hasNext, hasPreviousPage: hasPrevious, startCursor: ids.first, endCursor: ids.last))
        default: return nil
        }
    }
}

struct LinearEdge: LinearNode {
    let node: any LinearNode
    let cursor: String
    var typeName: String { "Edge" }

    func field(_ name: String, _ args: [String: Any]) throws(LinearGQLError) -> LinearValue? {
        switch name {
        case "node": return .node(node)
        case "cursor": return .scalar(cursor)
        default: return nil
        }
    }
}

struct LinearPageInfo: LinearNode {
    let hasNextPage: Bool
    let hasPreviousPage: Bool
    let startCursor: String?
    let endCursor: String?
    var typeName: String { "PageInfo" }

    func field(_ name: String, _ args: [String: Any]) throws(LinearGQLError) -> LinearValue? {
        switch name {
        case "hasNextPage": return .scalar(hasNextPage)
        case "hasPreviousPage": return .scalar(hasPreviousPage)
        case "startCursor": return startCursor.map { .scalar($0) } ?? .null
        case "endCursor": return endCursor.map { .scalar($0) } ?? .null
        default: return nil
        }
    }
}
