import CMOBasics
import Crypto
import Foundation
import Stencil
import Yams

/// Why a template file cannot be used (exit 78).
public struct TemplateError: CMOError {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
    public var exitStatus: ExitStatus { .config }
}

/// One copy template: a `subject` and a `body` in Stencil (Jinja-style) syntax, parsed once.
///
/// A template file is YAML with the keys `subject` and `body` (required), and `name` and
/// `description` (optional; the name defaults to the file's name without its extension). Any
/// other key is refused, so a typo does not silently drop a part of the email.
public final class CopyTemplate {
    /// The name recorded in `copy.template.name`.
    public let name: String
    /// Where the template came from (a path, or a label for templates made in memory).
    public let source: String
    /// SHA-256 (hex) of the file's bytes, recorded in `copy.template.sha256`.
    public let sha256: String
    /// The template texts as written.
    public let subjectText: String
    public let bodyText: String
    let subjectNodes: [NodeType]
    let bodyNodes: [NodeType]
    /// Every identifier the template mentions: the record fields worth decoding for it.
    let identifiers: Set<String>
    private let bodyTokens: [Token]

    /// Parses a template; `content` is what the hash is taken of (the file's bytes).
    public init(name: String, subject: String, body: String, content: [UInt8], source: String, environment: Environment) throws {
        self.name = name
        self.source = source
        self.subjectText = subject
        self.bodyText = body
        sha256 = SHA256.hash(data: content).map { String(format: "%02x", $0) }.joined()
        func parse(_ text: String, part: String) throws -> ([NodeType], [Token]) {
            let tokens = StrictStencil.strictTokens(Template(templateString: text, environment: environment, name: part).tokens)
            do {
                return (try TokenParser(tokens: tokens, environment: environment).parse(), tokens)
            } catch {
                throw TemplateError("template '\(source)': \(part): \(Self.describe(error))")
            }
        }
        let (s, sTokens) = try parse(subject, part: "subject")
        let (b, bTokens) = try parse(body, part: "body")
        subjectNodes = s
        bodyNodes = b
        bodyTokens = bTokens
        identifiers = Self.identifiers(in: sTokens + bTokens)
    }

    /// Reads a template file (see the type's description for the format).
    public static func load(path: String, environment: Environment) throws -> CopyTemplate {
        guard let data = FileManager.default.contents(atPath: path) else { throw TemplateError("cannot read template '\(path)'") }
        guard let text = String(data: data, encoding: .utf8) else { throw TemplateError("template '\(path)' is not UTF-8 text") }
        let loaded: Any?
        do {
            loaded = try Yams.load(yaml: text)
        } catch {
            throw TemplateError("template '\(path)' is not valid YAML: \(error)")
        }
        guard let map = loaded as? [String: Any] else {
            throw TemplateError("template '\(path)' must be a YAML mapping with 'subject' and 'body'")
        }
        if let unknown = map.keys.sorted().first(where: { !["name", "description", "subject", "body"].contains($0) }) {
            throw TemplateError("template '\(path)': unknown key '\(unknown)' (expected name, description, subject, body)")
        }
        func field(_ key: String) throws -> String {
            guard let v = map[key] as? String, !v.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw TemplateError("template '\(path)': '\(key)' is missing or not a non-empty string")
            }
            return v
        }
        let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let name = (map["name"] as? String).map { $0.trimmingCharacters(in: .whitespaces) } ?? base
        return try CopyTemplate(
            name: name.isEmpty ? base : name, subject: try field("subject"), body: try field("body"), content: Array(data), source: path,
            environment: environment)
    }

    /// Whether the body prints `variable` (e.g. `campaign.unsubscribe_url`) unconditionally: in a
    /// `{{ … }}` of its own that is not inside any `{% if %}`, `{% for %}` or other block.
    public func bodyPrintsUnconditionally(_ variable: String) -> Bool {
        var depth = 0
        for t in bodyTokens where t.kind == .block {
            let parts = t.components
            guard let tag = parts.first else { continue }
            if tag == StrictStencil.variableTag {
                let rest = Array(parts.dropFirst())
                if depth == 0, !rest.contains("if"),
                    StrictVariableNode.variableName(rest.joined(separator: " ")) == variable
                {
                    return true
                }
            } else if ["if", "ifnot", "for", "filter", "block"].contains(tag)
                || (tag.hasSuffix(":") && parts.count > 1 && parts[1] == "for")
            {
                depth += 1
            } else if tag.hasPrefix("end") {
                depth = max(0, depth - 1)
            }
        }
        return false
    }

    /// Identifiers mentioned in tags and variables (outside quoted strings), minus Stencil's words.
    static func identifiers(in tokens: [Token]) -> Set<String> {
        let keywords: Set<String> = [
            "if", "elif", "else", "endif", "ifnot", "for", "in", "endfor", "empty", "and", "or", "not", "true", "false", "filter",
            "endfilter", "block", "endblock", "now", "include", "extends", "break", "continue", "forloop", "where",
            StrictStencil.variableTag,
        ]
        var out = Set<String>()
        for t in tokens where t.kind == .block || t.kind == .variable {
            var quote: Character?
            var word = ""
            var afterDot = false
            func finish() {
                if !word.isEmpty, !afterDot, !keywords.contains(word), !(word.first!.isNumber) { out.insert(word) }
                afterDot = false
                word = ""
            }
            var previous: Character = " "
            for c in t.contents {
                if let q = quote {
                    if c == q { quote = nil }
                    previous = c
                    continue
                }
                if c == "\"" || c == "'" {
                    finish()
                    quote = c
                } else if c.isLetter || c.isNumber || c == "_" {
                    // A word after "." is a member, after "|" a filter name: neither is a record field.
                    if word.isEmpty { afterDot = previous == "." || previous == "|" }
                    word.append(c)
                } else {
                    finish()
                }
                if c != " " { previous = c }
            }
            finish()
        }
        return out
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? TemplateSyntaxError { return e.reason }
        return "\(error)"
    }
}
