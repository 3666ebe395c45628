import Foundation
import GraphQL

/// A vendor's published GraphQL schema (its SDL, compiled into the sandbox by Plugins/EmbedText), built once per
/// process on first use and shared by every request. GitHub's 1.2 MB costs about 0.2 s in a release
/// build (0.5–1 s in a debug one), so it is not built at start: most sandboxes never see a query.
final class GraphQLSDL: @unchecked Sendable {
    /// GitHub's schema (octokit/graphql-schema `schema.graphql`, MIT; docs/third-party/graphql-schemas.md).
    static let github = GraphQLSDL(resource: "github-schema", sdl: { GitHubSchemaSDL.text })
    /// Linear's schema (linear/linear `packages/sdk/src/schema.graphql`, MIT).
    static let linear = GraphQLSDL(resource: "linear-schema", sdl: { LinearSchemaSDL.text })

    let resource: String
    /// The SDL's text (read once, when the schema is first built).
    let sdl: @Sendable () -> String
    private let lock = NSLock()
    private var built: Result<GraphQLSchema, Error>?
    private var seconds: Double?
    private var fieldMaps: [String: GraphQLFieldMap] = [:]
    private var inputFieldMaps: [String: InputObjectFieldMap] = [:]

    init(resource: String, sdl: @escaping @Sendable () -> String) {
        self.resource = resource
        self.sdl = sdl
    }

    struct LoadError: Error, CustomStringConvertible {
        var description: String
    }

    /// The schema, built on the first call (callers during the build wait for it).
    func schema() throws -> GraphQLSchema {
        try lock.withLock {
            if let built { return try built.get() }
            let start = DispatchTime.now().uptimeNanoseconds
            let result = Result { try Self.build(resource, sdl: sdl()) }
            seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            built = result
            return try result.get()
        }
    }

    /// How long building took, once it has happened (reported in `/_sandbox/stats`).
    var loadSeconds: Double? { lock.withLock { seconds } }

    /// The fields of an object or interface type (the SDL builder makes them anew on every call; kept here).
    func fields(_ type: GraphQLNamedType) -> GraphQLFieldMap? {
        lock.withLock {
            if let f = fieldMaps[type.name] { return f }
            let f: GraphQLFieldMap?
            switch type {
            case let o as GraphQLObjectType: f = try? o.fields()
            case let i as GraphQLInterfaceType: f = try? i.fields()
            default: f = nil
            }
            if let f { fieldMaps[type.name] = f }
            return f
        }
    }

    /// The fields of an input object type.
    func inputFields(_ type: GraphQLInputObjectType) -> InputObjectFieldMap {
        lock.withLock {
            if let f = inputFieldMaps[type.name] { return f }
            let f = (try? type.fields()) ?? [:]
            inputFieldMaps[type.name] = f
            return f
        }
    }

    static func build(_ resource: String, sdl: String) throws -> GraphQLSchema {
        let source = withoutBlockStrings(Array(sdl.utf8))
        let document = try parse(source: Source(body: source, name: "\(resource).graphql"))
        // Lenient: GitHub's SDL defines two EnterpriseOwnerInfo fields twice (identically); the
        // builder keeps one. The SDL is the vendor's own, so its other checks are skipped too.
        return try buildASTSchema(documentAST: document, assumeValid: true, assumeValidSDL: true)
    }

    /// The SDL without its `"""…"""` descriptions (two thirds of GitHub's bytes; they mean nothing
    /// to validation). Plain strings and comments are kept as they are.
    static func withoutBlockStrings(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 2)
        var i = 0
        let n = bytes.count
        func tripleQuote(_ k: Int) -> Bool { k + 2 < n && bytes[k] == 34 && bytes[k + 1] == 34 && bytes[k + 2] == 34 }
        while i < n {
            let b = bytes[i]
            if tripleQuote(i) {
                i += 3
                while i < n, !tripleQuote(i) { i += bytes[i] == 92 && tripleQuote(i + 1) ? 4 : 1 }
                i += 3
                out.append(32)
            } else if b == 34 {  // a plain string: copied, escapes included
                out.append(b)
                i += 1
                while i < n, bytes[i] != 34, bytes[i] != 10 {
                    if bytes[i] == 92, i + 1 < n {
                        out.append(bytes[i])
                        i += 1
                    }
                    out.append(bytes[i])
                    i += 1
                }
                if i < n {
                    out.append(bytes[i])
                    i += 1
                }
            } else if b == 35 {  // a comment, to the end of the line
                while i < n, bytes[i] != 10 {
                    out.append(bytes[i])
                    i += 1
                }
            } else {
                out.append(b)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// GraphQL type helpers shared by the validators.
enum GraphQLTypes {
    /// The type as SDL writes it (`String!`, `[ID!]!`).
    static func string(_ t: GraphQLType) -> String {
        switch t {
        case let n as GraphQLNonNull: return string(n.ofType) + "!"
        case let l as GraphQLList: return "[" + string(l.ofType) + "]"
        case let named as GraphQLNamedType: return named.name
        default: return "\(t)"
        }
    }

    /// The schema type an AST type names, or nil when its name is unknown.
    static func resolve(_ ast: Type, in schema: GraphQLSchema) -> GraphQLType? {
        switch ast {
        case let n as NonNullType:
            guard let inner = resolve(n.type, in: schema) as? GraphQLNullableType else { return nil }
            return GraphQLNonNull(inner)
        case let l as ListType: return resolve(l.type, in: schema).map { GraphQLList($0) }
        case let named as NamedType: return schema.getType(name: named.name.value)
        default: return nil
        }
    }

    /// The name an AST type ends in.
    static func name(_ ast: Type) -> String {
        switch ast {
        case let n as NonNullType: return name(n.type)
        case let l as ListType: return name(l.type)
        case let named as NamedType: return named.name.value
        default: return ""
        }
    }

    static func nullable(_ t: GraphQLType) -> GraphQLType { (t as? GraphQLNonNull)?.ofType ?? t }
    static func isInput(_ t: GraphQLNamedType) -> Bool {
        t is GraphQLScalarType || t is GraphQLEnumType || t is GraphQLInputObjectType
    }
    static func isComposite(_ t: GraphQLNamedType) -> Bool {
        t is GraphQLObjectType || t is GraphQLInterfaceType || t is GraphQLUnionType
    }
}

/// GitHub's and Linear's SDL (`Resources/*.graphql`), as `text`, compiled in by Plugins/EmbedText.
enum GitHubSchemaSDL {}
enum LinearSchemaSDL {}
