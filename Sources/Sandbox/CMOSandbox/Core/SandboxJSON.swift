import Foundation

/// A fast JSON writer for the sandbox's bodies: keys sorted by plain code-point order (JSONSerialization's
/// `.sortedKeys` compares with ICU collation, which made it most of a request's cost), slashes unescaped,
/// non-ASCII written as UTF-8. Same input, same bytes.
public enum SandboxJSON {
    /// The JSON bytes of a JSONSerialization-compatible value (dictionaries, arrays, strings, numbers,
    /// booleans, `NSNull`); a value JSONSerialization cannot write either becomes `null`.
    public static func encode(_ value: Any) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        write(value, into: &out)
        return out
    }

    private static func write(_ value: Any, into out: inout [UInt8]) {
        if type(of: value) is NSNumber.Type, let n = value as? NSNumber {  // parsed JSON numbers, not Swift values
            out +=
                String(describing: type(of: value)).contains("Boolean")
                ? Array((n.boolValue ? "true" : "false").utf8) : Array(n.stringValue.utf8)
            return
        }
        switch value {
        case let s as String: string(s, into: &out)
        case let b as Bool: out += b ? Array("true".utf8) : Array("false".utf8)
        case let i as Int: out += Array(String(i).utf8)
        case let d as Double: number(d, into: &out)
        case let o as [String: Any]:
            out.append(UInt8(ascii: "{"))
            var first = true
            for key in o.keys.sorted(by: { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                string(key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(o[key]!, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case let a as [Any]:
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(v, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case is NSNull: out += Array("null".utf8)
        case let i as any BinaryInteger: out += Array(String(describing: i).utf8)
        case let f as any BinaryFloatingPoint: number(Double(f), into: &out)
        default:  // anything else JSONSerialization knows (slices, other collections)
            if let data = try? JSONSerialization.data(withJSONObject: [value], options: [.fragmentsAllowed]), data.count >= 2 {
                out += data.dropFirst().dropLast()
            } else {
                out += Array("null".utf8)
            }
        }
    }

    private static func number(_ d: Double, into out: inout [UInt8]) {
        guard d.isFinite else {
            out += Array("null".utf8)
            return
        }
        if d == d.rounded(), abs(d) < 1e15 {
            out += Array(String(Int64(d)).utf8)
        } else {
            out += Array(String(d).utf8)
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    private static func string(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [92, 34]
            case UInt8(ascii: "\\"): out += [92, 92]
            case 10: out += [92, UInt8(ascii: "n")]
            case 13: out += [92, UInt8(ascii: "r")]
            case 9: out += [92, UInt8(ascii: "t")]
            case 8: out += [92, UInt8(ascii: "b")]
            case 12: out += [92, UInt8(ascii: "f")]
            case 0..<32: out += [92, UInt8(ascii: "u"), 48, 48, hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension SandboxResponse {
    /// A JSON response written by `SandboxJSON` (fast, sorted keys, byte-identical for the same value).
    public static func sortedJSON(_ status: Int, _ object: Any, headers: [(name: String, value: String)] = []) -> SandboxResponse {
        SandboxResponse(
            status: status, headers: [("content-type", "application/json; charset=utf-8")] + headers, body: SandboxJSON.encode(object))
    }
}
