import CMOBasics
import CMOServices
import CMOStageKit
import Foundation

/// sync-attio's `--check`: the list found by id, api_slug or name.
extension AttioWriter {
    /// The list `given` names: by id or api_slug (`GET /v2/lists/{list}`, as a run reads it), else by
    /// its name among the workspace's lists (`GET /v2/lists`). No match, or several, is refused (78)
    /// with the candidates (names and ids, at most 10).
    public static func resolveList(_ given: String, api: AttioAPI) throws -> AttioListInfo {
        let value = given.trimmingCharacters(in: .whitespaces)
        if !value.isEmpty, !value.contains("/"), let list = try api.listIfExists(value) { return list }
        let lists = try api.lists()
        let match = try TargetRefusal.match(
            given, in: lists.map { ($0.id, $0.name) }, what: "Attio list", flag: "--list", alsoMatching: lists.map { ($0.id, $0.slug) })
        return lists.first { $0.id == match.id }!
    }
}
