import Foundation

/// The message normaliser behind a Linear error key, as single forward passes over the message's
/// Unicode scalars.
///
/// It gives exactly what the eight NSRegularExpression rules it replaces gave (the key of an error
/// already filed must not change; `TextLinearityTests` compares the two on generated messages), but
/// in time linear in the message: ICU's engine retried each rule at every position, so one long
/// token (an unquoted scheme-like run, an email's local part, an unclosed quote full of digits) cost
/// quadratic time, and every replacement copied the rest of the string. Each pass below reads one
/// rule's leftmost-first matches, skipping past a failed start to the first position where a match
/// could begin, so no scalar is looked at more than a few times per pass.
///
/// The rules, in order (replacement in brackets):
/// 1. `[a-z][a-z0-9+.-]*://[^\s'"<>]+` (`<url>`)
/// 2. `[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}` (`<email>`)
/// 3. `\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b` (`<uuid>`)
/// 4. `\b(?=[0-9a-fA-F]*[0-9])(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{7,}\b` (`<hex>`)
/// 5. `'[^'\n]*[0-9][^'\n]*'|'[^'\n]{41,}'` (`'…'`), 6. the same with `"` (`"…"`)
/// 7. `(?<!HTTP )(?<![0-9])[0-9]+(?:\.[0-9]+)?` (`#`)
/// 8. `\s+` (one space)
///
/// `\b` and `\s` follow ICU: a word character is Alphabetic, a mark, a decimal digit, connector
/// punctuation, ZWNJ or ZWJ; a boundary is never before a grapheme extender or format character,
/// and the character before a position is the last one that is neither; `\s` is White_Space.
enum LinearMessageNormaliser {
    typealias Scalars = [Unicode.Scalar]

    static func normalise(_ message: String) -> String {
        String(replaced(message).trimmingCharacters(in: .whitespaces).lowercased().prefix(300))
    }

    /// The eight rules applied, before trimming, lower-casing and the cut.
    static func replaced(_ message: String) -> String {
        var s = Scalars(message.unicodeScalars)
        s = urls(s)
        s = emails(s)
        s = uuids(s)
        s = hexIDs(s)
        s = quoted(s, quote: "'")
        s = quoted(s, quote: "\"")
        s = numbers(s)
        s = spaces(s)
        var utf8: [UInt8] = []
        utf8.reserveCapacity(s.count)
        for u in s { UTF8.encode(u) { utf8.append($0) } }
        return String(decoding: utf8, as: UTF8.self)
    }

    // MARK: - Character classes

    @inline(__always) static func isLowerAZ(_ u: Unicode.Scalar) -> Bool { (0x61...0x7A).contains(u.value) }
    @inline(__always) static func isAlpha(_ u: Unicode.Scalar) -> Bool { isLowerAZ(u) || (0x41...0x5A).contains(u.value) }
    @inline(__always) static func isDigit(_ u: Unicode.Scalar) -> Bool { (0x30...0x39).contains(u.value) }
    @inline(__always) static func isHex(_ u: Unicode.Scalar) -> Bool {
        isDigit(u) || (0x61...0x66).contains(u.value) || (0x41...0x46).contains(u.value)
    }
    @inline(__always) static func isHexLetter(_ u: Unicode.Scalar) -> Bool { isHex(u) && !isDigit(u) }
    /// `[a-z0-9+.-]`
    @inline(__always) static func isSchemeChar(_ u: Unicode.Scalar) -> Bool {
        isLowerAZ(u) || isDigit(u) || u == "+" || u == "." || u == "-"
    }
    /// `[A-Za-z0-9._%+-]`
    @inline(__always) static func isLocalChar(_ u: Unicode.Scalar) -> Bool {
        isAlpha(u) || isDigit(u) || u == "." || u == "_" || u == "%" || u == "+" || u == "-"
    }
    /// `[A-Za-z0-9.-]`
    @inline(__always) static func isDomainChar(_ u: Unicode.Scalar) -> Bool { isAlpha(u) || isDigit(u) || u == "." || u == "-" }
    /// `\s`: the White_Space property.
    @inline(__always) static func isSpace(_ u: Unicode.Scalar) -> Bool {
        u.value < 0x80 ? (0x09...0x0D).contains(u.value) || u.value == 0x20 : u.properties.isWhitespace
    }
    /// `[^\s'"<>]`
    @inline(__always) static func isURLChar(_ u: Unicode.Scalar) -> Bool {
        !(isSpace(u) || u == "'" || u == "\"" || u == "<" || u == ">")
    }
    /// Whether the scalar was assigned by Unicode 16.0, the version of the ICU data the regular
    /// expressions ran on: a character assigned later was unassigned to them (no word, no mark), and
    /// stays so here, so a newer toolchain's tables cannot change an error's key.
    @inline(__always) static func isAssigned(_ p: Unicode.Scalar.Properties) -> Bool {
        guard let age = p.age else { return false }
        return age.major <= 16
    }
    /// ICU's word set for `\b`: `[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\u200c\u200d]`.
    static func isWord(_ u: Unicode.Scalar) -> Bool {
        if u.value < 0x80 { return isAlpha(u) || isDigit(u) || u == "_" }
        if u.value == 0x200C || u.value == 0x200D { return true }
        let p = u.properties
        guard isAssigned(p) else { return false }
        if p.isAlphabetic { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
    /// Characters ICU's `\b` looks through: grapheme extenders and format characters.
    static func isTransparent(_ u: Unicode.Scalar) -> Bool {
        if u.value < 0x80 { return false }
        let p = u.properties
        return isAssigned(p) && (p.isGraphemeExtend || p.generalCategory == .format)
    }

    /// ICU's `\b` at `pos` (UREGEX_UWORD off). The look back passes only transparent characters,
    /// which no rule's match starts or ends on, so each run of them is walked at most once per pass.
    static func isBoundary(_ s: Scalars, _ pos: Int) -> Bool {
        var here = false
        if pos < s.count {
            if isTransparent(s[pos]) { return false }
            here = isWord(s[pos])
        }
        var before = false
        var i = pos - 1
        while i >= 0 {
            if !isTransparent(s[i]) {
                before = isWord(s[i])
                break
            }
            i -= 1
        }
        return here != before
    }

    @inline(__always) static func append(_ out: inout Scalars, _ text: String) { out.append(contentsOf: text.unicodeScalars) }

    // MARK: - The passes

    /// Rule 1. A start is the first `[a-z]` of a run of `[a-z0-9+.-]`: every later start in the run
    /// ends the run at the same place, so if the first fails they all do.
    static func urls(_ s: Scalars) -> Scalars {
        let n = s.count
        var out = Scalars()
        out.reserveCapacity(n)
        var i = 0
        while i < n {
            guard isLowerAZ(s[i]) else {
                out.append(s[i])
                i += 1
                continue
            }
            var j = i + 1
            while j < n, isSchemeChar(s[j]) { j += 1 }
            if j + 3 < n, s[j] == ":", s[j + 1] == "/", s[j + 2] == "/", isURLChar(s[j + 3]) {
                var e = j + 4
                while e < n, isURLChar(s[e]) { e += 1 }
                append(&out, "<url>")
                i = e
            } else {
                out.append(contentsOf: s[i..<j])
                i = j
            }
        }
        return out
    }

    /// Rule 2. The local part is a whole run (`@` is not in it); the domain is the longest run of
    /// `[A-Za-z0-9.-]` cut after the letters following its last dot that two letters follow.
    static func emails(_ s: Scalars) -> Scalars {
        let n = s.count
        var out = Scalars()
        out.reserveCapacity(n)
        var i = 0
        while i < n {
            guard isLocalChar(s[i]) else {
                out.append(s[i])
                i += 1
                continue
            }
            var j = i + 1
            while j < n, isLocalChar(s[j]) { j += 1 }
            if j < n, s[j] == "@" {
                var k = j + 1
                while k < n, isDomainChar(s[k]) { k += 1 }
                // The last dot p, with at least one domain character before it, and two letters after.
                var p = k - 3
                while p >= j + 2, !(s[p] == "." && isAlpha(s[p + 1]) && isAlpha(s[p + 2])) { p -= 1 }
                if p >= j + 2 {
                    var e = p + 3
                    while e < k, isAlpha(s[e]) { e += 1 }
                    append(&out, "<email>")
                    i = e
                    continue
                }
            }
            out.append(contentsOf: s[i..<j])
            i = j
        }
        return out
    }

    /// Rule 3: a fixed 36-character shape between word boundaries.
    static func uuids(_ s: Scalars) -> Scalars {
        let n = s.count
        var out = Scalars()
        out.reserveCapacity(n)
        var i = 0
        func isUUID(at i: Int) -> Bool {
            guard i + 36 <= n else { return false }
            for k in 0..<36 {
                let u = s[i + k]
                if k == 8 || k == 13 || k == 18 || k == 23 {
                    if u != "-" { return false }
                } else if !isHex(u) {
                    return false
                }
            }
            return isBoundary(s, i) && isBoundary(s, i + 36)
        }
        while i < n {
            if isHex(s[i]), isUUID(at: i) {
                append(&out, "<uuid>")
                i += 36
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    /// Rule 4. Only the first character of a hex run can follow a boundary, and the match, if any, is
    /// the whole run: a boundary inside it is impossible (hex before and after).
    static func hexIDs(_ s: Scalars) -> Scalars {
        let n = s.count
        var out = Scalars()
        out.reserveCapacity(n)
        var i = 0
        while i < n {
            guard isHex(s[i]) else {
                out.append(s[i])
                i += 1
                continue
            }
            var j = i
            var digit = false
            var letter = false
            while j < n, isHex(s[j]) {
                if isDigit(s[j]) { digit = true } else { letter = true }
                j += 1
            }
            if digit, letter, j - i >= 7, isBoundary(s, i), isBoundary(s, j) {
                append(&out, "<hex>")
            } else {
                out.append(contentsOf: s[i..<j])
            }
            i = j
        }
        return out
    }

    /// Rules 5 and 6. From an opening quote the text runs to the next quote or line feed; a failed
    /// start leaves the next quote as the next possible start.
    static func quoted(_ s: Scalars, quote: Unicode.Scalar) -> Scalars {
        let n = s.count
        var out = Scalars()
        out.reserveCapacity(n)
        let replacement = String(quote) + "…" + String(quote)
        var i = 0
        while i < n {
            guard s[i] == quote else {
                out.append(s[i])
                i += 1
                continue
            }
            var k = i + 1
            var digit = false
            while k < n, s[k] != quote, s[k] != "\n" {
                if isDigit(s[k]) { digit = true }
                k += 1
            }
            if k < n, s[k] == quote, digit || k - i - 1 >= 41 {
                append(&out, replacement)
                i = k + 1
            } else {
                out.append(contentsOf: s[i..<k])
                i = k
            }
        }
        return out
    }

    /// Rule 7. Look-behinds read the pass's input, as the regex's did.
    static func numbers(_ s: Scalars) -> Scalars {
        let n = s.count
        var out = Scalars()
        out.reserveCapacity(n)
        let http: [Unicode.Scalar] = ["H", "T", "T", "P", " "]
        var i = 0
        while i < n {
            guard isDigit(s[i]), i == 0 || !isDigit(s[i - 1]), !(i >= 5 && s[(i - 5)..<i].elementsEqual(http)) else {
                out.append(s[i])
                i += 1
                continue
            }
            var e = i + 1
            while e < n, isDigit(s[e]) { e += 1 }
            if e + 1 < n, s[e] == ".", isDigit(s[e + 1]) {
                e += 2
                while e < n, isDigit(s[e]) { e += 1 }
            }
            out.append("#")
            i = e
        }
        return out
    }

    /// Rule 8.
    static func spaces(_ s: Scalars) -> Scalars {
        var out = Scalars()
        out.reserveCapacity(s.count)
        var inSpace = false
        for u in s {
            if isSpace(u) {
                if !inSpace { out.append(" ") }
                inSpace = true
            } else {
                out.append(u)
                inSpace = false
            }
        }
        return out
    }
}
