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
        if let path: String = try settings.resolve("icp", flag: flag, env: "CMO_ICP") {
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
