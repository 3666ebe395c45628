#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a line is not valid JSON, and where.
public struct JSONSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Byte offset in the line.
    public let offset: Int
    public let reason: String
    public var description: String { "\(reason) at byte \(offset + 1)" }
}

/// Where one top-level member of an object sits in a line.
public struct MemberSpan: Sendable {
    /// Key bytes between the quotes (still escaped when `keyEscaped`).
    public var keyStart: Int, keyEnd: Int
    public var keyEscaped: Bool
    /// The value's bytes, from its first to one past its last byte.
    public var valueStart: Int, valueEnd: Int
}

/// A validating JSON scanner over bytes: checks a whole line (grammar, escapes, UTF-8, nesting depth)
/// and indexes the top-level members of an object without building any value. Values are decoded
/// only when a stage asks for them (`JSONScanner.decode`), which is what keeps stages faster than
/// re-parsing everything.
public struct JSONScanner {
    /// Nesting levels accepted (libjq 1.6 refuses 256 and more, so every accepted record can go
    /// through `--where`); deeper input is refused rather than risking the stack.
    public static let maxDepth = 255

    private let p: UnsafeBufferPointer<UInt8>
    private var i = 0

    private init(_ p: UnsafeBufferPointer<UInt8>) { self.p = p }

    /// Validates `bytes` as one JSON object and returns its top-level members in order.
    public static func indexObject(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONSyntaxError) -> [MemberSpan] {
        var s = JSONScanner(bytes)
        s.skipWS()
        guard s.i < s.p.count else { throw JSONSyntaxError(offset: 0, reason: "empty line") }
        guard s.p[s.i] == UInt8(ascii: "{") else {
            try s.skipValue(depth: 0)
            s.skipWS()
            guard s.i == s.p.count else { throw s.fail("unexpected data after the value") }
            throw JSONSyntaxError(offset: 0, reason: "not a JSON object")
        }
        var members: [MemberSpan] = []
        members.reserveCapacity(24)
        s.i += 1
        s.skipWS()
        if s.peek == UInt8(ascii: "}") {
            s.i += 1
        } else {
            while true {
                s.skipWS()
                guard s.peek == UInt8(ascii: "\"") else { throw s.fail("expected a string key") }
                let keyStart = s.i + 1
                let escaped = try s.skipString()
                let keyEnd = s.i - 1
                s.skipWS()
                guard s.peek == UInt8(ascii: ":") else { throw s.fail("expected ':'") }
                s.i += 1
                s.skipWS()
                let valueStart = s.i
                try s.skipValue(depth: 1)
                members.append(
                    MemberSpan(keyStart: keyStart, keyEnd: keyEnd, keyEscaped: escaped, valueStart: valueStart, valueEnd: s.i))
                s.skipWS()
                guard s.i < s.p.count else { throw s.fail("unterminated object") }
                let c = s.p[s.i]
                s.i += 1
                if c == UInt8(ascii: ",") { continue }
                if c == UInt8(ascii: "}") { break }
                throw JSONSyntaxError(offset: s.i - 1, reason: "expected ',' or '}'")
            }
        }
        s.skipWS()
        guard s.i == s.p.count else { throw s.fail("unexpected data after the object") }
        return members
    }

    /// Validates `bytes` as exactly one JSON value of any kind.
    public static func validate(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONSyntaxError) {
        var s = JSONScanner(bytes)
        s.skipWS()
        try s.skipValue(depth: 0)
        s.skipWS()
        guard s.i == s.p.count else { throw s.fail("unexpected data after the value") }
    }

    private var peek: UInt8 { i < p.count ? p[i] : 0 }

    private func fail(_ reason: String) -> JSONSyntaxError {
        JSONSyntaxError(offset: i, reason: i >= p.count ? "unexpected end of line (\(reason))" : reason)
    }

    private mutating func skipWS() {
        while i < p.count {
            let c = p[i]
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 } else { return }
        }
    }

    private mutating func skipValue(depth: Int) throws(JSONSyntaxError) {
        guard i < p.count else { throw fail("expected a value") }
        switch p[i] {
        case UInt8(ascii: "\""): _ = try skipString()
        case UInt8(ascii: "{"):
            guard depth < JSONScanner.maxDepth else { throw fail("nesting deeper than \(JSONScanner.maxDepth)") }
            i += 1
            skipWS()
            if peek == UInt8(ascii: "}") {
                i += 1
                return
            }
            while true {
                skipWS()
                guard peek == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                _ = try skipString()
                skipWS()
                guard peek == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                skipWS()
                try skipValue(depth: depth + 1)
                skipWS()
                guard i < p.count else { throw fail("unterminated object") }
                let c = p[i]
                i += 1
                if c == UInt8(ascii: ",") { continue }
                if c == UInt8(ascii: "}") { return }
                i -= 1
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            guard depth < JSONScanner.maxDepth else { throw fail("nesting deeper than \(JSONScanner.maxDepth)") }
            i += 1
            skipWS()
            if peek == UInt8(ascii: "]") {
                i += 1
                return
            }
            while true {
                skipWS()
                try skipValue(depth: depth + 1)
                skipWS()
                guard i < p.count else { throw fail("unterminated array") }
                let c = p[i]
                i += 1
                if c == UInt8(ascii: ",") { continue }
                if c == UInt8(ascii: "]") { return }
                i -= 1
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try skipNumber()
        default: throw fail("unexpected character")
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let n = word.utf8CodeUnitCount
        guard i + n <= p.count else { throw fail("invalid literal") }
        let w = word.utf8Start
        for k in 0..<n where p[i + k] != w[k] { throw fail("invalid literal") }
        i += n
    }

    private mutating func skipNumber() throws(JSONSyntaxError) {
        if p[i] == UInt8(ascii: "-") { i += 1 }
        guard i < p.count, p[i] >= 0x30, p[i] <= 0x39 else { throw fail("invalid number") }
        if p[i] == 0x30 {
            i += 1
        } else {
            while i < p.count, p[i] >= 0x30, p[i] <= 0x39 { i += 1 }
        }
        if i < p.count, p[i] == UInt8(ascii: ".") {
            i += 1
            guard i < p.count, p[i] >= 0x30, p[i] <= 0x39 else { throw fail("invalid number") }
            while i < p.count, p[i] >= 0x30, p[i] <= 0x39 { i += 1 }
        }
        if i < p.count, p[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < p.count, p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") { i += 1 }
            guard i < p.count, p[i] >= 0x30, p[i] <= 0x39 else { throw fail("invalid number") }
            while i < p.count, p[i] >= 0x30, p[i] <= 0x39 { i += 1 }
        }
    }

    /// Skips a string starting at its opening quote; returns whether it holds escapes.
    private mutating func skipString() throws(JSONSyntaxError) -> Bool {
        i += 1
        var escaped = false
        while i < p.count {
            let c = p[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return escaped
            }
            if c == UInt8(ascii: "\\") {
                escaped = true
                i += 1
                guard i < p.count else { break }
                switch p[i] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 1
                case UInt8(ascii: "u"):
                    guard i + 4 < p.count else { throw fail("invalid \\u escape") }
                    for k in 1...4 where JSONScanner.hexValue(p[i + k]) == nil { throw fail("invalid \\u escape") }
                    i += 5
                default: throw fail("invalid escape")
                }
            } else if c < 0x20 {
                throw fail("control character in string")
            } else if c < 0x80 {
                i += 1
            } else {
                try skipUTF8()
            }
        }
        throw fail("unterminated string")
    }

    /// Validates one multi-byte UTF-8 sequence (no overlongs, no surrogates, nothing past U+10FFFF).
    private mutating func skipUTF8() throws(JSONSyntaxError) {
        let c = p[i]
        var n = 0
        var lo: UInt8 = 0x80
        var hi: UInt8 = 0xBF
        switch c {
        case 0xC2...0xDF: n = 1
        case 0xE0:
            n = 2
            lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: n = 2
        case 0xED:
            n = 2
            hi = 0x9F
        case 0xF0:
            n = 3
            lo = 0x90
        case 0xF1...0xF3: n = 3
        case 0xF4:
            n = 3
            hi = 0x8F
        default: throw fail("invalid UTF-8")
        }
        guard i + n < p.count else { throw fail("invalid UTF-8") }
        let b1 = p[i + 1]
        guard b1 >= lo, b1 <= hi else { throw fail("invalid UTF-8") }
        if n > 1 {
            for k in 2...n where p[i + k] & 0xC0 != 0x80 { throw fail("invalid UTF-8") }
        }
        i += n + 1
    }

    /// Rewrites every escaped lone surrogate (`\ud800` without its pair, or a `\udc00` without one
    /// before it) to `\ufffd` in place and returns how many it rewrote. The escape keeps its six
    /// bytes, so offsets into the line (a record's member index) stay valid. jq 1.6 refuses such an
    /// escape, so done once when a line is read, every stage, `--where`, `--column`, the output and
    /// the dead letters see U+FFFD, as newer jq does. Bytes that are not valid JSON are left to the
    /// scanner to refuse: this only ever swaps hex digits for hex digits.
    @discardableResult
    public static func replaceLoneSurrogateEscapes(_ bytes: inout [UInt8]) -> Int {
        bytes.withUnsafeMutableBufferPointer { p -> Int in
            guard let base = p.baseAddress, p.count >= 6 else { return 0 }
            func escape(at k: Int) -> UInt32? {
                guard k + 5 < p.count, p[k] == UInt8(ascii: "\\"), p[k + 1] == UInt8(ascii: "u") else { return nil }
                var v: UInt32 = 0
                for n in 2...5 {
                    guard let h = hexValue(p[k + n]) else { return nil }
                    v = v << 4 | h
                }
                return v
            }
            var replaced = 0
            var i = 0
            while i < p.count {
                // Backslashes appear only inside strings in valid JSON; jump from one to the next.
                guard let hit = memchr(base + i, Int32(UInt8(ascii: "\\")), p.count - i) else { break }
                i = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                guard let v = escape(at: i) else {
                    i += 2  // any other escape, including an escaped backslash
                    continue
                }
                if (0xD800...0xDBFF).contains(v), let low = escape(at: i + 6), (0xDC00...0xDFFF).contains(low) {
                    i += 12  // a proper pair
                    continue
                }
                if (0xD800...0xDFFF).contains(v) {
                    for (n, c) in "fffd".utf8.enumerated() { p[i + 2 + n] = c }
                    replaced += 1
                }
                i += 6
            }
            return replaced
        }
    }

    static func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case 0x30...0x39: return UInt32(c - 0x30)
        case 0x41...0x46: return UInt32(c - 0x41 + 10)
        case 0x61...0x66: return UInt32(c - 0x61 + 10)
        default: return nil
        }
    }
}

extension JSONScanner {
    /// Decodes already-validated JSON bytes into a value.
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> JSONValue {
        var d = Decoder(p: bytes)
        return d.value()
    }

    /// Decodes an already-validated JSON string body (the bytes between the quotes).
    public static func decodeStringBody(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var d = Decoder(p: bytes)
        return d.stringBody(end: bytes.count)
    }

    /// Parses and validates `text` as any JSON value.
    public static func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        var bytes = Array(text.utf8)
        return try parse(bytes: &bytes)
    }

    /// Parses and validates bytes as any JSON value.
    public static func parse(bytes: inout [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        let result: Result<JSONValue, JSONSyntaxError> = bytes.withUnsafeBufferPointer { buf in
            do throws(JSONSyntaxError) {
                try validate(buf)
                return .success(decode(buf))
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// A lenient decoder for bytes the scanner has validated.
    struct Decoder {
        let p: UnsafeBufferPointer<UInt8>
        var i = 0

        mutating func ws() {
            while i < p.count, p[i] == 0x20 || p[i] == 0x09 || p[i] == 0x0A || p[i] == 0x0D { i += 1 }
        }

        mutating func value() -> JSONValue {
            ws()
            guard i < p.count else { return .null }
            switch p[i] {
            case UInt8(ascii: "\""):
                i += 1
                let start = i
                while i < p.count, p[i] != UInt8(ascii: "\"") { i += p[i] == UInt8(ascii: "\\") ? 2 : 1 }
                let end = i
                i += 1
                var sub = Decoder(p: UnsafeBufferPointer(rebasing: p[start..<end]))
                return .string(sub.stringBody(end: end - start))
            case UInt8(ascii: "{"):
                i += 1
                var members: [JSONMember] = []
                ws()
                if i < p.count, p[i] == UInt8(ascii: "}") {
                    i += 1
                    return .object(members)
                }
                while i < p.count {
                    ws()
                    guard case .string(let key) = value() else { break }
                    ws()
                    i += 1  // ':'
                    let v = value()
                    members.append(JSONMember(key, v))
                    ws()
                    guard i < p.count else { break }
                    let c = p[i]
                    i += 1
                    if c == UInt8(ascii: "}") { break }
                }
                return .object(members)
            case UInt8(ascii: "["):
                i += 1
                var items: [JSONValue] = []
                ws()
                if i < p.count, p[i] == UInt8(ascii: "]") {
                    i += 1
                    return .array(items)
                }
                while i < p.count {
                    items.append(value())
                    ws()
                    guard i < p.count else { break }
                    let c = p[i]
                    i += 1
                    if c == UInt8(ascii: "]") { break }
                }
                return .array(items)
            case UInt8(ascii: "t"):
                i += 4
                return .bool(true)
            case UInt8(ascii: "f"):
                i += 5
                return .bool(false)
            case UInt8(ascii: "n"):
                i += 4
                return .null
            default:
                let start = i
                while i < p.count {
                    let c = p[i]
                    if (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == UInt8(ascii: ".")
                        || c | 0x20 == UInt8(ascii: "e")
                    {
                        i += 1
                    } else {
                        break
                    }
                }
                return .number(String(decoding: UnsafeBufferPointer(rebasing: p[start..<i]), as: UTF8.self))
            }
        }

        /// Decodes string content from `i` to `end` (exclusive), resolving escapes and surrogate pairs.
        mutating func stringBody(end: Int) -> String {
            var hasEscape = false
            for k in i..<end where p[k] == UInt8(ascii: "\\") {
                hasEscape = true
                break
            }
            if !hasEscape {
                let s = String(decoding: UnsafeBufferPointer(rebasing: p[i..<end]), as: UTF8.self)
                i = end
                return s
            }
            var out: [UInt8] = []
            out.reserveCapacity(end - i)
            while i < end {
                let c = p[i]
                guard c == UInt8(ascii: "\\"), i + 1 < end else {
                    out.append(c)
                    i += 1
                    continue
                }
                let e = p[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    var scalar = hex4(at: i)
                    i += 4
                    if (0xD800...0xDBFF).contains(scalar), i + 5 < end, p[i] == UInt8(ascii: "\\"),
                        p[i + 1] == UInt8(ascii: "u")
                    {
                        let low = hex4(at: i + 2)
                        if (0xDC00...0xDFFF).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            i += 6
                        }
                    }
                    let u = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                    out.append(contentsOf: String(Character(u)).utf8)
                default: out.append(e)
                }
            }
            return String(decoding: out, as: UTF8.self)
        }

        func hex4(at k: Int) -> UInt32 {
            guard k + 3 < p.count else { return 0xFFFD }
            var v: UInt32 = 0
            for n in 0..<4 { v = v << 4 | (JSONScanner.hexValue(p[k + n]) ?? 0) }
            return v
        }
    }
}
