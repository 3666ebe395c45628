// libFuzzer harness for cmo's input parsers (see fuzz/README.md).
//
// Compiled by fuzz/run.sh together with the self-contained core files (JSONScanner, JSONValue,
// Record, NDJSONReader, CSVCell, DeadLetterSink, ExitStatus, OutputStream) into one module, so
// `internal` core API is visible too.
// Every property that fails calls `violation`, which prints what broke and aborts: libFuzzer then
// saves the input as a crash file.

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// MARK: - Entry point

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data!, count: size))
    checkLine(bytes)
    // The same bytes as a whole NDJSON stream, with a tiny cap and chunk chosen by the first byte
    // (so the grow / discard / stash paths run), and with the default cap.
    let sel = bytes.first ?? 0
    checkReader(bytes, maxLine: 1 + Int(sel & 0x3F), chunk: 1 + Int(sel >> 6) * 5)
    checkReader(bytes, maxLine: NDJSONReader.defaultMaxLineBytes, chunk: 1 + Int(sel & 0x0F))
    return 0
}

// MARK: - Reporting

func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

func violation(_ property: String, _ detail: @autoclosure () -> String) -> Never {
    let msg = "\n=== PROPERTY VIOLATED: \(property)\n\(detail())\n"
    FileHandle.standardError.write(Data(msg.utf8))
    abort()
}

// MARK: - One line: scanner, decoder, record, CSV

func indexObject(_ b: [UInt8]) -> Result<[MemberSpan], JSONSyntaxError> {
    b.withUnsafeBufferPointer { buf in
        do throws(JSONSyntaxError) { return .success(try JSONScanner.indexObject(buf)) } catch { return .failure(error) }
    }
}

func validates(_ b: [UInt8]) -> Bool {
    b.withUnsafeBufferPointer { buf in
        do throws(JSONSyntaxError) { try JSONScanner.validate(buf); return true } catch { return false }
    }
}

func decode(_ b: [UInt8]) -> JSONValue { b.withUnsafeBufferPointer { JSONScanner.decode($0) } }

func checkLine(_ b: [UInt8]) {
    let asObject = indexObject(b)
    let asValue = validates(b)

    // Acceptance as an object implies acceptance as a value; a value that starts with '{' after
    // whitespace is an object, and "not a JSON object" is said only of valid non-objects.
    switch asObject {
    case .success:
        if !asValue { violation("indexObject accepts what validate refuses", hex(b)) }
    case .failure(let e):
        if e.reason == "not a JSON object" {
            if !asValue { violation("'not a JSON object' for invalid JSON", hex(b)) }
            if firstNonWS(b) == UInt8(ascii: "{") { violation("'not a JSON object' for an object", hex(b)) }
        } else if asValue, firstNonWS(b) != UInt8(ascii: "{") {
            violation("valid non-object reported as '\(e.reason)' instead of 'not a JSON object'", hex(b))
        } else if asValue {
            violation("validate accepts an object indexObject refuses (\(e))", hex(b))
        }
        if e.offset < 0 || e.offset > b.count { violation("error offset out of range (\(e.offset))", hex(b)) }
    }

    checkReference(b, asObject: (try? asObject.get()) != nil, asValue: asValue)

    if asValue { checkDecodeRoundTrip(b) }
    guard case .success(let spans) = asObject else { return }

    // (1) untouched record writes back byte for byte.
    let record: Record
    do { record = try Record(bytes: b, line: 7) } catch { violation("Record(bytes:) refuses what indexObject accepts", hex(b)) }
    var out: [UInt8] = []
    record.write(into: &out)
    if out != b { violation("untouched record not byte-identical", "in  \(hex(b))\nout \(hex(out))") }

    // Spans are ordered, in bounds, and each value validates alone; the index agrees with the decoder.
    let whole = decode(b)
    guard case .object(let members) = whole else { violation("accepted object decodes to \(whole)", hex(b)) }
    if members.count != spans.count { violation("decoder sees \(members.count) members, index \(spans.count)", hex(b)) }
    var last = 0
    for (n, s) in spans.enumerated() {
        if !(last <= s.keyStart && s.keyStart <= s.keyEnd && s.keyEnd < s.valueStart && s.valueStart < s.valueEnd && s.valueEnd <= b.count) {
            violation("member span \(n) out of order: \(s)", hex(b))
        }
        last = s.valueEnd
        let raw = Array(b[s.valueStart..<s.valueEnd])
        if !validates(raw) { violation("member \(n)'s value bytes do not validate alone", hex(b)) }
        if record.key(at: n) != members[n].key { violation("key(at: \(n)) '\(record.key(at: n))' != decoded '\(members[n].key)'", hex(b)) }
        if record.value(at: n) != members[n].value { violation("value(at: \(n)) differs from the decoded value", hex(b)) }
        if s.keyEscaped != b[s.keyStart..<s.keyEnd].contains(0x5C) { violation("keyEscaped wrong for member \(n)", hex(b)) }
    }
    if record.keys.count != members.count { violation("keys count", hex(b)) }
    // The member table (export-csv's lookups in a wide record) agrees with memberIndex, key by key.
    let table = Record.MemberTable(record)
    for m in members {
        if record[m.key] != whole[m.key] { violation("record[\"\(m.key)\"] differs from last-wins lookup", hex(b)) }
        if record.memberIndex(m.key) == nil { violation("memberIndex misses key \(m.key)", hex(b)) }
        if table.memberIndex(Array(m.key.utf8)) != record.memberIndex(m.key) { violation("MemberTable and memberIndex differ on key \(m.key)", hex(b)) }
    }
    for k in oddKeys where table.memberIndex(Array(k.utf8)) != record.memberIndex(k) { violation("MemberTable and memberIndex differ on \(k.debugDescription)", hex(b)) }
    if record.object != whole { violation("record.object differs from decode", hex(b)) }

    // (2) set: replace and append, then re-scan and compare with the expected members.
    checkSet(record, members: members, b)

    // (5) CSV cells.
    checkCSV(record, members: members, b)
    checkFieldPaths(record, members: members, b)
}

func firstNonWS(_ b: [UInt8]) -> UInt8? { b.first(where: { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) }) }

// (3) Acceptance agrees with Foundation where both are exact: ASCII, no backslash (so no escapes and
// no surrogate questions), no control characters, and no number Foundation cannot hold in a Double.
func checkReference(_ b: [UInt8], asObject: Bool, asValue: Bool) {
    guard !b.isEmpty, b.count < 4096, !b.contains(where: { $0 >= 0x80 || $0 == 0x5C || ($0 < 0x20 && $0 != 0x20 && $0 != 0x0A && $0 != 0x09 && $0 != 0x0D) }) else { return }
    // Foundation refuses numbers that overflow a Double; skip inputs with long digit runs or exponents.
    var run = 0
    for c in b {
        if c >= 0x30 && c <= 0x39 { run += 1; if run > 15 { return } } else { run = 0 }
        if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { return }
    }
    // Foundation's depth limit differs from ours (255); stay well below both.
    var depth = 0, maxDepth = 0
    for c in b where c == UInt8(ascii: "[") || c == UInt8(ascii: "{") { depth += 1; maxDepth = max(maxDepth, depth) }
    if maxDepth > 100 { return }
    // Foundation accepts a trailing comma (`{"a":1,}`, `[1,]`); RFC 8259 and we do not.
    for (n, c) in b.enumerated() where c == UInt8(ascii: ",") {
        if let next = firstNonWS(Array(b[(n + 1)...])), next == UInt8(ascii: "}") || next == UInt8(ascii: "]") { return }
    }
    let theirs = try? JSONSerialization.jsonObject(with: Data(b), options: [.fragmentsAllowed])
    let theirsObject = theirs is [String: Any]
    if theirsObject != asObject {
        violation("object acceptance differs from JSONSerialization (ours \(asObject), theirs \(theirsObject))", hex(b) + "\n" + String(decoding: b, as: UTF8.self))
    }
    if (theirs != nil) != asValue {
        violation("value acceptance differs from JSONSerialization (ours \(asValue), theirs \(theirs != nil))", hex(b) + "\n" + String(decoding: b, as: UTF8.self))
    }
}

// (4) Decoding accepted input never crashes, and its compact encoding is accepted and decodes equal.
func checkDecodeRoundTrip(_ b: [UInt8]) {
    let v = decode(b)
    let enc = v.encoded()
    if !validates(enc) { violation("encoded() of a decoded value is refused by the scanner", "in  \(hex(b))\nenc \(hex(enc))") }
    let v2 = decode(enc)
    if v2 != v { violation("decode(encode(decode(x))) != decode(x)", "in  \(hex(b))\nenc \(hex(enc))") }
    if v2.encoded() != enc { violation("encoding is not stable", hex(b)) }
    if case .object = v {
        if case .failure(let e) = indexObject(enc) { violation("encoded object refused by indexObject (\(e))", hex(enc)) }
    }
    touchAccessors(v)
}

/// The numeric accessors parse number text; they must not trap on any accepted number.
func touchAccessors(_ v: JSONValue) {
    switch v {
    case .number:
        _ = v.intValue
        if let d = v.doubleValue { _ = JSONValue.double(d) }
    case .array(let items): for i in items.prefix(64) { touchAccessors(i) }
    case .object(let ms): for m in ms.prefix(64) { touchAccessors(m.value) }
    default: break
    }
}

/// Keys that are awkward to write: quotes, backslashes, controls, non-ASCII, empty, dotted.
let oddKeys = ["fz", "", "a\"b\\c", "line\nbreak\u{1}\u{7F}", "é😀", "x.y", "\u{FFFD}"]

func checkSet(_ record: Record, members: [JSONMember], _ b: [UInt8]) {
    // Values to set: something fresh, and a copy of an existing member's value (deep, odd strings).
    var values: [JSONValue] = [.string("v\"\\\n\u{0}é"), .array([1, .null, ["k": true]]), .number("-0.5e+3")]
    if let m = members.last { values.append(m.value) }

    var keys = oddKeys
    if !members.isEmpty { keys.append(members[b.count % members.count].key); keys.append(members[0].key) }

    for (n, key) in keys.enumerated() {
        let value = values[n % values.count]
        var r = record
        r.set(key, value)
        var expected = members
        if let i = expected.lastIndex(where: { $0.key == key }) { expected[i].value = value } else { expected.append(JSONMember(key, value)) }
        verifyEdited(r, expected: expected, b, what: "set(\(key.debugDescription))")

        // A second edit: the same key again (the last set wins) plus a new key.
        r.set(key, .bool(false))
        r.set("zz\(n)", .int(n))
        if let i = expected.lastIndex(where: { $0.key == key }) { expected[i].value = .bool(false) }
        if let i = expected.lastIndex(where: { $0.key == "zz\(n)" }) { expected[i].value = .int(n) } else { expected.append(JSONMember("zz\(n)", .int(n))) }
        verifyEdited(r, expected: expected, b, what: "set(\(key.debugDescription)) twice + zz\(n)")
    }
}

func verifyEdited(_ r: Record, expected: [JSONMember], _ b: [UInt8], what: String) {
    var out: [UInt8] = []
    r.write(into: &out)
    switch indexObject(out) {
    case .failure(let e): violation("after \(what) the output is refused: \(e)", "in  \(hex(b))\nout \(hex(out))")
    case .success(let spans):
        if spans.count != expected.count { violation("after \(what): \(spans.count) members, expected \(expected.count)", "in  \(hex(b))\nout \(hex(out))") }
    }
    let got = decode(out)
    if got != .object(expected) {
        violation("after \(what) the members differ", "in  \(hex(b))\nout \(hex(out))\ngot \(got.compactJSON)\nexp \(JSONValue.object(expected).compactJSON)")
    }
    if r.object != got { violation("after \(what) record.object differs from the written bytes", "in  \(hex(b))\nout \(hex(out))") }
    // Fields not edited keep their bytes: every untouched member's raw text appears in the output.
    if String(decoding: out, as: UTF8.self) != r.jsonText { violation("jsonText differs from write(into:)", hex(b)) }
}

// MARK: - CSV (5)

/// A minimal RFC 4180 reader for one row (no trailing line break): the fields, or nil when malformed.
func parseCSVRow(_ row: [UInt8]) -> [[UInt8]]? {
    var fields: [[UInt8]] = []
    var i = 0
    while true {
        var field: [UInt8] = []
        if i < row.count, row[i] == UInt8(ascii: "\"") {
            i += 1
            while true {
                guard i < row.count else { return nil }  // unterminated quote
                if row[i] == UInt8(ascii: "\"") {
                    if i + 1 < row.count, row[i + 1] == UInt8(ascii: "\"") { field.append(0x22); i += 2; continue }
                    i += 1
                    break
                }
                field.append(row[i])
                i += 1
            }
            fields.append(field)
            if i == row.count { return fields }
            guard row[i] == UInt8(ascii: ",") else { return nil }  // text after a closing quote
            i += 1
        } else {
            while i < row.count, row[i] != UInt8(ascii: ",") {
                let c = row[i]
                if c == UInt8(ascii: "\"") || c == 0x0A || c == 0x0D { return nil }  // must have been quoted
                field.append(c)
                i += 1
            }
            fields.append(field)
            if i == row.count { return fields }
            i += 1
        }
    }
}

func checkCSV(_ record: Record, members: [JSONMember], _ b: [UInt8]) {
    guard !members.isEmpty else { return }
    // Exact content with unlimited cells; field count (and length bound) with a tiny cap and no neutralising.
    for (neutralise, maxChars) in [(true, 0), (false, 1 + b.count % 7)] {
        var fmt = CSVCellFormatter(neutralise: neutralise, maxChars: maxChars)
        var rowRaw: [UInt8] = []
        var rowDecoded: [UInt8] = []
        var header: [UInt8] = []
        for n in 0..<record.members.count {
            if n > 0 { rowRaw.append(0x2C); rowDecoded.append(0x2C); header.append(0x2C) }
            let m = record.members[n]
            record.bytes.withUnsafeBufferPointer { buf in
                fmt.appendCell(rawJSON: UnsafeBufferPointer(rebasing: buf[m.valueStart..<m.valueEnd]), to: &rowRaw)
            }
            fmt.appendCell(members[n].value, to: &rowDecoded)
            fmt.appendHeader(members[n].key, to: &header)
        }
        for (name, row) in [("raw row", rowRaw), ("decoded row", rowDecoded), ("header", header)] {
            guard let fields = parseCSVRow(row) else { violation("CSV \(name) is not RFC 4180 (neutralise \(neutralise), max \(maxChars))", "in  \(hex(b))\nrow \(hex(row))") }
            if fields.count != members.count {
                violation("CSV \(name) has \(fields.count) fields for \(members.count) values (neutralise \(neutralise), max \(maxChars))", "in  \(hex(b))\nrow \(hex(row))")
            }
            for (n, f) in fields.enumerated() {
                let text = name == "header" ? JSONValue.string(members[n].key) : members[n].value
                if maxChars == 0 {
                    if let exp = expectedCell(text, neutralise: neutralise), f != exp {
                        violation("CSV \(name) field \(n) is \(hex(f)), expected \(hex(exp))", "in  \(hex(b))\nrow \(hex(row))")
                    }
                } else if !isNumberOrBool(text) {  // numbers and booleans are written whole, never cut
                    let chars = String(decoding: f, as: UTF8.self).count
                    if chars > maxChars + 1 { violation("CSV \(name) field \(n) has \(chars) characters, cap \(maxChars)", "in  \(hex(b))\nrow \(hex(row))") }
                }
            }
        }
        if rowRaw != rowDecoded {
            violation("raw-JSON and decoded cells differ (neutralise \(neutralise), max \(maxChars))", "in  \(hex(b))\nraw \(hex(rowRaw))\ndec \(hex(rowDecoded))")
        }
    }
}

func isNumberOrBool(_ v: JSONValue) -> Bool {
    switch v {
    case .number, .bool: return true
    default: return false
    }
}

/// What a scalar's cell reads back as; nil for arrays/objects (checked by count only).
func expectedCell(_ v: JSONValue, neutralise: Bool) -> [UInt8]? {
    switch v {
    case .null: return []
    case .bool(let x): return Array((x ? "true" : "false").utf8)
    case .number(let s): return Array(s.utf8)
    case .string(let s):
        let u = Array(s.utf8)
        if neutralise, let f = u.first, [UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 0x09, 0x0D].contains(f) {
            return [UInt8(ascii: "'")] + u
        }
        return u
    default: return nil
    }
}

/// FieldPath lookups agree with decoding the record and walking it (last member wins at each step).
func checkFieldPaths(_ record: Record, members: [JSONMember], _ b: [UInt8]) {
    for m in members.prefix(8) {
        let single = FieldPath(single: m.key).withRawValue(in: record) { $0.map { JSONScanner.decode($0) } }
        if single != record[m.key] { violation("FieldPath(single: \(m.key.debugDescription)) disagrees with record[key]", hex(b)) }
        guard case .object(let sub) = record[m.key] ?? .null, !m.key.contains(".") else { continue }
        for s in sub.prefix(8) where !s.key.contains(".") {
            let path = FieldPath(m.key + "." + s.key)
            let got = path.withRawValue(in: record) { $0.map { JSONScanner.decode($0) } }
            let exp = record.value(atPath: [m.key, s.key])
            if got != exp { violation("FieldPath(\(path.text.debugDescription)) disagrees with value(atPath:)", hex(b)) }
        }
    }
}

// MARK: - Dead letters

nonisolated(unsafe) var deadLetterPath: String?

/// A dead letter for a bad line or a record is one valid JSON line with the documented members in
/// order; a record's `input` is its bytes unchanged, a bad line's `input` its text as a JSON string.
func checkDeadLetter(_ line: InputLine, _ ctx: String) {
    if deadLetterPath == nil { deadLetterPath = "/tmp/cmo-fuzz-dl-\(getpid()).ndjson" }
    let path = deadLetterPath!
    unlink(path)
    do {
        let sink = try DeadLetterSink(stage: "fuzz", path: path)
        switch line {
        case .record(let r): sink.write(record: r, code: "where_error", message: "m\"\n", retryable: true)
        case .bad(let n, let bytes, let length, let error): sink.write(line: n, bytes: bytes, length: length, code: error.code, message: error.message)
        }
    } catch { violation("cannot open a dead-letter file", "\(error)") }
    guard let data = FileManager.default.contents(atPath: path) else { violation("dead letter not written", ctx) }
    let text = Array(data)
    guard text.last == 0x0A, text.firstIndex(of: 0x0A) == text.count - 1 else { violation("dead letter is not one line", ctx + "\nDL " + hex(text)) }
    let body = Array(text.dropLast())
    guard case .success = indexObject(body), case .object(let ms) = decode(body) else { violation("dead letter is not a JSON object", ctx + "\nDL " + hex(body)) }
    let keys = ms.map(\.key)
    switch line {
    case .record(let r):
        if keys != ["stage", "line", "error", "input"] { violation("dead letter keys \(keys)", ctx) }
        guard case .success(let spans) = indexObject(body) else { return }
        let raw = Array(body[spans[3].valueStart..<spans[3].valueEnd])
        let isWS: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        var trimmed = r.bytes[...]
        while let f = trimmed.first, isWS(f) { trimmed = trimmed.dropFirst() }
        while let l = trimmed.last, isWS(l) { trimmed = trimmed.dropLast() }
        // A record at the nesting limit is kept as a string (fuzz/crashes/dead-letter-nesting-513.ndjson).
        if raw.first == UInt8(ascii: "\"") {
            if ms[3].value != .string(String(decoding: r.bytes, as: UTF8.self)) { violation("dead letter string input", ctx) }
        } else if raw[...] != trimmed { violation("dead letter input is not the record's bytes", ctx + "\nDL " + hex(body)) }
        if ms[1].value != .int(r.line) { violation("dead letter line", ctx) }
    case .bad(let n, let bytes, let length, let error):
        let truncated = length > bytes.count
        let want = truncated ? ["stage", "line", "error", "input_bytes", "input_truncated", "input"] : ["stage", "line", "error", "input"]
        if keys != want { violation("dead letter keys \(keys), expected \(want)", ctx) }
        if ms[1].value != .int(n) { violation("dead letter line", ctx) }
        if ms[2].value["code"] != .string(error.code) { violation("dead letter code", ctx) }
        if ms.last!.value != .string(String(decoding: bytes, as: UTF8.self)) { violation("dead letter input text", ctx + "\nDL " + hex(body)) }
        if truncated, ms[3].value != .int(length) { violation("dead letter input_bytes", ctx) }
    }
}

// MARK: - NDJSON reader against a reference splitter

/// The reader's one rewrite of a line (docs/contracts.md §1): an escaped lone surrogate (`\ud800`
/// without its low half, a `\udc00` without a high half before it) becomes `\ufffd`, six bytes for
/// six; a proper pair and every other escape (an escaped backslash too) stay. Written here apart from
/// `JSONScanner.replaceLoneSurrogateEscapes`, so the reference does not take the reader's word for it.
func loneSurrogatesReplaced(_ line: [UInt8]) -> [UInt8] {
    var b = line
    func escape(at k: Int) -> UInt32? {
        guard k + 6 <= b.count, b[k] == UInt8(ascii: "\\"), b[k + 1] == UInt8(ascii: "u") else { return nil }
        var v: UInt32 = 0
        for c in b[(k + 2)..<(k + 6)] {
            switch c {
            case 0x30...0x39: v = v * 16 + UInt32(c - 0x30)  // 0-9
            case 0x41...0x46: v = v * 16 + UInt32(c - 0x41 + 10)  // A-F
            case 0x61...0x66: v = v * 16 + UInt32(c - 0x61 + 10)  // a-f
            default: return nil
            }
        }
        return v
    }
    var i = 0
    while i < b.count {
        guard b[i] == UInt8(ascii: "\\") else { i += 1; continue }
        guard let v = escape(at: i) else { i += 2; continue }  // another escape: `\\`, `\"`, `\n`, …
        if v >= 0xD800 && v <= 0xDBFF, let low = escape(at: i + 6), low >= 0xDC00 && low <= 0xDFFF { i += 12; continue }
        if v >= 0xD800 && v <= 0xDFFF { b.replaceSubrange((i + 2)..<(i + 6), with: Array("fffd".utf8)) }
        i += 6
    }
    return b
}

nonisolated(unsafe) var streamFD: Int32 = -1

func checkReader(_ data: [UInt8], maxLine: Int, chunk: Int) {
    if streamFD < 0 {
        // An unlinked temporary file: a pipe would block on inputs larger than its buffer.
        var template = Array("/tmp/cmo-fuzz-XXXXXX".utf8CString)
        streamFD = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if streamFD < 0 { violation("setup", "mkstemp failed") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    }
    _ = ftruncate(streamFD, 0)
    if !data.isEmpty { _ = data.withUnsafeBytes { pwrite(streamFD, $0.baseAddress!, $0.count, 0) } }
    _ = lseek(streamFD, 0, SEEK_SET)

    // Reference: split on \n; a last line without \n counts when non-empty.
    var expected: [(line: Int, bytes: [UInt8], length: Int, code: String?)] = []
    var segs = data.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
    if segs.last?.isEmpty == true { segs.removeLast() }
    for (n, seg) in segs.enumerated() {
        if seg.count > maxLine { expected.append((n + 1, seg, seg.count, "line_too_long")); continue }
        var s = seg
        if s.last == 0x0D { s.removeLast() }
        if s.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
        s = loneSurrogatesReplaced(s)
        switch indexObject(s) {
        case .success: expected.append((n + 1, s, s.count, nil))
        case .failure(let e):
            let code = e.reason == "not a JSON object" ? "not_object" : e.reason.contains("UTF-8") ? "invalid_utf8" : "bad_json"
            expected.append((n + 1, s, s.count, code))
        }
    }

    let reader = NDJSONReader(fd: streamFD, maxLineBytes: maxLine, chunk: chunk)
    var got: [InputLine] = []
    do {
        while let l = try reader.next() {
            got.append(l)
            if got.count > expected.count + 1 { break }
        }
    } catch { violation("reader threw \(error)", hex(data)) }
    let ctx = "max \(maxLine) chunk \(chunk)\ninput \(hex(data))"
    if got.count != expected.count { violation("reader returned \(got.count) lines, expected \(expected.count)", ctx) }
    if reader.bytesRead != data.count { violation("reader read \(reader.bytesRead) bytes of \(data.count)", ctx) }
    for (g, e) in zip(got, expected) {
        checkDeadLetter(g, ctx)
        switch g {
        case .record(let r):
            if e.code != nil { violation("line \(e.line): record, expected \(e.code!)", ctx) }
            if r.line != e.line || r.bytes != e.bytes { violation("line \(e.line): record (line \(r.line)) bytes \(hex(r.bytes))", ctx) }
        case .bad(let line, let bytes, let length, let error):
            if line != e.line || length != e.length || error.code != (e.code ?? "record") {
                violation("line \(e.line): got bad(line \(line), length \(length), \(error.code)), expected length \(e.length) \(e.code ?? "record")", ctx)
            }
            if error.code == "line_too_long" {
                if bytes.isEmpty || bytes.count > NDJSONReader.keptBytes || !e.bytes.starts(with: bytes) {
                    violation("line \(e.line): over-long line head \(hex(bytes)) is not a prefix of the line", ctx)
                }
            } else if bytes != e.bytes {
                violation("line \(e.line): bad line bytes \(hex(bytes)), expected \(hex(e.bytes))", ctx)
            }
        }
    }
}
