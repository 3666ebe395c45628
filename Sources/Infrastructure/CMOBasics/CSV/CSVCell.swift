/// Turns JSON values into RFC 4180 CSV cells, neutralising what a spreadsheet would execute.
///
/// Rules: null and missing → empty; booleans → `true`/`false`; numbers → their JSON text; strings →
/// their text; arrays of scalars → the scalars joined with `; `; other arrays and objects → compact
/// JSON. A cell that came from text and starts with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`
/// unless `raw` (numbers are never formulas, so `-5` stays `-5`). Cells longer than `maxChars`
/// (Excel's 32,767 by default) are cut and end with `…`. A cell holding `,`, `"`, CR or LF is quoted,
/// with `"` doubled.
public struct CSVCellFormatter: Sendable {
    public var neutralise: Bool
    /// 0 = unlimited.
    public var maxChars: Int
    /// Cells cut so far.
    public private(set) var truncated = 0

    public init(neutralise: Bool = true, maxChars: Int = 32767) {
        self.neutralise = neutralise
        self.maxChars = maxChars
    }

    /// Appends the cell for raw JSON value bytes (already validated) to `out`.
    public mutating func appendCell(rawJSON v: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        guard let first = v.first else { return }
        switch first {
        case UInt8(ascii: "\""):
            let body = UnsafeBufferPointer(rebasing: v[1..<(v.count - 1)])
            if body.contains(UInt8(ascii: "\\")) {
                appendText(Array(JSONScanner.decodeStringBody(body).utf8), fromText: true, to: &out)
            } else {
                appendText(body, fromText: true, to: &out)
            }
        case UInt8(ascii: "n"): return
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            out.append(contentsOf: v)  // numbers and booleans need no quoting or neutralising
        default:
            appendCell(JSONScanner.decode(v), to: &out)
        }
    }

    /// Appends the cell for a decoded value to `out`.
    public mutating func appendCell(_ value: JSONValue?, to out: inout [UInt8]) {
        switch value {
        case nil, .null?: return
        case .bool(let b)?: out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n)?: out.append(contentsOf: n.utf8)
        case .string(let s)?: appendText(Array(s.utf8), fromText: true, to: &out)
        case .array(let items)?:
            if items.allSatisfy({
                if case .array = $0 { return false }
                if case .object = $0 { return false }
                return true
            }) {
                var joined: [UInt8] = []
                var textFirst = false
                for (n, item) in items.enumerated() {
                    if n > 0 { joined.append(contentsOf: "; ".utf8) }
                    switch item {
                    case .string(let s):
                        joined.append(contentsOf: s.utf8)
                        if n == 0 { textFirst = true }
                    case .number(let s): joined.append(contentsOf: s.utf8)
                    case .bool(let b): joined.append(contentsOf: (b ? "true" : "false").utf8)
                    default: break
                    }
                }
                appendText(joined, fromText: textFirst, to: &out)
            } else {
                appendText(value!.encoded(), fromText: false, to: &out)
            }
        case .object?: appendText(value!.encoded(), fromText: false, to: &out)
        }
    }

    /// Appends a header cell (header names can come from data keys, so they are treated as text).
    public mutating func appendHeader(_ name: String, to out: inout [UInt8]) {
        appendText(Array(name.utf8), fromText: true, to: &out)
    }

    private mutating func appendText<C: Collection>(_ text: C, fromText: Bool, to out: inout [UInt8]) where C.Element == UInt8 {
        if maxChars > 0, text.count > maxChars {
            // Byte count over the limit: count characters, cut when really over.
            let s = String(decoding: Array(text), as: UTF8.self)
            if s.count > maxChars {
                truncated += 1
                let cut = Array((String(s.prefix(maxChars - 1)) + "…").utf8)
                return appendText(cut, fromText: fromText, to: &out)
            }
        }
        var needsQuote = false
        var formula = false
        if let f = text.first, fromText, neutralise {
            formula =
                f == UInt8(ascii: "=") || f == UInt8(ascii: "+") || f == UInt8(ascii: "-") || f == UInt8(ascii: "@") || f == 0x09
                || f == 0x0D
        }
        for b in text where b == UInt8(ascii: ",") || b == UInt8(ascii: "\"") || b == 0x0A || b == 0x0D {
            needsQuote = true
            break
        }
        if !needsQuote {
            if formula { out.append(UInt8(ascii: "'")) }
            out.append(contentsOf: text)
            return
        }
        out.append(UInt8(ascii: "\""))
        if formula { out.append(UInt8(ascii: "'")) }
        for b in text {
            if b == UInt8(ascii: "\"") { out.append(b) }
            out.append(b)
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// A column's address in a record: a dotted path of keys, pre-encoded for fast lookup.
public struct FieldPath: Sendable {
    public let text: String
    public let keys: [[UInt8]]

    /// Parses `a.b.c` (a key holding a dot is reached with a jq column instead).
    public init(_ text: String) {
        self.text = text
        keys = text.split(separator: ".", omittingEmptySubsequences: false).map { Array($0.utf8) }
    }

    /// A path of exactly one key, even when it holds dots.
    public init(single key: String) {
        self.text = key
        keys = [Array(key.utf8)]
    }

    /// The raw JSON bytes at this path in `record`, or nil when any step is missing or not an object.
    /// Nested objects are indexed in place; nothing is decoded. `table` (the record's, when given)
    /// finds the first key without a scan of the record's members.
    public func withRawValue<R>(in record: Record, table: Record.MemberTable? = nil, _ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
        guard case .found(let range) = record.lookup(path: keys, table: table) else { return body(nil) }
        return record.bytes.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[range])) }
    }
}
