import CMOBasics
import Foundation
import Stencil

/// A `{{ … }}` whose value came out missing, null or empty, with no `default` filter to allow it.
public struct MissingVariable: Error, Equatable, CustomStringConvertible {
    /// The variable as written in the template (`name`, `signals.topics.0`).
    public let variable: String
    public var description: String { "variable '\(variable)' is missing, null or empty" }
}

/// Where a strict node leaves the name of a missing variable for the renderer: Stencil wraps any
/// error thrown by a nested node into a `TemplateSyntaxError` holding only its text.
final class RenderState {
    /// The context key the state is stored under (not a valid template identifier).
    static let key = "cmo render-state"
    var missing: MissingVariable?
    /// Set by the `default` filter when it stood in for a missing value (TemplateCheck.swift's `DefaultUsage`).
    var defaultUsed = false
    /// The `{{ … }}` expressions whose default was used for this record.
    var defaultsUsed: Set<String> = []
}

/// The Stencil environment of every copy template: strict `{{ … }}` output, a `default` filter that
/// also replaces empty values, and a few filters for names and lengths.
///
/// Stencil renders a missing variable as an empty string. Here every `{{ … }}` token is turned into
/// a `StrictVariableNode` before parsing, so whatever is *printed* is checked, while variables read
/// only by `{% if %}`/`{% for %}` conditions, or sitting in a branch that is not taken, are not.
enum StrictStencil {
    /// The tag a `{{ … }}` token is rewritten to (`{% __strict_var x %}` written by hand means `{{ x }}`).
    static let variableTag = "__strict_var"

    static func environment() -> Environment {
        let ext = Extension()
        ext.registerTag(variableTag) { parser, token in try StrictVariableNode.parse(parser, token: token) }
        ext.registerTag("if") { parser, token in try FastIfNode.parse(parser, token: token) }
        // Stencil's own `default` only replaces nil; an empty name must not make "Hi ,".
        ext.registerFilter("default") { (value: Any?, arguments: [Any?], context: Context) -> Any? in
            if !TextCleaning.isBlank(value) { return value }
            (context[RenderState.key] as? RenderState)?.defaultUsed = true
            for a in arguments where !TextCleaning.isBlank(a) { return a }
            return arguments.contains { $0 is String } ? "" : nil
        }
        // `name|first_name:login`: the first word when it looks like a person's name and is not the
        // login, else nothing (so `|default:"there"` greets without a name, never by login).
        ext.registerFilter("first_name") { (value: Any?, arguments: [Any?]) -> Any? in
            guard arguments.count <= 1 else { throw TemplateSyntaxError("'first_name' takes at most one argument, the login (first_name:login)") }
            guard let s = value as? String else { return value }
            return GreetingName.firstName(of: s, login: arguments.first.flatMap { $0 as? String })
        }
        ext.registerFilter("truncate") { (value: Any?, arguments: [Any?]) -> Any? in
            guard let s = value.map(StrictVariableNode.text) else { return nil }
            guard arguments.count == 1, let n = (arguments[0] as? Int) ?? (arguments[0] as? Float).map({ Int($0) }), n >= 1 else {
                throw TemplateSyntaxError("'truncate' takes one number of characters (truncate:40)")
            }
            return TextCleaning.truncate(s, to: n)
        }
        ext.registerFilter("one_line") { (value: Any?) -> Any? in value.map { TextCleaning.oneLine(StrictVariableNode.text($0)) } }
        return Environment(extensions: [ext])
    }

    /// The template's tokens with every `{{ … }}` turned into the strict variable tag.
    static func strictTokens(_ tokens: [Token]) -> [Token] {
        tokens.map { t in
            guard t.kind == .variable else { return t }
            return .block(value: variableTag + " " + t.contents, at: t.sourceMap)
        }
    }
}

/// `{{ expression }}` or `{{ expression if condition else other }}` that refuses to print nothing.
final class StrictVariableNode: NodeType {
    let token: Token?
    let variable: Resolvable
    let name: String
    let allowsEmpty: Bool
    let condition: Stencil.Expression?
    let elseExpression: Resolvable?
    let elseName: String
    let elseAllowsEmpty: Bool
    /// Set when the expression is a plain path without filters: resolved without Stencil's `Variable`.
    var fastPath: SimplePath?

    init(
        token: Token, variable: Resolvable, name: String, allowsEmpty: Bool, condition: Stencil.Expression?, elseExpression: Resolvable?,
        elseName: String, elseAllowsEmpty: Bool
    ) {
        self.token = token
        self.variable = variable
        self.name = name
        self.allowsEmpty = allowsEmpty
        self.condition = condition
        self.elseExpression = elseExpression
        self.elseName = elseName
        self.elseAllowsEmpty = elseAllowsEmpty
    }

    /// Mirrors Stencil's own `VariableNode.parse`, on the components after the tag name.
    static func parse(_ parser: TokenParser, token: Token) throws -> NodeType {
        let components = Array(token.components.dropFirst())  // the tag name
        guard !components.isEmpty else { throw TemplateSyntaxError(reason: "Missing variable name", token: token) }
        func compile(_ parts: [String]) throws -> Resolvable {
            try (try? parser.compileExpression(components: parts, token: token))
                ?? parser.compileFilter(parts.joined(separator: " "), containedIn: token)
        }
        if components.count > 2, components[1] == "if" {
            let rest = Array(components[2...])
            let variable = try compile([components[0]])
            var condition: Stencil.Expression
            var elseParts: [String]?
            if let e = rest.firstIndex(of: "else") {
                condition = try parser.compileExpression(components: Array(rest[..<e]), token: token)
                elseParts = Array(rest[(e + 1)...])
            } else {
                condition = try parser.compileExpression(components: rest, token: token)
            }
            let elseExpr = try elseParts.map(compile)
            let elseText = elseParts?.joined(separator: " ") ?? ""
            return StrictVariableNode(
                token: token, variable: variable, name: variableName(components[0]), allowsEmpty: allowsEmpty(components[0]),
                condition: condition, elseExpression: elseExpr, elseName: elseParts == nil ? "" : variableName(elseText),
                elseAllowsEmpty: elseParts == nil || allowsEmpty(elseText))
        }
        let text = components.joined(separator: " ")
        let node = StrictVariableNode(
            token: token, variable: try compile(components), name: variableName(text), allowsEmpty: allowsEmpty(text), condition: nil,
            elseExpression: nil, elseName: "", elseAllowsEmpty: true)
        if components.count == 1 { node.fastPath = SimplePath(components[0]) }
        return node
    }

    func render(_ context: Context) throws -> String {
        if let fastPath { return try checked(fastPath.resolve(context), name: name, allowsEmpty: allowsEmpty, context) }
        guard tracksDefault, let state = context[RenderState.key] as? RenderState else { return try renderExpression(context) }
        state.defaultUsed = false
        let text = try renderExpression(context)
        if state.defaultUsed, let token { state.defaultsUsed.insert(Self.expression(token)) }
        return text
    }

    /// Whether the expression has a `default` filter, whose use is counted.
    lazy var tracksDefault: Bool = token.map { Self.expression($0).contains("default") } ?? false

    /// The expression of a `{{ … }}` token (without the strict tag).
    static func expression(_ token: Token) -> String {
        let c = token.contents
        return (c.hasPrefix(StrictStencil.variableTag) ? String(c.dropFirst(StrictStencil.variableTag.count)) : c).trimmingCharacters(in: .whitespaces)
    }

    private func renderExpression(_ context: Context) throws -> String {
        if let condition, try !condition.evaluate(context: context) {
            // `{{ x if c }}` with c false prints nothing on purpose.
            guard let elseExpression else { return "" }
            return try checked(elseExpression.resolve(context), name: elseName, allowsEmpty: elseAllowsEmpty, context)
        }
        return try checked(variable.resolve(context), name: name, allowsEmpty: allowsEmpty, context)
    }

    private func checked(_ value: Any?, name: String, allowsEmpty: Bool, _ context: Context) throws -> String {
        let text = value.map(Self.text) ?? ""
        let clean = TextCleaning.insertable(text)
        if !allowsEmpty, TextCleaning.isBlank(clean) {
            let missing = MissingVariable(variable: name)
            (context[RenderState.key] as? RenderState)?.missing = missing
            throw missing
        }
        return clean
    }

    /// How a value prints: strings as they are, numbers and booleans as JSON would write them,
    /// lists as their items joined with ", ", mappings as their values the same way.
    static func text(_ value: Any) -> String {
        switch value {
        case let s as String: return s
        case let i as Int: return String(i)
        case let d as Double:
            return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case let f as Float:
            return f == f.rounded() && abs(f) < 1e7 ? String(Int64(f)) : String(f)
        case let b as Bool: return b ? "true" : "false"
        case let a as [Any]: return a.map(text).filter { !$0.isEmpty }.joined(separator: ", ")
        case let a as [Any?]: return a.compactMap { $0.map(text) }.filter { !$0.isEmpty }.joined(separator: ", ")
        case let d as [String: Any]: return d.keys.sorted().map { text(d[$0]!) }.joined(separator: ", ")
        case let c as Context: return text(c.flatten())
        case is TemplateNull: return ""
        default: return "\(value)"
        }
    }

    /// The variable an expression starts with (`name` in `name|first_name|default:login`).
    static func variableName(_ expression: String) -> String {
        let first = filterBits(expression).first ?? expression
        return first.trimmingCharacters(in: .whitespaces)
    }

    /// Whether the expression has a `default` filter with a quoted literal argument: the template's
    /// author said what to print when the value is missing (`default:""` allows printing nothing).
    static func allowsEmpty(_ expression: String) -> Bool {
        for bit in filterBits(expression).dropFirst() {
            let parts = bit.split(separator: ":", maxSplits: 1)
            guard parts.first?.trimmingCharacters(in: .whitespaces) == "default", parts.count == 2 else { continue }
            for arg in splitOutsideQuotes(String(parts[1]), on: ",") {
                let a = arg.trimmingCharacters(in: .whitespaces)
                if a.count >= 2, let q = a.first, q == "\"" || q == "'", a.last == q { return true }
            }
        }
        return false
    }

    static func filterBits(_ expression: String) -> [String] { splitOutsideQuotes(expression, on: "|") }

    /// Splits on `separator` where it is not inside single or double quotes.
    static func splitOutsideQuotes(_ s: String, on separator: Character) -> [String] {
        var out: [String] = []
        var current = ""
        var quote: Character?
        for c in s {
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == separator {
                out.append(current)
                current = ""
                continue
            }
            current.append(c)
        }
        out.append(current)
        return out
    }
}
