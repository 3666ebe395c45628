import CMOBasics
import Foundation

/// Why a feature's value could not be scored (the feature then contributes 0 and is named in `errors`).
public struct FeatureProblem: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension ScoreTransform {
    /// The 0...1 value of a raw feature value at reference time `asOf` (epoch seconds). Null (a
    /// missing field) is 0; a value of a type the transform does not read is a problem.
    public func normalise(_ v: FeatureValue, asOf: Double, members: Set<String>? = nil) throws(FeatureProblem) -> Double {
        if case .null = v { return 0 }
        let out: Double
        switch (self, v) {
        case (.none, .bool(let b)): out = b ? 1 : 0
        case (.none, .number(let x)): out = min(max(x, 0), 1)
        case (.cap(let c), .number(let x)): out = min(max(x, 0), c) / c
        case (.log(let c), .number(let x)): out = min(log1p(max(x, 0)) / log1p(c), 1)
        case (.recency(let h), .number(let t)): out = ScoreTransform.decay(at: t, asOf: asOf, halfLifeDays: h)
        case (.recency(let h), .string(let s)):
            guard let t = ScoreTime.parse(s) else { throw FeatureProblem("'\(s.prefix(40))' is not an RFC 3339 time") }
            out = ScoreTransform.decay(at: t, asOf: asOf, halfLifeDays: h)
        case (.membership(let list), .string(let s)):
            out = (members ?? ScoreTransform.memberSet(list)).contains(ScoreTransform.asciiLowercased(s)) ? 1 : 0
        case (.membership(let list), .strings(let a)):
            let set = members ?? ScoreTransform.memberSet(list)
            out = a.contains { set.contains(ScoreTransform.asciiLowercased($0)) } ? 1 : 0
        default:
            throw FeatureProblem("\(typeExpected) expected, got \(v.typeName)")
        }
        guard out.isFinite else { throw FeatureProblem("the value is not a finite number") }
        return out
    }

    private var typeExpected: String {
        switch self {
        case .none: return "a number or boolean"
        case .cap, .log: return "a number"
        case .recency: return "a time (RFC 3339 text or epoch seconds)"
        case .membership: return "a string or an array of strings"
        }
    }

    static func decay(at t: Double, asOf: Double, halfLifeDays h: Double) -> Double {
        let ageDays = (asOf - t) / ScoreTime.day
        return ageDays <= 0 ? 1 : pow(0.5, ageDays / h)
    }

    /// The list as the set `in` compares with (ASCII lowercase, like jq's `ascii_downcase`).
    public static func memberSet(_ list: [String]) -> Set<String> { Set(list.map(asciiLowercased)) }

    /// `s` with A–Z lowered and every other character kept (jq's `ascii_downcase`).
    public static func asciiLowercased(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return s }
        return String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 32 : $0 }, as: UTF8.self)
    }
}

/// One record's score: each feature's contribution in units of 10^-decimals, their sum, and the
/// features that failed.
public struct ICPScore: Equatable, Sendable {
    /// Contributions in the ICP's feature order, in units of 10^-decimals.
    public var contributions: [Int]
    /// Indexes of the features whose expression or value failed, with why.
    public var errors: [(feature: Int, problem: String)]
    /// The score in units of 10^-decimals: exactly the sum of the contributions.
    public var total: Int { contributions.reduce(0, +) }

    public static func == (a: ICPScore, b: ICPScore) -> Bool {
        a.contributions == b.contributions && a.errors.map(\.feature) == b.errors.map(\.feature)
            && a.errors.map(\.problem) == b.errors.map(\.problem)
    }
}

/// Scores records against an ICP. Each contribution is weight × value rounded (half away from zero)
/// to the ICP's decimals, kept as an integer count of 10^-decimals, so the printed score is exactly the
/// sum of the printed contributions and output is byte-identical from run to run.
public final class Scorer {
    /// The profile scored against.
    public let icp: ICP
    /// The reference time for recency decay (epoch seconds).
    public let asOf: Double
    /// The features' expressions, in ICP order.
    public let expressions: [FeatureExpression]
    private let members: [Set<String>?]
    private let scale: Double

    /// Prepares every feature's expression (a bad jq expression throws a usage error naming the feature).
    public init(icp: ICP, asOf: Double) throws {
        self.icp = icp
        self.asOf = asOf
        expressions = try icp.features.map { f in
            do {
                return try FeatureExpression(f.expression)
            } catch let e as StageFailure {
                throw StageFailure(e.exitStatus, "feature '\(f.name)': \(e.message)")
            }
        }
        members = icp.features.map { f in
            if case .membership(let list) = f.transform { return ScoreTransform.memberSet(list) }
            return nil
        }
        var s = 1.0
        for _ in 0..<icp.decimals { s *= 10 }
        scale = s
    }

    /// Scores one record; never throws: a failing feature contributes 0 and is listed in `errors`.
    public func score(_ record: Record) -> ICPScore {
        var result = ICPScore(contributions: [], errors: [])
        result.contributions.reserveCapacity(expressions.count)
        for (n, feature) in icp.features.enumerated() {
            let value: Double
            switch expressions[n].evaluate(record) {
            case .failure(let e):
                result.errors.append((n, "jq: \(e.message)"))
                value = 0
            case .success(let raw):
                do {
                    value = try feature.transform.normalise(raw, asOf: asOf, members: members[n])
                } catch {
                    result.errors.append((n, error.message))
                    value = 0
                }
            }
            result.contributions.append(units(feature.weight * value))
        }
        return result
    }

    /// A weighted value in units of 10^-decimals, rounded half away from zero.
    public func units(_ weighted: Double) -> Int { Int((weighted * scale).rounded(.toNearestOrAwayFromZero)) }

    /// Units as a JSON number with exactly `decimals` decimal places (`0.4213`, `-0.0500`, `1`).
    public func decimalText(_ units: Int) -> String {
        let d = icp.decimals
        guard d > 0 else { return String(units) }
        let magnitude = units.magnitude
        var frac = String(magnitude % UInt(scale))
        frac = String(repeating: "0", count: d - frac.count) + frac
        return (units < 0 ? "-" : "") + String(magnitude / UInt(scale)) + "." + frac
    }

    /// The `score` value.
    public func scoreJSON(_ s: ICPScore) -> JSONValue { .number(decimalText(s.total)) }

    /// The `score_breakdown` object: every feature's contribution in ICP order, then `errors` (the names
    /// of the features that failed) when any did.
    public func breakdownJSON(_ s: ICPScore) -> JSONValue {
        var members: [JSONMember] = []
        members.reserveCapacity(s.contributions.count + 1)
        for (n, c) in s.contributions.enumerated() { members.append(JSONMember(icp.features[n].name, .number(decimalText(c)))) }
        if !s.errors.isEmpty { members.append(JSONMember("errors", .array(s.errors.map { .string(icp.features[$0.feature].name) }))) }
        return .object(members)
    }

    /// `record` with `score` and `score_breakdown` set.
    public func annotate(_ record: Record, with s: ICPScore) -> Record {
        var out = record
        out.set("score", scoreJSON(s))
        out.set("score_breakdown", breakdownJSON(s))
        return out
    }
}
