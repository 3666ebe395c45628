import CMOContract
import CMOBasics
import Foundation

/// A job's `events.ndjson`: the one writer (one `write(2)` of one line per event, `O_APPEND`, so the
/// runner and a `pause` from another terminal never interleave) and the one reader, which follows the
/// file from an offset and hands over complete lines only.
public final class EventLog {
    public let url: URL
    private var fd: Int32 = -1

    public init(_ url: URL) { self.url = url }
    deinit { if fd >= 0 { close(fd) } }

    /// The event as one line: keys sorted, written with the core's JSON writer (JSONEncoder costs more than a step).
    public static func line(_ e: RunEvent) -> [UInt8] {
        var m: [JSONMember] = []
        if let c = e.counts { m.append(JSONMember("counts", .object(c.keys.sorted().map { JSONMember($0, .int(c[$0]!)) }))) }
        if let n = e.errors { m.append(JSONMember("errors", .int(n))) }
        m.append(JSONMember("event", .string(e.event.rawValue)))
        m.append(JSONMember("job_id", .string(e.jobID)))
        m.append(JSONMember("message", .string(e.message)))
        if let r = e.retryAt { m.append(JSONMember("retry_at", .string(r))) }
        if let s = e.stage { m.append(JSONMember("stage", .string(s))) }
        if let n = e.step { m.append(JSONMember("step", .int(n))) }
        m.append(JSONMember("time", .string(e.time)))
        if let w = e.widenStep { m.append(JSONMember("widen_step", .int(w))) }
        var bytes = JSONValue.object(m).encoded()
        bytes.append(10)
        return bytes
    }

    /// Appends one event (opening the file at the first).
    @discardableResult
    public func append(_ e: RunEvent) -> [UInt8] {
        let bytes = Self.line(e)
        if fd < 0 { fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644) }
        if fd >= 0 { _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
        return bytes
    }

    /// Every event written so far.
    public static func read(_ url: URL) -> [RunEvent] {
        var reader = Reader(url)
        return reader.poll()
    }

    /// Follows events.ndjson: each `poll()` returns the events written since the last one.
    public struct Reader {
        public let url: URL
        public private(set) var offset: UInt64

        /// From the start, or from the current end (`fromEnd`: only what is written from now on).
        public init(_ url: URL, fromEnd: Bool = false) {
            self.url = url
            offset = fromEnd ? ((try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? UInt64) ?? 0) ?? 0 : 0
        }

        /// The events written since the last poll (a line being written stays for the next).
        public mutating func poll() -> [RunEvent] {
            let decoder = JSONDecoder()
            return pollLines().compactMap { try? decoder.decode(RunEvent.self, from: $0) }
        }

        /// The complete lines written since the last poll, as written.
        public mutating func pollLines() -> [Data] {
            guard let h = FileHandle(forReadingAtPath: url.path) else { return [] }
            defer { try? h.close() }
            guard (try? h.seek(toOffset: offset)) != nil, let data = try? h.readToEnd(), let end = data.lastIndex(of: 10) else { return [] }
            offset += UInt64(end - data.startIndex + 1)
            return data[..<end].split(separator: 10).map { Data($0) }
        }

        /// Whether anything (even part of a line) was written past what was read.
        public var atEnd: Bool { ((try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? UInt64) ?? 0) ?? 0 <= offset }
    }
}
