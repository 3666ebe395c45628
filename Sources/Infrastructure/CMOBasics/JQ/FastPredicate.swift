/// A native evaluator for the simple jq filters people write in `--where` — comparisons of paths
/// with literals joined by `and`/`or` (`.followers > 100 and .signals.primary_language == "Python"`)
/// — which reads only the fields it needs from a record's raw bytes instead of parsing the whole
/// record into libjq. Anything it does not understand is left to libjq: `parse` returns nil for
/// other expressions, and `evaluate` returns nil for a record where jq's answer could differ
/// (indexing a non-object, comparing arrays or objects), so the result is always jq's.
public struct FastPredicate: Sendable {
    indirect enum Node: Sendable {
        case path([[UInt8]])
        case literal(Scalar)
        case compare(Node, Op, Node)
        case and(Node, Node)
        case or(Node, Node)
    }

    enum Op: String, Sendable {
        case eq = "=="
        case ne = "!="
        case lt = "<"
        case le = "<="
        case gt = ">"
        case ge = ">="
    }

    /// A value the evaluator can compare the way jq does.
    enum Scalar: Sendable {
        case null
        case bool(Bool)
        case number(Double)
        case string([UInt8])

        /// jq orders kinds null < false < true < numbers < strings.
        var rank: Int {
            switch self {
            case .null: return 0
            case .bool(let b): return b ? 2 : 1
            case .number: return 3
            case .string: return 4
            }
        }

        var isTruthy: Bool {
            switch self {
            case .null, .bool(false): return false
            default: return true
            }
        }
    }

    let root: Node

    // MARK: parsing

    /// Parses `expression`, or returns nil when it is not of the simple form.
    public static func parse(_ expression: String) -> FastPredicate? {
        var p = Parser(bytes: Array(expression.utf8))
        guard let node = p.parseOr() else { return nil }
        p.skipSpace()
        guard p.i == p.bytes.count else { return nil }
        return FastPredicate(root: node)
    }

    package struct Parser {
        package let bytes: [UInt8]
        package var i = 0

        package init(bytes: [UInt8]) { self.bytes = bytes }

        package mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D { i += 1 }
        }

        /// `.a.b_c` at the cursor: the keys (identifiers, not starting with a digit), or nil.
        package mutating func parseKeys() -> [[UInt8]]? {
            var keys: [[UInt8]] = []
            while i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                let start = i
                while i < bytes.count, isIdent(bytes[i]) { i += 1 }
                guard i > start, !(bytes[start] >= 0x30 && bytes[start] <= 0x39) else { return nil }
                keys.append(Array(bytes[start..<i]))
            }
            return keys.isEmpty ? nil : keys
        }

        mutating func keyword(_ w: String) -> Bool {
            skipSpace()
            let k = Array(w.utf8)
            guard i + k.count <= bytes.count, Array(bytes[i..<(i + k.count)]) == k else { return false }
            let after = i + k.count
            if after < bytes.count, isIdent(bytes[after]) { return false }
            i = after
            return true
        }

        func isIdent(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x5F }

        mutating func parseOr() -> Node? {
            guard var left = parseAnd() else { return nil }
            while keyword("or") {
                guard let right = parseAnd() else { return nil }
                left = .or(left, right)
            }
            return left
        }

        mutating func parseAnd() -> Node? {
            guard var left = parseCompare() else { return nil }
            while keyword("and") {
                guard let right = parseCompare() else { return nil }
                left = .and(left, right)
            }
            return left
        }

        mutating func parseCompare() -> Node? {
            guard let left = parseOperand() else { return nil }
            skipSpace()
            for op in [Op.eq, .ne, .le, .ge, .lt, .gt] {
                let t = Array(op.rawValue.utf8)
                if i + t.count <= bytes.count, Array(bytes[i..<(i + t.count)]) == t {
                    // `<` must not be the start of `<=` (handled by order), and `=` alone is not jq.
                    i += t.count
                    guard let right = parseOperand() else { return nil }
                    return .compare(left, op, right)
                }
            }
            return left
        }

        mutating func parseOperand() -> Node? {
            skipSpace()
            guard i < bytes.count else { return nil }
            let c = bytes[i]
            if c == UInt8(ascii: "(") {
                i += 1
                guard let inner = parseOr() else { return nil }
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ")") else { return nil }
                i += 1
                return inner
            }
            if c == UInt8(ascii: ".") {
                return parseKeys().map { .path($0) }
            }
            if c == UInt8(ascii: "\"") {
                i += 1
                let start = i
                while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                    if bytes[i] == UInt8(ascii: "\\") || bytes[i] < 0x20 { return nil }  // escapes and \(…) are jq's
                    i += 1
                }
                guard i < bytes.count else { return nil }
                let s = Array(bytes[start..<i])
                i += 1
                return .literal(.string(s))
            }
            if keyword("true") { return .literal(.bool(true)) }
            if keyword("false") { return .literal(.bool(false)) }
            if keyword("null") { return .literal(.null) }
            let start = i
            if c == UInt8(ascii: "-") { i += 1 }
            while i < bytes.count, (bytes[i] >= 0x30 && bytes[i] <= 0x39) || bytes[i] == UInt8(ascii: ".") { i += 1 }
            if i < bytes.count, isIdent(bytes[i]) { return nil }
            guard i > start, let d = Double(String(decoding: bytes[start..<i], as: UTF8.self)) else { return nil }
            return .literal(.number(d))
        }
    }

    // MARK: evaluation

    /// jq's truthiness of the expression on `record`, or nil when libjq must decide.
    public func evaluate(_ record: Record) -> Bool? {
        guard !record.isEdited else { return nil }
        return record.bytes.withUnsafeBufferPointer { buf in
            guard let v = eval(root, record, buf) else { return nil }
            return v.isTruthy
        }
    }

    private func eval(_ node: Node, _ record: Record, _ buf: UnsafeBufferPointer<UInt8>) -> Scalar? {
        switch node {
        case .literal(let s): return s
        case .path(let keys): return lookup(keys, record, buf)
        case .and(let a, let b):
            guard let l = eval(a, record, buf) else { return nil }
            if !l.isTruthy { return .bool(false) }
            guard let r = eval(b, record, buf) else { return nil }
            return .bool(r.isTruthy)
        case .or(let a, let b):
            guard let l = eval(a, record, buf) else { return nil }
            if l.isTruthy { return .bool(true) }
            guard let r = eval(b, record, buf) else { return nil }
            return .bool(r.isTruthy)
        case .compare(let a, let op, let b):
            guard let l = eval(a, record, buf), let r = eval(b, record, buf) else { return nil }
            let c = FastPredicate.compare(l, r)
            switch op {
            case .eq: return .bool(c == 0)
            case .ne: return .bool(c != 0)
            case .lt: return .bool(c < 0)
            case .le: return .bool(c <= 0)
            case .gt: return .bool(c > 0)
            case .ge: return .bool(c >= 0)
            }
        }
    }

    static func compare(_ a: Scalar, _ b: Scalar) -> Int {
        if a.rank != b.rank { return a.rank < b.rank ? -1 : 1 }
        switch (a, b) {
        case (.number(let x), .number(let y)): return x < y ? -1 : x > y ? 1 : 0
        case (.string(let x), .string(let y)):
            // jq 1.6 compares strings bytewise (memcmp), then by length.
            for (p, q) in zip(x, y) where p != q { return p < q ? -1 : 1 }
            return x.count < y.count ? -1 : x.count > y.count ? 1 : 0
        default: return 0
        }
    }

    /// The scalar at a path (`.` alone is the record itself, which is an object: libjq decides).
    private func lookup(_ keys: [[UInt8]], _ record: Record, _ buf: UnsafeBufferPointer<UInt8>) -> Scalar? {
        let range: Range<Int>
        switch record.lookup(path: keys) {
        case .found(let r): range = r
        case .missing: return .null
        case .notAnObject: return nil  // jq raises an error here: let libjq say it
        }
        let v = UnsafeBufferPointer(rebasing: buf[range])
        switch v[0] {
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "t"): return .bool(true)
        case UInt8(ascii: "f"): return .bool(false)
        case UInt8(ascii: "\""):
            let body = UnsafeBufferPointer(rebasing: v[1..<(v.count - 1)])
            return .string(body.contains(UInt8(ascii: "\\")) ? Array(JSONScanner.decodeStringBody(body).utf8) : Array(body))
        case UInt8(ascii: "["), UInt8(ascii: "{"): return nil
        default:
            guard let d = Double(String(decoding: v, as: UTF8.self)) else { return nil }
            return .number(d)
        }
    }
}
