import Foundation
import GraphQL

extension LinearService {
    /// Linear's validation of a document against its published schema, before any budget is spent:
    /// graphql-js's rules and wording (Linear's server is built on it), HTTP 400,
    /// `GRAPHQL_VALIDATION_FAILED`, with `locations`.
    static func validationErrors(_ document: Document) -> [LinearGQLError] {
        let schema: GraphQLSchema
        do {
            schema = try GraphQLSDL.linear.schema()
        } catch {
            return [.validation("The sandbox could not load Linear's schema: \(error)")]
        }
        return validate(schema: schema, ast: document).map { e in
            var error = LinearGQLError.validation(e.message)
            error.locations = e.locations.map { ["line": $0.line, "column": $0.column] }
            return error
        }
    }

    /// The request's `variables` against the operation's declarations, in graphql-js's words
    /// (`Variable "$input" got invalid value … at "input.teamId"; …`); code `BAD_USER_INPUT` ([U]).
    static func variableErrors(_ op: OperationDefinition, _ provided: [String: Any]) -> [LinearGQLError] {
        guard let schema = try? GraphQLSDL.linear.schema() else { return [] }
        var errors: [LinearGQLError] = []
        for def in op.variableDefinitions {
            guard let type = GraphQLTypes.resolve(def.type, in: schema) else { continue }
            let name = def.variable.name.value
            let typeText = GraphQLTypes.string(type)
            var messages: [String] = []
            switch provided[name] {
            case nil:
                if type is GraphQLNonNull, def.defaultValue == nil {
                    messages = ["Variable \"$\(name)\" of required type \"\(typeText)\" was not provided."]
                }
            case let given? where given is NSNull && type is GraphQLNonNull:
                messages = ["Variable \"$\(name)\" of non-null type \"\(typeText)\" must not be null."]
            case let given?:
                messages = GraphQLVariableProblem.check(given, type, sdl: .linear, scalars: scalarValue).map { p in
                    // graphql-js names the object for a missing or unknown field, not the field.
                    var path = p.path
                    switch p.kind {
                    case .missingField, .unknownField: path.removeLast()
                    default: break
                    }
                    let at = path.isEmpty ? "" : " at \"\(name)\(pathText(path))\""
                    return "Variable \"$\(name)\" got invalid value \(GraphQLVariableProblem.json(p.value))\(at); \(explanation(p))"
                }
            }
            for m in messages {
                var e = LinearGQLError(kind: .validation, message: m, code: "BAD_USER_INPUT", type: "graphql error")
                if let l = def.loc { e.locations = [["line": l.startToken.line, "column": l.startToken.column]] }
                errors.append(e)
            }
        }
        return errors
    }

    static func pathText(_ path: [Any]) -> String {
        path.map { ($0 as? Int).map { "[\($0)]" } ?? ".\($0)" }.joined()
    }

    static func explanation(_ p: GraphQLVariableProblem) -> String {
        let value = GraphQLVariableProblem.json(p.value)
        switch p.kind {
        case .null(let type): return "Expected non-nullable type \"\(type)\" not to be null."
        case .missingField(let name, let type): return "Field \"\(name)\" of required type \"\(type)\" was not provided."
        case .unknownField(let name, let input): return "Field \"\(name)\" is not defined by type \"\(input)\"."
        case .notObject(let input): return "Expected type \"\(input)\" to be an object."
        case .badEnum(let e, _): return "Value \(value) does not exist in \"\(e)\" enum."
        case .badScalar(let scalar):
            switch scalar {
            case "String": return "String cannot represent a non string value: \(value)"
            case "Int": return "Int cannot represent non-integer value: \(value)"
            case "Float": return "Float cannot represent non numeric value: \(value)"
            case "Boolean": return "Boolean cannot represent a non boolean value: \(value)"
            case "ID": return "ID cannot represent value: \(value)"
            default: return "Expected type \"\(scalar)\"."
            }
        }
    }

    /// Linear's custom scalars as JSON values: `JSON` is anything, `JSONObject` an object, the rest strings.
    static func scalarValue(_ v: Any, _ scalar: String) -> Bool {
        switch scalar {
        case "JSON": return true
        case "JSONObject": return v is [String: Any]
        default: return v is String
        }
    }
}
