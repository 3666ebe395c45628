import CMOBasics
import Stencil

/// A dotted variable path (`signals.maintainer_of.0`) resolved without Stencil's per-call parsing
/// and casts, with Stencil's own semantics for the value types render-copy builds: `Context`
/// objects, arrays (`0`, `first`, `last`, `count`), strings and dictionaries.
///
/// Stencil's `Variable` re-parses its key path and tries several dynamic casts on every step of
/// every resolution; for the plain paths that make up most of a template this is most of the
/// rendering time.
struct SimplePath {
    let bits: [String]

    /// Nil unless `text` is identifiers and digits separated by dots, starting with an identifier
    /// that is not a literal (`true`, `false`).
    init?(_ text: String) {
        guard let first = text.first, first.isLetter || first == "_", text != "true", text != "false" else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        for p in parts {
            guard !p.isEmpty, p.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else { return nil }
        }
        bits = parts.map(String.init)
    }

    func resolve(_ context: Context) -> Any? {
        var current = context[bits[0]]
        for bit in bits.dropFirst() {
            guard let value = current else { return nil }
            switch value {
            case let c as Context: current = c[bit]
            case let s as String: current = Self.element(Array(s), bit)
            case let a as [Any]: current = Self.element(a, bit)
            case let d as [String: Any]: current = bit == "count" ? d.count : d[bit]
            default: return nil
            }
        }
        return current
    }

    private static func element<T>(_ a: [T], _ bit: String) -> Any? {
        if let i = Int(bit) { return i >= 0 && i < a.count ? a[i] : nil }
        switch bit {
        case "first": return a.first
        case "last": return a.last
        case "count": return a.count
        default: return nil
        }
    }

    /// Stencil's truthiness (`VariableExpression.evaluate`): non-empty lists, mappings and strings,
    /// `true`, numbers above 0, and any other non-nil value.
    static func isTruthy(_ value: Any?) -> Bool {
        guard let value else { return false }
        switch value {
        case let b as Bool: return b
        case let s as String: return !s.isEmpty
        case let i as Int: return i > 0
        case let d as Double: return d > 0
        case let f as Float: return f > 0
        case let a as [Any]: return !a.isEmpty
        case let d as [String: Any]: return !d.isEmpty
        case is TemplateNull: return false
        default: return true
        }
    }
}

/// `{% if %}…{% elif %}…{% else %}…{% endif %}` as Stencil parses and renders it, except that a
/// condition that is a plain path (`if signals.topics`, `if not company`) is evaluated through
/// `SimplePath`; any other condition goes to Stencil's expression code.
final class FastIfNode: NodeType {
    enum Condition {
        case path(SimplePath, negated: Bool)
        case expression(Stencil.Expression)
        case always

        func evaluate(_ context: Context) throws -> Bool {
            switch self {
            case .path(let p, let negated): return SimplePath.isTruthy(p.resolve(context)) != negated
            case .expression(let e): return try e.evaluate(context: context)
            case .always: return true
            }
        }
    }

    let token: Token?
    let branches: [(Condition, [NodeType])]

    init(token: Token, branches: [(Condition, [NodeType])]) {
        self.token = token
        self.branches = branches
    }

    static func condition(_ components: [String], parser: TokenParser, token: Token) throws -> Condition {
        if components.count == 1, let p = SimplePath(components[0]) { return .path(p, negated: false) }
        if components.count == 2, components[0] == "not", let p = SimplePath(components[1]) { return .path(p, negated: true) }
        return .expression(try parser.compileExpression(components: components, token: token))
    }

    /// Mirrors Stencil's `IfNode.parse`.
    static func parse(_ parser: TokenParser, token: Token) throws -> NodeType {
        var branches: [(Condition, [NodeType])] = []
        let first = try condition(Array(token.components.dropFirst()), parser: parser, token: token)
        branches.append((first, try parser.parse(until(["endif", "elif", "else"]))))
        var next = parser.nextToken()
        while let current = next, current.contents.hasPrefix("elif") {
            let c = try condition(Array(current.components.dropFirst()), parser: parser, token: current)
            branches.append((c, try parser.parse(until(["endif", "elif", "else"]))))
            next = parser.nextToken()
        }
        if let current = next, current.contents == "else" {
            branches.append((.always, try parser.parse(until(["endif"]))))
            next = parser.nextToken()
        }
        guard let current = next, current.contents == "endif" else { throw TemplateSyntaxError("`endif` was not found.") }
        return FastIfNode(token: token, branches: branches)
    }

    func render(_ context: Context) throws -> String {
        for (condition, nodes) in branches where try condition.evaluate(context) {
            return try context.push { try renderNodes(nodes, context) }
        }
        return ""
    }
}
