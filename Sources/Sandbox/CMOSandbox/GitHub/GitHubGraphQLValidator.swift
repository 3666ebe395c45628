import CMOBasics
import Foundation
import GraphQL

/// GitHub's static validation of a document against its published schema, before anything runs:
/// graphql-ruby's rules (which GitHub runs) with their messages, `path`s (the document path:
/// `query Name`, aliases, `... on Type`, argument names) and `extensions` (`code` plus the rule's
/// own keys). Fields, arguments and their literals (scalars, enums, input objects), required
/// arguments, sub-selections, fragments (types, spreads, use, cycles), directives, and variables
/// (declared, used, input types, defaults, positions). GitHub answers these with HTTP 200 and
/// `errors` alone.
struct GitHubGraphQLValidator {
    let sdl: GraphQLSDL
    let schema: GraphQLSchema
    let document: Document
    private(set) var errors: [[String: Any]] = []
    private var fragments: [String: FragmentDefinition] = [:]
    /// Variable uses and fragment spreads of each operation (`op:N`) and fragment (`fr:Name`).
    private var uses: [String: [Use]] = [:]
    private var spreads: [String: [String]] = [:]
    private var scope = ""

    struct Use {
        var name: String
        var type: GraphQLType
        var locationHasDefault: Bool
        var node: Variable
        var path: [Any]
        var argument: String
    }

    typealias ArgumentDef = (name: String, type: GraphQLInputType, hasDefault: Bool)

    init(sdl: GraphQLSDL, schema: GraphQLSchema, document: Document) {
        self.sdl = sdl
        self.schema = schema
        self.document = document
    }

    /// Every error, in document order (empty when the document is valid).
    mutating func validate() -> [[String: Any]] {
        var operations: [OperationDefinition] = []
        var definedFragments: [FragmentDefinition] = []
        var reportedDefinitions = false
        for definition in document.definitions {
            switch definition {
            case let o as OperationDefinition: operations.append(o)
            case let f as FragmentDefinition:
                let name = f.name.value
                if fragments[name] != nil {
                    report(
                        "Fragment name \"\(name)\" must be unique", f, ["fragment \(name)"],
                        ["code": "fragmentNotUnique", "fragmentName": name])
                } else {
                    fragments[name] = f
                    definedFragments.append(f)
                }
            default:
                if !reportedDefinitions {
                    report("Query cannot contain schema definitions", definition, [], ["code": "queryContainsSchemaDefinitions"])
                }
                reportedDefinitions = true
            }
        }
        if operations.count > 1 {
            var names = Set<String>()
            var anonymousReported = false
            for o in operations {
                guard let name = o.name?.value else {
                    if !anonymousReported {
                        report(
                            "Operation name is required when multiple operations are present", o, [label(o)],
                            ["code": "uniquelyNamedOperations"])
                    }
                    anonymousReported = true
                    continue
                }
                if !names.insert(name).inserted {
                    report(
                        "Operation name \"\(name)\" must be unique", o, [label(o)],
                        ["code": "uniquelyNamedOperations", "operationName": name])
                }
            }
        }
        for (i, o) in operations.enumerated() { operation(o, scope: "op:\(i)") }
        for f in definedFragments { fragment(f) }
        let spread = Set(spreads.values.joined())
        for f in definedFragments where !spread.contains(f.name.value) {
            report(
                "Fragment \(f.name.value) was defined, but not used", f, ["fragment \(f.name.value)"],
                ["code": "useAndDefineFragment", "fragmentName": f.name.value])
        }
        for f in definedFragments where reachable(from: "fr:\(f.name.value)").contains(f.name.value) {
            report(
                "Fragment \(f.name.value) contains an infinite loop", f, ["fragment \(f.name.value)"],
                ["code": "infiniteLoop", "fragmentName": f.name.value])
        }
        for (i, o) in operations.enumerated() { variables(o, scope: "op:\(i)") }
        return errors
    }

    private func label(_ o: OperationDefinition) -> String {
        o.name.map { "\(o.operation.rawValue) \($0.value)" } ?? o.operation.rawValue
    }

    private mutating func report(_ message: String, _ node: Node?, _ path: [Any], _ extensions: [String: Any]) {
        var o: [String: Any] = ["message": message, "path": path, "extensions": extensions]
        if let l = node?.loc { o["locations"] = [["line": l.startToken.line, "column": l.startToken.column]] }
        errors.append(o)
    }

    // MARK: Definitions

    private mutating func operation(_ o: OperationDefinition, scope: String) {
        self.scope = scope
        let path: [Any] = [label(o)]
        let location: DirectiveLocation = o.operation == .query ? .query : o.operation == .mutation ? .mutation : .subscription
        directives(o.directives, location, path)
        var declared = Set<String>()
        for v in o.variableDefinitions {
            let name = v.variable.name.value
            if !declared.insert(name).inserted {
                report(
                    "There can only be one variable named \"\(name)\"", v.variable, path,
                    ["code": "variableNotUnique", "variableName": name])
            }
            let typeName = GraphQLTypes.name(v.type)
            guard let type = GraphQLTypes.resolve(v.type, in: schema), let named = getNamedType(type: type) else {
                report(
                    "\(typeName) isn't a defined input type (on $\(name))", v.variable, path,
                    ["code": "variableRequiresValidType", "typeName": typeName, "variableName": name])
                continue
            }
            guard GraphQLTypes.isInput(named) else {
                report(
                    "\(typeName) isn't a valid input type (on $\(name))", v.variable, path,
                    ["code": "variableRequiresValidType", "typeName": typeName, "variableName": name])
                continue
            }
            directives(v.directives, .variableDefinition, path)
            if let d = v.defaultValue, !literalValid(d, type) {
                report(
                    "Default value for $\(name) doesn't match type \(GraphQLTypes.string(type))", v.variable, path,
                    ["code": "defaultValueInvalidType", "variableName": name, "typeName": GraphQLTypes.string(type)])
            }
        }
        let root: GraphQLObjectType?
        switch o.operation {
        case .query: root = schema.queryType
        case .mutation: root = schema.mutationType
        case .subscription: root = schema.subscriptionType
        }
        guard let root else {
            let kind = o.operation.rawValue
            report(
                "Schema is not configured for \(kind)s", o, path,
                ["code": "missing\(kind.prefix(1).uppercased() + kind.dropFirst())Configuration"])
            return
        }
        selections(o.selectionSet, root, path)
    }

    private mutating func fragment(_ f: FragmentDefinition) {
        scope = "fr:\(f.name.value)"
        let path: [Any] = ["fragment \(f.name.value)"]
        directives(f.directives, .fragmentDefinition, path)
        guard let type = condition(f.typeCondition, f, path) else { return }
        selections(f.selectionSet, type, path)
    }

    /// A fragment's type condition, reported when it names no type or a leaf type.
    private mutating func condition(_ named: NamedType, _ node: Node, _ path: [Any]) -> GraphQLNamedType? {
        let name = named.name.value
        guard let t = schema.getType(name: name) else {
            report("No such type \(name), so it can't be a fragment condition", node, path, ["code": "undefinedType", "typeName": name])
            return nil
        }
        guard GraphQLTypes.isComposite(t) else {
            report(
                "Invalid fragment on type \(name) (must be Union, Interface or Object)", node, path,
                ["code": "fragmentOnNonCompositeType", "typeName": name])
            return nil
        }
        return t
    }

    /// The fragments reachable from a scope through spreads.
    private func reachable(from start: String) -> Set<String> {
        var seen = Set<String>()
        var stack = spreads[start] ?? []
        while let f = stack.popLast() {
            guard seen.insert(f).inserted else { continue }
            stack += spreads["fr:\(f)"] ?? []
        }
        return seen
    }

    // MARK: Selections

    private mutating func selections(_ set: SelectionSet, _ parent: GraphQLNamedType, _ path: [Any]) {
        for selection in set.selections {
            switch selection {
            case let f as Field:
                field(f, parent, path)
            case let s as FragmentSpread:
                let name = s.name.value
                let here = path + ["... \(name)"]
                directives(s.directives, .fragmentSpread, here)
                spreads[scope, default: []].append(name)
                guard let def = fragments[name] else {
                    report("Fragment \(name) was used, but not defined", s, here, ["code": "useAndDefineFragment", "fragmentName": name])
                    continue
                }
                if let t = schema.getType(name: def.typeCondition.name.value), GraphQLTypes.isComposite(t), !overlaps(t, parent) {
                    report(
                        "Fragment \(name) on \(t.name) can't be spread inside \(parent.name)", s, here,
                        ["code": "cannotSpreadFragment", "typeName": t.name, "fragmentName": name, "parentName": parent.name])
                }
            case let i as InlineFragment:
                let here = path + [i.typeCondition.map { "... on \($0.name.value)" } ?? "..."]
                directives(i.directives, .inlineFragment, here)
                var type = parent
                if let cond = i.typeCondition {
                    guard let t = condition(cond, i, here) else { continue }
                    if !overlaps(t, parent) {
                        report(
                            "Fragment on \(t.name) can't be spread inside \(parent.name)", i, here,
                            ["code": "cannotSpreadFragment", "typeName": t.name, "fragmentName": "unknown", "parentName": parent.name])
                        continue
                    }
                    type = t
                }
                selections(i.selectionSet, type, here)
            default:
                continue
            }
        }
    }

    /// Whether some object type satisfies both `a` and `b` (a fragment of one can be spread in the other).
    private func overlaps(_ a: GraphQLNamedType, _ b: GraphQLNamedType) -> Bool {
        func objects(_ t: GraphQLNamedType) -> Set<String> {
            if let abstract = t as? GraphQLAbstractType { return Set(schema.getPossibleTypes(abstractType: abstract).map(\.name)) }
            return [t.name]
        }
        return a.name == b.name || !objects(a).isDisjoint(with: objects(b))
    }

    private mutating func field(_ f: Field, _ parent: GraphQLNamedType, _ path: [Any]) {
        let name = f.name.value
        let here = path + [f.alias?.value ?? name]
        directives(f.directives, .field, here)
        let sub = f.selectionSet?.selections ?? []
        if name == "__typename" {
            if !sub.isEmpty { scalarSelections(f, "String", sub, here) }
            return
        }
        if name == "__schema" || name == "__type", parent.name == schema.queryType?.name { return }  // introspection
        if parent is GraphQLUnionType {
            report(
                "Selections can't be made directly on unions (see selections on \(parent.name))", f, here,
                ["code": "selectionMismatch", "nodeName": parent.name])
            return
        }
        guard let def = sdl.fields(parent)?[name] else {
            report(
                "Field '\(name)' doesn't exist on type '\(parent.name)'", f, here,
                ["code": "undefinedField", "typeName": parent.name, "fieldName": name])
            return
        }
        let defs = def.args.map { (name: $0.key, type: $0.value.type, hasDefault: $0.value.defaultValue != nil) }
        arguments(f.arguments, defs, owner: ("Field", name), f, here)
        guard let named = getNamedType(type: def.type) else { return }
        if GraphQLTypes.isComposite(named) {
            guard let set = f.selectionSet, !sub.isEmpty else {
                report(
                    "Field must have selections (field '\(name)' returns \(named.name) but has no selections. Did you mean '\(name) { ... }'?)",
                    f, here, ["code": "selectionMismatch", "nodeName": "field '\(name)'", "typeName": named.name])
                return
            }
            selections(set, named, here)
        } else if !sub.isEmpty {
            scalarSelections(f, named.name, sub, here, enumType: named is GraphQLEnumType)
        }
    }

    private mutating func scalarSelections(_ f: Field, _ typeName: String, _ sub: [Selection], _ path: [Any], enumType: Bool = false) {
        let names = sub.map { s -> String in
            switch s {
            case let x as Field: return "\"\(x.name.value)\""
            case let x as FragmentSpread: return "\"\(x.name.value)\""
            default: return "\"...\""
            }
        }
        report(
            "Selections can't be made on \(enumType ? "enums" : "scalars") (field '\(f.name.value)' returns \(typeName) but has selections [\(names.joined(separator: ", "))])",
            f, path, ["code": "selectionMismatch", "nodeName": "field '\(f.name.value)'", "typeName": typeName])
    }

    private mutating func directives(_ list: [Directive], _ location: DirectiveLocation, _ path: [Any]) {
        var seen = Set<String>()
        for d in list {
            let name = d.name.value
            guard let def = schema.getDirective(name: name) else {
                report("Directive @\(name) is not defined", d, path, ["code": "undefinedDirective", "directiveName": name])
                continue
            }
            if !def.locations.contains(location) {
                let allowed = def.locations.map(Self.plural).joined(separator: ", ")
                report(
                    "'@\(name)' can't be applied to \(Self.plural(location)) (allowed: \(allowed))", d, path,
                    ["code": "directiveCannotBeApplied", "targetName": Self.plural(location), "name": name])
            }
            if !def.isRepeatable, !seen.insert(name).inserted {
                report(
                    "The directive \"\(name)\" can only be used once at this location.", d, path,
                    ["code": "directiveNotUniqueForLocation", "directiveName": name])
            }
            let defs = def.args.map { (name: $0.name, type: $0.type, hasDefault: $0.defaultValue != nil) }
            arguments(d.arguments, defs, owner: ("Directive", name), d, path)
        }
    }

    static func plural(_ l: DirectiveLocation) -> String {
        switch l {
        case .query: return "queries"
        case .mutation: return "mutations"
        case .subscription: return "subscriptions"
        case .field: return "fields"
        case .fragmentDefinition: return "fragment definitions"
        case .fragmentSpread: return "fragment spreads"
        case .inlineFragment: return "inline fragments"
        case .variableDefinition: return "variable definitions"
        default: return l.rawValue.lowercased().replacingOccurrences(of: "_", with: " ") + "s"
        }
    }

    // MARK: Arguments and values

    private mutating func arguments(
        _ list: [Argument], _ defs: [ArgumentDef], owner: (kind: String, name: String), _ node: Node, _ path: [Any]
    ) {
        var seen = Set<String>()
        for a in list {
            let name = a.name.value
            guard seen.insert(name).inserted else {
                report("There can be only one argument named \"\(name)\"", a, path, ["code": "argumentNotUnique", "name": name])
                continue
            }
            guard let def = defs.first(where: { $0.name == name }) else {
                report(
                    "\(owner.kind) '\(owner.name)' doesn't accept argument '\(name)'", a, path + [name],
                    ["code": "argumentNotAccepted", "name": owner.name, "typeName": owner.kind, "argumentName": name])
                continue
            }
            value(a.value, def.type, owner: owner, argument: name, hasDefault: def.hasDefault, a, path + [name])
        }
        let missing = defs.filter { $0.type is GraphQLNonNull && !$0.hasDefault && !seen.contains($0.name) }.map(\.name)
        if !missing.isEmpty {
            let names = missing.joined(separator: ", ")
            report(
                "\(owner.kind) '\(owner.name)' is missing required arguments: \(names)", node, path,
                ["code": "missingRequiredArguments", "className": owner.kind, "name": owner.name, "arguments": names])
        }
    }

    /// Checks a literal where `type` is expected: variables are recorded (their positions are checked
    /// per operation), input objects are checked field by field, anything else must be valid as a whole.
    private mutating func value(
        _ v: Value, _ type: GraphQLInputType, owner: (kind: String, name: String), argument: String, hasDefault: Bool, _ node: Node,
        _ path: [Any]
    ) {
        if let variable = v as? Variable {
            uses[scope, default: []].append(
                Use(
                    name: variable.name.value, type: type, locationHasDefault: hasDefault, node: variable, path: path,
                    argument: argument))
            return
        }
        if v is NullValue {
            if type is GraphQLNonNull { incompatible(v, type, owner: owner, argument: argument, node, path) }
            return
        }
        let inner = GraphQLTypes.nullable(type)
        if let list = inner as? GraphQLList, let item = list.ofType as? GraphQLInputType {
            if let values = (v as? ListValue)?.values {
                // Objects and variables inside are checked where they are; other items must be valid.
                if values.contains(where: { !($0 is ObjectValue) && !($0 is Variable) && !($0 is ListValue) && !literalValid($0, item) }) {
                    incompatible(v, type, owner: owner, argument: argument, node, path)
                    return
                }
                for (i, e) in values.enumerated() where e is ObjectValue || e is Variable || e is ListValue {
                    value(e, item, owner: owner, argument: argument, hasDefault: false, node, path + [i])
                }
            } else {
                value(v, item, owner: owner, argument: argument, hasDefault: hasDefault, node, path)  // one item for a list
            }
            return
        }
        if let input = inner as? GraphQLInputObjectType {
            guard let object = v as? ObjectValue else {
                incompatible(v, type, owner: owner, argument: argument, node, path)
                return
            }
            let fields = sdl.inputFields(input)
            var given = Set<String>()
            for f in object.fields {
                let name = f.name.value
                given.insert(name)
                guard let def = fields[name] else {
                    report(
                        "InputObject '\(input.name)' doesn't accept argument '\(name)'", f, path + [name],
                        ["code": "argumentNotAccepted", "name": input.name, "typeName": "InputObject", "argumentName": name])
                    continue
                }
                value(
                    f.value, def.type, owner: ("InputObject", input.name), argument: name, hasDefault: def.defaultValue != nil, f,
                    path + [name])
            }
            for (name, def) in fields where def.type is GraphQLNonNull && def.defaultValue == nil && !given.contains(name) {
                report(
                    "Argument '\(name)' on InputObject '\(input.name)' is required. Expected type \(GraphQLTypes.string(def.type))",
                    object, path,
                    [
                        "code": "missingRequiredInputObjectAttribute", "argumentName": name,
                        "argumentType": GraphQLTypes.string(def.type), "inputObjectType": input.name,
                    ])
            }
            return
        }
        if !literalValid(v, type) { incompatible(v, type, owner: owner, argument: argument, node, path) }
    }

    private mutating func incompatible(
        _ v: Value, _ type: GraphQLInputType, owner: (kind: String, name: String), argument: String, _ node: Node, _ path: [Any]
    ) {
        report(
            "Argument '\(argument)' on \(owner.kind) '\(owner.name)' has an invalid value (\(print(ast: v))). Expected type '\(GraphQLTypes.string(type))'.",
            node, path, ["code": "argumentLiteralsIncompatible", "typeName": owner.kind, "argumentName": argument])
    }

    /// Whether a literal is valid where `type` is expected (variables count as valid here).
    func literalValid(_ v: Value, _ type: GraphQLType) -> Bool {
        if v is Variable { return true }
        if let nonNull = type as? GraphQLNonNull { return !(v is NullValue) && literalValid(v, nonNull.ofType) }
        if v is NullValue { return true }
        if let list = type as? GraphQLList {
            if let values = (v as? ListValue)?.values { return values.allSatisfy { literalValid($0, list.ofType) } }
            return literalValid(v, list.ofType)
        }
        switch type {
        case let input as GraphQLInputObjectType:
            guard let object = v as? ObjectValue else { return false }
            let fields = sdl.inputFields(input)
            let given = Set(object.fields.map(\.name.value))
            guard given.isSubset(of: Set(fields.keys)) else { return false }
            for (name, def) in fields where def.type is GraphQLNonNull && def.defaultValue == nil && !given.contains(name) { return false }
            return object.fields.allSatisfy { f in fields[f.name.value].map { literalValid(f.value, $0.type) } ?? false }
        case let e as GraphQLEnumType:
            return (v as? EnumValue).map { e.nameLookup[$0.value] != nil } ?? false
        case let s as GraphQLScalarType:
            return Self.scalarLiteral(v, s.name)
        default:
            return false
        }
    }

    static func scalarLiteral(_ v: Value, _ scalar: String) -> Bool {
        switch scalar {
        case "Int": return (v as? IntValue).flatMap { Int32($0.value) } != nil
        case "Float": return v is IntValue || v is FloatValue
        case "String": return v is StringValue
        case "Boolean": return v is BooleanValue
        case "ID": return v is StringValue || v is IntValue
        case "BigInt": return v is StringValue || v is IntValue
        default: return (v as? StringValue).map { scalarText($0.value, scalar) } ?? false
        }
    }

    /// GitHub's custom scalars given as strings ([U]: the formats their descriptions state).
    static func scalarText(_ s: String, _ scalar: String) -> Bool {
        switch scalar {
        case "DateTime", "PreciseDateTime", "GitTimestamp":
            return s.count >= 19 && s.utf8.dropFirst(10).first == 84 && WorldTime.parse(s) != nil
        case "Date": return s.count == 10 && WorldTime.parse(s) != nil
        case "GitObjectID": return !s.isEmpty && s.count <= 40 && s.allSatisfy(\.isHexDigit)
        default: return true
        }
    }

    // MARK: Variables

    private mutating func variables(_ o: OperationDefinition, scope: String) {
        var all = uses[scope] ?? []
        for f in reachable(from: scope).sorted() { all += uses["fr:\(f)"] ?? [] }
        let owner = o.name?.value ?? "anonymous \(o.operation.rawValue)"
        var declared: [String: (VariableDefinition, GraphQLType?)] = [:]
        for v in o.variableDefinitions where declared[v.variable.name.value] == nil {
            declared[v.variable.name.value] = (v, GraphQLTypes.resolve(v.type, in: schema))
        }
        for v in o.variableDefinitions where !all.contains(where: { $0.name == v.variable.name.value }) {
            report(
                "Variable $\(v.variable.name.value) is declared by \(owner) but not used", o, [label(o)],
                ["code": "variableNotUsed", "variableName": v.variable.name.value])
        }
        var undeclared = Set<String>()
        for use in all {
            guard let (def, type) = declared[use.name] else {
                if undeclared.insert(use.name).inserted {
                    report(
                        "Variable $\(use.name) is used by \(owner) but not declared", use.node, use.path,
                        ["code": "variableNotDefined", "variableName": use.name])
                }
                continue
            }
            guard let type else { continue }
            let nullableOK = def.defaultValue != nil || use.locationHasDefault
            if let problem = Self.mismatch(type, use.type, nullableOK: nullableOK) {
                let varType = GraphQLTypes.string(type)
                report(
                    "\(problem) on variable $\(use.name) and argument \(use.argument) (\(varType) / \(GraphQLTypes.string(use.type)))",
                    use.node, use.path,
                    [
                        "code": "variableMismatch", "variableName": use.name, "typeName": varType, "argumentName": use.argument,
                        "errorMessage": problem,
                    ])
            }
        }
    }

    /// Why a variable of type `variable` may not be used where `location` is expected, or nil.
    static func mismatch(_ variable: GraphQLType, _ location: GraphQLType, nullableOK: Bool) -> String? {
        if let l = location as? GraphQLNonNull {
            if let v = variable as? GraphQLNonNull { return mismatch(v.ofType, l.ofType, nullableOK: false) }
            return nullableOK ? mismatch(variable, l.ofType, nullableOK: false) : "Nullability mismatch"
        }
        if let v = variable as? GraphQLNonNull { return mismatch(v.ofType, location, nullableOK: false) }
        switch (variable as? GraphQLList, location as? GraphQLList) {
        case (let v?, let l?): return mismatch(v.ofType, l.ofType, nullableOK: false)
        case (nil, nil):
            return (variable as? GraphQLNamedType)?.name == (location as? GraphQLNamedType)?.name ? nil : "Type mismatch"
        default: return "List dimension mismatch"
        }
    }
}
