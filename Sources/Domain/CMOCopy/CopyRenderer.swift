import CMOBasics
import Crypto
import Foundation
import Stencil

/// Why one record got no copy; becomes its dead letter.
public struct CopyFailure: Error, Equatable, CustomStringConvertible {
    /// Dead-letter code: `missing_variable`, `empty_subject`, `empty_body`, `body_too_long`,
    /// `template_error`, `missing_field`, or an `llm_*` code.
    public let code: String
    public let message: String
    public let retryable: Bool
    public init(_ code: String, _ message: String, retryable: Bool = false) {
        self.code = code
        self.message = message
        self.retryable = retryable
    }
    public var description: String { "\(code): \(message)" }
}

/// The copy made for one record: what `copy` holds on the output record.
public struct RenderedCopy: Equatable {
    public var subject: String
    public var body: String
    /// `A`, `B`, … by the template's position in the list.
    public var variant: String
    public var templateName: String
    public var templateSHA256: String
    /// The model's part, when `--llm` wrote `snippets.why_now`.
    public var llm: JSONValue?

    /// `{"subject","body","variant","template":{"name","sha256"}[,"llm":{…}]}`.
    public var json: JSONValue {
        var members: [JSONMember] = [
            JSONMember("subject", .string(subject)), JSONMember("body", .string(body)), JSONMember("variant", .string(variant)),
            JSONMember("template", .object([JSONMember("name", .string(templateName)), JSONMember("sha256", .string(templateSHA256))])),
        ]
        if let llm { members.append(JSONMember("llm", llm)) }
        return .object(members)
    }
}

/// Renders records through a list of templates: picks each record's variant from its `id`, builds
/// the template variables (the record's fields, `campaign.*`, `snippets.*`), renders strictly, and
/// cleans the subject and body.
public final class CopyRenderer {
    public let templates: [CopyTemplate]
    /// The `campaign` variable (from the config's `campaign:` mapping), as plain values.
    public let campaign: [String: Any]
    /// Longest subject in characters; a longer one is cut at a word boundary with `…`.
    public var subjectLimit: Int
    /// Longest body in characters; a longer one dead-letters the record (`body_too_long`).
    public var bodyLimit: Int
    /// Record fields the templates mention (decoded per record; the rest is never decoded).
    private let fields: [String]
    private let environment: Environment
    /// Whether any template mentions `snippets` (where `--llm` puts `why_now`).
    public let usesSnippets: Bool
    /// How often each template's `default` filters stood in, over the leads rendered (TemplateCheck.swift).
    public let defaultUsage = DefaultUsage()
    private let campaignValue: Context?

    /// The shared Stencil environment (strict variables, `default`, `first_name`, `truncate`, `one_line`).
    public static func makeEnvironment() -> Environment { StrictStencil.environment() }

    public init(templates: [CopyTemplate], campaign: [String: Any], environment: Environment, subjectLimit: Int = 78, bodyLimit: Int = 5000)
    {
        precondition(!templates.isEmpty)
        self.templates = templates
        self.campaign = campaign
        self.environment = environment
        self.subjectLimit = subjectLimit
        self.bodyLimit = bodyLimit
        let mentioned = templates.reduce(into: Set<String>()) { $0.formUnion($1.identifiers) }
        fields = mentioned.subtracting(["campaign", "snippets"]).sorted()
        usesSnippets = mentioned.contains("snippets")
        campaignValue = campaign.isEmpty ? nil : Context(dictionary: campaign, environment: environment)
    }

    /// The variant label of position `index`: `A`…`Z`, then `V27`, `V28`, ….
    public static func variantLabel(_ index: Int) -> String {
        index < 26 ? String(UnicodeScalar(UInt8(65 + index))) : "V\(index + 1)"
    }

    /// The template index of a record: the first eight bytes of SHA-256(id text), big-endian, modulo
    /// `count`. The id text is a number's JSON text (`15723482`) or a string's value.
    public static func variantIndex(idText: String, count: Int) -> Int {
        guard count > 1 else { return 0 }
        let digest = Array(SHA256.hash(data: Array(idText.utf8)))
        var n: UInt64 = 0
        for b in digest[0..<8] { n = n << 8 | UInt64(b) }
        return Int(n % UInt64(count))
    }

    /// The text of a record's `id` used for variant assignment, nil when absent, null or empty.
    public static func idText(_ record: Record) -> String? {
        switch record["id"] {
        case .number(let t)?: return t
        case .string(let s)? where !s.isEmpty: return s
        default: return nil
        }
    }

    /// The template a record gets.
    public func template(for record: Record) throws(CopyFailure) -> (index: Int, template: CopyTemplate) {
        if templates.count == 1 { return (0, templates[0]) }
        guard let id = Self.idText(record) else {
            throw CopyFailure("missing_field", "required field 'id' is missing or empty (it picks the A/B variant)")
        }
        let i = Self.variantIndex(idText: id, count: templates.count)
        return (i, templates[i])
    }

    /// The template variables of a record: the fields the templates mention, `campaign`, and
    /// `snippets` (the record's own, with `extraSnippets` such as the model's `why_now` on top).
    public func variables(for record: Record, extraSnippets: [String: String] = [:]) -> [String: Any] {
        var vars: [String: Any] = [:]
        vars.reserveCapacity(fields.count + 2)
        for f in fields {
            if let v = record[f], let any = Self.templateValue(v, environment: environment) { vars[f] = any }
        }
        if usesSnippets {
            var snippets: [String: Any] = [:]
            if case .object(let members)? = record["snippets"] { snippets = Self.dictionary(members, environment: environment) }
            for (k, v) in extraSnippets { snippets[k] = v }
            if !snippets.isEmpty { vars["snippets"] = Context(dictionary: snippets, environment: environment) }
        }
        if let campaignValue { vars["campaign"] = campaignValue }
        return vars
    }

    /// Renders one record; `extraSnippets` are added under `snippets`.
    public func render(_ record: Record, extraSnippets: [String: String] = [:]) throws(CopyFailure) -> RenderedCopy {
        let (index, template) = try template(for: record)
        var vars = variables(for: record, extraSnippets: extraSnippets)
        let state = RenderState()
        vars[RenderState.key] = state
        let context = Context(dictionary: vars, environment: environment)
        let rawSubject: String
        let rawBody: String
        do {
            rawSubject = try renderNodes(template.subjectNodes, context)
        } catch {
            throw Self.failure(state.missing ?? error, part: "subject", template: template)
        }
        do {
            rawBody = try renderNodes(template.bodyNodes, context)
        } catch {
            throw Self.failure(state.missing ?? error, part: "body", template: template)
        }
        var subject = TextCleaning.oneLine(rawSubject)
        if subject.utf8.count > subjectLimit { subject = TextCleaning.truncate(subject, to: subjectLimit) }
        guard !subject.isEmpty else { throw CopyFailure("empty_subject", "template '\(template.name)': the subject rendered empty") }
        let body = TextCleaning.body(rawBody)
        guard !body.isEmpty else { throw CopyFailure("empty_body", "template '\(template.name)': the body rendered empty") }
        if body.utf8.count > bodyLimit {
            let n = body.count
            if n > bodyLimit {
                throw CopyFailure("body_too_long", "template '\(template.name)': the body is \(n) characters, over the \(bodyLimit) limit")
            }
        }
        defaultUsage.note(template: index, expressions: state.defaultsUsed)
        return RenderedCopy(
            subject: subject, body: body, variant: Self.variantLabel(index), templateName: template.name, templateSHA256: template.sha256)
    }

    static func failure(_ error: Error, part: String, template: CopyTemplate) -> CopyFailure {
        if let m = error as? MissingVariable {
            return CopyFailure(
                "missing_variable", "template '\(template.name)' \(part): \(m.description) (add a default filter to allow it)")
        }
        return CopyFailure("template_error", "template '\(template.name)' \(part): \(CopyTemplate.describe(error))")
    }

    /// A JSON value as a template sees it: objects as Stencil `Context`s (null members left out, an
    /// empty object is nil), lists as arrays, integers as Int, other numbers as Double, null as nil.
    ///
    /// Objects are `Context`s, not dictionaries, for speed: Stencil resolves each step of a dotted
    /// path by casting the current value to `Context` first, which for a Swift dictionary on Linux
    /// means bridging it to an `NSDictionary`, and then re-normalises (copies) the dictionary.
    public static func templateValue(_ v: JSONValue, environment: Environment) -> Any? {
        switch v {
        case .null: return nil
        case .bool(let b): return b
        case .string(let s): return s
        case .number(let t):
            if let i = Int(t) { return i }
            return Double(t) ?? t
        case .array(let a): return a.map { templateValue($0, environment: environment) ?? TemplateNull() }
        case .object(let members):
            let d = dictionary(members, environment: environment)
            return d.isEmpty ? nil : Context(dictionary: d, environment: environment)
        }
    }

    /// An object's members as template values (null members left out).
    static func dictionary(_ members: [JSONMember], environment: Environment) -> [String: Any] {
        var d: [String: Any] = [:]
        d.reserveCapacity(members.count)
        for m in members {
            if let x = templateValue(m.value, environment: environment) { d[m.key] = x } else { d.removeValue(forKey: m.key) }
        }
        return d
    }

    /// The config's `campaign:` mapping as template values; nil when it is not a mapping.
    public static func campaign(yaml: Any, environment: Environment) -> [String: Any]? {
        guard let map = yaml as? [String: Any] else { return nil }
        return map.compactMapValues { templateValue(yaml: $0, environment: environment) }
    }

    /// Why copy for sending is not rendered with a campaign marked `example: true` (the one in
    /// `examples/`): its sender and unsubscribe link belong to nobody who runs cmo, and mail that
    /// names a stranger as sender, with an opt-out link that goes nowhere, must never be queued.
    public static func exampleCampaignRefusal(_ campaign: [String: Any], configPath: String?) -> String {
        let file = configPath.map { "'\($0)'" } ?? "the config"
        var named: [String] = []
        for key in ["sender_name", "unsubscribe_url"] {
            if let v = campaign[key] { named.append("\(key) '\(v)'") }
        }
        return "config \(file) is an example campaign (campaign.example: true)"
            + (named.isEmpty ? "" : ", with the example's \(named.joined(separator: " and "))")
            + ": copy it, set campaign.sender_name, sender_title, company, product_hook, unsubscribe_url and "
            + "postal_address to your own, and remove 'example: true' (or set campaign.sending: false to preview copy)"
    }

    /// A YAML value (from Yams) as a template sees it; mappings as `Context`s, as for JSON objects.
    public static func templateValue(yaml: Any, environment: Environment) -> Any? {
        switch yaml {
        case let d as [String: Any]:
            let m = d.compactMapValues { templateValue(yaml: $0, environment: environment) }
            return m.isEmpty ? nil : Context(dictionary: m, environment: environment)
        case let d as [AnyHashable: Any]:
            var out: [String: Any] = [:]
            for (k, v) in d { if let x = templateValue(yaml: v, environment: environment) { out["\(k)"] = x } }
            return out.isEmpty ? nil : Context(dictionary: out, environment: environment)
        case let a as [Any]: return a.map { templateValue(yaml: $0, environment: environment) ?? TemplateNull() }
        case is NSNull: return nil
        default: return yaml
        }
    }
}
