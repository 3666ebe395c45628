import Foundation

/// Mutation { issueCreate(input: IssueCreateInput!): IssuePayload! }.
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
        guard name == "issueCreate" else { return nil }
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
            let v4 = given.count == 36 && Array(given)[14] == "4" && "89abAB".contains(Array(given)[19])
            guard ServiceKit.isUUID(given), v4 || !options.requireUUIDv4 else {
                throw .invalidInput("Argument Validation Error: id must be a UUID v4", "The issue id must be a UUID (version 4).")
            }
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
        let number = (store.issues.filter { $0.teamID == team.id }.map(\.number).max() ?? 0) + 1
        let issue = LinearStore.Issue(
            id: id, teamID: team.id, number: number, title: title, description: input["description"] as? String,
            parentID: parentID, labelIDs: labelIDs, priority: priority, stateID: stateID, createdAt: store.tick())
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
