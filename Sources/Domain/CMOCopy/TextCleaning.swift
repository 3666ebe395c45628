import CMOBasics
import Stencil

extension TextCleaning {
    /// True when a value counts as missing: nil, null, an empty or all-white-space string, an empty
    /// list or an empty mapping.
    public static func isBlank(_ value: Any?) -> Bool {
        guard let value else { return true }
        switch value {
        case let s as String: return s.unicodeScalars.allSatisfy(isSpace)
        case let a as [Any]: return a.isEmpty
        case let a as [Any?]: return a.isEmpty
        case let d as [String: Any]: return d.isEmpty
        case is TemplateNull: return true
        case let c as Context: return c.flatten().isEmpty
        default: return false
        }
    }
}


/// A JSON `null` inside a list, which a template sees as missing.
public struct TemplateNull: CustomStringConvertible, Sendable {
    public var description: String { "" }
}
