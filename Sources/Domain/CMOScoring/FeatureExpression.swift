import CMOBasics
/// A feature's raw value, as its jq expression gave it, in the few shapes the transforms read.
public enum FeatureValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    /// An array whose elements are all strings (the `in` transform reads these).
    case strings([String])
    /// Anything else (an object, an array holding non-strings), by jq's type name.
    case other(String)

    /// The shape of a decoded JSON value.
    public init(_ v: JSONValue) {
        switch v {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .number(let s): self = Double(s).map { .number($0) } ?? .other("number")
        case .string(let s): self = .string(s)
        case .array(let items):
            var out: [String] = []
            out.reserveCapacity(items.count)
            for item in items {
                guard case .string(let s) = item else {
                    self = .other("array")
                    return
                }
                out.append(s)
            }
            self = .strings(out)
        case .object: self = .other("object")
        }
    }

    /// jq's name for the value's type, for error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .strings: return "array"
        case .other(let t): return t
        }
    }
}

/// A feature's jq expression, evaluated natively when it is a plain path (`.followers`,
/// `.signals.repo_stars`) and through libjq otherwise.
///
/// The native path reads the one value it needs from the record's bytes (`Record.lookup`) instead of
/// parsing the whole record into libjq, and defers to libjq wherever jq's answer could differ: a step
/// through a value that is not an object (jq raises an error), an edited record, a number too large for
/// a Double. `ScoringTests` checks the two agree.
public final class FeatureExpression {
    /// The expression as written.
    public let source: String
    /// The path's keys when the expression is a plain path, else nil.
    let path: [[UInt8]]?
    private var compiled: JQProgram?

    /// Parses `source`; a plain path is checked natively, anything else is compiled by libjq now (a bad
    /// expression throws a usage error, exit 64).
    public init(_ source: String) throws {
        self.source = source
        path = FeatureExpression.parsePath(source)
        if path == nil { compiled = try JQProgram(source) }
    }

    /// True when the expression is evaluated without libjq (on records that allow it).
    public var isNative: Bool { path != nil }

    /// The expression's value on `record`: its first output (none counts as null), or jq's error.
    public func evaluate(_ record: Record) -> Result<FeatureValue, JQError> {
        if let v = evaluateNatively(record) { return .success(v) }
        return evaluateWithJQ(record)
    }

    /// The native answer, or nil when libjq must decide.
    func evaluateNatively(_ record: Record) -> FeatureValue? {
        guard let path, !record.isEdited else { return nil }
        let range: Range<Int>
        switch record.lookup(path: path) {
        case .found(let r): range = r
        case .missing: return .null
        case .notAnObject: return nil
        }
        return record.bytes.withUnsafeBufferPointer { buf -> FeatureValue? in
            let v = UnsafeBufferPointer(rebasing: buf[range])
            switch v[0] {
            case UInt8(ascii: "n"): return .null
            case UInt8(ascii: "t"): return .bool(true)
            case UInt8(ascii: "f"): return .bool(false)
            case UInt8(ascii: "{"): return .other("object")
            case UInt8(ascii: "\""):
                let body = UnsafeBufferPointer(rebasing: v[1..<(v.count - 1)])
                return .string(
                    body.contains(UInt8(ascii: "\\")) ? JSONScanner.decodeStringBody(body) : String(decoding: body, as: UTF8.self))
            case UInt8(ascii: "["): return FeatureValue(JSONScanner.decode(v))
            default:
                // jq clamps numbers beyond a Double's range; leave those to it.
                guard let d = Double(String(decoding: v, as: UTF8.self)), d.isFinite else { return nil }
                return .number(d)
            }
        }
    }

    /// The answer through libjq.
    func evaluateWithJQ(_ record: Record) -> Result<FeatureValue, JQError> {
        do {
            if compiled == nil { compiled = try JQProgram(source) }
        } catch {
            return .failure(JQError(message: "\(error)"))
        }
        do {
            return .success(try compiled!.run(record).first.map(FeatureValue.init) ?? .null)
        } catch {
            return .failure(error)
        }
    }

    /// The keys of a plain path expression (`.a.b_c`, spaces around allowed), or nil.
    static func parsePath(_ source: String) -> [[UInt8]]? {
        var parser = FastPredicate.Parser(bytes: Array(source.utf8))
        parser.skipSpace()
        guard let keys = parser.parseKeys() else { return nil }
        parser.skipSpace()
        return parser.i == parser.bytes.count ? keys : nil
    }
}
