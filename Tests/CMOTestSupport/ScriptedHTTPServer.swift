import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A request as the scripted server received it.
public struct RecordedRequest: Sendable {
    public var method: String
    public var target: String
    /// Names lower-cased, in the order sent.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Which accepted connection carried it (0, 1, …).
    public var connection: Int
    /// The server clock's time when the request had fully arrived.
    public var receivedAt: Double

    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.last(where: { $0.name == n })?.value
    }
}

/// One scripted answer: raw bytes written after `delay` seconds, then maybe a close.
public struct ScriptedReply: Sendable {
    public var raw: [UInt8]
    public var delay: Double = 0
    public var close = false

    public init(raw: [UInt8], delay: Double = 0, close: Bool = false) {
        self.raw = raw
        self.delay = delay
        self.close = close
    }

    /// A well-formed HTTP/1.1 response with a correct Content-Length.
    public static func status(
        _ code: Int, _ headers: [(String, String)] = [], body: String = "", delay: Double = 0, close: Bool = false
    ) -> ScriptedReply {
        var text = "HTTP/1.1 \(code) \(reasons[code] ?? "Status")\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "Content-Length: \(body.utf8.count)\r\n"
        if close { text += "Connection: close\r\n" }
        text += "\r\n" + body
        return ScriptedReply(raw: Array(text.utf8), delay: delay, close: close)
    }

    /// Bytes exactly as given (for broken responses); the connection closes after them.
    public static func raw(_ text: String, delay: Double = 0) -> ScriptedReply {
        ScriptedReply(raw: Array(text.utf8), delay: delay, close: true)
    }

    private static let reasons = [
        200: "OK", 201: "Created", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
        404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
        503: "Service Unavailable",
    ]
}

/// The one scripted test server. An HTTP/1.1 server on 127.0.0.1 (free port) that answers each request with the next scripted
/// reply (or a handler's), one thread per connection, and records what it received.
public final class ScriptedHTTPServer: @unchecked Sendable {  // all mutable state is behind `lock`
    public let port: Int
    public var url: String { "http://127.0.0.1:\(port)" }

    private let listener: Int32
    private let clock: @Sendable () -> Double
    private let lock = NSLock()
    private var script: [ScriptedReply]
    private let handler: (@Sendable (RecordedRequest) -> ScriptedReply)?
    private var recorded: [RecordedRequest] = []
    private var connections: [Int32] = []
    private var inFlight = 0
    private var peakInFlight = 0
    private var stopped = false

    public init(
        script: [ScriptedReply] = [], clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
        handler: (@Sendable (RecordedRequest) -> ScriptedReply)? = nil
    ) throws {
        self.script = script
        self.clock = clock
        self.handler = handler
        (listener, port) = try loopbackListener(backlog: 64)
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    deinit { stop() }

    /// Appends replies to the script.
    public func enqueue(_ replies: ScriptedReply...) { locked { script += replies } }

    /// Every request received so far, in arrival order.
    public var requests: [RecordedRequest] { locked { recorded } }
    /// Connections accepted so far.
    public var connectionCount: Int { locked { connections.count } }
    /// Most requests received and not yet answered at any one time.
    public var maxInFlight: Int { locked { peakInFlight } }

    /// Closes the listener and every connection.
    public func stop() {
        let fds: [Int32]? = locked {
            if stopped { return nil }
            stopped = true
            return connections
        }
        guard let fds else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// A port with nothing listening on it (bound, then released).
    public static func unusedPort() throws -> Int {
        let server = try ScriptedHTTPServer()
        let port = server.port
        server.stop()
        return port
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { return }
            let id: Int? = locked {
                if stopped { return nil }
                connections.append(fd)
                return connections.count - 1
            }
            guard let id else {
                close(fd)
                return
            }
            Thread.detachNewThread { [self] in serve(fd, connection: id) }
        }
    }

    private func serve(_ fd: Int32, connection: Int) {
        defer { close(fd) }
        var buffer: [UInt8] = []
        while let request = readRequest(fd, &buffer, connection: connection) {
            let reply: ScriptedReply = locked {
                recorded.append(request)
                inFlight += 1
                peakInFlight = max(peakInFlight, inFlight)
                if let handler { return handler(request) }
                return script.isEmpty ? .status(500, body: "unscripted request") : script.removeFirst()
            }
            var waited = 0.0
            while waited < reply.delay, !locked({ stopped }) {
                usleep(10_000)
                waited += 0.01
            }
            locked { inFlight -= 1 }
            let sent = reply.raw.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 || reply.close { return }
        }
    }

    /// Reads one request (head and Content-Length body); nil at end of stream.
    private func readRequest(_ fd: Int32, _ buffer: inout [UInt8], connection: Int) -> RecordedRequest? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while true {
            if let end = buffer.firstRange(of: separator)?.upperBound {
                headEnd = end
                break
            }
            guard fill(fd, &buffer) else { return nil }
        }
        guard let headEnd else { return nil }
        let lines = String(decoding: buffer[..<(headEnd - 4)], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = lines[0].split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        let headers: [(name: String, value: String)] = lines.dropFirst().compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let length = headers.last(where: { $0.name == "content-length" }).flatMap { Int($0.value) } ?? 0
        while buffer.count < headEnd + length {
            guard fill(fd, &buffer) else { return nil }
        }
        let body = Array(buffer[headEnd..<(headEnd + length)])
        buffer.removeFirst(headEnd + length)
        return RecordedRequest(
            method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: body,
            connection: connection, receivedAt: clock())
    }

    private func fill(_ fd: Int32, _ buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        buffer += chunk[..<n]
        return true
    }
}


/// A TCP socket listening on 127.0.0.1 on a free port, and the port. Nothing accepts on it until someone
/// calls accept(2): as it is, a client's connection is queued and never answered (a silent server).
public func loopbackListener(backlog: Int32) throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EIO) }
    var yes: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0, listen(fd, backlog) == 0 else {
        close(fd)
        throw POSIXError(.EADDRINUSE)
    }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}
