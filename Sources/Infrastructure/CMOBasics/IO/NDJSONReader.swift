#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One line of NDJSON input: a record, or a line that is not one and why.
public enum InputLine: Sendable {
    case record(Record)
    /// A line that is not a JSON object: its 1-based number, its bytes (cut to `keptBytes` when it was
    /// over the length cap), its full length, and the reason.
    case bad(line: Int, bytes: [UInt8], length: Int, error: InputError)
}

/// Why an input line was refused.
public struct InputError: Error, Sendable, CustomStringConvertible {
    /// `bad_json`, `not_object`, `invalid_utf8`, `line_too_long`.
    public let code: String
    public let message: String
    public var description: String { message }
}

/// Reads NDJSON from a file descriptor with `read(2)` into one buffer, splitting on `\n`, tolerating
/// CRLF, skipping blank lines, numbering lines, and capping line length (a longer line is refused,
/// its head kept for the dead letter, and reading goes on after it).
public final class NDJSONReader {
    /// Default cap on one line: 64 MiB.
    public static let defaultMaxLineBytes = 64 << 20
    /// How much of an over-long line is kept for its dead letter.
    public static let keptBytes = 4096

    private let fd: Int32
    private let maxLineBytes: Int
    private var buffer: [UInt8]
    private var start = 0, end = 0
    private var eof = false
    private var lineNumber = 0
    /// Called before each `read(2)` that may block, so output written so far can be flushed first.
    public var beforeRead: (() throws -> Void)?
    /// Bytes read so far.
    public private(set) var bytesRead = 0

    public init(fd: Int32 = STDIN_FILENO, maxLineBytes: Int = NDJSONReader.defaultMaxLineBytes, chunk: Int = 1 << 20) {
        self.fd = fd
        self.maxLineBytes = maxLineBytes
        self.buffer = [UInt8](repeating: 0, count: chunk)
    }

    /// The next non-blank line, or nil at end of input.
    public func next() throws -> InputLine? {
        while true {
            guard let (firstByte, lineEnd, length, tooLong) = try nextLineBounds() else { return nil }
            var lineStart = firstByte
            lineNumber += 1
            if tooLong {
                let kept = Array(buffer[lineStart..<min(lineEnd, lineStart + NDJSONReader.keptBytes)])
                return .bad(
                    line: lineNumber, bytes: kept, length: length,
                    error: InputError(code: "line_too_long", message: "line is \(length) bytes, over the \(maxLineBytes)-byte cap"))
            }
            var e = lineEnd
            if e > lineStart, buffer[e - 1] == 0x0D { e -= 1 }

            if lineNumber == 1, e - lineStart >= 3, buffer[lineStart] == 0xEF, buffer[lineStart + 1] == 0xBB,
                buffer[lineStart + 2] == 0xBF
            {
                lineStart += 3  // a UTF-8 byte order mark (Windows tools write one)
            }
            var blank = true
            for k in lineStart..<e where buffer[k] != 0x20 && buffer[k] != 0x09 {
                blank = false
                break
            }
            if blank { continue }
            var bytes = Array(buffer[lineStart..<e])
            JSONScanner.replaceLoneSurrogateEscapes(&bytes)  // `\ud800` alone becomes `\ufffd`, as jq reads it
            do {
                return .record(try Record(bytes: bytes, line: lineNumber))
            } catch {
                let code: String
                switch error.reason {
                case "not a JSON object": code = "not_object"
                case let r where r.contains("UTF-8"): code = "invalid_utf8"
                default: code = "bad_json"
                }
                let msg = error.reason == "not a JSON object" ? "line is JSON but not an object" : "invalid JSON: \(error)"
                return .bad(line: lineNumber, bytes: bytes, length: bytes.count, error: InputError(code: code, message: msg))
            }
        }
    }

    /// Finds the next line; returns its span in `buffer` (valid until the next call), its full length,
    /// and whether it was over the cap (then only its head is in the span).
    private func nextLineBounds() throws -> (Int, Int, Int, Bool)? {
        var scanFrom = start
        var discarding = false  // inside an over-long line whose head was already reported
        var discarded = 0
        var head: [UInt8] = []
        while true {
            if let nl = findNewline(from: scanFrom) {
                let s = start
                start = nl + 1
                if discarding {
                    let total = discarded + (nl - s)
                    // Put the kept head at the front of the buffer so the caller can read it.
                    return stash(head, total: total)
                }
                if nl - s > maxLineBytes { return (s, nl, nl - s, true) }
                return (s, nl, nl - s, false)
            }
            scanFrom = end
            if eof {
                guard start < end || discarding else { return nil }
                let s = start
                start = end
                if discarding { return stash(head, total: discarded + (end - s)) }
                if end - s > maxLineBytes { return (s, end, end - s, true) }
                return (s, end, end - s, false)
            }
            // Need more bytes: compact, grow up to the cap, or start discarding an over-long line.
            if start > 0 {
                buffer.withUnsafeMutableBufferPointer { b in
                    if end > start { memmove(b.baseAddress!, b.baseAddress! + start, end - start) }
                }
                end -= start
                scanFrom -= start
                start = 0
            }
            if end == buffer.count {
                if end > maxLineBytes {
                    if !discarding { head = Array(buffer[0..<min(end, NDJSONReader.keptBytes)]) }
                    discarding = true
                    discarded += end
                    end = 0
                    scanFrom = 0
                } else {
                    buffer.append(contentsOf: repeatElement(0, count: buffer.count))
                }
            }
            try beforeRead?()
            let n = buffer.withUnsafeMutableBufferPointer { b in read(fd, b.baseAddress! + end, b.count - end) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StageFailure(.failure, "cannot read input: \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                eof = true
            } else {
                end += n
                bytesRead += n
            }
        }
    }

    /// Places an over-long line's head before `start` so the caller sees it as the line's span.
    private func stash(_ head: [UInt8], total: Int) -> (Int, Int, Int, Bool) {
        // Move remaining data right after a copy of the head.
        let rest = Array(buffer[start..<end])
        if buffer.count < head.count + rest.count { buffer.append(contentsOf: repeatElement(0, count: head.count)) }
        buffer.replaceSubrange(0..<head.count, with: head)
        buffer.replaceSubrange(head.count..<(head.count + rest.count), with: rest)
        start = head.count
        end = head.count + rest.count
        return (0, head.count, total, true)
    }

    private func findNewline(from: Int) -> Int? {
        guard from < end else { return nil }
        return buffer.withUnsafeBufferPointer { b -> Int? in
            guard let p = memchr(b.baseAddress! + from, 0x0A, end - from) else { return nil }
            return b.baseAddress!.distance(to: p.assumingMemoryBound(to: UInt8.self))
        }
    }
}
