import CMOBasics
import CMOHTTP
import CMOServices
import CMOStageKit
import CMOWriters
import Foundation

/// `sync-attio --check`: the run's settings, the token, Attio reachable and the token accepted, the
/// people object usable (a unique email_addresses to match by, every --attribute writable), and the
/// list found by id, api_slug or name, holding people, with every --entry-value writable. Reads only.
extension SyncAttio: CheckableStage {
    /// The people object, as a run and its check need it: matched by a unique `email_addresses`, and
    /// every `--attribute` writable. Returns its attributes by slug.
    static func peopleAttributes(_ api: AttioAPI, plan: Plan) throws -> [String: AttioAttributeInfo] {
        let people = try api.attributes(ofObject: "people")
        guard people["email_addresses"]?.unique == true else {
            throw StageFailure(.config, "the Attio workspace's people object has no unique attribute 'email_addresses' to match people by")
        }
        for (slug, _) in plan.personValues where people[slug]?.writable != true {
            throw StageFailure(
                .config,
                "--attribute \(slug): the Attio people object has no writable attribute '\(slug)' (\(people.keys.sorted().joined(separator: ", ")))"
            )
        }
        return people
    }

    /// The list, as a run and its check need it: it holds people, and every `--entry-value` is writable.
    static func checkList(_ info: AttioListInfo, label: String, api: AttioAPI, plan: Plan) throws {
        guard info.parentObjects.isEmpty || info.parentObjects.contains("people") else {
            throw StageFailure(.config, "Attio list \(label) holds \(info.parentObjects.joined(separator: ", ")), not people")
        }
        let listAttributes = try api.attributes(ofList: info.id)
        for (slug, _) in plan.entryValues where listAttributes[slug]?.writable != true {
            throw StageFailure(
                .config,
                "--entry-value \(slug): Attio list '\(info.slug)' has no writable attribute '\(slug)' (\(listAttributes.keys.sorted().joined(separator: ", ")))"
            )
        }
    }

    func check(_ context: StageContext) throws -> CheckReport {
        let plan = try configure(context.settings)
        let endpoint = try ServiceEndpoint.resolve(.attio, settings: context.settings)
        var options = http
        options.httpCache = false  // nothing stored
        let api = AttioAPI(endpoint: endpoint, http: try context.makeHTTPClient(options), readOnly: true)
        _ = try Self.peopleAttributes(api, plan: plan)
        var warnings: [String] = []
        var target: CheckTarget?
        if let given = plan.list {
            let info = try AttioWriter.resolveList(given, api: api)
            try Self.checkList(info, label: "'\(info.name)' (\(info.slug))", api: api, plan: plan)
            target = CheckTarget(given: given, id: info.id, name: info.name)
        } else if !plan.entryValues.isEmpty {
            throw StageFailure(.usage, "--entry-value needs --list")
        }
        if plan.job == nil, plan.note != nil, !plan.dryRun {
            warnings.append("no --job or CMO_JOB_ID: notes would belong to the run, so a re-run would add them again; give --job")
        }
        return CheckReport(target: target, warnings: warnings)
    }
}
