import Foundation

/// The Linear workspace's data: seeded teams, labels, workflow states and the viewer; issues as created.
final class LinearStore {
    struct Team {
        var id: String
        var key: String
        var name: String
        var stateIDs: [String]
    }

    struct Label {
        var id: String
        var name: String
        var color: String
        var teamID: String?
    }

    struct State {
        var id: String
        var name: String
        var type: String
        var color: String
        var position: Double
        var teamID: String
    }

    struct Issue {
        var id: String
        var teamID: String
        var number: Int
        var title: String
        var description: String?
        var parentID: String?
        var labelIDs: [String]
        var priority: Int
        var stateID: String
        var createdAt: Date
        var updatedAt: Date
    }

    struct Comment {
        var id: String
        var issueID: String
        var body: String
        var createdAt: Date
    }

    struct User {
        var id: String
        var name: String
        var displayName: String
        var email: String
    }

    let organizationID: String
    let organizationKey = "sandbox"
    let viewer: User
    let teams: [Team]
    let labels: [Label]
    let states: [State]
    var issues: [Issue] = []
    var comments: [Comment] = []
    /// issueUpdate calls received, so each update is its own write in the stats.
    var updates = 0
    var lastSyncID = 1000.0
    var writeClock = 0
    let epoch: Date

    init(seed: UInt64, options: LinearOptions) {
        epoch = options.epoch
        organizationID = ServiceKit.uuid(seed: seed, "linear-organization")
        viewer = User(
            id: ServiceKit.uuid(seed: seed, "linear-viewer"), name: "Sandbox Bot", displayName: "sandbox-bot", email: "bot@sandbox.example")
        var teams: [Team] = []
        var labels: [Label] = []
        var states: [State] = []
        let stateKinds = [
            ("Backlog", "backlog", "#bec2c8"), ("Todo", "unstarted", "#e2e2e2"), ("In Progress", "started", "#f2c94c"),
            ("Done", "completed", "#5e6ad2"), ("Canceled", "canceled", "#95a2b3"),
        ]
        for (i, t) in options.teams.enumerated() {
            let teamID = ServiceKit.uuid(seed: seed, "linear-team-\(t.key)")
            var ids: [String] = []
            for (j, s) in stateKinds.enumerated() {
                let id = ServiceKit.uuid(seed: seed, "linear-state-\(t.key)-\(s.0)")
                ids.append(id)
                states.append(State(id: id, name: s.0, type: s.1, color: s.2, position: Double(j), teamID: teamID))
            }
            teams.append(Team(id: teamID, key: t.key, name: t.name, stateIDs: ids))
            for name in options.teamLabels {
                labels.append(
                    Label(
                        id: ServiceKit.uuid(seed: seed, "linear-label-\(t.key)-\(name)"), name: name,
                        color: "#\(String(format: "%06x", (i * 0x3a5f1 + name.count * 0x1f2e3) & 0xffffff))", teamID: teamID))
            }
        }
        self.teams = teams
        self.labels = labels
        self.states = states
    }

    func team(_ id: String) -> Team? { teams.first { $0.id == id } }
    func issue(_ idOrIdentifier: String) -> Issue? {
        issues.first { $0.id == idOrIdentifier || identifier($0).caseInsensitiveCompare(idOrIdentifier) == .orderedSame }
    }
    func identifier(_ i: Issue) -> String { "\(team(i.teamID)?.key ?? "X")-\(i.number)" }

    func url(_ i: Issue) -> String {
        let slug = i.title.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }.reduce(into: "") { s, c in
            if !(c == "-" && s.hasSuffix("-")) { s.append(c) }
        }.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return "https://linear.app/\(organizationKey)/issue/\(identifier(i))/\(slug.prefix(60))"
    }

    func tick() -> Date {
        writeClock += 1
        return epoch.addingTimeInterval(TimeInterval(writeClock))
    }

    func reset() {
        issues = []
        comments = []
        updates = 0
        lastSyncID = 1000
        writeClock = 0
    }
}
