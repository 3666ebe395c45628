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
    /// Consent to widen past the goal (the window, the star floor, the topics) when fewer leads pass than
    /// the target. Without it a job is never widened past what the goal says unless a person agrees.
    public var widen: Bool?

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
    public static var fieldNames: [String] { fields.map(\.name) }

    /// A field of a job: its name, what kind of value it takes, what it means, and its range. The one
    /// list every reader and writer of a job goes by: `json()`, job files, the model's `set_job` tool
    /// and its check.
    public struct Field: Sendable {
        public enum Kind: Sendable {
            /// A whole number ("2k" in a job file is 2000).
            case count
            /// A list of names (one name alone is a list of one).
            case names
            /// An id, copied as written.
            case id
            case flag
        }
        public let name: String
        public let kind: Kind
        public let help: String
        public let range: ClosedRange<Int>?
        init(_ name: CodingKeys, _ kind: Kind, _ help: String, _ range: ClosedRange<Int>? = nil) {
            (self.name, self.kind, self.help, self.range) = (name.rawValue, kind, help, range)
        }
    }

    public static let maxTarget = 1_000_000
    public static let maxDays = 3650
    /// The highest star floor a goal, a job file or a model may set.
    public static let maxStars = 10_000_000

    /// In the order `cmo-plan parse` prints them.
    public static let fields: [Field] = [
        Field(.target, .count, "Leads wanted (2k → 2000).", 1...maxTarget),
        Field(.languages, .names, "Programming languages, lower-case."),
        Field(.topics, .names, "GitHub topics."),
        Field(.activeDays, .count, "Activity window in days.", 1...maxDays),
        Field(.minStars, .count, "Least stars a repository needs.", 0...maxStars),
        Field(.instantlyCampaign, .id, "The Instantly campaign, as the goal writes it."),
        Field(.attioList, .id, "The Attio list, as the goal writes it."),
        Field(.linearTeam, .id, "The Linear team, as the goal writes it."),
        Field(.export, .flag, "Export a CSV."),
        Field(.dryRun, .flag, "Write nothing anywhere."),
        Field(.widen, .flag, "Widen the window, star floor or topics past the goal when fewer leads pass (otherwise a person is asked, or the job finishes short)."),
    ]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case target, languages, topics
        case activeDays = "active_days"
        case minStars = "min_stars"
        case instantlyCampaign = "instantly_campaign"
        case attioList = "attio_list"
        case linearTeam = "linear_team"
        case export
        case dryRun = "dry_run"
        case widen
    }
}
