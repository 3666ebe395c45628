/// Text hygiene for user-controlled text where it lands: an inserted value, a subject line, a body,
/// a model's answer (render-copy), a lead's fields (the writers).
public enum TextCleaning {
    /// Whether a scalar is removed from inserted values: C0 controls other than tab and newline,
    /// DEL, C1 controls, and the bidirectional overrides and isolates that can make text display
    /// in another order than it reads (U+202A–U+202E, U+2066–U+2069).
    @inline(__always)
    public static func isStripped(_ v: UInt32) -> Bool {
        if v < 0x20 { return v != 0x0A && v != 0x09 }
        if v < 0x7F { return false }
        if v <= 0x9F { return true }
        return (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
    }

    /// A value as it is inserted into copy: control characters other than newline and tab, and
    /// bidirectional controls, removed; CRLF and lone CR become newline.
    public static func insertable(_ s: String) -> String {
        if isPlain(s) { return s }
        var out = String.UnicodeScalarView()
        var lastWasCR = false
        for u in s.unicodeScalars {
            if u == "\r" {
                out.append("\n")
                lastWasCR = true
                continue
            }
            if u == "\n", lastWasCR {
                lastWasCR = false
                continue
            }
            lastWasCR = false
            if !isStripped(u.value) { out.append(u) }
        }
        return String(out)
    }

    /// True when `s` holds nothing `insertable` would change (checked on the UTF-8 bytes).
    static func isPlain(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { b in
            var i = 0
            let n = b.count
            while i < n {
                let c = b[i]
                if c < 0x20 {
                    if c != 0x0A && c != 0x09 { return false }
                } else if c == 0x7F {
                    return false
                } else if c == 0xC2 {  // U+0080…U+00BF: C1 controls are C2 80…C2 9F
                    if i + 1 < n, b[i + 1] <= 0x9F { return false }
                } else if c == 0xE2, i + 2 < n {  // U+202A…U+202E are E2 80 AA…AE; U+2066…U+2069 are E2 81 A6…A9
                    let (c1, c2) = (b[i + 1], b[i + 2])
                    if c1 == 0x80, (0xAA...0xAE).contains(c2) { return false }
                    if c1 == 0x81, (0xA6...0xA9).contains(c2) { return false }
                }
                i += 1
            }
            return true
        }
    }

    /// Whether a scalar counts as white space when lines are folded (space, tab, line breaks,
    /// Unicode spaces and line/paragraph separators).
    @inline(__always)
    public static func isSpace(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// One line: every control character removed, every run of white space (line breaks included)
    /// folded into one space, and the ends trimmed.
    public static func oneLine(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for u in s.unicodeScalars {
            if isSpace(u) {
                pendingSpace = !out.isEmpty
                continue
            }
            if isStripped(u.value) { continue }
            if pendingSpace {
                out.append(" ")
                pendingSpace = false
            }
            out.append(u)
        }
        return String(out)
    }

    /// Cuts `s` to at most `limit` characters (grapheme clusters), ending with `…` when cut. The cut
    /// goes back to the last space when that keeps at least two thirds of the room, so words stay
    /// whole; otherwise it falls between two characters. Trailing spaces and punctuation before the
    /// ellipsis are dropped.
    public static func truncate(_ s: String, to limit: Int) -> String {
        guard limit > 0 else { return "" }
        guard s.count > limit else { return s }
        if limit == 1 { return "…" }
        var head = Substring(s.prefix(limit - 1))
        // A cut in the middle of a word goes back to the word's start, if that leaves enough.
        let cutInsideWord = s[head.endIndex...].first.map { !$0.isWhitespace } ?? false
        if cutInsideWord, let space = head.lastIndex(where: \.isWhitespace),
            head.distance(from: head.startIndex, to: space) >= (limit * 2) / 3
        {
            head = head[..<space]
        }
        while let last = head.last, last.isWhitespace || ",;:-–—".contains(last) { head = head.dropLast() }
        return head + "…"
    }

    /// A body as sent: line endings normalised to `\n`, controls removed (newline and tab kept),
    /// spaces at line ends removed, at most one blank line in a row, and no blank lines at either end.
    public static func body(_ s: String) -> String {
        let bytes = Array(insertable(s).utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var started = false
        var pendingBlank = false
        var i = 0
        let n = bytes.count
        while i <= n {
            var j = i
            while j < n, bytes[j] != 0x0A { j += 1 }
            var e = j
            while e > i, bytes[e - 1] == 0x20 || bytes[e - 1] == 0x09 { e -= 1 }
            if e == i {
                pendingBlank = started
            } else {
                if started { out.append(0x0A) }
                if pendingBlank { out.append(0x0A) }
                out.append(contentsOf: bytes[i..<e])
                started = true
                pendingBlank = false
            }
            i = j + 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
