import CMOBasics
import CMOServices
import CMOStageKit
import Foundation

/// sync-linear's `--check`: the team found by id, key or name.
extension LinearWriter {
    /// The team `given` names: by id or key (as a run reads it), else by its name among the teams the
    /// key can see. No match, or several, is refused (78) with the candidates (names and ids, at most 10).
    public static func resolveTeam(_ given: String, api: LinearAPI) throws -> LinearTeam {
        if let team = try api.team(given) { return team }
        let teams = try api.teams()
        let match = try TargetRefusal.match(
            given, in: teams.map { ($0.id, $0.name) }, what: "Linear team", flag: "--team", alsoMatching: teams.map { ($0.id, $0.key) })
        return teams.first { $0.id == match.id }!
    }
}
