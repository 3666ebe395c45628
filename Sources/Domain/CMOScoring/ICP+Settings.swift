import CMOBasics
import Foundation

extension ICP {
    /// Finds the ICP a run uses: `--icp FILE`, else the config's `icp` key (a file path, or the ICP
    /// mapping itself, inline), else `CMO_ICP` (a file path), else the built-in profile
    /// (`examples/icp.yaml`). Returns the ICP and a description of where it came from.
    public static func resolve(_ settings: Settings, flag: String?) throws -> (ICP, String) {
        if flag == nil, let inline = settings.configValue("icp"), !(inline is String) {
            let source = "ICP in config '\(settings.configPath ?? "")'"
            return (try parse(value: inline, source: source), "inline in \(settings.configPath ?? "config")")
        }
        if let path = try settings.resolvePath("icp", flag: flag, env: "CMO_ICP") {
            return (try load(path: path), path)
        }
        return (try builtIn(), "built-in (examples/icp.yaml)")
    }

    /// The reference time for recency: `--as-of`, else the config's `as-of`, else `CMO_AS_OF`, else the
    /// ICP's `as_of`, else the start of the current UTC day (so runs on one day agree).
    public func resolveAsOf(_ settings: Settings, flag: String?, now: Date = Date()) throws -> (Double, String) {
        // YAML reads an unquoted timestamp as a date, not as text.
        if flag == nil, let date = settings.configValue("as-of") as? Date { return (date.timeIntervalSince1970, "config") }
        if let text: String = try settings.resolve("as-of", flag: flag, env: "CMO_AS_OF") {
            guard let t = ScoreTime.parse(text) else {
                throw StageFailure(
                    flag != nil ? .usage : .config, "'as-of' must be an RFC 3339 time (2026-12-01T00:00:00Z) or a date, not '\(text)'")
            }
            return (t, flag != nil ? "flag" : "config or environment")
        }
        if let asOf { return (asOf, "ICP") }
        return (ScoreTime.startOfDay(now.timeIntervalSince1970), "start of today (UTC)")
    }
}

extension ICP {
    /// The ICP following a campaign: the `in:` lists of the features named `language` and `topic`
    /// replaced by the campaign's languages and topics (when it names any), so a Python campaign
    /// scores Python rather than the profile's fixed list. Returns the names of campaign terms that
    /// had no such feature to go to (for a warning).
    public func following(languages: [String], topics: [String]) -> (ICP, unused: [String]) {
        var unused: [String] = []
        var features = self.features
        for (name, terms) in [("language", languages), ("topic", topics)] where !terms.isEmpty {
            guard let i = features.firstIndex(where: { $0.name == name }) else {
                unused.append(name)
                continue
            }
            let f = features[i]
            features[i] = ICPFeature(name: f.name, expression: f.expression, weight: f.weight, transform: .membership(terms))
        }
        return (ICP(features: features, asOf: asOf, decimals: decimals), unused)
    }

    /// The campaign's languages or topics: the repeated flag (`--language go --language rust`, or a
    /// comma list), else the config's `key` (a list or a comma-separated string); lower-cased, no repeats.
    public static func campaignTerms(_ settings: Settings, key: String, flags: [String]) throws -> [String] {
        var raw: [String] = flags
        if raw.isEmpty, let value = settings.configValue(key) {
            if let list = value as? [Any] {
                raw = try list.map {
                    guard let s = $0 as? String ?? ($0 as? CustomStringConvertible)?.description else {
                        throw StageFailure(.config, "'\(key)' must be a list of names")
                    }
                    return s
                }
            } else if let s = value as? String {
                raw = [s]
            } else {
                throw StageFailure(.config, "'\(key)' must be a list of names or a comma-separated string")
            }
        }
        var out: [String] = []
        for part in raw.flatMap({ $0.split(separator: ",") }) {
            let t = part.trimmingCharacters(in: .whitespaces).lowercased()
            if !t.isEmpty, !out.contains(t) { out.append(t) }
        }
        return out
    }
}
