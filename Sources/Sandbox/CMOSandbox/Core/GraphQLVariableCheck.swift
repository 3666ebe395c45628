import Foundation
import GraphQL

/// What is wrong with a request's variable values against their declared types; each vendor words
/// it its own way (GitHub: graphql-ruby; Linear: graphql-js).
struct GraphQLVariableProblem {
    enum Kind {
        /// null (or absent) where the type is non-null.
        case null(type: String)
        /// a required input field left out.
        case missingField(name: String, type: String)
        case unknownField(name: String, inputType: String)
        case notObject(inputType: String)
        case badEnum(enumType: String, values: [String])
        case badScalar(scalar: String)
    }

    /// Where in the variable's value (for a missing or unknown field: the field's path).
    var path: [Any]
    /// The value found there (for a missing or unknown field: the object holding it).
    var value: Any
    var kind: Kind

    /// The custom scalars' rules of one vendor: whether a JSON value is valid for the scalar.
    typealias Scalars = (_ value: Any, _ scalar: String) -> Bool

    /// The problems of `value` for `type` (none when it is valid; input coercion wraps a single value
    /// in a list).
    static func check(_ value: Any, _ type: GraphQLType, _ path: [Any] = [], sdl: GraphQLSDL, scalars: Scalars) -> [Self] {
        if let nonNull = type as? GraphQLNonNull {
            if value is NSNull { return [Self(path: path, value: value, kind: .null(type: GraphQLTypes.string(type)))] }
            return check(value, nonNull.ofType, path, sdl: sdl, scalars: scalars)
        }
        if value is NSNull { return [] }
        if let list = type as? GraphQLList {
            guard let items = value as? [Any] else { return check(value, list.ofType, path, sdl: sdl, scalars: scalars) }
            return items.enumerated().flatMap { check($1, list.ofType, path + [$0], sdl: sdl, scalars: scalars) }
        }
        switch type {
        case let input as GraphQLInputObjectType:
            guard let object = value as? [String: Any] else {
                return [Self(path: path, value: value, kind: .notObject(inputType: input.name))]
            }
            let fields = sdl.inputFields(input)
            var out: [Self] = []
            for key in object.keys.sorted() where fields[key] == nil {
                out.append(Self(path: path + [key], value: object, kind: .unknownField(name: key, inputType: input.name)))
            }
            for (name, def) in fields {
                if let v = object[name] {
                    out += check(v, def.type, path + [name], sdl: sdl, scalars: scalars)
                } else if def.type is GraphQLNonNull, def.defaultValue == nil {
                    out.append(
                        Self(path: path + [name], value: object, kind: .missingField(name: name, type: GraphQLTypes.string(def.type))))
                }
            }
            return out
        case let e as GraphQLEnumType:
            if let s = value as? String, e.nameLookup[s] != nil { return [] }
            return [Self(path: path, value: value, kind: .badEnum(enumType: e.name, values: e.values.map(\.name)))]
        case let s as GraphQLScalarType:
            return builtIn(value, s.name) ?? scalars(value, s.name)
                ? [] : [Self(path: path, value: value, kind: .badScalar(scalar: s.name))]
        default:
            return []
        }
    }

    /// The built-in scalars, or nil for a custom one.
    static func builtIn(_ v: Any, _ scalar: String) -> Bool? {
        let k = kind(v)
        switch scalar {
        case "Int": return k == .int && (v as? NSNumber).map { Int32(exactly: $0.int64Value) != nil } == true
        case "Float": return k == .int || k == .double
        case "Boolean": return k == .bool
        case "ID": return k == .string || k == .int
        case "String": return k == .string
        default: return nil
        }
    }

    /// JSON numbers and booleans both arrive as NSNumber; the ObjC type tells them apart.
    enum JSONKind { case bool, int, double, string, other }
    static func kind(_ v: Any) -> JSONKind {
        if v is String { return .string }
        guard let n = v as? NSNumber else { return .other }
        switch String(cString: n.objCType) {
        case "c", "B": return .bool
        case "d", "f": return .double
        default: return .int
        }
    }

    /// A JSON value as compact JSON text.
    static func json(_ v: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: v, options: [.fragmentsAllowed, .sortedKeys]) else { return "\(v)" }
        return String(decoding: data, as: UTF8.self)
    }
}
