/// One NDJSON record: the line exactly as read, an index of its top-level members, and the fields a
/// stage set. Fields a stage does not touch are written back byte for byte, in their original order;
/// a field a stage owns is replaced where it stands, or appended at the end when new.
public struct Record: Sendable {
    /// The line's bytes (without the line ending).
    public let bytes: [UInt8]
    /// Top-level members in order.
    public let members: [MemberSpan]
    /// The 1-based input line number (0 for records made in memory).
    public let line: Int
    private var edits: [(key: String, value: [UInt8])] = []

    /// Validates and indexes `bytes` as one JSON object.
    public init(bytes: [UInt8], line: Int = 0) throws(JSONSyntaxError) {
        let result: Result<[MemberSpan], JSONSyntaxError> = bytes.withUnsafeBufferPointer { buf in
            do throws(JSONSyntaxError) { return .success(try JSONScanner.indexObject(buf)) } catch { return .failure(error) }
        }
        self.members = try result.get()
        self.bytes = bytes
        self.line = line
    }

    /// A record from a JSON object's text.
    public init(json: String, line: Int = 0) throws(JSONSyntaxError) {
        try self.init(bytes: Array(json.utf8), line: line)
    }

    /// The key of the top-level member at `index`, decoded.
    public func key(at index: Int) -> String {
        let m = members[index]
        return bytes.withUnsafeBufferPointer { buf in
            let body = UnsafeBufferPointer(rebasing: buf[m.keyStart..<m.keyEnd])
            return m.keyEscaped ? JSONScanner.decodeStringBody(body) : String(decoding: body, as: UTF8.self)
        }
    }

    /// All top-level keys in order (edited-in keys last).
    public var keys: [String] {
        var out = (0..<members.count).map { key(at: $0) }
        for e in edits where !out.contains(e.key) { out.append(e.key) }
        return out
    }

    /// Index of the last top-level member named `key` (compared on raw bytes, escapes decoded when present).
    public func memberIndex(_ key: String) -> Int? {
        var key = key
        return key.withUTF8 { k in memberIndex(utf8: k) }
    }

    /// Index of the last top-level member whose key is the given UTF-8 bytes.
    public func memberIndex(utf8 k: UnsafeBufferPointer<UInt8>) -> Int? {
        bytes.withUnsafeBufferPointer { buf in
            var found: Int?
            for (n, m) in members.enumerated() {
                if m.keyEscaped {
                    let body = UnsafeBufferPointer(rebasing: buf[m.keyStart..<m.keyEnd])
                    if Array(JSONScanner.decodeStringBody(body).utf8).elementsEqual(k) { found = n }
                } else if m.keyEnd - m.keyStart == k.count,
                    k.count == 0 || memcmp(buf.baseAddress! + m.keyStart, k.baseAddress!, k.count) == 0
                {
                    found = n
                }
            }
            return found
        }
    }

    /// The raw JSON bytes of a top-level field (the edited value when a stage set it).
    public func rawValue(_ key: String) -> ArraySlice<UInt8>? {
        if let e = edits.last(where: { $0.key == key }) { return e.value[...] }
        guard let n = memberIndex(key) else { return nil }
        return bytes[members[n].valueStart..<members[n].valueEnd]
    }

    /// The decoded value of a top-level field, or nil when absent.
    public subscript(key: String) -> JSONValue? {
        if let e = edits.last(where: { $0.key == key }) {
            return e.value.withUnsafeBufferPointer { JSONScanner.decode($0) }
        }
        guard let n = memberIndex(key) else { return nil }
        return value(at: n)
    }

    /// The decoded value of the top-level member at `index`.
    public func value(at index: Int) -> JSONValue {
        let m = members[index]
        return bytes.withUnsafeBufferPointer { JSONScanner.decode(UnsafeBufferPointer(rebasing: $0[m.valueStart..<m.valueEnd])) }
    }

    /// The value at a dotted path (`signals.commits_90d`); nil when any step is missing or not an object.
    public func value(atPath path: [String]) -> JSONValue? {
        guard let first = path.first, var v = self[first] else { return nil }
        for step in path.dropFirst() {
            guard let next = v[step] else { return nil }
            v = next
        }
        return v
    }

    /// Where a dotted path leads in the record's bytes, without decoding anything.
    public enum PathLookup {
        /// The value's byte range in `bytes`.
        case found(Range<Int>)
        /// A key on the way is absent, or a step lands on `null` (jq gives null).
        case missing
        /// A step lands on a value that is neither an object nor null (jq raises an error).
        case notAnObject
    }

    /// The top-level members by key (UTF-8, escapes decoded; the last of a repeated key, as
    /// `memberIndex`): built once in time linear in the record, it answers each key in constant time,
    /// so looking up many keys in a record of many members (export-csv's union of keys) stays linear.
    public struct MemberTable: Sendable {
        let index: [[UInt8]: Int]

        public init(_ record: Record) {
            var index: [[UInt8]: Int] = [:]
            index.reserveCapacity(record.members.count)
            record.bytes.withUnsafeBufferPointer { buf in
                for (n, m) in record.members.enumerated() {
                    let body = UnsafeBufferPointer(rebasing: buf[m.keyStart..<m.keyEnd])
                    index[m.keyEscaped ? Array(JSONScanner.decodeStringBody(body).utf8) : Array(body)] = n
                }
            }
            self.index = index
        }

        /// Index of the last top-level member whose key is `key` (UTF-8).
        public func memberIndex(_ key: [UInt8]) -> Int? { index[key] }
    }

    /// Follows a path of keys (UTF-8) through nested objects in place; the first key is looked up in
    /// `table` when one is given (it must be this record's).
    public func lookup(path keys: [[UInt8]], table: MemberTable? = nil) -> PathLookup {
        guard let first = keys.first else { return .notAnObject }
        let found = table.map { $0.memberIndex(first) } ?? first.withUnsafeBufferPointer({ memberIndex(utf8: $0) })
        guard let idx = found else { return .missing }
        return bytes.withUnsafeBufferPointer { buf in
            var range = members[idx].valueStart..<members[idx].valueEnd
            for key in keys.dropFirst() {
                let c = buf[range.lowerBound]
                if c == UInt8(ascii: "n") { return .missing }
                guard c == UInt8(ascii: "{") else { return .notAnObject }
                let sub = UnsafeBufferPointer(rebasing: buf[range])
                guard let inner = try? JSONScanner.indexObject(sub) else { return .notAnObject }
                var found: Range<Int>?
                for m in inner {
                    let k = UnsafeBufferPointer(rebasing: sub[m.keyStart..<m.keyEnd])
                    let same = m.keyEscaped ? Array(JSONScanner.decodeStringBody(k).utf8) == key : k.elementsEqual(key)
                    if same { found = (range.lowerBound + m.valueStart)..<(range.lowerBound + m.valueEnd) }
                }
                guard let found else { return .missing }
                range = found
            }
            return .found(range)
        }
    }

    /// The whole record decoded.
    public var object: JSONValue {
        var out = bytes.withUnsafeBufferPointer { JSONScanner.decode($0) }
        guard !edits.isEmpty, case .object(var members) = out else { return out }
        for e in edits {
            let v = e.value.withUnsafeBufferPointer { JSONScanner.decode($0) }
            if let n = members.lastIndex(where: { $0.key == e.key }) { members[n].value = v } else { members.append(JSONMember(e.key, v)) }
        }
        out = .object(members)
        return out
    }

    /// Sets a field this stage owns: replaced in place when present, appended when new.
    public mutating func set(_ key: String, _ value: JSONValue) {
        let encoded = value.encoded()
        if let n = edits.lastIndex(where: { $0.key == key }) { edits[n].value = encoded } else { edits.append((key, encoded)) }
    }

    /// True when a stage has set any field.
    public var isEdited: Bool { !edits.isEmpty }

    /// Appends the record's JSON (no line ending) to `out`: the original bytes when nothing was set,
    /// else the original with set fields replaced in place and new fields appended.
    public func write(into out: inout [UInt8]) {
        guard !edits.isEmpty else {
            out.append(contentsOf: bytes)
            return
        }
        var replaced: [Int: [UInt8]] = [:]
        var appended: [(String, [UInt8])] = []
        for e in edits {
            if let n = memberIndex(e.key) { replaced[n] = e.value } else { appended.append(e) }
        }
        var cursor = 0
        for n in replaced.keys.sorted() {
            let m = members[n]
            out.append(contentsOf: bytes[cursor..<m.valueStart])
            out.append(contentsOf: replaced[n]!)
            cursor = m.valueEnd
        }
        guard !appended.isEmpty else {
            out.append(contentsOf: bytes[cursor...])
            return
        }
        // New members go right after the last member (or inside an empty object's braces).
        var close = bytes.count - 1
        if let last = members.last {
            close = last.valueEnd
        } else {
            while close > 0, bytes[close] != UInt8(ascii: "}") { close -= 1 }
        }
        out.append(contentsOf: bytes[cursor..<close])
        var first = members.isEmpty
        for (k, v) in appended {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSONValue.encodeString(k, into: &out)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: v)
        }
        out.append(contentsOf: bytes[close...])
    }

    /// The record as one JSON line's text (no line ending).
    public var jsonText: String {
        var out: [UInt8] = []
        write(into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
