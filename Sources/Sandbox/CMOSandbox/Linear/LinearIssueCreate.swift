import Foundation

/// Mutation { issueCreate(input: IssueCreateInput!): IssuePayload!, issueUpdate(id: String!, input:
/// IssueUpdateInput!): IssuePayload!, commentCreate(input: CommentCreateInput!): CommentPayload! }.
struct LinearMutationRoot: LinearNode {
    let store: LinearStore
    let options: LinearOptions
    let seed: UInt64
    /// Called once per issueCreate that reached the store, for the sandbox's write stats.
    let onWrite: (_ kind: String, _ key: String, _ payload: [String: Any]) -> Void
    var typeName: String { "Mutation" }

    static let inputFields: Set<String> = [
        "assigneeId", "completedAt", "createAsUser", "createdAt", "cycleId", "delegateId", "description", "descriptionData",
        "displayIconUrl", "dueDate", "estimate", "id", "inheritsSharedAccess", "labelIds", "lastAppliedTemplateId", "parentId",
        "preserveSortOrderOnCreate", "priority", "prioritySortOrder", "projectId", "projectMilestoneId", "referenceCommentId",
        "releaseIds", "slaBreachesAt", "slaStartedAt", "slaType", "sortOrder", "sourceCommentId", "sourcePullRequestCommentId",
        "stateId", "subIssueSortOrder", "subscriberIds", "teamId", "templateId", "title", "useDefaultTemplate",
    ]

    func field(_ name: String, _ args: [String: Any]) throws(LinearGQLError) -> LinearValue? {
        switch name {
        case "issueCreate": return try issueCreate(args)
        case "issueUpdate": return try issueUpdate(args)
        case "commentCreate": return try commentCreate(args)
        default: return nil
        }
    }

    /// issueUpdate: the issue by id or identifier; `title`, `description`, `priority`, `stateId`,
    /// `parentId`, `labelIds` applied, the other real fields accepted and ignored.
    private func issueUpdate(_ args: [String: Any]) throws(LinearGQLError) -> LinearValue {
        guard let id = args["id"] as? String, let input = args["input"] as? [String: Any] else {
            throw .validation("Field \"issueUpdate\" arguments \"id\" and \"input\" are required.")
        }
        store.updates += 1
        onWrite("issue_update", "\(id) #\(store.updates)", ["id": id, "fields": input.keys.sorted()])
        guard
            let index = store.issues.firstIndex(where: {
                $0.id == id.lowercased() || store.identifier($0).caseInsensitiveCompare(id) == .orderedSame
            })
        else { throw .invalidInput("Entity not found: Issue", "Could not find referenced Issue.") }
        var issue = store.issues[index]
        if let t = input["title"] as? String { issue.title = t }
        if input.keys.contains("description") { issue.description = input["description"] as? String }
        if let p = ServiceKit.int(input["priority"]) {
            guard (0...4).contains(p) else {
                throw .invalidInput("Argument Validation Error: priority", "Priority must be between 0 and 4.")
            }
            issue.priority = p
        }
        if let s = input["stateId"] as? String {
            guard store.team(issue.teamID)?.stateIDs.contains(s) == true else {
                throw .invalidInput("Entity not found: WorkflowState", "Could not find referenced workflow state.")
            }
            issue.stateID = s
        }
        if let p = input["parentId"] as? String {
            guard let parent = store.issue(p), parent.id != issue.id else {
                throw .invalidInput("Entity not found: Issue (parentId)", "Could not find referenced parent issue.")
            }
            issue.parentID = parent.id
        }
        if let labels = input["labelIds"] as? [Any] { issue.labelIDs = labels.compactMap { $0 as? String } }
        issue.updatedAt = store.tick()
        store.issues[index] = issue
        store.lastSyncID += 1
        return .node(LinearPayload(store: store, issue: issue))
    }

    /// commentCreate on an issue (`issueId` by id or identifier), `body` markdown, client `id` (UUID v4
    /// as for issues; a repeated id is refused as for issues, or the existing comment returned).
    private func commentCreate(_ args: [String: Any]) throws(LinearGQLError) -> LinearValue {
        guard let input = args["input"] as? [String: Any] else {
            throw .validation("Field \"commentCreate\" argument \"input\" of type \"CommentCreateInput!\" is required.")
        }
        let body = (input["body"] as? String) ?? ""
        let given = input["id"] as? String
        onWrite(
            "comment", given ?? "\(input["issueId"] ?? "?") \(body.hashValue)",
            ["issue_id": input["issueId"] ?? NSNull(), "id": given ?? NSNull()])
        guard let issueRef = input["issueId"] as? String else {
            throw .invalidInput("Argument Validation Error: issueId", "A comment needs an issue (issueId).")
        }
        guard let issue = store.issue(issueRef) else { throw .invalidInput("Entity not found: Issue", "Could not find referenced Issue.") }
        guard !body.isEmpty else { throw .invalidInput("Argument Validation Error: body", "The comment body cannot be empty.") }
        var id = ServiceKit.uuid(seed: seed, "linear-comment-\(store.comments.count)")
        if let given {
            try checkClientID(given)
            if let existing = store.comments.first(where: { $0.id == given.lowercased() }) {
                switch options.duplicateID {
                case .returnExisting: return .node(LinearCommentPayload(store: store, comment: existing))
                case .error: throw .invalidInput("Entity already exists: Comment \(given)", "A comment with this id already exists.")
                }
            }
            id = given.lowercased()
        }
        let comment = LinearStore.Comment(id: id, issueID: issue.id, body: body, createdAt: store.tick())
        store.comments.append(comment)
        store.lastSyncID += 1
        return .node(LinearCommentPayload(store: store, comment: comment))
    }

    private func checkClientID(_ given: String) throws(LinearGQLError) {
        let v4 = given.count == 36 && Array(given)[14] == "4" && "89abAB".contains(Array(given)[19])
        guard ServiceKit.isUUID(given), v4 || !options.requireUUIDv4 else {
            throw .invalidInput("Argument Validation Error: id must be a UUID v4", "The id must be a UUID (version 4).")
        }
    }

    private func issueCreate(_ args: [String: Any]) throws(LinearGQLError) -> LinearValue {
        guard let input = args["input"] as? [String: Any] else {
            throw .validation(
                "Field \"issueCreate\" argument \"input\" of type \"IssueCreateInput!\" is required, but it was not provided.")
        }
        if let unknown = input.keys.sorted().first(where: { !Self.inputFields.contains($0) }) {
            throw .validation("Field \"\(unknown)\" is not defined by type \"IssueCreateInput\".")
        }
        guard let teamID = input["teamId"] as? String else {
            throw .validation("Field \"IssueCreateInput.teamId\" of required type \"String!\" was not provided.")
        }
        let title = (input["title"] as? String) ?? ""
        onWrite("issue", "\(teamID) \(title)", ["team_id": teamID, "title": title, "id": input["id"] ?? NSNull()])
        if let id = input["id"] as? String { onWrite("issue_id", id, ["team_id": teamID, "title": title]) }
        return .node(LinearPayload(store: store, issue: try create(input, teamID: teamID, title: title)))
    }

    private func create(_ input: [String: Any], teamID: String, title: String) throws(LinearGQLError) -> LinearStore.Issue {
        guard let team = store.team(teamID) else { throw .invalidInput("Entity not found: Team", "Could not find referenced Team.") }
        var id = ServiceKit.uuid(seed: seed, "linear-issue-\(store.issues.count)")
        if let given = input["id"] as? String {
            try checkClientID(given)
            if let existing = store.issues.first(where: { $0.id.lowercased() == given.lowercased() }) {
                switch options.duplicateID {
                case .returnExisting: return existing
                case .error: throw .invalidInput("Entity already exists: Issue \(given)", "An issue with this id already exists.")
                }
            }
            id = given.lowercased()
        }
        var parentID: String?
        if let p = input["parentId"] as? String {
            guard let parent = store.issue(p) else {
                throw .invalidInput("Entity not found: Issue (parentId)", "Could not find referenced parent issue.")
            }
            parentID = parent.id
        }
        let labelIDs = (input["labelIds"] as? [Any])?.compactMap { $0 as? String } ?? []
        for l in labelIDs where !store.labels.contains(where: { $0.id == l && ($0.teamID == nil || $0.teamID == team.id) }) {
            throw .invalidInput("Entity not found: IssueLabel \(l)", "Could not find referenced label.")
        }
        let priority = ServiceKit.int(input["priority"]) ?? 0
        guard (0...4).contains(priority) else {
            throw .invalidInput("Argument Validation Error: priority", "Priority must be between 0 and 4.")
        }
        var stateID = team.stateIDs[0]
        if let s = input["stateId"] as? String {
            guard team.stateIDs.contains(s) else {
                throw .invalidInput("Entity not found: WorkflowState", "Could not find referenced workflow state.")
            }
            stateID = s
        }
        let at = store.tick()
        let number = (store.issues.filter { $0.teamID == team.id }.map(\.number).max() ?? 0) + 1
        let issue = LinearStore.Issue(
            id: id, teamID: team.id, number: number, title: title, description: input["description"] as? String,
            parentID: parentID, labelIDs: labelIDs, priority: priority, stateID: stateID, createdAt: at, updatedAt: at)
        store.issues.append(issue)
        store.lastSyncID += 1
        return issue
    }
}

/// IssuePayload { success lastSyncId issue }.
struct LinearPayload: LinearNode {
    let store: LinearStore
    let issue: LinearStore.Issue
    var typeName: String { "IssuePayload" }

    func field(_ name: String, _ args: [String: Any]) throws(LinearGQLError) -> LinearValue? {
        switch name {
        case "success": return .scalar(true)
        case "lastSyncId": return .scalar(store.lastSyncID)
        case "issue": return .node(LinearIssueNode(store: store, issue: issue))
        default: return nil
        }
    }
}

/// CommentPayload { success lastSyncId comment }.
struct LinearCommentPayload: LinearNode {
    let store: LinearStore
    let comment: LinearStore.Comment
    var typeName: String { "CommentPayload" }

    func field(_ name: String, _ args: [String: Any]) throws(LinearGQLError) -> LinearValue? {
        switch name {
        case "success": return .scalar(true)
        case "lastSyncId": return .scalar(store.lastSyncID)
        case "comment": return .node(LinearCommentNode(store: store, comment: comment))
        default: return nil
        }
    }
}

/// Comment { id body createdAt updatedAt url issue user }.
struct LinearCommentNode: LinearNode {
    let store: LinearStore
    let comment: LinearStore.Comment
    var typeName: String { "Comment" }

    func field(_ name: String, _ args: [String: Any]) throws(LinearGQLError) -> LinearValue? {
        switch name {
        case "id": return .scalar(comment.id)
        case "body": return .scalar(comment.body)
        case "createdAt", "updatedAt": return .scalar(ServiceKit.iso8601(comment.createdAt))
        case "issueId": return .scalar(comment.issueID)
        case "issue": return store.issue(comment.issueID).map { .node(LinearIssueNode(store: store, issue: $0)) } ?? .null
        case "user": return .node(LinearUserNode(store: store, user: store.viewer))
        case "url":
            let issue = store.issue(comment.issueID)
            return .scalar((issue.map(store.url) ?? "") + "#comment-\(comment.id.prefix(8))")
        case "archivedAt", "editedAt", "resolvedAt", "parent": return .null
        default: return nil
        }
    }
}
