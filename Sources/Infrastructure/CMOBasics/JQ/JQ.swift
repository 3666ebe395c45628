import CJQ

/// A jq program compiled once per process through libjq, run over records.
///
/// The only file that imports CJQ: every jq return code becomes a Swift error here, and no `jv`
/// leaves it. libjq's `jv_*` calls consume their arguments (except the inspectors) and its refcounts
/// are not atomic, so a `JQProgram` belongs to one thread.
public final class JQProgram {
    /// The expression as given.
    public let expression: String
    private var state: OpaquePointer?
    private let messages = MessageBox()

    /// Compiles `expression`; a bad one throws a usage error (exit 64) carrying jq's own message.
    public init(_ expression: String) throws {
        self.expression = expression
        guard let jq = jq_init() else { throw StageFailure(.failure, "jq: cannot initialise libjq") }
        state = jq
        jq_set_error_cb(jq, jqCollectMessage, Unmanaged.passUnretained(messages).toOpaque())
        if jq_compile(jq, expression) == 0 {
            let detail = messages.lines.isEmpty ? "compile error" : messages.lines.joined(separator: "; ")
            throw StageFailure(.usage, "bad jq expression '\(expression)': \(detail)")
        }
        messages.lines.removeAll()
    }

    deinit {
        if state != nil { jq_teardown(&state) }
    }

    /// Runs the program over one JSON text and returns every output (jq's `.[]`-style multiple
    /// outputs included). A runtime error throws `JQError` with jq's message.
    public func run(json bytes: UnsafeBufferPointer<UInt8>) throws(JQError) -> [JSONValue] {
        let input = jv_parse_sized(UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self), Int32(bytes.count))
        guard jv_get_kind(input) != JV_KIND_INVALID else {
            throw JQError(message: JQProgram.invalidMessage(input) ?? "invalid JSON input")
        }
        return try run(parsed: input)
    }

    /// Runs the program over a record.
    public func run(_ record: Record) throws(JQError) -> [JSONValue] {
        if record.isEdited {
            let bytes = record.jsonText.utf8.map { $0 }
            return try bytes.withUnsafeBufferPointer { (b) throws(JQError) -> [JSONValue] in try run(json: b) }
        }
        return try record.bytes.withUnsafeBufferPointer { (b) throws(JQError) -> [JSONValue] in try run(json: b) }
    }

    /// Runs the program over a value.
    public func run(value: JSONValue) throws(JQError) -> [JSONValue] {
        try run(parsed: JQProgram.toJV(value))
    }

    /// True when the program's first output is truthy (jq's `select` test); false when it has none.
    public func test(_ record: Record) throws(JQError) -> Bool {
        try run(record).first?.isTruthy ?? false
    }

    private func run(parsed input: jv) throws(JQError) -> [JSONValue] {
        jq_start(state, input, 0)  // consumes input
        var outputs: [JSONValue] = []
        while true {
            let out = jq_next(state)
            if jv_get_kind(out) == JV_KIND_INVALID {
                if let msg = JQProgram.invalidMessage(out) { throw JQError(message: msg) }
                return outputs
            }
            outputs.append(JQProgram.fromJV(out))
        }
    }

    /// The message of an invalid jv, consuming it; nil when it carries none (end of outputs).
    private static func invalidMessage(_ v: jv) -> String? {
        guard jv_invalid_has_msg(jv_copy(v)) != 0 else {
            jv_free(v)
            return nil
        }
        let msg = jv_invalid_get_msg(v)
        defer { jv_free(msg) }
        if jv_get_kind(msg) == JV_KIND_STRING { return String(cString: jv_string_value(msg)) }
        let dumped = jv_dump_string(jv_copy(msg), 0)
        defer { jv_free(dumped) }
        return String(cString: jv_string_value(dumped))
    }

    /// Converts a jv (consumed) to a JSONValue.
    private static func fromJV(_ v: jv) -> JSONValue {
        defer { jv_free(v) }
        switch jv_get_kind(v) {
        case JV_KIND_NULL: return .null
        case JV_KIND_TRUE: return .bool(true)
        case JV_KIND_FALSE: return .bool(false)
        case JV_KIND_NUMBER: return .double(jv_number_value(v))
        case JV_KIND_STRING:
            let n = Int(jv_string_length_bytes(jv_copy(v)))
            let p = UnsafeRawPointer(jv_string_value(v)!).assumingMemoryBound(to: UInt8.self)
            return .string(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self))
        case JV_KIND_ARRAY:
            let n = Int(jv_array_length(jv_copy(v)))
            return .array((0..<n).map { fromJV(jv_array_get(jv_copy(v), Int32($0))) })
        case JV_KIND_OBJECT:
            var members: [JSONMember] = []
            var it = jv_object_iter(v)
            while jv_object_iter_valid(v, it) != 0 {
                let key = fromJV(jv_object_iter_key(v, it)).stringValue ?? ""
                members.append(JSONMember(key, fromJV(jv_object_iter_value(v, it))))
                it = jv_object_iter_next(v, it)
            }
            return .object(members)
        default: return .null
        }
    }

    /// Converts a JSONValue to a new jv.
    private static func toJV(_ value: JSONValue) -> jv {
        switch value {
        case .null: return jv_null()
        case .bool(let b): return b ? jv_true() : jv_false()
        case .number(let s): return jv_number(Double(s) ?? 0)
        case .string(let s):
            var s = s
            return s.withUTF8 { u in
                u.withMemoryRebound(to: CChar.self) { jv_string_sized($0.baseAddress, Int32($0.count)) }
            }
        case .array(let items):
            var a = jv_array()
            for item in items { a = jv_array_append(a, toJV(item)) }
            return a
        case .object(let members):
            var o = jv_object()
            for m in members { o = jv_object_set(o, toJV(.string(m.key)), toJV(m.value)) }
            return o
        }
    }
}

/// A jq runtime error on one input (the record is dead-lettered with this message).
public struct JQError: Error, Sendable, CustomStringConvertible {
    public let message: String
    package init(message: String) { self.message = message }
    public var description: String { "jq: \(message)" }
}

/// Collects libjq's compile messages.
private final class MessageBox {
    var lines: [String] = []
}

private func jqCollectMessage(_ data: UnsafeMutableRawPointer?, _ msg: jv) {
    guard let data else {
        jv_free(msg)
        return
    }
    let box = Unmanaged<MessageBox>.fromOpaque(data).takeUnretainedValue()
    let formatted = jq_format_error(msg)  // consumes msg
    if jv_get_kind(formatted) == JV_KIND_STRING {
        box.lines.append(String(cString: jv_string_value(formatted)))
    }
    jv_free(formatted)
}
