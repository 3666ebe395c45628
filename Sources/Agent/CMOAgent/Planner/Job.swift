import CMOContract
import Foundation

/// What a campaign asks for, as `cmo-plan parse` prints it: fixed field names, absent when the goal does not say.
public struct Job: Codable, Equatable, Sendable {
    public var target: Int?
    public var languages: [String]?
    public var topics: [String]?
    public var activeDays: Int?
    public var minStars: Int?
    public var instantlyCampaign: String?
    public var attioList: String?
    public var linearTeam: String?
    public var export: Bool?
    public var dryRun: Bool?

    public init() {}

    /// Where the job has a writer write: the campaign, list or team it names (nil: the job does not use it).
    public func target(of writer: StageDescriptor) -> String? {
        switch writer.name {
        case StageRegistry.sendInstantly.name: return instantlyCampaign
        case StageRegistry.syncAttio.name: return attioList
        case StageRegistry.syncLinear.name: return linearTeam
        default: return nil
        }
    }

    /// The fields' names, as `cmo-plan parse` prints them and job files and `set_job` name them.
    public static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case target, languages, topics
        case activeDays = "active_days"
        case minStars = "min_stars"
        case instantlyCampaign = "instantly_campaign"
        case attioList = "attio_list"
        case linearTeam = "linear_team"
        case export
        case dryRun = "dry_run"
    }
}
