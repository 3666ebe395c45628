import CMOBasics
import Foundation
import Stencil

/// Every `{{ … }}` and `{% … %}` variable of the templates checked before any input is read: it must
/// name a key of the config's `campaign:` mapping (`campaign.sender_name`), a field a person record
/// can have (`TemplateFields.record`), a field named with `--record-field`, or a loop variable. A
/// name that is none of these stops render-copy (78) with the template, the part and the nearest
/// known name ("did you mean campaign.sender_name?"), where it would otherwise dead-letter every
/// lead after the whole discovery. An unknown name printed with a `default` filter, and no known
/// name near it, is a warning instead: the author said what to print without it.
public enum TemplateCheck {
    /// One variable a template mentions.
    struct Reference: Hashable {
        var path: String
        var part: String
        /// Printed (`{{ }}`) with a `default` filter.
        var hasDefault: Bool
        /// The `{{ … }}` it is printed in, for messages (empty for a condition).
        var expression: String
    }

    /// Checks `templates` against the config's `campaign` mapping (nil: the config has none) and
    /// `recordFields` (top-level fields the input carries beyond the known ones). Returns the warnings;
    /// throws a `TemplateError` (78) naming every unknown variable.
    public static func check(_ templates: [CopyTemplate], campaign: Any?, recordFields: [String] = []) throws -> [String] {
        let campaignShape = campaign.map(TemplateFields.shape(yaml:))
        var known = TemplateFields.paths(.object(TemplateFields.record), prefix: "").filter { !$0.isEmpty }
        if let campaignShape { known += TemplateFields.paths(campaignShape, prefix: "campaign") }
        known += recordFields
        var problems: [String] = []
        var warnings: [String] = []
        for t in templates {
            for (part, text) in [("subject", t.subjectText), ("body", t.bodyText)] {
                let (references, bound) = Self.references(text, part: part)
                var seen = Set<String>()
                for r in references where seen.insert(r.path).inserted {
                    guard let failing = unknownPrefix(r.path, bound: bound, campaign: campaignShape, campaignGiven: campaign != nil, recordFields: recordFields)
                    else { continue }
                    let near = nearest(failing, in: known)
                    let shown = r.expression.isEmpty ? "{% … \(r.path) … %}" : "{{ \(r.expression) }}"
                    let isCampaign = failing.hasPrefix("campaign.") || failing == "campaign"
                    var why: String
                    if isCampaign {
                        why = campaign == nil
                            ? "the config has no 'campaign:' mapping (give --config with one)"
                            : "the config's 'campaign:' mapping has no '\(failing.dropFirst("campaign.".count))'"
                    } else {
                        why = "no stage writes '\(failing)' on a lead record"
                    }
                    if let near { why += " (did you mean \(near)?)" }
                    let head = "template '\(t.source)' \(part): \(shown)"
                    if r.hasDefault, near == nil {
                        warnings.append(
                            "\(head): \(why), so its default is used"
                                + (isCampaign || failing.contains(".") ? "" : " unless the input carries it (--record-field \(failing) says it does)"))
                        continue
                    }
                    if !isCampaign, near == nil, !failing.contains(".") { why += "; a field your input carries can be named with --record-field \(failing)" }
                    problems.append("\(head): \(why)")
                }
            }
        }
        if !problems.isEmpty {
            let more = problems.count > 5 ? " (and \(problems.count - 5) more)" : ""
            throw TemplateError("unknown template variable: " + problems.prefix(5).joined(separator: "; ") + more)
        }
        return warnings
    }

    // MARK: - Finding the variables

    static let keywords: Set<String> = ["and", "or", "not", "in", "if", "else", "true", "false", "where", "is", "nil"]

    /// The variables a template text mentions, and the names its `{% for %}` tags bind.
    static func references(_ text: String, part: String) -> ([Reference], Set<String>) {
        let tokens = Template(templateString: text, environment: Environment(), name: part).tokens
        var bound: Set<String> = ["forloop"]
        var out: [Reference] = []
        for t in tokens {
            switch t.kind {
            case .variable:
                out += printed(t.contents, part: part)
            case .block:
                let parts = t.components
                guard let tag = parts.first else { continue }
                let rest = parts.dropFirst().joined(separator: " ")
                switch tag {
                case StrictStencil.variableTag: out += printed(rest, part: part)
                case "if", "elif", "ifnot":
                    out += paths(in: rest).map { Reference(path: $0, part: part, hasDefault: false, expression: "") }
                case "for":
                    guard let inIndex = parts.firstIndex(of: "in") else { continue }
                    for name in parts[1..<inIndex].joined(separator: " ").split(separator: ",") {
                        bound.insert(name.trimmingCharacters(in: .whitespaces))
                    }
                    let source = parts[(inIndex + 1)...].joined(separator: " ")
                    out += paths(in: source).map { Reference(path: $0, part: part, hasDefault: false, expression: "") }
                default: continue
                }
            default: continue
            }
        }
        return (out, bound)
    }

    /// The variables of a printed expression; its head carries the `default` filter when it has one.
    static func printed(_ expression: String, part: String) -> [Reference] {
        let text = expression.trimmingCharacters(in: .whitespaces)
        let head = StrictVariableNode.variableName(text)
        let hasDefault = StrictVariableNode.filterBits(text).dropFirst().contains {
            $0.split(separator: ":", maxSplits: 1).first?.trimmingCharacters(in: .whitespaces) == "default"
        }
        return paths(in: text).map { Reference(path: $0, part: part, hasDefault: hasDefault && $0 == head, expression: text) }
    }

    /// Dotted names in an expression, outside quotes, that are not filter names, keywords or numbers.
    static func paths(in expression: String) -> [String] {
        var out: [String] = []
        var quote: Character?
        var word = ""
        var member = false
        var previous: Character = " "
        func finish() {
            if !word.isEmpty, !member, let first = word.first, !first.isNumber, first != ".", !keywords.contains(word) {
                out.append(word.hasSuffix(".") ? String(word.dropLast()) : word)
            }
            word = ""
            member = false
        }
        for c in expression {
            if let q = quote {
                if c == q { quote = nil }
                previous = c
                continue
            }
            if c == "\"" || c == "'" {
                finish()
                quote = c
            } else if c.isLetter || c.isNumber || c == "_" || c == "." {
                // A word right after "|" is a filter's name; after "]" a member of a subscript.
                if word.isEmpty { member = previous == "|" || previous == "]" }
                word.append(c)
            } else {
                finish()
            }
            if c != " " { previous = c }
        }
        finish()
        return out
    }

    // MARK: - Judging a variable

    /// The part of `path` no known field or key has (`campaign.sender_nmae`), or nil when it is known.
    static func unknownPrefix(
        _ path: String, bound: Set<String>, campaign: TemplateFields.Shape?, campaignGiven: Bool, recordFields: [String]
    ) -> String? {
        let bits = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard let root = bits.first, !root.isEmpty else { return nil }
        if bound.contains(root) || recordFields.contains(root) { return nil }
        if root == "campaign" {
            guard let campaign else { return bits.count > 1 ? "campaign.\(bits[1])" : "campaign" }
            return walk(campaign, bits.dropFirst()).map { "campaign." + bits[1...$0].joined(separator: ".") }
        }
        guard let shape = TemplateFields.record[root] else { return root }
        return walk(shape, bits.dropFirst()).map { bits[0...$0].joined(separator: ".") }
    }

    /// The index of the first bit the shape has no member for, or nil when the whole path is there.
    static func walk(_ start: TemplateFields.Shape, _ bits: ArraySlice<String>) -> Int? {
        var shape = start
        for i in bits.indices {
            let bit = bits[i]
            let positional = Int(bit) != nil || bit == "first" || bit == "last"
            switch shape {
            case .open: return nil
            case .value:
                guard positional || bit == "count" else { return i }
            case .list(let item):
                if positional { shape = item } else if bit == "count" { shape = .value } else { return i }
            case .object(let members):
                if let m = members[bit] { shape = m } else if bit == "count" { shape = .value } else { return i }
            }
        }
        return nil
    }

    /// The known name nearest to `name`, when it is near enough to be what was meant.
    static func nearest(_ name: String, in known: [String]) -> String? {
        let wanted = name.lowercased()
        let last = String(wanted.split(separator: ".").last ?? "")
        let limit = max(2, last.count / 3)
        var best: (name: String, distance: Int)?
        for k in known where k != name {
            let d = TextDistance.levenshtein(k.lowercased(), wanted)
            if d <= limit, d < (best?.distance ?? Int.max) { best = (k, d) }
        }
        return best?.name
    }
}

/// How often each template's `default` filters were used in a run, for the warning when a default
/// stands in for most leads ("the default of {{ name|default:"there" }} was used for 180 of 200 leads").
public final class DefaultUsage {
    /// Leads rendered, by template index.
    public private(set) var rendered: [Int: Int] = [:]
    /// Times a `{{ … }}`'s default was used, by template index and expression.
    public private(set) var used: [Int: [String: Int]] = [:]

    public init() {}

    func note(template: Int, expressions: Set<String>) {
        rendered[template, default: 0] += 1
        for e in expressions { used[template, default: [:]][e, default: 0] += 1 }
    }

    /// One warning per expression whose default was used for more than half the leads its template rendered.
    public func warnings(_ templates: [CopyTemplate]) -> [String] {
        var out: [String] = []
        for index in used.keys.sorted() {
            let total = rendered[index] ?? 0
            for (expression, count) in used[index]!.sorted(by: { $0.key < $1.key }) where total > 0 && 2 * count > total {
                let name = index < templates.count ? templates[index].name : "\(index)"
                out.append("template '\(name)': the default of {{ \(expression) }} was used for \(count) of \(total) leads")
            }
        }
        return out
    }
}
