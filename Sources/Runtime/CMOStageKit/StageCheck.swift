import ArgumentParser
import CMOBasics
import Foundation

/// `--check`, the writers' look before a run: everything the run needs (its config, the key, the
/// service, the target, the schedule) checked with reads only. No input is read, nothing is written
/// to the service, the ledger or stdout but the one JSON object (docs/contracts.md, "--check").
public struct CheckOptions: ParsableArguments {
    @Flag(
        name: .customLong("check"),
        help: """
            Check what a run with these flags needs (config, key, service, target, schedule) with reads only, \
            print one JSON object on stdout and exit as the run would (0, 64, 69, 75, 77, 78); read no input, write nothing.
            """)
    public var enabled = false

    public init() {}
}

/// What a writer's check found.
public struct CheckReport {
    /// The target as given and as the service knows it; nil when the run has none (a dry run without one).
    public var target: CheckTarget?
    /// What the run would warn about (also logged on stderr).
    public var warnings: [String]
    /// The stage's own facts, at the top level of the JSON object (send-instantly: the schedule).
    public var facts: [JSONMember]

    public init(target: CheckTarget?, warnings: [String] = [], facts: [JSONMember] = []) {
        self.target = target
        self.warnings = warnings
        self.facts = facts
    }
}

/// A writer's target (a campaign, a list, a team): what was given and what it resolved to.
public struct CheckTarget: Sendable, Equatable {
    public var given: String
    public var id: String
    public var name: String

    public init(given: String, id: String, name: String) {
        self.given = given
        self.id = id
        self.name = name
    }

    public var json: JSONValue { .object([JSONMember("given", .string(given)), JSONMember("id", .string(id)), JSONMember("name", .string(name))]) }
}

/// A target that does not exist, or a name that several share: refused (78) with what a person may
/// have meant, at most 10, each as its name and id.
public struct TargetRefusal: CMOError {
    public let message: String
    public let given: String
    public let candidates: [(id: String, name: String)]

    public init(_ message: String, given: String, candidates: [(id: String, name: String)]) {
        self.message = message
        self.given = given
        self.candidates = Array(candidates.prefix(10))
    }

    public var exitStatus: ExitStatus { .config }
    public var description: String {
        guard !candidates.isEmpty else { return message }
        return message + "; candidates: " + candidates.map { "'\($0.name)' (\($0.id))" }.joined(separator: ", ")
    }
    public var candidatesJSON: JSONValue {
        .array(candidates.map { .object([JSONMember("id", .string($0.id)), JSONMember("name", .string($0.name))]) })
    }
    public var logFields: [String: JSONValue] { ["candidates": candidatesJSON] }

    /// Finds `given` among `items` by id (exact, case-insensitive) or by name (exact first, then
    /// ignoring case and surrounding spaces): one match is the target; several, or none, are refused
    /// with the candidates (the ambiguous ones, or the nearest names). `what` names the kind of
    /// target in messages ("Instantly campaign"), `flag` the option to give an id with.
    public static func match(
        _ given: String, in items: [(id: String, name: String)], what: String, flag: String, alsoMatching: [(id: String, key: String)] = []
    ) throws -> (id: String, name: String) {
        let wanted = given.trimmingCharacters(in: .whitespaces)
        if let byID = items.first(where: { $0.id.caseInsensitiveCompare(wanted) == .orderedSame }) { return byID }
        let keyed = alsoMatching.filter { $0.key.caseInsensitiveCompare(wanted) == .orderedSame }.compactMap { k in items.first { $0.id == k.id } }
        var found = items.filter { $0.name == wanted }
        if found.isEmpty { found = items.filter { $0.name.trimmingCharacters(in: .whitespaces).caseInsensitiveCompare(wanted) == .orderedSame } }
        for k in keyed where !found.contains(where: { $0.id == k.id }) { found.append(k) }
        if found.count == 1 { return found[0] }
        if found.count > 1 {
            throw TargetRefusal(
                "\(what) '\(given)' is ambiguous: \(found.count) have that name; give \(flag) with one's id", given: given, candidates: found)
        }
        let nearest = items.map { (item: $0, distance: TextDistance.levenshtein($0.name.lowercased(), wanted.lowercased())) }
            .sorted { $0.distance != $1.distance ? $0.distance < $1.distance : $0.item.name < $1.item.name }.map(\.item)
        throw TargetRefusal(
            items.isEmpty ? "\(what) '\(given)' does not exist, and the workspace has none" : "\(what) '\(given)' does not exist (no id or name matches)",
            given: given, candidates: nearest)
    }
}

/// The stages that take `--check` (the writers). Each supplies its check; `Stage` runs it in place
/// of the run when `--check` is given.
public protocol CheckableStage: Stage {
    var checkOptions: CheckOptions { get }
    /// Checks everything a run with these settings needs, with reads only, and says what was found;
    /// throws what would stop the run (with its exit status).
    func check(_ context: StageContext) throws -> CheckReport
}

/// Runs a check and prints its one JSON object on stdout:
/// `{"stage","check":"ok","target":{given,id,name}|null,"warnings":[…], …facts}`, or on failure
/// `{"stage","check":"failed","status":N,"error":"…"[,"target":{"given"},"candidates":[{id,name}]]}`
/// (the error is also the usual stderr line).
enum StageCheck {
    static func run(_ stage: some CheckableStage, context: StageContext) -> ExitStatus {
        let name = type(of: stage).stageName
        var members = [JSONMember("stage", .string(name))]
        let status: ExitStatus
        do {
            try StageRebuild.verify(stage, context: context)  // a state that lost its history: 78, as the run
            let report = try stage.check(context)
            for w in report.warnings { context.logger.warning(w) }
            members.append(JSONMember("check", "ok"))
            members.append(JSONMember("target", report.target?.json ?? .null))
            members.append(JSONMember("warnings", .array(report.warnings.map { .string($0) })))
            members += report.facts
            status = .ok
        } catch {
            status = CommandBase.report(error, logger: context.logger)
            members = failed(name, status: status, error: error)
        }
        let written = write(members, to: context.output, logger: context.logger)
        return status == .ok ? written : status
    }

    /// The object of a failed check.
    static func failed(_ stage: String, status: ExitStatus, error: Error) -> [JSONMember] {
        var members = [
            JSONMember("stage", .string(stage)), JSONMember("check", "failed"), JSONMember("status", .int(Int(status.rawValue))),
            JSONMember("error", .string(String(describing: error))),
        ]
        if let refusal = error as? TargetRefusal {
            members.append(JSONMember("target", .object([JSONMember("given", .string(refusal.given))])))
            members.append(JSONMember("candidates", refusal.candidatesJSON))
        }
        return members
    }

    /// Writes the one object (a closed stdout is let be: the status still says what the check found).
    /// Writes the check's object; a stdout that refuses it (a full disk) is reported and is the status (74),
    /// a closed reader is not a failure.
    @discardableResult
    static func write(_ members: [JSONMember], to output: CMOBasics.OutputStream, logger: Logger? = nil) -> ExitStatus {
        do {
            try output.write(JSONValue.object(members).compactJSON + "\n")
            try output.flush()
            return .ok
        } catch where error is OutputClosed {
            return .ok
        } catch {
            return logger.map { CommandBase.report(error, logger: $0) } ?? ((error as? any CMOError)?.exitStatus ?? .failure)
        }
    }
}
