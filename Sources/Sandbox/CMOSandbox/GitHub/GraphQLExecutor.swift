import Foundation
import GraphQL

/// One entry of a GraphQL response's `errors`.
struct GraphQLFieldError: Error {
    var message: String
    /// GitHub's `type` (`NOT_FOUND`, `ARGUMENT_LIMIT`, `EXCESSIVE_PAGINATION`, …), or nil for validation errors.
    var type: String?
    /// Validation errors (`extensions.code`) void the whole response: no `data`.
    var code: String? = nil
    var extensions: [String: String] = [:]

    func json(path: [Any], loc: Location?) -> [String: Any] {
        var o: [String: Any] = ["message": message, "path": path]
        if let type { o["type"] = type }
        if let loc { o["locations"] = [["line": loc.startToken.line, "column": loc.startToken.column]] }
        if let code {
            o["extensions"] = extensions.merging(["code": code]) { a, _ in a }
        }
        return o
    }
}

/// What a field resolves to.
enum GraphQLResolved {
    case leaf(Any)
    case object(GitHubGraphQLObject)
    case list([GitHubGraphQLObject?])
    case null
}

/// A small synchronous executor over GraphQLSwift's AST: fragments, inline fragments with type and
/// interface conditions, aliases, variables, `@skip`/`@include`. Types and fields come from a resolver.
final class GraphQLExecutor {
    let fragments: [String: FragmentDefinition]
    let variables: [String: Any]
    var errors: [[String: Any]] = []
    /// Set when a validation error (unknown field) means GitHub would answer with errors only.
    var invalid = false
    let resolve: (GitHubGraphQLObject, String, [String: Any]) throws(GraphQLFieldError) -> GraphQLResolved

    init(
        document: Document, variables: [String: Any],
        resolve: @escaping (GitHubGraphQLObject, String, [String: Any]) throws(GraphQLFieldError) -> GraphQLResolved
    ) {
        var f: [String: FragmentDefinition] = [:]
        for case let d as FragmentDefinition in document.definitions { f[d.name.value] = d }
        fragments = f
        self.variables = variables
        self.resolve = resolve
    }

    /// Executes `selections` on `object` (keys come out sorted, like every sandbox body).
    func execute(_ selections: [Selection], on object: GitHubGraphQLObject, path: [Any]) -> [String: Any] {
        var out: [String: Any] = [:]
        for (key, fields) in collect(selections, typeName: object.typeName) {
            let field = fields[0]
            let name = field.name.value
            if name == "__typename" {
                out[key] = object.typeName
                continue
            }
            let args = arguments(field.arguments)
            let sub = fields.flatMap { $0.selectionSet?.selections ?? [] }
            do {
                switch try resolve(object, name, args) {
                case .leaf(let v): out[key] = v
                case .null: out[key] = NSNull()
                case .object(let o): out[key] = execute(sub, on: o, path: path + [key])
                case .list(let items):
                    out[key] = items.enumerated().map { i, o -> Any in
                        o.map { execute(sub, on: $0, path: path + [key, i]) as Any } ?? NSNull()
                    }
                }
            } catch {
                if error.code != nil { invalid = true }
                errors.append(error.json(path: path + [key], loc: field.loc))
                out[key] = NSNull()
            }
        }
        return out
    }

    /// Flattens fragments whose type condition applies, grouping fields by response key.
    func collect(_ selections: [Selection], typeName: String) -> [(String, [Field])] {
        var order: [String] = []
        var groups: [String: [Field]] = [:]
        func visit(_ list: [Selection]) {
            for s in list {
                switch s {
                case let f as Field:
                    guard included(f.directives) else { continue }
                    let key = f.alias?.value ?? f.name.value
                    if groups[key] == nil { order.append(key) }
                    groups[key, default: []].append(f)
                case let spread as FragmentSpread:
                    guard included(spread.directives), let def = fragments[spread.name.value],
                        GitHubGraphQLObject.conforms(typeName, to: def.typeCondition.name.value)
                    else { continue }
                    visit(def.selectionSet.selections)
                case let inline as InlineFragment:
                    guard included(inline.directives) else { continue }
                    if let cond = inline.typeCondition, !GitHubGraphQLObject.conforms(typeName, to: cond.name.value) { continue }
                    visit(inline.selectionSet.selections)
                default:
                    continue
                }
            }
        }
        visit(selections)
        return order.map { ($0, groups[$0]!) }
    }

    private func included(_ directives: [Directive]) -> Bool {
        for d in directives {
            let v = arguments(d.arguments)["if"] as? Bool ?? false
            if d.name.value == "skip" && v { return false }
            if d.name.value == "include" && !v { return false }
        }
        return true
    }

    func arguments(_ list: [Argument]) -> [String: Any] {
        var out: [String: Any] = [:]
        for a in list { out[a.name.value] = value(a.value) }
        return out
    }

    func value(_ v: Value) -> Any {
        switch v {
        case let x as Variable: return variables[x.name.value] ?? NSNull()
        case let x as IntValue: return Int(x.value) ?? 0
        case let x as FloatValue: return Double(x.value) ?? 0
        case let x as StringValue: return x.value
        case let x as BooleanValue: return x.value
        case let x as EnumValue: return x.value
        case let x as ListValue: return x.values.map(value)
        case let x as ObjectValue:
            var o: [String: Any] = [:]
            for f in x.fields { o[f.name.value] = value(f.value) }
            return o
        default: return NSNull()
        }
    }
}
