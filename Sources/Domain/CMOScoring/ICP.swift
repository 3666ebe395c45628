import CMOBasics
import Foundation
import Yams

/// How a feature's raw value becomes a number in 0...1 before it is weighted.
public enum ScoreTransform: Equatable, Sendable {
    /// No transform: a boolean is 1 or 0, a number is clamped to 0...1.
    case none
    /// A number, clamped to 0...cap, divided by cap.
    case cap(Double)
    /// A number on a log scale: ln(1 + x) / ln(1 + cap), clamped to 0...1 (x < 0 counts as 0).
    case log(Double)
    /// A time (RFC 3339 text, `YYYY-MM-DD`, or epoch seconds) decayed by age: 0.5^(days before as_of / half-life);
    /// a time after as_of is 1.
    case recency(halfLifeDays: Double)
    /// A string, or an array of strings: 1 when it (or any element) is in the list, ASCII case-insensitively; else 0.
    case membership([String])
}

/// One scoring feature of an ICP: a jq expression over the record, a weight and a transform.
public struct ICPFeature: Equatable, Sendable {
    /// The name used as the key in `score_breakdown`.
    public let name: String
    /// The jq expression that reads the feature's raw value from a record.
    public let expression: String
    /// What the feature's 0...1 value is multiplied by.
    public let weight: Double
    /// How the raw value is normalised to 0...1.
    public let transform: ScoreTransform

    public init(name: String, expression: String, weight: Double, transform: ScoreTransform = .none) {
        self.name = name
        self.expression = expression
        self.weight = weight
        self.transform = transform
    }
}

/// An ideal-customer profile: the features a lead is scored on, read from YAML (see docs/score-icp.md).
public struct ICP: Equatable, Sendable {
    /// The features, in the order they appear in `score_breakdown`.
    public let features: [ICPFeature]
    /// The reference time for recency decay, in epoch seconds, when the ICP fixes one.
    public let asOf: Double?
    /// Decimal places every contribution is rounded to (0...9); the score is their exact sum.
    public let decimals: Int

    /// The most decimals a score may carry (keeps contributions exact in 64-bit integers).
    public static let maxDecimals = 9
    /// The largest absolute weight accepted.
    public static let maxWeight = 1_000_000.0

    public init(features: [ICPFeature], asOf: Double? = nil, decimals: Int = 4) {
        self.features = features
        self.asOf = asOf
        self.decimals = decimals
    }

    /// Loads an ICP from a YAML file; any problem is a configuration error (exit 78) naming the file.
    public static func load(path: String) throws -> ICP {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw StageFailure(.config, "cannot read ICP '\(path)': \(error.localizedDescription)")
        }
        return try parse(yaml: text, source: "ICP '\(path)'")
    }

    /// Parses an ICP from YAML text; `source` names it in error messages (`ICP 'icp.yaml'`).
    public static func parse(yaml text: String, source: String) throws -> ICP {
        let loaded: Any?
        do {
            loaded = try Yams.load(yaml: text)
        } catch {
            throw StageFailure(.config, "\(source) is not valid YAML: \(error)")
        }
        guard let loaded else { throw StageFailure(.config, "\(source) is empty: it needs a 'features' list") }
        return try parse(value: loaded, source: source)
    }

    /// Builds an ICP from a YAML value already loaded (a mapping), as found inline in a config file.
    public static func parse(value: Any, source: String) throws -> ICP {
        func fail(_ problem: String) -> StageFailure { StageFailure(.config, "\(source): \(problem)") }
        guard let top = value as? [String: Any] else { throw fail("must be a YAML mapping with a 'features' list") }
        for key in top.keys.sorted() where !["features", "as_of", "as-of", "decimals"].contains(key) {
            throw fail("unknown key '\(key)' (expected features, as_of, decimals)")
        }
        var decimals = 4
        if let raw = top["decimals"] {
            guard let d = raw as? Int, (0...maxDecimals).contains(d) else {
                throw fail("'decimals' must be a whole number from 0 to \(maxDecimals), not \(raw)")
            }
            decimals = d
        }
        var asOf: Double?
        if let raw = top["as_of"] ?? top["as-of"] {
            if let date = raw as? Date {
                asOf = date.timeIntervalSince1970
            } else if let text = raw as? String, let t = ScoreTime.parse(text) {
                asOf = t
            } else {
                throw fail("'as_of' must be an RFC 3339 time (2026-12-01T00:00:00Z) or a date (2026-12-01), not \(raw)")
            }
        }
        guard let list = top["features"] else { throw fail("'features' is missing: list the features to score on") }
        guard let items = list as? [Any], !items.isEmpty else {
            throw fail("'features' must be a non-empty list of {name, jq, weight, transform}")
        }
        var features: [ICPFeature] = []
        for (n, item) in items.enumerated() {
            let feature = try parseFeature(item, index: n, source: source)
            if features.contains(where: { $0.name == feature.name }) { throw fail("feature name '\(feature.name)' is used twice") }
            features.append(feature)
        }
        return ICP(features: features, asOf: asOf, decimals: decimals)
    }

    private static func parseFeature(_ item: Any, index: Int, source: String) throws -> ICPFeature {
        var label = "features[\(index)]"
        func fail(_ problem: String) -> StageFailure { StageFailure(.config, "\(source): \(label): \(problem)") }
        guard let spec = item as? [String: Any] else { throw fail("must be a mapping with name, jq, weight and optional transform") }
        guard let name = spec["name"] as? String, !name.isEmpty else { throw fail("'name' must be a non-empty string") }
        label += " ('\(name)')"
        for key in spec.keys.sorted() where !["name", "jq", "weight", "transform"].contains(key) {
            throw fail("unknown key '\(key)' (expected name, jq, weight, transform)")
        }
        guard name != "errors" else { throw fail("'errors' is reserved for the list of features that failed") }
        guard let expression = spec["jq"] as? String, !expression.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw fail("'jq' must be a jq expression (a string)")
        }
        guard let weight = number(spec["weight"]), weight.isFinite, abs(weight) <= maxWeight else {
            throw fail("'weight' must be a number between -\(Int(maxWeight)) and \(Int(maxWeight))")
        }
        var transform = ScoreTransform.none
        if let raw = spec["transform"] {
            guard let t = raw as? [String: Any], t.count == 1, let (kind, arg) = t.first else {
                throw fail("'transform' must be one of {cap: N}, {log: N}, {half_life_days: N}, {in: [...]}")
            }
            switch kind {
            case "cap", "log", "half_life_days", "half-life-days":
                guard let v = number(arg), v.isFinite, v > 0 else { throw fail("transform '\(kind)' needs a number more than 0") }
                transform = kind == "cap" ? .cap(v) : kind == "log" ? .log(v) : .recency(halfLifeDays: v)
            case "in":
                guard let list = arg as? [Any], let strings = list as? [String] else {
                    throw fail("transform 'in' needs a list of strings (quote values YAML would read otherwise, like 'yes' or 1.0)")
                }
                transform = .membership(strings)
            default:
                throw fail("unknown transform '\(kind)' (expected cap, log, half_life_days or in)")
            }
        }
        return ICPFeature(name: name, expression: expression, weight: weight, transform: transform)
    }

    private static func number(_ raw: Any?) -> Double? {
        switch raw {
        case let i as Int: return Double(i)
        case let d as Double: return d
        default: return nil
        }
    }
}
