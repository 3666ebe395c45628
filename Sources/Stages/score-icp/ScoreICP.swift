import ArgumentParser
import CMOBasics
import CMOStageKit
import CMOScoring
import Foundation

@main
struct ScoreICP: Stage {
    static let stageName = "score-icp"
    static let configuration = CommandConfiguration(
        commandName: stageName,
        abstract: "Score each person record against an ideal-customer profile (ICP), with a breakdown anyone can audit.",
        discussion: """
            INPUT
              Person records (any records work: every feature reads what it needs with a jq expression). A \
            line that is not a JSON object is dead-lettered with its line number.

            OUTPUT
              Each record, every field kept, plus 'score' and 'score_breakdown' {feature: contribution, ..., \
            errors: [features that failed]}. A feature's value is normalised to 0..1 by its transform (cap, \
            log, half_life_days, in), times its weight, rounded half away from zero to the ICP's 'decimals' \
            (default 4) and printed with exactly that many decimals; the score is the exact sum of the printed \
            contributions. With weights adding up to 1 (as in the default ICP) the score is 0..1. A feature \
            whose expression fails, or gives a value of the wrong type, contributes 0 and is named in 'errors'; \
            null (a missing field) contributes 0 without being an error. Same input and ICP and --as-of: \
            byte-identical output. Records come out in input order; with --top N, the best N at the end, \
            best first (ties: lower id, then login, then earlier line). --min-score and --top drop records as \
            filtered (reasons min_score, top).

            ICP
              --icp FILE, else 'icp' in the --config file (a path, or the ICP mapping itself), else CMO_ICP, \
            else the built-in profile (examples/icp.yaml: stars 0.3, recency 0.25, language 0.2, topic 0.15, \
            followers 0.1). Format: docs/score-icp.md. The ICP follows the campaign: --language and --topic \
            (or 'languages' and 'topics' in the config) replace the lists of the features named 'language' \
            and 'topic' (the built-in ones read signals.matched, the languages and topics of the \
            repositories a person was found through); without them the ICP's own lists are used. Recency is measured from --as-of, else 'as-of' in \
            the config, else CMO_AS_OF, else the ICP's as_of, else the start of the current UTC day.

            SIDE EFFECTS
              None: reads the ICP file, writes nothing to disk.

            ENVIRONMENT
              CMO_ICP, CMO_AS_OF, CMO_LOG_FORMAT, CMO_DEAD_LETTER, CMO_MAX_ERRORS, NO_COLOR.

            EXIT STATUS
              0 all input accounted for (or the reader downstream closed the pipe), 1 internal error or \
            too many dead letters, 64 bad flags or a feature's jq expression does not compile, 65 input is \
            not NDJSON, 74 stdout cannot be written (disk full), 78 bad config or ICP (unreadable, not YAML, unknown key or transform, wrong type).

            EXAMPLES
              The best 200 of a Python campaign, with the built-in profile scoring Python:
                score-icp --language python --top 200 < verified.ndjson > scored.ndjson
              Your own profile, and why one lead scored as it did:
                score-icp --icp my-icp.yaml < people.ndjson | jq -c '{login, score, score_breakdown}'
            """,
        version: CMOVersion.string
    )

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("Read the ICP (features, weights, transforms) from this YAML file.", valueName: "file"))
    var icp: String?

    @Option(
        help: ArgumentHelp(
            "Reference time for recency decay: 2026-12-01T00:00:00Z or 2026-12-01 (default: start of today, UTC).", valueName: "time"))
    var asOf: String?

    @Option(
        name: .customLong("language"),
        help: ArgumentHelp(
            "A language the campaign asked for; repeat or comma-separate. Replaces the list of the ICP's 'language' feature.",
            valueName: "name"))
    var languages: [String] = []

    @Option(
        name: .customLong("topic"),
        help: ArgumentHelp(
            "A topic the campaign asked for; repeat or comma-separate. Replaces the list of the ICP's 'topic' feature.",
            valueName: "name"))
    var topics: [String] = []

    @Option(help: ArgumentHelp("Drop records whose score is below this (counted as filtered).", valueName: "x"))
    var minScore: Double?

    @Option(help: ArgumentHelp("Keep only the N best records, written best first at the end (memory: N records).", valueName: "n"))
    var top: Int?

    struct Plan {
        var scorer: Scorer
        var minScore: Int?
        var top: Int?
        var icpSource: String
        var asOfSource: String
        var warnings: [String]
        var campaign: (languages: [String], topics: [String])
    }

    func validate() throws {
        if let top, top < 1 { throw ValidationError("'--top' must be 1 or more") }
        if let minScore, !minScore.isFinite { throw ValidationError("'--min-score' must be a number") }
        if let asOf, ScoreTime.parse(asOf) == nil {
            throw ValidationError("'--as-of' must be an RFC 3339 time (2026-12-01T00:00:00Z) or a date (2026-12-01)")
        }
    }

    func configure(_ settings: Settings) throws -> Plan {
        var warnings: [String] = []
        let (configured, source) = try ICP.resolve(settings, flag: icp)
        let campaignLanguages = try ICP.campaignTerms(settings, key: "languages", flags: languages)
        let campaignTopics = try ICP.campaignTerms(settings, key: "topics", flags: topics)
        let (profile, unused) = configured.following(languages: campaignLanguages, topics: campaignTopics)
        for name in unused {
            warnings.append("the campaign names \(name)s but ICP \(source) has no feature named '\(name)': they are not scored")
        }
        let (asOfTime, asOfSource) = try profile.resolveAsOf(settings, flag: asOf)
        let scorer = try Scorer(icp: profile, asOf: asOfTime)
        let minimum: Double? = try settings.resolve("min-score", flag: minScore)
        let topN: Int? = try settings.resolve("top", flag: top)
        if let topN, topN < 1 { throw StageFailure(.config, "'top' must be 1 or more, not \(topN)") }
        // Kept when the printed score is at least the minimum: compare in the score's own units.
        // (Clamped: no score reaches ±9e15 units, and a larger Double would not convert to Int.)
        let minUnits = minimum.map { Int(min(max(($0 * pow(10, Double(profile.decimals)) - 1e-6).rounded(.up), -9e15), 9e15)) }
        return Plan(
            scorer: scorer, minScore: minUnits, top: topN, icpSource: source, asOfSource: asOfSource, warnings: warnings,
            campaign: (campaignLanguages, campaignTopics))
    }

    func process(_ context: StageContext, plan: Plan) throws {
        let scorer = plan.scorer
        var failures = [Int](repeating: 0, count: scorer.icp.features.count)
        context.logger.debug("scoring with ICP \(plan.icpSource), as of \(ScoreTime.format(scorer.asOf)) (\(plan.asOfSource))")
        for w in plan.warnings { context.logger.warning(w) }
        if !plan.campaign.languages.isEmpty || !plan.campaign.topics.isEmpty {
            context.logger.info(
                "scoring for the campaign's "
                    + [("languages", plan.campaign.languages), ("topics", plan.campaign.topics)].filter { !$0.1.isEmpty }
                    .map { "\($0.0) \($0.1.joined(separator: ", "))" }.joined(separator: " and "))
        }
        defer {
            context.extraSummary.append(("as_of", .string(ScoreTime.format(scorer.asOf))))
            let failed = scorer.icp.features.indices.filter { failures[$0] > 0 }
            if !failed.isEmpty {
                context.extraSummary.append(
                    ("feature_errors", .object(failed.map { JSONMember(scorer.icp.features[$0].name, .int(failures[$0])) })))
            }
        }
        var best = plan.top.map { TopN<(ScoreRank, Record)>(capacity: $0) { ScoreRank.isBetter($0.0, $1.0) } }
        try context.forEachRecord { record in
            let s = scorer.score(record)
            for (n, problem) in s.errors {
                failures[n] += 1
                if failures[n] <= 3 {
                    context.logger.debug("line \(record.line): feature '\(scorer.icp.features[n].name)': \(problem)")
                }
            }
            if let minimum = plan.minScore, s.total < minimum {
                context.filter(record, reason: "min_score")
                return
            }
            let out = scorer.annotate(record, with: s)
            if best != nil {
                if let dropped = best!.insert((ScoreRank(record: record, score: s.total), out)) {
                    context.filter(dropped.1, reason: "top")
                }
            } else {
                try context.emit(out)
            }
        }
        if var best {
            let drained = best.drainBestFirst()
            for (_, record) in drained { try context.emit(record) }
            // A shortfall is said, not left to be read from the counts.
            if let top = plan.top, drained.count < top {
                context.logger.warning("\(drained.count) of --top \(top): fewer scored leads than asked for came in; widen the search upstream")
            }
        }
    }
}
