/// The fields a person record can carry when it reaches render-copy: the one list the template check
/// (`TemplateCheck`) holds `{{ … }}` variables to. Keep it in step with what the stages write:
///
/// | stage | fields |
/// |---|---|
/// | gh-people (`CMOGitHub/GitHubPeople.swift`) | `kind`, `id`, `login`, `from_repos[]`, `emails[]` {address, source, evidence, last_seen}, `signals` {window_days, window_start, commits_in_window, commits_90d, last_commit_at, maintainer_of[], recent_commit_titles[], repos[] {repo, commits_in_window, last_commit_at, stars, language, commit_titles[]}, repo_stars, repo, repo_language, repo_commits_in_window, repo_last_commit_at, repo_commit_title, matched {languages[], topics[]}} |
/// | gh-enrich | `name`, `company`, `location`, `bio`, `blog`, `twitter`, `followers`, `public_repos`, `hireable`, `signals.primary_language`, `signals.topics[]` |
/// | mx-check | `email_checks[]` {address, verdict, reasons[], flags {role, disposable, free, noreply}, mx}, `best_email` |
/// | score-icp | `score`, `score_breakdown` {one member per ICP feature: any name} |
/// | render-copy `--llm`, or the input | `snippets` {why_now, or any name} |
///
/// A list's items are reached as `.0`, `.first`, `.last` (and `.count`), as Stencil resolves them.
/// A field a pipeline adds of its own (a `jq` step between stages) is named with render-copy's
/// `--record-field NAME` (or `record-field:` in the config).
public enum TemplateFields {
    /// The shape of a field, as far as a template can walk into it.
    public indirect enum Shape: Sendable {
        /// A string, number or boolean.
        case value
        /// A list of items of a shape.
        case list(Shape)
        /// A mapping with these members.
        case object([String: Shape])
        /// A mapping whose members are not fixed (`score_breakdown`, `snippets`).
        case open
    }

    /// A person record at render-copy.
    public static let record: [String: Shape] = [
        // gh-people
        "kind": .value, "id": .value, "login": .value, "from_repos": .list(.value),
        "emails": .list(.object(["address": .value, "source": .value, "evidence": .value, "last_seen": .value])),
        "signals": .object([
            "window_days": .value, "window_start": .value, "commits_in_window": .value, "commits_90d": .value,
            "last_commit_at": .value, "maintainer_of": .list(.value), "recent_commit_titles": .list(.value),
            "repos": .list(
                .object([
                    "repo": .value, "commits_in_window": .value, "last_commit_at": .value, "stars": .value, "language": .value,
                    "commit_titles": .list(.value),
                ])),
            "repo_stars": .value, "repo": .value, "repo_language": .value, "repo_commits_in_window": .value,
            "repo_last_commit_at": .value, "repo_commit_title": .value,
            "matched": .object(["languages": .list(.value), "topics": .list(.value)]),
            // gh-enrich
            "primary_language": .value, "topics": .list(.value),
        ]),
        // gh-enrich
        "name": .value, "company": .value, "location": .value, "bio": .value, "blog": .value, "twitter": .value,
        "followers": .value, "public_repos": .value, "hireable": .value,
        // mx-check
        "email_checks": .list(
            .object([
                "address": .value, "verdict": .value, "reasons": .list(.value),
                "flags": .object(["role": .value, "disposable": .value, "free": .value, "noreply": .value]), "mx": .list(.value),
            ])),
        "best_email": .value,
        // score-icp
        "score": .value, "score_breakdown": .open,
        // render-copy --llm, or the input's own
        "snippets": .open,
    ]

    /// The shape of a YAML value (the config's `campaign:` mapping).
    public static func shape(yaml: Any) -> Shape {
        switch yaml {
        case let d as [String: Any]: return .object(d.mapValues(shape(yaml:)))
        case let d as [AnyHashable: Any]:
            var out: [String: Shape] = [:]
            for (k, v) in d { out["\(k)"] = shape(yaml: v) }
            return .object(out)
        case let a as [Any]: return .list(a.first.map(shape(yaml:)) ?? .value)
        default: return .value
        }
    }

    /// Every path of a shape, dotted (`signals.matched.topics`), lists' items under the list's own name.
    static func paths(_ shape: Shape, prefix: String) -> [String] {
        switch shape {
        case .value, .open: return [prefix]
        case .list(let item): return [prefix] + paths(item, prefix: prefix).filter { $0 != prefix }
        case .object(let members):
            return [prefix] + members.keys.sorted().flatMap { paths(members[$0]!, prefix: prefix.isEmpty ? $0 : prefix + "." + $0) }
        }
    }
}
