import Foundation

/// Where records a stage cannot process go, one JSON line each:
/// `{"stage","line","error":{"code","message","retryable"},"input"}`. `input` is the record itself
/// when it was a JSON object, else the line as a string (cut to its head when it was over the cap,
/// with `input_bytes` giving its full length). Each line is one `write(2)` with `O_APPEND`, so
/// several processes can share a file.
public final class DeadLetterSink {
    public let stage: String
    private let fd: Int32
    private let ownsFD: Bool
    /// Dead letters written.
    public private(set) var count = 0
    /// Dead letters by error code.
    public private(set) var byCode: [String: Int] = [:]
    /// The first failed write to a dead-letter file (a full disk: exit 74); the stage stops on it rather
    /// than lose records. Nil for stderr, where there is nowhere else to say it.
    public private(set) var failure: StageFailure?
    private let path: String?

    /// Opens `path` for appending, or uses stderr when nil or `-`.
    public init(stage: String, path: String?) throws {
        self.stage = stage
        if let path, path != "-" {
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw StageFailure(.config, "cannot open dead-letter file '\(path)': \(String(cString: strerror(errno)))")
            }
            self.fd = fd
            ownsFD = true
            self.path = path
        } else {
            fd = 2
            ownsFD = false
            self.path = nil
        }
    }

    deinit { if ownsFD { close(fd) } }

    /// Writes a dead letter for a record.
    public func write(record: Record, code: String, message: String, retryable: Bool) {
        var input: [UInt8] = []
        record.write(into: &input)
        // Nested one level deeper, a record at the nesting limit would make an unreadable dead
        // letter: such a record is kept as a string instead.
        var wrapped = [UInt8(ascii: "[")] + input + [UInt8(ascii: "]")]
        if (try? JSONScanner.parse(bytes: &wrapped)) == nil {
            var asString: [UInt8] = []
            JSONValue.encodeString(String(decoding: input, as: UTF8.self), into: &asString)
            input = asString
        }
        emit(line: record.line, code: code, message: message, retryable: retryable, rawInput: input, extra: [])
    }

    /// Writes a dead letter for a line that is not a record.
    public func write(line: Int, bytes: [UInt8], length: Int, code: String, message: String) {
        var input: [UInt8] = []
        JSONValue.encodeString(String(decoding: bytes, as: UTF8.self), into: &input)
        let extra = length > bytes.count ? [JSONMember("input_bytes", .int(length)), JSONMember("input_truncated", true)] : []
        emit(line: line, code: code, message: message, retryable: false, rawInput: input, extra: extra)
    }

    private func emit(line: Int, code: String, message: String, retryable: Bool, rawInput: [UInt8], extra: [JSONMember]) {
        count += 1
        byCode[code, default: 0] += 1
        var out: [UInt8] = []
        out.reserveCapacity(rawInput.count + 200)
        let head = JSONValue.object(
            [
                JSONMember("stage", .string(stage)), JSONMember("line", .int(line)),
                JSONMember(
                    "error",
                    .object([
                        JSONMember("code", .string(code)), JSONMember("message", .string(message)),
                        JSONMember("retryable", .bool(retryable)),
                    ])),
            ] + extra)
        head.encode(into: &out)
        out.removeLast()  // reopen the object to add the raw input without re-encoding it
        out.append(contentsOf: ",\"input\":".utf8)
        out.append(contentsOf: rawInput)
        out.append(contentsOf: "}\n".utf8)
        out.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = sysWrite(fd, raw.baseAddress! + off, raw.count - off)
                if n <= 0 {
                    if n < 0, errno == EINTR { continue }
                    if let path, failure == nil { failure = IOFailure.write(path, errno: n < 0 ? errno : EIO) }
                    return
                }
                off += n
            }
        }
    }
}
