/// What the agent knows of each stage without running it: its place in the pipeline, what it reads and
/// writes, the field its result goes in, the service it speaks to, and which of its statuses count as done.
/// The one table: the planner, the runner, the report, the chat and triage all read it.
public struct StageDescriptor: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// Reads a service or the records and adds fields; writes nothing outside the machine.
        case read
        /// Writes to a service once per record (keyed, ledgered): needs the approval.
        case writer
        /// Writes a file on this machine.
        case export
    }

    public let name: String
    public let kind: Kind
    /// The record field the stage adds its result under (`instantly`, `attio`, `linear`), for writers.
    public let resultField: String?
    /// The service it speaks to, as the report names it (nil: none).
    public let service: String?
    /// The writer's flag that names where it writes (`--campaign`, `--list`, `--team`).
    public let targetFlag: String?
    /// The status that means "written as asked" (the funnel's bar); the others are drops with a reason.
    public let doneStatus: WriterStatus?
    /// Every status the stage may give a record.
    public let statuses: [WriterStatus]
    /// The funnel's key and label for what this stage leaves (`queued` / "queued in Instantly").
    public let funnelKey: String?
    public let funnelLabel: String?
    /// Whether triage watches its failures.
    public let triaged: Bool

    public init(
        _ name: String, _ kind: Kind, resultField: String? = nil, service: String? = nil, targetFlag: String? = nil,
        doneStatus: WriterStatus? = nil, statuses: [WriterStatus] = [], funnelKey: String? = nil, funnelLabel: String? = nil,
        triaged: Bool = false
    ) {
        self.name = name
        self.kind = kind
        self.resultField = resultField
        self.service = service
        self.targetFlag = targetFlag
        self.doneStatus = doneStatus
        self.statuses = statuses
        self.funnelKey = funnelKey
        self.funnelLabel = funnelLabel
        self.triaged = triaged
    }
}

/// Every stage cmo-plan runs, in pipeline order.
public enum StageRegistry {
    public static let ghSearch = StageDescriptor("gh-search", .read, service: "GitHub", funnelKey: "repositories", funnelLabel: "repositories")
    public static let ghPeople = StageDescriptor("gh-people", .read, service: "GitHub", funnelKey: "people", funnelLabel: "people")
    public static let ghEnrich = StageDescriptor("gh-enrich", .read, service: "GitHub", funnelKey: "with_email", funnelLabel: "with an email")
    public static let mxCheck = StageDescriptor("mx-check", .read, service: "DNS", funnelKey: "verified", funnelLabel: "verified")
    public static let scoreICP = StageDescriptor("score-icp", .read, funnelKey: "scored", funnelLabel: "scored")
    public static let renderCopy = StageDescriptor(
        "render-copy", .read, service: "OpenAI-compatible model", funnelKey: "rendered", funnelLabel: "rendered")
    public static let sendInstantly = StageDescriptor(
        "send-instantly", .writer, resultField: "instantly", service: "Instantly", targetFlag: "--campaign", doneStatus: .queued,
        statuses: [.queued, .alreadyQueued, .duplicate, .suppressed, .deferred, .skipped, .dryRun, .failed], funnelKey: "queued",
        funnelLabel: "queued in Instantly", triaged: true)
    public static let syncAttio = StageDescriptor(
        "sync-attio", .writer, resultField: "attio", service: "Attio", targetFlag: "--list", doneStatus: .synced,
        statuses: [.synced, .suppressed, .skipped, .duplicate, .deferred, .dryRun, .failed], funnelKey: "synced",
        funnelLabel: "synced to Attio", triaged: true)
    public static let syncLinear = StageDescriptor(
        "sync-linear", .writer, resultField: "linear", service: "Linear", targetFlag: "--team",
        statuses: [.created, .counted, .alreadyCounted, .ignored, .dryRun, .failed])
    public static let exportCSV = StageDescriptor("export-csv", .export)

    /// The discovery pass, in order: search → people → enrich → verify → score → copy.
    public static let read: [StageDescriptor] = [ghSearch, ghPeople, ghEnrich, mxCheck, scoreICP, renderCopy]
    /// The writers, in the order they run: Instantly → Attio → Linear.
    public static let writers: [StageDescriptor] = [sendInstantly, syncAttio, syncLinear]
    /// Every stage cmo-plan spawns, in pipeline order.
    public static let all: [StageDescriptor] = read + writers + [exportCSV]

    public static let readNames = read.map(\.name)
    public static let writerNames = Set(writers.map(\.name))

    private static let byName = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
    public static subscript(_ name: String) -> StageDescriptor? { byName[name] }

    /// The discovery stage that comes right before `name` (nil for the first, and for any other stage).
    public static func readStage(before name: String) -> String? {
        guard let k = readNames.firstIndex(of: name), k > 0 else { return nil }
        return readNames[k - 1]
    }
}
