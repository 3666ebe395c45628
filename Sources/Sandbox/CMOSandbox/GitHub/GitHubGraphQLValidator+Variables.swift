import Foundation
import GraphQL

extension GitHubGraphQLValidator {
    /// GitHub's check of the request's `variables` against the operation's declarations (after
    /// static validation): "Variable $x of type T was provided invalid value", with the value given
    /// and graphql-ruby's `problems` (`path` inside the value, `explanation`).
    static func variableErrors(_ o: OperationDefinition, _ provided: [String: Any], sdl: GraphQLSDL, schema: GraphQLSchema) -> [[String:
        Any]]
    {
        var errors: [[String: Any]] = []
        for def in o.variableDefinitions {
            guard let type = GraphQLTypes.resolve(def.type, in: schema) else { continue }
            let name = def.variable.name.value
            let given = provided[name]
            var problems: [GraphQLVariableProblem] = []
            if let given {
                problems = GraphQLVariableProblem.check(given, type, sdl: sdl, scalars: scalarValue)
            } else if type is GraphQLNonNull, def.defaultValue == nil {
                problems = [GraphQLVariableProblem(path: [], value: NSNull(), kind: .null(type: GraphQLTypes.string(type)))]
            }
            guard !problems.isEmpty else { continue }
            var e: [String: Any] = [
                "message": "Variable $\(name) of type \(GraphQLTypes.string(type)) was provided invalid value",
                "extensions": [
                    "value": given ?? NSNull(), "problems": problems.map { ["path": $0.path, "explanation": explanation($0)] },
                ],
            ]
            if let l = def.loc { e["locations"] = [["line": l.startToken.line, "column": l.startToken.column]] }
            errors.append(e)
        }
        return errors
    }

    /// graphql-ruby's wording.
    static func explanation(_ p: GraphQLVariableProblem) -> String {
        switch p.kind {
        case .null, .missingField: return "Expected value to not be null"
        case .unknownField(_, let input): return "Field is not defined on \(input)"
        case .notObject: return "Expected \(describe(p.value)) to be a key-value object."
        case .badEnum(_, let values): return "Expected \(describe(p.value)) to be one of: \(values.joined(separator: ", "))"
        case .badScalar(let scalar): return "Could not coerce value \(describe(p.value)) to \(scalar)"
        }
    }

    /// GitHub's custom scalars as JSON values: strings, in the formats their descriptions state ([U]).
    static func scalarValue(_ v: Any, _ scalar: String) -> Bool {
        if scalar == "BigInt", GraphQLVariableProblem.kind(v) == .int { return true }
        guard let s = v as? String else { return false }
        return scalarText(s, scalar)
    }

    /// A value as graphql-ruby's messages show it (strings quoted, null as `nil`).
    static func describe(_ v: Any) -> String {
        switch GraphQLVariableProblem.kind(v) {
        case .string: return "\"\(v as! String)\""
        case .bool: return (v as! NSNumber).boolValue ? "true" : "false"
        case .int, .double: return "\(v)"
        case .other: return v is NSNull ? "nil" : GraphQLVariableProblem.json(v)
        }
    }
}
