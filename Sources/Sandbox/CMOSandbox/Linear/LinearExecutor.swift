import Foundation
import GraphQL

// A small GraphQL executor over hand-written resolvers: aliases, variables (with defaults), fragments
// (named and inline), @include/@skip, __typename. Queries are parsed by the GraphQL package.

/// An error to report in `errors`. Validation errors fail the whole request with HTTP 400; the
/// others null their root field and come back with HTTP 200.
struct LinearGQLError: Error {
    enum Kind { case validation, resolver }
    var kind: Kind
    var message: String
    var code: String
    var type: String
    var userPresentableMessage: String?
    var path: [String] = []
    var locations: [[String: Int]] = []

    static func validation(_ message: String) -> LinearGQLError {
        LinearGQLError(kind: .validation, message: message, code: "GRAPHQL_VALIDATION_FAILED", type: "graphql error")
    }

    static func invalidInput(_ message: String, _ userMessage: String) -> LinearGQLError {
        LinearGQLError(kind: .resolver, message: message, code: "INVALID_INPUT", type: "invalid input", userPresentableMessage: userMessage)
    }

    var json: [String: Any] {
        var ext: [String: Any] = ["code": code, "type": type]
        if let u = userPresentableMessage {
            ext["userError"] = true
            ext["userPresentableMessage"] = u
        }
        var o: [String: Any] = ["message": message, "extensions": ext]
        if !path.isEmpty { o["path"] = path }
        if !locations.isEmpty { o["locations"] = locations }
        return o
    }
}

/// A resolved value.
indirect enum LinearValue {
    case scalar(Any)
    case node(any LinearNode)
    case list([LinearValue])
    case null
}

/// An object type the executor can select fields from.
protocol LinearNode {
    var typeName: String { get }
    /// The field's value, or nil when the type has no such field.
    func field(_ name: String, _ args: [String: Any]) throws(LinearGQLError) -> LinearValue?
}

struct LinearExecutor {
    let fragments: [String: FragmentDefinition]
    let variables: [String: Any]

    /// The JSON object for `set` selected on `node`.
    func select(_ set: SelectionSet, on node: any LinearNode) throws(LinearGQLError) -> [String: Any] {
        var out: [String: Any] = [:]
        for (key, field) in try fields(set, typeName: node.typeName) {
            out[key] = try resolve(field, on: node)
        }
        return out
    }

    /// The fields of a selection set flattened through fragments, keyed by response name.
    func fields(_ set: SelectionSet, typeName: String?) throws(LinearGQLError) -> [(String, Field)] {
        var out: [(String, Field)] = []
        for selection in set.selections {
            if let f = selection as? Field {
                guard try included(f.directives) else { continue }
                out.append((f.alias?.value ?? f.name.value, f))
            } else if let spread = selection as? FragmentSpread {
                guard try included(spread.directives) else { continue }
                guard let def = fragments[spread.name.value] else { throw .validation("Unknown fragment \"\(spread.name.value)\".") }
                if typeName == nil || def.typeCondition.name.value == typeName { out += try fields(def.selectionSet, typeName: typeName) }
            } else if let inline = selection as? InlineFragment {
                guard try included(inline.directives) else { continue }
                if typeName == nil || inline.typeCondition == nil || inline.typeCondition?.name.value == typeName {
                    out += try fields(inline.selectionSet, typeName: typeName)
                }
            }
        }
        return out
    }

    func resolve(_ f: Field, on node: any LinearNode) throws(LinearGQLError) -> Any {
        let name = f.name.value
        if name == "__typename" { return node.typeName }
        var args: [String: Any] = [:]
        for a in f.arguments { args[a.name.value] = try value(a.value) }
        guard let v = try node.field(name, args) else {
            throw .validation("Cannot query field \"\(name)\" on type \"\(node.typeName)\".")
        }
        return try render(v, f)
    }

    private func render(_ v: LinearValue, _ f: Field) throws(LinearGQLError) -> Any {
        switch v {
        case .null: return NSNull()
        case .scalar(let s):
            if f.selectionSet != nil { throw .validation("Field \"\(f.name.value)\" must not have a selection since it is a scalar.") }
            return s
        case .list(let items):
            var out: [Any] = []
            for i in items { out.append(try render(i, f)) }
            return out
        case .node(let n):
            guard let set = f.selectionSet else {
                throw .validation("Field \"\(f.name.value)\" of type \"\(n.typeName)\" must have a selection of subfields.")
            }
            return try select(set, on: n)
        }
    }

    private func included(_ directives: [Directive]) throws(LinearGQLError) -> Bool {
        for d in directives {
            let cond = try d.arguments.first { $0.name.value == "if" }.map { a throws(LinearGQLError) in try value(a.value) }
            let flag = (cond as? Bool) ?? false
            if d.name.value == "include" && !flag { return false }
            if d.name.value == "skip" && flag { return false }
        }
        return true
    }

    /// An AST value as JSON-like Swift values, variables substituted.
    func value(_ v: any Value) throws(LinearGQLError) -> Any {
        switch v {
        case let x as Variable:
            return variables[x.name.value] ?? NSNull()
        case let x as IntValue: return Int(x.value) ?? 0
        case let x as FloatValue: return Double(x.value) ?? 0
        case let x as StringValue: return x.value
        case let x as BooleanValue: return x.value
        case is NullValue: return NSNull()
        case let x as EnumValue: return x.value
        case let x as ListValue:
            var out: [Any] = []
            for item in x.values { out.append(try value(item)) }
            return out
        case let x as ObjectValue:
            var out: [String: Any] = [:]
            for field in x.fields { out[field.name.value] = try value(field.value) }
            return out
        default:
            throw .validation("Unsupported value.")
        }
    }

    /// The query's complexity estimate: objects cost 1, scalars 0.1, connections multiply their
    /// selection by `first` (default 50).
    func complexity(_ set: SelectionSet) throws(LinearGQLError) -> Double {
        var total = 0.0
        for (_, f) in try fields(set, typeName: nil) {
            guard let sub = f.selectionSet else {
                total += 0.1
                continue
            }
            var multiplier = 1.0
            if let a = f.arguments.first(where: { $0.name.value == "first" || $0.name.value == "last" }),
                let n = try value(a.value) as? Int
            {
                multiplier = Double(n)
            } else if Self.connectionFields.contains(f.name.value) {
                multiplier = 50
            }
            total += multiplier * (1 + (try complexity(sub)))
        }
        return total
    }

    static let connectionFields: Set<String> = [
        "teams", "issues", "children", "labels", "issueLabels", "members", "states", "workflowStates", "users", "comments", "attachments",
    ]
}
