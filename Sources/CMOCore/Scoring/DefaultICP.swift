/// The ICP score-icp uses when none is configured: the same profile as `examples/icp.yaml`
/// (`ScoringICPTests` checks the two stay equal).
extension ICP {
    /// The built-in profile's YAML text.
    public static let defaultYAML = #"""
        # The default ideal-customer profile for score-icp (docs/score-icp.md): the original design's
        # weighting. Each feature's value is normalised to 0..1 by its transform, multiplied by its weight,
        # and rounded to `decimals` places; the score is the sum. The weights add up to 1, so scores are 0..1.
        #
        # Use it with `score-icp --icp examples/icp.yaml`, or put the same mapping under `icp:` in a
        # `score-icp:` section of a --config file. Without either, score-icp uses this profile built in.

        decimals: 4
        # as_of: 2026-12-01T00:00:00Z   # reference time for recency; default: the start of today (UTC)

        features:
          - name: stars                 # the most-starred repository the person came from
            jq: .signals.repo_stars
            weight: 0.3
            transform: {log: 10000}     # ln(1+x)/ln(1+10000): 10 stars = 0.26, 100 = 0.50, 10k+ = 1

          - name: recency               # how recently they committed
            jq: .signals.last_commit_at
            weight: 0.25
            transform: {half_life_days: 30}   # 1 today, 0.5 a month ago, 0.25 two months ago

          - name: language              # primary language is one we sell to
            jq: .signals.primary_language
            weight: 0.2
            transform: {in: [Go, Rust, Python, TypeScript, C, C++]}

          - name: topic                 # any of their repositories' topics is one we care about
            jq: .signals.topics
            weight: 0.15
            transform: {in: [devops, cli, infra, infrastructure, networking, database, observability, kubernetes, security]}

          - name: followers             # reach
            jq: .followers
            weight: 0.1
            transform: {log: 1000}      # 10 followers = 0.35, 100 = 0.67, 1000+ = 1
        """#

    /// The built-in profile.
    public static func builtIn() throws -> ICP { try parse(yaml: defaultYAML, source: "the built-in ICP") }
}
